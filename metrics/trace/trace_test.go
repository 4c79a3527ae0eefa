package trace

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadDuplicateStamps(t *testing.T) {
	// The daylight-saving artefact of the NAB traces: local wall-clock stamps written as UTC, so the skipped
	// hour is a gap and the rows logged during it all carry the stamp 03:00.
	dst := "timestamp,v\n" +
		"2014-03-09T01:50:00Z,1\n" +
		"2014-03-09T01:55:00Z,2\n" +
		"2014-03-09T03:00:00Z,10\n" +
		"2014-03-09T03:00:00Z,20\n" +
		"2014-03-09T03:00:00Z,30\n" +
		"2014-03-09T03:05:00Z,4\n" +
		"2014-03-09T03:10:00Z,5\n"
	tests := []struct {
		name      string
		src       string
		opt       *Options
		want      map[string][]float64 // column -> values
		dup       int
		merged    int
		ooo       int
		gaps      []Gap
		wantStart string
	}{
		{
			name: "DST repeat: several rows on one stamp are averaged, the skipped hour is a filled gap",
			src:  dst,
			want: map[string][]float64{"v": func() []float64 {
				v := []float64{1, 2}
				for k := 1; k <= 12; k++ { // 02:00 … 02:55, from 2 at 01:55 to 20 at 03:00
					v = append(v, 2+18*float64(k)/13)
				}
				return append(v, 20, 4, 5)
			}()},
			dup: 2, merged: 2,
			gaps:      []Gap{{Start: mustTime("2014-03-09T02:00:00Z"), Points: 12, Filled: true}},
			wantStart: "2014-03-09T01:50:00Z",
		},
		{
			name: "missing cells are left out of the average",
			src:  "timestamp,a,b\n0,1,\n0,3,5\n0,,7\n60,2,2\n",
			want: map[string][]float64{"a": {2, 2}, "b": {6, 2}},
			dup:  2, merged: 2,
			wantStart: "1970-01-01T00:00:00Z",
		},
		{
			name: "a point whose rows are all missing in a column is missing there",
			src:  "timestamp,a,b\n0,1,1\n60,2,\n60,4,\n120,3,3\n",
			opt:  &Options{MaxFill: -1},
			want: map[string][]float64{"a": {1, 3, 3}, "b": {1, nan, 3}},
			dup:  1, merged: 1,
			wantStart: "1970-01-01T00:00:00Z",
		},
		{
			name: "a repeated stamp that is not adjacent counts as duplicate and out of order",
			src:  "timestamp,v\n0,1\n60,2\n0,3\n",
			want: map[string][]float64{"v": {2, 2}},
			dup:  1, merged: 1, ooo: 1,
			wantStart: "1970-01-01T00:00:00Z",
		},
		{
			name: "every row on one stamp, with a step given",
			src:  "timestamp,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:00:00Z,2\n2024-01-01T00:00:00Z,6\n",
			opt:  &Options{Step: time.Minute},
			want: map[string][]float64{"v": {3}},
			dup:  2, merged: 2,
			wantStart: "2024-01-01T00:00:00Z",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, tt.opt)
			for name, want := range tt.want {
				c, err := tr.Column(name)
				if err != nil {
					t.Fatal(err)
				}
				if !same(c.Values, want, 1e-12) {
					t.Errorf("%s = %v, want %v", name, c.Values, want)
				}
			}
			r := tr.Report
			if r.DuplicateStamps != tt.dup || r.Merged != tt.merged || r.OutOfOrder != tt.ooo {
				t.Errorf("duplicates %d, merged %d, out of order %d; want %d, %d, %d",
					r.DuplicateStamps, r.Merged, r.OutOfOrder, tt.dup, tt.merged, tt.ooo)
			}
			if !gapsEqual(r.Gaps, tt.gaps) {
				t.Errorf("gaps = %+v, want %+v", r.Gaps, tt.gaps)
			}
			if !tr.Start.Equal(mustTime(tt.wantStart)) {
				t.Errorf("start = %v, want %v", tr.Start, tt.wantStart)
			}
		})
	}
}

func gapsEqual(a, b []Gap) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Start.Equal(b[i].Start) || a[i].Points != b[i].Points || a[i].Filled != b[i].Filled {
			return false
		}
	}
	return true
}

// fiveMinute returns a one-column trace at a 5-minute step whose value is the point index, leaving out the
// points in skip.
func fiveMinute(points int, skip func(i int) bool) string {
	var b strings.Builder
	b.WriteString("timestamp,v\n")
	start := mustTime("2024-01-01T00:00:00Z")
	for i := range points {
		if skip(i) {
			continue
		}
		b.WriteString(start.Add(time.Duration(i) * 5 * time.Minute).Format(time.RFC3339))
		b.WriteString(",")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("\n")
	}
	return b.String()
}

func TestReadGaps(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	tests := []struct {
		name     string
		src      string
		opt      *Options
		want     []float64
		gaps     []Gap
		filled   int
		unfilled int
	}{
		{
			name:   "short gap filled by linear interpolation",
			src:    "timestamp,v\n0,0\n60,10\n240,40\n300,50\n",
			want:   []float64{0, 10, 20, 30, 40, 50},
			gaps:   []Gap{{Start: at(120), Points: 2, Filled: true}},
			filled: 2,
		},
		{
			name:     "gap longer than MaxFill left NaN",
			src:      "timestamp,v\n0,0\n60,1\n300,5\n360,6\n",
			opt:      &Options{MaxFill: 2},
			want:     []float64{0, 1, nan, nan, nan, 5, 6},
			gaps:     []Gap{{Start: at(120), Points: 3, Filled: false}},
			unfilled: 3,
		},
		{
			name:     "negative MaxFill never fills",
			src:      "timestamp,v\n0,0\n60,1\n180,3\n",
			opt:      &Options{MaxFill: -1},
			want:     []float64{0, 1, nan, 3},
			gaps:     []Gap{{Start: at(120), Points: 1, Filled: false}},
			unfilled: 1,
		},
		{
			name: "short and long gaps in one file",
			src:  "timestamp,v\n0,0\n120,2\n180,3\n480,8\n540,9\n",
			opt:  &Options{MaxFill: 3},
			want: []float64{0, 1, 2, 3, nan, nan, nan, nan, 8, 9},
			gaps: []Gap{
				{Start: at(60), Points: 1, Filled: true},
				{Start: at(240), Points: 4, Filled: false},
			},
			filled: 1, unfilled: 4,
		},
		{
			name: "a missing cell next to a gap makes the run too long in that column only",
			src:  "timestamp,a,b\n0,0,0\n60,1,\n180,3,3\n",
			opt:  &Options{MaxFill: 1},
			want: nil, // checked below
			gaps: []Gap{{Start: at(120), Points: 1, Filled: false}},
			// a: the gap is filled; b: the missing cell and the gap make a run of 2 > MaxFill.
			filled: 1, unfilled: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, tt.opt)
			if tt.want != nil && !same(tr.Columns[0].Values, tt.want, 1e-12) {
				t.Errorf("values = %v, want %v", tr.Columns[0].Values, tt.want)
			}
			r := tr.Report
			if !gapsEqual(r.Gaps, tt.gaps) {
				t.Errorf("gaps = %+v, want %+v", r.Gaps, tt.gaps)
			}
			if r.Filled != tt.filled || r.Unfilled != tt.unfilled {
				t.Errorf("filled %d, unfilled %d; want %d, %d", r.Filled, r.Unfilled, tt.filled, tt.unfilled)
			}
		})
	}
	t.Run("a missing cell next to a gap: values", func(t *testing.T) {
		tr := mustRead(t, tests[4].src, tests[4].opt)
		if a := tr.Columns[0].Values; !same(a, []float64{0, 1, 2, 3}, 1e-12) {
			t.Errorf("a = %v", a)
		}
		if b := tr.Columns[1].Values; !same(b, []float64{0, nan, nan, 3}, 1e-12) {
			t.Errorf("b = %v", b)
		}
	})
}

func TestReadDefaultMaxFill(t *testing.T) {
	// At a 5-minute step the default fills runs of up to 12 points (one hour) and no longer.
	tests := []struct {
		name   string
		hole   int
		filled bool
	}{
		{"12 missing 5-minute points are filled", 12, true},
		{"13 missing 5-minute points are not", 13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 20 points before the hole, 20 after: the median interval stays 5 minutes.
			src := fiveMinute(40+tt.hole, func(i int) bool { return i >= 20 && i < 20+tt.hole })
			tr := mustRead(t, src, nil)
			if tr.Step != 5*time.Minute {
				t.Fatalf("step %v", tr.Step)
			}
			g := tr.Report.Gaps
			if len(g) != 1 || g[0].Points != tt.hole || g[0].Filled != tt.filled {
				t.Fatalf("gaps = %+v, want one of %d points, filled %v", g, tt.hole, tt.filled)
			}
			if tt.filled {
				// The values are the point indices, so interpolation must give them back.
				for i, v := range tr.Columns[0].Values {
					if math.Abs(v-float64(i)) > 1e-9 {
						t.Fatalf("value %d = %v", i, v)
					}
				}
			}
		})
	}
}

func TestDefaultMaxFill(t *testing.T) {
	tests := []struct {
		step time.Duration
		want int
	}{
		{time.Second, 12},
		{time.Minute, 12},
		{5 * time.Minute, 12},
		{10 * time.Minute, 6},
		{15 * time.Minute, 4},
		{20 * time.Minute, 3},
		{30 * time.Minute, 3},
		{time.Hour, 3},
		{24 * time.Hour, 3},
		{0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.step.String(), func(t *testing.T) {
			if got := DefaultMaxFill(tt.step); got != tt.want {
				t.Errorf("DefaultMaxFill(%v) = %d, want %d", tt.step, got, tt.want)
			}
		})
	}
}

func TestReadMissingCells(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		opt     *Options
		want    []float64
		missing int
		filled  int
		unfill  int
	}{
		{
			name: "empty, NaN, nan, NA, null in any case, quoted empty; leading and trailing stay NaN",
			src: "timestamp,v\n0,\n60,1\n120,NaN\n180,nan\n240, NA \n300,null\n360,NULL\n420,7\n" +
				"480,\"\"\n",
			want:    []float64{nan, 1, 2, 3, 4, 5, 6, 7, nan},
			missing: 7, filled: 5, unfill: 2,
		},
		{
			name:    "missing cells are not filled when filling is off",
			src:     "timestamp,v\n0,1\n60,\n120,3\n",
			opt:     &Options{MaxFill: -1},
			want:    []float64{1, nan, 3},
			missing: 1, unfill: 1,
		},
		{
			name:    "a column with no value at all stays NaN beside one with values",
			src:     "timestamp,v,w\n0,,1\n60,,2\n",
			want:    []float64{nan, nan},
			missing: 2, unfill: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, tt.opt)
			if !same(tr.Columns[0].Values, tt.want, 1e-12) {
				t.Errorf("values = %v, want %v", tr.Columns[0].Values, tt.want)
			}
			r := tr.Report
			if r.MissingCells != tt.missing || r.Filled != tt.filled || r.Unfilled != tt.unfill {
				t.Errorf("missing %d, filled %d, unfilled %d; want %d, %d, %d",
					r.MissingCells, r.Filled, r.Unfilled, tt.missing, tt.filled, tt.unfill)
			}
			if len(r.Gaps) != 0 {
				t.Errorf("gaps %+v: a row with missing cells is not a gap", r.Gaps)
			}
		})
	}
}

// TestReadLineEnds covers CRLF line ends, a UTF-8 byte-order mark and a missing final newline, alone and
// together: each must read exactly like the plain LF file.
func TestReadLineEnds(t *testing.T) {
	plain := "timestamp,cpu,mem\n2024-01-01T00:00:00Z,1,10\n2024-01-01T00:01:00Z,2,20\n2024-01-01T00:02:00Z,3,30\n"
	crlf := strings.ReplaceAll(plain, "\n", "\r\n")
	tests := []struct {
		name string
		src  string
	}{
		{"plain LF", plain},
		{"CRLF line ends", crlf},
		{"CRLF without a final newline", strings.TrimSuffix(crlf, "\r\n")},
		{"no trailing newline", strings.TrimSuffix(plain, "\n")},
		{"UTF-8 BOM", "\ufeff" + plain},
		{"UTF-8 BOM with a quoted header", "\ufeff\"timestamp\",\"cpu\",\"mem\"\n" + plain[len("timestamp,cpu,mem\n"):]},
		{"UTF-8 BOM, CRLF and no final newline", "\ufeff" + strings.TrimSuffix(crlf, "\r\n")},
		{"blank lines and spaces around header names", "\n timestamp , cpu ,mem \n\n" + plain[len("timestamp,cpu,mem\n"):]},
		{"quoted fields", "timestamp,cpu,mem\n\"2024-01-01T00:00:00Z\",\"1\",10\n2024-01-01T00:01:00Z,\" 2 \",\"20\"\n2024-01-01T00:02:00Z,3,30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, nil)
			if len(tr.Columns) != 2 || tr.Columns[0].Name != "cpu" || tr.Columns[1].Name != "mem" {
				t.Fatalf("columns %+v", tr.Columns)
			}
			if !same(tr.Columns[0].Values, []float64{1, 2, 3}, 0) || !same(tr.Columns[1].Values, []float64{10, 20, 30}, 0) {
				t.Errorf("values %v %v", tr.Columns[0].Values, tr.Columns[1].Values)
			}
			if tr.Report.Rows != 3 || tr.Step != time.Minute {
				t.Errorf("rows %d, step %v", tr.Report.Rows, tr.Step)
			}
		})
	}
}

func TestReadOutOfOrder(t *testing.T) {
	tests := []struct {
		name string
		src  string
		ooo  int
	}{
		{"one row early", "timestamp,v\n120,3\n0,1\n60,2\n180,4\n", 1},
		{"reversed", "timestamp,v\n180,4\n120,3\n60,2\n0,1\n", 3},
		{"swapped pair", "timestamp,v\n0,1\n120,3\n60,2\n180,4\n", 1},
		{"in order", "timestamp,v\n0,1\n60,2\n120,3\n180,4\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, nil)
			if tr.Report.OutOfOrder != tt.ooo {
				t.Errorf("out of order %d, want %d", tr.Report.OutOfOrder, tt.ooo)
			}
			if !same(tr.Columns[0].Values, []float64{1, 2, 3, 4}, 0) || !tr.Start.Equal(time.Unix(0, 0)) {
				t.Errorf("values %v from %v", tr.Columns[0].Values, tr.Start)
			}
		})
	}
}

func TestReadNumbers(t *testing.T) {
	tests := []struct {
		name string
		cell string
		want float64
	}{
		{"exponent", "1.5e3", 1500},
		{"capital exponent, negative power", "2E-4", 0.0002},
		{"explicit plus exponent", "1E+2", 100},
		{"negative with exponent", "-3e-2", -0.03},
		{"explicit plus sign", "+4", 4},
		{"leading dot", ".5", 0.5},
		{"trailing dot", "5.", 5},
		{"surrounding spaces", "  7  ", 7},
		{"tab", "\t8", 8},
		{"negative kept", "-12.25", -12.25},
		{"underflow reads as zero", "1e-400", 0},
		{"largest float64", "1.7976931348623157e308", math.MaxFloat64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, "timestamp,v\n0,"+tt.cell+"\n60,1\n", nil)
			if got := tr.Columns[0].Values[0]; got != tt.want {
				t.Errorf("%q read as %v, want %v", tt.cell, got, tt.want)
			}
		})
	}
}

func TestReadTimestamps(t *testing.T) {
	tests := []struct {
		name  string
		first string // the first of two stamps; the second is 60 s later in the same form
		next  string
		want  string
	}{
		{"RFC 3339 UTC", "2014-02-14T14:30:00Z", "2014-02-14T14:31:00Z", "2014-02-14T14:30:00Z"},
		{"RFC 3339 with an offset, to UTC", "2014-02-14T14:30:00+02:00", "2014-02-14T14:31:00+02:00", "2014-02-14T12:30:00Z"},
		{"RFC 3339 with a negative offset", "2014-02-14T14:30:00-05:00", "2014-02-14T14:31:00-05:00", "2014-02-14T19:30:00Z"},
		{"RFC 3339 with fractional seconds", "2014-02-14T14:30:00.250Z", "2014-02-14T14:31:00.250Z", "2014-02-14T14:30:00.25Z"},
		{"100-ns precision", "2023-11-16T18:15:46.1234567Z", "2023-11-16T18:16:46.1234567Z", "2023-11-16T18:15:46.1234567Z"},
		{"space and an offset", "2014-02-14 14:30:00+01:00", "2014-02-14 14:31:00+01:00", "2014-02-14T13:30:00Z"},
		{"no zone, T, as UTC", "2014-02-14T14:30:00", "2014-02-14T14:31:00", "2014-02-14T14:30:00Z"},
		{"no zone, space, as UTC", "2014-02-14 14:30:00", "2014-02-14 14:31:00", "2014-02-14T14:30:00Z"},
		{"no zone with a fraction", "2014-02-14 14:30:00.5", "2014-02-14 14:31:00.5", "2014-02-14T14:30:00.5Z"},
		{"date only, midnight UTC", "2014-02-14", "2014-02-15", "2014-02-14T00:00:00Z"},
		{"surrounding spaces", " 2014-02-14T14:30:00Z ", "2014-02-14T14:31:00Z", "2014-02-14T14:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, "timestamp,v\n"+tt.first+",1\n"+tt.next+",2\n", nil)
			if !tr.Start.Equal(mustTime(tt.want)) || tr.Start.Location() != time.UTC {
				t.Errorf("start %v, want %v", tr.Start, tt.want)
			}
		})
	}
}

func TestReadUnixSeconds(t *testing.T) {
	tests := []struct {
		name  string
		first string
		next  string
		start time.Time
		step  time.Duration
	}{
		{"integer", "1400000000", "1400000300", time.Unix(1400000000, 0), 5 * time.Minute},
		{"exponent form", "1.4e9", "1.4000003e9", time.Unix(1400000000, 0), 5 * time.Minute},
		{"decimal fraction, exact to the nanosecond", "1400000000.123456789", "1400000000.623456789", time.Unix(1400000000, 123456789), 500 * time.Millisecond},
		{"zero and small offsets, as in the Azure 2019 trace", "0", "300", time.Unix(0, 0), 5 * time.Minute},
		{"negative, before 1970", "-600", "-300", time.Unix(-600, 0), 5 * time.Minute},
		{"negative fraction", "-0.5", "0.5", time.Unix(0, -5e8), time.Second},
		{"leading plus", "+60", "+120", time.Unix(60, 0), time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, "ts,v\n"+tt.first+",1\n"+tt.next+",2\n", nil)
			if !tr.Start.Equal(tt.start) || tr.Step != tt.step {
				t.Errorf("start %v step %v, want %v %v", tr.Start, tr.Step, tt.start.UTC(), tt.step)
			}
		})
	}
}

func TestReadJitter(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		step   time.Duration
		want   []float64
		merged int
	}{
		{
			name: "jittered 5-minute samples snap to a 5-minute grid",
			src:  "ts,v\n0,0\n299,1\n601,2\n898,3\n1202,4\n1499,5\n",
			step: 5 * time.Minute,
			want: []float64{0, 1, 2, 3, 4, 5},
		},
		{
			name: "two jittered rows nearest one point are averaged",
			src:  "ts,v\n0,1\n297,2\n302,4\n601,5\n899,6\n1201,7\n",
			step: 5 * time.Minute,
			want: []float64{1, 3, 5, 6, 7}, merged: 1,
		},
		{
			name: "millisecond jitter on a 15-second scrape",
			src:  "ts,v\n1700000000.000,1\n1700000015.003,2\n1700000029.998,3\n1700000045.001,4\n1700000060.000,5\n",
			step: 15 * time.Second,
			want: []float64{1, 2, 3, 4, 5},
		},
		{
			name: "jitter far from any common interval keeps the median",
			src:  "ts,v\n0,1\n7.1,2\n13.9,3\n21.2,4\n28.1,5\n",
			step: 6900 * time.Millisecond,
			want: []float64{1, 2, 3, 4, 5},
		},
		{
			name: "a regular odd step is kept exactly",
			src:  "ts,v\n0,1\n296,2\n592,3\n888,4\n1184,5\n",
			step: 296 * time.Second,
			want: []float64{1, 2, 3, 4, 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, nil)
			if tr.Step != tt.step {
				t.Errorf("step %v, want %v", tr.Step, tt.step)
			}
			if !same(tr.Columns[0].Values, tt.want, 1e-12) {
				t.Errorf("values %v, want %v", tr.Columns[0].Values, tt.want)
			}
			if tr.Report.Merged != tt.merged || len(tr.Report.Gaps) != 0 {
				t.Errorf("merged %d, gaps %+v; want %d merged and no gaps", tr.Report.Merged, tr.Report.Gaps, tt.merged)
			}
		})
	}
}

func TestReadStepOverride(t *testing.T) {
	src := "ts,v\n0,0\n60,1\n120,2\n180,3\n240,4\n300,5\n"
	tests := []struct {
		name   string
		opt    *Options
		want   []float64
		merged int
		gaps   int
	}{
		{"inferred", nil, []float64{0, 1, 2, 3, 4, 5}, 0, 0},
		{"coarser step averages the rows nearest each point (halves round up)", &Options{Step: 2 * time.Minute},
			[]float64{0, 1.5, 3.5, 5}, 2, 0},
		{"finer step leaves gaps, filled", &Options{Step: 30 * time.Second},
			[]float64{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5}, 0, 5},
		{"finer step, filling off", &Options{Step: 30 * time.Second, MaxFill: -1},
			[]float64{0, nan, 1, nan, 2, nan, 3, nan, 4, nan, 5}, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, src, tt.opt)
			if tt.opt != nil && tr.Step != tt.opt.Step {
				t.Errorf("step %v, want %v", tr.Step, tt.opt.Step)
			}
			if !same(tr.Columns[0].Values, tt.want, 1e-12) {
				t.Errorf("values %v, want %v", tr.Columns[0].Values, tt.want)
			}
			if tr.Report.Merged != tt.merged || len(tr.Report.Gaps) != tt.gaps {
				t.Errorf("merged %d, gaps %d; want %d, %d", tr.Report.Merged, len(tr.Report.Gaps), tt.merged, tt.gaps)
			}
		})
	}
	t.Run("a single row needs a step", func(t *testing.T) {
		tr := mustRead(t, "ts,v\n0,7\n", &Options{Step: time.Minute})
		if tr.Len() != 1 || tr.Columns[0].Values[0] != 7 {
			t.Errorf("got %d points %v", tr.Len(), tr.Columns[0].Values)
		}
		if _, err := Read(strings.NewReader("ts,v\n0,7\n"), "", nil); !errors.Is(err, ErrStep) {
			t.Errorf("without a step: %v, want ErrStep", err)
		}
	})
}

func TestReadErrors(t *testing.T) {
	const name = "traces/x.csv"
	tests := []struct {
		name string
		src  string
		opt  *Options
		want string
		is   error
	}{
		{"short row", "timestamp,a,b\n0,1,2\n60,1\n", nil,
			"traces/x.csv:3:3: row has 2 fields, header has 3", ErrFieldCount},
		{"long row", "timestamp,a\n0,1\n60,1,2\n", nil,
			"traces/x.csv:3:3: row has 3 fields, header has 2", ErrFieldCount},
		{"bad number", "timestamp,a,b\n0,1,2\n60,1,abc\n", nil,
			`traces/x.csv:3:3: cannot parse "abc" as a number`, ErrNumber},
		{"bad number after CRLF and a blank line", "timestamp,a\r\n\r\n0,1\r\n60,x\r\n", nil,
			`traces/x.csv:4:2: cannot parse "x" as a number`, ErrNumber},
		{"bad number in a quoted field spanning lines", "timestamp,a,b\n0,1,\"2\n3\"\n", nil,
			`traces/x.csv:2:3: cannot parse "2\n3" as a number`, ErrNumber},
		{"hexadecimal number", "timestamp,a\n0,0x1p3\n", nil,
			`traces/x.csv:2:2: cannot parse "0x1p3" as a number`, ErrNumber},
		{"digit separators", "timestamp,a\n0,1_000\n", nil,
			`traces/x.csv:2:2: cannot parse "1_000" as a number`, ErrNumber},
		{"a long bad cell is shortened", "timestamp,a\n0," + strings.Repeat("z", 100) + "\n", nil,
			`traces/x.csv:2:2: cannot parse "` + strings.Repeat("z", 40) + `"… as a number`, ErrNumber},
		{"Inf", "timestamp,a\n0,Inf\n", nil,
			`traces/x.csv:2:2: "Inf" is not a finite float64`, ErrNumber},
		{"-infinity", "timestamp,a\n0,1\n60,-infinity\n", nil,
			`traces/x.csv:3:2: "-infinity" is not a finite float64`, ErrNumber},
		{"overflow", "timestamp,a\n0,1e400\n", nil,
			`traces/x.csv:2:2: "1e400" is not a finite float64`, ErrNumber},
		{"bad timestamp", "timestamp,a\n0,1\nyesterday,2\n", nil,
			`traces/x.csv:3:1: cannot parse "yesterday" as a timestamp (want RFC 3339, 2006-01-02[ 15:04:05] or Unix seconds)`, ErrTimestamp},
		{"empty timestamp", "timestamp,a\n,1\n", nil,
			`traces/x.csv:2:1: cannot parse "" as a timestamp (want RFC 3339, 2006-01-02[ 15:04:05] or Unix seconds)`, ErrTimestamp},
		{"impossible date", "timestamp,a\n2014-02-30T00:00:00Z,1\n", nil,
			`traces/x.csv:2:1: cannot parse "2014-02-30T00:00:00Z" as a timestamp (want RFC 3339, 2006-01-02[ 15:04:05] or Unix seconds)`, ErrTimestamp},
		{"Unix milliseconds are out of range", "timestamp,a\n1400000000000,1\n", nil,
			`traces/x.csv:2:1: cannot parse "1400000000000" as a timestamp (want RFC 3339, 2006-01-02[ 15:04:05] or Unix seconds)`, ErrTimestamp},
		{"NaN timestamp", "timestamp,a\nNaN,1\n", nil,
			`traces/x.csv:2:1: cannot parse "NaN" as a timestamp (want RFC 3339, 2006-01-02[ 15:04:05] or Unix seconds)`, ErrTimestamp},
		{"empty file", "", nil,
			"traces/x.csv:1: empty file: no header row", ErrHeader},
		{"BOM only", "\ufeff", nil,
			"traces/x.csv:1: empty file: no header row", ErrHeader},
		{"header with one field", "timestamp\n0\n", nil,
			"traces/x.csv:1: header has 1 field: want a timestamp column and at least one value column", ErrHeader},
		{"duplicate column name", "t,a, a\n", nil,
			`traces/x.csv:1:3: duplicate column name "a" (also column 2)`, ErrHeader},
		{"empty column name", "t,a,\n", nil,
			"traces/x.csv:1:3: empty column name", ErrHeader},
		{"bare quote", "timestamp,a\n0,1\"2\n", nil,
			`traces/x.csv:2: bare " in non-quoted-field at byte 4`, ErrSyntax},
		{"unterminated quote", "timestamp,a\n0,\"1\n", nil,
			`traces/x.csv:2: extraneous or missing " in quoted-field at byte 6`, ErrSyntax},
		{"header only", "timestamp,a\n", nil,
			"traces/x.csv: trace: no data rows", ErrNoRows},
		{"every value missing", "timestamp,a,b\n0,,NaN\n60,NA,\n", nil,
			"traces/x.csv: trace: every value is missing", ErrNoValues},
		{"one timestamp and no step", "timestamp,a\n0,1\n0,2\n", nil,
			"traces/x.csv: trace: no usable grid step: every row has the timestamp 1970-01-01T00:00:00Z; set Options.Step", ErrStep},
		{"grid too large", "timestamp,a\n0,1\n1,1\n100000000,1\n", nil,
			"traces/x.csv: trace: grid too large: 1970-01-01T00:00:00Z to 1973-03-03T09:46:40Z at a step of 1s needs 100000001 grid points × 1 columns, more than Options.MaxValues (50000000)", ErrTooLarge},
		{"grid too large counting columns", "timestamp,a,b\n0,1,1\n60,1,1\n", &Options{MaxValues: 3},
			"traces/x.csv: trace: grid too large: 1970-01-01T00:00:00Z to 1970-01-01T00:01:00Z at a step of 1m0s needs 2 grid points × 2 columns, more than Options.MaxValues (3)", ErrTooLarge},
		{"time span beyond a time.Duration", "timestamp,a\n0001-01-01,1\n9999-12-31,1\n", nil,
			"traces/x.csv: trace: grid too large: 0001-01-01T00:00:00Z to 9999-12-31T00:00:00Z: the time span does not fit a time.Duration (about 292 years)", ErrTooLarge},
		{"negative step", "timestamp,a\n0,1\n", &Options{Step: -time.Second},
			"trace: invalid options: negative Step -1s", ErrOptions},
		{"negative MaxValues", "timestamp,a\n0,1\n", &Options{MaxValues: -1},
			"trace: invalid options: negative MaxValues -1", ErrOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Read(strings.NewReader(tt.src), name, tt.opt)
			if err == nil {
				t.Fatalf("no error; report %v", tr.Report)
			}
			if tr != nil {
				t.Errorf("a trace with an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			var pe *ParseError
			if positional := errors.As(err, &pe); positional != (tt.is == ErrHeader || tt.is == ErrFieldCount ||
				tt.is == ErrSyntax || tt.is == ErrTimestamp || tt.is == ErrNumber) {
				t.Errorf("errors.As(*ParseError) = %v for %v", positional, err)
			} else if positional && (pe.File != name || pe.Line < 1) {
				t.Errorf("ParseError %+v", pe)
			}
		})
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name string
		err  ParseError
		want string
	}{
		{"file, line and column", ParseError{File: "a.csv", Line: 17, Column: 3, Msg: "m", Err: ErrNumber}, "a.csv:17:3: m"},
		{"no column", ParseError{File: "a.csv", Line: 2, Msg: "m", Err: ErrSyntax}, "a.csv:2: m"},
		{"no file name", ParseError{Line: 2, Column: 1, Msg: "m", Err: ErrTimestamp}, "2:1: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(&tt.err, tt.err.Err) {
				t.Errorf("does not unwrap to %v", tt.err.Err)
			}
		})
	}
}

func TestReadFileNotFound(t *testing.T) {
	if _, err := ReadFile("testdata/no-such-file.csv", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestReadIOError(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"at once", iotest.ErrReader(boom)},
		{"after the header", io.MultiReader(strings.NewReader("ts,v\n"), iotest.ErrReader(boom))},
		{"mid-row", io.MultiReader(strings.NewReader("ts,v\n0,1\n60,"), iotest.ErrReader(boom))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.r, "x.csv", nil)
			if !errors.Is(err, boom) || err.Error() != "x.csv: boom" {
				t.Errorf("err = %v, want x.csv: boom", err)
			}
		})
	}
}

func TestReadExtremeValues(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []float64
	}{
		{"averaging huge duplicates does not overflow", "ts,v\n0,1.7e308\n0,1.7e308\n60,1\n", []float64{1.7e308, 1}},
		{"averaging huge opposite duplicates", "ts,v\n0,1.7e308\n0,-1.7e308\n60,1\n", []float64{0, 1}},
		{"interpolating across the whole float range", "ts,v\n0,-1.7e308\n120,1.7e308\n180,0\n", []float64{-1.7e308, 0, 1.7e308, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := mustRead(t, tt.src, nil)
			if !same(tr.Columns[0].Values, tt.want, 1e-9) {
				t.Errorf("values %v, want %v", tr.Columns[0].Values, tt.want)
			}
		})
	}
}

func TestColumn(t *testing.T) {
	tr := mustRead(t, "timestamp,cpu,mem\n0,1,10\n60,2,20\n", nil)
	tests := []struct {
		name    string
		column  string
		want    string
		wantErr string
	}{
		{"empty name is the first column", "", "cpu", ""},
		{"by name", "mem", "mem", ""},
		{"the timestamp column is not a value column", "timestamp", "",
			`trace: no such column "timestamp" in test.csv (columns: cpu, mem)`},
		{"unknown", "disk", "", `trace: no such column "disk" in test.csv (columns: cpu, mem)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tr.Column(tt.column)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrNoColumn) {
					t.Errorf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.Name != tt.want || len(c.Values) != 2 {
				t.Errorf("Column(%q) = %+v, %v", tt.column, c, err)
			}
		})
	}
}

func TestTime(t *testing.T) {
	tr := mustRead(t, "timestamp,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:05:00Z,2\n2024-01-01T00:10:00Z,3\n", nil)
	for i, want := range []string{"2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z", "2024-01-01T00:10:00Z"} {
		if got := tr.Time(i); !got.Equal(mustTime(want)) {
			t.Errorf("Time(%d) = %v, want %v", i, got, want)
		}
	}
}

func TestReportString(t *testing.T) {
	at := mustTime("2024-01-01T00:00:00Z")
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{"clean", Report{Rows: 4032, GridPoints: 4032}, "4032 rows, no gaps; 4032 grid points"},
		{"DST file", Report{Rows: 4032, DuplicateStamps: 11, Merged: 12, GridPoints: 4033, Filled: 13,
			Gaps: []Gap{{Start: at, Points: 12, Filled: true}, {Start: at, Points: 1, Filled: true}}},
			"4032 rows, 11 duplicate stamps, 12 merged, 2 gaps (13 points filled); 4033 grid points, 13 values filled"},
		{"everything", Report{Rows: 10, DuplicateStamps: 1, OutOfOrder: 2, Merged: 1, MissingCells: 1, GridPoints: 12,
			Filled: 2, Unfilled: 5, Gaps: []Gap{{Start: at, Points: 1, Filled: true}, {Start: at, Points: 2, Filled: false}}},
			"10 rows, 1 duplicate stamp, 2 out of order, 1 merged, 1 missing cell, 2 gaps (3 points: 1 filled, 2 not); 12 grid points, 2 values filled, 5 values left missing"},
		{"one unfilled gap", Report{Rows: 1, GridPoints: 1, Unfilled: 1, Gaps: []Gap{{Start: at, Points: 1, Filled: false}}},
			"1 row, 1 gap (1 point not filled); 1 grid point, 1 value left missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.String(); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
