package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// simFixture writes a small plan (one workload, one pool) and a two-day
// 5-minute trace into a temporary folder.
func simFixture(t *testing.T) (plan, dir string) {
	t.Helper()
	dir = t.TempDir()
	var b strings.Builder
	b.WriteString("timestamp,cpu\n")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for k := range 2 * 288 {
		h := float64(k) / 288
		fmt.Fprintf(&b, "%s,%.3f\n", start.Add(time.Duration(k)*5*time.Minute).Format(time.RFC3339), 6+3*math.Sin(2*math.Pi*h))
	}
	if err := os.WriteFile(filepath.Join(dir, "load.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	plan = filepath.Join(dir, "plan.yaml")
	doc := `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: tiny}
spec:
  interval: 5m
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      trace: {file: load.csv, column: cpu}
      resources: {cpu: "1", memory: 1Gi}
      replicas: {min: 2, max: 40}
      leadTime: 2m
  nodePools:
    - name: general
      machine: {cpu: 4, memory: 16Gi, pricePerHour: 0.2}
      size: {min: 1, max: 30}
      zones: 2
      headroom: n+1
  budget: {monthly: 500}
`
	if err := os.WriteFile(plan, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return plan, dir
}

func TestSimulateTableAndJSON(t *testing.T) {
	plan, dir := simFixture(t)
	sc := filepath.Join(dir, "sc.yaml")
	os.WriteFile(sc, []byte("apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nmetadata: {name: loss}\nspec:\n  failures: [{at: 30h, pool: general, zone: 1}]\n"), 0o644)
	code, out, errOut := runCLI(t, "simulate", "--config", plan, "--scenario", sc, "--refit", "3h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"POLICY", "predictive", "reactive", "static", "scheduled", "UNMET_CORE_MIN", "P90", "pool general loses zone 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, js, errOut := runCLI(t, "simulate", "--config", plan, "--policy", "reactive,static", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		Policies      []struct {
			Name string  `json:"name"`
			Cost float64 `json:"cost"`
		} `json:"policies"`
		Series struct {
			Times    []string `json:"times"`
			Policies []struct {
				CapacityCores []float64 `json:"capacity_cores"`
			} `json:"policies"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || len(doc.Policies) != 2 || doc.Policies[1].Name != "static" || doc.Policies[1].Cost <= 0 ||
		len(doc.Series.Times) == 0 || len(doc.Series.Policies[0].CapacityCores) != len(doc.Series.Times) {
		t.Errorf("json: %+v", doc)
	}
	_, js2, _ := runCLI(t, "simulate", "--config", plan, "--policy", "reactive,static", "-o", "json")
	if js != js2 {
		t.Error("two runs printed different JSON")
	}
}

// How often the predictive policy reselects its models: 24 h by default,
// the scenario's spec.reselect, and --reselect over both; the JSON and the
// table's first line say which was used.
func TestSimulateReselect(t *testing.T) {
	plan, dir := simFixture(t)
	sc := filepath.Join(dir, "sc.yaml")
	os.WriteFile(sc, []byte("apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nmetadata: {name: often}\nspec:\n  reselect: 6h\n"), 0o644)
	for _, c := range []struct {
		args []string
		want float64
	}{
		{nil, 86400},
		{[]string{"--scenario", sc}, 6 * 3600},
		{[]string{"--scenario", sc, "--reselect", "48h"}, 48 * 3600},
	} {
		args := append([]string{"simulate", "--config", plan, "--policy", "predictive", "-o", "json"}, c.args...)
		code, js, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errOut)
		}
		var doc struct {
			Reselect float64 `json:"reselect_seconds"`
		}
		if err := json.Unmarshal([]byte(js), &doc); err != nil || doc.Reselect != c.want {
			t.Errorf("%v: reselect_seconds %v (%v), want %v", c.args, doc.Reselect, err, c.want)
		}
	}
	if _, out, _ := runCLI(t, "simulate", "--config", plan, "--policy", "predictive", "--scenario", sc); !strings.Contains(strings.SplitN(out, "\n", 2)[0], "forecasts refit every 1h0m0s, models reselected every 6h0m0s") {
		t.Errorf("table's first line: %q", strings.SplitN(out, "\n", 2)[0])
	}
}

func TestSimulateBadInput(t *testing.T) {
	plan, dir := simFixture(t)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec: {growth: {percent: 3}}\n"), 0o644)
	zero := filepath.Join(dir, "zero.yaml")
	os.WriteFile(zero, []byte("apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nmetadata: {name: z}\nspec:\n  reselect: 0s\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"simulate"}, "--config is required"},
		{[]string{"simulate", "--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{[]string{"simulate", "--config", plan, "--policy", "magic"}, `--policy "magic"`},
		{[]string{"simulate", "--config", plan, "--scenario", bad}, `bad.yaml: unknown field "spec.growth.percent"`},
		{[]string{"simulate", "--config", plan, "--scenario", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{[]string{"simulate", "--config", plan, "--trace", "api=x.csv"}, `no workload "api"`},
		{[]string{"simulate", "--config", plan, "--trace", "web=" + filepath.Join(dir, "missing.csv")}, "missing.csv"},
		{[]string{"simulate", "--config", plan, "-o", "yaml"}, `-o "yaml"`},
		{[]string{"simulate", "--config", plan, "--reselect", "-1h"}, "--reselect must be positive"},
		{[]string{"simulate", "--config", plan, "--scenario", zero}, "zero.yaml: spec.reselect: must be positive (line 5)"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}
