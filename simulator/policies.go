package simulator

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

// Policy names.
const (
	Predictive = "predictive"
	Reactive   = "reactive"
	Static     = "static"
	Scheduled  = "scheduled"
)

// PolicyNames lists the policies in their default order.
var PolicyNames = []string{Predictive, Reactive, Static, Scheduled}

// HPASync is the HPA controller's sync period (--horizontal-pod-autoscaler-sync-period).
const HPASync = 15 * time.Second

// Reselect is how often the predictive policy runs the full model
// selection (forecast.Auto with the plan's model, normally auto); the
// refits in between refit the model it chose (the best single model when a
// combination won), calibrating its quantiles on the last day.
const Reselect = 24 * time.Hour

// ScaleDownUnneeded is how long the reactive baseline's node autoscaler
// waits before removing unneeded nodes (cluster-autoscaler's
// --scale-down-unneeded-time).
const ScaleDownUnneeded = 10 * time.Minute

// driver is one policy acting on a cluster.
type driver interface {
	// act runs at every tick; plan is true on the planner's interval.
	act(ctx context.Context, s *run, plan bool)
}

// run is one policy's simulation state.
type run struct {
	in      *Input
	opt     *Options
	c       *Cluster
	now     time.Time
	start   time.Time
	idx     []int       // per workload: index of the sample in effect at now (-1: none yet)
	demand  [][]float64 // per workload: scenario-adjusted, NaN kept (what a forecaster sees)
	held    [][]float64 // per workload: NaN replaced by the last value (what the world does)
	hpaHist []policy.History
	// poolKey and poolSizes cache planPools: the pods and prices last
	// planned for, and the sizes planned.
	poolKey   []float64
	poolSizes []int
}

// demandNow is the demand in effect at now (0 before the first sample).
func (s *run) demandNow(i int) float64 {
	if s.idx[i] < 0 {
		return 0
	}
	return s.held[i][s.idx[i]]
}

func prune(h *policy.History, now time.Time, keep time.Duration) {
	// Entries are appended in time order: drop the old prefix.
	cut := now.Add(-keep)
	k := 0
	for k < len(h.Recommendations) && !h.Recommendations[k].Time.After(cut) {
		k++
	}
	h.Recommendations = h.Recommendations[k:]
	k = 0
	for k < len(h.Events) && !h.Events[k].Time.After(cut) {
		k++
	}
	h.Events = h.Events[k:]
}

// hpa runs one HPA sync for workload i with the given minimum: CPU
// utilization against the workload's target, default behavior
// (policy.ReactiveReplicas + policy.Normalize, as the controller).
func (s *run) hpa(ctx context.Context, i int, minR int32) {
	w := s.c.workloads[i]
	spec := w.spec
	h := &s.hpaHist[i]
	prune(h, s.now, policy.DefaultScaleDownWindow+HPASync)
	cur := w.replicas
	unready := int32(int(cur) - w.ready)
	rec, _ := policy.ReactiveReplicas(cur, int32(w.ready), 0, max(unready, 0), s.demandNow(i), spec.Request.CPU, spec.Utilization.CPU, spec.EffectiveTolerance(), true)
	lo, hi := max(minR, spec.Min), spec.Max
	if hi < lo {
		hi = lo
	}
	if rec < 0 {
		// No pod reports: the controller only applies the bounds.
		rec = cur
	}
	n := policy.Normalize(s.now, cur, rec, lo, hi, policy.Behavior{}, *h)
	h.Recommendations = append(h.Recommendations, policy.Recommendation{Time: s.now, Replicas: rec})
	if n.Replicas != cur {
		h.Events = append(h.Events, policy.ScaleEvent{Time: s.now, From: cur, To: n.Replicas})
		s.c.SetReplicas(ctx, s.now, spec.Target, n.Replicas, "hpa")
	}
}

// planPools sizes the pools for pods[w] planned pods with the plan's
// headroom and budget, and sets them.
func (s *run) planPools(ctx context.Context, pods []int, headroom bool, budget float64, reason string) {
	if len(s.in.Pools) == 0 {
		return
	}
	key := make([]float64, 0, len(pods)+len(s.c.pools))
	for _, n := range pods {
		key = append(key, float64(n))
	}
	for _, p := range s.c.pools {
		key = append(key, p.spec.PricePerHour)
	}
	if slices.Equal(key, s.poolKey) {
		for i, n := range s.poolSizes {
			s.c.SetPoolSize(ctx, s.now, s.in.Pools[i].Name, n, reason)
		}
		return
	}
	s.poolKey, s.poolSizes = key, s.poolSizes[:0]
	pools := append([]policy.Pool(nil), s.in.Pools...)
	for i := range pools {
		pools[i].PricePerHour = s.c.pools[i].spec.PricePerHour
		if !headroom {
			pools[i].Headroom = policy.HeadroomNone
		}
	}
	groups := make([]policy.PodGroup, len(pods))
	for i := range pods {
		w := &s.in.Workloads[i]
		groups[i] = policy.PodGroup{Target: w.Spec.Target, Request: w.Spec.Request, Replicas: pods[i], Pool: w.Pool}
	}
	pp, err := policy.PlanPools(pools, groups, budget)
	if err != nil {
		panic("simulator: planning pools: " + err.Error()) // inputs were validated
	}
	for _, r := range pp.Pools {
		s.poolSizes = append(s.poolSizes, r.Nodes)
		s.c.SetPoolSize(ctx, s.now, r.Name, r.Nodes, reason)
	}
}

// reactive is the HPA on every workload (15 s sync) and a node autoscaler
// that adds nodes for pending pods at once and removes unneeded nodes after
// ScaleDownUnneeded, with no headroom.
type reactive struct {
	since  []time.Time // per pool: since when fewer nodes were needed (zero: not)
	needed []int
	key    []int32 // replicas the needed sizes were computed for
	// checked is when needed was last computed: at once for pending pods,
	// otherwise at most once a minute (for removing nodes).
	checked time.Time
	sync    time.Duration
}

func (r *reactive) act(ctx context.Context, s *run, _ bool) {
	if s.now.Sub(s.start)%r.sync == 0 {
		for i := range s.c.workloads {
			s.hpa(ctx, i, 0)
		}
	}
	if len(s.in.Pools) == 0 {
		return
	}
	s.c.settle()
	rep := make([]int32, len(s.c.workloads))
	pending := 0
	for i, w := range s.c.workloads {
		rep[i] = w.replicas
		pending += w.pending()
	}
	stale := r.needed == nil || !equal32(rep, r.key)
	if stale && (r.needed == nil || pending > 0 || s.now.Sub(r.checked) >= time.Minute) {
		r.checked = s.now
		pods := make([]int, len(rep))
		for i := range rep {
			pods[i] = int(rep[i])
		}
		pools := append([]policy.Pool(nil), s.in.Pools...)
		groups := make([]policy.PodGroup, len(pods))
		for i := range pools {
			pools[i].Headroom = policy.HeadroomNone
		}
		for i := range pods {
			w := &s.in.Workloads[i]
			groups[i] = policy.PodGroup{Target: w.Spec.Target, Request: w.Spec.Request, Replicas: pods[i], Pool: w.Pool}
		}
		pp, err := policy.PlanPools(pools, groups, 0)
		if err != nil {
			panic("simulator: planning pools: " + err.Error())
		}
		r.needed = make([]int, len(pp.Pools))
		for i, p := range pp.Pools {
			r.needed[i] = p.Nodes
		}
		r.key = rep
		if r.since == nil {
			r.since = make([]time.Time, len(pp.Pools))
		}
	}
	for i, p := range s.c.pools {
		need := r.needed[i]
		switch {
		case need > p.desired && pending > 0:
			s.c.SetPoolSize(ctx, s.now, p.spec.Name, need, "pending pods")
			r.since[i] = time.Time{}
		case need < p.desired:
			if r.since[i].IsZero() {
				r.since[i] = s.now
			} else if s.now.Sub(r.since[i]) >= ScaleDownUnneeded {
				s.c.SetPoolSize(ctx, s.now, p.spec.Name, need, "unneeded nodes")
				r.since[i] = time.Time{}
			}
		default:
			r.since[i] = time.Time{}
		}
	}
}

func equal32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// static holds the replicas and pools it started with (sized for the peak).
type static struct{}

func (static) act(context.Context, *run, bool) {}

// scheduled sets each workload to its bounds under the scheduled windows
// (the plan's minimum, raised by the windows from lead time before they
// open) on the planner's interval, and sizes the pools for them with the
// plan's headroom: cron scaling alone.
type scheduled struct{}

func (scheduled) act(ctx context.Context, s *run, plan bool) {
	if !plan {
		return
	}
	pods := make([]int, len(s.in.Workloads))
	for i := range s.in.Workloads {
		w := &s.in.Workloads[i].Spec
		lo, _, active, _, _ := policy.Bounds(w.Windows, s.now, w.LeadTime, w.Min, w.Max)
		reason := "min"
		if len(active) > 0 {
			reason = "window"
		}
		s.c.SetReplicas(ctx, s.now, w.Target, lo, reason)
		ahead, _, _, _, _ := policy.Bounds(w.Windows, s.now, max(w.LeadTime, poolLead(s.in, i)), w.Min, w.Max)
		pods[i] = int(max(lo, ahead))
	}
	s.planPools(ctx, pods, true, s.in.Budget, "scheduled")
}

// poolLead is the provisioning time of a workload's pool (the longest of
// all pools when the packer chooses), as headroom plan uses.
func poolLead(in *Input, i int) time.Duration {
	var lead time.Duration
	for _, p := range in.Pools {
		if in.Workloads[i].Pool == "" || p.Name == in.Workloads[i].Pool {
			lead = max(lead, p.LeadTime)
		}
	}
	return lead
}

// predictive is headroom: on the planner's interval, policy.Replicas on the
// forecast (refit every Refit on the history seen so far) and current usage,
// then PlanPools on the pods planned ahead by the pools' lead times (as
// headroom plan). Workloads in hpa-floor mode get the decision as their
// HPA's minimum, and the HPA reacts above it every sync.
type predictive struct {
	fc      []*forecast.Forecast // last fit per workload (nil: none)
	fcAt    []int                // sample index the fit ended at
	refitAt time.Time
	// chosen is the model the last full selection chose per workload ("":
	// select again); selectAt is when it ran.
	chosen   []string
	selectAt time.Time
	hist     []policy.History
	floor    []int32
	sync     time.Duration
	fits     int
}

func (p *predictive) refit(s *run) {
	n := len(s.in.Workloads)
	if p.fc == nil {
		p.fc, p.fcAt, p.chosen = make([]*forecast.Forecast, n), make([]int, n), make([]string, n)
	}
	full := p.selectAt.IsZero() || s.now.Sub(p.selectAt) >= Reselect
	if full {
		p.selectAt = s.now
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range n {
		k := s.idx[i]
		if k < 0 {
			p.fc[i] = nil
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			w := &s.in.Workloads[i]
			d := w.Demand
			hz := w.Horizon
			if hz <= 0 {
				hz = w.Spec.LeadTime + s.in.interval()
			}
			steps := int((s.opt.refit()+hz+d.Step-1)/d.Step) + 1
			// Only samples at or before now: the forecaster cannot see the future.
			series := forecast.Series{Name: d.Name, Start: d.Start, Step: d.Step, Values: s.demand[i][:k+1]}
			model := s.in.Model
			if !full && p.chosen[i] != "" {
				model = p.chosen[i]
			}
			fo := forecast.Options{Horizon: steps, Quantiles: []float64{s.in.quantile()}, Model: model, MaxHistory: s.opt.maxHistory(d.Step)}
			if !full && p.chosen[i] != "" {
				// A refit of the chosen model: its errors over the last day
				// calibrate the quantiles (the full selection validates on a
				// quarter of the history).
				fo.Validation = max(steps, int(24*time.Hour/d.Step))
			}
			f, err := forecast.Auto(series, fo)
			if err != nil {
				f = nil
			}
			if full {
				p.chosen[i] = ""
				if f != nil {
					// The chosen model, or the best single model when a
					// combination won.
					for _, m := range append([]string{f.Model}, scoreNames(f)...) {
						if slices.Contains(forecast.ModelNames, m) {
							p.chosen[i] = m
							break
						}
					}
				}
			}
			p.fc[i], p.fcAt[i] = f, k
		}()
	}
	wg.Wait()
	p.fits++
	p.refitAt = s.now
}

func (p *predictive) act(ctx context.Context, s *run, plan bool) {
	n := len(s.in.Workloads)
	if p.hist == nil {
		p.hist, p.floor = make([]policy.History, n), make([]int32, n)
	}
	if plan {
		if p.fc == nil || s.now.Sub(p.refitAt) >= s.opt.refit() {
			p.refit(s)
		}
		pods := make([]int, n)
		for i := range n {
			spec := s.in.Workloads[i].Spec
			// A trace sample stands for its whole step: data one step old
			// is current here, so the staleness limit is at least a step.
			if step := s.in.Workloads[i].Demand.Step; spec.MaxAge < step && (spec.MaxAge > 0 || step > policy.DefaultMaxAge) {
				spec.MaxAge = step
			}
			w := &spec
			sw := s.c.workloads[i]
			in := policy.Input{Now: s.now, Current: sw.replicas, CurrentMin: max(p.floor[i], w.Min), History: p.hist[i]}
			var dem *policy.Demand
			if f := p.fc[i]; f != nil && s.idx[i] > p.fcAt[i] {
				// Between refits, the fitted model observes the samples
				// that arrived since (forecast.Advance: no refit, the same
				// calibrated quantile offsets), as the live planner does.
				d := s.in.Workloads[i].Demand
				first := int(f.Start.Sub(d.Start) / d.Step)
				if first >= 0 && first <= s.idx[i] {
					if g, err := f.Advance(s.demand[i][first : s.idx[i]+1]...); err == nil {
						p.fc[i], p.fcAt[i] = g, s.idx[i]
					}
				}
			}
			if f := p.fc[i]; f != nil {
				// The forecast from the current sample on.
				j := s.idx[i] - p.fcAt[i]
				if q := f.Quantile(s.in.quantile()); j < len(q) {
					dem = &policy.Demand{Start: f.Start.Add(time.Duration(j) * f.Step), Step: f.Step, CPU: q[j:]}
				}
			}
			in.Demand = dem
			if s.idx[i] >= 0 && sw.ready > 0 {
				in.Usage = &policy.Usage{Time: s.now, CPU: s.demandNow(i), Reporting: int32(sw.ready), Unready: max(sw.replicas-int32(sw.ready), 0)}
			}
			d := policy.Replicas(w, in)
			h := &p.hist[i]
			prune(h, s.now, time.Hour)
			h.Recommendations = append(h.Recommendations, policy.Recommendation{Time: s.now, Replicas: d.Recommendation})
			if w.Mode == policy.ModeHPAFloor {
				p.floor[i] = d.Desired
				pods[i] = int(max(d.Desired, sw.replicas))
			} else {
				if d.Desired != sw.replicas {
					h.Events = append(h.Events, policy.ScaleEvent{Time: s.now, From: sw.replicas, To: d.Desired})
				}
				s.c.SetReplicas(ctx, s.now, w.Target, d.Desired, d.Rule.String())
				pods[i] = int(d.Desired)
			}
			if d.Rule != policy.RuleHold {
				pods[i] = int(policy.PodsAhead(w, dem, s.now, poolLead(s.in, i), int32(pods[i])))
			}
		}
		s.planPools(ctx, pods, true, s.in.Budget, "forecast")
	}
	if s.now.Sub(s.start)%p.sync == 0 {
		for i := range n {
			if s.in.Workloads[i].Spec.Mode == policy.ModeHPAFloor {
				s.hpa(ctx, i, p.floor[i])
			}
		}
	}
}

// staticSizes are the replicas for the peak of the scenario-adjusted
// demand over the run (hindsight: the baseline knows the peak), and the
// pools for them with the plan's headroom and budget.
func staticSizes(in *Input, held [][]float64, from, to []int) ([]int32, []int) {
	reps := make([]int32, len(in.Workloads))
	pods := make([]int, len(in.Workloads))
	for i := range in.Workloads {
		w := &in.Workloads[i].Spec
		peak := 0.0
		for k := max(from[i], 0); k <= to[i] && k < len(held[i]); k++ {
			peak = max(peak, held[i][k])
		}
		n := int32(math.Ceil(peak/(w.Request.CPU*w.Utilization.CPU) - 1e-9))
		reps[i] = min(max(n, w.Min), w.Max)
		pods[i] = int(reps[i])
	}
	return reps, poolSizes(in, pods, true, in.Budget)
}

func poolSizes(in *Input, pods []int, headroom bool, budget float64) []int {
	if len(in.Pools) == 0 {
		return nil
	}
	pools := append([]policy.Pool(nil), in.Pools...)
	if !headroom {
		for i := range pools {
			pools[i].Headroom = policy.HeadroomNone
		}
	}
	groups := make([]policy.PodGroup, len(pods))
	for i := range pods {
		w := &in.Workloads[i]
		groups[i] = policy.PodGroup{Target: w.Spec.Target, Request: w.Spec.Request, Replicas: pods[i], Pool: w.Pool}
	}
	pp, err := policy.PlanPools(pools, groups, budget)
	if err != nil {
		panic(fmt.Sprintf("simulator: planning pools: %v", err))
	}
	out := make([]int, len(pp.Pools))
	for i, p := range pp.Pools {
		out[i] = p.Nodes
	}
	return out
}

func scoreNames(f *forecast.Forecast) []string {
	out := make([]string, 0, len(f.Scores))
	for _, sc := range f.Scores {
		if sc.Err == "" {
			out = append(out, sc.Model)
		}
	}
	return out
}
