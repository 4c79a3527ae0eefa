package config

import (
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

// withHistory puts a spec.history block (lines from 5 on) into the minimal plan.
func withHistory(h string) string {
	return strings.Replace(minimal, "spec:\n", "spec:\n  history:\n"+h, 1)
}

// The collect fields of spec.history and the workloads' query overrides load
// and default as documented.
func TestHistoryFields(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		raw, hourly time.Duration
		check       func(t *testing.T, p *Plan)
	}{
		{name: "retention default", yaml: minimal, raw: 8 * day, hourly: 400 * day},
		{name: "retention scalar", yaml: withHistory("    retention: 35d\n"), raw: 8 * day, hourly: 35 * day},
		{name: "retention scalar shorter than raw default", yaml: withHistory("    retention: 3d\n"), raw: 3 * day, hourly: 3 * day},
		{name: "retention scalar compound", yaml: withHistory("    retention: 1w2d\n"), raw: 8 * day, hourly: 9 * day},
		{name: "retention mapping", yaml: withHistory("    retention: {raw: 8d, hourly: 400d}\n"), raw: 8 * day, hourly: 400 * day},
		{name: "retention mapping raw only", yaml: withHistory("    retention: {raw: 14d}\n"), raw: 14 * day, hourly: 400 * day},
		{name: "retention mapping raw above the hourly default", yaml: withHistory("    retention: {raw: 500d}\n"), raw: 500 * day, hourly: 500 * day},
		{name: "retention mapping hourly only", yaml: withHistory("    retention:\n      hourly: 2d\n"), raw: 2 * day, hourly: 2 * day},
		{name: "prometheus defaults", yaml: withHistory("    source: prometheus\n    prometheus: {url: \"http://prom:9090\"}\n"), raw: 8 * day, hourly: 400 * day,
			check: func(t *testing.T, p *Plan) {
				pr := p.Spec.History.Prometheus
				if pr.URL != "http://prom:9090" || pr.Timeout.Duration != 30*time.Second || pr.Step.Duration != time.Minute || pr.Queries != nil {
					t.Errorf("prometheus %+v", pr)
				}
			}},
		{name: "prometheus all fields", yaml: withHistory(`    prometheus:
      url: https://prom.example:443/prefix
      timeout: 1m
      step: 30s
      queries:
        cpu: 'sum by (namespace, workload_kind, workload) (my_cpu{x="y"{{.Selector}}})'
        memory: my_memory
    namespaces: [shop, batch]
    nodePoolLabel: example.com/pool
`), raw: 8 * day, hourly: 400 * day,
			check: func(t *testing.T, p *Plan) {
				h := p.Spec.History
				if h.Prometheus.Timeout.Duration != time.Minute || h.Prometheus.Step.Duration != 30*time.Second ||
					!strings.Contains(h.Prometheus.Queries.CPU, "my_cpu") || h.Prometheus.Queries.Memory != "my_memory" {
					t.Errorf("prometheus %+v", h.Prometheus)
				}
				if strings.Join(h.Namespaces, ",") != "shop,batch" || h.NodePoolLabel != "example.com/pool" {
					t.Errorf("namespaces %v, label %q", h.Namespaces, h.NodePoolLabel)
				}
				if p.Line("spec.history.prometheus.queries.memory") != 12 || p.Line("spec.history.nodePoolLabel") != 14 {
					t.Errorf("lines %d %d", p.Line("spec.history.prometheus.queries.memory"), p.Line("spec.history.nodePoolLabel"))
				}
			}},
		{name: "workload query", yaml: minimal + "      query: {cpu: 'sum(rate(app_cpu{{.Selector}}[{{.Rate}}]))'}\n", raw: 8 * day, hourly: 400 * day,
			check: func(t *testing.T, p *Plan) {
				q := p.Spec.Workloads[0].Query
				if q == nil || q.CPU != "sum(rate(app_cpu{{.Selector}}[{{.Rate}}]))" || q.Memory != "" {
					t.Errorf("query %+v", q)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load("p.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			r := p.Spec.History.Retention
			if r.Raw.Duration != tc.raw || r.Hourly.Duration != tc.hourly {
				t.Errorf("retention raw %v hourly %v, want %v %v", r.Raw.Duration, r.Hourly.Duration, tc.raw, tc.hourly)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			// Default stays idempotent.
			p.Default()
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every bad collect field is named with its path and line.
func TestHistoryFieldErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{name: "retention bad scalar", yaml: withHistory("    retention: 35 days\n"), want: []string{"p.yaml:6:", "spec.history.retention:", "invalid duration"}},
		{name: "retention number without unit", yaml: withHistory("    retention: 35\n"), want: []string{"p.yaml:6:", "spec.history.retention:", "invalid duration"}},
		{name: "retention list", yaml: withHistory("    retention: [8d]\n"), want: []string{"p.yaml:6:", "spec.history.retention: want a duration such as 35d or a mapping"}},
		{name: "retention unknown field", yaml: withHistory("    retention: {raw: 8d, hourlly: 400d}\n"),
			want: []string{"p.yaml:6:", `spec.history.retention.hourlly: unknown field "hourlly" (did you mean "hourly"?)`}},
		{name: "unknown field lists the fields", yaml: withHistory("    retention: {keep: 8d}\n"),
			want: []string{"p.yaml:6:", `spec.history.retention.keep: unknown field "keep" (fields: hourly, raw)`}},
		{name: "retention bad raw", yaml: withHistory("    retention:\n      raw: soon\n"), want: []string{"p.yaml:7:", "spec.history.retention.raw:", `invalid duration "soon"`}},
		{name: "retention raw longer than hourly", yaml: withHistory("    retention:\n      hourly: 7d\n      raw: 8d\n"),
			want: []string{"p.yaml:8:", "spec.history.retention.raw: 192h0m0s is longer than the hourly retention (168h0m0s)"}},
		{name: "retention negative", yaml: withHistory("    retention: {hourly: -1d}\n"), want: []string{"p.yaml:6:", "spec.history.retention.hourly: must be positive"}},
		{name: "prometheus unknown field", yaml: withHistory("    prometheus: {uri: \"http://p\"}\n"),
			want: []string{"p.yaml:6:", `spec.history.prometheus.uri: unknown field "uri" (did you mean "url"?)`}},
		{name: "prometheus not a mapping", yaml: withHistory("    prometheus: http://p:9090\n"), want: []string{"p.yaml:6:", "spec.history.prometheus: want a mapping"}},
		{name: "prometheus bad url", yaml: withHistory("    prometheus:\n      url: prom:9090\n"),
			want: []string{"p.yaml:7:", `spec.history.prometheus.url: "prom:9090" is not an http or https URL`}},
		{name: "prometheus unparsable url", yaml: withHistory("    prometheus:\n      url: \"http://a b\"\n"),
			want: []string{"p.yaml:7:", "spec.history.prometheus.url:", "is not a"}},
		{name: "prometheus bad timeout", yaml: withHistory("    prometheus:\n      url: http://p\n      timeout: 0s\n"),
			want: []string{"p.yaml:8:", "spec.history.prometheus.timeout: must be positive"}},
		{name: "prometheus bad step", yaml: withHistory("    prometheus:\n      url: http://p\n      step: often\n"),
			want: []string{"p.yaml:8:", "spec.history.prometheus.step:", `invalid duration "often"`}},
		{name: "prometheus query bad template", yaml: withHistory("    prometheus:\n      queries:\n        cpu: 'sum(x{{.Selector}'\n"),
			want: []string{"p.yaml:8:", "spec.history.prometheus.queries.cpu: bad query template"}},
		{name: "prometheus query unknown template field", yaml: withHistory("    prometheus:\n      queries:\n        memory: 'sum(x{{.Namespace}})'\n"),
			want: []string{"p.yaml:8:", "spec.history.prometheus.queries.memory: bad query template", "Namespace"}},
		{name: "prometheus query unknown field", yaml: withHistory("    prometheus:\n      queries: {cpus: x}\n"),
			want: []string{"p.yaml:7:", `spec.history.prometheus.queries.cpus: unknown field "cpus" (did you mean "cpu"?)`}},
		{name: "namespaces not a list", yaml: withHistory("    namespaces: shop\n"), want: []string{"p.yaml:6:", "spec.history.namespaces: want a list"}},
		{name: "namespace invalid", yaml: withHistory("    namespaces: [shop, Not_A_Namespace]\n"),
			want: []string{"p.yaml:6:", `spec.history.namespaces[1]: "Not_A_Namespace" is not a namespace name`}},
		{name: "namespace duplicate", yaml: withHistory("    namespaces:\n      - shop\n      - shop\n"),
			want: []string{"p.yaml:8:", `spec.history.namespaces[1]: duplicate namespace "shop"`}},
		{name: "node pool label invalid", yaml: withHistory("    nodePoolLabel: \"bad label!\"\n"),
			want: []string{"p.yaml:6:", `spec.history.nodePoolLabel: "bad label!" is not a label key`}},
		{name: "node pool label not a string", yaml: withHistory("    nodePoolLabel: [a]\n"), want: []string{"p.yaml:6:", "spec.history.nodePoolLabel: want a string"}},
		{name: "workload query empty", yaml: minimal + "      query: {}\n", want: []string{"p.yaml:9:", "spec.workloads[0].query: sets neither cpu nor memory"}},
		{name: "workload query unknown field", yaml: minimal + "      query: {mem: x}\n",
			want: []string{"p.yaml:9:", `spec.workloads[0].query.mem: unknown field "mem"`}},
		{name: "workload query bad template", yaml: minimal + "      query:\n        memory: '{{.Rate'\n",
			want: []string{"p.yaml:10:", "spec.workloads[0].query.memory: bad query template"}},
		{name: "workload query blank", yaml: minimal + "      query:\n        cpu: ' '\n",
			want: []string{"p.yaml:10:", "spec.workloads[0].query.cpu: empty query"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkLoadError(t, tc.yaml, tc.want) })
	}
}

// Retention decodes from JSON too (sigs.k8s.io/yaml goes through JSON), in both forms.
func TestRetentionUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name, in    string
		raw, hourly time.Duration // 0: unset
		err         string
	}{
		{name: "scalar", in: `"35d"`, hourly: 35 * day},
		{name: "mapping", in: `{"raw": "8d", "hourly": "400d"}`, raw: 8 * day, hourly: 400 * day},
		{name: "bad scalar", in: `"x"`, err: "invalid duration"},
		{name: "unknown field", in: `{"rw": "8d"}`, err: "unknown field"},
		{name: "number", in: `35`, err: "retention must be a duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Retention
			err := r.UnmarshalJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			get := func(d *Duration) time.Duration {
				if d == nil {
					return 0
				}
				return d.Duration
			}
			if get(r.Raw) != tc.raw || get(r.Hourly) != tc.hourly {
				t.Errorf("got %v %v", get(r.Raw), get(r.Hourly))
			}
		})
	}
}

func TestParseDurationCompound(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
		ok       bool
	}{
		{name: "days and hours", in: "3d10h", want: 3*day + 10*time.Hour, ok: true},
		{name: "weeks and days", in: "1w2d", want: 9 * day, ok: true},
		{name: "days hours minutes", in: "1d12h30m", want: day + 12*time.Hour + 30*time.Minute, ok: true},
		{name: "any order", in: "10h3d", want: 3*day + 10*time.Hour, ok: true},
		{name: "fractional days with hours", in: "1.5d1h", want: 37 * time.Hour, ok: true},
		{name: "weeks days hours seconds", in: "2w1d1h1s", want: 15*day + time.Hour + time.Second, ok: true},
		{name: "negative compound", in: "-1d2h", want: -26 * time.Hour, ok: true},
		{name: "plus sign", in: "+1w", want: 7 * day, ok: true},
		{name: "zero", in: "0", want: 0, ok: true},
		{name: "go units only", in: "1h30m", want: 90 * time.Minute, ok: true},
		{name: "surrounding space", in: " 2d ", want: 2 * day, ok: true},
		{name: "missing trailing unit", in: "1d5", ok: false},
		{name: "missing number", in: "1dh", ok: false},
		{name: "unknown unit", in: "1d2y", ok: false},
		{name: "space inside", in: "1d 2h", ok: false},
		{name: "double dot", in: "1.2.3d", ok: false},
		{name: "sign only", in: "-", ok: false},
		{name: "inner sign", in: "1d-2h", ok: false},
		{name: "too many days", in: "100001d", ok: false},
		{name: "overflow of the sum", in: "100000d2562047h", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseDuration(%q) = %v, %v", tc.in, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), "invalid duration") {
				t.Errorf("error %v", err)
			}
		})
	}
}
