package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// PutInventory records a cluster snapshot, stamped inv.At (to the millisecond). A second snapshot with the same
// stamp replaces the first.
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
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO inventory (ts, data) VALUES (?, ?)`, ms(inv.At), string(data))
	return s.classify(err)
}

// LatestInventory returns the newest snapshot taken at or before at (zero: the newest of all); ok is false
// when there is none.
func (s *Store) LatestInventory(ctx context.Context, at time.Time) (inv metrics.Inventory, ok bool, err error) {
	hi := int64(1<<63 - 1)
	if !at.IsZero() {
		hi = ms(at)
	}
	var data string
	err = s.db.QueryRowContext(ctx, `SELECT data FROM inventory WHERE ts <= ? ORDER BY ts DESC LIMIT 1`, hi).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return metrics.Inventory{}, false, nil
	}
	if err != nil {
		return metrics.Inventory{}, false, s.classify(err)
	}
	if err := json.Unmarshal([]byte(data), &inv); err != nil {
		return metrics.Inventory{}, false, fmt.Errorf("store %s: inventory at %s: %w", s.path, at.UTC().Format(time.RFC3339), err)
	}
	return inv, true, nil
}
