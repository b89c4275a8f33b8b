#!/usr/bin/env bash
# greenai against greenai: the engine's speed at two revisions, same machine, same run, rounds
# alternating which goes first. For a change that must not cost speed (a refactor): the greenai
# side of bench/train_models (training and f32 inference samples/s) and of bench/int8 (f32 and
# int8 inference samples/s, per-channel), each revision built into its own worktree.
#
# Run:
#   bash bench/ab/run.sh BEFORE_REV AFTER_REV [ROUNDS] [TRAIN_SAMPLES]
#   (defaults: 6 rounds, 60,000 training images; e.g. bash bench/ab/run.sh 6913915 HEAD)
# Compile nothing else while it runs; both builds happen before the first timed round.
set -euo pipefail
cd "$(dirname "$0")/../.."
BEFORE=${1:?before revision}
AFTER=${2:?after revision}
ROUNDS=${3:-6}
SAMPLES=${4:-60000}
WORK=$(mktemp -d)
cleanup() {
  for v in before after; do git worktree remove --force "$WORK/$v" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for v in before after; do
  rev=$BEFORE; [ "$v" = after ] && rev=$AFTER
  git worktree add -q --detach "$WORK/$v" "$rev"
  (cd "$WORK/$v" && cargo build --release -q -p greenai-cli -p greenai-nn \
      --example bench_train --example bench_int8 && cargo build --release -q -p greenai-cli)
done
# One trained checkpoint per int8 model, by the "before" build: the same weights for both.
for m in lenet cnn; do
  case $m in lenet) T=(--model lenet --epochs 1 --lr 0.005) ;; cnn) T=(--model cnn --epochs 1 --lr 0.001) ;; esac
  "$WORK/before/target/release/greenai" --db "$WORK/db.sqlite" train "${T[@]}" --no-store \
    --save "$WORK/$m.safetensors" >/dev/null 2>&1
done
grep -m1 'model name' /proc/cpuinfo || true
grep -o -w -E 'avx2|avx512f|avx512_vnni|avx_vnni|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
OUT="$WORK/rounds.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="before after"; else order="after before"; fi
  for v in $order; do
    bin="$WORK/$v/target/release/examples"
    for m in lightweight mobilenet; do "$bin/bench_train" "$m" 2 "$SAMPLES"; done | sed "s/^{/{\"build\":\"$v\",/" >>"$OUT"
    for m in lenet cnn; do "$bin/bench_int8" "$WORK/$m.safetensors" 2 per-channel; done | sed "s/^{/{\"build\":\"$v\",/" >>"$OUT"
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
keys = [("lightweight", "train_samples_per_s"), ("lightweight", "inference_samples_per_s"),
        ("mobilenet", "train_samples_per_s"), ("mobilenet", "inference_samples_per_s"),
        ("lenet", "f32_inference_samples_per_s"), ("lenet", "int8_inference_samples_per_s"),
        ("cnn", "f32_inference_samples_per_s"), ("cnn", "int8_inference_samples_per_s")]
print(f"{'model':<12} {'samples/s':<30} {'before (range)':>24} {'after (range)':>24} {'after/before':>12}")
for m, k in keys:
    v = {b: [r[k] for r in rows if r["build"] == b and r["model"] == m] for b in ("before", "after")}
    med = {b: statistics.median(x) for b, x in v.items()}
    rng = {b: f"{med[b]:.0f} ({min(x):.0f}-{max(x):.0f})" for b, x in v.items()}
    print(f"{m:<12} {k:<30} {rng['before']:>24} {rng['after']:>24} {med['after'] / med['before']:>12.3f}")
acc = sorted({(r["build"], r["model"], r.get("test_accuracy", r.get("int8_accuracy"))) for r in rows})
print("accuracies (must be equal between builds):", acc)
PY
