package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
