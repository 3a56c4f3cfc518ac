#!/usr/bin/python3
"""Post-processing of qbmap HDF5 phase maps (h5py, xarray, matplotlib; Debian packages).

  qbplot.py summary FILE
      model, axes, fields, units, completeness, provenance, and how many points carry each
      status flag (decoded from the file's own flag_masks / flag_meanings)
  qbplot.py map FILE FIELD --x AXIS --y AXIS [--sel NAME=VALUE ...] [-o OUT.png]
      any 2-D slice (other axes picked with --sel, nearest grid value), with the refined phase
      boundary (/boundary) and the exceptional points (/ep) drawn on top when the file has them
  qbplot.py ep-fig3 FILE [-o OUT.png]   EP paper Fig. 3(a)-(c): growth rate over (delta_r, alpha)
      for each gamma_b, the refined boundary, the EPs, alpha_c at delta_r = 0, and the boundary
      of the region a passive reservoir can reach (realizable_margin = 0)
  qbplot.py ep-fig6 FILE [-o OUT.png]   EP paper Fig. 6: exact t_crit beside Eq. 33's
  qbplot.py so-fig6 FILE [-o OUT.png]   SO paper Fig. 6: dE_coh and dE_diss vs kappa_b
  qbplot.py ep-fig2 FILE    EP Fig. 2: Re and Im of lambda+- (+ i gamma_b) vs delta_r, EPs
  qbplot.py ep-fig5 FILE    EP Fig. 5: Re and Im of lambda+- (+ i gamma_b) over (delta_r, alpha)
  qbplot.py so-fig2 FILE [FILE2]   SO Figs. 2-4: E_A, E_B vs |J| t (|J| = 0.2) for every curve
                            of the file(s) (so_fig2.h5, so_fig2_shared.h5, so_fig3_4.h5)
  qbplot.py so-fig7 FILE    SO Fig. 7: xi_ss (p = 1) and xi_supopt vs Gamma

Everything (axes, units, status meanings) is read from the file.  Images are PNG; a name
ending in .pdf writes PDF."""
import argparse
import contextlib
import sys

import numpy as np
import xarray as xr


def open_map(path, group=None):
    """The file (or one of its groups) as an xarray Dataset with named coordinates."""
    return xr.open_dataset(path, engine="h5netcdf", group=group)


def status_counts(ds):
    """{meaning: number of points with that flag set} for the `status` field."""
    st = ds["status"]
    masks = np.atleast_1d(st.attrs["flag_masks"])
    meanings = st.attrs["flag_meanings"].split()
    values = st.values
    out = {"ok": int(np.count_nonzero(values == 0))}
    for m, name in zip(masks, meanings):
        out[name] = int(np.count_nonzero(values & int(m)))
    return out


def groups(path):
    """Names of the point-list groups present and non-empty (boundary, ep, adaptive)."""
    import h5py
    with h5py.File(path, "r") as f:
        return [g for g in ("boundary", "ep", "adaptive") if g in f and "point" in f[g] and
                f[g]["point"].shape[0] > 0]


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


def _slice(ds, field, x, y, sel):
    """The 2-D slice of `field` over (y, x) and the resolved selection {axis: grid value}."""
    da = ds[field]
    resolved = {}
    for name in da.dims:
        if name in (x, y):
            continue
        if name not in sel:
            raise ValueError(f"axis {name} needs --sel {name}=VALUE (values "
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
    """`values` (ny, nx) as a colour map over the grid axes x, y of `ds`, with its colorbar and
    the axes labelled with the file's units; kw go to pcolormesh (cmap, vmin, vmax)."""
    m = ax.pcolormesh(ds[x].values, ds[y].values, values, shading="auto", **kw)
    fig.colorbar(m, ax=ax, label=cbar_label)
    ax.set_xlabel(_label(ds, x))
    ax.set_ylabel(_label(ds, y))


# how a map draws each point-list group: (group, format, plot keywords); order = drawing order
MAP_OVERLAYS = (("boundary", "k.", dict(ms=1.5, label="boundary (refined)")),
                ("ep", "rD", dict(ms=6, label="EP")))
PANEL_OVERLAYS = (("boundary", "k.", dict(ms=1)), ("ep", "rD", dict(ms=6)))


def _overlays(ax, path, present, x, y, sel, styles):
    """Draws each group of `styles` that is in `present` (see groups): its points of the slice
    `sel` (see overlay_points) in the (x, y) plane."""
    for group, fmt, kw in styles:
        if group in present:
            ax.plot(*overlay_points(path, group, x, y, sel), fmt, **kw)


def _curves(ax, ds, x, curves, ylabel):
    """Each (field, format, label) of `curves` against the axis x of `ds`; axis labels, legend."""
    for field, fmt, label in curves:
        ax.plot(ds[x].values, ds[field].values, fmt, label=label)
    ax.set_xlabel(_label(ds, x))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def cmd_map(args):
    sel = dict((k, float(v)) for k, v in (s.split("=", 1) for s in args.sel))
    with open_map(args.file) as ds:
        da, resolved = _slice(ds, args.field, args.x, args.y, sel)
        with _figure(args.output or f"{args.field}.png", figsize=(6.4, 4.8)) as (fig, ax):
            _mesh(fig, ax, ds, args.x, args.y, da.values,
                  f"{args.field} [{ds[args.field].attrs.get('units')}]")
            present = groups(args.file)
            _overlays(ax, args.file, present, args.x, args.y, resolved, MAP_OVERLAYS)
            ax.set_title(", ".join(f"{k} = {v:g}" for k, v in resolved.items()) or args.field)
            if present:
                ax.legend(loc="upper right", fontsize=8)
    return 0


def _gb_plane(ds, field, gb):
    """`field` at gamma_b = gb as (alpha, delta_r) values."""
    return ds[field].sel(gamma_b=gb).transpose("alpha", "delta_r").values


def _ep_fig3_panel(fig, ax, ds, path, present, gb):
    """The gamma_b = gb panel of EP Fig. 3: growth rate (colour limits symmetric about 0), the
    realizable_margin = 0 line, the groups' points of the panel, and alpha_c at delta_r = 0."""
    g = _gb_plane(ds, "growth_rate", gb)
    lim = float(np.nanmax(np.abs(g)))
    _mesh(fig, ax, ds, "delta_r", "alpha", g, "growth_rate", cmap="RdBu_r", vmin=-lim, vmax=lim)
    if "realizable_margin" in ds:
        ax.contour(ds["delta_r"].values, ds["alpha"].values, _gb_plane(ds, "realizable_margin", gb),
                   levels=[0], colors="green", linewidths=1.2)
    _overlays(ax, path, present, "delta_r", "alpha", {"gamma_b": gb}, PANEL_OVERLAYS)
    ac = (1 - gb * gb) / (2 * gb)
    if ds["alpha"].values.min() <= ac <= ds["alpha"].values.max():
        ax.plot([0], [ac], "*", color="purple", ms=12)
    ax.set_title(f"gamma_b = {gb:g}")


def cmd_ep_fig3(args):
    with open_map(args.file) as ds:
        gbs = ds["gamma_b"].values
        present = groups(args.file)
        with _figure(args.output or "ep_fig3.png", 1, len(gbs), figsize=(4.2 * len(gbs), 3.8),
                     squeeze=False) as (fig, axes):
            for ax, gb in zip(axes[0], gbs):
                _ep_fig3_panel(fig, ax, ds, args.file, present, gb)
            fig.suptitle("growth rate; black: refined boundary, red: EPs, star: alpha_c, green: "
                         "gamma_a gamma_b = 1 (realizable above)", fontsize=9)
    return 0


def cmd_ep_fig6(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "ep_fig6.png", figsize=(6.4, 4.2)) as (fig, ax):
        ax.fill_between(ds["delta_r"].values, 0, 1, where=ds["growth_rate"].values < 0,
                        color="green", alpha=0.15, transform=ax.get_xaxis_transform(),
                        label="stable")
        _curves(ax, ds, "delta_r", (("t_crit", "k-", "t_crit (exact first crossing)"),
                                    ("t_crit_approx", "r--", "Eq. 33 as printed")),
                "t_crit [1/Gamma_eff]")
        ax.set_ylim(-20, 1.2 * np.nanmax(ds["t_crit"].values))
    return 0


def cmd_so_fig6(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "so_fig6.png", figsize=(6.4, 4.2)) as (fig, ax):
        ax.set_xscale("log")
        _curves(ax, ds, "kappa_b", (("dE_coh", "b-", "dE_coh (coherent, |J| = 0.2)"),
                                    ("dE_diss", "r-", "dE_diss (super-optimal, Gamma = 0.4)")),
                "advantage over a single battery")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_yscale("symlog", linthresh=1)
    return 0


def cmd_ep_fig2(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "ep_fig2.png", 1, 2, figsize=(9, 3.6)) as (fig, axes):
        dr, gb = ds["delta_r"].values, float(ds.attrs["gamma_b"])
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
            ax.legend(fontsize=8)
    return 0


def cmd_ep_fig5(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "ep_fig5.png", 2, 2, figsize=(9, 7)) as (fig, axes):
        gb = float(ds.attrs["gamma_b"])
        present = groups(args.file)
        for ax, (f, shift) in zip(axes.flat, (("lambda_plus_re", 0), ("lambda_minus_re", 0),
                                              ("lambda_plus_im", gb), ("lambda_minus_im", gb))):
            _mesh(fig, ax, ds, "delta_r", "alpha", ds[f].transpose("alpha", "delta_r").values + shift)
            _overlays(ax, args.file, present, "delta_r", "alpha", {}, PANEL_OVERLAYS[1:])
            ax.set_title(f + (" + gamma_b" if shift else ""), fontsize=9)
    return 0


def _so_fig2_curves(path, a, b):
    """Every (non-t) combination of the file's list axes as one curve of E_A on a, E_B on b."""
    with open_map(path) as ds:
        combos = [{}]
        for d in [name for name in ds["E_B"].dims if name != "t"]:
            combos = [dict(c, **{d: float(v)}) for c in combos for v in ds[d].values]
        jt = 0.2 * ds["t"].values
        for c in combos:
            lab = ", ".join(f"{k}={v:.4g}" for k, v in c.items()) or path
            a.plot(jt, ds["E_A"].sel(c).values, label=lab)
            b.plot(jt, ds["E_B"].sel(c).values, label=lab)


def cmd_so_fig2(args):
    with _figure(args.output or "so_fig2.png", 1, 2, figsize=(9, 3.6)) as (fig, (a, b)):
        for path in [args.file] + args.more:
            _so_fig2_curves(path, a, b)
        for ax, n in ((a, "E_A"), (b, "E_B")):
            ax.set_xlabel("|J| t  (|J| = 0.2)")
            ax.set_ylabel(n)
            ax.legend(fontsize=6)
    return 0


def cmd_so_fig7(args):
    with open_map(args.file) as ds, \
            _figure(args.output or "so_fig7.png", figsize=(6.4, 4.2)) as (fig, ax):
        _curves(ax, ds, "Gamma", (("xi_ss", "b-", "xi_ss (p_a = p_b = 1)"),
                                  ("xi_supopt", "r-", "xi_supopt (y = kappa_a/kappa_b)")),
                "total stationary energy xi")
    return 0


def summary(path, out=sys.stdout):
    ds = open_map(path)
    a = ds.attrs
    done = ds["done"].values if "done" in ds else np.array([])
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
        if v in ("done",):
            continue
        x = ds[v]
        print(f"  {v:16s} {str(x.dtype):8s} units={x.attrs.get('units')}: {x.attrs.get('long_name')}",
              file=out)
    fixed = {k: a[k] for k in a if k not in ("Conventions", "title", "model", "config",
             "config_normalized", "qbmap_version", "git_commit", "mpi_version", "gsl_version",
             "hdf5_version", "nranks", "created", "npoints", "block_points", "complete",
             "wall_time_s")}
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
    m.add_argument("-o", "--output")
    for name, fn in (("ep-fig2", cmd_ep_fig2), ("ep-fig3", cmd_ep_fig3), ("ep-fig5", cmd_ep_fig5),
                     ("ep-fig6", cmd_ep_fig6), ("so-fig2", cmd_so_fig2), ("so-fig6", cmd_so_fig6),
                     ("so-fig7", cmd_so_fig7)):
        f = sub.add_parser(name)
        f.add_argument("file")
        if name == "so-fig2":
            f.add_argument("more", nargs="*", help="more files with curves")
        f.add_argument("-o", "--output")
        f.set_defaults(fn=fn)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "summary":
            return summary(args.file)
        if args.cmd == "map":
            return cmd_map(args)
        return args.fn(args)
    except (OSError, KeyError, ValueError) as e:
        print(f"qbplot {args.cmd}: {args.file}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
