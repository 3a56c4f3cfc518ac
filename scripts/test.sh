#!/usr/bin/env bash
# The whole test suite: install what is missing, then
#   1. build and run every CTest test;
#   2. build again with AddressSanitizer + UndefinedBehaviorSanitizer and run every test again;
#   3. build the libFuzzer harnesses (clang) and fuzz the config parser and the `point`
#      argument parser for QB_FUZZ_SECONDS each (default 30); a finding fails the suite.
# QB_TEST_STAGES (default "1 2 3") selects stages.
set -uo pipefail
QB_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$QB_ROOT/scripts/deps.sh"
qb_install_deps || exit 1
stages=${QB_TEST_STAGES:-1 2 3}
pass=0 fail=0
stage() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "test.sh: stage '$*' FAILED"; fi; }

plain() {
  qb_build "$QB_ROOT/build" && (cd "$QB_ROOT/build" && ctest --output-on-failure)
}
sanitized() {
  cmake -S "$QB_ROOT" -B "$QB_ROOT/build-asan" -DQB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    >/dev/null && cmake --build "$QB_ROOT/build-asan" -j "$(nproc)" >/dev/null &&
    (cd "$QB_ROOT/build-asan" &&
      ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --output-on-failure)
}
fuzz() {
  local b=$QB_ROOT/build-fuzz t=${QB_FUZZ_SECONDS:-30} rc=0
  CC=clang cmake -S "$QB_ROOT" -B "$b" -DQB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null && cmake --build "$b" -j "$(nproc)" --target fuzz_config fuzz_point >/dev/null ||
    return 1
  for h in config point; do
    local work
    work=$(mktemp -d)
    "$b/fuzz_$h" -max_total_time="$t" -max_len=4096 -rss_limit_mb=4096 -artifact_prefix="$b/crash-$h-" \
      "$work" "$QB_ROOT/tests/fuzz/corpus_$h" >"$b/fuzz_$h.log" 2>&1
    local r=$?
    echo "fuzz_$h: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$b/fuzz_$h.log"), exit $r"
    [ $r = 0 ] || { tail -n 30 "$b/fuzz_$h.log"; rc=1; }
    rm -rf "$work"
  done
  return $rc
}

for s in $stages; do
  case $s in
    1) stage plain ;;
    2) stage sanitized ;;
    3) stage fuzz ;;
  esac
done
echo "test.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
