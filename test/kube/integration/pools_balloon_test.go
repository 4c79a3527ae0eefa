package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// poolsPlan is a plan with a cluster-api pool (MachineDeployment ns/general)
// and a balloon pool whose Deployment lives in ns, with the priority class
// pc (cluster-scoped, so unique per test).
func poolsPlan(t *testing.T, ns, pc string) *config.Plan {
	t.Helper()
	p, err := config.Load("plan.yaml", []byte(fmt.Sprintf(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: shop}
spec:
  workloads:
    - target: {kind: Deployment, namespace: %[1]s, name: web}
      resources: {cpu: 500m, memory: 512Mi}
      replicas: {max: 4}
  nodePools:
    - name: general
      provider: cluster-api
      machine: {cpu: 4, memory: 16Gi}
      size: {max: 20}
      clusterAPI: {namespace: %[1]s}
    - name: spot
      provider: balloon
      machine: {cpu: 4, memory: 16Gi}
      overhead: {cpu: 200m, memory: 512Mi}
      size: {max: 20}
      balloon: {namespace: %[1]s, priorityClass: %[2]s, podsPerNode: 2, nodeSelector: {cloud.google.com/gke-nodepool: spot}}
`, ns, pc)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPoolsBalloon runs the plan's pools through actuator.Pools with a
// service account granted exactly actuator.PoolRules for the plan. The
// balloon pool: with 5 demand nodes and 8 planned, it creates the
// PriorityClass (value -10, not global default) and a Deployment of
// 3 nodes × 2 pods = 6 pause pods, each requesting half a node's
// allocatable: (4 − 0.2) / 2 = 1900m CPU and (16 Gi − 512 Mi) / 2 = 7.75 Gi.
// A pod made from its template gets priority -10 from the API server's
// Priority admission. A second run writes nothing; a new demand of 7 nodes
// shrinks it to 1 node (2 pods); a dry run stores nothing. The cluster-api
// pool in the same plan is scaled through the same dispatch.
func TestPoolsBalloon(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	pc := ns + "-balloon"
	ctx := context.Background()
	c := s.Client()
	dyn := createMachineDeployment(t, s, ns, "general", 1)
	plan := poolsPlan(t, ns, pc)

	cluster, namespaced := actuator.PoolRules(plan)
	subject := harness.ServiceAccountSubject(ns, "headroom")
	s.Grant(t, "", subject, cluster...)
	if len(namespaced) != 1 || namespaced[ns] == nil {
		t.Fatalf("namespaced rules %v, want the balloon's namespace only", namespaced)
	}
	s.Grant(t, ns, subject, namespaced[ns]...)
	cfg := s.ServiceAccountConfig(t, ns, "headroom")
	sa := kubernetes.NewForConfigOrDie(cfg)
	pools, err := actuator.NewPoolsFromPlan(plan, actuator.PoolClients{Scales: harness.ScaleClient(t, cfg), Kube: sa})
	if err != nil {
		t.Fatal(err)
	}
	pools.SetPlan(policy.PoolPlan{Pools: []policy.PoolResult{{Name: "spot", Nodes: 8, DemandNodes: 5}, {Name: "general", Nodes: 4, DemandNodes: 4}}})

	a, err := pools.SetPoolSize(ctx, actuatorNow, "spot", 8, "forecast")
	if err != nil || !a.Changed || a.From != -1 || a.To != 8 {
		t.Fatalf("create: %+v, %v", a, err)
	}
	if !strings.Contains(a.Reason, "balloon holds 3 headroom nodes (6 pods of 1900m CPU, 7936Mi memory) above 5 demand nodes") {
		t.Errorf("reason %q", a.Reason)
	}
	prio, err := c.SchedulingV1().PriorityClasses().Get(ctx, pc, metav1.GetOptions{})
	if err != nil || prio.Value != -10 || prio.GlobalDefault || prio.Labels["app.kubernetes.io/managed-by"] != "headroom" {
		t.Fatalf("priority class: %+v, %v", prio, err)
	}
	d, err := c.AppsV1().Deployments(ns).Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := d.Spec.Template.Spec
	req := pod.Containers[0].Resources.Requests
	if *d.Spec.Replicas != 6 || d.Labels["app.kubernetes.io/managed-by"] != "headroom" || d.Labels["headroom.dev/pool"] != "spot" ||
		pod.PriorityClassName != pc || pod.NodeSelector["cloud.google.com/gke-nodepool"] != "spot" ||
		pod.Containers[0].Image != "registry.k8s.io/pause:3.10" ||
		req.Cpu().MilliValue() != 1900 || req.Memory().Value() != 7936<<20 {
		t.Fatalf("deployment: replicas %d, labels %v, pod %+v", *d.Spec.Replicas, d.Labels, pod)
	}
	// The API server's Priority admission resolves the class for a pod.
	p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "balloon-probe", Labels: d.Spec.Template.Labels},
		Spec: d.Spec.Template.Spec}, metav1.CreateOptions{})
	if err != nil || p.Spec.Priority == nil || *p.Spec.Priority != -10 {
		t.Fatalf("pod priority: %+v, %v", p.Spec.Priority, err)
	}

	rv := d.ResourceVersion
	a, err = pools.SetPoolSize(ctx, actuatorNow, "spot", 8, "forecast")
	d, _ = c.AppsV1().Deployments(ns).Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if err != nil || a.Changed || a.From != 8 || d.ResourceVersion != rv {
		t.Fatalf("second run: %+v, %v; resourceVersion %s → %s", a, err, rv, d.ResourceVersion)
	}

	pools.SetDemand("spot", 7)
	a, err = pools.SetPoolSize(ctx, actuatorNow, "spot", 8, "demand grew")
	d, _ = c.AppsV1().Deployments(ns).Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if err != nil || !a.Changed || a.From != 10 || a.To != 8 || *d.Spec.Replicas != 2 {
		t.Fatalf("demand 7: %+v, %v, replicas %d", a, err, *d.Spec.Replicas)
	}

	dry, err := actuator.NewPoolsFromPlan(plan, actuator.PoolClients{Scales: harness.ScaleClient(t, cfg), Kube: sa, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	dry.SetDemand("spot", 0)
	a, err = dry.SetPoolSize(ctx, actuatorNow, "spot", 8, "forecast")
	d, _ = c.AppsV1().Deployments(ns).Get(ctx, "headroom-balloon-spot", metav1.GetOptions{})
	if err != nil || !a.Changed || !a.DryRun || *d.Spec.Replicas != 2 {
		t.Fatalf("dry run: %+v, %v, replicas %d", a, err, *d.Spec.Replicas)
	}

	// The cluster-api pool through the same dispatch and rules.
	a, err = pools.SetPoolSize(ctx, actuatorNow, "general", 4, "forecast")
	if r, _ := mdReplicas(t, dyn, "general"); err != nil || !a.Changed || r != 4 {
		t.Fatalf("general: %+v, %v, replicas %d", a, err, r)
	}
	// A pool not in the plan is refused.
	if _, err := pools.SetPoolSize(ctx, actuatorNow, "gpu", 4, ""); err == nil {
		t.Fatal("a pool outside the plan was accepted")
	}
}

// TestPoolsBalloonRefusesForeignObjects: a Deployment of the balloon's name
// that headroom did not create is left alone, and so is a PriorityClass of
// the balloon's name with a non-negative value.
func TestPoolsBalloonRefusesForeignObjects(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	c := s.Client()
	createDeployment(t, c, ns, "headroom-balloon-spot", 1)
	b := &actuator.Balloon{Client: c, Namespace: ns, Name: "headroom-balloon-spot", PriorityClass: ns + "-pc", PodsPerNode: 1}
	_, err := b.SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "spot", Nodes: 3, DemandNodes: 1})
	if err == nil || !strings.Contains(err.Error(), "not headroom's balloon") {
		t.Fatalf("foreign deployment: %v", err)
	}
	if r, _ := deploymentReplicas(t, c, ns, "headroom-balloon-spot"); r != 1 {
		t.Fatalf("foreign deployment changed to %d", r)
	}
	prio := &actuator.Balloon{Client: c, Namespace: ns, Name: "other", PriorityClass: "system-cluster-critical"}
	if _, err := prio.SetPool(ctx, actuatorNow, actuator.PoolRequest{Pool: "spot", Nodes: 3, DemandNodes: 1}); err == nil ||
		!strings.Contains(err.Error(), "need a negative priority") {
		t.Fatalf("positive priority class: %v", err)
	}
}
