package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// PutInventory records a cluster snapshot, stamped inv.At (to the millisecond), with its quotas (when
// inv.QuotasRead). A second snapshot with the same stamp replaces the first, quotas included.
func (s *Store) PutInventory(ctx context.Context, inv metrics.Inventory) error {
	if inv.At.IsZero() {
		return fmt.Errorf("store %s: inventory without a time", s.path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	if err := s.putInventory(ctx, tx, inv); err != nil {
		return err
	}
	return s.classify(tx.Commit())
}

func (s *Store) putInventory(ctx context.Context, tx *sql.Tx, inv metrics.Inventory) error {
	if inv.At.IsZero() {
		return fmt.Errorf("store %s: inventory without a time", s.path)
	}
	data, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("store %s: inventory: %w", s.path, err)
	}
	read := -1
	if inv.QuotasRead {
		read = len(inv.Quotas)
	}
	at := ms(inv.At)
	if _, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO inventory (ts, data, quotas) VALUES (?, ?, ?)`, at, string(data), read); err != nil {
		return s.classify(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM quotas WHERE ts = ?`, at); err != nil {
		return s.classify(err)
	}
	if len(inv.Quotas) == 0 {
		return nil
	}
	ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO quotas (ts, namespace, name, resource, hard, used, scopes) VALUES (?,?,?,?,?,?,?)`)
	if err != nil {
		return s.classify(err)
	}
	defer ins.Close()
	for _, q := range inv.Quotas {
		if q.Name == "" || len(q.Hard) == 0 {
			return fmt.Errorf("store %s: inventory at %s: quota %s/%s without a name or hard limits", s.path, inv.At.UTC().Format(time.RFC3339), q.Namespace, q.Name)
		}
		scopes := strings.Join(q.Scopes, "\n")
		for r, hard := range q.Hard {
			var used any // NULL: not counted
			if u, ok := q.Used[r]; ok {
				used = u
			}
			if _, err := ins.ExecContext(ctx, at, q.Namespace, q.Name, r, hard, used, scopes); err != nil {
				return s.classify(err)
			}
		}
	}
	return nil
}

// LatestInventory returns the newest snapshot taken at or before at (zero: the newest of all); ok is false
// when there is none.
func (s *Store) LatestInventory(ctx context.Context, at time.Time) (inv metrics.Inventory, ok bool, err error) {
	hi := int64(1<<63 - 1)
	if !at.IsZero() {
		hi = ms(at)
	}
	var data string
	var ts, read int64
	err = s.db.QueryRowContext(ctx, `SELECT ts, data, quotas FROM inventory WHERE ts <= ? ORDER BY ts DESC LIMIT 1`, hi).Scan(&ts, &data, &read)
	if errors.Is(err, sql.ErrNoRows) {
		return metrics.Inventory{}, false, nil
	}
	if err != nil {
		return metrics.Inventory{}, false, s.classify(err)
	}
	if err := json.Unmarshal([]byte(data), &inv); err != nil {
		return metrics.Inventory{}, false, fmt.Errorf("store %s: inventory at %s: %w", s.path, fromMS(ts).Format(time.RFC3339), err)
	}
	if inv.QuotasRead = read >= 0; inv.QuotasRead {
		if inv.Quotas, err = s.quotas(ctx, ts); err != nil {
			return metrics.Inventory{}, false, err
		}
	}
	return inv, true, nil
}

// quotas reads the quotas of the snapshot at ts, sorted by namespace and name.
func (s *Store) quotas(ctx context.Context, ts int64) ([]metrics.ResourceQuota, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT namespace, name, resource, hard, used, scopes FROM quotas WHERE ts = ? ORDER BY namespace, name, resource`, ts)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var out []metrics.ResourceQuota
	for rows.Next() {
		var ns, name, r, scopes string
		var hard float64
		var used sql.NullFloat64
		if err := rows.Scan(&ns, &name, &r, &hard, &used, &scopes); err != nil {
			return nil, s.classify(err)
		}
		if n := len(out); n == 0 || out[n-1].Namespace != ns || out[n-1].Name != name {
			q := metrics.ResourceQuota{Namespace: ns, Name: name, Hard: map[string]float64{}, Used: map[string]float64{}}
			if scopes != "" {
				q.Scopes = strings.Split(scopes, "\n")
			}
			out = append(out, q)
		}
		q := &out[len(out)-1]
		q.Hard[r] = hard
		if used.Valid {
			q.Used[r] = used.Float64
		}
	}
	return out, s.classify(rows.Err())
}
