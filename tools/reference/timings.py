#!/usr/bin/python3
"""Timing of statsmodels Holt-Winters (additive damped trend, additive season,
m = 288) on one 4,032-point trace, 5 repeats; writes
testdata/reference/timings_statsmodels_hw.json. Called by tools/reference/timings.sh."""
import json, os, sys, time, warnings
import numpy as np, pandas as pd, statsmodels
from statsmodels.tsa.holtwinters import ExponentialSmoothing

warnings.simplefilter("ignore")
d = pd.read_csv(os.path.join("testdata", "traces", "nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv"))
y = d.sort_values("timestamp")["cpu_percent"].to_numpy(dtype=float)
assert len(y) == 4032
reps = []
for _ in range(5):
    t0, c0 = time.perf_counter(), time.process_time()
    res = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=288).fit()
    fc = res.forecast(24)
    reps.append(dict(elapsed=time.perf_counter() - t0, cpu=time.process_time() - c0))
el = [r["elapsed"] for r in reps]
out = dict(call=("ExponentialSmoothing(y, trend='add', damped_trend=True, seasonal='add', seasonal_periods=288)"
                 ".fit(); res.forecast(24)  # timed together, 5 repeats, time.perf_counter / time.process_time"),
           series="testdata/traces/nab-realAWSCloudwatch-ec2_cpu_utilization_5f5533.csv (4032 points, 300-s steps)",
           python=sys.version.split()[0], statsmodels=statsmodels.__version__, numpy=np.__version__,
           repeats=reps, elapsed_median=float(np.median(el)), elapsed_min=min(el), elapsed_mean=float(np.mean(el)),
           sse=float(res.sse), forecast=[float(v) for v in fc])
with open(os.path.join("testdata", "reference", "timings_statsmodels_hw.json"), "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
print("statsmodels HW elapsed:", el)
