#!/usr/bin/env bash
# The whole `greenai run`'s CPU cost in steady state, against CodeCarbon's tracker at the same
# interval, in the same run. greenai: `greenai run --interval I -- sleep L` minus the same with
# `sleep S`, so start-up (discovery, the database, the first sample) and the report cancel out;
# what is left is the sampler, the process-tree attribution, the database writer and the fault
# guards per second. CodeCarbon: its tracker between start() and stop() while the main thread
# sleeps (bench/monitor_overhead/codecarbon_idle.py), which leaves its start-up out the same way.
#
# Per tick, on a machine like the development one (no powercap, no hwmon, no GPU): greenai reads
# the estimate model (which reads /proc/stat at most once a second), walks the command's process
# tree, checks every reading against its ceiling and queues the sample; once a second its writer
# commits the queued samples in one transaction. CodeCarbon measures CPU and RAM power through
# psutil and its TDP model at every tick.
#
# Set-up (once, outside the repository):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install codecarbon==3.3.2
# Run:
#   bash bench/run_cost/run.sh [ROUNDS] [LONG_S] [SHORT_S] [INTERVAL_S]   (defaults: 3 60 10 0.1)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
LONG=${2:-60}
SHORT=${3:-10}
INTERVAL=${4:-0.1}
PY=${BENCH_PYTHON:-/opt/bench-venv/bin/python}
"$PY" -c 'import codecarbon' 2>/dev/null || {
  echo "CodeCarbon is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
cargo build --release -q -p greenai-cli
grep -m1 'model name' /proc/cpuinfo || true
python3 - "$ROUNDS" "$LONG" "$SHORT" "$INTERVAL" "$PY" <<'PY'
import json, os, resource, statistics, subprocess, sys, tempfile
rounds, long_s, short_s, iv, py = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
db = os.path.join(tempfile.mkdtemp(), "cost.sqlite")

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def greenai(seconds):
    c0 = children_cpu()
    subprocess.run(["target/release/greenai", "--db", db, "run", "--region", "FR", "--interval", iv,
                    "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return children_cpu() - c0

def codecarbon(seconds):
    out = subprocess.run([py, "bench/monitor_overhead/codecarbon_idle.py", iv, str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["core_pct"]

greenai(1)  # creates the database
g, c = [], []
for r in range(rounds):
    order = ["greenai", "codecarbon"] if r % 2 == 0 else ["codecarbon", "greenai"]
    for tool in order:
        if tool == "greenai":
            cost = (greenai(long_s) - greenai(short_s)) / (long_s - short_s) * 100
            g.append(cost)
        else:
            c.append(codecarbon(long_s))
        print(json.dumps({"round": r + 1, "tool": tool, "interval_s": float(iv),
                          "core_pct": round((g if tool == "greenai" else c)[-1], 5)}), flush=True)
gm, cm = statistics.median(g), statistics.median(c)
print(f"\ninterval {iv} s, medians of {rounds} rounds: greenai run {gm:.4f} % of one core "
      f"(range {min(g):.4f}-{max(g):.4f}), CodeCarbon {cm:.4f} % (range {min(c):.4f}-{max(c):.4f}); "
      f"CodeCarbon / greenai {cm / gm if gm > 0 else float('inf'):.1f}x")
PY
