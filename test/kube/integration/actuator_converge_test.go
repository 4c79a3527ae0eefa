package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
)

// makePod creates a pod of app and writes the status a kubelet and the
// scheduler would (there are none in the harness).
func makePod(t *testing.T, c kubernetes.Interface, ns, name, app string, st corev1.PodStatus) {
	t.Helper()
	ctx := context.Background()
	p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Spec:       podTemplate(app).Spec,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = st
	if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("pod %s status: %v", name, err)
	}
}

func readyStatus(at time.Time) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at.Add(-20 * time.Second))},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)},
	}}
}

func makeNode(t *testing.T, c kubernetes.Interface, name, pool string, ready bool, at time.Time) {
	t.Helper()
	ctx := context.Background()
	n, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"cloud.google.com/gke-nodepool": pool}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st, LastTransitionTime: metav1.NewTime(at), LastHeartbeatTime: metav1.NewTime(at)}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// fakePools is a PoolSizer that remembers sizes (the providers are other files' business).
type fakePools map[string]int

func (f fakePools) SetPoolSize(_ context.Context, now time.Time, pool string, nodes int, reason string) (actuator.Action, error) {
	a := actuator.Action{Time: now, Kind: actuator.KindPoolSize, Pool: pool, From: f[pool], To: nodes, Changed: f[pool] != nodes, Reason: reason}
	f[pool] = nodes
	return a, nil
}

// TestActuatorConverge scales two Deployments and two node pools at D, then
// plays what happened: "fast" got its pods Ready (the third at D+70 s),
// "stuck" has one pod unschedulable, one crash-looping and one that its
// ReplicaSet could not create for quota; pool A's second node was Ready at
// D+4m30s, pool B has one node not Ready. Converge at D+5m reports each with
// its reason, measures the lead times from the Ready conditions, and records
// it all; at D+10m only what is still unconverged is checked again.
func TestActuatorConverge(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	D := actuatorNow
	createDeployment(t, c, ns, "fast", 1)
	stuck := createDeployment(t, c, ns, "stuck", 1)
	makePod(t, c, ns, "fast-old", "fast", readyStatus(D.Add(-time.Hour)))
	makePod(t, c, ns, "stuck-old", "stuck", readyStatus(D.Add(-time.Hour)))

	poolA, poolB := ns+"-a", ns+"-b" // nodes are cluster-wide: pool names of this test only
	st := openStore(t)
	pools := fakePools{poolA: 0, poolB: 1}
	k := newKube(t, s, actuator.KubeOptions{Log: st, Pools: map[string]actuator.PoolSizer{poolA: pools, poolB: pools}})
	for _, w := range []struct {
		name string
		n    int32
	}{{"fast", 3}, {"stuck", 4}} {
		if _, err := k.SetReplicas(ctx, D, policy.Target{Kind: "Deployment", Namespace: ns, Name: w.name}, w.n, "forecast"); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct {
		name string
		n    int
	}{{poolA, 2}, {poolB, 3}} {
		if a, err := k.SetPoolSize(ctx, D, p.name, p.n, "pods need nodes"); err != nil || !a.Changed {
			t.Fatalf("pool %s: %+v %v", p.name, a, err)
		}
	}

	// What the cluster did after D.
	makePod(t, c, ns, "fast-1", "fast", readyStatus(D.Add(30*time.Second)))
	makePod(t, c, ns, "fast-2", "fast", readyStatus(D.Add(70*time.Second)))
	makePod(t, c, ns, "stuck-1", "stuck", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/3 nodes are available: 3 Insufficient cpu.", LastTransitionTime: metav1.NewTime(D.Add(5 * time.Second)),
	}}})
	makePod(t, c, ns, "stuck-2", "stuck", corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(D.Add(9 * time.Second))}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: "app:1", ImageID: "app@sha256:1", RestartCount: 4,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 1m20s restarting failed container"}}}},
	})
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "stuck-7d9f", Labels: map[string]string{"app": "stuck"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "stuck", UID: stuck.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](4), Selector: stuck.Spec.Selector, Template: podTemplate("stuck")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	quota := `pods "stuck-7d9f-x2x" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2`
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 3, Conditions: []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure,
		Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: quota, LastTransitionTime: metav1.NewTime(D.Add(3 * time.Second))}}}
	if _, err := c.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeNode(t, c, poolA+"-1", poolA, true, D.Add(3*time.Minute))
	makeNode(t, c, poolA+"-2", poolA, true, D.Add(4*time.Minute+30*time.Second))
	makeNode(t, c, poolB+"-1", poolB, true, D.Add(-24*time.Hour))
	makeNode(t, c, poolB+"-2", poolB, false, D.Add(2*time.Minute))

	only := func(w metrics.Workload) bool { return w.Namespace == ns || w.Name == poolA || w.Name == poolB }
	got, err := k.Converge(ctx, D.Add(5*time.Minute), st, actuator.ConvergeOptions{Include: only})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]actuator.Convergence{}
	for _, cv := range got {
		byName[cv.Workload.Name] = cv
	}
	if len(got) != 4 {
		t.Fatalf("%d convergences, want 4: %+v", len(got), got)
	}
	// fast: 1 → 3; Ready at D-1h, D+30s, D+70s: the third Ready pod came 70 s after the decision.
	if f := byName["fast"]; !f.Converged || f.Ready != 3 || f.Desired != 3 || !f.Measured || f.LeadTime != 70*time.Second || len(f.Reasons) != 0 {
		t.Fatalf("fast: %+v", f)
	}
	sk := byName["stuck"]
	wantReasons := []string{
		"1 pod unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
		"1 pod crash-looping: container app restarted 4 times: back-off 1m20s restarting failed container",
		"only 3 of 4 pods exist; ReplicaSet stuck-7d9f FailedCreate: " + quota,
	}
	if sk.Converged || sk.Ready != 1 || sk.Desired != 4 || strings.Join(sk.Reasons, "\n") != strings.Join(wantReasons, "\n") {
		t.Fatalf("stuck: %+v\nreasons:\n%s", sk, strings.Join(sk.Reasons, "\n"))
	}
	// Pool A: 0 → 2, nodes Ready at D+3m and D+4m30s: 270 s.
	if a := byName[poolA]; !a.Converged || a.Ready != 2 || a.LeadTime != 270*time.Second {
		t.Fatalf("pool A: %+v", a)
	}
	if b := byName[poolB]; b.Converged || b.Ready != 1 || len(b.Reasons) != 1 || b.Reasons[0] != fmt.Sprintf("1 of 3 nodes Ready; not Ready: %s-2", poolB) {
		t.Fatalf("pool B: %+v", b)
	}

	// The Warning Event on stuck, with the reasons.
	var warn []corev1.Event
	for _, e := range events(t, c, ns, "Deployment", "stuck") {
		if e.Reason == actuator.EventNotConverged {
			warn = append(warn, e)
		}
	}
	if len(warn) != 1 || warn[0].Type != corev1.EventTypeWarning || !strings.HasPrefix(warn[0].Message, "1 of 4 Ready since the decision at 2026-11-27T10:00:00Z: 1 pod unschedulable") ||
		!strings.Contains(warn[0].Message, "exceeded quota") {
		t.Fatalf("not-converged events: %+v", warn)
	}
	if evs := events(t, c, ns, "Deployment", "fast"); len(evs) != 1 || evs[0].Reason != actuator.EventScaled {
		t.Fatalf("fast events: %+v", evs)
	}

	// The lead-time rows, in the shape the policy reads.
	rows, err := st.Decisions(ctx, metrics.Workload{}, D.Add(time.Minute), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	lead := map[string]string{}
	actions := map[string][]string{}
	for _, r := range rows {
		actions[r.Workload.Name] = append(actions[r.Workload.Name], r.Action)
		if r.Action == "lead-time" {
			lead[r.Workload.String()] = string(r.Detail)
		}
	}
	wantLead := map[string]string{
		"Deployment/" + ns + "/fast": `{"seconds":70,"desired":3,"decidedAt":"2026-11-27T10:00:00Z"}`,
		"NodePool/" + poolA:          `{"seconds":270,"desired":2,"decidedAt":"2026-11-27T10:00:00Z"}`,
	}
	if len(lead) != 2 || lead["Deployment/"+ns+"/fast"] != wantLead["Deployment/"+ns+"/fast"] || lead["NodePool/"+poolA] != wantLead["NodePool/"+poolA] {
		t.Fatalf("lead-time rows %v, want %v", lead, wantLead)
	}
	var ld actuator.LeadTimeDetail
	if err := json.Unmarshal([]byte(lead["NodePool/"+poolA]), &ld); err != nil || ld.Seconds != 270 {
		t.Fatalf("lead detail: %+v %v", ld, err)
	}
	if strings.Join(actions["stuck"], " ") != "not-converged" || strings.Join(actions["fast"], " ") != "converged lead-time" {
		t.Fatalf("rows after D: %v", actions)
	}

	// Next run: fast and pool A are closed; stuck and pool B are checked again.
	got, err = k.Converge(ctx, D.Add(10*time.Minute), st, actuator.ConvergeOptions{Include: only})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cv := range got {
		names = append(names, cv.Workload.Name)
	}
	if strings.Join(names, " ") != "stuck "+poolB {
		t.Fatalf("second check: %v", names)
	}

	// Runs two hours apart read two hours of the log: the changes made at D are out of the window
	// by the second of them, and are followed through the not-converged rows each check writes.
	for _, h := range []time.Duration{2 * time.Hour, 4 * time.Hour} {
		got, err = k.Converge(ctx, D.Add(h), st, actuator.ConvergeOptions{Include: only})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Workload.Name != "stuck" || !got[0].DecidedAt.Equal(D) || got[0].Desired != 4 || got[0].From != 1 ||
			got[1].Workload.Name != poolB || !got[1].DecidedAt.Equal(D) || got[1].Desired != 3 {
			t.Fatalf("check at D+%v: %+v", h, got)
		}
	}
	// A change is followed for MaxAge only.
	got, err = k.Converge(ctx, D.Add(6*time.Hour), st, actuator.ConvergeOptions{Include: only, Lookback: 3 * time.Hour, MaxAge: 5 * time.Hour})
	if err != nil || len(got) != 0 {
		t.Fatalf("past MaxAge: %+v %v", got, err)
	}
}
