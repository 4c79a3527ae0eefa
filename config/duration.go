package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as in Go (90s, 5m, 1h30m) or with the
// day and week units d (24h) and w (168h), alone or compounded with the
// others: 35d, 2w, 1.5d, 3d10h, 1w2d, 1d12h30m. It encodes back as a Go
// duration string.
type Duration struct{ time.Duration }

// maxDays bounds the d and w parts of a duration (the whole must fit
// time.Duration's 292 years).
const maxDays = 1e5

// ParseDuration parses a Duration: a possibly signed sequence of decimal
// numbers, each with a unit: ns, us (µs), ms, s, m, h, d or w.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("invalid duration %q (use 90s, 5m, 1h, 35d, 3d10h)", s)
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return 0, bad
	}
	isNum := func(c byte) bool { return c == '.' || c >= '0' && c <= '9' }
	var days float64
	var goPart strings.Builder
	for rest != "" {
		i := 0
		for i < len(rest) && isNum(rest[i]) {
			i++
		}
		j := i
		for j < len(rest) && !isNum(rest[j]) {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if num == "" || unit == "" {
			return 0, bad
		}
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, bad
			}
			if unit == "w" {
				f *= 7
			}
			days += f
		default:
			goPart.WriteString(num)
			goPart.WriteString(unit)
		}
	}
	if days > maxDays {
		return 0, bad
	}
	var d time.Duration
	if goPart.Len() > 0 {
		var err error
		if d, err = time.ParseDuration(goPart.String()); err != nil {
			return 0, bad
		}
	}
	total := d + time.Duration(days*float64(24*time.Hour))
	if total < d {
		return 0, bad // overflow
	}
	if neg {
		total = -total
	}
	return total, nil
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as 5m or 35d, not %s", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.Duration.String()) }

func dur(d time.Duration) *Duration { return &Duration{d} }

// LeadTime is a pod start-up time: a Duration, or the string auto (Auto is
// true and Duration holds the default used until start-ups are measured).
type LeadTime struct {
	time.Duration
	Auto bool
}

// UnmarshalJSON reads auto or a duration string.
func (l *LeadTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("lead time must be a duration such as 2m, or auto, not %s", b)
	}
	if strings.TrimSpace(s) == "auto" {
		*l = LeadTime{Duration: DefaultPodLeadTime, Auto: true}
		return nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%v, or auto", err)
	}
	*l = LeadTime{Duration: v}
	return nil
}

// MarshalJSON writes auto or the duration.
func (l LeadTime) MarshalJSON() ([]byte, error) {
	if l.Auto {
		return json.Marshal("auto")
	}
	return json.Marshal(l.Duration.String())
}
