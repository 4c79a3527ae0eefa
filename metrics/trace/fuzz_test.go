package trace

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are the quirks the unit tests cover, as seed inputs.
var fuzzSeeds = []string{
	"timestamp,v\n2014-03-09T01:55:00Z,2\n2014-03-09T03:00:00Z,10\n2014-03-09T03:00:00Z,20\n2014-03-09T03:05:00Z,4\n",
	"timestamp,a,b\n0,1,\n0,3,5\n0,,7\n60,2,2\n",
	"timestamp,v\n0,0\n60,10\n240,40\n300,50\n",
	"timestamp,v\n0,\n60,1\n120,NaN\n180,nan\n240, NA \n300,null\n420,7\n480,\"\"\n",
	"timestamp,cpu,mem\r\n2024-01-01T00:00:00Z,1,10\r\n2024-01-01T00:01:00Z,2,20",
	"\ufefftimestamp,cpu\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,2\n",
	"\ufeff\"ts\",\"v\"\r\n\"0\",\" 1 \"\r\n60,2",
	"timestamp,v\n120,3\n0,1\n60,2\n180,4\n",
	"timestamp,v\n0,1.5e3\n60,2E-4\n120,-3e-2\n180,.5\n",
	"ts,v\n1.4e9,1\n1400000000.5,2\n1400000300,3\n",
	"ts,v\n0,0\n299,1\n601,2\n898,3\n1202,4\n",
	"ts,v\n2014-02-14 14:30:00+01:00,1\n2014-02-14T14:31:00,2\n2014-02-15,3\n",
	"timestamp,a,b\n0,1,2\n60,1\n",
	"timestamp,a\n0,1\n60,1,2\n",
	"timestamp,a\n0,Inf\n60,1e400\n",
	"timestamp,a\nyesterday,1\n",
	"timestamp,a\n0,1\"2\n",
	"timestamp,a\n0,\"1\n2\"\n",
	"t,a, a\n",
	"timestamp\n0\n",
	"timestamp,a\n",
	"timestamp,a\n0,1\n1,1\n100000000,1\n",
	"timestamp,a\n0001-01-01,1\n9999-12-31,1\n",
	"ts,v\n0,1.7e308\n0,-1.7e308\n120,1.7e308\n",
}

// FuzzRead checks that Read never panics and that whatever it returns is consistent. The grid is capped at a
// million values so that each run stays fast; TestReadErrors covers the default cap.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), int64(0), 0)
	}
	f.Add([]byte(fuzzSeeds[0]), int64(time.Minute), 2)
	f.Add([]byte(fuzzSeeds[2]), int64(30*time.Second), -1)
	f.Fuzz(func(t *testing.T, data []byte, step int64, maxFill int) {
		opt := &Options{Step: time.Duration(step), MaxFill: maxFill, MaxValues: 1 << 20}
		tr, err := Read(bytes.NewReader(data), "fuzz.csv", opt)
		if err != nil {
			if tr != nil {
				t.Fatalf("a trace with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.csv") && !errors.Is(err, ErrOptions) {
				t.Fatalf("error does not name the file: %v", err)
			}
			var pe *ParseError
			if errors.As(err, &pe) && (pe.Line < 1 || pe.Column < 0 || pe.Err == nil) {
				t.Fatalf("bad ParseError %+v", pe)
			}
			return
		}
		if err := checkInvariants(tr); err != nil {
			t.Fatalf("%v\ninput %q", err, data)
		}
		if step > 0 && tr.Step != time.Duration(step) {
			t.Fatalf("step %v, asked for %v", tr.Step, time.Duration(step))
		}
		if maxFill < 0 && tr.Report.Filled != 0 {
			t.Fatalf("filled %d values with MaxFill %d", tr.Report.Filled, maxFill)
		}
		if tr.Report.GridPoints*len(tr.Columns) > opt.MaxValues {
			t.Fatalf("%d points × %d columns over the cap", tr.Report.GridPoints, len(tr.Columns))
		}
	})
}
