package actuator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kubefake "k8s.io/client-go/kubernetes/fake"
	scalefake "k8s.io/client-go/scale/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/policy"
)

var _ interface {
	SetPoolSize(ctx context.Context, now time.Time, pool string, nodes int, reason string) (Action, error)
} = (*Pools)(nil)

// recorder is a PoolProvider that records its requests.
type recorder struct {
	mu   sync.Mutex
	reqs []PoolRequest
}

func (r *recorder) SetPool(_ context.Context, now time.Time, req PoolRequest) (Action, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return Action{Time: now, Kind: KindPoolSize, Pool: req.Pool, From: 1, To: req.Nodes, Changed: req.Nodes != 1}, nil
}

func TestPoolsDispatch(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	p := NewPools(map[string]PoolProvider{"general": a, "spot": b, "manual": Recommend{}})
	ctx, now := context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.SetPlan(policy.PoolPlan{Pools: []policy.PoolResult{{Name: "spot", Nodes: 7, DemandNodes: 5}}})
	if _, err := p.SetPoolSize(ctx, now, "general", 4, "forecast"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetPoolSize(ctx, now, "spot", 7, "forecast"); err != nil {
		t.Fatal(err)
	}
	if len(a.reqs) != 1 || a.reqs[0] != (PoolRequest{Pool: "general", Nodes: 4, DemandNodes: -1, Reason: "forecast"}) {
		t.Errorf("general got %+v", a.reqs)
	}
	if len(b.reqs) != 1 || b.reqs[0].DemandNodes != 5 || b.reqs[0].Nodes != 7 {
		t.Errorf("spot got %+v", b.reqs)
	}
	act, err := p.SetPoolSize(ctx, now, "manual", 3, "forecast")
	if err != nil || act.Changed || act.To != 3 || !strings.Contains(act.Reason, "provider none") {
		t.Errorf("none: %+v, %v", act, err)
	}
	if _, err := p.SetPoolSize(ctx, now, "gpu", 3, ""); !errors.Is(err, ErrUnknownPool) || !strings.Contains(err.Error(), `"gpu"`) {
		t.Errorf("unknown pool: %v", err)
	}
	if _, err := p.SetPoolSize(ctx, now, "general", -1, ""); err == nil || len(a.reqs) != 1 {
		t.Errorf("negative size: %v, %d requests", err, len(a.reqs))
	}
	if got := strings.Join(p.Names(), ","); got != "general,manual,spot" {
		t.Errorf("names %s", got)
	}
}

// scaleFake serves one MachineDeployment's scale subresource; conflicts
// answers the next updates with 409.
func scaleFake(replicas int32, conflicts int) (*scalefake.FakeScaleClient, *int32, *int) {
	f := &scalefake.FakeScaleClient{}
	updates := 0
	f.AddReactor("get", "machinedeployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "md", Namespace: "capi", ResourceVersion: "7"},
			Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}, nil
	})
	f.AddReactor("update", "machinedeployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		updates++
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(MachineDeployments, "md", errors.New("the object has been modified"))
		}
		s := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		replicas = s.Spec.Replicas
		return true, s, nil
	})
	return f, &replicas, &updates
}

func TestClusterAPIConflicts(t *testing.T) {
	ctx, now := context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fast := wait.Backoff{Steps: 5, Duration: time.Microsecond}
	t.Run("retried", func(t *testing.T) {
		f, replicas, updates := scaleFake(3, 2)
		c := &ClusterAPI{Scales: f, Namespace: "capi", Name: "md", Retry: fast}
		a, err := c.SetPool(ctx, now, PoolRequest{Pool: "general", Nodes: 6})
		if err != nil || a.From != 3 || a.To != 6 || !a.Changed || *replicas != 6 || *updates != 3 {
			t.Fatalf("%+v, %v; replicas %d after %d updates", a, err, *replicas, *updates)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		f, replicas, updates := scaleFake(3, 100)
		c := &ClusterAPI{Scales: f, Namespace: "capi", Name: "md", Retry: fast}
		a, err := c.SetPool(ctx, now, PoolRequest{Pool: "general", Nodes: 6})
		if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "conflicts persisted") || a.Changed || a.From != 3 {
			t.Fatalf("%+v, %v", a, err)
		}
		if *updates != 5 || *replicas != 3 {
			t.Errorf("%d updates, replicas %d; want 5 attempts, unchanged", *updates, *replicas)
		}
	})
	t.Run("unchanged", func(t *testing.T) {
		f, _, updates := scaleFake(6, 0)
		c := &ClusterAPI{Scales: f, Namespace: "capi", Name: "md"}
		a, err := c.SetPool(ctx, now, PoolRequest{Pool: "general", Nodes: 6})
		if err != nil || a.Changed || a.From != 6 || *updates != 0 {
			t.Fatalf("%+v, %v, %d updates", a, err, *updates)
		}
	})
}

// A 4-CPU, 16 GiB machine with 200m and 512 MiB of overhead leaves 3800m
// and 15.5 GiB; two pods a node take 1900m and 7.75 GiB (8321499136 bytes).
func TestBalloonShare(t *testing.T) {
	cpu, mem := BalloonShare(resource.MustParse("4"), resource.MustParse("16Gi"), resource.MustParse("200m"), resource.MustParse("512Mi"), 2)
	if cpu.MilliValue() != 1900 || mem.Value() != 8321499136 {
		t.Errorf("share %s %s (%d bytes)", cpu.String(), mem.String(), mem.Value())
	}
	// 3 pods of 1000m − 0: 333m each, rounded down so that 3 fit.
	cpu, _ = BalloonShare(resource.MustParse("1"), resource.MustParse("1Gi"), resource.Quantity{}, resource.Quantity{}, 3)
	if cpu.MilliValue() != 333 {
		t.Errorf("cpu %s", cpu.String())
	}
}

// The balloon against client-go's fake clientset: sizes, holds and
// idempotence. The real API server test is in test/kube/integration.
func TestBalloonFake(t *testing.T) {
	ctx, now := context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cs := kubefake.NewClientset()
	b := &Balloon{Client: cs, Namespace: "headroom", Name: "headroom-balloon-spot", PriorityClass: "headroom-balloon",
		PodsPerNode: 2, CPU: resource.MustParse("1900m"), Memory: resource.MustParse("7Gi")}
	a, err := b.SetPool(ctx, now, PoolRequest{Pool: "spot", Nodes: 8, DemandNodes: -1})
	if err != nil || a.Changed || !strings.Contains(a.Reason, "held") || len(cs.Actions()) != 0 {
		t.Fatalf("unknown demand: %+v, %v, %d calls", a, err, len(cs.Actions()))
	}
	// 8 planned − 5 demand = 3 headroom nodes = 6 pods.
	a, err = b.SetPool(ctx, now, PoolRequest{Pool: "spot", Nodes: 8, DemandNodes: 5})
	if err != nil || !a.Changed || a.From != -1 || a.To != 8 {
		t.Fatalf("create: %+v, %v", a, err)
	}
	d, err := cs.AppsV1().Deployments("headroom").Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 6 || d.Labels["app.kubernetes.io/managed-by"] != "headroom" {
		t.Fatalf("deployment %+v, %v", d, err)
	}
	pc, err := cs.SchedulingV1().PriorityClasses().Get(ctx, "headroom-balloon", metav1.GetOptions{})
	if err != nil || pc.Value != -10 || pc.GlobalDefault {
		t.Fatalf("priority class %+v, %v", pc, err)
	}
	a, err = b.SetPool(ctx, now, PoolRequest{Pool: "spot", Nodes: 8, DemandNodes: 5})
	if err != nil || a.Changed || a.From != 8 {
		t.Fatalf("again: %+v, %v", a, err)
	}
	// Demand above the plan (clamped by the pool's max): no headroom.
	a, err = b.SetPool(ctx, now, PoolRequest{Pool: "spot", Nodes: 8, DemandNodes: 9})
	if err != nil || !a.Changed || a.From != 9+3 || a.To != 9 {
		t.Fatalf("no headroom: %+v, %v", a, err)
	}
	d, _ = cs.AppsV1().Deployments("headroom").Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if *d.Spec.Replicas != 0 {
		t.Errorf("replicas %d, want 0", *d.Spec.Replicas)
	}
}

func TestNewPoolsFromPlan(t *testing.T) {
	p, err := config.Load("p.yaml", []byte(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: shop}
spec:
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: 500m, memory: 512Mi}
      replicas: {max: 4}
  nodePools:
    - {name: general, provider: cluster-api, machine: {cpu: 4, memory: 16Gi}, size: {max: 9}, clusterAPI: {namespace: capi}}
    - {name: spot, provider: balloon, machine: {cpu: 4, memory: 16Gi}, overhead: {cpu: 200m, memory: 512Mi}, size: {max: 9}}
    - {name: manual, machine: {cpu: 4, memory: 16Gi}, size: {max: 9}}
    - {name: gpu, provider: gke, machine: {cpu: 4, memory: 16Gi}, size: {max: 9}, gke: {project: a, location: b, cluster: c}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPoolsFromPlan(p, PoolClients{Scales: &scalefake.FakeScaleClient{}, Kube: kubefake.NewClientset()}); err == nil ||
		!strings.Contains(err.Error(), "spec.nodePools[3] (gpu): provider gke needs a GKE client") {
		t.Fatalf("missing GKE client: %v", err)
	}
	p.Spec.NodePools = p.Spec.NodePools[:3]
	pools, err := NewPoolsFromPlan(p, PoolClients{Scales: &scalefake.FakeScaleClient{}, Kube: kubefake.NewClientset(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := pools.Provider("general").(*ClusterAPI)
	if !ok || c.Namespace != "capi" || c.Name != "general" || !c.DryRun {
		t.Errorf("general: %#v", pools.Provider("general"))
	}
	b, ok := pools.Provider("spot").(*Balloon)
	if !ok || b.CPU.MilliValue() != 3800 || b.Memory.Value() != 31<<29 || b.Namespace != "headroom" || b.Name != "headroom-balloon-spot" {
		t.Errorf("spot: %#v", pools.Provider("spot"))
	}
	if _, ok := pools.Provider("manual").(Recommend); !ok {
		t.Errorf("manual: %#v", pools.Provider("manual"))
	}
}

// Pools is used from the runner's parallel apply: demand updates and
// dispatches from many goroutines (run under -race).
func TestPoolsConcurrent(t *testing.T) {
	r := &recorder{}
	p := NewPools(map[string]PoolProvider{"a": r, "b": r})
	ctx, now := context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool := []string{"a", "b"}[i%2]
			p.SetDemand(pool, i)
			if _, err := p.SetPoolSize(ctx, now, pool, i, ""); err != nil {
				t.Error(err)
			}
			_ = p.Sizers()
		}()
	}
	wg.Wait()
	if len(r.reqs) != 50 {
		t.Fatalf("%d requests, want 50", len(r.reqs))
	}
}
