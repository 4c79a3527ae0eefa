package trace

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// mustRead reads src and fails the test on an error; every trace it returns has passed checkInvariants.
func mustRead(t *testing.T, src string, opt *Options) *Trace {
	t.Helper()
	tr, err := Read(strings.NewReader(src), "test.csv", opt)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := checkInvariants(tr); err != nil {
		t.Fatalf("invariant: %v", err)
	}
	return tr
}

// checkInvariants checks what must hold for every trace Read returns; the fuzz target relies on it.
func checkInvariants(tr *Trace) error {
	r := tr.Report
	switch {
	case tr.Step <= 0:
		return fmt.Errorf("step %v", tr.Step)
	case tr.Start.Location() != time.UTC:
		return fmt.Errorf("start %v not in UTC", tr.Start)
	case len(tr.Columns) == 0:
		return fmt.Errorf("no columns")
	case r.Rows < 1 || r.GridPoints < 1:
		return fmt.Errorf("rows %d, grid points %d", r.Rows, r.GridPoints)
	case r.DuplicateStamps < 0 || r.DuplicateStamps >= r.Rows:
		return fmt.Errorf("duplicate stamps %d of %d rows", r.DuplicateStamps, r.Rows)
	case r.OutOfOrder < 0 || r.OutOfOrder >= r.Rows:
		return fmt.Errorf("out of order %d of %d rows", r.OutOfOrder, r.Rows)
	case r.Merged < r.DuplicateStamps || r.Merged >= r.Rows:
		return fmt.Errorf("merged %d, duplicate stamps %d, rows %d", r.Merged, r.DuplicateStamps, r.Rows)
	case r.MissingCells < 0 || r.MissingCells >= r.Rows*len(tr.Columns):
		return fmt.Errorf("missing cells %d of %d", r.MissingCells, r.Rows*len(tr.Columns))
	case r.Filled < 0 || r.Unfilled < 0 || r.Filled+r.Unfilled > r.GridPoints*len(tr.Columns):
		return fmt.Errorf("filled %d + unfilled %d > %d values", r.Filled, r.Unfilled, r.GridPoints*len(tr.Columns))
	}
	names := map[string]bool{}
	nan, finite := 0, 0
	for _, c := range tr.Columns {
		if c.Name == "" || names[c.Name] {
			return fmt.Errorf("column name %q empty or repeated", c.Name)
		}
		names[c.Name] = true
		if len(c.Values) != r.GridPoints {
			return fmt.Errorf("column %q has %d values, want %d", c.Name, len(c.Values), r.GridPoints)
		}
		for i, v := range c.Values {
			switch {
			case math.IsInf(v, 0):
				return fmt.Errorf("column %q value %d is %v", c.Name, i, v)
			case math.IsNaN(v):
				nan++
			default:
				finite++
			}
		}
	}
	if nan != r.Unfilled {
		return fmt.Errorf("%d NaN values, report says %d unfilled", nan, r.Unfilled)
	}
	if finite == 0 {
		return fmt.Errorf("no values at all")
	}
	// Every grid point either holds rows or lies in a gap.
	gapPoints, next := 0, 0
	for _, g := range r.Gaps {
		idx := g.Start.Sub(tr.Start) / tr.Step
		if g.Points < 1 || tr.Time(int(idx)) != g.Start || int(idx) < next+1 || int(idx)+g.Points >= r.GridPoints {
			return fmt.Errorf("gap %+v out of place (grid of %d points from %v)", g, r.GridPoints, tr.Start)
		}
		next = int(idx) + g.Points // the point after a gap holds a row
		gapPoints += g.Points
	}
	if held := r.Rows - r.Merged; held+gapPoints != r.GridPoints {
		return fmt.Errorf("%d points hold rows + %d gap points != %d grid points", held, gapPoints, r.GridPoints)
	}
	if s := r.String(); s == "" || strings.Contains(s, "\n") {
		return fmt.Errorf("report string %q", s)
	}
	return nil
}

// same reports whether two value slices are equal within tol, NaN matching NaN.
func same(got, want []float64, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.IsNaN(got[i]) != math.IsNaN(want[i]) {
			return false
		}
		if !math.IsNaN(got[i]) && math.Abs(got[i]-want[i]) > tol*max(1, math.Abs(want[i])) {
			return false
		}
	}
	return true
}

var nan = math.NaN()

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
