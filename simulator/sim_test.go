package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(b)) }

// workload is a test workload: request 1 core, the given utilization
// ceiling, lead time and bounds, demand on a grid from t0.
func workload(name string, util float64, lead time.Duration, lo, hi, initial int32, step time.Duration, demand []float64) Workload {
	return Workload{
		Spec: policy.Workload{Target: policy.Target{Kind: "Deployment", Namespace: "test", Name: name},
			Request: policy.Resources{CPU: 1}, Utilization: policy.Resources{CPU: util}, Min: lo, Max: hi, LeadTime: lead},
		Demand:  forecast.Series{Name: name, Start: t0, Step: step, Values: demand},
		Initial: initial,
	}
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func policyResult(t *testing.T, r *Result, name string) *PolicyResult {
	t.Helper()
	for i := range r.Policies {
		if r.Policies[i].Name == name {
			return &r.Policies[i]
		}
	}
	t.Fatalf("no policy %s", name)
	return nil
}

// A step from 2 to 10 cores with a 2-minute lead time, under the reactive
// baseline (HPA defaults, 15 s sync, target 100%): at the step the HPA
// wants 10 but may add max(4 pods, 100%) per 15 s, so 2 → 6 at T; at
// T + 15 s (6 current, 2 ready, 4 unready) it recomputes 10/6 × 6 = 10 and
// the limit is now 12, so 6 → 10. Capacity is 2 until T + 2m, 6 until
// T + 2m15s, then 10: unmet = 8 × 2 + 4 × 0.25 = 17 core-minutes, the
// worst shortfall 8 cores, short for 2m15s of 2 h.
func TestStepReactive(t *testing.T) {
	d := append(repeat(2, 60), repeat(10, 60)...)
	in := &Input{Name: "step", Workloads: []Workload{workload("web", 1, 2*time.Minute, 1, 100, 2, time.Minute, d)}}
	res, err := Run(context.Background(), in, Options{Policies: []string{Reactive}, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Reactive)
	if !near(r.UnmetCoreMinutes, 17) {
		t.Errorf("unmet %v core-minutes, want 17", r.UnmetCoreMinutes)
	}
	if !near(r.WorstShortfallCores, 8) || r.WorstShortfallAt == nil || !r.WorstShortfallAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("worst shortfall %v at %v, want 8 at %v", r.WorstShortfallCores, r.WorstShortfallAt, t0.Add(time.Hour))
	}
	if want := 135.0 / 7200; !near(r.TimeShort, want) {
		t.Errorf("time short %v, want %v", r.TimeShort, want)
	}
	if len(r.Log) != 2 || r.Log[0].To != 6 || r.Log[1].To != 10 || !r.Log[1].Time.Equal(t0.Add(time.Hour+15*time.Second)) {
		t.Errorf("actions %v, want 2 → 6 at T and 6 → 10 at T + 15 s", r.Log)
	}
	// Waste: none before the step (2 = 2), none after (10 = 10).
	if !near(r.WasteCoreHours, 0) {
		t.Errorf("waste %v", r.WasteCoreHours)
	}
	if r.Cost != 0 || r.NodeHours != 0 {
		t.Errorf("no pools, yet cost %v", r.Cost)
	}
}

// The reactive baseline's replica sequence is the policy package's HPA:
// recomputed here from policy.ReactiveReplicas and policy.Normalize on a
// ramp where every sync has ready == replicas (lead time 0).
func TestReactiveMatchesPolicyHPA(t *testing.T) {
	var d []float64
	for k := range 120 {
		d = append(d, 1+float64(k%60)*0.5) // a sawtooth: up, then a drop
	}
	in := &Input{Name: "ramp", Workloads: []Workload{workload("api", 0.7, 0, 1, 60, 2, time.Minute, d)}}
	res, err := Run(context.Background(), in, Options{Policies: []string{Reactive}, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	got := policyResult(t, res, Reactive).Log
	var h policy.History
	cur := int32(2)
	var want []int32
	for k := range 120 * 4 {
		now := t0.Add(time.Duration(k) * 15 * time.Second)
		rec, _ := policy.ReactiveReplicas(cur, cur, 0, 0, d[k/4], 1, 0.7, policy.DefaultTolerance, true)
		n := policy.Normalize(now, cur, rec, 1, 60, policy.Behavior{}, h)
		h.Recommendations = append(h.Recommendations, policy.Recommendation{Time: now, Replicas: rec})
		if n.Replicas != cur {
			h.Events = append(h.Events, policy.ScaleEvent{Time: now, From: cur, To: n.Replicas})
			cur = n.Replicas
			want = append(want, cur)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d actions, want %d (%v)", len(got), len(want), want)
	}
	for i := range want {
		if int32(got[i].To) != want[i] {
			t.Fatalf("action %d: %d, want %d", i, got[i].To, want[i])
		}
	}
}

func testPool(zones int, h policy.HeadroomMode) policy.Pool {
	return policy.Pool{Name: "general", Machine: policy.Resources{CPU: 4, Memory: 64 << 30}, Pods: 110,
		PricePerHour: 0.5, Min: 0, Max: 100, Zones: zones, Headroom: h, LeadTime: 4 * time.Minute}
}

// Static: peak 6 cores at 50% utilization of 1-core requests is 12
// replicas, 3 four-core nodes, for 10 hours at 0.5 an hour: 15.
func TestStaticCost(t *testing.T) {
	d := append(repeat(1, 300), repeat(6, 300)...)
	w := workload("web", 0.5, time.Minute, 1, 100, 1, time.Minute, d)
	in := &Input{Name: "static", Workloads: []Workload{w}, Pools: []policy.Pool{testPool(1, policy.HeadroomNone)}}
	res, err := Run(context.Background(), in, Options{Policies: []string{Static}})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Static)
	if !near(r.Cost, 3*10*0.5) || !near(r.NodeHours, 30) || r.Pools[0].PeakNodes != 3 {
		t.Errorf("cost %v, node-hours %v, peak nodes %d; want 15, 30, 3", r.Cost, r.NodeHours, r.Pools[0].PeakNodes)
	}
	if r.UnmetCoreMinutes != 0 || r.Actions != 0 || r.Workloads[0].PeakReplicas != 12 {
		t.Errorf("unmet %v, actions %d, replicas %d", r.UnmetCoreMinutes, r.Actions, r.Workloads[0].PeakReplicas)
	}
	// Waste: capacity 12 × 1 × 0.5 = 6; 5 idle cores for 5 h.
	if !near(r.WasteCoreHours, 25) {
		t.Errorf("waste %v, want 25", r.WasteCoreHours)
	}
	if b := r.Budget; !near(b.P10, 0.5*3*730) || !near(b.P90, 0.5*3*730) {
		t.Errorf("budget band %+v, want the run rate %v (under a day: no resampling)", b, 0.5*3*730)
	}
}

// A zone lost at 1 h: 12 one-core pods fill three 4-core nodes, one per
// zone; the zone's third of the pods (4) die with it. Without headroom they
// wait for the replacement node (4 minutes): 16 core-minutes unmet. With
// zone headroom (2 more nodes: any zone's loss needs a whole free node in
// the others, so one in zone 1 covers zones 0 and 2 and one in zone 0
// covers zone 1; the pool's 5 machines go round the zones 0, 1, 2, 0, 1)
// they are rescheduled at once onto zone 1's free node, and with a zero pod
// lead time nothing is unmet. Either way the pool is back at its size after
// 4 minutes.
func TestZoneLoss(t *testing.T) {
	sc, err := ParseScenario("zone.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: zone-loss}
spec:
  failures: [{at: 1h, pool: general, zone: 0}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		headroom policy.HeadroomMode
		lead     time.Duration
		nodes    int
		unmet    float64
		recovery float64 // seconds: the pool back at its size, the killed pods ready again
	}{
		{"none", policy.HeadroomNone, 0, 3, 16, 240},
		{"zone", policy.HeadroomZone, 0, 5, 0, 240},
		// With a 1-minute pod start-up, the 4 killed pods restart: 1 minute
		// short with zone headroom, 4 + 1 minutes without.
		{"none-lead", policy.HeadroomNone, time.Minute, 3, 20, 300},
		{"zone-lead", policy.HeadroomZone, time.Minute, 5, 4, 240},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := workload("web", 1, tc.lead, 1, 100, 1, time.Minute, repeat(12, 120))
			in := &Input{Name: "zone", Workloads: []Workload{w}, Pools: []policy.Pool{testPool(3, tc.headroom)}}
			res, err := Run(context.Background(), in, Options{Policies: []string{Static}, Scenario: sc})
			if err != nil {
				t.Fatal(err)
			}
			r := policyResult(t, res, Static)
			if !near(r.UnmetCoreMinutes, tc.unmet) {
				t.Errorf("unmet %v core-minutes, want %v", r.UnmetCoreMinutes, tc.unmet)
			}
			if r.Pools[0].PeakNodes != tc.nodes {
				t.Errorf("%d nodes, want %d", r.Pools[0].PeakNodes, tc.nodes)
			}
			if len(r.Failures) != 1 || r.Failures[0].RecoverySeconds != tc.recovery || !near(r.Failures[0].UnmetCoreMinutes, tc.unmet) {
				t.Errorf("failures %+v, want recovery in %v s with %v core-minutes unmet", r.Failures, tc.recovery, tc.unmet)
			}
			// The lost node is paid for until lost; its replacement from
			// creation: node-hours = nodes × 2 h exactly.
			if !near(r.NodeHours, float64(tc.nodes)*2) {
				t.Errorf("node-hours %v, want %v", r.NodeHours, float64(tc.nodes)*2)
			}
		})
	}
}

// wave is a noisy daily cycle at step for n points.
func wave(seed uint64, level float64, step time.Duration, n int) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float64, n)
	for k := range out {
		h := float64(time.Duration(k)*step) / float64(24*time.Hour)
		out[k] = level * (1 + 0.5*math.Sin(2*math.Pi*h) + 0.05*rng.NormFloat64())
	}
	return out
}

// No policy sees the future: a trace whose samples after T are changed
// gives the same actions up to T, and the same series values up to T.
func TestNoPeeking(t *testing.T) {
	step := 5 * time.Minute
	n := 2 * 288
	base := wave(1, 8, step, n)
	changed := append([]float64(nil), base...)
	cut := 400 // T = t0 + 400 × 5 min
	for k := cut + 1; k < n; k++ {
		changed[k] *= 3
	}
	win, _ := policyWindow("0 8 * * *")
	mk := func(d []float64) *Input {
		w := workload("web", 0.7, 2*time.Minute, 2, 80, 10, step, d)
		w.Spec.Windows = []policy.Window{win}
		return &Input{Name: "peek", Workloads: []Workload{w}, Pools: []policy.Pool{testPool(2, policy.HeadroomNPlus1)}, Interval: 5 * time.Minute}
	}
	names := []string{Predictive, Reactive, Scheduled}
	a, err := Run(context.Background(), mk(base), Options{Policies: names, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), mk(changed), Options{Policies: names, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	T := t0.Add(time.Duration(cut) * step)
	for i, name := range names {
		la, lb := a.Policies[i].Log, b.Policies[i].Log
		var na, nb int
		for na < len(la) && !la[na].Time.After(T) {
			na++
		}
		for nb < len(lb) && !lb[nb].Time.After(T) {
			nb++
		}
		if na != nb {
			t.Fatalf("%s: %d actions up to T, %d with the future changed", name, na, nb)
		}
		for k := range na {
			if !reflect.DeepEqual(la[k], lb[k]) {
				t.Fatalf("%s: action %d differs: %v vs %v", name, k, la[k], lb[k])
			}
		}
		sa, sb := a.Series.Policies[i], b.Series.Policies[i]
		for k, tm := range a.Series.Times {
			if tm.After(T) {
				break
			}
			if sa.Nodes[0].Values[k] != sb.Nodes[0].Values[k] || sa.Ready[0].Values[k] != sb.Ready[0].Values[k] {
				t.Fatalf("%s: series differ at %v", name, tm)
			}
		}
		if name == Predictive && na == 0 {
			t.Fatalf("predictive took no action before T")
		}
	}
	// And the change is visible after T (the test would catch a policy that
	// ignored the trace).
	if a.Policies[0].Workloads[0].PeakReplicas == b.Policies[0].Workloads[0].PeakReplicas {
		t.Errorf("tripled demand after T did not change the predictive peak (%d)", a.Policies[0].Workloads[0].PeakReplicas)
	}
}

func policyWindow(spec string) (policy.Window, error) {
	p, err := config.Load("w.yaml", []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: w}
spec:
  workloads:
    - target: {kind: Deployment, namespace: a, name: b}
      resources: {cpu: "1", memory: 1Gi}
      replicas: {min: 1, max: 80}
      windows: [{name: morning, cron: "`+spec+`", duration: 2h, minReplicas: 30}]
`))
	if err != nil {
		return policy.Window{}, err
	}
	w, err := p.PolicyWorkload(0)
	if err != nil {
		return policy.Window{}, err
	}
	return w.Windows[0], nil
}

// Same inputs and seed: the same JSON bytes, twice.
func TestDeterministic(t *testing.T) {
	sc, err := ParseScenario("s.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: busy}
spec:
  seed: 7
  growth: {percentPerMonth: 30}
  spikes: [{at: 20h, duration: 30m, factor: 2, workload: api}]
  prices: [{at: 1d, pool: general, pricePerHour: 0.6}]
  failures: [{at: 30h, pool: general, nodes: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	step := 5 * time.Minute
	mk := func() *Input {
		return &Input{Name: "det", Interval: 5 * time.Minute, Pools: []policy.Pool{testPool(2, policy.HeadroomNPlus1)},
			Workloads: []Workload{
				workload("web", 0.7, 2*time.Minute, 2, 80, 10, step, wave(1, 8, step, 3*288)),
				workload("api", 0.6, time.Minute, 1, 40, 4, step, wave(2, 3, step, 3*288)),
			}}
	}
	var out [2][]byte
	for i := range out {
		res, err := Run(context.Background(), mk(), Options{Scenario: sc})
		if err != nil {
			t.Fatal(err)
		}
		out[i], _ = json.Marshal(res)
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Fatal("two runs gave different JSON")
	}
	var res Result
	if err := json.Unmarshal(out[0], &res); err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Policies {
		// Three days: the first has no history before it to forecast from,
		// so two days of forecast errors make the budget band.
		if len(p.Failures) != 1 || p.Budget == nil || p.Budget.Days != 2 || !(p.Budget.P10 <= p.Budget.P50 && p.Budget.P50 <= p.Budget.P90) {
			t.Errorf("%s: failures %+v, budget %+v", p.Name, p.Failures, p.Budget)
		}
	}
}

func TestGrowthAndSpike(t *testing.T) {
	sc, err := ParseScenario("g.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: g}
spec:
  growth: {percentPerMonth: 30}
  spikes: [{at: 10m, duration: 5m, factor: 2, cores: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Workloads: []Workload{workload("web", 1, 0, 1, 100, 1, 5*time.Minute, repeat(10, 9000))}}
	out := sc.apply(in, t0)
	v := out.Workloads[0].Demand.Values
	if !near(v[0], 10) || !near(v[2], 20*math.Pow(1.3, 10.0/60/730)+1) || !near(v[3], 10*math.Pow(1.3, 15.0/60/730)) {
		t.Errorf("spike: %v", v[:4])
	}
	if k := 730 * 12; !near(v[k], 13) {
		t.Errorf("a month on: %v, want 13", v[k])
	}
	if in.Workloads[0].Demand.Values[2] != 10 {
		t.Error("apply changed its input")
	}
}

func TestScenarioErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {growth: {percent: 3}}", `unknown field "spec.growth.percent"`},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {spikes: [{at: 1h, duration: soon, factor: 2}]}", `invalid duration "soon"`},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {failures: [{at: 1h, pool: a}]}", "spec.failures[0]: give zone"},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Plan\nspec: {}", "kind: must be Scenario"},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {prices: [{at: 1h, pool: a, pricePerHour: -1}]}", "spec.prices[0].pricePerHour: must not be negative"},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {machines: [{pool: a, headroom: n+2}]}", `spec.machines[0].headroom: must be none, n+1 or zone, not "n+2"`},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {quantile: 1.5}", "spec.quantile: must be in (0, 1), not 1.5"},
		{"apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {reactiveUtilization: 0}", "spec.reactiveUtilization: must be in (0, 1], not 0"},
	} {
		_, err := ParseScenario("bad.yaml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: error %v, want %q", tc.doc, err, tc.want)
		}
	}
	sc, err := ParseScenario("s.yaml", []byte("apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {failures: [{at: 1h, pool: general, zone: 3}], spikes: [{at: 0s, duration: 1h, factor: 2, workload: nope}]}"))
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Workloads: []Workload{workload("web", 1, 0, 1, 10, 1, time.Minute, repeat(1, 60))}, Pools: []policy.Pool{testPool(3, 0)}}
	_, err = Run(context.Background(), in, Options{Scenario: sc})
	if err == nil || !strings.Contains(err.Error(), "spec.failures[0].zone") || !strings.Contains(err.Error(), "spec.spikes[0].workload") {
		t.Errorf("error %v", err)
	}
}

func TestShippedScenarios(t *testing.T) {
	for _, f := range []string{"../testdata/scenarios/growth.yaml", "../testdata/scenarios/zone-loss.yaml", "../testdata/scenarios/no-headroom.yaml", "../testdata/scenarios/median.yaml"} {
		sc, err := LoadScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := config.LoadFile("../testdata/plans/example.yaml")
		if err != nil {
			t.Fatal(err)
		}
		in, err := FromPlan(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.check(in); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestFromPlanExample(t *testing.T) {
	p, err := config.LoadFile("../testdata/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := FromPlan(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	start, end, err := in.Span()
	if err != nil {
		t.Fatal(err)
	}
	if end.Sub(start) < 10*24*time.Hour {
		t.Errorf("span %v – %v", start, end)
	}
	for _, w := range in.Workloads[1:] {
		if d := in.Workloads[0].Demand.End().Sub(w.Demand.End()); d.Abs() > 84*time.Hour || d%time.Minute != 0 {
			t.Errorf("%s ends %v, %v from the reference", w.Demand.Name, w.Demand.End(), d)
		}
	}
	if _, err := FromPlan(p, []TraceOverride{{File: "nope.csv"}}); err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Errorf("override error %v", err)
	}
}

// Scheduled: 10 cores all day, min 5 replicas, a window from 08:00 for 2 h
// with minReplicas 12, lead time 2 min, planner every 5 min. The window's
// minimum counts from lead time before it opens, but the 07:55 run looks
// only to 07:57, so the 08:00 run raises the count and the pods are ready
// at 08:02; at 10:00 it drops back. Short 5 cores from 00:00 to 08:02 and
// from 10:00 to 24:00: 5 × (482 + 840) = 6610 core-minutes, 2 actions.
func TestScheduledWindow(t *testing.T) {
	win, err := policyWindow("0 8 * * *")
	if err != nil {
		t.Fatal(err)
	}
	win.MinReplicas = 12
	w := workload("web", 1, 2*time.Minute, 5, 40, 5, time.Minute, repeat(10, 24*60))
	w.Spec.Windows = []policy.Window{win}
	in := &Input{Name: "cron", Workloads: []Workload{w}, Interval: 5 * time.Minute}
	res, err := Run(context.Background(), in, Options{Policies: []string{Scheduled}, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Scheduled)
	if !near(r.UnmetCoreMinutes, 6610) || r.Actions != 2 {
		t.Errorf("unmet %v core-minutes, %d actions; want 6610 and 2 (%v)", r.UnmetCoreMinutes, r.Actions, r.Log)
	}
	if !near(r.WasteCoreHours, 2*2.0-2*2.0/60) {
		t.Errorf("waste %v core-hours, want 2 cores × 1h58m", r.WasteCoreHours)
	}
}

// Pods are bound to nodes: a lost node kills the pods that ran there, not
// a share of every workload's. Two 4-core nodes in one zone; "big" (4 pods
// of 1 core) is scheduled first and fills the oldest node, "small" (4 pods)
// the other. Losing the newest node at 1 h kills small's 4 pods and none of
// big's: small is short 4 cores until the replacement node is ready (4 min)
// and its pods have started (1 min): 20 core-minutes; big loses nothing.
// (Spread in proportion, each would have lost 2 pods: 10 core-minutes each.)
// Recovery: 5 minutes.
func TestNodeLossKillsItsPods(t *testing.T) {
	sc, err := ParseScenario("node.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: node-loss}
spec:
  failures: [{at: 1h, pool: general, nodes: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Name: "node", Pools: []policy.Pool{testPool(1, policy.HeadroomNone)}, Workloads: []Workload{
		workload("big", 1, time.Minute, 1, 10, 4, time.Minute, repeat(4, 120)),
		workload("small", 1, time.Minute, 1, 10, 4, time.Minute, repeat(4, 120)),
	}}
	res, err := Run(context.Background(), in, Options{Policies: []string{Static}, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Static)
	if r.Pools[0].PeakNodes != 2 {
		t.Fatalf("%d nodes, want 2", r.Pools[0].PeakNodes)
	}
	if !near(r.Workloads[0].UnmetCoreMinutes, 0) || !near(r.Workloads[1].UnmetCoreMinutes, 20) {
		t.Errorf("unmet big %v, small %v core-minutes; want 0 and 20", r.Workloads[0].UnmetCoreMinutes, r.Workloads[1].UnmetCoreMinutes)
	}
	if len(r.Failures) != 1 || r.Failures[0].RecoverySeconds != 300 || !near(r.Failures[0].UnmetCoreMinutes, 20) {
		t.Errorf("failures %+v, want recovery in 300 s with 20 core-minutes unmet", r.Failures)
	}
}

// Pods spread over zones: 6 pods on three 4-core nodes, one per zone, run
// 2 per zone, so losing zone 0 kills 2 pods (a first fit without spreading
// would have put 4 on the zone-0 node and lost 4). The other nodes have
// room, so the 2 pods restart at once and are ready after their 1-minute
// lead time: 2 core-minutes short.
func TestZoneSpread(t *testing.T) {
	sc, err := ParseScenario("zone.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: zone-loss}
spec:
  failures: [{at: 1h, pool: general, zone: 0}]
`))
	if err != nil {
		t.Fatal(err)
	}
	in := &Input{Name: "spread", Pools: []policy.Pool{testPool(3, policy.HeadroomNone)}, Workloads: []Workload{
		workload("web", 1, time.Minute, 1, 20, 6, time.Minute, repeat(6, 120)),
	}}
	p := in.Pools[0]
	p.Min = 3
	in.Pools[0] = p
	res, err := Run(context.Background(), in, Options{Policies: []string{Static}, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Static)
	if !near(r.UnmetCoreMinutes, 2) {
		t.Errorf("unmet %v core-minutes, want 2 (2 pods for 1 minute)", r.UnmetCoreMinutes)
	}
}

// Memory demand: a workload whose memory steps from 2 to 6 GiB (1-GiB
// requests, target 100%) while its CPU stays at 2 cores. The reactive HPA
// has a memory metric too: at the step it wants 6 replicas and may add
// max(4 pods, 100%) per 15 s, so 2 → 6 at once, ready after 2 minutes:
// 4 GiB short for 2 minutes = 8 GiB-minutes, no CPU short. Static sizes for
// the memory peak: 6 replicas from the start, nothing short.
func TestMemoryDemand(t *testing.T) {
	w := workload("cache", 1, 2*time.Minute, 1, 20, 2, time.Minute, repeat(2, 120))
	w.Spec.Request.Memory, w.Spec.Utilization.Memory = gib, 1
	w.Memory = forecast.Series{Name: "cache:mem", Start: t0, Step: time.Minute, Values: append(repeat(2*gib, 60), repeat(6*gib, 60)...)}
	in := &Input{Name: "mem", Workloads: []Workload{w}}
	res, err := Run(context.Background(), in, Options{Policies: []string{Reactive, Static}, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Reactive)
	if !near(r.UnmetMemoryGiBMinutes, 8) || r.UnmetCoreMinutes != 0 || r.Workloads[0].PeakReplicas != 6 {
		t.Errorf("reactive: %v GiB-minutes, %v core-minutes unmet, peak %d replicas; want 8, 0, 6 (%v)", r.UnmetMemoryGiBMinutes, r.UnmetCoreMinutes, r.Workloads[0].PeakReplicas, r.Log)
	}
	if want := 2.0 / 120; !near(r.TimeShort, want) {
		t.Errorf("time short %v, want %v (memory counts)", r.TimeShort, want)
	}
	st := policyResult(t, res, Static)
	if st.UnmetMemoryGiBMinutes != 0 || st.Workloads[0].PeakReplicas != 6 {
		t.Errorf("static: %v GiB-minutes unmet, %d replicas; want 0 and 6", st.UnmetMemoryGiBMinutes, st.Workloads[0].PeakReplicas)
	}
	if len(res.Series.DemandMemory) != 1 || res.Series.DemandMemory[0].Values[len(res.Series.Times)-1] != 6*gib {
		t.Errorf("memory demand series %v", res.Series.DemandMemory)
	}
}

// The budget band by hand: a cost rate of 0.1 an hour per core of demand
// (two points, (10 cores, 1/h) and (20 cores, 2/h)), a run rate of 730 a
// month, and every day's forecast error +2 cores: every resampled month
// costs 730 + 0.1 × 2 × 730 = 876. Errors of -1, 0 and +1 (equally likely)
// give months within 730 ± 73; errors ten times as large a band ten times
// as wide (the same draws with the same seed), and the same seed the same band.
func TestBudgetBand(t *testing.T) {
	var fit line
	fit.add(10, 1)
	fit.add(20, 2)
	if a, b := fit.coef(); !near(a, 0) || !near(b, 0.1) {
		t.Fatalf("line %v + %v x, want 0 + 0.1 x", a, b)
	}
	b := budgetBand([]float64{2, 2, 2}, fit, 730, 800, 1, 500)
	if !near(b.P10, 876) || !near(b.P50, 876) || !near(b.P90, 876) || !b.OverP90 || b.Days != 3 || b.Samples != 500 {
		t.Errorf("band %+v, want 876 at every level, over a budget of 800", b)
	}
	narrow := budgetBand([]float64{-1, 0, 1}, fit, 730, 0, 7, 2000)
	again := budgetBand([]float64{-1, 0, 1}, fit, 730, 0, 7, 2000)
	wide := budgetBand([]float64{-10, 0, 10}, fit, 730, 0, 7, 2000)
	if *narrow != *again {
		t.Errorf("same seed, different bands: %+v, %+v", narrow, again)
	}
	if !(narrow.P10 < 730 && narrow.P90 > 730 && narrow.P10 >= 730-73 && narrow.P90 <= 730+73) {
		t.Errorf("band %+v, want around 730 within ± 73", narrow)
	}
	if w, n := wide.P90-wide.P10, narrow.P90-narrow.P10; !near(w, 10*n) {
		t.Errorf("width %v with errors ten times as large, want 10 × %v", w, n)
	}
	if other := budgetBand([]float64{-1, 0, 1}, fit, 730, 0, 8, 2000); *other == *narrow {
		t.Errorf("seeds 7 and 8 gave the same band %+v", other)
	}
	// No day of errors: the run rate.
	if b := budgetBand(nil, fit, 730, 0, 1, 100); b.P10 != 730 || b.P90 != 730 || b.Days != 0 {
		t.Errorf("band %+v without errors, want the run rate", b)
	}
}

// The band comes from the forecast errors: the same daily cycle with noise
// of 5 % and of 40 % gives the reactive policy (whose cost follows demand)
// a wider band for the noisier trace, and the same seed the same band.
func TestBudgetBandFromNoise(t *testing.T) {
	step := 5 * time.Minute
	mk := func(noise float64) *Input {
		rng := rand.New(rand.NewPCG(3, 9))
		v := make([]float64, 6*288)
		for k := range v {
			h := float64(k%288) / 288
			v[k] = max(0, 20*(1+0.5*math.Sin(2*math.Pi*h))*(1+noise*rng.NormFloat64()))
		}
		return &Input{Name: "noise", Interval: step, Pools: []policy.Pool{testPool(1, policy.HeadroomNone)},
			Workloads: []Workload{workload("web", 0.7, time.Minute, 1, 200, 30, step, v)}}
	}
	band := func(noise float64) *BudgetBand {
		res, err := Run(context.Background(), mk(noise), Options{Policies: []string{Reactive}, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		return policyResult(t, res, Reactive).Budget
	}
	calm, noisy, again := band(0.05), band(0.4), band(0.4)
	if *noisy != *again {
		t.Errorf("same input and seed, different bands: %+v, %+v", noisy, again)
	}
	if calm.Days != 5 || calm.CostPerCoreHour <= 0 {
		t.Fatalf("band %+v: want 5 days of errors and a positive cost per core", calm)
	}
	if !(noisy.P90-noisy.P10 > calm.P90-calm.P10) {
		t.Errorf("noisy band %v – %v is not wider than the calm %v – %v", noisy.P10, noisy.P90, calm.P10, calm.P90)
	}
}

// A scenario may change a pool's headroom and the planned quantile: the
// zone-headroom pool of TestZoneLoss planned without headroom has 3 nodes
// instead of 6 under the static policy, and the predictive policy plans
// the scenario's quantile.
func TestScenarioHeadroomAndQuantile(t *testing.T) {
	sc, err := ParseScenario("h.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: h}
spec:
  quantile: 0.5
  machines: [{pool: general, headroom: none}]
`))
	if err != nil {
		t.Fatal(err)
	}
	w := workload("web", 1, 0, 1, 100, 1, time.Minute, repeat(12, 120))
	in := &Input{Name: "zone", Workloads: []Workload{w}, Pools: []policy.Pool{testPool(3, policy.HeadroomZone)}, Quantile: 0.95}
	out := sc.apply(in, t0)
	if out.Pools[0].Headroom != policy.HeadroomNone || out.Quantile != 0.5 || in.Pools[0].Headroom != policy.HeadroomZone || in.Quantile != 0.95 {
		t.Errorf("applied: headroom %v, quantile %v (input %v, %v)", out.Pools[0].Headroom, out.Quantile, in.Pools[0].Headroom, in.Quantile)
	}
	res, err := Run(context.Background(), in, Options{Policies: []string{Static}, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	if r := policyResult(t, res, Static); r.Pools[0].PeakNodes != 3 || res.Pools[0].Headroom != "none" {
		t.Errorf("%d nodes with headroom %s, want 3 with none", r.Pools[0].PeakNodes, res.Pools[0].Headroom)
	}
}

// The run spans the time every series covers, memory included: a memory
// column that ends an hour early ends the run an hour early.
func TestSpanCountsMemory(t *testing.T) {
	w := workload("cache", 1, 0, 1, 20, 2, time.Minute, repeat(2, 180))
	w.Spec.Request.Memory, w.Spec.Utilization.Memory = gib, 1
	w.Memory = forecast.Series{Name: "cache:mem", Start: t0, Step: time.Minute, Values: repeat(gib, 120)}
	in := &Input{Workloads: []Workload{w}}
	start, end, err := in.Span()
	if err != nil || !start.Equal(t0) || !end.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("span %v – %v (%v), want %v – %v", start, end, err, t0, t0.Add(2*time.Hour))
	}
}

// The predictive planner decides for many workloads in parallel: one core
// or two, the same bytes (and the race detector sees the parallel path,
// which starts at 64 workloads).
func TestPredictiveParallelSameResult(t *testing.T) {
	in := scaleInput(64, 1)
	run := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := Run(context.Background(), in, Options{Policies: []string{Predictive}, Tick: time.Minute, Log: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res)
		return b
	}
	one, two := run(1), run(2)
	if !bytes.Equal(one, two) {
		t.Fatal("one core and two gave different results")
	}
}

// The predictive planner's advance of its forecasts ahead of the next plan
// (on goroutines of its own, while the pools are sized and the clock ticks)
// changes nothing but the time taken: the same bytes, every action logged,
// with it and without it, on 64 workloads (the parallel path) with hourly
// refits and on the example plan with a zone loss.
func TestPredictiveAheadSameResult(t *testing.T) {
	p, err := config.LoadFile("../testdata/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := FromPlan(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := LoadScenario("../testdata/scenarios/zone-loss.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   *Input
		opt  Options
	}{
		{"64 workloads", scaleInput(64, 2), Options{Tick: time.Minute}},
		{"example, zone loss", example, Options{Scenario: sc}},
	} {
		run := func(ahead bool) []byte {
			defer func(v bool) { advanceAhead = v }(advanceAhead)
			advanceAhead = ahead
			opt := c.opt
			opt.Policies, opt.Log = []string{Predictive}, true
			res, err := Run(context.Background(), c.in, opt)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(res)
			return b
		}
		if on, off := run(true), run(false); !bytes.Equal(on, off) {
			t.Errorf("%s: the advance ahead changed the result", c.name)
		}
	}
}

// The plan's spec.forecast.seasonality reaches the predictive policy's
// forecasts, as it reaches headroom plan's and report's: FromPlan carries
// it, and on a daily cycle (4 cores, 20 from 08:00 to 18:00; 5-minute
// samples, 4 days) the refit forecasts detect the 24 h season when the plan
// names none (nil) and take the plan's periods when it names them (12 h:
// used whatever its strength), or none for an empty list.
func TestPredictiveTakesSeasonality(t *testing.T) {
	p, err := config.LoadFile("../testdata/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Forecast.Seasonality = []config.Duration{{Duration: 24 * time.Hour}}
	if in, err := FromPlan(p, nil); err != nil || !reflect.DeepEqual(in.Seasonality, []time.Duration{24 * time.Hour}) {
		t.Fatalf("FromPlan seasonality %v (%v), want [24h]", in.Seasonality, err)
	}

	step := 5 * time.Minute
	n := 4 * 24 * 12
	d := officeHours(n)
	periods := func(season []time.Duration) []time.Duration {
		in := &Input{Name: "daily", Workloads: []Workload{workload("web", 0.7, 2*time.Minute, 1, 100, 0, step, d)}, Seasonality: season}
		s := &run{in: in, opt: &Options{}, now: t0.Add(time.Duration(n-1) * step),
			idx: [2][]int{{n - 1}, {-1}}, demand: [2][][]float64{{d}, {nil}}, held: [2][][]float64{{d}, {nil}}}
		var pr predictive
		pr.init(s)
		pr.refit(s)
		f := pr.fc[0][0]
		if f == nil {
			t.Fatalf("seasonality %v: no forecast", season)
		}
		out := []time.Duration{}
		for _, x := range f.Seasonality {
			out = append(out, x.Period)
		}
		return out
	}
	for _, c := range []struct {
		plan, want []time.Duration
	}{
		{nil, []time.Duration{24 * time.Hour}},
		{[]time.Duration{12 * time.Hour}, []time.Duration{12 * time.Hour}},
		{[]time.Duration{}, []time.Duration{}},
	} {
		if got := periods(c.plan); !reflect.DeepEqual(got, c.want) {
			t.Errorf("plan seasonality %v: forecast periods %v, want %v", c.plan, got, c.want)
		}
	}
}

// officeHours is n 5-minute samples of a daily cycle: 4 cores, and 20
// from 08:00 to 18:00.
func officeHours(n int) []float64 {
	d := make([]float64, n)
	for i := range d {
		d[i] = 4
		if h := i % (24 * 12) / 12; h >= 8 && h < 18 {
			d[i] = 20
		}
	}
	return d
}

// The predictive planner selects a model when a series has none, when the
// last selection is Reselect old, or when the history has doubled since;
// the refits in between keep the chosen model and its seasonal periods.
// Hourly refits of a daily cycle (5-minute samples, 12 an hour) over four
// days with the default daily reselection: selections at hours 1, 2, 4, 8
// and 16 (the history doubles: 12, 24, 48, 96, 192 samples), 32 (384 ≥ 2 ×
// 192, before the day since hour 16 is out), 56 and 80 (a day after the
// last, before the history doubles again). The last one fits on 60 hours
// (a quarter is held out), enough to detect the daily period.
func TestPredictiveSelectionSchedule(t *testing.T) {
	step := 5 * time.Minute
	n := 4 * 24 * 12
	d := officeHours(n)
	in := &Input{Name: "daily", Workloads: []Workload{workload("web", 0.7, 2*time.Minute, 1, 100, 0, step, d)}}
	s := &run{in: in, opt: &Options{}, idx: [2][]int{{-1}, {-1}}, demand: [2][][]float64{{d}, {nil}}, held: [2][][]float64{{d}, {nil}}}
	var pr predictive
	pr.init(s)
	var at []int
	for h := 0; h < 96; h++ {
		s.now, s.idx[0][0] = t0.Add(time.Duration(h)*time.Hour), h*12-1
		pr.refit(s)
		f, c := pr.fc[0][0], pr.chosen[0][0]
		if h == 0 {
			if f != nil || !c.at.IsZero() {
				t.Fatal("hour 0: a forecast or a selection without a sample")
			}
			continue
		}
		if f == nil {
			t.Fatalf("hour %d: no forecast", h)
		}
		if c.at.Equal(s.now) { // a selection ran now
			at = append(at, h)
			if c.seen != h*12 {
				t.Errorf("hour %d: selection recorded on %d samples", h, c.seen)
			}
			continue
		}
		// A refit: the chosen model on the chosen periods.
		var seas []time.Duration
		for _, x := range f.Seasonality {
			seas = append(seas, x.Period)
		}
		if f.Model != c.model || !slices.Equal(seas, c.seas) {
			t.Errorf("hour %d: refit %s on %v, chosen %s on %v", h, f.Model, seas, c.model, c.seas)
		}
	}
	if want := []int{1, 2, 4, 8, 16, 32, 56, 80}; !slices.Equal(at, want) {
		t.Errorf("selections at hours %v, want %v", at, want)
	}
	if got := pr.chosen[0][0].seas; !slices.Equal(got, []time.Duration{24 * time.Hour}) {
		t.Errorf("the last selection's periods %v, want [24h]", got)
	}
}

// A workload pinned to a small pool that a flexible workload prefers too
// (1-core pods waste less of the 2-core machines than of the 3.8-core
// ones): 4 cores each at 100% (4 replicas each), the small pool at most 2
// nodes (4 pods). The pinned pods go first, in the plan as in the cluster:
// batch fills the small pool, web goes to 2 general nodes (3 + 1), and
// static, which never changes, is never short. (Packed in plan order, web
// took the small pool and batch waited for the whole run.)
func TestStaticPinnedPoolFirst(t *testing.T) {
	web := workload("web", 1, 0, 1, 10, 0, time.Minute, repeat(4, 60))
	batch := workload("batch", 1, 0, 1, 10, 0, time.Minute, repeat(4, 60))
	batch.Pool = "small"
	in := &Input{Name: "pinned", Workloads: []Workload{web, batch}, Pools: []policy.Pool{
		{Name: "general", Machine: policy.Resources{CPU: 4, Memory: 16 << 30}, Overhead: policy.Resources{CPU: 0.2, Memory: 512 << 20}, Pods: 110, PricePerHour: 0.19, Max: 12, Zones: 1, LeadTime: 4 * time.Minute},
		{Name: "small", Machine: policy.Resources{CPU: 2, Memory: 8 << 30}, Pods: 110, PricePerHour: 0.1, Max: 2, Zones: 1, LeadTime: 4 * time.Minute},
	}}
	res, err := Run(context.Background(), in, Options{Policies: []string{Static}})
	if err != nil {
		t.Fatal(err)
	}
	r := policyResult(t, res, Static)
	if r.UnmetCoreMinutes != 0 || r.PendingPodMinutes != 0 {
		t.Errorf("unmet %v core-minutes, %v pending pod-minutes; want none", r.UnmetCoreMinutes, r.PendingPodMinutes)
	}
	if r.Pools[0].PeakNodes != 2 || r.Pools[1].PeakNodes != 2 {
		t.Errorf("nodes general %d small %d, want 2 and 2", r.Pools[0].PeakNodes, r.Pools[1].PeakNodes)
	}
}

// The reactive baseline's HPA target from a scenario (the frontier sweeps
// it): 4 cores of demand on 1-core pods with a 0.8 ceiling start at 5
// replicas (80 %). An HPA targeting 50 % sees a ratio of 1.6 and scales to
// ceil(1.6 × 5) = 8 at the first sync; with no start-up time they are ready
// at once. Measured against the plan's ceiling, 8 × 0.8 = 6.4 cores of
// capacity: nothing unmet, 2.4 idle cores for the hour, 2.4 core-hours of
// waste. Without the scenario the HPA holds 5 (ratio 1) and wastes nothing.
func TestReactiveUtilization(t *testing.T) {
	sc, err := ParseScenario("r.yaml", []byte("apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {reactiveUtilization: 0.5}"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sc    *Scenario
		peak  int32
		waste float64
	}{{nil, 5, 0}, {sc, 8, 2.4}} {
		in := &Input{Name: "r", Workloads: []Workload{workload("web", 0.8, 0, 1, 20, 0, time.Minute, repeat(4, 60))}}
		res, err := Run(context.Background(), in, Options{Policies: []string{Reactive}, Scenario: tc.sc})
		if err != nil {
			t.Fatal(err)
		}
		r := policyResult(t, res, Reactive)
		if w := r.Workloads[0]; w.PeakReplicas != tc.peak || !near(r.WasteCoreHours, tc.waste) || r.UnmetCoreMinutes != 0 {
			t.Errorf("scenario %v: peak %d, waste %v core-hours, unmet %v; want %d, %v, 0", tc.sc != nil, w.PeakReplicas, r.WasteCoreHours, r.UnmetCoreMinutes, tc.peak, tc.waste)
		}
	}
}

// A GKE node pool in 3 zones is sized per zone (the actuator sets
// ceil(nodes / zones) in each), so the sizes headroom plans are rounded up
// to whole zones: 13 one-core pods on 4-core machines spread 5, 4, 4 over
// the zones, 2 + 1 + 1 = 4 nodes, which GKE makes 2 per zone, 6. Static and
// predictive (constant demand, steady from the start) run 6; a Cluster API
// pool runs 4. FromPlan marks gke pools in more than one zone.
func TestPerZoneSizes(t *testing.T) {
	for _, perZone := range []bool{false, true} {
		w := workload("web", 1, 0, 1, 20, 0, 5*time.Minute, repeat(13, 24))
		in := &Input{Name: "gke", Workloads: []Workload{w}, Pools: []policy.Pool{testPool(3, policy.HeadroomNone)}}
		want := 4
		if perZone {
			in.PerZone, want = []bool{true}, 6
		}
		res, err := Run(context.Background(), in, Options{Policies: []string{Static, Predictive}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{Static, Predictive} {
			if r := policyResult(t, res, name); r.Pools[0].PeakNodes != want || !near(r.NodeHours, float64(want)*2) {
				t.Errorf("per zone %v, %s: %d nodes, %v node-hours; want %d, %d", perZone, name, r.Pools[0].PeakNodes, r.NodeHours, want, want*2)
			}
		}
	}
	p, err := config.LoadFile("../testdata/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.NodePools[0].Provider = "gke"
	if in, err := FromPlan(p, nil); err != nil || !reflect.DeepEqual(in.PerZone, []bool{true, false}) {
		t.Errorf("FromPlan per zone %v (%v), want [true false]", in.PerZone, err)
	}
}
