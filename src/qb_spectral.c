#include "qbmap/qb_spectral.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>

#define NMAX QB_LINEAR_NMAX
#define EPS DBL_EPSILON
/* zgeev workspace (complex): >= its optimal size for n <= 8 (n + n * block size 32, and the
 * Hessenberg QR's needs), so the blocked path is the same on every call: fixed, deterministic */
#define LWORK (NMAX * 66)

/* |Re z| + |Im z| >= |z|: a cheap bound (no hypot) for the per-t estimates */
static double mag(double complex z) {
  return fabs(creal(z)) + fabs(cimag(z));
}

static bool all_finite(int m, const double complex *v) {
  for (int i = 0; i < m; i++)
    if (!isfinite(creal(v[i])) || !isfinite(cimag(v[i]))) return false;
  return true;
}

/* sort key order: descending real part, then descending imaginary part; stable otherwise */
static bool before(double complex a, double complex b) {
  if (creal(a) != creal(b)) return creal(a) > creal(b);
  return cimag(a) > cimag(b);
}

/* zgeev (col-major copies on the stack); perm[k]: zgeev's index of the k-th sorted eigenvalue;
 * VR column-major, unsorted (NULL: no vectors).  -1 on failure. */
static int geev_sorted(int n, const double complex *M, double complex *w, int *perm,
                       double complex *VR) {
  double complex A[NMAX * NMAX], work[LWORK], dummy[1];
  double rwork[2 * NMAX];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      A[j * n + i] = M[i * n + j];
  lapack_int info = LAPACKE_zgeev_work(LAPACK_COL_MAJOR, 'N', VR ? 'V' : 'N', n, A, n, w, dummy, 1,
                                       VR ? VR : dummy, VR ? n : 1, work, LWORK, rwork);
  if (info != 0 || !all_finite(n, w)) return -1;
  for (int k = 0; k < n; k++) { /* insertion sort: stable, n <= 8 */
    int p = k;
    while (p > 0 && before(w[k], w[perm[p - 1]])) {
      perm[p] = perm[p - 1];
      p--;
    }
    perm[p] = k;
  }
  return 0;
}

qb_err qb_spectral_eig(int n, const double complex *M, double complex *lambda, double complex *V) {
  if (n < 1 || n > NMAX || !all_finite(n * n, M)) return QB_EINTERNAL;
  double complex w[NMAX], VR[NMAX * NMAX];
  int perm[NMAX];
  if (geev_sorted(n, M, w, perm, V ? VR : NULL)) return QB_EINTERNAL;
  for (int k = 0; k < n; k++) {
    lambda[k] = w[perm[k]];
    if (V)
      for (int i = 0; i < n; i++)
        V[i * n + k] = VR[perm[k] * n + i];
  }
  return QB_OK;
}

/* Vinv = V^-1 and c = V^-1 f from one LU (zgetrf, zgetrs with n + 1 right-hand sides), both
 * row-major.  -1 where V is singular. */
static int lu_solve(int n, const double complex *V, const double complex *f, double complex *Vinv,
                    double complex *c) {
  double complex LU[NMAX * NMAX], B[NMAX * (NMAX + 1)] = {0};
  lapack_int ipiv[NMAX];
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < n; k++)
      LU[k * n + i] = V[i * n + k];
    B[i * n + i] = 1;
    B[n * n + i] = f[i];
  }
  if (LAPACKE_zgetrf_work(LAPACK_COL_MAJOR, n, n, LU, n, ipiv) != 0) return -1;
  if (LAPACKE_zgetrs_work(LAPACK_COL_MAJOR, 'N', n, n + 1, LU, n, ipiv, B, n) != 0) return -1;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++)
      Vinv[i * n + j] = B[j * n + i];
    c[i] = B[n * n + i];
  }
  return all_finite(n * n, Vinv) && all_finite(n, c) ? 0 : -1;
}

static double norm1(int n, const double *A) { /* max column sum of a nonnegative row-major A */
  double m = 0;
  for (int j = 0; j < n; j++) {
    double s = 0;
    for (int i = 0; i < n; i++)
      s += A[i * n + j];
    m = fmax(m, s);
  }
  return m;
}

/* Bounds of the residuals R = M V - V diag(lambda) (n x n) and r = f - V c (n), computed plus
 * their own rounding (see the header). */
static void residuals(const qb_spectral *s, const double complex *M, double *Rb, double *rb) {
  const int n = s->n;
  const double u = 2.0 * (n + 2) * EPS;
  for (int i = 0; i < n; i++) {
    double complex rv = s->f[i];
    double rm = cabs(s->f[i]);
    for (int k = 0; k < n; k++) {
      double complex v = -s->V[i * n + k] * s->lambda[k];
      double m = cabs(v);
      for (int j = 0; j < n; j++) {
        v += M[i * n + j] * s->V[j * n + k];
        m += cabs(M[i * n + j]) * s->absV[j * n + k];
      }
      Rb[i * n + k] = cabs(v) + u * m;
      rv -= s->V[i * n + k] * s->c[k];
      rm += s->absV[i * n + k] * s->absc[k];
    }
    rb[i] = cabs(rv) + u * rm;
  }
}

/* W = V diag(c) and Gx (qb_spectral_x): the residual term bounded over every t where every mode
 * decays, B2_jk <= min(Q_hi, P_hi invd_jk) <= min(1/a_hi^2, invd_jk/|a_hi|). */
static void lean_terms(qb_spectral *s) {
  const int n = s->n;
  bool decays = true;
  for (int k = 0; k < n; k++)
    decays = decays && creal(s->lambda[k]) < 0;
  for (int i = 0; i < n * n; i++)
    s->W[i] = s->V[i] * s->c[i % n];
  for (int j = 0; j < n; j++) {
    double g = 0;
    for (int k = 0; k < n && decays; k++) {
      const int hi = creal(s->lambda[j]) >= creal(s->lambda[k]) ? j : k;
      const double ra = -1.0 / creal(s->lambda[hi]), b = ra * s->invd[j * n + k];
      if (s->G[j * n + k] != 0) g += s->G[j * n + k] * (ra * ra < b ? ra * ra : b);
    }
    s->Gx[j] = decays ? g : INFINITY;
  }
}

/* G = (|V^-1| Rb) diag|c|, dc = |V^-1| rb, kappa, invd: what qb_spectral_at's estimates need. */
static void error_terms(qb_spectral *s, const double complex *M, const double complex *Vinv) {
  const int n = s->n;
  double Rb[NMAX * NMAX], rb[NMAX], aVi[NMAX * NMAX];
  for (int i = 0; i < n * n; i++) {
    s->absV[i] = cabs(s->V[i]);
    aVi[i] = cabs(Vinv[i]);
  }
  for (int k = 0; k < n; k++)
    s->absc[k] = cabs(s->c[k]);
  residuals(s, M, Rb, rb);
  for (int j = 0; j < n; j++) {
    double d = 0;
    for (int i = 0; i < n; i++)
      d += aVi[j * n + i] * rb[i];
    s->dc[j] = d;
    for (int k = 0; k < n; k++) {
      double g = 0;
      for (int i = 0; i < n; i++)
        g += aVi[j * n + i] * Rb[i * n + k];
      s->G[j * n + k] = g * s->absc[k];
      s->invd[j * n + k] = 1.0 / fabs(creal(s->lambda[j]) - creal(s->lambda[k]));
    }
  }
  s->kappa = norm1(n, s->absV) * norm1(n, aVi);
  lean_terms(s);
}

qb_err qb_spectral_init(qb_spectral *s, int n, const double complex *M, const double complex *f) {
  s->n = n;
  s->ready = false;
  s->zero = true;
  s->kappa = INFINITY;
  s->g = NAN;
  if (n < 1 || n > NMAX || !all_finite(n * n, M) || !all_finite(n, f)) return QB_EINTERNAL;
  for (int i = 0; i < n; i++) {
    s->f[i] = f[i];
    if (f[i] != 0) s->zero = false;
  }
  if (qb_spectral_eig(n, M, s->lambda, s->V)) return QB_OK; /* not ready: the fallback */
  s->g = creal(s->lambda[0]);
  for (int k = 0; k < n; k++) {
    s->rlambda[k] = s->lambda[k] != 0 ? 1.0 / s->lambda[k] : 0;
    s->ra[k] = creal(s->lambda[k]) < 0 ? -1.0 / creal(s->lambda[k]) : 0;
  }
  double complex Vinv[NMAX * NMAX];
  if (lu_solve(n, s->V, f, Vinv, s->c)) return QB_OK;
  error_terms(s, M, Vinv);
  s->ready = isfinite(s->kappa);
  return QB_OK;
}

bool qb_spectral_usable(const qb_spectral *s) {
  return s->ready && s->kappa <= QB_SPECTRAL_KAPPA_MAX;
}

/* a b without C's Annex G infinity recovery (a library call per product): the operands here
 * are finite (init checked M and f), so the plain formula is the same value. */
static double complex cmul(double complex a, double complex b) {
  return CMPLX(creal(a) * creal(b) - cimag(a) * cimag(b),
               creal(a) * cimag(b) + cimag(a) * creal(b));
}

/* One mode at t: X = t phi1(lambda t) = expm1(lambda t)/lambda without cancellation (complex
 * expm1: Re = expm1(a) cos b - 2 sin^2(b/2), Im = e^a sin b; a series where |lambda t| is tiny),
 * E = e^{(lambda - gs) t} (gs: 0, or g where x' is shifted), e0 = |e^{lambda t}|. */
static void mode_at(double complex lam, double complex rlam, double t, double gs, double complex *X,
                    double complex *E, double *e0) {
  const double a = creal(lam) * t, b = cimag(lam) * t;
  const double cb = cos(b), sb = sin(b);
  /* e^a and e^a - 1 from one call: expm1 where |a| < 1 (then e^a = 1 + expm1(a) is in
   * [0.36, 2.8], rounded to 1 ulp), else exp */
  double em1, ea;
  if (fabs(a) < 1)
    em1 = expm1(a), ea = 1.0 + em1;
  else
    ea = exp(a), em1 = ea - 1.0;
  /* 2 sin^2(b/2) = 1 - cos b, without cancellation where cos b > 0 */
  const double omc = cb > 0 ? sb * sb / (1.0 + cb) : 1.0 - cb;
  const double complex z = CMPLX(a, b);
  if (fabs(a) + fabs(b) < 1e-5) /* t (1 + z/2 + z^2/6): truncation |z|^3/24 < 1e-16 relative */
    *X = t * (1.0 + 0.5 * z * (1.0 + z / 3.0));
  else
    *X = cmul(CMPLX(em1 * cb - omc, ea * sb), rlam);
  if (E) {
    const double es = gs == 0 ? ea : exp((creal(lam) - gs) * t);
    *E = CMPLX(es * cb, es * sb);
  }
  *e0 = ea;
}

static double dmin(double a, double b) {
  return a < b ? a : b;
}

static double dmax(double a, double b) {
  return a > b ? a : b;
}

/* The estimates of the top: ex (and edx if not NULL) from the modes' |X|, |E| (shifted scale),
 * e0 = |e^{lambda t}|. */
static void estimates(const qb_spectral *s, double t, double sh, const double *aX, const double *aE,
                      const double *e0, double *ex, double *edx) {
  const int n = s->n;
  double P[NMAX], Q[NMAX], ux[NMAX], udx[NMAX];
  for (int k = 0; k < n; k++) {
    const double ra = s->ra[k]; /* -1/a where a = Re lambda < 0 */
    P[k] = ra > 0 ? dmin(t, ra) : t * e0[k];
    Q[k] = ra > 0 ? dmin(0.5 * t * t, ra * ra) : 0.5 * t * t * e0[k];
  }
  for (int j = 0; j < n; j++) {
    double sx = 0, sdx = 0;
    for (int k = 0; k < n; k++) {
      const double G = s->G[j * n + k], id = s->invd[j * n + k];
      if (G == 0) continue;
      const int hi = creal(s->lambda[j]) >= creal(s->lambda[k]) ? j : k;
      sx += G * dmin(Q[hi], P[hi] * id);
      if (edx) sdx += G * dmax(aE[j], aE[k]) * dmin(t, id);
    }
    const double c = s->absc[j];
    ux[j] = c * EPS * ((n + 26) * aX[j] + t * e0[j]) + s->dc[j] * aX[j] + sx;
    if (edx)
      udx[j] =
          c * EPS * (n + 14 + mag(s->lambda[j]) * t + fabs(sh)) * aE[j] + s->dc[j] * aE[j] + sdx;
  }
  for (int i = 0; i < n; i++) {
    double sx = 0, sdx = 0;
    for (int j = 0; j < n; j++)
      sx += s->absV[i * n + j] * ux[j];
    ex[i] = 2.0 * sx;
    if (!edx) continue;
    for (int j = 0; j < n; j++)
      sdx += s->absV[i * n + j] * udx[j];
    edx[i] = 2.0 * sdx;
  }
}

qb_err qb_spectral_at(const qb_spectral *s, double t, double complex *x, double complex *dx,
                      double *ldx, double *ex, double *edx) {
  const int n = s->n;
  if (!s->ready || !(t >= 0) || !isfinite(t)) return QB_EINTERNAL;
  if (ldx) *ldx = 0;
  if (t == 0 || s->zero) {
    for (int i = 0; i < n; i++) {
      x[i] = 0;
      ex[i] = 0;
      if (dx) dx[i] = t == 0 ? s->f[i] : 0, edx[i] = 0;
    }
    return QB_OK;
  }
  const double gs = s->g * t < QB_SPECTRAL_LDX_BELOW ? s->g : 0, sh = gs * t;
  double complex X[NMAX], E[NMAX];
  double aX[NMAX], aE[NMAX], e0[NMAX];
  for (int k = 0; k < n; k++) {
    mode_at(s->lambda[k], s->rlambda[k], t, gs, &X[k], &E[k], &e0[k]);
    aX[k] = mag(X[k]);
    aE[k] = mag(E[k]);
    X[k] = cmul(X[k], s->c[k]);
    E[k] = cmul(E[k], s->c[k]);
  }
  for (int i = 0; i < n; i++) {
    double complex sx = 0;
    for (int k = 0; k < n; k++)
      sx += cmul(s->V[i * n + k], X[k]);
    x[i] = sx;
    if (!dx) continue;
    double complex sdx = 0;
    for (int k = 0; k < n; k++)
      sdx += cmul(s->V[i * n + k], E[k]);
    dx[i] = sdx;
  }
  if (dx && ldx) *ldx = sh;
  estimates(s, t, sh, aX, aE, e0, ex, dx ? edx : NULL);
  return QB_OK;
}

/* qb_spectral_x, QB_SPECTRAL_LANES times at once (L lanes): the modes' exponentials e^a (or
 * e^a - 1 = expm1(a) where |a| < 1, as mode_at), cos b, sin b by glibc's vector math library
 * (libmvec, AVX2) where the CPU has AVX2 and FMA, else by the scalar libm; the arithmetic in
 * lane loops (split real and imaginary parts) that the compiler may vectorize in the AVX2
 * instance.  Either way each lane's values depend on its own t only (the vector routines work
 * lane by lane, special inputs through the scalar routine for that lane alone; no lane loop
 * mixes lanes), and a row and a point take the same instance: a row gives the bits of its points
 * alone.  (Which instance, and a compiler's contraction into fused multiply-adds, can change the
 * last bits between machines and builds, not between a row and its points.) */
#define L QB_SPECTRAL_LANES

/* The exponentials of one mode at L lanes by the scalar libm. */
static inline __attribute__((always_inline)) void
exps_scalar(const double *a, const double *b, double *ea, double *em1, double *cb, double *sb) {
  for (int l = 0; l < L; l++) {
    cb[l] = cos(b[l]), sb[l] = sin(b[l]);
    if (fabs(a[l]) < 1)
      em1[l] = expm1(a[l]), ea[l] = 1.0 + em1[l];
    else
      ea[l] = exp(a[l]), em1[l] = ea[l] - 1.0;
  }
}

#if defined(QB_HAVE_LIBMVEC) && defined(__x86_64__)
#include <immintrin.h>
/* libmvec's AVX2 entry points (the x86_64 vector function ABI, glibc >= 2.35 for expm1) */
#define QB_AVX2 __attribute__((target("avx2,fma")))
QB_AVX2 __m256d _ZGVdN4v_exp(__m256d x);
QB_AVX2 __m256d _ZGVdN4v_expm1(__m256d x);
QB_AVX2 __m256d _ZGVdN4v_sin(__m256d x);
QB_AVX2 __m256d _ZGVdN4v_cos(__m256d x);

/* The same by libmvec (AVX2 only: called from lanes_avx2). */
QB_AVX2 static void exps_vector(const double *a, const double *b, double *ea, double *em1,
                                double *cb, double *sb) {
  const __m256d va = _mm256_loadu_pd(a), vb = _mm256_loadu_pd(b);
  bool small = false, large = false;
  for (int l = 0; l < L; l++)
    small |= fabs(a[l]) < 1, large |= !(fabs(a[l]) < 1);
  _mm256_storeu_pd(cb, _ZGVdN4v_cos(vb));
  _mm256_storeu_pd(sb, _ZGVdN4v_sin(vb));
  if (small) _mm256_storeu_pd(em1, _ZGVdN4v_expm1(va));
  if (large) _mm256_storeu_pd(ea, _ZGVdN4v_exp(va));
  for (int l = 0; l < L; l++) {
    if (fabs(a[l]) < 1)
      ea[l] = 1.0 + em1[l];
    else
      em1[l] = ea[l] - 1.0;
  }
}
#define QB_EXPS_VECTOR(a, b, ea, em1, cb, sb) exps_vector(a, b, ea, em1, cb, sb)
#else
#define QB_EXPS_VECTOR(a, b, ea, em1, cb, sb) exps_scalar(a, b, ea, em1, cb, sb)
#endif

/* Mode k at the lanes' times t[l] (0 for unused lanes): X = t phi1(lambda t) (as mode_at:
 * the complex expm1 without cancellation, the series where |lambda t| < 1e-5) and its error term
 * ux (qb_spectral_x's: the residual term bounded over t; (n + 34) eps |X|: qb_spectral_at's
 * n + 26, 2 eps for W's rounding, 6 eps for libmvec's <= 4 ulp). */
static inline __attribute__((always_inline)) void mode_lanes(const qb_spectral *s, int k,
                                                             const double *t, bool vec, double *Xr,
                                                             double *Xi, double *ux) {
  double a[L], b[L], ea[L], em1[L], cb[L], sb[L];
  const double lr = creal(s->lambda[k]), li = cimag(s->lambda[k]);
  const double rr = creal(s->rlambda[k]), ri = cimag(s->rlambda[k]);
  const double c0 = s->absc[k] * EPS, cn = c0 * (s->n + 34), dc = s->dc[k], gx = s->Gx[k];
  for (int l = 0; l < L; l++)
    a[l] = lr * t[l], b[l] = li * t[l];
  if (vec)
    QB_EXPS_VECTOR(a, b, ea, em1, cb, sb);
  else
    exps_scalar(a, b, ea, em1, cb, sb);
  for (int l = 0; l < L; l++) { /* both branches computed, then selected: vectorizable */
    const double omc1 = sb[l] * sb[l] / (1.0 + cb[l]), omc2 = 1.0 - cb[l];
    const double omc = cb[l] > 0 ? omc1 : omc2;
    const double zr = em1[l] * cb[l] - omc, zi = ea[l] * sb[l]; /* e^z - 1 */
    const double pr = 1.0 + a[l] / 3.0, pi = b[l] / 3.0;        /* t (1 + z/2 (1 + z/3)) */
    const double qr = 0.5 * (a[l] * pr - b[l] * pi), qi = 0.5 * (a[l] * pi + b[l] * pr);
    const bool series = fabs(a[l]) + fabs(b[l]) < 1e-5;
    const double xr = series ? t[l] * (1.0 + qr) : zr * rr - zi * ri; /* (e^z - 1) / lambda */
    const double xi = series ? t[l] * qi : zr * ri + zi * rr;
    Xr[l] = xr, Xi[l] = xi;
    const double aX = fabs(xr) + fabs(xi);
    ux[l] = cn * aX + c0 * t[l] * ea[l] + dc * aX + gx;
  }
}

/* qb_spectral_x at the lanes' times (t > 0, 0 in unused lanes): x[l * m + i], ex[l * m + i]. */
static inline __attribute__((always_inline)) void
lanes_body(const qb_spectral *s, int m, const double *t, bool vec, double complex *x, double *ex) {
  const int n = s->n;
  double Xr[NMAX][L], Xi[NMAX][L], ux[NMAX][L];
  for (int k = 0; k < n; k++)
    mode_lanes(s, k, t, vec, Xr[k], Xi[k], ux[k]);
  for (int i = 0; i < m; i++) {
    double sr[L] = {0}, si[L] = {0}, e[L] = {0};
    for (int k = 0; k < n; k++) {
      const double wr = creal(s->W[i * n + k]), wi = cimag(s->W[i * n + k]);
      const double av = s->absV[i * n + k];
      for (int l = 0; l < L; l++) {
        sr[l] += wr * Xr[k][l] - wi * Xi[k][l];
        si[l] += wr * Xi[k][l] + wi * Xr[k][l];
        e[l] += av * ux[k][l];
      }
    }
    for (int l = 0; l < L; l++)
      x[l * m + i] = CMPLX(sr[l], si[l]), ex[l * m + i] = 2.0 * e[l];
  }
}

#if defined(QB_HAVE_LIBMVEC) && defined(__x86_64__)
QB_AVX2 static void lanes_avx2(const qb_spectral *s, int m, const double *t, double complex *x,
                               double *ex) {
  lanes_body(s, m, t, true, x, ex);
}
#endif

static void lanes_scalar(const qb_spectral *s, int m, const double *t, double complex *x,
                         double *ex) {
  lanes_body(s, m, t, false, x, ex);
}

static void spectral_x_lanes(const qb_spectral *s, int m, const double *t, double complex *x,
                             double *ex) {
#if defined(QB_HAVE_LIBMVEC) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    lanes_avx2(s, m, t, x, ex);
    return;
  }
#endif
  lanes_scalar(s, m, t, x, ex);
}
#undef L

qb_err qb_spectral_x_many(const qb_spectral *s, int m, const double *t, int nt, double complex *x,
                          double *ex) {
  if (!s->ready || m < 1 || m > s->n || nt < 0) return QB_EINTERNAL;
  for (int j = 0; j < nt; j++)
    if (!(t[j] >= 0) || !isfinite(t[j])) return QB_EINTERNAL;
  double tp[QB_SPECTRAL_LANES];
  int np = 0, at[QB_SPECTRAL_LANES];
  for (int j = 0; j < nt; j++) {
    if (t[j] == 0 || s->zero) { /* exactly 0, as qb_spectral_at */
      for (int i = 0; i < m; i++)
        x[j * m + i] = 0, ex[j * m + i] = 0;
    } else {
      tp[np] = t[j], at[np++] = j;
    }
    if (np == QB_SPECTRAL_LANES || (np > 0 && j + 1 == nt)) {
      double complex xl[QB_SPECTRAL_LANES * NMAX];
      double el[QB_SPECTRAL_LANES * NMAX];
      for (int l = np; l < QB_SPECTRAL_LANES; l++)
        tp[l] = 0; /* unused lanes */
      spectral_x_lanes(s, m, tp, xl, el);
      for (int l = 0; l < np; l++)
        for (int i = 0; i < m; i++)
          x[at[l] * m + i] = xl[l * m + i], ex[at[l] * m + i] = el[l * m + i];
      np = 0;
    }
  }
  return QB_OK;
}

qb_err qb_spectral_x(const qb_spectral *s, int m, double t, double complex *x, double *ex) {
  return qb_spectral_x_many(s, m, &t, 1, x, ex);
}
