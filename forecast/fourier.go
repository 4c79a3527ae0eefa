package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
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
// The regression is solved through its normal equations (gonum/mat,
// Cholesky), formed without the design matrix (see fourierDesign); one Huber
// reweighting pass keeps bursts from pulling the curve. Harmonics that coincide across periods
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
	// The regression curve is c0 + c1·t/scale + season[t mod len(season)]:
	// the harmonics' part by phase of their common period, computed once
	// per fit, so that a step costs O(1). season is nil when the common
	// period is longer than the history; the curve then comes from eval.
	c0, c1 float64
	season []float64
	trend  bool
	scale  float64 // the trend regressor is t/scale
	t      int     // index of the next observation
	rho    float64
	r      float64 // last residual (clipped)
	delta  float64 // residual clip
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

func (s *fourierState) curve(t int) float64 {
	if s.season == nil {
		return s.eval(t, s.buf)
	}
	return s.c0 + s.c1*(float64(t)/s.scale) + s.season[t%len(s.season)]
}

// eval is the regression curve at t as the dot product of the design row
// and the coefficients.
func (s *fourierState) eval(t int, row []float64) float64 {
	s.row(t, row)
	var v float64
	for i, c := range s.coef {
		v += c * row[i]
	}
	return v
}

// clip limits r to [−delta, delta] when delta > 0: math.Max(−delta,
// math.Min(delta, r)) by comparisons (the same value, a NaN or a signed zero
// included, without the calls).
func (s *fourierState) clip(r float64) float64 {
	if d := s.delta; d > 0 {
		switch {
		case r > d:
			return d
		case r < -d:
			return -d
		}
	}
	return r
}

func (s *fourierState) Observe(y float64) {
	s.r = s.clip(y - s.curve(s.t))
	s.t++
}

func (s *fourierState) Forecast(dst []float64) {
	rk := s.r
	for k := range dst {
		rk *= s.rho
		dst[k] = s.curve(s.t+k) + rk
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
	s := &fourierState{hs: hs, trend: m.Trend, scale: float64(n), t: n, buf: make([]float64, p)}
	tabs := map[int]*trig{}
	for i, h := range hs {
		if tabs[h.p] == nil {
			t := newTrig(h.p)
			tabs[h.p] = &t
		}
		hs[i].tab = tabs[h.p]
	}
	// The normal equations of the design with the trend column; the model
	// without trend uses all columns but that one. Candidates that differ
	// only in Trend share them.
	d := m.design(y, s)
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
	res := make([]float64, n)
	s.season, s.c0, s.c1 = d.residuals(y, coef, keep, res)
	abs := make([]float64, n)
	for t := range res {
		abs[t] = math.Abs(res[t])
	}
	// One Huber reweighting pass: rows whose residual exceeds δ get weight
	// δ/|r|, applied by taking their share 1 − δ/|r| out of the normal
	// equations (bursts are few, so only the phases they fall on cost).
	delta := 1.345 * 1.4826 * quantileSelect(abs, 0.5) // abs is reordered
	if delta > 0 {
		c := abs // reused: the share of each row taken out
		changed := false
		for t, r := range res {
			c[t] = 0
			if a := math.Abs(r); a > delta {
				c[t] = 1 - delta/a
				changed = true
			}
		}
		if changed {
			// The rows' shares, summed by phase; then, in their place,
			// the reweighted system: the unweighted one minus those.
			wtx, wty := d.normal(y, c)
			full, v := d.xtx.RawSymmetric().Data, d.xty.RawVector().Data
			a, b := wtx.RawSymmetric().Data, wty.RawVector().Data
			for i := range a {
				a[i] = full[i] - a[i]
			}
			for i := range b {
				b[i] = v[i] - b[i]
			}
			if c2, err := solveNormal(subSystem(wtx, wty, keep)); err == nil {
				coef = c2
				s.season, s.c0, s.c1 = d.residuals(y, coef, keep, res)
			}
		}
	}
	s.coef = append([]float64(nil), coef.RawVector().Data...)
	if !d.periodic {
		s.season = nil // the phases of the history do not repeat: no table
	}
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

// fourierDesign is the regression design with the trend column (index 1):
// the regressors 1, τ = t/n and the harmonics', and the normal equations of
// the unweighted fit.
//
// The design matrix is never formed. Every harmonic repeats with period L,
// the least common multiple of the periods (or n when that is longer), so a
// sum over t of a product of harmonics is a sum over the L phases of the
// harmonics' product times the sum, over the t at that phase, of the rest:
//
//	Σₜ wₜ·sᵢ(t)·sⱼ(t) = Σᵩ sᵢ(φ)·sⱼ(φ)·Σ_{t≡φ} wₜ
//
// and likewise with wₜ·τₜ and wₜ·yₜ. Forming the normal equations costs
// O(n + L·p²) instead of O(n·p²): a daily cycle at five minutes (L = 288)
// over 15 days (n = 4,320) is 15 times cheaper.
type fourierDesign struct {
	first    *float64
	n, p, l  int
	periodic bool // l is the common period (else the history is shorter)
	periods  []int
	k        int
	gen      *fourierState // the trend design's regressors
	xtx      *mat.SymDense // upper triangle
	xty      *mat.VecDense
}

// foldLength is the least common multiple of the harmonics' periods, or n
// when that is longer (no repetition to exploit); periodic says which.
func foldLength(hs []harmonic, n int) (l int, periodic bool) {
	l = 1
	for _, h := range hs {
		g, b := l, h.p
		for b != 0 {
			g, b = b, g%b
		}
		if l = l / g * h.p; l > n {
			return n, false
		}
	}
	return l, true
}

// design returns the trend design for y with its unweighted normal
// equations, from the memo when the same history and harmonics were used by
// the previous fit.
func (m Fourier) design(y []float64, s *fourierState) *fourierDesign {
	if d := m.memo; d != nil && d.xtx != nil && d.first == &y[0] && d.n == len(y) && d.k == m.K && slices.Equal(d.periods, m.Periods) {
		return d
	}
	n := len(y)
	d := &fourierDesign{first: &y[0], n: n, p: 2 + 2*len(s.hs), periods: slices.Clone(m.Periods), k: m.K,
		gen: &fourierState{hs: s.hs, trend: true, scale: s.scale}}
	d.l, d.periodic = foldLength(s.hs, n)
	d.xtx, d.xty = d.normal(y, nil)
	if m.memo != nil {
		*m.memo = *d
	}
	return d
}

// normal returns the normal equations xᵀWx (upper triangle) and xᵀWy of the
// trend design with weights w (nil: all 1).
func (d *fourierDesign) normal(y, w []float64) (*mat.SymDense, *mat.VecDense) {
	p, l := d.p, d.l
	// Per phase: Σ w, Σ w·τ and Σ w·y over the t at that phase; over all t:
	// Σ w·τ² and Σ w·τ·y.
	acc := make([]float64, 3*l)
	sw, swt, swy := acc[:l], acc[l:2*l], acc[2*l:]
	var stt, sty float64
	ph := 0
	for t, yt := range y {
		wt := 1.0
		if w != nil {
			wt = w[t]
		}
		tau := float64(t) / d.gen.scale
		sw[ph] += wt
		swt[ph] += wt * tau
		swy[ph] += wt * yt
		stt += wt * tau * tau
		sty += wt * tau * yt
		if ph++; ph == l {
			ph = 0
		}
	}
	a := make([]float64, p*p)
	v := make([]float64, p)
	a[1*p+1], v[1] = stt, sty
	if d.byFrequency() {
		d.foldFrequencies(sw, swt, swy, a, v)
		return mat.NewSymDense(p, a), mat.NewVecDense(p, v)
	}
	d.foldPhases(sw, swt, swy, a, v)
	return mat.NewSymDense(p, a), mat.NewVecDense(p, v)
}

// foldPhases adds to the upper triangle a and to v the sums over the phases
// of the harmonics' products with the per-phase sums sw, swt and swy: each
// phase's row r, a += sw·r·rᵀ (and the rows of the constant and τ, and v).
func (d *fourierDesign) foldPhases(sw, swt, swy, a, v []float64) {
	p, l := d.p, d.l
	r := make([]float64, p)
	g := d.gen.rows(0)
	for ph := range l {
		g.next(r)
		wp, wtp, wyp := sw[ph], swt[ph], swy[ph]
		if wp == 0 && wtp == 0 && wyp == 0 {
			continue // no weight at this phase
		}
		a[0] += wp
		a[1] += wtp
		v[0] += wyp
		h := r[2:]
		a0, a1 := a[2:p], a[p+2:2*p]
		vh := v[2:]
		for i, si := range h {
			a0[i] += wp * si
			a1[i] += wtp * si
			vh[i] += wyp * si
			if wsi := wp * si; wsi != 0 {
				floats.AddScaled(a[(2+i)*p+2+i:(3+i)*p], wsi, h[i:])
			}
		}
	}
}

// byFrequency says whether foldFrequencies applies: the phases are those of
// the common period L, and no harmonic is at the Nyquist frequency (a period
// of 2), whose sine is zero only to rounding and is pinned by pinNull.
func (d *fourierDesign) byFrequency() bool {
	if !d.periodic {
		return false
	}
	for _, h := range d.gen.hs {
		if h.p == 2 || 2*h.k*(d.l/h.p) >= d.l {
			return false
		}
	}
	return true
}

// foldFrequencies is foldPhases through the harmonics' frequencies. Harmonic
// i is sin and cos of 2π·mᵢ·φ/L at phase φ (mᵢ = k·L/p), and the product of
// two is a sum of the harmonics at the sum and the difference of their
// frequencies:
//
//	sin a·sin b = (cos(a−b) − cos(a+b))/2   cos a·cos b = (cos(a−b) + cos(a+b))/2
//	sin a·cos b = (sin(a+b) + sin(a−b))/2
//
// so the whole triangle comes from the transforms C(m) = Σᵩ sw(φ)·cos(2πmφ/L)
// and S(m) (likewise with sin) at the sums and differences of the mᵢ: a few
// dozen sums over the L phases instead of the p²/2 products at each. (Daily
// harmonics at five minutes: 33 sums of 288 terms against 136 products per
// phase; with the weekly ones, 225 sums of 2,016 against 465.) The result
// equals foldPhases' to rounding (TestFourierFrequencyFoldMatchesPhases).
func (d *fourierDesign) foldFrequencies(sw, swt, swy, a, v []float64) {
	p, l := d.p, d.l
	hs := d.gen.hs
	var tab []float64 // sin and cos of 2πj/L, interleaved (trig.sc)
	m := make([]int, len(hs))
	top := 0
	for i, h := range hs {
		m[i] = h.k * (l / h.p)
		top = max(top, m[i])
		if h.p == l {
			tab = h.tab.sc
		}
	}
	if tab == nil {
		tab = newTrig(l).sc
	}
	// The transforms of sw at every sum and difference (0 … 2·top).
	need := make([]bool, 2*top+1)
	for i := range m {
		for j := i; j < len(m); j++ {
			need[m[i]+m[j]] = true
			need[abs(m[i]-m[j])] = true
		}
	}
	var fs []int
	for f, ok := range need {
		if ok {
			fs = append(fs, f)
		}
	}
	sn := make([]float64, 2*top+1)
	cs := make([]float64, 2*top+1)
	transforms(tab, l, sw, fs, sn, cs)
	// The constant's row is sw's transform at the mᵢ; τ's row and v are
	// swt's and swy's.
	ms, mc := make([]float64, len(m)), make([]float64, len(m))
	ts, tc := make([]float64, len(m)), make([]float64, len(m))
	ys, yc := make([]float64, len(m)), make([]float64, len(m))
	transformsAt(tab, l, sw, m, ms, mc)
	transformsAt(tab, l, swt, m, ts, tc)
	transformsAt(tab, l, swy, m, ys, yc)
	var s0, s1, sy float64
	for ph := range l {
		s0 += sw[ph]
		s1 += swt[ph]
		sy += swy[ph]
	}
	a[0], a[1], v[0] = s0, s1, sy
	for i, mi := range m {
		si, ci := 2+2*i, 3+2*i
		a[si], a[ci] = ms[i], mc[i]
		a[p+si], a[p+ci] = ts[i], tc[i]
		v[si], v[ci] = ys[i], yc[i]
		for j := i; j < len(m); j++ {
			sj, cj := 2+2*j, 3+2*j
			dm := mi - m[j]
			sd := sn[abs(dm)]
			if dm < 0 {
				sd = -sd
			}
			cd, cp, sp := cs[abs(dm)], cs[mi+m[j]], sn[mi+m[j]]
			a[si*p+sj] = (cd - cp) / 2
			a[si*p+cj] = (sp + sd) / 2
			if j > i {
				a[ci*p+sj] = (sp - sd) / 2
			}
			a[ci*p+cj] = (cd + cp) / 2
		}
	}
}

// residuals writes y − x·b into res, where b holds the coefficients of the
// columns keep of the trend design, and returns the fitted curve as
// c0 + c1·τ + season[phase]: the harmonics' part is computed once per phase.
func (d *fourierDesign) residuals(y []float64, b *mat.VecDense, keep []int, res []float64) (season []float64, c0, c1 float64) {
	p, l := d.p, d.l
	full := make([]float64, p)
	for i, j := range keep {
		full[j] = b.AtVec(i)
	}
	season = make([]float64, l)
	r := make([]float64, p)
	g := d.gen.rows(0)
	for ph := range season {
		g.next(r)
		var v float64
		for j, x := range r[2:] {
			v += full[2+j] * x
		}
		season[ph] = v
	}
	c0, c1 = full[0], full[1]
	ph := 0
	for t, yt := range y {
		res[t] = yt - (c0 + c1*(float64(t)/d.gen.scale) + season[ph])
		if ph++; ph == l {
			ph = 0
		}
	}
	return season, c0, c1
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
	a, v = pinNull(a, v)
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

// pinNull gives a regressor that is zero at every point (to rounding: the
// sine at the Nyquist frequency of a period of 2, sin(πt), is 1.2e-16 at odd
// t) the coefficient 0, by replacing its row and column of the normal
// equations with the identity's; the other columns' system is unchanged.
// a and v are returned as they are when there is no such column.
func pinNull(a *mat.SymDense, v *mat.VecDense) (*mat.SymDense, *mat.VecDense) {
	n := a.SymmetricDim()
	top := 0.0
	for j := range n {
		top = math.Max(top, a.At(j, j))
	}
	var null []int
	for j := range n {
		if a.At(j, j) <= 1e-20*top {
			null = append(null, j)
		}
	}
	if len(null) == 0 {
		return a, v
	}
	a2 := mat.NewSymDense(n, nil)
	a2.CopySym(a)
	v2 := mat.VecDenseCopyOf(v)
	for _, j := range null {
		for i := range n {
			a2.SetSym(i, j, 0)
		}
		a2.SetSym(j, j, 1)
		v2.SetVec(j, 0)
	}
	return a2, v2
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

// transforms sets sn[f] and cs[f], for each f in fs, to Σᵩ x(φ)·sin(2πfφ/L)
// and Σᵩ x(φ)·cos(2πfφ/L) (tab: trig.sc of L). Four frequencies are summed in
// one pass over x, each in the order of φ: eight independent sums keep the
// additions busy where one pair would wait on its own.
func transforms(tab []float64, l int, x []float64, fs []int, sn, cs []float64) {
	l2 := 2 * l
	for len(fs) > 0 {
		g := fs[:min(4, len(fs))]
		fs = fs[len(g):]
		var f [4]int
		copy(f[:], g)
		f0, f1, f2, f3 := 2*f[0], 2*f[1], 2*f[2], 2*f[3]
		var s0, c0, s1, c1, s2, c2, s3, c3 float64
		var q0, q1, q2, q3 int // 2·(f·φ mod L): the sine's index in tab
		for _, xv := range x {
			s0 += xv * tab[q0]
			c0 += xv * tab[q0+1]
			s1 += xv * tab[q1]
			c1 += xv * tab[q1+1]
			s2 += xv * tab[q2]
			c2 += xv * tab[q2+1]
			s3 += xv * tab[q3]
			c3 += xv * tab[q3+1]
			if q0 += f0; q0 >= l2 {
				q0 -= l2
			}
			if q1 += f1; q1 >= l2 {
				q1 -= l2
			}
			if q2 += f2; q2 >= l2 {
				q2 -= l2
			}
			if q3 += f3; q3 >= l2 {
				q3 -= l2
			}
		}
		out := [4][2]float64{{s0, c0}, {s1, c1}, {s2, c2}, {s3, c3}}
		for j, fj := range g {
			sn[fj], cs[fj] = out[j][0], out[j][1]
		}
	}
}

// transformsAt is transforms with the results in the order of fs: sn[i],
// cs[i] for fs[i].
func transformsAt(tab []float64, l int, x []float64, fs []int, sn, cs []float64) {
	top := 0
	for _, f := range fs {
		top = max(top, f)
	}
	s, c := make([]float64, top+1), make([]float64, top+1)
	transforms(tab, l, x, fs, s, c)
	for i, f := range fs {
		sn[i], cs[i] = s[f], c[f]
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
