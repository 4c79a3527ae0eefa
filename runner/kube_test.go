package runner

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/headroom-dev/headroom/policy"
)

func TestKubeCluster(t *testing.T) {
	i32 := func(n int32) *int32 { return &n }
	cs := fake.NewClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: appsv1.DeploymentSpec{Replicas: i32(3)}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"}}, // replicas unset: 1
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data"}, Spec: appsv1.StatefulSetSpec{Replicas: i32(2)}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "api-hpa", Namespace: "shop"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "api"}, MinReplicas: i32(4), MaxReplicas: 10}},
	)
	tg := func(kind, ns, name string) policy.Target { return policy.Target{Kind: kind, Namespace: ns, Name: name} }
	ws := []*policy.Workload{
		{Target: tg("Deployment", "shop", "web")},
		{Target: tg("Deployment", "shop", "api"), Mode: policy.ModeHPAFloor},
		{Target: tg("StatefulSet", "data", "db"), Mode: policy.ModeHPAFloor}, // no HPA
		{Target: tg("Deployment", "shop", "gone")},
		{Target: tg("Rollout", "shop", "canary")},
	}
	got := (&KubeCluster{Client: cs}).Current(context.Background(), ws)
	if c := got[ws[0].Target]; c != (Current{Replicas: 3}) {
		t.Errorf("web %+v", c)
	}
	if c := got[ws[1].Target]; c != (Current{Replicas: 1, HPAMin: 4}) {
		t.Errorf("api %+v", c)
	}
	if c := got[ws[2].Target]; c.Err == nil || !strings.Contains(c.Err.Error(), "no HorizontalPodAutoscaler") {
		t.Errorf("db %+v", c)
	}
	if _, ok := got[ws[3].Target]; ok {
		t.Errorf("gone: %+v", got[ws[3].Target])
	}
	if c := got[ws[4].Target]; c.Err == nil || !strings.Contains(c.Err.Error(), "no scale client") {
		t.Errorf("canary %+v", c)
	}
	// One list per namespace and kind: shop deployments, shop HPAs, data statefulsets, data HPAs.
	lists := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("unexpected %s %s", a.GetVerb(), a.GetResource().Resource)
		}
		lists++
	}
	if lists != 4 {
		t.Errorf("%d lists, want 4", lists)
	}
}
