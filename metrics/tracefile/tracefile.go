package tracefile

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/trace"
)

// Column maps one trace column to a resource of the workload: value × Scale (0 means 1).
type Column struct {
	Name     string
	Resource metrics.Resource
	Scale    float64
}

// Source serves one trace file.
type Source struct {
	Path string
	// Workload the series belong to; the zero value means every column keeps its own identity (see Batch).
	Workload metrics.Workload
	// Columns to read; empty means every column, as resources named by the column (scale 1).
	Columns []Column
	// Options for the trace reader; nil means its defaults (short gaps filled by interpolation).
	Options *trace.Options
}

// Name returns "trace".
func (s *Source) Name() string { return "trace" }

// Collect reads the file and returns the samples with w.Start <= t <= w.End; a zero Start or End is
// unbounded. A file that cannot be read wraps metrics.ErrUnavailable; a bad file is the reader's error,
// naming line and column.
func (s *Source) Collect(_ context.Context, w metrics.Window) (*metrics.Batch, error) {
	tr, err := trace.ReadFile(s.Path, s.Options)
	if err != nil {
		if strings.Contains(err.Error(), "no such file") || strings.Contains(err.Error(), "permission denied") {
			return nil, fmt.Errorf("%w: %w", metrics.ErrUnavailable, err)
		}
		return nil, err
	}
	var b *metrics.Batch
	if s.Workload == (metrics.Workload{}) && len(s.Columns) == 0 {
		b = Batch(tr, s.Name())
	} else {
		b = &metrics.Batch{Source: s.Name(), Window: metrics.Window{Start: tr.Start, End: tr.Time(tr.Len() - 1), Step: tr.Step}}
		wl := s.Workload
		if wl == (metrics.Workload{}) {
			wl = metrics.Workload{Kind: metrics.KindTrace, Name: base(tr.Name)}
		}
		cols := s.Columns
		if len(cols) == 0 {
			for _, c := range tr.Columns {
				cols = append(cols, Column{Name: c.Name, Resource: metrics.Resource(c.Name)})
			}
		}
		for _, c := range cols {
			col, err := tr.Column(c.Name)
			if err != nil {
				return nil, err
			}
			scale := c.Scale
			if scale == 0 {
				scale = 1
			}
			ser := metrics.Series{Key: metrics.Key{Workload: wl, Resource: c.Resource}}
			for i, v := range col.Values {
				if !math.IsNaN(v) {
					ser.Points = append(ser.Points, metrics.Point{T: tr.Time(i), V: v * scale})
				}
			}
			b.Series = append(b.Series, ser)
		}
	}
	if !w.Start.IsZero() || !w.End.IsZero() {
		for i := range b.Series {
			pts := b.Series[i].Points[:0]
			for _, p := range b.Series[i].Points {
				if (w.Start.IsZero() || !p.T.Before(w.Start)) && (w.End.IsZero() || !p.T.After(w.End)) {
					pts = append(pts, p)
				}
			}
			b.Series[i].Points = pts
		}
		b.Window = w
	}
	return b, nil
}

func base(name string) string { return strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)) }

// Batch turns a whole trace into a batch: columns named like metrics.Key.String (Kind/namespace/name/resource,
// as `headroom store export` writes them) keep their key, others become Trace/<base name of tr.Name>/<column>.
// Missing (NaN) values are left out; a report with gaps becomes a warning.
func Batch(tr *trace.Trace, source string) *metrics.Batch {
	b := &metrics.Batch{Source: source, Window: metrics.Window{Start: tr.Start, End: tr.Time(tr.Len() - 1), Step: tr.Step}}
	for _, c := range tr.Columns {
		k, err := metrics.ParseKey(c.Name)
		if err != nil || strings.Count(c.Name, "/") < 2 {
			k = metrics.Key{Workload: metrics.Workload{Kind: metrics.KindTrace, Name: base(tr.Name)}, Resource: metrics.Resource(c.Name)}
		}
		ser := metrics.Series{Key: k}
		for i, v := range c.Values {
			if !math.IsNaN(v) {
				ser.Points = append(ser.Points, metrics.Point{T: tr.Time(i), V: v})
			}
		}
		b.Series = append(b.Series, ser)
	}
	if len(tr.Report.Gaps) > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s: %s", tr.Name, tr.Report))
	}
	return b
}
