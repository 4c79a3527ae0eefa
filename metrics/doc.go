// Package metrics owns headroom's view of observed demand: the vocabulary shared by every source of usage data
// and by the history store — workloads, series keys, samples, coverage and node inventory — and the [Source]
// interface that each of them implements.
//
// Implementations live in sub-packages, so that a caller imports only the clients it uses:
//
//	metrics/store       the embedded SQLite history (retention, hourly downsampling, decision log)
//	metrics/prom        Prometheus query_range (cAdvisor + kube-state-metrics), chunked, with retries
//	metrics/kube        metrics-server (metrics.k8s.io) with owner resolution and node inventory
//	metrics/tracefile   CSV trace files, so the pipeline runs without a cluster
//	metrics/trace       the CSV trace format itself
//
// Units are fixed per resource: CPU in cores, memory in bytes, counts as plain numbers (see the Resource
// constants). Time enters as data: a [Window] says what to collect, and snapshot sources stamp their samples
// with its End, which the caller read from the clock once.
package metrics
