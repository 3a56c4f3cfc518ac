/* The row path against the per-point reference (issue 12).  Models shared and threemode
 * evaluate rows along t with a decomposition of the drift made once per row (qb_expm2,
 * qb_spectral) and fall back to qb_linear_transient where that is not accurate.  Here random
 * points, each with a row of 8 times t log-uniform in [1e-8, 1e4] / |M| (|M| the drift's largest
 * entry), are evaluated through qb_model_eval_row, and E_A, E_B (shared also P_B) compared with
 * the augmented matrix exponential (qb_linear_transient_form, form 1) of the drift built here
 * independently from the parameters.  Points: generic, marginal (a loss rate 0), exactly at
 * exceptional points (shared: Gamma = 0, |J| = |kappa_a - kappa_b|/4, and phi = pi/2,
 * |J|^2 = ((gA - gB)/4)^2 + (|p_a p_b| Gamma/2)^2) and near them (J (1 + 10^-u), u in [2, 12]).
 * Tolerance, where the reference's own estimate is below 1e-12 of the state's norm:
 *   |E - E_ref| <= 1e-10 E_ref + 2 sqrt(E_ref) e_ref + 1e-13 (E_A_ref + E_B_ref)
 * (e_ref the reference's amplitude error estimate; the last term: an energy far below the
 * total, e.g. E_B ~ t^4 at small t, is resolved against the total); P_B likewise against
 * 2 |b||b'| + 1e-13 |x||x'|; and no NaN there.  Usage: test_rows [shared|threemode] */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"

#define NT 8
#define PI 3.14159265358979323846
#define NPOINTS 3000

static double lu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

static double pm(gsl_rng *r, double lo, double hi) {
  return gsl_rng_uniform(r) < 0.5 ? -lu(r, lo, hi) : lu(r, lo, hi);
}

static void set(const qb_model *m, double *p, const char *name, double v) {
  int i = qb_model_param_index(m, name);
  if (i < 0) QB_SETUP_FATAL("model %s has no parameter %s", m->name, name);
  p[i] = v;
}

static double get(const qb_model *m, const double *p, const char *name) {
  return p[qb_model_param_index(m, name)];
}

/* shared's drift (docs/physics.md §3), built from the parameters; f = (-iF, 0). */
static void shared_drift(const qb_model *m, const double *p, double complex *M, double complex *f) {
  double complex J = get(m, p, "J") * cexp(I * get(m, p, "phi"));
  double complex pa = get(m, p, "p_a") * cexp(I * get(m, p, "p_a_phase"));
  double complex pb = get(m, p, "p_b") * cexp(I * get(m, p, "p_b_phase"));
  double G = get(m, p, "Gamma"), D = get(m, p, "Delta");
  double complex mu = -pb * conj(pa);
  double gA = G * creal(pa * conj(pa)) + get(m, p, "kappa_a");
  double gB = G * creal(pb * conj(pb)) + get(m, p, "kappa_b");
  M[0] = -0.5 * gA - I * D;
  M[1] = -I * (J + I * mu * G / 2);
  M[2] = -I * (conj(J) + I * conj(mu) * G / 2);
  M[3] = -0.5 * gB - I * D;
  f[0] = -I * get(m, p, "F");
  f[1] = 0;
}

/* A random shared point: generic, marginal, at or near an EP. */
static void shared_point(gsl_rng *r, const qb_model *m, double *p) {
  set(m, p, "Delta", pm(r, 1e-3, 10));
  set(m, p, "J", lu(r, 1e-3, 10));
  set(m, p, "phi", -PI + 2 * PI * gsl_rng_uniform(r));
  set(m, p, "Gamma", gsl_rng_uniform(r) < 0.1 ? 0 : lu(r, 1e-3, 10));
  set(m, p, "p_a", lu(r, 0.1, 10));
  set(m, p, "p_b", lu(r, 0.1, 10));
  set(m, p, "p_a_phase", 6 * gsl_rng_uniform(r));
  set(m, p, "p_b_phase", 6 * gsl_rng_uniform(r));
  set(m, p, "kappa_a", gsl_rng_uniform(r) < 0.1 ? 0 : lu(r, 1e-3, 10));
  set(m, p, "kappa_b", gsl_rng_uniform(r) < 0.1 ? 0 : lu(r, 1e-3, 10));
  set(m, p, "F", lu(r, 0.1, 10));
  double u = gsl_rng_uniform(r), ka = get(m, p, "kappa_a"), kb = get(m, p, "kappa_b");
  if (u < 0.35) { /* an EP, exactly or nearly */
    double J;
    if (u < 0.15) {
      set(m, p, "Gamma", 0);
      J = fabs(ka - kb) / 4;
    } else {
      set(m, p, "p_a_phase", 0);
      set(m, p, "p_b_phase", 0);
      set(m, p, "phi", PI / 2);
      double G = get(m, p, "Gamma"), pa = get(m, p, "p_a"), pb = get(m, p, "p_b");
      double d = (G * (pa * pa - pb * pb) + ka - kb) / 4;
      J = hypot(d, pa * pb * G / 2);
    }
    if (u > 0.25) J *= 1 + pow(10, -2 - 10 * gsl_rng_uniform(r));
    set(m, p, "J", J);
  }
}

/* threemode's drift (docs/physics.md §2), built from the parameters; f = (-iE, 0, 0). */
static void three_drift(const qb_model *m, const double *p, double complex *M, double complex *f) {
  double complex va[3] = {get(m, p, "p_a") * cexp(I * get(m, p, "p_a_phase")), 0,
                          get(m, p, "p_ca") * cexp(I * get(m, p, "p_ca_phase"))};
  double complex vb[3] = {0, get(m, p, "p_b") * cexp(I * get(m, p, "p_b_phase")),
                          get(m, p, "p_cb") * cexp(I * get(m, p, "p_cb_phase"))};
  double kap[3] = {get(m, p, "kappa_a"), get(m, p, "kappa_b"), get(m, p, "kappa_c")};
  double det[3] = {get(m, p, "delta"), -get(m, p, "delta"), get(m, p, "delta_c")};
  double G = get(m, p, "Gamma");
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      M[3 * i + j] =
          -0.5 * (G * (conj(va[i]) * va[j] + conj(vb[i]) * vb[j]) + (i == j ? kap[i] : 0)) -
          (i == j ? I * det[i] : 0);
  f[0] = -I * get(m, p, "E");
  f[1] = f[2] = 0;
}

static void three_point(gsl_rng *r, const qb_model *m, double *p) {
  const char *rates[] = {"kappa_a", "kappa_b", "kappa_c", "Gamma"};
  for (int k = 0; k < 4; k++)
    set(m, p, rates[k], gsl_rng_uniform(r) < 0.08 ? 0 : lu(r, 1e-3, 10));
  set(m, p, "delta", pm(r, 1e-3, 10));
  set(m, p, "delta_c", gsl_rng_uniform(r) < 0.5 ? 0 : pm(r, 1e-3, 10));
  const char *cp[] = {"p_a", "p_b", "p_ca", "p_cb"};
  for (int k = 0; k < 4; k++) {
    char ph[32];
    snprintf(ph, sizeof ph, "%s_phase", cp[k]);
    set(m, p, cp[k], lu(r, 0.1, 10));
    set(m, p, ph, gsl_rng_uniform(r) < 0.5 ? 0 : 6 * gsl_rng_uniform(r));
  }
  set(m, p, "E", lu(r, 0.1, 10));
}

/* The point's parameters as `qbmap point` arguments (t apart), on one line. */
static void print_point(const qb_model *m, const double *p) {
  printf("  at:");
  for (int j = 0; j < m->nparams; j++)
    if (!isnan(p[j]) && strcmp(m->params[j].name, "t"))
      printf(" %s=%.17g", m->params[j].name, p[j]);
  printf("\n");
}

typedef struct {
  long compared, nan_bad, skipped;
  double worst; /* largest |E - E_ref| / tolerance */
} tally;

/* Energy (or power) v against the reference ref with tolerance tol. */
static void compare(tally *T, const char *what, double v, double ref, double tol, const double *p,
                    const qb_model *m, double t) {
  if (isnan(v)) {
    T->nan_bad++;
    CHECK("no NaN where the reference is resolved", 0, "%s %s t=%.17g", m->name, what, t);
    print_point(m, p);
    return;
  }
  T->compared++;
  T->worst = fmax(T->worst, fabs(v - ref) / tol);
  CHECK("row path vs augmented exponential", fabs(v - ref) <= tol,
        "%s %s = %.17g, reference %.17g, tolerance %.3g, t = %.17g", m->name, what, v, ref, tol, t);
  if (!(fabs(v - ref) <= tol)) print_point(m, p);
}

static void run(const char *name, gsl_rng *r) {
  const qb_model *m = qb_model_find(name);
  const bool sh = strcmp(name, "shared") == 0;
  const int n = sh ? 2 : 3, fa = qb_model_field_index(m, "E_A"),
            fb = qb_model_field_index(m, "E_B");
  const int fp = qb_model_field_index(m, "P_B"), it = qb_model_param_index(m, "t");
  static double rows[NT * QB_MAX_FIELDS];
  tally T = {0};
  for (int k = 0; k < NPOINTS; k++) {
    double p[QB_MAX_PARAMS], t[NT];
    bool given[QB_MAX_PARAMS];
    double complex M[9], f[3];
    qb_model_defaults(m, p, given);
    if (sh)
      shared_point(r, m, p), shared_drift(m, p, M, f);
    else
      three_point(r, m, p), three_drift(m, p, M, f);
    double nm = 0;
    for (int i = 0; i < n * n; i++)
      nm = fmax(nm, cabs(M[i]));
    for (int j = 0; j < NT; j++)
      t[j] = lu(r, 1e-8, 1e4) / nm;
    qb_model_eval_row(m, p, it, t, NT, NULL, rows);
    for (int j = 0; j < NT; j++) {
      const double *o = rows + j * m->nfields;
      double complex x[3], dx[3];
      double ex[3], edx[3], ldx;
      if (qb_linear_transient_form(n, M, f, t[j], 0, NULL, NULL, x, dx, &ldx, ex, edx, 1)) {
        T.skipped++;
        continue;
      }
      double nx = 0, ndx = 0;
      for (int i = 0; i < n; i++)
        nx = fmax(nx, cabs(x[i])), ndx = fmax(ndx, cabs(dx[i]));
      if (!(ex[0] <= 1e-12 * nx && ex[1] <= 1e-12 * nx)) {
        T.skipped++;
        continue;
      }
      double ea = creal(x[0] * conj(x[0])), eb = creal(x[1] * conj(x[1])), tot = nx * nx * n;
      compare(&T, "E_A", o[fa], ea, 1e-10 * ea + 2 * sqrt(ea) * ex[0] + 1e-13 * tot, p, m, t[j]);
      compare(&T, "E_B", o[fb], eb, 1e-10 * eb + 2 * sqrt(eb) * ex[1] + 1e-13 * tot, p, m, t[j]);
      if (sh && edx[1] <= 1e-12 * ndx) {
        double pb = 2 * creal(conj(x[1]) * dx[1]), s = 2 * cabs(x[1]) * cabs(dx[1]);
        compare(&T, "P_B", o[fp], pb,
                1e-10 * s + 1e-13 * nx * ndx + 2 * (ex[1] * cabs(dx[1]) + cabs(x[1]) * edx[1]), p,
                m, t[j]);
      }
    }
  }
  printf("rows %s: %d points x %d times: %ld comparisons, worst |E - E_ref|/tolerance %.3g, "
         "%ld NaN where resolved, %ld times skipped (reference estimate above 1e-12)\n",
         name, NPOINTS, NT, T.compared, T.worst, T.nan_bad, T.skipped);
  CHECK("most times compared", T.compared >= NPOINTS * NT, "%ld", T.compared);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  const char *which = qb_test_select(argc, argv);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 1212);
  QB_PART("shared", run("shared", r));
  QB_PART("threemode", run("threemode", r));
  gsl_rng_free(r);
  return qb_test_report(which);
}
