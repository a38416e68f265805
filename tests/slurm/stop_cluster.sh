#!/usr/bin/env bash
# Stop the daemons tests/slurm/start_cluster.sh started (by PID, nothing else), then put
# the machine back as start_cluster.sh found it: remove the files and directories it
# created (slurm.conf above all: left behind, it makes every scontrol, and so every
# snakemake start with the SLURM executor plugin, wait ~9 s for a controller that is
# gone) and restore the files it overwrote, from its record in $STATE/undo.
set -uo pipefail
STATE=${GENHEP_SLURM_STATE:-/run/genhep-slurm}
UNDO=$STATE/undo
[[ -f $STATE/pids || -f $UNDO ]] || exit 0

if [[ -f $STATE/pids ]]; then
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
    if [[ $alive -ne 0 ]]; then
        echo "stop_cluster.sh: a daemon of $STATE/pids is still running" >&2
    fi
    # The daemons' own PID files too (slurm.conf puts them in $STATE).
    rm -f "$STATE/pids" "$STATE/slurmctld.pid" "$STATE/slurmd.pid"
fi

# Undo the record last line first: $STATE itself, when start_cluster.sh created it, is
# the first line, so it goes last, after the backups in it are restored.
status=0
if [[ -f $UNDO ]]; then
    mapfile -t entries < "$UNDO"
    for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
        IFS=$'\t' read -r kind path backup <<< "${entries[i]}"
        if [[ $path != /?* ]]; then  # never an empty path or / itself
            echo "stop_cluster.sh: skipping the bad line '${entries[i]}' of $UNDO" >&2
            status=1
            continue
        fi
        case $kind in
            dir)
                # $STATE holds the backups: kept while one could not be restored.
                [[ $path == "$STATE" && $status -ne 0 ]] || rm -rf -- "$path"
                ;;
            file) rm -f -- "$path" ;;
            restore)
                if ! cp -p -- "$backup" "$path"; then
                    echo "stop_cluster.sh: could not restore $path from $backup" >&2
                    status=1
                fi
                ;;
            *)
                echo "stop_cluster.sh: skipping the bad line '${entries[i]}' of $UNDO" >&2
                status=1
                ;;
        esac
    done
    # The record and the backups stay while a backup could not be restored, so that
    # nothing is lost and a second run can finish the job.
    if [[ $status -eq 0 ]]; then
        rm -f -- "$UNDO" "$STATE"/backup_*
    fi
fi
exit "$status"
