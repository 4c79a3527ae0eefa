package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// WriteStats says what one Write stored.
type WriteStats struct {
	Series  int // series with at least one sample in the batch
	Samples int // samples written (new or replacing one with the same series and timestamp)
	Skipped int // points with a non-finite value, not stored
}

// rowsPerInsert is the number of samples bound in one INSERT: many rows per statement amortise the
// driver's per-call cost, which dominates ingest.
const rowsPerInsert = 256

// Write stores a batch in one transaction and logs it in the collection log, stamped at. Samples already
// present for a (series, timestamp) are replaced, so writing a window twice stores it once. A batch with
// workload states, nodes or quotas (a metrics-server collection) also stores them, in the same transaction, as
// the inventory snapshot at b.Window.End (see PutInventory).
func (s *Store) Write(ctx context.Context, b *metrics.Batch, at time.Time) (WriteStats, error) {
	return s.write(ctx, b, at, nil)
}

// seriesHours are hourly aggregates of one series.
type seriesHours struct {
	key   metrics.Key
	hours []Aggregate
}

// write is Write plus hourly aggregates (an import of compacted hours), in the same transaction; an hour
// that has an aggregate already keeps it. They count in WriteStats.Samples as one sample each.
func (s *Store) write(ctx context.Context, b *metrics.Batch, at time.Time, hourly []seriesHours) (WriteStats, error) {
	var st WriteStats
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return st, s.classify(err)
	}
	defer tx.Rollback()
	newIDs := map[string]int64{}
	sel, err := tx.PrepareContext(ctx, `SELECT hour, data FROM chunks WHERE series_id=? AND hour>=? AND hour<=? ORDER BY hour`)
	if err != nil {
		return st, s.classify(err)
	}
	defer sel.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO chunks (series_id, hour, n, first, last, data) VALUES (?,?,?,?,?,?)
		ON CONFLICT (series_id, hour) DO UPDATE SET n=excluded.n, first=excluded.first, last=excluded.last, data=excluded.data`)
	if err != nil {
		return st, s.classify(err)
	}
	defer put.Close()
	var buf, old []sample
	for _, ser := range b.Series {
		buf = buf[:0]
		for _, p := range ser.Points {
			if !metrics.Finite(p.V) {
				st.Skipped++
				continue
			}
			buf = append(buf, sample{ms(p.T), p.V})
		}
		if len(buf) == 0 {
			continue
		}
		id, created, err := s.seriesID(ctx, tx, ser.Key, newIDs)
		if err != nil {
			return st, s.classify(err)
		}
		st.Series++
		st.Samples += len(buf)
		buf = sortUnique(buf)
		// The chunks this write touches that exist already, in one query (none for a series created now).
		existing := map[int64][]byte{}
		if !created {
			rows, err := sel.QueryContext(ctx, id, hourOf(buf[0].ts), hourOf(buf[len(buf)-1].ts))
			if err != nil {
				return st, s.classify(err)
			}
			for rows.Next() {
				var h int64
				var blob []byte
				if err := rows.Scan(&h, &blob); err != nil {
					rows.Close()
					return st, s.classify(err)
				}
				existing[h] = blob
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return st, s.classify(err)
			}
		}
		for lo := 0; lo < len(buf); {
			h := hourOf(buf[lo].ts)
			hi := lo + 1
			for hi < len(buf) && buf[hi].ts < h+hourMS {
				hi++
			}
			chunk := buf[lo:hi]
			if blob, ok := existing[h]; ok {
				if old, err = decodeChunk(old[:0], h, blob); err != nil {
					return st, fmt.Errorf("store %s: %w: series %s hour %v: %v", s.path, ErrCorrupt, ser.Key, fromMS(h), err)
				}
				chunk = merge(old, chunk)
			}
			if _, err := put.ExecContext(ctx, id, h, len(chunk), chunk[0].ts, chunk[len(chunk)-1].ts, encodeChunk(h, chunk)); err != nil {
				return st, s.classify(err)
			}
			lo = hi
		}
	}
	if len(hourly) > 0 {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO hourly (series_id, ts, count, mean, max, p95) VALUES (?,?,?,?,?,?)
			ON CONFLICT (series_id, ts) DO NOTHING`)
		if err != nil {
			return st, s.classify(err)
		}
		defer ins.Close()
		for _, sh := range hourly {
			id, _, err := s.seriesID(ctx, tx, sh.key, newIDs)
			if err != nil {
				return st, s.classify(err)
			}
			for _, a := range sh.hours {
				if !metrics.Finite(a.Mean) || !metrics.Finite(a.Max) || !metrics.Finite(a.P95) {
					st.Skipped++
					continue
				}
				if _, err := ins.ExecContext(ctx, id, ms(a.T.UTC().Truncate(time.Hour)), a.Count, a.Mean, a.Max, a.P95); err != nil {
					return st, s.classify(err)
				}
				st.Samples++
			}
		}
	}
	if len(b.States) > 0 || len(b.Nodes) > 0 || len(b.Quotas) > 0 {
		inv := metrics.Inventory{At: b.Window.End, ControlPlaneVersion: b.ControlPlaneVersion, Nodes: b.Nodes, Workloads: b.States,
			Quotas: b.Quotas, QuotasRead: b.QuotasRead}
		if err := s.putInventory(ctx, tx, inv); err != nil {
			return st, err
		}
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO collections (source, at, start_ts, end_ts, series, samples, warnings) VALUES (?,?,?,?,?,?,?)`,
		b.Source, ms(at), ms(b.Window.Start), ms(b.Window.End), st.Series, st.Samples, strings.Join(b.Warnings, "\n")); err != nil {
		return st, s.classify(err)
	}
	if err := tx.Commit(); err != nil {
		return st, s.classify(err)
	}
	for k, v := range newIDs {
		s.ids[k] = v
	}
	return st, nil
}

// seriesID returns the id of a key, creating the series inside tx when it is new (created: it has no
// chunks yet). Ids created in
// a transaction are cached only after it commits (newIDs).
func (s *Store) seriesID(ctx context.Context, tx *sql.Tx, k metrics.Key, newIDs map[string]int64) (id int64, created bool, err error) {
	ks := keyOf(k)
	if id, ok := s.ids[ks]; ok {
		return id, false, nil
	}
	if id, ok := newIDs[ks]; ok {
		return id, false, nil // seen earlier in this batch: its chunks may exist now
	}
	w := k.Workload
	err = tx.QueryRowContext(ctx, `SELECT id FROM series WHERE kind=? AND namespace=? AND name=? AND resource=? AND labels=?`,
		w.Kind, w.Namespace, w.Name, string(k.Resource), labelsOf(k.Labels)).Scan(&id)
	if err == nil {
		newIDs[ks] = id
		return id, false, nil
	}
	if err != sql.ErrNoRows {
		return 0, false, err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO series (kind, namespace, name, resource, labels) VALUES (?,?,?,?,?) RETURNING id`,
		w.Kind, w.Namespace, w.Name, string(k.Resource), labelsOf(k.Labels)).Scan(&id)
	if err != nil {
		return 0, false, err
	}
	newIDs[ks] = id
	return id, true, nil
}

// lookup returns the id of an existing series, or ErrNotFound.
func (s *Store) lookup(ctx context.Context, k metrics.Key) (int64, error) {
	ks := keyOf(k)
	s.mu.Lock()
	id, ok := s.ids[ks]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	w := k.Workload
	err := s.db.QueryRowContext(ctx, `SELECT id FROM series WHERE kind=? AND namespace=? AND name=? AND resource=? AND labels=?`,
		w.Kind, w.Namespace, w.Name, string(k.Resource), labelsOf(k.Labels)).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, ks)
	}
	if err != nil {
		return 0, s.classify(err)
	}
	return id, nil
}
