package planinput

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/config"
	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

// ErrInvalid is wrapped by errors about the plan or its input files (a trace
// that cannot be read): the caller's usage error, exit code 2.
var ErrInvalid = errors.New("planinput: invalid input")

// RightsizeHistory is how much usage the rightsizing advice reads (KRR's default).
const RightsizeHistory = 14 * 24 * time.Hour

// Inputs are what one workload is planned from (runner.Inputs plus the
// rightsizing samples). Input.Demand is left for the plan step to forecast
// from CPU and Memory.
type Inputs struct {
	// CPU and Memory are the demand history on a regular grid (cores,
	// bytes); nil when there is none.
	CPU, Memory *forecast.Series
	Input       policy.Input
	// Warnings about the inputs (a trace's gaps, a coarse grid, unreadable
	// decision-log rows), shown with the decision.
	Warnings []string
	// PerReplicaCPU and PerReplicaMemory are per-replica usage samples of the
	// last RightsizeHistory, for policy.Rightsize.
	PerReplicaCPU, PerReplicaMemory []float64
	// Skipped says why the workload cannot be planned ("": it can).
	Skipped string
}

// Current is a target's state as the caller read it from the cluster.
type Current struct {
	// Replicas is spec.replicas.
	Replicas int32
	// HPAMin is the HPA's minReplicas (hpa-floor mode); 0 means the plan's minimum.
	HPAMin int32
}

// Inventory is an inventory snapshot's workload states, by workload, and
// its namespaces' ResourceQuotas (QuotasRead false: not read with it).
type Inventory struct {
	At         time.Time
	States     map[metrics.Workload]metrics.WorkloadState
	Quotas     []metrics.ResourceQuota
	QuotasRead bool
}

// LatestInventory reads the newest snapshot taken at or before now; nil when
// the store has none.
func LatestInventory(ctx context.Context, st *store.Store, now time.Time) (*Inventory, error) {
	inv, ok, err := st.LatestInventory(ctx, now)
	if err != nil || !ok {
		return nil, err
	}
	out := &Inventory{At: inv.At, States: make(map[metrics.Workload]metrics.WorkloadState, len(inv.Workloads)), Quotas: inv.Quotas, QuotasRead: inv.QuotasRead}
	for _, s := range inv.Workloads {
		out.States[s.Workload] = s
	}
	return out, nil
}

// FromLog reads a workload's decision log as of now into in.Input.History
// and, when the plan says leadTime: auto and start-ups were measured, sets
// w.LeadTime to their median (w.LeadTimeSource says which it used); with a
// configured lead time, the measured median is reported in w.LeadTimeSource
// next to it and the configured value stays in force.
func FromLog(ctx context.Context, st *store.Store, cw *config.Workload, w *policy.Workload, in *Inputs) error {
	now := in.Input.Now
	rows, err := st.Decisions(ctx, WorkloadOf(w.Target), now.Add(-max(LeadTimeWindow, HistoryWindow)), now.Add(time.Millisecond))
	if err != nil {
		return err
	}
	l := FromRows(rows, now)
	in.Input.History = l.History
	in.Warnings = append(in.Warnings, l.Warnings...)
	m, measured := MedianLeadTime(l.LeadTimes)
	switch {
	case !measured:
	case cw.LeadTime != nil && cw.LeadTime.Auto:
		w.LeadTime = m
		w.LeadTimeSource = fmt.Sprintf("auto: median of %d start-ups measured in the last %s", len(l.LeadTimes), durationText(LeadTimeWindow))
	default:
		// A configured lead time stays in force; the measured one is reported next to it.
		w.LeadTimeSource = fmt.Sprintf("%s; measured median %v of %d start-ups in the last %s", w.LeadTimeSource, m, len(l.LeadTimes), durationText(LeadTimeWindow))
	}
	return nil
}

// durationText writes whole days as 30d.
func durationText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
