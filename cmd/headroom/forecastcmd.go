package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/forecast"
	"github.com/headroom-dev/headroom/metrics/trace"
)

func newForecastCmd() *cobra.Command {
	var (
		input, column, horizon, quantiles, model, out, seasonality string
		step                                                       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "forecast --input FILE --horizon N|DURATION",
		Short: "Fit and forecast one series of a trace file",
		Long: `Reads one column of a CSV trace, selects a model by rolling-origin backtest
(or uses --model), and prints the point forecast and calibrated quantiles for
each of the next N steps, starting one step after the last sample.

--horizon takes a number of steps (24) or a duration (2h, 1d, 1w).`,
		Example: `  headroom forecast --input testdata/traces/nab-realKnownCause-nyc_taxi.csv --horizon 1d -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(out); err != nil {
				return err
			}
			if input == "" {
				return usagef("forecast: --input is required")
			}
			if horizon == "" {
				return usagef("forecast: --horizon is required (steps, or a duration such as 2h)")
			}
			levels, err := parseQuantiles(quantiles)
			if err != nil {
				return err
			}
			s, rep, err := readSeries(input, column, step)
			if err != nil {
				return err
			}
			h, err := parseHorizon(horizon, s.Step)
			if err != nil {
				return err
			}
			seas, err := parseSeasonality(seasonality)
			if err != nil {
				return err
			}
			f, err := forecast.Auto(s, forecast.Options{Horizon: h, Quantiles: levels, Model: model, Seasonality: seas})
			if err != nil {
				if errors.Is(err, forecast.ErrUnknownModel) || errors.Is(err, forecast.ErrInsufficientData) ||
					errors.Is(err, forecast.ErrInvalidArgument) || errors.Is(err, forecast.ErrInvalidSeries) {
					return &usageError{fmt.Errorf("%s: %w", input, err)}
				}
				return err
			}
			if rep != "" && out == "table" {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", input, rep)
			}
			return printForecast(cmd, f, out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&input, "input", "", "trace file (CSV: timestamp column, then numeric columns)")
	fl.StringVar(&column, "column", "", "column to forecast (default: the first value column)")
	fl.StringVar(&horizon, "horizon", "", "steps to forecast: a count (24) or a duration (2h, 1d, 1w)")
	fl.StringVar(&quantiles, "quantiles", "0.5,0.9,0.95,0.99", "quantile levels to forecast, comma-separated")
	fl.StringVar(&model, "model", "auto", "auto, or one of: "+strings.Join(forecast.ModelNames, ", "))
	fl.DurationVar(&step, "step", 0, "grid step (default: the median sampling interval)")
	fl.StringVar(&seasonality, "seasonality", "", seasonalityUsage)
	fl.StringVarP(&out, "output", "o", "table", "output format: table, json or csv")
	return cmd
}

// readSeries reads one column of a trace file as a forecast.Series. Problems
// with the file are usage errors naming the file, line and column.
func readSeries(path, column string, step time.Duration) (forecast.Series, string, error) {
	tr, err := trace.ReadFile(path, &trace.Options{Step: step})
	if err != nil {
		// A file that is missing or cannot be parsed is invalid input; the
		// reader's errors name the file, line and column.
		return forecast.Series{}, "", &usageError{err}
	}
	col, err := tr.Column(column)
	if err != nil {
		return forecast.Series{}, "", &usageError{err} // names the file and the columns it has
	}
	s := forecast.Series{Name: tr.Name + ":" + col.Name, Start: tr.Start, Step: tr.Step, Values: col.Values}
	return s, tr.Report.String(), nil
}

// parseHorizon reads a step count or a duration (with d and w units) and
// returns steps, rounding a duration up to whole steps.
func parseHorizon(v string, step time.Duration) (int, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 {
			return 0, usagef("--horizon %s: must be at least 1 step", v)
		}
		return n, nil
	}
	d, err := parseDuration(v)
	if err != nil || d <= 0 {
		return 0, usagef("--horizon %q: not a step count or a positive duration (e.g. 24, 2h, 1d)", v)
	}
	n := int((d + step - 1) / step)
	return max(n, 1), nil
}

// parseDuration is time.ParseDuration with d (24h) and w (168h) units.
func parseDuration(v string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if strings.HasSuffix(v, u.suffix) {
			f, err := strconv.ParseFloat(strings.TrimSuffix(v, u.suffix), 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return time.ParseDuration(v)
}

const seasonalityUsage = "seasonal periods to forecast with, comma-separated (24h,1w; as a plan's spec.forecast.seasonality), or none (default: detected)"

// parseSeasonality reads --seasonality: "" detects the periods (nil), "none"
// means no seasonality (an empty list), else a comma-separated list of
// positive durations (with d and w units).
func parseSeasonality(v string) ([]time.Duration, error) {
	switch strings.TrimSpace(v) {
	case "":
		return nil, nil
	case "none":
		return []time.Duration{}, nil
	}
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		d, err := parseDuration(f)
		if err != nil || d <= 0 {
			return nil, usagef("--seasonality: %q is not a positive duration (e.g. 24h, 1w) or none", f)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseQuantiles(v string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		q, err := strconv.ParseFloat(f, 64)
		if err != nil || !(q > 0 && q < 1) || math.IsNaN(q) {
			return nil, usagef("--quantiles: %q is not a level between 0 and 1", f)
		}
		out = append(out, q)
	}
	if len(out) == 0 {
		return nil, usagef("--quantiles: no levels given")
	}
	return out, nil
}

// forecastJSON is the JSON document of the CLI contract.
type forecastJSON struct {
	Model       string       `json:"model"`
	Seasonality []int64      `json:"seasonality_seconds"`
	Step        int64        `json:"step_seconds"`
	Points      []pointJSON  `json:"points"`
	Backtest    backtestJSON `json:"backtest"`
}

type pointJSON struct {
	T    string         `json:"t"`
	Mean num            `json:"mean"`
	Q    map[string]num `json:"q"`
}

type backtestJSON struct {
	MASE     num            `json:"mase"`
	SMAPE    num            `json:"smape"`
	Coverage map[string]num `json:"coverage"`
}

func printForecast(cmd *cobra.Command, f *forecast.Forecast, out string) error {
	w := cmd.OutOrStdout()
	if out == "json" {
		doc := forecastJSON{
			Model:       f.Model,
			Seasonality: []int64{},
			Step:        int64(f.Step / time.Second),
			Backtest:    backtestJSON{MASE: num(f.Backtest.MASE), SMAPE: num(f.Backtest.SMAPE), Coverage: map[string]num{}},
		}
		for _, s := range f.Seasonality {
			doc.Seasonality = append(doc.Seasonality, int64(s.Period/time.Second))
		}
		for l, c := range f.Backtest.Coverage {
			doc.Backtest.Coverage[levelKey(l)] = num(c)
		}
		for k := range f.Mean {
			p := pointJSON{T: f.Time(k).UTC().Format(time.RFC3339), Mean: num(f.Mean[k]), Q: map[string]num{}}
			for i, l := range f.Levels {
				p.Q[levelKey(l)] = num(f.Q[i][k])
			}
			doc.Points = append(doc.Points, p)
		}
		return writeJSON(w, doc)
	}
	t := &table{header: []string{"t", "mean"}}
	for _, l := range f.Levels {
		t.header = append(t.header, "q"+levelKey(l))
	}
	for k := range f.Mean {
		row := []string{f.Time(k).UTC().Format(time.RFC3339), fmtNum(f.Mean[k])}
		for i := range f.Levels {
			row = append(row, fmtNum(f.Q[i][k]))
		}
		t.add(row...)
	}
	if out == "table" {
		var seas []string
		for _, s := range f.Seasonality {
			seas = append(seas, fmt.Sprintf("%s (strength %.2f)", fmtPeriod(s.Period), s.Strength))
		}
		if len(seas) == 0 {
			seas = []string{"none detected"}
		}
		var cands []string
		for _, s := range f.Scores {
			if s.Err == "" {
				cands = append(cands, fmt.Sprintf("%s %s", s.Model, fmtNum(s.MASE)))
			}
		}
		fmt.Fprintf(w, "model: %s\nseasonality: %s\ncandidates (validation MASE): %s\n", f.Model, strings.Join(seas, ", "), strings.Join(cands, ", "))
		fmt.Fprintf(w, "backtest: MASE %s, sMAPE %s%%", fmtNum(f.Backtest.MASE), fmtNum(f.Backtest.SMAPE))
		for _, l := range f.Levels {
			if c, ok := f.Backtest.Coverage[l]; ok && l > 0.5 {
				fmt.Fprintf(w, ", q%s covered %s", levelKey(l), fmtNum(c))
			}
		}
		fmt.Fprintf(w, " (%d origins × %d steps)\n\n", f.Backtest.Origins, f.Backtest.Horizon)
	}
	return t.write(w, out)
}

func fmtPeriod(d time.Duration) string {
	switch {
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
