package runner

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

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

// TestCycleReadsItsLog: four minutes after web was scaled 2 → 4, its
// usage drops to a quarter: alone, the policy would scale down (1 core
// needs 4, 0.25 needs 1), but the next cycle reads the first cycle's
// recommendation of 4 from the decision log, and the default 5-minute
// scale-down stabilization window keeps 4.
func TestCycleReadsItsLog(t *testing.T) {
	r, d, clk, src := setup(t)
	if _, err := r.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.Replicas[web] != 4 {
		t.Fatalf("first cycle: %v", d.Replicas)
	}
	clk.Step(4 * time.Minute)
	src.cpu[web] = 0.25
	src.pods[web] = 4
	res, err := r.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range res.Targets {
		if tr.Target != web {
			continue
		}
		dd := tr.Planned.Decision
		if dd.Rule != policy.RuleStabilization || dd.Desired != 4 || dd.Recommendation >= 4 || tr.Outcome != OutcomeUnchanged {
			t.Fatalf("web: %v %+v", tr.Outcome, dd)
		}
		return
	}
	t.Fatal("web not in the results")
}
