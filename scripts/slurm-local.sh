#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for CI and the tests (tests/plugins/slurm).
#   bash scripts/slurm-local.sh install      # Debian's slurm-wlm and munge, without recommends (as root)
#   bash scripts/slurm-local.sh start DIR    # slurm.conf, munged, slurmctld, slurmd; all state under DIR
#   bash scripts/slurm-local.sh stop DIR     # stops the daemons that `start DIR` started
# `start` prints `export SLURM_CONF=DIR/slurm.conf`: every SLURM client (sinfo, squeue, sbatch,
# scancel, submitit) must see that variable. slurm.conf is written before any SLURM command
# runs: without one the clients fall back to "configless" mode and look the controller up in
# DNS, off this machine. munged gets a private socket and key copy under DIR, so two clusters
# (or a system munged) never meet. No accounting (no slurmdbd): `sacct` fails, by design.
set -euo pipefail

WAIT_S=${SLURM_LOCAL_WAIT_S:-240}   # the daemons sometimes stall for a minute on a loaded 2-core machine

die() { echo "slurm-local: $*" >&2; exit 1; }

# wait_for SECONDS WHAT COMMAND...: retry COMMAND every 0.5 s; on time-out say what was awaited
wait_for() {
    local limit=$1 what=$2; shift 2
    local start=$SECONDS
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS - start >= limit )); then
            die "gave up after ${limit}s waiting for ${what}"
        fi
        sleep 0.5
    done
    echo "slurm-local: ${what}: ok after $(( SECONDS - start ))s" >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then
        echo "slurm-local: slurm-wlm and munge already installed" >&2
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; }
}

start() {
    local dir=$1
    [ "$(id -u)" = 0 ] || die "start needs root (slurmd runs jobs as their submitter)"
    command -v slurmctld >/dev/null || die "slurm-wlm is not installed (bash $0 install)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ -e "$dir/slurmctld.pid" ] && die "$dir already holds a cluster (bash $0 stop $dir first)"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
    chmod 755 "$dir"
    trap 'echo "slurm-local: start failed: stopping what it started" >&2; stop "$dir"' EXIT

    # 1. slurm.conf, before anything that could read it
    local node cpus mem
    node=$(SLURM_CONF=/dev/null slurmd -C | head -1)
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    node=$(sed "s/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/" <<<"$node")
    cat >"$dir/slurm.conf" <<EOF
# written by scripts/slurm-local.sh: one node on localhost, no accounting
ClusterName=bioharness-local
SlurmctldHost=localhost
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( mem / cpus ))
ReturnToService=2
MailProg=/bin/true
SchedulerParameters=sched_interval=5
$node
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$dir/slurm.conf

    # 2. munged on a private socket, as the munge user with its own copy of the key
    chown munge:munge "$dir/munge"
    chmod 711 "$dir/munge"   # munged wants its socket folder searchable by all
    install -o munge -g munge -m 400 /etc/munge/munge.key "$dir/munge/munge.key"
    runuser -u munge -- /usr/sbin/munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
        --origin=127.0.0.1
    wait_for "$WAIT_S" "munged ($dir/munge/munge.socket)" test -S "$dir/munge/munge.socket"

    # 3. the controller and the node daemon
    slurmctld -f "$SLURM_CONF"
    wait_for "$WAIT_S" "slurmctld to answer (scontrol ping; log: $dir/log/slurmctld.log)" \
        bash -c 'scontrol ping | grep -q "is UP"'
    slurmd -f "$SLURM_CONF" -N localhost
    wait_for "$WAIT_S" "node localhost to be idle (sinfo; log: $dir/log/slurmd.log)" \
        bash -c '[ "$(sinfo -h -n localhost -o %t)" = idle ]'
    trap - EXIT
    echo "export SLURM_CONF=$SLURM_CONF"
}

stop_pidfile() {  # stop_pidfile FILE NAME: TERM, then KILL after a bounded wait
    local file=$1 name=$2 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        local start=$SECONDS
        while kill -0 "$pid" 2>/dev/null; do
            if (( SECONDS - start >= 30 )); then
                echo "slurm-local: $name (PID $pid) ignored SIGTERM for 30s: SIGKILL" >&2
                kill -9 "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    fi
    rm -f "$file"
}

stop() {
    local dir=$1
    [ -d "$dir" ] || die "no cluster folder $dir"
    export SLURM_CONF=$dir/slurm.conf
    if [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
        scancel --full --quiet --user "$(id -un)" 2>/dev/null || true   # no job outlives its cluster
    fi
    stop_pidfile "$dir/slurmd.pid" slurmd
    stop_pidfile "$dir/slurmctld.pid" slurmctld
    stop_pidfile "$dir/munge/munged.pid" munged
}

case "${1:-}" in
    install) install_packages ;;
    start) [ $# = 2 ] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
