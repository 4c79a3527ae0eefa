package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const google = "../../testdata/traces/dctraces-google2019-instance_usage_grouped_300_seconds_month.csv"

func TestCollectTraceAndStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	code, out, errOut := runCLI(t, "collect", "--source", "trace", "--trace", google, "--workload", "Deployment/shop/web", "--store", db, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc collectJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err, out)
	}
	if doc.Source != "trace" || doc.Series != 2 || doc.Samples != 2*8064 || len(doc.Workloads) != 1 || doc.Workloads[0].Workload != "Deployment/shop/web" {
		t.Fatalf("%+v", doc)
	}
	// Recorded traces are stored raw: no compaction relative to today's clock.
	if doc.Compacted.Hours != 0 {
		t.Fatalf("compacted %+v", doc.Compacted)
	}
	// Collecting again stores nothing twice.
	if code, _, errOut = runCLI(t, "collect", "--source", "trace", "--trace", google, "--workload", "Deployment/shop/web", "--store", db); code != 0 {
		t.Fatal(errOut)
	}
	code, out, _ = runCLI(t, "store", "info", "--store", db, "-o", "csv")
	if code != 0 || !strings.Contains(out, "Deployment/shop/web/cpu_normalized,8064,0,2019-05-01T00:00:00Z,2019-05-28T23:55:00Z") {
		t.Fatalf("info:\n%s", out)
	}
	// Export, import into a new store, export again: the same file.
	exp := filepath.Join(dir, "export.csv")
	if code, _, errOut = runCLI(t, "store", "export", "--store", db, "--out", exp); code != 0 {
		t.Fatal(errOut)
	}
	db2 := filepath.Join(dir, "h2.db")
	if code, _, errOut = runCLI(t, "store", "import", "--store", db2, exp); code != 0 {
		t.Fatal(errOut)
	}
	code, again, _ := runCLI(t, "store", "export", "--store", db2)
	first, _ := os.ReadFile(exp)
	if code != 0 || again != string(first) {
		t.Fatalf("export after import differs (%d vs %d bytes)", len(again), len(first))
	}
	// Bad input: exit 2 with the file and line.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("timestamp,x\n2026-01-01T00:00:00Z,oops\n"), 0o644)
	if code, _, errOut = runCLI(t, "store", "import", "--store", db2, bad); code != 2 || !strings.Contains(errOut, "bad.csv:2:2") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestCollectUnreachableLeavesStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "h.db")
	if code, _, errOut := runCLI(t, "collect", "--source", "trace", "--trace", google, "--store", db); code != 0 {
		t.Fatal(errOut)
	}
	before, _ := os.ReadFile(db)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	for _, url := range []string{srv.URL, "http://127.0.0.1:1"} {
		code, _, errOut := runCLI(t, "collect", "--source", "prometheus", "--prometheus-url", url, "--retries", "1", "--store", db)
		if code != 1 || !strings.Contains(errOut, "source unavailable") || !strings.Contains(errOut, "the store was not changed") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	}
	after, _ := os.ReadFile(db)
	if string(before) != string(after) {
		t.Fatal("the store changed")
	}
	// An unreachable API server: exit 1, store unchanged.
	kc := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)
	code, _, errOut := runCLI(t, "collect", "--source", "metrics-server", "--kubeconfig", kc, "--timeout", "2s", "--store", db)
	if code != 1 || !strings.Contains(errOut, "source unavailable") || !strings.Contains(errOut, "PodMetrics") {
		t.Fatalf("metrics-server: exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(db); string(before) != string(after) {
		t.Fatal("the store changed")
	}
	// A first collection that fails creates no store.
	fresh := filepath.Join(dir, "fresh.db")
	if code, _, _ := runCLI(t, "collect", "--source", "prometheus", "--prometheus-url", srv.URL, "--retries", "0", "--store", fresh); code != 1 {
		t.Fatal("want exit 1")
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a store was created: %v", err)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"collect", "--source", "nope"},
		{"collect", "--source", "prometheus"},
		{"collect", "--source", "trace"},
		{"store", "export", "--store", filepath.Join(dir, "missing.db")},
	} {
		if code, _, errOut := runCLI(t, args...); code != 2 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
}
