#include "qbmap/qb_linear.h"

#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
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
  for (size_t k = 0; k < N; k++) {
    gsl_complex g = gsl_vector_complex_get(ev, k);
    double complex lam = CMPLX(GSL_REAL(g), GSL_IMAG(g));
    /* eigenvector [p; q] of the real form belongs to M iff q = -i p: residual of M p = lam p */
    double complex *p = cand[k].v;
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
    cand[k].lambda = lam;
    cand[k].resid = pn > 0 ? sqrt(rn / pn) : INFINITY;
  }
  qsort(cand, N, sizeof cand[0], by_resid);
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

qb_err qb_linear_solve(int n, const double complex *M, const double complex *rhs,
                       double complex *x) {
  if (n < 1 || n > QB_LINEAR_NMAX) return QB_EINTERNAL;
  gsl_matrix_complex *A = gsl_matrix_complex_alloc((size_t)n, (size_t)n);
  gsl_vector_complex *b = gsl_vector_complex_alloc((size_t)n);
  gsl_vector_complex *y = gsl_vector_complex_alloc((size_t)n);
  gsl_permutation *perm = gsl_permutation_alloc((size_t)n);
  qb_err err = QB_ENOMEM;
  int sign;
  if (!A || !b || !y || !perm) goto cleanup;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++)
      gsl_matrix_complex_set(A, (size_t)i, (size_t)j,
                             gsl_complex_rect(creal(M[i * n + j]), cimag(M[i * n + j])));
    gsl_vector_complex_set(b, (size_t)i, gsl_complex_rect(creal(rhs[i]), cimag(rhs[i])));
  }
  err = QB_EINTERNAL;
  if (gsl_linalg_complex_LU_decomp(A, perm, &sign)) goto cleanup;
  if (gsl_linalg_complex_LU_solve(A, perm, b, y)) goto cleanup;
  for (int i = 0; i < n; i++) {
    gsl_complex v = gsl_vector_complex_get(y, (size_t)i);
    x[i] = CMPLX(GSL_REAL(v), GSL_IMAG(v));
  }
  err = QB_OK;
cleanup:
  gsl_permutation_free(perm);
  gsl_vector_complex_free(y);
  gsl_vector_complex_free(b);
  gsl_matrix_complex_free(A);
  return err;
}
