#!/usr/bin/python3
"""analysis/qbplot.py on small qbmap outputs made here (the example configs of the figures):
every subcommand writes a non-empty PNG (and a PDF when asked); the overlay extraction returns exactly the /boundary and /ep points of the slice; bad
input is one line and exit 2.  Usage: analysis.py QBMAP MPIEXEC TESTS_SOURCE_DIR"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from qbcheck import check, report

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


def run(cfg_text, out, extra=()):
    cfg = out + ".yaml"
    with open(cfg, "w") as f:
        f.write(cfg_text)
    subprocess.run([mpiexec, "-n", "2", qbmap, "run", cfg, "-o", out, "--progress", "0", *extra],
                   check=True, capture_output=True)


def png_ok(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 5000


with tempfile.TemporaryDirectory() as tmp:
    f3 = os.path.join(tmp, "fig3.h5")
    run(FIG3, f3)
    f6 = os.path.join(tmp, "fig6.h5")
    subprocess.run([qbmap, "run", os.path.join(root, "examples", "ep_fig6.yaml"), "-o", f6],
                   check=True, capture_output=True)
    made = {}
    for c in ("so_fig6", "ep_fig2", "ep_fig5", "so_fig2", "so_fig3_4", "so_fig7"):
        made[c] = os.path.join(tmp, c + ".h5")
        subprocess.run([mpiexec, "-n", "2", qbmap, "run", os.path.join(root, "examples", c + ".yaml"),
                        "-o", made[c]], check=True, capture_output=True)
    so6 = made["so_fig6"]
    py = "/usr/bin/python3"
    tool = os.path.join(root, "analysis", "qbplot.py")
    cases = [
        ("map", [f3, "growth_rate", "--x", "delta_r", "--y", "alpha", "--sel", "gamma_b=1"]),
        ("ep-fig3", [f3]),
        ("ep-fig6", [f6]),
        ("so-fig6", [so6]),
        ("ep-fig2", [made["ep_fig2"]]),
        ("ep-fig5", [made["ep_fig5"]]),
        ("so-fig2", [made["so_fig2"], made["so_fig3_4"]]),
        ("so-fig7", [made["so_fig7"]]),
    ]
    for cmd, args in cases:
        out = os.path.join(tmp, cmd + ".png")
        r = subprocess.run([py, tool, cmd, *args, "-o", out], capture_output=True, text=True)
        check(r.returncode == 0 and png_ok(out), f"qbplot {cmd}: exit {r.returncode} {r.stderr}")
    pdf = os.path.join(tmp, "fig6.pdf")
    r = subprocess.run([py, tool, "ep-fig6", f6, "-o", pdf], capture_output=True, text=True)
    check(r.returncode == 0 and open(pdf, "rb").read(5) == b"%PDF-", "qbplot writes PDF")
    r = subprocess.run([py, tool, "summary", f3], capture_output=True, text=True)
    check(r.returncode == 0 and "group /boundary:" in r.stdout and "group /ep: 6 points" in r.stdout,
          "qbplot summary lists the groups")
    r = subprocess.run([py, tool, "map", f3, "growth_rate", "--x", "delta_r", "--y", "alpha"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "needs --sel gamma_b=VALUE" in r.stderr and
          r.stderr.count("\n") == 1, "qbplot map without --sel: one clear line")

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
            check(ex.size == 2 and np.allclose(np.abs(ex), 1, atol=1e-12) and
                  np.allclose(ey, 0, atol=1e-12), f"EP overlay for gamma_b = {gb}")
report("analysis")
