package integration_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/scale"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

func createMachineDeployment(t *testing.T, s *harness.Server, ns, name string, replicas int64) dynamic.ResourceInterface {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(s.Config()).Resource(harness.MachineDeployments).Namespace(ns)
	if _, err := dyn.Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"clusterName": "prod", "replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"pool": name}},
			"template": map[string]any{"spec": map[string]any{"clusterName": "prod", "bootstrap": map[string]any{}}}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return dyn
}

func mdReplicas(t *testing.T, dyn dynamic.ResourceInterface, name string) (int64, string) {
	t.Helper()
	u, err := dyn.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
	return r, u.GetResourceVersion()
}

// TestPoolsClusterAPI scales a MachineDeployment through its /scale
// subresource with a service account that has exactly the cluster-api pool
// rule: writes only on change (the resourceVersion stays put on a second
// run), a server-side dry run stores nothing, 409s from the fault proxy are
// retried and, when they persist, fail after a bounded number of attempts
// with nothing written.
func TestPoolsClusterAPI(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	dyn := createMachineDeployment(t, s, ns, "general", 3)

	cluster, _ := actuator.PoolRules(poolsPlan(t, ns, "unused"))
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "headroom"), cluster[0]) // machinedeployments/scale only
	cfg := s.ServiceAccountConfig(t, ns, "headroom")
	p := s.FaultProxy(t)
	sa := p.Through(cfg)
	provider := func(cfg *rest.Config, dry bool) *actuator.ClusterAPI {
		return &actuator.ClusterAPI{Scales: harness.ScaleClient(t, cfg), Namespace: ns, Name: "general", DryRun: dry,
			Retry: wait.Backoff{Steps: 4, Duration: 1}}
	}

	a, err := provider(sa, false).SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 5, DemandNodes: -1, Reason: "forecast"})
	if err != nil || !a.Changed || a.From != 3 || a.To != 5 {
		t.Fatalf("scale up: %+v, %v", a, err)
	}
	r, rv := mdReplicas(t, dyn, "general")
	if r != 5 {
		t.Fatalf("replicas %d, want 5", r)
	}
	a, err = provider(sa, false).SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 5, DemandNodes: -1})
	if _, rv2 := mdReplicas(t, dyn, "general"); err != nil || a.Changed || rv2 != rv {
		t.Fatalf("second run: %+v, %v; resourceVersion %s → %s", a, err, rv, rv2)
	}

	// Server-side dry run: admitted, reported, not stored.
	a, err = provider(sa, true).SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 9, DemandNodes: -1})
	if r, _ := mdReplicas(t, dyn, "general"); err != nil || !a.Changed || !a.DryRun || r != 5 {
		t.Fatalf("dry run: %+v, %v, replicas %d", a, err, r)
	}

	// Two conflicts, then the write goes through.
	f := p.Inject(harness.Fault{Method: "PUT", PathContains: "/machinedeployments/general/scale", Times: 2, Status: http.StatusConflict})
	a, err = provider(sa, false).SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 7, DemandNodes: -1})
	if r, _ := mdReplicas(t, dyn, "general"); err != nil || !a.Changed || r != 7 || f.Hits() != 2 {
		t.Fatalf("after 2 conflicts: %+v, %v, replicas %d, hits %d", a, err, r, f.Hits())
	}
	// Conflicts on every write: 4 attempts, then an error; nothing written.
	p.Clear()
	f = p.Inject(harness.Fault{Method: "PUT", PathContains: "/machinedeployments/general/scale", Status: http.StatusConflict})
	a, err = provider(sa, false).SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 2, DemandNodes: -1})
	if r, _ := mdReplicas(t, dyn, "general"); !apierrors.IsConflict(err) || a.Changed || r != 7 || f.Hits() != 4 {
		t.Fatalf("persistent conflicts: %+v, %v, replicas %d, hits %d", a, err, r, f.Hits())
	}
	p.Clear()

	// A real concurrent writer: someone scales the MachineDeployment between
	// our read and our write. The write carries the resourceVersion read, so
	// the API server refuses it with 409; the retry re-reads and wins.
	raced := &racingScales{ScalesGetter: harness.ScaleClient(t, sa), race: func() {
		u, err := dyn.Get(ctx, "general", metav1.GetOptions{})
		if err == nil {
			_ = unstructured.SetNestedField(u.Object, int64(4), "spec", "replicas")
			_, err = dyn.Update(ctx, u, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Error(err)
		}
	}}
	c := &actuator.ClusterAPI{Scales: raced, Namespace: ns, Name: "general"}
	a, err = c.SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 6, DemandNodes: -1})
	if r, _ := mdReplicas(t, dyn, "general"); err != nil || raced.updates != 2 || a.From != 4 || r != 6 {
		t.Fatalf("concurrent writer: %+v, %v, replicas %d after %d updates", a, err, r, raced.updates)
	}

	// Without the rule: forbidden, and said so.
	bare := s.ServiceAccountConfig(t, ns, "nobody")
	_, err = provider(bare, false).SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "general", Nodes: 1, DemandNodes: -1})
	var se apierrors.APIStatus
	if !errors.As(err, &se) || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "pool general") {
		t.Fatalf("no rights: %v", err)
	}
}

// racingScales runs race once, just before the first scale update goes
// out: a concurrent writer between the provider's read and its write.
type racingScales struct {
	scale.ScalesGetter
	race    func()
	updates int
}

func (r *racingScales) Scales(ns string) scale.ScaleInterface {
	return racingScale{ScaleInterface: r.ScalesGetter.Scales(ns), r: r}
}

type racingScale struct {
	scale.ScaleInterface
	r *racingScales
}

func (s racingScale) Update(ctx context.Context, gr schema.GroupResource, sc *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	s.r.updates++
	if s.r.updates == 1 {
		s.r.race()
	}
	return s.ScaleInterface.Update(ctx, gr, sc, opts)
}
