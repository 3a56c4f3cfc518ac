/* qb_expm2: closed-form transients of a 2x2 linear system x' = M x + f, x(0) = 0, for any
 * complex 2x2 M (passive drifts in mind: Hermitian part <= 0), without a matrix exponential:
 *
 *   x(t) = int_0^t e^{Ms} f ds = P f + Q N f,      x'(t) = e^{Mt} f = C f + S N f,
 *
 * h = tr M / 2, N = M - h I, N^2 = w^2 I, w^2 = ((M11 - M22)/2)^2 + M12 M21, u = h t, v = w t:
 *   P = t int_0^1 e^{us} cosh(vs) ds,  Q = t^2 int_0^1 s e^{us} sinhc(vs) ds,
 *   C = e^u cosh v,  S = t e^u sinhc v  (sinhc z = sinh(z)/z: functions of w^2 only).
 * w^2 and det M are compensated sums of exact (fma) products: at an EP the cancellation leaves
 * eps |w^2| + O(eps^2) |N|^2, so w^2 = 0 exactly where M's entries make it so.
 * Near the exceptional point (|v|^2 = |w^2| t^2 <= 1, including w^2 = 0) P, Q, C, S are power
 * series in v^2 (at least 2 terms, up to 11) whose coefficients J_n(u) = int_0^1 s^n e^{us} ds
 * come from recurrences run only in their stable direction (upward where n <= |u|, else
 * downward from Kummer's series), scaled by t and t^2 so that no t^2 overflows.  Elsewhere the
 * eigen-modes: lambda+- = h +- w (the larger in magnitude directly, the other as det M / larger:
 * no cancellation), x' = e^{z+} p+ + e^{z-} p- with p+- = (f +- Nf/w)/2, z = lambda t, and x
 * either from t g(z) = (e^z - 1)/lambda or with the pole part split off exactly,
 * x = sum e^z/lambda p + xs (xs = -M^-1 f: stiff and decayed modes), the better estimated.
 *
 * Error estimates (first order, absolute, componentwise, like qb_linear_transient's ex, edx):
 * M and f are taken as exact; the rounding of h, w^2, w, det M, lambda+-, N f, p+-, xs (bounded
 * at init from the sizes of the terms that formed them) is propagated through the exponents
 * (|d e^z| = |e^z| |dz|, dz = t |d lambda| + eps |z|, kept with its own mode), the divided
 * differences and the series (derivatives in u and v^2 from the same J_n; a bound of the
 * truncated tail), plus the rounding of each operation, times a safety factor 2.  Callers apply
 * their accuracy guard to them and fall back to qb_linear_transient where it fails.  Non-finite
 * results (only for drifts that grow: overflow) carry infinite estimates.
 *
 * Deterministic, no heap allocation, not collective, thread-safe (the state is read only). */
#ifndef QB_EXPM2_H
#define QB_EXPM2_H

#include <complex.h>

#include "qbmap/qb_status.h"

/* Per-row setup (one M, one f; any number of t). */
typedef struct {
  double complex h, w2, w, det;       /* tr M / 2, w^2, principal sqrt of w^2 (Re >= 0), det M */
  double complex lp, lm;              /* lambda+ = h + w, lambda- = h - w (no cancellation) */
  double complex f[2], nf[2];         /* f and N f */
  double dh, dw2, dw, ddet, dlp, dlm; /* absolute rounding bounds of the above */
  double ah, aw2, aw, adet, alp, alm; /* their moduli */
  double complex ih, i2w, idet, hdet, ilp,
      ilm;                            /* 1/h, 1/(2w), 1/det, h/det, 1/lambda+- (0 for 0) */
  double af[2], anf[2], enf[2];       /* |f_i|, |(N f)_i| and its rounding bound */
  double complex pp[2], pm[2], xs[2]; /* modal parts (f +- Nf/w)/2 (w != 0); -M^-1 f (det != 0) */
  double epp[2], epm[2], exs[2];      /* their rounding bounds */
  int ok;                             /* M and f finite */
} qb_expm2;

/* Setup from M (row-major M[0] = M11, M[1] = M12, M[2] = M21, M[3] = M22) and f.  An eigenvalue
 * whose real part is positive but within its own rounding bound or within 4 eps (|h| + |N_ij|)
 * (the rounding of M's entries) is taken as marginal (real part 0, the change counted in its
 * error bound): a drift passive but for the rounding of its entries never grows, even at
 * t ~ 1e250 / |M|. */
void qb_expm2_init(qb_expm2 *s, const double complex M[4], const double complex f[2]);

/* x(t), x'(t) and their error estimates ex, edx (absolute, per component) at t >= 0 (finite).
 * ldx: where g t < -600 (g = max Re lambda, e^{gt} near or below the bottom of the double range)
 * dx is x' scaled by e^{-g t} and *ldx = g t (x' = dx e^{ldx}; edx in the scale of dx); else
 * *ldx = 0 and dx = x'.  t = 0 or f = 0: x = 0, x' = f exactly.  QB_EINTERNAL for t < 0, a
 * non-finite t, or non-finite M or f at init. */
qb_err qb_expm2_at(const qb_expm2 *s, double t, double complex x[2], double complex dx[2],
                   double *ldx, double ex[2], double edx[2]);

#endif
