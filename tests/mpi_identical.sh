#!/usr/bin/env bash
# The same sweep on 1, 2, 3 and 4 ranks (oversubscribed) gives bitwise identical datasets and
# equal attributes; also a grid with fewer blocks than ranks (ranks without work), block counts
# that do not divide by the rank count (short last rounds), a 5-axis grid, model threemode and
# mode adaptive (with the /boundary, /ep and /adaptive groups, each non-empty), and post-passes
# that find nothing (empty groups).  The decomposition each case is meant to exercise is
# checked from the run's own report of its blocks.
# Usage: mpi_identical.sh QBMAP MPIEXEC TESTS_SOURCE_DIR
set -u
qbmap=$1 mpiexec=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
pass=0 fail=0
ok() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1"; fi; }
run() { # name ranks config block_points
  "$mpiexec" -n "$2" "$qbmap" run "$src/data/$3" -o "$work/$1.$2.h5" --block-points "$4" \
    --progress 0 >"$work/$1.$2.log" 2>&1
  local rc=$?
  ok "run $1 on $2 ranks (exit $rc)" $rc
  [ $rc = 0 ] || cat "$work/$1.$2.log"
}
cmp_runs() { # compare_h5.py arguments
  /usr/bin/python3 "$src/compare_h5.py" "$@" >"$work/cmp.log" 2>&1
  local rc=$?
  ok "identical: $*" $rc
  [ $rc = 0 ] || grep -v "^compare_h5:" "$work/cmp.log" | head -20
}
nblocks() { sed -n 's/.* \([0-9][0-9]*\) blocks of .*/\1/p' "$work/$1.log"; }
for n in 1 2 3 4; do run grid3 $n mpi3.yaml 560; done
for n in 1 3 4; do run small $n small.yaml 5; done
for n in 1 4; do run tiny $n tiny.yaml 100; done
for n in 1 3; do run grid5 $n mpi5.yaml 3; done
for n in 1 2; do run three $n three.yaml 4; done
for n in 1 2 3 4; do run adapt $n adapt.yaml 50; done
for n in 1 2; do run empty $n empty.yaml 10; done
grep -h "blocks of" "$work"/grid3.1.log "$work"/small.4.log "$work"/tiny.4.log "$work"/grid5.3.log
# the decompositions the cases are for
b=$(nblocks tiny.4)
ok "tiny: fewer blocks ($b) than 4 ranks" $([ -n "$b" ] && [ "$b" -lt 4 ] && echo 0 || echo 1)
b=$(nblocks small.4)
ok "small: $b blocks, a short last round on 3 and on 4 ranks" \
  $([ -n "$b" ] && [ $((b % 3)) != 0 ] && [ $((b % 4)) != 0 ] && echo 0 || echo 1)
b=$(nblocks grid3.1)
ok "grid3: $b blocks, many rounds, short last round on 3 and 4 ranks" \
  $([ -n "$b" ] && [ "$b" -ge 8 ] && [ $((b % 3)) != 0 ] && [ $((b % 4)) != 0 ] && echo 0 || echo 1)
for f in grid3 small tiny grid5 three adapt empty; do
  ok "$f: block count independent of the rank count" \
    $([ "$(cat "$work/$f".*.log | sed -n 's/.* \([0-9][0-9]*\) blocks of .*/\1/p' | sort -u | wc -l)" = 1 ] && echo 0 || echo 1)
done
cmp_runs --group boundary --group ep "$work/grid3.1.h5" "$work/grid3.2.h5" "$work/grid3.3.h5" "$work/grid3.4.h5"
cmp_runs "$work/small.1.h5" "$work/small.3.h5" "$work/small.4.h5"
cmp_runs --group boundary=2 "$work/tiny.1.h5" "$work/tiny.4.h5"
cmp_runs --group boundary --group ep "$work/grid5.1.h5" "$work/grid5.3.h5"
cmp_runs "$work/three.1.h5" "$work/three.2.h5"
cmp_runs --group boundary --group ep --group adaptive "$work/adapt.1.h5" "$work/adapt.2.h5" "$work/adapt.3.h5" "$work/adapt.4.h5"
cmp_runs --group boundary=0 --group ep=0 "$work/empty.1.h5" "$work/empty.2.h5"
grep -h "/adaptive\|/boundary\|/ep" "$work"/adapt.4.log "$work"/empty.2.log
echo "mpi_identical: $pass passed, $fail failed"
[ "$fail" = 0 ]
