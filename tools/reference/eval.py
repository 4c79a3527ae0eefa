#!/usr/bin/python3
"""Rolling-origin reference evaluation of statsmodels' Holt-Winters on the traces
in testdata/traces, on the same protocol as tools/reference/eval.R and
`headroom eval` (see testdata/reference/README.md, "Evaluation protocol").
Calls Debian's python3-statsmodels (run it with /usr/bin/python3); no
statsmodels code is copied into the project.

Usage (from the repository root):
    /usr/bin/python3 tools/reference/eval.py [--h 24] [--K 20] [--series REGEX] [--out FILE]

Writes one row per (series, column, origin, model) for two models:
  statsmodels_hw  ExponentialSmoothing(trend='add', damped_trend=True, seasonal='add',
                  seasonal_periods=m).fit()  (seasonal=None when m = 1)
  snaive_py       the seasonal naive baseline recomputed here, only to check that
                  this script's preprocessing and origins match eval.R's
The 0.95 upper bound of statsmodels_hw is the 0.95 quantile, per step, of
res.simulate(h, repetitions=1000, anchor='end', error='add', random_state=seed):
normal errors with sigma = sqrt(SSE / (n - number of fitted parameters)).
"""
import argparse
import os
import re
import sys
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing


def load_trace(path):
    d = pd.read_csv(path)
    tsec = pd.to_datetime(d["timestamp"], utc=True).astype("int64").to_numpy() / 1e9
    out = []
    for col in d.columns:
        if col == "timestamp" or not pd.api.types.is_numeric_dtype(d[col]):
            continue
        v = d[col].to_numpy(dtype=float)
        ok = ~np.isnan(v)
        # sort by time, average rows with the same timestamp
        g = pd.Series(v[ok]).groupby(tsec[ok]).mean()
        t = g.index.to_numpy(dtype=float)
        v1 = g.to_numpy(dtype=float)
        dt = np.diff(t)
        step = float(np.median(dt[dt > 0]))
        # nearest grid point (numpy rounds half to even, like R); average collisions
        idx = np.round((t - t[0]) / step)
        g2 = pd.Series(v1).groupby(idx).mean()
        gi = g2.index.to_numpy(dtype=float)
        grid = np.arange(0, gi.max() + 1)
        # linear interpolation; np.interp carries the end values outside the data
        y = np.interp(grid, gi, g2.to_numpy(dtype=float))
        span = t[-1] - t[0]
        if step < 86400 and span >= 2 * 86400:
            m = int(round(86400 / step))
        elif step == 86400 and span >= 14 * 86400:
            m = 7
        else:
            m = 1
        out.append(dict(column=col, y=y, step=step, m=m, ppd=86400 / step, filled=len(grid) - len(gi)))
    return out


def origins_for(n, m, h, K):
    o_min = max(int(np.floor(0.75 * n)), 3 * m, 30)
    o_max = n - h
    if o_min > o_max:
        return []
    seen = []
    for k in range(K):
        o = o_min + (k * (o_max - o_min)) // (K - 1)
        if o not in seen:
            seen.append(o)
    return seen


def fit_hw(train, m, h, seed):
    if m > 1:
        mod = ExponentialSmoothing(train, trend="add", damped_trend=True, seasonal="add", seasonal_periods=m)
    else:
        mod = ExponentialSmoothing(train, trend="add", damped_trend=True, seasonal=None)
    res = mod.fit()
    mean = np.asarray(res.forecast(h), dtype=float)
    sims = np.asarray(res.simulate(h, repetitions=1000, anchor="end", error="add", random_state=seed))
    upper = np.quantile(sims, 0.95, axis=1)
    return mean, upper


def fit_snaive(train, m, h):
    last = train[-m:]
    mean = np.array([last[i % m] for i in range(h)])
    return mean, np.full(h, np.nan)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h", type=int, default=24)
    ap.add_argument("--K", type=int, default=20)
    ap.add_argument("--series", default=".")
    ap.add_argument("--traces", default=os.path.join("testdata", "traces"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    h, K = a.h, a.K
    out = a.out or os.path.join("testdata", "reference", "parts", "eval-h%d-origins-py-statsmodels_hw.csv" % h)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    warnings.simplefilter("ignore")
    files = sorted(f for f in os.listdir(a.traces) if f.endswith(".csv") and re.search(a.series, f))
    t_start = time.time()
    with open(out, "w") as fo:
        fo.write("series,column,n,step_seconds,m,origin,train_len,model,mae,scale,smape,covered,fit_seconds,cpu_seconds,method\n")
        for f in files:
            series = f[:-4]
            for s in load_trace(os.path.join(a.traces, f)):
                y, m = s["y"], s["m"]
                n = len(y)
                cap = int(round(8 * 7 * s["ppd"]))
                orig = origins_for(n, m, h, K)
                print("%s %s n=%d step=%g m=%d origins=%d cap=%d filled=%d" % (
                    series, s["column"], n, s["step"], m, len(orig), cap, s["filled"]), file=sys.stderr, flush=True)
                for o in orig:
                    lo = max(0, o - cap)
                    train = y[lo:o]
                    test = y[o:o + h]
                    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
                    for model in ("snaive_py", "statsmodels_hw"):
                        t0 = time.perf_counter()
                        c0 = time.process_time()
                        try:
                            if model == "snaive_py":
                                fc, up = fit_snaive(train, m, h)
                            else:
                                fc, up = fit_hw(train, m, h, seed=o)
                            method = model
                        except Exception as e:  # record and go on
                            print("  %s failed at origin %d: %s" % (model, o, e), file=sys.stderr)
                            fo.write("%s,%s,%d,%g,%d,%d,%d,%s,NA,%.10g,NA,NA,%.4f,%.4f,error\n" % (
                                series, s["column"], n, s["step"], m, o, len(train), model, scale,
                                time.perf_counter() - t0, time.process_time() - c0))
                            continue
                        el = time.perf_counter() - t0
                        cpu = time.process_time() - c0
                        den = np.abs(test) + np.abs(fc)
                        with np.errstate(divide="ignore", invalid="ignore"):
                            sm = np.where(den == 0, 0.0, 200 * np.abs(test - fc) / den)
                        covered = "NA" if np.isnan(up).all() else str(int(np.sum(test <= up)))
                        fo.write("%s,%s,%d,%g,%d,%d,%d,%s,%.10g,%.10g,%.10g,%s,%.4f,%.4f,%s\n" % (
                            series, s["column"], n, s["step"], m, o, len(train), model,
                            np.mean(np.abs(test - fc)), scale, np.mean(sm), covered, el, cpu, method))
                fo.flush()
    print("done in %.1f min (statsmodels %s)" % ((time.time() - t_start) / 60, statsmodels.__version__),
          file=sys.stderr)


if __name__ == "__main__":
    main()
