package simulator

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
)

// ScenarioKind and ScenarioAPIVersion identify a scenario document.
const (
	ScenarioKind       = "Scenario"
	ScenarioAPIVersion = "headroom.dev/v1alpha1"
)

// Scenario is a what-if: changes to the recorded world, applied to every
// policy alike. Times are offsets from the start of the simulation.
type Scenario struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   config.Metadata `json:"metadata"`
	Spec       ScenarioSpec    `json:"spec"`
}

// ScenarioSpec is the body of a scenario.
type ScenarioSpec struct {
	// Seed of the budget band's resampling (default 1).
	Seed *uint64 `json:"seed,omitempty"`
	// Duration limits the simulation to its first Duration. Optional.
	Duration *config.Duration `json:"duration,omitempty"`
	// Refit is how often the predictive policy refits its forecasts (default 1h).
	Refit *config.Duration `json:"refit,omitempty"`
	// Reselect is how often the predictive policy selects each series'
	// model anew (default 24h; sooner while the history doubles); the
	// refits in between refit the chosen model. Longer makes a large
	// what-if cheaper. Optional.
	Reselect *config.Duration `json:"reselect,omitempty"`
	// Quantile replaces the plan's forecast quantile (spec.forecast.quantile)
	// for the predictive policy: what if it planned at the median? Optional.
	Quantile *float64 `json:"quantile,omitempty"`
	// ReactiveUtilization is the target utilization, in (0, 1], of the
	// reactive baseline's HPAs (CPU and memory) instead of each workload's
	// utilization ceiling: what if the HPA kept more headroom? Unmet demand
	// and waste are still measured against the plan's ceilings. Optional.
	ReactiveUtilization *float64 `json:"reactiveUtilization,omitempty"`
	// Growth compounds every workload's demand by PercentPerMonth each
	// month (730 h) from the start.
	Growth *Growth `json:"growth,omitempty"`
	// Spikes multiply (Factor) and then add to (Cores) demand for a while
	// (the factor applies to memory demand too).
	Spikes []Spike `json:"spikes,omitempty"`
	// Prices change a pool's price per node-hour from a time on.
	Prices []PriceChange `json:"prices,omitempty"`
	// Machines replace pools' machine shapes for the whole run.
	Machines []MachineChange `json:"machines,omitempty"`
	// Failures lose one zone or some nodes of a pool at a time.
	Failures []Failure `json:"failures,omitempty"`
}

// Growth is demand growth.
type Growth struct {
	PercentPerMonth float64 `json:"percentPerMonth"`
}

// Spike is an injected burst of demand.
type Spike struct {
	At       config.Duration `json:"at"`
	Duration config.Duration `json:"duration"`
	// Workload names the workload (name, namespace/name or
	// kind/namespace/name); empty: every workload.
	Workload string  `json:"workload,omitempty"`
	Factor   float64 `json:"factor,omitempty"` // default 1
	Cores    float64 `json:"cores,omitempty"`
}

// PriceChange sets a pool's price from At on.
type PriceChange struct {
	At           config.Duration `json:"at"`
	Pool         string          `json:"pool"`
	PricePerHour float64         `json:"pricePerHour"`
}

// MachineChange replaces a pool's machine shape (and headroom); unset
// fields keep the plan's.
type MachineChange struct {
	Pool         string             `json:"pool"`
	CPU          *resource.Quantity `json:"cpu,omitempty"`
	Memory       *resource.Quantity `json:"memory,omitempty"`
	Pods         int                `json:"pods,omitempty"`
	PricePerHour *float64           `json:"pricePerHour,omitempty"`
	// Headroom replaces the pool's availability headroom: none, n+1 or zone.
	Headroom string `json:"headroom,omitempty"`
}

// Failure loses a pool's nodes in Zone (zone index from 0), or Nodes nodes
// (the newest first) when Zone is unset. A lost zone stays unavailable for
// Duration (0: for the rest of the run); lost nodes are replaced as the
// pool reconciles.
type Failure struct {
	At       config.Duration  `json:"at"`
	Pool     string           `json:"pool"`
	Zone     *int             `json:"zone,omitempty"`
	Nodes    int              `json:"nodes,omitempty"`
	Duration *config.Duration `json:"duration,omitempty"`
}

// LoadScenario reads a scenario file strictly: unknown fields and values of
// the wrong type are errors naming the file, the line and the field.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenario(path, b)
}

// ParseScenario decodes and checks a scenario; file names it in errors.
// Decoding is config.DecodeStrict's, so every error names the field path
// and its line: s.yaml: unknown field "spec.growth.percent" (fields:
// percentPerMonth) (line 4); s.yaml: spec.refit: must be positive (line 5).
// The errors wrap both ErrInvalid and config.ErrInvalid.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var s Scenario
	lines, err := config.DecodeStrict(file, data, &s)
	if err != nil {
		return nil, scenarioError(file, err)
	}
	if errs := s.validate("", lines); len(errs) > 0 {
		return nil, scenarioError(file, errs)
	}
	return &s, nil
}

// scenarioError renders decoding and validation errors in the scenario's
// shape, "file: path: message (line N); ...", with an unknown field named by
// its whole path, and wraps ErrInvalid and the config errors.
func scenarioError(file string, err error) error {
	var fes config.FieldErrors
	var fe *config.FieldError
	switch {
	case errors.As(err, &fes):
	case errors.As(err, &fe):
		fes = config.FieldErrors{fe}
	default:
		return fmt.Errorf("%w: %s: %w", ErrInvalid, file, err)
	}
	msgs := make([]string, len(fes))
	for i, e := range fes {
		msgs[i] = scenarioMsg(e)
	}
	return &scenarioErr{msg: fmt.Sprintf("%s: %s: %s", ErrInvalid, file, strings.Join(msgs, "; ")), errs: fes}
}

func scenarioMsg(e *config.FieldError) string {
	var b strings.Builder
	name := e.Path[strings.LastIndex(e.Path, ".")+1:]
	if rest, ok := strings.CutPrefix(e.Msg, fmt.Sprintf("unknown field %q", name)); ok && e.Path != "" {
		fmt.Fprintf(&b, "unknown field %q%s", e.Path, rest)
	} else {
		if e.Path != "" {
			b.WriteString(e.Path + ": ")
		}
		b.WriteString(e.Msg)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	return b.String()
}

// scenarioErr is a scenario's errors: its message, wrapping ErrInvalid and each config.FieldError.
type scenarioErr struct {
	msg  string
	errs config.FieldErrors
}

func (e *scenarioErr) Error() string { return e.msg }

func (e *scenarioErr) Unwrap() []error { return append([]error{ErrInvalid}, e.errs.Unwrap()...) }

// Validate checks the scenario's values; errors name the field.
func (s *Scenario) Validate() error {
	errs := s.validate("", nil)
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// validate checks the scenario's values, naming each bad field with its line when lines are known.
func (s *Scenario) validate(file string, lines config.Lines) config.FieldErrors {
	var errs config.FieldErrors
	bad := func(path, format string, args ...any) {
		errs = append(errs, &config.FieldError{File: file, Line: lines.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if s.APIVersion != ScenarioAPIVersion {
		bad("apiVersion", "must be %s, not %q", ScenarioAPIVersion, s.APIVersion)
	}
	if s.Kind != ScenarioKind {
		bad("kind", "must be %s, not %q", ScenarioKind, s.Kind)
	}
	sp := &s.Spec
	if sp.Duration != nil && sp.Duration.Duration <= 0 {
		bad("spec.duration", "must be positive")
	}
	if sp.Refit != nil && sp.Refit.Duration <= 0 {
		bad("spec.refit", "must be positive")
	}
	if sp.Reselect != nil && sp.Reselect.Duration <= 0 {
		bad("spec.reselect", "must be positive")
	}
	if g := sp.Growth; g != nil && !(g.PercentPerMonth > -100 && g.PercentPerMonth < 1e4) {
		bad("spec.growth.percentPerMonth", "must be in (-100, 10000), not %v", g.PercentPerMonth)
	}
	for i, x := range sp.Spikes {
		p := fmt.Sprintf("spec.spikes[%d]", i)
		if x.At.Duration < 0 {
			bad(p+".at", "must not be negative")
		}
		if x.Duration.Duration <= 0 {
			bad(p+".duration", "must be positive")
		}
		if x.Factor < 0 || math.IsNaN(x.Factor) {
			bad(p+".factor", "must not be negative")
		}
		if x.Factor == 0 && x.Cores == 0 {
			bad(p, "needs a factor or cores")
		}
	}
	for i, x := range sp.Prices {
		p := fmt.Sprintf("spec.prices[%d]", i)
		if x.At.Duration < 0 {
			bad(p+".at", "must not be negative")
		}
		if x.Pool == "" {
			bad(p+".pool", "is required")
		}
		if x.PricePerHour < 0 {
			bad(p+".pricePerHour", "must not be negative")
		}
	}
	for i, x := range sp.Machines {
		p := fmt.Sprintf("spec.machines[%d]", i)
		if x.Pool == "" {
			bad(p+".pool", "is required")
		}
		if x.CPU != nil && x.CPU.Sign() <= 0 {
			bad(p+".cpu", "must be positive")
		}
		if x.Memory != nil && x.Memory.Sign() <= 0 {
			bad(p+".memory", "must be positive")
		}
		if x.Pods < 0 {
			bad(p+".pods", "must not be negative")
		}
		if x.PricePerHour != nil && *x.PricePerHour < 0 {
			bad(p+".pricePerHour", "must not be negative")
		}
		if x.Headroom != "" {
			if _, err := policy.ParseHeadroom(x.Headroom); err != nil {
				bad(p+".headroom", "must be none, n+1 or zone, not %q", x.Headroom)
			}
		}
	}
	if q := sp.Quantile; q != nil && !(*q > 0 && *q < 1) {
		bad("spec.quantile", "must be in (0, 1), not %v", *q)
	}
	if u := sp.ReactiveUtilization; u != nil && !(*u > 0 && *u <= 1) {
		bad("spec.reactiveUtilization", "must be in (0, 1], not %v", *u)
	}
	for i, x := range sp.Failures {
		p := fmt.Sprintf("spec.failures[%d]", i)
		if x.At.Duration < 0 {
			bad(p+".at", "must not be negative")
		}
		if x.Pool == "" {
			bad(p+".pool", "is required")
		}
		switch {
		case x.Zone != nil && x.Nodes != 0:
			bad(p, "give zone or nodes, not both")
		case x.Zone == nil && x.Nodes <= 0:
			bad(p, "give zone (an index from 0) or nodes (a positive count)")
		case x.Zone != nil && *x.Zone < 0:
			bad(p+".zone", "must not be negative")
		}
		if x.Duration != nil && x.Duration.Duration < 0 {
			bad(p+".duration", "must not be negative")
		}
	}
	return errs
}

// check validates the scenario against the input (pool and workload names, zones).
func (s *Scenario) check(in *Input) error {
	pools := map[string]int{}
	for _, p := range in.Pools {
		pools[p.Name] = p.Zones
	}
	var errs []string
	pool := func(path, name string) {
		if _, ok := pools[name]; !ok {
			errs = append(errs, fmt.Sprintf("%s: no node pool %q in the plan", path, name))
		}
	}
	for i, x := range s.Spec.Prices {
		pool(fmt.Sprintf("spec.prices[%d].pool", i), x.Pool)
	}
	for i, x := range s.Spec.Machines {
		pool(fmt.Sprintf("spec.machines[%d].pool", i), x.Pool)
	}
	for i, x := range s.Spec.Failures {
		pool(fmt.Sprintf("spec.failures[%d].pool", i), x.Pool)
		if z, ok := pools[x.Pool]; ok && x.Zone != nil && *x.Zone >= z {
			errs = append(errs, fmt.Sprintf("spec.failures[%d].zone: pool %q has %d zones (0 to %d)", i, x.Pool, z, z-1))
		}
	}
	for i, x := range s.Spec.Spikes {
		if x.Workload != "" && findWorkload(in, x.Workload) < 0 {
			errs = append(errs, fmt.Sprintf("spec.spikes[%d].workload: no workload %q in the plan", i, x.Workload))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: scenario %s: %s", ErrInvalid, s.Metadata.Name, strings.Join(errs, "; "))
	}
	return nil
}

func findWorkload(in *Input, name string) int {
	for i, w := range in.Workloads {
		t := w.Spec.Target
		switch name {
		case t.Name, t.Namespace + "/" + t.Name, t.Kind + "/" + t.Namespace + "/" + t.Name:
			return i
		}
	}
	return -1
}

// applyDemand is workload i's demand d with the growth and the spikes
// (their factor; their cores only to CPU) applied.
func (s *Scenario) applyDemand(in *Input, i int, d forecast.Series, start time.Time, cpu bool) []float64 {
	v := append([]float64(nil), d.Values...)
	for k := range v {
		t := d.Time(k)
		if g := s.Spec.Growth; g != nil && t.After(start) {
			months := t.Sub(start).Hours() / 730
			v[k] *= math.Pow(1+g.PercentPerMonth/100, months)
		}
		for _, sp := range s.Spec.Spikes {
			if sp.Workload != "" && findWorkload(in, sp.Workload) != i {
				continue
			}
			from := start.Add(sp.At.Duration)
			if !t.Before(from) && t.Before(from.Add(sp.Duration.Duration)) {
				f := sp.Factor
				if f == 0 {
					f = 1
				}
				v[k] *= f
				if cpu {
					v[k] += sp.Cores
				}
			}
		}
	}
	return v
}

func qcores(q *resource.Quantity) float64 { return float64(q.MilliValue()) / 1000 }

// apply returns the input with the machine changes and the demand changes
// (growth, spikes) applied; start is the simulation's start.
func (s *Scenario) apply(in *Input, start time.Time) *Input {
	out := *in
	if s.Spec.Quantile != nil {
		out.Quantile = *s.Spec.Quantile
	}
	if s.Spec.ReactiveUtilization != nil {
		out.ReactiveUtilization = *s.Spec.ReactiveUtilization
	}
	out.Pools = append(out.Pools[:0:0], in.Pools...)
	for _, m := range s.Spec.Machines {
		for i := range out.Pools {
			p := &out.Pools[i]
			if p.Name != m.Pool {
				continue
			}
			if m.CPU != nil {
				p.Machine.CPU = qcores(m.CPU)
			}
			if m.Memory != nil {
				p.Machine.Memory = m.Memory.AsApproximateFloat64()
			}
			if m.Pods > 0 {
				p.Pods = m.Pods
			}
			if m.PricePerHour != nil {
				p.PricePerHour = *m.PricePerHour
			}
			if m.Headroom != "" {
				p.Headroom, _ = policy.ParseHeadroom(m.Headroom) // validated
			}
		}
	}
	out.Workloads = append(out.Workloads[:0:0], in.Workloads...)
	for i := range out.Workloads {
		w := &out.Workloads[i]
		w.Demand.Values = s.applyDemand(in, i, w.Demand, start, true)
		if len(w.Memory.Values) > 0 {
			w.Memory.Values = s.applyDemand(in, i, w.Memory, start, false)
		}
	}
	return &out
}
