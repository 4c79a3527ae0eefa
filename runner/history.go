package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// MaxHistory is how far back a run reads a workload's raw samples: the
// forecaster uses at most 5 weeks, the store keeps raw samples 8 days by
// default.
const MaxHistory = 35 * 24 * time.Hour

// HistoryWindow is how far back a run reads the decision log for the
// stabilization windows and rate-limit periods (the HPA API's longest
// stabilization window is an hour).
const HistoryWindow = time.Hour

// ActionDecision is the decision-log action (store.Decision.Action) of the
// rows a run writes, one per target and cycle; the actuator writes its own
// rows for what it did (actuator.LogScale, …).
const ActionDecision = "decision"

// LogDetail is the JSON in store.Decision.Detail of a run's decisions: the
// policy decision (its Recommendation and Time feed the next runs'
// stabilization windows), what the actuator did, and any error.
type LogDetail struct {
	Outcome  Outcome         `json:"outcome"`
	Decision policy.Decision `json:"decision"`
	Action   *LoggedAction   `json:"action,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// LoggedAction is the part of an actuator.Action the log keeps.
type LoggedAction struct {
	From    int  `json:"from"` // -1: unknown
	To      int  `json:"to"`
	Changed bool `json:"changed"`
}

func logged(a *actuator.Action) *LoggedAction {
	if a == nil {
		return nil
	}
	return &LoggedAction{From: a.From, To: a.To, Changed: a.Changed}
}

// DecisionHistory reads the decision log over [now − HistoryWindow, now]
// and returns each workload's policy.History: every logged decision's
// recommendation (holds excepted), and a scale event for every change that
// was applied. Rows of other writers are ignored.
func DecisionHistory(ctx context.Context, st *store.Store, now time.Time) (map[policy.Target]policy.History, error) {
	rows, err := st.Decisions(ctx, metrics.Workload{}, now.Add(-HistoryWindow), now.Add(time.Millisecond))
	if err != nil {
		return nil, err
	}
	out := map[policy.Target]policy.History{}
	for _, r := range rows {
		var d LogDetail
		if r.Action != ActionDecision || json.Unmarshal(r.Detail, &d) != nil || d.Decision.Time.IsZero() {
			continue
		}
		t := policy.Target{Kind: r.Workload.Kind, Namespace: r.Workload.Namespace, Name: r.Workload.Name}
		h := out[t]
		if d.Decision.Rule != policy.RuleHold {
			h.Recommendations = append(h.Recommendations, policy.Recommendation{Time: d.Decision.Time, Replicas: d.Decision.Recommendation})
		}
		if d.Outcome == OutcomeScaled && d.Action != nil && d.Action.Changed && d.Action.From >= 0 {
			h.Events = append(h.Events, policy.ScaleEvent{Time: d.Decision.Time, From: int32(d.Action.From), To: int32(d.Action.To)})
		}
		out[t] = h
	}
	return out, nil
}

// Grid puts points on a regular grid of the given step that ends at the
// last point: point t lands at index n−1−round((last−t)/step); several in
// one cell keep the largest, empty cells are NaN. ok is false without
// points.
func Grid(name string, pts []metrics.Point, step time.Duration) (forecast.Series, bool) {
	if len(pts) == 0 || step <= 0 {
		return forecast.Series{}, false
	}
	last := pts[len(pts)-1].T
	cell := func(t time.Time) int { return int(math.Round(float64(last.Sub(t)) / float64(step))) }
	n := cell(pts[0].T) + 1
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	for _, p := range pts {
		k := n - 1 - cell(p.T)
		if k < 0 || k >= n {
			continue
		}
		if math.IsNaN(v[k]) || p.V > v[k] {
			v[k] = p.V
		}
	}
	return forecast.Series{Name: name, Start: last.Add(-time.Duration(n-1) * step), Step: step, Values: v}, true
}

// lastPoint returns the last point at or before t.
func lastPoint(pts []metrics.Point) (metrics.Point, bool) {
	if len(pts) == 0 {
		return metrics.Point{}, false
	}
	return pts[len(pts)-1], true
}

// StoreInputs reads one workload's demand history and current usage from
// the store (raw samples of the last MaxHistory, on a grid of step), and
// fills w.Request from the stored pod-template requests when the plan gives
// none. Missing series are warnings, never zeros: without usage the policy
// holds.
func StoreInputs(ctx context.Context, st *store.Store, w *policy.Workload, now time.Time, step time.Duration) (Inputs, error) {
	wl := metrics.Workload{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name}
	from, to := now.Add(-MaxHistory), now.Add(time.Millisecond)
	read := func(r metrics.Resource) ([]metrics.Point, error) {
		pts, err := st.Read(ctx, metrics.Key{Workload: wl, Resource: r}, from, to)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // never collected: missing, not an error
		}
		return pts, err
	}
	var in Inputs
	cpu, err := read(metrics.CPU)
	if err != nil {
		return in, err
	}
	mem, err := read(metrics.Memory)
	if err != nil {
		return in, err
	}
	if s, ok := Grid(wl.String()+"/cpu", cpu, step); ok {
		in.CPU = &s
	}
	if s, ok := Grid(wl.String()+"/memory", mem, step); ok && w.Request.Memory > 0 {
		in.Memory = &s
	}
	if w.Request.CPU == 0 && w.Request.Memory == 0 {
		for _, r := range []struct {
			res metrics.Resource
			dst *float64
		}{{metrics.CPURequest, &w.Request.CPU}, {metrics.MemoryRequest, &w.Request.Memory}} {
			pts, err := read(r.res)
			if err != nil {
				return in, err
			}
			if p, ok := lastPoint(pts); ok {
				*r.dst = p.V
			}
		}
		if w.Request.Memory == 0 {
			in.Memory = nil
		}
		if w.Request.CPU == 0 && w.Request.Memory == 0 {
			in.Warnings = append(in.Warnings, "no requests: the plan sets no resources and the store has no pod-template requests")
		}
	}
	last, ok := lastPoint(cpu)
	if !ok {
		in.Warnings = append(in.Warnings, fmt.Sprintf("no CPU usage in the store for %s", wl))
		return in, nil
	}
	u := &policy.Usage{Time: last.T, CPU: last.V}
	if m, ok := lastPoint(mem); ok && m.T.Equal(last.T) {
		u.Memory = m.V
	}
	pods, err := read(metrics.Pods)
	if err != nil {
		return in, err
	}
	with, err := read(metrics.PodsWithMetrics)
	if err != nil {
		return in, err
	}
	if p, ok := lastPoint(pods); ok && p.T.Equal(last.T) {
		if m, ok := lastPoint(with); ok && m.T.Equal(last.T) {
			u.Reporting, u.Missing = int32(m.V), int32(max(0, p.V-m.V))
		}
	}
	in.Input.Usage = u
	return in, nil
}
