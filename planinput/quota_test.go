package planinput

import (
	"testing"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
)

// Worked by hand against quota compute: 4 cores, 8 GiB and 10 pods, of
// which 2.5 cores, 3 GiB and 6 pods are used.
func TestQuotaShortfall(t *testing.T) {
	compute := metrics.ResourceQuota{Namespace: "shop", Name: "compute",
		Hard: map[string]float64{"requests.cpu": 4, "requests.memory": 8 << 30, "pods": 10, "limits.cpu": 1},
		Used: map[string]float64{"requests.cpu": 2.5, "requests.memory": 3 << 30, "pods": 6, "limits.cpu": 5}}
	for _, tc := range []struct {
		name     string
		q        metrics.ResourceQuota
		pods     int
		cpu, mem float64
		short    string // the resource short, "" when it fits
		need     float64
	}{
		// 3 pods of 500m: 2.5 + 1.5 = 4.0, exactly hard: fits (limits are not checked).
		{"fits exactly", compute, 3, 1.5, 3 << 30, "", 0},
		// 4 pods of 500m: 2.5 + 2 = 4.5 > 4.
		{"cpu", compute, 4, 2, 4 << 30, "requests.cpu", 2},
		// 3 pods of 100m but 2 GiB each: 3 + 6 = 9 GiB > 8.
		{"memory", compute, 3, 0.3, 6 << 30, "requests.memory", 6 << 30},
		// 5 small pods: 6 + 5 = 11 pods > 10.
		{"pods", compute, 5, 0.5, 1 << 30, "pods", 5},
		{"no pods added", compute, 0, 0, 0, "", 0},
		// A quota whose status has not counted requests.cpu yet: only what it counts is checked.
		{"uncounted", metrics.ResourceQuota{Namespace: "shop", Name: "fresh", Hard: map[string]float64{"requests.cpu": 1, "pods": 10}, Used: map[string]float64{"pods": 1}}, 4, 2, 0, "", 0},
		{"NotTerminating", withScopes(compute, "NotTerminating", "NotBestEffort Exists"), 4, 2, 0, "requests.cpu", 2},
		{"PriorityClass", withScopes(compute, "PriorityClass In (high)"), 4, 2, 0, "", 0},
		{"BestEffort", withScopes(compute, "BestEffort"), 4, 2, 0, "", 0},
	} {
		s, short := QuotaShortfall(tc.q, tc.pods, tc.cpu, tc.mem)
		if short != (tc.short != "") || short && (s.Resource != tc.short || s.Need != tc.need || s.Pods != tc.pods || s.Name != tc.q.Name) {
			t.Errorf("%s: %+v short %v, want %q needing %v", tc.name, s, short, tc.short, tc.need)
		}
	}
	s, _ := QuotaShortfall(compute, 4, 2, 4<<30)
	if got, want := s.String(), "QUOTA: 4 more pods need 2 cores of requests.cpu, but quota shop/compute has 1.5 cores left (2.5 cores used of 4 cores): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short"; got != want {
		t.Errorf("message\n got %s\nwant %s", got, want)
	}
	s, _ = QuotaShortfall(compute, 3, 0.3, 6<<30)
	if got := s.String(); got != "QUOTA: 3 more pods need 6 GiB of requests.memory, but quota shop/compute has 5 GiB left (3 GiB used of 8 GiB): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short" {
		t.Errorf("message %s", got)
	}
}

func withScopes(q metrics.ResourceQuota, scopes ...string) metrics.ResourceQuota {
	q.Scopes = scopes
	return q
}

// Scale-ups of one plan are checked in turn against what the quota has left
// after the ones before (QuotaLedger). Quota compute: 4 cores, 10 pods;
// 1 core and 2 pods used. Worked by hand, 500m pods:
//   - web 2 → 6 (4 pods, 2 cores): 1 + 2 = 3 ≤ 4, fits; books 2 cores, 4 pods.
//   - api 1 → 4 (3 pods, 1.5 cores): 1 + 2 + 1.5 = 4.5 > 4, short: 1 core
//     left of the 3 the quota had, 2 of it for web; books only the 1 core
//     left (the API server admits pods until the quota is full).
//   - a scale-down (cache 5 → 3) frees nothing and books nothing;
//   - job 0 → 1 (500m): the quota is full, 0 left, short by 0.5.
//   - the same scale-ups in another namespace's quota are not counted, and
//     a new ledger starts from the snapshot again.
func TestQuotaLedger(t *testing.T) {
	inv := &Inventory{QuotasRead: true, Quotas: []metrics.ResourceQuota{
		{Namespace: "shop", Name: "compute", Hard: map[string]float64{"requests.cpu": 4, "pods": 10}, Used: map[string]float64{"requests.cpu": 1, "pods": 2}},
		{Namespace: "batch", Name: "compute", Hard: map[string]float64{"requests.cpu": 2, "pods": 10}, Used: map[string]float64{"requests.cpu": 0, "pods": 0}},
	}}
	wl := func(ns, name string) *policy.Workload {
		return &policy.Workload{Target: policy.Target{Kind: "Deployment", Namespace: ns, Name: name}, Request: policy.Resources{CPU: 0.5}}
	}
	l := inv.QuotaLedger()
	if s := l.ScaleUpShortfalls(wl("shop", "web"), 2, 6); len(s) != 0 {
		t.Errorf("web: %v, want it to fit", s)
	}
	s := l.ScaleUpShortfalls(wl("shop", "api"), 1, 4)
	if len(s) != 1 || s[0].Resource != "requests.cpu" || s[0].Need != 1.5 || s[0].Earlier != 2 || s[0].Left() != 1 || s[0].Shortfall() != 0.5 {
		t.Fatalf("api: %+v, want requests.cpu short: 1.5 needed, 1 left after web's 2", s)
	}
	want := "QUOTA: 3 more pods need 1.5 cores of requests.cpu, but quota shop/compute has 1 cores left (1 cores used of 4 cores, 2 cores of it for the plan's scale-ups before this one): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short"
	if got := s[0].String(); got != want {
		t.Errorf("message\n got %s\nwant %s", got, want)
	}
	if s := l.ScaleUpShortfalls(wl("shop", "cache"), 5, 3); len(s) != 0 {
		t.Errorf("a scale-down: %v", s)
	}
	s = l.ScaleUpShortfalls(wl("shop", "job"), 0, 1)
	if len(s) != 1 || s[0].Left() != 0 || s[0].Earlier != 3 || s[0].Shortfall() != 0.5 {
		t.Errorf("job: %+v, want short by 0.5 with nothing left", s)
	}
	if s := l.ScaleUpShortfalls(wl("batch", "etl"), 0, 4); len(s) != 0 {
		t.Errorf("batch: %v, want it to fit its own quota", s)
	}
	if s := inv.QuotaLedger().ScaleUpShortfalls(wl("shop", "api"), 1, 4); len(s) != 0 {
		t.Errorf("a new ledger: %v, want api to fit alone", s)
	}
	var none *Inventory
	if s := none.QuotaLedger().ScaleUpShortfalls(wl("shop", "api"), 1, 40); s != nil {
		t.Errorf("no inventory: %v", s)
	}
}
