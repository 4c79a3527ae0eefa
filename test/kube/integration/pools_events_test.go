package integration_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// objectlessPool stands for a GKE pool in this suite: a provider with no
// Kubernetes object of its own (the GKE provider itself is tested against
// an HTTP server speaking container/v1 in actuator/gke_test.go).
type objectlessPool struct{ from int }

func (p objectlessPool) SetPool(_ context.Context, now time.Time, r actuator.PoolRequest) (actuator.Action, error) {
	return actuator.Action{Time: now, Kind: actuator.KindPoolSize, Pool: r.Pool, From: p.from, To: r.Nodes, Changed: r.Nodes != p.from, Reason: r.Reason}, nil
}

// describedEvents lists the Events kubectl describe shows for an object:
// it selects on the involved object's kind, name, namespace and uid. Sorted.
func describedEvents(t *testing.T, c kubernetes.Interface, ns, kind, name, uid string) []string {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "involvedObject.namespace": ns, "involvedObject.uid": uid}
	l, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		out = append(out, fmt.Sprintf("%s %s x%d: %s", e.Type, e.Reason, e.Count, e.Message))
	}
	sort.Strings(out) // one decision time: order by type, reason, message
	return out
}

// TestPoolsEvents: node-pool actions get Events as workload actions do,
// written with a ServiceAccount granted exactly actuator.KubeRules,
// actuator.PoolRules and the Lease rule. The Cluster API pool's go on its
// MachineDeployment, the balloon pool's on its Deployment, the objectless
// (GKE) pool's on the run's Lease; each is found the way kubectl describe
// finds it (by the object's uid). A dry run's Events are admitted and not
// stored, as for workloads. Without "create events" the action still
// succeeds and says what it could not record.
func TestPoolsEvents(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	c := s.Client()
	dyn := createMachineDeployment(t, s, ns, "general", 3)
	plan := poolsPlan(t, ns, ns+"-balloon")

	subject := harness.ServiceAccountSubject(ns, "headroom")
	cluster, namespaced := actuator.PoolRules(plan)
	s.Grant(t, "", subject, append(actuator.KubeRules(), cluster...)...)
	s.Grant(t, ns, subject, append(namespaced[ns], rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}})...)
	cfg := s.ServiceAccountConfig(t, ns, "headroom")
	sa := kubernetes.NewForConfigOrDie(cfg)

	lease := &actuator.Lease{Client: sa.CoordinationV1(), Namespace: ns, Name: "headroom-shop", Holder: "run-1", Duration: time.Minute, Clock: clock.RealClock{}}
	build := func(cfg *rest.Config, dry bool) *actuator.Kube {
		t.Helper()
		pools, err := actuator.NewPoolsFromPlan(plan, actuator.PoolClients{Scales: harness.ScaleClient(t, cfg), Kube: kubernetes.NewForConfigOrDie(cfg), DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		sizers := pools.Sizers()
		sizers["gke"] = actuator.NewPools(map[string]actuator.PoolProvider{"gke": objectlessPool{from: 2}})
		pools.SetPlan(policy.PoolPlan{Pools: []policy.PoolResult{{Name: "spot", Nodes: 8, DemandNodes: 5}}})
		k, err := actuator.NewKube(cfg, actuator.KubeOptions{DryRun: dry, Pools: sizers, PoolEventObject: lease.Object, Instance: "run-1"})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k := build(cfg, false)
	if ok, _, err := lease.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	for _, x := range []struct {
		pool  string
		nodes int
	}{{"general", 5}, {"spot", 8}, {"gke", 4}, {"general", 5}} {
		a, err := k.SetPoolSize(ctx, actuatorNow, x.pool, x.nodes, "forecast")
		if err != nil || len(a.Warnings) != 0 {
			t.Fatalf("%s: %+v %v", x.pool, a, err)
		}
	}
	md, err := dyn.Get(ctx, "general", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	balloon, err := c.AppsV1().Deployments(ns).Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	le, err := c.CoordinationV1().Leases(ns).Get(ctx, "headroom-shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(kind, name, uid string, want ...string) {
		t.Helper()
		got := describedEvents(t, c, ns, kind, name, uid)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s %s events:\n%s\nwant:\n%s", kind, name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check("MachineDeployment", "general", string(md.GetUID()),
		"Normal HeadroomHeld x1: node pool general size held at 5: forecast",
		"Normal HeadroomScaled x1: node pool general size 3 → 5: forecast")
	check("Deployment", "headroom-balloon-spot", string(balloon.UID),
		"Normal HeadroomScaled x1: node pool spot size set to 8: forecast; balloon holds 3 headroom nodes (6 pods of 1900m CPU, 7936Mi memory) above 5 demand nodes")
	check("Lease", "headroom-shop", string(le.UID),
		"Normal HeadroomScaled x1: node pool gke size 2 → 4: forecast")

	// A dry run: the Events are sent with dryRun=All and not stored.
	dry := build(cfg, true)
	for _, pool := range []string{"general", "gke"} {
		a, err := dry.SetPoolSize(ctx, actuatorNow, pool, 9, "forecast")
		if err != nil || !a.Changed || len(a.Warnings) != 0 {
			t.Fatalf("dry run %s: %+v %v", pool, a, err)
		}
	}
	if got := describedEvents(t, c, ns, "MachineDeployment", "general", string(md.GetUID())); len(got) != 2 {
		t.Errorf("the dry run stored MachineDeployment events: %v", got)
	}
	if got := describedEvents(t, c, ns, "Lease", "headroom-shop", string(le.UID)); len(got) != 1 {
		t.Errorf("the dry run stored Lease events: %v", got)
	}

	// Without the events rule: the pool is still sized; the Event is a warning.
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "no-events"), cluster...)
	noEvents := s.ServiceAccountConfig(t, ns, "no-events")
	a, err := build(noEvents, false).SetPoolSize(ctx, actuatorNow, "general", 6, "forecast")
	if r, _ := mdReplicas(t, dyn, "general"); err != nil || !a.Changed || r != 6 || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "forbidden") {
		t.Fatalf("without events: %+v %v, replicas %d", a, err, r)
	}
}

// TestPoolsConvergeEvents: a pool resize that does not converge gets its
// Warning Event on the pool's object, as a workload's does on the
// workload: the MachineDeployment of a Cluster API pool (carried by the
// decision log from the resize to each check), the run's Lease for an
// objectless (GKE) pool. The next run's check of the same stuck resize,
// by a new process, counts on the same Event.
func TestPoolsConvergeEvents(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	c := s.Client()
	dyn := createMachineDeployment(t, s, ns, "general", 1)
	capi, gke := ns+"-capi", ns+"-gke" // nodes are cluster-wide: pool names of this test only
	st := openStore(t)
	lease := &actuator.Lease{Client: c.CoordinationV1(), Namespace: ns, Name: "headroom-shop", Holder: "run", Duration: time.Minute, Clock: clock.RealClock{}}
	if ok, _, err := lease.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	newKube := func() *actuator.Kube {
		t.Helper()
		pools := actuator.NewPools(map[string]actuator.PoolProvider{
			capi: &actuator.ClusterAPI{Scales: harness.ScaleClient(t, s.Config()), Namespace: ns, Name: "general"},
			gke:  objectlessPool{from: 1},
		})
		k, err := actuator.NewKube(s.Config(), actuator.KubeOptions{Log: st, Pools: pools.Sizers(), PoolEventObject: lease.Object})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	D := actuatorNow
	k := newKube()
	for _, pool := range []string{capi, gke} {
		if a, err := k.SetPoolSize(ctx, D, pool, 3, "forecast"); err != nil || !a.Changed {
			t.Fatalf("%s: %+v %v", pool, a, err)
		}
	}
	makeNode(t, c, capi+"-1", capi, true, D.Add(3*time.Minute))
	makeNode(t, c, capi+"-2", capi, false, D.Add(3*time.Minute))
	makeNode(t, c, gke+"-1", gke, true, D.Add(3*time.Minute))
	only := func(w metrics.Workload) bool { return w.Name == capi || w.Name == gke }
	for run, now := range []time.Time{D.Add(5 * time.Minute), D.Add(10 * time.Minute)} {
		cs, err := newKube().Converge(ctx, now, st, actuator.ConvergeOptions{Include: only})
		if err != nil || len(cs) != 2 || cs[0].Converged || cs[1].Converged {
			t.Fatalf("run %d: %+v %v", run, cs, err)
		}
		for _, cv := range cs {
			if len(cv.Warnings) != 0 {
				t.Fatalf("run %d, %s: %v", run, cv.Workload, cv.Warnings)
			}
		}
	}
	md, err := dyn.Get(ctx, "general", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	le := lease.Object()
	at := D.Format(time.RFC3339)
	var got []string
	for _, o := range []struct{ kind, name, uid string }{{"MachineDeployment", "general", string(md.GetUID())}, {"Lease", le.Name, string(le.UID)}} {
		for _, e := range describedEvents(t, c, ns, o.kind, o.name, o.uid) {
			if strings.Contains(e, actuator.EventNotConverged) {
				got = append(got, o.kind+": "+e)
			}
		}
	}
	want := []string{
		fmt.Sprintf("MachineDeployment: Warning HeadroomNotConverged x2: node pool %s: 1 of 3 Ready since the decision at %s: 1 of 3 nodes Ready; not Ready: %s-2", capi, at, capi),
		fmt.Sprintf("Lease: Warning HeadroomNotConverged x2: node pool %s: 1 of 3 Ready since the decision at %s: 1 of 3 nodes Ready", gke, at),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("not-converged events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
