#!/usr/bin/env bash
# greenai's engine against PyTorch CPU on the same machine, in the same run: training and f32
# inference samples per second at batch 64 on the bundled MNIST, for the same model defined in
# both (crates/greenai-nn/src/models.rs and pytorch_models.py), rounds alternating which goes first.
# On equal terms: both normalise the raw bytes inside their timers; both fold BatchNorm into the
# convolutions for inference; inference is timed both ways on both sides, one batch of 64 at a time
# on every thread (one_batch) and a batch of 64 per thread (batch_per_thread).
#
# Set-up (once, outside the repository; PyPI's wheel is about 3 GB and runs on the CPU here):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install torch numpy
# Run:
#   bash bench/train_models/run.sh [MODEL] [ROUNDS] [THREADS] [TRAIN_SAMPLES]
#   (defaults: lightweight, 3 rounds, 2 threads, the full 60,000 images)
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu.sh
MODEL=${1:-lightweight}
ROUNDS=${2:-3}
THREADS=${3:-2}
SAMPLES=${4:-60000}
PY=${TORCH_PYTHON:-/opt/bench-venv/bin/python}
"$PY" -c 'import torch' 2>/dev/null || { echo "PyTorch is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
cargo build --release -q -p greenai-nn --example bench_train
OUT=$(mktemp)
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="greenai pytorch"; else order="pytorch greenai"; fi
  for tool in $order; do
    if [ "$tool" = greenai ]; then target/release/examples/bench_train "$MODEL" "$THREADS" "$SAMPLES"
    else OMP_NUM_THREADS=$THREADS "$PY" bench/train_models/pytorch_models.py "$MODEL" "$THREADS" "$SAMPLES"; fi | tee -a "$OUT"
  done
done
python3 - "$OUT" "$MODEL" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(tool, key):
    return statistics.median(r[key] for r in rows if r["tool"] == tool)
print(f"\n{sys.argv[2]}: medians of {len(rows) // 2} rounds, batch 64:")
def rng(tool, key):
    v = [r[key] for r in rows if r["tool"] == tool]
    return f"{min(v):.0f}-{max(v):.0f}"
for key in ("train_samples_per_s", "one_batch_samples_per_s", "batch_per_thread_samples_per_s"):
    g, p = med("greenai", key), med("pytorch", key)
    print(f"  {key:<31} greenai {g:>7.0f} ({rng('greenai', key)})  pytorch {p:>7.0f} ({rng('pytorch', key)})  ratio {g / p:.2f}")
print(f"  test accuracy after one epoch: greenai {med('greenai', 'test_accuracy'):.4f}, pytorch {med('pytorch', 'test_accuracy'):.4f}")
PY
