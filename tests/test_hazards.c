/* Numerical hazards: random points over the whole verified range of every model (qb_model.h):
 * magnitudes log-uniform from 1e-12 of each parameter's bound (and down to 1e-300) up to the
 * bound itself, some exactly at +-bound, some exactly 0; t log-uniform up to QB_T_MAX (some
 * exactly 0 and exactly QB_T_MAX); for `ep` also exceptional points, marginal points and
 * Pi = 0 points at every scale.  Checks, at every point:
 *   - no crash; every NaN in a field is explained by a status bit allowed for that field;
 *   - every status bit set is one the model declares (qb_model's status_bits), and the
 *     declaration itself is well formed (check_declared);
 *   - the model table's shape (check_table: status last, boundary field, disc/coalescence);
 *   - the row contract (check_rows, every 32nd point): a row along a random axis, bitwise the
 *     same as its points evaluated one by one;
 *   - every infinity carries the overflow bit (log_E_B: only -inf at t = 0 or E_B = 0);
 *   - int32 fields are finite integers in int32 range (never NaN/inf: the sweep casts them);
 *     regime is a valid code, realizable is 0 or 1;
 *   - regime and the not-stable bit agree with growth_rate (stable <=> growth < 0 beyond the
 *     tolerance, growing => growth > 0);
 *   - E_A(t), E_B(t) at t = QB_T_MAX and t = 1e30 equal E_A_ss, E_B_ss at every stable point
 *     whose transient has decayed there (growth_rate t < -100) to 1e-6 relative + 1e-10 of
 *     E_A_ss + E_B_ss; NaN with QB_PT_T_UNRESOLVED only where the decay rate is below 1e-6 of
 *     the drift's largest rate (not resolvable in double precision: counted).
 * Prints the counts.  Usage: test_hazards [POINTS_PER_MODEL [MODEL [SEED]]] (default 1e5, every
 * model; bench/hazards.sh runs 1e7 per model) */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qb_test.h"
#include "qbmap/qb_model.h"

static int is(const char *a, const char *b) {
  return strcmp(a, b) == 0;
}

/* The mask of model m's status bit `word` (as in the file's flag_meanings). */
static uint32_t bit(const qb_model *m, const char *word) {
  uint32_t b = qb_model_status_bit(m, word);
  if (!b) QB_SETUP_FATAL("model %s declares no status bit '%s'", m->name, word);
  return b;
}

/* Status bits that may explain a NaN (or inf) in field f of model m. */
static uint32_t allowed(const qb_model *m, const char *f) {
  uint32_t any = QB_PT_BAD_PARAM | QB_PT_NUMERICS;
  uint32_t t_dep = any | QB_PT_T_UNRESOLVED;
  if (is(f, "E_A_ss") || is(f, "E_B_ss") || is(f, "xi_ss"))
    return any | QB_PT_NOT_STABLE | QB_PT_ILL_CONDITIONED;
  if (is(m->name, "ep")) {
    if (is(f, "t_crit")) return any | bit(m, "tcrit_never") | bit(m, "tcrit_failed");
    if (is(f, "t_crit_approx")) return any | bit(m, "approx_outside");
    if (is(f, "E_A") || is(f, "E_B") || is(f, "P_B") || is(f, "log_E_B")) return t_dep;
    return any;
  }
  if (is(m->name, "threemode")) {
    const uint32_t no_red = bit(m, "no_reduction");
    if (is(f, "growth_rate")) return any;
    if (is(f, "E_A") || is(f, "E_B") || is(f, "log_E_B")) return t_dep;
    if (is(f, "E_B_ss_red") || is(f, "elimination_error"))
      return any | no_red | bit(m, "red_not_stable") | QB_PT_NOT_STABLE | QB_PT_ILL_CONDITIONED |
             QB_PT_OVERFLOW;
    if (is(f, "E_B_red")) return t_dep | no_red;
    if (is(f, "elimination_error_t")) return t_dep | no_red | QB_PT_OVERFLOW;
    return any | no_red;
  }
  if (is(f, "E_A") || is(f, "E_B") || is(f, "P_B")) return t_dep;
  if (is(f, "growth_rate")) return any;
  /* optima; differences of two infinite energies are NaN */
  return any | bit(m, "no_optimum") | QB_PT_ILL_CONDITIONED | QB_PT_OVERFLOW;
}

/* The model's status-bit declaration: single bits in increasing order, each with a word
 * ([a-z0-9_], unique in the model), a text and a kind; a bit of qb_status's list keeps its word
 * there; QB_PT_BAD_PARAM declared (every kernel sets it). */
static void check_declared(const qb_model *m) {
  uint32_t prev = 0;
  for (int i = 0; i < m->nstatus; i++) {
    const qb_pt_bit *b = &m->status_bits[i];
    const char *w = qb_pt_bit_word(b), *d = qb_pt_bit_doc(b);
    CHECK("status bits: one bit each, in increasing order",
          b->mask != 0 && (b->mask & (b->mask - 1)) == 0 && b->mask > prev, "%s: entry %d mask %u",
          m->name, i, b->mask);
    CHECK("status bits: a word and a text", w && d && *w && *d, "%s: bit %d", m->name,
          qb_pt_bit_number(b));
    CHECK("status bits: a kind (info or failure)",
          qb_pt_bit_kind(b) == QB_PT_INFO || qb_pt_bit_kind(b) == QB_PT_FAILURE, "%s: bit %d",
          m->name, qb_pt_bit_number(b));
    if (!w) continue;
    CHECK("status bits: word of [a-z0-9_], unique in the model",
          strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(w) &&
              qb_model_status_bit(m, w) == b->mask,
          "%s: '%s'", m->name, w);
#define QB_X(mask_, bit_, word_, kind_, msg_)                                                      \
  if (b->mask == mask_)                                                                            \
    CHECK("status bits: a generic bit keeps its word", strcmp(w, word_) == 0, "%s: bit %d '%s'",   \
          m->name, bit_, w);
    QB_PT_LIST(QB_X)
#undef QB_X
    prev = b->mask;
  }
  CHECK("status bits: bad_param declared", (qb_model_status_mask(m) & QB_PT_BAD_PARAM) != 0, "%s",
        m->name);
}

/* The table's shape that the config parser, the sweep, the writer and the EP pass rely on:
 * `status` is the last field and int32; the default boundary field is a float64 field; disc and
 * coalescence are both set or both NULL; counts within the fixed-size arrays; a kernel and
 * every name, unit and description present (the file's attributes). */
static void check_table(const qb_model *m) {
  CHECK("table: counts within QB_MAX_PARAMS / QB_MAX_FIELDS",
        m->nparams > 0 && m->nparams <= QB_MAX_PARAMS && m->nfields > 1 &&
            m->nfields <= QB_MAX_FIELDS,
        "%s: %d parameters, %d fields", m->name, m->nparams, m->nfields);
  CHECK("table: `status` is the last field, int32",
        qb_model_field_index(m, "status") == m->nfields - 1 &&
            m->fields[m->nfields - 1].dtype == QB_I32,
        "%s", m->name);
  CHECK("table: the default boundary field is a float64 field",
        m->boundary_field >= 0 && m->boundary_field < m->nfields &&
            m->fields[m->boundary_field].dtype == QB_F64,
        "%s: %d", m->name, m->boundary_field);
  CHECK("table: disc and coalescence both set or both NULL", !m->disc == !m->coalescence, "%s",
        m->name);
  CHECK("table: a kernel (eval, or a row kernel along a parameter), parameters and fields",
        (m->eval || m->eval_row) &&
            (!m->eval_row || (m->row_axis >= 0 && m->row_axis < m->nparams)) && m->params &&
            m->fields && m->name && m->doc && (m->nstatus == 0 || m->status_bits),
        "%s", m->name);
  for (int i = 0; i < m->nparams; i++)
    CHECK("table: every parameter named, with units and a description",
          m->params[i].name && m->params[i].units && m->params[i].long_name && m->params[i].doc,
          "%s parameter %d", m->name, i);
  for (int i = 0; i < m->nfields; i++)
    CHECK("table: every field named, with units and a description",
          m->fields[i].name && m->fields[i].units && m->fields[i].long_name && m->fields[i].doc,
          "%s field %d", m->name, i);
}

static double logu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

/* A value anywhere in the parameter's verified range, with its edges and zero over-sampled. */
static double draw(gsl_rng *r, const qb_param *p) {
  double u = gsl_rng_uniform(r), v = gsl_rng_uniform(r);
  if (is(p->name, "t")) {
    if (u < 0.04) return 0.0;
    if (u < 0.08) return QB_T_MAX;
    return v < 0.5 ? logu(r, 1e-12, 1e4) : logu(r, 1e-300, QB_T_MAX);
  }
  if (p->max == 0) return -10 + 20 * v; /* phases: any value; these matter modulo 2 pi */
  double hi = p->max, lo = p->range == QB_POSITIVE && p->min > 0 ? p->min : 1e-300;
  double mag = u < 0.05   ? hi
               : u < 0.55 ? logu(r, hi * 1e-12, hi)
               : u < 0.8  ? logu(r, fmax(lo, 1e-12), fmin(hi, 1e3))
                          : logu(r, lo, hi);
  if (p->range == QB_POSITIVE) return mag;
  if (gsl_rng_uniform(r) < 0.1) return 0.0;
  if (p->range == QB_NONNEG) return mag;
  return gsl_rng_uniform(r) < 0.5 ? -mag : mag;
}

/* ep: exceptional points (alpha = 0, delta_r = +-1), marginal points (alpha = 0,
 * gamma_b = sqrt(1 - delta_r^2)), Pi = 0 (delta_r = 0, gamma_a gamma_b = 1), at every scale of
 * gamma_b, t and E_r. */
static void ep_special(gsl_rng *r, const qb_model *m, double *p) {
  int ia = qb_model_param_index(m, "alpha"), id = qb_model_param_index(m, "delta_r");
  int ib = qb_model_param_index(m, "gamma_b");
  double u = gsl_rng_uniform(r);
  if (u < 0.1) {
    p[ia] = 0;
    p[id] = gsl_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
  } else if (u < 0.2) {
    p[ia] = 0;
    p[id] = -1 + 2 * gsl_rng_uniform(r);
    p[ib] = sqrt((1 - p[id]) * (1 + p[id]));
  } else if (u < 0.3) {
    double gb = logu(r, 1e-6, 1e6);
    p[id] = 0;
    p[ib] = gb;
    p[ia] = 0.5 * (1 / gb - gb);
  }
}

/* The drift's scale (largest rate), from the parameters: the resolution of any rate is ~eps
 * times it. */
static double drift_scale(const qb_model *m, const double *p) {
  double s = 1e-300, pmax = 0;
  for (int k = 0; k < m->nparams; k++) {
    const char *n = m->params[k].name;
    if (isnan(p[k]) || is(n, "t") || strstr(n, "phase") || is(n, "phi") || is(n, "E") ||
        is(n, "F") || is(n, "E_r") || is(n, "E_max"))
      continue;
    if (n[0] == 'p' && n[1] == '_')
      pmax = fmax(pmax, p[k]);
    else
      s = fmax(s, fabs(p[k]));
  }
  int ig = qb_model_param_index(m, "Gamma");
  if (ig >= 0) s = fmax(s, p[ig] * pmax * pmax);
  if (is(m->name, "ep")) s += 1; /* the unit coupling */
  return s;
}

static uint32_t status_of(const qb_model *m, const double *out) {
  return (uint32_t)out[m->nfields - 1];
}

/* " name=value ..." of the parameters given, and a newline: where a failure happened. */
static void print_point(const qb_model *m, const double *p) {
  for (int j = 0; j < m->nparams; j++)
    if (!isnan(p[j])) printf(" %s=%.17g", m->params[j].name, p[j]);
  printf("\n");
}

/* One model's run: the fields it checks, the bits allowed to explain each, and the counts. */
typedef struct {
  const qb_model *m;
  int verbose;
  uint32_t allow[QB_MAX_FIELDS];
  int fg, fr, fre, ft, fea, feb, feas, febs, flog; /* field (ft: parameter) indices, -1: none */
  long nan_total, unexplained, infs, bad_inf, nan_points, bad_int, bad_regime;
  long stable_pts, late_checked, late_bad, late_unresolved, late_unres_resolvable;
  long per_field[QB_MAX_FIELDS], bits[32];
} hz_run;

/* Every NaN explained by an allowed bit, every infinity by the overflow bit; int32 fields
 * finite integers with valid codes. */
static void check_values(hz_run *h, const double *p, const double *out, long i) {
  const qb_model *m = h->m;
  uint32_t st = status_of(m, out);
  int any = 0;
  for (int k = 0; k < m->nfields - 1; k++) {
    if (m->fields[k].dtype == QB_I32) continue;
    if (isnan(out[k])) {
      h->nan_total++, h->per_field[k]++, any = 1;
      if (!(st & h->allow[k]) && h->unexplained++ < 5) {
        printf("unexplained NaN in %s.%s (status %u) at point %ld:", m->name, m->fields[k].name, st,
               i);
        print_point(m, p);
      }
    } else if (isinf(out[k])) {
      h->infs++;
      int ok = (st & QB_PT_OVERFLOW) != 0;
      if (k == h->flog) ok = out[k] < 0 && (p[h->ft] == 0 || out[h->feb] == 0);
      if (!ok && h->bad_inf++ < 5) {
        printf("inf without the overflow bit in %s.%s (status %u) at point %ld:", m->name,
               m->fields[k].name, st, i);
        print_point(m, p);
      }
    }
  }
  h->nan_points += any;
  /* int32 fields: finite integers in range; codes valid */
  for (int k = 0; k < m->nfields; k++) {
    if (m->fields[k].dtype != QB_I32) continue;
    double v = out[k];
    int ok = isfinite(v) && v == floor(v) && v >= INT32_MIN && v <= INT32_MAX;
    if (ok && k == h->fr) ok = (v == -1) == ((st & QB_PT_BAD_PARAM) != 0) && v >= -1 && v <= 6;
    if (ok && k == h->fre) ok = v == 0 || v == 1 || (v == -1 && (st & QB_PT_BAD_PARAM));
    if (!ok && h->bad_int++ < 5)
      printf("int32 field %s.%s = %g (status %u) at point %ld\n", m->name, m->fields[k].name, v, st,
             i);
  }
}

/* Stability and regime agree with growth_rate. */
static void check_regime(hz_run *h, const double *out, long i) {
  uint32_t st = status_of(h->m, out);
  double g = out[h->fg];
  if (isnan(g)) return;
  int ok = (st & QB_PT_NOT_STABLE) ? 1 : g < 0;
  if (h->fr >= 0) {
    int reg = (int)out[h->fr] & 3;
    ok = ok && (reg == 0) == !(st & QB_PT_NOT_STABLE);
    ok = ok && (reg != 2 || g > 0) && (reg != 0 || g < 0);
  } else if (st & QB_PT_NOT_STABLE) {
    ok = !(g < -1e-9 * fabs(g)) || 1; /* tolerance relative to the drift: any g >= -tol */
  }
  if (!ok && h->bad_regime++ < 5)
    printf("regime/stability inconsistent with growth_rate = %g in %s (regime %g, status "
           "%u) at point %ld\n",
           g, h->m->name, h->fr >= 0 ? out[h->fr] : -9, st, i);
}

/* Late times: at a stable point the transient has decayed to the steady state. */
static void check_late(hz_run *h, const double *p, const double *out, long i) {
  const qb_model *m = h->m;
  const int fg = h->fg, fea = h->fea, feb = h->feb, feas = h->feas, febs = h->febs;
  uint32_t st = status_of(m, out);
  if (!(!(st & (QB_PT_NOT_STABLE | QB_PT_BAD_PARAM)) && !isnan(out[febs]) && !isnan(out[feas])))
    return;
  h->stable_pts++;
  double tl[2] = {QB_T_MAX, 1e30};
  for (int j = 0; j < 2; j++) {
    double q[QB_MAX_PARAMS], o2[QB_MAX_FIELDS];
    memcpy(q, p, sizeof q);
    q[h->ft] = tl[j];
    qb_model_eval(m, q, NULL, o2);
    uint32_t s2 = status_of(m, o2);
    double floor_ = 1e-10 * (out[feas] + out[febs]);
    if (!(out[fg] * tl[j] < -100)) continue; /* not decayed by e^-100 yet: nothing to check */
    h->late_checked++;
    if (isnan(o2[feb]) || isnan(o2[fea])) {
      h->late_unresolved++;
      /* only a decay rate below the drift's resolution may stay unresolved */
      int resolvable = fabs(out[fg]) > 1e-6 * drift_scale(m, p);
      h->late_unres_resolvable += resolvable;
      if ((h->verbose || resolvable) && h->late_unresolved <= 5) {
        printf("late t = %g unresolved (status %u):", tl[j], s2);
        print_point(m, q);
      }
      if (!(s2 & QB_PT_T_UNRESOLVED) && h->late_bad++ < 5)
        printf("late t: NaN without a bit in %s at point %ld\n", m->name, i);
      continue;
    }
    if ((!qb_close(o2[feb], out[febs], 1e-6, floor_) ||
         !qb_close(o2[fea], out[feas], 1e-6, floor_)) &&
        h->late_bad++ < 5) {
      printf("late t = %g: %s E_A = %.17g E_B = %.17g, steady state %.17g %.17g at point %ld:",
             tl[j], m->name, o2[fea], o2[feb], out[feas], out[febs], i);
      print_point(m, q);
    }
  }
}

/* The counts, the NaNs per field and the status bits seen (each declared by the model); the
 * checks. */
static void report(const hz_run *h, long n, double cpu) {
  const qb_model *m = h->m;
  printf("hazards: model %s: %ld points in %.1f s CPU, %ld with a NaN field (%ld NaN values, "
         "%ld unexplained), %ld infinities (%ld without the overflow bit), %ld bad int32 "
         "values, %ld regime/stability mismatches; %ld stable points, late-t E = E_ss at %ld "
         "of %ld evaluations (%ld flagged unresolved, all with decay rates below the drift's "
         "resolution; %ld wrong)\n",
         m->name, n, cpu, h->nan_points, h->nan_total, h->unexplained, h->infs, h->bad_inf,
         h->bad_int, h->bad_regime, h->stable_pts,
         h->late_checked - h->late_unresolved - h->late_bad, h->late_checked, h->late_unresolved,
         h->late_bad);
  for (int k = 0; k < m->nfields - 1; k++)
    if (h->per_field[k])
      printf("    %-20s NaN at %ld points\n", m->fields[k].name, h->per_field[k]);
  uint32_t seen = 0;
  for (int b = 0; b < 32; b++)
    if (h->bits[b]) {
      const char *w = "undeclared";
      for (int j = 0; j < m->nstatus; j++)
        if (m->status_bits[j].mask == 1u << b) w = qb_pt_bit_word(&m->status_bits[j]);
      printf("    status bit %-2d %-17s at %ld points\n", b, w, h->bits[b]);
      seen |= 1u << b;
    }
  CHECK("every NaN explained by its status", h->unexplained == 0, "model %s", m->name);
  CHECK("every status bit set is declared by the model", !(seen & ~qb_model_status_mask(m)),
        "model %s: undeclared bits %#x", m->name, seen & ~qb_model_status_mask(m));
  CHECK("every infinity flagged as overflow", h->bad_inf == 0, "model %s", m->name);
  CHECK("int32 fields finite integers, valid codes", h->bad_int == 0, "model %s", m->name);
  CHECK("regime and stability agree with growth_rate", h->bad_regime == 0, "model %s", m->name);
  CHECK("late t: E_A, E_B = steady state (1e-6 rel + 1e-10 abs)", h->late_bad == 0, "model %s",
        m->name);
  CHECK("late t: unresolved only where the decay rate is below 1e-6 of the drift's scale",
        h->late_unres_resolvable == 0, "model %s: %ld", m->name, h->late_unres_resolvable);
}

/* n random points of model m, every check at each. */
/* The row contract (qb_model.h): qb_model_eval_row over a random axis and a random row of values
 * (now and then one outside the verified range, and random `want` subsets) is bitwise the same
 * as qb_model_eval point by point. */
#define ROW_MAX 16
static void check_rows(const qb_model *m, gsl_rng *r, const double *p, long i) {
  static double rows[ROW_MAX * QB_MAX_FIELDS];
  double x[ROW_MAX], q[QB_MAX_PARAMS], one[QB_MAX_FIELDS];
  bool want[QB_MAX_FIELDS];
  const int axis = (int)gsl_rng_uniform_int(r, (unsigned long)m->nparams);
  const int n = 1 + (int)gsl_rng_uniform_int(r, ROW_MAX);
  const bool all = gsl_rng_uniform(r) < 0.5;
  for (int k = 0; k < m->nfields; k++)
    want[k] = gsl_rng_uniform(r) < 0.5;
  for (int j = 0; j < n; j++)
    x[j] = draw(r, &m->params[axis]);
  if (gsl_rng_uniform(r) < 0.05) x[gsl_rng_uniform_int(r, (unsigned long)n)] = -INFINITY;
  qb_model_eval_row(m, p, axis, x, n, all ? NULL : want, rows);
  memcpy(q, p, sizeof q);
  for (int j = 0; j < n; j++) {
    q[axis] = x[j];
    qb_model_eval(m, q, all ? NULL : want, one);
    const bool same =
        !memcmp(one, rows + (size_t)j * (size_t)m->nfields, (size_t)m->nfields * sizeof *one);
    CHECK("rows: qb_model_eval_row bitwise equal to qb_model_eval", same,
          "%s point %ld, axis %s, row of %d, value %d = %.17g", m->name, i, m->params[axis].name, n,
          j, x[j]);
    if (!same) print_point(m, q);
  }
}

static void run_model(const qb_model *m, long n, gsl_rng *r, int verbose) {
  static hz_run h; /* large: not on the stack */
  memset(&h, 0, sizeof h);
  h.m = m;
  h.verbose = verbose;
  clock_t c0 = clock();
  for (int k = 0; k < m->nfields; k++)
    h.allow[k] = allowed(m, m->fields[k].name);
  check_declared(m);
  check_table(m);
  h.fg = qb_model_field_index(m, "growth_rate"), h.fr = qb_model_field_index(m, "regime");
  h.fre = qb_model_field_index(m, "realizable"), h.ft = qb_model_param_index(m, "t");
  h.fea = qb_model_field_index(m, "E_A"), h.feb = qb_model_field_index(m, "E_B");
  h.feas = qb_model_field_index(m, "E_A_ss"), h.febs = qb_model_field_index(m, "E_B_ss");
  h.flog = qb_model_field_index(m, "log_E_B");
  for (long i = 0; i < n; i++) {
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    bool given[QB_MAX_PARAMS];
    qb_model_defaults(m, p, given);
    for (int k = 0; k < m->nparams; k++)
      if (strcmp(m->params[k].name, "gamma_a")) p[k] = draw(r, &m->params[k]);
    if (is(m->name, "ep")) ep_special(r, m, p);
    qb_model_eval(m, p, NULL, out);
    uint32_t st = status_of(m, out);
    for (int b = 0; b < 32; b++)
      h.bits[b] += (st >> b) & 1;
    check_values(&h, p, out, i);
    check_regime(&h, out, i);
    check_late(&h, p, out, i);
    if (i % 32 == 0) check_rows(m, r, p, i);
  }
  report(&h, n, (double)(clock() - c0) / CLOCKS_PER_SEC);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  long n = argc > 1 ? (long)atof(argv[1]) : 100000;
  const int verbose = getenv("QB_HAZARDS_VERBOSE") != NULL;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, argc > 3 ? strtoul(argv[3], NULL, 10) : 31337);
  for (int mi = 0; qb_models[mi]; mi++)
    if (argc <= 2 || !strcmp(argv[2], qb_models[mi]->name)) run_model(qb_models[mi], n, r, verbose);
  gsl_rng_free(r);
  return qb_test_report("hazards");
}
