#!/usr/bin/env bash
# The seed's recipe against greenai's best configuration, each measured by greenai in the same
# run, rounds alternating which goes first: the energy ratio behind "N× less training energy than
# the seed" made reproducible (issue 18).
#
#   seed:    greenai run -- python bench/seed_recipe/seed_recipe.py   (PyTorch, LightweightNet,
#            Adam 1e-3, batch 64, 10 epochs: the whole process measured, imports included)
#   greenai: greenai train --model strided --epochs 1 --max-steps 700 --pca-init --batch 32
#            --lr 0.007 --validation 2000 (compare's best configuration, strided-700steps-pca: the
#            strided net from its patches' principal components, a schedule planned for 700
#            steps), the whole job's energy; and LeNet-5 for one epoch (--model lenet --epochs 1
#            --lr 0.005, the best before the strided net), the whole job's energy
#
# Both sides' energy comes from the same meter: on a machine without RAPL or hwmon it is the
# estimate model (CPU time × TDP share), so the ratio is one of CPU work more than of joules.
#
# Set-up (once, outside the repository; PyPI's wheel is about 3 GB and runs on the CPU here):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install torch numpy
# Run:
#   bash bench/seed_recipe/run.sh [ROUNDS] [THREADS]   (defaults: 3 rounds, 2 threads)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
THREADS=${2:-2}
PY=${TORCH_PYTHON:-/opt/bench-venv/bin/python}
"$PY" -c 'import torch' 2>/dev/null || { echo "PyTorch is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
cargo build --release -q -p greenai-cli
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
G=(target/release/greenai --db "$WORK/bench.sqlite")
OUT="$WORK/rounds.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="seed greenai"; else order="greenai seed"; fi
  for side in $order; do
    if [ "$side" = seed ]; then
      "${G[@]}" run --region FR --json -- env OMP_NUM_THREADS="$THREADS" PYTHONWARNINGS=ignore \
        "$PY" bench/seed_recipe/seed_recipe.py "$THREADS" >"$WORK/seed.json" 2>"$WORK/seed.err" \
        || { cat "$WORK/seed.err" >&2; exit 1; }
      python3 - "$WORK/seed.json" "$WORK/seed.err" <<'PY' | tee -a "$OUT"
import json, sys
raw = open(sys.argv[1]).read()
child = [json.loads(l) for l in raw.splitlines() if l.startswith('{"tool"')][0]
run = json.loads(raw[raw.index('\n{') + 1:] if not raw.startswith('{\n') else raw[:raw.rindex('}') + 1])
print(json.dumps({"side": "seed", "energy_j": run["energy_j"], "duration_s": run["duration_s"],
                  "accuracy": child["accuracy"], "provenance": run["provenance"]}))
PY
    else
      "${G[@]}" train --model strided --epochs 1 --max-steps 700 --pca-init --batch 32 --lr 0.007 \
        --validation 2000 --threads "$THREADS" --region FR --json >"$WORK/g1.json" 2>/dev/null
      "${G[@]}" train --model lenet --epochs 1 --lr 0.005 --threads "$THREADS" --region FR --json \
        >"$WORK/g2.json" 2>/dev/null
      python3 - "$WORK/g1.json" "$WORK/g2.json" <<'PY' | tee -a "$OUT"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps({"side": "greenai", "energy_j": a["energy_j"], "duration_s": a["duration_s"],
                  "accuracy": a["accuracy"], "lenet_j": b["energy_j"], "lenet_s": b["duration_s"],
                  "lenet_accuracy": b["accuracy"], "provenance": a["provenance"]}))
PY
    fi
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
s = [r for r in rows if r["side"] == "seed"]
g = [r for r in rows if r["side"] == "greenai"]
med = lambda rs, k: statistics.median(r[k] for r in rs)
rng = lambda rs, k: f"{min(r[k] for r in rs):.1f}-{max(r[k] for r in rs):.1f}"
print(f"\nmedians of {len(s)} rounds ({s[0]['provenance']} energy)")
print(f"  seed recipe (PyTorch, 10 epochs): {med(s, 'energy_j'):.1f} J ({rng(s, 'energy_j')}), {med(s, 'duration_s'):.1f} s, accuracy {med(s, 'accuracy'):.4f}")
print(f"  greenai strided, 700 steps, PCA: {med(g, 'energy_j'):.1f} J ({rng(g, 'energy_j')}), {med(g, 'duration_s'):.1f} s, accuracy {med(g, 'accuracy'):.4f}")
print(f"  greenai lenet, 1 epoch:           {med(g, 'lenet_j'):.1f} J ({rng(g, 'lenet_j')}), {med(g, 'lenet_s'):.1f} s, accuracy {med(g, 'lenet_accuracy'):.4f}")
ratios = sorted(a["energy_j"] / b["energy_j"] for a, b in zip(s, g))
print(f"  seed / greenai strided: {statistics.median(ratios):.1f}x (range {ratios[0]:.1f}-{ratios[-1]:.1f}, per round)")
rl = sorted(a["energy_j"] / b["lenet_j"] for a, b in zip(s, g))
print(f"  seed / greenai lenet:   {statistics.median(rl):.1f}x (range {rl[0]:.1f}-{rl[-1]:.1f}, per round)")
PY
