"""Drives bench/recommend/run.sh. Per round: (a) Surprise's SVD() on greenai's 5 folds under
`greenai run` (the whole process metered: Python's start, the file read, five fits and tests);
(b) `greenai recommend train` with Surprise's defaults (like for like); (c) greenai with 50
factors, rate 0.01, regularisation 0.05, each fold stopped once a held-out 5 % of its training
ratings reaches the RMSE Surprise reached in (a). Energy is each whole process's, from the same
meter; RMSE is each side's mean over the 5 test folds.
    python3 bench.py GREENAI PYTHON RATINGS ROUNDS
"""
import json, os, statistics, subprocess, sys, tempfile

g, py, data, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def run(args):
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


out = {"surprise": [], "same": [], "stop": []}
tmp = tempfile.mkdtemp()
for k in range(rounds):
    res = os.path.join(tmp, f"s{k}.json")
    rep = run([g, "run", "--json", "--", py, "bench/recommend/surprise_cv.py", data, "svd", "5", "0", res])
    s = json.load(open(res))
    out["surprise"].append((s["rmse"], rep["energy_j"], rep["duration_s"], rep["provenance"]))
    same = run([g, "recommend", "train", "--json", "--data", data])
    out["same"].append((same["rmse"], same["energy_j"], same["duration_s"], same["provenance"]))
    stop = run([g, "recommend", "train", "--json", "--data", data, "--factors", "50", "--lr", "0.01",
                "--reg", "0.05", "--epochs", "40", "--target-rmse", "%.4f" % s["rmse"]])
    out["stop"].append((stop["rmse"], stop["energy_j"], stop["duration_s"], stop["provenance"]))
    print("round %d: Surprise SVD RMSE %.4f, %.1f J in %.2f s | greenai same settings RMSE %.4f, "
          "%.1f J in %.2f s | greenai stopped at Surprise's RMSE: RMSE %.4f, %.1f J in %.2f s"
          % (k + 1, *out["surprise"][-1][:3], *out["same"][-1][:3], *out["stop"][-1][:3]))

med = lambda rows, i: statistics.median(r[i] for r in rows)
print("cpu: %s, %d cores; greenai's kernels: portable Rust (no instruction-set-specific path); "
      "energy %s on both sides" % (cpu(), os.cpu_count(), out["surprise"][0][3]))
for name, key in [("Surprise SVD() defaults", "surprise"), ("greenai, Surprise's settings", "same"),
                  ("greenai, stopped at Surprise's RMSE", "stop")]:
    rows = out[key]
    print("%-38s RMSE %.4f  energy median %.1f J (%.1f–%.1f)  time %.2f s"
          % (name, med(rows, 0), med(rows, 1), min(r[1] for r in rows), max(r[1] for r in rows), med(rows, 2)))
for key, name in [("same", "same settings"), ("stop", "stopped at Surprise's RMSE")]:
    ratios = [a[1] / b[1] for a, b in zip(out["surprise"], out[key])]
    print("Surprise's energy / greenai's (%s): median %.1fx (%.1f–%.1fx); greenai's RMSE %s Surprise's"
          % (name, statistics.median(ratios), min(ratios), max(ratios),
             "at or below" if all(b[0] <= a[0] + 1e-12 for a, b in zip(out["surprise"], out[key])) else "ABOVE"))
