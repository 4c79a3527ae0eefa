package config

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/headroom-dev/headroom/policy"
)

func cores(q *resource.Quantity) float64 {
	if q == nil {
		return 0
	}
	return float64(q.MilliValue()) / 1000
}

func byteCount(q *resource.Quantity) float64 {
	if q == nil {
		return 0
	}
	return q.AsApproximateFloat64()
}

// PolicyWorkload converts spec.workloads[i] of a defaulted, valid plan into
// the policy package's plain-number spec.
func (p *Plan) PolicyWorkload(i int) (*policy.Workload, error) {
	w := &p.Spec.Workloads[i]
	path := fmt.Sprintf("spec.workloads[%d]", i)
	mode, err := policy.ParseMode(w.Mode)
	if err != nil {
		return nil, &FieldError{File: p.file, Line: p.Line(path + ".mode"), Path: path + ".mode", Msg: err.Error()}
	}
	out := &policy.Workload{
		Target:         policy.Target{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name},
		Mode:           mode,
		Utilization:    policy.Resources{CPU: w.Utilization.CPU, Memory: w.Utilization.Memory},
		Min:            *w.Replicas.Min,
		Max:            w.Replicas.Max,
		LeadTime:       w.LeadTime.Duration,
		LeadTimeSource: policy.LeadTimePlan,
		Interval:       p.Spec.Interval.Duration,
		Quantile:       p.Spec.Forecast.Quantile,
		Tolerance:      *w.Tolerance,
		MaxAge:         p.Spec.History.MaxAge.Duration,
	}
	if w.LeadTime.Auto {
		out.LeadTimeSource = policy.LeadTimeDefault // until the planner finds measured start-ups
	}
	if out.Tolerance == 0 {
		out.Tolerance = -1 // policy: 0 means the default, negative means none
	}
	if w.Resources != nil {
		out.Request = policy.Resources{CPU: cores(w.Resources.CPU), Memory: byteCount(w.Resources.Memory)}
	}
	if w.Behavior != nil {
		out.Behavior.ScaleUp = rules(w.Behavior.ScaleUp)
		out.Behavior.ScaleDown = rules(w.Behavior.ScaleDown)
	}
	for j, win := range w.Windows {
		sched, err := cron.ParseStandard(win.Cron)
		if err != nil {
			wp := fmt.Sprintf("%s.windows[%d].cron", path, j)
			return nil, &FieldError{File: p.file, Line: p.Line(wp), Path: wp, Msg: err.Error()}
		}
		pw := policy.Window{Name: win.Name, Schedule: sched, Duration: win.Duration.Duration}
		if pw.Name == "" {
			pw.Name = fmt.Sprintf("windows[%d]", j)
		}
		if win.MinReplicas != nil {
			pw.MinReplicas = *win.MinReplicas
		}
		if win.MaxReplicas != nil {
			pw.MaxReplicas = *win.MaxReplicas
		}
		out.Windows = append(out.Windows, pw)
	}
	return out, nil
}

func rules(r *ScalingRules) *policy.ScalingRules {
	if r == nil {
		return nil
	}
	out := &policy.ScalingRules{}
	switch r.SelectPolicy {
	case "Min":
		out.Select = policy.SelectMin
	case "Disabled":
		out.Select = policy.SelectDisabled
	}
	if r.Tolerance != nil {
		t := *r.Tolerance
		if t == 0 {
			t = -1 // policy: nil means the workload's tolerance, negative means none
		}
		out.Tolerance = &t
	}
	if r.StabilizationWindow != nil {
		d := r.StabilizationWindow.Duration
		out.StabilizationWindow = &d
	}
	if r.Policies != nil {
		out.Policies = []policy.ScalingPolicy{}
	}
	for _, pol := range r.Policies {
		t := policy.PodsPolicy
		if pol.Type == "Percent" {
			t = policy.PercentPolicy
		}
		out.Policies = append(out.Policies, policy.ScalingPolicy{Type: t, Value: pol.Value, Period: pol.Period.Duration})
	}
	return out
}

// PolicyPools converts spec.nodePools of a defaulted, valid plan.
func (p *Plan) PolicyPools() ([]policy.Pool, error) {
	out := make([]policy.Pool, 0, len(p.Spec.NodePools))
	for i, np := range p.Spec.NodePools {
		h, err := policy.ParseHeadroom(np.Headroom)
		if err != nil {
			path := fmt.Sprintf("spec.nodePools[%d].headroom", i)
			return nil, &FieldError{File: p.file, Line: p.Line(path), Path: path, Msg: err.Error()}
		}
		pool := policy.Pool{
			Name:         np.Name,
			Machine:      policy.Resources{CPU: cores(np.Machine.CPU), Memory: byteCount(np.Machine.Memory)},
			Pods:         np.Machine.Pods,
			PricePerHour: np.Machine.PricePerHour,
			Min:          np.Size.Min,
			Max:          np.Size.Max,
			Zones:        np.Zones,
			Headroom:     h,
			LeadTime:     np.LeadTime.Duration,
		}
		if np.Overhead != nil {
			pool.Overhead = policy.Resources{CPU: cores(np.Overhead.CPU), Memory: byteCount(np.Overhead.Memory)}
		}
		out = append(out, pool)
	}
	return out, nil
}

// MonthlyBudget returns the monthly budget, 0 when none.
func (p *Plan) MonthlyBudget() float64 {
	if p.Spec.Budget == nil {
		return 0
	}
	return p.Spec.Budget.Monthly
}

// Horizon is the forecast horizon a workload needs: the plan's horizon, or
// its lead time plus the run interval when that is longer.
func (p *Plan) Horizon(i int) time.Duration {
	w := &p.Spec.Workloads[i]
	return max(p.Spec.Forecast.Horizon.Duration, w.LeadTime.Duration+p.Spec.Interval.Duration)
}

// SeasonalPeriods is spec.forecast.seasonality for forecast.Options.Seasonality:
// nil when the plan leaves the periods to detection.
func (p *Plan) SeasonalPeriods() []time.Duration {
	if p.Spec.Forecast.Seasonality == nil {
		return nil
	}
	out := make([]time.Duration, len(p.Spec.Forecast.Seasonality))
	for i, d := range p.Spec.Forecast.Seasonality {
		out[i] = d.Duration
	}
	return out
}
