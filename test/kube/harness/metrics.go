package harness

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// MetricsServer serves metrics.k8s.io/v1beta1 — what metrics-server serves
// in a cluster — from fixtures that tests set. It is registered with the API
// server as the APIService v1beta1.metrics.k8s.io behind the Service
// kube-system/metrics-server (type ExternalName, localhost), so clients reach
// it through the aggregation layer, authenticated and authorised by the API
// server, exactly as they reach metrics-server.
//
// Pod fixtures are kept per namespace, so tests that each use their own
// namespace do not see each other's pods. Node fixtures are cluster-wide.
type MetricsServer struct {
	srv  *http.Server
	ln   net.Listener
	port int

	mu       sync.Mutex
	pods     map[string][]metricsv1beta1.PodMetrics // by namespace
	nodes    []metricsv1beta1.NodeMetrics
	requests []MetricsRequest
}

// MetricsRequest is one request that reached the metrics server.
type MetricsRequest struct {
	Method, Path, RawQuery string
	// User and Groups are the caller's identity as the API server passed it
	// on (X-Remote-User, X-Remote-Group).
	User   string
	Groups []string
}

// MetricsAPIService is the name of the APIService that the harness registers.
const MetricsAPIService = "v1beta1.metrics.k8s.io"

// MetricsAPI returns the server's metrics API, registering it on first use.
func (s *Server) MetricsAPI(t testing.TB) *MetricsServer {
	t.Helper()
	m, err := s.InstallMetricsAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// InstallMetricsAPI starts the metrics server, registers it with the
// aggregation layer and waits until the APIService is Available and the group
// is in discovery. Later calls return the same server.
func (s *Server) InstallMetricsAPI(ctx context.Context) (*MetricsServer, error) {
	s.installMu.Lock()
	defer s.installMu.Unlock()
	if s.metrics != nil {
		return s.metrics, nil
	}
	m, err := startMetricsServer(s.proxyCA, s.serverCA)
	if err != nil {
		return nil, err
	}
	if err := s.registerMetrics(ctx, m); err != nil {
		m.close()
		return nil, err
	}
	s.metrics = m
	return m, nil
}

func startMetricsServer(frontProxyCA, servingCA *authority) (*MetricsServer, error) {
	serving, err := servingCA.serving("metrics-server", "metrics-server.kube-system.svc", "localhost", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	cert, err := serving.tlsCertificate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &MetricsServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, pods: map[string][]metricsv1beta1.PodMetrics{}}
	m.srv = &http.Server{
		Handler: m.handler(),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    frontProxyCA.pool(),
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go m.srv.ServeTLS(ln, "", "")
	return m, nil
}

func (s *Server) registerMetrics(ctx context.Context, m *MetricsServer) error {
	cs := s.Client()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-server", Namespace: metav1.NamespaceSystem},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports: []corev1.ServicePort{{
				Name: "https", Port: int32(m.port), Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(m.port)),
			}},
		},
	}
	if _, err := cs.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("harness: create service %s: %w", svc.Name, err)
	}
	ag, err := aggregator.NewForConfig(s.Config())
	if err != nil {
		return err
	}
	port := int32(m.port)
	apisvc := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: MetricsAPIService},
		Spec: apiregistrationv1.APIServiceSpec{
			Service:              &apiregistrationv1.ServiceReference{Namespace: svc.Namespace, Name: svc.Name, Port: &port},
			Group:                metricsv1beta1.GroupName,
			Version:              "v1beta1",
			CABundle:             s.serverCA.certPEM,
			GroupPriorityMinimum: 100,
			VersionPriority:      100,
		},
	}
	if _, err := ag.ApiregistrationV1().APIServices().Create(ctx, apisvc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("harness: create APIService %s: %w", MetricsAPIService, err)
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := ag.ApiregistrationV1().APIServices().Get(ctx, MetricsAPIService, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiregistrationv1.Available {
				last = fmt.Sprintf("%s: %s", c.Reason, c.Message)
				if c.Status != apiregistrationv1.ConditionTrue {
					return false, nil
				}
			}
		}
		_, err = cs.Discovery().ServerResourcesForGroupVersion(metricsv1beta1.SchemeGroupVersion.String())
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("harness: APIService %s not available (%s): %w", MetricsAPIService, last, err)
	}
	return nil
}

func (m *MetricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
}

// SetPodMetrics replaces the pod metrics of namespace ns. Each item's
// namespace is set to ns; a zero Timestamp becomes the current time and a
// zero Window 30 s.
func (m *MetricsServer) SetPodMetrics(ns string, pods []metricsv1beta1.PodMetrics) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	items := make([]metricsv1beta1.PodMetrics, len(pods))
	for i, p := range pods {
		p = *p.DeepCopy()
		p.Namespace = ns
		if p.Timestamp.IsZero() {
			p.Timestamp = now
		}
		if p.Window.Duration == 0 {
			p.Window.Duration = 30 * time.Second
		}
		items[i] = p
	}
	slices.SortFunc(items, func(a, b metricsv1beta1.PodMetrics) int { return strings.Compare(a.Name, b.Name) })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pods[ns] = items
}

// SetNodeMetrics replaces the node metrics, with SetPodMetrics's defaults.
func (m *MetricsServer) SetNodeMetrics(nodes []metricsv1beta1.NodeMetrics) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	items := make([]metricsv1beta1.NodeMetrics, len(nodes))
	for i, n := range nodes {
		n = *n.DeepCopy()
		if n.Timestamp.IsZero() {
			n.Timestamp = now
		}
		if n.Window.Duration == 0 {
			n.Window.Duration = 30 * time.Second
		}
		items[i] = n
	}
	slices.SortFunc(items, func(a, b metricsv1beta1.NodeMetrics) int { return strings.Compare(a.Name, b.Name) })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes = items
}

// Requests returns the requests served so far, oldest first.
func (m *MetricsServer) Requests() []MetricsRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests)
}

// Usage is a ResourceList of CPU and memory quantities, such as
// Usage("250m", "64Mi"). It panics on a malformed quantity.
func Usage(cpu, memory string) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}
}

const metricsPrefix = "/apis/metrics.k8s.io/v1beta1"

func (m *MetricsServer) handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	}
	gv := metav1.GroupVersionForDiscovery{GroupVersion: metricsv1beta1.SchemeGroupVersion.String(), Version: "v1beta1"}
	group := metav1.APIGroup{
		TypeMeta:         metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:             metricsv1beta1.GroupName,
		Versions:         []metav1.GroupVersionForDiscovery{gv},
		PreferredVersion: gv,
	}
	mux.HandleFunc("GET /apis", m.authenticated(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{group}})
	}))
	mux.HandleFunc("GET /apis/metrics.k8s.io", m.authenticated(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, group)
	}))
	mux.HandleFunc("GET "+metricsPrefix, m.authenticated(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv.GroupVersion,
			APIResources: []metav1.APIResource{
				{Name: "nodes", Kind: "NodeMetrics", Namespaced: false, Verbs: metav1.Verbs{"get", "list"}},
				{Name: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: metav1.Verbs{"get", "list"}},
			},
		})
	}))
	mux.HandleFunc("GET "+metricsPrefix+"/nodes", m.authenticated(m.listNodes))
	mux.HandleFunc("GET "+metricsPrefix+"/nodes/{name}", m.authenticated(m.getNode))
	mux.HandleFunc("GET "+metricsPrefix+"/pods", m.authenticated(m.listPods))
	mux.HandleFunc("GET "+metricsPrefix+"/namespaces/{ns}/pods", m.authenticated(m.listPods))
	mux.HandleFunc("GET "+metricsPrefix+"/namespaces/{ns}/pods/{name}", m.authenticated(m.getPod))
	// The aggregator merges extension servers' OpenAPI into its own; an empty
	// document keeps it from logging a download failure.
	mux.HandleFunc("GET /openapi/v2", m.authenticated(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"swagger": "2.0", "info": map[string]any{"title": "headroom test metrics server", "version": "v1beta1"}, "paths": map[string]any{},
		})
	}))
	mux.HandleFunc("GET /openapi/v3", m.authenticated(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"paths": map[string]any{}})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
	})
	return mux
}

// authenticated admits only requests that the API server proxied: with a
// client certificate from the front-proxy CA (verified by the TLS handshake)
// and a user in X-Remote-User, as metrics-server's delegated authentication
// does. It records each admitted request.
func (m *MetricsServer) authenticated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.VerifiedChains[0][0].Subject.CommonName != frontProxyUser {
			writeStatus(w, apierrors.NewUnauthorized("metrics server: no front-proxy client certificate"))
			return
		}
		user := r.Header.Get("X-Remote-User")
		if user == "" {
			writeStatus(w, apierrors.NewUnauthorized("metrics server: no X-Remote-User"))
			return
		}
		m.mu.Lock()
		m.requests = append(m.requests, MetricsRequest{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			User: user, Groups: r.Header.Values("X-Remote-Group"),
		})
		m.mu.Unlock()
		if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
			writeStatus(w, apierrors.NewMethodNotSupported(metricsv1beta1.Resource("pods"), "watch"))
			return
		}
		h(w, r)
	}
}

// selectors parses the labelSelector and fieldSelector query parameters.
func selectors(r *http.Request) (labels.Selector, fields.Selector, error) {
	ls, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	fs, err := fields.ParseSelector(r.URL.Query().Get("fieldSelector"))
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	return ls, fs, nil
}

func matches(ls labels.Selector, fs fields.Selector, meta metav1.ObjectMeta) bool {
	return ls.Matches(labels.Set(meta.Labels)) &&
		fs.Matches(fields.Set{"metadata.name": meta.Name, "metadata.namespace": meta.Namespace})
}

func (m *MetricsServer) listPods(w http.ResponseWriter, r *http.Request) {
	ls, fs, err := selectors(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	ns := r.PathValue("ns")
	m.mu.Lock()
	var namespaces []string
	if ns != "" {
		namespaces = []string{ns}
	} else {
		for n := range m.pods {
			namespaces = append(namespaces, n)
		}
		slices.Sort(namespaces)
	}
	list := metricsv1beta1.PodMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsv1beta1.SchemeGroupVersion.String()},
		Items:    []metricsv1beta1.PodMetrics{},
	}
	for _, n := range namespaces {
		for _, p := range m.pods[n] {
			if matches(ls, fs, p.ObjectMeta) {
				list.Items = append(list.Items, *p.DeepCopy())
			}
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (m *MetricsServer) getPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	m.mu.Lock()
	i := slices.IndexFunc(m.pods[ns], func(p metricsv1beta1.PodMetrics) bool { return p.Name == name })
	var p metricsv1beta1.PodMetrics
	if i >= 0 {
		p = *m.pods[ns][i].DeepCopy()
	}
	m.mu.Unlock()
	if i < 0 {
		writeStatus(w, apierrors.NewNotFound(metricsv1beta1.Resource("pods"), name))
		return
	}
	p.TypeMeta = metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsv1beta1.SchemeGroupVersion.String()}
	writeJSON(w, http.StatusOK, p)
}

func (m *MetricsServer) listNodes(w http.ResponseWriter, r *http.Request) {
	ls, fs, err := selectors(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	list := metricsv1beta1.NodeMetricsList{
		TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: metricsv1beta1.SchemeGroupVersion.String()},
		Items:    []metricsv1beta1.NodeMetrics{},
	}
	m.mu.Lock()
	for _, n := range m.nodes {
		if matches(ls, fs, n.ObjectMeta) {
			list.Items = append(list.Items, *n.DeepCopy())
		}
	}
	m.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (m *MetricsServer) getNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	m.mu.Lock()
	i := slices.IndexFunc(m.nodes, func(n metricsv1beta1.NodeMetrics) bool { return n.Name == name })
	var n metricsv1beta1.NodeMetrics
	if i >= 0 {
		n = *m.nodes[i].DeepCopy()
	}
	m.mu.Unlock()
	if i < 0 {
		writeStatus(w, apierrors.NewNotFound(metricsv1beta1.Resource("nodes"), name))
		return
	}
	n.TypeMeta = metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsv1beta1.SchemeGroupVersion.String()}
	writeJSON(w, http.StatusOK, n)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus writes an API error as a metav1.Status, as API servers do.
func writeStatus(w http.ResponseWriter, err error) {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		se = apierrors.NewInternalError(err)
	}
	st := se.Status()
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	writeJSON(w, int(st.Code), st)
}
