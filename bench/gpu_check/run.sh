#!/usr/bin/env bash
# The meter's check on a machine with an NVIDIA GPU: `greenai detect`, then a measured ~30 s bf16
# matrix-product loop, reporting NVML's energy counter against the integral of its power readings.
# Reads the card as it is found: never changes clocks or power limits.
#
# Usage: bash bench/gpu_check/run.sh GREENAI_BINARY OUT_DIR [DURATION_S]
set -uo pipefail
BIN=$1; OUT=$2; DURATION=${3:-30}
mkdir -p "$OUT"
DB=$(mktemp -d)/runs.sqlite
nvidia-smi --query-gpu=name,driver_version,power.draw,power.limit,clocks.sm --format=csv > "$OUT/nvidia-smi.csv" 2>&1
"$BIN" detect > "$OUT/detect.txt" 2>&1; echo "detect exit: $?" >> "$OUT/detect.txt"
"$BIN" detect --json > "$OUT/detect.json" 2>> "$OUT/detect.txt"
# An idle window first, for the idle baseline, then the load.
"$BIN" --db "$DB" run --json --interval 0.1 --label phase=idle -- sleep 5 > "$OUT/idle.json" 2> "$OUT/run.txt"
"$BIN" --db "$DB" run --json --interval 0.1 --label phase=matmul -- python3 bench/gpu_check/matmul.py "$DURATION" > "$OUT/run.json" 2>> "$OUT/run.txt"
echo "run exit: $?" >> "$OUT/run.txt"
nvidia-smi --query-gpu=name,power.draw,power.limit,clocks.sm --format=csv >> "$OUT/nvidia-smi.csv" 2>&1
"$BIN" --db "$DB" runs export --format csv > "$OUT/runs.csv" 2>&1
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for phase in ("idle", "run"):
    try:
        r = json.load(open(f"{out}/{phase}.json"))
    except Exception as e:
        print(phase, "no report:", e); continue
    for c in r["components"]:
        if c["kind"] == "gpu":
            print(f"{phase}: {c['name']} counter {c['energy_j']:.1f} J over {r['duration_s']:.1f} s "
                  f"(avg {c['avg_power_w']:.1f} W, peak {c['peak_power_w']}), power samples integrate to "
                  f"{c['integrated_energy_j']} J, disagreement {100 * (c['disagreement'] or 0):+.2f}%")
    print(f"{phase}: machine total {r['energy_j']:.1f} J ({r['provenance']}), process tree {r['process_energy_j']} J")
PY
