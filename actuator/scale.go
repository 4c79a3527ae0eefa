package actuator

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/scale"

	"github.com/headroom-dev/headroom/internal/ctxsleep"
)

// scaleDecide decides, from the Scale just read (attempt 0 first, then one
// per re-read after a 409 Conflict), the replicas to write. write false
// means "no change" (the count already is the one wanted, or the caller
// holds after re-planning): nothing is written and updateScale returns. An
// error stops updateScale and is returned as is.
type scaleDecide func(ctx context.Context, cur *autoscalingv1.Scale, attempt int) (replicas int32, write bool, err error)

// scaleResult is what updateScale did.
type scaleResult struct {
	// Read is the Scale last read (nil when the first read failed).
	Read *autoscalingv1.Scale
	// Written is the API server's answer to the update that went through;
	// nil when nothing was written.
	Written *autoscalingv1.Scale
	// Conflicts counts the updates answered 409 Conflict.
	Conflicts int
}

// scaleError is an error of updateScale's own reads and writes (the
// decide function's errors are returned unwrapped). Its message is the
// step ("read scale", "update scale") and, when the conflicts outlasted
// the backoff, how many there were.
type scaleError struct {
	Op        string
	Conflicts int  // set when GaveUp
	GaveUp    bool // the last attempt was a conflict too
	Err       error
}

func (e *scaleError) Error() string {
	if e.GaveUp {
		return fmt.Sprintf("%s: gave up after %d conflicts: %v", e.Op, e.Conflicts, e.Err)
	}
	return e.Op + ": " + e.Err.Error()
}

func (e *scaleError) Unwrap() error { return e.Err }

// updateScale is the one optimistic-concurrency loop over a /scale
// subresource, shared by Kube (workload targets) and ClusterAPI (node
// pools): get the Scale, ask decide for the replicas, update carrying the
// resourceVersion read, and on a 409 Conflict re-read and decide again.
//
// backoff has client-go's wait.Backoff meaning, as retry.RetryOnConflict
// reads it: Steps is the number of attempts (< 1 means one), and between
// attempts updateScale waits backoff.Step() (Duration, growing by Factor,
// with Jitter; reaching Cap ends the attempts). Unlike RetryOnConflict the
// waits end with ctx. Errors other than a conflict are not retried.
func updateScale(ctx context.Context, sg scale.ScalesGetter, gr schema.GroupResource, namespace, name string,
	decide scaleDecide, backoff wait.Backoff, opts metav1.UpdateOptions) (scaleResult, error) {
	var res scaleResult
	sc := sg.Scales(namespace)
	for attempt := 0; ; attempt++ {
		cur, err := sc.Get(ctx, gr, name, metav1.GetOptions{})
		if err != nil {
			return res, &scaleError{Op: "read scale", Err: err}
		}
		res.Read = cur
		replicas, write, err := decide(ctx, cur, attempt)
		if err != nil || !write {
			return res, err
		}
		upd := &autoscalingv1.Scale{ObjectMeta: cur.ObjectMeta, Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
		got, err := sc.Update(ctx, gr, upd, opts)
		if err == nil {
			res.Written = got
			return res, nil
		}
		if !apierrors.IsConflict(err) {
			return res, &scaleError{Op: "update scale", Err: err}
		}
		res.Conflicts++
		if backoff.Steps <= 1 {
			return res, &scaleError{Op: "update scale", GaveUp: true, Conflicts: res.Conflicts, Err: err}
		}
		d := backoff.Step()
		if backoff.Steps < 1 { // Cap reached: wait.ExponentialBackoff makes no further attempt
			return res, &scaleError{Op: "update scale", GaveUp: true, Conflicts: res.Conflicts, Err: err}
		}
		if err := ctxsleep.Sleep(ctx, d); err != nil {
			return res, err
		}
	}
}
