package integration_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/actuator"
)

// TestRunQuota runs the real binary (headroom run, pushing its metrics to
// a real Pushgateway) against the real kube-apiserver, in a namespace
// whose ResourceQuota cannot hold the planned scale-up.
//
// Worked by hand. Quota compute: requests.cpu 1.5, pods 10. The harness
// runs no quota controller: the test writes status.hard and a zero
// status.used through the status subresource, and from there the real
// quota admission counts web's 2 pods (500m each): used 1 core, 2 pods.
// web runs at 1 core on 2 pods (TestRunEndToEnd): planned 2 → 4. The 2
// more pods request 2 × 500m = 1 core (the snapshot's pod requests); the
// quota has 1.5 − 1 = 0.5 left: short by 0.5 core (pods: 4 of 10, room).
// The run still scales web to 4 (headroom, like the HPA, does not cap at
// a quota): the decision carries the QUOTA: warning, the Event on web is a
// Warning with it, and headroom_quota_shortfall is 0.5. Then the pods, as
// the ReplicaSet controller would create them: the API server admits one
// (1.5 of 1.5) and refuses the next with 403 exceeded quota, the 0.5 core
// the warning named.
func TestRunQuota(t *testing.T) {
	pg := runQuotaPushgateway(t)
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()

	hard := corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("1500m"), corev1.ResourcePods: resource.MustParse("10")}
	q := must[*corev1.ResourceQuota](t)(c.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "compute"},
		Spec: corev1.ResourceQuotaSpec{Hard: hard}}, metav1.CreateOptions{}))
	q.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("0"), corev1.ResourcePods: resource.MustParse("0")}}
	if _, err := c.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{{name: "web", replicas: 2, pods: 2, cpu: "500m"}}))
	got := must[*corev1.ResourceQuota](t)(c.CoreV1().ResourceQuotas(ns).Get(ctx, "compute", metav1.GetOptions{}))
	if u := got.Status.Used[corev1.ResourceRequestsCPU]; u.Cmp(resource.MustParse("1")) != 0 {
		t.Fatalf("status.used requests.cpu %s, want 1 (web's 2 pods counted by quota admission)", u.String())
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1})
	plan := runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}})
	plan = strings.Replace(plan, "  run:\n", "  run:\n    pushgateway: {url: "+pg+"}\n", 1)
	cmd := exec.Command(headroomBinary(t), "run", "--config", writeRunPlan(t, dir, plan), "--kubeconfig", kubeconfig(t, s.Config()), "-o", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("headroom run: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var doc struct {
		Targets []struct {
			Target, Outcome  string
			Current, Desired int32
			Warnings         []string
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Targets) != 1 {
		t.Fatalf("run output %s: %v", out, err)
	}
	want := fmt.Sprintf("QUOTA: 2 more pods need 1 cores of requests.cpu, but quota %s/compute has 0.5 cores left (1 cores used of 1.5 cores): "+
		"the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short", ns)
	tj := doc.Targets[0]
	if tj.Outcome != "scaled" || tj.Current != 2 || tj.Desired != 4 || !slices.Contains(tj.Warnings, want) {
		t.Errorf("web: %s %d → %d, warnings %q; want scaled 2 → 4 with\n%s", tj.Outcome, tj.Current, tj.Desired, tj.Warnings, want)
	}
	if n, _ := deploymentReplicas(t, c, ns, "web"); n != 4 {
		t.Errorf("web at %d replicas, want 4: the quota does not cap the scale", n)
	}
	// The Event on web: a Warning naming the quota and what is short.
	var ev *corev1.Event
	for _, e := range events(t, c, ns, "Deployment", "web") {
		if e.Reason == actuator.EventScaled {
			ev = &e
		}
	}
	if ev == nil || ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, "2 → 4") || !strings.Contains(ev.Message, want) {
		t.Errorf("web's HeadroomScaled Event: %+v", ev)
	}
	// The metric, as the run pushed it.
	resp, err := http.Get(pg + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	short := math.NaN()
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "headroom_quota_shortfall{") && strings.Contains(line, `quota="`+ns+`/compute"`) &&
			strings.Contains(line, `resource="requests.cpu"`) && strings.Contains(line, `target="Deployment/`+ns+`/web"`) {
			short, err = strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if math.Abs(short-0.5) > 1e-9 {
		t.Errorf("headroom_quota_shortfall for web = %v, want 0.5 core; the Pushgateway has:\n%s", short, body)
	}
	// The pods, as the ReplicaSet controller would create them: one more fits (0.5 core), the next is refused.
	rs := must[*appsv1.ReplicaSet](t)(c.AppsV1().ReplicaSets(ns).Get(ctx, "web-rs", metav1.GetOptions{}))
	addRunPod(t, c, ns, rs, "web-rs-2", "250m")
	_, err = c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-rs-3", Labels: rs.Spec.Selector.MatchLabels,
		OwnerReferences: owner("ReplicaSet", rs)}, Spec: podSpec("500m", "256Mi")}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota: compute") {
		t.Errorf("the fourth pod: %v, want 403 Forbidden exceeded quota: compute", err)
	}
}

// runQuotaPushgateway starts the real prometheus-pushgateway on a free
// loopback port, skipping without it unless HEADROOM_REQUIRE_PUSHGATEWAY=1.
func runQuotaPushgateway(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-pushgateway")
	if err != nil {
		if os.Getenv("HEADROOM_REQUIRE_PUSHGATEWAY") == "1" {
			t.Fatal("prometheus-pushgateway not found and HEADROOM_REQUIRE_PUSHGATEWAY=1 (apt-get install prometheus-pushgateway)")
		}
		t.Skip("prometheus-pushgateway not found: skipping (apt-get install prometheus-pushgateway; HEADROOM_REQUIRE_PUSHGATEWAY=1 fails instead)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushgateway at %s not ready: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
