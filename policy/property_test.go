package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// randomCase draws a workload, an input and a history from rng.
func randomCase(rng *rand.Rand) (*Workload, Input) {
	now := t0.Add(time.Duration(rng.IntN(7*24*60)) * time.Minute)
	w := &Workload{
		Target:      Target{"Deployment", "ns", "w"},
		Mode:        Mode(rng.IntN(3)),
		Request:     Resources{CPU: 0.1 + rng.Float64()*2, Memory: float64(rng.IntN(4)) * gi / 2},
		Utilization: Resources{CPU: 0.3 + 0.7*rng.Float64(), Memory: 0.5 + 0.5*rng.Float64()},
		Min:         int32(rng.IntN(5)),
		LeadTime:    time.Duration(rng.IntN(300)) * time.Second,
		Interval:    time.Duration(1+rng.IntN(10)) * time.Minute,
		Quantile:    0.95,
	}
	w.Max = max(1, w.Min+int32(rng.IntN(60)))
	if rng.IntN(2) == 0 {
		pol := []ScalingPolicy{}
		for range 1 + rng.IntN(3) {
			pol = append(pol, ScalingPolicy{Type: PolicyType(rng.IntN(2)), Value: int32(1 + rng.IntN(100)), Period: time.Duration(1+rng.IntN(300)) * time.Second})
		}
		win := time.Duration(rng.IntN(600)) * time.Second
		w.Behavior.ScaleDown = &ScalingRules{StabilizationWindow: &win, Select: SelectPolicy(rng.IntN(3)), Policies: pol}
	}
	if rng.IntN(2) == 0 {
		pol := []ScalingPolicy{{Type: PolicyType(rng.IntN(2)), Value: int32(1 + rng.IntN(100)), Period: time.Duration(1+rng.IntN(300)) * time.Second}}
		win := time.Duration(rng.IntN(300)) * time.Second
		w.Behavior.ScaleUp = &ScalingRules{StabilizationWindow: &win, Select: SelectPolicy(rng.IntN(3)), Policies: pol}
	}
	w.Behavior.Legacy = rng.IntN(6) == 0
	specs := []string{"0 8 * * MON-FRI", "*/30 * * * *", "0 0 * * *", "15 14 * * SAT"}
	for range rng.IntN(3) {
		win := Window{Name: "w", Schedule: mustCron(specs[rng.IntN(len(specs))]), Duration: time.Duration(1+rng.IntN(600)) * time.Minute}
		if rng.IntN(2) == 0 {
			win.MinReplicas = int32(rng.IntN(40))
		}
		if rng.IntN(2) == 0 || win.MinReplicas == 0 {
			win.MaxReplicas = max(win.MinReplicas, int32(1+rng.IntN(50)))
		}
		w.Windows = append(w.Windows, win)
	}
	step := time.Duration(1+rng.IntN(10)) * time.Minute
	d := &Demand{Start: now.Add(step - time.Duration(rng.IntN(2))*step), Step: step, CPU: make([]float64, 30)}
	level := rng.Float64() * 30
	for i := range d.CPU {
		d.CPU[i] = level * (0.5 + rng.Float64())
	}
	if w.Request.Memory > 0 {
		d.Memory = make([]float64, 30)
		for i := range d.Memory {
			d.Memory[i] = rng.Float64() * 20 * gi
		}
	}
	in := Input{Now: now, Current: int32(rng.IntN(80)), CurrentMin: int32(rng.IntN(10)), Demand: d}
	if rng.IntN(2) == 0 {
		rep := max(1, in.Current-int32(rng.IntN(3)))
		in.Usage = &Usage{Time: now, CPU: rng.Float64() * float64(rep) * w.Request.CPU * 1.5, Memory: rng.Float64() * float64(rep) * w.Request.Memory,
			Reporting: rep, Missing: in.Current - rep, Unready: int32(rng.IntN(2))}
	}
	for range rng.IntN(6) {
		at := now.Add(-time.Duration(rng.IntN(900)) * time.Second)
		in.History.Recommendations = append(in.History.Recommendations, Recommendation{at, int32(rng.IntN(80))})
		from := int32(rng.IntN(80))
		in.History.Events = append(in.History.Events, ScaleEvent{at, from, max(0, from+int32(rng.IntN(21))-10)})
	}
	return w, in
}

// Properties over random inputs with a fixed seed: results always within
// the bounds after windows; a higher forecast never yields fewer replicas;
// rate limits are always respected.
func TestReplicasProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 2026))
	for trial := range 5000 {
		w, in := randomCase(rng)
		d := Replicas(w, in)
		name := fmt.Sprintf("trial %d (%s, current %d)", trial, w.Mode, in.Current)
		if d.Rule == RuleUnknown {
			t.Fatalf("%s: rule unknown", name)
		}
		lo, hi := d.Numbers.Min, d.Numbers.Max
		if d.Desired < lo || d.Desired > hi {
			t.Fatalf("%s: desired %d outside [%d, %d] (%s)", name, d.Desired, lo, hi, d.Reason())
		}
		// Rate limits: a scale-mode change from within the bounds never exceeds them.
		if w.Mode != ModeHPAFloor && !w.Behavior.Legacy && in.Current >= lo && in.Current <= hi {
			up, down := w.Behavior.Complete()
			if d.Desired > in.Current {
				if lim := ScaleUpLimit(in.Now, in.Current, up, in.History.Events); d.Desired > max(lim, in.Current) {
					t.Fatalf("%s: scaled up to %d past the limit %d", name, d.Desired, lim)
				}
			}
			if d.Desired < in.Current {
				if lim := ScaleDownLimit(in.Now, in.Current, down, in.History.Events); d.Desired < min(lim, in.Current) {
					t.Fatalf("%s: scaled down to %d past the limit %d", name, d.Desired, lim)
				}
			}
		}
		// Monotone in the forecast.
		higher := *in.Demand
		higher.CPU = append([]float64(nil), in.Demand.CPU...)
		f := 1 + rng.Float64()
		for i := range higher.CPU {
			higher.CPU[i] *= f
		}
		in2 := in
		in2.Demand = &higher
		if d2 := Replicas(w, in2); d2.Desired < d.Desired {
			t.Fatalf("%s: forecast ×%.2f gave %d < %d", name, f, d2.Desired, d.Desired)
		}
	}
}

// Simulating many cycles: each cycle's change respects the rate limits
// measured on the history the cycles themselves record.
func TestReplicasCyclesRespectRateLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	for trial := range 200 {
		w, in := randomCase(rng)
		w.Mode = ModeScale
		w.Behavior.Legacy = false
		in.History = History{}
		in.Usage = nil
		cur := min(max(in.Current, w.Min), w.Max)
		now := in.Now
		up, down := w.Behavior.Complete()
		for cycle := range 60 {
			now = now.Add(15 * time.Second)
			d := &Demand{Start: now.Add(time.Minute), Step: time.Minute, CPU: []float64{rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40, rng.Float64() * 40}}
			dec := Replicas(w, Input{Now: now, Current: cur, Demand: d, History: in.History})
			lo, hi := dec.Numbers.Min, dec.Numbers.Max
			if cur >= lo && cur <= hi {
				if dec.Desired > cur && dec.Desired > max(cur, ScaleUpLimit(now, cur, up, in.History.Events)) ||
					dec.Desired < cur && dec.Desired < min(cur, ScaleDownLimit(now, cur, down, in.History.Events)) {
					t.Fatalf("trial %d cycle %d: %d → %d breaks the rate limit", trial, cycle, cur, dec.Desired)
				}
			}
			in.History.Recommendations = append(in.History.Recommendations, Recommendation{now, dec.Recommendation})
			if dec.Desired != cur {
				in.History.Events = append(in.History.Events, ScaleEvent{now, cur, dec.Desired})
			}
			cur = dec.Desired
		}
	}
}
