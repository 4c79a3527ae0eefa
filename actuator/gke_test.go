package actuator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	container "google.golang.org/api/container/v1"
	"google.golang.org/api/option"
)

// fakeGKE serves the GKE v1 REST shapes the provider uses, as documented:
//
//	GET  v1/projects/{p}/locations/{l}/clusters/{c}/nodePools/{np}
//	POST v1/projects/{p}/locations/{l}/clusters/{c}/nodePools/{np}:setSize        {"nodeCount": N}
//	POST v1/projects/{p}/locations/{l}/clusters/{c}/nodePools/{np}:setAutoscaling {"autoscaling": {...}}
//	GET  v1/projects/{p}/locations/{l}/operations/{op}
//
// A write returns an Operation RUNNING; the operation reads RUNNING
// runningPolls times, then DONE, when the change takes effect (or fails
// with failOp). faults answer the next requests with an error status.
type fakeGKE struct {
	t            *testing.T
	mu           sync.Mutex
	pool         container.NodePool
	runningPolls int
	failOp       *container.Operation // DONE fields of a failed operation
	faults       map[string][]int     // by method: statuses for the next requests, in order
	writes       []string             // raw bodies of the writes
	requests     []string             // "METHOD path"
	ops          map[string]*fakeOp
}

type fakeOp struct {
	polls int
	apply func()
}

const gkePool = "/v1/projects/acme/locations/europe-west1/clusters/prod/nodePools/general"

func newFakeGKE(t *testing.T, pool container.NodePool) (*fakeGKE, *container.Service) {
	f := &fakeGKE{t: t, pool: pool, runningPolls: 2, ops: map[string]*fakeOp{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	svc, err := container.NewService(context.Background(), option.WithEndpoint(srv.URL+"/"), option.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return f, svc
}

func (f *fakeGKE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	if q := f.faults[r.Method]; len(q) > 0 {
		code := q[0]
		f.faults[r.Method] = q[1:]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error": {"code": %d, "message": "injected %d", "status": "UNAVAILABLE"}}`, code, code)
		return
	}
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(v); err != nil {
			f.t.Error(err)
		}
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == gkePool:
		reply(f.pool)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/projects/acme/locations/europe-west1/clusters/prod":
		reply(container.Cluster{Name: "prod", Locations: threeZ})
	case r.Method == http.MethodPost && r.URL.Path == gkePool+":setSize":
		f.writes = append(f.writes, string(body))
		var req struct {
			NodeCount *int64 `json:"nodeCount"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.NodeCount == nil {
			http.Error(w, `{"error": {"code": 400, "message": "nodeCount is required"}}`, http.StatusBadRequest)
			return
		}
		reply(f.startOp("SET_NODE_POOL_SIZE", func() { f.pool.InitialNodeCount = *req.NodeCount }))
	case r.Method == http.MethodPost && r.URL.Path == gkePool+":setAutoscaling":
		f.writes = append(f.writes, string(body))
		var req container.SetNodePoolAutoscalingRequest
		if err := json.Unmarshal(body, &req); err != nil || req.Autoscaling == nil {
			http.Error(w, `{"error": {"code": 400, "message": "autoscaling is required"}}`, http.StatusBadRequest)
			return
		}
		reply(f.startOp("SET_NODE_POOL_MANAGEMENT", func() { f.pool.Autoscaling = req.Autoscaling }))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/projects/acme/locations/europe-west1/operations/"):
		name := strings.TrimPrefix(r.URL.Path, "/v1/projects/acme/locations/europe-west1/operations/")
		op, ok := f.ops[name]
		if !ok {
			http.Error(w, `{"error": {"code": 404, "message": "no such operation"}}`, http.StatusNotFound)
			return
		}
		op.polls++
		if op.polls <= f.runningPolls {
			reply(container.Operation{Name: name, Status: "RUNNING"})
			return
		}
		if f.failOp != nil {
			done := *f.failOp
			done.Name, done.Status = name, "DONE"
			reply(done)
			return
		}
		if op.apply != nil {
			op.apply()
			op.apply = nil
		}
		reply(container.Operation{Name: name, Status: "DONE", EndTime: "2026-01-01T00:05:00Z"})
	default:
		http.Error(w, `{"error": {"code": 404, "message": "not found"}}`, http.StatusNotFound)
	}
}

func (f *fakeGKE) startOp(kind string, apply func()) container.Operation {
	name := fmt.Sprintf("operation-%d", len(f.ops)+1)
	f.ops[name] = &fakeOp{apply: apply}
	return container.Operation{Name: name, OperationType: kind, Status: "RUNNING"}
}

func (f *fakeGKE) posts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, "POST") {
			n++
		}
	}
	return n
}

// sleeps records the provider's waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) total() (n int, sum time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.d {
		sum += d
	}
	return len(s.d), sum
}

var (
	gkeNow   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	threeZ   = []string{"europe-west1-b", "europe-west1-c", "europe-west1-d"}
	gkeShape = container.NodePool{Name: "general", InitialNodeCount: 2, Locations: threeZ, Status: "RUNNING"}
)

func newGKE(svc *container.Service, s *sleeps) *GKE {
	return &GKE{Service: svc, Project: "acme", Location: "europe-west1", Cluster: "prod", NodePool: "general", Sleep: s.sleep}
}

// setSize: 10 nodes over 3 zones is ceil(10/3) = 4 per zone, 12 in all;
// the pool had 2 per zone, 6 in all. The operation reads RUNNING twice,
// then DONE: three waits of the 5 s poll interval.
func TestGKESetSize(t *testing.T) {
	f, svc := newFakeGKE(t, gkeShape)
	var s sleeps
	g := newGKE(svc, &s)
	a, err := g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 10, DemandNodes: -1, Reason: "forecast"})
	if err != nil {
		t.Fatal(err)
	}
	if a.From != 6 || a.To != 12 || !a.Changed || a.Kind != KindPoolSize || a.Pool != "general" {
		t.Errorf("action %+v, want 6 → 12 changed", a)
	}
	if !strings.Contains(a.Reason, "forecast; size 4 per zone × 3 zones") {
		t.Errorf("reason %q", a.Reason)
	}
	if len(f.writes) != 1 || strings.TrimSpace(f.writes[0]) != `{"nodeCount":"4"}` && strings.TrimSpace(f.writes[0]) != `{"nodeCount":4}` {
		t.Errorf("writes %q, want one {\"nodeCount\": 4}", f.writes)
	}
	if f.pool.InitialNodeCount != 4 {
		t.Errorf("pool size %d per zone after the operation, want 4", f.pool.InitialNodeCount)
	}
	if n, sum := s.total(); n != 3 || sum != 15*time.Second {
		t.Errorf("waited %d times, %v; want 3 waits, 15s", n, sum)
	}
	// The same request again reads 4 per zone and writes nothing.
	a, err = g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 12, DemandNodes: -1})
	if err != nil || a.Changed || a.From != 12 || a.To != 12 {
		t.Errorf("second run: %+v, %v; want held at 12", a, err)
	}
	if f.posts() != 1 {
		t.Errorf("%d writes, want 1", f.posts())
	}
}

// A pool that lists no locations runs in the cluster's three zones:
// 7 nodes are ceil(7/3) = 3 per zone, 9 in all; it had 1 per zone (3).
func TestGKEClusterLocations(t *testing.T) {
	f, svc := newFakeGKE(t, container.NodePool{Name: "general", InitialNodeCount: 1})
	f.runningPolls = 0
	var s sleeps
	a, err := newGKE(svc, &s).SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 7, DemandNodes: -1})
	if err != nil || a.From != 3 || a.To != 9 || !strings.Contains(a.Reason, "3 per zone × 3 zones") {
		t.Fatalf("%+v, %v", a, err)
	}
	if f.requests[1] != "GET /v1/projects/acme/locations/europe-west1/clusters/prod" {
		t.Errorf("requests %v", f.requests)
	}
}

// Zero is sent explicitly (the generated client omits zero values unless
// forced).
func TestGKEScaleToZero(t *testing.T) {
	f, svc := newFakeGKE(t, container.NodePool{Name: "general", InitialNodeCount: 1, Locations: []string{"europe-west1-b"}})
	var s sleeps
	a, err := newGKE(svc, &s).SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 0, DemandNodes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if a.From != 1 || a.To != 0 || !a.Changed {
		t.Errorf("action %+v", a)
	}
	var body map[string]any
	if len(f.writes) != 1 || json.Unmarshal([]byte(f.writes[0]), &body) != nil || fmt.Sprint(body["nodeCount"]) != "0" {
		t.Errorf("writes %q, want nodeCount 0", f.writes)
	}
}

func TestGKEAutoscalingMinimum(t *testing.T) {
	tests := []struct {
		name       string
		as         container.NodePoolAutoscaling
		zones      []string
		nodes      int
		from, to   int
		wantField  string
		wantValue  float64
		wantMaxKey string
	}{
		// 7 nodes over 2 zones: ceil(7/2) = 4 per zone; was 1 per zone (2).
		{name: "per zone", as: container.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 5},
			zones: threeZ[:2], nodes: 7, from: 2, to: 8, wantField: "minNodeCount", wantValue: 4, wantMaxKey: "maxNodeCount"},
		// Total limits: the total minimum is the plan's 7 exactly.
		{name: "total", as: container.NodePoolAutoscaling{Enabled: true, TotalMinNodeCount: 2, TotalMaxNodeCount: 20, LocationPolicy: "ANY"},
			zones: threeZ, nodes: 7, from: 2, to: 7, wantField: "totalMinNodeCount", wantValue: 7, wantMaxKey: "totalMaxNodeCount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := tc.as
			f, svc := newFakeGKE(t, container.NodePool{Name: "general", InitialNodeCount: 3, Locations: tc.zones, Autoscaling: &as})
			var s sleeps
			g := newGKE(svc, &s)
			g.Autoscaling = true
			a, err := g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: tc.nodes, DemandNodes: -1})
			if err != nil {
				t.Fatal(err)
			}
			if a.From != tc.from || a.To != tc.to || !a.Changed {
				t.Errorf("action %+v, want %d → %d", a, tc.from, tc.to)
			}
			var body struct {
				Autoscaling map[string]any `json:"autoscaling"`
			}
			if len(f.writes) != 1 || json.Unmarshal([]byte(f.writes[0]), &body) != nil {
				t.Fatalf("writes %q", f.writes)
			}
			got := body.Autoscaling
			if v, _ := got[tc.wantField].(float64); v != tc.wantValue || got["enabled"] != true || got[tc.wantMaxKey] == nil {
				t.Errorf("autoscaling sent %v, want %s %v with enabled and %s kept", got, tc.wantField, tc.wantValue, tc.wantMaxKey)
			}
			// Applied: a second run changes nothing.
			a, err = g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: tc.nodes, DemandNodes: -1})
			if err != nil || a.Changed || f.posts() != 1 {
				t.Errorf("second run %+v, %v, %d writes", a, err, f.posts())
			}
		})
	}
}

func TestGKERefuses(t *testing.T) {
	auto := &container.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 3}
	tests := []struct {
		name        string
		pool        container.NodePool
		autoscaling bool
		nodes       int
		want        string
	}{
		{name: "minimum above the maximum", pool: container.NodePool{Locations: threeZ, Autoscaling: auto}, autoscaling: true, nodes: 12,
			want: "minimum 4 per zone exceeds the pool's maxNodeCount 3"},
		{name: "plan autoscales, pool does not", pool: container.NodePool{Locations: threeZ, InitialNodeCount: 1}, autoscaling: true, nodes: 3,
			want: "autoscaling is not enabled"},
		{name: "pool autoscales, plan resizes", pool: container.NodePool{Locations: threeZ, Autoscaling: auto}, nodes: 3,
			want: "set gke.autoscaling: true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, svc := newFakeGKE(t, tc.pool)
			var s sleeps
			g := newGKE(svc, &s)
			g.Autoscaling = tc.autoscaling
			a, err := g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: tc.nodes, DemandNodes: -1})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "pool general: gke projects/acme/") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if a.Changed || f.posts() != 0 {
				t.Errorf("action %+v, %d writes; want nothing", a, f.posts())
			}
		})
	}
}

func TestGKEFailedOperation(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   container.Operation
		want string
	}{
		{name: "error", op: container.Operation{Error: &container.Status{Code: 8, Message: "Insufficient regional quota to satisfy request: resource \"CPUS\""}},
			want: `failed: Insufficient regional quota to satisfy request: resource "CPUS" (code 8)`},
		{name: "statusMessage", op: container.Operation{StatusMessage: "Deploy error: Not all instances running in IGM"},
			want: "failed: Deploy error: Not all instances running in IGM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, svc := newFakeGKE(t, gkeShape)
			f.failOp = &tc.op
			var s sleeps
			a, err := newGKE(svc, &s).SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "operation-1") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if a.Changed || a.To != 9 || a.Pool != "general" {
				t.Errorf("a failed operation reported %+v, want the attempt unchanged", a)
			}
			if f.pool.InitialNodeCount != 2 {
				t.Errorf("size changed to %d", f.pool.InitialNodeCount)
			}
		})
	}
}

// 409 (another operation on the cluster), 429 and 5xx are retried with a
// doubling wait; other errors are not; retries are bounded.
func TestGKETransientErrors(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		f, svc := newFakeGKE(t, gkeShape)
		f.runningPolls = 0
		f.faults = map[string][]int{"GET": {503}, "POST": {409, 429}}
		var s sleeps
		a, err := newGKE(svc, &s).SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
		if err != nil || !a.Changed || a.To != 9 {
			t.Fatalf("%+v, %v", a, err)
		}
		// GET 503: wait 5s, GET ok; POST 409: 5s, POST 429: 10s, POST ok;
		// the operation: one 5s wait, then DONE.
		if n, sum := s.total(); n != 4 || sum != 25*time.Second {
			t.Errorf("waited %d times, %v; want 4, 25s (%v)", n, sum, s.d)
		}
		if f.posts() != 3 || f.pool.InitialNodeCount != 3 {
			t.Errorf("%d POSTs, size %d; want 3 and 3 per zone", f.posts(), f.pool.InitialNodeCount)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		f, svc := newFakeGKE(t, gkeShape)
		f.faults = map[string][]int{"GET": {500, 500, 500, 500, 500, 500, 500}}
		var s sleeps
		_, err := newGKE(svc, &s).SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
		if err == nil || !strings.Contains(err.Error(), "after 5 attempts") || !strings.Contains(err.Error(), "500") {
			t.Fatalf("error %v, want a read failing after 5 attempts", err)
		}
		if len(f.faults["GET"]) != 2 || f.posts() != 0 {
			t.Errorf("%d faults left, %d POSTs; want 2 and none", len(f.faults["GET"]), f.posts())
		}
	})
	t.Run("not retried", func(t *testing.T) {
		f, svc := newFakeGKE(t, gkeShape)
		f.faults = map[string][]int{"GET": {403}}
		var s sleeps
		_, err := newGKE(svc, &s).SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
		if err == nil || !strings.Contains(err.Error(), "403") || len(f.requests) != 1 {
			t.Fatalf("error %v after %d requests, want one 403", err, len(f.requests))
		}
	})
}

// An operation still RUNNING when the wait ends: the change was accepted,
// so the action is reported, with ErrOperationPending.
func TestGKEOperationTimeout(t *testing.T) {
	f, svc := newFakeGKE(t, gkeShape)
	f.runningPolls = 1000
	var s sleeps
	g := newGKE(svc, &s)
	g.Timeout = time.Minute
	a, err := g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
	if !errors.Is(err, ErrOperationPending) || !strings.Contains(err.Error(), "still RUNNING after 1m0s") {
		t.Fatalf("error %v, want ErrOperationPending", err)
	}
	if !a.Changed || a.To != 9 {
		t.Errorf("action %+v", a)
	}
	// 12 waits of 5 s reach the minute.
	if n, sum := s.total(); n != 12 || sum != time.Minute {
		t.Errorf("waited %d times, %v", n, sum)
	}
}

func TestGKEDryRun(t *testing.T) {
	f, svc := newFakeGKE(t, gkeShape)
	var s sleeps
	g := newGKE(svc, &s)
	g.DryRun = true
	a, err := g.SetPool(context.Background(), gkeNow, PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
	if err != nil || !a.Changed || a.From != 6 || a.To != 9 || !strings.Contains(a.Reason, "dry run") {
		t.Fatalf("%+v, %v", a, err)
	}
	if f.posts() != 0 {
		t.Errorf("dry run sent %d writes", f.posts())
	}
}
