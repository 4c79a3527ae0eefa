package integration_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// TestActuatorFaultsAndRequests goes through the harness's fault proxy: a
// 500 on one workload's scale update fails that one (nothing written,
// Warning Event, "failed" row) and not the others; a dropped annotation
// patch leaves the change made and reported as a warning. It also counts
// the requests: a change costs 4 (read scale, write scale, Event,
// annotation), plus one list of the namespace's HPAs for the first change in
// a namespace of each run (a run is told by its now): 1,000 changes in 100
// namespaces cost 4×1,000 + 100 = 4,100, was 5×1,000. A hold costs 2 (read
// scale, Event), and discovery is read once.
func TestActuatorFaultsAndRequests(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		createDeployment(t, c, ns, n, 1)
	}
	p := s.FaultProxy(t)
	st := openStore(t)
	k, err := actuator.NewKube(p.Config(), actuator.KubeOptions{Log: st})
	if err != nil {
		t.Fatal(err)
	}
	tg := func(n string) policy.Target { return policy.Target{Kind: "Deployment", Namespace: ns, Name: n} }
	f500 := p.Inject(harness.Fault{Method: "PUT", PathContains: "/deployments/b/scale", Times: 1, Status: http.StatusInternalServerError})
	drop := p.Inject(harness.Fault{Method: "PATCH", PathContains: "/deployments/c", Times: 1, Drop: true})

	a, err := k.SetReplicas(ctx, actuatorNow, tg("a"), 3, "forecast")
	if err != nil || !a.Changed || len(a.Warnings) != 0 {
		t.Fatalf("a: %+v %v", a, err)
	}
	b, errB := k.SetReplicas(ctx, actuatorNow, tg("b"), 3, "forecast")
	cc, errC := k.SetReplicas(ctx, actuatorNow, tg("c"), 3, "forecast")
	if errB == nil || b.Changed || f500.Hits() != 1 {
		t.Fatalf("b: %+v %v (hits %d)", b, errB, f500.Hits())
	}
	if errC != nil || !cc.Changed || len(cc.Warnings) != 1 || !strings.HasPrefix(cc.Warnings[0], "annotation: ") || drop.Hits() != 1 {
		t.Fatalf("c: %+v %v (hits %d)", cc, errC, drop.Hits())
	}
	for n, want := range map[string]int32{"a": 3, "b": 1, "c": 3} {
		if got, _ := deploymentReplicas(t, c, ns, n); got != want {
			t.Fatalf("%s: replicas %d, want %d", n, got, want)
		}
	}
	d, _ := c.AppsV1().Deployments(ns).Get(ctx, "b", metav1.GetOptions{})
	if _, ok := d.Annotations[actuator.AnnotationLastDecision]; ok {
		t.Fatalf("failed target b got an annotation: %v", d.Annotations)
	}
	evs := events(t, c, ns, "Deployment", "b")
	if len(evs) != 1 || evs[0].Type != corev1.EventTypeWarning || evs[0].Reason != actuator.EventFailed || !strings.Contains(evs[0].Message, "failed to set replicas to 3") {
		t.Fatalf("b events: %+v", evs)
	}
	rows, err := st.Decisions(ctx, metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, r := range rows {
		acts = append(acts, r.Workload.Name+":"+r.Action)
	}
	if strings.Join(acts, " ") != "a:scale b:failed c:scale" {
		t.Fatalf("decision log: %v", acts)
	}

	// Requests per call, discovery already cached.
	calls := func(now time.Time, desired int32) []string {
		before := len(p.Requests())
		if _, err := k.SetReplicas(ctx, now, tg("a"), desired, "forecast"); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range p.Requests()[before:] {
			path, _, _ := strings.Cut(r.Path, "?")
			out = append(out, r.Method+" "+strings.TrimPrefix(path, "/apis/apps/v1/namespaces/"+ns))
		}
		return out
	}
	if got := strings.Join(calls(actuatorNow, 3), ", "); got != "GET /deployments/a/scale, POST /api/v1/namespaces/"+ns+"/events" {
		t.Fatalf("hold requests: %s", got)
	}
	// Same run as a, b and c above: the namespace's HPAs were listed by a's change.
	if got := strings.Join(calls(actuatorNow, 4), ", "); got != "GET /deployments/a/scale, "+
		"PUT /deployments/a/scale, POST /api/v1/namespaces/"+ns+"/events, PATCH /deployments/a" {
		t.Fatalf("change requests, same run: %s", got)
	}
	// The next run lists them again, once, and its own Events in the namespace, once (a repeated
	// Event would be counted on the one listed; this one is new).
	if got := strings.Join(calls(actuatorNow.Add(time.Minute), 5), ", "); got != "GET /deployments/a/scale, GET /apis/autoscaling/v2/namespaces/"+ns+"/horizontalpodautoscalers, "+
		"PUT /deployments/a/scale, GET /api/v1/namespaces/"+ns+"/events, POST /api/v1/namespaces/"+ns+"/events, PATCH /deployments/a" {
		t.Fatalf("change requests, next run: %s", got)
	}
}

// TestActuatorRBAC runs every kind of call through a service account
// granted exactly actuator.KubeRules: scaling a Deployment and a
// MachineDeployment, an HPA floor, Events, annotations and a convergence
// check that reads pods, ReplicaSets, Events and nodes. Nothing is refused.
// Without the patch rule on deployments, the scale still happens and the
// annotation is reported refused: the rules are used, not decoration.
func TestActuatorRBAC(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "web", 1)
	createDeployment(t, c, ns, "api", 1)
	createHPA(t, c, ns, "api", "api", 1, 10)
	if _, err := c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: podTemplate("db")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(s.Config()).Resource(harness.MachineDeployments).Namespace(ns)
	if _, err := dyn.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment", "metadata": map[string]any{"name": "pool"},
		"spec": map[string]any{"clusterName": "prod", "replicas": int64(1), "selector": map[string]any{}, "template": map[string]any{}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cfg := s.ServiceAccountConfig(t, ns, "headroom")
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "headroom"), actuator.KubeRules()...)
	st := openStore(t)
	web, api := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}, policy.Target{Kind: "Deployment", Namespace: ns, Name: "api"}
	md := policy.Target{Kind: "MachineDeployment", Namespace: ns, Name: "pool"}
	db := policy.Target{Kind: "StatefulSet", Namespace: ns, Name: "db"}
	k, err := actuator.NewKube(cfg, actuator.KubeOptions{Log: st, Pools: map[string]actuator.PoolSizer{ns: fakePools{}},
		Targets: map[policy.Target]actuator.TargetOptions{api: {Mode: policy.ModeHPAFloor}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		t policy.Target
		n int32
	}{{web, 3}, {api, 4}, {md, 2}, {db, 2}, {web, 3}} {
		a, err := k.SetReplicas(ctx, actuatorNow, x.t, x.n, "forecast")
		if err != nil || len(a.Warnings) != 0 || a.To != int(x.n) {
			t.Fatalf("%s: %+v %v", x.t, a, err)
		}
	}
	if _, err := k.SetPoolSize(ctx, actuatorNow, ns, 2, "pods need nodes"); err != nil {
		t.Fatal(err)
	}
	got, err := k.Converge(ctx, actuatorNow.Add(time.Minute), st, actuator.ConvergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// web, api (hpa-floor), the StatefulSet (FailedCreate Events read), the MachineDeployment and
	// the pool: none converged (no pods, no nodes), each says why.
	if len(got) != 5 {
		t.Fatalf("%d convergences: %+v", len(got), got)
	}
	for _, cv := range got {
		t.Logf("%s: %s", cv.Workload, strings.Join(cv.Reasons, "; "))
		if cv.Converged || len(cv.Warnings) != 0 || len(cv.Reasons) == 0 {
			t.Fatalf("%s: %+v", cv.Workload, cv)
		}
		for _, r := range cv.Reasons {
			if strings.Contains(r, "forbidden") {
				t.Fatalf("%s: %s", cv.Workload, r)
			}
		}
	}

	// Without patch on deployments: scaled, the annotation refused and said so.
	var less []rbacv1.PolicyRule
	for _, r := range actuator.KubeRules() {
		if r.APIGroups[0] == "apps" && r.Verbs[0] == "patch" {
			continue
		}
		less = append(less, r)
	}
	cfg2 := s.ServiceAccountConfig(t, ns, "headroom-less")
	s.Grant(t, ns, harness.ServiceAccountSubject(ns, "headroom-less"), less...)
	k2, err := actuator.NewKube(cfg2, actuator.KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k2.SetReplicas(ctx, actuatorNow, web, 5, "forecast")
	if err != nil || !a.Changed || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "forbidden") {
		t.Fatalf("without patch: %+v %v", a, err)
	}
	var sc *autoscalingv1.Scale
	if sc, err = c.AppsV1().Deployments(ns).GetScale(ctx, "web", metav1.GetOptions{}); err != nil || sc.Spec.Replicas != 5 {
		t.Fatalf("web scale: %+v %v", sc, err)
	}
}
