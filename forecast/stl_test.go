package forecast

import (
	"math"
	"testing"
)

func TestSTLRecoversLevelPlusSeason(t *testing.T) {
	// The cycle-subseries of a level plus an exact season are constant and
	// loess reproduces constants, so STL must split the sum exactly.
	y := seasonalLine(12*10, 10, 0, shape12)
	var mean float64
	for _, s := range shape12 {
		mean += s / 12
	}
	for _, opt := range []STLOptions{{}, {SeasonalWindow: 7}, {Robust: true}} {
		d, err := STL(y, 12, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range y {
			approx(t, "seasonal", d.Seasonal[i], shape12[i%12]-mean, 1e-9)
			approx(t, "trend", d.Trend[i], 10+mean, 1e-9)
			approx(t, "remainder", d.Remainder[i], 0, 1e-9)
		}
	}
}

func TestSTLSeparatesTrend(t *testing.T) {
	// With a trend, STL's two inner passes leave a little of the trend in the
	// seasonal estimate (the cycle-subseries rise with the trend); the split
	// must still be close: remainder within 5% of the seasonal amplitude.
	y := seasonalLine(12*10, 10, 0.3, shape12)
	d, err := STL(y, 12, STLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range y {
		approx(t, "remainder", d.Remainder[i], 0, 0.05*6)
		approx(t, "sum", d.Seasonal[i]+d.Trend[i]+d.Remainder[i], y[i], 1e-9)
	}
}

func TestSTLRobustIgnoresSpike(t *testing.T) {
	// One huge burst: with robustness iterations it lands in the remainder and
	// leaves the seasonal and trend components (almost) untouched; without
	// them it bends both.
	y := seasonalLine(12*8, 10, 0, shape12)
	y[50] += 1000
	robust, err := STL(y, 12, STLOptions{Robust: true, SeasonalWindow: 7})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := STL(y, 12, STLOptions{SeasonalWindow: 7})
	if err != nil {
		t.Fatal(err)
	}
	var mean float64
	for _, s := range shape12 {
		mean += s / 12
	}
	worst := func(d Decomposition) float64 {
		w := 0.0
		for i := range y {
			if i == 50 {
				continue
			}
			w = math.Max(w, math.Abs(d.Seasonal[i]-(shape12[i%12]-mean))+math.Abs(d.Trend[i]-(10+mean)))
		}
		return w
	}
	if w := worst(robust); w > 0.5 {
		t.Errorf("robust STL: components off by %g away from the spike, want < 0.5", w)
	}
	if worst(plain) < 5*worst(robust) {
		t.Errorf("non-robust STL was not worse (%g vs %g): the test does not exercise robustness", worst(plain), worst(robust))
	}
	if robust.Remainder[50] < 900 {
		t.Errorf("spike remainder %g, want ≈ 1000", robust.Remainder[50])
	}
	if robust.Weights[50] != 0 {
		t.Errorf("spike robustness weight %g, want 0", robust.Weights[50])
	}
}

func TestSTLErrors(t *testing.T) {
	if _, err := STL(make([]float64, 10), 12, STLOptions{}); err == nil {
		t.Error("less than two periods: want an error")
	}
	if _, err := STL(make([]float64, 10), 1, STLOptions{}); err == nil {
		t.Error("period 1: want an error")
	}
}

func TestSTLETSForecastsSeasonPlusLevel(t *testing.T) {
	// A flat level plus a season: the forecast is the level plus the season's next phases.
	shape := []float64{1, 3, -2, -2}
	y := seasonalLine(80, 40, 0, shape)
	got := forecastN(t, STLETS{Period: 4}, y, 8)
	for k := range got {
		approx(t, "forecast", got[k], 40+shape[(80+k)%4], 1e-6)
	}
}
