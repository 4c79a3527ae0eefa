package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

// headroom plan warns when a decision's scale-up needs more of the
// namespace's ResourceQuota than the inventory snapshot says is left.
// Worked by hand: web uses 3 cores at 0.5 utilization of 500m per replica,
// so it wants 12 replicas; from 5, the HPA's default scale-up rate allows
// max(5 + 4, 2 × 5) = 10: 5 more pods, 2.5 more cores. Quota compute has
// 4 cores and 2.5 used (web's 5 pods): 1.5 left, short. A quota scoped to
// a PriorityClass and one in another namespace say nothing.
func TestPlanWarnsOfQuota(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	db := filepath.Join(dir, "h.db")
	st, err := store.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	web := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	series := func(r metrics.Resource, v float64) metrics.Series {
		s := metrics.Series{Key: metrics.Key{Workload: web, Resource: r}}
		for i := 2 * 24 * 12; i >= 0; i-- {
			s.Points = append(s.Points, metrics.Point{T: now.Add(-time.Duration(i) * 5 * time.Minute), V: v})
		}
		return s
	}
	cpu := map[string]float64{"requests.cpu": 4}
	b := &metrics.Batch{Source: "metrics-server", Window: metrics.Window{Start: now, End: now},
		Series:     []metrics.Series{series(metrics.CPU, 3), series(metrics.Pods, 5), series(metrics.PodsWithMetrics, 5)},
		States:     []metrics.WorkloadState{{Workload: web, Pods: 5, Ready: 5, CPURequest: 0.5}},
		QuotasRead: true,
		Quotas: []metrics.ResourceQuota{
			{Namespace: "shop", Name: "compute", Hard: cpu, Used: map[string]float64{"requests.cpu": 2.5}},
			{Namespace: "shop", Name: "high", Hard: cpu, Used: map[string]float64{"requests.cpu": 2.5}, Scopes: []string{"PriorityClass In (high)"}},
			{Namespace: "batch", Name: "compute", Hard: cpu, Used: map[string]float64{"requests.cpu": 4}},
		}}
	if _, err := st.Write(context.Background(), b, now); err != nil {
		t.Fatal(err)
	}
	st.Close()
	plan := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(plan, []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: x}
spec:
  history: {source: metrics-server, store: `+db+`}
  forecast: {model: naive}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: 500m}
      utilization: {cpu: 0.5}
      replicas: {max: 40}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "plan", "--config", plan, "--at", now.Format(time.RFC3339), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Decisions []struct {
			Current, Desired int32
			Warnings         []string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Decisions) != 1 || doc.Decisions[0].Current != 5 || doc.Decisions[0].Desired != 10 {
		t.Fatalf("decisions %s", out)
	}
	var quota []string
	for _, w := range doc.Decisions[0].Warnings {
		if strings.HasPrefix(w, "QUOTA:") {
			quota = append(quota, w)
		}
	}
	want := "QUOTA: 5 more pods need 2.5 cores of requests.cpu, but quota shop/compute has 1.5 cores left (2.5 cores used of 4 cores): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short"
	if len(quota) != 1 || quota[0] != want {
		t.Errorf("quota warnings %q, want [%q]", quota, want)
	}
	// The table output lists it under warnings, named by target.
	if _, text, _ := runCLI(t, "plan", "--config", plan, "--at", now.Format(time.RFC3339)); !strings.Contains(text, "Deployment/shop/web: "+want) {
		t.Errorf("plan table without the quota warning:\n%s", text)
	}
}
