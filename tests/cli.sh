#!/usr/bin/env bash
# The command line as documented: --version names the source's git commit and the library
# versions; --help prints the usage and exits 0; `models` lists exactly each model's parameters,
# fields and status bits (numbers and masks: stored data); `point` prints exactly the model's
# fields, in that order, each once, as `name = value` lines, then the status in words on '#'
# lines, the model's own (values checked against closed forms where they are known); `point
# --json` is strict JSON equal to the text form bit for bit; bad `point` arguments are one line
# on stderr and exit 2; --print-config is examples/ep_fig3.yaml, and `run CONFIG --print-config`
# the normalized config and a dry run that match the real run and write nothing.
# Usage: cli.sh QBMAP SOURCE_DIR
set -u
qbmap=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }
# same NAME GOT EXPECTED: exact comparison, both printed on failure
same() {
  if [ "$2" == "$3" ]; then pass=$((pass + 1)); else
    echo "FAIL $1"; echo "  got:      $(tr '\n' ' ' <<<"$2")"; echo "  expected: $(tr '\n' ' ' <<<"$3")"
    fail=$((fail + 1))
  fi
}

v=$("$qbmap" --version)
ok "--version" '[[ "$v" =~ ^qbmap\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ [0-9a-f]{40}(-dirty)?\) ]] && [[ "$v" == *"HDF5: 1."* ]] && [[ "$v" == *"GSL: 2."* ]] && [[ "$v" == *"MPI: "* ]]'
if head=$(git -C "$src" rev-parse HEAD 2>/dev/null); then
  ok "--version names the source's commit $head" '[[ "$v" == *"(git $head"* ]]'
else
  echo "note: $src is not a git checkout: commit not compared"
fi
declare -A usage=(["--help"]="usage: qbmap COMMAND" ["run --help"]="usage: mpiexec -n N qbmap run"
  ["point --help"]="usage: qbmap point [--json] [--config FILE] MODEL" ["models --help"]="usage: qbmap models")
for c in "--help" "run --help" "point --help" "models --help"; do
  ok "$c: usage on stdout, exit 0" 'h=$("$qbmap" $c) && [[ "$h" == "${usage[$c]}"* ]]'
done
ok "no command: usage on stderr, exit 2" 'e=$("$qbmap" 2>&1 >/dev/null); [ $? -eq 2 ] && [[ "$e" == "usage: qbmap"* ]]'
ok "unknown command: exit 2, named" 'e=$("$qbmap" frobnicate 2>&1 >/dev/null); [ $? -eq 2 ] && [[ "$e" == *"unknown command '"'"'frobnicate'"'"'"* ]]'

m=$("$qbmap" models)
# block MODEL KIND [bits]: the names listed under "  KIND (" of model MODEL, one per line;
# with `bits`, "number:name" and "bad mask: LINE" where the mask is not 2^number
block() {
  awk -v model="$1" -v kind="$2" -v bits="${3:-}" '
    /^model / { in_model = ($2 == model); in_kind = 0; next }
    /^[^ ]/ { in_model = 0; in_kind = 0 }
    in_model && /^  [a-z]/ { in_kind = (index($0, "  " kind " (") == 1); next }
    in_model && in_kind && /^    [^ ]/ { print bits == "" ? $1 : $3 == 2 ^ $2 ? $2 ":" $1 : "bad mask: " $0 }' <<<"$m"
}
same "models: the models" "$(sed -n 's/^model //p' <<<"$m")" "$(printf '%s\n' ep threemode shared network)"
EP_FIELDS="growth_rate lambda_plus_re lambda_plus_im lambda_minus_re lambda_minus_im splitting regime
E_A_ss E_B_ss E_A E_B log_E_B P_B t_crit t_crit_approx realizable realizable_margin status"
same "models: ep fields" "$(block ep fields)" "$(tr ' ' '\n' <<<"$EP_FIELDS" | tr -s '\n')"
same "models: ep parameters" "$(block ep parameters)" "$(printf '%s\n' delta_r alpha gamma_a gamma_b E_r E_max t)"
for f in $EP_FIELDS; do
  ok "models: ep field $f has unit 1 and a type" 'grep -qE "^    $f +1 +(float64|int32) " <<<"$m"'
done
for mod in threemode shared; do
  ok "models: $mod lists fields ending in status" '[ "$(block $mod fields | wc -l)" -ge 10 ] && [ "$(block $mod fields | tail -1)" = status ]'
done
# the status bits each kernel may set: number:word (the file's flag_masks / flag_meanings)
declare -A bits=([ep]="0:not_stable 1:tcrit_never 2:tcrit_failed 3:approx_outside
4:approx_unreliable 5:overflow 6:bad_param 11:t_unresolved 12:ill_conditioned"
  [threemode]="0:not_stable 5:overflow 6:bad_param 7:no_reduction 8:red_not_stable 9:numerics
11:t_unresolved 12:ill_conditioned 13:not_ep_form"
  [shared]="0:not_stable 5:overflow 6:bad_param 9:numerics 10:no_optimum 11:t_unresolved
12:ill_conditioned")
for mod in ep threemode shared; do
  same "models: $mod status bits" "$(block $mod "status bits" bits)" "$(tr ' ' '\n' <<<"${bits[$mod]}")"
done
# each bit's kind (the file's flag_kinds): failure where something failed or cannot be trusted,
# info where physics leaves a field undefined; the same bit has the same kind in every model
kinds=$(awk '/^model /{m=$2} /^  status bits \(/{s=1; next} /^  [a-z]/{s=0} s && /^    [^ ]/{print $2 ":" $4}' <<<"$m" | sort -n -u)
same "models: status-bit kinds" "$kinds" "$(tr ' ' '\n' <<<"0:info 1:info 2:failure 3:info 4:info 5:failure 6:failure 7:info 8:info 9:failure 10:info 11:failure 12:failure 13:info 14:failure")"
# point_words MODEL OUTPUT: the '#' lines of `point`'s OUTPUT are exactly one
# "# status bit N (WORD): TEXT" per bit set in its `status = S` line, in increasing order, each
# bit's word and meaning as `models` lists them for MODEL ("# status ok: ..." for S = 0); every
# other line is one `name = value` (else exit 1, naming the first line that is not)
point_words() {
  /usr/bin/python3 - "$m" "$1" "$2" <<'EOF'
import re, sys
models, model, out = sys.argv[1:]
listed, cur, in_bits = {}, None, False
for l in models.splitlines():
    if l.startswith("model "):
        cur, in_bits = l.split()[1], False
    elif l.startswith("  ") and not l.startswith("    "):
        in_bits = l.startswith("  status bits (")
    elif cur == model and in_bits and l.startswith("    "):
        word, n, mask, bkind, text = l.split(None, 4)
        listed[int(n)] = f"# status bit {n} ({word}): {text}"
lines = out.splitlines()
for l in lines:
    if not l.startswith("#") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]* = [^=]*", l):
        print(f"not a `name = value` line: {l}")
        sys.exit(1)
status = [int(l.split(" = ")[1]) for l in lines if l.startswith("status = ")]
want = [listed.get(n, f"# status bit {n}: undeclared by model {model}")
        for n in range(32) if status[0] >> n & 1] if len(status) == 1 else ["one status line"]
want = want or ["# status ok: every field is defined"]
got = [l for l in lines if l.startswith("#")]
if got != want:
    print(f"status lines {got}, expected {want}")
    sys.exit(1)
EOF
}

# point: exactly the model's fields, in order, each once, then one status line
fields_of_point() { sed -n 's/^\([A-Za-z_]*\) = .*/\1/p' <<<"$1"; }
declare -A args=([ep]="delta_r=0.5 alpha=0 gamma_b=0.5 t=3"
  [threemode]="delta=0.1 kappa_a=0.1 kappa_b=0.1 kappa_c=1 Gamma=1"
  [shared]="Delta=0.1 kappa_a=0.1 kappa_b=0.1")
for mod in ep threemode shared; do
  out=$("$qbmap" point $mod ${args[$mod]})
  rc=$?
  ok "point $mod: exit 0" '[ $rc -eq 0 ]'
  same "point $mod: the model's fields, in order, each once" "$(fields_of_point "$out")" "$(block $mod fields)"
  ok "point $mod: every line is a field, then the status in words" '[ "$(grep -vc "^#" <<<"$out")" -eq "$(block $mod fields | wc -l)" ] && [ "$(tail -1 <<<"$out" | cut -c1-9)" = "# status " ] && point_words $mod "$out"'
done
# the status in words is the model's own meaning of each bit (a generic bit may have a text
# naming the model's fields)
declare -A wargs=([ep]="delta_r=2 alpha=0 gamma_b=0 t=1e20"
  [threemode]="delta=0.1 kappa_a=0.1 kappa_b=0.1 kappa_c=1 Gamma=0"
  [shared]="Delta=0.1 kappa_a=0 kappa_b=0.1")
declare -A wstatus=([ep]=2061 [threemode]=128 [shared]=1025)
for mod in ep threemode shared; do
  out=$("$qbmap" point $mod ${wargs[$mod]})
  ok "point $mod ${wargs[$mod]}: status = ${wstatus[$mod]}" 'grep -qx "status = ${wstatus[$mod]}" <<<"$out"'
  ok "point $mod: status words are $mod's listed meanings, one line per bit" 'point_words $mod "$out"'
done
out=$("$qbmap" point ep delta_r=0.5 alpha=0 gamma_b=0.5 t=3)
# gamma_a = gamma_b = 1/2, delta_r = 1/2: eigenvalues of M are (-1 +- sqrt 3)/2
for kv in "growth_rate = 0.3660254037844386" "lambda_plus_re = 0" "lambda_plus_im = 0.3660254037844386" \
          "lambda_minus_re = 0" "lambda_minus_im = -1.3660254037844386" "splitting = 1.7320508075688772" \
          "regime = 2" "E_A_ss = nan" "E_B_ss = nan" "realizable = 0" "realizable_margin = -0.75" "status = 1"; do
  ok "point: $kv" 'grep -qx "$kv" <<<"$out"'
done
same "point: status in words (bit 0 only)" "$(grep "^#" <<<"$out")" \
  "# status bit 0 (not_stable): not stable (growth_rate >= -tol): steady-state fields are NaN"
# E_A, E_B, P_B, log_E_B, t_crit against the closed-form solution x(t) = (e^{Mt} - 1) M^-1 f
/usr/bin/python3 - "$out" <<'EOF'
import sys
import numpy as np
v = dict(l.split(" = ") for l in sys.argv[1].splitlines() if " = " in l)
M = np.array([[-0.5 - 0.5j, 1], [1, -0.5 + 0.5j]])
f = np.array([1.0, 0.0])
w, V = np.linalg.eig(M)
Vi = np.linalg.inv(V)
def x(t):
    return V @ np.diag((np.exp(w * t) - 1) / w) @ Vi @ f
def eb(t):
    return abs(x(t)[1]) ** 2
a, b = x(3.0)
db = (M @ np.array([a, b]) + f)[1]
want = {"E_A": abs(a) ** 2, "E_B": abs(b) ** 2, "P_B": 2 * (b.conjugate() * db).real,
        "log_E_B": np.log(abs(b) ** 2)}
lo, hi = 0.0, 0.01
while eb(hi) < 1000:
    lo, hi = hi, hi + 0.01
for _ in range(100):
    mid = 0.5 * (lo + hi)
    lo, hi = (mid, hi) if eb(mid) < 1000 else (lo, mid)
want["t_crit"] = 0.5 * (lo + hi)
bad = 0
for k, ref in want.items():
    got = float(v[k])
    if not abs(got - ref) <= 1e-13 * abs(ref):
        print(f"FAIL point: {k} = {got!r}, closed form {ref!r}")
        bad += 1
tca = float(v["t_crit_approx"])
if not (np.isfinite(tca) and tca > 0):
    print(f"FAIL point: t_crit_approx = {tca} (Eq. 33 applies: alpha = 0, |delta_r| < 1, growing)")
    bad += 1
sys.exit(bad)
EOF
rc=$?
ok "point: E_A, E_B, P_B, log_E_B, t_crit = closed form (rtol 1e-13), t_crit_approx finite" '[ $rc -eq 0 ]'
out=$("$qbmap" point ep delta_r=2 alpha=0.5 gamma_b=1.5 t=1)
same "point: two status bits in words, one line each" "$(grep "^#" <<<"$out")" \
  "# status bit 1 (tcrit_never): E_B provably never reaches E_max: t_crit is NaN
# status bit 3 (approx_outside): Eq. 33 outside its regime (needs alpha = 0, |delta_r| < 1, growth > 0): t_crit_approx is NaN"
# a meaning may contain " = " (bit 3 does): only '#' lines carry words, so every other line is
# exactly one `name = value`, as `awk -F ' = '` or a dict of split(" = ") reads it
ok "point: line by line, every line not starting with '#' is one name = value" '[ -z "$(grep -v "^#" <<<"$out" | awk -F " = " "NF != 2")" ] && [ "$(grep -c " = " <<<"$out")" -gt "$(grep -vc "^#" <<<"$out")" ]'
ok "point: status = 10" 'grep -qx "status = 10" <<<"$out"'
same "point: a model's own bit in words (threemode bit 7)" "$("$qbmap" point threemode ${wargs[threemode]} | tail -1)" \
  "# status bit 7 (no_reduction): no reduced model: the a-b coupling through c vanishes (Gamma, a coupling or K_c is 0): reduced fields are NaN"
same "point: a generic bit in the model's words (ep bit 11)" "$("$qbmap" point ep ${wargs[ep]} | grep "^# status bit 11 ")" \
  "# status bit 11 (t_unresolved): time-dependent fields not resolvable in double precision at this t (estimated relative error above 1e-6: phases or exponents of order 1/eps, or a stiff drift far from its steady state): E_A, E_B, P_B, log_E_B are NaN"
out=$("$qbmap" point threemode delta=0.1 kappa_a=0.1 kappa_b=0.1 kappa_c=1 Gamma=1)
ok "point: status ok in words" '[ "$(tail -1 <<<"$out")" = "# status ok: every field is defined" ] && grep -qx "status = 0" <<<"$out"'

# point --json: one strictly valid JSON object (no NaN/Infinity tokens) holding exactly what the
# text form prints, bit for bit, plus the parameters used and the decoded status bits; for every
# model, at points with NaN and infinite fields, -0, several status bits and each of a group of
# alternative parameters (ep's alpha / gamma_a); --json may stand before or after the arguments
json_cases=("ep ${args[ep]}" "ep ${wargs[ep]}" "ep delta_r=2 alpha=0.5 gamma_b=1.5 t=1"
  "ep delta_r=0.5 alpha=0 gamma_b=0.5 t=1000" "ep delta_r=0.25 gamma_a=2 gamma_b=1 E_max=5 t=2"
  "threemode ${args[threemode]}" "threemode ${wargs[threemode]}" "shared ${args[shared]}"
  "shared ${wargs[shared]}" "network --config $src/examples/network_threemode.yaml delta=0.3 t=5")
for c in "${json_cases[@]}"; do
  "$qbmap" point $c >"$work/text" && "$qbmap" point --json $c >"$work/json1" &&
    "$qbmap" point $c --json >"$work/json2" || echo "point $c: exit $?" >>"$work/json_fail"
  cmp -s "$work/json1" "$work/json2" || echo "point $c: --json first and last differ" >>"$work/json_fail"
  printf '%s\0%s\0%s\0' "$c" "$(cat "$work/text")" "$(cat "$work/json1")" >>"$work/json_cases"
done
# the network's own parameters: `models --config` lists them (after the template's block)
m_net=$("$qbmap" models --config "$src/examples/network_threemode.yaml")
/usr/bin/python3 - "$m
$m_net" "$work/json_cases" <<'EOF'
import json, re, struct, sys
models_text, path = sys.argv[1], sys.argv[2]
listed = {}  # model -> {"params": [(name, default)], "bits": {n: (mask, word, text)}}
cur = kind = None
for l in models_text.splitlines():
    if l.startswith("model "):
        cur = listed.setdefault(l.split()[1], {"params": [], "bits": {}})
    elif l.startswith("  ") and not l.startswith("    "):
        kind = l.split("(")[0].strip()
    elif l.startswith("    ") and kind == "parameters":
        name, default = l.split()[:2]
        cur["params"].append((name, default))
    elif l.startswith("    ") and kind == "status bits":
        word, n, mask, bkind, text = l.split(None, 4)
        cur["bits"][int(n)] = (int(mask), word, text, bkind)
parts = open(path).read().split("\0")[:-1]
bits64 = lambda x: struct.pack("<d", float(x))
seen, bad = set(), []
def no_constant(c):
    raise ValueError(f"non-standard JSON constant {c}")
for case, text, js in zip(parts[0::3], parts[1::3], parts[2::3]):
    def fail(what):
        bad.append(f"point --json {case}: {what}")
    try:
        d = json.loads(js, parse_constant=no_constant)
    except ValueError as e:
        fail(f"not strict JSON: {e}")
        continue
    # the arguments name=value (a --config FILE starts from FILE's fixed values instead of
    # defaults: only its given values are checked against the listing's defaults then)
    toks = case.split()
    model, args = toks[0], dict(a.split("=") for a in toks[1:] if "=" in a)
    config = "--config" in toks
    keys = ["model", "parameters", "given", "defaulted", "fields", "nonfinite", "status",
            "status_bits"]
    if list(d) != keys:
        fail(f"keys {list(d)}")
        continue
    L = listed[model]
    names = [n for n, _ in L["params"]]
    if d["model"] != model or list(d["parameters"]) != names:
        fail(f"model {d['model']} or parameters {list(d['parameters'])}")
    if d["given"] != [n for n in names if n in args]:
        fail(f"given {d['given']}")
    for n, v in args.items():
        if d["parameters"].get(n) is None or bits64(d["parameters"][n]) != bits64(v):
            fail(f"parameter {n} = {d['parameters'].get(n)!r}, given {v}")
    for n, default in L["params"]:
        v = d["parameters"][n]
        if n in args or config:
            continue
        if (v is None) != (default in ("one-of", "required")) or (n in d["defaulted"]) != (v is not None):
            fail(f"parameter {n} = {v!r}, default {default}, defaulted {d['defaulted']}")
        elif v is not None and abs(v - float(default)) > 1e-5 * abs(v):
            fail(f"parameter {n} = {v!r}, but models lists default {default}")
    lines = text.splitlines()
    fields = [l.split(" = ") for l in lines if not l.startswith("#")]
    if [n for n, _ in fields] != list(d["fields"]):
        fail(f"fields {list(d['fields'])}, text form {[n for n, _ in fields]}")
        continue
    for n, t in fields:
        v = d["fields"][n]
        if t in ("nan", "inf", "-inf"):
            seen.add(t)
            if v is not None or d["nonfinite"].get(n) != t:
                fail(f"{n} = {t} in text, {v!r} / nonfinite {d['nonfinite'].get(n)!r} in JSON")
        elif v is None or bits64(v) != bits64(t) or n in d["nonfinite"]:
            fail(f"{n} = {t} in text, {v!r} in JSON (not bit for bit)")
        elif t == "-0":
            seen.add("-0")
    if set(d["nonfinite"]) - {n for n, t in fields if t in ("nan", "inf", "-inf")}:
        fail(f"nonfinite lists finite fields: {d['nonfinite']}")
    s = d["status"]
    if not isinstance(s, int) or s != int(dict(fields)["status"]) or s != d["fields"]["status"]:
        fail(f"status {s!r}, text form {dict(fields)['status']}")
        continue
    want = [{"bit": n, "mask": 1 << n, "word": L["bits"][n][1], "kind": L["bits"][n][3],
             "text": L["bits"][n][2]}
            for n in range(32) if s >> n & 1]
    if d["status_bits"] != want or any(L["bits"][b["bit"]][0] != b["mask"] for b in want):
        fail(f"status_bits {d['status_bits']}, models lists {want}")
    words = [f"# status bit {b['bit']} ({b['word']}): {b['text']}" for b in d["status_bits"]]
    if [l for l in lines if l.startswith("#")] != (words or ["# status ok: every field is defined"]):
        fail("status_bits differ from the text form's status lines")
    seen |= {model, f"{min(len(want), 2)} bits"}
need = {"nan", "inf", "-0", "0 bits", "1 bits", "2 bits"} | set(listed)
if need - seen:
    bad.append(f"the cases do not cover {sorted(need - seen)}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
rc=$?
ok "point --json: strict JSON, equal to the text form bit for bit, every model (${#json_cases[@]} points)" '[ $rc -eq 0 ] && [ ! -e "$work/json_fail" ]'
[ -e "$work/json_fail" ] && cat "$work/json_fail"

# bad point arguments: nothing on stdout, one line on stderr naming the problem, exit 2
bad() { # NAME PATTERN ARGS...
  local name=$1 pat=$2 o e rc
  shift 2
  o=$("$qbmap" point "$@" 2>"$work/err"); rc=$?
  e=$(cat "$work/err")
  ok "point $name: exit 2, one line naming it" '[ $rc -eq 2 ] && [ -z "$o" ] && [ "$(wc -l <<<"$e")" -eq 1 ] && [[ "$e" == *"$pat"* ]]'
}
bad "unknown parameter" "unknown parameter 'foo'" ep foo=1 delta_r=0 alpha=0 gamma_b=1
bad "unknown model" "unknown model 'nosuch'" nosuch
bad "missing parameter" "'gamma_b' is required" ep delta_r=0.5
bad "not a number" "'delta_r' = 'x' is not a number" ep delta_r=x alpha=0 gamma_b=1
bad "--json, unknown parameter" "unknown parameter 'foo'" --json ep foo=1 delta_r=0 alpha=0 gamma_b=1
bad "--json, missing parameter" "'gamma_b' is required" ep delta_r=0.5 --json
ok "point --json without a model: usage on stderr, exit 2" 'o=$("$qbmap" point --json 2>"$work/err"); [ $? -eq 2 ] && [ -z "$o" ] && [[ "$(cat "$work/err")" == "usage: qbmap point"* ]]'

ok "print-config = examples/ep_fig3.yaml" '"$qbmap" run --print-config | cmp -s - "$src/examples/ep_fig3.yaml"'
"$qbmap" run "$src/examples/network_shared.yaml" --print-config >"$work/net1.yaml"
ok "print-config of a network is a config that prints itself" '"$qbmap" run "$work/net1.yaml" --print-config | cmp -s - "$work/net1.yaml" && grep -q "^network: {" "$work/net1.yaml"'

# expressions (qb_bind): print-config round trip with --set EXPR, --resume of the same config
# (accepted) and of another expression (refused), models --config lists the expressions
cat >"$work/bind.yaml" <<'EOF'
model: threemode
symbols: [alpha, delta_r]
axes:
  - {name: delta_r, min: -1, max: 1, n: 3}
  - {name: kappa_b, values: [0.01, 1]}
fixed: {alpha: 0.5, kappa_a: "kappa_b*(1 - alpha)", p_a: "(kappa_a/kappa_b)^0.25", delta: 0.5*delta_r, kappa_c: 1, Gamma: 1}
EOF
"$qbmap" run "$work/bind.yaml" --print-config --set "t=2*alpha" | grep -v '^#' >"$work/bind1.yaml"
ok "print-config with expressions and symbols prints itself" '"$qbmap" run "$work/bind1.yaml" --print-config | grep -v "^#" | cmp -s - "$work/bind1.yaml" && grep -q "^symbols: \[alpha, delta_r\]" "$work/bind1.yaml" && grep -q "t: \"2\*alpha\"" "$work/bind1.yaml"'
"$qbmap" run "$work/bind.yaml" -o "$work/bind.h5" --progress 0 >/dev/null 2>&1
ok "--resume of a finished expressions run is accepted" '"$qbmap" run "$work/bind.yaml" -o "$work/bind.h5" --resume >/dev/null 2>&1'
ok "--resume with another expression is refused" '! "$qbmap" run "$work/bind.yaml" -o "$work/bind.h5" --resume --set "kappa_a=kappa_b*(1 - 2*alpha)" >/dev/null 2>"$work/err" && grep -q "another configuration" "$work/err"'
ok "a value with + or - alone is an expression: --set kappa_a=kappa_b+0.1, point J=0.1+0.2" '"$qbmap" run "$work/bind.yaml" --print-config --set "kappa_a=kappa_b+0.1" | grep -q "kappa_a: \"kappa_b+0.1\"" && [ "$("$qbmap" point shared J=0.1+0.2 Delta=0.1 kappa_a=0.3 kappa_b=0.2 | grep "^E_B_ss")" = "$("$qbmap" point shared J=0.30000000000000004 Delta=0.1 kappa_a=0.3 kappa_b=0.2 | grep "^E_B_ss")" ]'
ok "models --config lists symbols and expressions" '"$qbmap" models --config "$work/bind.yaml" | grep -q "kappa_a  *expression .*= kappa_b\*(1 - alpha) (expression)" && "$qbmap" models --config "$work/bind.yaml" | grep -q "^    alpha .*user symbol" && "$qbmap" models --config "$work/bind.yaml" | grep -q "bad_expression"'

# run CONFIG --print-config: the normalized config (with --set), then the dry run as YAML
# comments; exact for a small config, and the same blocks, points and config as the real run
cat >"$work/small.yaml" <<'EOF'
model: ep   # a comment
axes:
  - {name: gamma_b, values: [0.5, 1]}
  - {name: delta_r, min: -1, max: 1e0, n: 5}
fixed: {alpha: 0.25}
fields: [growth_rate, regime]
EOF
dry=$(cd "$work" && "$qbmap" run small.yaml --print-config --set E_max=50 --block-points 4)
rc=$?
same "print-config CONFIG --set: normalized config and dry run (exact)" "$rc
$dry" "0
model: ep
axes:
  - {name: gamma_b, values: [0.5, 1]}
  - {name: delta_r, min: -1, max: 1, n: 5, scale: lin}
fixed: {alpha: 0.25, E_r: 1, E_max: 50, t: 0}
fields: [growth_rate, regime, status]
# dry run: nothing computed, nothing written
# grid: gamma_b[2] x delta_r[5] = 10 points
# fields: 3 (1 float64, 2 int32)
# blocks: 2 of at most 5 points (--block-points 4)
# output: small.h5
# size: about 234 B: fields 160 bytes, coordinates 56, done mask 18; plus metadata (tens of kB)"
ok "print-config wrote nothing (no output, lock or partial file)" '[ "$(ls "$work" | grep -c "^small")" -eq 1 ]'
# the printed config is a config: it gives the same normalized config again, and the real run
# (same --block-points) has the dry run's blocks and points and stores that normalized config
printf '%s\n' "$dry" >"$work/printed.yaml"
ok "print-config: the printed config prints itself again" '[ "$("$qbmap" run "$work/printed.yaml" --print-config --block-points 4 -o "$work/small.h5" | grep -v "^#")" = "$(grep -v "^#" <<<"$dry")" ]'
run=$("$qbmap" run "$work/small.yaml" -o "$work/small.h5" --set E_max=50 --block-points 4)
ok "print-config: the run has the dry run's grid and blocks" '[[ "$run" == *"gamma_b[2] x delta_r[5] = 10 points, 3 fields, 2 blocks of <= 5 points, 1 rank -> $work/small.h5"* ]]'
/usr/bin/python3 - "$work/small.h5" "$(grep -v '^#' <<<"$dry")" "$(sed -n 's/^# size: about .*: fields \([0-9]*\) bytes, coordinates \([0-9]*\), done mask \([0-9]*\);.*/\1 \2 \3/p' <<<"$dry")" <<'EOF'
import os, sys
import h5py
path, normalized, parts = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split()]
f = h5py.File(path, "r")
stored = f.attrs["config_normalized"]
stored = stored.decode() if isinstance(stored, bytes) else stored
data = sum(f[n].size * f[n].dtype.itemsize for n in ("growth_rate", "regime", "status"))
coords = sum(f[n].size * f[n].dtype.itemsize for n in ("gamma_b", "delta_r"))
done = f["blocks/done"].size * f["blocks/done"].dtype.itemsize + f["blocks/block"].size * f["blocks/block"].dtype.itemsize
size = os.path.getsize(path)
bad = []
if stored.rstrip("\n") != normalized.rstrip("\n"):
    bad.append(f"config_normalized {stored!r} != printed {normalized!r}")
if [data, coords, done] != parts:
    bad.append(f"file's datasets {[data, coords, done]} bytes, dry run {parts}")
if not sum(parts) <= size <= sum(parts) + 100_000:
    bad.append(f"file {size} bytes, dry run {sum(parts)} + tens of kB")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
rc=$?
ok "print-config: the file stores the printed config; fields, coordinates, done mask as estimated" '[ $rc -eq 0 ]'
ok "print-config: an existing output is named" '"$qbmap" run "$work/small.yaml" -o "$work/small.h5" --print-config | grep -qxF "# output: $work/small.h5 (exists: the run needs --force, or --resume)"'
ok "print-config --set without CONFIG: the default, normalized, with the override" 'd=$("$qbmap" run --print-config --set E_max=5) && grep -q "^fixed: {.*E_max: 5[,}]" <<<"$d" && grep -qx "# grid: gamma_b\[3\] x alpha\[351\] x delta_r\[801\] = 843453 points" <<<"$d"'
ok "print-config under mpiexec -n 2: printed once by rank 0" '[ "$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpiexec -n 2 "$qbmap" run "$work/small.yaml" --print-config -o "$work/mpi.h5" 2>/dev/null | grep -c "^# dry run")" -eq 1 ] && [ ! -e "$work/mpi.h5" ]'
echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
