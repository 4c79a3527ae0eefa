package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

var (
	ctx    = context.Background()
	t0     = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	web    = metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	webCPU = metrics.Key{Workload: web, Resource: metrics.CPU}
)

func open(t testing.TB, path string, o *Options) *Store {
	t.Helper()
	s, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tempDB(t testing.TB) string { return filepath.Join(t.TempDir(), "h.db") }

// batch returns n points of key every step from start, valued f(i).
func batch(k metrics.Key, start time.Time, step time.Duration, n int, f func(i int) float64) *metrics.Batch {
	s := metrics.Series{Key: k}
	for i := 0; i < n; i++ {
		s.Points = append(s.Points, metrics.Point{T: start.Add(time.Duration(i) * step), V: f(i)})
	}
	return &metrics.Batch{Source: "test", Window: metrics.Window{Start: start, End: start.Add(time.Duration(n-1) * step), Step: step}, Series: []metrics.Series{s}}
}

func TestWriteReadIdempotent(t *testing.T) {
	s := open(t, tempDB(t), nil)
	b := batch(webCPU, t0, time.Minute, 1000, func(i int) float64 { return float64(i) / 10 })
	b.Series[0].Points = append(b.Series[0].Points, metrics.Point{T: t0.Add(-time.Minute), V: math.NaN()})
	st, err := s.Write(ctx, b, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Series != 1 || st.Samples != 1000 || st.Skipped != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Re-collecting an overlapping window, with one corrected value, stores each stamp once.
	b2 := batch(webCPU, t0.Add(500*time.Minute), time.Minute, 1000, func(i int) float64 { return float64(i+500) / 10 })
	b2.Series[0].Points[0].V = -1
	if _, err := s.Write(ctx, b2, t0); err != nil {
		t.Fatal(err)
	}
	pts, err := s.Read(ctx, webCPU, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1500 {
		t.Fatalf("%d samples, want 1500 (no duplicates)", len(pts))
	}
	for i, p := range pts {
		want := float64(i) / 10
		if i == 500 {
			want = -1
		}
		if !p.T.Equal(t0.Add(time.Duration(i)*time.Minute)) || p.V != want {
			t.Fatalf("sample %d = %v, want %v at %v", i, p, want, t0.Add(time.Duration(i)*time.Minute))
		}
	}
	// Reopening finds the same series (ids are not only in the cache).
	s.Close()
	s2 := open(t, s.path, nil)
	if _, err := s2.Write(ctx, b, t0); err != nil {
		t.Fatal(err)
	}
	infos, err := s2.Series(ctx, metrics.Workload{})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Samples != 1500 || !infos[0].First.Equal(t0) || infos[0].Key.String() != "Deployment/shop/web/cpu" {
		t.Fatalf("series %+v", infos)
	}
	if _, err := s2.Read(ctx, metrics.Key{Workload: web, Resource: "nope"}, time.Time{}, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown series: %v", err)
	}
	c, ok, err := s2.LastCollection(ctx, "test")
	if err != nil || !ok || !c.Window.End.Equal(t0.Add(1499*time.Minute)) {
		t.Fatalf("last collection %+v %v %v", c, ok, err)
	}
	if _, ok, _ := s2.LastCollection(ctx, "prometheus"); ok {
		t.Fatal("a source that never wrote has a last collection")
	}
}

func TestSameSeriesTwiceInABatch(t *testing.T) {
	s := open(t, tempDB(t), nil)
	b := batch(webCPU, t0, time.Minute, 30, func(int) float64 { return 1 })
	b.Series = append(b.Series, batch(webCPU, t0.Add(30*time.Minute), time.Minute, 60, func(int) float64 { return 2 }).Series...)
	if _, err := s.Write(ctx, b, t0); err != nil {
		t.Fatal(err)
	}
	pts, _ := s.Read(ctx, webCPU, time.Time{}, time.Time{})
	if len(pts) != 90 || pts[0].V != 1 || pts[89].V != 2 {
		t.Fatalf("%d points", len(pts))
	}
}

func TestLabelsAreDistinctSeries(t *testing.T) {
	s := open(t, tempDB(t), nil)
	a := metrics.Key{Workload: web, Resource: metrics.CPU, Labels: metrics.Labels{"container": "app"}}
	b := metrics.Key{Workload: web, Resource: metrics.CPU, Labels: metrics.Labels{"container": "side\"car"}}
	for _, k := range []metrics.Key{a, b, webCPU} {
		if _, err := s.Write(ctx, batch(k, t0, time.Minute, 3, func(int) float64 { return 1 }), t0); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.Series(ctx, web)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("%d series", len(infos))
	}
	got := []string{infos[0].Key.String(), infos[1].Key.String(), infos[2].Key.String()}
	want := []string{webCPU.String(), a.String(), b.String()}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("keys %q, want %q", got, want)
	}
}

func TestCompact(t *testing.T) {
	s := open(t, tempDB(t), &Options{Retention: Retention{Raw: 24 * time.Hour, Hourly: 72 * time.Hour}})
	// 3 days of minutes: value = minute within the hour (0..59), plus 1000 × day.
	b := batch(webCPU, t0, time.Minute, 3*24*60, func(i int) float64 { return float64(i%60) + 1000*float64(i/1440) })
	if _, err := s.Write(ctx, b, t0); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(3*24*time.Hour + 30*time.Minute) // raw kept from day 2 00:00 (now-24h rounded down)
	st, err := s.Compact(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Hours != 48 || st.RawDeleted != 48*60 || st.HourDeleted != 0 {
		t.Fatalf("stats %+v", st)
	}
	hours, err := s.ReadHourly(ctx, webCPU, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	h := hours[25] // day 1, 01:00
	if !h.T.Equal(t0.Add(25*time.Hour)) || h.Count != 60 || h.Mean != 1029.5 || h.Max != 1059 || h.P95 != 1056 {
		t.Fatalf("hour 25 = %+v (want mean 1029.5, max 1059, p95 = 57th of 60 = 1056)", h)
	}
	raw, _ := s.Read(ctx, webCPU, time.Time{}, time.Time{})
	if len(raw) != 24*60 || !raw[0].T.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("raw left: %d from %v", len(raw), raw[0].T)
	}
	// History: hourly means then raw.
	hist, err := s.History(ctx, webCPU, t0, now, Max)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 48+24*60 || hist[0].V != 59 || hist[48].V != 2000 {
		t.Fatalf("history %d points, first %v, raw start %v", len(hist), hist[0], hist[48])
	}
	// Idempotent: compacting again changes nothing; re-collecting old raw samples does not change an hour.
	if _, err := s.Write(ctx, batch(webCPU, t0, time.Minute, 60, func(int) float64 { return 1e6 }), t0); err != nil {
		t.Fatal(err)
	}
	if st, err = s.Compact(ctx, now); err != nil || st.Hours != 0 || st.RawDeleted != 60 {
		t.Fatalf("second compact %+v %v", st, err)
	}
	hours2, _ := s.ReadHourly(ctx, webCPU, time.Time{}, time.Time{})
	if hours2[0] != hours[0] {
		t.Fatalf("hour 0 changed: %+v → %+v", hours[0], hours2[0])
	}
	// Hourly retention: a day later, day 0's hours go.
	if st, err = s.Compact(ctx, now.Add(24*time.Hour)); err != nil || st.HourDeleted != 24 || st.Hours != 24 {
		t.Fatalf("third compact %+v %v", st, err)
	}
}

func TestDecisions(t *testing.T) {
	s := open(t, tempDB(t), nil)
	api := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "api"}
	ds := []Decision{
		{T: t0, Workload: web, Action: "scale", Reason: "forecast", Detail: []byte(`{"replicas":4}`)},
		{T: t0.Add(time.Minute), Workload: api, Action: "hold", Reason: "within tolerance"},
	}
	if err := s.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	got, err := s.Decisions(ctx, api, time.Time{}, time.Time{})
	if err != nil || len(got) != 1 || got[0].Reason != "within tolerance" || string(got[0].Detail) != "{}" {
		t.Fatalf("%+v %v", got, err)
	}
	all, _ := s.Decisions(ctx, metrics.Workload{}, t0, t0.Add(time.Hour))
	if len(all) != 2 || string(all[0].Detail) != `{"replicas":4}` {
		t.Fatalf("%+v", all)
	}
}

// unchanged asserts that a file's bytes are what they were.
func unchanged(t *testing.T, path string, before []byte) {
	t.Helper()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("%s was modified (%d bytes → %d)", path, len(before), len(after))
	}
}

func TestRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o644)
	// A real SQLite database of another application.
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A headroom store from the future.
	newer := filepath.Join(dir, "newer.db")
	s := open(t, newer, nil)
	s.Write(ctx, batch(webCPU, t0, time.Minute, 10, func(int) float64 { return 1 }), t0)
	s.db.Exec("PRAGMA user_version = 99")
	s.Close()
	// A store whose pages are damaged after the header.
	damaged := filepath.Join(dir, "damaged.db")
	s = open(t, damaged, nil)
	s.Write(ctx, batch(webCPU, t0, time.Minute, 20000, func(i int) float64 { return float64(i) }), t0)
	s.Close()
	raw, _ := os.ReadFile(damaged)
	for i := 4096 + 100; i < len(raw); i += 7 {
		raw[i] ^= 0x5a
	}
	os.WriteFile(damaged, raw, 0o644)

	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"garbage", garbage, ErrCorrupt},
		{"foreign", foreign, ErrNotStore},
		{"newer schema", newer, ErrNewerSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			for _, ro := range []bool{false, true} {
				_, err := Open(tc.path, &Options{ReadOnly: ro})
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("ReadOnly=%v: %v, want %v naming the file", ro, err, tc.want)
				}
			}
			unchanged(t, tc.path, before)
		})
	}
	t.Run("damaged", func(t *testing.T) {
		before, _ := os.ReadFile(damaged)
		s, err := Open(damaged, &Options{ReadOnly: true})
		if err == nil {
			err = s.Check(ctx)
			if err == nil {
				_, err = s.Read(ctx, webCPU, time.Time{}, time.Time{})
			}
			s.Close()
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v, want ErrCorrupt", err)
		}
		unchanged(t, damaged, before)
	})
}

func TestLocked(t *testing.T) {
	path := tempDB(t)
	open(t, path, nil).Close()
	// Another process (here: another connection) holds the write lock.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	s := open(t, path, &Options{BusyTimeout: 50 * time.Millisecond})
	_, err = s.Write(ctx, batch(webCPU, t0, time.Minute, 10, func(int) float64 { return 1 }), t0)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("write under another writer's lock: %v, want ErrLocked", err)
	}
	// Readers are not blocked by a writer in WAL mode.
	if _, err := s.Series(ctx, metrics.Workload{}); err != nil {
		t.Fatal(err)
	}
	conn.ExecContext(ctx, "ROLLBACK")
	if _, err := s.Write(ctx, batch(webCPU, t0, time.Minute, 10, func(int) float64 { return 1 }), t0); err != nil {
		t.Fatalf("after the lock is released: %v", err)
	}
}

func TestMigratesEmptyFile(t *testing.T) {
	path := tempDB(t)
	os.WriteFile(path, nil, 0o644)
	s := open(t, path, nil)
	v, latest, err := s.Version(ctx)
	if err != nil || v != latest || latest != len(migrations) {
		t.Fatalf("version %d of %d: %v", v, latest, err)
	}
	s.Close()
	// Opening again is a no-op; read-only works on a current schema.
	open(t, path, &Options{ReadOnly: true})
	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), &Options{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only on a missing file: %v", err)
	}
}

func TestExportImport(t *testing.T) {
	s := open(t, tempDB(t), nil)
	mem := metrics.Key{Workload: web, Resource: metrics.Memory, Labels: metrics.Labels{"container": "app"}}
	b := batch(webCPU, t0, time.Minute, 100, func(i int) float64 { return 0.25 * float64(i) })
	b.Series = append(b.Series, batch(mem, t0.Add(10*time.Minute), time.Minute, 50, func(i int) float64 { return 1e9 + float64(i) }).Series...)
	if _, err := s.Write(ctx, b, t0); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := s.Export(ctx, &buf, metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Series != 2 || st.Rows != 100 || st.Samples != 150 {
		t.Fatalf("export %+v", st)
	}
	lines := strings.Split(buf.String(), "\n")
	if lines[0] != `timestamp,Deployment/shop/web/cpu,"Deployment/shop/web/memory{container=""app""}"` || lines[2] != "2026-03-01T00:01:00Z,0.25," {
		t.Fatalf("export begins\n%s\n%s\n%s", lines[0], lines[1], lines[2])
	}
	s2 := open(t, tempDB(t), nil)
	ist, err := s2.Import(ctx, bytes.NewReader(buf.Bytes()), "backup.csv", t0)
	if err != nil {
		t.Fatal(err)
	}
	if ist.Series != 2 || ist.Samples != 150 {
		t.Fatalf("import %+v", ist)
	}
	for _, k := range []metrics.Key{webCPU, mem} {
		a, _ := s.Read(ctx, k, time.Time{}, time.Time{})
		c, err := s2.Read(ctx, k, time.Time{}, time.Time{})
		if err != nil || len(a) != len(c) {
			t.Fatalf("%s: %d vs %d samples, %v", k, len(a), len(c), err)
		}
		for i := range a {
			if !a[i].T.Equal(c[i].T) || a[i].V != c[i].V {
				t.Fatalf("%s sample %d: %v vs %v", k, i, a[i], c[i])
			}
		}
	}
	// A plain trace imports as Trace/<file>/<column>; a bad one names line and column.
	if _, err := s2.Import(ctx, strings.NewReader("timestamp,cpu_cores\n1700000000,1\n1700000060,2\n"), "dir/rec.csv", t0); err != nil {
		t.Fatal(err)
	}
	if pts, err := s2.Read(ctx, metrics.Key{Workload: metrics.Workload{Kind: "Trace", Name: "rec"}, Resource: "cpu_cores"}, time.Time{}, time.Time{}); err != nil || len(pts) != 2 {
		t.Fatalf("trace import: %v %v", pts, err)
	}
	if _, err := s2.Import(ctx, strings.NewReader("timestamp,x\n1700000000,abc\n"), "bad.csv", t0); err == nil || !strings.Contains(err.Error(), "bad.csv:2:2") {
		t.Fatalf("bad import: %v", err)
	}
}

// TestMigratesOlderSchema opens a file of the current schema with a build that knows one more version, as an
// upgrade does.
func TestMigratesOlderSchema(t *testing.T) {
	path := tempDB(t)
	s := open(t, path, nil)
	if _, err := s.Write(ctx, batch(webCPU, t0, time.Minute, 10, func(int) float64 { return 1 }), t0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	saved := migrations
	migrations = append(slices.Clone(migrations), `ALTER TABLE series ADD COLUMN unit TEXT NOT NULL DEFAULT ''`)
	defer func() { migrations = saved }()
	// Read-only refuses to migrate.
	if _, err := Open(path, &Options{ReadOnly: true}); !errors.Is(err, ErrOlderSchema) {
		t.Fatalf("read-only on an older schema: %v", err)
	}
	s = open(t, path, nil)
	v, latest, err := s.Version(ctx)
	if want := len(saved) + 1; err != nil || v != want || latest != want {
		t.Fatalf("version %d of %d: %v", v, latest, err)
	}
	var unit string
	if err := s.db.QueryRow(`SELECT unit FROM series`).Scan(&unit); err != nil {
		t.Fatalf("migrated column: %v", err)
	}
	if pts, err := s.Read(ctx, webCPU, time.Time{}, time.Time{}); err != nil || len(pts) != 10 {
		t.Fatalf("data after migration: %d, %v", len(pts), err)
	}
}

func TestInventory(t *testing.T) {
	s := open(t, tempDB(t), nil)
	if _, ok, err := s.LatestInventory(ctx, time.Time{}); ok || err != nil {
		t.Fatalf("empty store: ok %v err %v", ok, err)
	}
	mk := func(at time.Time, nodes int) metrics.Inventory {
		inv := metrics.Inventory{At: at, ControlPlaneVersion: "v1.37.2"}
		for i := 0; i < nodes; i++ {
			inv.Nodes = append(inv.Nodes, metrics.Node{Name: fmt.Sprintf("n%d", i), Pool: "general", Zone: "a", Ready: true, CPU: 4})
		}
		inv.Workloads = []metrics.WorkloadState{{Workload: web, Pods: 2, Ready: 1, Pending: 1, CPURequest: 0.5, Nodes: map[string]int{"n0": 1}}}
		return inv
	}
	for i, n := range []int{1, 2, 3} {
		if err := s.PutInventory(ctx, mk(t0.Add(time.Duration(i)*time.Hour), n)); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.LatestInventory(ctx, time.Time{})
	if err != nil || !ok || len(got.Nodes) != 3 || !got.At.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("latest: %+v ok %v err %v", got, ok, err)
	}
	got, ok, err = s.LatestInventory(ctx, t0.Add(90*time.Minute))
	if err != nil || !ok || len(got.Nodes) != 2 {
		t.Fatalf("at 01:30: %+v ok %v err %v", got, ok, err)
	}
	if w := got.Workloads[0]; w.Workload != web || w.Nodes["n0"] != 1 || w.Pending != 1 {
		t.Fatalf("workload state did not round-trip: %+v", w)
	}
	if _, ok, _ := s.LatestInventory(ctx, t0.Add(-time.Second)); ok {
		t.Fatal("a snapshot before the first one")
	}
	if err := s.PutInventory(ctx, metrics.Inventory{}); err == nil {
		t.Fatal("inventory without a time was accepted")
	}
}

func TestWriteStoresTheInventory(t *testing.T) {
	s := open(t, tempDB(t), nil)
	at := t0.Add(3 * time.Hour)
	b := batch(metrics.Key{Workload: web, Resource: metrics.CPU}, at, time.Minute, 1, func(int) float64 { return 1.5 })
	b.Window = metrics.Window{Start: at, End: at}
	b.ControlPlaneVersion = "v1.37.2"
	b.Nodes = []metrics.Node{{Name: "n1", Pool: "general", Ready: true, CPU: 4}}
	b.States = []metrics.WorkloadState{{Workload: web, Pods: 3, Ready: 2, Pending: 1, CPURequest: 0.25, Nodes: map[string]int{"n1": 2}}}
	if _, err := s.Write(ctx, b, at); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LatestInventory(ctx, time.Time{})
	if err != nil || !ok || !got.At.Equal(at) || got.ControlPlaneVersion != "v1.37.2" || len(got.Nodes) != 1 ||
		len(got.Workloads) != 1 || got.Workloads[0].Ready != 2 || got.Workloads[0].Nodes["n1"] != 2 {
		t.Fatalf("inventory %+v ok %v err %v", got, ok, err)
	}
	// A batch without states or nodes (Prometheus, traces) stores none.
	b2 := batch(metrics.Key{Workload: web, Resource: metrics.CPU}, at.Add(time.Hour), time.Minute, 1, func(int) float64 { return 1 })
	if _, err := s.Write(ctx, b2, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.LatestInventory(ctx, time.Time{}); !got.At.Equal(at) {
		t.Errorf("latest inventory at %v, want %v", got.At, at)
	}
}

func TestLateSamplesMergeIntoCompactedHours(t *testing.T) {
	s := open(t, tempDB(t), &Options{Retention: Retention{Raw: time.Hour, Hourly: 72 * time.Hour}})
	hour := t0.Add(10 * time.Hour)
	now := hour.Add(3 * time.Hour) // raw kept from 12:00: hour 10:00 is compacted
	// Minutes 0..29 of the hour, values 1..30: count 30, mean 15.5, max 30, p95 = the 29th of 30 = 29.
	if _, err := s.Write(ctx, batch(webCPU, hour, time.Minute, 30, func(i int) float64 { return float64(i + 1) }), hour); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Compact(ctx, now); err != nil || st.Hours != 1 || st.Merged != 0 {
		t.Fatalf("first compact %+v %v", st, err)
	}
	// Late: minutes 30..39 with values 100..109, and minute 5 again (a re-collection).
	late := batch(webCPU, hour.Add(30*time.Minute), time.Minute, 10, func(i int) float64 { return float64(100 + i) })
	late.Series[0].Points = append(late.Series[0].Points, metrics.Point{T: hour.Add(5 * time.Minute), V: 999})
	if _, err := s.Write(ctx, late, now); err != nil {
		t.Fatal(err)
	}
	st, err := s.Compact(ctx, now)
	if err != nil || st.Hours != 0 || st.Merged != 10 || st.Skipped != 1 || st.RawDeleted != 11 {
		t.Fatalf("merge compact %+v %v", st, err)
	}
	// count 30 + 10 = 40; mean (15.5 × 30 + 104.5 × 10) / 40 = 1510 / 40 = 37.75; max 109; p95 max(29, 109)
	// = 109, at or above the exact p95 of the 40 samples (the 38th: 107).
	hours, err := s.ReadHourly(ctx, webCPU, time.Time{}, time.Time{})
	if err != nil || len(hours) != 1 {
		t.Fatalf("%v %v", hours, err)
	}
	if h := hours[0]; h.Count != 40 || h.Mean != 37.75 || h.Max != 109 || h.P95 != 109 || h.P95 < 107 {
		t.Fatalf("merged hour %+v", h)
	}
	// Re-collecting the same late window counts nothing twice.
	if _, err := s.Write(ctx, late, now); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Compact(ctx, now); err != nil || st.Merged != 0 || st.Skipped != 11 {
		t.Fatalf("re-collected compact %+v %v", st, err)
	}
	if h, _ := s.ReadHourly(ctx, webCPU, time.Time{}, time.Time{}); h[0] != hours[0] {
		t.Fatalf("hour changed on a re-collection: %+v → %+v", hours[0], h[0])
	}
	// An hour aggregated before minutes were recorded (schema 2) keeps its aggregate.
	legacy := hour.Add(-time.Hour)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO hourly (series_id, ts, count, mean, max, p95) SELECT id, ?, 60, 5, 9, 8 FROM series`, ms(legacy)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, batch(webCPU, legacy, time.Minute, 3, func(int) float64 { return 50 }), now); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Compact(ctx, now); err != nil || st.Merged != 0 || st.Skipped != 3 {
		t.Fatalf("legacy compact %+v %v", st, err)
	}
	if h, _ := s.ReadHourly(ctx, webCPU, legacy, hour); len(h) != 1 || h[0].Count != 60 || h[0].Max != 9 {
		t.Fatalf("legacy hour %+v", h)
	}
}

func TestExportImportCompactedHours(t *testing.T) {
	s := open(t, tempDB(t), &Options{Retention: Retention{Raw: time.Hour, Hourly: 72 * time.Hour}})
	// Two hours of minutes, values = minute of the hour (0..59) + 100 × hour; the first is compacted:
	// count 60, mean 29.5, max 59, p95 = the 57th of 60 = 56.
	if _, err := s.Write(ctx, batch(webCPU, t0, time.Minute, 120, func(i int) float64 { return float64(i%60) + 100*float64(i/60) }), t0); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Compact(ctx, t0.Add(2*time.Hour)); err != nil || st.Hours != 1 {
		t.Fatalf("compact %+v %v", st, err)
	}
	var buf bytes.Buffer
	st, err := s.Export(ctx, &buf, metrics.Workload{}, time.Time{}, time.Time{})
	if err != nil || st.Series != 1 || st.Samples != 61 || st.Rows != 61 {
		t.Fatalf("export %+v %v", st, err)
	}
	lines := strings.Split(buf.String(), "\n")
	if lines[0] != "timestamp,Deployment/shop/web/cpu,Deployment/shop/web/cpu@count,Deployment/shop/web/cpu@max,Deployment/shop/web/cpu@p95" ||
		lines[1] != "2026-03-01T00:00:00Z,29.5,60,59,56" || lines[2] != "2026-03-01T01:00:00Z,100,,," {
		t.Fatalf("export begins\n%s\n%s\n%s", lines[0], lines[1], lines[2])
	}
	s2 := open(t, tempDB(t), nil)
	for range 2 { // twice: the second import changes nothing
		if _, err := s2.Import(ctx, bytes.NewReader(buf.Bytes()), "backup.csv", t0); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s2.ReadHourly(ctx, webCPU, time.Time{}, time.Time{})
	if err != nil || len(h) != 1 || h[0] != (Aggregate{T: t0, Count: 60, Mean: 29.5, Max: 59, P95: 56}) {
		t.Fatalf("imported hours %+v %v", h, err)
	}
	raw, err := s2.Read(ctx, webCPU, time.Time{}, time.Time{})
	if err != nil || len(raw) != 60 || !raw[0].T.Equal(t0.Add(time.Hour)) || raw[0].V != 100 || raw[59].V != 159 {
		t.Fatalf("imported raw %d samples %v", len(raw), err)
	}
	// An aggregate without a count is refused with the file and column named.
	bad := "timestamp,Deployment/shop/web/cpu,Deployment/shop/web/cpu@count\n2026-03-01T00:00:00Z,,60\n2026-03-01T01:00:00Z,1,\n"
	if _, err := s2.Import(ctx, strings.NewReader(bad), "bad.csv", t0); err == nil || !strings.Contains(err.Error(), "bad.csv: column Deployment/shop/web/cpu at 2026-03-01T00:00:00Z") {
		t.Fatalf("bad aggregate: %v", err)
	}
}
