// Package store owns headroom's history: an embedded SQLite database (modernc.org/sqlite, no cgo) holding
// usage series and their samples, hourly aggregates of older samples, a log of collections and the decision
// log, with versioned schema migrations.
//
// # Layout
//
//	series       id, kind, namespace, name, resource, labels   (one row per metrics.Key)
//	chunks       series_id, hour (Unix ms), n, first, last, data (the raw samples of one UTC hour)
//	hourly       series_id, ts (hour start), count, mean, max, p95, minutes (bit m: minute m had samples)
//	collections  one row per Write: source, window, series and samples written, warnings
//	decisions    the decision log: time, workload, action, reason, detail (JSON)
//	inventory    ts, data (a metrics.Inventory as JSON), quotas (how many were read; -1: not read)
//	quotas       ts, namespace, name, resource, hard, used (NULL: not counted yet), scopes: the
//	             ResourceQuotas read with the inventory snapshot at ts
//
// Raw samples are kept one row per series and UTC hour, packed in a blob (a count, then for each sample in
// time order the uvarint delta of its Unix-millisecond stamp from the previous one, starting at the hour, and
// its float64 bits): a row per sample costs the SQLite driver about 6 µs to write and 2 µs to read, a chunk
// of an hour of samples about the same, so ingest and range reads are bounded by the number of
// series-hours, not samples. Writing into an hour that has a chunk merges with it (read, merge, rewrite).
//
// The schema version is SQLite's user_version, and the file is marked as headroom's by its application_id.
// Open applies the migrations a file lacks, in one transaction; a file of a newer schema is refused with
// [ErrNewerSchema] and left untouched.
//
// # Guarantees
//
// Writing the same (series, timestamp) twice keeps one sample, the last value written, so re-collecting a
// window never duplicates samples. Every Write is one transaction in WAL mode: a process killed in the middle
// of a write loses only that write, and the database opens afterwards with everything committed before it.
// (With the default synchronous=NORMAL a power loss may also drop the last commits; Options.Durable makes
// every commit wait for the disk.) A file that is not an SQLite database, is damaged ([ErrCorrupt]), belongs to
// another application ([ErrNotStore]) or is locked by another writer beyond the busy timeout ([ErrLocked]) is
// an error that names it; Open never truncates, rewrites or deletes an existing file.
//
// # Retention
//
// [Store.Compact] rolls raw samples older than Retention.Raw (default 8 days) into hourly aggregates that
// keep the count, mean, maximum and 95th percentile (nearest rank) of each UTC hour, and deletes hourly
// aggregates older than Retention.Hourly (default 400 days). Raw samples that arrive after their hour was
// aggregated are merged into it at the next Compact (count, mean and max exactly; the p95 as an upper bound:
// the larger of the two p95s), at minute resolution: the aggregate records which minutes it counted, and
// samples in those minutes are a re-collection of the same data, skipped, so compaction stays idempotent.
package store
