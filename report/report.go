package report

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// SchemaVersion is the version of the Report's JSON shape. 2 added quotas.
const SchemaVersion = 2

// ErrInvalid is wrapped by errors about a report's inputs (a simulation
// file, a plan, a store without the data asked for).
var ErrInvalid = errors.New("report: invalid input")

// Sources of a report.
const (
	SourceStore      = "store"
	SourceSimulation = "simulation"
)

// Report is a capacity review. Every format renders it; JSON encodes it
// as it is, without the chart series (which the simulation result and the
// store hold).
type Report struct {
	SchemaVersion int    `json:"schemaVersion"`
	Title         string `json:"title"`
	Plan          string `json:"plan"`
	Source        string `json:"source"` // SourceStore or SourceSimulation
	// GeneratedAt is Options.Now; AsOf is the newest sample the report read
	// (the end of a simulation).
	GeneratedAt time.Time   `json:"generated_at"`
	AsOf        time.Time   `json:"as_of"`
	From        time.Time   `json:"from"` // oldest sample read
	Summary     Summary     `json:"summary"`
	Simulation  *Simulation `json:"simulation,omitempty"`
	Workloads   []Workload  `json:"workloads"`
	Pools       []Pool      `json:"pools"`
	// Quotas are the namespaces' ResourceQuotas from the inventory (store
	// reports; empty for a simulation).
	Quotas   []Quota   `json:"quotas"`
	Findings []Finding `json:"findings"`
	Warnings []string  `json:"warnings"`
}

// Summary is the cluster at a glance.
type Summary struct {
	// InventoryAt is the time of the inventory snapshot (nil: none).
	InventoryAt         *time.Time     `json:"inventory_at"`
	ControlPlaneVersion string         `json:"control_plane_version,omitempty"`
	NodeGroups          []NodeGroup    `json:"node_groups"`
	Versions            []VersionCount `json:"kubelet_versions"`
	// CPU in cores, Memory in bytes: what pods request, what they use,
	// what the nodes offer.
	CPU    Totals `json:"cpu"`
	Memory Totals `json:"memory"`
	// MonthlyCost is what the nodes running now cost a month at the plan's
	// prices (store), or the first policy's monthly cost (simulation).
	MonthlyCost float64 `json:"monthly_cost"`
	// PlannedMonthlyCost is what policy.PlanPools plans for now.
	PlannedMonthlyCost float64 `json:"planned_monthly_cost"`
	MonthlyBudget      float64 `json:"monthly_budget"` // 0: none
}

// NodeGroup counts the nodes of one pool in one zone.
type NodeGroup struct {
	Pool   string  `json:"pool"`
	Zone   string  `json:"zone"`
	Nodes  int     `json:"nodes"`
	Ready  int     `json:"ready"`
	CPU    Num     `json:"cpu_allocatable"`
	Memory Num     `json:"memory_allocatable"`
	Price  float64 `json:"price_per_hour"` // per node, from the plan (0: not in the plan)
}

// VersionCount is how many nodes run one kubelet version, and what is wrong
// with it against the control plane ("" when nothing).
type VersionCount struct {
	Version string `json:"version"`
	Nodes   int    `json:"nodes"`
	Skew    string `json:"skew,omitempty"`
}

// Totals are requested, used and allocatable amounts.
type Totals struct {
	Requested   Num `json:"requested"`
	Used        Num `json:"used"`
	Allocatable Num `json:"allocatable"`
}

// Workload is one workload's section.
type Workload struct {
	Target string `json:"target"`
	Mode   string `json:"mode,omitempty"` // "" when not in the plan
	Pool   string `json:"pool,omitempty"`
	// Pods and Ready from the inventory (-1: not in it).
	Pods  int `json:"pods"`
	Ready int `json:"ready"`
	// Per-replica requests (plan, else inventory); 0: none.
	RequestCPU    Num `json:"request_cpu_cores"`
	RequestMemory Num `json:"request_memory_bytes"`
	// Usage, total over pods: the newest sample and the period's 95th
	// percentile (NaN: no data).
	UsageCPU    Num `json:"usage_cpu_cores"`
	UsageCPUP95 Num `json:"usage_cpu_p95_cores"`
	UsageMemory Num `json:"usage_memory_bytes"`
	// LastSample is the newest usage sample (nil: none).
	LastSample *time.Time `json:"last_sample"`
	// Planning, from policy.Replicas (nil: not planned).
	Plan *Planned `json:"plan,omitempty"`
	// Forecast of CPU demand (nil: none).
	Forecast *ForecastSummary `json:"forecast,omitempty"`
	// Rightsizing advice from policy.Rightsize (nil: not enough data).
	Advice *Advice `json:"advice,omitempty"`
	// Decisions are the newest entries of the decision log, oldest first.
	Decisions []DecisionEntry `json:"decisions,omitempty"`
	// Simulated is each policy's result for the workload (simulation).
	Simulated []SimWorkload `json:"simulated,omitempty"`

	chart *Chart
}

// Planned is what the policy package plans for a workload now.
type Planned struct {
	Time     time.Time `json:"time"`
	Current  int32     `json:"current"`
	Desired  int32     `json:"desired"`
	Rule     string    `json:"rule"`
	Reason   string    `json:"reason"`
	Min      int32     `json:"min"`
	Max      int32     `json:"max"`
	Warnings []string  `json:"warnings,omitempty"`
	// PeakReplicas is the forecast replicas over the whole horizon at the
	// planned quantile (policy.ForecastReplicas), within [min, max].
	PeakReplicas int32 `json:"peak_replicas"`
	// HeadroomNow is capacity at the current replicas (× request ×
	// utilization target) minus usage now; HeadroomAtPeak minus the
	// forecast peak at the planned quantile. Cores; negative: short.
	HeadroomNow    Num `json:"headroom_now_cores"`
	HeadroomAtPeak Num `json:"headroom_at_peak_cores"`
}

// ForecastSummary is the CPU forecast and how well it backtests.
type ForecastSummary struct {
	Model    string    `json:"model"`
	Quantile float64   `json:"quantile"`
	Horizon  string    `json:"horizon"`
	PeakMean Num       `json:"peak_mean_cores"`
	PeakUp   Num       `json:"peak_quantile_cores"` // peak of the planned quantile
	PeakAt   time.Time `json:"peak_at"`
	// From Forecast.Backtest (the validation tail of the fit).
	MASE     Num `json:"mase"`
	SMAPE    Num `json:"smape"`
	Coverage Num `json:"coverage"` // of the planned quantile
	// From forecast.Evaluate (rolling origin; NaN when not run).
	RelMASE     Num `json:"rel_mase"` // MASE / seasonal naive's
	EvalSMAPE   Num `json:"eval_smape"`
	EvalOrigins int `json:"eval_origins"`
}

// Advice is per-replica rightsizing advice (never applied).
type Advice struct {
	CPU    Num      `json:"cpu_cores"`    // 0: no advice
	Memory Num      `json:"memory_bytes"` // 0: no advice
	Notes  []string `json:"notes,omitempty"`
}

// DecisionEntry is one entry of the decision log.
type DecisionEntry struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Reason string    `json:"reason"`
}

// SimWorkload is one policy's result for one workload in a simulation.
type SimWorkload struct {
	Policy           string  `json:"policy"`
	UnmetCoreMinutes float64 `json:"unmet_core_minutes"`
	TimeShort        float64 `json:"time_short"`
	WasteCoreHours   float64 `json:"waste_core_hours"`
	PeakReplicas     int32   `json:"peak_replicas"`
	Actions          int     `json:"actions"`
}

// Pool is one node pool's section.
type Pool struct {
	Name     string  `json:"name"`
	Zones    int     `json:"zones"`
	Headroom string  `json:"headroom"` // mode in the plan
	Min      int     `json:"min"`
	Max      int     `json:"max"`
	Price    float64 `json:"price_per_hour"`
	// Nodes and Ready now, from the inventory (simulation: at the end of
	// the first policy's run).
	Nodes int `json:"nodes"`
	Ready int `json:"ready"`
	// ZonesUsed is the number of distinct zones of the pool's nodes now.
	ZonesUsed int `json:"zones_used"`
	// CPU (cores) the pool's nodes offer now and at the maximum size.
	AllocatableCPU Num `json:"allocatable_cpu_cores"`
	CapacityMaxCPU Num `json:"capacity_at_max_cpu_cores"`
	// DemandCPU is the pool's workloads' usage over their utilization
	// targets (the requests they need) now; ForecastPeakCPU its forecast
	// peak at the planned quantile over the horizon.
	DemandCPU       Num `json:"demand_cpu_cores"`
	ForecastPeakCPU Num `json:"forecast_peak_cpu_cores"`
	// The same for memory (bytes), when every workload of the pool
	// reports memory (NaN otherwise).
	CapacityMaxMemory  Num `json:"capacity_at_max_memory_bytes"`
	DemandMemory       Num `json:"demand_memory_bytes"`
	ForecastPeakMemory Num `json:"forecast_peak_memory_bytes"`
	// Runway is the first time the forecast demand at the planned quantile
	// of CPU or memory (RunwayResource) exceeds the pool at its maximum
	// size (nil: not within the horizon, or no forecast); RunwayDays counts
	// from AsOf.
	Runway         *time.Time `json:"runway"`
	RunwayDays     Num        `json:"runway_days"`
	RunwayResource string     `json:"runway_resource,omitempty"`
	Horizon        string     `json:"horizon,omitempty"`
	// Headroom checks with policy.PlanPools: does the plan's n+1 or zone
	// headroom hold with the nodes there now and the pods running now, and
	// within the maximum size at the forecast peak? "" when not checked.
	HeadroomNow    string `json:"headroom_now,omitempty"`
	HeadroomAtPeak string `json:"headroom_at_peak,omitempty"`
	// Nodes planned now and at the forecast peak, and their monthly costs.
	PlannedNodes    int       `json:"planned_nodes"`
	PeakNodes       int       `json:"peak_nodes"`
	MonthlyCostNow  float64   `json:"monthly_cost_now"`
	MonthlyCostPlan float64   `json:"monthly_cost_planned"`
	MonthlyCostPeak float64   `json:"monthly_cost_at_peak"`
	Simulated       []SimPool `json:"simulated,omitempty"`
	Warnings        []string  `json:"warnings,omitempty"`

	chart *Chart
}

// SimPool is one policy's result for one pool in a simulation.
type SimPool struct {
	Policy    string  `json:"policy"`
	NodeHours float64 `json:"node_hours"`
	Cost      float64 `json:"cost"`
	PeakNodes int     `json:"peak_nodes"`
	Actions   int     `json:"actions"`
}

// Num is a float64 that encodes NaN and ±Inf as JSON null.
type Num float64

// MarshalJSON writes null for NaN and ±Inf.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*n = Num(f)
	return err
}

var nan = Num(math.NaN())
