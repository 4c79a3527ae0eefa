// Package tracefile owns the trace-file source: it serves a CSV trace (see metrics/trace) as usage series,
// so the collection pipeline, the store and everything downstream run without a cluster.
package tracefile
