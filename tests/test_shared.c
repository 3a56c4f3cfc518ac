/* Model `shared` against independent computations:
 *   steady     E_A_ss, E_B_ss vs a direct 2x2 complex LU solve (rtol 1e-10) and vs the
 *              transient at long t (rtol 1e-9); E_A, E_B, P_B vs GSL rk8pd (rtol 1e-8);
 *   deltaopt   Delta_opt vs GSL Brent maximization of E_B_ss over Delta at 250 random points
 *              (complex J and couplings, phi != 0, Gamma != 0): the maximum value to 1e-10, the
 *              location to 1e-6 relative (a maximum is flat: sqrt(eps)); Eq. 13 at Gamma = 0;
 *   yopt       y_opt vs GSL Brent maximization over y at fixed |p_a p_b| (rtol 1e-6), E_B_supopt
 *              vs the maximum found (rtol 1e-10);
 *   closed     docs/physics.md s3 closed forms at |p_a p_b| = 1: Eq. 23, corrected Eq. 22 and 24,
 *              Eq. 25, corrected Eq. 26, G_B (rtol 1e-12);
 *   zero       the nonreciprocal zero (phi = -pi/2, p_a = p_b = 1, Gamma = 2|J|): E_B(t) and
 *              E_B_ss vanish, absolute tolerance 1e-28 F^2.
 * Usage: test_shared [steady|deltaopt|yopt|closed|zero|all] */
#include <complex.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"

static const qb_model *MS;
static int F(const char *n) {
  return qb_test_index(qb_model_field_index(MS, n), "field of model shared", n);
}

typedef struct {
  double Delta, J, phi, Gamma, pa, pa_ph, pb, pb_ph, ka, kb, Fd, t;
} sp;

static void eval_sp(const sp *s, double *out) {
  double p[QB_MAX_PARAMS];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(MS, p, given);
  const char *n[] = {"Delta", "J",         "phi",     "Gamma",   "p_a", "p_a_phase",
                     "p_b",   "p_b_phase", "kappa_a", "kappa_b", "F",   "t"};
  const double v[] = {s->Delta, s->J,     s->phi, s->Gamma, s->pa, s->pa_ph,
                      s->pb,    s->pb_ph, s->ka,  s->kb,    s->Fd, s->t};
  for (int k = 0; k < 12; k++)
    p[qb_test_index(qb_model_param_index(MS, n[k]), "parameter of model shared", n[k])] = v[k];
  qb_model_eval(MS, p, NULL, out);
  uint32_t undeclared = (uint32_t)out[MS->nfields - 1] & ~qb_model_status_mask(MS);
  CHECK("status bits declared by the model", undeclared == 0, "bits %#x", undeclared);
}

/* The drift written out independently from Eqs. 4-5. */
static void drift(const sp *s, double complex *M) {
  double complex pa = s->pa * cexp(I * s->pa_ph), pb = s->pb * cexp(I * s->pb_ph);
  double complex J = s->J * cexp(I * s->phi), mu = -pb * conj(pa);
  double gA = s->Gamma * s->pa * s->pa + s->ka, gB = s->Gamma * s->pb * s->pb + s->kb;
  M[0] = -(gA + 2 * I * s->Delta) / 2;
  M[1] = -I * (J + I * mu * s->Gamma / 2);
  M[2] = -I * (conj(J) + I * conj(mu) * s->Gamma / 2);
  M[3] = -(gB + 2 * I * s->Delta) / 2;
}

static double lu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

static sp random_sp(gsl_rng *r) {
  sp s = {.Delta = -0.5 + gsl_rng_uniform(r),
          .J = lu(r, 1e-3, 0.5),
          .phi = 6.283185307179586 * gsl_rng_uniform(r),
          .Gamma = gsl_rng_uniform(r) < 0.2 ? 0 : lu(r, 1e-3, 1),
          .pa = lu(r, 0.3, 3),
          .pa_ph = 6.283185307179586 * gsl_rng_uniform(r),
          .pb = lu(r, 0.3, 3),
          .pb_ph = 6.283185307179586 * gsl_rng_uniform(r),
          .ka = lu(r, 1e-3, 0.3),
          .kb = lu(r, 1e-3, 0.3),
          .Fd = lu(r, 0.01, 1),
          .t = lu(r, 0.1, 100)};
  return s;
}

static int rhs(double t, const double y[], double dy[], void *params) {
  (void)t;
  const sp *s = params;
  double complex M[4];
  drift(s, M);
  double complex a = CMPLX(y[0], y[1]), b = CMPLX(y[2], y[3]);
  double complex da = M[0] * a + M[1] * b - I * s->Fd, db = M[2] * a + M[3] * b;
  dy[0] = creal(da), dy[1] = cimag(da), dy[2] = creal(db), dy[3] = cimag(db);
  return GSL_SUCCESS;
}

static void test_steady(gsl_rng *r) {
  int n_lu = 0, n_long = 0, n_ode = 0;
  for (int k = 0; k < 300; k++) {
    sp s = random_sp(r);
    double out[QB_MAX_FIELDS];
    eval_sp(&s, out);
    double complex M[4], mf[2] = {I * s.Fd, 0}, x[2];
    drift(&s, M);
    const char *fmt = "k=%d";
    CHECK("growth_rate finite", isfinite(out[F("growth_rate")]), fmt, k);
    if (out[F("growth_rate")] < -1e-9) {
      n_lu++;
      CHECK("LU", qb_linear_solve(2, M, mf, x) == QB_OK, fmt, k);
      CHECK_CLOSE("E_A_ss vs LU", out[F("E_A_ss")], creal(x[0] * conj(x[0])), 1e-10, 0, fmt, k);
      CHECK_CLOSE("E_B_ss vs LU", out[F("E_B_ss")], creal(x[1] * conj(x[1])), 1e-10, 1e-300, fmt,
                  k);
      /* a well-conditioned ordinary point: bits set (no_optimum ...) are informational */
      CHECK("ordinary point: informational bits only",
            !((uint32_t)out[F("status")] & qb_model_failure_mask(MS)), "status %g; k=%d",
            out[F("status")], k);
      if (out[F("growth_rate")] < -0.02) {
        sp l = s;
        l.t = 40 / -out[F("growth_rate")];
        double ol[QB_MAX_FIELDS];
        eval_sp(&l, ol);
        CHECK_CLOSE("E_B_ss = E_B(t -> inf)", out[F("E_B_ss")], ol[F("E_B")], 1e-9, 1e-14, fmt, k);
        n_long++;
      }
    }
    if (s.t < 60) {
      gsl_odeiv2_system sys = {rhs, NULL, 4, &s};
      gsl_odeiv2_driver *d =
          gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, 1e-6, 1e-14, 1e-14);
      QB_SETUP_ALLOC(d);
      double tt = 0, y[4] = {0};
      int rc = gsl_odeiv2_driver_apply(d, &tt, s.t, y);
      gsl_odeiv2_driver_free(d);
      double dy[4];
      rhs(0, y, dy, &s);
      CHECK("ODE", rc == GSL_SUCCESS, fmt, k);
      double eb = y[2] * y[2] + y[3] * y[3], ea = y[0] * y[0] + y[1] * y[1];
      double pb = 2 * (y[2] * dy[2] + y[3] * dy[3]);
      CHECK_CLOSE("E_A vs ODE", out[F("E_A")], ea, 1e-8, 1e-14 * s.Fd * s.Fd, fmt, k);
      CHECK_CLOSE("E_B vs ODE", out[F("E_B")], eb, 1e-8, 1e-14 * s.Fd * s.Fd, fmt, k);
      CHECK_CLOSE("P_B vs ODE", out[F("P_B")], pb, 1e-7, 1e-12 * s.Fd * s.Fd, fmt, k);
      n_ode++;
    }
  }
  printf("steady: %d points vs LU, %d vs the long-time transient, %d vs the ODE\n", n_lu, n_long,
         n_ode);
  CHECK("enough steady-state comparisons", n_lu >= 280 && n_long >= 100 && n_ode >= 250,
        "LU %d, long t %d, ODE %d", n_lu, n_long, n_ode);
}

/* E_B_ss as a function of one parameter, for GSL's minimizer (negated). */
typedef struct {
  sp s;
  int which; /* 0: Delta; 1: log y at fixed |p_a p_b|, J = 0, Delta = 0 */
  double m;
} opt_fn;

static double neg_eb(double x, void *arg) {
  opt_fn *o = arg;
  sp s = o->s;
  if (o->which == 0) {
    s.Delta = x;
  } else {
    double y = exp(x);
    s.J = 0;
    s.Delta = 0;
    s.pa = sqrt(o->m * sqrt(y));
    s.pb = sqrt(o->m / sqrt(y));
  }
  double complex M[4], mf[2] = {I * s.Fd, 0}, xs[2];
  drift(&s, M);
  if (qb_linear_solve(2, M, mf, xs) != QB_OK) return NAN; /* fails the comparison */
  return -creal(xs[1] * conj(xs[1]));
}

/* Global maximum of E_B_ss over [lo, hi]: a scan of n points, then Brent around the best. */
static double maximize(opt_fn *o, double lo, double hi, int n, double *fmax_out) {
  gsl_function fn = {neg_eb, o};
  double best = lo, fb = neg_eb(lo, o);
  for (int i = 1; i <= n; i++) {
    double x = lo + (hi - lo) * i / n, fx = neg_eb(x, o);
    if (fx < fb) best = x, fb = fx;
  }
  double h = (hi - lo) / n, a = best - h, b = best + h;
  gsl_min_fminimizer *m = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
  QB_SETUP_ALLOC(m);
  double x = best;
  if (neg_eb(a, o) > fb && neg_eb(b, o) > fb && gsl_min_fminimizer_set(m, &fn, best, a, b) == 0) {
    for (int it = 0; it < 200; it++) {
      gsl_min_fminimizer_iterate(m);
      x = gsl_min_fminimizer_x_minimum(m);
      if (gsl_min_test_interval(gsl_min_fminimizer_x_lower(m), gsl_min_fminimizer_x_upper(m), 1e-13,
                                0) == GSL_SUCCESS)
        break;
    }
  }
  gsl_min_fminimizer_free(m);
  *fmax_out = -neg_eb(x, o);
  return x;
}

static void test_deltaopt(gsl_rng *r) {
  int n = 0;
  for (int k = 0; k < 400 && n < 250; k++) {
    sp s = random_sp(r);
    if (s.Gamma == 0) s.Gamma = lu(r, 1e-3, 1);
    double out[QB_MAX_FIELDS];
    eval_sp(&s, out);
    if (!(out[F("growth_rate")] < -1e-6)) continue;
    n++;
    opt_fn o = {.s = s, .which = 0};
    double emax, x = maximize(&o, -3, 3, 6000, &emax);
    const char *fmt = "k=%d J=%g phi=%g Gamma=%g ka=%g kb=%g";
    CHECK_CLOSE("E_B at Delta_opt = numerical maximum", out[F("E_B_at_Delta_opt")], emax, 1e-10, 0,
                fmt, k, s.J, s.phi, s.Gamma, s.ka, s.kb);
    CHECK_CLOSE("Delta_opt = numerical maximizer", out[F("Delta_opt")], x, 1e-6, 1e-6, fmt, k, s.J,
                s.phi, s.Gamma, s.ka, s.kb);
  }
  CHECK("250 Delta_opt comparisons", n == 250, "n=%d", n);
  /* Eq. 13 at Gamma = 0: +-sqrt(|J|^2 - kappa^2/8), 0 if negative; the tie rule gives + */
  for (int k = 0; k < 100; k++) {
    sp s = random_sp(r);
    s.Gamma = 0;
    double out[QB_MAX_FIELDS];
    eval_sp(&s, out);
    double e13 = s.J * s.J - (s.ka * s.ka + s.kb * s.kb) / 8;
    CHECK_CLOSE("Eq. 13", out[F("Delta_opt")], e13 > 0 ? sqrt(e13) : 0, 1e-10, 1e-10, "J=%g", s.J);
  }
}

static void test_yopt(gsl_rng *r) {
  for (int k = 0; k < 200; k++) {
    sp s = random_sp(r);
    if (s.Gamma == 0) s.Gamma = lu(r, 1e-3, 1);
    double out[QB_MAX_FIELDS];
    eval_sp(&s, out);
    opt_fn o = {.s = s, .which = 1, .m = s.pa * s.pb};
    double emax, x = maximize(&o, -15, 15, 3000, &emax);
    const char *fmt = "k=%d ka=%g kb=%g Gamma=%g m=%g";
    CHECK_CLOSE("y_opt = numerical maximizer", out[F("y_opt")], exp(x), 1e-6, 0, fmt, k, s.ka, s.kb,
                s.Gamma, o.m);
    CHECK_CLOSE("E_B_supopt = numerical maximum", out[F("E_B_supopt")], emax, 1e-10, 0, fmt, k,
                s.ka, s.kb, s.Gamma, o.m);
  }
}

static void test_closed(gsl_rng *r) {
  int n26 = 0, ngb = 0;
  for (int k = 0; k < 200; k++) {
    sp s = random_sp(r);
    s.Gamma = lu(r, 1e-3, 1);
    double c = lu(r, 0.2, 5); /* |p_a p_b| = 1 with any ratio and phases */
    s.pa = c, s.pb = 1 / c;
    double out[QB_MAX_FIELDS];
    eval_sp(&s, out);
    double G = s.Gamma, ka = s.ka, kb = s.kb, F2 = s.Fd * s.Fd, q = sqrt(ka * kb);
    double eb = 4 * G * G * F2 / (ka * kb * (2 * G + q) * (2 * G + q));
    double ea = 4 * F2 * (G + q) * (G + q) / (ka * ka * (2 * G + q) * (2 * G + q));
    const char *fmt = "k=%d";
    CHECK_CLOSE("y_opt = kappa_a/kappa_b", out[F("y_opt")], ka / kb, 1e-14, 0, fmt, k);
    CHECK_CLOSE("Eq. 23", out[F("E_B_supopt")], eb, 1e-12, 0, fmt, k);
    CHECK_CLOSE("Eq. 22 corrected", out[F("E_A_supopt")], ea, 1e-12, 0, fmt, k);
    CHECK_CLOSE("Eq. 24 (corrected E_A)", out[F("xi_supopt")], ea + eb, 1e-12, 0, fmt, k);
    CHECK_CLOSE("Eq. 25", out[F("E_single")], 4 * F2 / (ka * ka), 1e-14, 0, fmt, k);
    double J = s.J;
    if (16 * J * J - (ka - kb) * (ka - kb) > 0 && J * J > (ka * ka + kb * kb) / 8) {
      double ebo = 64 * F2 * J * J / ((ka + kb) * (ka + kb) * (16 * J * J - (ka - kb) * (ka - kb)));
      CHECK_CLOSE("Eq. 26 corrected", out[F("E_B_opt_coh")], ebo, 1e-10, 0, fmt, k);
      n26++;
      CHECK_CLOSE("dE_coh", out[F("dE_coh")], ebo - 4 * F2 / (ka * ka), 1e-10,
                  1e-10 * 4 * F2 / (ka * ka), fmt, k);
    }
    double Jh = G / 2;
    if (Jh * Jh > (ka * ka + kb * kb) / 8) {
      double ebh =
          64 * F2 * Jh * Jh / ((ka + kb) * (ka + kb) * (16 * Jh * Jh - (ka - kb) * (ka - kb)));
      CHECK_CLOSE("G_B", out[F("G_B")], eb - ebh, 1e-10, 1e-10 * eb, fmt, k);
      ngb++;
    }
  }
  printf("closed: 200 points, %d vs Eq. 26, %d vs G_B\n", n26, ngb);
  CHECK("enough Eq. 26 and G_B comparisons", n26 >= 100 && ngb >= 80, "Eq. 26 %d, G_B %d", n26,
        ngb);
}

static void test_zero(void) {
  int n = 0;
  double ts[] = {0.3, 3, 30, 300, 3000};
  for (double J = 0.05; J < 0.6; J += 0.1)
    for (int k = 0; k < 5; k++) {
      sp s = {.Delta = 0.1,
              .J = J,
              .phi = -1.5707963267948966,
              .Gamma = 2 * J,
              .pa = 1,
              .pb = 1,
              .ka = 0.05,
              .kb = 0.01,
              .Fd = 0.1,
              .t = ts[k]};
      double out[QB_MAX_FIELDS];
      eval_sp(&s, out);
      CHECK_CLOSE("nonreciprocal zero: E_B(t) = 0", out[F("E_B")], 0, 0, 1e-28 * s.Fd * s.Fd,
                  "J=%g t=%g", J, s.t);
      CHECK_CLOSE("nonreciprocal zero: E_B_ss = 0", out[F("E_B_ss")], 0, 0, 1e-28 * s.Fd * s.Fd,
                  "J=%g", J);
      CHECK("E_A(t) > 0 there", out[F("E_A")] > 1e-6 * s.Fd * s.Fd, "J=%g t=%g", J, s.t);
      n++;
    }
  CHECK("6 x 5 points at the nonreciprocal zero", n == 30, "n=%d", n);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  const char *which = qb_test_select(argc, argv);
  MS = qb_model_find("shared");
  if (!MS) QB_SETUP_FATAL("model shared not found");
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 777);
  QB_PART("steady", test_steady(r));
  QB_PART("deltaopt", test_deltaopt(r));
  QB_PART("yopt", test_yopt(r));
  QB_PART("closed", test_closed(r));
  QB_PART("zero", test_zero());
  gsl_rng_free(r);
  return qb_test_report(which);
}
