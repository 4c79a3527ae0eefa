package report

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
)

// TestChartLeavesRoomForTheLegend: the legend sits top left, inside the plot, so the y axis reaches above the
// data by about 14 points per entry. Three lines peaking at 100 on a 300-point chart (plot area about
// 300 − 70 = 230 points): 42/230 of the axis is kept free, so it runs to 100/(1 − 0.183) ≈ 122 and shows a
// tick above 100; without the room the top tick is 100.
func TestChartLeavesRoomForTheLegend(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour)}
	c := &Chart{Title: "x", Lines: []Line{
		{Name: "a", Times: ts, Values: []float64{0, 50, 100}},
		{Name: "b", Times: ts, Values: []float64{10, 20, 30}, Color: 1},
		{Name: "c", Times: ts, Values: []float64{5, 5, 5}, Color: 2},
	}}
	if n := legendEntries(c); n != 3 {
		t.Fatalf("legend entries %d, want 3", n)
	}
	svg, err := c.SVG(6*vg.Inch, 300)
	if err != nil {
		t.Fatal(err)
	}
	top := 0.0
	for _, m := range regexp.MustCompile(`>(\d+)</text>`).FindAllStringSubmatch(svg, -1) {
		if v, _ := strconv.ParseFloat(m[1], 64); v > top && v < 1000 {
			top = v
		}
	}
	if top <= 100 {
		t.Errorf("top tick %v: no room above the data for the legend", top)
	}
	c.Limits = []Limit{{Name: "max", Value: 90}}
	c.Marker, c.MarkerLabel = t0.Add(time.Hour), "runway"
	if n := legendEntries(c); n != 5 {
		t.Errorf("with a limit and a marker: %d entries, want 5", n)
	}
}
