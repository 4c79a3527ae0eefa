package integration_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/actuator"
)

var (
	staticOnce sync.Once
	staticPath string
	staticErr  error
)

// staticHeadroom builds cmd/headroom as the Dockerfile does (CGO_ENABLED=0,
// -trimpath, -s -w), once per test binary.
func staticHeadroom(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		dir, err := os.MkdirTemp("", "headroom-static-")
		if err != nil {
			staticErr = err
			return
		}
		staticPath = filepath.Join(dir, "headroom")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=image-test", "-o", staticPath, "./cmd/headroom")
		cmd.Dir = "../../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = errors.New("CGO_ENABLED=0 go build ./cmd/headroom: " + err.Error() + "\n" + string(out))
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticPath
}

// TestImageBinaryStatic: the image's binary runs on distroless/static (no
// libc, no loader): no PT_INTERP program header and no DT_NEEDED library.
func TestImageBinaryStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: not in -short")
	}
	f, err := elf.Open(staticHeadroom(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) != 0 {
		t.Fatalf("the binary needs shared libraries %v", libs)
	}
	out, err := exec.Command(staticPath, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "image-test") {
		t.Fatalf("headroom version: %s, %v", out, err)
	}
}

// TestDeployRunCycle runs the whole headroom run cycle (the image's static
// binary) with the shipped RBAC only: a kubeconfig holding the token of
// deploy/'s ServiceAccount headroom/headroom, the Lease in the headroom
// namespace as the CronJob has it ($POD_NAMESPACE). Collection, planning,
// the scale of web (2 → 4, as in TestRunEndToEnd), its Event and
// annotation, the convergence check of the second run and the Lease all
// go through; nothing is forbidden.
func TestDeployRunCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: not in -short")
	}
	s := kube.Server(t)
	cfg := applyDeploy(t, s)
	ns := s.Namespace(t)
	m := s.MetricsAPI(t)
	c := s.Client()
	m.SetPodMetrics(ns, makeRunWorkloads(t, c, ns, []runWorkload{
		{name: "web", replicas: 2, pods: 2, cpu: "500m"},
		{name: "api", replicas: 2, pods: 2, cpu: "100m"},
	}))
	dir := t.TempDir()
	db := filepath.Join(dir, "headroom.db")
	seedHistory(t, db, ns, map[string]float64{"web": 1, "api": 0.2})
	body := runPlanYAML(ns, db, map[string][2]int{"web": {1, 10}, "api": {2, 10}})
	body = strings.Replace(body, "lease: {namespace: "+ns+",", "lease: {namespace: headroom, name: headroom-"+ns+",", 1)
	plan := writeRunPlan(t, dir, body)
	kc := kubeconfig(t, cfg)

	run := func() (int, runJSON, string) {
		cmd := exec.Command(staticHeadroom(t), "run", "--config", plan, "--kubeconfig", kc, "-o", "json")
		cmd.Env = append(os.Environ(), "POD_NAME=headroom-run-test")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var doc runJSON
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("run output: %v\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		}
		return code, doc, errOut.String()
	}
	for i := range 2 {
		code, doc, stderr := run()
		if code != 0 || strings.Contains(stderr, "forbidden") || doc.Skipped != "" {
			t.Fatalf("run %d as headroom: exit %d, skipped %q\n%s", i+1, code, doc.Skipped, stderr)
		}
		wantWeb := "scaled"
		if i == 1 {
			wantWeb = "unchanged"
		}
		if o, d, note := doc.outcome("web"); o != wantWeb || d != 4 {
			t.Fatalf("run %d: web %s to %d (%s)\n%s", i+1, o, d, note, stderr)
		}
	}
	if n, _ := deploymentReplicas(t, c, ns, "web"); n != 4 {
		t.Fatalf("web replicas %d, want 4", n)
	}
	evs := events(t, c, ns, "Deployment", "web")
	if len(evs) == 0 || evs[0].Reason != actuator.EventScaled {
		t.Fatalf("web events %+v", evs)
	}
	le, err := c.CoordinationV1().Leases("headroom").Get(ctx, "headroom-"+ns, metav1.GetOptions{})
	if err != nil || le.Spec.HolderIdentity != nil {
		t.Fatalf("lease after the runs: %+v, %v", le, err)
	}
}
