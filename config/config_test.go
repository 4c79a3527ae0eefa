package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/policy"
)

const minimal = `apiVersion: headroom.dev/v1alpha1
kind: CapacityPlan
metadata: {name: shop}
spec:
  workloads:
    - target: {kind: Deployment, namespace: shop, name: web}
      resources: {cpu: 500m, memory: 512Mi}
      replicas: {min: 2, max: 40}
`

func TestLoadExample(t *testing.T) {
	p, err := LoadFile("../testdata/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Workloads) != 6 || len(p.Spec.NodePools) != 2 {
		t.Fatalf("workloads %d, pools %d", len(p.Spec.Workloads), len(p.Spec.NodePools))
	}
	w := p.Spec.Workloads[0]
	if w.Resources.CPU.MilliValue() != 500 || w.Resources.Memory.Value() != 512<<20 {
		t.Errorf("resources %v %v", w.Resources.CPU, w.Resources.Memory)
	}
	if w.LeadTime.Duration != 2*time.Minute || p.Spec.History.Retention.Hourly.Duration != 35*24*time.Hour {
		t.Errorf("durations %v %v", w.LeadTime.Duration, p.Spec.History.Retention.Hourly.Duration)
	}
	if *w.Trace.Scale != 0.001 || *w.Trace.Replicas != 40 {
		t.Errorf("trace %+v", w.Trace)
	}
	if p.Line("spec.workloads[1].replicas.max") != 27 {
		t.Errorf("line of spec.workloads[1].replicas.max = %d, want 27", p.Line("spec.workloads[1].replicas.max"))
	}
	pw, err := p.PolicyWorkload(1)
	if err != nil {
		t.Fatal(err)
	}
	if pw.Request.CPU != 1 || pw.Request.Memory != 1<<30 || pw.Utilization.CPU != 0.7 || pw.Max != 40 || pw.LeadTime != 90*time.Second {
		t.Errorf("policy workload %+v", pw)
	}
	pools, err := p.PolicyPools()
	if err != nil {
		t.Fatal(err)
	}
	if pools[0].Machine.CPU != 4 || pools[0].Overhead.CPU != 0.2 || pools[0].Zones != 3 {
		t.Errorf("pool %+v", pools[0])
	}
}

func TestDefaults(t *testing.T) {
	p, err := Load("", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	w := p.Spec.Workloads[0]
	if w.Utilization.CPU != 0.7 || w.Utilization.Memory != 0.8 || w.Mode != "scale" || w.LeadTime.Duration != time.Minute || *w.Tolerance != 0.1 {
		t.Errorf("workload defaults: %+v", w)
	}
	if p.Spec.Forecast.Quantile != 0.95 || p.Spec.Interval.Duration != 5*time.Minute || p.Spec.History.Source != "metrics-server" {
		t.Errorf("spec defaults: %+v", p.Spec)
	}
	// Default is idempotent.
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Every bad plan names the field and the line.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{name: "unknown field at top", yaml: minimal + "extra: 1\n", want: []string{"p.yaml:9:", `extra: unknown field "extra"`}},
		{name: "unknown nested field with suggestion", yaml: strings.Replace(minimal, "replicas: {min: 2, max: 40}", "replicas: {min: 2, maxx: 40}", 1),
			want: []string{"p.yaml:8:", `spec.workloads[0].replicas.maxx: unknown field "maxx" (did you mean "max"?)`}},
		{name: "wrong case", yaml: strings.Replace(minimal, "  workloads:", "  Workloads:", 1), want: []string{"p.yaml:5:", `(did you mean "workloads"?)`}},
		{name: "duplicate key", yaml: minimal + "  workloads: []\n", want: []string{"p.yaml:9:", `duplicate field "workloads"`}},
		{name: "string for int", yaml: strings.Replace(minimal, "max: 40", "max: forty", 1), want: []string{"p.yaml:8:", "spec.workloads[0].replicas.max: want a whole number"}},
		{name: "bad quantity", yaml: strings.Replace(minimal, "cpu: 500m", "cpu: 500x", 1), want: []string{"p.yaml:7:", "spec.workloads[0].resources.cpu:", "not a quantity"}},
		{name: "bad duration", yaml: minimal + "      leadTime: 2 minutes\n", want: []string{"p.yaml:9:", "spec.workloads[0].leadTime:", "invalid duration"}},
		{name: "bad lead time", yaml: minimal + "      leadTime: soon\n", want: []string{"p.yaml:9:", "spec.workloads[0].leadTime:", "invalid duration", "or auto"}},
		{name: "scale-up tolerance out of range", yaml: minimal + "      behavior: {scaleUp: {tolerance: 1.5}}\n",
			want: []string{"p.yaml:9:", "spec.workloads[0].behavior.scaleUp.tolerance: must be in [0, 1), got 1.5"}},
		{name: "list expected", yaml: strings.Replace(minimal, "  workloads:\n", "  workloads: {}\n  x:\n", 1), want: []string{"spec.workloads: want a list"}},
		{name: "syntax error", yaml: "apiVersion: [\n", want: []string{"p.yaml:", "not a YAML document"}},
		{name: "two documents", yaml: minimal + "---\nkind: x\n", want: []string{"p.yaml:9:", "more than one YAML document"}},
		{name: "max below min", yaml: strings.Replace(minimal, "max: 40", "max: 1", 1), want: []string{"p.yaml:8:", "spec.workloads[0].replicas.max: must be at least replicas.min (2), got 1"}},
		{name: "bad cron", yaml: minimal + "      windows: [{cron: \"0 8 * * FUNDAY\", duration: 1h, minReplicas: 3}]\n",
			want: []string{"p.yaml:9:", "spec.workloads[0].windows[0].cron: invalid cron schedule"}},
		{name: "bad policy", yaml: minimal + "      behavior:\n        scaleDown:\n          policies: [{type: Percnt, value: 0, period: 2h}]\n",
			want: []string{"p.yaml:11:", "spec.workloads[0].behavior.scaleDown.policies[0].type", "policies[0].value: must be positive", "policies[0].period: must be whole seconds"}},
		{name: "bad kind", yaml: strings.Replace(minimal, "kind: CapacityPlan", "kind: Plan", 1), want: []string{"p.yaml:2: kind: must be"}},
		{name: "utilization", yaml: strings.Replace(minimal, "replicas: {min: 2, max: 40}", "replicas: {min: 2, max: 40}\n      utilization: {cpu: 1.5}", 1),
			want: []string{"p.yaml:9:", "spec.workloads[0].utilization.cpu: must be in (0, 1]"}},
		{name: "unknown node pool", yaml: minimal + "      nodePool: gpu\n", want: []string{"p.yaml:9:", `no node pool named "gpu"`}},
		{name: "zone headroom needs zones", yaml: minimal + "  nodePools:\n    - {name: a, machine: {cpu: 4, memory: 16Gi}, size: {max: 3}, headroom: zone}\n",
			want: []string{"p.yaml:10:", "spec.nodePools[0].headroom: zone headroom needs at least 2 zones"}},
		{name: "trace needs cpu request", yaml: strings.Replace(minimal, "resources: {cpu: 500m, memory: 512Mi}", "trace: {file: x.csv}", 1),
			want: []string{"spec.workloads[0].resources.cpu: required with a trace source"}},
		{name: "window minimum above the maximum", yaml: minimal + "      windows: [{cron: \"0 8 * * *\", duration: 1h, minReplicas: 50}]\n",
			want: []string{"p.yaml:9:", "spec.workloads[0].windows[0].minReplicas: 50 is above replicas.max (40)"}},
		{name: "trace source needs traces", yaml: strings.Replace(minimal, "spec:\n", "spec:\n  history: {source: trace}\n", 1),
			want: []string{"p.yaml:7:", "spec.workloads[0].trace: required when spec.history.source is trace"}},
		{name: "duplicate targets", yaml: minimal + "    - target: {kind: Deployment, namespace: shop, name: web}\n      replicas: {max: 3}\n",
			want: []string{"p.yaml:9:", "spec.workloads[1].target: same target as spec.workloads[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkLoadError(t, tc.yaml, tc.want) })
	}
}

func TestMergeKeys(t *testing.T) {
	doc := minimal + `    - <<: &svc {resources: {cpu: 250m}, replicas: {max: 5}}
      target: {kind: Deployment, name: b}
    - <<: *svc
      target: {kind: Deployment, name: c}
`
	p, err := Load("p.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Workloads) != 3 || p.Spec.Workloads[2].Replicas.Max != 5 || p.Spec.Workloads[2].Resources.CPU.MilliValue() != 250 {
		t.Errorf("merge keys: %+v", p.Spec.Workloads)
	}
	_, err = Load("p.yaml", []byte(minimal+"    - <<: {target: {kind: D, name: x}, replica: {max: 3}}\n"))
	if err == nil || !strings.Contains(err.Error(), `spec.workloads[1].replica: unknown field "replica"`) {
		t.Errorf("unknown field inside a merge: %v", err)
	}
}

// Aliases that expand quadratically stop at a bound instead of taking
// unbounded time.
func TestAliasExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal)
	b.WriteString("      windows: &win [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{cron: "0 8 * * *", duration: 1h, minReplicas: 3}`)
	}
	b.WriteString("]\n    - &w {target: {kind: D, name: y}, replicas: {max: 5}, windows: *win}\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "    - {<<: *w, target: {kind: D, name: y%d}}\n", i)
	}
	start := time.Now()
	_, err := Load("p.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Errorf("err = %.200v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"5m", 5 * time.Minute, true}, {"35d", 35 * 24 * time.Hour, true}, {"2w", 14 * 24 * time.Hour, true}, {"1.5d", 36 * time.Hour, true},
		{"90s", 90 * time.Second, true}, {"d", 0, false}, {"5 m", 0, false}, {"", 0, false}} {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// checkLoadError loads yaml as p.yaml and wants an ErrInvalid error whose
// text contains every string of want.
func checkLoadError(t *testing.T, yaml string, want []string) {
	t.Helper()
	_, err := Load("p.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestLeadTimeAutoAndTolerances(t *testing.T) {
	yaml := minimal + "      leadTime: auto\n      behavior: {scaleUp: {tolerance: 0.05}, scaleDown: {tolerance: 0}}\n"
	p, err := Load("p.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	w := p.Spec.Workloads[0]
	if !w.LeadTime.Auto || w.LeadTime.Duration != DefaultPodLeadTime {
		t.Errorf("leadTime %+v", w.LeadTime)
	}
	pw, err := p.PolicyWorkload(0)
	if err != nil {
		t.Fatal(err)
	}
	if pw.LeadTime != DefaultPodLeadTime || pw.LeadTimeSource != policy.LeadTimeDefault {
		t.Errorf("policy lead time %v from %q", pw.LeadTime, pw.LeadTimeSource)
	}
	// scaleDown tolerance 0 means none (policy: negative), not the default.
	if up, down := pw.EffectiveTolerances(); up != 0.05 || down != 0 {
		t.Errorf("tolerances up %v down %v, want 0.05 and 0", up, down)
	}
	b, err := json.Marshal(w.LeadTime)
	if err != nil || string(b) != `"auto"` {
		t.Errorf("marshal %s %v", b, err)
	}
}

func TestSeasonalPeriods(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []time.Duration
	}{
		{yaml: "", want: nil},
		{yaml: "  forecast: {seasonality: []}\n", want: []time.Duration{}},
		{yaml: "  forecast: {seasonality: [24h, 1w]}\n", want: []time.Duration{24 * time.Hour, 7 * 24 * time.Hour}},
	} {
		p, err := Load("p.yaml", []byte(strings.Replace(minimal, "spec:\n", "spec:\n"+tc.yaml, 1)))
		if err != nil {
			t.Fatal(err)
		}
		got := p.SeasonalPeriods()
		if (got == nil) != (tc.want == nil) || len(got) != len(tc.want) {
			t.Fatalf("%q: %#v, want %#v", tc.yaml, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: %v, want %v", tc.yaml, got, tc.want)
			}
		}
	}
}
