package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// benchmarkRun makes nsCount namespaces of perNS Deployments, each with
// pods Ready pods sharing 1 core of usage (so every workload needs 2 → 4),
// and two hours of history in the store, then runs the real headroom binary
// three times through the fault proxy (no faults, it counts requests): the first
// run changes every workload, the second (usage halved, the new replicas
// not come up) changes none, and a third run the same (each not-converged
// Warning a repeat of the second run's). It reports, per run, wall and CPU
// time, the process's peak RSS, the API requests by verb, and the Events
// stored after it.
func benchmarkRun(b *testing.B, nsCount, perNS, pods int) {
	s := kube.Server(b)
	m := s.MetricsAPI(b)
	cfg := rest.CopyConfig(s.Config())
	cfg.QPS, cfg.Burst = 1000, 2000
	c := kubernetes.NewForConfigOrDie(cfg)
	dir := b.TempDir()
	db := filepath.Join(dir, "headroom.db")
	st, err := store.Open(db, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	hist := &metrics.Batch{Source: "seed"}
	var plan strings.Builder
	var namespaces []string
	for i := range nsCount {
		namespaces = append(namespaces, s.Namespace(b))
		_ = i
	}
	fmt.Fprintf(&plan, "apiVersion: headroom.dev/v1alpha1\nkind: CapacityPlan\nmetadata: {name: bench}\nspec:\n  history: {source: metrics-server, store: %s, maxAge: 10m, namespaces: [%s]}\n  forecast: {model: naive}\n  run:\n    lease: {namespace: %s}\n  workloads:\n",
		db, strings.Join(namespaces, ", "), namespaces[0])
	perPod := fmt.Sprintf("%dm", 1000/pods)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var firstErr error
	for _, ns := range namespaces {
		var usage []metricsv1beta1.PodMetrics
		for w := range perNS {
			name := fmt.Sprintf("w%02d", w)
			fmt.Fprintf(&plan, "    - {target: {kind: Deployment, namespace: %s, name: %s}, resources: {cpu: 500m}, utilization: {cpu: 0.5}, replicas: {min: 1, max: 10}}\n", ns, name)
			s := metrics.Series{Key: metrics.Key{Workload: metrics.Workload{Kind: "Deployment", Namespace: ns, Name: name}, Resource: metrics.CPU}}
			for k := 24; k >= 1; k-- {
				s.Points = append(s.Points, metrics.Point{T: now.Add(-time.Duration(k) * 5 * time.Minute), V: 1})
			}
			hist.Series = append(hist.Series, s)
			labels := map[string]string{"app": name}
			for p := range pods {
				usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-rs-%d", name, p), Labels: labels},
					Timestamp: metav1.Now(), Window: metav1.Duration{Duration: 30 * time.Second},
					Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage(perPod, "100Mi")}}})
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := makeBenchWorkload(c, ns, name, pods); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}()
		}
		m.SetPodMetrics(ns, usage)
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	if _, err := st.Write(ctx, hist, now); err != nil {
		b.Fatal(err)
	}
	st.Close()
	planPath := writeRunPlan(b, dir, plan.String())
	p := s.FaultProxy(b)
	kc := kubeconfig(b, p.Config())
	bin := headroomBinary(b)

	run := func(label string, wantChanged int) {
		before := len(p.Requests())
		cmd := exec.Command(bin, "run", "--config", planPath, "--kubeconfig", kc, "-o", "json", "--qps", "500", "--parallel", "8")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", label, err, tail(errOut.String(), 3000))
		}
		wall := time.Since(start)
		var doc struct {
			Counts map[string]int `json:"counts"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			b.Fatal(err)
		}
		if doc.Counts["scaled"] != wantChanged || doc.Counts["failed"] != 0 {
			b.Fatalf("%s: counts %v\n%s", label, doc.Counts, tail(errOut.String(), 3000))
		}
		reqs := p.Requests()[before:]
		verbs, eventVerbs := map[string]int{}, map[string]int{}
		for _, r := range reqs {
			v := r.Method
			if r.Method == "GET" && !strings.Contains(r.Path, "/scale") && (strings.Contains(r.Path, "limit=") || strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "s")) {
				v = "LIST"
			}
			verbs[v]++
			if strings.Contains(r.Path, "/events") {
				eventVerbs[v]++
			}
		}
		// Phases from the log's timestamps: start → lease and convergence → collected → planned and applied → end.
		phases := map[string]time.Time{}
		for _, line := range strings.Split(errOut.String(), "\n") {
			var l struct {
				Time    time.Time `json:"time"`
				Message string    `json:"message"`
			}
			if json.Unmarshal([]byte(line), &l) == nil {
				if _, ok := phases[l.Message]; !ok {
					phases[l.Message] = l.Time
				}
			}
		}
		since := func(a, b string) string { return phases[b].Sub(phases[a]).Round(10 * time.Millisecond).String() }
		conv := "convergence checked"
		if _, ok := phases[conv]; !ok {
			conv = "cycle start"
		}
		b.Logf("%s phases: convergence check %s, collection %s, plan %s, apply and record %s",
			label, since("cycle start", conv), since(conv, "collected"), since("collected", "planned"), since("planned", "cycle end"))
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		b.ReportMetric(wall.Seconds(), label+"-wall-s")
		b.ReportMetric(cpu.Seconds(), label+"-cpu-s")
		b.ReportMetric(float64(ru.Maxrss)/1024, label+"-maxrss-MiB")
		b.ReportMetric(float64(len(reqs)), label+"-requests")
		// The Events headroom has stored so far, and how many occurrences they count.
		stored, occurrences := 0, 0
		for _, ns := range namespaces {
			l, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "source=headroom"})
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range l.Items {
				stored++
				occurrences += int(max(e.Count, 1))
			}
		}
		b.ReportMetric(float64(stored), label+"-events-stored")
		b.Logf("%s: %d namespaces × %d workloads × %d pods: wall %.1f s, CPU %.1f s, max RSS %.0f MiB, %d API requests %v, counts %v; Event requests %v, Events stored %d, counting %d",
			label, nsCount, perNS, pods, wall.Seconds(), cpu.Seconds(), float64(ru.Maxrss)/1024, len(reqs), verbs, doc.Counts, eventVerbs, stored, occurrences)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.Skip("one iteration: the cluster state is not reset")
		}
		run("changed", nsCount*perNS)
		// Half the usage; the new replicas never come up (no controllers): nothing changes.
		for _, ns := range namespaces {
			var usage []metricsv1beta1.PodMetrics
			for w := range perNS {
				for p := range pods {
					usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w%02d-rs-%d", w, p), Labels: map[string]string{"app": fmt.Sprintf("w%02d", w)}},
						Timestamp: metav1.Now(), Window: metav1.Duration{Duration: 30 * time.Second},
						Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage(fmt.Sprintf("%dm", 500/pods), "100Mi")}}})
				}
			}
			m.SetPodMetrics(ns, usage)
		}
		run("unchanged", 0)
		// The same again: the same workloads still short of their Ready pods, the same
		// not-converged Warning on each (a repeat: counted on the stored Event).
		run("repeated", 0)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func makeBenchWorkload(c kubernetes.Interface, ns, name string, pods int) error {
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("500m", "256Mi")}
	dep, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-rs", OwnerReferences: owner("Deployment", dep)},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	for i := range pods {
		p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-rs-%d", name, i), Labels: labels,
			OwnerReferences: owner("ReplicaSet", rs)}, Spec: podSpec("500m", "256Mi")}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkRun1000 is the target: 1,000 workloads in 100
// namespaces. The 10-namespace and 3-pod variants show what requests grow
// with: namespaces and changed workloads, not pods.
func BenchmarkRun1000(b *testing.B)       { benchmarkRun(b, 100, 10, 1) }
func BenchmarkRun1000x3Pods(b *testing.B) { benchmarkRun(b, 100, 10, 3) }
func BenchmarkRun100In10NS(b *testing.B)  { benchmarkRun(b, 10, 10, 1) }
