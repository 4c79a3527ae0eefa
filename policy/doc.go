// Package policy owns the decisions: how many replicas each workload should
// run (from demand forecasts, a reactive floor, scheduled windows and the
// Kubernetes HPA's behavior rules), how many nodes each pool needs to hold
// them (first-fit-decreasing packing with per-node overhead, zones and
// n+1 / zone-loss headroom), and what that costs against a budget.
//
// The package is pure: it imports only the standard library and
// robfig/cron's schedule parser, reads no clock and no global randomness.
// Every input, including now, is an argument; every output is a value —
// a Decision for a workload, a PoolPlan for the node pools — that records the
// rule that set it and the numbers behind it, so a person can ask "why?".
// The live loop (headroom run) and the simulator call the same functions.
//
// Where to start reading: Replicas (replicas.go), then Behavior
// (behavior.go, the HPA's stabilization and rate limits re-implemented from
// the controller's horizontal.go), then PlanPools (pools.go).
//
// Units: CPU in cores, memory in bytes, money in the plan's currency per
// hour or per month (730 hours).
package policy
