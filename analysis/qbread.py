#!/usr/bin/python3
"""Reads a qbmap HDF5 file into plain Python objects (h5py, xarray, numpy; pandas if installed).

    import sys; sys.path.insert(0, "analysis")
    import qbread
    m = qbread.read("out/qbmap_fig3.h5")
    m.data                    # xarray Dataset: the axes as coordinates, the science fields, and
                              # one boolean variable per status flag (e.g. m.data.not_stable),
                              # decoded from the file's CF flag_masks / flag_meanings, and
                              # `failed` = (status & failure_mask) != 0: m.data.where(~m.data.failed)
                              # keeps the points where nothing failed (informational bits such
                              # as not_stable say a field is undefined by physics, not wrong)
    m.data.attrs              # the root attributes: provenance and the fixed parameters
    m.parameters              # {name: value}: the fixed model parameters only
    m.tables["boundary"]      # each post-pass group present (/boundary, /ep, /adaptive) as a
                              # table: a pandas DataFrame (or a dict of numpy arrays without
                              # pandas), one row per point, the group's attributes in .attrs
    m.blocks                  # xarray Dataset of the bookkeeping: `block` ids and `done` flags

`done` and `block` are kept out of m.data.  A file whose `complete` attribute is not 1 is
refused (ValueError naming the done blocks) unless read(..., allow_incomplete=True): then the
fields of blocks not done are not to be trusted (README "Output file layout")."""
from collections import namedtuple

import numpy as np
import xarray as xr

try:
    import pandas as pd
except ImportError:  # pragma: no cover - pandas is optional
    pd = None

#: root attributes that describe the run, not the model (everything else numeric is a parameter)
PROVENANCE = ("Conventions", "title", "model", "config", "config_normalized", "qbmap_version",
              "git_commit", "mpi_version", "gsl_version", "hdf5_version", "nranks", "created",
              "npoints", "block_points", "complete", "wall_time_s", "wall_time_segments_s",
              "run_id")
#: the post-pass groups qbmap can write, in the order it writes them
GROUPS = ("boundary", "ep", "adaptive")
#: the group holding the bookkeeping (`block` ids, `done` flags), apart from the science
BLOCKS_GROUP = "blocks"

QbMap = namedtuple("QbMap", "data parameters tables blocks")


def parameters(attrs):
    """{name: value} of the fixed model parameters among root attributes `attrs`: every
    numeric attribute that is not provenance (see PROVENANCE)."""
    out = {}
    for k, v in attrs.items():
        if k in PROVENANCE:
            continue
        v = np.asarray(v)
        if v.size == 1 and np.issubdtype(v.dtype, np.number):
            out[k] = v.item()
    return out


def decode_status(status):
    """{meaning: boolean DataArray} from a `status` DataArray carrying CF flag_masks and
    flag_meanings (space-separated, one per mask): True where that bit is set.  ValueError if
    the attributes are missing or their lengths differ."""
    try:
        masks = np.atleast_1d(status.attrs["flag_masks"]).astype(np.int64)
        meanings = str(status.attrs["flag_meanings"]).split()
    except KeyError as e:
        raise ValueError(f"status has no CF attribute {e}; cannot decode its flags") from None
    if len(masks) != len(meanings):
        raise ValueError(f"status: {len(masks)} flag_masks but {len(meanings)} flag_meanings")
    out = {}
    for m, name in zip(masks, meanings):
        da = (status & int(m)) != 0
        da.attrs = {"long_name": f"status flag '{name}' (bit mask {int(m)})", "units": "1"}
        out[name] = da
    return out


def _table(path, group):
    """The group's `point` table: pandas DataFrame (index `point`) or dict of numpy arrays;
    the group's attributes in .attrs (DataFrame) or under the key 'attrs' (dict)."""
    with xr.open_dataset(path, engine="h5netcdf", group=group) as g:
        g.load()
        cols = {name: g[name].values for name in g.data_vars}
        attrs = dict(g.attrs)
        point = g["point"].values
    if pd is None:
        return dict(cols, point=point, attrs=attrs)
    df = pd.DataFrame(cols, index=pd.Index(point, name="point"))
    df.attrs = attrs
    return df


def _groups_present(path):
    import h5py
    with h5py.File(path, "r") as f:
        return [g for g in GROUPS if g in f and isinstance(f[g], h5py.Group)]


def read_blocks(path):
    """The bookkeeping of the file at `path` (group /blocks: `done` over `block`) as an xarray
    Dataset; empty for a file without it."""
    import h5py
    with h5py.File(path, "r") as f:
        have = BLOCKS_GROUP in f and isinstance(f[BLOCKS_GROUP], h5py.Group)
    if not have:
        return xr.Dataset()
    with xr.open_dataset(path, engine="h5netcdf", group=BLOCKS_GROUP) as b:
        return b.load()


def read(path, allow_incomplete=False):
    """The qbmap file at `path` as a QbMap(data, parameters, tables, blocks) (see the module
    docstring).  Loads everything into memory; the file is closed on return."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds.load()
    if "status" not in ds:
        raise ValueError(f"{path}: no 'status' variable: not a qbmap map file")
    if "wall_time_segments_s" in ds.attrs:  # an array in the file; xarray squeezes one entry
        ds.attrs["wall_time_segments_s"] = np.atleast_1d(ds.attrs["wall_time_segments_s"])
    blocks = read_blocks(path)
    data = ds
    if int(np.asarray(ds.attrs.get("complete", 0))) != 1 and not allow_incomplete:
        done = blocks["done"].values if "done" in blocks else np.zeros(0)
        raise ValueError(f"{path}: complete != 1 ({int(done.sum())} of {done.size} blocks "
                         "done); pass allow_incomplete=True to read it anyway")
    for name, da in decode_status(data["status"]).items():
        if name in data.variables:
            raise ValueError(f"{path}: status flag '{name}' clashes with a variable of that name")
        data[name] = da
    fm = data["status"].attrs.get("failure_mask")
    if fm is not None:  # the common filter: data.where(~data.failed) keeps trustworthy points
        data["failed"] = (data["status"] & int(fm)) != 0
        data["failed"].attrs = {"long_name": "a failure bit is set (status & failure_mask)",
                                "units": "1"}
    tables = {g: _table(path, g) for g in _groups_present(path)}
    return QbMap(data, parameters(ds.attrs), tables, blocks)
