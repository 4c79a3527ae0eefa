package integration_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/actuator"
)

// TestRunWithShippedRBAC runs the whole headroom run cycle, twice, with a
// token of deploy/'s ServiceAccount bound to the shipped ClusterRole and
// Role (applied by applyDeploy): the lease in the headroom namespace, the
// convergence check, the metrics-server collection, the list of current
// replicas, the /scale update with its Event and annotation, the decision
// log. Nothing is refused: exit 0 both times and no "forbidden" anywhere
// in the logs (a refused Event or annotation is a warning, not a failure,
// so the logs are checked too). The workloads are as in TestRunEndToEnd.
func TestRunWithShippedRBAC(t *testing.T) {
	s := kube.Server(t)
	cfg := applyDeploy(t, s)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{{name: "web", replicas: 2, pods: 2, cpu: "500m"}, {name: "api", replicas: 2, pods: 2, cpu: "100m"}}))
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1, "api": 0.2})
	plan := runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}, "api": {2, 10}})
	plan = strings.Replace(plan, fmt.Sprintf("lease: {namespace: %s, duration: 15s}", ns), fmt.Sprintf("lease: {namespace: headroom, name: rbac-%s, duration: 15s}", ns), 1)
	planPath := writeRunPlan(t, dir, plan)
	kc := kubeconfig(t, cfg)
	for i, want := range []string{"scaled", "unchanged"} {
		code, doc, stderr := headroomRun(t, planPath, kc)
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, code, stderr)
		}
		if o, _, _ := doc.outcome("web"); o != want {
			t.Errorf("run %d: web %s, want %s", i+1, o, want)
		}
		if strings.Contains(strings.ToLower(stderr), "forbidden") {
			t.Errorf("run %d: something was refused:\n%s", i+1, stderr)
		}
	}
	if n, _ := deploymentReplicas(t, c, ns, "web"); n != 4 {
		t.Errorf("web has %d replicas", n)
	}
	// The Scaled Event of the first run, and the second run's convergence check (the harness runs no
	// controllers, so the two new pods never exist): both written with the shipped rights.
	reasons := map[string]bool{}
	for _, e := range events(t, c, ns, "Deployment", "web") {
		reasons[e.Reason] = true
	}
	if !reasons[actuator.EventScaled] || !reasons[actuator.EventNotConverged] {
		t.Errorf("web events %v", reasons)
	}
}
