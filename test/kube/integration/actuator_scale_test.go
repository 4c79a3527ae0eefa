package integration_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// actuatorNow is the decision time the actuator tests pass in.
var actuatorNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

func createDeployment(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	d, err := c.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
	return d
}

func deploymentReplicas(t *testing.T, c kubernetes.Interface, ns, name string) (int32, string) {
	t.Helper()
	d, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas, d.ResourceVersion
}

// openStore opens a real store file in the test's temporary directory.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "headroom.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newKube(t *testing.T, s *harness.Server, o actuator.KubeOptions) *actuator.Kube {
	t.Helper()
	k, err := actuator.NewKube(s.Config(), o)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// events lists the Events on one object, oldest first (by the time the actuator was given).
func events(t *testing.T, c kubernetes.Interface, ns, kind, name string) []corev1.Event {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	l, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(l.Items, func(i, j int) bool { return l.Items[i].LastTimestamp.Before(&l.Items[j].LastTimestamp) })
	return l.Items
}

// TestActuatorScaleDeployment scales a Deployment through /scale, then
// calls again with the same count: the second call writes nothing (the
// resourceVersion stays), and both calls leave an Event, the first an
// annotation and both a decision-log row in a real store file.
func TestActuatorScaleDeployment(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "web", 2)
	st := openStore(t)
	k := newKube(t, s, actuator.KubeOptions{Log: st, Instance: "test-pod"})
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}

	a, err := k.SetReplicas(ctx, actuatorNow, tg, 5, "forecast q0.95 needs 5")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Changed || a.From != 2 || a.To != 5 || len(a.Warnings) > 0 {
		t.Fatalf("first call: %+v", a)
	}
	n, rv := deploymentReplicas(t, c, ns, "web")
	if n != 5 {
		t.Fatalf("replicas = %d, want 5", n)
	}
	// The annotation carries the decision.
	d, _ := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	var last actuator.LastDecision
	if err := json.Unmarshal([]byte(d.Annotations[actuator.AnnotationLastDecision]), &last); err != nil {
		t.Fatalf("annotation %q: %v", d.Annotations[actuator.AnnotationLastDecision], err)
	}
	if last.Action != "scale" || last.From != 2 || last.To != 5 || last.Reason != "forecast q0.95 needs 5" || !last.Time.Equal(actuatorNow) || last.Manager != "test-pod" {
		t.Fatalf("last decision = %+v", last)
	}
	rv = d.ResourceVersion

	// Same count again: nothing written.
	a, err = k.SetReplicas(ctx, actuatorNow.Add(5*time.Minute), tg, 5, "forecast q0.95 needs 5")
	if err != nil {
		t.Fatal(err)
	}
	if a.Changed || a.From != 5 || a.To != 5 {
		t.Fatalf("second call: %+v", a)
	}
	if _, rv2 := deploymentReplicas(t, c, ns, "web"); rv2 != rv {
		t.Fatalf("second call wrote the deployment: resourceVersion %s → %s", rv, rv2)
	}

	evs := events(t, c, ns, "Deployment", "web")
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2: %+v", len(evs), evs)
	}
	byReason := map[string]corev1.Event{}
	for _, e := range evs {
		byReason[e.Reason] = e
	}
	sc, ok := byReason[actuator.EventScaled]
	if !ok || sc.Type != corev1.EventTypeNormal || sc.Message != "replicas 2 → 5: forecast q0.95 needs 5" ||
		sc.InvolvedObject.APIVersion != "apps/v1" || sc.InvolvedObject.UID != d.UID || sc.ReportingInstance != "test-pod" {
		t.Fatalf("scaled event: %+v", sc)
	}
	if h, ok := byReason[actuator.EventHeld]; !ok || h.Message != "replicas held at 5: forecast q0.95 needs 5" {
		t.Fatalf("held event: %+v", h)
	}

	rows, err := st.Decisions(ctx, metrics.Workload{Kind: "Deployment", Namespace: ns, Name: "web"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Action != "scale" || rows[1].Action != "hold" || rows[0].Reason != "forecast q0.95 needs 5" {
		t.Fatalf("decision log: %+v", rows)
	}
	var det actuator.ActionDetail
	if err := json.Unmarshal(rows[0].Detail, &det); err != nil || det.From != 2 || det.To != 5 || det.Mode != "scale" || det.APIVersion != "apps/v1" {
		t.Fatalf("detail %s: %+v %v", rows[0].Detail, det, err)
	}
}

// TestActuatorScaleStatefulSetAndMachineDeployment reaches a StatefulSet
// and a Cluster API MachineDeployment (a CRD with a scale subresource) the
// same way, one by discovery of its kind, one by its apiVersion.
func TestActuatorScaleStatefulSetAndMachineDeployment(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	if _, err := c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate("db"),
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(s.Config()).Resource(harness.MachineDeployments).Namespace(ns)
	if _, err := dyn.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.x-k8s.io/v1beta1",
		"kind":       "MachineDeployment",
		"metadata":   map[string]any{"name": "pool-a"},
		"spec": map[string]any{
			"clusterName": "prod",
			"replicas":    int64(3),
			"selector":    map[string]any{"matchLabels": map[string]any{"pool": "a"}},
			"template":    map[string]any{"metadata": map[string]any{"labels": map[string]any{"pool": "a"}}},
		},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sts := policy.Target{Kind: "StatefulSet", Namespace: ns, Name: "db"}
	md := policy.Target{Kind: "MachineDeployment", Namespace: ns, Name: "pool-a"}
	k := newKube(t, s, actuator.KubeOptions{Targets: map[policy.Target]actuator.TargetOptions{
		md: {APIVersion: "cluster.x-k8s.io/v1beta1"},
	}})
	if a, err := k.SetReplicas(ctx, actuatorNow, sts, 3, "window business-hours"); err != nil || !a.Changed || a.From != 1 {
		t.Fatalf("statefulset: %+v, %v", a, err)
	}
	if a, err := k.SetReplicas(ctx, actuatorNow, md, 7, "pool needs 7 nodes"); err != nil || !a.Changed || a.From != 3 {
		t.Fatalf("machinedeployment: %+v, %v", a, err)
	}
	got, err := c.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || *got.Spec.Replicas != 3 {
		t.Fatalf("statefulset replicas: %v %v", got.Spec.Replicas, err)
	}
	u, err := dyn.Get(ctx, "pool-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); r != 7 {
		t.Fatalf("MachineDeployment spec.replicas = %d, want 7", r)
	}
	if ann := u.GetAnnotations()[actuator.AnnotationLastDecision]; !strings.Contains(ann, `"to":7`) {
		t.Fatalf("MachineDeployment annotation = %q", ann)
	}
	// A kind that discovery does not know fails clearly and changes nothing.
	_, err = k.SetReplicas(ctx, actuatorNow, policy.Target{Kind: "Nonesuch", Namespace: ns, Name: "x"}, 1, "")
	if err == nil || !strings.Contains(err.Error(), "Nonesuch") {
		t.Fatalf("unknown kind: err = %v", err)
	}
}

// TestActuatorConflictReplans makes a second client change the replicas
// between the actuator's read and its write (the BeforeUpdate hook), twice:
// the API server answers 409 each time, and the actuator re-reads, re-plans
// with the count it found, and writes the re-planned count.
func TestActuatorConflictReplans(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "api", 2)
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "api"}
	other := map[int]int32{0: 4, 1: 9} // what the other writer sets before attempt i
	k := newKube(t, s, actuator.KubeOptions{BeforeUpdate: func(ctx context.Context, _ policy.Target, attempt int) {
		n, ok := other[attempt]
		if !ok {
			return
		}
		sc, err := c.AppsV1().Deployments(ns).GetScale(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		sc.Spec.Replicas = n
		if _, err := c.AppsV1().Deployments(ns).UpdateScale(ctx, "api", sc, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}})
	var seen []int32
	a, err := k.Apply(ctx, actuatorNow, actuator.Request{Target: tg, Desired: 6, Reason: "forecast needs 6",
		Replan: func(cur int32) (int32, string) {
			seen = append(seen, cur)
			return cur + 1, "re-planned on " + string(rune('0'+cur))
		}})
	if err != nil {
		t.Fatal(err)
	}
	// Attempt 0 read 2, lost to 4; attempt 1 re-planned 4+1=5, lost to 9; attempt 2 re-planned 9+1=10 and won.
	if len(seen) != 2 || seen[0] != 4 || seen[1] != 9 {
		t.Fatalf("replan saw %v, want [4 9]", seen)
	}
	if !a.Changed || a.Conflicts != 2 || a.From != 9 || a.To != 10 || a.Reason != "re-planned on 9" {
		t.Fatalf("action: %+v", a)
	}
	if n, _ := deploymentReplicas(t, c, ns, "api"); n != 10 {
		t.Fatalf("replicas = %d, want 10", n)
	}

	// With one retry allowed and a writer before every attempt, the actuator gives up: failed, recorded.
	var writes atomic.Int32
	k = newKube(t, s, actuator.KubeOptions{Conflicts: 1, BeforeUpdate: func(ctx context.Context, _ policy.Target, _ int) {
		sc, err := c.AppsV1().Deployments(ns).GetScale(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		sc.Spec.Replicas = 20 + writes.Add(1)
		if _, err := c.AppsV1().Deployments(ns).UpdateScale(ctx, "api", sc, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}})
	a, err = k.SetReplicas(ctx, actuatorNow, tg, 3, "forecast needs 3")
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 conflicts") || a.Changed || a.Conflicts != 2 {
		t.Fatalf("persistent conflicts: %+v, %v", a, err)
	}
	if n, _ := deploymentReplicas(t, c, ns, "api"); n != 22 {
		t.Fatalf("replicas = %d, want the other writer's 22", n)
	}
	var failed *corev1.Event
	for _, e := range events(t, c, ns, "Deployment", "api") {
		if e.Reason == actuator.EventFailed {
			failed = &e
		}
	}
	if failed == nil || failed.Type != corev1.EventTypeWarning || !strings.Contains(failed.Message, "conflict") {
		t.Fatalf("failed event: %+v", failed)
	}
}

// TestActuatorServerSideDryRun sends the write with dryRun=All: the API
// server admits it and persists nothing.
func TestActuatorServerSideDryRun(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "web", 2)
	_, rv := deploymentReplicas(t, c, ns, "web")
	st := openStore(t)
	k := newKube(t, s, actuator.KubeOptions{DryRun: true, Log: st})
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}
	a, err := k.SetReplicas(ctx, actuatorNow, tg, 8, "forecast needs 8")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Changed || !a.DryRun || a.From != 2 || a.To != 8 {
		t.Fatalf("action: %+v", a)
	}
	if n, rv2 := deploymentReplicas(t, c, ns, "web"); n != 2 || rv2 != rv {
		t.Fatalf("dry run changed the deployment: %d replicas, resourceVersion %s → %s", n, rv, rv2)
	}
	if evs := events(t, c, ns, "Deployment", "web"); len(evs) != 0 {
		t.Fatalf("dry run wrote events: %+v", evs)
	}
	rows, err := st.Decisions(ctx, metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil || len(rows) != 1 || rows[0].Action != "dry-run" {
		t.Fatalf("decision log: %+v %v", rows, err)
	}
	// A negative count is refused before any request.
	if _, err := k.SetReplicas(ctx, actuatorNow, tg, -1, ""); err == nil {
		t.Fatal("negative replicas: no error")
	}
}
