package store

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

const hourMS = 3600_000

// sample is a raw sample in the store's units: Unix milliseconds and a value.
type sample struct {
	ts int64
	v  float64
}

var errChunk = errors.New("malformed chunk")

// encodeChunk packs samples of one hour, sorted by ts and without duplicate stamps.
func encodeChunk(hour int64, ss []sample) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(ss)*(3+8))
	buf = binary.AppendUvarint(buf, uint64(len(ss)))
	prev := hour
	for _, s := range ss {
		buf = binary.AppendUvarint(buf, uint64(s.ts-prev))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(s.v))
		prev = s.ts
	}
	return buf
}

// decodeChunk appends the samples of a chunk to dst.
func decodeChunk(dst []sample, hour int64, b []byte) ([]sample, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return dst, errChunk
	}
	b = b[k:]
	prev := hour
	dst = slices.Grow(dst, int(n))
	for i := uint64(0); i < n; i++ {
		d, k := binary.Uvarint(b)
		if k <= 0 || len(b) < k+8 {
			return dst, errChunk
		}
		prev += int64(d)
		dst = append(dst, sample{prev, math.Float64frombits(binary.LittleEndian.Uint64(b[k:]))})
		b = b[k+8:]
	}
	if len(b) != 0 {
		return dst, errChunk
	}
	return dst, nil
}

// merge returns old and new merged by stamp, new winning on equal stamps. Both are sorted and unique.
func merge(old, new []sample) []sample {
	if len(old) == 0 {
		return new
	}
	out := make([]sample, 0, len(old)+len(new))
	i, j := 0, 0
	for i < len(old) && j < len(new) {
		switch {
		case old[i].ts < new[j].ts:
			out = append(out, old[i])
			i++
		case old[i].ts > new[j].ts:
			out = append(out, new[j])
			j++
		default:
			out = append(out, new[j])
			i++
			j++
		}
	}
	out = append(out, old[i:]...)
	return append(out, new[j:]...)
}

// sortUnique sorts samples by stamp and keeps the last of equal stamps (the one written last wins).
func sortUnique(ss []sample) []sample {
	slices.SortStableFunc(ss, func(a, b sample) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	out := ss[:0]
	for i, s := range ss {
		if i+1 < len(ss) && ss[i+1].ts == s.ts {
			continue
		}
		out = append(out, s)
	}
	return out
}

func hourOf(ts int64) int64 { return ts - mod(ts, hourMS) }
