package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBudgetTrimOrder works one pool through every budget step by hand.
//
// The pool: 4-core nodes at 1/h (730 a month), two zones, zone headroom.
// The group: 12 pods of 1 core, leaner plans 10 (median) and 8 (also no
// lead-time window). 12 pods spread 6 per zone: 2 nodes per zone (4 + 2),
// 4 nodes. Zone headroom: a lost zone's 6 pods need 6 free cores in the
// other, which has 2: one more node per zone, 6 nodes = 4,380. n+1: a lost
// node's 4 pods fit in the 2 + 2 free cores of the others: no node added,
// 4 nodes = 2,920. At the median, 10 pods are 5 per zone: still 2 nodes per
// zone, 2,920, nothing saved. Without the lead-time window, 8 pods are 4 per
// zone: 1 node each, 1,460.
func TestBudgetTrimOrder(t *testing.T) {
	pool := Pool{Name: "p", Machine: Resources{CPU: 4, Memory: 16 << 30}, Pods: 110, PricePerHour: 1, Max: 100, Zones: 2, Headroom: HeadroomZone}
	group := func(floor int, leaner ...int) PodGroup {
		return PodGroup{Target: Target{"Deployment", "a", "web"}, Request: Resources{CPU: 1, Memory: 1 << 30}, Replicas: 12, Floor: floor, Leaner: leaner}
	}
	zoneToN1 := "p: zone → n+1 headroom saves 1460.00"
	tests := []struct {
		name     string
		group    PodGroup
		budget   float64
		cost     float64
		replicas int
		steps    int
		trimmed  []string
		over     float64
	}{
		{name: "no budget", group: group(6, 10, 8), budget: 0, cost: 4380, replicas: 12},
		{name: "zone → n+1 is enough", group: group(6, 10, 8), budget: 3000, cost: 2920, replicas: 12, trimmed: []string{zoneToN1}},
		// The median saves nothing (10 pods: still 2 nodes per zone). 8 pods
		// are 4 per zone, one node each; n+1 then costs a third node (a lost
		// node's 4 pods find no free core), trimmed again: n+1 → none.
		{name: "the median saves nothing, the lead-time window does", group: group(6, 10, 8), budget: 2000, cost: 1460, replicas: 8, steps: 2,
			trimmed: []string{zoneToN1, "forecast headroom: lead-time window plans 4 pods fewer and, with the trims that follow, saves 1460.00", "p: n+1 → none headroom saves 730.00"}},
		// Without the lead-time window the forecast asks for 4 pods; the
		// floor is 6: 3 per zone, one node each, 1,460, still 460 over.
		{name: "never below the floor", group: group(6, 10, 4), budget: 1000, cost: 1460, replicas: 6, steps: 2, over: 460,
			trimmed: []string{zoneToN1, "forecast headroom: lead-time window plans 6 pods fewer and, with the trims that follow, saves 1460.00", "p: n+1 → none headroom saves 730.00"}},
		{name: "nothing to trim", group: group(6), budget: 2000, cost: 2920, replicas: 12, over: 920, trimmed: []string{zoneToN1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pp, err := PlanPools([]Pool{pool}, []PodGroup{tc.group}, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			if pp.MonthlyCost != tc.cost || pp.Replicas[0] != tc.replicas || pp.Pools[0].Pods != tc.replicas {
				t.Fatalf("cost %v, replicas %v, pods %d; want %v and %d", pp.MonthlyCost, pp.Replicas, pp.Pools[0].Pods, tc.cost, tc.replicas)
			}
			b := pp.Budget
			if tc.budget == 0 {
				if b != nil {
					t.Fatalf("budget result without a budget: %+v", b)
				}
				return
			}
			if b.LeanSteps != tc.steps || b.Needed != 4380 || b.Over != tc.over || len(b.Trimmed) != len(tc.trimmed) {
				t.Fatalf("budget %+v", b)
			}
			for i, want := range tc.trimmed {
				if !strings.HasPrefix(b.Trimmed[i], want) {
					t.Errorf("trim %d: %q, want %q", i, b.Trimmed[i], want)
				}
			}
			loud := strings.Join(b.Warnings, "\n")
			if tc.steps > 0 && !strings.Contains(loud, "BUDGET: planned below the forecast (lead-time window)") {
				t.Errorf("warnings %q", b.Warnings)
			}
			if (tc.over > 0) != strings.Contains(loud, fmt.Sprintf("OVER BUDGET by %.2f", tc.over)) {
				t.Errorf("warnings %q", b.Warnings)
			}
		})
	}
}

func TestTrims(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	w := &Workload{Target: Target{"Deployment", "a", "b"}, Request: Resources{CPU: 1}, Utilization: Resources{CPU: 0.5}, Min: 2, Max: 40,
		LeadTime: 10 * time.Minute, Interval: 5 * time.Minute}
	// The median demand ramps 1 core per minute from 1 core one minute
	// after now: over [now, now + 15m] its peak is 15 cores → 30 replicas;
	// over [now, now + 5m], 5 cores → 10. Usage now: 6 cores on 10 pods,
	// 60% against 50%: the reactive floor is ceil(1.2 × 10) = 12.
	median := &Demand{Start: now.Add(time.Minute), Step: time.Minute}
	for k := range 30 {
		median.CPU = append(median.CPU, float64(k+1))
	}
	in := Input{Now: now, Current: 10, Usage: &Usage{Time: now, CPU: 6, Reporting: 10}}
	tr := Trims(w, in, median, 20*time.Minute)
	if len(tr) != 2 {
		t.Fatalf("%d trims", len(tr))
	}
	// 1. median over 15 minutes: 30 replicas (the default scale-up allows
	//    max(10 + 4, 20) = 20 now: rate-limited to 20); planned pods look
	//    ahead the node lead time: 25 minutes, 25 cores → 50, capped at 40.
	if d := tr[0].Decision; d.Desired != 20 || d.Numbers.ForecastReplicas != 30 || tr[0].Pods != 40 || tr[0].Step != TrimSteps[0] {
		t.Errorf("median: desired %d (forecast %d), pods %d", d.Desired, d.Numbers.ForecastReplicas, tr[0].Pods)
	}
	// 2. no lead-time window: 5 minutes, 10 replicas; the reactive floor 12 wins.
	if d := tr[1].Decision; d.Desired != 12 || d.Numbers.ForecastReplicas != 10 || d.Rule != RuleReactiveFloor || tr[1].Pods != 12 {
		t.Errorf("lead-time window: desired %d by %s (forecast %d), pods %d", d.Desired, d.Rule, d.Numbers.ForecastReplicas, tr[1].Pods)
	}
	// Each carries what it was decided from: deciding again reproduces it.
	for _, x := range tr {
		if d := Replicas(x.Workload, x.Input); d.Desired != x.Decision.Desired || x.Input.Demand != median {
			t.Errorf("%s: re-decided %d, trimmed %d", x.Step, d.Desired, x.Decision.Desired)
		}
	}
	if tr[1].Workload.LeadTime != 0 || w.LeadTime != 10*time.Minute || !strings.Contains(tr[1].Decision.Reason(), "lead time 0s (budget: lead-time window trimmed)") {
		t.Errorf("lead-time trim: %v (the spec keeps %v), reason %q", tr[1].Workload.LeadTime, w.LeadTime, tr[1].Decision.Reason())
	}
	w.Mode = ModeRecommend
	if Trims(w, in, median, 0) != nil {
		t.Error("recommend mode trims")
	}
}
