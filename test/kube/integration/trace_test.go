package integration_test

import (
	"context"
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/headroom-dev/headroom/metrics/trace"
)

// TestTraceReplayThroughMetricsAPI plays a shipped trace (EC2 CPU
// utilisation in percent of one core) into the metrics API point by point
// and reads each point back as a metrics-server client would.
func TestTraceReplayThroughMetricsAPI(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	tr, err := trace.ReadFile("../../../testdata/traces/nab-realAWSCloudwatch-ec2_cpu_utilization_24ae8d.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	col, err := tr.Column("")
	if err != nil {
		t.Fatal(err)
	}
	mc := metricsclient.NewForConfigOrDie(s.Config()).MetricsV1beta1()
	for i := 0; i < 5; i++ {
		milli := int64(math.Round(col.Values[i] * 10)) // percent of a core → millicores
		m.SetPodMetrics(ns, []metricsv1beta1.PodMetrics{{
			ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}},
			Timestamp:  metav1.NewTime(tr.Time(i)),
			Window:     metav1.Duration{Duration: tr.Step},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "app", Usage: corev1.ResourceList{
				corev1.ResourceCPU: *resource.NewMilliQuantity(milli, resource.DecimalSI),
			}}},
		}})
		got, err := mc.PodMetricses(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatalf("point %d: %v", i, err)
		}
		if len(got.Items) != 1 {
			t.Fatalf("point %d: %d items, want 1", i, len(got.Items))
		}
		p := got.Items[0]
		if cpu := p.Containers[0].Usage.Cpu().MilliValue(); cpu != milli || !p.Timestamp.Time.Equal(tr.Time(i)) {
			t.Fatalf("point %d: %dm at %v, want %dm at %v", i, cpu, p.Timestamp.Time, milli, tr.Time(i))
		}
	}
}
