#!/usr/bin/python3
"""Turn the per-origin files written by eval.R and eval.py
(testdata/reference/parts/eval-h<h>-origins-*.csv) into
testdata/reference/eval-h<h>.csv and print a Markdown summary.

    /usr/bin/python3 tools/reference/summarize_eval.py [--h 24]

Definitions (per series = one (file, column) pair):
  MASE      mean over origins of MAE(origin) / scale(origin), where scale is the
            mean |y_t - y_{t-m}| over the training window used for fitting
            (m = 1 -> lag 1). Origins with scale 0 are left out.
  rel_mase  MASE(model) / MASE(snaive) on the same series (snaive from eval.R),
            both over the origins where the model produced a forecast (a failed
            fit is recorded as an error, counted in `failed`, and left out).
  smape     mean over all test points of 200*|y-f|/(|y|+|f|) (0 when both are 0).
  coverage95 share of test points with y <= the model's 0.95 upper bound.
  fit_seconds / cpu_seconds  mean wall-clock / CPU seconds per origin (fit + forecast).
Summary: geometric mean over series of rel_mase; pooled coverage over all test
points; mean over series of fit_seconds.
"""
import argparse
import glob
import math
import os
import sys

import numpy as np
import pandas as pd

REF = os.path.join("testdata", "reference")
ORDER = ["snaive", "stlf", "arima_fourier", "ets", "statsmodels_hw"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h", type=int, default=24)
    a = ap.parse_args()
    h = a.h
    files = sorted(glob.glob(os.path.join(REF, "parts", "eval-h%d-origins-*.csv" % h)))
    d = pd.concat([pd.read_csv(f, na_values=["NA"]) for f in files], ignore_index=True)
    key = ["series", "column"]

    # preprocessing cross-check: eval.py's own seasonal naive against eval.R's
    sn_r = d[d.model == "snaive"].set_index(key + ["origin"])
    sn_p = d[d.model == "snaive_py"].set_index(key + ["origin"])
    j = sn_r.join(sn_p, rsuffix="_py", how="inner")
    check = {
        "pairs": len(j),
        "r_only": len(sn_r) - len(j),
        "py_only": len(sn_p) - len(j),
        "max_rel_diff_mae": float(np.nanmax(np.abs(j.mae - j.mae_py) / np.maximum(np.abs(j.mae), 1e-300))) if len(j) else float("nan"),
        "max_rel_diff_scale": float(np.nanmax(np.abs(j.scale - j.scale_py) / np.maximum(np.abs(j.scale), 1e-300))) if len(j) else float("nan"),
    }
    d = d[d.model != "snaive_py"].copy()

    d["ratio"] = np.where(d.scale > 0, d.mae / d.scale, np.nan)
    # snaive's MAE/scale at each origin, so a model that failed at some origins is
    # compared with snaive on the origins where it did produce a forecast
    sn_ratio = d[d.model == "snaive"].set_index(key + ["origin"]).ratio
    d["sn_ratio"] = [sn_ratio.get((a_, b_, o_), np.nan) for a_, b_, o_ in zip(d.series, d.column, d.origin)]
    rows = []
    for (series, column, model), g in d.groupby(key + ["model"], sort=False):
        ok = g[g.method != "error"]
        rows.append(dict(
            series=series, column=column, n=int(g.n.iloc[0]), step_seconds=g.step_seconds.iloc[0],
            m=int(g.m.iloc[0]), model=model,
            mase=ok.ratio.mean(), snaive_mase_same_origins=ok.sn_ratio.mean(), smape=ok.smape.mean(),
            coverage95=ok.covered.sum() / (h * len(ok)) if len(ok) and ok.covered.notna().all() else np.nan,
            fit_seconds=g.fit_seconds.mean(), cpu_seconds=g.cpu_seconds.mean(),
            origins=len(g), failed=int((g.method == "error").sum()),
            covered_points=ok.covered.sum(), test_points=h * len(ok),
            method=ok.method.value_counts().index[0] if len(ok) else "error"))
    r = pd.DataFrame(rows)
    r["rel_mase"] = r.mase / r.snaive_mase_same_origins
    r["model"] = pd.Categorical(r.model, ORDER, ordered=True)
    r = r.sort_values(key + ["model"])
    cols = ["series", "column", "n", "step_seconds", "m", "model", "mase", "rel_mase", "smape", "coverage95",
            "fit_seconds", "cpu_seconds", "origins", "failed", "method"]
    out = os.path.join(REF, "eval-h%d.csv" % h)
    r[cols].to_csv(out, index=False, float_format="%.6g")
    print("wrote", out, file=sys.stderr)

    # ---- summary
    def gmean(v):
        v = np.asarray([x for x in v if x > 0 and np.isfinite(x)])
        return float(np.exp(np.mean(np.log(v)))) if len(v) else float("nan")

    nseries = r[key].drop_duplicates().shape[0]
    ar = r[(r.model == "arima_fourier") & r.mase.notna()]
    full = set(map(tuple, ar[key].values))
    print("| model | series with results | geomean rel. MASE | geomean rel. MASE on the %d series with auto.arima "
          "results | pooled coverage of 0.95 upper bound | mean fit s / origin (wall) | mean CPU s / origin | "
          "mean CPU s / origin on the %d series | failed fits |" % (len(full), len(full)))
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for model in ORDER:
        g = r[r.model == model]
        if g.empty:
            continue
        gs = g[[tuple(x) in full for x in g[key].values]]
        ok = g[g.test_points > 0]
        cov = ok.covered_points.sum() / ok.test_points.sum() if ok.coverage95.notna().all() else float("nan")
        print("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %d |" % (
            model, int(g.mase.notna().sum()), gmean(g.rel_mase), gmean(gs.rel_mase), cov, g.fit_seconds.mean(),
            g.cpu_seconds.mean(), gs.cpu_seconds.mean(), int(g.failed.sum())))
    print()
    print("series: %d; failed fits: %s" % (nseries, dict(r.groupby("model", observed=True).failed.sum())))
    allkeys = set(map(tuple, r[key].drop_duplicates().values))
    for model in ORDER:
        have = set(map(tuple, r[r.model == model][key].values))
        if have != allkeys:
            print("%s not run on: %s" % (model, ", ".join(sorted("%s:%s" % k for k in allkeys - have))))
    print("snaive cross-check (eval.py vs eval.R, per origin): %s" % check)
    print()
    models = [m_ for m_ in ORDER if m_ in set(r.model.astype(str))]
    print("| series:column | m | snaive MASE | " + " | ".join("%s rel. MASE" % m_ for m_ in models[1:]) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in models[1:]) + " |")
    for (series, column), g in r.groupby(key, sort=True):
        g = g.set_index("model")
        cells = []
        for m_ in models[1:]:
            v = g.rel_mase.get(m_, np.nan) if m_ in g.index else np.nan
            f_ = int(g.failed.get(m_, 0)) if m_ in g.index else 0
            cells.append(("%.3f" % v if np.isfinite(v) else ("failed" if m_ in g.index else "skipped"))
                         + (" (%d failed)" % f_ if 0 < f_ < g.origins.get(m_, 0) else ""))
        short = series.replace("nab-realAWSCloudwatch-", "").replace("nab-realKnownCause-", "").replace(
            "nab-realTweets-", "")
        print("| %s:%s | %d | %.4g | %s |" % (short, column, int(g.m.iloc[0]), g.mase.get("snaive"), " | ".join(cells)))


if __name__ == "__main__":
    main()
