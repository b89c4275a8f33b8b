#!/usr/bin/env bash
# Planning speed and quality: greenai's planner against CATS on the same 1,000 jobs and forecast.
#   bash bench/plan/run.sh [JOBS] [REPEATS] [ROUNDS]
# Needs a Python with climate-aware-task-scheduler==1.2.1 and numpy ($PYTHON, default
# /opt/bench-venv/bin/python): python3 -m venv /opt/bench-venv &&
# /opt/bench-venv/bin/pip install climate-aware-task-scheduler==1.2.1 numpy
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${1:-1000}; REPEATS=${2:-5}; ROUNDS=${3:-3}
PYTHON=${PYTHON:-/opt/bench-venv/bin/python}
cargo build --release -q -p greenai-sched --example bench_plan
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for r in $(seq "$ROUNDS"); do
  echo "== round $r"
  "$PYTHON" bench/plan/bench_plan.py target/release/examples/bench_plan \
    data/forecasts/week-hourly-synthetic.csv "$JOBS" "$REPEATS"
done
