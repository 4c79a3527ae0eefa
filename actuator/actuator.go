package actuator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/headroom-dev/headroom/policy"
)

// Kind is what an Action changed.
type Kind int

// Action kinds. The zero value, KindUnknown, means a bug.
const (
	KindUnknown Kind = iota
	// KindReplicas set a workload's desired replicas.
	KindReplicas
	// KindPoolSize set a node pool's desired node count.
	KindPoolSize
	// KindHPAFloor set the minReplicas of a workload's HorizontalPodAutoscaler.
	KindHPAFloor
)

func (k Kind) String() string {
	switch k {
	case KindReplicas:
		return "replicas"
	case KindPoolSize:
		return "pool-size"
	case KindHPAFloor:
		return "hpa-floor"
	}
	return "unknown (bug)"
}

// MarshalText writes the kind name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Action is what an actuator did (or, for a dry run, would do).
type Action struct {
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// Target is set for KindReplicas, Pool for KindPoolSize.
	Target policy.Target `json:"target"`
	Pool   string        `json:"pool,omitempty"`
	// From is the count before (-1 when unknown), To the count set.
	From int `json:"from"`
	To   int `json:"to"`
	// Changed is false when the count already was To: nothing was written.
	Changed bool   `json:"changed"`
	Reason  string `json:"reason,omitempty"`
	// The Kubernetes actuator also says how it acted: the target's mode, the
	// HPA it changed in hpa-floor mode, whether the write was a server-side
	// dry run, how many 409 conflicts it retried, and what it could not record
	// (an Event, an annotation or a decision-log row: the change itself stands).
	Mode      string   `json:"mode,omitempty"`
	HPA       string   `json:"hpa,omitempty"`
	DryRun    bool     `json:"dryRun,omitempty"`
	Conflicts int      `json:"conflicts,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	// Object is, for a node-pool action, the Kubernetes object the provider
	// changed or would change (the Cluster API MachineDeployment, the balloon
	// Deployment): Kube records the action's Event on it. Nil for providers
	// without one (GKE) and for workload actions (Target names the object).
	Object *corev1.ObjectReference `json:"object,omitempty"`
}

func (a Action) String() string {
	name := a.Target.String()
	if a.Kind == KindPoolSize {
		name = "pool/" + a.Pool
	}
	if !a.Changed {
		return fmt.Sprintf("%s %s: held at %d", name, a.Kind, a.To)
	}
	return fmt.Sprintf("%s %s: %d → %d", name, a.Kind, a.From, a.To)
}

// Actuator applies decisions. Implementations write only when the count
// differs (idempotent), and report what they did; an error means nothing
// was changed for that call.
type Actuator interface {
	// SetReplicas sets the desired replicas of a workload (in hpa-floor mode
	// the caller passes the HPA's minReplicas; the implementation knows the mode).
	SetReplicas(ctx context.Context, now time.Time, t policy.Target, replicas int32, reason string) (Action, error)
	// SetPoolSize sets the desired node count of a node pool.
	SetPoolSize(ctx context.Context, now time.Time, pool string, nodes int, reason string) (Action, error)
}

// DryRun records the actions it would take and changes nothing. Counts it
// has not set before are unknown (From is -1) unless seeded in Replicas or
// Pools. The zero value is ready to use; it is not safe for concurrent use.
type DryRun struct {
	Replicas map[policy.Target]int32
	Pools    map[string]int
	Actions  []Action
}

// SetReplicas records the change.
func (d *DryRun) SetReplicas(_ context.Context, now time.Time, t policy.Target, replicas int32, reason string) (Action, error) {
	if d.Replicas == nil {
		d.Replicas = map[policy.Target]int32{}
	}
	from := -1
	if r, ok := d.Replicas[t]; ok {
		from = int(r)
	}
	a := Action{Time: now, Kind: KindReplicas, Target: t, From: from, To: int(replicas), Changed: from != int(replicas), Reason: reason}
	d.Replicas[t] = replicas
	d.Actions = append(d.Actions, a)
	return a, nil
}

// SetPoolSize records the change.
func (d *DryRun) SetPoolSize(_ context.Context, now time.Time, pool string, nodes int, reason string) (Action, error) {
	if d.Pools == nil {
		d.Pools = map[string]int{}
	}
	from := -1
	if n, ok := d.Pools[pool]; ok {
		from = n
	}
	a := Action{Time: now, Kind: KindPoolSize, Pool: pool, From: from, To: nodes, Changed: from != nodes, Reason: reason}
	d.Pools[pool] = nodes
	d.Actions = append(d.Actions, a)
	return a, nil
}
