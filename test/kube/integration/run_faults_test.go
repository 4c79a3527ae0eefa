package integration_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// TestRunFaults runs headroom run through the fault proxy over four
// Deployments that all need 2 → 4 (as web in TestRunEndToEnd): b's /scale
// update answers 500, c's hangs past --timeout. a and d are scaled; b and c
// fail and are left as they were, with no annotation (nothing
// half-written), a HeadroomFailed Event and failed rows in the decision
// log; the exit code is 1.
func TestRunFaults(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	var ws []runWorkload
	hist := map[string]float64{}
	plan := map[string][2]int{}
	for _, n := range []string{"a", "b", "c", "d"} {
		ws = append(ws, runWorkload{name: n, replicas: 2, pods: 2, cpu: "500m"})
		hist[n], plan[n] = 1, [2]int{1, 10}
	}
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, ws))
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, hist)
	p := s.FaultProxy(t)
	p.Inject(harness.Fault{Method: "PUT", PathContains: "/deployments/b/scale", Status: 500})
	p.Inject(harness.Fault{Method: "PUT", PathContains: "/deployments/c/scale", Delay: 10 * time.Second})

	code, doc, stderr := headroomRun(t, writeRunPlan(t, dir, runPlanYAML(ns, db, plan)), kubeconfig(t, p.Config()), "--timeout", "3s")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	for _, n := range []string{"a", "d"} {
		if o, d, _ := doc.outcome(n); o != "scaled" || d != 4 {
			t.Errorf("%s: %s to %d", n, o, d)
		}
		if got, _ := deploymentReplicas(t, c, ns, n); got != 4 {
			t.Errorf("%s has %d replicas", n, got)
		}
	}
	wantNote := map[string]string{"b": "Internal", "c": "Timeout"}
	for _, n := range []string{"b", "c"} {
		o, _, note := doc.outcome(n)
		if o != "failed" || !strings.Contains(strings.ToLower(note), strings.ToLower(wantNote[n])) && !strings.Contains(note, "deadline") {
			t.Errorf("%s: %s %q", n, o, note)
		}
		dep, err := c.AppsV1().Deployments(ns).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *dep.Spec.Replicas != 2 || dep.Annotations[actuator.AnnotationLastDecision] != "" {
			t.Errorf("%s half-written: replicas %d, annotation %q", n, *dep.Spec.Replicas, dep.Annotations[actuator.AnnotationLastDecision])
		}
		evs := events(t, c, ns, "Deployment", n)
		if len(evs) == 0 || evs[len(evs)-1].Reason != actuator.EventFailed {
			t.Errorf("%s events: %+v", n, evs)
		}
	}
	if !strings.Contains(stderr, `"severity":"ERROR"`) {
		t.Errorf("no ERROR log:\n%s", stderr)
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
	got := map[string]string{}
	for _, r := range rows {
		if r.Action == "decision" {
			var det struct{ Outcome string }
			json.Unmarshal(r.Detail, &det)
			got["decision "+r.Workload.Name] = det.Outcome
		} else {
			got[r.Action+" "+r.Workload.Name] = "yes"
		}
	}
	for k, v := range map[string]string{"decision a": "scaled", "decision b": "failed", "decision c": "failed", "decision d": "scaled",
		"scale a": "yes", "scale d": "yes", "failed b": "yes", "failed c": "yes"} {
		if got[k] != v {
			t.Errorf("decision log %q = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if got["scale b"] != "" || got["scale c"] != "" {
		t.Errorf("scale rows for failed targets: %v", got)
	}
}
