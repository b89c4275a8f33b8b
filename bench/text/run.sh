#!/usr/bin/env bash
# Sentence encoding: greenai's all-MiniLM-L6-v2 (f32 and int8) against sentence-transformers on
# PyTorch (f32 and dynamic int8), the same weights and sentences (the 3,000 UCI sentences), the
# same threads, in the same run, rounds alternating which goes first. The summary is the median
# over rounds; each PyTorch figure is itself a median of 3 passes, each greenai figure one pass of
# `greenai embed` (tokenizing included on both sides).
#
# Set-up (once, outside the repository):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install torch sentence-transformers
#   python3 scripts/fetch_minilm.py
# Run:
#   bash bench/text/run.sh [ROUNDS] [THREADS] [ISA] [BATCH]   (defaults: 3, 2, native, 32)
#
# ISA avx2 holds both to AVX2 on a CPU that has more: greenai's int8 kernel and helpers through
# GREENAI_INT8_KERNEL=avx2, its f32 products built into target/isa-avx2 with
# MMTEST_FEATURE=avx,avx2,fma (matrixmultiply's switch), PyTorch through ATEN_CPU_CAPABILITY=avx2,
# ONEDNN_MAX_CPU_ISA=AVX2, FBGEMM_ENABLE_INSTRUCTIONS=AVX2 and MKL_ENABLE_INSTRUCTIONS=AVX2.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
THREADS=${2:-2}
ISA=${3:-native}
BATCH=${4:-32}
PY=${BENCH_PYTHON:-/opt/bench-venv/bin/python}
"$PY" -c 'import sentence_transformers' 2>/dev/null || { echo "sentence-transformers is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
[ -f data/models/minilm/model.safetensors ] || { echo "run python3 scripts/fetch_minilm.py first" >&2; exit 2; }
case "$ISA" in
  native) BIN=target/release; unset GREENAI_INT8_KERNEL; cargo build --release -q -p greenai-cli ;;
  avx2) BIN=target/isa-avx2/release
    export GREENAI_INT8_KERNEL=avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 FBGEMM_ENABLE_INSTRUCTIONS=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
    MMTEST_FEATURE=avx,avx2,fma CARGO_TARGET_DIR=target/isa-avx2 cargo build --release -q -p greenai-cli ;;
  *) echo "ISA is native or avx2" >&2; exit 2 ;;
esac
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "features: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512_vnni|avx_vnni|amx_int8)$' | xargs)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -c '
import json, sys
for l in open("data/text/uci-sentences.jsonl", encoding="utf-8"):
    print(json.loads(l)["text"].replace("\n", " "))' > "$WORK/sentences.txt"
OUT="$WORK/rounds.jsonl"
greenai_side() {
  for p in f32 int8; do
    flag=(); [ "$p" = int8 ] && flag=(--int8)
    OMP_NUM_THREADS=$THREADS "$BIN/greenai" --db "$WORK/g.sqlite" embed --no-store --json --threads "$THREADS" \
      --input "$WORK/sentences.txt" --format npy --output "$WORK/v.npy" "${flag[@]}" 2>/dev/null \
      | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"tool":"greenai","precision":"'"$p"'","kernel":r["kernel"],"sentences_per_s":r["sentences_per_s"],"j_per_1000":r["joules_per_1000_sentences"]}))'
  done
}
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order="greenai pytorch"; else order="pytorch greenai"; fi
  for tool in $order; do
    if [ "$tool" = greenai ]; then greenai_side
    else OMP_NUM_THREADS=$THREADS PYTHONWARNINGS=ignore "$PY" bench/text/st_encode.py data/models/minilm "$WORK/sentences.txt" "$THREADS" 3 "$BATCH" 2>/dev/null; fi | tee -a "$OUT"
  done
done
python3 - "$OUT" "$ISA" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = lambda xs: statistics.median(xs)
gf = [r["sentences_per_s"] for r in rows if r["tool"] == "greenai" and r["precision"] == "f32"]
gi = [r["sentences_per_s"] for r in rows if r["tool"] == "greenai" and r["precision"] == "int8"]
kernel = next(r["kernel"] for r in rows if r["tool"] == "greenai" and r["precision"] == "int8")
p = [r for r in rows if r["tool"] == "sentence-transformers"]
pf = [r["f32_sentences_per_s"] for r in p]
pi = [r["dynamic_int8_sentences_per_s"] for r in p]
print(f"\nISA {sys.argv[2]}; greenai int8 kernel {kernel}; PyTorch {p[0]['torch']} capability {p[0]['capability']}, batch {p[0]['batch']}")
print(f"medians of {len(gf)} rounds, sentences/s (range):")
r = lambda xs: f"{med(xs):8.1f} ({min(xs):.1f}-{max(xs):.1f})"
print(f"  greenai f32               {r(gf)}")
print(f"  greenai int8              {r(gi)}")
print(f"  sentence-transformers f32 {r(pf)}")
print(f"  PyTorch dynamic int8      {r(pi)}")
print(f"  greenai f32 / PyTorch f32: {med(gf) / med(pf):.2f}   greenai int8 / greenai f32: {med(gi) / med(gf):.2f}   "
      f"greenai int8 / PyTorch dynamic int8: {med(gi) / med(pi):.2f}")
PY
