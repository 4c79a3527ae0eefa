package report

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/planinput"
	"github.com/headroom-dev/headroom/policy"
)

// gridT0 is the first sample of the grid tests' stores.
var gridT0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// gridStore writes CPU samples of shop/web every 20 minutes from 08:00 to end
// (inclusive), each worth 10·hour + minute/20 (08:00 → 80, 08:20 → 81,
// 08:40 → 82, 09:00 → 90, …), into a new store under dir; with compactAt
// set it then compacts with one hour of raw retention, which rolls every
// clock hour before compactAt−1h (truncated to the hour) into an hourly
// aggregate stamped at the hour's start.
func gridStore(t *testing.T, dir string, end, compactAt time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "grid.db"), &store.Options{Retention: store.Retention{Raw: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := metrics.Series{Key: metrics.Key{Workload: gridWeb, Resource: metrics.CPU}}
	for ts := gridT0; !ts.After(end); ts = ts.Add(20 * time.Minute) {
		s.Points = append(s.Points, metrics.Point{T: ts, V: float64(10*ts.Hour() + ts.Minute()/20)})
	}
	ctx := context.Background()
	if _, err := st.Write(ctx, &metrics.Batch{Source: "fixture", Series: []metrics.Series{s}}, end); err != nil {
		t.Fatal(err)
	}
	if !compactAt.IsZero() {
		if _, err := st.Compact(ctx, compactAt); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

var gridWeb = wl("Deployment", "shop", "web")

func gridAt(h, m int) time.Time {
	return gridT0.Add(time.Duration(h-8)*time.Hour + time.Duration(m)*time.Minute)
}

// An hour's aggregate lands on the grid point of that hour, where its raw
// samples land when they are not compacted, in the report (Load) and in the
// planner's hourly grid (planinput.FromStore) alike.
func TestGridCompactedHours(t *testing.T) {
	ctx := context.Background()
	// Hand-worked hourly means: hour h holds 10h, 10h+1, 10h+2 → 10h+1;
	// the 15:00 hour holds the single sample 150.
	want := []float64{81, 91, 101, 111, 121, 131, 141, 150} // 08:00 … 15:00

	compacted := gridStore(t, t.TempDir(), gridAt(15, 0), gridAt(13, 30))
	// Compaction at 13:30 with 1 h raw retention: cut at 12:00, hours 08–11 rolled up.
	hours, err := compacted.ReadHourly(ctx, metrics.Key{Workload: gridWeb, Resource: metrics.CPU}, time.Time{}, gridAt(16, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 4 || !hours[2].T.Equal(gridAt(10, 0)) || hours[2].Mean != 101 || hours[2].Count != 3 {
		t.Fatalf("compacted hours %+v, want 08:00–11:00 with [10:00, 11:00) = mean 101 of 3", hours)
	}
	raw := gridStore(t, t.TempDir(), gridAt(15, 0), time.Time{})

	for name, st := range map[string]*store.Store{"compacted": compacted, "raw": raw} {
		d, err := Load(ctx, st, nil, Options{History: 8 * time.Hour, Step: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Newest.Equal(gridAt(15, 0)) || !d.Start.Equal(gridAt(8, 0)) || len(d.Workloads) != 1 {
			t.Fatalf("%s: newest %v, start %v, %d workloads; want 15:00, 08:00, 1", name, d.Newest, d.Start, len(d.Workloads))
		}
		checkGrid(t, "report "+name, d.Start, d.Workloads[0].CPU, want)
	}

	// The planner reads the compacted store on its hourly grid (raw samples
	// span 3 h, less than MinRawSpan): the same points, the same values.
	w := &policy.Workload{Target: policy.Target{Kind: "Deployment", Namespace: "shop", Name: "web"}, Request: policy.Resources{CPU: 1}}
	in, err := planinput.FromStore(ctx, compacted, w, gridAt(15, 1), &planinput.Current{Replicas: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.CPU == nil || in.CPU.Step != time.Hour || !in.CPU.Start.Equal(gridAt(8, 0)) {
		t.Fatalf("planner series %+v, want hourly from 08:00", in.CPU)
	}
	checkGrid(t, "planner", in.CPU.Start, in.CPU.Values, want)
}

// With the newest sample inside an hour the report's last point is that
// (partial) hour: 14:00 holds 14:00 and 14:20 → 140.5.
func TestGridNewestInsideHour(t *testing.T) {
	st := gridStore(t, t.TempDir(), gridAt(14, 20), gridAt(13, 30))
	d, err := Load(context.Background(), st, nil, Options{History: 3 * time.Hour, Step: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Newest.Equal(gridAt(14, 20)) || !d.Start.Equal(gridAt(12, 0)) {
		t.Fatalf("newest %v, start %v; want 14:20, 12:00", d.Newest, d.Start)
	}
	checkGrid(t, "report", d.Start, d.Workloads[0].CPU, []float64{121, 131, 140.5})
}

func checkGrid(t *testing.T, name string, start time.Time, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d points %v, want %v", name, len(got), got, want)
	}
	for k := range want {
		if math.Abs(got[k]-want[k]) > 1e-9 {
			t.Errorf("%s: point %d (%s) = %v, want %v", name, k, start.Add(time.Duration(k)*time.Hour).Format("15:04"), got[k], want[k])
		}
	}
	if t.Failed() {
		t.Logf("%s grid: %s", name, fmt.Sprint(got))
	}
}
