#!/usr/bin/python3
"""QuTiP reference numbers for test_gauss's `qutip` part (the convention check of qb_gauss).

Two modes, squeezing (single- and two-mode) and thermal noise, from the vacuum:
H = sum h_jk a_j^+ a_k + 1/2 sum (S_jk a_j^+ a_k^+ + h.c.) + sum (F_j a_j^+ + h.c.),
dissipators gamma (n+1) D[L] + gamma n D[L^+], L = sum_j c_j a_j.  Prints, per t and mode j,
Re/Im <a_j>, C_jj = <a_j^+ a_j> - |<a_j>|^2, Re/Im Q_jj = <a_j a_j> - <a_j>^2 (Fock cutoff NF;
16 levels: the truncation error is ~1e-9, docs/physics.md 5).  Runs in a few seconds."""
import numpy as np
import qutip as qt

NF = 16
e = np.exp
h = np.array([[0.3, 0.2 * e(0.4j)], [0.2 * e(-0.4j), -0.1]])
S = np.array([[0.05 * e(0.3j), 0.08 * e(-0.7j)], [0.08 * e(-0.7j), 0.0]])
F = np.array([0.1, 0.05j])
diss = [(0.5, 0.2, (1, 0)), (0.3, 0.1, (0.6, 0.8 * e(0.5j))), (0.4, 0.0, (0, 1))]
a = [qt.tensor(qt.destroy(NF), qt.qeye(NF)), qt.tensor(qt.qeye(NF), qt.destroy(NF))]
H = 0
for j in range(2):
    H += F[j] * a[j].dag() + np.conj(F[j]) * a[j]
    for k in range(2):
        H += h[j, k] * a[j].dag() * a[k]
        H += 0.5 * (S[j, k] * a[j].dag() * a[k].dag() + np.conj(S[j, k]) * a[k] * a[j])
cops = []
for g, n, c in diss:
    L = c[0] * a[0] + c[1] * a[1]
    if g * (n + 1) > 0:
        cops.append(np.sqrt(g * (n + 1)) * L)
    if g * n > 0:
        cops.append(np.sqrt(g * n) * L.dag())
rho0 = qt.tensor(qt.basis(NF, 0), qt.basis(NF, 0)) * qt.tensor(qt.basis(NF, 0), qt.basis(NF, 0)).dag()
ts = [0.0, 1.0, 4.0]
opts = qt.Options(atol=1e-12, rtol=1e-10, nsteps=100000)  # QuTiP 4
res = qt.mesolve(H, rho0, ts, cops, [], options=opts)
for i, t in enumerate(ts[1:], 1):
    r = res.states[i]
    for j in range(2):
        al = qt.expect(a[j], r)
        C = qt.expect(a[j].dag() * a[j], r) - abs(al) ** 2
        Q = qt.expect(a[j] * a[j], r) - al ** 2
        print("  {%.1f, %d, %.12e, %.12e, %.12e, %.12e, %.12e}," % (t, j, al.real, al.imag, C, Q.real, Q.imag))
