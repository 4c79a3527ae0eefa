package policy

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Window is a scheduled change of a workload's bounds: from each activation
// of Schedule, for Duration, the minimum is raised to MinReplicas and the
// maximum set to MaxReplicas (0: unset).
type Window struct {
	Name        string
	Schedule    cron.Schedule // from cron.ParseStandard; only its pure Next is used
	Duration    time.Duration
	MinReplicas int32 // 0: no minimum
	MaxReplicas int32 // 0: no maximum
}

// Active reports whether w is active at some instant of [from, to]: an
// activation s with from − Duration < s ≤ to. The planner asks about
// [now, now + lead time], so that pods are ready when a window opens.
func (w Window) Active(from, to time.Time) bool {
	if w.Schedule == nil || w.Duration <= 0 {
		return false
	}
	s := w.Schedule.Next(from.Add(-w.Duration))
	return !s.IsZero() && !s.After(to)
}

// Bounds applies the scheduled windows to the bounds [minR, maxR] at now. A
// window's minimum counts from lead before it opens (so that pods are ready
// when it does: any activation in [now, now + lead]; the planner passes its
// start-up time plus its run interval, since the next run may be too late); its maximum only while
// it is open at now (lowering capacity early would be a shortage). The
// largest active minimum raises minR; the smallest active maximum replaces
// maxR (a window may raise the maximum for a known event); when the result
// has min > max, the maximum rises to the minimum. It returns the names of
// the active windows and whether a window set each bound.
func Bounds(windows []Window, now time.Time, lead time.Duration, minR, maxR int32) (lo, hi int32, active []string, winLo, winHi bool) {
	lo, hi = minR, maxR
	var wMax int32
	for _, w := range windows {
		if w.Schedule == nil || w.Duration <= 0 {
			continue
		}
		// The first activation after now − Duration: the window is open at
		// now when it is not after now, opens within the lead time when it
		// is not after now + lead.
		s := w.Schedule.Next(now.Add(-w.Duration))
		if s.IsZero() || s.After(now.Add(lead)) {
			continue
		}
		open := !s.After(now)
		name := w.Name
		if name == "" {
			name = "window"
		}
		if !open {
			name += " (opens within the lead time)"
		}
		active = append(active, name)
		if w.MinReplicas > lo {
			lo, winLo = w.MinReplicas, true
		}
		if open && w.MaxReplicas > 0 && (wMax == 0 || w.MaxReplicas < wMax) {
			wMax = w.MaxReplicas
		}
	}
	if wMax > 0 {
		hi, winHi = wMax, true
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi, active, winLo, winHi
}
