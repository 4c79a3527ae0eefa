#!/bin/sh
# Task-4 timings: stlf and statsmodels Holt-Winters on one 4,032-point series, and
# the start-up time of R with the forecast package (hyperfine, from Debian).
# Run from the repository root. Writes testdata/reference/timings_*.
set -eu
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
nice -n 10 Rscript tools/reference/timings.R
nice -n 10 /usr/bin/python3 tools/reference/timings.py
nice -n 10 hyperfine --warmup 1 --runs 10 --export-json testdata/reference/timings_startup.json \
  "Rscript -e 'library(forecast)'" \
  "Rscript -e 'NULL'" \
  "/usr/bin/python3 -c 'import statsmodels.tsa.holtwinters'"
{ date -u; echo "nproc: $(env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS nproc)"; lscpu | head -n 20; echo "load during the run (uptime):"; uptime; } > testdata/reference/timings_machine.txt
