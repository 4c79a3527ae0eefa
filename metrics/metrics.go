package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Resource names a measured quantity of a workload or node pool. The unit is part of the name's contract.
type Resource string

// Resources recorded by the sources. Usage is a sum over the pods (or nodes) that reported it.
const (
	CPU    Resource = "cpu"    // usage, cores
	Memory Resource = "memory" // working-set usage, bytes

	CPURequest    Resource = "cpu_request"    // per replica, from the pod template, cores
	MemoryRequest Resource = "memory_request" // per replica, from the pod template, bytes

	Pods            Resource = "pods"              // pods that should have reported (not finished)
	PodsWithMetrics Resource = "pods_with_metrics" // of those, pods with usage in the metrics API

	Nodes             Resource = "nodes"              // nodes in a pool
	NodesReady        Resource = "nodes_ready"        // of those, nodes whose Ready condition is True
	CPUAllocatable    Resource = "cpu_allocatable"    // summed over a pool's nodes, cores
	MemoryAllocatable Resource = "memory_allocatable" // bytes
	PodsAllocatable   Resource = "pods_allocatable"   // pods
)

// Kinds of workload that are not Kubernetes workload resources.
const (
	KindNodePool = "NodePool" // a pool of nodes; Namespace is empty
	KindTrace    = "Trace"    // a series read from a trace file; Name is the file's base name
)

// Workload identifies what a series measures: a scalable Kubernetes object (Deployment, StatefulSet,
// ReplicaSet without an owner), a DaemonSet (per-node overhead), a node pool, or a trace.
type Workload struct {
	Kind      string
	Namespace string // empty for cluster-scoped things (node pools) and traces
	Name      string
}

// String returns Kind/Namespace/Name, or Kind/Name without a namespace.
func (w Workload) String() string {
	if w.Namespace == "" {
		return w.Kind + "/" + w.Name
	}
	return w.Kind + "/" + w.Namespace + "/" + w.Name
}

// ParseWorkload is the inverse of Workload.String.
func ParseWorkload(s string) (Workload, error) {
	p := strings.Split(s, "/")
	for _, f := range p {
		if f == "" {
			return Workload{}, fmt.Errorf("%w: workload %q: empty field (want Kind/namespace/name or Kind/name)", ErrInvalid, s)
		}
	}
	switch len(p) {
	case 2:
		return Workload{Kind: p[0], Name: p[1]}, nil
	case 3:
		return Workload{Kind: p[0], Namespace: p[1], Name: p[2]}, nil
	}
	return Workload{}, fmt.Errorf("%w: workload %q: want Kind/namespace/name or Kind/name", ErrInvalid, s)
}

// Labels are extra dimensions of a series (a container name, a pool's zone). nil and empty are the same.
type Labels map[string]string

// String returns the labels in a canonical form, sorted by name: {a="x",b="y"}; "" when there are none.
func (l Labels) String() string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Key identifies one series.
type Key struct {
	Workload Workload
	Resource Resource
	Labels   Labels
}

// String returns Kind/namespace/name/resource followed by the labels, e.g. Deployment/shop/web/cpu or
// NodePool/default/nodes{zone="a"}. It is the column name of the series in an exported trace.
func (k Key) String() string {
	return k.Workload.String() + "/" + string(k.Resource) + k.Labels.String()
}

// ParseKey is the inverse of Key.String.
func ParseKey(s string) (Key, error) {
	var k Key
	rest := s
	if i := strings.IndexByte(s, '{'); i >= 0 {
		if !strings.HasSuffix(s, "}") {
			return k, fmt.Errorf("%w: series %q: labels must end with }", ErrInvalid, s)
		}
		ls, err := ParseLabels(s[i+1 : len(s)-1])
		if err != nil {
			return k, fmt.Errorf("%w: series %q: %v", ErrInvalid, s, err)
		}
		k.Labels = ls
		rest = s[:i]
	}
	j := strings.LastIndexByte(rest, '/')
	if j < 0 || j == len(rest)-1 {
		return Key{}, fmt.Errorf("%w: series %q: want Kind/namespace/name/resource", ErrInvalid, s)
	}
	w, err := ParseWorkload(rest[:j])
	if err != nil {
		return Key{}, err
	}
	k.Workload, k.Resource = w, Resource(rest[j+1:])
	return k, nil
}

// ParseLabels parses the inside of the braces of Labels.String: a="x",b="y". "" gives empty Labels.
func ParseLabels(s string) (Labels, error) {
	l := Labels{}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, fmt.Errorf("bad label at %q", s)
		}
		name := s[:eq]
		// find the closing quote, honouring escapes
		end := -1
		for i := eq + 2; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("unterminated label value at %q", s)
		}
		var v string
		if _, err := fmt.Sscanf(s[eq+1:end+1], "%q", &v); err != nil {
			return nil, fmt.Errorf("bad label value at %q", s)
		}
		l[name] = v
		s = s[end+1:]
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if s != "" {
			return nil, fmt.Errorf("want , after label %s", name)
		}
	}
	return l, nil
}

// Point is one sample. T is UTC; V is finite.
type Point struct {
	T time.Time
	V float64
}

// Series is a key and its points in time order.
type Series struct {
	Key    Key
	Points []Point
}

// Node is one node of the inventory read from the cluster.
type Node struct {
	Name           string
	Pool           string // node-pool membership (see metrics/kube); "" when no pool label is set
	Zone           string // topology.kubernetes.io/zone
	Ready          bool
	KubeletVersion string
	CPU            float64 // allocatable, cores
	Memory         float64 // allocatable, bytes
	Pods           float64 // allocatable pods
	// Usage from NodeMetrics; HasUsage is false when the metrics API had none for this node.
	HasUsage              bool
	CPUUsage, MemoryUsage float64
}

// WorkloadState is a snapshot of one workload's pods: how many, how many are Ready, where they run. It feeds
// single-point-of-failure findings and the actuator's convergence checks.
type WorkloadState struct {
	Workload Workload
	// Pods counts pods that are not Succeeded or Failed; Ready those whose Ready condition is True; Pending
	// those in phase Pending (unscheduled, pulling images, waiting on capacity).
	Pods    int
	Ready   int
	Pending int
	// Per-replica requests from the pod template; 0 when the template sets none.
	CPURequest    float64
	MemoryRequest float64
	// Nodes counts the workload's scheduled pods per node name.
	Nodes map[string]int
}

// Inventory is what a cluster looked like at one moment: its nodes, its workloads' pods and its namespaces'
// resource quotas. The store keeps one per collection; reports read the latest.
type Inventory struct {
	At                  time.Time
	ControlPlaneVersion string
	Nodes               []Node
	Workloads           []WorkloadState
	// Quotas are the ResourceQuotas of the collected namespaces; QuotasRead is false when they were not read
	// (a snapshot from before quotas were collected, or a collector not allowed to list them), so that no
	// quota and unknown quotas differ. The store keeps them in their own table, not in the snapshot's JSON.
	Quotas     []ResourceQuota `json:"-"`
	QuotasRead bool            `json:"-"`
}

// Quota resources: what a ResourceQuota limits that headroom's plans change. The shorthand "cpu" and
// "memory" of a quota's spec.hard mean requests and are recorded as QuotaRequestsCPU and QuotaRequestsMemory.
const (
	QuotaRequestsCPU    = "requests.cpu"    // cores
	QuotaRequestsMemory = "requests.memory" // bytes
	QuotaLimitsCPU      = "limits.cpu"      // cores
	QuotaLimitsMemory   = "limits.memory"   // bytes
	QuotaPods           = "pods"            // pods not Succeeded or Failed
)

// QuotaResources lists the quota resources recorded, in display order.
var QuotaResources = []string{QuotaRequestsCPU, QuotaRequestsMemory, QuotaLimitsCPU, QuotaLimitsMemory, QuotaPods}

// ResourceQuota is one core/v1 ResourceQuota: its hard limits (spec.hard) and what the quota controller counted
// as used (status.used), for the QuotaResources it sets, in cores, bytes and pods.
type ResourceQuota struct {
	Namespace string
	Name      string
	Hard      map[string]float64
	// Used lacks a resource the quota's status does not count yet (no quota controller ran since it was
	// created or changed).
	Used map[string]float64
	// Scopes are the quota's spec.scopes and scopeSelector terms ("BestEffort", "PriorityClass In (high)"):
	// a scoped quota counts only the pods that match them. Empty: every pod of the namespace.
	Scopes []string
}

// Coverage says how many of a workload's pods reported usage. Missing pods are coverage, not zero usage:
// a consumer that wants total demand scales the usage sum by Pods / WithMetrics.
type Coverage struct {
	Workload    Workload
	Pods        int // pods that should have reported (not Succeeded or Failed)
	WithMetrics int
}

// Batch is what one Collect returned.
type Batch struct {
	Source   string // the source's name, e.g. "metrics-server", "prometheus", "trace"
	Window   Window
	Series   []Series
	Coverage []Coverage // snapshot sources only
	Nodes    []Node     // sources that read the node inventory
	// ControlPlaneVersion is the API server's version (gitVersion), when the source read it.
	ControlPlaneVersion string
	// States is the snapshot of each workload's pods (snapshot sources that list pods only).
	States []WorkloadState
	// Quotas are the collected namespaces' ResourceQuotas; QuotasRead says whether they were read (see Inventory).
	Quotas     []ResourceQuota
	QuotasRead bool
	// Warnings are things the caller should show but that did not stop the collection: partial data from
	// Prometheus, usage for pods that no longer exist, pods without owners.
	Warnings []string
}

// Samples returns the number of points in the batch.
func (b *Batch) Samples() int {
	n := 0
	for _, s := range b.Series {
		n += len(s.Points)
	}
	return n
}

// Workloads returns the number of distinct workloads in the batch's series.
func (b *Batch) Workloads() int {
	seen := map[Workload]bool{}
	for _, s := range b.Series {
		seen[s.Key.Workload] = true
	}
	return len(seen)
}

// Window is the time range a collection asks for. Range sources (Prometheus, traces) return samples with
// Start <= t <= End every Step; snapshot sources (metrics-server) read the present and stamp it End.
type Window struct {
	Start, End time.Time
	Step       time.Duration
}

// Progress receives a collection's progress: done of total steps (the total may grow), and what is being
// read now. Sources call it from the collecting goroutine; nil means no reports.
type Progress func(done, total int, what string)

// Source is anything that yields usage samples.
type Source interface {
	// Name is a short, stable name for logs and the store's collection log.
	Name() string
	// Collect reads the window. An unreachable source is an error wrapping ErrUnavailable; nothing is
	// written anywhere by a Source.
	Collect(ctx context.Context, w Window) (*Batch, error)
}

// NextWindow returns the window a periodic collection should ask a range source for: from the end of the
// previous collection (minus one step of overlap: re-collection is idempotent in the store) to now, or, on the
// first run (last is zero), a backfill of the given length. Start and End are aligned down to the step.
func NextWindow(last, now time.Time, backfill, step time.Duration) Window {
	if step <= 0 {
		step = time.Minute
	}
	end := now.Truncate(step)
	start := end.Add(-backfill)
	if !last.IsZero() {
		start = last.Truncate(step).Add(-step)
		if start.Before(end.Add(-backfill)) {
			start = end.Add(-backfill)
		}
	}
	return Window{Start: start.UTC(), End: end.UTC(), Step: step}
}

// Errors shared by the sources and the store.
var (
	// ErrUnavailable: a source could not be reached or answered with a server error after its retries.
	ErrUnavailable = errors.New("metrics: source unavailable")
	// ErrInvalid: bad options or malformed input (a series name, a query result without workload labels).
	ErrInvalid = errors.New("metrics: invalid")
)

// Finite reports whether v is usable as a sample value.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
