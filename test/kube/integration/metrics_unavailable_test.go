package integration_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/headroom-dev/headroom/metrics"
	mkube "github.com/headroom-dev/headroom/metrics/kube"
	"github.com/headroom-dev/headroom/test/kube/harness"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// headroomBinary builds the headroom CLI from the working tree once per test binary.
func headroomBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "headroom-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "headroom")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/headroom")
		cmd.Dir = "../../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New("go build ./cmd/headroom: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// kubeconfig writes a kubeconfig file for a client configuration.
func kubeconfig(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// apiServiceAvailable waits until the metrics APIService's Available condition is want.
func apiServiceAvailable(ctx context.Context, ag aggregator.Interface, want apiregistrationv1.ConditionStatus) (string, error) {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := ag.ApiregistrationV1().APIServices().Get(ctx, harness.MetricsAPIService, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiregistrationv1.Available {
				last = string(c.Status) + " " + c.Reason + ": " + c.Message
				return c.Status == want, nil
			}
		}
		return false, nil
	})
	return last, err
}

// TestCollectAPIServiceNotAvailable points the metrics APIService at a
// Service without endpoints, as when metrics-server is down, so the
// aggregation layer marks it not Available and answers 503; the source
// fails with ErrUnavailable and a hint, and headroom collect exits 1 with the
// store as it was. The APIService is pointed back afterwards.
func TestCollectAPIServiceNotAvailable(t *testing.T) {
	s := kube.Server(t)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	m.SetPodMetrics(ns, nil)
	c := s.Client()
	bin := headroomBinary(t)
	cfgPath := kubeconfig(t, s.Config())
	db := filepath.Join(t.TempDir(), "h.db")
	run := func() (int, string, string) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, "collect", "--source", "metrics-server", "--kubeconfig", cfgPath, "--namespace", ns, "--store", db)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String(), errOut.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errOut.String()
	}
	// A first collection while the API is available fills the store.
	if code, out, errOut := run(); code != 0 {
		t.Fatalf("available: exit %d\n%s%s", code, out, errOut)
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}

	// A Service with no selector and no Endpoints: nothing serves it.
	svc, err := c.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "metrics-down-" + ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CoreV1().Services(metav1.NamespaceSystem).Delete(ctx, svc.Name, metav1.DeleteOptions{}) })
	ag := aggregator.NewForConfigOrDie(s.Config())
	orig, err := ag.ApiregistrationV1().APIServices().Get(ctx, harness.MetricsAPIService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	origService := *orig.Spec.Service
	repoint := func(ref apiregistrationv1.ServiceReference) error {
		return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			a, err := ag.ApiregistrationV1().APIServices().Get(ctx, harness.MetricsAPIService, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			a.Spec.Service = &ref
			_, err = ag.ApiregistrationV1().APIServices().Update(ctx, a, metav1.UpdateOptions{})
			return err == nil, nil // retry conflicts with the availability controller
		})
	}
	t.Cleanup(func() {
		// Point it back and wait until the metrics API answers again, for the tests that follow.
		if err := repoint(origService); err != nil {
			t.Errorf("restore the APIService: %v", err)
			return
		}
		if last, err := apiServiceAvailable(ctx, ag, apiregistrationv1.ConditionTrue); err != nil {
			t.Errorf("the APIService did not come back (%s): %v", last, err)
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := c.Discovery().ServerResourcesForGroupVersion(metricsv1beta1.SchemeGroupVersion.String())
			return err == nil, nil
		})
		if err != nil {
			t.Errorf("the metrics API is not in discovery again: %v", err)
		}
	})
	port := int32(443)
	if err := repoint(apiregistrationv1.ServiceReference{Namespace: metav1.NamespaceSystem, Name: svc.Name, Port: &port}); err != nil {
		t.Fatal(err)
	}
	last, err := apiServiceAvailable(ctx, ag, apiregistrationv1.ConditionFalse)
	if err != nil {
		t.Fatalf("the APIService stayed available (%s): %v", last, err)
	}
	t.Logf("APIService: %s", last)

	// The source: ErrUnavailable, naming the metrics API and the APIService.
	src := source(t, s.Config(), mkube.Options{Namespaces: []string{ns}})
	_, err = src.Collect(ctx, metrics.Window{End: time.Now()})
	if !errors.Is(err, metrics.ErrUnavailable) || !strings.Contains(err.Error(), "metrics.k8s.io") ||
		!strings.Contains(err.Error(), "APIService "+harness.MetricsAPIService+" is registered but not available") {
		t.Fatalf("source: %v", err)
	}
	// The CLI: exit 1, a clear message, the store as it was.
	code, out, errOut := run()
	if code != 1 || !strings.Contains(errOut, "collect from metrics-server") || !strings.Contains(errOut, "not available") ||
		!strings.Contains(errOut, "the store was not changed") {
		t.Errorf("unavailable: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the store changed")
	}
	if _, err := os.Stat(db + "-wal"); err == nil {
		if wal, _ := os.ReadFile(db + "-wal"); len(wal) > 0 {
			t.Errorf("a write-ahead log of %d bytes was left", len(wal))
		}
	}
}
