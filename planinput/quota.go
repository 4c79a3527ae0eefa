package planinput

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/policy"
)

// CountsWorkloadPods reports whether a ResourceQuota counts every pod of a
// scalable workload: unscoped, or scoped only to NotTerminating (pods
// without activeDeadlineSeconds, as Deployment and StatefulSet pods are) and
// NotBestEffort (pods that request something), as spec.scopes or as an
// Exists term of its scopeSelector. A quota with other scopes (a
// PriorityClass, Terminating, BestEffort) counts pods headroom cannot
// match, and is left out of quota checks.
func CountsWorkloadPods(q metrics.ResourceQuota) bool {
	for _, sc := range q.Scopes {
		f := strings.Fields(sc)
		if len(f) == 0 || f[0] != "NotTerminating" && f[0] != "NotBestEffort" || len(f) > 1 && (len(f) != 2 || f[1] != "Exists") {
			return false
		}
	}
	return true
}

// QuotaCheckResources are the quota resources a scale-up is checked
// against, in this order: what its new pods request, and their count.
// Limits are not checked (the inventory records requests per replica).
var QuotaCheckResources = []string{metrics.QuotaRequestsCPU, metrics.QuotaRequestsMemory, metrics.QuotaPods}

// QuotaShort is a scale-up that does not fit in what a quota has left.
type QuotaShort struct {
	Namespace, Name string
	Resource        string  // one of QuotaCheckResources
	Pods            int     // pods the scale-up adds
	Need            float64 // of Resource, for those pods (cores, bytes or pods)
	Used, Hard      float64
	// Earlier is what the same plan's scale-ups checked before this one
	// take of Resource in the quota (QuotaLedger), at most what was left.
	Earlier float64
}

// Left is what the quota has left of Resource for this scale-up, after
// its use and the earlier scale-ups (never below 0).
func (s QuotaShort) Left() float64 { return max(s.Hard-s.Used-s.Earlier, 0) }

// Shortfall is how much of Resource the scale-up needs beyond what the
// quota has left (cores, bytes or pods): Need − Left.
func (s QuotaShort) Shortfall() float64 { return s.Need - s.Left() }

// String says what is short, for a decision's warnings.
func (s QuotaShort) String() string {
	earlier := ""
	if s.Earlier > 0 {
		earlier = ", " + quotaAmount(s.Resource, s.Earlier) + " of it for the plan's scale-ups before this one"
	}
	return fmt.Sprintf("QUOTA: %d more pods need %s of %s, but quota %s/%s has %s left (%s used of %s%s): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short",
		s.Pods, quotaAmount(s.Resource, s.Need), s.Resource, s.Namespace, s.Name, quotaAmount(s.Resource, s.Left()), quotaAmount(s.Resource, s.Used), quotaAmount(s.Resource, s.Hard), earlier)
}

// QuotaShortfall checks a scale-up that adds pods pods, requesting cpu
// cores and mem bytes in all, against quota q: the first of
// QuotaCheckResources whose counted use plus the scale-up's exceeds hard.
// ok is false when it fits, when q does not count the workload's pods
// (CountsWorkloadPods), and for resources whose use q's status does not
// count yet. The caller matches q's namespace.
func QuotaShortfall(q metrics.ResourceQuota, pods int, cpu, mem float64) (QuotaShort, bool) {
	return quotaShortfall(q, nil, pods, cpu, mem)
}

// quotaShortfall is QuotaShortfall with earlier[res], what scale-ups
// checked before take of the quota, added to its counted use.
func quotaShortfall(q metrics.ResourceQuota, earlier map[string]float64, pods int, cpu, mem float64) (QuotaShort, bool) {
	if pods <= 0 || !CountsWorkloadPods(q) {
		return QuotaShort{}, false
	}
	for _, res := range QuotaCheckResources {
		hard, limited := q.Hard[res]
		used, counted := q.Used[res]
		if !limited || !counted {
			continue
		}
		need := scaleUpNeed(res, pods, cpu, mem)
		if e := earlier[res]; used+e+need > hard+1e-9 {
			return QuotaShort{Namespace: q.Namespace, Name: q.Name, Resource: res, Pods: pods, Need: need, Used: used, Hard: hard, Earlier: e}, true
		}
	}
	return QuotaShort{}, false
}

// scaleUpNeed is what pods new pods requesting cpu cores and mem bytes in
// all need of quota resource res.
func scaleUpNeed(res string, pods int, cpu, mem float64) float64 {
	switch res {
	case metrics.QuotaRequestsCPU:
		return cpu
	case metrics.QuotaRequestsMemory:
		return mem
	}
	return float64(pods)
}

// quotaAmount writes an amount with its unit: cores, GiB or pods.
func quotaAmount(res string, v float64) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch res {
	case metrics.QuotaRequestsCPU, metrics.QuotaLimitsCPU:
		return num(float64(int64(v*1000+0.5))/1000) + " cores"
	case metrics.QuotaRequestsMemory, metrics.QuotaLimitsMemory:
		return num(float64(int64(v/(1<<30)*100+0.5))/100) + " GiB"
	}
	return num(v) + " pods"
}

// QuotaLedger checks the scale-ups of one plan against the quotas of an
// inventory snapshot in turn, each against what the quota has left after
// the ones checked before it: the API server admits pods in the order they
// are created, so two scale-ups that fit apart may not fit together.
// Scale-downs free nothing here (a terminating pod counts until it is
// gone). A ledger is for one plan or run; it is not safe for concurrent use.
type QuotaLedger struct {
	inv *Inventory
	// taken[namespace/name][resource] is what the scale-ups checked so far
	// take of each quota, capped at what it had left.
	taken map[string]map[string]float64
}

// QuotaLedger starts the quota checks of one plan on inv (nil: no checks).
func (inv *Inventory) QuotaLedger() *QuotaLedger {
	return &QuotaLedger{inv: inv, taken: map[string]map[string]float64{}}
}

// ScaleUpShortfalls checks the scale-up of w from current to desired
// replicas against every ResourceQuota of w's namespace in the snapshot
// (QuotaShortfall), after the scale-ups checked before it, with the per-pod
// requests the snapshot saw, else the plan's, and books what it takes. It
// returns nothing when desired ≤ current, when quotas were not read, or
// when every quota has room. headroom plan and headroom run both check
// through it, in the order they apply their decisions; which decisions they
// check is theirs to say.
func (l *QuotaLedger) ScaleUpShortfalls(w *policy.Workload, current, desired int32) []QuotaShort {
	inv := l.inv
	if inv == nil || !inv.QuotasRead || len(inv.Quotas) == 0 || desired <= current {
		return nil
	}
	t := w.Target
	cpu, mem := w.Request.CPU, w.Request.Memory
	if st, ok := inv.States[metrics.Workload{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}]; ok && (st.CPURequest > 0 || st.MemoryRequest > 0) {
		cpu, mem = st.CPURequest, st.MemoryRequest
	}
	extra := int(desired - current)
	var out []QuotaShort
	for _, q := range inv.Quotas {
		if q.Namespace != t.Namespace || !CountsWorkloadPods(q) {
			continue
		}
		key := q.Namespace + "/" + q.Name
		taken := l.taken[key]
		if s, short := quotaShortfall(q, taken, extra, float64(extra)*cpu, float64(extra)*mem); short {
			out = append(out, s)
		}
		if taken == nil {
			taken = map[string]float64{}
			l.taken[key] = taken
		}
		for _, res := range QuotaCheckResources {
			if hard, ok := q.Hard[res]; ok {
				used := q.Used[res]
				taken[res] = min(taken[res]+scaleUpNeed(res, extra, float64(extra)*cpu, float64(extra)*mem), max(hard-used, 0))
			}
		}
	}
	return out
}
