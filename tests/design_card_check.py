#!/usr/bin/python3
"""The 5-D design card (issue 14 item 4; docs/physics.md §2.7): the inverse map from a reduced
`ep` point (delta_r, alpha, gamma_b) and the physical rates (kappa_b, Gamma) to model
`threemode`'s microscopic parameters in the gauge |p_a| = |p_b| = |p_ca| = |p_cb| = 1, phases 0,
delta_c = 0, checked against `qbmap point threemode` (threemode's own Schur complement, §2.3):

  R = (kappa_b + Gamma)/(2 (gamma_b + 1))          (= |S_ab| = Gamma_eff, the reduced rate unit)
  kappa_c = Gamma (Gamma (gamma_b - 1) - 2 kappa_b)/(kappa_b + Gamma)
  kappa_a = kappa_b + 4 alpha R,   delta = delta_r R,   E = E_r R,   t = tau/R

1. closure: at N_REAL (>= 1000) random realizable points (Gamma over six decades, kappa_b/Gamma
   over five and 0, points down to 1e-9 from either boundary), threemode's delta_r_red,
   delta_r_b_red, gamma_a_red, gamma_b_red equal delta_r, delta_r, gamma_b + 2 alpha, gamma_b to
   CLOSE_TOL * (1 + |delta_r|) resp. CLOSE_TOL * (1 + gamma_a + gamma_b).  Why 1e-12: the map is
   a few roundings each (no cancellation worse than the boundary's, which is absolute in units
   of gamma_b), and §2.3's forms are cancellation-free, so the expected deviation is ~1e-15 of
   the scale; 1e-12 leaves a margin of ~1000 while a wrong factor or sign gives O(1).  Also
   time_unit = 1/R and Gamma_eff = R (relative 1e-12), realizable_margin = gamma_a gamma_b - 1
   (1e-12 (1 + gamma_a gamma_b)), status without not_ep_form;
   every 10th point: E_B_ss equals `qbmap point ep`'s at (delta_r, alpha, gamma_b) with E_r = 1
   (the steady state survives the elimination exactly, §2.2 (i)) to SS_TOL relative (two linear
   solves of stated accuracy 1e-8 or better; seen: ~1e-15).
2. no passive realization: at N_BAD random points beyond a boundary a derived rate is negative
   (kappa_c < 0 iff gamma_b < 1 + 2 kappa_b/Gamma; kappa_a < 0 iff alpha < -kappa_b/(4R)),
   `qbmap point` refuses the derived parameters (non-zero exit naming the rate), and the
   boundary is threemode's own: at kappa_c = 0 threemode gives gamma_b_red = 1 + 2 kappa_b/Gamma
   (> the target), at kappa_a = 0 gamma_a_red = gamma_b - kappa_b/(2R) (> the target), and
   gamma_b_red grows with kappa_c (one more point), so no kappa_c >= 0 reaches the target.
3. scale invariance: the point with (kappa_b, Gamma) -> lam (kappa_b, Gamma) has every derived
   rate scaled by lam, so the reduced coordinates, E_B(t = tau/R) and elimination_error_t are
   unchanged (relative SCALE_TOL; elimination_error_t absolute 1e-12 plus relative): the design
   card depends on (kappa_b, Gamma) only through kappa_b/Gamma.
4. the example: examples/design_card_5d.yaml's expressions (plain arithmetic, evaluated here
   in Python in dependency order) give realize()'s numbers (relative 1e-15) at random points,
   its symbols and axes are this file's AXES, and its fields are FIELDS.
5. the figure: analysis/design_card.py runs (exit 0, a PNG) on a small --grid file (2 x 3 x 3
   x 4 x 4 points) whose bad_expression points are exactly §2.7's non-realizable ones.
6. qbmap itself: the example's symbols and expressions
   on a 2 x 2 x 2 x 4 x 4 grid, `qbmap run`: at realizable points every field equals
   `qbmap point threemode` at realize()'s parameters to RUN_TOL relative (the same arithmetic
   in muParser and Python: bitwise expected) and the status is the same; elsewhere status bit
   15 is set and every field is NaN; `qbmap point threemode --config` with the five
   coordinates equals the run bit for bit (NaN as NaN) at 16 of its points.

Usage: design_card_check.py QBMAP
       design_card_check.py QBMAP --grid OUT.h5 [--sizes 5,9,5,20,20]
  --grid evaluates the grid of examples/design_card_5d.yaml (the same axes, fewer points per
  axis with --sizes) point by point with `qbmap point threemode` and writes OUT.h5 in qbmap's
  layout (axes as dimension scales, one dataset per field, `status` with CF flags); points
  without a passive realization get every field NaN and status bit 15 `bad_expression`, as
  qbmap will write them once expressions exist.  For analysis/design_card.py; slow (~0.05 s a
  point)."""
import argparse
import os
import random
import re
import subprocess
import sys

import numpy as np

from qbcheck import check, guarded, qbmap_point

N_REAL = 1000
N_BAD = 200
N_SCALE = 40
CLOSE_TOL = 1e-12
SS_TOL = 1e-10
SCALE_TOL = 1e-12
TAU = 2.0  # reduced time of the transient fields, in units of 1/R (the example's tau)
BAD_EXPRESSION = 1 << 15  # the expressions wrapper's status bit (qb_status.h)

# the example's axes (examples/design_card_5d.yaml): name -> (kind, a, b, default n)
AXES = [("delta_r", "lin", 0.0, 2.0, 5), ("alpha", "lin", -0.5, 1.5, 9),
        ("gamma_b", "list", [1.25, 1.5, 2.0, 3.0, 5.0], None, 5),
        ("kappa_b", "log", 1e-3, 10.0, 20), ("Gamma", "log", 1e-2, 10.0, 20)]
FIELDS = ["growth_rate", "E_B_ss", "E_B", "Gamma_eff", "gamma_a_red", "gamma_b_red",
          "delta_r_red", "delta_r_b_red", "time_unit", "growth_rate_red", "E_B_ss_red",
          "E_B_red", "elimination_error", "elimination_error_t", "realizable_margin"]


def realize(delta_r, alpha, gamma_b, kappa_b, Gamma, tau=TAU, E_r=1.0):
    """threemode's parameters realizing the reduced point (docs/physics.md §2.7), written as
    the example's expressions (R first); rates may come out negative (no passive
    realization)."""
    R = (kappa_b + Gamma) / (2 * (gamma_b + 1))
    return {"delta": delta_r * R, "kappa_a": kappa_b + 4 * alpha * R, "kappa_b": kappa_b,
            "kappa_c": Gamma * (Gamma * (gamma_b - 1) - 2 * kappa_b) / (kappa_b + Gamma),
            "Gamma": Gamma, "E": E_r * R, "t": tau / R}


def realizable(delta_r, alpha, gamma_b, kappa_b, Gamma):
    """§2.7's conditions in closed form (Gamma > 0, kappa_b >= 0)."""
    R = (kappa_b + Gamma) / (2 * (gamma_b + 1))
    return gamma_b >= 1 + 2 * kappa_b / Gamma and alpha >= -kappa_b / (4 * R)


def rel(a, b):
    return abs(a - b) / abs(b)


def random_rates(rng):
    Gamma = 10 ** rng.uniform(-3, 3)
    r = 0.0 if rng.random() < 0.1 else 10 ** rng.uniform(-4, 1)
    return r * Gamma, Gamma, r


def random_realizable(rng):
    """A point inside (sometimes within 1e-9 relative of a boundary)."""
    kappa_b, Gamma, r = random_rates(rng)
    gb0 = 1 + 2 * r
    gamma_b = gb0 * (1 + (10 ** rng.uniform(-9, -6) if rng.random() < 0.1 else
                          10 ** rng.uniform(-3, 1.5)))
    a0 = -kappa_b / (4 * ((kappa_b + Gamma) / (2 * (gamma_b + 1))))
    alpha = a0 + (1e-9 * (1 + abs(a0)) if rng.random() < 0.1 else rng.uniform(0, 3))
    return rng.uniform(-3, 3), alpha, gamma_b, kappa_b, Gamma


def check_closure(qbmap, rng):
    worst = {"delta_r": 0.0, "gamma_a": 0.0, "gamma_b": 0.0, "E_B_ss": 0.0}
    for i in range(N_REAL):
        dr, al, gb, kb, G = random_realizable(rng)
        p = realize(dr, al, gb, kb, G)
        where = f"point {i} (delta_r, alpha, gamma_b, kappa_b, Gamma) = {(dr, al, gb, kb, G)!r}"
        if not check(realizable(dr, al, gb, kb, G) and p["kappa_c"] >= 0 and p["kappa_a"] >= 0,
                     f"{where}: drawn realizable but a derived rate is negative: {p}"):
            continue
        v = qbmap_point(qbmap, "threemode", p)
        ga, R = gb + 2 * al, (kb + G) / (2 * (gb + 1))
        sd, sg = 1 + abs(dr), 1 + ga + gb
        for name, got, want, scale in (("delta_r", v["delta_r_red"], dr, sd),
                                       ("delta_r", v["delta_r_b_red"], dr, sd),
                                       ("gamma_a", v["gamma_a_red"], ga, sg),
                                       ("gamma_b", v["gamma_b_red"], gb, sg)):
            err = abs(got - want) / scale
            worst[name] = max(worst[name], err)
            check(err <= CLOSE_TOL, f"{where}: {name} {got!r} vs {want!r} ({err:.2e} of scale)")
        check(rel(v["time_unit"], 1 / R) <= CLOSE_TOL, f"{where}: time_unit vs 1/R")
        check(rel(v["Gamma_eff"], R) <= CLOSE_TOL, f"{where}: Gamma_eff vs R")
        check(abs(v["realizable_margin"] - (ga * gb - 1)) <= CLOSE_TOL * (1 + ga * gb),
              f"{where}: realizable_margin {v['realizable_margin']!r} vs {ga * gb - 1!r}")
        check(int(v["status"]) & (1 << 13) == 0, f"{where}: not_ep_form set")
        if i % 10 == 0:
            e = qbmap_point(qbmap, "ep", {"delta_r": dr, "alpha": al, "gamma_b": gb})
            err = rel(v["E_B_ss"], e["E_B_ss"])
            worst["E_B_ss"] = max(worst["E_B_ss"], err)
            check(err <= SS_TOL, f"{where}: E_B_ss {v['E_B_ss']!r} vs ep {e['E_B_ss']!r}")
    print("closure: largest deviation / scale: " +
          ", ".join(f"{k} {w:.2e}" for k, w in worst.items()) + f" ({N_REAL} points)")


def point_fails(qbmap, p, name):
    args = [f"{k}={v!r}" for k, v in p.items()]
    r = subprocess.run([qbmap, "point", "threemode"] + args, capture_output=True, text=True)
    return r.returncode != 0 and name in r.stderr


def check_bad(qbmap, rng):
    n_c = n_a = 0
    for i in range(N_BAD):
        kb, G, r = random_rates(rng)
        dr = rng.uniform(-3, 3)
        if i % 2 == 0:  # below gamma_b's boundary (alpha anything)
            gb = max((1 + 2 * r) * (1 - 10 ** rng.uniform(-9, -0.5)), -0.9)
            al = rng.uniform(-0.5, 2)
        else:  # gamma_b fine, alpha below its boundary (needs kappa_b > 0 to be negative)
            gb = (1 + 2 * r) * (1 + 10 ** rng.uniform(-3, 1))
            a0 = -kb / (4 * ((kb + G) / (2 * (gb + 1))))
            al = a0 - (1e-9 * (1 + abs(a0)) if rng.random() < 0.2 else rng.uniform(0.01, 2))
        p = realize(dr, al, gb, kb, G)
        where = f"bad point {i} {(dr, al, gb, kb, G)!r}"
        check(not realizable(dr, al, gb, kb, G), f"{where}: drawn non-realizable but is")
        neg = [k for k in ("kappa_a", "kappa_c") if p[k] < 0]
        if not check(neg, f"{where}: no derived rate is negative: {p}"):
            continue
        check(point_fails(qbmap, p, neg[0]), f"{where}: qbmap point accepts {neg[0]} < 0")
        R = (kb + G) / (2 * (gb + 1))
        if p["kappa_c"] < 0:  # threemode's smallest gamma_b at these kappa_b, Gamma
            n_c += 1
            q = dict(p, kappa_c=0.0, kappa_a=max(p["kappa_a"], 0.0))
            q1 = dict(q, kappa_c=G)
            g0 = qbmap_point(qbmap, "threemode", q)["gamma_b_red"]
            g1 = qbmap_point(qbmap, "threemode", q1)["gamma_b_red"]
            check(abs(g0 - (1 + 2 * r)) <= CLOSE_TOL * (1 + g0),
                  f"{where}: gamma_b_red at kappa_c = 0 is {g0!r}, not 1 + 2 kappa_b/Gamma")
            check(g0 > gb and g1 > g0, f"{where}: target {gb!r} not below the reachable "
                  f"{g0!r} (kappa_c = 0) < {g1!r} (kappa_c = Gamma)")
        else:
            n_a += 1
            ga_min = gb - kb / (2 * R)
            ga = qbmap_point(qbmap, "threemode", dict(p, kappa_a=0.0))["gamma_a_red"]
            check(abs(ga - ga_min) <= CLOSE_TOL * (1 + ga + gb),
                  f"{where}: gamma_a_red at kappa_a = 0 is {ga!r}, not {ga_min!r}")
            check(ga > gb + 2 * al, f"{where}: target gamma_a {gb + 2 * al!r} not below {ga!r}")
    print(f"no realization: {n_c} points with kappa_c < 0, {n_a} with kappa_a < 0")
    check(n_c > N_BAD // 4 and n_a > N_BAD // 4, "both boundaries exercised")


def check_scale(qbmap, rng):
    worst = 0.0
    keys = ("delta_r_red", "gamma_a_red", "gamma_b_red", "E_B", "E_B_red", "E_B_ss")
    for i in range(N_SCALE):
        dr, al, gb, kb, G = random_realizable(rng)
        base = qbmap_point(qbmap, "threemode", realize(dr, al, gb, kb, G))
        for lam in (0.125, 7.3, 1000 / 7):
            v = qbmap_point(qbmap, "threemode", realize(dr, al, gb, lam * kb, lam * G))
            where = f"scale point {i} {(dr, al, gb, kb, G)!r} x {lam}"
            for k in keys:
                err = rel(v[k], base[k])
                worst = max(worst, err)
                check(err <= SCALE_TOL, f"{where}: {k} {v[k]!r} vs {base[k]!r}")
            e0, e1 = base["elimination_error_t"], v["elimination_error_t"]
            check(abs(e1 - e0) <= SCALE_TOL * (1 + e0) + 1e-12,
                  f"{where}: elimination_error_t {e1!r} vs {e0!r}")
    print(f"scale invariance: largest relative change {worst:.2e} ({N_SCALE} x 3 points)")


EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                       "design_card_5d.yaml")


def example_params(fixed, coords):
    """The example's fixed entries evaluated at coords {symbol or axis: value}: numbers as they
    are, expressions (only names, numbers, + - * / and parentheses) in dependency order."""
    env, todo = dict(coords), dict(fixed)
    while todo:
        done = [k for k, e in todo.items() if isinstance(e, (int, float)) or
                all(n in env for n in re.findall(r"[A-Za-z_]\w*", e))]
        if not done:
            raise ValueError(f"{EXAMPLE}: unresolved or cyclic expressions {todo}")
        for k in done:
            e = todo.pop(k)
            if not isinstance(e, (int, float)) and not re.fullmatch(r"[\w\s.+\-*/()]*", e):
                raise ValueError(f"{EXAMPLE}: {k}: {e!r} is not plain arithmetic")
            num = isinstance(e, (int, float))
            env[k] = float(e) if num else eval(e, {"__builtins__": {}}, env)
    return env


def check_example(rng):
    import yaml
    with open(EXAMPLE) as f:
        cfg = yaml.safe_load(f)
    check(cfg["model"] == "threemode" and sorted(cfg["fields"]) == sorted(FIELDS),
          "example: model and fields")
    names = [a["name"] for a in cfg["axes"]]
    check(names == [a[0] for a in AXES], f"example: axes {names}")
    check(set(cfg["symbols"]) == {"delta_r", "alpha", "gamma_b", "tau", "E_r", "R"},
          f"example: symbols {cfg['symbols']}")
    for a, (name, kind, lo, hi, n) in zip(cfg["axes"], AXES):
        got = (a.get("scale", "lin"), a.get("min"), a.get("max"), a.get("n")) if kind != "list" \
            else ("list", a.get("values"), None, len(a.get("values", [])))
        want = (kind, lo, hi, n) if kind != "list" else ("list", lo, None, n)
        got = got[:1] + tuple(float(x) if isinstance(x, str) else x for x in got[1:])
        check(got == want, f"example: axis {name}: {got} vs {want}")
    check(float(cfg["fixed"]["tau"]) == TAU and float(cfg["fixed"]["E_r"]) == 1.0,
          "example: tau and E_r")
    worst = 0.0
    for i in range(1000):
        c = random_realizable(rng) if i % 2 else (rng.uniform(-3, 3), rng.uniform(-2, 2),
                                                   rng.uniform(0.5, 6), *random_rates(rng)[:2])
        env = example_params(cfg["fixed"], dict(zip(names, c)))
        want = realize(*c)
        for k, w in want.items():
            err = abs(env[k] - w) / max(abs(w), 1e-300)
            worst = max(worst, err)
            check(err <= 1e-15, f"example: {k} at {c!r}: {env[k]!r} vs realize {w!r}")
    print(f"example: expressions equal realize() to {worst:.1e} relative (1000 points)")


def axis_values(sizes):
    out = []
    for (name, kind, a, b, n0), n in zip(AXES, sizes):
        if kind == "lin":
            v = np.linspace(a, b, n)
        elif kind == "log":
            v = np.geomspace(a, b, n)
        else:
            v = np.array(a)[np.round(np.linspace(0, len(a) - 1, n)).astype(int)]
        out.append((name, kind, v))
    return out


def qbmap_attrs(qbmap):
    """{dataset: attributes} of every field and of `status` in a one-point qbmap threemode run
    (units, long_name, CF flags), with bit 15 `bad_expression` added to the status flags."""
    import os
    import tempfile
    import h5py
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write("model: threemode\naxes:\n  - {name: delta, values: [0.1]}\n"
                    "fixed: {kappa_a: 1, kappa_b: 1, kappa_c: 1, Gamma: 1}\n"
                    f"output: {d}/c.h5\n")
        subprocess.run([qbmap, "run", cfg], check=True, capture_output=True)
        with h5py.File(f"{d}/c.h5", "r") as h:
            out = {k: {n: v for n, v in h[k].attrs.items() if n != "DIMENSION_LIST"}
                   for k in FIELDS + ["status"]}
    a = out["status"]
    a["flag_masks"] = np.append(np.atleast_1d(a["flag_masks"]), BAD_EXPRESSION).astype(np.int32)
    words = a["flag_meanings"]
    words = words.decode() if isinstance(words, bytes) else str(words)
    a["flag_meanings"] = words + " bad_expression"
    a["failure_mask"] = np.int32(int(a.get("failure_mask", 0)) | BAD_EXPRESSION)
    return out


def write_grid(qbmap, out, sizes):
    """The example's grid, point by point (see the module text)."""
    import h5py
    axes = axis_values(sizes)
    shape = tuple(len(v) for _, _, v in axes)
    data = {f: np.full(shape, np.nan) for f in FIELDS}
    data["status"] = np.zeros(shape, np.int32)
    for idx in np.ndindex(shape):
        p = realize(*[float(axes[k][2][j]) for k, j in enumerate(idx)])
        if p["kappa_a"] < 0 or p["kappa_c"] < 0:
            data["status"][idx] = BAD_EXPRESSION
            continue
        v = qbmap_point(qbmap, "threemode", p)
        for f in FIELDS:
            data[f][idx] = v[f]
        data["status"][idx] = int(v["status"])
    attrs = qbmap_attrs(qbmap)
    with h5py.File(out, "w") as h:
        h.attrs.update({"model": "threemode", "complete": np.int32(1), "nranks": np.int32(1),
                        "npoints": np.int64(data["status"].size), "wall_time_s": 0.0,
                        "title": "tests/design_card_check.py --grid (qbmap point per point)",
                        "tau": TAU, "E_r": 1.0, "delta_c": 0.0, "p_a": 1.0, "p_b": 1.0,
                        "p_ca": 1.0, "p_cb": 1.0})
        dims = []
        for name, kind, v in axes:
            d = h.create_dataset(name, data=v)
            d.attrs.update({"scale": kind, "units": "1", "long_name": name})
            d.make_scale(name)
            dims.append(d)
        for f in FIELDS + ["status"]:
            d = h.create_dataset(f, data=data[f])
            for k, s in enumerate(dims):
                d.dims[k].attach_scale(s)
            d.attrs.update(attrs[f])
        b = h.create_group("blocks")
        blk = b.create_dataset("block", data=np.zeros(1, np.int64))
        blk.make_scale("block")
        b.create_dataset("done", data=np.ones(1, np.uint8)).dims[0].attach_scale(blk)
    bad = int(np.count_nonzero(data["status"] & BAD_EXPRESSION))
    print(f"{out}: {data['status'].size} points, {bad} without a passive realization")


def check_figure(qbmap):
    import tempfile
    import h5py
    with tempfile.TemporaryDirectory() as d:
        h5, png = os.path.join(d, "g.h5"), os.path.join(d, "g.png")
        write_grid(qbmap, h5, [2, 3, 3, 4, 4])
        with h5py.File(h5, "r") as h:
            bad = (h["status"][...] & BAD_EXPRESSION) != 0
            ax = [h[n][...] for n, *_ in AXES]
            ok = np.isfinite(h["gamma_b_red"][...])
        want = np.zeros(bad.shape, bool)
        for idx in np.ndindex(bad.shape):
            want[idx] = not realizable(*[float(ax[k][j]) for k, j in enumerate(idx)])
        check(np.array_equal(bad, want) and np.array_equal(ok, ~want) and
              0 < want.sum() < want.size,
              f"grid: bad_expression at {int(bad.sum())} points, non-realizable {int(want.sum())}")
        script = os.path.join(os.path.dirname(EXAMPLE), "..", "analysis", "design_card.py")
        r = subprocess.run([sys.executable, script, h5, "-o", png], capture_output=True, text=True)
        check(r.returncode == 0 and os.path.getsize(png) > 0,
              f"analysis/design_card.py: exit {r.returncode}: {r.stderr}")


RUN_TOL = 1e-14


def check_run(qbmap):
    import json
    import tempfile
    import h5py
    import yaml
    with open(EXAMPLE) as f:
        ex = yaml.safe_load(f)
    axes = ["{name: delta_r, values: [0.0, 1.0]}", "{name: alpha, values: [-0.25, 0.5]}",
            "{name: gamma_b, values: [1.5, 5.0]}",
            "{name: kappa_b, min: 1e-3, max: 10, n: 4, scale: log}",
            "{name: Gamma, min: 1e-2, max: 10, n: 4, scale: log}"]
    text = ("model: threemode\nsymbols: [" + ", ".join(ex["symbols"]) + "]\naxes:\n" +
            "".join(f"  - {a}\n" for a in axes) + "fixed:\n" +
            "".join(f"  {k}: {json.dumps(v)}\n" for k, v in ex["fixed"].items()) +
            "fields: [" + ", ".join(FIELDS) + "]\n")
    with tempfile.TemporaryDirectory() as d:
        cfg, out = os.path.join(d, "c.yaml"), os.path.join(d, "c.h5")
        with open(cfg, "w") as f:
            f.write(text)
        r = subprocess.run([qbmap, "run", cfg, "-o", out], capture_output=True, text=True)
        if not check(r.returncode == 0, f"qbmap run of the example's expressions: {r.stderr}"):
            return
        with h5py.File(out, "r") as h:
            ax = [h[n][...] for n, *_ in AXES]
            got = {f: h[f][...] for f in FIELDS + ["status"]}
    worst, n_ok = 0.0, 0
    for idx in np.ndindex(got["status"].shape):
        c = [float(ax[k][j]) for k, j in enumerate(idx)]
        st = int(got["status"][idx])
        if not realizable(*c):
            check(st & BAD_EXPRESSION and all(np.isnan(got[f][idx]) for f in FIELDS),
                  f"run: {c}: no passive realization but status {st} or a field not NaN")
            continue
        n_ok += 1
        v = qbmap_point(qbmap, "threemode", realize(*c))
        check(st == int(v["status"]), f"run: {c}: status {st} vs point {int(v['status'])}")
        for f in FIELDS:
            a, b = float(got[f][idx]), v[f]
            err = 0.0 if a == b or (np.isnan(a) and np.isnan(b)) else abs(a - b) / abs(b)
            worst = max(worst, err)
            check(err <= RUN_TOL, f"run: {c}: {f} {a!r} vs point {b!r}")
    check(n_ok > 0, "run: some realizable points")
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write(text)
        shape = got["status"].shape
        for flat in np.linspace(0, got["status"].size - 1, 16).astype(int):
            idx = np.unravel_index(flat, shape)
            args = [f"{n}={float(ax[k][j])!r}" for k, ((n, *_), j) in enumerate(zip(AXES, idx))]
            out = subprocess.run([qbmap, "point", "threemode", "--config", cfg] + args,
                                 capture_output=True, text=True, check=True).stdout
            v = dict(line.split(" = ") for line in out.splitlines() if not line.startswith("#"))
            a = {f: (np.float64(v[f]), np.float64(got[f][idx])) for f in FIELDS}
            same = all(x.tobytes() == y.tobytes() or (np.isnan(x) and np.isnan(y))
                       for x, y in a.values()) and int(v["status"]) == int(got["status"][idx])
            check(same, f"run: point --config {' '.join(args)} differs from the run")
    print(f"qbmap run of the example's expressions: {n_ok} realizable points, fields equal "
          f"`qbmap point` at realize() to {worst:.1e} relative")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qbmap")
    ap.add_argument("--grid")
    ap.add_argument("--sizes", default="5,9,5,20,20")
    a = ap.parse_args()
    if a.grid:
        write_grid(a.qbmap, a.grid, [int(s) for s in a.sizes.split(",")])
        return
    rng = random.Random(20261130)
    with guarded("design_card"):
        check_closure(a.qbmap, rng)
        check_bad(a.qbmap, rng)
        check_scale(a.qbmap, rng)
        check_example(rng)
        check_figure(a.qbmap)
        check_run(a.qbmap)


if __name__ == "__main__":
    main()
