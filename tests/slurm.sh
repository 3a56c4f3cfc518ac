#!/usr/bin/env bash
# The SLURM job scripts against a real single-node cluster started here (tests/slurm/cluster.sh:
# its own free ports, cluster name, munge key and state dir, so that several copies of the suite
# can run at once; stopped by PID at the end, nothing left running).
# The checkpoint path is made deterministic (never a race against a time limit): once a job's
# sweep has started (its ranks then wait before their second round at qbmap's test gate) with
# its batch shell's USR1 trap and the ranks' signal handlers installed, the test freezes the
# ranks (SIGSTOP), sends USR1 to the batch shell (`scancel --signal=USR1 --batch`, what
# --signal=B:USR1@N does at the limit), waits until the trap has forwarded USR1 to every rank
# and thaws them: qbmap stops after its current round, commits and exits 3.
#   1. jobs/sweep.sbatch without OUTPUT writes the config's `output:` (and nothing in
#      $SCRATCH), bitwise equal to a local run;
#   2. jobs/sweep.sbatch, 2 ranks, OUTPUT given (the config's `output:` then unused),
#      QBMAP_MAX_REQUEUES=1: checkpointed, requeues itself (restart 1), the rerun resumes and
#      is checkpointed again: the cap is reached, the job fails with exit code 3 and says so;
#      submitted again it resumes and completes, bitwise identical to an uninterrupted run;
#   3. jobs/slices.sbatch as a 2-task array: task 0 is checkpointed (its rank has
#      HDF5_USE_FILE_LOCKING=FALSE from the script), requeues itself and resumes; both slices
#      complete, bitwise equal to local runs;
#   4. the scripts run directly (no job): default output $SCRATCH/<config>.h5, a rerun resumes
#      instead of overwriting, and bad input (QBMAP_MAX_REQUEUES, an array task beyond VALUES,
#      an `output:` form the scripts do not read) gives one line and exit 2; the reading of
#      `output:` against a table of YAML forms.
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
unset HDF5_USE_FILE_LOCKING QBMAP_MAX_REQUEUES QBMAP_TEST_GATE SCRATCH # the jobs' own settings
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
. "$src/slurm/jobs.sh"

# the configs of jobs 1 and 2: copies with an `output:` key (the local reference runs read the
# same files: the config is stored in the output)
cfg1=$work/honoured.yaml cfg2=$work/long.yaml
{ cat "$src/data/resume.yaml"; echo "output: honoured.h5   # relative to the working directory"; } >"$cfg1"
{ cat "$src/data/slurm_long.yaml"; echo "output: 'unused.h5'"; } >"$cfg2"
mkdir "$work/scratch"

# submit the three jobs at once (the node has 8 CPUs: they all run); jobs 2 and 3 wait at
# qbmap's test gate before their second round until $work/gate2 (gate3) exists or a signal
# arrives, so their sweeps are surely still running when the test signals them
id2=$(submit "$work/job2.log" --ntasks=2 \
  --export="ALL,QBMAP_TEST_GATE=round:$work/gate2,QBMAP_MAX_REQUEUES=1" \
  "$jobs/sweep.sbatch" "$cfg2" "$work/job2.h5")
id1=$(submit "$work/job1.log" --export="ALL,SCRATCH=$work/scratch" "$jobs/sweep.sbatch" "$cfg1")
id3=$(submit "$work/slice-%a.log" --array=0-1 --export="ALL,QBMAP_TEST_GATE=round:$work/gate3" \
  "$jobs/slices.sbatch" "$src/data/slurm_long.yaml" gamma_b "0.5 1.5" "$work")
[ -n "$id1" ] && [ -n "$id2" ] && [ -n "$id3" ] ||
  abort "sbatch failed: $(tail -1 "$work/sbatch.err")"

# 2, 3: the first checkpoint of job 2 and of slice task 0
freeze "$id2" "$work/job2.log" 2 1
ok "job 2, run 1: its 2 ranks frozen mid-sweep, handlers installed ($frozen_what)" $?
freeze "${id3}_0" "$work/slice-0.log" 1 1
ok "slice task 0: its rank frozen mid-sweep, handler installed ($frozen_what)" $?
grep -q -z -x HDF5_USE_FILE_LOCKING=FALSE "/proc/${last_ranks# }/environ" 2>/dev/null
ok "slices.sbatch: the rank has HDF5_USE_FILE_LOCKING=FALSE" $?

# the local reference runs, meanwhile (they also fill the requeued jobs' wait)
(
  t="timeout --foreground 300"
  $t "$mpiexec" -n 2 "$qbmap" run "$cfg1" -o "$work/ref1.h5" >"$work/ref1.log" 2>&1
  $t "$mpiexec" -n 2 "$qbmap" run "$cfg2" -o "$work/ref2.h5" >"$work/ref2.log" 2>&1
  for v in 0.5 1.5; do
    $t "$qbmap" run "$src/data/slurm_long.yaml" -o "$work/ref_$v.h5" --set "gamma_b=$v" \
      >"$work/ref_$v.log" 2>&1
  done
) &
refs=$!

checkpoint
touch "$work/gate3" # slice task 1 and the requeued task 0 pass the gate at once

# 4. the scripts run directly, while the requeued jobs wait
. "$src/slurm/scripts.sh"

# 2. job 2's second run (restart 1) checkpointed: the cap of 1 requeue is reached
freeze "$id2" "$work/job2.log" 2 2
ok "job 2, run 2 (requeued): its 2 ranks frozen mid-sweep ($frozen_what)" $?
checkpoint
touch "$work/gate2"
wait_job "$id2" 120
ok "job 2 at its requeue cap fails (state $state, exit code $(field "$id2" ExitCode))" \
  $([ "$state" = FAILED ] && [ "$(field "$id2" ExitCode)" = 3:0 ] && echo 0 || echo 1)
grep -q "checkpointed; requeueing (restart 1 of at most 1)" "$work/job2.log" &&
  grep -q "restart 1 of at most 1" "$work/job2.log" &&
  grep -q "requeue cap is reached (restart 1, QBMAP_MAX_REQUEUES = 1): not requeueing" \
    "$work/job2.log"
ok "job 2 requeued once, then said the cap was reached" $?
[ "$(grep -c "stopped by a signal after committing [1-9][0-9]* of" "$work/job2.log")" = 2 ] &&
  grep -q "resuming .*: [1-9][0-9]* of [0-9]* blocks done" "$work/job2.log"
ok "job 2: both runs committed blocks, the second resumed" $?
# submitted again, it resumes and completes
id2b=$(submit "$work/job2b.log" --ntasks=2 "$jobs/sweep.sbatch" "$cfg2" "$work/job2.h5")
[ -n "$id2b" ] || abort "sbatch failed: $(tail -1 "$work/sbatch.err")"

# 1. the config's output
wait_job "$id1" 180
ok "job 1 completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)
# 3. the array of slices
for t in 0 1; do
  wait_job "${id3}_$t" 180
  ok "slice task $t completes (state $state, restarts $(field "${id3}_$t" Restarts))" \
    $([ "$state" = COMPLETED ] && echo 0 || echo 1)
done
grep -q "stopped by a signal after committing [1-9][0-9]* of" "$work/slice-0.log" &&
  grep -q "checkpointed; requeueing (restart 1 of at most 20)" "$work/slice-0.log" &&
  grep -q "resuming .*: [1-9][0-9]* of [0-9]* blocks done" "$work/slice-0.log"
ok "slice task 0 checkpointed, requeued itself and resumed" $?
wait_job "$id2b" 180
ok "job 2 submitted again completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)
grep -q -- "--resume" "$work/job2b.log" &&
  grep -q "resuming .*: [1-9][0-9]* of [0-9]* blocks done" "$work/job2b.log"
ok "job 2 submitted again resumed" $?

# outputs against the local runs
wait "$refs"
refs=""
/usr/bin/python3 "$src/compare_h5.py" "$work/ref1.h5" "$work/honoured.h5" >"$work/cmp1.log" 2>&1
ok "job 1: the config's output:, equal to a local run" $?
[ -z "$(ls -A "$work/scratch")" ]
ok "job 1: nothing in \$SCRATCH" $?
/usr/bin/python3 "$src/compare_h5.py" "$work/ref2.h5" "$work/job2.h5" >"$work/cmp2.log" 2>&1
ok "job 2 (checkpointed twice, resubmitted): bitwise identical to an uninterrupted run" $?
! [ -e "$work/unused.h5" ]
ok "job 2: OUTPUT given, the config's output: unused" $?
for v in 0.5 1.5; do
  /usr/bin/python3 "$src/compare_h5.py" "$work/ref_$v.h5" "$work/slurm_long_gamma_b=$v.h5" \
    >"$work/cmp_$v.log" 2>&1
  ok "slice gamma_b = $v equals a local run" $?
done
echo "slurm: job 2 and slice 0 logs:"
cat "$work/job2.log" "$work/job2b.log" "$work/slice-0.log" |
  grep -E "^qbmap job|resuming|stopped by a signal|qbmap: done" | sed 's/^/    /'

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
