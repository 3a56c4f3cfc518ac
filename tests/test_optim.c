/* qb_optim (the config's `optimize:`) against independent computations.
 *   shared:    2000 random points of model shared (|J| <= 1, rates in [0.1, 1] or [0.1, 2],
 *              couplings and phases random), optimize Delta over [-5, 5] for E_B_ss: the
 *              wrapper's Delta_at_opt equals shared's closed-form Delta_opt to 1e-9 relative
 *              (absolute floor 1e-10) and its E_B_ss equals E_B_at_Delta_opt to 1e-9 relative
 *              (>= 1000 points compared; those with the optimum outside [-4.5, 4.5] skipped);
 *   brute:     threemode (delta, maximize E_B_ss; delta_c, minimize E_A_ss) and network
 *              (examples/network_threemode.yaml, delta): 4001-point dense scan of the
 *              objective with the base model; the optimum is within one dense step of the
 *              dense best and not worse than it (H(x_opt) >= H_dense (1 - 1e-12)); also an
 *              objective even in delta on a symmetric scan (two scan points tie exactly around
 *              the peak);
 *   global:    shared with two separated peaks of different heights (strong |J|) and a coarse
 *              scan of 8 points: over 300 random points, the reported optimum is the global one of
 *              the dense scan (to 1e-9 relative in the objective), and again with a scan placed
 *              so that a scan point is on the lower peak's top and the global peak lies midway
 *              between two scan points, both below it (misleading_step): the coarse scan's best
 *              point is on the lower peak there (at least 20 such cases required), the optimum
 *              must still be the global one;
 *   edge:      the optimum outside the range: x = lo exactly, status opt_edge;
 *   row:       rows along t (per-row optimum for E_B_ss; per-point for E_B) bitwise equal to
 *              points, for shared, threemode, network;
 *   fail:      objective undefined everywhere (shared with no loss: never stable): every field
 *              NaN, int32 -1, status not_stable;
 *   notunique: shared at Gamma = 0 (E_B_ss even in Delta): status opt_not_unique; a constant
 *              objective (E_single): not unique, at the range's larger end (opt_edge);
 *   hazards:   300 random points each of shared and threemode wrapped, rates 1e-3..1e3 (10%
 *              exactly 0), t in 1e-3..1e3: every NaN field comes with a status bit, every bit
 *              set is declared by the wrapper.
 *   eps:       the EP pass (qb_post_eps) on the wrapper's discriminant (the base's at the
 *              optimum): model ep with a symbol u optimized (delta_r = u, E_r = exp(-(u - c)^2/2),
 *              maximize E_B_ss over [-1, 3]) in the (c, alpha) plane, gamma_b in {2, 3}: at
 *              alpha = 0 the optimum solves c = u + 2u/(gamma_b^2 - 1 + u^2), so the one EP of
 *              each slice (alpha = 0, u = 1) is at c = 1 + 2/gamma_b^2.  Exactly one EP per slice,
 *              none rejected, at the closed form to 1e-9; and a brute-force optimum at the EP
 *              found (model ep alone: 40001-point dense scan, golden section to 1e-12) agrees
 *              with the wrapper's u_opt there to 1e-7 and gives |disc| <= 1e-7 of ep there;
 *   boundary:  the boundary pass (qb_post_boundaries) on an optimized field: shared, Delta
 *              maximizing E_B_ss, the level 0.12 of E_B_ss along J: one crossing per sign change
 *              of shared's closed-form E_B_at_Delta_opt - 0.12 on the grid (at least 4), and the
 *              closed form at each crossing equals 0.12 to 1e-9 relative.
 * Usage: test_optim [shared|brute|global|edge|row|fail|notunique|hazards|eps|boundary|all] */
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_optim.h"
#include "qbmap/qb_post.h"

#define PI 3.14159265358979323846
#define NDENSE 4001

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double uniform(double a, double b) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return a + (b - a) * (double)(rng >> 11) * 0x1p-53;
}

static void parse(const char *text, qb_config *cfg) {
  char msg[2048];
  if (qb_config_parse(text, "test", NULL, 0, cfg, msg, sizeof msg)) QB_SETUP_FATAL("%s", msg);
}

static int pidx(const qb_model *m, const char *name) {
  return qb_test_index(qb_model_param_index(m, name), "parameter", name);
}
static int fidx(const qb_model *m, const char *name) {
  return qb_test_index(qb_model_field_index(m, name), "field", name);
}
static void set(const qb_model *m, double *p, const char *name, double v) {
  p[pidx(m, name)] = v;
}

/* The base model's parameters for the wrapper's p and x. */
static void base_params(const qb_optim *o, const double *p, double x, double *q) {
  for (int i = 0, k = 0; i < o->base->nparams; i++)
    q[i] = i == o->param ? x : p[k++];
}

/* A random point of shared around its defaults (J up to jmax). */
static void shared_point(const qb_model *m, double *p, double jmax) {
  set(m, p, "J", uniform(0, jmax));
  set(m, p, "phi", uniform(0, 2 * PI));
  set(m, p, "Gamma", uniform(0.1, 2));
  set(m, p, "kappa_a", uniform(0.1, 1));
  set(m, p, "kappa_b", uniform(0.1, 1));
  set(m, p, "p_a", uniform(0.5, 1.5));
  set(m, p, "p_b", uniform(0.5, 1.5));
  set(m, p, "p_a_phase", uniform(0, 2 * PI));
  set(m, p, "p_b_phase", uniform(0, 2 * PI));
  set(m, p, "F", uniform(0.05, 1));
  set(m, p, "t", 1.0);
}

static const char shared_text[] = "model: shared\n"
                                  "optimize: {param: Delta, maximize: E_B_ss, range: [-5, 5]}\n"
                                  "axes: [{name: J, min: 0, max: 1, n: 2}]\n"
                                  "fixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0.5}\n";

static void part_shared(void) {
  qb_config cfg;
  parse(shared_text, &cfg);
  const qb_model *m = cfg.model;
  const int fd = fidx(m, "Delta_at_opt"), fo = fidx(m, "Delta_opt"), fe = fidx(m, "E_B_ss"),
            fr = fidx(m, "E_B_at_Delta_opt"), fs = m->nfields - 1;
  int compared = 0;
  double worst_d = 0, worst_e = 0;
  for (int k = 0; k < 2000; k++) {
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    memcpy(p, cfg.fixed, sizeof p);
    shared_point(m, p, 1.0);
    qb_model_eval(m, p, NULL, out);
    if (!(fabs(out[fo]) <= 4.5)) continue;
    compared++;
    const double ed = fabs(out[fd] - out[fo]) / fmax(fabs(out[fo]), 0.1);
    const double ee = fabs(out[fe] - out[fr]) / out[fr];
    worst_d = fmax(worst_d, ed), worst_e = fmax(worst_e, ee);
    CHECK_CLOSE("Delta_at_opt vs closed-form Delta_opt", out[fd], out[fo], 1e-9, 1e-10, "point %d",
                k);
    CHECK_CLOSE("E_B_ss at the optimum vs E_B_at_Delta_opt", out[fe], out[fr], 1e-9, 0, "point %d",
                k);
    CHECK("status 0 (or not unique)", ((uint32_t)out[fs] & ~(uint32_t)QB_PT_OPT_NOT_UNIQUE) == 0,
          "point %d status %g", k, out[fs]);
  }
  printf("shared: %d points compared; worst |dDelta|/max(|Delta_opt|, 0.1) = %.3g, worst "
         "relative E_B error = %.3g\n",
         compared, worst_d, worst_e);
  CHECK("at least 1000 points compared", compared >= 1000, "%d", compared);
  qb_config_free(&cfg);
}

/* The dense scan's best H = sign * objective and its x, by the base model. */
static double dense(const qb_optim *o, const double *p, double *xbest) {
  double best = -INFINITY, q[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  *xbest = NAN;
  for (int i = 0; i < NDENSE; i++) {
    const double x = o->lo + (o->hi - o->lo) * i / (NDENSE - 1);
    base_params(o, p, x, q);
    qb_model_eval(o->base, q, NULL, out);
    const double h = o->sign * out[o->field];
    if (h > best) best = h, *xbest = x;
  }
  return best;
}

/* The optimum at p against the dense scan. */
static void versus_dense(const qb_model *m, const double *p, const char *what, int k) {
  const qb_optim *o = m->ctx;
  double out[QB_MAX_FIELDS], xd = NAN;
  qb_model_eval(m, p, NULL, out);
  const double hd = dense(o, p, &xd), x = out[o->f_opt], h = o->sign * out[o->field];
  const double step = (o->hi - o->lo) / (NDENSE - 1);
  CHECK("optimum within one dense step of the dense best", fabs(x - xd) <= step,
        "%s point %d: x = %.17g, dense %.17g", what, k, x, xd);
  CHECK("optimum not worse than the dense best", h >= hd - 1e-12 * fabs(hd),
        "%s point %d: H = %.17g, dense %.17g", what, k, h, hd);
}

static void brute_config(const char *text, const char *what, int npts,
                         void (*point)(const qb_model *, double *)) {
  qb_config cfg;
  parse(text, &cfg);
  for (int k = 0; k < npts; k++) {
    double p[QB_MAX_PARAMS];
    memcpy(p, cfg.fixed, sizeof p);
    point(cfg.model, p);
    versus_dense(cfg.model, p, what, k);
  }
  qb_config_free(&cfg);
}

static void threemode_point(const qb_model *m, double *p) {
  const char *names[] = {"kappa_a", "kappa_b"};
  for (int i = 0; i < 2; i++)
    set(m, p, names[i], uniform(0.05, 0.5));
  if (qb_model_param_index(m, "delta") >= 0) set(m, p, "delta", uniform(-1, 1));
  if (qb_model_param_index(m, "delta_c") >= 0) set(m, p, "delta_c", uniform(-1, 1));
  set(m, p, "kappa_c", uniform(0.5, 3));
  set(m, p, "Gamma", uniform(0.3, 2));
  set(m, p, "p_a_phase", uniform(0, 2 * PI));
  set(m, p, "p_cb_phase", uniform(0, 2 * PI));
  set(m, p, "t", 1.0);
}

/* threemode_point with real couplings (all phases 0) and delta_c = 0: E_B_ss is then even in
 * delta. */
static void threemode_even_point(const qb_model *m, double *p) {
  threemode_point(m, p);
  set(m, p, "p_a_phase", 0);
  set(m, p, "p_cb_phase", 0);
  set(m, p, "delta_c", 0);
}

static void part_brute(void) {
  static const char tm1[] = "model: threemode\n"
                            "optimize: {param: delta, maximize: E_B_ss, range: [-3, 3]}\n"
                            "axes: [{name: Gamma, min: 0.5, max: 1, n: 2}]\n"
                            "fixed: {kappa_a: 0.1, kappa_b: 0.1, kappa_c: 1}\n";
  static const char tm2[] = "model: threemode\n"
                            "optimize: {param: delta_c, minimize: E_A_ss, range: [-3, 3]}\n"
                            "axes: [{name: Gamma, min: 0.5, max: 1, n: 2}]\n"
                            "fixed: {delta: 0.2, kappa_a: 0.1, kappa_b: 0.1, kappa_c: 1}\n";
  brute_config(tm1, "threemode delta", 30, threemode_point);
  brute_config(tm2, "threemode delta_c", 30, threemode_point);
  /* an even objective and a symmetric scan of an even size: two scan points tie exactly
   * around the peak at 0 (a peak between equal neighbours, not a plateau) */
  static const char tm3[] = "model: threemode\n"
                            "optimize: {param: delta, maximize: E_B_ss, range: [-30, 30], "
                            "scan: 32}\n"
                            "axes: [{name: Gamma, min: 0.5, max: 1, n: 2}]\n"
                            "fixed: {kappa_a: 0.1, kappa_b: 0.1, kappa_c: 1}\n";
  brute_config(tm3, "threemode delta, even", 10, threemode_even_point);
  char path[1024], text[1 << 14];
  snprintf(path, sizeof path, "%s/network_threemode.yaml", QB_EXAMPLES);
  FILE *f = fopen(path, "rb");
  if (!f) QB_SETUP_FATAL("cannot open %s", path);
  size_t n = fread(text, 1, sizeof text - 200, f);
  fclose(f);
  text[n] = '\0';
  char *ax = strstr(text, "  - {name: delta, min: -2, max: 2, n: 201}\n");
  if (!ax) QB_SETUP_FATAL("network_threemode.yaml: no delta axis");
  memmove(ax, ax + 43, strlen(ax + 43) + 1);
  strcat(text, "optimize: {param: delta, maximize: E_b_ss, range: [-3, 3]}\n");
  brute_config(text, "network delta", 20, threemode_point);
}

/* Whether the coarse scan's best point of o at p lies nearer xlow than xglob. */
static bool scan_on_lower(const qb_optim *o, const double *p, double xglob, double xlow) {
  double best = -INFINITY, xb = 0, q[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  for (int i = 0; i < o->scan; i++) {
    const double x = i == o->scan - 1 ? o->hi : o->lo + i * ((o->hi - o->lo) / (o->scan - 1));
    base_params(o, p, x, q);
    qb_model_eval(o->base, q, NULL, out);
    if (o->sign * out[o->field] > best) best = o->sign * out[o->field], xb = x;
  }
  return fabs(xb - xlow) < fabs(xb - xglob);
}

/* The dense scan's two largest local maxima (H, x); false if it has fewer than two. */
static bool two_peaks(const qb_optim *o, const double *p, double *h, double *x) {
  static double hs[NDENSE];
  double q[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  for (int i = 0; i < NDENSE; i++) {
    base_params(o, p, o->lo + (o->hi - o->lo) * i / (NDENSE - 1), q);
    qb_model_eval(o->base, q, NULL, out);
    hs[i] = o->sign * out[o->field];
  }
  h[0] = h[1] = -INFINITY;
  for (int i = 1; i < NDENSE - 1; i++) {
    if (!(hs[i] > hs[i - 1] && hs[i] >= hs[i + 1])) continue;
    const double xi = o->lo + (o->hi - o->lo) * i / (NDENSE - 1);
    if (hs[i] > h[0])
      h[1] = h[0], x[1] = x[0], h[0] = hs[i], x[0] = xi;
    else if (hs[i] > h[1])
      h[1] = hs[i], x[1] = xi;
  }
  return isfinite(h[1]);
}

/* H = sign * objective of o's base at param = x. */
static double objective_at(const qb_optim *o, const double *p, double x) {
  double q[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  base_params(o, p, x, q);
  qb_model_eval(o->base, q, NULL, out);
  return o->sign * out[o->field];
}

/* The coarsest scan step s = |xg - xl|/(k + 1/2) (k = 1..60) at which a scan point sits on the
 * lower peak's top xl (H = hl), the global peak xg lies midway between two scan points, those
 * two are a local maximum of the scan and both below hl: 0 if there is none. */
static double misleading_step(const qb_optim *o, const double *p, double xg, double xl, double hl) {
  const double dx = fabs(xg - xl), sg = xg > xl ? 1 : -1;
  for (int k = 1; k <= 60; k++) {
    const double s = dx / (k + 0.5), near = xg - sg * s / 2, far = xg + sg * s / 2;
    const double hn = objective_at(o, p, near), hf = objective_at(o, p, far);
    const double top = fmax(hn, hf), x2 = hn > hf ? near - sg * s : far + sg * s;
    if (top < hl && top > objective_at(o, p, x2)) return s;
  }
  return 0;
}

/* The scan placed by misleading_step: the coarse scan's best point is on the lower peak, yet
 * the optimum must be the global one (H not below hg, within a dense step of xg).  Returns
 * whether such a placement exists (then checked). */
static bool targeted(const qb_optim *o, const double *p, double xg, double hg, double xl,
                     double hl) {
  const double s = misleading_step(o, p, xg, xl, hl);
  if (s == 0) return false;
  const int n = (int)lround(fabs(xg - xl) / s - 0.5) + 5;
  const double lo = xg > xl ? xl - 2 * s : xl + 2 * s - (n - 1) * s;
  qb_optim_spec spec = {.param = o->base->params[o->param].name,
                        .field = o->base->fields[o->field].name,
                        .maximize = o->sign > 0,
                        .lo = lo,
                        .hi = lo + (n - 1) * s,
                        .scan = n};
  const qb_model *m;
  const char *which;
  char msg[1024];
  if (qb_optim_new(o->base, false, &spec, &m, &which, msg, sizeof msg)) QB_SETUP_FATAL("%s", msg);
  const qb_optim *t = m->ctx;
  double out[QB_MAX_FIELDS];
  qb_model_eval(m, p, NULL, out);
  const double h = t->sign * out[t->field], step = (o->hi - o->lo) / (NDENSE - 1);
  CHECK("misleading scan: not below the global maximum", h >= hg - 1e-12 * fabs(hg),
        "%.17g vs %.17g (scan %d)", h, hg, n);
  CHECK("misleading scan: at the global maximizer", fabs(out[t->f_opt] - xg) <= step,
        "%.17g vs %.17g (scan %d)", out[t->f_opt], xg, n);
  CHECK("misleading scan: its best point on the lower peak", scan_on_lower(t, p, xg, xl), "scan %d",
        n);
  qb_model_free(m);
  return true;
}

static void part_global(void) {
  qb_config cfg;
  parse("model: shared\n"
        "optimize: {param: Delta, maximize: E_B_ss, range: [-4, 4], scan: 8}\n"
        "axes: [{name: J, min: 0, max: 1, n: 2}]\n"
        "fixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0.5}\n",
        &cfg);
  const qb_model *m = cfg.model;
  const qb_optim *o = m->ctx;
  int twin = 0, lower = 0;
  for (int k = 0; k < 300; k++) {
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS], h[2], x[2] = {NAN, NAN};
    memcpy(p, cfg.fixed, sizeof p);
    shared_point(m, p, 3.0);
    set(m, p, "J", uniform(1.5, 3));
    set(m, p, "Gamma", uniform(0.1, 0.6));
    set(m, p, "kappa_a", uniform(0.2, 0.6));
    set(m, p, "kappa_b", uniform(0.2, 0.6));
    if (!two_peaks(o, p, h, x) || h[1] < 0.2 * h[0]) continue;
    twin++;
    lower += targeted(o, p, x[0], h[0], x[1], h[1]);
    qb_model_eval(m, p, NULL, out);
    const double step = (o->hi - o->lo) / (NDENSE - 1), hk = o->sign * out[o->field];
    CHECK("not below the dense global maximum", hk >= h[0] - 1e-12 * fabs(h[0]),
          "point %d: %.17g vs %.17g", k, hk, h[0]);
    CHECK("within a dense step of the dense global maximizer", fabs(out[o->f_opt] - x[0]) <= step,
          "point %d: %.17g vs %.17g", k, out[o->f_opt], x[0]);
  }
  printf("global: %d points with two peaks, %d with the coarse scan's best on the lower one\n",
         twin, lower);
  CHECK("cases with two peaks", twin >= 50, "%d", twin);
  CHECK("cases where the coarse scan favours the lower peak", lower >= 20, "%d", lower);
  qb_config_free(&cfg);
}

static void part_edge(void) {
  qb_config cfg;
  parse("model: shared\n"
        "optimize: {param: Delta, maximize: E_B_ss, range: [1, 2]}\n"
        "axes: [{name: J, min: 0, max: 0.3, n: 2}]\n"
        "fixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0.5, phi: 1}\n",
        &cfg);
  const qb_model *m = cfg.model;
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  memcpy(p, cfg.fixed, sizeof p);
  set(m, p, "J", 0.3);
  qb_model_eval(m, p, NULL, out);
  const uint32_t st = (uint32_t)out[m->nfields - 1];
  CHECK("Delta_opt (0.198) below the range", out[fidx(m, "Delta_opt")] < 1, "%g",
        out[fidx(m, "Delta_opt")]);
  CHECK("optimum at lo exactly", out[fidx(m, "Delta_at_opt")] == 1.0, "%.17g",
        out[fidx(m, "Delta_at_opt")]);
  CHECK("status opt_edge", st == QB_PT_OPT_EDGE, "status %u", st);
  qb_config_free(&cfg);
}

/* A row of 16 t along the wrapper's row axis vs the points one by one: bitwise. */
static void row_vs_points(const qb_config *cfg, const double *p, const char *what) {
  const qb_model *m = cfg->model;
  const int nf = m->nfields;
  double x[16], row[16 * QB_MAX_FIELDS], pt[QB_MAX_FIELDS], q[QB_MAX_PARAMS];
  for (int j = 0; j < 16; j++)
    x[j] = 0.37 * j * j;
  qb_model_eval_row(m, p, m->row_axis, x, 16, NULL, row);
  memcpy(q, p, sizeof q);
  for (int j = 0; j < 16; j++) {
    q[m->row_axis] = x[j];
    qb_model_eval(m, q, NULL, pt);
    int same = 1;
    for (int f = 0; f < nf; f++)
      same &= (isnan(pt[f]) && isnan(row[j * nf + f])) || pt[f] == row[j * nf + f];
    CHECK("row bitwise the point", same, "%s t = %g", what, x[j]);
  }
}

static void part_row(void) {
  static const char *texts[] = {
      shared_text,
      "model: shared\noptimize: {param: Delta, maximize: E_B, range: [-5, 5], scan: 16}\n"
      "axes: [{name: J, min: 0, max: 1, n: 2}]\nfixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0.5}\n",
      "model: threemode\noptimize: {param: delta, maximize: E_B_ss, range: [-3, 3]}\n"
      "axes: [{name: Gamma, min: 0.5, max: 1, n: 2}]\n"
      "fixed: {kappa_a: 0.1, kappa_b: 0.1, kappa_c: 1}\n"};
  for (int c = 0; c < 3; c++) {
    qb_config cfg;
    parse(texts[c], &cfg);
    const qb_optim *o = cfg.model->ctx;
    CHECK("per-row optimum only for a t-independent objective", o->per_row == (c != 1), "%d", c);
    for (int k = 0; k < 5; k++) {
      double p[QB_MAX_PARAMS];
      memcpy(p, cfg.fixed, sizeof p);
      if (c < 2)
        shared_point(cfg.model, p, 1.0);
      else
        threemode_point(cfg.model, p);
      row_vs_points(&cfg, p, texts[c]);
    }
    qb_config_free(&cfg);
  }
}

static void part_fail(void) {
  qb_config cfg;
  parse("model: shared\noptimize: {param: Delta, maximize: E_B_ss, range: [-2, 2]}\n"
        "axes: [{name: J, min: 0, max: 1, n: 2}]\nfixed: {kappa_a: 0, kappa_b: 0, Gamma: 0}\n",
        &cfg);
  const qb_model *m = cfg.model;
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  memcpy(p, cfg.fixed, sizeof p);
  set(m, p, "J", 0.5);
  qb_model_eval(m, p, NULL, out);
  int nan = 1;
  for (int f = 0; f < m->nfields - 1; f++)
    nan &= m->fields[f].dtype == QB_I32 ? out[f] == -1 : isnan(out[f]);
  CHECK("every field NaN (int32 -1)", nan, "J = 0.5, no loss");
  const uint32_t st = (uint32_t)out[m->nfields - 1]; /* shared adds no_optimum (bit 10) */
  CHECK("status not_stable, no optimize bit",
        (st & QB_PT_NOT_STABLE) && !(st & (QB_PT_OPT_EDGE | QB_PT_OPT_NOT_UNIQUE)), "status %u",
        st);
  qb_config_free(&cfg);
}

static void part_notunique(void) {
  qb_config cfg;
  parse("model: shared\noptimize: {param: Delta, maximize: E_B_ss, range: [-2, 2]}\n"
        "axes: [{name: J, min: 0, max: 1, n: 2}]\n"
        "fixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0}\n",
        &cfg);
  const qb_model *m = cfg.model;
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  memcpy(p, cfg.fixed, sizeof p);
  set(m, p, "J", 0.8);
  qb_model_eval(m, p, NULL, out);
  const qb_optim *o = m->ctx;
  const double d = out[o->f_opt], e = out[o->field];
  CHECK("status opt_not_unique", (uint32_t)out[m->nfields - 1] & QB_PT_OPT_NOT_UNIQUE, "status %g",
        out[m->nfields - 1]);
  double q[QB_MAX_PARAMS], b[QB_MAX_FIELDS];
  base_params(o, p, -d, q); /* the other optimum: E_B_ss is even in Delta at Gamma = 0 */
  qb_model_eval(o->base, q, NULL, b);
  CHECK_CLOSE("E_B_ss at -Delta_at_opt", b[o->field], e, 1e-12, 0, "J = 0.8, Delta %g", d);
  CHECK("Delta_at_opt away from 0", fabs(d) > 0.1, "%g", d);
  qb_config_free(&cfg);
  /* a plateau: E_single = 4 F^2 / kappa_a^2 does not depend on Delta at all */
  parse("model: shared\noptimize: {param: Delta, maximize: E_single, range: [-2, 2]}\n"
        "axes: [{name: J, min: 0.2, max: 0.5, n: 2}]\n"
        "fixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0.5}\n",
        &cfg);
  m = cfg.model;
  memcpy(p, cfg.fixed, sizeof p);
  set(m, p, "J", 0.5);
  qb_model_eval(m, p, NULL, out);
  o = m->ctx;
  const uint32_t st = (uint32_t)out[m->nfields - 1];
  CHECK("a constant objective: opt_not_unique and opt_edge, the larger end of the range",
        (st & QB_PT_OPT_NOT_UNIQUE) && (st & QB_PT_OPT_EDGE) && out[o->f_opt] == 2.0,
        "status %u, Delta_at_opt %g", st, out[o->f_opt]);
  qb_config_free(&cfg);
}

/* Random points over wide ranges (rates 1e-3..1e3, loss rates possibly 0, t up to 1e3), for
 * shared and threemode wrapped: a NaN field carries a status bit, every bit set is declared. */
static void hazards_config(const char *text, const char *const *rates, int nrates) {
  qb_config cfg;
  parse(text, &cfg);
  const qb_model *m = cfg.model;
  const uint32_t declared = qb_model_status_mask(m);
  int flagged = 0, nans = 0;
  for (int k = 0; k < 300; k++) {
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    memcpy(p, cfg.fixed, sizeof p);
    for (int r = 0; r < nrates; r++)
      set(m, p, rates[r], uniform(0, 1) < 0.1 ? 0 : exp(uniform(log(1e-3), log(1e3))));
    set(m, p, "t", exp(uniform(log(1e-3), log(1e3))));
    qb_model_eval(m, p, NULL, out);
    const uint32_t st = (uint32_t)out[m->nfields - 1];
    int nan = 0;
    for (int f = 0; f < m->nfields - 1; f++)
      nan |= isnan(out[f]);
    CHECK("a NaN field carries a status bit", !nan || st != 0, "%s point %d", m->name, k);
    CHECK("every status bit declared", (st & ~declared) == 0, "%s point %d: %u", m->name, k, st);
    flagged += st != 0, nans += nan;
  }
  printf("hazards %s: %d of 300 points with status bits, %d with NaN fields\n", m->name, flagged,
         nans);
  CHECK("some points flagged (the paths are exercised)", flagged >= 10, "%d", flagged);
  qb_config_free(&cfg);
}

static void part_hazards(void) {
  static const char *const sh[] = {"J", "Gamma", "kappa_a", "kappa_b"};
  static const char *const tm[] = {"Gamma", "kappa_a", "kappa_b", "kappa_c"};
  hazards_config(shared_text, sh, 4);
  hazards_config("model: threemode\n"
                 "optimize: {param: delta, maximize: E_B_ss, range: [-30, 30], scan: 32}\n"
                 "axes: [{name: Gamma, min: 0.5, max: 1, n: 2}]\n"
                 "fixed: {kappa_a: 0.1, kappa_b: 0.1, kappa_c: 1}\n",
                 tm, 4);
}

/* ---- the post-passes on the wrapper ----------------------------------------------------- */

static const char eps_text[] = "model: ep\n"
                               "symbols: [u, c]\n"
                               "optimize: {param: u, maximize: E_B_ss, range: [-1, 3]}\n"
                               "axes:\n"
                               "  - {name: gamma_b, values: [2, 3]}\n"
                               "  - {name: c, min: 1.03, max: 2.01, n: 8}\n"
                               "  - {name: alpha, min: -0.37, max: 0.41, n: 8}\n"
                               "fixed: {delta_r: u, E_r: 'exp(-(u - c)^2/2)'}\n"
                               "eps: {axes: [c, alpha]}\n";

/* E_B_ss of model ep alone at delta_r = u, E_r = exp(-(u - c)^2/2). */
static double ep_objective(const qb_model *ep, double *q, double u, double c) {
  double out[QB_MAX_FIELDS];
  set(ep, q, "delta_r", u);
  set(ep, q, "E_r", exp(-(u - c) * (u - c) / 2));
  qb_model_eval(ep, q, NULL, out);
  return out[fidx(ep, "E_B_ss")];
}

/* The maximizer of ep_objective over [-1, 3]: dense scan, then golden section to 1e-12. */
static double ep_brute(const qb_model *ep, double *q, double c) {
  const int n = 40001;
  double best = -INFINITY, xb = 0, a, b;
  for (int i = 0; i < n; i++) {
    const double x = -1 + 4.0 * i / (n - 1), h = ep_objective(ep, q, x, c);
    if (h > best) best = h, xb = x;
  }
  a = xb - 4.0 / (n - 1), b = xb + 4.0 / (n - 1);
  const double g = (sqrt(5.0) - 1) / 2;
  while (b - a > 1e-12) {
    const double x1 = b - g * (b - a), x2 = a + g * (b - a);
    if (ep_objective(ep, q, x1, c) > ep_objective(ep, q, x2, c))
      b = x2;
    else
      a = x1;
  }
  return 0.5 * (a + b);
}

static void part_eps(void) {
  qb_config cfg;
  parse(eps_text, &cfg);
  qb_pointset s = {0};
  if (qb_post_eps(&cfg, 0, qb_post_ep_units(&cfg), &s)) QB_SETUP_FATAL("qb_post_eps failed");
  const int ig = 0, ic = 1, ia = 2;
  CHECK("one EP per gamma_b slice", s.n == 2, "n = %lld", (long long)s.n);
  CHECK("no candidate rejected", s.rejected == 0, "%lld", (long long)s.rejected);
  const qb_model *ep = qb_model_find("ep"), *m = cfg.model;
  for (int64_t k = 0; k < s.n; k++) {
    const double gb = s.x[ig][k], c = s.x[ic][k], al = s.x[ia][k];
    CHECK_CLOSE("EP at c = 1 + 2/gamma_b^2", c, 1 + 2 / (gb * gb), 0, 1e-9, "gamma_b %g", gb);
    CHECK_CLOSE("EP at alpha = 0", al, 0, 0, 1e-9, "gamma_b %g", gb);
    double q[QB_MAX_PARAMS], p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    bool given[QB_MAX_PARAMS];
    qb_model_defaults(ep, q, given);
    set(ep, q, "alpha", al);
    set(ep, q, "gamma_b", gb);
    const double ub = ep_brute(ep, q, c);
    memcpy(p, cfg.fixed, sizeof p);
    set(m, p, "gamma_b", gb), set(m, p, "c", c), set(m, p, "alpha", al);
    qb_model_eval(m, p, NULL, out);
    CHECK_CLOSE("the wrapper's u_opt at the EP vs the brute-force optimum", out[fidx(m, "u_opt")],
                ub, 0, 1e-7, "gamma_b %g", gb);
    set(ep, q, "delta_r", ub);
    const double d = cabs(ep->disc(ep, q));
    CHECK("ep's |disc| at the brute-force optimum <= 1e-7", d <= 1e-7, "%.3g (gamma_b %g)", d, gb);
    printf("eps: gamma_b = %g: EP at c - c_exact = %.3g, alpha = %.3g; u_opt - u_brute = %.3g, "
           "|disc| there %.3g\n",
           gb, c - (1 + 2 / (gb * gb)), al, out[fidx(m, "u_opt")] - ub, d);
  }
  qb_pointset_free(&s);
  qb_config_free(&cfg);
}

static const char boundary_text[] = "model: shared\n"
                                    "optimize: {param: Delta, maximize: E_B_ss, range: [-3, 3]}\n"
                                    "axes:\n"
                                    "  - {name: phi, values: [0.5, 1.0, 1.5]}\n"
                                    "  - {name: J, min: 0.013, max: 1.197, n: 41}\n"
                                    "fixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 0.5}\n"
                                    "boundaries: {field: E_B_ss, level: 0.12, axis: J}\n";

/* shared's closed-form E_B_at_Delta_opt - 0.12 at phi, J (the config's other values). */
static double closed_minus_level(double phi, double J) {
  const qb_model *sh = qb_model_find("shared");
  double q[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(sh, q, given);
  set(sh, q, "kappa_a", 0.3), set(sh, q, "kappa_b", 0.2), set(sh, q, "Gamma", 0.5);
  set(sh, q, "phi", phi), set(sh, q, "J", J), set(sh, q, "Delta", 0);
  qb_model_eval(sh, q, NULL, out);
  return out[fidx(sh, "E_B_at_Delta_opt")] - 0.12;
}

static void part_boundary(void) {
  qb_config cfg;
  parse(boundary_text, &cfg);
  qb_pointset s = {0};
  if (qb_post_boundaries(&cfg, 0, qb_post_boundary_units(&cfg), &s))
    QB_SETUP_FATAL("qb_post_boundaries failed");
  const qb_axis *P = &cfg.grid.axes[0], *J = &cfg.grid.axes[1];
  int64_t expected = 0;
  for (int64_t i = 0; i < P->n; i++)
    for (int64_t j = 1; j < J->n; j++)
      expected += (closed_minus_level(P->values[i], J->values[j - 1]) > 0) !=
                  (closed_minus_level(P->values[i], J->values[j]) > 0);
  CHECK("one crossing per sign change of the closed form (>= 4)", s.n == expected && s.n >= 4,
        "n = %lld, expected %lld", (long long)s.n, (long long)expected);
  double worst = 0;
  for (int64_t k = 0; k < s.n; k++) {
    const double r = closed_minus_level(s.x[0][k], s.x[1][k]) / 0.12;
    worst = fmax(worst, fabs(r));
    CHECK("closed-form E_B_at_Delta_opt = 0.12 at the crossing (1e-9 relative)", fabs(r) <= 1e-9,
          "phi %g J %.17g: %.3g", s.x[0][k], s.x[1][k], r);
  }
  printf("boundary: %lld crossings; worst relative closed-form error %.3g\n", (long long)s.n,
         worst);
  qb_pointset_free(&s);
  qb_config_free(&cfg);
}

int main(int argc, char **argv) {
  qb_test_select(argc, argv);
  QB_PART("shared", part_shared());
  QB_PART("brute", part_brute());
  QB_PART("global", part_global());
  QB_PART("edge", part_edge());
  QB_PART("row", part_row());
  QB_PART("fail", part_fail());
  QB_PART("notunique", part_notunique());
  QB_PART("hazards", part_hazards());
  QB_PART("eps", part_eps());
  QB_PART("boundary", part_boundary());
  return qb_test_report(qb_test_name);
}
