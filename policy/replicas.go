package policy

import (
	"fmt"
	"math"
	"time"
)

// Where a Workload's LeadTime came from (Workload.LeadTimeSource).
const (
	LeadTimePlan    = "plan"
	LeadTimeDefault = "auto: the default (no measured start-ups)"
)

// Defaults used when a Workload field is zero.
const (
	DefaultTolerance = 0.1
	DefaultMaxAge    = 10 * time.Minute
	DefaultInterval  = 5 * time.Minute
)

// Workload is the planning spec of one workload.
type Workload struct {
	Target Target
	Mode   Mode
	// Request is the per-replica request; a zero resource is not planned on.
	Request Resources
	// Utilization is the target utilization of each resource, in (0, 1].
	Utilization Resources
	// Min and Max bound the replicas (Max ≥ Min ≥ 0, Max ≥ 1).
	Min, Max int32
	// LeadTime is the pod start-up time; Interval is how often the planner
	// runs (0 means DefaultInterval). Demand is planned over
	// [now, now + LeadTime + Interval].
	LeadTime, Interval time.Duration
	// LeadTimeSource says where LeadTime came from, for the record
	// (LeadTimePlan, LeadTimeDefault, or a measurement's description).
	LeadTimeSource string
	// Quantile is the forecast level of the Demand given (for the record).
	Quantile float64
	// Tolerance of the reactive floor; 0 means DefaultTolerance, negative
	// means none. Behavior.ScaleUp.Tolerance and ScaleDown.Tolerance
	// override it per direction.
	Tolerance float64
	// MaxAge is the age beyond which data is stale; 0 means DefaultMaxAge.
	MaxAge   time.Duration
	Behavior Behavior
	Windows  []Window
}

// Demand is a forecast of the workload's total demand at the planned
// quantile: the value at Start + k·Step. The last observed sample was at
// Start − Step. A nil resource slice is not forecast.
type Demand struct {
	Start       time.Time
	Step        time.Duration
	CPU, Memory []float64 // cores, bytes
}

// Usage is the workload's current usage, as the HPA sees it.
type Usage struct {
	Time time.Time
	// CPU and Memory are the total usage of the Reporting pods.
	CPU, Memory float64
	// Reporting counts ready pods with metrics, Missing pods without metrics,
	// Unready pods not yet ready.
	Reporting, Missing, Unready int32
}

// Input is the state of one workload at now.
type Input struct {
	Now time.Time
	// Current is the replica count now (spec.replicas).
	Current int32
	// CurrentMin is the HPA's minReplicas now (hpa-floor mode only).
	CurrentMin int32
	Demand     *Demand // nil: no forecast
	Usage      *Usage  // nil: no usage
	History    History
}

// EffectiveTolerance is the reactive floor's tolerance after defaults:
// DefaultTolerance for 0, none for a negative value.
func (w *Workload) EffectiveTolerance() float64 {
	switch {
	case w.Tolerance == 0:
		return DefaultTolerance
	case w.Tolerance < 0:
		return 0
	}
	return w.Tolerance
}

// EffectiveTolerances are the reactive floor's tolerances per direction,
// as the HPA's behavior.scaleUp.tolerance and scaleDown.tolerance
// (Kubernetes 1.33+): a direction's Tolerance when set (negative: none),
// else EffectiveTolerance. Usage within [1 − down, 1 + up] × target keeps
// the count.
func (w *Workload) EffectiveTolerances() (up, down float64) {
	up, down = w.EffectiveTolerance(), w.EffectiveTolerance()
	if r := w.Behavior.ScaleUp; r != nil && r.Tolerance != nil {
		up = max(*r.Tolerance, 0)
	}
	if r := w.Behavior.ScaleDown; r != nil && r.Tolerance != nil {
		down = max(*r.Tolerance, 0)
	}
	return up, down
}

func (w *Workload) maxAge() time.Duration {
	if w.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return w.MaxAge
}

func (w *Workload) interval() time.Duration {
	if w.Interval <= 0 {
		return DefaultInterval
	}
	return w.Interval
}

// Validate checks the spec; Replicas panics on nothing but reports an
// invalid spec as a hold with a warning, so check at load time.
func (w *Workload) Validate() error {
	switch {
	case w.Min < 0 || w.Max < 1 || w.Max < w.Min:
		return fmt.Errorf("%w: %s: replicas [%d, %d]", ErrInvalidInput, w.Target, w.Min, w.Max)
	case w.Request.CPU < 0 || w.Request.Memory < 0 || w.Request.CPU == 0 && w.Request.Memory == 0:
		return fmt.Errorf("%w: %s: request %+v", ErrInvalidInput, w.Target, w.Request)
	case w.Request.CPU > 0 && !(w.Utilization.CPU > 0 && w.Utilization.CPU <= 1),
		w.Request.Memory > 0 && !(w.Utilization.Memory > 0 && w.Utilization.Memory <= 1):
		return fmt.Errorf("%w: %s: utilization %+v", ErrInvalidInput, w.Target, w.Utilization)
	case w.Mode < ModeScale || w.Mode > ModeRecommend:
		return fmt.Errorf("%w: %s: mode %d", ErrInvalidInput, w.Target, w.Mode)
	}
	up, down := w.Behavior.Complete()
	if err := up.Validate(); err != nil {
		return err
	}
	return down.Validate()
}

// ceilReplicas is ceil(x) with a relative tolerance, so 6.0000000001 needs 6.
func ceilReplicas(x float64) int32 {
	if !(x > 0) {
		return 0
	}
	if x > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(math.Ceil(x - 1e-9*max(1, x)))
}

// peak returns the largest value of v at times in [from, to] (or the first
// point after from when none falls inside), and whether one exists.
func (d *Demand) peak(v []float64, from, to time.Time) (float64, bool) {
	if v == nil || d.Step <= 0 {
		return 0, false
	}
	best, ok := math.Inf(-1), false
	for k, x := range v {
		t := d.Start.Add(time.Duration(k) * d.Step)
		if t.Before(from) || math.IsNaN(x) {
			continue
		}
		if t.After(to) && ok {
			break
		}
		best, ok = max(best, x), true
		if t.After(to) {
			break
		}
	}
	return best, ok
}

// ForecastReplicas is max over resources of
//
//	ceil(peak quantile demand in [now, now + lead time + interval] / (request × utilization))
//
// with the peaks it used; n is -1 when no resource has a forecast in the window.
func ForecastReplicas(w *Workload, d *Demand, now time.Time) (n int32, cpu, mem float64) {
	n = -1
	if d == nil {
		return n, 0, 0
	}
	to := now.Add(w.LeadTime + w.interval())
	if w.Request.CPU > 0 {
		if p, ok := d.peak(d.CPU, now, to); ok {
			cpu = max(p, 0)
			n = max(n, ceilReplicas(cpu/(w.Request.CPU*w.Utilization.CPU)))
		}
	}
	if w.Request.Memory > 0 {
		if p, ok := d.peak(d.Memory, now, to); ok {
			mem = max(p, 0)
			n = max(n, ceilReplicas(mem/(w.Request.Memory*w.Utilization.Memory)))
		}
	}
	return n, cpu, mem
}

// ReactiveReplicas is the HPA's replica calculation for a resource
// utilization target (replica_calculator.go GetResourceReplicas), on totals:
// the utilization is the whole percentage usage × 100 / requests of the
// reporting pods (truncated, in millicores for CPU), the usage ratio is that
// over the target percentage, and within the tolerance the count stays.
// Missing pods count as using their full request (or the target, when above
// 100%) on a scale-down and nothing on a scale-up; unready pods count as
// using nothing on a scale-up; when that flips the direction or lands within
// the tolerance, the count stays. It returns the replicas and the raw ratio,
// or -1 when no pod reports.
func ReactiveReplicas(current, reporting, missing, unready int32, usage, request, target, tolerance float64, milli bool) (int32, float64) {
	return ReactiveReplicasWithin(current, reporting, missing, unready, usage, request, target, tolerance, tolerance, milli)
}

// ReactiveReplicasWithin is ReactiveReplicas with the HPA's separate
// tolerances (Kubernetes 1.33+ behavior.scaleUp.tolerance and
// scaleDown.tolerance, replica_calculator.go's tolerances.isWithin): a ratio
// in [1 − down, 1 + up] keeps the count.
func ReactiveReplicasWithin(current, reporting, missing, unready int32, usage, request, target, up, down float64, milli bool) (int32, float64) {
	if reporting <= 0 || request <= 0 || target <= 0 {
		return -1, 0
	}
	unit := 1.0
	if milli {
		unit = 1000
	}
	targetPct := int64(math.Round(target * 100))
	reqPod := int64(math.Round(request * unit))
	if reqPod <= 0 || targetPct <= 0 {
		return -1, 0
	}
	ratioOf := func(total int64, pods int32) float64 {
		util := total * 100 / (reqPod * int64(pods))
		return float64(util) / float64(targetPct)
	}
	within := func(r float64) bool { return 1-down <= r && r <= 1+up }
	used := int64(math.Round(usage * unit))
	ratio := ratioOf(used, reporting)
	upUnready := unready > 0 && ratio > 1
	if !upUnready && missing == 0 {
		if within(ratio) {
			return current, ratio
		}
		return int32(math.Ceil(ratio * float64(reporting))), ratio
	}
	total, pods := used, reporting
	if missing > 0 {
		switch {
		case ratio < 1:
			total += int64(missing) * reqPod * max(100, targetPct) / 100
			pods += missing
		case ratio > 1:
			pods += missing
		}
	}
	if upUnready {
		pods += unready
	}
	nr := ratioOf(total, pods)
	if within(nr) || (ratio < 1 && nr > 1) || (ratio > 1 && nr < 1) {
		return current, ratio
	}
	n := int32(math.Ceil(nr * float64(pods)))
	if (nr < 1 && n > current) || (nr > 1 && n < current) {
		return current, ratio
	}
	return n, ratio
}

// Replicas decides the replica count (or, in hpa-floor mode, the HPA's
// minReplicas) of one workload at in.Now:
//
//  1. bounds: [Min, Max] with the scheduled windows (Bounds: minimums from
//     lead time before a window opens, maximums while it is open);
//  2. forecast: ForecastReplicas over [now, now + lead time + interval];
//  3. reactive floor: ReactiveReplicas on current usage, max over resources;
//     the recommendation is the larger of 2 and 3 (hpa-floor: the forecast
//     alone, since the HPA itself reacts);
//  4. the HPA's stabilization windows and rate limits (Normalize), so a
//     forecast raises capacity ahead of demand but lowers it only as fast as
//     the scale-down rules allow, then the bounds.
//
// Missing or stale data (older than MaxAge) holds the current count, with the
// reason, unless the count is outside the bounds (the HPA, too, applies its
// bounds without metrics). The result is always within the bounds.
func Replicas(w *Workload, in Input) Decision {
	now := in.Now
	d := Decision{Target: w.Target, Mode: w.Mode, Time: now, Current: in.Current, Apply: w.Mode != ModeRecommend}
	if w.Mode == ModeHPAFloor {
		d.Current = in.CurrentMin
	}
	window := w.LeadTime + w.interval()
	nb := &d.Numbers
	nb.Quantile, nb.LeadTime, nb.Window, nb.LeadTimeSource = w.Quantile, w.LeadTime, window, w.LeadTimeSource
	nb.Request, nb.Utilization = w.Request, w.Utilization
	nb.ForecastReplicas, nb.ReactiveReplicas, nb.ScaleUpLimit, nb.ScaleDownLimit = -1, -1, -1, -1
	if err := w.Validate(); err != nil {
		d.Desired, d.Recommendation, d.Rule, d.Apply = d.Current, d.Current, RuleHold, false
		d.Warnings = append(d.Warnings, err.Error())
		return d
	}
	// Windows look as far ahead as the demand does: a window opening before
	// the next run plus the start-up time must be provisioned by this run.
	lo, hi, active, winLo, winHi := Bounds(w.Windows, now, window, w.Min, w.Max)
	nb.Min, nb.Max, nb.Windows = lo, hi, active
	boundRule := func(r Rule) Rule {
		if r == RuleMin && winLo || r == RuleMax && winHi {
			return RuleWindow
		}
		return r
	}

	// Data freshness.
	age := w.maxAge()
	demand, usage := in.Demand, in.Usage
	if demand != nil {
		last := demand.Start.Add(-demand.Step)
		if now.Sub(last) > age {
			d.Warnings = append(d.Warnings, fmt.Sprintf("forecast stale: last sample %s, %v before now (max age %v)", last.UTC().Format(time.RFC3339), now.Sub(last), age))
			demand = nil
		}
	}
	if usage != nil && now.Sub(usage.Time) > age {
		d.Warnings = append(d.Warnings, fmt.Sprintf("usage stale: observed %s, %v before now (max age %v)", usage.Time.UTC().Format(time.RFC3339), now.Sub(usage.Time), age))
		usage = nil
	}

	fc, cpu, mem := ForecastReplicas(w, demand, now)
	nb.ForecastReplicas, nb.DemandCPU, nb.DemandMem = fc, cpu, mem
	if demand != nil && fc < 0 {
		d.Warnings = append(d.Warnings, "forecast has no point in the demand window")
	}
	rf := int32(-1)
	if usage != nil {
		up, down := w.EffectiveTolerances()
		if w.Request.CPU > 0 {
			n, r := ReactiveReplicasWithin(in.Current, usage.Reporting, usage.Missing, usage.Unready, usage.CPU, w.Request.CPU, w.Utilization.CPU, up, down, true)
			if n > rf {
				rf, nb.UsageRatio = n, r
			}
		}
		if w.Request.Memory > 0 {
			n, r := ReactiveReplicasWithin(in.Current, usage.Reporting, usage.Missing, usage.Unready, usage.Memory, w.Request.Memory, w.Utilization.Memory, up, down, false)
			if n > rf {
				rf, nb.UsageRatio = n, r
			}
		}
		if rf < 0 {
			d.Warnings = append(d.Warnings, "no pod reports usage")
		}
	}
	nb.ReactiveReplicas = rf

	var raw int32
	var rule Rule
	switch {
	case w.Mode == ModeHPAFloor && fc >= 0:
		raw, rule = fc, RuleForecast
	case w.Mode != ModeHPAFloor && (fc >= 0 || rf >= 0):
		raw, rule = fc, RuleForecast
		if rf > fc {
			raw, rule = rf, RuleReactiveFloor
		}
		if fc < 0 {
			d.Warnings = append(d.Warnings, "no forecast: reactive floor only")
		} else if rf < 0 && w.Mode != ModeHPAFloor {
			d.Warnings = append(d.Warnings, "no current usage: no reactive floor")
		}
	default:
		return hold(d, lo, hi, boundRule)
	}
	d.Recommendation = raw

	cur := d.Current
	if w.Mode == ModeHPAFloor {
		// The floor follows the stabilization windows, not the rate limits:
		// the HPA applies its own rate limits to the replicas, and it raises
		// replicas to a raised minimum at once.
		up, down := w.Behavior.Complete()
		st := Stabilize(now, cur, raw, up, down, in.History.Recommendations)
		nb.Stabilized = st
		out := st
		if st != raw {
			rule = RuleStabilization
		}
		if out < lo {
			out, rule = lo, boundRule(RuleMin)
		}
		if out > hi {
			out, rule = hi, boundRule(RuleMax)
		}
		d.Desired, d.Rule = out, rule
	} else {
		n := Normalize(now, cur, raw, lo, hi, w.Behavior, in.History)
		nb.Stabilized, nb.ScaleUpLimit, nb.ScaleDownLimit = n.Stabilized, n.UpLimit, n.DownLimit
		if n.Rule != RuleUnknown {
			rule = boundRule(n.Rule)
		}
		d.Desired, d.Rule = n.Replicas, rule
	}
	return d
}

func hold(d Decision, lo, hi int32, boundRule func(Rule) Rule) Decision {
	d.Recommendation = d.Current
	d.Numbers.Stabilized = d.Current
	switch {
	case d.Current < lo:
		d.Desired, d.Rule = lo, boundRule(RuleMin)
	case d.Current > hi:
		d.Desired, d.Rule = hi, boundRule(RuleMax)
	default:
		d.Desired, d.Rule, d.Apply = d.Current, RuleHold, false
	}
	if len(d.Warnings) == 0 {
		d.Warnings = append(d.Warnings, "no forecast and no usage")
	}
	return d
}

// PodsAhead is the replica count to provision nodes for, since nodes take
// longer to arrive than pods: the forecast replicas over
// [now, now + nodeLead + interval], within the workload's bounds (with the
// windows' minimums counted from nodeLead ahead), and never fewer than
// planned (the decision's count). Without a forecast it is planned.
func PodsAhead(w *Workload, d *Demand, now time.Time, nodeLead time.Duration, planned int32) int32 {
	ahead := *w
	ahead.LeadTime = max(nodeLead, w.LeadTime)
	n, _, _ := ForecastReplicas(&ahead, d, now)
	if n < 0 {
		return planned
	}
	lo, hi, _, _, _ := Bounds(w.Windows, now, ahead.LeadTime+w.interval(), w.Min, w.Max)
	return max(planned, min(max(n, lo), hi))
}
