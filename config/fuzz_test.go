package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzLoad: any input either loads or fails with an error that wraps
// ErrInvalid; nothing panics, and a plan that loads converts for the policy.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("../testdata/plans/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "  nodePools:\n    - {name: a, machine: {cpu: 4, memory: 16Gi}, size: {max: 3}, zones: 2, headroom: zone}\n"))
	f.Add([]byte(withHistory("    retention: {raw: 1w1d, hourly: 400d}\n    prometheus: {url: \"http://p:9090\", step: 30s, queries: {cpu: 'x{{.Selector}}'}}\n    namespaces: [a]\n    nodePoolLabel: a/b\n")))
	f.Add([]byte(withHistory("    retention: 3d10h\n")))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("spec: {workloads: [{<<: {replicas: {max: 2}}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for i := range p.Spec.Workloads {
			if _, err := p.PolicyWorkload(i); err != nil {
				t.Fatalf("valid plan, workload %d does not convert: %v", i, err)
			}
		}
		if _, err := p.PolicyPools(); err != nil {
			t.Fatalf("valid plan, pools do not convert: %v", err)
		}
	})
}
