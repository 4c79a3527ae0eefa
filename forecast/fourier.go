package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Fourier is dynamic harmonic regression: a least-squares fit of
//
//	y(t) = c + d·t + Σₚ Σₖ [aₚₖ·sin(2πkt/p) + bₚₖ·cos(2πkt/p)] + r(t)
//
// with several seasonal periods at once (daily and weekly together), and an
// AR(1) model of the residual r, so the forecast bends from the last observed
// deviation back to the regression curve:
//
//	ŷ(T+h) = c + d·(T+h) + Σ … + ρʰ·r(T)
//
// The regression is solved with gonum/mat (QR); one Huber reweighting pass
// keeps bursts from pulling the curve. Harmonics that coincide across periods
// (the 7th weekly harmonic is the 1st daily one) are included once.
type Fourier struct {
	Periods []int // seasonal periods in steps (each ≥ 2)
	K       int   // harmonics per period; 0 means min(8, ⌊(p−1)/2⌋)
	Trend   bool  // include the linear trend term
}

func (m Fourier) Name() string {
	if m.Trend {
		return "fourier-trend"
	}
	return "fourier"
}

// harmonic is one sine/cosine pair at k cycles per period p.
type harmonic struct{ k, p int }

// trig holds sin and cos of 2πj/p for j = 0..p−1, so that harmonic k at time t
// is a table lookup at (k·t) mod p instead of a Sincos call.
type trig struct{ sin, cos []float64 }

func newTrig(p int) trig {
	t := trig{make([]float64, p), make([]float64, p)}
	for j := range p {
		t.sin[j], t.cos[j] = math.Sincos(2 * math.Pi * float64(j) / float64(p))
	}
	return t
}

func (m Fourier) harmonics() []harmonic {
	var hs []harmonic
	seen := map[int64]bool{}
	for _, p := range m.Periods {
		if p < 2 {
			continue
		}
		k := m.K
		if k == 0 {
			k = 8
		}
		k = min(k, (p-1)/2)
		if p == 2 {
			k = 1 // only the cosine at the Nyquist frequency is informative; sin(πt) = 0 is dropped below
		}
		for j := 1; j <= k; j++ {
			f := float64(j) / float64(p)
			key := int64(math.Round(f * 1e9))
			if seen[key] {
				continue
			}
			seen[key] = true
			hs = append(hs, harmonic{j, p})
		}
	}
	return hs
}

type fourierState struct {
	coef  []float64
	hs    []harmonic
	tabs  map[int]trig // by period
	buf   []float64    // scratch row
	trend bool
	scale float64 // the trend regressor is t/scale
	t     int     // index of the next observation
	rho   float64
	r     float64 // last residual (clipped)
	delta float64 // residual clip
}

func (s *fourierState) row(t int, dst []float64) {
	dst[0] = 1
	i := 1
	if s.trend {
		dst[1] = float64(t) / s.scale
		i = 2
	}
	for _, h := range s.hs {
		tab := s.tabs[h.p]
		j := (h.k * (t % h.p)) % h.p
		dst[i], dst[i+1] = tab.sin[j], tab.cos[j]
		i += 2
	}
}

func (s *fourierState) curve(t int, row []float64) float64 {
	s.row(t, row)
	var v float64
	for i, c := range s.coef {
		v += c * row[i]
	}
	return v
}

func (s *fourierState) clip(r float64) float64 {
	if s.delta > 0 {
		return math.Max(-s.delta, math.Min(s.delta, r))
	}
	return r
}

func (s *fourierState) Observe(y float64) {
	s.r = s.clip(y - s.curve(s.t, s.buf))
	s.t++
}

func (s *fourierState) Forecast(dst []float64) {
	rk := s.r
	for k := range dst {
		rk *= s.rho
		dst[k] = s.curve(s.t+k, s.buf) + rk
	}
}

func (m Fourier) Fit(y []float64) (State, error) {
	hs := m.harmonics()
	p := 1 + 2*len(hs)
	if m.Trend {
		p++
	}
	n := len(y)
	if n < 2*p {
		return nil, fmt.Errorf("%w: %s with %d regressors needs %d points, have %d", ErrInsufficientData, m.Name(), p, 2*p, n)
	}
	s := &fourierState{hs: hs, trend: m.Trend, scale: float64(n), t: n, tabs: map[int]trig{}, buf: make([]float64, p)}
	for _, h := range hs {
		if _, ok := s.tabs[h.p]; !ok {
			s.tabs[h.p] = newTrig(h.p)
		}
	}
	x := mat.NewDense(n, p, nil)
	for t := 0; t < n; t++ {
		s.row(t, x.RawRowView(t))
	}
	yv := mat.NewVecDense(n, append([]float64(nil), y...))
	coef, err := solveLS(x, yv)
	if err != nil {
		return nil, fmt.Errorf("forecast: fitting %s: %w", m.Name(), err)
	}
	// One Huber reweighting pass: rows with large residuals get weight δ/|r|.
	res := make([]float64, n)
	for t := 0; t < n; t++ {
		res[t] = y[t] - mat.Dot(x.RowView(t), coef)
	}
	abs := make([]float64, n)
	for i, r := range res {
		abs[i] = math.Abs(r)
	}
	delta := 1.345 * 1.4826 * median(abs)
	if delta > 0 {
		for t := 0; t < n; t++ {
			if a := abs[t]; a > delta {
				w := math.Sqrt(delta / a)
				row := x.RawRowView(t)
				for j := range row {
					row[j] *= w
				}
				yv.SetVec(t, yv.AtVec(t)*w)
			}
		}
		if c2, err := solveLS(x, yv); err == nil {
			coef = c2
		}
		cv := coef.RawVector().Data
		for t := 0; t < n; t++ {
			s.row(t, s.buf)
			var v float64
			for j, c := range cv {
				v += c * s.buf[j]
			}
			res[t] = y[t] - v
		}
	}
	s.coef = append([]float64(nil), coef.RawVector().Data...)
	s.delta = 3 * delta
	// AR(1) coefficient of the clipped residuals.
	var num, den float64
	for t := range res {
		res[t] = s.clip(res[t])
	}
	for t := 1; t < n; t++ {
		num += res[t] * res[t-1]
		den += res[t-1] * res[t-1]
	}
	if den > 0 {
		s.rho = math.Max(0, math.Min(0.995, num/den))
	}
	s.r = res[n-1]
	return s, nil
}

// solveLS solves min ‖x·b − y‖₂ through the normal equations xᵀx·b = xᵀy
// with a Cholesky factorisation, falling back to QR when xᵀx is not positive
// definite. The regressors here (a constant, a trend scaled to [0, 1] and
// sines and cosines) are close to orthogonal, so the normal equations lose
// little accuracy and cost a quarter of a QR factorisation.
func solveLS(x *mat.Dense, y *mat.VecDense) (*mat.VecDense, error) {
	_, p := x.Dims()
	var xtx mat.SymDense
	xtx.SymOuterK(1, x.T())
	var xty mat.VecDense
	xty.MulVec(x.T(), y)
	b := mat.NewVecDense(p, nil)
	var ch mat.Cholesky
	if ch.Factorize(&xtx) {
		if err := ch.SolveVecTo(b, &xty); err == nil {
			return b, nil
		}
	}
	var qr mat.QR
	qr.Factorize(x)
	if err := qr.SolveVecTo(b, false, y); err != nil {
		return nil, err
	}
	return b, nil
}
