#!/bin/sh
# Cost against unmet demand for the predictive and the reactive policy, each
# swept over its own knob, so that "at no higher cost" is judged on equal cost:
#   reactive:   the HPA's target utilization (scenario reactiveUtilization);
#               unmet demand is still measured against the plan's ceilings;
#   predictive: the planned forecast quantile (scenario quantile).
# Neither has availability headroom (the reactive baseline's node autoscaler
# has none). For each predictive point it prints the reactive's unmet demand at
# the same monthly cost, read off the reactive curve by linear interpolation
# between its neighbouring points (blank outside the curve's cost range).
#
# Usage (from the repository root):
#   tools/frontier.sh [PLAN] [EXTRA_SCENARIO_LINES]
# PLAN defaults to testdata/plans/example.yaml. Needs jq. Each point is one
# `headroom simulate` of one policy (about 5 s of CPU on the example plan).
set -eu
plan=${1:-testdata/plans/example.yaml}
extra=${2:-}
targets=${TARGETS:-"0.5 0.55 0.6 0.62 0.65 0.67 0.68 0.69 0.7"}
quantiles=${QUANTILES:-"0.5 0.6 0.7 0.8 0.9 0.95 0.99"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/headroom" ./cmd/headroom
pools=$(awk '/^  nodePools:/{p=1;next} p&&/^    - name:/{print $3}' "$plan")

scenario() { # file name key value
	{
		printf 'apiVersion: headroom.dev/v1alpha1\nkind: Scenario\nmetadata: {name: %s}\nspec:\n  seed: 1\n  %s: %s\n' "$2" "$3" "$4"
		if [ -n "$pools" ]; then
			echo "  machines:"
			for p in $pools; do echo "    - {pool: $p, headroom: none}"; done
		fi
		[ -z "$extra" ] || printf '%s\n' "$extra"
	} >"$1"
}

point() { # policy knob value
	f="$tmp/$1-$3.yaml"
	scenario "$f" "$1-$3" "$2" "$3"
	"$tmp/headroom" simulate --config "$plan" --policy "$1" --scenario "$f" -o json |
		jq -r --arg v "$3" '.policies[0] | [.name, $v, .monthly_cost, .unmet_core_minutes, .time_short] | @tsv'
}

for u in $targets; do point reactive reactiveUtilization "$u"; done >"$tmp/reactive.tsv"
for q in $quantiles; do point predictive quantile "$q"; done >"$tmp/predictive.tsv"

echo "| policy | knob | cost / month | unmet core-minutes | time short | reactive's unmet at that cost | predictive vs reactive |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
awk -F'\t' '
	FNR == NR { rc[NR] = $3; ru[NR] = $4; n = NR
		printf "| reactive | target %s | %.0f | %.0f | %.1f %% | | |\n", $2, $3, $4, 100 * $5; next }
	{
		at = ""
		for (i = 1; i <= n; i++) for (j = 1; j <= n; j++)
			if (rc[i] <= $3 && $3 <= rc[j] && (at == "" || rc[j] - rc[i] < span)) {
				span = rc[j] - rc[i]
				at = (span > 0) ? ru[i] + (ru[j] - ru[i]) * ($3 - rc[i]) / span : ru[i]
			}
		vs = (at == "" || at == 0) ? "" : sprintf("%+.0f %%", 100 * ($4 / at - 1))
		printf "| predictive | quantile %s | %.0f | %.0f | %.1f %% | %s | %s |\n", $2, $3, $4, 100 * $5, (at == "" ? "" : sprintf("%.0f", at)), vs
	}' "$tmp/reactive.tsv" "$tmp/predictive.tsv"
