package integration_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/headroom-dev/headroom/metrics"
	mkube "github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

// TestCollectScale collects 5,000 pods of 500 Deployments (10 pods each) in one namespace, and reports the
// time, the memory the collection allocated and the number of API requests, which must grow with pages,
// not pods. Targets (issue 4): under 10 s and 200 MB.
func TestCollectScale(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 5,500 objects")
	}
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	const workloads, perWorkload = 500, 10
	setup := time.Now()
	var usage []metricsv1beta1.PodMetrics
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, workloads)
	sem := make(chan struct{}, 16)
	for w := 0; w < workloads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("w%03d", w)
			labels := map[string]string{"app": name}
			rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-rs"},
				Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("100m", "64Mi")}}}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			for p := 0; p < perWorkload; p++ {
				pod := fmt.Sprintf("%s-rs-%d", name, p)
				if _, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Labels: labels, OwnerReferences: owner("ReplicaSet", rs)},
					Spec: podSpec("100m", "64Mi")}, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				usage = append(usage, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: pod},
					Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: harness.Usage("10m", "10Mi")}}})
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m.SetPodMetrics(ns, usage)
	t.Logf("created %d ReplicaSets and %d pods in %v", workloads, workloads*perWorkload, time.Since(setup).Round(time.Millisecond))

	src := source(t, s.Config(), mkube.Options{Namespaces: []string{ns}})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	b, err := src.Collect(ctx, metrics.Window{End: time.Now()})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("collected %d pods of %d workloads: %v, %.0f MiB allocated, heap in use %.0f MiB, %d API requests",
		workloads*perWorkload, b.Workloads()-countPools(b), took.Round(time.Millisecond), alloc, float64(after.HeapInuse)/(1<<20), src.Requests)
	if got := b.Workloads() - countPools(b); got != workloads {
		t.Fatalf("%d workloads, want %d", got, workloads)
	}
	for _, cv := range b.Coverage {
		if cv.Pods != perWorkload || cv.WithMetrics != perWorkload {
			t.Fatalf("coverage %+v", cv)
		}
	}
	if took > 10*time.Second || alloc > 200 {
		t.Errorf("over target: %v, %.0f MiB (want < 10 s, < 200 MB)", took, alloc)
	}
	// 5,000 pods at the default page of 500: 10 pages, plus a handful of lists; nothing per pod.
	if src.Requests > 20 {
		t.Errorf("%d API requests for 5,000 pods", src.Requests)
	}
}

func countPools(b *metrics.Batch) int {
	n := map[string]bool{}
	for _, s := range b.Series {
		if s.Key.Workload.Kind == metrics.KindNodePool {
			n[s.Key.Workload.Name] = true
		}
	}
	return len(n)
}
