"""References for model `network` (docs/physics.md §5), shared by qutip_network.py and
network_closed.py.

A *network* here is the `network:` section of a qbmap config (tests/data/network/*.yaml) with
every expression replaced by a number (`numeric`); from it:

- `qutip_moments(net, times, levels)`: QuTiP.  H and the collapse operators
  sqrt(rate (n_th + 1)) L, sqrt(rate n_th) L^+ on a Fock space truncated to `levels` per mode;
  mesolve from the vacuum and steadystate; per mode <m^+m>, <m> and the ergotropy from the
  eigenvalues of the reduced single-mode density matrix (passive energy = sum of the populations
  sorted descending times the ascending Fock numbers 0, 1, 2, ...).  The steady state is a
  sparse LU solve up to 100 states, beyond that preconditioned GMRES (tolerance 1e-15): the LU
  fill-in makes 125 states (three modes of 5 levels) take over a minute.
- `gaussian_moments(net, times)`: NumPy/SciPy.  The moment equations of §5 (means alpha, C, Q),
  vectorized into one affine complex linear system and propagated exactly with
  scipy.linalg.expm of the augmented matrix [[L, b], [0, 0]]; steady state by a dense solve of
  L z = -b; per mode E = |alpha|^2 + C_jj, nbar = nu - 1/2, W = E - nbar.
  `gaussian_moments_ivp` integrates the same equations with solve_ivp (DOP853) as a check of the
  exponential.

Both return {mode: {"E": [...], "re": [...], "im": [...], "W": [...], "nbar": [...]}} at the times
and the same with the suffix "_ss" (one number each) for the steady state.

`qbmap_point_config` runs `qbmap point network --config FILE name=value ...`.
`python3 network_ref.py --selfcheck [FILE ...]` compares the two references on the YAML files.
"""
import math
import subprocess
import sys

import numpy as np
import scipy.integrate
import scipy.linalg
import yaml

# ---------------------------------------------------------------- config and expressions

_FUNCS = {name: getattr(math, name) for name in
          ("sqrt", "exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
           "tanh", "fabs")}
_FUNCS.update(pi=math.pi, abs=abs, ln=math.log, log10=math.log10, _e=math.e)


def evaluate(expr, values):
    """A number, or a muParser-style expression (`-delta`, `2*g`, `sqrt(ka*kb)/2`, `x^2`,
    `pi`) evaluated with the symbols of `values`; raises if a symbol has no value."""
    if isinstance(expr, (int, float)):
        return float(expr)
    ns = dict(_FUNCS)
    ns.update(values)
    return float(eval(str(expr).replace("^", "**"), {"__builtins__": {}}, ns))  # noqa: S307


def load_config(path):
    """(network section with expressions, fixed values) of a qbmap config file."""
    with open(path) as f:
        cfg = yaml.safe_load(f)
    if cfg.get("model") != "network":
        raise ValueError(f"{path}: model is not network")
    return cfg["network"], dict(cfg.get("fixed") or {})


def _coeff(c, values):
    if isinstance(c, list):
        return evaluate(c[0], values) * np.exp(1j * evaluate(c[1], values))
    return complex(evaluate(c, values))


def numeric(net, values):
    """The network with every expression evaluated (values: fixed overridden by the point):
    {"modes": [...], "battery": name, "h": (n, n), "S": (n, n), "F": (n,), "diss": [(gamma,
    n_th, c (n,))]}, in the conventions of docs/physics.md §5."""
    modes = list(net["modes"])
    idx = {m: i for i, m in enumerate(modes)}
    n = len(modes)
    h = np.zeros((n, n), complex)
    S = np.zeros((n, n), complex)
    F = np.zeros(n, complex)
    for term in net.get("hamiltonian") or []:
        v = evaluate(term["value"], values)
        ph = np.exp(1j * evaluate(term.get("phase", 0), values))
        if "detuning" in term:
            j = idx[term["detuning"]]
            h[j, j] += v
        elif "hopping" in term:
            j, k = (idx[m] for m in term["hopping"])
            h[j, k] += v * ph
            h[k, j] += v * np.conj(ph)
        elif "squeezing" in term:
            j, k = (idx[m] for m in term["squeezing"])
            S[j, k] += v * ph
            if j != k:
                S[k, j] += v * ph
        elif "drive" in term:
            F[idx[term["drive"]]] += v * ph
        else:
            raise ValueError(f"unknown Hamiltonian term {term}")
    diss = []
    for d in net.get("dissipators") or []:
        c = np.zeros(n, complex)
        for m, cm in d["L"].items():
            c[idx[m]] += _coeff(cm, values)
        diss.append((evaluate(d["rate"], values), evaluate(d.get("n_th", 0), values), c))
    return dict(modes=modes, battery=net.get("battery", modes[-1]), h=h, S=S, F=F, diss=diss)


def point_network(path, point):
    """numeric() of a config file's network at its fixed values overridden by `point`."""
    net, fixed = load_config(path)
    values = dict(fixed)
    values.update({k: v for k, v in point.items() if k != "t"})
    return numeric(net, values)


# ---------------------------------------------------------------- QuTiP reference

def _ops(nl):
    import qutip as qt
    ops = []
    for j in range(len(nl)):
        ops.append(qt.tensor([qt.destroy(nl[i]) if i == j else qt.qeye(nl[i])
                              for i in range(len(nl))]))
    return ops


def qutip_system(net, levels):
    """(H, collapse operators, annihilation operators, vacuum) on `levels` Fock levels per mode
    (an int or one per mode)."""
    import qutip as qt
    n = len(net["modes"])
    nl = [levels] * n if isinstance(levels, int) else list(levels)
    a = _ops(nl)
    h, S, F = net["h"], net["S"], net["F"]
    H = 0 * a[0].dag() * a[0]
    for j in range(n):
        H += F[j] * a[j].dag() + np.conj(F[j]) * a[j]
        for k in range(n):
            if h[j, k] != 0:
                H += h[j, k] * a[j].dag() * a[k]
            if S[j, k] != 0:
                H += 0.5 * (S[j, k] * a[j].dag() * a[k].dag() + np.conj(S[j, k]) * a[k] * a[j])
    cops = []
    for gamma, nth, c in net["diss"]:
        L = sum(c[j] * a[j] for j in range(n) if c[j] != 0)
        if gamma * (nth + 1) > 0:
            cops.append(np.sqrt(gamma * (nth + 1)) * L)
        if gamma * nth > 0:
            cops.append(np.sqrt(gamma * nth) * L.dag())
    rho0 = qt.tensor([qt.fock_dm(k, 0) for k in nl])
    return H, cops, a, rho0


def _mode_values(rho, a, j):
    """E, <a>, passive energy (sorted eigenvalues of the reduced state) of mode j."""
    import qutip as qt
    E = qt.expect(a[j].dag() * a[j], rho)
    al = qt.expect(a[j], rho)
    p = np.sort(np.linalg.eigvalsh(rho.ptrace(j).full()))[::-1]
    passive = float(np.dot(p, np.arange(len(p))))
    return E, al, passive


def qutip_moments(net, times, levels, steady=True, atol=1e-14):
    """QuTiP's per-mode values at `times` (t > 0) and, if steady, in the steady state."""
    import qutip as qt
    H, cops, a, rho0 = qutip_system(net, levels)
    opts = qt.Options(atol=atol, rtol=1e-12, nsteps=1000000)
    r = qt.mesolve(H, rho0, [0.0] + list(times), c_ops=cops, e_ops=[], options=opts)
    states = r.states[1:]
    rss = None
    if steady and H.shape[0] <= 100:
        rss = qt.steadystate(H, cops, use_rcm=True)  # sparse LU: fill-in grows fast with size
    elif steady:
        rss = qt.steadystate(H, cops, method="iterative-gmres", use_precond=True, tol=1e-15,
                             maxiter=5000)
    out = {}
    for j, m in enumerate(net["modes"]):
        d = {k: [] for k in ("E", "re", "im", "W", "nbar")}
        for rho in states:
            E, al, passive = _mode_values(rho, a, j)
            for k, v in zip(("E", "re", "im", "W", "nbar"), (E, al.real, al.imag, E - passive,
                                                              passive)):
                d[k].append(v)
        d = {k: np.array(v) for k, v in d.items()}
        if steady:
            E, al, passive = _mode_values(rss, a, j)
            d.update(E_ss=E, re_ss=al.real, im_ss=al.imag, W_ss=E - passive, nbar_ss=passive)
        out[m] = d
    return out


# ---------------------------------------------------------------- Gaussian reference

def drift(net):
    """M, N, the Bogoliubov drift B = [[M, N], [N*, M*]], T, in the conventions of §5."""
    n = len(net["modes"])
    G = np.zeros((n, n), complex)
    T = np.zeros((n, n), complex)
    for gamma, nth, c in net["diss"]:
        G += gamma * np.outer(np.conj(c), c)
        T += gamma * nth * np.outer(c, np.conj(c))
    M = -1j * net["h"] - 0.5 * G
    N = -1j * net["S"]
    B = np.block([[M, N], [np.conj(N), np.conj(M)]])
    return M, N, B, T


def growth_rate(net):
    return float(np.max(np.linalg.eigvals(drift(net)[2]).real))


def _kron_lr(A, B):
    """Matrix of X -> A X B on column-major vec(X): B^T (x) A."""
    return np.kron(B.T, A)


def affine_system(net):
    """(L, b) with z' = L z + b for z = [alpha, alpha*, vec C, vec Q, vec Q*] (column-major
    vec), the moment equations of §5:
      alpha' = M alpha + N alpha* - i F
      C' = M* C + C M^T + N* Q + Q* N^T + T
      Q' = M Q + Q M^T + N C + (N C)^T + N,   (N C)^T = C^T N^T,  C^T = P C (transpose)
    and the conjugate equations for alpha*, Q*."""
    M, N, B, T = drift(net)
    n = M.shape[0]
    In = np.eye(n)
    Mc, Nc = np.conj(M), np.conj(N)
    P = np.zeros((n * n, n * n))
    for j in range(n):
        for k in range(n):
            P[j + n * k, k + n * j] = 1.0  # vec(X^T) = P vec(X)
    n2 = n * n
    L = np.zeros((2 * n + 3 * n2, 2 * n + 3 * n2), complex)
    b = np.zeros(2 * n + 3 * n2, complex)
    L[:2 * n, :2 * n] = B
    b[:n] = -1j * net["F"]
    b[n:2 * n] = 1j * np.conj(net["F"])
    iC, iQ, iQc = 2 * n, 2 * n + n2, 2 * n + 2 * n2
    L[iC:iQ, iC:iQ] = _kron_lr(Mc, In) + _kron_lr(In, M.T)
    L[iC:iQ, iQ:iQc] = _kron_lr(Nc, In)
    L[iC:iQ, iQc:] = _kron_lr(In, N.T)
    b[iC:iQ] = T.flatten(order="F")
    L[iQ:iQc, iQ:iQc] = _kron_lr(M, In) + _kron_lr(In, M.T)
    L[iQ:iQc, iC:iQ] = _kron_lr(N, In) + _kron_lr(In, N.T) @ P
    b[iQ:iQc] = N.flatten(order="F")
    # conjugate of the Q equation; C* = C^T = P C
    L[iQc:, iQc:] = _kron_lr(Mc, In) + _kron_lr(In, Mc.T)
    L[iQc:, iC:iQ] = _kron_lr(Nc, In) @ P + _kron_lr(In, Nc.T)
    b[iQc:] = Nc.flatten(order="F")
    return L, b


def _per_mode(net, z):
    """{mode: (E, re, im, W, nbar)} from a state vector z."""
    n = len(net["modes"])
    n2 = n * n
    alpha = z[:n]
    C = z[2 * n:2 * n + n2].reshape((n, n), order="F")
    Q = z[2 * n + n2:2 * n + 2 * n2].reshape((n, n), order="F")
    out = {}
    for j, m in enumerate(net["modes"]):
        Cjj = C[j, j].real
        E = abs(alpha[j]) ** 2 + Cjj
        nu = math.sqrt((Cjj + 0.5) ** 2 - abs(Q[j, j]) ** 2)
        out[m] = (E, alpha[j].real, alpha[j].imag, E - (nu - 0.5), nu - 0.5)
    return out


def _collect(net, zs, zss):
    keys = ("E", "re", "im", "W", "nbar")
    out = {m: {k: [] for k in keys} for m in net["modes"]}
    for z in zs:
        for m, vals in _per_mode(net, z).items():
            for k, v in zip(keys, vals):
                out[m][k].append(v)
    for m in net["modes"]:
        out[m] = {k: np.array(v) for k, v in out[m].items()}
    if zss is not None:
        for m, vals in _per_mode(net, zss).items():
            out[m].update({k + "_ss": v for k, v in zip(keys, vals)})
    return out


def gaussian_state(net, t):
    """z(t) from the vacuum (z(0) = 0) by the augmented exponential: the last column of
    exp([[L, b], [0, 0]] t) is (z(t), 1)."""
    L, b = affine_system(net)
    m = L.shape[0]
    A = np.zeros((m + 1, m + 1), complex)
    A[:m, :m] = L
    A[:m, m] = b
    return scipy.linalg.expm(A * t)[:m, m]


def gaussian_moments(net, times, steady=True):
    """The Gaussian reference's per-mode values at `times` and (if steady and stable) in the
    steady state."""
    zs = [gaussian_state(net, t) for t in times]
    zss = None
    if steady:
        if growth_rate(net) >= 0:
            raise ValueError("no steady state: the network is not stable")
        L, b = affine_system(net)
        zss = np.linalg.solve(L, -b)
    return _collect(net, zs, zss)


def gaussian_moments_ivp(net, times):
    """The same moments by solve_ivp (DOP853, rtol 1e-13) instead of the exponential."""
    L, b = affine_system(net)
    Lr = np.block([[L.real, -L.imag], [L.imag, L.real]])
    br = np.concatenate([b.real, b.imag])
    m = L.shape[0]
    sol = scipy.integrate.solve_ivp(lambda _t, y: Lr @ y + br, (0.0, max(times)),
                                    np.zeros(2 * m), method="DOP853", t_eval=list(times),
                                    rtol=1e-13, atol=1e-15)
    zs = [sol.y[:m, i] + 1j * sol.y[m:, i] for i in range(len(times))]
    return _collect(net, zs, None)


# ---------------------------------------------------------------- qbmap CLI

def qbmap_point_config(qbmap, config, params, model="network"):
    """Every field `qbmap point MODEL --config CONFIG name=value ...` prints, as {name: float};
    parsed like qbcheck.qbmap_point (fields, `status` last, then the status in words)."""
    args = [f"{k}={v!r}" for k, v in params.items()]
    out = subprocess.run([qbmap, "point", model, "--config", str(config)] + args,
                         capture_output=True, text=True, check=True).stdout
    vals = {}
    lines = out.splitlines()
    fields = [line for line in lines if not line.startswith("#")]
    if not fields or not fields[-1].startswith("status = ") or not lines[-1].startswith("# status"):
        raise ValueError(f"qbmap point {model} --config {config}: not fields, then the status in "
                         f"words:\n{out}")
    for line in fields:
        k, v = line.split(" = ")
        if k in vals:
            raise ValueError(f"qbmap point {model}: field {k} printed twice")
        vals[k] = float(v)
    return vals


# ---------------------------------------------------------------- self-check

def rel_dev(x, ref, floor):
    """|x - ref| / max(|ref|, floor), elementwise max."""
    x, ref = np.asarray(x, float), np.asarray(ref, float)
    return float(np.max(np.abs(x - ref) / np.maximum(np.abs(ref), floor)))


def _selfcheck(names):
    """Steps 1-2 of qutip_network.py (truncation, Gaussian reference vs QuTiP) on its networks,
    plus solve_ivp vs the exponential, with the largest scaled deviation per quantity."""
    import time
    import qutip_network as qn
    for name, point, levels, tol in qn.NETWORKS:
        if names and name not in names:
            continue
        t0 = time.time()
        net, q, q1, g = qn.references(name, point, levels)
        dt = time.time() - t0
        gi = gaussian_moments_ivp(net, qn.TIMES)
        trunc = qn.deviations(q, q1, g, net["modes"])
        agree = qn.deviations(g, q1, g, net["modes"])
        print(f"{name}: growth {growth_rate(net):.6g}, QuTiP levels {levels} and +1: {dt:.1f} s, "
              f"tolerances {tol}")
        for k in qn.QUANTITIES:
            ivp = max(abs(gi[m][k][i] - g[m][k][i]) / qn.scale(g, m, k, i)
                      for m in net["modes"] for i in range(len(qn.TIMES)))
            tr = max(v for key, v in trunc.items() if key[1] == k)
            ag = max(v for key, v in agree.items() if key[1] == k)
            print(f"  {k:4s}: truncation {tr:.1e}  Gaussian vs QuTiP {ag:.1e}  ivp vs expm {ivp:.1e}")
        for m in net["modes"]:
            print(f"  {m}: E(t) {np.array2string(g[m]['E'], precision=6)}, "
                  f"W(t) {np.array2string(g[m]['W'], precision=6)}, E_ss {g[m]['E_ss']:.6g}, "
                  f"W_ss {g[m]['W_ss']:.6g}")


DATA_DIR = __import__("os").path.join(__import__("os").path.dirname(__file__), "data", "network")

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--selfcheck":
        _selfcheck(sys.argv[2:])
    else:
        print(__doc__)
