package actuator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/scale"
	k8stesting "k8s.io/client-go/testing"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// memScales is an in-memory /scale subresource with resourceVersions: an
// update carrying a stale one is a 409, as from the API server. Safe for
// concurrent use. (The integration tests use the real API server; this
// fake lets the race detector watch Kube under concurrent calls.)
type memScales struct {
	mu       sync.Mutex
	replicas map[string]int32 // namespace/name
	rv       map[string]int
	gets     atomic.Int64
}

func (m *memScales) Scales(ns string) scale.ScaleInterface { return memScaleNS{m, ns} }

type memScaleNS struct {
	m  *memScales
	ns string
}

func (s memScaleNS) Get(ctx context.Context, gr schema.GroupResource, name string, _ metav1.GetOptions) (*autoscalingv1.Scale, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.m.gets.Add(1)
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	key := s.ns + "/" + name
	r, ok := s.m.replicas[key]
	if !ok {
		return nil, apierrors.NewNotFound(gr, name)
	}
	return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name, ResourceVersion: strconv.Itoa(s.m.rv[key]), UID: types.UID("uid-" + name)},
		Spec: autoscalingv1.ScaleSpec{Replicas: r}, Status: autoscalingv1.ScaleStatus{Replicas: r, Selector: "app=" + name}}, nil
}

func (s memScaleNS) Update(_ context.Context, gr schema.GroupResource, sc *autoscalingv1.Scale, _ metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	key := s.ns + "/" + sc.Name
	if sc.ResourceVersion != strconv.Itoa(s.m.rv[key]) {
		return nil, apierrors.NewConflict(gr, sc.Name, fmt.Errorf("the object has been modified"))
	}
	s.m.replicas[key] = sc.Spec.Replicas
	s.m.rv[key]++
	out := sc.DeepCopy()
	out.ResourceVersion = strconv.Itoa(s.m.rv[key])
	return out, nil
}

func (s memScaleNS) Patch(context.Context, schema.GroupVersionResource, string, types.PatchType, []byte, metav1.PatchOptions) (*autoscalingv1.Scale, error) {
	panic("not used")
}

// bump changes a scale behind Kube's back (a concurrent writer).
func (m *memScales) bump(key string, to int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.replicas[key] = to
	m.rv[key]++
}

// memLog is a concurrency-safe DecisionLog.
type memLog struct {
	mu   sync.Mutex
	rows []store.Decision
}

func (l *memLog) AppendDecisions(_ context.Context, ds []store.Decision) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rows = append(l.rows, ds...)
	return nil
}

// Decisions reads the rows from..to (inclusive), all workloads (Converge's read).
func (l *memLog) Decisions(_ context.Context, _ metrics.Workload, from, to time.Time) ([]store.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []store.Decision
	for _, r := range l.rows {
		if !r.T.Before(from) && !r.T.After(to) {
			out = append(out, r)
		}
	}
	return out, nil
}

var deployGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

func fakeKube(t *testing.T, ns string, names []string, o KubeOptions) (*Kube, *memScales, *fake.Clientset) {
	t.Helper()
	sc := &memScales{replicas: map[string]int32{}, rv: map[string]int{}}
	var objs []runtime.Object
	for _, n := range names {
		sc.replicas[ns+"/"+n], sc.rv[ns+"/"+n] = 1, 1
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(deployGVK)
		u.SetNamespace(ns)
		u.SetName(n)
		objs = append(objs, u)
	}
	kc := fake.NewClientset()
	var seq atomic.Int64
	kc.PrependReactor("create", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ev := a.(k8stesting.CreateAction).GetObject().(*corev1.Event)
		if ev.GenerateName != "" {
			ev.Name = ev.GenerateName + strconv.FormatInt(seq.Add(1), 10) // the fake does not generate names
		}
		return false, nil, nil
	})
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(deployGVK, meta.RESTScopeNamespace)
	k, err := NewKubeFromClients(KubeClients{Kube: kc, Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), objs...), Scales: sc, Mapper: mapper}, o)
	if err != nil {
		t.Fatal(err)
	}
	return k, sc, kc
}

// TestKubeConcurrent applies 40 targets from 40 goroutines, each meeting
// one conflict from a concurrent writer, under the race detector.
func TestKubeConcurrent(t *testing.T) {
	const n = 40
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("w%02d", i)
	}
	log := &memLog{}
	var k *Kube
	var sc *memScales
	k, sc, kc := fakeKube(t, "shop", names, KubeOptions{Log: log, BeforeUpdate: func(_ context.Context, tg policy.Target, attempt int) {
		if attempt == 0 {
			sc.bump(tg.Namespace+"/"+tg.Name, 7)
		}
	}})
	var wg sync.WaitGroup
	actions := make([]Action, n)
	errs := make([]error, n)
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg := policy.Target{Kind: "Deployment", Namespace: "shop", Name: name}
			actions[i], errs[i] = k.Apply(context.Background(), t0, Request{Target: tg, Desired: int32(2 + i%3), Reason: "forecast",
				Replan: func(cur int32) (int32, string) { return cur + int32(i%3), "re-planned" }})
		}()
	}
	wg.Wait()
	for i, a := range actions {
		// Read 1, lost to the writer's 7, re-planned 7 + i%3: a change unless i%3 == 0 (then 7 is a hold).
		want := 7 + int32(i%3)
		if errs[i] != nil || len(a.Warnings) != 0 || a.Conflicts != 1 || a.To != int(want) || a.Changed != (i%3 != 0) || sc.replicas["shop/"+names[i]] != want {
			t.Fatalf("%s: %+v %v (replicas %d, want %d)", names[i], a, errs[i], sc.replicas["shop/"+names[i]], want)
		}
	}
	// Two reads per target (first and after the conflict), one row each, one Event each.
	if got := sc.gets.Load(); got != 2*n {
		t.Fatalf("%d scale reads, want %d", got, 2*n)
	}
	if len(log.rows) != n {
		t.Fatalf("%d decision rows, want %d", len(log.rows), n)
	}
	evs, err := kc.CoreV1().Events("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(evs.Items) != n {
		t.Fatalf("%d events, %v", len(evs.Items), err)
	}
}

// TestKubeRecommendAndPools: recommend mode only reads; a pool without a
// provider is an error that names it, and is logged as failed.
func TestKubeRecommendAndPools(t *testing.T) {
	tg := policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}
	log := &memLog{}
	k, sc, _ := fakeKube(t, "shop", []string{"web"}, KubeOptions{Log: log, Targets: map[policy.Target]TargetOptions{tg: {Mode: policy.ModeRecommend}}})
	a, err := k.SetReplicas(context.Background(), t0, tg, 5, "forecast needs 5")
	if err != nil || a.Changed || a.From != 1 || a.To != 1 || a.Reason != "recommend mode, not applied: 1 → 5: forecast needs 5" || sc.replicas["shop/web"] != 1 {
		t.Fatalf("recommend: %+v %v", a, err)
	}
	_, err = k.SetPoolSize(context.Background(), t0, "gpu", 3, "")
	if err == nil || err.Error() != `actuator: no provider for node pool "gpu"` {
		t.Fatalf("pool: %v", err)
	}
	if len(log.rows) != 2 || log.rows[0].Action != LogHold || log.rows[1].Action != LogFailed || log.rows[1].Workload.Kind != "NodePool" {
		t.Fatalf("rows: %+v", log.rows)
	}
	if _, err := NewKubeFromClients(KubeClients{}, KubeOptions{}); err == nil {
		t.Fatal("no clients: no error")
	}
}

// TestKubeRecordsAfterDeadline: an action that fails because the run's
// context is done is still in the decision log.
func TestKubeRecordsAfterDeadline(t *testing.T) {
	log := &memLog{}
	k, _, _ := fakeKube(t, "shop", []string{"web"}, KubeOptions{Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := k.SetReplicas(ctx, t0, policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}, 3, "forecast")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(log.rows) != 1 || log.rows[0].Action != LogFailed || !strings.Contains(string(log.rows[0].Detail), "context canceled") {
		t.Fatalf("rows: %+v", log.rows)
	}
}

// TestKubeHPAListOncePerRun: the HPAs of a namespace are listed once per
// run (a run is told by its now), shared by concurrent changes; holds list
// nothing; a failed list is not kept; an HPA created during a run is seen
// by the next run only (the documented price).
func TestKubeHPAListOncePerRun(t *testing.T) {
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("w%02d", i)
	}
	k, sc, kc := fakeKube(t, "shop", names, KubeOptions{})
	var lists atomic.Int64
	var failNext atomic.Bool
	kc.PrependReactor("list", "horizontalpodautoscalers", func(k8stesting.Action) (bool, runtime.Object, error) {
		lists.Add(1)
		if failNext.CompareAndSwap(true, false) {
			return true, nil, apierrors.NewInternalError(errors.New("etcd is down"))
		}
		return false, nil, nil
	})
	ctx := context.Background()
	hpa := func(name, target string) {
		t.Helper()
		h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target}, MaxReplicas: 9}}
		if _, err := kc.AutoscalingV2().HorizontalPodAutoscalers("shop").Create(ctx, h, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	set := func(now time.Time, name string, n int32) (Action, error) {
		return k.SetReplicas(ctx, now, policy.Target{Kind: "Deployment", Namespace: "shop", Name: name}, n, "forecast")
	}
	hpa("w09-hpa", "w09")

	// Run 1: ten changes at once (every scale is 1), one list; w09 is refused.
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = set(t0, n, 2) }()
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 9) != errors.Is(err, ErrHPAManaged) || (i != 9 && err != nil) {
			t.Fatalf("%s: %v", names[i], err)
		}
	}
	if got := lists.Load(); got != 1 {
		t.Fatalf("run 1: %d HPA lists, want 1", got)
	}
	// An HPA created during run 1 is not seen by run 1: w00 is scaled once more.
	hpa("w00-hpa", "w00")
	if a, err := set(t0, "w00", 3); err != nil || !a.Changed || sc.replicas["shop/w00"] != 3 {
		t.Fatalf("run 1, w00 after its HPA: %+v %v", a, err)
	}
	// Run 2 lists again and sees it; a hold lists nothing.
	t1 := t0.Add(5 * time.Minute)
	if _, err := set(t1, "w00", 4); !errors.Is(err, ErrHPAManaged) || !strings.Contains(err.Error(), "HPA w00-hpa") {
		t.Fatalf("run 2, w00: %v", err)
	}
	if a, err := set(t1.Add(5*time.Minute), "w01", 2); err != nil || a.Changed {
		t.Fatalf("hold: %+v %v", a, err)
	}
	if got := lists.Load(); got != 2 {
		t.Fatalf("after run 2 and a hold: %d HPA lists, want 2", got)
	}
	// Run 4: the first list fails (that change fails, nothing written); the next change lists again.
	t3 := t0.Add(15 * time.Minute)
	failNext.Store(true)
	if _, err := set(t3, "w02", 5); err == nil || !strings.Contains(err.Error(), "list HPAs") || sc.replicas["shop/w02"] != 2 {
		t.Fatalf("failed list: %v (replicas %d)", err, sc.replicas["shop/w02"])
	}
	if _, err := set(t3, "w03", 5); err != nil || sc.replicas["shop/w03"] != 5 {
		t.Fatalf("after a failed list: %v", err)
	}
	if _, err := set(t3, "w04", 5); err != nil {
		t.Fatal(err)
	}
	// 2 + the failed one + its retry; w04 used the retry's list.
	if got := lists.Load(); got != 4 {
		t.Fatalf("run 4: %d HPA lists in all, want 4", got)
	}
}

// objectProvider is a PoolProvider that reports a change on obj (nil: a
// provider without a Kubernetes object, as GKE) or fails with err.
type objectProvider struct {
	obj *corev1.ObjectReference
	err error
}

func (p objectProvider) SetPool(_ context.Context, now time.Time, r PoolRequest) (Action, error) {
	a := Action{Time: now, Kind: KindPoolSize, Pool: r.Pool, From: 3, To: r.Nodes, Changed: r.Nodes != 3 && p.err == nil, Reason: r.Reason, Object: p.obj}
	return a, p.err
}

// TestKubePoolEvents: a pool action's Event goes on the provider's object
// (the MachineDeployment), else on PoolEventObject (the run's Lease), with
// the workload Events' reasons and the pool named in the message; with
// neither there is no Event, still a decision-log row.
func TestKubePoolEvents(t *testing.T) {
	md := &corev1.ObjectReference{APIVersion: ClusterAPIVersion, Kind: "MachineDeployment", Namespace: "capi", Name: "general", UID: "md-uid"}
	lease := &corev1.ObjectReference{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Namespace: "headroom", Name: "headroom-shop", UID: "lease-uid"}
	pools := NewPools(map[string]PoolProvider{
		"general": objectProvider{obj: md},
		"gke":     objectProvider{},
		"broken":  objectProvider{obj: md, err: errors.New("boom")},
	})
	log := &memLog{}
	var leaseRef *corev1.ObjectReference // nil until the run holds its Lease
	k, _, kc := fakeKube(t, "shop", nil, KubeOptions{Log: log, Pools: pools.Sizers(), PoolEventObject: func() *corev1.ObjectReference { return leaseRef }})
	ctx := context.Background()
	if _, err := k.SetPoolSize(ctx, t0, "gke", 5, "plan"); err != nil {
		t.Fatal(err)
	}
	leaseRef = lease
	for _, c := range []struct {
		pool  string
		nodes int
	}{{"general", 5}, {"general", 3}, {"gke", 4}, {"broken", 6}} {
		_, err := k.SetPoolSize(ctx, t0, c.pool, c.nodes, "plan")
		if (err != nil) != (c.pool == "broken") {
			t.Fatalf("%s: %v", c.pool, err)
		}
	}
	var got []string
	for _, ns := range []string{"capi", "headroom", "shop", "default"} {
		evs, err := kc.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			o := e.InvolvedObject
			got = append(got, fmt.Sprintf("%s %s/%s/%s uid=%s %s %s: %s", e.Namespace, o.Kind, o.Namespace, o.Name, o.UID, e.Type, e.Reason, e.Message))
		}
	}
	sort.Strings(got)
	want := []string{
		"capi MachineDeployment/capi/general uid=md-uid Normal HeadroomHeld: node pool general size held at 3: plan",
		"capi MachineDeployment/capi/general uid=md-uid Normal HeadroomScaled: node pool general size 3 → 5: plan",
		"capi MachineDeployment/capi/general uid=md-uid Warning HeadroomFailed: failed to set node pool broken size to 6: boom (decision: plan)",
		"headroom Lease/headroom/headroom-shop uid=lease-uid Normal HeadroomScaled: node pool gke size 3 → 4: plan",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Every action has its row, the first gke one (no Lease yet, no Event) too.
	if len(log.rows) != 5 || log.rows[0].Workload.Name != "gke" || log.rows[0].Action != LogScale || log.rows[4].Action != LogFailed {
		t.Errorf("rows: %+v", log.rows)
	}
}
