"""The QuTiP comparison of the qutip_*.py tests: a model's E_A(t), E_B(t) from `qbmap point`
against QuTiP's mesolve of the same master equation from the vacuum, after checking that the
Fock truncation of the QuTiP side is converged.  Results are counted through qbcheck.check."""
import numpy as np
import qutip as qt

from qbcheck import check, qbmap_point

TRUNCATION_TOL = 1e-7  # largest relative change of QuTiP's energies from n to n + 1 levels
AGREEMENT_TOL = 1e-6  # largest relative deviation of qbmap from QuTiP


def energies(H, rho0, cops, a, b, times, atol):
    """(<a^+a>, <b^+b>) at `times` (t = 0 excluded) by mesolve from rho0 at t = 0, with absolute
    tolerance atol (relative 1e-12)."""
    opts = qt.Options(atol=atol, rtol=1e-12, nsteps=1000000)
    r = qt.mesolve(H, rho0, [0.0] + list(times), c_ops=cops, e_ops=[a.dag() * a, b.dag() * b],
                   options=opts)
    return np.array(r.expect[0][1:]), np.array(r.expect[1][1:])


def _compare_point(qbmap, model, k, pt, times, qutip_energies, levels, s, unit):
    ea_lo, eb_lo = qutip_energies(pt, levels)
    ea, eb = qutip_energies(pt, levels + 1)
    trunc = max(np.max(np.abs(eb - eb_lo) / eb), np.max(np.abs(ea - ea_lo) / ea))
    check(trunc < TRUNCATION_TOL,
          f"point {k}: Fock truncation {levels} vs {levels + 1} levels changes energies by {trunc:.2e}")
    worst = 0.0
    for i, t in enumerate(times):
        v = qbmap_point(qbmap, model, dict(pt, t=t))
        for name, q, ref in (("E_B", v["E_B"], eb[i]), ("E_A", v["E_A"], ea[i])):
            rel = abs(q / s - ref / s) / (ref / s)
            worst = max(worst, rel)
            check(rel < AGREEMENT_TOL, f"point {k} t={t}: {name}{unit} qbmap {q / s:.12g} vs QuTiP "
                  f"{ref / s:.12g} (rel {rel:.2e})")
    print(f"point {k}: truncation {trunc:.1e}, E_B{unit}(t={times[-1]}) = {eb[-1] / s:.6g}, "
          f"largest relative deviation qbmap vs QuTiP {worst:.1e}")


def compare(qbmap, model, points, times, qutip_energies, levels, scale=None, unit=""):
    """For each parameter dict of `points`: qutip_energies(point, n) -> (E_A, E_B) at `times`
    must change by less than TRUNCATION_TOL from n = levels to levels + 1, and `qbmap point
    MODEL point t=T` must give E_A and E_B within AGREEMENT_TOL (relative) of the levels + 1
    values at every T.  Energies are compared divided by scale(point) (1 without), which the
    messages write as E_B{unit}."""
    for k, pt in enumerate(points):
        s = scale(pt) if scale else 1.0
        _compare_point(qbmap, model, k, pt, times, qutip_energies, levels, s, unit)
