/* qb_linear: small dense complex linear algebra for linear first-moment systems x' = M x + f.
 * General-n methods built on GSL (real 2n-dimensional forms of complex matrices).  They are the
 * independent references for the models' closed forms and the fallback for n > 2.
 * Matrices are row-major double complex arrays of n*n.  Not collective; thread-safe. */
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

#endif
