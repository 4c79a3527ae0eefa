package runner

import (
	"fmt"
	"math"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

// Inputs is what one workload's plan step needs besides the plan: the
// demand history on a regular grid (CPU cores, memory bytes; nil when there
// is none) and the policy input without its Demand (which PlanWorkload
// forecasts from the series).
type Inputs struct {
	CPU, Memory *forecast.Series
	Input       policy.Input
	// Warnings about the inputs (a trace's gaps, missing series), shown with the decision.
	Warnings []string
}

// Planned is one workload's forecast and decision.
type Planned struct {
	Index    int // in spec.workloads
	Workload *policy.Workload
	Decision policy.Decision
	// Model and MASE are the CPU forecast's chosen model and its backtest
	// error (NaN without a forecast).
	Model string
	MASE  float64
	// Pods is the planned pod count the node pools must hold.
	Pods int
	Pool string
	// Skipped says why the workload was not planned ("" when it was).
	Skipped string
	// Advice is the rightsizing advice (headroom plan only).
	Advice *policy.Advice
	// Input is what the policy decided from (with the forecast demand), so a
	// caller can re-decide on a changed current count (a conflict's re-plan).
	Input policy.Input `json:"-"`
	// Trims are the leaner plans a budget may choose (policy.Trims);
	// PlanPools swaps one in when the budget takes it.
	Trims []policy.Trim `json:"-"`
}

// PlanWorkload forecasts spec.workloads[i]'s demand from in.CPU and
// in.Memory at the plan's quantile and decides its replicas with
// policy.Replicas. A forecast that fails leaves the decision to the
// reactive floor (or a hold), with the error among the warnings.
func PlanWorkload(p *config.Plan, i int, w *policy.Workload, in Inputs) *Planned {
	cw := &p.Spec.Workloads[i]
	out := &Planned{Index: i, Workload: w, Pool: cw.NodePool, MASE: math.NaN()}
	warnings := append([]string(nil), in.Warnings...)
	pin := in.Input
	q := p.Spec.Forecast.Quantile
	// The median too, for the budget's trims (policy.Trims).
	opt := forecast.Options{Quantiles: []float64{q, 0.5}, Model: p.Spec.Forecast.Model, Seasonality: p.SeasonalPeriods()}
	var median *policy.Demand
	// The plan's horizon, or as far as the decision and the node pools look when that is further (a
	// measured lead time, leadTime: auto, can be longer than the plan's).
	horizon := max(p.Horizon(i), max(w.LeadTime, NodeLead(p, cw.NodePool))+p.Spec.Interval.Duration)
	steps := func(s *forecast.Series) int { return max(1, int((horizon+s.Step-1)/s.Step)) }
	if cpu := in.CPU; cpu != nil {
		opt.Horizon = steps(cpu)
		f, err := forecast.Auto(*cpu, opt)
		if err != nil {
			warnings = append(warnings, "cpu forecast: "+err.Error())
		} else {
			pin.Demand = &policy.Demand{Start: f.Start, Step: f.Step, CPU: f.Quantile(q)}
			median = &policy.Demand{Start: f.Start, Step: f.Step, CPU: f.Quantile(0.5)}
			out.Model, out.MASE = f.Model, f.Backtest.MASE
		}
	}
	if mem := in.Memory; mem != nil {
		opt.Horizon = steps(mem)
		fm, err := forecast.Auto(*mem, opt)
		switch {
		case err != nil:
			warnings = append(warnings, "memory forecast: "+err.Error())
		case pin.Demand == nil:
			pin.Demand = &policy.Demand{Start: fm.Start, Step: fm.Step, Memory: fm.Quantile(q)}
			median = &policy.Demand{Start: fm.Start, Step: fm.Step, Memory: fm.Quantile(0.5)}
		case fm.Start.Equal(pin.Demand.Start) && fm.Step == pin.Demand.Step:
			pin.Demand.Memory = fm.Quantile(q)
			median.Memory = fm.Quantile(0.5)
		default:
			warnings = append(warnings, "memory forecast is on another grid than CPU: not used")
		}
	}
	d := policy.Replicas(w, pin)
	d.Warnings = append(warnings, d.Warnings...)
	out.Decision, out.Input = d, pin
	if d.Rule != policy.RuleHold {
		out.Trims = policy.Trims(w, pin, median, NodeLead(p, cw.NodePool))
	}
	switch w.Mode {
	case policy.ModeScale:
		out.Pods = int(d.Desired)
	case policy.ModeHPAFloor:
		out.Pods = int(max(d.Desired, pin.Current))
	default:
		out.Pods = int(pin.Current)
	}
	if w.Mode != policy.ModeRecommend && d.Rule != policy.RuleHold {
		// Nodes take longer than pods: plan them for the forecast that far ahead.
		out.Pods = int(policy.PodsAhead(w, pin.Demand, pin.Now, NodeLead(p, cw.NodePool), int32(out.Pods)))
	}
	return out
}

// PlanPools plans the plan's node pools for the planned workloads (skipped
// ones excluded); nil when the plan has no pools.
func PlanPools(p *config.Plan, planned []*Planned) (*policy.PoolPlan, error) {
	pools, err := p.PolicyPools()
	if err != nil || len(pools) == 0 {
		return nil, err
	}
	groups := make([]policy.PodGroup, 0, len(planned))
	members := make([]*Planned, 0, len(planned))
	for _, w := range planned {
		if w == nil || w.Skipped != "" {
			continue
		}
		floor := w.Pods
		if n := w.Decision.Numbers; w.Workload.Mode == policy.ModeScale && w.Decision.Rule != policy.RuleHold {
			floor = int(max(n.Min, n.ReactiveReplicas))
		}
		g := policy.PodGroup{Target: w.Workload.Target, Request: w.Workload.Request, Replicas: w.Pods, Floor: max(1, floor), Pool: w.Pool}
		for _, t := range w.Trims {
			g.Leaner = append(g.Leaner, t.Pods)
		}
		groups = append(groups, g)
		members = append(members, w)
	}
	pp, err := policy.PlanPools(pools, groups, p.MonthlyBudget())
	if err != nil {
		return nil, err
	}
	// A budget that trimmed forecast headroom plans the workloads it cut at their leaner decision, loudly.
	if b := pp.Budget; b != nil && b.LeanSteps > 0 {
		for g, w := range members {
			if pp.Replicas[g] >= w.Pods || len(w.Trims) < b.LeanSteps {
				continue
			}
			t := w.Trims[b.LeanSteps-1]
			d := t.Decision
			d.Warnings = append(append([]string{}, d.Warnings...), fmt.Sprintf("BUDGET: planned %d pods instead of %d (%s; the forecast at q%g wanted %d replicas)",
				pp.Replicas[g], w.Pods, t.Step, w.Decision.Numbers.Quantile, w.Decision.Desired))
			w.Decision, w.Pods = d, pp.Replicas[g]
			w.Workload, w.Input = t.Workload, t.Input // a re-plan keeps the trim
		}
	}
	return pp, nil
}

// NodeLead is the provisioning time of the named pool, or the longest of
// all pools when pool is "" (the planner chooses).
func NodeLead(p *config.Plan, pool string) time.Duration {
	var lead time.Duration
	for _, np := range p.Spec.NodePools {
		if pool == "" || np.Name == pool {
			lead = max(lead, np.LeadTime.Duration)
		}
	}
	return lead
}
