package simulator_test

import (
	"context"
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/simulator"
)

// A step from 2 to 10 cores under the HPA: the pods it adds take 2 minutes
// to start, so the step goes partly unmet.
func ExampleRun() {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	demand := make([]float64, 120) // one sample a minute
	for k := range demand {
		demand[k] = 2
		if k >= 60 {
			demand[k] = 10
		}
	}
	in := &simulator.Input{Name: "step", Workloads: []simulator.Workload{{
		Spec: policy.Workload{Target: policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"},
			Request: policy.Resources{CPU: 1}, Utilization: policy.Resources{CPU: 1}, Min: 1, Max: 40, LeadTime: 2 * time.Minute},
		Demand: forecast.Series{Name: "web", Start: start, Step: time.Minute, Values: demand},
	}}}
	res, err := simulator.Run(context.Background(), in, simulator.Options{Policies: []string{simulator.Reactive, simulator.Static}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range res.Policies {
		fmt.Printf("%s: %.0f core-minutes unmet, %.0f core-hours idle, %d actions\n", p.Name, p.UnmetCoreMinutes, p.WasteCoreHours, p.Actions)
	}
	// Output:
	// reactive: 17 core-minutes unmet, 0 core-hours idle, 2 actions
	// static: 0 core-minutes unmet, 8 core-hours idle, 0 actions
}
