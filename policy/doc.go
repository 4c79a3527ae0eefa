// Package policy owns the decisions: how many replicas each workload should
// run (from demand forecasts, a reactive floor, scheduled windows and the
// Kubernetes HPA's behavior rules), how many nodes each pool needs to hold
// them (first-fit-decreasing packing with per-node overhead, zones and
// n+1 / zone-loss headroom), what that costs against a budget, and
// per-replica rightsizing advice.
//
// The package is pure: it imports only the standard library and
// robfig/cron's schedule parser, reads no clock and no global randomness.
// Every input, including now, is an argument; every output is a value —
// a Decision for a workload, a PoolPlan for the node pools, an Advice — that
// records the rule that set it and the numbers behind it, so a person can ask
// "why?". The live loop (headroom run) and the simulator call the same
// functions; the history the HPA controller keeps in memory (past
// recommendations and scale events) is an input here (History), kept by the
// caller.
//
// # Replicas
//
// Replicas takes a Workload (requests, utilization targets, bounds, lead
// time, behavior, windows, mode) and an Input (now, the current count, the
// demand forecast at the planned quantile, current usage, history):
//
//	forecast  = max over CPU, memory of ceil(peak demand in [now, now + lead + interval] / (request × utilization))
//	reactive  = the HPA's ceil(ready × usage/target) with its 0.1 tolerance and missing-pod rules
//	desired   = Normalize(max(forecast, reactive))   // stabilization, rate limits, bounds
//
// Normalize, Stabilize, ScaleUpLimit and ScaleDownLimit re-implement the HPA
// controller (k8s.io/kubernetes pkg/controller/podautoscaler, v1.37), with
// its API defaults; Behavior.Legacy selects the controller's path for an HPA
// without spec.behavior. Windows (Bounds) raise the minimum from a lead time
// before they open and set the maximum while open. PodsAhead extends the
// forecast to a node pool's longer lead time.
//
// # Node pools
//
// PlanPools packs PodGroups (a workload's planned pods) onto Pools: groups in
// decreasing size, each to its pinned pool or to the pool with the least
// waste then the lowest price per pod, spilling to the next when a pool is at
// its maximum, spread evenly over a pool's zones and first fit within a zone
// (on a max segment tree, so 10,000 workloads plan in tens of milliseconds).
// Demand that fits nowhere is reported as Unschedulable, never dropped. Then
// minimums, balanced zones and headroom (n+1, zone), each with its cost; over
// budget, optional headroom is trimmed in a stated order — zone → n+1 →
// none, then the forecast at the median, then without the lead-time window
// (PodGroup.Leaner, worked out by Trims) — and the rest is reported loudly:
// replicas are never cut below the minimums or the reactive floors to fit.
//
// Where to start reading: Replicas (replicas.go), then Normalize
// (behavior.go), then PlanPools (pools.go).
//
// Units: CPU in cores, memory in bytes, money in the plan's currency per
// hour or per month (HoursPerMonth = 730).
package policy
