#!/usr/bin/env bash
# What `greenai run -- true` adds to the wall time of `true`: discovery, the database, the
# monitor's first and last samples, and the report. Target: under 20 ms.
#
# Usage: bash bench/run_overhead/run.sh [N]     (default 50 runs of each, interleaved)
# Prints the median wall time of each and their difference.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu.sh
N=${1:-50}
cargo build --release -q -p greenai-cli
DB=$(mktemp -d)/bench.sqlite
python3 - "$N" "$DB" <<'PY'
import statistics, subprocess, sys, time
n, db = int(sys.argv[1]), sys.argv[2]
g = ["target/release/greenai", "--db", db, "run", "--", "true"]
def wall(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
wall(g)  # creates and migrates the database once
plain, wrapped = [], []
for _ in range(n):
    plain.append(wall(["true"]))
    wrapped.append(wall(g))
p, w = statistics.median(plain), statistics.median(wrapped)
print(f"true: median {p * 1e3:.2f} ms; greenai run -- true: median {w * 1e3:.2f} ms "
      f"(p90 {sorted(wrapped)[int(0.9 * n)] * 1e3:.2f} ms); added: {(w - p) * 1e3:.2f} ms over {n} runs")
PY
