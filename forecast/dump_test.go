package forecast

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/metrics/trace"
)

// TestDumpOutputs writes every model's output on every column of every
// shipped trace to the file named by HEADROOM_FORECAST_DUMP (skipped when it
// is unset): the automatic choice with every candidate, each named model, a
// refit of the chosen model on the detected periods seeded by the first fit
// (the simulator's refit), and that refit advanced by Update. Dumps taken
// before and after a change that should not move results are compared value
// by value (floats printed so that they parse back exactly).
func TestDumpOutputs(t *testing.T) {
	path := os.Getenv("HEADROOM_FORECAST_DUMP")
	if path == "" {
		t.Skip("HEADROOM_FORECAST_DUMP not set")
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	defer w.Flush()
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	dump := func(key string, f *Forecast, err error) {
		if err != nil {
			fmt.Fprintf(w, "%s err %s\n", key, err)
			return
		}
		fmt.Fprintf(w, "%s model %s base %d used %d\n", key, f.Model, f.BasePeriod, f.Used)
		for _, s := range f.Seasonality {
			fmt.Fprintf(w, "%s season %d %s\n", key, s.Steps, num(s.Strength))
		}
		for _, s := range f.Scores {
			fmt.Fprintf(w, "%s score %s %s %s\n", key, s.Model, num(s.MASE), s.Err)
		}
		fmt.Fprintf(w, "%s backtest %s %s\n", key, num(f.Backtest.MASE), num(f.Backtest.SMAPE))
		levels := append([]float64(nil), f.Levels...)
		for _, l := range levels {
			fmt.Fprintf(w, "%s coverage %s %s\n", key, num(l), num(f.Backtest.Coverage[l]))
		}
		for k, v := range f.Mean {
			fmt.Fprintf(w, "%s mean %d %s\n", key, k, num(v))
		}
		for i, q := range f.Q {
			for k, v := range q {
				fmt.Fprintf(w, "%s q%s %d %s\n", key, num(f.Levels[i]), k, num(v))
			}
		}
		for _, m := range []string{"ses", "holt-damped", "holt-winters", "stl", "log-ses"} {
			if p, ok := f.SmoothingParams(m); ok {
				fmt.Fprintf(w, "%s params %s %s %s %s %s\n", key, m, num(p.Alpha), num(p.Beta), num(p.Gamma), num(p.Phi))
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("..", "testdata", "traces", "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		tr, err := trace.ReadFile(file, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range tr.Columns {
			s := Series{Name: col.Name, Start: tr.Start, Step: tr.Step, Values: col.Values}
			key := filepath.Base(file) + ":" + col.Name
			for _, h := range []int{24, 288} {
				f, err := Auto(s, Options{Horizon: h, KeepCandidates: true})
				dump(fmt.Sprintf("%s h%d auto", key, h), f, err)
				if err != nil {
					continue
				}
				names := make([]string, 0, len(f.Candidates))
				for n := range f.Candidates {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					dump(fmt.Sprintf("%s h%d cand %s", key, h, n), f.Candidates[n], nil)
				}
				if h != 24 {
					continue
				}
				// The simulator's refit: the chosen single model on the
				// periods it was chosen with, on a longer history, seeded by
				// the selection; then advanced.
				model := f.Model
				for _, sc := range f.Scores {
					if _, ok := f.Candidates[model]; ok {
						break
					}
					model = sc.Model
				}
				var seas []time.Duration
				for _, se := range f.Seasonality {
					seas = append(seas, se.Period)
				}
				if seas == nil {
					seas = []time.Duration{}
				}
				short := s
				short.Values = s.Values[:len(s.Values)*9/10]
				first, err := Auto(short, Options{Horizon: h})
				if err != nil {
					continue
				}
				r, err := Auto(s, Options{Horizon: h, Model: model, Seasonality: seas, Validation: 288, Warm: first})
				dump(key+" refit "+model, r, err)
				if err == nil {
					obs := s.Values[len(s.Values)-30:]
					err = r.Update(obs...)
					dump(key+" update "+model, r, err)
				}
				for _, m := range []string{"stl", "log-ses", "log-stl", "fourier-trend"} {
					r, err := Auto(s, Options{Horizon: h, Model: m, Seasonality: seas, Validation: 288})
					dump(key+" seasonal "+m, r, err)
				}
			}
			for _, m := range ModelNames {
				f, err := Auto(s, Options{Horizon: 24, Model: m})
				dump(key+" named "+m, f, err)
			}
		}
	}
}
