package actuator

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
)

// BenchmarkConvergeLog measures what a convergence check reads from a real
// store file holding a day of 5-minute runs over 200 workloads: per run, a
// runner-sized decision row (1 kB of detail) and the actuator's hold row,
// and one change per workload at the start. Lookback 2h (the default, with
// not-converged rows carrying open changes) against 24h.
func BenchmarkConvergeLog(b *testing.B) {
	const workloads, runs = 200, 288
	st, err := store.Open(filepath.Join(b.TempDir(), "h.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	big, _ := json.Marshal(map[string]string{"decision": strings.Repeat("x", 1000)})
	hold, _ := json.Marshal(ActionDetail{Kind: "replicas", Mode: "scale", From: 3, To: 3})
	change, _ := json.Marshal(ActionDetail{Kind: "replicas", Mode: "scale", From: 2, To: 3})
	for r := 0; r < runs; r++ {
		at := t0.Add(time.Duration(r) * 5 * time.Minute)
		var rows []store.Decision
		for w := 0; w < workloads; w++ {
			wl := metrics.Workload{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprintf("w%03d", w)}
			act, det := LogHold, hold
			if r == 0 {
				act, det = LogScale, change
			}
			rows = append(rows, store.Decision{T: at, Workload: wl, Action: "decision", Detail: big}, store.Decision{T: at, Workload: wl, Action: act, Detail: det})
		}
		if err := st.AppendDecisions(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	now := t0.Add(runs * 5 * time.Minute)
	for _, lb := range []time.Duration{DefaultLookback, 24 * time.Hour} {
		b.Run("lookback="+lb.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rows, err := st.Decisions(ctx, metrics.Workload{}, now.Add(-lb), now)
				if err != nil {
					b.Fatal(err)
				}
				_ = pendingChanges(rows)
				b.ReportMetric(float64(len(rows)), "rows")
			}
		})
	}
}
