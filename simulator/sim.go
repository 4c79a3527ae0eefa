package simulator

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/policy"
)

// Options configure Run. The zero value of each field is documented.
type Options struct {
	// Policies to compare, in output order; nil means PolicyNames.
	Policies []string
	// Tick is the virtual clock's step; 0 means HPASync (15 s). The plan's
	// interval and the HPA sync must be whole multiples of it.
	Tick time.Duration
	// Refit is how often the predictive policy refits its forecasts on the
	// history so far (forecast.Auto); between refits it plans from the last
	// fit. 0 means the scenario's refit, else 1 h.
	Refit time.Duration
	// SeriesStep is the resolution of Result.Series; 0 means the plan's
	// interval, or the smallest multiple of it that keeps a series within
	// MaxSeriesPoints (a month of 5-minute points for 1,000 workloads and
	// four policies would be 35 million numbers).
	SeriesStep time.Duration
	// Scenario changes the world for every policy alike; nil: none.
	Scenario *Scenario
	// Seed of the budget band's resampling; 0 means the scenario's seed, else 1.
	Seed uint64
	// BandSamples is the number of resampled months; 0 means 1000.
	BandSamples int
	// Log keeps every changed action in PolicyResult.Log.
	Log bool
	// History caps the history each forecast fits on; 0 means 15 days
	// (two weekly periods and a day: enough to detect a weekly season).
	History time.Duration
	// Reselect is how often the predictive policy runs the full model
	// selection of a series (also when its history has doubled since the
	// last); 0 means the scenario's reselect, else Reselect (a day). Refits in between refit the chosen
	// model on the seasonal periods it was chosen with.
	Reselect time.Duration
}

func (o *Options) reselect() time.Duration {
	if o.Reselect > 0 {
		return o.Reselect
	}
	return Reselect
}

func (o *Options) maxHistory(step time.Duration) int {
	h := o.History
	if h <= 0 {
		h = 15 * 24 * time.Hour
	}
	return max(int(h/step), 8)
}

func (o *Options) refit() time.Duration {
	if o.Refit > 0 {
		return o.Refit
	}
	return time.Hour
}

func (in *Input) interval() time.Duration {
	if in.Interval > 0 {
		return in.Interval
	}
	return policy.DefaultInterval
}

func (in *Input) quantile() float64 {
	if in.Quantile > 0 {
		return in.Quantile
	}
	return 0.95
}

const gib = 1 << 30

// MaxSeriesPoints bounds the default length of Result.Series.
const MaxSeriesPoints = 4096

// SchemaVersion is the version of Result's JSON shape.
const SchemaVersion = 1

// Result is a simulation's outcome: one PolicyResult per policy and the
// time series behind them.
type Result struct {
	SchemaVersion   int       `json:"schemaVersion"`
	Plan            string    `json:"plan"`
	Scenario        string    `json:"scenario,omitempty"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	TickSeconds     float64   `json:"tick_seconds"`
	IntervalSeconds float64   `json:"interval_seconds"`
	RefitSeconds    float64   `json:"refit_seconds"`
	ReselectSeconds float64   `json:"reselect_seconds"`
	Seed            uint64    `json:"seed"`
	MonthlyBudget   float64   `json:"monthly_budget"`
	// Workloads and Pools describe what was simulated (after the
	// scenario's machine changes), in the order of the series.
	Workloads []WorkloadInfo `json:"workloads"`
	Pools     []PoolInfo     `json:"pools"`
	Policies  []PolicyResult `json:"policies"`
	Series    Series         `json:"series"`
}

// PolicyResult is one policy's accounting over the run. Unmet demand and
// waste are against capacity = ready replicas × request × utilization
// ceiling; costs count every node that exists, provisioning included.
type PolicyResult struct {
	Name      string  `json:"name"`
	Cost      float64 `json:"cost"`
	NodeHours float64 `json:"node_hours"`
	// MonthlyCost is the run's cost rate over a month (730 h).
	MonthlyCost float64 `json:"monthly_cost"`
	// UnmetCoreMinutes is demand above capacity, summed over workloads.
	UnmetCoreMinutes float64 `json:"unmet_core_minutes"`
	// TimeShort is the share of the run during which some workload was short.
	TimeShort float64 `json:"time_short"`
	// WasteCoreHours is capacity above demand, summed over workloads.
	WasteCoreHours float64 `json:"waste_core_hours"`
	// UnmetMemoryGiBMinutes and WasteMemoryGiBHours are the same for memory,
	// over the workloads whose trace has memory demand (2^30 bytes a GiB).
	UnmetMemoryGiBMinutes float64 `json:"unmet_memory_gib_minutes"`
	WasteMemoryGiBHours   float64 `json:"waste_memory_gib_hours"`
	// P95Utilization is the 95th percentile over ticks of total demand over
	// total requested CPU of ready replicas.
	P95Utilization float64 `json:"p95_utilization"`
	// Actions counts changes applied (replicas and pool sizes).
	Actions        int `json:"actions"`
	ReplicaActions int `json:"replica_actions"`
	PoolActions    int `json:"pool_actions"`
	// WorstShortfallCores is the largest total unmet demand at one instant.
	WorstShortfallCores float64 `json:"worst_shortfall_cores"`
	// WorstShortfallAt is when it began (nil: never short).
	WorstShortfallAt  *time.Time `json:"worst_shortfall_at"`
	PendingPodMinutes float64    `json:"pending_pod_minutes"`
	// ForecastFits counts forecast refits (predictive only).
	ForecastFits int              `json:"forecast_fits,omitempty"`
	Budget       *BudgetBand      `json:"budget,omitempty"`
	Failures     []Recovery       `json:"failures,omitempty"`
	Workloads    []WorkloadResult `json:"workloads"`
	Pools        []PoolResult     `json:"pools"`
	// Log is every change applied, in order (Options.Log).
	Log []actuator.Action `json:"log,omitempty"`
}

// WorkloadInfo describes a simulated workload: capacity in the series is
// ready replicas × RequestCPU × UtilizationCPU.
type WorkloadInfo struct {
	Target          string  `json:"target"`
	Mode            string  `json:"mode"`
	RequestCPU      float64 `json:"request_cpu_cores"`
	UtilizationCPU  float64 `json:"utilization_cpu"`
	Min             int32   `json:"min"`
	Max             int32   `json:"max"`
	LeadTimeSeconds float64 `json:"lead_time_seconds"`
	Pool            string  `json:"pool,omitempty"`
	Trace           string  `json:"trace"`
}

// PoolInfo describes a simulated node pool.
type PoolInfo struct {
	Name            string  `json:"name"`
	MachineCPU      float64 `json:"machine_cpu_cores"`
	MachineMemory   float64 `json:"machine_memory_bytes"`
	PricePerHour    float64 `json:"price_per_hour"` // at the start
	Zones           int     `json:"zones"`
	Headroom        string  `json:"headroom"`
	Min             int     `json:"min"`
	Max             int     `json:"max"`
	LeadTimeSeconds float64 `json:"lead_time_seconds"`
}

// WorkloadResult is one workload's share of a PolicyResult.
type WorkloadResult struct {
	Target           string  `json:"target"`
	UnmetCoreMinutes float64 `json:"unmet_core_minutes"`
	TimeShort        float64 `json:"time_short"`
	WasteCoreHours   float64 `json:"waste_core_hours"`
	// Memory, when the trace has a memory column.
	UnmetMemoryGiBMinutes float64 `json:"unmet_memory_gib_minutes,omitempty"`
	WasteMemoryGiBHours   float64 `json:"waste_memory_gib_hours,omitempty"`
	Actions               int     `json:"actions"`
	PeakReplicas          int32   `json:"peak_replicas"`
}

// PoolResult is one node pool's share of a PolicyResult.
type PoolResult struct {
	Name      string  `json:"name"`
	NodeHours float64 `json:"node_hours"`
	Cost      float64 `json:"cost"`
	PeakNodes int     `json:"peak_nodes"`
	Actions   int     `json:"actions"`
}

// BudgetBand is the monthly cost as a band from resampling the forecast
// errors: the day-ahead errors of a backtest of every workload's demand
// (see dayErrors), summed over workloads per day, drawn a month of days at a
// time with replacement (Samples months, with the run's seed), moving the
// month's mean demand; each month is costed with the policy's own cost rate
// per core of demand (a least-squares line of its cost rate on total demand
// over the run: a policy whose cost does not follow demand, such as static,
// gets a band of zero width).
type BudgetBand struct {
	P10 float64 `json:"p10"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	// Days is the number of days of forecast errors resampled (0: none, and
	// the band is the run rate).
	Days    int `json:"days"`
	Samples int `json:"samples"`
	// Method names how the band was made: "forecast-errors".
	Method string `json:"method"`
	// CostPerCoreHour is the slope of the policy's cost rate on demand.
	CostPerCoreHour float64 `json:"cost_per_core_hour"`
	Monthly         float64 `json:"monthly_budget"`
	// OverP90 is true when the p90 monthly cost exceeds the budget.
	OverP90 bool `json:"over_p90"`
}

// Recovery is what a scenario failure cost: the time until no pod was
// pending, every pool was back at its desired size and every workload had
// as many ready pods as before the failure (or as it wants now, if fewer)
// (-1: not within the run), and the unmet demand meanwhile (all of it,
// including what the policy would have been short anyway).
type Recovery struct {
	At               time.Time `json:"at"`
	What             string    `json:"what"`
	RecoverySeconds  float64   `json:"recovery_seconds"`
	UnmetCoreMinutes float64   `json:"unmet_core_minutes"`
}

// Series is the time series of a run at SeriesStep: instantaneous values
// at each time.
type Series struct {
	StepSeconds float64     `json:"step_seconds"`
	Times       []time.Time `json:"times"`
	Demand      []Named     `json:"demand_cores"` // per workload
	// DemandMemory is per workload with a memory column, in bytes.
	DemandMemory []Named        `json:"demand_memory_bytes,omitempty"`
	Policies     []PolicySeries `json:"policies"`
}

// Named is one named series.
type Named struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// PolicySeries is one policy's series.
type PolicySeries struct {
	Name          string    `json:"name"`
	CapacityCores []float64 `json:"capacity_cores"` // total
	UnmetCores    []float64 `json:"unmet_cores"`    // total
	CostPerHour   []float64 `json:"cost_per_hour"`
	Ready         []Named   `json:"ready_replicas"` // per workload
	Nodes         []Named   `json:"nodes"`          // per pool, provisioning included
}

type event struct {
	tick  int
	apply func(c *Cluster)
	what  string
	fail  bool
}

// Run replays the input under each policy and accounts for the results.
// Policies run concurrently on separate clusters; results do not depend on
// the order or the machine.
func Run(ctx context.Context, in *Input, opt Options) (*Result, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	names := opt.Policies
	if names == nil {
		names = PolicyNames
	}
	for _, n := range names {
		if !slices.Contains(PolicyNames, n) {
			return nil, fmt.Errorf("%w: unknown policy %q (choose from %v)", ErrInvalid, n, PolicyNames)
		}
	}
	start, end, err := in.Span()
	if err != nil {
		return nil, err
	}
	sc := opt.Scenario
	if sc != nil {
		if err := sc.check(in); err != nil {
			return nil, err
		}
		if d := sc.Spec.Duration; d != nil && start.Add(d.Duration).Before(end) {
			end = start.Add(d.Duration)
		}
		if opt.Refit == 0 && sc.Spec.Refit != nil {
			opt.Refit = sc.Spec.Refit.Duration
		}
		if opt.Reselect == 0 && sc.Spec.Reselect != nil {
			opt.Reselect = sc.Spec.Reselect.Duration
		}
		if opt.Seed == 0 && sc.Spec.Seed != nil {
			opt.Seed = *sc.Spec.Seed
		}
		in = sc.apply(in, start)
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	if opt.Tick <= 0 {
		opt.Tick = HPASync
	}
	if opt.SeriesStep <= 0 {
		opt.SeriesStep = in.interval()
		for end.Sub(start) > MaxSeriesPoints*opt.SeriesStep {
			opt.SeriesStep += in.interval()
		}
	}
	if in.interval()%opt.Tick != 0 || HPASync%opt.Tick != 0 && opt.Tick%HPASync != 0 || opt.SeriesStep%opt.Tick != 0 {
		return nil, fmt.Errorf("%w: tick %v must divide the interval %v and the series step %v", ErrInvalid, opt.Tick, in.interval(), opt.SeriesStep)
	}
	if opt.BandSamples <= 0 {
		opt.BandSamples = 1000
	}
	ticks := int((end.Sub(start) + opt.Tick - 1) / opt.Tick)

	var demand, held [2][][]float64
	var first, last [2][]int
	for r := range 2 {
		demand[r], held[r] = make([][]float64, len(in.Workloads)), make([][]float64, len(in.Workloads))
		first[r], last[r] = make([]int, len(in.Workloads)), make([]int, len(in.Workloads))
		for i := range in.Workloads {
			d := in.Workloads[i].series(r)
			if len(d.Values) == 0 {
				continue
			}
			demand[r][i], held[r][i] = d.Values, holdLast(d.Values)
			first[r][i] = sampleAt(d.Start, d.Step, start)
			last[r][i] = sampleAt(d.Start, d.Step, end.Add(-1))
		}
	}

	var events []event
	if sc != nil {
		at := func(d time.Duration) int { return int((d + opt.Tick - 1) / opt.Tick) }
		for _, pc := range sc.Spec.Prices {
			events = append(events, event{tick: at(pc.At.Duration), what: "price", apply: func(c *Cluster) {
				c.pools[c.byPool[pc.Pool]].spec.PricePerHour = pc.PricePerHour
			}})
		}
		for _, f := range sc.Spec.Failures {
			var until time.Time
			if f.Duration != nil && f.Duration.Duration > 0 {
				until = start.Add(f.At.Duration + f.Duration.Duration)
			}
			ev := event{tick: at(f.At.Duration), fail: true}
			if f.Zone != nil {
				z := *f.Zone
				ev.what = fmt.Sprintf("pool %s loses zone %d", f.Pool, z)
				ev.apply = func(c *Cluster) { c.loseZone(f.Pool, z, until) }
			} else {
				ev.what = fmt.Sprintf("pool %s loses %d nodes", f.Pool, f.Nodes)
				ev.apply = func(c *Cluster) { c.loseNodes(f.Pool, f.Nodes) }
			}
			events = append(events, ev)
		}
		slices.SortStableFunc(events, func(a, b event) int { return a.tick - b.tick })
	}

	res := &Result{SchemaVersion: SchemaVersion, Plan: in.Name, Start: start, End: end, TickSeconds: opt.Tick.Seconds(),
		IntervalSeconds: in.interval().Seconds(), RefitSeconds: opt.refit().Seconds(), ReselectSeconds: opt.reselect().Seconds(), Seed: opt.Seed, MonthlyBudget: in.Budget}
	if sc != nil {
		res.Scenario = sc.Metadata.Name
	}
	for _, w := range in.Workloads {
		res.Workloads = append(res.Workloads, WorkloadInfo{Target: w.Spec.Target.String(), Mode: w.Spec.Mode.String(),
			RequestCPU: w.Spec.Request.CPU, UtilizationCPU: w.Spec.Utilization.CPU, Min: w.Spec.Min, Max: w.Spec.Max,
			LeadTimeSeconds: w.Spec.LeadTime.Seconds(), Pool: w.Pool, Trace: w.Demand.Name})
	}
	res.Pools = []PoolInfo{}
	for _, p := range in.Pools {
		res.Pools = append(res.Pools, PoolInfo{Name: p.Name, MachineCPU: p.Machine.CPU, MachineMemory: p.Machine.Memory,
			PricePerHour: p.PricePerHour, Zones: p.Zones, Headroom: p.Headroom.String(), Min: p.Min, Max: p.Max, LeadTimeSeconds: p.LeadTime.Seconds()})
	}
	nSeries := (ticks + int(opt.SeriesStep/opt.Tick) - 1) / int(opt.SeriesStep/opt.Tick)
	res.Series = Series{StepSeconds: opt.SeriesStep.Seconds()}
	for k := range nSeries {
		res.Series.Times = append(res.Series.Times, start.Add(time.Duration(k)*opt.SeriesStep))
	}
	for r := range 2 {
		for i, w := range in.Workloads {
			d := w.series(r)
			if held[r][i] == nil {
				continue
			}
			v := make([]float64, nSeries)
			for k, t := range res.Series.Times {
				if j := sampleAt(d.Start, d.Step, t); j >= 0 && j < len(held[r][i]) {
					v[k] = held[r][i][j]
				}
			}
			if r == 0 {
				res.Series.Demand = append(res.Series.Demand, Named{w.Spec.Target.String(), v})
			} else {
				res.Series.DemandMemory = append(res.Series.DemandMemory, Named{w.Spec.Target.String(), v})
			}
		}
	}

	days := int(time.Duration(ticks) * opt.Tick / (24 * time.Hour))
	dayErrs := dayErrors(in, demand[0], start, days, opt.maxHistory)

	res.Policies = make([]PolicyResult, len(names))
	res.Series.Policies = make([]PolicySeries, len(names))
	var wg sync.WaitGroup
	for pi, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &run{in: in, opt: &opt, start: start, demand: demand, held: held, idx: [2][]int{make([]int, len(in.Workloads)), make([]int, len(in.Workloads))}, hpaHist: make([]policy.History, len(in.Workloads)), dayErrs: dayErrs,
				req: make([]policy.Resources, len(in.Workloads)), util: make([]policy.Resources, len(in.Workloads)), mem: make([]bool, len(in.Workloads))}
			for i := range in.Workloads {
				w := &in.Workloads[i].Spec
				s.req[i], s.util[i], s.mem[i] = w.Request, w.Utilization, held[1][i] != nil && w.Request.Memory > 0
			}
			replicas := make([]int32, len(in.Workloads))
			pods := make([]int, len(in.Workloads))
			for i, w := range in.Workloads {
				replicas[i] = w.Initial
				if replicas[i] <= 0 {
					n := int32(0)
					for r := range 2 {
						if f := first[r][i]; held[r][i] != nil && f >= 0 && f < len(held[r][i]) {
							n = max(n, needed(&w.Spec, r, held[r][i][f]))
						}
					}
					replicas[i] = min(max(n, w.Spec.Min), w.Spec.Max)
				}
				pods[i] = int(replicas[i])
			}
			var d driver
			var nodes []int
			switch name {
			case Static:
				replicas, nodes = staticSizes(in, held, first, last)
				d = static{}
			case Reactive:
				nodes = poolSizes(in, pods, false, 0)
				d = &reactive{sync: HPASync}
			case Scheduled:
				nodes = poolSizes(in, pods, true, in.Budget)
				d = scheduled{}
			case Predictive:
				nodes = poolSizes(in, pods, true, in.Budget)
				d = &predictive{sync: HPASync}
			}
			s.c = newCluster(in, start, replicas, nodes)
			s.c.logging = opt.Log
			// Profiles tell the policies apart (go tool pprof -tagfocus policy=predictive).
			pprof.Do(ctx, pprof.Labels("policy", name), func(ctx context.Context) {
				res.Policies[pi], res.Series.Policies[pi] = s.loop(ctx, name, d, ticks, events, nSeries)
			})
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// holdLast replaces missing values by the last value before them (the
// first value before it) and clamps at zero: what the world does.
func holdLast(v []float64) []float64 {
	if !slices.ContainsFunc(v, func(x float64) bool { return !(x >= 0) }) {
		return v // nothing to fill: share the input (a month of minutes is 43,200 values a workload)
	}
	h := make([]float64, len(v))
	prev := math.NaN()
	for k, x := range v {
		if !math.IsNaN(x) {
			prev = max(x, 0)
		}
		h[k] = prev
	}
	for k := range h { // leading gap: the first value
		if !math.IsNaN(h[k]) {
			for j := range k {
				h[j] = h[k]
			}
			break
		}
	}
	for k := range h {
		if math.IsNaN(h[k]) {
			h[k] = 0
		}
	}
	return h
}

// needed is the replicas demand dm of resource r needs at the
// utilization target (0 without a request for it).
func needed(w *policy.Workload, r int, dm float64) int32 {
	req, util := w.Request.CPU, w.Utilization.CPU
	if r == 1 {
		req, util = w.Request.Memory, w.Utilization.Memory
	}
	if req <= 0 || util <= 0 {
		return 0
	}
	return int32(math.Ceil(dm/(req*util) - 1e-9))
}

// sampleAt is the index of the sample in effect at t (-1 before the first).
func sampleAt(start time.Time, step time.Duration, t time.Time) int {
	if t.Before(start) {
		return -1
	}
	return int(t.Sub(start) / step)
}

func (s *run) loop(ctx context.Context, name string, d driver, ticks int, events []event, nSeries int) (PolicyResult, PolicySeries) {
	in, opt, c := s.in, s.opt, s.c
	res := PolicyResult{Name: name}
	ser := PolicySeries{Name: name, CapacityCores: make([]float64, nSeries), UnmetCores: make([]float64, nSeries), CostPerHour: make([]float64, nSeries)}
	for _, w := range in.Workloads {
		ser.Ready = append(ser.Ready, Named{w.Spec.Target.String(), make([]float64, nSeries)})
		res.Workloads = append(res.Workloads, WorkloadResult{Target: w.Spec.Target.String()})
	}
	for _, p := range in.Pools {
		ser.Nodes = append(ser.Nodes, Named{p.Name, make([]float64, nSeries)})
		res.Pools = append(res.Pools, PoolResult{Name: p.Name})
	}
	dt := opt.Tick.Hours()
	everyPlan := int(in.interval() / opt.Tick)
	everySeries := int(opt.SeriesStep / opt.Tick)
	utils := make([]float64, 0, ticks)
	shortTicks := make([]int, len(in.Workloads))
	anyShort := 0
	var fit line // cost rate on total demand
	type open struct {
		r      int // index into res.Failures
		start  time.Time
		before []int // ready pods per workload just before the failure
	}
	var recovering []open
	ev := 0
	var next, step [2][]int64 // when each workload's next sample takes effect, and its trace's step
	for r := range 2 {
		next[r], step[r] = make([]int64, len(in.Workloads)), make([]int64, len(in.Workloads))
		for i := range in.Workloads {
			d := in.Workloads[i].series(r)
			if len(d.Values) == 0 {
				s.idx[r][i] = -1
				continue
			}
			s.idx[r][i] = sampleAt(d.Start, d.Step, s.start)
			next[r][i], step[r][i] = d.Start.UnixNano()+int64(s.idx[r][i]+1)*int64(d.Step), int64(d.Step)
		}
	}
	for k := range ticks {
		if k%4096 == 0 && ctx.Err() != nil {
			break
		}
		now := s.start.Add(time.Duration(k) * opt.Tick)
		s.now, c.now = now, now
		ns := now.UnixNano()
		for r := range 2 {
			idx, held, nx, st := s.idx[r], s.held[r], next[r], step[r]
			for i := range idx {
				for idx[i]+1 < len(held[i]) && nx[i] <= ns {
					idx[i]++
					nx[i] += st[i]
				}
			}
		}
		for ; ev < len(events) && events[ev].tick <= k; ev++ {
			if events[ev].fail {
				before := make([]int, len(c.workloads))
				for i, w := range c.workloads {
					before[i] = w.ready
				}
				res.Failures = append(res.Failures, Recovery{At: now, What: events[ev].what, RecoverySeconds: -1})
				recovering = append(recovering, open{len(res.Failures) - 1, now, before})
			}
			events[ev].apply(c)
		}
		c.settle()
		d.act(ctx, s, k%everyPlan == 0)
		c.settle()

		// Accounting over [now, now + tick).
		var unmet, capReq, dem float64
		short := false
		for i, w := range c.workloads {
			dm := s.demandNow(0, i)
			req, util := &s.req[i], &s.util[i]
			capacity := float64(w.ready) * req.CPU * util.CPU
			u := max(0, dm-capacity)
			wr := &res.Workloads[i]
			wShort := false
			if u > 1e-9 {
				wr.UnmetCoreMinutes += u * dt * 60
				wShort = true
				unmet += u
			}
			wr.WasteCoreHours += max(0, capacity-dm) * dt
			if s.hasMem(i) {
				mem := s.demandNow(1, i)
				mcap := float64(w.ready) * req.Memory * util.Memory
				if mu := max(0, mem-mcap); mu > 1e-9*max(1, mem) {
					wr.UnmetMemoryGiBMinutes += mu / gib * dt * 60
					wShort = true
				}
				wr.WasteMemoryGiBHours += max(0, mcap-mem) / gib * dt
			}
			if wShort {
				shortTicks[i]++
				short = true
			}
			wr.PeakReplicas = max(wr.PeakReplicas, w.replicas)
			capReq += float64(w.ready) * req.CPU
			dem += dm
			res.PendingPodMinutes += float64(w.pending()) * dt * 60
			if k%everySeries == 0 {
				ser.Ready[i].Values[k/everySeries] = float64(w.ready)
			}
		}
		if short {
			anyShort++
		}
		if unmet > res.WorstShortfallCores+1e-9 {
			at := now
			res.WorstShortfallCores, res.WorstShortfallAt = unmet, &at
		}
		if capReq > 0 {
			utils = append(utils, dem/capReq)
		}
		costRate := 0.0
		allUp := true
		for i, p := range c.pools {
			n := float64(len(p.nodes))
			costRate += n * p.spec.PricePerHour
			res.Pools[i].NodeHours += n * dt
			res.Pools[i].Cost += n * p.spec.PricePerHour * dt
			res.Pools[i].PeakNodes = max(res.Pools[i].PeakNodes, len(p.nodes))
			if k%everySeries == 0 {
				ser.Nodes[i].Values[k/everySeries] = n
			}
			allUp = allUp && c.lastReady[i] >= p.desired
		}
		fit.add(dem, costRate)
		if k%everySeries == 0 {
			j := k / everySeries
			ser.CapacityCores[j] = capReq
			ser.UnmetCores[j] = unmet
			ser.CostPerHour[j] = costRate
		}
		kept := recovering[:0]
		for _, o := range recovering {
			back := allUp
			for i, w := range c.workloads {
				back = back && w.pending() == 0 && w.ready >= min(o.before[i], int(w.replicas))
			}
			if back {
				res.Failures[o.r].RecoverySeconds = now.Sub(o.start).Seconds()
				continue
			}
			res.Failures[o.r].UnmetCoreMinutes += unmet * dt * 60
			kept = append(kept, o)
		}
		recovering = kept
	}
	hours := float64(ticks) * dt
	for i := range res.Workloads {
		res.Workloads[i].TimeShort = float64(shortTicks[i]) / float64(max(ticks, 1))
		res.Workloads[i].Actions = c.actions[i]
		res.UnmetCoreMinutes += res.Workloads[i].UnmetCoreMinutes
		res.WasteCoreHours += res.Workloads[i].WasteCoreHours
		res.UnmetMemoryGiBMinutes += res.Workloads[i].UnmetMemoryGiBMinutes
		res.WasteMemoryGiBHours += res.Workloads[i].WasteMemoryGiBHours
		res.ReplicaActions += c.actions[i]
	}
	for i := range res.Pools {
		res.Pools[i].Actions = c.poolActs[i]
		res.PoolActions += c.poolActs[i]
		res.Cost += res.Pools[i].Cost
		res.NodeHours += res.Pools[i].NodeHours
	}
	res.Actions = res.ReplicaActions + res.PoolActions
	res.Log = c.log
	res.TimeShort = float64(anyShort) / float64(max(ticks, 1))
	if hours > 0 {
		res.MonthlyCost = res.Cost / hours * policy.HoursPerMonth
	}
	if len(utils) > 0 {
		slices.Sort(utils)
		res.P95Utilization = utils[min(len(utils)-1, int(math.Ceil(0.95*float64(len(utils))))-1)]
	}
	if p, ok := d.(*predictive); ok {
		p.wait()
		res.ForecastFits = p.fits
	}
	res.Budget = budgetBand(s.dayErrs, fit, res.MonthlyCost, in.Budget, opt.Seed, opt.BandSamples)
	return res, ser
}

// line accumulates a least-squares line y = a + b·x.
type line struct{ n, sx, sy, sxx, sxy float64 }

func (l *line) add(x, y float64) {
	l.n++
	l.sx += x
	l.sy += y
	l.sxx += x * x
	l.sxy += x * y
}

// coef returns the intercept and the slope, the slope clamped at zero (a
// flat line through the mean when x does not vary).
func (l *line) coef() (a, b float64) {
	if l.n == 0 {
		return 0, 0
	}
	mx, my := l.sx/l.n, l.sy/l.n
	if v := l.sxx/l.n - mx*mx; v > 1e-12*max(1, mx*mx) {
		b = max(0, (l.sxy/l.n-mx*my)/v)
	}
	return my - b*mx, b
}

// budgetBand resamples days of forecast errors (cores, summed over
// workloads) into months of 730 h with a seeded generator: a month's cost
// is the run rate moved by the cost slope times the month's mean error.
// With no day of errors, the band is the run rate.
func budgetBand(dayErrs []float64, fit line, runRate, budget float64, seed uint64, samples int) *BudgetBand {
	_, slope := fit.coef()
	b := &BudgetBand{Days: len(dayErrs), Monthly: budget, Method: "forecast-errors", CostPerCoreHour: slope}
	if len(dayErrs) == 0 {
		b.P10, b.P50, b.P90 = runRate, runRate, runRate
	} else {
		rng := rand.New(rand.NewPCG(seed, 0x6865616472))
		n := int(math.Round(policy.HoursPerMonth / 24.0))
		months := make([]float64, samples)
		for s := range months {
			e := 0.0
			for range n {
				e += dayErrs[rng.IntN(len(dayErrs))]
			}
			months[s] = max(0, runRate+slope*e/float64(n)*policy.HoursPerMonth)
		}
		slices.Sort(months)
		q := func(p float64) float64 { return months[min(len(months)-1, int(p*float64(len(months))))] }
		b.P10, b.P50, b.P90, b.Samples = q(0.1), q(0.5), q(0.9), samples
	}
	b.OverP90 = budget > 0 && b.P90 > budget
	return b
}
