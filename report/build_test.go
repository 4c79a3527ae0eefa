package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
)

func loadPlan(t *testing.T, doc string) *config.Plan {
	t.Helper()
	p, err := config.Load("plan.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const rampPlan = `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: ramp}
spec:
  history: {source: metrics-server, maxAge: 2h}
  forecast: {quantile: 0.95, model: fourier-trend}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: "1", memory: 1Gi}
      utilization: {cpu: 0.5}
      replicas: {min: 2, max: 100}
      nodePool: general
  nodePools:
    - name: general
      machine: {cpu: 4, memory: 64Gi, pods: 110, pricePerHour: 0.1}
      size: {min: 1, max: 5}
      zones: 1
`

// rampData is hourly CPU usage on a noise-free ramp, cpu_k = 1.005 +
// slope·k cores at Start + k hours. The plan forecasts with fourier-trend,
// whose linear trend recovers a ramp exactly (automatic selection ties
// between several exact fits on noise-free data and may pick a damped one).
func rampData(n int, slope float64) *Data {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cpu := make([]float64, n)
	pods := make([]float64, n)
	for k := range cpu {
		cpu[k] = 1.005 + slope*float64(k)
		pods[k] = 4
	}
	last := start.Add(time.Duration(n-1) * time.Hour)
	return &Data{Newest: last, Start: start, Step: time.Hour, Workloads: []WorkloadData{{
		Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"},
		CPU:      cpu, Pods: pods, Last: last, LastCPU: cpu[n-1], LastMemory: math.NaN()}}}
}

// Worked by hand: the pool's demand is usage over the 0.5 utilization
// target, 2.01 + 0.02·k cores; at its maximum of 5 nodes of 4 cores it
// holds 20. The forecast of a noise-free ramp is the ramp itself with no
// spread, so demand first exceeds 20 at k = 900 (19.99 at 899, 20.01 at
// 900): Start + 900 h, which is 900 − 335 = 565 h = 23.54 days after the
// newest sample (k = 335). With a 30-day threshold that is a warning, not
// critical (above 10 days).
func TestBuildRunwayOnARamp(t *testing.T) {
	d := rampData(14*24, 0.01)
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pools[0]
	if float64(p.CapacityMaxCPU) != 20 {
		t.Fatalf("capacity at max %v, want 20", p.CapacityMaxCPU)
	}
	if want := 2.01 + 0.02*335; math.Abs(float64(p.DemandCPU)-want) > 1e-9 {
		t.Errorf("demand now %v, want %v", p.DemandCPU, want)
	}
	want := d.Start.Add(900 * time.Hour)
	if p.Runway == nil || !p.Runway.Equal(want) {
		t.Fatalf("runway %v, want %v (forecast model %s)", p.Runway, want, r.Workloads[0].Forecast.Model)
	}
	if math.Abs(float64(p.RunwayDays)-565.0/24) > 1e-9 {
		t.Errorf("runway days %v, want %v", p.RunwayDays, 565.0/24)
	}
	var runway []Finding
	for _, f := range r.Findings {
		if f.Kind == KindRunway {
			runway = append(runway, f)
		}
	}
	if len(runway) != 1 || runway[0].Severity != Warning || runway[0].Subject != "general" || !strings.Contains(runway[0].Message, "23.5 days") {
		t.Errorf("runway findings %v, want one warning of 23.5 days for general", runway)
	}

	// A runway threshold of 90 days makes 23.5 days critical (below 30).
	r, _ = Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1, RunwayWarn: 90 * 24 * time.Hour})
	if f := findingOf(r, KindRunway); f == nil || f.Severity != Critical {
		t.Errorf("runway finding %v, want critical", f)
	}
	// A 20-day horizon does not reach the crossing: no runway, no finding.
	r, _ = Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1, Horizon: 20 * 24 * time.Hour})
	if r.Pools[0].Runway != nil || findingOf(r, KindRunway) != nil || r.Pools[0].Horizon != "20d" {
		t.Errorf("runway %v horizon %s finding %v, want none within 20d", r.Pools[0].Runway, r.Pools[0].Horizon, findingOf(r, KindRunway))
	}
}

// Worked by hand: a steeper ramp, 1.005 + 0.05·k, needs 2.01 + 0.1·335 =
// 35.51 cores now, already above the 20 the pool holds at its maximum: the
// runway is now, 0 days, critical.
func TestBuildRunwayExhausted(t *testing.T) {
	d := rampData(14*24, 0.05)
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pools[0]
	if p.Runway == nil || !p.Runway.Equal(d.Newest) || p.RunwayDays != 0 {
		t.Fatalf("runway %v (%v days), want now", p.Runway, p.RunwayDays)
	}
	if f := findingOf(r, KindRunway); f == nil || f.Severity != Critical {
		t.Errorf("runway finding %v, want critical", f)
	}
}

func findingOf(r *Report, kind string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].Kind == kind {
			return &r.Findings[i]
		}
	}
	return nil
}

// Worked by hand: n+1 headroom on a pool of two 4-core nodes (one zone)
// running web's 4 pods of 1 core (plus api's 2 of 1 core) — 6 cores on 8:
// losing a node evicts up to 4 cores that the other's 0 to 2 free cores
// cannot take, so n+1 does not hold now. With 3 nodes (12 cores, 6 used)
// it holds: any one node's pods fit in the other two's free 6 cores.
func TestBuildHeadroomNow(t *testing.T) {
	doc := strings.Replace(rampPlan, "headroom: none", "", 1) + "      headroom: n+1\n"
	for _, tc := range []struct {
		nodes int
		holds bool
	}{{2, false}, {3, true}} {
		d := rampData(3*24, 0)
		var nodes []metrics.Node
		names := map[string]int{}
		for i := range tc.nodes {
			n := string(rune('a'+i)) + "1"
			nodes = append(nodes, metrics.Node{Name: n, Pool: "general", Zone: "z", Ready: true, KubeletVersion: "v1.31.0", CPU: 4, Memory: 64 << 30})
			names[n] = 0
		}
		d.Inventory = &metrics.Inventory{At: d.Newest, ControlPlaneVersion: "v1.31.0", Nodes: nodes, Workloads: []metrics.WorkloadState{
			{Workload: d.Workloads[0].Workload, Pods: 4, Ready: 4, CPURequest: 1, MemoryRequest: 1 << 30, Nodes: map[string]int{"a1": 2, "b1": 2}},
			{Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "api"}, Pods: 2, Ready: 2, CPURequest: 1, MemoryRequest: 1 << 30, Nodes: map[string]int{"a1": 1, "b1": 1}},
		}}
		r, err := Build(loadPlan(t, doc), d, Options{Now: d.Newest, Backtest: -1})
		if err != nil {
			t.Fatal(err)
		}
		p := r.Pools[0]
		if (p.HeadroomNow == "holds") != tc.holds {
			t.Errorf("%d nodes: headroom now %q, want holds=%v", tc.nodes, p.HeadroomNow, tc.holds)
		}
		if f := findingOf(r, KindHeadroom); (f == nil) != tc.holds {
			t.Errorf("%d nodes: headroom finding %v", tc.nodes, f)
		}
		if p.Nodes != tc.nodes || p.MonthlyCostNow != float64(tc.nodes)*0.1*730 {
			t.Errorf("%d nodes: pool %d nodes costing %v", tc.nodes, p.Nodes, p.MonthlyCostNow)
		}
	}
}

// Same inputs, same bytes, in every format.
func TestBuildDeterministic(t *testing.T) {
	render := func() []byte {
		r := storeReport(t)
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if a, b := render(), render(); !bytes.Equal(a, b) {
		t.Error("two reports of the same store differ")
	}
}

func TestHTMLStore(t *testing.T) {
	r := storeReport(t)
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, b.Bytes())
	// 3 workloads with CPU history (ghost has none), 2 pools with demand and
	// 2 quotas whose namespaces' demand is forecast.
	if n := strings.Count(b.String(), "<svg"); n != 7 {
		t.Errorf("%d charts, want 7", n)
	}
	if !strings.Contains(b.String(), "quota shop/compute: requests.cpu demand") {
		t.Error("no chart of shop/compute's requests.cpu demand (its runway resource)")
	}
}

// A node in a pool the plan does not list is shown but not priced, and
// the report says so; a store without an inventory says that too.
func TestBuildUnpricedAndNoInventory(t *testing.T) {
	d := rampData(3*24, 0)
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "no inventory snapshot") {
		t.Errorf("warnings %q lack the missing inventory", r.Warnings)
	}
	d.Inventory = &metrics.Inventory{At: d.Newest, Nodes: []metrics.Node{
		{Name: "g1", Pool: "general", Zone: "z", Ready: true, CPU: 4},
		{Name: "s1", Pool: "spare", Zone: "z", Ready: true, CPU: 4},
		{Name: "s2", Pool: "spare", Zone: "z", Ready: true, CPU: 4},
	}}
	r, err = Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "not counted in the cost: spare (2 nodes)") {
		t.Errorf("warnings %q lack the unpriced pool", r.Warnings)
	}
	if want := 0.1 * 730; math.Abs(r.Summary.MonthlyCost-want) > 1e-9 {
		t.Errorf("monthly cost %v, want %v (one priced node)", r.Summary.MonthlyCost, want)
	}
}

// Worked by hand: add memory to the flat CPU ramp, mem_k = 8.1 + 0.4·k GiB.
// At the plan's default 0.8 memory target the pool needs 10.125 + 0.5·k
// GiB; at its maximum of 5 nodes of 64 GiB it holds 320, first exceeded at
// k = 620 (319.9 at 619, 320.1 at 620): Start + 620 h, 285 h = 11.875 days
// after the newest sample, before the CPU runway (k = 900): the runway is
// memory's, and under 30 days but above a third of them it is a warning.
func TestBuildMemoryRunway(t *testing.T) {
	d := rampData(14*24, 0.01)
	const gb = 1 << 30
	mem := make([]float64, len(d.Workloads[0].CPU))
	for k := range mem {
		mem[k] = (8.1 + 0.4*float64(k)) * gb
	}
	d.Workloads[0].Memory = mem
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pools[0]
	if float64(p.CapacityMaxMemory) != 320*gb {
		t.Fatalf("memory capacity at max %v, want 320 GiB", p.CapacityMaxMemory)
	}
	if want := d.Start.Add(620 * time.Hour); p.Runway == nil || !p.Runway.Equal(want) || p.RunwayResource != "memory" {
		t.Fatalf("runway %v (%s), want memory at %v", p.Runway, p.RunwayResource, want)
	}
	if math.Abs(float64(p.RunwayDays)-285.0/24) > 1e-9 {
		t.Errorf("runway days %v, want %v", p.RunwayDays, 285.0/24)
	}
	if f := findingOf(r, KindRunway); f == nil || f.Severity != Warning || !strings.Contains(f.Message, "memory demand") || !strings.Contains(f.Message, "320 GiB") {
		t.Errorf("runway finding %v, want a memory warning at 320 GiB", f)
	}
}

// A plan's spec.forecast.seasonality reaches the report's forecasts: on a
// daily cycle over a ramp, cpu_k = 3 + 0.01·k + sin(2πk/24), automatic
// selection detects the 24 h period and picks one of the seasonal models
// (holt-winters, stl, fourier, fourier-trend fit the cycle; the others
// cannot), while `seasonality: []` says the demand has no seasonal period,
// so only the non-seasonal candidates (and the seasonal-naive baseline)
// are tried, as runner/plan.go does for the same plan.
func TestBuildHonoursPlanSeasonality(t *testing.T) {
	d := rampData(14*24, 0)
	for k := range d.Workloads[0].CPU {
		d.Workloads[0].CPU[k] = 3 + 0.01*float64(k) + math.Sin(2*math.Pi*float64(k)/24)
	}
	seasonal := map[string]bool{"holt-winters": true, "stl": true, "fourier": true, "fourier-trend": true}
	auto := strings.Replace(rampPlan, "forecast: {quantile: 0.95, model: fourier-trend}", "forecast: {quantile: 0.95}", 1)
	none := strings.Replace(rampPlan, "forecast: {quantile: 0.95, model: fourier-trend}", "forecast: {quantile: 0.95, seasonality: []}", 1)
	if auto == rampPlan || none == rampPlan {
		t.Fatal("plan edit did not apply")
	}
	if p := loadPlan(t, none); p.SeasonalPeriods() == nil || len(p.SeasonalPeriods()) != 0 {
		t.Fatalf("seasonality: [] loads as %v, want an empty, non-nil list", p.SeasonalPeriods())
	}
	r, err := Build(loadPlan(t, auto), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Workloads[0].Forecast; f == nil || !seasonal[f.Model] {
		t.Fatalf("detected seasonality: forecast %+v, want a seasonal model", f)
	}
	r, err = Build(loadPlan(t, none), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Workloads[0].Forecast; f == nil || seasonal[f.Model] {
		t.Fatalf("seasonality: []: forecast %+v, want a non-seasonal model", f)
	}

	// The rolling-origin backtest takes the plan's seasonality too: its
	// scores are those of forecast.Evaluate given the same list, and differ
	// from detection's (which scores the seasonal models and lets auto pick them).
	series := d.series("web", d.Workloads[0].CPU)
	for _, tc := range []struct {
		plan, other string
		given       []time.Duration
	}{{auto, "[]", nil}, {none, "nil", []time.Duration{}}} {
		want, err := forecast.Evaluate(series, forecast.EvalOptions{Horizon: 24, Origins: 2, Level: 0.95, Seasonality: tc.given})
		if err != nil {
			t.Fatal(err)
		}
		otherSeasons := []time.Duration{}
		if tc.given != nil {
			otherSeasons = nil
		}
		other, err := forecast.Evaluate(series, forecast.EvalOptions{Horizon: 24, Origins: 2, Level: 0.95, Seasonality: otherSeasons})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Build(loadPlan(t, tc.plan), d, Options{Now: d.Newest, Backtest: 2})
		if err != nil {
			t.Fatal(err)
		}
		f := r.Workloads[0].Forecast
		if f == nil || f.EvalOrigins != 2 || float64(f.RelMASE) != want.RelMASE || float64(f.EvalSMAPE) != want.Auto.SMAPE {
			t.Fatalf("seasonality %v: backtest %+v, want relative MASE %v and sMAPE %v (forecast.Evaluate)", tc.given, f, want.RelMASE, want.Auto.SMAPE)
		}
		if want.RelMASE == other.RelMASE {
			t.Errorf("seasonality %v: relative MASE %v is the same with %s: the comparison cannot tell them apart", tc.given, want.RelMASE, tc.other)
		}
	}
}
