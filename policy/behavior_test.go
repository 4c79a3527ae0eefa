package policy

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

func window(d time.Duration) *time.Duration { return &d }

func pods(v int32, period int) ScalingPolicy {
	return ScalingPolicy{Type: PodsPolicy, Value: v, Period: secs(period)}
}

func percent(v int32, period int) ScalingPolicy {
	return ScalingPolicy{Type: PercentPolicy, Value: v, Period: secs(period)}
}

// The examples of the Kubernetes documentation, "Horizontal Pod Autoscaling",
// section "Configurable scaling behavior", and hand-worked cases of the
// controller's period accounting.
func TestScaleLimits(t *testing.T) {
	ago := func(s int) time.Time { return t0.Add(-secs(s)) }
	tests := []struct {
		name    string
		current int32
		rules   ScalingRules
		events  []ScaleEvent
		up      bool
		want    int32
	}{
		// Docs: "scaleDown: policies: Pods 4 per 60s, Percent 10 per 60s" (selectPolicy Max):
		// with 80 replicas, 10% is 8, the larger change, so 72; then 72 × 0.9 = 64.8 truncates to 64.
		{name: "docs: 80 replicas, max(4 pods, 10%) per minute → 72", current: 80,
			rules: ScalingRules{Policies: []ScalingPolicy{pods(4, 60), percent(10, 60)}}, want: 72},
		{name: "docs: next period, 72 × 0.9 = 64.8 truncates to 64", current: 72,
			rules: ScalingRules{Policies: []ScalingPolicy{pods(4, 60), percent(10, 60)}}, want: 64},
		{name: "docs: below 40 replicas the 4-pod policy allows more", current: 30,
			rules: ScalingRules{Policies: []ScalingPolicy{pods(4, 60), percent(10, 60)}}, want: 26},
		// Docs: "selectPolicy: Min" picks the policy allowing the smallest change.
		{name: "docs: selectPolicy Min picks the smaller change", current: 80,
			rules: ScalingRules{Select: SelectMin, Policies: []ScalingPolicy{pods(4, 60), percent(10, 60)}}, want: 76},
		// Docs: "limit the rate at which pods are removed to 10% per minute" plus "no more than 5 pods per minute" with Min.
		{name: "docs: 10% per minute and at most 5 pods, Min", current: 100,
			rules: ScalingRules{Select: SelectMin, Policies: []ScalingPolicy{percent(10, 60), pods(5, 60)}}, want: 95},
		{name: "docs: selectPolicy Disabled: no scale-down", current: 10,
			rules: ScalingRules{Select: SelectDisabled, Policies: []ScalingPolicy{percent(100, 15)}}, want: 10},
		{name: "default scale-down: 100% per 15 s reaches 0", current: 10, rules: DefaultScaleDown(), want: 0},
		{name: "percent truncation: 3 × 0.5 = 1.5 → 1", current: 3,
			rules: ScalingRules{Policies: []ScalingPolicy{percent(50, 60)}}, want: 1},
		// Period accounting: the count at the start of the period is current − added + removed within it.
		{name: "removed 8 within the minute: start 80, limit still 72", current: 72,
			rules:  ScalingRules{Policies: []ScalingPolicy{percent(10, 60)}},
			events: []ScaleEvent{{Time: ago(30), From: 80, To: 72}}, want: 72},
		{name: "removal older than the period is forgotten", current: 72,
			rules:  ScalingRules{Policies: []ScalingPolicy{percent(10, 60)}},
			events: []ScaleEvent{{Time: ago(60), From: 80, To: 72}}, want: 64},
		{name: "an addition within the period lowers the start", current: 12,
			rules:  ScalingRules{Policies: []ScalingPolicy{pods(2, 60)}},
			events: []ScaleEvent{{Time: ago(10), From: 10, To: 12}}, want: 8},

		// Scale-up. Default: max(4 pods, 100%) per 15 s.
		{name: "default scale-up from 1: 4 pods beats 100%", current: 1, rules: DefaultScaleUp(), up: true, want: 5},
		{name: "default scale-up from 10: 100% beats 4 pods", current: 10, rules: DefaultScaleUp(), up: true, want: 20},
		{name: "default scale-up after +4 five seconds ago: start 6, so max(10, 12)", current: 10, rules: DefaultScaleUp(), up: true,
			events: []ScaleEvent{{Time: ago(5), From: 6, To: 10}}, want: 12},
		{name: "default scale-up: event 15 s ago is outside the period", current: 10, rules: DefaultScaleUp(), up: true,
			events: []ScaleEvent{{Time: ago(15), From: 6, To: 10}}, want: 20},
		// Docs: "scaleUp: policies: Percent 900 per 60s": the count may grow
		// tenfold each minute, 1 → 10 → 100.
		{name: "docs: 900% per minute from 1", current: 1, up: true,
			rules: ScalingRules{Policies: []ScalingPolicy{percent(900, 60)}}, want: 10},
		{name: "docs: 900% per minute from 10, a minute later", current: 10, up: true,
			rules:  ScalingRules{Policies: []ScalingPolicy{percent(900, 60)}},
			events: []ScaleEvent{{Time: ago(60), From: 1, To: 10}}, want: 100},
		{name: "docs: 900%, within the same minute: still measured from 1", current: 10, up: true,
			rules:  ScalingRules{Policies: []ScalingPolicy{percent(900, 60)}},
			events: []ScaleEvent{{Time: ago(30), From: 1, To: 10}}, want: 10},
		{name: "percent up rounds up: 3 × 1.1 = 3.3 → 4", current: 3, up: true,
			rules: ScalingRules{Policies: []ScalingPolicy{percent(10, 60)}}, want: 4},
		{name: "docs: scale-up Min of 100 pods and 100%", current: 10, up: true,
			rules: ScalingRules{Select: SelectMin, Policies: []ScalingPolicy{pods(100, 60), percent(100, 60)}}, want: 20},
		{name: "scale-up Disabled", current: 10, up: true,
			rules: ScalingRules{Select: SelectDisabled, Policies: []ScalingPolicy{pods(4, 60)}}, want: 10},
		{name: "a scale-down within the period raises the up start", current: 8, up: true,
			rules:  ScalingRules{Policies: []ScalingPolicy{pods(1, 60)}},
			events: []ScaleEvent{{Time: ago(20), From: 10, To: 8}}, want: 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got int32
			if tc.up {
				got = ScaleUpLimit(t0, tc.current, tc.rules, tc.events)
			} else {
				got = ScaleDownLimit(t0, tc.current, tc.rules, tc.events)
			}
			if got != tc.want {
				t.Errorf("limit = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	ago := func(s int) time.Time { return t0.Add(-secs(s)) }
	recs := func(rs ...Recommendation) History { return History{Recommendations: rs} }
	tests := []struct {
		name                         string
		current, desired, minR, maxR int32
		behavior                     Behavior
		history                      History
		want, wantStabilized         int32
		wantRule                     Rule
	}{
		{name: "within range", current: 5, desired: 7, minR: 3, maxR: 8, want: 7, wantStabilized: 7},
		{name: "default scale-up limited to 2×", current: 10, desired: 50, minR: 1, maxR: 1000, want: 20, wantStabilized: 50, wantRule: RuleRateLimit},
		{name: "max below the rate limit", current: 20, desired: 1000, minR: 1, maxR: 30, want: 30, wantStabilized: 1000, wantRule: RuleMax},
		{name: "min above the scale-down limit", current: 3, desired: 1, minR: 2, maxR: 8, want: 2, wantStabilized: 1, wantRule: RuleMin},
		{name: "current above max: set to max without metrics", current: 12, desired: 3, minR: 1, maxR: 10, want: 10, wantStabilized: 3, wantRule: RuleMax},
		{name: "current below min: set to min", current: 1, desired: 1, minR: 4, maxR: 10, want: 4, wantStabilized: 1, wantRule: RuleMin},
		// Docs: "the highest recommendation within the stabilization window" (default 300 s) is used on the way down.
		{name: "docs: scale-down stabilized by a recommendation 4 minutes ago", current: 10, desired: 4, minR: 1, maxR: 20,
			history: recs(Recommendation{ago(240), 8}, Recommendation{ago(100), 6}), want: 8, wantStabilized: 8, wantRule: RuleStabilization},
		{name: "recommendation exactly 300 s ago is outside the window", current: 10, desired: 4, minR: 1, maxR: 20,
			history: recs(Recommendation{ago(300), 9}), want: 4, wantStabilized: 4},
		{name: "stabilization never goes above current", current: 6, desired: 4, minR: 1, maxR: 20,
			history: recs(Recommendation{ago(60), 9}), want: 6, wantStabilized: 6, wantRule: RuleStabilization},
		{name: "scale-up window: min of recent recommendations", current: 4, desired: 10, minR: 1, maxR: 20,
			behavior: Behavior{ScaleUp: &ScalingRules{StabilizationWindow: window(secs(120))}},
			history:  recs(Recommendation{ago(60), 6}, Recommendation{ago(200), 5}), want: 6, wantStabilized: 6, wantRule: RuleStabilization},
		{name: "scale-down window of 0: immediate", current: 10, desired: 4, minR: 1, maxR: 20,
			behavior: Behavior{ScaleDown: &ScalingRules{StabilizationWindow: window(0)}},
			history:  recs(Recommendation{ago(10), 9}), want: 4, wantStabilized: 4},
		{name: "docs: 10% per minute scale-down from 80", current: 80, desired: 10, minR: 1, maxR: 100,
			behavior: Behavior{ScaleDown: &ScalingRules{StabilizationWindow: window(0), Policies: []ScalingPolicy{percent(10, 60)}}},
			want:     72, wantStabilized: 10, wantRule: RuleRateLimit},
		{name: "partial rules keep the default window (300 s)", current: 10, desired: 2, minR: 1, maxR: 20,
			behavior: Behavior{ScaleDown: &ScalingRules{Policies: []ScalingPolicy{pods(1, 60)}}},
			history:  recs(Recommendation{ago(200), 7}), want: 9, wantStabilized: 7, wantRule: RuleRateLimit},
		{name: "scale-up disabled holds", current: 5, desired: 9, minR: 1, maxR: 20,
			behavior: Behavior{ScaleUp: &ScalingRules{Select: SelectDisabled}}, want: 5, wantStabilized: 9, wantRule: RuleRateLimit},
		// An HPA without spec.behavior (the controller's legacy path).
		{name: "legacy: scale-up limit max(2 × current, 4)", current: 10, desired: 50, minR: 1, maxR: 1000,
			behavior: Behavior{Legacy: true}, want: 20, wantStabilized: 50, wantRule: RuleRateLimit},
		{name: "legacy: from 1, at most 4", current: 1, desired: 50, minR: 1, maxR: 1000,
			behavior: Behavior{Legacy: true}, want: 4, wantStabilized: 50, wantRule: RuleRateLimit},
		{name: "legacy: no period accounting", current: 10, desired: 50, minR: 1, maxR: 1000,
			behavior: Behavior{Legacy: true}, history: History{Events: []ScaleEvent{{Time: ago(5), From: 5, To: 10}}}, want: 20, wantStabilized: 50, wantRule: RuleRateLimit},
		{name: "legacy: the max of the last 300 s, inclusive", current: 10, desired: 4, minR: 1, maxR: 20,
			behavior: Behavior{Legacy: true}, history: recs(Recommendation{ago(300), 9}), want: 9, wantStabilized: 9, wantRule: RuleStabilization},
		{name: "legacy: scale-down in one step", current: 10, desired: 2, minR: 1, maxR: 20,
			behavior: Behavior{Legacy: true}, want: 2, wantStabilized: 2},
		{name: "legacy: min", current: 10, desired: 2, minR: 3, maxR: 20,
			behavior: Behavior{Legacy: true}, want: 3, wantStabilized: 2, wantRule: RuleMin},
		{name: "scale-up limit exhausted by recent events: no further scale-up", current: 8, desired: 12, minR: 1, maxR: 20,
			behavior: Behavior{ScaleUp: &ScalingRules{Policies: []ScalingPolicy{pods(2, 60)}}},
			history:  History{Events: []ScaleEvent{{Time: ago(10), From: 4, To: 8}}}, want: 8, wantStabilized: 12, wantRule: RuleRateLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := Normalize(t0, tc.current, tc.desired, tc.minR, tc.maxR, tc.behavior, tc.history)
			if n.Replicas != tc.want || n.Stabilized != tc.wantStabilized || n.Rule != tc.wantRule {
				t.Errorf("Normalize = %d (stabilized %d, rule %v), want %d (stabilized %d, rule %v)",
					n.Replicas, n.Stabilized, n.Rule, tc.want, tc.wantStabilized, tc.wantRule)
			}
		})
	}
}
