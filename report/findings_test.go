package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// Worked by hand: the capacity is 10; the forecast upper quantile crosses
// it at step 3 (10 is not above 10; 10.5 is), so the runway is start + 3
// steps; a NaN step is skipped; a forecast that never crosses has none.
func TestRunway(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		upper []float64
		cap   float64
		want  int // step, -1: none
	}{
		{"crosses at step 3", []float64{8, 9, 10, 10.5, 12}, 10, 3},
		{"NaN skipped", []float64{8, nan64, 11}, 10, 2},
		{"never", []float64{1, 2, 3}, 10, -1},
		{"at once", []float64{11, 12}, 10, 0},
		{"no capacity", []float64{1, 2}, 0, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Runway(start, time.Hour, tc.upper, tc.cap)
			if tc.want < 0 {
				if ok {
					t.Errorf("runway %v, want none", got)
				}
				return
			}
			if want := start.Add(time.Duration(tc.want) * time.Hour); !ok || !got.Equal(want) {
				t.Errorf("runway %v (%v), want %v", got, ok, want)
			}
		})
	}
}

var nan64 = float64(nan)

// The skew policy: kubelet never newer than the API server; at most three
// minors older from API server 1.28 on, two before.
func TestKubeletSkew(t *testing.T) {
	for _, tc := range []struct {
		kubelet, cp string
		ok          bool
	}{
		{"v1.31.1", "v1.31.2", true},  // same minor, older patch
		{"v1.31.3", "v1.31.2", true},  // newer patch, same minor: fine
		{"v1.32.0", "v1.31.2", false}, // newer minor
		{"v1.28.9", "v1.31.0", true},  // 3 older, API server ≥ 1.28
		{"v1.27.3", "v1.31.2", false}, // 4 older
		{"v1.25.0", "v1.27.0", true},  // 2 older, API server < 1.28
		{"v1.24.0", "v1.27.0", false}, // 3 older, API server < 1.28
		{"v1.30.2-gke.1", "v1.31.4-eks", true},
		{"garbage", "v1.31.0", false},
	} {
		got := KubeletSkew(tc.kubelet, tc.cp)
		if (got == "") != tc.ok {
			t.Errorf("KubeletSkew(%s, %s) = %q, want ok=%v", tc.kubelet, tc.cp, got, tc.ok)
		}
	}
}

// Worked by hand on a constructed cluster: nodes a1, a2 in zone a, b1 in
// zone b (pool p1), and c1 in zone c (pool p2, alone in its zone):
//   - solo: 1 pod, plan minimum 1      → critical one-replica
//   - floor: 1 pod, plan minimum 3     → warning one-replica (below the minimum)
//   - stray: 1 pod, not in the plan    → critical one-replica
//   - stacked: 3 pods all on a1        → critical one-node
//   - zoned: 2 pods on a1 and a2       → warning one-zone (zone a of 3)
//   - spread: 2 pods on a1 and b1      → nothing
//   - idle: 0 pods                     → nothing
//   - pool p2 in one zone with 1 node  → info pool-one-zone; p1 spans a, b → nothing
func TestSPOFs(t *testing.T) {
	w := func(n string) metrics.Workload { return metrics.Workload{Kind: "Deployment", Namespace: "x", Name: n} }
	inv := &metrics.Inventory{
		Nodes: []metrics.Node{{Name: "a1", Pool: "p1", Zone: "a"}, {Name: "a2", Pool: "p1", Zone: "a"}, {Name: "b1", Pool: "p1", Zone: "b"}, {Name: "c1", Pool: "p2", Zone: "c"}},
		Workloads: []metrics.WorkloadState{
			{Workload: w("solo"), Pods: 1, Nodes: map[string]int{"a1": 1}},
			{Workload: w("floor"), Pods: 1, Nodes: map[string]int{"b1": 1}},
			{Workload: w("stray"), Pods: 1, Nodes: map[string]int{"c1": 1}},
			{Workload: w("stacked"), Pods: 3, Nodes: map[string]int{"a1": 3}},
			{Workload: w("zoned"), Pods: 2, Nodes: map[string]int{"a1": 1, "a2": 1}},
			{Workload: w("spread"), Pods: 2, Nodes: map[string]int{"a1": 1, "b1": 1}},
			{Workload: w("idle"), Pods: 0},
		},
	}
	mins := map[metrics.Workload]int32{w("solo"): 1, w("floor"): 3, w("stacked"): 2, w("zoned"): 2, w("spread"): 2, w("idle"): 0}
	type fk struct {
		sev  Severity
		kind string
		subj string
	}
	var got []fk
	for _, f := range SPOFs(inv, mins) {
		got = append(got, fk{f.Severity, f.Kind, f.Subject})
	}
	want := []fk{
		{Critical, KindOneNode, "Deployment/x/stacked"},
		{Critical, KindOneReplica, "Deployment/x/solo"},
		{Critical, KindOneReplica, "Deployment/x/stray"},
		{Warning, KindOneReplica, "Deployment/x/floor"},
		{Warning, KindOneZone, "Deployment/x/zoned"},
		{Info, KindPoolOneZone, "p2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %v\nwant %v", got, want)
	}
	// A pool of two nodes in one zone is a warning, not info.
	inv.Nodes = append(inv.Nodes, metrics.Node{Name: "c2", Pool: "p2", Zone: "c"})
	fs := SPOFs(inv, mins)
	found := false
	for _, f := range fs {
		if f.Kind == KindPoolOneZone && f.Subject == "p2" && f.Severity == Warning {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning for pool p2 with two nodes in zone c: %v", fs)
	}
}

func TestNoRequests(t *testing.T) {
	inv := &metrics.Inventory{Workloads: []metrics.WorkloadState{
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: "x", Name: "bare"}, Pods: 2},
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: "x", Name: "memonly"}, Pods: 2, MemoryRequest: 1 << 20},
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: "x", Name: "ok"}, Pods: 2, CPURequest: 0.1},
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: "x", Name: "gone"}, Pods: 0},
	}}
	fs := NoRequests(inv)
	if len(fs) != 2 || fs[0].Subject != "Deployment/x/bare" || fs[0].Severity != Warning || fs[1].Subject != "Deployment/x/memonly" || fs[1].Severity != Info {
		t.Errorf("got %v", fs)
	}
}

// onGrid: point k holds the mean of the samples in [start+kh, start+(k+1)h),
// the store's clock-hour buckets.
func TestOnGrid(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	pts := []metrics.Point{{T: at(-90), V: 100}, {T: at(-1), V: 1}, {T: at(0), V: 3}, {T: at(59), V: 9}, {T: at(60), V: 20}, {T: at(119), V: 10}, {T: at(180), V: 99}}
	got := onGrid(pts, start, time.Hour, 3)
	// k=0: [0, 1h) → 3, 9 → 6; k=1: [1h, 2h) → 20, 10 → 15; k=2: [2h, 3h) → none;
	// −90 and −1 min are before the grid, 180 min is past it.
	if got[0] != 6 || got[1] != 15 || got[2] == got[2] {
		t.Errorf("got %v, want [6 15 NaN]", got)
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30d", 60 * time.Hour: "2.5d", 2770516 * time.Minute: "1924d", 5 * time.Hour: "5h",
		150 * time.Minute: "2.5h", 90 * time.Minute: "90m", 15 * time.Minute: "15m", 90 * time.Second: "1m30s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}
