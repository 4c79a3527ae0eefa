package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var reportNow = time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)

// golden compares got with testdata/golden/name (rewriting it with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(go test ./report -update rewrites it)", name, i+1, g, w)
			}
		}
	}
}

// formats renders r in every text format and compares each with its
// golden file prefix.*.
func formats(t *testing.T, r *Report, prefix string) {
	t.Helper()
	var md, js bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden(t, prefix+".md", md.Bytes())
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, prefix+".json", js.Bytes())
	for _, tb := range r.Tables() {
		var b bytes.Buffer
		if err := WriteCSV(&b, tb); err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join(prefix+"-csv", tb.Name+".csv"), b.Bytes())
	}
}

func simReport(t *testing.T) *Report {
	t.Helper()
	res, err := LoadSimulation(filepath.Join("testdata", "sim.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := FromSimulation(res, Options{Now: reportNow})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGoldenSimulation(t *testing.T) {
	formats(t, simReport(t), "sim")
}
