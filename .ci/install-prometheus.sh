#!/usr/bin/env bash
# Installs Debian's prometheus package (prometheus and promtool) for metrics/prom's tests against a real
# Prometheus, and stops any Prometheus the package started: the tests run their own, on a loopback port,
# from a TSDB they fill themselves.
set -euo pipefail
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# The package's service (and node exporter) may have been started by the install: stop them.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
	systemctl stop prometheus prometheus-node-exporter 2>/dev/null || true
fi
for s in prometheus prometheus-node-exporter; do
	if [ -x /etc/init.d/$s ]; then /etc/init.d/$s stop >/dev/null 2>&1 || true; fi
done
prometheus --version 2>&1 | head -1
