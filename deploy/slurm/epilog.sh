#!/bin/sh
# Slurm Epilog (slurm.conf: Epilog=/etc/slurm/greenai-epilog.sh): appends the job's energy on this
# node, as the node's greenai exporter attributed it, to the job's comment-free log
# /var/lib/greenai/slurm/energy.tsv (job, node, start, end, joules). Never fails the job.
state=/var/lib/greenai/slurm
start=$(cat "$state/$SLURM_JOB_ID.start" 2>/dev/null || echo 0)
joules=$(curl -sf --max-time 2 http://127.0.0.1:9875/metrics 2>/dev/null \
  | awk -v j="slurm_job_id=\"$SLURM_JOB_ID\"" '/^greenai_job_energy_joules_total/ && index($0, j) {print $NF}')
printf '%s\t%s\t%s\t%s\t%s\n' "$SLURM_JOB_ID" "$(hostname)" "$start" "$(date +%s)" "${joules:-}" \
  >> "$state/energy.tsv" 2>/dev/null
rm -f "$state/$SLURM_JOB_ID.start"
exit 0
