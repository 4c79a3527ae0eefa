package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// runWorkload is a Deployment with its ReplicaSet and Ready pods, as the
// controllers would have made them (the harness runs no controller-manager).
type runWorkload struct {
	name     string
	replicas int32
	pods     int
	cpu      string // usage of each pod
}

// makeRunWorkloads creates the workloads in ns and returns the pod metrics
// the metrics API serves for them. Pod templates request 500m CPU.
func makeRunWorkloads(t *testing.T, c kubernetes.Interface, ns string, ws []runWorkload) []metricsv1beta1.PodMetrics {
	t.Helper()
	var usage []metricsv1beta1.PodMetrics
	for _, w := range ws {
		labels := map[string]string{"app": w.name}
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("500m", "256Mi")}
		dep := must[*appsv1.Deployment](t)(c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: w.name},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(w.replicas), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{}))
		rs := must[*appsv1.ReplicaSet](t)(c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: w.name + "-rs", OwnerReferences: owner("Deployment", dep)},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(w.replicas), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{}))
		for i := range w.pods {
			usage = append(usage, addRunPod(t, c, ns, rs, fmt.Sprintf("%s-rs-%d", w.name, i), w.cpu))
		}
	}
	return usage
}

// addRunPod creates one Running, Ready pod of the ReplicaSet and returns its metrics.
func addRunPod(t *testing.T, c kubernetes.Interface, ns string, rs *appsv1.ReplicaSet, name, cpu string) metricsv1beta1.PodMetrics {
	t.Helper()
	p := must[*corev1.Pod](t)(c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: rs.Spec.Selector.MatchLabels,
		OwnerReferences: owner("ReplicaSet", rs)}, Spec: podSpec("500m", "256Mi")}, metav1.CreateOptions{}))
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: rs.Spec.Selector.MatchLabels},
		Timestamp: metav1.Now(), Window: metav1.Duration{Duration: 30 * time.Second},
		Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage(cpu, "100Mi")}}}
}

// seedHistory writes two hours of flat CPU usage, every 5 minutes up to
// 5 minutes ago, for each workload (cores), into the store file.
func seedHistory(t *testing.T, path, ns string, cores map[string]float64) {
	t.Helper()
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	b := &metrics.Batch{Source: "seed"}
	for name, v := range cores {
		s := metrics.Series{Key: metrics.Key{Workload: metrics.Workload{Kind: "Deployment", Namespace: ns, Name: name}, Resource: metrics.CPU}}
		for k := 24; k >= 1; k-- {
			s.Points = append(s.Points, metrics.Point{T: now.Add(-time.Duration(k) * 5 * time.Minute), V: v})
		}
		b.Series = append(b.Series, s)
	}
	if _, err := st.Write(ctx, b, now); err != nil {
		t.Fatal(err)
	}
}

// runPlanYAML is a plan over ns's workloads: 500m requests at 50 % target
// utilization, so each replica carries 0.25 core.
func runPlanYAML(ns, storePath string, workloads map[string][2]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: e2e}
spec:
  history: {source: metrics-server, store: %s, namespaces: [%s], maxAge: 10m}
  forecast: {model: naive}
  run:
    lease: {namespace: %s, duration: 15s}
  workloads:
`, storePath, ns, ns)
	for _, name := range sortedNames(workloads) {
		mm := workloads[name]
		fmt.Fprintf(&b, "    - target: {kind: Deployment, namespace: %s, name: %s}\n      resources: {cpu: 500m}\n      utilization: {cpu: 0.5}\n      replicas: {min: %d, max: %d}\n", ns, name, mm[0], mm[1])
	}
	return b.String()
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// runJSON is headroom run -o json.
type runJSON struct {
	Skipped string `json:"skipped"`
	Targets []struct {
		Target  string `json:"target"`
		Current int32  `json:"current"`
		Desired int32  `json:"desired"`
		Rule    string `json:"rule"`
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	} `json:"targets"`
	ExitCode int `json:"exit_code"`
}

func (r runJSON) outcome(name string) (string, int32, string) {
	for _, t := range r.Targets {
		if strings.HasSuffix(t.Target, "/"+name) {
			return t.Outcome, t.Desired, t.Note
		}
	}
	return "absent", -1, ""
}

// headroomRun runs the real binary and returns its exit code, parsed JSON and stderr.
func headroomRun(t *testing.T, planPath, kubeconfigPath string, extra ...string) (int, runJSON, string) {
	t.Helper()
	args := append([]string{"run", "--config", planPath, "--kubeconfig", kubeconfigPath, "-o", "json"}, extra...)
	cmd := exec.Command(headroomBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var doc runJSON
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("run output: %v\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		}
	}
	return code, doc, errOut.String()
}

func writeRunPlan(t testing.TB, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunEndToEnd runs headroom run twice against the real API server.
//
// web: 2 pods at 500m each (1 core; 100 % of their 500m requests against a
// 50 % target), two hours of 1-core history: the forecast and the HPA
// formula both need ceil(1 / 0.25) = 4, within the default scale-up limit
// max(2 × 2, 2 + 4) = 6: 2 → 4. api: 0.2 core needs 1, the plan's minimum
// is 2: unchanged at 2. other: not in the plan: never touched.
// Then the two new web pods come up and the load spreads over four (same
// demand): the second run changes nothing: no write, same resourceVersions.
func TestRunEndToEnd(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	usage := makeRunWorkloads(t, c, ns, []runWorkload{
		{name: "web", replicas: 2, pods: 2, cpu: "500m"},
		{name: "api", replicas: 2, pods: 2, cpu: "100m"},
		{name: "other", replicas: 3, pods: 3, cpu: "900m"},
	})
	m.SetPodMetrics(ns, usage)
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1, "api": 0.2, "other": 2.7})
	plan := writeRunPlan(t, dir, runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}, "api": {2, 10}}))
	kc := kubeconfig(t, s.Config())
	_, otherRV := deploymentReplicas(t, c, ns, "other")

	code, doc, stderr := headroomRun(t, plan, kc)
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	if o, d, _ := doc.outcome("web"); o != "scaled" || d != 4 {
		t.Errorf("web: %s to %d", o, d)
	}
	if o, d, _ := doc.outcome("api"); o != "unchanged" || d != 2 {
		t.Errorf("api: %s at %d", o, d)
	}
	if o, _, _ := doc.outcome("other"); o != "absent" {
		t.Errorf("other was handled: %s", o)
	}
	webN, webRV := deploymentReplicas(t, c, ns, "web")
	apiN, apiRV := deploymentReplicas(t, c, ns, "api")
	otherN, otherRV2 := deploymentReplicas(t, c, ns, "other")
	if webN != 4 || apiN != 2 || otherN != 3 || otherRV2 != otherRV {
		t.Fatalf("replicas web %d api %d other %d (rv %s → %s)", webN, apiN, otherN, otherRV, otherRV2)
	}
	// The Event and the annotation on web.
	evs := events(t, c, ns, "Deployment", "web")
	if len(evs) == 0 || evs[len(evs)-1].Reason != actuator.EventScaled || !strings.Contains(evs[len(evs)-1].Message, "2 → 4") {
		t.Errorf("web events: %+v", evs)
	}
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last actuator.LastDecision
	if err := json.Unmarshal([]byte(dep.Annotations[actuator.AnnotationLastDecision]), &last); err != nil || last.From != 2 || last.To != 4 {
		t.Errorf("annotation %q: %v", dep.Annotations[actuator.AnnotationLastDecision], err)
	}
	// Logs: JSON lines with severity, never level.
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil || l["severity"] == nil || l["level"] != nil {
			t.Errorf("log line %q", line)
		}
	}
	// The lease is released.
	le, err := c.CoordinationV1().Leases(ns).Get(ctx, "headroom-e2e", metav1.GetOptions{})
	if err != nil || le.Spec.HolderIdentity != nil {
		t.Errorf("lease after the run: %+v %v", le, err)
	}

	// The new pods come up; the same 1 core spreads over 4.
	rs, err := c.AppsV1().ReplicaSets(ns).Get(ctx, "web-rs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	usage = usage[:0]
	for i := range 4 {
		name := fmt.Sprintf("web-rs-%d", i)
		if i >= 2 {
			addRunPod(t, c, ns, rs, name, "250m")
		}
		usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: rs.Spec.Selector.MatchLabels}, Timestamp: metav1.Now(),
			Window: metav1.Duration{Duration: 30 * time.Second}, Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("250m", "100Mi")}}})
	}
	for i := range 2 {
		usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-rs-%d", i), Labels: map[string]string{"app": "api"}}, Timestamp: metav1.Now(),
			Window: metav1.Duration{Duration: 30 * time.Second}, Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("100m", "100Mi")}}})
	}
	m.SetPodMetrics(ns, usage)
	code, doc, stderr = headroomRun(t, plan, kc)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr)
	}
	for _, name := range []string{"web", "api"} {
		if o, _, _ := doc.outcome(name); o != "unchanged" {
			t.Errorf("second run %s: %s", name, o)
		}
	}
	if _, rv := deploymentReplicas(t, c, ns, "web"); rv != webRV {
		t.Errorf("web written by the second run: rv %s → %s", webRV, rv)
	}
	if _, rv := deploymentReplicas(t, c, ns, "api"); rv != apiRV {
		t.Errorf("api written: rv %s → %s", apiRV, rv)
	}
	// The decision log: a decision row per target and run, one scale row (web, first run).
	st, err := store.Open(db, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Decisions(ctx, metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range rows {
		count[r.Action+" "+r.Workload.Name]++
	}
	if count["decision web"] != 2 || count["decision api"] != 2 || count["scale web"] != 1 || count["scale api"] != 0 || count["decision other"] != 0 {
		t.Errorf("decision log: %v", count)
	}
}

// TestRunDryRun: --dry-run sends the change with dryRun=All: the API
// server admits it (the run reports web scaled 2 → 4) and persists nothing:
// the Deployment keeps its count and resourceVersion, and the decision log
// gets no decision or scale rows (the actuator's "dry-run" rows only).
func TestRunDryRun(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{{name: "web", replicas: 2, pods: 2, cpu: "500m"}}))
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1})
	_, rv := deploymentReplicas(t, c, ns, "web")
	code, doc, stderr := headroomRun(t, writeRunPlan(t, dir, runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}})), kubeconfig(t, s.Config()), "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if o, d, _ := doc.outcome("web"); o != "scaled" || d != 4 {
		t.Errorf("web: %s to %d", o, d)
	}
	if n, rv2 := deploymentReplicas(t, c, ns, "web"); n != 2 || rv2 != rv {
		t.Errorf("dry run persisted: %d replicas, rv %s → %s", n, rv, rv2)
	}
	st, err := store.Open(db, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Decisions(ctx, metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Action != actuator.LogDryRun {
			t.Errorf("a dry run logged %s for %s", r.Action, r.Workload)
		}
	}
}
