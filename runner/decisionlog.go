package runner

import (
	"github.com/headroom-dev/headroom/actuator"
	"github.com/headroom-dev/headroom/policy"
)

// ActionDecision is the decision-log action (store.Decision.Action) of the
// rows a run writes, one per target and cycle; the actuator writes its own
// rows for what it did (actuator.LogScale, …), and the next cycles read
// both through planinput.FromLog.
const ActionDecision = "decision"

// LogDetail is the JSON in store.Decision.Detail of a run's decisions: the
// outcome, the policy decision (its recommendation and time feed the next
// runs' stabilization windows), what the actuator did, and any error.
type LogDetail struct {
	Outcome  Outcome         `json:"outcome"`
	Decision policy.Decision `json:"decision"`
	Action   *LoggedAction   `json:"action,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// LoggedAction is the part of an actuator.Action the log keeps.
type LoggedAction struct {
	From    int  `json:"from"` // -1: unknown
	To      int  `json:"to"`
	Changed bool `json:"changed"`
}

func logged(a *actuator.Action) *LoggedAction {
	if a == nil {
		return nil
	}
	return &LoggedAction{From: a.From, To: a.To, Changed: a.Changed}
}
