package actuator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestLeadTime(t *testing.T) {
	old := t0.Add(-10 * time.Minute)
	ready := []time.Time{t0.Add(130 * time.Second), old, t0.Add(40 * time.Second), old, t0.Add(95 * time.Second)}
	tests := []struct {
		name    string
		ready   []time.Time
		desired int
		want    time.Duration
		ok      bool
	}{
		// 2 → 5: the fifth pod in Ready order became Ready at t0+130 s.
		{"up to 5", ready, 5, 130 * time.Second, true},
		// 2 → 4: the fourth, at t0+95 s.
		{"up to 4", ready, 4, 95 * time.Second, true},
		{"not enough ready", ready, 6, 0, false},
		// The second pod was Ready before the decision: nothing to measure.
		{"already there", ready, 2, 0, false},
		// Conditions carry whole seconds: 0.4 s "before" the decision is 0.
		{"same second", []time.Time{t0.Add(-400 * time.Millisecond)}, 1, 0, true},
	}
	for _, tc := range tests {
		got, ok := leadTime(tc.ready, tc.desired, t0)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: leadTime = %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func pod(phase corev1.PodPhase, conds []corev1.PodCondition, cs ...corev1.ContainerStatus) corev1.Pod {
	return corev1.Pod{Status: corev1.PodStatus{Phase: phase, Conditions: conds, ContainerStatuses: cs}}
}

func TestPodsState(t *testing.T) {
	readyAt := metav1.NewTime(t0.Add(time.Minute))
	readyPod := pod(corev1.PodRunning, []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: readyAt}})
	unsched := pod(corev1.PodPending, []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/3 nodes are available: 3 Insufficient cpu."}})
	crash := pod(corev1.PodRunning, []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
		corev1.ContainerStatus{Name: "app", RestartCount: 5, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s"}}})
	pull := pod(corev1.PodPending, nil,
		corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}})
	creating := pod(corev1.PodPending, nil,
		corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	got, reasons := PodsState([]corev1.Pod{readyPod, unsched, crash, unsched, pull, readyPod, creating})
	if len(got) != 2 || !got[0].Equal(readyAt.Time) {
		t.Fatalf("ready times %v", got)
	}
	want := []string{
		"2 pods unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
		"1 pod crash-looping: container app restarted 5 times: back-off 2m40s",
		"1 pod waiting: ImagePullBackOff: container app",
		"1 pod pending",
	}
	if strings.Join(reasons, "\n") != strings.Join(want, "\n") {
		t.Fatalf("reasons:\n%s\nwant:\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}
}

func TestPendingChanges(t *testing.T) {
	a := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "a"}
	b := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "b"}
	pool := metrics.Workload{Kind: metrics.KindNodePool, Name: "gpu"}
	det := func(from, to int) json.RawMessage {
		j, _ := json.Marshal(ActionDetail{Kind: "replicas", From: from, To: to})
		return j
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rows := []store.Decision{
		{T: at(0), Workload: a, Action: LogScale, Detail: det(2, 5)},
		{T: at(0), Workload: b, Action: LogScale, Detail: det(1, 2)},
		{T: at(0), Workload: pool, Action: LogScale, Detail: det(0, 2)},
		{T: at(5), Workload: a, Action: LogHold, Detail: det(5, 5)},      // a hold keeps a's change pending
		{T: at(5), Workload: b, Action: LogConverged},                    // b converged
		{T: at(5), Workload: pool, Action: LogFailed, Detail: det(0, 3)}, // a failure is not a change
		{T: at(10), Workload: b, Action: LogScale, Detail: det(2, 4)},    // a new change of b
		{T: at(10), Workload: a, Action: LogNotConverged},
		{T: at(10), Workload: a, Action: LogDryRun, Detail: det(5, 9)},
	}
	// c's change is older than the rows read: its not-converged row carries it.
	cw := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "c"}
	nc := func(decided, to int) json.RawMessage {
		j, _ := json.Marshal(ConvergeDetail{DecidedAt: at(decided).Format(time.RFC3339Nano), From: 1, Desired: to, Mode: "scale"})
		return j
	}
	rows = append(rows,
		store.Decision{T: at(10), Workload: cw, Action: LogNotConverged, Detail: nc(-100, 6)},
		// A not-converged row about a's change before the one at 0 is stale.
		store.Decision{T: at(10), Workload: a, Action: LogNotConverged, Detail: nc(-50, 9)},
	)
	got := pendingChanges(rows)
	var s []string
	for _, p := range got {
		s = append(s, p.w.String()+"@"+p.at.Format("15:04")+"→"+string(rune('0'+p.det.To)))
	}
	want := "Deployment/shop/a@10:00→5 Deployment/shop/b@10:10→4 Deployment/shop/c@08:20→6 NodePool/gpu@10:00→2"
	if strings.Join(s, " ") != want {
		t.Fatalf("pending = %v, want %s", s, want)
	}
}

func TestNotConverged(t *testing.T) {
	cs := []Convergence{
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "a"}, Converged: true},
		{Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "b"}, Reasons: []string{"1 pod unschedulable: x", "only 2 of 3 pods exist"}},
		{Workload: metrics.Workload{Kind: metrics.KindNodePool, Name: "gpu"}, Reasons: []string{"1 of 2 nodes Ready"}},
	}
	got := NotConverged(cs)
	if len(got) != 2 || got[policy.Target{Kind: "Deployment", Namespace: "shop", Name: "b"}] != "1 pod unschedulable: x; only 2 of 3 pods exist" ||
		got[policy.Target{Kind: "NodePool", Name: "gpu"}] != "1 of 2 nodes Ready" {
		t.Fatalf("NotConverged = %v", got)
	}
}

// TestConvergeParallel checks 30 workloads and a pool, 8 at a time and one
// at a time: the same answers, in workload order. Hand-worked: every change
// was 1 → 2 at t0; w%3 == 0 has 2 pods Ready (t0+10 s+i s, so the lead time
// is 10+i s), w%3 == 1 has 1 pod ("only 1 of 2 pods exist"), w%3 == 2 has 1
// Ready and 1 unschedulable pod; the pool gpu went 0 → 2 and has 1 Ready node.
func TestConvergeParallel(t *testing.T) {
	names := make([]string, 30)
	hist := &memLog{}
	det := func(from, to int) json.RawMessage {
		j, _ := json.Marshal(ActionDetail{Kind: "replicas", Mode: "scale", From: from, To: to})
		return j
	}
	for i := range names {
		names[i] = fmt.Sprintf("w%02d", i)
		hist.rows = append(hist.rows, store.Decision{T: t0, Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: names[i]}, Action: LogScale, Detail: det(1, 2)})
	}
	hist.rows = append(hist.rows, store.Decision{T: t0, Workload: metrics.Workload{Kind: metrics.KindNodePool, Name: "gpu"}, Action: LogScale, Detail: det(0, 2)})
	now := t0.Add(5 * time.Minute)
	check := func(par int) ([]Convergence, *memLog, int) {
		out := &memLog{}
		k, _, kc := fakeKube(t, "shop", names, KubeOptions{Log: out, PoolLabel: "pool"})
		ctx := context.Background()
		for i, n := range names {
			ready := func(p string, at time.Time) {
				pd := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: n + "-" + p, Labels: map[string]string{"app": n}},
					Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}}}
				if _, err := kc.CoreV1().Pods("shop").Create(ctx, pd, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ready("a", t0.Add(-time.Hour))
			switch i % 3 {
			case 0:
				ready("b", t0.Add(time.Duration(10+i)*time.Second))
			case 2:
				pd := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: n + "-b", Labels: map[string]string{"app": n}},
					Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
						Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available"}}}}
				if _, err := kc.CoreV1().Pods("shop").Create(ctx, pd, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, ready := range []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse} {
			nd := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gpu-%d", i), Labels: map[string]string{"pool": "gpu"}},
				Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
			if _, err := kc.CoreV1().Nodes().Create(ctx, nd, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := k.Converge(ctx, now, hist, ConvergeOptions{Parallel: par})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := kc.CoreV1().Events("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cs, out, len(evs.Items)
	}
	cs, out, events := check(8)
	if len(cs) != 31 {
		t.Fatalf("%d convergences, want 31", len(cs))
	}
	converged := 0
	for i, c := range cs[:30] {
		want := Convergence{Workload: metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: names[i]}, Mode: "scale", DecidedAt: t0, From: 1, Desired: 2}
		switch i % 3 {
		case 0:
			want.Ready, want.Converged, want.LeadTime, want.Measured = 2, true, time.Duration(10+i)*time.Second, true
			converged++
		case 1:
			want.Ready, want.Reasons = 1, []string{"only 1 of 2 pods exist"}
		case 2:
			want.Ready, want.Reasons = 1, []string{"1 pod unschedulable: 0/1 nodes are available"}
		}
		if g, w := fmt.Sprintf("%+v", c), fmt.Sprintf("%+v", want); g != w {
			t.Fatalf("%s:\n got %s\nwant %s", names[i], g, w)
		}
	}
	if p := cs[30]; p.Workload.Name != "gpu" || p.Ready != 1 || p.Converged || strings.Join(p.Reasons, "|") != "1 of 2 nodes Ready; not Ready: gpu-1" {
		t.Fatalf("pool: %+v", p)
	}
	// Rows: converged + lead-time for 10, not-converged for 20 and the pool; an Event for each of the 20.
	if len(out.rows) != 2*converged+21 || events != 20 {
		t.Fatalf("%d rows, %d events; want %d, 20", len(out.rows), events, 2*converged+21)
	}
	seq, _, _ := check(1)
	if g, w := fmt.Sprintf("%+v", seq), fmt.Sprintf("%+v", cs); g != w {
		t.Fatalf("one at a time:\n%s\neight at a time:\n%s", g, w)
	}
}
