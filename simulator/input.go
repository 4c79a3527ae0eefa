package simulator

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics/trace"
	"github.com/headroom-dev/headroom/policy"
)

// ErrInvalid is wrapped by errors about the simulation's inputs (a plan, a
// trace, a scenario): the message names the file and the field.
var ErrInvalid = errors.New("simulator: invalid input")

// Workload is one simulated workload.
type Workload struct {
	Spec policy.Workload
	// Pool pins the pods to a node pool ("": the packer chooses).
	Pool string
	// Demand is the workload's total CPU demand in cores on the trace's grid
	// (NaN: missing; the last value holds).
	Demand forecast.Series
	// Memory is the workload's total memory demand in bytes (no Values:
	// none); replicas are planned for the larger need, as policy does.
	Memory forecast.Series
	// Initial is the replica count running (and ready) at the start; 0
	// means steady state: the replicas the demand at the start needs at the
	// utilization target, within the bounds (the same for every policy but
	// static, which starts at its own size).
	Initial int32
	// Horizon is the forecast horizon the planner reads (0: the longer of the
	// lead time and its pool's provisioning time, plus the interval).
	Horizon time.Duration
}

// series is the demand for resource r (0: CPU, 1: memory).
func (w *Workload) series(r int) forecast.Series {
	if r == 1 {
		return w.Memory
	}
	return w.Demand
}

// Input is what a simulation replays: workloads with their demand, node
// pools, the budget and the planner's settings.
type Input struct {
	Name      string
	Workloads []Workload
	Pools     []policy.Pool
	Budget    float64 // monthly; 0: none
	// Interval is how often the planner runs (0: policy.DefaultInterval).
	Interval time.Duration
	// Quantile is the forecast quantile planned for (0: 0.95); Model is
	// "auto" or a forecast model name.
	Quantile float64
	Model    string
	// PerZone, index-aligned with Pools, marks the pools whose size
	// headroom's provider sets per zone (GKE node pools in several zones:
	// the actuator sets ceil(nodes / zones) per zone), so the sizes headroom
	// plans are rounded up to whole zones as the actuator would; nil: none.
	// The reactive baseline's node autoscaler adds single nodes (GKE's, too,
	// scales each zone's group on its own).
	PerZone []bool
	// ReactiveUtilization, when positive, is the reactive baseline's HPA
	// target for every workload instead of its utilization ceiling (the
	// ceiling still measures unmet demand).
	ReactiveUtilization float64
	// Seasonality is the plan's spec.forecast.seasonality for every forecast
	// (forecast.Options.Seasonality): nil detects the periods, an empty
	// non-nil slice means none.
	Seasonality []time.Duration
}

// TraceOverride replaces the trace file of one workload: Workload names it
// (name, namespace/name or kind/namespace/name); when empty, the workload
// whose plan trace file has File's base name.
type TraceOverride struct {
	Workload string
	File     string
}

// FromPlan builds the input from a loaded plan: each workload's trace
// column (and overrides) read and scaled to cores. Traces from different
// periods are aligned by whole weeks (keeping weekday and time of day, which
// cron windows and weekly seasons depend on) to end with the first
// workload's trace; the simulation spans the time they all cover.
// Workloads without a trace are an error.
func FromPlan(p *config.Plan, overrides []TraceOverride) (*Input, error) {
	in := &Input{Name: p.Metadata.Name, Budget: p.MonthlyBudget(), Interval: p.Spec.Interval.Duration,
		Quantile: p.Spec.Forecast.Quantile, Model: p.Spec.Forecast.Model, Seasonality: p.SeasonalPeriods()}
	pools, err := p.PolicyPools()
	if err != nil {
		return nil, err
	}
	in.Pools = pools
	for i, np := range p.Spec.NodePools {
		if np.Provider == "gke" && np.Zones > 1 {
			if in.PerZone == nil {
				in.PerZone = make([]bool, len(pools))
			}
			in.PerZone[i] = true
		}
	}
	files := make([]string, len(p.Spec.Workloads))
	used := make([]bool, len(overrides))
	for i := range p.Spec.Workloads {
		cw := &p.Spec.Workloads[i]
		if cw.Trace != nil {
			files[i] = cw.Trace.File
			if !filepath.IsAbs(files[i]) && p.File() != "" {
				files[i] = filepath.Join(filepath.Dir(p.File()), files[i])
			}
		}
		t := cw.Target
		for j, o := range overrides {
			match := false
			switch o.Workload {
			case "":
				match = cw.Trace != nil && filepath.Base(cw.Trace.File) == filepath.Base(o.File)
			case t.Name, t.Namespace + "/" + t.Name, t.Kind + "/" + t.Namespace + "/" + t.Name:
				match = true
			}
			if match {
				files[i], used[j] = o.File, true
			}
		}
	}
	for j, u := range used {
		if !u {
			o := overrides[j]
			if o.Workload != "" {
				return nil, fmt.Errorf("%w: --trace %s=%s: no workload %q in %s", ErrInvalid, o.Workload, o.File, o.Workload, p.File())
			}
			return nil, fmt.Errorf("%w: --trace %s: no workload of %s reads a trace named %s (use WORKLOAD=FILE)", ErrInvalid, o.File, p.File(), filepath.Base(o.File))
		}
	}
	for i := range p.Spec.Workloads {
		cw := &p.Spec.Workloads[i]
		field := fmt.Sprintf("spec.workloads[%d]", i)
		w, err := p.PolicyWorkload(i)
		if err != nil {
			return nil, err
		}
		if files[i] == "" {
			return nil, fmt.Errorf("%w: %s:%d: %s: no trace to replay (give trace: in the plan or --trace %s=FILE)", ErrInvalid, p.File(), p.Line(field), field, cw.Target.Name)
		}
		column, scale := "", 1.0
		if tr := cw.Trace; tr != nil {
			column = tr.Column
			if tr.Scale != nil {
				scale = *tr.Scale
			}
		}
		tf, err := trace.ReadFile(files[i], nil)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s: %s.trace: %w", ErrInvalid, p.File(), field, err)
			}
			return nil, fmt.Errorf("%w: %s.trace: %w", ErrInvalid, field, err)
		}
		c, err := tf.Column(column)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %s.trace.column: %w", ErrInvalid, p.File(), p.Line(field+".trace.column"), field, err)
		}
		v := make([]float64, len(c.Values))
		for k, x := range c.Values {
			v[k] = x * scale
		}
		sw := Workload{Spec: *w, Pool: cw.NodePool,
			Demand: forecast.Series{Name: tf.Name + ":" + c.Name, Start: tf.Start, Step: tf.Step, Values: v}}
		if tr := cw.Trace; tr != nil && tr.MemoryColumn != "" {
			mc, err := tf.Column(tr.MemoryColumn)
			if err != nil {
				return nil, fmt.Errorf("%w: %s:%d: %s.trace.memoryColumn: %w", ErrInvalid, p.File(), p.Line(field+".trace.memoryColumn"), field, err)
			}
			ms := 1.0
			if tr.MemoryScale != nil {
				ms = *tr.MemoryScale
			}
			mv := make([]float64, len(mc.Values))
			for k, x := range mc.Values {
				mv[k] = x * ms
			}
			sw.Memory = forecast.Series{Name: tf.Name + ":" + mc.Name, Start: tf.Start, Step: tf.Step, Values: mv}
		}
		in.Workloads = append(in.Workloads, sw)
	}
	in.Align()
	return in, nil
}

const week = 7 * 24 * time.Hour

// Align shifts every workload's demand by whole weeks so that it ends as
// close as possible to the first workload's.
func (in *Input) Align() {
	if len(in.Workloads) == 0 {
		return
	}
	ref := in.Workloads[0].Demand.End()
	for i := range in.Workloads[1:] {
		d := &in.Workloads[i+1].Demand
		shift := time.Duration(math.Round(float64(ref.Sub(d.End()))/float64(week))) * week
		d.Start = d.Start.Add(shift)
		if m := &in.Workloads[i+1].Memory; len(m.Values) > 0 {
			m.Start = m.Start.Add(shift)
		}
	}
}

// Span is the time all workloads' demand (CPU and memory) covers: [start, end).
func (in *Input) Span() (start, end time.Time, err error) {
	for i, w := range in.Workloads {
		for r, d := range []forecast.Series{w.Demand, w.Memory} {
			if r == 1 && len(d.Values) == 0 {
				continue
			}
			s, e := d.Start, d.End().Add(d.Step)
			if i == 0 && r == 0 || s.After(start) {
				start = s
			}
			if i == 0 && r == 0 || e.Before(end) {
				end = e
			}
		}
	}
	if len(in.Workloads) == 0 || !end.After(start) {
		names := make([]string, len(in.Workloads))
		for i, w := range in.Workloads {
			names[i] = fmt.Sprintf("%s %s – %s", w.Demand.Name, w.Demand.Start.UTC().Format(time.RFC3339), w.Demand.End().UTC().Format(time.RFC3339))
		}
		return start, end, fmt.Errorf("%w: the traces share no time after aligning by weeks: %s", ErrInvalid, strings.Join(names, "; "))
	}
	return start, end, nil
}

// Validate checks the input.
func (in *Input) Validate() error {
	if len(in.Workloads) == 0 {
		return fmt.Errorf("%w: no workloads", ErrInvalid)
	}
	names := map[string]bool{}
	for i := range in.Pools {
		if err := in.Pools[i].Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		names[in.Pools[i].Name] = true
	}
	for i := range in.Workloads {
		w := &in.Workloads[i]
		if err := w.Spec.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if w.Spec.Request.CPU <= 0 {
			return fmt.Errorf("%w: %s: the simulator needs a CPU request", ErrInvalid, w.Spec.Target)
		}
		if w.Demand.Step <= 0 || len(w.Demand.Values) == 0 {
			return fmt.Errorf("%w: %s: empty demand", ErrInvalid, w.Spec.Target)
		}
		if len(w.Memory.Values) > 0 && w.Memory.Step <= 0 {
			return fmt.Errorf("%w: %s: memory demand without a step", ErrInvalid, w.Spec.Target)
		}
		if w.Pool != "" && !names[w.Pool] {
			return fmt.Errorf("%w: %s: no node pool %q", ErrInvalid, w.Spec.Target, w.Pool)
		}
	}
	return nil
}
