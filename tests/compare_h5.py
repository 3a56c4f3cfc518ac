#!/usr/bin/python3
"""Bitwise comparison of qbmap outputs: every dataset of REF must exist in each OTHER with the
same shape, dtype and bytes (NaNs included).  Each file must be complete (attribute
complete = 1, every done flag 1).  Usage: compare_h5.py REF OTHER..."""
import sys

import h5py
import numpy as np

from qbcheck import check, report


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


with h5py.File(sys.argv[1], "r") as f:
    ref = datasets(f)
    check(int(f.attrs["complete"]) == 1, f"{sys.argv[1]} complete")
for path in sys.argv[2:]:
    with h5py.File(path, "r") as f:
        other = datasets(f)
        check(int(f.attrs["complete"]) == 1, f"{path} complete")
        check(bool(np.all(f["done"][()] == 1)), f"{path} all blocks done")
        check(set(other) == set(ref), f"{path} has the same datasets")
        for name, a in ref.items():
            b = other.get(name)
            same = b is not None and a.shape == b.shape and a.dtype == b.dtype and \
                a.tobytes() == b.tobytes()
            if name in ("block", "done"):  # block layout depends on nothing but the grid
                same = b is not None and a.shape == b.shape
            check(same, f"{path}:{name} bitwise identical to {sys.argv[1]}")
report("compare_h5")
