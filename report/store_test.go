package report

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

// storeT0 is the fixture store's first sample; it holds 21 days hourly.
var storeT0 = time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)

const storeDays = 21

func wl(kind, ns, name string) metrics.Workload {
	return metrics.Workload{Kind: kind, Namespace: ns, Name: name}
}

// fixtureStore writes the store fixture into dir: three weeks of hourly
// usage (web grows by 0.25 cores a day around a daily cycle, api is flat
// with a wiggle, worker stopped reporting two hours before the others),
// pods series, decisions, and an inventory with version skew, a NotReady
// node, single points of failure and two resource quotas.
func fixtureStore(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "headroom.db")
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	web, api, worker := wl("Deployment", "shop", "web"), wl("Deployment", "shop", "api"), wl("StatefulSet", "batch", "worker")
	series := func(w metrics.Workload, r metrics.Resource, n int, f func(h int) float64) metrics.Series {
		s := metrics.Series{Key: metrics.Key{Workload: w, Resource: r}}
		for h := range n {
			s.Points = append(s.Points, metrics.Point{T: storeT0.Add(time.Duration(h) * time.Hour), V: f(h)})
		}
		return s
	}
	n := storeDays * 24
	b := &metrics.Batch{Source: "fixture", Series: []metrics.Series{
		series(web, metrics.CPU, n, func(h int) float64 {
			return 3 + 0.25*float64(h)/24 + 1.5*math.Sin(2*math.Pi*float64(h%24)/24) + 0.4*math.Sin(float64(h)*2.3)
		}),
		series(web, metrics.Memory, n, func(h int) float64 { return float64(6*300<<20) + float64(h%24)*(1<<20) }),
		series(web, metrics.Pods, n, func(int) float64 { return 6 }),
		series(api, metrics.CPU, n, func(h int) float64 { return 0.3 + 0.05*math.Sin(float64(h)*1.7) }),
		series(api, metrics.Pods, n, func(int) float64 { return 1 }),
		series(worker, metrics.CPU, n-2, func(h int) float64 { return 2.5 + 0.5*math.Sin(2*math.Pi*float64(h%24)/24) }),
		series(worker, metrics.Pods, n-2, func(int) float64 { return 2 }),
	}}
	newest := storeT0.Add(time.Duration(n-1) * time.Hour)
	if _, err := st.Write(context.Background(), b, newest); err != nil {
		t.Fatal(err)
	}
	detail, _ := json.Marshal(map[string]any{"desired": 6})
	if err := st.AppendDecisions(context.Background(), []store.Decision{
		{T: newest.Add(-2 * time.Hour), Workload: web, Action: "scale", Reason: "forecast q0.95 over the next 7m0s needs 7", Detail: detail},
		{T: newest.Add(-time.Hour), Workload: web, Action: "scale", Reason: "scale-down rate limit: at least 6 now (wanted 5)"},
		{T: newest, Workload: web, Action: "hold", Reason: "hold at 6: no fresh forecast or usage"},
	}); err != nil {
		t.Fatal(err)
	}
	node := func(name, pool, zone, version string, ready bool, cpu float64) metrics.Node {
		return metrics.Node{Name: name, Pool: pool, Zone: zone, Ready: ready, KubeletVersion: version, CPU: cpu, Memory: 15 << 30, Pods: 110}
	}
	inv := metrics.Inventory{At: newest, ControlPlaneVersion: "v1.31.2",
		Nodes: []metrics.Node{
			node("general-a-1", "general", "zone-a", "v1.31.1", true, 3.8),
			node("general-b-1", "general", "zone-b", "v1.27.3", true, 3.8),
			node("general-c-1", "general", "zone-c", "v1.32.0", true, 3.8),
			node("highmem-a-1", "highmem", "zone-a", "v1.31.2", false, 8),
		},
		Workloads: []metrics.WorkloadState{
			{Workload: web, Pods: 6, Ready: 6, CPURequest: 0.5, MemoryRequest: 512 << 20, Nodes: map[string]int{"general-a-1": 2, "general-b-1": 2, "general-c-1": 2}},
			{Workload: api, Pods: 1, Ready: 1, CPURequest: 0.25, MemoryRequest: 256 << 20, Nodes: map[string]int{"general-a-1": 1}},
			{Workload: worker, Pods: 2, Ready: 2, CPURequest: 2, MemoryRequest: 4 << 30, Nodes: map[string]int{"highmem-a-1": 2}},
			{Workload: wl("Deployment", "kube-system", "coredns"), Pods: 2, Ready: 2, CPURequest: 0.1, MemoryRequest: 70 << 20, Nodes: map[string]int{"general-a-1": 1, "highmem-a-1": 1}},
			{Workload: wl("Deployment", "tools", "debug"), Pods: 1, Ready: 0, Pending: 1},
		},
		QuotasRead: true,
		Quotas: []metrics.ResourceQuota{
			// web's 6 pods and api's one charge 3.25 cores, 3.25 GiB and 7 pods; other pods the rest.
			{Namespace: "shop", Name: "compute", Hard: map[string]float64{"requests.cpu": 6, "requests.memory": 8 << 30, "pods": 12, "limits.cpu": 12},
				Used: map[string]float64{"requests.cpu": 3.5, "requests.memory": 4 << 30, "pods": 8, "limits.cpu": 7}},
			{Namespace: "batch", Name: "pods", Hard: map[string]float64{"pods": 2}, Used: map[string]float64{"pods": 2}},
		}}
	if err := st.PutInventory(context.Background(), inv); err != nil {
		t.Fatal(err)
	}
	return path
}

func storeReport(t testing.TB) *Report {
	t.Helper()
	plan, err := config.LoadFile(filepath.Join("testdata", "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(fixtureStore(t, t.TempDir()), &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opt := Options{Now: reportNow}
	d, err := Load(context.Background(), st, plan, opt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(plan, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGoldenStore(t *testing.T) {
	formats(t, storeReport(t), "store")
}

// The fixture's findings, worked out from how it was written: worker's
// newest sample is 2 h behind the others (stale after the plan's 15 min),
// ghost never reported (in the plan: critical), kubelet v1.27.3 is 4
// minors behind v1.31.2 (at most 3) and v1.32.0 is ahead, highmem-a-1 is
// NotReady, debug requests nothing and its pod is pending, api runs one
// pod with a minimum of 1, worker's two pods share one node, coredns's two
// pods are both in zone-a, and the nodes running now (3 × 0.2 + 1 × 0.5 an
// hour × 730 = 803) cost more than the 600 budget.
func TestStoreFindings(t *testing.T) {
	r := storeReport(t)
	want := []Finding{
		{Warning, KindStale, "StatefulSet/batch/worker", ""},
		{Critical, KindMissing, "Deployment/shop/ghost", ""},
		{Warning, KindSkew, "kubelet v1.27.3", ""},
		{Warning, KindSkew, "kubelet v1.32.0", ""},
		{Warning, KindNotReady, "highmem/zone-a", ""},
		{Warning, KindNoRequests, "Deployment/tools/debug", ""},
		{Warning, KindPending, "Deployment/tools/debug", ""},
		{Critical, KindOneReplica, "Deployment/shop/api", ""},
		{Critical, KindOneNode, "StatefulSet/batch/worker", ""},
		{Warning, KindOneZone, "Deployment/kube-system/coredns", ""},
		{Warning, KindBudget, "cluster", ""},
	}
	for _, w := range want {
		found := false
		for _, f := range r.Findings {
			if f.Kind == w.Kind && f.Subject == w.Subject && f.Severity == w.Severity {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s %s finding for %s", w.Severity, w.Kind, w.Subject)
		}
	}
	if r.Summary.MonthlyCost != 803 {
		t.Errorf("monthly cost of the nodes now %v, want 803", r.Summary.MonthlyCost)
	}
	// Requested: web 6 × 0.5 + api 0.25 + worker 2 × 2 + coredns 2 × 0.1 = 7.45 cores.
	if got := float64(r.Summary.CPU.Requested); got < 7.45-1e-9 || got > 7.45+1e-9 {
		t.Errorf("requested CPU %v, want 7.45", got)
	}
	for i := 1; i < len(r.Findings); i++ {
		if r.Findings[i].Severity > r.Findings[i-1].Severity {
			t.Fatalf("findings not ordered by severity at %d: %v", i, r.Findings)
		}
	}
}

// A workload whose samples all lie before the history window is stale (its
// newest sample named), not missing; one with no series at all is missing.
func TestLoadOldSeriesIsStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	web, api := wl("Deployment", "shop", "web"), wl("Deployment", "shop", "api")
	mk := func(w metrics.Workload, from time.Time, n int) metrics.Series {
		s := metrics.Series{Key: metrics.Key{Workload: w, Resource: metrics.CPU}}
		for h := range n {
			s.Points = append(s.Points, metrics.Point{T: from.Add(time.Duration(h) * time.Hour), V: 1})
		}
		return s
	}
	apiEnd := storeT0.Add(-60*24*time.Hour + 47*time.Hour)
	if _, err := st.Write(context.Background(), &metrics.Batch{Source: "t", Series: []metrics.Series{mk(web, storeT0, 48), mk(api, storeT0.Add(-60*24*time.Hour), 48)}}, storeT0); err != nil {
		t.Fatal(err)
	}
	plan, err := config.LoadFile(filepath.Join("testdata", "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(context.Background(), st, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(plan, d, Options{Now: reportNow, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	var stale, missing []string
	for _, f := range r.Findings {
		switch f.Kind {
		case KindStale:
			stale = append(stale, f.Subject+": "+f.Message)
		case KindMissing:
			missing = append(missing, f.Subject)
		}
	}
	if len(stale) != 1 || !strings.HasPrefix(stale[0], "Deployment/shop/api: newest CPU sample "+apiEnd.Format("2006-01-02T15:04Z")) {
		t.Errorf("stale findings %q, want api's with its last sample %v", stale, apiEnd)
	}
	// worker and ghost have no series in this store.
	if strings.Join(missing, ",") != "Deployment/shop/ghost,StatefulSet/batch/worker" {
		t.Errorf("missing findings %q", missing)
	}
}
