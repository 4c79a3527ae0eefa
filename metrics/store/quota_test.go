package store

import (
	"database/sql"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

func quota(ns, name string, hard, used map[string]float64, scopes ...string) metrics.ResourceQuota {
	return metrics.ResourceQuota{Namespace: ns, Name: name, Hard: hard, Used: used, Scopes: scopes}
}

func sameQuotas(a, b []metrics.ResourceQuota) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Namespace != b[i].Namespace || a[i].Name != b[i].Name || !maps.Equal(a[i].Hard, b[i].Hard) || !maps.Equal(a[i].Used, b[i].Used) ||
			len(a[i].Scopes) != len(b[i].Scopes) {
			return false
		}
		for j := range a[i].Scopes {
			if a[i].Scopes[j] != b[i].Scopes[j] {
				return false
			}
		}
	}
	return true
}

// Quotas written with a collection's batch come back with its inventory snapshot, in the same transaction:
// used values the status lacks stay absent (not 0), scopes round-trip, a later snapshot without quotas
// read is QuotasRead false (unknown) while one that read none is true with no quotas, and a snapshot
// written again at the same time replaces its quotas.
func TestInventoryQuotas(t *testing.T) {
	s := open(t, tempDB(t), nil)
	at := t0.Add(time.Hour)
	quotas := []metrics.ResourceQuota{
		quota("batch", "compute", map[string]float64{"pods": 10}, map[string]float64{}, "BestEffort", "PriorityClass In (low)"),
		quota("shop", "compute", map[string]float64{"requests.cpu": 8, "requests.memory": 16 << 30, "pods": 40}, map[string]float64{"requests.cpu": 3.25, "pods": 7}),
	}
	b := batch(metrics.Key{Workload: web, Resource: metrics.CPU}, at, time.Minute, 1, func(int) float64 { return 1 })
	b.Window = metrics.Window{Start: at, End: at}
	b.States = []metrics.WorkloadState{{Workload: web, Pods: 7, Ready: 7, CPURequest: 0.5}}
	b.Quotas, b.QuotasRead = quotas, true
	if _, err := s.Write(ctx, b, at); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LatestInventory(ctx, time.Time{})
	if err != nil || !ok || !got.QuotasRead || !sameQuotas(got.Quotas, quotas) {
		t.Fatalf("inventory quotas %+v read %v ok %v err %v", got.Quotas, got.QuotasRead, ok, err)
	}
	if _, counted := got.Quotas[1].Used["requests.memory"]; counted {
		t.Error("requests.memory has no used value in the status but came back as one")
	}
	// Not read (a collector without the rule): unknown, and the older snapshot keeps its quotas.
	later := at.Add(time.Hour)
	if err := s.PutInventory(ctx, metrics.Inventory{At: later, Workloads: b.States}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.LatestInventory(ctx, time.Time{}); got.QuotasRead || len(got.Quotas) != 0 {
		t.Errorf("snapshot without quotas read: read %v quotas %+v", got.QuotasRead, got.Quotas)
	}
	if got, _, _ := s.LatestInventory(ctx, at); !got.QuotasRead || !sameQuotas(got.Quotas, quotas) {
		t.Errorf("the earlier snapshot lost its quotas: %+v", got)
	}
	// Read, none there; then the same stamp again with one quota replaces the snapshot's quotas.
	if err := s.PutInventory(ctx, metrics.Inventory{At: later, Workloads: b.States, QuotasRead: true}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.LatestInventory(ctx, time.Time{}); !got.QuotasRead || len(got.Quotas) != 0 {
		t.Errorf("snapshot that read no quotas: read %v quotas %+v", got.QuotasRead, got.Quotas)
	}
	if err := s.PutInventory(ctx, metrics.Inventory{At: at, Workloads: b.States, QuotasRead: true, Quotas: quotas[1:]}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.LatestInventory(ctx, at); !sameQuotas(got.Quotas, quotas[1:]) {
		t.Errorf("rewritten snapshot quotas %+v, want only shop/compute", got.Quotas)
	}
	if err := s.PutInventory(ctx, metrics.Inventory{At: at, QuotasRead: true, Quotas: []metrics.ResourceQuota{quota("shop", "", map[string]float64{"pods": 1}, nil)}}); err == nil {
		t.Error("a quota without a name was stored")
	}
	if got, _, _ := s.LatestInventory(ctx, at); !sameQuotas(got.Quotas, quotas[1:]) {
		t.Errorf("a refused snapshot changed the stored one: %+v", got.Quotas)
	}
}

// testdata/schema3.db was written by headroom at schema 3 (commit 72bd528, before quotas): a collection of
// web's CPU (12 five-minute samples from 1 to 3.75 cores) with an inventory snapshot (one node, web's 3
// pods) and a decision. Opened by this code it migrates to the current schema in place; everything in it
// reads as before, its snapshot has no quotas read (unknown, not none), and a new collection stores quotas.
func TestMigratesSchema3File(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	copyFile(t, filepath.Join("testdata", "schema3.db"), path)
	if _, err := Open(path, &Options{ReadOnly: true}); !errors.Is(err, ErrOlderSchema) {
		t.Fatalf("read-only open of a schema-3 file: %v, want ErrOlderSchema", err)
	}
	s := open(t, path, nil)
	if v, latest, err := s.Version(ctx); err != nil || v != 4 || latest != 4 {
		t.Fatalf("version %d of %d after migration: %v", v, latest, err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 10, 55, 0, 0, time.UTC)
	pts, err := s.Read(ctx, metrics.Key{Workload: web, Resource: metrics.CPU}, time.Time{}, time.Time{})
	if err != nil || len(pts) != 12 || pts[0].V != 1 || pts[11].V != 3.75 || !pts[11].T.Equal(at) {
		t.Fatalf("samples after migration: %v, %v", pts, err)
	}
	inv, ok, err := s.LatestInventory(ctx, time.Time{})
	if err != nil || !ok || !inv.At.Equal(at) || inv.ControlPlaneVersion != "v1.31.2" || len(inv.Nodes) != 1 || len(inv.Workloads) != 1 ||
		inv.Workloads[0].Pods != 3 || inv.Workloads[0].CPURequest != 0.5 {
		t.Fatalf("old inventory %+v ok %v err %v", inv, ok, err)
	}
	if inv.QuotasRead || inv.Quotas != nil {
		t.Errorf("a schema-3 snapshot says its quotas were read: %+v", inv.Quotas)
	}
	if ds, err := s.Decisions(ctx, web, time.Time{}, time.Time{}); err != nil || len(ds) != 1 || ds[0].Reason != "forecast" {
		t.Errorf("decisions %+v, %v", ds, err)
	}
	next := at.Add(5 * time.Minute)
	q := []metrics.ResourceQuota{quota("shop", "compute", map[string]float64{"pods": 4}, map[string]float64{"pods": 3})}
	if err := s.PutInventory(ctx, metrics.Inventory{At: next, Workloads: inv.Workloads, Quotas: q, QuotasRead: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopened read-only (current now): the new snapshot with its quota, the old one still without.
	ro := open(t, path, &Options{ReadOnly: true})
	if got, _, err := ro.LatestInventory(ctx, time.Time{}); err != nil || !got.QuotasRead || !sameQuotas(got.Quotas, q) {
		t.Errorf("new snapshot %+v, %v", got, err)
	}
	if got, _, err := ro.LatestInventory(ctx, at); err != nil || got.QuotasRead {
		t.Errorf("old snapshot %+v, %v", got, err)
	}
	var n int
	if err := ro.db.QueryRow(`SELECT count(*) FROM quotas`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d quota rows, %v", n, err)
	}
	var used sql.NullFloat64
	if err := ro.db.QueryRow(`SELECT used FROM quotas WHERE resource='pods'`).Scan(&used); err != nil || !used.Valid || used.Float64 != 3 {
		t.Errorf("used %v, %v", used, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
