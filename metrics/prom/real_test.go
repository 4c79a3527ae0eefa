package prom

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/trace"
)

// requirePrometheus returns the paths of prometheus and promtool, or skips the test (fails it under
// HEADROOM_REQUIRE_PROMETHEUS=1) when they are not installed.
func requirePrometheus(t *testing.T) (string, string) {
	t.Helper()
	prom, err1 := exec.LookPath("prometheus")
	tool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		msg := "prometheus and promtool not on $PATH: install Debian's prometheus package (.ci/install-prometheus.sh)"
		if os.Getenv("HEADROOM_REQUIRE_PROMETHEUS") == "1" {
			t.Fatal(msg + " (HEADROOM_REQUIRE_PROMETHEUS=1)")
		}
		t.Skip(msg)
	}
	return prom, tool
}

const (
	realTrace = "../../testdata/traces/dctraces-google2019-instance_usage_grouped_300_seconds_month.csv"
	cores     = 100      // cpu_normalized × cores = CPU cores of the workload
	memBytes  = 64 << 30 // memory_normalized × memBytes = working set bytes
)

// writeOpenMetrics writes the trace as cAdvisor and kube-state-metrics series: a Deployment shop/web
// (ReplicaSet web-6d4f, pods web-6d4f-a with 60 % of the load and web-6d4f-b with 40 %) and a StatefulSet
// shop/db (pod db-0, a tenth of the memory, a constant 0.5 core).
func writeOpenMetrics(t *testing.T, tr *trace.Trace, path string) {
	cpu, _ := tr.Column("cpu_normalized")
	mem, _ := tr.Column("memory_normalized")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	pods := []struct {
		pod, ownerKind, owner string
		share, constCPU       float64
	}{
		{"web-6d4f-a", "ReplicaSet", "web-6d4f", 0.6, 0},
		{"web-6d4f-b", "ReplicaSet", "web-6d4f", 0.4, 0},
		{"db-0", "StatefulSet", "db", 0.1, 0.5},
	}
	// OpenMetrics wants each family's samples together, in time order.
	fmt.Fprintln(w, "# TYPE container_cpu_usage_seconds_total counter")
	for _, p := range pods {
		var c float64
		for i := 0; i < tr.Len(); i++ {
			v := cpu.Values[i] * cores * p.share
			if p.constCPU > 0 {
				v = p.constCPU
			}
			if !math.IsNaN(v) {
				c += v * tr.Step.Seconds()
			}
			fmt.Fprintf(w, "container_cpu_usage_seconds_total{namespace=\"shop\",pod=%q,container=\"app\"} %g %d\n", p.pod, c, tr.Time(i).Unix())
		}
	}
	fmt.Fprintln(w, "# TYPE container_memory_working_set_bytes gauge")
	for _, p := range pods {
		for i := 0; i < tr.Len(); i++ {
			if v := mem.Values[i]; !math.IsNaN(v) {
				fmt.Fprintf(w, "container_memory_working_set_bytes{namespace=\"shop\",pod=%q,container=\"app\"} %g %d\n", p.pod, math.Round(v*memBytes*p.share), tr.Time(i).Unix())
			}
		}
	}
	fmt.Fprintln(w, "# TYPE kube_pod_owner gauge")
	for _, p := range pods {
		for i := 0; i < tr.Len(); i++ {
			fmt.Fprintf(w, "kube_pod_owner{namespace=\"shop\",pod=%q,owner_kind=%q,owner_name=%q,owner_is_controller=\"true\"} 1 %d\n", p.pod, p.ownerKind, p.owner, tr.Time(i).Unix())
		}
	}
	fmt.Fprintln(w, "# TYPE kube_replicaset_owner gauge")
	for i := 0; i < tr.Len(); i++ {
		fmt.Fprintf(w, "kube_replicaset_owner{namespace=\"shop\",replicaset=\"web-6d4f\",owner_kind=\"Deployment\",owner_name=\"web\",owner_is_controller=\"true\"} 1 %d\n", tr.Time(i).Unix())
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startPrometheus fills a TSDB from the trace and serves it; it returns the base URL.
func startPrometheus(t *testing.T, tr *trace.Trace) string {
	promBin, tool := requirePrometheus(t)
	dir := t.TempDir()
	om := filepath.Join(dir, "trace.om")
	writeOpenMetrics(t, tr, om)
	data := filepath.Join(dir, "data")
	start := time.Now()
	out, err := exec.Command(tool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=2400h", om, data).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	t.Logf("promtool create-blocks-from openmetrics: %v", time.Since(start).Round(time.Millisecond))
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {}\n"), 0o644)
	addr := freePort(t)
	cmd := exec.Command(promBin, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=100y", "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("prometheus ready at %s after %v", url, time.Since(start).Round(time.Millisecond))
	return url
}

// TestRealPrometheus collects a month of a shared trace from a real Prometheus, at a 2-minute step (20,160
// steps: two requests), and checks it against the trace.
func TestRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	tr, err := trace.ReadFile(realTrace, &trace.Options{MaxFill: -1})
	if err != nil {
		t.Fatal(err)
	}
	url := startPrometheus(t, tr)
	s, err := New(Options{URL: url, Namespaces: []string{"shop"}, RateWindow: 15 * time.Minute}) // 5-minute samples
	if err != nil {
		t.Fatal(err)
	}
	step := 2 * time.Minute
	w := metrics.Window{Start: tr.Start.Add(time.Hour), End: tr.Time(tr.Len() - 1), Step: step}
	steps := int(w.End.Sub(w.Start)/step) + 1
	if steps <= MaxPoints {
		t.Fatalf("window has %d steps; the test needs more than %d", steps, MaxPoints)
	}
	start := time.Now()
	b, err := s.Collect(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collected %d series, %d samples in %d requests, %v", len(b.Series), b.Samples(), s.Requests, time.Since(start).Round(time.Millisecond))
	if want := 2 * len(Chunks(w, MaxPoints)); s.Requests != want {
		t.Errorf("%d requests, want %d", s.Requests, want)
	}
	got := map[string]metrics.Series{}
	for _, ser := range b.Series {
		got[ser.Key.String()] = ser
	}
	if len(got) != 4 {
		t.Fatalf("series %v, want cpu and memory of Deployment/shop/web and StatefulSet/shop/db", keys(got))
	}
	cpu, _ := tr.Column("cpu_normalized")
	mem, _ := tr.Column("memory_normalized")
	at := func(c trace.Column, tm time.Time) float64 { // the latest trace value at or before tm (Prometheus lookback)
		return c.Values[int(tm.Sub(tr.Start)/tr.Step)]
	}
	// Memory is a gauge: every step is the trace value at or before it, exactly (to the byte rounding).
	webMem := got["Deployment/shop/web/memory"]
	checked := 0
	for _, p := range webMem.Points {
		v := at(mem, p.T)
		if math.IsNaN(v) {
			continue
		}
		want := math.Round(v*memBytes*0.6) + math.Round(v*memBytes*0.4)
		if math.Abs(p.V-want) > 1 {
			t.Fatalf("web memory at %v = %v, want %v", p.T, p.V, want)
		}
		checked++
	}
	if checked < steps*9/10 {
		t.Fatalf("only %d of %d steps checked", checked, steps)
	}
	// CPU is a rate over 15 minutes of a counter: it lies between the smallest and largest trace values of
	// the samples it spans, and its mean over the month matches the trace's.
	webCPU := got["Deployment/shop/web/cpu"]
	var sum, tsum float64
	var n int
	for _, p := range webCPU.Points {
		i := int(p.T.Sub(tr.Start) / tr.Step)
		lo, hi := math.Inf(1), math.Inf(-1)
		for j := max(i-3, 1); j <= i; j++ {
			if v := cpu.Values[j]; !math.IsNaN(v) {
				lo, hi = min(lo, v*cores), max(hi, v*cores)
			}
		}
		if !math.IsInf(lo, 0) && (p.V < lo-1e-6 || p.V > hi+1e-6) {
			t.Fatalf("web cpu at %v = %v, outside the trace's [%v, %v] over the rate window", p.T, p.V, lo, hi)
		}
		sum += p.V
		tsum += at(cpu, p.T) * cores
		n++
	}
	if math.Abs(sum-tsum)/tsum > 0.01 {
		t.Fatalf("mean web cpu %v, trace %v", sum/float64(n), tsum/float64(n))
	}
	for _, p := range got["StatefulSet/shop/db/cpu"].Points {
		if math.Abs(p.V-0.5) > 1e-9 {
			t.Fatalf("db cpu at %v = %v, want 0.5", p.T, p.V)
		}
	}
	if len(webCPU.Points) < steps*9/10 || len(got["StatefulSet/shop/db/memory"].Points) < steps*9/10 {
		t.Fatalf("%d cpu points of %d steps", len(webCPU.Points), steps)
	}
	// A per-workload query for web's CPU: the plan-wide CPU query leaves web out inside Prometheus (its
	// response carries db only), and web's CPU comes from the override, the same numbers by another query.
	rec := &recorder{}
	web := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	s3, err := New(Options{URL: url, Namespaces: []string{"shop"}, RateWindow: 15 * time.Minute, RoundTripper: rec,
		Workloads: []WorkloadQuery{{Workload: web, Resource: metrics.CPU,
			Query: `sum(rate(container_cpu_usage_seconds_total{container!="", pod=~"web-6d4f-.*"{{.Selector}}}[{{.Rate}}]))`}}})
	if err != nil {
		t.Fatal(err)
	}
	day := metrics.Window{Start: w.Start, End: w.Start.Add(24 * time.Hour), Step: step}
	b3, err := s3.Collect(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	got3 := map[string]metrics.Series{}
	for _, ser := range b3.Series {
		if _, dup := got3[ser.Key.String()]; dup {
			t.Fatalf("series %s twice", ser.Key)
		}
		got3[ser.Key.String()] = ser
	}
	if len(got3) != 4 || len(rec.bodies) != 3 {
		t.Fatalf("series %v from %d requests", keys(got3), len(rec.bodies))
	}
	if cpuBody := rec.bodies[0]; !strings.Contains(rec.queries[0], "unless on (namespace, workload_kind, workload)") ||
		strings.Contains(cpuBody, `"workload":"web"`) || !strings.Contains(cpuBody, `"workload":"db"`) {
		t.Fatalf("the default CPU query returned web (or not db):\n%s\n%.300s", rec.queries[0], cpuBody)
	}
	if memBody := rec.bodies[1]; strings.Contains(rec.queries[1], "unless") || !strings.Contains(memBody, `"workload":"web"`) {
		t.Fatalf("the memory query left web out:\n%s", rec.queries[1])
	}
	over := got3["Deployment/shop/web/cpu"].Points
	n = 0
	for _, p := range webCPU.Points {
		if p.T.After(day.End) {
			break
		}
		if n >= len(over) || !over[n].T.Equal(p.T) || math.Abs(over[n].V-p.V) > 1e-9 {
			t.Fatalf("override web cpu point %d: %v, default query's %v", n, over[min(n, len(over)-1)], p)
		}
		n++
	}
	if n < 600 || n != len(over) {
		t.Fatalf("override web cpu: %d points, %d compared", len(over), n)
	}
	// Namespaces outside the plan see nothing.
	s2, _ := New(Options{URL: url, Namespaces: []string{"other"}})
	if b, err := s2.Collect(context.Background(), metrics.Window{Start: w.Start, End: w.Start.Add(time.Hour), Step: step}); err != nil || len(b.Series) != 0 {
		t.Fatalf("other namespace: %v %v", b.Series, err)
	}
}

// recorder is a RoundTripper that keeps each query_range request's query and response body.
type recorder struct {
	queries, bodies []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.ParseForm(); err != nil {
		return nil, err
	}
	q := req.Form.Get("query")
	if req.GetBody != nil { // the client POSTs the form
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(body)
		if v, err := neturl.ParseQuery(string(b)); err == nil && v.Get("query") != "" {
			q = v.Get("query")
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.queries, r.bodies = append(r.queries, q), append(r.bodies, string(b))
	return resp, nil
}

func keys(m map[string]metrics.Series) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
