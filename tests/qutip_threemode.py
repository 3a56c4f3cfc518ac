#!/usr/bin/python3
"""Model `threemode` against QuTiP: mesolve of the EP paper's master equation (Eq. 9, Lindblad
D[o] = o.o^+ - {o^+o, .}/2) for a, b, c from the vacuum, at 4 points (complex couplings,
delta_c != 0, zero local losses), small drive E so that Fock spaces of N levels suffice; the
truncation is checked by comparing 5 and 6 levels per mode.  <b^+b>(t) and <a^+a>(t) must agree with
`qbmap point threemode` to 1e-6 relative.  Usage: qutip_threemode.py QBMAP"""
import sys

import numpy as np
import qutip as qt

from qbcheck import guarded
from qutip_compare import compare, energies

qbmap = sys.argv[1]

POINTS = [
    dict(delta=0.3, delta_c=0.0, kappa_a=0.2, kappa_b=0.1, kappa_c=2.0, Gamma=1.0, E=0.05),
    dict(delta=-0.5, delta_c=0.7, kappa_a=0.05, kappa_b=0.3, kappa_c=1.0, Gamma=0.8, E=0.04,
         p_a=1.3, p_a_phase=0.4, p_b=0.7, p_b_phase=-1.1, p_ca=0.9, p_ca_phase=2.0, p_cb=1.2,
         p_cb_phase=0.3),
    dict(delta=1.0, delta_c=-0.4, kappa_a=0.0, kappa_b=0.0, kappa_c=0.5, Gamma=1.5, E=0.03,
         p_a=0.8, p_a_phase=1.0, p_b=1.1, p_b_phase=0.2, p_ca=1.0, p_ca_phase=-0.5, p_cb=0.6,
         p_cb_phase=1.7),
    dict(delta=0.0, delta_c=0.2, kappa_a=0.4, kappa_b=0.05, kappa_c=3.0, Gamma=2.0, E=0.05,
         p_a=0.5, p_a_phase=-2.0, p_b=1.5, p_b_phase=0.9, p_ca=1.4, p_ca_phase=0.0, p_cb=0.8,
         p_cb_phase=-0.7),
]
TIMES = [0.5, 2.0, 6.0, 15.0]


def coupling(pt, name):
    return pt.get(name, 1.0) * np.exp(1j * pt.get(name + "_phase", 0.0))


def qutip_energies(pt, n):
    a = qt.tensor(qt.destroy(n), qt.qeye(n), qt.qeye(n))
    b = qt.tensor(qt.qeye(n), qt.destroy(n), qt.qeye(n))
    c = qt.tensor(qt.qeye(n), qt.qeye(n), qt.destroy(n))
    H = pt["delta"] * a.dag() * a - pt["delta"] * b.dag() * b + pt["delta_c"] * c.dag() * c \
        + pt["E"] * (a + a.dag())
    za = coupling(pt, "p_a") * a + coupling(pt, "p_ca") * c
    zb = coupling(pt, "p_b") * b + coupling(pt, "p_cb") * c
    cops = [np.sqrt(pt["kappa_a"]) * a, np.sqrt(pt["kappa_b"]) * b, np.sqrt(pt["kappa_c"]) * c,
            np.sqrt(pt["Gamma"]) * za, np.sqrt(pt["Gamma"]) * zb]
    rho0 = qt.tensor(qt.basis(n, 0), qt.basis(n, 0), qt.basis(n, 0))
    return energies(H, rho0, cops, a, b, TIMES, atol=1e-15)


with guarded("qutip_threemode"):
    compare(qbmap, "threemode", POINTS, TIMES, qutip_energies, levels=5)
