/* Model `ep` kernel against independent computations:
 *   transient  E_A, E_B, P_B vs the augmented matrix exponential (GSL scaling and squaring on
 *              the real form) and vs GSL rk8pd ODE integration;
 *   spectrum   eigenvalues vs gsl_eigen_nonsymmv on the real 4x4 form; growth sign vs the
 *              closed-form boundary; steady states vs a direct complex LU solve;
 *   tcrit      t_crit vs bisection on the ODE solution, "never reached" vs a long ODE run;
 *   logeb      log_E_B vs ln E_B and vs the dominant-term asymptote where E_B overflows;
 *   larget     stable points at t = 1e2..1e4: E_A, E_B, P_B vs expm, and E_B -> E_B_ss;
 *   dense      dense grids through the EPs and the marginal lines: no NaN/Inf in defined
 *              fields, continuity.
 * Usage: test_ep_kernel [transient|spectrum|tcrit|logeb|larget|dense|all] */
#include <complex.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"

static const qb_model *M;

static int F(const char *name) {
  return qb_test_index(qb_model_field_index(M, name), "field of model ep", name);
}

static int P(const char *name) {
  return qb_test_index(qb_model_param_index(M, name), "parameter of model ep", name);
}

/* The mask of ep's status bit `word` (as in the file's flag_meanings). */
static uint32_t BIT(const char *word) {
  uint32_t b = qb_model_status_bit(M, word);
  if (!b) QB_SETUP_FATAL("model ep declares no status bit '%s'", word);
  return b;
}

typedef struct {
  double ga, gb, dr, Er, Emax, t;
} pt;

static void eval_pt(const pt *q, double *out) {
  double p[QB_MAX_PARAMS];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(M, p, given);
  p[P("gamma_a")] = q->ga;
  p[P("gamma_b")] = q->gb;
  p[P("delta_r")] = q->dr;
  p[P("E_r")] = q->Er;
  p[P("E_max")] = q->Emax;
  p[P("t")] = q->t;
  qb_model_eval(M, p, NULL, out);
  uint32_t undeclared = (uint32_t)out[M->nfields - 1] & ~qb_model_status_mask(M);
  CHECK("status bits declared by the model", undeclared == 0, "bits %#x", undeclared);
}

static void drift(const pt *q, double complex *Mx, double complex *f) {
  Mx[0] = CMPLX(-q->ga, -q->dr);
  Mx[1] = 1;
  Mx[2] = 1;
  Mx[3] = CMPLX(-q->gb, q->dr);
  f[0] = q->Er;
  f[1] = 0;
}

/* ---- GSL ODE reference: y = (Re a, Im a, Re b, Im b) ------------------------------------- */
static int rhs(double t, const double y[], double dy[], void *params) {
  (void)t;
  const pt *q = params;
  double complex a = CMPLX(y[0], y[1]), b = CMPLX(y[2], y[3]);
  double complex da = CMPLX(-q->ga, -q->dr) * a + b + q->Er;
  double complex db = a + CMPLX(-q->gb, q->dr) * b;
  dy[0] = creal(da);
  dy[1] = cimag(da);
  dy[2] = creal(db);
  dy[3] = cimag(db);
  return GSL_SUCCESS;
}

typedef struct {
  gsl_odeiv2_system sys;
  gsl_odeiv2_driver *d;
  double t, y[4];
} ode;

static void ode_init(ode *o, pt *q) {
  o->sys = (gsl_odeiv2_system){rhs, NULL, 4, q};
  o->d = gsl_odeiv2_driver_alloc_y_new(&o->sys, gsl_odeiv2_step_rk8pd, 1e-6, 1e-14, 1e-14);
  QB_SETUP_ALLOC(o->d);
  o->t = 0;
  memset(o->y, 0, sizeof o->y);
}

static int ode_to(ode *o, double t) {
  int rc = gsl_odeiv2_driver_apply(o->d, &o->t, t, o->y);
  return rc;
}

static double ode_eb(const ode *o) {
  return o->y[2] * o->y[2] + o->y[3] * o->y[3];
}

/* ---- random points, with the special sets mixed in --------------------------------------- */
static pt random_pt(gsl_rng *r, int k) {
  pt q = {.Er = 1, .Emax = 1000};
  q.gb = -0.5 + 2.5 * gsl_rng_uniform(r);
  double alpha = -1 + 2 * gsl_rng_uniform(r);
  q.dr = -3 + 6 * gsl_rng_uniform(r);
  switch (k % 5) {
  case 1: /* EP: alpha = 0, delta_r = +-1 */
    alpha = 0;
    q.dr = gsl_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
    break;
  case 2: { /* marginal: on the growth boundary delta_r^2 = s^2 (1 - ga gb)/(ga gb) */
    q.gb = 0.2 + 1.5 * gsl_rng_uniform(r);
    double ga = 0.05 + (1.0 / q.gb - 0.05) * gsl_rng_uniform(r); /* ga gb < 1 */
    alpha = 0.5 * (ga - q.gb);
    double s = 0.5 * (ga + q.gb);
    q.dr = (gsl_rng_uniform(r) < 0.5 ? -1 : 1) * s * sqrt((1 - ga * q.gb) / (ga * q.gb));
    break;
  }
  case 3: /* Pi = 0: delta_r = 0, ga gb = 1 (b grows linearly) */
    q.gb = 0.3 + 2 * gsl_rng_uniform(r);
    alpha = 0.5 * (1.0 / q.gb - q.gb);
    q.dr = 0;
    break;
  default:
    break;
  }
  q.ga = q.gb + 2 * alpha;
  q.Er = 0.5 + 1.5 * gsl_rng_uniform(r);
  q.t = exp(log(1e-8) + (log(40.0) - log(1e-8)) * gsl_rng_uniform(r));
  return q;
}

/* E_A, E_B, P_B: rtol 1e-10 vs expm (observed agreement: 1e-11), 1e-8 vs the ODE (rk8pd at 1e-14);
 * both references are double precision (GSL claims ~1e-13 relative for these sizes). */
static void test_transient(gsl_rng *r) {
  const double rtol = 1e-10;
  int compared = 0, with_ode = 0;
  for (int k = 0; k < 600; k++) {
    pt q = random_pt(r, k);
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    CHECK("growth_rate finite", isfinite(out[F("growth_rate")]), "k=%d", k);
    if (out[F("growth_rate")] * q.t > 30) continue; /* keep references in range */
    compared++;
    double complex Mx[4], f[2], x[2], dx[2];
    drift(&q, Mx, f);
    if (qb_linear_expm_aug(2, Mx, f, q.t, x, dx)) {
      CHECK("expm reference", 0, "k=%d", k);
      continue;
    }
    double ea = creal(x[0] * conj(x[0])), eb = creal(x[1] * conj(x[1]));
    double pb = 2 * creal(conj(x[1]) * dx[1]);
    /* E_B > 0 for t > 0: relative only; E_A and P_B may pass through 0: absolute floor at
     * 1e-12 of the quantity's natural scale (E_A + E_B, resp. 2|b||b'|) */
    const char *fmt = "k=%d ga=%.17g gb=%.17g dr=%.17g Er=%.17g t=%.17g";
    CHECK_CLOSE("E_B vs expm", out[F("E_B")], eb, rtol, 0, fmt, k, q.ga, q.gb, q.dr, q.Er, q.t);
    /* a well-conditioned ordinary point (not one built on the stability boundary, k % 5 == 2,
     * where t_crit may be undetermined): whatever bits are set (not_stable, tcrit_never,
     * approx_outside ...) are informational */
    CHECK("ordinary point: informational bits only",
          k % 5 == 2 || !((uint32_t)out[F("status")] & qb_model_failure_mask(M)), "status %g; k=%d",
          out[F("status")], k);
    CHECK_CLOSE("E_A vs expm", out[F("E_A")], ea, rtol, 1e-12 * (ea + eb), fmt, k, q.ga, q.gb, q.dr,
                q.Er, q.t);
    CHECK_CLOSE("P_B vs expm", out[F("P_B")], pb, rtol, 2e-12 * cabs(x[1]) * cabs(dx[1]), fmt, k,
                q.ga, q.gb, q.dr, q.Er, q.t);
    if (q.t > 1e-3) {
      ode o;
      ode_init(&o, &q);
      int rc = ode_to(&o, q.t);
      gsl_odeiv2_driver_free(o.d);
      CHECK("ODE integration", rc == GSL_SUCCESS, "k=%d", k);
      CHECK_CLOSE("E_B vs ODE", out[F("E_B")], ode_eb(&o), 1e-8, 0, fmt, k, q.ga, q.gb, q.dr, q.Er,
                  q.t);
      with_ode++;
    }
  }
  printf("transient: %d points compared with expm, %d also with the ODE\n", compared, with_ode);
  CHECK("enough transient comparisons", compared >= 550 && with_ode >= 250, "expm %d, ODE %d",
        compared, with_ode);
}

/* Eigenvalues: 1e-10 (1 + |lambda|) away from EPs, 1e-6 within |Omega| < 1e-3 (an EP makes the
 * eigenvalues of any solver accurate to sqrt(eps) only).  Steady states: rtol 1e-10. */
static void test_spectrum(gsl_rng *r) {
  for (int k = 0; k < 600; k++) {
    pt q = random_pt(r, k);
    q.t = 0;
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    double complex Mx[4], f[2], mu[2];
    drift(&q, Mx, f);
    CHECK("GSL eigensolver", qb_linear_eig(2, Mx, mu, NULL) == QB_OK, "k=%d", k);
    /* lambda = i mu (H_r = i M); lambda_+ has the larger imaginary part */
    double complex lp = CMPLX(out[F("lambda_plus_re")], out[F("lambda_plus_im")]);
    double complex lm = CMPLX(out[F("lambda_minus_re")], out[F("lambda_minus_im")]);
    double complex rp = I * mu[0], rm = I * mu[1];
    CHECK("growth_rate finite", isfinite(out[F("growth_rate")]), "k=%d", k);
    double tol = out[F("splitting")] < 2e-3 ? 1e-6 : 1e-10;
    const char *fmt = "k=%d ga=%.17g gb=%.17g dr=%.17g";
    CHECK_CLOSE("Re lambda_+", creal(lp), creal(rp), 0, tol * (1 + cabs(rp)), fmt, k, q.ga, q.gb,
                q.dr);
    CHECK_CLOSE("Im lambda_+", cimag(lp), cimag(rp), 0, tol * (1 + cabs(rp)), fmt, k, q.ga, q.gb,
                q.dr);
    CHECK_CLOSE("Re lambda_-", creal(lm), creal(rm), 0, tol * (1 + cabs(rm)), fmt, k, q.ga, q.gb,
                q.dr);
    CHECK_CLOSE("Im lambda_-", cimag(lm), cimag(rm), 0, tol * (1 + cabs(rm)), fmt, k, q.ga, q.gb,
                q.dr);
    CHECK_CLOSE("splitting", out[F("splitting")], cabs(rp - rm), 0, 2 * tol * (1 + cabs(rp)), fmt,
                k, q.ga, q.gb, q.dr);
    /* growth sign vs the closed form: growing <=> ga gb (dr^2 + s^2) < s^2 */
    double g = out[F("growth_rate")], s = 0.5 * (q.ga + q.gb);
    if (fabs(g) > 1e-9) {
      bool grow_closed = q.ga * q.gb * (q.dr * q.dr + s * s) < s * s && s > 0;
      if (s <= 0) grow_closed = true; /* s <= 0: Re w >= 0 >= s, growth >= 0 */
      CHECK("growth sign vs closed-form boundary", (g > 0) == grow_closed, fmt, k, q.ga, q.gb,
            q.dr);
      int regime = (int)out[F("regime")] & 3;
      CHECK("regime code", regime == (g > 0 ? 2 : 0), fmt, k, q.ga, q.gb, q.dr);
    }
    /* steady state vs LU solve of M x = -f */
    if (g < -1e-9) {
      double complex mf[2] = {-f[0], -f[1]}, xs[2];
      CHECK("LU solve", qb_linear_solve(2, Mx, mf, xs) == QB_OK, "k=%d", k);
      CHECK_CLOSE("E_B_ss vs LU", out[F("E_B_ss")], creal(xs[1] * conj(xs[1])), 1e-10, 0, fmt, k,
                  q.ga, q.gb, q.dr);
      CHECK_CLOSE("E_A_ss vs LU", out[F("E_A_ss")], creal(xs[0] * conj(xs[0])), 1e-10, 0, fmt, k,
                  q.ga, q.gb, q.dr);
    } else if (g > 1e-9) {
      CHECK("E_B_ss NaN unless stable", isnan(out[F("E_B_ss")]), fmt, k, q.ga, q.gb, q.dr);
      CHECK("status NOT_STABLE", ((int)out[F("status")] & QB_PT_NOT_STABLE) != 0, fmt, k, q.ga,
            q.gb, q.dr);
    }
    /* realizable */
    bool real = q.ga >= 0 && q.gb >= 0 && q.ga * q.gb >= 1;
    CHECK("realizable", (out[F("realizable")] == 1) == real, fmt, k, q.ga, q.gb, q.dr);
    if (real && fabs(g) > 1e-9) CHECK("realizable never grows", g < 0, fmt, k, q.ga, q.gb, q.dr);
  }
  /* EP in every gamma_b: splitting 0, EP flag set; Fig. 3 closed forms of the boundary */
  for (double gb = 0.25; gb <= 2.0; gb += 0.25) {
    pt q = {.ga = gb, .gb = gb, .dr = 1.0, .Er = 1, .Emax = 1000, .t = 0};
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    CHECK_CLOSE("splitting at EP", out[F("splitting")], 0, 0, 0, "gb=%g", gb);
    CHECK("EP flag", ((int)out[F("regime")] & 4) != 0, "gb=%g", gb);
    double ac = (1 - gb * gb) / (2 * gb); /* alpha_c at delta_r = 0 */
    q = (pt){.ga = gb + 2 * ac, .gb = gb, .dr = 0, .Er = 1, .Emax = 1000, .t = 0};
    eval_pt(&q, out);
    CHECK_CLOSE("growth at alpha_c", out[F("growth_rate")], 0, 0, 1e-15, "gb=%g", gb);
  }
  {
    pt q = {.ga = 0.5, .gb = 0.5, .dr = sqrt(3.0) / 2, .Er = 1, .Emax = 1000, .t = 0};
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    CHECK_CLOSE("growth at |dr| = sqrt(3)/2", out[F("growth_rate")], 0, 0, 1e-15, "gb=0.5");
    CHECK("marginal regime", ((int)out[F("regime")] & 3) == 1, "gb=0.5 dr=sqrt(3)/2");
  }
}

/* First crossing of E_B = E_max E_r^2 on the ODE solution: sample every h, then bisection by
 * re-integration from the last sample below.  Tolerance on t_crit: 1e-8 (1 + t_crit).  NaN if
 * not reached by tmax; a failed integration is a failed check (never "not reached"). */
static double ode_tcrit(pt *q, double emax, double tmax) {
  ode o;
  ode_init(&o, q);
  double h = 0.01, tprev = 0, yprev[4] = {0};
  double out = NAN;
  int rc = GSL_SUCCESS;
  for (double t = h; t <= tmax; t += h) {
    memcpy(yprev, o.y, sizeof yprev);
    tprev = o.t;
    if ((rc = ode_to(&o, t)) != GSL_SUCCESS) break;
    if (ode_eb(&o) >= emax) {
      double lo = tprev, hi = t;
      for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        ode p;
        ode_init(&p, q);
        p.t = tprev;
        memcpy(p.y, yprev, sizeof yprev);
        if (rc == GSL_SUCCESS) rc = ode_to(&p, mid);
        if (ode_eb(&p) >= emax)
          hi = mid;
        else
          lo = mid;
        gsl_odeiv2_driver_free(p.d);
      }
      out = 0.5 * (lo + hi);
      break;
    }
  }
  gsl_odeiv2_driver_free(o.d);
  CHECK("ODE integration for t_crit", rc == GSL_SUCCESS, "ga=%g gb=%g dr=%g", q->ga, q->gb, q->dr);
  return out;
}

static void test_tcrit(gsl_rng *r) {
  int compared = 0, never = 0;
  for (int k = 0; k < 400 && compared < 120; k++) {
    pt q = random_pt(r, k);
    q.t = 0;
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    double g = out[F("growth_rate")];
    /* thresholds that give crossings in the transient, in the steady state or in the growth */
    double ebss = out[F("E_B_ss")];
    q.Emax = isnan(ebss) ? 10 + 1000 * gsl_rng_uniform(r) : ebss * (0.3 + 1.4 * gsl_rng_uniform(r));
    eval_pt(&q, out);
    double tc = out[F("t_crit")];
    const char *fmt = "k=%d ga=%.17g gb=%.17g dr=%.17g Er=%.17g Emax=%.17g";
    if (!isnan(tc) && tc < 60) {
      double ref = ode_tcrit(&q, q.Emax * q.Er * q.Er, tc + 5);
      CHECK_CLOSE("t_crit vs ODE bisection", tc, ref, 0, 1e-8 * (1 + tc), fmt, k, q.ga, q.gb, q.dr,
                  q.Er, q.Emax);
      compared++;
    } else if (isnan(tc) && g < -1e-3) {
      CHECK("never-reached status", ((uint32_t)out[F("status")] & BIT("tcrit_never")) != 0, fmt, k,
            q.ga, q.gb, q.dr, q.Er, q.Emax);
      double ref = ode_tcrit(&q, q.Emax * q.Er * q.Er, 200);
      CHECK("never reached: ODE agrees over t <= 200", isnan(ref), fmt, k, q.ga, q.gb, q.dr, q.Er,
            q.Emax);
      never++;
    }
  }
  printf("tcrit: %d crossings and %d never-reached points compared with the ODE\n", compared,
         never);
  CHECK("enough t_crit comparisons", compared >= 100 && never >= 10, "compared=%d never=%d",
        compared, never);
}

/* log_E_B vs ln E_B (rtol 1e-12 + 1e-12 abs) and, where E_B overflows, vs the dominant term
 * 2 (ln|D+| + growth t), D+ = -E_r (1 + s/w)/(2 det M): rtol 1e-12. */
static void test_logeb(gsl_rng *r) {
  int direct = 0, asym = 0;
  for (int k = 0; k < 300; k++) {
    pt q = random_pt(r, k);
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    double eb = out[F("E_B")], l = out[F("log_E_B")];
    /* t > 0 and growth t <= 80: E_B is positive and finite (no overflow) */
    if (out[F("growth_rate")] * q.t <= 80)
      CHECK("E_B positive and finite", eb > 0 && isfinite(eb), "k=%d E_B=%g", k, eb);
    if (eb > 0 && isfinite(eb)) {
      CHECK_CLOSE("log_E_B vs ln E_B", l, log(eb), 1e-12, 1e-12, "k=%d t=%g", k, q.t);
      direct++;
    }
  }
  double ts[] = {1e3, 3e3, 1e4};
  for (int k = 0; k < 200; k++) {
    pt q = {.gb = 0.2 + gsl_rng_uniform(r),
            .dr = -0.8 + 1.6 * gsl_rng_uniform(r),
            .Er = 1,
            .Emax = 1000};
    q.ga = q.gb + 2 * (-0.1 + 0.5 * gsl_rng_uniform(r));
    q.t = ts[k % 3];
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    double g = out[F("growth_rate")];
    if (g * q.t < 400) continue;
    double s = 0.5 * (q.ga + q.gb), al = 0.5 * (q.ga - q.gb);
    double complex z = CMPLX(al, q.dr), w = csqrt(1 + z * z);
    double complex detM = q.ga * q.gb - 1 + q.dr * q.dr - 2 * I * al * q.dr;
    double ref = 2 * (log(cabs(q.Er * (1 + s / w) / (2 * detM))) + g * q.t);
    CHECK_CLOSE("log_E_B vs asymptote", out[F("log_E_B")], ref, 1e-12, 0, "ga=%g gb=%g dr=%g t=%g",
                q.ga, q.gb, q.dr, q.t);
    CHECK("log_E_B finite", isfinite(out[F("log_E_B")]), "t=%g", q.t);
    if (g * q.t > 360)
      CHECK("overflow flagged", isinf(out[F("E_B")]) && ((int)out[F("status")] & QB_PT_OVERFLOW),
            "t=%g", q.t);
    asym++;
  }
  printf("logeb: %d points vs ln E_B, %d vs the asymptote\n", direct, asym);
  CHECK("enough log_E_B comparisons", direct >= 290 && asym >= 50, "direct %d, asymptote %d",
        direct, asym);
}

/* Large t at stable points (growth < -1e-3): E_A, E_B vs expm with rtol 1e-9 (the exponential
 * of a matrix of norm up to 1e4 loses a few digits in GSL's scaling and squaring), P_B with an
 * absolute floor of 1e-9 E_B; once growth t < -40, E_B = E_B_ss to 1e-10. */
static void test_larget(gsl_rng *r) {
  double ts[] = {1e2, 1e3, 1e4};
  int n = 0;
  for (int k = 0; k < 2000 && n < 300; k++) {
    pt q = random_pt(r, k);
    q.t = ts[k % 3];
    double out[QB_MAX_FIELDS];
    eval_pt(&q, out);
    double g = out[F("growth_rate")];
    if (!(g < -1e-3)) continue;
    n++;
    double complex Mx[4], f[2], x[2], dx[2];
    drift(&q, Mx, f);
    CHECK("expm reference", qb_linear_expm_aug(2, Mx, f, q.t, x, dx) == QB_OK, "k=%d", k);
    double ea = creal(x[0] * conj(x[0])), eb = creal(x[1] * conj(x[1]));
    double pb = 2 * creal(conj(x[1]) * dx[1]);
    const char *fmt = "k=%d ga=%.17g gb=%.17g dr=%.17g t=%.17g";
    CHECK_CLOSE("large t: E_B vs expm", out[F("E_B")], eb, 1e-9, 0, fmt, k, q.ga, q.gb, q.dr, q.t);
    CHECK_CLOSE("large t: E_A vs expm", out[F("E_A")], ea, 1e-9, 0, fmt, k, q.ga, q.gb, q.dr, q.t);
    CHECK_CLOSE("large t: P_B vs expm", out[F("P_B")], pb, 1e-6, 1e-9 * eb, fmt, k, q.ga, q.gb,
                q.dr, q.t);
    if (g * q.t < -40)
      CHECK_CLOSE("large t: E_B = E_B_ss", out[F("E_B")], out[F("E_B_ss")], 1e-10, 0, fmt, k, q.ga,
                  q.gb, q.dr, q.t);
  }
  CHECK("enough large-t points", n >= 300, "n=%d", n);
}

/* Dense (alpha, delta_r) grids through the EPs (0, +-1) and the marginal lines, t from 1e-8 to
 * 1e4: every defined field is finite (E_* may be inf only with the overflow bit); neighbouring
 * values approach each other as the spacing shrinks (continuity through the EP). */
static void test_dense(void) {
  const char *defined[] = {"growth_rate",
                           "lambda_plus_re",
                           "lambda_plus_im",
                           "lambda_minus_re",
                           "lambda_minus_im",
                           "splitting",
                           "E_A",
                           "E_B",
                           "log_E_B",
                           "P_B"};
  double tvals[] = {1e-8, 1e-3, 0.7, 10, 100, 1e4};
  long bad = 0, points = 0;
  for (int ti = 0; ti < 6; ti++)
    for (double gb = 0.5; gb <= 1.5; gb += 0.5)
      for (int i = 0; i <= 200; i++)
        for (int j = 0; j <= 400; j++) {
          double alpha = -0.01 + 0.02 * i / 200.0, dr = 0.98 + 0.04 * j / 400.0;
          if (j % 2) dr = -dr;
          pt q = {.ga = gb + 2 * alpha, .gb = gb, .dr = dr, .Er = 1, .Emax = 1000, .t = tvals[ti]};
          double out[QB_MAX_FIELDS];
          eval_pt(&q, out);
          points++;
          for (size_t f = 0; f < sizeof defined / sizeof *defined; f++) {
            double v = out[F(defined[f])];
            int ok = isfinite(v) || (isinf(v) && ((int)out[F("status")] & QB_PT_OVERFLOW)) ||
                     (strcmp(defined[f], "log_E_B") == 0 && q.t == 0);
            if (!ok && bad++ < 10)
              printf("non-finite %s = %g at gb=%g alpha=%.17g dr=%.17g t=%g\n", defined[f], v, gb,
                     alpha, dr, q.t);
          }
        }
  CHECK("dense EP grids: all defined fields finite", bad == 0, "%ld of %ld points bad", bad,
        points);
  /* continuity: approach the EP (0, 1) and the Pi = 0 point along a line; values at distance
   * eps must converge to the value at the point like O(sqrt(eps)) at worst */
  double tv[] = {0.5, 5, 50};
  for (int ti = 0; ti < 3; ti++)
    for (double gb = 0.5; gb <= 1.5; gb += 0.5) {
      pt q0 = {.ga = gb, .gb = gb, .dr = 1.0, .Er = 1, .Emax = 1000, .t = tv[ti]};
      double o0[QB_MAX_FIELDS];
      eval_pt(&q0, o0);
      for (double eps = 1e-4; eps >= 1e-14; eps /= 10) {
        pt q1 = q0;
        q1.dr = 1.0 + eps;
        q1.ga = gb + 2 * eps;
        double o1[QB_MAX_FIELDS];
        eval_pt(&q1, o1);
        const char *fs[] = {"E_A", "E_B", "P_B", "growth_rate"};
        for (int f = 0; f < 4; f++)
          CHECK_CLOSE("continuity through the EP", o1[F(fs[f])], o0[F(fs[f])], 100 * sqrt(eps),
                      100 * sqrt(eps), "%s gb=%g t=%g eps=%g", fs[f], gb, q0.t, eps);
      }
      /* marginal line at delta_r = 0: alpha_c */
      double ac = (1 - gb * gb) / (2 * gb);
      pt m0 = {.ga = gb + 2 * ac, .gb = gb, .dr = 0, .Er = 1, .Emax = 1000, .t = tv[ti]};
      double om[QB_MAX_FIELDS];
      eval_pt(&m0, om);
      for (double eps = 1e-4; eps >= 1e-14; eps /= 10) {
        pt m1 = m0;
        m1.ga += eps;
        double o1[QB_MAX_FIELDS];
        eval_pt(&m1, o1);
        CHECK_CLOSE("continuity through Pi = 0", o1[F("E_B")], om[F("E_B")], 100 * eps * m0.t,
                    1e-300, "gb=%g t=%g eps=%g", gb, m0.t, eps);
      }
    }
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  const char *which = qb_test_select(argc, argv);
  M = qb_model_find("ep");
  if (!M) QB_SETUP_FATAL("model ep not found");
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 20261122);
  QB_PART("transient", test_transient(r));
  QB_PART("spectrum", test_spectrum(r));
  QB_PART("tcrit", test_tcrit(r));
  QB_PART("logeb", test_logeb(r));
  QB_PART("larget", test_larget(r));
  QB_PART("dense", test_dense());
  gsl_rng_free(r);
  return qb_test_report(which);
}
