package integration_test

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
// (The whole run cycle with deploy/'s RBAC is TestRunWithShippedRBAC.)
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
