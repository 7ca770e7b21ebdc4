#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for CI and for trying profiles/slurm by hand.
#
#   sudo ci/slurm-up.sh      # install (if absent), configure, start, wait until the node is idle
#   sudo ci/slurm-down.sh    # stop the daemons again (by the PIDs they wrote)
#
# Debian/Ubuntu, as root, no systemd needed (works in a container). No accounting database:
# `sacct` does not work here, so Snakemake must poll with `--slurm-status-command squeue`
# (see README, "Running on a cluster"). The slurm.conf is written only if there is none or if
# it is ours, so a real cluster's configuration is never overwritten.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by evotickets ci/slurm-up.sh"
T0=$(date +%s%N)
say() { printf 'slurm-up: %s\n' "$*" >&2; }
elapsed() {  # seconds since a `date +%s%N` stamp, one decimal
    local ms=$((($(date +%s%N) - $1) / 1000000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

if [ "$(id -u)" != 0 ]; then
    say "must run as root (it installs packages and starts daemons)"
    exit 1
fi

# 1. Packages --------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd slurm-client munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
T_INSTALLED=$(date +%s%N)
say "packages ready after $(elapsed "$T0")s ($(slurmd -V))"

# 2. Configuration ---------------------------------------------------------------------------
HOST=$(hostname -s)
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    say "$CONF exists and was not written by this script; leaving it alone"
else
    read -r CPUS MEM < <(slurmd -C | python3 -c '
import re, sys
text = sys.stdin.read()
cpus = int(re.search(r"CPUs=(\d+)", text).group(1))
mem = int(re.search(r"RealMemory=(\d+)", text).group(1))
print(cpus, max(500, mem - max(1000, mem // 20)))')
    mkdir -p /etc/slurm
    cat >"$CONF" <<CONFEOF
$MARK
ClusterName=ci
SlurmctldHost=$HOST
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# No accounting database: sacct does not work, poll with squeue. squeue must still see a
# finished job for a while, so keep MinJobAge (default 300 s) well above the poll interval.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF
    say "wrote $CONF (node $HOST, $CPUS CPUs, ${MEM} MB)"
fi

# 3. munge key and directories ---------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /var/log/munge \
    /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chown slurm:slurm /var/spool/slurmctld /var/log/slurm

# 4. Daemons (each writes its own PID file; an already running one is kept) -----------------
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if alive /run/munge/munged.pid; then say "munged already running"; else
    runuser -u munge -- /usr/sbin/munged
fi
if alive /run/slurmctld.pid; then say "slurmctld already running"; else /usr/sbin/slurmctld; fi
if alive /run/slurmd.pid; then say "slurmd already running"; else /usr/sbin/slurmd; fi

# 5. Wait until the node accepts jobs ---------------------------------------------------------
for _ in $(seq 1 120); do
    state=$(sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -n1 || true)
    case "$state" in
        idle | mix | alloc) break ;;
        down* | drain* | unk*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
if [ "${state:-}" != idle ] && [ "${state:-}" != mix ] && [ "${state:-}" != alloc ]; then
    say "node $HOST did not become idle (state '${state:-?}'); see /var/log/slurm/*.log"
    exit 1
fi
say "node $HOST is $state: $(elapsed "$T0")s after start, $(elapsed "$T_INSTALLED")s after the packages were ready ($(sbatch --version))"
