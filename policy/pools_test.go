package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const gi = 1 << 30

func general() Pool {
	return Pool{Name: "general", Machine: Resources{4, 16 * gi}, Overhead: Resources{0.2, 0.5 * gi}, Pods: 110,
		PricePerHour: 0.19, Min: 0, Max: 60, Zones: 1}
}

func group(name string, cpu, memGi float64, n int) PodGroup {
	return PodGroup{Target: Target{"Deployment", "shop", name}, Request: Resources{cpu, memGi * gi}, Replicas: n}
}

func TestPlanPools(t *testing.T) {
	tests := []struct {
		name      string
		pools     func() []Pool
		groups    []PodGroup
		budget    float64
		wantNodes []int
		wantUns   int // unschedulable pods
		check     func(t *testing.T, p *PoolPlan)
	}{
		{name: "7 pods of 1 core on 3.8-core nodes: 3 per node → 3 nodes", pools: func() []Pool { return []Pool{general()} },
			groups: []PodGroup{group("web", 1, 1, 7)}, wantNodes: []int{3}},
		{name: "overhead counts: 4 pods of 1 core need 2 nodes, not 1", pools: func() []Pool { return []Pool{general()} },
			groups: []PodGroup{group("web", 1, 1, 4)}, wantNodes: []int{2}},
		{name: "pods-per-node limit", pools: func() []Pool { p := general(); p.Pods = 5; return []Pool{p} },
			groups: []PodGroup{group("tiny", 0.01, 0.01, 12)}, wantNodes: []int{3}},
		{name: "first-fit decreasing fills gaps with small pods", pools: func() []Pool { return []Pool{general()} },
			// 3 × 2.5 cores: one per node, 1.3 free each; 3 × 1.2 cores fill those gaps.
			groups: []PodGroup{group("small", 1.2, 1, 3), group("big", 2.5, 1, 3)}, wantNodes: []int{3}},
		{name: "minimum size", pools: func() []Pool { p := general(); p.Min = 3; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 1)}, wantNodes: []int{3}},
		{name: "zones: each zone's share of the pods on its own nodes", pools: func() []Pool { p := general(); p.Zones = 3; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 7)}, wantNodes: []int{3}},
		{name: "pods spread over the zones", pools: func() []Pool { p := general(); p.Zones = 3; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 7), group("api", 0.5, 1, 2)}, wantNodes: []int{3},
			check: func(t *testing.T, p *PoolPlan) {
				perZone := map[int][]int{} // group → pods per zone
				for _, nf := range p.Pools[0].NodeFills {
					for _, gp := range nf.Groups {
						if perZone[gp.Group] == nil {
							perZone[gp.Group] = make([]int, 3)
						}
						perZone[gp.Group][nf.Zone] += gp.Pods
					}
				}
				// web: 7 = 3+2+2 in some order; api: 2 = 1+1+0, its remainder on other zones than web's.
				if fmt.Sprint(perZone[0]) != "[3 2 2]" || fmt.Sprint(perZone[1]) != "[0 1 1]" {
					t.Errorf("per zone %v", perZone)
				}
			}},
		{name: "n+1 adds a node", pools: func() []Pool { p := general(); p.Headroom = HeadroomNPlus1; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 9)}, wantNodes: []int{4},
			check: func(t *testing.T, p *PoolPlan) {
				if p.Pools[0].HeadroomNodes != 1 || !p.Pools[0].HeadroomMet {
					t.Errorf("headroom nodes %d met %v", p.Pools[0].HeadroomNodes, p.Pools[0].HeadroomMet)
				}
			}},
		{name: "n+1 with too little spare adds a node", pools: func() []Pool { p := general(); p.Headroom = HeadroomNPlus1; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 7)}, wantNodes: []int{4}}, // 3+3+1: losing a full node needs 3 slots, 2 free → add one
		{name: "n+1 costs nothing when the minimum leaves room", pools: func() []Pool { p := general(); p.Min = 2; p.Headroom = HeadroomNPlus1; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 3)}, wantNodes: []int{2},
			check: func(t *testing.T, p *PoolPlan) {
				if p.Pools[0].HeadroomNodes != 0 || !p.Pools[0].HeadroomMet {
					t.Errorf("headroom nodes %d", p.Pools[0].HeadroomNodes)
				}
			}},
		// 9 pods of 1 core over 3 zones: 3 per zone on one node each (0.8 core
		// free). Losing a zone needs 3 one-core slots in the others: a node in
		// zone 1 covers the loss of zone 0 or 2, and losing zone 1 (with that
		// node) needs another, in zone 0: 5 nodes, [2 2 1] — not a node in
		// every zone (6), which the old "every zone as large as the largest"
		// planned.
		{name: "zone headroom adds the nodes a zone's loss needs, one at a time", pools: func() []Pool { p := general(); p.Zones = 3; p.Headroom = HeadroomZone; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 9)}, wantNodes: []int{5},
			check: func(t *testing.T, p *PoolPlan) {
				if r := p.Pools[0]; fmt.Sprint(r.PerZone) != "[2 2 1]" || r.HeadroomNodes != 2 || !r.HeadroomMet {
					t.Errorf("per zone %v, %d headroom nodes, met %v; want [2 2 1], 2, true", r.PerZone, r.HeadroomNodes, r.HeadroomMet)
				}
			}},
		// 10 pods of 1 core over 3 zones: 4, 3, 3 pods, so 2, 1, 1 nodes. The
		// zones are within one node of each other already (a Cluster API
		// MachineDeployment or the cluster-autoscaler's balanced node groups
		// keep them so): 4 nodes, not 6.
		{name: "zones balanced within one node, not each as large as the largest", pools: func() []Pool { p := general(); p.Zones = 3; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 10)}, wantNodes: []int{4},
			check: func(t *testing.T, p *PoolPlan) {
				if r := p.Pools[0]; fmt.Sprint(r.PerZone) != "[2 1 1]" {
					t.Errorf("per zone %v, want [2 1 1]", r.PerZone)
				}
			}},
		{name: "zone headroom with one zone degrades to n+1, and says so", pools: func() []Pool { p := general(); p.Max = 5; p.Headroom = HeadroomZone; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 3)}, wantNodes: []int{2},
			check: func(t *testing.T, p *PoolPlan) {
				if r := p.Pools[0]; r.HeadroomMet || r.Headroom != HeadroomNPlus1 || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "with one zone") {
					t.Errorf("%+v", p.Pools[0])
				}
			}},
		{name: "zone headroom, a big deficit: one jump to the capacity bound", pools: func() []Pool { p := general(); p.Zones = 3; p.Headroom = HeadroomZone; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 90)}, wantNodes: []int{45}}, // 30 nodes of 3 pods; any zone's 30 pods need 10 more nodes elsewhere: 5 per zone
		{name: "least waste: memory-heavy pods go to the high-memory pool", pools: func() []Pool {
			hm := Pool{Name: "highmem", Machine: Resources{8, 64 * gi}, Pods: 110, PricePerHour: 0.5, Max: 10, Zones: 1}
			return []Pool{general(), hm}
		}, groups: []PodGroup{group("cache", 1, 8, 8)}, wantNodes: []int{0, 1}},
		{name: "equal waste: the cheaper pool", pools: func() []Pool {
			a := general()
			b := general()
			b.Name, b.PricePerHour = "cheap", 0.1
			return []Pool{a, b}
		}, groups: []PodGroup{group("web", 1, 1, 3)}, wantNodes: []int{0, 1}},
		{name: "a full pool spills into the next", pools: func() []Pool {
			a := general()
			a.Max = 2
			b := general()
			b.Name, b.PricePerHour = "spill", 0.3
			return []Pool{a, b}
		}, groups: []PodGroup{group("web", 1, 1, 10)}, wantNodes: []int{2, 2}},
		// web (flexible) would rather use the 2-core machines (1-core pods
		// waste half of one, 60 % of a 3.8-core one); batch is pinned there,
		// and the pool holds 2 nodes, 4 pods. Pinned groups are packed first:
		// batch fills it and web goes to 2 general nodes (3 + 1). In plan
		// order web took it and batch's 4 pods were unschedulable.
		{name: "pinned groups first: a flexible group does not take their only pool", pools: func() []Pool {
			small := Pool{Name: "small", Machine: Resources{2, 8 * gi}, Pods: 110, PricePerHour: 0.1, Max: 2, Zones: 1}
			return []Pool{general(), small}
		}, groups: []PodGroup{group("web", 1, 0, 4), {Target: Target{"Deployment", "batch", "batch"}, Request: Resources{1, 0}, Replicas: 4, Pool: "small"}},
			wantNodes: []int{2, 2}},
		{name: "demand that fits nowhere is reported", pools: func() []Pool { p := general(); p.Max = 1; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 5), group("huge", 8, 1, 2)}, wantNodes: []int{1}, wantUns: 4,
			check: func(t *testing.T, p *PoolPlan) {
				if len(p.Unschedulable) != 2 || !strings.Contains(p.Unschedulable[0].Reason, "can hold one pod") {
					t.Errorf("unschedulable %+v", p.Unschedulable)
				}
			}},
		{name: "pinned to an unknown pool", pools: func() []Pool { return []Pool{general()} },
			groups: []PodGroup{{Target: Target{Name: "x"}, Request: Resources{1, gi}, Replicas: 2, Pool: "gpu"}}, wantNodes: []int{0}, wantUns: 2},
		{name: "budget trims zone headroom to n+1 first", pools: func() []Pool { p := general(); p.Zones = 3; p.Headroom = HeadroomZone; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 9)}, budget: 0.19 * 730 * 4.5, wantNodes: []int{4},
			check: func(t *testing.T, p *PoolPlan) {
				b := p.Budget
				if b == nil || len(b.Trimmed) != 1 || b.Over != 0 || p.Pools[0].Headroom != HeadroomNPlus1 {
					t.Errorf("budget %+v headroom %v", b, p.Pools[0].Headroom)
				}
			}},
		{name: "over budget: what the floors would cost", pools: func() []Pool { return []Pool{general()} },
			groups: []PodGroup{{Target: Target{Name: "web"}, Request: Resources{1, gi}, Replicas: 9, Floor: 3}}, budget: 0.19 * 730 * 1.5, wantNodes: []int{3},
			check: func(t *testing.T, p *PoolPlan) {
				b := p.Budget
				if math.Abs(b.FloorCost-0.19*730) > 1e-6 || len(b.Warnings) != 2 || !strings.Contains(b.Warnings[1], "only by planning for less than the forecast") {
					t.Errorf("budget %+v", b)
				}
			}},
		{name: "over budget even at the floors: loud", pools: func() []Pool { return []Pool{general()} },
			groups: []PodGroup{{Target: Target{Name: "web"}, Request: Resources{1, gi}, Replicas: 9, Floor: 6}}, budget: 0.19 * 730 * 1.5, wantNodes: []int{3},
			check: func(t *testing.T, p *PoolPlan) {
				b := p.Budget
				if len(b.Warnings) != 2 || !strings.Contains(b.Warnings[1], "BELOW the minimum replicas or the reactive floors") {
					t.Errorf("budget %+v", b)
				}
			}},
		{name: "over budget even without headroom: loud, replicas kept", pools: func() []Pool { p := general(); p.Headroom = HeadroomNPlus1; return []Pool{p} },
			groups: []PodGroup{group("web", 1, 1, 9)}, budget: 100, wantNodes: []int{3},
			check: func(t *testing.T, p *PoolPlan) {
				b := p.Budget
				if b.Over <= 0 || len(b.Warnings) == 0 || !strings.Contains(b.Warnings[0], "OVER BUDGET") || p.Pools[0].Pods != 9 {
					t.Errorf("budget %+v", b)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanPools(tc.pools(), tc.groups, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			var nodes []int
			for _, r := range p.Pools {
				nodes = append(nodes, r.Nodes)
			}
			if fmt.Sprint(nodes) != fmt.Sprint(tc.wantNodes) {
				t.Errorf("nodes %v, want %v", nodes, tc.wantNodes)
			}
			uns := 0
			for _, u := range p.Unschedulable {
				uns += u.Pods
			}
			if uns != tc.wantUns {
				t.Errorf("unschedulable %d, want %d", uns, tc.wantUns)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			checkPlan(t, tc.pools(), tc.groups, p)
		})
	}
}

// zoneChecks and nodeChecks count the pools whose headroom checkPlan verified.
var zoneChecks, nodeChecks, leanChecks int

// checkPlan verifies invariants: no node overcommitted, every pod placed or
// reported, sizes within bounds, headroom modes that claim to be met are met.
func checkPlan(t *testing.T, pools []Pool, groups []PodGroup, p *PoolPlan) {
	t.Helper()
	placed := make([]int, len(groups))
	for i, r := range p.Pools {
		pool := pools[i]
		a := pool.allocatable()
		if r.Nodes > pool.Max || r.Nodes < pool.Min {
			t.Errorf("%s: %d nodes outside [%d, %d]", r.Name, r.Nodes, pool.Min, pool.Max)
		}
		for j, nf := range r.NodeFills {
			var sum Resources
			n := 0
			for _, gp := range nf.Groups {
				sum = sum.Add(groups[gp.Group].Request.Scale(float64(gp.Pods)))
				n += gp.Pods
				placed[gp.Group] += gp.Pods
			}
			if !sum.Fits(a) || n > pool.Pods {
				t.Errorf("%s node %d overcommitted: %+v of %+v, %d pods of %d", r.Name, j, sum, a, n, pool.Pods)
			}
		}
		if r.Headroom == HeadroomZone {
			zoneChecks++
			for z := range pool.Zones {
				if !lossSurvived(pools[i], groups, r.NodeFills, func(nf NodeFill) bool { return nf.Zone == z }) {
					t.Errorf("%s: claims zone headroom, but losing zone %d does not fit", r.Name, z)
				}
			}
		}
		if r.Headroom == HeadroomNPlus1 {
			nodeChecks++
			for j := range r.NodeFills {
				k := 0
				if !lossSurvived(pools[i], groups, r.NodeFills, func(NodeFill) bool { k++; return k-1 == j }) {
					t.Errorf("%s: claims n+1 headroom, but losing node %d does not fit", r.Name, j)
				}
			}
		}
	}
	for _, u := range p.Unschedulable {
		for g := range groups {
			if groups[g].Target == u.Target {
				placed[g] += u.Pods
				break
			}
		}
	}
	for g := range groups {
		grp := groups[g]
		if placed[g] != p.Replicas[g] {
			t.Errorf("%s: %d pods placed or reported of %d planned", grp.Target, placed[g], p.Replicas[g])
		}
		// Never more than asked, never below the floor, and only ever a leaner plan the caller offered.
		ok := p.Replicas[g] == grp.Replicas
		if b := p.Budget; b != nil && b.LeanSteps > 0 && b.LeanSteps <= len(grp.Leaner) {
			ok = ok || p.Replicas[g] == min(grp.Replicas, max(grp.Leaner[b.LeanSteps-1], grp.Floor))
		}
		if !ok || p.Replicas[g] > grp.Replicas || p.Replicas[g] < min(grp.Floor, grp.Replicas) {
			t.Errorf("%s: planned %d of %d (floor %d, leaner %v, budget %+v)", grp.Target, p.Replicas[g], grp.Replicas, grp.Floor, grp.Leaner, p.Budget)
		}
	}
	if b := p.Budget; b != nil && b.Cost > b.Needed+1e-6 {
		t.Errorf("the budget's trims cost more: %.2f against %.2f untrimmed", b.Cost, b.Needed)
	}
}

// lossSurvived re-checks a loss independently of the packer: the evicted pods,
// largest first, must fit first-fit into the survivors' free capacity.
func lossSurvived(pool Pool, groups []PodGroup, fills []NodeFill, lost func(NodeFill) bool) bool {
	a := pool.allocatable()
	var free []Resources
	var slots []int
	var evicted []Resources
	for _, nf := range fills {
		if lost(nf) {
			for _, gp := range nf.Groups {
				for range gp.Pods {
					evicted = append(evicted, groups[gp.Group].Request)
				}
			}
			continue
		}
		free = append(free, a.Sub(nf.Requested))
		slots = append(slots, pool.Pods-nf.Pods)
	}
	for i := range evicted {
		for j := i + 1; j < len(evicted); j++ {
			if max(evicted[j].CPU/a.CPU, evicted[j].Memory/a.Memory) > max(evicted[i].CPU/a.CPU, evicted[i].Memory/a.Memory) {
				evicted[i], evicted[j] = evicted[j], evicted[i]
			}
		}
	}
next:
	for _, e := range evicted {
		for j := range free {
			if slots[j] > 0 && e.Fits(free[j]) {
				free[j] = free[j].Sub(e)
				slots[j]--
				continue next
			}
		}
		return false
	}
	return true
}

// Property: random pools and groups never overcommit a node, never lose a
// pod, and a zone plan that claims to survive the loss of any zone does.
func TestPlanPoolsProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2026))
	zoneChecks, nodeChecks, leanChecks = 0, 0, 0
	for trial := range 600 {
		var pools []Pool
		for i := range 1 + rng.IntN(3) {
			p := Pool{Name: fmt.Sprintf("p%d", i), Machine: Resources{float64(int(2) << rng.IntN(4)), float64(int(4)<<rng.IntN(4)) * gi},
				Overhead: Resources{0.1 * float64(rng.IntN(3)), 0.25 * gi * float64(rng.IntN(3))}, Pods: 4 + rng.IntN(60),
				PricePerHour: 0.05 + rng.Float64(), Min: rng.IntN(3), Zones: 1 + rng.IntN(3)}
			p.Max = p.Min + 1 + rng.IntN(40)
			p.Headroom = HeadroomMode(rng.IntN(3))
			if p.Headroom == HeadroomZone && p.Zones < 2 {
				p.Zones = 2
			}
			pools = append(pools, p)
		}
		var groups []PodGroup
		for g := range 1 + rng.IntN(30) {
			grp := PodGroup{Target: Target{Name: fmt.Sprintf("w%d", g)},
				Request:  Resources{0.05 + 3*rng.Float64()*rng.Float64(), (0.1 + 8*rng.Float64()*rng.Float64()) * gi},
				Replicas: rng.IntN(25)}
			if rng.IntN(2) == 0 && grp.Replicas > 0 { // leaner plans and a floor, as Trims and the planner give them
				grp.Floor = 1 + rng.IntN(grp.Replicas)
				med := rng.IntN(grp.Replicas + 1)
				grp.Leaner = []int{med, rng.IntN(med + 1)}
			}
			groups = append(groups, grp)
		}
		budget := 0.0
		if rng.IntN(3) == 0 {
			budget = 200 + rng.Float64()*3000
		}
		p, err := PlanPools(pools, groups, budget)
		if err != nil {
			t.Fatal(err)
		}
		if p.Budget != nil && p.Budget.LeanSteps > 0 {
			leanChecks++
		}
		t.Run(fmt.Sprint(trial), func(t *testing.T) { checkPlan(t, pools, groups, p) })
	}
	if zoneChecks < 50 || nodeChecks < 50 {
		t.Errorf("only %d zone and %d n+1 plans verified: the generator no longer exercises headroom", zoneChecks, nodeChecks)
	}
	if leanChecks < 20 {
		t.Errorf("only %d plans trimmed forecast headroom: the generator no longer exercises it", leanChecks)
	}
	t.Logf("verified %d zone-headroom and %d n+1 plans, %d with forecast headroom trimmed", zoneChecks, nodeChecks, leanChecks)
}
