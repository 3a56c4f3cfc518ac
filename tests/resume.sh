#!/usr/bin/env bash
# Crash safety: runs killed with SIGKILL at random instants (and, through the fault-injection
# variable QBMAP_TEST_STALL, which makes rank 0 sleep 3 s at a phase, during skeleton creation,
# during the post-passes and during the final attribute write) are resumed with `--resume` on
# 1-3 ranks and must end bitwise identical to an uninterrupted run.  Every kill must land where
# it was meant to: a phase kill is sent once the run shows it is in that phase (the .partial
# skeleton exists; the /boundary line is printed before the /ep group's stall; the /ep line
# before the final write) and the file it leaves must have that phase's signature; a random
# kill must hit a running sweep (not a finished one).  A kill that missed is retried, at most
# 4 times, deterministically (phase kills: the same trigger; random kills: an instant within the
# time the missed attempt took, the last one at 0.2 s);
# still missing is a failure.  The resumed run must report the state it found.  Also: SIGUSR1
# twice during the grid pass -> exit 3 and a clean resume; resume of a complete file is a
# no-op.
# Usage: resume.sh QBMAP MPIEXEC TESTS_SOURCE_DIR [KILLS]
set -u
qbmap=$1 mpiexec=$2 src=$3 kills=${4:-22}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cfg=$src/data/resume.yaml
opts=(--block-points 4000 --flush 0.05 --progress 1000)
pass=0 fail=0
ok() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1"; fi; }
yes_no() { "$@" && echo 0 || echo 1; }

"$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$work/ref.h5" "${opts[@]}" >"$work/ref.log" 2>&1
ok "reference run" $?
tref=$(sed -n 's/.*done: .* in \([0-9.]*\) s .*/\1/p' "$work/ref.log")
ok "reference run reports its time ($tref s)" $(yes_no [ -n "$tref" ])
tref=${tref:-1}
nblocks=$(sed -n 's/.* \([0-9][0-9]*\) blocks of .*/\1/p' "$work/ref.log")
ok "reference run reports its blocks ($nblocks)" $(yes_no [ -n "$nblocks" ])

killjob() { # SIGKILL the ranks (children of mpiexec), then mpiexec
  pkill -KILL -P "$1" 2>/dev/null
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# The state a killed run left: none | partial | complete | done=D/N groups=G | unreadable: ...
state_of() {
  HDF5_USE_FILE_LOCKING=FALSE /usr/bin/python3 -c "
import h5py, os, sys
p = sys.argv[1]
if not os.path.exists(p):
    print('partial' if os.path.exists(p + '.partial') else 'none'); sys.exit()
try:
    with h5py.File(p, 'r') as f:
        if int(f.attrs.get('complete', 0)) == 1:
            print('complete'); sys.exit()
        g = ','.join(x for x in ('boundary', 'ep') if x in f and 'point' in f[x])
        print('done=%d/%d groups=%s' % (f['blocks/done'][()].sum(), f['blocks/done'].size, g or '-'))
except Exception as e:
    print('unreadable:', str(e).replace(chr(10), ' '))
" "$1" 2>&1
}

# waits (up to 300 s) until the run shows it is in `phase`; 1 if it ended first
wait_phase() { # phase out log pid
  local i
  for i in $(seq 6000); do
    case $1 in
      create) [ -e "$2.partial" ] && return 0 ;;
      postpass) grep -q "^qbmap: /boundary:" "$3" && return 0 ;;
      final) grep -q "^qbmap: /ep:" "$3" && sleep 1 && return 0 ;; # 1 s into the 3 s stall
    esac
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# 0 if `state` is what a kill in `phase` leaves
landed() { # phase state
  case $1 in
    create) [ "$2" = partial ] ;;
    postpass) [ "$2" = "done=$nblocks/$nblocks groups=boundary" ] ;; # in the /ep group's stall
    final) [ "$2" = "done=$nblocks/$nblocks groups=boundary,ep" ] ;;
    *) [ "$2" != complete ] ;; # a sweep still running, in any state
  esac
}

# Starts a run (fresh or --resume) with QBMAP_TEST_STALL=$stall, kills it in its phase (or
# after `delay` s) and leaves the state in $state; retried up to 3 times if the kill missed.
kill_run() { # name out ranks stall delay resume_flag
  local name=$1 out=$2 n=$3 stall=$4 delay=$5 resume=$6 attempt pid alive i t0 took
  for attempt in 1 2 3 4; do
    if [ -z "$resume" ]; then
      rm -f "$out" "$out.partial"
    elif [ "$attempt" -gt 1 ]; then # the state the first kill left, again
      rm -f "$out" "$out.partial"
      cp "$work/before/"* "$(dirname "$out")/"
    fi
    QBMAP_TEST_STALL=$stall "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" $resume "${opts[@]}" \
      >"$work/$name.log" 2>&1 &
    pid=$!
    t0=$(date +%s.%N)
    if [ -n "$stall" ]; then
      wait_phase "$stall" "$out" "$work/$name.log" "$pid"
    else # `delay` seconds, or until the run ends (a miss)
      sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d - int(d / 0.1) * 0.1 }')"
      for i in $(seq "$(awk -v d="$delay" 'BEGIN { print int(d / 0.1) }')"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    alive=$(yes_no kill -0 "$pid" 2>/dev/null)
    grep -q "qbmap: done:" "$work/$name.log" && alive=1
    killjob "$pid"
    state=$(state_of "$out")
    [ "$alive" = 0 ] && landed "${stall:-random}" "$state" && break
    echo "note: $name attempt $attempt: the kill missed (${stall:-after $delay s}: running $([ "$alive" = 0 ] && echo yes || echo no), state $state); retrying"
    # a random kill that came too late (a loaded machine): a new instant within the time this
    # attempt took, and at last 0.2 s (inside mpiexec's start-up: state none, still a crash)
    took=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
    delay=$(awk -v r=$RANDOM -v t="$took" -v k="$attempt" \
      'BEGIN { d = 0.2 + 0.7 * t * r / 32767; printf "%.3f", k >= 3 ? 0.2 : d }')
  done
  ok "$name: the kill landed $([ -n "$stall" ] && echo "in phase $stall" || echo "during the run") (state $state)" \
    $([ "$alive" = 0 ] && landed "${stall:-random}" "$state" && echo 0 || echo 1)
}

# the resumed run must have found the state the kill left
check_resume_log() { # name state log out
  local want
  case $2 in
    partial) want="resuming $4: its skeleton was never finished: rebuilding" ;;
    done=*) want="resuming $4: $(sed 's|done=\([0-9]*\)/\([0-9]*\).*|\1 of \2 blocks done|' <<<"$2")" ;;
    *) want="" ;;
  esac
  ok "$1: the resumed run reports the state it found ($2)" \
    $([ -n "$want" ] && grep -qF "$want" "$3" && echo 0 || echo 1)
}

RANDOM=20261122
for k in $(seq 1 "$kills"); do
  out=$work/run$k.h5
  stall=""
  case $k in
    1 | 2 | 3) stall=create ;;
    4 | 5) stall=postpass ;;
    6 | 7 | 8) stall=final ;;
  esac
  delay=$(awk -v r=$RANDOM -v t="$tref" 'BEGIN { printf "%.3f", 0.2 + t * r / 32767 }')
  kill_run "run$k" "$out" 2 "$stall" "$delay" ""
  n=$((1 + RANDOM % 3))
  if [ $((k % 5)) = 0 ] && [ "$state" != none ]; then # kill the resumed run too, then resume again
    rm -rf "$work/before" && mkdir "$work/before"
    cp "$out" "$out.partial" "$work/before/" 2>/dev/null
    first=$state
    kill_run "res$k.a" "$out" "$n" postpass 0 --resume # in its /ep group's stall
    check_resume_log "run $k (first resume)" "$first" "$work/res$k.a.log" "$out"
  fi
  if [ "$state" = none ]; then # killed before any file existed: --resume refuses, rerun afresh
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/res$k.log" 2>&1
    rc=$?
    ok "run $k: --resume without a file is refused (exit $rc)" $([ $rc = 2 ] && echo 0 || echo 1)
    grep -q "nothing to resume" "$work/res$k.log"
    ok "run $k: --resume without a file: message" $?
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >"$work/res$k.log" 2>&1
    rc=$?
  else
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/res$k.log" 2>&1
    rc=$?
    check_resume_log "run $k" "$state" "$work/res$k.log" "$out"
  fi
  echo "run $k: killed (${stall:-random instant}) in state $state; resumed on $n rank(s): exit $rc"
  ok "run $k resume exit status" $rc
  /usr/bin/python3 "$src/compare_h5.py" --group boundary --group ep "$work/ref.h5" "$out" >"$work/cmp$k.log" 2>&1
  ok "run $k bitwise identical after resume" $?
  [ "$rc" != 0 ] && sed 's/^/    /' "$work/res$k.log" | tail -5
  grep FAIL "$work/cmp$k.log" | head -3
  rm -f "$out" "$out.partial"
done

# SIGUSR1 (twice) through mpiexec during the grid pass: exit 3, checkpoint, clean resume.  The
# signals are sent once a progress line shows rounds remain (--progress 0: after every round;
# --flush 0: a flush per round); a run that finished regardless is retried, at most 3 times.
out=$work/sig.h5
for attempt in 1 2 3; do
  rm -f "$out"
  "$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$out" --block-points 4000 --flush 0 --progress 0 \
    >"$work/sig.log" 2>&1 &
  pid=$!
  for i in $(seq 6000); do
    grep -q "points/s" "$work/sig.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -USR1 "$pid" 2>/dev/null
  sleep 0.02
  kill -USR1 "$pid" 2>/dev/null
  wait "$pid"
  rc=$?
  grep -q "qbmap: done:" "$work/sig.log" || break
  echo "note: SIGUSR1 attempt $attempt: the run finished before the signal took effect; retrying"
done
ok "SIGUSR1: exit code 3 (got $rc)" $([ "$rc" = 3 ] && echo 0 || echo 1)
grep -q "checkpointed, not finished" "$work/sig.log"
ok "SIGUSR1: message" $?
st=$(state_of "$out")
ok "SIGUSR1: checkpointed part of the grid ($st)" \
  $([[ "$st" =~ ^done=([0-9]+)/$nblocks ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[1]}" -lt "$nblocks" ] && echo 0 || echo 1)
"$mpiexec" -n 1 "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/sigres.log" 2>&1
ok "SIGUSR1: resume" $?
check_resume_log "SIGUSR1" "$st" "$work/sigres.log" "$out"
/usr/bin/python3 "$src/compare_h5.py" --group boundary --group ep "$work/ref.h5" "$out" >/dev/null 2>&1
ok "SIGUSR1: bitwise identical after resume" $?
"$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/again.log" 2>&1
ok "resume of a complete file" $?
grep -q "is complete: nothing to do" "$work/again.log"
ok "resume of a complete file: message" $?

echo "resume: $pass passed, $fail failed"
[ "$fail" = 0 ]
