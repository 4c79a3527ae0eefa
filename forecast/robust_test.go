package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAutoNeverPanicsOrNaN throws seeded random series at Auto: random lengths
// and steps, trends, cycles, bursts, gaps, zeros, negative and huge values. Each
// must give finite, ordered quantiles or a typed error.
func TestAutoNeverPanicsOrNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 11))
	steps := []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour, 24 * time.Hour, 7 * time.Minute}
	for trial := 0; trial < 150; trial++ {
		n := 1 + rng.IntN(3000)
		step := steps[rng.IntN(len(steps))]
		y := make([]float64, n)
		level := math.Pow(10, rng.Float64()*12-3) * float64(1-2*rng.IntN(2)*rng.IntN(2))
		amp, noise := rng.Float64()*level, rng.Float64()*math.Abs(level)
		period := 2 + rng.IntN(300)
		for i := range y {
			y[i] = level + amp*math.Sin(2*math.Pi*float64(i)/float64(period)) + noise*rng.NormFloat64()
			switch r := rng.Float64(); {
			case r < 0.02:
				y[i] = math.NaN()
			case r < 0.03:
				y[i] *= 1000
			case r < 0.05:
				y[i] = 0
			}
		}
		if rng.IntN(5) == 0 { // a long gap
			a := rng.IntN(n)
			for i := a; i < min(n, a+rng.IntN(500)); i++ {
				y[i] = math.NaN()
			}
		}
		h := 1 + rng.IntN(100)
		f, err := Auto(Series{Name: "random", Start: t0, Step: step, Values: y}, Options{Horizon: h})
		if err != nil {
			if !errors.Is(err, ErrInsufficientData) && !errors.Is(err, ErrInvalidSeries) {
				t.Errorf("trial %d (n=%d): untyped error %v", trial, n, err)
			}
			continue
		}
		if len(f.Mean) != h {
			t.Fatalf("trial %d: %d points, want %d", trial, len(f.Mean), h)
		}
		checkFinite(t, f)
	}
}

func TestAutoRejectsOverflowingValues(t *testing.T) {
	y := constant(100, 1)
	y[50] = 1e300 // sums of squares of such values overflow
	_, err := Auto(series(y, time.Minute), Options{Horizon: 3})
	if !errors.Is(err, ErrInvalidSeries) {
		t.Errorf("error %v, want ErrInvalidSeries", err)
	}
}
