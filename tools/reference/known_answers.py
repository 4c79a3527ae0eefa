#!/usr/bin/python3
"""statsmodels known answers for headroom's Go unit tests.

Calls Debian's python3-statsmodels (run with /usr/bin/python3, not a pyenv
python) on the co2 series written by tools/reference/known_answers.R and
writes testdata/reference/statsmodels_hw_co2.json and the forecast column into
testdata/reference/statsmodels_hw_co2_forecast.csv. No statsmodels code is
copied into the project.

Run from the repository root, after known_answers.R:
    /usr/bin/python3 tools/reference/known_answers.py
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import scipy
import statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing

OUT = os.path.join("testdata", "reference")


def main():
    co2 = pd.read_csv(os.path.join(OUT, "co2.csv"))["co2"].to_numpy(dtype=float)
    model = ExponentialSmoothing(co2, trend="add", damped_trend=True, seasonal="add", seasonal_periods=12)
    res = model.fit()
    fc = res.forecast(24)
    p = res.params
    params = {
        "smoothing_level": float(p["smoothing_level"]),
        "smoothing_trend": float(p["smoothing_trend"]),
        "smoothing_seasonal": float(p["smoothing_seasonal"]),
        "damping_trend": float(p["damping_trend"]),
        "initial_level": float(p["initial_level"]),
        "initial_trend": float(p["initial_trend"]),
        "initial_seasons": [float(v) for v in np.asarray(p["initial_seasons"])],
        "use_boxcox": bool(p["use_boxcox"]),
        "remove_bias": bool(p["remove_bias"]),
    }
    out = {
        "versions": {
            "python": sys.version.split()[0],
            "statsmodels": statsmodels.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
        },
        "data": "testdata/reference/co2.csv column co2 (R datasets::co2, 468 monthly points), as a plain numpy array",
        "call": ("statsmodels.tsa.holtwinters.ExponentialSmoothing(y, trend='add', damped_trend=True, "
                 "seasonal='add', seasonal_periods=12).fit(); res.forecast(24)"),
        "initialization_method": model._initialization_method,
        "fit_defaults": "fit() with no arguments: optimized=True, use_brute=True, method=None (L-BFGS-B), remove_bias=False",
        "params": params,
        "SSE": float(res.sse),
        "aic": float(res.aic),
        "bic": float(res.bic),
        "aicc": float(res.aicc),
        "forecast": [float(v) for v in fc],
        "note": ("initial_seasons[j] is the seasonal state for position j of the first season (statsmodels "
                 "ordering, oldest first); SSE = sum of squared one-step-ahead residuals over all 468 points."),
    }
    with open(os.path.join(OUT, "statsmodels_hw_co2.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "statsmodels_hw_co2_forecast.csv"), "w") as f:
        f.write("h,statsmodels_AAdA_forecast\n")
        for i, v in enumerate(fc, 1):
            f.write("%d,%.17g\n" % (i, v))
    print("wrote statsmodels_hw_co2.json statsmodels_hw_co2_forecast.csv")


if __name__ == "__main__":
    main()
