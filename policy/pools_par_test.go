package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// parFleet is pools large enough for the parallel headroom checks (zone
// headroom over 3 zones, n+1 over one zone, where no node is left empty and
// every node's loss is checked) and groups for them from a seed; some are
// pinned.
func parFleet(seed uint64) ([]Pool, []PodGroup) {
	rng := rand.New(rand.NewPCG(seed, 7))
	pools := []Pool{
		{Name: "zone", Machine: Resources{16, 64 * gi}, Overhead: Resources{0.5, 1 * gi}, Pods: 110, PricePerHour: 0.8, Max: 3000, Zones: 3, Headroom: HeadroomZone},
		{Name: "n1", Machine: Resources{8, 32 * gi}, Overhead: Resources{0.25, 0.5 * gi}, Pods: 20, PricePerHour: 0.45, Max: 3000, Zones: 1, Headroom: HeadroomNPlus1},
		{Name: "mem", Machine: Resources{4, 64 * gi}, Pods: 110, PricePerHour: 0.6, Max: 3000, Zones: 2, Headroom: HeadroomZone},
	}
	groups := make([]PodGroup, 1500)
	for g := range groups {
		r := rng.Float64()
		groups[g] = PodGroup{Target: Target{"Deployment", "par", fmt.Sprint("w", g)},
			Request: Resources{0.1 + 1.9*r*r, (0.25 + 3.75*rng.Float64()) * gi}, Replicas: 1 + rng.IntN(30)}
		switch rng.IntN(10) {
		case 0, 3:
			groups[g].Pool = "n1"
		case 1:
			groups[g].Pool = "zone"
		case 2:
			groups[g].Request.Memory *= 4
		}
		if rng.IntN(2) == 0 {
			groups[g].Floor = 1 + rng.IntN(groups[g].Replicas)
			groups[g].Leaner = []int{groups[g].Floor + rng.IntN(groups[g].Replicas-groups[g].Floor+1), groups[g].Floor}
		}
	}
	return pools, groups
}

// PlanPools runs its headroom checks and pools on several goroutines: the
// plan (every node's fill included) is the same for any GOMAXPROCS.
func TestPlanPoolsSameForAnyGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for seed := range uint64(2) {
		pools, groups := parFleet(seed)
		for _, budget := range []float64{0, 1e6} {
			runtime.GOMAXPROCS(1)
			want, err := PlanPools(pools, groups, budget)
			if err != nil {
				t.Fatal(err)
			}
			// The fleet takes the parallel paths: pools of hundreds of
			// nodes, the n+1 pool without an empty node before its headroom.
			for _, r := range want.Pools {
				if r.DemandNodes < minParallelNodes {
					t.Fatalf("seed %d: pool %s has %d demand nodes, under %d: the parallel checks are not exercised", seed, r.Name, r.DemandNodes, minParallelNodes)
				}
				if r.Name == "n1" && r.HeadroomNodes != 1 && budget == 0 {
					t.Fatalf("seed %d: n+1 pool has %d headroom nodes, want 1 (no empty node before it)", seed, r.HeadroomNodes)
				}
			}
			if budget > 0 && (want.Budget == nil || len(want.Budget.Trimmed) == 0) {
				t.Fatalf("seed %d: budget %v trims nothing: %+v", seed, budget, want.Budget)
			}
			sameOnProcs(t, pools, groups, budget, want, fmt.Sprintf("seed %d, budget %v", seed, budget))
		}
	}
}

// With the parallel paths taken at any size, random small plans (budgets,
// pinned groups, pools that reach their maximum, so that packZones gives up
// and the sequential packing spills) are the same on one proc and on
// several.
func TestPlanPoolsParallelSmall(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(pods, nodes int) { minParallelPods, minParallelNodes = pods, nodes }(minParallelPods, minParallelNodes)
	minParallelPods, minParallelNodes = 0, 0
	rng := rand.New(rand.NewPCG(11, 4))
	spilled, packed := 0, 0
	for trial := range 400 {
		var pools []Pool
		np := 1 + rng.IntN(3)
		for i := range np {
			p := Pool{Name: fmt.Sprintf("p%d", i), Machine: Resources{float64(int(2) << rng.IntN(4)), float64(int(4)<<rng.IntN(4)) * gi},
				Overhead: Resources{0.1 * float64(rng.IntN(3)), 0.25 * gi * float64(rng.IntN(3))}, Pods: 4 + rng.IntN(60),
				PricePerHour: 0.05 + rng.Float64(), Min: rng.IntN(3), Zones: 1 + rng.IntN(4), Headroom: HeadroomMode(rng.IntN(3))}
			p.Max = p.Min + 1 + rng.IntN(60)
			pools = append(pools, p)
		}
		var groups []PodGroup
		for g := range 1 + rng.IntN(60) {
			grp := PodGroup{Target: Target{Name: fmt.Sprint("w", g)},
				Request:  Resources{0.05 + 3*rng.Float64()*rng.Float64(), (0.1 + 8*rng.Float64()*rng.Float64()) * gi},
				Replicas: rng.IntN(25)}
			if rng.IntN(8) == 0 {
				grp.Pool = fmt.Sprint("p", rng.IntN(np+1)) // one name matches no pool
			}
			if rng.IntN(2) == 0 && grp.Replicas > 0 {
				grp.Floor = 1 + rng.IntN(grp.Replicas)
				grp.Leaner = []int{grp.Floor + rng.IntN(grp.Replicas-grp.Floor+1), grp.Floor}
			}
			groups = append(groups, grp)
		}
		budget := 0.0
		if rng.IntN(3) == 0 {
			budget = 200 + rng.Float64()*3000
		}
		runtime.GOMAXPROCS(1)
		want, err := PlanPools(pools, groups, budget)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range want.Unschedulable {
			if strings.HasPrefix(u.Reason, "pools at their maximum size") {
				spilled++ // packZones cannot have planned this
				break
			}
		}
		packed++
		sameOnProcs(t, pools, groups, budget, want, fmt.Sprintf("trial %d", trial))
	}
	if spilled < 40 || packed-spilled < 40 {
		t.Errorf("%d of %d plans had pools at their maximum: the generator no longer exercises both the parallel packing and its fallback", spilled, packed)
	}
}

// firstFailing on several goroutines returns the sequential answer, the
// least failing index, after checking every index below it.
func TestFirstFailing(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	rng := rand.New(rand.NewPCG(3, 3))
	for trial := range 300 {
		n := rng.IntN(40)
		fails := make([]bool, n)
		want := -1
		for i := range fails {
			fails[i] = rng.IntN(8) == 0
			if fails[i] && want < 0 {
				want = i
			}
		}
		for _, par := range []bool{false, true} {
			checked := make([]atomic.Bool, n)
			got := firstFailing(n, par, func(sv *survival, i int) bool {
				if sv == nil {
					t.Error("no scratch")
				}
				checked[i].Store(true)
				return !fails[i]
			})
			if got != want {
				t.Fatalf("trial %d, par %v: %d, want %d (fails %v)", trial, par, got, want, fails)
			}
			end := n
			if want >= 0 {
				end = want + 1
			}
			for i := range end {
				if !checked[i].Load() {
					t.Fatalf("trial %d, par %v: index %d below the result not checked", trial, par, i)
				}
			}
		}
	}
}

func TestForEach(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(3)
	for _, n := range []int{0, 1, 2, 5, 100} {
		for _, par := range []bool{false, true} {
			calls := make([]atomic.Int32, n)
			forEach(n, par, func(i int) { calls[i].Add(1) })
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Fatalf("n %d, par %v: f(%d) called %d times", n, par, i, c)
				}
			}
		}
	}
}

// withHeadroom does not check again a zone whose loss the nodes survived:
// first fit puts the evicted pods where they went before, since a node
// added later comes last. Random nodes and evicted groups, in a random
// re-packing order: a survived loss is survived with an empty node added.
func TestSurvivalKeepsWithNodeAdded(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	alloc := Resources{8, 32 * gi}
	sv := new(survival)
	helped, kept := 0, 0
	for range 2000 {
		groups := make([]PodGroup, 1+rng.IntN(12))
		for g := range groups {
			groups[g].Request = Resources{0.1 + 3*rng.Float64(), (0.1 + 8*rng.Float64()) * gi}
		}
		c := &checker{groups: groups, rank: rng.Perm(len(groups))}
		zones := 2 + rng.IntN(2)
		nodes := make([]node, 2+rng.IntN(20))
		for i := range nodes {
			nd := &nodes[i]
			nd.zone, nd.free, nd.freePods = rng.IntN(zones), alloc, 10
			for range rng.IntN(4) {
				g := rng.IntN(len(groups))
				n := fitCount(nd.free, nd.freePods, groups[g].Request, 1+rng.IntN(3))
				if n > 0 {
					nd.free = nd.free.Sub(groups[g].Request.Scale(float64(n)))
					nd.freePods -= n
					nd.groups = append(nd.groups, GroupPods{g, n})
				}
			}
		}
		for z := range zones {
			lost := func(i int) bool { return nodes[i].zone == z }
			before := c.survives(sv, nodes, lost)
			more := append(slices.Clone(nodes), node{free: alloc, freePods: 10, zone: rng.IntN(zones), headroom: true})
			after := c.survives(sv, more, func(i int) bool { return more[i].zone == z })
			if before && !after {
				t.Fatalf("zone %d: survived with %d nodes, not with an empty one added", z, len(nodes))
			}
			if before {
				kept++
			} else if after {
				helped++
			}
		}
	}
	if kept < 100 || helped < 100 {
		t.Errorf("%d survived losses, %d helped by the added node: the generator no longer exercises both", kept, helped)
	}
}

// sameOnProcs plans again on 2 and 4 procs (the caller restores
// GOMAXPROCS) and fails unless each plan equals want, the plan on one.
func sameOnProcs(t *testing.T, pools []Pool, groups []PodGroup, budget float64, want *PoolPlan, what string) {
	t.Helper()
	for _, procs := range []int{2, 4} {
		runtime.GOMAXPROCS(procs)
		got, err := PlanPools(pools, groups, budget)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the plan on %d procs differs from the plan on one", what, procs)
		}
	}
}
