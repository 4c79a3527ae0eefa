package policy

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HoursPerMonth converts hourly prices to monthly costs (365 × 24 / 12).
const HoursPerMonth = 730

// HeadroomMode is the availability a pool is sized for.
type HeadroomMode int

// Headroom modes. The zero value is HeadroomNone.
const (
	HeadroomNone   HeadroomMode = iota
	HeadroomNPlus1              // the pods still fit after losing any one node
	HeadroomZone                // the pods still fit after losing any one zone
)

var headroomNames = [...]string{"none", "n+1", "zone"}

func (h HeadroomMode) String() string {
	if h >= 0 && int(h) < len(headroomNames) {
		return headroomNames[h]
	}
	return fmt.Sprintf("HeadroomMode(%d)", int(h))
}

// MarshalText writes the mode name.
func (h HeadroomMode) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a mode name.
func (h *HeadroomMode) UnmarshalText(b []byte) error {
	v, err := ParseHeadroom(string(b))
	*h = v
	return err
}

// ParseHeadroom reads a headroom mode name.
func ParseHeadroom(s string) (HeadroomMode, error) {
	for i, n := range headroomNames {
		if n == s {
			return HeadroomMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown headroom %q", ErrInvalidInput, s)
}

// Pool is a node pool: identical machines spread over Zones zones.
type Pool struct {
	Name string
	// Machine is a node's capacity, Overhead what DaemonSets and system
	// reserve take of it; pods get Machine − Overhead.
	Machine, Overhead Resources
	// Pods is the pods-per-node limit (counting only planned pods).
	Pods         int
	PricePerHour float64
	// Min and Max bound the node count; Zones ≥ 1.
	Min, Max, Zones int
	Headroom        HeadroomMode
	// LeadTime is node provisioning time: callers plan pods for the pools
	// that far ahead (PodsAhead). PlanPools itself does not read it.
	LeadTime time.Duration
}

func (p *Pool) allocatable() Resources { return p.Machine.Sub(p.Overhead) }

// Validate checks the pool.
func (p *Pool) Validate() error {
	a := p.allocatable()
	switch {
	case !(a.CPU > 0) || !(a.Memory > 0):
		return fmt.Errorf("%w: pool %s: overhead %+v leaves nothing of %+v", ErrInvalidInput, p.Name, p.Overhead, p.Machine)
	case p.Pods < 1, p.Min < 0, p.Max < p.Min, p.Max < 1, p.Zones < 1, p.PricePerHour < 0:
		return fmt.Errorf("%w: pool %s: pods %d, size [%d, %d], zones %d, price %v", ErrInvalidInput, p.Name, p.Pods, p.Min, p.Max, p.Zones, p.PricePerHour)
	}
	return nil
}

// PodGroup is the planned pods of one workload: Replicas pods of Request each.
type PodGroup struct {
	Target   Target
	Request  Resources
	Replicas int
	// Floor is the part of Replicas that is not forecast headroom: the
	// larger of the minimum replicas (with windows) and the reactive floor.
	// 0 means all of Replicas. Over budget, PlanPools plans no group below
	// it, and reports what the pools would cost at the floors.
	Floor int
	// Pool pins the pods to the named pool; "" lets the planner choose.
	Pool string
	// Leaner are the group's planned pods with optional forecast headroom
	// trimmed, in the budget's order (TrimSteps): [0] planned at the median
	// forecast, [1] also without the lead-time window (see Trims). Over
	// budget, PlanPools may plan these instead, never below Floor; nil or
	// shorter: nothing to trim at that step.
	Leaner []int
}

// TrimSteps name the budget's trims of forecast headroom, in order, after
// the availability headroom (zone → n+1 → none): PodGroup.Leaner[k] is the
// group after TrimSteps[k].
var TrimSteps = []string{"quantile → median", "lead-time window"}

// Unschedulable is demand that fits in no pool. It is reported, never dropped.
type Unschedulable struct {
	Target Target `json:"target"`
	Pods   int    `json:"pods"`
	Reason string `json:"reason"`
}

// NodeFill is one planned node: its zone, what its pods request, and which
// groups (indexes into the PodGroup slice) it holds how many pods of.
type NodeFill struct {
	Zone      int         `json:"zone"`
	Requested Resources   `json:"requested"`
	Pods      int         `json:"pods"`
	Groups    []GroupPods `json:"groups,omitempty"`
	Headroom  bool        `json:"headroom,omitempty"` // added for availability headroom
}

// GroupPods is a count of one group's pods.
type GroupPods struct {
	Group int `json:"group"`
	Pods  int `json:"pods"`
}

// PoolResult is the plan for one pool.
type PoolResult struct {
	Name string `json:"name"`
	// Nodes is the planned size: DemandNodes + the nodes added to reach the
	// minimum or balance the zones + HeadroomNodes.
	Nodes         int          `json:"nodes"`
	DemandNodes   int          `json:"demand_nodes"`   // nodes the packed pods occupy
	HeadroomNodes int          `json:"headroom_nodes"` // added for n+1 or zone headroom
	PerZone       []int        `json:"per_zone"`
	Headroom      HeadroomMode `json:"headroom"` // mode achieved (after any budget trim or degradation)
	Wanted        HeadroomMode `json:"wanted"`   // mode in the plan
	// HeadroomMet is false when the mode had to degrade (zone → n+1 → none)
	// because the maximum size or a single zone could not deliver it.
	HeadroomMet bool      `json:"headroom_met"`
	Pods        int       `json:"pods"`
	Requested   Resources `json:"requested"`
	Allocatable Resources `json:"allocatable"` // Nodes × (machine − overhead)
	MonthlyCost float64   `json:"monthly_cost"`
	// HeadroomMonthlyCost is what the headroom nodes cost.
	HeadroomMonthlyCost float64    `json:"headroom_monthly_cost"`
	NodeFills           []NodeFill `json:"-"`
	Warnings            []string   `json:"warnings,omitempty"`
}

// PoolPlan is the plan for all pools.
type PoolPlan struct {
	// Replicas are the pods planned per group (index-aligned with the
	// PodGroups): each group's Replicas unless a budget trim planned fewer.
	Replicas      []int           `json:"replicas"`
	Pools         []PoolResult    `json:"pools"`
	Unschedulable []Unschedulable `json:"unschedulable,omitempty"`
	MonthlyCost   float64         `json:"monthly_cost"`
	Budget        *BudgetResult   `json:"budget,omitempty"`
	Warnings      []string        `json:"warnings,omitempty"`
}

// BudgetResult compares the plan's cost with the budget.
type BudgetResult struct {
	Monthly float64 `json:"monthly"`
	// Cost is the monthly cost after any trims; Over is Cost − Monthly when positive.
	Cost float64 `json:"cost"`
	Over float64 `json:"over"`
	// Trimmed lists the headroom removed to meet the budget, in order.
	Trimmed []string `json:"trimmed,omitempty"`
	// LeanSteps is how many of TrimSteps were applied (0: none): the groups
	// are planned at their Leaner[LeanSteps-1].
	LeanSteps int `json:"lean_steps"`
	// Needed is the budget the plan needs with no trims at all.
	Needed float64 `json:"needed"`
	// FloorCost, computed only when over budget, is what the pools would
	// cost with every group at its Floor (no forecast headroom) and no
	// availability headroom: below that, the budget can only be met by going
	// under the minimum replicas or the reactive floors.
	FloorCost float64  `json:"floor_cost,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// node is a packing bin.
type node struct {
	free     Resources
	freePods int
	zone     int
	leaf     int // index in its zone's tree
	groups   []GroupPods
	headroom bool
}

type packer struct {
	pool  *Pool
	alloc Resources
	nodes []node
	zones []zoneBins
	// slab holds the first groupsInline entries of nodes' group lists, so
	// that a thousand nodes take a few allocations, not thousands.
	slab     []GroupPods
	slabSize int
	// spare is withHeadroom's array, reused by its calls; items and keys
	// are packZones'.
	spare []node
	items []zoneItem
	keys  []int
}

const groupsInline = 8

// newGroups is an empty group list for a node, with room for groupsInline
// groups (append moves a longer list to its own array).
func (k *packer) newGroups() []GroupPods {
	if len(k.slab) < groupsInline {
		k.slabSize = min(max(16, 2*k.slabSize), 256)
		k.slab = make([]GroupPods, groupsInline*k.slabSize)
	}
	g := k.slab[:0:groupsInline]
	k.slab = k.slab[groupsInline:]
	return g
}

// zoneBins are one zone's nodes, with a tree over their free capacity.
type zoneBins struct {
	tree  freeTree
	nodes []int // node index of each tree leaf
}

// packerPool keeps released packers' arrays (nodes, trees, headroom
// scratch) for the next PlanPools calls.
var packerPool = sync.Pool{New: func() any { return new(packer) }}

func newPacker(p *Pool) *packer {
	k := emptyPacker(p)
	for range p.Min {
		k.open(k.smallestZone(), true)
	}
	return k
}

// emptyPacker is a packer with no nodes, on released arrays when there are
// some. A tree keeps its size: leaves past the nodes have no room, so the
// size changes no search.
func emptyPacker(p *Pool) *packer {
	k := packerPool.Get().(*packer)
	zones := k.zones
	if cap(zones) < p.Zones {
		zones = append(zones[:cap(zones)], make([]zoneBins, p.Zones-cap(zones))...)
	}
	zones = zones[:p.Zones]
	for z := range zones {
		clear(zones[z].tree.v)
		zones[z].nodes = zones[z].nodes[:0]
	}
	*k = packer{pool: p, alloc: p.allocatable(), nodes: k.nodes[:0], zones: zones, spare: k.spare[:0], items: k.items[:0], keys: k.keys[:0]}
	return k
}

// release gives the packer's arrays to later calls; nothing the plan
// returns points into them (node fills copy the nodes; their group lists
// are in slab, which is not kept). The arrays are not cleared: the group
// lists they still point to are the last plans' (the pool drops its
// packers within two collections when unused), and every use overwrites
// the nodes it reads.
func (k *packer) release() {
	k.pool, k.slab = nil, nil
	packerPool.Put(k)
}

// smallestZone is the zone with the fewest nodes (the lowest on ties).
func (k *packer) smallestZone() int {
	best := 0
	for z := range k.zones {
		if len(k.zones[z].nodes) < len(k.zones[best].nodes) {
			best = z
		}
	}
	return best
}

// open adds an empty node in zone and returns its index. With setLeaf
// false, the zone's tree does not have it yet: the caller must set its leaf
// before the next search (put does).
func (k *packer) open(zone int, setLeaf bool) int {
	i := len(k.nodes)
	zb := &k.zones[zone]
	k.nodes = append(k.nodes, node{free: k.alloc, freePods: k.pool.Pods, zone: zone, leaf: len(zb.nodes)})
	if setLeaf {
		zb.tree.set(len(zb.nodes), k.alloc, k.pool.Pods)
	}
	zb.nodes = append(zb.nodes, i)
	return i
}

// freeTree is a max segment tree over the nodes' free CPU, memory and pod
// slots: the first node that can hold a pod is found in O(log n) in the
// usual case, which makes first fit O(n log n) instead of O(n²).
type freeTree struct {
	size int // leaves, a power of two
	v    []room
}

// room is a tree vertex: the most free CPU, memory and pod slots below it,
// CPU and memory with Resources.Fits' tolerance added (slack is monotone,
// so the largest slack is the slack of the largest), which makes a test
// three comparisons.
type room struct {
	cpu, mem float64
	pods     int
}

func newRoom(free Resources, pods int) room {
	return room{free.CPU + 1e-9*max(1, free.CPU), free.Memory + 1e-9*max(1, free.Memory), pods}
}

func (t *freeTree) set(i int, free Resources, pods int) {
	if i >= t.size {
		old := *t
		t.size = max(16, 2*t.size)
		for t.size <= i {
			t.size *= 2
		}
		t.v = make([]room, 2*t.size)
		for j := 0; j < old.size; j++ {
			t.v[t.size+j] = old.v[old.size+j]
		}
		t.build()
	}
	v := t.size + i
	t.v[v] = newRoom(free, pods)
	for v /= 2; v >= 1; v /= 2 {
		l, r := &t.v[2*v], &t.v[2*v+1]
		up := room{max(l.cpu, r.cpu), max(l.mem, r.mem), max(l.pods, r.pods)}
		if up == t.v[v] {
			break // the maxima above do not change either
		}
		t.v[v] = up
	}
}

// reset makes the tree n leaves of no room (reusing its array); fill them
// with leaf, then build.
func (t *freeTree) reset(n int) {
	size := 16
	for size < n {
		size *= 2
	}
	t.size = size
	if cap(t.v) >= 2*size {
		t.v = t.v[:2*size]
		clear(t.v)
	} else {
		t.v = make([]room, 2*size)
	}
}

// leaf sets leaf i without updating the inner vertices (build does, once).
func (t *freeTree) leaf(i int, free Resources, pods int) {
	t.v[t.size+i] = newRoom(free, pods)
}

// build computes the inner vertices from the leaves: O(n), where n calls
// of set cost O(n log n).
func (t *freeTree) build() {
	for v := t.size - 1; v >= 1; v-- {
		t.pull(v)
	}
}

func (t *freeTree) pull(v int) {
	l, r := &t.v[2*v], &t.v[2*v+1]
	t.v[v] = room{max(l.cpu, r.cpu), max(l.mem, r.mem), max(l.pods, r.pods)}
}

// may is whether a node below v might hold req (as Resources.Fits).
func (t *freeTree) may(v int, req Resources) bool {
	x := &t.v[v]
	return x.pods > 0 && req.CPU <= x.cpu && req.Memory <= x.mem
}

// first returns the index of the first node that can hold req, or -1. A
// vertex's maxima are per resource, so a subtree may look big enough while
// no one node in it is: the descent then backs up to the next subtree to
// the right.
func (t *freeTree) first(req Resources) int {
	if t.size == 0 || !t.may(1, req) {
		return -1
	}
	v := 1
	for v < t.size {
		if l := 2 * v; t.may(l, req) {
			v = l
		} else if t.may(l+1, req) {
			v = l + 1
		} else {
			// Neither child can: the next candidate is the right sibling
			// of the nearest left child on the way up.
			for v&1 == 1 || !t.may(v+1, req) {
				if v == 1 {
					return -1
				}
				v /= 2
			}
			v++
		}
	}
	return v - t.size
}

// fitCount is how many pods of req fit in free with freePods slots.
func fitCount(free Resources, freePods int, req Resources, limit int) int {
	if freePods == 0 || !req.Fits(free) {
		return 0
	}
	n := min(freePods, limit)
	if req.CPU > 0 {
		n = min(n, int(math.Floor(free.CPU/req.CPU+1e-9)))
	}
	if req.Memory > 0 {
		n = min(n, int(math.Floor(free.Memory/req.Memory+1e-9)))
	}
	return max(n, 0)
}

// full reports whether the pool is at its maximum size with no node able
// to hold a pod of req.
func (k *packer) full(req Resources) bool {
	if len(k.nodes) < k.pool.Max {
		return false
	}
	for z := range k.zones {
		if k.zones[z].tree.first(req) >= 0 {
			return false
		}
	}
	return true
}

// place puts up to count pods of group g onto the pool and returns how many
// it placed. The pods are spread over the zones as a topology spread
// constraint with maxSkew 1 would (each zone's share differs by at most one;
// the zones that take the remainder rotate with g); within a zone they go
// first fit, opening nodes in that zone up to the pool's maximum. What a
// zone cannot take goes to the others (as whenUnsatisfiable: ScheduleAnyway).
func (k *packer) place(g int, req Resources, count int) int {
	nz := len(k.zones)
	placed := 0
	for j := range nz {
		share := count / nz
		if j < count%nz {
			share++
		}
		placed += k.placeIn((g+j)%nz, g, req, share)
	}
	for placed < count {
		before := placed
		for j := 0; j < nz && placed < count; j++ {
			placed += k.placeIn((g+j)%nz, g, req, count-placed)
		}
		if placed == before {
			break
		}
	}
	return placed
}

// placeIn is first fit within one zone. For identical pods in sequence,
// filling each node in turn is exactly first fit.
func (k *packer) placeIn(z, g int, req Resources, count int) int {
	zb := &k.zones[z]
	placed := 0
	for placed < count {
		var i int
		if leaf := zb.tree.first(req); leaf >= 0 {
			i = zb.nodes[leaf]
		} else {
			if len(k.nodes) >= k.pool.Max {
				break
			}
			i = k.open(z, false) // put sets its leaf
		}
		n := k.put(i, g, req, count-placed)
		if n == 0 {
			// An empty node cannot hold one pod: the caller filtered this out.
			nd := &k.nodes[i]
			zb.tree.set(nd.leaf, nd.free, nd.freePods)
			break
		}
		placed += n
	}
	return placed
}

func (k *packer) put(i, g int, req Resources, want int) int {
	nd := &k.nodes[i]
	n := fitCount(nd.free, nd.freePods, req, want)
	if n == 0 {
		return 0
	}
	nd.free = nd.free.Sub(req.Scale(float64(n)))
	nd.freePods -= n
	k.zones[nd.zone].tree.set(nd.leaf, nd.free, nd.freePods)
	if l := len(nd.groups); l > 0 && nd.groups[l-1].Group == g {
		nd.groups[l-1].Pods += n
	} else {
		if nd.groups == nil {
			nd.groups = k.newGroups()
		}
		nd.groups = append(nd.groups, GroupPods{Group: g, Pods: n})
	}
	return n
}

// checker is what a plan's headroom checks share: the groups, and each
// group's rank in the order survives re-packs evicted pods in (first-fit
// decreasing: by key, largest first, then by index).
type checker struct {
	groups []PodGroup
	rank   []int
}

// survival is scratch space for survives: each goroutine that checks takes
// its own from survivals, and PlanPools calls reuse them.
type survival struct {
	evicted []survItem
	free    []Resources
	slots   []int
	tree    freeTree
	// For the n+1 checks: which call's nodes free, slots and tree hold
	// (all of them, none lost), and the leaves a check changed, to undo.
	base uint64
	undo []undoLeaf
}

type undoLeaf struct {
	leaf  int
	free  Resources
	slots int
}

var survivals = sync.Pool{New: func() any { return new(survival) }}

// nodeSets numbers the n+1 checks' node sets (survival.base).
var nodeSets atomic.Uint64

type survItem struct{ rank, g, n int }

// survives reports whether the pods on the lost nodes fit, first-fit
// decreasing, into the free capacity of the others.
func (c *checker) survives(sv *survival, nodes []node, lost func(int) bool) bool {
	sv.base = 0
	evicted := sv.evicted[:0]
	free, slots := sv.free[:0], sv.slots[:0]
	for i := range nodes {
		if lost(i) {
			for _, gp := range nodes[i].groups {
				evicted = append(evicted, survItem{c.rank[gp.Group], gp.Group, gp.Pods})
			}
			continue
		}
		free = append(free, nodes[i].free)
		slots = append(slots, nodes[i].freePods)
	}
	sv.evicted, sv.free, sv.slots = evicted, free, slots
	sv.build()
	return c.repack(sv, false)
}

// survivesNode is survives for the loss of node lost alone, on one tree
// over all the nodes (built once per base, then each check empties the lost
// node's leaf and undoes what it changed): first fit finds the same node
// as on a tree of the others, since the emptied leaf never fits.
func (c *checker) survivesNode(sv *survival, nodes []node, lost int, base uint64) bool {
	if sv.base != base {
		sv.free, sv.slots = sv.free[:0], sv.slots[:0]
		for i := range nodes {
			sv.free = append(sv.free, nodes[i].free)
			sv.slots = append(sv.slots, nodes[i].freePods)
		}
		sv.build()
		sv.base = base
	}
	evicted := sv.evicted[:0]
	for _, gp := range nodes[lost].groups {
		evicted = append(evicted, survItem{c.rank[gp.Group], gp.Group, gp.Pods})
	}
	sv.evicted = evicted
	sv.undo = append(sv.undo[:0], undoLeaf{lost, sv.free[lost], sv.slots[lost]})
	sv.free[lost], sv.slots[lost] = Resources{}, 0
	sv.tree.set(lost, Resources{}, 0)
	ok := c.repack(sv, true)
	for k := len(sv.undo) - 1; k >= 0; k-- {
		u := sv.undo[k]
		sv.free[u.leaf], sv.slots[u.leaf] = u.free, u.slots
		sv.tree.set(u.leaf, u.free, u.slots)
	}
	return ok
}

// build makes the tree over free and slots.
func (sv *survival) build() {
	tree := &sv.tree
	tree.reset(len(sv.free))
	for j := range sv.free {
		tree.leaf(j, sv.free[j], sv.slots[j])
	}
	tree.build()
}

// repack places the evicted pods first-fit decreasing on free, slots and
// the tree, recording each leaf it changes in undo when asked, and reports
// whether they all fit.
func (c *checker) repack(sv *survival, undo bool) bool {
	evicted, free, slots, tree := sv.evicted, sv.free, sv.slots, &sv.tree
	slices.SortFunc(evicted, func(a, b survItem) int { return cmp.Compare(a.rank, b.rank) })
	// One item per group: first fit places a group's pods one after another
	// however they were split over the lost nodes.
	m := 0
	for _, it := range evicted {
		if m > 0 && evicted[m-1].g == it.g {
			evicted[m-1].n += it.n
			continue
		}
		evicted[m] = it
		m++
	}
	for _, it := range evicted[:m] {
		req, left := c.groups[it.g].Request, it.n
		for left > 0 {
			j := tree.first(req)
			if j < 0 {
				return false
			}
			n := fitCount(free[j], slots[j], req, left)
			if n == 0 {
				return false
			}
			if undo {
				sv.undo = append(sv.undo, undoLeaf{j, free[j], slots[j]})
			}
			free[j] = free[j].Sub(req.Scale(float64(n)))
			slots[j] -= n
			left -= n
			tree.set(j, free[j], slots[j])
		}
	}
	return true
}

// headroomOK checks the pool's nodes against a headroom mode; when they
// fall short of zone headroom, lost is the first zone whose loss they do
// not survive (-1 otherwise). Zone headroom skips the zones in passed, and
// adds the zones whose loss the nodes survive.
func (c *checker) headroomOK(nodes []node, mode HeadroomMode, zones int, passed []bool) (ok bool, lost int) {
	// Fast path: every node has the same shape, so an empty node holds
	// whatever any one node holds.
	emptyIn := make([]int, zones)
	usedIn := make([]int, zones)
	empty := 0
	for i := range nodes {
		if len(nodes[i].groups) == 0 {
			emptyIn[nodes[i].zone]++
			empty++
		} else {
			usedIn[nodes[i].zone]++
		}
	}
	par := len(nodes) >= minParallelNodes
	switch mode {
	case HeadroomNPlus1:
		if empty > 0 {
			return true, -1
		}
		// No node is empty: check the loss of each.
		base := nodeSets.Add(1)
		if firstFailing(len(nodes), par, func(sv *survival, i int) bool {
			return c.survivesNode(sv, nodes, i, base)
		}) >= 0 {
			return false, -1
		}
	case HeadroomZone:
		if zones < 2 {
			return false, -1
		}
		var check []int
		for z := range zones {
			if !passed[z] && usedIn[z] > empty-emptyIn[z] {
				check = append(check, z)
			}
		}
		j := firstFailing(len(check), par, func(sv *survival, j int) bool {
			z := check[j]
			return c.survives(sv, nodes, func(i int) bool { return nodes[i].zone == z })
		})
		if j < 0 {
			j = len(check)
		}
		for _, z := range check[:j] {
			passed[z] = true
		}
		if j < len(check) {
			return false, check[j]
		}
	}
	return true, -1
}

// withHeadroom returns the pool's nodes with the nodes a headroom mode
// needs added, one at a time, up to the maximum, and whether the mode is
// met. Each goes into a zone with the fewest nodes (so the zones stay
// within one node of each other, as a pool spread over its zones is), for
// zone headroom another zone than the one whose loss is not survived when
// one as small exists. Zone headroom first adds the nodes the capacity
// bound asks for (zoneBound.worst), then checks the packing.
func (k *packer) withHeadroom(c *checker, mode HeadroomMode) ([]node, bool) {
	nodes := append(k.spare[:0], k.nodes...)
	defer func() { k.spare = nodes[:0] }()
	nz := k.pool.Zones
	perZone := make([]int, nz)
	for _, nd := range nodes {
		perZone[nd.zone]++
	}
	add := func(avoid int) bool {
		if len(nodes) >= k.pool.Max {
			return false
		}
		z := -1
		for j := range perZone {
			if z < 0 || perZone[j] < perZone[z] || perZone[j] == perZone[z] && z == avoid {
				z = j
			}
		}
		nodes = append(nodes, node{free: k.alloc, freePods: k.pool.Pods, zone: z, headroom: true})
		perZone[z]++
		return true
	}
	if mode == HeadroomZone && nz >= 2 {
		zb := k.newZoneBound(nodes)
		for z := zb.worst(); z >= 0; z = zb.worst() {
			if !add(z) {
				return nodes, false
			}
			zb.add(nodes[len(nodes)-1].zone)
		}
	}
	// A zone whose loss the nodes survive, they survive with a node added
	// too: it comes last in first-fit order, so the evicted pods go where
	// they went. The zones that passed are not checked again.
	passed := make([]bool, nz)
	for {
		ok, lost := c.headroomOK(nodes, mode, nz, passed)
		if ok {
			return nodes, true
		}
		if mode == HeadroomZone && nz < 2 || !add(lost) {
			return nodes, false
		}
	}
}

// zoneBound tracks, per zone, what the pods use and what is free (CPU,
// memory, pod slots) as empty nodes are added.
type zoneBound struct {
	alloc          Resources
	pods           int
	used, free     []Resources
	usedPods, slot []int
	allFree        Resources
	allSlots       int
}

func (k *packer) newZoneBound(nodes []node) *zoneBound {
	nz := k.pool.Zones
	b := &zoneBound{alloc: k.alloc, pods: k.pool.Pods, used: make([]Resources, nz), free: make([]Resources, nz), usedPods: make([]int, nz), slot: make([]int, nz)}
	for _, nd := range nodes {
		b.used[nd.zone] = b.used[nd.zone].Add(k.alloc.Sub(nd.free))
		b.usedPods[nd.zone] += k.pool.Pods - nd.freePods
		b.free[nd.zone] = b.free[nd.zone].Add(nd.free)
		b.slot[nd.zone] += nd.freePods
		b.allFree = b.allFree.Add(nd.free)
		b.allSlots += nd.freePods
	}
	return b
}

// add counts an empty node in zone z.
func (b *zoneBound) add(z int) {
	b.free[z], b.slot[z] = b.free[z].Add(b.alloc), b.slot[z]+b.pods
	b.allFree, b.allSlots = b.allFree.Add(b.alloc), b.allSlots+b.pods
}

// worst is a zone whose loss the others cannot absorb even in total: the
// one whose CPU, memory or pod slots in use most exceed the free room of
// the other zones (in nodes), or -1 when there is none.
func (b *zoneBound) worst() int {
	worst, most := -1, 1e-9
	for z := range b.used {
		of := b.allFree.Sub(b.free[z])
		d := max((b.used[z].CPU-of.CPU)/b.alloc.CPU, (b.used[z].Memory-of.Memory)/b.alloc.Memory,
			float64(b.usedPods[z]-(b.allSlots-b.slot[z]))/float64(b.pods))
		if d > most {
			worst, most = z, d
		}
	}
	return worst
}

// waste is the unused share of a node with allocatable a and pods slots
// filled with pods of one shape only, averaged over CPU and memory, and the
// pods such a node holds.
func waste(a Resources, pods int, req Resources) (float64, int) {
	n := pods
	if req.CPU > 0 {
		n = min(n, int(a.CPU/req.CPU+1e-9))
	}
	if req.Memory > 0 {
		n = min(n, int(a.Memory/req.Memory+1e-9))
	}
	if n <= 0 {
		return math.Inf(1), 0
	}
	f := float64(n)
	return 1 - (req.CPU*f/a.CPU+req.Memory*f/a.Memory)/2, n
}

// pref is a pool a group's pods may go to: its waste for the group's
// shape (see waste) and price per pod.
type pref struct {
	pool  int
	waste float64
	price float64
}

// better orders prefs: waste within a percentage point counts as equal, so
// price decides; then plan order.
func better(a, b pref) int {
	if math.Abs(a.waste-b.waste) > 0.01 {
		return cmp.Compare(a.waste, b.waste)
	}
	return cmp.Or(cmp.Compare(a.price, b.price), cmp.Compare(a.pool, b.pool))
}

// bestPref is the index of the best of prefs (not empty).
func bestPref(prefs []pref) int {
	best := 0
	for i := range prefs {
		if better(prefs[i], prefs[best]) < 0 {
			best = i
		}
	}
	return best
}

// PlanPools sizes the node pools for the planned pods (Budget ≤ 0: no
// budget). Pods are packed first-fit decreasing — the groups pinned to a
// pool first (the others can go elsewhere; packed after them, they could
// take the only room a pinned group has), each in decreasing order of
// their largest share of the biggest node, each group's pods onto its
// preferred pools: the pinned pool, or every pool whose nodes can hold a pod,
// ordered by least waste (the unused share of a node filled with that shape)
// then price per pod then plan order. A pool at its maximum spills into the
// next preference; pods that fit nowhere are reported as Unschedulable.
//
// Within a pool, each group's pods are spread evenly over the zones (see
// place). Each pool then gets its minimum, balanced zones (no zone more
// than one node short of the largest, as a Cluster API MachineDeployment
// spreads its machines and the cluster-autoscaler balances similar node
// groups; a provider with per-zone sizes, GKE, rounds up itself), and its
// headroom, a node at a time into a smallest zone: n+1 until the pods of
// any one lost node fit on the others, zone until the pods of any one lost
// zone fit on the others — never beyond the maximum (a warning says so). Headroom is optional: over budget, it is trimmed in this order,
// the most expensive pool first each time: zone → n+1, then n+1 → none; then
// the forecast headroom of every group, as the caller worked it out in
// PodGroup.Leaner (TrimSteps): the forecast at the median instead of the
// planned quantile, then also without the lead-time window. A step that would
// save nothing is not taken; a later one includes it. No group goes below its
// Floor (the minimum replicas and the reactive floor): when the budget cannot
// be met above the floors, the result says how far over it is, loudly.
// PoolPlan.Replicas says what each group was planned at.
//
// A large plan packs its pools' zones and checks their headroom on up to
// GOMAXPROCS goroutines (see packZones and firstFailing); the plan is the
// same, byte for byte, for any GOMAXPROCS.
func PlanPools(pools []Pool, groups []PodGroup, budget float64) (*PoolPlan, error) {
	return planPools(pools, groups, budget, true)
}

// planPools is PlanPools; floorCost says whether an over-budget plan works
// out BudgetResult.FloorCost (the leaner re-plans inside a budget do not: the
// outer plan does, once).
func planPools(pools []Pool, groups []PodGroup, budget float64, floorCost bool) (*PoolPlan, error) {
	plan := &PoolPlan{}
	byName := map[string]int{}
	var ref Resources
	for i := range pools {
		if err := pools[i].Validate(); err != nil {
			return nil, err
		}
		if _, dup := byName[pools[i].Name]; dup {
			return nil, fmt.Errorf("%w: duplicate pool %q", ErrInvalidInput, pools[i].Name)
		}
		byName[pools[i].Name] = i
		a := pools[i].allocatable()
		ref = Resources{max(ref.CPU, a.CPU), max(ref.Memory, a.Memory)}
	}
	key := make([]float64, len(groups))
	order := make([]int, 0, len(groups))
	for g := range groups {
		r := groups[g].Request
		if r.CPU < 0 || r.Memory < 0 || groups[g].Replicas < 0 {
			return nil, fmt.Errorf("%w: %s: request %+v, replicas %d", ErrInvalidInput, groups[g].Target, r, groups[g].Replicas)
		}
		if ref.CPU > 0 {
			key[g] = max(r.CPU/ref.CPU, r.Memory/ref.Memory)
		}
		if groups[g].Replicas > 0 {
			order = append(order, g)
		}
	}
	// Pinned groups first: they have one pool, the others can go elsewhere.
	pinned := func(g int) int {
		if groups[g].Pool != "" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Or(cmp.Compare(pinned(a), pinned(b)), cmp.Compare(key[b], key[a])) })
	// The headroom checks re-pack evicted pods in first-fit decreasing
	// order without the pinned groups first: the merge of order's pinned
	// and other groups, each already in that order (the sort is stable).
	c := &checker{groups: groups, rank: make([]int, len(groups))}
	pin := 0
	for pin < len(order) && groups[order[pin]].Pool != "" {
		pin++
	}
	for r, a, b := 0, order[:pin], order[pin:]; len(a)+len(b) > 0; r++ {
		var g int
		if len(b) == 0 || len(a) > 0 && cmp.Or(cmp.Compare(key[b[0]], key[a[0]]), cmp.Compare(a[0], b[0])) < 0 {
			g, a = a[0], a[1:]
		} else {
			g, b = b[0], b[1:]
		}
		c.rank[g] = r
	}

	packers := make([]*packer, len(pools))
	allocs := make([]Resources, len(pools))
	for i := range pools {
		packers[i] = newPacker(&pools[i])
		allocs[i] = pools[i].allocatable()
	}
	prefs := make([]pref, 0, len(pools))
	// A group's preferred pools: the pool it is pinned to, or every pool
	// whose nodes can hold a pod and, with packed, that is not full.
	prefer := func(g int, packed []*packer) (ok bool) {
		grp := &groups[g]
		prefs = prefs[:0]
		if grp.Pool != "" {
			i, ok := byName[grp.Pool]
			if !ok {
				return false
			}
			if w, n := waste(allocs[i], pools[i].Pods, grp.Request); n > 0 {
				prefs = append(prefs, pref{i, w, 0})
			}
			return true
		}
		for i := range pools {
			if packed != nil && packed[i].full(grp.Request) {
				continue
			}
			w, n := waste(allocs[i], pools[i].Pods, grp.Request)
			if n > 0 {
				prefs = append(prefs, pref{i, w, pools[i].PricePerHour / float64(n)})
			}
		}
		return true
	}
	// pick(p) is the best pool of the group at place p in order while no
	// pool is at its maximum size (then no pool is full, and the choice
	// does not depend on the packing), worked out once, in order, when
	// first asked: -1 for a pool name that matches none, -2 when no pool's
	// machine can hold one of its pods.
	const noName, noFit = -1, -2
	picks := make([]int, 0, len(order))
	pick := func(p int) int {
		for len(picks) <= p {
			g, best := order[len(picks)], noFit
			switch {
			case !prefer(g, nil):
				best = noName
			case len(prefs) > 0:
				best = prefs[bestPref(prefs)].pool
			}
			picks = append(picks, best)
		}
		return picks[p]
	}
	pods := 0
	for _, g := range order {
		pods += groups[g].Replicas
	}
	const cannotFit = "no pool's machine can hold one pod"
	unplaced := func(g, pick int) Unschedulable {
		grp := &groups[g]
		if pick == noName {
			return Unschedulable{grp.Target, grp.Replicas, fmt.Sprintf("no node pool named %q", grp.Pool)}
		}
		return Unschedulable{grp.Target, grp.Replicas, cannotFit}
	}
	if pods >= minParallelPods && packZones(packers, groups, order, pick, unplaced, &plan.Unschedulable) {
		// Packed.
	} else {
		if pods >= minParallelPods {
			for i := range pools {
				packers[i].release()
				packers[i] = newPacker(&pools[i])
			}
		}
		atMax := false
		for _, k := range packers {
			atMax = atMax || len(k.nodes) >= k.pool.Max
		}
		place := func(i, g, n int) int {
			placed := packers[i].place(g, groups[g].Request, n)
			atMax = atMax || len(packers[i].nodes) >= packers[i].pool.Max
			return placed
		}
		for p, g := range order {
			grp := &groups[g]
			var best int
			if !atMax {
				best = pick(p)
			} else {
				// A pool may be full: choose among those that are not.
				switch {
				case !prefer(g, packers):
					best = noName
				case len(prefs) == 0:
					best = noFit
				default:
					best = prefs[bestPref(prefs)].pool
				}
			}
			if best < 0 {
				plan.Unschedulable = append(plan.Unschedulable, unplaced(g, best))
				continue
			}
			left := grp.Replicas - place(best, g, grp.Replicas)
			if left == 0 {
				continue
			}
			// Spill into the group's other pools, in order: those not full,
			// as they were before the best one took its pods (which changed
			// no other pool).
			prefer(g, packers)
			rest := slices.DeleteFunc(prefs, func(q pref) bool { return q.pool == best })
			slices.SortFunc(rest, better)
			for _, q := range rest {
				left -= place(q.pool, g, left)
				if left == 0 {
					break
				}
			}
			if left > 0 {
				names := []string{pools[best].Name}
				for _, q := range rest {
					names = append(names, pools[q.pool].Name)
				}
				plan.Unschedulable = append(plan.Unschedulable, Unschedulable{grp.Target, left, "pools at their maximum size: " + strings.Join(names, ", ")})
			}
		}
	}
	for _, u := range plan.Unschedulable {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%d pods of %s are unschedulable: %s", u.Pods, u.Target, u.Reason))
	}

	// Minimum and zone balance, then headroom.
	bases := make([]int, len(pools))
	for i, k := range packers {
		p := &pools[i]
		demand := 0
		for j := range k.nodes {
			if len(k.nodes[j].groups) > 0 {
				demand++
			}
		}
		// Balance the zones: no zone more than one node short of the largest.
		most := 0
		for z := range k.zones {
			most = max(most, len(k.zones[z].nodes))
		}
		for len(k.nodes) < p.Max && (len(k.nodes) < p.Min || len(k.zones[k.smallestZone()].nodes) < most-1) {
			k.open(k.smallestZone(), true)
		}
		bases[i] = demand
	}
	results := make([]PoolResult, len(pools))
	modes := make([]HeadroomMode, len(pools))
	for i := range pools {
		modes[i] = pools[i].Headroom
	}
	build := func(i int) PoolResult {
		p, k := &pools[i], packers[i]
		// A mode that cannot be met within the maximum degrades (zone → n+1
		// → none) rather than buying nodes that do not deliver it.
		mode := modes[i]
		var warnings []string
		nodes, ok := k.withHeadroom(c, mode)
		for !ok {
			next := HeadroomNone
			if mode == HeadroomZone {
				next = HeadroomNPlus1
			}
			why := "within the maximum of " + fmt.Sprint(p.Max) + " nodes"
			if mode == HeadroomZone && p.Zones < 2 {
				why = "with one zone"
			}
			warnings = append(warnings, fmt.Sprintf("%s headroom cannot be met %s: planned with %s headroom", mode, why, next))
			mode = next
			nodes, ok = k.withHeadroom(c, mode)
		}
		r := PoolResult{Name: p.Name, Nodes: len(nodes), DemandNodes: bases[i], HeadroomNodes: len(nodes) - len(k.nodes),
			Headroom: mode, Wanted: p.Headroom, HeadroomMet: mode == modes[i], PerZone: make([]int, p.Zones), Warnings: warnings,
			NodeFills: make([]NodeFill, 0, len(nodes))}
		for _, nd := range nodes {
			r.PerZone[nd.zone]++
			used := k.alloc.Sub(nd.free)
			r.Requested = r.Requested.Add(used)
			r.Pods += p.Pods - nd.freePods
			r.NodeFills = append(r.NodeFills, NodeFill{Zone: nd.zone, Requested: used, Pods: p.Pods - nd.freePods, Groups: nd.groups, Headroom: nd.headroom})
		}
		r.Allocatable = k.alloc.Scale(float64(r.Nodes))
		r.MonthlyCost = float64(r.Nodes) * p.PricePerHour * HoursPerMonth
		r.HeadroomMonthlyCost = float64(r.HeadroomNodes) * p.PricePerHour * HoursPerMonth
		return r
	}
	// The pools' headroom is independent: built on several goroutines when
	// more than one pool has nodes and there are enough, summed in pool order.
	busy, nodes := 0, 0
	for _, k := range packers {
		if len(k.nodes) > 0 {
			busy++
			nodes += len(k.nodes)
		}
	}
	forEach(len(pools), busy > 1 && nodes >= minParallelNodes, func(i int) { results[i] = build(i) })
	total := 0.0
	for i := range pools {
		total += results[i].MonthlyCost
	}
	if budget > 0 {
		b := &BudgetResult{Monthly: budget, Needed: total}
		for _, step := range [][2]HeadroomMode{{HeadroomZone, HeadroomNPlus1}, {HeadroomNPlus1, HeadroomNone}} {
			for total > budget {
				best := -1
				for i := range pools {
					if modes[i] == step[0] && results[i].HeadroomNodes > 0 &&
						(best < 0 || results[i].HeadroomMonthlyCost > results[best].HeadroomMonthlyCost) {
						best = i
					}
				}
				if best < 0 {
					break
				}
				before := results[best].MonthlyCost
				modes[best] = step[1]
				results[best] = build(best)
				total += results[best].MonthlyCost - before
				b.Trimmed = append(b.Trimmed, fmt.Sprintf("%s: %s → %s headroom saves %.2f a month", pools[best].Name, step[0], step[1], before-results[best].MonthlyCost))
			}
		}
		// Then the forecast headroom, every group at once, re-planning the pools.
		for k := 0; k < len(TrimSteps) && total > budget; k++ {
			lean := make([]PodGroup, len(groups))
			cut := 0
			for g := range groups {
				lean[g] = groups[g]
				if k < len(groups[g].Leaner) {
					r := min(groups[g].Replicas, max(groups[g].Leaner[k], groups[g].Floor))
					cut += groups[g].Replicas - r
					lean[g].Replicas = r
				}
				lean[g].Leaner = nil
			}
			if cut == 0 {
				continue
			}
			cur := make([]Pool, len(pools))
			for i := range pools {
				cur[i] = pools[i]
				cur[i].Headroom = modes[i]
			}
			// The leaner plan, with the availability headroom trimmed again as it needs (a mode
			// that was free with more pods may cost a node with fewer).
			lp, err := planPools(cur, lean, budget, false)
			if err != nil || lp.MonthlyCost >= total {
				continue // saves nothing: not taken
			}
			b.Trimmed = append(b.Trimmed, fmt.Sprintf("forecast headroom: %s plans %d pods fewer and, with the trims that follow, saves %.2f a month",
				TrimSteps[k], cut, total-lp.MonthlyCost))
			for i := range lp.Pools {
				modes[i] = lp.Pools[i].Headroom
			}
			if lp.Budget != nil {
				b.Trimmed = append(b.Trimmed, lp.Budget.Trimmed...)
			}
			b.Warnings = append(b.Warnings, fmt.Sprintf("BUDGET: planned below the forecast (%s): %d pods fewer than the plan's quantile and lead time ask for, never below the minimum replicas or the reactive floor", TrimSteps[k], cut))
			b.LeanSteps = k + 1
			results, total = lp.Pools, lp.MonthlyCost
			plan.Unschedulable, plan.Warnings = lp.Unschedulable, lp.Warnings
			plan.Replicas = lp.Replicas
		}
		b.Cost = total
		if total > budget {
			b.Over = total - budget
			b.Warnings = append(b.Warnings, fmt.Sprintf("OVER BUDGET by %.2f a month (%.2f against %.2f) with all optional headroom trimmed; replicas are NOT cut below the minimums or the reactive floors to fit",
				b.Over, total, budget))
			if floorCost { // the leaner re-plans inside a budget leave it to the outer plan
				floors := make([]PodGroup, len(groups))
				bare := make([]Pool, len(pools))
				for g := range groups {
					floors[g] = groups[g]
					if f := groups[g].Floor; f > 0 && f < groups[g].Replicas {
						floors[g].Replicas = f
					}
				}
				for i := range pools {
					bare[i] = pools[i]
					bare[i].Headroom = HeadroomNone
				}
				if fp, err := PlanPools(bare, floors, 0); err == nil {
					b.FloorCost = fp.MonthlyCost
					if fp.MonthlyCost <= budget {
						b.Warnings = append(b.Warnings, fmt.Sprintf("without forecast headroom (every workload at its minimum or reactive floor) the pools would cost %.2f: the budget can be met only by planning for less than the forecast",
							fp.MonthlyCost))
					} else {
						b.Warnings = append(b.Warnings, fmt.Sprintf("even with every workload at its minimum or reactive floor the pools would cost %.2f: the budget can be met only by going BELOW the minimum replicas or the reactive floors (current usage), or by cheaper machines; raise the budget to at least %.2f",
							fp.MonthlyCost, fp.MonthlyCost))
					}
				}
			}
		}
		plan.Budget = b
	}
	for _, k := range packers {
		k.release()
	}
	plan.Pools = results
	plan.MonthlyCost = total
	if plan.Replicas == nil {
		plan.Replicas = make([]int, len(groups))
		for g := range groups {
			plan.Replicas[g] = groups[g].Replicas
		}
	}
	return plan, nil
}
