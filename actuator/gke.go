package actuator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	container "google.golang.org/api/container/v1"
	"google.golang.org/api/googleapi"

	"github.com/headroom-dev/headroom/internal/ctxsleep"
)

// GKE defaults.
const (
	DefaultGKEPollInterval = 5 * time.Second
	DefaultGKETimeout      = 10 * time.Minute
	DefaultGKERetries      = 4
)

// ErrOperationPending is wrapped by the error of a GKE change whose
// operation was accepted but not DONE within the wait: the change was
// requested and may still complete.
var ErrOperationPending = errors.New("actuator: GKE operation not done within the wait")

// GKE sets a GKE node pool's size (setSize, what gcloud container clusters
// resize --num-nodes calls) or, for a pool that runs GKE's cluster
// autoscaler, its autoscaling minimum (setAutoscaling), through
// google.golang.org/api/container/v1, and waits for the returned
// operation.
//
// GKE sizes are per zone: a pool in 3 zones set to 4 has 12 nodes. The
// provider sets ceil(nodes / zones) per zone and reports the total it set;
// the zones are the pool's locations, or the cluster's when the pool lists
// none.
// The current size is read from the pool's initialNodeCount, which a resize
// updates; a pool whose autoscaler uses total limits (totalMinNodeCount,
// totalMaxNodeCount) gets its total minimum set instead.
type GKE struct {
	Service                              *container.Service
	Project, Location, Cluster, NodePool string
	// Autoscaling: raise the autoscaling minimum instead of setting the size.
	Autoscaling bool
	// DryRun reads the pool and reports what it would set; GKE has no
	// server-side dry run, so nothing is sent.
	DryRun bool
	// PollInterval between operation reads; zero means DefaultGKEPollInterval.
	PollInterval time.Duration
	// Timeout bounds the wait for the operation, counted in the intervals
	// slept; zero means DefaultGKETimeout.
	Timeout time.Duration
	// Retries of a request answered 409 (another operation on the cluster),
	// 429 or 5xx; zero means DefaultGKERetries, negative none.
	Retries int
	// Sleep waits d or until ctx ends; nil means a real timer. Tests inject
	// one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (g *GKE) name() string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s/nodePools/%s", g.Project, g.Location, g.Cluster, g.NodePool)
}

func (g *GKE) sleep(ctx context.Context, d time.Duration) error {
	if g.Sleep != nil {
		return g.Sleep(ctx, d)
	}
	return ctxsleep.Sleep(ctx, d)
}

func (g *GKE) interval() time.Duration {
	if g.PollInterval > 0 {
		return g.PollInterval
	}
	return DefaultGKEPollInterval
}

// transient reports errors worth retrying: another operation in progress
// (409), rate limits (429), server errors (5xx).
func transient(err error) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	return ge.Code == http.StatusConflict || ge.Code == http.StatusTooManyRequests || ge.Code >= 500
}

// call runs fn, retrying transient errors with a doubling wait from the
// poll interval.
func (g *GKE) call(ctx context.Context, fn func() error) error {
	retries := g.Retries
	if retries == 0 {
		retries = DefaultGKERetries
	}
	wait := g.interval()
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !transient(err) || attempt >= retries {
			if err != nil && transient(err) && retries > 0 {
				return fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			return err
		}
		if err := g.sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
	}
}

// SetPool reads the pool and, when the size (or autoscaling minimum)
// differs, changes it and waits for the operation to be DONE. On an error
// the Action says what was attempted, with Changed false.
func (g *GKE) SetPool(ctx context.Context, now time.Time, r PoolRequest) (Action, error) {
	a := Action{Time: now, Kind: KindPoolSize, Pool: r.Pool, From: -1, To: r.Nodes, Reason: r.Reason, DryRun: g.DryRun}
	fail := func(format string, args ...any) (Action, error) {
		a.Changed = false
		return a, fmt.Errorf("actuator: pool %s: gke %s: %s", r.Pool, g.name(), fmt.Sprintf(format, args...))
	}
	pools := g.Service.Projects.Locations.Clusters.NodePools
	var np *container.NodePool
	err := g.call(ctx, func() (err error) {
		np, err = pools.Get(g.name()).Context(ctx).Do()
		return err
	})
	if err != nil {
		return fail("read: %v", err)
	}
	locations := np.Locations
	if len(locations) == 0 {
		// A pool without its own locations runs in the cluster's.
		var c *container.Cluster
		err := g.call(ctx, func() (err error) {
			c, err = g.Service.Projects.Locations.Clusters.Get(fmt.Sprintf("projects/%s/locations/%s/clusters/%s", g.Project, g.Location, g.Cluster)).Context(ctx).Do()
			return err
		})
		if err != nil {
			return fail("read the cluster's locations: %v", err)
		}
		locations = c.Locations
	}
	zones := max(len(locations), 1)
	perZone := (r.Nodes + zones - 1) / zones
	var do func() (*container.Operation, error)
	as := np.Autoscaling
	switch {
	case g.Autoscaling:
		if as == nil || !as.Enabled {
			return fail("the plan says the pool autoscales, but its autoscaling is not enabled")
		}
		want := *as
		want.ForceSendFields = nil
		if as.TotalMinNodeCount > 0 || as.TotalMaxNodeCount > 0 {
			a.From, a.To = int(as.TotalMinNodeCount), r.Nodes
			if as.TotalMaxNodeCount > 0 && int64(r.Nodes) > as.TotalMaxNodeCount {
				return fail("minimum %d exceeds the pool's totalMaxNodeCount %d", r.Nodes, as.TotalMaxNodeCount)
			}
			want.TotalMinNodeCount = int64(r.Nodes)
			want.ForceSendFields = []string{"TotalMinNodeCount"}
			a.Reason = joinReason(a.Reason, fmt.Sprintf("autoscaling total minimum %d", r.Nodes))
		} else {
			a.From, a.To = int(as.MinNodeCount)*zones, perZone*zones
			if int64(perZone) > as.MaxNodeCount {
				return fail("minimum %d per zone exceeds the pool's maxNodeCount %d", perZone, as.MaxNodeCount)
			}
			want.MinNodeCount = int64(perZone)
			want.ForceSendFields = []string{"MinNodeCount"}
			a.Reason = joinReason(a.Reason, fmt.Sprintf("autoscaling minimum %d per zone × %d zones", perZone, zones))
		}
		do = func() (*container.Operation, error) {
			return pools.SetAutoscaling(g.name(), &container.SetNodePoolAutoscalingRequest{Autoscaling: &want}).Context(ctx).Do()
		}
	default:
		if as != nil && as.Enabled {
			return fail("the pool runs GKE's autoscaler, which would undo a resize: set gke.autoscaling: true to raise its minimum instead")
		}
		a.From, a.To = int(np.InitialNodeCount)*zones, perZone*zones
		a.Reason = joinReason(a.Reason, fmt.Sprintf("size %d per zone × %d zones", perZone, zones))
		do = func() (*container.Operation, error) {
			return pools.SetSize(g.name(), &container.SetNodePoolSizeRequest{NodeCount: int64(perZone), ForceSendFields: []string{"NodeCount"}}).Context(ctx).Do()
		}
	}
	if a.From == a.To {
		return a, nil
	}
	a.Changed = true
	if g.DryRun {
		a.Reason = joinReason(a.Reason, "dry run: not sent")
		return a, nil
	}
	var op *container.Operation
	if err := g.call(ctx, func() (err error) { op, err = do(); return err }); err != nil {
		return fail("%v", err)
	}
	if err := g.wait(ctx, op); err != nil {
		if errors.Is(err, ErrOperationPending) {
			// The change was accepted: report it with the error.
			return a, fmt.Errorf("actuator: pool %s: gke %s: %w", r.Pool, g.name(), err)
		}
		return fail("%v", err)
	}
	return a, nil
}

// wait polls projects.locations.operations.get until the operation is DONE,
// for at most the timeout.
func (g *GKE) wait(ctx context.Context, op *container.Operation) error {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultGKETimeout
	}
	name := fmt.Sprintf("projects/%s/locations/%s/operations/%s", g.Project, g.Location, op.Name)
	var waited time.Duration
	for {
		if op.Status == "DONE" {
			// error is the failure; statusMessage, deprecated, is set only
			// on failure too.
			if e := op.Error; e != nil && (e.Code != 0 || e.Message != "") {
				return fmt.Errorf("operation %s failed: %s (code %d)", op.Name, e.Message, e.Code)
			}
			if op.StatusMessage != "" {
				return fmt.Errorf("operation %s failed: %s", op.Name, op.StatusMessage)
			}
			return nil
		}
		if waited >= timeout {
			return fmt.Errorf("%w: %s still %s after %v", ErrOperationPending, op.Name, op.Status, waited)
		}
		if err := g.sleep(ctx, g.interval()); err != nil {
			return err
		}
		waited += g.interval()
		err := g.call(ctx, func() (err error) {
			op, err = g.Service.Projects.Locations.Operations.Get(name).Context(ctx).Do()
			return err
		})
		if err != nil {
			return fmt.Errorf("read operation %s: %w", name, err)
		}
	}
}
