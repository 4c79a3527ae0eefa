package trace

import (
	"errors"
	"strconv"
)

// Sentinel errors. Test for them with [errors.Is]; a [*ParseError] wraps the first five.
var (
	ErrHeader     = errors.New("trace: bad header")
	ErrFieldCount = errors.New("trace: wrong number of fields")
	ErrSyntax     = errors.New("trace: malformed CSV")
	ErrTimestamp  = errors.New("trace: bad timestamp")
	ErrNumber     = errors.New("trace: bad number")

	ErrNoRows    = errors.New("trace: no data rows")
	ErrNoValues  = errors.New("trace: every value is missing")
	ErrStep      = errors.New("trace: no usable grid step")
	ErrTooLarge  = errors.New("trace: grid too large")
	ErrOptions   = errors.New("trace: invalid options")
	ErrNoColumn  = errors.New("trace: no such column")
	errSpanLimit = errors.New("the time span does not fit a time.Duration (about 292 years)")
)

// ParseError is a problem at a place in a trace file.
//
// Its message reads file:line:column: what, for example
//
//	traces/x.csv:17:3: cannot parse "abc" as a number
//
// The file part is left out when Read was given no name, and the column part when the problem concerns a whole
// line (a header with too few fields, or malformed CSV quoting, whose byte offset is then in Msg).
type ParseError struct {
	File   string // the name given to Read
	Line   int    // 1-based line; the header is line 1
	Column int    // 1-based field number; 0 when the whole line is at fault
	Msg    string // what is wrong, e.g. `cannot parse "abc" as a number`
	Err    error  // ErrHeader, ErrFieldCount, ErrSyntax, ErrTimestamp or ErrNumber
}

func (e *ParseError) Error() string {
	b := make([]byte, 0, len(e.File)+len(e.Msg)+16)
	if e.File != "" {
		b = append(b, e.File...)
		b = append(b, ':')
	}
	b = strconv.AppendInt(b, int64(e.Line), 10)
	if e.Column > 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(e.Column), 10)
	}
	b = append(b, ": "...)
	b = append(b, e.Msg...)
	return string(b)
}

// Unwrap returns the sentinel the error wraps.
func (e *ParseError) Unwrap() error { return e.Err }

// quote quotes a field for an error message, shortening it when it is long, so that a corrupt file with a
// megabyte field does not produce a megabyte message.
func quote(s string) string {
	const max = 40
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
