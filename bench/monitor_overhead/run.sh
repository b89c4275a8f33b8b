#!/usr/bin/env bash
# The monitor's own CPU cost against CodeCarbon's tracker, at the same intervals, in the same run.
#
# Set-up (once, outside the repository):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install codecarbon==3.3.2
# Run:
#   bash bench/monitor_overhead/run.sh [ROUNDS] [DURATION_S]     (defaults: 3 rounds of 60 s)
# Each round runs greenai and CodeCarbon one after the other at 10 Hz and at 100 Hz; the order
# alternates between rounds. Prints every run as JSON, then medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu.sh
ROUNDS=${1:-3}
DURATION=${2:-60}
PY=${BENCH_PYTHON:-/opt/bench-venv/bin/python}
OUT=${BENCH_OUT:-$(mktemp)}
"$PY" -c 'import codecarbon' 2>/dev/null || {
  echo "CodeCarbon is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
cargo build --release -q -p greenai-meter --example idle_monitor
BIN=target/release/examples/idle_monitor
: > "$OUT"
for r in $(seq 1 "$ROUNDS"); do
  for interval in 0.1 0.01; do
    if (( r % 2 )); then order="greenai codecarbon"; else order="codecarbon greenai"; fi
    for tool in $order; do
      if [ "$tool" = greenai ]; then "$BIN" "$interval" "$DURATION"
      else "$PY" bench/monitor_overhead/codecarbon_idle.py "$interval" "$DURATION"; fi | tee -a "$OUT"
    done
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'interval':>9} {'greenai % of a core':>20} {'codecarbon % of a core':>23} {'ratio (cc/greenai)':>19}   (medians of {len(rows)//4} runs)")
for iv in (0.1, 0.01):
    g = statistics.median(r["core_pct"] for r in rows if r["tool"] == "greenai" and r["interval_s"] == iv)
    c = statistics.median(r["core_pct"] for r in rows if r["tool"] == "codecarbon" and r["interval_s"] == iv)
    print(f"{iv:>8}s {g:>20.4f} {c:>23.4f} {c / g if g else float('inf'):>19.1f}")
PY
