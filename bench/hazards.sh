#!/usr/bin/env bash
# Numerical hazards and accuracy at scale (not part of the test suite).
#  1. 1e7 random points per model over the whole verified range (tests/test_hazards.c: every NaN
#     explained, every inf flagged, int32 fields finite, regime consistent with growth_rate, the
#     steady state reached at t = 1e250), on both cores: the ep model's 1e7 as two halves with
#     different seeds.
#  2. The accuracy behind the verified ranges (include/qbmap/qb_model.h): ACCURACY points per
#     model drawn over the same ranges, each reported (non-NaN) field compared with a 50-digit
#     mpmath reference (eigenvalues, LU, augmented matrix exponential at 50 + log10(|M| t)
#     digits) against its stated tolerance: energies 1e-6 relative (shared, threemode: plus 1e-10
#     of the total energy E_A + E_B (+ E_c)), P_B 1e-6 of 2|b||b'| (shared: + 2|x||x'|), log_E_B 1e-6 of
#     max(1, |log_E_B|), growth rates 1e-12 of the drift's scale, reduced coefficients 1e-6
#     relative, t_crit: E_B(t_crit) = E_max E_r^2 to 1e-6 in the logarithm and no earlier
#     crossing on 19 samples.  Prints the worst error per field and any point over tolerance.
# Prints the counts; exits non-zero on any unexplained NaN, unflagged inf or value over tolerance.
# Usage: bench/hazards.sh BUILD_DIR [POINTS] [ACCURACY]   (defaults 1e7, 300; ACCURACY 0: skip)
set -u
bd=$(cd "$1" && pwd)
b=$bd/tests/test_hazards
n=${2:-10000000}
acc=${3:-300}
half=$((n / 2))
rc=0
( "$b" "$half" ep 1 >/tmp/hz.ep1 2>&1; "$b" "$n" threemode 3 >/tmp/hz.three 2>&1 ) &
( "$b" "$half" ep 2 >/tmp/hz.ep2 2>&1; "$b" "$n" shared 4 >/tmp/hz.shared 2>&1 ) &
wait
for f in /tmp/hz.ep1 /tmp/hz.ep2 /tmp/hz.three /tmp/hz.shared; do
  cat "$f"
  grep -q " 0 failed" "$f" || rc=1
done
[ "$acc" -gt 0 ] || exit $rc
script=$(mktemp --suffix=.py)
trap 'rm -f "$script"' EXIT
cat >"$script" <<'PY'
"""Accuracy of qbmap's kernels over their whole verified range, against 50-digit references
(mpmath: eigenvalues, LU, augmented matrix exponential at 50 + log10(|M| t) digits).
Every reported (non-NaN) field must meet its stated tolerance; NaN must carry a status bit (the
hazards test checks that).  Usage: accuracy.py QBMAP MODEL N SEED"""
import math, random, re, subprocess, sys
import mpmath as mp

QBMAP, MODEL, N, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(SEED)
BIG = 1.7976931348623157e308

def logu(lo, hi):
    return 10 ** rng.uniform(math.log10(lo), math.log10(hi))

def mag(hi, zero=0.1):
    u = rng.random()
    if u < zero: return 0.0
    if u < 0.15: return hi
    return logu(hi * 1e-12, hi) if u < 0.6 else logu(1e-12, min(hi, 1e3))

def sgn(x):
    return x if rng.random() < 0.5 else -x

def draw_t():
    u = rng.random()
    if u < 0.03: return 0.0
    if u < 0.06: return 1e250
    return logu(1e-12, 1e4) if u < 0.6 else logu(1e-12, 1e250)

def sample():
    if MODEL == 'ep':
        p = dict(delta_r=sgn(mag(1e12)), alpha=sgn(mag(1e12)), gamma_b=sgn(mag(1e12)), t=draw_t(),
                 E_r=logu(1e-100, 1e100), E_max=logu(1e-100, 1e100))
        u = rng.random()
        if u < 0.1: p.update(alpha=0.0, delta_r=sgn(1.0))
        elif u < 0.2:
            dr = rng.uniform(-0.99, 0.99); p.update(alpha=0.0, delta_r=dr, gamma_b=math.sqrt((1 - dr) * (1 + dr)))
        elif u < 0.3:
            gb = logu(1e-3, 1e3); p.update(delta_r=0.0, gamma_b=gb, alpha=0.5 * (1 / gb - gb))
        return p
    ph = lambda: rng.uniform(-10, 10)
    cp = lambda: 0.0 if rng.random() < 0.05 else logu(1e-6, 1e3)
    if MODEL == 'shared':
        return dict(Delta=sgn(mag(1e6)), J=mag(1e6), phi=ph(), Gamma=mag(1e6), p_a=cp(), p_a_phase=ph(),
                    p_b=cp(), p_b_phase=ph(), kappa_a=mag(1e6), kappa_b=mag(1e6),
                    F=logu(1e-300, 1e300), t=draw_t())
    return dict(delta=sgn(mag(1e6)), delta_c=sgn(mag(1e6, 0.5)), kappa_a=mag(1e6), kappa_b=mag(1e6),
                kappa_c=mag(1e6), Gamma=mag(1e6, 0.02), p_a=cp(), p_b=cp(), p_ca=cp(), p_cb=cp(),
                p_a_phase=ph(), p_b_phase=ph(), p_ca_phase=ph(), p_cb_phase=ph(),
                E=logu(1e-300, 1e300), t=draw_t())

def point(p):
    args = [QBMAP, 'point', MODEL] + ['%s=%r' % (k, float(v)) for k, v in p.items()]
    r = subprocess.run(args, capture_output=True, text=True)
    out = {}
    for ln in r.stdout.splitlines():
        mt = re.match(r'^(\w+) = (\S+)$', ln)
        if mt:
            out[mt.group(1)] = float(mt.group(2))
    return out

def cx(m, ph): return mp.mpf(m) * mp.expj(mp.mpf(ph))

def drift(p):
    g = lambda k, d=0: mp.mpf(p.get(k, d))
    if MODEL == 'ep':
        ga = g('gamma_b') + 2 * g('alpha'); gb = g('gamma_b'); dr = g('delta_r')
        return mp.matrix([[-ga - 1j * dr, 1], [1, -gb + 1j * dr]]), mp.matrix([g('E_r', 1), 0])
    if MODEL == 'shared':
        J = cx(g('J'), g('phi')); G = g('Gamma'); pa = cx(g('p_a', 1), g('p_a_phase')); pb = cx(g('p_b', 1), g('p_b_phase'))
        mu = -pb * mp.conj(pa); gA = G * abs(pa)**2 + g('kappa_a'); gB = G * abs(pb)**2 + g('kappa_b'); D = g('Delta')
        M = mp.matrix([[-gA / 2 - 1j * D, -1j * (J + 1j * mu * G / 2)],
                       [-1j * (mp.conj(J) + 1j * mp.conj(mu) * G / 2), -gB / 2 - 1j * D]])
        return M, mp.matrix([-1j * g('F', 0.1), 0])
    va = [cx(g('p_a', 1), g('p_a_phase')), 0, cx(g('p_ca', 1), g('p_ca_phase'))]
    vb = [0, cx(g('p_b', 1), g('p_b_phase')), cx(g('p_cb', 1), g('p_cb_phase'))]
    kap = [g('kappa_a'), g('kappa_b'), g('kappa_c')]; det = [g('delta'), -g('delta'), g('delta_c')]; G = g('Gamma')
    M = mp.matrix(3, 3)
    for i in range(3):
        for j in range(3):
            M[i, j] = -(G * (mp.conj(va[i]) * va[j] + mp.conj(vb[i]) * vb[j]) + (kap[i] if i == j else 0)) / 2 - (1j * det[i] if i == j else 0)
    return M, mp.matrix([-1j * g('E', 1), 0, 0])

def transient(M, f, t):
    """x(t), x'(t) from the augmented exponential at unit drive (normwise accurate at 50+ digits)"""
    n = M.rows; sc = max(abs(v) for v in f)
    A = mp.matrix(n + 1, n + 1)
    for i in range(n):
        for j in range(n): A[i, j] = M[i, j] * t
        A[i, n] = f[i] / sc * t
    E = mp.expm(A)
    x = mp.matrix([E[i, n] * sc for i in range(n)])
    dx = mp.matrix([mp.fsum(E[i, j] * f[j] for j in range(n)) for i in range(n)])
    return x, dx

bad = {}; worst = {}; checked = {}
def judge(field, err, p, c, r):
    checked[field] = checked.get(field, 0) + 1
    if err > 1e-6:
        bad[field] = bad.get(field, 0) + 1
        if bad[field] <= 3:
            print('OVER TOLERANCE %s: err %.3g got %r ref %s at %s %s' % (field, err, c, mp.nstr(r, 12), MODEL,
                  ' '.join('%s=%r' % kv for kv in p.items())))
    if field not in worst or err > worst[field][0]: worst[field] = (err, c, r)

def rel(c, r, floor=mp.mpf(0)):
    """relative error with an absolute floor; values beyond the double range compare as inf/0"""
    if math.isinf(c): return 0.0 if abs(r) > BIG else 1.0
    if abs(r) > BIG: return 1.0
    return float(abs(c - r) / (abs(r) + floor + mp.mpf('1e-300')))

for _ in range(N):
    p = sample()
    c = point(p)
    if not c or int(c.get('status', 64)) & 64: continue
    with mp.workdps(50):
        M, f = drift(p)
        n = M.rows
        scale = max(abs(v) for v in M) + (1 if MODEL == 'ep' else 0)
        ev = mp.eig(M, left=False, right=False)
        g = max(mp.re(l) for l in ev)
        if not math.isnan(c['growth_rate']):
            # stated: |err| <= 1e-12 scale; reported as |err|/scale * 1e6 so that the limit is 1e-6
            judge('growth_rate (|err|/scale x 1e6)', float(abs(c['growth_rate'] - g) / scale) * 1e6, p, c['growth_rate'], g)
        stable = g < -mp.mpf(10) ** -40 * scale
        xs = mp.lu_solve(M, -f) if stable else None
        if xs is not None:
            Es = sum(abs(v)**2 for v in xs)
            for i, k in enumerate(('E_A_ss', 'E_B_ss')):
                if k in c and not math.isnan(c[k]):
                    fl = 1e-4 * Es if MODEL != 'ep' else mp.mpf(0)
                    judge(k, rel(c[k], abs(xs[i])**2, fl), p, c[k], abs(xs[i])**2)
        t = mp.mpf(p['t'])
        nt = float(scale * t)
        with mp.workdps(50 + (int(mp.log10(nt)) if nt > 1 else 0)):
            M2, f2 = drift(p)
            x, dx = transient(M2, f2, t)
            Et = sum(abs(v)**2 for v in x)
            for i, k in enumerate(('E_A', 'E_B')):
                if not math.isnan(c[k]):
                    fl = 1e-4 * Et if MODEL != 'ep' else mp.mpf(0)
                    judge(k, rel(c[k], abs(x[i])**2, fl), p, c[k], abs(x[i])**2)
            if 'P_B' in c and not math.isnan(c['P_B']):
                pb = 2 * mp.re(mp.conj(x[1]) * dx[1])
                sc = 2 * abs(x[1]) * abs(dx[1])
                if MODEL != 'ep': sc += 2 * mp.sqrt(Et) * mp.sqrt(sum(abs(v)**2 for v in dx))
                judge('P_B', rel(c['P_B'], pb, sc) if not math.isinf(c['P_B']) else rel(c['P_B'], pb), p, c['P_B'], pb)
            if 'log_E_B' in c and not math.isnan(c['log_E_B']) and abs(x[1]) > 0:
                lb = mp.log(abs(x[1])**2)
                judge('log_E_B (abs/max(1,|.|))', float(abs(c['log_E_B'] - lb) / max(1, abs(lb))), p, c['log_E_B'], lb)
        if MODEL == 'ep' and not math.isnan(c.get('t_crit', math.nan)):
            tc = mp.mpf(c['t_crit']); target = mp.mpf(p['E_max']) * mp.mpf(p['E_r'])**2
            with mp.workdps(50 + (int(mp.log10(scale * tc)) if scale * tc > 1 else 0)):
                M2, f2 = drift(p)
                x, _ = transient(M2, f2, tc)
                judge('t_crit: |ln E_B(t_crit) - ln E_max|', float(abs(mp.log(abs(x[1])**2) - mp.log(target))), p, c['t_crit'], tc)
                first = 0.0
                for k in range(1, 20):
                    xx, _ = transient(M2, f2, tc * k / 20)
                    if abs(xx[1])**2 > target * (1 + 1e-6): first = 1.0
                judge('t_crit: first crossing', first, p, c['t_crit'], tc)
        if MODEL == 'threemode' and not math.isnan(c.get('gamma_a_red', math.nan)):
            S = mp.matrix(2, 2)
            for i in range(2):
                for j in range(2):
                    S[i, j] = M[i, j] - M[i, 2] * M[2, j] / M[2, 2]
            sab = abs(S[0, 1])
            ref = {'gamma_a_red': -mp.re(S[0, 0]) / sab, 'gamma_b_red': -mp.re(S[1, 1]) / sab,
                   'delta_r_red': -mp.im(S[0, 0]) / sab, 'delta_r_b_red': mp.im(S[1, 1]) / sab, 'time_unit': 1 / sab}
            ref['realizable_margin'] = ref['gamma_a_red'] * ref['gamma_b_red'] - 1
            for k, r in ref.items():
                # detunings: a sum of two terms of either sign, relative to the terms
                fl = (abs(M[0, 0]) + abs(M[0, 2] * M[2, 0] / M[2, 2])) / sab if k.startswith('delta') else 0
                if not math.isnan(c[k]): judge(k, rel(c[k], r, fl * 1e-6), p, c[k], r)
            gr = max(mp.re(l) for l in mp.eig(S, left=False, right=False))
            if not math.isnan(c['growth_rate_red']):
                judge('growth_rate_red (|err|/scale x 1e6)', float(abs(c['growth_rate_red'] - gr) / scale) * 1e6, p, c['growth_rate_red'], gr)

print('%s: %d points; fields checked: %s' % (MODEL, N, checked))
print('over the stated tolerance:', bad if bad else 'none')
for k, (e, cv, rv) in sorted(worst.items()):
    print('  %-42s worst %.3g' % (k, e))
sys.exit(1 if bad else 0)
PY
for m in ep shared threemode; do
  /usr/bin/python3 "$script" "$bd/qbmap" "$m" "$acc" 1 >/tmp/acc.$m 2>&1 &
done
wait
for m in ep shared threemode; do
  cat /tmp/acc.$m
  grep -q "over the stated tolerance: none" /tmp/acc.$m || rc=1
done
exit $rc
