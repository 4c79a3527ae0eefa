package trace

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReadNYCTaxi reads the 10,320-row nyc_taxi trace from memory.
func BenchmarkReadNYCTaxi(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(tracesDir, "nab-realKnownCause-nyc_taxi.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		tr, err := Read(bytes.NewReader(data), "nyc_taxi.csv", nil)
		if err != nil || tr.Len() != 10320 {
			b.Fatal(err)
		}
	}
}
