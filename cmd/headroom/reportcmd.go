package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/simulator"
)

func init() { commands = append(commands, newReportCmd) }

func newReportCmd() *cobra.Command {
	var (
		file, db, simFile, format, out, now, title string
		horizon, history, runway                   string
		backtest, maxCharts                        int
	)
	cmd := &cobra.Command{
		Use:   "report --config FILE [--store DB | --simulation RESULT.json] --format html|md|json|csv --out FILE",
		Short: "Write a capacity-review report from the store or a simulation result",
		Long: `Writes a capacity review: findings ordered by severity (single points of
failure, workloads without requests, stale or missing metrics, short pool or
quota runway, plans a quota would refuse, unreliable forecasts, headroom
that does not hold, version skew, budget),
a summary of the cluster (nodes by pool and zone, readiness, kubelet
versions against the control plane, requested vs used vs allocatable, cost
against the budget), each workload (usage history with its forecast and
quantile band, planned replicas, headroom, backtest accuracy, rightsizing,
the last decisions), each node pool (capacity against forecast demand,
runway, n+1 / zone headroom now and at the forecast peak, cost) and each
namespace ResourceQuota (used and hard; the runway of requests.cpu,
requests.memory and pods against the namespace's forecast demand; planned
scale-ups the quota would refuse).

From --store (with --config): the store's history, decision log and newest
inventory snapshot; forecasts, decisions and pool checks come from the same
forecast and policy code as headroom plan. From --simulation (a
headroom simulate -o json result): the policies side by side, demand against
capacity per policy, and each workload and pool under each policy.

Formats: html (one self-contained file: inline SVG charts, sortable tables,
nothing loaded from the network; prints cleanly), md, json (with
schemaVersion), csv (one file per table in the folder --out, NAME.csv).
--format defaults to the extension of --out (html for a folder-less name).
The report reads no clock but --now (default: now, or SOURCE_DATE_EPOCH when
set), so the same inputs give the same bytes.`,
		Example: `  headroom simulate --config testdata/plans/example.yaml -o json > sim.json
  headroom report --simulation sim.json --out review.html
  headroom report --config plan.yaml --store headroom.db --format md --out review.md
  headroom report --config plan.yaml --store headroom.db --format csv --out review-tables/`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("report: --out is required")
			}
			if format == "" {
				format = formatOf(out)
			}
			if !slices.Contains(report.Formats, format) {
				return usagef("report: --format %q: unknown format (choose %s)", format, strings.Join(report.Formats, ", "))
			}
			if (db == "") == (simFile == "") {
				return usagef("report: give exactly one of --store and --simulation")
			}
			opt := report.Options{Title: title, Backtest: backtest, MaxCharts: maxCharts}
			var err error
			if opt.Now, err = reportNow(now); err != nil {
				return err
			}
			for _, d := range []struct {
				flag string
				val  string
				dst  *time.Duration
			}{{"horizon", horizon, &opt.Horizon}, {"history", history, &opt.History}, {"runway-warn", runway, &opt.RunwayWarn}} {
				if d.val == "" {
					continue
				}
				v, err := config.ParseDuration(d.val)
				if err != nil || v <= 0 {
					return usagef("report: --%s %q: want a positive duration such as 30d", d.flag, d.val)
				}
				*d.dst = v
			}
			var plan *config.Plan
			if file != "" {
				if plan, err = config.LoadFile(file); err != nil {
					if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
						return &usageError{err}
					}
					return err
				}
			}
			var r *report.Report
			if simFile != "" {
				res, err := report.LoadSimulation(simFile)
				if err != nil {
					return reportInputError(err)
				}
				if r, err = report.FromSimulation(res, opt); err != nil {
					return reportInputError(err)
				}
			} else {
				if plan == nil {
					return usagef("report: --store needs --config (the plan's pools, targets and budget)")
				}
				if _, err := os.Stat(db); err != nil {
					return &usageError{fmt.Errorf("report: --store: %w", err)}
				}
				st, err := store.Open(db, &store.Options{ReadOnly: true})
				if err != nil {
					return err
				}
				defer st.Close()
				d, err := report.Load(cmd.Context(), st, plan, opt)
				if err != nil {
					return reportInputError(err)
				}
				if r, err = report.Build(plan, d, opt); err != nil {
					return reportInputError(err)
				}
			}
			if err := writeReport(r, format, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "report: %d findings (%s) written to %s\n", len(r.Findings), severityCounts(r), out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "config", "", "plan file (CapacityPlan YAML); required with --store")
	fl.StringVar(&db, "store", "", "history store (SQLite) written by headroom collect / run")
	fl.StringVar(&simFile, "simulation", "", "simulation result (headroom simulate -o json)")
	fl.StringVar(&format, "format", "", "html, md, json or csv (default: from --out's extension, else html)")
	fl.StringVar(&out, "out", "", "output file (csv: a folder, one NAME.csv per table)")
	fl.StringVar(&now, "now", "", "the report's time, RFC 3339 (default: now, or SOURCE_DATE_EPOCH)")
	fl.StringVar(&title, "title", "", "title (default: Capacity review: PLAN)")
	fl.StringVar(&horizon, "horizon", "", "forecast horizon for runway and peaks (default 30d)")
	fl.StringVar(&history, "history", "", "history read from the store (default 28d)")
	fl.StringVar(&runway, "runway-warn", "", "runway below which a pool or a quota gets a finding (default 30d)")
	fl.IntVar(&backtest, "backtest", 0, "rolling-origin backtest origins per workload (default 4, -1: none)")
	fl.IntVar(&maxCharts, "max-charts", 0, "per-workload charts, largest workloads first (default 100, -1: none)")
	return cmd
}

func reportInputError(err error) error {
	if errors.Is(err, report.ErrInvalid) || errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
		return &usageError{err}
	}
	return err
}

// formatOf guesses the format from a file name: .md, .json, .csv or a
// name ending in a slash; html otherwise.
func formatOf(out string) string {
	switch {
	case strings.HasSuffix(out, "/"), strings.EqualFold(filepath.Ext(out), ".csv"):
		return "csv"
	case strings.EqualFold(filepath.Ext(out), ".md"):
		return "md"
	case strings.EqualFold(filepath.Ext(out), ".json"):
		return "json"
	}
	return "html"
}

// reportNow is --now, else SOURCE_DATE_EPOCH (reproducible builds), else
// the clock: the one place the report's time is read.
func reportNow(flag string) (time.Time, error) {
	if flag != "" {
		t, err := time.Parse(time.RFC3339, flag)
		if err != nil {
			return time.Time{}, usagef("--now %q: want RFC 3339 (2026-03-01T09:00:00Z)", flag)
		}
		return t, nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, usagef("SOURCE_DATE_EPOCH %q: want Unix seconds", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC(), nil
}

// writeReport renders r in format to out (a folder for csv), writing each
// file whole through a temporary file and a rename.
func writeReport(r *report.Report, format, out string) error {
	if format == "csv" {
		_, err := r.WriteCSVDir(out)
		return err
	}
	var b bytes.Buffer
	var err error
	switch format {
	case "html":
		err = r.WriteHTML(&b)
	case "md":
		err = r.WriteMarkdown(&b)
	case "json":
		err = r.WriteJSON(&b)
	}
	if err != nil {
		return err
	}
	return writeFileAtomic(out, b.Bytes())
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func severityCounts(r *report.Report) string {
	n := map[report.Severity]int{}
	for _, f := range r.Findings {
		n[f.Severity]++
	}
	return fmt.Sprintf("%d critical, %d warning, %d info", n[report.Critical], n[report.Warning], n[report.Info])
}

// writeSimReport writes the report of a simulation (headroom simulate --report).
func writeSimReport(res *simulator.Result, out string) error {
	now, err := reportNow("")
	if err != nil {
		return err
	}
	r, err := report.FromSimulation(res, report.Options{Now: now})
	if err != nil {
		return err
	}
	return writeReport(r, formatOf(out), out)
}
