package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
)

func createHPA(t *testing.T, c kubernetes.Interface, ns, name, target string, min, max int32) {
	t.Helper()
	_, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MinReplicas:    ptr.To(min),
			MaxReplicas:    max,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](70)},
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func hpa(t *testing.T, c kubernetes.Interface, ns, name string) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	h, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestActuatorHPAFloor raises an HPA's minReplicas ahead of demand, keeps
// the user's value in an annotation, holds without writing, caps at
// maxReplicas and restores the user's value when the plan no longer needs
// the raise; the Deployment's scale is never touched.
func TestActuatorHPAFloor(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "web", 2)
	_, deployRV := deploymentReplicas(t, c, ns, "web")
	// Named unlike the target, so the actuator finds it by its scaleTargetRef; a decoy scales another workload.
	createHPA(t, c, ns, "a-decoy", "other", 1, 5)
	createHPA(t, c, ns, "web-autoscaler", "web", 2, 10)
	st := openStore(t)
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}
	k := newKube(t, s, actuator.KubeOptions{Log: st, Targets: map[policy.Target]actuator.TargetOptions{tg: {Mode: policy.ModeHPAFloor}}})

	step := func(i int, desired int32, wantMin int32, wantOrig string, wantChanged bool) *autoscalingv2.HorizontalPodAutoscaler {
		t.Helper()
		a, err := k.SetReplicas(ctx, actuatorNow.Add(time.Duration(i)*time.Minute), tg, desired, "window launch")
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if a.Kind != actuator.KindHPAFloor || a.HPA != "web-autoscaler" || a.To != int(wantMin) || a.Changed != wantChanged {
			t.Fatalf("step %d: action %+v, want minReplicas %d changed %v", i, a, wantMin, wantChanged)
		}
		h := hpa(t, c, ns, "web-autoscaler")
		orig, ok := h.Annotations[actuator.AnnotationOriginalMinReplicas]
		if *h.Spec.MinReplicas != wantMin || orig != wantOrig || ok != (wantOrig != "") {
			t.Fatalf("step %d: HPA minReplicas %d, original %q (%v); want %d, %q", i, *h.Spec.MinReplicas, orig, ok, wantMin, wantOrig)
		}
		return h
	}
	h := step(0, 6, 6, "2", true) // raise 2 → 6, remember 2
	var last actuator.LastDecision
	if err := json.Unmarshal([]byte(h.Annotations[actuator.AnnotationLastDecision]), &last); err != nil || last.Action != "floor" || last.From != 2 || last.To != 6 || last.Mode != "hpa-floor" {
		t.Fatalf("last decision %q: %+v %v", h.Annotations[actuator.AnnotationLastDecision], last, err)
	}
	rv := h.ResourceVersion
	if h = step(1, 6, 6, "2", false); h.ResourceVersion != rv { // hold: nothing written
		t.Fatalf("hold wrote the HPA: resourceVersion %s → %s", rv, h.ResourceVersion)
	}
	step(2, 8, 8, "2", true)   // raise further; the original stays the user's 2
	step(3, 15, 10, "2", true) // capped at maxReplicas 10
	step(4, 1, 2, "", true)    // the plan needs less than the user's floor: restore 2, drop the annotation
	step(5, 1, 2, "", false)   // and stay there
	step(6, 7, 7, "2", true)   // raised again
	// The user sets minReplicas 4 by hand while raised: that is their floor now, and a plan
	// needing 3 keeps it (and drops the stale original, 2).
	h = hpa(t, c, ns, "web-autoscaler")
	h.Spec.MinReplicas = ptr.To[int32](4)
	if _, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	step(7, 3, 4, "", false)
	step(8, 6, 6, "4", true) // a later raise remembers 4

	if _, rv2 := deploymentReplicas(t, c, ns, "web"); rv2 != deployRV {
		t.Fatalf("hpa-floor mode wrote the Deployment: resourceVersion %s → %s", deployRV, rv2)
	}
	if d := hpa(t, c, ns, "a-decoy"); *d.Spec.MinReplicas != 1 || len(d.Annotations) != 0 {
		t.Fatalf("decoy HPA changed: %+v", d)
	}
	var msgs []string
	for _, e := range events(t, c, ns, "HorizontalPodAutoscaler", "web-autoscaler") {
		msgs = append(msgs, e.Reason+": "+e.Message)
	}
	want := []string{
		"HeadroomScaled: hpa-floor 2 → 6: window launch",
		"HeadroomHeld: hpa-floor held at 6: window launch",
		"HeadroomScaled: hpa-floor 6 → 8: window launch",
		"HeadroomScaled: hpa-floor 8 → 10: window launch (capped at the HPA's maxReplicas 10)",
		"HeadroomScaled: hpa-floor 10 → 2: window launch (restoring the HPA's own minReplicas 2)",
		"HeadroomHeld: hpa-floor held at 2: window launch",
		"HeadroomScaled: hpa-floor 2 → 7: window launch",
		"HeadroomHeld: hpa-floor held at 4: window launch (minReplicas 4 set by someone else is the HPA's own now)",
		"HeadroomScaled: hpa-floor 4 → 6: window launch",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	rows, err := st.Decisions(ctx, metrics.Workload{Kind: "Deployment", Namespace: ns, Name: "web"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, r := range rows {
		acts = append(acts, r.Action)
	}
	if strings.Join(acts, " ") != "floor hold floor floor floor hold floor hold floor" {
		t.Fatalf("decision log actions: %v", acts)
	}
}

// TestActuatorHPAFloorConflict: the user edits the HPA between the
// actuator's read and its patch; the patch carries the resourceVersion read,
// so the API server answers 409 and the actuator re-plans on the new value.
func TestActuatorHPAFloorConflict(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "api", 2)
	createHPA(t, c, ns, "api", "api", 2, 20)
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "api"}
	k := newKube(t, s, actuator.KubeOptions{
		Targets: map[policy.Target]actuator.TargetOptions{tg: {Mode: policy.ModeHPAFloor, HPA: "api"}},
		BeforeUpdate: func(ctx context.Context, _ policy.Target, attempt int) {
			if attempt > 0 {
				return
			}
			h := hpa(t, c, ns, "api")
			h.Spec.MaxReplicas = 30 // an unrelated edit still bumps the resourceVersion
			if _, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Update(ctx, h, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
			}
		},
	})
	var replanned []int32
	a, err := k.Apply(ctx, actuatorNow, actuator.Request{Target: tg, Desired: 5, Reason: "forecast",
		Replan: func(cur int32) (int32, string) { replanned = append(replanned, cur); return 25, "re-planned" }})
	if err != nil {
		t.Fatal(err)
	}
	// 25 fits under the user's new maxReplicas 30 (it would have been capped at the old 20).
	if a.Conflicts != 1 || len(replanned) != 1 || replanned[0] != 2 || a.To != 25 || !a.Changed {
		t.Fatalf("action %+v, replanned %v", a, replanned)
	}
	if h := hpa(t, c, ns, "api"); *h.Spec.MinReplicas != 25 || h.Spec.MaxReplicas != 30 || h.Annotations[actuator.AnnotationOriginalMinReplicas] != "2" {
		t.Fatalf("HPA spec %+v annotations %v", h.Spec, h.Annotations)
	}
}

// TestActuatorHPAFloorWithoutHPA: hpa-floor mode on a workload without an
// HPA fails, says so, and records a Warning Event on the workload.
func TestActuatorHPAFloorWithoutHPA(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "lonely", 2)
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "lonely"}
	k := newKube(t, s, actuator.KubeOptions{Targets: map[policy.Target]actuator.TargetOptions{tg: {Mode: policy.ModeHPAFloor}}})
	_, err := k.SetReplicas(ctx, actuatorNow, tg, 4, "forecast")
	if err == nil || !strings.Contains(err.Error(), "no HorizontalPodAutoscaler") {
		t.Fatalf("err = %v", err)
	}
	evs := events(t, c, ns, "Deployment", "lonely")
	if len(evs) != 1 || evs[0].Reason != actuator.EventFailed || evs[0].Type != corev1.EventTypeWarning {
		t.Fatalf("events: %+v", evs)
	}
	if n, _ := deploymentReplicas(t, c, ns, "lonely"); n != 2 {
		t.Fatalf("replicas = %d, want 2", n)
	}
}

// TestActuatorScaleModeRefusesHPAWorkload: in scale mode, a workload that
// an HPA scales is not changed (the two would fight); the error says to use
// hpa-floor. A hold is still fine.
func TestActuatorScaleModeRefusesHPAWorkload(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "web", 2)
	createHPA(t, c, ns, "web-hpa", "web", 2, 10)
	_, rv := deploymentReplicas(t, c, ns, "web")
	k := newKube(t, s, actuator.KubeOptions{})
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}
	_, err := k.SetReplicas(ctx, actuatorNow, tg, 5, "forecast")
	if !errors.Is(err, actuator.ErrHPAManaged) || !strings.Contains(err.Error(), "HPA web-hpa") || !strings.Contains(err.Error(), "hpa-floor") {
		t.Fatalf("err = %v", err)
	}
	if n, rv2 := deploymentReplicas(t, c, ns, "web"); n != 2 || rv2 != rv {
		t.Fatalf("deployment written: %d replicas, resourceVersion %s → %s", n, rv, rv2)
	}
	if a, err := k.SetReplicas(ctx, actuatorNow, tg, 2, "forecast"); err != nil || a.Changed {
		t.Fatalf("hold: %+v %v", a, err)
	}
}

// TestActuatorHPAFloorDryRun: the HPA patch goes with dryRun=All; the API
// server admits it and persists nothing.
func TestActuatorHPAFloorDryRun(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	createDeployment(t, c, ns, "web", 2)
	createHPA(t, c, ns, "web", "web", 2, 10)
	rv := hpa(t, c, ns, "web").ResourceVersion
	tg := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}
	k := newKube(t, s, actuator.KubeOptions{DryRun: true, Targets: map[policy.Target]actuator.TargetOptions{tg: {Mode: policy.ModeHPAFloor}}})
	a, err := k.SetReplicas(ctx, actuatorNow, tg, 6, "forecast")
	if err != nil || !a.Changed || !a.DryRun || a.From != 2 || a.To != 6 {
		t.Fatalf("dry run: %+v %v", a, err)
	}
	h := hpa(t, c, ns, "web")
	if h.ResourceVersion != rv || *h.Spec.MinReplicas != 2 || len(h.Annotations) != 0 {
		t.Fatalf("dry run wrote the HPA: rv %s → %s, min %d, annotations %v", rv, h.ResourceVersion, *h.Spec.MinReplicas, h.Annotations)
	}
	if evs := events(t, c, ns, "HorizontalPodAutoscaler", "web"); len(evs) != 0 {
		t.Fatalf("dry run wrote events: %+v", evs)
	}
}
