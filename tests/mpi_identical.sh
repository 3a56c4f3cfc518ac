#!/usr/bin/env bash
# The same sweep on 1, 2, 3 and 4 ranks (oversubscribed) gives bitwise identical datasets;
# also a grid with fewer blocks than ranks, a 5-axis grid, model threemode and mode adaptive
# (with the /boundary, /ep and /adaptive groups).
# Usage: mpi_identical.sh QBMAP MPIEXEC TESTS_SOURCE_DIR
set -u
qbmap=$1 mpiexec=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rc=0
run() { # name ranks config block_points
  "$mpiexec" -n "$2" "$qbmap" run "$src/data/$3" -o "$work/$1.$2.h5" --block-points "$4" \
    --progress 0 >"$work/$1.$2.log" 2>&1 || { echo "FAIL run $1 on $2 ranks"; cat "$work/$1.$2.log"; rc=1; }
}
for n in 1 2 3 4; do run grid3 $n mpi3.yaml 500; done
for n in 1 3 4; do run small $n small.yaml 5; done
for n in 1 4; do run tiny $n tiny.yaml 100; done
for n in 1 3; do run grid5 $n mpi5.yaml 3; done
for n in 1 2; do run three $n three.yaml 4; done
for n in 1 2 3 4; do run adapt $n adapt.yaml 50; done
for n in 1 2; do run empty $n empty.yaml 10; done
grep -h "blocks of" "$work"/grid3.1.log "$work"/small.4.log "$work"/tiny.4.log "$work"/grid5.3.log
/usr/bin/python3 "$src/compare_h5.py" "$work/grid3.1.h5" "$work/grid3.2.h5" "$work/grid3.3.h5" "$work/grid3.4.h5" || rc=1
/usr/bin/python3 "$src/compare_h5.py" "$work/small.1.h5" "$work/small.3.h5" "$work/small.4.h5" || rc=1
/usr/bin/python3 "$src/compare_h5.py" "$work/tiny.1.h5" "$work/tiny.4.h5" || rc=1
/usr/bin/python3 "$src/compare_h5.py" "$work/grid5.1.h5" "$work/grid5.3.h5" || rc=1
/usr/bin/python3 "$src/compare_h5.py" "$work/three.1.h5" "$work/three.2.h5" || rc=1
/usr/bin/python3 "$src/compare_h5.py" "$work/adapt.1.h5" "$work/adapt.2.h5" "$work/adapt.3.h5" "$work/adapt.4.h5" || rc=1
/usr/bin/python3 "$src/compare_h5.py" "$work/empty.1.h5" "$work/empty.2.h5" || rc=1
grep -h "/adaptive\|/boundary\|/ep" "$work"/adapt.4.log "$work"/empty.2.log
exit $rc
