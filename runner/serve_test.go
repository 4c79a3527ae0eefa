package runner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/headroom-dev/headroom/policy"
)

// blocking holds Current until released, to catch a cycle in the middle.
type blocking struct {
	Cluster
	entered, release chan struct{}
}

func (b *blocking) Current(ctx context.Context, ws []*policy.Workload) map[policy.Target]Current {
	b.entered <- struct{}{}
	<-b.release
	return b.Cluster.Current(ctx, ws)
}

func waitForTimer(t *testing.T, has func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !has() {
		if time.Now().After(deadline) {
			t.Fatal("the loop never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestServe steps a fake clock through a */5 schedule from 11:57: cycles
// run at 12:00 and 12:05 and not before; /healthz fails while a cycle is
// stuck past MaxCycle and recovers; /metrics serves the cycle counters.
func TestServe(t *testing.T) {
	r, _, clk, _ := setup(t)
	clk.SetTime(t0.Add(-3 * time.Minute))
	reg := prometheus.NewRegistry()
	r.Metrics = NewMetrics(reg)
	bl := &blocking{Cluster: r.Cluster, entered: make(chan struct{}, 8), release: make(chan struct{})}
	r.Cluster = bl
	sched, err := cron.ParseStandard("*/5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Result, 4)
	s := &Server{Runner: r, Schedule: sched, Clock: clk, MaxCycle: 2 * time.Minute, OnCycle: func(res *Result, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- res
	}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- s.Run(ctx) }()
	h := httptest.NewServer(s.Handler(reg))
	defer h.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	waitForTimer(t, clk.HasWaiters)
	clk.Step(2*time.Minute + 59*time.Second) // 11:59:59: not yet
	select {
	case <-bl.entered:
		t.Fatal("cycle before its time")
	case <-time.After(50 * time.Millisecond):
	}
	clk.Step(time.Second) // 12:00
	<-bl.entered
	clk.Step(3 * time.Minute) // the cycle is stuck for 3 minutes
	if code, body := get("/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "running for 3m0s") {
		t.Errorf("healthz while stuck: %d %q", code, body)
	}
	close(bl.release)
	res := <-done
	if !res.Time.Equal(t0) {
		t.Errorf("first cycle at %s, want %s", res.Time, t0)
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, "1 cycles") {
		t.Errorf("healthz after: %d %q", code, body)
	}
	// 12:03 now; the next activation is 12:05.
	waitForTimer(t, clk.HasWaiters)
	clk.Step(2 * time.Minute)
	res = <-done
	if want := t0.Add(5 * time.Minute); !res.Time.Equal(want) {
		t.Errorf("second cycle at %s, want %s", res.Time, want)
	}
	if _, body := get("/metrics"); !strings.Contains(body, `headroom_cycles_total{result="ok"} 2`) {
		t.Errorf("metrics:\n%s", body)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// losing is a lock whose renewals fail: another run took the lease over.
type losing struct{ lock }

func (l *losing) Renew(context.Context) error { return errors.New("lease held by run-b") }

// untilCanceled is a cluster read that takes until its context ends.
type untilCanceled struct {
	Cluster
	entered chan struct{}
}

func (u *untilCanceled) Current(ctx context.Context, ws []*policy.Workload) map[policy.Target]Current {
	u.entered <- struct{}{}
	<-ctx.Done()
	return u.Cluster.Current(ctx, ws)
}

// TestCycleLeaseLost: the lease is lost while the cycle reads the cluster
// (the renewal a minute in fails): the cycle stops there, nothing is
// applied, every target fails with the reason, the lease is released and
// the exit code is 1.
func TestCycleLeaseLost(t *testing.T) {
	r, d, clk, _ := setup(t)
	l := &losing{lock{free: true}}
	r.Lock = l
	u := &untilCanceled{Cluster: r.Cluster, entered: make(chan struct{}, 1)}
	r.Cluster = u
	done := make(chan *Result)
	go func() {
		res, err := r.Cycle(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-u.entered
	waitForTimer(t, clk.HasWaiters) // the renewal ticker
	clk.Step(time.Minute)
	res := <-done
	for _, tr := range res.Targets {
		if tr.Outcome != OutcomeFailed || !strings.Contains(tr.Note, "lease lost") {
			t.Errorf("%s: %v %q", tr.Target, tr.Outcome, tr.Note)
		}
	}
	if len(res.Targets) != 4 || len(d.Actions) != 0 || res.ExitCode() != 1 || l.freed != 1 {
		t.Fatalf("targets %d, actions %v, exit %d, released %d", len(res.Targets), d.Actions, res.ExitCode(), l.freed)
	}
}
