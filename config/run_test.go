package config

import (
	"strings"
	"testing"
	"time"
)

func withRun(r string) string { return strings.Replace(minimal, "spec:\n", "spec:\n  run:\n"+r, 1) }

func TestRunDefaults(t *testing.T) {
	p, err := Load("p.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Spec.Run
	if r == nil || r.Lease.Name != "headroom-shop" || r.Lease.Namespace != "" || r.Lease.Duration.Duration != time.Minute || r.Pushgateway != nil {
		t.Fatalf("run %+v lease %+v", r, r.Lease)
	}
	p, err = Load("p.yaml", []byte(withRun("    lease: {namespace: ops, name: hr, duration: 2m}\n    pushgateway: {url: \"http://pg:9091\"}\n")))
	if err != nil {
		t.Fatal(err)
	}
	r = p.Spec.Run
	if r.Lease.Namespace != "ops" || r.Lease.Name != "hr" || r.Lease.Duration.Duration != 2*time.Minute || r.Pushgateway.URL != "http://pg:9091" || r.Pushgateway.Job != "headroom" {
		t.Fatalf("run %+v lease %+v pg %+v", r, r.Lease, r.Pushgateway)
	}
}

func TestRunErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", withRun("    leese: {}\n"), []string{"p.yaml:6", "leese"}},
		{"bad namespace", withRun("    lease: {namespace: Ops_1}\n"), []string{"p.yaml:6", "spec.run.lease.namespace", "not a namespace name"}},
		{"short duration", withRun("    lease:\n      duration: 1s\n"), []string{"p.yaml:7", "spec.run.lease.duration", "at least 3s"}},
		{"no url", withRun("    pushgateway: {job: x}\n"), []string{"p.yaml:6", "spec.run.pushgateway.url", "required"}},
		{"bad url", withRun("    pushgateway:\n      url: pg:9091\n"), []string{"p.yaml:7", "not an http or https URL"}},
	} {
		t.Run(c.name, func(t *testing.T) { checkLoadError(t, c.yaml, c.want) })
	}
}
