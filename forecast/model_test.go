package forecast

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func approx(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (±%g)", name, got, want, tol)
	}
}

func forecastN(t *testing.T, m Model, y []float64, h int) []float64 {
	t.Helper()
	st, err := m.Fit(y)
	if err != nil {
		t.Fatalf("%s.Fit: %v", m.Name(), err)
	}
	out := make([]float64, h)
	st.Forecast(out)
	return out
}

func TestNaiveFamily(t *testing.T) {
	y := []float64{5, 1, 2, 3, 4, 9, 6, 7}
	tests := []struct {
		name  string
		model Model
		h     int
		want  []float64
	}{
		{"naive repeats the last value", Naive{}, 3, []float64{7, 7, 7}},
		{"snaive repeats the last period", SeasonalNaive{Period: 3}, 5, []float64{9, 6, 7, 9, 6}},
		{"snaive with period 1 is naive", SeasonalNaive{Period: 1}, 2, []float64{7, 7}},
		{"median of the last window", Median{Window: 4}, 2, []float64{6.5, 6.5}},
		{"median of an odd window ignores the burst", Median{Window: 3}, 1, []float64{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := forecastN(t, tc.model, y, tc.h)
			for k := range got {
				approx(t, "forecast", got[k], tc.want[k], 0)
			}
		})
	}
}

func TestStateObserveMovesOrigin(t *testing.T) {
	// Fitting on y[:n-1] and observing y[n-1] must equal fitting on y for the
	// stateless-parameter models.
	y := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	for _, m := range []Model{Naive{}, SeasonalNaive{Period: 4}, Median{Window: 5}} {
		a := forecastN(t, m, y, 6)
		st, err := m.Fit(y[:len(y)-1])
		if err != nil {
			t.Fatal(err)
		}
		st.Observe(y[len(y)-1])
		b := make([]float64, 6)
		st.Forecast(b)
		for k := range a {
			approx(t, m.Name(), b[k], a[k], 0)
		}
	}
}

func TestSESKnownRecursion(t *testing.T) {
	// l0 = y0 = 10; l1 = .5·12 + .5·10 = 11; l2 = .5·11 + .5·11 = 11; l3 = .5·15 + .5·11 = 13.
	m := ETS{Params: &ETSParams{Alpha: 0.5}}
	got := forecastN(t, m, []float64{10, 12, 11, 15}, 2)
	approx(t, "ŷ1", got[0], 13, 1e-12)
	approx(t, "ŷ2", got[1], 13, 1e-12)
	_, sse, err := m.FitParams([]float64{10, 12, 11, 15})
	if err != nil {
		t.Fatal(err)
	}
	// one-step errors: 12−10 = 2, 11−11 = 0, 15−11 = 4
	approx(t, "SSE", sse, 4+0+16, 1e-12)
}

func TestHoltDampedKnownForecast(t *testing.T) {
	// With α = β = 1 the level is the last value and the slope the last
	// difference; the damped forecast adds φ + φ² + … of that slope.
	m := ETS{Trend: DampedTrend, Params: &ETSParams{Alpha: 1, Beta: 1, Phi: 0.5}}
	got := forecastN(t, m, []float64{1, 2, 4, 7}, 3)
	// l = 7, b = 7 − 4 = 3: 7 + 1.5, 7 + 1.5 + .75, 7 + 1.5 + .75 + .375
	want := []float64{8.5, 9.25, 9.625}
	for k := range want {
		approx(t, "forecast", got[k], want[k], 1e-12)
	}
}

// seasonalLine is a + b·t plus a fixed zero-mean seasonal shape.
func seasonalLine(n int, a, b float64, shape []float64) []float64 {
	y := make([]float64, n)
	for t := range y {
		y[t] = a + b*float64(t) + shape[t%len(shape)]
	}
	return y
}

var shape12 = []float64{3, 5, 2, -1, -4, -6, -3, 0, 1, 2, 1, 0}

func TestHoltWintersExactOnTrendPlusSeason(t *testing.T) {
	// A line plus an exact season: the classical start values recover it, every
	// one-step error is zero, and the fitted model continues it exactly
	// whatever the parameters.
	y := seasonalLine(120, 50, 0.25, shape12)
	future := seasonalLine(150, 50, 0.25, shape12)[120:]
	for _, p := range []*ETSParams{{Alpha: 0.2, Beta: 0.1, Gamma: 0.3}, nil} {
		m := ETS{Trend: Additive, Period: 12, Params: p}
		got := forecastN(t, m, y, 30)
		for k := range got {
			approx(t, "forecast", got[k], future[k], 1e-8)
		}
	}
}

func TestHoltWintersFitImprovesOnStart(t *testing.T) {
	// On a noisy seasonal series the optimiser must find parameters whose SSE
	// is no worse than the usual starting guess.
	rng := rand.New(rand.NewPCG(1, 2))
	y := seasonalLine(240, 20, 0.05, shape12)
	for i := range y {
		y[i] += rng.NormFloat64()
	}
	_, start, err := ETS{Trend: Additive, Period: 12, Params: &ETSParams{Alpha: 0.3, Beta: 0.1, Gamma: 0.1}}.FitParams(y)
	if err != nil {
		t.Fatal(err)
	}
	p, fitted, err := ETS{Trend: Additive, Period: 12}.FitParams(y)
	if err != nil {
		t.Fatal(err)
	}
	if fitted > start {
		t.Errorf("fitted SSE %g > SSE at the starting guess %g (params %+v)", fitted, start, p)
	}
	for _, v := range []float64{p.Alpha, p.Beta, p.Gamma} {
		if v < 0 || v > 1 {
			t.Errorf("parameter %g outside [0, 1]", v)
		}
	}
}

func TestETSErrors(t *testing.T) {
	if _, err := (ETS{Period: 12}).Fit(make([]float64, 20)); err == nil {
		t.Error("seasonal ETS on less than two periods: want an error")
	}
	if _, err := (ETS{}).Fit([]float64{1}); err == nil {
		t.Error("SES on one point: want an error")
	}
}

func TestDecomposeKnown(t *testing.T) {
	y := seasonalLine(24, 10, 1, shape12)
	trend, fig := decompose(y, 12)
	for i, v := range trend {
		if i < 6 || i >= 18 {
			if !math.IsNaN(v) {
				t.Errorf("trend[%d] = %g, want NaN at the ends", i, v)
			}
			continue
		}
		approx(t, "trend", v, 10+float64(i), 1e-12)
	}
	var mean float64
	for _, s := range shape12 {
		mean += s / 12
	}
	for i := range fig {
		approx(t, "figure", fig[i], shape12[i]-mean, 1e-12)
	}
}

func TestMovingAverageOdd(t *testing.T) {
	got := movingAverage([]float64{1, 2, 3, 4, 5, 6, 7}, 3)
	want := []float64{math.NaN(), 2, 3, 4, 5, 6, math.NaN()}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(want[i]) && got[i] != want[i]) {
			t.Errorf("ma[%d] = %g, want %g", i, got[i], want[i])
		}
	}
}

func TestFourierRecoversHarmonics(t *testing.T) {
	// Two periods at once (24 and 168, a day and a week of hours), a trend and
	// no noise: the regression is exact, the residuals are zero, the forecast
	// continues the curve.
	f := func(t int) float64 {
		x := float64(t)
		return 7 + 0.01*x + 2*math.Sin(2*math.Pi*x/24) + 0.5*math.Cos(4*math.Pi*x/24) + 1.5*math.Sin(2*math.Pi*x/168)
	}
	y := make([]float64, 24*7*3)
	for i := range y {
		y[i] = f(i)
	}
	got := forecastN(t, Fourier{Periods: []int{24, 168}, Trend: true}, y, 48)
	for k := range got {
		approx(t, "forecast", got[k], f(len(y)+k), 1e-7)
	}
}

func TestFourierHarmonicsDeduplicated(t *testing.T) {
	hs := Fourier{Periods: []int{24, 168}, K: 8}.harmonics()
	seen := map[float64]bool{}
	for _, h := range hs {
		f := float64(h.k) / float64(h.p)
		if seen[f] {
			t.Errorf("frequency %g appears twice", f)
		}
		seen[f] = true
	}
	// The 7th weekly harmonic is the 1st daily one: 8 daily + 7 weekly (k = 1..8 minus k = 7).
	if len(hs) != 15 {
		t.Errorf("%d harmonics, want 15", len(hs))
	}
}

func TestFourierResidualAR(t *testing.T) {
	// A level shift after a periodic history: the AR(1) residual carries the
	// shift into the first forecast steps and decays towards the curve.
	y := seasonalLine(24*10, 100, 0, []float64{0, 5, 10, 5, 0, -5, -10, -5})
	for i := len(y) - 24; i < len(y); i++ {
		y[i] += 20
	}
	st, err := Fourier{Periods: []int{8}}.Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 200)
	st.Forecast(out)
	first := out[0] - (100 + []float64{0, 5, 10, 5, 0, -5, -10, -5}[len(y)%8])
	last := out[199] - (100 + []float64{0, 5, 10, 5, 0, -5, -10, -5}[(len(y)+199)%8])
	if !(first > 10) {
		t.Errorf("first step sits %g above the curve, want the shift carried (> 10)", first)
	}
	if !(math.Abs(last) < math.Abs(first)) {
		t.Errorf("the deviation did not decay: first %g, step 200 %g", first, last)
	}
}

func TestQuantileSelectMatchesSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(60)
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(rng.IntN(10)) // many ties
		}
		sorted := append([]float64(nil), x...)
		sort.Float64s(sorted)
		for _, p := range []float64{0.01, 0.5, 0.9, 0.95, 0.99} {
			got := quantileSelect(append([]float64(nil), x...), p)
			approx(t, "quantile", got, quantileSorted(sorted, p), 1e-12)
		}
	}
}

func TestLogModelMultiplicativeSeason(t *testing.T) {
	// A season whose swing is proportional to the level is additive on the log
	// scale: log-stl reproduces it exactly where additive stl cannot.
	shape := []float64{0.5, 1, 2, 4, 2, 1}
	y := make([]float64, 60)
	for i := range y {
		y[i] = 100 * shape[i%6]
	}
	got := forecastN(t, Log{Model: STLETS{Period: 6}}, y, 12)
	for k := range got {
		approx(t, "forecast", got[k], 100*shape[(60+k)%6], 1e-6)
	}
	if _, err := (Log{Model: Naive{}}).Fit([]float64{1, 0, 2}); err == nil {
		t.Error("zero without an offset: want an error")
	}
	got = forecastN(t, Log{Model: Naive{}, Offset: 0.5}, []float64{1, 0, 2, 0}, 1)
	approx(t, "offset round trip", got[0], 0, 1e-12)
}

func TestLogScaleDecision(t *testing.T) {
	tests := []struct {
		name string
		y    []float64
		ok   bool
		off  float64
	}{
		{"narrow range", []float64{10, 11, 12, 13}, false, 0},
		{"wide range", []float64{1, 10, 100, 1000}, true, 0},
		{"zeros get an offset", []float64{0, 2, 40, 80}, true, 0.2},
		{"negative values", []float64{-1, 10, 100}, false, 0},
		{"all zero", []float64{0, 0, 0}, false, 0},
	}
	for _, tc := range tests {
		ok, off := logScale(tc.y)
		if ok != tc.ok || math.Abs(off-tc.off) > 1e-12 {
			t.Errorf("%s: logScale = %v, %g; want %v, %g", tc.name, ok, off, tc.ok, tc.off)
		}
	}
}

// quantileSorted is the reference for quantileSelect: the p-quantile of sorted x by linear interpolation
// between order statistics (R's type 7, the default of R's quantile()).
func quantileSorted(x []float64, p float64) float64 {
	n := len(x)
	if n == 0 {
		return math.NaN()
	}
	h := p * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return x[n-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}
