package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

const gi = 1 << 30

// quotaData is rampData (web in shop: CPU 1.005 + 0.01·k cores at hour k,
// k = 0…335) with an inventory of web's 4 pods (1 core, 1 GiB each) and
// the given quotas of shop.
func quotaData(quotas ...metrics.ResourceQuota) *Data {
	d := rampData(14*24, 0.01)
	d.Inventory = &metrics.Inventory{At: d.Newest, QuotasRead: true, Quotas: quotas, Workloads: []metrics.WorkloadState{
		{Workload: d.Workloads[0].Workload, Pods: 4, Ready: 4, CPURequest: 1, MemoryRequest: gi},
	}}
	return d
}

func quotaOf(r *Report, name string) *Quota {
	for i := range r.Quotas {
		if r.Quotas[i].Name == name {
			return &r.Quotas[i]
		}
	}
	return nil
}

func resourceOf(q *Quota, res string) *QuotaResource {
	for i := range q.Resources {
		if q.Resources[i].Resource == res {
			return &q.Resources[i]
		}
	}
	return nil
}

func near(a Num, b float64) bool { return math.Abs(float64(a)-b) < 1e-6 }

// Worked by hand. web needs usage / (1 core × 0.5) = 2.01 + 0.02·k
// replicas (within the plan's 2 to 100), each charging the quota 1 core,
// 1 GiB and a pod. Quota compute (hard 20 cores, 64 GiB, 30 pods) counts
// 5.5 cores, 10 GiB and 6 pods: web's 4 pods charge 4 cores, 4 GiB and 4
// pods, so 1.5 cores, 6 GiB and 2 pods are other pods', held constant.
//
//   - requests.cpu: demand 1.5 + 2.01 + 0.02·k = 3.51 + 0.02·k; now (k =
//     335) 10.21; above 20 first at k = 825 (19.99 at 824, 20.01 at 825):
//     Start + 825 h, 490 h = 20.42 days after the newest sample, a warning
//     (under the 30-day threshold, above 10).
//   - pods: 2 + 2.01 + 0.02·k = 4.01 + 0.02·k, above 30 at k = 1300, past
//     the 30-day horizon (k = 336…1055): no runway; the peak at k = 1055 is
//     25.11.
//   - requests.memory: 6 + 2.01 + 0.02·k GiB, 14.71 GiB now, 29.11 at the
//     horizon's end: far below 64.
//
// Quota small (8 cores, 5.5 used) is short now: the workloads need 10.21
// cores: runway 0 days, critical. The plan scales web from 4 to 8
// replicas: 4 more cores, which fit in compute's 14.5 left but not in
// small's 2.5: a plan-exceeds-quota finding on web. A BestEffort quota is
// shown but not forecast.
func TestQuotaRunway(t *testing.T) {
	d := quotaData(
		metrics.ResourceQuota{Namespace: "shop", Name: "compute",
			Hard: map[string]float64{"requests.cpu": 20, "requests.memory": 64 * gi, "pods": 30, "limits.cpu": 40},
			Used: map[string]float64{"requests.cpu": 5.5, "requests.memory": 10 * gi, "pods": 6, "limits.cpu": 11}},
		metrics.ResourceQuota{Namespace: "shop", Name: "small", Hard: map[string]float64{"requests.cpu": 8}, Used: map[string]float64{"requests.cpu": 5.5}},
		metrics.ResourceQuota{Namespace: "shop", Name: "best-effort", Hard: map[string]float64{"pods": 5}, Used: map[string]float64{"pods": 0}, Scopes: []string{"BestEffort"}},
	)
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Quotas) != 3 || r.Quotas[0].Name != "best-effort" || r.Quotas[1].Name != "compute" {
		t.Fatalf("quotas %+v", r.Quotas)
	}
	c := quotaOf(r, "compute")
	if len(c.Workloads) != 1 || c.Workloads[0] != "Deployment/shop/web" || c.Horizon != "30d" {
		t.Errorf("compute counts %v over %s", c.Workloads, c.Horizon)
	}
	cpu, pods, mem, lim := resourceOf(c, "requests.cpu"), resourceOf(c, "pods"), resourceOf(c, "requests.memory"), resourceOf(c, "limits.cpu")
	if !near(cpu.Other, 1.5) || !near(cpu.DemandNow, 3.51+0.02*335) || !near(cpu.ForecastPeak, 3.51+0.02*1055) {
		t.Errorf("requests.cpu other %v demand now %v peak %v, want 1.5, 10.21, 24.61", cpu.Other, cpu.DemandNow, cpu.ForecastPeak)
	}
	if want := d.Start.Add(825 * time.Hour); cpu.Runway == nil || !cpu.Runway.Equal(want) || !near(cpu.RunwayDays, 490.0/24) {
		t.Errorf("requests.cpu runway %v (%v days), want %v (20.42 days)", cpu.Runway, cpu.RunwayDays, want)
	}
	if pods.Runway != nil || !near(pods.Other, 2) || !near(pods.DemandNow, 4.01+0.02*335) || !near(pods.ForecastPeak, 25.11) {
		t.Errorf("pods %+v, want no runway, other 2, demand 10.71, peak 25.11", pods)
	}
	if mem.Runway != nil || !near(mem.Other/gi, 6) || !near(mem.DemandNow/gi, 14.71) || !near(mem.ForecastPeak/gi, 29.11) {
		t.Errorf("requests.memory %+v, want no runway, other 6 GiB, demand 14.71 GiB, peak 29.11 GiB", mem)
	}
	if lim == nil || !near(lim.Used, 11) || !math.IsNaN(float64(lim.DemandNow)) || lim.Runway != nil {
		t.Errorf("limits.cpu %+v, want used 11, not forecast", lim)
	}
	if c.Runway == nil || !c.Runway.Equal(*cpu.Runway) || c.RunwayResource != "requests.cpu" {
		t.Errorf("compute runway %v %s", c.Runway, c.RunwayResource)
	}
	s := quotaOf(r, "small")
	if s.Runway == nil || !s.Runway.Equal(d.Newest) || s.RunwayDays != 0 {
		t.Errorf("small runway %v (%v days), want now", s.Runway, s.RunwayDays)
	}
	be := quotaOf(r, "best-effort")
	if be.Runway != nil || len(be.Workloads) != 0 || len(be.Warnings) != 1 || !strings.Contains(be.Warnings[0], "scoped quota") {
		t.Errorf("best-effort %+v", be)
	}

	var runway []Finding
	var plan []Finding
	for _, f := range r.Findings {
		switch f.Kind {
		case KindQuotaRunway:
			runway = append(runway, f)
		case KindQuotaPlan:
			plan = append(plan, f)
		}
	}
	if len(runway) != 2 || runway[0].Subject != "shop/small" || runway[0].Severity != Critical || !strings.Contains(runway[0].Message, "need 10.21 cores of requests.cpu now, over the quota's 8.00 cores") ||
		runway[1].Subject != "shop/compute" || runway[1].Severity != Warning || !strings.Contains(runway[1].Message, "quota runway 20.4 days") {
		t.Errorf("quota runway findings %+v", runway)
	}
	// web needs 4.355 / 0.5 = 8.71 → 9 replicas now, the forecast more; the
	// HPA's default scale-up policy allows max(100 %, 4 pods) at a time:
	// 4 → 8, 4 more pods needing 4 cores: 5.5 + 4 fits compute's 20, not
	// small's 8.
	desired := r.Workloads[0].Plan.Desired
	if desired != 8 {
		t.Fatalf("web planned %d replicas, want 8", desired)
	}
	extra := int(desired - 4)
	if len(plan) != 1 || plan[0].Subject != "Deployment/shop/web" || plan[0].Severity != Critical ||
		!strings.Contains(plan[0].Message, "adds "+plural(extra, "pod")+" needing "+fmtF(float64(extra))+" cores of requests.cpu, but quota shop/small has 2.50 cores left") ||
		!strings.Contains(plan[0].Message, "exceeded quota: small") {
		t.Errorf("plan findings %+v (web planned %d)", plan, desired)
	}

	// The table, in every format: one row per quota and resource.
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| shop | compute | requests.cpu | 5.50 | 20.00 | 27.5 | 1.50 | 10.21 | 24.61 | " + ts(d.Start.Add(825*time.Hour)) + " | 20.42 | - |",
		"| shop | compute | pods | 6.00 | 30.00 | 20.0 | 2.00 | 10.71 | 25.11 | beyond 30d | - | - |",
		"| shop | compute | requests.memory | 10.00 | 64.00 | 15.6 | 6.00 | 14.71 | 29.11 | beyond 30d | - | - |",
		"| shop | compute | limits.cpu | 11.00 | 40.00 | 27.5 | - | - | - | - | - | - |",
		"| shop | best-effort | pods | 0 | 5.00 | 0.0 | - | - | - | - | - | BestEffort |",
	} {
		if !strings.Contains(md.String(), row) {
			t.Errorf("markdown has no row %s", row)
		}
	}
	// HTML: the quotas section is a sortable table with its numbers marked
	// numeric (the sorter compares them as numbers).
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if h := page.String(); !strings.Contains(h, `<section id="quotas">`) || !strings.Contains(h, `<table class="sortable" data-name="quotas">`) ||
		!strings.Contains(h, `<th scope="col">resource</th><th class="n" scope="col">used</th><th class="n" scope="col">hard</th>`) {
		t.Error("the HTML has no sortable quotas table with numeric columns")
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.SchemaVersion != 2 || len(back.Quotas) != 3 || !near(resourceOf(&back.Quotas[1], "requests.cpu").RunwayDays, 490.0/24) {
		t.Errorf("JSON round trip: %v, %+v", err, back.Quotas)
	}
}

// A snapshot whose quotas were not read (a collector without the rule, a
// store from before quotas) says so; quotas without a use count are not
// forecast and say why; a quota already used beyond its hard limit is
// exhausted now.
func TestQuotaUnknown(t *testing.T) {
	d := quotaData()
	d.Inventory.QuotasRead = false
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Quotas) != 0 || !strings.Contains(strings.Join(r.Warnings, "\n"), "no resource quotas (collected without list on resourcequotas") {
		t.Errorf("quotas %+v warnings %q", r.Quotas, r.Warnings)
	}
	d = quotaData(
		metrics.ResourceQuota{Namespace: "shop", Name: "fresh", Hard: map[string]float64{"requests.cpu": 100}, Used: map[string]float64{}},
		metrics.ResourceQuota{Namespace: "shop", Name: "lowered", Hard: map[string]float64{"pods": 3}, Used: map[string]float64{"pods": 4}},
	)
	r, err = Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	f := quotaOf(r, "fresh")
	if f.Runway != nil || !math.IsNaN(float64(f.Resources[0].Used)) || len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "does not count it yet") {
		t.Errorf("fresh %+v", f)
	}
	l := quotaOf(r, "lowered")
	if l.Runway == nil || l.RunwayDays != 0 || l.RunwayResource != "pods" {
		t.Errorf("lowered %+v", l)
	}
	found := false
	for _, x := range r.Findings {
		if x.Kind == KindQuotaRunway && x.Subject == "shop/lowered" && x.Severity == Critical && strings.Contains(x.Message, "pods used 4 pods, over its hard limit of 3 pods") {
			found = true
		}
	}
	if !found {
		t.Errorf("no exhausted finding for shop/lowered: %+v", r.Findings)
	}
}

// A quota scoped to NotTerminating and NotBestEffort counts every pod of
// web (no activeDeadlineSeconds, requests set): forecast as an unscoped
// one, the same runway as TestQuotaRunway's compute (k = 825, 20.42
// days). One scoped to a PriorityClass is not: the report cannot tell
// which pods it counts.
func TestQuotaScopes(t *testing.T) {
	hard, used := map[string]float64{"requests.cpu": 20}, map[string]float64{"requests.cpu": 5.5}
	d := quotaData(
		metrics.ResourceQuota{Namespace: "shop", Name: "long-running", Hard: hard, Used: used, Scopes: []string{"NotTerminating", "NotBestEffort Exists"}},
		metrics.ResourceQuota{Namespace: "shop", Name: "high", Hard: hard, Used: used, Scopes: []string{"PriorityClass In (high)"}},
	)
	r, err := Build(loadPlan(t, rampPlan), d, Options{Now: d.Newest, Backtest: -1})
	if err != nil {
		t.Fatal(err)
	}
	lr := quotaOf(r, "long-running")
	if want := d.Start.Add(825 * time.Hour); lr.Runway == nil || !lr.Runway.Equal(want) || len(lr.Warnings) != 0 {
		t.Errorf("long-running: runway %v, warnings %q; want %v", lr.Runway, lr.Warnings, want)
	}
	h := quotaOf(r, "high")
	if h.Runway != nil || !math.IsNaN(float64(h.Resources[0].DemandNow)) || len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "PriorityClass In (high)") {
		t.Errorf("high: %+v", h)
	}
}
