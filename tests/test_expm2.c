/* qb_expm2 (closed-form 2x2 transients) against independent computations.  References:
 *   REF1 qb_linear_transient_form(form 1): GSL scaling and squaring of the augmented matrix,
 *        estimate eps (64 + 8 tau) max|x| (not a bound: its actual error, measured against Q,
 *        exceeds it at a few % of the random points; printed);
 *   Q    the augmented exponential in quad precision (libquadmath, eps 1.9e-34; Taylor series and
 *        squarings, f scaled to |M|; wide exponent range: also x' e^{-ldx} where e^{gt}
 *        underflows a double), its error taken as rl = EPS_Q (64 + 8 |M|t)(1 + |M|t) (the
 *        second factor: the squarings' non-normal growth near EPs) times
 *        max(|x|, ||e^{Mt}|| |f|/|M|) for x and ||e^{Mt}|| |f| for x': negligible here.
 * Tolerances: x to 1e-10 of max_i |x_i|, x' to 1e-10 of max_i |x'_i| (TOL); the estimates must
 * bound |ours - ref| - err_ref componentwise at every point (0 violations); shared's guard
 * (QB_EST_MAX on E_A, E_B, P_B, models/shared.c) must pass at every point with |M| t <= 1e4
 * (fallback counted, also beyond).
 * Parts:
 *   random   12000 random passive drifts (M = -G/2 - iH, G PSD, H Hermitian, random unitary
 *            frames, rates over 6 decades times a scale 1e-3..1e3; shared's drift with random
 *            couplings and phases, mu = -p_b conj(p_a)), 3 t each, log-uniform in
 *            [1e-8, 1e4]/||M||_1: vs REF1 where REF1's estimate is below 1e-12 of max |x_i|
 *            (err_REF1: the larger of its estimate and its error measured against Q), vs Q where
 *            our estimate is below TOL;
 *   ep       exact EPs (w^2 = 0 exactly: dyadic N = s x y^T with y^T x = 0, passive by the
 *            margin of Re h over ||Herm N||, 1 included; shared's drift at its EP,
 *            M12 M21 = -((M11 - M22)/2)^2) and w^2 = 1e-4 .. 1e-16 of h^2: vs Q;
 *   marginal lossless modes (Re lambda = 0: decoupled, coupled -iH, a zero eigenvalue in a
 *            rotated frame) vs REF1 and Q;
 *   stiff    eigenvalues spanning 1e-6 .. 1e6 (fast rotation too), |h| t up to 1e6, vs Q;
 *   growing  not passive (a passive drift plus c I, growth up to e^40) vs Q (no fallback
 *            requirement: |x| and its relative errors grow);
 *   zero     t = 0 (x = 0, x' = f exactly), f = 0, M = 0 (x = f t to 4 eps), bad input;
 *   huge     t = 1e250/||M|| (and 1e30): finite x, x', no NaN estimate; decayed drifts equal
 *            the steady state -M^-1 f (qb_linear_solve) to TOL where our estimate is below
 *            1e-11;
 *   alloc    no heap allocation in init/at (malloc, calloc, realloc wrapped by the linker;
 *            the counter is checked to count a direct call);
 *   timing   CPU ns per qb_expm2_at and per qb_linear_transient (printed; the check is only that
 *            both ran).
 * EXPM2_DEBUG=1 prints the points that violate a bound or fall back.
 * Usage: test_expm2 [random|ep|marginal|stiff|growing|zero|huge|alloc|timing|all] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <complex.h>
#include <float.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <quadmath.h>

#include "qb_test.h"
#include "qbmap/qb_expm2.h"
#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"

/* ---- heap-allocation counter (linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc) */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
static volatile long
    n_alloc; /* volatile: malloc is a builtin the compiler assumes leaves it alone */
void *__wrap_malloc(size_t n) {
  n_alloc++;
  return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
  n_alloc++;
  return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
  n_alloc++;
  return __real_realloc(p, n);
}

#define TOL 1e-10

/* ---- the quad-precision reference: exp([[M t, f t], [0, 0]]) by Taylor + squaring ---- */

typedef __float128 quad; /* quadmath.h's types (GNU extensions) */
typedef __complex128 qc;
#define EPS_Q 1.925929944387235853e-34

static void mul3(const qc *A, const qc *B, qc *C) {
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      qc s = 0;
      for (int k = 0; k < 3; k++)
        s += A[i * 3 + k] * B[k * 3 + j];
      C[i * 3 + j] = s;
    }
}

static qc to_qc(double complex z) {
  qc r;
  __real__ r = (quad)creal(z);
  __imag__ r = (quad)cimag(z);
  return r;
}

static double complex to_dc(qc z) {
  return CMPLX((double)crealq(z), (double)cimagq(z));
}

/* x and x' e^{-l} (l: a scale, for x' below the double range; l < -11000: x' NaN, beyond even
 * the quad exponent range); *nE: the infinity norm of e^{Mt} e^{-l}.  f is scaled to |M|
 * (x, x' are linear in f): the number of squarings follows |M| t only. */
static void q_ref(const double complex *M, const double complex *f, double t, double l,
                  double complex *x, double complex *dx, double *nE) {
  qc A[9] = {0}, E[9] = {0}, T[9], U[9];
  quad nrm = 0;
  const double nf = fmax(cabs(f[0]), cabs(f[1]));
  const double nm = fmax(cabs(M[0]) + cabs(M[1]), cabs(M[2]) + cabs(M[3]));
  const int fk = nf > 0 && nm > 0 ? ilogb(nf) - ilogb(nm) : 0;
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 2; j++)
      A[i * 3 + j] = to_qc(M[i * 2 + j]) * (quad)t;
    A[i * 3 + 2] = to_qc(f[i]) * ldexpq(1, -fk) * (quad)t;
    quad r = 0;
    for (int j = 0; j < 3; j++)
      r += cabsq(A[i * 3 + j]);
    nrm = fmaxq(nrm, r);
  }
  int k = 0;
  while (nrm > (quad)0.125)
    nrm *= (quad)0.5, k++;
  for (int i = 0; i < 9; i++) {
    A[i] *= ldexpq(1, -k);
    E[i] = T[i] = (quad)(i % 4 == 0);
  }
  for (int n = 1; n <= 28; n++) { /* 0.125^29/29! ~ 1e-57 */
    mul3(T, A, U);
    for (int i = 0; i < 9; i++)
      E[i] += (T[i] = U[i] / (quad)n);
  }
  for (int s = 0; s < k; s++) {
    mul3(E, E, U);
    memcpy(E, U, sizeof U);
  }
  const quad el = l < -11000 ? nanq("") : expq(-(quad)l);
  *nE = 0;
  for (int i = 0; i < 2; i++) {
    x[i] = to_dc(E[i * 3 + 2] * ldexpq(1, fk));
    dx[i] = to_dc((E[i * 3] * to_qc(f[0]) + E[i * 3 + 1] * to_qc(f[1])) * el);
    *nE = fmax(*nE, (double)((cabsq(E[i * 3]) + cabsq(E[i * 3 + 1])) * el));
  }
}

/* ---- helpers ---- */

static double norm1(const double complex *M) {
  return fmax(cabs(M[0]) + cabs(M[2]), cabs(M[1]) + cabs(M[3]));
}

static double maxabs2(const double complex *v) {
  return fmax(cabs(v[0]), cabs(v[1]));
}

static double lu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

static double complex phase(gsl_rng *r) {
  return cexp(I * 6.283185307179586 * gsl_rng_uniform(r));
}

/* shared's guard (models/shared.c transient): the point would fall back */
static int guard_fails(const double complex *x, const double complex *dx, const double *ex,
                       const double *edx) {
  double nx = qb_model_norm_amp(x, 2), ndx = qb_model_norm_amp(dx, 2);
  double ax1 = cabs(x[1]), adx1 = cabs(dx[1]);
  double pb_err = 2.0 * (ex[1] * adx1 + ax1 * edx[1]);
  int ok0 = qb_model_energy_ok(cabs(x[0]), ex[0], nx), ok1 = qb_model_energy_ok(ax1, ex[1], nx);
  int okp =
      isfinite(pb_err) && pb_err <= QB_EST_MAX * (2.0 * ax1 * adx1 + 2.0 * nx * ndx) + DBL_MIN;
  return !(ok0 && ok1 && okp);
}

/* statistics of one part */
typedef struct {
  long n, nseries, fallback, fallback_in, viol, viol1, n1, nld, nbad, nref1_under;
  double maxd1, maxdd1, maxdl, maxddl, maxest;
} stats;

static void print_stats(const char *part, const stats *st) {
  printf(
      "%s: %ld points; vs REF1 (its estimate < 1e-12: %ld) max |diff|/max|x| %.2e, x' %.2e; "
      "vs Q (%ld) %.2e, x' %.2e; estimate violations %ld (REF1) %ld (Q); largest relative "
      "estimate %.2e; guard fails (fallback) %ld = %.4f%% (at |M| t <= 1e4: %ld); not finite %ld; "
      "series regime %ld; "
      "REF1's estimate below its measured error %ld\n",
      part, st->n, st->n1, st->maxd1, st->maxdd1, st->nld, st->maxdl, st->maxddl, st->viol1,
      st->viol, st->maxest, st->fallback, 100.0 * (double)st->fallback / (double)st->n,
      st->fallback_in, st->nbad, st->nseries, st->nref1_under);
}

/* ---- one point against the references ---- */

static int finite2(const double complex *v) {
  return isfinite(creal(v[0])) && isfinite(cimag(v[0])) && isfinite(creal(v[1])) &&
         isfinite(cimag(v[1]));
}

/* One point: the problem, our results and Q's (x' scaled by e^{-ldx} like ours), Q's errors:
 * rl = EPS_Q (64 + 8 |M| t)(1 + |M| t) of the exponential's norm, exl = rl max(|x|, ||e^{Mt}||
 * |f|/|M|), edxl = rl ||e^{Mt}|| |f| (normwise: near an EP ||e^{Mt}|| |f| >> |x'| is possible). */
typedef struct {
  const char *what;
  const double complex *M, *f;
  double t, ldx, ex[2], edx[2], rl, nx, ndx, exl, edxl;
  double complex x[2], dx[2], xl[2], dxl[2];
} point;

static void debug_print(const point *p, int i) {
  if (!getenv("EXPM2_DEBUG")) return;
  const double complex *M = p->M, *f = p->f;
  printf("PT %a %a %a %a %a %a %a %a %a %a %a %a %a\n", creal(M[0]), cimag(M[0]), creal(M[1]),
         cimag(M[1]), creal(M[2]), cimag(M[2]), creal(M[3]), cimag(M[3]), creal(f[0]), cimag(f[0]),
         creal(f[1]), cimag(f[1]), p->t);
  if (i < 0) { /* a large estimate */
    printf("DBG %s large estimate: ex/nx %.3g %.3g edx/ndx %.3g %.3g\n", p->what, p->ex[0] / p->nx,
           p->ex[1] / p->nx, p->edx[0] / p->ndx, p->edx[1] / p->ndx);
    return;
  }
  printf("DBG %s i %d: |x - Q|/nx %.3g ex/nx %.3g |x' - Q|/ndx %.3g edx/ndx %.3g rl %.3g\n",
         p->what, i, cabs(p->x[i] - p->xl[i]) / p->nx, p->ex[i] / p->nx,
         cabs(p->dx[i] - p->dxl[i]) / p->ndx, p->edx[i] / p->ndx, p->rl);
}

/* ours vs Q: TOL of max |x_i| (|x'_i|) where our estimate is below TOL of it (and Q's below
 * 1e-12); the estimates bound |ours - Q| - err_Q everywhere. */
static void vs_ld(const point *p, stats *st) {
  const double nx = p->nx, ndx = p->ndx, rl = p->rl, t = p->t;
  const double ex_m = fmax(p->ex[0], p->ex[1]), edx_m = fmax(p->edx[0], p->edx[1]);
  const double est = fmax(nx > 0 ? ex_m / nx : 0, ndx > 0 ? edx_m / ndx : 0);
  st->maxest = fmax(st->maxest, est);
  if (est > 1e-9) debug_print(p, -1);
  (void)rl;
  for (int i = 0; i < 2; i++) {
    const double d = cabs(p->x[i] - p->xl[i]), dd = cabs(p->dx[i] - p->dxl[i]);
    /* (Q's x' NaN: e^{gt} below even the quad range, not compared) */
    const int ok = d <= p->ex[i] + p->exl && (isnan(p->ndx) || dd <= p->edx[i] + p->edxl);
    st->viol += !ok;
    if (!ok) debug_print(p, i);
    CHECK("estimate bounds |ours - Q|", ok, "%s t %.3g i %d: |dx| %.3g ex %.3g |ddx| %.3g edx %.3g",
          p->what, t, i, d, p->ex[i], dd, p->edx[i]);
  }
  const double d = fmax(cabs(p->x[0] - p->xl[0]), cabs(p->x[1] - p->xl[1]));
  const double dd = fmax(cabs(p->dx[0] - p->dxl[0]), cabs(p->dx[1] - p->dxl[1]));
  if (p->exl < 1e-12 * nx && ex_m <= TOL * nx) {
    st->nld++;
    st->maxdl = fmax(st->maxdl, nx > 0 ? d / nx : d);
    CHECK("x vs Q", d <= TOL * nx, "%s t %.3g: %.3g of max |x| %.3g", p->what, t, d / nx, nx);
  }
  if (p->edxl < 1e-12 * ndx && edx_m <= TOL * ndx) {
    st->maxddl = fmax(st->maxddl, ndx > 0 ? dd / ndx : dd);
    CHECK("x' vs Q", dd <= TOL * ndx, "%s t %.3g: %.3g of max |x'| %.3g", p->what, t, dd / ndx,
          ndx);
  }
}

/* ours vs REF1 (ours' x' unscaled: e^{ldx} dx): TOL of max |x_i| where REF1's estimate is below
 * 1e-12 of it; the estimates bound |ours - REF1| minus REF1's own error, taken as the larger of
 * its estimate and its measured error |REF1 - Q| + err_Q (REF1's estimate is not a bound:
 * counted in nref1_under). */
static void vs_ref1(const point *p, stats *st) {
  const double el = exp(p->ldx), t = p->t;
  double complex xr[2], dxr[2];
  double exr[2], edxr[2], lr;
  if (qb_linear_transient_form(2, p->M, p->f, t, 0, NULL, NULL, xr, dxr, &lr, exr, edxr, 1)) {
    CHECK("REF1 ran", 0, "%s t %.3g", p->what, t);
    return;
  }
  for (int i = 0; i < 2; i++) {
    const double d = cabs(p->x[i] - xr[i]), dd = cabs(p->dx[i] * el - dxr[i]);
    const double er = cabs(xr[i] - p->xl[i]) + p->exl;
    const double edr = isnan(p->ndx) ? INFINITY : cabs(dxr[i] - p->dxl[i] * el) + p->edxl * el;
    st->nref1_under += er > exr[i] || edr > edxr[i] + DBL_MIN;
    /* below e^-600 (ldx) REF1's x' may be partly subnormal: DBL_MIN of slack */
    const int ok = d <= p->ex[i] + fmax(exr[i], er) &&
                   dd <= p->edx[i] * el + fmax(edxr[i], edr) + (p->ldx != 0 ? DBL_MIN : 0);
    st->viol1 += !ok;
    CHECK("estimate bounds |ours - REF1|", ok,
          "%s t %.3g i %d: %.3g > %.3g + %.3g, %.3g > %.3g + %.3g", p->what, t, i, d, p->ex[i],
          fmax(exr[i], er), dd, p->edx[i] * el, fmax(edxr[i], edr));
  }
  const double nx = maxabs2(xr), ndx = maxabs2(dxr);
  const double d = fmax(cabs(p->x[0] - xr[0]), cabs(p->x[1] - xr[1]));
  const double dd = fmax(cabs(p->dx[0] * el - dxr[0]), cabs(p->dx[1] * el - dxr[1]));
  if (fmax(exr[0], exr[1]) < 1e-12 * nx) {
    st->n1++;
    st->maxd1 = fmax(st->maxd1, d / nx);
    CHECK("x vs REF1", d <= TOL * nx, "%s t %.3g: %.3g of max |x|", p->what, t, d / nx);
  }
  if (fmax(edxr[0], edxr[1]) < 1e-12 * ndx) {
    st->maxdd1 = fmax(st->maxdd1, dd / ndx);
    CHECK("x' vs REF1", dd <= TOL * ndx, "%s t %.3g: %.3g of max |x'|", p->what, t, dd / ndx);
  }
}

static void check_point(const char *what, const double complex *M, const double complex *f,
                        double t, int ref1, stats *st) {
  qb_expm2 s;
  qb_expm2_init(&s, M, f);
  point p = {.what = what, .M = M, .f = f, .t = t};
  if (qb_expm2_at(&s, t, p.x, p.dx, &p.ldx, p.ex, p.edx) != QB_OK) {
    CHECK("qb_expm2_at returns QB_OK", 0, "%s t %.3g", what, t);
    return;
  }
  st->n++;
  st->nseries += cabs(s.w2) * t * t <= 1.0;
  const int fin =
      finite2(p.x) && finite2(p.dx) && isfinite(p.ex[0] + p.ex[1] + p.edx[0] + p.edx[1]);
  st->nbad += !fin;
  CHECK("finite x, x', estimates", fin, "%s t %.3g", what, t);
  if (!fin) return;
  const int fb = guard_fails(p.x, p.dx, p.ex, p.edx);
  st->fallback += fb;
  st->fallback_in += fb && norm1(M) * t <= 1e4;
  if (fb && getenv("EXPM2_DEBUG"))
    printf(
        "FALLBACK %s t|M| %.3g ex %.3g %.3g edx %.3g %.3g |x| %.3g %.3g |dx| %.3g %.3g ldx %.3g\n",
        what, t * norm1(M), p.ex[0], p.ex[1], p.edx[0], p.edx[1], cabs(p.x[0]), cabs(p.x[1]),
        cabs(p.dx[0]), cabs(p.dx[1]), p.ldx);
  double nE;
  q_ref(M, f, t, p.ldx, p.xl, p.dxl, &nE);
  p.nx = maxabs2(p.xl);
  p.ndx = maxabs2(p.dxl);
  p.rl = EPS_Q * (64 + 8 * norm1(M) * t) * (1 + norm1(M) * t);
  const double nf = maxabs2(f);
  p.exl = p.rl * fmax(p.nx, nE * nf / norm1(M));
  p.edxl = isnan(nE) ? INFINITY : p.rl * nE * nf;
  vs_ld(&p, st);
  if (ref1) vs_ref1(&p, st);
}

/* t log-uniform in [lo, hi]/||M|| */
static double random_t(gsl_rng *r, const double complex *M, double lo, double hi) {
  return lu(r, lo, hi) / norm1(M);
}

/* ---- drifts ---- */

/* a random unitary [[a, -conj b], [b, conj a]] */
static void unitary(gsl_rng *r, double complex *U) {
  double th = 1.5707963267948966 * gsl_rng_uniform(r);
  double complex a = cos(th) * phase(r), b = sin(th) * phase(r);
  U[0] = a, U[1] = -conj(b), U[2] = b, U[3] = conj(a);
}

/* U diag(d) U^H */
static void rotate(const double complex *U, const double complex *d, double complex *A) {
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      A[i * 2 + j] = U[i * 2] * d[0] * conj(U[j * 2]) + U[i * 2 + 1] * d[1] * conj(U[j * 2 + 1]);
}

static double sgn(gsl_rng *r) {
  return gsl_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
}

static void random_f(gsl_rng *r, double complex *f) {
  if (gsl_rng_uniform(r) < 0.3) {
    f[0] = -I * lu(r, 1e-3, 1e3), f[1] = 0;
  } else {
    f[0] = lu(r, 1e-3, 1) * phase(r), f[1] = lu(r, 1e-3, 1) * phase(r);
  }
}

/* -G/2 - iH: G = U diag(g) U^H >= 0 (g log-uniform over gdec decades, sometimes 0),
 * H = V diag(e) V^H + e0 I, all times a scale */
static void general_drift(gsl_rng *r, double gdec, double complex *M) {
  double complex U[4], V[4], g[2], e[2], G[4], H[4];
  unitary(r, U);
  unitary(r, V);
  for (int i = 0; i < 2; i++) {
    g[i] = gsl_rng_uniform(r) < 0.1 ? 0 : lu(r, pow(10, -gdec), 1);
    e[i] = gsl_rng_uniform(r) < 0.1 ? 0 : sgn(r) * lu(r, 1e-6, 1);
  }
  rotate(U, g, G);
  rotate(V, e, H);
  const double e0 = gsl_rng_uniform(r) < 0.3 ? 0 : sgn(r) * lu(r, 1e-6, 10);
  const double c = lu(r, 1e-3, 1e3);
  for (int k = 0; k < 4; k++)
    M[k] = c * (-0.5 * G[k] - I * (H[k] + (k % 3 == 0 ? e0 : 0)));
}

/* shared's drift (src/models/shared.c, Eqs. 4-5) */
static void shared_drift(double Delta, double complex J, double Gamma, double complex pa,
                         double complex pb, double ka, double kb, double complex *M) {
  double complex mu = -pb * conj(pa);
  double gA = Gamma * creal(pa * conj(pa)) + ka, gB = Gamma * creal(pb * conj(pb)) + kb;
  M[0] = -0.5 * gA - I * Delta;
  M[1] = -I * (J + I * mu * Gamma / 2);
  M[2] = -I * (conj(J) + I * conj(mu) * Gamma / 2);
  M[3] = -0.5 * gB - I * Delta;
}

static void random_shared(gsl_rng *r, double complex *M, double complex *f) {
  double Gamma = gsl_rng_uniform(r) < 0.2 ? 0 : lu(r, 1e-4, 2);
  double ka = gsl_rng_uniform(r) < 0.1 ? 0 : lu(r, 1e-6, 1);
  double kb = gsl_rng_uniform(r) < 0.1 ? 0 : lu(r, 1e-6, 1);
  shared_drift(sgn(r) * lu(r, 1e-4, 3), lu(r, 1e-4, 1) * phase(r), Gamma, lu(r, 0.1, 3) * phase(r),
               lu(r, 0.1, 3) * phase(r), ka, kb, M);
  f[0] = -I * lu(r, 1e-3, 1e3);
  f[1] = 0;
}

/* ---- parts ---- */

static void part_random(gsl_rng *r) {
  stats st = {0};
  double complex M[4], f[2];
  for (int n = 0; n < 12000; n++) {
    if (n % 2) {
      general_drift(r, 6, M);
      random_f(r, f);
    } else
      random_shared(r, M, f);
    for (int k = 0; k < 3; k++)
      check_point("random", M, f, random_t(r, M, 1e-8, 1e4), 1, &st);
  }
  print_stats("random", &st);
  CHECK("random: no fallback at |M| t <= 1e4", st.fallback_in == 0, "%ld points", st.fallback_in);
  CHECK("random: REF1 comparisons made", st.n1 > st.n / 2, "%ld of %ld", st.n1, st.n);
}

/* small dyadic complex numbers: products stay exact */
static double complex dyadic(gsl_rng *r) {
  return ((double)gsl_rng_uniform_int(r, 17) - 8) / 4.0 +
         I * (((double)gsl_rng_uniform_int(r, 17) - 8) / 4.0);
}

/* M = 2^e (h I + N) with N = s x y^T, x = (p, q), y = (q, -p) (N^2 = 0 exactly), h = -R + i y0
 * with R >= ||Herm N||_2 times margin (passive); every operation exact. */
static void exact_ep(gsl_rng *r, double margin, double complex *M) {
  double complex p, q;
  do
    p = dyadic(r), q = dyadic(r);
  while (p == 0 && q == 0);
  const double s = ldexp(1.0, -(int)gsl_rng_uniform_int(r, 5));
  const double complex a = s * p * q, b = -s * p * p, c = s * q * q;
  const double hn = sqrt(creal(a) * creal(a) + pow(cabs(0.5 * (b + conj(c))), 2));
  const double R = ceil(hn * margin * 64.0) / 64.0;
  const double complex h = -R + I * ((double)gsl_rng_uniform_int(r, 33) - 16) / 8.0;
  const int e = (int)gsl_rng_uniform_int(r, 21) - 10;
  M[0] = ldexp(1.0, e) * (h + a);
  M[1] = ldexp(1.0, e) * b;
  M[2] = ldexp(1.0, e) * c;
  M[3] = ldexp(1.0, e) * (h - a);
}

/* shared's drift at its EP: p_a = p_b = 1, J = 5ci, Gamma = 8c, kappa_a - kappa_b = 12c
 * (M12 = c, M21 = -9c, ((M11 - M22)/2)^2 = 9c^2) */
static void shared_ep(gsl_rng *r, double complex *M) {
  const double c = ldexp(1.0, (int)gsl_rng_uniform_int(r, 21) - 10);
  const double kb = c * (double)gsl_rng_uniform_int(r, 9) / 4.0;
  const double Delta = c * ((double)gsl_rng_uniform_int(r, 33) - 16) / 8.0;
  shared_drift(Delta, 5.0 * c * I, 8.0 * c, 1.0, 1.0, kb + 12.0 * c, kb, M);
}

static void part_ep(gsl_rng *r) {
  stats st = {0}, sn = {0};
  double complex M[4], f[2];
  for (int n = 0; n < 3000; n++) {
    if (n % 3 == 0)
      shared_ep(r, M);
    else
      exact_ep(r, n % 3 == 1 ? 1.0 : 1.0 + lu(r, 1e-3, 10), M);
    random_f(r, f);
    qb_expm2 s;
    qb_expm2_init(&s, M, f);
    CHECK("EP: w^2 = 0 exactly", s.w2 == 0, "M %g%+gi %g%+gi %g%+gi %g%+gi", creal(M[0]),
          cimag(M[0]), creal(M[1]), cimag(M[1]), creal(M[2]), cimag(M[2]), creal(M[3]),
          cimag(M[3]));
    for (int k = 0; k < 4; k++)
      check_point("EP", M, f, random_t(r, M, 1e-8, 1e4), 0, &st);
    /* near it: M21 moved so that w^2 = delta h^2 (rounding aside), delta = 1e-4 .. 1e-16 */
    const double delta = pow(10.0, -4.0 - 2.0 * (double)gsl_rng_uniform_int(r, 7));
    const double complex h = 0.5 * (M[0] + M[3]);
    if (M[1] == 0 || cabs(h) == 0) continue;
    M[2] += delta * h * h * phase(r) / M[1];
    for (int k = 0; k < 4; k++)
      check_point("near EP", M, f, random_t(r, M, 1e-8, 1e4), 0, &sn);
  }
  print_stats("EP", &st);
  print_stats("near EP", &sn);
  CHECK("EP: no fallback at |M| t <= 1e4", st.fallback_in == 0 && sn.fallback_in == 0, "%ld, %ld",
        st.fallback_in, sn.fallback_in);
}

static void part_marginal(gsl_rng *r) {
  stats st = {0};
  double complex M[4], f[2], U[4], d[2];
  for (int n = 0; n < 3000; n++) {
    const double w1 = sgn(r) * lu(r, 1e-3, 1), w2 = sgn(r) * lu(r, 1e-3, 1), gm = lu(r, 1e-3, 1);
    unitary(r, U);
    if (n % 3 == 0) { /* decoupled: a lossless mode and a damped one */
      M[0] = -I * w1, M[1] = M[2] = 0, M[3] = -gm - I * w2;
    } else if (n % 3 == 1) { /* lossless, coupled: -iH */
      d[0] = w1, d[1] = w2;
      rotate(U, d, M);
      for (int k = 0; k < 4; k++)
        M[k] *= -I;
    } else { /* a zero eigenvalue in a rotated frame */
      d[0] = 0, d[1] = -gm - I * w2;
      rotate(U, d, M);
    }
    random_f(r, f);
    for (int k = 0; k < 3; k++)
      check_point("marginal", M, f, random_t(r, M, 1e-8, 1e4), 1, &st);
  }
  print_stats("marginal", &st);
  CHECK("marginal: no fallback at |M| t <= 1e4", st.fallback_in == 0, "%ld points", st.fallback_in);
}

static void part_stiff(gsl_rng *r) {
  stats st = {0};
  double complex M[4], f[2], U[4], V[4], g[2], e[2], G[4], H[4];
  for (int n = 0; n < 3000; n++) {
    unitary(r, U);
    unitary(r, V);
    g[0] = lu(r, 1e-6, 1e-5), g[1] = lu(r, 1e5, 1e6);
    e[0] = sgn(r) * lu(r, 1e-6, 1), e[1] = sgn(r) * lu(r, 1e-6, n % 2 ? 1 : 1e6);
    rotate(U, g, G);
    rotate(V, e, H);
    for (int k = 0; k < 4; k++)
      M[k] = -0.5 * G[k] - I * H[k];
    random_f(r, f);
    const double ah = cabs(0.5 * (M[0] + M[3]));
    for (int k = 0; k < 3; k++)
      check_point("stiff", M, f, lu(r, 1e-8 / norm1(M), 1e6 / ah), 0, &st);
  }
  print_stats("stiff", &st);
  CHECK("stiff: no fallback at |M| t <= 1e4", st.fallback_in == 0, "%ld points", st.fallback_in);
}

/* non-passive: a passive drift plus c I (c > 0), growth e^{gt} up to e^40 */
static void part_growing(gsl_rng *r) {
  stats st = {0};
  double complex M[4], f[2];
  for (int n = 0; n < 1500; n++) {
    if (n % 3 == 2)
      exact_ep(r, 1.0 + lu(r, 1e-3, 10), M);
    else
      general_drift(r, 6, M);
    random_f(r, f);
    const double c = -creal(0.5 * (M[0] + M[3])) + lu(r, 1e-3, 1) * norm1(M);
    M[0] += c, M[3] += c;
    qb_expm2 s;
    qb_expm2_init(&s, M, f);
    const double g = fmax(creal(s.lp), creal(s.lm));
    CHECK("growing: growth rate > 0", g > 0, "%g", g);
    for (int k = 0; k < 3; k++)
      check_point("growing", M, f, lu(r, 1e-8 / norm1(M), 40.0 / g), 0, &st);
  }
  print_stats("growing", &st);
}

static void part_zero(gsl_rng *r) {
  double complex M[4], f[2], x[2], dx[2], f0[2] = {0, 0}, Z[4] = {0, 0, 0, 0};
  double ex[2], edx[2], ldx;
  qb_expm2 s;
  for (int n = 0; n < 200; n++) {
    general_drift(r, 6, M);
    random_f(r, f);
    qb_expm2_init(&s, M, f);
    CHECK("t = 0 runs", qb_expm2_at(&s, 0.0, x, dx, &ldx, ex, edx) == QB_OK, "n %d", n);
    CHECK("t = 0: x = 0, x' = f exactly, estimates 0",
          x[0] == 0 && x[1] == 0 && dx[0] == f[0] && dx[1] == f[1] && ex[0] == 0 && ex[1] == 0 &&
              edx[0] == 0 && edx[1] == 0 && ldx == 0,
          "n %d", n);
    qb_expm2_init(&s, M, f0);
    const double t = random_t(r, M, 1e-8, 1e4);
    CHECK("f = 0 runs", qb_expm2_at(&s, t, x, dx, &ldx, ex, edx) == QB_OK, "n %d", n);
    CHECK("f = 0: x = x' = 0", x[0] == 0 && x[1] == 0 && dx[0] == 0 && dx[1] == 0, "n %d", n);
    qb_expm2_init(&s, Z, f);
    CHECK("M = 0 runs", qb_expm2_at(&s, t, x, dx, &ldx, ex, edx) == QB_OK, "n %d", n);
    for (int i = 0; i < 2; i++) {
      CHECK_CLOSE("M = 0: Re x = Re f t", creal(x[i]), creal(f[i]) * t, 4 * DBL_EPSILON, 0, "n %d",
                  n);
      CHECK_CLOSE("M = 0: Im x = Im f t", cimag(x[i]), cimag(f[i]) * t, 4 * DBL_EPSILON, 0, "n %d",
                  n);
      CHECK("M = 0: x' = f", dx[i] == f[i], "n %d", n);
    }
  }
  qb_expm2_init(&s, M, f);
  CHECK("t < 0 rejected", qb_expm2_at(&s, -1.0, x, dx, &ldx, ex, edx) == QB_EINTERNAL, "-1");
  CHECK("t = inf rejected", qb_expm2_at(&s, INFINITY, x, dx, &ldx, ex, edx) == QB_EINTERNAL, "inf");
  CHECK("t = NaN rejected", qb_expm2_at(&s, NAN, x, dx, &ldx, ex, edx) == QB_EINTERNAL, "nan");
  M[1] = NAN;
  qb_expm2_init(&s, M, f);
  CHECK("NaN M rejected", qb_expm2_at(&s, 1.0, x, dx, &ldx, ex, edx) == QB_EINTERNAL, "nan");
}

/* one huge-t point: finite values, estimates not NaN; decayed (g t < -1000) with a good
 * estimate: x = -M^-1 f to 1e-10 of max |x_i| */
static void huge_point(const char *what, const double complex *M, const double complex *f, double t,
                       long *nss) {
  qb_expm2 s;
  qb_expm2_init(&s, M, f);
  double complex x[2], dx[2], xss[2], mf[2] = {-f[0], -f[1]};
  double ex[2], edx[2], ldx;
  CHECK("huge t runs", qb_expm2_at(&s, t, x, dx, &ldx, ex, edx) == QB_OK, "%s", what);
  CHECK("huge t: finite x, x'", finite2(x) && finite2(dx),
        "%s t %.3g x %g %g dx %g %g M %a%+ai %a%+ai %a%+ai %a%+ai", what, t, cabs(x[0]), cabs(x[1]),
        cabs(dx[0]), cabs(dx[1]), creal(M[0]), cimag(M[0]), creal(M[1]), cimag(M[1]), creal(M[2]),
        cimag(M[2]), creal(M[3]), cimag(M[3]));
  CHECK("huge t: estimates not NaN", !isnan(ex[0] + ex[1] + edx[0] + edx[1]), "%s", what);
  const double g = fmax(creal(s.lp), creal(s.lm)) * t, nx = maxabs2(x);
  if (!(g < -1000) || !(fmax(ex[0], ex[1]) <= 1e-11 * nx)) return;
  if (qb_linear_solve(2, M, mf, xss)) return;
  (*nss)++;
  const double d = fmax(cabs(x[0] - xss[0]), cabs(x[1] - xss[1]));
  CHECK("huge t: x = -M^-1 f", d <= TOL * nx, "%s: %.3g of max |x|", what, d / nx);
}

static void part_huge(gsl_rng *r) {
  double complex M[4], f[2];
  long nss = 0;
  for (int n = 0; n < 2000; n++) {
    switch (n % 4) {
    case 0:
      general_drift(r, 6, M), random_f(r, f);
      break;
    case 1:
      random_shared(r, M, f);
      break;
    case 2:
      exact_ep(r, 1.0 + lu(r, 1e-3, 10), M), random_f(r, f);
      break;
    default: /* lossless decoupled mode */
      M[0] = -I * lu(r, 1e-3, 1), M[1] = M[2] = 0, M[3] = -lu(r, 1e-3, 1), random_f(r, f);
    }
    huge_point("1e250", M, f, 1e250 / norm1(M), &nss);
    huge_point("1e30", M, f, 1e30 / norm1(M), &nss);
  }
  printf("huge: %ld decayed points compared with the steady state\n", nss);
  CHECK("huge: steady-state comparisons made", nss > 1000, "%ld", nss);
}

static void part_alloc(gsl_rng *r) {
  double complex M[4], f[2], x[2], dx[2];
  double ex[2], edx[2], ldx;
  long before = n_alloc;
  void *volatile p = malloc(16); /* volatile: the pair is not optimized away */
  free(p);
  CHECK("the allocation counter counts", n_alloc == before + 1, "%ld", n_alloc - before);
  double complex Ms[200][4], fs[200][2];
  for (int n = 0; n < 200; n++)
    if (n % 2) {
      general_drift(r, 6, Ms[n]);
      random_f(r, fs[n]);
    } else
      random_shared(r, Ms[n], fs[n]);
  before = n_alloc;
  for (int n = 0; n < 200; n++) {
    qb_expm2 s;
    memcpy(M, Ms[n], sizeof M);
    memcpy(f, fs[n], sizeof f);
    qb_expm2_init(&s, M, f);
    for (int k = 0; k < 50; k++)
      (void)qb_expm2_at(&s, pow(10.0, -8.0 + 12.0 * k / 49.0) / norm1(M), x, dx, &ldx, ex, edx);
  }
  CHECK("no heap allocation in init/at", n_alloc == before, "%ld calls", n_alloc - before);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine may be shared */
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void part_timing(gsl_rng *r) {
  enum { ND = 200, NT = 400, NTL = 40 };
  static double complex Ms[ND][4], fs[ND][2];
  double complex x[2], dx[2], xss[2];
  double ex[2], edx[2], ldx, sink = 0, exss[2] = {0, 0};
  for (int n = 0; n < ND; n++)
    random_shared(r, Ms[n], fs[n]);
  double t0 = now();
  for (int n = 0; n < ND; n++) {
    qb_expm2 s;
    qb_expm2_init(&s, Ms[n], fs[n]);
    for (int k = 0; k < NT; k++) {
      (void)qb_expm2_at(&s, pow(10.0, -2.0 + 6.0 * k / (NT - 1)) / norm1(Ms[n]), x, dx, &ldx, ex,
                        edx);
      sink += creal(x[1]);
    }
  }
  const double ns_at = (now() - t0) / (ND * NT) * 1e9;
  t0 = now();
  for (int n = 0; n < ND; n++) {
    double complex mf[2] = {-fs[n][0], -fs[n][1]}, lam[2];
    (void)qb_linear_solve(2, Ms[n], mf, xss);
    (void)qb_linear_eig(2, Ms[n], lam, NULL);
    for (int k = 0; k < NTL; k++) {
      (void)qb_linear_transient(2, Ms[n], fs[n],
                                pow(10.0, -2.0 + 6.0 * k / (NTL - 1)) / norm1(Ms[n]), creal(lam[0]),
                                xss, exss, x, dx, &ldx, ex, edx);
      sink += creal(x[1]);
    }
  }
  const double ns_lin = (now() - t0) / (ND * NTL) * 1e9;
  printf("timing: %.0f ns per qb_expm2_at (rows of %d t, |M| t in [1e-2, 1e4], shared drifts); "
         "%.0f ns per qb_linear_transient (with steady state; per-row solve and eig included); "
         "ratio %.0f (sink %g)\n",
         ns_at, NT, ns_lin, ns_lin / ns_at, sink);
  CHECK("timing ran", ns_at > 0 && ns_lin > 0, "%g %g", ns_at, ns_lin);
}

int main(int argc, char **argv) {
  const char *part = qb_test_select(argc, argv);
  (void)part;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 12);
  QB_PART("random", part_random(r));
  QB_PART("ep", part_ep(r));
  QB_PART("marginal", part_marginal(r));
  QB_PART("stiff", part_stiff(r));
  QB_PART("growing", part_growing(r));
  QB_PART("zero", part_zero(r));
  QB_PART("huge", part_huge(r));
  QB_PART("alloc", part_alloc(r));
  QB_PART("timing", part_timing(r));
  gsl_rng_free(r);
  return qb_test_report(qb_test_name);
}
