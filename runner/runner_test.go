package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

const testPlan = `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: shop}
spec:
  history: {source: metrics-server, maxAge: 10m}
  forecast: {model: naive}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: 500m}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 10}
    - target: {kind: Deployment, namespace: shop, name: api}
      resources: {cpu: 500m}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 10}
    - target: {kind: Deployment, namespace: shop, name: report}
      resources: {cpu: 500m}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 10}
      mode: recommend
    - target: {kind: Deployment, namespace: shop, name: broken}
      resources: {cpu: 500m}
      utilization: {cpu: 0.5}
      replicas: {min: 1, max: 10}
`

var (
	web    = policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}
	api    = policy.Target{Kind: "Deployment", Namespace: "shop", Name: "api"}
	report = policy.Target{Kind: "Deployment", Namespace: "shop", Name: "report"}
	broken = policy.Target{Kind: "Deployment", Namespace: "shop", Name: "broken"}
	t0     = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
)

// snapshot is a metrics-server-like source: at each collection, every
// workload's present usage with its pods, stamped the window's end.
type snapshot struct {
	cpu  map[policy.Target]float64
	pods map[policy.Target]int
	err  error
}

func (s *snapshot) Name() string { return "metrics-server" }

func (s *snapshot) Collect(_ context.Context, w metrics.Window) (*metrics.Batch, error) {
	if s.err != nil {
		return nil, s.err
	}
	b := &metrics.Batch{Source: "metrics-server", Window: w}
	for t, v := range s.cpu {
		wl := metrics.Workload{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}
		n := float64(s.pods[t])
		b.Series = append(b.Series,
			metrics.Series{Key: metrics.Key{Workload: wl, Resource: metrics.CPU}, Points: []metrics.Point{{T: w.End, V: v}}},
			metrics.Series{Key: metrics.Key{Workload: wl, Resource: metrics.Pods}, Points: []metrics.Point{{T: w.End, V: n}}},
			metrics.Series{Key: metrics.Key{Workload: wl, Resource: metrics.PodsWithMetrics}, Points: []metrics.Point{{T: w.End, V: n}}})
	}
	return b, nil
}

// cluster reads the current counts from the dry-run actuator, as a real
// cluster would show what the actuator wrote.
type cluster struct {
	d       *actuator.DryRun
	missing map[policy.Target]bool
}

func (c *cluster) Current(_ context.Context, ws []*policy.Workload) map[policy.Target]Current {
	out := map[policy.Target]Current{}
	for _, w := range ws {
		if !c.missing[w.Target] {
			out[w.Target] = Current{Replicas: c.d.Replicas[w.Target]}
		}
	}
	return out
}

// failing wraps an actuator and fails for some targets.
type failing struct {
	actuator.Actuator
	fail map[policy.Target]bool
}

func (f *failing) SetReplicas(ctx context.Context, now time.Time, t policy.Target, n int32, reason string) (actuator.Action, error) {
	if f.fail[t] {
		return actuator.Action{}, errors.New("injected: 500 Internal Server Error")
	}
	return f.Actuator.SetReplicas(ctx, now, t, n, reason)
}

func setup(t *testing.T) (*Runner, *actuator.DryRun, *clocktesting.FakeClock, *snapshot) {
	t.Helper()
	p, err := config.Load("plan.yaml", []byte(testPlan))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Two hours of history every 5 minutes: web at a steady 1 core on 2 pods,
	// api's history ends an hour before now (stale), broken like web.
	var b metrics.Batch
	b.Source = "seed"
	for _, tg := range []policy.Target{web, broken, report} {
		wl := metrics.Workload{Kind: tg.Kind, Namespace: tg.Namespace, Name: tg.Name}
		s := metrics.Series{Key: metrics.Key{Workload: wl, Resource: metrics.CPU}}
		for k := 24; k >= 1; k-- {
			s.Points = append(s.Points, metrics.Point{T: t0.Add(-time.Duration(k) * 5 * time.Minute), V: 1})
		}
		b.Series = append(b.Series, s)
	}
	wl := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "api"}
	s := metrics.Series{Key: metrics.Key{Workload: wl, Resource: metrics.CPU}}
	for k := 36; k >= 12; k-- {
		s.Points = append(s.Points, metrics.Point{T: t0.Add(-time.Duration(k) * 5 * time.Minute), V: 1})
	}
	b.Series = append(b.Series, s)
	if _, err := st.Write(context.Background(), &b, t0); err != nil {
		t.Fatal(err)
	}
	d := &actuator.DryRun{Replicas: map[policy.Target]int32{web: 2, api: 3, report: 2, broken: 2}}
	src := &snapshot{cpu: map[policy.Target]float64{web: 1, broken: 1, report: 1}, pods: map[policy.Target]int{web: 2, broken: 2, report: 2}}
	clk := clocktesting.NewFakeClock(t0)
	r := &Runner{Plan: p, Source: src, Store: st, Cluster: &cluster{d: d}, Actuator: d, Clock: clk}
	return r, d, clk, src
}

// TestCycle runs one cycle and checks each target against a hand-worked answer.
//
// web: 1 core of demand (naive forecast of a flat series), 0.5 core requests
// at 50 % target utilization: each replica carries 0.25 core, so the forecast
// needs ceil(1 / 0.25) = 4; the reactive floor on 2 pods at 1 core is
// ceil(2 × (0.5 / 0.25)) = 4 too; the default scale-up limit from 2 is
// max(2 × 2, 2 + 4) = 6, so 4 stands: 2 → 4, rule forecast.
// api: its last sample is 65 min old, beyond maxAge 10m: hold at 3.
// report: recommend mode: decided (4), not applied.
// broken: the actuator fails: failed, exit code 1, the others still applied.
func TestCycle(t *testing.T) {
	r, d, _, _ := setup(t)
	r.Actuator = &failing{Actuator: d, fail: map[policy.Target]bool{broken: true}}
	reg := prometheus.NewPedanticRegistry()
	r.Metrics = NewMetrics(reg)
	var logs bytes.Buffer
	r.Log = NewLogger(&logs, nil)
	res, err := r.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := byTarget(res)
	if g := got[web]; g.Planned == nil || g.Action == nil {
		t.Fatalf("web: %v %q", g.Outcome, g.Note)
	}
	if g := got[web]; g.Outcome != OutcomeScaled || g.Planned.Decision.Desired != 4 || g.Planned.Decision.Rule != policy.RuleForecast || g.Action.From != 2 || g.Action.To != 4 {
		t.Errorf("web: %v %+v %v", g.Outcome, g.Planned.Decision, g.Action)
	}
	if g := got[api]; g.Outcome != OutcomeHeld || g.Planned.Decision.Desired != 3 || !strings.Contains(strings.Join(g.Planned.Decision.Warnings, ";"), "stale") {
		t.Errorf("api: %v %+v", g.Outcome, g.Planned.Decision)
	}
	if g := got[report]; g.Outcome != OutcomeRecommended || g.Planned.Decision.Desired != 4 || g.Action != nil {
		t.Errorf("report: %v %+v", g.Outcome, g.Planned.Decision)
	}
	if g := got[broken]; g.Outcome != OutcomeFailed || !strings.Contains(g.Note, "500") {
		t.Errorf("broken: %v %q", g.Outcome, g.Note)
	}
	if res.ExitCode() != 1 || d.Replicas[web] != 4 || d.Replicas[api] != 3 || d.Replicas[report] != 2 || d.Replicas[broken] != 2 {
		t.Errorf("exit %d, replicas %v", res.ExitCode(), d.Replicas)
	}
	// The decision log has one row per target with the outcome.
	rows, err := r.Store.Decisions(context.Background(), metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil || len(rows) != 5 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	actions := map[string]string{}
	for _, row := range rows {
		if row.Action == "scale" {
			if row.Workload.Name != "web" || string(row.Detail) != `{"from":2,"to":4}` {
				t.Errorf("scale row %s %s", row.Workload, row.Detail)
			}
			continue
		}
		var det LogDetail
		if err := json.Unmarshal(row.Detail, &det); err != nil || det.Decision.Target.Name != row.Workload.Name || row.Action != ActionDecision {
			t.Errorf("%s: %s detail %s: %v", row.Workload.Name, row.Action, row.Detail, err)
		}
		actions[row.Workload.Name] = det.Outcome.String()
	}
	if actions["web"] != "scaled" || actions["api"] != "held" || actions["report"] != "recommended" || actions["broken"] != "failed" {
		t.Errorf("logged actions %v", actions)
	}
	// Metrics: one failed cycle, the decisions by rule and outcome, one actuation failure.
	if err := testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP headroom_actuation_failures_total Changes the actuator could not make, by kind (replicas, pool-size).
# TYPE headroom_actuation_failures_total counter
headroom_actuation_failures_total{kind="replicas"} 1
# HELP headroom_cycles_total Run cycles by result: ok (every target handled), failed (some targets or the collection failed), invalid (the plan), skipped (another run held the lease).
# TYPE headroom_cycles_total counter
headroom_cycles_total{result="failed"} 1
# HELP headroom_decisions_total Decisions by the rule that set them and what was done (scaled, unchanged, held, recommended, refused, failed).
# TYPE headroom_decisions_total counter
headroom_decisions_total{outcome="failed",rule="forecast"} 1
headroom_decisions_total{outcome="held",rule="hold"} 1
headroom_decisions_total{outcome="recommended",rule="forecast"} 1
headroom_decisions_total{outcome="scaled",rule="forecast"} 1
`), "headroom_actuation_failures_total", "headroom_cycles_total", "headroom_decisions_total"); err != nil {
		t.Error(err)
	}
	// Logs: JSON lines with Cloud Logging's severity and message.
	var sawError, sawWarning bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if _, ok := m["level"]; ok {
			t.Fatalf("log line has level: %s", line)
		}
		if m["message"] == "decision" && m["target"] == broken.String() && m["severity"] == "ERROR" {
			sawError = true
		}
		if m["message"] == "decision" && m["target"] == api.String() && m["severity"] == "WARNING" {
			sawWarning = true
		}
	}
	if !sawError || !sawWarning {
		t.Errorf("logs lack the ERROR and WARNING decisions:\n%s", logs.String())
	}
}

// TestCycleIdempotent: a second run five minutes later, with the same
// usage, changes nothing.
func TestCycleIdempotent(t *testing.T) {
	r, d, clk, _ := setup(t)
	if _, err := r.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.Replicas[web] != 4 || d.Replicas[broken] != 4 {
		t.Fatalf("first run: %v", d.Replicas)
	}
	n := len(d.Actions)
	clk.Step(5 * time.Minute)
	res, err := r.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Actions) != n {
		t.Fatalf("second run acted: %v", d.Actions[n:])
	}
	c := res.Count()
	if c[OutcomeUnchanged] != 2 || c[OutcomeHeld] != 1 || c[OutcomeRecommended] != 1 || res.ExitCode() != 0 {
		t.Fatalf("second run: %v, exit %d", c, res.ExitCode())
	}
}

// TestCycleCollectionFails: with the source down and the stored data 50
// minutes old at the next run, every target holds and the exit code is 1.
func TestCycleCollectionFails(t *testing.T) {
	r, d, clk, src := setup(t)
	src.err = errors.New("metrics API unavailable")
	clk.Step(45 * time.Minute)
	res, err := r.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := res.Count()
	if c[OutcomeHeld] != 3 || c[OutcomeRecommended] != 1 || res.CollectErr == nil || res.ExitCode() != 1 || len(d.Actions) != 0 {
		t.Fatalf("%v collect=%v exit %d actions %v", c, res.CollectErr, res.ExitCode(), d.Actions)
	}
}

// TestCycleShard: two shards split the plan's targets between them.
func TestCycleShard(t *testing.T) {
	seen := map[policy.Target]int{}
	for i := range 2 {
		r, _, _, _ := setup(t)
		r.Shard = Shard{i, 2}
		res, err := r.Cycle(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range res.Targets {
			seen[tr.Target]++
			if ShardOf(tr.Target, 2) != i {
				t.Errorf("shard %d handled %s", i, tr.Target)
			}
		}
	}
	if len(seen) != 4 {
		t.Fatalf("targets handled: %v", seen)
	}
	for tg, n := range seen {
		if n != 1 {
			t.Errorf("%s handled %d times", tg, n)
		}
	}
}

// TestCycleMissingTarget: a target the cluster does not have fails; the
// others go on.
func TestCycleMissingTarget(t *testing.T) {
	r, d, _, _ := setup(t)
	r.Cluster = &cluster{d: d, missing: map[policy.Target]bool{web: true}}
	res, _ := r.Cycle(context.Background())
	for _, tr := range res.Targets {
		if tr.Target == web && (tr.Outcome != OutcomeFailed || !strings.Contains(tr.Note, "not found")) {
			t.Errorf("web: %v %q", tr.Outcome, tr.Note)
		}
	}
	if d.Replicas[broken] != 4 || res.ExitCode() != 1 {
		t.Errorf("replicas %v exit %d", d.Replicas, res.ExitCode())
	}
}

type lock struct {
	free            bool
	acquired, freed int
}

func (l *lock) TryAcquire(context.Context) (bool, string, error) {
	if !l.free {
		return false, "other-pod", nil
	}
	l.free = false
	l.acquired++
	return true, "", nil
}
func (l *lock) Renew(context.Context) error   { return nil }
func (l *lock) Release(context.Context) error { l.free = true; l.freed++; return nil }
func (l *lock) RenewEvery() time.Duration     { return time.Minute }

func TestCycleLease(t *testing.T) {
	r, d, _, _ := setup(t)
	l := &lock{}
	r.Lock = l
	r.Metrics = NewMetrics(nil)
	res, err := r.Cycle(context.Background())
	if err != nil || res.Skipped == "" || len(res.Targets) != 0 || len(d.Actions) != 0 || res.ExitCode() != 0 {
		t.Fatalf("held lease: %+v %v", res, err)
	}
	if v := testutil.ToFloat64(r.Metrics.Cycles.WithLabelValues("skipped")); v != 1 {
		t.Fatalf("skipped cycles %v", v)
	}
	l.free = true
	res, err = r.Cycle(context.Background())
	if err != nil || res.Skipped != "" || l.acquired != 1 || l.freed != 1 || d.Replicas[web] != 4 {
		t.Fatalf("free lease: %+v %v %+v", res, err, l)
	}
}

func TestCheck(t *testing.T) {
	w := &policy.Workload{Target: web, Min: 1, Max: 10}
	zero := &policy.Workload{Target: api, Min: 0, Max: 10}
	named := map[policy.Target]*policy.Workload{web: w, api: zero}
	dec := func(tg policy.Target, cur, des, lo, hi, up, down int32) policy.Decision {
		return policy.Decision{Target: tg, Current: cur, Desired: des, Numbers: policy.Numbers{Min: lo, Max: hi, ScaleUpLimit: up, ScaleDownLimit: down}}
	}
	for _, c := range []struct {
		name string
		d    policy.Decision
		want string
	}{
		{"ok", dec(web, 2, 4, 1, 10, 6, -1), ""},
		{"not named", dec(report, 2, 4, 1, 10, 6, -1), "not named"},
		{"to zero, min 1", dec(web, 2, 0, 0, 10, -1, 0), "scale to zero"},
		{"to zero, min 0", dec(api, 2, 0, 0, 10, -1, 0), ""},
		{"above max", dec(web, 2, 11, 1, 10, 20, -1), "outside the bounds"},
		{"beyond up limit", dec(web, 2, 9, 1, 10, 6, -1), "beyond this run's limit of 6"},
		{"window min beats the limit", dec(web, 2, 9, 9, 10, 6, -1), ""},
		{"beyond down limit", dec(web, 8, 2, 1, 10, -1, 4), "beyond this run's limit of 4"},
	} {
		if got := Check(named, c.d); c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestCyclePools: the pool plan is applied after the workloads. The
// planned pods are web 4, api 3 (held at its current count), report 2
// (recommend mode: its current count) and broken 4 (the plan does not
// know its change will fail): 13 pods of 500m; a 4-core node holds 8, so
// the pool needs ceil(13 / 8) = 2 nodes. A pool with provider none is
// planned, never sized.
func TestCyclePools(t *testing.T) {
	r, d, _, _ := setup(t)
	p, err := config.Load("plan.yaml", []byte(testPlan+`  nodePools:
    - name: general
      machine: {cpu: 4, memory: 16Gi}
      size: {min: 1, max: 10}
    - name: spare
      machine: {cpu: 4, memory: 16Gi}
      size: {min: 0, max: 10}
`))
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.NodePools[0].Provider = "cluster-api" // set after validation: the provider's own fields are not under test
	r.Plan, r.SizePools = p, true
	var seen *policy.PoolPlan
	r.OnPoolPlan = func(pp policy.PoolPlan) { seen = &pp }
	res, err := r.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PoolActions) != 1 || res.PoolActions[0].Pool != "general" || res.PoolActions[0].Nodes != 2 || res.PoolActions[0].Err != nil {
		t.Fatalf("pool actions %+v", res.PoolActions)
	}
	if n, ok := d.Pools["general"]; !ok || n != 2 {
		t.Fatalf("pools set %v", d.Pools)
	}
	if _, ok := d.Pools["spare"]; ok || seen == nil {
		t.Fatalf("spare sized, or no plan seen: %v %v", d.Pools, seen)
	}
}

// byTarget is a cycle's target results by target.
func byTarget(res *Result) map[policy.Target]TargetResult {
	got := map[policy.Target]TargetResult{}
	for _, tr := range res.Targets {
		got[tr.Target] = tr
	}
	return got
}
