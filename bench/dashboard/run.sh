#!/usr/bin/env bash
# The dashboard's response times over a database of N runs plus one run of H hours at 10 Hz
# (issue 22: under 100 ms at the median with 100,000 runs). Release build; `greenai serve` on a
# free loopback port; each page and API request timed ROUNDS times, sequentially. No peer in the
# same run: CodeCarbon's dashboard (carbonboard, Dash) is not installed here.
#   bash bench/dashboard/run.sh [N=100000] [HOURS=24] [ROUNDS=15]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}; HOURS=${2:-24}; ROUNDS=${3:-15}
cargo build --release -q -p greenai-cli
G=$PWD/target/release/greenai
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
export GREENAI_DB=$T/bench.sqlite
"$G" run -- sleep 2 > /dev/null 2>&1
SHORT=$("$G" runs list 2>/dev/null | awk 'NR>1 {print $1; exit}')
BIG=$(python3 bench/dashboard/make_db.py "$GREENAI_DB" "$N" "$HOURS")
echo "database: $N runs and a $HOURS h run at 10 Hz, $(du -h "$GREENAI_DB" | cut -f1)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
"$G" serve --listen 127.0.0.1:0 > "$T/serve.out" 2> /dev/null &
for _ in $(seq 100); do grep -q http "$T/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' "$T/serve.out" | sed 's#/$##')
python3 bench/dashboard/time_pages.py "$URL" "$BIG" "$SHORT" "$ROUNDS"
