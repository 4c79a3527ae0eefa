package forecast

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// EvalOptions configure Evaluate. Zero values are documented per field.
type EvalOptions struct {
	Horizon int     // steps per forecast; 0 means 24
	Origins int     // forecast origins; 0 means 20
	Level   float64 // quantile level whose coverage is scored; 0 means 0.95
	// MaxHistory is passed to Auto (0: Auto's default).
	MaxHistory int
	// Seasonality is passed to Auto at every origin, with Options.Seasonality's
	// meaning: nil detects the periods on each origin's history, an empty
	// non-nil slice means no seasonality (no seasonal candidate is fitted or
	// scored), a list uses those periods where they fit. Backtests of a plan's
	// workloads pass the plan's spec.forecast.seasonality, so that they score
	// the models the plan's forecasts choose from.
	Seasonality []time.Duration
}

// ModelScore is one model's out-of-sample accuracy on one series.
type ModelScore struct {
	Model    string
	MASE     float64 // mean over origins of MAE / in-sample seasonal-naive MAE
	SMAPE    float64 // percent
	Coverage float64 // share of outcomes at or below the Level quantile
	Points   int     // forecast points scored
}

// SeriesEval is the rolling-origin evaluation of one series.
type SeriesEval struct {
	Name       string
	N          int
	Step       time.Duration
	BasePeriod int
	Origins    int
	Horizon    int
	Auto       ModelScore            // the automatic choice
	Baseline   ModelScore            // seasonal naive with BasePeriod (naive when 1)
	Models     map[string]ModelScore // every candidate model
	Chosen     map[string]int        // how often auto chose each model
	RelMASE    float64               // Auto.MASE / Baseline.MASE
}

// Evaluate backtests Auto and every candidate model on s by rolling origin:
// Origins forecast origins evenly spaced over the last quarter of the series
// (keeping at least two base periods and 32 points of history before the
// first); at each, the models see only the history before the origin (Auto
// selects, fits and calibrates on it alone) and forecast Horizon steps, which
// are scored against what followed. Missing actual values are skipped.
func Evaluate(s Series, opt EvalOptions) (*SeriesEval, error) {
	h := opt.Horizon
	if h == 0 {
		h = 24
	}
	k := opt.Origins
	if k == 0 {
		k = 20
	}
	level := opt.Level
	if level == 0 {
		level = 0.95
	}
	n := len(s.Values)
	m0 := BasePeriod(s.Step, n)
	oMin := max(3*n/4, 2*m0+h, 32)
	oMax := n - h
	if oMax < oMin {
		return nil, fmt.Errorf("%w: %q has %d points; a backtest with horizon %d needs at least %d", ErrInsufficientData, s.Name, n, h, oMin+h)
	}
	var origins []int
	for i := 0; i < k; i++ {
		o := oMin
		if k > 1 {
			o = oMin + i*(oMax-oMin)/(k-1)
		}
		if len(origins) == 0 || o != origins[len(origins)-1] {
			origins = append(origins, o)
		}
	}
	res := &SeriesEval{Name: s.Name, N: n, Step: s.Step, BasePeriod: m0, Origins: len(origins), Horizon: h,
		Models: map[string]ModelScore{}, Chosen: map[string]int{}}
	type acc struct {
		mase, smape   float64
		hit, pts, org int
	}
	accs := map[string]*acc{}
	add := func(name string, y, f, q []float64, scale float64) {
		a := accs[name]
		if a == nil {
			a = &acc{}
			accs[name] = a
		}
		var ys, fs, qs []float64
		for i := range y {
			if !math.IsNaN(y[i]) {
				ys, fs, qs = append(ys, y[i]), append(fs, f[i]), append(qs, q[i])
			}
		}
		if len(ys) == 0 {
			return
		}
		a.mase += MAE(ys, fs) / scale
		a.smape += SMAPE(ys, fs)
		a.org++
		for i := range ys {
			if ys[i] <= qs[i] {
				a.hit++
			}
		}
		a.pts += len(ys)
	}
	baseName := "snaive"
	for _, o := range origins {
		train := Series{Name: s.Name, Start: s.Start, Step: s.Step, Values: s.Values[:o]}
		f, err := Auto(train, Options{Horizon: h, Quantiles: []float64{level}, KeepCandidates: true, MaxHistory: opt.MaxHistory, Seasonality: opt.Seasonality})
		if err != nil {
			return nil, fmt.Errorf("origin %d of %q: %w", o, s.Name, err)
		}
		// The forecast starts one step after the last real training sample;
		// align it with the actual values that follow.
		off := int(f.Start.Sub(s.Time(o)) / s.Step)
		if off < 0 || off+h > n {
			continue
		}
		actual := s.Values[off : off+h]
		if off != o {
			actual = s.Values[o : o+h]
		}
		// MASE scale over the history Auto used.
		hist := s.Values[:o]
		ps, _, err := Prepare(Series{Step: s.Step, Values: hist}, 0, 0)
		if err != nil {
			continue
		}
		tail := ps.Values[max(0, len(ps.Values)-f.Used):]
		scale := MASEScale(tail, m0)
		add("auto", actual, f.Mean, f.Quantile(level), scale)
		res.Chosen[f.Model]++
		if f.BasePeriod <= 1 {
			baseName = "naive"
		}
		for name, c := range f.Candidates {
			add(name, actual, c.Mean, c.Quantile(level), scale)
		}
		b := f.Candidates["snaive"]
		if b == nil {
			b = f.Candidates["naive"]
		}
		add("baseline", actual, b.Mean, b.Quantile(level), scale)
	}
	score := func(name string) ModelScore {
		a := accs[name]
		if a == nil || a.org == 0 {
			return ModelScore{Model: name, MASE: math.NaN(), SMAPE: math.NaN(), Coverage: math.NaN()}
		}
		return ModelScore{Model: name, MASE: a.mase / float64(a.org), SMAPE: a.smape / float64(a.org),
			Coverage: float64(a.hit) / float64(a.pts), Points: a.pts}
	}
	for name := range accs {
		if name != "auto" && name != "baseline" {
			res.Models[name] = score(name)
		}
	}
	res.Auto = score("auto")
	res.Baseline = score("baseline")
	res.Baseline.Model = baseName
	res.RelMASE = res.Auto.MASE / res.Baseline.MASE
	if res.Baseline.MASE == 0 {
		res.RelMASE = 1
		if res.Auto.MASE > 0 {
			res.RelMASE = math.Inf(1)
		}
	}
	return res, nil
}

// GeoMean returns the geometric mean of the positive finite values of x.
func GeoMean(x []float64) float64 {
	var s float64
	n := 0
	for _, v := range x {
		if v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
			s += math.Log(v)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return math.Exp(s / float64(n))
}

// SortedModels returns the model names of e in a stable order.
func (e *SeriesEval) SortedModels() []string {
	names := make([]string, 0, len(e.Models))
	for n := range e.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
