// Package config owns the user's plan file: the CapacityPlan document
// (apiVersion headroom.dev/v1alpha1), its strict decoding, its defaults and
// its validation.
//
// Load reads a plan with sigs.k8s.io/yaml in strict mode, after walking the
// YAML node tree against the Go types so that every unknown field, duplicate
// key or mistyped value is reported with its field path and line
// ("plan.yaml:14: spec.workloads[1].replicas.max: ..."). Defaults are applied
// by Default, and Validate checks every field, naming it by its path
// (spec.workloads[1].replicas.max) and, when the plan came from a file, its line.
//
// DecodeStrict is that node-walking strict decoder for any YAML document
// with JSON tags (the simulator's scenario files use it too).
//
// spec.history also configures headroom collect: prometheus (url, timeout,
// step, queries), namespaces, nodePoolLabel, and retention, either
// {raw: 8d, hourly: 400d} or the scalar form (retention: 35d means hourly
// aggregates for 35 days and raw samples for min(8d, 35d); unset, 8d and
// 400d). A workload's query overrides the Prometheus queries for it.
//
// A node pool's provider (cluster-api, gke, balloon, none) takes its own
// block: clusterAPI {namespace, name} (default: default/<pool>), gke
// {project, location, cluster, nodePool, autoscaling} (required for gke),
// balloon {namespace, name, priorityClass, nodeSelector, podsPerNode}
// (default: headroom/headroom-balloon-<pool>, headroom-balloon, 1). A block
// of another provider than the pool's is an error.
//
// config is not pure: it parses Kubernetes resource quantities with
// k8s.io/apimachinery. The policy package never sees those types; Workload and
// NodePool convert themselves into plain numbers (cores, bytes) for it.
package config
