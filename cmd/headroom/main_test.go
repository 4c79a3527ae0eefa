package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

const taxi = "../../testdata/traces/nab-realKnownCause-nyc_taxi.csv"

func TestForecastJSONContract(t *testing.T) {
	code, out, errOut := runCLI(t, "forecast", "--input", taxi, "--horizon", "5", "--quantiles", "0.5,0.95", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Model       string  `json:"model"`
		Seasonality []int64 `json:"seasonality_seconds"`
		Step        int64   `json:"step_seconds"`
		Points      []struct {
			T    string             `json:"t"`
			Mean *float64           `json:"mean"`
			Q    map[string]float64 `json:"q"`
		} `json:"points"`
		Backtest struct {
			MASE     *float64           `json:"mase"`
			SMAPE    *float64           `json:"smape"`
			Coverage map[string]float64 `json:"coverage"`
		} `json:"backtest"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JSON does not match the contract: %v\n%s", err, out)
	}
	if doc.Model == "" || doc.Step != 1800 {
		t.Errorf("model %q step %d, want a model and 1800 s", doc.Model, doc.Step)
	}
	// The taxi trace has daily and weekly cycles.
	if !contains(doc.Seasonality, 86400) || !contains(doc.Seasonality, 604800) {
		t.Errorf("seasonality %v, want 86400 and 604800", doc.Seasonality)
	}
	if len(doc.Points) != 5 {
		t.Fatalf("%d points, want exactly 5", len(doc.Points))
	}
	// The last sample is 2015-01-31T23:30:00Z.
	last := time.Date(2015, 1, 31, 23, 30, 0, 0, time.UTC)
	for k, p := range doc.Points {
		ts, err := time.Parse(time.RFC3339, p.T)
		if err != nil {
			t.Fatal(err)
		}
		if want := last.Add(time.Duration(k+1) * 30 * time.Minute); !ts.Equal(want) {
			t.Errorf("point %d at %v, want %v", k, ts, want)
		}
		if p.Mean == nil || len(p.Q) != 2 || p.Q["0.5"] > p.Q["0.95"] {
			t.Errorf("point %d: mean %v q %v", k, p.Mean, p.Q)
		}
	}
	if doc.Backtest.MASE == nil || doc.Backtest.SMAPE == nil {
		t.Error("backtest MASE and sMAPE must be present")
	}
	if _, ok := doc.Backtest.Coverage["0.95"]; !ok {
		t.Errorf("backtest coverage %v lacks 0.95", doc.Backtest.Coverage)
	}
}

func contains(xs []int64, v int64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func TestForecastHorizonDuration(t *testing.T) {
	code, out, errOut := runCLI(t, "forecast", "--input", taxi, "--horizon", "1d", "-o", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+48 { // header + one day of 30-minute steps
		t.Errorf("%d lines, want 49", len(lines))
	}
	if lines[0] != "t,mean,q0.5,q0.9,q0.95,q0.99" {
		t.Errorf("header %q", lines[0])
	}
}

// --seasonality replaces the detection as a plan's spec.forecast.seasonality
// does: the taxi trace has daily and weekly cycles (detected by default, see
// TestForecastJSONContract); given 24h the forecast uses that period alone,
// given none no seasonal period (and no model built on one: holt-winters,
// stl or fourier; the seasonal-naive baseline stays, its period is the
// calendar day).
func TestForecastSeasonalityFlag(t *testing.T) {
	for _, c := range []struct {
		flag string
		want []int64
	}{{"24h", []int64{86400}}, {"1d,1w", []int64{86400, 604800}}, {"none", []int64{}}} {
		code, out, errOut := runCLI(t, "forecast", "--input", taxi, "--horizon", "3", "--seasonality", c.flag, "-o", "json")
		if code != 0 {
			t.Fatalf("--seasonality %s: exit %d: %s", c.flag, code, errOut)
		}
		var doc struct {
			Model       string  `json:"model"`
			Seasonality []int64 `json:"seasonality_seconds"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		got := append([]int64{}, doc.Seasonality...)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("--seasonality %s: periods %v, want %v", c.flag, doc.Seasonality, c.want)
		}
		if c.flag == "none" {
			for _, m := range []string{"holt-winters", "stl", "fourier"} {
				if strings.Contains(doc.Model, m) {
					t.Errorf("--seasonality none: model %s is seasonal", doc.Model)
				}
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("timestamp,cpu\n2026-01-01T00:00:00Z,1\n2026-01-01T00:05:00Z,abc\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"version", []string{"version"}, 0, ""},
		{"unknown flag", []string{"forecast", "--bogus"}, 2, "unknown flag: --bogus"},
		{"missing input", []string{"forecast", "--horizon", "3"}, 2, "--input is required"},
		{"missing horizon", []string{"forecast", "--input", taxi}, 2, "--horizon is required"},
		{"bad horizon", []string{"forecast", "--input", taxi, "--horizon", "soon"}, 2, `--horizon "soon"`},
		{"bad output", []string{"forecast", "--input", taxi, "--horizon", "3", "-o", "xml"}, 2, `-o "xml"`},
		{"bad quantile", []string{"forecast", "--input", taxi, "--horizon", "3", "--quantiles", "0.5,2"}, 2, `"2" is not a level`},
		{"unknown model", []string{"forecast", "--input", taxi, "--horizon", "3", "--model", "prophet"}, 2, `unknown model "prophet"`},
		{"unknown column", []string{"forecast", "--input", taxi, "--horizon", "3", "--column", "cpu"}, 2, "passengers_per_30m"},
		{"missing file", []string{"forecast", "--input", filepath.Join(dir, "none.csv"), "--horizon", "3"}, 2, "none.csv"},
		{"malformed file names line and column", []string{"forecast", "--input", bad, "--horizon", "3"}, 2, "bad.csv:3:2"},
		{"bad seasonality", []string{"forecast", "--input", taxi, "--horizon", "3", "--seasonality", "24h,daily"}, 2, `--seasonality: "daily" is not a positive duration`},
		{"eval bad seasonality", []string{"eval", "--traces", dir, "--seasonality", "-1h"}, 2, `--seasonality: "-1h"`},
		{"eval without traces", []string{"eval"}, 2, "--traces is required"},
		{"eval empty folder", []string{"eval", "--traces", dir + "/empty"}, 2, "not a readable directory"},
		{"stray argument", []string{"version", "extra"}, 2, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr: %s)", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q does not mention %q", errOut, tc.stderr)
			}
		})
	}
}

func TestEvalOnSmallFolder(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv", "azure-AzureLLMInferenceTrace_conv.csv"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/traces", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	code, out, errOut := runCLI(t, "eval", "--traces", dir, "--origins", "4", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc evalJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Series) != 4 { // one column + three columns
		t.Errorf("%d series, want 4", len(doc.Series))
	}
	for _, s := range doc.Series {
		if _, ok := s.Models["auto"]; !ok {
			t.Errorf("%s: no auto score", s.Name)
		}
		if s.Origins != 4 {
			t.Errorf("%s: %d origins, want 4", s.Name, s.Origins)
		}
	}
	if _, ok := doc.Overall["auto"]; !ok {
		t.Error("no overall auto score")
	}
	// --seasonality: these series show no season to the detection (no model
	// built on a seasonal period is scored by default); 24h makes the daily
	// models fitted and scored on the 5-minute series, none makes none.
	seasonal := func(flag string) int {
		code, out, errOut := runCLI(t, "eval", "--traces", dir, "--origins", "4", "--seasonality", flag, "-o", "json")
		if code != 0 {
			t.Fatalf("--seasonality %s: exit %d: %s", flag, code, errOut)
		}
		var d evalJSON
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range d.Series {
			for m := range s.Models {
				if strings.HasPrefix(m, "fourier") || strings.HasPrefix(m, "stl") || m == "holt-winters" {
					n++
				}
			}
		}
		return n
	}
	if n := seasonal("24h"); n == 0 {
		t.Error("--seasonality 24h: no seasonal model scored")
	}
	if n := seasonal("none"); n != 0 {
		t.Errorf("--seasonality none: %d seasonal scores, want 0", n)
	}
}
