#!/usr/bin/python3
"""Model `network` against QuTiP (and the Gaussian moment equations of network_ref.py) on the six
networks of tests/data/network/: a thermal single mode; two modes with complex hopping and a
thermal bath on one; the EP paper's three-mode model with a thermal shared reservoir; the SO
paper's charger-battery model at n_th > 0; two-mode squeezing and single-mode squeezing below
threshold.  For each: `qbmap point network --config FILE t=T` at TIMES and the steady state.

Per network, with Q_n = QuTiP on n Fock levels per mode (mesolve from the vacuum, steadystate):
  1. truncation: |Q_n - Q_{n+1}| < trunc_tol (scaled as below) for every compared quantity;
  2. the Gaussian reference (augmented matrix exponential of the moment equations) agrees with
     Q_{n+1} to agree_tol (also in nbar, re, im of the steady state): the reference is
     validated inside the test;
  3. qbmap's E_m, W_m, nbar_m, re_m, im_m at every t and E_m_ss, W_m_ss agree with Q_{n+1} to agree_tol and with the Gaussian reference to GAUSS_TOL;
     growth_rate agrees with max Re eig of the Bogoliubov drift to GROWTH_TOL (absolute, in units
     of the largest rate of the network).
(trunc_tol, agree_tol) per network in NETWORKS: QuTiP's truncation limits them.  The error of
Q_n falls geometrically with n (by a factor 10-70 per level here), so Q_{n+1} is closer to the
exact values than |Q_n - Q_{n+1}|, and agree_tol is set below trunc_tol.
Scales (the deviation is divided by): E_m by E_m; W_m and nbar_m by E_m (their QuTiP errors are
truncation errors of the whole mode, proportional to its energy); re_m, im_m by |<m>|.
Usage: qutip_network.py QBMAP     (network_ref.py --selfcheck runs steps 1-2 without qbmap)"""
import os
import sys

import numpy as np

import network_ref as nr
from qbcheck import check, guarded

TIMES = [0.5, 2.0, 6.0, 15.0]
GAUSS_TOL = 1e-10  # qbmap vs the Gaussian reference (both exact up to rounding)
GROWTH_TOL = 1e-12

# (config name in tests/data/network, values overriding its `fixed`, Fock levels per mode n,
#  (truncation tolerance on |Q_n - Q_{n+1}|, agreement tolerance on |X - Q_{n+1}|), scaled)
NETWORKS = [
    ("thermal_single", {}, [9], (1e-8, 1e-9)),
    ("hopping_thermal", {}, [8, 7], (3e-6, 2e-7)),
    ("ep_thermal", {}, [4, 4, 4], (5e-5, 1e-6)),
    ("so_thermal", {}, [7, 8], (1e-6, 1e-7)),
    ("tms", {}, [8, 7], (1e-6, 1e-7)),
    ("sms", {}, [12], (1e-7, 3e-8)),
]
QUANTITIES = ("E", "W", "nbar", "re", "im")
SS_FIELDS = ("E", "W")  # qbmap prints E_<m>_ss, W_<m>_ss (the references have all five)


def scale(ref, m, k, i=None):
    """The number a deviation of quantity k of mode m is divided by (see the docstring)."""
    sfx = "_ss" if i is None else ""
    pick = (lambda key: ref[m][key + sfx]) if i is None else (lambda key: ref[m][key][i])
    if k in ("re", "im"):
        return abs(complex(pick("re"), pick("im")))
    return abs(pick("E"))


def deviations(a, b, ref, modes):
    """{(mode, k, i or None): scaled |a - b|} over TIMES (i) and the steady state (None; the
    quantities that both a and b have)."""
    out = {}
    for m in modes:
        for k in QUANTITIES:
            for i in range(len(TIMES)):
                out[(m, k, i)] = abs(a[m][k][i] - b[m][k][i]) / scale(ref, m, k, i)
            if k + "_ss" in a[m] and k + "_ss" in b[m]:
                out[(m, k, None)] = abs(a[m][k + "_ss"] - b[m][k + "_ss"]) / scale(ref, m, k)
    return out


def label(key):
    m, k, i = key
    return f"{k}_{m}" + ("_ss" if i is None else f"(t={TIMES[i]})")


def references(name, point, levels):
    """(net, QuTiP on levels, QuTiP on levels + 1, Gaussian reference)."""
    net = nr.point_network(os.path.join(nr.DATA_DIR, name + ".yaml"), point)
    q = nr.qutip_moments(net, TIMES, levels)
    q1 = nr.qutip_moments(net, TIMES, [n + 1 for n in levels])
    g = nr.gaussian_moments(net, TIMES)
    return net, q, q1, g


def check_references(name, net, q, q1, g, tol):
    """Steps 1-2; returns (largest truncation change, largest Gaussian-vs-QuTiP deviation)."""
    trunc_tol, agree_tol = tol
    trunc = deviations(q, q1, g, net["modes"])
    agree = deviations(g, q1, g, net["modes"])
    for key, v in trunc.items():
        check(v < trunc_tol, f"{name}: QuTiP truncation changes {label(key)} by {v:.2e}")
    for key, v in agree.items():
        check(v < agree_tol, f"{name}: Gaussian reference vs QuTiP {label(key)}: {v:.2e}")
    return max(trunc.values()), max(agree.values())


def qbmap_values(qbmap, name, net, point):
    """qbmap's values in the layout of the references, and its growth rate."""
    path = os.path.join(nr.DATA_DIR, name + ".yaml")
    out = {m: {k: np.zeros(len(TIMES)) for k in QUANTITIES} for m in net["modes"]}
    growth = None
    for i, t in enumerate(TIMES):
        v = nr.qbmap_point_config(qbmap, path, dict(point, t=t))
        growth = v["growth_rate"]
        for m in net["modes"]:
            for k in QUANTITIES:
                out[m][k][i] = v[f"{k}_{m}"]
                if i == 0 and k in SS_FIELDS:
                    out[m][k + "_ss"] = v[f"{k}_{m}_ss"]
    return out, growth


def check_qbmap(qbmap, name, point, net, q1, g, tol):
    v, growth = qbmap_values(qbmap, name, net, point)
    vs_q = deviations(v, q1, g, net["modes"])
    vs_g = deviations(v, g, g, net["modes"])
    for key in vs_q:
        check(vs_q[key] < tol[1], f"{name}: qbmap vs QuTiP {label(key)}: {vs_q[key]:.2e}")
        check(vs_g[key] < GAUSS_TOL, f"{name}: qbmap vs Gaussian {label(key)}: {vs_g[key]:.2e}")
    rates = max([gamma * (1 + nth) * float(np.max(np.abs(c)) ** 2) for gamma, nth, c in net["diss"]]
                + [float(np.max(np.abs(net["h"]))), float(np.max(np.abs(net["S"])))])
    gref = nr.growth_rate(net)
    check(abs(growth - gref) < GROWTH_TOL * rates,
          f"{name}: growth_rate qbmap {growth!r} vs eig {gref!r}")
    return max(vs_q.values()), max(vs_g.values())


def main(qbmap):
    for name, point, levels, tol in NETWORKS:
        net, q, q1, g = references(name, point, levels)
        tr, ag = check_references(name, net, q, q1, g, tol)
        dq, dg = check_qbmap(qbmap, name, point, net, q1, g, tol)
        print(f"{name}: levels {levels}: QuTiP truncation {tr:.1e}, Gaussian vs QuTiP {ag:.1e}; "
              f"qbmap vs QuTiP {dq:.1e}, qbmap vs Gaussian {dg:.1e}")


if __name__ == "__main__":
    with guarded("qutip_network"):
        main(sys.argv[1])
