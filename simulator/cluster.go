package simulator

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/policy"
)

// batch is pods scheduled together, ready at the same time.
type batch struct {
	ready time.Time
	n     int
}

// simWorkload is a workload's state in the virtual cluster.
type simWorkload struct {
	spec     *policy.Workload
	pool     string
	replicas int32   // spec.replicas
	starting []batch // scheduled, not ready yet, by ready time
	ready    int
}

func (w *simWorkload) scheduled() int {
	n := w.ready
	for _, b := range w.starting {
		n += b.n
	}
	return n
}

func (w *simWorkload) pending() int { return int(w.replicas) - w.scheduled() }

// removeScheduled removes n scheduled pods: not-ready ones first (the
// newest first, as a ReplicaSet scales down) unless readyFirst (pods
// evicted from lost nodes were running).
func (w *simWorkload) removeScheduled(n int, readyFirst bool) {
	if readyFirst {
		k := min(n, w.ready)
		w.ready -= k
		n -= k
	}
	for n > 0 && len(w.starting) > 0 {
		b := &w.starting[len(w.starting)-1]
		k := min(n, b.n)
		b.n -= k
		n -= k
		if b.n == 0 {
			w.starting = w.starting[:len(w.starting)-1]
		}
	}
	k := min(n, w.ready)
	w.ready -= k
}

type simNode struct {
	zone  int
	ready time.Time
}

// simPool is a node pool's state.
type simPool struct {
	spec    policy.Pool
	desired int
	nodes   []simNode         // oldest first
	created int               // nodes ever created (round-robin zones)
	down    map[int]time.Time // zone → unavailable until (zero: for good)
}

func (p *simPool) readyNodes(now time.Time) int {
	// Nodes are created in time order with one lead time: the not-ready
	// ones are at the end.
	n := len(p.nodes)
	for n > 0 && p.nodes[n-1].ready.After(now) {
		n--
	}
	return n
}

func (p *simPool) zoneDown(z int, now time.Time) bool {
	until, ok := p.down[z]
	return ok && (until.IsZero() || now.Before(until))
}

// Cluster is the virtual cluster: it implements actuator.Actuator, so a
// policy drives it exactly as it drives a real one.
type Cluster struct {
	now       time.Time
	workloads []*simWorkload
	byTarget  map[policy.Target]int
	pools     []*simPool
	byPool    map[string]int
	dirty     bool
	actions   []int // changed actions per workload
	poolActs  []int // changed actions per pool
	// lastReady is the ready nodes per pool at the last settle.
	lastReady []int
	logging   bool
	log       []actuator.Action
	// shrunk is set when a pool's ready nodes decreased since the last
	// schedule: running pods may have lost their nodes.
	shrunk bool
}

var _ actuator.Actuator = (*Cluster)(nil)

func newCluster(in *Input, start time.Time, replicas []int32, poolNodes []int) *Cluster {
	c := &Cluster{now: start, byTarget: map[policy.Target]int{}, byPool: map[string]int{},
		actions: make([]int, len(in.Workloads)), poolActs: make([]int, len(in.Pools))}
	for i := range in.Pools {
		p := &simPool{spec: in.Pools[i], desired: poolNodes[i], down: map[int]time.Time{}}
		for range poolNodes[i] {
			p.nodes = append(p.nodes, simNode{zone: p.created % p.spec.Zones, ready: start})
			p.created++
		}
		c.pools = append(c.pools, p)
		c.byPool[p.spec.Name] = i
	}
	for i := range in.Workloads {
		w := &in.Workloads[i]
		c.workloads = append(c.workloads, &simWorkload{spec: &w.Spec, pool: w.Pool, replicas: replicas[i], ready: int(replicas[i])})
		c.byTarget[w.Spec.Target] = i
	}
	c.dirty = true
	c.settle()
	return c
}

// SetReplicas sets a workload's desired replicas; extra pods are created
// pending, removed pods are the pending ones first, then the not-ready.
func (c *Cluster) SetReplicas(_ context.Context, now time.Time, t policy.Target, replicas int32, reason string) (actuator.Action, error) {
	i, ok := c.byTarget[t]
	if !ok {
		return actuator.Action{}, fmt.Errorf("simulator: no workload %s", t)
	}
	w := c.workloads[i]
	a := actuator.Action{Time: now, Kind: actuator.KindReplicas, Target: t, From: int(w.replicas), To: int(replicas), Changed: w.replicas != replicas, Reason: reason}
	if !a.Changed {
		return a, nil
	}
	c.actions[i]++
	if c.logging {
		c.log = append(c.log, a)
	}
	w.replicas = replicas
	if extra := w.scheduled() - int(replicas); extra > 0 {
		w.removeScheduled(extra, false)
	}
	c.dirty = true
	return a, nil
}

// SetPoolSize sets a pool's desired size; the pool reconciles toward it.
func (c *Cluster) SetPoolSize(_ context.Context, now time.Time, pool string, nodes int, reason string) (actuator.Action, error) {
	i, ok := c.byPool[pool]
	if !ok {
		return actuator.Action{}, fmt.Errorf("simulator: no node pool %q", pool)
	}
	p := c.pools[i]
	a := actuator.Action{Time: now, Kind: actuator.KindPoolSize, Pool: pool, From: p.desired, To: nodes, Changed: p.desired != nodes, Reason: reason}
	if a.Changed {
		c.poolActs[i]++
		if c.logging {
			c.log = append(c.log, a)
		}
		p.desired = nodes
		c.dirty = true
	}
	return a, nil
}

// loseZone removes a pool's nodes in zone z, unavailable until until (zero: for good).
func (c *Cluster) loseZone(pool string, z int, until time.Time) {
	p := c.pools[c.byPool[pool]]
	p.down[z] = until
	c.lose(p, func(i int) bool { return p.nodes[i].zone == z }, -1)
}

// loseNodes removes a pool's n newest ready nodes.
func (c *Cluster) loseNodes(pool string, n int) {
	p := c.pools[c.byPool[pool]]
	c.lose(p, func(i int) bool { return !p.nodes[i].ready.After(c.now) }, n)
}

// lose removes up to limit (-1: all) of a pool's nodes matching, newest
// first, and kills the pods that ran on them. The cluster does not track
// which node each pod runs on; pods are taken as spread evenly over the
// ready nodes they may use (as the default scheduler's topology spreading
// tends to): each workload on the pool loses its running pods in the
// proportion of lost ready nodes to the ready nodes it may use. Killed pods
// are recreated pending and restart with their lead time.
func (c *Cluster) lose(p *simPool, match func(int) bool, limit int) {
	lostReady := 0
	for i := len(p.nodes) - 1; i >= 0 && limit != 0; i-- {
		if match(i) {
			if !p.nodes[i].ready.After(c.now) {
				lostReady++
			}
			p.nodes = append(p.nodes[:i], p.nodes[i+1:]...)
			limit--
		}
	}
	c.dirty = true
	if lostReady == 0 {
		return
	}
	for _, w := range c.workloads {
		if w.pool != "" && w.pool != p.spec.Name {
			continue
		}
		usable := 0
		for _, q := range c.pools {
			if w.pool == "" || q == p {
				usable += q.readyNodes(c.now)
			}
		}
		usable += lostReady // before the loss
		k := int(math.Round(float64(w.scheduled()) * float64(lostReady) / float64(usable)))
		w.removeScheduled(k, true)
	}
}

// settle brings the cluster to a consistent state at c.now: pools
// reconciled, nodes and pods ready, pods scheduled.
func (c *Cluster) settle() {
	now := c.now
	for _, p := range c.pools {
		for len(p.nodes) < p.desired {
			z, ok := -1, false
			for k := 0; k < p.spec.Zones; k++ {
				z = (p.created + k) % p.spec.Zones
				if !p.zoneDown(z, now) {
					ok = true
					p.created += k
					break
				}
			}
			if !ok {
				break
			}
			p.nodes = append(p.nodes, simNode{zone: z, ready: now.Add(p.spec.LeadTime)})
			p.created++
			c.dirty = true
		}
		// Scale down: not-ready nodes first (the newest), then the newest ready.
		for len(p.nodes) > p.desired {
			drop := len(p.nodes) - 1
			for i := len(p.nodes) - 1; i >= 0; i-- {
				if p.nodes[i].ready.After(now) {
					drop = i
					break
				}
			}
			p.nodes = append(p.nodes[:drop], p.nodes[drop+1:]...)
			c.dirty = true
		}
	}
	if len(c.pools) > 0 {
		ready := make([]int, len(c.pools))
		for i, p := range c.pools {
			ready[i] = p.readyNodes(now)
		}
		if !equalInts(ready, c.lastReady) {
			for i := range ready {
				if c.lastReady == nil || ready[i] < c.lastReady[i] {
					c.shrunk = true
				}
			}
			c.lastReady, c.dirty = ready, true
		}
	}
	if c.dirty {
		c.schedule()
		c.dirty = false
	}
	for _, w := range c.workloads {
		k := 0
		for _, b := range w.starting {
			if !b.ready.After(now) {
				w.ready += b.n
				k++
			} else {
				break
			}
		}
		w.starting = w.starting[k:]
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readyPools are the pools with their ready nodes as fixed sizes, for the
// packer, and each pool's index in it (-1: no ready node).
func (c *Cluster) readyPools() []policy.Pool {
	var out []policy.Pool
	for i, p := range c.pools {
		if c.lastReady[i] == 0 {
			continue
		}
		s := p.spec
		s.Min, s.Max, s.Headroom, s.Zones = c.lastReady[i], c.lastReady[i], policy.HeadroomNone, 1
		out = append(out, s)
	}
	return out
}

// unschedulable packs counts[w] pods of each workload onto the ready
// nodes and returns the pods per workload that do not fit.
func (c *Cluster) unschedulable(pools []policy.Pool, counts []int) []int {
	out := make([]int, len(counts))
	groups := make([]policy.PodGroup, len(counts))
	for i, w := range c.workloads {
		groups[i] = policy.PodGroup{Target: w.spec.Target, Request: w.spec.Request, Replicas: counts[i], Pool: w.pool}
	}
	any := false
	for _, n := range counts {
		any = any || n > 0
	}
	if !any {
		return out
	}
	if len(pools) == 0 {
		copy(out, counts)
		return out
	}
	plan, err := policy.PlanPools(pools, groups, 0)
	if err != nil {
		panic("simulator: packing: " + err.Error()) // inputs were validated
	}
	for _, u := range plan.Unschedulable {
		out[c.byTarget[u.Target]] += u.Pods
	}
	return out
}

// schedule binds pending pods to ready nodes with the policy package's
// packer. Running pods stay where they are unless their nodes are gone:
// the pods already scheduled are packed first and what no longer fits is
// evicted (running pods first: they were on the lost nodes) and becomes
// pending; then pending pods are added while they fit, workload by
// workload in plan order. Newly scheduled pods become ready after their
// workload's lead time.
func (c *Cluster) schedule() {
	now := c.now
	if len(c.pools) == 0 {
		for _, w := range c.workloads {
			if p := w.pending(); p > 0 {
				w.starting = append(w.starting, batch{now.Add(w.spec.LeadTime), p})
			}
		}
		return
	}
	pools := c.readyPools()
	defer func() { c.shrunk = false }()
	base := make([]int, len(c.workloads))
	pendingAny := false
	for i, w := range c.workloads {
		base[i] = w.scheduled()
		pendingAny = pendingAny || w.pending() > 0
	}
	if !c.shrunk {
		// Nothing lost: the running pods still fit.
	} else if u := c.unschedulable(pools, base); sum(u) > 0 {
		for i, w := range c.workloads {
			if u[i] > 0 {
				w.removeScheduled(u[i], true)
				base[i] -= u[i]
			}
		}
		pendingAny = true
	}
	if !pendingAny {
		return
	}
	all := make([]int, len(c.workloads))
	for i, w := range c.workloads {
		all[i] = int(w.replicas)
	}
	add := make([]int, len(c.workloads))
	if sum(c.unschedulable(pools, all)) == 0 {
		for i := range c.workloads {
			add[i] = all[i] - base[i]
		}
	} else {
		cur := append([]int(nil), base...)
		for i, w := range c.workloads {
			want := w.pending()
			if want <= 0 {
				continue
			}
			// The largest count of this workload's pending pods that fits.
			lo, hi := 0, want
			for lo < hi {
				mid := (lo + hi + 1) / 2
				cur[i] = base[i] + mid
				if sum(c.unschedulable(pools, cur)) == 0 {
					lo = mid
				} else {
					hi = mid - 1
				}
			}
			cur[i] = base[i] + lo
			add[i] = lo
		}
	}
	for i, w := range c.workloads {
		if add[i] > 0 {
			w.starting = append(w.starting, batch{now.Add(w.spec.LeadTime), add[i]})
		}
	}
}

func sum(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}
