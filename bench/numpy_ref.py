#!/usr/bin/python3
"""Vectorized NumPy + h5py reference for the benchmark: computes the `ep` model's cheap fields
(growth_rate, splitting, E_B_ss, t_crit_approx, realizable, status bits of those) on a
(gamma_b, alpha, delta_r) grid, slab by slab, and writes them to an HDF5 file with dimension
scales, as a user would without qbmap.  With --fsync the file is also forced to disk at the
end, as qbmap does.  Usage: numpy_ref.py OUT.h5 NGB NALPHA NDELTA [--fsync]"""
import os
import sys

import h5py
import numpy as np

out, ngb, na, nd = sys.argv[1], *map(int, sys.argv[2:5])
fsync = "--fsync" in sys.argv[5:]
gb_ax = np.linspace(0.5, 1.5, ngb)
al_ax = np.linspace(-0.75, 1.0, na)
dr_ax = np.linspace(-2.0, 2.0, nd)
E_max, E_r = 1000.0, 1.0
shape = (ngb, na, nd)

with h5py.File(out, "w") as f:
    for name, ax in (("gamma_b", gb_ax), ("alpha", al_ax), ("delta_r", dr_ax)):
        f[name] = ax
        f[name].make_scale(name)
    ds = {n: f.create_dataset(n, shape, dtype=t) for n, t in (
        ("growth_rate", "f8"), ("splitting", "f8"), ("E_B_ss", "f8"), ("t_crit_approx", "f8"),
        ("realizable", "i4"), ("status", "i4"))}
    for d in ds.values():
        for k, name in enumerate(("gamma_b", "alpha", "delta_r")):
            d.dims[k].attach_scale(f[name])
    rows = max(1, 131072 // nd)
    dr = dr_ax[None, :]
    for i, gb in enumerate(gb_ax):
        for a0 in range(0, na, rows):
            al = al_ax[a0:a0 + rows, None]
            ga = gb + 2 * al
            s = 0.5 * (ga + gb)
            z = al + 1j * dr
            w = np.sqrt(1 + z * z)
            growth = -s + w.real
            tol = 1e-12 * (1 + np.abs(s) + np.abs(w))
            stable = growth < -tol
            pi2 = np.abs(ga * gb - 1 + dr * dr - 2j * al * dr) ** 2
            with np.errstate(divide="ignore"):
                ebss = np.where(stable, E_r ** 2 / pi2, np.nan)
            om = np.sqrt(np.clip((1 - dr) * (1 + dr), 0, None))
            K = dr * dr + gb * gb - 1
            ok = (np.abs(al) <= 1e-12 * (1 + abs(gb))) & (np.abs(dr) < 1) & (growth > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                escale = E_r ** 2 / (4 * K * K) * ((gb + om) / om) ** 2
                tca = np.where(ok, np.log(E_max * E_r ** 2 / escale) / (2 * (om - gb)), np.nan)
            status = np.where(stable, 0, 1) | np.where(ok, 0, 8) | \
                np.where(ok & ((E_max <= escale) | (tca <= 0)), 16, 0)
            real = ((ga >= 0) & (gb >= 0) & (ga * gb >= 1)).astype(np.int32)
            sl = (i, slice(a0, a0 + al.shape[0]), slice(None))
            ds["growth_rate"][sl] = growth
            ds["splitting"][sl] = 2 * np.abs(w)
            ds["E_B_ss"][sl] = ebss
            ds["t_crit_approx"][sl] = tca
            ds["realizable"][sl] = np.broadcast_to(real, growth.shape)
            ds["status"][sl] = status
    f.flush()
if fsync:
    fd = os.open(out, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
