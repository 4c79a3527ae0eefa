package integration_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// TestActuatorEventAggregation: a held workload's Event, repeated by
// three runs (each a new actuator, as each CronJob run is a new process),
// is one Event with count 3, firstTimestamp of the first run and
// lastTimestamp of the last, found the way kubectl describe finds Events;
// each repeat costs the run one list of the namespace's headroom Events
// and one patch. Written with a ServiceAccount granted exactly
// actuator.KubeRules. Two writers racing on one Event (one creates it after
// the other listed; one patches with a stale resourceVersion) both count.
// A dry run counts nothing. Without "patch events" the repeat is refused,
// and the action still succeeds with the refusal as a warning.
func TestActuatorEventAggregation(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	c := s.Client()
	ctx := context.Background()
	dep := createDeployment(t, c, ns, "web", 2)
	createDeployment(t, c, ns, "api", 2)
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "headroom"), actuator.KubeRules()...)
	p := s.FaultProxy(t)
	cfg := p.Through(s.ServiceAccountConfig(t, ns, "headroom"))
	web, api := policy.Target{Kind: "Deployment", Namespace: ns, Name: "web"}, policy.Target{Kind: "Deployment", Namespace: ns, Name: "api"}
	newKube := func(cfg *rest.Config, o actuator.KubeOptions) *actuator.Kube {
		t.Helper()
		k, err := actuator.NewKube(cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	hold := func(k *actuator.Kube, now time.Time, tg policy.Target) actuator.Action {
		t.Helper()
		a, err := k.SetReplicas(ctx, now, tg, 2, "forecast q0.95 needs 2")
		if err != nil || a.Changed {
			t.Fatalf("%s: %+v %v", tg, a, err)
		}
		return a
	}
	requests := func(from int) string {
		var out []string
		for _, r := range p.Requests()[from:] {
			path, _, _ := strings.Cut(r.Path, "?")
			if path == "/api" || path == "/apis" {
				continue // a new process's discovery
			}
			out = append(out, r.Method+" "+strings.TrimPrefix(strings.TrimPrefix(path, "/apis/apps/v1/namespaces/"+ns), "/api/v1/namespaces/"+ns))
		}
		return strings.Join(out, ", ")
	}
	held := "Normal HeadroomHeld x%d: replicas held at 2: forecast q0.95 needs 2"
	want := func(name string, uid string, lines ...string) {
		t.Helper()
		got := describedEvents(t, c, ns, "Deployment", name, uid)
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("%s events:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(lines, "\n"))
		}
	}
	count := func(n int) string { return fmt.Sprintf(held, n) }

	// Three runs, five minutes apart, each a new process.
	var name string
	for run := range 3 {
		before := len(p.Requests())
		a := hold(newKube(cfg, actuator.KubeOptions{Instance: "run"}), actuatorNow.Add(time.Duration(run)*5*time.Minute), web)
		if len(a.Warnings) != 0 {
			t.Fatalf("run %d: %v", run, a.Warnings)
		}
		wantReqs := "GET /deployments/web/scale, GET /events, POST /events"
		if run == 0 {
			name = events(t, c, ns, "Deployment", "web")[0].Name
		} else {
			wantReqs = "GET /deployments/web/scale, GET /events, PATCH /events/" + name
		}
		if got := requests(before); got != wantReqs {
			t.Errorf("run %d requests: %s, want %s", run, got, wantReqs)
		}
	}
	want("web", string(dep.UID), count(3))
	evs := events(t, c, ns, "Deployment", "web")
	if e := evs[0]; !e.FirstTimestamp.Time.Equal(actuatorNow) || !e.LastTimestamp.Time.Equal(actuatorNow.Add(10*time.Minute)) || e.ReportingInstance != "run" {
		t.Fatalf("timestamps %v → %v", e.FirstTimestamp, e.LastTimestamp)
	}

	// Writers racing in one run. Each of k1, k2, k3 lists the namespace's Events with its first
	// Event of the run (api's hold: k1 creates it, k2 and k3 count on it).
	t1 := actuatorNow.Add(15 * time.Minute)
	k1, k2, k3 := newKube(cfg, actuator.KubeOptions{}), newKube(cfg, actuator.KubeOptions{}), newKube(cfg, actuator.KubeOptions{})
	hold(k1, t1, api)
	hold(k2, t1, api)
	hold(k3, t1, api)
	launch := func(k *actuator.Kube, wantReqs string) {
		t.Helper()
		before := len(p.Requests())
		a, err := k.SetReplicas(ctx, t1, web, 2, "window launch")
		if err != nil || len(a.Warnings) != 0 {
			t.Fatalf("%+v %v", a, err)
		}
		got := regexp.MustCompile(`/events/[a-z0-9.-]+`).ReplaceAllString(requests(before), "/events/NAME")
		if got != "GET /deployments/web/scale, "+wantReqs {
			t.Errorf("requests %s, want GET /deployments/web/scale, %s", got, wantReqs)
		}
	}
	// A new message on web: k1 creates it; k2's list predates it, so its create finds the
	// name taken, re-lists that one Event and counts on it.
	launch(k1, "POST /events")
	launch(k2, "POST /events, GET /events, PATCH /events/NAME")
	// Stale resourceVersions: k1 knows the Event at count 1, k2 at 2. k1's patch is a
	// conflict, re-lists, counts 3; k2's then too, 4. Nothing is lost.
	launch(k1, "PATCH /events/NAME, GET /events, PATCH /events/NAME")
	launch(k2, "PATCH /events/NAME, GET /events, PATCH /events/NAME")
	want("web", string(dep.UID), count(3), "Normal HeadroomHeld x4: replicas held at 2: window launch")
	apiDep, _ := c.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	want("api", string(apiDep.UID), count(3))

	// A dry run counts nothing.
	hold(newKube(cfg, actuator.KubeOptions{DryRun: true}), t1.Add(5*time.Minute), web)
	want("web", string(dep.UID), count(3), "Normal HeadroomHeld x4: replicas held at 2: window launch")

	// Without patch: the repeat is refused and said so; the action itself stands.
	var noPatch []rbacv1.PolicyRule
	for _, r := range actuator.KubeRules() {
		if len(r.Resources) == 1 && r.Resources[0] == "events" {
			r.Verbs = []string{"create", "list"}
		}
		noPatch = append(noPatch, r)
	}
	s.Grant(t, "", harness.ServiceAccountSubject(ns, "no-patch"), noPatch...)
	a := hold(newKube(s.ServiceAccountConfig(t, ns, "no-patch"), actuator.KubeOptions{}), t1.Add(10*time.Minute), web)
	if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "event: ") || !strings.Contains(a.Warnings[0], "forbidden") {
		t.Fatalf("without patch: %+v", a)
	}
	want("web", string(dep.UID), count(3), "Normal HeadroomHeld x4: replicas held at 2: window launch")
}
