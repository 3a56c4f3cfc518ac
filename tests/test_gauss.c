/* qb_gauss (model network's numerical core, issue 13) against independent computations:
 *   convention  the real-basis drift A, b and noise D' of the plan against the complex moment
 *               equations of docs/physics.md section 5 (alpha' = M alpha + N alpha* - iF,
 *               C' = M* C + C M^T + N* Q + Q* N^T + T, Q' = M Q + Q M^T + N C + (N C)^T + N):
 *               random networks, random (alpha, C, Q), every matrix entry to 1e-13 of the
 *               largest term;
 *   random      qb_gauss_at (fast path, or its fallback) vs qb_gauss_reference at random
 *               networks (n = 1..4; h, S (a third zero), F, 1..n+2 dissipators with random
 *               complex c, n_th zero for 40 %), t log-uniform 1e-8..1e3: each output group
 *               (alpha, dalpha, (C, Q), (dC, dQ); scales as in qb_gauss.h: max over modes of
 *               |alpha_j|, |dalpha_j|, C_j + |Q_j|, |dC_j| + |dQ_j|) to 1e-10 of its scale
 *               where the reference estimates itself below 1e-11 of it;
 *   closed      single damped driven thermal mode: E = n_th (1 - e^{-kappa t}) + |alpha|^2 with
 *               alpha = -iF (e^{M t} - 1)/M (2e-11 + 8 eps |M| t); W = E bitwise at n_th = 0, S =
 * 0; the two-mode squeezing threshold r* of the formula: growth at r*(1 -+ 1e-9) of opposite signs
 * and the growth root in r (bisection) at r* to 1e-10 relative; steady      qb_gauss_steady
 * (Lyapunov, Schur) vs qb_gauss_at at t = 60/|growth| (1e-9); passive     1e5 random passive
 * networks (S = 0): growth <= 1e-12 scale; ep          PT-like pairs at and near the exceptional
 * point: the fallback is taken where the fast path cannot be trusted, and every result agrees with
 * the reference (1e-10 of the group scale); qutip       one network with squeezing and thermal
 * noise vs QuTiP mesolve numbers (tests/gauss_qutip.py, 16 Fock levels per mode): 1e-7 absolute
 * (measured: all within 1e-9); alloc       no malloc/calloc/realloc in qb_gauss_plan_make,
 * qb_gauss_steady and the fast path of qb_gauss_at (n = 1..8) (not under AddressSanitizer /
 * QB_SANITIZED); timing      ns per qb_gauss_at (fast path) and per plan, n = 1..4, 8: printed
 * only; lean        rows of qb_gauss_lean_many + qb_gauss_at_with (deriv false and true) against
 * qb_gauss_at, bitwise, random unsqueezed networks n = 1..8.
 * Usage: test_gauss [convention|random|lean|closed|steady|passive|ep|qutip|alloc|timing|all] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <complex.h>
#include <float.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qb_test.h"
#include "qbmap/qb_gauss.h"

#define NMAX QB_GAUSS_NMAX
#define MMAX QB_GAUSS_MMAX

#include "qb_alloc_count.h"

/* ---- helpers ---- */
static double lu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

static double complex cgauss(gsl_rng *r) {
  double u1 = gsl_rng_uniform_pos(r), u2 = gsl_rng_uniform(r);
  double a = sqrt(-log(u1)), p = 6.283185307179586 * u2;
  return CMPLX(a * cos(p), a * sin(p));
}

/* a random network: squeeze 0 never, 1 always, 2 a third of the time zero */
static void random_net(gsl_rng *r, int n, int squeeze, qb_gauss_net *net) {
  memset(net, 0, sizeof *net);
  net->n = n;
  const double hs = lu(r, 1e-2, 10);
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) {
      const double complex h = i == j ? creal(cgauss(r)) : cgauss(r);
      net->h[i * n + j] = hs * h, net->h[j * n + i] = hs * conj(h);
    }
  const bool sq = squeeze == 1 || (squeeze == 2 && gsl_rng_uniform(r) < 2.0 / 3);
  if (sq) {
    const double ss = lu(r, 1e-3, 1) * hs;
    for (int i = 0; i < n; i++)
      for (int j = 0; j <= i; j++)
        net->S[i * n + j] = net->S[j * n + i] = gsl_rng_uniform(r) < 0.3 ? 0 : ss * cgauss(r);
  }
  for (int i = 0; i < n; i++)
    net->F[i] = gsl_rng_uniform(r) < 0.2 ? 0 : lu(r, 0.1, 10) * cgauss(r);
  net->nd = 1 + (int)gsl_rng_uniform_int(r, (unsigned long)n + 2);
  for (int k = 0; k < net->nd; k++) {
    net->rate[k] = lu(r, 1e-3, 10);
    net->nth[k] = gsl_rng_uniform(r) < 0.4 ? 0 : lu(r, 1e-3, 3);
    for (int j = 0; j < n; j++)
      net->c[k * NMAX + j] = gsl_rng_uniform(r) < 0.2 ? 0 : cgauss(r);
  }
}

/* the four output groups of a moments struct: values (complex, pairs for C/Q), errors */
typedef struct {
  double scale[4], err[4], dev[4]; /* dev: max deviation from a reference */
} groups;

static void group_scales(int n, const qb_gauss_moments *m, groups *g) {
  memset(g, 0, sizeof *g);
  for (int j = 0; j < n; j++) {
    g->scale[0] = fmax(g->scale[0], cabs(m->alpha[j]));
    g->scale[1] = fmax(g->scale[1], cabs(m->dalpha[j]));
    g->scale[2] = fmax(g->scale[2], m->C[j] + cabs(m->Q[j]));
    g->scale[3] = fmax(g->scale[3], fabs(m->dC[j]) + cabs(m->dQ[j]));
    g->err[0] = fmax(g->err[0], m->err_alpha[j]);
    g->err[1] = fmax(g->err[1], m->err_dalpha[j]);
    g->err[2] = fmax(g->err[2], fmax(m->err_C[j], m->err_Q[j]));
    g->err[3] = fmax(g->err[3], fmax(m->err_dC[j], m->err_dQ[j]));
  }
}

/* max deviation per group of x from ref */
static void deviations(int n, const qb_gauss_moments *x, const qb_gauss_moments *ref, double *dev) {
  for (int q = 0; q < 4; q++)
    dev[q] = 0;
  for (int j = 0; j < n; j++) {
    dev[0] = fmax(dev[0], cabs(x->alpha[j] - ref->alpha[j]));
    dev[1] = fmax(dev[1], cabs(x->dalpha[j] - ref->dalpha[j]));
    dev[2] = fmax(dev[2], fmax(fabs(x->C[j] - ref->C[j]), cabs(x->Q[j] - ref->Q[j])));
    dev[3] = fmax(dev[3], fmax(fabs(x->dC[j] - ref->dC[j]), cabs(x->dQ[j] - ref->dQ[j])));
  }
}

static const char *gname[4] = {"alpha", "dalpha", "C,Q", "dC,dQ"};

/* ---- convention: the real form against the complex equations ---- */

static void complex_parts(const qb_gauss_net *net, double complex *M, double complex *N,
                          double complex *T) {
  const int n = net->n;
  for (int j = 0; j < n; j++)
    for (int l = 0; l < n; l++) {
      double complex G = 0, Th = 0;
      for (int k = 0; k < net->nd; k++) {
        G += net->rate[k] * conj(net->c[k * NMAX + j]) * net->c[k * NMAX + l];
        Th += net->rate[k] * net->nth[k] * net->c[k * NMAX + j] * conj(net->c[k * NMAX + l]);
      }
      M[j * n + l] = -I * net->h[j * n + l] - 0.5 * G;
      N[j * n + l] = -I * net->S[j * n + l];
      T[j * n + l] = Th;
    }
}

/* C, Q of a real symmetric excess covariance (u = Re a, v = Im a blocks) */
static void sigma_to_cq(int n, const double *S, double complex *C, double complex *Q) {
  const int m = 2 * n;
  for (int j = 0; j < n; j++)
    for (int l = 0; l < n; l++) {
      const double uu = S[j * m + l], vv = S[(n + j) * m + n + l], uv = S[j * m + n + l],
                   vu = S[(n + j) * m + l];
      C[j * n + l] = CMPLX(uu + vv, uv - vu);
      Q[j * n + l] = CMPLX(uu - vv, uv + vu);
    }
}

static void convention_one(gsl_rng *r, int n) {
  qb_gauss_net net;
  random_net(r, n, 1, &net);
  static qb_gauss_plan pl;
  qb_gauss_plan_make(&net, &pl);
  const int m = 2 * n;
  double complex M[NMAX * NMAX], N[NMAX * NMAX], T[NMAX * NMAX], al[NMAX];
  double S[MMAX * MMAX], dS[MMAX * MMAX], rr[MMAX];
  complex_parts(&net, M, N, T);
  for (int p = 0; p < m; p++)
    for (int q = 0; q <= p; q++)
      S[p * m + q] = S[q * m + p] = creal(cgauss(r));
  for (int j = 0; j < n; j++)
    al[j] = cgauss(r), rr[j] = creal(al[j]), rr[n + j] = cimag(al[j]);
  for (int p = 0; p < m; p++) /* dS = A S + S A^T + D' */
    for (int q = 0; q < m; q++) {
      double s = pl.Dp[p * m + q];
      for (int k = 0; k < m; k++)
        s += pl.A[p * m + k] * S[k * m + q] + S[p * m + k] * pl.A[q * m + k];
      dS[p * m + q] = s;
    }
  double complex C[NMAX * NMAX], Q[NMAX * NMAX], dC[NMAX * NMAX], dQ[NMAX * NMAX];
  sigma_to_cq(n, S, C, Q);
  sigma_to_cq(n, dS, dC, dQ);
  double worst = 0, big = 1;
  for (int j = 0; j < n; j++) {
    double complex da = -I * net.F[j];
    double dr = pl.b[j], di = pl.b[n + j];
    for (int k = 0; k < m; k++)
      dr += pl.A[j * m + k] * rr[k], di += pl.A[(n + j) * m + k] * rr[k];
    for (int l = 0; l < n; l++) {
      da += M[j * n + l] * al[l] + N[j * n + l] * conj(al[l]);
      double complex eC = T[j * n + l], eQ = N[j * n + l];
      for (int k = 0; k < n; k++) {
        eC += conj(M[j * n + k]) * C[k * n + l] + C[j * n + k] * M[l * n + k] +
              conj(N[j * n + k]) * Q[k * n + l] + conj(Q[j * n + k]) * N[l * n + k];
        eQ += M[j * n + k] * Q[k * n + l] + Q[j * n + k] * M[l * n + k] +
              N[j * n + k] * C[k * n + l] + N[l * n + k] * C[k * n + j];
      }
      big = fmax(big, fmax(cabs(eC), cabs(eQ)));
      worst = fmax(worst, fmax(cabs(dC[j * n + l] - eC), cabs(dQ[j * n + l] - eQ)));
    }
    big = fmax(big, cabs(da));
    worst = fmax(worst, cabs(CMPLX(dr, di) - da));
  }
  CHECK_CLOSE("convention: real form vs complex equations", worst / big, 0, 0, 1e-13, "n %d", n);
}

static void test_convention(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 11);
  for (int k = 0; k < 400; k++)
    convention_one(r, 1 + k % NMAX);
  gsl_rng_free(r);
}

/* ---- random: fast path vs reference ---- */

static long n_points, n_fallback, n_overflow, n_cmp[4], n_viol[4];
static double worst_rel[4], worst_viol[4];

static void compare_point(const qb_gauss_net *net, const qb_gauss_plan *pl, double t,
                          const char *what) {
  qb_gauss_moments x, ref;
  qb_gauss_at(pl, t, &x);
  qb_gauss_reference(net, t, &ref);
  n_points++;
  if (x.flags & QB_GAUSS_FALLBACK) n_fallback++;
  if ((x.flags | ref.flags) & (QB_GAUSS_OVERFLOW | QB_GAUSS_FAILED)) {
    n_overflow++;
    return;
  }
  groups gr, gx;
  group_scales(net->n, &ref, &gr);
  group_scales(net->n, &x, &gx);
  double dev[4];
  deviations(net->n, &x, &ref, dev);
  for (int q = 0; q < 4; q++) {
    /* the estimates: violations counted (first order, not strict bounds) */
    if (dev[q] > gx.err[q] + gr.err[q]) {
      n_viol[q]++;
      worst_viol[q] = fmax(worst_viol[q], dev[q] / (gx.err[q] + gr.err[q]));
    }
    /* compared where the reference resolves the group, above the subnormal range */
    if (gr.err[q] > 1e-11 * gr.scale[q] || gr.scale[q] < DBL_MIN / DBL_EPSILON) continue;
    n_cmp[q]++;
    worst_rel[q] = fmax(worst_rel[q], dev[q] / gr.scale[q]);
    CHECK_CLOSE(what, dev[q] / gr.scale[q], 0, 0, 1e-10, "%s n %d t %.3g flags %u", gname[q],
                net->n, t, x.flags);
  }
}

static void print_random(const char *tag) {
  printf("%s: %ld points, %ld fallback (%.2f%%), %ld overflow/skipped\n", tag, n_points, n_fallback,
         100.0 * (double)n_fallback / (double)n_points, n_overflow);
  for (int q = 0; q < 4; q++)
    printf("  %-6s compared %ld, worst dev/scale %.2e; estimate exceeded %ld (worst x%.2g)\n",
           gname[q], n_cmp[q], worst_rel[q], n_viol[q], worst_viol[q]);
  memset(n_cmp, 0, sizeof n_cmp), memset(n_viol, 0, sizeof n_viol);
  memset(worst_rel, 0, sizeof worst_rel), memset(worst_viol, 0, sizeof worst_viol);
  n_points = n_fallback = n_overflow = 0;
}

static void test_random(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 2024);
  static qb_gauss_plan pl;
  for (int k = 0; k < 2000; k++) {
    qb_gauss_net net;
    random_net(r, 1 + k % 4, 2, &net);
    qb_gauss_plan_make(&net, &pl);
    for (int i = 0; i < 8; i++)
      compare_point(&net, &pl, lu(r, 1e-8, 1e3), "random: fast vs reference");
  }
  print_random("random");
  gsl_rng_free(r);
}

/* ---- the lean way for rows (qb_gauss_lean_many, qb_gauss_at_with) ---- */

static bool same_bits(const void *a, const void *b, size_t size) {
  return memcmp(a, b, size) == 0;
}

/* At a block of times: qb_gauss_at_with with lean_many's values and deriv false gives the bits of
 * qb_gauss_at in alpha, C, Q and their estimates (and deriv true in every moment); where
 * qb_gauss_lean_resolved, alpha is lean_many's value, C = Q = 0 without noise. */
static void lean_block(const qb_gauss_plan *pl, const double *ts, int nt, long *resolved) {
  double complex lx[64 * NMAX];
  double lex[64 * NMAX];
  const bool lean = qb_gauss_lean_many(pl, ts, nt, lx, lex);
  const int n = pl->n;
  for (int i = 0; i < nt; i++) {
    qb_gauss_moments ref, a, b;
    qb_gauss_at(pl, ts[i], &ref);
    qb_gauss_at_with(pl, ts[i], false, lean ? lx + i * n : NULL, lean ? lex + i * n : NULL, &a);
    qb_gauss_at_with(pl, ts[i], true, lean ? lx + i * n : NULL, lean ? lex + i * n : NULL, &b);
    const size_t nc = (size_t)n * sizeof(double complex), nr = (size_t)n * sizeof(double);
    const unsigned fb = QB_GAUSS_FALLBACK; /* (deriv true may fall back for dC alone) */
    CHECK("deriv false: alpha, C, Q, their estimates and flags bitwise those of qb_gauss_at",
          same_bits(a.alpha, ref.alpha, nc) && same_bits(a.C, ref.C, nr) &&
              same_bits(a.Q, ref.Q, nc) && same_bits(a.err_alpha, ref.err_alpha, nr) &&
              same_bits(a.err_C, ref.err_C, nr) && (a.flags & ~fb) == (ref.flags & ~fb),
          "n %d t %g", n, ts[i]);
    CHECK("deriv true with lean values: every moment bitwise qb_gauss_at's",
          same_bits(b.alpha, ref.alpha, nc) && same_bits(b.dalpha, ref.dalpha, nc) &&
              same_bits(b.C, ref.C, nr) && same_bits(b.dC, ref.dC, nr) &&
              same_bits(b.err_dalpha, ref.err_dalpha, nr) && b.flags == ref.flags,
          "n %d t %g", n, ts[i]);
    if (!lean || !qb_gauss_lean_resolved(pl, ts[i], lx + i * n, lex + i * n)) continue;
    ++*resolved;
    bool zero = true;
    for (int j = 0; j < n; j++)
      zero &= pl->noise || (ref.C[j] == 0 && ref.Q[j] == 0);
    CHECK("lean_resolved: alpha = lean_many's value, C = Q = 0 without noise",
          same_bits(ref.alpha, lx + i * n, nc) && zero, "n %d t %g", n, ts[i]);
  }
}

/* Random unsqueezed networks (n = 1..8; noise in two thirds of those with n <= 4), rows of 1..150
 * times (0, tiny, log-uniform up to 1e3, some far beyond every mode's decay). */
static void test_lean(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 77);
  static qb_gauss_plan pl;
  long rows = 0, resolved = 0, points = 0;
  for (int k = 0; k < 600; k++) {
    qb_gauss_net net;
    random_net(r, 1 + k % 8, 0, &net);
    if (k % 3 == 0 || net.n > 4) /* (noise with n > 4: the reference's exponentials are slow) */
      for (int d = 0; d < net.nd; d++)
        net.nth[d] = 0;
    qb_gauss_plan_make(&net, &pl);
    double ts[150];
    const int nt = 1 + (int)gsl_rng_uniform_int(r, 150);
    for (int i = 0; i < nt; i++)
      ts[i] = i == 0 ? 0.0 : i % 17 == 0 ? lu(r, 1e3, 1e6) : lu(r, 1e-9, 1e3);
    for (int i0 = 0; i0 < nt; i0 += 64)
      lean_block(&pl, ts + i0, nt - i0 < 64 ? nt - i0 : 64, &resolved);
    rows += pl.lean, points += nt;
  }
  printf("lean: %ld points, %ld of 600 plans lean, %ld points resolved by the lean way alone\n",
         points, rows, resolved);
  CHECK("the lean way was taken often", rows > 200 && resolved > 2000, "%ld plans, %ld points",
        rows, resolved);
  gsl_rng_free(r);
}

/* ---- closed forms ---- */

static void closed_single(double D, double kap, double nth, double complex F) {
  qb_gauss_net net;
  memset(&net, 0, sizeof net);
  net.n = 1, net.nd = 1, net.h[0] = D, net.F[0] = F, net.rate[0] = kap, net.nth[0] = nth;
  net.c[0] = 1;
  static qb_gauss_plan pl;
  qb_gauss_plan_make(&net, &pl);
  const double complex M = -I * D - 0.5 * kap;
  for (int k = 0; k < 40; k++) {
    const double t = pow(10.0, -8 + 11.0 * k / 39);
    qb_gauss_moments m;
    qb_gauss_at(&pl, t, &m);
    const double complex z = M * t;
    const double complex em1 = cabs(z) < 1e-4 ? z * (1 + z / 2 * (1 + z / 3)) : cexp(z) - 1;
    const double complex a = -I * F * em1 / M;
    const double E = nth * -expm1(-kap * t) + creal(a) * creal(a) + cimag(a) * cimag(a);
    /* the mean is taken where its estimate is within QB_GAUSS_AMP_TOL of itself (twice that
     * in |alpha|^2), plus the exponents' rounding: 8 eps |lambda| t (the phases) */
    const double tol = 2 * QB_GAUSS_AMP_TOL + 8 * DBL_EPSILON * cabs(M) * t;
    CHECK_CLOSE("closed: single-mode E(t)", qb_gauss_energy(&m, 0), E, tol, 0, "t %g", t);
    CHECK_CLOSE("closed: single-mode C(t)", m.C[0], nth * -expm1(-kap * t), tol, 0, "t %g", t);
  }
}

static void closed_threshold(gsl_rng *r) {
  const double ka = lu(r, 0.1, 10), kb = lu(r, 0.1, 10), Da = gsl_rng_uniform(r) - 0.5,
               Db = gsl_rng_uniform(r) - 0.5;
  const double rs =
      0.5 * sqrt(ka * kb) * sqrt(1 + 4 * (Da + Db) * (Da + Db) / ((ka + kb) * (ka + kb)));
  qb_gauss_net net;
  memset(&net, 0, sizeof net);
  net.n = 2, net.nd = 2, net.h[0] = Da, net.h[3] = Db, net.rate[0] = ka, net.rate[1] = kb;
  net.c[0] = 1, net.c[NMAX + 1] = 1;
  static qb_gauss_plan pl;
  double lo = rs * 0.5, hi = rs * 2;
  for (int it = 0; it < 200 && hi - lo > 1e-15 * rs; it++) {
    const double mid = 0.5 * (lo + hi);
    net.S[1] = net.S[2] = mid;
    qb_gauss_plan_make(&net, &pl);
    if (pl.growth > 0)
      hi = mid;
    else
      lo = mid;
  }
  CHECK_CLOSE("closed: squeezing threshold (growth root)", 0.5 * (lo + hi), rs, 1e-10, 0,
              "ka %g kb %g Da %g Db %g", ka, kb, Da, Db);
  net.S[1] = net.S[2] = rs * (1 - 1e-9);
  qb_gauss_plan_make(&net, &pl);
  CHECK("closed: below threshold decays", pl.growth < 0 && pl.stable, "r* %g", rs);
  net.S[1] = net.S[2] = rs * (1 + 1e-9);
  qb_gauss_plan_make(&net, &pl);
  CHECK("closed: above threshold grows", pl.growth > 0 && !pl.stable, "r* %g", rs);
}

/* W = E bitwise and C = Q = 0 exactly at zero temperature without squeezing, both paths */
static void closed_zero_temperature(gsl_rng *r) {
  static qb_gauss_plan pl;
  long fb = 0;
  for (int k = 0; k < 300; k++) {
    qb_gauss_net net;
    random_net(r, 1 + k % 4, 0, &net);
    for (int d = 0; d < net.nd; d++)
      net.nth[d] = 0;
    qb_gauss_plan_make(&net, &pl);
    for (int i = 0; i < 5; i++) {
      const double t = lu(r, 1e-8, 1e3);
      qb_gauss_moments m;
      qb_gauss_at(&pl, t, &m);
      if (m.flags & QB_GAUSS_FALLBACK) fb++;
      if (m.flags & QB_GAUSS_OVERFLOW) continue;
      for (int j = 0; j < net.n; j++) {
        const double E = qb_gauss_energy(&m, j), W = qb_gauss_ergotropy(&m, j);
        CHECK("closed: W == E bitwise, C = Q = nbar = 0 exactly",
              memcmp(&E, &W, sizeof E) == 0 && m.C[j] == 0 && m.Q[j] == 0 && m.dC[j] == 0 &&
                  qb_gauss_nbar(&m, j) == 0,
              "n %d t %g j %d E %.17g W %.17g C %g", net.n, t, j, E, W, m.C[j]);
      }
    }
  }
  printf("closed: zero temperature: %ld fallback points among 1500\n", fb);
}

static void test_closed(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 5);
  closed_single(0.7, 0.3, 0.4, CMPLX(0.5, -0.2));
  closed_single(0, 2.0, 1.5, 1.0);
  closed_single(-3, 1e-3, 0.1, CMPLX(0, 2));
  for (int k = 0; k < 50; k++)
    closed_threshold(r);
  closed_zero_temperature(r);
  gsl_rng_free(r);
}

/* ---- steady state vs the transient at a long time ---- */

static void test_steady(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 17);
  static qb_gauss_plan pl;
  long nst = 0;
  double worst[4] = {0};
  for (int k = 0; k < 2000; k++) {
    qb_gauss_net net;
    random_net(r, 1 + k % 4, 2, &net);
    qb_gauss_plan_make(&net, &pl);
    qb_gauss_moments ss, tr;
    qb_gauss_steady(&pl, &ss);
    if (!pl.stable) {
      CHECK("steady: NaN where not stable", (ss.flags & QB_GAUSS_NOT_STABLE) && isnan(ss.C[0]),
            "k %d", k);
      continue;
    }
    const double t = 60 / -pl.growth;
    if (t > 1e7) continue; /* barely stable: the transient reference is slow */
    nst++;
    qb_gauss_at(&pl, t, &tr);
    groups g;
    group_scales(net.n, &tr, &g);
    double dev[4];
    deviations(net.n, &ss, &tr, dev);
    for (int q = 0; q < 3; q += 2) { /* alpha and (C, Q): the derivatives are e^{-60} small */
      if (g.scale[q] == 0) continue;
      worst[q] = fmax(worst[q], dev[q] / g.scale[q]);
      CHECK_CLOSE("steady: Lyapunov vs transient at 60/|growth|", dev[q] / g.scale[q], 0, 0, 1e-9,
                  "%s n %d growth %g", gname[q], net.n, pl.growth);
    }
  }
  printf("steady: %ld stable networks, worst dev/scale alpha %.2e, C/Q %.2e\n", nst, worst[0],
         worst[2]);
  gsl_rng_free(r);
}

/* ---- passive networks never grow ---- */

static void test_passive(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 3);
  static qb_gauss_plan pl;
  double worst = -INFINITY;
  long bad = 0;
  for (int k = 0; k < 100000; k++) {
    qb_gauss_net net;
    random_net(r, 1 + k % 4, 0, &net);
    if (k % 3 == 0) /* some lossless modes: dissipators that miss them */
      for (int d = 0; d < net.nd; d++)
        net.c[d * NMAX + 0] = 0;
    qb_gauss_plan_make(&net, &pl);
    const double rel = pl.growth / pl.scale;
    worst = fmax(worst, rel);
    if (!(rel <= 1e-12)) bad++;
  }
  CHECK("passive: growth <= 1e-12 scale (1e5 networks)", bad == 0, "%ld bad, worst %g", bad, worst);
  printf("passive: worst growth/scale %.3g\n", worst);
  gsl_rng_free(r);
}

/* ---- exceptional points: a lossy mode coupled to a lossless one ---- */

static void test_ep(void) {
  static qb_gauss_plan pl;
  const double gam = 1.0, dels[6] = {0, 1e-13, 1e-10, 1e-7, 1e-4, 1e-1};
  for (int q = 0; q < 6; q++)
    for (int sq = 0; sq < 2; sq++) {
      qb_gauss_net net;
      memset(&net, 0, sizeof net);
      net.n = 2, net.nd = 2;
      net.h[1] = net.h[2] = gam / 4 * (1 + dels[q]); /* EP of M at g = gamma/4 */
      net.F[0] = 0.3, net.F[1] = CMPLX(0, 0.2);
      net.rate[0] = gam, net.nth[0] = 0.3, net.c[0] = 1;
      net.rate[1] = 0, net.c[NMAX + 1] = 1; /* an idle dissipator: mode 1 lossless */
      if (sq) net.S[0] = 0.02, net.S[3] = CMPLX(0, 0.01);
      qb_gauss_plan_make(&net, &pl);
      long fb = 0;
      for (int k = 0; k < 25; k++) {
        const double t = pow(10.0, -6 + 9.0 * k / 24);
        qb_gauss_moments x;
        qb_gauss_at(&pl, t, &x);
        if (x.flags & QB_GAUSS_FALLBACK) fb++;
        compare_point(&net, &pl, t, "ep: vs reference");
      }
      if (dels[q] == 0 && !sq) /* (squeezing moves the EP away) */
        CHECK("ep: at the EP the fast path is not used", !pl.ready || fb == 25,
              "kappa %g fallback %ld", pl.kappa, fb);
      printf("ep: delta %g squeeze %d kappa %.3g: %ld of 25 t fell back\n", dels[q], sq, pl.kappa,
             fb);
    }
  print_random("ep");
}

/* ---- QuTiP: the conventions end to end (numbers from tests/gauss_qutip.py, mesolve, 16 Fock
 * levels per mode: truncation ~1e-9, docs/physics.md 5) ---- */

static const double qutip_ref[4][7] = {
    /* t, j, Re alpha, Im alpha, C, Re Q, Im Q */
    {1.0, 0, -1.108533527620e-02, -8.965711718145e-02, 8.733319982592e-02, -5.955758598463e-03,
     -3.181997737001e-02},
    {1.0, 1, 4.002687727096e-02, 6.496524184688e-03, 1.916523579764e-02, -1.801355423176e-03,
     1.146950330384e-02},
    {4.0, 0, -8.953049524703e-02, -2.263495519039e-01, 1.763510017036e-01, -3.714378113528e-02,
     -2.031630712265e-02},
    {4.0, 1, 9.680206423964e-02, 7.397765410050e-02, 6.268456200475e-02, -1.244552833886e-02,
     6.532550985139e-02},
};

static void test_qutip(void) {
  qb_gauss_net net;
  memset(&net, 0, sizeof net);
  net.n = 2, net.nd = 3;
  net.h[0] = 0.3, net.h[1] = 0.2 * cexp(0.4 * I), net.h[2] = 0.2 * cexp(-0.4 * I), net.h[3] = -0.1;
  net.S[0] = 0.05 * cexp(0.3 * I), net.S[1] = net.S[2] = 0.08 * cexp(-0.7 * I);
  net.F[0] = 0.1, net.F[1] = 0.05 * I;
  const double rate[3] = {0.5, 0.3, 0.4}, nth[3] = {0.2, 0.1, 0};
  const double complex c[3][2] = {{1, 0}, {0.6, 0.8 * cexp(0.5 * I)}, {0, 1}};
  for (int k = 0; k < 3; k++) {
    net.rate[k] = rate[k], net.nth[k] = nth[k];
    net.c[k * NMAX] = c[k][0], net.c[k * NMAX + 1] = c[k][1];
  }
  static qb_gauss_plan pl;
  qb_gauss_plan_make(&net, &pl);
  for (int i = 0; i < 4; i++) {
    const double *q = qutip_ref[i];
    const int j = (int)q[1];
    qb_gauss_moments m;
    qb_gauss_at(&pl, q[0], &m);
    const double got[5] = {creal(m.alpha[j]), cimag(m.alpha[j]), m.C[j], creal(m.Q[j]),
                           cimag(m.Q[j])};
    for (int k = 0; k < 5; k++)
      CHECK_CLOSE("qutip: alpha, C, Q vs mesolve", got[k], q[2 + k], 0, 1e-7, "t %g j %d k %d",
                  q[0], j, k);
  }
}

/* ---- no heap allocation ---- */

static void test_alloc(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 7);
  static qb_gauss_plan pl;
  qb_gauss_moments m;
#if QB_COUNT_ALLOC
  long total = 0, fast = 0;
  for (int n = 1; n <= NMAX; n++) {
    qb_gauss_net net;
    random_net(r, n, 1, &net);
    nalloc = 0;
    counting = 1;
    qb_gauss_plan_make(&net, &pl);
    qb_gauss_steady(&pl, &m);
    counting = 0;
    CHECK("alloc: none in plan_make and steady", nalloc == 0, "n %d: %ld", n, nalloc);
    for (int k = 0; k < 12; k++) {
      nalloc = 0;
      counting = 1;
      qb_gauss_at(&pl, pow(10.0, k - 6), &m);
      counting = 0;
      if (m.flags & QB_GAUSS_FALLBACK) {
        total += nalloc;
        continue;
      }
      fast++;
      CHECK("alloc: none on the fast path", nalloc == 0, "n %d: %ld", n, nalloc);
    }
  }
  CHECK("alloc: the counter counts (the fallback allocates)", total > 0, "%ld", total);
  printf("alloc: %ld fast-path calls without allocation; %ld allocations in the fallbacks\n", fast,
         total);
#else
  qb_gauss_net net;
  random_net(r, 3, 1, &net);
  qb_gauss_plan_make(&net, &pl);
  qb_gauss_at(&pl, 1.0, &m);
  CHECK("alloc: (not counted under AddressSanitizer) the plan works", pl.ok, "n 3");
#endif
  gsl_rng_free(r);
}

/* ---- timing (printed) ---- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_timing(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 99);
  static qb_gauss_plan pl;
  const int ns[4] = {1, 2, 3, 4};
  for (int q = 0; q < 4; q++) {
    qb_gauss_net net;
    random_net(r, ns[q], 1, &net);
    for (int d = 0; d < net.nd; d++)
      net.rate[d] = 1, net.nth[d] = 0.5; /* well damped: the fast path at every t below */
    double best_at = INFINITY, best_plan = INFINITY, best_ref = INFINITY, sink = 0;
    long fb = 0;
    for (int rep = 0; rep < 3; rep++) {
      double t0 = now();
      for (int k = 0; k < 50; k++)
        qb_gauss_plan_make(&net, &pl), sink += pl.growth;
      best_plan = fmin(best_plan, (now() - t0) / 50 * 1e9);
      qb_gauss_moments m;
      t0 = now();
      for (int k = 0; k < 2000; k++) {
        qb_gauss_at(&pl, 1e-3 * (k + 1), &m);
        sink += m.C[0];
        fb += m.flags & QB_GAUSS_FALLBACK;
      }
      best_at = fmin(best_at, (now() - t0) / 2000 * 1e9);
      t0 = now();
      for (int k = 0; k < 3; k++)
        qb_gauss_reference(&net, 1e-3 * (k + 1), &m), sink += m.C[0];
      best_ref = fmin(best_ref, (now() - t0) / 3 * 1e9);
    }
    printf("timing n=%d: plan %.0f ns, at %.0f ns (%ld of 6000 fell back), reference %.0f ns\n",
           ns[q], best_plan, best_at, fb, best_ref);
    CHECK("timing: finite", isfinite(sink) && isfinite(best_at), "n %d", ns[q]);
  }
  gsl_rng_free(r);
}

int main(int argc, char **argv) {
  qb_test_select(argc, argv);
  QB_PART("convention", test_convention());
  QB_PART("random", test_random());
  QB_PART("lean", test_lean());
  QB_PART("closed", test_closed());
  QB_PART("steady", test_steady());
  QB_PART("passive", test_passive());
  QB_PART("ep", test_ep());
  QB_PART("qutip", test_qutip());
  QB_PART("alloc", test_alloc());
  QB_PART("timing", test_timing());
  return qb_test_report(qb_test_name);
}
