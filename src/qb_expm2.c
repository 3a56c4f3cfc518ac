#include "qbmap/qb_expm2.h"

#include <float.h>
#include <math.h>

#ifndef CMPLX /* C11's CMPLX: glibc defines it for GCC only; clang has the builtin */
#define CMPLX(x, y) __builtin_complex((double)(x), (double)(y))
#endif

#define EPS DBL_EPSILON
#define LDX_BELOW (-600.0) /* e^{gt} below e^-600: x' returned scaled (ldx) */
#define KMAX 10            /* series terms k <= KMAX: |v|^2 <= 1 needs k <= 9 for 1e-17 */
#define NJ (2 * KMAX + 3)  /* J_0 .. J_{2K+2} */
#define SAFETY 2.0         /* on every first-order estimate */

/* |z| without hypot's cost; hypot's care only where squares could over- or underflow. */
static double mag(double complex z) {
  double x = creal(z), y = cimag(z), m = sqrt(x * x + y * y);
  return (m > 1e-150 && m < 1e150) ? m : cabs(z);
}

/* |Re z| + |Im z| (within sqrt(2) of |z|, no sqrt): for the error estimates */
static double mag1(double complex z) {
  return fabs(creal(z)) + fabs(cimag(z));
}

static double maxd(double a, double b) {
  return a > b ? a : b;
}

/* error e of a coefficient times the size a of what it multiplies (0 where a = 0, also if e is
 * infinite) */
static double prod(double e, double a) {
  return a == 0 ? 0 : e * a;
}

static int finite_c(double complex z) {
  return isfinite(creal(z)) && isfinite(cimag(z));
}

/* An eigenvalue with a positive real part within its rounding bound or within tol (the rounding
 * of M's entries: a drift passive but for it) is marginal, the change counted in its bound; one
 * below the normal range is 0 (its reciprocal must be finite). */
static double complex clamp_marginal(double complex l, double *dl, double tol) {
  if (mag(l) < DBL_MIN) {
    *dl += mag(l);
    return 0;
  }
  if (!(creal(l) > 0 && creal(l) <= maxd(*dl, tol))) return l;
  *dl = maxd(*dl, creal(l));
  return CMPLX(0.0, cimag(l));
}

static double complex inv0(double complex z) {
  return z == 0 ? 0 : 1.0 / z;
}

/* lambda+- = h +- w: the larger in magnitude directly, the other as det M / larger; tol: the
 * marginal tolerance (clamp_marginal). */
static void eigenvalues(qb_expm2 *s, double tol) {
  const double complex e1 = s->h + s->w, e2 = s->h - s->w;
  const double a1 = mag(e1), a2 = mag(e2);
  const int plus = a1 >= a2;
  const double complex L = plus ? e1 : e2;
  const double aL = plus ? a1 : a2, dL = s->dh + s->dw + EPS * aL;
  double complex S = 0;
  double dS = dL + sqrt(s->ddet); /* h = w = 0: both 0, det M only rounding */
  if (aL > 0) {
    S = s->det / L;
    dS = (s->ddet + mag(S) * dL) / aL + 2.0 * EPS * mag(S);
  }
  s->dlp = plus ? dL : dS;
  s->dlm = plus ? dS : dL;
  s->lp = clamp_marginal(plus ? L : S, &s->dlp, tol);
  s->lm = clamp_marginal(plus ? S : L, &s->dlm, tol);
  s->alp = mag(s->lp);
  s->alm = mag(s->lm);
  s->ilp = inv0(s->lp);
  s->ilm = inv0(s->lm);
}

/* The modal parts p+- = (f +- Nf/w)/2 (x' = e^{z+} p+ + e^{z-} p-) and the steady state
 * xs = -M^-1 f = (Nf - h f)/det M, with their rounding bounds. */
static void modal(qb_expm2 *s) {
  const double rw = s->aw > 0 ? s->dw / s->aw + 3.0 * EPS : 0;
  const double rdet = s->adet > 0 ? s->ddet / s->adet + 3.0 * EPS : 0;
  for (int i = 0; i < 2; i++) {
    const double complex q = s->nf[i] * s->i2w, hf = s->h * s->f[i];
    const double aq = mag(q), eq = aq * rw + s->enf[i] * mag(s->i2w);
    s->pp[i] = 0.5 * s->f[i] + q;
    s->pm[i] = 0.5 * s->f[i] - q;
    s->epp[i] = eq + EPS * (0.5 * s->af[i] + aq);
    s->epm[i] = s->epp[i];
    s->xs[i] = (s->nf[i] - hf) * s->idet;
    s->exs[i] = (s->enf[i] + s->dh * s->af[i] + 3.0 * EPS * (mag(hf) + s->anf[i])) / s->adet +
                mag(s->xs[i]) * rdet;
    if (s->adet == 0) s->exs[i] = INFINITY;
  }
}

/* A compensated sum of products (Ogita, Rump, Oishi's Dot2): each product split exactly by
 * fma, the sum by TwoSum, the low parts added at the end; error <= eps |sum| + O(eps^2) of the
 * terms.  (C11 without contraction: the TwoSum is exact.) */
typedef struct {
  double s, c;
} dot2;

static void dot2_add(dot2 *A, double x, double y) {
  const double p = x * y, ep = fma(x, y, -p);
  const double t = A->s + p, bb = t - A->s;
  A->c += ((A->s - (t - bb)) + (p - bb)) + ep;
  A->s = t;
}

/* w^2 = d^2 + M12 M21 with d = (M11 - M22)/2 taken exactly (hi + lo by TwoSum) and
 * det M = M11 M22 - M12 M21, both compensated: at an EP (or a near-zero det M) the cancellation
 * leaves eps |w^2| + O(eps^2) |N|^2 instead of eps |N|^2; returns d's high part. */
static double complex w2_det(qb_expm2 *s, const double complex *M) {
  const double ar = creal(M[0]), ai = cimag(M[0]), er = creal(M[3]), ei = cimag(M[3]);
  const double br = creal(M[1]), bi = cimag(M[1]), cr = creal(M[2]), ci = cimag(M[2]);
  const double xr = ar - er, xi = ai - ei, zr = xr - ar, zi = xi - ai;
  const double lr = 0.5 * ((ar - (xr - zr)) + (-er - zr)),
               li = 0.5 * ((ai - (xi - zi)) + (-ei - zi));
  const double hr = 0.5 * xr, hi = 0.5 * xi; /* d = (hr + lr) + i (hi + li) exactly */
  dot2 wr = {0, 2.0 * (hr * lr - hi * li)}, wi = {0, 2.0 * (hr * li + hi * lr)};
  dot2_add(&wr, hr, hr), dot2_add(&wr, -hi, hi), dot2_add(&wr, br, cr), dot2_add(&wr, -bi, ci);
  dot2_add(&wi, 2.0 * hr, hi), dot2_add(&wi, br, ci), dot2_add(&wi, bi, cr);
  s->w2 = CMPLX(wr.s + wr.c, wi.s + wi.c);
  dot2 dr = {0, 0}, di = {0, 0};
  dot2_add(&dr, ar, er), dot2_add(&dr, -ai, ei), dot2_add(&dr, -br, cr), dot2_add(&dr, bi, ci);
  dot2_add(&di, ar, ei), dot2_add(&di, ai, er), dot2_add(&di, -br, ci), dot2_add(&di, -bi, cr);
  s->det = CMPLX(dr.s + dr.c, di.s + di.c);
  return CMPLX(hr, hi);
}

void qb_expm2_init(qb_expm2 *s, const double complex M[4], const double complex f[2]) {
  const double complex a = M[0], b = M[1], c = M[2], e = M[3];
  s->ok =
      finite_c(a) && finite_c(b) && finite_c(c) && finite_c(e) && finite_c(f[0]) && finite_c(f[1]);
  s->h = 0.5 * (a + e);
  const double complex d = w2_det(s, M);
  s->w = csqrt(s->w2);
  const double ad = mag(d), ab = mag(b), ac = mag(c), aw = mag(s->w);
  const double E2 = 32.0 * EPS * EPS; /* Dot2's second-order term, with room */
  s->dh = EPS * mag(s->h);
  s->dw2 = 2.0 * EPS * mag(s->w2) + E2 * (ad * ad + ab * ac);
  s->dw = (aw > 0 ? fmin(s->dw2 / aw, sqrt(s->dw2)) : sqrt(s->dw2)) + 2.0 * EPS * aw;
  s->ddet = 2.0 * EPS * mag(s->det) + E2 * (mag(a) * mag(e) + ab * ac);
  s->ah = mag(s->h);
  s->aw2 = mag(s->w2);
  s->aw = aw;
  s->adet = mag(s->det);
  s->ih = inv0(s->h);
  s->i2w = 0.5 * inv0(s->w);
  s->idet = inv0(s->det);
  s->hdet = s->h * s->idet;
  eigenvalues(s, 4.0 * EPS * (s->ah + ad + ab + ac));
  for (int i = 0; i < 2; i++) {
    s->f[i] = f[i];
    s->af[i] = mag(f[i]);
  }
  s->nf[0] = d * f[0] + b * f[1];
  s->nf[1] = c * f[0] - d * f[1];
  for (int i = 0; i < 2; i++)
    s->anf[i] = mag(s->nf[i]);
  s->enf[0] = EPS * (4.0 * ad * s->af[0] + 3.0 * ab * s->af[1] + s->anf[0]);
  s->enf[1] = EPS * (3.0 * ac * s->af[0] + 4.0 * ad * s->af[1] + s->anf[1]);
  modal(s);
}

/* e^z and e^z - 1 without cancellation: Re(e^z - 1) = expm1(x) cos y - 2 sin^2(y/2).  erem: a
 * bound of the rounding of e^z - 1 (absolute); ph = e^{iy}, e = e^x. */
typedef struct {
  double complex ez, em, ph;
  double x, e, xm, erem;
} cexp_t;

static void cexp_em1(double complex z, cexp_t *r) {
  const double x = creal(z), y = cimag(z);
  const double s2 = sin(0.5 * y), c2 = cos(0.5 * y);
  const double sy = 2.0 * s2 * c2, cy = (c2 - s2) * (c2 + s2);
  const double e = exp(x), xm = fabs(x) < 1.0 ? expm1(x) : e - 1.0;
  r->x = x;
  r->e = e;
  r->xm = xm;
  r->ph = CMPLX(cy, sy);
  r->ez = CMPLX(e * cy, e * sy);
  r->em = CMPLX(xm * cy - 2.0 * s2 * s2, e * sy);
  r->erem = 4.0 * EPS * (fabs(xm * cy) + 2.0 * s2 * s2 + fabs(e * sy));
}

/* P, Q, C, S of the header (x = P f + Q Nf, dx = C f + S Nf) and their absolute errors. */
typedef struct {
  double complex P, Q, C, S;
  double eP, eQ, eC, eS;
  double rdx; /* relative error common to x' (its factor e^u) */
} coefs;

/* ---- near the exceptional point: series in v^2 ---- */

/* J_n(u) = int_0^1 s^n e^{us} ds for |u| < n <= nmax, as t J_n and t^2 J_n: downward
 * J_{n-1} = (e^u - u J_n)/n (stable for n > |u|) from Kummer's series at N >= 2|u| (4|u| if
 * Re u > 0: its terms then alternate), J_N = e^u sum_j (-u)^j/((N+1)...(N+j+1)). */
static void jn_down(double complex u, double complex eu, double t, int n0, int nmax,
                    double complex *tJ, double complex *t2J) {
  const double au = mag(u);
  const int N = (int)fmax(nmax, ceil((creal(u) > 0 ? 4.0 : 2.0) * au));
  const double complex mu = -u;
  double complex term = 1.0 / (N + 1), sum = 0;
  for (int j = 0; j < 200; j++) {
    sum += term;
    term *= mu * (1.0 / (N + j + 2.0)); /* the division off the dependency chain */
    if (mag1(term) <= 1e-18 * mag1(sum)) break;
  }
  double complex J = eu * sum;
  for (int n = N; n > n0; n--) {
    if (n <= nmax) {
      tJ[n] = t * J;
      t2J[n] = t * tJ[n];
    }
    J = (eu - u * J) * (1.0 / n);
  }
}

/* t J_n(u) and t^2 J_n(u) for n = 0..nmax, u = h t (eu: e^u and e^u - 1).  Upward
 * J_n = (e^u - n J_{n-1})/u where n <= |u| (stable there), in the scaled forms
 * t J_n = (e^u - n J_{n-1})/h, t^2 J_n = (t e^u - n t J_{n-1})/h: no t^2, finite for any t;
 * above |u| jn_down.  ih = 1/h. */
static void jn_scaled(double complex u, double complex ih, double t, const cexp_t *eu, int nmax,
                      double complex *tJ, double complex *t2J) {
  if (u == 0) {
    for (int n = 0; n <= nmax; n++) {
      tJ[n] = t / (n + 1);
      t2J[n] = t * tJ[n];
    }
    return;
  }
  const double au = mag(u);
  const int n0 = au >= nmax ? nmax : (int)au;
  const double complex teu = t * eu->ez;
  double complex J = eu->em / u;
  tJ[0] = eu->em * ih;
  t2J[0] = t * tJ[0];
  const double complex iu = ih / t; /* 1/u */
  for (int n = 1; n <= n0; n++) {
    const double complex num = eu->ez - n * J;
    t2J[n] = (teu - n * tJ[n - 1]) * ih;
    tJ[n] = num * ih;
    J = num * iu;
  }
  if (n0 < nmax) jn_down(u, eu->ez, t, n0, nmax, tJ, t2J);
}

static double maxabs(const double complex *v, int n) {
  double m = 0;
  for (int i = 0; i < n; i++)
    m = maxd(m, mag1(v[i]));
  return m;
}

/* The series sums P = sum_k v^2k/(2k)! t J_2k, Q = sum_k v^2k/(2k+1)! t^2 J_2k+1 and
 * cosh v, sinhc v, with the first-order errors: rounding of the terms ((3n + 8) eps each), the
 * exponent u (derivative: J_{n+1}), v^2 (derivative in v^2 term by term), the tail (m: bound
 * of the first omitted coefficient). */
static void series_sums(double complex v2, int K, double m, const double complex *tJ,
                        const double complex *t2J, double du, double dv2, coefs *k, double *ecs) {
  const double av2 = mag1(v2);
  double complex P = 0, Q = 0, C = 0, S = 0, ck = 1; /* ck = v2^k/(2k)! */
  double rP = 0, rQ = 0, u0 = 0, u1 = 0, v0 = 0, v1 = 0, dc = 0, ds = 0, ek = 0.5, acs = 0;
  for (int j = 0; j <= K; j++) {
    const int n = 2 * j;
    const double complex co = ck / (n + 1);
    const double ace = mag1(ck), aco = ace / (n + 1);
    P += ck * tJ[n];
    Q += co * t2J[n + 1];
    C += ck;
    S += co;
    rP += ace * mag1(tJ[n]) * (3 * n + 8);
    rQ += aco * mag1(t2J[n + 1]) * (3 * n + 11);
    u0 += ace * mag1(tJ[n + 1]);
    u1 += aco * mag1(t2J[n + 2]);
    acs += ace;
    if (j > 0) { /* d/d(v^2) of v^2k/(2k)!: k |v2|^(k-1)/(2k)! = k ek */
      v0 += j * ek * mag1(tJ[n]);
      v1 += j * ek / (n + 1) * mag1(t2J[n + 1]);
      dc += j * ek;
      ds += j * ek / (n + 1);
      ek *= av2 / ((n + 1.0) * (n + 2.0));
    }
    ck *= v2 / ((n + 1.0) * (n + 2.0));
  }
  k->P = P;
  k->Q = Q;
  k->C = C;
  k->S = S;
  k->eP = EPS * rP + prod(du, u0) + prod(dv2, v0) + 4.0 * m * maxabs(tJ, 2 * K + 3);
  k->eQ = EPS * rQ + prod(du, u1) + prod(dv2, v1) + 4.0 * m * maxabs(t2J, 2 * K + 3);
  ecs[0] = 8.0 * EPS * acs + prod(dv2, dc) + 2.0 * m; /* of cosh v (e^u's error: rdx) */
  ecs[1] = 8.0 * EPS * acs + prod(dv2, ds) + 2.0 * m; /* of sinhc v */
}

/* |v|^2 = |w^2| t^2 <= 1 (including the EP w^2 = 0). */
static void series(const qb_expm2 *s, double t, double l, coefs *k) {
  const double complex u = s->h * t, v2 = s->w2 * t * t;
  const double av2 = s->aw2 * t * t;
  /* K >= 1 also where v^2 is 0 or tiny: the k = 1 terms carry the first derivatives in v^2 of
   * the estimates (w^2's rounding: the EP itself is uncertain by dw2) */
  int K = 1;
  double m = av2 * av2 / 24.0; /* |v2|^(K+1)/(2K+2)! */
  while (m >= 1e-17 && K < KMAX) {
    K++;
    m *= av2 / ((2.0 * K + 1) * (2.0 * K + 2));
  }
  cexp_t eu;
  cexp_em1(u, &eu);
  double complex tJ[NJ], t2J[NJ];
  jn_scaled(u, s->ih, t, &eu, 2 * K + 2, tJ, t2J);
  const double du = (s->dh + EPS * s->ah) * t, dv2 = s->dw2 * t * t + 2.0 * EPS * av2;
  double ecs[2];
  series_sums(v2, K, m, tJ, t2J, du, dv2, k, ecs);
  /* x' = e^{u - l} (cosh v f + t sinhc v Nf): the exponent's rounding adds eps |l| */
  const double complex E = l == 0 ? eu.ez : exp(eu.x - l) * eu.ph;
  const double aE = mag1(E);
  k->eC = aE * ecs[0];
  k->eS = aE * t * ecs[1];
  k->rdx = du + EPS * (fabs(l) + 4.0); /* e^{u - l}: its exponent's rounding, a common factor */
  k->C = E * k->C;
  k->S = E * k->S * t;
}

/* ---- away from it: the eigen-modes ---- */

/* One mode at t: z = lambda t, e^z, t g(z) = (e^z - 1)/lambda (Pg), e^z/lambda (Eg; not if
 * z = 0), the exponent's error dz and the errors of Pg (t |J_1(z)| dz with
 * |J_1(z)| <= min(g(Re z), (|e^z| + |g(z)|)/|z|), plus rounding) and Eg. */
typedef struct {
  cexp_t c;
  double complex z, Pg, Eg;
  double dz, ePg, eEg;
} mode;

static void mode_at(double complex lam, double complex ilam, double al, double dlam, double t,
                    mode *md) {
  md->z = lam * t;
  md->dz = (dlam + EPS * al) * t;
  cexp_em1(md->z, &md->c);
  if (md->z == 0) {
    md->Pg = t;
    md->ePg = 0.5 * t * md->dz;
    md->Eg = 0;
    md->eEg = INFINITY;
    return;
  }
  const double x = md->c.x;
  md->Pg = md->c.em * ilam;
  const double aP = mag1(md->Pg);
  const double gre = x == 0 ? 1.0 : md->c.xm / x, b2 = (md->c.e + aP / t) / al;
  const double tj1 = t * gre < b2 ? t * gre : b2;
  md->ePg = tj1 * md->dz + md->c.erem / al + 3.0 * EPS * aP;
  md->Eg = md->c.ez * ilam;
  md->eEg = mag1(md->Eg) * (md->dz + dlam / al + 4.0 * EPS);
}

/* x_i = a+ p+_i + a- p-_i (+ xs_i) with the errors ea+- of a+- and the modal parts' */
static double complex modal_sum(const qb_expm2 *s, int i, double complex ap, double complex am,
                                double eap, double eam, double *err) {
  const double pp = mag1(s->pp[i]), pm = mag1(s->pm[i]), Ap = mag1(ap), Am = mag1(am);
  *err = prod(eap, pp) + prod(eam, pm) + prod(Ap, s->epp[i]) + prod(Am, s->epm[i]) +
         3.0 * EPS * (Ap * pp + Am * pm);
  return ap * s->pp[i] + am * s->pm[i];
}

/* |v| > 1: the eigen-modes.  x' = e^{z+ - l} p+ + e^{z- - l} p-; x either from
 * t g(z) = (e^z - 1)/lambda (form B: x = Pg+ p+ + Pg- p-) or with the pole terms split off
 * exactly (form A: x = e^{z+}/lambda+ p+ + e^{z-}/lambda- p- + xs, xs = -M^-1 f: stiff and
 * decayed modes), whichever is estimated better.  The modal form keeps each mode's exponent
 * error with its own part (f along a decayed mode: no false cancellation). */
static void eigen(const qb_expm2 *s, double t, double l, double complex *x, double complex *dx,
                  double *ex, double *edx) {
  mode p, m;
  mode_at(s->lp, s->ilp, s->alp, s->dlp, t, &p);
  mode_at(s->lm, s->ilm, s->alm, s->dlm, t, &m);
  const double complex Ep = l == 0 ? p.c.ez : exp(p.c.x - l) * p.c.ph;
  const double complex Em = l == 0 ? m.c.ez : exp(m.c.x - l) * m.c.ph;
  const double dl = EPS * (fabs(l) + 4.0);
  const int splitok = p.z != 0 && m.z != 0 && s->adet > 0;
  double complex xa[2];
  double exa[2], worst_a = INFINITY, worst_b = 0;
  for (int i = 0; i < 2; i++) {
    dx[i] = modal_sum(s, i, Ep, Em, mag1(Ep) * (p.dz + dl), mag1(Em) * (m.dz + dl), &edx[i]);
    x[i] = modal_sum(s, i, p.Pg, m.Pg, p.ePg, m.ePg, &ex[i]);
    worst_b = maxd(worst_b, ex[i]);
  }
  if (splitok) {
    worst_a = 0;
    for (int i = 0; i < 2; i++) {
      xa[i] = modal_sum(s, i, p.Eg, m.Eg, p.eEg, m.eEg, &exa[i]) + s->xs[i];
      exa[i] += s->exs[i] + EPS * mag1(xa[i]);
      worst_a = maxd(worst_a, exa[i]);
    }
  }
  if (worst_a < worst_b)
    for (int i = 0; i < 2; i++) {
      x[i] = xa[i];
      ex[i] = exa[i];
    }
}

/* x = P f + Q Nf, dx = C f + S Nf with their errors (coefficients', Nf's, the combination's;
 * rdx: x' relative). */
static void combine(const qb_expm2 *s, const coefs *k, double complex *x, double complex *dx,
                    double *ex, double *edx) {
  const double aP = mag1(k->P), aQ = mag1(k->Q), aC = mag1(k->C), aS = mag1(k->S);
  for (int i = 0; i < 2; i++) {
    const double af = s->af[i], an = s->anf[i], en = s->enf[i];
    x[i] = k->P * s->f[i] + k->Q * s->nf[i];
    dx[i] = k->C * s->f[i] + k->S * s->nf[i];
    ex[i] = prod(k->eP, af) + prod(k->eQ, an) + prod(aQ, en) + 3.0 * EPS * (aP * af + aQ * an);
    edx[i] = prod(k->eC, af) + prod(k->eS, an) + prod(aS, en) + 3.0 * EPS * (aC * af + aS * an) +
             k->rdx * mag1(dx[i]);
  }
}

/* the safety factor; infinite estimates for non-finite results */
static void finish(const double complex *x, const double complex *dx, double *ex, double *edx) {
  for (int i = 0; i < 2; i++) {
    ex[i] *= SAFETY;
    edx[i] *= SAFETY;
    if (!finite_c(x[i]) || !(ex[i] >= 0)) ex[i] = INFINITY;
    if (!finite_c(dx[i]) || !(edx[i] >= 0)) edx[i] = INFINITY;
  }
}

qb_err qb_expm2_at(const qb_expm2 *s, double t, double complex x[2], double complex dx[2],
                   double *ldx, double ex[2], double edx[2]) {
  if (!s->ok || !(t >= 0) || !isfinite(t)) return QB_EINTERNAL;
  *ldx = 0;
  if (t == 0 || (s->af[0] == 0 && s->af[1] == 0)) {
    for (int i = 0; i < 2; i++) {
      x[i] = 0;
      dx[i] = s->f[i];
      ex[i] = edx[i] = 0;
    }
    return QB_OK;
  }
  const double g = maxd(creal(s->lp), creal(s->lm)) * t;
  const double l = g < LDX_BELOW && isfinite(g) ? g : 0;
  if (s->aw2 * t * t <= 1.0) {
    coefs k;
    series(s, t, l, &k);
    combine(s, &k, x, dx, ex, edx);
  } else
    eigen(s, t, l, x, dx, ex, edx);
  finish(x, dx, ex, edx);
  *ldx = l;
  return QB_OK;
}
