package simulator

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/config"
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
	// Growth compounds every workload's demand by PercentPerMonth each
	// month (730 h) from the start.
	Growth *Growth `json:"growth,omitempty"`
	// Spikes multiply (Factor) and then add to (Cores) demand for a while.
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

// MachineChange replaces a pool's machine shape; unset fields keep the plan's.
type MachineChange struct {
	Pool         string             `json:"pool"`
	CPU          *resource.Quantity `json:"cpu,omitempty"`
	Memory       *resource.Quantity `json:"memory,omitempty"`
	Pods         int                `json:"pods,omitempty"`
	PricePerHour *float64           `json:"pricePerHour,omitempty"`
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
// the wrong type are errors naming the file and the field.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenario(path, b)
}

// ParseScenario decodes and checks a scenario; file names it in errors.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var generic any
	if err := yaml.Unmarshal(data, &generic); err != nil {
		return nil, fmt.Errorf("%w: %s: not a YAML document: %s", ErrInvalid, file, strings.TrimPrefix(err.Error(), "error converting YAML to JSON: yaml: "))
	}
	if err := unknownFields(generic, reflect.TypeOf(Scenario{}), ""); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, file, err.Error())
	}
	var s Scenario
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		msg := err.Error()
		for _, p := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, file, msg)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, file, err.Error())
	}
	return &s, nil
}

// Validate checks the scenario's values; errors name the field.
func (s *Scenario) Validate() error {
	var errs []string
	bad := func(path, format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
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
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
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

func qcores(q *resource.Quantity) float64 { return float64(q.MilliValue()) / 1000 }

// apply returns the input with the machine changes and the demand changes
// (growth, spikes) applied; start is the simulation's start.
func (s *Scenario) apply(in *Input, start time.Time) *Input {
	out := *in
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
		}
	}
	out.Workloads = append(out.Workloads[:0:0], in.Workloads...)
	for i := range out.Workloads {
		w := &out.Workloads[i]
		v := append([]float64(nil), w.Demand.Values...)
		for k := range v {
			t := w.Demand.Time(k)
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
					v[k] = v[k]*f + sp.Cores
				}
			}
		}
		w.Demand.Values = v
	}
	return &out
}

// unknownFields reports the first field of v (decoded YAML) that t has no
// JSON field for, with its path (spec.growth.percent), and the fields there are.
func unknownFields(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct || t == reflect.TypeOf(config.Duration{}) || t == reflect.TypeOf(resource.Quantity{}) {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				known := make([]string, 0, len(fields))
				for n := range fields {
					known = append(known, n)
				}
				slices.Sort(known)
				return fmt.Errorf("unknown field %q (fields: %s)", p, strings.Join(known, ", "))
			}
			if err := unknownFields(x[k], ft, p); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, e := range x {
			if err := unknownFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
