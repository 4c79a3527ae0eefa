package harness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RequireEnv names the environment variable that turns a missing etcd or
// kube-apiserver from a skip into a failure. CI sets it to 1.
const RequireEnv = "HEADROOM_REQUIRE_KUBE"

// Shared is one control plane for all the tests of a package. Declare it as
// a package variable, call Run from TestMain and Server from each test.
type Shared struct {
	opts Options
	srv  *Server
	err  error // why there is no server
}

// NewShared returns a Shared that Run starts with opts.
func NewShared(opts Options) *Shared { return &Shared{opts: opts} }

// Run starts the server, runs the tests and stops the server; its result is
// the exit code for os.Exit. When the binaries are missing the tests still
// run, and Server skips (or fails) each of them with the reason.
// SIGINT and SIGTERM stop the server before the binary exits.
func (sh *Shared) Run(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse() // m.Run would; testing.Verbose needs it first
	}
	sh.srv, sh.err = Start(sh.opts)
	if sh.srv != nil {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			sig, ok := <-sigs
			if !ok {
				return
			}
			sh.srv.Stop()
			fmt.Fprintf(os.Stderr, "harness: stopped the test server on %v\n", sig)
			os.Exit(1)
		}()
		defer func() {
			signal.Stop(sigs)
			close(sigs)
		}()
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "harness: kube-apiserver %s ready in %v\n", sh.srv.URL(), sh.srv.StartDuration.Round(1e6))
		}
	}
	code := m.Run()
	if sh.srv != nil {
		if testing.Verbose() {
			if e, a, err := sh.srv.RSS(); err == nil {
				fmt.Fprintf(os.Stderr, "harness: resident memory after the tests: kube-apiserver %d MiB, etcd %d MiB\n", a>>20, e>>20)
			}
		}
		if err := sh.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "harness: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Server returns the shared server. Without one it skips the test, or fails it
// when the binaries are missing and HEADROOM_REQUIRE_KUBE=1, or when the
// server could not start for another reason.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	if sh.srv != nil {
		return sh.srv
	}
	err := sh.err
	if err == nil {
		err = errors.New("harness: Shared.Run was not called from TestMain")
	}
	if errors.Is(err, ErrMissingBinary) && !Required() {
		t.Skipf("integration test skipped: %v (set %s=1 to make this a failure)", err, RequireEnv)
	}
	t.Fatalf("integration test server: %v", err)
	return nil
}

// Required reports whether HEADROOM_REQUIRE_KUBE asks for the integration
// tests to fail, rather than skip, without binaries.
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh namespace for the test, named after it, with the
// "default" ServiceAccount that the (absent) controller-manager would create.
// The namespace is left in place: nothing would finalise its deletion, and
// the whole server goes at the end of the package's tests.
func (s *Server) Namespace(t testing.TB) string {
	t.Helper()
	n := s.next()
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	name = fmt.Sprintf("%s-%d", name, n)
	ctx := context.Background()
	cs := s.Client()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"headroom.dev/test": "true"},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create default service account in %s: %v", name, err)
	}
	return name
}
