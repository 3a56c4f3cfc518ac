/* qb_gauss: the numerical core of model `network` (issue 13): first and second moments of a
 * linear bosonic network (n <= QB_GAUSS_NMAX modes, quadratic Hamiltonian, linear drives,
 * linear thermal dissipators) from the vacuum at t >= 0, and in the steady state.  Pure
 * numerics: no YAML, no expressions, no status bits of qb_status (its own flags below).
 *
 * Conventions (docs/physics.md, sections 5 and 7):
 *   H = sum h_jk a_j^+ a_k + 1/2 sum (S_jk a_j^+ a_k^+ + h.c.) + sum (F_j a_j^+ + h.c.),
 *   dissipator k: L_k = sum_j c_kj a_j, gamma_k (n_k + 1) D[L_k] + gamma_k n_k D[L_k^+].
 * Outputs per mode j: alpha_j = <a_j>, C_j = C_jj = <da_j^+ da_j>, Q_j = Q_jj = <da_j da_j>
 * and their time derivatives; the growth rate (max Re eig of the drift).
 *
 * Method (section 7 of docs/physics.md).  Real basis r = (Re alpha, Im alpha): r' = A r + b;
 * the EXCESS covariance Sigma = sigma - sigma_vac of (u, v) = (Re a, Im a):
 * Sigma' = A Sigma + Sigma A^T + D', Sigma(0) = 0, with D' built from the sources T (thermal)
 * and N = -iS (squeezing) alone: zero temperature without squeezing gives C = Q = 0 exactly.
 * Transient: A = V diag(lambda) V^-1 once per plan, then per t
 *   r(t) = V diag(phi(lambda t)) V^-1 b,  Sigma(t) = V [Dt_ab psi_ab(t)] V^T,
 *   phi = (e^{lambda t} - 1)/lambda, psi_ab = phi at lambda_a + lambda_b, Dt = V^-1 D' V^-T,
 * derivatives with e^{lambda t} in place of phi (no cancellation near the steady state).  A
 * first-order error estimate per output decides per t whether this fast path is accurate to
 * QB_GAUSS_TOL of its scale; otherwise (and where kappa(V) > QB_GAUSS_KAPPA_MAX) the
 * augmented exponentials of qb_gauss_reference are used (flag QB_GAUSS_FALLBACK).
 *
 * Thread-safety: a plan is read-only after qb_gauss_plan_make; many threads may share it.
 * Allocation: qb_gauss_plan_make, qb_gauss_steady and the fast path of qb_gauss_at allocate
 * nothing (stack arrays, column-major LAPACKE *_work calls); qb_gauss_reference (and so the
 * fallback of qb_gauss_at) allocates GSL matrices.  Deterministic: same inputs, same bits. */
#ifndef QB_GAUSS_H
#define QB_GAUSS_H

#include <complex.h>
#include <stdbool.h>

#include "qbmap/qb_spectral.h"

#define QB_GAUSS_NMAX 8  /* modes */
#define QB_GAUSS_DMAX 32 /* dissipators */
#define QB_GAUSS_MMAX (2 * QB_GAUSS_NMAX)
#define QB_GAUSS_NPAIR (QB_GAUSS_MMAX * (QB_GAUSS_MMAX + 1) / 2) /* pairs a <= b */

/* Accuracy the fast path must estimate for itself, relative to each output group's scale (see
 * qb_gauss_moments), else qb_gauss_at falls back -- unless the estimate is still within what
 * the fallback promises, eps (64 + 8 ||A||_1 t) of the scale (large ||A|| t: e^{At} itself is
 * that sensitive to the rounding of A's entries; falling back would not help). */
#define QB_GAUSS_TOL 1e-11
/* Largest kappa_1(V) at which the eigendecomposition is used at all. */
#define QB_GAUSS_KAPPA_MAX 1e6
/* Without squeezing, what each mode's mean must be resolved to (relative to itself) from the
 * eigendecomposition (qb_gauss_at). */
#define QB_GAUSS_AMP_TOL 1e-11
/* Without squeezing, modes the eigendecomposition does not resolve are next taken from the
 * Taylor series in t where t ||M||_inf <= QB_GAUSS_TAYLOR_MAX (at most QB_GAUSS_TAYLOR_TERMS
 * terms; with componentwise estimates, held to QB_GAUSS_AMP_TOL as well), then from
 * qb_linear_transient. */
#define QB_GAUSS_TAYLOR_MAX 4.0
#define QB_GAUSS_TAYLOR_TERMS 48
/* Stable iff growth < -QB_GAUSS_STABLE_REL * scale (scale: qb_gauss_plan.scale). */
#define QB_GAUSS_STABLE_REL 1e-12

/* A numeric network.  h row-major n x n Hermitian, S row-major n x n symmetric (not checked:
 * the caller builds them so), F drives; dissipator k: rate[k] >= 0, nth[k] >= 0, coefficients
 * c[k * QB_GAUSS_NMAX + j] (row k, mode j; note the fixed row stride NMAX). */
typedef struct {
  int n, nd;
  double complex h[QB_GAUSS_NMAX * QB_GAUSS_NMAX], S[QB_GAUSS_NMAX * QB_GAUSS_NMAX];
  double complex F[QB_GAUSS_NMAX];
  double rate[QB_GAUSS_DMAX], nth[QB_GAUSS_DMAX];
  double complex c[QB_GAUSS_DMAX * QB_GAUSS_NMAX];
} qb_gauss_net;

/* Flags of a qb_gauss_moments (bits; 0 = the fast path, everything finite). */
enum {
  QB_GAUSS_FALLBACK = 1u << 0,   /* augmented exponentials used (the fast path was not accurate) */
  QB_GAUSS_NOT_STABLE = 1u << 1, /* qb_gauss_steady: no steady state; outputs NaN */
  QB_GAUSS_OVERFLOW = 1u << 2,   /* some output is not finite (growth beyond the double range) */
  QB_GAUSS_FAILED = 1u << 3,     /* bad input (n, nd, t, non-finite entries) or a LAPACK/GSL
                                  * failure: outputs NaN */
};

/* Moments per mode.  err_* are absolute first-order estimates (not strict bounds) of each
 * output's error.  Group scales (the "relative" accuracy of QB_GAUSS_TOL is against these):
 *   alpha: max_j |alpha_j|;  dalpha: max_j |dalpha_j|;
 *   C, Q:  max_j (C_j + |Q_j|) (one group: the reduced covariance's excess);  dC, dQ likewise.
 * Q = dQ = 0 exactly when S = 0 (no squeezing: Q is identically zero). */
typedef struct {
  double complex alpha[QB_GAUSS_NMAX], dalpha[QB_GAUSS_NMAX];
  double complex Q[QB_GAUSS_NMAX], dQ[QB_GAUSS_NMAX];
  double C[QB_GAUSS_NMAX], dC[QB_GAUSS_NMAX];
  double err_alpha[QB_GAUSS_NMAX], err_dalpha[QB_GAUSS_NMAX];
  double err_C[QB_GAUSS_NMAX], err_Q[QB_GAUSS_NMAX], err_dC[QB_GAUSS_NMAX], err_dQ[QB_GAUSS_NMAX];
  unsigned flags;
} qb_gauss_moments;

/* Everything a row of t values needs, computed once.  Read-only after qb_gauss_plan_make.
 * Row-major matrices, m = 2n. */
typedef struct {
  int n, m;
  bool ok;       /* inputs valid and finite, drift built */
  bool squeeze;  /* S != 0 */
  bool ready;    /* decomposition usable: V invertible, kappa <= QB_GAUSS_KAPPA_MAX */
  bool stable;   /* growth < -QB_GAUSS_STABLE_REL * scale */
  double scale;  /* largest |A_ij| of the real drift */
  double norm1;  /* ||A||_1 */
  double growth; /* max Re eig: of M = -ih - G/2 when S = 0, of A otherwise */
  double kappa;  /* ||V||_1 ||V^-1||_1 (INFINITY where not ready) */
  int neig;      /* eigenvalues exposed: n (those of M) when S = 0, else 2n (those of A) */
  double complex eig[QB_GAUSS_MMAX]; /* sorted by descending real part, then imaginary part */
  double A[QB_GAUSS_MMAX * QB_GAUSS_MMAX], b[QB_GAUSS_MMAX], Dp[QB_GAUSS_MMAX * QB_GAUSS_MMAX];
  bool noise;  /* D' != 0 (thermal occupation or squeezing): else C = Q = 0 exactly */
  bool driven; /* b != 0: else alpha = 0 exactly */
  double complex lam[QB_GAUSS_MMAX], V[QB_GAUSS_MMAX * QB_GAUSS_MMAX];
  double complex rlam[QB_GAUSS_MMAX];                /* 1/lambda_a (0 where lambda_a = 0) */
  double complex rmu[QB_GAUSS_MMAX * QB_GAUSS_MMAX]; /* 1/(lambda_a + lambda_b) (0 where 0) */
  double complex c[QB_GAUSS_MMAX];                   /* V^-1 b */
  double complex Dt[QB_GAUSS_MMAX * QB_GAUSS_MMAX];  /* V^-1 D' V^-T (symmetric) */
  double absV[QB_GAUSS_MMAX * QB_GAUSS_MMAX];        /* |V_pa| */
  double ec[QB_GAUSS_MMAX];                          /* bound on |c_a - (V^-1 b)_a| */
  double eDt[QB_GAUSS_MMAX * QB_GAUSS_MMAX];         /* bound on |Dt_ab - exact| */
  double rho[QB_GAUSS_MMAX]; /* per eigenvalue: column sums of |V^-1 (A V - V Lambda)| */
  double rhomax;
  qb_gauss_moments ss; /* the steady state (qb_gauss_steady) */
  qb_gauss_net net;    /* a copy, for the fallback */
  /* S = 0: the means obey the complex n x n system alpha' = M alpha + f, f = -iF, taken mode by
   * mode (docs/physics.md §7.2) from its eigendecomposition sp or qb_linear_transient; xss, ess:
   * its steady state with componentwise estimates (where stable) */
  double complex M[QB_GAUSS_NMAX * QB_GAUSS_NMAX], f[QB_GAUSS_NMAX], xss[QB_GAUSS_NMAX];
  double Mt[QB_GAUSS_NMAX * QB_GAUSS_NMAX], ess[QB_GAUSS_NMAX];
  qb_spectral sp;
  /* the lean per-t means (qb_gauss_at): usable (sp usable, every mode decays), and sp's
   * eigenvector-residual terms summed over k != j: Go_j = sum G_jk, Gi_j = sum G_jk invd_jk */
  bool lean;
  double Go[QB_GAUSS_NMAX], Gi[QB_GAUSS_NMAX];
  /* with noise, where decomposed (last: qb_gauss_plan_make clears the plan up to here only;
   * entries beyond n modes and m (m + 1)/2 pairs are not set): per mode j the entries (u,u),
   * (v,v), (u,v) of V Y V^T (u = j, v = n + j) as quadratic forms over the pairs a <= b of a
   * symmetric Y (row 3j + r), and of |V| K |V|^T */
  double complex P[3 * QB_GAUSS_NMAX][QB_GAUSS_NPAIR];
  double Pa[3 * QB_GAUSS_NMAX][QB_GAUSS_NPAIR];
} qb_gauss_plan;

/* Builds the drift, its eigendecomposition, the growth rate, the scale and the steady state.
 * Without squeezing and noise the real form's decomposition (lam, V, c, ec: only
 * qb_gauss_tcrit's bounds use it then) and the eigenvalues come from the complex plan sp (one
 * n x n eigensolver in all), and the real steady solves are skipped (Sigma = 0; the means are
 * sp's system's).
 * Never fails as a call: a bad network (n outside 1..NMAX, nd outside 0..DMAX, a non-finite or
 * negative rate/occupation, a non-finite entry) gives pl->ok = false, and every later call
 * returns QB_GAUSS_FAILED with NaN outputs.  No allocation.  Cost O(n^3) (LAPACK). */
void qb_gauss_plan_make(const qb_gauss_net *net, qb_gauss_plan *pl);

/* Moments at t >= 0 from the vacuum: the fast path, or the fallback (flag) where the fast
 * path's own estimate exceeds QB_GAUSS_TOL of a group scale (without squeezing: per group, the
 * covariance and its derivative each on its own).  Without squeezing (S = 0) the
 * means are taken mode by mode instead, alpha_j and dalpha_j each on its own: from the complex
 * system's eigendecomposition where its estimate is within QB_GAUSS_AMP_TOL of |alpha_j| (or of
 * |dalpha_j|; with the floor n eps sum |alpha| (sum |dalpha|)) -- first with the lean estimates
 * (qb_spectral_x's values and estimate for alpha, a t-uniform bound of the residual term for
 * dalpha; where every mode decays), then with
 * qb_spectral_at's --, else from the Taylor series (where t ||M|| <= QB_GAUSS_TAYLOR_MAX, held
 * to QB_GAUSS_AMP_TOL by its componentwise estimates, no floor), else from qb_linear_transient
 * (componentwise estimates, exact near exceptional points), so that a mode far below the
 * others keeps its relative accuracy.  Which one a mode takes depends on (network, t) alone.  t = 0
 * gives all zero moments with dalpha = b, dC/dQ = the sources, exactly.  Non-finite outputs set
 * QB_GAUSS_OVERFLOW (no fallback then).  Fast path: no allocation, O(n^3) flops and O(n^2)
 * exponentials per t. */
void qb_gauss_at(const qb_gauss_plan *pl, double t, qb_gauss_moments *m);

/* qb_gauss_at with options, for rows of t.  deriv false: without squeezing the derivatives
 * dalpha, dC, dQ and their estimates are not computed (left 0; the energies, ergotropies and
 * occupations need alpha, C and Q only), everything else is bitwise what deriv true gives (each
 * of alpha, dalpha, the covariance and its derivative takes its way -- and the fallback -- on its
 * own estimates; only a failure of a way taken for a derivative alone -- qb_linear_transient,
 * the reference -- makes deriv true give QB_GAUSS_FAILED where deriv false does not).  lx, lex:
 * qb_gauss_lean_many's values at this t, or NULL (then computed here, the same bits). */
void qb_gauss_at_with(const qb_gauss_plan *pl, double t, bool deriv, const double complex *lx,
                      const double *lex, qb_gauss_moments *mo);

/* The means' first way without squeezing (the plan's complex decomposition, where every mode
 * decays: qb_spectral_x) at nt times at once: x[i * n + j] = alpha_j(t[i]) with its estimate
 * ex[i * n + j], bitwise what qb_gauss_at takes at each t alone, by qb_spectral_x_many's vector
 * exponentials.  false (nothing written) where the plan does not take this way (squeezing, no
 * drive, a mode not decaying, an ill-conditioned decomposition) or a t is negative or not
 * finite.  No allocation. */
bool qb_gauss_lean_many(const qb_gauss_plan *pl, const double *t, int nt, double complex *x,
                        double *ex);

/* Whether qb_gauss_at_with at t > 0 takes every mode's alpha from qb_gauss_lean_many's values lx,
 * lex at t (each resolved to QB_GAUSS_AMP_TOL of itself, finite estimates).  Then its means are
 * lx exactly, and without noise (pl->noise false) C = Q = 0 exactly: with deriv false the
 * moments are known without the call. */
bool qb_gauss_lean_resolved(const qb_gauss_plan *pl, double t, const double complex *lx,
                            const double *lex);

/* The steady state (derivatives 0) where pl->stable; otherwise QB_GAUSS_NOT_STABLE with NaN.
 * Means by LU (dgesv), Sigma by the Lyapunov equation A X + X A^T + D' = 0 (real Schur form,
 * dgees + dtrsyl).  err_* from first-order estimates (1/rcond and ||A||/|growth|). */
void qb_gauss_steady(const qb_gauss_plan *pl, qb_gauss_moments *m);

/* Independent per-point computation: augmented exponentials (GSL gsl_linalg_exponential_ss)
 * of [[A, b], [0, 0]] t and of the half-vectorized covariance equation [[L, vech D'], [0, 0]] t
 * (dimension n(2n+1) + 1); derivatives e^{At} b and e^{Lt} vech D'.  err_*: normwise
 * eps (64 + 8 ||aug||_1 t) times the group scale.  Allocates. */
void qb_gauss_reference(const qb_gauss_net *net, double t, qb_gauss_moments *m);

/* The first t > 0 with E_j(t) = emax (quanta; emax > 0; E_j(0) = 0): a forward scan from 0, each
 * step the larger of a safe jump (no crossing can occur before t + (emax - E_j(t)) / sup|E_j'|,
 * with sup|E_j'| over the jump bounded term by term from the eigendecomposition) and a resolution
 * step (1/5 of the fastest oscillation's period, or t/8 plus a quarter of the fastest time
 * scale), at most QB_GAUSS_TCRIT_STEPS steps; then bisection with secant steps on E_j - emax to
 * 4 eps relative.  NaN with *why = 1 where E_j provably stays below emax for ever (its
 * term-by-term bound over every later time, with a 1e-6 margin, is below emax: stable or
 * marginal drifts), *why = 2 where undetermined (scan budget exhausted, a failed moment);
 * *why = 0 with the time otherwise.  A crossing shorter than a resolution step inside a stretch
 * where the safe jump is shorter than it can be missed (as in model ep, docs/physics.md §1.8).
 * Allocation: that of qb_gauss_at. */
#define QB_GAUSS_TCRIT_STEPS 20000
double qb_gauss_tcrit(const qb_gauss_plan *pl, int j, double emax, int *why);

/* Per-mode quantities (quanta).  Cancellation-free:
 *   energy  E = |alpha|^2 + C;
 *   nbar    = nu - 1/2 = (C + C^2 - |Q|^2) / (nu + 1/2), nu = sqrt((C + 1/2)^2 - |Q|^2)
 *             (0 where rounding makes it negative);
 *   ergotropy W = E - nbar = |alpha|^2 + |Q|^2 / (nu + C + 1/2): exactly |alpha|^2 (the same
 *             bits as energy's first term) when Q = 0, and exactly E when C = Q = 0. */
double qb_gauss_energy(const qb_gauss_moments *m, int j);
double qb_gauss_nbar(const qb_gauss_moments *m, int j);
double qb_gauss_ergotropy(const qb_gauss_moments *m, int j);
/* dE/dt = 2 Re(conj(alpha) dalpha) + dC (the power) */
double qb_gauss_power(const qb_gauss_moments *m, int j);

#endif
