#include "qbmap/qb_linear.h"

#include <float.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* R = [[Re A, -Im A], [Im A, Re A]] for an m x m complex A. */
static void realify(int m, const double complex *A, gsl_matrix *R) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double complex a = A[i * m + j];
      gsl_matrix_set(R, (size_t)i, (size_t)j, creal(a));
      gsl_matrix_set(R, (size_t)i, (size_t)(j + m), -cimag(a));
      gsl_matrix_set(R, (size_t)(i + m), (size_t)j, cimag(a));
      gsl_matrix_set(R, (size_t)(i + m), (size_t)(j + m), creal(a));
    }
}

qb_err qb_linear_expm_aug(int n, const double complex *M, const double complex *f, double t,
                          double complex *x, double complex *dx) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  int m = n + 1;
  double complex A[(QB_LINEAR_NMAX + 1) * (QB_LINEAR_NMAX + 1)] = {0};
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++)
      A[i * m + j] = M[i * n + j] * t;
    A[i * m + n] = f[i] * t;
  }
  gsl_matrix *R = gsl_matrix_alloc((size_t)(2 * m), (size_t)(2 * m));
  gsl_matrix *E = gsl_matrix_alloc((size_t)(2 * m), (size_t)(2 * m));
  qb_err err = QB_ENOMEM;
  if (!R || !E) goto cleanup;
  realify(m, A, R);
  err = gsl_linalg_exponential_ss(R, E, GSL_PREC_DOUBLE) ? QB_EINTERNAL : QB_OK;
  if (err) goto cleanup;
  for (int i = 0; i < n; i++) {
    x[i] = CMPLX(gsl_matrix_get(E, (size_t)i, (size_t)n),
                 gsl_matrix_get(E, (size_t)(i + m), (size_t)n));
    if (dx) {
      double complex s = 0;
      for (int j = 0; j < n; j++) {
        double complex eij = CMPLX(gsl_matrix_get(E, (size_t)i, (size_t)j),
                                   gsl_matrix_get(E, (size_t)(i + m), (size_t)j));
        s += eij * f[j];
      }
      dx[i] = s;
    }
  }
cleanup:
  gsl_matrix_free(R);
  gsl_matrix_free(E);
  return err;
}

typedef struct {
  double complex lambda;
  double resid;
  double complex v[QB_LINEAR_NMAX];
} eig_cand;

static int by_resid(const void *a, const void *b) {
  double ra = ((const eig_cand *)a)->resid, rb = ((const eig_cand *)b)->resid;
  return (ra > rb) - (ra < rb);
}

static int by_real_desc(const void *a, const void *b) {
  double ra = creal(((const eig_cand *)a)->lambda), rb = creal(((const eig_cand *)b)->lambda);
  return (ra < rb) - (ra > rb);
}

/* Candidate k of the real form's eigenpairs: the eigenvector [p; q] of the real form belongs to
 * M iff q = -i p; its residual |M p - lam p| / |p| says how well. */
static void eig_candidate(int n, const double complex *M, const gsl_vector_complex *ev,
                          const gsl_matrix_complex *V, size_t k, eig_cand *c) {
  gsl_complex g = gsl_vector_complex_get(ev, k);
  double complex lam = CMPLX(GSL_REAL(g), GSL_IMAG(g));
  double complex *p = c->v;
  double pn = 0, rn = 0;
  for (int i = 0; i < n; i++) {
    gsl_complex v = gsl_matrix_complex_get(V, (size_t)i, k);
    p[i] = CMPLX(GSL_REAL(v), GSL_IMAG(v));
    pn += creal(p[i] * conj(p[i]));
  }
  for (int i = 0; i < n; i++) {
    double complex r = -lam * p[i];
    for (int j = 0; j < n; j++)
      r += M[i * n + j] * p[j];
    rn += creal(r * conj(r));
  }
  c->lambda = lam;
  c->resid = pn > 0 ? sqrt(rn / pn) : INFINITY;
}

/* cand[0 .. N) sorted by residual: takes the best candidates one by one, each time dropping the
 * conjugate partner of the one taken: a (nearly) real eigenvalue of M appears twice in the real
 * form, and both copies pass the residual test; without this a real eigenvalue could push a
 * genuine one out.  The n chosen end up in cand[0 .. n). */
static void drop_partners(int n, eig_cand *cand, size_t N) {
  size_t navail = N;
  for (int k = 0; k < n && k < (int)navail; k++) {
    double complex cj = conj(cand[k].lambda);
    size_t best = 0;
    double bd = INFINITY;
    for (size_t j = (size_t)k + 1; j < navail; j++) {
      double d = cabs(cand[j].lambda - cj);
      if (d < bd) bd = d, best = j;
    }
    if (best) { /* remove it, keeping the residual order */
      for (size_t j = best; j + 1 < navail; j++)
        cand[j] = cand[j + 1];
      navail--;
    }
  }
}

qb_err qb_linear_eig(int n, const double complex *M, double complex *lambda, double complex *vecs) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  size_t N = (size_t)(2 * n);
  gsl_matrix *R = gsl_matrix_alloc(N, N);
  gsl_vector_complex *ev = gsl_vector_complex_alloc(N);
  gsl_matrix_complex *V = gsl_matrix_complex_alloc(N, N);
  gsl_eigen_nonsymmv_workspace *ws = gsl_eigen_nonsymmv_alloc(N);
  eig_cand cand[2 * QB_LINEAR_NMAX];
  qb_err err = QB_ENOMEM;
  if (!R || !ev || !V || !ws) goto cleanup;
  realify(n, M, R);
  err = gsl_eigen_nonsymmv(R, ev, V, ws) ? QB_EINTERNAL : QB_OK;
  if (err) goto cleanup;
  for (size_t k = 0; k < N; k++)
    eig_candidate(n, M, ev, V, k, &cand[k]);
  qsort(cand, N, sizeof cand[0], by_resid);
  drop_partners(n, cand, N);
  qsort(cand, (size_t)n, sizeof cand[0], by_real_desc);
  for (int k = 0; k < n; k++) {
    lambda[k] = cand[k].lambda;
    if (vecs)
      for (int i = 0; i < n; i++)
        vecs[i * n + k] = cand[k].v[i];
  }
cleanup:
  gsl_eigen_nonsymmv_free(ws);
  gsl_matrix_complex_free(V);
  gsl_vector_complex_free(ev);
  gsl_matrix_free(R);
  return err;
}

/* A complex LU factorization of an n x n matrix in caller-owned (stack) storage: GSL's LU on
 * views of these arrays, so nothing is allocated. */
typedef struct {
  double a[2 * QB_LINEAR_NMAX * QB_LINEAR_NMAX];
  size_t pdata[QB_LINEAR_NMAX];
  gsl_permutation perm;
  gsl_matrix_complex_view A;
} lu_fact;

static qb_err lu_decomp(int n, const double complex *M, lu_fact *F) {
  for (int i = 0; i < n * n; i++)
    F->a[2 * i] = creal(M[i]), F->a[2 * i + 1] = cimag(M[i]);
  F->A = gsl_matrix_complex_view_array(F->a, (size_t)n, (size_t)n);
  F->perm = (gsl_permutation){(size_t)n, F->pdata};
  int sign;
  return gsl_linalg_complex_LU_decomp(&F->A.matrix, &F->perm, &sign) ? QB_EINTERNAL : QB_OK;
}

static qb_err lu_solve(int n, const lu_fact *F, const double complex *rhs, double complex *x) {
  double b[2 * QB_LINEAR_NMAX], y[2 * QB_LINEAR_NMAX];
  for (int i = 0; i < n; i++)
    b[2 * i] = creal(rhs[i]), b[2 * i + 1] = cimag(rhs[i]);
  gsl_vector_complex_view bv = gsl_vector_complex_view_array(b, (size_t)n);
  gsl_vector_complex_view yv = gsl_vector_complex_view_array(y, (size_t)n);
  if (gsl_linalg_complex_LU_solve(&F->A.matrix, &F->perm, &bv.vector, &yv.vector))
    return QB_EINTERNAL;
  for (int i = 0; i < n; i++)
    x[i] = CMPLX(y[2 * i], y[2 * i + 1]);
  return QB_OK;
}

qb_err qb_linear_solve(int n, const double complex *M, const double complex *rhs,
                       double complex *x) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  lu_fact F;
  qb_err err = lu_decomp(n, M, &F);
  return err ? err : lu_solve(n, &F, rhs, x);
}

/* ---- error-estimated solves and transients (for the passive drifts of shared, threemode) ---- */

qb_err qb_linear_solve_est(int n, const double complex *M, const double *Mterms,
                           const double complex *rhs, double complex *x, double *err) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  lu_fact F;
  qb_err e = lu_decomp(n, M, &F);
  if (e || (e = lu_solve(n, &F, rhs, x))) return e;
  /* |M^-1| column by column from the same LU (n <= 8: cheap) */
  double u[QB_LINEAR_NMAX];
  for (int i = 0; i < n; i++) {
    double s = cabs(rhs[i]);
    for (int j = 0; j < n; j++)
      s += Mterms[i * n + j] * cabs(x[j]);
    u[i] = s;
  }
  for (int i = 0; i < n; i++)
    err[i] = 0;
  for (int j = 0; j < n; j++) {
    double complex ej[QB_LINEAR_NMAX] = {0}, col[QB_LINEAR_NMAX];
    ej[j] = 1;
    if (lu_solve(n, &F, ej, col)) return QB_EINTERNAL;
    for (int i = 0; i < n; i++)
      err[i] += cabs(col[i]) * u[j];
  }
  /* c: rounding in the LU solve itself plus the first-order propagation, with a safety factor */
  for (int i = 0; i < n; i++)
    err[i] *= 8.0 * (n + 1) * DBL_EPSILON;
  return QB_OK;
}

static void matmul(int n, const double complex *A, const double complex *B, double complex *C) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double complex s = 0;
      for (int k = 0; k < n; k++)
        s += A[i * n + k] * B[k * n + j];
      C[i * n + j] = s;
    }
}

/* largest |v_i|; NaN if any is NaN (fmax would drop it) */
static double maxabs(int n, const double complex *v) {
  double m = 0;
  for (int i = 0; i < n; i++) {
    double a = cabs(v[i]);
    if (isnan(a)) return NAN;
    m = fmax(m, a);
  }
  return m;
}

/* e^{Mt} alone, real form, GSL scaling and squaring (|M| t moderate). */
static qb_err expm_plain(int n, const double complex *M, double t, double complex *E) {
  double complex A[QB_LINEAR_NMAX * QB_LINEAR_NMAX];
  for (int i = 0; i < n * n; i++)
    A[i] = M[i] * t;
  gsl_matrix *R = gsl_matrix_alloc((size_t)(2 * n), (size_t)(2 * n));
  gsl_matrix *X = gsl_matrix_alloc((size_t)(2 * n), (size_t)(2 * n));
  qb_err err = QB_ENOMEM;
  if (!R || !X) goto cleanup;
  realify(n, A, R);
  err = gsl_linalg_exponential_ss(R, X, GSL_PREC_DOUBLE) ? QB_EINTERNAL : QB_OK;
  if (err) goto cleanup;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      E[i * n + j] = CMPLX(gsl_matrix_get(X, (size_t)i, (size_t)j),
                           gsl_matrix_get(X, (size_t)(i + n), (size_t)j));
cleanup:
  gsl_matrix_free(R);
  gsl_matrix_free(X);
  return err;
}

/* |M| t up to which one GSL scaling and squaring is used directly (its scaling factor 2^j must
 * stay far from overflow) */
#define EXPM_DIRECT 0x1p40

qb_err qb_linear_expm(int n, const double complex *M, const double complex *f, double t,
                      double complex *E, double complex *x) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  double nu = maxabs(n * n, M) * n;
  int k = 0;
  if (nu * t > EXPM_DIRECT) k = (int)ceil(log2(nu * t / EXPM_DIRECT));
  double t0 = ldexp(t, -k);
  qb_err err = expm_plain(n, M, t0, E);
  if (err) return err;
  if (f) {
    double complex dx[QB_LINEAR_NMAX];
    err = qb_linear_expm_aug(n, M, f, t0, x, dx);
    if (err) return err;
  }
  double complex E2[QB_LINEAR_NMAX * QB_LINEAR_NMAX], y[QB_LINEAR_NMAX];
  for (int s = 0; s < k; s++) {
    if (maxabs(n * n, E) < 1e-300) { /* decayed: e^{M tau} = 0 from here on, x stays */
      for (int i = 0; i < n * n; i++)
        E[i] = 0;
      break;
    }
    if (f) { /* x(2 tau) = x(tau) + e^{M tau} x(tau) */
      for (int i = 0; i < n; i++) {
        double complex v = x[i];
        for (int j = 0; j < n; j++)
          v += E[i * n + j] * x[j];
        y[i] = v;
      }
      for (int i = 0; i < n; i++)
        x[i] = y[i];
    }
    matmul(n, E, E, E2);
    for (int i = 0; i < n * n; i++)
      E[i] = E2[i];
  }
  return QB_OK;
}

/* Relative rounding of a scaling-and-squaring exponential at |M| t = tau: every mode's exponent
 * carries ~eps tau (the scaled matrix is I + O(2^-j), its entries rounded to eps, squared j
 * times); the constant covers the Taylor part and the products. */
static double expm_relerr(double tau) {
  return DBL_EPSILON * (64.0 + 8.0 * tau);
}

/* Above this estimated relative error the augmented form is replaced by the steady-state form
 * when that is better; below it the augmented form is kept (bit for bit the earlier results). */
#define AUG_KEEP 1e-11

qb_err qb_linear_transient(int n, const double complex *M, const double complex *f, double t,
                           double g, const double complex *xss, const double *exss,
                           double complex *x, double complex *dx, double *ldx, double *ex,
                           double *edx) {
  return qb_linear_transient_form(n, M, f, t, g, xss, exss, x, dx, ldx, ex, edx, 0);
}

/* The cases without an exponential: t = 0 or f = 0 (x = 0, x' = f) and M = 0 (x = f t): true
 * when x, dx, ex, edx are set. */
static bool transient_trivial(int n, const double complex *f, double t, double nf, double nm,
                              double complex *x, double complex *dx, double *ex, double *edx) {
  if (t != 0 && nf != 0 && nm != 0) return false;
  const bool zero = t == 0 || nf == 0;
  for (int i = 0; i < n; i++) {
    x[i] = zero ? 0 : f[i] * t;
    dx[i] = f[i];
    ex[i] = zero ? 0 : DBL_EPSILON * cabs(x[i]);
    edx[i] = 0;
  }
  return true;
}

/* The augmented exponential's x, x' with normwise estimates (ra: its relative error at
 * tau = |M| n t).  A drive far above |M| would dominate the augmented matrix's norm and so the
 * number of squarings (each adds eps |f| t to every exponent): it is scaled to |M| by a power
 * of 2 (exact), and the result back. */
static qb_err transient_aug(int n, const double complex *M, const double complex *f, double t,
                            double nf, double nm, double ra, double complex *x, double complex *dx,
                            double *ex, double *edx) {
  const double tau = nm * n * t;
  int fk = 0;
  double complex fs[QB_LINEAR_NMAX], xa[QB_LINEAR_NMAX], dxa[QB_LINEAR_NMAX];
  double complex E[QB_LINEAR_NMAX * QB_LINEAR_NMAX];
  if (nf > 16.0 * nm) fk = ilogb(nf) - ilogb(nm);
  for (int i = 0; i < n; i++)
    fs[i] = ldexp(creal(f[i]), -fk) + I * ldexp(cimag(f[i]), -fk);
  qb_err err;
  if (tau <= EXPM_DIRECT) {
    err = qb_linear_expm_aug(n, M, fs, t, xa, dxa);
  } else {
    err = qb_linear_expm(n, M, fs, t, E, xa);
    for (int i = 0; i < n && !err; i++) {
      double complex v = 0;
      for (int j = 0; j < n; j++)
        v += E[i * n + j] * fs[j];
      dxa[i] = v;
    }
  }
  if (err) return err;
  for (int i = 0; i < n; i++) {
    x[i] = ldexp(creal(xa[i]), fk) + I * ldexp(cimag(xa[i]), fk);
    dx[i] = ldexp(creal(dxa[i]), fk) + I * ldexp(cimag(dxa[i]), fk);
  }
  const double na = maxabs(n, x), nda = maxabs(n, dx);
  for (int i = 0; i < n; i++) {
    ex[i] = ra * na;
    edx[i] = ra * nda;
  }
  return QB_OK;
}

/* The steady-state form x = x_ss - e^{Mt} x_ss, x' = e^{Mt} f with their estimates (xd, dxd,
 * exd, edxd).  e^{Mt} never grows (passive) and decays like e^{gt}: once it is below the double
 * range it is 0 (qb_linear_expm stops there), and x = x_ss exactly.  QB_EINTERNAL where it is
 * not available (exponential failed, non-finite values). */
static qb_err transient_steady(int n, const double complex *M, const double complex *f, double t,
                               double nf, double ra, const double complex *xss, const double *exss,
                               double complex *xd, double complex *dxd, double *exd, double *edxd) {
  double complex E[QB_LINEAR_NMAX * QB_LINEAR_NMAX];
  const double tau = maxabs(n * n, M) * n * t;
  qb_err err = tau <= EXPM_DIRECT ? expm_plain(n, M, t, E) : qb_linear_expm(n, M, NULL, t, E, NULL);
  const double nE = maxabs(n * n, E), nss = maxabs(n, xss);
  if (err || !isfinite(nE)) return QB_EINTERNAL;
  const double ed = ra * n * nE; /* normwise error of e^{Mt} */
  for (int i = 0; i < n; i++) {
    double complex v = 0, w = 0;
    for (int j = 0; j < n; j++) {
      v += E[i * n + j] * xss[j];
      w += E[i * n + j] * f[j];
    }
    xd[i] = xss[i] - v;
    dxd[i] = w;
    exd[i] = exss[i] + ed * nss + 2 * n * DBL_EPSILON * cabs(xd[i]);
    edxd[i] = ed * nf + 2 * n * DBL_EPSILON * cabs(w);
    if (!isfinite(exd[i]) || !isfinite(creal(xd[i])) || !isfinite(cimag(xd[i])))
      return QB_EINTERNAL;
  }
  return QB_OK;
}

/* x' = e^{gt} e^{(M - g)t} f from the shifted exponential of norm ~1, where e^{Mt} f may be below
 * the double range while x'-weighted quantities (P_B with a large drive) are not (e^{gt} |f|^2
 * ~ e^{gt} 1e600 may be in range): dxd, edxd in that scale; returns the shift g t, or 0 (dxd,
 * edxd left as they are) outside -2400 < g t < -600 or where it fails. */
static double transient_shifted(int n, const double complex *M, const double complex *f, double t,
                                double g, double nf, double complex *dxd, double *edxd) {
  if (!(g * t > -2400 && g * t < -600)) return 0;
  double complex Ms[QB_LINEAR_NMAX * QB_LINEAR_NMAX], Es[QB_LINEAR_NMAX * QB_LINEAR_NMAX];
  for (int i = 0; i < n * n; i++)
    Ms[i] = M[i] - (i % (n + 1) == 0 ? g : 0);
  const double taus = maxabs(n * n, Ms) * n * t, rs = expm_relerr(taus);
  if (!(taus <= EXPM_DIRECT && expm_plain(n, Ms, t, Es) == QB_OK && isfinite(maxabs(n * n, Es))))
    return 0;
  const double nEs = maxabs(n * n, Es);
  for (int i = 0; i < n; i++) {
    double complex w = 0;
    for (int j = 0; j < n; j++)
      w += Es[i * n + j] * f[j];
    dxd[i] = w;
    edxd[i] = (rs * n + DBL_EPSILON * fabs(g * t)) * nEs * nf + 2 * n * DBL_EPSILON * cabs(w);
  }
  return g * t;
}

/* The largest of n estimates, each times s. */
static double worst(int n, const double *e, double s) {
  double w = 0;
  for (int i = 0; i < n; i++)
    w = fmax(w, e[i] * s);
  return w;
}

qb_err qb_linear_transient_form(int n, const double complex *M, const double complex *f, double t,
                                double g, const double complex *xss, const double *exss,
                                double complex *x, double complex *dx, double *ldx, double *ex,
                                double *edx, int form) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  const double nf = maxabs(n, f), nm = maxabs(n * n, M);
  *ldx = 0;
  if (transient_trivial(n, f, t, nf, nm, x, dx, ex, edx)) return QB_OK;
  if (!isfinite(nf) || !isfinite(nm)) return QB_EINTERNAL;
  const double ra = expm_relerr(nm * n * t);
  qb_err err = transient_aug(n, M, f, t, nf, nm, ra, x, dx, ex, edx);
  if (err) return err;
  if (form == 1) return QB_OK;
  if (!xss || !(g < 0) || (ra <= AUG_KEEP && form == 0)) return form == 2 ? QB_EINTERNAL : QB_OK;
  double complex xd[QB_LINEAR_NMAX], dxd[QB_LINEAR_NMAX];
  double exd[QB_LINEAR_NMAX], edxd[QB_LINEAR_NMAX];
  if (transient_steady(n, M, f, t, nf, ra, xss, exss, xd, dxd, exd, edxd))
    return form == 2 ? QB_EINTERNAL : QB_OK; /* keep the augmented form */
  if (!(worst(n, exd, 1) < worst(n, ex, 1)) && form == 0) return QB_OK;
  const double ls = transient_shifted(n, M, f, t, g, nf, dxd, edxd);
  /* x' from whichever form estimates better (its own normwise errors) */
  const int use_dd = worst(n, edxd, exp(ls)) < worst(n, edx, 1) || ls != 0 || form == 2;
  for (int i = 0; i < n; i++) {
    x[i] = xd[i];
    ex[i] = exd[i];
    if (use_dd) {
      dx[i] = dxd[i];
      edx[i] = edxd[i];
    }
  }
  *ldx = use_dd ? ls : 0;
  return QB_OK;
}
