package policy

import (
	"fmt"
	"math"
	"time"
)

// This file re-implements the scaling behavior of the Kubernetes HPA
// controller (k8s.io/kubernetes pkg/controller/podautoscaler/horizontal.go,
// v1.37: stabilizeRecommendationWithBehaviors,
// convertDesiredReplicasWithBehaviorRate, calculateScaleUpLimitWithScalingRules,
// calculateScaleDownLimitWithBehaviors) and its API defaults
// (pkg/apis/autoscaling/v2/defaults.go) as pure functions: the controller's
// in-memory recommendations and scale events are inputs here (History), and
// its time.Now() is the now argument.

// PolicyType is the unit of a scaling policy's Value.
type PolicyType int

// Policy types. The zero value is PodsPolicy.
const (
	PodsPolicy    PolicyType = iota // Value pods per Period
	PercentPolicy                   // Value percent of the replicas at the start of the Period
)

func (t PolicyType) String() string {
	if t == PercentPolicy {
		return "Percent"
	}
	return "Pods"
}

// ScalingPolicy allows a change of Value (pods or percent) per Period.
type ScalingPolicy struct {
	Type   PolicyType
	Value  int32
	Period time.Duration
}

// SelectPolicy chooses among a direction's policies.
type SelectPolicy int

// Select policies. The zero value is SelectMax, the HPA default.
const (
	SelectMax      SelectPolicy = iota // the policy allowing the largest change
	SelectMin                          // the policy allowing the smallest change
	SelectDisabled                     // no change in this direction
)

func (s SelectPolicy) String() string {
	return [...]string{"Max", "Min", "Disabled"}[s]
}

// ScalingRules are one direction's rules, as HPAScalingRules. A nil
// StabilizationWindow or Policies takes the direction's default.
type ScalingRules struct {
	StabilizationWindow *time.Duration
	// Tolerance of the reactive floor in this direction (the HPA's
	// behavior.scaleUp.tolerance / scaleDown.tolerance, Kubernetes 1.33+);
	// nil means the Workload's Tolerance, negative means none. Complete
	// leaves it as set.
	Tolerance *float64
	Select    SelectPolicy
	Policies  []ScalingPolicy
}

// Behavior is the HPA's spec.behavior; nil directions take the defaults.
type Behavior struct {
	ScaleUp   *ScalingRules
	ScaleDown *ScalingRules
	// Legacy selects the controller's path for an HPA with no spec.behavior
	// at all (normalizeDesiredReplicas): the highest recommendation of the
	// last DefaultScaleDownWindow (inclusive), then a scale-up limit of
	// max(2 × current, 4) per sync with no period accounting; ScaleUp and
	// ScaleDown are ignored. headroom's own planning uses the behavior path;
	// Legacy is for replaying an HPA as Kubernetes runs it (the simulator's
	// reactive baseline).
	Legacy bool
}

// The HPA defaults: scale up by max(4 pods, 100%) per 15 s with no
// stabilization; scale down by 100% per 15 s with a 300 s stabilization
// window (the controller's --horizontal-pod-autoscaler-downscale-stabilization).
const (
	DefaultScaleUpWindow   = 0 * time.Second
	DefaultScaleDownWindow = 300 * time.Second
)

// The defaults are shared, read-only values (returned by copy; callers must
// not modify the Policies slices).
var (
	defaultUpWindow   = DefaultScaleUpWindow
	defaultDownWindow = DefaultScaleDownWindow
	defaultScaleUp    = ScalingRules{StabilizationWindow: &defaultUpWindow, Select: SelectMax, Policies: []ScalingPolicy{
		{Type: PodsPolicy, Value: 4, Period: 15 * time.Second},
		{Type: PercentPolicy, Value: 100, Period: 15 * time.Second},
	}}
	defaultScaleDown = ScalingRules{StabilizationWindow: &defaultDownWindow, Select: SelectMax, Policies: []ScalingPolicy{
		{Type: PercentPolicy, Value: 100, Period: 15 * time.Second},
	}}
)

// DefaultScaleUp returns the HPA's default scale-up rules: no stabilization,
// max(4 pods, 100%) per 15 s.
func DefaultScaleUp() ScalingRules {
	r := defaultScaleUp
	r.Policies = append([]ScalingPolicy(nil), r.Policies...)
	return r
}

// DefaultScaleDown returns the HPA's default scale-down rules: a 300 s
// stabilization window, 100% per 15 s.
func DefaultScaleDown() ScalingRules {
	r := defaultScaleDown
	r.Policies = append([]ScalingPolicy(nil), r.Policies...)
	return r
}

// Complete returns the behavior with every unset field filled from the
// defaults, field by field, as the API server's defaulting does.
func (b Behavior) Complete() (up, down ScalingRules) {
	return fill(b.ScaleUp, defaultScaleUp), fill(b.ScaleDown, defaultScaleDown)
}

func fill(r *ScalingRules, d ScalingRules) ScalingRules {
	if r == nil {
		return d
	}
	out := d
	out.Select = r.Select
	if r.StabilizationWindow != nil {
		out.StabilizationWindow = r.StabilizationWindow
	}
	if r.Policies != nil {
		out.Policies = r.Policies
	}
	return out
}

// Validate checks the rules against the HPA API's limits.
func (r ScalingRules) Validate() error {
	if r.StabilizationWindow != nil && (*r.StabilizationWindow < 0 || *r.StabilizationWindow > time.Hour) {
		return fmt.Errorf("%w: stabilization window %v outside [0s, 1h]", ErrInvalidInput, *r.StabilizationWindow)
	}
	for _, p := range r.Policies {
		if p.Value <= 0 || p.Period <= 0 || p.Period > 30*time.Minute {
			return fmt.Errorf("%w: policy %s %d per %v: value must be positive and period in (0s, 30m]", ErrInvalidInput, p.Type, p.Value, p.Period)
		}
	}
	return nil
}

// Recommendation is one past unstabilized recommendation (Decision.Recommendation).
type Recommendation struct {
	Time     time.Time
	Replicas int32
}

// ScaleEvent is one past change of the replica count, From → To.
type ScaleEvent struct {
	Time     time.Time
	From, To int32
}

// History is what the HPA controller keeps in memory and headroom keeps in
// its store: past recommendations and scale events of one workload. Entries
// older than the longest window or period are ignored, so callers may keep
// more; order does not matter.
type History struct {
	Recommendations []Recommendation
	Events          []ScaleEvent
}

// Stabilize applies the stabilization windows to a new recommendation, as
// stabilizeRecommendationWithBehaviors: the result is current brought within
// [min of recommendations in the scale-up window, max of recommendations in
// the scale-down window], where both windows include desired itself and the
// past recommendations strictly after now − window.
func Stabilize(now time.Time, current, desired int32, up, down ScalingRules, past []Recommendation) int32 {
	upRec, downRec := desired, desired
	upCut := now.Add(-*up.StabilizationWindow)
	downCut := now.Add(-*down.StabilizationWindow)
	for _, r := range past {
		if r.Time.After(upCut) {
			upRec = min(upRec, r.Replicas)
		}
		if r.Time.After(downCut) {
			downRec = max(downRec, r.Replicas)
		}
	}
	rec := current
	if rec < upRec {
		rec = upRec
	}
	if rec > downRec {
		rec = downRec
	}
	return rec
}

// changeInPeriod sums the replicas added (up) or removed (!up) by events
// strictly after now − period, as getReplicasChangePerPeriod.
func changeInPeriod(now time.Time, period time.Duration, events []ScaleEvent, up bool) int32 {
	cut := now.Add(-period)
	var n int32
	for _, e := range events {
		if !e.Time.After(cut) {
			continue
		}
		if up && e.To > e.From {
			n += e.To - e.From
		} else if !up && e.To < e.From {
			n += e.From - e.To
		}
	}
	return n
}

// ScaleUpLimit is the highest count the scale-up rules allow now, as
// calculateScaleUpLimitWithScalingRules: each policy is measured from the
// count at the start of its period (current − added + removed within it);
// Pods adds Value, Percent multiplies by 1 + Value/100 rounding up; Max takes
// the largest result, Min the smallest; Disabled allows no change.
func ScaleUpLimit(now time.Time, current int32, rules ScalingRules, events []ScaleEvent) int32 {
	if rules.Select == SelectDisabled {
		return current
	}
	var result int32 = math.MinInt32
	if rules.Select == SelectMin {
		result = math.MaxInt32
	}
	for _, p := range rules.Policies {
		start := current - changeInPeriod(now, p.Period, events, true) + changeInPeriod(now, p.Period, events, false)
		var proposed int32
		if p.Type == PodsPolicy {
			proposed = start + p.Value
		} else {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if rules.Select == SelectMin {
			result = min(result, proposed)
		} else {
			result = max(result, proposed)
		}
	}
	return result
}

// ScaleDownLimit is the lowest count the scale-down rules allow now, as
// calculateScaleDownLimitWithBehaviors: Pods subtracts Value from the count at
// the start of the period, Percent multiplies it by 1 − Value/100 and
// truncates (72 × 0.9 = 64.8 → 64); Max takes the lowest result (the largest
// change), Min the highest; Disabled allows no change.
func ScaleDownLimit(now time.Time, current int32, rules ScalingRules, events []ScaleEvent) int32 {
	if rules.Select == SelectDisabled {
		return current
	}
	var result int32 = math.MaxInt32
	if rules.Select == SelectMin {
		result = math.MinInt32
	}
	for _, p := range rules.Policies {
		start := current - changeInPeriod(now, p.Period, events, true) + changeInPeriod(now, p.Period, events, false)
		var proposed int32
		if p.Type == PodsPolicy {
			proposed = start - p.Value
		} else {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if rules.Select == SelectMin {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}

// Normalized is the result of Normalize.
type Normalized struct {
	Replicas   int32
	Stabilized int32 // after the stabilization windows
	UpLimit    int32 // -1 when not scaling up
	DownLimit  int32 // -1 when not scaling down
	// Rule is RuleStabilization, RuleRateLimit, RuleMin or RuleMax when that
	// step changed the recommendation, RuleUnknown when nothing did.
	Rule Rule
}

// Normalize is the HPA controller's normalizeDesiredReplicasWithBehaviors for
// a current count within [minR, maxR]: stabilize the recommendation, then
// bound it by the rate limits and the min and max (convertDesiredReplicasWithBehaviorRate).
// When current is outside [minR, maxR] the controller skips both steps and
// sets the bound; Normalize does the same. One difference: for a target at
// 0 replicas with minR > 0 the controller disables scaling (someone scaled
// it to zero), while Normalize raises it to minR; callers that want the
// controller's behavior hold such targets themselves.
func Normalize(now time.Time, current, desired, minR, maxR int32, b Behavior, h History) Normalized {
	out := Normalized{UpLimit: -1, DownLimit: -1}
	switch {
	case current > maxR:
		out.Replicas, out.Stabilized, out.Rule = maxR, desired, RuleMax
		return out
	case current < minR:
		out.Replicas, out.Stabilized, out.Rule = minR, desired, RuleMin
		return out
	}
	if b.Legacy {
		return normalizeLegacy(now, current, desired, minR, maxR, h.Recommendations)
	}
	up, down := b.Complete()
	st := Stabilize(now, current, desired, up, down, h.Recommendations)
	out.Stabilized = st
	out.Replicas = st
	if st != desired {
		out.Rule = RuleStabilization
	}
	switch {
	case st > current:
		lim := ScaleUpLimit(now, current, up, h.Events)
		if lim < current {
			lim = current // no further scale-up until events age out
		}
		out.UpLimit = lim
		allowed, rule := maxR, RuleMax
		if lim < maxR {
			allowed, rule = lim, RuleRateLimit
		}
		if st > allowed {
			out.Replicas, out.Rule = allowed, rule
		}
	case st < current:
		lim := ScaleDownLimit(now, current, down, h.Events)
		if lim > current {
			lim = current
		}
		out.DownLimit = lim
		allowed, rule := minR, RuleMin
		if lim > minR {
			allowed, rule = lim, RuleRateLimit
		}
		if st < allowed {
			out.Replicas, out.Rule = allowed, rule
		}
	}
	return out
}

// normalizeLegacy is normalizeDesiredReplicas: stabilizeRecommendation (the
// maximum of desired and the recommendations not before now − 300 s), then
// convertDesiredReplicasWithRules (min, then the smaller of max and
// max(2 × current, 4)).
func normalizeLegacy(now time.Time, current, desired, minR, maxR int32, past []Recommendation) Normalized {
	out := Normalized{UpLimit: -1, DownLimit: -1}
	st := desired
	cut := now.Add(-DefaultScaleDownWindow)
	for _, r := range past {
		if !r.Time.Before(cut) {
			st = max(st, r.Replicas)
		}
	}
	out.Stabilized, out.Replicas = st, st
	if st != desired {
		out.Rule = RuleStabilization
	}
	limit := int32(math.Max(2*float64(current), 4))
	allowed, rule := maxR, RuleMax
	if maxR > limit {
		allowed, rule = limit, RuleRateLimit
	}
	if st > current {
		out.UpLimit = limit
	}
	switch {
	case st < minR:
		out.Replicas, out.Rule = minR, RuleMin
	case st > allowed:
		out.Replicas, out.Rule = allowed, rule
	}
	return out
}
