#!/bin/sh
# Starts a single-node Slurm (munge, slurmctld, slurmd) for the tests, as root, with its whole
# configuration under DIR (SLURM_CONF=DIR/slurm.conf; nothing in /etc/slurm is touched). Prints
# nothing on success; on failure says why on stderr and exits 3. The test stops the daemons by the
# pids written to DIR/*.pid.
#   sh start.sh DIR CTLD_PORT SLURMD_PORT
set -u
dir=$1; ctld_port=$2; slurmd_port=$3
fail() { echo "$*" >&2; exit 3; }
[ "$(id -u)" = 0 ] || fail "not root: slurmd and munged must start as root"
for b in munged slurmctld slurmd srun; do command -v $b >/dev/null || fail "$b is missing: apt-get install slurm-wlm munge"; done
# munge: a key, its directories, the daemon (one is shared by every test; started once).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge 2>/dev/null
  chmod 0400 /etc/munge/munge.key
  chmod 0755 /run/munge
  runuser -u munge -- munged --force 2>"$dir/munged.err" || fail "munged did not start: $(cat "$dir/munged.err")"
  cp /run/munge/munged.pid "$dir/munged.pid" 2>/dev/null
  sleep 0.5
  munge -n | unmunge >/dev/null 2>&1 || fail "munge does not work: munge -n | unmunge fails"
fi
host=$(hostname -s)
mkdir -p "$dir/spool/ctld" "$dir/spool/d" "$dir/log"
cat > "$dir/slurm.conf" <<CONF
ClusterName=greenai-test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 3 "$dir/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -n 3 "$dir/log/slurmd.log" 2>/dev/null)"
i=0
until sinfo -h -o %T 2>/dev/null | grep -q idle; do
  i=$((i+1))
  [ $i -gt 60 ] && fail "the node never became idle: $(sinfo 2>&1 | tail -n 2); $(tail -n 3 "$dir/log/slurmd.log")"
  sleep 0.5
done
