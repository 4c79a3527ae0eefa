package simulator

import (
	"math"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/headroom-dev/headroom/forecast"
)

// dayErrors backtests every workload's CPU demand day by day over the run
// and returns, for each day with a forecast, the sum over workloads of the
// mean error of the day-ahead forecast (actual − forecast mean, cores).
//
// Each workload's demand is seen as the predictive planner sees it (bucket
// maxima at the planner's interval); forecast.Auto is fitted once on the
// history before the first origin (the run's start, or a day later when
// less than a day of history precedes it), forecasts a day, and is advanced
// over each day's actual values in turn (forecast.Advance: no refit), so
// every error is out of sample. Workloads run in parallel; the sums are
// taken in workload order, so the result does not depend on the machine.
func dayErrors(in *Input, demand [][]float64, start time.Time, days int, maxHistory func(time.Duration) int) []float64 {
	const day = 24 * time.Hour
	per := make([][]float64, len(in.Workloads)) // per workload: mean error per day (NaN: none)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range in.Workloads {
		w := &in.Workloads[i]
		if len(w.Demand.Values) == 0 || w.Spec.Request.CPU <= 0 || days < 1 {
			continue
		}
		g.Go(func() error {
			per[i] = backtestDays(newView(w.Demand, demand[i], in.interval()), start, days, in.Seasonality, maxHistory)
			return nil
		})
	}
	g.Wait()
	var out []float64
	for d := range days {
		sum, any := 0.0, false
		for _, e := range per {
			if e != nil && !math.IsNaN(e[d]) {
				sum, any = sum+e[d], true
			}
		}
		if any {
			out = append(out, sum)
		}
	}
	return out
}

// backtestDays is one view's mean day-ahead forecast error for each of the
// run's days (NaN: no forecast or no actual value that day).
func backtestDays(v *fview, start time.Time, days int, seasonality []time.Duration, maxHistory func(time.Duration) int) []float64 {
	const day = 24 * time.Hour
	out := make([]float64, days)
	for d := range out {
		out[d] = math.NaN()
	}
	if day%v.step != 0 {
		return out
	}
	perDay := int(day / v.step)
	// bucket is the index of the bucket starting at t (may be out of range).
	bucket := func(t time.Time) int { return int(math.Floor(float64(t.Sub(v.start)) / float64(v.step))) }
	d0 := 0
	if bucket(start) < perDay {
		d0 = 1
	}
	origin := bucket(start.Add(time.Duration(d0) * day))
	if origin < 8 || origin > len(v.vals) {
		return out
	}
	f, err := forecast.Auto(forecast.Series{Name: v.name, Start: v.start, Step: v.step, Values: v.vals[:origin]},
		forecast.Options{Horizon: perDay, Quantiles: []float64{0.5}, MaxHistory: maxHistory(v.step), Seasonality: seasonality})
	if err != nil {
		return out
	}
	for d := d0; d < days; d++ {
		from := origin + (d-d0)*perDay
		to := min(from+perDay, len(v.vals))
		if from >= to {
			break
		}
		sum, n := 0.0, 0
		for k := from; k < to; k++ {
			if x := v.vals[k]; !math.IsNaN(x) {
				sum += x - f.Mean[k-from]
				n++
			}
		}
		if n > 0 {
			out[d] = sum / float64(n)
		}
		if f, err = f.Advance(v.vals[from:to]...); err != nil {
			break
		}
	}
	return out
}
