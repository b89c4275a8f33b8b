#!/usr/bin/env bash
# The estimate model's proof (issue 25): every bundled SPECpower_ssj2008 result held out of its
# family's fit in turn and predicted at each load step, beside CodeCarbon 3.3.2's model for the
# same server at the same load, against the published measurement.
#
# Set-up (once, outside the repository):
#   python3 -m venv /opt/bench-venv && /opt/bench-venv/bin/pip install codecarbon==3.3.2
# Run:
#   bash bench/estimate_validation/run.sh [OUT.tsv]   (default: docs/validation/specpower-loo.tsv)
# Not a timing benchmark: the figures do not depend on the CPU it runs on (printed all the same).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu.sh
PY=${BENCH_PYTHON:-/opt/bench-venv/bin/python}
OUT=${1:-docs/validation/specpower-loo.tsv}
"$PY" -c 'import codecarbon' 2>/dev/null || {
  echo "CodeCarbon is not installed in $PY; see the set-up lines at the top of $0" >&2; exit 2; }
cargo build --release -q -p greenai-cli
mkdir -p "$(dirname "$OUT")"
target/release/greenai estimate --validate --json \
  | "$PY" bench/estimate_validation/compare.py "$OUT"
