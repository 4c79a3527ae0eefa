package integration_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/headroom-dev/headroom/metrics"
	mkube "github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

var ctx = context.Background()

// readRules are what the metrics-server source needs: list, nothing else (ResourceQuotas included).
var readRules = mkube.Rules()

func source(t *testing.T, cfg *rest.Config, o mkube.Options) *mkube.Source {
	t.Helper()
	return mkube.New(kubernetes.NewForConfigOrDie(cfg), metricsclient.NewForConfigOrDie(cfg), o)
}

func podSpec(cpu, mem string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
		Resources: corev1.ResourceRequirements{Requests: harness.Usage(cpu, mem)}}}}
}

func owner(kind string, o metav1.Object) []metav1.OwnerReference {
	t := true
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: o.GetName(), UID: o.GetUID(), Controller: &t}}
}

// must returns the object of a create call, failing the test on its error.
func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestCollectThroughMetricsAPI builds a Deployment → ReplicaSet → Pods chain, a StatefulSet, a DaemonSet, a
// pod without an owner and three nodes through the API, serves PodMetrics and NodeMetrics for them (one pod
// without metrics, usage for a pod that does not exist), and checks what the source collects, sample by
// sample, with pages of two items.
func TestCollectThroughMetricsAPI(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	labels := map[string]string{"app": "web"}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	dep := must[*appsv1.Deployment](t)(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: sel, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("250m", "128Mi")}}},
		metav1.CreateOptions{}))
	rs := must[*appsv1.ReplicaSet](t)(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-6d4f", OwnerReferences: owner("Deployment", dep)},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("250m", "128Mi")}}},
		metav1.CreateOptions{}))
	dbLabels := map[string]string{"app": "db"}
	sts := must[*appsv1.StatefulSet](t)(c.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: dbLabels}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: dbLabels}, Spec: podSpec("1", "2Gi")}}},
		metav1.CreateOptions{}))
	agLabels := map[string]string{"app": "agent"}
	ds := must[*appsv1.DaemonSet](t)(c.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: agLabels}, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: agLabels}, Spec: podSpec("100m", "64Mi")}}},
		metav1.CreateOptions{}))
	nodeName := func(n string) string { return ns + "-" + n }
	// mkPod creates a pod bound to node ("": unscheduled); the API server
	// makes it Pending, and ready sets it Running with Ready True or False.
	mkPod := func(name string, refs []metav1.OwnerReference, node string, ready ...bool) {
		spec := podSpec("250m", "128Mi")
		if node != "" {
			spec.NodeName = nodeName(node)
		}
		p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: refs}, Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ready) == 0 {
			return
		}
		status := corev1.ConditionFalse
		if ready[0] {
			status = corev1.ConditionTrue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var usage []metricsv1beta1.PodMetrics
	wantCPU, wantMem := 0.0, 0.0
	// web: pods 0 and 1 Ready on n1, pod 2 Running but not Ready on n3,
	// pods 3 and 4 unscheduled (Pending).
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("web-6d4f-%d", i)
		switch i {
		case 0, 1:
			mkPod(name, owner("ReplicaSet", rs), "n1", true)
		case 2:
			mkPod(name, owner("ReplicaSet", rs), "n3", false)
		default:
			mkPod(name, owner("ReplicaSet", rs), "")
		}
		if i == 4 {
			continue // a pod without metrics (just started): coverage, not zero usage
		}
		cpu, mem := 100*(i+1), 50*(i+1)
		usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage(fmt.Sprintf("%dm", cpu), fmt.Sprintf("%dMi", mem))}}})
		wantCPU += float64(cpu) / 1000
		wantMem += float64(mem << 20)
	}
	mkPod("db-0", owner("StatefulSet", sts), "")
	mkPod("agent-x", owner("DaemonSet", ds), "n1", true)
	mkPod("debug", nil, "n3", true)
	usage = append(usage,
		metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: "db-0"}, Containers: []metricsv1beta1.ContainerMetrics{
			{Name: "app", Usage: harness.Usage("700m", "1Gi")}, {Name: "sidecar", Usage: harness.Usage("50m", "100Mi")}}},
		metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: "agent-x"}, Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("30m", "40Mi")}}},
		metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: "debug"}, Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("1", "1Gi")}}},
		metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: "web-6d4f-gone"}, Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("9", "9Gi")}}},
	)
	m.SetPodMetrics(ns, usage)

	// Nodes: two in GKE pool "a" (one not ready), one in a Karpenter pool.
	for _, n := range []struct {
		name, poolLabel, pool, zone string
		ready                       bool
	}{
		{"n1", "cloud.google.com/gke-nodepool", "a", "z1", true},
		{"n2", "cloud.google.com/gke-nodepool", "a", "z2", false},
		{"n3", "karpenter.sh/nodepool", "spot", "z1", true},
	} {
		node := must[*corev1.Node](t)(c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(n.name),
			Labels: map[string]string{n.poolLabel: n.pool + "-" + ns, corev1.LabelTopologyZone: n.zone}}}, metav1.CreateOptions{}))
		t.Cleanup(func() { c.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}) })
		status := corev1.ConditionFalse
		if n.ready {
			status = corev1.ConditionTrue
		}
		node.Status = corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3920m"), corev1.ResourceMemory: resource.MustParse("14Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.1"},
		}
		if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m.SetNodeMetrics([]metricsv1beta1.NodeMetrics{
		{ObjectMeta: metav1.ObjectMeta{Name: nodeName("n1")}, Usage: harness.Usage("1500m", "6Gi")},
		{ObjectMeta: metav1.ObjectMeta{Name: nodeName("n3")}, Usage: harness.Usage("500m", "2Gi")},
	})

	// A service account with read access only, as the CronJob runs.
	cfg := s.ServiceAccountConfig(t, ns, "headroom")
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "headroom"), readRules...)
	src := source(t, cfg, mkube.Options{Namespaces: []string{ns}, PageSize: 2})
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	b, err := src.Collect(ctx, metrics.Window{End: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("collected %d series in %v with %d API requests", len(b.Series), time.Since(start).Round(time.Millisecond), src.Requests)
	got := map[string]float64{}
	for _, ser := range b.Series {
		if len(ser.Points) != 1 || !ser.Points[0].T.Equal(now) {
			t.Fatalf("%s: %v", ser.Key, ser.Points)
		}
		got[ser.Key.String()] = ser.Points[0].V
	}
	web, db, agent := "Deployment/"+ns+"/web/", "StatefulSet/"+ns+"/db/", "DaemonSet/"+ns+"/agent/"
	poolA, spot := "NodePool/a-"+ns+"/", "NodePool/spot-"+ns+"/"
	want := map[string]float64{
		web + "cpu": wantCPU, web + "memory": wantMem, web + "pods": 5, web + "pods_with_metrics": 4,
		web + "cpu_request": 0.25, web + "memory_request": 128 << 20,
		db + "cpu": 0.75, db + "memory": 1<<30 + 100<<20, db + "pods": 1, db + "pods_with_metrics": 1,
		db + "cpu_request": 1, db + "memory_request": 2 << 30,
		agent + "cpu": 0.03, agent + "memory": 40 << 20, agent + "pods": 1, agent + "pods_with_metrics": 1,
		agent + "cpu_request": 0.1, agent + "memory_request": 64 << 20,
		poolA + "nodes": 2, poolA + "nodes_ready": 1, poolA + "nodes_with_metrics": 1, poolA + "cpu_allocatable": 7.84,
		poolA + "memory_allocatable": 28 << 30, poolA + "pods_allocatable": 220, poolA + "cpu": 1.5, poolA + "memory": 6 << 30,
		spot + "nodes": 1, spot + "nodes_ready": 1, spot + "nodes_with_metrics": 1, spot + "cpu_allocatable": 3.92,
		spot + "memory_allocatable": 14 << 30, spot + "pods_allocatable": 110, spot + "cpu": 0.5, spot + "memory": 2 << 30,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || abs(g-v) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && !strings.HasPrefix(k, "NodePool/") {
			t.Errorf("unexpected series %s = %v", k, v)
		}
	}
	if len(b.Warnings) < 2 || !strings.Contains(strings.Join(b.Warnings, "\n"), "1 running pods without a controller") ||
		!strings.Contains(strings.Join(b.Warnings, "\n"), "usage for 1 pods that no longer exist") {
		t.Errorf("warnings %q", b.Warnings)
	}
	if b.ControlPlaneVersion == "" || !strings.HasPrefix(b.ControlPlaneVersion, "v1.37") {
		t.Errorf("control plane version %q", b.ControlPlaneVersion)
	}
	var n1 *metrics.Node
	for i := range b.Nodes {
		if b.Nodes[i].Name == nodeName("n1") {
			n1 = &b.Nodes[i]
		}
	}
	if n1 == nil || n1.Zone != "z1" || n1.KubeletVersion != "v1.37.1" || !n1.Ready || !n1.HasUsage || n1.Pool != "a-"+ns {
		t.Errorf("node n1 %+v", n1)
	}
	// The workloads' pod snapshot, pod by pod as created above.
	states := map[string]metrics.WorkloadState{}
	for _, st := range b.States {
		states[st.Workload.String()] = st
	}
	wantStates := []metrics.WorkloadState{
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: ns, Name: "web"}, Pods: 5, Ready: 2, Pending: 2, CPURequest: 0.25, MemoryRequest: 128 << 20,
			Nodes: map[string]int{nodeName("n1"): 2, nodeName("n3"): 1}},
		{Workload: metrics.Workload{Kind: "StatefulSet", Namespace: ns, Name: "db"}, Pods: 1, Ready: 0, Pending: 1, CPURequest: 1, MemoryRequest: 2 << 30},
		{Workload: metrics.Workload{Kind: "DaemonSet", Namespace: ns, Name: "agent"}, Pods: 1, Ready: 1, Pending: 0, CPURequest: 0.1, MemoryRequest: 64 << 20,
			Nodes: map[string]int{nodeName("n1"): 1}},
	}
	if len(b.States) != len(wantStates) {
		t.Errorf("%d workload states, want %d: %+v", len(b.States), len(wantStates), b.States)
	}
	for _, w := range wantStates {
		g, ok := states[w.Workload.String()]
		if !ok || g.Pods != w.Pods || g.Ready != w.Ready || g.Pending != w.Pending || abs(g.CPURequest-w.CPURequest) > 1e-9 ||
			g.MemoryRequest != w.MemoryRequest || !maps.Equal(g.Nodes, w.Nodes) {
			t.Errorf("state of %s:\n got %+v\nwant %+v", w.Workload, g, w)
		}
	}
	// Written to a store, the batch is the latest inventory snapshot, with its nodes.
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	inv, ok, err := st.LatestInventory(ctx, time.Time{})
	if err != nil || !ok || !inv.At.Equal(now) || len(inv.Nodes) != 3 || len(inv.Workloads) != 3 || inv.ControlPlaneVersion != b.ControlPlaneVersion {
		t.Errorf("inventory %+v ok %v err %v", inv, ok, err)
	}
	// Pages of 2: 8 pods take 4 page requests, so requests grow with pages, not pods.
	if src.Requests > 25 {
		t.Errorf("%d API requests", src.Requests)
	}
	// The metrics server saw the service account's identity through the aggregation layer.
	if reqs := m.Requests(); len(reqs) == 0 {
		t.Error("the metrics API server saw no request")
	}
}

// TestMetricsAPIUnavailable: when the aggregated API answers 503 (APIService not available), Collect fails
// with metrics.ErrUnavailable and names the metrics API.
func TestMetricsAPIUnavailable(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	p := s.FaultProxy(t)
	p.Inject(harness.Fault{PathContains: "/apis/metrics.k8s.io/", Status: 503})
	src := source(t, p.Config(), mkube.Options{Namespaces: []string{ns}})
	_, err := src.Collect(ctx, metrics.Window{End: time.Now()})
	if !errors.Is(err, metrics.ErrUnavailable) || !strings.Contains(err.Error(), "metrics.k8s.io") {
		t.Fatalf("%v, want ErrUnavailable naming metrics.k8s.io", err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
