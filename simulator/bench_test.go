package simulator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

// monthOfExample is the shipped example plan with each workload's demand
// replaced by 30 days of 5-minute data at the level of its own trace (a
// daily and weekly cycle with noise, fixed seed): the example's traces
// span 14 to 214 days at 5 and 30 minutes, so their overlap is 12 days.
func monthOfExample(tb testing.TB) *Input {
	tb.Helper()
	p, err := config.LoadFile("../testdata/plans/example.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	in, err := FromPlan(p, nil)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const n = 30 * 288
	for i := range in.Workloads {
		w := &in.Workloads[i]
		mean, cnt := 0.0, 0
		for _, v := range w.Demand.Values {
			if !math.IsNaN(v) {
				mean += v
				cnt++
			}
		}
		mean /= float64(max(cnt, 1))
		rng := rand.New(rand.NewPCG(uint64(i)+1, 42))
		v := make([]float64, n)
		for k := range v {
			day := float64(k%288) / 288
			wd := (k / 288) % 7
			weekly := 1.0
			if wd >= 5 {
				weekly = 0.7
			}
			v[k] = max(0, mean*weekly*(1+0.4*math.Sin(2*math.Pi*(day-0.3)))*(1+0.08*rng.NormFloat64()))
		}
		w.Demand = forecast.Series{Name: w.Demand.Name, Start: start, Step: 5 * time.Minute, Values: v}
		w.Memory = forecast.Series{} // CPU only: the trace's memory covers another month
	}
	return in
}

// BenchmarkMonthExample: a month of 5-minute data for the example plan's 6
// workloads and 2 pools, all four policies (predictive refits hourly).
func BenchmarkMonthExample(b *testing.B) {
	in := monthOfExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMonthExampleBaselines: the same without the predictive policy
// (what the virtual cluster and the baselines cost).
func BenchmarkMonthExampleBaselines(b *testing.B) {
	in := monthOfExample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), in, Options{Policies: []string{Reactive, Static, Scheduled}}); err != nil {
			b.Fatal(err)
		}
	}
}

// scaleInput is n workloads of a week of 1-minute data on two pools.
func scaleInput(n int, days int) *Input {
	in := &Input{Name: "scale", Interval: 5 * time.Minute, Pools: []policy.Pool{
		{Name: "a", Machine: policy.Resources{CPU: 16, Memory: 64 << 30}, Pods: 110, PricePerHour: 0.8, Max: 2000, Zones: 3, Headroom: policy.HeadroomZone, LeadTime: 4 * time.Minute},
		{Name: "b", Machine: policy.Resources{CPU: 8, Memory: 64 << 30}, Pods: 110, PricePerHour: 0.5, Max: 2000, Zones: 2, Headroom: policy.HeadroomNPlus1, LeadTime: 4 * time.Minute},
	}}
	step := time.Minute
	for i := range n {
		level := 1 + float64(i%17)
		w := workload(fmt.Sprintf("w%04d", i), 0.7, time.Duration(30+i%90)*time.Second, 1, 200, 0, step, wave(uint64(i)+1, level, step, days*24*60))
		w.Spec.Request.Memory = float64(256<<20) * float64(1+i%4)
		w.Spec.Utilization.Memory = 0.8
		in.Workloads = append(in.Workloads, w)
	}
	return in
}

// BenchmarkScaleBaselines: 100 workloads, 7 days of 1-minute data, the
// reactive, static and scheduled policies on two pools.
func BenchmarkScaleBaselines(b *testing.B) {
	in := scaleInput(100, 7)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), in, Options{Policies: []string{Reactive, Static, Scheduled}}); err != nil {
			b.Fatal(err)
		}
	}
}

// The size: 1,000 workloads over 30 days of 1-minute data,
// replanning every 5 minutes, all four policies, 1-minute ticks (the HPA
// syncs every tick), forecasts refit daily and reselected weekly (advanced
// on every new sample in between). BenchmarkScale1000 runs it whole;
// BenchmarkScale100 runs a tenth of the workloads (every cost but the
// per-run setup is linear in them) for make bench.
func benchScale(b *testing.B, n int) {
	in := scaleInput(n, 30)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := Run(context.Background(), in, Options{Tick: time.Minute, Refit: 24 * time.Hour, Reselect: 7 * 24 * time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e9, "cpu-s/op")
}

func BenchmarkScale100(b *testing.B) { benchScale(b, 100) }

func BenchmarkScale1000(b *testing.B) {
	if os.Getenv("HEADROOM_BENCH_FULL") == "" {
		b.Skip("the full size takes minutes of CPU: set HEADROOM_BENCH_FULL=1 (BenchmarkScale100 is a tenth of it)")
	}
	benchScale(b, 1000)
}

// BenchmarkPlanPools1000: one policy.PlanPools of the predictive
// planner at the size (the pods of scaleInput(1000) at the demand
// of its first sample, the pools' headroom, no budget): the planner calls
// it on every run whose planned pods changed, 8,640 times a month.
func BenchmarkPlanPools1000(b *testing.B) {
	in := scaleInput(1000, 1)
	groups := make([]policy.PodGroup, len(in.Workloads))
	for i := range in.Workloads {
		w := &in.Workloads[i]
		groups[i] = policy.PodGroup{Target: w.Spec.Target, Request: w.Spec.Request, Replicas: int(needed(&w.Spec, 0, w.Demand.Values[0])) + 1, Pool: w.Pool}
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := policy.PlanPools(in.Pools, groups, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the process's CPU time (user + system) in nanoseconds: the
// honest figure on a shared, loaded machine, where wall time is not.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
