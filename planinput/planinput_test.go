package planinput_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	. "github.com/headroom-dev/headroom/planinput"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/runner"
)

var now = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

const storePlan = `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: p}
spec:
  interval: 5m
  history: {source: metrics-server, store: h.db}
  forecast: {model: naive}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: 500m}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 20}
      leadTime: auto
    - target: {kind: Deployment, namespace: shop, name: api}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 20}
`

var (
	web = metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	api = metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "api"}
)

// constant writes n samples of v every 5 minutes up to now.
func constant(wl metrics.Workload, r metrics.Resource, n int, v float64) metrics.Series {
	s := metrics.Series{Key: metrics.Key{Workload: wl, Resource: r}}
	for i := n - 1; i >= 0; i-- {
		s.Points = append(s.Points, metrics.Point{T: now.Add(-time.Duration(i) * 5 * time.Minute), V: v})
	}
	return s
}

// fixture is a store with three days of metrics-server collections of web
// and api, and an inventory snapshot.
func fixture(t *testing.T) (*config.Plan, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	p, err := config.Load(filepath.Join(dir, "p.yaml"), []byte(storePlan))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const n = 3 * 24 * 12
	b := &metrics.Batch{Source: "metrics-server", Window: metrics.Window{Start: now, End: now}, Series: []metrics.Series{
		// web: 4 pods, all reporting, 2 cores in all.
		constant(web, metrics.CPU, n, 2), constant(web, metrics.Pods, n, 4), constant(web, metrics.PodsWithMetrics, n, 4),
		// api: 10 pods, 8 reporting 0.8 cores; requests from the pod template.
		constant(api, metrics.CPU, n, 0.8), constant(api, metrics.Pods, n, 10), constant(api, metrics.PodsWithMetrics, n, 8),
		constant(api, metrics.CPURequest, n, 0.5),
	}}
	ctx := context.Background()
	if _, err := st.Write(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	inv := metrics.Inventory{At: now, Workloads: []metrics.WorkloadState{{Workload: web, Pods: 4, Ready: 4, CPURequest: 0.5}}}
	if err := st.PutInventory(ctx, inv); err != nil {
		t.Fatal(err)
	}
	return p, st
}

// plan plans every workload of p from the store as headroom plan and run
// do: FromStore, FromLog, then the shared plan step.
func plan(t *testing.T, p *config.Plan, st *store.Store, current map[metrics.Workload]Current) map[metrics.Workload]*runner.Planned {
	t.Helper()
	ctx := context.Background()
	inv, err := LatestInventory(ctx, st, now)
	if err != nil {
		t.Fatal(err)
	}
	out := map[metrics.Workload]*runner.Planned{}
	for i := range p.Spec.Workloads {
		w, err := p.PolicyWorkload(i)
		if err != nil {
			t.Fatal(err)
		}
		var cur *Current
		if c, ok := current[WorkloadOf(w.Target)]; ok {
			cur = &c
		}
		in, err := FromStore(ctx, st, w, now, cur, inv)
		if err != nil {
			t.Fatal(err)
		}
		if err := FromLog(ctx, st, &p.Spec.Workloads[i], w, in); err != nil {
			t.Fatal(err)
		}
		if in.Skipped != "" {
			t.Fatalf("%s skipped: %s", w.Target, in.Skipped)
		}
		out[WorkloadOf(w.Target)] = runner.PlanWorkload(p, i, w, runner.Inputs{CPU: in.CPU, Memory: in.Memory, Input: in.Input, Warnings: in.Warnings})
	}
	return out
}

func TestPlanFromStore(t *testing.T) {
	p, st := fixture(t)
	res := plan(t, p, st, nil)
	// web: a constant 2 cores; a naive forecast of a constant series is the
	// constant: ceil(2 / (0.5 × 0.5)) = 8. The HPA formula on 4 reporting
	// pods: 2000m × 100 / (500m × 4) = 100% against 50% → ratio 2 → 8.
	// Current 4 (the inventory); the default scale-up allows
	// max(4 + 4, 4 × 2) = 8 per 15 s. A first cycle: 4 → 8 by the forecast.
	w := res[web]
	d := w.Decision
	if d.Current != 4 || d.Desired != 8 || d.Numbers.ForecastReplicas != 8 || d.Numbers.ReactiveReplicas != 8 || d.Rule != policy.RuleForecast {
		t.Errorf("web: %+v (%s)", d, d.Reason())
	}
	if d.Numbers.DemandCPU != 2 {
		t.Errorf("web demand %v, want 2", d.Numbers.DemandCPU)
	}
	// leadTime: auto with nothing measured: the default (1m), said so.
	if d.Numbers.LeadTime != time.Minute || d.Numbers.LeadTimeSource != policy.LeadTimeDefault {
		t.Errorf("web lead time %v from %q", d.Numbers.LeadTime, d.Numbers.LeadTimeSource)
	}
	// api: requests from the store (500m). 8 of 10 pods report 0.8 cores:
	// demand 0.8 × 10/8 = 1 core → forecast ceil(1 / 0.25) = 4. The HPA
	// formula: 800m × 100 / (500m × 8) = 20% → 0.4 < 1, so the 2 missing pods
	// count at their request: (800 + 2 × 500) × 100 / (500 × 10) = 36% → 0.72
	// → ceil(0.72 × 10) = 8 > forecast: the reactive floor, 10 → 8 (the
	// default scale-down allows 100% per 15 s; no past recommendation).
	a := res[api]
	d = a.Decision
	if d.Current != 10 || d.Desired != 8 || d.Numbers.ForecastReplicas != 4 || d.Numbers.ReactiveReplicas != 8 || d.Rule != policy.RuleReactiveFloor {
		t.Errorf("api: %+v (%s)", d, d.Reason())
	}
	if a.Workload.Request.CPU != 0.5 || d.Numbers.DemandCPU != 1 {
		t.Errorf("api request %v demand %v", a.Workload.Request, d.Numbers.DemandCPU)
	}
}

func TestPlanReadsTheDecisionLog(t *testing.T) {
	p, st := fixture(t)
	ctx := context.Background()
	leadOf := func(wl metrics.Workload, ago time.Duration, secs float64) store.Decision {
		b, _ := json.Marshal(LeadTimeDetail{Seconds: secs, Desired: 4, DecidedAt: now.Add(-ago - time.Duration(secs)*time.Second)})
		return store.Decision{T: now.Add(-ago), Workload: wl, Action: ActionLeadTime, Detail: b}
	}
	lead := func(ago time.Duration, secs float64) store.Decision { return leadOf(web, ago, secs) }
	// A run's decision row (runner.LogDetail) for api two minutes ago.
	rec := policy.Decision{Target: policy.Target{Kind: "Deployment", Namespace: "shop", Name: "api"}, Time: now.Add(-2 * time.Minute), Current: 10, Desired: 9, Recommendation: 9, Rule: policy.RuleForecast}
	detail, err := json.Marshal(map[string]any{"outcome": "scaled", "decision": rec, "action": map[string]any{"from": 10, "to": 9, "changed": true}})
	if err != nil {
		t.Fatal(err)
	}
	recRow := store.Decision{T: rec.Time, Workload: api, Action: ActionDecision, Detail: detail}
	rows := []store.Decision{
		lead(40*24*time.Hour, 1000), // outside the 30 days
		lead(3*24*time.Hour, 30), lead(2*24*time.Hour, 300), lead(24*time.Hour, 90), lead(time.Hour, 60),
		// web was scaled 2 → 4 ten seconds ago.
		{T: now.Add(-10 * time.Second), Workload: web, Action: ActionScale, Detail: json.RawMessage(`{"kind":"replicas","from":2,"to":4}`)},
		// a decision after now is not history yet
		{T: now.Add(time.Minute), Workload: web, Action: ActionDecision, Detail: json.RawMessage(`{"decision":{"time":"2026-11-02T12:01:00Z","recommendation":1,"rule":"forecast"}}`)},
		recRow,
		leadOf(api, 2*time.Hour, 120), leadOf(api, time.Hour, 40),
	}
	if err := st.AppendDecisions(ctx, rows); err != nil {
		t.Fatal(err)
	}
	res := plan(t, p, st, nil)
	// web: the lead time is the median of 30, 300, 90, 60 s = (60 + 90)/2 = 75 s.
	// The scale-up 2 → 4 ten seconds ago is inside the 15 s periods: they
	// start from 4 − 2 = 2, so Pods allows 2 + 4 = 6 and Percent 2 × 2 = 4:
	// max 6 instead of 8.
	d := res[web].Decision
	if d.Numbers.LeadTime != 75*time.Second || !strings.HasPrefix(d.Numbers.LeadTimeSource, "auto: median of 4 start-ups") {
		t.Errorf("web lead time %v from %q", d.Numbers.LeadTime, d.Numbers.LeadTimeSource)
	}
	if !strings.HasSuffix(d.Reason(), "; lead time 1m15s (auto: median of 4 start-ups measured in the last 30d)") {
		t.Errorf("web reason %q does not say where the lead time came from", d.Reason())
	}
	// api's lead time is the plan's (1 minute, no leadTime line): it stays,
	// and its own measured start-ups (120 s and 40 s: median 80 s) are
	// reported next to it.
	a := res[api].Decision
	if a.Numbers.LeadTime != time.Minute || a.Numbers.LeadTimeSource != "plan; measured median 1m20s of 2 start-ups in the last 30d" {
		t.Errorf("api lead time %v from %q", a.Numbers.LeadTime, a.Numbers.LeadTimeSource)
	}
	if d.Numbers.Window != 75*time.Second+5*time.Minute {
		t.Errorf("web window %v", d.Numbers.Window)
	}
	if d.Desired != 6 || d.Rule != policy.RuleRateLimit || d.Numbers.ScaleUpLimit != 6 {
		t.Errorf("web: desired %d by %s (limit %d), want 6 by rate-limit", d.Desired, d.Rule, d.Numbers.ScaleUpLimit)
	}
	// api: a recommendation of 9 two minutes ago is inside the 300 s
	// scale-down window: max(8, 9) = 9 instead of 8.
	d = res[api].Decision
	if d.Desired != 9 || d.Rule != policy.RuleStabilization || d.Recommendation != 8 {
		t.Errorf("api: desired %d by %s, recommendation %d; want 9 by stabilization from 8", d.Desired, d.Rule, d.Recommendation)
	}
	// The caller's current state wins over the inventory.
	res = plan(t, p, st, map[metrics.Workload]Current{web: {Replicas: 6}})
	if d := res[web].Decision; d.Current != 6 {
		t.Errorf("web current %d, want 6 from Options.Current", d.Current)
	}
}

func TestStaleInventoryIsSaid(t *testing.T) {
	p, st := fixture(t)
	ctx := context.Background()
	later := now.Add(30 * time.Minute) // the default max age is 10 minutes
	inv, err := LatestInventory(ctx, st, later)
	if err != nil || inv == nil || !inv.At.Equal(now) {
		t.Fatalf("inventory %+v %v", inv, err)
	}
	w, err := p.PolicyWorkload(0)
	if err != nil {
		t.Fatal(err)
	}
	in, err := FromStore(ctx, st, w, later, nil, inv)
	if err != nil {
		t.Fatal(err)
	}
	if in.Input.Current != 4 || !strings.Contains(strings.Join(in.Warnings, "\n"), "current replicas (4) from the inventory of 2026-11-02T12:00:00Z, 30m0s before now: stale") {
		t.Errorf("current %d, warnings %q", in.Input.Current, in.Warnings)
	}
	// And the policy holds on the stale usage rather than scaling on it.
	d := runner.PlanWorkload(p, 0, w, runner.Inputs{CPU: in.CPU, Memory: in.Memory, Input: in.Input, Warnings: in.Warnings}).Decision
	if d.Rule != policy.RuleHold || d.Apply {
		t.Errorf("stale data: %s (apply %v), want a hold", d.Rule, d.Apply)
	}
}

// TestMeasuredLeadTimeWidensTheHorizon: a measured lead time (leadTime: auto)
// longer than the plan's horizon still gets a forecast over its whole window.
func TestMeasuredLeadTimeWidensTheHorizon(t *testing.T) {
	p, err := config.Load("p.yaml", []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: p}
spec:
  interval: 5m
  forecast: {model: snaive, horizon: 1h}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: "1"}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 100}
      leadTime: auto
`))
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.PolicyWorkload(0)
	if err != nil {
		t.Fatal(err)
	}
	// Three days every 5 minutes at 1 core, with a daily burst of 20 cores
	// 90 minutes after the time of day of the last sample: seasonal naive
	// forecasts it 90 minutes ahead.
	last := now
	s := &forecast.Series{Name: "cpu", Step: 5 * time.Minute, Start: last.Add(-3*24*time.Hour + 5*time.Minute)}
	for i := range 3 * 288 {
		v := 1.0
		if at := s.Start.Add(time.Duration(i) * s.Step); at.Sub(last.Add(90*time.Minute-24*time.Hour))%(24*time.Hour) == 0 {
			v = 20
		}
		s.Values = append(s.Values, v)
	}
	in := runner.Inputs{CPU: s, Input: policy.Input{Now: last, Current: 2, CurrentMin: 1}}
	// With the default lead time (1m) the window is 6 minutes: 1 core → 2.
	if d := runner.PlanWorkload(p, 0, w, in).Decision; d.Numbers.ForecastReplicas != 2 {
		t.Fatalf("default lead time: forecast %d replicas, want 2", d.Numbers.ForecastReplicas)
	}
	// Measured: 90 minutes. The window is 95 minutes, past the plan's 1h
	// horizon, and holds the burst: 20 cores / (1 × 0.5) = 40.
	w.LeadTime = 90 * time.Minute
	d := runner.PlanWorkload(p, 0, w, in).Decision
	if d.Numbers.ForecastReplicas != 40 || d.Numbers.DemandCPU != 20 {
		t.Errorf("measured lead time: forecast %d replicas on %v cores, want 40 on 20", d.Numbers.ForecastReplicas, d.Numbers.DemandCPU)
	}
}

// TestBudgetTrimSurvivesAReplan: when a budget trims a workload, the planned
// workload carries the trim's inputs, so re-deciding at the same count (as a
// conflict's re-plan does) gives the trimmed decision, not the untrimmed one.
func TestBudgetTrimSurvivesAReplan(t *testing.T) {
	p, err := config.Load("p.yaml", []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: p}
spec:
  forecast: {model: median}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: "1", memory: 1Gi}
      utilization: {cpu: 0.5}
      replicas: {min: 2, max: 200}
  nodePools:
    - {name: p, machine: {cpu: 4, memory: 16Gi, pricePerHour: 1}, size: {max: 100}, zones: 2, headroom: zone}
  budget: {monthly: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.PolicyWorkload(0)
	if err != nil {
		t.Fatal(err)
	}
	// 20 ± 8 cores (a fixed LCG): the 0.95 forecast is well above the median.
	s := &forecast.Series{Name: "cpu", Step: 5 * time.Minute, Start: now.Add(-3 * 24 * time.Hour)}
	x := uint64(7)
	for range 3 * 288 {
		x = x*6364136223846793005 + 1442695040888963407
		s.Values = append(s.Values, 20+float64(x>>40)/float64(1<<24)*16-8)
	}
	last := s.Time(len(s.Values) - 1)
	in := runner.Inputs{CPU: s, Input: policy.Input{Now: last, Current: 30, CurrentMin: 2, Usage: &policy.Usage{Time: last, CPU: 12, Reporting: 30}}}
	pl := runner.PlanWorkload(p, 0, w, in)
	untrimmed := pl.Decision
	if _, err := runner.PlanPools(p, []*runner.Planned{pl}); err != nil {
		t.Fatal(err)
	}
	if pl.Decision.Desired >= untrimmed.Desired || !strings.Contains(strings.Join(pl.Decision.Warnings, "\n"), "BUDGET: planned") {
		t.Fatalf("not trimmed: %d (untrimmed %d), warnings %q", pl.Decision.Desired, untrimmed.Desired, pl.Decision.Warnings)
	}
	if again := policy.Replicas(pl.Workload, pl.Input); again.Desired != pl.Decision.Desired {
		t.Errorf("re-decided %d, trimmed %d (untrimmed %d)", again.Desired, pl.Decision.Desired, untrimmed.Desired)
	}
}
