package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kfake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	mfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/headroom-dev/headroom/metrics"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func usage(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}
}

func ctrl(kind, name string) []metav1.OwnerReference {
	t := true
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, Controller: &t}}
}

func template(cpu, mem string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: usage(cpu, mem)}}}}}
}

func pod(name string, owner []metav1.OwnerReference, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, OwnerReferences: owner}, Status: corev1.PodStatus{Phase: phase}}
}

func cluster() (*kfake.Clientset, *mfake.Clientset) {
	kc := kfake.NewSimpleClientset(
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: appsv1.DeploymentSpec{Template: template("250m", "128Mi")}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-6d4f", OwnerReferences: ctrl("Deployment", "web")}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "bare"}, Spec: appsv1.ReplicaSetSpec{Template: template("1", "1Gi")}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: usage("2", "64Mi")}}},
			Containers:     []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{Requests: usage("500m", "1Gi")}}, {Name: "b", Resources: corev1.ResourceRequirements{Requests: usage("500m", "1Gi")}}},
		}}}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent"}, Spec: appsv1.DaemonSetSpec{Template: template("100m", "50Mi")}},
		pod("web-6d4f-a", ctrl("ReplicaSet", "web-6d4f"), corev1.PodRunning),
		pod("web-6d4f-b", ctrl("ReplicaSet", "web-6d4f"), corev1.PodRunning),
		pod("web-6d4f-c", ctrl("ReplicaSet", "web-6d4f"), corev1.PodRunning), // no metrics yet
		pod("web-6d4f-old", ctrl("ReplicaSet", "web-6d4f"), corev1.PodSucceeded),
		pod("bare-x", ctrl("ReplicaSet", "bare"), corev1.PodRunning),
		pod("db-0", ctrl("StatefulSet", "db"), corev1.PodRunning),
		pod("agent-n1", ctrl("DaemonSet", "agent"), corev1.PodRunning),
		pod("debug", nil, corev1.PodRunning),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"cloud.google.com/gke-nodepool": "pool-a", corev1.LabelTopologyZone: "z1"}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3920m"), corev1.ResourceMemory: resource.MustParse("14Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}, NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2", Labels: map[string]string{"karpenter.sh/nodepool": "spot", "team/pool": "batch"}},
			Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("58")},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}},
	)
	mc := mfake.NewSimpleClientset()
	pm := func(name, cpu, mem string) metricsv1beta1.PodMetrics {
		return metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: usage(cpu, mem)}}}
	}
	mc.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, &metricsv1beta1.PodMetricsList{Items: []metricsv1beta1.PodMetrics{
			pm("web-6d4f-a", "300m", "100Mi"), pm("web-6d4f-b", "200m", "60Mi"), pm("db-0", "1500m", "2Gi"),
			pm("agent-n1", "20m", "30Mi"), pm("gone-1", "5", "5Gi"), pm("debug", "1", "1Gi"),
		}}, nil
	})
	mc.PrependReactor("list", "nodes", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, &metricsv1beta1.NodeMetricsList{Items: []metricsv1beta1.NodeMetrics{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Usage: usage("1200m", "6Gi")}}}, nil
	})
	return kc, mc
}

func TestCollect(t *testing.T) {
	kc, mc := cluster()
	s := New(kc, mc, Options{Namespaces: []string{"shop"}, PoolLabel: "team/pool"})
	b, err := s.Collect(context.Background(), metrics.Window{End: now})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, ser := range b.Series {
		if len(ser.Points) != 1 || !ser.Points[0].T.Equal(now) {
			t.Fatalf("%s: %v", ser.Key, ser.Points)
		}
		got[ser.Key.String()] = ser.Points[0].V
	}
	const mi = 1 << 20
	want := map[string]float64{
		"Deployment/shop/web/cpu": 0.5, "Deployment/shop/web/memory": 160 * mi,
		"Deployment/shop/web/pods": 3, "Deployment/shop/web/pods_with_metrics": 2,
		"Deployment/shop/web/cpu_request": 0.25, "Deployment/shop/web/memory_request": 128 * mi,
		"ReplicaSet/shop/bare/pods": 1, "ReplicaSet/shop/bare/pods_with_metrics": 0,
		"ReplicaSet/shop/bare/cpu_request": 1, "ReplicaSet/shop/bare/memory_request": 1 << 30,
		"StatefulSet/shop/db/cpu": 1.5, "StatefulSet/shop/db/memory": 2 << 30,
		"StatefulSet/shop/db/pods": 1, "StatefulSet/shop/db/pods_with_metrics": 1,
		"StatefulSet/shop/db/cpu_request": 2, "StatefulSet/shop/db/memory_request": 2 << 30, // init container's CPU is larger
		"DaemonSet/shop/agent/cpu": 0.02, "DaemonSet/shop/agent/memory": 30 * mi,
		"DaemonSet/shop/agent/pods": 1, "DaemonSet/shop/agent/pods_with_metrics": 1,
		"DaemonSet/shop/agent/cpu_request": 0.1, "DaemonSet/shop/agent/memory_request": 50 * mi,
		"NodePool/pool-a/nodes": 1, "NodePool/pool-a/nodes_ready": 1, "NodePool/pool-a/nodes_with_metrics": 1,
		"NodePool/pool-a/cpu_allocatable": 3.92, "NodePool/pool-a/memory_allocatable": 14 << 30, "NodePool/pool-a/pods_allocatable": 110,
		"NodePool/pool-a/cpu": 1.2, "NodePool/pool-a/memory": 6 << 30,
		"NodePool/batch/nodes": 1, "NodePool/batch/nodes_ready": 0, "NodePool/batch/nodes_with_metrics": 0,
		"NodePool/batch/cpu_allocatable": 2, "NodePool/batch/memory_allocatable": 8 << 30, "NodePool/batch/pods_allocatable": 58,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s = %v (a workload without metrics must have no usage sample)", k, got[k])
		}
	}
	if len(b.Warnings) != 2 || !strings.Contains(b.Warnings[0], "1 running pods without a controller") || !strings.Contains(b.Warnings[1], "1 pods that no longer exist") {
		t.Errorf("warnings %q", b.Warnings)
	}
	if len(b.Nodes) != 2 || b.Nodes[0].Zone != "z1" || b.Nodes[0].KubeletVersion != "v1.37.2" || !b.Nodes[0].Ready || b.Nodes[1].Pool != "batch" {
		t.Errorf("nodes %+v", b.Nodes)
	}
	if len(b.Coverage) != 4 || b.Coverage[1] != (metrics.Coverage{Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}, Pods: 3, WithMetrics: 2}) {
		t.Errorf("coverage %+v", b.Coverage)
	}
	// One list per kind and namespace (7, ResourceQuotas included) plus nodes, NodeMetrics and the version:
	// no per-pod requests.
	if !b.QuotasRead || len(b.Quotas) != 0 {
		t.Errorf("quotas read %v: %+v (the namespace has none)", b.QuotasRead, b.Quotas)
	}
	if s.Requests != 10 {
		t.Errorf("%d requests", s.Requests)
	}
}

func TestMetricsAPIUnavailable(t *testing.T) {
	kc, mc := cluster()
	mc.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("the server is currently unable to handle the request (get pods.metrics.k8s.io)")
	})
	_, err := New(kc, mc, Options{}).Collect(context.Background(), metrics.Window{End: now})
	if !errors.Is(err, metrics.ErrUnavailable) || !strings.Contains(err.Error(), "PodMetrics") {
		t.Fatalf("%v", err)
	}
}

func TestProgress(t *testing.T) {
	kc, mc := cluster()
	var got []string
	s := New(kc, mc, Options{Namespaces: []string{"shop", "batch"}, Progress: func(done, total int, what string) {
		got = append(got, fmt.Sprintf("%d/%d %s", done, total, what))
	}})
	if _, err := s.Collect(context.Background(), metrics.Window{End: now}); err != nil {
		t.Fatal(err)
	}
	want := []string{"0/3 pods in namespace shop", "1/3 pods in namespace batch", "2/3 nodes", "3/3 done"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("progress %q, want %q", got, want)
	}
}

func quantities(kv ...string) corev1.ResourceList {
	rl := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		rl[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return rl
}

// Quotas: spec.hard and status.used in cores, bytes and pods; the cpu/memory shorthand folded into
// requests.* (the smaller hard, the larger used); limits and pods as they are, count/pods as pods;
// resources headroom does not plan (other object counts, storage) dropped, and a quota of only those left
// out; scopes named.
func TestCollectQuotas(t *testing.T) {
	kc, mc := cluster()
	for _, q := range []*corev1.ResourceQuota{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "compute"},
			Spec: corev1.ResourceQuotaSpec{Hard: quantities("requests.cpu", "8", "cpu", "6500m", "requests.memory", "16Gi", "limits.cpu", "16",
				"limits.memory", "32Gi", "pods", "40", "count/deployments.apps", "10", "requests.storage", "1Ti")},
			Status: corev1.ResourceQuotaStatus{Used: quantities("requests.cpu", "3250m", "cpu", "3250m", "requests.memory", "6Gi", "limits.cpu", "6",
				"limits.memory", "12Gi", "pods", "7", "count/deployments.apps", "3")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "best-effort"},
			Spec: corev1.ResourceQuotaSpec{Hard: quantities("pods", "5"), Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort},
				ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
					{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"low", "batch"}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "objects"}, Spec: corev1.ResourceQuotaSpec{Hard: quantities("count/secrets", "50")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "counts"}, Spec: corev1.ResourceQuotaSpec{Hard: quantities("count/pods", "25", "count/secrets", "50")},
			Status: corev1.ResourceQuotaStatus{Used: quantities("count/pods", "7", "count/secrets", "3")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "compute"}, Spec: corev1.ResourceQuotaSpec{Hard: quantities("pods", "1")}},
	} {
		if err := kc.Tracker().Add(q); err != nil {
			t.Fatal(err)
		}
	}
	s := New(kc, mc, Options{Namespaces: []string{"shop"}})
	b, err := s.Collect(context.Background(), metrics.Window{End: now})
	if err != nil {
		t.Fatal(err)
	}
	if !b.QuotasRead || len(b.Quotas) != 3 {
		t.Fatalf("quotas read %v: %+v", b.QuotasRead, b.Quotas)
	}
	be, compute, counts := b.Quotas[0], b.Quotas[1], b.Quotas[2] // sorted by name
	if counts.Name != "counts" || !maps.Equal(counts.Hard, map[string]float64{"pods": 25}) || !maps.Equal(counts.Used, map[string]float64{"pods": 7}) {
		t.Errorf("counts %+v, want count/pods as pods 7 of 25", counts)
	}
	wantHard := map[string]float64{"requests.cpu": 6.5, "requests.memory": 16 << 30, "limits.cpu": 16, "limits.memory": 32 << 30, "pods": 40}
	wantUsed := map[string]float64{"requests.cpu": 3.25, "requests.memory": 6 << 30, "limits.cpu": 6, "limits.memory": 12 << 30, "pods": 7}
	if compute.Namespace != "shop" || compute.Name != "compute" || !maps.Equal(compute.Hard, wantHard) || !maps.Equal(compute.Used, wantUsed) || len(compute.Scopes) != 0 {
		t.Errorf("compute %+v\nwant hard %v used %v", compute, wantHard, wantUsed)
	}
	if be.Name != "best-effort" || !maps.Equal(be.Hard, map[string]float64{"pods": 5}) || len(be.Used) != 0 ||
		strings.Join(be.Scopes, "; ") != "BestEffort; PriorityClass In (low, batch)" {
		t.Errorf("best-effort %+v", be)
	}
}

// A collector not allowed to list ResourceQuotas collects everything else and says so: QuotasRead false
// and a warning naming the namespace and the rule; any other failure of the list fails the collection.
func TestCollectQuotasForbidden(t *testing.T) {
	kc, mc := cluster()
	kc.PrependReactor("list", "resourcequotas", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("resourcequotas"), "", errors.New(`User "system:serviceaccount:headroom:headroom" cannot list resource "resourcequotas"`))
	})
	b, err := New(kc, mc, Options{Namespaces: []string{"shop"}}).Collect(context.Background(), metrics.Window{End: now})
	if err != nil {
		t.Fatal(err)
	}
	if b.QuotasRead || len(b.States) != 4 {
		t.Errorf("quotas read %v, %d workload states", b.QuotasRead, len(b.States))
	}
	w := strings.Join(b.Warnings, "\n")
	if !strings.Contains(w, "resource quotas not read in namespace shop") || !strings.Contains(w, "list on resourcequotas") || !strings.Contains(w, "forbidden") {
		t.Errorf("warnings %q", b.Warnings)
	}
	kc2, mc2 := cluster()
	kc2.PrependReactor("list", "resourcequotas", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd timeout"))
	})
	if _, err := New(kc2, mc2, Options{Namespaces: []string{"shop"}}).Collect(context.Background(), metrics.Window{End: now}); !errors.Is(err, metrics.ErrUnavailable) || !strings.Contains(err.Error(), "resourcequotas") {
		t.Errorf("a failed quota list: %v", err)
	}
}
