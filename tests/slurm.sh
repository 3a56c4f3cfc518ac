#!/usr/bin/env bash
# The SLURM job scripts against a real single-node cluster started here (tests/slurm/cluster.sh:
# its own free ports, cluster name, munge key and state dir, so that several copies of the suite
# can run at once; stopped by PID at the end, nothing left running):
#   1. jobs/sweep.sbatch completes with the expected file (bitwise equal to a local run);
#   2. the checkpoint path, made deterministic (never a race against a time limit): once the
#      job's sweep has started (its ranks then wait before their second round at qbmap's test
#      gate) with their signal handlers installed, the test freezes them (SIGSTOP),
#      sends USR1 to the batch shell (`scancel --signal=USR1 --batch`, what --signal=B:USR1@N
#      does at the limit), waits until the shell's trap has forwarded USR1 to every rank and
#      thaws them: qbmap stops after its current round, commits (exit 3), the script requeues
#      itself and the rerun resumes until done: output bitwise identical to an uninterrupted run;
#   3. jobs/slices.sbatch as a 3-task array: three complete slices equal to local runs.
# The three jobs run at once (the local reference runs meanwhile).  Every wait is bounded and
# watches the daemons: a cluster that does not come up or dies fails the test within seconds
# with one line.
# Usage: slurm.sh QBMAP MPIEXEC TESTS_SOURCE_DIR
set -u
qbmap=$(realpath "$1") mpiexec=$2 src=$(cd "$3" && pwd)
jobs=$(cd "$src/../jobs" && pwd)
dir=$(mktemp -d /tmp/qbs-XXXXXX) # short: sockets live under it
work=$(mktemp -d)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 QBMAP=$qbmap
pass=0 fail=0 refs=""
. "$src/slurm/procs.sh"
ok() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1"; fi; }
cleanup() {
  [ -n "$refs" ] && { kill_tree "$refs"; wait "$refs"; } 2>/dev/null # the local reference runs
  "$src/slurm/cluster.sh" stop "$dir"
  rm -rf "$dir" "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP
# one failure line, the closing line, exit
abort() {
  ok "$1" 1
  echo "slurm: $pass passed, $fail failed"
  exit 1
}

if ! out=$("$src/slurm/cluster.sh" start "$dir" 2>"$work/cluster.err"); then
  abort "cluster did not start: $(sed 's/^cluster.sh: //' "$work/cluster.err" | tail -1)"
fi
eval "$out"
[ -n "${SLURM_CONF:-}" ] || abort "cluster did not start: cluster.sh printed no SLURM_CONF"
# the daemons must stay up: a dead one ends the test at once
alive() {
  "$src/slurm/cluster.sh" alive "$dir" 2>"$work/alive.err" ||
    abort "the cluster died: $(sed 's/^cluster.sh: //' "$work/alive.err" | tail -1)"
}
field() { # JOB FIELD -> the field of `scontrol show job` (empty if unknown)
  timeout 5 scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
final_state() {
  case $1 in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | \
    DEADLINE | PREEMPTED) return 0 ;; esac
  return 1
}
# wait (at most $2 s, the daemons watched) for job $1 to end; sets $state to its final state
wait_job() {
  local id=$1 deadline=$((SECONDS + $2))
  state=""
  while :; do
    alive # first: a query to a dead cluster would only time out
    state=$(field "$id" JobState)
    final_state "$state" && break
    [ "$SECONDS" -lt "$deadline" ] || { state="${state:-unknown} after $2 s"; break; }
    sleep 0.5
  done
}
submit() { # LOG ARGS... -> job id (empty if sbatch failed)
  local log=$1
  shift
  (cd "$work" && timeout 30 sbatch --parsable -o "$log" "$@" 2>>"$work/sbatch.err") | cut -d';' -f1
}
has_sig() { # PID MASK-LINES SIGNAL-BIT: is the bit set in one of the /proc status lines?
  local m
  for m in $(sed -n "s/^\($2\):[[:space:]]*//p" "/proc/$1/status" 2>/dev/null); do
    (((0x$m >> ($3 - 1)) & 1)) && return 0
  done
  return 1
}

# submit all three jobs at once (the node has 8 CPUs: they all run)
# job 2's ranks wait before their second round until $work/gate2 exists or a signal arrives
# (qbmap's test gate), so the sweep is surely still running when the test signals it
id2=$(submit "$work/job2.log" --ntasks=2 --export="ALL,QBMAP_TEST_GATE=round:$work/gate2" \
  "$jobs/sweep.sbatch" "$src/data/slurm_long.yaml" "$work/job2.h5")
id1=$(submit "$work/job1.log" "$jobs/sweep.sbatch" "$src/data/resume.yaml" "$work/job1.h5")
id3=$(submit "$work/slice-%a.log" --array=0-2 "$jobs/slices.sbatch" \
  "$src/../examples/ep_fig6.yaml" gamma_b "0.5 1 1.5" "$work")
[ -n "$id1" ] && [ -n "$id2" ] && [ -n "$id3" ] ||
  abort "sbatch failed: $(tail -1 "$work/sbatch.err")"

# 2a. wait until the sweep has started (its first line: a signal before it would stop the run
# with nothing written), the batch shell has its USR1 trap and both ranks their handlers; freeze
# the ranks (SIGUSR1 = 10).  They wait at the gate meanwhile.
usr1=10 ranks="" shell="" frozen=1 deadline=$((SECONDS + 120))
while :; do
  ranks="" shell="" n=0
  while read -r pid _ step lid _; do
    if [ "$step" = batch ] && [ "$lid" = 0 ]; then
      shell=$pid
    elif [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qbmap ]; then
      ranks="$ranks $pid"
      has_sig "$pid" SigCgt $usr1 && n=$((n + 1))
    fi
  done < <(timeout 5 scontrol listpids "$id2" 2>/dev/null | tail -n +2)
  if [ "$n" = 2 ] && [ -n "$shell" ] && has_sig "$shell" SigCgt $usr1 &&
     grep -q "^qbmap: model " "$work/job2.log" 2>/dev/null; then
    kill -STOP $ranks 2>/dev/null && frozen=0 && break
    kill -CONT $ranks 2>/dev/null # a rank was gone: undo
  fi
  alive
  state=$(field "$id2" JobState)
  final_state "$state" && break
  grep -q "qbmap: done" "$work/job2.log" 2>/dev/null && break
  [ "$SECONDS" -lt "$deadline" ] || break
  sleep 0.1
done
ok "the long job's 2 ranks were frozen mid-sweep with handlers installed (found:${ranks:- none}; state ${state:-?})" $frozen

# the local reference runs, meanwhile (they also fill the requeued job's wait)
(
  t="timeout --foreground 300"
  $t "$mpiexec" -n 2 "$qbmap" run "$src/data/resume.yaml" -o "$work/ref1.h5" >"$work/ref1.log" 2>&1
  $t "$mpiexec" -n 2 "$qbmap" run "$src/data/slurm_long.yaml" -o "$work/ref2.h5" >"$work/ref2.log" 2>&1
  for v in 0.5 1 1.5; do
    $t "$qbmap" run "$src/../examples/ep_fig6.yaml" -o "$work/ref_$v.h5" --set "gamma_b=$v" \
      >"$work/ref_$v.log" 2>&1
  done
) &
refs=$!

# 2b. USR1 to the batch shell; its trap forwards it to the step: wait until every frozen rank
# has it pending, then thaw them
if [ "$frozen" = 0 ]; then
  timeout 30 scancel --signal=USR1 --batch "$id2"
  ok "scancel --signal=USR1 --batch" $?
  deadline=$((SECONDS + 60))
  while :; do
    n=0
    for p in $ranks; do has_sig "$p" "SigPnd\|ShdPnd" $usr1 && n=$((n + 1)); done
    [ "$n" = 2 ] && break
    alive
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  kill -CONT $ranks
  ok "the trap forwarded USR1 to both ranks (pending in $n)" $([ "$n" = 2 ] && echo 0 || echo 1)
fi
touch "$work/gate2" # the requeued run passes the gate at once

# 1. the plain job
wait_job "$id1" 180
ok "plain job completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)

# 3. the array of slices
for t in 0 1 2; do
  wait_job "${id3}_$t" 180
  ok "array task $t completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)
done

# outputs against the local runs (while the requeued job waits for its restart)
wait "$refs"
refs=""
/usr/bin/python3 "$src/compare_h5.py" "$work/ref1.h5" "$work/job1.h5" >"$work/cmp1.log" 2>&1
ok "plain job: output equals a local run" $?
for v in 0.5 1 1.5; do
  /usr/bin/python3 "$src/compare_h5.py" "$work/ref_$v.h5" "$work/ep_fig6_gamma_b=$v.h5" >/dev/null 2>&1
  ok "slice gamma_b = $v equals a local run" $?
done

# 2c. the requeued job
wait_job "$id2" 300
ok "requeued job completes (state $state, restarts $(field "$id2" Restarts))" \
  $([ "$state" = COMPLETED ] && echo 0 || echo 1)
grep -q "stopped by a signal after committing [1-9][0-9]* of" "$work/job2.log" &&
  grep -q "checkpointed; requeueing" "$work/job2.log"
ok "the job checkpointed and requeued itself" $?
grep -q "restart [1-9]" "$work/job2.log" &&
  grep -q "resuming .*: [1-9][0-9]* of [0-9]* blocks done" "$work/job2.log"
ok "the requeued run resumed with blocks done" $?
/usr/bin/python3 "$src/compare_h5.py" "$work/ref2.h5" "$work/job2.h5" >"$work/cmp2.log" 2>&1
ok "requeued job: bitwise identical to an uninterrupted run" $?
echo "slurm: job 2 log:"
grep -E "^qbmap job|resuming|stopped by a signal|qbmap: done" "$work/job2.log" | sed 's/^/    /'

# stop the cluster: no daemon (nor any other process of the cluster) may be left
pids=$(cat "$dir"/*.pid 2>/dev/null)
"$src/slurm/cluster.sh" stop "$dir"
left=""
for p in $pids $("$src/slurm/cluster.sh" members "$dir"); do
  running "$p" && left="$left $p"
done
ok "no daemon left running (${left:- none})" $([ -z "$left" ] && echo 0 || echo 1)
echo "slurm: $pass passed, $fail failed"
[ "$fail" = 0 ]
