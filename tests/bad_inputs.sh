#!/usr/bin/env bash
# The bad-input corpus: every case must exit non-zero (2 for bad input, 1 for a failing file
# system) with exactly one line on stderr containing the expected text (key, value, what is
# allowed, file:line:column), never crash, and never leave a file that claims to be complete.
# Cases: tests/bad_inputs/*.yaml (first line: "# expect: TEXT") and the command lines below.
# Usage: bad_inputs.sh QBMAP_BINARY TESTS_SOURCE_DIR
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
  lines=$(grep -cv -e '^-----' -e '^mpiexec\|^Primary job\|^a non-zero\|^the job\|^  Process name\|^  Exit code\|^$' "$work/stderr")
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

ncases=0
for f in bad_inputs/*.yaml; do
  ncases=$((ncases + 1))
  expect=$(sed -n '1s/^# expect: \(..*\)$/\1/p' "$f")
  if [ -z "$expect" ]; then # a case without its expectation would match any message
    echo "FAIL $f: first line is not '# expect: TEXT'"
    fail=$((fail + 1))
    continue
  fi
  check "$f" "$expect" 2 "$qbmap" run "$f" -o "$work/out.h5"
done
[ "$ncases" -ge 90 ] || { echo "FAIL corpus: only $ncases cases found"; fail=$((fail + 1)); }

good=../examples/ep_fig6.yaml
# expressions (qb_bind) on the command line: --set and point
check set_expr_syntax "--set E_max=2*: unexpected end of expression at position 2; allowed: a number or an expression" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set "E_max=2*"
check set_expr_unknown "--set E_max=1000*zz: 'zz' is not a parameter of model ep nor a declared symbol; allowed in an expression: delta_r" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set "E_max=1000*zz"
check set_expr_cycle "--set E_r: the expressions form a cycle E_r -> E_max -> E_r; allowed:" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set "E_max=1000*E_r" --set "E_r=E_max/1000"
# a cycle through a --set that overrides a fixed expression is the --set's, not fixed's
printf 'model: shared\nsymbols: [s]\naxes: [{name: J, values: [0.2, 0.5]}]\nfixed: {kappa_a: "0.3*s", kappa_b: 0.2, Gamma: 0.5, Delta: 0.1, s: 1}\n' >"$work/sym.yaml"
check set_expr_self_cycle "qbmap run: --set s: the expressions form a cycle s -> s; allowed:" 2 \
  "$qbmap" run "$work/sym.yaml" -o "$work/out.h5" --set s=s
# (with optimize, which removes a parameter: the cycle still names the right one)
check set_expr_cycle_optimize "qbmap run: --set kappa_b: the expressions form a cycle kappa_b -> kappa_b; allowed:" 2 \
  "$qbmap" run ../examples/shared_optimize.yaml -o "$work/out.h5" --set kappa_b=2*kappa_b
# long values are shown shortened, so the reason and what is allowed survive
check set_expr_too_long "--set E_max=1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*1*...: expression longer than 10000 characters; allowed: a number or an expression" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set "E_max=1$(printf '*1%.0s' $(seq 5000))"
check set_long_garbage "parameter 'E_max' = '1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not a number; allowed: a finite decimal number" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set "E_max=1$(printf 'x%.0s' $(seq 300))"
check point_expr_syntax "qbmap point: gamma_b=sqrt(: unexpected end of expression at position 5; allowed:" 2 \
  "$qbmap" point ep delta_r=0 alpha=0 "gamma_b=sqrt("
check point_expr_cycle "qbmap point: the expressions form a cycle Delta -> J -> Delta; allowed:" 2 \
  "$qbmap" point shared Delta=J J=Delta kappa_a=1 kappa_b=1
check point_expr_unknown "qbmap point: kappa_b=1*q: 'q' is not a parameter of model shared nor a declared symbol" 2 \
  "$qbmap" point shared Delta=J J=0.5 kappa_a=1 "kappa_b=1*q"
check set_unknown "--set kappa=1: unknown parameter 'kappa' in 'kappa=1'; allowed for model ep: delta_r" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set kappa=1
check set_garbage "--set E_max=abc: parameter 'E_max' = 'abc' is not a number; allowed: a finite decimal number" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set E_max=abc
check set_axis "--set delta_r=1: 'delta_r' is an axis; allowed: parameters not on an axis" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set delta_r=1
check set_gamma_a "parameters 'alpha' and 'gamma_a' are both given" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set gamma_a=1

# the dry run (--print-config) refuses every bad config of the corpus and bad --set values with
# the same one line and exit 2, and prints nothing on stdout
dry_cases=0
for f in bad_inputs/*.yaml; do
  expect=$(sed -n '1s/^# expect: \(..*\)$/\1/p' "$f")
  [ -n "$expect" ] || continue
  dry_cases=$((dry_cases + 1))
  check "$f --print-config" "$expect" 2 "$qbmap" run "$f" -o "$work/out.h5" --print-config
  if [ -s "$work/stdout" ]; then echo "FAIL $f --print-config: output on stdout"; fail=$((fail + 1)); fi
done
[ "$dry_cases" -ge 90 ] || { echo "FAIL --print-config corpus: only $dry_cases cases"; fail=$((fail + 1)); }
check print_config_set "--set E_max=-1: parameter 'E_max' = -1 is not positive" 2 \
  "$qbmap" run "$good" --print-config --set E_max=-1
check print_config_set_default "--set kappa=1: unknown parameter 'kappa' in 'kappa=1'" 2 \
  "$qbmap" run --print-config --set kappa=1
check print_config_missing "cannot read config 'no/such.yaml'" 2 "$qbmap" run no/such.yaml --print-config
check print_config_block_points "--block-points 0: allowed: an integer from 1 to 2^26" 2 \
  "$qbmap" run "$good" --print-config --block-points 0
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

# numbers on the command line: the whole text must be a decimal number
check point_hex "parameter 'delta_r' = '0x10' is not a number; allowed: a finite decimal number" 2 \
  "$qbmap" point ep delta_r=0x10 alpha=0 gamma_b=1
check point_underscore "parameter 'gamma_b' = '1_0' is not a number" 2 "$qbmap" point ep delta_r=0 alpha=0 gamma_b=1_0
check point_inf "parameter 'delta_r' = 'inf' is not a number" 2 "$qbmap" point ep delta_r=inf alpha=0 gamma_b=1
check point_nan "parameter 'alpha' = 'nan' is not a number" 2 "$qbmap" point ep delta_r=0 alpha=nan gamma_b=1
check point_space "parameter 'delta_r' = ' 1' is not a number" 2 "$qbmap" point ep "delta_r= 1" alpha=0 gamma_b=1
check point_empty "parameter 'delta_r' = '' is not a number" 2 "$qbmap" point ep delta_r= alpha=0 gamma_b=1
check point_overflow "parameter 't' = '1e999' is out of range" 2 "$qbmap" point ep delta_r=0 alpha=0 gamma_b=1 t=1e999
check point_name_newline "unknown parameter 'del\nta'" 2 "$qbmap" point ep "$(printf 'del\nta=1')" alpha=0 gamma_b=1
check set_hex "--set E_max=0x10: parameter 'E_max' = '0x10' is not a number" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set E_max=0x10
check set_suffix "--set E_max=1e3x: parameter 'E_max' = '1e3x' is not a number" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --set E_max=1e3x

# commands and files
check models_junk "qbmap models: unexpected argument 'junk'; allowed: none, or --config FILE" 2 "$qbmap" models junk
check models_config_missing "qbmap models: cannot read config '$work/nosuch.yaml'" 2 "$qbmap" models --config "$work/nosuch.yaml"
check point_network_no_config "model network needs --config FILE" 2 "$qbmap" point network delta=1
check point_network_axis "parameter 'delta' is an axis of the config; allowed: its value on the command line, delta=VALUE" 2 \
  "$qbmap" point network --config ../examples/network_threemode.yaml t=1
check point_config_other_model "model 'ep' is not the config's model; allowed: network" 2 \
  "$qbmap" point ep --config ../examples/network_threemode.yaml delta_r=1
check point_network_bad_section "network.hamiltonian[0].detuning = 'x' is not a mode" 2 \
  "$qbmap" point network --config bad_inputs/net_unknown_mode.yaml t=1
# optimize: the optimized parameter cannot be set from the command line either
check optimize_set "--set Delta=0.1: 'Delta' is optimized (optimize.param); allowed: the other parameters (the optimum is the field Delta_at_opt)" 2 \
  "$qbmap" run ../examples/shared_optimize.yaml -o "$work/out.h5" --set Delta=0.1
check optimize_point "qbmap point: Delta=0.1: 'Delta' is optimized (optimize.param); allowed: the other parameters" 2 \
  "$qbmap" point --config ../examples/shared_optimize.yaml shared J=0.5 phi=1 Delta=0.1
check optimize_point_expr_param "qbmap point: Delta=2*J: 'Delta' is optimized (optimize.param); allowed:" 2 \
  "$qbmap" point --config ../examples/shared_optimize.yaml shared J=0.5 phi=1 "Delta=2*J"
# optimize with an expression on the point's command line (supported: the point re-stacks the
# wrappers): an expression naming a field (the optimum) rather than a parameter is still an error
check optimize_point_expr "qbmap point: phi=2*Delta_at_opt: 'Delta_at_opt' is not a parameter of model shared nor a declared symbol; allowed in an expression: Delta, J," 2 \
  "$qbmap" point --config ../examples/shared_optimize.yaml shared J=0.5 "phi=2*Delta_at_opt"
check unknown_command_newline "qbmap: unknown command 'fr\nob'" 2 "$qbmap" "$(printf 'fr\nob')"
mkdir -p "$work/adir"
check config_directory "cannot read config '$work/adir': Is a directory" 2 "$qbmap" run "$work/adir" -o "$work/out.h5"
{ cat "$good"; head -c $((64 * 1024 * 1024)) /dev/zero | tr '\0' '#'; } >"$work/big.yaml"
check config_too_large "config '$work/big.yaml' is larger than 64 MiB; allowed: at most 67108864 bytes" 2 \
  "$qbmap" run "$work/big.yaml" -o "$work/out.h5"
printf 'model: ep\naxes:\n  - {name: delta_r, values: [1, 2]}\nfixed: {alpha: 0, gamma_b: 1}\n\0\n' >"$work/nul.yaml"
check config_nul "config '$work/nul.yaml' contains a NUL byte at offset 82; allowed: YAML text" 2 \
  "$qbmap" run "$work/nul.yaml" -o "$work/out.h5"
# exactly 64 MiB is allowed, and parsing it takes linear time (a comment line of 64 MiB)
printf 'model: ep\naxes:\n  - {name: delta_r, values: [1, 2]}\nfixed: {alpha: 0, gamma_b: 1}\n#' >"$work/max.yaml"
{ head -c $((64 * 1024 * 1024 - $(stat -c %s "$work/max.yaml") - 1)) /dev/zero | tr '\0' 'x'
  printf '\n'; } >>"$work/max.yaml"
if [ "$(stat -c %s "$work/max.yaml")" = 67108864 ] && "$qbmap" run "$work/max.yaml" -o "$work/max.h5" >/dev/null 2>&1; then
  pass=$((pass + 1))
else
  echo "FAIL a config of exactly 64 MiB is refused"; fail=$((fail + 1))
fi
rm -f "$work/big.yaml" "$work/max.yaml" "$work/max.h5"
# 300,000 list values (read from the libyaml document: linear time; the old duplicate check was
# quadratic, ~1 min, and libcyaml grows a list one entry at a time); unsorted, they are refused
# with the first offending index (the timeout only guards against a hang)
/usr/bin/python3 -c "
v = ', '.join(str(i) for i in range(300000)) + ', 5'
open('$work/long.yaml', 'w').write('model: ep\naxes:\n  - {name: delta_r, values: [' + v + ']}\nfixed: {alpha: 0, gamma_b: 1}\n')"
check long_list_unsorted "axes[0].values[300000] = 5 is not greater than values[299999] = 299999" 2 \
  timeout 600 "$qbmap" run "$work/long.yaml" -o "$work/out.h5"

# every rank parses the same --set list, however long (ranks != 0 used to keep 1024)
args=()
for i in $(seq 1500); do args+=(--set "E_max=$((1000 + i))"); done
mpiexec -n 2 "$qbmap" run "$good" -o "$work/sets.h5" "${args[@]}" >/dev/null 2>&1
emax=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$work/sets.h5', 'r').attrs['E_max'])" 2>&1)
if [ "$emax" = 2500.0 ]; then pass=$((pass + 1)); else echo "FAIL 1500 --set on 2 ranks: E_max $emax"; fail=$((fail + 1)); fi

# a signal while the config is still being read stops the run before anything is written
QBMAP_TEST_STALL=parsed "$qbmap" run "$good" -o "$work/out.h5" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 600); do grep -q "test stall: parsed" "$work/stdout" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
if [ "$rc" = 3 ] && grep -qF "stopped by a signal before the sweep started; nothing written" "$work/stderr" &&
   [ "$(wc -l <"$work/stderr")" = 1 ] && [ ! -e "$work/out.h5" ] && [ ! -e "$work/out.h5.partial" ]; then
  pass=$((pass + 1))
else
  echo "FAIL signal while parsing: exit $rc"; cat "$work/stderr"; fail=$((fail + 1))
fi

# --resume on files that are not this run's
check resume_missing "--resume: nothing to resume: '$work/out.h5' does not exist" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --resume
echo "not hdf5" >"$work/junk.h5"
check resume_not_hdf5 "--resume: '$work/junk.h5' is not an HDF5 file (or is truncated)" 2 \
  "$qbmap" run "$good" -o "$work/junk.h5" --resume
"$qbmap" run "$good" -o "$work/full.h5" >/dev/null 2>&1
head -c 3000 "$work/full.h5" >"$work/trunc.h5"
check resume_truncated "--resume: " 2 "$qbmap" run "$good" -o "$work/trunc.h5" --resume
check resume_other_config "was written for another configuration; file: 'fixed: {alpha: 0, gamma_b: 0.5, E_r: 1, E_max: 1000, t: 0}', now: 'fixed: {alpha: 0, gamma_b: 0.5, E_r: 1, E_max: 500, t: 0}'" 2 \
  "$qbmap" run "$good" -o "$work/full.h5" --resume --set E_max=500
check resume_other_model "holds model ep, this config model threemode" 2 \
  "$qbmap" run ../examples/threemode_elimination.yaml -o "$work/full.h5" --resume
/usr/bin/python3 -c "import h5py; f = h5py.File('$work/foreign.h5', 'w'); f['x'] = [1, 2]"
check resume_foreign "is not a qbmap output" 2 "$qbmap" run "$good" -o "$work/foreign.h5" --resume
check resume_and_force "--resume and --force together; allowed: one of them" 2 \
  "$qbmap" run "$good" -o "$work/out.h5" --resume --force
check bad_progress "--progress -1: allowed: seconds >= 0" 2 "$qbmap" run "$good" --progress -1
check bad_block_points "--block-points 0: allowed: an integer from 1 to 2^26" 2 \
  "$qbmap" run "$good" --block-points 0

# more ranks than grid points
printf 'model: ep\naxes:\n  - {name: delta_r, values: [0.5]}\nfixed: {alpha: 0, gamma_b: 1}\n' >"$work/one.yaml"
check more_ranks_than_points "2 MPI ranks for a grid of 1 point: ranks would have nothing to do" 2 \
  mpiexec -n 2 "$qbmap" run "$work/one.yaml" -o "$work/out.h5"

# srun with the wrong PMI plugin starts independent 1-rank copies
check slurm_ntasks "SLURM_NTASKS = 4 but MPI sees 1 rank: the ranks were not started as one MPI job" 2 \
  env SLURM_NTASKS=4 "$qbmap" run "$good" -o "$work/out.h5"

# a full disk (file-size limit): a clear error, exit 1, and no file that claims to be complete
big=../examples/so_explore5.yaml
( ulimit -f 12000; exec "$qbmap" run "$big" -o "$work/out.h5" ) >"$work/stdout" 2>"$work/stderr"
rc=$?
claims=$(/usr/bin/python3 -c "
import h5py, os
p = '$work/out.h5'
print(os.path.exists(p) and h5py.File(p, 'r').attrs['complete'] == 1)" 2>/dev/null)
if [ "$rc" -eq 1 ] && [ "$(wc -l <"$work/stderr")" -eq 1 ] && [ "$claims" != True ] &&
   grep -qE "needs .* bytes but the file-size limit is" "$work/stderr"; then
  pass=$((pass + 1))
else
  echo "FAIL disk full: exit $rc, claims complete: $claims"; cat "$work/stderr"; fail=$((fail + 1))
fi
rm -f "$work/out.h5" "$work/out.h5.partial"

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

echo "bad_inputs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
