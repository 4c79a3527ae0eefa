package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/simulator"
)

func init() { commands = append(commands, newSimulateCmd) }

func newSimulateCmd() *cobra.Command {
	var (
		file, out, scenario, policies string
		reportOut                     string
		traces                        []string
		refit, reselect               time.Duration
		seed                          uint64
	)
	cmd := &cobra.Command{
		Use:   "simulate --config FILE [--trace [WORKLOAD=]FILE]... [--policy predictive,reactive,static,scheduled] [--scenario FILE] [--report OUT.html]",
		Short: "Replay traces in virtual time under each policy and compare cost, unmet demand and waste",
		Long: `Replays each workload's trace in virtual time (15 s ticks; a month takes
seconds) on a simulated cluster: pods ready after the workload's lead time,
nodes after the pool's, pods packed onto nodes by the policy package's packer,
pods that fit nowhere pending. Policies, side by side:

  predictive  headroom: forecasts (refit every --refit on the history so far,
              each series' model reselected every --reselect) and
              policy.Replicas on the plan's interval, pools sized ahead
  reactive    the HPA on CPU utilization (default behavior, 15 s sync) and a
              node autoscaler that adds nodes for pending pods
  static      replicas and nodes for the run's peak demand (hindsight)
  scheduled   the plan's minimums and scheduled windows only

Capacity is ready replicas × request × utilization target; demand above it
is unmet, below it waste. Costs count every node from its creation. Traces
from different periods are aligned by whole weeks to end with the first
workload's. --trace replaces a workload's trace: WORKLOAD=FILE names it
(name, namespace/name or kind/namespace/name); a bare FILE replaces the plan
trace of the same base name.`,
		Example: `  headroom simulate --config testdata/plans/example.yaml
  headroom simulate --config testdata/plans/example.yaml --scenario testdata/scenarios/zone-loss.yaml -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out != "table" && out != "json" {
				return usagef("simulate: -o %q: unknown output format (choose table, json)", out)
			}
			if file == "" {
				return usagef("simulate: --config is required")
			}
			var names []string
			for _, n := range strings.Split(policies, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
			if len(names) == 0 {
				return usagef("simulate: --policy lists no policy")
			}
			for _, n := range names {
				if !slices.Contains(simulator.PolicyNames, n) {
					return usagef("simulate: --policy %q: unknown policy (choose from %s)", n, strings.Join(simulator.PolicyNames, ", "))
				}
			}
			if refit < 0 {
				return usagef("simulate: --refit must be positive")
			}
			if reselect < 0 {
				return usagef("simulate: --reselect must be positive")
			}
			p, err := config.LoadFile(file)
			if err != nil {
				if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
					return &usageError{err}
				}
				return err
			}
			var overrides []simulator.TraceOverride
			for _, t := range traces {
				o := simulator.TraceOverride{File: t}
				if w, f, ok := strings.Cut(t, "="); ok {
					o = simulator.TraceOverride{Workload: w, File: f}
				}
				overrides = append(overrides, o)
			}
			in, err := simulator.FromPlan(p, overrides)
			if err != nil {
				return inputError(err)
			}
			opt := simulator.Options{Policies: names, Refit: refit, Reselect: reselect, Seed: seed}
			if scenario != "" {
				sc, err := simulator.LoadScenario(scenario)
				if err != nil {
					return inputError(err)
				}
				opt.Scenario = sc
			}
			res, err := simulator.Run(cmd.Context(), in, opt)
			if err != nil {
				return inputError(err)
			}
			if reportOut != "" {
				if err := writeSimReport(res, reportOut); err != nil {
					return err
				}
			}
			if out == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return writeSimTable(cmd.OutOrStdout(), res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "config", "", "plan file (CapacityPlan YAML)")
	fl.StringArrayVar(&traces, "trace", nil, "trace replacing a workload's: [WORKLOAD=]FILE (repeatable)")
	fl.StringVar(&policies, "policy", strings.Join(simulator.PolicyNames, ","), "policies to compare, comma-separated")
	fl.StringVar(&scenario, "scenario", "", "scenario file (kind: Scenario): growth, spikes, prices, machines, failures")
	fl.DurationVar(&refit, "refit", 0, "how often the predictive policy refits its forecasts (default: the scenario's, else 1h)")
	fl.DurationVar(&reselect, "reselect", 0, "how often the predictive policy selects each series' model anew (default: the scenario's, else 24h; sooner while the history doubles)")
	fl.Uint64Var(&seed, "seed", 0, "seed of the budget band's resampling (default: the scenario's, else 1)")
	fl.StringVarP(&out, "output", "o", "table", "output format: table or json (with the time series)")
	fl.StringVar(&reportOut, "report", "", "also write a capacity-review report of the run (format from the extension: .html, .md, .json; a folder/ for csv)")
	return cmd
}

// inputError makes errors about the inputs usage errors (exit code 2).
func inputError(err error) error {
	if errors.Is(err, simulator.ErrInvalid) || errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
		return &usageError{err}
	}
	return err
}

func writeSimTable(w io.Writer, r *simulator.Result) error {
	span := r.End.Sub(r.Start)
	fmt.Fprintf(w, "plan %s", r.Plan)
	if r.Scenario != "" {
		fmt.Fprintf(w, ", scenario %s", r.Scenario)
	}
	fmt.Fprintf(w, ": %s to %s (%.1f days), planner every %s, forecasts refit every %s, models reselected every %s\n\n",
		r.Start.UTC().Format("2006-01-02T15:04Z"), r.End.UTC().Format("2006-01-02T15:04Z"), span.Hours()/24,
		time.Duration(r.IntervalSeconds*float64(time.Second)), time.Duration(r.RefitSeconds*float64(time.Second)),
		time.Duration(r.ReselectSeconds*float64(time.Second)))
	mem := len(r.Series.DemandMemory) > 0 // some trace has memory demand
	t := &table{header: []string{"POLICY", "COST", "COST/MONTH", "NODE_HOURS", "UNMET_CORE_MIN", "TIME_SHORT", "WASTE_CORE_H", "P95_UTIL", "ACTIONS", "WORST_SHORTFALL"}}
	if mem {
		t.header = slices.Insert(t.header, 5, "UNMET_MEM_GIB_MIN")
	}
	for _, p := range r.Policies {
		worst := "-"
		if p.WorstShortfallAt != nil {
			worst = fmt.Sprintf("%s cores at %s", fmtNum(p.WorstShortfallCores), p.WorstShortfallAt.UTC().Format("2006-01-02T15:04Z"))
		}
		row := []string{p.Name, fmt.Sprintf("%.2f", p.Cost), fmt.Sprintf("%.2f", p.MonthlyCost), fmtNum(p.NodeHours), fmtNum(p.UnmetCoreMinutes),
			fmt.Sprintf("%.1f%%", 100*p.TimeShort), fmtNum(p.WasteCoreHours), fmt.Sprintf("%.0f%%", 100*p.P95Utilization), fmt.Sprint(p.Actions), worst}
		if mem {
			row = slices.Insert(row, 5, fmtNum(p.UnmetMemoryGiBMinutes))
		}
		t.add(row...)
	}
	if err := t.write(w, "table"); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmonthly cost (p10 / p50 / p90 from resampling the forecasts' day-ahead errors, seed %d)", r.Seed)
	if r.MonthlyBudget > 0 {
		fmt.Fprintf(w, " against a budget of %.2f", r.MonthlyBudget)
	}
	fmt.Fprintln(w, ":")
	bt := &table{header: []string{"POLICY", "P10", "P50", "P90", "DAYS", "BUDGET"}}
	for _, p := range r.Policies {
		b := p.Budget
		if b == nil {
			continue
		}
		verdict := "-"
		if b.Monthly > 0 {
			verdict = "within"
			if b.OverP90 {
				verdict = "OVER at p90"
			}
		}
		bt.add(p.Name, fmt.Sprintf("%.2f", b.P10), fmt.Sprintf("%.2f", b.P50), fmt.Sprintf("%.2f", b.P90), fmt.Sprint(b.Days), verdict)
	}
	if err := bt.write(w, "table"); err != nil {
		return err
	}
	ft := &table{header: []string{"POLICY", "FAILURE", "AT", "RECOVERY", "UNMET_CORE_MIN"}}
	for _, p := range r.Policies {
		for _, f := range p.Failures {
			rec := "not within the run"
			if f.RecoverySeconds >= 0 {
				rec = (time.Duration(f.RecoverySeconds) * time.Second).String()
			}
			ft.add(p.Name, f.What, f.At.UTC().Format("2006-01-02T15:04Z"), rec, fmtNum(f.UnmetCoreMinutes))
		}
	}
	if len(ft.rows) > 0 {
		fmt.Fprintln(w, "\nfailures (recovered: no pod pending and every pool back at its size; unmet demand until then):")
		if err := ft.write(w, "table"); err != nil {
			return err
		}
	}
	wt := &table{header: []string{"POLICY", "TARGET", "UNMET_CORE_MIN", "TIME_SHORT", "WASTE_CORE_H", "PEAK_REPLICAS", "ACTIONS"}}
	for _, p := range r.Policies {
		for _, x := range p.Workloads {
			wt.add(p.Name, x.Target, fmtNum(x.UnmetCoreMinutes), fmt.Sprintf("%.1f%%", 100*x.TimeShort), fmtNum(x.WasteCoreHours), fmt.Sprint(x.PeakReplicas), fmt.Sprint(x.Actions))
		}
	}
	fmt.Fprintln(w, "\nper workload:")
	return wt.write(w, "table")
}
