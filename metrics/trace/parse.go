package trace

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years RFC 3339 can write.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

const (
	layoutDate     = "2006-01-02"
	layoutT        = "2006-01-02T15:04:05"
	layoutSpace    = "2006-01-02 15:04:05"
	layoutTZone    = time.RFC3339
	layoutSpaceZne = "2006-01-02 15:04:05Z07:00"
)

// parseTime parses a trimmed timestamp field. The result is in UTC.
func parseTime(s string) (time.Time, bool) {
	if len(s) >= 10 && s[4] == '-' {
		return parseDateTime(s)
	}
	return parseUnix(s)
}

// parseDateTime parses the calendar forms. It picks the one layout the shape of s allows, so that a file of
// 10,000 stamps costs 10,000 parses, not one failed parse per layout tried.
func parseDateTime(s string) (time.Time, bool) {
	var layout string
	switch {
	case len(s) == 10:
		layout = layoutDate
	case len(s) < 19:
		return time.Time{}, false
	default:
		zoned := strings.ContainsAny(s[19:], "Z+-")
		switch {
		case s[10] == 'T' && zoned:
			layout = layoutTZone
		case s[10] == 'T':
			layout = layoutT
		case s[10] == ' ' && zoned:
			layout = layoutSpaceZne
		case s[10] == ' ':
			layout = layoutSpace
		default:
			return time.Time{}, false
		}
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 { // an offset can push 0001-01-01 or 9999-12-31 over the edge
		return time.Time{}, false
	}
	return t, true
}

// parseUnix parses Unix seconds: an integer, a decimal fraction (exact to the nanosecond), or a float with an
// exponent such as 1.4e9 (exact to float64 precision).
func parseUnix(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		if sec < minUnix || sec > maxUnix {
			return time.Time{}, false
		}
		return time.Unix(sec, 0).UTC(), true
	}
	if t, ok, decimal := parseUnixDecimal(s); decimal {
		return t, ok
	}
	if notDecimal(s) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < minUnix || f >= maxUnix+1 {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// parseUnixDecimal parses [+-]digits.digits without an exponent exactly. decimal reports whether s had that
// shape; when it did not, the caller tries a float.
func parseUnixDecimal(s string) (t time.Time, ok, decimal bool) {
	neg := false
	body := s
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	dot := strings.IndexByte(body, '.')
	if dot < 0 || len(body) < 2 || !allDigits(body[:dot]) || !allDigits(body[dot+1:]) {
		return time.Time{}, false, false
	}
	ip, fp := body[:dot], body[dot+1:]
	var sec int64
	if ip != "" {
		v, err := strconv.ParseInt(ip, 10, 64)
		if err != nil {
			return time.Time{}, false, true
		}
		sec = v
	}
	var nsec int64
	for i := range 9 {
		nsec *= 10
		if i < len(fp) {
			nsec += int64(fp[i] - '0')
		}
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	if sec < minUnix || sec > maxUnix || (sec == minUnix && nsec < 0) {
		return time.Time{}, false, true
	}
	return time.Unix(sec, nsec).UTC(), true, true
}

// notDecimal reports whether s has a hexadecimal prefix or a digit separator, forms that strconv.ParseFloat
// accepts (0x1p3, 1_000) but a trace should not.
func notDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'x', 'X', '_':
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// valueStatus says what parseValue made of a cell.
type valueStatus uint8

const (
	valueOK valueStatus = iota
	valueMissing
	valueBad      // not a number
	valueInfinite // Inf, or too large for a float64
)

// parseValue parses one value cell.
func parseValue(s string) (float64, valueStatus) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), valueMissing
	}
	if len(s) <= 4 && (strings.EqualFold(s, "nan") || strings.EqualFold(s, "na") || strings.EqualFold(s, "null")) {
		return math.NaN(), valueMissing
	}
	if notDecimal(s) {
		return 0, valueBad
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case math.IsInf(f, 0):
		return 0, valueInfinite // "Inf" parses without error, "1e400" with ErrRange
	case err != nil:
		return 0, valueBad
	case math.IsNaN(f):
		return math.NaN(), valueMissing
	}
	return f, valueOK
}
