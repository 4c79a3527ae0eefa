package forecast

// The fitting paths are written for speed: the Fourier design is never
// formed and its normal equations are summed by phase of the seasonal cycle,
// and fitted models are advanced without refitting. These tests compare each
// fast path with the straightforward computation it replaces. The sums are
// taken in another order, so results agree to rounding: the tolerance is
// 1e-10 relative (absolute below 1); the largest difference seen on these
// series is 2e-13. A wrong sum or a lost row shows at 1e-3 or more.
import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

const fastTol = 1e-10

func closeRel(got, want float64) bool {
	return math.Abs(got-want) <= fastTol*math.Max(1, math.Abs(want))
}

// slowFourier is Fourier.Fit written plainly (as it was before the normal
// equations were folded by phase): the whole design matrix, its
// normal equations from gonum (SymOuterK, MulVec), the Huber downdates with
// SymRankOne and the fitted values with MulVec.
func slowFourier(t *testing.T, m Fourier, y []float64) *fourierState {
	t.Helper()
	hs := m.harmonics()
	n := len(y)
	tabs := map[int]*trig{}
	for i, h := range hs {
		if tabs[h.p] == nil {
			tb := newTrig(h.p)
			tabs[h.p] = &tb
		}
		hs[i].tab = tabs[h.p]
	}
	s := &fourierState{hs: hs, trend: m.Trend, scale: float64(n), t: n}
	p := 1 + 2*len(hs)
	if m.Trend {
		p++
	}
	x := mat.NewDense(n, p, nil)
	for i := range n {
		s.row(i, x.RawRowView(i))
	}
	var xtx mat.SymDense
	xtx.SymOuterK(1, x.T())
	var xty mat.VecDense
	xty.MulVec(x.T(), mat.NewVecDense(n, append([]float64(nil), y...)))
	coef, err := solveNormal(&xtx, &xty)
	if err != nil {
		t.Fatal(err)
	}
	res := make([]float64, n)
	residuals := func() {
		mat.NewVecDense(n, res).MulVec(x, coef)
		for i := range res {
			res[i] = y[i] - res[i]
		}
	}
	residuals()
	abs := make([]float64, n)
	for i := range res {
		abs[i] = math.Abs(res[i])
	}
	delta := 1.345 * 1.4826 * median(abs)
	if delta > 0 {
		for i := range n {
			if abs[i] > delta {
				c := 1 - delta/abs[i]
				row := mat.NewVecDense(p, append([]float64(nil), x.RawRowView(i)...))
				xtx.SymRankOne(&xtx, -c, row)
				xty.AddScaledVec(&xty, -c*y[i], row)
			}
		}
		if coef, err = solveNormal(&xtx, &xty); err != nil {
			t.Fatal(err)
		}
		residuals()
	}
	s.coef = coef.RawVector().Data
	s.delta = 3 * delta
	var num, den float64
	for i := range res {
		res[i] = s.clip(res[i])
	}
	for i := 1; i < n; i++ {
		num += res[i] * res[i-1]
		den += res[i-1] * res[i-1]
	}
	if den > 0 {
		s.rho = math.Max(0, math.Min(0.995, num/den))
	}
	s.r = res[n-1]
	return s
}

func TestFourierFitMatchesDenseDesign(t *testing.T) {
	tests := []struct {
		name    string
		model   Fourier
		n       int
		weekly  bool
		perturb bool // shares the memo with a model of the other Trend first
	}{
		{"daily with trend", Fourier{Periods: []int{288}, Trend: true}, 4096, false, false},
		{"daily without trend", Fourier{Periods: []int{288}}, 3001, false, false},
		{"daily and weekly", Fourier{Periods: []int{288, 2016}, Trend: true}, 4321, true, false},
		{"small period, K given, odd length", Fourier{Periods: []int{12}, K: 2}, 203, false, false},
		{"two short periods sharing a harmonic", Fourier{Periods: []int{4, 12}, Trend: true}, 402, false, false},
		{"memo shared with the trend model", Fourier{Periods: []int{288}}, 4096, false, true},
		{"periods that do not repeat within the history", Fourier{Periods: []int{97, 101}, Trend: true}, 500, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := synth(tt.n, tt.weekly, 3)
			m := tt.model
			if tt.perturb {
				m.memo = &fourierDesign{}
				other := m
				other.Trend = !m.Trend
				if _, err := other.Fit(y); err != nil {
					t.Fatal(err)
				}
			}
			st, err := m.Fit(y)
			if err != nil {
				t.Fatal(err)
			}
			got := st.(*fourierState)
			want := slowFourier(t, tt.model, y)
			if len(got.coef) != len(want.coef) {
				t.Fatalf("%d coefficients, want %d", len(got.coef), len(want.coef))
			}
			for i := range want.coef {
				if !closeRel(got.coef[i], want.coef[i]) {
					t.Errorf("coef[%d] = %.17g, want %.17g", i, got.coef[i], want.coef[i])
				}
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"rho", got.rho, want.rho}, {"last residual", got.r, want.r}, {"delta", got.delta, want.delta}} {
				if !closeRel(c.got, c.want) {
					t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
				}
			}
			// The bursts of synth make the Huber pass reweight rows.
			if !(want.delta > 0) {
				t.Fatalf("delta %g: the robust pass was not exercised", want.delta)
			}
		})
	}
}

func TestFoldLength(t *testing.T) {
	tests := []struct {
		periods  []int
		n, want  int
		periodic bool
	}{
		{[]int{288}, 4096, 288, true},
		{[]int{288, 2016}, 4320, 2016, true},     // a week holds whole days
		{[]int{12, 288, 2016}, 4320, 2016, true}, // an hour at 5 minutes too
		{[]int{4, 6}, 100, 12, true},
		{[]int{4, 6}, 12, 12, true},
		{[]int{97, 101}, 500, 500, false}, // lcm 9,797 > n: no repetition
		{[]int{288, 2016}, 1000, 1000, false},
	}
	for _, tt := range tests {
		m := Fourier{Periods: tt.periods}
		if got, periodic := foldLength(m.harmonics(), tt.n); got != tt.want || periodic != tt.periodic {
			t.Errorf("periods %v, n %d: fold length %d (periodic %v), want %d (%v)", tt.periods, tt.n, got, periodic, tt.want, tt.periodic)
		}
	}
}

func TestRowGenMatchesRow(t *testing.T) {
	m := Fourier{Periods: []int{2, 5, 12, 288, 2016}, Trend: true}
	hs := m.harmonics()
	for i, h := range hs {
		tb := newTrig(h.p)
		hs[i].tab = &tb
	}
	s := &fourierState{hs: hs, trend: true, scale: 5000}
	p := 2 + 2*len(hs)
	want, got := make([]float64, p), make([]float64, p)
	for _, from := range []int{0, 1, 287, 4999} {
		g := s.rows(from)
		for t0 := from; t0 < from+5000; t0++ {
			s.row(t0, want)
			g.next(got)
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("from %d: row %d column %d = %g, want %g", from, t0, j, got[j], want[j])
				}
			}
		}
	}
}

func TestAdvanceMatchesFromScratch(t *testing.T) {
	// Advance keeps the fitted state and reads the regression curve from its
	// table by phase. From scratch: fit the model on the same history,
	// observe every value since, and evaluate the curve as the dot product
	// of the design row and the coefficients (eval) plus the AR(1) residual;
	// the quantiles are the mean plus the offsets of the original forecast.
	y := synth(4096+600, true, 5)
	const n, v, h = 4096, 288, 6
	f, err := Auto(synthSeriesOf(y[:n]), Options{Horizon: h, Quantiles: []float64{0.9}, Model: "fourier", Validation: v})
	if err != nil {
		t.Fatal(err)
	}
	var periods []int
	for _, s := range f.Seasonality {
		periods = append(periods, s.Steps)
	}
	offsets := make([]float64, h)
	for k := range offsets {
		offsets[k] = f.Q[0][k] - f.Mean[k]
	}
	ref, err := Fourier{Periods: periods}.Fit(y[:n-v])
	if err != nil {
		t.Fatal(err)
	}
	st := ref.(*fourierState)
	for _, x := range y[n-v : n] {
		st.r = st.clip(x - st.eval(st.t, st.buf))
		st.t++
	}
	g := f
	for i := range 600 {
		if g, err = g.Advance(y[n+i]); err != nil {
			t.Fatal(err)
		}
		st.r = st.clip(y[n+i] - st.eval(st.t, st.buf))
		st.t++
		if i%50 != 49 {
			continue
		}
		if cap(g.Mean) != len(g.Mean) || cap(g.Q[0]) != len(g.Q[0]) {
			t.Fatalf("step %d: Mean and Q must not share room to grow (caps %d, %d)", i, cap(g.Mean), cap(g.Q[0]))
		}
		rk := st.r
		for k := range h {
			rk *= st.rho
			want := math.Max(0, st.eval(st.t+k, st.buf)+rk)
			if !closeRel(g.Mean[k], want) {
				t.Errorf("step %d: mean[%d] = %.17g, want %.17g", i, k, g.Mean[k], want)
			}
			if wq := math.Max(0, st.eval(st.t+k, st.buf)+rk+offsets[k]); !closeRel(g.Q[0][k], wq) {
				t.Errorf("step %d: q[%d] = %.17g, want %.17g", i, k, g.Q[0][k], wq)
			}
		}
	}
	if c := g.fit.members[0].state.(*fourierState); len(c.season) != 288 {
		t.Errorf("the curve's table has %d phases, want 288 (a day)", len(c.season))
	}
}

func TestAdvanceInOneCallOrMany(t *testing.T) {
	// Advancing by k observations in one call or one at a time gives the
	// same forecast, for every kind of fitted state (and a combination).
	y := synth(3000+40, false, 9)
	for _, model := range []string{"auto", "fourier-trend", "holt-winters", "stl", "median", "log-ses"} {
		t.Run(model, func(t *testing.T) {
			a, err := Auto(synthSeriesOf(y[:3000]), Options{Horizon: 4, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			b, err := Auto(synthSeriesOf(y[:3000]), Options{Horizon: 4, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			if a, err = a.Advance(y[3000:]...); err != nil {
				t.Fatal(err)
			}
			for _, x := range y[3000:] {
				if b, err = b.Advance(x); err != nil {
					t.Fatal(err)
				}
			}
			for i := range a.Q {
				for k := range a.Q[i] {
					if a.Q[i][k] != b.Q[i][k] || a.Mean[k] != b.Mean[k] {
						t.Fatalf("level %g step %d: %g/%g in one call, %g/%g one by one", a.Levels[i], k, a.Mean[k], a.Q[i][k], b.Mean[k], b.Q[i][k])
					}
				}
			}
		})
	}
}

func TestFourierCurveMatchesRows(t *testing.T) {
	// The curve from the table by phase equals the dot product of the
	// design row and the coefficients, over the history and far beyond it;
	// when the common period is longer than the history there is no table.
	tests := []struct {
		name   string
		model  Fourier
		n      int
		phases int // 0: no table
	}{
		{"daily with trend", Fourier{Periods: []int{288}, Trend: true}, 4096, 288},
		{"daily and weekly", Fourier{Periods: []int{288, 2016}}, 4321, 2016},
		{"common period longer than the history", Fourier{Periods: []int{97, 101}, Trend: true}, 500, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := tt.model.Fit(synth(tt.n, true, 4))
			if err != nil {
				t.Fatal(err)
			}
			s := st.(*fourierState)
			if len(s.season) != tt.phases {
				t.Fatalf("table of %d phases, want %d", len(s.season), tt.phases)
			}
			row := make([]float64, len(s.coef))
			for x := 0; x < tt.n+5000; x += 7 {
				if got, want := s.curve(x), s.eval(x, row); !closeRel(got, want) {
					t.Fatalf("curve(%d) = %.17g, want %.17g", x, got, want)
				}
			}
		})
	}
}

func TestUpdateIsAdvanceInPlace(t *testing.T) {
	// Update moves the forecast itself: after each step its Start, Mean and
	// Q equal those of Advance on a twin, bit for bit (the same state and
	// arithmetic), a missing value included; it allocates nothing, and a
	// slice of Q taken before sees the new values.
	y := synth(3000+60, false, 12)
	y[3010] = math.NaN()
	for _, model := range []string{"auto", "fourier", "holt-winters", "stl"} {
		t.Run(model, func(t *testing.T) {
			opt := Options{Horizon: 5, Quantiles: []float64{0.5, 0.95}, Model: model}
			u, err := Auto(synthSeriesOf(y[:3000]), opt)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Auto(synthSeriesOf(y[:3000]), opt)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Quantile(0.95)
			for i := 3000; i < len(y); i += 3 {
				if err := u.Update(y[i : i+3]...); err != nil {
					t.Fatal(err)
				}
				if a, err = a.Advance(y[i : i+3]...); err != nil {
					t.Fatal(err)
				}
				if !u.Start.Equal(a.Start) {
					t.Fatalf("start %v, advanced %v", u.Start, a.Start)
				}
				for k := range a.Mean {
					if u.Mean[k] != a.Mean[k] || u.Q[0][k] != a.Q[0][k] || u.Q[1][k] != a.Q[1][k] {
						t.Fatalf("after %d: step %d: %g %g %g, advanced %g %g %g", i+3, k, u.Mean[k], u.Q[0][k], u.Q[1][k], a.Mean[k], a.Q[0][k], a.Q[1][k])
					}
				}
			}
			if q[0] != u.Q[1][0] {
				t.Error("a slice of Q taken before the update does not see the new values")
			}
			if n := testing.AllocsPerRun(100, func() {
				if err := u.Update(10); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Update allocates %g times per call, want 0", n)
			}
		})
	}
}

func TestUpdateRejectsWithoutMoving(t *testing.T) {
	y := synth(3000+2, false, 13)
	opt := Options{Horizon: 4, Model: "fourier"}
	u, err := Auto(synthSeriesOf(y[:3000]), opt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Auto(synthSeriesOf(y[:3000]), opt)
	if err != nil {
		t.Fatal(err)
	}
	start := u.Start
	if err := u.Update(y[3000], math.Inf(1)); !errors.Is(err, ErrInvalidSeries) {
		t.Fatalf("infinite observation: error %v, want ErrInvalidSeries", err)
	}
	if !u.Start.Equal(start) {
		t.Error("a rejected update moved Start")
	}
	// Neither the valid observation before the bad one was taken.
	if err := u.Update(y[3000:]...); err != nil {
		t.Fatal(err)
	}
	if a, err = a.Advance(y[3000:]...); err != nil {
		t.Fatal(err)
	}
	for k := range a.Mean {
		if u.Mean[k] != a.Mean[k] {
			t.Fatalf("step %d: %g after a rejected update, want %g", k, u.Mean[k], a.Mean[k])
		}
	}
	// A forecast that was advanced away cannot be updated.
	b, err := Auto(synthSeriesOf(y[:3000]), opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Advance(1); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("updating an advanced forecast: error %v, want ErrInvalidArgument", err)
	}
}

func TestLoessWindowMatchesLoessAt(t *testing.T) {
	// The weights of an interior window, computed once per loess pass, give
	// loessAt the same fit, bit for bit, as computing them at the point (the
	// same operations in the same order).
	y := synth(600, false, 21)
	rw := make([]float64, len(y))
	for i := range rw {
		rw[i] = 1 - float64(i%7)/10
	}
	for _, l := range []int{5, 12, 289} {
		nsh := (l + 1) / 2
		for _, userw := range []bool{false, true} {
			win := newLoessWindow(l, nsh, userw)
			for _, deg := range []int{0, 1} {
				for _, i := range []int{nsh, nsh + 1, 300, len(y) - l + nsh} {
					nleft, nright := i-nsh+1, i-nsh+l
					w1, w2 := make([]float64, len(y)), make([]float64, len(y))
					v1, ok1 := loessAt(y, l, deg, float64(i), nleft, nright, userw, rw, w1, nil)
					v2, ok2 := loessAt(y, l, deg, float64(i), nleft, nright, userw, rw, w2, win)
					if v1 != v2 || ok1 != ok2 {
						t.Fatalf("l %d, userw %v, deg %d, at %d: %v (%v) with the window, %v (%v) without", l, userw, deg, i, v2, ok2, v1, ok1)
					}
				}
			}
		}
	}
}

func TestAutoConcurrentMatchesSerial(t *testing.T) {
	// The simulator fits and advances many workloads' forecasts from
	// parallel goroutines: the fits share no mutable state (their workspaces
	// are per call, their memos per Auto), so concurrent runs on the same
	// input give the serial results exactly. Run with -race.
	y := synth(2016+24, true, 17)
	s := synthSeriesOf(y[:2016])
	models := []string{"auto", "fourier", "fourier-trend", "holt-winters", "stl"}
	serial := make([][]float64, len(models))
	for i, m := range models {
		f, err := Auto(s, Options{Horizon: 6, Model: m})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Update(y[2016:]...); err != nil {
			t.Fatal(err)
		}
		serial[i] = f.Q[2]
	}
	var wg sync.WaitGroup
	got := make([][][]float64, 3)
	errs := make(chan error, 3*len(models))
	for r := range got {
		got[r] = make([][]float64, len(models))
		for i, m := range models {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := Auto(s, Options{Horizon: 6, Model: m})
				if err == nil {
					err = f.Update(y[2016:]...)
				}
				if err != nil {
					errs <- err
					return
				}
				got[r][i] = f.Q[2]
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for r := range got {
		for i, m := range models {
			for k := range serial[i] {
				if got[r][i][k] != serial[i][k] {
					t.Fatalf("%s, run %d: step %d = %g concurrently, %g serially", m, r, k, got[r][i][k], serial[i][k])
				}
			}
		}
	}
}

// A period of 2 has one informative regressor, the cosine at the Nyquist
// frequency (−1)^t; its sine, sin(πt), is zero to rounding and gets the
// coefficient 0 instead of making the normal equations singular. On
// y = 10 + 3·(−1)^t the fit is exact: the forecast alternates 13, 7.
func TestFourierPeriodTwo(t *testing.T) {
	y := make([]float64, 40)
	for i := range y {
		y[i] = 10 + 3*math.Cos(math.Pi*float64(i))
	}
	st, err := (Fourier{Periods: []int{2}}).Fit(y)
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	got := make([]float64, 4)
	st.Forecast(got)
	// len(y) = 40 is even, so the next point (t = 40) is 10 + 3.
	want := []float64{13, 7, 13, 7}
	for k := range want {
		if math.Abs(got[k]-want[k]) > 1e-9 {
			t.Fatalf("forecast[%d] = %v, want %v (all: %v)", k, got[k], want[k], got)
		}
	}
}

// loessAtPlain is loessAt as the Fortran writes it, one pass per step: the
// tricube weights (times the robustness weights), their sum, the weights
// divided by it, their mean position, their spread, the degree-1
// adjustment of each weight, and the weighted sum.
func loessAtPlain(y []float64, l, deg int, xs float64, nleft, nright int, userw bool, rw, w []float64, win *loessWindow) (float64, bool) {
	n := len(y)
	rng := float64(n) - 1
	h := math.Max(xs-float64(nleft), float64(nright)-xs)
	if l > n {
		h += float64((l - n) / 2)
	}
	if win != nil && win.unit != nil && !userw {
		copy(w[nleft-1:nright], win.unit)
	} else {
		var tri []float64
		if win != nil {
			tri = win.tri
		} else {
			tri = w[nleft-1 : nright]
			tricubeH(tri, xs, nleft, h)
		}
		var a float64
		for j := nleft; j <= nright; j++ {
			wj := tri[j-nleft]
			if userw {
				wj *= rw[j-1]
			}
			a += wj
			w[j-1] = wj
		}
		if a <= 0 {
			return 0, false
		}
		for j := nleft; j <= nright; j++ {
			w[j-1] /= a
		}
	}
	if h > 0 && deg > 0 {
		var mean float64
		for j := nleft; j <= nright; j++ {
			mean += w[j-1] * float64(j)
		}
		b := xs - mean
		var c float64
		for j := nleft; j <= nright; j++ {
			d := float64(j) - mean
			c += w[j-1] * d * d
		}
		if math.Sqrt(c) > 0.001*rng {
			b /= c
			for j := nleft; j <= nright; j++ {
				w[j-1] *= b*(float64(j)-mean) + 1
			}
		}
	}
	var ys float64
	for j := nleft; j <= nright; j++ {
		ys += w[j-1] * y[j-1]
	}
	return ys, true
}

// loessInputs are the loess fast paths' test inputs: n synthetic points
// (seed), robustness weights 1 − (i mod period)/10 that are zero at every
// zeroEvery-th point and on [from, to) (a window with no weight), and a flat
// series of n values flatV.
func loessInputs(n int, seed uint64, period, zeroEvery, from, to int, flatV float64) (y, rw, flat []float64) {
	y = synth(n, false, seed)
	rw, flat = make([]float64, n), make([]float64, n)
	for i := range rw {
		rw[i] = 1 - float64(i%period)/10
		if i%zeroEvery == 0 || (i >= from && i < to) {
			rw[i] = 0
		}
		flat[i] = flatV
	}
	return y, rw, flat
}

func TestLoessAtMatchesPlain(t *testing.T) {
	// loessAt fuses the plain passes without reordering a sum: the fit is
	// the same to the bit, at interior points with and without the shared
	// window, at both ends, with spans longer than the series, with
	// robustness weights (some zero, and all zero in a window: no fit), and
	// with a flat window (the spread test that skips the degree-1 step).
	y, rw, flat := loessInputs(400, 31, 7, 11, 200, 230, 3)
	checked := 0
	for _, yy := range [][]float64{y, flat, y[:3]} {
		n := len(yy)
		for _, l := range []int{1, 3, 5, 13, 289, n, 3*n + 1} {
			nsh := (l + 1) / 2
			for _, userw := range []bool{false, true} {
				var win *loessWindow
				if l < n {
					win = newLoessWindow(l, nsh, userw)
				}
				for _, deg := range []int{0, 1} {
					for _, xs := range []float64{0, 1, 2, float64(nsh), float64(nsh + 1), 210, 300, float64(n - 1), float64(n), float64(n + 1)} {
						span := min(l, n)
						nleft := max(1, min(int(xs)-nsh+1, n-span+1))
						nright := nleft + span - 1
						wins := []*loessWindow{nil}
						if win != nil && span == l && int(xs)-nleft == nsh-1 && float64(int(xs)) == xs {
							wins = append(wins, win)
						}
						for _, wi := range wins {
							w1, w2 := make([]float64, n), make([]float64, n)
							v1, ok1 := loessAtPlain(yy, l, deg, xs, nleft, nright, userw, rw[:n], w1, wi)
							v2, ok2 := loessAt(yy, l, deg, xs, nleft, nright, userw, rw[:n], w2, wi)
							if math.Float64bits(v1) != math.Float64bits(v2) || ok1 != ok2 {
								t.Fatalf("n %d, l %d, userw %v, deg %d, xs %v, window %v: %v (%v), plain %v (%v)", n, l, userw, deg, xs, wi != nil, v2, ok2, v1, ok1)
							}
							checked++
						}
					}
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d cases checked", checked)
	}
}

func TestQuantileSelectMatchesMathMin(t *testing.T) {
	// quantileSelect takes the next order statistic as the minimum of what
	// selection left above it, by comparisons instead of math.Min: the same
	// value to the bit, the sign of a zero included.
	plain := func(x []float64, p float64) float64 {
		n := len(x)
		h := p * float64(n-1)
		lo := int(math.Floor(h))
		if lo >= n-1 {
			return selectKth(x, n-1)
		}
		a := selectKth(x, lo)
		b := x[lo+1]
		for _, v := range x[lo+2:] {
			b = math.Min(b, v)
		}
		return a + (h-float64(lo))*(b-a)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	negZero := math.Copysign(0, -1)
	for trial := range 2000 {
		n := 1 + rng.IntN(40)
		x := make([]float64, n)
		for i := range x {
			switch rng.IntN(4) {
			case 0:
				x[i] = negZero
			case 1:
				x[i] = 0
			default:
				x[i] = float64(rng.IntN(7) - 3)
			}
		}
		for _, p := range []float64{0.01, 0.25, 0.5, 0.9, 0.99} {
			a, b := append([]float64(nil), x...), append([]float64(nil), x...)
			got, want := quantileSelect(a, p), plain(b, p)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("trial %d, p %v, x %v: %v, with math.Min %v", trial, p, x, got, want)
			}
		}
	}
}

func TestFourierClipMatchesMaxMin(t *testing.T) {
	// clip by comparisons is math.Max(−δ, math.Min(δ, r)) to the bit.
	negZero := math.Copysign(0, -1)
	for _, d := range []float64{0, 1.5} {
		s := &fourierState{delta: d}
		for _, r := range []float64{-3, -1.5, -1, negZero, 0, 1, 1.5, 3, math.Inf(1), math.Inf(-1), math.NaN()} {
			want := r
			if d > 0 {
				want = math.Max(-d, math.Min(d, r))
			}
			if got := s.clip(r); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("delta %v: clip(%v) = %v, want %v", d, r, got, want)
			}
		}
	}
}

func TestLogScaleSkippedOnlyWhereUnused(t *testing.T) {
	// Auto skips logScale for a named model of another kind with given
	// periods. Those models are built the same whatever logScale says (the
	// forecasts below are equal to the bit), and the others need it.
	y := synth(2016, false, 41)
	for i := range y {
		y[i] = math.Max(0, y[i]-9) * 50 // zeros and a wide range: log scale, with an offset
	}
	ok, off := logScale(y)
	if !ok || off <= 0 {
		t.Fatalf("logScale = %v, %v; the test needs a series on the log scale with an offset", ok, off)
	}
	day := []time.Duration{24 * time.Hour}
	for _, name := range append([]string{"", "auto"}, ModelNames...) {
		for _, seas := range [][]time.Duration{nil, {}, day} {
			opt := Options{Model: name, Seasonality: seas}
			want := seas == nil || name == "" || name == "auto" || name == "log-ses" || name == "log-stl"
			if got := usesLogScale(opt); got != want {
				t.Errorf("model %q, seasonality %v: usesLogScale %v, want %v", name, seas, got, want)
			}
		}
		if name == "" || name == "auto" || usesLogScale(Options{Model: name, Seasonality: day}) {
			continue
		}
		f := &Forecast{Seasonality: Periods(y, 5*time.Minute, day), BasePeriod: 288}
		var fc [2][]float64
		for i, lg := range []struct {
			ok  bool
			off float64
		}{{true, off}, {false, 0}} {
			cs, err := candidates(name, f, 5*time.Minute, lg.ok, lg.off)
			if err != nil || len(cs) != 1 {
				t.Fatalf("%s: candidates %d, %v", name, len(cs), err)
			}
			st, err := cs[0].model.Fit(y)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			fc[i] = make([]float64, 24)
			st.Forecast(fc[i])
		}
		for k := range fc[0] {
			if math.Float64bits(fc[0][k]) != math.Float64bits(fc[1][k]) {
				t.Fatalf("%s: step %d is %v with the log scale, %v without", name, k, fc[0][k], fc[1][k])
			}
		}
	}
}

func TestLoessAt2MatchesLoessAt(t *testing.T) {
	// Two interior points evaluated together give each loessAt's fit to the
	// bit: with and without robustness weights (some zero, and all zero in
	// one window: no fit), degree 0 and 1, overlapping and distant windows,
	// and a flat series (no degree-1 adjustment).
	y, rw, flat := loessInputs(500, 51, 9, 13, 300, 340, 2)
	checked := 0
	for _, yy := range [][]float64{y, flat} {
		n := len(yy)
		for _, l := range []int{3, 5, 13, 35} {
			nsh := (l + 1) / 2
			for _, userw := range []bool{false, true} {
				win := newLoessWindow(l, nsh, userw)
				for _, deg := range []int{0, 1} {
					for _, pts := range [][2]int{{nsh, nsh + 1}, {40, 41}, {40, 60}, {100, 320}, {310, 320}, {n - l + nsh - 1, n - l + nsh}} {
						a, b := pts[0], pts[1]
						work := make([]float64, n)
						va, oka, vb, okb := loessAt2(yy, l, deg, float64(a), a-nsh+1, float64(b), b-nsh+1, userw, rw, work, win)
						wa, okwa := loessAt(yy, l, deg, float64(a), a-nsh+1, a-nsh+l, userw, rw, make([]float64, n), nil)
						wb, okwb := loessAt(yy, l, deg, float64(b), b-nsh+1, b-nsh+l, userw, rw, make([]float64, n), nil)
						if math.Float64bits(va) != math.Float64bits(wa) || oka != okwa || math.Float64bits(vb) != math.Float64bits(wb) || okb != okwb {
							t.Fatalf("l %d, userw %v, deg %d, points %v: %v (%v), %v (%v); one at a time %v (%v), %v (%v)", l, userw, deg, pts, va, oka, vb, okb, wa, okwa, wb, okwb)
						}
						checked++
					}
				}
			}
		}
	}
	if checked != 2*4*2*2*6 {
		t.Fatalf("%d cases checked", checked)
	}
}

// loessPlain is loess evaluating every point alone (as before the pairs).
func loessPlain(y []float64, l, deg, jump int, userw bool, rw, ys, work []float64) {
	n := len(y)
	if n < 2 {
		ys[0] = y[0]
		return
	}
	nj := min(jump, n-1)
	var win *loessWindow
	if l < n {
		win = newLoessWindow(l, (l+1)/2, userw)
	}
	nsh := (l + 1) / 2
	eval := func(i, nleft, nright int) {
		var wi *loessWindow
		if win != nil && nright-nleft+1 == l && i-nleft == nsh-1 {
			wi = win
		}
		v, ok := loessAt(y, l, deg, float64(i), nleft, nright, userw, rw, work, wi)
		if !ok {
			v = y[i-1]
		}
		ys[i-1] = v
	}
	window := func(i int) (int, int) {
		switch {
		case l >= n:
			return 1, n
		case i < nsh:
			return 1, l
		case i >= n-nsh+1:
			return n - l + 1, n
		}
		return i - nsh + 1, l + i - nsh
	}
	var nl, nr int
	for i := 1; i <= n; i += nj {
		nl, nr = window(i)
		if nj == 1 && l < n {
			// loess's sliding window: it moves once i passes nsh.
			nl = max(1, min(i-nsh+1, n-l+1))
			nr = nl + l - 1
		}
		eval(i, nl, nr)
	}
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
		eval(n, nl, nr) // on the last point's window, as the Fortran does
		if k != n-1 {
			delta := (ys[n-1] - ys[k-1]) / float64(n-k)
			for j := k + 1; j < n; j++ {
				ys[j-1] = ys[k-1] + delta*float64(j-k)
			}
		}
	}
}

func TestLoessPairsMatchSingles(t *testing.T) {
	// loess evaluates its interior points in pairs: the smoothed series is
	// the same to the bit as evaluating every point alone, for odd and even
	// counts of interior points, every jump, spans longer than the series,
	// and with robustness weights.
	y := synth(700, false, 61)
	rw := make([]float64, len(y))
	for i := range rw {
		rw[i] = 1 - float64(i%5)/6
	}
	for _, n := range []int{97, 98, 700} {
		for _, l := range []int{5, 13, 45, 801} {
			for _, jump := range []int{1, 2, 5, 7} {
				for _, deg := range []int{0, 1} {
					for _, userw := range []bool{false, true} {
						got, want := make([]float64, n), make([]float64, n)
						loess(y[:n], l, deg, jump, userw, rw[:n], got, make([]float64, n))
						loessPlain(y[:n], l, deg, jump, userw, rw[:n], want, make([]float64, n))
						for i := range got {
							if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
								t.Fatalf("n %d, l %d, jump %d, deg %d, userw %v: point %d is %v, %v one at a time", n, l, jump, deg, userw, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestFourierFrequencyFoldMatchesPhases(t *testing.T) {
	// The normal equations folded through the harmonics' frequencies equal
	// the ones folded phase by phase to rounding (1e-12 of the largest
	// entry), for one period and several, unweighted and with the sparse
	// weights of the Huber pass; a wrong sign or a frequency off by one
	// shows at 1e-2 or more. Nyquist harmonics and histories shorter than
	// the common period keep the phase fold.
	rng := rand.New(rand.NewPCG(71, 72))
	for _, tc := range []struct {
		periods []int
		k, n    int
	}{{[]int{288}, 0, 4320}, {[]int{288, 2016}, 0, 4096}, {[]int{12, 288}, 0, 2000}, {[]int{24, 168}, 3, 1000}, {[]int{7}, 0, 100}, {[]int{10, 15}, 4, 95}} {
		m := Fourier{Periods: tc.periods, K: tc.k}
		y := make([]float64, tc.n)
		for i := range y {
			y[i] = 5 + math.Sin(float64(i)/9) + rng.NormFloat64()
		}
		s := &fourierState{hs: m.harmonics(), trend: true, scale: float64(tc.n)}
		for i, h := range s.hs {
			tb := newTrig(h.p)
			s.hs[i].tab = &tb
		}
		d := m.design(y, s)
		if !d.byFrequency() {
			t.Fatalf("periods %v: the frequency fold does not apply", tc.periods)
		}
		for _, weighted := range []bool{false, true} {
			var w []float64
			if weighted {
				w = make([]float64, tc.n)
				for i := range w {
					if rng.IntN(5) == 0 {
						w[i] = rng.Float64()
					}
				}
			}
			got, gotv := d.normal(y, w)
			// The phase fold from the same per-phase sums.
			l, p := d.l, d.p
			sw, swt, swy := make([]float64, l), make([]float64, l), make([]float64, l)
			for i, yt := range y {
				wt := 1.0
				if w != nil {
					wt = w[i]
				}
				tau := float64(i) / d.gen.scale
				sw[i%l] += wt
				swt[i%l] += wt * tau
				swy[i%l] += wt * yt
			}
			a, v := make([]float64, p*p), make([]float64, p)
			d.foldPhases(sw, swt, swy, a, v)
			want := mat.NewSymDense(p, a)
			top := 0.0
			for i := range p {
				top = math.Max(top, math.Abs(want.At(i, i)))
			}
			for i := range p {
				for j := i; j < p; j++ {
					if i == 1 && j == 1 {
						continue // Σ w·τ², summed over t by both
					}
					if math.Abs(got.At(i, j)-want.At(i, j)) > 1e-12*top {
						t.Fatalf("periods %v, weighted %v: xᵀx[%d,%d] = %v by frequency, %v by phase", tc.periods, weighted, i, j, got.At(i, j), want.At(i, j))
					}
				}
				vt := math.Max(1, math.Abs(v[0]))
				if i != 1 && math.Abs(gotv.AtVec(i)-v[i]) > 1e-12*vt {
					t.Fatalf("periods %v, weighted %v: xᵀy[%d] = %v by frequency, %v by phase", tc.periods, weighted, i, gotv.AtVec(i), v[i])
				}
			}
		}
	}
	for _, tc := range []struct {
		periods []int
		n       int
	}{{[]int{2, 288}, 1000}, {[]int{288, 2016}, 1500}} {
		m := Fourier{Periods: tc.periods}
		s := &fourierState{hs: m.harmonics(), trend: true, scale: float64(tc.n)}
		for i, h := range s.hs {
			tb := newTrig(h.p)
			s.hs[i].tab = &tb
		}
		if d := m.design(make([]float64, tc.n), s); d.byFrequency() {
			t.Errorf("periods %v over %d points: the frequency fold applies; want the phase fold", tc.periods, tc.n)
		}
	}
}
