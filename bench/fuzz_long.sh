#!/usr/bin/env bash
# The long fuzz run (not part of the test suite): each libFuzzer harness for SECONDS (default
# 300) on a copy of the seed corpus; prints the run counts and any finding.
# Usage: bench/fuzz_long.sh [SECONDS]   (needs clang; builds build-fuzz/)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
t=${1:-300}
b=$root/build-fuzz
CC=clang cmake -S "$root" -B "$b" -DQB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  cmake --build "$b" -j 2 --target fuzz_config fuzz_point >/dev/null || exit 1
rc=0
for h in config point; do
  work=$(mktemp -d)
  "$b/fuzz_$h" -max_total_time="$t" -max_len=4096 -rss_limit_mb=4096 -artifact_prefix="$b/long-$h-" "$work" \
    "$root/tests/fuzz/corpus_$h" >"$b/long_$h.log" 2>&1 &
done
for h in config point; do wait -n || rc=1; done
for h in config point; do
  echo "fuzz_$h: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$b/long_$h.log"); corpus $(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$b/long_$h.log" | tail -1)"
  grep -E "ERROR|SUMMARY" "$b/long_$h.log" | head -3
done
exit $rc
