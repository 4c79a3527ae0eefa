package policy_test

import (
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/policy"
)

// The documented HPA scale-down policy of 10% per minute truncates: from 72
// replicas, 72 × 0.9 = 64.8 allows 64.
func ExampleScaleDownLimit() {
	rules := policy.ScalingRules{Policies: []policy.ScalingPolicy{
		{Type: policy.PodsPolicy, Value: 4, Period: time.Minute},
		{Type: policy.PercentPolicy, Value: 10, Period: time.Minute},
	}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(policy.ScaleDownLimit(now, 80, rules, nil))
	fmt.Println(policy.ScaleDownLimit(now, 72, rules, nil))
	// Output:
	// 72
	// 64
}

// A forecast peaking at 7 cores (0.95 quantile) within the next 7 minutes
// (lead time 2m + run interval 5m; the 9 at minute 8 is beyond it), with
// 0.5-core replicas at a 70% target: ceil(7 / 0.35) = 20 replicas. From 10
// that is one step; from 8 the default scale-up rules (max(4 pods, 100%) per
// 15 s) allow 16 now.
func ExampleReplicas() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	w := &policy.Workload{
		Target:      policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"},
		Request:     policy.Resources{CPU: 0.5},
		Utilization: policy.Resources{CPU: 0.7},
		Min:         2, Max: 40,
		LeadTime: 2 * time.Minute, Interval: 5 * time.Minute, Quantile: 0.95,
	}
	demand := &policy.Demand{Start: now.Add(time.Minute), Step: time.Minute, CPU: []float64{5, 6, 7, 6, 5, 5, 5, 9}}
	d := policy.Replicas(w, policy.Input{Now: now, Current: 10, Demand: demand})
	fmt.Println(d.Current, "→", d.Desired, d.Rule)
	fmt.Println(d.Reason())
	d = policy.Replicas(w, policy.Input{Now: now, Current: 8, Demand: demand})
	fmt.Println(d.Current, "→", d.Desired, d.Rule)
	// Output:
	// 10 → 20 forecast
	// forecast q0.95 over the next 7m0s needs 20 (7 cores / (0.5 × 0.7))
	// 8 → 16 rate-limit
}
