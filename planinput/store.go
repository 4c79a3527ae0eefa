package planinput

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// HistoryLookback is how much demand history the planner reads from the
// store (the forecaster uses at most 5 weeks).
const HistoryLookback = 35 * 24 * time.Hour

// MinRawSpan is the span of raw samples below which a workload with older
// hourly aggregates is forecast on the hourly grid (see storeSeries).
const MinRawSpan = 2 * 24 * time.Hour

// read returns a series' raw samples and the hourly aggregates before them
// in [from, to); a series the store does not have is empty.
func read(ctx context.Context, st *store.Store, k metrics.Key, from, to time.Time, hourly bool) ([]store.Aggregate, []metrics.Point, error) {
	raw, err := st.Read(ctx, k, from, to)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil || !hourly {
		return nil, raw, err
	}
	hto := to
	if len(raw) > 0 {
		hto = raw[0].T
	}
	hours, err := st.ReadHourly(ctx, k, from, hto)
	return hours, raw, err
}

// FromStore reads a workload's inputs from the store as of now (see the
// package documentation): demand history, current usage, current replicas
// (current when the caller read them from the cluster, else inv, the
// latest inventory, else the last pods sample) and, when the plan sets none,
// per-replica requests (into w.Request). Inputs.Skipped says why the
// workload cannot be planned. The decision log is read by FromLog.
func FromStore(ctx context.Context, st *store.Store, w *policy.Workload, now time.Time, current *Current, inv *Inventory) (*Inputs, error) {
	wl := WorkloadOf(w.Target)
	from, to := now.Add(-HistoryLookback), now.Add(time.Millisecond)
	key := func(r metrics.Resource) metrics.Key { return metrics.Key{Workload: wl, Resource: r} }
	in := &Inputs{Input: policy.Input{Now: now, CurrentMin: w.Min}}

	// Coverage: pods and pods with metrics at each collection (metrics-server).
	_, pods, err := read(ctx, st, key(metrics.Pods), from, to, false)
	if err != nil {
		return nil, err
	}
	_, withMetrics, err := read(ctx, st, key(metrics.PodsWithMetrics), from, to, false)
	if err != nil {
		return nil, err
	}
	podsAt := make(map[int64]float64, len(pods))
	for _, p := range pods {
		podsAt[p.T.UnixMilli()] = p.V
	}
	reportingAt := make(map[int64]float64, len(withMetrics))
	for _, p := range withMetrics {
		reportingAt[p.T.UnixMilli()] = p.V
	}

	// Current replicas: the caller's, else the inventory's, else the last pods sample.
	var state metrics.WorkloadState
	inInventory := false
	if inv != nil {
		state, inInventory = inv.States[wl]
	}
	switch {
	case current != nil:
		in.Input.Current = current.Replicas
		if current.HPAMin > 0 {
			in.Input.CurrentMin = current.HPAMin
		}
	case inInventory:
		// The pods of the workload (a rollout counts both ReplicaSets'), not spec.replicas.
		in.Input.Current = int32(state.Pods)
		if age, maxAge := now.Sub(inv.At), w.MaxAge; maxAge > 0 && age > maxAge || maxAge <= 0 && age > policy.DefaultMaxAge {
			in.Warnings = append(in.Warnings, fmt.Sprintf("current replicas (%d) from the inventory of %s, %v before now: stale", state.Pods,
				inv.At.UTC().Format(time.RFC3339), age.Round(time.Second)))
		}
	case len(pods) > 0:
		in.Input.Current = int32(pods[len(pods)-1].V)
	default:
		in.Skipped = fmt.Sprintf("current replicas unknown: no inventory or pods series for %s in the store", wl)
		return in, nil
	}

	// Requests: the plan's, else the pod template's as last collected.
	if w.Request.CPU == 0 && w.Request.Memory == 0 {
		switch {
		case inInventory && (state.CPURequest > 0 || state.MemoryRequest > 0):
			w.Request = policy.Resources{CPU: state.CPURequest, Memory: state.MemoryRequest}
		default:
			for _, r := range []metrics.Resource{metrics.CPURequest, metrics.MemoryRequest} {
				_, v, err := read(ctx, st, key(r), from, to, false)
				if err != nil {
					return nil, err
				}
				if len(v) > 0 && r == metrics.CPURequest {
					w.Request.CPU = v[len(v)-1].V
				} else if len(v) > 0 {
					w.Request.Memory = v[len(v)-1].V
				}
			}
		}
	}

	// Demand: usage scaled up by pods / pods with metrics where the source recorded coverage.
	scale := func(p metrics.Point) float64 {
		t := p.T.UnixMilli()
		if n, ok := podsAt[t]; ok {
			if r := reportingAt[t]; r > 0 && n > r {
				return p.V * n / r
			}
		}
		return p.V
	}
	var lastRaw = map[metrics.Resource]metrics.Point{}
	for _, r := range []metrics.Resource{metrics.CPU, metrics.Memory} {
		hours, raw, err := read(ctx, st, key(r), from, to, true)
		if err != nil {
			return nil, err
		}
		if len(raw) > 0 {
			lastRaw[r] = raw[len(raw)-1]
		}
		demand := make([]metrics.Point, len(raw))
		for i, p := range raw {
			demand[i] = metrics.Point{T: p.T, V: scale(p)}
		}
		s, note := storeSeries(wl.String()+":"+string(r), hours, demand)
		if note != "" {
			in.Warnings = append(in.Warnings, string(r)+" history: "+note)
		}
		// Rightsizing: per-replica usage over the last 14 days.
		var per []float64
		for _, p := range raw {
			if p.T.Before(now.Add(-RightsizeHistory)) {
				continue
			}
			n := reportingAt[p.T.UnixMilli()]
			if n <= 0 {
				n = float64(max(in.Input.Current, 1))
			}
			per = append(per, p.V/n)
		}
		if r == metrics.CPU {
			in.CPU, in.PerReplicaCPU = s, per
		} else {
			in.Memory, in.PerReplicaMemory = s, per
		}
	}

	// Current usage: the last raw samples, as the HPA sees them.
	if c, ok := lastRaw[metrics.CPU]; ok {
		u := &policy.Usage{Time: c.T, CPU: c.V}
		if m, ok := lastRaw[metrics.Memory]; ok && m.T.Equal(c.T) {
			u.Memory = m.V
		}
		t := c.T.UnixMilli()
		if r, ok := reportingAt[t]; ok {
			u.Reporting = int32(r)
			if n, ok := podsAt[t]; ok && n > r {
				u.Missing = int32(n - r)
			}
		} else {
			u.Reporting = max(in.Input.Current, 1)
		}
		in.Input.Usage = u
	} else if m, ok := lastRaw[metrics.Memory]; ok {
		in.Input.Usage = &policy.Usage{Time: m.T, Memory: m.V, Reporting: max(in.Input.Current, 1)}
	}
	if in.CPU == nil && in.Memory == nil && in.Input.Usage == nil {
		in.Warnings = append(in.Warnings, fmt.Sprintf("no cpu or memory history for %s in the store", wl))
	}
	if w.Request.CPU == 0 && w.Request.Memory == 0 {
		in.Skipped = "no per-replica requests: set resources in the plan (the store has no cpu_request or memory_request)"
	}
	return in, nil
}

// storeSeries puts a series on a regular grid for the forecaster: the raw
// samples on their median interval when they span at least MinRawSpan or
// there are no hourly aggregates; otherwise hourly, from the aggregates'
// means and the raw samples averaged per hour. Several samples in one grid
// step are averaged; empty steps are missing (the forecaster fills interior
// gaps and says so). note says which grid was used when it is not the raw
// one; the series is nil with fewer than two points.
func storeSeries(name string, hours []store.Aggregate, raw []metrics.Point) (*forecast.Series, string) {
	step := medianStep(raw)
	note := ""
	var pts []metrics.Point
	if len(hours) > 0 && (len(raw) < 2 || raw[len(raw)-1].T.Sub(raw[0].T) < MinRawSpan) {
		step = time.Hour
		pts = make([]metrics.Point, 0, len(hours)+len(raw))
		for _, a := range hours {
			pts = append(pts, metrics.Point{T: a.T, V: a.Mean})
		}
		pts = append(pts, raw...)
		note = fmt.Sprintf("hourly means (%d compacted hours; raw samples span less than %v)", len(hours), durationText(MinRawSpan))
	} else {
		pts = raw
	}
	if len(pts) < 2 || step <= 0 {
		return nil, note
	}
	start := pts[0].T.Truncate(step)
	n := int(pts[len(pts)-1].T.Truncate(step).Sub(start)/step) + 1
	sum := make([]float64, n)
	cnt := make([]int, n)
	for _, p := range pts {
		k := int(p.T.Truncate(step).Sub(start) / step)
		sum[k] += p.V
		cnt[k]++
	}
	for k := range sum {
		if cnt[k] == 0 {
			sum[k] = math.NaN()
		} else {
			sum[k] /= float64(cnt[k])
		}
	}
	return &forecast.Series{Name: name, Start: start, Step: step, Values: sum}, note
}

// medianStep is the median interval between consecutive samples, rounded
// to the second; 0 with fewer than two.
func medianStep(pts []metrics.Point) time.Duration {
	if len(pts) < 2 {
		return 0
	}
	d := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		d = append(d, pts[i].T.Sub(pts[i-1].T))
	}
	slices.Sort(d)
	return max(d[len(d)/2].Round(time.Second), time.Second)
}
