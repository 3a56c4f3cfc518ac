#!/usr/bin/env bash
# A throwaway single-node SLURM cluster (Debian's slurm-wlm + munge) with every file under DIR,
# for the `slurm` tests.  Daemons are started and stopped by PID, never by name.
#   cluster.sh start DIR   -> prints "export SLURM_CONF=DIR/slurm.conf"; waits until idle
#   cluster.sh stop DIR    -> stops the daemons recorded in DIR/*.pid, waits until gone
# DIR must be short (<= 60 characters: the munge socket path).
set -u
cmd=$1 dir=$2
stop() {
  for f in slurmd slurmctld munged; do
    [ -f "$dir/$f.pid" ] || continue
    pid=$(cat "$dir/$f.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$dir/$f.pid"
  done
}
if [ "$cmd" = stop ]; then stop; exit 0; fi

mkdir -p "$dir"/{munge,spool,state,log,tmp}
chmod 755 "$dir" "$dir/munge"
mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 || exit 1
chmod 600 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
  --origin=127.0.0.1 || exit 1
node=$(slurmd -C | head -1 | sed 's/ UpTime.*//')
name=$(sed 's/NodeName=\([^ ]*\).*/\1/' <<<"$node")
cat >"$dir/slurm.conf" <<CONF
ClusterName=qbtest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
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
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$name Default=YES MaxTime=INFINITE State=UP
CONF
echo "PMIxCliTmpDirBase=$dir/tmp" >"$dir/mpi.conf"
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$dir/slurm.conf" -c || { stop; exit 1; }
slurmd -f "$dir/slurm.conf" || { stop; exit 1; }
for _ in $(seq 100); do
  [ "$(sinfo -h -o %T 2>/dev/null | head -1)" = idle ] && { echo "export SLURM_CONF=$dir/slurm.conf"; exit 0; }
  sleep 0.2
done
echo "cluster.sh: the node never became idle" >&2
cat "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null | tail -20
stop
exit 1
