package planinput

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics/trace"
	"github.com/headroom-dev/headroom/policy"
)

// FromTrace reads spec.workloads[i]'s trace: demand history, "now" at its
// last sample, the trace's replicas as the current count and its last sample
// as current usage (the reactive floor). Errors name the plan's file, line
// and field, and the trace's line and column.
func FromTrace(p *config.Plan, i int, w *policy.Workload) (*Inputs, error) {
	tr := p.Spec.Workloads[i].Trace
	path := tr.File
	if !filepath.IsAbs(path) && p.File() != "" {
		path = filepath.Join(filepath.Dir(p.File()), path)
	}
	field := fmt.Sprintf("spec.workloads[%d].trace", i)
	at := func(err error) error {
		return fmt.Errorf("%w: %s:%d: %s: %w", ErrInvalid, p.File(), p.Line(field), field, err)
	}
	tf, err := trace.ReadFile(path, nil)
	if err != nil {
		return nil, at(err) // names the file, line and column
	}
	column := func(name string, f float64) (forecast.Series, error) {
		c, err := tf.Column(name)
		if err != nil {
			return forecast.Series{}, err
		}
		v := make([]float64, len(c.Values))
		for i, x := range c.Values {
			v[i] = x * f
		}
		return forecast.Series{Name: tf.Name + ":" + c.Name, Start: tf.Start, Step: tf.Step, Values: v}, nil
	}
	cpu, err := column(tr.Column, *tr.Scale)
	if err != nil {
		return nil, at(err)
	}
	in := &Inputs{CPU: &cpu}
	if tr.MemoryColumn != "" {
		m, err := column(tr.MemoryColumn, *tr.MemoryScale)
		if err != nil {
			return nil, at(err)
		}
		in.Memory = &m
	}
	if r := tf.Report; r.Filled > 0 || r.Unfilled > 0 || r.OutOfOrder > 0 || r.DuplicateStamps > 0 || r.MissingCells > 0 {
		in.Warnings = append(in.Warnings, "trace: "+r.String())
	}
	now, last, ok := lastSample(cpu)
	if !ok {
		return nil, at(fmt.Errorf("column %q has no values", cpu.Name))
	}
	reporting := max(*tr.Replicas, 1)
	in.Input = policy.Input{Now: now, Current: *tr.Replicas, CurrentMin: w.Min, Usage: &policy.Usage{Time: now, CPU: last, Reporting: reporting}}
	if in.Memory != nil {
		if _, lastMem, ok := lastSample(*in.Memory); ok {
			in.Input.Usage.Memory = lastMem
		}
	}
	// Rightsizing: per-replica usage over the last 14 days, assuming the
	// trace's replica count throughout (a trace has no replica history).
	perReplica := func(s *forecast.Series) []float64 {
		if s == nil {
			return nil
		}
		n := min(len(s.Values), int(RightsizeHistory/s.Step))
		out := make([]float64, n)
		for i, v := range s.Values[len(s.Values)-n:] {
			out[i] = v / float64(reporting)
		}
		return out
	}
	in.PerReplicaCPU, in.PerReplicaMemory = perReplica(in.CPU), perReplica(in.Memory)
	return in, nil
}

// lastSample returns the time and value of the last non-missing sample.
func lastSample(s forecast.Series) (time.Time, float64, bool) {
	for i := len(s.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(s.Values[i]) {
			return s.Time(i), s.Values[i], true
		}
	}
	return time.Time{}, 0, false
}
