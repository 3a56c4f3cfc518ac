#!/usr/bin/python3
"""The SO paper's figure configs (issue 14 item 5): examples/so_fig2.yaml, so_fig2_resonant.yaml,
so_fig3_4.yaml and so_fig6.yaml take every optimum and derived coupling from `optimize:` and
expressions, none typed.  Run here with qbmap, read with h5py, checked against independent
NumPy closed forms (docs/physics.md §3.4-3.7) and against model shared's own closed-form fields:

- the optimized detuning (field Delta_at_opt) equals shared's closed-form Delta_opt to 1e-9 at
  every point (so_fig6: every point with E_B_ss > 0; its (J, Gamma) = (0, 0) corner charges
  nothing, E_B_ss = 0 for every Delta, and is flagged opt_edge), and the maximizer of E_B_ss
  over the real roots of the cubic of §3.5 (numpy.roots; of tied roots the larger) to 1e-9;
- at Gamma = 0.4 the phi = pi optimum is the negative of phi = 0's (1e-9 relative); at Gamma = 0
  +-Delta tie (status bit 19 opt_not_unique, the positive one reported, = Eq. 13);
- E_A(t), E_B(t) at phi = 0 and pi coincide to 1e-12 relative at every t (complex-conjugate
  systems; the paper's single "phi = 0, pi" curve), and E_B(t = 250) = 10.3586 (1e-4);
- the couplings the expressions give (`qbmap point --json` of so_fig3_4.yaml; so_fig6.yaml's
  recorded expressions at kappa_b of its axis) equal (kappa_a/kappa_b)^(+-1/4) from NumPy to
  1e-15 relative, and 1 at q = 0 exactly;
- E_B_ss at the super-optimal couplings equals Eq. 23 and the field E_B_supopt (1e-9 relative),
  the coherent optimum equals §3.4's E_B,opt and the field E_B_opt_coh (1e-9 relative), and the
  advantages E_B_ss - E_single equal the closed-form fields dE_coh, dE_diss (1e-9 of E_single).
Usage: so_figures_check.py QBMAP"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from qbcheck import check, guarded

qbmap = sys.argv[1]
examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
OPT_EDGE, OPT_NOT_UNIQUE = 1 << 18, 1 << 19


def run(name, tmp):
    out = os.path.join(tmp, name + ".h5")
    subprocess.run([qbmap, "run", os.path.join(examples, name + ".yaml"), "-o", out],
                   check=True, capture_output=True)
    with h5py.File(out, "r") as f:
        data = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
        return data, dict(f.attrs)


def point_json(args):
    r = subprocess.run([qbmap, "point", "--json", *args], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def delta_opt_cubic(J, phi, Gamma, ka, kb):
    """The maximizer of E_B_ss over Delta (p_a = p_b = 1, mu = -1): the real root of
    Delta^3 - (P0/8) Delta - Y/4 with the smallest |D|^2 (docs/physics.md §3.5)."""
    mu = -1.0
    Jc = J * np.exp(1j * phi)
    gA, gB = Gamma + ka, Gamma + kb
    P0 = 8 * J**2 - 2 * Gamma**2 - gA**2 - gB**2
    Y = -Gamma * (Jc * np.conj(mu)).real * (gA + gB)
    c0 = gA * gB / 4 + J**2 - Gamma**2 / 4 + 1j * Gamma * (Jc * np.conj(mu)).real
    gbar = (gA + gB) / 2
    roots = [r.real for r in np.roots([1, 0, -P0 / 8, -Y / 4]) if abs(r.imag) < 1e-9]
    d2 = [(c0.real - x**2)**2 + (gbar * x + c0.imag)**2 for x in roots]
    best = min(d2)
    return max(x for x, v in zip(roots, d2) if v <= best * (1 + 1e-12))  # ties: the larger


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def fig2(tmp):
    d, a = run("so_fig2", tmp)
    G, phi = d["Gamma"], d["phi"]
    check(list(G) == [0, 0.4] and np.allclose(phi, [0, np.pi], rtol=0, atol=1e-15),
          f"so_fig2: axes Gamma {list(G)}, phi {list(phi)}")
    dopt, dclosed, st = d["Delta_at_opt"], d["Delta_opt"], d["status"]
    err = float(np.max(np.abs(dopt - dclosed)))
    check(np.all(np.isfinite(dopt)) and err <= 1e-9,
          f"so_fig2: Delta_at_opt = closed-form Delta_opt at all {dopt.size} points (max diff {err:.2g})")
    for i, g in enumerate(G):
        for j, p in enumerate(phi):
            want = delta_opt_cubic(a["J"], p, g, a["kappa_a"], a["kappa_b"])
            got = dopt[i, j]
            check(np.all(got == got[0]) and abs(got[0] - want) <= 1e-9,
                  f"so_fig2: Gamma={g:g}, phi={p:.4g}: Delta_at_opt {got[0]!r} constant along t, "
                  f"= the cubic's maximizer {want!r} (1e-9)")
    eq13 = np.sqrt(a["J"]**2 - (a["kappa_a"]**2 + a["kappa_b"]**2) / 8)
    check(np.all((st[0] & OPT_NOT_UNIQUE) != 0) and np.all((st & OPT_EDGE) == 0) and
          abs(dopt[0, 0, 0] - eq13) <= 1e-9 and abs(dopt[0, 1, 0] - eq13) <= 1e-9,
          f"so_fig2: Gamma = 0: +-Delta tie (opt_not_unique), +Eq. 13 = {eq13!r} reported")
    d0, dpi = dopt[1, 0, 0], dopt[1, 1, 0]
    check(d0 > 0.19 and abs(dpi + d0) <= 1e-9 * abs(d0) and np.all((st[1] & OPT_NOT_UNIQUE) == 0),
          f"so_fig2: Gamma = 0.4: the phi = pi optimum {dpi!r} = -(phi = 0's {d0!r}), unique")
    for i, g in enumerate(G):
        for n in ("E_A", "E_B"):
            x0, x1 = d[n][i, 0], d[n][i, 1]
            nz = x0 != 0
            check(np.all(x1[~nz] == 0) and rel(x1[nz], x0[nz]) <= 1e-12,
                  f"so_fig2: Gamma = {g:g}: {n}(t) at phi = 0 and pi coincide (max relative "
                  f"difference {rel(x1[nz], x0[nz]):.2g}, bound 1e-12)")
    check(abs(d["E_B"][1, 0, -1] - 10.3586) < 1e-4 and abs(d["E_B"][0, 0, -1] - 10.6376) < 1e-4,
          f"so_fig2: E_B(|J|t = 50) = {d['E_B'][1, 0, -1]:.6g} (Gamma = 0.4), "
          f"{d['E_B'][0, 0, -1]:.6g} (conventional)")
    check(rel(d["E_B_ss"], d["E_B_at_Delta_opt"]) <= 1e-9,
          "so_fig2: E_B_ss at the optimum = closed-form E_B_at_Delta_opt (1e-9)")
    r, ra = run("so_fig2_resonant", tmp)
    J, ka, kb, F = ra["J"], ra["kappa_a"], ra["kappa_b"], ra["F"]
    check(ra["Delta"] == 0 and rel(r["E_B_ss"], 16 * F**2 * J**2 / (ka * kb + 4 * J**2)**2) <= 1e-12,
          "so_fig2_resonant: Delta = 0, E_B_ss = §3.4 at Delta = 0 (1e-12)")


def fig3_4(tmp):
    d, a = run("so_fig3_4", tmp)
    ka, kb, G, F = a["kappa_a"], a["kappa_b"], a["Gamma"], a["F"]
    cfg = os.path.join(examples, "so_fig3_4.yaml")
    for k, q in enumerate(d["q"]):
        js = point_json(["--config", cfg, "shared", f"q={q!r}", "t=250"])
        pa, pb = js["parameters"]["p_a"], js["parameters"]["p_b"]
        want = (ka / kb) ** q, (ka / kb) ** (-q)
        exact = (pa, pb) == (1.0, 1.0) if q == 0 else True
        check(exact and rel(pa, want[0]) <= 1e-15 and rel(pb, want[1]) <= 1e-15,
              f"so_fig3_4: q = {q:g}: p_a = {pa!r}, p_b = {pb!r} = (kappa_a/kappa_b)^(+-q) (1e-15)")
        check(js["fields"]["E_B"] == d["E_B"][k, -1],
              f"so_fig3_4: q = {q:g}: qbmap point equals the file's E_B(t = 250)")
    sigma = np.sqrt(ka * kb)
    eq23 = 4 * G**2 * F**2 / (ka * kb * (2 * G + sigma)**2)
    check(abs(d["q"][1] - 0.25) == 0 and rel(d["E_B_ss"][1], eq23) <= 1e-9 and
          rel(d["E_B_ss"][1], d["E_B_supopt"][1]) <= 1e-9,
          f"so_fig3_4: q = 1/4: E_B_ss {d['E_B_ss'][1][0]:.10g} = Eq. 23 {eq23:.10g} = E_B_supopt")


def fig6(tmp):
    d, a = run("so_fig6", tmp)
    J, G, kb = d["J"], d["Gamma"], d["kappa_b"]
    ka, F = a["kappa_a"], a["F"]
    check(list(J) == [0, 0.2] and list(G) == [0, 0.4], f"so_fig6: axes J {list(J)}, Gamma {list(G)}")
    E, st = d["E_B_ss"], d["status"]
    live = E > 0
    err = float(np.max(np.abs(d["Delta_at_opt"] - d["Delta_opt"])[live]))
    check(np.all(live[1:, :]) and np.all(live[:, 1:]) and err <= 1e-9,
          f"so_fig6: Delta_at_opt = closed-form Delta_opt at every point with E_B_ss > 0 "
          f"({int(live.sum())} of {live.size}; max diff {err:.2g})")
    check(np.all(E[0, 0] == 0) and np.all((st[0, 0] & OPT_EDGE) != 0),
          "so_fig6: (J, Gamma) = (0, 0) charges nothing: E_B_ss = 0, flagged opt_edge")
    coh, diss = E[1, 0], E[0, 1]
    k2 = ka**2 + kb**2
    big = 8 * J[1]**2 >= k2
    eopt = np.where(big, 64 * F**2 * J[1]**2 / ((ka + kb)**2 * (16 * J[1]**2 - (ka - kb)**2)),
                    16 * F**2 * J[1]**2 / (ka * kb + 4 * J[1]**2)**2)
    check(rel(coh, eopt) <= 1e-9 and rel(coh, d["E_B_opt_coh"][1, 0]) <= 1e-9,
          f"so_fig6: coherent E_B_ss at the optimum = §3.4 E_B,opt = E_B_opt_coh (1e-9; "
          f"{rel(coh, eopt):.2g})")
    eq23 = 4 * G[1]**2 * F**2 / (ka * kb * (2 * G[1] + np.sqrt(ka * kb))**2)
    check(rel(diss, eq23) <= 1e-9 and rel(diss, d["E_B_supopt"][0, 1]) <= 1e-9,
          f"so_fig6: dissipative E_B_ss = Eq. 23 = E_B_supopt (1e-9; {rel(diss, eq23):.2g})")
    es = 4 * F**2 / ka**2
    check(np.all(d["E_single"] == d["E_single"][0, 0, 0]) and rel(d["E_single"][0, 0, 0], es) <= 1e-15 and
          np.max(np.abs(coh - es - d["dE_coh"][1, 0])) <= 1e-9 * es and
          np.max(np.abs(diss - es - d["dE_diss"][0, 1])) <= 1e-9 * es,
          "so_fig6: E_B_ss - E_single = the closed-form dE_coh, dE_diss (1e-9 of E_single)")
    ea = {n: a[f"expression_{n}"].decode() for n in ("p_a", "p_b")}
    for k in (0, 200, kb.size - 1):
        js = point_json(["shared", "Delta=0", "J=0", "Gamma=0.4", f"kappa_a={ka!r}", f"kappa_b={kb[k]!r}", f"p_a={ea['p_a']}",
                         f"p_b={ea['p_b']}"])
        pa, pb = js["parameters"]["p_a"], js["parameters"]["p_b"]
        check(rel(pa, (ka / kb[k]) ** 0.25) <= 1e-15 and rel(pb, (ka / kb[k]) ** -0.25) <= 1e-15,
              f"so_fig6: the file's p_a = {ea['p_a']}, p_b = {ea['p_b']} at kappa_b = {kb[k]:.4g}: "
              f"{pa!r}, {pb!r} = (kappa_a/kappa_b)^(+-1/4) (1e-15)")


with guarded("so_figures"), tempfile.TemporaryDirectory() as tmp:
    fig2(tmp)
    fig3_4(tmp)
    fig6(tmp)
