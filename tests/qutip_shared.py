#!/usr/bin/python3
"""Model `shared` against QuTiP: mesolve of the SO paper's master equation (Eq. 3, Lindblad
dissipators, rotating-frame H = Delta (a^+a + b^+b) + J a^+b + J* a b^+ + F (a + a^+)) from the
vacuum at 3 points (complex J and couplings, phi != 0, Gamma != 0).  Small drive; energies are
compared divided by F^2; the Fock truncation is checked by comparing 6 and 7 levels per mode.
E_A(t), E_B(t) must agree with `qbmap point shared` to 1e-6 relative.
Usage: qutip_shared.py QBMAP"""
import sys

import numpy as np
import qutip as qt

from qbcheck import check, guarded, qbmap_point

qbmap = sys.argv[1]
POINTS = [
    dict(Delta=0.2, J=0.2, phi=0.0, Gamma=0.4, kappa_a=0.05, kappa_b=0.01, F=0.005),
    dict(Delta=-0.1, J=0.15, phi=1.1, Gamma=0.3, p_a=1.3, p_a_phase=0.7, p_b=0.8,
         p_b_phase=-0.4, kappa_a=0.08, kappa_b=0.02, F=0.02),
    dict(Delta=0.05, J=0.0, phi=0.0, Gamma=0.4, p_a=1.4953487812212205,
         p_b=0.66874030497642201, kappa_a=0.05, kappa_b=0.01, F=0.01),
]
TIMES = [1.0, 5.0, 20.0, 60.0]


def qutip_energies(pt, n):
    a = qt.tensor(qt.destroy(n), qt.qeye(n))
    b = qt.tensor(qt.qeye(n), qt.destroy(n))
    J = pt["J"] * np.exp(1j * pt["phi"])
    H = pt["Delta"] * (a.dag() * a + b.dag() * b) + J * a.dag() * b + np.conj(J) * a * b.dag() \
        + pt["F"] * (a + a.dag())
    pa = pt.get("p_a", 1.0) * np.exp(1j * pt.get("p_a_phase", 0.0))
    pb = pt.get("p_b", 1.0) * np.exp(1j * pt.get("p_b_phase", 0.0))
    z = pa * a + pb * b
    cops = [np.sqrt(pt["Gamma"]) * z, np.sqrt(pt["kappa_a"]) * a, np.sqrt(pt["kappa_b"]) * b]
    rho0 = qt.tensor(qt.basis(n, 0), qt.basis(n, 0))
    opts = qt.Options(atol=1e-14, rtol=1e-12, nsteps=1000000)
    r = qt.mesolve(H, rho0, [0.0] + TIMES, c_ops=cops, e_ops=[a.dag() * a, b.dag() * b], options=opts)
    return np.array(r.expect[0][1:]), np.array(r.expect[1][1:])


def qbmap_energies(pt, t):
    v = qbmap_point(qbmap, "shared", dict(pt, t=t))
    return v["E_A"], v["E_B"]


with guarded("qutip_shared"):
    for k, pt in enumerate(POINTS):
        f2 = pt["F"] ** 2
        ea6, eb6 = qutip_energies(pt, 6)
        ea7, eb7 = qutip_energies(pt, 7)
        trunc = max(np.max(np.abs(eb7 - eb6) / eb7), np.max(np.abs(ea7 - ea6) / ea7))
        check(trunc < 1e-7, f"point {k}: Fock truncation 6 vs 7 levels changes energies by {trunc:.2e}")
        worst = 0.0
        for i, t in enumerate(TIMES):
            ea, eb = qbmap_energies(pt, t)
            for name, q, ref in (("E_B", eb, eb7[i]), ("E_A", ea, ea7[i])):
                rel = abs(q / f2 - ref / f2) / (ref / f2)
                worst = max(worst, rel)
                check(rel < 1e-6, f"point {k} t={t}: {name}/F^2 qbmap {q / f2:.12g} vs QuTiP {ref / f2:.12g} (rel {rel:.2e})")
        print(f"point {k}: truncation {trunc:.1e}, E_B/F^2(t={TIMES[-1]}) = {eb7[-1] / f2:.6g}, "
              f"largest relative deviation qbmap vs QuTiP {worst:.1e}")
