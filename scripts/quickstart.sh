#!/usr/bin/env bash
# Quick start: install what is missing (Debian 12, apt), build, and run the default job (the EP
# paper's Fig. 3 maps, 843453 points) on 2 MPI ranks.  Re-running overwrites out/qbmap_fig3.h5.
set -euo pipefail
QB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$QB_ROOT/scripts/deps.sh"
qb_install_deps
qb_build "$QB_ROOT/build"
mkdir -p "$QB_ROOT/out"
out=$QB_ROOT/out/qbmap_fig3.h5
mpiexec -n 2 "$QB_ROOT/build/qbmap" run -o "$out" --force
cat <<MSG

The phase maps are in $out. Open them with
  /usr/bin/python3 -c "import xarray as xr; ds = xr.open_dataset('$out', engine='h5netcdf'); print(ds)"
or summarize them with
  /usr/bin/python3 $QB_ROOT/analysis/qbplot.py summary $out
MSG
