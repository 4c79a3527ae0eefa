package trace_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/headroom-dev/headroom/metrics/trace"
)

func ExampleRead() {
	// Five-minute samples with a repeated stamp, a missing row and an empty cell.
	const src = "timestamp,cpu_cores\n" +
		"2024-03-10T01:50:00Z,1.0\n" +
		"2024-03-10T01:55:00Z,1.2\n" +
		"2024-03-10T01:55:00Z,1.4\n" +
		"2024-03-10T02:05:00Z,1.6\n" +
		"2024-03-10T02:10:00Z,\n" +
		"2024-03-10T02:15:00Z,2.0\n"
	tr, err := trace.Read(strings.NewReader(src), "cpu.csv", nil)
	if err != nil {
		log.Fatal(err)
	}
	cpu, err := tr.Column("cpu_cores")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tr.Step, tr.Report)
	for i, v := range cpu.Values {
		fmt.Printf("%s %.2f\n", tr.Time(i).Format("15:04"), v)
	}
	// Output:
	// 5m0s 6 rows, 1 duplicate stamp, 1 merged, 1 missing cell, 1 gap (1 point filled); 6 grid points, 2 values filled
	// 01:50 1.00
	// 01:55 1.30
	// 02:00 1.45
	// 02:05 1.60
	// 02:10 1.80
	// 02:15 2.00
}

func ExampleParseError() {
	_, err := trace.Read(strings.NewReader("timestamp,cpu\n2024-01-01T00:00:00Z,0.5\n2024-01-01T00:01:00Z,abc\n"), "traces/x.csv", nil)
	fmt.Println(err)
	// Output:
	// traces/x.csv:3:2: cannot parse "abc" as a number
}
