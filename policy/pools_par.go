package policy

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// minParallelNodes is the pool size from which a pool's headroom checks
// run on several goroutines: a check then costs tens of microseconds or
// more, far above starting a goroutine.
var minParallelNodes = 256

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

// minParallelPods is the number of pods from which PlanPools packs the
// zones of its pools on several goroutines (packZones).
var minParallelPods = 4096

// zoneItem is one group's share of a zone (place's first pass): key orders
// the items of all zones as the sequential packing takes them (by the
// group's place in the packing order, then by the zone's turn in place).
type zoneItem struct {
	key, g, share int
}

// packZones packs the groups in order as PlanPools' sequential loop does
// when no pool reaches its maximum size: every group's pods onto its pick
// (pick(p) for the group at place p in order: a pool, or below 0 a reason
// unplaced turns into an Unschedulable), spread over the zones as place spreads them, each
// zone's share first fit in that zone. Then no group's choice depends on
// the packing, and the zones pack independently: on up to GOMAXPROCS
// goroutines, each on its zone's tree and a node list of its own, the nodes
// numbered afterwards in the order the sequential loop opens them. It
// reports false, *unsched untouched and the packers possibly spoiled (the
// caller starts again), when a pool would go over its maximum or a share
// did not fit (the sequential loop spills then), without packing when the
// pods' requests alone exceed a pool's maximum; with one proc it does not
// try.
func packZones(packers []*packer, groups []PodGroup, order []int, pick func(p int) int, unplaced func(g, pick int) Unschedulable, unsched *[]Unschedulable) bool {
	if runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	type task struct {
		pool, zone int
		items      []zoneItem
		sub        *packer
		first      int   // the zone's nodes before the packing
		keys       []int // of each node opened, from first on
		ok         bool
		own        freeTree // sub's own tree, given back on release
	}
	var tasks []task
	defer func() {
		for _, tk := range tasks {
			if tk.sub != nil {
				tk.sub.zones[tk.zone].tree, tk.sub.keys = tk.own, tk.keys
				tk.sub.release()
			}
		}
	}()
	// Each group's pool, then its shares of the zones, in one array per
	// pool (kept with the packer), zone after zone.
	var out []Unschedulable
	counts := make([][]int, len(packers)) // per pool, items per zone, then offsets
	for i, k := range packers {
		counts[i] = make([]int, len(k.zones)+1)
	}
	// What each pool's pods request in all: a pool that needs more than its
	// maximum by that bound alone fails for sure, so no packing is tried.
	need := make([]Resources, len(packers))
	slots := make([]int, len(packers))
	for p, g := range order {
		i := pick(p)
		if i < 0 {
			out = append(out, unplaced(g, i))
			continue
		}
		n := groups[g].Replicas
		need[i] = need[i].Add(groups[g].Request.Scale(float64(n)))
		slots[i] += n
		k := packers[i]
		if max(need[i].CPU/k.alloc.CPU, need[i].Memory/k.alloc.Memory, float64(slots[i])/float64(k.pool.Pods)) > float64(k.pool.Max)+0.5 {
			return false
		}
		nz := len(k.zones)
		for j := range min(nz, n) {
			counts[i][(g+j)%nz+1]++
		}
	}
	for i, k := range packers {
		c := counts[i]
		for z := 1; z < len(c); z++ {
			c[z] += c[z-1]
		}
		k.items = slices.Grow(k.items[:0], c[len(c)-1])[:c[len(c)-1]]
	}
	for p, g := range order {
		i := pick(p)
		if i < 0 {
			continue
		}
		count, nz := groups[g].Replicas, len(packers[i].zones)
		for j := range min(nz, count) {
			share := count / nz
			if j < count%nz {
				share++
			}
			z := (g + j) % nz
			packers[i].items[counts[i][z]] = zoneItem{p*nz + j, g, share}
			counts[i][z]++
		}
	}
	// counts[i][z] is now where zone z's items end.
	for i, k := range packers {
		for z := range k.zones {
			lo := 0
			if z > 0 {
				lo = counts[i][z-1]
			}
			if lo < counts[i][z] {
				tasks = append(tasks, task{pool: i, zone: z, items: k.items[lo:counts[i][z]]})
			}
		}
	}
	// Each task packs its zone's tree in place and its nodes in a list of
	// its own (the zone's nodes so far first: the minimum's).
	// A task stops when another failed or its pool's opened nodes go over
	// the maximum.
	var failed atomic.Bool
	opened := make([]atomic.Int64, len(packers))
	forEach(len(tasks), true, func(t int) {
		tk := &tasks[t]
		k := packers[tk.pool]
		zb := &k.zones[tk.zone]
		sub := emptyPacker(k.pool)
		sz := &sub.zones[tk.zone]
		for leaf, i := range zb.nodes {
			sub.nodes = append(sub.nodes, k.nodes[i])
			sz.nodes = append(sz.nodes, leaf)
		}
		tk.own, sz.tree = sz.tree, zb.tree
		tk.keys = sub.keys[:0]
		tk.sub, tk.first = sub, len(sub.nodes)
		room := int64(k.pool.Max - len(k.nodes))
		for _, it := range tk.items {
			before := len(sub.nodes)
			if failed.Load() || sub.placeIn(tk.zone, it.g, groups[it.g].Request, it.share) != it.share {
				failed.Store(true)
				return
			}
			if n := len(sub.nodes) - before; n > 0 {
				if opened[tk.pool].Add(int64(n)) > room {
					failed.Store(true)
					return
				}
				for range n {
					tk.keys = append(tk.keys, it.key)
				}
			}
		}
		tk.ok = true
	})
	added := make([]int, len(packers))
	ok := true
	for _, tk := range tasks {
		ok = ok && tk.ok
		added[tk.pool] += len(tk.keys)
	}
	for i, k := range packers {
		ok = ok && len(k.nodes)+added[i] <= k.pool.Max
	}
	if !ok {
		return false
	}
	// Merge each pool's zones: the nodes they had take their packed state,
	// the opened ones come in key order (no two zones share a key).
	for lo := 0; lo < len(tasks); {
		hi := lo
		for hi < len(tasks) && tasks[hi].pool == tasks[lo].pool {
			hi++
		}
		k, zt := packers[tasks[lo].pool], tasks[lo:hi]
		for _, tk := range zt {
			for leaf, i := range k.zones[tk.zone].nodes {
				k.nodes[i] = tk.sub.nodes[leaf]
			}
		}
		k.nodes = slices.Grow(k.nodes, added[tasks[lo].pool])
		next := make([]int, len(zt))
		for {
			m := -1
			for j, tk := range zt {
				if next[j] < len(tk.keys) && (m < 0 || tk.keys[next[j]] < zt[m].keys[next[m]]) {
					m = j
				}
			}
			if m < 0 {
				break
			}
			tk := &zt[m]
			nd := tk.sub.nodes[tk.first+next[m]]
			zb := &k.zones[tk.zone]
			zb.nodes = append(zb.nodes, len(k.nodes))
			k.nodes = append(k.nodes, nd)
			next[m]++
		}
		for _, tk := range zt {
			k.zones[tk.zone].tree = tk.sub.zones[tk.zone].tree
		}
		lo = hi
	}
	*unsched = append(*unsched, out...)
	return true
}
