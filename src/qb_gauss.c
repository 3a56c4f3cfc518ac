#include "qbmap/qb_gauss.h"

#include <assert.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_linear.h"

#define NMAX QB_GAUSS_NMAX
#define MMAX QB_GAUSS_MMAX
#define EPS DBL_EPSILON
/* zgeev / dgees workspace: above the optimal sizes for m <= 16, fixed so every call takes the
 * same (deterministic) path */
#define LWORK (MMAX * 66)

static bool finite_c(double complex z) {
  return isfinite(creal(z)) && isfinite(cimag(z));
}

/* |Re z| + |Im z| >= |z|: a cheap bound for the estimates */
static double mag(double complex z) {
  return fabs(creal(z)) + fabs(cimag(z));
}

/* a b without Annex G's infinity recovery (operands finite or the result is flagged anyway) */
static double complex cmul(double complex a, double complex b) {
  return CMPLX(creal(a) * creal(b) - cimag(a) * cimag(b),
               creal(a) * cimag(b) + cimag(a) * creal(b));
}

static bool net_valid(const qb_gauss_net *net) {
  const int n = net->n;
  if (n < 1 || n > NMAX || net->nd < 0 || net->nd > QB_GAUSS_DMAX) return false;
  for (int i = 0; i < n * n; i++)
    if (!finite_c(net->h[i]) || !finite_c(net->S[i])) return false;
  for (int i = 0; i < n; i++)
    if (!finite_c(net->F[i])) return false;
  for (int k = 0; k < net->nd; k++) {
    if (!(net->rate[k] >= 0) || !(net->nth[k] >= 0) || !isfinite(net->rate[k]) ||
        !isfinite(net->nth[k]))
      return false;
    for (int j = 0; j < n; j++)
      if (!finite_c(net->c[k * NMAX + j])) return false;
  }
  return true;
}

/* M = -ih - G/2 (n x n row-major), T_jl = sum_k gamma_k n_k c_kj conj(c_kl) */
static void complex_drift(const qb_gauss_net *net, double complex *M, double complex *T) {
  const int n = net->n;
  for (int j = 0; j < n; j++)
    for (int l = 0; l < n; l++) {
      double complex g = 0, th = 0;
      for (int k = 0; k < net->nd; k++) {
        const double complex cj = net->c[k * NMAX + j], cl = net->c[k * NMAX + l];
        g += net->rate[k] * conj(cj) * cl;
        th += net->rate[k] * net->nth[k] * cj * conj(cl);
      }
      M[j * n + l] = -I * net->h[j * n + l] - 0.5 * g;
      if (T) T[j * n + l] = th;
    }
}

/* The real form (m = 2n, row-major): with N = -iS,
 *   A = [[Re M + Re N, -Im M + Im N], [Im M + Im N, Re M - Re N]],  b = (Im F, -Re F),
 *   D' = 1/2 [[Re(T + N), Im(T + N)], [Im(N - T), Re(T - N)]]
 * (the excess covariance's source: the sources T of C and N of Q mapped by Sigma^uu =
 * Re(C + Q)/2, Sigma^vv = Re(C - Q)/2, Sigma^uv = Im(C + Q)/2; docs/physics.md 7.1).
 * Returns whether S != 0. */
static bool real_form(const qb_gauss_net *net, double *A, double *b, double *Dp) {
  const int n = net->n, m = 2 * n;
  double complex M[NMAX * NMAX], T[NMAX * NMAX];
  bool sq = false;
  complex_drift(net, M, T);
  for (int j = 0; j < n; j++) {
    b[j] = cimag(net->F[j]);
    b[n + j] = -creal(net->F[j]);
    for (int l = 0; l < n; l++) {
      const double complex Mx = M[j * n + l], Nx = -I * net->S[j * n + l], Tx = T[j * n + l];
      if (net->S[j * n + l] != 0) sq = true;
      A[j * m + l] = creal(Mx) + creal(Nx);
      A[j * m + n + l] = -cimag(Mx) + cimag(Nx);
      A[(n + j) * m + l] = cimag(Mx) + cimag(Nx);
      A[(n + j) * m + n + l] = creal(Mx) - creal(Nx);
      Dp[j * m + l] = 0.5 * creal(Tx + Nx);
      Dp[j * m + n + l] = 0.5 * cimag(Tx + Nx);
      Dp[(n + j) * m + l] = 0.5 * cimag(Nx - Tx);
      Dp[(n + j) * m + n + l] = 0.5 * creal(Tx - Nx);
    }
  }
  return sq;
}

/* sort order: descending real part, then descending imaginary part */
static void sort_eig(int k, double complex *w) {
  for (int i = 1; i < k; i++)
    for (int p = i; p > 0; p--) {
      const double complex a = w[p], z = w[p - 1];
      if (creal(a) > creal(z) || (creal(a) == creal(z) && cimag(a) > cimag(z)))
        w[p] = z, w[p - 1] = a;
      else
        break;
    }
}

/* zgeev of a complex row-major k x k matrix (copied to column-major on the stack); VR
 * column-major (NULL: no vectors).  -1 on failure. */
static int geev(int k, const double complex *X, double complex *w, double complex *VR) {
  double complex Acm[MMAX * MMAX], work[LWORK], dummy[1];
  double rwork[2 * MMAX];
  for (int i = 0; i < k; i++)
    for (int j = 0; j < k; j++)
      Acm[j * k + i] = X[i * k + j];
  lapack_int info = LAPACKE_zgeev_work(LAPACK_COL_MAJOR, 'N', VR ? 'V' : 'N', k, Acm, k, w, dummy,
                                       1, VR ? VR : dummy, VR ? k : 1, work, LWORK, rwork);
  if (info != 0) return -1;
  for (int i = 0; i < k; i++)
    if (!finite_c(w[i])) return -1;
  return 0;
}

/* Vi = V^-1 (row-major) by LU with the identity as right-hand sides.  -1 where singular. */
static int invert(int m, const double complex *V, double complex *Vi) {
  double complex LU[MMAX * MMAX], B[MMAX * MMAX] = {0};
  lapack_int ipiv[MMAX];
  for (int i = 0; i < m; i++) {
    for (int k = 0; k < m; k++)
      LU[k * m + i] = V[i * m + k];
    B[i * m + i] = 1;
  }
  if (LAPACKE_zgetrf_work(LAPACK_COL_MAJOR, m, m, LU, m, ipiv) != 0) return -1;
  if (LAPACKE_zgetrs_work(LAPACK_COL_MAJOR, 'N', m, m, LU, m, ipiv, B, m) != 0) return -1;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      Vi[i * m + j] = B[j * m + i];
      if (!finite_c(Vi[i * m + j])) return -1;
    }
  return 0;
}

static double norm1_abs(int m, const double *X) { /* max column sum, X >= 0 row-major */
  double r = 0;
  for (int j = 0; j < m; j++) {
    double s = 0;
    for (int i = 0; i < m; i++)
      s += X[i * m + j];
    r = fmax(r, s);
  }
  return r;
}

/* c = V^-1 b and its bound ec = |V^-1| (|b - V c| + u (|b| + |V||c|)), u = 2(m + 2) eps */
static void coefficients(qb_gauss_plan *pl, const double complex *Vi, const double *aVi) {
  const int m = pl->m;
  const double u = 2.0 * (m + 2) * EPS;
  double rb[MMAX];
  for (int a = 0; a < m; a++) {
    double complex s = 0;
    for (int p = 0; p < m; p++)
      s += Vi[a * m + p] * pl->b[p];
    pl->c[a] = s;
  }
  for (int p = 0; p < m; p++) {
    double complex r = pl->b[p];
    double s = fabs(pl->b[p]);
    for (int a = 0; a < m; a++) {
      r -= pl->V[p * m + a] * pl->c[a];
      s += pl->absV[p * m + a] * cabs(pl->c[a]);
    }
    rb[p] = cabs(r) + u * s;
  }
  for (int a = 0; a < m; a++) {
    double s = 0;
    for (int p = 0; p < m; p++)
      s += aVi[a * m + p] * rb[p];
    pl->ec[a] = s;
  }
}

/* rho_a = column a of |V^-1| (|A V - V Lambda| + 2 eps (|A||V| + |V||Lambda|)): the eigenbasis
 * size of the perturbation that makes V diag(lambda) V^-1 exact, as felt by eigenvalue a (first
 * order in eps; the residual is measured, its own rounding allowed for at 2 eps, a typical
 * rather than the worst-case (m + 2) eps: calibrated against the reference in test_gauss
 * random, which counts the points where the estimate was exceeded) */
static void residual_rate(qb_gauss_plan *pl, const double *aVi) {
  const int m = pl->m;
  const double u = 2.0 * EPS;
  double Rb[MMAX * MMAX];
  for (int p = 0; p < m; p++)
    for (int a = 0; a < m; a++) {
      double complex r = -pl->V[p * m + a] * pl->lam[a];
      double s = cabs(r);
      for (int q = 0; q < m; q++) {
        r += pl->A[p * m + q] * pl->V[q * m + a];
        s += fabs(pl->A[p * m + q]) * pl->absV[q * m + a];
      }
      Rb[p * m + a] = cabs(r) + u * s;
    }
  pl->rhomax = 0;
  for (int b = 0; b < m; b++) {
    double s = 0;
    for (int a = 0; a < m; a++)
      for (int p = 0; p < m; p++)
        s += aVi[a * m + p] * Rb[p * m + b];
    pl->rho[b] = s;
    pl->rhomax = fmax(pl->rhomax, s);
  }
}

/* Dt = V^-1 D' V^-T (symmetrized) and its bound eDt = 2(m + 2) eps |V^-1||D'||V^-1|^T
 * + |Z||Dt| + |Dt||Z|^T, Z = V^-1 V - I measured (the inverse's own inexactness) */
static void noise_coefficients(qb_gauss_plan *pl, const double complex *Vi, const double *aVi) {
  const int m = pl->m;
  double complex W[MMAX * MMAX];
  double aW[MMAX * MMAX], aZ[MMAX * MMAX];
  for (int a = 0; a < m; a++)
    for (int q = 0; q < m; q++) {
      double complex s = 0, z = a == q ? -1.0 : 0.0;
      double sa = 0, za = 0;
      for (int p = 0; p < m; p++) {
        s += Vi[a * m + p] * pl->Dp[p * m + q];
        sa += aVi[a * m + p] * fabs(pl->Dp[p * m + q]);
        z += Vi[a * m + p] * pl->V[p * m + q];
        za += aVi[a * m + p] * pl->absV[p * m + q];
      }
      W[a * m + q] = s, aW[a * m + q] = sa;
      aZ[a * m + q] = cabs(z) + 2.0 * (m + 2) * EPS * za;
    }
  for (int a = 0; a < m; a++)
    for (int b = 0; b < m; b++) {
      double complex s = 0;
      double sa = 0;
      for (int q = 0; q < m; q++) {
        s += W[a * m + q] * Vi[b * m + q];
        sa += aW[a * m + q] * aVi[b * m + q];
      }
      pl->Dt[a * m + b] = s;
      pl->eDt[a * m + b] = 2.0 * (m + 2) * EPS * sa;
    }
  for (int a = 0; a < m; a++)
    for (int b = 0; b < a; b++) {
      const double complex s = 0.5 * (pl->Dt[a * m + b] + pl->Dt[b * m + a]);
      pl->Dt[a * m + b] = pl->Dt[b * m + a] = s;
    }
  for (int a = 0; a < m; a++)
    for (int b = 0; b < m; b++) {
      double s = 0;
      for (int q = 0; q < m; q++)
        s += aZ[a * m + q] * cabs(pl->Dt[q * m + b]) + cabs(pl->Dt[a * m + q]) * aZ[b * m + q];
      pl->eDt[a * m + b] += s;
    }
}

/* The fast path's covariance entries as quadratic forms over the pairs a <= b: for mode j and
 * (p, q) = (u, u), (v, v), (u, v) (u = j, v = n + j), P = V_pa V_qb + V_pb V_qa (a < b), V_pa V_qa
 * (a = b), so that (V Y V^T)_pq = sum_{a<=b} Y_ab P_ab for a symmetric Y; Pa likewise of |V|. */
static void quadratic_forms(qb_gauss_plan *pl) {
  const int n = pl->n, m = pl->m;
  for (int j = 0; j < n; j++)
    for (int r = 0; r < 3; r++) {
      const int p = r == 1 ? n + j : j, q = r == 0 ? j : n + j;
      for (int a = 0, i = 0; a < m; a++)
        for (int b = a; b < m; b++, i++) {
          const double complex *V = pl->V;
          const double *aV = pl->absV;
          pl->P[3 * j + r][i] = a == b ? V[p * m + a] * V[q * m + a]
                                       : V[p * m + a] * V[q * m + b] + V[p * m + b] * V[q * m + a];
          pl->Pa[3 * j + r][i] =
              a == b ? aV[p * m + a] * aV[q * m + a]
                     : aV[p * m + a] * aV[q * m + b] + aV[p * m + b] * aV[q * m + a];
        }
    }
}

/* The eigendecomposition of A and everything the fast path needs; pl->ready where usable. */
static void decompose(qb_gauss_plan *pl) {
  const int m = pl->m;
  double complex Ac[MMAX * MMAX], VR[MMAX * MMAX], Vi[MMAX * MMAX];
  double aVi[MMAX * MMAX];
  pl->ready = false;
  pl->kappa = INFINITY;
  for (int i = 0; i < m * m; i++)
    Ac[i] = pl->A[i];
  if (geev(m, Ac, pl->lam, VR)) return;
  for (int p = 0; p < m; p++)
    for (int a = 0; a < m; a++) {
      pl->V[p * m + a] = VR[a * m + p];
      pl->absV[p * m + a] = cabs(VR[a * m + p]);
    }
  if (invert(m, pl->V, Vi)) return;
  for (int i = 0; i < m * m; i++)
    aVi[i] = cabs(Vi[i]);
  pl->kappa = norm1_abs(m, pl->absV) * norm1_abs(m, aVi);
  coefficients(pl, Vi, aVi);
  residual_rate(pl, aVi);
  noise_coefficients(pl, Vi, aVi);
  quadratic_forms(pl);
  pl->ready = isfinite(pl->kappa) && pl->kappa <= QB_GAUSS_KAPPA_MAX && isfinite(pl->rhomax);
}

/* ---- per-mode assembly ---- */

static void fill_nan(int n, qb_gauss_moments *mo, unsigned flags) {
  const double nan = NAN;
  for (int j = 0; j < NMAX; j++) {
    const bool in = j < n;
    mo->alpha[j] = mo->dalpha[j] = mo->Q[j] = mo->dQ[j] = in ? CMPLX(nan, nan) : 0;
    mo->C[j] = mo->dC[j] = in ? nan : 0;
    mo->err_alpha[j] = mo->err_dalpha[j] = mo->err_C[j] = mo->err_Q[j] = in ? nan : 0;
    mo->err_dC[j] = mo->err_dQ[j] = in ? nan : 0;
  }
  mo->flags = flags;
}

/* C_j = Suu + Svv, Q_j = Suu - Svv + i (Suv + Svu) of mode j's 2 x 2 excess block; Q = 0
 * exactly without squeezing */
static void block_to_cq(double suu, double svv, double suv2, bool squeeze, double *C,
                        double complex *Q) {
  *C = suu + svv;
  *Q = squeeze ? CMPLX(suu - svv, suv2) : 0;
}

static double vmax(int n, const double *x) {
  double s = 0;
  for (int j = 0; j < n; j++)
    s = fmax(s, x[j]);
  return s;
}

/* whether every estimate is within tol of its group scale (qb_gauss_moments) */
static bool within(int n, const qb_gauss_moments *mo, double tol) {
  double sa = 0, sda = 0, ss = 0, sds = 0;
  for (int j = 0; j < n; j++) {
    sa = fmax(sa, cabs(mo->alpha[j]));
    sda = fmax(sda, cabs(mo->dalpha[j]));
    ss = fmax(ss, mo->C[j] + cabs(mo->Q[j]));
    sds = fmax(sds, fabs(mo->dC[j]) + cabs(mo->dQ[j]));
  }
  return vmax(n, mo->err_alpha) <= tol * sa && vmax(n, mo->err_dalpha) <= tol * sda &&
         vmax(n, mo->err_C) <= tol * ss && vmax(n, mo->err_Q) <= tol * ss &&
         vmax(n, mo->err_dC) <= tol * sds && vmax(n, mo->err_dQ) <= tol * sds;
}

static bool all_finite_mo(int n, const qb_gauss_moments *mo) {
  double z = 0; /* x * 0 is 0 for finite x, NaN for an infinity or NaN: no branch per value */
  for (int j = 0; j < n; j++)
    z += (creal(mo->alpha[j]) + cimag(mo->alpha[j]) + creal(mo->dalpha[j]) + cimag(mo->dalpha[j]) +
          creal(mo->Q[j]) + cimag(mo->Q[j]) + creal(mo->dQ[j]) + cimag(mo->dQ[j]) + mo->C[j] +
          mo->dC[j]) *
         0.0;
  return z == 0;
}

/* t = 0: zero moments, dalpha = b, dC/dQ = the sources (exact) */
static void at_zero(const qb_gauss_plan *pl, qb_gauss_moments *mo) {
  const int n = pl->n, m = pl->m;
  memset(mo, 0, sizeof *mo);
  for (int j = 0; j < n; j++) {
    mo->dalpha[j] = CMPLX(pl->b[j], pl->b[n + j]);
    block_to_cq(pl->Dp[j * m + j], pl->Dp[(n + j) * m + n + j],
                pl->Dp[j * m + n + j] + pl->Dp[(n + j) * m + j], pl->squeeze, &mo->dC[j],
                &mo->dQ[j]);
  }
}

/* ---- the fast path ---- */

/* e^z - 1 without cancellation (Re = expm1(a) cos b - 2 sin^2(b/2), Im = e^a sin b); *ez = e^z */
static double complex cexpm1_(double complex z, double complex *ez) {
  const double a = creal(z), bb = cimag(z), cb = cos(bb), sb = sin(bb);
  double em1, ea;
  if (fabs(a) < 1)
    em1 = expm1(a), ea = 1.0 + em1;
  else
    ea = exp(a), em1 = ea - 1.0;
  const double omc = cb > 0 ? sb * sb / (1.0 + cb) : 1.0 - cb;
  if (ez) *ez = CMPLX(ea * cb, ea * sb);
  return CMPLX(em1 * cb - omc, ea * sb);
}

/* phi = (e^{lambda t} - 1)/lambda (t (1 + z/2 + z^2/6) where |z| = |lambda t| < 1e-5:
 * truncation below 1e-16 relative), rl = 1/lambda */
static double complex phi(double complex lam, double complex rl, double t, double complex *ez) {
  const double complex z = CMPLX(creal(lam) * t, cimag(lam) * t);
  if (mag(z) < 1e-5) {
    if (ez) *ez = 1.0 + z * (1.0 + 0.5 * z);
    return t * (1.0 + 0.5 * z * (1.0 + z / 3.0));
  }
  return cmul(cexpm1_(z, ez), rl);
}

/* relative first-order error weight of phi (tau = min(t, 1/|Re mu|) for decaying mu) and of
 * e^{mu t} (t): rounding, the decomposition's perturbation rate krho, and the rounding of the
 * exponents (lm = |lambda_a| (+ |lambda_b|): e^{lambda_a t} e^{lambda_b t} carries the phase
 * errors of both factors even where mu = lambda_a + lambda_b is small) */
static double weight(int m, double complex mu, double lm, double t, double krho, bool integral) {
  double tau = t;
  if (integral && creal(mu) < 0 && t * -creal(mu) > 1) tau = -1.0 / creal(mu); /* fmin(t, 1/|Re|) */
  return (2.0 * m + 16) * EPS + tau * krho + t * EPS * lm;
}

/* means r = Re V diag(phi) c, dr = Re V diag(e^{lambda t}) c and their estimates */
static void fast_means(const qb_gauss_plan *pl, double t, const double complex *X,
                       const double complex *E, qb_gauss_moments *mo) {
  const int n = pl->n, m = pl->m;
  double complex Xc[MMAX], Ec[MMAX];
  double u[MMAX], du[MMAX], r[MMAX], dr[MMAX], er[MMAX], edr[MMAX];
  for (int a = 0; a < m; a++) {
    const double ac = cabs(pl->c[a]);
    Xc[a] = cmul(X[a], pl->c[a]);
    Ec[a] = cmul(E[a], pl->c[a]);
    u[a] =
        mag(X[a]) * (weight(m, pl->lam[a], mag(pl->lam[a]), t, pl->rho[a], true) * ac + pl->ec[a]);
    du[a] =
        mag(E[a]) * (weight(m, pl->lam[a], mag(pl->lam[a]), t, pl->rho[a], false) * ac + pl->ec[a]);
  }
  for (int p = 0; p < m; p++) {
    double sr = 0, sd = 0, e = 0, ed = 0;
    for (int a = 0; a < m; a++) {
      const double complex v = pl->V[p * m + a];
      sr += creal(v) * creal(Xc[a]) - cimag(v) * cimag(Xc[a]);
      sd += creal(v) * creal(Ec[a]) - cimag(v) * cimag(Ec[a]);
      e += pl->absV[p * m + a] * u[a];
      ed += pl->absV[p * m + a] * du[a];
    }
    r[p] = sr, dr[p] = sd, er[p] = 2 * e, edr[p] = 2 * ed;
  }
  for (int j = 0; j < n; j++) {
    mo->alpha[j] = CMPLX(r[j], r[n + j]);
    mo->dalpha[j] = CMPLX(dr[j], dr[n + j]);
    mo->err_alpha[j] = er[j] + er[n + j];
    mo->err_dalpha[j] = edr[j] + edr[n + j];
  }
}

/* the pair terms Y_ab = Dt_ab psi_ab, dY_ab = Dt_ab e^{mu t} (mu = lambda_a + lambda_b) and their
 * absolute estimates K, dK, packed over a <= b (pair_index; all symmetric; psi from the product
 * e^{lambda_a t} e^{lambda_b t} where |mu t| >= 0.5, so no cancellation, else from phi); dY, dK
 * NULL: not wanted */
__attribute__((noinline)) /* (else GCC cannot see that Y, K are set for every pair) */
static void
pair_terms(const qb_gauss_plan *pl, double t, const double complex *E, double complex *Y,
           double complex *dY, double *K, double *dK) {
  const int m = pl->m;
  for (int a = 0, i = 0; a < m; a++)
    for (int b = a; b < m; b++, i++) {
      const int ab = a * m + b;
      const double complex mu = pl->lam[a] + pl->lam[b], D = pl->Dt[ab];
      double complex ps, ee;
      double extra = 0;
      if (D == 0 && pl->eDt[ab] == 0) {
        Y[i] = 0, K[i] = 0;
        if (dY) dY[i] = 0, dK[i] = 0;
        continue;
      }
      if (mag(mu) * t >= 0.5) {
        ee = cmul(E[a], E[b]);
        ps = cmul(ee - 1.0, pl->rmu[ab]);
        extra = 2 * EPS * (1.0 + mag(ee)) * mag(pl->rmu[ab]) * mag(D);
      } else {
        ps = phi(mu, pl->rmu[ab], t, &ee);
      }
      const double aD = mag(D), lm = mag(pl->lam[a]) + mag(pl->lam[b]);
      const double kr = pl->rho[a] + pl->rho[b];
      Y[i] = cmul(D, ps);
      K[i] = 2 * (mag(ps) * (weight(m, mu, lm, t, kr, true) * aD + pl->eDt[ab]) + extra);
      if (!dY) continue;
      dY[i] = cmul(D, ee);
      dK[i] = 2 * mag(ee) * (weight(m, mu, lm, t, kr, false) * aD + pl->eDt[ab]);
    }
}

/* C_j, Q_j (or their derivatives) and estimates from the packed pair terms: the entries (u,u),
 * (v,v), (u,v) of V Y V^T and of |V| K |V|^T (u = j, v = n + j) as the plan's quadratic forms
 * (pl->P, pl->Pa; O(m^2) per entry, no m^3 product) */
static void cov_from_pairs(const qb_gauss_plan *pl, const double complex *Y, const double *K,
                           double *C, double complex *Q, double *eC, double *eQ) {
  const int n = pl->n, np = pl->m * (pl->m + 1) / 2;
  for (int j = 0; j < n; j++) {
    double s[3], e[3];
    for (int r = 0; r < 3; r++) {
      const double complex *P = pl->P[3 * j + r];
      const double *Pa = pl->Pa[3 * j + r];
      double sr = 0, er = 0;
      for (int i = 0; i < np; i++) {
        sr += creal(Y[i]) * creal(P[i]) - cimag(Y[i]) * cimag(P[i]);
        er += K[i] * Pa[i];
      }
      s[r] = sr, e[r] = er;
    }
    block_to_cq(s[0], s[1], 2 * s[2], pl->squeeze, &C[j], &Q[j]);
    eC[j] = e[0] + e[1];
    eQ[j] = pl->squeeze ? e[0] + e[1] + 2 * e[2] : 0;
  }
}

/* the fast path at t > 0: every output and estimate (the means only with `means`, dC and dQ only
 * with `deriv`) */
static void fast_at(const qb_gauss_plan *pl, double t, bool means, bool deriv,
                    qb_gauss_moments *mo) {
  const int m = pl->m;
  double complex X[MMAX], E[MMAX];
  memset(mo, 0, sizeof *mo);
  for (int a = 0; a < m; a++)
    X[a] = phi(pl->lam[a], pl->rlam[a], t, &E[a]);
  if (pl->driven && means) fast_means(pl, t, X, E, mo);
  if (!pl->noise) return;
  double complex Y[QB_GAUSS_NPAIR], dY[QB_GAUSS_NPAIR];
  double K[QB_GAUSS_NPAIR], dK[QB_GAUSS_NPAIR];
  pair_terms(pl, t, E, Y, deriv ? dY : NULL, K, deriv ? dK : NULL);
  cov_from_pairs(pl, Y, K, mo->C, mo->Q, mo->err_C, mo->err_Q);
  if (deriv) cov_from_pairs(pl, dY, dK, mo->dC, mo->dQ, mo->err_dC, mo->err_dQ);
}

/* Which means each mode still lacks (without squeezing): a[j] alpha_j, d[j] dalpha_j. */
typedef struct {
  bool a[NMAX], d[NMAX];
} lacking;

/* n eps sum_j |y_j|: the floor on an eigendecomposition's componentwise estimates of the n means
 * (what deflation can hide). */
static double amp_floor(int n, const double complex *y) {
  double s = 0;
  for (int j = 0; j < n; j++)
    s += mag(y[j]);
  return s * (n * EPS);
}

/* A mean y with estimate e is resolved: within QB_GAUSS_AMP_TOL of itself, with the floor fl. */
static bool resolved(double complex y, double e, double fl) {
  return e + fl <= QB_GAUSS_AMP_TOL * mag(y);
}

/* Takes alpha_j (y, ey; y NULL: none offered) where mode j lacks it and dalpha_j (dalpha =
 * dy e^{ly}; dy NULL: none offered) where it lacks that, each where resolved to
 * QB_GAUSS_AMP_TOL of itself (estimates plus, with `floor` (normwise estimates: the
 * eigendecomposition's), the floor n eps sum |.|), or always (force); returns how many means
 * are still lacking. */
static int take_means(int n, const double complex *y, const double complex *dy, double ly,
                      const double *ey, const double *edy, bool floor, bool force, lacking *w,
                      qb_gauss_moments *mo) {
  const double fl = floor && y ? amp_floor(n, y) : 0, fd = floor && dy ? amp_floor(n, dy) : 0;
  const double s = ly == 0 ? 1.0 : exp(ly);
  int left = 0;
  for (int j = 0; j < n; j++) {
    if (w->a[j] && y && (force || resolved(y[j], ey[j], fl)))
      mo->alpha[j] = y[j], mo->err_alpha[j] = ey[j], w->a[j] = false;
    if (w->d[j] && dy && (force || resolved(dy[j], edy[j], fd)))
      mo->dalpha[j] = dy[j] * s, mo->err_dalpha[j] = edy[j] * s, w->d[j] = false;
    left += w->a[j] + w->d[j];
  }
  return left;
}

/* Without squeezing, where t ||M|| <= QB_GAUSS_TAYLOR_MAX: the Taylor series
 *   y = sum_k t/(k+1) u_k,  dy = sum_k u_k,  u_0 = f,  u_k = (t/k) M u_{k-1},
 * exact at small t for modes far below the others (b reached from the drive through c: y_b ~
 * t^3), where the eigendecomposition's sums cancel.  Componentwise estimates, with w_k the same
 * recursion on the magnitudes Mt >= |M| and |f| (|u_k| <= w_k): u_k's rounding <= k c1 w_k,
 * c1 = (2n + 6) eps per product M u (complex multiply-adds and the scaling by t/k), the sums'
 * <= 2 (KMAX + 2) eps sum w_k, the truncation after term K <= ||w_{K+1}||_inf / (1 - rho) per
 * component (||w_{k+1}|| <= rho ||w_k||, rho = t ||Mt||_inf / (K + 2) <= 1/2), times t for y.
 * Stops once that tail is below eps of every nonzero sum (at most QB_GAUSS_TAYLOR_TERMS
 * terms).  -1 where t ||Mt||_inf > QB_GAUSS_TAYLOR_MAX (not tried).  No allocation. */
static int means_taylor(const qb_gauss_plan *pl, double t, double complex *y, double complex *dy,
                        double *ey, double *edy) {
  const int n = pl->n, K = QB_GAUSS_TAYLOR_TERMS;
  const double c1 = (2.0 * n + 6) * EPS, cs = 2.0 * (K + 2) * EPS;
  double nM = 0, w[NMAX], sw[NMAX], swy[NMAX], rw[NMAX], rwy[NMAX], tail = 0;
  double complex u[NMAX];
  for (int j = 0; j < n; j++) {
    double s = 0;
    for (int l = 0; l < n; l++)
      s += pl->Mt[j * n + l];
    nM = fmax(nM, s);
  }
  if (!(t * nM <= QB_GAUSS_TAYLOR_MAX)) return -1;
  for (int j = 0; j < n; j++) {
    u[j] = dy[j] = pl->f[j], y[j] = t * pl->f[j];
    w[j] = sw[j] = mag(pl->f[j]), swy[j] = t * w[j], rw[j] = rwy[j] = 0;
  }
  for (int k = 1; k <= K; k++) {
    const double h = t / k, hy = t / (k + 1);
    double complex un[NMAX];
    double wn[NMAX], nw = 0;
    for (int j = 0; j < n; j++) {
      double complex s = 0;
      double sa = 0;
      for (int l = 0; l < n; l++)
        s += cmul(pl->M[j * n + l], u[l]), sa += pl->Mt[j * n + l] * w[l];
      un[j] = h * s, wn[j] = h * sa, nw = fmax(nw, wn[j]);
    }
    double lo = INFINITY;
    for (int j = 0; j < n; j++) {
      u[j] = un[j], w[j] = wn[j];
      dy[j] += u[j], y[j] += hy * u[j];
      sw[j] += w[j], swy[j] += hy * w[j], rw[j] += k * w[j], rwy[j] += k * hy * w[j];
      if (sw[j] > 0) lo = fmin(lo, sw[j]);
    }
    const double rho = t * nM / (k + 2);
    tail = rho <= 0.5 ? nw * (t * nM / (k + 1)) / (1 - rho) : INFINITY;
    if (tail <= EPS * lo) break;
  }
  for (int j = 0; j < n; j++) {
    edy[j] = c1 * rw[j] + cs * sw[j] + tail;
    ey[j] = c1 * rwy[j] + (cs + EPS) * swy[j] + t * tail;
  }
  return 0;
}

/* Without squeezing, where every mode decays (pl->lean) and g t >= QB_SPECTRAL_LDX_BELOW: the
 * means' first way is the plan's complex decomposition sp with its cheaper estimates. */
static bool lean_at(const qb_gauss_plan *pl, double t) {
  return pl->lean && pl->sp.g * t >= QB_SPECTRAL_LDX_BELOW;
}

bool qb_gauss_lean_many(const qb_gauss_plan *pl, const double *t, int nt, double complex *x,
                        double *ex) {
  return pl->ok && !pl->squeeze && pl->driven && pl->lean &&
         qb_spectral_x_many(&pl->sp, pl->n, t, nt, x, ex) == QB_OK;
}

bool qb_gauss_lean_resolved(const qb_gauss_plan *pl, double t, const double complex *lx,
                            const double *lex) {
  const int n = pl->n;
  if (!(t > 0) || !lean_at(pl, t)) return false;
  const double fl = amp_floor(n, lx); /* as take_means */
  for (int j = 0; j < n; j++)
    if (!isfinite(lex[j]) || !resolved(lx[j], lex[j], fl)) return false;
  return true;
}

/* The derivatives' first way where lean_at: dy = W E (E = e^{lambda t}) with qb_spectral_at's
 * estimate, its residual term sum_k G_jk max(|E_j|, |E_k|) min(t, invd_jk) bounded by
 * t G_jj |E_j| + max_k |E_k| min(t Go_j, Gi_j) (and 2 eps |W||E| more for W's rounding, as
 * qb_spectral_x counts): O(n^2) per t with the n exponentials, no pairwise minima. */
static void lean_dx(const qb_gauss_plan *pl, double t, double complex *dy, double *edy) {
  const qb_spectral *s = &pl->sp;
  const int n = pl->n;
  double complex E[NMAX];
  double udx[NMAX], aE[NMAX], emax = 0;
  for (int k = 0; k < n; k++) {
    phi(s->lambda[k], s->rlambda[k], t, &E[k]);
    aE[k] = mag(E[k]);
    if (aE[k] > emax) emax = aE[k];
  }
  for (int k = 0; k < n; k++) {
    const double c = s->absc[k], ae = aE[k];
    udx[k] = c * EPS * (n + 16 + mag(s->lambda[k]) * t) * ae + s->dc[k] * ae +
             t * s->G[k * n + k] * ae +
             emax * (t * pl->Go[k] < pl->Gi[k] ? t * pl->Go[k] : pl->Gi[k]);
  }
  for (int i = 0; i < n; i++) {
    double complex sd = 0;
    double ed = 0;
    for (int k = 0; k < n; k++)
      sd += cmul(s->W[i * n + k], E[k]), ed += s->absV[i * n + k] * udx[k];
    dy[i] = sd, edy[i] = 2 * ed;
  }
}

/* Without squeezing: the means mode by mode (qb_gauss_at_with), each from the first way that
 * resolves it: lean (alpha: lx, lex or qb_spectral_x; dalpha: lean_dx), qb_spectral_at, the
 * Taylor series, qb_linear_transient.  dalpha only with deriv.  -1 where qb_linear_transient
 * failed. */
static int means_complex(const qb_gauss_plan *pl, double t, bool deriv, const double complex *lx,
                         const double *lex, qb_gauss_moments *mo) {
  const int n = pl->n;
  lacking w;
  for (int j = 0; j < NMAX; j++)
    w.a[j] = j < n, w.d[j] = deriv && j < n;
  double complex y[NMAX], dy[NMAX];
  double ey[NMAX], edy[NMAX], ly = 0;
  int left = n * (1 + deriv);
  if (lean_at(pl, t)) {
    if (!lx && qb_spectral_x(&pl->sp, n, t, y, ey) == QB_OK) lx = y, lex = ey;
    if (lx) left = take_means(n, lx, NULL, 0, lex, NULL, true, false, &w, mo);
    if (deriv) {
      lean_dx(pl, t, dy, edy);
      left = take_means(n, NULL, dy, 0, NULL, edy, true, false, &w, mo);
    }
  }
  if (left && qb_spectral_usable(&pl->sp) &&
      qb_spectral_at(&pl->sp, t, y, deriv ? dy : NULL, &ly, ey, edy) == QB_OK)
    left = take_means(n, y, deriv ? dy : NULL, ly, ey, edy, true, false, &w, mo);
  if (left && means_taylor(pl, t, y, dy, ey, edy) == 0)
    left = take_means(n, y, dy, 0, ey, edy, false, false, &w, mo);
  if (!left) return 0;
  if (qb_linear_transient(n, pl->M, pl->f, t, pl->growth, pl->stable ? pl->xss : NULL, pl->ess, y,
                          dy, &ly, ey, edy) != QB_OK)
    return -1;
  take_means(n, y, dy, ly, ey, edy, true, true, &w, mo);
  return 0;
}

/* whether the covariance's estimates (d: its derivatives') are within tol of their group scale
 * (qb_gauss_moments) */
static bool cov_within(int n, const qb_gauss_moments *mo, double tol, bool d) {
  double sc = 0;
  for (int j = 0; j < n; j++)
    sc = fmax(sc, d ? fabs(mo->dC[j]) + cabs(mo->dQ[j]) : mo->C[j] + cabs(mo->Q[j]));
  return d ? vmax(n, mo->err_dC) <= tol * sc && vmax(n, mo->err_dQ) <= tol * sc
           : vmax(n, mo->err_C) <= tol * sc && vmax(n, mo->err_Q) <= tol * sc;
}

/* Without squeezing, with noise: the covariance (and with deriv its derivative) from the fast
 * path, each where within tol of its group scale, else from the reference (flag). */
static void cov_unsqueezed(const qb_gauss_plan *pl, double t, double tol, bool deriv,
                           qb_gauss_moments *mo) {
  if (pl->ready) fast_at(pl, t, false, deriv, mo); /* (the means: means_complex) */
  const bool c = pl->ready && cov_within(pl->n, mo, tol, false);
  const bool d = !deriv || (pl->ready && cov_within(pl->n, mo, tol, true));
  if (c && d) return;
  qb_gauss_moments ref;
  qb_gauss_reference(&pl->net, t, &ref);
  const size_t nc = sizeof mo->C, nq = sizeof mo->Q;
  if (!c) {
    memcpy(mo->C, ref.C, nc), memcpy(mo->Q, ref.Q, nq);
    memcpy(mo->err_C, ref.err_C, nc), memcpy(mo->err_Q, ref.err_Q, nc);
  }
  if (!d) {
    memcpy(mo->dC, ref.dC, nc), memcpy(mo->dQ, ref.dQ, nq);
    memcpy(mo->err_dC, ref.err_dC, nc), memcpy(mo->err_dQ, ref.err_dQ, nc);
  }
  mo->flags |= ref.flags | QB_GAUSS_FALLBACK;
}

/* Without squeezing: the covariance (cov_unsqueezed), the means mode by mode (means_complex). */
static void at_unsqueezed(const qb_gauss_plan *pl, double t, double tol, bool deriv,
                          const double complex *lx, const double *lex, qb_gauss_moments *mo) {
  memset(mo, 0, sizeof *mo);
  if (pl->noise) cov_unsqueezed(pl, t, tol, deriv, mo);
  if (pl->driven && means_complex(pl, t, deriv, lx, lex, mo)) fill_nan(pl->n, mo, QB_GAUSS_FAILED);
}

void qb_gauss_at(const qb_gauss_plan *pl, double t, qb_gauss_moments *mo) {
  qb_gauss_at_with(pl, t, true, NULL, NULL, mo);
}

void qb_gauss_at_with(const qb_gauss_plan *pl, double t, bool deriv, const double complex *lx,
                      const double *lex, qb_gauss_moments *mo) {
  if (!pl->ok || !(t >= 0) || !isfinite(t)) {
    fill_nan(pl->ok ? pl->n : NMAX, mo, QB_GAUSS_FAILED);
    return;
  }
  if (t == 0) {
    at_zero(pl, mo);
    return;
  }
  /* accurate enough: QB_GAUSS_TOL, or what the fallback itself would promise (its normwise
   * eps (64 + 8 ||A||_1 t), the conditioning of e^{At} under rounding of A; beyond it the
   * fallback cannot do better) */
  const double tol = fmax(QB_GAUSS_TOL, EPS * (64 + 8 * pl->norm1 * t));
  if (!pl->squeeze) {
    at_unsqueezed(pl, t, tol, deriv, lx, lex, mo);
  } else {
    if (pl->ready) fast_at(pl, t, true, true, mo);
    if (!pl->ready || (all_finite_mo(pl->n, mo) && !within(pl->n, mo, tol))) {
      qb_gauss_reference(&pl->net, t, mo);
      mo->flags |= QB_GAUSS_FALLBACK;
    }
  }
  if (!(mo->flags & QB_GAUSS_FAILED) && !all_finite_mo(pl->n, mo)) mo->flags = QB_GAUSS_OVERFLOW;
}

/* ---- the reference: augmented exponentials ---- */

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

/* x = int_0^t e^{Ls} d ds and dx = e^{Lt} d from exp([[L, d], [0, 0]] t) (L row-major k x k);
 * ex, edx: normwise estimates u (|x|_inf + t ||e^{Lt}||_inf |d|_inf), u ||e^{Lt}||_inf |d|_inf,
 * u = eps (64 + 8 ||L t||_1).  -1 on a GSL failure. */
static int expm_aug(int k, const double *L, const double *d, double t, double *x, double *dx,
                    double *ex, double *edx) {
  gsl_matrix *G = gsl_matrix_calloc((size_t)k + 1, (size_t)k + 1);
  gsl_matrix *E = gsl_matrix_alloc((size_t)k + 1, (size_t)k + 1);
  int rc = -1;
  if (!G || !E) goto done;
  double nL = 0, nd = 0, nE = 0, nx = 0;
  for (int j = 0; j < k; j++) {
    double s = 0;
    for (int i = 0; i < k; i++) {
      gsl_matrix_set(G, (size_t)i, (size_t)j, L[i * k + j] * t);
      s += fabs(L[i * k + j]) * t;
    }
    gsl_matrix_set(G, (size_t)j, (size_t)k, d[j] * t);
    nL = fmax(nL, s), nd = fmax(nd, fabs(d[j]));
  }
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int st = gsl_linalg_exponential_ss(G, E, GSL_PREC_DOUBLE);
  gsl_set_error_handler(old);
  if (st) goto done;
  for (int i = 0; i < k; i++) {
    double s = 0, rs = 0;
    for (int j = 0; j < k; j++) {
      s += gsl_matrix_get(E, (size_t)i, (size_t)j) * d[j];
      rs += fabs(gsl_matrix_get(E, (size_t)i, (size_t)j));
    }
    dx[i] = s;
    x[i] = gsl_matrix_get(E, (size_t)i, (size_t)k);
    nE = fmax(nE, rs), nx = fmax(nx, fabs(x[i]));
  }
  const double u = EPS * (64 + 8 * nL);
  *ex = u * (nx + t * nE * nd);
  *edx = u * nE * nd;
  rc = 0;
done:
  gsl_matrix_free(G);
  gsl_matrix_free(E);
  return rc;
}

/* index of Sigma_pq (p <= q) in the half-vectorization (row by row of the upper triangle) */
static int vech(int m, int p, int q) {
  if (p > q) {
    const int s = p;
    p = q, q = s;
  }
  return p * m - p * (p - 1) / 2 + (q - p);
}

/* L (P x P, P = m(m+1)/2): vech(A X + X A^T) = L vech X for symmetric X */
static void lyap_operator(int m, const double *A, double *L) {
  const int P = m * (m + 1) / 2;
  memset(L, 0, sizeof(double) * (size_t)P * (size_t)P);
  for (int p = 0; p < m; p++)
    for (int q = p; q < m; q++) {
      const int i = vech(m, p, q);
      for (int k = 0; k < m; k++) {
        L[i * P + vech(m, k, q)] += A[p * m + k];
        L[i * P + vech(m, p, k)] += A[q * m + k];
      }
    }
}

static int reference_cov(int m, const double *A, const double *Dp, double t, double *S, double *dS,
                         double *eS, double *edS) {
  enum { PMAX = MMAX * (MMAX + 1) / 2 };
  static_assert(PMAX == 136, "vech size");
  const int P = m * (m + 1) / 2;
  double *L = malloc(sizeof(double) * (size_t)P * (size_t)P);
  double d[PMAX] = {0}, x[PMAX], dx[PMAX];
  if (!L) return -1;
  lyap_operator(m, A, L);
  for (int p = 0; p < m; p++)
    for (int q = p; q < m; q++)
      d[vech(m, p, q)] = Dp[p * m + q];
  const int rc = expm_aug(P, L, d, t, x, dx, eS, edS);
  free(L);
  for (int p = 0; p < m; p++)
    for (int q = 0; q < m; q++)
      S[p * m + q] = x[vech(m, p, q)], dS[p * m + q] = dx[vech(m, p, q)];
  return rc;
}

void qb_gauss_reference(const qb_gauss_net *net, double t, qb_gauss_moments *mo) {
  if (!net_valid(net) || !(t >= 0) || !isfinite(t)) {
    fill_nan(NMAX, mo, QB_GAUSS_FAILED);
    return;
  }
  const int n = net->n, m = 2 * n;
  double A[MMAX * MMAX], b[MMAX], Dp[MMAX * MMAX], r[MMAX], dr[MMAX], er, edr;
  double S[MMAX * MMAX], dS[MMAX * MMAX], eS, edS;
  const bool sq = real_form(net, A, b, Dp);
  if (expm_aug(m, A, b, t, r, dr, &er, &edr) || reference_cov(m, A, Dp, t, S, dS, &eS, &edS)) {
    fill_nan(n, mo, QB_GAUSS_FAILED);
    return;
  }
  memset(mo, 0, sizeof *mo);
  for (int j = 0; j < n; j++) {
    const int u = j, v = n + j;
    mo->alpha[j] = CMPLX(r[u], r[v]);
    mo->dalpha[j] = CMPLX(dr[u], dr[v]);
    block_to_cq(S[u * m + u], S[v * m + v], 2 * S[u * m + v], sq, &mo->C[j], &mo->Q[j]);
    block_to_cq(dS[u * m + u], dS[v * m + v], 2 * dS[u * m + v], sq, &mo->dC[j], &mo->dQ[j]);
    mo->err_alpha[j] = 2 * er, mo->err_dalpha[j] = 2 * edr;
    mo->err_C[j] = 2 * eS, mo->err_dC[j] = 2 * edS;
    mo->err_Q[j] = sq ? 4 * eS : 0, mo->err_dQ[j] = sq ? 4 * edS : 0;
  }
  if (!all_finite_mo(n, mo)) mo->flags |= QB_GAUSS_OVERFLOW;
}

/* ---- the steady state ---- */

/* r = -A^-1 b by LU (dgesv); *rcond: dgecon's 1-norm reciprocal condition.  -1 if singular. */
static int steady_means(int m, const double *A, const double *b, double *r, double *rcond) {
  double LU[MMAX * MMAX], work[4 * MMAX], anorm = 0;
  lapack_int ipiv[MMAX], iwork[MMAX];
  for (int j = 0; j < m; j++) {
    double s = 0;
    for (int i = 0; i < m; i++)
      LU[j * m + i] = A[i * m + j], s += fabs(A[i * m + j]);
    anorm = fmax(anorm, s);
    r[j] = -b[j];
  }
  if (LAPACKE_dgesv_work(LAPACK_COL_MAJOR, m, 1, LU, m, ipiv, r, m) != 0) return -1;
  if (LAPACKE_dgecon_work(LAPACK_COL_MAJOR, '1', m, LU, m, anorm, rcond, work, iwork) != 0)
    return -1;
  return 0;
}

/* X with A X + X A^T + D' = 0: A = U T U^T (dgees, real Schur), T Y + Y T^T = -U^T D' U
 * (dtrsyl, scaled), X = U Y U^T (symmetrized).  -1 on failure. */
static int steady_cov(int m, const double *A, const double *Dp, double *X) {
  double T[MMAX * MMAX], U[MMAX * MMAX], W[MMAX * MMAX], Y[MMAX * MMAX], wr[MMAX], wi[MMAX];
  double work[LWORK], scale = 1;
  lapack_int sdim = 0;
  lapack_logical bwork[MMAX];
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++)
      T[j * m + i] = A[i * m + j];
  if (LAPACKE_dgees_work(LAPACK_COL_MAJOR, 'V', 'N', NULL, m, T, m, &sdim, wr, wi, U, m, work,
                         LWORK, bwork) != 0)
    return -1;
  for (int i = 0; i < m; i++) /* W = D' U (col-major: W[j*m+i] = (D'U)_ij) */
    for (int j = 0; j < m; j++) {
      double s = 0;
      for (int k = 0; k < m; k++)
        s += Dp[i * m + k] * U[j * m + k];
      W[j * m + i] = s;
    }
  for (int i = 0; i < m; i++) /* Y = -U^T W */
    for (int j = 0; j < m; j++) {
      double s = 0;
      for (int k = 0; k < m; k++)
        s += U[i * m + k] * W[j * m + k];
      Y[j * m + i] = -s;
    }
  if (LAPACKE_dtrsyl_work(LAPACK_COL_MAJOR, 'N', 'T', 1, m, m, T, m, T, m, Y, m, &scale) < 0 ||
      !(scale > 0))
    return -1;
  for (int i = 0; i < m; i++) /* W = U Y (col-major) */
    for (int j = 0; j < m; j++) {
      double s = 0;
      for (int k = 0; k < m; k++)
        s += U[k * m + i] * Y[j * m + k];
      W[j * m + i] = s / scale;
    }
  for (int i = 0; i < m; i++) /* X = W U^T (row-major) */
    for (int j = 0; j < m; j++) {
      double s = 0;
      for (int k = 0; k < m; k++)
        s += W[k * m + i] * U[k * m + j];
      X[i * m + j] = s;
    }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < i; j++)
      X[i * m + j] = X[j * m + i] = 0.5 * (X[i * m + j] + X[j * m + i]);
  return 0;
}

static void steady_state(qb_gauss_plan *pl) {
  const int n = pl->n, m = pl->m;
  qb_gauss_moments *mo = &pl->ss;
  double r[MMAX], X[MMAX * MMAX], rcond = 0, na = 0, nr = 0, nx = 0;
  fill_nan(n, mo, QB_GAUSS_NOT_STABLE);
  if (!pl->stable) return;
  /* the real means only with squeezing (else complex_steady replaces them), the Lyapunov
   * equation only with a source (else Sigma = 0 exactly) */
  memset(r, 0, sizeof r);
  memset(X, 0, sizeof X);
  rcond = 1;
  if ((pl->squeeze && steady_means(m, pl->A, pl->b, r, &rcond)) ||
      (pl->noise && steady_cov(m, pl->A, pl->Dp, X))) {
    mo->flags = QB_GAUSS_FAILED;
    return;
  }
  memset(mo, 0, sizeof *mo);
  for (int p = 0; p < m; p++) {
    double s = 0;
    for (int q = 0; q < m; q++)
      s += fabs(pl->A[q * m + p]), nx = fmax(nx, fabs(X[p * m + q]));
    na = fmax(na, s), nr = fmax(nr, fabs(r[p]));
  }
  /* first order: LU backward error amplified by 1/rcond; the Lyapunov operator's inverse
   * norm taken as 1/(2 |growth|) (exact for normal A, an underestimate for non-normal ones) */
  const double er = 4.0 * m * EPS * nr / rcond, ex = 4.0 * m * EPS * na / (2 * -pl->growth) * nx;
  for (int j = 0; j < n; j++) {
    mo->alpha[j] = pl->driven ? CMPLX(r[j], r[n + j]) : 0;
    if (pl->noise)
      block_to_cq(X[j * m + j], X[(n + j) * m + n + j], X[j * m + n + j] + X[(n + j) * m + j],
                  pl->squeeze, &mo->C[j], &mo->Q[j]);
    mo->err_alpha[j] = pl->driven ? 2 * er : 0;
    mo->err_C[j] = pl->noise ? 2 * ex : 0;
    mo->err_Q[j] = pl->noise && pl->squeeze ? 4 * ex : 0;
  }
  if (!all_finite_mo(n, mo)) mo->flags = QB_GAUSS_OVERFLOW;
}

void qb_gauss_steady(const qb_gauss_plan *pl, qb_gauss_moments *mo) {
  if (!pl->ok) {
    fill_nan(NMAX, mo, QB_GAUSS_FAILED);
    return;
  }
  *mo = pl->ss;
}

/* ---- the plan ---- */

/* Without squeezing: M, f = -iF, the magnitudes Mt of M's terms (|h_jl| + sum_k rate_k
 * |c_kj| |c_kl| / 2) and M's eigendecomposition with f (sp; not usable where it fails: the
 * transient then). */
static void complex_plan(qb_gauss_plan *pl) {
  const qb_gauss_net *net = &pl->net;
  const int n = pl->n;
  complex_drift(net, pl->M, NULL);
  for (int j = 0; j < n; j++) {
    pl->f[j] = CMPLX(cimag(net->F[j]), -creal(net->F[j]));
    for (int l = 0; l < n; l++) {
      double g = 0;
      for (int k = 0; k < net->nd; k++)
        g += net->rate[k] * cabs(net->c[k * NMAX + j]) * cabs(net->c[k * NMAX + l]);
      pl->Mt[j * n + l] = cabs(net->h[j * n + l]) + 0.5 * g;
    }
  }
  qb_spectral_init(&pl->sp, n, pl->M, pl->f);
  const qb_spectral *s = &pl->sp;
  pl->lean = qb_spectral_usable(s);
  for (int j = 0; j < n && pl->lean; j++) {
    pl->lean = isfinite(s->Gx[j]);
    pl->Go[j] = pl->Gi[j] = 0;
    for (int k = 0; k < n; k++)
      if (k != j && s->G[j * n + k] != 0)
        pl->Go[j] += s->G[j * n + k], pl->Gi[j] += s->G[j * n + k] * s->invd[j * n + k];
  }
}

/* Without squeezing: the steady means by LU with componentwise estimates (qb_linear_solve_est),
 * which replace the real form's in pl->ss. */
static void complex_steady(qb_gauss_plan *pl) {
  const int n = pl->n;
  if (!pl->stable || !pl->driven || (pl->ss.flags & QB_GAUSS_FAILED)) return;
  double complex mf[NMAX];
  for (int j = 0; j < n; j++)
    mf[j] = -pl->f[j];
  if (qb_linear_solve_est(n, pl->M, pl->Mt, mf, pl->xss, pl->ess) != QB_OK) {
    pl->ss.flags |= QB_GAUSS_FAILED;
    return;
  }
  for (int j = 0; j < n; j++)
    pl->ss.alpha[j] = pl->xss[j], pl->ss.err_alpha[j] = pl->ess[j];
}

/* Without squeezing and noise (only qb_gauss_tcrit's bounds use the real form's decomposition
 * then): lam, V, c, ec of the real form from the complex plan sp, no second eigensolver.
 * M v = lambda v gives A (v; -iv) = lambda (v; -iv) and A (v~; iv~) = lambda~ (v~; iv~)
 * (~: complex conjugate), and b = (Re f; Im f) = the sum over those with coefficients
 * (c/2, c~/2); kappa_1 = 2 kappa_1(sp.V) (the columns' 1-norms double; V^-1 = 1/2 [[W, iW],
 * [W~, -iW~]], W = sp.V^-1, keeps W's column sums).  Dt = eDt = 0 (no source); rho = 0 (the
 * fast path is not used without noise). */
static void real_from_complex(qb_gauss_plan *pl) {
  const qb_spectral *s = &pl->sp;
  const int n = pl->n, m = pl->m;
  pl->ready = false;
  pl->kappa = INFINITY;
  if (!s->ready) return;
  for (int a = 0; a < n; a++) {
    pl->lam[a] = s->lambda[a], pl->lam[n + a] = conj(s->lambda[a]);
    pl->c[a] = 0.5 * s->c[a], pl->c[n + a] = 0.5 * conj(s->c[a]);
    pl->ec[a] = pl->ec[n + a] = 0.5 * s->dc[a];
    for (int j = 0; j < n; j++) {
      const double complex v = s->V[j * n + a];
      const double av = cabs(v);
      pl->V[j * m + a] = v, pl->V[j * m + n + a] = conj(v);
      pl->V[(n + j) * m + a] = CMPLX(cimag(v), -creal(v));    /* -i v */
      pl->V[(n + j) * m + n + a] = CMPLX(cimag(v), creal(v)); /* i v* */
      pl->absV[j * m + a] = pl->absV[j * m + n + a] = av;
      pl->absV[(n + j) * m + a] = pl->absV[(n + j) * m + n + a] = av;
    }
  }
  pl->kappa = 2.0 * s->kappa;
  pl->ready = isfinite(pl->kappa) && pl->kappa <= QB_GAUSS_KAPPA_MAX;
}

/* growth rate and the exposed eigenvalues: eig(M) when S = 0, eig(A) otherwise */
static void growth_rate(qb_gauss_plan *pl) {
  double complex w[MMAX], M[NMAX * NMAX];
  pl->growth = NAN;
  if (!pl->squeeze && isfinite(pl->sp.g)) { /* sp's eigensolver converged: its eigenvalues */
    for (int k = 0; k < pl->n; k++)
      w[k] = pl->sp.lambda[k];
    pl->neig = pl->n;
  } else if (!pl->squeeze) {
    complex_drift(&pl->net, M, NULL);
    if (geev(pl->n, M, w, NULL)) return;
    pl->neig = pl->n;
  } else {
    double complex Ac[MMAX * MMAX];
    for (int i = 0; i < pl->m * pl->m; i++)
      Ac[i] = pl->A[i];
    if (geev(pl->m, Ac, w, NULL)) return;
    pl->neig = pl->m;
  }
  sort_eig(pl->neig, w);
  for (int k = 0; k < pl->neig; k++)
    pl->eig[k] = w[k];
  pl->growth = creal(w[0]);
}

void qb_gauss_plan_make(const qb_gauss_net *net, qb_gauss_plan *pl) {
  memset(pl, 0, offsetof(qb_gauss_plan, P)); /* P, Pa: filled where used (quadratic_forms) */
  pl->growth = pl->scale = NAN;
  pl->kappa = INFINITY;
  fill_nan(NMAX, &pl->ss, QB_GAUSS_FAILED);
  if (!net_valid(net)) return;
  const int n = net->n, m = 2 * n;
  pl->n = n, pl->m = m, pl->net = *net, pl->ok = true;
  pl->squeeze = real_form(net, pl->A, pl->b, pl->Dp);
  pl->scale = 0;
  for (int j = 0; j < m; j++) {
    double s = 0;
    for (int i = 0; i < m; i++)
      s += fabs(pl->A[i * m + j]);
    pl->norm1 = fmax(pl->norm1, s);
  }
  for (int i = 0; i < m * m; i++) {
    pl->scale = fmax(pl->scale, fabs(pl->A[i]));
    if (pl->Dp[i] != 0) pl->noise = true;
  }
  for (int p = 0; p < m; p++)
    if (pl->b[p] != 0) pl->driven = true;
  if (!pl->squeeze) complex_plan(pl);
  if (pl->squeeze || pl->noise)
    decompose(pl);
  else
    real_from_complex(pl);
  for (int a = 0; a < m; a++) {
    pl->rlam[a] = pl->lam[a] != 0 ? 1.0 / pl->lam[a] : 0;
    for (int b = 0; b < m; b++) {
      const double complex mu = pl->lam[a] + pl->lam[b];
      pl->rmu[a * m + b] = mu != 0 ? 1.0 / mu : 0;
    }
  }
  growth_rate(pl);
  pl->stable = pl->growth < -QB_GAUSS_STABLE_REL * pl->scale;
  steady_state(pl);
  if (!pl->squeeze) complex_steady(pl);
}

/* ---- per-mode quantities ---- */

double qb_gauss_energy(const qb_gauss_moments *m, int j) {
  const double ar = creal(m->alpha[j]), ai = cimag(m->alpha[j]);
  return (ar * ar + ai * ai) + m->C[j];
}

static double nu_of(double C, double q2) { /* sqrt((C + 1/2)^2 - |Q|^2), the first form exact */
  const double x = (C + 0.5) * (C + 0.5) - q2;
  return sqrt(x > 0.25 ? x : 0.25); /* fmax(x, 0.25) without the library call */
}

double qb_gauss_nbar(const qb_gauss_moments *m, int j) {
  if (m->Q[j] == 0 && m->C[j] == 0) return 0; /* the formula's value, without its work */
  const double C = m->C[j], q = m->Q[j] == 0 ? 0 : cabs(m->Q[j]), q2 = q * q;
  const double nb = (C + C * C - q2) / (nu_of(C, q2) + 0.5);
  return nb > 0 ? nb : 0;
}

double qb_gauss_ergotropy(const qb_gauss_moments *m, int j) {
  const double ar = creal(m->alpha[j]), ai = cimag(m->alpha[j]);
  if (m->Q[j] == 0 && isfinite(m->C[j])) return ar * ar + ai * ai; /* + 0 / (...): the same bits */
  const double C = m->C[j], q = cabs(m->Q[j]), q2 = q * q;
  return (ar * ar + ai * ai) + q2 / (nu_of(C, q2) + C + 0.5);
}

double qb_gauss_power(const qb_gauss_moments *m, int j) {
  return 2 * (creal(m->alpha[j]) * creal(m->dalpha[j]) + cimag(m->alpha[j]) * cimag(m->dalpha[j])) +
         m->dC[j];
}

/* ---- the first time an energy reaches a threshold ---- */

/* e^{Re(z) tau} at the end of [t0, t1] where it is largest */
static double grow_sup(double complex z, double t0, double t1) {
  return exp(creal(z) * (creal(z) > 0 ? t1 : t0));
}

/* Bounds over tau in [t0, t1] (t1 = INFINITY: every tau >= t0) of |alpha_j| (*A), |alpha_j'|
 * (*dA), C_j (*Cs) and |C_j'| (*dC), term by term from the eigendecomposition:
 * alpha = V phi(Lambda tau) c, Sigma = V [Dt_ab psi_ab] V^T, |phi(l, tau)| <= (e^{Re l tau} +
 * 1)/|l| (tau where l = 0).  Infinite where a term grows without bound over the interval. */
static void sups(const qb_gauss_plan *pl, int j, double t0, double t1, double *A, double *dA,
                 double *Cs, double *dC) {
  const int n = pl->n, m = pl->m, p2[2] = {j, n + j};
  *A = *dA = *Cs = *dC = 0;
  for (int k = 0; k < 2; k++) {
    const int p = p2[k];
    for (int a = 0; a < m; a++) {
      const double w = cabs(pl->V[p * m + a]) * (cabs(pl->c[a]) + pl->ec[a]);
      const double e = grow_sup(pl->lam[a], t0, t1);
      if (w != 0) { /* (a term of weight 0 adds nothing, also where its factor is infinite) */
        *A += w * (pl->lam[a] != 0 ? (e + 1) / cabs(pl->lam[a]) : t1);
        *dA += w * e;
      }
      for (int b = 0; b < m; b++) {
        const double complex mu = pl->lam[a] + pl->lam[b];
        const double v = cabs(pl->V[p * m + a]) * cabs(pl->V[p * m + b]) *
                         (cabs(pl->Dt[a * m + b]) + pl->eDt[a * m + b]);
        if (v == 0) continue;
        const double f = grow_sup(mu, t0, t1);
        *Cs += v * (mu != 0 ? (f + 1) / cabs(mu) : t1);
        *dC += v * f;
      }
    }
  }
}

/* Where stable, the transient parts alone: alpha - alpha_ss = V diag(e^{lambda tau}/lambda) c,
 * Sigma - Sigma_ss = V [Dt_ab e^{mu tau}/mu] V^T: their bounds over tau >= t (*A, *Cs). */
static void decay_sups(const qb_gauss_plan *pl, int j, double t, double *A, double *Cs) {
  const int n = pl->n, m = pl->m, p2[2] = {j, n + j};
  *A = *Cs = 0;
  for (int k = 0; k < 2; k++)
    for (int a = 0; a < m; a++) {
      const int p = p2[k];
      *A += cabs(pl->V[p * m + a]) * (cabs(pl->c[a]) + pl->ec[a]) / cabs(pl->lam[a]) *
            exp(creal(pl->lam[a]) * t);
      for (int b = 0; b < m; b++) {
        const double complex mu = pl->lam[a] + pl->lam[b];
        *Cs += cabs(pl->V[p * m + a]) * cabs(pl->V[p * m + b]) *
               (cabs(pl->Dt[a * m + b]) + pl->eDt[a * m + b]) / cabs(mu) * exp(creal(mu) * t);
      }
    }
}

/* sup over tau >= t of E_j (INFINITY unless every mode decays or oscillates): where stable,
 * (|alpha_ss| + transient)^2 + C_ss + transient (tight once the transients have decayed); else
 * the term-by-term bound.  A 1e-6 margin covers the decomposition's own rounding. */
static double energy_sup(const qb_gauss_plan *pl, int j, double t) {
  double A, dA, Cs, dC;
  if (!pl->ready) return INFINITY;
  /* (unbounded terms make sups infinite; those of weight 0 for mode j, e.g. an isolated lossless
   * mode beside the battery, do not count) */
  const qb_gauss_moments *ss = &pl->ss;
  if (pl->stable && !(ss->flags & (QB_GAUSS_FAILED | QB_GAUSS_OVERFLOW))) {
    decay_sups(pl, j, t, &A, &Cs);
    A += cabs(ss->alpha[j]) + ss->err_alpha[j];
    Cs += ss->C[j] + ss->err_C[j];
  } else {
    sups(pl, j, t, INFINITY, &A, &dA, &Cs, &dC);
  }
  return (A * A + Cs) * (1 + 1e-6);
}

/* sup over [t0, t1] of |E_j'| = |2 Re(conj(alpha) alpha') + C'| */
static double power_sup(const qb_gauss_plan *pl, int j, double t0, double t1) {
  double A, dA, Cs, dC;
  if (!pl->ready) return INFINITY;
  sups(pl, j, t0, t1, &A, &dA, &Cs, &dC);
  return (2 * A * dA + dC) * (1 + 1e-6);
}

static double energy_at(const qb_gauss_plan *pl, int j, double t) {
  qb_gauss_moments mo;
  qb_gauss_at(pl, t, &mo);
  return mo.flags & (QB_GAUSS_FAILED | QB_GAUSS_OVERFLOW) ? NAN : qb_gauss_energy(&mo, j);
}

/* E_j(t) = emax in [ta, tb] (E_j(ta) < emax <= E_j(tb)): bisection with a secant step, to a
 * bracket of 4 eps relative */
static double refine(const qb_gauss_plan *pl, int j, double emax, double ta, double tb, double fa,
                     double fb) {
  for (int it = 0; it < 300 && tb - ta > 4 * EPS * tb; it++) {
    double x = ta + (tb - ta) * (-fa / (fb - fa));
    if (!(x > ta && x < tb) || it % 3 == 2) x = 0.5 * (ta + tb);
    const double fx = energy_at(pl, j, x) - emax;
    if (isnan(fx)) return NAN;
    if (fx < 0)
      ta = x, fa = fx;
    else
      tb = x, fb = fx;
  }
  return tb;
}

double qb_gauss_tcrit(const qb_gauss_plan *pl, int j, double emax, int *why) {
  *why = 2;
  if (!pl->ok || !(emax > 0)) return NAN;
  double lmax = 0, wmax = 0;
  for (int a = 0; a < pl->m; a++)
    lmax = fmax(lmax, cabs(pl->lam[a])), wmax = fmax(wmax, fabs(cimag(pl->lam[a])));
  if (!pl->ready) lmax = wmax = pl->norm1;
  const double dt0 = 0.25 / fmax(lmax, 1e-300), dt_osc = wmax > 0 ? 0.2 / wmax : INFINITY;
  double t = 0, f = -emax; /* E(0) = 0 */
  for (int k = 0; k < QB_GAUSS_TCRIT_STEPS; k++) {
    if (energy_sup(pl, j, t) < emax) {
      *why = 1;
      return NAN;
    }
    const double gap = -f, d0 = power_sup(pl, j, t, t);
    const double safe = gap / fmax(power_sup(pl, j, t, t + gap / fmax(d0, 1e-300)), 1e-300);
    const double step = fmax(safe * (1 - 1e-12), fmin(dt_osc, 0.125 * t + dt0));
    const double tn = t + step, fn = energy_at(pl, j, tn) - emax;
    if (!(step > 0) || !isfinite(tn) || isnan(fn)) return NAN;
    if (fn >= 0) {
      const double tc = refine(pl, j, emax, t, tn, f, fn);
      *why = isnan(tc) ? 2 : 0;
      return tc;
    }
    t = tn, f = fn;
  }
  return NAN;
}
