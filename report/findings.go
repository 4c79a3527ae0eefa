package report

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/headroom-dev/headroom/metrics"
)

// Severity orders findings: Critical first.
type Severity int

// Severities. The zero value is Info.
const (
	Info Severity = iota
	Warning
	Critical
)

var severityNames = [...]string{"info", "warning", "critical"}

func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// MarshalText writes the severity name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown severity %q", ErrInvalid, b)
}

// Kinds of finding.
const (
	KindOneReplica    = "spof-one-replica"
	KindOneNode       = "spof-one-node"
	KindOneZone       = "spof-one-zone"
	KindPoolOneZone   = "spof-pool-one-zone"
	KindNoRequests    = "no-requests"
	KindStale         = "stale-metrics"
	KindMissing       = "missing-metrics"
	KindRunway        = "short-runway"
	KindNoRoom        = "no-room-at-peak"
	KindUnpredictable = "unpredictable-demand"
	KindHeadroom      = "headroom-not-met"
	KindSkew          = "version-skew"
	KindNotReady      = "not-ready"
	KindShort         = "short-of-demand"
	KindBudget        = "over-budget"
	KindNoRecovery    = "no-recovery"
	KindPending       = "pending-pods"
	KindQuotaRunway   = "short-quota-runway"
	KindQuotaPlan     = "plan-exceeds-quota"
)

// Finding is one thing a reviewer should look at.
type Finding struct {
	Severity Severity `json:"severity"`
	Kind     string   `json:"kind"`
	Subject  string   `json:"subject"` // a workload, a pool, a node version
	Message  string   `json:"message"`
}

// sortFindings orders by severity (critical first), then kind, subject.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Message, b.Message))
	})
}

// SPOFs finds the single points of failure of the workloads and pools in
// an inventory: a workload with one pod (Critical when its plan's minimum
// is 1 or it is not in the plan: nothing will add a second; Warning
// otherwise), a workload with several pods all on one node (Critical) or
// all in one zone while the cluster has several (Warning), and a pool
// whose nodes are all in one zone (Warning; Info when the pool has one
// node). minReplicas maps a workload to its plan's minimum (absent: not
// planned). Workloads with no pods are skipped (nothing runs to fail).
func SPOFs(inv *metrics.Inventory, minReplicas map[metrics.Workload]int32) []Finding {
	var out []Finding
	zoneOf := make(map[string]string, len(inv.Nodes))
	zones := map[string]bool{}
	for _, n := range inv.Nodes {
		zoneOf[n.Name] = n.Zone
		if n.Zone != "" {
			zones[n.Zone] = true
		}
	}
	for _, w := range inv.Workloads {
		if w.Pods <= 0 {
			continue
		}
		name := w.Workload.String()
		if w.Pods == 1 {
			sev, why := Warning, ""
			m, planned := minReplicas[w.Workload]
			switch {
			case !planned:
				sev, why = Critical, "it is not in the plan"
			case m <= 1:
				sev, why = Critical, fmt.Sprintf("the plan's minimum is %d", m)
			default:
				why = fmt.Sprintf("below the plan's minimum of %d", m)
			}
			out = append(out, Finding{sev, KindOneReplica, name, fmt.Sprintf("one replica: a single pod failure or node drain takes it down (%s)", why)})
			continue
		}
		scheduled := 0
		var nodes []string
		for n, c := range w.Nodes {
			if c > 0 {
				scheduled += c
				nodes = append(nodes, n)
			}
		}
		sort.Strings(nodes)
		if scheduled < 2 {
			continue
		}
		if len(nodes) == 1 {
			out = append(out, Finding{Critical, KindOneNode, name, fmt.Sprintf("all %d scheduled pods run on node %s: losing it takes the workload down", scheduled, nodes[0])})
			continue
		}
		wz := map[string]bool{}
		for _, n := range nodes {
			wz[zoneOf[n]] = true
		}
		if len(wz) == 1 && len(zones) > 1 {
			for z := range wz {
				if z != "" {
					out = append(out, Finding{Warning, KindOneZone, name, fmt.Sprintf("all %d scheduled pods run in zone %s (of %d zones): a zone outage takes the workload down", scheduled, z, len(zones))})
				}
			}
		}
	}
	pools := map[string]map[string]int{}
	for _, n := range inv.Nodes {
		if pools[n.Pool] == nil {
			pools[n.Pool] = map[string]int{}
		}
		pools[n.Pool][n.Zone]++
	}
	names := make([]string, 0, len(pools))
	for p := range pools {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if len(pools[p]) != 1 {
			continue
		}
		for z, c := range pools[p] {
			if z == "" {
				continue
			}
			sev := Warning
			if c == 1 {
				sev = Info
			}
			out = append(out, Finding{sev, KindPoolOneZone, poolName(p), fmt.Sprintf("%s in zone %s: a zone outage takes the pool down", allNodes(c), z)})
		}
	}
	sortFindings(out)
	return out
}

// NoRequests finds workloads whose pods request neither CPU nor memory:
// the scheduler packs them blind and no utilization target applies.
func NoRequests(inv *metrics.Inventory) []Finding {
	var out []Finding
	for _, w := range inv.Workloads {
		if w.Pods > 0 && w.CPURequest <= 0 && w.MemoryRequest <= 0 {
			out = append(out, Finding{Warning, KindNoRequests, w.Workload.String(), "its pods request neither CPU nor memory: the scheduler places them blind and utilization targets do not apply"})
		} else if w.Pods > 0 && w.CPURequest <= 0 {
			out = append(out, Finding{Info, KindNoRequests, w.Workload.String(), "its pods request no CPU"})
		}
	}
	return out
}

func poolName(p string) string {
	if p == "" {
		return "(no pool label)"
	}
	return p
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(noun, "s"))
}

func allNodes(n int) string {
	if n == 1 {
		return "its one node is"
	}
	return fmt.Sprintf("all %d nodes are", n)
}
