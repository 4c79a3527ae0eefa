package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// TestLeaseRace: two runs race for the same lease at once, twenty times,
// against the real API server: while it is absent (both create: one gets
// AlreadyExists) and after it was released (both update the version they
// read: one gets a Conflict). Exactly one wins each race, and the loser
// names the winner.
func TestLeaseRace(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	for round := range 20 {
		name := fmt.Sprintf("race-%d", round)
		mk := func(h string) *actuator.Lease {
			return &actuator.Lease{Client: c.CoordinationV1(), Namespace: ns, Name: name, Holder: h, Duration: 30 * time.Second, Clock: clock.RealClock{}}
		}
		for phase, setup := range []func(){func() {}, func() {
			// Held, then released: the next race is between two updates.
			l := mk("first")
			if ok, _, err := l.TryAcquire(ctx); !ok || err != nil {
				t.Fatalf("round %d: first: %v %v", round, ok, err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}} {
			if phase == 1 {
				c.CoordinationV1().Leases(ns).Delete(ctx, name, metav1.DeleteOptions{})
			}
			setup()
			a, b := mk(fmt.Sprintf("a-%d", phase)), mk(fmt.Sprintf("b-%d", phase))
			var wg sync.WaitGroup
			var okA, okB bool
			var hA, hB string
			var errA, errB error
			start := make(chan struct{})
			wg.Add(2)
			go func() { defer wg.Done(); <-start; okA, hA, errA = a.TryAcquire(ctx) }()
			go func() { defer wg.Done(); <-start; okB, hB, errB = b.TryAcquire(ctx) }()
			close(start)
			wg.Wait()
			if errA != nil || errB != nil || okA == okB {
				t.Fatalf("round %d phase %d: a %v %q %v, b %v %q %v", round, phase, okA, hA, errA, okB, hB, errB)
			}
			winner, loserSaw := a.Holder, hB
			if okB {
				winner, loserSaw = b.Holder, hA
			}
			le, err := c.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || *le.Spec.HolderIdentity != winner || loserSaw != winner {
				t.Fatalf("round %d phase %d: lease holder %v, winner %s, loser saw %q", round, phase, le.Spec.HolderIdentity, winner, loserSaw)
			}
			// The loser cannot renew what it never held; the winner can.
			loser := a
			if okA {
				loser = b
			}
			if err := loser.Renew(ctx); err == nil {
				t.Fatalf("round %d: the loser renewed", round)
			}
			w := a
			if okB {
				w = b
			}
			if err := w.Renew(ctx); err != nil {
				t.Fatalf("round %d: the winner could not renew: %v", round, err)
			}
			w.Release(ctx)
		}
	}
}

// TestRunLeaseHeld: a run that finds the lease held by a live run exits 0
// at once and changes nothing.
func TestRunLeaseHeld(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{{name: "web", replicas: 2, pods: 2, cpu: "500m"}}))
	now := metav1.NewMicroTime(time.Now())
	if _, err := c.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "headroom-e2e"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("cronjob-28901234-abcde"), LeaseDurationSeconds: ptr.To(int32(60)), RenewTime: &now}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1})
	_, rv := deploymentReplicas(t, c, ns, "web")
	code, doc, stderr := headroomRun(t, writeRunPlan(t, dir, runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}})), kubeconfig(t, s.Config()))
	if code != 0 || !strings.Contains(doc.Skipped, "cronjob-28901234-abcde") || len(doc.Targets) != 0 {
		t.Fatalf("exit %d, %+v\n%s", code, doc, stderr)
	}
	if n, rv2 := deploymentReplicas(t, c, ns, "web"); n != 2 || rv2 != rv {
		t.Fatalf("web changed: %d, rv %s → %s", n, rv, rv2)
	}
}

// TestRunTwoAtOnce starts two runs of the same plan at the same time: A
// goes through the fault proxy, which holds its /scale update for 4 s, so
// it still holds the lease when B starts. B exits 0 at once naming A; A
// scales web 2 → 4, exits 0 and releases the lease.
func TestRunTwoAtOnce(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{{name: "web", replicas: 2, pods: 2, cpu: "500m"}}))
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1})
	plan := writeRunPlan(t, dir, runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}}))
	p := s.FaultProxy(t)
	p.Inject(harness.Fault{Method: "PUT", PathContains: "/deployments/web/scale", Delay: 4 * time.Second})

	a := exec.Command(headroomBinary(t), "run", "--config", plan, "--kubeconfig", kubeconfig(t, p.Config()), "--holder", "run-a", "-o", "json")
	var aOut, aErr bytes.Buffer
	a.Stdout, a.Stderr = &aOut, &aErr
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		le, err := c.CoordinationV1().Leases(ns).Get(ctx, "headroom-e2e", metav1.GetOptions{})
		if err == nil && le.Spec.HolderIdentity != nil && *le.Spec.HolderIdentity == "run-a" {
			break
		}
		if time.Now().After(deadline) {
			a.Process.Kill()
			t.Fatalf("run A never took the lease\n%s", aErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, doc, stderr := headroomRun(t, plan, kubeconfig(t, s.Config()), "--holder", "run-b")
	if code != 0 || !strings.Contains(doc.Skipped, "run-a") || len(doc.Targets) != 0 {
		t.Errorf("run B: exit %d, %+v\n%s", code, doc, stderr)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("run A: %v\n%s", err, aErr.String())
	}
	var docA runJSON
	if err := json.Unmarshal(aOut.Bytes(), &docA); err != nil {
		t.Fatal(err)
	}
	if o, d, _ := docA.outcome("web"); o != "scaled" || d != 4 {
		t.Errorf("run A: web %s to %d", o, d)
	}
	if n, _ := deploymentReplicas(t, c, ns, "web"); n != 4 {
		t.Errorf("web has %d replicas", n)
	}
	le, err := c.CoordinationV1().Leases(ns).Get(ctx, "headroom-e2e", metav1.GetOptions{})
	if err != nil || le.Spec.HolderIdentity != nil {
		t.Errorf("lease after A: %+v %v", le.Spec, err)
	}
}
