package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/headroom-dev/headroom/metrics"
)

// ApplicationID marks an SQLite file as a headroom store ("HdRm").
const ApplicationID = 0x4864526d

// Defaults for Options and Retention.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultRaw         = 8 * 24 * time.Hour
	DefaultHourly      = 400 * 24 * time.Hour
)

// Errors. Each error Open returns names the file and wraps one of these (or the SQLite error).
var (
	ErrCorrupt     = errors.New("store: not a valid SQLite database (corrupt or another kind of file)")
	ErrNotStore    = errors.New("store: an SQLite database that is not a headroom store")
	ErrNewerSchema = errors.New("store: database schema is newer than this headroom")
	ErrOlderSchema = errors.New("store: database schema is older than this headroom (open it read-write once to migrate)")
	ErrLocked      = errors.New("store: database is locked by another writer")
	ErrNotFound    = errors.New("store: no such series")
)

// Retention says how long samples are kept. A zero field means its default.
type Retention struct {
	Raw    time.Duration // raw samples; 0 means DefaultRaw (8 days)
	Hourly time.Duration // hourly aggregates; 0 means DefaultHourly (400 days)
}

func (r Retention) withDefaults() Retention {
	if r.Raw <= 0 {
		r.Raw = DefaultRaw
	}
	if r.Hourly <= 0 {
		r.Hourly = DefaultHourly
	}
	return r
}

// Options tunes Open. A nil *Options means the defaults, which are the zero values below.
type Options struct {
	// ReadOnly opens the file without writing to it: no migration, no WAL switch. The schema must be current.
	ReadOnly bool
	// BusyTimeout is how long a write waits for another writer's lock before failing with ErrLocked.
	// 0 means DefaultBusyTimeout (5 s).
	BusyTimeout time.Duration
	// Durable makes every commit wait for the disk (synchronous=FULL); the default, synchronous=NORMAL in WAL
	// mode, survives a killed process but may lose the last commits on a power loss.
	Durable   bool
	Retention Retention
}

// Store is an open history database. Its methods are safe for concurrent use; writes are serialised.
type Store struct {
	db        *sql.DB
	path      string
	retention Retention
	mu        sync.Mutex       // guards ids and serialises Write and Compact
	ids       map[string]int64 // Key.String() → series id, filled lazily
}

// Open opens the store at path, creating it when the file does not exist (unless ReadOnly), and migrates its
// schema to the current version.
func Open(path string, opt *Options) (*Store, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if err := checkHeader(path, o.ReadOnly); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	q.Set("_txlock", "immediate")
	if o.ReadOnly {
		q.Set("mode", "ro")
	}
	sync := "NORMAL"
	if o.Durable {
		sync = "FULL"
	}
	q.Add("_pragma", "synchronous("+sync+")")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and a single connection keeps the busy timeout
	// meaningful (no waiting on ourselves) and the prepared statements warm.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, retention: o.Retention.withDefaults(), ids: map[string]int64{}}
	if err := s.init(o.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkHeader refuses, without opening it through SQLite, a non-empty file that does not start with the
// SQLite magic: SQLite would refuse it too, but only on first use and with a terse message.
func checkHeader(path string, readOnly bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if readOnly {
			return fmt.Errorf("store %s: %w", path, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("store %s: is a directory", path)
	}
	hdr := make([]byte, 16)
	n, err := io.ReadFull(f, hdr)
	if n == 0 {
		return nil // empty file: SQLite treats it as a new database
	}
	if err != nil || !bytes.Equal(hdr, []byte("SQLite format 3\x00")) {
		return fmt.Errorf("store %s: %w: the file does not start with the SQLite header; it was left as it is", path, ErrCorrupt)
	}
	return nil
}

// classify turns SQLite errors into the package's sentinels, naming the file.
func (s *Store) classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("store %s: %w (another headroom collect or run?): %v", s.path, ErrLocked, err)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("store %s: %w: %v; the file was left as it is", s.path, ErrCorrupt, err)
		}
	}
	return fmt.Errorf("store %s: %w", s.path, err)
}

func (s *Store) init(readOnly bool) error {
	ctx := context.Background()
	var appID, version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.classify(err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.classify(err)
	}
	if err := s.checkIdentity(ctx, appID); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("store %s: %w (file has version %d, this headroom knows up to %d); it was left as it is",
			s.path, ErrNewerSchema, version, len(migrations))
	}
	if readOnly {
		if version < len(migrations) {
			return fmt.Errorf("store %s: %w (file has version %d, current is %d)", s.path, ErrOlderSchema, version, len(migrations))
		}
		return nil
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return s.classify(err)
	}
	if version == len(migrations) {
		return nil // current: no write, so opening does not wait for another writer
	}
	return s.migrate(ctx)
}

// checkIdentity refuses an SQLite file of another application: a foreign application_id, or tables when
// there is no application_id at all.
func (s *Store) checkIdentity(ctx context.Context, appID int) error {
	if appID == ApplicationID {
		return nil
	}
	if appID != 0 {
		return fmt.Errorf("store %s: %w (application_id %#x); it was left as it is", s.path, ErrNotStore, appID)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return s.classify(err)
	}
	if n > 0 {
		return fmt.Errorf("store %s: %w (it has %d schema objects and no headroom mark); it was left as it is", s.path, ErrNotStore, n)
	}
	return nil
}

// migrate applies the missing migrations in one IMMEDIATE transaction, re-reading the version under the lock
// so that two processes opening a new file at once do not both migrate it.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.classify(err)
	}
	if version > len(migrations) {
		return fmt.Errorf("store %s: %w (file has version %d, this headroom knows up to %d); it was left as it is",
			s.path, ErrNewerSchema, version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("store %s: migration to version %d: %w", s.path, v+1, s.classify(err))
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id=%d; PRAGMA user_version=%d", ApplicationID, len(migrations))); err != nil {
		return s.classify(err)
	}
	return s.classify(tx.Commit())
}

// Version returns the schema version of the file and the latest version this code knows.
func (s *Store) Version(ctx context.Context) (file, latest int, err error) {
	err = s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&file)
	return file, len(migrations), s.classify(err)
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes the database. A WAL checkpoint runs on the way, as SQLite does on the last close.
func (s *Store) Close() error { return s.classify(s.db.Close()) }

// Check runs SQLite's integrity check and returns ErrCorrupt with its first findings when it fails.
func (s *Store) Check(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "PRAGMA integrity_check(10)")
	if err != nil {
		return s.classify(err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return s.classify(err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return s.classify(err)
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return fmt.Errorf("store %s: %w: %s", s.path, ErrCorrupt, strings.Join(msgs, "; "))
}

func ms(t time.Time) int64       { return t.UnixMilli() }
func fromMS(v int64) time.Time   { return time.UnixMilli(v).UTC() }
func keyOf(k metrics.Key) string { return k.String() }
func labelsOf(l metrics.Labels) string {
	s := l.String()
	if s == "" {
		return ""
	}
	return s[1 : len(s)-1]
}
