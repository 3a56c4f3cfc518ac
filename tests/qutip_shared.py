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

from qbcheck import guarded
from qutip_compare import compare, energies

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
    return energies(H, rho0, cops, a, b, TIMES, atol=1e-14)


with guarded("qutip_shared"):
    compare(qbmap, "shared", POINTS, TIMES, qutip_energies, levels=6, scale=lambda pt: pt["F"] ** 2,
            unit="/F^2")
