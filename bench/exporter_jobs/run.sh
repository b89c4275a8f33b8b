#!/usr/bin/env bash
# The node agent's own cost with N jobs on the node: `greenai exporter --interval 1` over a fixture
# cgroup tree of N Slurm job cgroups (whose cpu.stat a writer advances every second) and a RAPL
# counter, for S seconds; its CPU time (utime + stime from /proc/PID/stat) as a share of one core.
# Target (issue 21): under 0.5 % of one core with 200 jobs at a 1 s interval.
#   bash bench/exporter_jobs/run.sh [JOBS=200] [SECONDS=60] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${1:-200}; SECS=${2:-60}; ROUNDS=${3:-3}
cargo build --release -q -p greenai-cli
G=$PWD/target/release/greenai
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
R=$T/sys
mkdir -p "$R/class/powercap/intel-rapl:0" "$R/fs/cgroup"
echo package-0 > "$R/class/powercap/intel-rapl:0/name"
echo 262143328850 > "$R/class/powercap/intel-rapl:0/max_energy_range_uj"
for i in $(seq "$JOBS"); do mkdir -p "$R/fs/cgroup/system.slice/slurmstepd.scope/job_$i"; done
python3 - "$R" "$JOBS" > /dev/null 2>&1 <<'PY' &
import sys, time, os
r, n = sys.argv[1], int(sys.argv[2])
t0 = time.time()
while True:
    t = time.time() - t0
    open(r + "/class/powercap/intel-rapl:0/energy_uj", "w").write("%d\n" % int(50 * t * 1e6))
    open(r + "/fs/cgroup/cpu.stat", "w").write("usage_usec %d\n" % int(t * 1e6))
    for i in range(1, n + 1):
        open(r + "/fs/cgroup/system.slice/slurmstepd.scope/job_%d/cpu.stat" % i, "w").write("usage_usec %d\n" % int(t * 1e6 / n * 0.8))
    time.sleep(1)
PY
sleep 1
hz=$(getconf CLK_TCK)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $JOBS jobs, ${SECS} s a round, interval 1 s"
for r in $(seq "$ROUNDS"); do
  GREENAI_SYSFS_ROOT=$R "$G" exporter --listen 127.0.0.1:0 --interval 1 2>/dev/null &
  pid=$!
  sleep 2
  a=$(awk '{print $14+$15}' /proc/$pid/stat)
  sleep "$SECS"
  b=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill $pid; wait $pid 2>/dev/null || true
  series=$JOBS
  python3 -c "print('round $r: %.3f %% of one core' % (100.0 * ($b - $a) / $hz / $SECS))"
done
