package forecast

import (
	"fmt"
	"math"
)

// Log fits Model to log(y + Offset) and forecasts exp(·) − Offset. Load whose
// swings grow with its level (page views, request rates with a daily peak
// ten times the trough) is additive on the log scale, and the back-transformed
// forecast is a median rather than a mean, which is what absolute-error
// scoring rewards on skewed data. y + Offset must be positive.
type Log struct {
	Model  Model
	Offset float64
}

func (m Log) Name() string { return "log-" + m.Model.Name() }

func (m Log) Fit(y []float64) (State, error) {
	ly := make([]float64, len(y))
	for i, v := range y {
		if !(v+m.Offset > 0) {
			return nil, fmt.Errorf("%w: %s needs positive values (y[%d] + offset = %g)", ErrInvalidArgument, m.Name(), i, v+m.Offset)
		}
		ly[i] = math.Log(v + m.Offset)
	}
	st, err := m.Model.Fit(ly)
	if err != nil {
		return nil, err
	}
	return &logState{st: st, off: m.Offset}, nil
}

type logState struct {
	st  State
	off float64
}

func (s *logState) Observe(y float64) {
	// A non-positive value cannot be taken to the log scale; the state sees
	// the smallest positive value instead (it only arises if the offset was
	// chosen on a history that never went as low).
	s.st.Observe(math.Log(math.Max(y+s.off, math.SmallestNonzeroFloat64)))
}

func (s *logState) Forecast(dst []float64) {
	s.st.Forecast(dst)
	for k, v := range dst {
		// Guard the back-transform: a log-scale forecast cannot grow by more
		// than e^50 without being nonsense.
		dst[k] = math.Exp(math.Min(v, 700)) - s.off
	}
}
