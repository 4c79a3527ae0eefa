package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/spf13/cobra"
	container "google.golang.org/api/container/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/clientcmd"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/clock"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/runner"
)

func init() { commands = append(commands, newRunCmd) }

// runFlags are the flags shared by headroom run and headroom serve.
type runFlags struct {
	config, kubeconfig, kubeContext, storePath, shard, holder, logLevel, out string
	shards, parallel                                                         int
	qps                                                                      float32
	dryRun                                                                   bool
	timeout                                                                  time.Duration
}

func (f *runFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "plan file (CapacityPlan YAML)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.StringVar(&f.storePath, "store", "", "SQLite store path (default: the plan's spec.history.store, else "+defaultStore+")")
	fl.StringVar(&f.shard, "shard", "", "handle shard i/N of the workloads (default: JOB_COMPLETION_INDEX of --shards, else all)")
	fl.IntVar(&f.shards, "shards", 0, "shard count N when the index comes from JOB_COMPLETION_INDEX (an Indexed Job); default $HEADROOM_SHARDS")
	fl.StringVar(&f.holder, "holder", "", "lease holder identity (default: $POD_NAME, else the host name)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "send every change with dryRun=All (validated by the API server, not persisted); no decision-log rows")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warning or error")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of each request to the API server and the metrics source")
	fl.IntVar(&f.parallel, "parallel", 8, "changes applied at a time")
	fl.Float32Var(&f.qps, "qps", 50, "API requests per second to the API server (burst: twice as many)")
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run --config FILE [--dry-run] [--shard i/N]",
		Short: "One cycle: collect, plan, apply, record (the CronJob's command)",
		Long: `Runs one cycle of the plan against the cluster:

  1. takes the plan's Lease (spec.run.lease; "<name>-<i>" for shard i), or
     exits 0 at once when another run holds it;
  2. checks whether the previous runs' changes converged (Ready pods);
  3. collects once from the plan's source (metrics-server or Prometheus)
     into the store;
  4. plans every target of this shard from the store, with the same
     forecast and policy code as headroom plan;
  5. applies the decisions through the /scale subresource (or the HPA's
     minReplicas in hpa-floor mode), writing only what changed, with an
     Event and an annotation on each target;
  6. records every decision in the store's decision log, and pushes the
     run's metrics to the plan's Pushgateway (spec.run.pushgateway).

Safety: only targets named in the plan are touched; metrics older than
spec.history.maxAge hold the target; a change never exceeds the plan's
bounds and behavior limits in one run; nothing scales to zero unless the
plan's minimum is 0; a second run with the same inputs changes nothing.

Logs are JSON lines on stderr with Cloud Logging's "severity" and
"message"; a summary table (or -o json) goes to stdout.

Exit codes: 0 every target handled (held, refused and recommended count as
handled), 1 some target or the collection failed (the others were still
applied), 2 an invalid plan or usage.`,
		Example: `  headroom run --config plan.yaml --dry-run
  headroom run --config plan.yaml --shard 2/8
  JOB_COMPLETION_INDEX=2 headroom run --config plan.yaml --shards 8`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.out != "table" && f.out != "json" {
				return usagef("run: -o %q: unknown output format (choose table, json)", f.out)
			}
			return runRun(cmd, &f)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.out, "output", "o", "table", "summary format: table or json")
	return cmd
}

// wired is a runner with everything it was built from.
type wired struct {
	plan   *config.Plan
	runner *runner.Runner
	reg    *prometheus.Registry
	store  *store.Store
	log    *slog.Logger
}

func (w *wired) Close() { w.store.Close() }

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: choose debug, info, warning, error", s)
}

// shardOf resolves --shard, or JOB_COMPLETION_INDEX with --shards / $HEADROOM_SHARDS.
func (f *runFlags) shardOf() (runner.Shard, error) {
	if f.shard != "" {
		return runner.ParseShard(f.shard)
	}
	idx := os.Getenv("JOB_COMPLETION_INDEX")
	n := f.shards
	if n == 0 {
		if s := os.Getenv("HEADROOM_SHARDS"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				return runner.Shard{}, fmt.Errorf("HEADROOM_SHARDS=%q: not a number", s)
			}
			n = v
		}
	}
	if idx == "" || n <= 1 {
		if n > 1 {
			return runner.Shard{}, fmt.Errorf("--shards %d needs JOB_COMPLETION_INDEX (an Indexed Job) or --shard i/N", n)
		}
		return runner.Shard{}, nil
	}
	return runner.ParseShard(idx + "/" + strconv.Itoa(n))
}

func restConfig(kubeconfig, kubeContext string, timeout time.Duration, qps float32) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = timeout
	// A run makes a list per namespace and kind and a few requests per change: client-go's default
	// of 5 QPS would make a thousand-workload run wait on itself.
	cfg.QPS, cfg.Burst = qps, int(2*qps)
	return cfg, nil
}

// wire builds the runner of headroom run and serve from the flags.
func wire(cmd *cobra.Command, f *runFlags, stderr io.Writer) (*wired, error) {
	if f.config == "" {
		return nil, usagef("%s: --config is required", cmd.Name())
	}
	level, err := parseLevel(f.logLevel)
	if err != nil {
		return nil, &usageError{err}
	}
	shard, err := f.shardOf()
	if err != nil {
		return nil, &usageError{fmt.Errorf("%s: %w", cmd.Name(), err)}
	}
	p, err := config.LoadFile(f.config)
	if err != nil {
		if errors.Is(err, config.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
			return nil, &usageError{err}
		}
		return nil, err
	}
	if src := p.Spec.History.Source; src == "trace" {
		return nil, usagef("%s:%d: spec.history.source: %s acts on a cluster and needs a live source (metrics-server or prometheus); plan traces with headroom plan or simulate",
			p.File(), p.Line("spec.history.source"), cmd.Name())
	}
	// The collection: the same setup as headroom collect, from the plan.
	cf := &collectFlags{config: f.config, kubeconfig: f.kubeconfig, kubeContext: f.kubeContext, storePath: f.storePath, out: "table",
		backfill: 30 * 24 * time.Hour, step: time.Minute, timeout: f.timeout, retries: 4, timeoutSet: true}
	cs, err := setupCollect(cf)
	if err != nil {
		return nil, err
	}
	if f.qps <= 0 || f.parallel < 1 {
		return nil, usagef("%s: --qps and --parallel must be positive", cmd.Name())
	}
	cfg, err := restConfig(f.kubeconfig, f.kubeContext, f.timeout, f.qps)
	if err != nil {
		return nil, &usageError{fmt.Errorf("%s: kubeconfig: %w", cmd.Name(), err)}
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, &usageError{fmt.Errorf("%s: %w", cmd.Name(), err)}
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, &usageError{fmt.Errorf("%s: %w", cmd.Name(), err)}
	}
	cached := memory.NewMemCacheClient(kc.Discovery())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	sc, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cached))
	if err != nil {
		return nil, &usageError{fmt.Errorf("%s: %w", cmd.Name(), err)}
	}
	if cs.kubeOptions != nil {
		// The metrics-server source with the run's client settings (rate limit, timeout).
		mc, err := metricsclient.NewForConfig(cfg)
		if err != nil {
			return nil, &usageError{fmt.Errorf("%s: %w", cmd.Name(), err)}
		}
		cs.source = kube.New(kc, mc, *cs.kubeOptions)
	}
	st, err := store.Open(cs.storePath, &store.Options{Retention: cs.retention})
	if err != nil {
		return nil, err
	}
	targets := map[policy.Target]actuator.TargetOptions{}
	for i, w := range p.Spec.Workloads {
		pw, err := p.PolicyWorkload(i)
		if err != nil {
			st.Close()
			return nil, &usageError{err}
		}
		targets[pw.Target] = actuator.TargetOptions{APIVersion: w.Target.APIVersion, Mode: pw.Mode}
	}
	holder := f.holder
	if holder == "" {
		holder = os.Getenv("POD_NAME")
	}
	if holder == "" {
		holder = runner.Hostname()
	}
	// The node pools' providers (cluster-api, gke, balloon; none only recommends).
	pc := actuator.PoolClients{Scales: sc, Kube: kc, DryRun: f.dryRun}
	for _, np := range p.Spec.NodePools {
		if np.Provider == "gke" && pc.GKE == nil {
			// Google's API with application default credentials (Workload Identity in a cluster).
			if pc.GKE, err = container.NewService(cmd.Context()); err != nil {
				st.Close()
				return nil, fmt.Errorf("%s: GKE client: %w", cmd.Name(), err)
			}
		}
	}
	pools, err := actuator.NewPoolsFromPlan(p, pc)
	if err != nil {
		st.Close()
		return nil, &usageError{err}
	}
	// The run's Lease; it also carries the Events of node pools without an object of their own (GKE).
	var lease *actuator.Lease
	if l := p.Spec.Run.Lease; l != nil {
		ns := l.Namespace
		if ns == "" {
			ns = os.Getenv("POD_NAMESPACE")
		}
		if ns == "" {
			ns = "default"
		}
		name := l.Name
		if shard.Count > 1 {
			name += "-" + strconv.Itoa(shard.Index)
		}
		lease = &actuator.Lease{Client: kc.CoordinationV1(), Namespace: ns, Name: name, Holder: holder, Duration: l.Duration.Duration, Clock: clock.RealClock{}}
	}
	ko := actuator.KubeOptions{DryRun: f.dryRun, Targets: targets, Log: st, PoolLabel: p.Spec.History.NodePoolLabel, Instance: holder, Pools: pools.Sizers()}
	if lease != nil {
		ko.PoolEventObject = lease.Object
	}
	ka, err := actuator.NewKubeFromClients(actuator.KubeClients{Kube: kc, Dynamic: dc, Scales: sc, Mapper: mapper}, ko)
	if err != nil {
		st.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	lg := runner.NewLogger(stderr, level)
	r := &runner.Runner{
		Plan: p, Source: cs.source, Backfill: cs.backfill, Store: st,
		Cluster:  &runner.KubeCluster{Client: kc, Scales: sc, Mapper: mapper},
		Actuator: ka, ActuatorLogs: true, Clock: clock.RealClock{}, Log: lg, Metrics: runner.NewMetrics(reg), Shard: shard, DryRun: f.dryRun,
		ApplyParallel: f.parallel, SizePools: true, OnPoolPlan: pools.SetPlan,
	}
	if !f.dryRun {
		// The previous runs' changes: Ready pods reached (Events, decision-log rows, measured lead times).
		r.Converged = func(ctx context.Context, now time.Time) (map[policy.Target]string, error) {
			cs, err := ka.Converge(ctx, now, st, actuator.ConvergeOptions{Parallel: f.parallel, Include: func(w metrics.Workload) bool {
				return w.Kind == metrics.KindNodePool || shard.Owns(policy.Target{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name})
			}})
			for _, c := range cs {
				for _, wn := range c.Warnings {
					lg.Warn("convergence check", "workload", c.Workload.String(), "warning", wn)
				}
			}
			return actuator.NotConverged(cs), err
		}
	}
	if p.Spec.History.Source == "prometheus" {
		r.Step = cs.step
	}
	if lease != nil {
		r.Lock = &leaseLock{lease}
	}
	return &wired{plan: p, runner: r, reg: reg, store: st, log: lg}, nil
}

// leaseLock adapts actuator.Lease to runner.Lock.
type leaseLock struct{ *actuator.Lease }

func runRun(cmd *cobra.Command, f *runFlags) error {
	w, err := wire(cmd, f, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer w.Close()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := w.runner.Cycle(ctx)
	if err != nil {
		if errors.Is(err, runner.ErrInvalidPlan) {
			return &usageError{err}
		}
		return err
	}
	var pushErr error
	if pg := w.plan.Spec.Run.Pushgateway; pg != nil {
		pushErr = pushMetrics(ctx, w, pg, res.Shard)
		if pushErr != nil {
			w.log.Error("push to the Pushgateway failed", "url", pg.URL, "error", pushErr.Error())
		}
	}
	if err := printRun(cmd.OutOrStdout(), f.out, res); err != nil {
		return err
	}
	switch {
	case res.ExitCode() != 0:
		c := res.Count()
		msg := fmt.Sprintf("run: %d of %d targets failed", c[runner.OutcomeFailed], len(res.Targets))
		for _, pa := range res.PoolActions {
			if pa.Err != nil {
				msg += fmt.Sprintf("; node pool %s: %v", pa.Pool, pa.Err)
			}
		}
		if res.CollectErr != nil {
			msg += "; collection failed: " + res.CollectErr.Error()
		}
		if res.RecordErr != nil {
			msg += "; recording failed: " + res.RecordErr.Error()
		}
		return errors.New(msg)
	case pushErr != nil:
		return fmt.Errorf("run: push to %s: %w", w.plan.Spec.Run.Pushgateway.URL, pushErr)
	}
	return nil
}

// pushMetrics replaces the run's group on the Pushgateway: job, plan and shard.
func pushMetrics(ctx context.Context, w *wired, pg *config.Pushgateway, sh runner.Shard) error {
	p := push.New(pg.URL, pg.Job).Gatherer(w.reg).Grouping("plan", w.plan.Metadata.Name)
	if sh.Count > 1 {
		p = p.Grouping("shard", strconv.Itoa(sh.Index))
	}
	return p.PushContext(ctx)
}

type runTargetJSON struct {
	Target  string `json:"target"`
	Mode    string `json:"mode"`
	Current int32  `json:"current"`
	Desired int32  `json:"desired"`
	Rule    string `json:"rule"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	Note    string `json:"note,omitempty"`
	// Warnings are the decision's (QUOTA: a scale-up the namespace's quota would refuse).
	Warnings []string `json:"warnings,omitempty"`
}

type runPoolJSON struct {
	Pool    string `json:"pool"`
	Nodes   int    `json:"nodes"`
	From    int    `json:"from"` // -1: unknown
	Changed bool   `json:"changed"`
	Error   string `json:"error,omitempty"`
}

type runJSON struct {
	Time      string             `json:"time"`
	Shard     string             `json:"shard"`
	Skipped   string             `json:"skipped,omitempty"`
	Collected int                `json:"collected_samples"`
	Collect   string             `json:"collect_error,omitempty"`
	Targets   []runTargetJSON    `json:"targets"`
	Counts    map[string]int     `json:"counts"`
	Runway    map[string]float64 `json:"runway_days,omitempty"`
	Pools     []runPoolJSON      `json:"node_pools,omitempty"`
	ExitCode  int                `json:"exit_code"`
}

func printRun(out io.Writer, format string, res *runner.Result) error {
	doc := runJSON{Time: res.Time.Format(time.RFC3339), Shard: res.Shard.String(), Skipped: res.Skipped, Collected: res.Collected,
		Targets: []runTargetJSON{}, Counts: map[string]int{}, ExitCode: res.ExitCode()}
	if res.CollectErr != nil {
		doc.Collect = res.CollectErr.Error()
	}
	for o, n := range res.Count() {
		doc.Counts[o.String()] = n
	}
	for pool, d := range res.Runway {
		if d < 1e9 { // JSON has no infinity: a pool that is not growing has no runway entry
			if doc.Runway == nil {
				doc.Runway = map[string]float64{}
			}
			doc.Runway[pool] = d
		}
	}
	for _, pa := range res.PoolActions {
		pj := runPoolJSON{Pool: pa.Pool, Nodes: pa.Nodes, From: -1}
		if pa.Action != nil {
			pj.From, pj.Changed = pa.Action.From, pa.Action.Changed
		}
		if pa.Err != nil {
			pj.Error = pa.Err.Error()
		}
		doc.Pools = append(doc.Pools, pj)
	}
	t := &table{header: []string{"TARGET", "MODE", "CURRENT", "DESIRED", "RULE", "OUTCOME", "REASON"}}
	for _, tr := range res.Targets {
		tj := runTargetJSON{Target: tr.Target.String(), Outcome: tr.Outcome.String(), Note: tr.Note, Mode: "-", Rule: "-"}
		cur, des := "-", "-"
		if p := tr.Planned; p != nil {
			d := p.Decision
			tj.Mode, tj.Current, tj.Desired, tj.Rule, tj.Reason = d.Mode.String(), d.Current, d.Desired, d.Rule.String(), d.Reason()
			tj.Warnings = d.Warnings
			cur, des = strconv.Itoa(int(d.Current)), strconv.Itoa(int(d.Desired))
		}
		doc.Targets = append(doc.Targets, tj)
		why := tj.Reason
		if tr.Note != "" && tr.Outcome != runner.OutcomeHeld {
			why = tr.Note
		}
		t.add(tj.Target, tj.Mode, cur, des, tj.Rule, tj.Outcome, why)
	}
	if format == "json" {
		return writeJSON(out, doc)
	}
	if res.Skipped != "" {
		_, err := fmt.Fprintf(out, "skipped: %s\n", res.Skipped)
		return err
	}
	if err := t.write(out, "table"); err != nil {
		return err
	}
	c := res.Count()
	fmt.Fprintf(out, "\n%d targets (shard %s): %d scaled, %d unchanged, %d held, %d recommended, %d refused, %d failed\n", len(res.Targets), res.Shard,
		c[runner.OutcomeScaled], c[runner.OutcomeUnchanged], c[runner.OutcomeHeld], c[runner.OutcomeRecommended], c[runner.OutcomeRefused], c[runner.OutcomeFailed])
	for _, pj := range doc.Pools {
		switch {
		case pj.Error != "":
			fmt.Fprintf(out, "node pool %s: %d nodes FAILED: %s\n", pj.Pool, pj.Nodes, pj.Error)
		case pj.Changed:
			fmt.Fprintf(out, "node pool %s: %d → %d nodes\n", pj.Pool, pj.From, pj.Nodes)
		default:
			fmt.Fprintf(out, "node pool %s: %d nodes (unchanged)\n", pj.Pool, pj.Nodes)
		}
	}
	if res.CollectErr != nil {
		fmt.Fprintf(out, "collection failed: %v\n", res.CollectErr)
	}
	writeRunWarnings(out, doc.Targets)
	return nil
}

// writeRunWarnings lists the decisions' warnings under the table, a line
// each with its target, as headroom plan does.
func writeRunWarnings(out io.Writer, ts []runTargetJSON) {
	first := true
	for _, t := range ts {
		for _, x := range t.Warnings {
			if first {
				fmt.Fprintln(out, "\nwarnings:")
				first = false
			}
			fmt.Fprintln(out, "  "+t.Target+": "+x)
		}
	}
}
