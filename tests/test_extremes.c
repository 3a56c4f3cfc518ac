/* Extreme parameter values (the issue tracker's hostile `qbmap point` examples and more of the same
 * class), for every model: each case checks the correct value (closed form, steady state or a
 * limit known exactly) or NaN with the specific status bit, or that the value is refused with the
 * "outside the range where the kernels are verified" message.
 *   examples   the four reported examples, literally, and their in-range counterparts
 *   ranges     every parameter's verified range: refused just outside, evaluated at the bound;
 *              out-of-range values reaching a kernel directly give QB_PT_BAD_PARAM with finite
 *              int32 fields (-1)
 *   ep         magnitudes up to 1e12 without cancellation, t up to 1e250, EPs, marginal and
 *              Pi = 0 points, drives and thresholds at 1e-100 and 1e100, underflow and overflow
 *   shared     huge t, scale invariance over 400 decades, overflowing energies, huge drives
 *   threemode  huge t, scale invariance, a decoupled slow mode, the realizability margin
 * Usage: test_extremes [examples|ranges|ep|shared|threemode|all] */
#include <complex.h>
#include <float.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_bind.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static const qb_model *model(const char *name) {
  return qb_model_find(name);
}

static int fi(const qb_model *m, const char *f) {
  return qb_model_field_index(m, f);
}

static uint32_t status(const qb_model *m, const double *out) {
  return (uint32_t)out[m->nfields - 1];
}

/* Evaluates model m at "name=value ..." (defaults for the rest), without the range check of
 * the parser (the kernel's own check applies). */
static void eval_str(const qb_model *m, const char *args, double *out) {
  double p[QB_MAX_PARAMS];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(m, p, given);
  char buf[2048];
  snprintf(buf, sizeof buf, "%s", args);
  for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
    char *eq = strchr(tok, '=');
    *eq = '\0';
    int i = qb_model_param_index(m, tok);
    if (i < 0) {
      printf("test bug: unknown parameter %s\n", tok);
      continue;
    }
    p[i] = strtod(eq + 1, NULL);
  }
  qb_model_eval(m, p, NULL, out);
  uint32_t undeclared = status(m, out) & ~qb_model_status_mask(m);
  CHECK("status bits declared by the model", undeclared == 0, "%s: bits %#x", args, undeclared);
}

/* The mask of model m's status bit `word` (as in the file's flag_meanings). */
static uint32_t bit(const qb_model *m, const char *word) {
  uint32_t b = qb_model_status_bit(m, word);
  if (!b) QB_SETUP_FATAL("model %s declares no status bit '%s'", m->name, word);
  return b;
}

/* `qbmap point` argument parsing: returns the error message ("" if accepted). */
static const char *point_msg(const char *line) {
  static char msg[2048];
  char buf[2048], *argv[32];
  int argc = 0;
  snprintf(buf, sizeof buf, "%s", line);
  for (char *tok = strtok(buf, " "); tok && argc < 32; tok = strtok(NULL, " "))
    argv[argc++] = tok;
  const qb_model *m;
  double p[QB_MAX_PARAMS];
  msg[0] = '\0';
  const qb_model *bound = NULL;
  if (qb_config_parse_point(argc, argv, NULL, &m, &bound, p, msg, sizeof msg) == QB_OK)
    msg[0] = '\0';
  qb_bind_free(bound);
  return msg;
}

/* the int32 fields are finite integers; with QB_PT_BAD_PARAM every float field is NaN */
static void check_int_fields(const qb_model *m, const double *out, const char *where) {
  for (int k = 0; k < m->nfields; k++) {
    double v = out[k];
    if (m->fields[k].dtype == QB_I32)
      CHECK("int32 field finite integer", isfinite(v) && v == floor(v) && fabs(v) <= INT32_MAX,
            "%s: %s = %g", where, m->fields[k].name, v);
    else if (status(m, out) & QB_PT_BAD_PARAM)
      CHECK("float field NaN with bad parameter", isnan(v), "%s: %s = %g", where, m->fields[k].name,
            v);
  }
}

/* value v is x to rtol, or NaN with one of the bits */
static void close_or_flag(const char *what, const qb_model *m, const double *out, const char *f,
                          double ref, double rtol, double atol, uint32_t bits, const char *where) {
  double v = out[fi(m, f)];
  if (isnan(v)) {
    CHECK(what, (status(m, out) & bits) != 0, "%s: %s NaN without an allowed bit (status %u)",
          where, f, status(m, out));
    return;
  }
  CHECK_CLOSE(what, v, ref, rtol, atol, "%s: %s", where, f);
}

#define NELEM(a) ((int)(sizeof(a) / sizeof *(a)))

/* A field under the scale c of a scale-free model (rates and drives times c, t / c): the field
 * times c^-power is unchanged, to rtol, atol. */
typedef struct {
  const char *field;
  int power; /* 0, 1 or -1 */
  double rtol, atol;
} scaled_field;

/* Scale invariance of model m at names[k] = v[k] (rates and drives, and t) plus `rest`: at every
 * c of cs[nc] (each keeping the values in their verified ranges) every field of sf[nsf] scales as
 * it says and the status is unchanged.  (c a power of 10: exact only up to rounding.) */
static void check_scaling(const qb_model *m, const char *const *names, const double *v, int nv,
                          const char *rest, const double *cs, int nc, const scaled_field *sf,
                          int nsf) {
  double out[QB_MAX_FIELDS], ref[QB_MAX_FIELDS];
  for (int k = -1; k < nc; k++) { /* k = -1: the reference, c = 1 */
    double c = k < 0 ? 1.0 : cs[k];
    char a[512], msg[512];
    size_t used = 0;
    bool in_range = true;
    for (int i = 0; i < nv; i++) {
      double x = strcmp(names[i], "t") == 0 ? v[i] / c : v[i] * c;
      int ip = qb_test_index(qb_model_param_index(m, names[i]), "parameter", names[i]);
      in_range = in_range && qb_model_check_value(m, ip, x, msg, sizeof msg) == QB_OK;
      used += (size_t)snprintf(a + used, sizeof a - used, "%s=%.17g ", names[i], x);
    }
    snprintf(a + used, sizeof a - used, "%s", rest);
    CHECK("scale c in the verified range", in_range, "%s c = %g: %s", m->name, c, msg);
    eval_str(m, a, k < 0 ? ref : out);
    if (k < 0) continue;
    for (int j = 0; j < nsf; j++) {
      double x = out[fi(m, sf[j].field)];
      x = sf[j].power == 1 ? x / c : sf[j].power == -1 ? x * c : x;
      CHECK_CLOSE("scale invariance", x, ref[fi(m, sf[j].field)], sf[j].rtol, sf[j].atol,
                  "%s.%s (power %d) at c = %g", m->name, sf[j].field, sf[j].power, c);
    }
    CHECK("scaled status unchanged", status(m, out) == status(m, ref), "%s c = %g: %u vs %u",
          m->name, c, status(m, out), status(m, ref));
  }
}

/* ---- the reported examples ---------------------------------------------------------------- */

static void test_examples(void) {
  const qb_model *ep = model("ep");
  double out[QB_MAX_FIELDS];
  /* 1. delta_r = 1e160 gave growth -1 (-0.5 here), "not stable" and regime "EP": refused now */
  const char *msg = point_msg("ep delta_r=1e160 alpha=0 gamma_b=0.5");
  CHECK("delta_r = 1e160 refused by point",
        strstr(msg, "parameter 'delta_r' = 1e+160 is outside the range where the kernels are "
                    "verified; allowed: -1e+12 <= delta_r <= 1e+12") != NULL,
        "message '%s'", msg);
  eval_str(ep, "delta_r=1e160 alpha=0 gamma_b=0.5", out);
  CHECK("delta_r = 1e160 in the kernel: bad parameter", status(ep, out) == QB_PT_BAD_PARAM,
        "status %u", status(ep, out));
  check_int_fields(ep, out, "delta_r=1e160");
  /* in range, the same kind of point: growth exactly -gamma_b, stable, not an EP; steady state
   * E_B = 1/|Pi|^2 with Pi = gb^2 + dr^2 - 1 */
  double drs[] = {1e6, 1e9, 1e12, -1e12};
  for (int k = 0; k < 4; k++) {
    char a[128];
    snprintf(a, sizeof a, "delta_r=%.17g alpha=0 gamma_b=0.5 t=1", drs[k]);
    eval_str(ep, a, out);
    CHECK_CLOSE("large delta_r: growth = -gamma_b", out[fi(ep, "growth_rate")], -0.5, 0, 1e-15,
                "%s", a);
    CHECK("large delta_r: regime stable", out[fi(ep, "regime")] == 0, "%s: regime %g", a,
          out[fi(ep, "regime")]);
    CHECK("large delta_r: no not-stable bit", !(status(ep, out) & QB_PT_NOT_STABLE), "%s", a);
    double pi = 0.25 + drs[k] * drs[k] - 1;
    CHECK_CLOSE("large delta_r: E_B_ss = 1/Pi^2", out[fi(ep, "E_B_ss")], 1 / (pi * pi), 1e-12, 0,
                "%s", a);
    CHECK_CLOSE("large delta_r: E_A_ss = (gb^2 + dr^2)/Pi^2", out[fi(ep, "E_A_ss")],
                (0.25 + drs[k] * drs[k]) / (pi * pi), 1e-12, 0, "%s", a);
    /* E_B(t = 1): interference of terms with phases delta_r t ~ 1e12 is resolvable only to
     * eps delta_r t: a value with a consistent logarithm, or NaN with the time bit */
    double eb = out[fi(ep, "E_B")], lb = out[fi(ep, "log_E_B")];
    CHECK("large delta_r: E_B(t) finite with log_E_B = ln E_B, or NaN with the time bit",
          (eb > 0 && isfinite(eb) && fabs(lb - log(eb)) <= 1e-12 * fabs(lb)) ||
              (isnan(eb) && (status(ep, out) & QB_PT_T_UNRESOLVED)),
          "%s: %g %g", a, eb, lb);
  }

  /* 2. t = 1e308 gave E_B = 0 with status ok: refused now; at the largest t (1e250) every model's
   * stable point is at its steady state */
  msg = point_msg("ep delta_r=0.5 alpha=0.3 gamma_b=0.5 t=1e308");
  CHECK("t = 1e308 refused by point",
        strstr(msg, "parameter 't' = 1e+308 is outside the range where the kernels are verified; "
                    "allowed: 0 <= t <= 1e+250") != NULL,
        "message '%s'", msg);
  const char *stable[] = {
      "ep delta_r=0.5 alpha=1 gamma_b=0.5",
      "ep delta_r=2 alpha=0 gamma_b=1e-10",
      "ep delta_r=1 alpha=0 gamma_b=0.5",
      "ep delta_r=1e12 alpha=1e12 gamma_b=1e-3",
      "shared Delta=0 kappa_a=0.05 kappa_b=0.01 Gamma=0.4",
      "shared Delta=0.3 kappa_a=0.05 kappa_b=0.01 J=0.2 F=3",
      "threemode delta=0 kappa_a=0.1 kappa_b=0.1 kappa_c=1 Gamma=1",
      "threemode delta=0.3 delta_c=2 kappa_a=1e-6 kappa_b=1e-5 kappa_c=1e4 Gamma=1 p_a=0.1"};
  double ts[] = {1e250, 1e200, 1e100, 1e30};
  for (size_t k = 0; k < sizeof stable / sizeof *stable; k++)
    for (int j = 0; j < 4; j++) {
      char name[32], a[512];
      sscanf(stable[k], "%31s", name);
      const qb_model *m = model(name);
      snprintf(a, sizeof a, "%s t=%g", stable[k] + strlen(name) + 1, ts[j]);
      eval_str(m, a, out);
      double ea = out[fi(m, "E_A")], eb = out[fi(m, "E_B")];
      double eas = out[fi(m, "E_A_ss")], ebs = out[fi(m, "E_B_ss")];
      CHECK("huge t: steady state exists", isfinite(ebs) && ebs > 0, "%s %s", name, a);
      CHECK_CLOSE("huge t: E_B = E_B_ss", eb, ebs, 1e-12, 0, "%s %s", name, a);
      CHECK_CLOSE("huge t: E_A = E_A_ss", ea, eas, 1e-12, 0, "%s %s", name, a);
      CHECK("huge t: status has no time bit", !(status(m, out) & QB_PT_T_UNRESOLVED),
            "%s %s: status %u", name, a, status(m, out));
      int fp = fi(m, "P_B");
      if (fp >= 0) CHECK("huge t: P_B = 0", out[fp] == 0, "%s %s: %g", name, a, out[fp]);
    }

  /* 3. alpha: 1e308 cast a NaN regime/realizable to int32: refused, and in the kernel every int32
   * field is finite (-1) */
  msg = point_msg("ep delta_r=0.5 alpha=1e308 gamma_b=0.5");
  CHECK("alpha = 1e308 refused by point",
        strstr(msg, "parameter 'alpha' = 1e+308 is outside the range") != NULL, "message '%s'",
        msg);
  const char *bad[] = {"ep delta_r=0.5 alpha=1e308 gamma_b=0.5",
                       "ep delta_r=0.5 gamma_a=1e308 gamma_b=0.5",
                       "ep delta_r=0.5 alpha=8e307 gamma_b=8e307",
                       "ep delta_r=0.5 alpha=0 gamma_b=0.5 t=1e308",
                       "ep delta_r=0.5 alpha=0 gamma_b=0.5 E_max=1e308 E_r=1e10",
                       "ep delta_r=nan alpha=0 gamma_b=0.5",
                       "ep delta_r=0 alpha=inf gamma_b=0.5",
                       "shared Delta=1e200 kappa_a=1 kappa_b=1",
                       "shared Delta=0 kappa_a=1 kappa_b=1 t=1e308",
                       "threemode delta=0 kappa_a=1 kappa_b=1 kappa_c=1 Gamma=1 p_a=1e200",
                       "threemode delta=0 kappa_a=1 kappa_b=1 kappa_c=1e308 Gamma=1"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char name[32];
    sscanf(bad[k], "%31s", name);
    const qb_model *m = model(name);
    eval_str(m, bad[k] + strlen(name) + 1, out);
    CHECK("out of range in the kernel: bad parameter", status(m, out) == QB_PT_BAD_PARAM,
          "%s: status %u", bad[k], status(m, out));
    check_int_fields(m, out, bad[k]);
  }
  /* in range: alpha = 1e12 (the growth rate is -gamma_b + Re 1/(w + z): no cancellation) */
  eval_str(ep, "delta_r=0.5 alpha=1e12 gamma_b=0.5 t=1", out);
  {
    double complex z = CMPLX(1e12, 0.5), w = csqrt(1 + z * z);
    double g = -0.5 + creal(1.0 / (w + z));
    CHECK_CLOSE("alpha = 1e12: growth", out[fi(ep, "growth_rate")], g, 1e-15, 0, "alpha=1e12");
    CHECK("alpha = 1e12: regime stable, realizable",
          out[fi(ep, "regime")] == 0 && out[fi(ep, "realizable")] == 1, "regime %g realizable %g",
          out[fi(ep, "regime")], out[fi(ep, "realizable")]);
  }
  eval_str(ep, "delta_r=0 alpha=-5e11 gamma_b=1e12 t=1", out); /* gamma_a = 0 */
  CHECK("alpha = -1e12, gamma_b = 1e12: growth rate tiny, marginal",
        fabs(out[fi(ep, "growth_rate")]) < 1e-9 && out[fi(ep, "regime")] == 1, "growth %g",
        out[fi(ep, "growth_rate")]);

  /* 4. t_crit = inf without a status bit (E_max E_r^2 overflowed): refused; in range t_crit is
   * finite with E_B(t_crit) = E_max E_r^2, or NaN with its bit */
  msg = point_msg("ep delta_r=0.5 alpha=0 gamma_b=0.5 E_max=1e308 E_r=1e10");
  CHECK("E_max = 1e308 refused by point",
        strstr(msg, "parameter 'E_max' = 1e+308 is outside the range where the kernels are "
                    "verified; allowed: 1e-100 <= E_max <= 1e+100") != NULL,
        "message '%s'", msg);
  const char *tc[] = {"delta_r=0.5 alpha=0 gamma_b=0.5 E_max=1e100 E_r=1e100",
                      "delta_r=0.5 alpha=0 gamma_b=0.5 E_max=1e-100 E_r=1e-100",
                      "delta_r=0.5 alpha=0 gamma_b=0.5 E_max=1e100 E_r=1e-100",
                      "delta_r=0 alpha=0 gamma_b=-1e12 E_max=1e100 E_r=1e100",
                      "delta_r=1 alpha=0 gamma_b=-1e-12 E_max=1e100",
                      "delta_r=0.8 alpha=0 gamma_b=0.6 E_max=1e6",
                      "delta_r=0 alpha=0.75 gamma_b=0.5 E_max=1e100",
                      "delta_r=1 alpha=0 gamma_b=0 E_max=1e-100"};
  for (size_t k = 0; k < sizeof tc / sizeof *tc; k++) {
    eval_str(ep, tc[k], out);
    double t = out[fi(ep, "t_crit")];
    uint32_t st = status(ep, out);
    CHECK("t_crit never infinite", !isinf(t), "%s", tc[k]);
    CHECK("t_crit_approx never infinite", !isinf(out[fi(ep, "t_crit_approx")]), "%s", tc[k]);
    if (isnan(t)) {
      CHECK("t_crit NaN with its bit", st & (bit(ep, "tcrit_never") | bit(ep, "tcrit_failed")),
            "%s", tc[k]);
      continue;
    }
    double emax, er = 1;
    sscanf(strstr(tc[k], "E_max=") + 6, "%lf", &emax);
    if (strstr(tc[k], "E_r=")) sscanf(strstr(tc[k], "E_r=") + 4, "%lf", &er);
    char a[512];
    snprintf(a, sizeof a, "%s t=%.17g", tc[k], t);
    double o2[QB_MAX_FIELDS];
    eval_str(ep, a, o2);
    CHECK_CLOSE("E_B(t_crit) = E_max E_r^2 (logarithms)", o2[fi(ep, "log_E_B")],
                log(emax) + 2 * log(er), 0, 1e-9 * fmax(1, fabs(log(emax) + 2 * log(er))), "%s", a);
  }
  /* the marginal EP with gamma_b = 0: b = E_r t^2/2 exactly, so t_crit = (4 E_max)^(1/4) */
  eval_str(ep, "delta_r=1 alpha=0 gamma_b=0 E_max=1e-100", out);
  CHECK_CLOSE("EP, gamma_b = 0: t_crit = (4 E_max)^(1/4)", out[fi(ep, "t_crit")], pow(4e-100, 0.25),
              1e-9, 0, "E_max=1e-100");
  eval_str(ep, "delta_r=1 alpha=0 gamma_b=0 E_max=1e100", out);
  CHECK_CLOSE("EP, gamma_b = 0: t_crit = (4 E_max)^(1/4)", out[fi(ep, "t_crit")], pow(4e100, 0.25),
              1e-9, 0, "E_max=1e100");
}

/* ---- the verified ranges ------------------------------------------------------------------ */

static void test_ranges(void) {
  struct {
    const char *line, *expect;
  } refused[] = {
      {"ep delta_r=1.0000001e12 alpha=0 gamma_b=1", "allowed: -1e+12 <= delta_r <= 1e+12"},
      {"ep delta_r=0 alpha=-2e12 gamma_b=1", "allowed: -1e+12 <= alpha <= 1e+12"},
      {"ep delta_r=0 gamma_a=2e12 gamma_b=1", "allowed: -1e+12 <= gamma_a <= 1e+12"},
      {"ep delta_r=0 alpha=0 gamma_b=-2e12", "allowed: -1e+12 <= gamma_b <= 1e+12"},
      {"ep delta_r=0 alpha=0 gamma_b=1 E_r=1e-101", "allowed: 1e-100 <= E_r <= 1e+100"},
      {"ep delta_r=0 alpha=0 gamma_b=1 E_r=1e101", "allowed: 1e-100 <= E_r <= 1e+100"},
      {"ep delta_r=0 alpha=0 gamma_b=1 E_max=1e-300", "allowed: 1e-100 <= E_max <= 1e+100"},
      {"ep delta_r=0 alpha=0 gamma_b=1 t=1e251", "allowed: 0 <= t <= 1e+250"},
      {"shared Delta=2e6 kappa_a=1 kappa_b=1", "allowed: -1e+06 <= Delta <= 1e+06"},
      {"shared Delta=0 kappa_a=1 kappa_b=1 J=1.5e6", "allowed: 0 <= J <= 1e+06"},
      {"shared Delta=0 kappa_a=1 kappa_b=1 Gamma=1e7", "allowed: 0 <= Gamma <= 1e+06"},
      {"shared Delta=0 kappa_a=1e7 kappa_b=1", "allowed: 0 <= kappa_a <= 1e+06"},
      {"shared Delta=0 kappa_a=1 kappa_b=1 p_b=1001", "allowed: 0 <= p_b <= 1000"},
      {"shared Delta=0 kappa_a=1 kappa_b=1 F=1e-301", "allowed: 1e-300 <= F <= 1e+300"},
      {"threemode delta=0 kappa_a=1 kappa_b=1 kappa_c=1 Gamma=1 p_cb=2e3",
       "allowed: 0 <= p_cb <= 1000"},
      {"threemode delta=0 delta_c=-3e6 kappa_a=1 kappa_b=1 kappa_c=1 Gamma=1",
       "allowed: -1e+06 <= delta_c <= 1e+06"},
      {"threemode delta=0 kappa_a=1 kappa_b=1 kappa_c=1 Gamma=1 E=2e300",
       "allowed: 1e-300 <= E <= 1e+300"},
      {"threemode delta=0 kappa_a=1 kappa_b=1 kappa_c=1 Gamma=1 t=1e300",
       "allowed: 0 <= t <= 1e+250"},
  };
  for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
    const char *msg = point_msg(refused[k].line);
    CHECK("refused with the range in the message",
          strstr(msg, "is outside the range where the kernels are verified") &&
              strstr(msg, refused[k].expect),
          "%s: '%s'", refused[k].line, msg);
  }
  /* the existing messages are unchanged */
  CHECK("negative t",
        strstr(point_msg("ep delta_r=0 alpha=0 gamma_b=1 t=-1"),
               "parameter 't' = -1 is negative; allowed: t >= 0") != NULL,
        "t=-1");
  CHECK("zero E_max",
        strstr(point_msg("ep delta_r=0 alpha=0 gamma_b=1 E_max=0"),
               "parameter 'E_max' = 0 is not positive; allowed: E_max > 0") != NULL,
        "E_max=0");
  /* every model, every parameter: at its bounds accepted and evaluated without unexplained
   * NaN in growth_rate; just beyond refused, and a bad parameter in the kernel */
  for (int mi = 0; qb_models[mi]; mi++) {
    const qb_model *m = qb_models[mi];
    for (int i = 0; i < m->nparams; i++) {
      const qb_param *q = &m->params[i];
      if (q->max == 0) continue;
      double vals[2] = {q->max, nextafter(q->max, INFINITY)};
      for (int j = 0; j < 2; j++) {
        char msg[512];
        qb_err e = qb_model_check_value(m, i, vals[j], msg, sizeof msg);
        CHECK(j ? "beyond the bound refused" : "the bound accepted", (e == QB_OK) == (j == 0),
              "%s.%s = %.17g: %s", m->name, q->name, vals[j], e ? msg : "ok");
        double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
        bool given[QB_MAX_PARAMS];
        qb_model_defaults(m, p, given);
        for (int k = 0; k < m->nparams; k++) /* every required parameter: 1 (alpha for ep) */
          if (isnan(p[k]) && strcmp(m->params[k].name, "gamma_a")) p[k] = 1.0;
        p[i] = vals[j];
        if (!strcmp(q->name, "gamma_a")) p[qb_model_param_index(m, "alpha")] = NAN;
        qb_model_eval(m, p, NULL, out);
        CHECK(j ? "beyond the bound: bad parameter" : "at the bound: evaluated",
              ((status(m, out) & QB_PT_BAD_PARAM) != 0) == (j == 1), "%s.%s = %.17g: status %u",
              m->name, q->name, vals[j], status(m, out));
        check_int_fields(m, out, q->name);
      }
    }
  }
}

/* ---- ep ------------------------------------------------------------------------------------ */

static void test_ep(void) {
  const qb_model *m = model("ep");
  double out[QB_MAX_FIELDS];
  /* magnitudes up to 1e12: growth = -gamma_b + Re 1/(w + z) for alpha >= 0 (exactly -gamma_b +
   * alpha/(2|z|^2) to leading order); the eigenvalues sum to -2s */
  double mags[] = {1e3, 1e6, 1e9, 1e12};
  for (int k = 0; k < 4; k++)
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      double al = mags[k], dr = sgn * 0.3 * mags[k], gb = 0.25;
      char a[256];
      snprintf(a, sizeof a, "delta_r=%.17g alpha=%.17g gamma_b=%.17g t=0", dr, al, gb);
      eval_str(m, a, out);
      long double z2r = (long double)al * al - (long double)dr * dr + 1, z2i = 2.0L * al * dr;
      double complex w = csqrt(CMPLX((double)z2r, (double)z2i)), z = CMPLX(al, dr);
      double g = -gb + creal(1.0 / (w + z));
      CHECK_CLOSE("large alpha: growth without cancellation", out[fi(m, "growth_rate")], g, 1e-13,
                  1e-15, "%s", a);
      CHECK_CLOSE("large alpha: lambda_- imaginary part", out[fi(m, "lambda_minus_im")],
                  -2 * (al + gb) - g, 1e-14, 0, "%s", a);
      CHECK("large alpha: stable", out[fi(m, "regime")] == 0, "%s", a);
      /* E_B at t = 1e4: a decayed transient (rates >= 0.25): the steady state */
      snprintf(a, sizeof a, "delta_r=%.17g alpha=%.17g gamma_b=%.17g t=1e4", dr, al, gb);
      eval_str(m, a, out);
      CHECK_CLOSE("large alpha: E_B(1e4) = E_B_ss", out[fi(m, "E_B")], out[fi(m, "E_B_ss")], 1e-12,
                  0, "%s", a);
    }
  /* growing points at t far beyond overflow: E_B = inf with the overflow bit, log_E_B finite and
   * equal to 2 (growth t + ln|D+|) (dominant mode, D+ = E_r/(2 w mu+)) */
  double gts[] = {1e3, 1e10, 1e100, 1e250};
  for (int k = 0; k < 4; k++) {
    char a[256];
    snprintf(a, sizeof a, "delta_r=0.5 alpha=0 gamma_b=0.25 t=%g", gts[k]);
    eval_str(m, a, out);
    double w = sqrt(0.75), g = w - 0.25;
    double ref = 2 * (g * gts[k] + log(1 / (2 * w * g)));
    CHECK("growing, huge t: E_B inf with the overflow bit",
          isinf(out[fi(m, "E_B")]) && (status(m, out) & QB_PT_OVERFLOW), "%s", a);
    CHECK_CLOSE("growing, huge t: log_E_B", out[fi(m, "log_E_B")], ref, 1e-13, 0, "%s", a);
  }
  /* EP (alpha = 0, delta_r = 1) with gamma_b = 0: b = E_r t^2/2 exactly, at every t and E_r */
  double ets[] = {1e-200, 1e-50, 1e-3, 1, 1e3, 1e50};
  double ers[] = {1e-100, 1, 1e100};
  for (int k = 0; k < 6; k++)
    for (int j = 0; j < 3; j++) {
      char a[256];
      snprintf(a, sizeof a, "delta_r=1 alpha=0 gamma_b=0 E_r=%g t=%g", ers[j], ets[k]);
      eval_str(m, a, out);
      double lref = 2 * log(ers[j]) + 4 * log(ets[k]) - log(4.0);
      close_or_flag("EP: log_E_B = ln(E_r^2 t^4/4)", m, out, "log_E_B", lref, 1e-12, 0,
                    QB_PT_T_UNRESOLVED, a);
      double eb = out[fi(m, "E_B")];
      if (lref < -745)
        CHECK("EP: E_B below the double range is 0 (or subnormal)", eb >= 0 && eb < 1e-300, "%s",
              a);
      else if (lref > 709.8)
        CHECK("EP: E_B beyond the range is inf with the overflow bit",
              isinf(eb) && (status(m, out) & QB_PT_OVERFLOW), "%s", a);
      else
        close_or_flag("EP: E_B = E_r^2 t^4/4", m, out, "E_B", exp(lref), 1e-11, 0,
                      QB_PT_T_UNRESOLVED, a);
      /* P_B = E_r^2 t^3 */
      double pref = 2 * log(ers[j]) + 3 * log(ets[k]);
      double pb = out[fi(m, "P_B")];
      if (pref > -700 && pref < 700)
        close_or_flag("EP: P_B = E_r^2 t^3", m, out, "P_B", exp(pref), 1e-11, 0, QB_PT_T_UNRESOLVED,
                      a);
      else if (pref <= -745)
        CHECK("EP: P_B below the range", isnan(pb) || fabs(pb) < 1e-300, "%s: %g", a, pb);
    }
  /* Pi = 0 (delta_r = 0, gamma_a gamma_b = 1): one eigenvalue 0, b = E_r [t/S - (1 - e^{-St})/S^2],
   * S = gamma_a + gamma_b */
  double pts_[] = {1e-3, 1, 1e3, 1e6};
  for (int k = 0; k < 4; k++) {
    char a[256];
    snprintf(a, sizeof a, "delta_r=0 gamma_a=2 gamma_b=0.5 t=%g", pts_[k]);
    eval_str(m, a, out);
    double S = 2.5, t = pts_[k], b = t / S + expm1(-S * t) / (S * S);
    close_or_flag("Pi = 0: E_B", m, out, "E_B", b * b, 1e-9, 0, QB_PT_T_UNRESOLVED, a);
    CHECK("Pi = 0: marginal", out[fi(m, "regime")] == 1, "%s", a);
  }
  /* underflow: tiny drive and t; the energies may be 0 but never their logarithm */
  eval_str(m, "delta_r=0.3 alpha=0.2 gamma_b=0.7 E_r=1e-100 t=1e-100", out);
  CHECK("tiny E_r and t: log_E_B finite", isfinite(out[fi(m, "log_E_B")]), "log_E_B %g",
        out[fi(m, "log_E_B")]);
  CHECK_CLOSE("tiny t: log_E_B = ln(E_r^2 t^4/4)", out[fi(m, "log_E_B")],
              2 * log(1e-100) + 4 * log(1e-100) - log(4.0), 1e-12, 0, "tiny");
  /* huge drive: steady states up to 1e200 times the unit ones */
  eval_str(m, "delta_r=0 alpha=1 gamma_b=1 E_r=1e100 t=1e3", out);
  CHECK_CLOSE("E_r = 1e100: E_B = E_r^2/Pi^2", out[fi(m, "E_B")], 1e200 / 4.0, 1e-12, 0, "E_r");
  CHECK("E_r = 1e100: no flag",
        status(m, out) == (bit(m, "tcrit_never") | bit(m, "approx_outside")), "status %u",
        status(m, out));
  /* a marginal oscillation at t ~ 1/eps: the phase is not resolvable, so NaN with the bit (not a
   * random number) */
  eval_str(m, "delta_r=2 alpha=0 gamma_b=0 t=1e20", out);
  CHECK("marginal oscillation, t = 1e20: E_B NaN with the time bit",
        isnan(out[fi(m, "E_B")]) && (status(m, out) & QB_PT_T_UNRESOLVED), "E_B %g status %u",
        out[fi(m, "E_B")], status(m, out));
  eval_str(m, "delta_r=2 alpha=0 gamma_b=0 t=1e4", out);
  {
    /* b = E_r (1 - cos(w t))/(-det)... with s = 0: b = [1 - cos(Om t)]/Om^2, Om^2 = 3 */
    double om = sqrt(3.0), b = (1 - cos(om * 1e4)) / 3.0;
    CHECK_CLOSE("marginal oscillation, t = 1e4: E_B", out[fi(m, "E_B")], b * b, 1e-9, 1e-15,
                "t=1e4");
  }
}

/* ---- shared ------------------------------------------------------------------------------ */

static void test_shared(void) {
  const qb_model *m = model("shared");
  double out[QB_MAX_FIELDS];
  /* scale invariance: rates x c, F x c, t / c leave every energy unchanged, Delta_opt and
   * growth_rate scale with c, P_B with c */
  {
    const char *names[] = {"Delta", "J", "Gamma", "kappa_a", "kappa_b", "F", "t"};
    const double v[] = {0.1, 0.2, 0.4, 0.05, 0.01, 0.1, 50.0}, cs[] = {1e-200, 1e-100, 1e-20, 1e6};
    const scaled_field sf[] = {
        {"E_A_ss", 0, 1e-10, 0},    {"E_B_ss", 0, 1e-10, 0},           {"E_A", 0, 1e-10, 0},
        {"E_B", 0, 1e-10, 0},       {"E_B_at_Delta_opt", 0, 1e-10, 0}, {"E_B_supopt", 0, 1e-10, 0},
        {"E_single", 0, 1e-10, 0},  {"E_B_opt_coh", 0, 1e-10, 0},      {"G_B", 0, 1e-10, 0},
        {"Delta_opt", 1, 1e-10, 0}, {"growth_rate", 1, 1e-10, 0},      {"P_B", 1, 1e-8, 0}};
    check_scaling(m, names, v, NELEM(v), "phi=0.4 p_a=1.3 p_b=0.7", cs, NELEM(cs), sf, NELEM(sf));
  }
  /* the energies leave the double range: inf with the overflow bit, differences NaN explained */
  eval_str(m, "Delta=0 kappa_a=1e-200 kappa_b=1 Gamma=1 F=1e100 t=1", out);
  CHECK("tiny kappa_a, huge F: E_single inf with the overflow bit",
        isinf(out[fi(m, "E_single")]) && (status(m, out) & QB_PT_OVERFLOW), "status %u",
        status(m, out));
  for (int k = 0; k < m->nfields - 1; k++)
    if (isinf(out[k]))
      CHECK("every inf flagged", status(m, out) & QB_PT_OVERFLOW, "%s", m->fields[k].name);
  /* huge drive with a decayed transient: P_B ~ e^{2gt} still representable */
  eval_str(m, "Delta=0 kappa_a=1 kappa_b=1 J=0.5 F=1e100 t=300", out);
  {
    double pb = out[fi(m, "P_B")];
    CHECK("huge F, late t: P_B finite or flagged",
          isfinite(pb) || (status(m, out) & QB_PT_T_UNRESOLVED), "P_B %g", pb);
    CHECK_CLOSE("huge F, late t: E_B = E_B_ss", out[fi(m, "E_B")], out[fi(m, "E_B_ss")], 1e-12, 0,
                "F=1e100");
  }
  /* a marginal point (no loss on the battery, no coupling through the reservoir): E_B grows
   * without bound; at t ~ 1/eps not resolvable */
  eval_str(m, "Delta=0 kappa_a=1 kappa_b=0 J=0 Gamma=0 t=1e250", out);
  CHECK("decoupled undamped battery, t = 1e250: E_B = 0 or NaN with the time bit",
        out[fi(m, "E_B")] == 0 ||
            (isnan(out[fi(m, "E_B")]) && (status(m, out) & QB_PT_T_UNRESOLVED)),
        "E_B %g status %u", out[fi(m, "E_B")], status(m, out));
  CHECK("decoupled undamped battery: not stable", status(m, out) & QB_PT_NOT_STABLE, "status %u",
        status(m, out));
  /* kappa_b = 0 but coupled to the lossy charger: stable, at its steady state */
  eval_str(m, "Delta=0 kappa_a=1 kappa_b=0 J=1 Gamma=0 t=1e250", out);
  CHECK_CLOSE("undamped battery coupled to a lossy charger: E_B(1e250) = E_B_ss", out[fi(m, "E_B")],
              out[fi(m, "E_B_ss")], 1e-12, 0, "J=1");
}

/* ---- threemode ----------------------------------------------------------------------------- */

static void test_threemode(void) {
  const qb_model *m = model("threemode");
  double out[QB_MAX_FIELDS];
  char a[512];
  /* scale invariance: rates x c, E x c, t / c leave the energies and the reduced (ep) parameters
   * unchanged, growth_rate scales with c, time_unit with 1/c */
  {
    const char *names[] = {"delta", "delta_c", "kappa_a", "kappa_b", "kappa_c", "Gamma", "E", "t"};
    const double v[] = {0.1, 0.3, 0.01, 0.02, 5.0, 1.0, 0.01, 7.0};
    const double cs[] = {1e-200, 1e-100, 1e-20, 1e5};
    const scaled_field sf[] = {{"E_A_ss", 0, 1e-9, 1e-12},
                               {"E_B_ss", 0, 1e-9, 1e-12},
                               {"E_A", 0, 1e-9, 1e-12},
                               {"E_B", 0, 1e-9, 1e-12},
                               {"log_E_B", 0, 1e-9, 1e-12},
                               {"gamma_a_red", 0, 1e-9, 1e-12},
                               {"gamma_b_red", 0, 1e-9, 1e-12},
                               {"delta_r_red", 0, 1e-9, 1e-12},
                               {"realizable_margin", 0, 1e-9, 1e-12},
                               {"E_B_ss_red", 0, 1e-9, 1e-12},
                               {"E_B_red", 0, 1e-9, 1e-12},
                               {"elimination_error_t", 0, 1e-9, 1e-12},
                               {"growth_rate", 1, 1e-9, 0},
                               {"time_unit", -1, 1e-12, 0}};
    check_scaling(m, names, v, NELEM(v), "p_a=0.7 p_ca=1.2 p_ca_phase=0.5", cs, NELEM(cs), sf,
                  NELEM(sf));
  }
  /* a decoupled, nearly undamped battery mode (rate 1e-277) next to a real charger mode: the
   * growth rate is the battery's (the real form's double eigenvalue must not hide it) */
  eval_str(m,
           "delta=0.00095 delta_c=0 kappa_a=1e-6 kappa_b=0 kappa_c=6e-6 Gamma=1.8e-277 "
           "p_a=0.735 p_b=0.75 p_ca=0.0008 p_cb=0 t=1",
           out);
  CHECK("decoupled slow mode: growth rate is its rate (not the charger's -5e-7)",
        fabs(out[fi(m, "growth_rate")]) < 1e-200, "growth %g", out[fi(m, "growth_rate")]);
  /* the realizability margin: exactly 0 without local losses and delta_c = 0, >= 0 otherwise,
   * and relatively accurate where gamma_a gamma_b -> 1 (closed form: kappa_c small) */
  eval_str(m, "delta=0.3 kappa_a=0 kappa_b=0 kappa_c=0 Gamma=2 p_a=0.7 p_b=1.3 p_ca=0.9 t=1", out);
  CHECK("margin exactly 0 without losses", out[fi(m, "realizable_margin")] == 0, "margin %.17g",
        out[fi(m, "realizable_margin")]);
  double kcs[] = {1e-3, 1e-6, 1e-9, 1e-12, 1e-15};
  for (int k = 0; k < 5; k++) {
    snprintf(a, sizeof a,
             "delta=0.3 kappa_a=0 kappa_b=0 kappa_c=%g Gamma=2 p_a=0.7 p_b=1.3 p_ca=0.9 t=1",
             kcs[k]);
    eval_str(m, a, out);
    /* delta_c = 0, kappa_a = kappa_b = 0: margin = W/(D al be) = 2 kc/(al be) (relative to c):
     * = 2 kappa_c c/(Gamma^2 |p_ca|^2 |p_cb|^2) with c = K_c/2 */
    double Kc = kcs[k] + 2 * (0.81 + 1), c = Kc / 2;
    double ref_m = 2 * kcs[k] * c / (4 * 0.81 * 1);
    CHECK_CLOSE("margin near the realizability boundary", out[fi(m, "realizable_margin")], ref_m,
                1e-12, 0, "kappa_c = %g", kcs[k]);
  }
  /* huge delta_c against a tiny K_c: dc^2 beyond the range, no NaN */
  eval_str(m,
           "delta=0 delta_c=0.02 kappa_a=1e-268 kappa_b=1e-173 kappa_c=0 Gamma=3801 p_a=0.35 "
           "p_b=1e-12 p_ca=8e-92 p_cb=1e-120 t=600",
           out);
  CHECK("tiny K_c, delta_c: margin inf with the overflow bit",
        isinf(out[fi(m, "realizable_margin")]) && (status(m, out) & QB_PT_OVERFLOW), "margin %g",
        out[fi(m, "realizable_margin")]);
  /* tiny t: x_b ~ t^3 below the range, log_E_B from the series */
  eval_str(m, "delta=0 kappa_a=1 kappa_b=1 kappa_c=1 Gamma=1 E=1 t=1e-150", out);
  {
    /* x_b = M_bc M_ca f t^3/6 + ..., M_bc = M_ca = -Gamma/2 (p = 1, no phases), f = -iE */
    double lref = 2 * (log(0.25) + 3 * log(1e-150) - log(6.0));
    close_or_flag("tiny t: log_E_B = ln|M_bc M_ca E t^3/6|^2", m, out, "log_E_B", lref, 1e-12, 0,
                  QB_PT_T_UNRESOLVED, "t=1e-150");
  }
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  const char *which = argc > 1 ? argv[1] : "all";
  int all = !strcmp(which, "all");
  if (all || !strcmp(which, "examples")) test_examples();
  if (all || !strcmp(which, "ranges")) test_ranges();
  if (all || !strcmp(which, "ep")) test_ep();
  if (all || !strcmp(which, "shared")) test_shared();
  if (all || !strcmp(which, "threemode")) test_threemode();
  return qb_test_report("extremes");
}
