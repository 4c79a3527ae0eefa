package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// APIVersion and Kind identify a plan document.
const (
	APIVersion = "headroom.dev/v1alpha1"
	Kind       = "CapacityPlan"
)

// Plan is a CapacityPlan document.
type Plan struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// file and lines locate fields for error messages; set by Load.
	file  string
	lines map[string]int
}

// Metadata names the plan.
type Metadata struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Spec is the body of a plan.
type Spec struct {
	// Schedule is the cron schedule of serve mode ("*/5 * * * *"); the
	// CronJob has its own. Optional.
	Schedule string `json:"schedule,omitempty"`
	// Interval is how often the planner runs; it widens the demand window to
	// [now, now + leadTime + interval]. Default 5m.
	Interval *Duration `json:"interval,omitempty"`
	History  History   `json:"history"`
	Forecast Forecast  `json:"forecast"`
	// Workloads are the targets to plan; at least one.
	Workloads []Workload `json:"workloads"`
	NodePools []NodePool `json:"nodePools,omitempty"`
	Budget    *Budget    `json:"budget,omitempty"`
	// Run configures headroom run and serve (see run.go). Optional.
	Run *Run `json:"run,omitempty"`
}

// History says where usage history comes from and how long it is kept.
type History struct {
	// Source is metrics-server, prometheus or trace. Default trace when every
	// workload has a trace, metrics-server otherwise.
	Source string `json:"source,omitempty"`
	// Store is the SQLite store path. Optional.
	Store string `json:"store,omitempty"`
	// Retention of the store: {raw: 8d, hourly: 400d}, or the scalar form
	// (35d), which is the hourly retention with raw samples kept
	// min(8d, hourly), as headroom collect --retention does. Default 400d.
	Retention *Retention `json:"retention,omitempty"`
	// MaxAge is the age beyond which data is stale and targets hold. Default 10m.
	MaxAge *Duration `json:"maxAge,omitempty"`
	// Prometheus configures the prometheus source. Optional.
	Prometheus *Prometheus `json:"prometheus,omitempty"`
	// Namespaces to collect. Default: the workloads' namespaces.
	Namespaces []string `json:"namespaces,omitempty"`
	// NodePoolLabel is a node label naming the node pool, tried before the
	// GKE, Karpenter and EKS labels. Optional.
	NodePoolLabel string `json:"nodePoolLabel,omitempty"`
}

// Retention says how long the store keeps raw samples and hourly
// aggregates. In a plan file it is a mapping {raw: 8d, hourly: 400d} or a
// scalar duration: retention: 35d means {raw: 8d, hourly: 35d} (raw is
// min(DefaultRawRetention, the scalar)). An unset raw defaults to
// min(8d, hourly), an unset hourly to max(400d, raw).
type Retention struct {
	Raw    *Duration `json:"raw,omitempty"`
	Hourly *Duration `json:"hourly,omitempty"`
}

// UnmarshalJSON accepts the mapping or the scalar form.
func (r *Retention) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var d Duration
		if err := d.UnmarshalJSON(b); err != nil {
			return err
		}
		*r = Retention{Hourly: &d}
		return nil
	}
	type plain Retention
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("retention must be a duration such as 35d or a mapping {raw: 8d, hourly: 400d}: %v", err)
	}
	*r = Retention(p)
	return nil
}

// Prometheus is where the prometheus source reads.
type Prometheus struct {
	// URL is the Prometheus base URL (http://prometheus.monitoring:9090).
	// Required by headroom collect unless --prometheus-url is given.
	URL string `json:"url,omitempty"`
	// Timeout of each request. Default 30s.
	Timeout *Duration `json:"timeout,omitempty"`
	// Step of the range queries. Default 1m.
	Step *Duration `json:"step,omitempty"`
	// Queries replace the default cAdvisor queries for every workload.
	Queries *Queries `json:"queries,omitempty"`
}

// Queries are PromQL expressions, text/template over metrics/prom.Query
// ({{.Selector}}, {{.Rate}}). Unset ones keep the default.
type Queries struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Forecast configures the forecaster.
type Forecast struct {
	// Horizon to forecast. Default 1h; widened when a workload's
	// leadTime + interval is longer.
	Horizon *Duration `json:"horizon,omitempty"`
	// Quantile of demand to provision for, in (0, 1). Default 0.95.
	Quantile float64 `json:"quantile,omitempty"`
	// Model is auto or one of forecast.ModelNames. Default auto.
	Model string `json:"model,omitempty"`
	// Seasonality lists the seasonal periods to forecast with (24h, 168h),
	// used whatever their detected strength when the history spans two of
	// them; [] means none. Optional: detected among an hour, a day and a week.
	Seasonality []Duration `json:"seasonality,omitempty"`
}

// Workload is one scalable target.
type Workload struct {
	Target Target `json:"target"`
	// Trace is an offline demand source; optional when history comes from a cluster.
	Trace *Trace `json:"trace,omitempty"`
	// Resources are the per-replica requests. Required with a trace source;
	// otherwise default: read from the pod template.
	Resources   *Resources  `json:"resources,omitempty"`
	Utilization Utilization `json:"utilization"`
	Replicas    Replicas    `json:"replicas"`
	// LeadTime is the pod start-up time, or auto: the median of the
	// start-ups measured by headroom run (the decision log's lead-time rows
	// of the last 30 days, at most the last 20), else DefaultPodLeadTime.
	// Default 1m.
	LeadTime *LeadTime `json:"leadTime,omitempty"`
	Behavior *Behavior `json:"behavior,omitempty"`
	Windows  []Window  `json:"windows,omitempty"`
	// Mode is scale, hpa-floor or recommend. Default scale.
	Mode string `json:"mode,omitempty"`
	// NodePool pins the workload's pods to one pool. Optional: the planner
	// chooses by least waste, then price.
	NodePool string `json:"nodePool,omitempty"`
	// Tolerance of the reactive floor, as in HPA. Default 0.1.
	Tolerance *float64 `json:"tolerance,omitempty"`
	// Query overrides the prometheus source's queries for this workload:
	// PromQL whose result series are summed into its usage. Optional.
	Query *Queries `json:"query,omitempty"`
}

// Target references a scalable object.
type Target struct {
	APIVersion string `json:"apiVersion,omitempty"` // default apps/v1
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"` // default "default"
	Name       string `json:"name"`
}

// String is kind/namespace/name.
func (t Target) String() string { return t.Kind + "/" + t.Namespace + "/" + t.Name }

// Trace reads demand from a CSV trace file (see metrics/trace).
type Trace struct {
	// File is the trace path, relative to the plan file's folder.
	File string `json:"file"`
	// Column holds CPU demand; Scale converts it to cores (a trace of CPU %
	// of a 4-core machine has scale 0.04). Default: the first value column, scale 1.
	Column string   `json:"column,omitempty"`
	Scale  *float64 `json:"scale,omitempty"`
	// MemoryColumn holds memory demand; MemoryScale converts it to bytes.
	// Optional.
	MemoryColumn string   `json:"memoryColumn,omitempty"`
	MemoryScale  *float64 `json:"memoryScale,omitempty"`
	// Replicas is the replica count assumed to be running now, since a trace
	// has no cluster to ask. Default replicas.min.
	Replicas *int32 `json:"replicas,omitempty"`
}

// Resources are CPU and memory quantities (500m, 512Mi).
type Resources struct {
	CPU    *resource.Quantity `json:"cpu,omitempty"`
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// Utilization are the target utilizations in (0, 1].
type Utilization struct {
	CPU    float64 `json:"cpu,omitempty"`    // default 0.7
	Memory float64 `json:"memory,omitempty"` // default 0.8
}

// Replicas bounds a workload.
type Replicas struct {
	Min *int32 `json:"min,omitempty"` // default 1
	Max int32  `json:"max"`           // required
}

// Behavior mirrors the HPA's autoscaling/v2 behavior, with durations
// instead of seconds.
type Behavior struct {
	ScaleUp   *ScalingRules `json:"scaleUp,omitempty"`
	ScaleDown *ScalingRules `json:"scaleDown,omitempty"`
}

// ScalingRules are one direction's rules; unset fields take the HPA defaults.
type ScalingRules struct {
	StabilizationWindow *Duration `json:"stabilizationWindow,omitempty"`
	// Tolerance of the reactive floor in this direction, as the HPA's
	// behavior.scaleUp.tolerance / scaleDown.tolerance (Kubernetes 1.33+):
	// usage within [1 − down, 1 + up] × target keeps the count. Default: the
	// workload's tolerance (0.1).
	Tolerance    *float64        `json:"tolerance,omitempty"`
	SelectPolicy string          `json:"selectPolicy,omitempty"` // Max (default), Min, Disabled
	Policies     []ScalingPolicy `json:"policies,omitempty"`
}

// ScalingPolicy allows a change of Value pods or percent per Period.
type ScalingPolicy struct {
	Type   string   `json:"type"` // Pods or Percent
	Value  int32    `json:"value"`
	Period Duration `json:"period"`
}

// Window is a scheduled window: from each activation of Cron for Duration,
// the replica bounds are raised or set.
type Window struct {
	Name        string   `json:"name,omitempty"`
	Cron        string   `json:"cron"`
	Duration    Duration `json:"duration"`
	MinReplicas *int32   `json:"minReplicas,omitempty"`
	MaxReplicas *int32   `json:"maxReplicas,omitempty"`
}

// NodePool is a group of identical machines.
type NodePool struct {
	Name     string    `json:"name"`
	Provider string    `json:"provider,omitempty"` // cluster-api, gke, balloon, none (default)
	Machine  Machine   `json:"machine"`
	Overhead *Overhead `json:"overhead,omitempty"`
	Size     Size      `json:"size"`
	Zones    int       `json:"zones,omitempty"`    // default 1
	Headroom string    `json:"headroom,omitempty"` // none (default), n+1, zone
	LeadTime *Duration `json:"leadTime,omitempty"` // node provisioning; default 4m
	// ClusterAPI names the MachineDeployment of a cluster-api pool. Default:
	// {namespace: default, name: the pool's name}.
	ClusterAPI *ClusterAPIPool `json:"clusterAPI,omitempty"`
	// GKE locates a gke pool; required with provider gke.
	GKE *GKEPool `json:"gke,omitempty"`
	// Balloon configures a balloon pool. Default: {namespace: headroom,
	// name: headroom-balloon-<pool>, priorityClass: headroom-balloon}.
	Balloon *BalloonPool `json:"balloon,omitempty"`
}

// ClusterAPIPool names a Cluster API MachineDeployment, scaled through its
// /scale subresource.
type ClusterAPIPool struct {
	Namespace string `json:"namespace,omitempty"` // default "default"
	Name      string `json:"name,omitempty"`      // default: the pool's name
}

// GKEPool locates a GKE node pool:
// projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{nodePool}.
type GKEPool struct {
	Project  string `json:"project"`
	Location string `json:"location"` // a region or a zone
	Cluster  string `json:"cluster"`
	NodePool string `json:"nodePool,omitempty"` // default: the pool's name
	// Autoscaling: the pool runs GKE's cluster autoscaler, so headroom raises
	// its autoscaling minimum (setAutoscaling) instead of setting its size
	// (setSize).
	Autoscaling bool `json:"autoscaling,omitempty"`
}

// BalloonPool is a placeholder Deployment of pause pods at a negative
// priority that holds a pool's headroom nodes, so that cluster-autoscaler or
// Karpenter bring nodes up before real pods need them; real pods preempt it.
type BalloonPool struct {
	Namespace     string `json:"namespace,omitempty"`     // default "headroom"
	Name          string `json:"name,omitempty"`          // the Deployment; default headroom-balloon-<pool>
	PriorityClass string `json:"priorityClass,omitempty"` // default "headroom-balloon"
	// NodeSelector pins the balloon pods to the pool's nodes
	// (cloud.google.com/gke-nodepool: general). Optional.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// PodsPerNode splits each headroom node into this many pods, each
	// requesting its share of the node's allocatable. Default 1.
	PodsPerNode int `json:"podsPerNode,omitempty"`
}

// Machine is a node shape and its price.
type Machine struct {
	CPU          *resource.Quantity `json:"cpu"`
	Memory       *resource.Quantity `json:"memory"`
	Pods         int                `json:"pods,omitempty"` // default 110
	PricePerHour float64            `json:"pricePerHour,omitempty"`
}

// Overhead is what each node spends on DaemonSets and system reserve.
type Overhead struct {
	CPU    *resource.Quantity `json:"cpu,omitempty"`
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// Size bounds a pool's node count.
type Size struct {
	Min int `json:"min,omitempty"`
	Max int `json:"max"`
}

// Budget is the monthly spending limit of the plan's node pools.
type Budget struct {
	Monthly float64 `json:"monthly"`
}
