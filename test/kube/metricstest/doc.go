// Package metricstest owns the integration tests of headroom's metrics-server source (metrics/kube) against
// a real kube-apiserver with the aggregated metrics.k8s.io API served by the harness.
package metricstest
