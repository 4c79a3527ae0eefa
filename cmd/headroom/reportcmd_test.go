package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

const simResult = "../../report/testdata/sim.json"

func TestReportFromSimulationFormats(t *testing.T) {
	dir := t.TempDir()
	now := "2026-03-05T09:00:00Z"
	for _, f := range []string{"review.html", "review.md", "review.json"} {
		out := filepath.Join(dir, f)
		code, _, errOut := runCLI(t, "report", "--simulation", simResult, "--out", out, "--now", now)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", f, code, errOut)
		}
		if !strings.Contains(errOut, "1 critical") { // the over-budget predictive policy (golden sim.md)
			t.Errorf("%s: stderr %q lacks the findings count", f, errOut)
		}
		// Same inputs, same bytes.
		first, _ := os.ReadFile(out)
		if code, _, errOut := runCLI(t, "report", "--simulation", simResult, "--out", out, "--now", now); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if again, _ := os.ReadFile(out); !bytes.Equal(first, again) {
			t.Errorf("%s: two runs differ", f)
		}
	}
	var doc struct {
		SchemaVersion int    `json:"schemaVersion"`
		Source        string `json:"source"`
		Simulation    struct {
			Policies []struct{ Name string } `json:"policies"`
		} `json:"simulation"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "review.json"))
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 2 || doc.Source != "simulation" || len(doc.Simulation.Policies) != 3 {
		t.Errorf("json: %+v", doc)
	}
	if html, _ := os.ReadFile(filepath.Join(dir, "review.html")); !bytes.HasPrefix(html, []byte("<!DOCTYPE html>")) || !bytes.Contains(html, []byte("<svg")) {
		t.Error("html: not a page with charts")
	}
	code, _, errOut := runCLI(t, "report", "--simulation", simResult, "--format", "csv", "--out", filepath.Join(dir, "tables"), "--now", now)
	if code != 0 {
		t.Fatalf("csv: exit %d: %s", code, errOut)
	}
	pol, err := os.ReadFile(filepath.Join(dir, "tables", "policies.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(pol)), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[1], "predictive,") {
		t.Errorf("policies.csv:\n%s", pol)
	}
}

func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n  \"schemaVersion\": 1,\n  \"plan\": 7\n}\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"--simulation", simResult}, "--out is required"},
		{"both sources", []string{"--simulation", simResult, "--store", "x.db", "--out", "x.md"}, "exactly one of"},
		{"neither source", []string{"--out", "x.md"}, "exactly one of"},
		{"bad format", []string{"--simulation", simResult, "--format", "pdf", "--out", "x"}, `--format "pdf"`},
		{"store without plan", []string{"--store", "x.db", "--out", "x.md"}, "needs --config"},
		{"missing store", []string{"--store", filepath.Join(dir, "none.db"), "--config", "../../report/testdata/plan.yaml", "--out", "x.md"}, "none.db"},
		{"bad simulation field", []string{"--simulation", bad, "--out", filepath.Join(dir, "x.md")}, "bad.json:3: field plan"},
		{"bad now", []string{"--simulation", simResult, "--out", "x.md", "--now", "yesterday"}, "--now"},
		{"bad horizon", []string{"--simulation", simResult, "--out", "x.md", "--horizon", "-3d"}, "--horizon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"report"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

// A store written here (a week of one workload, an inventory) reports
// through the CLI; the workload's single pod is a critical finding.
func TestReportFromStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	st, err := store.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	web := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	t0 := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	cpu := metrics.Series{Key: metrics.Key{Workload: web, Resource: metrics.CPU}}
	for h := range 7 * 24 {
		cpu.Points = append(cpu.Points, metrics.Point{T: t0.Add(time.Duration(h) * time.Hour), V: 1 + float64(h%24)/24})
	}
	end := t0.Add(7*24*time.Hour - time.Hour)
	if _, err := st.Write(context.Background(), &metrics.Batch{Source: "test", Series: []metrics.Series{cpu}}, end); err != nil {
		t.Fatal(err)
	}
	if err := st.PutInventory(context.Background(), metrics.Inventory{At: end, ControlPlaneVersion: "v1.31.0",
		Nodes:     []metrics.Node{{Name: "n1", Pool: "general", Zone: "a", Ready: true, KubeletVersion: "v1.31.0", CPU: 4, Memory: 16 << 30}},
		Workloads: []metrics.WorkloadState{{Workload: web, Pods: 1, Ready: 1, CPURequest: 1, MemoryRequest: 1 << 30, Nodes: map[string]int{"n1": 1}}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: one}
spec:
  history: {source: metrics-server}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: "1", memory: 1Gi}
      replicas: {min: 1, max: 10}
  nodePools:
    - name: general
      machine: {cpu: 4, memory: 16Gi, pricePerHour: 0.2}
      size: {min: 1, max: 4}
`), 0o644)
	out := filepath.Join(dir, "r.md")
	code, _, errOut := runCLI(t, "report", "--config", plan, "--store", db, "--out", out, "--now", "2026-02-09T00:00:00Z", "--backtest", "-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	md, _ := os.ReadFile(out)
	for _, want := range []string{"| critical | spof-one-replica | Deployment/shop/web |", "## Node pools", "| general | 1 | 1 | 1 | 4 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestSimulateWritesReport(t *testing.T) {
	plan, dir := simFixture(t)
	out := filepath.Join(dir, "sim.html")
	code, _, errOut := runCLI(t, "simulate", "--config", plan, "--policy", "reactive,static", "--report", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "Policies side by side", "reactive", "static", "<svg"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
}
