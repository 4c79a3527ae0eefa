package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/runner"
)

const runPlan = `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: shop}
spec:
  history: {source: metrics-server, store: %s}
  run:
    lease: {namespace: headroom}
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: 500m}
      replicas: {min: 1, max: 10}
`

func writePlan(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := writePlan(t, dir, fmt.Sprintf(runPlan, filepath.Join(dir, "h.db")))
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(fmt.Sprintf(runPlan, "h.db"), "max: 10", "max: -1", 1)), 0o644)
	traces := filepath.Join(dir, "trace.yaml")
	os.WriteFile(traces, []byte(strings.Replace(strings.Replace(fmt.Sprintf(runPlan, "h.db"), "source: metrics-server", "source: trace", 1),
		"replicas: {min: 1, max: 10}", "replicas: {min: 1, max: 10}\n      trace: {file: web.csv}", 1)), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"run"}, "--config is required"},
		{"invalid plan", []string{"run", "--config", bad}, "bad.yaml:11: spec.workloads[0].replicas.max"},
		{"trace source", []string{"run", "--config", traces}, "trace.yaml:5: spec.history.source"},
		{"bad shard", []string{"run", "--config", good, "--shard", "3/3"}, "want i/N"},
		{"shards without index", []string{"run", "--config", good, "--shards", "4"}, "JOB_COMPLETION_INDEX"},
		{"bad output", []string{"run", "--config", good, "-o", "yaml"}, "unknown output format"},
		{"bad log level", []string{"run", "--config", good, "--log-level", "loud"}, "--log-level"},
		{"serve without schedule", []string{"serve", "--config", good, "--kubeconfig", unreachableKubeconfig(t, dir)}, "spec.schedule: required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.args...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr %q (want 2 and %q)", code, errOut, c.want)
			}
		})
	}
}

// TestRunUnreachable: a cluster that does not answer is a runtime failure
// (exit 1) before anything is decided: the lease cannot be taken.
func TestRunUnreachable(t *testing.T) {
	dir := t.TempDir()
	plan := writePlan(t, dir, fmt.Sprintf(runPlan, filepath.Join(dir, "h.db")))
	code, _, errOut := runCLI(t, "run", "--config", plan, "--kubeconfig", unreachableKubeconfig(t, dir), "--timeout", "2s")
	if code != 1 || !strings.Contains(errOut, "lease") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	st, err := store.Open(filepath.Join(dir, "h.db"), &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rows, err := st.Decisions(context.Background(), metrics.Workload{}, time.Time{}, time.Time{}); err != nil || len(rows) != 0 {
		t.Fatalf("decision rows %v, %v", rows, err)
	}
}

func TestShardFromIndexedJob(t *testing.T) {
	t.Setenv("JOB_COMPLETION_INDEX", "2")
	t.Setenv("HEADROOM_SHARDS", "")
	if s, err := (&runFlags{shards: 5}).shardOf(); err != nil || s != (runner.Shard{Index: 2, Count: 5}) {
		t.Fatalf("%v %v", s, err)
	}
	t.Setenv("HEADROOM_SHARDS", "3")
	if s, err := (&runFlags{}).shardOf(); err != nil || s != (runner.Shard{Index: 2, Count: 3}) {
		t.Fatalf("%v %v", s, err)
	}
	if s, err := (&runFlags{shard: "0/4"}).shardOf(); err != nil || s != (runner.Shard{Index: 0, Count: 4}) {
		t.Fatalf("--shard wins: %v %v", s, err)
	}
	t.Setenv("HEADROOM_SHARDS", "2")
	if _, err := (&runFlags{}).shardOf(); err == nil {
		t.Fatal("index 2 of 2 accepted")
	}
}

// pushgateway starts the real prometheus-pushgateway on a free loopback
// port, skipping without it unless HEADROOM_REQUIRE_PUSHGATEWAY=1.
func pushgateway(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-pushgateway")
	if err != nil {
		if os.Getenv("HEADROOM_REQUIRE_PUSHGATEWAY") == "1" {
			t.Fatal("prometheus-pushgateway not found and HEADROOM_REQUIRE_PUSHGATEWAY=1 (apt-get install prometheus-pushgateway)")
		}
		t.Skip("prometheus-pushgateway not found: skipping (apt-get install prometheus-pushgateway; HEADROOM_REQUIRE_PUSHGATEWAY=1 fails instead)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushgateway at %s not ready: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPushMetrics pushes a run's metrics to a real Pushgateway twice (a
// plain run, then shard 1 of 4) and reads them back from its /metrics:
// each push is its own group (job, plan, shard) with the run's values.
func TestPushMetrics(t *testing.T) {
	url := pushgateway(t)
	p, err := config.Load("plan.yaml", []byte(fmt.Sprintf(runPlan, "h.db")))
	if err != nil {
		t.Fatal(err)
	}
	pg := &config.Pushgateway{URL: url, Job: "headroom"}
	for _, sh := range []runner.Shard{{}, {Index: 1, Count: 4}} {
		reg := prometheus.NewRegistry()
		m := runner.NewMetrics(reg)
		m.Cycles.WithLabelValues("ok").Inc()
		m.LastSuccess.Set(1.7e9 + float64(sh.Index))
		m.RunwayDays.WithLabelValues("general").Set(25)
		if err := pushMetrics(context.Background(), &wired{plan: p, reg: reg}, pg, sh); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{
		`headroom_cycles_total{instance="",job="headroom",plan="shop",result="ok"} 1`,
		`headroom_last_success_timestamp_seconds{instance="",job="headroom",plan="shop"} 1.7e+09`,
		`headroom_last_success_timestamp_seconds{instance="",job="headroom",plan="shop",shard="1"} 1.700000001e+09`,
		`headroom_runway_days{instance="",job="headroom",plan="shop",pool="general",shard="1"} 25`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("pushgateway lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// The table output lists each decision's warnings under the summary, with
// its target, as headroom plan does; a run without warnings has no such
// section.
func TestPrintRunWarnings(t *testing.T) {
	web := policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}
	api := policy.Target{Kind: "Deployment", Namespace: "shop", Name: "api"}
	quota := "QUOTA: requests.cpu of ResourceQuota shop/compute: the scale-up needs 1 cores, 0.6 cores left"
	res := &runner.Result{Targets: []runner.TargetResult{
		{Target: web, Outcome: runner.OutcomeScaled, Planned: &runner.Planned{Workload: &policy.Workload{Target: web},
			Decision: policy.Decision{Target: web, Current: 2, Desired: 4, Rule: policy.RuleForecast, Warnings: []string{quota}}}},
		{Target: api, Outcome: runner.OutcomeUnchanged, Planned: &runner.Planned{Workload: &policy.Workload{Target: api},
			Decision: policy.Decision{Target: api, Current: 3, Desired: 3, Rule: policy.RuleForecast}}},
	}}
	var b strings.Builder
	if err := printRun(&b, "table", res); err != nil {
		t.Fatal(err)
	}
	want := "\nwarnings:\n  Deployment/shop/web: " + quota + "\n"
	if !strings.HasSuffix(b.String(), want) {
		t.Errorf("table output does not end with the warning:\n%s", b.String())
	}
	if strings.Count(b.String(), "QUOTA:") != 1 {
		t.Errorf("the warning should be listed once:\n%s", b.String())
	}
	res.Targets[0].Planned.Decision.Warnings = nil
	b.Reset()
	if err := printRun(&b, "table", res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "warnings:") {
		t.Errorf("a run without warnings printed a warnings section:\n%s", b.String())
	}
}
