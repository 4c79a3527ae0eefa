package actuator

import (
	"context"
	"errors"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/util/retry"
)

// MachineDeployments is the Cluster API MachineDeployment resource.
var MachineDeployments = schema.GroupResource{Group: "cluster.x-k8s.io", Resource: "machinedeployments"}

// ClusterAPIVersion is the apiVersion of the Cluster API objects' Event
// references (kubectl matches Events to objects by kind, name and uid; the
// version is informational).
const ClusterAPIVersion = "cluster.x-k8s.io/v1beta1"

// clusterAPIKinds are the kinds of the Cluster API resources with a scale
// subresource.
var clusterAPIKinds = map[string]string{"machinedeployments": "MachineDeployment", "machinesets": "MachineSet", "machinepools": "MachinePool"}

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
// wrote in between) re-reads and retries, within Retry (updateScale, the
// loop Kube's workload targets share). On an error the Action says what was
// attempted, with Changed false.
func (c *ClusterAPI) SetPool(ctx context.Context, now time.Time, r PoolRequest) (Action, error) {
	gr := c.Resource
	if gr.Empty() {
		gr = MachineDeployments
	}
	backoff := c.Retry
	if backoff.Steps == 0 {
		backoff = ConflictRetry
	}
	a := Action{Time: now, Kind: KindPoolSize, Pool: r.Pool, From: -1, To: r.Nodes, Reason: r.Reason, DryRun: c.DryRun,
		Object: &corev1.ObjectReference{APIVersion: ClusterAPIVersion, Kind: clusterAPIKinds[gr.Resource], Namespace: c.Namespace, Name: c.Name}}
	opts := metav1.UpdateOptions{}
	if c.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	want := int32(r.Nodes)
	decide := func(_ context.Context, cur *autoscalingv1.Scale, _ int) (int32, bool, error) {
		a.From = int(cur.Spec.Replicas)
		a.Object.UID, a.Object.ResourceVersion = cur.UID, cur.ResourceVersion
		return want, cur.Spec.Replicas != want, nil
	}
	res, err := updateScale(ctx, c.Scales, gr, c.Namespace, c.Name, decide, backoff, opts)
	a.Conflicts = res.Conflicts
	if err != nil {
		what := "scale"
		if apierrors.IsConflict(err) {
			what = "scale (conflicts persisted)"
		}
		var se *scaleError
		if errors.As(err, &se) {
			err = se.Err
		}
		return a, fmt.Errorf("actuator: pool %s: %s %s %s/%s: %w", r.Pool, what, gr, c.Namespace, c.Name, err)
	}
	if res.Written != nil {
		a.Changed = true
		a.Object.ResourceVersion = res.Written.ResourceVersion
	}
	return a, nil
}
