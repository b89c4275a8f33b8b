#!/usr/bin/env bash
# A real power-limit sweep, for a machine with a writable RAPL package limit (run as root, or
# with the udev rule of docs/reference/power.md). For each limit, one epoch of LeNet-5 on MNIST
# under `greenai run --power-limit`, then the same with `greenai train --power-tune`; energy and
# time of each, and each against the default limit.
#   bash bench/power/sweep.sh [LIMITS...]      (default: 100% 85% 70% 55% of the current limit)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p greenai-cli
G=target/release/greenai
DB=$(mktemp -d)/sweep.sqlite
knob=$($G power show --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
w=[k for k in d["knobs"] if k["id"].startswith("powercap:") and k["id"].endswith(":long_term") and k["access"]=="writable"]
print(w[0]["value"] if w else "")')
if [ -z "$knob" ]; then
  echo "no writable RAPL package limit on this machine: nothing to sweep ($($G power show | grep -m1 note || true))" >&2
  exit 2
fi
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); default limit ${knob} W"
limits=("$@")
if [ ${#limits[@]} -eq 0 ]; then
  limits=($(python3 -c "print(' '.join(str(round($knob*s,1)) for s in (1.0,0.85,0.7,0.55)))"))
fi
for w in "${limits[@]}"; do
  $G --db "$DB" run --json --power-limit "$w" --label sweep="$w" -- \
    $G --db "$DB" train --model lenet --epochs 1 --lr 0.005 --no-store >/dev/null 2>&1
done
$G --db "$DB" train --model lenet --epochs 1 --lr 0.005 --power-tune --json 2>/dev/null \
  | python3 -c 'import json,sys; t=json.load(sys.stdin)["training"]["power_tune"]; print("power-tune chose", t["chosen"], "W; energy saving", t["energy_saving"], "time saving", t["time_saving"])'
$G --db "$DB" runs export --format json | python3 -c '
import json,sys
runs=[r for r in json.load(sys.stdin) if r.get("labels",{}).get("sweep")]
base=[r for r in runs if float(r["labels"]["sweep"])==max(float(x["labels"]["sweep"]) for x in runs)][0]
for r in runs:
    print(f"{r[\"labels\"][\"sweep\"]:>6} W  {r[\"energy_j\"]:8.1f} J  {r[\"duration_s\"]:6.1f} s  energy x{r[\"energy_j\"]/base[\"energy_j\"]:.3f}  time x{r[\"duration_s\"]/base[\"duration_s\"]:.3f}")'
