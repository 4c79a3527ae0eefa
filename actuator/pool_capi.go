package actuator

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/util/retry"
)

// MachineDeployments is the Cluster API MachineDeployment resource.
var MachineDeployments = schema.GroupResource{Group: "cluster.x-k8s.io", Resource: "machinedeployments"}

// ConflictRetry bounds the re-reads after a 409 Conflict: five attempts,
// 10 ms apart and growing (client-go's retry.DefaultRetry).
var ConflictRetry = retry.DefaultRetry

// ClusterAPI sets a Cluster API MachineDeployment's replicas through its
// /scale subresource, with k8s.io/client-go/scale (whose REST mapper finds
// the served version), as cluster-autoscaler's clusterapi provider and
// kubectl scale do.
type ClusterAPI struct {
	Scales scale.ScalesGetter
	// Resource defaults to MachineDeployments; a MachineSet or MachinePool
	// with a scale subresource works too.
	Resource        schema.GroupResource
	Namespace, Name string
	// DryRun sends the update with dryRun=All: the API server validates and
	// admits it and stores nothing.
	DryRun bool
	// Retry bounds the attempts after a conflict; zero means ConflictRetry.
	Retry wait.Backoff
}

// SetPool reads the scale subresource and, when spec.replicas differs,
// updates it with the resourceVersion it read; a conflict (someone else
// wrote in between) re-reads and retries, a bounded number of times. On an
// error the Action says what was attempted, with Changed false.
func (c *ClusterAPI) SetPool(ctx context.Context, now time.Time, r PoolRequest) (Action, error) {
	gr := c.Resource
	if gr.Empty() {
		gr = MachineDeployments
	}
	backoff := c.Retry
	if backoff.Steps == 0 {
		backoff = ConflictRetry
	}
	a := Action{Time: now, Kind: KindPoolSize, Pool: r.Pool, From: -1, To: r.Nodes, Reason: r.Reason, DryRun: c.DryRun}
	opts := metav1.UpdateOptions{}
	if c.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	sc := c.Scales.Scales(c.Namespace)
	err := retry.RetryOnConflict(backoff, func() error {
		cur, err := sc.Get(ctx, gr, c.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		a.From = int(cur.Spec.Replicas)
		if cur.Spec.Replicas == int32(r.Nodes) {
			a.Changed = false
			return nil
		}
		cur.Spec.Replicas = int32(r.Nodes)
		if _, err := sc.Update(ctx, gr, cur, opts); err != nil {
			return err
		}
		a.Changed = true
		return nil
	})
	if err != nil {
		what := "scale"
		if apierrors.IsConflict(err) {
			what = "scale (conflicts persisted)"
		}
		a.Changed = false
		return a, fmt.Errorf("actuator: pool %s: %s %s %s/%s: %w", r.Pool, what, gr, c.Namespace, c.Name, err)
	}
	return a, nil
}
