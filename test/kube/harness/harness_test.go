package harness_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/test/kube/harness"
)

var deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}

func createDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{"app": name}
	d, err := cs.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					Resources: corev1.ResourceRequirements{Requests: harness.Usage("500m", "512Mi")},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	return d
}

func TestScaleDeploymentThroughScaleSubresource(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	cs := s.Client()
	createDeployment(t, cs, ns, "web", 2)

	scales := harness.ScaleClient(t, s.Config()).Scales(ns)
	sc, err := scales.Get(ctx, deployments, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get scale: %v", err)
	}
	if sc.Spec.Replicas != 2 {
		t.Fatalf("scale spec.replicas = %d, want 2", sc.Spec.Replicas)
	}
	sc.Spec.Replicas = 5
	if _, err := scales.Update(ctx, deployments, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update scale: %v", err)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := *d.Spec.Replicas; got != 5 {
		t.Fatalf("deployment spec.replicas = %d after scaling, want 5", got)
	}

	// sc still carries the resourceVersion read before the update: the API
	// server must refuse it, which client-go's fake clientset does not.
	sc.Spec.Replicas = 7
	_, err = scales.Update(ctx, deployments, sc, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update scale with stale resourceVersion: err = %v, want 409 Conflict", err)
	}
}

func TestStaleResourceVersionIsConflict(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	cs := s.Client()
	stale := createDeployment(t, cs, ns, "api", 1)

	fresh := stale.DeepCopy()
	fresh.Spec.Replicas = ptr.To[int32](3)
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale.Spec.Replicas = ptr.To[int32](4)
	_, err := cs.AppsV1().Deployments(ns).Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update with stale resourceVersion: err = %v, want 409 Conflict", err)
	}
}

func TestPodMetricsThroughAggregationLayer(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	began := time.Now()
	m := s.MetricsAPI(t)
	t.Logf("metrics API available through the aggregator in %v", time.Since(began).Round(time.Millisecond))
	m.SetPodMetrics(ns, []metricsv1beta1.PodMetrics{
		podMetrics("web-1", "web", "250m", "100Mi"),
		podMetrics("web-2", "web", "300m", "120Mi"),
		podMetrics("db-0", "db", "1", "2Gi"),
	})
	m.SetNodeMetrics([]metricsv1beta1.NodeMetrics{{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{"pool": "default"}},
		Usage:      harness.Usage("1500m", "6Gi"),
	}})

	mc := metricsclient.NewForConfigOrDie(s.Config()).MetricsV1beta1()
	all, err := mc.PodMetricses(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list pod metrics: %v", err)
	}
	if len(all.Items) != 3 {
		t.Fatalf("listed %d pod metrics, want 3", len(all.Items))
	}
	web, err := mc.PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(web.Items) != 2 || web.Items[0].Name != "web-1" || web.Items[1].Name != "web-2" {
		t.Fatalf("app=web pod metrics = %v, want web-1 and web-2", names(web.Items))
	}
	one, err := mc.PodMetricses(ns).Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cpu := one.Containers[0].Usage.Cpu().MilliValue(); cpu != 250 {
		t.Fatalf("web-1 cpu = %dm, want 250m", cpu)
	}
	if _, err := mc.PodMetricses(ns).Get(ctx, "missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing pod metrics: err = %v, want 404", err)
	}
	everywhere, err := mc.PodMetricses(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: "app=db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(everywhere.Items) != 1 || everywhere.Items[0].Namespace != ns {
		t.Fatalf("all-namespace app=db pod metrics = %v, want db-0 in %s", names(everywhere.Items), ns)
	}
	nodes, err := mc.NodeMetricses().List(ctx, metav1.ListOptions{LabelSelector: "pool=default"})
	if err != nil {
		t.Fatalf("list node metrics: %v", err)
	}
	if len(nodes.Items) != 1 || nodes.Items[0].Usage.Memory().Value() != 6<<30 {
		t.Fatalf("node metrics = %+v, want node-a with 6Gi", nodes.Items)
	}

	reqs := m.Requests()
	if len(reqs) == 0 || reqs[len(reqs)-1].User != harness.AdminUser {
		t.Fatalf("last request reached the metrics server as %+v, want user %s", reqs, harness.AdminUser)
	}

	// A service account without a role is stopped by the API server before
	// the metrics server; with one it gets through under its own name.
	sa := metricsclient.NewForConfigOrDie(s.ServiceAccountConfig(t, ns, "reader")).MetricsV1beta1()
	if _, err := sa.PodMetricses(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list pod metrics without a role: err = %v, want 403", err)
	}
	s.Grant(t, ns, harness.ServiceAccountSubject(ns, "reader"), rbacv1.PolicyRule{
		APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods"}, Verbs: []string{"get", "list"},
	})
	if _, err := sa.PodMetricses(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list pod metrics with a role: %v", err)
	}
	reqs = m.Requests()
	if want := "system:serviceaccount:" + ns + ":reader"; reqs[len(reqs)-1].User != want {
		t.Fatalf("request reached the metrics server as %q, want %q", reqs[len(reqs)-1].User, want)
	}
}

func podMetrics(name, app, cpu, memory string) metricsv1beta1.PodMetrics {
	return metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage(cpu, memory)}},
	}
}

func names(items []metricsv1beta1.PodMetrics) []string {
	var out []string
	for _, p := range items {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

func TestRBACTokenNeedsRole(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	createDeployment(t, s.Client(), ns, "web", 1)

	cfg := s.ServiceAccountConfig(t, ns, "headroom")
	scales := harness.ScaleClient(t, cfg).Scales(ns)
	if _, err := scales.Get(ctx, deployments, "web", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("get scale without a role: err = %v, want 403 Forbidden", err)
	}
	s.Grant(t, ns, harness.ServiceAccountSubject(ns, "headroom"), rbacv1.PolicyRule{
		APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"get", "update"},
	})
	sc, err := scales.Get(ctx, deployments, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get scale with a role: %v", err)
	}
	sc.Spec.Replicas = 2
	if _, err := scales.Update(ctx, deployments, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update scale with a role: %v", err)
	}
	// The role grants the subresource only, not the Deployment itself.
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("get deployment with a scale-only role: err = %v, want 403", err)
	}

	// Users named by client certificates work the same way.
	alice := kubernetes.NewForConfigOrDie(s.UserConfig(t, "alice", "capacity-team"))
	if _, err := alice.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice lists pods without a role: err = %v, want 403", err)
	}
	s.Grant(t, ns, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "capacity-team"},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}})
	if _, err := alice.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("alice lists pods through her group's role: %v", err)
	}
}

func TestFaultProxy(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	createDeployment(t, s.Client(), ns, "web", 1)
	p := s.FaultProxy(t)
	cs := kubernetes.NewForConfigOrDie(p.Config())
	scales := harness.ScaleClient(t, p.Config()).Scales(ns)

	conflict := p.Inject(harness.Fault{Method: "PUT", PathContains: "/deployments/web/scale", Times: 1, Status: 409})
	attempts := 0
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		attempts++
		sc, err := scales.Get(ctx, deployments, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec.Replicas = 4
		_, err = scales.Update(ctx, deployments, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil || attempts != 2 || conflict.Hits() != 1 {
		t.Fatalf("scale with one injected conflict: err = %v after %d attempts, %d hits; want success on attempt 2", err, attempts, conflict.Hits())
	}

	p.Inject(harness.Fault{Method: "GET", PathContains: "/deployments/web", Times: 1, Status: 500})
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsInternalError(err) {
		t.Fatalf("get with injected 500: err = %v, want 500 InternalError", err)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 4 {
		t.Fatalf("get after the fault: %v, %v; want 4 replicas", d, err)
	}

	p.Inject(harness.Fault{Method: "GET", PathContains: "/deployments/web", Times: 1, Status: 429})
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsTooManyRequests(err) {
		t.Fatalf("get with injected 429: err = %v, want 429", err)
	}
	// With Retry-After, client-go waits and retries by itself.
	throttled := p.Inject(harness.Fault{Method: "GET", PathContains: "/deployments/web", Times: 1, Status: 429, RetryAfter: time.Second})
	start := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatalf("get with 429 and Retry-After: %v, want client-go to retry", err)
	}
	if throttled.Hits() != 1 || time.Since(start) < time.Second {
		t.Fatalf("429 with Retry-After: %d hits after %v, want 1 hit and a wait of 1s", throttled.Hits(), time.Since(start))
	}

	p.Inject(harness.Fault{Method: "GET", PathContains: "/deployments/web", Times: 1, Delay: 300 * time.Millisecond})
	start = time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("delayed get answered in %v, want at least 300ms", el)
	}
	impatient := p.Config()
	impatient.Timeout = 100 * time.Millisecond
	p.Inject(harness.Fault{Method: "GET", PathContains: "/deployments/web", Times: 1, Delay: 2 * time.Second})
	if _, err := kubernetes.NewForConfigOrDie(impatient).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err == nil {
		t.Fatal("get slower than the client timeout succeeded, want a timeout")
	}

	dropped := p.Inject(harness.Fault{Method: "PUT", PathContains: "/deployments/web", Times: 1, Drop: true})
	d.Spec.Replicas = ptr.To[int32](6)
	_, err = cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
	var status apierrors.APIStatus
	if err == nil || errors.As(err, &status) || dropped.Hits() != 1 {
		t.Fatalf("update on a dropped connection: err = %v (%d hits), want a transport error", err, dropped.Hits())
	}
	if _, err := cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update after the dropped connection: %v", err)
	}
	if n := len(p.Requests()); n < 10 {
		t.Fatalf("proxy logged %d requests, want every one", n)
	}
}

func TestScaleMachineDeployment(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(s.Config()).Resource(harness.MachineDeployments).Namespace(ns)
	md := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.x-k8s.io/v1beta1",
		"kind":       "MachineDeployment",
		"metadata":   map[string]any{"name": "pool-a"},
		"spec": map[string]any{
			"clusterName": "prod",
			"replicas":    int64(3),
			"selector":    map[string]any{"matchLabels": map[string]any{"pool": "a"}},
			"template": map[string]any{"spec": map[string]any{
				"clusterName": "prod", "version": "v1.37.2",
				"infrastructureRef": map[string]any{"kind": "DockerMachineTemplate", "name": "pool-a"},
			}},
		},
	}}
	md, err := dyn.Create(ctx, md, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create MachineDeployment: %v", err)
	}
	// No Cluster API controller runs: write the status it would.
	_ = unstructured.SetNestedField(md.Object, map[string]any{"replicas": int64(3), "readyReplicas": int64(3), "selector": "pool=a"}, "status")
	if _, err := dyn.UpdateStatus(ctx, md, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update MachineDeployment status: %v", err)
	}

	gr := harness.MachineDeployments.GroupResource()
	scales := harness.ScaleClient(t, s.Config()).Scales(ns)
	sc, err := scales.Get(ctx, gr, "pool-a", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get MachineDeployment scale: %v", err)
	}
	if sc.Spec.Replicas != 3 || sc.Status.Replicas != 3 || sc.Status.Selector != "pool=a" {
		t.Fatalf("scale = %+v, want 3 replicas, selector pool=a", sc)
	}
	sc.Spec.Replicas = 5
	if _, err := scales.Update(ctx, gr, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale MachineDeployment: %v", err)
	}
	got, err := dyn.Get(ctx, "pool-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 5 {
		t.Fatalf("MachineDeployment spec.replicas = %d, want 5", r)
	}
	sc.Spec.Replicas = 6 // stale resourceVersion
	if _, err := scales.Update(ctx, gr, sc, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale MachineDeployment scale: err = %v, want 409", err)
	}
}

func TestAccessReviewHelpers(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	subject := harness.UserSubject("bob")
	s.Grant(t, ns, subject, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.WaitForAccess(ctx, subject, &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "delete", Resource: "configmaps"})
	if err == nil {
		t.Fatal("WaitForAccess for a verb the role lacks returned nil, want a timeout")
	}
}

// TestStopLeavesNothing starts a second, private control plane and checks that
// Stop leaves no process, process group or directory behind.
func TestStopLeavesNothing(t *testing.T) {
	kube.Server(t) // skips like the others without binaries
	s, err := harness.Start(harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second server ready in %v", s.StartDuration)
	etcdPID, apiPID := s.PIDs()
	dir := s.Dir()
	for _, pid := range []int{etcdPID, apiPID} {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("process %d not running after Start: %v", pid, err)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, pid := range []int{etcdPID, apiPID} {
		// Each process led its own group; the group must be empty.
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still has members after Stop (kill: %v)", pid, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s still there after Stop (stat: %v)", dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartWithoutBinary(t *testing.T) {
	_, err := harness.Start(harness.Options{APIServer: "/nonexistent/kube-apiserver"})
	if !errors.Is(err, harness.ErrMissingBinary) {
		t.Fatalf("Start without kube-apiserver: err = %v, want ErrMissingBinary", err)
	}
	_, err = harness.Start(harness.Options{APIServer: os.Args[0], Etcd: "/nonexistent/etcd"})
	if !errors.Is(err, harness.ErrMissingBinary) {
		t.Fatalf("Start without etcd: err = %v, want ErrMissingBinary", err)
	}
}

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"unset", "", false},
		{"one", "1", true},
		{"zero", "0", false},
		{"false", "false", false},
		{"true", "true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(harness.RequireEnv, tc.value)
			if got := harness.Required(); got != tc.want {
				t.Fatalf("Required() with %q = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

// TestSkipOrFailWithoutBinaries runs this test binary again with a missing
// kube-apiserver: the tests skip, unless HEADROOM_REQUIRE_KUBE=1 makes them fail.
func TestSkipOrFailWithoutBinaries(t *testing.T) {
	for _, tc := range []struct {
		require  string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestStaleResourceVersionIsConflict"},
		{"1", true, "--- FAIL: TestStaleResourceVersionIsConflict"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStaleResourceVersionIsConflict$", "-test.v")
		cmd.Env = append(os.Environ(), "HEADROOM_KUBE_APISERVER=/nonexistent/kube-apiserver", harness.RequireEnv+"="+tc.require)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s=%q: exit error %v, output:\n%s\nwant %q", harness.RequireEnv, tc.require, err, out, tc.want)
		}
		if !strings.Contains(string(out), "make kube-bin") {
			t.Errorf("%s=%q: output does not say how to build the binary:\n%s", harness.RequireEnv, tc.require, out)
		}
	}
}

const crashEnv = "HEADROOM_HARNESS_CRASH_CHILD"

// TestCrashLeavesNothing runs this test binary again with a test that panics
// while the shared server runs: the binary dies without reaching Stop, and
// the kernel (Pdeathsig) and the reaper must still remove every process and
// the temporary directory.
func TestCrashLeavesNothing(t *testing.T) {
	kube.Server(t) // skips like the others without binaries
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "deliberate panic") {
		t.Fatalf("child: err = %v, want a panic; output:\n%s", err, out)
	}
	var dir string
	var pids []int
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "CRASH-CHILD "); ok {
			var etcd, api int
			if _, err := fmt.Sscanf(rest, "dir=%s etcd=%d apiserver=%d", &dir, &etcd, &api); err != nil {
				t.Fatalf("parse %q: %v", rest, err)
			}
			pids = []int{etcd, api}
		}
	}
	if dir == "" {
		t.Fatalf("child did not report its server; output:\n%s", out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		alive := slices.DeleteFunc(slices.Clone(pids), func(pid int) bool { return !running(pid) })
		if os.IsNotExist(statErr) && len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the crash: directory %s stat err %v, processes still running %v", dir, statErr, alive)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCrashChild is TestCrashLeavesNothing's child: it only runs there.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashEnv) != "1" {
		t.Skip("runs only as TestCrashLeavesNothing's child")
	}
	s := kube.Server(t)
	etcd, api := s.PIDs()
	fmt.Printf("CRASH-CHILD dir=%s etcd=%d apiserver=%d\n", s.Dir(), etcd, api)
	panic("deliberate panic: the harness must clean up without Stop")
}

// running reports whether pid is a live process; a zombie left to a parent
// that does not reap counts as ended.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may contain spaces, so look after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
