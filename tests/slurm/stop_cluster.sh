#!/usr/bin/env bash
# Stop the daemons tests/slurm/start_cluster.sh started (by PID, nothing else).
set -uo pipefail
STATE=${GENHEP_SLURM_STATE:-/run/genhep-slurm}
[[ -f $STATE/pids ]] || exit 0
while read -r pid; do
    [[ -n $pid ]] && kill "$pid" 2>/dev/null
done < "$STATE/pids"
for _ in $(seq 20); do
    alive=0
    while read -r pid; do
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && alive=1
    done < "$STATE/pids"
    [[ $alive -eq 0 ]] && break
    sleep 0.5
done
rm -f "$STATE/pids"
