package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"
)

// The four policies run concurrently on their own clusters, the planner
// decides and fits in parallel, and the budget band's backtests run in
// parallel: one core or two, the same bytes; and each policy's result is
// the one it gets when it runs alone (no state is shared between the
// concurrent clusters). 64 workloads take the parallel paths; a zone loss
// and a price change exercise the scenario events on every cluster.
func TestPoliciesConcurrentSameResult(t *testing.T) {
	sc, err := ParseScenario("s.yaml", []byte(`
apiVersion: headroom.dev/v1alpha1
kind: Scenario
metadata: {name: busy}
spec:
  prices: [{at: 6h, pool: a, pricePerHour: 0.9}]
  failures: [{at: 12h, pool: a, zone: 1, duration: 2h}]
`))
	if err != nil {
		t.Fatal(err)
	}
	in := scaleInput(64, 1)
	opt := Options{Tick: time.Minute, Refit: 6 * time.Hour, Log: true, Scenario: sc}
	run := func(procs int, policies []string) *Result {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		o := opt
		o.Policies = policies
		res, err := Run(context.Background(), in, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, two := run(1, nil), run(2, nil)
	if !bytes.Equal(js(one), js(two)) {
		t.Fatal("one core and two gave different results")
	}
	for i, name := range PolicyNames {
		alone := run(2, []string{name})
		if !bytes.Equal(js(alone.Policies[0]), js(two.Policies[i])) || !bytes.Equal(js(alone.Series.Policies[0]), js(two.Series.Policies[i])) {
			t.Errorf("%s alone differs from %s among all four", name, name)
		}
		if name != Static && len(alone.Policies[0].Log) == 0 {
			t.Errorf("%s took no action: the comparison would be empty", name)
		}
		if len(alone.Policies[0].Failures) != 1 {
			t.Errorf("%s: %d failures recorded, want the zone loss", name, len(alone.Policies[0].Failures))
		}
	}
}
