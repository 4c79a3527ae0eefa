package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Output formats accepted by -o.
var formats = []string{"table", "json", "csv"}

func checkFormat(o string) error {
	for _, f := range formats {
		if o == f {
			return nil
		}
	}
	return usagef("-o %q: unknown output format (choose %s)", o, strings.Join(formats, ", "))
}

// table is rows of cells with a header, printed as aligned text or CSV.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, format string) error {
	if format == "csv" {
		cw := csv.NewWriter(w)
		if err := cw.Write(t.header); err != nil {
			return err
		}
		if err := cw.WriteAll(t.rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// num is a float64 that encodes NaN and ±Inf as JSON null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// fmtNum formats a value for tables: whole numbers from 100 up to a billion,
// two decimals from 1, four significant digits otherwise; "-" for NaN.
func fmtNum(f float64) string {
	a := math.Abs(f)
	switch {
	case math.IsNaN(f):
		return "-"
	case math.IsInf(f, 0):
		return "inf"
	case a >= 1e9:
		return strconv.FormatFloat(f, 'g', 4, 64)
	case a >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// levelKey formats a quantile level as the JSON key of the contract ("0.95").
func levelKey(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }
