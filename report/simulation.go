package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/simulator"
)

// Simulation is the what-if part of a report made from a simulation.
type Simulation struct {
	Scenario        string       `json:"scenario,omitempty"`
	Start           time.Time    `json:"start"`
	End             time.Time    `json:"end"`
	IntervalSeconds float64      `json:"interval_seconds"`
	RefitSeconds    float64      `json:"refit_seconds"`
	Seed            uint64       `json:"seed"`
	MonthlyBudget   float64      `json:"monthly_budget"`
	Primary         string       `json:"primary"` // the policy the findings are about
	Policies        []SimPolicy  `json:"policies"`
	Failures        []SimFailure `json:"failures"`

	charts []*Chart
}

// SimPolicy is one policy's row of the side-by-side table.
type SimPolicy struct {
	Name                string     `json:"name"`
	Cost                float64    `json:"cost"`
	MonthlyCost         float64    `json:"monthly_cost"`
	NodeHours           float64    `json:"node_hours"`
	UnmetCoreMinutes    float64    `json:"unmet_core_minutes"`
	TimeShort           float64    `json:"time_short"`
	WasteCoreHours      float64    `json:"waste_core_hours"`
	P95Utilization      float64    `json:"p95_utilization"`
	Actions             int        `json:"actions"`
	WorstShortfallCores float64    `json:"worst_shortfall_cores"`
	WorstShortfallAt    *time.Time `json:"worst_shortfall_at"`
	PendingPodMinutes   float64    `json:"pending_pod_minutes"`
	// The monthly cost band (resampled days) and whether its p90 is over
	// the budget; NaN when the simulation had no band.
	BudgetP10  Num  `json:"budget_p10"`
	BudgetP50  Num  `json:"budget_p50"`
	BudgetP90  Num  `json:"budget_p90"`
	OverBudget bool `json:"over_budget_p90"`
}

// SimFailure is what one scenario failure cost one policy.
type SimFailure struct {
	Policy           string    `json:"policy"`
	What             string    `json:"what"`
	At               time.Time `json:"at"`
	RecoverySeconds  float64   `json:"recovery_seconds"` // -1: not within the run
	UnmetCoreMinutes float64   `json:"unmet_core_minutes"`
}

// Thresholds of the simulation's findings.
const (
	// SimShortWarn is the share of time short of demand above which the
	// primary policy gets a warning (and a critical finding above 5×).
	SimShortWarn = 0.05
)

// FromSimulation makes a report from a simulation result. The findings are
// about the primary policy (predictive when it ran, else the first): its
// shortfalls, budget and recoveries, and the plan's single points of
// failure (a minimum of one replica, a pool in one zone).
func FromSimulation(res *simulator.Result, opt Options) (*Report, error) {
	if res == nil || res.SchemaVersion != simulator.SchemaVersion {
		v := 0
		if res != nil {
			v = res.SchemaVersion
		}
		return nil, fmt.Errorf("%w: simulation result schemaVersion %d, want %d", ErrInvalid, v, simulator.SchemaVersion)
	}
	if len(res.Policies) == 0 || len(res.Series.Policies) != len(res.Policies) {
		return nil, fmt.Errorf("%w: simulation result has no policies (or no series for them)", ErrInvalid)
	}
	ser := &res.Series
	for i, d := range ser.Demand {
		if len(d.Values) != len(ser.Times) {
			return nil, fmt.Errorf("%w: simulation result: series.demand_cores[%d] has %d values for %d times", ErrInvalid, i, len(d.Values), len(ser.Times))
		}
	}
	if len(ser.Demand) != len(res.Workloads) {
		return nil, fmt.Errorf("%w: simulation result: %d demand series for %d workloads", ErrInvalid, len(ser.Demand), len(res.Workloads))
	}
	for i, ps := range ser.Policies {
		if len(ps.CapacityCores) != len(ser.Times) || len(ps.Ready) != len(res.Workloads) || len(ps.Nodes) != len(res.Pools) {
			return nil, fmt.Errorf("%w: simulation result: series.policies[%d] (%s) does not match the times, workloads and pools", ErrInvalid, i, ps.Name)
		}
	}
	o := opt.withDefaults()
	primary := 0
	for i, p := range res.Policies {
		if p.Name == simulator.Predictive {
			primary = i
		}
	}
	title := o.Title
	if title == "" {
		title = "Capacity review: " + res.Plan + " (simulation)"
	}
	r := &Report{SchemaVersion: SchemaVersion, Title: title, Plan: res.Plan, Source: SourceSimulation,
		GeneratedAt: o.Now.UTC(), AsOf: res.End.UTC(), From: res.Start.UTC(), Workloads: []Workload{}, Pools: []Pool{}, Quotas: []Quota{}, Findings: []Finding{}, Warnings: []string{}}
	sim := &Simulation{Scenario: res.Scenario, Start: res.Start.UTC(), End: res.End.UTC(), IntervalSeconds: res.IntervalSeconds,
		RefitSeconds: res.RefitSeconds, Seed: res.Seed, MonthlyBudget: res.MonthlyBudget, Primary: res.Policies[primary].Name, Failures: []SimFailure{}}
	for _, p := range res.Policies {
		sp := SimPolicy{Name: p.Name, Cost: p.Cost, MonthlyCost: p.MonthlyCost, NodeHours: p.NodeHours, UnmetCoreMinutes: p.UnmetCoreMinutes,
			TimeShort: p.TimeShort, WasteCoreHours: p.WasteCoreHours, P95Utilization: p.P95Utilization, Actions: p.Actions,
			WorstShortfallCores: p.WorstShortfallCores, WorstShortfallAt: utcPtr(p.WorstShortfallAt), PendingPodMinutes: p.PendingPodMinutes,
			BudgetP10: nan, BudgetP50: nan, BudgetP90: nan}
		if b := p.Budget; b != nil {
			sp.BudgetP10, sp.BudgetP50, sp.BudgetP90, sp.OverBudget = Num(b.P10), Num(b.P50), Num(b.P90), b.OverP90
		}
		sim.Policies = append(sim.Policies, sp)
		for _, f := range p.Failures {
			sim.Failures = append(sim.Failures, SimFailure{Policy: p.Name, What: f.What, At: f.At.UTC(), RecoverySeconds: f.RecoverySeconds, UnmetCoreMinutes: f.UnmetCoreMinutes})
		}
	}
	r.Simulation = sim

	// Summary: averages over the run under the primary policy.
	pp, ps := &res.Policies[primary], &ser.Policies[primary]
	r.Summary = Summary{NodeGroups: []NodeGroup{}, Versions: []VersionCount{}, MonthlyCost: pp.MonthlyCost, PlannedMonthlyCost: pp.MonthlyCost, MonthlyBudget: res.MonthlyBudget,
		CPU: Totals{Requested: nan, Used: nan, Allocatable: nan}, Memory: Totals{Requested: nan, Used: nan, Allocatable: nan}}
	if n := len(ser.Times); n > 0 {
		var used, req, alloc float64
		for k := range n {
			for i, w := range res.Workloads {
				used += ser.Demand[i].Values[k]
				req += ps.Ready[i].Values[k] * w.RequestCPU
			}
			for j, p := range res.Pools {
				alloc += ps.Nodes[j].Values[k] * p.MachineCPU
			}
		}
		r.Summary.CPU = Totals{Requested: Num(req / float64(n)), Used: Num(used / float64(n)), Allocatable: Num(alloc / float64(n))}
	}

	// Per workload: demand against each policy's capacity.
	for i, w := range res.Workloads {
		d := ser.Demand[i].Values
		rw := Workload{Target: w.Target, Mode: w.Mode, Pool: w.Pool, Pods: -1, Ready: -1, RequestCPU: Num(w.RequestCPU), RequestMemory: nan,
			UsageCPU: nan, UsageCPUP95: Num(p95(d)), UsageMemory: nan}
		if len(d) > 0 {
			rw.UsageCPU = Num(d[len(d)-1])
		}
		for _, p := range res.Policies {
			x := p.Workloads[i]
			rw.Simulated = append(rw.Simulated, SimWorkload{Policy: p.Name, UnmetCoreMinutes: x.UnmetCoreMinutes, TimeShort: x.TimeShort,
				WasteCoreHours: x.WasteCoreHours, PeakReplicas: x.PeakReplicas, Actions: x.Actions})
		}
		if i < o.MaxCharts {
			c := &Chart{Title: w.Target, YLabel: "cores", Lines: []Line{{Name: "demand", Times: ser.Times, Values: d}}}
			for j, p := range ser.Policies {
				capy := make([]float64, len(ser.Times))
				for k := range capy {
					capy[k] = p.Ready[i].Values[k] * w.RequestCPU * w.UtilizationCPU
				}
				c.Lines = append(c.Lines, Line{Name: p.Name + " capacity", Times: ser.Times, Values: capy, Color: j + 1, Dashed: true})
			}
			rw.chart = c
		}
		r.Workloads = append(r.Workloads, rw)
		if w.Min <= 1 {
			r.Findings = append(r.Findings, Finding{Warning, KindOneReplica, w.Target, fmt.Sprintf("the plan allows a single replica (minimum %d): at quiet times one pod failure takes it down", w.Min)})
		}
		if x := pp.Workloads[i]; x.TimeShort > SimShortWarn {
			sev := Warning
			if x.TimeShort > 5*SimShortWarn {
				sev = Critical
			}
			r.Findings = append(r.Findings, Finding{sev, KindShort, w.Target, fmt.Sprintf("under %s, short of demand %.1f%% of the time (%s core-minutes unmet)", pp.Name, 100*x.TimeShort, fmtF(x.UnmetCoreMinutes))})
		}
	}

	// Per pool: nodes under each policy.
	for j, p := range res.Pools {
		nodes := ps.Nodes[j].Values
		rp := Pool{Name: p.Name, Zones: p.Zones, Headroom: p.Headroom, Min: p.Min, Max: p.Max, Price: p.PricePerHour, Ready: -1, ZonesUsed: p.Zones,
			AllocatableCPU: nan, CapacityMaxCPU: Num(float64(p.Max) * p.MachineCPU), DemandCPU: nan, ForecastPeakCPU: nan, RunwayDays: nan,
			CapacityMaxMemory: Num(float64(p.Max) * p.MachineMemory), DemandMemory: nan, ForecastPeakMemory: nan}
		if len(nodes) > 0 {
			rp.Nodes = int(nodes[len(nodes)-1])
			rp.AllocatableCPU = Num(nodes[len(nodes)-1] * p.MachineCPU)
		}
		rp.MonthlyCostNow = float64(rp.Nodes) * p.PricePerHour * hoursPerMonth
		for _, pr := range res.Policies {
			x := pr.Pools[j]
			rp.Simulated = append(rp.Simulated, SimPool{Policy: pr.Name, NodeHours: x.NodeHours, Cost: x.Cost, PeakNodes: x.PeakNodes, Actions: x.Actions})
		}
		rp.PeakNodes = pp.Pools[j].PeakNodes
		rp.MonthlyCostPeak = float64(rp.PeakNodes) * p.PricePerHour * hoursPerMonth
		c := &Chart{Title: "pool " + p.Name + ": nodes", YLabel: "nodes", Limits: []Limit{{Name: fmt.Sprintf("max %d", p.Max), Value: float64(p.Max)}}}
		for k, sp := range ser.Policies {
			c.Lines = append(c.Lines, Line{Name: sp.Name, Times: ser.Times, Values: sp.Nodes[j].Values, Color: k})
		}
		rp.chart = c
		r.Pools = append(r.Pools, rp)
		if p.Zones == 1 {
			r.Findings = append(r.Findings, Finding{Warning, KindPoolOneZone, p.Name, "the pool has one zone: a zone outage takes it down"})
		}
		if rp.PeakNodes >= p.Max && p.Max > 0 {
			r.Findings = append(r.Findings, Finding{Warning, KindNoRoom, p.Name, fmt.Sprintf("under %s the pool reached its maximum of %d nodes: no room left to grow", pp.Name, p.Max)})
		}
	}

	// Simulation charts: demand against capacity per policy, and cost.
	total := make([]float64, len(ser.Times))
	for _, d := range ser.Demand {
		for k, v := range d.Values {
			total[k] += v
		}
	}
	for j, sp := range ser.Policies {
		sim.charts = append(sim.charts, &Chart{Title: sp.Name + ": demand and capacity", YLabel: "cores", Lines: []Line{
			{Name: "demand", Times: ser.Times, Values: total},
			{Name: "capacity", Times: ser.Times, Values: sp.CapacityCores, Color: j + 1},
			{Name: "unmet", Times: ser.Times, Values: sp.UnmetCores, Color: 1, Dashed: true},
		}})
	}
	cost := &Chart{Title: "cost per hour", YLabel: "per hour"}
	for j, sp := range ser.Policies {
		cost.Lines = append(cost.Lines, Line{Name: sp.Name, Times: ser.Times, Values: sp.CostPerHour, Color: j})
	}
	sim.charts = append(sim.charts, cost)

	sp := sim.Policies[primary]
	if sp.TimeShort > SimShortWarn {
		sev := Warning
		if sp.TimeShort > 5*SimShortWarn {
			sev = Critical
		}
		r.Findings = append(r.Findings, Finding{sev, KindShort, "policy " + sp.Name, fmt.Sprintf("short of demand %.1f%% of the time, %s core-minutes unmet in all", 100*sp.TimeShort, fmtF(sp.UnmetCoreMinutes))})
	}
	if sp.OverBudget {
		r.Findings = append(r.Findings, Finding{Critical, KindBudget, "policy " + sp.Name, fmt.Sprintf("p90 monthly cost %.2f is over the budget of %.2f", float64(sp.BudgetP90), res.MonthlyBudget)})
	}
	for _, f := range sim.Failures {
		if f.Policy == sp.Name && f.RecoverySeconds < 0 {
			r.Findings = append(r.Findings, Finding{Critical, KindNoRecovery, "policy " + sp.Name, fmt.Sprintf("did not recover within the run from: %s (at %s)", f.What, f.At.Format(time.RFC3339))})
		}
	}
	sortFindings(r.Findings)
	return r, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// p95 is the nearest-rank 95th percentile of the finite values (NaN: none).
func p95(v []float64) float64 {
	x := make([]float64, 0, len(v))
	for _, f := range v {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			x = append(x, f)
		}
	}
	if len(x) == 0 {
		return math.NaN()
	}
	slices.Sort(x)
	return x[min(len(x)-1, int(math.Ceil(0.95*float64(len(x))))-1)]
}

// LoadSimulation reads a simulation result (headroom simulate -o json).
func LoadSimulation(path string) (*simulator.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res simulator.Result
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&res); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrInvalid, path, line, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			line := 1 + bytes.Count(b[:min(int(te.Offset), len(b))], []byte("\n"))
			return nil, fmt.Errorf("%w: %s:%d: field %s: %v", ErrInvalid, path, line, te.Field, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	if res.SchemaVersion != simulator.SchemaVersion {
		return nil, fmt.Errorf("%w: %s: schemaVersion %d, want %d (a headroom simulate -o json result)", ErrInvalid, path, res.SchemaVersion, simulator.SchemaVersion)
	}
	return &res, nil
}
