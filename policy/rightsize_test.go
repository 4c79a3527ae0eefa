package policy

import (
	"math"
	"testing"
)

func TestRightsize(t *testing.T) {
	ramp := func(n int, f float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(i+1) * f
		}
		return x
	}
	tests := []struct {
		name       string
		cpu, mem   []float64
		opt        *RightsizeOptions
		wantCPU    float64
		wantMemMiB float64
	}{
		// 1..100 millicores ×10: p95 by interpolation = 1 + 0.95 × 99 = 95.05 → ×10 = 950.5m → 951m.
		{name: "cpu p95 interpolated, rounded up to the millicore", cpu: ramp(100, 0.01), wantCPU: 0.951},
		{name: "memory peak + 15%", mem: ramp(20, 100<<20), wantMemMiB: math.Ceil(2000 * 1.15)},
		{name: "floors: 10m and 100Mi", cpu: ramp(20, 1e-5), mem: ramp(20, 1<<20), wantCPU: 0.010, wantMemMiB: 100},
		{name: "NaN skipped", cpu: append(ramp(20, 0.1), math.NaN()), wantCPU: 1.905},
		{name: "too few samples: no advice", cpu: ramp(5, 1), mem: ramp(5, 1<<30)},
		{name: "options: p50, 50% margin", cpu: ramp(13, 1), mem: ramp(12, 1<<30), opt: &RightsizeOptions{CPUPercentile: 0.5, MemoryMargin: 0.5}, wantCPU: 7, wantMemMiB: 12 * 1024 * 1.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := Rightsize(Resources{CPU: 1, Memory: 1 << 30}, tc.cpu, tc.mem, tc.opt)
			if math.Abs(a.Recommended.CPU-tc.wantCPU) > 1e-9 || math.Abs(a.Recommended.Memory/(1<<20)-tc.wantMemMiB) > 1e-9 {
				t.Errorf("advice %+v (MiB %v), want cpu %v memory %v MiB; notes %q", a.Recommended, a.Recommended.Memory/(1<<20), tc.wantCPU, tc.wantMemMiB, a.Notes)
			}
		})
	}
}
