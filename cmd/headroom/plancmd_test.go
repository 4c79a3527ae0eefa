package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/planinput"
)

const examplePlan = "../../testdata/plans/example.yaml"

func TestPlanExampleJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--config", examplePlan, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Plan      string `json:"plan"`
		Decisions []struct {
			Target      string `json:"target"`
			Mode        string `json:"mode"`
			Current     int32  `json:"current"`
			Desired     int32  `json:"desired"`
			Rule        string `json:"rule"`
			Reason      string `json:"reason"`
			Apply       bool   `json:"apply"`
			PlannedPods int    `json:"planned_pods"`
			Numbers     struct {
				Min, Max int32
			} `json:"numbers"`
		} `json:"decisions"`
		Pools struct {
			Pools []struct {
				Name        string `json:"name"`
				Nodes       int    `json:"nodes"`
				HeadroomMet bool   `json:"headroom_met"`
			} `json:"pools"`
			MonthlyCost float64 `json:"monthly_cost"`
			Budget      *struct {
				Over float64 `json:"over"`
			} `json:"budget"`
		} `json:"node_pools"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.Plan != "shop" || len(doc.Decisions) != 6 || len(doc.Pools.Pools) != 2 {
		t.Fatalf("plan %q, %d decisions, %d pools", doc.Plan, len(doc.Decisions), len(doc.Pools.Pools))
	}
	for _, d := range doc.Decisions {
		if d.Rule == "" || strings.HasPrefix(d.Rule, "unknown") || d.Reason == "" {
			t.Errorf("%s: rule %q reason %q", d.Target, d.Rule, d.Reason)
		}
		if d.Desired < d.Numbers.Min || d.Desired > d.Numbers.Max {
			t.Errorf("%s: desired %d outside [%d, %d]", d.Target, d.Desired, d.Numbers.Min, d.Numbers.Max)
		}
		if d.Mode == "recommend" && (d.Apply || d.PlannedPods != int(d.Current)) {
			t.Errorf("%s: recommend mode applies or plans %d pods", d.Target, d.PlannedPods)
		}
	}
	// The vm-agent trace ends on 30 July: the month-end window holds it at 24.
	for _, d := range doc.Decisions {
		if d.Target == "Deployment/infra/vm-agent" && (d.Rule != "window" || d.Desired != 24) {
			t.Errorf("vm-agent: %s %d, want window 24", d.Rule, d.Desired)
		}
	}
	if doc.Pools.MonthlyCost <= 0 || doc.Pools.Budget == nil {
		t.Errorf("cost %v budget %v", doc.Pools.MonthlyCost, doc.Pools.Budget)
	}
	// Same inputs, same bytes.
	_, again, _ := runCLI(t, "plan", "--config", examplePlan, "-o", "json")
	if again != out {
		t.Error("two runs differ")
	}
}

func TestPlanTable(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--config", examplePlan)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"TARGET", "Deployment/shop/web", "POOL", "general", "monthly cost"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanCSV(t *testing.T) {
	code, out, errOut := runCLI(t, "plan", "--config", examplePlan, "-o", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "TARGET,MODE,NOW,CURRENT,DESIRED,RULE") {
		t.Errorf("csv:\n%s", out)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: x}
spec:
  workloads:
    - target: {kind: Deployment, name: web}
      replicas: {min: 2, max: 40, maximum: 3}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	missingTrace := filepath.Join(dir, "trace.yaml")
	if err := os.WriteFile(missingTrace, []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: x}
spec:
  workloads:
    - target: {kind: Deployment, name: web}
      trace: {file: nope.csv}
      resources: {cpu: 1}
      replicas: {max: 4}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "no config", args: []string{"plan"}, code: 2, want: "--config is required"},
		{name: "missing file", args: []string{"plan", "--config", filepath.Join(dir, "none.yaml")}, code: 2, want: "none.yaml"},
		{name: "unknown field with line", args: []string{"plan", "--config", bad}, code: 2, want: `bad.yaml:7: spec.workloads[0].replicas.maximum: unknown field "maximum"`},
		{name: "missing trace names the field", args: []string{"plan", "--config", missingTrace}, code: 2, want: "trace.yaml:7: spec.workloads[0].trace"},
		{name: "bad format", args: []string{"plan", "--config", examplePlan, "-o", "xml"}, code: 2, want: "unknown output format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}

func TestPlanFromStore(t *testing.T) {
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
	ctx := context.Background()
	b := &metrics.Batch{Source: "metrics-server", Series: []metrics.Series{series(metrics.CPU, 3), series(metrics.Pods, 5), series(metrics.PodsWithMetrics, 5)}}
	if _, err := st.Write(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	// Scaled 1 → 5 five seconds ago: the 15 s periods start from 1.
	scaled := store.Decision{T: now.Add(-5 * time.Second), Workload: web, Action: planinput.ActionScale, Detail: json.RawMessage(`{"kind":"replicas","from":1,"to":5}`)}
	if err := st.AppendDecisions(ctx, []store.Decision{scaled}); err != nil {
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
			Source, Rule     string
			Current, Desired int32
			Numbers          struct {
				ForecastReplicas int32 `json:"forecast_replicas"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	// 3 cores / (0.5 × 0.5) = 12 wanted; from 5 pods (the pods series), the
	// scale-up periods start at 5 − 4 = 1: max(1 + 4, 1 × 2) = 5, so no
	// scale-up this cycle: 5 by the rate limit.
	if len(doc.Decisions) != 1 {
		t.Fatalf("%s", out)
	}
	d := doc.Decisions[0]
	if d.Source != "store" || d.Current != 5 || d.Numbers.ForecastReplicas != 12 || d.Desired != 5 || d.Rule != "rate-limit" {
		t.Errorf("%+v", d)
	}
	// No store file: an error, not a silent skip.
	os.Remove(db)
	if code, _, errOut := runCLI(t, "plan", "--config", plan); code != 1 || !strings.Contains(errOut, "does not exist: run headroom collect first") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "plan", "--config", plan, "--at", "noon"); code != 2 || !strings.Contains(errOut, "--at") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// TestPlanBudgetTrimsForecastHeadroom: a noisy workload whose 0.95 forecast
// is well above its median and its reactive floor, on a budget the
// availability headroom alone cannot meet: the plan trims the forecast to
// the median or further, says so on the decision, and never plans below the
// floor. The numbers of each step are worked by hand in policy's tests.
func TestPlanBudgetTrimsForecastHeadroom(t *testing.T) {
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("timestamp,cpu\n")
	x := uint64(42)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 * 288 {
		x = x*6364136223846793005 + 1442695040888963407
		noise := float64(x>>40)/float64(1<<24)*16 - 8 // uniform in [-8, 8)
		fmt.Fprintf(&csv, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format(time.RFC3339), 20+noise)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := func(budget int) string {
		path := filepath.Join(dir, fmt.Sprintf("p%d.yaml", budget))
		if err := os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: x}
spec:
  forecast: {model: median}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      trace: {file: cpu.csv, replicas: 20}
      resources: {cpu: "1", memory: 1Gi}
      utilization: {cpu: 0.5}
      replicas: {min: 2, max: 200}
  nodePools:
    - {name: p, machine: {cpu: 4, memory: 16Gi, pricePerHour: 1}, size: {max: 100}, zones: 2, headroom: zone}
  budget: {monthly: %d}
`, budget)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	type doc struct {
		Decisions []struct {
			Desired     int32    `json:"desired"`
			PlannedPods int      `json:"planned_pods"`
			Warnings    []string `json:"warnings"`
			Numbers     struct {
				Min              int32 `json:"min"`
				ReactiveReplicas int32 `json:"reactive_replicas"`
			} `json:"numbers"`
		} `json:"decisions"`
		Pools struct {
			Replicas []int `json:"replicas"`
			Budget   struct {
				LeanSteps int      `json:"lean_steps"`
				Trimmed   []string `json:"trimmed"`
			} `json:"budget"`
		} `json:"node_pools"`
	}
	read := func(budget int) doc {
		code, out, errOut := runCLI(t, "plan", "--config", plan(budget), "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var d doc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	free, tight := read(100000), read(1)
	f, g := free.Decisions[0], tight.Decisions[0]
	if free.Pools.Budget.LeanSteps != 0 || tight.Pools.Budget.LeanSteps == 0 {
		t.Fatalf("lean steps %d and %d", free.Pools.Budget.LeanSteps, tight.Pools.Budget.LeanSteps)
	}
	floor := int(max(g.Numbers.Min, g.Numbers.ReactiveReplicas))
	if !(g.PlannedPods < f.PlannedPods) || g.PlannedPods < floor || g.PlannedPods != tight.Pools.Replicas[0] || int(g.Desired) != g.PlannedPods {
		t.Fatalf("planned %d (desired %d) against %d untrimmed, floor %d", g.PlannedPods, g.Desired, f.PlannedPods, floor)
	}
	t.Logf("planned %d pods (untrimmed %d, floor %d); trims %q", g.PlannedPods, f.PlannedPods, floor, tight.Pools.Budget.Trimmed)
	if !strings.Contains(strings.Join(g.Warnings, "\n"), "BUDGET: planned") {
		t.Errorf("warnings %q", g.Warnings)
	}
}
