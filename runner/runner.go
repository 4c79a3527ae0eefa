package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/planinput"
	"github.com/headroom-dev/headroom/policy"
)

// Current is a target's present state as the cluster reports it.
type Current struct {
	// Replicas is spec.replicas; HPAMin the HPA's minReplicas (hpa-floor mode).
	Replicas, HPAMin int32
	// Err says why the state could not be read; the target then fails.
	Err error
}

// Cluster reads the present replica counts of the plan's targets. An
// implementation should list per namespace and kind rather than get each
// target, so that requests grow with namespaces, not workloads.
type Cluster interface {
	Current(ctx context.Context, ws []*policy.Workload) map[policy.Target]Current
}

// Lock is a lease held for the duration of a cycle (actuator.Lease).
type Lock interface {
	// TryAcquire takes the lock when it is free or expired; false when
	// another holder has it (holder names it).
	TryAcquire(ctx context.Context) (ok bool, holder string, err error)
	// Renew extends a held lock; an error means it is lost.
	Renew(ctx context.Context) error
	// Release frees a held lock.
	Release(ctx context.Context) error
	// RenewEvery is how often to renew.
	RenewEvery() time.Duration
}

// Outcome is what happened to one target in a cycle.
type Outcome int

// Outcomes. The zero value means a bug.
const (
	OutcomeUnknown     Outcome = iota
	OutcomeScaled              // the count was changed
	OutcomeUnchanged           // already at the desired count
	OutcomeHeld                // the policy held: missing or stale data
	OutcomeRecommended         // recommend mode
	OutcomeRefused             // a safety check stopped the change
	OutcomeFailed              // reading, planning or acting failed
)

var outcomeNames = [...]string{"unknown (bug)", "scaled", "unchanged", "held", "recommended", "refused", "failed"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o >= 0 {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText writes the outcome's name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if n == string(b) {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("runner: unknown outcome %q", b)
}

// Handled reports whether the outcome counts as handled for the exit code
// (held and refused count: nothing went wrong, the safety rules worked).
func (o Outcome) Handled() bool { return o != OutcomeFailed && o != OutcomeUnknown }

// TargetResult is one target's cycle.
type TargetResult struct {
	Target  policy.Target    `json:"target"`
	Planned *Planned         `json:"-"`
	Outcome Outcome          `json:"outcome"`
	Action  *actuator.Action `json:"action,omitempty"`
	// Note is the reason of a refusal or a hold, or the error of a failure.
	Note string `json:"note,omitempty"`
	// Quota lists the namespace's ResourceQuotas the planned scale-up needs
	// more of than they have left (each also a QUOTA: decision warning):
	// the scale still goes out, the pods beyond the quota will be refused.
	Quota []planinput.QuotaShort `json:"quota,omitempty"`
}

// Result is what a cycle did.
type Result struct {
	Time  time.Time `json:"time"`
	Shard Shard     `json:"-"`
	// Skipped is set when the cycle did not run (another holder had the lease).
	Skipped string `json:"skipped,omitempty"`
	// CollectErr is the collection's error; planning went on with the store's data.
	CollectErr error          `json:"-"`
	Collected  int            `json:"collected_samples"`
	Targets    []TargetResult `json:"targets"`
	// Pools is the node-pool plan (not computed for a shard of several).
	Pools *policy.PoolPlan `json:"-"`
	// Runway is each pool's runway in days.
	Runway map[string]float64 `json:"-"`
	// PoolActions are the node-pool sizes set (pools whose provider is not none).
	PoolActions []PoolResult `json:"-"`
	// NotConverged lists the previous decisions that had not converged, with why.
	NotConverged map[policy.Target]string `json:"-"`
	RecordErr    error                    `json:"-"`
}

// PoolResult is what happened to one node pool's size.
type PoolResult struct {
	Pool   string
	Nodes  int
	Action *actuator.Action
	Err    error
}

// ExitCode is 0 when every target was handled, 1 when something failed.
func (r *Result) ExitCode() int {
	if r.CollectErr != nil || r.RecordErr != nil {
		return 1
	}
	for _, pa := range r.PoolActions {
		if pa.Err != nil {
			return 1
		}
	}
	for _, t := range r.Targets {
		if !t.Outcome.Handled() {
			return 1
		}
	}
	return 0
}

// Count returns how many targets had each outcome.
func (r *Result) Count() map[Outcome]int {
	out := map[Outcome]int{}
	for _, t := range r.Targets {
		out[t.Outcome]++
	}
	return out
}

// Runner runs cycles of one plan.
type Runner struct {
	Plan *config.Plan
	// Source is collected from at the start of each cycle; nil: the store's data only.
	Source metrics.Source
	// Backfill is a range source's first window (default 30 days); Step its
	// query step and the forecast grid (default: the plan's prometheus step
	// for that source, else the plan's interval).
	Backfill, Step time.Duration
	Store          *store.Store
	Cluster        Cluster
	Actuator       actuator.Actuator
	// Lock, when set, is held for each cycle; a cycle that cannot take it is skipped.
	Lock Lock
	// Converged, when set, checks the previous run's decisions at the start
	// of a cycle and returns the targets that did not converge, with why.
	Converged func(ctx context.Context, now time.Time) (map[policy.Target]string, error)
	Clock     clock.PassiveClock
	Log       *slog.Logger
	Metrics   *Metrics
	Shard     Shard
	// DryRun leaves the decision log alone (the actuator is a dry-run one).
	DryRun bool
	// ActuatorLogs says that the actuator writes its own decision-log rows
	// for the changes it makes (actuator.Kube with a Log); otherwise the
	// runner writes the "scale" rows the next cycles' rate limits read.
	ActuatorLogs bool
	// Parallel bounds concurrent forecasts (default GOMAXPROCS).
	Parallel int
	// SizePools sets the pools' planned sizes through Actuator.SetPoolSize
	// (pools whose provider is not none); OnPoolPlan, when set, first
	// receives the whole pool plan (a balloon provider sizes from it).
	SizePools  bool
	OnPoolPlan func(policy.PoolPlan)
	// ApplyParallel bounds concurrent changes through the actuator; 0 or 1
	// applies one at a time (required for actuators not safe for concurrent
	// use, such as actuator.DryRun).
	ApplyParallel int
}

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Runner) step() time.Duration {
	if r.Step > 0 {
		return r.Step
	}
	h := r.Plan.Spec.History
	if h.Source == "prometheus" && h.Prometheus != nil && h.Prometheus.Step != nil {
		return h.Prometheus.Step.Duration
	}
	return r.Plan.Spec.Interval.Duration
}

// ErrInvalidPlan wraps errors about the plan found while running (exit code 2).
var ErrInvalidPlan = errors.New("runner: invalid plan")

// Cycle runs one cycle at the clock's now: take the lock, collect, plan,
// apply, record, release. The error is for an invalid plan or a store that
// cannot be read; everything else is in the Result.
func (r *Runner) Cycle(ctx context.Context) (*Result, error) {
	now := r.Clock.Now().UTC() // the one clock read of the cycle
	res := &Result{Time: now, Shard: r.Shard}
	lg := r.log().With("plan", r.Plan.Metadata.Name, "shard", r.Shard.String())
	if r.Lock != nil {
		ok, holder, err := r.Lock.TryAcquire(ctx)
		if err != nil {
			r.countCycle("failed")
			return nil, fmt.Errorf("lease: %w", err)
		}
		if !ok {
			res.Skipped = fmt.Sprintf("another run holds the lease (%s)", holder)
			lg.Info("lease held by another run: nothing to do", "holder", holder)
			r.countCycle("skipped")
			return res, nil
		}
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.renew(ctx, stop, func(err error) { cancel(err) }, lg)
		}()
		defer func() {
			close(stop)
			wg.Wait()
			// Release with a context of its own: the cycle's may be done.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer rcancel()
			if err := r.Lock.Release(rctx); err != nil {
				lg.Warn("lease release failed; it expires by itself", "error", err.Error())
			}
			cancel(nil)
		}()
	}
	err := r.cycle(ctx, now, res, lg)
	switch {
	case errors.Is(err, ErrInvalidPlan):
		r.countCycle("invalid")
	case err != nil || res.ExitCode() != 0:
		r.countCycle("failed")
	default:
		r.countCycle("ok")
		if r.Metrics != nil {
			r.Metrics.LastSuccess.Set(float64(r.Clock.Now().UnixNano()) / 1e9)
		}
	}
	return res, err
}

func (r *Runner) countCycle(result string) {
	if r.Metrics != nil {
		r.Metrics.Cycles.WithLabelValues(result).Inc()
	}
}

// renew renews the lock every RenewEvery until stop; on failure it calls lost.
func (r *Runner) renew(ctx context.Context, stop <-chan struct{}, lost func(error), lg *slog.Logger) {
	wc, ok := r.Clock.(clock.WithTicker)
	if !ok {
		return
	}
	t := wc.NewTicker(r.Lock.RenewEvery())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C():
			if err := r.Lock.Renew(ctx); err != nil {
				lg.Error("lease lost: stopping before the next change", "error", err.Error())
				lost(fmt.Errorf("lease lost: %w", err))
				return
			}
		}
	}
}

func (r *Runner) cycle(ctx context.Context, now time.Time, res *Result, lg *slog.Logger) error {
	p := r.Plan
	// The targets of this shard.
	var ws []*policy.Workload
	var idx []int
	named := map[policy.Target]*policy.Workload{}
	for i := range p.Spec.Workloads {
		w, err := p.PolicyWorkload(i)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPlan, err)
		}
		if !r.Shard.Owns(w.Target) {
			continue
		}
		ws = append(ws, w)
		idx = append(idx, i)
		named[w.Target] = w
	}
	lg.Info("cycle start", "targets", len(ws), "workloads", len(p.Spec.Workloads), "time", now.Format(time.RFC3339))

	if r.Converged != nil {
		nc, err := r.Converged(ctx, now)
		if err != nil {
			lg.Warn("convergence check failed", "error", err.Error())
		}
		res.NotConverged = nc
		lg.Info("convergence checked", "not_converged", len(nc))
		if r.Metrics != nil {
			r.Metrics.ConvergenceFailure.Reset()
			for t, why := range nc {
				r.Metrics.ConvergenceFailure.WithLabelValues(t.String()).Set(1)
				lg.Warn("previous decision did not converge", "target", t.String(), "reason", why)
			}
		}
	}

	if r.Source != nil {
		n, err := r.collect(ctx, now)
		res.Collected = n
		if err != nil {
			res.CollectErr = err
			lg.Error("collection failed: planning on the stored data (stale data holds)", "source", r.Source.Name(), "error", err.Error())
		} else {
			lg.Info("collected", "source", r.Source.Name(), "samples", n)
		}
	}

	var cur map[policy.Target]Current
	if r.Cluster != nil {
		cur = r.Cluster.Current(ctx, ws)
	}

	// Plan every target (in parallel; results do not depend on the order)
	// from the store and the decision log, as headroom plan does.
	res.Targets = make([]TargetResult, len(ws))
	planned := make([]*Planned, len(ws))
	trend := make([]float64, len(ws))
	errs := make([]error, len(ws))
	par := r.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	var g errgroup.Group
	g.SetLimit(par)
	for k, w := range ws {
		res.Targets[k].Target = w.Target
		c, ok := cur[w.Target]
		switch {
		case r.Cluster == nil:
			c = Current{Replicas: w.Min, HPAMin: w.Min}
		case !ok:
			c.Err = errors.New("not found in the cluster")
		}
		if c.Err != nil {
			res.Targets[k].Outcome, res.Targets[k].Note = OutcomeFailed, "reading current replicas: "+c.Err.Error()
			continue
		}
		g.Go(func() error {
			in, err := planinput.FromStore(ctx, r.Store, w, now, &planinput.Current{Replicas: c.Replicas, HPAMin: c.HPAMin}, nil)
			if err == nil {
				err = planinput.FromLog(ctx, r.Store, &p.Spec.Workloads[idx[k]], w, in)
			}
			if err != nil {
				errs[k] = err // per target: the others are still planned
				return nil
			}
			if in.Skipped != "" {
				planned[k] = &Planned{Index: idx[k], Workload: w, Pool: p.Spec.Workloads[idx[k]].NodePool, MASE: math.NaN(), Skipped: in.Skipped}
				return nil
			}
			planned[k] = PlanWorkload(p, idx[k], w, Inputs{CPU: in.CPU, Memory: in.Memory, Input: in.Input, Warnings: in.Warnings})
			trend[k] = TrendPerDay(in.CPU)
			return nil
		})
	}
	g.Wait()
	for k, err := range errs {
		switch {
		case err != nil && context.Cause(ctx) != nil:
			res.Targets[k].Outcome, res.Targets[k].Note = OutcomeFailed, "not planned: "+context.Cause(ctx).Error()
		case err != nil:
			res.Targets[k].Outcome, res.Targets[k].Note = OutcomeFailed, "reading the store: "+err.Error()
		}
		res.Targets[k].Planned = planned[k]
	}
	lg.Info("planned", "targets", len(ws))
	if r.Shard.Count <= 1 {
		pp, err := PlanPools(p, planned)
		if err != nil {
			lg.Error("node-pool plan failed", "error", err.Error())
		}
		res.Pools = pp
		tr := map[policy.Target]float64{}
		for k, w := range ws {
			tr[w.Target] = trend[k]
		}
		res.Runway = PoolRunways(p, planned, pp, tr)
	}
	// After the pools: a budget's trim may have changed the decisions.
	if err := quotaChecks(ctx, r.Store, now, res.Targets); err != nil {
		lg.Warn("quota check failed: decisions not checked against the namespaces' ResourceQuotas", "error", err.Error())
	}

	// Apply: ApplyParallel changes at a time (the actuator must be safe
	// for concurrent use then; actuator.Kube is).
	var ag errgroup.Group
	ag.SetLimit(max(1, r.ApplyParallel))
	for k := range res.Targets {
		tr := &res.Targets[k]
		if tr.Outcome != OutcomeUnknown || tr.Planned == nil {
			continue
		}
		ag.Go(func() error { r.apply(ctx, now, named, tr); return nil })
	}
	ag.Wait()
	r.applyPools(ctx, now, res, lg)

	// Record.
	if !r.DryRun {
		// Recorded even when the lease was lost mid-cycle: what was done is history either way.
		if err := r.record(context.WithoutCancel(ctx), now, res); err != nil {
			res.RecordErr = err
			lg.Error("recording the decisions failed", "error", err.Error())
		}
	}
	r.export(res)
	for _, t := range res.Targets {
		r.logTarget(lg, t)
	}
	c := res.Count()
	lg.Info("cycle end", "scaled", c[OutcomeScaled], "unchanged", c[OutcomeUnchanged], "held", c[OutcomeHeld],
		"recommended", c[OutcomeRecommended], "refused", c[OutcomeRefused], "failed", c[OutcomeFailed], "exit_code", res.ExitCode())
	return nil
}

// collect pulls the window from the source into the store, and rolls old
// samples into hourly aggregates.
func (r *Runner) collect(ctx context.Context, now time.Time) (int, error) {
	var w metrics.Window
	switch r.Source.Name() {
	case "prometheus":
		c, ok, err := r.Store.LastCollection(ctx, "prometheus")
		if err != nil {
			return 0, err
		}
		var last time.Time
		if ok {
			last = c.Window.End
		}
		backfill := r.Backfill
		if backfill <= 0 {
			backfill = 30 * 24 * time.Hour
		}
		w = metrics.NextWindow(last, now, backfill, r.step())
	default:
		w = metrics.Window{Start: now, End: now}
	}
	b, err := r.Source.Collect(ctx, w)
	if err != nil {
		return 0, err
	}
	ws, err := r.Store.Write(ctx, b, now)
	if err != nil {
		return 0, err
	}
	if r.Source.Name() != "trace" {
		if _, err := r.Store.Compact(ctx, now); err != nil {
			return ws.Samples, err
		}
	}
	for _, wn := range b.Warnings {
		r.log().Warn("collection warning", "warning", wn)
	}
	return ws.Samples, nil
}

// Check is the safety check of a decision before it is applied: the target
// is named in the plan, the count is not negative, it goes to zero only when
// the plan's minimum is 0, and it stays within the decision's own bounds and
// this run's rate limits (a bound set by the plan or a window wins over a
// rate limit, as in the policy). It returns why a change is refused, "" when
// it may go ahead.
func Check(named map[policy.Target]*policy.Workload, d policy.Decision) string {
	w, ok := named[d.Target]
	switch {
	case !ok:
		return "not named in the plan (or not in this shard)"
	case d.Desired < 0:
		return fmt.Sprintf("desired count %d is negative", d.Desired)
	case d.Desired == 0 && w.Min > 0:
		return fmt.Sprintf("would scale to zero; the plan's minimum is %d", w.Min)
	case d.Desired < d.Numbers.Min || d.Desired > d.Numbers.Max:
		return fmt.Sprintf("desired %d outside the bounds [%d, %d]", d.Desired, d.Numbers.Min, d.Numbers.Max)
	case d.Desired > d.Current && d.Numbers.ScaleUpLimit >= 0 && d.Desired > d.Numbers.ScaleUpLimit && d.Desired != d.Numbers.Min:
		return fmt.Sprintf("scale-up %d → %d beyond this run's limit of %d", d.Current, d.Desired, d.Numbers.ScaleUpLimit)
	case d.Desired < d.Current && d.Numbers.ScaleDownLimit >= 0 && d.Desired < d.Numbers.ScaleDownLimit && d.Desired != d.Numbers.Max:
		return fmt.Sprintf("scale-down %d → %d beyond this run's limit of %d", d.Current, d.Desired, d.Numbers.ScaleDownLimit)
	}
	return ""
}

func (r *Runner) apply(ctx context.Context, now time.Time, named map[policy.Target]*policy.Workload, tr *TargetResult) {
	if tr.Planned.Skipped != "" {
		tr.Outcome, tr.Note = OutcomeHeld, "not planned: "+tr.Planned.Skipped
		return
	}
	d := tr.Planned.Decision
	switch {
	case d.Mode == policy.ModeRecommend:
		tr.Outcome = OutcomeRecommended
		return
	case d.Rule == policy.RuleHold || !d.Apply:
		tr.Outcome, tr.Note = OutcomeHeld, d.Reason()
		return
	}
	if why := Check(named, d); why != "" {
		tr.Outcome, tr.Note = OutcomeRefused, why
		return
	}
	if !d.Changed() {
		tr.Outcome = OutcomeUnchanged
		return
	}
	if err := context.Cause(ctx); err != nil {
		tr.Outcome, tr.Note = OutcomeFailed, "not applied: "+err.Error()
		return
	}
	var a actuator.Action
	var err error
	if ap, ok := r.Actuator.(actuator.Applier); ok {
		// On a conflict the actuator re-reads the count and asks again: the
		// same policy on the same inputs at the new count, under the same checks.
		w, in := tr.Planned.Workload, tr.Planned.Input
		replan := func(current int32) (int32, string) {
			if w.Mode == policy.ModeHPAFloor {
				in.CurrentMin = current
			} else {
				in.Current = current
			}
			nd := policy.Replicas(w, in)
			if !nd.Apply || nd.Rule == policy.RuleHold {
				return current, nd.Reason()
			}
			if why := Check(named, nd); why != "" {
				return current, "refused after a conflict: " + why
			}
			return nd.Desired, nd.Reason()
		}
		a, err = ap.Apply(ctx, now, actuator.Request{Target: d.Target, Desired: d.Desired, Reason: d.Reason(), Replan: replan, Warnings: quotaWarnings(tr)})
	} else {
		a, err = r.Actuator.SetReplicas(ctx, now, d.Target, d.Desired, d.Reason())
	}
	if err != nil {
		tr.Outcome, tr.Note = OutcomeFailed, err.Error()
		if r.Metrics != nil {
			r.Metrics.ActuationFailures.WithLabelValues(actuator.KindReplicas.String()).Inc()
		}
		return
	}
	tr.Action = &a
	if a.Changed {
		tr.Outcome = OutcomeScaled
	} else {
		tr.Outcome = OutcomeUnchanged
	}
}

// applyPools sets the planned size of each pool whose provider acts
// (cluster-api, gke, balloon), after the workloads: the pods come first,
// the nodes they need follow. Only a whole plan sizes pools (not a shard),
// and only pools named in the plan, within their size bounds.
func (r *Runner) applyPools(ctx context.Context, now time.Time, res *Result, lg *slog.Logger) {
	if res.Pools == nil || !r.SizePools {
		return
	}
	if r.OnPoolPlan != nil {
		r.OnPoolPlan(*res.Pools)
	}
	for _, pr := range res.Pools.Pools {
		var np *config.NodePool
		for i := range r.Plan.Spec.NodePools {
			if r.Plan.Spec.NodePools[i].Name == pr.Name {
				np = &r.Plan.Spec.NodePools[i]
			}
		}
		if np == nil || np.Provider == "" || np.Provider == "none" {
			continue
		}
		out := PoolResult{Pool: pr.Name, Nodes: pr.Nodes}
		switch {
		case pr.Nodes < np.Size.Min || pr.Nodes > np.Size.Max:
			out.Err = fmt.Errorf("planned %d nodes outside the pool's size [%d, %d]: not applied", pr.Nodes, np.Size.Min, np.Size.Max)
		case context.Cause(ctx) != nil:
			out.Err = fmt.Errorf("not applied: %w", context.Cause(ctx))
		default:
			reason := fmt.Sprintf("%d nodes: %d for the planned pods, %d for %s headroom", pr.Nodes, pr.DemandNodes, pr.HeadroomNodes, pr.Headroom)
			a, err := r.Actuator.SetPoolSize(ctx, now, pr.Name, pr.Nodes, reason)
			if err == nil {
				out.Action = &a
			}
			out.Err = err
		}
		if out.Err != nil {
			lg.Error("node pool not sized", "pool", pr.Name, "nodes", pr.Nodes, "error", out.Err.Error())
			if r.Metrics != nil {
				r.Metrics.ActuationFailures.WithLabelValues(actuator.KindPoolSize.String()).Inc()
			}
		} else {
			lg.Info("node pool", "pool", pr.Name, "nodes", pr.Nodes, "changed", out.Action.Changed)
		}
		res.PoolActions = append(res.PoolActions, out)
	}
}

func (r *Runner) record(ctx context.Context, now time.Time, res *Result) error {
	var rows []store.Decision
	for _, t := range res.Targets {
		if t.Planned == nil || t.Planned.Skipped != "" {
			continue
		}
		det := LogDetail{Outcome: t.Outcome, Decision: t.Planned.Decision, Action: logged(t.Action)}
		if t.Outcome == OutcomeFailed || t.Outcome == OutcomeRefused {
			det.Error = t.Note
		}
		b, err := json.Marshal(det)
		if err != nil {
			return err
		}
		reason := t.Planned.Decision.Reason()
		if t.Note != "" && t.Outcome != OutcomeHeld {
			reason = t.Note + "; " + reason
		}
		wl := planinput.WorkloadOf(t.Target)
		rows = append(rows, store.Decision{T: now, Workload: wl, Action: ActionDecision, Reason: reason, Detail: b})
		if a := t.Action; a != nil && a.Changed && !r.ActuatorLogs {
			// The scale event the next cycles' rate limits count (an actuator that logs writes its own).
			ev, _ := json.Marshal(planinput.ScaleDetail{From: int32(a.From), To: int32(a.To)})
			rows = append(rows, store.Decision{T: now, Workload: wl, Action: planinput.ActionScale, Reason: reason, Detail: ev})
		}
	}
	return r.Store.AppendDecisions(ctx, rows)
}

func (r *Runner) export(res *Result) {
	m := r.Metrics
	if m == nil {
		return
	}
	m.UnmetDemand.Reset()
	m.ForecastError.Reset()
	m.QuotaShortfall.Reset()
	for _, t := range res.Targets {
		for _, q := range t.Quota {
			m.QuotaShortfall.WithLabelValues(t.Target.String(), q.Namespace+"/"+q.Name, q.Resource).Set(q.Shortfall())
		}
		rule := "none"
		if t.Planned != nil {
			rule = t.Planned.Decision.Rule.String()
			if u := UnmetCPU(t.Planned.Decision); u > 0 {
				m.UnmetDemand.WithLabelValues(t.Target.String()).Set(u)
			}
			if x := t.Planned.MASE; x == x {
				m.ForecastError.WithLabelValues(t.Target.String()).Set(x)
			}
		}
		m.Decisions.WithLabelValues(rule, t.Outcome.String()).Inc()
	}
	if res.Runway != nil {
		m.RunwayDays.Reset()
		for pool, d := range res.Runway {
			m.RunwayDays.WithLabelValues(pool).Set(d)
		}
	}
}

func (r *Runner) logTarget(lg *slog.Logger, t TargetResult) {
	attrs := []any{"target", t.Target.String(), "outcome", t.Outcome.String()}
	level := slog.LevelInfo
	if p := t.Planned; p != nil {
		d := p.Decision
		attrs = append(attrs, "mode", d.Mode.String(), "current", d.Current, "desired", d.Desired, "rule", d.Rule.String(), "reason", d.Reason())
		if len(d.Warnings) > 0 {
			attrs = append(attrs, "warnings", d.Warnings)
		}
	}
	if t.Note != "" {
		attrs = append(attrs, "note", t.Note)
	}
	switch t.Outcome {
	case OutcomeFailed:
		level = slog.LevelError
	case OutcomeRefused, OutcomeHeld:
		level = slog.LevelWarn
	}
	lg.Log(context.Background(), level, "decision", attrs...)
}

// Hostname is the default lease holder identity.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "headroom"
	}
	return h
}
