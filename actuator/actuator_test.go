package actuator

import (
	"context"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/policy"
)

var _ Actuator = (*DryRun)(nil)

func TestDryRun(t *testing.T) {
	var d DryRun
	ctx, now := context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tg := policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}
	a, _ := d.SetReplicas(ctx, now, tg, 3, "forecast")
	if a.From != -1 || a.To != 3 || !a.Changed {
		t.Fatalf("first: %+v", a)
	}
	a, _ = d.SetReplicas(ctx, now, tg, 3, "forecast")
	if a.Changed || a.From != 3 {
		t.Fatalf("second: %+v", a)
	}
	p, _ := d.SetPoolSize(ctx, now, "general", 6, "")
	if p.String() != "pool/general pool-size: -1 → 6" {
		t.Fatalf("pool: %s", p)
	}
	if len(d.Actions) != 3 {
		t.Fatalf("actions %d", len(d.Actions))
	}
}
