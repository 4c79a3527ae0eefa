package store

// migrations[i] takes the schema from version i to version i+1. Never edit a released entry: append one.
var migrations = []string{
	// 1: series, raw samples in hourly chunks, hourly aggregates, the collection log and the decision log.
	`
CREATE TABLE series (
	id        INTEGER PRIMARY KEY,
	kind      TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	resource  TEXT NOT NULL,
	labels    TEXT NOT NULL DEFAULT '',
	UNIQUE (kind, namespace, name, resource, labels)
);
CREATE TABLE chunks (
	series_id INTEGER NOT NULL,
	hour      INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	first     INTEGER NOT NULL,
	last      INTEGER NOT NULL,
	data      BLOB NOT NULL,
	PRIMARY KEY (series_id, hour)
);
CREATE TABLE hourly (
	series_id INTEGER NOT NULL,
	ts        INTEGER NOT NULL,
	count     INTEGER NOT NULL,
	mean      REAL NOT NULL,
	max       REAL NOT NULL,
	p95       REAL NOT NULL,
	PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE collections (
	id       INTEGER PRIMARY KEY,
	source   TEXT NOT NULL,
	at       INTEGER NOT NULL,
	start_ts INTEGER NOT NULL,
	end_ts   INTEGER NOT NULL,
	series   INTEGER NOT NULL,
	samples  INTEGER NOT NULL,
	warnings TEXT NOT NULL DEFAULT ''
);
CREATE INDEX collections_source ON collections (source, end_ts);
CREATE TABLE decisions (
	id        INTEGER PRIMARY KEY,
	ts        INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	action    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	detail    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX decisions_ts ON decisions (ts);
CREATE INDEX decisions_workload ON decisions (kind, namespace, name, ts);
`,
	// 2: inventory snapshots (nodes and where each workload's pods run), one per snapshot collection, as JSON.
	`
CREATE TABLE inventory (
	ts   INTEGER PRIMARY KEY,
	data TEXT NOT NULL
);
`,
	// 3: which minutes of each aggregated hour had raw samples (bit m for minute m), so that samples arriving
	// after the hour was compacted merge into it instead of being dropped; 0 on older rows: unknown.
	`
ALTER TABLE hourly ADD COLUMN minutes INTEGER NOT NULL DEFAULT 0;
`,
	// 4: the namespaces' ResourceQuotas with each inventory snapshot, one row per quota and resource (used is
	// NULL when the quota's status does not count it yet), and per snapshot how many quotas were read (-1:
	// not read, which older snapshots were).
	`
CREATE TABLE quotas (
	ts        INTEGER NOT NULL,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	resource  TEXT NOT NULL,
	hard      REAL NOT NULL,
	used      REAL,
	scopes    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (ts, namespace, name, resource)
) WITHOUT ROWID;
ALTER TABLE inventory ADD COLUMN quotas INTEGER NOT NULL DEFAULT -1;
`,
}
