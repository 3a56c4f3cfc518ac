#!/usr/bin/python3
"""Bitwise comparison of qbmap outputs: every dataset of REF must exist in each OTHER with the
same shape, dtype and bytes (NaNs included), and no other dataset; every attribute of every
object must be equal (dimension-scale references compared by the names they point to), except
the root attributes that describe the run rather than the result (nranks, created, run_id,
wall_time_s, wall_time_segments_s).  Each file must be complete (attribute complete = 1, every
done flag 1, block ids 0..nblocks-1) and its wall time consistent (wall_time_segments_s: finite,
non-negative entries; wall_time_s their sum).  --group NAME requires the post-pass group /NAME in REF with at least one row,
--group NAME=ROWS with exactly ROWS rows.
Usage: compare_h5.py [--group NAME[=ROWS]]... REF OTHER..."""
import sys

import h5py
import numpy as np

from qbcheck import check, guarded

RUN_ATTRS = {("/", "nranks"), ("/", "created"), ("/", "wall_time_s"), ("/", "run_id"),
             ("/", "wall_time_segments_s")}


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def deref(f, v):
    """Attribute value with HDF5 object references replaced by the objects' names."""
    if isinstance(v, h5py.Reference):
        return f[v].name if v else None
    if isinstance(v, np.void) or (isinstance(v, tuple)):
        return tuple(deref(f, x) for x in v)
    if isinstance(v, np.ndarray) and v.dtype.kind in "OV":
        return [deref(f, x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist() if v.dtype.kind != "f" else [("nan" if np.isnan(x) else x) for x in v.ravel()]
    if isinstance(v, float) and np.isnan(v):
        return "nan"
    if isinstance(v, bytes):
        return v.decode()
    return v.item() if isinstance(v, np.generic) else v


def attributes(f):
    out = {}

    def visit(name, obj):
        for k in obj.attrs:
            if (name, k) not in RUN_ATTRS:
                out[(name, k)] = deref(f, obj.attrs[k])
    visit("/", f)
    f.visititems(visit)
    return out


def complete(path, f):
    check(int(f.attrs["complete"]) == 1, f"{path} complete")
    done, block = f["blocks/done"][()], f["blocks/block"][()]
    check(done.size > 0 and bool(np.all(done == 1)), f"{path} all {done.size} blocks done")
    check(np.array_equal(block, np.arange(done.size)), f"{path} block ids 0..{done.size - 1}")
    seg = np.atleast_1d(f.attrs.get("wall_time_segments_s", np.array([])))
    check(seg.size >= 1 and bool(np.all(np.isfinite(seg) & (seg >= 0))) and
          float(f.attrs["wall_time_s"]) == float(sum(seg.tolist())),
          f"{path}: wall_time_s {f.attrs['wall_time_s']} = sum of wall_time_segments_s {seg}")


with guarded("compare_h5"):
    args, groups = sys.argv[1:], {}
    while args and args[0] == "--group":
        name, _, rows = args[1].partition("=")
        groups[name] = int(rows) if rows else None
        args = args[2:]
    if len(args) < 2:
        raise ValueError("usage: compare_h5.py [--group NAME[=ROWS]]... REF OTHER...")
    refpath = args[0]
    with h5py.File(refpath, "r") as f:
        ref, ref_attrs = datasets(f), attributes(f)
        complete(refpath, f)
        for g, rows in groups.items():
            n = f[g]["point"].shape[0] if g in f and "point" in f[g] else -1
            check(n == rows if rows is not None else n > 0,
                  f"{refpath}: /{g} with {'exactly %d' % rows if rows is not None else '> 0'} rows "
                  f"(has {n})")
    check(len(ref) > 3, f"{refpath} has datasets ({len(ref)})")
    for path in args[1:]:
        with h5py.File(path, "r") as f:
            other, other_attrs = datasets(f), attributes(f)
            complete(path, f)
        check(set(other) == set(ref), f"{path} has the same datasets: {sorted(set(other) ^ set(ref))}")
        for name, a in ref.items():
            b = other.get(name)
            same = b is not None and a.shape == b.shape and a.dtype == b.dtype and \
                a.tobytes() == b.tobytes()
            check(same, f"{path}:{name} bitwise identical to {refpath}")
        diff = sorted(k for k in set(ref_attrs) | set(other_attrs)
                      if ref_attrs.get(k, "<missing>") != other_attrs.get(k, "<missing>"))
        check(not diff and len(ref_attrs) > 20,
              f"{path}: attributes equal to {refpath}'s; differing: {diff[:5]}")
