#!/usr/bin/env bash
# greenai's matrix factorisation against Surprise's SVD on MovieLens-100K, 5-fold, the same folds,
# energy measured by greenai around both (issue 24: Surprise's RMSE with at least 5x less energy).
# Needs scikit-surprise in PYTHON's environment (default /opt/bench-venv/bin/python) and the data
# (python3 scripts/fetch_movielens.py).
#   bash bench/recommend/run.sh [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/cpu.sh
ROUNDS=${1:-3}
PY=${PYTHON:-/opt/bench-venv/bin/python}
python3 scripts/fetch_movielens.py > /dev/null
cargo build --release -q -p greenai-cli
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
GREENAI_DB=$T/bench.sqlite python3 bench/recommend/bench.py target/release/greenai "$PY" data/ml-100k/ml-100k.inter "$ROUNDS"
