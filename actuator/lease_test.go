package actuator

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestLease walks a lease through two runs with a fake clock: a takes the
// absent lease; b cannot while a holds and renews it; after a stops
// renewing, b takes it once it has expired (not a second before); a's
// renewal then fails as lost; b releases and a takes it at once. Conflicts
// between racing writers need the real API server: see
// test/kube/integration/run_lease_test.go.
func TestLease(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC))
	mk := func(holder string) *Lease {
		return &Lease{Client: cs.CoordinationV1(), Namespace: "headroom", Name: "headroom-shop", Holder: holder, Duration: 30 * time.Second, Clock: clk}
	}
	a, b := mk("a"), mk("b")
	if a.RenewEvery() != 10*time.Second {
		t.Fatalf("renew every %v", a.RenewEvery())
	}
	if ok, h, err := a.TryAcquire(ctx); !ok || h != "a" || err != nil {
		t.Fatalf("a: %v %q %v", ok, h, err)
	}
	if ok, h, err := b.TryAcquire(ctx); ok || h != "a" || err != nil {
		t.Fatalf("b while a holds: %v %q %v", ok, h, err)
	}
	// The held lease names itself for pool Events; one not taken does not.
	if o := a.Object(); o == nil || o.Kind != "Lease" || o.APIVersion != "coordination.k8s.io/v1" || o.Namespace != "headroom" || o.Name != "headroom-shop" {
		t.Fatalf("a's object %+v", o)
	}
	if o := b.Object(); o != nil {
		t.Fatalf("b's object before taking the lease: %+v", o)
	}
	clk.Step(20 * time.Second)
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(29 * time.Second) // 29 s after the renewal: still a's
	if ok, _, _ := b.TryAcquire(ctx); ok {
		t.Fatal("b took a lease that had 1 s left")
	}
	clk.Step(time.Second) // renewTime + 30 s: expired
	if ok, h, err := b.TryAcquire(ctx); !ok || h != "b" || err != nil {
		t.Fatalf("b after expiry: %v %q %v", ok, h, err)
	}
	le, _ := cs.CoordinationV1().Leases("headroom").Get(ctx, "headroom-shop", metav1.GetOptions{})
	if *le.Spec.HolderIdentity != "b" || *le.Spec.LeaseTransitions != 1 || *le.Spec.LeaseDurationSeconds != 30 {
		t.Fatalf("lease after takeover: %+v", le.Spec)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a renewed a lease b took over: %v", err)
	}
	if err := a.Release(ctx); err != nil { // not held: nothing to do
		t.Fatal(err)
	}
	if ok, h, _ := a.TryAcquire(ctx); ok || h != "b" {
		t.Fatalf("a while b holds: %v %q", ok, h)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	le, _ = cs.CoordinationV1().Leases("headroom").Get(ctx, "headroom-shop", metav1.GetOptions{})
	if le.Spec.HolderIdentity != nil {
		t.Fatalf("released lease still held by %q", *le.Spec.HolderIdentity)
	}
	if ok, h, err := a.TryAcquire(ctx); !ok || h != "a" || err != nil {
		t.Fatalf("a after release: %v %q %v", ok, h, err)
	}
}
