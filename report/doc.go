// Package report owns capacity-review documents: it turns a simulation
// result (FromSimulation) or a store's history, decision log and latest
// inventory (Load, then Build) into a Report — a summary, per-workload,
// per-pool and per-quota sections, and findings ordered by severity — and
// writes it as one self-contained HTML file (inline CSS, inline SVG charts
// drawn with gonum.org/v1/plot, a small inline script that sorts tables; no
// external scripts, fonts, stylesheets or images), Markdown, JSON (with
// SchemaVersion) or CSV (one file per table).
//
// The package plans and forecasts nothing itself: replicas, rightsizing and
// headroom come from package policy, forecasts and backtests from package
// forecast. Building is deterministic: time enters as Options.Now, and the
// same inputs give the same bytes in every format.
//
// Quota runway (quota.go): for each ResourceQuota of the inventory that
// counts every workload pod (unscoped, or scoped to NotTerminating or
// NotBestEffort), the namespace's workloads with history are turned into the
// replicas their usage needs at their utilization targets (within the
// plan's min and max; never below their pods now outside the plan), those
// replicas into the requests.cpu, requests.memory and pods they charge the
// quota, summed and forecast as an aggregate over Options.Horizon, as a
// pool's demand is; what the quota counts beyond those workloads' pods is
// held constant. The runway is the first time that demand at the planned
// quantile exceeds hard, and a finding follows the pools' thresholds. A
// second finding says when the replicas planned now need more than a
// quota has left: the API server refuses those pods (403 exceeded quota).
//
// Where to start reading: Report (report.go), then Build (build.go) for the
// store path or FromSimulation (simulation.go), then Tables (tables.go),
// which every format renders.
package report
