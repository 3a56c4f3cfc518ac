# shellcheck shell=bash disable=SC2086
# Job helpers for tests/slurm.sh (sourced after the cluster is up; uses its `alive`, $work and
# the SLURM_CONF it exported).  Every wait is bounded and watches the daemons (alive).

field() { # JOB FIELD -> the field of `scontrol show job` (empty if unknown)
  timeout 5 scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
final_state() {
  case $1 in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | \
    DEADLINE | PREEMPTED) return 0 ;; esac
  return 1
}
# wait (at most $2 s) for job $1 to end; sets $state to its final state
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
submit() { # LOG ARGS... -> job id (empty if sbatch failed); submitted from $work
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

usr1=10 frozen_ranks="" frozen_ids="" frozen_what="" last_ranks=""
# freeze JOB LOG NRANKS NRUN: waits (at most 120 s) until run NRUN of JOB (an id, or an array
# task ID_N) has started its sweep (LOG, appended across requeues, has NRUN "qbmap: model" lines:
# a signal before it would stop the run with nothing written), the batch shell has its USR1 trap
# and all NRANKS ranks their handlers; then freezes the ranks (SIGSTOP; they wait at the test
# gate meanwhile).  Adds them to $frozen_ranks and the job's own id (an array task's, once it
# runs) to $frozen_ids, for checkpoint; sets $last_ranks, and $frozen_what (what was found).
# Returns 1 if that did not happen (the job ended, or 120 s passed).
freeze() {
  local spec=$1 log=$2 nranks=$3 nrun=$4 deadline=$((SECONDS + 120)) pid step lid n ranks shell
  local st="" id=""
  while :; do
    ranks="" shell="" n=0
    [ "$st" = RUNNING ] && id=$(field "$spec" JobId)
    while read -r pid _ step lid _; do
      if [ "$step" = batch ] && [ "$lid" = 0 ]; then
        shell=$pid
      elif [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qbmap ]; then
        ranks="$ranks $pid"
        has_sig "$pid" SigCgt $usr1 && n=$((n + 1))
      fi
    done < <([ -n "$id" ] && timeout 5 scontrol listpids "$id" 2>/dev/null | tail -n +2)
    frozen_what="job ${id:-?}, ranks:${ranks:- none}; state ${st:-?}"
    if [ "$n" = "$nranks" ] && [ -n "$shell" ] && has_sig "$shell" SigCgt $usr1 &&
      [ "$(grep -c "^qbmap: model " "$log" 2>/dev/null)" -ge "$nrun" ]; then
      if kill -STOP $ranks 2>/dev/null; then
        frozen_ranks="$frozen_ranks $ranks" frozen_ids="$frozen_ids $id" last_ranks=$ranks
        return 0
      fi
      kill -CONT $ranks 2>/dev/null # a rank was gone: undo
    fi
    alive
    st=$(field "$spec" JobState)
    final_state "$st" && return 1
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# checkpoint: USR1 to the batch shell of each frozen job (`scancel --signal=USR1 --batch`, what
# --signal=B:USR1@N does at the time limit); waits (at most 60 s) until the shells' traps have
# forwarded it to every frozen rank (pending), then thaws them all.
checkpoint() {
  local id p n=0 total deadline=$((SECONDS + 60))
  for id in $frozen_ids; do
    timeout 30 scancel --signal=USR1 --batch "$id"
    ok "scancel --signal=USR1 --batch $id" $?
  done
  total=$(wc -w <<<"$frozen_ranks")
  while [ "$total" -gt 0 ]; do
    n=0
    for p in $frozen_ranks; do has_sig "$p" "SigPnd\|ShdPnd" $usr1 && n=$((n + 1)); done
    [ "$n" = "$total" ] && break
    alive
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  [ -n "$frozen_ranks" ] && kill -CONT $frozen_ranks
  ok "the traps forwarded USR1 to the frozen ranks (pending in $n of $total)" \
    $([ "$n" = "$total" ] && [ "$total" -gt 0 ] && echo 0 || echo 1)
  frozen_ranks="" frozen_ids=""
}
