package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// RightsizeOptions configure Rightsize; a nil *RightsizeOptions means the
// defaults, which are those of KRR's "simple" strategy (robusta-dev/krr).
type RightsizeOptions struct {
	// CPUPercentile of per-replica CPU usage to request; 0 means 0.95.
	CPUPercentile float64
	// MemoryMargin over the per-replica memory peak; 0 means 0.15.
	MemoryMargin float64
	// MinCPU and MinMemory floor the advice; 0 means 10m and 100Mi.
	MinCPU, MinMemory float64
	// MinSamples below which no advice is given for a resource; 0 means 12.
	MinSamples int
}

func (o *RightsizeOptions) withDefaults() RightsizeOptions {
	var r RightsizeOptions
	if o != nil {
		r = *o
	}
	if r.CPUPercentile == 0 {
		r.CPUPercentile = 0.95
	}
	if r.MemoryMargin == 0 {
		r.MemoryMargin = 0.15
	}
	if r.MinCPU == 0 {
		r.MinCPU = 0.010
	}
	if r.MinMemory == 0 {
		r.MinMemory = 100 << 20
	}
	if r.MinSamples == 0 {
		r.MinSamples = 12
	}
	return r
}

// Advice is a per-replica request recommendation. It is reported, never
// applied: changing requests restarts pods and changes the replica math.
type Advice struct {
	Current Resources `json:"current"`
	// Recommended is 0 for a resource without enough samples.
	Recommended Resources `json:"recommended"`
	Samples     struct {
		CPU    int `json:"cpu"`
		Memory int `json:"memory"`
	} `json:"samples"`
	Notes []string `json:"notes,omitempty"`
}

// Rightsize recommends per-replica requests from per-replica usage samples
// (NaN samples are skipped), in the spirit of VPA and KRR: CPU at a high
// percentile of usage (CPU is compressible: a pod above its request is
// throttled, not killed), memory at the peak plus a margin (memory is not:
// a pod above its limit is killed). CPU is rounded up to the millicore,
// memory up to the MiB.
//
//	cpu    = max(MinCPU, percentile(cpu, CPUPercentile))
//	memory = max(MinMemory, max(mem) × (1 + MemoryMargin))
func Rightsize(current Resources, cpu, mem []float64, opt *RightsizeOptions) Advice {
	o := opt.withDefaults()
	a := Advice{Current: current}
	c := finite(cpu)
	m := finite(mem)
	a.Samples.CPU, a.Samples.Memory = len(c), len(m)
	if len(c) >= o.MinSamples {
		slices.Sort(c)
		v := max(o.MinCPU, percentile(c, o.CPUPercentile))
		a.Recommended.CPU = math.Ceil(v*1000-1e-9) / 1000
		if current.CPU > 0 {
			a.Notes = append(a.Notes, fmt.Sprintf("cpu %s → %s (p%g of usage)", change(current.CPU, a.Recommended.CPU), fmtCores(a.Recommended.CPU), o.CPUPercentile*100))
		}
	} else if len(cpu) > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("cpu: %d samples, fewer than %d: no advice", len(c), o.MinSamples))
	}
	if len(m) >= o.MinSamples {
		v := max(o.MinMemory, slices.Max(m)*(1+o.MemoryMargin))
		const mib = 1 << 20
		a.Recommended.Memory = math.Ceil(v/mib-1e-9) * mib
		if current.Memory > 0 {
			a.Notes = append(a.Notes, fmt.Sprintf("memory %s → %.0fMi (peak + %g%%)", change(current.Memory, a.Recommended.Memory), a.Recommended.Memory/mib, o.MemoryMargin*100))
		}
	} else if len(mem) > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("memory: %d samples, fewer than %d: no advice", len(m), o.MinSamples))
	}
	return a
}

func finite(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, max(v, 0))
		}
	}
	return out
}

// percentile of sorted x with linear interpolation between closest ranks
// (numpy's default, which KRR uses).
func percentile(x []float64, p float64) float64 {
	if len(x) == 1 {
		return x[0]
	}
	h := p * float64(len(x)-1)
	i := int(math.Floor(h))
	if i >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[i] + (h-float64(i))*(x[i+1]-x[i])
}

func change(from, to float64) string {
	if from <= 0 {
		return "unset"
	}
	return fmt.Sprintf("%+.0f%%", 100*(to-from)/from)
}

func fmtCores(c float64) string {
	if c < 1 {
		return fmt.Sprintf("%.0fm", c*1000)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", c), "0"), ".")
}
