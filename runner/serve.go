package runner

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"k8s.io/utils/clock"
)

// Server runs a Runner's cycles on a cron schedule (headroom serve). The
// schedule is decided with the pure cron.Schedule.Next and waited for on
// the injected clock, so tests step a fake clock instead of sleeping.
type Server struct {
	Runner   *Runner
	Schedule cron.Schedule
	Clock    clock.WithTicker
	// MaxCycle is how long a cycle may run before /healthz fails; 0 means 10 minutes.
	MaxCycle time.Duration
	// OnCycle, when set, is called after each cycle (tests, logs).
	OnCycle func(*Result, error)

	mu        sync.Mutex
	started   time.Time // of the running cycle; zero when idle
	last      time.Time // end of the last cycle
	lastError string
	cycles    int
}

// Run runs cycles until ctx ends. A cycle's failure is logged and counted;
// the loop goes on to the next activation.
func (s *Server) Run(ctx context.Context) error {
	for {
		now := s.Clock.Now().UTC() // the schedule is in UTC, as the CronJob's timeZone: Etc/UTC
		next := s.Schedule.Next(now)
		if next.IsZero() {
			return fmt.Errorf("runner: the schedule has no next activation after %s", now.Format(time.RFC3339))
		}
		t := s.Clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
		s.mu.Lock()
		s.started = s.Clock.Now()
		s.mu.Unlock()
		res, err := s.Runner.Cycle(ctx)
		s.mu.Lock()
		s.started, s.last = time.Time{}, s.Clock.Now()
		s.cycles++
		s.lastError = ""
		switch {
		case err != nil:
			s.lastError = err.Error()
		case res.ExitCode() != 0:
			s.lastError = "some targets failed"
		}
		s.mu.Unlock()
		if err != nil {
			s.Runner.log().Error("cycle failed", "error", err.Error())
		}
		if s.OnCycle != nil {
			s.OnCycle(res, err)
		}
	}
}

func (s *Server) maxCycle() time.Duration {
	if s.MaxCycle <= 0 {
		return 10 * time.Minute
	}
	return s.MaxCycle
}

// ServeHTTP is /healthz: 200 while the loop is healthy, 503 when a cycle has
// been running longer than MaxCycle (stuck on the API server, say). A
// failed cycle is not unhealthy: restarting the pod would not fix the
// cluster; the metrics say it.
func (s *Server) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	started, last, cycles, lastErr := s.started, s.last, s.cycles, s.lastError
	s.mu.Unlock()
	now := s.Clock.Now()
	if !started.IsZero() && now.Sub(started) > s.maxCycle() {
		http.Error(w, fmt.Sprintf("a cycle has been running for %v (limit %v)", now.Sub(started).Round(time.Second), s.maxCycle()), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ok: %d cycles", cycles)
	if !last.IsZero() {
		fmt.Fprintf(w, ", last ended %s", last.UTC().Format(time.RFC3339))
	}
	if lastErr != "" {
		fmt.Fprintf(w, " (%s)", lastErr)
	}
	fmt.Fprintln(w)
}

// Handler serves /metrics from g and /healthz from s.
func (s *Server) Handler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", s)
	return mux
}
