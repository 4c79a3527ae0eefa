package actuator

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"
)

// DefaultLeaseDuration is how long a run's lease stays valid without renewal.
const DefaultLeaseDuration = 60 * time.Second

// ErrLeaseLost is returned by Renew when another holder has the lease.
var ErrLeaseLost = errors.New("actuator: lease lost")

// Lease is a coordination.k8s.io/v1 Lease held for a run, so that an
// overlapping CronJob run or a manual run never acts at the same time:
// TryAcquire takes it when it is absent, free or expired (its renewTime
// plus leaseDurationSeconds is past), Renew extends it, Release frees it.
// Every write carries the resourceVersion read, so two runs racing for a
// free lease cannot both win: the loser's update is a conflict.
//
// Expiry is judged by the local clock against the renewTime the holder
// wrote, so clocks more than a lease duration apart can let a run take a
// lease early; a lease duration well above the expected skew avoids it.
// A Lease is not safe for concurrent use.
type Lease struct {
	Client    coordclient.LeasesGetter
	Namespace string
	Name      string
	// Holder is this run's identity (the pod name).
	Holder string
	// Duration is leaseDurationSeconds; 0 means DefaultLeaseDuration.
	Duration time.Duration
	Clock    clock.PassiveClock

	held *coordinationv1.Lease // the lease as last written by us
	// ref names the lease once acquired, for Object (read from other goroutines).
	ref atomic.Pointer[corev1.ObjectReference]
}

// Object names the Lease, with its uid, once TryAcquire has taken it (nil
// before): the object standing for the run, on which Kube records the
// Events of node-pool actions that have no Kubernetes object of their own
// (KubeOptions.PoolEventObject). It is safe for concurrent use.
func (l *Lease) Object() *corev1.ObjectReference { return l.ref.Load() }

func (l *Lease) setHeld(le *coordinationv1.Lease) {
	l.held = le
	l.ref.Store(&corev1.ObjectReference{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Namespace: le.Namespace, Name: le.Name, UID: le.UID})
}

func (l *Lease) duration() time.Duration {
	if l.Duration <= 0 {
		return DefaultLeaseDuration
	}
	return l.Duration
}

// RenewEvery is a third of the duration, so two renewals may fail before the lease expires.
func (l *Lease) RenewEvery() time.Duration { return l.duration() / 3 }

func (l *Lease) now() metav1.MicroTime { return metav1.NewMicroTime(l.Clock.Now()) }

func holderOf(le *coordinationv1.Lease) string {
	if le.Spec.HolderIdentity == nil {
		return ""
	}
	return *le.Spec.HolderIdentity
}

// expired reports whether a lease's holder has let it lapse.
func (l *Lease) expired(le *coordinationv1.Lease) bool {
	if holderOf(le) == "" || le.Spec.RenewTime == nil || le.Spec.LeaseDurationSeconds == nil {
		return true
	}
	until := le.Spec.RenewTime.Add(time.Duration(*le.Spec.LeaseDurationSeconds) * time.Second)
	return !l.Clock.Now().Before(until)
}

// TryAcquire takes the lease if it is absent, free, expired or already
// ours. ok is false, with the holder's identity, when another run holds it
// (or won a race for it); err is for everything else.
func (l *Lease) TryAcquire(ctx context.Context) (ok bool, holder string, err error) {
	leases := l.Client.Leases(l.Namespace)
	secs := int32(l.duration() / time.Second)
	now := l.now()
	cur, err := leases.Get(ctx, l.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		le := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: l.Name, Namespace: l.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "headroom"}},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &l.Holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
		}
		created, err := leases.Create(ctx, le, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return false, l.holderNow(ctx), nil
		}
		if err != nil {
			return false, "", fmt.Errorf("actuator: lease %s/%s: %w", l.Namespace, l.Name, err)
		}
		l.setHeld(created)
		return true, l.Holder, nil
	case err != nil:
		return false, "", fmt.Errorf("actuator: lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	if h := holderOf(cur); h != l.Holder && !l.expired(cur) {
		return false, h, nil
	}
	le := cur.DeepCopy()
	if holderOf(cur) != l.Holder {
		t := int32(0)
		if le.Spec.LeaseTransitions != nil {
			t = *le.Spec.LeaseTransitions
		}
		t++
		le.Spec.LeaseTransitions = &t
		le.Spec.AcquireTime = &now
	}
	le.Spec.HolderIdentity, le.Spec.LeaseDurationSeconds, le.Spec.RenewTime = &l.Holder, &secs, &now
	updated, err := leases.Update(ctx, le, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return false, l.holderNow(ctx), nil // another run took it between our read and write
	}
	if err != nil {
		return false, "", fmt.Errorf("actuator: lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	l.setHeld(updated)
	return true, l.Holder, nil
}

// holderNow reads the holder after a lost race ("" when it cannot tell).
func (l *Lease) holderNow(ctx context.Context) string {
	cur, err := l.Client.Leases(l.Namespace).Get(ctx, l.Name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return holderOf(cur)
}

// Renew extends the held lease to now + duration: it reads the lease,
// checks that it is still ours, and writes it back with the version read.
// It returns an error wrapping ErrLeaseLost when another holder has it.
func (l *Lease) Renew(ctx context.Context) error {
	if l.held == nil {
		return fmt.Errorf("%w: %s/%s is not held", ErrLeaseLost, l.Namespace, l.Name)
	}
	leases := l.Client.Leases(l.Namespace)
	cur, err := leases.Get(ctx, l.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l.held = nil
		return fmt.Errorf("%w: %s/%s was deleted", ErrLeaseLost, l.Namespace, l.Name)
	}
	if err != nil {
		return fmt.Errorf("actuator: lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	if h := holderOf(cur); h != l.Holder {
		l.held = nil
		return fmt.Errorf("%w: %s/%s is held by %q", ErrLeaseLost, l.Namespace, l.Name, h)
	}
	le := cur.DeepCopy()
	now := l.now()
	le.Spec.RenewTime = &now
	updated, err := leases.Update(ctx, le, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		l.held = nil
		return fmt.Errorf("%w: %s/%s: %v", ErrLeaseLost, l.Namespace, l.Name, err)
	}
	if err != nil {
		return fmt.Errorf("actuator: lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	l.held = updated
	return nil
}

// Release frees the held lease (clears the holder), so the next run need
// not wait for it to expire. Releasing a lease that is not held, or was
// taken over, does nothing.
func (l *Lease) Release(ctx context.Context) error {
	if l.held == nil {
		return nil
	}
	le := l.held.DeepCopy()
	l.held = nil
	le.Spec.HolderIdentity = nil
	le.Spec.AcquireTime, le.Spec.RenewTime = nil, nil
	_, err := l.Client.Leases(l.Namespace).Update(ctx, le, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // someone else's now
	}
	if err != nil {
		return fmt.Errorf("actuator: lease %s/%s: release: %w", l.Namespace, l.Name, err)
	}
	return nil
}
