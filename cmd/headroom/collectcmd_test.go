package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/prom"
	"github.com/headroom-dev/headroom/metrics/store"

	"github.com/creack/pty"
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
	kc := unreachableKubeconfig(t, dir)
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

// A plan's spec.history configures the sources and the store on its own; flags override it.
func TestCollectFromPlanFields(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var queries []string
	var steps []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		queries = append(queries, r.Form.Get("query"))
		steps = append(steps, r.Form.Get("step"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	}))
	defer srv.Close()
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: shop}
spec:
  history:
    source: prometheus
    store: `+filepath.Join(dir, "h.db")+`
    retention: {raw: 3d, hourly: 90d}
    prometheus:
      url: `+srv.URL+`
      timeout: 7s
      step: 5m
      queries: {memory: 'my_memory{{.Selector}}'}
    namespaces: [shop, batch]
    nodePoolLabel: example.com/pool
  workloads:
    - target: {kind: Deployment, namespace: web, name: api}
      resources: {cpu: 500m}
      replicas: {max: 4}
      query: {cpu: 'sum(rate(api_cpu[{{.Rate}}]))'}
`), 0o644)

	t.Run("built options", func(t *testing.T) {
		cs, err := setupCollect(&collectFlags{config: plan, out: "table", step: time.Minute, backfill: time.Hour, timeout: 30 * time.Second, retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		po := cs.promOptions
		if cs.source.Name() != "prometheus" || po == nil {
			t.Fatalf("source %s, options %v", cs.source.Name(), po)
		}
		api := metrics.Workload{Kind: "Deployment", Namespace: "web", Name: "api"}
		if po.URL != srv.URL || po.Timeout != 7*time.Second || po.CPU != "" || po.Memory != "my_memory{{.Selector}}" ||
			strings.Join(po.Namespaces, ",") != "shop,batch" || len(po.Workloads) != 1 ||
			po.Workloads[0] != (prom.WorkloadQuery{Workload: api, Resource: metrics.CPU, Query: "sum(rate(api_cpu[{{.Rate}}]))"}) {
			t.Errorf("prometheus options %+v", po)
		}
		if cs.step != 5*time.Minute || cs.retention != (store.Retention{Raw: 3 * 24 * time.Hour, Hourly: 90 * 24 * time.Hour}) ||
			cs.storePath != filepath.Join(dir, "h.db") {
			t.Errorf("step %v, retention %+v, store %s", cs.step, cs.retention, cs.storePath)
		}
	})
	t.Run("flags override", func(t *testing.T) {
		cs, err := setupCollect(&collectFlags{config: plan, out: "table", step: 2 * time.Minute, stepSet: true, backfill: time.Hour,
			timeout: 3 * time.Second, timeoutSet: true, retries: 1, promURL: "http://other:9090", namespaces: []string{"x"}, retention: 10 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		po := cs.promOptions
		if po.URL != "http://other:9090" || po.Timeout != 3*time.Second || strings.Join(po.Namespaces, ",") != "x" || cs.step != 2*time.Minute ||
			cs.retention != (store.Retention{Raw: 8 * 24 * time.Hour, Hourly: 10 * 24 * time.Hour}) {
			t.Errorf("options %+v, step %v, retention %+v", po, cs.step, cs.retention)
		}
	})
	t.Run("metrics-server options", func(t *testing.T) {
		kc := unreachableKubeconfig(t, dir)
		cs, err := setupCollect(&collectFlags{config: plan, source: "metrics-server", kubeconfig: kc, out: "table", step: time.Minute, backfill: time.Hour, timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if ko := cs.kubeOptions; ko == nil || ko.PoolLabel != "example.com/pool" || strings.Join(ko.Namespaces, ",") != "shop,batch" {
			t.Errorf("kube options %+v", ko)
		}
	})
	t.Run("collect runs from the plan alone", func(t *testing.T) {
		code, out, errOut := runCLI(t, "collect", "--config", plan, "--backfill", "1h", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var doc collectJSON
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err, out)
		}
		if doc.Source != "prometheus" || doc.Store != filepath.Join(dir, "h.db") || doc.StepSeconds != 300 {
			t.Errorf("%+v", doc)
		}
		mu.Lock()
		defer mu.Unlock()
		all := strings.Join(queries, "\n---\n")
		if len(queries) != 3 || !strings.Contains(queries[0], `namespace=~"shop|batch"`) || queries[1] != `my_memory, namespace=~"shop|batch"` ||
			queries[2] != "sum(rate(api_cpu[10m]))" {
			t.Errorf("queries:\n%s", all)
		}
		for _, s := range steps {
			if s != "300" {
				t.Errorf("step %q, want 300", s)
			}
		}
	})
	t.Run("no URL anywhere", func(t *testing.T) {
		bare := filepath.Join(dir, "bare.yaml")
		os.WriteFile(bare, []byte("apiVersion: headroom.dev/v1alpha1\nkind: CapacityPlan\nmetadata: {name: x}\nspec:\n  history: {source: prometheus}\n  workloads: [{target: {kind: Deployment, name: a}, replicas: {max: 2}}]\n"), 0o644)
		if code, _, errOut := runCLI(t, "collect", "--config", bare); code != 2 || !strings.Contains(errOut, "spec.history.prometheus.url") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

// unreachableKubeconfig writes a kubeconfig whose API server does not answer.
func unreachableKubeconfig(t *testing.T, dir string) string {
	t.Helper()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

// TestCollectProgress: on a terminal (a pseudo-terminal here) collect shows a
// progress bar per query; otherwise it prints nothing on stderr.
func TestCollectProgress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	}))
	defer srv.Close()
	args := func(db string) []string {
		return []string{"collect", "--source", "prometheus", "--prometheus-url", srv.URL, "--store", db, "--backfill", "1h"}
	}
	dir := t.TempDir()
	code, _, errOut := runCLI(t, args(filepath.Join(dir, "a.db"))...)
	if code != 0 || errOut != "" {
		t.Fatalf("not a terminal: exit %d, stderr %q", code, errOut)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var seen bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&seen, ptmx) // until the terminal side closes
		close(done)
	}()
	var out bytes.Buffer
	code = run(args(filepath.Join(dir, "b.db")), &out, tty)
	tty.Close()
	<-done
	text := seen.String()
	if code != 0 || !strings.Contains(text, "collecting from prometheus") || !strings.Contains(text, "prometheus: cpu from") ||
		!strings.Contains(text, "prometheus: memory") || !strings.Contains(text, "50% |") || !strings.Contains(text, "(1/2)") {
		t.Errorf("terminal: exit %d, it showed %q", code, text)
	}
}
