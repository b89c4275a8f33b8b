#!/bin/sh
# Slurm Prolog (slurm.conf: Prolog=/etc/slurm/greenai-prolog.sh): notes the job's start on this
# node, so the epilog can ask the node's exporter for the job's energy. Never fails the job.
state=/var/lib/greenai/slurm
mkdir -p "$state" 2>/dev/null || exit 0
date +%s > "$state/$SLURM_JOB_ID.start" 2>/dev/null
exit 0
