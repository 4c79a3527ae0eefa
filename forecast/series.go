package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors returned by the package. Wrapped errors carry context; test with errors.Is.
var (
	ErrInsufficientData = errors.New("forecast: insufficient data")
	ErrInvalidSeries    = errors.New("forecast: invalid series")
	ErrUnknownModel     = errors.New("forecast: unknown model")
	ErrInvalidArgument  = errors.New("forecast: invalid argument")
)

// Series is a time series on a regular grid: Values[i] was observed at Start + i*Step.
// NaN marks a missing value.
type Series struct {
	Name   string
	Start  time.Time
	Step   time.Duration
	Values []float64
}

// Len returns the number of grid points.
func (s Series) Len() int { return len(s.Values) }

// Time returns the time of grid point i.
func (s Series) Time(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

// End returns the time of the last grid point.
func (s Series) End() time.Time { return s.Time(len(s.Values) - 1) }

// MaxValue bounds the magnitude of values a series may hold: beyond it, sums
// of squares in the fits overflow float64. No resource metric comes near it.
const MaxValue = 1e150

// Validate checks that the series has a positive step and no infinite or
// overflowing values.
func (s Series) Validate() error {
	if s.Step <= 0 {
		return fmt.Errorf("%w: step %v is not positive", ErrInvalidSeries, s.Step)
	}
	for i, v := range s.Values {
		if math.IsInf(v, 0) || math.Abs(v) > MaxValue {
			return fmt.Errorf("%w: value %d (%s) is %g, beyond ±%g", ErrInvalidSeries, i, s.Time(i).Format(time.RFC3339), v, MaxValue)
		}
	}
	return nil
}

// Preparation describes what Prepare did to make a series complete.
type Preparation struct {
	DroppedLeading  int // leading missing points removed
	DroppedTrailing int // trailing missing points removed (the forecast starts after the last real sample)
	DroppedBefore   int // points before a long gap that were not used
	Interpolated    int // interior missing points filled by linear interpolation
}

// Prepare returns a copy of s without missing values, ready for fitting.
// Leading and trailing missing points are dropped; a gap longer than longGap
// points discards everything before it when at least minKeep points follow it;
// remaining interior gaps are filled by linear interpolation. It fails with
// ErrInsufficientData when no value is present.
func Prepare(s Series, longGap, minKeep int) (Series, Preparation, error) {
	var p Preparation
	if err := s.Validate(); err != nil {
		return Series{}, p, err
	}
	first, last := -1, -1
	for i, v := range s.Values {
		if !math.IsNaN(v) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return Series{}, p, fmt.Errorf("%w: %q has no values", ErrInsufficientData, s.Name)
	}
	p.DroppedLeading = first
	p.DroppedTrailing = len(s.Values) - 1 - last
	vals := s.Values[first : last+1]
	// Find the last long gap.
	if longGap > 0 {
		run := 0
		for i := len(vals) - 1; i >= 0; i-- {
			if math.IsNaN(vals[i]) {
				run++
				continue
			}
			if run > longGap && len(vals)-(i+1+run) >= minKeep {
				cut := i + 1 + run
				p.DroppedBefore = cut
				vals = vals[cut:]
				break
			}
			run = 0
		}
	}
	out := make([]float64, len(vals))
	copy(out, vals)
	p.Interpolated = interpolate(out)
	start := s.Start.Add(time.Duration(first+p.DroppedBefore) * s.Step)
	return Series{Name: s.Name, Start: start, Step: s.Step, Values: out}, p, nil
}

// interpolate fills interior NaN runs of x linearly and returns how many it filled.
// x must start and end with a real value.
func interpolate(x []float64) int {
	filled := 0
	for i := 0; i < len(x); i++ {
		if !math.IsNaN(x[i]) {
			continue
		}
		j := i
		for j < len(x) && math.IsNaN(x[j]) {
			j++
		}
		a, b := x[i-1], x[j]
		span := float64(j - i + 1)
		for k := i; k < j; k++ {
			x[k] = a + (b-a)*float64(k-i+1)/span
		}
		filled += j - i
		i = j
	}
	return filled
}
