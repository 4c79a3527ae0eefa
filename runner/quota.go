package runner

import (
	"context"
	"time"

	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/planinput"
	"github.com/headroom-dev/headroom/policy"
)

// quotaChecks checks each planned scale-up against the ResourceQuotas of
// its namespace in the newest inventory snapshot at or before now (the one
// this cycle's collection just stored), as headroom plan does: a scale-up
// that needs more than a quota has left after the cycle's scale-ups before
// it, in the order they are applied (planinput.QuotaLedger), gets the
// QUOTA: warning and its shortfalls in TargetResult.Quota. Per-pod
// requests come from the snapshot, else from the plan.
//
// The decision is not capped at what the quota allows: neither the HPA nor
// the cluster-autoscaler caps at a quota, and a quota may be raised (or
// other pods end) before the pods are created. The scale still goes out;
// the API server refuses the pods beyond the quota (403 exceeded quota),
// the warning (on the decision, its Event and headroom_quota_shortfall)
// says why, and the next run's convergence check reports it.
func quotaChecks(ctx context.Context, st *store.Store, now time.Time, targets []TargetResult) error {
	inv, err := planinput.LatestInventory(ctx, st, now)
	if err != nil || inv == nil || !inv.QuotasRead || len(inv.Quotas) == 0 {
		return err
	}
	ledger := inv.QuotaLedger()
	for k := range targets {
		tr := &targets[k]
		p := tr.Planned
		if p == nil || p.Skipped != "" || p.Workload.Mode == policy.ModeRecommend {
			continue
		}
		d := &p.Decision
		if d.Rule == policy.RuleHold {
			continue
		}
		for _, s := range ledger.ScaleUpShortfalls(p.Workload, d.Current, d.Desired) {
			d.Warnings = append(d.Warnings, s.String())
			tr.Quota = append(tr.Quota, s)
		}
	}
	return nil
}

// quotaWarnings are the target's quota shortfalls as its decision's
// QUOTA: warnings, for the actuator's Event.
func quotaWarnings(tr *TargetResult) []string {
	var out []string
	for _, s := range tr.Quota {
		out = append(out, s.String())
	}
	return out
}
