#!/usr/bin/env bash
# Numerical hazards at scale (not part of the test suite): 1e7 random points per model over
# wide ranges (tests/test_hazards.c), on both cores: the ep model's 1e7 as two halves with
# different seeds.  Prints the counts; exit non-zero on any unexplained NaN or unflagged inf.
# Usage: bench/hazards.sh BUILD_DIR [POINTS]
set -u
b=$(cd "$1" && pwd)/tests/test_hazards
n=${2:-10000000}
half=$((n / 2))
rc=0
( "$b" "$half" ep 1 >/tmp/hz.ep1 2>&1; "$b" "$n" threemode 3 >/tmp/hz.three 2>&1 ) &
( "$b" "$half" ep 2 >/tmp/hz.ep2 2>&1; "$b" "$n" shared 4 >/tmp/hz.shared 2>&1 ) &
wait
for f in /tmp/hz.ep1 /tmp/hz.ep2 /tmp/hz.three /tmp/hz.shared; do
  cat "$f"
  grep -q " 0 failed" "$f" || rc=1
done
exit $rc
