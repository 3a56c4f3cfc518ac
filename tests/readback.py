#!/usr/bin/python3
"""Read-back of a qbmap file as a user would: xarray with both engines (h5netcdf, netcdf4)
sees named coordinates with units; ncdump -h prints it; and `qbmap point` at sampled grid
points prints exactly (bitwise) the sweep's values.
Usage: readback.py QBMAP MPIEXEC TESTS_SOURCE_DIR"""
import os
import random
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import xarray as xr

qbmap, mpiexec, src = sys.argv[1:4]
from qbcheck import check, guarded, qbmap_point


def point(params):
    return qbmap_point(qbmap, "ep", params)


with guarded("readback"), tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "rb.h5")
    subprocess.run([mpiexec, "-n", "2", qbmap, "run", os.path.join(src, "data", "readback.yaml"),
                    "-o", path, "--progress", "0"], check=True, capture_output=True)
    for engine in ("h5netcdf", "netcdf4"):
        ds = xr.open_dataset(path, engine=engine)
        check(list(ds["growth_rate"].dims) == ["gamma_b", "t", "delta_r"], f"{engine}: dims")
        for c in ("gamma_b", "t", "delta_r"):
            check(c in ds.coords and ds[c].attrs.get("units") == "1" and "long_name" in ds[c].attrs,
                  f"{engine}: coordinate {c} with units and long_name")
        check(np.allclose(ds["t"].values, np.logspace(-3, 3, 9), rtol=1e-14, atol=0), f"{engine}: log axis")
        check(ds["t"].values[-1] == 1e3 and ds["delta_r"].values[0] == -1.5, f"{engine}: exact end points")
        for v in ds.data_vars:
            check("units" in ds[v].attrs and "long_name" in ds[v].attrs, f"{engine}: {v} units")
        # long_name is a short label (plots use it); usage and ranges are in `description`
        for v in list(ds.coords) + list(ds.data_vars):
            a = ds[v].attrs
            check(len(a["long_name"]) <= 40 and ";" not in a["long_name"] and
                  "|value|" not in a["long_name"] and len(a.get("description", "")) > 0,
                  f"{engine}: {v}: short long_name {a['long_name']!r} and a description")
        check(ds["delta_r"].attrs["long_name"] == "normalized detuning" and
              ds["delta_r"].attrs["description"].endswith("; |value| <= 1e12"),
              f"{engine}: delta_r's range in its description: {ds['delta_r'].attrs}")
        check(int(ds.attrs["complete"]) == 1 and ds.attrs["model"] == "ep" and
              ds.attrs["Conventions"] == "CF-1.8", f"{engine}: root attributes")
        for a in ("config", "config_normalized", "qbmap_version", "git_commit", "mpi_version",
                  "hdf5_version", "gsl_version", "nranks", "wall_time_s", "created"):
            check(a in ds.attrs, f"{engine}: attribute {a}")
        check(int(ds.attrs["nranks"]) == 2, f"{engine}: nranks")
        sel = ds["E_B"].sel(gamma_b=1.0, t=ds["t"].values[4], delta_r=0.0, method="nearest")
        check(np.isfinite(float(sel)), f"{engine}: .sel() works")
        ds.close()
    # the /boundary group: both engines; its rows are exactly the sign changes of the file's
    # growth_rate between delta_r neighbours, in line order; each is a zero of growth_rate
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        g = ds["growth_rate"].values
        gbv, tv, drv = (ds[c].values for c in ("gamma_b", "t", "delta_r"))
    check(bool(np.all(g != 0)), "no grid point on the boundary (the brackets are unambiguous)")
    pos = g > 0
    want = [(gbv[i], tv[j], k) for i in range(g.shape[0]) for j in range(g.shape[1])
            for k in range(g.shape[2] - 1) if pos[i, j, k] != pos[i, j, k + 1]]
    for engine in ("h5netcdf", "netcdf4"):
        with xr.open_dataset(path, group="boundary", engine=engine) as b:
            check(list(b["delta_r"].dims) == ["point"] and b.attrs["field"] == "growth_rate" and
                  float(b.attrs["level"]) == 0 and b.attrs["axis"] == "delta_r",
                  f"{engine}: /boundary group and its attributes")
            got = [(float(b["gamma_b"][k]), float(b["t"][k]), int(b["index"][k]))
                   for k in range(b.sizes["point"])]
            check(got == want and len(want) == 18,
                  f"{engine}: /boundary rows = the {len(want)} sign changes of growth_rate, got "
                  f"{len(got)}")
            pts = [(float(b["gamma_b"][k]), float(b["t"][k]), float(b["delta_r"][k]))
                   for k in range(b.sizes["point"])]
            inside = all(drv[want[k][2]] < pts[k][2] < drv[want[k][2] + 1]
                         for k in range(min(len(pts), len(want))))
            check(inside, f"{engine}: each crossing inside its bracket")
    for gb, t, dr in pts:
        g0 = point(dict(gamma_b=gb, t=t, delta_r=dr, alpha=0.1))["growth_rate"]
        check(abs(g0) <= 1e-12, f"growth_rate at a boundary point: {g0}")
    cdl = subprocess.run(["ncdump", "-h", path], capture_output=True, text=True)
    check(cdl.returncode == 0 and "double growth_rate(gamma_b, t, delta_r)" in cdl.stdout,
          "ncdump -h")

    # analysis/qbplot.py summary: complete, axes listed, status counts as in the data
    qbplot = os.path.join(src, "..", "analysis", "qbplot.py")
    summ = subprocess.run([sys.executable, qbplot, "summary", path], capture_output=True, text=True)
    check(summ.returncode == 0 and "complete:  yes (1/1 blocks done)" in summ.stdout and
          "t          n=9" in summ.stdout, "qbplot summary")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        st = ds["status"].values
        meanings = ds["status"].attrs["flag_meanings"].split()
        masks = np.atleast_1d(ds["status"].attrs["flag_masks"])
    counts = {"ok": int(np.count_nonzero(st == 0))}
    for mask, name in zip(masks, meanings):
        counts[name] = int(np.count_nonzero(st & int(mask)))
    printed = {}
    lines = summ.stdout.splitlines()
    if "status flags (points):" in lines:
        for l in lines[lines.index("status flags (points):") + 1:]:
            if not l.startswith("  "):
                break
            printed[l.split()[0]] = int(l.split()[1])
    # the file lists model ep's own status bits (qbmap models), numbers unchanged
    ep_bits = [(0, "not_stable"), (1, "tcrit_never"), (2, "tcrit_failed"), (3, "approx_outside"),
               (4, "approx_unreliable"), (5, "overflow"), (6, "bad_param"), (11, "t_unresolved"),
               (12, "ill_conditioned")]
    check([(int(mk), w) for mk, w in zip(masks, meanings)] == [(1 << b, w) for b, w in ep_bits],
          f"status flag_masks / flag_meanings: {list(zip(masks, meanings))}")
    check({k: v for k, v in printed.items() if k != "no_failure"} == counts and counts["not_stable"] > 0 and counts["tcrit_never"] > 0,
          f"qbplot summary status counts {printed} vs {counts}")
    # each bit's kind (flag_kinds, aligned with flag_meanings) and failure_mask, their union of
    # the failure bits: (status & failure_mask) == 0 selects the usable points
    with h5py.File(path, "r") as f:
        sa = f["status"].attrs
        kinds, fmask = sa["flag_kinds"], sa["failure_mask"]
        kinds = (kinds.decode() if isinstance(kinds, bytes) else kinds).split()
    ep_kinds = {"not_stable": "info", "tcrit_never": "info", "tcrit_failed": "failure",
                "approx_outside": "info", "approx_unreliable": "info", "overflow": "failure",
                "bad_param": "failure", "t_unresolved": "failure", "ill_conditioned": "failure"}
    check(kinds == [ep_kinds[w] for w in meanings], f"status flag_kinds {kinds}")
    want_mask = sum(int(mk) for mk, k in zip(masks, kinds) if k == "failure")
    check(np.asarray(fmask).dtype == np.int32 and np.asarray(fmask).shape == () and
          int(fmask) == want_mask, f"status failure_mask {fmask!r}, want int32 {want_mask}")
    # here only E_B beyond the double range (t = 1000, growing) is a failure: every other point
    # is usable, though status == 0 nowhere
    usable = int(np.count_nonzero((st & int(fmask)) == 0))
    check(printed.get("no_failure") == usable, f"qbplot summary no_failure {printed.get('no_failure')}, want {usable}")
    check(usable > counts["ok"] and usable == st.size - counts["overflow"] and usable > 500,
          f"(status & failure_mask) == 0: {usable} points, status == 0: {counts['ok']}, "
          f"overflow {counts['overflow']} of {st.size}")
    check("group /boundary: 18 points" in summ.stdout and "points:    558 " in summ.stdout,
          "qbplot summary: group rows and point count")
    # numbers in the post-pass attributes are numeric attributes
    with h5py.File(path, "r") as f:
        ba = f["boundary"].attrs
        check(isinstance(ba["level"], np.floating) and
              isinstance(ba["brackets_not_refined"], np.integer),
              f"/boundary level, brackets_not_refined numeric: {dict(ba)}")
    # wall time per run segment: a run stopped by SIGTERM (held at its second round by the test
    # gate until the signal), then resumed: two segments, wall_time_s their sum
    seg = os.path.join(tmp, "seg.h5")
    args = [qbmap, "run", os.path.join(src, "data", "readback.yaml"), "-o", seg, "--progress", "0",
            "--flush", "0", "--block-points", "50"]
    env = dict(os.environ, QBMAP_TEST_GATE="round:" + os.path.join(tmp, "never"))
    run1 = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    run1.stdout.readline()  # the announcement
    run1.stdout.readline()  # the first progress line: the run is in (or at) the gate
    run1.send_signal(15)
    out1, err1 = run1.communicate()
    check(run1.returncode == 3 and "checkpointed" in err1, f"segments: stopped run: {run1.returncode} {err1}")
    with h5py.File(seg, "r") as f:
        s1 = np.atleast_1d(f.attrs.get("wall_time_segments_s", []))
        check(s1.size == 1 and s1[0] > 0 and int(f.attrs["complete"]) == 0,
              f"segments: the stopped run recorded its time: {s1}")
    res = subprocess.run(args + ["--resume"], capture_output=True, text=True)
    check(res.returncode == 0, f"segments: resume: {res.stderr}")
    with h5py.File(seg, "r") as f:
        s2 = np.atleast_1d(f.attrs.get("wall_time_segments_s", []))
        wall = float(f.attrs["wall_time_s"])
    check(s2.size == 2 and s2[0] == s1[0] and s2[1] > 0 and wall == float(s2[0] + s2[1]),
          f"segments: two segments {s2}, wall_time_s {wall} their sum")

    bad = subprocess.run([sys.executable, qbplot, "summary", os.path.join(tmp, "missing.h5")],
                         capture_output=True, text=True)
    check(bad.returncode == 2 and bad.stderr.count("\n") == 1, "qbplot summary: missing file")

    ds = xr.open_dataset(path, engine="h5netcdf")
    fields = list(ds.data_vars)
    first = point(dict(gamma_b=0.5, t=1.0, delta_r=0.0, alpha=0.1, E_max=500.0))
    check(sorted(first) == sorted(fields) and len(fields) == 18,
          f"qbmap point prints exactly the file's fields: {sorted(set(first) ^ set(fields))}")
    rng = random.Random(7)
    for _ in range(25):
        i, j, k = rng.randrange(2), rng.randrange(9), rng.randrange(31)
        gb, t, dr = (float(ds[c].values[n]) for c, n in (("gamma_b", i), ("t", j), ("delta_r", k)))
        ref = point(dict(gamma_b=gb, t=t, delta_r=dr, alpha=0.1, E_max=500.0))
        for name, v in ref.items():
            got = ds[name].values[i, j, k]
            same = (np.isnan(v) and np.isnan(got)) or float(got) == v
            check(same, f"point vs sweep {name} at gamma_b={gb} t={t} delta_r={dr}: {v} != {got}")
    ds.close()
