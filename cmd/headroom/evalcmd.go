package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics/trace"
)

func newEvalCmd() *cobra.Command {
	var (
		dir, horizon, out, seasonality string
		origins, jobs                  int
	)
	cmd := &cobra.Command{
		Use:   "eval --traces DIR",
		Short: "Backtest every series in a folder of traces against seasonal naive",
		Long: `Backtests every numeric column of every *.csv file in DIR by rolling origin:
20 origins over the last quarter of each series; at each, every model and the
automatic choice see only the history before the origin and forecast --horizon
steps. Prints MASE, sMAPE and coverage of the 0.95 quantile per series and model,
and the geometric mean over series of each model's MASE relative to seasonal naive.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(out); err != nil {
				return err
			}
			if dir == "" {
				return usagef("eval: --traces is required")
			}
			seas, err := parseSeasonality(seasonality)
			if err != nil {
				return err
			}
			files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
			if err != nil {
				return usagef("eval: --traces %s: %v", dir, err)
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usagef("eval: --traces %s: not a readable directory", dir)
			}
			if len(files) == 0 {
				return usagef("eval: --traces %s: no .csv files", dir)
			}
			var series []forecast.Series
			for _, f := range files {
				tr, err := trace.ReadFile(f, nil)
				if err != nil {
					return &usageError{err}
				}
				for _, c := range tr.Columns {
					series = append(series, forecast.Series{Name: filepath.Base(f) + ":" + c.Name, Start: tr.Start, Step: tr.Step, Values: c.Values})
				}
			}
			results := make([]*forecast.SeriesEval, len(series))
			errs := make([]error, len(series))
			if jobs <= 0 {
				jobs = runtime.GOMAXPROCS(0)
			}
			var wg sync.WaitGroup
			next := make(chan int)
			for w := 0; w < jobs; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						s := series[i]
						h := 24
						if horizon != "" {
							if h, errs[i] = parseHorizon(horizon, s.Step); errs[i] != nil {
								continue
							}
						}
						results[i], errs[i] = forecast.Evaluate(s, forecast.EvalOptions{Horizon: h, Origins: origins, Seasonality: seas})
					}
				}()
			}
			start := time.Now()
			for i := range series {
				next <- i
			}
			close(next)
			wg.Wait()
			elapsed := time.Since(start)
			var done []*forecast.SeriesEval
			for i, r := range results {
				if errs[i] != nil {
					var u *usageError
					if errors.As(errs[i], &u) {
						return errs[i]
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s: %v\n", series[i].Name, errs[i])
					continue
				}
				done = append(done, r)
			}
			if len(done) == 0 {
				return fmt.Errorf("eval: no series in %s could be backtested", dir)
			}
			return printEval(cmd, done, out, elapsed)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "traces", "", "folder of trace files (*.csv)")
	fl.StringVar(&seasonality, "seasonality", "", seasonalityUsage)
	fl.StringVar(&horizon, "horizon", "", "steps per forecast: a count or a duration (default 24 steps)")
	fl.IntVar(&origins, "origins", 20, "forecast origins per series")
	fl.IntVar(&jobs, "jobs", 0, "series evaluated in parallel (default: GOMAXPROCS)")
	fl.StringVarP(&out, "output", "o", "table", "output format: table, json or csv")
	return cmd
}

type evalJSON struct {
	Series  []seriesEvalJSON   `json:"series"`
	Overall map[string]overall `json:"overall"`
	Seconds float64            `json:"seconds"`
}

type seriesEvalJSON struct {
	Name       string               `json:"name"`
	N          int                  `json:"n"`
	Step       int64                `json:"step_seconds"`
	BasePeriod int                  `json:"base_period"`
	Horizon    int                  `json:"horizon"`
	Origins    int                  `json:"origins"`
	Chosen     map[string]int       `json:"chosen"`
	RelMASE    num                  `json:"rel_mase"`
	Models     map[string]scoreJSON `json:"models"`
}

type scoreJSON struct {
	MASE     num `json:"mase"`
	SMAPE    num `json:"smape"`
	Coverage num `json:"coverage95"`
}

type overall struct {
	GeoRelMASE num `json:"geomean_rel_mase"`
	SMAPE      num `json:"mean_smape"`
	Coverage   num `json:"coverage95"`
	Series     int `json:"series"`
}

// summarise computes, per model, the geometric mean over series of MASE
// relative to the baseline, and the coverage pooled over all points.
func summarise(rs []*forecast.SeriesEval) map[string]overall {
	rel := map[string][]float64{}
	smape := map[string]float64{}
	hits := map[string]float64{}
	pts := map[string]float64{}
	add := func(name string, s forecast.ModelScore, base float64) {
		r := s.MASE / base
		if base == 0 {
			r = 1
		}
		rel[name] = append(rel[name], r)
		smape[name] += s.SMAPE
		if !math.IsNaN(s.Coverage) {
			hits[name] += s.Coverage * float64(s.Points)
			pts[name] += float64(s.Points)
		}
	}
	for _, r := range rs {
		add("auto", r.Auto, r.Baseline.MASE)
		add("seasonal-naive", r.Baseline, r.Baseline.MASE)
		for name, s := range r.Models {
			if name == "snaive" {
				continue
			}
			add(name, s, r.Baseline.MASE)
		}
	}
	out := map[string]overall{}
	for name, v := range rel {
		out[name] = overall{GeoRelMASE: num(forecast.GeoMean(v)), SMAPE: num(smape[name] / float64(len(v))),
			Coverage: num(hits[name] / pts[name]), Series: len(v)}
	}
	return out
}

func printEval(cmd *cobra.Command, rs []*forecast.SeriesEval, out string, elapsed time.Duration) error {
	w := cmd.OutOrStdout()
	sum := summarise(rs)
	names := make([]string, 0, len(sum))
	for n := range sum {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := float64(sum[names[i]].GeoRelMASE), float64(sum[names[j]].GeoRelMASE)
		return a < b || (a == b && names[i] < names[j])
	})
	switch out {
	case "json":
		doc := evalJSON{Overall: sum, Seconds: elapsed.Seconds()}
		for _, r := range rs {
			s := seriesEvalJSON{Name: r.Name, N: r.N, Step: int64(r.Step / time.Second), BasePeriod: r.BasePeriod,
				Horizon: r.Horizon, Origins: r.Origins, Chosen: r.Chosen, RelMASE: num(r.RelMASE), Models: map[string]scoreJSON{}}
			s.Models["auto"] = scoreJSON{num(r.Auto.MASE), num(r.Auto.SMAPE), num(r.Auto.Coverage)}
			for name, m := range r.Models {
				s.Models[name] = scoreJSON{num(m.MASE), num(m.SMAPE), num(m.Coverage)}
			}
			doc.Series = append(doc.Series, s)
		}
		return writeJSON(w, doc)
	case "csv":
		// One long table: a row per series and model, then the overall rows.
		t := &table{header: []string{"series", "model", "mase", "smape", "coverage95", "rel_mase"}}
		for _, r := range rs {
			row := func(name string, m forecast.ModelScore) {
				t.add(r.Name, name, fmtCSV(m.MASE), fmtCSV(m.SMAPE), fmtCSV(m.Coverage), fmtCSV(m.MASE/r.Baseline.MASE))
			}
			row("auto", r.Auto)
			for _, name := range r.SortedModels() {
				row(name, r.Models[name])
			}
		}
		for _, n := range names {
			o := sum[n]
			t.add("ALL", n, "", fmtCSV(float64(o.SMAPE)), fmtCSV(float64(o.Coverage)), fmtCSV(float64(o.GeoRelMASE)))
		}
		return t.write(w, out)
	}
	t := &table{header: []string{"series", "n", "step", "m", "chosen", "auto_mase", "auto_smape", "auto_cov95", "snaive_mase", "rel_mase"}}
	for _, r := range rs {
		t.add(r.Name, strconv.Itoa(r.N), r.Step.String(), strconv.Itoa(r.BasePeriod), topChoice(r.Chosen),
			fmtNum(r.Auto.MASE), fmtNum(r.Auto.SMAPE), fmtNum(r.Auto.Coverage), fmtNum(r.Baseline.MASE), fmtNum(r.RelMASE))
	}
	if err := t.write(w, out); err != nil {
		return err
	}
	// MASE of every model on every series ("-" where a model does not apply).
	fmt.Fprintln(w, "\nMASE by model")
	m := &table{header: []string{"series"}}
	for _, n := range names {
		if n != "auto" {
			m.header = append(m.header, n)
		}
	}
	for _, r := range rs {
		row := []string{r.Name}
		for _, n := range m.header[1:] {
			s, ok := r.Models[n]
			if n == "seasonal-naive" {
				s, ok = r.Baseline, true
			}
			if !ok {
				row = append(row, "-")
				continue
			}
			row = append(row, fmtNum(s.MASE))
		}
		m.add(row...)
	}
	if err := m.write(w, out); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nOverall: geometric mean over series of MASE relative to seasonal naive; mean sMAPE; coverage of the 0.95 quantile pooled over all points")
	o := &table{header: []string{"model", "geomean_rel_mase", "mean_smape", "coverage95", "series"}}
	for _, n := range names {
		o.add(n, fmtNum(float64(sum[n].GeoRelMASE)), fmtNum(float64(sum[n].SMAPE)), fmtNum(float64(sum[n].Coverage)), strconv.Itoa(sum[n].Series))
	}
	if err := o.write(w, out); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d series in %.1fs\n", len(rs), elapsed.Seconds())
	return nil
}

// fmtCSV formats a number for CSV at full precision ("" for NaN).
func fmtCSV(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// topChoice names the model auto chose most often ("+N" more when it varied).
func topChoice(c map[string]int) string {
	best, bn, total := "", -1, 0
	for k, v := range c {
		total += v
		if v > bn || (v == bn && k < best) {
			best, bn = k, v
		}
	}
	if bn < total {
		return fmt.Sprintf("%s (%d/%d)", best, bn, total)
	}
	return best
}
