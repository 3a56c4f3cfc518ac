#!/usr/bin/python3
"""Hostile checks of the row contract (issue 12, qb_model.h) through the qbmap executable.

1. A threemode map across an exceptional point of the 3x3 drift (kappa_a 0.1, kappa_b 0.05,
   Gamma 1, kappa_c 2, delta_c 0.14142413384291505, delta = 0.15425441912572285: two
   eigenvalues split by 1.8e-8, eigenvector overlap 1 - 2e-15; found by Newton on the model's
   discriminant), delta stepping through the EP by 0, +-1e-12 .. +-1e-2 relative, t from 0 and
   1e-12 to 1e250: with t the fastest axis (rows along t, the row kernel) and with t the slower
   axis (point by point), on 1-4 ranks with --block-points 1, 3, 7 and the default (blocks
   cutting the rows): every dataset bitwise the same at equal points in every run and both axis
   orders, and `qbmap point` bitwise the sweep at sampled points.
2. The fields asked for do not change a field's value: E_A, E_B (and their NaN-ness) bitwise the
   same in maps asking for [E_A, E_B], [E_A, E_B, P_B] (shared) / [E_A, E_B, log_E_B]
   (threemode) and every field, and equal to `qbmap point` (which evaluates every field).
   Shared points: lossless and resonant (Delta = J: an eigenvalue 0, x ~ t; Gamma 0, kappas 0),
   t up to 1e100, where P_B alone is not resolvable.
Usage: rows_hostile.py QBMAP MPIEXEC"""
import os
import random
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from qbcheck import check, guarded, qbmap_point, yaml_config as config

qbmap, mpiexec = sys.argv[1:3]

EP = {"kappa_a": 0.1, "kappa_b": 0.05, "Gamma": 1, "kappa_c": 2,
      "delta_c": 0.14142413384291505}
DELTA_EP = 0.15425441912572285
DELTAS = sorted({DELTA_EP * (1 + s * u) for u in (0, 1e-12, 1e-9, 1e-6, 1e-4, 1e-2)
                 for s in (-1, 1)})
TIMES = sorted([0.0] + [float(v) for v in np.logspace(-12, 250, 48)] + [0.5, 3.0, 17.0, 90.0])
RUNS = [(1, None), (2, 3), (3, 1), (4, 7)]  # (ranks, --block-points; None: the default)


def flow(values):
    return "values: [" + ", ".join(repr(float(v)) for v in values) + "]"


def run(tmp, name, text, ranks=1, bp=None):
    cfg, out = os.path.join(tmp, name + ".yaml"), os.path.join(tmp, name + ".h5")
    with open(cfg, "w") as fh:
        fh.write(text)
    cmd = [mpiexec, "--oversubscribe", "-n", str(ranks), qbmap, "run", cfg, "-o", out, "--force",
           "--progress", "0"]
    if bp:
        cmd += ["--block-points", str(bp)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def fields_of(path):
    """{field: array}, with the axes' names in storage order."""
    with h5py.File(path, "r") as f:
        st = f["status"]
        axes = [st.dims[d][0].name.lstrip("/") for d in range(st.ndim)]
        data = {n: f[n][()] for n in f
                if isinstance(f[n], h5py.Dataset) and f[n].shape == st.shape}
        coords = {a: f[a][()] for a in axes}
    return axes, coords, data


def same_bits(a, b):
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def first_diff(a, b, coords, axes):
    """Where a and b differ bitwise (NaN payloads included): the count and the first point."""
    bits = (lambda v: v.view(np.int64)) if a.dtype == np.float64 else (lambda v: v)
    diff = np.argwhere(bits(np.ascontiguousarray(a)) != bits(np.ascontiguousarray(b)))
    if not len(diff):
        return ""
    idx = tuple(diff[0])
    where = {ax: float(coords[ax][i]) for ax, i in zip(axes, idx)}
    return f" ({len(diff)} points; first at {where}: {a[idx]!r} vs {b[idx]!r})"


def ep_map(tmp, rng):
    """Part 1: the threemode EP map, both axis orders, 1-4 ranks, blocks cutting rows."""
    orders = {"t_fast": [("delta", flow(DELTAS)), ("t", flow(TIMES))],
              "t_slow": [("t", flow(TIMES)), ("delta", flow(DELTAS))]}
    ref = None
    for oname, axes in orders.items():
        for ranks, bp in RUNS:
            out = run(tmp, f"ep_{oname}_{ranks}", config("threemode", EP, axes), ranks, bp)
            ax, coords, data = fields_of(out)
            if ax[0] == "t":  # to (delta, t)
                data = {k: v.T for k, v in data.items()}
            if ref is None:
                ref, ref_out = data, out
                check(len(ref) >= 10, f"ep map: fields found: {sorted(ref)}")
                continue
            for k in ref:
                check(same_bits(ref[k], data[k]),
                      f"ep map {oname}, {ranks} ranks, --block-points {bp}: {k} bitwise the "
                      f"1-rank t-fastest map's" + first_diff(ref[k], data[k],
                                                             {"delta": DELTAS, "t": TIMES},
                                                             ["delta", "t"]))
    # the EP row itself: resolved (no NaN energy) at every t but the largest ones
    i = DELTAS.index(DELTA_EP)
    nan_t = [TIMES[j] for j in range(len(TIMES)) if np.isnan(ref["E_B"][i, j])]
    check(all(t > 1e12 for t in nan_t), f"ep map: E_B resolved at the EP up to t = 1e12 "
                                        f"(NaN at {nan_t})")
    for _ in range(6):
        i, j = rng.randrange(len(DELTAS)), rng.randrange(len(TIMES))
        params = dict(EP, delta=DELTAS[i], t=TIMES[j])
        got = qbmap_point(qbmap, "threemode", params)
        same = all(same_bits(np.float64(got[k]), np.float64(ref[k][i, j])) for k in ref)
        check(same, f"ep map: qbmap point {params} bitwise the sweep's values")


WANT_CASES = {
    "shared": ({"Delta": 1, "Gamma": 0, "kappa_a": 0},
               [("J", "values: [0.5, 1.0, 10.0]"), ("kappa_b", "values: [0.0, 0.1]"),
                ("t", "values: [1000.0, 10000000000.0, 1e+100]")],
               ["E_A", "E_B"], ["E_A", "E_B", "P_B"]),
    "threemode": ({k: v for k, v in dict(EP, delta=DELTA_EP).items() if k != "kappa_a"},
                  [("kappa_a", "values: [0.0, 0.1]"), ("t", flow(TIMES))],
                  ["E_A", "E_B"], ["E_A", "E_B", "log_E_B"]),
}


def want_maps(tmp, rng):
    """Part 2: E_A, E_B do not depend on the other fields asked for, and equal qbmap point."""
    for model, (fixed, axes, few, more) in WANT_CASES.items():
        runs = {}
        for tag, fields in (("few", few), ("more", more), ("all", None)):
            ax, coords, data = fields_of(run(tmp, f"want_{model}_{tag}",
                                             config(model, fixed, axes, fields)))
            runs[tag] = data
        for tag in ("more", "all"):
            for k in ("E_A", "E_B"):
                check(same_bits(runs["few"][k], runs[tag][k]),
                      f"{model}: {k} bitwise the same with fields {few} and "
                      f"{more if tag == 'more' else 'all'}" +
                      first_diff(runs["few"][k], runs[tag][k], coords, ax))
        shape = runs["few"]["E_A"].shape
        every = list(np.ndindex(shape))
        for idx in every if len(every) <= 20 else rng.sample(every, 8):
            params = dict(fixed)
            params.update({a: float(coords[a][i]) for a, i in zip(ax, idx)})
            got = qbmap_point(qbmap, model, params)
            same = all(same_bits(np.float64(got[k]), np.float64(runs["few"][k][idx]))
                       for k in ("E_A", "E_B"))
            check(same, f"{model}: qbmap point {params}: E_A, E_B bitwise the map's with fields "
                        f"{few} (point {got['E_A']!r}, {got['E_B']!r}; map "
                        f"{runs['few']['E_A'][idx]!r}, {runs['few']['E_B'][idx]!r})")


with guarded("rows_hostile"), tempfile.TemporaryDirectory() as tmp:
    rng = random.Random(1212)
    ep_map(tmp, rng)
    want_maps(tmp, rng)
