#!/usr/bin/env bash
# Stop the single-node cluster that ci/slurm-up.sh started: by the PID each daemon wrote into
# its PID file, never by process name (other SLURM or munge processes on the machine are left
# alone). Safe to run when nothing is running.
set -uo pipefail

stop() {  # stop <pidfile> <name>
    local pidfile=$1 name=$2 pid
    [ -s "$pidfile" ] || { echo "slurm-down: $name: no pid file $pidfile" >&2; return 0; }
    pid=$(cat "$pidfile")
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "slurm-down: $name (pid $pid) is not running" >&2
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { echo "slurm-down: stopped $name (pid $pid)" >&2; rm -f "$pidfile"; return 0; }
        sleep 0.2
    done
    echo "slurm-down: $name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# Reverse order of start: the node daemon, the controller, then authentication.
stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
stop /run/munge/munged.pid munged
