package metrics

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, k := range []Key{
		{Workload: Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}, Resource: CPU},
		{Workload: Workload{Kind: KindNodePool, Name: "pool-a"}, Resource: Nodes},
		{Workload: Workload{Kind: "StatefulSet", Namespace: "db", Name: "pg"}, Resource: Memory,
			Labels: Labels{"container": "app", "zone": `we"ird,{x}=y`}},
	} {
		s := k.String()
		got, err := ParseKey(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got.String() != s {
			t.Fatalf("%s → %s", s, got)
		}
	}
	for _, bad := range []string{"", "cpu", "Deployment//web/cpu", "a/b/c/d/e", "Deployment/shop/web/cpu{x=1}", "Deployment/shop/web/cpu{x=\"1\""} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseKey(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestNextWindow(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 30, 0, time.UTC)
	// First run: a backfill.
	w := NextWindow(time.Time{}, now, 30*24*time.Hour, time.Minute)
	if !w.End.Equal(now.Truncate(time.Minute)) || w.End.Sub(w.Start) != 30*24*time.Hour {
		t.Fatalf("backfill %+v", w)
	}
	// Later: from one step before the last end.
	last := now.Add(-5 * time.Minute)
	w = NextWindow(last, now, 30*24*time.Hour, time.Minute)
	if !w.Start.Equal(last.Truncate(time.Minute).Add(-time.Minute)) {
		t.Fatalf("next %+v", w)
	}
	// A last collection older than the backfill is capped to it.
	w = NextWindow(now.Add(-90*24*time.Hour), now, 30*24*time.Hour, time.Minute)
	if w.End.Sub(w.Start) != 30*24*time.Hour {
		t.Fatalf("capped %+v", w)
	}
}

func ExampleKey_String() {
	k := Key{Workload: Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}, Resource: CPU, Labels: Labels{"container": "app"}}
	fmt.Println(k)
	// Output: Deployment/shop/web/cpu{container="app"}
}
