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

// History joins the chosen statistic of the compacted hours to the raw
// samples after them. Worked by hand: a sample a minute for 2 hours,
// valued 100·hour + minute; with raw samples kept 1 h, compaction at
// t0+2h rolls hour 0 (values 0..59) into count 60, mean 29.5, max 59 and
// p95 the ceil(0.95·60) = 57th smallest, 56; hour 1 stays raw (100..159).
func TestHistoryJoinsHourlyAndRaw(t *testing.T) {
	s := open(t, tempDB(t), &Options{Retention: Retention{Raw: time.Hour, Hourly: 72 * time.Hour}})
	if _, err := s.Write(ctx, batch(webCPU, t0, time.Minute, 120, func(i int) float64 { return float64(100*(i/60) + i%60) }), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	h1 := t0.Add(time.Hour)
	for _, c := range []struct {
		st    Stat
		first float64
	}{{Mean, 29.5}, {Max, 59}, {P95, 56}} {
		pts, err := s.History(ctx, webCPU, t0, t0.Add(2*time.Hour), c.st)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 61 || !pts[0].T.Equal(t0) || pts[0].V != c.first {
			t.Fatalf("stat %v: %d points, first %+v; want 61, the first {%v %v}", c.st, len(pts), pts[0], t0, c.first)
		}
		for m, p := range pts[1:] {
			if !p.T.Equal(h1.Add(time.Duration(m)*time.Minute)) || p.V != float64(100+m) {
				t.Fatalf("stat %v: raw point %d is %+v, want {%v %d}", c.st, m, p, h1.Add(time.Duration(m)*time.Minute), 100+m)
			}
		}
	}
	// From the middle of the raw hour: raw samples only (minutes 30..59).
	pts, err := s.History(ctx, webCPU, h1.Add(30*time.Minute), time.Time{}, Mean)
	if err != nil || len(pts) != 30 || pts[0].V != 130 || pts[29].V != 159 {
		t.Fatalf("history from minute 90: %d points (%v), want 30 from 130 to 159", len(pts), err)
	}
	// Up to the raw hour: the aggregate only.
	pts, err = s.History(ctx, webCPU, time.Time{}, h1, Mean)
	if err != nil || len(pts) != 1 || !pts[0].T.Equal(t0) || pts[0].V != 29.5 {
		t.Fatalf("history to hour 1: %+v (%v), want one point {%v 29.5}", pts, err, t0)
	}
}
