#!/usr/bin/env bash
# int8 inference: greenai's int8 against greenai's f32 and against PyTorch's dynamic and static int8
# quantization of the same trained weights, on the bundled MNIST test set at batch 64, in the same
# run, rounds alternating which goes first. Each side prints medians of 5 timed passes per round;
# the summary is the median over rounds.
#
# Set-up (once, outside the repository; PyPI's wheel is about 3 GB and runs on the CPU here):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install torch numpy
# Run:
#   bash bench/int8/run.sh [MODEL] [ROUNDS] [THREADS] [MODE] [ISA]
#   (defaults: lenet, 3 rounds, 2 threads, per-channel, native; MODEL lenet, lightweight or cnn)
#
# ISA avx2 holds both tools to AVX2 on a CPU that has more (AVX-512), as on an AVX2-only machine:
# greenai's int8 kernel through GREENAI_INT8_KERNEL=avx2, its f32 products (the matrixmultiply
# crate) built into target/isa-avx2 with MMTEST_FEATURE=avx,avx2,fma (that crate's compile-time
# switch: its AVX-512 kernel is then never chosen), and PyTorch through ATEN_CPU_CAPABILITY=avx2,
# ONEDNN_MAX_CPU_ISA=AVX2 and FBGEMM_ENABLE_INSTRUCTIONS=AVX2 (FBGEMM detects the CPU itself and
# would otherwise take its AVX-512 VNNI kernels). ISA native lets each choose.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:-lenet}
ROUNDS=${2:-3}
THREADS=${3:-2}
MODE=${4:-per-channel}
ISA=${5:-native}
PY=${TORCH_PYTHON:-/opt/bench-venv/bin/python}
"$PY" -c 'import torch' 2>/dev/null || { echo "PyTorch is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
case "$ISA" in
  native) BIN=target/release; unset GREENAI_INT8_KERNEL
    cargo build --release -q -p greenai-cli && cargo build --release -q -p greenai-nn --example bench_int8 ;;
  avx2) BIN=target/isa-avx2/release
    export GREENAI_INT8_KERNEL=avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2
    export MMTEST_FEATURE=avx,avx2,fma CARGO_TARGET_DIR=target/isa-avx2
    cargo build --release -q -p greenai-cli && cargo build --release -q -p greenai-nn --example bench_int8 ;;
  *) echo "ISA is native or avx2" >&2; exit 2 ;;
esac
# What ran where: the CPU, its vector features, PyTorch's capability (greenai's int8 kernel is in
# its JSON lines and the summary).
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "features: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512_vnni|avx_vnni|amx_int8)$' | xargs)"
echo "pytorch: $("$PY" -c 'import torch; print(torch.__version__, "capability", torch.backends.cpu.get_cpu_capability())')"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
case "$MODEL" in
  lenet) TRAIN=(--model lenet --epochs 1 --lr 0.005) ;;
  lightweight) TRAIN=(--model lightweight --epochs 2 --lr 0.002) ;;
  cnn) TRAIN=(--model cnn --epochs 1 --lr 0.001) ;;
  *) echo "MODEL is lenet, lightweight or cnn" >&2; exit 2 ;;
esac
# One trained checkpoint, the same weights for both tools.
"$BIN/greenai" --db "$WORK/greenai.db" train "${TRAIN[@]}" --save "$WORK/model.safetensors" --no-store >/dev/null 2>"$WORK/train.log" \
  || { cat "$WORK/train.log" >&2; exit 1; }
OUT="$WORK/rounds.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="greenai pytorch"; else order="pytorch greenai"; fi
  for tool in $order; do
    if [ "$tool" = greenai ]; then "$BIN/examples/bench_int8" "$WORK/model.safetensors" "$THREADS" "$MODE"
    else OMP_NUM_THREADS=$THREADS PYTHONWARNINGS=ignore "$PY" bench/int8/pytorch_int8.py "$WORK/model.safetensors" "$MODEL" "$THREADS"; fi | tee -a "$OUT"
  done
done
python3 - "$OUT" "$MODEL" "$MODE" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
g = [r for r in rows if r["tool"] == "greenai"]
p = [r for r in rows if r["tool"] == "pytorch"]
med = lambda rs, k: statistics.median(r[k] for r in rs)
gi8, gf = med(g, "int8_inference_samples_per_s"), med(g, "f32_inference_samples_per_s")
print(f"\n{sys.argv[2]}, greenai int8 {sys.argv[3]} ({g[0].get('kernel', '?')} kernel): medians of {len(g)} rounds, batch 64, samples/s")
print(f"  greenai  f32 {gf:>9.0f}   int8 {gi8:>9.0f}   int8/f32 {gi8 / gf:.2f}")
pf, pd, ps = (med(p, f"{k}_inference_samples_per_s") for k in ("f32", "dynamic_int8", "static_int8"))
print(f"  pytorch  f32 {pf:>9.0f}   dynamic int8 {pd:>9.0f}   static int8 {ps:>9.0f}")
print(f"  greenai int8 / pytorch dynamic int8: {gi8 / pd:.2f}   / pytorch static int8: {gi8 / ps:.2f}   greenai f32 / pytorch f32: {gf / pf:.2f}")
print(f"  accuracy: greenai f32 {med(g, 'f32_accuracy'):.4f} int8 {med(g, 'int8_accuracy'):.4f}; "
      f"pytorch f32 {med(p, 'f32_accuracy'):.4f} dynamic {med(p, 'dynamic_int8_accuracy'):.4f} static {med(p, 'static_int8_accuracy'):.4f}")
PY
