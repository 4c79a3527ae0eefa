#!/usr/bin/env Rscript
# Rolling-origin reference evaluation of R's forecast package on the traces in
# testdata/traces, on the same protocol as `headroom eval` (see
# testdata/reference/README.md, "Evaluation protocol"). This script only calls
# R's stats/forecast packages; no R code is copied into the project.
#
# Usage (from the repository root):
#   Rscript tools/reference/eval.R [--h 24] [--K 20] [--models snaive,stlf,arima_fourier,ets]
#                                  [--series REGEX] [--budget SECONDS] [--order name|size] [--out FILE]
# Writes one row per (series, column, origin, model) to FILE (default
# testdata/reference/parts/eval-h<h>-origins-r-<models>.csv). tools/reference/summarize_eval.py turns
# the per-origin files into testdata/reference/eval-h<h>.csv.
#
# --budget (seconds, default none): before starting a series, skip it if the
# CPU time (user + system) already spent by this process exceeds the budget
# (used for auto.arima; CPU rather than wall-clock time because the machine is
# shared and wall-clock time depends on the other load). Skipped series are listed on stderr and in the skip file next to FILE.
# --order size runs the series shortest first (so a budget covers as many as possible).

suppressPackageStartupMessages({
  library(stats)
  library(forecast)
})

# ---------------------------------------------------------------- arguments
opt <- list(h = 24L, K = 20L, models = "snaive,stlf,arima_fourier,ets", series = ".", budget = Inf, order = "name",
            out = NA_character_, traces = file.path("testdata", "traces"))
a <- commandArgs(trailingOnly = TRUE)
i <- 1
while (i <= length(a)) {
  key <- sub("^--", "", a[i]); val <- a[i + 1]
  if (!key %in% names(opt)) stop("unknown option ", a[i])
  opt[[key]] <- if (key %in% c("h", "K")) as.integer(val) else if (key == "budget") as.numeric(val) else val
  i <- i + 2
}
models <- strsplit(opt$models, ",")[[1]]
h <- opt$h; K <- opt$K
if (is.na(opt$out)) {
  opt$out <- file.path("testdata", "reference", "parts",
                       sprintf("eval-h%d-origins-r-%s.csv", h, gsub(",", "-", opt$models)))
}
dir.create(dirname(opt$out), showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------- protocol
# Read one CSV; return a list of regular-grid series, one per numeric column.
load_trace <- function(path) {
  d <- read.csv(path, check.names = FALSE, stringsAsFactors = FALSE)
  tsec <- as.numeric(as.POSIXct(d$timestamp, format = "%Y-%m-%dT%H:%M:%OS", tz = "UTC"))
  if (anyNA(tsec)) stop("unparsed timestamps in ", path)
  cols <- setdiff(names(d)[vapply(d, is.numeric, TRUE)], "timestamp")
  out <- list()
  for (col in cols) {
    v <- d[[col]]
    ok <- !is.na(v)
    # sort by time and average rows with the same timestamp
    agg <- tapply(v[ok], tsec[ok], mean)
    t <- as.numeric(names(agg)); v1 <- as.numeric(agg)
    dt <- diff(t)
    step <- median(dt[dt > 0])
    # nearest grid point (round half to even, as R's round()); average collisions
    idx <- round((t - t[1]) / step)
    agg2 <- tapply(v1, idx, mean)
    gi <- as.numeric(names(agg2))
    grid <- 0:max(gi)
    # linear interpolation; rule=2 carries the nearest value at the ends
    y <- approx(gi, as.numeric(agg2), xout = grid, rule = 2, ties = "ordered")$y
    span <- t[length(t)] - t[1]
    m <- if (step < 86400 && span >= 2 * 86400) round(86400 / step)
         else if (step == 86400 && span >= 14 * 86400) 7L else 1L
    out[[col]] <- list(column = col, y = y, step = step, m = as.integer(m),
                       ppd = 86400 / step, filled = length(grid) - length(gi))
  }
  out
}

origins_for <- function(n, m) {
  o_min <- max(floor(0.75 * n), 3 * m, 30)
  o_max <- n - h
  if (o_min > o_max) return(integer(0))
  # integer arithmetic, so R and Python give the same origins
  unique(o_min + (0:(K - 1) * (o_max - o_min)) %/% (K - 1))
}

# ---------------------------------------------------------------- models
# Each returns list(mean=, upper=) for h steps; upper = upper bound of the
# 90 % two-sided interval = 0.95 quantile.
fit_model <- function(model, train, m) {
  switch(model,
    snaive = {
      fc <- snaive(train, h = h, level = 90)
    },
    stlf = {
      if (m > 1) fc <- stlf(train, h = h, level = 90)
      else fc <- forecast(ets(train, model = "ZZN"), h = h, level = 90)  # m = 1: no season to remove
    },
    arima_fourier = {
      if (m > 1) {
        Kf <- min(5L, m %/% 2L)
        fit <- auto.arima(train, xreg = fourier(train, K = Kf), seasonal = FALSE)
        fc <- forecast(fit, xreg = fourier(train, K = Kf, h = h), level = 90)
      } else {
        fc <- forecast(auto.arima(train), h = h, level = 90)
      }
    },
    ets = {
      fc <- forecast(ets(train), h = h, level = 90)
    },
    stop("unknown model ", model))
  list(mean = as.numeric(fc$mean), upper = as.numeric(fc$upper[, 1]), method = fc$method)
}

# ---------------------------------------------------------------- main loop
files <- sort(list.files(opt$traces, pattern = "\\.csv$", full.names = TRUE))
files <- files[grepl(opt$series, basename(files))]
rows <- list()
skipped <- character(0)
t_start <- Sys.time()
con_header <- TRUE
flush_rows <- function() {
  if (length(rows) == 0) return(invisible())
  df <- do.call(rbind, rows)
  write.table(df, opt$out, sep = ",", row.names = FALSE, col.names = con_header, append = !con_header,
              quote = FALSE)
  con_header <<- FALSE
  rows <<- list()
}
if (file.exists(opt$out)) file.remove(opt$out)

all_series <- list()
for (f in files) {
  series <- sub("\\.csv$", "", basename(f))
  for (s in load_trace(f)) { s$series <- series; all_series[[length(all_series) + 1]] <- s }
}
if (opt$order == "size") all_series <- all_series[order(vapply(all_series, function(s) length(s$y), 1))]

for (s in all_series) {
  series <- s$series
  n <- length(s$y); m <- s$m
  pt <- proc.time()
  if (pt[["user.self"]] + pt[["sys.self"]] > opt$budget) {
    skipped <- c(skipped, paste(series, s$column, sep = ":"))
    message("skip (budget) ", series, " ", s$column)
    next
  }
  cap <- as.integer(round(8 * 7 * s$ppd))
  orig <- origins_for(n, m)
  message(sprintf("%s %s n=%d step=%g m=%d origins=%d cap=%d filled=%d", series, s$column, n, s$step, m,
                  length(orig), cap, s$filled))
  for (o in orig) {
    lo <- max(1L, o - cap + 1L)
    train <- ts(s$y[lo:o], frequency = m)
    test <- s$y[(o + 1):(o + h)]
    scale <- mean(abs(diff(as.numeric(train), lag = m)))
    for (model in models) {
      p0 <- proc.time()
      res <- tryCatch(suppressWarnings(fit_model(model, train, m)), error = function(e) e)
      p1 <- proc.time() - p0
      el <- p1[["elapsed"]]; cpu <- p1[["user.self"]] + p1[["sys.self"]]
      if (inherits(res, "error")) {
        message("  ", model, " failed at origin ", o, ": ", conditionMessage(res))
        rows[[length(rows) + 1]] <- data.frame(series = series, column = s$column, n = n, step_seconds = s$step,
          m = m, origin = o, train_len = length(train), model = model, mae = NA, scale = scale, smape = NA,
          covered = NA, fit_seconds = el, cpu_seconds = cpu, method = "error")
        next
      }
      f_ <- res$mean; u <- res$upper
      den <- abs(test) + abs(f_)
      sm <- ifelse(den == 0, 0, 200 * abs(test - f_) / den)
      rows[[length(rows) + 1]] <- data.frame(series = series, column = s$column, n = n, step_seconds = s$step,
        m = m, origin = o, train_len = length(train), model = model,
        mae = sprintf("%.10g", mean(abs(test - f_))), scale = sprintf("%.10g", scale),
        smape = sprintf("%.10g", mean(sm)), covered = sum(test <= u), fit_seconds = sprintf("%.4f", el), cpu_seconds = sprintf("%.4f", cpu),
        method = gsub(",", ";", res$method))
    }
  }
  flush_rows()
}
flush_rows()
skipfile <- sub("\\.csv$", "-skipped.txt", opt$out)
writeLines(skipped, skipfile)
message("done in ", format(difftime(Sys.time(), t_start, units = "mins")), "; skipped: ", length(skipped))
