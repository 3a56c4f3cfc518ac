#!/usr/bin/python3
"""The 5-D design card's figure (issue 14 item 4; docs/physics.md §2.7), from the HDF5 file of
examples/design_card_5d.yaml (axes delta_r, alpha, gamma_b, kappa_b, Gamma; threemode realized
with unit couplings; no passive realization = status flag `bad_expression`).

  design_card.py FILE [--gamma-b G ...] [--slice DELTA_R,ALPHA ...] [--field F] [-o OUT]

One column per gamma_b (default: three of the file's values, the second, the middle and the
last); one row per (delta_r, alpha) slice (default, nearest grid values: delta_r = 1,
alpha = 0, on ep's exceptional line; delta_r = 0, alpha = -0.25, where alpha < 0 adds the
kappa_a >= 0 boundary; the largest delta_r and alpha, far from the exceptional line).  Each panel: F (default elimination_error_t, the error of the two-mode
reduction at the reduced time tau) over (kappa_b, Gamma), log colours shared by all panels;
grey: no passive realization (bad_expression); white: F undefined for another reason (counted
in the title); dashed: §2.7's boundaries kappa_b/Gamma = (gamma_b - 1)/2 (kappa_c = 0) and, for
alpha < 0, kappa_b/Gamma = -2 alpha/(gamma_b + 1 + 2 alpha) (kappa_a = 0), drawn from the
formulas, so the grey region must end on them.  Last row: the fraction of the file's
(delta_r, alpha) points with a passive realization, per (kappa_b, Gamma).

Every field in reduced units depends on (kappa_b, Gamma) only through kappa_b/Gamma (§2.7): the
panels are constant along the diagonals.  Reads the file with qbread and draws with qbplot's
helpers; a missing axis, field or flag ends in one line on stderr, exit status 2."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qbplot  # noqa: E402
import qbread  # noqa: E402

AXES = ("delta_r", "alpha", "gamma_b", "kappa_b", "Gamma")


def nearest(d, name, value):
    v = d[name].values
    return float(v[np.argmin(np.abs(v - value))])


def default_columns(d):
    g = d["gamma_b"].values
    idx = sorted({min(1, g.size - 1), g.size // 2, g.size - 1})
    return [float(g[i]) for i in idx]


def default_rows(d):
    rows = [(nearest(d, "delta_r", 1.0), nearest(d, "alpha", 0.0)),
            (nearest(d, "delta_r", 0.0), nearest(d, "alpha", -0.25)),
            (float(d["delta_r"].values.max()), float(d["alpha"].values.max()))]
    return list(dict.fromkeys(rows))


def boundaries(gb, alpha):
    """[(kappa_b/Gamma on the boundary, label)] of §2.7 at (gamma_b, alpha)."""
    out = [((gb - 1) / 2, "$\\kappa_c=0$")]
    if alpha < 0 and gb + 1 + 2 * alpha > 0:
        out.append((-2 * alpha / (gb + 1 + 2 * alpha), "$\\kappa_a=0$"))
    return out


def draw_boundaries(ax, d, gb, alpha):
    G = d["Gamma"].values
    Gs = np.geomspace(G.min(), G.max(), 50)
    kb = d["kappa_b"].values
    for (r, label), style in zip(boundaries(gb, alpha), ("k--", "m--")):
        keep = (r * Gs >= kb.min()) & (r * Gs <= kb.max())
        if r > 0 and keep.any():
            ax.plot(r * Gs[keep], Gs[keep], style, lw=1.2,
                    label=f"{label}: $\\kappa_b/\\Gamma$ = {r:.3g}")


def panel(fig, ax, d, field, sel, norm):
    """One slice: field (log colours), grey where bad_expression; returns the summary line."""
    s = d.sel(sel)
    bad = s["bad_expression"].transpose("Gamma", "kappa_b").values
    val = s[field].transpose("Gamma", "kappa_b").values
    other = int(np.count_nonzero(~bad & ~np.isfinite(val)))
    grey = np.where(bad, 1.0, np.nan)
    lx, ly = qbplot.is_log_axis(d["kappa_b"]), qbplot.is_log_axis(d["Gamma"])
    ex, ey = qbplot.cell_edges(d["kappa_b"].values, lx), qbplot.cell_edges(d["Gamma"].values, ly)
    qbplot._mesh(fig, ax, d, "kappa_b", "Gamma", np.where(bad, np.nan, val),
                 f"{field} (log)", norm=norm, cmap="viridis")
    ax.pcolormesh(ex, ey, grey, shading="flat", cmap="Greys", vmin=0, vmax=2.5)
    draw_boundaries(ax, d, sel["gamma_b"], sel["alpha"])
    n = bad.size - int(np.count_nonzero(bad))
    title = ", ".join(f"{k} = {v:g}" for k, v in sel.items())
    ax.set_title(f"{title}\n{n}/{bad.size} realizable" + (f", {other} undefined" if other else ""),
                 fontsize=9)
    ok = val[~bad & np.isfinite(val)]
    rng = f"{ok.min():.3g} .. {ok.max():.3g}" if ok.size else "none"
    return f"{title}: {n}/{bad.size} realizable, {field} {rng}"


def fraction_panel(fig, ax, d, gb):
    bad = d["bad_expression"].sel(gamma_b=gb)
    frac = 1.0 - bad.mean(dim=("delta_r", "alpha")).transpose("Gamma", "kappa_b").values
    qbplot._mesh(fig, ax, d, "kappa_b", "Gamma", frac, "realizable fraction of (delta_r, alpha)",
                 cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"gamma_b = {gb:g}: share of the {d.sizes['delta_r'] * d.sizes['alpha']} "
                 "(delta_r, alpha) points realizable", fontsize=9)
    draw_boundaries(ax, d, gb, 0.0)


def figure(path, out, field, cols, rows):
    m = qbread.read(path)
    d = m.data
    qbplot.need(d, list(AXES), "axis")
    qbplot.need(d, [field, "bad_expression"])
    cols = [nearest(d, "gamma_b", g) for g in cols] if cols else default_columns(d)
    rows = [(nearest(d, "delta_r", a), nearest(d, "alpha", b)) for a, b in rows] if rows \
        else default_rows(d)
    vals = np.concatenate([d[field].sel(delta_r=dr, alpha=al, gamma_b=gb).values.ravel()
                           for dr, al in rows for gb in cols])
    vals = vals[np.isfinite(vals)]
    norm, _ = qbplot.colour_norm(vals, log=True)
    lines = []
    nr, nc = len(rows) + 1, len(cols)
    fig, axes = qbplot._plt().subplots(nr, nc, figsize=(5.2 * nc, 4.4 * nr), squeeze=False)
    for i, (dr, al) in enumerate(rows):
        for j, gb in enumerate(cols):
            sel = {"delta_r": dr, "alpha": al, "gamma_b": gb}
            lines.append(panel(fig, axes[i][j], d, field, sel, norm))
            axes[i][j].legend(fontsize=7, loc="lower right")
    for j, gb in enumerate(cols):
        fraction_panel(fig, axes[-1][j], d, gb)
    tau = m.parameters.get("tau")
    fig.suptitle(f"design card ({os.path.basename(path)}): {field}" +
                 (f" at tau = {tau:g}" if tau else "") +
                 "; grey: no passive realization with unit couplings (docs/physics.md §2.7)",
                 fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (4.4 * nr)))
    fig.savefig(out, dpi=110)
    print(f"design_card: wrote {out}")
    for line in lines:
        print(line)


def pair(s):
    a, sep, b = s.partition(",")
    try:
        return float(a), float(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s}: expected DELTA_R,ALPHA") from None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--gamma-b", type=float, action="append", default=[], metavar="G")
    ap.add_argument("--slice", type=pair, action="append", default=[], metavar="DELTA_R,ALPHA")
    ap.add_argument("--field", default="elimination_error_t")
    ap.add_argument("-o", "--output", default="design_card.png")
    a = ap.parse_args(argv)
    try:
        figure(a.file, a.output, a.field, a.gamma_b, a.slice)
    except (OSError, qbplot.QbError, ValueError, KeyError) as e:
        print(f"design_card: {a.file}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
