package forecast

import (
	"fmt"
)

// Model is a forecasting method. Fit estimates its parameters from a complete
// series (no NaN) and returns a State positioned after the last observation.
type Model interface {
	Name() string
	Fit(y []float64) (State, error)
}

// State is a fitted model. Observe advances it by one observation without
// re-estimating parameters (as a live planner sees new data between refits);
// Forecast writes the next len(dst) forecasts into dst.
type State interface {
	Observe(y float64)
	Forecast(dst []float64)
}

// Naive forecasts the last observation for every step ahead.
type Naive struct{}

func (Naive) Name() string { return "naive" }

func (Naive) Fit(y []float64) (State, error) {
	if len(y) == 0 {
		return nil, fmt.Errorf("%w: naive needs one value", ErrInsufficientData)
	}
	return &naiveState{last: y[len(y)-1]}, nil
}

type naiveState struct{ last float64 }

func (s *naiveState) Observe(y float64) { s.last = y }
func (s *naiveState) Forecast(dst []float64) {
	for i := range dst {
		dst[i] = s.last
	}
}

// SeasonalNaive forecasts the value observed one period earlier:
//
//	ŷ(t+k) = y(t+k-m·⌈k/m⌉)
//
// With Period ≤ 1 it is the naive forecast.
type SeasonalNaive struct{ Period int }

func (m SeasonalNaive) Name() string { return "snaive" }

func (m SeasonalNaive) Fit(y []float64) (State, error) {
	p := max(m.Period, 1)
	if len(y) < p {
		return nil, fmt.Errorf("%w: snaive needs one period (%d points), have %d", ErrInsufficientData, p, len(y))
	}
	r := newRing(p)
	for _, v := range y[len(y)-p:] {
		r.push(v)
	}
	return &snaiveState{r: r}, nil
}

type snaiveState struct{ r *ring }

func (s *snaiveState) Observe(y float64) { s.r.push(y) }
func (s *snaiveState) Forecast(dst []float64) {
	n := len(s.r.buf)
	for i := range dst {
		dst[i] = s.r.at(i % n)
	}
}

// Median forecasts the median of the last Window observations, flat. It is the
// robust level for series whose load comes in short bursts: the median is the
// point forecast that minimises absolute error when bursts are rare.
type Median struct{ Window int }

func (m Median) Name() string { return "median" }

func (m Median) Fit(y []float64) (State, error) {
	w := max(m.Window, 1)
	if len(y) < w {
		return nil, fmt.Errorf("%w: median needs %d points, have %d", ErrInsufficientData, w, len(y))
	}
	r := newRing(w)
	for _, v := range y[len(y)-w:] {
		r.push(v)
	}
	return &medianState{r: r, tmp: make([]float64, w)}, nil
}

type medianState struct {
	r   *ring
	tmp []float64
}

func (s *medianState) Observe(y float64) { s.r.push(y) }
func (s *medianState) Forecast(dst []float64) {
	copy(s.tmp, s.r.buf)
	med := quantileSelect(s.tmp, 0.5)
	for i := range dst {
		dst[i] = med
	}
}

// ring holds the last len(buf) values; at(0) is the oldest.
type ring struct {
	buf []float64
	pos int // index of the oldest value
}

func newRing(n int) *ring { return &ring{buf: make([]float64, n)} }

func (r *ring) push(v float64) {
	r.buf[r.pos] = v
	r.pos++
	if r.pos == len(r.buf) {
		r.pos = 0
	}
}

func (r *ring) at(i int) float64 { return r.buf[(r.pos+i)%len(r.buf)] }

// median returns the median of x without modifying it.
func median(x []float64) float64 {
	return quantileSelect(append([]float64(nil), x...), 0.5)
}
