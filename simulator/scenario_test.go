package simulator

import (
	"errors"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/config"
)

// Scenario errors name the line as well as the field path, from decoding and from validation alike.
func TestScenarioErrorLines(t *testing.T) {
	const head = "apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nspec:\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", head + "  refit: 1h\n  spikes:\n    - at: 1h\n      duration: 2h\n      factr: 2\n",
			`s.yaml: unknown field "spec.spikes[0].factr" (did you mean "factor"?) (line 8)`},
		{"bad duration", head + "  failures:\n    - pool: a\n      nodes: 1\n      at: later\n",
			`s.yaml: spec.failures[0].at: invalid duration "later" (use 90s, 5m, 1h, 35d, 3d10h) (line 7)`},
		{"wrong type", head + "  seed: -3\n", "s.yaml: spec.seed: -3 is out of range (or negative) (line 4)"},
		{"bad quantity", head + "  machines:\n    - pool: a\n      cpu: lots\n", `s.yaml: spec.machines[0].cpu: "lots" is not a quantity (such as 500m, 2 or 512Mi) (line 6)`},
		{"validation", head + "  prices:\n    - at: 1h\n      pool: a\n      pricePerHour: -1\n", "s.yaml: spec.prices[0].pricePerHour: must not be negative (line 7)"},
		{"two errors, both with lines", head + "  refit: 0s\n  growth: {percentPerMonth: -200}\n",
			"s.yaml: spec.refit: must be positive (line 4); spec.growth.percentPerMonth: must be in (-100, 10000), not -200 (line 5)"},
		{"not YAML", head + "  refit: [\n", "s.yaml: not a YAML document"},
		{"duplicate key", head + "  refit: 1h\n  refit: 2h\n", `s.yaml: spec.refit: duplicate field "refit" (line 5)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario("s.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid and config.ErrInvalid: %v", err)
			}
		})
	}
}
