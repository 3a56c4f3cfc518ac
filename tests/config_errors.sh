#!/usr/bin/env bash
# Bad input must give exit code 2, exactly one line on stderr containing the expected text
# (key, value, what is allowed, file:line:column) and no output file.
# Usage: config_errors.sh QBMAP_BINARY TESTS_SOURCE_DIR
set -u
qbmap=$1
cd "$2" || exit 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

check() { # name expected_substring expected_exit command...
  local name=$1 expect=$2 code=$3
  shift 3
  rm -f "$work/out.h5"
  "$@" >"$work/stdout" 2>"$work/stderr"
  local rc=$? lines
  lines=$(wc -l <"$work/stderr")
  if [ "$rc" -ne "$code" ] || ! grep -qF -- "$expect" "$work/stderr" || [ "$lines" -ne 1 ] ||
     [ -e "$work/out.h5" ]; then
    echo "FAIL $name: exit $rc (want $code), $lines stderr lines, file: $([ -e "$work/out.h5" ] && echo yes || echo no)"
    echo "  want: $expect"
    sed 's/^/  got:  /' "$work/stderr"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

for f in config_errors/*.yaml; do
  expect=$(sed -n '1s/^# expect: //p' "$f")
  check "$f" "$expect" 2 "$qbmap" run "$f" -o "$work/out.h5"
done

good=config_errors/../../examples/ep_fig6.yaml
check set_unknown "--set kappa=1: unknown parameter 'kappa' in 'kappa=1'; allowed for model ep: delta_r" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set kappa=1
check set_garbage "--set E_max=abc: parameter 'E_max' = 'abc' is not a number; allowed: a finite number" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set E_max=abc
check set_axis "--set delta_r=1: 'delta_r' is an axis; allowed: parameters not on an axis" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set delta_r=1
check set_gamma_a "parameters 'alpha' and 'gamma_a' are both given" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set gamma_a=1
check missing_config "cannot read config 'no/such.yaml'" 2 "$qbmap" run no/such.yaml -o "$work/out.h5"
check bad_option "unexpected argument '--frobnicate'" 2 "$qbmap" run "$good" --frobnicate
check bad_dir "cannot create output '$work/no/dir/out.h5'" 1 "$qbmap" run "$good" -o "$work/no/dir/out.h5"
check point_unknown_model "qbmap point: unknown model 'xp'; allowed: ep" 2 "$qbmap" point xp a=1
check point_garbage "parameter 'delta_r' = '1x' is not a number" 2 "$qbmap" point ep delta_r=1x alpha=0 gamma_b=1
check point_missing "parameter 'gamma_b' is required (no default)" 2 "$qbmap" point ep delta_r=1 alpha=0
check point_not_assignment "'delta_r' is not name=value" 2 "$qbmap" point ep delta_r
check point_both "parameters 'alpha' and 'gamma_a' are both given" 2 "$qbmap" point ep delta_r=0 alpha=0 gamma_a=1 gamma_b=1
check point_twice "parameter 'alpha' given twice" 2 "$qbmap" point ep delta_r=0 alpha=0 alpha=1 gamma_b=1
check point_negative_t "parameter 't' = -1 is negative; allowed: t >= 0" 2 "$qbmap" point ep delta_r=0 alpha=0 gamma_b=1 t=-1

# an existing output is never overwritten without --force
echo "precious" >"$work/out.h5"
"$qbmap" run "$good" -o "$work/out.h5" >"$work/stdout" 2>"$work/stderr"
rc=$?
if [ "$rc" -eq 2 ] && grep -qF "output '$work/out.h5' exists; allowed: a new path, or --force" "$work/stderr" &&
   [ "$(cat "$work/out.h5")" = precious ]; then
  pass=$((pass + 1))
else
  echo "FAIL existing output: exit $rc"; cat "$work/stderr"; fail=$((fail + 1))
fi
"$qbmap" run "$good" -o "$work/out.h5" --force >"$work/stdout" 2>"$work/stderr"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(head -c 4 "$work/out.h5" | od -An -c | tr -d ' ')" = "211HDF" ]; then
  pass=$((pass + 1))
else
  echo "FAIL --force: exit $rc"; cat "$work/stderr"; fail=$((fail + 1))
fi

echo "config_errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
