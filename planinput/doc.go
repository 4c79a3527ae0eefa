// Package planinput gathers what a planning cycle decides from, for
// headroom plan and headroom run alike: a workload's demand history, current
// usage and replicas, per-replica requests, and from the decision log its
// past recommendations and scale events (the HPA's memory) and measured
// start-up times. The plan step itself (forecast and policy) is
// runner.PlanWorkload. It reads no clock: now is an argument.
//
// # History
//
// A workload with a trace source is planned at its trace's last sample
// (FromTrace). Any other workload is planned from the store
// (spec.history.store) at the caller's now (FromStore): the workload's cpu
// and memory series (metrics.Key{Workload: the target, Resource: cpu|memory})
// over the last 35 days, at the finest resolution the store has (see
// storeSeries), each sample scaled by pods/pods_with_metrics when the source
// recorded coverage (missing pods are coverage, not zero usage). Current
// usage is the last raw sample; current replicas come from the caller (it
// read the cluster), else the latest inventory snapshot (its pods, which a
// rollout counts for both ReplicaSets; a snapshot older than the max age is
// a warning), else the latest pods sample. Per-replica requests come from
// the plan, else the latest cpu_request / memory_request samples.
//
// # The decision log
//
// The policy's HPA semantics need the past recommendations and scale events
// of each workload (policy.History); the store's decision log keeps them.
// Rows are read as follows (see the Action constants and
// FromRows):
//
//	Action "decision"   runner.ActionDecision: one row per target and cycle
//	                    of headroom run; Detail runner.LogDetail, whose
//	                    "decision" is the policy.Decision as JSON: its
//	                    "recommendation" at its "time" is the unstabilized
//	                    recommendation the stabilization windows look back
//	                    over (holds recommend nothing)
//	Action "scale"      one row per change the actuator made (actuator.LogScale
//	"floor"             for replicas, actuator.LogFloor for an HPA's
//	                    minReplicas in hpa-floor mode); Detail {"from": <int>,
//	                    "to": <int>, ...} (actuator.ActionDetail); a
//	                    policy.ScaleEvent. Dry runs, holds and failures are
//	                    rows of other actions: nothing changed
//	Action "lead-time"  one row per measured start-up: Detail {"seconds":
//	                    <float>, "desired": <int>, "decidedAt": "<RFC3339>"},
//	                    the time from a scale-up decision until the desired
//	                    pods were ready (leadTime: auto reads them)
//
// (headroom run reads the log through FromLog as well, and writes a "scale"
// row itself only for an actuator that does not log its changes.) Rows of
// other actions are ignored. Recommendations and scale events older
// than an hour (the longest stabilization window the HPA API allows) are not
// read; lead times are read over the last 30 days.
package planinput
