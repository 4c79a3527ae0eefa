package runner

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
)

// quotaSource is the snapshot source with the namespaces' ResourceQuotas,
// as metrics/kube collects them into the inventory snapshot.
type quotaSource struct {
	*snapshot
	quotas []metrics.ResourceQuota
}

func (s *quotaSource) Collect(ctx context.Context, w metrics.Window) (*metrics.Batch, error) {
	b, err := s.snapshot.Collect(ctx, w)
	if err == nil {
		b.Quotas, b.QuotasRead = s.quotas, true
	}
	return b, err
}

// applier records the requests it gets (an actuator.Applier, as
// actuator.Kube is) and applies them to the dry-run actuator.
type applier struct {
	*actuator.DryRun
	reqs map[policy.Target]actuator.Request
}

func (a *applier) Apply(ctx context.Context, now time.Time, r actuator.Request) (actuator.Action, error) {
	a.reqs[r.Target] = r
	return a.SetReplicas(ctx, now, r.Target, r.Desired, r.Reason)
}

// TestCycleQuota: the cycle checks its scale-ups against the quotas the
// collection just stored, warns, exports the shortfall and still scales.
//
// Worked by hand. web is planned 2 → 4 (TestCycle): 2 more pods at the
// plan's 500m (the snapshot has no pod requests) need 1 core. Quota
// shop/compute: requests.cpu 3 hard, 2.4 used, so 0.6 core left: short by
// 1 − 0.6 = 0.4 core (its pods, 10 hard, 5 used, have room for 2). Quota
// shop/pods: 6 pods hard, 5 used: 2 more pods need 2, 1 left, short by 1.
// Quota shop/best-effort (pods: 0 left) is scoped to BestEffort pods,
// which web's are not; other/compute has nothing left but is another
// namespace's. broken is planned 2 → 4 in shop like web, and checked after
// it (the cycle's order, as headroom plan checks its own): web's scale-up
// takes what was left of both quotas (0.6 core, 1 pod), so broken is short
// by all it needs: 1 core and 2 pods. api holds (no change) and report is
// in recommend mode (also 2 → 4): not warned. Neither scale is capped: web
// and broken go to 4.
func TestCycleQuota(t *testing.T) {
	r, d, _, src := setup(t)
	r.Source = &quotaSource{snapshot: src, quotas: []metrics.ResourceQuota{
		{Namespace: "shop", Name: "compute", Hard: map[string]float64{"requests.cpu": 3, "pods": 10}, Used: map[string]float64{"requests.cpu": 2.4, "pods": 5}},
		{Namespace: "shop", Name: "pods", Hard: map[string]float64{"pods": 6}, Used: map[string]float64{"pods": 5}},
		{Namespace: "shop", Name: "best-effort", Scopes: []string{"BestEffort"}, Hard: map[string]float64{"pods": 0}, Used: map[string]float64{"pods": 0}},
		{Namespace: "other", Name: "compute", Hard: map[string]float64{"requests.cpu": 1}, Used: map[string]float64{"requests.cpu": 1}},
	}}
	ap := &applier{DryRun: d, reqs: map[policy.Target]actuator.Request{}}
	r.Actuator = ap
	reg := prometheus.NewPedanticRegistry()
	r.Metrics = NewMetrics(reg)
	res, err := r.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := byTarget(res)
	for _, c := range []struct {
		tg                policy.Target
		wantCPU, wantPods string
		short             [2]float64
	}{
		{web, "QUOTA: 2 more pods need 1 cores of requests.cpu, but quota shop/compute has 0.6 cores left (2.4 cores used of 3 cores): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short",
			"QUOTA: 2 more pods need 2 pods of pods, but quota shop/pods has 1 pods left (5 pods used of 6 pods)", [2]float64{0.4, 1}},
		{broken, "QUOTA: 2 more pods need 1 cores of requests.cpu, but quota shop/compute has 0 cores left (2.4 cores used of 3 cores, 0.6 cores of it for the plan's scale-ups before this one): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short",
			"QUOTA: 2 more pods need 2 pods of pods, but quota shop/pods has 0 pods left (5 pods used of 6 pods, 1 pods of it for the plan's scale-ups before this one)", [2]float64{1, 2}},
	} {
		tg, wantCPU := c.tg, c.wantCPU
		w := got[tg]
		if w.Outcome != OutcomeScaled || d.Replicas[tg] != 4 || w.Planned.Decision.Desired != 4 {
			t.Fatalf("%s: %v, replicas %d: the quota must not cap the scale", tg, w.Outcome, d.Replicas[tg])
		}
		if len(w.Quota) != 2 {
			t.Fatalf("%s quota shortfalls %+v, want shop/compute and shop/pods", tg, w.Quota)
		}
		for i, want := range []struct {
			name, res   string
			need, short float64
		}{{"compute", "requests.cpu", 1, c.short[0]}, {"pods", "pods", 2, c.short[1]}} {
			q := w.Quota[i]
			if q.Name != want.name || q.Resource != want.res || q.Pods != 2 || math.Abs(q.Need-want.need) > 1e-9 || math.Abs(q.Shortfall()-want.short) > 1e-9 {
				t.Errorf("%s shortfall %d: %+v (short %v), want %s %s need %v short %v", tg, i, q, q.Shortfall(), want.name, want.res, want.need, want.short)
			}
			if g := testutil.ToFloat64(r.Metrics.QuotaShortfall.WithLabelValues(tg.String(), "shop/"+want.name, want.res)); math.Abs(g-want.short) > 1e-9 {
				t.Errorf("headroom_quota_shortfall{%s, shop/%s, %s} = %v, want %v", tg, want.name, want.res, g, want.short)
			}
		}
		ws := w.Planned.Decision.Warnings
		if len(ws) < 2 || ws[len(ws)-2] != wantCPU || !strings.HasPrefix(ws[len(ws)-1], c.wantPods) {
			t.Errorf("%s warnings %q", tg, ws)
		}
		// The actuator gets the QUOTA warnings (its Event becomes a Warning), and only those.
		if rq := ap.reqs[tg]; len(rq.Warnings) != 2 || rq.Warnings[0] != wantCPU || rq.Desired != 4 {
			t.Errorf("%s request %+v", tg, rq)
		}
	}
	for _, tg := range []policy.Target{api, report} {
		if g := got[tg]; len(g.Quota) != 0 || g.Planned == nil || strings.Contains(strings.Join(g.Planned.Decision.Warnings, ";"), "QUOTA") {
			t.Errorf("%s: %v warned %+v", tg, g.Outcome, g.Quota)
		}
	}
	if n := testutil.CollectAndCount(reg, "headroom_quota_shortfall"); n != 4 {
		t.Errorf("%d quota shortfall series, want 4 (web and broken, 2 quotas each)", n)
	}

	// Five minutes later web is at 4, nothing to scale up: the gauge is cleared.
	clk := r.Clock.(interface{ Step(time.Duration) })
	clk.Step(5 * time.Minute)
	if _, err := r.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "headroom_quota_shortfall"); n != 0 {
		t.Errorf("%d quota shortfall series after a cycle without a scale-up", n)
	}
}
