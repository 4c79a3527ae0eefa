package planinput

import (
	"testing"

	"github.com/headroom-dev/headroom/metrics"
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
