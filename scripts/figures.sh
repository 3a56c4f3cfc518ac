#!/usr/bin/env bash
# Regenerates the figures shown in README.md (docs/figures/) from the example configs:
# the default job (EP paper Fig. 3 with boundaries and EPs), EP Fig. 6, SO Fig. 6.
# Usage: bash scripts/figures.sh [BUILD_DIR]   (after scripts/quickstart.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$root/out
mkdir -p "$out" "$root/docs/figures"
mpiexec -n 2 "$build/qbmap" run -o "$out/qbmap_fig3.h5" --force --progress 1000
mpiexec -n 2 "$build/qbmap" run "$root/examples/ep_fig6.yaml" -o "$out/ep_fig6.h5" --force --progress 1000
mpiexec -n 2 "$build/qbmap" run "$root/examples/so_fig6.yaml" -o "$out/so_fig6.h5" --force --progress 1000
py=/usr/bin/python3
$py "$root/analysis/qbplot.py" ep-fig3 "$out/qbmap_fig3.h5" -o "$root/docs/figures/ep_fig3.png"
$py "$root/analysis/qbplot.py" ep-fig6 "$out/ep_fig6.h5" -o "$root/docs/figures/ep_fig6.png"
$py "$root/analysis/qbplot.py" so-fig6 "$out/so_fig6.h5" -o "$root/docs/figures/so_fig6.png"
