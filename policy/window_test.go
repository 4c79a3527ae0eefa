package policy

import (
	"fmt"
	"testing"
	"time"
)

func TestBounds(t *testing.T) {
	fri := t0 // Friday 12:00 UTC
	business := Window{Name: "business", Schedule: mustCron("0 8 * * MON-FRI"), Duration: 10 * time.Hour, MinReplicas: 10}
	night := Window{Name: "night", Schedule: mustCron("0 22 * * *"), Duration: 8 * time.Hour, MaxReplicas: 3}
	sale := Window{Name: "sale", Schedule: mustCron("0 12 27 11 *"), Duration: 2 * time.Hour, MinReplicas: 30, MaxReplicas: 80}
	tests := []struct {
		name         string
		windows      []Window
		now          time.Time
		lead         time.Duration
		lo, hi       int32
		active       string
		winLo, winHi bool
	}{
		{name: "no windows", now: fri, lo: 2, hi: 40, active: "[]"},
		{name: "business hours open", windows: []Window{business}, now: fri, lo: 10, hi: 40, active: "[business]", winLo: true},
		{name: "business hours closed at 18:00 sharp", windows: []Window{business}, now: fri.Add(6 * time.Hour), lo: 2, hi: 40, active: "[]"},
		{name: "open at 17:59", windows: []Window{business}, now: fri.Add(6*time.Hour - time.Minute), lo: 10, hi: 40, active: "[business]", winLo: true},
		{name: "not on Saturday", windows: []Window{business}, now: fri.Add(24 * time.Hour), lo: 2, hi: 40, active: "[]"},
		{name: "minimum applies lead time early", windows: []Window{business}, now: fri.Add(-4*time.Hour - 2*time.Minute), lead: 3 * time.Minute,
			lo: 10, hi: 40, active: "[business (opens within the lead time)]", winLo: true},
		{name: "maximum waits for the window to open", windows: []Window{night}, now: fri.Add(10*time.Hour - time.Minute), lead: 3 * time.Minute,
			lo: 2, hi: 40, active: "[night (opens within the lead time)]"},
		{name: "maximum while open", windows: []Window{night}, now: fri.Add(11 * time.Hour), lo: 2, hi: 3, active: "[night]", winHi: true},
		{name: "a window may raise the maximum", windows: []Window{sale, business}, now: fri, lo: 30, hi: 80, active: "[sale business]", winLo: true, winHi: true},
		{name: "min above max lifts the max", windows: []Window{business, {Name: "cap", Schedule: mustCron("0 * * * *"), Duration: time.Hour, MaxReplicas: 5}},
			now: fri, lo: 10, hi: 10, active: "[business cap]", winLo: true, winHi: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, active, wl, wh := Bounds(tc.windows, tc.now, tc.lead, 2, 40)
			if lo != tc.lo || hi != tc.hi || fmt.Sprint(active) != tc.active || wl != tc.winLo || wh != tc.winHi {
				t.Errorf("Bounds = [%d, %d] %v %v %v, want [%d, %d] %s %v %v", lo, hi, active, wl, wh, tc.lo, tc.hi, tc.active, tc.winLo, tc.winHi)
			}
		})
	}
}

// The documented scale-down of 10% per minute, run every 15 s as the HPA
// does: the count drops once per minute (a change stays in the period for
// exactly 60 s), each step truncating: 80, 72, 64, 57, 51, 45.
func TestScaleDownCyclesPeriodAccounting(t *testing.T) {
	w := web()
	w.Min, w.Max = 1, 100
	w.Request = Resources{CPU: 1}
	w.Utilization = Resources{CPU: 1}
	w.Behavior.ScaleDown = &ScalingRules{StabilizationWindow: window(0), Policies: []ScalingPolicy{percent(10, 60)}}
	cur := int32(80)
	var h History
	var got []int32
	for cycle := range 21 {
		now := t0.Add(time.Duration(cycle) * 15 * time.Second)
		d := Replicas(w, Input{Now: now, Current: cur, Demand: flat(now, time.Minute, 30, 10), History: h})
		h.Recommendations = append(h.Recommendations, Recommendation{now, d.Recommendation})
		if d.Desired != cur {
			h.Events = append(h.Events, ScaleEvent{now, cur, d.Desired})
			got = append(got, d.Desired)
			if cycle%4 != 0 {
				t.Errorf("cycle %d (%v): changed between period boundaries", cycle, now.Sub(t0))
			}
		}
		cur = d.Desired
	}
	if fmt.Sprint(got) != "[72 64 57 51 45 40]" {
		t.Errorf("steps %v, want [72 64 57 51 45 40]", got)
	}
}
