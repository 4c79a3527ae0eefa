package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/planinput"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/runner"
)

func init() { commands = append(commands, newPlanCmd) }

func newPlanCmd() *cobra.Command {
	var file, out, storePath, at string
	cmd := &cobra.Command{
		Use:   "plan --config FILE",
		Short: "Forecast and plan every target of a plan file; changes nothing",
		Long: `Reads a CapacityPlan, forecasts each workload's demand, and prints the
decision for every target with the rule that set it and the numbers behind it,
then the node pools that would hold the planned pods and what they cost.
Nothing is changed.

Workloads with a trace source are planned at the time of their trace's last
sample ("now"), with the trace's replicas as the current count and its last
sample as current usage (the reactive floor). The others are planned from the
history store (spec.history.store, or --store) at --at (default: now): their
usage history, their current replicas from the latest inventory snapshot that
headroom collect stored, and from the decision log the past recommendations
and scale events the HPA's stabilization windows and rate limits look back
over (so a plan is not always a first cycle) and, for leadTime: auto, the
measured start-up times (see package planinput).

Planned pods per workload: the desired count in scale mode, the larger of the
planned floor and the current count in hpa-floor mode, the current count in
recommend mode; in scale and hpa-floor mode, raised to the forecast over the
node pool's lead time (nodes take longer to arrive than pods).`,
		Example: `  headroom plan --config testdata/plans/example.yaml
  headroom plan --config testdata/plans/example.yaml -o json
  headroom plan --config plan.yaml --store headroom.db --at 2026-11-27T12:00:00Z`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(out); err != nil {
				return err
			}
			if file == "" {
				return usagef("plan: --config is required")
			}
			p, err := config.LoadFile(file)
			if err != nil {
				if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
					return &usageError{err}
				}
				return err
			}
			env := planEnv{now: time.Now().UTC()} // the one clock read of this command
			if at != "" {
				if env.now, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("plan: --at %q: want an RFC 3339 time such as 2026-11-27T12:00:00Z", at)
				}
			}
			if storePath == "" {
				storePath = p.Spec.History.Store
			}
			if storePath != "" {
				if env.store, err = openPlanStore(p, storePath); err != nil {
					return err
				}
				if env.store != nil {
					defer env.store.Close()
				}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			res, err := planAll(ctx, p, env)
			if err != nil {
				return err
			}
			switch out {
			case "json":
				return writeJSON(cmd.OutOrStdout(), res.json())
			case "csv":
				t, _ := res.decisionTable()
				return t.write(cmd.OutOrStdout(), "csv")
			}
			return res.writeTable(cmd)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "config", "", "plan file (CapacityPlan YAML)")
	fl.StringVar(&storePath, "store", "", "history store (default: the plan's spec.history.store)")
	fl.StringVar(&at, "at", "", "plan as of this time, RFC 3339 (default: now); trace workloads are planned at their last sample")
	fl.StringVarP(&out, "output", "o", "table", "output format: table, json, or csv (the decisions only)")
	return cmd
}

// openPlanStore opens the store read-only. A store that does not exist yet
// is no store when every workload has a trace, and an error otherwise.
func openPlanStore(p *config.Plan, path string) (*store.Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		for _, w := range p.Spec.Workloads {
			if w.Trace == nil {
				return nil, fmt.Errorf("plan: store %s does not exist: run headroom collect first", path)
			}
		}
		return nil, nil
	}
	st, err := store.Open(path, &store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrOlderSchema) {
		return nil, fmt.Errorf("plan: %w; headroom collect migrates it", err)
	}
	return st, err
}

// planned is one workload's forecast and decision (shared with headroom run).
type planned = runner.Planned

type planResult struct {
	plan      *config.Plan
	workloads []*planned
	pools     *policy.PoolPlan
	warnings  []string // about the plan as a whole
}

// planEnv is where planAll reads live inputs: the store (nil: none) and now.
type planEnv struct {
	store *store.Store
	now   time.Time
}

// planAll forecasts and plans every workload (in parallel; results do not
// depend on the order), then the node pools.
func planAll(ctx context.Context, p *config.Plan, env planEnv) (*planResult, error) {
	res := &planResult{plan: p, workloads: make([]*planned, len(p.Spec.Workloads))}
	var inv *planinput.Inventory
	if env.store != nil {
		var err error
		if inv, err = planinput.LatestInventory(ctx, env.store, env.now); err != nil {
			return nil, err
		}
	}
	errs := make([]error, len(p.Spec.Workloads))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range p.Spec.Workloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res.workloads[i], errs[i] = planOne(ctx, p, i, env, inv)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	pp, err := runner.PlanPools(p, res.workloads)
	if err != nil {
		if errors.Is(err, config.ErrInvalid) {
			return nil, &usageError{err}
		}
		return nil, err
	}
	res.pools = pp
	quotaWarnings(res.workloads, inv)
	return res, nil
}

// quotaWarnings adds a QUOTA warning to each decision whose scale-up needs
// more of a namespace's ResourceQuota than it has left in the inventory
// snapshot after the plan's scale-ups before it (planinput.QuotaLedger):
// the API server would refuse the pods beyond it. Per-pod requests from the
// snapshot, else the plan.
func quotaWarnings(ws []*planned, inv *planinput.Inventory) {
	ledger := inv.QuotaLedger()
	for _, w := range ws {
		d := &w.Decision
		if w.Skipped != "" || w.Workload.Mode == policy.ModeRecommend {
			continue
		}
		for _, s := range ledger.ScaleUpShortfalls(w.Workload, d.Current, d.Desired) {
			d.Warnings = append(d.Warnings, s.String())
		}
	}
}

func planOne(ctx context.Context, p *config.Plan, i int, env planEnv, inv *planinput.Inventory) (*planned, error) {
	cw := &p.Spec.Workloads[i]
	w, err := p.PolicyWorkload(i)
	if err != nil {
		return nil, &usageError{err}
	}
	skip := func(why string) *planned {
		return &planned{Index: i, Workload: w, Pool: cw.NodePool, MASE: math.NaN(), Skipped: why}
	}
	var in *planinput.Inputs
	switch {
	case cw.Trace != nil:
		if in, err = planinput.FromTrace(p, i, w); err != nil {
			return nil, &usageError{err}
		}
	case env.store != nil:
		if in, err = planinput.FromStore(ctx, env.store, w, env.now, nil, inv); err != nil {
			return nil, err
		}
	default:
		return skip(fmt.Sprintf("no trace source and no store (spec.history.store or --store) to read %s history from", p.Spec.History.Source)), nil
	}
	if env.store != nil {
		if err := planinput.FromLog(ctx, env.store, cw, w, in); err != nil {
			return nil, err
		}
	}
	if in.Skipped != "" {
		return skip(in.Skipped), nil
	}
	out := runner.PlanWorkload(p, i, w, runner.Inputs{CPU: in.CPU, Memory: in.Memory, Input: in.Input, Warnings: in.Warnings})
	a := policy.Rightsize(w.Request, in.PerReplicaCPU, in.PerReplicaMemory, nil)
	out.Advice = &a
	return out, nil
}

// planJSON is the JSON document of headroom plan.
type planJSON struct {
	Plan      string           `json:"plan"`
	Decisions []decisionJSON   `json:"decisions"`
	Skipped   []skippedJSON    `json:"skipped"`
	Warnings  []string         `json:"warnings"`
	Pools     *policy.PoolPlan `json:"node_pools"`
}

type decisionJSON struct {
	Target         string      `json:"target"`
	Mode           string      `json:"mode"`
	Time           string      `json:"time"`
	Current        int32       `json:"current"`
	Desired        int32       `json:"desired"`
	Recommendation int32       `json:"recommendation"`
	Rule           string      `json:"rule"`
	Reason         string      `json:"reason"`
	Apply          bool        `json:"apply"`
	PlannedPods    int         `json:"planned_pods"`
	Source         string      `json:"source"` // trace or store
	Model          string      `json:"model,omitempty"`
	MASE           num         `json:"mase"`
	Numbers        numsJSON    `json:"numbers"`
	Warnings       []string    `json:"warnings"`
	Rightsizing    *adviceJSON `json:"rightsizing"`
}

// adviceJSON is per-replica request advice; never applied.
type adviceJSON struct {
	CurrentCPU        num      `json:"current_cpu_cores"`
	CurrentMemory     num      `json:"current_memory_bytes"`
	RecommendedCPU    num      `json:"cpu_cores"`    // 0: no advice
	RecommendedMemory num      `json:"memory_bytes"` // 0: no advice
	Notes             []string `json:"notes"`
}

type numsJSON struct {
	Quantile         num      `json:"quantile"`
	LeadTimeSeconds  num      `json:"lead_time_seconds"`
	LeadTimeSource   string   `json:"lead_time_source"`
	WindowSeconds    num      `json:"window_seconds"`
	DemandCPU        num      `json:"demand_cpu_cores"`
	DemandMemory     num      `json:"demand_memory_bytes"`
	RequestCPU       num      `json:"request_cpu_cores"`
	RequestMemory    num      `json:"request_memory_bytes"`
	UtilizationCPU   num      `json:"utilization_cpu"`
	UtilizationMem   num      `json:"utilization_memory"`
	ForecastReplicas int32    `json:"forecast_replicas"`
	ReactiveReplicas int32    `json:"reactive_replicas"`
	UsageRatio       num      `json:"usage_ratio"`
	Stabilized       int32    `json:"stabilized"`
	ScaleUpLimit     int32    `json:"scale_up_limit"`
	ScaleDownLimit   int32    `json:"scale_down_limit"`
	Min              int32    `json:"min"`
	Max              int32    `json:"max"`
	Windows          []string `json:"windows"`
}

type skippedJSON struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// source is where spec.workloads[i]'s history came from.
func (r *planResult) source(i int) string {
	if r.plan.Spec.Workloads[i].Trace != nil {
		return "trace"
	}
	return "store"
}

func (r *planResult) json() planJSON {
	doc := planJSON{Plan: r.plan.Metadata.Name, Decisions: []decisionJSON{}, Skipped: []skippedJSON{}, Pools: r.pools, Warnings: append([]string{}, r.warnings...)}
	for _, w := range r.workloads {
		if w.Skipped != "" {
			doc.Skipped = append(doc.Skipped, skippedJSON{w.Workload.Target.String(), w.Skipped})
			continue
		}
		d := w.Decision
		n := d.Numbers
		dj := decisionJSON{
			Target: d.Target.String(), Mode: d.Mode.String(), Time: d.Time.UTC().Format(time.RFC3339),
			Current: d.Current, Desired: d.Desired, Recommendation: d.Recommendation, Rule: d.Rule.String(), Reason: d.Reason(),
			Apply: d.Apply, PlannedPods: w.Pods, Source: r.source(w.Index), Model: w.Model, MASE: num(w.MASE), Warnings: append([]string{}, d.Warnings...),
			Numbers: numsJSON{
				Quantile: num(n.Quantile), LeadTimeSeconds: num(n.LeadTime.Seconds()), LeadTimeSource: n.LeadTimeSource, WindowSeconds: num(n.Window.Seconds()),
				DemandCPU: num(n.DemandCPU), DemandMemory: num(n.DemandMem), RequestCPU: num(n.Request.CPU), RequestMemory: num(n.Request.Memory),
				UtilizationCPU: num(n.Utilization.CPU), UtilizationMem: num(n.Utilization.Memory),
				ForecastReplicas: n.ForecastReplicas, ReactiveReplicas: n.ReactiveReplicas, UsageRatio: num(n.UsageRatio),
				Stabilized: n.Stabilized, ScaleUpLimit: n.ScaleUpLimit, ScaleDownLimit: n.ScaleDownLimit, Min: n.Min, Max: n.Max,
				Windows: append([]string{}, n.Windows...),
			},
		}
		if a := w.Advice; a != nil {
			dj.Rightsizing = &adviceJSON{CurrentCPU: num(a.Current.CPU), CurrentMemory: num(a.Current.Memory),
				RecommendedCPU: num(a.Recommended.CPU), RecommendedMemory: num(a.Recommended.Memory), Notes: append([]string{}, a.Notes...)}
		}
		doc.Decisions = append(doc.Decisions, dj)
	}
	return doc
}

// decisionTable is one row per workload, and the decisions' warnings.
func (r *planResult) decisionTable() (*table, []string) {
	t := &table{header: []string{"TARGET", "MODE", "NOW", "CURRENT", "DESIRED", "RULE", "FORECAST", "REACTIVE", "CPU_Q", "MODEL", "REASON"}}
	var warnings []string
	for _, p := range r.workloads {
		if p.Skipped != "" {
			t.add(p.Workload.Target.String(), p.Workload.Mode.String(), "-", "-", "-", "skipped", "-", "-", "-", "-", p.Skipped)
			continue
		}
		d := p.Decision
		rep := func(n int32) string {
			if n < 0 {
				return "-"
			}
			return fmt.Sprint(n)
		}
		cpu := "-"
		if d.Numbers.ForecastReplicas >= 0 {
			cpu = fmtNum(d.Numbers.DemandCPU)
		}
		model := p.Model
		if model == "" {
			model = "-"
		}
		t.add(d.Target.String(), d.Mode.String(), d.Time.UTC().Format("2006-01-02T15:04Z"), fmt.Sprint(d.Current), fmt.Sprint(d.Desired),
			d.Rule.String(), rep(d.Numbers.ForecastReplicas), rep(d.Numbers.ReactiveReplicas), cpu, model, d.Reason())
		for _, x := range d.Warnings {
			warnings = append(warnings, d.Target.String()+": "+x)
		}
	}
	return t, warnings
}

func (r *planResult) writeTable(cmd *cobra.Command) error {
	w := cmd.OutOrStdout()
	t, warnings := r.decisionTable()
	warnings = append(append([]string{}, r.warnings...), warnings...)
	if err := t.write(w, "table"); err != nil {
		return err
	}
	rt := &table{header: []string{"TARGET", "CPU_REQUEST", "ADVICE", "MEMORY_REQUEST", "ADVICE", "NOTES"}}
	for _, p := range r.workloads {
		if a := p.Advice; a != nil {
			rt.add(p.Workload.Target.String(), cores(a.Current.CPU), cores(a.Recommended.CPU), mib(a.Current.Memory), mib(a.Recommended.Memory), strings.Join(a.Notes, "; "))
		}
	}
	if len(rt.rows) > 0 {
		fmt.Fprintln(w, "\nrightsizing (per replica, from the last 14 days; advice only, never applied):")
		if err := rt.write(w, "table"); err != nil {
			return err
		}
	}
	if pp := r.pools; pp != nil {
		fmt.Fprintln(w)
		pt := &table{header: []string{"POOL", "NODES", "DEMAND", "HEADROOM", "+NODES", "PER_ZONE", "PODS", "CPU_REQ/ALLOC", "MEM_REQ/ALLOC", "COST/MONTH", "HEADROOM_COST"}}
		for _, p := range pp.Pools {
			h := p.Headroom.String()
			if p.Headroom != p.Wanted {
				h += " (wanted " + p.Wanted.String() + ")"
			}
			if !p.HeadroomMet {
				h += " NOT MET"
			}
			zones := make([]string, len(p.PerZone))
			for i, z := range p.PerZone {
				zones[i] = fmt.Sprint(z)
			}
			pt.add(p.Name, fmt.Sprint(p.Nodes), fmt.Sprint(p.DemandNodes), h, fmt.Sprint(p.HeadroomNodes), strings.Join(zones, "/"), fmt.Sprint(p.Pods),
				ratio(p.Requested.CPU, p.Allocatable.CPU), ratio(p.Requested.Memory, p.Allocatable.Memory),
				fmt.Sprintf("%.2f", p.MonthlyCost), fmt.Sprintf("%.2f", p.HeadroomMonthlyCost))
			for _, x := range p.Warnings {
				warnings = append(warnings, "pool "+p.Name+": "+x)
			}
		}
		if err := pt.write(w, "table"); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nmonthly cost %.2f", pp.MonthlyCost)
		if b := pp.Budget; b != nil {
			fmt.Fprintf(w, " against a budget of %.2f", b.Monthly)
			if b.Over > 0 {
				fmt.Fprintf(w, ": OVER by %.2f", b.Over)
			} else {
				fmt.Fprintf(w, ": %.2f to spare", b.Monthly-b.Cost)
			}
			for _, x := range b.Trimmed {
				fmt.Fprintf(w, "\n  trimmed: %s", x)
			}
			warnings = append(warnings, b.Warnings...)
		}
		fmt.Fprintln(w)
		warnings = append(warnings, pp.Warnings...)
	}
	if len(warnings) > 0 {
		fmt.Fprintln(w, "\nwarnings:")
		for _, x := range warnings {
			fmt.Fprintln(w, "  "+x)
		}
	}
	return nil
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

func cores(c float64) string {
	switch {
	case c <= 0:
		return "-"
	case c < 1:
		return fmt.Sprintf("%.0fm", c*1000)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", c), "0"), ".")
}

func mib(b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fMi", b/(1<<20))
}
