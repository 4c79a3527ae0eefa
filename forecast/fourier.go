package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"
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

	// memo lets candidates that differ only in Trend share the design and
	// its normal equations (Auto fits both on the same slice).
	memo *fourierDesign
}

func (m Fourier) Name() string {
	if m.Trend {
		return "fourier-trend"
	}
	return "fourier"
}

// harmonic is one sine/cosine pair at k cycles per period p; tab holds the
// period's sine and cosine table once the model is fitted.
type harmonic struct {
	k, p int
	tab  *trig
}

// trig holds sin and cos of 2πj/p for j = 0..p−1, interleaved (sc[2j] is
// the sine, sc[2j+1] the cosine), so that harmonic k at time t is a table
// lookup at (k·t) mod p instead of a Sincos call.
type trig struct{ sc []float64 }

func newTrig(p int) trig {
	t := trig{make([]float64, 2*p)}
	for j := range p {
		t.sc[2*j], t.sc[2*j+1] = math.Sincos(2 * math.Pi * float64(j) / float64(p))
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
			hs = append(hs, harmonic{k: j, p: p})
		}
	}
	return hs
}

type fourierState struct {
	coef []float64
	hs   []harmonic
	buf  []float64 // scratch row
	// cache holds the regression curve from step cacheFrom on: validation
	// forecasts from hundreds of origins revisit the same future steps.
	cache     []float64
	cacheFrom int
	trend     bool
	scale     float64 // the trend regressor is t/scale
	t         int     // index of the next observation
	rho       float64
	r         float64 // last residual (clipped)
	delta     float64 // residual clip
}

func (s *fourierState) row(t int, dst []float64) {
	dst[0] = 1
	i := 1
	if s.trend {
		dst[1] = float64(t) / s.scale
		i = 2
	}
	for _, h := range s.hs {
		j := 2 * ((h.k * (t % h.p)) % h.p)
		dst[i], dst[i+1] = h.tab.sc[j], h.tab.sc[j+1]
		i += 2
	}
}

func (s *fourierState) curve(t int, row []float64) float64 {
	if i := t - s.cacheFrom; i >= 0 && i < len(s.cache) {
		return s.cache[i]
	}
	v := s.eval(t, row)
	if t == s.cacheFrom+len(s.cache) {
		s.cache = append(s.cache, v)
	}
	return v
}

func (s *fourierState) eval(t int, row []float64) float64 {
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
	// Steps before t are never evaluated again: the cache holds at most the
	// steps of the longest forecast made since, however long the state runs.
	if s.cacheFrom < s.t && len(s.cache) > 0 {
		s.cache = s.cache[1:]
		s.cacheFrom++
	}
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
	s := &fourierState{hs: hs, trend: m.Trend, scale: float64(n), t: n, buf: make([]float64, p), cacheFrom: n}
	tabs := map[int]*trig{}
	for i, h := range hs {
		if tabs[h.p] == nil {
			t := newTrig(h.p)
			tabs[h.p] = &t
		}
		hs[i].tab = tabs[h.p]
	}
	// The design with the trend column; the model without trend uses all
	// columns but that one. Candidates that differ only in Trend share it.
	// The design matrix itself (n × p) is never stored: its rows are
	// generated again wherever they are needed, which costs table lookups.
	d := m.design(y, s)
	full := &fourierState{hs: s.hs, trend: true, scale: s.scale}
	keep := make([]int, 0, p)
	for j := 0; j < d.p; j++ {
		if j != 1 || m.Trend {
			keep = append(keep, j)
		}
	}
	xtx, xty := subSystem(d.xtx, d.xty, keep)
	coef, err := solveNormal(xtx, xty)
	if err != nil {
		return nil, fmt.Errorf("forecast: fitting %s: %w", m.Name(), err)
	}
	wide := mat.NewVecDense(d.p, nil)
	chunk := make([]float64, residualChunk*d.p)
	res := make([]float64, n)
	residuals := func() {
		wide.Zero()
		for i, j := range keep {
			wide.SetVec(j, coef.AtVec(i))
		}
		// The fitted values, residualChunk rows of the design at a time
		// (gonum's matrix-vector kernel computes each row on its own, so
		// this is the product with the whole design, bit for bit).
		g := full.rows(0)
		var x mat.Dense
		var fv mat.VecDense
		for from := 0; from < n; from += residualChunk {
			rows := min(residualChunk, n-from)
			x.SetRawMatrix(blas64.General{Rows: rows, Cols: d.p, Stride: d.p, Data: chunk[:rows*d.p]})
			for i := range rows {
				g.next(chunk[i*d.p : (i+1)*d.p])
			}
			fv.SetRawVector(blas64.Vector{N: rows, Inc: 1, Data: res[from : from+rows]})
			fv.MulVec(&x, wide)
		}
		for t := range res {
			res[t] = y[t] - res[t]
		}
	}
	residuals()
	abs := make([]float64, n)
	for t := range res {
		abs[t] = math.Abs(res[t])
	}
	// One Huber reweighting pass: rows whose residual exceeds δ get weight
	// δ/|r|, applied as rank-one downdates of the normal equations (bursts are
	// few, so this is much cheaper than forming them again).
	delta := 1.345 * 1.4826 * quantileSelect(abs, 0.5) // abs is reordered
	if delta > 0 {
		changed := false
		xr := make([]float64, d.p)
		row := make([]float64, len(keep))
		a, v := xtx.RawSymmetric().Data, xty.RawVector().Data
		k := len(keep)
		g := full.rows(0)
		for t := 0; t < n; t++ {
			g.next(xr)
			if ar := math.Abs(res[t]); ar > delta {
				c := 1 - delta/ar
				for i, j := range keep {
					row[i] = xr[j]
				}
				// xtx −= c·row·rowᵀ (upper triangle) and xty −= c·y(t)·row,
				// in the order of operations of gonum's Dsyr and Axpy.
				alpha, beta := -c, -c*y[t]
				for i, ri := range row {
					v[i] += float64(beta * ri)
					if tmp := float64(ri * alpha); tmp != 0 {
						at := a[i*k+i : i*k+k]
						for j, rj := range row[i:] {
							at[j] += float64(rj * tmp)
						}
					}
				}
				changed = true
			}
		}
		if changed {
			if c2, err := solveNormal(xtx, xty); err == nil {
				coef = c2
				residuals()
			}
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

// residualChunk is the number of design rows materialised at a time for the
// fitted values; a multiple of 4, so gonum's kernel, which takes rows four at
// a time, groups them as it would in the whole design.
const residualChunk = 256

// rowGen writes the design rows t, t+1, … in turn: each harmonic's table
// index advances by k modulo p, instead of the two remainders per harmonic
// that row pays for random access.
type rowGen struct {
	t     int
	trend bool
	scale float64
	hs    []genHarmonic
}

type genHarmonic struct {
	sc   []float64 // the period's interleaved table (trig.sc)
	at   int       // 2·((k·t) mod p): the sine's index in sc
	step int       // 2k
}

func (s *fourierState) rows(from int) *rowGen {
	g := &rowGen{t: from, trend: s.trend, scale: s.scale, hs: make([]genHarmonic, len(s.hs))}
	for i, h := range s.hs {
		g.hs[i] = genHarmonic{sc: h.tab.sc, at: 2 * ((h.k * (from % h.p)) % h.p), step: 2 * h.k}
	}
	return g
}

// next writes row g.t into dst (as row does) and moves to the next one.
func (g *rowGen) next(dst []float64) {
	dst[0] = 1
	i := 1
	if g.trend {
		dst[1] = float64(g.t) / g.scale
		i = 2
	}
	dst = dst[i : i+2*len(g.hs)]
	for hi := range g.hs {
		h := &g.hs[hi]
		a := h.at
		dst[2*hi], dst[2*hi+1] = h.sc[a], h.sc[a+1]
		if a += h.step; a >= len(h.sc) {
			a -= len(h.sc)
		}
		h.at = a
	}
	g.t++
}

// fourierDesign holds the normal equations of the regression design with the
// trend column (index 1): xᵀx (upper triangle) and xᵀy.
type fourierDesign struct {
	first   *float64
	n, p    int
	periods []int
	k       int
	xtx     *mat.SymDense
	xty     *mat.VecDense
}

// design returns the normal equations of the trend design for y, from the
// memo when the same history and harmonics were used by the previous fit.
// They are accumulated row by row, each entry summed over t in order: the
// same operations, in the same order, as gonum's Dsyrk and Dgemv on the
// whole design matrix, without storing it.
func (m Fourier) design(y []float64, s *fourierState) *fourierDesign {
	if d := m.memo; d != nil && d.xtx != nil && d.first == &y[0] && d.n == len(y) && d.k == m.K && slices.Equal(d.periods, m.Periods) {
		return d
	}
	n, p := len(y), 2+2*len(s.hs)
	full := &fourierState{hs: s.hs, trend: true, scale: s.scale}
	a := make([]float64, p*p)
	v := make([]float64, p)
	buf := make([]float64, 4*p)
	r0, r1, r2, r3 := buf[:p], buf[p:2*p], buf[2*p:3*p], buf[3*p:]
	g := full.rows(0)
	// Four rows at a time: each entry still adds the rows' products one
	// after the other in t order (the products of a zero regressor, which
	// Dsyrk skips, are zeros and change no sum), but is loaded and stored
	// once per four rows.
	t := 0
	for ; t+4 <= n; t += 4 {
		g.next(r0)
		g.next(r1)
		g.next(r2)
		g.next(r3)
		y0, y1, y2, y3 := y[t], y[t+1], y[t+2], y[t+3]
		for i := range p {
			v[i] = v[i] + float64(r0[i]*y0) + float64(r1[i]*y1) + float64(r2[i]*y2) + float64(r3[i]*y3)
			a0, a1, a2, a3 := r0[i], r1[i], r2[i], r3[i]
			at := a[i*p+i : i*p+p]
			s0, s1, s2, s3 := r0[i:p], r1[i:p], r2[i:p], r3[i:p]
			s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
			at = at[:len(s0)]
			for j := range s0 {
				at[j] = at[j] + float64(a0*s0[j]) + float64(a1*s1[j]) + float64(a2*s2[j]) + float64(a3*s3[j])
			}
		}
	}
	for ; t < n; t++ {
		g.next(r0)
		yt := y[t]
		for i, ri := range r0 {
			v[i] += float64(ri * yt)
			at := a[i*p+i : i*p+p]
			for j, rj := range r0[i:] {
				at[j] += float64(ri * rj)
			}
		}
	}
	d := &fourierDesign{first: &y[0], n: n, p: p, periods: slices.Clone(m.Periods), k: m.K,
		xtx: mat.NewSymDense(p, a), xty: mat.NewVecDense(p, v)}
	if m.memo != nil {
		*m.memo = *d
	}
	return d
}

// subSystem copies the rows and columns keep of a symmetric system.
func subSystem(a *mat.SymDense, v *mat.VecDense, keep []int) (*mat.SymDense, *mat.VecDense) {
	k := len(keep)
	sa := mat.NewSymDense(k, nil)
	sv := mat.NewVecDense(k, nil)
	for i, r := range keep {
		sv.SetVec(i, v.AtVec(r))
		for j := i; j < k; j++ {
			sa.SetSym(i, j, a.At(r, keep[j]))
		}
	}
	return sa, sv
}

// solveNormal solves a·b = v for symmetric positive definite a (Cholesky).
func solveNormal(a *mat.SymDense, v *mat.VecDense) (*mat.VecDense, error) {
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return nil, errors.New("normal equations are not positive definite (collinear regressors)")
	}
	b := mat.NewVecDense(v.Len(), nil)
	if err := ch.SolveVecTo(b, v); err != nil {
		return nil, err
	}
	return b, nil
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
