package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/policy"
)

type countingRT struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// benchmarkActuator applies one decision to each of 100 Deployments per
// iteration, changing them all (change) or none (hold), and reports the API
// requests per workload. Each iteration is a run (its own now): a change
// costs 4 requests plus the namespace's one HPA list per run, 4.01 per
// workload here; a hold 2.
func benchmarkActuator(b *testing.B, change bool) {
	s := kube.Server(b)
	ns := s.Namespace(b)
	c := s.Client()
	ctx := context.Background()
	const n = 100
	targets := make([]policy.Target, n)
	for i := range targets {
		name := fmt.Sprintf("w%03d", i)
		if _, err := c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: podTemplate(name)},
		}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		targets[i] = policy.Target{Kind: "Deployment", Namespace: ns, Name: name}
	}
	var requests atomic.Int64
	cfg := rest.CopyConfig(s.Config())
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingRT{rt, &requests} })
	k, err := actuator.NewKube(cfg, actuator.KubeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := k.SetReplicas(ctx, actuatorNow, targets[0], 2, "warm discovery"); err != nil {
		b.Fatal(err)
	}
	requests.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := int32(2)
		if change {
			want = int32(3 + i%2)
		}
		for _, t := range targets {
			a, err := k.SetReplicas(ctx, actuatorNow.Add(time.Duration(i+1)*time.Minute), t, want, "forecast")
			if err != nil || a.Changed != change {
				b.Fatalf("%s: %+v %v", t, a, err)
			}
		}
	}
	b.ReportMetric(float64(requests.Load())/float64(b.N*n), "requests/workload")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/workload")
}

func BenchmarkActuatorHold100(b *testing.B)   { benchmarkActuator(b, false) }
func BenchmarkActuatorChange100(b *testing.B) { benchmarkActuator(b, true) }
