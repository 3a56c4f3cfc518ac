/* qb_linear: small dense complex linear algebra for linear first-moment systems x' = M x + f.
 * General-n methods built on GSL (real 2n-dimensional forms of complex matrices).  They are the
 * independent references for the models' faster forms (qb_spectral, qb_expm2, closed forms) and
 * the models' fallback where those are not accurate (near exceptional points).  The solves work
 * in stack storage (GSL LU on views: no allocation); the eigensolver and the exponentials
 * allocate GSL workspaces per call (GSL's exponential allocates inside), so they are kept off
 * the models' hot paths.  Matrices are row-major double complex arrays of n*n.  Not collective;
 * thread-safe. */
#ifndef QB_LINEAR_H
#define QB_LINEAR_H

#include <complex.h>
#ifndef CMPLX /* C11's CMPLX: glibc defines it for GCC only; clang has the builtin */
#define CMPLX(x, y) __builtin_complex((double)(x), (double)(y))
#endif

#include "qbmap/qb_status.h"

#define QB_LINEAR_NMAX 8

/* x(t) = int_0^t e^{M tau} f dtau from the augmented matrix exponential (Van Loan):
 * exp([[M, f], [0, 0]] t) holds x(t) in its last column.  Also returns x'(t) = e^{Mt} f if dx
 * is not NULL.  GSL scaling and squaring on the real 2(n+1) form. */
qb_err qb_linear_expm_aug(int n, const double complex *M, const double complex *f, double t,
                          double complex *x, double complex *dx);

/* Eigenvalues of M, from gsl_eigen_nonsymmv on the real 2n form: each eigenvalue of M appears
 * there with an eigenvector [x; -i x]; the n eigenvalues with the best such residual are kept.
 * Sorted by descending real part.  vecs (NULL or n*n, row-major): column k is an eigenvector
 * of lambda[k] (not normalized). */
qb_err qb_linear_eig(int n, const double complex *M, double complex *lambda, double complex *vecs);

/* Solves M x = rhs by complex LU with partial pivoting. */
qb_err qb_linear_solve(int n, const double complex *M, const double complex *rhs,
                       double complex *x);

/* The same with a componentwise first-order error estimate: err[i] bounds |x_i - x_i,exact| for
 * entries of M known to within DBL_EPSILON * Mterms (Mterms[ij] >= |M_ij|: the sum of the
 * magnitudes of the terms that formed M_ij, so rounding inside them counts) and rhs to within
 * DBL_EPSILON |rhs|: err = c eps |M^-1| (Mterms |x| + |rhs|), |M^-1| from the same LU. */
qb_err qb_linear_solve_est(int n, const double complex *M, const double *Mterms,
                           const double complex *rhs, double complex *x, double *err);

/* e^{Mt} for any t >= 0 (also where |M| t exceeds what one scaling and squaring can take):
 * GSL's exponential of M t / 2^k, then k squarings, stopping early once the matrix is below
 * 1e-300 (then it is 0 to double precision: ||e^{Ms}|| never grows for the passive drifts this
 * is used for).  Also returns x(t) = int_0^t e^{M tau} f dtau (augmented, Van Loan) if f is not
 * NULL. */
qb_err qb_linear_expm(int n, const double complex *M, const double complex *f, double t,
                      double complex *E, double complex *x);

/* x(t) = int_0^t e^{M tau} f dtau and x'(t) = e^{Mt} f for a passive drift (Hermitian part of
 * M negative semidefinite, so ||e^{Mt}||_2 <= 1) at any t >= 0, with componentwise error
 * estimates ex[i], edx[i] (absolute).  Two forms, the better estimated one is returned:
 *   augmented exponential: error ~ eps (|M| t) |x| (the exponent of every mode carries eps |M| t,
 *     which is what limits scaling and squaring for stiff drifts at large t);
 *   x = x_ss - e^{Mt} x_ss with the steady state xss (NULL: not available), its error exss and
 *     the growth rate g < 0 (max Re eig M): exact for every t, errors exss + eps |M| t
 *     ||e^{Mt}|| |x_ss| (no t-growth once decayed).  Where e^{gt} is near the bottom of the
 *     double range x' is returned as dx = e^{(M - g)t} f with *ldx = g t (x' = dx e^{ldx}), so
 *     that x'-weighted quantities (P_B with a large drive) stay exact; *ldx = 0 otherwise.
 * Huge t costs at most ~1000 squarings of an n x n matrix. */
qb_err qb_linear_transient(int n, const double complex *M, const double complex *f, double t,
                           double g, const double complex *xss, const double *exss,
                           double complex *x, double complex *dx, double *ldx, double *ex,
                           double *edx);

/* The same in a given form: 0 the better estimated one (qb_linear_transient), 1 the augmented
 * exponential, 2 the steady-state form (QB_EINTERNAL where it is not available): two
 * independent computations, for cross-checks where the estimates are only normwise. */
qb_err qb_linear_transient_form(int n, const double complex *M, const double complex *f, double t,
                                double g, const double complex *xss, const double *exss,
                                double complex *x, double complex *dx, double *ldx, double *ex,
                                double *edx, int form);

#endif
