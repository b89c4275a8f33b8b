#!/usr/bin/env python3
"""Planning a queue of jobs: greenai's planner against CATS (climate-aware-task-scheduler 1.2.1),
the same jobs on the same forecast, in the same run.

Each job has an earliest start, a duration and a deadline (it must have finished by then). CATS
takes a latest start (`end_constraint`), so it is given `deadline - duration`. Both tools' choices
are then scored under both ways of reading a forecast: greenai's step reading (a value holds until
the next one) and CATS's linear one (points joined by straight lines). Timing: the whole queue
planned REPEATS times, one core each (taskset), medians.

usage: bench_plan.py GREENAI_BENCH_BINARY FORECAST.csv JOBS REPEATS
"""
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from cats.forecast import PointEstimate, WindowedForecast


def load(csv):
    pts = []
    with open(csv) as f:
        next(f)
        for line in f:
            t, v = line.strip().split(",")[:2]
            pts.append((datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp(), float(v)))
    return pts


def jobs_for(pts, n, seed=7):
    rng = random.Random(seed)
    t0 = pts[0][0]
    jobs = []
    for _ in range(n):
        earliest = t0 + rng.randrange(0, 96 * 60) * 60.0
        duration = rng.randrange(30, 12 * 60) * 60.0
        slack = rng.randrange(0, 48 * 60) * 60.0
        jobs.append({"earliest": earliest, "duration_s": duration, "deadline": earliest + duration + slack})
    return jobs


def step_mean(pts, a, b):
    """Mean intensity over [a, b) reading the forecast as steps (exact per step)."""
    total = 0.0
    for i, (t, v) in enumerate(pts):
        t1 = pts[i + 1][0] if i + 1 < len(pts) else t + 3600
        lo, hi = max(a, t), min(b, t1)
        if hi > lo:
            total += v * (hi - lo)
    return total / (b - a)


def linear_mean(pts, a, b, n=400):
    """Mean intensity over [a, b) reading the forecast as straight lines between points."""
    import numpy as np
    ts = np.array([p[0] for p in pts])
    vs = np.array([p[1] for p in pts])
    x = np.linspace(a, b, n + 1)
    y = np.interp(x, ts, vs)
    return float(np.trapezoid(y, x) / (b - a)) if hasattr(np, "trapezoid") else float(np.trapz(y, x) / (b - a))


def cats_plan(data, job):
    start = datetime.fromtimestamp(job["earliest"], timezone.utc)
    latest = datetime.fromtimestamp(job["deadline"] - job["duration_s"], timezone.utc)
    wf = WindowedForecast(data, int(round(job["duration_s"] / 60)), start, end_constraint=latest)
    if len(wf) == 0:
        # No window starts strictly before the latest start (no slack): CATS has no answer; the
        # job runs at its earliest start.
        return None
    return min(wf).start.timestamp()


def main():
    binary, csv, n, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    pts = load(csv)
    jobs = jobs_for(pts, n)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(jobs, f)
        jobs_path = f.name
    g = json.loads(subprocess.run(["taskset", "-c", "0", binary, csv, jobs_path, str(repeats)],
                                  check=True, capture_output=True, text=True).stdout)
    data = [PointEstimate(value=v, datetime=datetime.fromtimestamp(t, timezone.utc)) for t, v in pts]
    import os
    os.sched_setaffinity(0, {0})
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        c_plans = [cats_plan(data, j) for j in jobs]
        times.append(time.perf_counter() - t)
    no_answer = sum(1 for c in c_plans if c is None)
    c_starts = [j["earliest"] if c is None else c for c, j in zip(c_plans, jobs)]
    cats_s = statistics.median(times)
    rows = []
    for name, starts in [("greenai", g["starts"]), ("CATS", c_starts)]:
        step = [step_mean(pts, s, s + j["duration_s"]) for s, j in zip(starts, jobs)]
        lin = [linear_mean(pts, s, s + j["duration_s"]) for s, j in zip(starts, jobs)]
        late = sum(1 for s, j in zip(starts, jobs) if s + j["duration_s"] > j["deadline"] + 1)
        rows.append((name, statistics.mean(step), statistics.mean(lin), late))
    now_step = statistics.mean(step_mean(pts, j["earliest"], j["earliest"] + j["duration_s"]) for j in jobs)
    same = sum(1 for a, b in zip(g["starts"], c_starts) if abs(a - b) < 60)
    print(json.dumps({
        "jobs": n, "repeats": repeats,
        "greenai_median_s": g["median_s"], "greenai_range_s": [g["min_s"], g["max_s"]],
        "cats_median_s": cats_s, "cats_range_s": [min(times), max(times)],
        "speedup": cats_s / g["median_s"],
        "mean_g_per_kwh": {r[0]: {"step": r[1], "linear": r[2], "missed_deadlines": r[3]} for r in rows},
        "starting_at_earliest_step": now_step,
        "same_start_within_a_minute": same,
        "cats_no_window": no_answer,
    }, indent=1))


if __name__ == "__main__":
    main()
