#!/usr/bin/env bash
# A real one-host Slurm 22.05 cluster for tests: controller and node daemon on
# this host, as root, without systemd, munge or an accounting database.
#
#   slurm-cluster.sh install     Slurm's binaries into $PIPELINE_CACHE/slurm (once)
#   slurm-cluster.sh start DIR   a cluster with its state in DIR; `source DIR/env.sh`
#                                then points sbatch/squeue/scancel/sinfo/sacct at it
#   slurm-cluster.sh stop DIR    cancels its jobs and stops its daemons
#
# Several clusters can run at once (each picks free ports). With
# accounting_storage/none, sacct only says accounting is disabled: finished
# jobs' states come from `squeue --states=all` (kept MinJobAge seconds) or
# from DIR/log/jobcomp.txt.
set -euo pipefail

CACHE="${PIPELINE_CACHE:-$HOME/.cache/mdr}"
ROOT="$CACHE/slurm"
STAMP="$ROOT/.installed-22.05"
LIB="$ROOT/usr/lib/x86_64-linux-gnu"
PKGS=(slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge libmunge2 libhwloc15 liblua5.1-0)

die() { echo "slurm-cluster: $*" >&2; exit 1; }

# The binaries from Debian bookworm's debs, extracted rather than installed:
# this touches nothing system-wide and needs no postinst/systemd.
install() {
  [ -f "$STAMP" ] && return 0
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
    die "cannot install Slurm: needs apt-get and dpkg-deb (Debian/Ubuntu)"
  mkdir -p "$CACHE"
  # Tests may install in parallel: one at a time, the others then see the stamp.
  exec 9>"$CACHE/.slurm-install.lock"
  flock 9
  [ -f "$STAMP" ] && return 0
  local tmp
  tmp="$(mktemp -d "$CACHE/.slurm-install.XXXXXX")"
  trap "rm -rf '$tmp'" EXIT
  # Only refresh the package lists when the download needs it (slow, noisy).
  ( cd "$tmp" && { apt-get download "${PKGS[@]}" || { apt-get update -q && apt-get download "${PKGS[@]}"; }; } ) \
    >"$tmp/apt.log" 2>&1 || die "cannot download Slurm's debs: $(grep -m1 '^E:' "$tmp/apt.log" || tail -n1 "$tmp/apt.log")"
  mkdir "$tmp/root"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root" || die "cannot extract $deb"; done
  # Every library the daemons and client tools link must resolve from here.
  local missing
  local tlib="$tmp/root/usr/lib/x86_64-linux-gnu"
  missing="$(LD_LIBRARY_PATH="$tlib/slurm-wlm:$tlib" ldd "$tmp"/root/usr/{s,}bin/s* 2>/dev/null | grep 'not found' | sort -u || true)"
  [ -z "$missing" ] || die "Slurm's binaries miss libraries: $(echo $missing)"
  # Swap in atomically so an interrupted install never looks complete.
  rm -rf "$ROOT" && mv "$tmp/root" "$ROOT" && touch "$STAMP"
}

# Free TCP ports (the kernel picks them), so that clusters do not collide.
free_ports() {
  python3 -c 'import socket
s=[socket.socket() for _ in range('"$1"')]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))'
}

# The one environment both the daemons and the client tools need.
cluster_env() {
  export SLURM_CONF="$1/etc/slurm.conf"
  export LD_LIBRARY_PATH="$LIB/slurm-wlm:$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # Debian puts the client tools (sbatch, squeue, ...) right in usr/bin.
  export PATH="$ROOT/usr/bin:$ROOT/usr/sbin:$PATH"
}

# The daemons' stderr: it has what their log files have, and also the errors
# from before they open them.
logs_tail() {
  local f
  for f in "$1"/log/slurmctld.out "$1"/log/slurmd.out; do
    if [ -f "$f" ]; then echo "== $f"; tail -n 20 "$f"; fi
  done >&2
}

start() {
  local dir ctl_port d_port
  mkdir -p "$1" && dir="$(cd "$1" && pwd)"
  install
  local p
  for p in $(cat "$dir/run/pids" 2>/dev/null); do
    ! kill -0 "$p" 2>/dev/null || die "a cluster already runs in $dir (stop it first)"
  done
  mkdir -p "$dir"/{etc,state,spool,run,log}
  read -r ctl_port d_port < <(free_ports 2) || die "cannot pick free ports (needs python3)"
  : >"$dir/etc/plugstack.conf"
  # From the checked template (shared/slurm/slurm.conf.template) with ports,
  # paths and CPUs filled in. Finished jobs stay in squeue for MinJobAge s.
  cat >"$dir/etc/slurm.conf" <<EOF
ClusterName=pipetest
SlurmctldHost=localhost
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
PluginDir=$LIB/slurm-wlm
PlugStackConfig=$dir/etc/plugstack.conf
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MinJobAge=3600
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  cluster_env "$dir"
  cat >"$dir/env.sh" <<EOF
# Source this to use the cluster in $dir (written by slurm-cluster.sh start).
export SLURM_CONF="$SLURM_CONF"
export LD_LIBRARY_PATH="$LIB/slurm-wlm:$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PATH="$ROOT/usr/bin:\$PATH"
EOF
  # With none of our stdio: a caller that waits for our output (a test's
  # Command::output()) must not wait on the daemons too. They write their pid
  # files themselves (-D: no fork, so these are the same pids).
  # -c starts from clear state; -d: slurmd would look for slurmstepd in /usr.
  slurmctld-wlm -D -c </dev/null >"$dir/log/slurmctld.out" 2>&1 &
  local ctld=$!
  slurmd-wlm -D -N localhost -d "$ROOT/usr/sbin/slurmstepd-wlm" </dev/null >"$dir/log/slurmd.out" 2>&1 &
  local slurmd=$!
  echo "$ctld $slurmd" >"$dir/run/pids"
  # Bounded wait for the node to be idle; a daemon that dies (bad config, port
  # taken) fails at once. Client tools retry a dead controller for ~9 s each.
  local deadline=$((SECONDS + 60))
  until kill -0 $ctld $slurmd 2>/dev/null && sinfo -h -o %t 2>/dev/null | grep -q '^idle'; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 $ctld 2>/dev/null || ! kill -0 $slurmd 2>/dev/null; then
      echo "slurm-cluster: the cluster in $dir did not come up (daemon exited or 60 s passed)" >&2
      logs_tail "$dir"
      stop "$dir"
      exit 1
    fi
    sleep 0.2
  done
}

stop() {
  local dir="$1" pids p
  [ -s "$dir/run/pids" ] || return 0
  pids="$(cat "$dir/run/pids")"
  cluster_env "$dir"
  # Running jobs (slurmstepd and the job's processes) outlive the daemons:
  # cancel them while the controller still answers and let them end (bounded).
  if kill -0 ${pids%% *} 2>/dev/null && timeout 10 scancel --user=root >/dev/null 2>&1; then
    for _ in $(seq 50); do
      [ -z "$(timeout 5 squeue -h -t R,CG -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  kill $pids 2>/dev/null || true
  for p in $pids; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -f "$dir"/run/*pid*
}

case "${1:-}" in
  install) install ;;
  start) [ -n "${2:-}" ] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
