package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

// Data is what a report reads from a store: each workload's history on a
// common grid, its newest samples and decisions, and the latest inventory.
// Load fills it from a store; tests build it by hand.
type Data struct {
	// Newest is the newest CPU sample of any workload: the report is as of
	// then, and the grid's last point is the step that holds it.
	Newest time.Time
	// Step of the grid; Start is the time of its first point. Point k is
	// stamped at the start of its step and holds the mean of the samples
	// in [Start+k·Step, Start+(k+1)·Step). Load aligns the grid to
	// multiples of Step since the zero time (clock hours for 1 h), the
	// store's hourly buckets: an hourly aggregate, stamped at the start of
	// its clock hour, falls on the point of the same hour as its raw
	// samples would have, and planinput's hourly grid has the same points.
	Start     time.Time
	Step      time.Duration
	Workloads []WorkloadData
	Inventory *metrics.Inventory // nil: none recorded
}

// WorkloadData is one workload's history.
type WorkloadData struct {
	Workload metrics.Workload
	// CPU (cores), Memory (bytes) and Pods on the grid; NaN where no
	// sample fell; nil when the store has no such series.
	CPU, Memory, Pods []float64
	// Last is the time of the newest CPU sample, in the window or before
	// it (zero: none); LastCPU and LastMemory are the newest values in the
	// window (NaN: none).
	Last                time.Time
	LastCPU, LastMemory float64
	Decisions           []DecisionEntry // newest last
}

// Load reads the store for a report: every workload of the plan and every
// other workload with a CPU series (node pools excepted), over
// Options.History back from the newest sample, averaged onto an
// Options.Step grid; the last Options.Decisions decisions of each; and the
// newest inventory snapshot.
func Load(ctx context.Context, st *store.Store, plan *config.Plan, opt Options) (*Data, error) {
	o := opt.withDefaults()
	infos, err := st.Series(ctx, metrics.Workload{})
	if err != nil {
		return nil, err
	}
	type have struct {
		cpu, mem, pods bool
		last           time.Time // of the CPU series, in or out of the window
	}
	seen := map[metrics.Workload]*have{}
	var order []metrics.Workload
	add := func(w metrics.Workload) *have {
		if h, ok := seen[w]; ok {
			return h
		}
		h := &have{}
		seen[w] = h
		order = append(order, w)
		return h
	}
	if plan != nil {
		for _, w := range plan.Spec.Workloads {
			add(metrics.Workload{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name})
		}
	}
	d := &Data{Step: o.Step}
	for _, in := range infos {
		k := in.Key
		if k.Workload.Kind == metrics.KindNodePool || len(k.Labels) > 0 {
			continue
		}
		switch k.Resource {
		case metrics.CPU:
			h := add(k.Workload)
			h.cpu, h.last = true, in.Last
			if in.Last.After(d.Newest) {
				d.Newest = in.Last
			}
		case metrics.Memory:
			add(k.Workload).mem = true
		case metrics.Pods:
			add(k.Workload).pods = true
		}
	}
	// Workloads outside the plan come after the plan's, in key order.
	planned := 0
	if plan != nil {
		planned = len(plan.Spec.Workloads)
	}
	rest := order[planned:]
	sort.Slice(rest, func(i, j int) bool { return rest[i].String() < rest[j].String() })
	if d.Newest.IsZero() {
		return nil, fmt.Errorf("%w: store %s has no workload CPU series", ErrInvalid, st.Path())
	}
	n := max(1, int(o.History/o.Step))
	d.Start = d.Newest.Truncate(o.Step).Add(-time.Duration(n-1) * o.Step)
	from, to := d.Start, d.Newest.Add(time.Millisecond)
	grid := func(w metrics.Workload, r metrics.Resource) ([]float64, []metrics.Point, error) {
		pts, err := st.History(ctx, metrics.Key{Workload: w, Resource: r}, from, to, store.Mean)
		if err != nil {
			return nil, nil, err
		}
		return onGrid(pts, d.Start, o.Step, n), pts, nil
	}
	for _, w := range order {
		h := seen[w]
		wd := WorkloadData{Workload: w, LastCPU: math.NaN(), LastMemory: math.NaN()}
		if h.cpu {
			v, pts, err := grid(w, metrics.CPU)
			if err != nil {
				return nil, err
			}
			wd.CPU, wd.Last = v, h.last
			if len(pts) > 0 {
				wd.Last, wd.LastCPU = pts[len(pts)-1].T, pts[len(pts)-1].V
			}
		}
		if h.mem {
			v, pts, err := grid(w, metrics.Memory)
			if err != nil {
				return nil, err
			}
			wd.Memory = v
			if len(pts) > 0 {
				wd.LastMemory = pts[len(pts)-1].V
			}
		}
		if h.pods {
			v, _, err := grid(w, metrics.Pods)
			if err != nil {
				return nil, err
			}
			wd.Pods = v
		}
		ds, err := st.Decisions(ctx, w, time.Time{}, time.Time{})
		if err != nil {
			return nil, err
		}
		for _, x := range ds[max(0, len(ds)-o.Decisions):] {
			wd.Decisions = append(wd.Decisions, DecisionEntry{Time: x.T.UTC(), Action: x.Action, Reason: x.Reason})
		}
		d.Workloads = append(d.Workloads, wd)
	}
	inv, ok, err := st.LatestInventory(ctx, time.Time{})
	if err != nil {
		return nil, err
	}
	if ok {
		d.Inventory = &inv
	}
	return d, nil
}

// onGrid averages points onto n grid points from start every step: point k
// is the mean of the points in [start+k·step, start+(k+1)·step); NaN when
// none fell there.
func onGrid(pts []metrics.Point, start time.Time, step time.Duration, n int) []float64 {
	sum := make([]float64, n)
	cnt := make([]int, n)
	for _, p := range pts {
		d := p.T.Sub(start)
		if d < 0 || d/step >= time.Duration(n) {
			continue
		}
		k := int(d / step)
		sum[k] += p.V
		cnt[k]++
	}
	out := make([]float64, n)
	for k := range out {
		out[k] = math.NaN()
		if cnt[k] > 0 {
			out[k] = sum[k] / float64(cnt[k])
		}
	}
	return out
}

// series wraps grid values as a forecast.Series.
func (d *Data) series(name string, v []float64) forecast.Series {
	return forecast.Series{Name: name, Start: d.Start, Step: d.Step, Values: v}
}

// first is the time of the first grid point holding a CPU sample (Start
// when none does).
func (d *Data) first() time.Time {
	k0 := -1
	for _, w := range d.Workloads {
		for k, v := range w.CPU {
			if !math.IsNaN(v) {
				if k0 < 0 || k < k0 {
					k0 = k
				}
				break
			}
		}
	}
	return d.Start.Add(time.Duration(max(k0, 0)) * d.Step)
}
