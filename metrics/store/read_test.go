package store

import (
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// Series reports the counts and the earliest and latest stamps across raw
// chunks and hourly aggregates alike. Worked by hand, with raw samples
// kept 24 h and compaction at t0+72h30m (raw kept from t0+48h):
//   - cpu, a sample a minute for 3 days: hours 0–47 compacted (48
//     aggregates, the first stamped t0), 24·60 = 1440 raw samples left, the
//     last at t0+72h−1m;
//   - memory, 10 samples every 5 minutes from t0+50h32m: all raw, in the
//     chunks of hours 50 and 51, from t0+50h32m to t0+50h32m+45m = t0+51h17m;
//   - pods, a sample a minute for 2 hours from t0+10h: all compacted, 2
//     aggregates stamped t0+10h and t0+11h, no raw samples.
func TestSeriesSpansRawAndHourly(t *testing.T) {
	s := open(t, tempDB(t), &Options{Retention: Retention{Raw: 24 * time.Hour, Hourly: 30 * 24 * time.Hour}})
	mem := metrics.Key{Workload: web, Resource: metrics.Memory}
	pods := metrics.Key{Workload: web, Resource: metrics.Pods}
	for _, b := range []*metrics.Batch{
		batch(webCPU, t0, time.Minute, 3*24*60, func(i int) float64 { return float64(i) }),
		batch(mem, t0.Add(50*time.Hour+32*time.Minute), 5*time.Minute, 10, func(i int) float64 { return 1 }),
		batch(pods, t0.Add(10*time.Hour), time.Minute, 120, func(i int) float64 { return 4 }),
	} {
		if _, err := s.Write(ctx, b, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Compact(ctx, t0.Add(72*time.Hour+30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	infos, err := s.Series(ctx, metrics.Workload{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]SeriesInfo{
		webCPU.String(): {Samples: 1440, Hours: 48, First: t0, Last: t0.Add(72*time.Hour - time.Minute)},
		mem.String():    {Samples: 10, Hours: 0, First: t0.Add(50*time.Hour + 32*time.Minute), Last: t0.Add(51*time.Hour + 17*time.Minute)},
		pods.String():   {Samples: 0, Hours: 2, First: t0.Add(10 * time.Hour), Last: t0.Add(11 * time.Hour)},
	}
	if len(infos) != len(want) {
		t.Fatalf("%d series, want %d: %+v", len(infos), len(want), infos)
	}
	for _, in := range infos {
		w, ok := want[in.Key.String()]
		if !ok || in.Samples != w.Samples || in.Hours != w.Hours || !in.First.Equal(w.First) || !in.Last.Equal(w.Last) {
			t.Errorf("%s: samples %d hours %d first %v last %v, want %d %d %v %v", in.Key, in.Samples, in.Hours, in.First, in.Last,
				w.Samples, w.Hours, w.First, w.Last)
		}
	}
	// A filter by workload name that matches nothing lists nothing.
	if infos, err := s.Series(ctx, metrics.Workload{Name: "api"}); err != nil || len(infos) != 0 {
		t.Errorf("filtered series %v, %v: want none", infos, err)
	}
}
