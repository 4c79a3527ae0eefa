package forecast

import (
	"fmt"
	"math"
)

// STLOptions are the parameters of the STL decomposition (Cleveland, Cleveland,
// McRae & Terpenning, "STL: A Seasonal-Trend Decomposition Procedure Based on
// Loess", Journal of Official Statistics 6(1), 1990). Zero values take the
// defaults of R's stats::stl, which are stated on each field.
type STLOptions struct {
	// SeasonalWindow is the loess span (in periods) for the cycle-subseries;
	// 0 means "periodic": span 10·n+1, degree 0, and the seasonal component
	// averaged per phase afterwards, so it repeats exactly.
	SeasonalWindow int
	SeasonalDegree int // 0 or 1; default 0
	TrendWindow    int // default: nextodd(⌈1.5·period / (1 − 1.5/SeasonalWindow)⌉)
	TrendDegree    int // default 1 (set -1 for degree 0)
	LowPassWindow  int // default: nextodd(period)
	Inner          int // inner-loop passes; default 2, or 1 when Robust
	Outer          int // robustness iterations; default 0, or 15 when Robust
	Robust         bool
}

// Decomposition is y = Seasonal + Trend + Remainder.
type Decomposition struct {
	Seasonal, Trend, Remainder []float64
	Weights                    []float64 // final robustness weights (all 1 unless robust)
}

// STL decomposes y with the given seasonal period (≥ 2; y needs at least two periods).
func STL(y []float64, period int, opt STLOptions) (Decomposition, error) {
	n := len(y)
	if period < 2 {
		return Decomposition{}, fmt.Errorf("%w: stl period %d < 2", ErrInvalidArgument, period)
	}
	if n < 2*period {
		return Decomposition{}, fmt.Errorf("%w: stl needs two periods (%d points), have %d", ErrInsufficientData, 2*period, n)
	}
	periodic := opt.SeasonalWindow == 0
	ns, sdeg := opt.SeasonalWindow, opt.SeasonalDegree
	if periodic {
		ns, sdeg = 10*n+1, 0
	}
	nt := opt.TrendWindow
	if nt == 0 {
		nt = nextOdd(int(math.Ceil(1.5 * float64(period) / (1 - 1.5/float64(ns)))))
	}
	tdeg := opt.TrendDegree
	switch tdeg {
	case 0:
		tdeg = 1
	case -1:
		tdeg = 0
	}
	nl := opt.LowPassWindow
	if nl == 0 {
		nl = nextOdd(period)
	}
	inner, outer := opt.Inner, opt.Outer
	if inner == 0 {
		inner = 2
		if opt.Robust {
			inner = 1
		}
	}
	if outer == 0 && opt.Robust {
		outer = 15
	}
	c := stlConfig{
		np: period, ns: ns, nt: nt, nl: nl,
		isdeg: sdeg, itdeg: tdeg, ildeg: tdeg,
		nsjump: ceilDiv(ns, 10), ntjump: ceilDiv(nt, 10), nljump: ceilDiv(nl, 10),
		ni: inner, no: outer,
	}
	d := c.run(y)
	if periodic {
		means := make([]float64, period)
		counts := make([]int, period)
		for i, v := range d.Seasonal {
			means[i%period] += v
			counts[i%period]++
		}
		for i := range d.Seasonal {
			d.Seasonal[i] = means[i%period] / float64(counts[i%period])
		}
	}
	d.Remainder = make([]float64, n)
	for i := range y {
		d.Remainder[i] = y[i] - d.Seasonal[i] - d.Trend[i]
	}
	return d, nil
}

type stlConfig struct {
	np, ns, nt, nl         int
	isdeg, itdeg, ildeg    int
	nsjump, ntjump, nljump int
	ni, no                 int
}

func nextOdd(x int) int {
	if x%2 == 0 {
		return x + 1
	}
	return x
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// run is the outer loop: inner passes, then robustness weights from the remainder.
func (c stlConfig) run(y []float64) Decomposition {
	n := len(y)
	c.ns, c.nt, c.nl = nextOdd(max(3, c.ns)), nextOdd(max(3, c.nt)), nextOdd(max(3, c.nl))
	c.np = max(2, c.np)
	w := newSTLWork(n, c.np)
	season := make([]float64, n)
	trend := make([]float64, n)
	rw := make([]float64, n)
	userw := false
	for k := 0; ; k++ {
		c.inner(y, userw, rw, season, trend, w)
		if k >= c.no {
			break
		}
		fit := w.a
		for i := range fit[:n] {
			fit[i] = trend[i] + season[i]
		}
		robustnessWeights(y, fit[:n], rw)
		userw = true
	}
	if c.no <= 0 {
		for i := range rw {
			rw[i] = 1
		}
	}
	return Decomposition{Seasonal: season, Trend: trend, Weights: rw}
}

type stlWork struct {
	a, b, c, d, e, f []float64 // each n + 2·np long
}

func newSTLWork(n, np int) *stlWork {
	m := n + 2*np
	buf := make([]float64, 6*m)
	return &stlWork{a: buf[:m], b: buf[m : 2*m], c: buf[2*m : 3*m], d: buf[3*m : 4*m], e: buf[4*m : 5*m], f: buf[5*m:]}
}

// inner is STL's inner loop (steps 1–6 of the paper), ni times.
func (c stlConfig) inner(y []float64, userw bool, rw, season, trend []float64, w *stlWork) {
	n := len(y)
	for it := 0; it < c.ni; it++ {
		detr := w.a[:n]
		for i := range detr {
			detr[i] = y[i] - trend[i]
		}
		cyc := w.b // n + 2np: the smoothed cycle-subseries, extended one period each side
		c.smoothSubseries(detr, userw, rw, cyc, w.c, w.d, w.e, w.f)
		lowPass(cyc, c.np, w.c, w.d)
		low := w.c[:n]
		lw := w.a[:n]
		loess(low, c.nl, c.ildeg, c.nljump, false, nil, lw, w.d)
		for i := 0; i < n; i++ {
			season[i] = cyc[c.np+i] - lw[i]
		}
		adj := w.a[:n]
		for i := range adj {
			adj[i] = y[i] - season[i]
		}
		loess(adj, c.nt, c.itdeg, c.ntjump, userw, rw, trend, w.c)
	}
}

// smoothSubseries smooths each cycle-subseries with loess and extends it by one
// point at each end; out has n + 2·np values.
func (c stlConfig) smoothSubseries(y []float64, userw bool, rw, out, sub, subw, work, lw []float64) {
	n, np := len(y), c.np
	for j := 0; j < np; j++ {
		k := (n-j-1)/np + 1
		for i := 0; i < k; i++ {
			sub[i] = y[i*np+j]
			if userw {
				subw[i] = rw[i*np+j]
			}
		}
		sm := work[:k+2]
		loess(sub[:k], c.ns, c.isdeg, c.nsjump, userw, subw[:k], sm[1:k+1], lw)
		v, ok := loessAt(sub[:k], c.ns, c.isdeg, 0, 1, min(c.ns, k), userw, subw[:k], lw, nil)
		if !ok {
			v = sm[1]
		}
		sm[0] = v
		v, ok = loessAt(sub[:k], c.ns, c.isdeg, float64(k+1), max(1, k-c.ns+1), k, userw, subw[:k], lw, nil)
		if !ok {
			v = sm[k]
		}
		sm[k+1] = v
		for m := 0; m < k+2; m++ {
			out[m*np+j] = sm[m]
		}
	}
}

// lowPass applies moving averages of lengths np, np and 3 to x (n+2np long),
// leaving n values at the front of out; out and work need len(x) capacity.
func lowPass(x []float64, np int, out, work []float64) {
	m := len(x)
	movingMean(x, np, work)
	movingMean(work[:m-np+1], np, out)
	movingMean(out[:m-2*np+2], 3, work)
	copy(out, work[:m-2*np])
}

// movingMean writes the len(x)−l+1 trailing-window means of length l into out.
func movingMean(x []float64, l int, out []float64) {
	var v float64
	for i := 0; i < l; i++ {
		v += x[i]
	}
	out[0] = v / float64(l)
	for j := 1; j <= len(x)-l; j++ {
		v = v - x[j-1] + x[l+j-1]
		out[j] = v / float64(l)
	}
}

// loess smooths y with span l and degree deg, evaluating every jump-th point
// and interpolating linearly between; ys receives len(y) values.
func loess(y []float64, l, deg, jump int, userw bool, rw, ys, work []float64) {
	n := len(y)
	if n < 2 {
		ys[0] = y[0]
		return
	}
	nj := min(jump, n-1)
	nleft, nright := 1, n
	// Every window of l points centred as the interior ones are (nsh − 1
	// before the point) has the same weights: computed once. Points with
	// such a window are evaluated two at a time (loessAt2: the same
	// result, with the two points' sums interleaved), when work holds two
	// windows.
	var win *loessWindow
	if nsh := (l + 1) / 2; l < n {
		win = newLoessWindow(l, nsh, userw)
	}
	pair := win != nil && len(work) >= 2*l
	pend, pendLeft := 0, 0 // a point waiting for a second one (0: none)
	flush := func() {
		if pend > 0 {
			v, ok := loessAt(y, l, deg, float64(pend), pendLeft, pendLeft+l-1, userw, rw, work, win)
			if !ok {
				v = y[pend-1]
			}
			ys[pend-1] = v
			pend = 0
		}
	}
	eval := func(i int) {
		var wi *loessWindow
		if win != nil && nright-nleft+1 == l && i-nleft == (l+1)/2-1 {
			wi = win
		}
		if wi != nil && pair {
			if pend == 0 {
				pend, pendLeft = i, nleft
				return
			}
			va, oka, vb, okb := loessAt2(y, l, deg, float64(pend), pendLeft, float64(i), nleft, userw, rw, work, win)
			if !oka {
				va = y[pend-1]
			}
			if !okb {
				vb = y[i-1]
			}
			ys[pend-1], ys[i-1] = va, vb
			pend = 0
			return
		}
		v, ok := loessAt(y, l, deg, float64(i), nleft, nright, userw, rw, work, wi)
		if !ok {
			v = y[i-1]
		}
		ys[i-1] = v
	}
	switch {
	case l >= n:
		nleft, nright = 1, n
		for i := 1; i <= n; i += nj {
			eval(i)
		}
	case nj == 1:
		nsh := (l + 1) / 2
		nleft, nright = 1, l
		for i := 1; i <= n; i++ {
			if i > nsh && nright != n {
				nleft++
				nright++
			}
			eval(i)
		}
	default:
		nsh := (l + 1) / 2
		for i := 1; i <= n; i += nj {
			switch {
			case i < nsh:
				nleft, nright = 1, l
			case i >= n-nsh+1:
				nleft, nright = n-l+1, n
			default:
				nleft, nright = i-nsh+1, l+i-nsh
			}
			eval(i)
		}
	}
	flush()
	if nj == 1 {
		return
	}
	for i := 1; i <= n-nj; i += nj {
		delta := (ys[i+nj-1] - ys[i-1]) / float64(nj)
		for j := i + 1; j < i+nj; j++ {
			ys[j-1] = ys[i-1] + delta*float64(j-i)
		}
	}
	k := ((n-1)/nj)*nj + 1
	if k != n {
		eval(n)
		flush()
		if k != n-1 {
			delta := (ys[n-1] - ys[k-1]) / float64(n-k)
			for j := k + 1; j < n; j++ {
				ys[j-1] = ys[k-1] + delta*float64(j-k)
			}
		}
	}
}

// loessWindow holds the weights of a window of l points with nsh − 1 before
// the point of evaluation: the tricube weights, and (when no robustness
// weights apply) the same divided by their sum, as loessAt computes them.
type loessWindow struct{ tri, unit []float64 }

func newLoessWindow(l, nsh int, userw bool) *loessWindow {
	win := &loessWindow{tri: make([]float64, l)}
	tricube(win.tri, float64(nsh), 1, l)
	if userw {
		return win
	}
	var a float64
	for _, v := range win.tri {
		a += v
	}
	if a > 0 {
		win.unit = make([]float64, l)
		for j, v := range win.tri {
			win.unit[j] = v / a
		}
	}
	return win
}

// loessAt is the local (degree 0 or 1) tricube-weighted fit of y at position
// xs (1-based) over the points nleft..nright (1-based, inclusive). win, when
// not nil, holds the window's weights.
//
// It is loessAtPlain (the Fortran's passes: weights, their sum, the
// normalised weights, their mean, their spread, the degree-1 adjustment, the
// weighted sum) with passes fused where one does not need the end of
// another: each value is computed by the same operations in the same order,
// so the result is the same to the bit.
func loessAt(y []float64, l, deg int, xs float64, nleft, nright int, userw bool, rw, w []float64, win *loessWindow) (float64, bool) {
	n := len(y)
	rng := float64(n) - 1
	h := math.Max(xs-float64(nleft), float64(nright)-xs)
	if l > n {
		h += float64((l - n) / 2)
	}
	fit := h > 0 && deg > 0
	var ww []float64 // the normalised weights of nleft..nright
	var mean float64
	if win != nil && win.unit != nil && !userw {
		ww = win.unit
		if fit {
			for j, v := range ww {
				mean += v * float64(nleft+j)
			}
		}
	} else {
		var tri []float64
		ww = w[nleft-1 : nright]
		if win != nil {
			tri = win.tri
		} else {
			tri = ww
			tricubeH(tri, xs, nleft, h)
		}
		// A zero weight adds nothing to a (a sum of non-negative terms),
		// so every weight can be added.
		var a float64
		if userw {
			r := rw[nleft-1 : nright]
			for j := range ww {
				wj := tri[j] * r[j]
				a += wj
				ww[j] = wj
			}
		} else {
			for j := range ww {
				wj := tri[j]
				a += wj
				ww[j] = wj
			}
		}
		if a <= 0 {
			return 0, false
		}
		if fit {
			for j := range ww {
				v := ww[j] / a
				ww[j] = v
				mean += v * float64(nleft+j)
			}
		} else {
			for j := range ww {
				ww[j] /= a
			}
		}
	}
	yw := y[nleft-1 : nright]
	if fit {
		b := xs - mean
		var c float64
		for j, v := range ww {
			d := float64(nleft+j) - mean
			c += v * d * d
		}
		if math.Sqrt(c) > 0.001*rng {
			b /= c
			var ys float64
			for j, v := range ww {
				ys += v * (b*(float64(nleft+j)-mean) + 1) * yw[j]
			}
			return ys, true
		}
	}
	var ys float64
	for j, v := range ww {
		ys += v * yw[j]
	}
	return ys, true
}

// loessAt2 is loessAt at two points a and b whose windows (of l points,
// starting at nleft and mleft) both have the weights of win: each point's
// sums are taken in loessAt's order, and the two are interleaved in one loop,
// so that one sum's additions fill the time the other's wait on theirs. The
// results are loessAt's to the bit. work is loessAt's scratch (at least
// len(y) and 2·l values).
func loessAt2(y []float64, l, deg int, xa float64, nleft int, xb float64, mleft int, userw bool, rw, work []float64, win *loessWindow) (va float64, oka bool, vb float64, okb bool) {
	n := len(y)
	// Cases STL's loess does not meet (the spread or the weights vanish,
	// or h is 0 or the degree 0: the same at every interior point), one
	// point at a time.
	single := func() (float64, bool, float64, bool) {
		va, oka := loessAt(y, l, deg, xa, nleft, nleft+l-1, userw, rw, work, win)
		vb, okb := loessAt(y, l, deg, xb, mleft, mleft+l-1, userw, rw, work, win)
		return va, oka, vb, okb
	}
	rng := float64(n) - 1
	ha := math.Max(xa-float64(nleft), float64(nleft+l-1)-xa)
	hb := math.Max(xb-float64(mleft), float64(mleft+l-1)-xb)
	fa, fb := ha > 0 && deg > 0, hb > 0 && deg > 0
	var ua, ub []float64 // the normalised weights
	var ma, mb float64   // their mean positions (when fa, fb)
	if win.unit != nil && !userw {
		ua, ub = win.unit, win.unit
		if fa && fb {
			for j, v := range ua {
				ma += v * float64(nleft+j)
				mb += v * float64(mleft+j)
			}
		} else {
			return single()
		}
	} else {
		tri := win.tri
		ua, ub = work[:l], work[l:2*l]
		var a, b float64
		if userw {
			ra, rb := rw[nleft-1:nleft-1+l], rw[mleft-1:mleft-1+l]
			for j, t := range tri {
				x, z := t*ra[j], t*rb[j]
				a += x
				b += z
				ua[j], ub[j] = x, z
			}
		} else {
			for j, t := range tri {
				a += t
				b += t
				ua[j], ub[j] = t, t
			}
		}
		if a <= 0 || b <= 0 || !fa || !fb {
			return single()
		}
		for j := range ua {
			x, z := ua[j]/a, ub[j]/b
			ua[j], ub[j] = x, z
			ma += x * float64(nleft+j)
			mb += z * float64(mleft+j)
		}
	}
	ya, yb := y[nleft-1:nleft-1+l], y[mleft-1:mleft-1+l]
	ub = ub[:len(ua)]
	var ca, cb float64
	for j, x := range ua {
		z := ub[j]
		da, db := float64(nleft+j)-ma, float64(mleft+j)-mb
		ca += x * da * da
		cb += z * db * db
	}
	ba, bb := xa-ma, xb-mb
	adjA, adjB := math.Sqrt(ca) > 0.001*rng, math.Sqrt(cb) > 0.001*rng
	if adjA && adjB {
		ba /= ca
		bb /= cb
		for j, x := range ua {
			z := ub[j]
			va += x * (ba*(float64(nleft+j)-ma) + 1) * ya[j]
			vb += z * (bb*(float64(mleft+j)-mb) + 1) * yb[j]
		}
		return va, true, vb, true
	}
	va = loessSum(ua, ya, nleft, adjA, ba/ca, ma)
	vb = loessSum(ub, yb, mleft, adjB, bb/cb, mb)
	return va, true, vb, true
}

// loessSum is the end of loessAt: Σ w·y, with each weight w adjusted by
// b·(j − mean) + 1 when adj (degree 1).
func loessSum(w, y []float64, nleft int, adj bool, b, mean float64) float64 {
	var s float64
	if adj {
		for j, v := range w {
			s += v * (b*(float64(nleft+j)-mean) + 1) * y[j]
		}
		return s
	}
	for j, v := range w {
		s += v * y[j]
	}
	return s
}

// tricube writes into dst the tricube weights of the window nleft…
// nleft+len(dst)−1 around xs, whose half-width h is the larger distance
// from xs to an end.
func tricube(dst []float64, xs float64, nleft, nright int) {
	tricubeH(dst, xs, nleft, math.Max(xs-float64(nleft), float64(nright)-xs))
}

// tricubeH is tricube with the half-width h given: (1 − (r/h)³)³ at
// distance r, 1 within h/1000, 0 beyond 0.999·h.
func tricubeH(dst []float64, xs float64, nleft int, h float64) {
	h9, h1 := 0.999*h, 0.001*h
	for i := range dst {
		wj := 0.0
		r := math.Abs(float64(nleft+i) - xs)
		if r <= h9 {
			if r <= h1 {
				wj = 1
			} else {
				q := r / h
				q = 1 - q*q*q
				wj = q * q * q
			}
		}
		dst[i] = wj
	}
}

// robustnessWeights sets rw to the bisquare weights of the residuals y − fit,
// scaled by six times their median absolute value.
func robustnessWeights(y, fit, rw []float64) {
	n := len(y)
	r := make([]float64, n)
	for i := range y {
		r[i] = math.Abs(y[i] - fit[i])
	}
	// The two middle order statistics (one when n is odd), by selection:
	// after it, everything before m1−1 is at most s[m1−1].
	s := append([]float64(nil), r...)
	m1 := n/2 + 1
	m2 := n - m1 + 1
	hi := selectKth(s, m1-1)
	lo := hi
	if m2 < m1 {
		lo = s[0]
		for _, v := range s[1 : m1-1] {
			lo = math.Max(lo, v)
		}
	}
	cmad := 3 * (hi + lo)
	c9, c1 := 0.999*cmad, 0.001*cmad
	for i, v := range r {
		switch {
		case v <= c1:
			rw[i] = 1
		case v <= c9:
			q := v / cmad
			q = 1 - q*q
			rw[i] = q * q
		default:
			rw[i] = 0
		}
	}
}
