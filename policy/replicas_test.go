package policy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestReactiveReplicas(t *testing.T) {
	tests := []struct {
		name                        string
		current, rep, miss, unready int32
		usage, request, target, tol float64
		want                        int32
	}{
		// HPA docs: desiredReplicas = ceil(currentReplicas × currentMetricValue / desiredMetricValue).
		{name: "docs: 200m used of 100m target doubles", current: 1, rep: 1, usage: 0.2, request: 0.1, target: 1, tol: 0.1, want: 2},
		{name: "docs: 50m of 100m halves", current: 2, rep: 2, usage: 0.1, request: 0.1, target: 1, tol: 0.1, want: 1},
		{name: "within tolerance keeps current", current: 10, rep: 10, usage: 3.3, request: 0.5, target: 0.6, tol: 0.1, want: 10}, // ratio 1.1
		{name: "just outside tolerance", current: 10, rep: 10, usage: 3.36, request: 0.5, target: 0.6, tol: 0.1, want: 12},        // 67% / 60% = 1.1167
		{name: "utilization truncated to whole percent", current: 4, rep: 4, usage: 1.399, request: 0.5, target: 0.5, tol: 0, want: 6},
		// Missing pods: on a scale-down they count at 100% of request.
		{name: "missing pods on scale-down count as full", current: 4, rep: 2, miss: 2, usage: 0.2, request: 0.5, target: 0.9, tol: 0.1, want: 3},
		// ratio 0.4 → with missing at 100%: (0.2+1.0)/2 = 60% of request → 1.2 → flips direction → current
		{name: "missing pods flip direction: keep current", current: 4, rep: 2, miss: 2, usage: 0.2, request: 0.5, target: 0.7, tol: 0.1, want: 4},
		// Scale-up: missing count as 0.
		{name: "missing pods on scale-up count as zero", current: 4, rep: 2, miss: 2, usage: 2.0, request: 0.5, target: 0.5, tol: 0.1, want: 8},
		{name: "unready pods on scale-up count as zero", current: 4, rep: 2, unready: 2, usage: 2.0, request: 0.5, target: 0.5, tol: 0.1, want: 8},
		{name: "no pods reporting", current: 4, rep: 0, usage: 1, request: 0.5, target: 0.5, tol: 0.1, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ReactiveReplicas(tc.current, tc.rep, tc.miss, tc.unready, tc.usage, tc.request, tc.target, tc.tol, true)
			if got != tc.want {
				t.Errorf("ReactiveReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}

// flat returns a Demand starting one step after now with n steps of v cores.
func flat(now time.Time, step time.Duration, n int, cpu float64) *Demand {
	d := &Demand{Start: now.Add(step), Step: step, CPU: make([]float64, n)}
	for i := range d.CPU {
		d.CPU[i] = cpu
	}
	return d
}

func web() *Workload {
	return &Workload{
		Target:      Target{Kind: "Deployment", Namespace: "shop", Name: "web"},
		Request:     Resources{CPU: 0.5, Memory: 512 << 20},
		Utilization: Resources{CPU: 0.7, Memory: 0.8},
		Min:         2, Max: 40,
		LeadTime: 2 * time.Minute, Interval: 5 * time.Minute, Quantile: 0.95,
	}
}

func mustCron(s string) cron.Schedule {
	c, err := cron.ParseStandard(s)
	if err != nil {
		panic(err)
	}
	return c
}

func TestReplicas(t *testing.T) {
	now := t0 // a Friday, 12:00 UTC
	step := time.Minute
	tests := []struct {
		name     string
		w        func(*Workload)
		in       Input
		want     int32
		wantRule Rule
		apply    bool
		warn     string
	}{
		{name: "forecast: 7 cores / (0.5 × 0.7) = 20", in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 7)}, want: 20, wantRule: RuleForecast, apply: true},
		{name: "forecast peak inside the window only", in: Input{Now: now, Current: 10, Demand: func() *Demand {
			d := flat(now, step, 60, 3.5)
			d.CPU[6] = 7  // at now + 7m: inside [now, now + 2m + 5m]
			d.CPU[7] = 70 // at now + 8m: outside
			return d
		}()}, want: 20, wantRule: RuleForecast, apply: true},
		{name: "memory binds: 40 GiB / (0.5 GiB × 0.8) = 100 → max 40", in: Input{Now: now, Current: 10, Demand: func() *Demand {
			d := flat(now, step, 60, 1)
			d.Memory = make([]float64, 60)
			for i := range d.Memory {
				d.Memory[i] = 16 << 30
			}
			return d
		}()}, want: 20, wantRule: RuleRateLimit, apply: true}, // 16 GiB / 0.4 GiB = 40, rate-limited to 2 × 10
		{name: "reactive floor above forecast", in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 1),
			Usage: &Usage{Time: now, CPU: 5.6, Reporting: 10}}, want: 16, wantRule: RuleReactiveFloor, apply: true},
		{name: "scale-down is stabilized by history", in: Input{Now: now, Current: 20, Demand: flat(now, step, 60, 1),
			History: History{Recommendations: []Recommendation{{now.Add(-time.Minute), 18}}}}, want: 18, wantRule: RuleStabilization, apply: true},
		{name: "min clamps", in: Input{Now: now, Current: 2, Demand: flat(now, step, 60, 0.1)}, want: 2, wantRule: RuleMin, apply: true},
		{name: "stale forecast holds", in: Input{Now: now, Current: 7, Demand: flat(now.Add(-time.Hour), step, 120, 7)}, want: 7, wantRule: RuleHold, warn: "stale"},
		{name: "no data holds", in: Input{Now: now, Current: 7}, want: 7, wantRule: RuleHold, warn: "no forecast"},
		{name: "no data, below min: raised to min", in: Input{Now: now, Current: 1}, want: 2, wantRule: RuleMin, apply: true},
		{name: "usage only", in: Input{Now: now, Current: 4, Usage: &Usage{Time: now, CPU: 2.8, Reporting: 4}}, want: 8, wantRule: RuleReactiveFloor, apply: true, warn: "reactive floor only"},
		{name: "recommend mode never applies", w: func(w *Workload) { w.Mode = ModeRecommend },
			in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 7)}, want: 20, wantRule: RuleForecast},
		{name: "window raises the minimum (business hours, Friday noon)", w: func(w *Workload) {
			w.Windows = []Window{{Name: "business-hours", Schedule: mustCron("0 8 * * MON-FRI"), Duration: 10 * time.Hour, MinReplicas: 12}}
		}, in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 1)}, want: 12, wantRule: RuleWindow, apply: true},
		{name: "window opening within the lead time counts", w: func(w *Workload) {
			w.Windows = []Window{{Name: "launch", Schedule: mustCron("1 12 * * *"), Duration: time.Hour, MinReplicas: 12}}
		}, in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 1)}, want: 12, wantRule: RuleWindow, apply: true},
		{name: "window opening before the next run plus the lead time counts", w: func(w *Workload) {
			// 12:05 is after now + lead (12:02) but before the next run's pods
			// could be ready (12:05 + 2m): this run must raise the minimum.
			w.Windows = []Window{{Name: "launch", Schedule: mustCron("5 12 * * *"), Duration: time.Hour, MinReplicas: 12}}
		}, in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 1)}, want: 12, wantRule: RuleWindow, apply: true},
		{name: "window opening after lead time plus interval waits", w: func(w *Workload) {
			w.Windows = []Window{{Name: "launch", Schedule: mustCron("8 12 * * *"), Duration: time.Hour, MinReplicas: 12}}
		}, in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 1)}, want: 3, wantRule: RuleForecast, apply: true},
		{name: "window over: not active", w: func(w *Workload) {
			w.Windows = []Window{{Name: "night", Schedule: mustCron("0 0 * * *"), Duration: 6 * time.Hour, MinReplicas: 12}}
			w.Behavior.ScaleDown = &ScalingRules{StabilizationWindow: window(0)}
		}, in: Input{Now: now, Current: 10, Demand: flat(now, step, 60, 1)}, want: 3, wantRule: RuleForecast, apply: true},
		{name: "hpa-floor: the floor rises at once", w: func(w *Workload) { w.Mode = ModeHPAFloor },
			in: Input{Now: now, Current: 10, CurrentMin: 2, Demand: flat(now, step, 60, 14)}, want: 40, wantRule: RuleForecast, apply: true},
		{name: "hpa-floor ignores the reactive floor", w: func(w *Workload) {
			w.Mode = ModeHPAFloor
			w.Behavior.ScaleDown = &ScalingRules{StabilizationWindow: window(0)}
		},
			in: Input{Now: now, Current: 30, CurrentMin: 10, Demand: flat(now, step, 60, 1.4), Usage: &Usage{Time: now, CPU: 14, Reporting: 30}}, want: 4, wantRule: RuleForecast, apply: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := web()
			if tc.w != nil {
				tc.w(w)
			}
			d := Replicas(w, tc.in)
			if d.Desired != tc.want || d.Rule != tc.wantRule || d.Apply != tc.apply {
				t.Errorf("desired %d rule %v apply %v, want %d %v %v (reason %q, warnings %q)", d.Desired, d.Rule, d.Apply, tc.want, tc.wantRule, tc.apply, d.Reason(), d.Warnings)
			}
			if d.Rule == RuleUnknown {
				t.Errorf("rule unknown")
			}
			if tc.warn != "" && !strings.Contains(strings.Join(d.Warnings, "; "), tc.warn) {
				t.Errorf("warnings %q lack %q", d.Warnings, tc.warn)
			}
			if d.Reason() == "" {
				t.Errorf("no reason")
			}
		})
	}
}

func TestCeilReplicas(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want int32
	}{{0, 0}, {-1, 0}, {math.NaN(), 0}, {1, 1}, {7 / 0.35, 20}, {20.0000001, 21}, {1e12, math.MaxInt32}} {
		if got := ceilReplicas(tc.x); got != tc.want {
			t.Errorf("ceilReplicas(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
}

func TestPodsAhead(t *testing.T) {
	now := t0
	d := flat(now, time.Minute, 30, 3.5) // 10 replicas of 0.5 × 0.7
	d.CPU[8] = 7                         // 20 replicas at now + 9m
	w := web()
	tests := []struct {
		name    string
		lead    time.Duration
		planned int32
		want    int32
	}{
		{name: "node lead shorter than the peak: the pod plan", lead: 2 * time.Minute, planned: 10, want: 10},
		{name: "node lead reaching the peak", lead: 4 * time.Minute, planned: 10, want: 20},
		{name: "never below planned", lead: 2 * time.Minute, planned: 14, want: 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodsAhead(w, d, now, tc.lead, tc.planned); got != tc.want {
				t.Errorf("PodsAhead = %d, want %d", got, tc.want)
			}
		})
	}
	if got := PodsAhead(w, nil, now, time.Hour, 7); got != 7 {
		t.Errorf("no forecast: %d, want 7", got)
	}
}

// A decision survives a JSON round trip (the decision log stores it), and
// its JSON carries the reason.
func TestDecisionJSON(t *testing.T) {
	w := web()
	w.Windows = []Window{{Name: "business-hours", Schedule: mustCron("0 8 * * MON-FRI"), Duration: 10 * time.Hour, MinReplicas: 12}}
	d := Replicas(w, Input{Now: t0, Current: 10, Demand: flat(t0, time.Minute, 60, 1)})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"rule":"window"`) || !strings.Contains(string(b), `"reason":"window business-hours sets the bounds [12, 40]`) {
		t.Errorf("JSON %s", b)
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Rule != d.Rule || back.Mode != d.Mode || back.Desired != d.Desired || !back.Time.Equal(d.Time) || back.Reason() != d.Reason() {
		t.Errorf("round trip: %+v\nwant %+v", back, d)
	}
}

func TestSeparateTolerances(t *testing.T) {
	// 10 pods of 1 core at a 50% target. 5.4 cores: 54% → ratio 1.08;
	// 4.4 cores: 44% → 0.88.
	tests := []struct {
		name     string
		usage    float64
		up, down float64
		want     int32
	}{
		{"1.08 within the default 0.1", 5.4, 0.1, 0.1, 10},
		{"1.08 outside a scale-up tolerance of 0.05: ceil(10.8)", 5.4, 0.05, 0.1, 11},
		{"1.08 with a wide scale-down tolerance only", 5.4, 0.1, 0.5, 10},
		{"0.88 outside the default 0.1: ceil(8.8)", 4.4, 0.1, 0.1, 9},
		{"0.88 within a scale-down tolerance of 0.15", 4.4, 0.1, 0.15, 10},
		{"0.88 with a tight scale-up tolerance only", 4.4, 0, 0.1, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ReactiveReplicasWithin(10, 10, 0, 0, tc.usage, 1, 0.5, tc.up, tc.down, true)
			if got != tc.want {
				t.Errorf("ReactiveReplicasWithin = %d, want %d", got, tc.want)
			}
		})
	}
	// Through Replicas: the behavior's scaleUp.tolerance of 0.05 lets 1.08
	// scale up to 11; the workload's 0.1 alone holds 10.
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	w := &Workload{Target: Target{"Deployment", "a", "b"}, Request: Resources{CPU: 1}, Utilization: Resources{CPU: 0.5}, Min: 1, Max: 40}
	in := Input{Now: now, Current: 10, Usage: &Usage{Time: now, CPU: 5.4, Reporting: 10}}
	if d := Replicas(w, in); d.Desired != 10 || d.Numbers.ReactiveReplicas != 10 {
		t.Errorf("default tolerance: %d (reactive %d), want 10", d.Desired, d.Numbers.ReactiveReplicas)
	}
	up := 0.05
	w.Behavior.ScaleUp = &ScalingRules{Tolerance: &up}
	if d := Replicas(w, in); d.Desired != 11 || d.Rule != RuleReactiveFloor {
		t.Errorf("scale-up tolerance 0.05: %d by %s, want 11 by reactive-floor", d.Desired, d.Rule)
	}
	none := -1.0
	w.Behavior.ScaleDown = &ScalingRules{Tolerance: &none}
	if u, d := w.EffectiveTolerances(); u != 0.05 || d != 0 {
		t.Errorf("EffectiveTolerances = %v, %v; want 0.05, 0", u, d)
	}
}
