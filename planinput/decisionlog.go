package planinput

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// Actions of the decision-log rows the planner reads (see the package
// documentation): ActionDecision is runner.ActionDecision, the others are
// the actuator's LogScale, LogFloor and LogLeadTime.
const (
	ActionDecision = "decision"
	ActionScale    = "scale"
	ActionFloor    = "floor"
	ActionLeadTime = "lead-time"
)

// HistoryWindow is how far back the planner reads recommendations and scale
// events: the HPA API's longest stabilization window (periods are at most
// 30 minutes).
const HistoryWindow = time.Hour

// LeadTimeWindow and LeadTimeSamples bound the measured start-ups leadTime:
// auto takes the median of: the last LeadTimeSamples within LeadTimeWindow.
const (
	LeadTimeWindow  = 30 * 24 * time.Hour
	LeadTimeSamples = 20
)

// ScaleDetail is the Detail of an ActionScale row.
type ScaleDetail struct {
	From int32 `json:"from"`
	To   int32 `json:"to"`
}

// LeadTimeDetail is the Detail of an ActionLeadTime row.
type LeadTimeDetail struct {
	Seconds   float64   `json:"seconds"`
	Desired   int32     `json:"desired"`
	DecidedAt time.Time `json:"decidedAt"`
}

// WorkloadOf is the store's name of a policy target.
func WorkloadOf(t policy.Target) metrics.Workload {
	return metrics.Workload{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}
}

// Logged is what the decision log says about one workload.
type Logged struct {
	History policy.History
	// LeadTimes are the measured start-ups, oldest first.
	LeadTimes []time.Duration
	// Warnings name rows that could not be read (they are skipped).
	Warnings []string
}

// FromRows reads the rows of one workload (in time order, as
// store.Decisions returns them) as of now: recommendations and scale events
// in (now − HistoryWindow, now], lead times in (now − LeadTimeWindow, now]
// (at most the last LeadTimeSamples). Rows after now are ignored.
func FromRows(rows []store.Decision, now time.Time) Logged {
	var l Logged
	bad := func(r store.Decision, err error) {
		l.Warnings = append(l.Warnings, fmt.Sprintf("decision log: %s row at %s: %v (skipped)", r.Action, r.T.UTC().Format(time.RFC3339), err))
	}
	for _, r := range rows {
		if r.T.After(now) {
			continue
		}
		recent := r.T.After(now.Add(-HistoryWindow))
		switch r.Action {
		case ActionDecision:
			var d struct {
				Decision *struct {
					Time           time.Time   `json:"time"`
					Recommendation *int32      `json:"recommendation"`
					Rule           policy.Rule `json:"rule"`
				} `json:"decision"`
			}
			if err := json.Unmarshal(r.Detail, &d); err != nil || d.Decision == nil || d.Decision.Recommendation == nil {
				bad(r, fmt.Errorf("detail has no decision.recommendation: %.200s", r.Detail))
				continue
			}
			at := d.Decision.Time
			if at.IsZero() {
				at = r.T
			}
			if d.Decision.Rule == policy.RuleHold || at.After(now) || !at.After(now.Add(-HistoryWindow)) {
				continue // a hold recommends nothing
			}
			l.History.Recommendations = append(l.History.Recommendations, policy.Recommendation{Time: at, Replicas: *d.Decision.Recommendation})
		case ActionScale, ActionFloor:
			if !recent {
				continue
			}
			var d struct{ From, To *int32 }
			if err := json.Unmarshal(r.Detail, &d); err != nil || d.From == nil || d.To == nil {
				bad(r, fmt.Errorf("detail needs from and to: %.200s", r.Detail))
				continue
			}
			l.History.Events = append(l.History.Events, policy.ScaleEvent{Time: r.T, From: *d.From, To: *d.To})
		case ActionLeadTime:
			if !r.T.After(now.Add(-LeadTimeWindow)) {
				continue
			}
			var d LeadTimeDetail
			if err := json.Unmarshal(r.Detail, &d); err != nil || !(d.Seconds >= 0) {
				bad(r, fmt.Errorf("detail needs seconds >= 0: %.200s", r.Detail))
				continue
			}
			l.LeadTimes = append(l.LeadTimes, time.Duration(d.Seconds*float64(time.Second)))
		}
	}
	if n := len(l.LeadTimes); n > LeadTimeSamples {
		l.LeadTimes = l.LeadTimes[n-LeadTimeSamples:]
	}
	return l
}

// MedianLeadTime is the median of the measured lead times (the mean of the
// two middle ones for an even count); ok is false when there are none.
func MedianLeadTime(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}
