package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/runner"
)

// defaultUtilization and defaultMemoryUtilization are the targets assumed
// for workloads outside the plan (the plan's own defaults).
const (
	defaultUtilization       = 0.7
	defaultMemoryUtilization = 0.8
)

// setRunway records the runway of one resource when it comes before the
// one already recorded: now when demand already exceeds the capacity at
// the maximum size, else the first forecast step whose upper quantile
// does (Runway).
func (p *Pool) setRunway(resource string, demandNow float64, upper []float64, f *forecast.Forecast, capMax float64, now time.Time) {
	t, ok := runwayAt(demandNow, f, upper, capMax, now)
	if !ok {
		return
	}
	t = t.UTC()
	if p.Runway == nil || t.Before(*p.Runway) {
		p.Runway, p.RunwayDays, p.RunwayResource = &t, Num(t.Sub(now).Hours()/24), resource
	}
}

// utilization is the workload's utilization targets, the report's defaults
// where its plan sets none (or it is not in the plan).
func (s *wstate) utilization() policy.Resources {
	u := policy.Resources{CPU: defaultUtilization, Memory: defaultMemoryUtilization}
	if s.spec != nil && s.spec.Utilization.CPU > 0 {
		u.CPU = s.spec.Utilization.CPU
	}
	if s.spec != nil && s.spec.Utilization.Memory > 0 {
		u.Memory = s.spec.Utilization.Memory
	}
	return u
}

// demandSum is the members' demand at each of n grid points: each one's
// usage over its utilization target, summed (NaN where a member has no
// sample). of gives a member's usage series and target.
func demandSum(members []*wstate, n int, of func(*wstate) ([]float64, float64)) []float64 {
	sum := make([]float64, n)
	for _, s := range members {
		usage, target := of(s)
		for k := range sum {
			sum[k] += usage[k] / target
		}
	}
	return sum
}

// wstate is one workload while the report is built.
type wstate struct {
	data    *WorkloadData
	spec    *policy.Workload // nil: not in the plan
	planIdx int
	inv     *metrics.WorkloadState
	pool    string
	fc      *forecast.Forecast
	current int32
	out     Workload
	peak    int32 // replicas at the forecast peak (spec only)
	pods    int   // planned pods for the pools (spec only)
}

// Build makes a report from a plan and the data read from a store. It
// forecasts each workload's CPU demand with forecast.Auto over
// Options.WorkloadHorizon (and backtests it with forecast.Evaluate),
// decides its replicas with policy.Replicas at the newest sample, gives
// rightsizing advice with policy.Rightsize, forecasts each pool's CPU and
// memory demand over Options.Horizon for the runway, and checks the pools
// with policy.PlanPools; it plans and forecasts nothing itself. The report
// is as of d.Newest; Options.Now only stamps it and measures how old the
// data is.
func Build(plan *config.Plan, d *Data, opt Options) (*Report, error) {
	if plan == nil {
		return nil, fmt.Errorf("%w: a store report needs the plan (--config)", ErrInvalid)
	}
	o := opt.withDefaults()
	q := o.Quantile
	if q == 0 {
		q = plan.Spec.Forecast.Quantile
	}
	if !(q > 0.5 && q < 1) {
		return nil, fmt.Errorf("%w: quantile %g must be in (0.5, 1)", ErrInvalid, q)
	}
	stale := o.StaleAfter
	if stale <= 0 && plan.Spec.History.MaxAge != nil {
		stale = plan.Spec.History.MaxAge.Duration
	}
	if stale <= 0 {
		stale = policy.DefaultMaxAge
	}
	title := o.Title
	if title == "" {
		title = "Capacity review: " + plan.Metadata.Name
	}
	now := d.Newest.UTC()
	r := &Report{SchemaVersion: SchemaVersion, Title: title, Plan: plan.Metadata.Name, Source: SourceStore, GeneratedAt: o.Now.UTC(), AsOf: now,
		From: d.first().UTC(), Workloads: []Workload{}, Pools: []Pool{}, Quotas: []Quota{}, Findings: []Finding{}, Warnings: []string{}}
	if !o.Now.IsZero() && o.Now.Sub(now) > stale {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the newest sample in the store is %s, %s before the report: the cluster's metrics are not being collected", ts(now), fmtDur(o.Now.Sub(now).Round(time.Minute))))
	}
	pools, err := plan.PolicyPools()
	if err != nil {
		return nil, err
	}
	poolIdx := map[string]int{}
	for i, p := range pools {
		poolIdx[p.Name] = i
	}

	// Inventory lookups.
	inv := d.Inventory
	invW := map[metrics.Workload]*metrics.WorkloadState{}
	nodePool := map[string]string{}
	if inv != nil {
		for i := range inv.Workloads {
			invW[inv.Workloads[i].Workload] = &inv.Workloads[i]
		}
		for _, n := range inv.Nodes {
			nodePool[n.Name] = n.Pool
		}
	}
	planIdx := map[metrics.Workload]int{}
	for i, w := range plan.Spec.Workloads {
		planIdx[metrics.Workload{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name}] = i
	}

	// Per workload: specs, then forecasts in parallel.
	ws := make([]*wstate, len(d.Workloads))
	for i := range d.Workloads {
		wd := &d.Workloads[i]
		s := &wstate{data: wd, planIdx: -1, inv: invW[wd.Workload]}
		if j, ok := planIdx[wd.Workload]; ok {
			spec, err := plan.PolicyWorkload(j)
			if err != nil {
				return nil, err
			}
			s.spec, s.planIdx, s.pool = spec, j, plan.Spec.Workloads[j].NodePool
			if s.inv != nil && spec.Request.CPU == 0 && spec.Request.Memory == 0 {
				spec.Request = policy.Resources{CPU: s.inv.CPURequest, Memory: s.inv.MemoryRequest}
			}
		}
		if s.pool == "" && s.inv != nil {
			s.pool = majorityPool(s.inv, nodePool)
		}
		if s.pool == "" && len(pools) == 1 {
			s.pool = pools[0].Name
		}
		ws[i] = s
	}
	horizon := max(1, int(o.Horizon/d.Step))
	wHorizon := max(1, int(o.WorkloadHorizon/d.Step))
	backtest := o.Backtest
	if backtest == 0 {
		backtest = 4
		if len(ws) > BacktestLimit {
			backtest = -1
			r.Warnings = append(r.Warnings, fmt.Sprintf("%d workloads: no rolling-origin backtests (more than %d; --backtest N runs them)", len(ws), BacktestLimit))
		}
	}
	levels := []float64{math.Round((1-q)*1e9) / 1e9, q}
	var g errgroup.Group
	g.SetLimit(max(o.Parallel, 1))
	evals := make([]*forecast.SeriesEval, len(ws))
	for i, s := range ws {
		if s.data.CPU == nil {
			continue
		}
		g.Go(func() error {
			series := d.series(s.data.Workload.String(), s.data.CPU)
			seasons := plan.SeasonalPeriods()
			if f, err := forecast.Auto(series, forecast.Options{Horizon: wHorizon, Quantiles: levels, Model: plan.Spec.Forecast.Model, Seasonality: seasons}); err == nil {
				s.fc = f
			}
			if backtest > 0 {
				if e, err := forecast.Evaluate(series, forecast.EvalOptions{Horizon: 24, Origins: backtest, Level: q, Seasonality: seasons}); err == nil {
					evals[i] = e
				}
			}
			return nil
		})
	}
	g.Wait()

	for i, s := range ws {
		lead := time.Duration(0)
		if s.planIdx >= 0 {
			lead = runner.NodeLead(plan, plan.Spec.Workloads[s.planIdx].NodePool)
		}
		buildWorkload(r, s, evals[i], d, q, now, stale, lead, o)
	}
	// Charts for the largest workloads (by requested CPU), in report order.
	rank := make([]int, len(ws))
	for i := range rank {
		rank[i] = i
	}
	size := func(s *wstate) float64 {
		return max(float64(s.out.RequestCPU), 0) * float64(max(s.current, 1))
	}
	slices.SortStableFunc(rank, func(a, b int) int { return cmp.Compare(size(ws[b]), size(ws[a])) })
	for _, i := range rank[:min(len(rank), o.MaxCharts)] {
		ws[i].out.chart = workloadChart(ws[i], d, levels)
	}

	// Pools: planned now and at the forecast peak, through policy.PlanPools.
	var planNow, planPeak *policy.PoolPlan
	if len(pools) > 0 {
		var now, peak []policy.PodGroup
		group := map[*wstate]int{}
		for _, s := range ws {
			if s.spec == nil || s.out.Plan == nil {
				continue
			}
			group[s] = len(now)
			dec := s.out.Plan
			floor := int(max(dec.Min, 1))
			now = append(now, policy.PodGroup{Target: s.spec.Target, Request: s.spec.Request, Replicas: s.pods, Floor: floor, Pool: plan.Spec.Workloads[s.planIdx].NodePool})
			peak = append(peak, policy.PodGroup{Target: s.spec.Target, Request: s.spec.Request, Replicas: int(max(s.peak, int32(s.pods))), Floor: floor, Pool: plan.Spec.Workloads[s.planIdx].NodePool})
		}
		if planNow, err = policy.PlanPools(pools, now, plan.MonthlyBudget()); err != nil {
			return nil, err
		}
		if planPeak, err = policy.PlanPools(pools, peak, 0); err != nil {
			return nil, err
		}
		// Workloads the planner places: the pool that holds most of their pods.
		for _, s := range ws {
			if g, ok := group[s]; ok && s.pool == "" {
				s.pool = plannedPool(planNow, g)
				s.out.Pool = s.pool
			}
		}
		for _, u := range planPeak.Unschedulable {
			r.Findings = append(r.Findings, Finding{Critical, KindNoRoom, u.Target.String(), fmt.Sprintf("at the forecast peak %d pods fit in no pool: %s", u.Pods, u.Reason)})
		}
	}
	// The pool of a workload in the inventory: the plan's pin, else where
	// most of its pods run.
	invPool := func(w metrics.WorkloadState) string {
		if j, ok := planIdx[w.Workload]; ok && plan.Spec.Workloads[j].NodePool != "" {
			return plan.Spec.Workloads[j].NodePool
		}
		if p := majorityPool(&w, nodePool); p != "" || len(pools) != 1 {
			return p
		}
		return pools[0].Name
	}
	for i := range pools {
		r.Pools = append(r.Pools, buildPool(r, &pools[i], i, ws, d, inv, invPool, planNow, planPeak, levels, horizon, forecast.Options{Model: plan.Spec.Forecast.Model, Seasonality: plan.SeasonalPeriods()}, now, o))
	}

	for _, s := range ws {
		r.Workloads = append(r.Workloads, s.out)
	}
	buildQuotas(r, ws, d, inv, levels, horizon, forecast.Options{Model: plan.Spec.Forecast.Model, Seasonality: plan.SeasonalPeriods()}, now, o)
	buildSummary(r, plan, pools, poolIdx, ws, inv, planNow)
	if inv != nil {
		mins := map[metrics.Workload]int32{}
		for _, s := range ws {
			if s.spec != nil {
				mins[s.data.Workload] = s.spec.Min
			}
		}
		for i, w := range plan.Spec.Workloads {
			if _, ok := mins[metrics.Workload{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name}]; !ok && w.Replicas.Min != nil {
				mins[metrics.Workload{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name}] = *plan.Spec.Workloads[i].Replicas.Min
			}
		}
		r.Findings = append(r.Findings, SPOFs(inv, mins)...)
		r.Findings = append(r.Findings, NoRequests(inv)...)
		for _, v := range r.Summary.Versions {
			if v.Skew != "" {
				r.Findings = append(r.Findings, Finding{Warning, KindSkew, "kubelet " + v.Version, fmt.Sprintf("%s on %s", v.Skew, plural(v.Nodes, "node"))})
			}
		}
		for _, g := range r.Summary.NodeGroups {
			if g.Ready < g.Nodes {
				r.Findings = append(r.Findings, Finding{Warning, KindNotReady, poolName(g.Pool) + "/" + orDash(g.Zone), fmt.Sprintf("%d of %d nodes are not Ready", g.Nodes-g.Ready, g.Nodes)})
			}
		}
		for _, w := range inv.Workloads {
			if w.Pending > 0 {
				r.Findings = append(r.Findings, Finding{Warning, KindPending, w.Workload.String(), fmt.Sprintf("%d of %d pods pending", w.Pending, w.Pods)})
			}
		}
	} else {
		r.Warnings = append(r.Warnings, "the store holds no inventory snapshot: no node, version or placement checks (headroom collect records one)")
	}
	sortFindings(r.Findings)
	return r, nil
}

// majorityPool is the pool of the nodes running most of the workload's pods.
func majorityPool(w *metrics.WorkloadState, nodePool map[string]string) string {
	count := map[string]int{}
	for n, c := range w.Nodes {
		count[nodePool[n]] += c
	}
	best, bc := "", 0
	for p, c := range count {
		if p != "" && (c > bc || c == bc && p < best) {
			best, bc = p, c
		}
	}
	return best
}

// plannedPool is the pool where PlanPools put most of group g's pods ("":
// none).
func plannedPool(pp *policy.PoolPlan, g int) string {
	best, bc := "", 0
	for _, pr := range pp.Pools {
		c := 0
		for _, nf := range pr.NodeFills {
			for _, gp := range nf.Groups {
				if gp.Group == g {
					c += gp.Pods
				}
			}
		}
		if c > bc {
			best, bc = pr.Name, c
		}
	}
	return best
}

func buildWorkload(r *Report, s *wstate, ev *forecast.SeriesEval, d *Data, q float64, now time.Time, stale, nodeLead time.Duration, o Options) {
	wd := s.data
	name := wd.Workload.String()
	w := Workload{Target: name, Pool: s.pool, Pods: -1, Ready: -1, RequestCPU: 0, RequestMemory: 0,
		UsageCPU: Num(wd.LastCPU), UsageCPUP95: Num(p95(wd.CPU)), UsageMemory: Num(wd.LastMemory), Decisions: wd.Decisions}
	if !wd.Last.IsZero() {
		t := wd.Last.UTC()
		w.LastSample = &t
	}
	if s.inv != nil {
		w.Pods, w.Ready = s.inv.Pods, s.inv.Ready
		w.RequestCPU, w.RequestMemory = Num(s.inv.CPURequest), Num(s.inv.MemoryRequest)
	}
	if s.spec != nil {
		w.Mode = s.spec.Mode.String()
		if s.spec.Request.CPU > 0 || s.spec.Request.Memory > 0 {
			w.RequestCPU, w.RequestMemory = Num(s.spec.Request.CPU), Num(s.spec.Request.Memory)
		}
	}
	// Current replicas: the inventory's pods, else the newest pods sample.
	s.current = -1
	if s.inv != nil {
		s.current = int32(s.inv.Pods)
	} else if v, ok := lastFinite(wd.Pods); ok {
		s.current = int32(math.Round(v))
	}

	// Freshness.
	switch {
	case wd.CPU == nil || wd.Last.IsZero():
		sev := Warning
		if s.spec != nil {
			sev = Critical
		}
		r.Findings = append(r.Findings, Finding{sev, KindMissing, name, "no CPU usage in the store: nothing can be forecast or planned for it (the planner holds)"})
	case now.Sub(wd.Last) > stale:
		r.Findings = append(r.Findings, Finding{Warning, KindStale, name, fmt.Sprintf("newest CPU sample %s is %s older than the newest in the store (stale after %s): the planner holds", ts(wd.Last), fmtDur(now.Sub(wd.Last).Round(time.Minute)), fmtDur(stale))})
	}

	var demand *policy.Demand
	if f := s.fc; f != nil {
		up := f.Quantile(q)
		fs := &ForecastSummary{Model: f.Model, Quantile: q, Horizon: fmtDur(time.Duration(len(f.Mean)) * f.Step), PeakMean: Num(slices.Max(f.Mean)),
			MASE: Num(f.Backtest.MASE), SMAPE: Num(f.Backtest.SMAPE), Coverage: nan, RelMASE: nan, EvalSMAPE: nan}
		if c, ok := f.Backtest.Coverage[q]; ok {
			fs.Coverage = Num(c)
		}
		k := argmax(up)
		fs.PeakUp, fs.PeakAt = Num(up[k]), f.Time(k).UTC()
		if ev != nil {
			fs.RelMASE, fs.EvalSMAPE, fs.EvalOrigins = Num(ev.RelMASE), Num(ev.Auto.SMAPE), ev.Origins
		}
		w.Forecast = fs
		demand = &policy.Demand{Start: f.Start, Step: f.Step, CPU: up}
		smape := float64(fs.EvalSMAPE)
		if math.IsNaN(smape) {
			smape = float64(fs.SMAPE)
		}
		if smape > o.Unpredictable {
			r.Findings = append(r.Findings, Finding{Warning, KindUnpredictable, name, fmt.Sprintf("backtest sMAPE %.0f%% (threshold %.0f%%): forecasts of this demand are unreliable; plan it with more headroom or a static floor", smape, o.Unpredictable)})
		}
	} else if wd.CPU != nil {
		r.Warnings = append(r.Warnings, name+": not enough history to forecast")
	}

	if sp := s.spec; sp != nil {
		cur := max(s.current, 0)
		in := policy.Input{Now: now, Current: cur, CurrentMin: sp.Min, Demand: demand}
		if !math.IsNaN(wd.LastCPU) && !wd.Last.IsZero() {
			rep := int32(1)
			if s.inv != nil {
				rep = int32(max(s.inv.Ready, 1))
			} else if cur > 0 {
				rep = cur
			}
			in.Usage = &policy.Usage{Time: wd.Last, CPU: wd.LastCPU, Reporting: rep}
			if !math.IsNaN(wd.LastMemory) {
				in.Usage.Memory = wd.LastMemory
			}
		}
		dec := policy.Replicas(sp, in)
		p := &Planned{Time: now, Current: dec.Current, Desired: dec.Desired, Rule: dec.Rule.String(), Reason: dec.Reason(), Min: sp.Min, Max: sp.Max,
			Warnings: dec.Warnings, PeakReplicas: dec.Desired, HeadroomNow: nan, HeadroomAtPeak: nan}
		if s.current < 0 {
			p.Warnings = append(p.Warnings, "current replicas unknown (no inventory, no pods series): planned from 0")
		}
		switch sp.Mode {
		case policy.ModeScale:
			s.pods = int(dec.Desired)
		case policy.ModeHPAFloor:
			s.pods = int(max(dec.Desired, cur))
		default:
			s.pods = int(cur)
		}
		if sp.Mode != policy.ModeRecommend && dec.Rule != policy.RuleHold {
			s.pods = int(policy.PodsAhead(sp, demand, now, nodeLead, int32(s.pods)))
		}
		// The peak over the whole horizon: the policy's forecast replicas
		// with the horizon as lead time, within the bounds.
		if demand != nil {
			ahead := *sp
			ahead.LeadTime = time.Duration(len(demand.CPU)) * demand.Step
			if n, _, _ := policy.ForecastReplicas(&ahead, demand, now); n >= 0 {
				p.PeakReplicas = min(max(n, sp.Min), sp.Max)
			}
		}
		s.peak = p.PeakReplicas
		capNow := float64(cur) * sp.Request.CPU * sp.Utilization.CPU
		if !math.IsNaN(wd.LastCPU) {
			p.HeadroomNow = Num(capNow - wd.LastCPU)
		}
		if w.Forecast != nil {
			p.HeadroomAtPeak = Num(capNow - float64(w.Forecast.PeakUp))
		}
		w.Plan = p
	}

	// Rightsizing from per-replica usage on the grid.
	if wd.CPU != nil && wd.Pods != nil {
		cpu := make([]float64, 0, len(wd.CPU))
		var mem []float64
		for k, v := range wd.CPU {
			if p := wd.Pods[k]; p > 0 {
				cpu = append(cpu, v/p)
				if wd.Memory != nil {
					mem = append(mem, wd.Memory[k]/p)
				}
			}
		}
		cur := policy.Resources{CPU: float64(w.RequestCPU), Memory: float64(w.RequestMemory)}
		a := policy.Rightsize(cur, cpu, mem, nil)
		if a.Recommended.CPU > 0 || a.Recommended.Memory > 0 || len(a.Notes) > 0 {
			w.Advice = &Advice{CPU: positive(a.Recommended.CPU), Memory: positive(a.Recommended.Memory), Notes: a.Notes}
		}
	}
	s.out = w
}

// workloadChart draws usage history, the forecast and its band, and the
// capacity at the current replicas (the maximum's would flatten the rest).
func workloadChart(s *wstate, d *Data, levels []float64) *Chart {
	if s.data.CPU == nil {
		return nil
	}
	c := &Chart{Title: s.out.Target, YLabel: "CPU cores", Lines: []Line{{Name: "usage", Times: gridTimes(d, len(s.data.CPU)), Values: s.data.CPU}}}
	if f := s.fc; f != nil {
		ft := forecastTimes(f)
		c.Lines = append(c.Lines, Line{Name: "forecast", Times: ft, Values: f.Mean, Dashed: true, Color: 1})
		c.Band = &Band{Name: fmt.Sprintf("q%s–q%s", fmtQ(levels[0]), fmtQ(levels[1])), Times: ft, Lo: f.Q[0], Hi: f.Q[1]}
	}
	if sp := s.spec; sp != nil {
		per := sp.Request.CPU * sp.Utilization.CPU
		if s.current > 0 {
			c.Limits = append(c.Limits, Limit{Name: fmt.Sprintf("capacity at %d replicas", s.current), Value: float64(s.current) * per})
		}
	}
	return c
}

// positive is v, or NaN ("no value") when v is not positive.
func positive(v float64) Num {
	if v > 0 {
		return Num(v)
	}
	return nan
}

func lastFinite(v []float64) (float64, bool) {
	for i := len(v) - 1; i >= 0; i-- {
		if !math.IsNaN(v[i]) {
			return v[i], true
		}
	}
	return 0, false
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] || math.IsNaN(v[best]) {
			best = i
		}
	}
	return best
}

func buildPool(r *Report, p *policy.Pool, idx int, ws []*wstate, d *Data, inv *metrics.Inventory, invPool func(metrics.WorkloadState) string,
	planNow, planPeak *policy.PoolPlan, levels []float64, horizon int, base forecast.Options, now time.Time, o Options) Pool {
	fopt := base // the plan's model and seasonal periods
	fopt.Horizon, fopt.Quantiles = horizon, levels
	alloc := p.Machine.Sub(p.Overhead)
	out := Pool{Name: p.Name, Zones: p.Zones, Headroom: p.Headroom.String(), Min: p.Min, Max: p.Max, Price: p.PricePerHour,
		AllocatableCPU: 0, CapacityMaxCPU: Num(float64(p.Max) * alloc.CPU), DemandCPU: nan, ForecastPeakCPU: nan, RunwayDays: nan,
		CapacityMaxMemory: nan, DemandMemory: nan, ForecastPeakMemory: nan}
	zones := map[string]bool{}
	if inv != nil {
		for _, n := range inv.Nodes {
			if n.Pool != p.Name {
				continue
			}
			out.Nodes++
			if n.Ready {
				out.Ready++
			}
			zones[n.Zone] = true
			out.AllocatableCPU += Num(n.CPU)
		}
	}
	out.ZonesUsed = len(zones)
	out.MonthlyCostNow = float64(out.Nodes) * p.PricePerHour * hoursPerMonth

	// Demand: the pool's workloads' usage over their utilization targets.
	var members []*wstate
	for _, s := range ws {
		if s.pool == p.Name && s.data.CPU != nil {
			members = append(members, s)
		}
	}
	var fc *forecast.Forecast
	if len(members) > 0 {
		n := len(d.Workloads[0].CPU)
		for _, s := range members {
			n = max(n, len(s.data.CPU))
		}
		sum := demandSum(members, n, func(s *wstate) ([]float64, float64) { return s.data.CPU, s.utilization().CPU })
		if v, ok := lastFinite(sum); ok {
			out.DemandCPU = Num(v)
		}
		series := d.series("pool/"+p.Name, sum)
		if f, err := forecast.Auto(series, fopt); err == nil {
			fc = f
			up := f.Quantile(levels[1])
			out.ForecastPeakCPU = Num(slices.Max(up))
			out.Horizon = fmtDur(time.Duration(len(up)) * f.Step)
			out.setRunway("cpu", float64(out.DemandCPU), up, f, float64(out.CapacityMaxCPU), now)
		} else {
			out.Warnings = append(out.Warnings, "no demand forecast: "+err.Error())
		}
		// Memory, when every member reports it: the runway is the earlier.
		memOK := alloc.Memory > 0
		for _, s := range members {
			memOK = memOK && s.data.Memory != nil
		}
		if memOK {
			msum := demandSum(members, n, func(s *wstate) ([]float64, float64) { return s.data.Memory, s.utilization().Memory })
			out.CapacityMaxMemory = Num(float64(p.Max) * alloc.Memory)
			if v, ok := lastFinite(msum); ok {
				out.DemandMemory = Num(v)
			}
			if f, err := forecast.Auto(d.series("pool/"+p.Name+"/memory", msum), fopt); err == nil {
				up := f.Quantile(levels[1])
				out.ForecastPeakMemory = Num(slices.Max(up))
				out.setRunway("memory", float64(out.DemandMemory), up, f, float64(out.CapacityMaxMemory), now)
			} else {
				out.Warnings = append(out.Warnings, "no memory demand forecast: "+err.Error())
			}
		}
		chart := &Chart{Title: "pool " + p.Name + ": CPU demand at the utilization targets", YLabel: "cores",
			Lines:  []Line{{Name: "demand", Times: gridTimes(d, len(sum)), Values: sum}},
			Limits: []Limit{{Name: fmt.Sprintf("capacity at max (%d nodes)", p.Max), Value: float64(out.CapacityMaxCPU)}}}
		if out.AllocatableCPU > 0 {
			chart.Limits = append(chart.Limits, Limit{Name: fmt.Sprintf("allocatable now (%d nodes)", out.Nodes), Value: float64(out.AllocatableCPU)})
		}
		if fc != nil {
			ft := forecastTimes(fc)
			chart.Lines = append(chart.Lines, Line{Name: "forecast", Times: ft, Values: fc.Mean, Dashed: true, Color: 1})
			chart.Band = &Band{Name: fmt.Sprintf("q%s–q%s", fmtQ(levels[0]), fmtQ(levels[1])), Times: ft, Lo: fc.Q[0], Hi: fc.Q[1]}
		}
		if out.Runway != nil {
			chart.Marker, chart.MarkerLabel = *out.Runway, "runway "+out.Runway.Format("2006-01-02")
		}
		out.chart = chart
	}
	if out.Runway != nil {
		days := float64(out.RunwayDays)
		warn := o.RunwayWarn.Hours() / 24
		if days < warn {
			sev := Warning
			if days < warn/3 {
				sev = Critical
			}
			capacity, what := fmtF(float64(out.CapacityMaxCPU))+" cores", "CPU"
			if out.RunwayResource == "memory" {
				what = "memory"
				capacity = gib(float64(out.CapacityMaxMemory)) + " GiB"
			}
			r.Findings = append(r.Findings, Finding{sev, KindRunway, p.Name, fmt.Sprintf("runway %.1f days: forecast %s demand (q%s) exceeds the pool at its maximum of %d nodes (%s) on %s",
				days, what, fmtQ(levels[1]), p.Max, capacity, out.Runway.Format("2006-01-02 15:04"))})
		}
	}
	if inv != nil && out.Nodes > 0 && len(zones) == 1 && p.Zones > 1 {
		r.Findings = append(r.Findings, Finding{Warning, KindPoolOneZone, p.Name, fmt.Sprintf("the plan spreads the pool over %d zones but its %s are all in one", p.Zones, plural(out.Nodes, "node"))})
	}

	// Headroom with the nodes there now and the pods running now.
	if p.Headroom != policy.HeadroomNone && inv != nil && out.Nodes > 0 {
		// Every workload running in the pool now, with or without history.
		var groups []policy.PodGroup
		for _, w := range inv.Workloads {
			if w.Pods <= 0 || invPool(w) != p.Name {
				continue
			}
			groups = append(groups, policy.PodGroup{Target: policy.Target{Kind: w.Workload.Kind, Namespace: w.Workload.Namespace, Name: w.Workload.Name},
				Request: policy.Resources{CPU: w.CPURequest, Memory: w.MemoryRequest}, Replicas: w.Pods, Pool: p.Name})
		}
		fixed := *p
		fixed.Min, fixed.Max = out.Nodes, out.Nodes
		fixed.Zones = max(1, min(p.Zones, out.ZonesUsed))
		if pp, err := policy.PlanPools([]policy.Pool{fixed}, groups, 0); err == nil {
			out.HeadroomNow = headroomVerdict(pp, 0)
		}
		if out.HeadroomNow != "holds" {
			r.Findings = append(r.Findings, Finding{Warning, KindHeadroom, p.Name, fmt.Sprintf("%s headroom does not hold with the %s there now: %s", p.Headroom, plural(out.Nodes, "node"), out.HeadroomNow)})
		}
	}
	if planNow != nil {
		pr := planNow.Pools[idx]
		out.PlannedNodes, out.MonthlyCostPlan = pr.Nodes, pr.MonthlyCost
		out.Warnings = append(out.Warnings, pr.Warnings...)
	}
	if planPeak != nil {
		pr := planPeak.Pools[idx]
		out.PeakNodes, out.MonthlyCostPeak = pr.Nodes, pr.MonthlyCost
		if p.Headroom != policy.HeadroomNone {
			out.HeadroomAtPeak = headroomVerdict(planPeak, idx)
			if out.HeadroomAtPeak != "holds" {
				r.Findings = append(r.Findings, Finding{Warning, KindHeadroom, p.Name, fmt.Sprintf("%s headroom does not hold at the forecast peak within the maximum of %d nodes: %s", p.Headroom, p.Max, out.HeadroomAtPeak)})
			}
		}
	}
	return out
}

// headroomVerdict says whether pool i of a plan met its headroom with
// every pod placed.
func headroomVerdict(pp *policy.PoolPlan, i int) string {
	pr := pp.Pools[i]
	unsched := 0
	for _, u := range pp.Unschedulable {
		unsched += u.Pods
	}
	switch {
	case unsched > 0:
		return fmt.Sprintf("%d pods do not fit at all", unsched)
	case pr.HeadroomMet:
		return "holds"
	case len(pr.Warnings) > 0:
		return pr.Warnings[0]
	}
	return "not met"
}

func gridTimes(d *Data, n int) []time.Time {
	out := make([]time.Time, n)
	for k := range out {
		out[k] = d.Start.Add(time.Duration(k) * d.Step)
	}
	return out
}

func forecastTimes(f *forecast.Forecast) []time.Time {
	out := make([]time.Time, len(f.Mean))
	for k := range out {
		out[k] = f.Time(k)
	}
	return out
}

func buildSummary(r *Report, plan *config.Plan, pools []policy.Pool, poolIdx map[string]int, ws []*wstate, inv *metrics.Inventory, planNow *policy.PoolPlan) {
	s := Summary{NodeGroups: []NodeGroup{}, Versions: []VersionCount{}, MonthlyBudget: plan.MonthlyBudget(),
		CPU: Totals{Requested: 0, Used: 0, Allocatable: 0}, Memory: Totals{Requested: 0, Used: 0, Allocatable: 0}}
	if planNow != nil {
		s.PlannedMonthlyCost = planNow.MonthlyCost
	}
	if inv != nil {
		at := inv.At.UTC()
		s.InventoryAt, s.ControlPlaneVersion = &at, inv.ControlPlaneVersion
		type key struct{ pool, zone string }
		groups := map[key]*NodeGroup{}
		versions := map[string]int{}
		nodeUsage := true
		var usedCPU, usedMem float64
		for _, n := range inv.Nodes {
			k := key{n.Pool, n.Zone}
			g := groups[k]
			if g == nil {
				g = &NodeGroup{Pool: n.Pool, Zone: n.Zone}
				if i, ok := poolIdx[n.Pool]; ok {
					g.Price = pools[i].PricePerHour
				}
				groups[k] = g
			}
			g.Nodes++
			if n.Ready {
				g.Ready++
			}
			g.CPU += Num(n.CPU)
			g.Memory += Num(n.Memory)
			versions[n.KubeletVersion]++
			s.CPU.Allocatable += Num(n.CPU)
			s.Memory.Allocatable += Num(n.Memory)
			s.MonthlyCost += g.Price * hoursPerMonth
			if n.HasUsage {
				usedCPU += n.CPUUsage
				usedMem += n.MemoryUsage
			} else {
				nodeUsage = false
			}
		}
		unpriced := map[string]int{}
		for _, g := range groups {
			s.NodeGroups = append(s.NodeGroups, *g)
			if _, ok := poolIdx[g.Pool]; !ok {
				unpriced[poolName(g.Pool)] += g.Nodes
			}
		}
		if len(unpriced) > 0 {
			names := make([]string, 0, len(unpriced))
			for p, n := range unpriced {
				names = append(names, fmt.Sprintf("%s (%s)", p, plural(n, "node")))
			}
			sort.Strings(names)
			r.Warnings = append(r.Warnings, "nodes in pools the plan does not list, not counted in the cost: "+strings.Join(names, ", "))
		}
		sort.Slice(s.NodeGroups, func(i, j int) bool {
			a, b := s.NodeGroups[i], s.NodeGroups[j]
			return cmp.Or(cmp.Compare(a.Pool, b.Pool), cmp.Compare(a.Zone, b.Zone)) < 0
		})
		for v, n := range versions {
			s.Versions = append(s.Versions, VersionCount{Version: v, Nodes: n, Skew: KubeletSkew(v, inv.ControlPlaneVersion)})
		}
		sort.Slice(s.Versions, func(i, j int) bool { return s.Versions[i].Version < s.Versions[j].Version })
		for _, w := range inv.Workloads {
			s.CPU.Requested += Num(float64(w.Pods) * w.CPURequest)
			s.Memory.Requested += Num(float64(w.Pods) * w.MemoryRequest)
		}
		if nodeUsage && len(inv.Nodes) > 0 {
			s.CPU.Used, s.Memory.Used = Num(usedCPU), Num(usedMem)
		} else {
			s.CPU.Used, s.Memory.Used = workloadUsage(ws)
		}
	} else {
		s.CPU.Requested, s.CPU.Allocatable, s.Memory.Requested, s.Memory.Allocatable = nan, nan, nan, nan
		s.CPU.Used, s.Memory.Used = workloadUsage(ws)
	}
	if s.MonthlyBudget > 0 && s.PlannedMonthlyCost > s.MonthlyBudget {
		r.Findings = append(r.Findings, Finding{Critical, KindBudget, "plan " + plan.Metadata.Name, fmt.Sprintf("the planned pools cost %.2f a month, over the budget of %.2f", s.PlannedMonthlyCost, s.MonthlyBudget)})
	}
	if s.MonthlyBudget > 0 && s.MonthlyCost > s.MonthlyBudget {
		r.Findings = append(r.Findings, Finding{Warning, KindBudget, "cluster", fmt.Sprintf("the nodes running now cost %.2f a month, over the budget of %.2f", s.MonthlyCost, s.MonthlyBudget)})
	}
	r.Summary = s
}

// workloadUsage sums the workloads' newest usage.
func workloadUsage(ws []*wstate) (cpu, mem Num) {
	for _, s := range ws {
		if !math.IsNaN(s.data.LastCPU) {
			cpu += Num(s.data.LastCPU)
		}
		if !math.IsNaN(s.data.LastMemory) {
			mem += Num(s.data.LastMemory)
		}
	}
	return cpu, mem
}
