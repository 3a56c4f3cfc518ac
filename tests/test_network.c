/* Model network against the dedicated models it generalizes (docs/physics.md §7): the examples
 * examples/network_threemode.yaml and examples/network_shared.yaml, at zero temperature without
 * squeezing, must give `threemode`'s and `shared`'s growth_rate, E_A, E_B (at t and in the
 * steady state) at random points.  Tolerances: energies 1e-10 relative; the growth rate 1e-10
 * of the drift's scale (it crosses zero).  Where an energy at t differs from the model's by
 * more, the __float128 reference (qb_quadref.h) decides: the network's must be within 1e-10 of
 * it (the dedicated models are accurate to their own stated 1e-6, typically 1e-13; such points
 * are counted and reported).  Every energy must also equal its ergotropy W bit for
 * bit (Q = C = 0 exactly: all energy is coherent).
 *   threemode   1000 random points of network_threemode.yaml vs threemode
 *   shared      1000 random points of network_shared.yaml vs shared
 *   row         rows along t equal points bit for bit (the row contract); E_b wanted alone is
 *               bitwise E_b among all fields
 *   tcrit       t_crit of network_shared.yaml at finite temperature against a dense scan of
 *               E_b(t) (4000 times per point up to 60/|growth|, the first sample above E_max, then
 *               bisection): 1e-9 relative; where t_crit is NaN with tcrit_never, no sample exceeds
 *               E_max; E_b(t_crit) = E_max to 1e-9
 *   ep          the EP pass on a lossy dimer (hopping J, losses ga, gb, detunings +-delta): one EP
 *               per J slice at delta = 0, ga = gb + 4J (1e-10), winding +-1, coalescing; and
 *               the EP lines of a real (squeezed) drift by the boundary pass on disc_re: a
 *               damped mode with detuning D and squeezing s has eigenvalues -k/2 +- sqrt(s^2 -
 *               D^2), EPs at D = +-s (1e-10)
 * Usage: test_network [threemode|shared|row|tcrit|ep|all] */
#include <stdio.h>
#include <stdlib.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_post.h"

static int pidx(const qb_model *m, const char *name) {
  return qb_test_index(qb_model_param_index(m, name), "parameter", name);
}

#include "qb_quadref.h"

#define NPOINTS 1000
#define RTOL 1e-10
#define PI 3.14159265358979323846

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;
static double uniform(double a, double b) {
  rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return a + (b - a) * (double)(rng >> 11) * 0x1p-53;
}
static double loguniform(double a, double b) {
  return exp(uniform(log(a), log(b)));
}

/* The example's config (parsed, owned by the caller). */
static void load(const char *name, qb_config *cfg) {
  char path[1024], msg[2048];
  snprintf(path, sizeof path, "%s/%s", QB_EXAMPLES, name);
  FILE *f = fopen(path, "rb");
  if (!f) QB_SETUP_FATAL("cannot open %s", path);
  static char text[1 << 16];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  if (qb_config_parse(text, path, NULL, 0, cfg, msg, sizeof msg)) QB_SETUP_FATAL("%s", msg);
}

/* The network's parameter vector for the built-in model's vector p (same names; the others, the
 * occupations, from the config's fixed values). */
static void map_params(const qb_config *cfg, const qb_model *m, const double *p, double *q) {
  const qb_model *net = cfg->model;
  for (int i = 0; i < net->nparams; i++) {
    int k = qb_model_param_index(m, net->params[i].name);
    q[i] = k >= 0 ? p[k] : cfg->fixed[i];
    if (k < 0 && isnan(q[i])) QB_SETUP_FATAL("no value for '%s'", net->params[i].name);
  }
}

static double field(const qb_model *m, const double *out, const char *name) {
  return out[qb_test_index(qb_model_field_index(m, name), "field", name)];
}

static long referred; /* energies the quad reference decided (the model was off) */

/* E_a, E_b at p[t] of model m (shared or threemode) from the quad reference. */
static void quad_energies(const qb_model *m, const double *p, double *E) {
  qc M[9], f[3], x[3], dx[3];
  int n = strcmp(m->name, "shared") == 0 ? 2 : 3;
  if (n == 2)
    shared_drift(m, p, 0, M, f);
  else
    three_drift(m, p, 0, M, f);
  qref(n, M, f, (qr)P("t"), x, dx);
  E[0] = (double)(crealq(x[0] * conjq(x[0])));
  E[1] = (double)(crealq(x[1] * conjq(x[1])));
}

/* Compares one point: pairs[k] = {network field, model field}; counts what was comparable.
 * Fields 0, 1 of pairs are E_a, E_b at t (judged by the quad reference where the model's
 * differ). */
static int compare(const qb_model *net, const double *on, const qb_model *m, const double *om,
                   const double *p, const char *const (*pairs)[2], int npairs, double scale,
                   const char *where) {
  int compared = 0;
  CHECK_CLOSE("growth_rate", field(net, on, "growth_rate"), field(m, om, "growth_rate"), 0,
              RTOL * scale, "%s", where);
  for (int k = 0; k < npairs; k++) {
    double x = field(net, on, pairs[k][0]), ref = field(m, om, pairs[k][1]);
    if (isnan(x) || isnan(ref)) continue;
    compared++;
    if (k < 2 && !qb_close(x, ref, RTOL, 0)) {
      double E[2];
      quad_energies(m, p, E);
      ref = E[k];
      referred++;
    }
    CHECK_CLOSE(pairs[k][0], x, ref, RTOL, 0, "%s", where);
  }
  static const char *const modes[] = {"a", "b"};
  for (int j = 0; j < 2; j++) {
    char e[16], w[16];
    snprintf(e, sizeof e, "E_%s", modes[j]);
    snprintf(w, sizeof w, "W_%s", modes[j]);
    double E = field(net, on, e), W = field(net, on, w);
    CHECK("W == E bitwise at zero temperature", (isnan(E) && isnan(W)) || E == W,
          "%s: E %.17g W %.17g", where, E, W);
  }
  return compared;
}

static const char *const threemode_pairs[][2] = {
    {"E_a", "E_A"}, {"E_b", "E_B"}, {"E_a_ss", "E_A_ss"}, {"E_b_ss", "E_B_ss"}};

static void random_threemode(const qb_model *m, double *p) {
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(m, p, given);
  static const char *const rates[] = {"kappa_a", "kappa_b", "kappa_c", "Gamma"};
  for (int i = 0; i < 4; i++)
    p[qb_model_param_index(m, rates[i])] = loguniform(1e-2, 1e1);
  p[qb_model_param_index(m, "delta")] = uniform(-2, 2);
  p[qb_model_param_index(m, "delta_c")] = uniform(-1, 1);
  static const char *const cps[] = {"p_a", "p_b", "p_ca", "p_cb"};
  for (int i = 0; i < 4; i++) {
    char ph[32];
    snprintf(ph, sizeof ph, "%s_phase", cps[i]);
    p[qb_model_param_index(m, cps[i])] = uniform(0.3, 2);
    p[qb_model_param_index(m, ph)] = uniform(-PI, PI);
  }
  p[qb_model_param_index(m, "E")] = loguniform(1e-1, 1e1);
  p[qb_model_param_index(m, "t")] = loguniform(1e-3, 1e3);
}

static const char *const shared_pairs[][2] = {
    {"E_a", "E_A"}, {"E_b", "E_B"}, {"E_a_ss", "E_A_ss"}, {"E_b_ss", "E_B_ss"}};

static void random_shared(const qb_model *m, double *p) {
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(m, p, given);
  p[qb_model_param_index(m, "Delta")] = uniform(-1, 1);
  p[qb_model_param_index(m, "J")] = uniform(0, 1) < 0.3 ? 0.0 : loguniform(1e-2, 1);
  p[qb_model_param_index(m, "phi")] = uniform(-PI, PI);
  p[qb_model_param_index(m, "Gamma")] = uniform(0, 1) < 0.2 ? 0.0 : loguniform(1e-2, 1);
  p[qb_model_param_index(m, "p_a")] = uniform(0.3, 2);
  p[qb_model_param_index(m, "p_b")] = uniform(0.3, 2);
  p[qb_model_param_index(m, "p_a_phase")] = uniform(-PI, PI);
  p[qb_model_param_index(m, "p_b_phase")] = uniform(-PI, PI);
  p[qb_model_param_index(m, "kappa_a")] = loguniform(1e-2, 1);
  p[qb_model_param_index(m, "kappa_b")] = loguniform(1e-2, 1);
  p[qb_model_param_index(m, "F")] = loguniform(1e-2, 1);
  p[qb_model_param_index(m, "t")] = loguniform(1e-3, 1e3);
}

/* NPOINTS random points of model `name` against its network example: at least 95% of the
 * energies must be comparable (both not NaN) and every compared one agree. */
static void test_against(const char *name, const char *example,
                         void (*draw)(const qb_model *, double *), const char *const (*pairs)[2],
                         int npairs) {
  qb_config cfg;
  load(example, &cfg);
  referred = 0;
  const qb_model *net = cfg.model, *m = qb_model_find(name);
  double p[QB_MAX_PARAMS], q[QB_MAX_PARAMS], om[QB_MAX_FIELDS], on[QB_MAX_FIELDS];
  int compared = 0;
  for (int i = 0; i < NPOINTS; i++) {
    draw(m, p);
    map_params(&cfg, m, p, q);
    qb_model_eval(m, p, NULL, om);
    qb_model_eval(net, q, NULL, on);
    double scale = 0;
    for (int k = 0; k < m->nparams; k++)
      if (m->params[k].range == QB_NONNEG && strcmp(m->params[k].name, "t") != 0)
        scale = fmax(scale, fabs(p[k]));
    char where[64];
    snprintf(where, sizeof where, "%s point %d", name, i);
    compared += compare(net, on, m, om, p, pairs, npairs, scale, where);
  }
  printf("%s: %d of %d energies compared, %ld judged by the quad reference\n", name, compared,
         NPOINTS * npairs, referred);
  CHECK("95% of the energies comparable", compared >= 0.95 * NPOINTS * npairs, "%s", name);
  qb_config_free(&cfg);
}

/* Rows along t (lengths 1..40, and every fifth 68..113: more than one block of the row kernel;
 * random t) equal single points bit for bit. */
static void test_row(void) {
  qb_config cfg;
  load("network_threemode.yaml", &cfg);
  const qb_model *net = cfg.model, *m = qb_model_find("threemode");
  const int nf = net->nfields, it = qb_model_param_index(net, "t");
  static double rows[120 * QB_MAX_FIELDS];
  double p[QB_MAX_PARAMS], q[QB_MAX_PARAMS], x[120], one[QB_MAX_FIELDS];
  for (int r = 0; r < 50; r++) {
    random_threemode(m, p);
    map_params(&cfg, m, p, q);
    int n = r % 5 == 4 ? 64 + r : 1 + r % 40;
    for (int j = 0; j < n; j++)
      x[j] = j == 0 ? 0.0 : loguniform(1e-6, 1e4);
    qb_model_eval_row(net, q, it, x, n, NULL, rows);
    for (int j = 0; j < n; j++) {
      q[it] = x[j];
      qb_model_eval(net, q, NULL, one);
      int same = 1;
      for (int f = 0; f < nf; f++)
        same &= memcmp(&one[f], &rows[j * nf + f], sizeof one[f]) == 0;
      CHECK("row == point bitwise", same, "row %d point %d t=%g", r, j, x[j]);
      /* a field's value does not depend on which other fields are wanted */
      bool want[QB_MAX_FIELDS] = {false};
      double only[QB_MAX_FIELDS];
      const int fe = qb_model_field_index(net, "E_b");
      want[fe] = want[nf - 1] = true;
      qb_model_eval(net, q, want, only);
      CHECK("E_b alone == E_b of all fields, bitwise", !memcmp(&only[fe], &one[fe], sizeof one[fe]),
            "row %d point %d t=%g", r, j, x[j]);
    }
  }
  qb_config_free(&cfg);
}

static double field_at(const qb_model *net, double *q, int it, double t, const char *name) {
  double out[QB_MAX_FIELDS];
  q[it] = t;
  qb_model_eval(net, q, NULL, out);
  return field(net, out, name);
}

/* The first t in (lo, hi] with E_b >= emax by bisection (E_b(lo) < emax <= E_b(hi)). */
static double bisect(const qb_model *net, double *q, int it, double emax, double lo, double hi) {
  for (int k = 0; k < 200 && hi - lo > 1e-15 * hi; k++) {
    double mid = 0.5 * (lo + hi);
    if (field_at(net, q, it, mid, "E_b") >= emax)
      hi = mid;
    else
      lo = mid;
  }
  return hi;
}

static void test_tcrit(void) {
  qb_config cfg;
  load("network_shared.yaml", &cfg);
  const qb_model *net = cfg.model, *m = qb_model_find("shared");
  const int it = pidx(net, "t"), ie = pidx(net, "E_max");
  double p[QB_MAX_PARAMS], q[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  int found = 0, never = 0;
  for (int i = 0; i < 60; i++) {
    random_shared(m, p);
    map_params(&cfg, m, p, q);
    q[pidx(net, "n_a")] = uniform(0, 0.5), q[pidx(net, "n_G")] = uniform(0, 0.5);
    q[it] = 0;
    qb_model_eval(net, q, NULL, out);
    const double g = field(net, out, "growth_rate"), ess = field(net, out, "E_b_ss");
    if (!(g < 0) || !(ess > 0)) continue;
    /* the threshold: below the steady state, or (every fourth) above it */
    q[ie] = ess * (i % 4 == 3 ? uniform(1.05, 3) : uniform(0.05, 0.95));
    const double emax = q[ie], T = 60 / -g;
    qb_model_eval(net, q, NULL, out);
    const double tc = field(net, out, "t_crit");
    const unsigned st = (unsigned)field(net, out, "status");
    static double ts[4000], rows[4000 * QB_MAX_FIELDS];
    for (int k = 0; k < 4000; k++)
      ts[k] = T * (k + 1) / 4000;
    qb_model_eval_row(net, q, it, ts, 4000, NULL, rows);
    const int fe = qb_model_field_index(net, "E_b");
    double first = NAN;
    for (int k = 0; k < 4000 && isnan(first); k++)
      if (rows[k * net->nfields + fe] >= emax)
        first = bisect(net, q, it, emax, k ? ts[k - 1] : 0, ts[k]);
    char where[64];
    snprintf(where, sizeof where, "tcrit point %d (E_max %.6g, E_b_ss %.6g)", i, emax, ess);
    if (isnan(first)) {
      never++;
      CHECK("never reached: t_crit NaN with tcrit_never", isnan(tc) && (st & 2u), "%s: t_crit %g",
            where, tc);
    } else {
      found++;
      CHECK_CLOSE("t_crit vs dense scan", tc, first, 1e-9, 0, "%s", where);
      CHECK_CLOSE("E_b(t_crit) = E_max", field_at(net, q, it, tc, "E_b"), emax, 1e-9, 0, "%s",
                  where);
    }
  }
  printf("tcrit: %d crossings, %d never reached\n", found, never);
  CHECK("both kinds of points were tried", found > 10 && never > 3, "%d found, %d never", found,
        never);
  qb_config_free(&cfg);
}

static const char dimer[] = "model: network\n"
                            "network:\n"
                            "  modes: [a, b]\n"
                            "  hamiltonian:\n"
                            "    - {detuning: a, value: delta}\n"
                            "    - {detuning: b, value: -delta}\n"
                            "    - {hopping: [a, b], value: J, phase: 0.3}\n"
                            "  dissipators:\n"
                            "    - {rate: ga, L: {a: 1}}\n"
                            "    - {rate: gb, L: {b: 1}}\n"
                            "axes:\n"
                            "  - {name: J, values: [0.5, 0.8, 1.1]}\n"
                            "  - {name: ga, min: 0.13, max: 6, n: 37}\n"
                            "  - {name: delta, min: -1.3, max: 1.1, n: 40}\n"
                            "fixed: {gb: 0.2}\n"
                            "eps: {axes: [delta, ga]}\n";

static const char squeezed[] = "model: network\n"
                               "network:\n"
                               "  modes: [a]\n"
                               "  hamiltonian:\n"
                               "    - {detuning: a, value: D}\n"
                               "    - {squeezing: [a, a], value: s, phase: 0.4}\n"
                               "  dissipators:\n"
                               "    - {rate: 0.5, L: {a: 1}, n_th: 0.1}\n"
                               "axes:\n"
                               "  - {name: s, values: [0.3, 0.7]}\n"
                               "  - {name: D, min: -1, max: 1.1, n: 40}\n"
                               "boundaries: {field: disc_re, axis: D}\n";

/* EP lines of the real drift of a squeezed mode: disc_re changes sign at D = +-s. */
static void test_ep_lines(void) {
  qb_config c;
  char msg[2048];
  if (qb_config_parse(squeezed, "squeezed", NULL, 0, &c, msg, sizeof msg))
    QB_SETUP_FATAL("%s", msg);
  qb_pointset s = {0};
  if (qb_post_boundaries(&c, 0, qb_post_boundary_units(&c), &s))
    QB_SETUP_FATAL("qb_post_boundaries failed");
  CHECK("two EP crossings per s", s.n == 4, "n = %lld", (long long)s.n);
  for (int64_t k = 0; k < s.n; k++)
    CHECK_CLOSE("EP at |D| = s", fabs(s.x[1][k]), s.x[0][k], 1e-10, 0, "s = %g", s.x[0][k]);
  qb_pointset_free(&s);
  qb_config_free(&c);
}

static void test_ep(void) {
  test_ep_lines();
  qb_config c;
  char msg[2048];
  if (qb_config_parse(dimer, "dimer", NULL, 0, &c, msg, sizeof msg)) QB_SETUP_FATAL("%s", msg);
  qb_pointset s = {0};
  if (qb_post_eps(&c, 0, qb_post_ep_units(&c), &s)) QB_SETUP_FATAL("qb_post_eps failed");
  CHECK("one EP per J slice", s.n == 3, "n = %lld, rejected %lld", (long long)s.n,
        (long long)s.rejected);
  for (int64_t k = 0; k < s.n; k++) {
    const double J = s.x[0][k], ga = s.x[1][k], delta = s.x[2][k];
    CHECK_CLOSE("EP at ga = gb + 4J", ga, 0.2 + 4 * J, 1e-10, 0, "J = %g", J);
    CHECK_CLOSE("EP at delta = 0", delta, 0, 0, 1e-10, "J = %g", J);
    CHECK("winding +-1", abs(s.winding[k]) == 1, "J = %g: %d", J, s.winding[k]);
    CHECK("coalescence", s.splitting[k] < 1e-6 && s.overlap[k] > 1 - 1e-6, "J = %g: %g %g", J,
          s.splitting[k], s.overlap[k]);
  }
  qb_pointset_free(&s);
  qb_config_free(&c);
}

static void test_threemode(void) {
  test_against("threemode", "network_threemode.yaml", random_threemode, threemode_pairs, 4);
}

static void test_shared(void) {
  test_against("shared", "network_shared.yaml", random_shared, shared_pairs, 4);
}

int main(int argc, char **argv) {
  qb_test_select(argc, argv);
  QB_PART("threemode", test_threemode());
  QB_PART("shared", test_shared());
  QB_PART("row", test_row());
  QB_PART("tcrit", test_tcrit());
  QB_PART("ep", test_ep());
  return qb_test_report(qb_test_name);
}
