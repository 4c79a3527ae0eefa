package actuator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"

	"github.com/headroom-dev/headroom/policy"
)

// Annotations headroom writes on the objects it changes.
const (
	// AnnotationLastDecision holds the last decision that changed the object, as compact JSON
	// (see LastDecision).
	AnnotationLastDecision = "headroom.dev/last-decision"
	// AnnotationOriginalMinReplicas holds, on an HPA whose minReplicas headroom raised, the user's own
	// minReplicas, restored when the plan no longer needs the raise.
	AnnotationOriginalMinReplicas = "headroom.dev/original-min-replicas"
)

// Event reasons.
const (
	EventScaled       = "HeadroomScaled"
	EventHeld         = "HeadroomHeld"
	EventFailed       = "HeadroomFailed"
	EventNotConverged = "HeadroomNotConverged"
)

// Decision-log actions (store.Decision.Action) that Kube writes.
const (
	LogScale        = "scale"         // replicas changed
	LogFloor        = "floor"         // an HPA's minReplicas changed (raised or restored)
	LogHold         = "hold"          // the count already was the desired one: nothing written
	LogFailed       = "failed"        // the change could not be made; Reason has the error
	LogDryRun       = "dry-run"       // a dry run's change, admitted by the API server and not persisted
	LogConverged    = "converged"     // a previous change reached its count (Ready pods or nodes)
	LogNotConverged = "not-converged" // a previous change has not (yet) reached its count; Reason says why
	LogLeadTime     = "lead-time"     // a measured lead time; Detail is LeadTimeDetail
)

// ErrNoPoolProvider is returned by Kube.SetPoolSize for a pool without a PoolSizer.
var ErrNoPoolProvider = errors.New("actuator: no provider for node pool")

// PoolSizer sets the size of node pools of one provider (Cluster API, GKE, balloon).
type PoolSizer interface {
	SetPoolSize(ctx context.Context, now time.Time, pool string, nodes int, reason string) (Action, error)
}

// TargetOptions say how Kube acts on one target. The zero value scales the
// target through its /scale subresource, found by Kind through discovery.
type TargetOptions struct {
	// APIVersion of the target ("apps/v1", "cluster.x-k8s.io/v1beta1"); "" finds the Kind through
	// discovery (the preferred version of the first group serving it).
	APIVersion string
	// Mode: policy.ModeScale (and the zero value) sets replicas through /scale; policy.ModeHPAFloor
	// sets the minReplicas of the target's HPA and never touches the target's scale;
	// policy.ModeRecommend never writes (every call is a hold).
	Mode policy.Mode
	// HPA names the HorizontalPodAutoscaler in hpa-floor mode; "" finds the HPA of the target's
	// namespace whose scaleTargetRef names the target (one get, a list when that misses).
	HPA string
}

// KubeOptions configure Kube. The zero value scales every target through
// /scale, retries 5 conflicts, records Events and annotations and keeps no
// decision log.
type KubeOptions struct {
	// DryRun sends every write with dryRun=All: the API server validates and admits it (webhooks
	// included) and persists nothing. Events are not written and decision-log rows say "dry-run".
	DryRun bool
	// Targets holds per-target options; targets not in it get the zero TargetOptions.
	Targets map[policy.Target]TargetOptions
	// Conflicts bounds the re-reads after a 409 Conflict in one call; 0 means 5, negative none.
	Conflicts int
	// Log receives a decision-log row per action; nil keeps none.
	Log DecisionLog
	// Pools sets node-pool sizes by pool name: SetPoolSize delegates to it and records the row.
	Pools map[string]PoolSizer
	// PoolLabel is the plan's node label naming pools (spec.history.nodePoolLabel), tried before
	// metrics/kube's PoolLabels when checking that a pool converged.
	PoolLabel string
	// PoolEventObject, when set, names the object that Events of node-pool actions go on when the
	// pool's provider has no Kubernetes object of its own (GKE): headroom run passes its Lease's
	// Object. Nil, or a nil answer: such actions get a decision-log row and no Event.
	PoolEventObject func() *corev1.ObjectReference
	// EventWindow: an Event equal to one written less than EventWindow before (same object, type,
	// reason and message) is counted on it (count, lastTimestamp) instead of stored anew; 0 means
	// DefaultEventWindow, negative stores every Event as a new object.
	EventWindow time.Duration
	// Component is the Events' source component and reporting controller; "" means "headroom".
	Component string
	// Instance is the Events' reporting instance; "" means the host name (the pod's name in a cluster).
	Instance string
	// BeforeUpdate, when set, runs between reading a target and writing it, with the attempt number
	// (0 first). Tests use it to make a concurrent writer's conflict deterministic.
	BeforeUpdate func(ctx context.Context, t policy.Target, attempt int)
}

// Client-side rate limits NewKube sets on a rest.Config without its own.
const (
	DefaultQPS   = 100
	DefaultBurst = 200
)

// KubeClients are the clients Kube works through. NewKube builds them from a
// rest.Config; tests may pass their own.
type KubeClients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Scales  scale.ScalesGetter
	// Mapper maps kinds to resources; a meta.ResettableRESTMapper is reset once when a kind is not
	// found (a CRD installed after the first lookup).
	Mapper meta.RESTMapper
}

// Kube is the Kubernetes actuator: it sets replicas through the /scale
// subresource of any scalable kind, or HPA floors in hpa-floor mode, writes
// only when the count differs, retries conflicts by re-reading and
// re-planning, and records every action as an Event, an annotation and a
// decision-log row. It is safe for concurrent use.
type Kube struct {
	c   KubeClients
	opt KubeOptions

	// hpas caches, per run, each namespace's HPA list for checkNoHPA.
	hpas runCache[[]autoscalingv2.HorizontalPodAutoscaler]
	// events caches, per run, each namespace's headroom Events for event.
	events runCache[*nsEvents]
}

var _ Actuator = (*Kube)(nil)

// NewKube builds the actuator's clients from cfg: a clientset, a dynamic
// client, and a scale client over a discovery REST mapper (a memory-cached
// discovery client), so Deployments, StatefulSets and custom resources with a
// scale subresource are all reached the same way.
//
// A cfg without a rate limit of its own (QPS 0, which client-go reads as 5
// requests per second, burst 10) gets DefaultQPS and DefaultBurst: a run
// reads each target's scale and writes an Event per target, and at 5
// requests per second 1,000 targets would take 7 minutes. The API server's
// priority and fairness still protects it.
func NewKube(cfg *rest.Config, o KubeOptions) (*Kube, error) {
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = DefaultQPS, DefaultBurst
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("actuator: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("actuator: %w", err)
	}
	cached := memory.NewMemCacheClient(kc.Discovery())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	sc, err := scale.NewForConfig(cfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cached))
	if err != nil {
		return nil, fmt.Errorf("actuator: %w", err)
	}
	return NewKubeFromClients(KubeClients{Kube: kc, Dynamic: dc, Scales: sc, Mapper: mapper}, o)
}

// NewKubeFromClients returns the actuator over existing clients.
func NewKubeFromClients(c KubeClients, o KubeOptions) (*Kube, error) {
	if c.Kube == nil || c.Dynamic == nil || c.Scales == nil || c.Mapper == nil {
		return nil, errors.New("actuator: NewKubeFromClients needs all four clients")
	}
	if o.Component == "" {
		o.Component = "headroom"
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
	}
	return &Kube{c: c, opt: o}, nil
}

// Replan re-plans after a conflict: given the count now in the cluster
// (replicas, or the HPA's minReplicas in hpa-floor mode) it returns the count
// to set and the reason.
type Replan func(current int32) (desired int32, reason string)

// Request is one change for Apply.
type Request struct {
	Target  policy.Target
	Desired int32
	Reason  string
	// Replan is called after each 409 Conflict with the count re-read; nil keeps Desired.
	Replan Replan
	// Warnings are the decision's warnings the object's Event must carry
	// (headroom run passes the QUOTA: ones): a change made with them is
	// recorded as a Warning Event (reason HeadroomScaled), its message the
	// change, the reason and the warnings.
	Warnings []string
}

// Applier is an Actuator that re-plans on conflicts (Kube does): a
// caller holding an Actuator type-asserts to it to pass a Replan.
type Applier interface {
	Actuator
	Apply(ctx context.Context, now time.Time, r Request) (Action, error)
}

var _ Applier = (*Kube)(nil)

// SetReplicas sets the target's replicas (or its HPA's minReplicas in
// hpa-floor mode), without re-planning on conflicts.
func (k *Kube) SetReplicas(ctx context.Context, now time.Time, t policy.Target, replicas int32, reason string) (Action, error) {
	return k.Apply(ctx, now, Request{Target: t, Desired: replicas, Reason: reason})
}

// Apply makes one change, in the target's mode (KubeOptions.Targets): it
// reads the current count, writes only when it differs, carrying the
// resourceVersion it read, and on a 409 Conflict re-reads, re-plans (through
// r.Replan) and retries up to KubeOptions.Conflicts times. It records the
// action (Event, annotation on change, decision-log row) whatever the
// outcome; recording failures are returned in Action.Warnings, not as the
// error. An error means nothing was changed, or, when the connection was
// lost or timed out during the write itself, that the change is
// unconfirmed (the next read shows which).
func (k *Kube) Apply(ctx context.Context, now time.Time, r Request) (Action, error) {
	to := k.opt.Targets[r.Target]
	var (
		a   Action
		obj objectRef
		err error
	)
	switch to.Mode {
	case policy.ModeHPAFloor:
		a, obj, err = k.floor(ctx, now, r, to)
	case policy.ModeRecommend:
		a, obj, err = k.recommend(ctx, now, r, to)
	default:
		a, obj, err = k.scale(ctx, now, r, to)
	}
	k.record(ctx, now, &a, obj, err, r.Warnings)
	return a, err
}

func (k *Kube) conflicts() int {
	switch {
	case k.opt.Conflicts == 0:
		return 5
	case k.opt.Conflicts < 0:
		return 0
	}
	return k.opt.Conflicts
}

func (k *Kube) dryRun() []string {
	if k.opt.DryRun {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// mapping finds the target's resource.
func (k *Kube) mapping(t policy.Target, apiVersion string) (*meta.RESTMapping, error) {
	m, err := k.mappingOnce(t, apiVersion)
	if meta.IsNoMatchError(err) {
		if rm, ok := k.c.Mapper.(meta.ResettableRESTMapper); ok {
			rm.Reset()
			m, err = k.mappingOnce(t, apiVersion)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("actuator: %s: %w", t, err)
	}
	return m, nil
}

func (k *Kube) mappingOnce(t policy.Target, apiVersion string) (*meta.RESTMapping, error) {
	if apiVersion != "" {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return nil, err
		}
		return k.c.Mapper.RESTMapping(gv.WithKind(t.Kind).GroupKind(), gv.Version)
	}
	gvk, err := k.c.Mapper.KindFor(schema.GroupVersionResource{Resource: strings.ToLower(t.Kind)})
	if err != nil {
		return nil, err
	}
	if gvk.Kind != t.Kind {
		return nil, &meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: t.Kind}}
	}
	return k.c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// objectRef names the object an action is recorded on.
type objectRef struct {
	gvr        schema.GroupVersionResource
	apiVersion string
	kind       string
	namespace  string
	name       string
	uid        string
	rv         string
}

func (o objectRef) known() bool { return o.name != "" && o.kind != "" }

func targetRef(t policy.Target, m *meta.RESTMapping) objectRef {
	o := objectRef{kind: t.Kind, namespace: t.Namespace, name: t.Name}
	if m != nil {
		o.gvr, o.apiVersion = m.Resource, m.GroupVersionKind.GroupVersion().String()
	}
	return o
}

// scale sets replicas through the /scale subresource.
func (k *Kube) scale(ctx context.Context, now time.Time, r Request, to TargetOptions) (Action, objectRef, error) {
	t := r.Target
	a := Action{Time: now, Kind: KindReplicas, Target: t, From: -1, To: int(r.Desired), Reason: r.Reason, DryRun: k.opt.DryRun, Mode: policy.ModeScale.String()}
	m, err := k.mapping(t, to.APIVersion)
	ref := targetRef(t, m)
	if err != nil {
		return a, ref, err
	}
	desired, reason := r.Desired, r.Reason
	decide := func(ctx context.Context, cur *autoscalingv1.Scale, attempt int) (int32, bool, error) {
		ref.uid, ref.rv = string(cur.UID), cur.ResourceVersion
		a.From = int(cur.Spec.Replicas)
		if attempt > 0 && r.Replan != nil {
			desired, reason = r.Replan(cur.Spec.Replicas)
			a.To, a.Reason = int(desired), reason
		}
		if desired < 0 {
			return 0, false, fmt.Errorf("actuator: %s: negative replicas %d", t, desired)
		}
		if cur.Spec.Replicas == desired {
			return desired, false, nil
		}
		if attempt == 0 {
			if err := k.checkNoHPA(ctx, now, t); err != nil {
				return 0, false, err
			}
		}
		if k.opt.BeforeUpdate != nil {
			k.opt.BeforeUpdate(ctx, t, attempt)
		}
		return desired, true, nil
	}
	res, err := updateScale(ctx, k.c.Scales, m.Resource.GroupResource(), t.Namespace, t.Name, decide, k.backoff(),
		metav1.UpdateOptions{DryRun: k.dryRun(), FieldManager: k.opt.Component})
	a.Conflicts = res.Conflicts
	if res.Written != nil {
		a.Changed = true
		ref.rv = res.Written.ResourceVersion
	}
	var se *scaleError
	if errors.As(err, &se) {
		err = fmt.Errorf("actuator: %s: %w", t, err)
	}
	return a, ref, err
}

// recommend reads the count and writes nothing.
func (k *Kube) recommend(ctx context.Context, now time.Time, r Request, to TargetOptions) (Action, objectRef, error) {
	t := r.Target
	a := Action{Time: now, Kind: KindReplicas, Target: t, From: -1, To: int(r.Desired), Reason: r.Reason, DryRun: k.opt.DryRun, Mode: policy.ModeRecommend.String()}
	m, err := k.mapping(t, to.APIVersion)
	ref := targetRef(t, m)
	if err != nil {
		return a, ref, err
	}
	cur, err := k.c.Scales.Scales(t.Namespace).Get(ctx, m.Resource.GroupResource(), t.Name, metav1.GetOptions{})
	if err != nil {
		return a, ref, fmt.Errorf("actuator: %s: read scale: %w", t, err)
	}
	ref.uid, ref.rv = string(cur.UID), cur.ResourceVersion
	a.From = int(cur.Spec.Replicas)
	if a.From != a.To {
		a.Reason = fmt.Sprintf("recommend mode, not applied: %d → %d: %s", a.From, a.To, r.Reason)
		a.To = a.From
	}
	return a, ref, nil
}

// backoff is Kube's wait between conflicts: KubeOptions.Conflicts re-reads
// (conflicts()+1 attempts), 10 ms, 20 ms, 40 ms, … apart.
func (k *Kube) backoff() wait.Backoff {
	return wait.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: k.conflicts() + 1}
}

// SetPoolSize sets a node pool's size through the pool's PoolSizer
// (KubeOptions.Pools) and records it as a workload action is: an Event
// (HeadroomScaled, HeadroomHeld, HeadroomFailed) on the pool's object
// (Action.Object: the MachineDeployment, the balloon Deployment; else
// KubeOptions.PoolEventObject, the run's Lease) and a decision-log row.
func (k *Kube) SetPoolSize(ctx context.Context, now time.Time, pool string, nodes int, reason string) (Action, error) {
	p := k.opt.Pools[pool]
	var (
		a   Action
		err error
	)
	if p == nil {
		a = Action{Time: now, Kind: KindPoolSize, Pool: pool, From: -1, To: nodes, Reason: reason}
		err = fmt.Errorf("%w %q", ErrNoPoolProvider, pool)
	} else {
		a, err = p.SetPoolSize(ctx, now, pool, nodes, reason)
	}
	k.record(ctx, now, &a, k.poolRef(a.Object), err, nil)
	return a, err
}

// poolRef is the object a pool's Events go on: the provider's, else
// KubeOptions.PoolEventObject's (unknown when neither names one).
func (k *Kube) poolRef(obj *corev1.ObjectReference) objectRef {
	if obj == nil && k.opt.PoolEventObject != nil {
		obj = k.opt.PoolEventObject()
	}
	if obj == nil {
		return objectRef{}
	}
	return objectRef{apiVersion: obj.APIVersion, kind: obj.Kind, namespace: obj.Namespace, name: obj.Name, uid: string(obj.UID), rv: obj.ResourceVersion}
}

// ErrHPAManaged is wrapped by the error of a scale-mode change to a
// workload that a HorizontalPodAutoscaler scales.
var ErrHPAManaged = errors.New("actuator: the workload has a HorizontalPodAutoscaler")

// checkNoHPA refuses to scale a workload an HPA scales: the two would
// fight, each undoing the other's count. hpa-floor mode is the way to plan
// such a workload. It runs before a change only (holds write nothing and
// cost nothing more), on the namespace's HPAs listed once per run (see
// runCache): a run of 1,000 changes in 100 namespaces lists 100 times, not
// 1,000.
func (k *Kube) checkNoHPA(ctx context.Context, now time.Time, t policy.Target) error {
	hpas, err := k.hpas.list(ctx, now, t.Namespace, func(ctx context.Context) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
		l, err := k.c.Kube.AutoscalingV2().HorizontalPodAutoscalers(t.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	})
	if err != nil {
		return fmt.Errorf("actuator: %s: list HPAs: %w", t, err)
	}
	for i := range hpas {
		if scales(&hpas[i], t) {
			return fmt.Errorf("%w: %s is scaled by HPA %s; use mode hpa-floor to raise its minReplicas instead of fighting it", ErrHPAManaged, t, hpas[i].Name)
		}
	}
	return nil
}

// runCache holds, for one run, a value listed once per namespace: each
// namespace's HPAs (checkNoHPA) and headroom's own Events (event). A run is
// told by its time: every call of one cycle passes the cycle's now (the
// runner does), so the first call with another now drops the lists of the
// previous run. Concurrent callers in one namespace share one list
// request. A failed list is not kept: the next caller in the namespace
// tries again.
//
// The price, for HPAs: an HPA created in a namespace after the run listed
// it is not seen until the next run, so that run may still scale the
// workload once (the HPA then takes it over, and the next run refuses with
// ErrHPAManaged). The window is one run's apply phase, seconds.
type runCache[T any] struct {
	mu  sync.Mutex
	run time.Time
	ns  map[string]*runList[T]
}

type runList[T any] struct {
	done  chan struct{} // closed when items and err are set
	items T
	err   error
}

func (c *runCache[T]) list(ctx context.Context, now time.Time, ns string, fetch func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	if c.ns == nil || !c.run.Equal(now) {
		c.run, c.ns = now, map[string]*runList[T]{}
	}
	l, ok := c.ns[ns]
	if !ok {
		l = &runList[T]{done: make(chan struct{})}
		c.ns[ns] = l
	}
	m := c.ns
	c.mu.Unlock()
	if ok {
		select {
		case <-l.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		if l.err == nil {
			return l.items, nil
		}
		return fetch(ctx) // the list this call waited on failed: try again, uncached
	}
	l.items, l.err = fetch(ctx)
	if l.err != nil {
		c.mu.Lock()
		if m[ns] == l {
			delete(m, ns)
		}
		c.mu.Unlock()
	}
	close(l.done)
	return l.items, l.err
}
