#!/usr/bin/python3
"""analysis/qbread.py on real qbmap output made here: an adaptive EP run (all three post-pass
groups) and a shared-model run without groups.  Everything qbread returns is compared with
the file read directly with h5py: coordinates, science fields (and nothing else: `done` and
`block` only in .blocks), one boolean per status flag equal to (status & mask) != 0 for the
file's flag_masks / flag_meanings, the root attributes, the fixed parameters, each group as a
table with its columns and attributes; an incomplete file is refused unless asked for, and a
status without CF flag attributes is an error.  Usage: qbread_test.py QBMAP TESTS_SOURCE_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from qbcheck import check, guarded

qbmap, src = sys.argv[1:3]
sys.path.insert(0, os.path.join(src, "..", "analysis"))
import qbread  # noqa: E402

EP = """model: ep
axes:
  - {name: gamma_b, values: [0.5, 1.5]}
  - {name: alpha, min: -0.75, max: 1.0, n: 12}
  - {name: delta_r, min: -2.0, max: 2.0, n: 17}
fixed: {E_max: 50, t: 3}
fields: [growth_rate, E_B, t_crit, t_crit_approx, regime]
boundaries: {field: growth_rate, level: 0, axis: delta_r}
eps: {axes: [delta_r, alpha]}
mode: adaptive
max_depth: 2
"""
SHARED = """model: shared
axes:
  - {name: kappa_b, min: 1e-4, max: 0.05, n: 9, scale: log}
fixed: {J: 0.2, Gamma: 0.4, Delta: 0, kappa_a: 0.05, F: 0.1}
fields: [dE_coh, dE_diss, Delta_opt]
"""


def run(text, out):
    with open(out + ".yaml", "w") as f:
        f.write(text)
    subprocess.run([qbmap, "run", out + ".yaml", "-o", out, "--progress", "0"], check=True,
                   capture_output=True)


def raw(path):
    """(root datasets {name: (array, attrs)}, root attrs, groups {name: ({col: array}, attrs)})."""
    dec = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    with h5py.File(path, "r") as f:
        dsets = {n: (o[()], {k: dec(v) for k, v in o.attrs.items()}) for n, o in f.items()
                 if isinstance(o, h5py.Dataset)}
        attrs = {k: dec(v) for k, v in f.attrs.items()}
        groups = {g: ({n: f[g][n][()] for n in f[g]}, {k: dec(v) for k, v in f[g].attrs.items()})
                  for g in f if isinstance(f[g], h5py.Group)}
    return dsets, attrs, groups


def same_attr(a, b):
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


with guarded("qbread"), tempfile.TemporaryDirectory() as tmp:
    fe, fs = os.path.join(tmp, "ep.h5"), os.path.join(tmp, "shared.h5")
    run(EP, fe)
    run(SHARED, fs)
    for path, axes, fields, params, groups in (
            (fe, ["gamma_b", "alpha", "delta_r"], ["growth_rate", "E_B", "t_crit",
                                                   "t_crit_approx", "regime"],
             {"E_max": 50.0, "t": 3.0, "E_r": 1.0}, ["boundary", "ep", "adaptive"]),
            (fs, ["kappa_b"], ["dE_coh", "dE_diss", "Delta_opt"],
             {"J": 0.2, "Gamma": 0.4, "Delta": 0.0, "kappa_a": 0.05, "F": 0.1}, [])):
        name = os.path.basename(path)
        d, attrs, g = raw(path)
        m = qbread.read(path)
        st, sta = d["status"]
        meanings = sta["flag_meanings"].split()
        masks = np.atleast_1d(sta["flag_masks"])
        check(list(m.data.dims) == axes and
              all(np.array_equal(m.data[a].values, d[a][0]) for a in axes),
              f"{name}: the axes as coordinates, values as in the file")
        check(sorted(m.data.data_vars) == sorted(fields + ["status", "failed"] + meanings) and
              "done" not in m.data.variables and "block" not in m.data.variables,
              f"{name}: science variables = fields, status and its flags: {sorted(m.data.data_vars)}")
        check(all(np.array_equal(m.data[f].values, d[f][0], equal_nan=True) and
                  m.data[f].attrs["units"] == d[f][1]["units"] for f in fields),
              f"{name}: every field's values and units as in the file")
        check(len(meanings) == len(masks) >= 5 and
              all(m.data[n].dtype == bool and
                  np.array_equal(m.data[n].values, (st & int(k)) != 0) for n, k in zip(meanings, masks)),
              f"{name}: one boolean per status flag ({len(meanings)}), = status & mask")
        check(m.data["failed"].dtype == bool and
              np.array_equal(m.data["failed"].values, (st & int(sta["failure_mask"])) != 0),
              f"{name}: failed = status & failure_mask != 0")
        if path == fe:  # stable and growing points: a flag both set and clear
            mixed = [n for n in meanings if m.data[n].values.any() and (~m.data[n].values).any()]
            check(len(mixed) >= 2, f"{name}: flags set at some points only: {mixed}")
        check(set(m.data.attrs) == set(attrs) and
              all(same_attr(m.data.attrs[k], attrs[k]) for k in attrs) and
              attrs["model"] in ("ep", "shared") and "git_commit" in attrs,
              f"{name}: root attributes (provenance, parameters) as Dataset attributes")
        check({k: m.parameters[k] for k in params} == params and
              not set(m.parameters) & set(qbread.PROVENANCE) and
              set(m.parameters) <= set(attrs),
              f"{name}: parameters are the fixed model parameters {m.parameters}")
        bd, bb = g["blocks"][0]["done"], g["blocks"][0]["block"]
        check(sorted(m.blocks.data_vars) == ["done"] and
              np.array_equal(m.blocks["done"].values, bd) and
              np.array_equal(m.blocks["block"].values, bb) and m.blocks["done"].all(),
              f"{name}: bookkeeping (group /blocks) in .blocks only")
        check(sorted(m.tables) == sorted(groups), f"{name}: tables {sorted(m.tables)}")
        for gname in groups:
            cols, gattrs = g[gname]
            t = m.tables[gname]
            ok = len(t) == cols["point"].size > 0 and np.array_equal(t.index.values, cols["point"])
            ok &= sorted(t.columns) == sorted(c for c in cols if c != "point")
            ok &= all(np.array_equal(t[c].values, cols[c]) for c in t.columns)
            ok &= t.attrs == gattrs
            check(ok, f"{name}: /{gname} as a table of {len(t)} rows, columns and attributes "
                  "as in the file")
    check(qbread.read(fe).tables["boundary"].attrs["field"] == "growth_rate",
          "boundary table carries field = growth_rate")

    # an incomplete file is refused (one clear message) unless allow_incomplete
    fi = os.path.join(tmp, "incomplete.h5")
    shutil.copy(fs, fi)
    with h5py.File(fi, "r+") as f:
        f.attrs["complete"] = np.int32(0)
        f["blocks/done"][0] = 0
    try:
        qbread.read(fi)
        check(False, "incomplete file refused")
    except ValueError as e:
        check("complete != 1 (0 of 1 blocks done)" in str(e) and "allow_incomplete" in str(e),
              f"incomplete file refused: {e}")
    m = qbread.read(fi, allow_incomplete=True)
    check(m.blocks["done"].values.tolist() == [0] and "dE_coh" in m.data,
          "allow_incomplete=True reads it, done flags in .blocks")
    # status without CF flag attributes
    with h5py.File(fi, "r+") as f:
        del f["status"].attrs["flag_meanings"]
    try:
        qbread.read(fi, allow_incomplete=True)
        check(False, "status without flag_meanings is an error")
    except ValueError as e:
        check("status has no CF attribute 'flag_meanings'" in str(e), f"missing flag_meanings: {e}")
