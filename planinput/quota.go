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
}

// Left is what the quota has left of Resource (never below 0).
func (s QuotaShort) Left() float64 { return max(s.Hard-s.Used, 0) }

// Shortfall is how much of Resource the scale-up needs beyond what the
// quota has left (cores, bytes or pods): Need − Left.
func (s QuotaShort) Shortfall() float64 { return s.Need - s.Left() }

// String says what is short, for a decision's warnings.
func (s QuotaShort) String() string {
	return fmt.Sprintf("QUOTA: %d more pods need %s of %s, but quota %s/%s has %s left (%s used of %s): the API server refuses the pods beyond it (403 Forbidden: exceeded quota), the scale-up stays short",
		s.Pods, quotaAmount(s.Resource, s.Need), s.Resource, s.Namespace, s.Name, quotaAmount(s.Resource, s.Left()), quotaAmount(s.Resource, s.Used), quotaAmount(s.Resource, s.Hard))
}

// QuotaShortfall checks a scale-up that adds pods pods, requesting cpu
// cores and mem bytes in all, against quota q: the first of
// QuotaCheckResources whose counted use plus the scale-up's exceeds hard.
// ok is false when it fits, when q does not count the workload's pods
// (CountsWorkloadPods), and for resources whose use q's status does not
// count yet. The caller matches q's namespace.
func QuotaShortfall(q metrics.ResourceQuota, pods int, cpu, mem float64) (QuotaShort, bool) {
	if pods <= 0 || !CountsWorkloadPods(q) {
		return QuotaShort{}, false
	}
	for _, res := range QuotaCheckResources {
		hard, limited := q.Hard[res]
		used, counted := q.Used[res]
		if !limited || !counted {
			continue
		}
		need := float64(pods)
		switch res {
		case metrics.QuotaRequestsCPU:
			need = cpu
		case metrics.QuotaRequestsMemory:
			need = mem
		}
		if used+need > hard+1e-9 {
			return QuotaShort{Namespace: q.Namespace, Name: q.Name, Resource: res, Pods: pods, Need: need, Used: used, Hard: hard}, true
		}
	}
	return QuotaShort{}, false
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

// ScaleUpShortfalls checks the scale-up of w from current to desired
// replicas against every ResourceQuota of w's namespace in the snapshot
// (QuotaShortfall), with the per-pod requests the snapshot saw, else the
// plan's. It returns nothing when desired ≤ current, when quotas were not
// read, or when every quota has room. headroom plan and headroom run both
// check through it; which decisions they check is theirs to say.
func (inv *Inventory) ScaleUpShortfalls(w *policy.Workload, current, desired int32) []QuotaShort {
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
		if q.Namespace != t.Namespace {
			continue
		}
		if s, short := QuotaShortfall(q, extra, float64(extra)*cpu, float64(extra)*mem); short {
			out = append(out, s)
		}
	}
	return out
}
