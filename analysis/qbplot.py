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


def _save(fig, out):
    fig.savefig(out, dpi=110)
    print(f"qbplot: wrote {out}")


def cmd_map(args):
    plt = _plt()
    sel = dict((k, float(v)) for k, v in (s.split("=", 1) for s in args.sel))
    ds = open_map(args.file)
    da, resolved = _slice(ds, args.field, args.x, args.y, sel)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    m = ax.pcolormesh(ds[args.x].values, ds[args.y].values, da.values, shading="auto")
    fig.colorbar(m, ax=ax, label=f"{args.field} [{ds[args.field].attrs.get('units')}]")
    present = groups(args.file)
    if "boundary" in present:
        bx, by = overlay_points(args.file, "boundary", args.x, args.y, resolved)
        ax.plot(bx, by, "k.", ms=1.5, label="boundary (refined)")
    if "ep" in present:
        ex, ey = overlay_points(args.file, "ep", args.x, args.y, resolved)
        ax.plot(ex, ey, "rD", ms=6, label="EP")
    ax.set_xlabel(_label(ds, args.x))
    ax.set_ylabel(_label(ds, args.y))
    ax.set_title(", ".join(f"{k} = {v:g}" for k, v in resolved.items()) or args.field)
    if present:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    _save(fig, args.output or f"{args.field}.png")
    ds.close()
    return 0


def cmd_ep_fig3(args):
    plt = _plt()
    ds = open_map(args.file)
    gbs = ds["gamma_b"].values
    present = groups(args.file)
    fig, axes = plt.subplots(1, len(gbs), figsize=(4.2 * len(gbs), 3.8), squeeze=False)
    for ax, gb in zip(axes[0], gbs):
        g = ds["growth_rate"].sel(gamma_b=gb).transpose("alpha", "delta_r")
        lim = float(np.nanmax(np.abs(g.values)))
        m = ax.pcolormesh(ds["delta_r"].values, ds["alpha"].values, g.values, cmap="RdBu_r",
                          vmin=-lim, vmax=lim, shading="auto")
        if "realizable_margin" in ds:
            ax.contour(ds["delta_r"].values, ds["alpha"].values,
                       ds["realizable_margin"].sel(gamma_b=gb).transpose("alpha", "delta_r").values,
                       levels=[0], colors="green", linewidths=1.2)
        if "boundary" in present:
            bx, by = overlay_points(args.file, "boundary", "delta_r", "alpha", {"gamma_b": gb})
            ax.plot(bx, by, "k.", ms=1)
        if "ep" in present:
            ex, ey = overlay_points(args.file, "ep", "delta_r", "alpha", {"gamma_b": gb})
            ax.plot(ex, ey, "rD", ms=6)
        ac = (1 - gb * gb) / (2 * gb)
        if ds["alpha"].values.min() <= ac <= ds["alpha"].values.max():
            ax.plot([0], [ac], "*", color="purple", ms=12)
        ax.set_title(f"gamma_b = {gb:g}")
        ax.set_xlabel(_label(ds, "delta_r"))
        ax.set_ylabel(_label(ds, "alpha"))
        fig.colorbar(m, ax=ax, label="growth_rate")
    fig.suptitle("growth rate; black: refined boundary, red: EPs, star: alpha_c, green: "
                 "gamma_a gamma_b = 1 (realizable above)", fontsize=9)
    fig.tight_layout()
    _save(fig, args.output or "ep_fig3.png")
    ds.close()
    return 0


def cmd_ep_fig6(args):
    plt = _plt()
    ds = open_map(args.file)
    dr = ds["delta_r"].values
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    stable = ds["growth_rate"].values < 0
    ax.fill_between(dr, 0, 1, where=stable, color="green", alpha=0.15,
                    transform=ax.get_xaxis_transform(), label="stable")
    ax.plot(dr, ds["t_crit"].values, "k-", label="t_crit (exact first crossing)")
    ax.plot(dr, ds["t_crit_approx"].values, "r--", label="Eq. 33 as printed")
    ax.set_ylim(-20, 1.2 * np.nanmax(ds["t_crit"].values))
    ax.set_xlabel(_label(ds, "delta_r"))
    ax.set_ylabel("t_crit [1/Gamma_eff]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, args.output or "ep_fig6.png")
    ds.close()
    return 0


def cmd_so_fig6(args):
    plt = _plt()
    ds = open_map(args.file)
    kb = ds["kappa_b"].values
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.semilogx(kb, ds["dE_coh"].values, "b-", label="dE_coh (coherent, |J| = 0.2)")
    ax.semilogx(kb, ds["dE_diss"].values, "r-", label="dE_diss (super-optimal, Gamma = 0.4)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel(_label(ds, "kappa_b"))
    ax.set_ylabel("advantage over a single battery")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, args.output or "so_fig6.png")
    ds.close()
    return 0


def cmd_ep_fig2(args):
    plt = _plt()
    ds = open_map(args.file)
    dr, gb = ds["delta_r"].values, float(ds.attrs["gamma_b"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.plot(dr, ds["lambda_plus_re"].values, "b--", label="lambda+")
    a.plot(dr, ds["lambda_minus_re"].values, "k-", label="lambda-")
    b.plot(dr, ds["lambda_plus_im"].values + gb, "b--", label="lambda+ + i gamma_b")
    b.plot(dr, ds["lambda_minus_im"].values + gb, "k-", label="lambda- + i gamma_b")
    ep = (ds["regime"].values & 4) != 0
    for ax, re in ((a, ds["lambda_plus_re"].values), (b, ds["lambda_plus_im"].values + gb)):
        ax.plot(dr[ep], re[ep], "rD", ms=7, label="EP")
        ax.set_xlabel(_label(ds, "delta_r"))
        ax.legend(fontsize=8)
    a.set_ylabel("Re lambda")
    b.set_ylabel("Im lambda + gamma_b")
    fig.tight_layout()
    _save(fig, args.output or "ep_fig2.png")
    ds.close()
    return 0


def cmd_ep_fig5(args):
    plt = _plt()
    ds = open_map(args.file)
    gb = float(ds.attrs["gamma_b"])
    x, y = ds["delta_r"].values, ds["alpha"].values
    fig, axes = plt.subplots(2, 2, figsize=(9, 7))
    panels = (("lambda_plus_re", 0), ("lambda_minus_re", 0), ("lambda_plus_im", gb),
              ("lambda_minus_im", gb))
    present = groups(args.file)
    for ax, (f, shift) in zip(axes.flat, panels):
        m = ax.pcolormesh(x, y, ds[f].transpose("alpha", "delta_r").values + shift, shading="auto")
        fig.colorbar(m, ax=ax)
        if "ep" in present:
            ex, ey = overlay_points(args.file, "ep", "delta_r", "alpha", {})
            ax.plot(ex, ey, "rD", ms=6)
        ax.set_title(f + (" + gamma_b" if shift else ""), fontsize=9)
        ax.set_xlabel(_label(ds, "delta_r"))
        ax.set_ylabel(_label(ds, "alpha"))
    fig.tight_layout()
    _save(fig, args.output or "ep_fig5.png")
    ds.close()
    return 0


def cmd_so_fig2(args):
    """Every (non-t) combination of the files' list axes is one curve of E_A, E_B vs |J| t."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    for path in [args.file] + args.more:
        ds = open_map(path)
        others = [d for d in ds["E_B"].dims if d != "t"]
        combos = [{}]
        for d in others:
            combos = [dict(c, **{d: float(v)}) for c in combos for v in ds[d].values]
        for c in combos:
            lab = ", ".join(f"{k}={v:.4g}" for k, v in c.items()) or path
            jt = 0.2 * ds["t"].values
            a.plot(jt, ds["E_A"].sel(c).values, label=lab)
            b.plot(jt, ds["E_B"].sel(c).values, label=lab)
        ds.close()
    for ax, n in ((a, "E_A"), (b, "E_B")):
        ax.set_xlabel("|J| t  (|J| = 0.2)")
        ax.set_ylabel(n)
        ax.legend(fontsize=6)
    fig.tight_layout()
    _save(fig, args.output or "so_fig2.png")
    return 0


def cmd_so_fig7(args):
    plt = _plt()
    ds = open_map(args.file)
    g = ds["Gamma"].values
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(g, ds["xi_ss"].values, "b-", label="xi_ss (p_a = p_b = 1)")
    ax.plot(g, ds["xi_supopt"].values, "r-", label="xi_supopt (y = kappa_a/kappa_b)")
    ax.set_xlabel(_label(ds, "Gamma"))
    ax.set_ylabel("total stationary energy xi")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, args.output or "so_fig7.png")
    ds.close()
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
