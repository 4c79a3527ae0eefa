package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart is a time chart: lines, an optional band, horizontal limits and an
// optional vertical marker. The HTML writer draws it as inline SVG.
type Chart struct {
	Title  string
	YLabel string
	Lines  []Line
	Band   *Band
	Limits []Limit
	// Marker draws a vertical line (a runway date); zero: none.
	Marker      time.Time
	MarkerLabel string
}

// Line is a named series; Dashed draws it dashed (forecasts).
type Line struct {
	Name   string
	Times  []time.Time
	Values []float64
	Dashed bool
	Color  int // index into the palette
}

// Band is a shaded range between Lo and Hi (a forecast's quantile band).
type Band struct {
	Name   string
	Times  []time.Time
	Lo, Hi []float64
}

// Limit is a horizontal line (capacity at the maximum size).
type Limit struct {
	Name  string
	Value float64
}

// MaxChartPoints caps the points drawn per line: longer lines are reduced
// to the maximum of each bucket (peaks stay visible), which keeps a report
// of hundreds of workloads within a few megabytes.
const MaxChartPoints = 240

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
}

// reduce keeps at most n points: the maximum of each of n buckets, at the
// bucket's first time. NaN values are skipped.
func reduce(t []time.Time, v []float64, n int) plotter.XYs {
	m := min(len(t), len(v))
	out := make(plotter.XYs, 0, min(m, n))
	per := max(1, (m+n-1)/n)
	for i := 0; i < m; i += per {
		best := math.NaN()
		for j := i; j < min(m, i+per); j++ {
			if !math.IsNaN(v[j]) && (math.IsNaN(best) || v[j] > best) {
				best = v[j]
			}
		}
		if !math.IsNaN(best) && !math.IsInf(best, 0) {
			out = append(out, plotter.XY{X: float64(t[i].Unix()), Y: best})
		}
	}
	return out
}

// reduceMin is reduce with the minimum (the band's lower edge).
func reduceMin(t []time.Time, v []float64, n int) plotter.XYs {
	neg := make([]float64, len(v))
	for i, x := range v {
		neg[i] = -x
	}
	xy := reduce(t, neg, n)
	for i := range xy {
		xy[i].Y = -xy[i].Y
	}
	return xy
}

// SVG draws the chart as an SVG element (without the XML prolog), width ×
// height in points. Fonts are not embedded: the SVG names the Liberation
// fonts and the browser falls back to its own.
func (c *Chart) SVG(width, height vg.Length) (string, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.Y.Label.Text = c.YLabel
	p.X.Tick.Marker = plot.TimeTicks{Format: "Jan 02"}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	var lo, hi = math.Inf(1), math.Inf(-1)
	// The time range of the data (NaN points aside), for the limits.
	span := func(ts []time.Time, vs ...[]float64) {
		for i, t := range ts {
			for _, v := range vs {
				if i < len(v) && !math.IsNaN(v[i]) {
					lo, hi = math.Min(lo, float64(t.Unix())), math.Max(hi, float64(t.Unix()))
					break
				}
			}
		}
	}
	for _, l := range c.Lines {
		span(l.Times, l.Values)
	}
	if b := c.Band; b != nil && len(b.Times) > 0 {
		up := reduce(b.Times, b.Hi, MaxChartPoints)
		down := reduceMin(b.Times, b.Lo, MaxChartPoints)
		if len(up) > 1 && len(down) > 1 {
			ring := make(plotter.XYs, 0, len(up)+len(down))
			ring = append(ring, up...)
			for i := len(down) - 1; i >= 0; i-- {
				ring = append(ring, down[i])
			}
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return "", err
			}
			poly.Color = color.RGBA{0xd6, 0x27, 0x28, 0x30}
			poly.LineStyle.Width = 0
			p.Add(poly)
			p.Legend.Add(b.Name, poly)
		}
		span(b.Times, b.Lo, b.Hi)
	}
	for _, l := range c.Lines {
		xy := reduce(l.Times, l.Values, MaxChartPoints)
		if len(xy) == 0 {
			continue
		}
		ln, err := plotter.NewLine(xy)
		if err != nil {
			return "", err
		}
		ln.Color = palette[l.Color%len(palette)]
		ln.Width = vg.Points(1.2)
		if l.Dashed {
			ln.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(ln)
		p.Legend.Add(l.Name, ln)
	}
	if lo < hi {
		for i, lim := range c.Limits {
			ln, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lim.Value}, {X: hi, Y: lim.Value}})
			if err != nil {
				return "", err
			}
			ln.Color = color.Black
			ln.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			ln.Width = vg.Points(1 + float64(i)*0.5)
			p.Add(ln)
			p.Legend.Add(lim.Name, ln)
		}
		if !c.Marker.IsZero() {
			x := float64(c.Marker.Unix())
			ymin, ymax := 0.0, 1.0
			for _, lim := range c.Limits {
				ymax = math.Max(ymax, lim.Value)
			}
			ln, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax * 1.05}})
			if err != nil {
				return "", err
			}
			ln.Color = palette[1]
			ln.Width = vg.Points(1.5)
			p.Add(ln)
			p.Legend.Add(c.MarkerLabel, ln)
		}
	}
	p.Y.Min = math.Min(p.Y.Min, 0)
	// Room above the data for the legend (top left), so it never sits on the lines: about 14 points per entry
	// out of the plot area's height (the chart less its title and axes, about 70 points).
	if n, area := legendEntries(c), float64(height)-70; n > 0 && area > 0 && p.Y.Max > p.Y.Min {
		f := math.Min(float64(n)*14/area, 0.5)
		p.Y.Max = p.Y.Min + (p.Y.Max-p.Y.Min)/(1-f)
	}
	cv := vgsvg.New(width, height)
	p.Draw(draw.New(cv))
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("report: chart %q: %w", c.Title, err)
	}
	s := buf.String()
	// Inline SVG needs no XML prolog (nor the generator comment).
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s, nil
}

// legendEntries counts what SVG puts in the legend: the band, the lines with points, and, when there is data,
// the limits and the marker.
func legendEntries(c *Chart) int {
	n, data := 0, false
	if c.Band != nil && len(c.Band.Times) > 1 {
		n++
	}
	for _, l := range c.Lines {
		if len(l.Times) > 0 {
			n++
			data = true
		}
	}
	if data {
		n += len(c.Limits)
		if !c.Marker.IsZero() {
			n++
		}
	}
	return n
}
