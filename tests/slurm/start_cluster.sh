#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, on loopback, for tests and for trying the
# slurm profile without a real cluster. Run as root (it writes /etc/slurm/slurm.conf and
# starts daemons); stop it with tests/slurm/stop_cluster.sh.
#
#   sudo tests/slurm/start_cluster.sh [partition]      # default partition: test
#
# Installs Debian's slurm-wlm and munge when they are missing (they stay installed).
# Daemons' PIDs go to $STATE/pids (default /run/genhep-slurm), so the stop script kills
# only what this started. Every file and directory this creates or overwrites is noted in
# $STATE/undo first (an overwritten file is backed up to $STATE), and the stop script
# removes or restores them: a slurm.conf left behind makes every scontrol, and so every
# snakemake start with the SLURM executor plugin (it runs `scontrol show config` at
# import), wait ~9 s for a controller that is gone.
set -euo pipefail

PARTITION=${1:-test}
STATE=${GENHEP_SLURM_STATE:-/run/genhep-slurm}
CONF=/etc/slurm/slurm.conf  # the plugin's job step drops SLURM_CONF: it must be here
MARK="# Written by genhep tests/slurm/start_cluster.sh"  # the first line of our $CONF

if [[ $(id -u) -ne 0 ]]; then
    echo "start_cluster.sh: needs root (writes $CONF, starts munged/slurmctld/slurmd)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi

# The undo record: lines "dir PATH" (remove the tree), "file PATH" (remove the file) and
# "restore PATH BACKUP", undone last first. A second start before a stop keeps the first
# record, which holds the machine as it was found.
UNDO=$STATE/undo
RECORD=1
if [[ -d $STATE ]]; then
    if [[ -e $UNDO ]]; then RECORD=0; fi
else
    mkdir -p "$STATE"
    printf 'dir\t%s\n' "$STATE" >> "$UNDO"
fi

# new_dirs DIR...: mkdir -p, noting the directories that were not there (their parents
# are system directories that are).
new_dirs() {
    local d
    for d in "$@"; do
        if [[ ! -e $d ]] && ((RECORD)); then
            printf 'dir\t%s\n' "$d" >> "$UNDO"
        fi
        mkdir -p "$d"
    done
}

# will_write FILE: note FILE before it is created or overwritten. A file that exists is
# backed up, unless it is a slurm.conf this script wrote (left by an earlier stop script
# that did not remove it): that one is removed at stop like a new file.
will_write() {
    local f=$1 backup
    ((RECORD)) || return 0
    if [[ -e $f && $(head -n 1 "$f") != "$MARK"* ]]; then
        backup=$STATE/backup${f//\//_}
        cp -p -- "$f" "$backup"
        printf 'restore\t%s\t%s\n' "$f" "$backup" >> "$UNDO"
    else
        printf 'file\t%s\n' "$f" >> "$UNDO"
    fi
}

new_dirs /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /etc/slurm
# A second start before a stop adds its daemons to the first one's, for the stop to end.
if ((RECORD)); then : > "$STATE/pids"; fi

# munge: authentication between the daemons and the client commands.
if [[ ! -s /etc/munge/munge.key ]]; then
    will_write /etc/munge/munge.key
    mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
fi
new_dirs /run/munge
install -d -o munge -g munge -m 711 /run/munge
if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
    sleep 1
    pgrep -x -u munge munged >> "$STATE/pids"
fi

# This machine as the only node; its size as slurmd measures it.
HOST=$(hostname)
read -r CPUS MEM < <(slurmd -C | awk '/^NodeName/ {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print v["CPUs"], v["RealMemory"] }')
will_write "$CONF"
cat > "$CONF" <<CONF
$MARK: a single-node test cluster on loopback.
ClusterName=genhep-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# No accounting database: the profile polls squeue, and finished jobs must stay
# visible there for a while (at least three status-check intervals).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

# The daemons' logs, shown when the start fails: stop_cluster.sh removes /var/log/slurm
# when this script created it.
show_logs() {
    tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 2>/dev/null || true
}
trap 'echo "start_cluster.sh: failed; the logs of the daemons end with:" >&2; show_logs' ERR

slurmctld -f "$CONF"
slurmd -f "$CONF"
for _ in $(seq 60); do
    [[ -s $STATE/slurmctld.pid && -s $STATE/slurmd.pid ]] && break
    sleep 0.5
done
cat "$STATE/slurmctld.pid" "$STATE/slurmd.pid" >> "$STATE/pids"

# Ready when the node is idle in the partition.
for _ in $(seq 60); do
    if sinfo -h -p "$PARTITION" -o %t 2>/dev/null | grep -q idle; then
        echo "slurm cluster up: partition $PARTITION, node $HOST ($CPUS CPUs, $MEM MB)"
        exit 0
    fi
    sleep 1
done
echo "start_cluster.sh: the node did not become idle; the daemons' logs end with:" >&2
show_logs
sinfo >&2 || true
exit 1
