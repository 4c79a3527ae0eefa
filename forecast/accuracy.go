package forecast

import "math"

// MAE is the mean absolute error of forecast f against actual y (equal lengths).
func MAE(y, f []float64) float64 {
	var s float64
	for i := range y {
		s += math.Abs(y[i] - f[i])
	}
	return s / float64(len(y))
}

// SMAPE is the symmetric mean absolute percentage error, in percent:
//
//	sMAPE = 100/n · Σ 2·|y − f| / (|y| + |f|)
//
// where a point with y = f = 0 counts as zero error.
func SMAPE(y, f []float64) float64 {
	var s float64
	for i := range y {
		d := math.Abs(y[i]) + math.Abs(f[i])
		if d > 0 {
			s += 2 * math.Abs(y[i]-f[i]) / d
		}
	}
	return 100 * s / float64(len(y))
}

// MASEScale is the denominator of the mean absolute scaled error (Hyndman &
// Koehler, 2006): the in-sample mean absolute error of the seasonal naive
// forecast with period m on the training data,
//
//	scale = 1/(n−m) · Σₜ₌ₘⁿ⁻¹ |y(t) − y(t−m)|
//
// When that is zero (a constant or exactly periodic history) it falls back to
// the lag-1 differences, then to the mean absolute value, then to 1, so the
// scale is always positive and finite.
func MASEScale(train []float64, m int) float64 {
	m = max(m, 1)
	for _, lag := range []int{m, 1} {
		if len(train) > lag {
			var s float64
			for t := lag; t < len(train); t++ {
				s += math.Abs(train[t] - train[t-lag])
			}
			if s > 0 {
				return s / float64(len(train)-lag)
			}
		}
	}
	if s := meanAbs(train); s > 0 {
		return s
	}
	return 1
}

// Coverage is the share of actual values y at or below the upper bound u.
func Coverage(y, u []float64) float64 {
	if len(y) == 0 {
		return math.NaN()
	}
	c := 0
	for i := range y {
		if y[i] <= u[i] {
			c++
		}
	}
	return float64(c) / float64(len(y))
}
