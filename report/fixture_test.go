package report

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/policy"
	"github.com/headroom-dev/headroom/simulator"
)

var updateFixture = flag.Bool("update-fixture", false, "regenerate testdata/sim.json with the simulator")

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

// TestSimFixture regenerates the simulation result the golden tests read
// (with -update-fixture); otherwise it checks that the file decodes.
func TestSimFixture(t *testing.T) {
	path := filepath.Join("testdata", "sim.json")
	if *updateFixture {
		step := 5 * time.Minute
		n := 2 * 24 * 12
		web := make([]float64, n)
		batch := make([]float64, n)
		for i := range n {
			h := float64(i) / 12
			web[i] = 3 + 2*math.Sin(2*math.Pi*(h-6)/24)
			batch[i] = 1
			if i >= n/2 {
				batch[i] = 3
			}
		}
		wl := func(name string, lo, hi int32, d []float64, pool string) simulator.Workload {
			return simulator.Workload{Spec: policy.Workload{Target: policy.Target{Kind: "Deployment", Namespace: "shop", Name: name},
				Request: policy.Resources{CPU: 0.5, Memory: 512 << 20}, Utilization: policy.Resources{CPU: 0.7, Memory: 0.8}, Min: lo, Max: hi, LeadTime: 2 * time.Minute},
				Demand: forecast.Series{Name: name, Start: t0, Step: step, Values: d}, Pool: pool}
		}
		in := &simulator.Input{Name: "fixture", Budget: 400, Interval: 5 * time.Minute, Quantile: 0.95,
			Workloads: []simulator.Workload{wl("web", 2, 40, web, ""), wl("batch", 1, 20, batch, "single")},
			Pools: []policy.Pool{
				{Name: "general", Machine: policy.Resources{CPU: 4, Memory: 16 << 30}, Overhead: policy.Resources{CPU: 0.2, Memory: 512 << 20}, Pods: 110, PricePerHour: 0.19, Min: 3, Max: 12, Zones: 3, Headroom: policy.HeadroomZone, LeadTime: 4 * time.Minute},
				{Name: "single", Machine: policy.Resources{CPU: 2, Memory: 8 << 30}, Pods: 110, PricePerHour: 0.1, Min: 1, Max: 4, Zones: 1, Headroom: policy.HeadroomNone, LeadTime: 4 * time.Minute},
			}}
		sc, err := simulator.LoadScenario(filepath.Join("testdata", "scenario.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := simulator.Run(context.Background(), in, simulator.Options{Policies: []string{simulator.Predictive, simulator.Reactive, simulator.Static},
			SeriesStep: time.Hour, Scenario: sc, BandSamples: 200})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(res, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadSimulation(path); err != nil {
		t.Fatal(err)
	}
}
