package simulator

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/policy"
)

// simPod is a scheduled pod: bound to a node, ready from a time on.
type simPod struct {
	node  *simNode // nil when the simulation has no pools (unlimited room)
	ready int64    // Unix nanoseconds
}

// simWorkload is a workload's state in the virtual cluster.
type simWorkload struct {
	spec *policy.Workload
	pool string
	// prefs are the pools its pods may use, in order of preference.
	prefs    []int
	replicas int32 // spec.replicas
	// pods are the scheduled pods in order of ready time (pods are bound in
	// time order and share the lead time): pods[:ready] are ready.
	pods  []simPod
	ready int
}

func (w *simWorkload) pending() int { return max(int(w.replicas)-len(w.pods), 0) }

// removeNewest deletes the n newest pods (the not-ready first, as a
// ReplicaSet scales down), freeing their nodes.
func (w *simWorkload) removeNewest(n int) {
	n = min(n, len(w.pods))
	for _, p := range w.pods[len(w.pods)-n:] {
		if p.node != nil {
			p.node.release(w.spec.Request)
		}
	}
	w.pods = w.pods[:len(w.pods)-n]
	w.ready = min(w.ready, len(w.pods))
}

// removeOn deletes the pods bound to nodes that are gone and returns how many.
func (w *simWorkload) removeOn() int {
	k, readyLost := 0, 0
	for j, p := range w.pods {
		if p.node != nil && p.node.gone {
			if j < w.ready {
				readyLost++
			}
			continue
		}
		w.pods[k] = p
		k++
	}
	lost := len(w.pods) - k
	w.pods = w.pods[:k]
	w.ready -= readyLost
	return lost
}

type simNode struct {
	pool     int // index of its pool
	zone     int
	ready    int64 // Unix nanoseconds
	free     policy.Resources
	freePods int
	alloc    policy.Resources
	gone     bool
	// unneeded is when the reactive node autoscaler first found the node
	// unneeded (0: it is needed).
	unneeded int64
}

func (n *simNode) fits(r policy.Resources) bool { return n.freePods > 0 && r.Fits(n.free) }

func (n *simNode) take(r policy.Resources) { n.free, n.freePods = n.free.Sub(r), n.freePods-1 }

func (n *simNode) release(r policy.Resources) { n.free, n.freePods = n.free.Add(r), n.freePods+1 }

// usedShare is the larger of the node's requested CPU and memory shares.
func (n *simNode) usedShare() float64 {
	return max(1-n.free.CPU/n.alloc.CPU, 1-n.free.Memory/n.alloc.Memory)
}

// simPool is a node pool's state.
type simPool struct {
	spec    policy.Pool
	alloc   policy.Resources
	desired int
	nodes   []*simNode        // in creation order: the not-ready ones last
	created int               // nodes ever created (round-robin zones)
	down    map[int]time.Time // zone → unavailable until (zero: for good)
}

func (p *simPool) readyNodes(now int64) int {
	n := len(p.nodes)
	for n > 0 && p.nodes[n-1].ready > now {
		n--
	}
	return n
}

func (p *simPool) zoneDown(z int, now time.Time) bool {
	until, ok := p.down[z]
	return ok && (until.IsZero() || now.Before(until))
}

// Cluster is the virtual cluster: it implements actuator.Actuator, so a
// policy drives it exactly as it drives a real one. Every pod is bound to a
// node; a lost node takes its pods with it.
type Cluster struct {
	now       time.Time
	workloads []*simWorkload
	// bindOrder is the workloads in the order their pending pods are
	// bound: those with the fewest pools they may use first (as
	// policy.PlanPools packs pinned groups first), then plan order.
	bindOrder []*simWorkload
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
	zoneCount []int // scratch: a workload's pods per zone
	// nextReady is no later than the earliest ready time of a bound pod not
	// yet ready (math.MaxInt64: none), so settle skips the workloads until then.
	nextReady int64
	noFit     []noFit    // scratch of schedule
	firstFit  []*simNode // scratch of schedule: per zone, the first node with room
	firstAt   []int      // and its index
}

var _ actuator.Actuator = (*Cluster)(nil)

// newCluster starts with replicas[w] ready pods of each workload, bound to
// poolNodes[p] ready nodes per pool as the scheduler binds them; pods that
// do not fit are pending.
func newCluster(in *Input, start time.Time, replicas []int32, poolNodes []int) *Cluster {
	c := &Cluster{now: start, byTarget: map[policy.Target]int{}, byPool: map[string]int{},
		actions: make([]int, len(in.Workloads)), poolActs: make([]int, len(in.Pools)), lastReady: make([]int, len(in.Pools))}
	zones := 1
	for i := range in.Pools {
		p := &simPool{spec: in.Pools[i], alloc: in.Pools[i].Machine.Sub(in.Pools[i].Overhead), desired: poolNodes[i], down: map[int]time.Time{}}
		for range poolNodes[i] {
			p.nodes = append(p.nodes, p.newNode(i, p.created%p.spec.Zones, start.UnixNano()))
			p.created++
		}
		c.pools = append(c.pools, p)
		c.byPool[p.spec.Name] = i
		c.lastReady[i] = len(p.nodes)
		zones = max(zones, p.spec.Zones)
	}
	c.zoneCount, c.firstFit, c.firstAt = make([]int, zones), make([]*simNode, zones), make([]int, zones)
	for i := range in.Workloads {
		w := &in.Workloads[i]
		c.workloads = append(c.workloads, &simWorkload{spec: &w.Spec, pool: w.Pool, replicas: replicas[i], prefs: poolPrefs(in, i)})
		c.byTarget[w.Spec.Target] = i
	}
	c.bindOrder = slices.Clone(c.workloads)
	slices.SortStableFunc(c.bindOrder, func(a, b *simWorkload) int { return cmp.Compare(len(a.prefs), len(b.prefs)) })
	c.schedule(start.UnixNano()) // the pods running at the start are ready
	c.settle()
	return c
}

func (p *simPool) newNode(pool, zone int, ready int64) *simNode {
	return &simNode{pool: pool, zone: zone, ready: ready, free: p.alloc, alloc: p.alloc, freePods: p.spec.Pods}
}

// poolPrefs are the pools workload i's pods may use: its pinned pool, or
// the pool the policy package's packer prefers for its shape (least waste,
// then price per pod), then the others that can hold a pod, in plan order.
func poolPrefs(in *Input, i int) []int {
	w := &in.Workloads[i]
	var out []int
	for j := range in.Pools {
		p := &in.Pools[j]
		if w.Pool != "" && p.Name != w.Pool || !w.Spec.Request.Fits(p.Machine.Sub(p.Overhead)) {
			continue
		}
		out = append(out, j)
	}
	if len(out) > 1 {
		pools := append([]policy.Pool(nil), in.Pools...)
		for j := range pools {
			pools[j].Min, pools[j].Headroom = 0, policy.HeadroomNone
		}
		pp, err := policy.PlanPools(pools, []policy.PodGroup{{Target: w.Spec.Target, Request: w.Spec.Request, Replicas: 1}}, 0)
		if err == nil {
			for j, r := range pp.Pools {
				if r.Pods > 0 {
					for k, x := range out {
						if x == j {
							copy(out[1:k+1], out[:k])
							out[0] = j
						}
					}
				}
			}
		}
	}
	return out
}

// SetReplicas sets a workload's desired replicas; extra pods are created
// pending, removed pods are the pending ones first, then the newest
// scheduled (not-ready before ready).
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
	w.replicas = max(replicas, 0)
	if extra := len(w.pods) - int(w.replicas); extra > 0 {
		w.removeNewest(extra)
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
	for _, n := range p.nodes {
		n.gone = n.gone || n.zone == z
	}
	c.removeGone()
}

// loseNodes removes a pool's n newest ready nodes.
func (c *Cluster) loseNodes(pool string, n int) {
	p := c.pools[c.byPool[pool]]
	now := c.now.UnixNano()
	for i := len(p.nodes) - 1; i >= 0 && n > 0; i-- {
		if p.nodes[i].ready <= now {
			p.nodes[i].gone = true
			n--
		}
	}
	c.removeGone()
}

// removeGone drops the nodes marked gone and the pods bound to them; the
// pods' workloads recreate them pending, and they restart with their lead
// time wherever they are scheduled next.
func (c *Cluster) removeGone() {
	for _, p := range c.pools {
		k := 0
		for _, n := range p.nodes {
			if !n.gone {
				p.nodes[k] = n
				k++
			}
		}
		clear(p.nodes[k:])
		p.nodes = p.nodes[:k]
	}
	for _, w := range c.workloads {
		w.removeOn()
	}
	c.dirty = true
}

// settle brings the cluster to a consistent state at c.now: pools
// reconciled toward their desired sizes, nodes and pods ready, pending pods
// scheduled.
func (c *Cluster) settle() {
	now := c.now
	ns := now.UnixNano()
	lost := false
	for i, p := range c.pools {
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
			p.nodes = append(p.nodes, p.newNode(i, z, now.Add(p.spec.LeadTime).UnixNano()))
			p.created++
		}
		// Scale down: the newest not-ready nodes first, then the emptiest
		// ready ones (the newest of equals); their pods are evicted.
		for extra := len(p.nodes) - p.desired; extra > 0; extra-- {
			victim := -1
			if n := p.nodes[len(p.nodes)-1]; n.ready > ns {
				victim = len(p.nodes) - 1
			} else {
				best := 2.0
				for j := len(p.nodes) - 1; j >= 0; j-- {
					if u := p.nodes[j].usedShare(); u < best-1e-12 {
						victim, best = j, u
					}
				}
			}
			n := p.nodes[victim]
			n.gone = true
			lost = lost || n.freePods < p.spec.Pods
			p.nodes = append(p.nodes[:victim], p.nodes[victim+1:]...)
		}
		if r := p.readyNodes(ns); r != c.lastReady[i] {
			c.lastReady[i], c.dirty = r, true
		}
	}
	if lost {
		for _, w := range c.workloads {
			w.removeOn()
		}
		c.dirty = true
	}
	if c.dirty {
		c.schedule(0)
		c.dirty = false
	}
	if ns >= c.nextReady {
		// Pods become ready in the order they were bound (one lead time
		// each): pods[ready] is a workload's next.
		c.nextReady = math.MaxInt64
		for _, w := range c.workloads {
			for w.ready < len(w.pods) && w.pods[w.ready].ready <= ns {
				w.ready++
			}
			if w.ready < len(w.pods) {
				c.nextReady = min(c.nextReady, w.pods[w.ready].ready)
			}
		}
	}
}

// noFit remembers that a request found no ready node with room in a pool
// during one schedule: nodes only fill up until it returns, so a request
// at least as large finds none either.
type noFit struct {
	pool int
	req  policy.Resources
}

// known reports whether req in pool pi cannot fit, by a request no larger
// that could not.
func (c *Cluster) known(pi int, req policy.Resources) bool {
	for _, f := range c.noFit {
		if f.pool == pi && f.req.CPU <= req.CPU && f.req.Memory <= req.Memory {
			return true
		}
	}
	return false
}

// schedule binds pending pods to ready nodes, workload by workload
// (bindOrder: the pinned ones first, so a flexible workload does not take
// the only room a pinned one has), each pod as the default scheduler's zone spreading and a
// first-fit would: into the zone holding the fewest of the workload's pods
// among the zones with a ready node that has room, onto the oldest such
// node there; the workload's preferred pool first. A pod bound at now is
// ready after its workload's lead time, or at readyAt when it is not zero
// (the pods running at the start).
func (c *Cluster) schedule(readyAt int64) {
	now := c.now.UnixNano()
	c.noFit = c.noFit[:0]
	for _, w := range c.bindOrder {
		want := w.pending()
		if want == 0 {
			continue
		}
		ready := now + int64(w.spec.LeadTime)
		if readyAt != 0 {
			ready = readyAt
		}
		c.nextReady = min(c.nextReady, ready) // early when none binds: settle only looks once more
		if len(c.pools) == 0 {
			for range want {
				w.pods = append(w.pods, simPod{ready: ready})
			}
			continue
		}
		for _, pi := range w.prefs {
			if want == 0 {
				break
			}
			if c.known(pi, w.spec.Request) {
				continue
			}
			p := c.pools[pi]
			zc := c.zoneCount[:p.spec.Zones]
			clear(zc)
			for _, q := range w.pods {
				if q.node.pool == pi {
					zc[q.node.zone]++
				}
			}
			// The first node with room per zone; after a bind, only the
			// zone that took the pod can have another (nodes only fill up
			// until schedule returns).
			ff, at := c.firstFit[:p.spec.Zones], c.firstAt[:p.spec.Zones]
			clear(ff)
			found := 0
			for j, n := range p.nodes {
				if n.ready > now || found == len(ff) {
					break
				}
				if ff[n.zone] == nil && n.fits(w.spec.Request) {
					ff[n.zone], at[n.zone] = n, j
					found++
				}
			}
			for want > 0 {
				z := -1
				for k, n := range ff {
					if n != nil && (z < 0 || zc[k] < zc[z]) {
						z = k
					}
				}
				if z < 0 {
					if len(c.noFit) < 8 {
						c.noFit = append(c.noFit, noFit{pi, w.spec.Request})
					}
					break
				}
				ff[z].take(w.spec.Request)
				zc[z]++
				w.pods = append(w.pods, simPod{node: ff[z], ready: ready})
				want--
				if !ff[z].fits(w.spec.Request) {
					ff[z] = nil
					for j := at[z] + 1; j < len(p.nodes) && p.nodes[j].ready <= now; j++ {
						if n := p.nodes[j]; n.zone == z && n.fits(w.spec.Request) {
							ff[z], at[z] = n, j
							break
						}
					}
				}
			}
		}
	}
}
