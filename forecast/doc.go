// Package forecast owns demand forecasting: regular time series, the forecasting
// models, seasonality detection, automatic model selection by rolling-origin
// backtest, calibrated quantiles and accuracy metrics.
//
// The package is pure: no clock reads, no global randomness, no I/O. Time enters
// as data (the Start and Step of a Series) and every result is a function of the
// inputs, so the same series always gives the same forecast bytes.
//
// The entry point is Auto, which detects seasonality, fits every candidate model
// on the history minus a validation tail, rolls each forward through the tail
// (forecasting from every origin without refitting, as a live planner would),
// picks the model or combination with the lowest MASE, and derives the forecast
// quantiles from the validation errors at each horizon step.
package forecast
