package forecast

import (
	"math"
	"strings"
	"testing"
	"time"
)

// seasonalModels are the candidates that need a seasonal period.
var seasonalModels = []string{"holt-winters", "stl", "stl-damped", "fourier", "fourier-trend", "log-stl"}

// EvalOptions.Seasonality reaches Auto at every origin: nil detects the daily
// cycle and scores the seasonal models, an empty slice leaves them out of the
// candidates and of auto's choices, and a given period is used on a series
// without a cycle, where detection finds none.
func TestEvaluateSeasonality(t *testing.T) {
	// Two weeks hourly: a daily sine of amplitude 3 around 10 with a little
	// noise; BasePeriod is 24 steps, so seasonal naive is the baseline either way.
	sine := daily(288*14, 10, 3, 0.1, 11)
	hourly := make([]float64, 0, 24*14)
	for i := 0; i < len(sine); i += 12 {
		hourly = append(hourly, sine[i])
	}
	noise := daily(24*14, 50, 0, 1, 5) // no cycle: Gaussian noise around 50
	eval := func(y []float64, seasons []time.Duration) *SeriesEval {
		t.Helper()
		e, err := Evaluate(series(y, time.Hour), EvalOptions{Horizon: 24, Origins: 3, Seasonality: seasons})
		if err != nil {
			t.Fatal(err)
		}
		if e.BasePeriod != 24 || e.Baseline.Model != "snaive" {
			t.Fatalf("base period %d, baseline %s; want 24, snaive", e.BasePeriod, e.Baseline.Model)
		}
		return e
	}
	hasSeasonal := func(e *SeriesEval) (scored, chosen []string) {
		for _, m := range seasonalModels {
			if _, ok := e.Models[m]; ok {
				scored = append(scored, m)
			}
		}
		for m := range e.Chosen {
			for _, s := range seasonalModels {
				if strings.Contains(m, s) {
					chosen = append(chosen, m)
				}
			}
		}
		return scored, chosen
	}

	detected := eval(hourly, nil)
	if scored, _ := hasSeasonal(detected); len(scored) == 0 {
		t.Errorf("nil: no seasonal model scored on a daily cycle (models %v)", detected.SortedModels())
	}
	none := eval(hourly, []time.Duration{})
	if scored, chosen := hasSeasonal(none); len(scored) != 0 || len(chosen) != 0 {
		t.Errorf("[]: seasonal models scored %v, chosen %v; want none", scored, chosen)
	}
	if _, ok := none.Models["snaive"]; !ok {
		t.Errorf("[]: the seasonal-naive baseline is missing from %v", none.SortedModels())
	}
	// The baseline does not depend on the seasonality: same forecasts, same scale.
	if math.Abs(none.Baseline.MASE-detected.Baseline.MASE) > 1e-12 || none.Baseline.Points != detected.Baseline.Points {
		t.Errorf("baseline MASE %v over %d points with [], %v over %d with nil", none.Baseline.MASE, none.Baseline.Points,
			detected.Baseline.MASE, detected.Baseline.Points)
	}
	// Without the cycle, auto loses to seasonal naive by more than with it.
	if !(none.RelMASE > detected.RelMASE) {
		t.Errorf("relative MASE %v with [] vs %v with the daily cycle detected", none.RelMASE, detected.RelMASE)
	}

	// Noise: nothing detected; a given daily period is used anyway.
	if scored, _ := hasSeasonal(eval(noise, nil)); len(scored) != 0 {
		t.Errorf("noise, nil: seasonal models %v scored without a detected cycle", scored)
	}
	if scored, _ := hasSeasonal(eval(noise, []time.Duration{24 * time.Hour})); len(scored) == 0 {
		t.Error("noise, [24h]: the given daily period was not used")
	}
}
