package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// Table is one table of a report, as every format shows it. Name is its
// stable identifier (the CSV file is Name + ".csv").
type Table struct {
	Name    string
	Title   string
	Note    string // a sentence under the title
	Columns []string
	Rows    [][]string
}

func (t *Table) add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Cell formats. Numbers are plain (no units, no thousands separators) so
// that CSV readers and the HTML sorter read them; a missing value is "-".
func num(f float64) string { return fmtF(f) }

func pct(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64)
}

// ratio is a/b, NaN when b is not positive.
func ratio(a, b float64) float64 {
	if !(b > 0) {
		return math.NaN()
	}
	return a / b
}

func money(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func gib(b float64) string {
	if math.IsNaN(b) {
		return "-"
	}
	return fmtF(b / (1 << 30))
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04Z")
}

func tsp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ts(*t)
}

func itoa(n int) string { return strconv.Itoa(n) }

func count(n int) string {
	if n < 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Table names, in the order Tables returns them.
const (
	TableFindings        = "findings"
	TableSummary         = "summary"
	TableNodes           = "nodes"
	TableVersions        = "kubelet_versions"
	TablePolicies        = "policies"
	TableFailures        = "failures"
	TableSimWorkloads    = "simulated_workloads"
	TableSimPools        = "simulated_pools"
	TableWorkloads       = "workloads"
	TableForecasts       = "forecasts"
	TableRightsizing     = "rightsizing"
	TableDecisions       = "decisions"
	TablePools           = "pools"
	TableQuotas          = "quotas"
	TableWarnings        = "warnings"
	tableNoteSimWorkload = "per workload and policy, over the whole run"
)

// Tables returns the report's tables in reading order; tables with no rows
// are left out, except findings.
func (r *Report) Tables() []*Table {
	var out []*Table
	keep := func(t *Table) {
		if len(t.Rows) > 0 || t.Name == TableFindings {
			out = append(out, t)
		}
	}
	f := &Table{Name: TableFindings, Title: "Findings", Note: "ordered by severity", Columns: []string{"severity", "kind", "subject", "finding"}}
	for _, x := range r.Findings {
		f.add(x.Severity.String(), x.Kind, x.Subject, x.Message)
	}
	keep(f)

	s := &r.Summary
	st := &Table{Name: TableSummary, Title: "Summary", Note: "CPU in cores, memory in GiB, money per month", Columns: []string{"item", "requested", "used", "allocatable"}}
	if r.Source == SourceSimulation {
		st.Note = "averages over the run under the primary policy; CPU in cores, money per month"
	}
	st.add("cpu", num(float64(s.CPU.Requested)), num(float64(s.CPU.Used)), num(float64(s.CPU.Allocatable)))
	if r.Source != SourceSimulation {
		st.add("memory", gib(float64(s.Memory.Requested)), gib(float64(s.Memory.Used)), gib(float64(s.Memory.Allocatable)))
		st.add("monthly cost of the nodes now", money(s.MonthlyCost), "", "")
	}
	st.add("planned monthly cost", money(s.PlannedMonthlyCost), "", "")
	if s.MonthlyBudget > 0 {
		st.add("monthly budget", money(s.MonthlyBudget), "", "")
	}
	if s.ControlPlaneVersion != "" {
		st.add("control plane", s.ControlPlaneVersion, "", "")
	}
	if s.InventoryAt != nil {
		st.add("inventory at", tsp(s.InventoryAt), "", "")
	}
	keep(st)

	nt := &Table{Name: TableNodes, Title: "Nodes by pool and zone", Columns: []string{"pool", "zone", "nodes", "ready", "cpu_allocatable", "memory_allocatable_gib", "price_per_hour"}}
	for _, g := range s.NodeGroups {
		nt.add(poolName(g.Pool), orDash(g.Zone), itoa(g.Nodes), itoa(g.Ready), num(float64(g.CPU)), gib(float64(g.Memory)), money(g.Price))
	}
	keep(nt)
	vt := &Table{Name: TableVersions, Title: "Kubelet versions", Note: "against the control plane's, by the Kubernetes version skew policy", Columns: []string{"version", "nodes", "skew"}}
	for _, v := range s.Versions {
		vt.add(v.Version, itoa(v.Nodes), orDash(v.Skew))
	}
	keep(vt)

	if sim := r.Simulation; sim != nil {
		pt := &Table{Name: TablePolicies, Title: "Policies side by side", Note: "cost over the run and per month; unmet demand above capacity; waste is capacity above demand",
			Columns: []string{"policy", "cost", "cost_per_month", "node_hours", "unmet_core_minutes", "time_short_pct", "waste_core_hours", "p95_utilization_pct", "actions", "worst_shortfall_cores", "worst_shortfall_at", "budget_p10", "budget_p50", "budget_p90", "over_budget_p90"}}
		for _, p := range sim.Policies {
			pt.add(p.Name, money(p.Cost), money(p.MonthlyCost), num(p.NodeHours), num(p.UnmetCoreMinutes), pct(p.TimeShort), num(p.WasteCoreHours), pct(p.P95Utilization),
				itoa(p.Actions), num(p.WorstShortfallCores), tsp(p.WorstShortfallAt), money(float64(p.BudgetP10)), money(float64(p.BudgetP50)), money(float64(p.BudgetP90)), strconv.FormatBool(p.OverBudget))
		}
		keep(pt)
		ft := &Table{Name: TableFailures, Title: "Failures and recovery", Note: "recovery: no pod pending and every pool back at its size", Columns: []string{"policy", "failure", "at", "recovery_seconds", "unmet_core_minutes"}}
		for _, x := range sim.Failures {
			rec := "not within the run"
			if x.RecoverySeconds >= 0 {
				rec = num(x.RecoverySeconds)
			}
			ft.add(x.Policy, x.What, ts(x.At), rec, num(x.UnmetCoreMinutes))
		}
		keep(ft)
		wt := &Table{Name: TableSimWorkloads, Title: "Workloads under each policy", Note: tableNoteSimWorkload, Columns: []string{"workload", "policy", "unmet_core_minutes", "time_short_pct", "waste_core_hours", "peak_replicas", "actions"}}
		for _, w := range r.Workloads {
			for _, x := range w.Simulated {
				wt.add(w.Target, x.Policy, num(x.UnmetCoreMinutes), pct(x.TimeShort), num(x.WasteCoreHours), itoa(int(x.PeakReplicas)), itoa(x.Actions))
			}
		}
		keep(wt)
		pl := &Table{Name: TableSimPools, Title: "Node pools under each policy", Columns: []string{"pool", "policy", "node_hours", "cost", "peak_nodes", "max", "actions"}}
		for _, p := range r.Pools {
			for _, x := range p.Simulated {
				pl.add(p.Name, x.Policy, num(x.NodeHours), money(x.Cost), itoa(x.PeakNodes), itoa(p.Max), itoa(x.Actions))
			}
		}
		keep(pl)
	}

	if r.Source == SourceStore {
		wt := &Table{Name: TableWorkloads, Title: "Workloads", Note: "requests per replica; usage and headroom are totals in cores (headroom: capacity at the utilization target minus demand)",
			Columns: []string{"workload", "mode", "pool", "pods", "ready", "cpu_request", "memory_request_gib", "cpu_usage", "cpu_usage_p95", "last_sample", "current", "planned", "rule", "peak_replicas", "headroom_now", "headroom_at_peak", "reason"}}
		for _, w := range r.Workloads {
			cur, des, rule, peak, hn, hp, reason := "-", "-", "-", "-", "-", "-", "-"
			if p := w.Plan; p != nil {
				cur, des, rule, peak, reason = itoa(int(p.Current)), itoa(int(p.Desired)), p.Rule, itoa(int(p.PeakReplicas)), p.Reason
				hn, hp = num(float64(p.HeadroomNow)), num(float64(p.HeadroomAtPeak))
			}
			wt.add(w.Target, orDash(w.Mode), orDash(w.Pool), count(w.Pods), count(w.Ready), num(float64(w.RequestCPU)), gib(float64(w.RequestMemory)),
				num(float64(w.UsageCPU)), num(float64(w.UsageCPUP95)), tsp(w.LastSample), cur, des, rule, peak, hn, hp, reason)
		}
		keep(wt)
		ft := &Table{Name: TableForecasts, Title: "Forecasts and their accuracy", Note: "CPU demand in cores; MASE and sMAPE from the fit's validation tail, relative MASE (against seasonal naive) from the rolling-origin backtest",
			Columns: []string{"workload", "model", "quantile", "horizon", "peak_mean", "peak_quantile", "peak_at", "mase", "smape_pct", "coverage_pct", "rel_mase", "backtest_smape_pct", "backtest_origins"}}
		for _, w := range r.Workloads {
			if f := w.Forecast; f != nil {
				ft.add(w.Target, f.Model, num(f.Quantile), f.Horizon, num(float64(f.PeakMean)), num(float64(f.PeakUp)), ts(f.PeakAt), num(float64(f.MASE)),
					num(float64(f.SMAPE)), pct(float64(f.Coverage)), num(float64(f.RelMASE)), num(float64(f.EvalSMAPE)), itoa(f.EvalOrigins))
			}
		}
		keep(ft)
		rt := &Table{Name: TableRightsizing, Title: "Rightsizing advice", Note: "per replica, from policy.Rightsize; advice only, never applied",
			Columns: []string{"workload", "cpu_request", "cpu_advice", "memory_request_gib", "memory_advice_gib", "notes"}}
		for _, w := range r.Workloads {
			if a := w.Advice; a != nil {
				rt.add(w.Target, num(float64(w.RequestCPU)), num(float64(a.CPU)), gib(float64(w.RequestMemory)), gib(float64(a.Memory)), orDash(strings.Join(a.Notes, "; ")))
			}
		}
		keep(rt)
		dt := &Table{Name: TableDecisions, Title: "Last decisions", Note: "from the decision log, newest last", Columns: []string{"workload", "time", "action", "reason"}}
		for _, w := range r.Workloads {
			for _, d := range w.Decisions {
				dt.add(w.Target, ts(d.Time), d.Action, d.Reason)
			}
		}
		keep(dt)
		pt := &Table{Name: TablePools, Title: "Node pools", Note: "CPU in cores, memory in GiB; demand is usage over the utilization targets; runway: first date the forecast demand (CPU or memory) at the planned quantile exceeds the pool at its maximum size",
			Columns: []string{"pool", "nodes", "ready", "min", "max", "zones", "zones_used", "allocatable_cpu", "capacity_at_max_cpu", "demand_cpu", "forecast_peak_cpu",
				"capacity_at_max_memory_gib", "demand_memory_gib", "forecast_peak_memory_gib", "runway", "runway_days", "runway_resource",
				"headroom", "headroom_now", "headroom_at_peak", "planned_nodes", "peak_nodes", "cost_now", "cost_planned", "cost_at_peak"}}
		for _, p := range r.Pools {
			runway := "beyond " + orDash(p.Horizon)
			if p.Runway != nil {
				runway = tsp(p.Runway)
			}
			pt.add(p.Name, itoa(p.Nodes), itoa(p.Ready), itoa(p.Min), itoa(p.Max), itoa(p.Zones), itoa(p.ZonesUsed), num(float64(p.AllocatableCPU)), num(float64(p.CapacityMaxCPU)),
				num(float64(p.DemandCPU)), num(float64(p.ForecastPeakCPU)), gib(float64(p.CapacityMaxMemory)), gib(float64(p.DemandMemory)), gib(float64(p.ForecastPeakMemory)),
				runway, num(float64(p.RunwayDays)), orDash(p.RunwayResource), p.Headroom, orDash(p.HeadroomNow), orDash(p.HeadroomAtPeak),
				itoa(p.PlannedNodes), itoa(p.PeakNodes), money(p.MonthlyCostNow), money(p.MonthlyCostPlan), money(p.MonthlyCostPeak))
		}
		keep(pt)
		qt := &Table{Name: TableQuotas, Title: "Resource quotas", Note: "one row per quota and resource; CPU in cores, memory in GiB; other: what the quota counts beyond the forecast workloads' pods, held constant; " +
			"demand: other plus the requests (or pods) of the replicas the workloads' usage needs at their utilization targets, within the plan's min and max; runway: first date the forecast demand at the planned quantile exceeds hard (limits are not forecast)",
			Columns: []string{"namespace", "quota", "resource", "used", "hard", "used_pct", "other", "demand_now", "forecast_peak", "runway", "runway_days", "scopes"}}
		for _, q := range r.Quotas {
			for _, x := range q.Resources {
				v := func(n Num) string {
					if x.Resource == metrics.QuotaRequestsMemory || x.Resource == metrics.QuotaLimitsMemory {
						return gib(float64(n))
					}
					return num(float64(n))
				}
				runway := "-"
				switch {
				case x.Runway != nil:
					runway = tsp(x.Runway)
				case !math.IsNaN(float64(x.ForecastPeak)):
					runway = "beyond " + orDash(q.Horizon)
				}
				qt.add(q.Namespace, q.Name, x.Resource, v(x.Used), v(x.Hard), pct(ratio(float64(x.Used), float64(x.Hard))), v(x.Other), v(x.DemandNow), v(x.ForecastPeak),
					runway, num(float64(x.RunwayDays)), orDash(strings.Join(q.Scopes, "; ")))
			}
		}
		keep(qt)
	}
	wn := &Table{Name: TableWarnings, Title: "Warnings", Columns: []string{"warning"}}
	for _, w := range r.Warnings {
		wn.add(w)
	}
	for _, p := range r.Pools {
		for _, w := range p.Warnings {
			wn.add(fmt.Sprintf("pool %s: %s", p.Name, w))
		}
	}
	for _, q := range r.Quotas {
		for _, w := range q.Warnings {
			wn.add(fmt.Sprintf("quota %s/%s: %s", q.Namespace, q.Name, w))
		}
	}
	for _, w := range r.Workloads {
		if w.Plan != nil {
			for _, x := range w.Plan.Warnings {
				wn.add(w.Target + ": " + x)
			}
		}
	}
	keep(wn)
	return out
}
