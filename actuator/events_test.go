package actuator

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
)

// verbs counts the event requests a fake clientset saw since from.
func eventVerbs(kc *fake.Clientset, from int) (string, int) {
	acts := kc.Actions()
	var out []string
	for _, a := range acts[from:] {
		if a.GetResource().Resource == "events" {
			out = append(out, a.GetVerb())
		}
	}
	return strings.Join(out, " "), len(acts)
}

// TestKubeEventAggregation: the same Event (object, type, reason,
// message) is counted on the existing one within the window, across runs
// and processes; each run lists a namespace's Events once; a different
// message is a new Event; past the window the series starts again on the
// same object; a negative window stores every Event anew.
func TestKubeEventAggregation(t *testing.T) {
	ctx := context.Background()
	obj := objectRef{apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web", uid: "u1"}
	k, _, kc := fakeKube(t, "shop", nil, KubeOptions{Instance: "run-1"})
	emit := func(k *Kube, now time.Time, msg string) {
		t.Helper()
		if err := k.event(ctx, now, obj, corev1.EventTypeWarning, EventNotConverged, "Converge", msg); err != nil {
			t.Fatal(err)
		}
	}
	get := func(msg string) corev1.Event {
		t.Helper()
		e, err := kc.CoreV1().Events("shop").Get(ctx, eventName(obj, corev1.EventTypeWarning, EventNotConverged, "headroom", msg), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *e
	}
	stuck, other := "1 of 4 Ready since the decision at 2026-01-01T00:00:00Z: 3 pods unschedulable", "another reason"
	steps := []struct {
		name  string
		now   time.Time
		msg   string
		verbs string // event requests of the step
		count int32
		first time.Time
	}{
		{"first run: list, create", t0, stuck, "list create", 1, t0},
		{"next run: list, counted", t0.Add(5 * time.Minute), stuck, "list patch", 2, t0},
		{"same run, other message: a new Event", t0.Add(5 * time.Minute), other, "create", 1, t0.Add(5 * time.Minute)},
		{"same run, repeated: from the run's list", t0.Add(5 * time.Minute), stuck, "patch", 3, t0},
		{"59m later: still in the window", t0.Add(64 * time.Minute), stuck, "list patch", 4, t0},
		{"61m later: past the window, restarted", t0.Add(125 * time.Minute), stuck, "list patch", 1, t0.Add(125 * time.Minute)},
	}
	n := 0
	for _, s := range steps {
		emit(k, s.now, s.msg)
		verbs, _ := eventVerbs(kc, n)
		e := get(s.msg)
		n = len(kc.Actions())
		if verbs != s.verbs || e.Count != s.count || !e.FirstTimestamp.Time.Equal(s.first) || !e.LastTimestamp.Time.Equal(s.now) {
			t.Errorf("%s: requests %q (want %q), count %d (want %d), first %v (want %v), last %v",
				s.name, verbs, s.verbs, e.Count, s.count, e.FirstTimestamp.Time, s.first, e.LastTimestamp.Time)
		}
	}
	// A new process (the next CronJob run) over the same cluster finds the Event by its name.
	k2, err := NewKubeFromClients(k.c, KubeOptions{Instance: "run-2"})
	if err != nil {
		t.Fatal(err)
	}
	emit(k2, t0.Add(130*time.Minute), stuck)
	verbs, _ := eventVerbs(kc, n)
	if e := get(stuck); verbs != "list patch" || e.Count != 2 || e.ReportingInstance != "run-2" || e.Source.Component != "headroom" {
		t.Errorf("next process: %q, %+v", verbs, e)
	}
	if l, _ := kc.CoreV1().Events("shop").List(ctx, metav1.ListOptions{}); len(l.Items) != 2 {
		t.Errorf("%d Events stored, want 2 (one per message)", len(l.Items))
	}

	// A negative window: every Event a new object, no list.
	n = len(kc.Actions())
	k3, _ := NewKubeFromClients(k.c, KubeOptions{EventWindow: -1})
	emit(k3, t0, stuck)
	emit(k3, t0, stuck)
	if verbs, _ := eventVerbs(kc, n); verbs != "create create" {
		t.Errorf("no aggregation: %q", verbs)
	}
}

// TestEventName: deterministic, different for anything that tells Events
// apart, and a valid object name even for the longest object names.
func TestEventName(t *testing.T) {
	obj := objectRef{kind: "Deployment", namespace: "shop", name: "web", uid: "u1"}
	a := eventName(obj, "Normal", EventHeld, "headroom", "m")
	if a != eventName(obj, "Normal", EventHeld, "headroom", "m") || !strings.HasPrefix(a, "web.") || len(a) != len("web.")+16 {
		t.Fatalf("name %q", a)
	}
	other := obj
	other.uid = "u2"
	for _, b := range []string{
		eventName(obj, "Warning", EventHeld, "headroom", "m"), eventName(obj, "Normal", EventScaled, "headroom", "m"),
		eventName(obj, "Normal", EventHeld, "other", "m"), eventName(obj, "Normal", EventHeld, "headroom", "m2"),
		eventName(other, "Normal", EventHeld, "headroom", "m"),
	} {
		if b == a {
			t.Errorf("%q: same name for a different Event", b)
		}
	}
	long := obj
	long.name = strings.Repeat("a", 235) + "-" + strings.Repeat("b", 17) // 253 characters, cut after the "-"
	for _, o := range []objectRef{obj, long} {
		name := eventName(o, "Normal", EventHeld, "headroom", "m")
		if errs := validation.IsDNS1123Subdomain(name); len(errs) != 0 {
			t.Errorf("%q: %v", name, errs)
		}
	}
	if name := eventName(long, "Normal", EventHeld, "headroom", "m"); len(name) != 235+1+16 {
		t.Errorf("long name %d characters: %s", len(name), name)
	}
}
