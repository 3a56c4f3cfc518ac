#!/usr/bin/env bash
# Adaptive vs uniform at equal boundary accuracy (prints figures; not a test).  The EP paper's
# Fig. 3 planes (3 values of gamma_b) with growth_rate, the /boundary pass (along delta_r) and
# the /ep pass:
#   uniform   3 x 2241 x 2561 = 17.2e6 points;
#   adaptive  the 3 x 36 x 41 coarse grid with max_depth 6 (the same fine grid).
# Also the post-passes' share of the uniform run (boundary refinement overhead).
# Usage: bench/bench_adaptive.sh BUILD_DIR [WORK_DIR]
set -eu
build=$(cd "$1" && pwd)
work=${2:-$(mktemp -d)}
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cfg() { # n_alpha n_delta extra
  printf 'model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n'
  printf '  - {name: alpha, min: -0.75, max: 1.0, n: %s}\n' "$1"
  printf '  - {name: delta_r, min: -2.0, max: 2.0, n: %s}\n' "$2"
  printf 'fields: [growth_rate]\nboundaries: {axis: delta_r}\neps: {axes: [delta_r, alpha]}\n%b' "$3"
}
cfg 2241 2561 "" >"$work/uniform.yaml"
cfg 36 41 "mode: adaptive\nmax_depth: 6\n" >"$work/adaptive.yaml"
for m in uniform adaptive; do
  echo "== $m"
  s=$(date +%s.%N)
  mpiexec -n 2 "$build/qbmap" run "$work/$m.yaml" -o "$work/$m.h5" --force --progress 1000
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "end to end: %.2f s\n", e - s }'
done
/usr/bin/python3 - "$work/uniform.h5" "$work/adaptive.h5" <<'PY'
import sys, h5py, numpy as np
u, a = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
ub, ab = u["boundary"], a["boundary"]
n = ub["delta_r"].shape[0]
same = n == ab["delta_r"].shape[0]
worst = max(np.abs(ub[k][()] - ab[k][()]).max() for k in ("gamma_b", "alpha", "delta_r")) if same else float("nan")
ev = int(a["adaptive"].attrs["evaluations"]); uni = int(a["adaptive"].attrs["uniform_equivalent_points"])
print(f"boundary points: uniform {n}, adaptive {ab['delta_r'].shape[0]}, largest coordinate difference {worst:.2e}")
print(f"EPs: uniform {u['ep']['alpha'].shape[0]}, adaptive {a['ep']['alpha'].shape[0]}")
print(f"evaluations: adaptive {ev} = {100 * ev / uni:.2f}% of the uniform grid's {uni} points")
PY
rm -f "$work/uniform.h5" "$work/adaptive.h5"
