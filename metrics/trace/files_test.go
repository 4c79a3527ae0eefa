package trace

import (
	"path/filepath"
	"testing"
	"time"
)

const tracesDir = "../../testdata/traces"

// TestReadShippedTraces reads every trace in testdata/traces and checks it against the figures in
// testdata/traces/SOURCES.md. (The shipped copies have LF line ends and a final newline throughout; the
// CRLF and missing-newline quirks SOURCES.md mentions belong to the upstream files and are covered by
// TestReadLineEnds.)
func TestReadShippedTraces(t *testing.T) {
	tests := []struct {
		file      string
		step      time.Duration
		rows      int
		points    int
		dup       int // duplicate stamps
		gaps      int
		gapPoints int
		unfilled  int // gap points left NaN
		columns   int
	}{
		{file: "azure-AzureLLMInferenceTrace_conv.csv", step: 10 * time.Second, rows: 351, points: 351, columns: 3},
		{file: "dctraces-azure_v2-vm_cpu_readings_month_aggregated_cpu_mem.csv", step: 5 * time.Minute, rows: 8640, points: 8640, columns: 2},
		{file: "dctraces-google2019-instance_usage_grouped_300_seconds_month.csv", step: 5 * time.Minute, rows: 8064, points: 28 * 288, columns: 2},
		{file: "nab-realAWSCloudwatch-ec2_cpu_utilization_24ae8d.csv", step: 5 * time.Minute, rows: 4032, points: 4032, columns: 1},
		{file: "nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv", step: 5 * time.Minute, rows: 4032, points: 4032, columns: 1},
		// "Two missing 5-min steps."
		{file: "nab-realAWSCloudwatch-ec2_cpu_utilization_825cc2.csv", step: 5 * time.Minute, rows: 4032, points: 4034, gaps: 2, gapPoints: 2, columns: 1},
		{file: "nab-realAWSCloudwatch-ec2_cpu_utilization_c6585a.csv", step: 5 * time.Minute, rows: 4032, points: 4032, columns: 1},
		{file: "nab-realAWSCloudwatch-ec2_cpu_utilization_fe7f93.csv", step: 5 * time.Minute, rows: 4032, points: 4032, columns: 1},
		// The DST artefact: 12 rows stamped 03:00 (11 duplicates) land on the nearest point, 02:59; the rest of
		// the skipped hour, 02:04 … 02:54, is an 11-point gap.
		{file: "nab-realAWSCloudwatch-ec2_disk_write_bytes_1ef3de.csv", step: 5 * time.Minute, rows: 4730, points: 4730, dup: 11, gaps: 1, gapPoints: 11, columns: 1},
		{file: "nab-realAWSCloudwatch-ec2_disk_write_bytes_c0d644.csv", step: 5 * time.Minute, rows: 4032, points: 4032, columns: 1},
		// "Two missing steps."
		{file: "nab-realAWSCloudwatch-ec2_network_in_257a54.csv", step: 5 * time.Minute, rows: 4032, points: 4034, gaps: 2, gapPoints: 2, columns: 1},
		// "12 consecutive rows are all stamped 03:00:00 (11 duplicate timestamps)"; they join the 03:01 row, and
		// 02:01 … 02:56 is a 12-point gap (one hour: filled by default).
		{file: "nab-realAWSCloudwatch-ec2_network_in_5abac7.csv", step: 5 * time.Minute, rows: 4730, points: 4730, dup: 11, gaps: 1, gapPoints: 12, columns: 1},
		// "Eight missing steps."
		{file: "nab-realAWSCloudwatch-elb_request_count_8c0756.csv", step: 5 * time.Minute, rows: 4032, points: 4040, gaps: 8, gapPoints: 8, columns: 1},
		{file: "nab-realAWSCloudwatch-grok_asg_anomaly.csv", step: 5 * time.Minute, rows: 4621, points: 4621, columns: 1},
		{file: "nab-realAWSCloudwatch-iio_us-east-1_i-a2eb1cd9_NetworkIn.csv", step: 5 * time.Minute, rows: 1243, points: 1243, columns: 1},
		// "One missing step."
		{file: "nab-realAWSCloudwatch-rds_cpu_utilization_cc0c53.csv", step: 5 * time.Minute, rows: 4032, points: 4033, gaps: 1, gapPoints: 1, columns: 1},
		// "the same DST artefact on 2014-03-09 (11 duplicate stamps, ~1 h gap) plus one more missing step."
		{file: "nab-realKnownCause-ec2_request_latency_system_failure.csv", step: 5 * time.Minute, rows: 4032, points: 4033, dup: 11, gaps: 2, gapPoints: 13, columns: 1},
		{file: "nab-realKnownCause-nyc_taxi.csv", step: 30 * time.Minute, rows: 10320, points: 10320, columns: 1},
		{file: "nab-realTweets-Twitter_volume_GOOG.csv", step: 5 * time.Minute, rows: 15842, points: 15842, columns: 1},
		// "29 gaps (59 missing days; the largest is 20 days from 2008-07-12)". At a daily step the default
		// MaxFill is 3: the 4-day and 19-day holes stay NaN.
		{file: "prophet-example_wp_peyton_manning.csv", step: 24 * time.Hour, rows: 2905, points: 2964, gaps: 29, gapPoints: 59, unfilled: 4 + 19, columns: 1},
	}
	files, err := filepath.Glob(filepath.Join(tracesDir, "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in %s, %d in this table: add the new ones", len(files), tracesDir, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tr, err := ReadFile(filepath.Join(tracesDir, tt.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkInvariants(tr); err != nil {
				t.Fatal(err)
			}
			r := tr.Report
			gapPoints, unfilled := 0, 0
			for _, g := range r.Gaps {
				gapPoints += g.Points
				if !g.Filled {
					unfilled += g.Points
				}
			}
			if tr.Step != tt.step || r.Rows != tt.rows || r.GridPoints != tt.points || len(tr.Columns) != tt.columns {
				t.Errorf("step %v, %d rows, %d points, %d columns; want %v, %d, %d, %d",
					tr.Step, r.Rows, r.GridPoints, len(tr.Columns), tt.step, tt.rows, tt.points, tt.columns)
			}
			if r.DuplicateStamps != tt.dup || len(r.Gaps) != tt.gaps || gapPoints != tt.gapPoints || unfilled != tt.unfilled {
				t.Errorf("%d duplicate stamps, %d gaps of %d points, %d unfilled; want %d, %d, %d, %d",
					r.DuplicateStamps, len(r.Gaps), gapPoints, unfilled, tt.dup, tt.gaps, tt.gapPoints, tt.unfilled)
			}
			if r.OutOfOrder != 0 || r.MissingCells != 0 {
				t.Errorf("%d out of order, %d missing cells; want none", r.OutOfOrder, r.MissingCells)
			}
			if r.Unfilled != unfilled*tt.columns {
				t.Errorf("%d values left missing, want %d", r.Unfilled, unfilled*tt.columns)
			}
			t.Log(r)
		})
	}
}

// TestReadShippedDST pins where the daylight-saving hour of the NAB trace lands.
func TestReadShippedDST(t *testing.T) {
	tr, err := ReadFile(filepath.Join(tracesDir, "nab-realAWSCloudwatch-ec2_network_in_5abac7.csv"), nil)
	if err != nil {
		t.Fatal(err)
	}
	g := tr.Report.Gaps
	if len(g) != 1 || !g[0].Start.Equal(mustTime("2014-03-09T02:01:00Z")) || g[0].Points != 12 || !g[0].Filled {
		t.Fatalf("gaps %+v, want 12 filled points from 02:01", g)
	}
	// 03:01 holds the mean of the twelve 03:00 rows and the 03:01 row (86.4).
	i := int(mustTime("2014-03-09T03:01:00Z").Sub(tr.Start) / tr.Step)
	want := (42 + 103.2 + 42 + 60 + 42 + 111.6 + 68.4 + 42 + 112.8 + 42 + 68.4 + 60 + 86.4) / 13
	if got := tr.Columns[0].Values[i]; !same([]float64{got}, []float64{want}, 1e-12) {
		t.Errorf("03:01 = %v, want %v", got, want)
	}
	if tr.Report.Merged != 12 {
		t.Errorf("merged %d, want 12", tr.Report.Merged)
	}
}
