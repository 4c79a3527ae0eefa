package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// process is a child of the test binary in its own process group. It is
// killed with its whole group on Stop, and by the kernel (Pdeathsig) if the
// test binary dies first, for example on a go test timeout.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // exit status, valid after done
}

// spawnRequests carries exec.Cmd starts to one goroutine locked to its OS
// thread for the life of the test binary: Pdeathsig fires when the thread
// that forked the child exits, so the children are started from a thread
// that never does.
var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	errc chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the binary
			for r := range spawnRequests {
				r.errc <- r.cmd.Start()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnRequests <- spawnRequest{cmd: cmd, errc: errc}
	return <-errc
}

// startProcess runs path with args, its output appended to logPath.
func startProcess(name, logPath, path string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// childEnv is the test's environment without proxy settings: every address
// the children talk to is on the loopback interface.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := bytes.Cut([]byte(kv), []byte("=")); string(bytes.ToUpper(k)) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits until the process has been reaped and its group is empty.
func (p *process) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	pgid := p.cmd.Process.Pid // Setpgid: the group id is the leader's pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The leader is gone; kill anything it may have left in its group.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s process group %d: %w", p.name, pgid, err)
	}
	return nil
}

// logTail returns the last n bytes of the process's log.
func (p *process) logTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// reaperScript waits for the test binary ($1) to exit, then kills the process
// groups listed in $2/pgids and removes $2. Stop kills it first when it
// cleans up itself; it acts only when the test binary dies without cleaning
// up (a panic, a go test -timeout, SIGKILL).
const reaperScript = `while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
if [ -f "$2/pgids" ]; then for g in $(cat "$2/pgids"); do kill -KILL -- "-$g" 2>/dev/null; done; fi
rm -rf "$2"`

// startReaper starts the watcher of dir. Unlike etcd and kube-apiserver it
// must outlive the test binary, so it has no Pdeathsig; its output goes to
// /dev/null so that go test does not wait for it.
func startReaper(dir string) (*process, error) {
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "headroom-harness-reaper", strconv.Itoa(os.Getpid()), dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	p := &process{name: "reaper", cmd: cmd, logPath: os.DevNull, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// recordGroup appends a process group id to dir/pgids for the reaper.
func recordGroup(dir string, p *process) error {
	f, err := os.OpenFile(filepath.Join(dir, "pgids"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, p.cmd.Process.Pid)
	return errors.Join(err, f.Close())
}
