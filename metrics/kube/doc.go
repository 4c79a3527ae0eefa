// Package kube owns the metrics-server source: it reads the present usage of every workload's pods from the
// metrics.k8s.io API (k8s.io/metrics), resolves each pod to its workload through owner references, and reads
// the node inventory, through client-go.
//
// Owners resolve as Pod → ReplicaSet → Deployment (a ReplicaSet without an owner is its own workload),
// Pod → StatefulSet, Pod → DaemonSet (per-node overhead: its series are under kind DaemonSet), Pod → Job or any
// other controller kind (that kind). Pods without a controller are not workloads: they are counted in a
// warning. A workload's usage is the sum over its pods that reported usage; pods that did not report are
// coverage (the pods and pods_with_metrics series), never zero usage, and a workload none of whose pods
// reported has no usage sample at all. Per-replica requests come from the workload's pod template:
// max(sum of containers, largest init container) plus the pod overhead.
//
// Each collection also returns a snapshot of every workload's pods (Batch.States, a metrics.WorkloadState):
// pods not Succeeded or Failed, of those the Ready (Ready condition True) and the Pending (phase Pending), the
// per-replica requests, and the scheduled pods per node name. headroom collect stores it with the node
// inventory as a metrics.Inventory.
//
// It also reads each collected namespace's ResourceQuotas (Batch.Quotas): spec.hard and status.used of
// requests.cpu, requests.memory, limits.cpu, limits.memory and pods (the cpu and memory shorthand count as
// requests), with their scopes. A collector not allowed to list them goes on without (Batch.QuotasRead false,
// and a warning); Rules lists the RBAC rules a collection needs.
//
// Lists are paginated (Limit/Continue) and made once per namespace and kind, so the number of API requests
// grows with namespaces and pages, not with pods.
package kube
