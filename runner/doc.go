// Package runner owns headroom's live cycle: collect from the plan's source
// into the store, forecast and plan every target with the same code as
// headroom plan, apply the decisions through an actuator, record them, and
// export the numbers people alert on. A Runner reads the clock once per cycle
// (an injected k8s.io/utils/clock), so tests step time; Serve runs cycles on
// the plan's cron schedule.
//
// The plan step (PlanWorkload, PlanPools) is shared with headroom plan: a
// trace-backed plan and a store-backed run decide through the same
// forecast and policy calls.
//
// Safety is enforced here, around the actuator: only targets named in the
// plan (and in this shard) are touched, a change never exceeds the
// decision's own bounds and rate limits, nothing scales to zero unless the
// plan's minimum is 0, stale metrics hold, and a Lease (actuator.Lease) keeps
// two runs from acting at once.
//
// ResourceQuotas: each planned scale-up is checked against the quotas of its
// namespace in the inventory the cycle just collected
// (planinput.QuotaShortfall, as headroom plan does). One that needs more
// than a quota has left gets a QUOTA: warning, which the actuator writes
// into a Warning Event on the workload, and headroom_quota_shortfall. The
// scale is not capped at the quota (the HPA and the cluster-autoscaler do
// not cap either): it goes out, and the warning says why the API server
// will refuse the pods beyond the quota.
package runner
