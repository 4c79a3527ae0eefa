package forecast

import (
	"testing"
	"time"
)

// BenchmarkAuto4032 fits, selects and forecasts one two-week series at five
// minutes (4,032 points) with a daily cycle: the size the README's speed
// target names.
func BenchmarkAuto4032(b *testing.B) {
	s := loadTraceColumn(b, "nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv", "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Auto(s, Options{Horizon: 24}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAutoSeasonal4032 is the same on a series with a strong daily cycle
// (the seasonal candidates are fitted too): the last 4,032 points of the Azure
// VM CPU trace.
func BenchmarkAutoSeasonal4032(b *testing.B) {
	s := loadTraceColumn(b, "dctraces-azure_v2-vm_cpu_readings_month_aggregated_cpu_mem.csv", "cpu_usage_core_weighted")
	s.Values = s.Values[len(s.Values)-4032:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Auto(s, Options{Horizon: 24}); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = time.Second
