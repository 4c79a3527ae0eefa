package config

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits enforced by Validate, as in the HPA API where one exists.
const (
	MaxStabilizationWindow = time.Hour        // HPA: 3600 s
	MaxPolicyPeriod        = 30 * time.Minute // HPA: 1800 s
)

// Sources, modes, providers, headroom modes and select policies accepted.
var (
	Sources        = []string{"metrics-server", "prometheus", "trace"}
	Modes          = []string{"scale", "hpa-floor", "recommend"}
	Providers      = []string{"cluster-api", "gke", "balloon", "none"}
	HeadroomModes  = []string{"none", "n+1", "zone"}
	SelectPolicies = []string{"Max", "Min", "Disabled"}
	PolicyTypes    = []string{"Pods", "Percent"}
)

type validator struct {
	p    *Plan
	errs FieldErrors
}

func (v *validator) errf(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.p.file, Line: v.p.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(path, got string, allowed []string) {
	if !slices.Contains(allowed, got) {
		v.errf(path, "%q is not one of %q", got, allowed)
	}
}

// Validate checks the plan after Default, returning FieldErrors that name
// every offending field by its path and, for a plan read from a file, its
// line. It returns nil when the plan is valid.
func (p *Plan) Validate() error {
	v := &validator{p: p}
	if p.APIVersion != APIVersion {
		v.errf("apiVersion", "must be %q, got %q", APIVersion, p.APIVersion)
	}
	if p.Kind != Kind {
		v.errf("kind", "must be %q, got %q", Kind, p.Kind)
	}
	if p.Metadata.Name == "" {
		v.errf("metadata.name", "required")
	}
	s := &p.Spec
	if s.Schedule != "" {
		if _, err := cron.ParseStandard(s.Schedule); err != nil {
			v.errf("spec.schedule", "invalid cron schedule %q: %v", s.Schedule, err)
		}
	}
	v.positive("spec.interval", s.Interval)
	v.oneOf("spec.history.source", s.History.Source, Sources)
	v.history(&s.History)
	v.positive("spec.history.maxAge", s.History.MaxAge)
	v.positive("spec.forecast.horizon", s.Forecast.Horizon)
	if q := s.Forecast.Quantile; !(q > 0 && q < 1) {
		v.errf("spec.forecast.quantile", "must be between 0 and 1 (exclusive), got %v", q)
	}
	for i, d := range s.Forecast.Seasonality {
		if d.Duration <= 0 {
			v.errf(fmt.Sprintf("spec.forecast.seasonality[%d]", i), "must be positive, got %v", d.Duration)
		}
	}
	if len(s.Workloads) == 0 {
		v.errf("spec.workloads", "at least one workload is required")
	}
	pools := map[string]bool{}
	for i, np := range s.NodePools {
		path := fmt.Sprintf("spec.nodePools[%d]", i)
		if np.Name == "" {
			v.errf(path+".name", "required")
		} else if pools[np.Name] {
			v.errf(path+".name", "duplicate node pool name %q", np.Name)
		}
		pools[np.Name] = true
		v.nodePool(path, &np)
	}
	targets := map[string]int{}
	for i := range s.Workloads {
		path := fmt.Sprintf("spec.workloads[%d]", i)
		w := &s.Workloads[i]
		v.workload(path, w, pools)
		key := w.Target.APIVersion + " " + w.Target.String()
		if j, dup := targets[key]; dup {
			v.errf(path+".target", "same target as spec.workloads[%d] (%s)", j, w.Target)
		} else {
			targets[key] = i
		}
	}
	v.run(s.Run)
	if s.Budget != nil && !(s.Budget.Monthly >= 0) {
		v.errf("spec.budget.monthly", "must not be negative, got %v", s.Budget.Monthly)
	}
	if len(v.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(v.errs, func(a, b *FieldError) int { return a.Line - b.Line })
	return v.errs
}

func (v *validator) history(h *History) {
	if r := h.Retention; r != nil {
		v.positive("spec.history.retention.raw", r.Raw)
		v.positive("spec.history.retention.hourly", r.Hourly)
		if r.Raw != nil && r.Hourly != nil && r.Raw.Duration > r.Hourly.Duration {
			v.errf("spec.history.retention.raw", "%v is longer than the hourly retention (%v): raw samples are rolled into hourly aggregates", r.Raw.Duration, r.Hourly.Duration)
		}
	}
	if pr := h.Prometheus; pr != nil {
		const path = "spec.history.prometheus"
		if pr.URL != "" {
			u, err := url.Parse(pr.URL)
			switch {
			case err != nil:
				v.errf(path+".url", "%q is not a URL: %v", pr.URL, err)
			case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
				v.errf(path+".url", "%q is not an http or https URL (such as http://prometheus.monitoring:9090)", pr.URL)
			}
		}
		v.positive(path+".timeout", pr.Timeout)
		v.positive(path+".step", pr.Step)
		if q := pr.Queries; q != nil {
			v.promQuery(path+".queries.cpu", q.CPU)
			v.promQuery(path+".queries.memory", q.Memory)
		}
	}
	seen := map[string]bool{}
	for i, ns := range h.Namespaces {
		path := fmt.Sprintf("spec.history.namespaces[%d]", i)
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			v.errf(path, "%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
		} else if seen[ns] {
			v.errf(path, "duplicate namespace %q", ns)
		}
		seen[ns] = true
	}
	if h.NodePoolLabel != "" {
		if errs := validation.IsQualifiedName(h.NodePoolLabel); len(errs) > 0 {
			v.errf("spec.history.nodePoolLabel", "%q is not a label key: %s", h.NodePoolLabel, strings.Join(errs, "; "))
		}
	}
}

// promQueryData has the fields of metrics/prom.Query, which query templates may use.
type promQueryData struct{ Selector, Rate string }

// promQuery checks a PromQL template: it must parse and use only the
// fields of metrics/prom.Query. The PromQL itself is checked by Prometheus.
func (v *validator) promQuery(path, q string) {
	if q == "" {
		return
	}
	if strings.TrimSpace(q) == "" {
		v.errf(path, "empty query (omit it to keep the default)")
		return
	}
	t, err := template.New(path).Option("missingkey=error").Parse(q)
	if err == nil {
		err = t.Execute(io.Discard, promQueryData{Selector: `, namespace=~"a"`, Rate: "5m"})
	}
	if err != nil {
		v.errf(path, "bad query template (it may use {{.Selector}} and {{.Rate}}): %v", err)
	}
}

func (v *validator) positive(path string, d *Duration) {
	if d != nil && d.Duration <= 0 {
		v.errf(path, "must be positive, got %v", d.Duration)
	}
}

func (v *validator) quantity(path string, q *resource.Quantity, required bool) {
	switch {
	case q == nil && required:
		v.errf(path, "required")
	case q != nil && q.Sign() <= 0:
		v.errf(path, "must be positive, got %s", q.String())
	}
}

func (v *validator) workload(path string, w *Workload, pools map[string]bool) {
	if w.Target.Kind == "" {
		v.errf(path+".target.kind", "required (Deployment, StatefulSet, or any kind with a scale subresource)")
	}
	if w.Target.Name == "" {
		v.errf(path+".target.name", "required")
	}
	if w.Trace == nil && v.p.Spec.History.Source == "trace" {
		v.errf(path+".trace", "required when spec.history.source is trace")
	}
	if w.Trace != nil {
		t := w.Trace
		if t.File == "" {
			v.errf(path+".trace.file", "required")
		}
		if *t.Scale <= 0 {
			v.errf(path+".trace.scale", "must be positive, got %v", *t.Scale)
		}
		if *t.MemoryScale <= 0 {
			v.errf(path+".trace.memoryScale", "must be positive, got %v", *t.MemoryScale)
		}
		if *t.Replicas < 0 {
			v.errf(path+".trace.replicas", "must not be negative, got %d", *t.Replicas)
		}
		if w.Resources == nil || w.Resources.CPU == nil {
			v.errf(path+".resources.cpu", "required with a trace source (there is no pod template to read it from)")
		}
		if t.MemoryColumn != "" && (w.Resources == nil || w.Resources.Memory == nil) {
			v.errf(path+".resources.memory", "required with trace.memoryColumn")
		}
	}
	if w.Resources != nil {
		v.quantity(path+".resources.cpu", w.Resources.CPU, false)
		v.quantity(path+".resources.memory", w.Resources.Memory, false)
	}
	if u := w.Utilization.CPU; !(u > 0 && u <= 1) {
		v.errf(path+".utilization.cpu", "must be in (0, 1], got %v", u)
	}
	if u := w.Utilization.Memory; !(u > 0 && u <= 1) {
		v.errf(path+".utilization.memory", "must be in (0, 1], got %v", u)
	}
	minR, maxR := *w.Replicas.Min, w.Replicas.Max
	if minR < 0 {
		v.errf(path+".replicas.min", "must not be negative, got %d", minR)
	}
	switch {
	case maxR < 1:
		v.errf(path+".replicas.max", "required, at least 1, got %d", maxR)
	case maxR < minR:
		v.errf(path+".replicas.max", "must be at least replicas.min (%d), got %d", minR, maxR)
	}
	if w.LeadTime.Duration < 0 {
		v.errf(path+".leadTime", "must not be negative, got %v", w.LeadTime.Duration)
	}
	if t := *w.Tolerance; !(t >= 0 && t < 1) {
		v.errf(path+".tolerance", "must be in [0, 1), got %v", t)
	}
	v.oneOf(path+".mode", w.Mode, Modes)
	if w.NodePool != "" && !pools[w.NodePool] {
		v.errf(path+".nodePool", "no node pool named %q in spec.nodePools", w.NodePool)
	}
	if q := w.Query; q != nil {
		if q.CPU == "" && q.Memory == "" {
			v.errf(path+".query", "sets neither cpu nor memory")
		}
		v.promQuery(path+".query.cpu", q.CPU)
		v.promQuery(path+".query.memory", q.Memory)
	}
	if w.Behavior != nil {
		v.rules(path+".behavior.scaleUp", w.Behavior.ScaleUp)
		v.rules(path+".behavior.scaleDown", w.Behavior.ScaleDown)
	}
	for i, win := range w.Windows {
		wp := fmt.Sprintf("%s.windows[%d]", path, i)
		if win.Cron == "" {
			v.errf(wp+".cron", "required")
		} else if _, err := cron.ParseStandard(win.Cron); err != nil {
			v.errf(wp+".cron", "invalid cron schedule %q: %v", win.Cron, err)
		}
		if win.Duration.Duration <= 0 {
			v.errf(wp+".duration", "must be positive, got %v", win.Duration.Duration)
		}
		if win.MinReplicas == nil && win.MaxReplicas == nil {
			v.errf(wp, "sets neither minReplicas nor maxReplicas")
		}
		if win.MinReplicas != nil && *win.MinReplicas < 0 {
			v.errf(wp+".minReplicas", "must not be negative, got %d", *win.MinReplicas)
		}
		if win.MaxReplicas != nil && *win.MaxReplicas < 1 {
			v.errf(wp+".maxReplicas", "must be at least 1, got %d", *win.MaxReplicas)
		}
		if win.MinReplicas != nil && win.MaxReplicas != nil && *win.MaxReplicas < *win.MinReplicas {
			v.errf(wp+".maxReplicas", "must be at least minReplicas (%d), got %d", *win.MinReplicas, *win.MaxReplicas)
		}
		if win.MinReplicas != nil && win.MaxReplicas == nil && *win.MinReplicas > maxR {
			v.errf(wp+".minReplicas", "%d is above replicas.max (%d): set the window's maxReplicas to raise the maximum during the window", *win.MinReplicas, maxR)
		}
	}
}

func (v *validator) rules(path string, r *ScalingRules) {
	if r == nil {
		return
	}
	if r.StabilizationWindow != nil {
		if d := r.StabilizationWindow.Duration; d < 0 || d > MaxStabilizationWindow || d%time.Second != 0 {
			v.errf(path+".stabilizationWindow", "must be whole seconds between 0s and %v, got %v", MaxStabilizationWindow, d)
		}
	}
	v.oneOf(path+".selectPolicy", r.SelectPolicy, SelectPolicies)
	if t := r.Tolerance; t != nil && !(*t >= 0 && *t < 1) {
		v.errf(path+".tolerance", "must be in [0, 1), got %v", *t)
	}
	if r.Policies != nil && len(r.Policies) == 0 && r.SelectPolicy != "Disabled" {
		v.errf(path+".policies", "must not be empty (omit it for the defaults, or set selectPolicy: Disabled)")
	}
	for i, pol := range r.Policies {
		pp := fmt.Sprintf("%s.policies[%d]", path, i)
		v.oneOf(pp+".type", pol.Type, PolicyTypes)
		if pol.Value <= 0 {
			v.errf(pp+".value", "must be positive, got %d", pol.Value)
		}
		if d := pol.Period.Duration; d <= 0 || d > MaxPolicyPeriod || d%time.Second != 0 {
			v.errf(pp+".period", "must be whole seconds in (0s, %v], got %v", MaxPolicyPeriod, d)
		}
	}
}

func (v *validator) nodePool(path string, np *NodePool) {
	v.oneOf(path+".provider", np.Provider, Providers)
	v.quantity(path+".machine.cpu", np.Machine.CPU, true)
	v.quantity(path+".machine.memory", np.Machine.Memory, true)
	if np.Machine.Pods < 1 {
		v.errf(path+".machine.pods", "must be at least 1, got %d", np.Machine.Pods)
	}
	if !(np.Machine.PricePerHour >= 0) {
		v.errf(path+".machine.pricePerHour", "must not be negative, got %v", np.Machine.PricePerHour)
	}
	if o := np.Overhead; o != nil {
		if o.CPU != nil && o.CPU.Sign() < 0 {
			v.errf(path+".overhead.cpu", "must not be negative")
		}
		if o.Memory != nil && o.Memory.Sign() < 0 {
			v.errf(path+".overhead.memory", "must not be negative")
		}
		if o.CPU != nil && np.Machine.CPU != nil && o.CPU.Cmp(*np.Machine.CPU) >= 0 {
			v.errf(path+".overhead.cpu", "%s leaves nothing of the machine's %s", o.CPU, np.Machine.CPU)
		}
		if o.Memory != nil && np.Machine.Memory != nil && o.Memory.Cmp(*np.Machine.Memory) >= 0 {
			v.errf(path+".overhead.memory", "%s leaves nothing of the machine's %s", o.Memory, np.Machine.Memory)
		}
	}
	if np.Size.Min < 0 {
		v.errf(path+".size.min", "must not be negative, got %d", np.Size.Min)
	}
	if np.Size.Max < 1 || np.Size.Max < np.Size.Min {
		v.errf(path+".size.max", "required, at least 1 and at least size.min (%d), got %d", np.Size.Min, np.Size.Max)
	}
	if np.Zones < 1 {
		v.errf(path+".zones", "must be at least 1, got %d", np.Zones)
	}
	v.oneOf(path+".headroom", np.Headroom, HeadroomModes)
	if np.Headroom == "zone" && np.Zones < 2 {
		v.errf(path+".headroom", "zone headroom needs at least 2 zones (zones: %d)", np.Zones)
	}
	if np.LeadTime.Duration < 0 {
		v.errf(path+".leadTime", "must not be negative, got %v", np.LeadTime.Duration)
	}
	v.poolProvider(path, np)
}

// poolProvider checks the provider's own block, and that no other
// provider's block is set.
func (v *validator) poolProvider(path string, np *NodePool) {
	blocks := []struct {
		provider, field string
		set             bool
	}{
		{"cluster-api", "clusterAPI", np.ClusterAPI != nil},
		{"gke", "gke", np.GKE != nil},
		{"balloon", "balloon", np.Balloon != nil},
	}
	for _, b := range blocks {
		if b.set && b.provider != np.Provider {
			v.errf(path+"."+b.field, "set, but the provider is %q (%s is for provider %s)", np.Provider, b.field, b.provider)
		}
	}
	dnsName := func(field, name string, label bool) {
		errs := validation.IsDNS1123Subdomain(name)
		if label {
			errs = validation.IsDNS1123Label(name)
		}
		if len(errs) > 0 {
			v.errf(field, "%q is not a valid Kubernetes name: %s", name, strings.Join(errs, "; "))
		}
	}
	switch np.Provider {
	case "cluster-api":
		if c := np.ClusterAPI; c != nil {
			dnsName(path+".clusterAPI.namespace", c.Namespace, true)
			dnsName(path+".clusterAPI.name", c.Name, false)
		}
	case "gke":
		g := np.GKE
		if g == nil {
			v.errf(path+".gke", "required with provider gke: {project, location, cluster}")
			return
		}
		for _, f := range []struct{ name, val string }{{"project", g.Project}, {"location", g.Location}, {"cluster", g.Cluster}, {"nodePool", g.NodePool}} {
			if f.val == "" {
				v.errf(path+".gke."+f.name, "required with provider gke")
			} else if strings.ContainsAny(f.val, "/ ") {
				v.errf(path+".gke."+f.name, "%q must be a single name (no '/' or spaces)", f.val)
			}
		}
	case "balloon":
		if b := np.Balloon; b != nil {
			dnsName(path+".balloon.namespace", b.Namespace, true)
			dnsName(path+".balloon.name", b.Name, false)
			dnsName(path+".balloon.priorityClass", b.PriorityClass, false)
			if b.PodsPerNode < 1 {
				v.errf(path+".balloon.podsPerNode", "must be at least 1, got %d", b.PodsPerNode)
			}
			for k, val := range b.NodeSelector {
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					v.errf(path+".balloon.nodeSelector", "%q is not a label key: %s", k, strings.Join(errs, "; "))
				}
				if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
					v.errf(path+".balloon.nodeSelector", "%q is not a label value: %s", val, strings.Join(errs, "; "))
				}
			}
		}
	}
}
