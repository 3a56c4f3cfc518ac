#!/usr/bin/python3
"""Model `network` against closed forms, through `qbmap point network --config FILE ...`:

1. thermal single mode (tests/data/network/thermal_single.yaml), d alpha/dt = -lam alpha - i F,
   lam = kappa/2 + i Delta, F = E e^{i chi}: alpha(t) = -i F (1 - e^{-lam t})/lam,
   E(t) = n_th (1 - e^{-kappa t}) + |alpha|^2, nbar = n_th (1 - e^{-kappa t}), W = |alpha|^2,
   P = kappa n_th e^{-kappa t} + 2 Re(conj(alpha) alpha'), steady state E_ss = n_th + |F/lam|^2,
   W_ss = |F/lam|^2, growth_rate = -kappa/2,
   all to CLOSED_TOL relative (re, im relative to |alpha|, P relative to kappa E: P itself
   vanishes as t grows); with Delta = 0 (E(t) increasing),
   t_crit solves E(t_crit) = E_max (E_max in quanta) to CLOSED_TOL relative;
2. zero temperature, no squeezing, three modes (ep_thermal.yaml with every n_th = 0):
   W_m == E_m (also W_m_ss == E_m_ss) and nbar_m == 0 bitwise at several t;
3. two-mode squeezing (tms.yaml) at two sets of losses/detunings: growth_rate < 0 at
   r*(1 - 1e-6), > 0 at r*(1 + 1e-6) (where also E_b_ss is NaN and status != 0), |growth_rate|
   < 1e-12 (kappa_a + kappa_b) at r* = sqrt(ka kb)/2 sqrt(1 + 4 (Da + Db)^2 / (ka + kb)^2);
4. P against the centred 5-point finite difference of E_<battery>(t) (step FD_H, truncation
   error ~ FD_H^4) to FD_TOL relative, on four networks with a battery;
5. a symbol without a value (neither fixed nor on the command line) makes `qbmap point` fail.
Usage: network_closed.py QBMAP     (network_closed.py --selfcheck checks the closed forms and the
finite-difference stencil against network_ref.py's Gaussian reference, without qbmap)"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.optimize

import network_ref as nr
from qbcheck import check, guarded

CLOSED_TOL = 1e-12
FD_TOL = 1e-6
FD_H = 1e-3
THRESHOLD_TOL = 1e-12
TIMES = [0.1, 0.7, 3.0, 12.0, 40.0]


def cfg(name):
    return os.path.join(nr.DATA_DIR, name + ".yaml")


def single_mode_closed(p, t):
    """(E, re, im, W, nbar, P) of the thermal single mode at t; p: Delta, E, chi, kappa, n_th."""
    lam = p["kappa"] / 2 + 1j * p["Delta"]
    F = p["E"] * np.exp(1j * p["chi"])
    alpha = -1j * F * -np.expm1(-lam * t) / lam
    dalpha = -1j * F * np.exp(-lam * t)
    nbar = -p["n_th"] * math.expm1(-p["kappa"] * t)
    E = nbar + abs(alpha) ** 2
    P = p["kappa"] * p["n_th"] * math.exp(-p["kappa"] * t) + 2 * (np.conj(alpha) * dalpha).real
    return E, alpha.real, alpha.imag, abs(alpha) ** 2, nbar, P


def single_mode_params(point):
    _, fixed = nr.load_config(cfg("thermal_single"))
    return dict(fixed, **point)


def rel(x, ref, s=None):
    return abs(x - ref) / abs(ref if s is None else s)


def check_single_mode(qbmap):
    worst = 0.0
    for point in ({}, dict(Delta=-0.7, chi=2.5, n_th=0.3, kappa=1.3, E=2.0)):
        p = single_mode_params(point)
        for t in TIMES:
            v = nr.qbmap_point_config(qbmap, cfg("thermal_single"), dict(point, t=t))
            E, re, im, W, nbar, P = single_mode_closed(p, t)
            amp = math.hypot(re, im)
            for k, ref, s in (("E_a", E, E), ("re_a", re, amp), ("im_a", im, amp), ("W_a", W, W),
                              ("nbar_a", nbar, nbar), ("P", P, p["kappa"] * E)):
                d = rel(v[k], ref, s)
                worst = max(worst, d)
                check(d < CLOSED_TOL, f"single mode {point} t={t}: {k} qbmap {v[k]!r} vs closed "
                      f"form {ref!r} (rel {d:.2e})")
        lam = p["kappa"] / 2 + 1j * p["Delta"]
        F = p["E"] * np.exp(1j * p["chi"])
        ass = -1j * F / lam
        for k, ref, s in (("E_a_ss", p["n_th"] + abs(ass) ** 2, None), ("W_a_ss", abs(ass) ** 2, None),
                          ("growth_rate", -p["kappa"] / 2, None)):
            d = rel(v[k], ref, s)
            worst = max(worst, d)
            check(d < CLOSED_TOL, f"single mode {point}: {k} qbmap {v[k]!r} vs {ref!r} ({d:.2e})")
    print(f"single thermal mode: largest relative deviation from the closed forms {worst:.1e}")


def t_crit_closed(p):
    """First t with E(t) = E_max for Delta = 0 (E increasing), by brentq on the closed form."""
    f = lambda t: single_mode_closed(p, t)[0] - p["E_max"]  # noqa: E731
    return scipy.optimize.brentq(f, 1e-9, 200.0, xtol=1e-15, rtol=1e-15)


def check_t_crit(qbmap):
    point = dict(Delta=0.0, E=0.2, n_th=0.1, kappa=0.5)
    p = single_mode_params(point)
    e_ss = p["n_th"] + abs(p["E"] / (p["kappa"] / 2)) ** 2
    for frac in (0.1, 0.5, 0.9):
        pt = dict(point, E_max=frac * e_ss, t=1.0)
        ref = t_crit_closed(dict(p, E_max=frac * e_ss))
        v = nr.qbmap_point_config(qbmap, cfg("thermal_single"), pt)
        d = rel(v["t_crit"], ref)
        check(d < CLOSED_TOL, f"t_crit at E_max = {frac} E_ss: qbmap {v['t_crit']!r} vs closed form "
              f"{ref!r} (rel {d:.2e}; E_max taken in quanta)")
        print(f"t_crit (E_max = {frac} E_ss = {frac * e_ss:.6g}): qbmap {v['t_crit']!r}, "
              f"closed form {ref!r}")


def check_zero_temperature(qbmap):
    point = dict(n_a=0.0, n_c=0.0, n_G=0.0)
    for t in TIMES:
        v = nr.qbmap_point_config(qbmap, cfg("ep_thermal"), dict(point, t=t))
        for m in ("a", "b", "c"):
            for sfx in ("", "_ss"):
                check(v[f"W_{m}{sfx}"] == v[f"E_{m}{sfx}"] and v[f"E_{m}{sfx}"] > 0,
                      f"zero temperature t={t}: W_{m}{sfx} {v[f'W_{m}{sfx}']!r} != E_{m}{sfx} "
                      f"{v[f'E_{m}{sfx}']!r}")
            check(v[f"nbar_{m}"] == 0.0, f"zero temperature t={t}: nbar_{m} = {v[f'nbar_{m}']!r} != 0")
    print(f"zero temperature, 3 modes: W == E (and W_ss == E_ss), nbar == 0 checked bitwise at t = "
          f"{TIMES}")


THRESHOLD_POINTS = [{}, dict(kappa_a=0.3, kappa_b=1.7, Delta_a=-0.45, Delta_b=0.2, theta=2.0)]


def r_star(p):
    ka, kb, da, db = p["kappa_a"], p["kappa_b"], p["Delta_a"], p["Delta_b"]
    return math.sqrt(ka * kb) / 2 * math.sqrt(1 + 4 * (da + db) ** 2 / (ka + kb) ** 2)


def threshold_params(point):
    _, fixed = nr.load_config(cfg("tms"))
    return dict(fixed, **point)


def check_threshold(qbmap):
    for point in THRESHOLD_POINTS:
        p = threshold_params(point)
        rs = r_star(p)
        rate = p["kappa_a"] + p["kappa_b"]
        below = nr.qbmap_point_config(qbmap, cfg("tms"), dict(point, r=rs * (1 - 1e-6)))
        above = nr.qbmap_point_config(qbmap, cfg("tms"), dict(point, r=rs * (1 + 1e-6)))
        at = nr.qbmap_point_config(qbmap, cfg("tms"), dict(point, r=rs))
        check(below["growth_rate"] < 0, f"threshold {point}: growth_rate {below['growth_rate']!r} "
              f"at r*(1 - 1e-6) is not negative")
        check(above["growth_rate"] > 0, f"threshold {point}: growth_rate {above['growth_rate']!r} "
              f"at r*(1 + 1e-6) is not positive")
        check(abs(at["growth_rate"]) < THRESHOLD_TOL * rate,
              f"threshold {point}: growth_rate {at['growth_rate']!r} at r* = {rs!r} is not ~0")
        check(math.isnan(above["E_b_ss"]) and above["status"] != 0,
              f"threshold {point}: above threshold E_b_ss = {above['E_b_ss']!r} (NaN expected), "
              f"status {above['status']!r} (nonzero expected)")
        print(f"two-mode squeezing {point}: r* = {rs:.12g}; growth_rate at r*(1 -/+ 1e-6): "
              f"{below['growth_rate']:.3e} / {above['growth_rate']:.3e}, at r*: "
              f"{at['growth_rate']:.1e}")


FD_NETWORKS = [("so_thermal", "battery"), ("ep_thermal", "b"), ("hopping_thermal", "b"),
               ("tms", "b")]


def five_point(f, t, h):
    return (-f(t + 2 * h) + 8 * f(t + h) - 8 * f(t - h) + f(t - 2 * h)) / (12 * h)


def check_power(qbmap):
    for name, battery in FD_NETWORKS:
        worst = 0.0
        for t in (0.5, 3.0, 10.0):
            e = lambda s: nr.qbmap_point_config(qbmap, cfg(name), dict(t=s))[f"E_{battery}"]  # noqa
            fd = five_point(e, t, FD_H)
            P = nr.qbmap_point_config(qbmap, cfg(name), dict(t=t))["P"]
            d = rel(P, fd)
            worst = max(worst, d)
            check(d < FD_TOL, f"{name} t={t}: P qbmap {P!r} vs finite difference of E_{battery} "
                  f"{fd!r} (rel {d:.2e})")
        print(f"{name}: P vs the finite difference of E_{battery}: largest relative deviation "
              f"{worst:.1e}")


def check_missing_symbol(qbmap):
    with open(cfg("thermal_single")) as f:
        text = f.read().replace("kappa: 0.5, ", "")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        r = subprocess.run([qbmap, "point", "network", "--config", f.name, "t=1.0"],
                           capture_output=True, text=True)
        check(r.returncode != 0, f"kappa without a value: qbmap point exited 0:\n{r.stdout}")
        r = subprocess.run([qbmap, "point", "network", "--config", f.name, "t=1.0", "kappa=0.5"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"kappa given on the command line: exit {r.returncode}: {r.stderr}")
    finally:
        os.unlink(f.name)


def selfcheck():
    """The closed forms, r* and the stencil against the Gaussian reference (no qbmap)."""
    worst = 0.0
    for point in ({}, dict(Delta=-0.7, chi=2.5, n_th=0.3, kappa=1.3, E=2.0)):
        p = single_mode_params(point)
        net = nr.point_network(cfg("thermal_single"), point)
        g = nr.gaussian_moments(net, TIMES)["a"]
        for i, t in enumerate(TIMES):
            E, re, im, W, nbar, _ = single_mode_closed(p, t)
            amp = math.hypot(re, im)
            for k, ref, s in (("E", E, E), ("re", re, amp), ("im", im, amp), ("W", W, W),
                              ("nbar", nbar, nbar)):
                worst = max(worst, rel(g[k][i], ref, s))
    print(f"single mode: closed forms vs Gaussian reference (expm): {worst:.1e}")
    p = single_mode_params(dict(Delta=0.0, E=0.2, n_th=0.1, kappa=0.5))
    tc = t_crit_closed(dict(p, E_max=0.5 * (p["n_th"] + (2 * p["E"] / p["kappa"]) ** 2)))
    print(f"t_crit (E_max = E_ss/2) = {tc!r}")
    for point in THRESHOLD_POINTS:
        p = threshold_params(point)
        rs = r_star(p)
        gs = [nr.growth_rate(nr.point_network(cfg("tms"), dict(point, r=rs * f)))
              for f in (1 - 1e-6, 1.0, 1 + 1e-6)]
        print(f"threshold {point}: r* = {rs!r}, growth at r*(1-1e-6), r*, r*(1+1e-6): {gs}")
    for name, battery in FD_NETWORKS:
        net = nr.point_network(cfg(name), {})
        L, b = nr.affine_system(net)
        j = net["modes"].index(battery)
        n = len(net["modes"])
        worst = 0.0
        for t in (0.5, 3.0, 10.0):
            z = nr.gaussian_state(net, t)
            dz = L @ z + b
            exact = 2 * (np.conj(z[j]) * dz[j]).real + dz[2 * n + j * n + j].real
            fd = five_point(lambda s: nr.gaussian_moments(net, [s], steady=False)[battery]["E"][0],
                            t, FD_H)
            worst = max(worst, rel(fd, exact))
        print(f"{name}: 5-point difference (h = {FD_H}) vs exact dE_{battery}/dt: {worst:.1e}")


if __name__ == "__main__":
    if sys.argv[1] == "--selfcheck":
        selfcheck()
        sys.exit(0)
    qbmap = sys.argv[1]
    with guarded("network_closed"):
        check_single_mode(qbmap)
        check_t_crit(qbmap)
        check_zero_temperature(qbmap)
        check_threshold(qbmap)
        check_power(qbmap)
        check_missing_symbol(qbmap)
