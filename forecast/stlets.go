package forecast

import "fmt"

// STLETS forecasts by decomposing the history with robust STL, repeating the
// last period of the seasonal component, and forecasting the seasonally
// adjusted series (trend + remainder) with exponential smoothing (Trend selects
// simple or damped). This is the method of R's forecast::stlf, made robust to
// outliers through STL's robustness iterations and a Huber loss in the smoothing fit.
type STLETS struct {
	Period int
	Trend  Trend
	STL    STLOptions
	// FitWindow is passed to the ETS fit of the adjusted series.
	FitWindow int
	// Init is passed to the ETS fit of the adjusted series: the start of
	// its parameter search (see ETS.Init).
	Init *ETSParams

	// memo lets candidates that differ only in Trend share one decomposition
	// of the same history (Auto fits both on the same slice).
	memo *stlMemo
}

type stlMemo struct {
	first *float64
	n     int
	d     Decomposition
}

func (m STLETS) decompose(y []float64) (Decomposition, error) {
	if m.memo != nil && m.memo.n == len(y) && m.memo.first == &y[0] {
		return m.memo.d, nil
	}
	d, err := STL(y, m.Period, m.STL)
	if err == nil && m.memo != nil {
		*m.memo = stlMemo{first: &y[0], n: len(y), d: d}
	}
	return d, err
}

func (m STLETS) Name() string {
	if m.Trend == DampedTrend {
		return "stl-damped"
	}
	return "stl"
}

func (m STLETS) Fit(y []float64) (State, error) {
	if m.Period < 2 {
		return nil, fmt.Errorf("%w: stl period %d < 2", ErrInvalidArgument, m.Period)
	}
	if len(y) == 0 {
		return nil, fmt.Errorf("%w: stl needs data", ErrInsufficientData)
	}
	d, err := m.decompose(y)
	if err != nil {
		return nil, err
	}
	n := len(y)
	adj := make([]float64, n)
	for i := range y {
		adj[i] = y[i] - d.Seasonal[i]
	}
	es, err := ETS{Trend: m.Trend, Robust: true, FitWindow: m.FitWindow, Init: m.Init}.Fit(adj)
	if err != nil {
		return nil, err
	}
	season := append([]float64(nil), d.Seasonal[n-m.Period:]...)
	return &stlState{ets: es, season: season}, nil
}

type stlState struct {
	ets    State
	season []float64 // season[pos] is the index for the next observation
	pos    int
}

func (s *stlState) Observe(y float64) {
	s.ets.Observe(y - s.season[s.pos])
	s.pos = (s.pos + 1) % len(s.season)
}

func (s *stlState) Forecast(dst []float64) {
	s.ets.Forecast(dst)
	for k := range dst {
		dst[k] += s.season[(s.pos+k)%len(s.season)]
	}
}
