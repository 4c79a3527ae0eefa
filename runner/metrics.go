package runner

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

// Metrics are the numbers a run exports (served by headroom serve on
// /metrics, pushed by headroom run to a Pushgateway).
type Metrics struct {
	Cycles             *prometheus.CounterVec // result: ok, failed, invalid, skipped
	Decisions          *prometheus.CounterVec // rule, outcome
	ActuationFailures  *prometheus.CounterVec // kind (replicas, pool-size)
	LastSuccess        prometheus.Gauge       // unix seconds
	RunwayDays         *prometheus.GaugeVec   // pool
	UnmetDemand        *prometheus.GaugeVec   // target
	ForecastError      *prometheus.GaugeVec   // target (MASE of the CPU forecast's backtest)
	ConvergenceFailure *prometheus.GaugeVec   // target: 1 when the previous run's decision did not converge
	QuotaShortfall     *prometheus.GaugeVec   // target, quota, resource: what the planned scale-up needs beyond what the quota has left
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_cycles_total",
			Help: "Run cycles by result: ok (every target handled), failed (some targets or the collection failed), invalid (the plan), skipped (another run held the lease)."}, []string{"result"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_decisions_total",
			Help: "Decisions by the rule that set them and what was done (scaled, unchanged, held, recommended, refused, failed)."}, []string{"rule", "outcome"}),
		ActuationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "headroom_actuation_failures_total",
			Help: "Changes the actuator could not make, by kind (replicas, pool-size)."}, []string{"kind"}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "headroom_last_success_timestamp_seconds",
			Help: "When the last cycle that handled every target ended (Unix seconds)."}),
		RunwayDays: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "headroom_runway_days",
			Help: "Days until the pool's requested CPU reaches its maximum size at the workloads' CPU trend (+Inf when not growing)."}, []string{"pool"}),
		UnmetDemand: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "headroom_unmet_demand_forecast_cores",
			Help: "Forecast CPU demand (planned quantile, over lead time + interval) beyond the requests of the desired replicas."}, []string{"target"}),
		ForecastError: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "headroom_forecast_error_mase",
			Help: "Backtest MASE of each workload's CPU forecast (below 1: better than seasonal naive)."}, []string{"target"}),
		ConvergenceFailure: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "headroom_not_converged",
			Help: "1 for a workload whose previous decision had not converged at this run."}, []string{"target"}),
		QuotaShortfall: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "headroom_quota_shortfall",
			Help: "What the workload's planned scale-up needs of a ResourceQuota's resource (requests.cpu in cores, requests.memory in bytes, pods) beyond what the quota has left at this run: the API server will refuse the pods beyond it. The scale is not capped."}, []string{"target", "quota", "resource"}),
	}
	if reg != nil {
		reg.MustRegister(m.Cycles, m.Decisions, m.ActuationFailures, m.LastSuccess, m.RunwayDays, m.UnmetDemand, m.ForecastError, m.ConvergenceFailure, m.QuotaShortfall)
	}
	return m
}

// UnmetCPU is the forecast CPU demand beyond what the desired replicas
// request: max(0, DemandCPU − Desired × Request.CPU), in cores; 0 without a
// forecast.
func UnmetCPU(d policy.Decision) float64 {
	n := d.Numbers
	if n.ForecastReplicas < 0 || n.DemandCPU <= 0 || n.Request.CPU <= 0 {
		return 0
	}
	return max(0, n.DemandCPU-float64(d.Desired)*n.Request.CPU)
}

// TrendPerDay is the least-squares slope of a series' finite values, in
// units per day; NaN with fewer than two.
//
//	slope = Σ (t − t̄)(v − v̄) / Σ (t − t̄)²
func TrendPerDay(s *forecast.Series) float64 {
	if s == nil {
		return math.NaN()
	}
	var n, st, sv float64
	for i, v := range s.Values {
		if !math.IsNaN(v) {
			n, st, sv = n+1, st+float64(i), sv+v
		}
	}
	if n < 2 {
		return math.NaN()
	}
	tm, vm := st/n, sv/n
	var num, den float64
	for i, v := range s.Values {
		if !math.IsNaN(v) {
			num += (float64(i) - tm) * (v - vm)
			den += (float64(i) - tm) * (float64(i) - tm)
		}
	}
	perStep := num / den
	return perStep * float64(24*60*60*1e9) / float64(s.Step)
}

// Runway is the days until requested CPU reaches capacity at growth cores
// of request per day: (capacity − requested) / growth; 0 when requested
// already reaches capacity, +Inf when growth is not positive.
func Runway(capacity, requested, growth float64) float64 {
	switch {
	case requested >= capacity:
		return 0
	case !(growth > 0):
		return math.Inf(1)
	}
	return (capacity - requested) / growth
}

// PoolRunways computes each pool's runway: capacity is the pool's maximum
// size × (machine − overhead) CPU, requested the planned pods' CPU requests
// (PoolResult.Requested), growth the sum over the pool's workloads of their
// CPU usage trend divided by their CPU utilization target (usage growth in
// request terms). A workload counts in the pool it is pinned to, else in the
// pool the planner put most of its pods in.
func PoolRunways(p *config.Plan, planned []*Planned, pp *policy.PoolPlan, trend map[policy.Target]float64) map[string]float64 {
	if pp == nil {
		return nil
	}
	pools, err := p.PolicyPools()
	if err != nil {
		return nil
	}
	// The groups PlanPools built, in its order (skipped workloads excluded).
	var groups []*Planned
	for _, w := range planned {
		if w != nil && w.Skipped == "" {
			groups = append(groups, w)
		}
	}
	podsIn := make([]map[string]int, len(groups))
	for _, r := range pp.Pools {
		for _, nf := range r.NodeFills {
			for _, g := range nf.Groups {
				if g.Group < len(groups) {
					if podsIn[g.Group] == nil {
						podsIn[g.Group] = map[string]int{}
					}
					podsIn[g.Group][r.Name] += g.Pods
				}
			}
		}
	}
	growth := map[string]float64{}
	for gi, w := range groups {
		pool := w.Pool
		if pool == "" {
			best := 0
			for name, n := range podsIn[gi] {
				if n > best || n == best && name < pool {
					pool, best = name, n
				}
			}
		}
		g := trend[w.Workload.Target]
		if pool == "" || math.IsNaN(g) || w.Workload.Utilization.CPU <= 0 {
			continue
		}
		growth[pool] += g / w.Workload.Utilization.CPU
	}
	out := map[string]float64{}
	for _, r := range pp.Pools {
		for _, cp := range pools {
			if cp.Name == r.Name {
				capacity := float64(cp.Max) * (cp.Machine.CPU - cp.Overhead.CPU)
				out[r.Name] = Runway(capacity, r.Requested.CPU, growth[r.Name])
			}
		}
	}
	return out
}
