package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidInput is wrapped by errors about inputs the planner cannot use
// (a bug in the caller, not a condition of the cluster: missing or stale data
// is a Decision to hold, never an error).
var ErrInvalidInput = errors.New("policy: invalid input")

// Resources is an amount of CPU (cores) and memory (bytes).
type Resources struct {
	CPU    float64 `json:"cpu"`
	Memory float64 `json:"memory"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources { return Resources{r.CPU + o.CPU, r.Memory + o.Memory} }

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources { return Resources{r.CPU - o.CPU, r.Memory - o.Memory} }

// Scale returns r × f.
func (r Resources) Scale(f float64) Resources { return Resources{r.CPU * f, r.Memory * f} }

// Fits reports whether r fits in o (with a relative tolerance of 1e-9 for
// sums of floating-point requests).
func (r Resources) Fits(o Resources) bool {
	return r.CPU <= o.CPU+1e-9*max(1, o.CPU) && r.Memory <= o.Memory+1e-9*max(1, o.Memory)
}

// Target names a scalable object.
type Target struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (t Target) String() string { return t.Kind + "/" + t.Namespace + "/" + t.Name }

// Mode says what a workload's decision acts on.
type Mode int

// Modes. The zero value is ModeScale.
const (
	// ModeScale sets the workload's replicas.
	ModeScale Mode = iota
	// ModeHPAFloor plans the minReplicas of the workload's HPA: the forecast
	// raises the floor ahead of demand and the HPA keeps reacting above it.
	ModeHPAFloor
	// ModeRecommend decides and reports only.
	ModeRecommend
)

var modeNames = [...]string{"scale", "hpa-floor", "recommend"}

func (m Mode) String() string {
	if int(m) < len(modeNames) && m >= 0 {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if n == s {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown mode %q", ErrInvalidInput, s)
}

// MarshalText writes the mode name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	*m = v
	return err
}

// Rule is what set a decision's desired count. The zero value, RuleUnknown,
// means a bug: every decision the package returns has another rule.
type Rule int

// Rules, in the order the pipeline applies them.
const (
	RuleUnknown Rule = iota
	// RuleForecast: the demand forecast over the lead-time window.
	RuleForecast
	// RuleReactiveFloor: current usage by HPA's formula needed more than the forecast.
	RuleReactiveFloor
	// RuleStabilization: the HPA stabilization window kept a recent recommendation.
	RuleStabilization
	// RuleRateLimit: a scale-up or scale-down policy limited the change.
	RuleRateLimit
	// RuleWindow: a scheduled window's minReplicas or maxReplicas.
	RuleWindow
	// RuleMin: the plan's minimum replicas.
	RuleMin
	// RuleMax: the plan's maximum replicas.
	RuleMax
	// RuleHold: data missing or stale; the current count is kept.
	RuleHold
)

var ruleNames = [...]string{"unknown (bug)", "forecast", "reactive-floor", "stabilization", "rate-limit", "window", "min", "max", "hold"}

func (r Rule) String() string {
	if int(r) < len(ruleNames) && r >= 0 {
		return ruleNames[r]
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// MarshalText writes the rule name.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a rule name (as MarshalText writes it).
func (r *Rule) UnmarshalText(b []byte) error {
	for i, n := range ruleNames {
		if n == string(b) {
			*r = Rule(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown rule %q", ErrInvalidInput, b)
}

// Decision is the plan for one workload at one time, with everything that
// justified it. It is a value: the actuator applies it, the store logs it,
// reports print it.
type Decision struct {
	Target Target    `json:"target"`
	Mode   Mode      `json:"mode"`
	Time   time.Time `json:"time"`
	// Current is the replica count now (in hpa-floor mode: the HPA's current minReplicas).
	Current int32 `json:"current"`
	// Desired is the count to set (replicas, or the HPA's minReplicas in hpa-floor mode).
	Desired int32 `json:"desired"`
	// Recommendation is the unstabilized recommendation of this cycle: the
	// caller stores it (with Time) as history for the next cycles'
	// stabilization windows, as the HPA controller does.
	Recommendation int32 `json:"recommendation"`
	// Rule set Desired; the Reason method says it in a sentence (built on
	// demand from the numbers: formatting 10,000 sentences per cycle would
	// cost more than deciding).
	Rule Rule `json:"rule"`
	// Apply is false in recommend mode and when holding.
	Apply    bool     `json:"apply"`
	Numbers  Numbers  `json:"numbers"`
	Warnings []string `json:"warnings,omitempty"`
}

// MarshalJSON encodes the decision with its reason.
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	return json.Marshal(struct {
		plain
		Reason string `json:"reason"`
	}{plain(d), d.Reason()})
}

// Changed reports whether the decision changes the count.
func (d Decision) Changed() bool { return d.Desired != d.Current }

// Numbers are the inputs and intermediate results behind a decision.
type Numbers struct {
	Quantile float64       `json:"quantile"`  // forecast quantile level planned for
	LeadTime time.Duration `json:"lead_time"` // pod start-up
	// LeadTimeSource says where LeadTime came from: "plan", or with leadTime:
	// auto the measured median or the default (Workload.LeadTimeSource).
	LeadTimeSource string `json:"lead_time_source,omitempty"`
	// Window is the demand window [now, now + Window]: lead time + run interval.
	Window      time.Duration `json:"window"`
	DemandCPU   float64       `json:"demand_cpu"`    // peak quantile demand in the window, cores (0: none)
	DemandMem   float64       `json:"demand_memory"` // bytes (0: none)
	Request     Resources     `json:"request"`       // per replica
	Utilization Resources     `json:"utilization"`   // targets
	// ForecastReplicas is max over resources of ceil(demand / (request × utilization)); -1: no forecast.
	ForecastReplicas int32 `json:"forecast_replicas"`
	// ReactiveReplicas is the HPA formula on current usage; -1: no usage.
	ReactiveReplicas int32   `json:"reactive_replicas"`
	UsageRatio       float64 `json:"usage_ratio"` // usage / target of the binding resource (0: none)
	// Stabilized is the recommendation after the stabilization windows.
	Stabilized int32 `json:"stabilized"`
	// ScaleUpLimit and ScaleDownLimit are the rate-limit bounds this cycle
	// (-1 when not computed: no change in that direction).
	ScaleUpLimit   int32 `json:"scale_up_limit"`
	ScaleDownLimit int32 `json:"scale_down_limit"`
	// Min and Max are the effective bounds after windows.
	Min int32 `json:"min"`
	Max int32 `json:"max"`
	// Windows lists the names of active windows.
	Windows []string `json:"windows,omitempty"`
}
