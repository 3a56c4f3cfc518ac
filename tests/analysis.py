#!/usr/bin/python3
"""analysis/qbplot.py on small qbmap outputs made here (the example configs of the figures).
Every subcommand runs as a command and writes a PNG of the figure's pixel size (and a PDF when
asked); the same subcommands run in-process (qbplot.main, matplotlib's Agg backend) and their
Figure objects are inspected: the plotted arrays equal the file's data (read here with h5py),
the overlays are exactly the file's /boundary and /ep rows of each slice (all of them, over
the panels), axis labels, scales, titles and the number of panels, lines and curves are as
documented.  Also: log axes (the coordinate's scale attribute, or detected) with geometric
cells, --log/--symlog colours, the boundary labelled with its group's field and level, labels
and |J| read from the file, one colour scale shared by panels (or one per panel), Eq. 33's
clipping said in EP Fig. 6, SO Fig. 6's symlog without a kink or "10^" ticks, the dynamics
command and its points marked on EP Fig. 3, SO Fig. 2's phi = 0, pi each at its own optimum (one curve).
The overlay extraction returns exactly the group's points of a slice; a missing axis, field or
bad option is one line and exit 2.  Usage: analysis.py QBMAP MPIEXEC TESTS_SOURCE_DIR"""
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


def run(cfg_text, out, extra=(), ranks=2):
    cfg = out + ".yaml"
    with open(cfg, "w") as f:
        f.write(cfg_text)
    launch = [mpiexec, "-n", str(ranks)] if ranks > 1 else []
    subprocess.run([*launch, qbmap, "run", cfg, "-o", out, "--progress", "0", *extra],
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


def symlog_smooth(ax, values, what):
    """The y axis is symlog, linear over every negative value, with a continuous slope where
    linear meets log (no kink: the two one-sided derivatives agree to 1e-4), and its tick
    labels are plain numbers (no "10^" powers such as -10^0)."""
    t = ax.yaxis.get_transform()
    w = t.linthresh
    f = lambda v: float(np.ravel(t.transform(np.array([v])))[0])  # noqa: E731
    e = 1e-7 * w
    slopes = [(f(w + e) - f(w)) / e, (f(w) - f(w - e)) / e]
    neg = values[np.isfinite(values) & (values < 0)]
    check(neg.size > 0 and w >= -neg.min() and np.isclose(slopes[0], slopes[1], rtol=1e-4),
          f"{what}: symlog linear over the negative values (width {w:g}), slope continuous "
          f"at the joint {slopes}")
    ax.figure.canvas.draw()
    ticks = [tl.get_text() for tl in ax.get_yticklabels()]
    check(ticks and not any("10^" in tk for tk in ticks) and
          all(tk == f"{v:g}" for tk, v in zip(ticks, ax.get_yticks())),
          f"{what}: plain tick labels {ticks}")


with guarded("analysis"), tempfile.TemporaryDirectory() as tmp:
    f3 = os.path.join(tmp, "fig3.h5")
    run(FIG3, f3)
    f6 = os.path.join(tmp, "fig6.h5")
    subprocess.run([qbmap, "run", os.path.join(root, "examples", "ep_fig6.yaml"), "-o", f6],
                   check=True, capture_output=True)
    made = {}
    for c in ("so_fig6", "ep_fig2", "ep_fig5", "so_fig2", "so_fig3_4", "so_fig7", "so_fig2_resonant",
              "ep_fig3_dynamics"):
        made[c] = os.path.join(tmp, c + ".h5")
        launch = [mpiexec, "-n", "2"] if c in ("so_fig6", "ep_fig5") else []  # a few on 2 ranks
        subprocess.run([*launch, qbmap, "run", os.path.join(root, "examples", c + ".yaml"),
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
        ("dynamics", [made["ep_fig3_dynamics"]], (4.2 * 3, 6.4)),
    ]
    for cmd, args, inches in cases:
        out = os.path.join(tmp, cmd + ".png")
        r = subprocess.run([py, tool, cmd, *args, "-o", out], capture_output=True, text=True)
        size = png_size(out) if os.path.exists(out) else None
        want = (round(inches[0] * 110), round(inches[1] * 110))
        check(r.returncode == 0 and r.stdout == f"qbplot: wrote {out}\n" and size == want,
              f"qbplot {cmd}: exit {r.returncode}, PNG size {size}, expected {want} {r.stderr}")
    # the network showcase's figure (analysis/network_showcase.py) from its example, as made
    net = os.path.join(tmp, "network_so_thermal.h5")
    subprocess.run([qbmap, "run", os.path.join(root, "examples", "network_so_thermal.yaml"), "-o",
                    net], check=True, capture_output=True)
    out = os.path.join(tmp, "network_so_thermal.png")
    r = subprocess.run([py, os.path.join(root, "analysis", "network_showcase.py"), "so-thermal", net,
                        "-o", out], capture_output=True, text=True)
    check(r.returncode == 0 and os.path.exists(out) and png_size(out) is not None,
          f"network_showcase so-thermal: exit {r.returncode}, {r.stderr}")
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
    blab = "boundary growth_rate = 0 (refined)"  # the group's field and level attributes
    bl = [ln for ln in ax.get_lines() if ln.get_label() == blab]
    el = [ln for ln in ax.get_lines() if ln.get_label() == "EP"]
    check(len(bl) == 1 and xy_is(bl[0], bnd["delta_r"][inb], bnd["alpha"][inb]) and inb.sum() > 0,
          "map: the boundary overlay is the file's /boundary rows of the slice")
    check(len(el) == 1 and xy_is(el[0], eps["delta_r"][ine], eps["alpha"][ine]) and ine.sum() == 2,
          "map: the EP overlay is the file's /ep rows of the slice")
    check(labels_are(ax, "delta_r [1]", "alpha [1]") and ax.get_title() == "gamma_b = 1" and
          colorbars(fig)[0].get_ylabel() == "growth_rate [1]", "map: labels, title, colorbar label")
    check(ax.get_legend() is not None and
          [t.get_text() for t in ax.get_legend().get_texts()] == [blab, "EP"],
          "map: legend")

    # ep-fig3: one panel per gamma_b, all /boundary and /ep rows drawn, the realizable line
    fig = render("ep-fig3", ["ep-fig3", f3, "-o", os.path.join(tmp, "f3.png")])
    axs = panels(fig)
    check(len(axs) == len(gbs) == 3 and len(colorbars(fig)) == 3, "ep-fig3: 3 panels, 3 colorbars")
    nb = ne = 0
    lim = np.nanmax(np.abs(d3["growth_rate"]))  # one colour scale for the three panels
    for ax, gb, g in zip(axs, gbs, d3["growth_rate"]):
        check(mesh_ok(ax, dr, al, g) and meshes(ax)[0].norm.vmin == -lim and
              meshes(ax)[0].norm.vmax == lim, f"ep-fig3: growth_rate mesh at gamma_b = {gb}, "
              "shared symmetric colour limits")
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
    check(fig._suptitle.get_text() == "growth rate (one colour scale); black: refined boundary "
          "growth_rate = 0; red: EPs; star: alpha_c; green: gamma_a gamma_b = 1 (realizable above)",
          "ep-fig3: the title names everything drawn")
    fig = render("ep-fig3 panel", ["ep-fig3", f3, "--colour-scale", "panel", "-o",
                                   os.path.join(tmp, "f3p.png")])
    check(all(meshes(ax)[0].norm.vmax == np.nanmax(np.abs(g)) == -meshes(ax)[0].norm.vmin
              for ax, g in zip(panels(fig), d3["growth_rate"])) and
          len({meshes(ax)[0].norm.vmax for ax in panels(fig)}) > 1,
          "ep-fig3 --colour-scale panel: each panel its own symmetric limits")

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
    top = 1.2 * np.nanmax(d6["t_crit"])
    floor = -0.1 * top
    with h5py.File(f6, "r") as f:
        tunits = f["t_crit"].attrs["units"].decode()
    check(labels_are(ax, "delta_r [1]", f"t_crit [{tunits}]") and ax.get_ylim() == (floor, top),
          "ep-fig6: labels (units from the file) and limits")
    ta6 = d6["t_crit_approx"]
    nclip = int(np.count_nonzero(np.isfinite(ta6) & (ta6 < floor)))
    check(nclip > 0 and [t.get_text() for t in ax.get_legend().get_texts()] ==
          ["stable", "t_crit (exact first crossing)",
           f"Eq. 33 as printed ({nclip} values < {floor:.3g} off the plot)"],
          "ep-fig6: legend says how many Eq. 33 values are below the plot")
    check([t.get_text() for t in ax.texts] ==
          [f"Eq. 33 clipped: drops to {np.nanmin(ta6):.3g} near the boundary"],
          "ep-fig6: the figure says Eq. 33 is clipped and how far it drops")

    # so-fig6: dE_coh and dE_diss vs kappa_b, log x, symlog y; the example has list axes J, Gamma
    # [0, 0.2] x [0, 0.4]: the curves are E_B_ss - E_single at (0.2, 0) and (0, 0.4), equal to the
    # closed-form fields dE_coh, dE_diss there to 1e-9 of E_single (tests/so_figures_check.py)
    ds6, _ = load(so6)
    fig = render("so-fig6", ["so-fig6", so6, "-o", os.path.join(tmp, "s6.png")])
    ax = panels(fig)[0]
    coh, diss = lines(ax, color="b", style="-"), lines(ax, color="r", style="-")
    adv6 = ds6["E_B_ss"] - ds6["E_single"]
    check(list(ds6["J"]) == [0, 0.2] and list(ds6["Gamma"]) == [0, 0.4], "so-fig6: the file's J, Gamma axes")
    check(len(panels(fig)) == 1 and len(coh) == 1 and xy_is(coh[0], ds6["kappa_b"], adv6[1, 0]) and
          np.allclose(coh[0].get_ydata(), ds6["dE_coh"][1, 0], rtol=0, atol=1e-9 * ds6["E_single"][1, 0, 0]),
          "so-fig6: dE_coh curve = the file's E_B_ss - E_single at (J, Gamma) = (0.2, 0) = its dE_coh")
    check(len(diss) == 1 and xy_is(diss[0], ds6["kappa_b"], adv6[0, 1]) and
          np.allclose(diss[0].get_ydata(), ds6["dE_diss"][0, 1], rtol=0, atol=1e-9 * ds6["E_single"][0, 1, 0]),
          "so-fig6: dE_diss curve = the file's E_B_ss - E_single at (J, Gamma) = (0, 0.4) = its dE_diss")
    zero = lines(ax, color="k")
    check(len(zero) == 1 and same(zero[0].get_ydata(), [0, 0]), "so-fig6: the zero line")
    check(ax.get_xscale() == "log" and ax.get_yscale() == "symlog" and
          labels_are(ax, "kappa_b [1]", "advantage over a single battery [1]"), "so-fig6: scales, labels")
    check([t.get_text() for t in ax.get_legend().get_texts()] ==
          ["dE_coh (coherent, |J| = 0.2)", "dE_diss (super-optimal, Gamma = 0.4)"],
          "so-fig6: legend with the file's J and Gamma")
    symlog_smooth(ax, np.concatenate([adv6[1, 0], adv6[0, 1]]), "so-fig6")

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

    # so-fig2: one curve per combination of the list axes of both files, E_A and E_B vs |J| t;
    # curves of one file that coincide (phi = 0, pi) drawn once, labelled with both values; the
    # optimized Delta labelled Delta_opt with the file's per-curve Delta_at_opt
    fig = render("so-fig2", ["so-fig2", made["so_fig2"], made["so_fig3_4"], "-o",
                             os.path.join(tmp, "s2.png")])
    axs = panels(fig)
    dA, aA = load(made["so_fig2"])
    dB, aB = load(made["so_fig3_4"])
    check(aA["J"] == 0.2 and list(dA["Gamma"]) == [0, 0.4] and aB["J"] == 0 and aB["Gamma"] == 0.4 and
          list(dB["q"]) == [0, 0.25], "so-fig2: the files' J, Gamma, q")
    dl = [f"{v:.4g}" for v in dA["Delta_at_opt"][:, :, 0].ravel()]
    want = [  # (label, t, E_A, E_B): the phi = 0 curve of each Gamma; then so_fig3_4's q curves
        (f"Delta_opt={dl[0]}, Gamma=0, J=0.2, p_a=1, p_b=1, phi=0 / 3.142", dA["t"], dA["E_A"][0, 0], dA["E_B"][0, 0]),
        (f"Delta_opt={dl[2]} / {dl[3]}, Gamma=0.4, J=0.2, p_a=1, p_b=1, phi=0 / 3.142", dA["t"], dA["E_A"][1, 0],
         dA["E_B"][1, 0])]
    check(dl[0] == dl[1] == "0.1992" and dl[2] == "0.1996" and dl[3] == "-0.1996",
          f"so-fig2: the file's optima {dl}")
    for i, q in enumerate(dB["q"]):
        want.append((f"Delta=0, Gamma=0.4, J=0, phi=0, q={q:.4g}", dB["t"], dB["E_A"][i], dB["E_B"][i]))
    check(len(axs) == 2 and len(want) == 4, "so-fig2: two panels, 4 distinct curves in the files")
    for ax, col, name in ((axs[0], 2, "E_A"), (axs[1], 3, "E_B")):
        got = ax.get_lines()
        okl = len(got) == len(want)
        for ln, w in zip(got, want):
            okl &= ln.get_label() == w[0] and xy_is(ln, 0.2 * w[1], w[col])
        check(okl, f"so-fig2: the {name} curves are the files' curves, labelled by what differs, in "
                   f"order: {[ln.get_label() for ln in got]}")
        check(labels_are(ax, "|J| t  (|J| = 0.2, the file's J)", name), f"so-fig2: {name} labels")
        check([ln.get_linestyle() for ln in got] == ["-"] * 2 + ["--"] * 2,
              f"so-fig2: one line style per file ({name})")
    check(fig._suptitle.get_text() == "all curves: kappa_a=0.05, kappa_b=0.01, F=0.1; p_a = "
          "(kappa_a/kappa_b)^q, p_b = (kappa_a/kappa_b)^(-q)", f"so-fig2: title {fig._suptitle.get_text()}")

    # so-fig7: xi_ss and xi_supopt vs Gamma
    d7, _ = load(made["so_fig7"])
    fig = render("so-fig7", ["so-fig7", made["so_fig7"], "-o", os.path.join(tmp, "s7.png")])
    ax = panels(fig)[0]
    a, b = lines(ax, color="b", style="-"), lines(ax, color="r", style="-")
    check(len(ax.get_lines()) == 2 and len(a) == 1 and xy_is(a[0], d7["Gamma"], d7["xi_ss"]) and
          len(b) == 1 and xy_is(b[0], d7["Gamma"], d7["xi_supopt"]), "so-fig7: xi curves = the file's")
    check(labels_are(ax, "Gamma [1]", "total stationary energy xi") and ax.get_xscale() == "linear",
          "so-fig7: labels and scale")
    check([t.get_text() for t in ax.get_legend().get_texts()] ==
          ["xi_ss (p_a = 1, p_b = 1)", "xi_supopt (y = kappa_a/kappa_b)"],
          "so-fig7: legend with the file's p_a, p_b")
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

    # ---- issue 15: SO Fig. 2 at each phi's own optimum (optimize:; the numbers themselves are
    # checked in tests/so_figures_check.py): the paper's three curves, phi = 0, pi as one
    s2, _ = load(made["so_fig2"])
    fig = render("so-fig2 shared", ["so-fig2", made["so_fig2_resonant"], made["so_fig2"],
                                    "-o", os.path.join(tmp, "s2s.png")])
    got = panels(fig)[1].get_lines()
    check([ln.get_label() for ln in got] ==
          ["Delta=0, Gamma=0, phi=0", "Delta_opt=0.1992, Gamma=0, phi=0 / 3.142",
           "Delta_opt=0.1996 / -0.1996, Gamma=0.4, phi=0 / 3.142"] and
          fig._suptitle.get_text() == "all curves: J=0.2, kappa_a=0.05, kappa_b=0.01, F=0.1" and
          len(got) == 3 and xy_is(got[1], 0.2 * s2["t"], s2["E_B"][0, 0]) and
          xy_is(got[2], 0.2 * s2["t"], s2["E_B"][1, 0]) and abs(s2["E_B"][1, 0, -1] - 10.3586) < 1e-4,
          f"so-fig2: the three SO Fig. 2 curves labelled by Delta, Gamma, phi: {[ln.get_label() for ln in got]}")
    # |J| of the time axis from the file: J = 0.3 here; Gamma/2 for a file with J = 0 only
    fj = os.path.join(tmp, "j03.h5")
    run("""model: shared
axes:
  - {name: t, min: 0, max: 10, n: 5}
fixed: {J: 0.3, Gamma: 0.4, Delta: 0, kappa_a: 0.05, kappa_b: 0.01, F: 0.1}
fields: [E_A, E_B]
""", fj, ranks=1)
    fj6 = os.path.join(tmp, "j03_6.h5")
    run("""model: shared
axes:
  - {name: kappa_b, min: 1e-4, max: 0.05, n: 7, scale: log}
fixed: {J: 0.3, Gamma: 0.5, Delta: 0, kappa_a: 0.05, F: 0.1}
fields: [dE_coh, dE_diss]
""", fj6, ranks=1)
    dj, _ = load(fj)
    fig = render("so-fig2 J", ["so-fig2", fj, "-o", os.path.join(tmp, "sj.png")])
    ax = panels(fig)[1]
    check(ax.get_xlabel() == "|J| t  (|J| = 0.3, the file's J)" and
          xy_is(ax.get_lines()[0], 0.3 * dj["t"], dj["E_B"]), "so-fig2: |J| t with the file's J = 0.3")
    fig = render("so-fig2 Gamma", ["so-fig2", made["so_fig3_4"], "-o", os.path.join(tmp, "sg.png")])
    check(panels(fig)[0].get_xlabel() == "|J| t  (|J| = Gamma/2 = 0.2)",
          "so-fig2: a J = 0 file scales t by Gamma/2")
    run("""model: shared
axes:
  - {name: Gamma, values: [0.2, 0.4]}
  - {name: kappa_b, min: 1e-4, max: 0.05, n: 3, scale: log}
fixed: {J: 0.3, Delta: 0, kappa_a: 0.05, F: 0.1}
fields: [dE_coh, dE_diss]
""", os.path.join(tmp, "gaxis.h5"), ranks=1)
    fig = render("so-fig6 J", ["so-fig6", fj6, "-o", os.path.join(tmp, "s6j.png")])
    check([t.get_text() for t in panels(fig)[0].get_legend().get_texts()] ==
          ["dE_coh (coherent, |J| = 0.3)", "dE_diss (super-optimal, Gamma = 0.5)"],
          "so-fig6: legend from a file with J = 0.3, Gamma = 0.5")

    # ---- map: log axes (attribute and detected), --log / --symlog colours ------------------
    fl = os.path.join(tmp, "logmap.h5")
    run("""model: shared
axes:
  - {name: Gamma, values: [0.01, 0.1, 1.0]}
  - {name: F, values: [0.1, 0.2, 0.3]}
  - {name: kappa_b, min: 1e-4, max: 0.05, n: 12, scale: log}
fixed: {J: 0.2, Delta: 0, kappa_a: 0.05}
fields: [E_B_ss, dE_diss]
""", fl, ranks=1)
    dl, _ = load(fl)
    with h5py.File(fl, "r") as f:
        scales = {n: f[n].attrs["scale"].decode() for n in ("Gamma", "F", "kappa_b")}
    check(scales == {"Gamma": "list", "F": "list", "kappa_b": "log"}, f"logmap axis scales {scales}")
    fig = render("map log", ["map", fl, "dE_diss", "--x", "kappa_b", "--y", "Gamma", "--sel", "F=0.2",
                             "--log", "-o", os.path.join(tmp, "ml.png")])
    ax = panels(fig)[0]
    sl = dl["dE_diss"][:, 1, :]
    nblank = int(np.count_nonzero(sl <= 0))
    m = meshes(ax)[0]
    edges = m.get_coordinates()
    ex, ey = edges[0, :, 0], edges[:, 0, 1]
    check(ax.get_xscale() == "log" and ax.get_yscale() == "log",
          "map: kappa_b (scale attribute log) and Gamma (list 0.01, 0.1, 1: detected) on log axes")
    check(mesh_ok(ax, dl["kappa_b"], dl["Gamma"], sl) and
          np.allclose(np.sqrt(ex[:-1] * ex[1:]), dl["kappa_b"], rtol=1e-12) and
          np.allclose(np.sqrt(ey[:-1] * ey[1:]), dl["Gamma"], rtol=1e-12),
          "map: log-axis cells centred (geometrically) on the grid points, values = the file's")
    check(isinstance(m.norm, mcolors.LogNorm) and m.norm.vmin == sl[sl > 0].min() and
          m.norm.vmax == sl.max() and 0 < nblank < sl.size and
          colorbars(fig)[0].get_ylabel() == f"dE_diss [1] (log); {nblank} cells <= 0 blank",
          "map --log: LogNorm over the positive values, blank cells counted in the colorbar label")
    fig = render("map lin", ["map", fl, "dE_diss", "--x", "F", "--y", "Gamma", "--sel",
                             "kappa_b=0.001", "--symlog", "10", "-o", os.path.join(tmp, "ms.png")])
    ax = panels(fig)[0]
    m = meshes(ax)[0]
    check(ax.get_xscale() == "linear" and ax.get_yscale() == "log" and
          isinstance(m.norm, mcolors.SymLogNorm) and m.norm.linthresh == 10 and
          colorbars(fig)[0].get_ylabel() == "dE_diss [1] (symlog, linear within +-10)",
          "map: F (list 0.1, 0.2, 0.3) linear, Gamma log; --symlog colours and label")
    # is_log_axis on bare coordinates (no scale attribute): detection rules
    import xarray as xr  # noqa: E402
    ila = qbplot.is_log_axis
    check(ila(xr.DataArray([1e-3, 1e-2, 1e-1])) and ila(xr.DataArray([0.1, 0.2, 0.4])) and
          not ila(xr.DataArray([1.0, 2.0, 3.0])) and not ila(xr.DataArray([-1.0, -2.0, -4.0])) and
          not ila(xr.DataArray([1.0, 10.0])) and not ila(xr.DataArray([0.01, 0.03, 0.1])) and
          not ila(xr.DataArray([1.0, 10.0, 100.0], attrs={"scale": "lin"})) and
          ila(xr.DataArray([1.0, 2.0, 3.0], attrs={"scale": "log"})),
          "is_log_axis: the scale attribute decides; list axes: > 0, >= 3, evenly spaced in log only")

    # ---- map: the boundary of whatever field was refined, labelled from the group ----------
    fb = os.path.join(tmp, "bnd.h5")
    run(FIG3.replace("boundaries: {axis: delta_r}",
                     "boundaries: {field: realizable_margin, level: 0.5, axis: alpha}"), fb, ranks=1)
    db, _ = load(fb)
    fig = render("map bnd", ["map", fb, "realizable_margin", "--x", "delta_r", "--y", "alpha",
                             "--sel", "gamma_b=1", "-o", os.path.join(tmp, "mb.png")])
    ax = panels(fig)[0]
    inb = db["boundary/gamma_b"] == 1
    bl = [ln for ln in ax.get_lines() if ln.get_label() == "boundary realizable_margin = 0.5 (refined)"]
    check(len(bl) == 1 and inb.sum() > 0 and
          xy_is(bl[0], db["boundary/delta_r"][inb], db["boundary/alpha"][inb]),
          "map: a realizable_margin = 0.5 boundary is labelled with its field and level")

    # ---- ep-fig3 on a file without /boundary, /ep, realizable_margin: title only what is drawn
    fn = os.path.join(tmp, "bare.h5")
    run(FIG3.split("fields:")[0] + "fields: [growth_rate]\n", fn, ranks=1)
    fig = render("ep-fig3 bare", ["ep-fig3", fn, "-o", os.path.join(tmp, "bare.png")])
    check(fig._suptitle.get_text() == "growth rate (one colour scale); star: alpha_c" and
          all(len(lines(ax, ".", "k")) == 0 and len(lines(ax, "D", "r")) == 0 and
              len(ax.collections) == 1 for ax in panels(fig)),
          "ep-fig3 without boundary, EPs, realizable_margin: neither drawn nor promised")

    # ---- ep-fig5: shared colour scale per part (Re panels, Im panels) ----------------------
    fig = render("ep-fig5 shared", ["ep-fig5", made["ep_fig5"], "-o", os.path.join(tmp, "f5s.png")])
    lims = [(meshes(ax)[0].norm.vmin, meshes(ax)[0].norm.vmax) for ax in panels(fig)]
    re_ = np.concatenate([d5["lambda_plus_re"].ravel(), d5["lambda_minus_re"].ravel()])
    im_ = np.concatenate([d5["lambda_plus_im"].ravel(), d5["lambda_minus_im"].ravel()]) + gb5
    check(lims[0] == lims[1] == (np.nanmin(re_), np.nanmax(re_)) and
          lims[2] == lims[3] == (np.nanmin(im_), np.nanmax(im_)),
          f"ep-fig5: one colour scale for the Re panels, one for the Im panels {lims}")
    fig = render("ep-fig5 panel", ["ep-fig5", made["ep_fig5"], "--colour-scale", "panel", "-o",
                                   os.path.join(tmp, "f5p.png")])
    own = [d5[f] + s for f, s in (("lambda_plus_re", 0), ("lambda_minus_re", 0),
                                  ("lambda_plus_im", gb5), ("lambda_minus_im", gb5))]
    got = [(meshes(ax)[0].norm.vmin, meshes(ax)[0].norm.vmax) for ax in panels(fig)]
    check(got == [(np.nanmin(v), np.nanmax(v)) for v in own] and got != lims,
          "ep-fig5 --colour-scale panel: each panel its own range")

    # ---- dynamics: EP Fig. 3(d)-(i) and its points marked on the phase maps -----------------
    fd = made["ep_fig3_dynamics"]
    dd, ad = load(fd)
    fig = render("dynamics", ["dynamics", fd, "-o", os.path.join(tmp, "dyn.png")])
    axs = panels(fig)
    ng, na = dd["gamma_b"].size, dd["alpha"].size
    check(len(axs) == 2 * ng and ng == 3 and na == 4 and ad["delta_r"] == 0,
          "dynamics: E_B and P_B rows, one column per gamma_b; the example is at delta_r = 0")
    colours = ["tab:blue", "k", "tab:green", "tab:orange"]
    for i, field in enumerate(("E_B", "P_B")):
        for j, gb in enumerate(dd["gamma_b"]):
            ax = axs[i * ng + j]
            ok = len(ax.get_lines()) == na and ax.get_yscale() == "log" and \
                labels_are(ax, "t [1]", f"{field} [1]") and ax.get_title() == f"gamma_b = {gb:g}"
            for k, (ln, a) in enumerate(zip(ax.get_lines(), dd["alpha"])):
                grow = dd["growth_rate"][j, k, 0] > 0
                ok &= xy_is(ln, dd["t"], dd[field][j, k]) and \
                    mcolors.to_rgba(ln.get_color()) == mcolors.to_rgba(colours[k]) and \
                    ln.get_label() == f"alpha = {a:g} ({'growing' if grow else 'saturates'})"
            check(ok, f"dynamics: {field}(t) at gamma_b = {gb}: the file's curves, colours, labels")
    check(fig._suptitle.get_text() == "E_B(t) and P_B(t) = dE_B/dt at delta_r = 0, E_r = 1; "
          "log scale: values <= 0 (t = 0) not drawn", "dynamics: title")
    grow = dd["growth_rate"][:, :, 0] > 0
    check(grow[0].sum() == 3 and grow[1].sum() == 1 and grow[2].sum() == 0,
          "dynamics example: growing and saturating points at gamma_b = 0.5 and 1")
    fig = render("dynamics lin", ["dynamics", fd, "--yscale", "linear", "-o", os.path.join(tmp, "dl.png")])
    check(all(ax.get_yscale() == "linear" for ax in panels(fig)), "dynamics --yscale linear")
    fig = render("ep-fig3 mark", ["ep-fig3", f3, "--mark", fd, "-o", os.path.join(tmp, "f3m.png")])
    for ax, gb in zip(panels(fig), gbs):
        dots = lines(ax, "o")
        check(len(dots) == na and all(xy_is(d, [0], [a]) and mcolors.to_rgba(d.get_color()) ==
                                      mcolors.to_rgba(c) for d, a, c in zip(dots, dd["alpha"], colours)),
              f"ep-fig3 --mark: the dynamics points at gamma_b = {gb} in their colours")
    check(fig._suptitle.get_text().endswith("; dots: the points of " + os.path.basename(fd)),
          "ep-fig3 --mark: the title says so")

    # ---- errors: one clear line, exit 2 ------------------------------------------------------
    errs = [
        (["map", f3, "nosuch", "--x", "delta_r", "--y", "alpha"], "no field 'nosuch'; the file has: "),
        (["map", f3, "growth_rate", "--x", "nosuch", "--y", "alpha"], "no axis 'nosuch'; the file has: gamma_b, alpha, delta_r"),
        (["map", f3, "growth_rate", "--x", "delta_r", "--y", "alpha", "--sel", "beta=1"], "no axis 'beta'"),
        (["map", f3, "growth_rate", "--x", "delta_r", "--y", "alpha", "--sel", "gamma_b"], "--sel gamma_b: expected NAME=NUMBER"),
        (["map", fl, "dE_diss", "--x", "kappa_b", "--y", "Gamma", "--sel", "F=0.1", "--symlog", "0"], "--symlog 0.0: the linear width must be > 0"),
        (["ep-fig3", so6], "no field 'growth_rate'"),
        (["so-fig6", f3], "no axis 'kappa_b'; the file has: gamma_b, alpha, delta_r"),
        (["so-fig6", made["so_fig7"]], "no axis 'kappa_b'; the file has: Gamma"),
        (["so-fig6", fl], "no field 'dE_coh'; the file has: E_B_ss, dE_diss, status"),
        (["so-fig6", fj6.replace("j03_6", "gaxis")], "'Gamma' is an axis of this file; the figure needs it fixed"),
        (["so-fig2", f3], "no field 'E_A'"),
        (["dynamics", f3], "no axis 't'; the file has: gamma_b, alpha, delta_r"),
        (["ep-fig6", so6], "no field 'growth_rate'"),
        (["ep-fig5", f3], "no field 'lambda_plus_re'"),
    ]
    for argv, want in errs:
        r = subprocess.run([py, tool, *argv, "-o", os.path.join(tmp, "err.png")], capture_output=True,
                           text=True)
        check(r.returncode == 2 and r.stderr.count("\n") == 1 and want in r.stderr and
              r.stderr.startswith(f"qbplot {argv[0]}: {argv[1]}: ") and "Traceback" not in r.stderr,
              f"qbplot {' '.join(argv[:2])}...: one line with {want!r}, exit 2: {r.returncode} {r.stderr!r}")
