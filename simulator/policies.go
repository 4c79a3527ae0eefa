package simulator

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

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

// Reselect is how often, by default, the predictive policy runs the full
// model selection (forecast.Auto with the plan's model, normally auto); the
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
	in    *Input
	opt   *Options
	c     *Cluster
	now   time.Time
	start time.Time
	// Per resource (cpu, memory), per workload: the index of the sample in
	// effect at now (-1: none yet), the scenario-adjusted demand with NaN
	// kept (what a forecaster sees), and with NaN replaced by the last
	// value (what the world does; nil: no memory column).
	idx     [2][]int
	demand  [2][][]float64
	held    [2][][]float64
	hpaHist []policy.History
	dayErrs []float64 // forecast errors per day for the budget band
	// Per workload, for the clock loop: the request, the utilization
	// ceiling, and whether it has memory demand and a memory request.
	req, util []policy.Resources
	mem       []bool
	// poolKey and poolSizes cache planPools: the pods and prices last
	// planned for, and the sizes planned; keyBuf, pools and groups are its
	// scratch (PlanPools keeps none of them).
	poolKey   []float64
	poolSizes []int
	keyBuf    []float64
	pools     []policy.Pool
	groups    []policy.PodGroup
}

// demandNow is the demand for resource r of workload i in effect at now
// (0 before the first sample or without a memory column).
func (s *run) demandNow(r, i int) float64 {
	if s.idx[r][i] < 0 || s.held[r][i] == nil {
		return 0
	}
	return s.held[r][i][min(s.idx[r][i], len(s.held[r][i])-1)]
}

// hasMem reports whether workload i has memory demand and a memory request.
func (s *run) hasMem(i int) bool { return s.mem[i] }

func prune(h *policy.History, now time.Time, keep time.Duration) {
	// Entries are appended in time order: drop the old prefix, moving the
	// rest to the front so that appends reuse the array.
	cut := now.Add(-keep)
	k := 0
	for k < len(h.Recommendations) && !h.Recommendations[k].Time.After(cut) {
		k++
	}
	if k > 0 {
		h.Recommendations = h.Recommendations[:copy(h.Recommendations, h.Recommendations[k:])]
	}
	k = 0
	for k < len(h.Events) && !h.Events[k].Time.After(cut) {
		k++
	}
	if k > 0 {
		h.Events = h.Events[:copy(h.Events, h.Events[k:])]
	}
}

// hpa runs one HPA sync for workload i with the given minimum: CPU
// utilization against the workload's target (and memory utilization when
// the trace has memory demand: the larger proposal wins), default behavior
// (policy.ReactiveReplicas + policy.Normalize, as the controller). A
// positive target replaces the workload's for both resources.
func (s *run) hpa(ctx context.Context, i int, minR int32, target float64) {
	w := s.c.workloads[i]
	spec := w.spec
	util := spec.Utilization
	if target > 0 {
		util = policy.Resources{CPU: target, Memory: target}
	}
	h := &s.hpaHist[i]
	prune(h, s.now, policy.DefaultScaleDownWindow+HPASync)
	cur := w.replicas
	unready := int32(int(cur) - w.ready)
	rec, _ := policy.ReactiveReplicas(cur, int32(w.ready), 0, max(unready, 0), s.demandNow(0, i), spec.Request.CPU, util.CPU, spec.EffectiveTolerance(), true)
	if s.hasMem(i) {
		// A memory metric too: the HPA takes the largest proposal.
		m, _ := policy.ReactiveReplicas(cur, int32(w.ready), 0, max(unready, 0), s.demandNow(1, i), spec.Request.Memory, util.Memory, spec.EffectiveTolerance(), false)
		rec = max(rec, m)
	}
	lo, hi := max(minR, spec.Min), spec.Max
	if hi < lo {
		hi = lo
	}
	if rec < 0 {
		// No pod reports: the controller only applies the bounds.
		rec = cur
	}
	h.Recommendations = append(h.Recommendations, policy.Recommendation{Time: s.now, Replicas: rec})
	if rec == cur && lo <= cur && cur <= hi {
		// Normalize keeps a count that its recommendation repeats: the
		// stabilized value lies between the window's extremes, which
		// bracket cur, and the rate limits and bounds hold it.
		return
	}
	n := policy.Normalize(s.now, cur, rec, lo, hi, policy.Behavior{}, policy.History{Recommendations: h.Recommendations[:len(h.Recommendations)-1], Events: h.Events})
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
	key := s.keyBuf[:0]
	for _, n := range pods {
		key = append(key, float64(n))
	}
	for _, p := range s.c.pools {
		key = append(key, p.spec.PricePerHour)
	}
	if slices.Equal(key, s.poolKey) {
		s.keyBuf = key
		for i, n := range s.poolSizes {
			s.c.SetPoolSize(ctx, s.now, s.in.Pools[i].Name, n, reason)
		}
		return
	}
	s.poolKey, s.keyBuf, s.poolSizes = key, s.poolKey, s.poolSizes[:0]
	if s.pools == nil {
		s.pools = append([]policy.Pool(nil), s.in.Pools...)
		s.groups = make([]policy.PodGroup, len(pods))
		for i := range s.groups {
			w := &s.in.Workloads[i]
			s.groups[i] = policy.PodGroup{Target: w.Spec.Target, Request: w.Spec.Request, Pool: w.Pool}
		}
	}
	pools, groups := s.pools, s.groups
	for i := range pools {
		pools[i].PricePerHour, pools[i].Headroom = s.c.pools[i].spec.PricePerHour, s.in.Pools[i].Headroom
		if !headroom {
			pools[i].Headroom = policy.HeadroomNone
		}
	}
	for i := range pods {
		groups[i].Replicas = pods[i]
	}
	pp, err := policy.PlanPools(pools, groups, budget)
	if err != nil {
		panic("simulator: planning pools: " + err.Error()) // inputs were validated
	}
	for i, r := range pp.Pools {
		n := s.in.actuated(i, r.Nodes)
		s.poolSizes = append(s.poolSizes, n)
		s.c.SetPoolSize(ctx, s.now, r.Name, n, reason)
	}
}

// reactive is the HPA on every workload (15 s sync) and a node autoscaler
// shaped like the cluster-autoscaler, with no headroom: when pods are
// pending it adds at once the nodes they need beyond the nodes already
// coming (packed first-fit onto fresh nodes of the workload's preferred
// pool); every ScaleDownScan it marks as unneeded the ready nodes under
// ScaleDownUtilization whose pods the other nodes have room for, and
// removes the nodes unneeded for ScaleDownUnneeded (the cluster drains the
// emptiest; their pods restart elsewhere).
type reactive struct {
	sync    time.Duration
	scanned time.Time
	extra   []float64 // scratch
}

// ScaleDownUtilization and ScaleDownScan are the reactive node autoscaler's
// --scale-down-utilization-threshold and scan interval.
const (
	ScaleDownUtilization = 0.5
	ScaleDownScan        = time.Minute
)

func (r *reactive) act(ctx context.Context, s *run, _ bool) {
	if s.now.Sub(s.start)%r.sync == 0 {
		for i := range s.c.workloads {
			s.hpa(ctx, i, 0, s.in.ReactiveUtilization)
		}
	}
	if len(s.in.Pools) == 0 {
		return
	}
	c := s.c
	c.settle()
	pending := false
	for _, w := range c.workloads {
		pending = pending || w.pending() > 0
	}
	if pending {
		for i, n := range r.scaleUp(c) {
			if n > 0 {
				p := c.pools[i]
				c.SetPoolSize(ctx, s.now, p.spec.Name, min(p.desired+n, p.spec.Max), "pending pods")
			}
		}
	}
	if r.scanned.IsZero() || s.now.Sub(r.scanned) >= ScaleDownScan {
		r.scanned = s.now
		now := s.now.UnixNano()
		for _, p := range c.pools {
			k := 0
			for _, n := range r.unneeded(p, now, pending) {
				if n.unneeded == 0 {
					n.unneeded = now
				}
				if now-n.unneeded >= int64(ScaleDownUnneeded) {
					k++
				}
			}
			if k > 0 && p.desired > p.spec.Min {
				c.SetPoolSize(ctx, s.now, p.spec.Name, max(p.desired-k, p.spec.Min), "unneeded nodes")
			}
		}
	}
}

// scaleUp is the nodes to add per pool for the pending pods: each pod goes
// where the scheduler would put it among the nodes still starting (first
// fit), else onto fresh nodes of the first of its pools below its maximum.
func (r *reactive) scaleUp(c *Cluster) []int {
	now := c.now.UnixNano()
	add := make([]int, len(c.pools))
	type bin struct {
		free policy.Resources
		pods int
	}
	bins := make([][]bin, len(c.pools))
	for i, p := range c.pools {
		for _, n := range p.nodes {
			if n.ready > now {
				bins[i] = append(bins[i], bin{n.free, n.freePods})
			}
		}
	}
	for _, w := range c.workloads {
	pods:
		for range w.pending() {
			for _, pi := range w.prefs {
				for j := range bins[pi] {
					b := &bins[pi][j]
					if b.pods > 0 && w.spec.Request.Fits(b.free) {
						b.free, b.pods = b.free.Sub(w.spec.Request), b.pods-1
						continue pods
					}
				}
			}
			for _, pi := range w.prefs {
				p := c.pools[pi]
				if len(p.nodes)+add[pi] < p.spec.Max {
					add[pi]++
					bins[pi] = append(bins[pi], bin{p.alloc.Sub(w.spec.Request), p.spec.Pods - 1})
					continue pods
				}
			}
		}
	}
	return add
}

// unneeded marks the pool's ready nodes that could go: used under
// ScaleDownUtilization, taken from the emptiest, while the pods on them
// fit in the free room of the other nodes (in total: CPU, memory and pod
// slots). Other nodes' marks are cleared. With pods pending, none is.
func (r *reactive) unneeded(p *simPool, now int64, pending bool) []*simNode {
	var cand []*simNode
	var free policy.Resources
	freePods := 0
	for _, n := range p.nodes {
		if n.ready > now {
			continue
		}
		free, freePods = free.Add(n.free), freePods+n.freePods
		if !pending && n.usedShare() < ScaleDownUtilization {
			cand = append(cand, n)
		} else {
			n.unneeded = 0
		}
	}
	slices.SortStableFunc(cand, func(a, b *simNode) int { return cmp.Compare(a.usedShare(), b.usedShare()) })
	k := 0
	for _, n := range cand {
		used, usedPods := n.alloc.Sub(n.free), p.spec.Pods-n.freePods
		rest, restPods := free.Sub(n.free), freePods-n.freePods
		if used.Fits(rest) && usedPods <= restPods {
			free, freePods = rest.Sub(used), restPods-usedPods
			cand[k] = n
			k++
		} else {
			n.unneeded = 0
		}
	}
	return cand[:k]
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
// forecast (refit every Refit on the history seen so far, advanced on each
// new sample in between) and current usage, then PlanPools on the pods
// planned ahead by the pools' lead times (as headroom plan). Workloads in
// hpa-floor mode get the decision as their HPA's minimum, and the HPA
// reacts above it every sync.
type predictive struct {
	// Per resource (cpu, memory) and workload: what the forecaster sees,
	// the last forecast (nil: none), the bucket it was advanced to, and the
	// last full selection: the model it chose ("": select again), its
	// seasonal periods, when it ran and on how many buckets.
	view   [2][]*fview
	fc     [2][]*forecast.Forecast
	fcAt   [2][]int
	chosen [2][]selection
	// refitAt is when the last refit ran.
	refitAt time.Time
	hist    []policy.History
	floor   []int32
	// lead is each workload's pool lead time (poolLead).
	lead []time.Duration
	// spec is each workload's spec as the planner uses it (init sets the
	// staleness limit to at least a trace step).
	spec []policy.Workload
	sync time.Duration
	fits int
	// pending is closed when the forecasts' advance to the next plan is
	// done (ahead); nil: none running.
	pending chan struct{}
	next    [2][]int // ahead's buckets per resource and workload (-1: none)
	// Scratch of each run, per workload (policy keeps none of it).
	pods   []int
	want   []int32
	why    []string
	set    []bool
	usage  []policy.Usage
	demand []policy.Demand
}

// fview is one resource of one workload as the forecaster sees it: the
// trace's samples (scenario applied, NaN kept), aggregated by their maximum
// into buckets of the planner's interval when the trace is finer (the
// planner covers the peak of each interval; a month of 1-minute samples is
// five times cheaper to fit at 5 minutes).
type fview struct {
	name  string
	start time.Time
	step  time.Duration
	per   int // trace samples per bucket
	vals  []float64
}

func newView(d forecast.Series, vals []float64, interval time.Duration) *fview {
	v := &fview{name: d.Name, start: d.Start, step: d.Step, per: 1, vals: vals}
	if d.Step >= interval || interval%d.Step != 0 {
		return v
	}
	v.per, v.step = int(interval/d.Step), interval
	v.vals = make([]float64, (len(vals)+v.per-1)/v.per)
	for b := range v.vals {
		m := math.NaN()
		for _, x := range vals[b*v.per : min((b+1)*v.per, len(vals))] {
			if !math.IsNaN(x) && !(x <= m) {
				m = x
			}
		}
		v.vals[b] = m
	}
	return v
}

// seen is the number of whole buckets observed when sample idx is the
// latest (idx -1: none).
func (v *fview) seen(idx int) int { return (idx + 1) / v.per }

func (p *predictive) init(s *run) {
	n := len(s.in.Workloads)
	for r := range 2 {
		p.view[r], p.fc[r], p.fcAt[r], p.chosen[r] = make([]*fview, n), make([]*forecast.Forecast, n), make([]int, n), make([]selection, n)
		for i := range n {
			w := &s.in.Workloads[i]
			d := w.Demand
			if r == 1 {
				d = w.Memory
			}
			if len(d.Values) == 0 || r == 0 && w.Spec.Request.CPU <= 0 || r == 1 && w.Spec.Request.Memory <= 0 {
				continue
			}
			p.view[r][i] = newView(d, s.demand[r][i], s.in.interval())
		}
	}
	p.hist, p.floor = make([]policy.History, n), make([]int32, n)
	p.lead = make([]time.Duration, n)
	for i := range n {
		p.lead[i] = poolLead(s.in, i)
	}
	p.spec = make([]policy.Workload, n)
	for i := range n {
		spec := s.in.Workloads[i].Spec
		// A trace sample stands for its whole step: data one step old
		// is current here, so the staleness limit is at least a step.
		step := s.in.Workloads[i].Demand.Step
		for r := range 2 {
			if v := p.view[r][i]; v != nil {
				step = max(step, v.step)
			}
		}
		if spec.MaxAge < step && (spec.MaxAge > 0 || step > policy.DefaultMaxAge) {
			spec.MaxAge = step
		}
		p.spec[i] = spec
	}
}

// selection is the last full model selection of one series.
type selection struct {
	model string          // "" until a selection gave a forecast
	seas  []time.Duration // its seasonal periods (empty, not nil: none)
	at    time.Time
	seen  int // buckets it was made on
}

// due reports whether the series needs a full selection at now with k
// buckets seen: it has none, the last is reselect old, or the history has
// doubled since (a model chosen on the first hours is revisited as the
// history grows, at a logarithmic cost, rather than kept for a whole day).
func (c *selection) due(now time.Time, k int, reselect time.Duration) bool {
	return c.model == "" || now.Sub(c.at) >= reselect || k >= 2*c.seen
}

func (p *predictive) refit(s *run) {
	n := len(s.in.Workloads)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for r := range 2 {
		for i := range n {
			v := p.view[r][i]
			if v == nil {
				continue
			}
			k := v.seen(s.idx[r][i])
			if k <= 0 {
				p.fc[r][i] = nil
				continue
			}
			g.Go(func() error {
				w := &s.in.Workloads[i]
				hz := w.Horizon
				if hz <= 0 {
					hz = max(w.Spec.LeadTime, p.lead[i]) + s.in.interval()
				}
				steps := int((hz+v.step-1)/v.step) + 1
				// Only samples at or before now: the forecaster cannot see the future.
				series := forecast.Series{Name: v.name, Start: v.start, Step: v.step, Values: v.vals[:k]}
				fo := forecast.Options{Horizon: steps, Quantiles: []float64{s.in.quantile()}, Model: s.in.Model, MaxHistory: s.opt.maxHistory(v.step), Seasonality: s.in.Seasonality}
				c := &p.chosen[r][i]
				full := c.due(s.now, k, s.opt.reselect())
				if !full {
					// A refit of the chosen model on the seasonal periods it was
					// chosen with: its errors over the last day calibrate the
					// quantiles (the full selection validates on a quarter of
					// the history).
					fo.Model, fo.Seasonality = c.model, c.seas
					fo.Validation = max(steps, int(24*time.Hour/v.step))
				}
				// The previous fit of the series seeds the smoothing-parameter
				// searches (forecast.Options.Warm): the chosen model's at a
				// refit, and at a full selection every exponential-smoothing
				// candidate's, from its latest fit (seeds are carried along
				// the refits of another model).
				fo.Warm = p.fc[r][i]
				f, err := forecast.Auto(series, fo)
				if err != nil {
					f = nil
				}
				if full {
					*c = selection{at: s.now, seen: k}
					if f != nil {
						// The chosen model, or the best single model when a
						// combination won.
						for _, m := range append([]string{f.Model}, scoreNames(f)...) {
							if slices.Contains(forecast.ModelNames, m) {
								c.model = m
								break
							}
						}
						c.seas = make([]time.Duration, len(f.Seasonality))
						for j, se := range f.Seasonality {
							c.seas[j] = se.Period
						}
					}
				}
				p.fc[r][i], p.fcAt[r][i] = f, k-1
				return nil
			})
		}
	}
	g.Wait()
	p.fits++
	p.refitAt = s.now
}

// current is workload i's forecast of resource r from the latest whole
// bucket on, advancing the fitted model over the buckets observed since
// (forecast.Forecast.Update: no refit, the same calibrated quantile offsets, as the
// live planner does between refits); nil when there is none.
func (p *predictive) current(s *run, r, i int) []float64 {
	f, v := p.fc[r][i], p.view[r][i]
	if f == nil {
		return nil
	}
	k := v.seen(s.idx[r][i])
	p.advance(r, i, k)
	j := k - 1 - p.fcAt[r][i]
	if q := f.Quantile(s.in.quantile()); j >= 0 && j < len(q) {
		return q[j:]
	}
	return nil
}

// advance moves workload i's forecast of resource r forward to the first k
// buckets, in place (no allocation: the planner only ever reads the newest
// forecast, and a refit replaces it).
func (p *predictive) advance(r, i, k int) {
	f, v := p.fc[r][i], p.view[r][i]
	if f != nil && k-1 > p.fcAt[r][i] {
		if err := f.Update(v.vals[p.fcAt[r][i]+1 : k]...); err == nil {
			p.fcAt[r][i] = k - 1
		}
	}
}

// ahead advances every forecast, on goroutines of its own, to the buckets
// the next plan at next will have seen, while this plan's pools are sized
// and the clock ticks on to it (otherwise serial work, on one core). The
// observations are those the next plan's current would feed, up to its own
// time, so nothing is seen sooner than it would be, and the result is the
// same; wait joins it, before the forecasts are read or replaced. Nothing
// is advanced when the next plan refits.
func (p *predictive) ahead(s *run, next time.Time) {
	if !advanceAhead || p.refitDue(s, next) {
		return
	}
	n := len(s.in.Workloads)
	for r := range 2 {
		if p.next[r] == nil {
			p.next[r] = make([]int, n)
		}
		for i := range n {
			p.next[r][i] = -1
			if v := p.view[r][i]; v != nil && p.fc[r][i] != nil {
				// The sample the loop's clock will be at (it stops at the
				// last), taken now: the clock moves s.idx meanwhile.
				d := s.in.Workloads[i].series(r)
				p.next[r][i] = v.seen(max(s.idx[r][i], min(len(s.held[r][i])-1, sampleAt(d.Start, d.Step, next))))
			}
		}
	}
	done := make(chan struct{})
	p.pending = done
	go func() {
		defer close(done)
		parallel(n, func(i int) {
			for r := range 2 {
				if k := p.next[r][i]; k >= 0 {
					p.advance(r, i, k)
				}
			}
		})
	}()
}

// advanceAhead switches ahead on; the tests switch it off to check that it
// changes nothing but the time taken.
var advanceAhead = true

// refitDue reports whether the forecasts are refit at a plan at t: none
// yet, or the last refit is Refit old.
func (p *predictive) refitDue(s *run, t time.Time) bool {
	return p.refitAt.IsZero() || t.Sub(p.refitAt) >= s.opt.refit()
}

// wait joins the last ahead.
func (p *predictive) wait() {
	if p.pending != nil {
		<-p.pending
		p.pending = nil
	}
}

func (p *predictive) act(ctx context.Context, s *run, plan bool) {
	n := len(s.in.Workloads)
	if p.hist == nil {
		p.init(s)
	}
	if plan {
		p.wait()
		if p.refitDue(s, s.now) {
			p.refit(s)
		}
		if p.pods == nil {
			p.pods, p.want, p.why, p.set = make([]int, n), make([]int32, n), make([]string, n), make([]bool, n)
			p.usage, p.demand = make([]policy.Usage, n), make([]policy.Demand, n)
		}
		pods, want, why, set := p.pods, p.want, p.why, p.set
		clear(set)
		// Each workload's decision depends only on its own state, so they are
		// made in parallel; the actions are applied in workload order after.
		parallel(n, func(i int) {
			w := &p.spec[i]
			sw := s.c.workloads[i]
			in := policy.Input{Now: s.now, Current: sw.replicas, CurrentMin: max(p.floor[i], w.Min), History: p.hist[i]}
			var dem *policy.Demand
			for r := range 2 {
				q := p.current(s, r, i)
				if q == nil {
					continue
				}
				f := p.fc[r][i]
				if dem == nil {
					dem = &p.demand[i]
					*dem = policy.Demand{Start: f.Start.Add(time.Duration(len(f.Mean)-len(q)) * f.Step), Step: f.Step}
				}
				if r == 0 {
					dem.CPU = q
				} else {
					dem.Memory = q
				}
			}
			if dem != nil && dem.CPU != nil && dem.Memory != nil {
				// Both on one grid (the same trace's columns).
				if m := p.fc[1][i]; !m.Start.Add(time.Duration(len(m.Mean)-len(dem.Memory))*m.Step).Equal(dem.Start) || m.Step != dem.Step {
					dem.Memory = nil
				}
			}
			in.Demand = dem
			if s.idx[0][i] >= 0 && sw.ready > 0 {
				in.Usage = &p.usage[i]
				*in.Usage = policy.Usage{Time: s.now, CPU: s.demandNow(0, i), Reporting: int32(sw.ready), Unready: max(sw.replicas-int32(sw.ready), 0)}
				if s.hasMem(i) {
					in.Usage.Memory = s.demandNow(1, i)
				}
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
				want[i], why[i], set[i] = d.Desired, d.Rule.String(), true
				pods[i] = int(d.Desired)
			}
			if d.Rule != policy.RuleHold {
				pods[i] = int(policy.PodsAhead(w, dem, s.now, p.lead[i], int32(pods[i])))
			}
		})
		for i := range n {
			if set[i] {
				s.c.SetReplicas(ctx, s.now, s.in.Workloads[i].Spec.Target, want[i], why[i])
			}
		}
		p.ahead(s, s.now.Add(s.in.interval()))
		s.planPools(ctx, pods, true, s.in.Budget, "forecast")
	}
	if s.now.Sub(s.start)%p.sync == 0 {
		for i := range n {
			if s.in.Workloads[i].Spec.Mode == policy.ModeHPAFloor {
				s.hpa(ctx, i, p.floor[i], 0)
			}
		}
	}
}

// parallel calls f(i) for i in [0, n), in contiguous shares on
// GOMAXPROCS goroutines when n is large enough to be worth it. f must touch
// only state of its own i.
func parallel(n int, f func(i int)) {
	k := runtime.GOMAXPROCS(0)
	if n < 64 || k < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	for j := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := j * n / k; i < (j+1)*n/k; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// staticSizes are the replicas for the peak of the scenario-adjusted
// demand over the run (hindsight: the baseline knows the peak), and the
// pools for them with the plan's headroom and budget.
func staticSizes(in *Input, held [2][][]float64, from, to [2][]int) ([]int32, []int) {
	reps := make([]int32, len(in.Workloads))
	pods := make([]int, len(in.Workloads))
	for i := range in.Workloads {
		w := &in.Workloads[i].Spec
		n := int32(0)
		for r := range 2 {
			peak := 0.0
			for k := max(from[r][i], 0); k <= to[r][i] && k < len(held[r][i]); k++ {
				peak = max(peak, held[r][i][k])
			}
			n = max(n, needed(w, r, peak))
		}
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
		out[i] = in.actuated(i, p.Nodes)
	}
	return out
}

// actuated is the size headroom's provider sets for pool i when the plan
// says n nodes: n, or whole zones for a pool sized per zone (PerZone).
func (in *Input) actuated(i, n int) int {
	if i < len(in.PerZone) && in.PerZone[i] {
		z := in.Pools[i].Zones
		return (n + z - 1) / z * z
	}
	return n
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
