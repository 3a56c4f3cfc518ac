# shellcheck shell=bash
# Sourced (bash) by the job scripts whose sweep survives its time limit (sweep.sbatch,
# slices.sbatch); sources launch.sh beside it (the array `launch`, HDF5_USE_FILE_LOCKING=FALSE)
# and defines:
#   qb_config_output CONFIG        the config's top-level `output:` value, if any
#   qb_run_requeueable OUT ARGS... one checkpointable run of `qbmap ARGS...` writing OUT
# The job scripts ask for --signal=B:USR1@120, --requeue and --open-mode=append.
# shellcheck source=jobs/launch.sh
. "$(dirname "${BASH_SOURCE[0]}")/launch.sh" 1 # outside a job: 1 rank (not the caller's $1)

# qb_config_output CONFIG: prints the value of CONFIG's top-level `output:` key (qbmap's output
# path when no -o is given), nothing when there is none (or CONFIG cannot be read: qbmap then
# says why).  Reads the first line that starts with the key (block style at column 0, the key
# optionally quoted): a plain value, up to a ` #` comment, or a single- or double-quoted one
# without escapes.  Any other form (a block scalar, anchor, alias, tag, flow collection,
# escape, a value continued on the next line) gives one line on stderr and returns 2: the
# script must not guess a path that qbmap would read differently.
qb_config_output() {
  local hit n v next q="'"
  hit=$(grep -n -m1 -E "^(output|\"output\"|${q}output${q})[[:space:]]*:([[:space:]]|\$)" \
    "$1" 2>/dev/null) || return 0
  n=${hit%%:*}
  [[ ${hit#*:} =~ ^[^:]*:[[:space:]]*(.*)$ ]] # the key has no colon: the first one ends it
  v=${BASH_REMATCH[1]%$'\r'}
  next=$(sed -n "$((n + 1))p" "$1")
  if [[ $v =~ ^\"([^\"\\]*)\"[[:space:]]*(#.*)?$ ]] || [[ $v =~ ^\'([^\']*)\'[[:space:]]*(#.*)?$ ]]
  then
    v=${BASH_REMATCH[1]}
  else
    v=${v%%[[:space:]]#*}        # a comment
    [[ $v == \#* ]] && v=""       # nothing but a comment: empty (qbmap says so)
    v=${v%"${v##*[![:space:]]}"} # trailing blanks
    local start="[^][{}#&*!|>%@\`\"',?:[:space:]-]|[?:-][^[:space:]]"
    if [ -n "$v" ] && { ! [[ $v =~ ^($start) ]] || [[ $v == *": "* || $v == *: ]] ||
      [[ $next =~ ^[[:space:]]+[^[:space:]#] ]]; }; then
      echo "qbmap job: $1:$n: output: '$v': a job script reads only a one-line plain or quoted file name" \
        "(no escapes, anchors, aliases, tags or block scalars); allowed: such a name, or the" \
        "OUTPUT argument" >&2
      return 2
    fi
  fi
  printf '%s\n' "$v"
}

# qb_run_requeueable OUT ARGS...: runs `${launch[@]} ARGS...` (ARGS: the qbmap binary, `run`
# and its arguments, never --force) as a job step in the background, with `--resume` added when
# OUT or OUT.partial exists (an earlier run of this job, or of a job submitted before).  USR1 to
# the batch shell (SLURM's --signal=B:USR1@N before the time limit) is forwarded to the step:
# qbmap commits its finished blocks and exits 3.  On exit 3 the job requeues itself, unless it
# has been requeued (for any reason: SLURM_RESTART_COUNT) QBMAP_MAX_REQUEUES times already
# (default 20): then one line says so and the function returns 3 (OUT stays resumable).
# Returns qbmap's exit code otherwise (0 after the requeue was accepted); 2 with one line for a
# bad QBMAP_MAX_REQUEUES, before anything runs.
qb_run_requeueable() {
  local out=$1 max=${QBMAP_MAX_REQUEUES:-20} restarts=${SLURM_RESTART_COUNT:-0} rc=0
  shift
  if ! [[ $max =~ ^[0-9]{1,6}$ ]]; then
    echo "qbmap job: QBMAP_MAX_REQUEUES = '$max'; allowed: a whole number from 0 to 999999" >&2
    return 2
  fi
  local resume=()
  if [ -e "$out" ] || [ -e "$out.partial" ]; then resume=(--resume); fi
  echo "qbmap job ${SLURM_JOB_ID:-?} (restart $restarts of at most $max):" \
    "${launch[*]} $*${resume[*]:+ ${resume[*]}} (output: $out)"
  qb_step=""
  # the trap is set before the step starts: a USR1 in between must not kill this script
  trap 'echo "qbmap job: USR1: checkpointing"; [ -n "${qb_step:-}" ] && kill -USR1 "$qb_step"' USR1
  "${launch[@]}" "$@" "${resume[@]}" &
  qb_step=$!
  while :; do # wait returns early (status > 128) when the trap fires: wait again
    rc=0
    wait "$qb_step" || rc=$?
    kill -0 "$qb_step" 2>/dev/null || break
  done
  [ "$rc" = 3 ] || return "$rc"
  if [ "$restarts" -ge "$max" ]; then
    echo "qbmap job: checkpointed; the requeue cap is reached (restart $restarts," \
      "QBMAP_MAX_REQUEUES = $max): not requeueing; $out is resumable: submit the job again"
    return 3
  fi
  echo "qbmap job: checkpointed; requeueing (restart $((restarts + 1)) of at most $max)"
  scontrol requeue "$SLURM_JOB_ID"
}
