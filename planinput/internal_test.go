package planinput

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/policy"
)

var (
	now = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	web = metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
)

func TestFromRows(t *testing.T) {
	w := web
	rows := []store.Decision{
		{T: now.Add(-2 * time.Hour), Workload: w, Action: ActionScale, Detail: json.RawMessage(`{"from":1,"to":2}`)}, // too old
		{T: now.Add(-time.Minute), Workload: w, Action: ActionScale, Detail: json.RawMessage(`{"from":2,"to":5}`)},
		{T: now.Add(-time.Minute), Workload: w, Action: ActionScale, Detail: json.RawMessage(`{"to":5}`)}, // no from: skipped
		{T: now.Add(-30 * time.Second), Workload: w, Action: ActionDecision, Detail: json.RawMessage(`{"outcome":"scaled","decision":{"time":"2026-11-02T11:59:30Z","recommendation":7,"desired":5,"rule":"forecast"}}`)},
		{T: now.Add(-25 * time.Second), Workload: w, Action: ActionDecision, Detail: json.RawMessage(`{"decision":{"time":"2026-11-02T11:59:35Z","recommendation":9,"rule":"hold"}}`)}, // holds recommend nothing
		{T: now.Add(-25 * time.Second), Workload: w, Action: ActionDecision, Detail: json.RawMessage(`{"outcome":"failed"}`)},                                                          // no decision: skipped
		{T: now.Add(-30 * time.Second), Workload: w, Action: "hold", Detail: json.RawMessage(`{}`)},                                                                                    // other actions: ignored
		{T: now.Add(-20 * time.Second), Workload: w, Action: ActionFloor, Detail: json.RawMessage(`{"kind":"hpa-min","from":5,"to":3}`)},
	}
	l := FromRows(rows, now)
	if len(l.History.Events) != 2 || l.History.Events[0] != (policy.ScaleEvent{Time: now.Add(-time.Minute), From: 2, To: 5}) ||
		l.History.Events[1] != (policy.ScaleEvent{Time: now.Add(-20 * time.Second), From: 5, To: 3}) {
		t.Errorf("events %+v", l.History.Events)
	}
	if len(l.History.Recommendations) != 1 || l.History.Recommendations[0].Replicas != 7 {
		t.Errorf("recommendations %+v", l.History.Recommendations)
	}
	if len(l.Warnings) != 2 || !strings.Contains(l.Warnings[0], "scale row at") || !strings.Contains(l.Warnings[1], "decision row at") {
		t.Errorf("warnings %q", l.Warnings)
	}
	// Only the last LeadTimeSamples count.
	var many []store.Decision
	for i := range 25 {
		many = append(many, store.Decision{T: now.Add(-time.Duration(25-i) * time.Minute), Workload: w, Action: ActionLeadTime,
			Detail: json.RawMessage(`{"seconds":` + []string{"1000", "10"}[min(i/5, 1)] + `}`)})
	}
	l = FromRows(many, now)
	if m, ok := MedianLeadTime(l.LeadTimes); !ok || len(l.LeadTimes) != 20 || m != 10*time.Second {
		t.Errorf("%d lead times, median %v (the five 1000 s ones are older than the last 20)", len(l.LeadTimes), m)
	}
	if _, ok := MedianLeadTime(nil); ok {
		t.Error("median of nothing")
	}
}

func TestStoreSeriesGrids(t *testing.T) {
	// Raw samples every 5 minutes spanning 3 days: the raw grid.
	var raw []metrics.Point
	for i := range 3 * 24 * 12 {
		raw = append(raw, metrics.Point{T: now.Add(time.Duration(i) * 5 * time.Minute), V: float64(i)})
	}
	s, note := storeSeries("x", []store.Aggregate{{T: now.Add(-time.Hour), Mean: 1}}, raw)
	if s.Step != 5*time.Minute || len(s.Values) != len(raw) || note != "" {
		t.Errorf("raw grid: step %v, %d values, note %q", s.Step, len(s.Values), note)
	}
	// A day of raw samples after compacted hours: hourly means. Hours 10:00
	// and 11:00 compacted (means 4 and 6), then raw at 12:00, 12:30 (1, 3)
	// and 13:00: the grid is 10:00, 11:00, 12:00 (mean 2), 13:00 (5).
	hours := []store.Aggregate{{T: now.Add(-2 * time.Hour), Mean: 4, Max: 100}, {T: now.Add(-time.Hour), Mean: 6}}
	raw = []metrics.Point{{T: now, V: 1}, {T: now.Add(30 * time.Minute), V: 3}, {T: now.Add(time.Hour), V: 5}}
	s, note = storeSeries("x", hours, raw)
	want := []float64{4, 6, 2, 5}
	if s.Step != time.Hour || !s.Start.Equal(now.Add(-2*time.Hour)) || len(s.Values) != 4 || !strings.Contains(note, "hourly means") {
		t.Fatalf("hourly grid: %+v %q", s, note)
	}
	for i := range want {
		if s.Values[i] != want[i] {
			t.Errorf("hour %d: %v, want %v", i, s.Values[i], want[i])
		}
	}
	if s, _ := storeSeries("x", nil, raw[:1]); s != nil {
		t.Error("one sample is no series")
	}
}
