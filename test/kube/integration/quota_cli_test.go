package integration_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/headroom-dev/headroom/test/kube/harness"
)

// TestQuotaCLI runs the built headroom binary against the real API server:
// headroom collect prints and stores the namespace's ResourceQuota as the
// API server's quota admission counted it (2 pods of 500m: 1 core, 2 pods
// of a quota of 2 cores and 5 pods), and headroom report writes it in its
// JSON (schemaVersion 2) and Markdown. One collection is not enough history
// to forecast: the quota is shown with used and hard and no runway.
func TestQuotaCLI(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	bin := headroomBinary(t)
	dir := t.TempDir()

	hard := corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("5")}
	q := must[*corev1.ResourceQuota](t)(c.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "compute"},
		Spec: corev1.ResourceQuotaSpec{Hard: hard}}, metav1.CreateOptions{}))
	q.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("0"), corev1.ResourcePods: resource.MustParse("0")}}
	if _, err := c.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: quotaPod("", nil, "500m", "256Mi", "1").Spec}
	dep := must[*appsv1.Deployment](t)(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{}))
	rs := must[*appsv1.ReplicaSet](t)(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5b8d", Labels: labels, OwnerReferences: owner("Deployment", dep)},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{}))
	var usage []metricsv1beta1.PodMetrics
	for i := range 2 {
		name := fmt.Sprintf("web-5b8d-%d", i)
		must[*corev1.Pod](t)(c.CoreV1().Pods(ns).Create(ctx, quotaPod(name, owner("ReplicaSet", rs), "500m", "256Mi", "1"), metav1.CreateOptions{}))
		usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("300m", "100Mi")}}})
	}
	m.SetPodMetrics(ns, usage)

	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("headroom %s: exit %d\n%s%s", strings.Join(args, " "), ee.ExitCode(), out.String(), errOut.String())
			}
			t.Fatal(err)
		}
		return out.String()
	}
	kc := kubeconfig(t, s.Config())
	db := filepath.Join(dir, "h.db")
	var collected struct {
		Quotas []struct {
			Namespace, Name string
			Hard, Used      map[string]float64
		} `json:"resource_quotas"`
	}
	if err := json.Unmarshal([]byte(run("collect", "--source", "metrics-server", "--kubeconfig", kc, "--namespace", ns, "--store", db, "-o", "json")), &collected); err != nil {
		t.Fatal(err)
	}
	if len(collected.Quotas) != 1 || collected.Quotas[0].Name != "compute" || collected.Quotas[0].Hard["pods"] != 5 || collected.Quotas[0].Used["pods"] != 2 ||
		collected.Quotas[0].Hard["requests.cpu"] != 2 || collected.Quotas[0].Used["requests.cpu"] != 1 {
		t.Fatalf("collect -o json quotas %+v", collected.Quotas)
	}
	if out := run("collect", "--source", "metrics-server", "--kubeconfig", kc, "--namespace", ns, "--store", db); !strings.Contains(out, ", 1 resource quotas") {
		t.Errorf("collect prints no quota count:\n%s", out)
	}

	plan := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(plan, []byte(fmt.Sprintf(`apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: quota-cli}
spec:
  history: {source: metrics-server, maxAge: 1h}
  workloads:
    - target: {kind: Deployment, namespace: %s, name: web}
      replicas: {min: 1, max: 10}
`, ns)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "review.json")
	run("report", "--config", plan, "--store", db, "--format", "json", "--out", out)
	var rep struct {
		SchemaVersion int `json:"schemaVersion"`
		Quotas        []struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			Resources []struct {
				Resource string   `json:"resource"`
				Hard     *float64 `json:"hard"`
				Used     *float64 `json:"used"`
				Runway   *string  `json:"runway"`
			} `json:"resources"`
		} `json:"quotas"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SchemaVersion != 2 || len(rep.Quotas) != 1 || rep.Quotas[0].Namespace != ns || len(rep.Quotas[0].Resources) != 2 {
		t.Fatalf("report JSON: %s", b)
	}
	for _, x := range rep.Quotas[0].Resources {
		want := map[string][2]float64{"requests.cpu": {1, 2}, "pods": {2, 5}}[x.Resource]
		if x.Used == nil || x.Hard == nil || *x.Used != want[0] || *x.Hard != want[1] || x.Runway != nil {
			t.Errorf("report quota %s: used %v hard %v runway %v, want %v of %v and no runway", x.Resource, x.Used, x.Hard, x.Runway, want[0], want[1])
		}
	}
	md := filepath.Join(dir, "review.md")
	run("report", "--config", plan, "--store", db, "--format", "md", "--out", md)
	if b, _ := os.ReadFile(md); !strings.Contains(string(b), "## Resource quotas") || !strings.Contains(string(b), "| "+ns+" | compute | pods | 2.00 | 5.00 | 40.0 |") {
		t.Errorf("Markdown report without the quota table:\n%s", b)
	}
}
