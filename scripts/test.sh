#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every CTest test.
set -euo pipefail
QB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$QB_ROOT/scripts/deps.sh"
qb_install_deps
qb_build "$QB_ROOT/build"
cd "$QB_ROOT/build"
ctest --output-on-failure
