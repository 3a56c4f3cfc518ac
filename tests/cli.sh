#!/usr/bin/env bash
# The command line as documented: --version names the git commit and the library versions;
# --help exits 0; `models` documents every field; `point` prints every field once and the
# status in words; --print-config is examples/ep_fig3.yaml.
# Usage: cli.sh QBMAP SOURCE_DIR
set -u
qbmap=$1 src=$2
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

v=$("$qbmap" --version)
ok "--version" '[[ "$v" =~ ^qbmap\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ [0-9a-f]{40}(-dirty)?\) ]] && [[ "$v" == *"HDF5: 1."* ]] && [[ "$v" == *"GSL: 2."* ]] && [[ "$v" == *"MPI: "* ]]'
for c in "--help" "run --help" "point --help" "models --help"; do
  ok "$c" '"$qbmap" $c >/dev/null'
done
ok "no command: usage, exit 2" '"$qbmap" >/dev/null 2>&1; [ $? -eq 2 ]'
ok "unknown command: exit 2" '"$qbmap" frobnicate >/dev/null 2>&1; [ $? -eq 2 ]'
m=$("$qbmap" models)
for f in growth_rate lambda_plus_re lambda_plus_im lambda_minus_re lambda_minus_im splitting regime \
         E_A_ss E_B_ss E_A E_B log_E_B P_B t_crit t_crit_approx realizable status; do
  ok "models lists $f" 'grep -qE "^    $f +1 +(float64|int32) " <<<"$m"'
done
for p in delta_r alpha gamma_a gamma_b E_r E_max t; do
  ok "models lists parameter $p" 'grep -qE "^    $p " <<<"$m"'
done
out=$("$qbmap" point ep delta_r=0.5 alpha=0 gamma_b=0.5 t=3)
ok "point: 17 fields then status" '[ "$(grep -c " = " <<<"$out")" -ge 17 ] && [ "$(tail -1 <<<"$out" | cut -c1-7)" = "status:" ]'
ok "point: growth_rate = sqrt(3)/2 - 1/2" 'grep -qx "growth_rate = 0.3660254037844386" <<<"$out"'
ok "point: nan spelled nan" 'grep -qx "E_B_ss = nan" <<<"$out"'
ok "point: status in words" 'grep -q "^status: \[bit 0\] not stable" <<<"$out"'
ok "print-config = examples/ep_fig3.yaml" '"$qbmap" run --print-config | cmp -s - "$src/examples/ep_fig3.yaml"'
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
