package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configures a test control plane. The zero value is ready to use.
type Options struct {
	// APIServer is the kube-apiserver binary. Empty means $HEADROOM_KUBE_APISERVER,
	// else test/kube/bin/kube-apiserver of this repository.
	APIServer string
	// Etcd is the etcd binary. Empty means $HEADROOM_ETCD, else etcd on $PATH.
	Etcd string
	// LogDir keeps the etcd and kube-apiserver logs after Stop. Empty means
	// $HEADROOM_KUBE_LOG_DIR, else the logs go to the temporary directory and
	// are removed with it.
	LogDir string
	// StartTimeout bounds the wait for etcd and for /readyz. Zero means 2 minutes.
	StartTimeout time.Duration
	// ExtraArgs are appended to the kube-apiserver command line
	// (a later --flag=value overrides an earlier one).
	ExtraArgs []string
}

// ErrMissingBinary is wrapped by Start's error when etcd or kube-apiserver
// cannot be found.
var ErrMissingBinary = errors.New("harness: binary not found")

// Server is a running etcd and kube-apiserver pair on loopback ports.
type Server struct {
	dir        string // temporary directory, removed by Stop
	url        string // https://127.0.0.1:port
	etcdURL    string
	adminToken string
	serverCA   *authority // signs the API server's serving certificate
	clientCA   *authority // --client-ca-file: client certificates for UserConfig
	proxyCA    *authority // --requestheader-client-ca-file: the front proxy
	etcd       *process
	apiserver  *process
	reaper     *process // cleans up if the test binary dies without Stop

	// StartDuration is how long Start took, from launching etcd to /readyz.
	StartDuration time.Duration

	installMu sync.Mutex      // serialises the installs of the metrics API and CRDs
	metrics   *MetricsServer  // installed on first use
	crds      map[string]bool // names of installed CRDs

	mu  sync.Mutex
	seq int // for unique names
}

// AdminUser is the user name of Config's bearer token (group system:masters).
const AdminUser = "harness-admin"

// ServiceClusterIPRange is the --service-cluster-ip-range of the test server.
const ServiceClusterIPRange = "10.96.0.0/16"

// Start launches etcd and kube-apiserver and waits until /readyz answers ok.
// On error nothing is left running and the temporary directory is removed.
func Start(opts Options) (*Server, error) {
	apiserverBin, etcdBin, err := findBinaries(opts)
	if err != nil {
		return nil, err
	}
	sweepStaleDirs()
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	// Free ports are found by listening on :0 and closing; another process
	// can take one before we use it, so a start that fails to bind is retried.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(opts, apiserverBin, etcdBin, timeout)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func findBinaries(opts Options) (apiserver, etcd string, err error) {
	apiserver = firstNonEmpty(opts.APIServer, os.Getenv("HEADROOM_KUBE_APISERVER"), defaultAPIServerPath())
	if st, err := os.Stat(apiserver); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", "", fmt.Errorf("%w: kube-apiserver at %s (build it with `make kube-bin` in the repository root)", ErrMissingBinary, apiserver)
	}
	etcd = firstNonEmpty(opts.Etcd, os.Getenv("HEADROOM_ETCD"), "etcd")
	path, lerr := exec.LookPath(etcd)
	if lerr != nil {
		return "", "", fmt.Errorf("%w: etcd (%v; install it with `apt-get install -y etcd-server`)", ErrMissingBinary, lerr)
	}
	return apiserver, path, nil
}

// defaultAPIServerPath is test/kube/bin/kube-apiserver, found from this
// source file's location, or else (a -trimpath build) from the working
// directory upwards to the test/kube module's root.
func defaultAPIServerPath() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return filepath.Join(filepath.Dir(file), "..", "bin", "kube-apiserver")
	}
	dir, err := os.Getwd()
	for err == nil {
		data, rerr := os.ReadFile(filepath.Join(dir, "go.mod"))
		if rerr == nil && strings.HasPrefix(string(data), "module "+modulePath+"\n") {
			return filepath.Join(dir, "bin", "kube-apiserver")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return filepath.Join("bin", "kube-apiserver")
}

// modulePath is the path of the test/kube module.
const modulePath = "github.com/headroom-dev/headroom/test/kube"

func start(opts Options, apiserverBin, etcdBin string, timeout time.Duration) (_ *Server, err error) {
	began := time.Now()
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid()))); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{dir: dir, crds: map[string]bool{}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.reaper, err = startReaper(dir); err != nil {
		return nil, err
	}
	logDir := firstNonEmpty(opts.LogDir, os.Getenv("HEADROOM_KUBE_LOG_DIR"), dir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	if err := s.startEtcd(ctx, etcdBin, logDir); err != nil {
		return nil, err
	}
	if err := s.startAPIServer(ctx, apiserverBin, logDir, opts.ExtraArgs); err != nil {
		return nil, err
	}
	s.StartDuration = time.Since(began)
	return s, nil
}

func (s *Server) startEtcd(ctx context.Context, bin, logDir string) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s.etcdURL = client
	s.etcd, err = startProcess("etcd", filepath.Join(logDir, "etcd.log"), bin,
		"--name=harness",
		"--data-dir="+filepath.Join(s.dir, "etcd"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=harness="+peer,
		"--initial-cluster-state=new",
		"--logger=zap",
		"--log-level=warn",
		// Test data: keep etcd small and quick.
		"--quota-backend-bytes=1073741824",
		"--snapshot-count=100000",
		"--auto-compaction-retention=1",
	)
	if err != nil {
		return err
	}
	if err := recordGroup(s.dir, s.etcd); err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	return s.waitFor(ctx, s.etcd, "etcd /health", func() bool {
		resp, err := hc.Get(client + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (s *Server) startAPIServer(ctx context.Context, bin, logDir string, extra []string) error {
	var err error
	if s.serverCA, err = newAuthority("harness-server-ca"); err != nil {
		return err
	}
	if s.clientCA, err = newAuthority("harness-client-ca"); err != nil {
		return err
	}
	if s.proxyCA, err = newAuthority("harness-front-proxy-ca"); err != nil {
		return err
	}
	serving, err := s.serverCA.serving("kube-apiserver", "127.0.0.1", "localhost",
		"kubernetes", "kubernetes.default", "kubernetes.default.svc")
	if err != nil {
		return err
	}
	proxyClient, err := s.proxyCA.client(frontProxyUser)
	if err != nil {
		return err
	}
	saKey, err := rsaKeyPEM()
	if err != nil {
		return err
	}
	s.adminToken = randomToken()
	pki := filepath.Join(s.dir, "pki")
	if err := os.Mkdir(pki, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{
		"serving.crt":            serving.certPEM,
		"serving.key":            serving.keyPEM,
		"client-ca.crt":          s.clientCA.certPEM,
		"front-proxy-ca.crt":     s.proxyCA.certPEM,
		"front-proxy-client.crt": proxyClient.certPEM,
		"front-proxy-client.key": proxyClient.keyPEM,
		"sa.key":                 saKey,
		// token,user,uid,"group1,group2"
		"tokens.csv": fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", s.adminToken, AdminUser, AdminUser),
	}
	for name, data := range files {
		if err := writeFile(filepath.Join(pki, name), data); err != nil {
			return err
		}
	}
	f := func(name string) string { return filepath.Join(pki, name) }
	port, err := freePorts(1)
	if err != nil {
		return err
	}
	s.url = fmt.Sprintf("https://127.0.0.1:%d", port[0])
	args := []string{
		"--etcd-servers=" + s.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port[0]),
		"--cert-dir=" + filepath.Join(s.dir, "certs"),
		"--tls-cert-file=" + f("serving.crt"),
		"--tls-private-key-file=" + f("serving.key"),
		"--client-ca-file=" + f("client-ca.crt"),
		"--token-auth-file=" + f("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f("sa.key"),
		"--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		// The aggregation layer: the API server proxies to extension API
		// servers (metrics.k8s.io) with this client certificate and the
		// caller's identity in X-Remote-* headers.
		"--requestheader-client-ca-file=" + f("front-proxy-ca.crt"),
		"--requestheader-allowed-names=" + frontProxyUser,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + f("front-proxy-client.crt"),
		"--proxy-client-key-file=" + f("front-proxy-client.key"),
		// 127.0.0.1 is not a valid endpoint for the "kubernetes" Service.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=1",
	}
	args = append(args, extra...)
	s.apiserver, err = startProcess("kube-apiserver", filepath.Join(logDir, "kube-apiserver.log"), bin, args...)
	if err != nil {
		return err
	}
	if err := recordGroup(s.dir, s.apiserver); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(s.Config())
	if err != nil {
		return err
	}
	if err := s.waitFor(ctx, s.apiserver, "kube-apiserver /readyz", func() bool {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok"
	}); err != nil {
		return err
	}
	// The system namespaces are created by a post-start hook that /readyz
	// does not wait for.
	return s.waitFor(ctx, s.apiserver, "namespace kube-system", func() bool {
		_, err := cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
		return err == nil
	})
}

const frontProxyUser = "front-proxy-client"

// waitFor polls ok until it returns true, the process exits or ctx ends.
func (s *Server) waitFor(ctx context.Context, p *process, what string, ok func() bool) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("harness: %s exited (%v) while waiting for %s; log %s ends:\n%s", p.name, p.err, what, p.logPath, p.logTail(4000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: waiting for %s: %w; log %s ends:\n%s", what, ctx.Err(), p.logPath, p.logTail(4000))
		case <-tick.C:
		}
	}
}

// Stop ends kube-apiserver and etcd with their process groups and removes the
// temporary directory. It is safe to call more than once.
func (s *Server) Stop() error {
	errs := []error{s.apiserver.stop(15 * time.Second)}
	// The metrics server goes after the API server, which polls it until the end.
	s.installMu.Lock()
	if s.metrics != nil {
		s.metrics.close()
		s.metrics = nil
	}
	s.installMu.Unlock()
	errs = append(errs, s.etcd.stop(10*time.Second), s.reaper.stop(0))
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// next returns a number unique within the server, for object names.
func (s *Server) next() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

// URL is the API server's address, https://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// Dir is the server's temporary directory (removed by Stop).
func (s *Server) Dir() string { return s.dir }

// PIDs returns the process ids of etcd and kube-apiserver.
func (s *Server) PIDs() (etcd, apiserver int) {
	return s.etcd.cmd.Process.Pid, s.apiserver.cmd.Process.Pid
}

// CAData is the PEM certificate of the CA that signed the API server's
// serving certificate.
func (s *Server) CAData() []byte { return s.serverCA.certPEM }

// Config returns a new admin configuration (bearer token, system:masters).
func (s *Server) Config() *rest.Config {
	return s.TokenConfig(s.adminToken)
}

// TokenConfig returns a configuration that authenticates with a bearer token.
func (s *Server) TokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            s.url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.serverCA.certPEM},
		QPS:             -1, // no client-side rate limit in tests
		Timeout:         30 * time.Second,
	}
}

// Client is an admin clientset.
func (s *Server) Client() kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(s.Config())
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

const (
	tempPrefix = "headroom-kube-"
	ownerFile  = "owner.pid"
)

// sweepStaleDirs removes temporary directories left by test binaries that
// were killed before they could clean up (their children were killed by
// Pdeathsig; only the files remain).
func sweepStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// RSS returns the resident memory of etcd and kube-apiserver in bytes, read
// from /proc (Linux).
func (s *Server) RSS() (etcd, apiserver int64, err error) {
	e, err1 := rssOf(s.etcd.cmd.Process.Pid)
	a, err2 := rssOf(s.apiserver.cmd.Process.Pid)
	return e, a, errors.Join(err1, err2)
}

func rssOf(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
