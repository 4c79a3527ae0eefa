// Package trace owns headroom's CSV trace format: it reads a trace file, checks it, and regularises its
// samples onto an evenly spaced time grid with a report of everything it had to repair.
//
// # Format
//
// The first row is a header. Column 1 holds the timestamp, whatever its name (it may even be empty, as in a
// pandas index column); every further column is a numeric series named by its header. Value column names are
// trimmed of surrounding space and must be non-empty and unique. A UTF-8 byte-order mark before the header is
// ignored; quoted fields, CRLF line ends, blank lines and a missing final newline are all accepted. Every row
// must have as many fields as the header.
//
// Timestamps may be
//
//	2014-02-14T14:30:00Z            RFC 3339, with or without fractional seconds, any offset
//	2014-02-14 14:30:00+01:00       the same with a space for the T
//	2014-02-14T14:30:00             no zone: taken as UTC (a space for the T works too)
//	2014-02-14                      a date: midnight UTC
//	1400000000, 1400000000.25, 1.4e9  Unix seconds
//
// and must lie in the years 0001 to 9999. Values are decimal floating-point numbers, with an optional exponent
// (1.5e3, 2E-4) and surrounding space. An empty cell, NaN, NA or null (any case) is a missing value. Infinities,
// numbers too large for a float64, hexadecimal forms and digit separators are errors: they are never usable
// samples. Negative values are kept; whether they make sense is the caller's decision.
//
// # Regularising
//
// Rows may come in any order: they are sorted by time (stably, so rows with one timestamp keep their file order)
// and counted in [Report.OutOfOrder]. The grid starts at the earliest timestamp. Its step is [Options.Step] or,
// by default, the lower median of the positive intervals between consecutive distinct timestamps (the lower
// median so that the step is always an interval that occurs in the file). When fewer than half of the intervals
// equal that median, the timestamps are jittered, and a median within 5 % of a common sampling interval (1 s,
// 15 s, 1 min, 5 min, 1 h, 1 d and the like) is snapped to it: a grid of 4m59.3s would drift against samples
// taken every 5 minutes give or take a second, and no seasonal period would be a whole number of points. Each row goes to the grid point nearest
// its timestamp, half-way rounding up. Several rows on one point (a repeated timestamp such as the hour a
// daylight-saving change repeats or skips, or jittered sampling) are averaged column by column, ignoring missing
// cells.
//
// Grid points that receive no row are gaps, reported in [Report.Gaps]. In each column a run of missing values
// (from gaps or from missing cells) of at most MaxFill points that has a value on both sides is filled by linear
// interpolation between those two values; longer runs, and missing values at the start or end of a column, stay
// NaN. The default MaxFill, [DefaultMaxFill], is one hour of points but at least 3 and at most 12: an hour
// covers a typical scrape or agent outage, 3 points bridge isolated drops in coarse (hourly or daily) data,
// and the cap of 12 keeps invented values few next to any daily cycle, so the forecaster sees real gaps as gaps.
//
// # Errors
//
// A problem at a place in the file is a [*ParseError] naming the file, the 1-based line (the header is line 1)
// and the 1-based field; it wraps one of the sentinels [ErrHeader], [ErrFieldCount], [ErrSyntax],
// [ErrTimestamp] or [ErrNumber]. A file without data rows ([ErrNoRows]), without a single value ([ErrNoValues]),
// whose step cannot be inferred ([ErrStep]), or whose grid would be too large ([ErrTooLarge]: more than
// [Options.MaxValues] values, or a span longer than a time.Duration, about 292 years) is an error wrapping
// that sentinel, and so are bad options ([ErrOptions]). Read never panics, whatever its input.
package trace
