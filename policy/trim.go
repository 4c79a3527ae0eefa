package policy

import "time"

// A Trim is a leaner plan for one workload that a budget may choose
// (PodGroup.Leaner, TrimSteps): the decision and planned pods with less
// forecast headroom.
type Trim struct {
	Step     string // one of TrimSteps
	Pods     int
	Decision Decision
	// Workload and Input are what Decision was decided from (the median
	// demand; LeadTime 0 after the lead-time step), so that a caller that
	// re-decides (on a conflict, at a new current count) keeps the trim.
	Workload *Workload
	Input    Input
}

// Trims works out a workload's leaner plans in the budget's order:
//
//  1. quantile → median: Replicas on median (the demand forecast at
//     quantile 0.5) instead of in.Demand, its pods raised to the forecast
//     over the node lead time as planned pods are (PodsAhead);
//  2. lead-time window: also planning the median demand over [now, now +
//     interval] only: no pod start-up (LeadTime 0) and no node look-ahead.
//
// Each goes through Replicas, so the minimum (with windows), the reactive
// floor, the stabilization windows and the rate limits still hold. Planned
// pods are the decision's count in scale mode and the larger of it and the
// current count in hpa-floor mode; a workload in recommend mode, holding, or
// without a median forecast has nothing to trim (nil).
func Trims(w *Workload, in Input, median *Demand, nodeLead time.Duration) []Trim {
	if w.Mode == ModeRecommend || median == nil {
		return nil
	}
	pods := func(d Decision) int {
		if w.Mode == ModeHPAFloor {
			return int(max(d.Desired, in.Current))
		}
		return int(d.Desired)
	}
	in.Demand = median
	d := Replicas(w, in)
	if d.Rule == RuleHold {
		return nil
	}
	out := []Trim{{Step: TrimSteps[0], Pods: int(PodsAhead(w, median, in.Now, nodeLead, int32(pods(d)))), Decision: d, Workload: w, Input: in}}
	bare := *w
	bare.LeadTime, bare.LeadTimeSource = 0, "budget: lead-time window trimmed"
	d = Replicas(&bare, in)
	return append(out, Trim{Step: TrimSteps[1], Pods: pods(d), Decision: d, Workload: &bare, Input: in})
}
