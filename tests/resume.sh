#!/usr/bin/env bash
# Crash safety: runs killed with SIGKILL at random instants (and, through the fault-injection
# variable QBMAP_TEST_STALL, during skeleton creation, during the post-passes and during the
# final attribute write) are resumed with `--resume` on 1-3 ranks and must end bitwise
# identical to an uninterrupted run.  Also: SIGUSR1 twice -> exit 3 and a clean resume; resume
# of a complete file is a no-op.
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

"$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$work/ref.h5" "${opts[@]}" >"$work/ref.log" 2>&1
ok "reference run" $?
tref=$(sed -n 's/.*done: .* in \([0-9.]*\) s .*/\1/p' "$work/ref.log")

killjob() { # SIGKILL the ranks (children of mpiexec), then mpiexec
  pkill -KILL -P "$1" 2>/dev/null
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
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
  QBMAP_TEST_STALL=$stall "$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" \
    >"$work/run$k.log" 2>&1 &
  pid=$!
  if [ -n "$stall" ]; then
    sleep 1.5 # inside the 3 s stall: the reference run takes about $tref s
    [ "$stall" = create ] && ! [ -e "$out.partial" ] && echo "note: run $k: no $out.partial yet"
  else
    sleep "$(awk -v r=$RANDOM -v t="$tref" 'BEGIN { printf "%.3f", 0.2 + t * r / 32767 }')"
  fi
  killjob "$pid"
  state=$(/usr/bin/python3 -c "
import h5py, os, sys
p = '$out'
if not os.path.exists(p): print('partial' if os.path.exists(p + '.partial') else 'none'); sys.exit()
try:
    f = h5py.File(p, 'r'); print('complete' if f.attrs['complete'] == 1 else 'done=%d/%d' % (f['done'][()].sum(), f['done'].size))
except Exception as e: print('unreadable:', e)
" 2>&1)
  n=$((1 + RANDOM % 3))
  if [ $((k % 5)) = 0 ]; then # kill the resumed run too, then resume again
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/res$k.a.log" 2>&1 &
    p2=$!
    sleep 0.3
    killjob "$p2"
  fi
  if [ "$state" = none ]; then # killed before any file existed: --resume refuses, rerun afresh
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/res$k.log" 2>&1
    rc=$?
    ok "run $k: --resume without a file is refused (exit $rc)" $([ $rc = 2 ] && echo 0 || echo 1)
    grep -q "nothing to resume" "$work/res$k.log"
    ok "run $k: --resume without a file: message" $?
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >"$work/res$k.log" 2>&1
  else
    "$mpiexec" -n "$n" "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/res$k.log" 2>&1
  fi
  rc=$?
  echo "run $k: killed (${stall:-random instant}) in state $state; resumed on $n rank(s): exit $rc"
  ok "run $k resume exit status" $rc
  /usr/bin/python3 "$src/compare_h5.py" "$work/ref.h5" "$out" >"$work/cmp$k.log" 2>&1
  ok "run $k bitwise identical after resume" $?
  [ "$rc" != 0 ] && sed 's/^/    /' "$work/res$k.log" | tail -5
  grep FAIL "$work/cmp$k.log" | head -3
  rm -f "$out"
done

# SIGUSR1 (twice) through mpiexec: exit 3, checkpoint, clean resume
out=$work/sig.h5
"$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >"$work/sig.log" 2>&1 &
pid=$!
sleep 0.5
kill -USR1 "$pid"
sleep 0.02
kill -USR1 "$pid"
wait "$pid"
rc=$?
ok "SIGUSR1: exit code 3 (got $rc)" $([ "$rc" = 3 ] && echo 0 || echo 1)
grep -q "checkpointed, not finished" "$work/sig.log"
ok "SIGUSR1: message" $?
"$mpiexec" -n 1 "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/sigres.log" 2>&1
ok "SIGUSR1: resume" $?
/usr/bin/python3 "$src/compare_h5.py" "$work/ref.h5" "$out" >/dev/null 2>&1
ok "SIGUSR1: bitwise identical after resume" $?
"$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/again.log" 2>&1
ok "resume of a complete file" $?
grep -q "is complete: nothing to do" "$work/again.log"
ok "resume of a complete file: message" $?

echo "resume: $pass passed, $fail failed"
[ "$fail" = 0 ]
