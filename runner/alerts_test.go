package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// promtool finds the promtool binary, skipping the test without it unless
// HEADROOM_REQUIRE_PROMETHEUS=1 makes that a failure.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("HEADROOM_REQUIRE_PROMETHEUS") == "1" {
			t.Fatal("promtool not found and HEADROOM_REQUIRE_PROMETHEUS=1 (apt-get install prometheus)")
		}
		t.Skip("promtool not found: skipping the alerting-rule checks (apt-get install prometheus; HEADROOM_REQUIRE_PROMETHEUS=1 fails instead)")
	}
	return p
}

// TestAlertRules validates the shipped alerting rules with promtool check
// rules, and runs promtool test rules on them: the alerts fire at the
// hand-worked times and with the annotations in headroom-rules.test.yaml.
// The metric names the rules use must be ones NewMetrics registers.
func TestAlertRules(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join("..", "deploy", "alerts")
	for _, args := range [][]string{{"check", "rules", "headroom-rules.yaml"}, {"test", "rules", "headroom-rules.test.yaml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := os.ReadFile(filepath.Join(dir, "headroom-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every headroom_ metric the rules use is one NewMetrics defines.
	m := NewMetrics(nil)
	defined := map[string]bool{}
	ch := make(chan *prometheus.Desc, 16)
	for _, c := range []prometheus.Collector{m.Cycles, m.Decisions, m.ActuationFailures, m.LastSuccess, m.RunwayDays, m.UnmetDemand, m.ForecastError, m.ConvergenceFailure, m.QuotaShortfall} {
		c.Describe(ch)
		d := <-ch
		name := strings.TrimPrefix(d.String(), `Desc{fqName: "`)
		defined[name[:strings.IndexByte(name, '"')]] = true
	}
	used := regexp.MustCompile(`headroom_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) < 5 {
		t.Fatalf("the rules use %v", used)
	}
	for _, name := range used {
		if !defined[name] {
			t.Errorf("the rules use %s, which headroom does not export (%v)", name, defined)
		}
	}
}
