#!/usr/bin/env bash
# The SLURM job scripts against a real single-node cluster started here (tests/slurm/cluster.sh;
# stopped by PID at the end, nothing left running):
#   1. jobs/sweep.sbatch completes with the expected file (bitwise equal to a local run);
#   2. with a 1-minute limit and --signal=B:USR1@50 it receives the signal, checkpoints (exit 3),
#      requeues itself and resumes until done: output bitwise identical to an uninterrupted run;
#   3. jobs/slices.sbatch as a 3-task array: three complete slices equal to local runs.
# Usage: slurm.sh QBMAP MPIEXEC TESTS_SOURCE_DIR
set -u
qbmap=$(realpath "$1") mpiexec=$2 src=$(cd "$3" && pwd)
jobs=$(cd "$src/../jobs" && pwd)
dir=/tmp/qbs-$$
work=$(mktemp -d)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 QBMAP=$qbmap
pass=0 fail=0
ok() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1"; fi; }
cleanup() {
  "$src/slurm/cluster.sh" stop "$dir"
  rm -rf "$dir" "$work"
}
trap cleanup EXIT
eval "$("$src/slurm/cluster.sh" start "$dir")" || { echo "slurm: cluster did not start"; exit 1; }

# wait for job $1 to end; prints its final state
wait_job() {
  local id=$1 limit=$2 state=""
  for _ in $(seq "$limit"); do
    state=$(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1)
    case $state in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
    sleep 1
  done
  echo "$state"
}

# 1. a plain job
"$mpiexec" -n 2 "$qbmap" run "$src/data/resume.yaml" -o "$work/ref1.h5" >/dev/null 2>&1
id=$(cd "$work" && sbatch --parsable -o "$work/job1.log" "$jobs/sweep.sbatch" "$src/data/resume.yaml" "$work/job1.h5")
state=$(wait_job "$id" 120)
ok "plain job completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)
/usr/bin/python3 "$src/compare_h5.py" "$work/ref1.h5" "$work/job1.h5" >"$work/cmp1.log" 2>&1
ok "plain job: output equals a local run" $?

# 2. time limit -> signal -> checkpoint -> requeue -> resume
"$mpiexec" -n 2 "$qbmap" run "$src/data/slurm_long.yaml" -o "$work/ref2.h5" >/dev/null 2>&1 &
refpid=$!
id=$(cd "$work" && sbatch --parsable --time=1 --signal=B:USR1@50 -o "$work/job2.log" \
  "$jobs/sweep.sbatch" "$src/data/slurm_long.yaml" "$work/job2.h5")
wait "$refpid"
state=$(wait_job "$id" 400)
ok "requeued job completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)
grep -q "checkpointed; requeueing" "$work/job2.log"
ok "the job checkpointed and requeued itself" $?
grep -q "restart [1-9]" "$work/job2.log" && grep -q "resuming .*blocks done" "$work/job2.log"
ok "the requeued run resumed" $?
/usr/bin/python3 "$src/compare_h5.py" "$work/ref2.h5" "$work/job2.h5" >"$work/cmp2.log" 2>&1
ok "requeued job: bitwise identical to an uninterrupted run" $?
echo "slurm: job 2 log:"
grep -E "^qbmap job|resuming|stopped by a signal" "$work/job2.log" | sed 's/^/    /'

# 3. an array of slices
id=$(cd "$work" && sbatch --parsable --array=0-2 -o "$work/slice-%a.log" "$jobs/slices.sbatch" \
  "$src/../examples/ep_fig6.yaml" gamma_b "0.5 1 1.5" "$work")
for t in 0 1 2; do
  state=$(wait_job "${id}_$t" 120)
  ok "array task $t completes (state $state)" $([ "$state" = COMPLETED ] && echo 0 || echo 1)
done
for v in 0.5 1 1.5; do
  "$qbmap" run "$src/../examples/ep_fig6.yaml" -o "$work/ref_$v.h5" --set "gamma_b=$v" >/dev/null 2>&1
  /usr/bin/python3 "$src/compare_h5.py" "$work/ref_$v.h5" "$work/ep_fig6_gamma_b=$v.h5" >/dev/null 2>&1
  ok "slice gamma_b = $v equals a local run" $?
done

pids=$(cat "$dir"/*.pid 2>/dev/null)
"$src/slurm/cluster.sh" stop "$dir"
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=1; done
ok "no daemon left running" $left
echo "slurm: $pass passed, $fail failed"
[ "$fail" = 0 ]
