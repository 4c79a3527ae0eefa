package store

import (
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/trace"
	"github.com/headroom-dev/headroom/metrics/tracefile"
)

// ExportStats says what Export wrote.
type ExportStats struct {
	Series, Rows, Samples int
}

// Export writes the history of the series matching filter over [from, to) as one trace file (see
// metrics/trace): a timestamp column (RFC 3339, UTC) and one column per series, named by metrics.Key.String,
// with a row for every timestamp of any series and empty cells where a series has no sample. Older hours come
// from the hourly aggregates (their mean, stamped at the start of the hour; see History), so an export of a
// compacted store is lossy in max and p95.
func (s *Store) Export(ctx context.Context, w io.Writer, filter metrics.Workload, from, to time.Time) (ExportStats, error) {
	var st ExportStats
	infos, err := s.Series(ctx, filter)
	if err != nil {
		return st, err
	}
	cols := make([][]metrics.Point, 0, len(infos))
	header := []string{"timestamp"}
	var stamps []int64
	for _, in := range infos {
		pts, err := s.History(ctx, in.Key, from, to, Mean)
		if err != nil {
			return st, err
		}
		if len(pts) == 0 {
			continue
		}
		cols = append(cols, pts)
		header = append(header, in.Key.String())
		for _, p := range pts {
			stamps = append(stamps, ms(p.T))
		}
		st.Samples += len(pts)
	}
	slices.Sort(stamps)
	stamps = slices.Compact(stamps)
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return st, err
	}
	next := make([]int, len(cols))
	row := make([]string, len(header))
	for _, ts := range stamps {
		row[0] = fromMS(ts).Format(time.RFC3339Nano)
		for j, c := range cols {
			row[j+1] = ""
			if next[j] < len(c) && ms(c[next[j]].T) == ts {
				row[j+1] = strconv.FormatFloat(c[next[j]].V, 'g', -1, 64)
				next[j]++
			}
		}
		if err := cw.Write(row); err != nil {
			return st, err
		}
	}
	cw.Flush()
	st.Series, st.Rows = len(cols), len(stamps)
	return st, cw.Error()
}

// Import reads a trace file and writes its columns as series in one Write, logged as source "import".
// A column named like an exported series (Kind/namespace/name/resource{labels}) goes back to that series;
// any other column becomes the series Trace/<file base name>/<column>, so a recorded trace can be imported
// too. The trace reader puts the rows on a regular grid (the median interval) without filling gaps: samples
// that were irregularly spaced are snapped to the grid, and cells left empty are not stored.
func (s *Store) Import(ctx context.Context, r io.Reader, name string, at time.Time) (WriteStats, error) {
	tr, err := trace.Read(r, name, &trace.Options{MaxFill: -1})
	if err != nil {
		return WriteStats{}, err
	}
	b := tracefile.Batch(tr, "import")
	return s.Write(ctx, b, at)
}
