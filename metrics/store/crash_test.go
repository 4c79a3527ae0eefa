package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

const (
	crashEnv   = "HEADROOM_STORE_CRASH_DB"
	crashBatch = 20_000
)

func crashKey(i int) metrics.Key {
	return metrics.Key{Workload: metrics.Workload{Kind: "Deployment", Namespace: "crash", Name: strconv.Itoa(i % 5)}, Resource: metrics.CPU}
}

func crashStart(i int) time.Time { return t0.Add(time.Duration(i*crashBatch) * time.Second) }

// TestCrashChild is the writer that TestKillDuringWrite runs in a subprocess and kills: it writes batches
// of crashBatch samples forever and prints "committed i" after each commit.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestKillDuringWrite")
	}
	s, err := Open(path, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		b := batch(crashKey(i), crashStart(i), time.Second, crashBatch, func(j int) float64 { return float64(i) })
		if _, err := s.Write(ctx, b, t0); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", i)
	}
}

// TestKillDuringWrite kills a writing process with SIGKILL at a random point of a write, a few times over,
// and checks that every batch it reported committed is complete, that no batch is half there, and that the
// database passes SQLite's integrity check.
func TestKillDuringWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writers")
	}
	path := tempDB(t)
	committed := -1
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		seen := 0
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("round %d: child: %s", round, line)
			}
			if n, ok := strings.CutPrefix(line, "committed "); ok {
				committed, _ = strconv.Atoi(n)
				if seen++; seen == 4+round {
					// The child is now inside its next write: let it run a little, then kill it.
					time.Sleep(time.Duration(3+7*round) * time.Millisecond)
					cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		cmd.Wait()
		if seen < 4+round {
			t.Fatalf("round %d: child stopped after %d commits", round, seen)
		}
		// The store opens, is intact, and holds every reported batch completely.
		s, err := Open(path, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		if err := s.Check(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := 0; i <= committed+1; i++ {
			pts, err := s.Read(ctx, crashKey(i), crashStart(i), crashStart(i+1))
			if err != nil && i <= committed {
				t.Fatalf("round %d batch %d: %v", round, i, err)
			}
			if n := len(pts); (i <= committed && n != crashBatch) || (n != 0 && n != crashBatch) {
				t.Fatalf("round %d: batch %d has %d of %d samples (last reported commit %d)", round, i, n, crashBatch, committed)
			}
		}
		s.Close()
		t.Logf("round %d: killed after commit %d; all committed batches intact", round, committed)
	}
}
