package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// Read returns the raw samples of a series with from <= t < to, in time order. A zero from or to means
// unbounded on that side.
func (s *Store) Read(ctx context.Context, k metrics.Key, from, to time.Time) ([]metrics.Point, error) {
	id, err := s.lookup(ctx, k)
	if err != nil {
		return nil, err
	}
	return s.read(ctx, id, k, from, to)
}

// read is Read of the series with id (k names it in errors).
func (s *Store) read(ctx context.Context, id int64, k metrics.Key, from, to time.Time) ([]metrics.Point, error) {
	lo, hi := bounds(from, to)
	rows, err := s.db.QueryContext(ctx, `SELECT hour, data FROM chunks WHERE series_id=? AND hour>=? AND hour<? ORDER BY hour`,
		id, hourOf(max(lo, math.MinInt64+hourMS)), hi)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var ss []sample
	var out []metrics.Point
	for rows.Next() {
		var h int64
		var blob sql.RawBytes // decoded before the next row: no copy
		if err := rows.Scan(&h, &blob); err != nil {
			return nil, s.classify(err)
		}
		if ss, err = decodeChunk(ss[:0], h, blob); err != nil {
			return nil, fmt.Errorf("store %s: %w: series %s hour %v: %v", s.path, ErrCorrupt, k, fromMS(h), err)
		}
		if out == nil {
			out = make([]metrics.Point, 0, len(ss)*int(max(1, min((hi-h)/hourMS, 24*40))))
		}
		for _, x := range ss {
			if x.ts >= lo && x.ts < hi {
				out = append(out, metrics.Point{T: fromMS(x.ts), V: x.v})
			}
		}
	}
	return out, s.classify(rows.Err())
}

func bounds(from, to time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = ms(from)
	}
	if !to.IsZero() {
		hi = ms(to)
	}
	return lo, hi
}

// Aggregate is one hour of a series after downsampling.
type Aggregate struct {
	T     time.Time // start of the UTC hour
	Count int
	Mean  float64
	Max   float64
	P95   float64 // nearest-rank 95th percentile of the hour's raw samples
}

// ReadHourly returns the hourly aggregates of a series with from <= T < to, in time order.
func (s *Store) ReadHourly(ctx context.Context, k metrics.Key, from, to time.Time) ([]Aggregate, error) {
	id, err := s.lookup(ctx, k)
	if err != nil {
		return nil, err
	}
	lo, hi := bounds(from, to)
	rows, err := s.db.QueryContext(ctx, `SELECT ts, count, mean, max, p95 FROM hourly WHERE series_id=? AND ts>=? AND ts<? ORDER BY ts`, id, lo, hi)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var out []Aggregate
	for rows.Next() {
		var a Aggregate
		var ts int64
		if err := rows.Scan(&ts, &a.Count, &a.Mean, &a.Max, &a.P95); err != nil {
			return nil, s.classify(err)
		}
		a.T = fromMS(ts)
		out = append(out, a)
	}
	return out, s.classify(rows.Err())
}

// Stat picks one statistic of an hourly aggregate.
type Stat int

// Statistics of an hour.
const (
	Mean Stat = iota
	Max
	P95
)

// column is the hourly table's column of the statistic.
func (st Stat) column() string {
	switch st {
	case Max:
		return "max"
	case P95:
		return "p95"
	}
	return "mean"
}

// History returns a series over [from, to) at the best resolution the store has: hourly aggregates (the
// chosen statistic, stamped at the start of the hour) for the hours before the first raw sample in the range,
// then the raw samples.
func (s *Store) History(ctx context.Context, k metrics.Key, from, to time.Time, st Stat) ([]metrics.Point, error) {
	id, err := s.lookup(ctx, k)
	if err != nil {
		return nil, err
	}
	raw, err := s.read(ctx, id, k, from, to)
	if err != nil {
		return nil, err
	}
	hto := to
	if len(raw) > 0 {
		hto = raw[0].T
	}
	// Only the chosen statistic: a third of the columns ReadHourly converts.
	lo, hi := bounds(from, hto)
	rows, err := s.db.QueryContext(ctx, `SELECT ts, `+st.column()+` FROM hourly WHERE series_id=? AND ts>=? AND ts<? ORDER BY ts`, id, lo, hi)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var out []metrics.Point
	for rows.Next() {
		var ts int64
		var v float64
		if err := rows.Scan(&ts, &v); err != nil {
			return nil, s.classify(err)
		}
		if out == nil {
			hint := int64(24 * 400) // hours in the range, at most 400 days' worth
			if d := hi - ts; d > 0 {
				hint = min(hint, d/hourMS+1)
			}
			out = make([]metrics.Point, 0, len(raw)+int(hint))
		}
		out = append(out, metrics.Point{T: fromMS(ts), V: v})
	}
	if err := rows.Err(); err != nil {
		return nil, s.classify(err)
	}
	if out == nil {
		return raw, nil
	}
	return append(out, raw...), nil
}

// SeriesInfo describes a stored series.
type SeriesInfo struct {
	Key         metrics.Key
	Samples     int       // raw samples
	Hours       int       // hourly aggregates
	First, Last time.Time // earliest and latest stamp, raw or hourly; zero when the series is empty
}

// Series lists the stored series in key order; a non-empty workload kind, namespace or name filters.
func (s *Store) Series(ctx context.Context, filter metrics.Workload) ([]SeriesInfo, error) {
	// One pass over the series: the raw sample counts are a range scan of each series' chunks, the other
	// figures index seeks (chunks partition a series by hour, so its first stamp is the first stamp of its
	// lowest hour and its last the last of its highest); the earliest and latest of raw and hourly are
	// taken below.
	rows, err := s.db.QueryContext(ctx, `
		SELECT s.kind, s.namespace, s.name, s.resource, s.labels,
			(SELECT coalesce(sum(n), 0) FROM chunks WHERE series_id = s.id),
			(SELECT count(*) FROM hourly WHERE series_id = s.id),
			(SELECT first FROM chunks WHERE series_id = s.id ORDER BY hour LIMIT 1),
			(SELECT last FROM chunks WHERE series_id = s.id ORDER BY hour DESC LIMIT 1),
			(SELECT min(ts) FROM hourly WHERE series_id = s.id),
			(SELECT max(ts) FROM hourly WHERE series_id = s.id)
		FROM series s
		WHERE (?1 = '' OR s.kind = ?1) AND (?2 = '' OR s.namespace = ?2) AND (?3 = '' OR s.name = ?3)
		ORDER BY s.kind, s.namespace, s.name, s.resource, s.labels`, filter.Kind, filter.Namespace, filter.Name)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var out []SeriesInfo
	for rows.Next() {
		var in SeriesInfo
		var res, labels string
		var rawFirst, rawLast, hourFirst, hourLast sql.NullInt64
		w := &in.Key.Workload
		if err := rows.Scan(&w.Kind, &w.Namespace, &w.Name, &res, &labels, &in.Samples, &in.Hours, &rawFirst, &rawLast, &hourFirst, &hourLast); err != nil {
			return nil, s.classify(err)
		}
		in.Key.Resource = metrics.Resource(res)
		if labels != "" {
			if in.Key.Labels, err = metrics.ParseLabels(labels); err != nil {
				return nil, fmt.Errorf("store %s: %w: series labels %q: %v", s.path, ErrCorrupt, labels, err)
			}
		}
		first, last := rawFirst, rawLast
		if hourFirst.Valid && (!first.Valid || hourFirst.Int64 < first.Int64) {
			first = hourFirst
		}
		if hourLast.Valid && (!last.Valid || hourLast.Int64 > last.Int64) {
			last = hourLast
		}
		if first.Valid {
			in.First, in.Last = fromMS(first.Int64), fromMS(last.Int64)
		}
		out = append(out, in)
	}
	return out, s.classify(rows.Err())
}

// Collection is one entry of the collection log.
type Collection struct {
	Source          string
	At              time.Time
	Window          metrics.Window // Step is not recorded
	Series, Samples int
	Warnings        string
}

// LastCollection returns the collection of a source with the latest window end, and false when the source
// never wrote: the first run of a range source backfills.
func (s *Store) LastCollection(ctx context.Context, source string) (Collection, bool, error) {
	c := Collection{Source: source}
	var at, start, end int64
	err := s.db.QueryRowContext(ctx, `SELECT at, start_ts, end_ts, series, samples, warnings FROM collections
		WHERE source=? ORDER BY end_ts DESC, id DESC LIMIT 1`, source).Scan(&at, &start, &end, &c.Series, &c.Samples, &c.Warnings)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return c, false, nil
		}
		return c, false, s.classify(err)
	}
	c.At, c.Window.Start, c.Window.End = fromMS(at), fromMS(start), fromMS(end)
	return c, true, nil
}

// CompactStats says what Compact did.
type CompactStats struct {
	Hours       int // hourly aggregates written for hours that had none
	RawDeleted  int // raw samples rolled up and deleted
	HourDeleted int // hourly aggregates past retention deleted
	// Merged counts late samples merged into an hour that was already aggregated (in minutes it had not
	// counted); Skipped counts samples not merged: their minute was already counted (a re-collection), or
	// the hour was aggregated before minutes were recorded (schema 2) or imported.
	Merged, Skipped int
}

// Compact rolls raw samples older than the raw retention (counted back from now, rounded down to the hour)
// into hourly aggregates, deletes them, and deletes aggregates older than the hourly retention. It is one
// transaction.
//
// Raw samples of an hour that already has an aggregate (they arrived after it was compacted) are merged into
// it at minute resolution: samples in minutes the aggregate has not counted are added — count, mean and max
// exactly, the p95 as the larger of the two p95s, an upper bound of the merged hour's p95 (in each part at
// most 5% of the samples lie above its p95, so at most 5% of the union lie above the larger) — and samples
// in minutes it has counted are taken for a re-collection of the same data and skipped, so re-collecting a
// window never counts it twice. Series sampled more often than once a minute merge late samples only into
// minutes the hour had none in.
func (s *Store) Compact(ctx context.Context, now time.Time) (CompactStats, error) {
	var st CompactStats
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := now.Add(-s.retention.Raw).UTC().Truncate(time.Hour)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return st, s.classify(err)
	}
	defer tx.Rollback()
	// One series at a time, so that memory stays at one series' hours however much is rolled up.
	var ids []int64
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT series_id FROM chunks WHERE hour < ?`, ms(cut))
	if err != nil {
		return st, s.classify(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return st, s.classify(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, s.classify(err)
	}
	sel, err := tx.PrepareContext(ctx, `SELECT hour, data FROM chunks WHERE series_id = ? AND hour < ? ORDER BY hour`)
	if err != nil {
		return st, s.classify(err)
	}
	defer sel.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO hourly (series_id, ts, count, mean, max, p95, minutes) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (series_id, ts) DO UPDATE SET count=excluded.count, mean=excluded.mean, max=excluded.max,
			p95=excluded.p95, minutes=excluded.minutes`)
	if err != nil {
		return st, s.classify(err)
	}
	defer ins.Close()
	old, err := tx.PrepareContext(ctx, `SELECT ts, count, mean, max, p95, minutes FROM hourly WHERE series_id = ? AND ts >= ? AND ts < ?`)
	if err != nil {
		return st, s.classify(err)
	}
	defer old.Close()
	type hourAgg struct {
		a       Aggregate
		minutes int64
	}
	var vals []float64
	var aggs []hourAgg
	for _, id := range ids {
		rows, err := sel.QueryContext(ctx, id, ms(cut))
		if err != nil {
			return st, s.classify(err)
		}
		aggs = aggs[:0]
		var parts [][]sample
		for rows.Next() {
			var h int64
			var blob []byte
			if err := rows.Scan(&h, &blob); err != nil {
				rows.Close()
				return st, s.classify(err)
			}
			var chunk []sample
			if chunk, err = decodeChunk(nil, h, blob); err != nil || len(chunk) == 0 {
				rows.Close()
				return st, fmt.Errorf("store %s: %w: series %d hour %v: %v", s.path, ErrCorrupt, id, fromMS(h), err)
			}
			parts = append(parts, chunk)
			st.RawDeleted += len(chunk)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, s.classify(err)
		}
		if len(parts) == 0 {
			continue
		}
		// The hours already aggregated that these chunks fall in.
		existing := map[int64]hourAgg{}
		orows, err := old.QueryContext(ctx, id, hourOf(parts[0][0].ts), ms(cut))
		if err != nil {
			return st, s.classify(err)
		}
		for orows.Next() {
			var ts int64
			var e hourAgg
			if err := orows.Scan(&ts, &e.a.Count, &e.a.Mean, &e.a.Max, &e.a.P95, &e.minutes); err != nil {
				orows.Close()
				return st, s.classify(err)
			}
			existing[ts] = e
		}
		orows.Close()
		if err := orows.Err(); err != nil {
			return st, s.classify(err)
		}
		for _, chunk := range parts {
			h := hourOf(chunk[0].ts)
			e, had := existing[h]
			vals = vals[:0]
			var mask int64
			for _, x := range chunk {
				bit := int64(1) << ((x.ts - h) / 60000)
				if had && (e.minutes == 0 || e.minutes&bit != 0) {
					st.Skipped++
					continue
				}
				vals = append(vals, x.v)
				mask |= bit
			}
			if len(vals) == 0 {
				continue
			}
			a := aggregate(vals)
			if had {
				st.Merged += len(vals)
				n := e.a.Count + a.Count
				a = Aggregate{Count: n, Mean: (e.a.Mean*float64(e.a.Count) + a.Mean*float64(a.Count)) / float64(n),
					Max: max(e.a.Max, a.Max), P95: max(e.a.P95, a.P95)}
				mask |= e.minutes
			} else {
				st.Hours++
			}
			a.T = fromMS(h)
			aggs = append(aggs, hourAgg{a, mask})
		}
		for _, g := range aggs {
			if _, err := ins.ExecContext(ctx, id, ms(g.a.T), g.a.Count, g.a.Mean, g.a.Max, g.a.P95, g.minutes); err != nil {
				return st, s.classify(err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM chunks WHERE hour < ?`, ms(cut)); err != nil {
		return st, s.classify(err)
	}
	hcut := now.Add(-s.retention.Hourly).UTC().Truncate(time.Hour)
	r, err := tx.ExecContext(ctx, `DELETE FROM hourly WHERE ts < ?`, ms(hcut))
	if err != nil {
		return st, s.classify(err)
	}
	n, _ := r.RowsAffected()
	st.HourDeleted = int(n)
	return st, s.classify(tx.Commit())
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// aggregate returns the count, mean, max and nearest-rank 95th percentile of vals (which it sorts).
func aggregate(vals []float64) Aggregate {
	slices.Sort(vals)
	var sum float64
	for _, v := range vals {
		sum += v
	}
	n := len(vals)
	rank := int(math.Ceil(0.95*float64(n))) - 1
	return Aggregate{Count: n, Mean: sum / float64(n), Max: vals[n-1], P95: vals[max(rank, 0)]}
}
