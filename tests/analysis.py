#!/usr/bin/python3
"""analysis/qbplot.py on small qbmap outputs made here (the example configs of the figures).
Every subcommand runs as a command and writes a PNG of the figure's pixel size (and a PDF when
asked); the same subcommands run in-process (qbplot.main, matplotlib's Agg backend) and their
Figure objects are inspected: the plotted arrays equal the file's data (read here with h5py),
the overlays are exactly the file's /boundary and /ep rows of each slice (all of them, over
the panels), axis labels, scales, titles and the number of panels, lines and curves are as
documented.  The overlay extraction returns exactly the group's points of a slice; bad input
is one line and exit 2.  Usage: analysis.py QBMAP MPIEXEC TESTS_SOURCE_DIR"""
import contextlib
import io
import os
import struct
import subprocess
import sys
import tempfile

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402

from qbcheck import check, guarded  # noqa: E402

qbmap, mpiexec, src = sys.argv[1:4]
root = os.path.join(src, "..")
sys.path.insert(0, os.path.join(root, "analysis"))
import qbplot  # noqa: E402

FIG3 = """model: ep
axes:
  - {name: gamma_b, values: [0.5, 1.0, 1.5]}
  - {name: alpha, min: -0.75, max: 1.0, n: 36}
  - {name: delta_r, min: -2.0, max: 2.0, n: 41}
fields: [growth_rate, realizable_margin]
boundaries: {axis: delta_r}
eps: {axes: [delta_r, alpha]}
"""


def run(cfg_text, out, extra=()):
    cfg = out + ".yaml"
    with open(cfg, "w") as f:
        f.write(cfg_text)
    subprocess.run([mpiexec, "-n", "2", qbmap, "run", cfg, "-o", out, "--progress", "0", *extra],
                   check=True, capture_output=True)


def png_size(path):
    """(width, height) from the PNG header, None if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def load(path):
    """{dataset path: array} and root attributes, read with h5py (not through qbplot)."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        attrs = dict(f.attrs)
    return out, attrs


def same(a, b):
    """Exactly equal arrays (NaN equal to NaN), same number of elements."""
    a = np.ma.filled(np.ma.asarray(a, dtype=float), np.nan).ravel()
    b = np.asarray(b, dtype=float).ravel()
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def render(what, argv):
    """Runs `qbplot.py argv` in-process; the one Figure it made."""
    plt.close("all")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = qbplot.main(argv)
    nums = plt.get_fignums()
    check(rc == 0 and len(nums) == 1 and out.getvalue() == f"qbplot: wrote {argv[-1]}\n",
          f"{what}: in-process exit {rc}, {len(nums)} figure(s), {out.getvalue()!r}")
    return plt.figure(nums[0]) if nums else plt.figure()


def panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def meshes(ax):
    return [c for c in ax.collections if isinstance(c, QuadMesh)]


def lines(ax, marker=None, color=None, style=None):
    out = []
    for ln in ax.get_lines():
        if marker is not None and ln.get_marker() != marker:
            continue
        if color is not None and mcolors.to_rgba(ln.get_color()) != mcolors.to_rgba(color):
            continue
        if style is not None and ln.get_linestyle() != style:
            continue
        out.append(ln)
    return out


def mesh_ok(ax, x, y, values):
    """One QuadMesh whose array is `values` (ny, nx) and whose cells contain the grid points."""
    ms = meshes(ax)
    if len(ms) != 1:
        return False
    m = ms[0]
    edges = m.get_coordinates()  # (ny + 1, nx + 1, 2)
    if edges.shape != (len(y) + 1, len(x) + 1, 2):
        return False
    ex, ey = edges[0, :, 0], edges[:, 0, 1]
    inside = np.all((ex[:-1] < x) & (x < ex[1:])) and np.all((ey[:-1] < y) & (y < ey[1:]))
    return bool(inside) and same(m.get_array(), values)


def xy_is(ln, xs, ys):
    return same(ln.get_xdata(), xs) and same(ln.get_ydata(), ys)


def labels_are(ax, xlabel, ylabel):
    return ax.get_xlabel() == xlabel and ax.get_ylabel() == ylabel


with guarded("analysis"), tempfile.TemporaryDirectory() as tmp:
    f3 = os.path.join(tmp, "fig3.h5")
    run(FIG3, f3)
    f6 = os.path.join(tmp, "fig6.h5")
    subprocess.run([qbmap, "run", os.path.join(root, "examples", "ep_fig6.yaml"), "-o", f6],
                   check=True, capture_output=True)
    made = {}
    for c in ("so_fig6", "ep_fig2", "ep_fig5", "so_fig2", "so_fig3_4", "so_fig7"):
        made[c] = os.path.join(tmp, c + ".h5")
        subprocess.run([mpiexec, "-n", "2", qbmap, "run", os.path.join(root, "examples", c + ".yaml"),
                        "-o", made[c]], check=True, capture_output=True)
    so6 = made["so_fig6"]
    py = "/usr/bin/python3"
    tool = os.path.join(root, "analysis", "qbplot.py")
    # every subcommand as a command: exit 0, a PNG of the figure's size in pixels (dpi 110)
    cases = [
        ("map", [f3, "growth_rate", "--x", "delta_r", "--y", "alpha", "--sel", "gamma_b=1"], (6.4, 4.8)),
        ("ep-fig3", [f3], (4.2 * 3, 3.8)),
        ("ep-fig6", [f6], (6.4, 4.2)),
        ("so-fig6", [so6], (6.4, 4.2)),
        ("ep-fig2", [made["ep_fig2"]], (9, 3.6)),
        ("ep-fig5", [made["ep_fig5"]], (9, 7)),
        ("so-fig2", [made["so_fig2"], made["so_fig3_4"]], (9, 3.6)),
        ("so-fig7", [made["so_fig7"]], (6.4, 4.2)),
    ]
    for cmd, args, inches in cases:
        out = os.path.join(tmp, cmd + ".png")
        r = subprocess.run([py, tool, cmd, *args, "-o", out], capture_output=True, text=True)
        size = png_size(out) if os.path.exists(out) else None
        want = (round(inches[0] * 110), round(inches[1] * 110))
        check(r.returncode == 0 and r.stdout == f"qbplot: wrote {out}\n" and size == want,
              f"qbplot {cmd}: exit {r.returncode}, PNG size {size}, expected {want} {r.stderr}")
    pdf = os.path.join(tmp, "fig6.pdf")
    r = subprocess.run([py, tool, "ep-fig6", f6, "-o", pdf], capture_output=True, text=True)
    check(r.returncode == 0 and open(pdf, "rb").read(5) == b"%PDF-", "qbplot writes PDF")
    d3, _ = load(f3)
    r = subprocess.run([py, tool, "summary", f3], capture_output=True, text=True)
    check(r.returncode == 0 and f"group /boundary: {d3['boundary/point'].size} points" in r.stdout and
          f"group /ep: {d3['ep/point'].size} points" in r.stdout and d3["ep/point"].size == 6,
          "qbplot summary lists the groups with their row counts")
    r = subprocess.run([py, tool, "map", f3, "growth_rate", "--x", "delta_r", "--y", "alpha"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "needs --sel gamma_b=VALUE" in r.stderr and
          r.stderr.count("\n") == 1, "qbplot map without --sel: one clear line")

    # ---- figure content, in-process ------------------------------------------------------
    gbs, al, dr = d3["gamma_b"], d3["alpha"], d3["delta_r"]
    bnd = {k: d3["boundary/" + k] for k in ("gamma_b", "alpha", "delta_r")}
    eps = {k: d3["ep/" + k] for k in ("gamma_b", "alpha", "delta_r")}
    check(bnd["gamma_b"].size > 0 and eps["gamma_b"].size == 6, "fig3 file has boundary and EP rows")

    # map: the gamma_b = 1 slice, its overlays, labels, title, colorbar
    fig = render("map", ["map", f3, "growth_rate", "--x", "delta_r", "--y", "alpha", "--sel",
                         "gamma_b=1.02", "-o", os.path.join(tmp, "m.png")])
    axs = panels(fig)
    check(len(axs) == 1 and len(colorbars(fig)) == 1, "map: one panel with a colorbar")
    ax = axs[0]
    k = int(np.argmin(np.abs(gbs - 1.02)))
    check(mesh_ok(ax, dr, al, d3["growth_rate"][k]), "map: the mesh is growth_rate at gamma_b = 1")
    inb, ine = bnd["gamma_b"] == gbs[k], eps["gamma_b"] == gbs[k]
    bl = [ln for ln in ax.get_lines() if ln.get_label() == "boundary (refined)"]
    el = [ln for ln in ax.get_lines() if ln.get_label() == "EP"]
    check(len(bl) == 1 and xy_is(bl[0], bnd["delta_r"][inb], bnd["alpha"][inb]) and inb.sum() > 0,
          "map: the boundary overlay is the file's /boundary rows of the slice")
    check(len(el) == 1 and xy_is(el[0], eps["delta_r"][ine], eps["alpha"][ine]) and ine.sum() == 2,
          "map: the EP overlay is the file's /ep rows of the slice")
    check(labels_are(ax, "delta_r [1]", "alpha [1]") and ax.get_title() == "gamma_b = 1" and
          colorbars(fig)[0].get_ylabel() == "growth_rate [1]", "map: labels, title, colorbar label")
    check(ax.get_legend() is not None and
          [t.get_text() for t in ax.get_legend().get_texts()] == ["boundary (refined)", "EP"],
          "map: legend")

    # ep-fig3: one panel per gamma_b, all /boundary and /ep rows drawn, the realizable line
    fig = render("ep-fig3", ["ep-fig3", f3, "-o", os.path.join(tmp, "f3.png")])
    axs = panels(fig)
    check(len(axs) == len(gbs) == 3 and len(colorbars(fig)) == 3, "ep-fig3: 3 panels, 3 colorbars")
    nb = ne = 0
    for ax, gb, g in zip(axs, gbs, d3["growth_rate"]):
        lim = np.nanmax(np.abs(g))
        check(mesh_ok(ax, dr, al, g) and meshes(ax)[0].norm.vmin == -lim and
              meshes(ax)[0].norm.vmax == lim, f"ep-fig3: growth_rate mesh at gamma_b = {gb}, "
              "symmetric colour limits")
        inb, ine = bnd["gamma_b"] == gb, eps["gamma_b"] == gb
        b, e = lines(ax, ".", "k"), lines(ax, "D", "r")
        check(len(b) == 1 and xy_is(b[0], bnd["delta_r"][inb], bnd["alpha"][inb]),
              f"ep-fig3: boundary overlay at gamma_b = {gb} = the file's rows")
        check(len(e) == 1 and xy_is(e[0], eps["delta_r"][ine], eps["alpha"][ine]) and ine.sum() == 2,
              f"ep-fig3: EP overlay at gamma_b = {gb} = the file's rows")
        nb += len(b[0].get_xdata()) if b else 0
        ne += len(e[0].get_xdata()) if e else 0
        ac = (1 - gb * gb) / (2 * gb)
        star = lines(ax, "*", "purple")
        check(len(star) == 1 and xy_is(star[0], [0], [ac]), f"ep-fig3: alpha_c star at gamma_b = {gb}")
        # realizable_margin = (gb + 2 alpha) gb - 1 = 0: the green contour at alpha = (1/gb - gb)/2
        green = [c for c in ax.collections if not isinstance(c, QuadMesh) and
                 len(c.get_edgecolor()) and
                 tuple(c.get_edgecolor()[0]) == mcolors.to_rgba("green")]
        verts = np.concatenate([p.vertices for c in green for p in c.get_paths()] or [np.zeros((0, 2))])
        check(len(green) == 1 and len(verts) >= 2 and
              np.allclose(verts[:, 1], (1 / gb - gb) / 2, rtol=0, atol=1e-9) and
              verts[:, 0].min() == dr[0] and verts[:, 0].max() == dr[-1],
              f"ep-fig3: realizable contour at alpha = (1/gb - gb)/2 across the panel, gamma_b = {gb}")
        check(ax.get_title() == f"gamma_b = {gb:g}" and labels_are(ax, "delta_r [1]", "alpha [1]"),
              f"ep-fig3: title and labels at gamma_b = {gb}")
    check(nb == bnd["gamma_b"].size and ne == eps["gamma_b"].size,
          f"ep-fig3: every /boundary ({nb} of {bnd['gamma_b'].size}) and /ep ({ne}) row drawn")
    check(all(c.get_ylabel() == "growth_rate" for c in colorbars(fig)), "ep-fig3: colorbar labels")

    # ep-fig6: t_crit and Eq. 33 vs delta_r, the stable band
    d6, _ = load(f6)
    fig = render("ep-fig6", ["ep-fig6", f6, "-o", os.path.join(tmp, "f6.png")])
    axs = panels(fig)
    check(len(axs) == 1, "ep-fig6: one panel")
    ax = axs[0]
    tc, ta = lines(ax, color="k", style="-"), lines(ax, color="r", style="--")
    check(len(ax.get_lines()) == 2 and len(tc) == 1 and xy_is(tc[0], d6["delta_r"], d6["t_crit"]),
          "ep-fig6: the t_crit curve is the file's t_crit")
    check(len(ta) == 1 and xy_is(ta[0], d6["delta_r"], d6["t_crit_approx"]),
          "ep-fig6: the Eq. 33 curve is the file's t_crit_approx")
    check(np.isfinite(d6["t_crit"]).sum() > 100 and np.isnan(d6["t_crit"]).sum() > 100,
          "ep-fig6: the file has reached and never-reached points")
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    check(len(band) == 1 and len(band[0].get_paths()) >= 1, "ep-fig6: the stable band")
    check(labels_are(ax, "delta_r [1]", "t_crit [1/Gamma_eff]") and ax.get_ylim()[0] == -20 and
          ax.get_ylim()[1] == 1.2 * np.nanmax(d6["t_crit"]), "ep-fig6: labels and limits")
    check([t.get_text() for t in ax.get_legend().get_texts()] ==
          ["stable", "t_crit (exact first crossing)", "Eq. 33 as printed"], "ep-fig6: legend")

    # so-fig6: dE_coh and dE_diss vs kappa_b, log x, symlog y
    ds6, _ = load(so6)
    fig = render("so-fig6", ["so-fig6", so6, "-o", os.path.join(tmp, "s6.png")])
    ax = panels(fig)[0]
    coh, diss = lines(ax, color="b", style="-"), lines(ax, color="r", style="-")
    check(len(panels(fig)) == 1 and len(coh) == 1 and xy_is(coh[0], ds6["kappa_b"], ds6["dE_coh"]),
          "so-fig6: dE_coh curve = the file's")
    check(len(diss) == 1 and xy_is(diss[0], ds6["kappa_b"], ds6["dE_diss"]),
          "so-fig6: dE_diss curve = the file's")
    zero = lines(ax, color="k")
    check(len(zero) == 1 and same(zero[0].get_ydata(), [0, 0]), "so-fig6: the zero line")
    check(ax.get_xscale() == "log" and ax.get_yscale() == "symlog" and
          labels_are(ax, "kappa_b [1]", "advantage over a single battery"), "so-fig6: scales, labels")

    # ep-fig2: Re and Im lambda+- vs delta_r, the EPs marked where regime has bit 2
    d2, a2 = load(made["ep_fig2"])
    gb2 = float(a2["gamma_b"])
    x2, ep2 = d2["delta_r"], (d2["regime"] & 4) != 0
    fig = render("ep-fig2", ["ep-fig2", made["ep_fig2"], "-o", os.path.join(tmp, "f2.png")])
    axs = panels(fig)
    check(len(axs) == 2 and int(ep2.sum()) == 2 and same(np.abs(x2[ep2]), [1, 1]),
          "ep-fig2: two panels; the file's EPs at delta_r = +-1")
    for ax, shift, part, ylab in ((axs[0], 0.0, "re", "Re lambda"),
                                  (axs[1], gb2, "im", "Im lambda + gamma_b")):
        p, m = lines(ax, color="b", style="--"), lines(ax, color="k", style="-")
        check(len(p) == 1 and xy_is(p[0], x2, d2[f"lambda_plus_{part}"] + shift) and
              len(m) == 1 and xy_is(m[0], x2, d2[f"lambda_minus_{part}"] + shift),
              f"ep-fig2: lambda+- {part} curves = the file's (+ {shift:g})")
        e = lines(ax, "D", "r")
        check(len(e) == 1 and xy_is(e[0], x2[ep2], d2[f"lambda_plus_{part}"][ep2] + shift),
              f"ep-fig2: EP markers ({part}) at the file's EPs")
        check(labels_are(ax, "delta_r [1]", ylab), f"ep-fig2: labels ({part})")

    # ep-fig5: four panels over (delta_r, alpha), the /ep rows on each
    d5, a5 = load(made["ep_fig5"])
    gb5 = float(a5["gamma_b"])
    fig = render("ep-fig5", ["ep-fig5", made["ep_fig5"], "-o", os.path.join(tmp, "f5.png")])
    axs = panels(fig)
    check(len(axs) == 4 and len(colorbars(fig)) == 4 and d5["ep/delta_r"].size == 2,
          "ep-fig5: four panels with colorbars; the file has 2 EPs")
    for ax, (f, shift) in zip(axs, (("lambda_plus_re", 0), ("lambda_minus_re", 0),
                                    ("lambda_plus_im", gb5), ("lambda_minus_im", gb5))):
        check(mesh_ok(ax, d5["delta_r"], d5["alpha"], d5[f] + shift), f"ep-fig5: {f} mesh = the file's")
        e = lines(ax, "D", "r")
        check(len(e) == 1 and xy_is(e[0], d5["ep/delta_r"], d5["ep/alpha"]),
              f"ep-fig5: EP overlay on {f} = the file's /ep rows")
        check(ax.get_title() == f + (" + gamma_b" if shift else "") and
              labels_are(ax, "delta_r [1]", "alpha [1]"), f"ep-fig5: title and labels of {f}")

    # so-fig2: one curve per combination of the list axes of both files, E_A and E_B vs |J| t
    fig = render("so-fig2", ["so-fig2", made["so_fig2"], made["so_fig3_4"], "-o",
                             os.path.join(tmp, "s2.png")])
    axs = panels(fig)
    want = []  # (label, t, E_A, E_B)
    dA, _ = load(made["so_fig2"])
    for i, v in enumerate(dA["Delta"]):
        want.append((f"Delta={v:.4g}", dA["t"], dA["E_A"][i], dA["E_B"][i]))
    dB, _ = load(made["so_fig3_4"])
    for i, pa in enumerate(dB["p_a"]):
        for j, pb in enumerate(dB["p_b"]):
            want.append((f"p_a={pa:.4g}, p_b={pb:.4g}", dB["t"], dB["E_A"][i, j], dB["E_B"][i, j]))
    check(len(axs) == 2 and len(want) == 6, "so-fig2: two panels, 6 curves in the files")
    for ax, col, name in ((axs[0], 2, "E_A"), (axs[1], 3, "E_B")):
        got = ax.get_lines()
        check(len(got) == len(want) and
              all(ln.get_label() == w[0] and xy_is(ln, 0.2 * w[1], w[col]) for ln, w in zip(got, want)),
              f"so-fig2: the {name} curves are the files' curves, labelled, in order")
        check(labels_are(ax, "|J| t  (|J| = 0.2)", name), f"so-fig2: {name} labels")

    # so-fig7: xi_ss and xi_supopt vs Gamma
    d7, _ = load(made["so_fig7"])
    fig = render("so-fig7", ["so-fig7", made["so_fig7"], "-o", os.path.join(tmp, "s7.png")])
    ax = panels(fig)[0]
    a, b = lines(ax, color="b", style="-"), lines(ax, color="r", style="-")
    check(len(ax.get_lines()) == 2 and len(a) == 1 and xy_is(a[0], d7["Gamma"], d7["xi_ss"]) and
          len(b) == 1 and xy_is(b[0], d7["Gamma"], d7["xi_supopt"]), "so-fig7: xi curves = the file's")
    check(labels_are(ax, "Gamma [1]", "total stationary energy xi") and ax.get_xscale() == "linear",
          "so-fig7: labels and scale")
    plt.close("all")

    # overlays: exactly the group's points of the slice, nearest grid value selects it
    with h5py.File(f3, "r") as f:
        b, e = f["boundary"], f["ep"]
        for gb in (0.5, 1.0, 1.5):
            xs, ys = qbplot.overlay_points(f3, "boundary", "delta_r", "alpha", {"gamma_b": gb + 0.01})
            want = b["gamma_b"][()] == gb
            check(np.array_equal(xs, b["delta_r"][()][want]) and
                  np.array_equal(ys, b["alpha"][()][want]) and xs.size > 0,
                  f"boundary overlay for gamma_b = {gb}")
            ex, ey = qbplot.overlay_points(f3, "ep", "delta_r", "alpha", {"gamma_b": gb})
            want = e["gamma_b"][()] == gb
            check(ex.size == 2 and np.array_equal(ex, e["delta_r"][()][want]) and
                  np.array_equal(ey, e["alpha"][()][want]) and
                  np.allclose(np.abs(ex), 1, rtol=0, atol=1e-12) and
                  np.allclose(ey, 0, rtol=0, atol=1e-12), f"EP overlay for gamma_b = {gb}")
