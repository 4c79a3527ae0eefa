package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/metrics"
	"github.com/headroom-dev/headroom/metrics/store"
	"github.com/headroom-dev/headroom/metrics/trace"
)

func init() { commands = append(commands, newStoreCmd) }

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Inspect, export and import the history store",
		Long: `The history store is an SQLite file (see metrics/store). These commands move its
series in and out as trace files (CSV: a timestamp column and one column per
series, named Kind/namespace/name/resource), for backups and for moving history
between clusters.`,
	}
	cmd.AddCommand(newStoreExportCmd(), newStoreImportCmd(), newStoreInfoCmd())
	for _, c := range cmd.Commands() {
		wrapArgs(c)
	}
	return cmd
}

// openStore opens an existing store, turning a missing file into a usage error.
func openStore(path string, readOnly bool) (*store.Store, error) {
	if path == "" {
		return nil, usagef("--store is required")
	}
	if _, err := os.Stat(path); err != nil && readOnly {
		return nil, &usageError{fmt.Errorf("store %s: %w", path, err)}
	}
	return store.Open(path, &store.Options{ReadOnly: readOnly})
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, usagef("--%s %q: want RFC 3339 (2026-03-01T00:00:00Z)", name, v)
	}
	return t, nil
}

func newStoreExportCmd() *cobra.Command {
	var path, out, workload, from, to string
	cmd := &cobra.Command{
		Use:   "export --store DB [--workload KIND/NS/NAME] [--from T] [--to T] [--out FILE]",
		Short: "Write stored series as a trace file",
		Long: `Writes every stored series (or one workload's) over [--from, --to) as one trace
file. Hours older than the raw retention come from the hourly aggregates,
stamped at the start of the hour: the series' column holds the hour's mean, and
the columns SERIES@count, SERIES@max and SERIES@p95 its sample count, maximum
and 95th percentile, which headroom store import reads back as aggregates.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var filter metrics.Workload
			if workload != "" {
				var err error
				if filter, err = metrics.ParseWorkload(workload); err != nil {
					return &usageError{err}
				}
			}
			lo, err := parseTimeFlag("from", from)
			if err != nil {
				return err
			}
			hi, err := parseTimeFlag("to", to)
			if err != nil {
				return err
			}
			st, err := openStore(path, true)
			if err != nil {
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return err
				}
				w = f
			}
			es, err := st.Export(cmd.Context(), w, filter, lo, hi)
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return err
			}
			if f != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "exported %d series, %d samples in %d rows to %s\n", es.Series, es.Samples, es.Rows, out)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "store", "", "SQLite store path")
	fl.StringVar(&out, "out", "", "output file (default: standard output)")
	fl.StringVar(&workload, "workload", "", "only this workload (Kind/namespace/name)")
	fl.StringVar(&from, "from", "", "start (RFC 3339, inclusive)")
	fl.StringVar(&to, "to", "", "end (RFC 3339, exclusive)")
	return cmd
}

func newStoreImportCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "import --store DB FILE...",
		Short: "Read trace files into the store",
		Long: `Writes the columns of each trace file into the store, one transaction per file.
Columns named Kind/namespace/name/resource (as export writes them) go to that
series; other columns to Trace/<file name>/<column>. Samples already stored at
the same timestamps are replaced, so importing a file twice stores it once.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usagef("store import: --store is required")
			}
			st, err := store.Open(path, nil)
			if err != nil {
				return err
			}
			defer st.Close()
			now := time.Now().UTC()
			t := &table{header: []string{"FILE", "SERIES", "SAMPLES"}}
			for _, a := range args {
				f, err := os.Open(a)
				if err != nil {
					return &usageError{err}
				}
				ws, err := st.Import(cmd.Context(), f, a, now)
				f.Close()
				if err != nil {
					var pe *trace.ParseError
					if errors.As(err, &pe) {
						return &usageError{err}
					}
					return err
				}
				t.add(a, strconv.Itoa(ws.Series), strconv.Itoa(ws.Samples))
			}
			return t.write(cmd.OutOrStdout(), "table")
		},
	}
	cmd.Flags().StringVar(&path, "store", "", "SQLite store path (created when missing)")
	return cmd
}

func newStoreInfoCmd() *cobra.Command {
	var path, workload, out string
	cmd := &cobra.Command{
		Use:   "info --store DB [--workload KIND/NS/NAME]",
		Short: "List the stored series",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(out); err != nil {
				return err
			}
			var filter metrics.Workload
			if workload != "" {
				var err error
				if filter, err = metrics.ParseWorkload(workload); err != nil {
					return &usageError{err}
				}
			}
			st, err := openStore(path, true)
			if err != nil {
				return err
			}
			defer st.Close()
			infos, err := st.Series(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if out == "json" {
				type row struct {
					Series  string `json:"series"`
					Samples int    `json:"samples"`
					Hours   int    `json:"hours"`
					First   string `json:"first,omitempty"`
					Last    string `json:"last,omitempty"`
				}
				rows := []row{}
				for _, in := range infos {
					r := row{Series: in.Key.String(), Samples: in.Samples, Hours: in.Hours}
					if !in.First.IsZero() {
						r.First, r.Last = in.First.Format(time.RFC3339), in.Last.Format(time.RFC3339)
					}
					rows = append(rows, r)
				}
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			t := &table{header: []string{"SERIES", "SAMPLES", "HOURS", "FIRST", "LAST"}}
			for _, in := range infos {
				first, last := "-", "-"
				if !in.First.IsZero() {
					first, last = in.First.Format(time.RFC3339), in.Last.Format(time.RFC3339)
				}
				t.add(in.Key.String(), strconv.Itoa(in.Samples), strconv.Itoa(in.Hours), first, last)
			}
			return t.write(cmd.OutOrStdout(), out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&path, "store", "", "SQLite store path")
	fl.StringVar(&workload, "workload", "", "only this workload (Kind/namespace/name)")
	fl.StringVarP(&out, "output", "o", "table", "output format: table, json or csv")
	return cmd
}
