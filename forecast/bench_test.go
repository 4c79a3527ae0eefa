package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkAuto4032 fits, selects and forecasts one two-week series at five
// minutes (4,032 points) with a daily cycle: the size the README's speed
// target names.
func BenchmarkAuto4032(b *testing.B) {
	s := loadTraceColumn(b, "nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv", "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Auto(s, Options{Horizon: 24}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAutoSeasonal4032 is the same on a series with a strong daily cycle
// (the seasonal candidates are fitted too): the last 4,032 points of the Azure
// VM CPU trace.
func BenchmarkAutoSeasonal4032(b *testing.B) {
	s := loadTraceColumn(b, "dctraces-azure_v2-vm_cpu_readings_month_aggregated_cpu_mem.csv", "cpu_usage_core_weighted")
	s.Values = s.Values[len(s.Values)-4032:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Auto(s, Options{Horizon: 24}); err != nil {
			b.Fatal(err)
		}
	}
}

// The simulator's sizes: it fits each workload's history at 5-minute steps,
// up to 15 days (4,320 points), refitting the chosen model daily or hourly and
// advancing the fitted model on every new bucket in between. synth is such a
// history: a daily cycle (and a weekly one when weekly is set), noise and a
// burst every 500 steps, so the robust passes have something to do.
func synth(n int, weekly bool, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 11))
	y := make([]float64, n)
	for t := range y {
		d := float64(t) / 288
		v := 10 + 4*math.Sin(2*math.Pi*d) + 0.5*rng.NormFloat64()
		if weekly {
			v += 2 * math.Cos(2*math.Pi*d/7)
		}
		if t%500 == 250 {
			v += 15
		}
		y[t] = v
	}
	return y
}

func synthSeries(n int, weekly bool) Series { return synthSeriesOf(synth(n, weekly, 1)) }

func synthSeriesOf(y []float64) Series {
	return Series{Name: "synth", Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Step: 5 * time.Minute, Values: y}
}

// BenchmarkFourierFit is one fit of the Fourier regression at the simulator's
// sizes: daily harmonics only (18 regressors) and daily with weekly (34).
func BenchmarkFourierFit(b *testing.B) {
	for _, bc := range []struct {
		name    string
		periods []int
		weekly  bool
	}{{"daily", []int{288}, false}, {"daily+weekly", []int{288, 2016}, true}} {
		y := synth(4096, bc.weekly, 1)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (Fourier{Periods: bc.periods, Trend: true}).Fit(y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkETSFit is one smoothing-parameter search (Nelder–Mead on the last
// 1,200 points, as Auto's candidates do) and filter pass over 4,096 points:
// cold (from the defaults) and warm (ETS.Init at the parameters fitted a day
// of 288 points earlier, as the simulator's refits start). evals/op is the
// search's loss evaluations.
func BenchmarkETSFit(b *testing.B) {
	y := synth(4096, false, 1)
	for _, m := range []ETS{
		{Trend: NoTrend, Robust: true, FitWindow: 1200},
		{Trend: DampedTrend, Robust: true, FitWindow: 1200},
		{Trend: DampedTrend, Period: 288, Robust: true, FitWindow: 1200},
	} {
		prev, _, err := m.FitParams(y[len(y)-288-1200 : len(y)-288])
		if err != nil {
			b.Fatal(err)
		}
		warm := m
		warm.Init = &prev
		for _, v := range []struct {
			name string
			m    ETS
		}{{m.Name(), m}, {m.Name() + "/warm", warm}} {
			b.Run(v.name, func(b *testing.B) {
				_, _, evals, err := v.m.search(y[len(y)-1200:], false, v.m.searchConfig())
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.m.Fit(y); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(evals), "evals/op")
			})
		}
	}
}

// BenchmarkSTLETSFit is one robust STL decomposition and ETS fit of the
// adjusted series over 4,096 points with a daily period.
func BenchmarkSTLETSFit(b *testing.B) {
	y := synth(4096, false, 1)
	m := STLETS{Period: 288, Trend: NoTrend, STL: STLOptions{Robust: true, Outer: 2}, FitWindow: 1200}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Fit(y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAutoSelect is the simulator's weekly full selection on 4,096
// points; BenchmarkAutoRefit its daily refit of one chosen model, whose
// quantiles are calibrated on the last day.
func BenchmarkAutoSelect(b *testing.B) {
	s := synthSeries(4096, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Auto(s, Options{Horizon: 3, Quantiles: []float64{0.95}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAutoRefit(b *testing.B) {
	s := synthSeries(4096, true)
	for _, model := range []string{"fourier", "fourier-trend", "holt-winters", "stl", "ses"} {
		b.Run(model, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Auto(s, Options{Horizon: 3, Quantiles: []float64{0.95}, Model: model, Validation: 288}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Warm: seeded by the refit a day earlier (Options.Warm), as the
	// simulator's refits are.
	prev := synthSeries(4096-288, true)
	for _, model := range []string{"holt-winters", "stl", "ses"} {
		warm, err := Auto(prev, Options{Horizon: 3, Quantiles: []float64{0.95}, Model: model, Validation: 288})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(model+"/warm", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Auto(s, Options{Horizon: 3, Quantiles: []float64{0.95}, Model: model, Validation: 288, Warm: warm}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdvance is one step of the simulator's planner between refits:
// one new observation, then the 3-step forecast from the new end.
func BenchmarkAdvance(b *testing.B) {
	benchStep(b, func(f *Forecast, v float64) (*Forecast, error) { return f.Advance(v) })
}

// BenchmarkUpdate is BenchmarkAdvance in place (Forecast.Update).
func BenchmarkUpdate(b *testing.B) {
	benchStep(b, func(f *Forecast, v float64) (*Forecast, error) { return f, f.Update(v) })
}

// benchStep fits each model on 4,096 points and times step, which moves
// the forecast on by one observation (of the next day's, in turn).
func benchStep(b *testing.B, step func(f *Forecast, v float64) (*Forecast, error)) {
	s := synthSeries(4096+288, true)
	for _, model := range []string{"fourier", "holt-winters", "stl", "auto"} {
		b.Run(model, func(b *testing.B) {
			hist := s
			hist.Values = s.Values[:4096]
			f, err := Auto(hist, Options{Horizon: 3, Quantiles: []float64{0.95}, Model: model})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if f, err = step(f, s.Values[4096+i%288]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
