// Package prom owns the Prometheus source: it reads workload CPU and memory usage over a time range through
// the HTTP API's query_range (github.com/prometheus/client_golang/api/prometheus/v1), split into requests of
// at most MaxPoints steps, each with its own timeout, retried with backoff on server errors (5xx) and network
// errors only.
//
// The default queries join cAdvisor's container_cpu_usage_seconds_total (as a rate) and
// container_memory_working_set_bytes to their workloads through kube-state-metrics' kube_pod_owner and
// kube_replicaset_owner, and return one series per (namespace, workload_kind, workload): Pod → ReplicaSet →
// Deployment, and Pod → StatefulSet / DaemonSet / Job directly. Every query can be replaced; a replacement must
// return those three labels, or be attached to one workload with WorkloadQuery.
package prom
