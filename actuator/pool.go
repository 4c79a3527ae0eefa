package actuator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/headroom-dev/headroom/policy"
)

// ManagedBy is the app.kubernetes.io/managed-by label value of the objects
// headroom creates.
const ManagedBy = "headroom"

// ErrUnknownPool is returned for a pool the plan does not name: headroom
// never touches capacity the plan does not own.
var ErrUnknownPool = errors.New("actuator: node pool not in the plan")

// PoolRequest is one node pool's planned capacity for a run.
type PoolRequest struct {
	Pool string
	// Nodes is the planned size (policy.PoolResult.Nodes).
	Nodes int
	// DemandNodes are the nodes the real pods need
	// (policy.PoolResult.DemandNodes), or -1 when unknown. Only the balloon
	// provider needs it: it holds Nodes − DemandNodes nodes' worth of
	// placeholder pods.
	DemandNodes int
	Reason      string
}

// PoolProvider changes one node pool's capacity: a Cluster API
// MachineDeployment, a GKE node pool, a balloon Deployment. Like an
// Actuator, it reads first and writes only on change; an error means
// nothing was changed.
type PoolProvider interface {
	SetPool(ctx context.Context, now time.Time, r PoolRequest) (Action, error)
}

// Pools dispatches each pool's SetPoolSize to the provider the plan names
// for it (see NewPoolsFromPlan). It implements the SetPoolSize half of
// Actuator, so a runner combines it with the workload actuator. It is safe
// for concurrent use when its providers are.
type Pools struct {
	mu        sync.Mutex
	providers map[string]PoolProvider
	demand    map[string]int
}

// NewPools dispatches to providers by pool name.
func NewPools(providers map[string]PoolProvider) *Pools {
	p := &Pools{providers: map[string]PoolProvider{}, demand: map[string]int{}}
	for name, pr := range providers {
		p.providers[name] = pr
	}
	return p
}

// Names lists the pools, sorted.
func (p *Pools) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.providers))
	for n := range p.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Provider is the pool's provider, or nil.
func (p *Pools) Provider(pool string) PoolProvider {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.providers[pool]
}

// Sizers maps every pool to p, for KubeOptions.Pools: Kube.SetPoolSize
// delegates here and records each pool action (an Event on the provider's
// Action.Object, a decision-log row).
func (p *Pools) Sizers() map[string]PoolSizer {
	out := map[string]PoolSizer{}
	for _, n := range p.Names() {
		out[n] = p
	}
	return out
}

// SetDemand records the nodes the real pods of a pool need this run
// (policy.PoolResult.DemandNodes), which balloon pools need to size their
// placeholder. Call it, or SetPlan, before SetPoolSize.
func (p *Pools) SetDemand(pool string, demandNodes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.demand[pool] = demandNodes
}

// SetPlan records every pool's demand from a pool plan.
func (p *Pools) SetPlan(plan policy.PoolPlan) {
	for _, r := range plan.Pools {
		p.SetDemand(r.Name, r.DemandNodes)
	}
}

// SetPoolSize sets the pool's planned size through its provider.
func (p *Pools) SetPoolSize(ctx context.Context, now time.Time, pool string, nodes int, reason string) (Action, error) {
	p.mu.Lock()
	pr, ok := p.providers[pool]
	demand, known := p.demand[pool]
	p.mu.Unlock()
	if !ok {
		return Action{Time: now, Kind: KindPoolSize, Pool: pool, From: -1, To: nodes, Reason: reason}, fmt.Errorf("%w: %q", ErrUnknownPool, pool)
	}
	if !known {
		demand = -1
	}
	if nodes < 0 {
		return Action{Time: now, Kind: KindPoolSize, Pool: pool, From: -1, To: nodes, Reason: reason}, fmt.Errorf("actuator: pool %s: negative size %d", pool, nodes)
	}
	return pr.SetPool(ctx, now, PoolRequest{Pool: pool, Nodes: nodes, DemandNodes: demand, Reason: reason})
}

// Recommend is the provider of pools with provider none: it changes
// nothing and reports the planned size as a held recommendation.
type Recommend struct{}

// SetPool reports the plan and changes nothing.
func (Recommend) SetPool(_ context.Context, now time.Time, r PoolRequest) (Action, error) {
	return Action{Time: now, Kind: KindPoolSize, Pool: r.Pool, From: -1, To: r.Nodes,
		Reason: joinReason(r.Reason, "provider none: recommendation only")}, nil
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
