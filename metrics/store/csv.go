package store

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/trace"
	"github.com/headroom-dev/headroom/metrics/tracefile"
)

// ExportStats says what Export wrote.
type ExportStats struct {
	Series, Rows, Samples int
}

// Suffixes of the columns that carry a compacted hour's statistics in an export, after the series name:
// Deployment/shop/web/cpu@count. The series' own column holds the hour's mean.
const (
	SuffixCount = "@count"
	SuffixMax   = "@max"
	SuffixP95   = "@p95"
)

// Export writes the history of the series matching filter over [from, to) as one trace file (see
// metrics/trace): a timestamp column (RFC 3339, UTC) and one column per series, named by metrics.Key.String,
// with a row for every timestamp of any series and empty cells where a series has no sample. Hours that were
// compacted come from the hourly aggregates, stamped at the start of the hour: the series' column holds the
// hour's mean, and three more columns, the series name with SuffixCount, SuffixMax and SuffixP95, hold its
// sample count, maximum and 95th percentile (empty on raw rows). Import reads them back as aggregates.
func (s *Store) Export(ctx context.Context, w io.Writer, filter metrics.Workload, from, to time.Time) (ExportStats, error) {
	var st ExportStats
	infos, err := s.Series(ctx, filter)
	if err != nil {
		return st, err
	}
	var cols [][]metrics.Point
	header := []string{"timestamp"}
	var stamps []int64
	add := func(name string, pts []metrics.Point) {
		cols = append(cols, pts)
		header = append(header, name)
		for _, p := range pts {
			stamps = append(stamps, ms(p.T))
		}
	}
	for _, in := range infos {
		raw, err := s.Read(ctx, in.Key, from, to)
		if err != nil {
			return st, err
		}
		hto := to
		if len(raw) > 0 {
			hto = raw[0].T
		}
		hours, err := s.ReadHourly(ctx, in.Key, from, hto)
		if err != nil {
			return st, err
		}
		if len(raw)+len(hours) == 0 {
			continue
		}
		st.Series++
		st.Samples += len(raw) + len(hours)
		main := make([]metrics.Point, 0, len(hours)+len(raw))
		var count, mx, p95 []metrics.Point
		for _, a := range hours {
			main = append(main, metrics.Point{T: a.T, V: a.Mean})
			count = append(count, metrics.Point{T: a.T, V: float64(a.Count)})
			mx = append(mx, metrics.Point{T: a.T, V: a.Max})
			p95 = append(p95, metrics.Point{T: a.T, V: a.P95})
		}
		name := in.Key.String()
		add(name, append(main, raw...))
		if len(hours) > 0 {
			add(name+SuffixCount, count)
			add(name+SuffixMax, mx)
			add(name+SuffixP95, p95)
		}
	}
	slices.Sort(stamps)
	stamps = slices.Compact(stamps)
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return st, err
	}
	next := make([]int, len(cols))
	row := make([]string, len(header))
	for _, ts := range stamps {
		row[0] = fromMS(ts).Format(time.RFC3339Nano)
		for j, c := range cols {
			row[j+1] = ""
			if next[j] < len(c) && ms(c[next[j]].T) == ts {
				row[j+1] = strconv.FormatFloat(c[next[j]].V, 'g', -1, 64)
				next[j]++
			}
		}
		if err := cw.Write(row); err != nil {
			return st, err
		}
	}
	cw.Flush()
	st.Rows = len(stamps)
	return st, cw.Error()
}

// Import reads a trace file and writes its columns as series in one transaction, logged as source "import".
// A column named like an exported series (Kind/namespace/name/resource{labels}) goes back to that series;
// any other column becomes the series Trace/<file base name>/<column>, so a recorded trace can be imported
// too. Rows where a series' SuffixCount column has a value are compacted hours: they become hourly
// aggregates (mean from the series' column, count, max and p95 from theirs), and an hour the store has
// aggregated already keeps its own aggregate, so importing a file twice stores it once. The trace reader puts
// the rows on a regular grid (the median interval) without filling gaps: samples that were irregularly spaced
// are snapped to the grid, and cells left empty are not stored.
func (s *Store) Import(ctx context.Context, r io.Reader, name string, at time.Time) (WriteStats, error) {
	tr, err := trace.Read(r, name, &trace.Options{MaxFill: -1})
	if err != nil {
		return WriteStats{}, err
	}
	stats := map[string]*trace.Column{}
	var plain []trace.Column
	for i := range tr.Columns {
		c := &tr.Columns[i]
		if base, ok := strings.CutSuffix(c.Name, SuffixCount); ok {
			stats[base+SuffixCount] = c
		} else if base, ok := strings.CutSuffix(c.Name, SuffixMax); ok {
			stats[base+SuffixMax] = c
		} else if base, ok := strings.CutSuffix(c.Name, SuffixP95); ok {
			stats[base+SuffixP95] = c
		} else {
			plain = append(plain, *c)
		}
	}
	aggs := map[string][]Aggregate{}
	for i := range plain {
		c := &plain[i]
		cnt := stats[c.Name+SuffixCount]
		if cnt == nil {
			continue
		}
		mx, p95 := stats[c.Name+SuffixMax], stats[c.Name+SuffixP95]
		vals := slices.Clone(c.Values)
		for k, n := range cnt.Values {
			if math.IsNaN(n) {
				continue
			}
			a := Aggregate{T: tr.Time(k), Count: int(n), Mean: c.Values[k], Max: c.Values[k], P95: c.Values[k]}
			if mx != nil && !math.IsNaN(mx.Values[k]) {
				a.Max = mx.Values[k]
			}
			if p95 != nil && !math.IsNaN(p95.Values[k]) {
				a.P95 = p95.Values[k]
			}
			if math.IsNaN(a.Mean) || a.Count <= 0 {
				return WriteStats{}, fmt.Errorf("%s: column %s at %s: an aggregate needs a mean and a positive count", name, c.Name, a.T.Format(time.RFC3339))
			}
			aggs[c.Name] = append(aggs[c.Name], a)
			vals[k] = math.NaN() // not a raw sample
		}
		c.Values = vals
	}
	tr.Columns = plain
	b := tracefile.Batch(tr, "import")
	var hourly []seriesHours
	for i, c := range plain {
		if a := aggs[c.Name]; len(a) > 0 {
			hourly = append(hourly, seriesHours{b.Series[i].Key, a})
		}
	}
	return s.write(ctx, b, at, hourly)
}
