#!/usr/bin/env bash
# The monitor's own CPU cost against CodeCarbon's tracker, at the same intervals, in the same run.
#
# Set-up (once, outside the repository):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install codecarbon==3.3.2
# Run:
#   bash bench/monitor_overhead/run.sh [ROUNDS] [DURATION_S]     (defaults: 3 rounds of 60 s)
# Each round runs greenai and CodeCarbon one after the other at 10 Hz and at 100 Hz; the order
# alternates between rounds. Prints every run as JSON, then medians and ratios.
#
# Two sources, each side doing at every tick what it does on such a machine:
# - machine: this machine as it is. Without counters (a VM: no powercap, no hwmon), greenai's
#   estimate reads /proc/stat at window edges and at most once a second, so most of its ticks
#   read nothing new; CodeCarbon's load model calls psutil at every tick.
# - fixture: the two-socket RAPL tree crates/greenai-meter/tests/fixtures/intel-2s-server, for
#   both (GREENAI_SYSFS_ROOT for greenai, CodeCarbon's RAPL directory pointed at the same tree):
#   at every tick greenai preads its five energy_uj files and CodeCarbon reads its zones, so the
#   cost per tick of a machine with counters is measured, not inferred.
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
FIXTURE=$PWD/crates/greenai-meter/tests/fixtures/intel-2s-server
for r in $(seq 1 "$ROUNDS"); do
  for source in machine fixture; do
    if [ "$source" = fixture ]; then export GREENAI_SYSFS_ROOT=$FIXTURE GREENAI_NVML=off; else unset GREENAI_SYSFS_ROOT GREENAI_NVML; fi
    for interval in 0.1 0.01; do
      if (( r % 2 )); then order="greenai codecarbon"; else order="codecarbon greenai"; fi
      for tool in $order; do
        if [ "$tool" = greenai ]; then "$BIN" "$interval" "$DURATION"
        else "$PY" bench/monitor_overhead/codecarbon_idle.py "$interval" "$DURATION"; fi \
          | python3 -c 'import json,sys; [print(json.dumps({**json.loads(l), "source": sys.argv[1]})) for l in sys.stdin if l.startswith("{")]' "$source" \
          | tee -a "$OUT"
      done
    done
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\n{'source':>8} {'interval':>9} {'greenai % of a core':>24} {'codecarbon % of a core':>24} {'ratio (cc/greenai)':>19}   (medians of {len(rows)//8} runs; ranges)")
for source in ("machine", "fixture"):
    for iv in (0.1, 0.01):
        def pick(tool):
            return [r["core_pct"] for r in rows if r["tool"] == tool and r["interval_s"] == iv and r["source"] == source]
        g, c = pick("greenai"), pick("codecarbon")
        gm, cm = statistics.median(g), statistics.median(c)
        print(f"{source:>8} {iv:>8}s {gm:>8.4f} ({min(g):.3f}-{max(g):.3f}) {cm:>8.4f} ({min(c):.3f}-{max(c):.3f}) {cm / gm if gm else float('inf'):>19.1f}")
PY
