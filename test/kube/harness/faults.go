package harness

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// FaultProxy is an HTTPS reverse proxy in front of the API server that fails
// chosen requests: it answers with an error status (409, 429, 500, …), delays
// them or drops the connection. Requests that match no fault pass through
// unchanged, with the caller's bearer token.
type FaultProxy struct {
	srv    *http.Server
	url    string
	ca     []byte
	target *Server

	mu     sync.Mutex
	faults []*Fault
	log    []ProxiedRequest
}

// Fault describes which requests to fail and how. A request matches when its
// HTTP method equals Method (any when empty) and its path, with the query
// string, contains PathContains. The first matching fault with hits left applies.
type Fault struct {
	Method       string // GET, PUT, PATCH, POST, DELETE; "" for any
	PathContains string // such as "/deployments/web/scale" or "labelSelector="
	// Times is how many matching requests fail; 0 means all of them.
	Times int

	// Status, when not 0, is returned with a metav1.Status body whose reason
	// matches the code (409 Conflict, 429 TooManyRequests, 500 InternalError,
	// 503 ServiceUnavailable, 504 Timeout), as the API server would send it.
	Status int
	// RetryAfter, when not 0, is sent as the Retry-After header; client-go
	// retries 429 and 5xx answers that carry it.
	RetryAfter time.Duration
	// Delay holds the request this long before answering or forwarding.
	Delay time.Duration
	// Drop closes the connection without an answer.
	Drop bool

	proxy *FaultProxy // guards hits
	hits  int
}

// Hits reports how many requests the fault has failed.
func (f *Fault) Hits() int {
	f.proxy.mu.Lock()
	defer f.proxy.mu.Unlock()
	return f.hits
}

// ProxiedRequest is one request that went through the proxy.
type ProxiedRequest struct {
	Method, Path string // Path includes the query string
	Fault        *Fault // nil when forwarded untouched
}

// FaultProxy starts a proxy in front of the server, stopped when the test ends.
func (s *Server) FaultProxy(t testing.TB) *FaultProxy {
	t.Helper()
	serving, err := s.serverCA.serving("fault-proxy", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := serving.tlsCertificate()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(s.url)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.serverCA.pool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 10,
	}
	rp.FlushInterval = -1 // stream watches
	p := &FaultProxy{url: "https://" + ln.Addr().String(), ca: s.serverCA.certPEM, target: s}
	p.srv = &http.Server{
		Handler:           p.handler(rp),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		// HTTP/1.1 only, so that Drop can hijack the connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go p.srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { p.srv.Close() })
	return p
}

// Inject adds a fault and returns it, so the test can read its Hits.
func (p *FaultProxy) Inject(f Fault) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp := &f
	fp.proxy, fp.hits = p, 0
	p.faults = append(p.faults, fp)
	return fp
}

// Clear removes all faults.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Requests returns the requests seen so far, oldest first.
func (p *FaultProxy) Requests() []ProxiedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// Config is an admin configuration that goes through the proxy.
func (p *FaultProxy) Config() *rest.Config {
	return p.Through(p.target.Config())
}

// Through returns a copy of cfg, which must authenticate with a bearer token,
// that sends its requests through the proxy.
func (p *FaultProxy) Through(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Host = p.url
	c.TLSClientConfig = rest.TLSClientConfig{CAData: p.ca}
	return c
}

// URL is the proxy's address.
func (p *FaultProxy) URL() string { return p.url }

func (p *FaultProxy) match(r *http.Request) *Fault {
	path := r.URL.RequestURI()
	p.mu.Lock()
	defer p.mu.Unlock()
	var hit *Fault
	for _, f := range p.faults {
		if (f.Method == "" || strings.EqualFold(f.Method, r.Method)) &&
			strings.Contains(path, f.PathContains) &&
			(f.Times == 0 || f.hits < f.Times) {
			f.hits++
			hit = f
			break
		}
	}
	p.log = append(p.log, ProxiedRequest{Method: r.Method, Path: path, Fault: hit})
	return hit
}

func (p *FaultProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := p.match(r)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
				return
			}
			panic(http.ErrAbortHandler) // aborts the response without an answer
		}
		if f.Status == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		writeStatus(w, injectedError(f.Status, r))
	})
}

// injectedError is the API error an API server would return with code.
func injectedError(code int, r *http.Request) error {
	gr := schema.GroupResource{Resource: r.URL.Path}
	const msg = "injected by the harness fault proxy"
	switch code {
	case http.StatusConflict:
		return apierrors.NewConflict(gr, "", errInjected(msg+": the object has been modified; please apply your changes to the latest version and try again"))
	case http.StatusTooManyRequests:
		return apierrors.NewTooManyRequests(msg, 0)
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errInjected(msg))
	case http.StatusServiceUnavailable:
		return apierrors.NewServiceUnavailable(msg)
	case http.StatusGatewayTimeout:
		return apierrors.NewTimeoutError(msg, 0)
	case http.StatusNotFound:
		return apierrors.NewNotFound(gr, "")
	case http.StatusForbidden:
		return apierrors.NewForbidden(gr, "", errInjected(msg))
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: int32(code), Message: msg, Reason: metav1.StatusReasonUnknown,
	}}
}

type errInjected string

func (e errInjected) Error() string { return string(e) }
