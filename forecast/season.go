package forecast

import (
	"math"
	"sort"
	"time"
)

// CandidatePeriods are the seasonal periods Detect considers: an hour, a day, a week.
var CandidatePeriods = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// Seasonality is one detected seasonal period.
type Seasonality struct {
	Period   time.Duration
	Steps    int     // the period in grid steps
	Strength float64 // in [0, 1]: 1 − Var(remainder)/Var(season + remainder)
}

// MinSeasonStrength is the strength above which Detect reports a period.
const MinSeasonStrength = 0.3

// Detect reports which candidate periods are present in y (sampled every
// step), strongest first. For each candidate period p that spans at least two
// whole periods and four steps, it removes the trend with a centred moving
// average over one period (which cancels the period's own cycle), takes the
// mean per phase of what is left as the seasonal shape, and measures the
// strength
//
//	F = 1 − Var(R)·c / Var(S + R),  c = k/(k−1)
//
// where R is the detrended series minus the shape and k the number of whole
// periods (c corrects the shape's overfit on few periods, so pure noise scores
// about 0). Values beyond 5 robust standard deviations from the median are
// clipped first so that one burst does not read as a season.
func Detect(y []float64, step time.Duration) []Seasonality {
	var out []Seasonality
	if step <= 0 || len(y) == 0 {
		return nil
	}
	x := clipOutliers(y)
	trend := make([]float64, len(x))
	for _, period := range CandidatePeriods {
		ratio := float64(period) / float64(step)
		p := int(math.Round(ratio))
		if p < 4 || math.Abs(ratio-float64(p)) > 0.01*ratio || len(x) < 2*p {
			continue
		}
		if f := seasonStrength(x, p, trend); f >= MinSeasonStrength {
			out = append(out, Seasonality{Period: period, Steps: p, Strength: f})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Strength > out[j].Strength })
	return out
}

// Periods is Detect for given periods, used whatever their strength: each
// that is a whole number of at least 4 steps (within 1%) and that y spans
// twice, strongest first.
func Periods(y []float64, step time.Duration, periods []time.Duration) []Seasonality {
	var out []Seasonality
	if step <= 0 || len(y) == 0 {
		return nil
	}
	x := clipOutliers(y)
	trend := make([]float64, len(x))
	seen := map[int]bool{}
	for _, period := range periods {
		ratio := float64(period) / float64(step)
		p := int(math.Round(ratio))
		if p < 4 || math.Abs(ratio-float64(p)) > 0.01*ratio || len(x) < 2*p || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, Seasonality{Period: period, Steps: p, Strength: seasonStrength(x, p, trend)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Strength > out[j].Strength })
	return out
}

// seasonStrength is the strength of period p in x; trend is scratch, len(x).
func seasonStrength(x []float64, p int, trend []float64) float64 {
	movingAverageTo(trend, x, p)
	shape := make([]float64, p)
	counts := make([]float64, p)
	for i, t := range trend {
		if !math.IsNaN(t) {
			shape[i%p] += x[i] - t
			counts[i%p]++
		}
	}
	for i := range shape {
		if counts[i] > 0 {
			shape[i] /= counts[i]
		}
	}
	var sr, r, nv float64
	var msr, mr float64
	for i, t := range trend {
		if math.IsNaN(t) {
			continue
		}
		d := x[i] - t
		msr += d
		mr += d - shape[i%p]
		nv++
	}
	if nv < 2 {
		return 0
	}
	msr /= nv
	mr /= nv
	for i, t := range trend {
		if math.IsNaN(t) {
			continue
		}
		d := x[i] - t
		sr += (d - msr) * (d - msr)
		e := d - shape[i%p] - mr
		r += e * e
	}
	if sr == 0 {
		return 0
	}
	k := nv / float64(p)
	if k <= 1 {
		return 0
	}
	f := 1 - r*k/(k-1)/sr
	return math.Max(0, math.Min(1, f))
}

// clipOutliers returns y with values further than 5 robust standard
// deviations from the median pulled in to that bound.
func clipOutliers(y []float64) []float64 {
	x := append([]float64(nil), y...)
	med := quantileSelect(x, 0.5) // x is reordered, then overwritten
	for i, v := range y {
		x[i] = math.Abs(v - med)
	}
	s := 1.4826 * quantileSelect(x, 0.5)
	copy(x, y)
	if s == 0 {
		return x
	}
	lo, hi := med-5*s, med+5*s
	for i, v := range x {
		x[i] = math.Max(lo, math.Min(hi, v))
	}
	return x
}
