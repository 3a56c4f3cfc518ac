/* qb_spectral: first moments of x' = M x + f, x(0) = 0, from one eigendecomposition of M, for
 * maps along t (issue 12): qb_spectral_init decomposes M = V diag(lambda) V^-1 once (LAPACKE,
 * n <= QB_LINEAR_NMAX), then each t costs n complex exponentials:
 *   x(t)  = int_0^t e^{Ms} f ds = V diag(t phi1(lambda t)) c,   phi1(z) = (e^z - 1)/z,
 *   x'(t) = e^{Mt} f            = V diag(e^{lambda t}) c,        c = V^-1 f.
 * Where the eigenvector matrix is ill-conditioned (near an exceptional point, a defective drift)
 * qb_spectral_usable is false and the caller uses qb_linear_transient instead; where it is true
 * the caller still checks the returned componentwise estimates against its accuracy guard.
 *
 * No heap allocation anywhere (stack arrays, the column-major LAPACKE *_work functions); no
 * LAPACK call per t; deterministic (same inputs, same bits).  Not collective; thread-safe.
 *
 * Error estimates of qb_spectral_at (absolute, componentwise, first order in eps = DBL_EPSILON;
 * derivation).  The stored lambda, V, c are not exact: let R = M V - V diag(lambda) (computed at
 * init, bounded by |R^| + 2(n+2) eps (|M||V| + |V||diag lambda|) for its own rounding) and
 * r = f - V c (likewise).  Then exactly M = V diag(lambda) V^-1 + R V^-1 and f = V c + r: the
 * eigensolver's backward error ~eps ||M|| (amplified by kappa(V) in the eigenvalues as in
 * Bauer-Fike, and by 1/gap in the eigenvectors) enters only through R, measured rather than
 * assumed.  With F = V^-1 R, to first order
 *   e^{Mt} f - V e^{Lt} c = V int_0^t e^{L(t-s)} F e^{Ls} ds c + V e^{Lt} V^-1 r   (L = diag
 * lambda) and |int_0^t e^{lambda_j (t-s)} e^{lambda_k s} ds| <= max(|e^{lambda_j t}|, |e^{lambda_k
 * t}|) min(t, 1/|a_j - a_k|) =: B1_jk (a = Re lambda; exact up to a factor e/(e-1)).  For x, the
 * integral of that over t: B2_jk = min(Q(a_hi), P(a_hi)/|a_j - a_k|), a_hi = max(a_j, a_k),
 * P(a) = int_0^t e^{as} ds <= min(t, 1/|a|), Q(a) = int_0^t s e^{as} ds <= min(t^2/2, 1/a^2) for
 * a < 0 (t e^{at} and t^2/2 e^{at} for a >= 0): the bounds stop growing once the modes decayed.
 * Rounding at t: lambda t carries eps |lambda t|, so e^{lambda t} a relative eps |lambda t| and
 * t phi1(lambda t) an absolute eps t |e^{lambda t}|; the exponentials, the complex expm1 and the
 * sums sum_k V_ik (D_k c_k) add (n + 26) eps sum_k |V_ik| |c_k| |D_k|.  So, with a factor 2 for
 * the neglected second-order terms,
 *   edx_i = 2 sum_j |V_ij| [ |c_j| eps (n + 14 + |lambda_j t|) |E_j| + dc_j |E_j| + sum_k G_jk
 * B1_jk ] ex_i  = 2 sum_j |V_ij| [ |c_j| eps ((n + 26) |X_j| + t |E_j|) + dc_j |X_j| + sum_k G_jk
 * B2_jk ] with E_j = e^{lambda_j t}, X_j = t phi1(lambda_j t), G = (|V^-1| |R|) diag|c|, dc =
 * |V^-1| |r|. Costs O(n^2) per t.  The estimate is first order: it is trustworthy while eps
 * kappa(V) and eps ||F|| t are far below 1, which qb_spectral_usable (kappa) and the estimate
 * itself (F t) make sure of at the caller's guard. */
#ifndef QB_SPECTRAL_H
#define QB_SPECTRAL_H

#include <stdbool.h>

#include "qbmap/qb_linear.h"

/* Largest kappa_1(V) = ||V||_1 ||V^-1||_1 at which the plan is usable.  The rounding floor of the
 * spectral form is ~eps kappa(V) relative to |f| scale (the terms V_ik c_k, of size up to
 * kappa |f|, cancel near an exceptional point, where qb_linear_transient loses nothing):
 * 1e6 keeps that floor at ~2e-10, four decades inside the models' 1e-6 accuracy guard, keeps
 * the first-order estimate's neglected terms at ~eps kappa = 2e-10 of itself, and still accepts
 * drifts close to an exceptional point (kappa ~ delta^-1/2 for a 2x2 Jordan block perturbed by
 * delta, ~delta^-2/3 for a 3x3 one: measured in test_spectral defective, usable down to
 * delta ~ 1e-11 for 2x2 and ~1e-8 for 3x3). */
#define QB_SPECTRAL_KAPPA_MAX 1e6

/* g t below which x' is returned shifted: dx = V diag(e^{(lambda - g)t}) c, *ldx = g t
 * (e^{gt} < 1e-260, near the bottom of the double range). */
#define QB_SPECTRAL_LDX_BELOW (-600.0)

/* Eigenvalues of M (row-major n x n, n <= QB_LINEAR_NMAX) by LAPACK zgeev (balanced QR), sorted
 * by descending real part; exact ties by descending imaginary part, then in zgeev's order.
 * V (NULL or n*n, row-major): column k is the eigenvector of lambda[k], unit 2-norm, its
 * largest component real (zgeev's normalization).  QB_EINTERNAL for a bad n, a non-finite M or
 * no convergence. */
qb_err qb_spectral_eig(int n, const double complex *M, double complex *lambda, double complex *V);

/* A per-row plan: the decomposition of M and the coefficients of f.  Filled by
 * qb_spectral_init only; read-only afterwards (many threads may share it). */
typedef struct {
  int n;
  bool ready;   /* V was invertible (c, V^-1 exist): qb_spectral_at works */
  bool zero;    /* f = 0 */
  double kappa; /* ||V||_1 ||V^-1||_1 (INFINITY where not ready) */
  double g;     /* max Re lambda = Re lambda[0] */
  double complex lambda[QB_LINEAR_NMAX];             /* sorted as qb_spectral_eig */
  double complex rlambda[QB_LINEAR_NMAX];            /* 1/lambda (0 where lambda = 0) */
  double ra[QB_LINEAR_NMAX];                         /* -1/Re lambda where Re lambda < 0 (else 0) */
  double complex V[QB_LINEAR_NMAX * QB_LINEAR_NMAX]; /* row-major, unit columns */
  double complex c[QB_LINEAR_NMAX];                  /* V^-1 f */
  double complex f[QB_LINEAR_NMAX];
  double absV[QB_LINEAR_NMAX * QB_LINEAR_NMAX]; /* |V_ij| */
  double absc[QB_LINEAR_NMAX];                  /* |c_k| */
  double dc[QB_LINEAR_NMAX];                    /* bound on |c_k - (V^-1 f)_k| */
  double G[QB_LINEAR_NMAX * QB_LINEAR_NMAX];    /* (|V^-1| |R|) diag|c|, see the top */
  double invd[QB_LINEAR_NMAX * QB_LINEAR_NMAX]; /* 1/|Re lambda_j - Re lambda_k| (inf: equal) */
  double complex W[QB_LINEAR_NMAX * QB_LINEAR_NMAX]; /* V diag(c): x = W (t phi1(lambda t)) */
  double Gx[QB_LINEAR_NMAX]; /* sum_k G_jk B2_jk bounded over every t (INFINITY unless all
                              * Re lambda < 0): qb_spectral_x's estimate */
} qb_spectral;

/* Decomposes M (row-major, n <= QB_LINEAR_NMAX) and solves V c = f (LU, LAPACK zgetrf/zgetrs).
 * QB_EINTERNAL only for a bad n or a non-finite M or f (then s->ready = false); an eigensolver
 * that does not converge or a singular V give QB_OK with s->ready = false (not usable).
 * Cost: one zgeev, one LU with n + 1 right-hand sides, O(n^3). */
qb_err qb_spectral_init(qb_spectral *s, int n, const double complex *M, const double complex *f);

/* Whether the plan may be used: ready and kappa(V) <= QB_SPECTRAL_KAPPA_MAX. */
bool qb_spectral_usable(const qb_spectral *s);

/* x(t) and x'(t) at t >= 0 with the estimates ex[i], edx[i] (absolute, see the top).  As
 * qb_linear_transient: where g t < QB_SPECTRAL_LDX_BELOW, dx = V diag(e^{(lambda - g)t}) c with
 * *ldx = g t (x' = dx e^{ldx}; edx in the same scale), else *ldx = 0.  (qb_linear_transient
 * shifts only for -2400 < g t < -600, where it has to; here any g t below -600 is shifted.)
 * t = 0 gives x = 0, dx = f, f = 0 gives x = dx = 0, both exactly with zero estimates.
 * dx, ldx, edx may all be NULL (x alone).  QB_EINTERNAL for t < 0, a non-finite t or a plan
 * that is not ready.  The estimates need no passivity (they use V, not ||e^{Ms}|| <= 1); |z| in
 * them is taken as |Re z| + |Im z| (a bound, no hypot per t).  No allocation, no LAPACK call,
 * O(n^2). */
qb_err qb_spectral_at(const qb_spectral *s, double t, double complex *x, double complex *dx,
                      double *ldx, double *ex, double *edx);

/* x(t)'s first m components (1 <= m <= n) alone at t >= 0, with a cheaper estimate ex (an
 * upper bound of qb_spectral_at's): the same terms, but the eigenvector-residual term
 * sum_k G_jk B2_jk(t) replaced by its bound over every t, Gx_j (B2_jk <= min(1/a_hi^2,
 * 1/(|a_hi| |a_j - a_k|)) where every Re lambda = a < 0; infinite otherwise), so O(m n)
 * multiply-adds and no pairwise minima per t.  For rows along t: a caller checks this estimate
 * first and calls qb_spectral_at only where it fails its guard.  x = W (t phi1(lambda t)),
 * W = V diag(c) formed at init (rounding 2 eps |V||c| more, counted); the exponentials as
 * qb_spectral_x_many's (a call of it with one t).  QB_EINTERNAL as qb_spectral_at (and for a bad
 * m).  No allocation. */
qb_err qb_spectral_x(const qb_spectral *s, int m, double t, double complex *x, double *ex);

/* How many times qb_spectral_x_many evaluates at once (the width of its vector exponentials). */
#define QB_SPECTRAL_LANES 4

/* qb_spectral_x at nt times t[j] (x[j * m + i], ex[j * m + i]): bitwise what nt calls of
 * qb_spectral_x give (each of which is this with nt = 1), at a fraction of the cost: the modes'
 * exponentials QB_SPECTRAL_LANES times at once, by glibc's vector math library (libmvec, AVX2;
 * <= 4 ulp, counted in the estimate) where the CPU has AVX2 and FMA (else the scalar libm: a
 * machine without them gives results that differ in the last bits).  QB_EINTERNAL as
 * qb_spectral_x (any t[j] bad: nothing written).  No allocation. */
qb_err qb_spectral_x_many(const qb_spectral *s, int m, const double *t, int nt, double complex *x,
                          double *ex);

#endif
