#!/usr/bin/python3
"""Row evaluation does not change results (issue 12; the row contract in qb_model.h).  Maps
over time (t the fastest axis, where the models reuse the drift's decomposition along a row)
and over a parameter (t slower), for every model, are run on 1-4 ranks with block sizes 1, 7,
4096 and the default: every science dataset (everything outside the bookkeeping group /blocks)
is bitwise identical across all runs, also where blocks cut rows (a row of 61 points, blocks of
1 and 7 points: qb_grid_block_points keeps whole rows only up to 4 x the block size).  And
`qbmap point` at sampled grid points prints bitwise the sweep's values (model network:
`qbmap point network --config CFG` with the axes' values).  Model network: the thermal,
squeezed three-mode network of tests/data/network/rows_squeezed_thermal.yaml, over Delta x t
and t x Delta.  The figures-of-merit wrapper (qb_merit, `merit:`; cases merit_*): computed once
per row along t, per point otherwise, and `qbmap point --config CFG MODEL` bitwise the sweep.
With `optimize:` (cases opt_*): shared with a t-independent objective (one optimum per row) and
a t-dependent one (per point), a network symbol optimized, with expressions (opt_bind_*) and all
three wrappers stacked (stack_shared); `qbmap point MODEL --config CFG` at sampled points.
Usage: rows_identical.py QBMAP MPIEXEC"""
import os
import random
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from qbcheck import check, guarded, qbmap_point, yaml_config as config

qbmap, mpiexec = sys.argv[1:3]
NETWORK_CFG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "network",
                           "rows_squeezed_thermal.yaml")


def network_section(path=NETWORK_CFG):
    """The config's text up to its axes: `model: network` and the network section."""
    with open(path) as fh:
        text = fh.read()
    return text[:text.index("\naxes:") + 1]


NET_FIXED = {"J": 0.3, "phi": 0.7, "r": 0.15, "theta": 0.5, "s": 0.2, "E": 0.8, "chi": -0.3,
             "kappa": 0.6, "n_a": 0.05, "Gamma": 0.4, "p": 0.8, "n_G": 0.02, "E_max": 0.3}

# name: (model, fixed, axes, fields: None = all, so that `qbmap point`, which evaluates every
# field, sets the same status bits); t rows of 61 points, EPs and marginal points inside
CASES = {
    "shared_t": ("shared", {"kappa_a": 0.2, "Gamma": 1, "J": 0.3, "phi": 0.7, "Delta": 0.1},
                 [("kappa_b", "min: 0.01, max: 2, n: 5, scale: log"), ("t", "min: 0, max: 60, n: 61")],
                 None),
    "shared_p": ("shared", {"kappa_a": 0.2, "Gamma": 1, "J": 0.5, "kappa_b": 0.3},
                 [("t", "values: [0, 1e-6, 3, 40]"), ("Delta", "min: -1, max: 1, n: 61")], None),
    "three_t": ("threemode", {"kappa_a": 0.1, "kappa_b": 0.05, "Gamma": 1, "delta": 0.3,
                              "p_a_phase": 0.3},
                [("kappa_c", "min: 0.5, max: 50, n: 4, scale: log"), ("t", "min: 0, max: 90, n: 61")],
                None),
    "three_p": ("threemode", {"kappa_a": 0.1, "kappa_b": 0.05, "Gamma": 1, "kappa_c": 2},
                [("t", "values: [0, 0.5, 30]"), ("delta", "min: -1, max: 1, n: 61")], None),
    "ep_t": ("ep", {"alpha": 0.0, "gamma_b": 1.0, "E_max": 1000},
             [("delta_r", "values: [-1, -0.5, 0, 1, 1.5]"), ("t", "min: 0, max: 30, n: 61")],
             None),
    # model network (thermal, squeezed; rows along t reuse the plan): t fastest, then t slower
    "net_t": ("network", NET_FIXED,
              [("Delta", "min: -1, max: 1, n: 5"), ("t", "min: 0, max: 60, n: 61")], None),
    "net_p": ("network", NET_FIXED,
              [("t", "values: [0, 1e-6, 2.5, 40]"), ("Delta", "min: -1.5, max: 1.5, n: 61")],
              None),
    # expressions (qb_bind, issue 14): the 5th entry is the `symbols:` list.  Along t with no
    # expression depending on t: one base row call per row; E depending on t: point by point.
    "bind_shared_t": ("shared", {"kappa_a": "0.2*s", "Gamma": 1, "J": 0.3, "phi": 0.7,
                                 "Delta": "s*J - 0.05", "s": 1.0},
                      [("kappa_b", "min: 0.01, max: 2, n: 5, scale: log"),
                       ("t", "min: 0, max: 60, n: 61")], None, ["s"]),
    "bind_three_tdep": ("threemode", {"kappa_a": "kappa_b*(1 - alpha)", "kappa_b": 0.05,
                                      "Gamma": 1, "kappa_c": 2, "delta": "0.5*delta_r",
                                      "E": "1 + 0.01*t",
                                      "p_a": "(kappa_a/kappa_b)^0.25"},
                        [("alpha", "values: [-0.5, 0.3, 1.0, 1.5]"),
                         ("delta_r", "values: [-1, 0.2]"),
                         ("t", "min: 0, max: 90, n: 61")], None, ["alpha", "delta_r"]),
    "bind_three_p": ("threemode", {"kappa_a": "kappa_b*(1 - alpha)", "kappa_b": 0.05,
                                   "Gamma": 1, "kappa_c": 2, "alpha": 0.4},
                     [("t", "values: [0, 0.5, 30]"), ("delta", "min: -1, max: 1, n: 61")], None,
                     ["alpha"]),
    "bind_net_t": ("network", dict(NET_FIXED, J="2*g", g=0.15, kappa="kappa0*(1 + Delta^2)",
                                   kappa0=0.6),
                   [("Delta", "min: -1, max: 1, n: 5"), ("t", "min: 0, max: 60, n: 61")], None,
                   ["g", "kappa0"]),
    # the figures-of-merit wrapper (MERIT below) over shared, threemode and the network
    "merit_shared_t": ("shared", {"kappa_a": 0.2, "Gamma": 1, "J": 0.3, "phi": 0.7, "Delta": 0.1},
                       [("kappa_b", "min: 0.01, max: 2, n: 3, scale: log"),
                        ("t", "min: 0, max: 60, n: 61")], None),
    "merit_shared_p": ("shared", {"kappa_a": 0.2, "Gamma": 1, "J": 0.5, "kappa_b": 0.3},
                       [("t", "values: [0, 3]"), ("Delta", "min: -1, max: 1, n: 21")], None),
    "merit_three_t": ("threemode", {"kappa_a": 0.1, "kappa_b": 0.05, "Gamma": 1, "delta": 0.3},
                      [("kappa_c", "values: [0.5, 5]"), ("t", "min: 0, max: 90, n: 61")], None),
    "merit_net_t": ("network", NET_FIXED,
                    [("Delta", "min: -1, max: 1, n: 3"), ("t", "min: 0, max: 60, n: 61")], None),
}
MERIT = {"merit_shared_t": "merit: {charge: [0.5, 0.9]}", "merit_shared_p": "merit: {scan: 256}",
         "merit_three_t": "merit: {charge: [0.9, 0.99]}", "merit_net_t": "merit: {}"}
# optimize: (issue 14): the same, with the optimize line (OPT) in the config.
# A t-independent objective (one optimum per row, one base row there) and a t-dependent one
# (one optimum per point), and a network's symbol optimized.
NET_OPT = {k: v for k, v in NET_FIXED.items() if k != "chi"}
CASES.update({
    "opt_shared_t": ("shared", {"kappa_a": 0.2, "Gamma": 1, "J": 0.3, "phi": 0.7},
                     [("kappa_b", "min: 0.05, max: 2, n: 3, scale: log"),
                      ("t", "min: 0, max: 60, n: 61")], None),
    "opt_shared_p": ("shared", {"kappa_a": 0.2, "Gamma": 1, "kappa_b": 0.3, "phi": 2.5},
                     [("t", "values: [0.5, 3]"), ("J", "min: 0, max: 1.5, n: 7")], None),
    "opt_net_t": ("network", NET_OPT,
                  [("Delta", "min: -1, max: 1, n: 3"), ("t", "min: 0, max: 60, n: 21")], None),
})
# All three wrappers stacked (expressions, figures of merit, optimize): the detuning that
# maximizes the average charging power, with kappa_a tied to kappa_b by an expression.
CASES["stack_shared"] = ("shared", {"kappa_a": "s*kappa_b", "s": 2.0, "Gamma": 1, "J": 0.3,
                                    "phi": 0.7},
                         [("kappa_b", "min: 0.05, max: 1, n: 3, scale: log"),
                          ("t", "min: 0, max: 60, n: 11")], None, ["s"])
MERIT["stack_shared"] = "merit: {charge: [0.9], scan: 256}"
# Expressions and optimize (no figures of merit), `qbmap point --config` against the sweep: an
# expression naming the optimized Delta and none depending on t (one optimum per row), and one
# depending on t (one optimum per point: qb_optim_row_dependent, in the point's stack too).
CASES["opt_bind_t"] = ("shared", {"kappa_a": "s*kappa_b", "s": 1.5, "Gamma": 1, "J": "0.2*s",
                                  "phi": 0.7, "F": "0.1*(1 + 0.05*Delta)"},
                       [("kappa_b", "min: 0.05, max: 2, n: 3, scale: log"),
                        ("t", "min: 0, max: 60, n: 21")], None, ["s"])
CASES["opt_bind_tdep"] = ("shared", {"kappa_a": "0.2*(1 + 0.01*t)", "Gamma": 1, "J": 0.3,
                                     "phi": 0.7},
                          [("kappa_b", "values: [0.1, 0.6]"), ("t", "min: 0, max: 40, n: 9")],
                          None, [])
# Noise-free, unsqueezed (the means' first way over blocks of 64 and the coherent shortcut): rows
# of 150 points; all fields (P wanted: the moments) and E_d, W_a only (the shortcut; no point).
COH_CFG = os.path.join(os.path.dirname(NETWORK_CFG), "rows_chain_coherent.yaml")
COH_FIXED = {"J": 0.5, "kappa": 0.2, "F": 1.0, "E_max": 0.3}
COH_AXES = [("Delta", "values: [0, 0.3]"), ("t", "min: 0, max: 200, n: 150")]
CASES["net_coh_t"] = ("network", COH_FIXED, COH_AXES, None)
CASES["net_coh_E"] = ("network", COH_FIXED, COH_AXES, ["E_d", "W_a"])
NET_CFGS = {"net_coh_t": COH_CFG, "net_coh_E": COH_CFG}
NOPOINT = {"net_coh_E"}
OPT = {"stack_shared": "optimize: {param: Delta, maximize: P_avg_max, range: [-1, 1], scan: 16}",
       "opt_shared_t": "optimize: {param: Delta, maximize: E_B_ss, range: [-2, 2]}",
       "opt_shared_p": "optimize: {param: Delta, maximize: E_B, range: [-2, 2], scan: 24}",
       "opt_net_t": "optimize: {param: chi, minimize: E_b_ss, range: [-3, 3], scan: 16}",
       "opt_bind_t": "optimize: {param: Delta, maximize: E_B_ss, range: [-2, 2], scan: 32}",
       "opt_bind_tdep": "optimize: {param: Delta, maximize: E_B_ss, range: [-2, 2], scan: 16}"}
# Hostile (issue 14): figures of merit over a parameter whose expression depends on t (NaN +
# merit_undefined on every point, per row and per point alike) and a symbol axis whose low end
# leaves the expression's domain (kappa_a < 0: bad_expression alone, no merit_failed).
CASES["merit_bind_tdep"] = ("shared", {"kappa_a": "s + 0.01*t", "Gamma": 1, "J": 0.3,
                                       "Delta": 0.1, "kappa_b": 0.2},
                            [("s", "values: [0.5, 1.2, 2]"), ("t", "min: 0, max: 60, n: 11")],
                            None, ["s"])
CASES["merit_bind_dom"] = ("shared", {"kappa_a": "s - 1", "Gamma": 1, "J": 0.3, "Delta": 0.1,
                                      "kappa_b": 0.2},
                           [("s", "values: [0.5, 1.2, 2]"), ("t", "min: 0, max: 60, n: 11")],
                           None, ["s"])
MERIT["merit_bind_tdep"] = MERIT["merit_bind_dom"] = "merit: {charge: [0.5], scan: 128}"
RUNS = [(1, None), (2, 7), (3, 1), (4, 4096)]  # (ranks, --block-points; None: the default)


def science(path):
    """Every dataset outside /blocks, as raw bytes (NaN payloads included)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith("blocks"):
                out[name] = np.ascontiguousarray(obj[()]).tobytes()
        f.visititems(visit)
    return out


def run(cfg, out, ranks, bp):
    cmd = [mpiexec, "--oversubscribe", "-n", str(ranks), qbmap, "run", cfg, "-o", out, "--force",
           "--progress", "0"]
    if bp:
        cmd += ["--block-points", str(bp)]
    subprocess.run(cmd, check=True, capture_output=True)


def network_point(cfg, axes_values, model="network"):
    """`qbmap point MODEL --config CFG name=value ...` (the axes' values) as {name: float}."""
    args = [f"{k}={v!r}" for k, v in axes_values.items()]
    out = subprocess.run([qbmap, "point", "--config", cfg, model] + args,
                         capture_output=True, text=True, check=True).stdout
    vals = {}
    for line in out.splitlines():
        if not line.startswith("#"):
            k, v = line.split(" = ")
            vals[k] = float(v)
    if list(vals)[-1:] != ["status"]:
        raise ValueError(f"qbmap point network --config {cfg}: no status last:\n{out}")
    return vals


def point_vs_sweep(name, model, fixed, path, rng, cfg, symbols=None):
    with h5py.File(path, "r") as f:
        st = f["status"]
        axes = [st.dims[d][0].name.lstrip("/") for d in range(st.ndim)]
        coords = [f[a][()] for a in axes]
        names = [n for n in f if isinstance(f[n], h5py.Dataset) and f[n].shape == st.shape]
        data = {n: f[n][()] for n in names}
    shape = data[names[0]].shape
    for _ in range(8):
        idx = tuple(rng.randrange(s) for s in shape)
        params = dict(fixed)
        at = {a: float(c[i]) for a, c, i in zip(axes, coords, idx)}
        params.update(at)
        via_config = symbols is not None or name in MERIT or name in OPT
        got = (network_point(cfg, at, model) if model == "network" or via_config
               else qbmap_point(qbmap, model, params))
        check(set(got) == set(names), f"{name}: qbmap point prints the sweep's fields")
        same = all(np.float64(got[n]).tobytes() == np.float64(data[n][idx]).tobytes() for n in names)
        check(same, f"{name}: qbmap point {params} bitwise the sweep's values")


with guarded("rows_identical"), tempfile.TemporaryDirectory() as tmp:
    rng = random.Random(12)
    only = os.environ.get("ROWS_ONLY")  # a comma-separated subset of the cases (debugging)
    for name, (model, fixed, axes, fields, *symbols) in CASES.items():
        if only and name not in only.split(","):
            continue
        symbols = symbols[0] if symbols else None
        cfg = os.path.join(tmp, name + ".yaml")
        with open(cfg, "w") as fh:
            text = config(model, fixed, axes, fields)
            if model == "network":  # the network section before axes and fixed
                text = network_section(NET_CFGS.get(name, NETWORK_CFG)) + text.split("\n", 1)[1]
            if symbols is not None:  # expressions: the symbols after the model
                head, tail = text.split("\naxes:", 1)
                text = head + "\nsymbols: [" + ", ".join(symbols) + "]\naxes:" + tail
            text += MERIT.get(name, "") + "\n" + OPT.get(name, "") + "\n"
            fh.write(text)
        ref = None
        for ranks, bp in RUNS:
            out = os.path.join(tmp, f"{name}.{ranks}.h5")
            run(cfg, out, ranks, bp)
            got = science(out)
            if ref is None:
                ref = got
                check(len(ref) > len(axes) + 1, f"{name}: datasets found: {sorted(ref)}")
                continue
            diff = sorted(k for k in set(ref) | set(got) if ref.get(k) != got.get(k))
            check(not diff, f"{name}: {ranks} ranks, --block-points {bp}: bitwise identical "
                            f"to 1 rank (differ: {diff})")
        if name in ("merit_bind_tdep", "merit_bind_dom"):
            with h5py.File(os.path.join(tmp, f"{name}.1.h5"), "r") as f:
                st, tc = f["status"][()], f["t_charge_50"][()]
            want = (np.full_like(st, 1 << 16) if name == "merit_bind_tdep"
                    else np.array([[1 << 15] * 11, [0] * 11, [0] * 11]))
            check(np.array_equal(st, want) and np.isnan(tc[st != 0]).all()
                  and np.isfinite(tc[st == 0]).all(),
                  f"{name}: status {np.unique(st)} (want {np.unique(want)}), t_charge_50 NaN "
                  f"exactly where status != 0")
        if name not in NOPOINT:
            point_vs_sweep(name, model, fixed, os.path.join(tmp, f"{name}.1.h5"), rng, cfg,
                           symbols)
    # the fields a sweep computes do not change a field's bits: E_d, W_a alone (the coherent
    # shortcut) vs every field (P wanted: the moments with their derivatives)
    with h5py.File(os.path.join(tmp, "net_coh_t.1.h5")) as fa, \
            h5py.File(os.path.join(tmp, "net_coh_E.1.h5")) as fe:
        for k in ("E_d", "W_a"):
            check(fa[k][()].tobytes() == fe[k][()].tobytes(),
                  f"net_coh: {k} bitwise the same with every field and with E_d, W_a only")
