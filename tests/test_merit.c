/* The figures-of-merit wrapper (qb_merit, docs/physics.md §8) against independent computations.
 *  brute:     random stable points of ep, shared, threemode and a driven dimer network: the
 *             base's E(t) on a dense uniform grid of 1e5 times over (0, 60/|growth|] plus 2e4
 *             log-spaced ones, then bisection (crossings, to eps) and golden section (max of
 *             E/t).  Tolerances: t_charge_* 1e-10 relative, P_avg_max 1e-12 relative,
 *             t_P_avg_max 1e-6 relative (the reference's golden section locates a flat maximum
 *             only to ~sqrt(eps)); plus 1e-12 absolute for t_P_avg_max, where the supremum is
 *             the limit t -> 0+ (thermal noise on the battery: E/t -> P(0), flat to rounding).
 *  closed:    one damped driven mode (network, detuning 0): E = E_ss (1 - e^{-kappa t/2})^2, so
 *             t_charge_x = -(2/kappa) ln(1 - sqrt x), t_P_avg_max = 2u/kappa with 2u = e^u - 1
 *             (Newton), P_avg_max = E_ss (1 - e^{-u})^2 kappa / (2u): 1e-10, 1e-9, 1e-12 relative.
 *  undefined: unstable points (bit merit_undefined, NaN), no drive (E_ss = 0: the same), a stable
 *             point has neither bit.
 *  rows:      the wrapper's row along t is bitwise qb_model_eval at each point, and its base
 *             fields bitwise the base's (with and without the merit fields wanted).
 *  config:    without merit key/fields the model is the base (no wrapper); field names. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_merit.h"

#define NDENSE 100000
#define NLOG 20000

static void parse(const char *text, qb_config *cfg) {
  char msg[2048];
  if (qb_config_parse(text, "test", NULL, 0, cfg, msg, sizeof msg)) QB_SETUP_FATAL("%s", msg);
}

static int fi(const qb_model *m, const char *name) {
  return qb_test_index(qb_model_field_index(m, name), "field", name);
}

static void set(const qb_model *m, double *p, const char *name, double v) {
  p[qb_test_index(qb_model_param_index(m, name), "parameter", name)] = v;
}

/* E of base at t (row of one). */
static double energy(const qb_model *b, const double *p, int fE, double t) {
  double out[QB_MAX_FIELDS];
  qb_model_eval_row(b, p, b->row_axis, &t, 1, NULL, out);
  return out[fE];
}

/* The reference figures of merit (see the top): v[0] P_avg_max, v[1] its t, v[2 + i] t_charge. */
static void reference(const qb_model *b, const double *p, const char *e, const double *x, int nx,
                      double *v) {
  char ss[64];
  snprintf(ss, sizeof ss, "%s_ss", e);
  const int fE = fi(b, e), fS = fi(b, ss), fG = fi(b, "growth_rate"), nb = b->nfields;
  static double t[NDENSE + NLOG], E[NDENSE + NLOG], out[(NDENSE + NLOG) * QB_MAX_FIELDS];
  double o0[QB_MAX_FIELDS], t0 = 0;
  v[1] = NAN;
  qb_model_eval_row(b, p, b->row_axis, &t0, 1, NULL, o0);
  const double T = 60.0 / -o0[fG], ess = o0[fS];
  for (int k = 0; k < NLOG; k++)
    t[k] = T * pow(10.0, -14.0 * (1.0 - (double)k / NLOG)) * 1e-3;
  for (int k = 0; k < NDENSE; k++)
    t[NLOG + k] = T * (k + 1.0) / NDENSE;
  const int n = NDENSE + NLOG;
  qb_model_eval_row(b, p, b->row_axis, t, n, NULL, out);
  int kb = 0;
  for (int k = 0; k < n; k++) {
    E[k] = out[(size_t)k * (size_t)nb + (size_t)fE];
    if (E[k] / t[k] > E[kb] / t[kb]) kb = k;
  }
  if (kb == 0) { /* the supremum is the limit t -> 0+ (a noisy battery): E/t at 1e-17 T */
    v[0] = E[0] / t[0], v[1] = 0;
    kb = 1; /* (the golden section below is then unused) */
  }
  double a = t[kb - 1], c = t[kb + 1];
  for (int it = 0; it < 200; it++) { /* golden section on -E/t */
    const double x1 = a + 0.381966 * (c - a), x2 = c - 0.381966 * (c - a);
    if (energy(b, p, fE, x1) / x1 >= energy(b, p, fE, x2) / x2)
      c = x2;
    else
      a = x1;
  }
  if (v[1] != 0) {
    v[1] = 0.5 * (a + c);
    v[0] = energy(b, p, fE, v[1]) / v[1];
  }
  for (int i = 0; i < nx; i++) {
    int k = 0;
    while (k < n && E[k] < x[i] * ess)
      k++;
    double lo = k ? t[k - 1] : 0, hi = t[k < n ? k : n - 1];
    for (int it = 0; it < 200 && hi - lo > 0; it++) {
      const double mid = 0.5 * (lo + hi);
      if (mid <= lo || mid >= hi) break;
      *(energy(b, p, fE, mid) < x[i] * ess ? &lo : &hi) = mid;
    }
    v[2 + i] = hi;
  }
}

static const double X[3] = {0.5, 0.9, 0.99};
static double worst[5]; /* the largest relative deviations seen (printed by brute) */

/* The wrapper m (over base b, energy e) at p against the reference; false if not stable. */
static bool compare(const qb_model *m, const qb_model *b, const double *p, const char *e,
                    const char *where) {
  double out[QB_MAX_FIELDS], v[5];
  qb_model_eval(m, p, NULL, out);
  if (isnan(out[fi(m, "growth_rate")]) || !(out[fi(m, "growth_rate")] < 0)) return false;
  reference(b, p, e, X, 3, v);
  const char *names[5] = {"P_avg_max", "t_P_avg_max", "t_charge_50", "t_charge_90", "t_charge_99"};
  const double tol[5] = {1e-12, 1e-6, 1e-10, 1e-10, 1e-10};
  for (int i = 0; i < 5; i++) {
    CHECK_CLOSE(names[i], out[fi(m, names[i])], v[i], tol[i], i == 1 ? 1e-12 : 0, "%s", where);
    if (fabs(v[i]) > 1e-9) worst[i] = fmax(worst[i], fabs(out[fi(m, names[i])] / v[i] - 1));
  }
  CHECK("no merit bit",
        ((uint32_t)out[m->nfields - 1] & (QB_PT_MERIT_UNDEFINED | QB_PT_MERIT_FAILED)) == 0, "%s",
        where);
  return true;
}

static void brute(const char *model, const char *fixed, const char *e, gsl_rng *r, int npts) {
  char text[2048], where[256];
  qb_config cw, cb;
  snprintf(text, sizeof text,
           "model: %s\naxes: [{name: t, values: [1]}]\nfixed: {%s}\nmerit: {charge: [0.5, 0.9, "
           "0.99]}\n",
           model, fixed);
  parse(text, &cw);
  snprintf(text, sizeof text, "model: %s\naxes: [{name: t, values: [1]}]\nfixed: {%s}\n", model,
           fixed);
  parse(text, &cb);
  const qb_model *m = cw.model, *b = cb.model;
  int done = 0;
  for (int k = 0; done < npts && k < 50 * npts; k++) {
    double p[QB_MAX_PARAMS];
    memcpy(p, cw.fixed, sizeof p);
    if (strcmp(model, "ep") == 0) {
      set(m, p, "delta_r", gsl_ran_flat(r, -2, 2));
      set(m, p, "alpha", gsl_ran_flat(r, -0.5, 1.5));
      set(m, p, "gamma_b", gsl_ran_flat(r, 0.2, 2));
    } else if (strcmp(model, "shared") == 0) {
      set(m, p, "Delta", gsl_ran_flat(r, -1, 1));
      set(m, p, "J", gsl_ran_flat(r, 0, 1));
      set(m, p, "Gamma", gsl_ran_flat(r, 0, 1));
      set(m, p, "kappa_a", gsl_ran_flat(r, 0.05, 1));
      set(m, p, "kappa_b", gsl_ran_flat(r, 0.05, 1));
    } else if (strcmp(model, "threemode") == 0) {
      set(m, p, "delta", gsl_ran_flat(r, -1, 1));
      set(m, p, "kappa_a", gsl_ran_flat(r, 0.05, 1));
      set(m, p, "kappa_b", gsl_ran_flat(r, 0.05, 1));
      set(m, p, "kappa_c", gsl_ran_flat(r, 0.5, 3));
      set(m, p, "Gamma", gsl_ran_flat(r, 0, 1));
    } else {
      set(m, p, "Delta", gsl_ran_flat(r, -1, 1));
      set(m, p, "J", gsl_ran_flat(r, 0.05, 1));
      set(m, p, "kappa_a", gsl_ran_flat(r, 0.05, 1));
      set(m, p, "kappa_b", gsl_ran_flat(r, 0.05, 1));
      set(m, p, "n_b", gsl_ran_flat(r, 0, 0.5));
    }
    snprintf(where, sizeof where, "%s point %d", model, k);
    done += compare(m, b, p, e, where);
  }
  CHECK("enough stable points", done == npts, "%s: %d of %d", model, done, npts);
  qb_config_free(&cw);
  qb_config_free(&cb);
}

static const char dimer[] =
    "model: network\nnetwork:\n  modes: [a, b]\n  battery: b\n  hamiltonian:\n"
    "    - {detuning: a, value: Delta}\n    - {detuning: b, value: Delta}\n"
    "    - {hopping: [a, b], value: J}\n    - {drive: a, value: F}\n  dissipators:\n"
    "    - {rate: kappa_a, L: {a: 1}}\n    - {rate: kappa_b, L: {b: 1}, n_th: n_b}\n";

static void test_brute(void) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 14);
  brute("ep", "E_r: 1, delta_r: 0, alpha: 1, gamma_b: 1", "E_B", r, 12);
  brute("shared", "F: 0.1, Delta: 0, kappa_a: 1, kappa_b: 1", "E_B", r, 12);
  brute("threemode", "E: 1, delta: 0, kappa_a: 1, kappa_b: 1, kappa_c: 1, Gamma: 1", "E_B", r, 12);
  /* the dimer: the network text with fixed values (the brute helper's template needs a plain
   * model name, so it is spelled out here) */
  char text[2048];
  qb_config cw, cb;
  snprintf(text, sizeof text,
           "%saxes: [{name: t, values: [1]}]\nfixed: {Delta: 0, J: 0.5, F: 0.3, "
           "kappa_a: 0.5, kappa_b: 0.2, n_b: 0}\nmerit: {charge: [0.5, 0.9, 0.99]}\n",
           dimer);
  parse(text, &cw);
  snprintf(text, sizeof text,
           "%saxes: [{name: t, values: [1]}]\nfixed: {Delta: 0, J: 0.5, F: 0.3, "
           "kappa_a: 0.5, kappa_b: 0.2, n_b: 0}\n",
           dimer);
  parse(text, &cb);
  int done = 0;
  for (int k = 0; k < 8; k++) {
    double p[QB_MAX_PARAMS];
    char where[64];
    memcpy(p, cw.fixed, sizeof p);
    set(cw.model, p, "Delta", gsl_ran_flat(r, -1, 1));
    set(cw.model, p, "J", gsl_ran_flat(r, 0.05, 1));
    set(cw.model, p, "kappa_a", gsl_ran_flat(r, 0.05, 1));
    set(cw.model, p, "kappa_b", gsl_ran_flat(r, 0.05, 1));
    set(cw.model, p, "n_b", k % 2 ? gsl_ran_flat(r, 0, 0.5) : 0.0);
    snprintf(where, sizeof where, "network point %d", k);
    done += compare(cw.model, cb.model, p, "E_b", where);
  }
  CHECK("network points", done == 8, "%d of 8", done);
  printf("largest relative deviations: P_avg_max %.1e, t_P_avg_max %.1e, t_charge_50 %.1e, "
         "t_charge_90 %.1e, t_charge_99 %.1e\n",
         worst[0], worst[1], worst[2], worst[3], worst[4]);
  qb_config_free(&cw);
  qb_config_free(&cb);
  gsl_rng_free(r);
}

static const char single[] =
    "model: network\nnetwork:\n  modes: [b]\n  hamiltonian:\n    - {detuning: b, value: D}\n"
    "    - {drive: b, value: F}\n  dissipators:\n    - {rate: kappa, L: {b: 1}}\n"
    "axes: [{name: t, values: [0, 1]}]\nfixed: {D: 0, F: 0.7, kappa: 0.3}\n"
    "merit: {charge: [0.5, 0.9, 0.99]}\n";

static void test_closed(void) {
  qb_config c;
  parse(single, &c);
  const qb_model *m = c.model;
  double u = 1.25;
  for (int it = 0; it < 50; it++)
    u -= (exp(u) - 1 - 2 * u) / (exp(u) - 2);
  const double kappas[4] = {0.3, 1.0, 1e-3, 40.0};
  for (int j = 0; j < 4; j++) {
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    memcpy(p, c.fixed, sizeof p);
    const double k = kappas[j], F = 0.7, ess = 4 * F * F / (k * k);
    set(m, p, "kappa", k);
    qb_model_eval(m, p, NULL, out);
    CHECK_CLOSE("E_b_ss", out[fi(m, "E_b_ss")], ess, 1e-13, 0, "kappa %g", k);
    CHECK_CLOSE("P_avg_max", out[fi(m, "P_avg_max")], ess * pow(1 - exp(-u), 2) * k / (2 * u),
                1e-12, 0, "kappa %g", k);
    CHECK_CLOSE("t_P_avg_max", out[fi(m, "t_P_avg_max")], 2 * u / k, 1e-9, 0, "kappa %g", k);
    for (int i = 0; i < 3; i++) {
      char name[32];
      snprintf(name, sizeof name, "t_charge_%g", 100 * X[i]);
      CHECK_CLOSE(name, out[fi(m, name)], -2 / k * log(1 - sqrt(X[i])), 1e-10, 0, "kappa %g", k);
    }
    CHECK("no merit bit", ((uint32_t)out[m->nfields - 1] & (3u << 16)) == 0, "kappa %g: %g", k,
          out[m->nfields - 1]);
  }
  qb_config_free(&c);
}

/* A parameter given by an expression over t (directly, through a symbol, or t itself an
 * expression): the scan's E(t) would move the parameters with t, so every figure of merit is
 * NaN with merit_undefined (they were numbers with status 0 before, measured on E(t) of a
 * moving system against E_ss at t -> 0).  A symbol over t that feeds no parameter changes
 * nothing: the same bits as without it. */
static void undefined_over_t(void) {
  static const char *const cases[][2] = {
      {"", "kappa_a: \"0.1 + 0.01*t\""},
      {"symbols: [u]\n", "u: \"0.01*t\", kappa_a: \"0.1 + u\""},
      {"symbols: [s]\n", "s: 2, t: \"2*s\", kappa_a: 0.1"},
      {"symbols: [u]\n", "u: \"2*t\", kappa_a: 0.1"}, /* feeds nothing: defined */
      {"", "kappa_a: 0.1"}};
  double ref = NAN;
  for (int k = 4; k >= 0; k--) {
    char text[1024];
    snprintf(text, sizeof text,
             "model: shared\n%saxes: [{name: J, values: [0.2]}]\nfixed: {kappa_b: 0.2, Gamma: "
             "0.5, Delta: 0.1, %s%s}\nmerit: {charge: [0.5]}\n",
             cases[k][0], cases[k][1], strstr(cases[k][1], "t:") ? "" : ", t: 3");
    qb_config c;
    parse(text, &c);
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    memcpy(p, c.fixed, sizeof p);
    qb_model_eval(c.model, p, NULL, out);
    const uint32_t st = (uint32_t)out[c.model->nfields - 1];
    const double tc = out[fi(c.model, "t_charge_50")];
    if (k == 4) ref = tc;
    if (k >= 3)
      CHECK("over t, feeding nothing: defined", st == 0 && memcmp(&tc, &ref, 8) == 0 && tc > 0,
            "case %d: status %u, t_charge_50 %.17g (%.17g)", k, st, tc, ref);
    else
      CHECK("over t: merit_undefined, NaN",
            st == QB_PT_MERIT_UNDEFINED && isnan(tc) && isnan(out[fi(c.model, "P_avg_max")]),
            "case %d: status %u, t_charge_50 %g", k, st, tc);
    qb_config_free(&c);
  }
}

/* A point outside an expression's domain: status bad_expression alone (info), not merit_failed
 * (a failure bit it carried before), every figure of merit NaN. */
static void bad_expression_alone(void) {
  qb_config c;
  parse("model: shared\nsymbols: [s]\naxes: [{name: J, values: [0.2]}]\nfixed: {kappa_b: 0.2, "
        "Gamma: 0.5, Delta: 0.1, s: 0.5, kappa_a: \"s - 1\", t: 3}\nmerit: {charge: [0.5]}\n",
        &c);
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  memcpy(p, c.fixed, sizeof p);
  qb_model_eval(c.model, p, NULL, out);
  const uint32_t st = (uint32_t)out[c.model->nfields - 1];
  CHECK("bad expression: bit 15 alone", st == QB_PT_BAD_EXPRESSION, "status %u", st);
  CHECK("bad expression: NaN", isnan(out[fi(c.model, "t_charge_50")]), "t_charge_50");
  qb_config_free(&c);
}

static void test_undefined(void) {
  qb_config c;
  parse("model: ep\naxes: [{name: t, values: [1]}]\nfixed: {delta_r: 0.4, alpha: 0.3, gamma_b: "
        "0.5}\nfields: [t_charge_90]\n",
        &c);
  const qb_model *m = c.model;
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  memcpy(p, c.fixed, sizeof p);
  qb_model_eval(m, p, NULL, out);
  const uint32_t st = (uint32_t)out[m->nfields - 1];
  CHECK("unstable ep: merit_undefined", (st & QB_PT_MERIT_UNDEFINED) && !(st & QB_PT_MERIT_FAILED),
        "status %u", st);
  CHECK("unstable ep: NaN", isnan(out[fi(m, "t_charge_90")]) && isnan(out[fi(m, "P_avg_max")]),
        "ep");
  set(m, p, "alpha", 1.0), set(m, p, "gamma_b", 1.5);
  qb_model_eval(m, p, NULL, out);
  CHECK("stable ep: no merit bit", ((uint32_t)out[m->nfields - 1] & (3u << 16)) == 0, "%g",
        out[m->nfields - 1]);
  CHECK("stable ep: values", isfinite(out[fi(m, "t_charge_90")]), "ep");
  qb_config_free(&c);
  char text[1024];
  snprintf(text, sizeof text, "%s", single);
  memcpy(strstr(text, "F: 0.7") + 3, "0.0", 3); /* no drive */
  parse(text, &c);
  memcpy(p, c.fixed, sizeof p);
  qb_model_eval(c.model, p, NULL, out);
  CHECK("no drive: merit_undefined",
        ((uint32_t)out[c.model->nfields - 1] & (3u << 16)) == QB_PT_MERIT_UNDEFINED, "status %g",
        out[c.model->nfields - 1]);
  CHECK("no drive: NaN", isnan(out[fi(c.model, "t_P_avg_max")]), "network");
  set(c.model, p, "kappa", 0); /* lossless: not stable */
  qb_model_eval(c.model, p, NULL, out);
  CHECK("lossless: merit_undefined", ((uint32_t)out[c.model->nfields - 1] & QB_PT_MERIT_UNDEFINED),
        "status %g", out[c.model->nfields - 1]);
  qb_config_free(&c);
  undefined_over_t();
  bad_expression_alone();
}

/* A row along t against points, with want w (NULL: all), and the base fields against the base. */
static void row_vs_points(const qb_model *m, const qb_model *b, const double *p, const bool *w) {
  enum { N = 7 };
  const double t[N] = {0, 1e-3, 0.5, 1, 3, 10, 200};
  double row[N * QB_MAX_FIELDS], pt[QB_MAX_FIELDS], brow[N * QB_MAX_FIELDS], q[QB_MAX_PARAMS];
  qb_model_eval_row(m, p, m->row_axis, t, N, w, row);
  qb_model_eval_row(b, p, b->row_axis, t, N, w, brow); /* w covers the base's first fields */
  memcpy(q, p, sizeof q);
  for (int j = 0; j < N; j++) {
    q[m->row_axis] = t[j];
    qb_model_eval(m, q, w, pt);
    CHECK("row == point bitwise", memcmp(pt, row + j * m->nfields, (size_t)m->nfields * 8) == 0,
          "%s t = %g", m->name, t[j]);
    CHECK("base fields == base bitwise",
          memcmp(brow + j * b->nfields, row + j * m->nfields, (size_t)(b->nfields - 1) * 8) == 0,
          "%s t = %g", m->name, t[j]);
    CHECK("merit fields equal along the row",
          memcmp(row + m->nfields - 3, row + (j + 1) * m->nfields - 3, 16) == 0, "%s", m->name);
  }
}

static void test_rows(void) {
  const char *texts[4][2] = {
      {"model: ep\naxes: [{name: t, values: [1]}]\nfixed: {delta_r: 0.4, alpha: 1, gamma_b: 1.5}\n",
       "merit: {charge: [0.9, 0.3]}\n"},
      {"model: shared\naxes: [{name: t, values: [1]}]\nfixed: {Delta: 0.2, Gamma: 0.3, kappa_a: "
       "0.1, kappa_b: 0.2}\n",
       "merit: {}\n"},
      {"model: threemode\naxes: [{name: t, values: [1]}]\nfixed: {delta: 0.1, kappa_a: 0.2, "
       "kappa_b: 0.3, kappa_c: 1, Gamma: 0.4}\n",
       "fields: [E_B, t_P_avg_max, t_charge_90]\n"},
      {single, ""}};
  for (int i = 0; i < 4; i++) {
    char text[2048];
    qb_config cw, cb;
    snprintf(text, sizeof text, "%s%s", texts[i][0], texts[i][1]);
    parse(text, &cw);
    snprintf(text, sizeof text, "%s", texts[i][0]);
    char *mk = strstr(text, "merit:");
    if (mk) *mk = '\0';
    parse(text, &cb);
    bool w[QB_MAX_FIELDS];
    for (int f = 0; f < cw.model->nfields; f++)
      w[f] = f % 3 != 1;
    row_vs_points(cw.model, cb.model, cw.fixed, NULL);
    row_vs_points(cw.model, cb.model, cw.fixed, w);
    qb_config_free(&cw);
    qb_config_free(&cb);
  }
}

static void test_config(void) {
  qb_config c;
  parse("model: ep\naxes: [{name: t, values: [1]}]\nfixed: {delta_r: 0.4, alpha: 1, gamma_b: "
        "1.5}\n",
        &c);
  CHECK("no merit: the base model", c.model == qb_model_find("ep") && !c.merit, "ep");
  qb_config_free(&c);
  parse("model: shared\naxes: [{name: t, values: [1]}]\nfixed: {Delta: 0.2, kappa_a: 0.1, "
        "kappa_b: 0.2}\nmerit: {charge: [0.995, 0.1, 0.000001], scan: 64}\n",
        &c);
  const char *names[] = {"t_charge_99p5", "t_charge_10", "t_charge_0p0001", "P_avg_max", "status"};
  for (int i = 0; i < 5; i++)
    CHECK("field name", qb_model_field_index(c.model, names[i]) >= 0, "%s", names[i]);
  CHECK("status last", strcmp(c.model->fields[c.model->nfields - 1].name, "status") == 0, "shared");
  CHECK("normalized",
        strstr(c.normalized, "merit: {charge: [0.995, 0.10000000000000001, "
                             "9.9999999999999995e-07], scan: 64}") != NULL,
        "%s", c.normalized);
  qb_config_free(&c);
}

int main(int argc, char **argv) {
  qb_test_select(argc, argv);
  QB_PART("brute", test_brute());
  QB_PART("closed", test_closed());
  QB_PART("undefined", test_undefined());
  QB_PART("rows", test_rows());
  QB_PART("config", test_config());
  return qb_test_report(qb_test_name);
}
