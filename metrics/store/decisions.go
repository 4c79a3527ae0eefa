package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

// Decision is one entry of the decision log. The policy's Decision type is mapped onto it by whoever
// records it; Detail carries that type's inputs (forecast quantile, lead time, clamps) as JSON.
type Decision struct {
	T        time.Time
	Workload metrics.Workload
	Action   string // e.g. "scale", "hold", "floor"
	Reason   string
	Detail   json.RawMessage // nil means {}
}

// AppendDecisions adds decisions to the log in one transaction.
func (s *Store) AppendDecisions(ctx context.Context, ds []Decision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	for _, d := range ds {
		detail := string(d.Detail)
		if detail == "" {
			detail = "{}"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO decisions (ts, kind, namespace, name, action, reason, detail) VALUES (?,?,?,?,?,?,?)`,
			ms(d.T), d.Workload.Kind, d.Workload.Namespace, d.Workload.Name, d.Action, d.Reason, detail); err != nil {
			return s.classify(err)
		}
	}
	return s.classify(tx.Commit())
}

// Decisions returns the logged decisions with from <= T < to (zero: unbounded) in time order, for one
// workload when w is not the zero Workload.
func (s *Store) Decisions(ctx context.Context, w metrics.Workload, from, to time.Time) ([]Decision, error) {
	lo, hi := bounds(from, to)
	rows, err := s.db.QueryContext(ctx, `SELECT ts, kind, namespace, name, action, reason, detail FROM decisions
		WHERE ts >= ?1 AND ts < ?2 AND (?3 = '' OR (kind = ?3 AND namespace = ?4 AND name = ?5)) ORDER BY ts, id`,
		lo, hi, w.Kind, w.Namespace, w.Name)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var d Decision
		var ts int64
		var detail string
		if err := rows.Scan(&ts, &d.Workload.Kind, &d.Workload.Namespace, &d.Workload.Name, &d.Action, &d.Reason, &detail); err != nil {
			return nil, s.classify(err)
		}
		d.T, d.Detail = fromMS(ts), json.RawMessage(detail)
		out = append(out, d)
	}
	return out, s.classify(rows.Err())
}
