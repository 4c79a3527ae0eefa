package policy

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// minParallelNodes is the pool size from which a pool's headroom checks
// run on several goroutines: a check then costs tens of microseconds or
// more, far above starting a goroutine.
const minParallelNodes = 256

// firstFailing returns the least i in [0, n) for which ok(sv, i) is false,
// or -1, each check given its goroutine's scratch sv. With par, the checks
// run on up to GOMAXPROCS goroutines that take i in increasing order and
// stop at a failure already found below: every i under the result has been
// checked, so the result is the sequential one for any GOMAXPROCS.
func firstFailing(n int, par bool, ok func(sv *survival, i int) bool) int {
	procs := min(n, runtime.GOMAXPROCS(0))
	if !par || procs < 2 {
		sv := survivals.Get().(*survival)
		defer survivals.Put(sv)
		for i := range n {
			if !ok(sv, i) {
				return i
			}
		}
		return -1
	}
	var next, fail atomic.Int64
	fail.Store(int64(n))
	work := func() {
		sv := survivals.Get().(*survival)
		defer survivals.Put(sv)
		for {
			i := next.Add(1) - 1
			if i >= int64(n) || i > fail.Load() {
				return
			}
			if !ok(sv, int(i)) {
				for f := fail.Load(); i < f && !fail.CompareAndSwap(f, i); f = fail.Load() {
				}
			}
		}
	}
	var wg sync.WaitGroup
	for range procs - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	if f := int(fail.Load()); f < n {
		return f
	}
	return -1
}

// forEach calls f(i) for every i in [0, n): with par, on up to GOMAXPROCS
// goroutines (f must then touch only state of its own i).
func forEach(n int, par bool, f func(i int)) {
	procs := min(n, runtime.GOMAXPROCS(0))
	if !par || procs < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
			f(int(i))
		}
	}
	var wg sync.WaitGroup
	for range procs - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}
