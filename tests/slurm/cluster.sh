#!/usr/bin/env bash
# A throwaway single-node SLURM cluster (Debian's slurm-wlm + munge) with every file under DIR,
# for the `slurm` tests.  Daemons are started and stopped by PID, never by name.  Several such
# clusters can run on one machine at once: each has its own free ports (asked of the kernel),
# ClusterName, munge key and socket, and first job id.
#   cluster.sh start DIR [CTLD_PORT SLURMD_PORT]
#       -> on success prints "export SLURM_CONF=DIR/slurm.conf" and exits 0 once the node is
#          idle; on failure prints one line "cluster.sh: REASON" on stderr, stops whatever it
#          started and exits 1 (within about 30 s: every wait is bounded and watches the
#          daemons).  Without ports it picks free ones and, if a daemon still cannot bind (a
#          port taken in between), retries with new ones.
#   cluster.sh alive DIR   -> exit 0 if munged, slurmctld and slurmd are all running, else
#                             prints "cluster.sh: DAEMON (PID) is not running; ..." on stderr
#                             and exits 1
#   cluster.sh stop DIR    -> kills what jobs left running (see members), stops the daemons
#                             recorded in DIR/*.pid; waits until all are gone
#   cluster.sh members DIR -> prints the PIDs of every running process of the cluster
# DIR must be short (<= 60 characters: the munge socket path).
set -u
usage="usage: cluster.sh start|alive|members|stop DIR"
cmd=${1:?$usage} dir=${2:?$usage}

. "$(dirname "$0")/procs.sh"
raw_pid() { cat "$dir/$1.pid" 2>/dev/null; }
# the recorded PID of daemon $1, if that process still runs as $1 (a reused PID is not it)
pid_of() {
  local pid comm
  pid=$(cat "$dir/$1.pid" 2>/dev/null) && read -r comm 2>/dev/null <"/proc/$pid/comm" &&
    [ "$comm" = "$1" ] && echo "$pid"
}
# the last line a daemon logged (for the one-line failure message)
last_line() {
  local l
  l=$(cat "$dir/log/$1.log" "$dir/log/$1.out" 2>/dev/null | grep -v '^\s*$' | tail -1)
  echo "${l:-nothing logged}"
}
# this cluster's slurmstepd processes (they have its SLURM_CONF in their environment)
stepds() {
  local p comm
  for p in $(grep -l -s -z -x -F "SLURM_CONF=$dir/slurm.conf" /proc/[0-9]*/environ | cut -d/ -f3)
  do
    read -r comm 2>/dev/null <"/proc/$p/comm" && [ "$comm" = slurmstepd ] && echo "$p"
  done
}
daemons() { local f; for f in slurmd slurmctld munged; do pid_of $f; done; }
# every running process of the cluster: the daemons, the job steps and all their descendants
members() { tree $(daemons) $(stepds); }
# stop [raw]: with raw (a failed start: its daemons were just started) DIR/*.pid are trusted
# without the name check
stop() {
  local f d p pids left=""
  # whatever the jobs left (only after a failure: normally every job has ended): by PID
  kill_tree $(stepds)
  # the daemons: TERM, up to 5 s to exit, then KILL; munged last (the others use it to shut
  # down)
  for f in "slurmd slurmctld" munged; do
    pids=$(for d in $f; do if [ "${1:-}" = raw ]; then raw_pid "$d"; else pid_of "$d"; fi; done)
    [ -n "$pids" ] || continue
    kill $pids 2>/dev/null
    for _ in $(seq 50); do
      left=""
      for p in $pids; do running "$p" && left="$left $p"; done
      [ -z "$left" ] && break
      sleep 0.1
    done
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
  done
  rm -f "$dir"/{slurmd,slurmctld,munged}.pid
}
# exit 0 if all three daemons run, else 1 with a one-line reason on stdout
check_alive() {
  local f pid
  for f in munged slurmctld slurmd; do
    pid=$(pid_of $f)
    if [ -z "$pid" ] || ! running "$pid"; then
      echo "$f ($(cat "$dir/$f.pid" 2>/dev/null || echo 'no PID')) is not running; its last log line: $(last_line $f)"
      return 1
    fi
  done
}

case $cmd in
  stop) stop; exit 0 ;;
  members) members; exit 0 ;;
  alive) why=$(check_alive) || { echo "cluster.sh: $why" >&2; exit 1; }; exit 0 ;;
  start) ;;
  *) echo "cluster.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac

fail() {
  echo "cluster.sh: $*" >&2
  stop raw
  exit 1
}
[ ${#dir} -le 60 ] || fail "state dir '$dir' is longer than 60 characters (socket path limit)"
mkdir -p "$dir"/{munge,spool,state,log,tmp,run} || fail "cannot create $dir"
chmod 755 "$dir" "$dir/munge"
mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
  fail "mungekey failed"
chmod 600 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
  --origin=127.0.0.1 || fail "munged did not start: $(last_line munged)"

# node: name and memory of this machine; more CPUs than cores so that the tests' jobs run at once
node=$(slurmd -C | head -1)
name=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node")
mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
[ -n "$name" ] && [ -n "$mem" ] || fail "slurmd -C gave no node line"
cluster=qb$$$(basename "$dir" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9' | tail -c 24) # unique, <= 40
first_job=$(((RANDOM * 32768 + RANDOM) % 50000000 + 1000))

free_ports() { # two distinct ports the kernel considers free right now
  /usr/bin/python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
for x in s:
    x.bind(("", 0))
print(*[x.getsockname()[1] for x in s])'
}

write_conf() {
  cat >"$dir/slurm.conf" <<CONF
ClusterName=$cluster
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
FirstJobId=$first_job
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
TmpFS=$dir/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=600
KillWait=10
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$name CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=$mem NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$name Default=YES MaxTime=INFINITE State=UP
CONF
  echo "PMIxCliTmpDirBase=$dir/tmp" >"$dir/mpi.conf"
}

# one attempt: start slurmctld and slurmd in the foreground (their PIDs known at once) and wait
# until the node is idle.  Returns 0 (up), 1 (failed: reason on stdout), 2 (a daemon died: maybe
# a port taken; reason on stdout).
attempt() {
  local f pid
  write_conf "$1" "$2"
  export SLURM_CONF=$dir/slurm.conf
  rm -f "$dir/log/slurmctld.log" "$dir/log/slurmd.log"
  slurmctld -D -c -f "$dir/slurm.conf" </dev/null >"$dir/log/slurmctld.out" 2>&1 &
  echo $! >"$dir/slurmctld.pid"
  slurmd -D -f "$dir/slurm.conf" </dev/null >"$dir/log/slurmd.out" 2>&1 &
  echo $! >"$dir/slurmd.pid"
  while :; do
    for f in slurmctld slurmd; do
      pid=$(raw_pid $f) # (maybe not yet exec'd: no name check)
      running "$pid" || { echo "$f died: $(last_line $f)"; return 2; }
    done
    [ "$(timeout 5 sinfo -h -o %T 2>/dev/null | head -1)" = idle ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || { echo "the node was not idle after 25 s"; return 1; }
    sleep 0.2
  done
}

deadline=$((SECONDS + 25)) # for all attempts together
if [ $# -ge 4 ]; then
  why=$(attempt "$3" "$4") || fail "$why (ports $3/$4)"
else
  for try in 1 2 3; do
    read -r cport dport < <(free_ports) && [ -n "$dport" ] || fail "no free ports found"
    why=$(attempt "$cport" "$dport")
    rc=$?
    [ $rc = 0 ] && break
    # kill what is left of this attempt before the next one
    for f in slurmd slurmctld; do
      pid=$(raw_pid $f) && kill -KILL "$pid" 2>/dev/null
      rm -f "$dir/$f.pid"
    done
    [ $rc = 2 ] && [ $try -lt 3 ] || fail "$why (ports $cport/$dport, attempt $try)"
  done
fi
echo "export SLURM_CONF=$dir/slurm.conf"
exit 0
