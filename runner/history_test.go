package runner

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
)

func TestGrid(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// Samples at 0, 5, 11 (rounds to the 10-minute cell), 12 (same cell, larger) and 25 min;
	// the 15 and 20 cells are empty.
	s, ok := Grid("x", []metrics.Point{{T: at(0), V: 1}, {T: at(5), V: 2}, {T: at(11), V: 3}, {T: at(12), V: 4}, {T: at(25), V: 5}}, 5*time.Minute)
	if !ok || !s.Start.Equal(at(0)) || s.Step != 5*time.Minute || len(s.Values) != 6 {
		t.Fatalf("%+v", s)
	}
	want := []float64{1, 2, 4, math.NaN(), math.NaN(), 5}
	for i, v := range want {
		if !(v == s.Values[i] || math.IsNaN(v) && math.IsNaN(s.Values[i])) {
			t.Fatalf("values %v, want %v", s.Values, want)
		}
	}
	if _, ok := Grid("x", nil, time.Minute); ok {
		t.Fatal("no points must not make a series")
	}
}

func TestTrendAndRunway(t *testing.T) {
	// 1 core + 0.5 core/day on an hourly grid for 3 days: slope 0.5/day.
	s := forecast.Series{Step: time.Hour}
	for i := range 72 {
		s.Values = append(s.Values, 1+0.5*float64(i)/24)
	}
	s.Values[10] = math.NaN()
	if g := TrendPerDay(&s); math.Abs(g-0.5) > 1e-12 {
		t.Fatalf("trend %v", g)
	}
	// Capacity 10 nodes × (4 − 0.25) cores = 37.5; 12.5 requested; +1 core of request a day: 25 days.
	if d := Runway(37.5, 12.5, 1); d != 25 {
		t.Fatalf("runway %v", d)
	}
	if d := Runway(37.5, 40, 1); d != 0 {
		t.Fatalf("full pool: %v", d)
	}
	if d := Runway(37.5, 12.5, -0.1); !math.IsInf(d, 1) {
		t.Fatalf("shrinking: %v", d)
	}
	// Unmet: 3 cores of forecast demand, 4 replicas × 0.5 core requested: 1 core short.
	d := policy.Decision{Desired: 4, Numbers: policy.Numbers{ForecastReplicas: 12, DemandCPU: 3, Request: policy.Resources{CPU: 0.5}}}
	if u := UnmetCPU(d); u != 1 {
		t.Fatalf("unmet %v", u)
	}
}

// TestDecisionHistory: the next cycle's history holds the first cycle's
// recommendations and its one change as a scale event; holds give no
// recommendation.
func TestDecisionHistory(t *testing.T) {
	r, _, clk, _ := setup(t)
	if _, err := r.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Step(5 * time.Minute)
	h, err := DecisionHistory(context.Background(), r.Store, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	hw := h[web]
	if len(hw.Recommendations) != 1 || hw.Recommendations[0] != (policy.Recommendation{Time: t0, Replicas: 4}) {
		t.Errorf("web recommendations %+v", hw.Recommendations)
	}
	if len(hw.Events) != 1 || hw.Events[0] != (policy.ScaleEvent{Time: t0, From: 2, To: 4}) {
		t.Errorf("web events %+v", hw.Events)
	}
	if ha := h[api]; len(ha.Recommendations) != 0 || len(ha.Events) != 0 {
		t.Errorf("api (held) %+v", ha)
	}
	// An hour and a bit later the rows are out of the window.
	h, _ = DecisionHistory(context.Background(), r.Store, t0.Add(HistoryWindow+time.Second))
	if len(h[web].Recommendations) != 0 {
		t.Errorf("old rows kept: %+v", h[web])
	}
}
