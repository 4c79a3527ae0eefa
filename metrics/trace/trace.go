package trace

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultMaxValues is the default for [Options.MaxValues]: 50 million values, 400 MB of float64.
const DefaultMaxValues = 50_000_000

// Options tunes Read. A nil *Options means the defaults, which are the zero values below.
type Options struct {
	// Step is the grid step. 0 means the lower median of the intervals between consecutive distinct
	// timestamps, snapped to a common sampling interval when the timestamps are jittered (see the package
	// documentation). It must not be negative.
	Step time.Duration

	// MaxFill is the longest run of missing values in a column, in grid points, that is filled by linear
	// interpolation; the run may come from gaps, missing cells or both. 0 means DefaultMaxFill(step); a
	// negative value means never fill.
	MaxFill int

	// MaxValues bounds the grid Read allocates, in values (grid points × value columns), so that a long time
	// span with a tiny step is an error rather than an out-of-memory crash. 0 means DefaultMaxValues. It
	// must not be negative.
	MaxValues int
}

// DefaultMaxFill returns the MaxFill used when Options.MaxFill is 0: the number of points in one hour at the
// given step, but at least 3 and at most 12. See the package documentation for why.
func DefaultMaxFill(step time.Duration) int {
	n := 3
	if step > 0 {
		n = int(time.Hour / step)
	}
	return min(max(n, 3), 12)
}

// Trace is a trace file regularised onto a time grid.
type Trace struct {
	Name    string        // the file name given to Read
	Start   time.Time     // time of grid point 0 (UTC): the earliest timestamp in the file
	Step    time.Duration // always > 0
	Columns []Column      // in header order, excluding the timestamp column
	Report  Report
}

// Column is one series of a trace.
type Column struct {
	Name   string
	Values []float64 // one per grid point; NaN = missing (a gap longer than MaxFill, or no data)
}

// Report says what Read found in a file and what it did to regularise it.
type Report struct {
	Rows            int   // data rows read
	DuplicateStamps int   // rows whose timestamp equals an earlier row's (e.g. daylight-saving repeats)
	OutOfOrder      int   // rows whose timestamp is earlier than the previous row's
	Merged          int   // rows averaged into a grid point that already had a row (duplicate stamps and jitter)
	MissingCells    int   // empty / NaN / NA / null cells in the file
	GridPoints      int   // points in the grid; every column has this many values
	Filled          int   // grid values filled by interpolation (summed over columns)
	Unfilled        int   // grid values left NaN (summed over columns)
	Gaps            []Gap // runs of grid points with no row at all, in time order
}

// Gap is a run of grid points that received no row.
type Gap struct {
	Start  time.Time // time of the first missing point
	Points int       // number of missing points
	Filled bool      // every column has a value at every point of the gap after filling
}

// String returns the report as one line, for example
//
//	4032 rows, 11 duplicate stamps, 12 merged, 2 gaps (13 points filled); 4033 grid points, 13 values filled
func (r Report) String() string {
	var b strings.Builder
	b.WriteString(plural(r.Rows, "row"))
	if r.DuplicateStamps > 0 {
		b.WriteString(", " + plural(r.DuplicateStamps, "duplicate stamp"))
	}
	if r.OutOfOrder > 0 {
		fmt.Fprintf(&b, ", %d out of order", r.OutOfOrder)
	}
	if r.Merged > 0 {
		fmt.Fprintf(&b, ", %d merged", r.Merged)
	}
	if r.MissingCells > 0 {
		b.WriteString(", " + plural(r.MissingCells, "missing cell"))
	}
	if len(r.Gaps) == 0 {
		b.WriteString(", no gaps")
	} else {
		var filled, unfilled int
		for _, g := range r.Gaps {
			if g.Filled {
				filled += g.Points
			} else {
				unfilled += g.Points
			}
		}
		b.WriteString(", " + plural(len(r.Gaps), "gap"))
		switch {
		case unfilled == 0:
			fmt.Fprintf(&b, " (%s filled)", plural(filled, "point"))
		case filled == 0:
			fmt.Fprintf(&b, " (%s not filled)", plural(unfilled, "point"))
		default:
			fmt.Fprintf(&b, " (%d points: %d filled, %d not)", filled+unfilled, filled, unfilled)
		}
	}
	fmt.Fprintf(&b, "; %s", plural(r.GridPoints, "grid point"))
	if r.Filled > 0 {
		fmt.Fprintf(&b, ", %s filled", plural(r.Filled, "value"))
	}
	if r.Unfilled > 0 {
		fmt.Fprintf(&b, ", %s left missing", plural(r.Unfilled, "value"))
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Len returns the number of grid points.
func (t *Trace) Len() int { return t.Report.GridPoints }

// Time returns the time of grid point i.
func (t *Trace) Time(i int) time.Time {
	return t.Start.Add(time.Duration(i) * t.Step)
}

// Column returns the column with the given name; "" means the first column. An unknown name is an error
// wrapping ErrNoColumn that lists the columns there are. The returned Values share the trace's storage.
func (t *Trace) Column(name string) (Column, error) {
	if name == "" && len(t.Columns) > 0 {
		return t.Columns[0], nil
	}
	for _, c := range t.Columns {
		if c.Name == name {
			return c, nil
		}
	}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return Column{}, fmt.Errorf("%w %q in %s (columns: %s)", ErrNoColumn, name, t.Name, strings.Join(names, ", "))
}

// ReadFile opens the file at path and reads it with Read, naming it by path.
func ReadFile(path string, opt *Options) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path, opt)
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// Read reads a trace in CSV form from r and regularises it onto a grid; name is used in errors and as
// Trace.Name. The package documentation describes the format and what Read does to the samples.
func Read(r io.Reader, name string, opt *Options) (*Trace, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.Step < 0 {
		return nil, fmt.Errorf("%w: negative Step %v", ErrOptions, o.Step)
	}
	if o.MaxValues < 0 {
		return nil, fmt.Errorf("%w: negative MaxValues %d", ErrOptions, o.MaxValues)
	}
	if o.MaxValues == 0 {
		o.MaxValues = DefaultMaxValues
	}
	rd := reader{name: name}
	if err := rd.read(r); err != nil {
		return nil, err
	}
	return rd.regularise(o)
}

// reader holds a file's rows as read, before regularising.
type reader struct {
	name    string
	columns []string
	times   []time.Time // one per row, in file order
	values  []float64   // len(columns) per row, in file order; NaN = missing
	report  Report
}

// wrap prefixes err with the file name.
func (rd *reader) wrap(err error) error {
	if rd.name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", rd.name, err)
}

func (rd *reader) errAt(line, col int, sentinel error, format string, args ...any) error {
	return &ParseError{File: rd.name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// csvError turns an error from encoding/csv into a *ParseError, or names the file in an I/O error.
func (rd *reader) csvError(err error, rec []string) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return rd.wrap(err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		want := len(rd.columns) + 1
		return rd.errAt(pe.StartLine, min(len(rec), want)+1, ErrFieldCount,
			"row has %d fields, header has %d", len(rec), want)
	}
	return rd.errAt(pe.Line, 0, ErrSyntax, "%v at byte %d", pe.Err, pe.Column)
}

func (rd *reader) read(r io.Reader) error {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
		br.Discard(len(bom))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = 0 // the header's count: a row with more or fewer fields is an error naming its line
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return rd.errAt(1, 0, ErrHeader, "empty file: no header row")
	}
	if err != nil {
		return rd.csvError(err, header)
	}
	line, _ := cr.FieldPos(0)
	if len(header) < 2 {
		return rd.errAt(line, 0, ErrHeader, "header has %d field: want a timestamp column and at least one value column", len(header))
	}
	rd.columns = make([]string, len(header)-1)
	seen := make(map[string]int, len(header)-1)
	for i, h := range header[1:] {
		h = strings.TrimSpace(h)
		if h == "" {
			return rd.errAt(line, i+2, ErrHeader, "empty column name")
		}
		if j, dup := seen[h]; dup {
			return rd.errAt(line, i+2, ErrHeader, "duplicate column name %s (also column %d)", quote(h), j+2)
		}
		seen[h] = i
		rd.columns[i] = h
	}

	cols := len(rd.columns)
	rep := &rd.report
	var prev time.Time
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rd.csvError(err, rec)
		}
		line, _ := cr.FieldPos(0)
		t, ok := parseTime(strings.TrimSpace(rec[0]))
		if !ok {
			return rd.errAt(line, 1, ErrTimestamp,
				"cannot parse %s as a timestamp (want RFC 3339, 2006-01-02[ 15:04:05] or Unix seconds)", quote(rec[0]))
		}
		if rep.Rows > 0 && t.Before(prev) {
			rep.OutOfOrder++
		}
		prev = t
		rep.Rows++
		rd.times = append(rd.times, t)
		for j, cell := range rec[1:] {
			v, st := parseValue(cell)
			switch st {
			case valueMissing:
				rep.MissingCells++
			case valueBad:
				line, _ := cr.FieldPos(j + 1)
				return rd.errAt(line, j+2, ErrNumber, "cannot parse %s as a number", quote(cell))
			case valueInfinite:
				line, _ := cr.FieldPos(j + 1)
				return rd.errAt(line, j+2, ErrNumber, "%s is not a finite float64", quote(cell))
			}
			rd.values = append(rd.values, v)
		}
	}
	if rep.Rows == 0 {
		return rd.wrap(ErrNoRows)
	}
	if rep.MissingCells == rep.Rows*cols {
		return rd.wrap(ErrNoValues)
	}
	return nil
}

// regularise puts the rows onto the grid, fills short runs of missing values and completes the report.
func (rd *reader) regularise(o Options) (*Trace, error) {
	rep := &rd.report
	n, cols := len(rd.times), len(rd.columns)

	// Sort order: the identity when the file is in order, as it nearly always is.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if rep.OutOfOrder > 0 {
		slices.SortStableFunc(order, func(a, b int) int { return rd.times[a].Compare(rd.times[b]) })
	}
	at := func(k int) time.Time { return rd.times[order[k]] }
	for k := 1; k < n; k++ {
		if at(k).Equal(at(k - 1)) {
			rep.DuplicateStamps++
		}
	}

	start, end := at(0), at(n-1)
	span := end.Sub(start)
	if !start.Add(span).Equal(end) {
		return nil, rd.wrap(fmt.Errorf("%w: %v to %v: %w", ErrTooLarge, start.Format(time.RFC3339), end.Format(time.RFC3339), errSpanLimit))
	}
	step := o.Step
	if step == 0 {
		step = medianStep(n, at)
		if step == 0 {
			return nil, rd.wrap(fmt.Errorf("%w: every row has the timestamp %v; set Options.Step", ErrStep, start.Format(time.RFC3339Nano)))
		}
	}
	last := roundDiv(span, step)
	if last >= int64(o.MaxValues)/int64(cols) {
		return nil, rd.wrap(fmt.Errorf("%w: %v to %v at a step of %v needs %d grid points × %d columns, more than Options.MaxValues (%d)",
			ErrTooLarge, start.Format(time.RFC3339), end.Format(time.RFC3339), step, last+1, cols, o.MaxValues))
	}
	points := int(last) + 1
	rep.GridPoints = points

	// Columns share one backing array; each is capped so that an append by a caller cannot run into the next.
	backing := make([]float64, points*cols)
	for i := range backing {
		backing[i] = math.NaN()
	}
	tr := &Trace{Name: rd.name, Start: start, Step: step, Columns: make([]Column, cols)}
	for c := range cols {
		tr.Columns[c] = Column{Name: rd.columns[c], Values: backing[c*points : (c+1)*points : (c+1)*points]}
	}

	// Rows are in time order, so the rows of one grid point are consecutive.
	prevIdx := -1
	for k := 0; k < n; {
		idx := int(roundDiv(at(k).Sub(start), step))
		e := k + 1
		for e < n && int(roundDiv(at(e).Sub(start), step)) == idx {
			e++
		}
		if idx > prevIdx+1 {
			rep.Gaps = append(rep.Gaps, Gap{Start: tr.Time(prevIdx + 1), Points: idx - prevIdx - 1})
		}
		rep.Merged += e - k - 1
		for c := range cols {
			tr.Columns[c].Values[idx] = rd.mean(order[k:e], c)
		}
		prevIdx = idx
		k = e
	}

	maxFill := o.MaxFill
	if maxFill == 0 {
		maxFill = DefaultMaxFill(step)
	}
	for _, c := range tr.Columns {
		f, u := fill(c.Values, maxFill)
		rep.Filled += f
		rep.Unfilled += u
	}
	for i, g := range rep.Gaps {
		// A column fills a run of missing values wholly or not at all, so one point of the gap tells.
		idx := int(g.Start.Sub(start) / step)
		filled := true
		for _, c := range tr.Columns {
			if math.IsNaN(c.Values[idx]) {
				filled = false
				break
			}
		}
		rep.Gaps[i].Filled = filled
	}
	tr.Report = *rep
	return tr, nil
}

// commonSteps are the sampling intervals that jittered timestamps are snapped to.
var commonSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second,
	30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 7 * 24 * time.Hour,
}

// medianStep infers the grid step from the positive intervals between consecutive sorted timestamps: their
// lower median, or, when that exact interval is not the majority (the timestamps are jittered) and it lies
// within 5 % of a common sampling interval, that interval. It returns 0 when there is no positive interval.
func medianStep(n int, at func(int) time.Time) time.Duration {
	d := make([]time.Duration, 0, n)
	for k := 1; k < n; k++ {
		if iv := at(k).Sub(at(k - 1)); iv > 0 {
			d = append(d, iv)
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	m := d[(len(d)-1)/2]
	lo, _ := slices.BinarySearch(d, m)
	hi, _ := slices.BinarySearch(d, m+1)
	if 2*(hi-lo) >= len(d) {
		return m // a regular step
	}
	return snapStep(m)
}

// snapStep returns the common sampling interval within 5 % of m, or m when there is none.
func snapStep(m time.Duration) time.Duration {
	for _, s := range commonSteps {
		if diff := max(m-s, s-m); diff <= s/20 {
			return s
		}
	}
	return m
}

// roundDiv returns d/step rounded to the nearest integer, halves up, for d >= 0 and step > 0, without overflow.
func roundDiv(d, step time.Duration) int64 {
	q, r := d/step, d%step
	if r >= step-r {
		q++
	}
	return int64(q)
}

// mean returns the mean of column c over the given rows, ignoring missing values; NaN if all are missing.
func (rd *reader) mean(rows []int, c int) float64 {
	cols := len(rd.columns)
	if len(rows) == 1 {
		return rd.values[rows[0]*cols+c]
	}
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	cnt := 0
	for _, r := range rows {
		v := rd.values[r*cols+c]
		if math.IsNaN(v) {
			continue
		}
		sum += v
		lo, hi = min(lo, v), max(hi, v)
		cnt++
	}
	if cnt == 0 {
		return math.NaN()
	}
	m := sum / float64(cnt)
	if math.IsInf(m, 0) { // the sum of values near ±MaxFloat64 overflowed: scale first
		m = 0
		for _, r := range rows {
			if v := rd.values[r*cols+c]; !math.IsNaN(v) {
				m += v / float64(cnt)
			}
		}
	}
	return min(max(m, lo), hi) // the mean lies between the extremes; rounding must not push it out
}

// fill interpolates runs of at most maxFill NaNs that have a value on both sides, and returns how many values
// it filled and how many it left NaN.
func fill(v []float64, maxFill int) (filled, unfilled int) {
	for i := 0; i < len(v); {
		if !math.IsNaN(v[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(v) && math.IsNaN(v[j]) {
			j++
		}
		if i > 0 && j < len(v) && j-i <= maxFill {
			a, b := v[i-1], v[j]
			lo, hi := min(a, b), max(a, b)
			for k := i; k < j; k++ {
				f := float64(k-i+1) / float64(j-i+1)
				x := a + (b-a)*f
				if math.IsInf(x, 0) || math.IsNaN(x) { // b-a overflowed
					x = a*(1-f) + b*f
				}
				v[k] = min(max(x, lo), hi)
			}
			filled += j - i
		} else {
			unfilled += j - i
		}
		i = j
	}
	return filled, unfilled
}
