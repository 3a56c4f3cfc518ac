#!/usr/bin/env bash
# Regenerates every figure (docs/figures/) from the example configs: the default job (EP paper
# Fig. 3 with boundaries and EPs, the points of Fig. 3(d)-(i) marked), EP Fig. 3(d)-(i) (dynamics),
# EP Figs. 2, 5, 6 and SO Figs. 2-4, 6, 7.
# Usage: bash scripts/figures.sh [BUILD_DIR]   (after scripts/quickstart.sh; QB_LAUNCH sets the
# MPI launcher, default "mpiexec -n 2"; outputs in out/, figures in docs/figures/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$root/out
mkdir -p "$out" "$root/docs/figures"
read -r -a launch <<<"${QB_LAUNCH:-mpiexec -n 2}" # e.g. "srun --mpi=pmix" in a SLURM job
"${launch[@]}" "$build/qbmap" run -o "$out/qbmap_fig3.h5" --force --progress 1000
for c in ep_fig2 ep_fig3_dynamics ep_fig5 ep_fig6 so_fig2 so_fig2_resonant so_fig3_4 \
  so_fig6 so_fig7; do
  "${launch[@]}" "$build/qbmap" run "$root/examples/$c.yaml" -o "$out/$c.h5" --force --progress 1000
done
py=/usr/bin/python3
plot() { $py "$root/analysis/qbplot.py" "$@"; }
f=$root/docs/figures
plot ep-fig2 "$out/ep_fig2.h5" -o "$f/ep_fig2.png"
plot ep-fig3 "$out/qbmap_fig3.h5" --mark "$out/ep_fig3_dynamics.h5" -o "$f/ep_fig3.png"
plot dynamics "$out/ep_fig3_dynamics.h5" -o "$f/ep_fig3_dynamics.png"
plot ep-fig5 "$out/ep_fig5.h5" -o "$f/ep_fig5.png"
plot ep-fig6 "$out/ep_fig6.h5" -o "$f/ep_fig6.png"
plot so-fig2 "$out/so_fig2_resonant.h5" "$out/so_fig2.h5" -o "$f/so_fig2.png"
plot so-fig2 "$out/so_fig3_4.h5" "$out/so_fig2.h5" -o "$f/so_fig3_4.png"
plot so-fig6 "$out/so_fig6.h5" -o "$f/so_fig6.png"
plot so-fig7 "$out/so_fig7.h5" -o "$f/so_fig7.png"
# model `network` showcases (beyond the papers): SO super-optimal charging at finite temperature,
# the EP three-mode network with two-mode squeezing (growth map, boundary, EPs)
for c in network_so_thermal network_ep_squeezing; do
  "${launch[@]}" "$build/qbmap" run "$root/examples/$c.yaml" -o "$out/$c.h5" --force --progress 1000
done
$py "$root/analysis/network_showcase.py" so-thermal "$out/network_so_thermal.h5" -o "$f/network_so_thermal.png"
$py "$root/analysis/network_showcase.py" ep-squeezing "$out/network_ep_squeezing.h5" -o "$f/network_ep_squeezing.png"
# the 5-D design card (issue 14; docs/physics.md §2.7)
"${launch[@]}" "$build/qbmap" run "$root/examples/design_card_5d.yaml" -o "$out/design_card_5d.h5" --force --progress 1000
$py "$root/analysis/design_card.py" "$out/design_card_5d.h5" -o "$f/design_card_5d.png"
