package actuator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// TestUpdateScaleBackoff: updateScale makes as many attempts as
// client-go's retry.RetryOnConflict does for the same wait.Backoff (the
// public ClusterAPI.Retry contract), counted against a server that always
// answers 409: Steps attempts, one for Steps 0 (where RetryOnConflict
// would make none: callers never pass it), and fewer when Cap is
// reached (wait.Backoff.Step zeroes Steps there). Hand-worked for the Cap
// case: Duration 1µs, Factor 2, Cap 4µs, Steps 10: waits 1 µs, then 2 µs;
// the third step's next duration (8 µs) passes the cap, which zeroes Steps:
// 3 attempts.
func TestUpdateScaleBackoff(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		b    wait.Backoff
		want int
	}{
		{"steps 5", wait.Backoff{Steps: 5, Duration: time.Microsecond}, 5},
		{"steps 1", wait.Backoff{Steps: 1, Duration: time.Microsecond}, 1},
		{"steps 0", wait.Backoff{}, 1},
		{"factor", wait.Backoff{Steps: 4, Duration: time.Microsecond, Factor: 2, Jitter: 0.1}, 4},
		{"cap", wait.Backoff{Steps: 10, Duration: time.Microsecond, Factor: 2, Cap: 4 * time.Microsecond}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, replicas, updates := scaleFake(3, 1000)
			decide := func(_ context.Context, cur *autoscalingv1.Scale, _ int) (int32, bool, error) { return 6, true, nil }
			res, err := updateScale(ctx, f, MachineDeployments, "capi", "md", decide, tc.b, metav1.UpdateOptions{})
			var se *scaleError
			if !errors.As(err, &se) || !se.GaveUp || !apierrors.IsConflict(err) || res.Written != nil || *replicas != 3 {
				t.Fatalf("%+v, %v", res, err)
			}
			if *updates != tc.want || res.Conflicts != tc.want || se.Conflicts != tc.want {
				t.Errorf("%d updates, %d conflicts; want %d", *updates, res.Conflicts, tc.want)
			}
			want := "update scale: gave up after " + map[int]string{1: "1", 3: "3", 4: "4", 5: "5"}[tc.want] + " conflicts: "
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want prefix %q", err, want)
			}
			if tc.b.Steps == 0 {
				return // RetryOnConflict makes no attempt at all; ClusterAPI turns Steps 0 into ConflictRetry
			}
			// The same backoff through client-go's own loop.
			calls := 0
			_ = retry.RetryOnConflict(tc.b, func() error {
				calls++
				return apierrors.NewConflict(MachineDeployments, "md", errors.New("modified"))
			})
			if calls != tc.want {
				t.Errorf("retry.RetryOnConflict made %d attempts, the test expects %d", calls, tc.want)
			}
		})
	}
}

// TestUpdateScaleDecide: decide sees each fresh read with its attempt
// number, a "no change" writes nothing, decide's errors come back
// unwrapped, and a cancelled context ends the wait between attempts.
func TestUpdateScaleDecide(t *testing.T) {
	ctx := context.Background()
	fast := wait.Backoff{Steps: 5, Duration: time.Microsecond}
	t.Run("replan after conflicts", func(t *testing.T) {
		f, replicas, updates := scaleFake(3, 2)
		var seen []int
		decide := func(_ context.Context, cur *autoscalingv1.Scale, attempt int) (int32, bool, error) {
			seen = append(seen, attempt)
			if cur.ResourceVersion != "7" {
				t.Errorf("read rv %q", cur.ResourceVersion)
			}
			return int32(6 + attempt), true, nil // the re-plan moves with each re-read
		}
		res, err := updateScale(ctx, f, MachineDeployments, "capi", "md", decide, fast, metav1.UpdateOptions{})
		if err != nil || res.Written == nil || res.Conflicts != 2 || *updates != 3 || *replicas != 8 || len(seen) != 3 || seen[2] != 2 {
			t.Fatalf("%+v, %v; %d updates, replicas %d, attempts %v", res, err, *updates, *replicas, seen)
		}
	})
	t.Run("no change", func(t *testing.T) {
		f, _, updates := scaleFake(3, 0)
		decide := func(_ context.Context, cur *autoscalingv1.Scale, _ int) (int32, bool, error) {
			return cur.Spec.Replicas, false, nil
		}
		res, err := updateScale(ctx, f, MachineDeployments, "capi", "md", decide, fast, metav1.UpdateOptions{})
		if err != nil || res.Written != nil || res.Read == nil || res.Read.Spec.Replicas != 3 || *updates != 0 {
			t.Fatalf("%+v, %v, %d updates", res, err, *updates)
		}
	})
	t.Run("hold after a conflict", func(t *testing.T) {
		f, replicas, updates := scaleFake(3, 1)
		decide := func(_ context.Context, cur *autoscalingv1.Scale, attempt int) (int32, bool, error) {
			return 6, attempt == 0, nil // the re-plan holds
		}
		res, err := updateScale(ctx, f, MachineDeployments, "capi", "md", decide, fast, metav1.UpdateOptions{})
		if err != nil || res.Written != nil || res.Conflicts != 1 || *updates != 1 || *replicas != 3 {
			t.Fatalf("%+v, %v; %d updates, replicas %d", res, err, *updates, *replicas)
		}
	})
	t.Run("decide error", func(t *testing.T) {
		f, _, updates := scaleFake(3, 0)
		boom := errors.New("boom")
		_, err := updateScale(ctx, f, MachineDeployments, "capi", "md", func(context.Context, *autoscalingv1.Scale, int) (int32, bool, error) {
			return 0, false, boom
		}, fast, metav1.UpdateOptions{})
		var se *scaleError
		if err != boom || errors.As(err, &se) || *updates != 0 {
			t.Fatalf("%v, %d updates", err, *updates)
		}
	})
	t.Run("cancelled wait", func(t *testing.T) {
		f, _, updates := scaleFake(3, 1000)
		cctx, cancel := context.WithCancel(ctx)
		decide := func(context.Context, *autoscalingv1.Scale, int) (int32, bool, error) { cancel(); return 6, true, nil }
		_, err := updateScale(cctx, f, MachineDeployments, "capi", "md", decide, wait.Backoff{Steps: 5, Duration: time.Hour}, metav1.UpdateOptions{})
		if !errors.Is(err, context.Canceled) || *updates != 1 {
			t.Fatalf("%v after %d updates", err, *updates)
		}
	})
}
