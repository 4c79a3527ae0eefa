package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/planinput"
	"github.com/headroom-dev/headroom/policy"
)

// Quota is one namespace ResourceQuota's section: what it allows and uses
// now, and when the forecast demand of the namespace's workloads exceeds
// it.
type Quota struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Scopes of a scoped quota (it counts only the pods that match): one
	// scoped to other than NotTerminating and NotBestEffort is shown, not
	// forecast (planinput.CountsWorkloadPods).
	Scopes    []string        `json:"scopes,omitempty"`
	Resources []QuotaResource `json:"resources"`
	// Runway is the earliest of the resources' runways (nil: none within
	// the horizon); RunwayDays counts from AsOf.
	Runway         *time.Time `json:"runway"`
	RunwayDays     Num        `json:"runway_days"`
	RunwayResource string     `json:"runway_resource,omitempty"`
	Horizon        string     `json:"horizon,omitempty"`
	// Workloads are the namespace's forecast workloads whose demand the
	// runway counts.
	Workloads []string `json:"workloads,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`

	chart *Chart
}

// QuotaResource is one resource of a quota (metrics.QuotaResources), in
// cores, bytes or pods.
type QuotaResource struct {
	Resource string `json:"resource"`
	Hard     Num    `json:"hard"`
	// Used is the quota's status.used (NaN: the status does not count it).
	Used Num `json:"used"`
	// Other is the part of Used that is not the forecast workloads' pods
	// (other pods, DaemonSets, workloads without history), held constant;
	// DemandNow is Other plus what the forecast workloads need now, and
	// ForecastPeak Other plus the peak of their forecast at the planned
	// quantile. NaN: not forecast (limits, scoped quotas, no workloads).
	Other        Num `json:"other"`
	DemandNow    Num `json:"demand_now"`
	ForecastPeak Num `json:"forecast_peak"`
	// Runway is the first time the forecast demand exceeds Hard (nil: not
	// within the horizon, or not forecast).
	Runway     *time.Time `json:"runway"`
	RunwayDays Num        `json:"runway_days"`
}

// quotaForecast are the resources whose demand a quota runway forecasts:
// what the replicas of the namespace's workloads request. Limits are not
// forecast (the inventory records requests per replica, not limits).
var quotaForecast = []string{metrics.QuotaRequestsCPU, metrics.QuotaRequestsMemory, metrics.QuotaPods}

// quotaMember is one forecast workload of a namespace.
type quotaMember struct {
	s *wstate
	// per replica: what the planner sizes replicas by (plan, else
	// inventory) and what each pod charges the quota (inventory, else
	// plan).
	sizeCPU, sizeMem, chargeCPU, chargeMem float64
	utilCPU, utilMem                       float64
	lo, hi                                 float64 // replicas
}

// replicas is the number of replicas member m needs at grid point k: the
// larger of its CPU and memory usage over the requests at the utilization
// target, within [lo, hi]; continuous (the rounding up adds less than one
// replica). NaN when there is no CPU sample at k.
func (m *quotaMember) replicas(k int) float64 {
	wd := m.s.data
	if k >= len(wd.CPU) || math.IsNaN(wd.CPU[k]) {
		return math.NaN()
	}
	r := 0.0
	if m.sizeCPU > 0 {
		r = wd.CPU[k] / (m.sizeCPU * m.utilCPU)
	}
	if m.sizeMem > 0 && k < len(wd.Memory) && !math.IsNaN(wd.Memory[k]) {
		r = max(r, wd.Memory[k]/(m.sizeMem*m.utilMem))
	}
	return min(max(r, m.lo), m.hi)
}

// namespaceDemand is the demand of one namespace's forecast workloads on
// each forecast quota resource: the series on the grid, its forecast, and
// what the members' pods charge the quota now.
type namespaceDemand struct {
	members []string
	series  map[string][]float64
	now     map[string]float64 // charged by the members' pods now
	fc      map[string]*forecast.Forecast
	errs    map[string]error
}

// quotaMembers picks the namespace's workloads whose demand a quota
// runway forecasts: not DaemonSets (they follow the nodes), with CPU
// history and pods in the inventory, and requests to size replicas by.
func quotaMembers(ns string, ws []*wstate) []*quotaMember {
	var out []*quotaMember
	for _, s := range ws {
		wd := s.data
		if wd.Workload.Namespace != ns || wd.Workload.Kind == "DaemonSet" || wd.CPU == nil || s.inv == nil {
			continue
		}
		u := s.utilization()
		m := &quotaMember{s: s, chargeCPU: s.inv.CPURequest, chargeMem: s.inv.MemoryRequest, sizeCPU: s.inv.CPURequest, sizeMem: s.inv.MemoryRequest,
			utilCPU: u.CPU, utilMem: u.Memory, lo: float64(s.inv.Pods), hi: math.Inf(1)}
		if sp := s.spec; sp != nil {
			if sp.Request.CPU > 0 || sp.Request.Memory > 0 {
				m.sizeCPU, m.sizeMem = sp.Request.CPU, sp.Request.Memory
			}
			m.lo, m.hi = float64(sp.Min), float64(sp.Max)
		}
		if m.chargeCPU <= 0 && m.chargeMem <= 0 {
			m.chargeCPU, m.chargeMem = m.sizeCPU, m.sizeMem
		}
		if m.sizeCPU <= 0 && m.sizeMem <= 0 {
			continue
		}
		out = append(out, m)
	}
	return out
}

// demandOf builds and forecasts a namespace's demand on the resources
// named.
func demandOf(ns string, ws []*wstate, d *Data, resources []string, fopt forecast.Options) *namespaceDemand {
	nd := &namespaceDemand{series: map[string][]float64{}, now: map[string]float64{}, fc: map[string]*forecast.Forecast{}, errs: map[string]error{}}
	members := quotaMembers(ns, ws)
	if len(members) == 0 {
		return nd
	}
	n := 0
	for _, m := range members {
		nd.members = append(nd.members, m.s.data.Workload.String())
		n = max(n, len(m.s.data.CPU))
	}
	for _, r := range resources {
		sum := make([]float64, n)
		for k := range sum {
			for _, m := range members {
				rep := m.replicas(k) // NaN when a member has no sample: the sum too
				switch r {
				case metrics.QuotaRequestsCPU:
					sum[k] += rep * m.chargeCPU
				case metrics.QuotaRequestsMemory:
					sum[k] += rep * m.chargeMem
				case metrics.QuotaPods:
					sum[k] += rep
				}
			}
		}
		now := 0.0
		for _, m := range members {
			pods := float64(m.s.inv.Pods)
			switch r {
			case metrics.QuotaRequestsCPU:
				now += pods * m.chargeCPU
			case metrics.QuotaRequestsMemory:
				now += pods * m.chargeMem
			case metrics.QuotaPods:
				now += pods
			}
		}
		nd.series[r], nd.now[r] = sum, now
		if f, err := forecast.Auto(d.series("quota/"+ns+"/"+r, sum), fopt); err == nil {
			nd.fc[r] = f
		} else {
			nd.errs[r] = err
		}
	}
	return nd
}

// buildQuotas makes the quota sections and their findings: per quota and
// resource, used and hard now; for quotas that count every workload pod
// (planinput.CountsWorkloadPods) the runway of
// requests.cpu, requests.memory and pods, from the forecast demand of the
// namespace's workloads (Other + the forecast at the planned quantile,
// over Options.Horizon, like the pools'); and whether the replicas
// planned now fit in what the quota has left.
func buildQuotas(r *Report, ws []*wstate, d *Data, inv *metrics.Inventory, levels []float64, horizon int, base forecast.Options, now time.Time, o Options) {
	if inv == nil {
		return
	}
	if !inv.QuotasRead {
		r.Warnings = append(r.Warnings, "the inventory snapshot has no resource quotas (collected without list on resourcequotas, or before quotas were collected): quota runway unknown")
		return
	}
	fopt := base
	fopt.Horizon, fopt.Quantiles = horizon, levels
	// What each namespace's quotas limit among the forecast resources.
	need := map[string]map[string]bool{}
	for _, q := range inv.Quotas {
		if !planinput.CountsWorkloadPods(q) {
			continue
		}
		for _, res := range quotaForecast {
			if _, ok := q.Hard[res]; ok {
				if need[q.Namespace] == nil {
					need[q.Namespace] = map[string]bool{}
				}
				need[q.Namespace][res] = true
			}
		}
	}
	// One aggregate forecast per namespace and resource, Options.Parallel
	// namespaces at a time (as the workloads' forecasts).
	names := make([]string, 0, len(need))
	for ns := range need {
		names = append(names, ns)
	}
	sort.Strings(names)
	results := make([]*namespaceDemand, len(names))
	var g errgroup.Group
	g.SetLimit(max(o.Parallel, 1))
	for i, ns := range names {
		g.Go(func() error {
			var res []string
			for _, x := range quotaForecast {
				if need[ns][x] {
					res = append(res, x)
				}
			}
			results[i] = demandOf(ns, ws, d, res, fopt)
			return nil
		})
	}
	g.Wait()
	demand := make(map[string]*namespaceDemand, len(names))
	for i, ns := range names {
		demand[ns] = results[i]
	}
	for _, q := range inv.Quotas {
		out := Quota{Namespace: q.Namespace, Name: q.Name, Scopes: q.Scopes, Resources: []QuotaResource{}, RunwayDays: nan}
		nd := demand[q.Namespace]
		if !planinput.CountsWorkloadPods(q) {
			out.Warnings = append(out.Warnings, "scoped quota (counts only the pods matching "+strings.Join(q.Scopes, ", ")+"): not forecast")
		} else if nd != nil {
			out.Workloads = nd.members
			if len(nd.members) == 0 {
				out.Warnings = append(out.Warnings, "no workload of the namespace has usage history and requests: not forecast")
			}
		}
		for _, res := range metrics.QuotaResources {
			hard, ok := q.Hard[res]
			if !ok {
				continue
			}
			qr := QuotaResource{Resource: res, Hard: Num(hard), Used: nan, Other: nan, DemandNow: nan, ForecastPeak: nan, RunwayDays: nan}
			used, counted := q.Used[res]
			if counted {
				qr.Used = Num(used)
			}
			if nd != nil && len(nd.members) > 0 && nd.series[res] != nil && planinput.CountsWorkloadPods(q) {
				switch {
				case !counted:
					out.Warnings = append(out.Warnings, res+": the quota's status does not count it yet (no quota controller since it changed): not forecast")
				default:
					quotaRunway(&out, &qr, nd, res, used, hard, levels[1], now)
				}
			}
			if counted && used > hard {
				qr.Runway, qr.RunwayDays = ptime(now), 0
				out.setRunway(res, now, now)
			}
			out.Resources = append(out.Resources, qr)
		}
		if out.Runway != nil {
			quotaRunwayFinding(r, &out, levels[1], o)
		}
		if nd != nil && planinput.CountsWorkloadPods(q) {
			out.chart = quotaChart(&out, nd, d, levels)
		}
		if nd != nil && len(nd.members) > 0 {
			out.Horizon = fmtDur(time.Duration(horizon) * d.Step)
		}
		r.Quotas = append(r.Quotas, out)
	}
	sort.SliceStable(r.Quotas, func(i, j int) bool {
		a, b := r.Quotas[i], r.Quotas[j]
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	planFindings(r, ws, inv)
}

func ptime(t time.Time) *time.Time { t = t.UTC(); return &t }

// setRunway records a resource's runway when it comes first.
func (q *Quota) setRunway(res string, t, now time.Time) {
	if q.Runway == nil || t.Before(*q.Runway) {
		q.Runway, q.RunwayDays, q.RunwayResource = ptime(t), Num(t.Sub(now).Hours()/24), res
	}
}

// quotaRunway fills one forecast resource: Other is what the quota counts
// beyond the members' pods (never below 0), the demand Other plus the
// members' needs; the runway is now when the demand now exceeds hard, else
// the first forecast step whose quantile does (Runway).
func quotaRunway(q *Quota, qr *QuotaResource, nd *namespaceDemand, res string, used, hard, level float64, now time.Time) {
	other := max(used-nd.now[res], 0)
	qr.Other = Num(other)
	if v, ok := lastFinite(nd.series[res]); ok {
		qr.DemandNow = Num(other + v)
	}
	f := nd.fc[res]
	if f == nil {
		q.Warnings = append(q.Warnings, fmt.Sprintf("%s: no demand forecast: %v", res, nd.errs[res]))
		if !math.IsNaN(float64(qr.DemandNow)) && float64(qr.DemandNow) > hard {
			qr.Runway, qr.RunwayDays = ptime(now), 0
			q.setRunway(res, now, now)
		}
		return
	}
	up := f.Quantile(level)
	total := make([]float64, len(up))
	for k, v := range up {
		total[k] = other + v
	}
	qr.ForecastPeak = Num(slices.Max(total))
	t, ok := runwayAt(float64(qr.DemandNow), f, total, hard, now)
	if !ok {
		return
	}
	qr.Runway, qr.RunwayDays = ptime(t), Num(t.UTC().Sub(now).Hours()/24)
	q.setRunway(res, t, now)
}

// quotaAmount writes an amount of a quota resource with its unit.
func quotaAmount(res string, v float64) string {
	switch res {
	case metrics.QuotaRequestsCPU, metrics.QuotaLimitsCPU:
		return fmtF(v) + " cores"
	case metrics.QuotaRequestsMemory, metrics.QuotaLimitsMemory:
		return gib(v) + " GiB"
	}
	return plural(int(math.Round(v)), "pod")
}

// quotaRunwayFinding: a quota whose runway is under Options.RunwayWarn
// (critical under a third of it), as for pools.
func quotaRunwayFinding(r *Report, q *Quota, level float64, o Options) {
	days := float64(q.RunwayDays)
	warn := o.RunwayWarn.Hours() / 24
	if days >= warn {
		return
	}
	sev := Warning
	if days < warn/3 {
		sev = Critical
	}
	var qr QuotaResource
	for _, x := range q.Resources {
		if x.Resource == q.RunwayResource {
			qr = x
		}
	}
	subject := q.Namespace + "/" + q.Name
	var msg string
	switch {
	case !math.IsNaN(float64(qr.Used)) && qr.Used > qr.Hard:
		msg = fmt.Sprintf("quota exhausted: %s used %s, over its hard limit of %s (lowered below use?): no new pod that requests it is admitted",
			q.RunwayResource, quotaAmount(q.RunwayResource, float64(qr.Used)), quotaAmount(q.RunwayResource, float64(qr.Hard)))
	case days == 0:
		msg = fmt.Sprintf("quota runway 0 days: the namespace's workloads need %s of %s now, over the quota's %s (used %s): the pods beyond it are refused (403 exceeded quota)",
			quotaAmount(q.RunwayResource, float64(qr.DemandNow)), q.RunwayResource, quotaAmount(q.RunwayResource, float64(qr.Hard)), quotaAmount(q.RunwayResource, float64(qr.Used)))
	default:
		msg = fmt.Sprintf("quota runway %.1f days: forecast %s demand (q%s) of the namespace's workloads exceeds the quota's %s (used %s now) on %s",
			days, q.RunwayResource, fmtQ(level), quotaAmount(q.RunwayResource, float64(qr.Hard)), quotaAmount(q.RunwayResource, float64(qr.Used)), q.Runway.Format("2006-01-02 15:04"))
	}
	r.Findings = append(r.Findings, Finding{sev, KindQuotaRunway, subject, msg})
}

// planFindings: the replicas planned now (policy.Replicas' decision) need
// more of a namespace's quota than it has left. The API server's quota
// admission refuses the pods beyond it (403 Forbidden: exceeded quota),
// so a scale-up stays short of its plan: the scale write itself succeeds,
// and the ReplicaSet (or StatefulSet) controller's pod creations fail.
// Checked for pods, requests.cpu and requests.memory of unscoped quotas
// whose use is counted, per workload and for the namespace's scale-ups
// together.
func planFindings(r *Report, ws []*wstate, inv *metrics.Inventory) {
	type ask struct {
		target   string
		pods     int
		cpu, mem float64 // in all
	}
	asks := map[string][]ask{}
	for _, s := range ws {
		p := s.out.Plan
		if p == nil || s.inv == nil || p.Desired <= p.Current || s.spec == nil || s.spec.Mode == policy.ModeRecommend {
			continue // recommend mode changes nothing
		}
		cpu, mem := s.inv.CPURequest, s.inv.MemoryRequest
		if cpu <= 0 && mem <= 0 {
			cpu, mem = s.spec.Request.CPU, s.spec.Request.Memory
		}
		extra := int(p.Desired - p.Current)
		ns := s.data.Workload.Namespace
		asks[ns] = append(asks[ns], ask{s.out.Target, extra, float64(extra) * cpu, float64(extra) * mem})
	}
	for _, q := range inv.Quotas {
		if len(asks[q.Namespace]) == 0 {
			continue
		}
		subject := q.Namespace + "/" + q.Name
		var total ask
		alone := false
		for _, a := range asks[q.Namespace] {
			total.pods, total.cpu, total.mem = total.pods+a.pods, total.cpu+a.cpu, total.mem+a.mem
			if s, short := planinput.QuotaShortfall(q, a.pods, a.cpu, a.mem); short {
				alone = true
				r.Findings = append(r.Findings, Finding{Critical, KindQuotaPlan, a.target, fmt.Sprintf(
					"the plan adds %s needing %s of %s, but quota %s has %s left (%s used of %s): the API server refuses the pods beyond it (403 Forbidden: exceeded quota: %s) and the workload stays short",
					plural(a.pods, "pod"), quotaAmount(s.Resource, s.Need), s.Resource, subject, quotaAmount(s.Resource, s.Left()),
					quotaAmount(s.Resource, s.Used), quotaAmount(s.Resource, s.Hard), q.Name)})
			}
		}
		if alone || len(asks[q.Namespace]) < 2 {
			continue
		}
		if s, short := planinput.QuotaShortfall(q, total.pods, total.cpu, total.mem); short {
			r.Findings = append(r.Findings, Finding{Warning, KindQuotaPlan, subject, fmt.Sprintf(
				"the plan's %d scale-ups in the namespace need %s of %s together, but the quota has %s left (%s used of %s): some of their pods will be refused (403 exceeded quota)",
				len(asks[q.Namespace]), quotaAmount(s.Resource, s.Need), s.Resource, quotaAmount(s.Resource, s.Left()), quotaAmount(s.Resource, s.Used), quotaAmount(s.Resource, s.Hard))})
		}
	}
}

// quotaChart draws the demand on a quota's runway resource (else the first
// one forecast): Other plus the members' needs on the grid, the forecast
// and its band, hard as a limit and the runway as a marker. nil when no
// resource was forecast.
func quotaChart(q *Quota, nd *namespaceDemand, d *Data, levels []float64) *Chart {
	var qr *QuotaResource
	for i := range q.Resources {
		x := &q.Resources[i]
		if nd.fc[x.Resource] != nil && !math.IsNaN(float64(x.Other)) && (qr == nil || x.Resource == q.RunwayResource) {
			qr = x
		}
	}
	if qr == nil {
		return nil
	}
	scale, unit := 1.0, "cores"
	switch qr.Resource {
	case metrics.QuotaRequestsMemory:
		scale, unit = 1.0/(1<<30), "GiB"
	case metrics.QuotaPods:
		unit = "pods"
	}
	other := float64(qr.Other)
	shift := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for k, x := range v {
			out[k] = (other + x) * scale
		}
		return out
	}
	f := nd.fc[qr.Resource]
	ft := forecastTimes(f)
	c := &Chart{Title: fmt.Sprintf("quota %s/%s: %s demand", q.Namespace, q.Name, qr.Resource), YLabel: unit,
		Lines: []Line{
			{Name: "demand", Times: gridTimes(d, len(nd.series[qr.Resource])), Values: shift(nd.series[qr.Resource])},
			{Name: "forecast", Times: ft, Values: shift(f.Mean), Dashed: true, Color: 1},
		},
		Band:   &Band{Name: fmt.Sprintf("q%s–q%s", fmtQ(levels[0]), fmtQ(levels[1])), Times: ft, Lo: shift(f.Q[0]), Hi: shift(f.Q[1])},
		Limits: []Limit{{Name: "hard", Value: float64(qr.Hard) * scale}}}
	if qr.Runway != nil {
		c.Marker, c.MarkerLabel = *qr.Runway, "runway "+qr.Runway.Format("2006-01-02")
	}
	return c
}
