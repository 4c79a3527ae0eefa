package tracefile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics"
)

func TestSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.csv")
	os.WriteFile(path, []byte("timestamp,cpu_pct,mem\n2026-03-01T00:00:00Z,50,1\n2026-03-01T00:05:00Z,,2\n2026-03-01T00:10:00Z,70,3\n"), 0o644)
	web := metrics.Workload{Kind: "Deployment", Namespace: "shop", Name: "web"}
	s := &Source{Path: path, Workload: web, Columns: []Column{{Name: "cpu_pct", Resource: metrics.CPU, Scale: 0.04}}}
	b, err := s.Collect(context.Background(), metrics.Window{})
	if err != nil {
		t.Fatal(err)
	}
	// The one-cell gap is filled by the reader (interpolated: 60 % of 4 cores).
	p := b.Series[0].Points
	if len(b.Series) != 1 || b.Series[0].Key.String() != "Deployment/shop/web/cpu" || len(p) != 3 || p[1].V != 2.4 {
		t.Fatalf("%+v", b.Series)
	}
	t0 := time.Date(2026, 3, 1, 0, 5, 0, 0, time.UTC)
	b, _ = s.Collect(context.Background(), metrics.Window{Start: t0})
	if len(b.Series[0].Points) != 2 {
		t.Fatalf("window: %+v", b.Series[0].Points)
	}
	b, _ = (&Source{Path: path}).Collect(context.Background(), metrics.Window{})
	if len(b.Series) != 2 || b.Series[1].Key.String() != "Trace/web/mem" {
		t.Fatalf("%+v", b.Series)
	}
	if _, err := (&Source{Path: path + ".missing"}).Collect(context.Background(), metrics.Window{}); !errors.Is(err, metrics.ErrUnavailable) {
		t.Fatal(err)
	}
}
