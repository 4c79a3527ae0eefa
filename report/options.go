package report

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/policy"
)

const hoursPerMonth = policy.HoursPerMonth

// BacktestLimit is the number of workloads up to which a report backtests
// every workload with forecast.Evaluate by default (Options.Backtest).
const BacktestLimit = 100

// Options configure a report. The zero value of each field is documented.
type Options struct {
	// Now is the report's time (GeneratedAt); the report reads no clock.
	Now time.Time
	// Title replaces the default title.
	Title string
	// History is how far back from the newest sample the store is read;
	// 0 means 28 days.
	History time.Duration
	// Step is the grid the history is averaged onto; 0 means 1 h.
	Step time.Duration
	// Horizon is how far ahead the pools' demand is forecast (runway, peak
	// nodes); 0 means 30 days.
	Horizon time.Duration
	// WorkloadHorizon is how far ahead each workload's demand is forecast
	// (its chart, peak replicas, headroom at the peak); 0 means 7 days or
	// Horizon when shorter. The forecast's cost grows with its length.
	WorkloadHorizon time.Duration
	// Quantile is the forecast level planned for; 0 means the plan's.
	Quantile float64
	// RunwayWarn is the runway below which a pool gets a finding (Critical
	// below a third of it); 0 means 30 days.
	RunwayWarn time.Duration
	// StaleAfter is the age beyond which a workload's metrics are stale,
	// counted back from the newest sample in the store; 0 means the plan's
	// maxAge (10 min by default).
	StaleAfter time.Duration
	// Backtest is the number of rolling origins of forecast.Evaluate per
	// workload (24 steps ahead each), which gives the relative MASE against
	// seasonal naive; 0 means 4 when the report has at most
	// BacktestLimit workloads and none above (an Evaluate costs several
	// fits), negative means none. The fit's own validation accuracy
	// (forecast.Auto's backtest) is always shown.
	Backtest int
	// Unpredictable is the backtest sMAPE (percent) above which a
	// workload's demand is called unpredictable; 0 means 40.
	Unpredictable float64
	// Decisions is how many of the newest decisions to show per workload;
	// 0 means 5.
	Decisions int
	// MaxCharts caps the per-workload charts (the largest workloads by
	// CPU request get them first); 0 means 100, negative means none.
	MaxCharts int
	// Parallel is how many workloads are forecast at once; 0 means 2.
	Parallel int
}

func (o Options) withDefaults() Options {
	if o.History <= 0 {
		o.History = 28 * 24 * time.Hour
	}
	if o.Step <= 0 {
		o.Step = time.Hour
	}
	if o.Horizon <= 0 {
		o.Horizon = 30 * 24 * time.Hour
	}
	if o.RunwayWarn <= 0 {
		o.RunwayWarn = 30 * 24 * time.Hour
	}
	if o.WorkloadHorizon <= 0 {
		o.WorkloadHorizon = min(7*24*time.Hour, o.Horizon)
	}
	if o.Unpredictable <= 0 {
		o.Unpredictable = 40
	}
	if o.Decisions <= 0 {
		o.Decisions = 5
	}
	switch {
	case o.MaxCharts == 0:
		o.MaxCharts = 100
	case o.MaxCharts < 0:
		o.MaxCharts = 0
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	return o
}

// fmtF formats a number for tables and messages: whole numbers from 100
// up, two decimals from 1, three significant digits below; "-" for NaN.
func fmtF(f float64) string {
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return "-"
	case math.IsInf(f, 0):
		return "inf"
	case a >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(f, 'f', 2, 64)
	case f == 0:
		return "0"
	}
	s := strconv.FormatFloat(f, 'g', 3, 64)
	if strings.Contains(s, "e") {
		return strconv.FormatFloat(f, 'f', 6, 64)
	}
	return s
}

// fmtDur writes whole days as 30d, whole hours as 5h and whole minutes as
// 7m; other durations from two days up in days with one decimal (2.5d),
// from two hours up in hours (3.2h), else as time.Duration does.
func fmtDur(d time.Duration) string {
	one := func(v float64, unit string) string {
		return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + unit
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= 48*time.Hour:
		return one(d.Hours()/24, "d")
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= 2*time.Hour:
		return one(d.Hours(), "h")
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

// fmtQ writes a quantile level without floating-point noise (0.05, not
// 0.050000000000000044).
func fmtQ(q float64) string {
	return strconv.FormatFloat(math.Round(q*1e6)/1e6, 'g', -1, 64)
}
