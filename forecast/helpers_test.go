package forecast

import (
	"path/filepath"
	"testing"

	"github.com/headroom-dev/headroom/metrics/trace"
)

// loadTraceColumn reads a shipped trace ("" = first column) as a Series.
func loadTraceColumn(tb testing.TB, file, column string) Series {
	tb.Helper()
	tr, err := trace.ReadFile(filepath.Join("..", "testdata", "traces", file), nil)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := tr.Column(column)
	if err != nil {
		tb.Fatal(err)
	}
	return Series{Name: file + ":" + c.Name, Start: tr.Start, Step: tr.Step, Values: c.Values}
}
