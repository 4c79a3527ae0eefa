#!/usr/bin/env Rscript
# Known-answer reference files for headroom's Go unit tests, produced by calling
# R's stats and forecast packages (Debian r-base-core / r-cran-forecast).
# No R code is copied into the project: this script only calls the packages and
# writes their results.
#
# Run from the repository root:
#   Rscript tools/reference/known_answers.R
# Writes into testdata/reference/ (see testdata/reference/README.md).
# The statsmodels part is tools/reference/known_answers.py (run it after this
# script: it reads testdata/reference/co2.csv written here).

suppressPackageStartupMessages({
  library(stats)
  library(forecast)
  library(jsonlite)
})

out_dir <- file.path("testdata", "reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# Full double precision in every file.
num <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))

write_num_csv <- function(df, name) {
  for (col in names(df)) if (is.numeric(df[[col]]) && !is.integer(df[[col]])) df[[col]] <- num(df[[col]])
  write.csv(df, file.path(out_dir, name), row.names = FALSE, quote = FALSE)
  cat("wrote", name, "\n")
}

write_json_file <- function(obj, name) {
  writeLines(toJSON(obj, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
             file.path(out_dir, name))
  cat("wrote", name, "\n")
}

versions <- list(
  R = R.version.string,
  stats = as.character(packageVersion("stats")),
  forecast = as.character(packageVersion("forecast")),
  jsonlite = as.character(packageVersion("jsonlite"))
)

# ---------------------------------------------------------------------------
# (a) STL
# ---------------------------------------------------------------------------
stl_case <- function(x, label, s.window, robust) {
  fit <- stl(x, s.window = s.window, robust = robust)
  ts3 <- fit$time.series
  df <- data.frame(i = seq_along(x), x = as.numeric(x),
                   seasonal = as.numeric(ts3[, "seasonal"]),
                   trend = as.numeric(ts3[, "trend"]),
                   remainder = as.numeric(ts3[, "remainder"]),
                   weights = as.numeric(fit$weights))
  sw_tag <- if (identical(s.window, "periodic")) "periodic" else paste0("s", s.window)
  fname <- sprintf("stl_%s_%s_%s.csv", label, sw_tag, if (robust) "robust" else "nonrobust")
  write_num_csv(df, fname)
  list(file = fname,
       call = sprintf("stats::stl(x, s.window=%s, robust=%s)",
                      if (is.character(s.window)) sprintf("\"%s\"", s.window) else s.window,
                      if (robust) "TRUE" else "FALSE"),
       n = length(x), frequency = frequency(x),
       win = as.list(fit$win), deg = as.list(fit$deg), jump = as.list(fit$jump),
       inner = fit$inner, outer = fit$outer)
}

data(nottem)
g <- read.csv(file.path("testdata", "traces",
                        "dctraces-google2019-instance_usage_grouped_300_seconds_month.csv"))
g <- g[order(g$timestamp), ]
gcpu <- ts(g$cpu_normalized[1:2016], frequency = 288)  # first 7 days, 300-s steps

stl_meta <- list()
for (case in list(list(x = nottem, label = "nottem"), list(x = gcpu, label = "google2019cpu7d"))) {
  stl_meta[[length(stl_meta) + 1]] <- stl_case(case$x, case$label, "periodic", TRUE)
  stl_meta[[length(stl_meta) + 1]] <- stl_case(case$x, case$label, 7, FALSE)
}
write_json_file(list(versions = versions,
                     note = paste("Parameters read back from the returned stl object ($win, $deg, $jump,",
                                  "$inner, $outer). For s.window='periodic' R sets the seasonal window to",
                                  "10*n+1 and the seasonal degree to 0. CSV columns: i (1-based), x (input),",
                                  "seasonal, trend, remainder, weights (robustness weights; all 1 when robust=FALSE)."),
                     inputs = list(
                       nottem = "R datasets::nottem, monthly 1920-1939, frequency 12, 240 points",
                       google2019cpu7d = paste("testdata/traces/dctraces-google2019-instance_usage_grouped_300_seconds_month.csv,",
                                               "column cpu_normalized, first 2016 rows (7 days of 300-s steps), ts(frequency=288)")),
                     cases = stl_meta), "stl_params.json")

# ---------------------------------------------------------------------------
# (b) Holt-Winters on co2
# ---------------------------------------------------------------------------
data(co2)
co2_df <- data.frame(i = seq_along(co2), time = as.numeric(time(co2)), co2 = as.numeric(co2))
write_num_csv(co2_df, "co2.csv")

hw <- HoltWinters(co2)
hw_pred <- predict(hw, n.ahead = 24)
hw_fit <- hw$fitted  # xhat, level, trend, season
write_num_csv(data.frame(i = (length(co2) - nrow(hw_fit) + 1):length(co2),
                         xhat = as.numeric(hw_fit[, "xhat"]), level = as.numeric(hw_fit[, "level"]),
                         trend = as.numeric(hw_fit[, "trend"]), season = as.numeric(hw_fit[, "season"])),
              "holtwinters_co2_fitted.csv")

ets_fit <- ets(co2, model = "AAA", damped = TRUE)
ets_fc <- forecast(ets_fit, h = 24)

write_num_csv(data.frame(h = 1:24,
                         holtwinters_predict = as.numeric(hw_pred),
                         ets_AAdA_mean = as.numeric(ets_fc$mean)),
              "holtwinters_co2_forecast.csv")

coefs <- function(v) { l <- as.list(as.numeric(v)); names(l) <- names(v); l }
write_json_file(list(
  versions = versions,
  data = "R datasets::co2 (monthly 1959-1997, frequency 12, 468 points), also written to co2.csv",
  holtwinters = list(
    call = "stats::HoltWinters(co2)  # additive, alpha/beta/gamma by optim (L-BFGS-B) from start values 0.3/0.1/0.1",
    alpha = unname(hw$alpha), beta = unname(hw$beta), gamma = unname(hw$gamma),
    SSE = hw$SSE, seasonal = hw$seasonal,
    coefficients = coefs(coef(hw)),
    fitted_from_index = length(co2) - nrow(hw_fit) + 1,
    forecast = "predict(fit, n.ahead=24) -> holtwinters_co2_forecast.csv column holtwinters_predict",
    fitted = "fit$fitted -> holtwinters_co2_fitted.csv"),
  ets = list(
    call = "forecast::ets(co2, model=\"AAA\", damped=TRUE); forecast(fit, h=24)$mean",
    method = ets_fit$method,
    par = coefs(ets_fit$par),
    initial_states = coefs(ets_fit$initstate),
    sigma2 = ets_fit$sigma2, loglik = ets_fit$loglik, aic = ets_fit$aic, aicc = ets_fit$aicc, bic = ets_fit$bic,
    mse = ets_fit$mse, amse = ets_fit$amse,
    SSE = sum(residuals(ets_fit)^2),
    final_states = coefs(ets_fit$states[nrow(ets_fit$states), ]),
    forecast = "holtwinters_co2_forecast.csv column ets_AAdA_mean")
), "holtwinters_co2.json")

# ---------------------------------------------------------------------------
# (c) Simple exponential smoothing, alpha fixed at 0.3, initial level = x[1]
# ---------------------------------------------------------------------------
ses_x <- c(12, 15, 14, 18, 21, 19, 17, 22, 25, 24, 20, 23, 27, 26, 30, 28, 31, 29, 33, 35)
ses_fit <- HoltWinters(ts(ses_x), alpha = 0.3, beta = FALSE, gamma = FALSE, l.start = ses_x[1])
ses_pred <- predict(ses_fit, n.ahead = 5)
# xhat[t] is the one-step-ahead forecast of x[t] made at t-1 (t = 2..n); level[t-1] = xhat[t].
ses_xhat <- c(NA, as.numeric(ses_fit$fitted[, "xhat"]))
# Independent check of the recursion l_t = alpha*x_t + (1-alpha)*l_{t-1}, l_1 = x_1.
l <- numeric(length(ses_x)); l[1] <- ses_x[1]
for (t in 2:length(ses_x)) l[t] <- 0.3 * ses_x[t] + 0.7 * l[t - 1]
stopifnot(max(abs(ses_xhat[-1] - l[-length(l)])) < 1e-12, abs(as.numeric(ses_pred)[1] - l[length(l)]) < 1e-12)
write_num_csv(data.frame(t = seq_along(ses_x), x = ses_x, one_step_forecast = ses_xhat, level = l), "ses_alpha03.csv")
write_json_file(list(
  versions = versions,
  call = "stats::HoltWinters(ts(x), alpha=0.3, beta=FALSE, gamma=FALSE, l.start=x[1]); predict(fit, n.ahead=5)",
  x = ses_x, alpha = 0.3, l_start = ses_x[1],
  SSE = ses_fit$SSE,
  final_level = unname(coef(ses_fit)["a"]),
  forecast = as.numeric(ses_pred),
  note = paste("one_step_forecast[t] = level[t-1] for t>=2 (t=1 has none); SSE = sum over t=2..n of",
               "(x[t]-one_step_forecast[t])^2; every forecast step equals the final level.")
), "ses_alpha03.json")

# ---------------------------------------------------------------------------
# (d) Linear regression on trend + Fourier terms
# ---------------------------------------------------------------------------
m <- 12; K <- 2; n <- 48; hf <- 10
tt <- 1:n
# Deterministic: trend + two harmonics + a fixed pseudo-noise pattern ((7t mod 11) - 5)/5 * 0.3.
fx <- 10 + 0.5 * tt + 3 * sin(2 * pi * tt / m) + 1.5 * cos(4 * pi * tt / m) + 0.3 * (((7 * tt) %% 11) - 5) / 5
fy <- ts(fx, frequency = m)
X <- fourier(fy, K = K)
Xf <- fourier(fy, K = K, h = hf)
trend <- tt
lmfit <- lm(fx ~ trend + X)
newd <- list(trend = n + 1:hf, X = Xf)
lm_fc <- predict(lmfit, newdata = newd)
# cross-check with forecast::tslm
tsfit <- tslm(fy ~ trend + fourier(fy, K = K))
stopifnot(max(abs(coef(tsfit) - coef(lmfit))) < 1e-9)
write_num_csv(cbind(data.frame(t = tt, x = fx), as.data.frame(unclass(X))), "fourier_lm_input.csv")
write_num_csv(cbind(data.frame(h = 1:hf, t = n + 1:hf, forecast = as.numeric(lm_fc)), as.data.frame(unclass(Xf))),
              "fourier_lm_forecast.csv")
cf <- coef(lmfit); names(cf) <- sub("^X", "", names(cf))
write_json_file(list(
  versions = versions,
  call = "X <- forecast::fourier(ts(x, frequency=12), K=2); trend <- 1:48; fit <- lm(x ~ trend + X); predict(fit, newdata=list(trend=49:58, X=forecast::fourier(ts(x, frequency=12), K=2, h=10)))",
  series = "x[t] = 10 + 0.5 t + 3 sin(2 pi t/12) + 1.5 cos(4 pi t/12) + 0.3 * (((7 t) mod 11) - 5)/5, t = 1..48",
  fourier_columns = paste("S<k>-12 = sin(2 pi k t/12), C<k>-12 = cos(2 pi k t/12) with t = 1..n in the sample and",
                          "n+1..n+h in the forecast (forecast::fourier conventions, columns S1,C1,S2,C2)"),
  coefficients = coefs(cf),
  sigma = summary(lmfit)$sigma, r_squared = summary(lmfit)$r.squared,
  forecast = as.numeric(lm_fc),
  files = c("fourier_lm_input.csv", "fourier_lm_forecast.csv")
), "fourier_lm.json")

# ---------------------------------------------------------------------------
# (e) accuracy() with a seasonal naive forecast: MASE / sMAPE definitions
# ---------------------------------------------------------------------------
acc_train <- ts(c(10, 14, 8, 12, 11, 16, 9, 13, 13, 17, 10, 15), frequency = 4)
acc_test <- ts(c(14, 18, 11, 14), frequency = 4, start = c(4, 1))
sn <- snaive(acc_train, h = 4)
acc <- accuracy(sn, acc_test)
f <- as.numeric(sn$mean); y <- as.numeric(acc_test)
scale_m <- mean(abs(diff(as.numeric(acc_train), lag = 4)))
smape_def <- mean(ifelse(abs(y) + abs(f) == 0, 0, 200 * abs(y - f) / (abs(y) + abs(f))))
stopifnot(abs(acc["Test set", "MASE"] - mean(abs(y - f)) / scale_m) < 1e-12)
acc_rows <- lapply(rownames(acc), function(r) { v <- as.list(acc[r, ]); v[is.na(unlist(v))] <- NA; v })
names(acc_rows) <- rownames(acc)
write_json_file(list(
  versions = versions,
  call = "fc <- forecast::snaive(train, h=4); forecast::accuracy(fc, test)",
  train = as.numeric(acc_train), test = y, frequency = 4,
  snaive_forecast = f,
  accuracy = acc_rows,
  mase_scale = scale_m,
  mase_scale_definition = "mean(abs(diff(train, lag=frequency))) over the training set (in-sample seasonal naive MAE)",
  test_mae = mean(abs(y - f)),
  smape = smape_def,
  smape_definition = paste("mean over test points of 200*|y-f|/(|y|+|f|) (0 when both are 0), computed in this script:",
                           "forecast 8.20's accuracy() does not report sMAPE"),
  mape_definition = "accuracy()'s MAPE = mean(100*|y-f|/|y|)"
), "accuracy_snaive.json")

cat("done\n")
