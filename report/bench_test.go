package report

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

// benchStore writes a store and plan of nw workloads on np pools: four
// weeks of hourly CPU, memory and pods per workload (daily cycles of
// different phases, some growing), and an inventory of 10 nodes per pool
// over 3 zones. With fine, the last 8 days are sampled every 5 minutes
// instead (the cycle evaluated at each sample) and the store is compacted
// as a collector's would be, so the older 20 days are hourly aggregates and
// the last 8 days raw chunks of 12 samples: the shape of a store fed every
// 5 minutes.
func benchStore(b *testing.B, nw, np int, fine, quotas bool) (*config.Plan, string) {
	b.Helper()
	dir := b.TempDir()
	var doc strings.Builder
	doc.WriteString("apiVersion: headroom.dev/v1alpha1\nkind: CapacityPlan\nmetadata: {name: bench}\nspec:\n  history: {source: metrics-server, maxAge: 2h}\n  workloads:\n")
	for i := range nw {
		fmt.Fprintf(&doc, "    - target: {kind: Deployment, namespace: ns%d, name: w%d}\n      resources: {cpu: 500m, memory: 512Mi}\n      replicas: {min: 2, max: 50}\n      nodePool: pool%d\n", i%20, i, i%np)
	}
	doc.WriteString("  nodePools:\n")
	for p := range np {
		fmt.Fprintf(&doc, "    - name: pool%d\n      machine: {cpu: 16, memory: 64Gi, pods: 110, pricePerHour: 0.8}\n      size: {min: 3, max: 40}\n      zones: 3\n      headroom: n+1\n", p)
	}
	doc.WriteString("  budget: {monthly: 100000}\n")
	plan, err := config.Load("bench.yaml", []byte(doc.String()))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "bench.db")
	st, err := store.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	n := 28 * 24
	per, fineFrom := 1, 20*24 // samples an hour; first hour sampled that often
	if fine {
		per = 12
	}
	inv := metrics.Inventory{At: t0.Add(time.Duration(n-1) * time.Hour), ControlPlaneVersion: "v1.31.2"}
	for p := range np {
		for k := range 10 {
			inv.Nodes = append(inv.Nodes, metrics.Node{Name: fmt.Sprintf("p%d-n%d", p, k), Pool: fmt.Sprintf("pool%d", p), Zone: fmt.Sprintf("z%d", k%3),
				Ready: true, KubeletVersion: "v1.31.0", CPU: 15.8, Memory: 63 << 30, Pods: 110})
		}
	}
	for i := range nw {
		w := metrics.Workload{Kind: "Deployment", Namespace: fmt.Sprintf("ns%d", i%20), Name: fmt.Sprintf("w%d", i)}
		level, growth, phase := 0.5+float64(i%7), 0.02*float64(i%3), float64(i%24)
		var ser [3]metrics.Series
		for j, r := range []metrics.Resource{metrics.CPU, metrics.Memory, metrics.Pods} {
			ser[j].Key = metrics.Key{Workload: w, Resource: r}
		}
		for k := 0; k < n*per; k++ {
			h := float64(k) / float64(per) // hours since t0
			if fine && k < fineFrom*per && k%per != 0 {
				continue // hourly before the last 8 days
			}
			t := t0.Add(time.Duration(k) * time.Hour / time.Duration(per))
			cpu := level*(1+0.4*math.Sin(2*math.Pi*(h+phase)/24)) + growth*h/24 + 0.1*math.Sin(h*float64(i+3))
			ser[0].Points = append(ser[0].Points, metrics.Point{T: t, V: cpu})
			ser[1].Points = append(ser[1].Points, metrics.Point{T: t, V: (200 + 50*cpu) * (1 << 20)})
			ser[2].Points = append(ser[2].Points, metrics.Point{T: t, V: 4})
		}
		if _, err := st.Write(context.Background(), &metrics.Batch{Source: "bench", Series: ser[:]}, inv.At); err != nil {
			b.Fatal(err)
		}
		inv.Workloads = append(inv.Workloads, metrics.WorkloadState{Workload: w, Pods: 4, Ready: 4, CPURequest: 0.5, MemoryRequest: 512 << 20,
			Nodes: map[string]int{fmt.Sprintf("p%d-n%d", i%np, i%10): 2, fmt.Sprintf("p%d-n%d", i%np, (i+1)%10): 2}})
	}
	if quotas {
		// One quota per namespace (20), about twice what its 25 workloads request now (50 cores).
		inv.QuotasRead = true
		for ns := range 20 {
			inv.Quotas = append(inv.Quotas, metrics.ResourceQuota{Namespace: fmt.Sprintf("ns%d", ns), Name: "compute",
				Hard: map[string]float64{metrics.QuotaRequestsCPU: 100, metrics.QuotaRequestsMemory: 100 << 30, metrics.QuotaPods: 200, metrics.QuotaLimitsCPU: 200},
				Used: map[string]float64{metrics.QuotaRequestsCPU: 52, metrics.QuotaRequestsMemory: 52 << 30, metrics.QuotaPods: 104, metrics.QuotaLimitsCPU: 104}})
		}
	}
	if err := st.PutInventory(context.Background(), inv); err != nil {
		b.Fatal(err)
	}
	if fine {
		if _, err := st.Compact(context.Background(), t0.Add(time.Duration(n)*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
	return plan, path
}

// BenchmarkReport500 reads a store of 500 workloads on 10 pools, builds the
// report with the default options (500 workload forecasts over 7 days, 10
// pool forecasts over 30, policy decisions, pool plans; no rolling-origin
// backtests above BacktestLimit workloads) and renders the HTML, reporting
// its size.
// Targets: under 5 s and 5 MB.
func BenchmarkReport500(b *testing.B) { benchReport(b, false, false) }

// BenchmarkReport500Quotas is BenchmarkReport500 with a ResourceQuota in
// each of the 20 namespaces (requests.cpu, requests.memory, pods and
// limits.cpu): 60 more aggregate forecasts over 30 days.
func BenchmarkReport500Quotas(b *testing.B) { benchReport(b, false, true) }

// BenchmarkReport500Fine is BenchmarkReport500 on a store fed every 5
// minutes and compacted (20 days hourly, 8 days raw): 2,304 raw samples and
// 480 hourly aggregates a series.
func BenchmarkReport500Fine(b *testing.B) { benchReport(b, true, false) }

func benchReport(b *testing.B, fine, quotas bool) {
	plan, path := benchStore(b, 500, 10, fine, quotas)
	st, err := store.Open(path, &store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	opt := Options{Now: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	var size int
	b.ResetTimer()
	for range b.N {
		d, err := Load(context.Background(), st, plan, opt)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Build(plan, d, opt)
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if err := r.WriteHTML(&out); err != nil {
			b.Fatal(err)
		}
		size = out.Len()
	}
	b.ReportMetric(float64(size)/1e6, "html-MB")
}
