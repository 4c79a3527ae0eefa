#!/usr/bin/env Rscript
# Timing of forecast::stlf on one 4,032-point trace (m = 288, h = 24), 5 repeats
# with system.time; also writes stlf's forecast for that series. Called by
# tools/reference/timings.sh; writes testdata/reference/timings_stlf_r.json and
# testdata/reference/stlf_5f5533_h24.csv.
suppressPackageStartupMessages({ library(forecast); library(jsonlite) })
path <- file.path("testdata", "traces", "nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv")
d <- read.csv(path)
d <- d[order(d$timestamp), ]
y <- ts(d$cpu_percent, frequency = 288)
stopifnot(length(y) == 4032)
reps <- lapply(1:5, function(i) {
  st <- system.time(fc <- stlf(y, h = 24))
  list(elapsed = st[["elapsed"]], user = st[["user.self"]], system = st[["sys.self"]])
})
fc <- stlf(y, h = 24)
out <- data.frame(h = 1:24, mean = sprintf("%.17g", as.numeric(fc$mean)),
                  lo80 = sprintf("%.17g", fc$lower[, 1]), hi80 = sprintf("%.17g", fc$upper[, 1]),
                  lo95 = sprintf("%.17g", fc$lower[, 2]), hi95 = sprintf("%.17g", fc$upper[, 2]))
write.csv(out, file.path("testdata", "reference", "stlf_5f5533_h24.csv"), row.names = FALSE, quote = FALSE)
el <- vapply(reps, function(r) r$elapsed, 1)
writeLines(toJSON(list(
  call = "forecast::stlf(ts(cpu_percent, frequency=288), h=24)  # defaults otherwise; inside system.time(), 5 repeats",
  series = "testdata/traces/nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv (4032 points, 300-s steps)",
  method = fc$method,
  R = R.version.string, forecast = as.character(packageVersion("forecast")),
  repeats = reps, elapsed_median = median(el), elapsed_min = min(el), elapsed_mean = mean(el)),
  auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path("testdata", "reference", "timings_stlf_r.json"))
cat("stlf elapsed:", el, "\n")
