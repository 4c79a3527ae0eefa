// Package report owns capacity-review documents: it turns a simulation
// result (FromSimulation) or a store's history, decision log and latest
// inventory (Load, then Build) into a Report — a summary, per-workload and
// per-pool sections, and findings ordered by severity — and writes it as one
// self-contained HTML file (inline CSS, inline SVG charts drawn with
// gonum.org/v1/plot, a small inline script that sorts tables; no external
// scripts, fonts, stylesheets or images), Markdown, JSON (with
// SchemaVersion) or CSV (one file per table).
//
// The package plans and forecasts nothing itself: replicas, rightsizing and
// headroom come from package policy, forecasts and backtests from package
// forecast. Building is deterministic: time enters as Options.Now, and the
// same inputs give the same bytes in every format.
//
// Where to start reading: Report (report.go), then Build (build.go) for the
// store path or FromSimulation (simulation.go), then Tables (tables.go),
// which every format renders.
package report
