package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func series(vals []float64, step time.Duration) Series {
	return Series{Name: "test", Start: t0, Step: step, Values: vals}
}

// daily builds n five-minute points of level + a daily sine of the given
// amplitude + Gaussian noise (seeded).
func daily(n int, level, amp, noise float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	y := make([]float64, n)
	for i := range y {
		y[i] = level + amp*math.Sin(2*math.Pi*float64(i)/288) + noise*rng.NormFloat64()
	}
	return y
}

func checkFinite(t *testing.T, f *Forecast) {
	t.Helper()
	for k, v := range f.Mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("mean[%d] = %v", k, v)
		}
	}
	for i := range f.Q {
		for k, v := range f.Q[i] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("q%v[%d] = %v", f.Levels[i], k, v)
			}
		}
	}
	for i := 1; i < len(f.Levels); i++ {
		for k := range f.Mean {
			if f.Q[i][k] < f.Q[i-1][k] {
				t.Fatalf("quantiles cross at step %d: q%v = %v < q%v = %v", k, f.Levels[i], f.Q[i][k], f.Levels[i-1], f.Q[i-1][k])
			}
		}
	}
}

func TestAutoContract(t *testing.T) {
	y := daily(288*6, 50, 10, 1, 1)
	s := series(y, 5*time.Minute)
	f, err := Auto(s, Options{Horizon: 36})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Mean) != 36 {
		t.Fatalf("%d points, want 36", len(f.Mean))
	}
	if want := s.End().Add(5 * time.Minute); !f.Start.Equal(want) {
		t.Errorf("first point at %v, want one step after the last sample (%v)", f.Start, want)
	}
	if f.Quantile(0.95) == nil {
		t.Error("the default quantiles must include 0.95")
	}
	if len(f.Seasonality) == 0 || f.Seasonality[0].Period != 24*time.Hour {
		t.Errorf("seasonality %+v, want a daily period", f.Seasonality)
	}
	checkFinite(t, f)
	// A clean sine: the forecast must follow it closely, far better than the noise.
	for k, v := range f.Mean {
		want := 50 + 10*math.Sin(2*math.Pi*float64(len(y)+k)/288)
		if math.Abs(v-want) > 3 {
			t.Errorf("step %d: %v, want ≈ %v", k, v, want)
		}
	}
}

func TestAutoDeterministic(t *testing.T) {
	s := series(daily(288*5, 20, 5, 2, 3), 5*time.Minute)
	a, err := Auto(s, Options{Horizon: 12})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Auto(s, Options{Horizon: 12})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs on the same input differ")
	}
}

func TestAutoEdgeCases(t *testing.T) {
	step := 5 * time.Minute
	spiky := daily(2000, 10, 0, 0.5, 4)
	for i := 100; i < len(spiky); i += 97 {
		spiky[i] = 1e6
	}
	shift := daily(2000, 10, 0, 0.5, 5)
	for i := 1500; i < len(shift); i++ {
		shift[i] += 50
	}
	neg := daily(1000, -5, 3, 0.5, 6)
	gappy := daily(1500, 10, 2, 0.2, 8)
	for i := 400; i < 460; i++ {
		gappy[i] = math.NaN()
	}
	gappy[len(gappy)-1] = math.NaN()
	tests := []struct {
		name  string
		y     []float64
		check func(t *testing.T, f *Forecast)
	}{
		{"constant", constant(500, 7), func(t *testing.T, f *Forecast) {
			for k := range f.Mean {
				approx(t, "mean", f.Mean[k], 7, 1e-9)
				approx(t, "q0.99", f.Quantile(0.99)[k], 7, 1e-9)
			}
		}},
		{"all zero", constant(300, 0), func(t *testing.T, f *Forecast) {
			for k := range f.Mean {
				approx(t, "mean", f.Mean[k], 0, 1e-12)
			}
		}},
		{"short (10 points)", []float64{3, 4, 3, 5, 4, 4, 5, 3, 4, 4}, func(t *testing.T, f *Forecast) {
			for _, v := range f.Mean {
				if v < 3 || v > 5 {
					t.Errorf("forecast %v outside the observed range [3, 5]", v)
				}
			}
		}},
		{"huge spikes", spiky, func(t *testing.T, f *Forecast) {
			// The baseline is ≈10; one spike in 97 points must not lift the median forecast.
			if f.Mean[0] > 100 {
				t.Errorf("forecast %v dragged by the spikes", f.Mean[0])
			}
		}},
		{"level shift", shift, func(t *testing.T, f *Forecast) {
			if math.Abs(f.Mean[0]-60) > 3 {
				t.Errorf("forecast %v, want the new level ≈ 60", f.Mean[0])
			}
		}},
		{"negative values", neg, func(t *testing.T, f *Forecast) {
			if f.Mean[0] > 0 {
				t.Errorf("forecast %v: negative history must not be clamped at zero", f.Mean[0])
			}
		}},
		{"gaps and a missing last value", gappy, func(t *testing.T, f *Forecast) {
			if f.Prepared.Interpolated != 60 || f.Prepared.DroppedTrailing != 1 {
				t.Errorf("prepared %+v, want 60 interpolated and 1 trailing dropped", f.Prepared)
			}
			if want := t0.Add(time.Duration(len(gappy)-1) * step); !f.Start.Equal(want) {
				t.Errorf("start %v, want one step after the last real sample %v", f.Start, want)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Auto(series(tc.y, step), Options{Horizon: 24})
			if err != nil {
				t.Fatal(err)
			}
			checkFinite(t, f)
			tc.check(t, f)
		})
	}
}

func constant(n int, v float64) []float64 {
	y := make([]float64, n)
	for i := range y {
		y[i] = v
	}
	return y
}

func TestAutoErrors(t *testing.T) {
	step := time.Minute
	tests := []struct {
		name string
		s    Series
		opt  Options
		want error
	}{
		{"no values", series([]float64{math.NaN(), math.NaN()}, step), Options{Horizon: 1}, ErrInsufficientData},
		{"too short", series([]float64{1, 2, 3}, step), Options{Horizon: 1}, ErrInsufficientData},
		{"zero horizon", series(constant(100, 1), step), Options{Horizon: 0}, ErrInvalidArgument},
		{"huge horizon", series(constant(100, 1), step), Options{Horizon: MaxHorizon + 1}, ErrInvalidArgument},
		{"bad quantile", series(constant(100, 1), step), Options{Horizon: 1, Quantiles: []float64{1.5}}, ErrInvalidArgument},
		{"unknown model", series(constant(100, 1), step), Options{Horizon: 1, Model: "prophet"}, ErrUnknownModel},
		{"seasonal model without season", series(constant(100, 1), step), Options{Horizon: 1, Model: "stl"}, ErrInsufficientData},
		{"zero step", Series{Values: constant(100, 1)}, Options{Horizon: 1}, ErrInvalidSeries},
		{"infinite value", series([]float64{1, math.Inf(1), 2, 3, 4, 5, 6, 7, 8}, step), Options{Horizon: 1}, ErrInvalidSeries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Auto(tc.s, tc.opt)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAutoQuantilesCalibrated(t *testing.T) {
	// An AR(1) around a daily cycle with Gaussian shocks. From 30 origins
	// spread over fresh data, the 0.95 quantile must cover about 95% of the
	// outcomes: the 900 scored points are autocorrelated, so the tolerance is
	// wide, but a normal-theory interval from one-step residuals would cover
	// far less at 24 steps and an uncalibrated one could be anywhere.
	rng := rand.New(rand.NewPCG(11, 12))
	n := 288 * 40
	y := make([]float64, n)
	e := 0.0
	for i := range y {
		e = 0.9*e + rng.NormFloat64()
		y[i] = 100 + 20*math.Sin(2*math.Pi*float64(i)/288) + 3*e
	}
	hit, tot := 0, 0
	for o := 288 * 10; o+30 <= n; o += 288 {
		f, err := Auto(series(y[:o], 5*time.Minute), Options{Horizon: 30, Quantiles: []float64{0.95}})
		if err != nil {
			t.Fatal(err)
		}
		q := f.Quantile(0.95)
		for k := range q {
			if y[o+k] <= q[k] {
				hit++
			}
			tot++
		}
	}
	cov := float64(hit) / float64(tot)
	if cov < 0.90 || cov > 0.99 {
		t.Errorf("0.95 quantile covered %.3f of %d outcomes", cov, tot)
	}
}

func TestAutoNamedModel(t *testing.T) {
	s := series(daily(288*4, 30, 5, 1, 9), 5*time.Minute)
	for _, name := range ModelNames {
		f, err := Auto(s, Options{Horizon: 6, Model: name})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.Model != name {
			t.Errorf("asked for %s, got %s", name, f.Model)
		}
		checkFinite(t, f)
	}
}

func TestBasePeriod(t *testing.T) {
	tests := []struct {
		step time.Duration
		n    int
		want int
	}{
		{5 * time.Minute, 576, 288},
		{5 * time.Minute, 575, 1},
		{30 * time.Minute, 1000, 48},
		{24 * time.Hour, 14, 7},
		{24 * time.Hour, 13, 1},
		{10 * time.Second, 351, 1},
		{7 * time.Minute, 10000, 1440}, // a day is not a whole number of 7-minute steps, a week is
		{11 * time.Minute, 10000, 1},   // neither is
	}
	for _, tc := range tests {
		if got := BasePeriod(tc.step, tc.n); got != tc.want {
			t.Errorf("BasePeriod(%v, %d) = %d, want %d", tc.step, tc.n, got, tc.want)
		}
	}
}

func TestDetect(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	noise := make([]float64, 288*7)
	walk := make([]float64, 288*7)
	w := 0.0
	for i := range noise {
		noise[i] = rng.NormFloat64()
		w += rng.NormFloat64()
		walk[i] = w
	}
	weekly := make([]float64, 24*7*4) // hourly, weekend dip and a daily cycle
	for i := range weekly {
		day := (i / 24) % 7
		weekly[i] = 100 + 20*math.Sin(2*math.Pi*float64(i)/24) + rng.NormFloat64()
		if day >= 5 {
			weekly[i] -= 40
		}
	}
	tests := []struct {
		name string
		y    []float64
		step time.Duration
		want []time.Duration
	}{
		{"white noise", noise, 5 * time.Minute, nil},
		{"random walk", walk, 5 * time.Minute, nil},
		{"daily sine", daily(288*4, 10, 3, 1, 23), 5 * time.Minute, []time.Duration{24 * time.Hour}},
		{"daily and weekly", weekly, time.Hour, []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}},
		{"too short for a day", daily(400, 10, 3, 0.1, 24), 5 * time.Minute, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []time.Duration
			for _, s := range Detect(tc.y, tc.step) {
				got = append(got, s.Period)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("detected %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAccuracyKnown(t *testing.T) {
	y := []float64{1, 2, 3, 4}
	f := []float64{1, 3, 3, 2}
	approx(t, "MAE", MAE(y, f), 0.75, 1e-12)
	// sMAPE: (0 + 2·1/5 + 0 + 2·2/6)/4·100
	approx(t, "sMAPE", SMAPE(y, f), (0.4+2.0/3)/4*100, 1e-12)
	// Seasonal-naive scale with m = 2 on 1,3,2,4,3,5: |2−1|,|4−3|,|3−2|,|5−4| → 1.
	approx(t, "scale", MASEScale([]float64{1, 3, 2, 4, 3, 5}, 2), 1, 1e-12)
	// Exactly periodic: the m-scale is 0, fall back to lag 1 (all steps 2).
	approx(t, "scale fallback", MASEScale([]float64{1, 3, 1, 3, 1, 3}, 2), 2, 1e-12)
	approx(t, "scale constant", MASEScale([]float64{4, 4, 4}, 1), 4, 1e-12)
	approx(t, "coverage", Coverage(y, []float64{1, 1, 5, 5}), 0.75, 1e-12)
}

func TestAdvance(t *testing.T) {
	y := daily(288*4, 50, 10, 1, 31)
	n := len(y)
	f, err := Auto(series(y[:n-3], 5*time.Minute), Options{Horizon: 12, Model: "naive"})
	if err != nil {
		t.Fatal(err)
	}
	offsets := make([]float64, 12)
	q := f.Quantile(0.95)
	for k := range offsets {
		offsets[k] = q[k] - f.Mean[k]
	}
	g, err := f.Advance(y[n-3], math.NaN(), y[n-1])
	if err != nil {
		t.Fatal(err)
	}
	if want := f.Start.Add(15 * time.Minute); !g.Start.Equal(want) {
		t.Errorf("advanced start %v, want %v", g.Start, want)
	}
	// The naive model now forecasts the last observation, with the same offsets.
	for k, v := range g.Mean {
		approx(t, "mean", v, y[n-1], 1e-12)
		approx(t, "q0.95 offset", g.Quantile(0.95)[k]-v, offsets[k], 1e-12)
	}
	if _, err := f.Advance(1); err == nil {
		t.Error("advancing an already advanced forecast: want an error")
	}
	if _, err := g.Advance(math.Inf(1)); !errors.Is(err, ErrInvalidSeries) {
		t.Errorf("infinite observation: error %v, want ErrInvalidSeries", err)
	}
}

func TestAdvanceMatchesRefitState(t *testing.T) {
	// For a chosen model whose parameters are fixed after the fit, advancing
	// by k observations equals what the fitted state would forecast after
	// observing them: here SES with the auto-selected parameters, checked
	// against the state Auto keeps.
	y := daily(2000, 20, 0, 1, 32)
	f, err := Auto(series(y[:1990], time.Minute), Options{Horizon: 5, Model: "ses"})
	if err != nil {
		t.Fatal(err)
	}
	st := f.fit.members[0].state.(*etsState)
	l := st.l
	for _, v := range y[1990:] {
		l = st.p.Alpha*v + (1-st.p.Alpha)*l
	}
	g, err := f.Advance(y[1990:]...)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Mean {
		approx(t, "mean", v, l, 1e-9)
	}
}

func TestAutoSeasonalityOption(t *testing.T) {
	periods := func(f *Forecast) []time.Duration {
		var out []time.Duration
		for _, s := range f.Seasonality {
			out = append(out, s.Period)
		}
		return out
	}
	rng := rand.New(rand.NewPCG(5, 6))
	noise := make([]float64, 288*7)
	for i := range noise {
		noise[i] = 50 + rng.NormFloat64()
	}
	sine := daily(288*7, 10, 3, 0.1, 7)
	tests := []struct {
		name  string
		y     []float64
		given []time.Duration
		want  []time.Duration
	}{
		{"detected without the option", sine, nil, []time.Duration{24 * time.Hour}},
		{"forced on noise", noise, []time.Duration{24 * time.Hour}, []time.Duration{24 * time.Hour}},
		{"restricted: the daily cycle left out", sine, []time.Duration{time.Hour}, []time.Duration{time.Hour}},
		{"none", sine, []time.Duration{}, nil},
		{"periods that do not fit are left out", sine, []time.Duration{7*time.Minute + 30*time.Second, 30 * 24 * time.Hour, 24 * time.Hour, 24 * time.Hour},
			[]time.Duration{24 * time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Auto(series(tc.y, 5*time.Minute), Options{Horizon: 12, Quantiles: []float64{0.9}, Seasonality: tc.given})
			if err != nil {
				t.Fatal(err)
			}
			checkFinite(t, f)
			if got := periods(f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("seasonality %v, want %v", got, tc.want)
			}
		})
	}
}
