package integration_test

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestRunPoolEvents runs headroom run with a Cluster API pool: the run
// sizes the pool's MachineDeployment and records the resize as an Event
// on it, with the reason vocabulary of the workload Events; a second run,
// with nothing changed, records a hold, and the Warning that the resize has
// not converged (no node came up).
func TestRunPoolEvents(t *testing.T) {
	s := kube.Server(t)
	s.MachineDeploymentCRD(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{{name: "web", replicas: 2, pods: 2, cpu: "500m"}}))
	dyn := createMachineDeployment(t, s, ns, "general", 1)
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1})
	plan := writeRunPlan(t, dir, runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}})+`  nodePools:
    - name: general
      provider: cluster-api
      machine: {cpu: 4, memory: 16Gi}
      size: {min: 1, max: 10}
      headroom: n+1
      clusterAPI: {namespace: `+ns+`}
`)
	kc := kubeconfig(t, s.Config())
	// web's 4 replicas of 500m need 2 cores: 1 node of 4, and 1 more for n+1. No node comes up
	// (no cloud here): the second run's convergence check warns on the MachineDeployment too.
	scaled := "HeadroomScaled: node pool general size 1 → 2: 2 nodes: 1 for the planned pods, 1 for n+1 headroom"
	held := "HeadroomHeld: node pool general size held at 2: 2 nodes: 1 for the planned pods, 1 for n+1 headroom"
	stuck := regexp.MustCompile(`^HeadroomNotConverged: node pool general: 0 of 2 Ready since the decision at [0-9T:.-]+Z: 0 of 2 nodes Ready$`)
	for run, want := range [][]string{{scaled}, {scaled, "stuck", held}} {
		if code, _, stderr := headroomRun(t, plan, kc); code != 0 {
			t.Fatalf("run %d: exit %d\n%s", run, code, stderr)
		}
		var got []string
		for _, e := range events(t, c, ns, "MachineDeployment", "general") {
			msg := e.Reason + ": " + e.Message
			if stuck.MatchString(msg) {
				msg = "stuck"
			}
			got = append(got, msg)
		}
		sort.Strings(got)
		sort.Strings(want)
		if nodes, _ := mdReplicas(t, dyn, "general"); nodes != 2 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("run %d: %d nodes, events:\n%s\nwant:\n%s", run, nodes, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
