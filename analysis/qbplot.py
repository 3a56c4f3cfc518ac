#!/usr/bin/python3
"""Post-processing of qbmap HDF5 phase maps.

  qbplot.py summary FILE      model, axes, fields, units, completeness, provenance, and a count
                              of every point-status flag (decoded from the file's own
                              flag_masks / flag_meanings attributes)

Reads everything (axes, units, status meanings) from the file itself; needs h5py and xarray
(Debian: python3-h5py, python3-xarray, python3-h5netcdf)."""
import argparse
import sys

import numpy as np
import xarray as xr


def open_map(path):
    """The file as an xarray Dataset with named coordinates (engine h5netcdf)."""
    return xr.open_dataset(path, engine="h5netcdf")


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
    args = ap.parse_args(argv)
    try:
        if args.cmd == "summary":
            return summary(args.file)
    except (OSError, KeyError, ValueError) as e:
        print(f"qbplot {args.cmd}: {args.file}: not a readable qbmap file ({e})", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
