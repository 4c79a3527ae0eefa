package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/headroom-dev/headroom/metrics"
)

// Labels that name a node's pool, tried in this order after the plan's own label (Options.PoolLabel).
var PoolLabels = []string{
	"cloud.google.com/gke-nodepool",
	"karpenter.sh/nodepool",
	"eks.amazonaws.com/nodegroup",
}

// Unpooled is the pool of nodes that carry none of the pool labels.
const Unpooled = "unpooled"

// Resources of node pools recorded besides metrics.Nodes etc.
const NodesWithMetrics metrics.Resource = "nodes_with_metrics"

// Options configure the source. Zero values mean the defaults given.
type Options struct {
	Namespaces []string // only these namespaces; empty means all
	PoolLabel  string   // a node label naming the pool, tried before PoolLabels
	PageSize   int64    // list page size; 0 means 500
	// Progress, when set, is told after each namespace and after the nodes.
	Progress metrics.Progress
}

// Source reads metrics-server. Requests counts the API requests of the last Collect.
type Source struct {
	kube     kubernetes.Interface
	metrics  metricsclient.Interface
	opt      Options
	Requests int
}

// New returns a source over the two clientsets.
func New(kc kubernetes.Interface, mc metricsclient.Interface, o Options) *Source {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	return &Source{kube: kc, metrics: mc, opt: o}
}

// Name returns "metrics-server".
func (s *Source) Name() string { return "metrics-server" }

// MetricsAPIService is the APIService that serves the metrics API (metrics-server registers it).
const MetricsAPIService = "v1beta1.metrics.k8s.io"

// listAll pages through a list call.
func listAll[T any](ctx context.Context, s *Source, what string, list func(metav1.ListOptions) ([]T, string, error)) ([]T, error) {
	var out []T
	opts := metav1.ListOptions{Limit: s.opt.PageSize}
	for {
		s.Requests++
		items, cont, err := list(opts)
		if err != nil {
			hint := ""
			if strings.Contains(what, "metrics.k8s.io") {
				switch {
				case apierrors.IsServiceUnavailable(err):
					hint = fmt.Sprintf(" (the APIService %s is registered but not available: is metrics-server running? kubectl get apiservice %s)", MetricsAPIService, MetricsAPIService)
				case apierrors.IsNotFound(err):
					hint = " (the metrics API is not served: install metrics-server)"
				}
			}
			return nil, fmt.Errorf("%w: list %s: %w%s", metrics.ErrUnavailable, what, err, hint)
		}
		out = append(out, items...)
		if cont == "" {
			return out, nil
		}
		opts.Continue = cont
	}
}

type workloadUse struct {
	pods, withMetrics, ready, pending int
	cpu, mem                          float64
	template                          *corev1.PodTemplateSpec
	nodes                             map[string]int
}

// Collect reads the present: pods, their owners and templates, PodMetrics, nodes and NodeMetrics. Every
// sample is stamped w.End.
func (s *Source) Collect(ctx context.Context, w metrics.Window) (*metrics.Batch, error) {
	s.Requests = 0
	now := w.End.UTC()
	b := &metrics.Batch{Source: s.Name(), Window: metrics.Window{Start: now, End: now}}
	namespaces := s.opt.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	use := map[metrics.Workload]*workloadUse{}
	var unowned, orphaned int
	var quotasForbidden []string // where the quota list was refused
	var quotasErr error
	b.QuotasRead = true
	progress := func(done int, what string) {
		if s.opt.Progress != nil {
			s.opt.Progress(done, len(namespaces)+1, what)
		}
	}
	for i, ns := range namespaces {
		where := "in all namespaces"
		if ns != "" {
			where = "in namespace " + ns
		}
		progress(i, "pods "+where)
		// The metrics API first: when it is unavailable there is nothing to collect.
		pms, err := listAll(ctx, s, "PodMetrics (metrics.k8s.io/v1beta1) "+where, func(o metav1.ListOptions) ([]metricsv1beta1.PodMetrics, string, error) {
			l, err := s.metrics.MetricsV1beta1().PodMetricses(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err != nil {
			return nil, err
		}
		pods, err := listAll(ctx, s, "pods "+where, func(o metav1.ListOptions) ([]corev1.Pod, string, error) {
			l, err := s.kube.CoreV1().Pods(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err != nil {
			return nil, err
		}
		rss, err := listAll(ctx, s, "replicasets "+where, func(o metav1.ListOptions) ([]appsv1.ReplicaSet, string, error) {
			l, err := s.kube.AppsV1().ReplicaSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err != nil {
			return nil, err
		}
		deps, err := listAll(ctx, s, "deployments "+where, func(o metav1.ListOptions) ([]appsv1.Deployment, string, error) {
			l, err := s.kube.AppsV1().Deployments(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err != nil {
			return nil, err
		}
		sts, err := listAll(ctx, s, "statefulsets "+where, func(o metav1.ListOptions) ([]appsv1.StatefulSet, string, error) {
			l, err := s.kube.AppsV1().StatefulSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err != nil {
			return nil, err
		}
		dss, err := listAll(ctx, s, "daemonsets "+where, func(o metav1.ListOptions) ([]appsv1.DaemonSet, string, error) {
			l, err := s.kube.AppsV1().DaemonSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
		if err != nil {
			return nil, err
		}
		if err := s.quotas(ctx, b, ns, where); errors.Is(err, errQuotasForbidden) {
			quotasForbidden = append(quotasForbidden, where)
			quotasErr = err
		} else if err != nil {
			return nil, err
		}
		templates := map[metrics.Workload]*corev1.PodTemplateSpec{}
		rsOwner := map[string]metrics.Workload{} // ns/name → workload
		for i := range rss {
			rs := &rss[i]
			wl := metrics.Workload{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name}
			if c := metav1.GetControllerOf(rs); c != nil {
				wl = metrics.Workload{Kind: c.Kind, Namespace: rs.Namespace, Name: c.Name}
			} else {
				templates[wl] = &rs.Spec.Template
			}
			rsOwner[rs.Namespace+"/"+rs.Name] = wl
		}
		for i := range deps {
			templates[metrics.Workload{Kind: "Deployment", Namespace: deps[i].Namespace, Name: deps[i].Name}] = &deps[i].Spec.Template
		}
		for i := range sts {
			templates[metrics.Workload{Kind: "StatefulSet", Namespace: sts[i].Namespace, Name: sts[i].Name}] = &sts[i].Spec.Template
		}
		for i := range dss {
			templates[metrics.Workload{Kind: "DaemonSet", Namespace: dss[i].Namespace, Name: dss[i].Name}] = &dss[i].Spec.Template
		}
		usage := make(map[string]*metricsv1beta1.PodMetrics, len(pms))
		for i := range pms {
			usage[pms[i].Namespace+"/"+pms[i].Name] = &pms[i]
		}
		seen := map[string]bool{}
		for i := range pods {
			p := &pods[i]
			key := p.Namespace + "/" + p.Name
			seen[key] = true
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			c := metav1.GetControllerOf(p)
			if c == nil {
				unowned++
				continue
			}
			wl := metrics.Workload{Kind: c.Kind, Namespace: p.Namespace, Name: c.Name}
			if c.Kind == "ReplicaSet" {
				if o, ok := rsOwner[p.Namespace+"/"+c.Name]; ok {
					wl = o
				}
			}
			u := use[wl]
			if u == nil {
				u = &workloadUse{template: templates[wl]}
				use[wl] = u
			}
			u.pods++
			if p.Status.Phase == corev1.PodPending {
				u.pending++
			}
			if podReady(p) {
				u.ready++
			}
			if n := p.Spec.NodeName; n != "" {
				if u.nodes == nil {
					u.nodes = map[string]int{}
				}
				u.nodes[n]++
			}
			if pm := usage[key]; pm != nil && len(pm.Containers) > 0 {
				u.withMetrics++
				for _, cm := range pm.Containers {
					u.cpu += cores(cm.Usage)
					u.mem += bytes(cm.Usage)
				}
			}
		}
		for key := range usage {
			if !seen[key] {
				orphaned++
			}
		}
	}
	if len(quotasForbidden) > 0 {
		b.QuotasRead = false
		b.Warnings = append(b.Warnings, fmt.Sprintf("resource quotas not read %s: %v (the collector's role needs list on resourcequotas, as in deploy/base/rbac.yaml); quota runway is unknown",
			strings.Join(quotasForbidden, ", "), quotasErr))
	}
	if unowned > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("%d running pods without a controller (not workloads; not counted)", unowned))
	}
	if orphaned > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("usage for %d pods that no longer exist (ignored)", orphaned))
	}
	wls := make([]metrics.Workload, 0, len(use))
	for wl := range use {
		wls = append(wls, wl)
	}
	sort.Slice(wls, func(i, j int) bool { return wls[i].String() < wls[j].String() })
	point := func(wl metrics.Workload, r metrics.Resource, v float64) {
		b.Series = append(b.Series, metrics.Series{Key: metrics.Key{Workload: wl, Resource: r}, Points: []metrics.Point{{T: now, V: v}}})
	}
	for _, wl := range wls {
		u := use[wl]
		b.Coverage = append(b.Coverage, metrics.Coverage{Workload: wl, Pods: u.pods, WithMetrics: u.withMetrics})
		if u.withMetrics > 0 {
			point(wl, metrics.CPU, u.cpu)
			point(wl, metrics.Memory, u.mem)
		}
		point(wl, metrics.Pods, float64(u.pods))
		point(wl, metrics.PodsWithMetrics, float64(u.withMetrics))
		st := metrics.WorkloadState{Workload: wl, Pods: u.pods, Ready: u.ready, Pending: u.pending, Nodes: u.nodes}
		if u.template != nil {
			cpu, mem := Requests(&u.template.Spec)
			point(wl, metrics.CPURequest, cpu)
			point(wl, metrics.MemoryRequest, mem)
			st.CPURequest, st.MemoryRequest = cpu, mem
		}
		b.States = append(b.States, st)
	}
	progress(len(namespaces), "nodes")
	if err := s.nodes(ctx, b, point); err != nil {
		return nil, err
	}
	progress(len(namespaces)+1, "done")
	s.Requests++
	if v, err := s.kube.Discovery().ServerVersion(); err == nil {
		b.ControlPlaneVersion = v.GitVersion
	} else {
		b.Warnings = append(b.Warnings, fmt.Sprintf("control-plane version: %v", err))
	}
	return b, nil
}

func (s *Source) nodes(ctx context.Context, b *metrics.Batch, point func(metrics.Workload, metrics.Resource, float64)) error {
	nodes, err := listAll(ctx, s, "nodes", func(o metav1.ListOptions) ([]corev1.Node, string, error) {
		l, err := s.kube.CoreV1().Nodes().List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	if err != nil {
		return err
	}
	nms, err := listAll(ctx, s, "NodeMetrics (metrics.k8s.io/v1beta1)", func(o metav1.ListOptions) ([]metricsv1beta1.NodeMetrics, string, error) {
		l, err := s.metrics.MetricsV1beta1().NodeMetricses().List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	if err != nil {
		return err
	}
	nu := map[string]*metricsv1beta1.NodeMetrics{}
	for i := range nms {
		nu[nms[i].Name] = &nms[i]
	}
	type pool struct {
		nodes, ready, withMetrics      int
		cpu, mem, pods, cpuUse, memUse float64
	}
	pools := map[string]*pool{}
	for i := range nodes {
		n := &nodes[i]
		in := metrics.Node{
			Name:           n.Name,
			Pool:           PoolOf(n.Labels, s.opt.PoolLabel),
			Zone:           zoneOf(n.Labels),
			KubeletVersion: n.Status.NodeInfo.KubeletVersion,
			CPU:            cores(n.Status.Allocatable),
			Memory:         bytes(n.Status.Allocatable),
			Pods:           float64(n.Status.Allocatable.Pods().Value()),
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				in.Ready = c.Status == corev1.ConditionTrue
			}
		}
		if m := nu[n.Name]; m != nil {
			in.HasUsage, in.CPUUsage, in.MemoryUsage = true, cores(m.Usage), bytes(m.Usage)
		}
		b.Nodes = append(b.Nodes, in)
		name := in.Pool
		if name == "" {
			name = Unpooled
		}
		p := pools[name]
		if p == nil {
			p = &pool{}
			pools[name] = p
		}
		p.nodes++
		if in.Ready {
			p.ready++
		}
		p.cpu += in.CPU
		p.mem += in.Memory
		p.pods += in.Pods
		if in.HasUsage {
			p.withMetrics++
			p.cpuUse += in.CPUUsage
			p.memUse += in.MemoryUsage
		}
	}
	names := make([]string, 0, len(pools))
	for n := range pools {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, wl := pools[n], metrics.Workload{Kind: metrics.KindNodePool, Name: n}
		point(wl, metrics.Nodes, float64(p.nodes))
		point(wl, metrics.NodesReady, float64(p.ready))
		point(wl, NodesWithMetrics, float64(p.withMetrics))
		point(wl, metrics.CPUAllocatable, p.cpu)
		point(wl, metrics.MemoryAllocatable, p.mem)
		point(wl, metrics.PodsAllocatable, p.pods)
		if p.withMetrics > 0 {
			point(wl, metrics.CPU, p.cpuUse)
			point(wl, metrics.Memory, p.memUse)
		}
	}
	return nil
}

// errQuotasForbidden: the collector may not list ResourceQuotas. Collect goes on without them (a warning):
// quotas refine the report, and a role from before quotas were read must not stop collection.
var errQuotasForbidden = errors.New("forbidden")

// quotaNames maps the ResourceQuota resources headroom records to its names; "cpu" and "memory" are the
// shorthand for requests, "count/pods" the object-count name of pods.
var quotaNames = map[corev1.ResourceName]string{
	corev1.ResourceRequestsCPU:    metrics.QuotaRequestsCPU,
	corev1.ResourceCPU:            metrics.QuotaRequestsCPU,
	corev1.ResourceRequestsMemory: metrics.QuotaRequestsMemory,
	corev1.ResourceMemory:         metrics.QuotaRequestsMemory,
	corev1.ResourceLimitsCPU:      metrics.QuotaLimitsCPU,
	corev1.ResourceLimitsMemory:   metrics.QuotaLimitsMemory,
	corev1.ResourcePods:           metrics.QuotaPods,
	"count/pods":                  metrics.QuotaPods, // object count syntax; the same pods are counted
}

// quotas lists the ResourceQuotas of one namespace (or all) into b.Quotas, sorted by namespace and name.
// A refused list (403) is errQuotasForbidden; any other failure fails the collection like the other lists.
func (s *Source) quotas(ctx context.Context, b *metrics.Batch, ns, where string) error {
	qs, err := listAll(ctx, s, "resourcequotas "+where, func(o metav1.ListOptions) ([]corev1.ResourceQuota, string, error) {
		l, err := s.kube.CoreV1().ResourceQuotas(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("%w: %w", errQuotasForbidden, err)
		}
		return err
	}
	first := len(b.Quotas)
	for i := range qs {
		if q, ok := Quota(&qs[i]); ok {
			b.Quotas = append(b.Quotas, q)
		}
	}
	added := b.Quotas[first:]
	sort.Slice(added, func(i, j int) bool {
		if added[i].Namespace != added[j].Namespace {
			return added[i].Namespace < added[j].Namespace
		}
		return added[i].Name < added[j].Name
	})
	return nil
}

// Quota converts a ResourceQuota: spec.hard and status.used of the metrics.QuotaResources (cores, bytes,
// pods), and its scopes. When a quota sets both a shorthand and its requests.* name, the smaller hard
// applies (the API server enforces both) and the larger used is kept. ok is false when the quota limits none
// of the QuotaResources (object counts, storage, extended resources).
func Quota(q *corev1.ResourceQuota) (metrics.ResourceQuota, bool) {
	out := metrics.ResourceQuota{Namespace: q.Namespace, Name: q.Name, Hard: map[string]float64{}, Used: map[string]float64{}}
	for rn, v := range q.Spec.Hard {
		if name, ok := quotaNames[rn]; ok {
			if cur, seen := out.Hard[name]; !seen || quotaValue(name, v) < cur {
				out.Hard[name] = quotaValue(name, v)
			}
		}
	}
	if len(out.Hard) == 0 {
		return metrics.ResourceQuota{}, false
	}
	for rn, v := range q.Status.Used {
		if name, ok := quotaNames[rn]; ok {
			if _, limited := out.Hard[name]; !limited {
				continue
			}
			if cur, seen := out.Used[name]; !seen || quotaValue(name, v) > cur {
				out.Used[name] = quotaValue(name, v)
			}
		}
	}
	for _, sc := range q.Spec.Scopes {
		out.Scopes = append(out.Scopes, string(sc))
	}
	if sel := q.Spec.ScopeSelector; sel != nil {
		for _, e := range sel.MatchExpressions {
			term := fmt.Sprintf("%s %s", e.ScopeName, e.Operator)
			if len(e.Values) > 0 {
				term += " (" + strings.Join(e.Values, ", ") + ")"
			}
			out.Scopes = append(out.Scopes, term)
		}
	}
	return out, true
}

// quotaValue is a quota amount in cores (CPU), bytes (memory) or a count (pods).
func quotaValue(name string, q resource.Quantity) float64 {
	switch name {
	case metrics.QuotaRequestsCPU, metrics.QuotaLimitsCPU:
		return float64(q.MilliValue()) / 1000
	}
	return q.AsApproximateFloat64()
}

// podReady reports whether the pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PoolOf names the pool of a node with the given labels: the value of planLabel (the plan's nodePoolLabel)
// when set on the node, else of the first of PoolLabels it carries; "" when none.
func PoolOf(labels map[string]string, planLabel string) string {
	if planLabel != "" {
		if v := labels[planLabel]; v != "" {
			return v
		}
	}
	for _, l := range PoolLabels {
		if v := labels[l]; v != "" {
			return v
		}
	}
	return ""
}

func zoneOf(labels map[string]string) string {
	if z := labels[corev1.LabelTopologyZone]; z != "" {
		return z
	}
	return labels[corev1.LabelFailureDomainBetaZone]
}

func cores(rl corev1.ResourceList) float64 {
	q, ok := rl[corev1.ResourceCPU]
	if !ok {
		return 0
	}
	return float64(q.MilliValue()) / 1000
}

func bytes(rl corev1.ResourceList) float64 {
	q, ok := rl[corev1.ResourceMemory]
	if !ok {
		return 0
	}
	return q.AsApproximateFloat64()
}

// Requests returns the requests of one replica of a pod spec, as the scheduler counts them: the larger of
// the sum over containers and the largest init container, plus the pod overhead; in cores and bytes.
func Requests(spec *corev1.PodSpec) (cpu, mem float64) {
	sum := corev1.ResourceList{}
	for _, c := range spec.Containers {
		addTo(sum, c.Resources.Requests)
	}
	for _, c := range spec.InitContainers {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := c.Resources.Requests[r]; ok {
				if cur, ok := sum[r]; !ok || q.Cmp(cur) > 0 {
					sum[r] = q.DeepCopy()
				}
			}
		}
	}
	addTo(sum, spec.Overhead)
	return cores(sum), bytes(sum)
}

func addTo(sum, rl corev1.ResourceList) {
	for r, q := range rl {
		cur := sum[r]
		if cur.IsZero() && cur.Format == "" {
			cur = resource.Quantity{Format: q.Format}
		}
		cur.Add(q)
		sum[r] = cur
	}
}
