#!/usr/bin/python3
"""Post-processing of qbmap HDF5 phase maps (h5py, xarray, matplotlib; Debian packages).

  qbplot.py summary FILE
      model, axes, fields, units, completeness, provenance, and how many points carry each
      status flag (decoded from the file's own flag_masks / flag_meanings)
  qbplot.py map FILE FIELD --x AXIS --y AXIS [--sel NAME=VALUE ...] [--log | --symlog W]
      any 2-D slice (other axes picked with --sel, nearest grid value), with the refined phase
      boundary (/boundary, labelled with its field and level) and the exceptional points (/ep)
      on top when the file has them.  An axis is drawn on a log scale when its coordinate's
      `scale` attribute is "log"; for a list axis (or a file without the attribute) when its
      values are positive, not evenly spaced and evenly spaced in log (ratios equal to 1e-9).
      --log: logarithmic colours (cells <= 0 left blank, counted in the colorbar label);
      --symlog W: symmetric-log colours, linear within +-W.
  qbplot.py ep-fig3 FILE [--mark DYNFILE] [--colour-scale shared|panel]
      EP paper Fig. 3(a)-(c): growth rate over (delta_r, alpha) for each gamma_b (one colour
      scale for all panels unless panel), with whichever of the refined boundary, the EPs,
      alpha_c at delta_r = 0 and realizable_margin = 0 the file has (the title lists only those);
      --mark: the (delta_r, alpha) points of a `dynamics` file, in its colours
  qbplot.py dynamics FILE [--yscale log|linear]   EP paper Fig. 3(d)-(i): E_B(t) (top) and
      P_B(t) (bottom), one column per gamma_b (the first list axis), one curve per value of the
      other axes; colours blue, black, green, orange as the paper's markers (needs a t axis)
  qbplot.py ep-fig6 FILE    EP paper Fig. 6: exact t_crit beside Eq. 33's (values below the
                            plot's floor are listed in the figure)
  qbplot.py so-fig6 FILE    SO paper Fig. 6: dE_coh and dE_diss vs kappa_b (symmetric-log y,
                            linear over the negative values, smooth at the joint): E_B_ss -
                            E_single at the (J, Gamma) axes' points (J, 0) and (0, Gamma), or
                            the fields dE_coh, dE_diss of a file with J, Gamma fixed
  qbplot.py ep-fig2 FILE    EP Fig. 2: Re and Im of lambda+- (+ i gamma_b) vs delta_r, EPs
  qbplot.py ep-fig5 FILE [--colour-scale shared|panel]   EP Fig. 5: Re and Im of lambda+-
                            (+ i gamma_b) over (delta_r, alpha); shared: one scale per Re / Im
  qbplot.py so-fig2 FILE [FILE ...]   SO Figs. 2-4: E_A, E_B vs |J| t for every curve of the
                            files, labelled by the parameters that differ between curves (an
                            optimized one as NAME_opt, its per-curve optimum; curves of one file
                            that coincide drawn once with both values, e.g. phi=0 / 3.142); |J|
                            from the first file with J != 0, else Gamma/2 (the paper's choice);
                            the title lists the files' expressions
  qbplot.py so-fig7 FILE    SO Fig. 7: xi_ss (p = 1) and xi_supopt vs Gamma
  every figure command takes -o OUT (PNG; a name ending in .pdf writes PDF)

Everything (axes, units, parameters, status meanings) is read from the file.  A missing axis,
field or group ends in one line on stderr naming it and what the file has, exit status 2."""
import argparse
import contextlib
import os
import sys

import numpy as np
import xarray as xr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qbread  # noqa: E402

# the paper's marker colours of EP Fig. 3 (blue, black, green, orange), used in order
MARK_COLOURS = ("tab:blue", "k", "tab:green", "tab:orange")


class QbError(Exception):
    """Bad input (a missing axis, field or group, a bad option): one line for the user."""


def open_map(path, group=None):
    """The file (or one of its groups) as an xarray Dataset with named coordinates."""
    return xr.open_dataset(path, engine="h5netcdf", group=group)


def need(ds, names, kind="field"):
    """Raises QbError unless every name of `names` is a variable (kind "field") or a dimension
    (kind "axis") of ds, naming what the file has instead."""
    have = list(ds.dims if kind == "axis" else ds.data_vars)
    for n in names:
        if n not in have:
            raise QbError(f"no {kind} '{n}'; the file has: {', '.join(map(str, have))}")


def status_counts(ds):
    """{meaning: number of points with that flag set} for the `status` field, after "ok" (no bit
    set) and "no_failure" (no failure bit: status & failure_mask == 0, the usual filter)."""
    st = ds["status"].values
    out = {"ok": int(np.count_nonzero(st == 0))}
    if "failure_mask" in ds["status"].attrs:
        out["no_failure"] = int(np.count_nonzero((st & int(ds["status"].attrs["failure_mask"])) == 0))
    for name, da in qbread.decode_status(ds["status"]).items():
        out[name] = int(np.count_nonzero(da.values))
    return out


def groups(path):
    """Names of the point-list groups present and non-empty (boundary, ep, adaptive)."""
    import h5py
    with h5py.File(path, "r") as f:
        return [g for g in qbread.GROUPS if g in f and "point" in f[g] and
                f[g]["point"].shape[0] > 0]


def group_attrs(path, group):
    """The attributes of /group as {name: value}."""
    with open_map(path, group) as g:
        return dict(g.attrs)


def boundary_label(path):
    """'<field> = <level>' of the file's /boundary (its attributes), e.g. 'growth_rate = 0'."""
    a = group_attrs(path, "boundary")
    level = a.get("level")
    return f"{a.get('field', '?')} = {'?' if level is None else format(float(level), 'g')}"


def overlay_points(path, group, x, y, sel):
    """(xs, ys) of the points of /group lying in the slice `sel` ({axis: value}, matched to the
    nearest grid value of each axis): the coordinates a map of (x, y) should draw."""
    ds = open_map(path)
    g = open_map(path, group)
    keep = np.ones(g.sizes["point"], bool)
    for name, value in sel.items():
        grid = ds[name].values
        v = grid[np.argmin(np.abs(grid - value))]
        keep &= np.isclose(g[name].values, v, rtol=1e-12, atol=0)
    xs, ys = g[x].values[keep], g[y].values[keep]
    ds.close()
    g.close()
    return xs, ys


def is_log_axis(coord):
    """True if the coordinate DataArray should be drawn on a log scale: its `scale` attribute
    (written by qbmap: lin, log or list) says log; for list (or no attribute) when its values
    are > 0, at least 3, not evenly spaced and evenly spaced in log (to 1e-9 relative)."""
    scale = str(coord.attrs.get("scale", "list"))
    if scale in ("log", "lin"):
        return scale == "log"
    v = np.asarray(coord.values, float)
    if v.size < 3 or np.any(v <= 0) or not np.all(np.isfinite(v)):
        return False
    d, r = np.diff(v), v[1:] / v[:-1]
    lin = np.allclose(d, d[0], rtol=1e-9, atol=0)
    return bool(not lin and np.allclose(r, r[0], rtol=1e-9, atol=0))


def cell_edges(values, log):
    """Edges of the cells around grid `values` (n + 1): midpoints (geometric on a log axis),
    the outer edges mirrored; a single value gets +-0.5 (x/÷ sqrt(10) on a log axis)."""
    v = np.asarray(values, float)
    if v.size == 1:
        return v[0] * np.array([10 ** -0.5, 10 ** 0.5]) if log else v[0] + np.array([-0.5, 0.5])
    w = np.log(v) if log else v
    mid = (w[1:] + w[:-1]) / 2
    e = np.concatenate([[2 * w[0] - mid[0]], mid, [2 * w[-1] - mid[-1]]])
    return np.exp(e) if log else e


def _slice(ds, field, x, y, sel):
    """The 2-D slice of `field` over (y, x) and the resolved selection {axis: grid value}."""
    need(ds, [field])
    need(ds, [x, y] + list(sel), "axis")
    da = ds[field]
    for name in (x, y):
        if name not in da.dims:
            raise QbError(f"field {field} is not over axis '{name}' (its axes: "
                          f"{', '.join(da.dims)})")
    resolved = {}
    for name in da.dims:
        if name in (x, y):
            continue
        if name not in sel:
            raise QbError(f"axis {name} needs --sel {name}=VALUE (values "
                          f"{ds[name].values.min():g} .. {ds[name].values.max():g})")
        resolved[name] = float(ds[name].sel({name: sel[name]}, method="nearest"))
    return da.sel(resolved).transpose(y, x), resolved


def _label(ds, name):
    a = ds[name].attrs
    return f"{name} [{a.get('units', '?')}]"


def _plt():
    """pyplot on the file-only Agg backend (no display on cluster nodes)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


@contextlib.contextmanager
def _figure(out, nrows=1, ncols=1, **kw):
    """(fig, axes) of subplots(nrows, ncols, **kw); when the block ends without an exception the
    figure is laid out and written to `out` (PNG, PDF for a .pdf name) at 110 dpi."""
    fig, axes = _plt().subplots(nrows, ncols, **kw)
    yield fig, axes
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"qbplot: wrote {out}")


def _mesh(fig, ax, ds, x, y, values, cbar_label="", **kw):
    """`values` (ny, nx) as a colour map over the grid axes x, y of `ds` (log-scaled axes as
    is_log_axis says, cells around the grid points), with its colorbar and the axes labelled
    with the file's units; kw go to pcolormesh (cmap, vmin, vmax, norm)."""
    lx, ly = is_log_axis(ds[x]), is_log_axis(ds[y])
    m = ax.pcolormesh(cell_edges(ds[x].values, lx), cell_edges(ds[y].values, ly), values,
                      shading="flat", **kw)
    ax.set_xscale("log" if lx else "linear")
    ax.set_yscale("log" if ly else "linear")
    fig.colorbar(m, ax=ax, label=cbar_label)
    ax.set_xlabel(_label(ds, x))
    ax.set_ylabel(_label(ds, y))
    return m


def _overlay_styles(path, present, panel=False):
    """(group, format, plot keywords) of each overlay group the file has, in drawing order:
    the /boundary labelled with its field and level, the /ep."""
    out = []
    if "boundary" in present:
        out.append(("boundary", "k.", dict(ms=1 if panel else 1.5,
                                           label=f"boundary {boundary_label(path)} (refined)")))
    if "ep" in present:
        out.append(("ep", "rD", dict(ms=6, label="EP")))
    return out


def _overlays(ax, path, x, y, sel, styles):
    """Draws each group of `styles` (see _overlay_styles): its points of the slice `sel` (see
    overlay_points) in the (x, y) plane."""
    for group, fmt, kw in styles:
        ax.plot(*overlay_points(path, group, x, y, sel), fmt, **kw)


def _curves(ax, ds, x, curves, ylabel):
    """Each (field, format, label) of `curves` against the axis x of `ds`; axis labels, legend."""
    need(ds, [f for f, _, _ in curves])
    need(ds, [x], "axis")
    for field, fmt, label in curves:
        ax.plot(ds[x].values, ds[field].values, fmt, label=label)
    ax.set_xlabel(_label(ds, x))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def colour_norm(values, log=False, symlog=None):
    """(norm or None, note for the colorbar label) for --log / --symlog W."""
    import matplotlib.colors as mc
    if symlog is not None:
        if not symlog > 0:
            raise QbError(f"--symlog {symlog}: the linear width must be > 0")
        return mc.SymLogNorm(linthresh=symlog, base=10), f" (symlog, linear within +-{symlog:g})"
    if not log:
        return None, ""
    v = np.asarray(values, float)
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size == 0:
        raise QbError("--log: the slice has no value > 0; try --symlog WIDTH")
    blank = int(np.count_nonzero(np.isfinite(v) & (v <= 0)))
    note = " (log)" + (f"; {blank} cells <= 0 blank" if blank else "")
    return mc.LogNorm(vmin=pos.min(), vmax=pos.max()), note


def cmd_map(args):
    sel = {}
    for s in args.sel:
        k, eq, v = s.partition("=")
        try:
            sel[k] = float(v)
        except ValueError:
            raise QbError(f"--sel {s}: expected NAME=NUMBER") from None
        if not eq:
            raise QbError(f"--sel {s}: expected NAME=NUMBER")
    with open_map(args.file) as ds:
        da, resolved = _slice(ds, args.field, args.x, args.y, sel)
        norm, note = colour_norm(da.values, args.log, args.symlog)
        with _figure(args.output or f"{args.field}.png", figsize=(6.4, 4.8)) as (fig, ax):
            _mesh(fig, ax, ds, args.x, args.y, da.values,
                  f"{args.field} [{ds[args.field].attrs.get('units')}]" + note, norm=norm)
            present = groups(args.file)
            _overlays(ax, args.file, args.x, args.y, resolved, _overlay_styles(args.file, present))
            ax.set_title(", ".join(f"{k} = {v:g}" for k, v in resolved.items()) or args.field)
            if set(present) & {"boundary", "ep"}:
                ax.legend(loc="upper right", fontsize=8)
    return 0


def _gb_plane(ds, field, gb):
    """`field` at gamma_b = gb as (alpha, delta_r) values."""
    return ds[field].sel(gamma_b=gb).transpose("alpha", "delta_r").values


def _ep_fig3_panel(fig, ax, ds, path, styles, gb, lim, marks):
    """The gamma_b = gb panel of EP Fig. 3: growth rate (colour limits -lim .. lim), the
    realizable_margin = 0 line if the file has the field, the overlay groups' points of the
    panel, alpha_c at delta_r = 0, and `marks` [(delta_r, alpha, colour)] of this gamma_b."""
    g = _gb_plane(ds, "growth_rate", gb)
    _mesh(fig, ax, ds, "delta_r", "alpha", g, "growth_rate", cmap="RdBu_r", vmin=-lim, vmax=lim)
    if "realizable_margin" in ds:
        ax.contour(ds["delta_r"].values, ds["alpha"].values, _gb_plane(ds, "realizable_margin", gb),
                   levels=[0], colors="green", linewidths=1.2)
    _overlays(ax, path, "delta_r", "alpha", {"gamma_b": gb}, styles)
    ac = (1 - gb * gb) / (2 * gb)
    if ds["alpha"].values.min() <= ac <= ds["alpha"].values.max():
        ax.plot([0], [ac], "*", color="purple", ms=12)
    for dr, al, c in marks:
        ax.plot([dr], [al], "o", color=c, ms=7, mec="w")
    ax.set_title(f"gamma_b = {gb:g}")


def _colour_limits(planes, mode):
    """Symmetric colour limit per panel: the largest |value| of all `planes` (mode shared) or of
    each one (mode panel)."""
    each = [float(np.nanmax(np.abs(p))) for p in planes]
    return [max(each)] * len(each) if mode == "shared" else each


def dynamics_points(path):
    """[(gamma_b, delta_r, alpha, colour)] of a dynamics file (see cmd_dynamics): its curves'
    points in the colours cmd_dynamics draws them."""
    with open_map(path) as ds:
        _, by, curves = _dynamics_layout(ds)
        out = []
        for col in by:
            for k, c in enumerate(curves):
                p = dict(qbread.parameters(ds.attrs), **col, **c)
                out.append((p.get("gamma_b"), p.get("delta_r"), p.get("alpha"),
                            MARK_COLOURS[k % len(MARK_COLOURS)]))
    return out


def cmd_ep_fig3(args):
    with open_map(args.file) as ds:
        need(ds, ["growth_rate"])
        need(ds, ["gamma_b", "alpha", "delta_r"], "axis")
        gbs = ds["gamma_b"].values
        present = groups(args.file)
        styles = _overlay_styles(args.file, present, panel=True)
        lims = _colour_limits([_gb_plane(ds, "growth_rate", gb) for gb in gbs], args.colour_scale)
        marks = dynamics_points(args.mark) if args.mark else []
        with _figure(args.output or "ep_fig3.png", 1, len(gbs), figsize=(4.2 * len(gbs), 3.8),
                     squeeze=False) as (fig, axes):
            for ax, gb, lim in zip(axes[0], gbs, lims):
                _ep_fig3_panel(fig, ax, ds, args.file, styles, gb, lim,
                               [(d, a, c) for g, d, a, c in marks if np.isclose(g, gb)])
            drawn = ["growth rate" + (" (one colour scale)" if args.colour_scale == "shared"
                                      else " (colour scale per panel)")]
            if "boundary" in present:
                drawn.append(f"black: refined boundary {boundary_label(args.file)}")
            if "ep" in present:
                drawn.append("red: EPs")
            drawn.append("star: alpha_c")
            if "realizable_margin" in ds:
                drawn.append("green: gamma_a gamma_b = 1 (realizable above)")
            if marks:
                drawn.append("dots: the points of " + os.path.basename(args.mark))
            fig.suptitle("; ".join(drawn), fontsize=9)
    return 0


def _dynamics_layout(ds):
    """(t values, columns, curves) of a dynamics file: columns = [{first non-t axis: value}]
    (one dict {} without such an axis), curves = every combination of the remaining non-t axes."""
    need(ds, ["t"], "axis")
    need(ds, ["E_B", "P_B"])
    other = [d for d in ds["E_B"].dims if d != "t"]
    if "t" not in ds["E_B"].dims:
        raise QbError("E_B is not over the axis 't'; dynamics needs a t axis")
    cols = [{other[0]: float(v)} for v in ds[other[0]].values] if other else [{}]
    curves = [{}]
    for d in other[1:]:
        curves = [dict(c, **{d: float(v)}) for c in curves for v in ds[d].values]
    return ds["t"].values, cols, curves


def cmd_dynamics(args):
    with open_map(args.file) as ds:
        t, cols, curves = _dynamics_layout(ds)
        fixed = qbread.parameters(ds.attrs)
        with _figure(args.output or "dynamics.png", 2, len(cols),
                     figsize=(4.2 * len(cols), 6.4), squeeze=False) as (fig, axes):
            for j, col in enumerate(cols):
                for i, field in enumerate(("E_B", "P_B")):
                    ax = axes[i][j]
                    for k, c in enumerate(curves):
                        lab = ", ".join(f"{n} = {v:g}" for n, v in c.items()) or field
                        if "growth_rate" in ds:
                            g = float(ds["growth_rate"].sel(dict(col, **c)).isel(t=0))
                            lab += " (growing)" if g > 0 else " (saturates)"
                        ax.plot(t, ds[field].sel(dict(col, **c)).values,
                                color=MARK_COLOURS[k % len(MARK_COLOURS)], label=lab)
                    ax.set_yscale(args.yscale)
                    ax.set_xlabel(_label(ds, "t"))
                    ax.set_ylabel(_label(ds, field))
                    head = ", ".join(f"{n} = {v:g}" for n, v in col.items())
                    ax.set_title(head, fontsize=9)
                    ax.legend(fontsize=7)
            pts = ", ".join(f"{n} = {fixed[n]:g}" for n in ("delta_r", "E_r") if n in fixed)
            note = "; log scale: values <= 0 (t = 0) not drawn" if args.yscale == "log" else ""
            fig.suptitle(f"E_B(t) and P_B(t) = dE_B/dt at {pts}{note}", fontsize=9)
    return 0


def cmd_ep_fig6(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "ep_fig6.png", figsize=(6.4, 4.2)) as (fig, ax):
        need(ds, ["growth_rate", "t_crit", "t_crit_approx"])
        ax.fill_between(ds["delta_r"].values, 0, 1, where=ds["growth_rate"].values < 0,
                        color="green", alpha=0.15, transform=ax.get_xaxis_transform(),
                        label="stable")
        top = 1.2 * float(np.nanmax(ds["t_crit"].values))
        floor = -0.1 * top
        approx = ds["t_crit_approx"].values
        below = np.isfinite(approx) & (approx < floor)
        lab = "Eq. 33 as printed"
        if below.any():
            lab += f" ({int(below.sum())} values < {floor:.3g} off the plot)"
        _curves(ax, ds, "delta_r", (("t_crit", "k-", "t_crit (exact first crossing)"),
                                    ("t_crit_approx", "r--", lab)),
                f"t_crit [{ds['t_crit'].attrs.get('units', '?')}]")
        ax.set_ylim(floor, top)
        if below.any():
            ax.text(0.02, 0.03, f"Eq. 33 clipped: drops to {np.min(approx[below]):.3g} near the "
                    "boundary", transform=ax.transAxes, fontsize=8, color="r")
    return 0


def _attr(ds, name):
    """The root attribute `name` as a number; QbError if the file lacks it."""
    if name in ds.dims:
        raise QbError(f"'{name}' is an axis of this file; the figure needs it fixed (one value)")
    if name not in ds.attrs:
        raise QbError(f"no parameter '{name}' in the file's attributes")
    return float(np.asarray(ds.attrs[name]))


def smooth_symlog(ax, values):
    """y on a symmetric-log scale that is linear over every negative value of `values` (the
    linear width is the next power of ten >= their largest |value|, at least 1) and whose
    slope is continuous where linear meets log (linscale (1 - 1/10)/ln 10: no kink in a curve
    crossing it); tick labels as plain numbers.  Returns the linear width."""
    import matplotlib.ticker as mt
    v = np.asarray(values, float)
    neg = v[np.isfinite(v) & (v < 0)]
    lo = float(-neg.min()) if neg.size else 0.0
    w = 10.0 ** np.ceil(np.log10(max(1.0, lo)))
    ax.set_yscale("symlog", linthresh=w, linscale=(1 - 0.1) / np.log(10))
    ax.yaxis.set_major_formatter(mt.FuncFormatter(lambda y, _: f"{y:g}"))
    ax.set_ylim(bottom=-1.2 * lo if lo else None)
    return w


def so_fig6_curves(ds):
    """[(advantage over a single battery along kappa_b, format, label)] for SO Fig. 6, from one of
    two layouts: (1) list axes J and Gamma (examples/so_fig6.yaml: optimize and expressions):
    E_B_ss - E_single at (J != 0, Gamma = 0), the coherent charger, and at (J = 0, Gamma != 0),
    the dissipative one (the first such value of each); (2) J and Gamma fixed: the closed-form
    fields dE_coh and dE_diss."""
    need(ds, ["kappa_b"], "axis")
    if "J" in ds.dims and "Gamma" in ds.dims:
        need(ds, ["E_B_ss", "E_single"])
        J, G = ds["J"].values, ds["Gamma"].values
        if not (0 in J and 0 in G and (J != 0).any() and (G != 0).any()):
            raise QbError("the axes J and Gamma need the value 0 and a nonzero value each; the "
                          f"file has J: {list(J)}, Gamma: {list(G)}")
        j, g = float(J[J != 0][0]), float(G[G != 0][0])
        adv = ds["E_B_ss"] - ds["E_single"]
        return [(adv.sel(J=j, Gamma=0.0).values, "b-", f"dE_coh (coherent, |J| = {abs(j):g})"),
                (adv.sel(J=0.0, Gamma=g).values, "r-", f"dE_diss (super-optimal, Gamma = {g:g})")]
    need(ds, ["dE_coh", "dE_diss"])
    return [(ds["dE_coh"].values, "b-", f"dE_coh (coherent, |J| = {_attr(ds, 'J'):g})"),
            (ds["dE_diss"].values, "r-", f"dE_diss (super-optimal, Gamma = {_attr(ds, 'Gamma'):g})")]


def cmd_so_fig6(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "so_fig6.png", figsize=(6.4, 4.2)) as (fig, ax):
        curves = so_fig6_curves(ds)
        kb = ds["kappa_b"].values
        ax.set_xscale("log" if is_log_axis(ds["kappa_b"]) else "linear")
        for y, fmt, label in curves:
            ax.plot(kb, y, fmt, label=label)
        ax.set_xlabel(_label(ds, "kappa_b"))
        units = ds["dE_coh" if "dE_coh" in ds else "E_B_ss"].attrs.get("units", "?")
        ax.set_ylabel(f"advantage over a single battery [{units}]")
        ax.legend(fontsize=8)
        ax.axhline(0, color="k", lw=0.5)
        w = smooth_symlog(ax, np.concatenate([y for y, _, _ in curves]))
        coh = curves[0][0]
        pos = np.isfinite(coh) & (coh > 0)
        gain = (f"\ndE_coh > 0 only for kappa_b <= {kb[pos].max():.3g} (at most "
                f"{coh[pos].max():.3g})" if pos.any() and not pos.all() else "")
        ax.set_title(f"kappa_a = {_attr(ds, 'kappa_a'):g}, F = {_attr(ds, 'F'):g}; y linear "
                     f"within +-{w:g}, logarithmic beyond{gain}", fontsize=8)
    return 0


def cmd_ep_fig2(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "ep_fig2.png", 1, 2, figsize=(9, 3.6)) as (fig, axes):
        need(ds, ["regime"] + [f"lambda_{s}_{p}" for s in ("plus", "minus") for p in ("re", "im")])
        dr, gb = ds["delta_r"].values, _attr(ds, "gamma_b")
        ep = (ds["regime"].values & 4) != 0
        re = [ds[f"lambda_{s}_re"].values for s in ("plus", "minus")]
        im = [ds[f"lambda_{s}_im"].values + gb for s in ("plus", "minus")]
        for ax, (plus, minus), suffix, ylabel in ((axes[0], re, "", "Re lambda"),
                                                  (axes[1], im, " + i gamma_b", "Im lambda + gamma_b")):
            ax.plot(dr, plus, "b--", label="lambda+" + suffix)
            ax.plot(dr, minus, "k-", label="lambda-" + suffix)
            ax.plot(dr[ep], plus[ep], "rD", ms=7, label="EP")
            ax.set_xlabel(_label(ds, "delta_r"))
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=8, loc="upper right" if suffix else "best")
    return 0


def cmd_ep_fig5(args):
    fields = (("lambda_plus_re", 0), ("lambda_minus_re", 0), ("lambda_plus_im", 1),
              ("lambda_minus_im", 1))
    with open_map(args.file) as ds, \
            _figure(args.output or "ep_fig5.png", 2, 2, figsize=(9, 7)) as (fig, axes):
        need(ds, [f for f, _ in fields])
        need(ds, ["delta_r", "alpha"], "axis")
        gb = _attr(ds, "gamma_b")
        present = groups(args.file)
        planes = [ds[f].transpose("alpha", "delta_r").values + gb * s for f, s in fields]
        lims = []
        for k in range(4):  # shared: one range per part (Re: panels 0, 1; Im: 2, 3)
            pair = planes[2 * (k // 2):2 * (k // 2) + 2] if args.colour_scale == "shared" else [planes[k]]
            lims.append((float(np.nanmin(pair)), float(np.nanmax(pair))))
        for ax, (f, s), v, (lo, hi) in zip(axes.flat, fields, planes, lims):
            _mesh(fig, ax, ds, "delta_r", "alpha", v, vmin=lo, vmax=hi)
            _overlays(ax, args.file, "delta_r", "alpha", {},
                      [st for st in _overlay_styles(args.file, present, True) if st[0] == "ep"])
            ax.set_title(f + (" + gamma_b" if s else ""), fontsize=9)
    return 0


def optimized_param(ds):
    """(param, field) of a file made with `optimize:` (param read from config_normalized; the
    field holding its per-point optimum is <param>_at_opt where the model has a field
    <param>_opt, else <param>_opt), or None."""
    import yaml
    cfg = yaml.safe_load(ds.attrs.get("config_normalized", "") or "") or {}
    opt = cfg.get("optimize") if isinstance(cfg, dict) else None
    if not opt:
        return None
    name = opt["param"]
    field = name + "_at_opt" if name + "_at_opt" in ds else name + "_opt"
    need(ds, [field])
    return name, field


def _curve_params(path):
    """[(parameters, {axis: value}, optimized names)] of every (non-t) combination of the list
    axes of the file: the file's fixed parameters updated with the combination and, for a file
    made with `optimize:`, the optimized parameter's value at that curve (its field at the
    first t; it is constant along t where the objective is)."""
    with open_map(path) as ds:
        need(ds, ["E_A", "E_B"])
        need(ds, ["t"], "axis")
        combos = [{}]
        for d in [name for name in ds["E_B"].dims if name != "t"]:
            combos = [dict(c, **{d: float(v)}) for c in combos for v in ds[d].values]
        fixed = qbread.parameters(ds.attrs)
        opt = optimized_param(ds)
        out = []
        for c in combos:
            p = dict(fixed, **c)
            if opt:
                p[opt[0]] = float(ds[opt[1]].sel(c).values.ravel()[0])
            out.append((p, c, {opt[0]} if opt else set()))
    return out


def _expressions(path):
    """{parameter: expression} recorded in the file (root attributes expression_<name>)."""
    with open_map(path) as ds:
        return {k[len("expression_"):]: str(v) for k, v in ds.attrs.items()
                if k.startswith("expression_")}


def so_fig2_time_scale(params):
    """(|J| of the time axis, its label): J of the first curve with J != 0 (the paper's
    conventional |J|), else Gamma/2 of the first curve (the paper compares at Gamma = 2|J|);
    (1, 't') if neither is known."""
    for p in params:
        if p.get("J", 0) != 0:
            return abs(p["J"]), f"|J| t  (|J| = {abs(p['J']):g}, the file's J)"
    for p in params:
        if p.get("Gamma", 0) != 0:
            return p["Gamma"] / 2, f"|J| t  (|J| = Gamma/2 = {p['Gamma'] / 2:g})"
    return 1.0, "t"


def _merge_coincident(curves):
    """Curves of one file whose E_A(t) and E_B(t) coincide (to 1e-9 of the curve's maximum, e.g.
    phi = 0 and pi at their own optimal detunings: complex-conjugate systems) merged into one:
    [(path, [parameters...], [selections...], optimized names)], in order of first appearance."""
    out, data = [], []
    for path, p, c, opt in curves:
        with open_map(path) as ds:
            y = np.concatenate([ds["E_A"].sel(c).values, ds["E_B"].sel(c).values])
        for k, (q, yq) in enumerate(data):
            if out[k][0] == path and np.allclose(y, yq, rtol=0,
                                                 atol=1e-9 * np.nanmax(np.abs(yq))):
                out[k][1].append(p)
                out[k][2].append(c)
                break
        else:
            out.append((path, [p], [c], opt))
            data.append((p, y))
    return out


def _so_fig2_label(ps, opt, differ):
    """'k=v' for each key of `differ` a curve has (k_opt where the file optimized it); merged
    curves list their distinct values in order, joined by ' / '."""
    parts = []
    for k in differ:
        vals = [f"{p[k]:.4g}" for p in ps if k in p]
        if not vals:
            continue
        distinct = [v for i, v in enumerate(vals) if v not in vals[:i]]
        parts.append(f"{k}{'_opt' if k in opt else ''}=" + " / ".join(distinct))
    return ", ".join(parts)


def cmd_so_fig2(args):
    files = [args.file] + args.more
    curves = [(path, p, c, o) for path in files for p, c, o in _curve_params(path)]
    keys = sorted({k for _, p, _, _ in curves for k in p})
    differ = [k for k in keys if len({repr(p.get(k)) for _, p, _, _ in curves}) > 1]
    scale, xlabel = so_fig2_time_scale([p for _, p, _, _ in curves])
    styles = ("-", "--", ":", "-.")  # one per file: curves of different files that coincide
    with _figure(args.output or "so_fig2.png", 1, 2, figsize=(9, 3.6)) as (fig, (a, b)):
        for path, ps, cs, opt in _merge_coincident(curves):
            ls = styles[files.index(path) % len(styles)]
            lab = _so_fig2_label(ps, opt, differ)
            with open_map(path) as ds:
                jt = scale * ds["t"].values
                for ax, n in ((a, "E_A"), (b, "E_B")):
                    ax.plot(jt, ds[n].sel(cs[0]).values, ls, label=lab or os.path.basename(path))
        same = [k for k in ("J", "phi", "Gamma", "Delta", "kappa_a", "kappa_b", "F")
                if k in keys and k not in differ and all(k in p for _, p, _, _ in curves)]
        title = "all curves: " + ", ".join(f"{k}={curves[0][1][k]:.4g}" for k in same)
        exprs = {k: v for path in files for k, v in _expressions(path).items()}
        if exprs:
            title += "; " + ", ".join(f"{k} = {v}" for k, v in exprs.items())
        fig.suptitle(title, fontsize=9)
        for ax, n in ((a, "E_A"), (b, "E_B")):
            ax.set_xlabel(xlabel)
            ax.set_ylabel(n)
            ax.legend(fontsize=6)
    return 0


def cmd_so_fig7(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "so_fig7.png", figsize=(6.4, 4.2)) as (fig, ax):
        p = f"p_a = {_attr(ds, 'p_a'):g}, p_b = {_attr(ds, 'p_b'):g}"
        _curves(ax, ds, "Gamma", (("xi_ss", "b-", f"xi_ss ({p})"),
                                  ("xi_supopt", "r-", "xi_supopt (y = kappa_a/kappa_b)")),
                "total stationary energy xi")
    return 0


def summary(path, out=sys.stdout):
    ds = open_map(path)
    a = ds.attrs
    blocks = qbread.read_blocks(path)
    done = blocks["done"].values if "done" in blocks else np.array([])
    complete = int(a.get("complete", 0)) == 1
    print(f"file:      {path}", file=out)
    print(f"model:     {a.get('model')}  ({a.get('title')})", file=out)
    print(f"complete:  {'yes' if complete else 'NO'} ({int(done.sum())}/{done.size} blocks done)",
          file=out)
    print(f"points:    {int(a.get('npoints'))}  wall time {float(a.get('wall_time_s')):.3g} s "
          f"on {int(a.get('nranks'))} ranks", file=out)
    print("axes (slowest first):", file=out)
    for name in ds["status"].dims:
        c = ds[name]
        print(f"  {name:10s} n={c.size:<8d} [{float(c.min()):.6g}, {float(c.max()):.6g}] "
              f"{c.attrs.get('scale', '')} units={c.attrs.get('units')}: {c.attrs.get('long_name')}",
              file=out)
    print("fields:", file=out)
    for v in ds.data_vars:
        x = ds[v]
        print(f"  {v:16s} {str(x.dtype):8s} units={x.attrs.get('units')}: {x.attrs.get('long_name')}",
              file=out)
    fixed = {k: a[k] for k in a if k not in qbread.PROVENANCE}
    print(f"fixed:     {', '.join(f'{k}={v}' for k, v in fixed.items())}", file=out)
    for g in groups(path):
        with open_map(path, g) as gd:
            print(f"group /{g}: {gd.sizes['point']} points", file=out)
    print("status flags (points):", file=out)
    for k, n in status_counts(ds).items():
        print(f"  {k:22s} {n}", file=out)
    print(f"provenance: qbmap {a.get('qbmap_version')} (git {a.get('git_commit')}), "
          f"{a.get('mpi_version')}, HDF5 {a.get('hdf5_version')}, GSL {a.get('gsl_version')}, "
          f"created {a.get('created')}", file=out)
    ds.close()
    return 0 if complete else 3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summary", help="describe a qbmap file")
    s.add_argument("file")
    m = sub.add_parser("map", help="a 2-D slice of a field, with boundary and EP overlays")
    m.add_argument("file")
    m.add_argument("field")
    m.add_argument("--x", required=True)
    m.add_argument("--y", required=True)
    m.add_argument("--sel", action="append", default=[], metavar="NAME=VALUE")
    c = m.add_mutually_exclusive_group()
    c.add_argument("--log", action="store_true", help="logarithmic colour scale")
    c.add_argument("--symlog", type=float, metavar="W",
                   help="symmetric-log colour scale, linear within +-W")
    m.add_argument("-o", "--output")
    for name, fn in (("ep-fig2", cmd_ep_fig2), ("ep-fig3", cmd_ep_fig3), ("ep-fig5", cmd_ep_fig5),
                     ("ep-fig6", cmd_ep_fig6), ("so-fig2", cmd_so_fig2), ("so-fig6", cmd_so_fig6),
                     ("so-fig7", cmd_so_fig7), ("dynamics", cmd_dynamics)):
        f = sub.add_parser(name)
        f.add_argument("file")
        if name == "so-fig2":
            f.add_argument("more", nargs="*", help="more files with curves")
        if name in ("ep-fig3", "ep-fig5"):
            f.add_argument("--colour-scale", choices=("shared", "panel"), default="shared",
                           help="one colour scale for all panels (default) or one per panel")
        if name == "ep-fig3":
            f.add_argument("--mark", metavar="DYNFILE",
                           help="mark the points of a dynamics file (EP Fig. 3(d)-(i))")
        if name == "dynamics":
            f.add_argument("--yscale", choices=("log", "linear"), default="log")
        f.add_argument("-o", "--output")
        f.set_defaults(fn=fn)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "summary":
            return summary(args.file)
        if args.cmd == "map":
            return cmd_map(args)
        return args.fn(args)
    except (OSError, QbError, ValueError) as e:
        print(f"qbplot {args.cmd}: {args.file}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
