package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/metrics/prom"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/metrics/tracefile"
)

func init() { commands = append(commands, newCollectCmd) }

// DefaultStore is the store path when neither the plan nor --store names one.
const defaultStore = "headroom.db"

type collectFlags struct {
	config, source, storePath, promURL, poolLabel, kubeconfig, kubeContext, out string
	traces, namespaces                                                          []string
	workload                                                                    string
	retries                                                                     int
	backfill, step, timeout, retention                                          time.Duration
	// stepSet and timeoutSet say that --step and --timeout were given, so they override the plan.
	stepSet, timeoutSet bool
}

func newCollectCmd() *cobra.Command {
	var f collectFlags
	cmd := &cobra.Command{
		Use:   "collect [--config FILE] [--source metrics-server|prometheus|trace] [--store DB]",
		Short: "Pull usage once from the configured source into the history store",
		Long: `Reads usage from one source and writes it to the SQLite history store in one
transaction, then rolls samples past the raw retention (8 days) into hourly
aggregates (not after a trace collection: recorded traces are stored raw). Prints what it stored: workloads, series, samples and, for
metrics-server, how many pods of each workload reported usage. A metrics-server
collection also stores an inventory snapshot (in the same transaction): the
nodes, each workload's pods, Ready and Pending pods, per-replica requests and
pods per node, and the namespaces' ResourceQuotas (hard and used). On a terminal, a progress bar follows the collection (per
namespace for metrics-server, per request for Prometheus); otherwise stderr
stays quiet.

Sources:
  metrics-server  the present usage of every pod (metrics.k8s.io), summed per
                  workload, the requests of each workload's pod template, and
                  the node inventory per node pool
  prometheus      cAdvisor usage per workload over a time range: on the first
                  run the last --backfill, afterwards since the last collection
  trace           CSV trace files (--trace FILE, or the plan's workload traces)

Values from --config are overridden by flags: spec.history source, store,
retention ({raw, hourly}, or one duration: hourly, with raw the lesser of it
and 8 days), namespaces (default: the workloads' namespaces), nodePoolLabel,
prometheus {url, timeout, step, queries {cpu, memory}}; the workloads'
query {cpu, memory} overrides and traces. A source that cannot be reached
exits with code 1 and leaves the store as it was.`,
		Example: `  headroom collect --config plan.yaml
  headroom collect --source prometheus --prometheus-url http://127.0.0.1:9090 --store h.db --backfill 30d
  headroom collect --source metrics-server --namespace shop --store h.db -o json
  headroom collect --source trace --trace testdata/traces/nab-realKnownCause-nyc_taxi.csv --store h.db`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.stepSet, f.timeoutSet = cmd.Flags().Changed("step"), cmd.Flags().Changed("timeout")
			return runCollect(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "plan file (CapacityPlan YAML)")
	fl.StringVar(&f.source, "source", "", "metrics-server, prometheus or trace (default: the plan's, else metrics-server)")
	fl.StringVar(&f.storePath, "store", "", "SQLite store path (default: the plan's spec.history.store, else "+defaultStore+")")
	fl.StringVar(&f.promURL, "prometheus-url", "", "Prometheus base URL (prometheus source)")
	fl.StringSliceVar(&f.namespaces, "namespace", nil, "namespaces to collect (repeatable; default: the plan's workloads' namespaces, else all)")
	fl.StringVar(&f.poolLabel, "pool-label", "", "node label naming the node pool, tried before the GKE, Karpenter and EKS labels")
	fl.StringSliceVar(&f.traces, "trace", nil, "trace file (trace source; repeatable)")
	fl.StringVar(&f.workload, "workload", "", "Kind/namespace/name the --trace files belong to (default: Trace/<file name>)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.DurationVar(&f.backfill, "backfill", 30*24*time.Hour, "prometheus: history to pull on the first run")
	fl.DurationVar(&f.step, "step", time.Minute, "prometheus: query step (default: the plan's spec.history.prometheus.step, else 1m)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of each request to the source (default: for prometheus the plan's spec.history.prometheus.timeout, else 30s)")
	fl.IntVar(&f.retries, "retries", 4, "prometheus: retries of a request after a server or network error, with backoff from 1s")
	fl.DurationVar(&f.retention, "retention", 0, "keep hourly aggregates this long (default: the plan's spec.history.retention, else 400 days)")
	fl.StringVarP(&f.out, "output", "o", "table", "output format: table or json")
	return cmd
}

// collectSetup is the resolved configuration of one collect.
type collectSetup struct {
	source    metrics.Source
	storePath string
	retention store.Retention
	backfill  time.Duration
	step      time.Duration
	// promOptions and kubeOptions are the options the source was built with (for the prometheus and
	// metrics-server sources).
	promOptions *prom.Options
	kubeOptions *kube.Options
	// progress relays the source's progress to a bar when runCollect sets one up (stderr is a terminal).
	progress progressRelay
}

// progressRelay forwards a source's reports to fn, when set.
type progressRelay struct{ fn metrics.Progress }

func (r *progressRelay) report(done, total int, what string) {
	if r.fn != nil {
		r.fn(done, total, what)
	}
}

func setupCollect(f *collectFlags) (*collectSetup, error) {
	if f.out != "table" && f.out != "json" {
		return nil, usagef("collect: -o %q: unknown output format (choose table, json)", f.out)
	}
	if f.step <= 0 || f.backfill <= 0 || f.timeout <= 0 || f.retention < 0 {
		return nil, usagef("collect: --step, --backfill and --timeout must be positive")
	}
	cs := &collectSetup{storePath: f.storePath, backfill: f.backfill, step: f.step}
	source := f.source
	namespaces := f.namespaces
	promURL, poolLabel, timeout := f.promURL, f.poolLabel, f.timeout
	var promCPU, promMemory string
	var promWorkloads []prom.WorkloadQuery
	var planTraces []*tracefile.Source
	if f.config != "" {
		p, err := config.LoadFile(f.config)
		if err != nil {
			if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
				return nil, &usageError{err}
			}
			return nil, err
		}
		h := p.Spec.History
		if source == "" {
			source = h.Source
		}
		if cs.storePath == "" {
			cs.storePath = h.Store
		}
		if f.retention == 0 && h.Retention != nil && h.Retention.Raw != nil && h.Retention.Hourly != nil {
			cs.retention = store.Retention{Raw: h.Retention.Raw.Duration, Hourly: h.Retention.Hourly.Duration}
		}
		if len(namespaces) == 0 {
			namespaces = append(namespaces, h.Namespaces...)
		}
		planNamespaces := len(namespaces) > 0
		if poolLabel == "" {
			poolLabel = h.NodePoolLabel
		}
		if pr := h.Prometheus; pr != nil {
			if promURL == "" {
				promURL = pr.URL
			}
			if !f.stepSet && pr.Step != nil {
				cs.step = pr.Step.Duration
			}
			if !f.timeoutSet && pr.Timeout != nil && source == "prometheus" {
				timeout = pr.Timeout.Duration
			}
			if pr.Queries != nil {
				promCPU, promMemory = pr.Queries.CPU, pr.Queries.Memory
			}
		}
		dir := filepath.Dir(f.config)
		seen := map[string]bool{}
		for _, w := range p.Spec.Workloads {
			wl := metrics.Workload{Kind: w.Target.Kind, Namespace: w.Target.Namespace, Name: w.Target.Name}
			if !planNamespaces && wl.Namespace != "" && !seen[wl.Namespace] {
				seen[wl.Namespace] = true
				namespaces = append(namespaces, wl.Namespace)
			}
			if q := w.Query; q != nil {
				if q.CPU != "" {
					promWorkloads = append(promWorkloads, prom.WorkloadQuery{Workload: wl, Resource: metrics.CPU, Query: q.CPU})
				}
				if q.Memory != "" {
					promWorkloads = append(promWorkloads, prom.WorkloadQuery{Workload: wl, Resource: metrics.Memory, Query: q.Memory})
				}
			}
			if w.Trace == nil {
				continue
			}
			path := w.Trace.File
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			ts := &tracefile.Source{Path: path, Workload: wl}
			cpu := tracefile.Column{Name: w.Trace.Column, Resource: metrics.CPU, Scale: 1}
			if w.Trace.Scale != nil {
				cpu.Scale = *w.Trace.Scale
			}
			if cpu.Name == "" {
				cpu.Name = firstColumn(path)
			}
			ts.Columns = append(ts.Columns, cpu)
			if w.Trace.MemoryColumn != "" {
				mem := tracefile.Column{Name: w.Trace.MemoryColumn, Resource: metrics.Memory, Scale: 1}
				if w.Trace.MemoryScale != nil {
					mem.Scale = *w.Trace.MemoryScale
				}
				ts.Columns = append(ts.Columns, mem)
			}
			planTraces = append(planTraces, ts)
		}
	}
	if cs.storePath == "" {
		cs.storePath = defaultStore
	}
	if f.retention > 0 {
		cs.retention = store.Retention{Raw: min(store.DefaultRaw, f.retention), Hourly: f.retention}
	}
	if source == "" {
		source = "metrics-server"
	}
	switch source {
	case "prometheus":
		if promURL == "" {
			return nil, usagef("collect: the prometheus source needs --prometheus-url or the plan's spec.history.prometheus.url")
		}
		retries := f.retries
		if retries <= 0 {
			retries = -1 // prom.Options: 0 is the default, negative is none
		}
		po := prom.Options{URL: promURL, Namespaces: namespaces, CPU: promCPU, Memory: promMemory, Workloads: promWorkloads, Progress: cs.progress.report,
			Timeout: timeout, Retries: retries}
		ps, err := prom.New(po)
		if err != nil {
			return nil, &usageError{err}
		}
		cs.source, cs.promOptions = ps, &po
	case "metrics-server":
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = f.kubeconfig
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.kubeContext}).ClientConfig()
		if err != nil {
			return nil, &usageError{fmt.Errorf("collect: kubeconfig: %w", err)}
		}
		cfg.Timeout = timeout
		kc, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, &usageError{fmt.Errorf("collect: %w", err)}
		}
		mc, err := metricsclient.NewForConfig(cfg)
		if err != nil {
			return nil, &usageError{fmt.Errorf("collect: %w", err)}
		}
		ko := kube.Options{Namespaces: namespaces, PoolLabel: poolLabel, Progress: cs.progress.report}
		cs.source, cs.kubeOptions = kube.New(kc, mc, ko), &ko
	case "trace":
		var srcs []*tracefile.Source
		var wl metrics.Workload
		if f.workload != "" {
			var err error
			if wl, err = metrics.ParseWorkload(f.workload); err != nil {
				return nil, &usageError{fmt.Errorf("collect: --workload: %w", err)}
			}
		}
		for _, t := range f.traces {
			srcs = append(srcs, &tracefile.Source{Path: t, Workload: wl})
		}
		if len(f.traces) == 0 {
			srcs = planTraces
		}
		if len(srcs) == 0 {
			return nil, usagef("collect: the trace source needs --trace FILE or a plan whose workloads have traces")
		}
		cs.source = traceSources(srcs)
	default:
		return nil, usagef("collect: --source %q: unknown source (choose metrics-server, prometheus, trace)", source)
	}
	return cs, nil
}

// firstColumn returns the header's first value column, "" when it cannot tell (the reader then errs).
func firstColumn(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "\ufeff")), ",")
	if len(f) < 2 {
		return ""
	}
	return strings.Trim(strings.TrimSpace(f[1]), `"`)
}

// traceSources collects several trace files as one batch, so they are written in one transaction.
type traceSources []*tracefile.Source

func (ts traceSources) Name() string { return "trace" }

func (ts traceSources) Collect(ctx context.Context, w metrics.Window) (*metrics.Batch, error) {
	all := &metrics.Batch{Source: "trace", Window: w}
	for _, s := range ts {
		b, err := s.Collect(ctx, w)
		if err != nil {
			return nil, err
		}
		if all.Window.Start.IsZero() || b.Window.Start.Before(all.Window.Start) {
			all.Window.Start = b.Window.Start
		}
		if b.Window.End.After(all.Window.End) {
			all.Window.End = b.Window.End
		}
		all.Series = append(all.Series, b.Series...)
		all.Warnings = append(all.Warnings, b.Warnings...)
	}
	return all, nil
}

func runCollect(cmd *cobra.Command, f *collectFlags) error {
	cs, err := setupCollect(f)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	now := time.Now().UTC() // the one clock read of this command
	progress := progressWriter(cmd.ErrOrStderr())

	// The window comes from the store's collection log; a missing store is not created until there is
	// something to write, so a failed first collection leaves no file behind.
	var w metrics.Window
	var last time.Time
	if _, err := os.Stat(cs.storePath); err == nil {
		st, err := store.Open(cs.storePath, &store.Options{ReadOnly: true})
		if err != nil && !errors.Is(err, store.ErrOlderSchema) {
			return err
		}
		if err == nil {
			c, ok, err := st.LastCollection(ctx, cs.source.Name())
			st.Close()
			if err != nil {
				return err
			}
			if ok {
				last = c.Window.End
			}
		}
	}
	switch cs.source.Name() {
	case "prometheus":
		w = metrics.NextWindow(last, now, cs.backfill, cs.step)
	case "metrics-server":
		w = metrics.Window{Start: now, End: now}
	}
	fmt.Fprintf(progress, "collecting from %s…\n", cs.source.Name())
	start := time.Now()
	var bar *progressbar.ProgressBar
	if progress != io.Discard {
		cs.progress.fn = func(done, total int, what string) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(progress), progressbar.OptionSetWidth(30),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(false),
					progressbar.OptionSetRenderBlankState(true), progressbar.OptionSetDescription(cs.source.Name()+": "+what))
			}
			if bar.GetMax() != total {
				bar.ChangeMax(total)
			}
			bar.Describe(cs.source.Name() + ": " + what)
			bar.Set(done)
		}
	}
	b, err := cs.source.Collect(ctx, w)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("collect from %s: %w (the store was not changed)", cs.source.Name(), err)
	}
	fmt.Fprintf(progress, "collected %d samples in %v; writing to %s…\n", b.Samples(), time.Since(start).Round(time.Millisecond), cs.storePath)
	st, err := store.Open(cs.storePath, &store.Options{Retention: cs.retention})
	if err != nil {
		return err
	}
	defer st.Close()
	ws, err := st.Write(ctx, b, now)
	if err != nil {
		return err
	}
	// Retention counts back from now. Recorded traces (often years old, and of different eras) are stored
	// raw and not compacted here: retention applies to them from the next live collection on.
	var comp store.CompactStats
	if cs.source.Name() != "trace" {
		if comp, err = st.Compact(ctx, now); err != nil {
			return err
		}
	}
	return printCollect(cmd.OutOrStdout(), f.out, cs, b, ws, comp)
}

// progressWriter is stderr when it is a terminal, else a sink: progress is for people watching.
func progressWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return w
		}
	}
	return io.Discard
}

type collectJSON struct {
	Source      string         `json:"source"`
	Store       string         `json:"store"`
	Start       string         `json:"start"`
	End         string         `json:"end"`
	StepSeconds float64        `json:"step_seconds,omitempty"`
	Workloads   []workloadJSON `json:"workloads"`
	Series      int            `json:"series"`
	Samples     int            `json:"samples"`
	Skipped     int            `json:"skipped,omitempty"`
	Compacted   struct {
		Hours      int `json:"hours"`
		RawDeleted int `json:"raw_deleted"`
		Merged     int `json:"late_merged"`  // late samples merged into hours already aggregated
		Skipped    int `json:"late_skipped"` // samples of minutes an aggregated hour had counted already
	} `json:"compacted"`
	Nodes               []metrics.Node          `json:"nodes,omitempty"`
	Quotas              []metrics.ResourceQuota `json:"resource_quotas,omitempty"`
	ControlPlaneVersion string                  `json:"control_plane_version,omitempty"`
	Warnings            []string                `json:"warnings"`
}

type workloadJSON struct {
	Workload    string `json:"workload"`
	Series      int    `json:"series"`
	Samples     int    `json:"samples"`
	Pods        *int   `json:"pods,omitempty"`
	WithMetrics *int   `json:"pods_with_metrics,omitempty"`
}

func printCollect(w io.Writer, format string, cs *collectSetup, b *metrics.Batch, ws store.WriteStats, comp store.CompactStats) error {
	doc := collectJSON{Source: b.Source, Store: cs.storePath, Series: ws.Series, Samples: ws.Samples, Skipped: ws.Skipped,
		Nodes: b.Nodes, Quotas: b.Quotas, ControlPlaneVersion: b.ControlPlaneVersion, Warnings: b.Warnings}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	if !b.Window.Start.IsZero() {
		doc.Start, doc.End = b.Window.Start.Format(time.RFC3339), b.Window.End.Format(time.RFC3339)
	}
	doc.StepSeconds = b.Window.Step.Seconds()
	doc.Compacted.Hours, doc.Compacted.RawDeleted = comp.Hours, comp.RawDeleted
	doc.Compacted.Merged, doc.Compacted.Skipped = comp.Merged, comp.Skipped
	byWL := map[string]*workloadJSON{}
	for _, s := range b.Series {
		k := s.Key.Workload.String()
		wj := byWL[k]
		if wj == nil {
			wj = &workloadJSON{Workload: k}
			byWL[k] = wj
		}
		if len(s.Points) > 0 {
			wj.Series++
			wj.Samples += len(s.Points)
		}
	}
	for _, c := range b.Coverage {
		if wj := byWL[c.Workload.String()]; wj != nil {
			p, m := c.Pods, c.WithMetrics
			wj.Pods, wj.WithMetrics = &p, &m
		}
	}
	names := make([]string, 0, len(byWL))
	for k := range byWL {
		names = append(names, k)
	}
	sort.Strings(names)
	doc.Workloads = []workloadJSON{}
	for _, k := range names {
		doc.Workloads = append(doc.Workloads, *byWL[k])
	}
	if format == "json" {
		return writeJSON(w, doc)
	}
	win := "-"
	if doc.Start != "" {
		win = doc.Start + " to " + doc.End
		if doc.StepSeconds > 0 {
			win += " every " + b.Window.Step.String()
		}
	}
	fmt.Fprintf(w, "source %s into %s; window %s\n", doc.Source, doc.Store, win)
	fmt.Fprintf(w, "stored %d workloads, %d series, %d samples", len(doc.Workloads), doc.Series, doc.Samples)
	if comp.Hours > 0 {
		fmt.Fprintf(w, "; rolled %d raw samples into %d hourly aggregates", comp.RawDeleted, comp.Hours)
	}
	if comp.Merged > 0 {
		fmt.Fprintf(w, "; merged %d late samples into hours already aggregated", comp.Merged)
	}
	fmt.Fprintln(w)
	if doc.ControlPlaneVersion != "" {
		fmt.Fprintf(w, "control plane %s, %d nodes", doc.ControlPlaneVersion, len(doc.Nodes))
		if b.QuotasRead {
			fmt.Fprintf(w, ", %d resource quotas", len(b.Quotas))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	t := &table{header: []string{"WORKLOAD", "SERIES", "SAMPLES", "COVERAGE"}}
	for _, wj := range doc.Workloads {
		cov := "-"
		if wj.Pods != nil {
			cov = fmt.Sprintf("%d/%d pods", *wj.WithMetrics, *wj.Pods)
		}
		t.add(wj.Workload, strconv.Itoa(wj.Series), strconv.Itoa(wj.Samples), cov)
	}
	if err := t.write(w, "table"); err != nil {
		return err
	}
	for _, wn := range doc.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	return nil
}
