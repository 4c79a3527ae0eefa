package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// BenchmarkWrite ingests batches of 1,000 series × 100 samples (a collection of 1,000 workload series over
// 100 steps); it reports samples/s.
func BenchmarkWrite(b *testing.B) {
	s := open(b, tempDB(b), nil)
	const series, points = 1000, 100
	mk := func(round int) *metrics.Batch {
		bt := &metrics.Batch{Source: "bench"}
		for k := 0; k < series; k++ {
			ser := metrics.Series{Key: metrics.Key{Workload: metrics.Workload{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprint("w", k)}, Resource: metrics.CPU}}
			ser.Points = make([]metrics.Point, points)
			for i := range ser.Points {
				ser.Points[i] = metrics.Point{T: t0.Add(time.Duration(round*points+i) * time.Minute), V: float64(i) * 0.01}
			}
			bt.Series = append(bt.Series, ser)
		}
		return bt
	}
	batches := []*metrics.Batch{mk(0), mk(1)}
	if _, err := s.Write(ctx, batches[0], t0); err != nil { // creates the series
		b.Fatal(err)
	}
	b.ResetTimer()
	round := 1
	for i := 0; i < b.N; i++ {
		bt := batches[1]
		// shift the batch forward so every iteration inserts new samples
		for si := range bt.Series {
			for pi := range bt.Series[si].Points {
				bt.Series[si].Points[pi].T = t0.Add(time.Duration(round*points+pi) * time.Minute)
			}
		}
		round++
		if _, err := s.Write(ctx, bt, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*series*points)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkRead30Days reads 30 days of one series at a 1-minute step (43,200 raw samples) from a store that
// holds 100 such series, and, as a store with default retention holds it, 8 days raw after 22 days hourly.
func BenchmarkRead30Days(b *testing.B) {
	s := open(b, tempDB(b), nil)
	const days = 30
	for k := 0; k < 100; k++ {
		key := metrics.Key{Workload: metrics.Workload{Kind: "Deployment", Namespace: "ns", Name: fmt.Sprint("w", k)}, Resource: metrics.CPU}
		if _, err := s.Write(ctx, batch(key, t0, time.Minute, days*1440, func(i int) float64 { return float64(i % 97) }), t0); err != nil {
			b.Fatal(err)
		}
	}
	key := metrics.Key{Workload: metrics.Workload{Kind: "Deployment", Namespace: "ns", Name: "w42"}, Resource: metrics.CPU}
	end := t0.Add(days * 24 * time.Hour)
	b.Run("raw", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			pts, err := s.Read(ctx, key, t0, end)
			if err != nil || len(pts) != days*1440 {
				b.Fatal(len(pts), err)
			}
		}
	})
	if _, err := s.Compact(ctx, end); err != nil {
		b.Fatal(err)
	}
	b.Run("compacted", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			pts, err := s.History(ctx, key, t0, end, P95)
			if err != nil || len(pts) != 22*24+8*1440 {
				b.Fatal(len(pts), err)
			}
		}
	})
}
