package actuator

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
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
		Spec: autoscalingv1.ScaleSpec{Replicas: r}}, nil
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
		ev.Name = ev.GenerateName + strconv.FormatInt(seq.Add(1), 10) // the fake does not generate names
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
