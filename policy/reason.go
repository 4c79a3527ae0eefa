package policy

import (
	"fmt"
	"strings"
)

// Reason says in a sentence why the decision is what it is.
func (d Decision) Reason() string {
	nb := &d.Numbers
	req, util := nb.Request, nb.Utilization
	var b strings.Builder
	switch d.Rule {
	case RuleForecast:
		fmt.Fprintf(&b, "forecast q%g over the next %v needs %d", nb.Quantile, nb.Window, nb.ForecastReplicas)
		var parts []string
		if nb.DemandCPU > 0 && req.CPU > 0 {
			parts = append(parts, fmt.Sprintf("%.3g cores / (%.3g × %.2g)", nb.DemandCPU, req.CPU, util.CPU))
		}
		if nb.DemandMem > 0 && req.Memory > 0 {
			parts = append(parts, fmt.Sprintf("%.3g GiB / (%.3g GiB × %.2g)", nb.DemandMem/(1<<30), req.Memory/(1<<30), util.Memory))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
		}
	case RuleReactiveFloor:
		fmt.Fprintf(&b, "current usage at %.2f× target needs %d (HPA formula), more than the forecast's %d", nb.UsageRatio, nb.ReactiveReplicas, nb.ForecastReplicas)
	case RuleStabilization:
		if d.Recommendation < d.Current {
			fmt.Fprintf(&b, "scale-down stabilized: a recent recommendation was %d (now %d)", nb.Stabilized, d.Recommendation)
		} else {
			fmt.Fprintf(&b, "scale-up stabilized: recent recommendations were as low as %d (now %d)", nb.Stabilized, d.Recommendation)
		}
	case RuleRateLimit:
		if d.Desired > d.Current {
			fmt.Fprintf(&b, "scale-up rate limit: at most %d now (wanted %d)", nb.ScaleUpLimit, nb.Stabilized)
		} else {
			fmt.Fprintf(&b, "scale-down rate limit: at least %d now (wanted %d)", nb.ScaleDownLimit, nb.Stabilized)
		}
	case RuleHold:
		fmt.Fprintf(&b, "hold at %d: no fresh forecast or usage", d.Current)
	case RuleWindow:
		fmt.Fprintf(&b, "window %s sets the bounds [%d, %d] (wanted %d)", strings.Join(nb.Windows, ", "), nb.Min, nb.Max, d.Recommendation)
	case RuleMin:
		fmt.Fprintf(&b, "minimum %d (wanted %d)", nb.Min, d.Recommendation)
	case RuleMax:
		fmt.Fprintf(&b, "maximum %d (wanted %d)", nb.Max, d.Recommendation)
	default:
		fmt.Fprintf(&b, "BUG: no rule set the decision")
	}
	if src := nb.LeadTimeSource; src != "" && src != LeadTimePlan && d.Rule != RuleHold {
		fmt.Fprintf(&b, "; lead time %v (%s)", nb.LeadTime, src)
	}
	if d.Mode == ModeHPAFloor {
		b.WriteString("; sets the HPA's minReplicas")
	}
	return b.String()
}
