package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// hwProcess simulates additive Holt–Winters in its error-correction form
// with known parameters (β = 0 and no season give a local-level process
// for SES): with ŷ = l + b + s and the Gaussian error e = y − ŷ,
//
//	l ← l + b + α·e,  b ← b + α·β·e,  s ← s + γ·(1−α)·e
//
// which is the filter of ETS written the other way round (b = β(l'−l) +
// (1−β)b expands to b + αβe, and s = γ(y−l') + (1−γ)s to s + γ(1−α)e).
func hwProcess(n, period int, p ETSParams, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	l, b := 50.0, 0.0
	s := make([]float64, max(period, 1))
	if period > 1 {
		for i := range s {
			s[i] = 8 * math.Sin(2*math.Pi*float64(i)/float64(period))
		}
	}
	y := make([]float64, n)
	for t := range y {
		st := 0.0
		if period > 1 {
			st = s[t%period]
		}
		e := rng.NormFloat64()
		y[t] = l + b + st + e
		l += b + p.Alpha*e
		b += p.Alpha * p.Beta * e
		if period > 1 {
			s[t%period] += p.Gamma * (1 - p.Alpha) * e
		}
	}
	return y
}

// TestETSWarmStartReachesColdOptimum: on series simulated with known
// parameters, the cold search finds them (within sampling error), and a
// search started at the parameters fitted on an earlier part of the series
// (as a refit a day later is) reaches the same optimum, to 1e-4 of the
// loss, with fewer evaluations.
func TestETSWarmStartReachesColdOptimum(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     ETS
		truth ETSParams
		// tol is the sampling tolerance on each parameter: on 2,400
		// points the standard error of α̂ is about √(α(2−α)/n) ≈ 0.015
		// for α = 0.4; γ̂ and β̂ are noisier.
		tol float64
	}{
		{"ses", ETS{}, ETSParams{Alpha: 0.4}, 0.05},
		{"holt-winters", ETS{Trend: Additive, Period: 24}, ETSParams{Alpha: 0.3, Beta: 0.05, Gamma: 0.2}, 0.08},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := hwProcess(2400, tc.m.Period, tc.truth, 7)
			cold, coldLoss, coldEvals, err := tc.m.search(y, true, tc.m.searchConfig())
			if err != nil {
				t.Fatal(err)
			}
			checkNear(t, "cold", cold, tc.truth, tc.m, tc.tol)

			prev, _, err := tc.m.FitParams(y[:2112]) // a day of 288 points earlier
			if err != nil {
				t.Fatal(err)
			}
			wm := tc.m
			wm.Init = &prev
			warm, warmLoss, warmEvals, err := wm.search(y, true, wm.searchConfig())
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(warmLoss-coldLoss) > 1e-4*coldLoss {
				t.Errorf("warm loss %.6f, cold %.6f: not the same optimum", warmLoss, coldLoss)
			}
			checkNear(t, "warm vs cold", warm, cold, tc.m, 0.01)
			if warmEvals >= coldEvals*3/4 {
				t.Errorf("warm search spent %d evaluations, cold %d: expected at most three quarters", warmEvals, coldEvals)
			}
			t.Logf("cold %+v (%d evaluations), warm from %+v: %+v (%d)", cold, coldEvals, prev, warm, warmEvals)

			// Fit with Init runs the same search: the state forecasts as the
			// warm parameters do.
			st, err := wm.Fit(y)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.(*etsState).p; got != withPhi(warm, tc.m) {
				t.Errorf("Fit with Init used %+v, search found %+v", got, warm)
			}
		})
	}
}

func withPhi(p ETSParams, m ETS) ETSParams {
	if m.Trend != DampedTrend {
		p.Phi = 1
	}
	return p
}

// checkNear compares the parameters m uses.
func checkNear(t *testing.T, what string, got, want ETSParams, m ETS, tol float64) {
	t.Helper()
	d := math.Abs(got.Alpha - want.Alpha)
	if m.Trend != NoTrend {
		d = math.Max(d, math.Abs(got.Beta-want.Beta))
	}
	if m.Period > 1 {
		d = math.Max(d, math.Abs(got.Gamma-want.Gamma))
	}
	if d > tol {
		t.Errorf("%s: %+v differs from %+v by %.3f (tolerance %.3f)", what, got, want, d, tol)
	}
}

// TestETSInitRange: a start outside the parameters' range is an error
// naming the parameter; parameters the model does not use are not read;
// starts at the edges are moved 0.1 % inside, in the logistic coordinates
// the search runs on: logit(0.999) = ln 999 = 6.9068.
func TestETSInitRange(t *testing.T) {
	y := hwProcess(200, 0, ETSParams{Alpha: 0.4}, 1)
	for _, tc := range []struct {
		m    ETS
		want string
	}{
		{ETS{Init: &ETSParams{Alpha: 1.5}}, "alpha = 1.5"},
		{ETS{Init: &ETSParams{Alpha: math.NaN()}}, "alpha = NaN"},
		{ETS{Trend: Additive, Init: &ETSParams{Alpha: 0.5, Beta: -0.1}}, "beta = -0.1"},
		{ETS{Trend: Additive, Period: 4, Init: &ETSParams{Alpha: 0.5, Beta: 0.1, Gamma: 2}}, "gamma = 2"},
		{ETS{Trend: DampedTrend, Init: &ETSParams{Alpha: 0.5, Beta: 0.1, Phi: 1.2}}, "phi = 1.2"},
		{ETS{Trend: DampedTrend, Init: &ETSParams{Alpha: 0.5, Beta: 0.1, Phi: 0}}, "phi = 0"},
	} {
		_, err := tc.m.Fit(y)
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with Init %+v: error %v, want ErrInvalidArgument mentioning %q", tc.m.Name(), *tc.m.Init, err, tc.want)
		}
	}

	// Unused parameters are not read: SES ignores β, γ and φ.
	if _, err := (ETS{Init: &ETSParams{Alpha: 0.5, Beta: 7, Gamma: -1, Phi: 9}}).Fit(y); err != nil {
		t.Errorf("ses with out-of-range unused parameters: %v", err)
	}

	const edge = 6.906754778648554 // logit(0.999) = ln(999)
	x0, err := ETS{Trend: DampedTrend, Period: 4, Init: &ETSParams{Alpha: 1, Beta: 0, Gamma: 0.5, Phi: 0.5}}.startPoint()
	if err != nil {
		t.Fatal(err)
	}
	// α = 1 → 0.999; β = 0 → 0.001; γ = 0.5 stays (logit 0); φ = 0.5 is
	// below the searched [0.8, 0.98] and starts at its bottom, 0.1 % in.
	want := []float64{edge, -edge, 0, -edge}
	for i := range want {
		if math.Abs(x0[i]-want[i]) > 1e-9 {
			t.Errorf("start %v, want %v", x0, want)
			break
		}
	}
	// Without Init the defaults α 0.3, β 0.1, φ 0.95 (φ at (0.95−0.8)/0.18
	// of its range): logit(0.3) = ln(3/7), logit(0.1) = −ln 9, logit(5/6) = ln 5.
	x0, err = ETS{Trend: DampedTrend}.startPoint()
	if err != nil {
		t.Fatal(err)
	}
	want = []float64{math.Log(3.0 / 7), -math.Log(9), math.Log(5)}
	for i := range want {
		if math.Abs(x0[i]-want[i]) > 1e-9 {
			t.Errorf("default start %v, want %v", x0, want)
			break
		}
	}
}

// TestAutoWarm: a selection records every smoothing candidate's fitted
// parameters (those of a direct fit on the same training part); a refit
// with Warm seeds its candidate from them and carries the others forward
// for a later selection, but reports as fitted only what it fitted; a
// seed fitted with another seasonal period is not used.
func TestAutoWarm(t *testing.T) {
	s := synthSeries(8*288, false)
	opt := Options{Horizon: 3, Quantiles: []float64{0.95}, Validation: 288}
	sel, err := Auto(s, opt)
	if err != nil {
		t.Fatal(err)
	}
	fitN := len(s.Values) - 288
	ps, _, err := Prepare(s, 288, 3*288) // as Auto prepares it
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ses", "holt-damped", "holt-winters", "stl"} {
		got, ok := sel.SmoothingParams(name)
		if !ok {
			t.Fatalf("selection has no parameters for %s (scores %+v)", name, sel.Scores)
		}
		if name == "ses" || name == "holt-damped" {
			// A direct fit of the same model on the same window.
			m := ETS{Trend: NoTrend, Robust: true}
			if name == "holt-damped" {
				m.Trend = DampedTrend
			}
			want, _, err := m.FitParams(ps.Values[fitN-1200 : fitN])
			if err != nil {
				t.Fatal(err)
			}
			if got != withPhi(want, m) {
				t.Errorf("%s: selection recorded %+v, a direct fit gives %+v", name, got, want)
			}
		}
	}
	if _, ok := sel.SmoothingParams("fourier"); ok {
		t.Error("fourier has no smoothing parameters")
	}
	// Through the log transform: log-ses records the parameters of its
	// ETS on the log scale.
	lopt := opt
	lopt.Model = "log-ses"
	lf, err := Auto(s, lopt)
	if err != nil {
		t.Fatal(err)
	}
	lp, ok := lf.SmoothingParams("log-ses")
	lw, _, err := ETS{Robust: true}.FitParams(logValues(ps.Values[fitN-1200:fitN], 0))
	if err != nil || !ok || lp != withPhi(lw, ETS{}) {
		t.Errorf("log-ses recorded %+v (%v), a direct fit on the logs gives %+v (%v)", lp, ok, lw, err)
	}

	// A refit of ses seeded by the selection: close to a cold refit.
	ropt := opt
	ropt.Model = "ses"
	s2 := synthSeriesOf(synth(9*288, false, 1)) // the same series, a day on
	cold, err := Auto(s2, ropt)
	if err != nil {
		t.Fatal(err)
	}
	ropt.Warm = sel
	warm, err := Auto(s2, ropt)
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := cold.SmoothingParams("ses")
	pw, ok := warm.SmoothingParams("ses")
	if !ok || math.Abs(pc.Alpha-pw.Alpha) > 0.01 {
		t.Errorf("warm refit α %v, cold %v", pw.Alpha, pc.Alpha)
	}
	// holt-damped was not refitted: not reported, but carried as a seed.
	if _, ok := warm.SmoothingParams("holt-damped"); ok {
		t.Error("a refit of ses reports holt-damped parameters it did not fit")
	}
	if sf := warm.smoothing["holt-damped"]; sf.params != sel.smoothing["holt-damped"].params || sf.fitted {
		t.Errorf("holt-damped seed not carried forward: %+v", sf)
	}

	// Seeding: by name, and only at the same seasonal period.
	hw, _ := sel.SmoothingParams("holt-winters")
	hopt := opt
	hopt.Model = "holt-winters"
	hopt.Warm = sel
	for _, tc := range []struct {
		seas   []time.Duration
		seeded bool
	}{{[]time.Duration{24 * time.Hour}, true}, {[]time.Duration{12 * time.Hour}, false}} {
		f := &Forecast{Seasonality: Periods(s.Values[:fitN], s.Step, tc.seas), BasePeriod: 288}
		cands, err := candidates("holt-winters", f, s.Step, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		seedCandidates(cands, sel)
		init := cands[0].model.(ETS).Init
		if (init != nil) != tc.seeded || init != nil && *init != hw {
			t.Errorf("period %v: holt-winters seeded with %v, want seeded %v with %+v", tc.seas, init, tc.seeded, hw)
		}
	}
	cands, err := candidates("log-stl", &Forecast{Seasonality: []Seasonality{{Steps: 288}}, BasePeriod: 288}, s.Step, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	warmLog := &Forecast{smoothing: map[string]smoothingFit{"log-stl": {period: 288, params: ETSParams{Alpha: 0.2, Phi: 1}}}}
	seedCandidates(cands, warmLog)
	if init := cands[0].model.(Log).Model.(STLETS).Init; init == nil || init.Alpha != 0.2 {
		t.Errorf("log-stl seed not passed to the STL's smoothing: %v", init)
	}
}

// TestETSWarmOnTraces: on the shipped traces' 5-minute series, a refit
// seeded with the fit of a day earlier (as the simulator's are) costs at
// most half the evaluations of a cold search in all, and ends within 1 %
// of the cold search's (Huber) loss in nine fits out of ten (the searches are
// local: either may end in a better basin than the other).
func TestETSWarmOnTraces(t *testing.T) {
	files := []struct{ f, c string }{
		{"dctraces-azure_v2-vm_cpu_readings_month_aggregated_cpu_mem.csv", "cpu_usage_core_weighted"},
		{"dctraces-google2019-instance_usage_grouped_300_seconds_month.csv", "memory_normalized"},
		{"nab-realAWSCloudwatch-ec2_cpu_utilization_24ae8d.csv", ""},
		{"nab-realAWSCloudwatch-elb_request_count_8c0756.csv", ""},
		{"nab-realAWSCloudwatch-grok_asg_anomaly.csv", ""},
		{"nab-realAWSCloudwatch-rds_cpu_utilization_cc0c53.csv", ""},
		{"nab-realKnownCause-ec2_request_latency_system_failure.csv", ""},
		{"nab-realTweets-Twitter_volume_GOOG.csv", ""},
	}
	var coldEvals, warmEvals, fits, close int
	for _, fc := range files {
		s := loadTraceColumn(t, fc.f, fc.c)
		ps, _, err := Prepare(s, 288, 3*288)
		if err != nil {
			t.Fatal(err)
		}
		y := ps.Values
		for _, end := range []int{2400, 3600} {
			for _, m := range []ETS{{Robust: true}, {Trend: DampedTrend, Robust: true}, {Trend: DampedTrend, Period: 288, Robust: true}} {
				win, prevWin := y[end-1200:end], y[end-288-1200:end-288]
				prev, _, _, err := m.search(prevWin, false, m.searchConfig())
				if err != nil {
					t.Fatal(err)
				}
				pc, _, ce, err := m.search(win, false, m.searchConfig())
				if err != nil {
					t.Fatal(err)
				}
				wm := m
				wm.Init = &prev
				pw, _, we, err := wm.search(win, false, wm.searchConfig())
				if err != nil {
					t.Fatal(err)
				}
				coldLoss, warmLoss := huberLoss(m, win, pc), huberLoss(m, win, pw)
				coldEvals += ce
				warmEvals += we
				fits++
				if warmLoss <= coldLoss*1.01 {
					close++
				}
			}
		}
	}
	t.Logf("%d fits: %d evaluations cold, %d warm; warm within 1 %% of cold in %d", fits, coldEvals, warmEvals, close)
	if warmEvals*2 > coldEvals {
		t.Errorf("warm searches spent %d evaluations, cold %d: more than half", warmEvals, coldEvals)
	}
	if close*10 < fits*9 {
		t.Errorf("warm loss within 1 %% of cold in %d of %d fits, want nine in ten", close, fits)
	}
}

// huberLoss is the objective the robust search minimises at p.
func huberLoss(m ETS, y []float64, p ETSParams) float64 {
	st, err := m.start(y)
	if err != nil {
		panic(err)
	}
	return m.loss(y, st, p, huberDelta(y), m.newState(st, p))
}
