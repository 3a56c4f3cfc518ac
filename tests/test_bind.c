/* The expressions wrapper qb_bind (issue 14 item 1), through the config parser as a user meets
 * it.  Parts:
 *   language   precedence and functions: the value qb_bind_resolve gives a parameter equals C's
 *              own evaluation of the same formula bitwise (tolerance 0: the expressions run
 *              libm's functions and IEEE operations in the written order, qb_expr.h)
 *   errors     config errors: undefined name, cycle (named), symbol shadowing a parameter,
 *              symbol without value, syntax error with its position; each one line with
 *              line:column and "allowed:"
 *   status     division by zero, sqrt of a negative, a derived rate < 0, a value beyond the
 *              verified range at a point: status exactly bad_expression (bit 15), every float
 *              field NaN, int32 fields -1; the neighbours are fine
 *   shared     bind(shared) with Delta = "0.5*J" equals shared at the same numbers bit for bit,
 *              point and row (row kernel reused: one base row call), and a row whose
 *              expressions depend on t (point by point) equals its points bit for bit
 *   network    bind(network): a user symbol feeding a network symbol equals the plain network
 *              at the same numbers bit for bit
 *   roundtrip  the normalized config parses back to itself (print-config, --resume); a config
 *              without symbols and expressions has no wrapper */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_bind.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"

static char msg[4096];

/* Parses text; false (and the message printed as a failure) if it does not. */
static bool parse(const char *text, qb_config *cfg) {
  qb_err err = qb_config_parse(text, "t.yaml", NULL, 0, cfg, msg, sizeof msg);
  CHECK("config parses", err == QB_OK, "%s", msg);
  return err == QB_OK;
}

/* The parameter vector at grid point 0 of axis values x (the first axis). */
static void point_params(const qb_config *cfg, double x, double *p) {
  memcpy(p, cfg->fixed, sizeof cfg->fixed);
  p[cfg->grid.axes[0].param] = x;
}

static bool same_bits(const double *a, const double *b, int n) {
  return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* ---- language ----------------------------------------------------------------------------- */

static void language_case(const char *expr, double ref) {
  char text[1024];
  snprintf(text, sizeof text,
           "model: shared\naxes:\n  - {name: kappa_b, values: [0.2]}\n"
           "fixed: {J: 0.7, kappa_a: 0.3, Gamma: 0.4, Delta: \"%s\"}\n",
           expr);
  qb_config cfg;
  if (!parse(text, &cfg)) return;
  double p[QB_MAX_PARAMS], v[QB_MAX_PARAMS];
  point_params(&cfg, 0.2, p);
  const int i = qb_model_param_index(cfg.model, "Delta");
  const bool ok = qb_bind_resolve(cfg.model, p, v);
  CHECK("language: resolves", ok || !isfinite(ref), "%s", expr);
  CHECK("language: bitwise C's value", memcmp(&v[i], &ref, sizeof ref) == 0,
        "Delta = %s: got %.17g, C %.17g", expr, v[i], ref);
  qb_config_free(&cfg);
}

static void test_language(void) {
  const double J = 0.7, ka = 0.3, G = 0.4, kb = 0.2;
  language_case("-J^2", -(J * J));
  language_case("2^-2*J", 0.25 * J);
  language_case("2^3^2*J", 512 * J);
  language_case("J - kappa_a - 0.1", (J - ka) - 0.1);
  language_case("J/kappa_a/2", (J / ka) / 2);
  language_case("J + kappa_a*Gamma", J + ka * G);
  language_case("(J + kappa_a)*Gamma", (J + ka) * G);
  language_case("J*kappa_a/Gamma - kappa_b", ((J * ka) / G) - kb);
  language_case("sqrt(kappa_a*kappa_b)/2", sqrt(ka * kb) / 2);
  language_case("exp(-J) + log(Gamma)", exp(-J) + log(G));
  language_case("atan2(J, kappa_a)", atan2(J, ka));
  language_case("sin(pi*J)*cos(kappa_a)", sin(3.14159265358979323846 * J) * cos(ka));
  language_case("J > 0.5 ? J : kappa_a", J);
  language_case("J < 0.5 ? J : kappa_a", ka);
  language_case("abs(kappa_b - J) + tanh(Gamma)", fabs(kb - J) + tanh(G));
  language_case("(kappa_a/kappa_b)^0.25", pow(ka / kb, 0.25));
}

/* ---- errors ------------------------------------------------------------------------------- */

static void error_case(const char *text, const char *want) {
  qb_config cfg;
  qb_err err = qb_config_parse(text, "t.yaml", NULL, 0, &cfg, msg, sizeof msg);
  CHECK("errors: refused", err == QB_ECONFIG, "want '%s'", want);
  if (err == QB_OK) qb_config_free(&cfg);
  CHECK("errors: message",
        err != QB_OK && strstr(msg, want) && strstr(msg, "allowed") && !strchr(msg, '\n'),
        "got '%s', want '%s'", msg, want);
}

static void test_errors(void) {
  const char *head = "model: shared\naxes:\n  - {name: kappa_b, values: [0.2]}\n";
  char t[1024];
  snprintf(t, sizeof t, "%sfixed: {J: 0.7, kappa_a: 0.3, Delta: \"J*x\"}\n", head);
  error_case(t, "t.yaml:4:");
  error_case(t, "'x' is not a parameter of model shared nor a declared symbol");
  snprintf(t, sizeof t, "%sfixed: {J: \"Delta/2\", kappa_a: 0.3, Delta: \"2*kappa_a + J\"}\n",
           head);
  error_case(t, "t.yaml:4:44: fixed.Delta: the expressions form a cycle Delta -> J -> Delta");
  snprintf(t, sizeof t, "%sfixed: {J: 0.7, kappa_a: \"kappa_a + 1\", Delta: 0}\n", head);
  error_case(t, "cycle kappa_a -> kappa_a");
  snprintf(t, sizeof t, "model: shared\nsymbols: [J]\n%sfixed: {J: 0.7, kappa_a: 1, Delta: 0}\n",
           head + strlen("model: shared\n"));
  error_case(t, "t.yaml:2:11: symbols: symbol 'J' shadows a parameter of the model");
  snprintf(t, sizeof t,
           "model: shared\nsymbols: [s, q]\n%sfixed: {J: \"s\", kappa_a: 1, Delta: 0, s: 1}\n",
           head + strlen("model: shared\n"));
  error_case(t, "t.yaml:2:14: symbol 'q' has no value");
  snprintf(t, sizeof t, "%sfixed: {J: 0.7, kappa_a: 0.3, Delta: \"(J*2\"}\n", head);
  error_case(t, "fixed.Delta = '(J*2': missing ')' for the '(' at position 0");
  snprintf(t, sizeof t, "%sfixed: {J: 0.7, kappa_a: 0.3, Delta: \"J*\"}\n", head);
  error_case(t, "unexpected end of expression at position 2");
}

/* ---- status ------------------------------------------------------------------------------- */

/* Every float field NaN, every int32 field -1 but status = bad_expression. */
static bool all_blank(const qb_model *m, const double *out) {
  for (int k = 0; k < m->nfields - 1; k++)
    if (m->fields[k].dtype == QB_I32 ? out[k] != -1.0 : !isnan(out[k])) return false;
  return out[m->nfields - 1] == (double)QB_PT_BAD_EXPRESSION;
}

static void status_case(const char *fixed, const double *x, int n, const bool *bad) {
  char text[1024];
  snprintf(text, sizeof text,
           "model: shared\nsymbols: [s]\naxes:\n  - {name: s, values: [%g, %g, %g]}\n"
           "fixed: {%s}\n",
           x[0], x[1], x[2], fixed);
  qb_config cfg;
  if (!parse(text, &cfg)) return;
  const qb_model *m = cfg.model;
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  for (int j = 0; j < n; j++) {
    point_params(&cfg, x[j], p);
    qb_model_eval(m, p, NULL, out);
    const uint32_t st = (uint32_t)out[m->nfields - 1];
    CHECK("status: bad_expression exactly where a value is bad",
          bad[j] ? all_blank(m, out) : !(st & QB_PT_BAD_EXPRESSION) && !isnan(out[0]),
          "{%s} at s = %g: status %u", fixed, x[j], st);
  }
  bool increasing = true;
  for (int k = 1; k < m->nstatus; k++)
    increasing = increasing && m->status_bits[k].mask > m->status_bits[k - 1].mask;
  CHECK("status: bits declared in increasing order, the base's fields",
        increasing && m->fields == qb_bind_base(m)->fields &&
            m->nstatus == qb_bind_base(m)->nstatus + 1,
        "%s", fixed);
  CHECK("status: bit 15 declared info",
        (qb_model_status_mask(m) & QB_PT_BAD_EXPRESSION) &&
            !(qb_model_failure_mask(m) & QB_PT_BAD_EXPRESSION),
        "%s", fixed);
  qb_config_free(&cfg);
}

static void test_status(void) {
  const double x[3] = {0.5, 0.7, 0.9};
  const bool mid[3] = {false, true, false}, low[3] = {true, true, false};
  status_case("J: 0.7, kappa_a: 0.3, kappa_b: 0.2, Delta: \"1/(s - 0.7)\"", x, 3, mid);
  status_case("J: 0.7, kappa_a: 0.3, kappa_b: 0.2, Delta: \"(s - 0.7)/(s - 0.7)\"", x, 3, mid);
  status_case("J: 0.7, kappa_a: \"sqrt(s - 0.8)\", kappa_b: 0.2, Delta: 0", x, 3, low);
  status_case("J: 0.7, kappa_a: \"s - 0.8\", kappa_b: 0.2, Delta: 0", x, 3, low);
  status_case("J: 0.7, kappa_a: 0.3, kappa_b: 0.2, Delta: \"s < 0.8 ? 2e6 : 1\"", x, 3, low);
  status_case("J: 0.7, kappa_a: 0.3, kappa_b: 0.2, Delta: 0, F: \"s < 0.8 ? 0 : 1\"", x, 3, low);
}

/* ---- shared, network: bitwise the base ----------------------------------------------------- */

/* cfg (wrapper) and ref (plain) over the same grid (t fastest): every point, and the rows along
 * the last axis, bitwise equal. */
static void compare_grids(const char *what, const qb_config *cfg, const qb_config *ref) {
  const qb_grid *g = &cfg->grid;
  const int nf = cfg->model->nfields, last = g->ndim - 1;
  const int64_t nx = g->axes[last].n;
  CHECK("compare: same field table", nf == ref->model->nfields && nx <= 128, "%s", what);
  if (nf != ref->model->nfields || nx > 128) return;
  double out[128 * QB_MAX_FIELDS], rout[128 * QB_MAX_FIELDS], one[QB_MAX_FIELDS];
  for (int64_t r = 0; r < g->axes[0].n; r++) {
    double p[QB_MAX_PARAMS], q[QB_MAX_PARAMS];
    memcpy(p, cfg->fixed, sizeof p);
    memcpy(q, ref->fixed, sizeof q);
    p[g->axes[0].param] = g->axes[0].values[r];
    q[ref->grid.axes[0].param] = ref->grid.axes[0].values[r];
    const double *x = g->axes[last].values;
    qb_model_eval_row(cfg->model, p, g->axes[last].param, x, (int)nx, NULL, out);
    qb_model_eval_row(ref->model, q, ref->grid.axes[last].param, x, (int)nx, NULL, rout);
    CHECK("compare: row bitwise the plain model's row", same_bits(out, rout, (int)nx * nf),
          "%s, row %lld", what, (long long)r);
    for (int64_t j = 0; j < nx; j++) {
      p[g->axes[last].param] = x[j];
      qb_model_eval(cfg->model, p, NULL, one);
      CHECK("compare: point bitwise its row", same_bits(one, out + j * nf, nf), "%s (%lld, %lld)",
            what, (long long)r, (long long)j);
    }
  }
}

static void test_shared(void) {
  const char *axes = "axes:\n  - {name: J, values: [0.1, 0.6, 1.3]}\n"
                     "  - {name: t, min: 0, max: 40, n: 41}\n";
  char a[1024], b[1024];
  snprintf(a, sizeof a,
           "model: shared\n%sfixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 1, "
           "phi: 0.4, Delta: \"0.5*J\"}\n",
           axes);
  snprintf(b, sizeof b,
           "model: shared\n%sfixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 1, "
           "phi: 0.4, Delta: 0}\n",
           axes);
  qb_config cfg, ref;
  if (!parse(a, &cfg)) return;
  if (!parse(b, &ref)) {
    qb_config_free(&cfg);
    return;
  }
  CHECK("shared: the wrapper reuses the row kernel",
        qb_bind_is(cfg.model) && qb_bind_row_reuse(cfg.model), "Delta = 0.5*J");
  /* the reference's Delta follows J row by row: compare one J at a time */
  for (int r = 0; r < 3; r++) {
    qb_config one = cfg, rone = ref;
    qb_axis ax = cfg.grid.axes[0], rax = ref.grid.axes[0];
    ax.values = &cfg.grid.axes[0].values[r];
    rax.values = &ref.grid.axes[0].values[r];
    ax.n = rax.n = 1;
    one.grid.axes[0] = ax;
    rone.grid.axes[0] = rax;
    rone.fixed[qb_model_param_index(ref.model, "Delta")] = 0.5 * ax.values[0];
    compare_grids("bind(shared) Delta = 0.5*J", &one, &rone);
  }
  qb_config_free(&cfg);
  qb_config_free(&ref);
  /* expressions depending on t: point by point, still bitwise its points */
  snprintf(a, sizeof a,
           "model: shared\n%sfixed: {kappa_a: 0.3, kappa_b: 0.2, Gamma: 1, "
           "Delta: \"0.01*t\"}\n",
           axes);
  if (!parse(a, &cfg)) return;
  CHECK("shared: no row reuse where an expression depends on t", !qb_bind_row_reuse(cfg.model),
        "Delta = 0.01*t");
  compare_grids("bind(shared) Delta = 0.01*t vs itself", &cfg, &cfg);
  qb_config_free(&cfg);
}

static const char net[] = "model: network\nnetwork:\n  modes: [a, b]\n  hamiltonian:\n"
                          "    - {detuning: a, value: D}\n    - {detuning: b, value: -D}\n"
                          "    - {hopping: [a, b], value: J}\n    - {drive: a, value: E}\n"
                          "  dissipators:\n    - {rate: k, L: {a: 1}}\n"
                          "    - {rate: G, L: {a: 1, b: 1}}\n";

static void test_network(void) {
  char a[2048], b[2048];
  snprintf(a, sizeof a,
           "%ssymbols: [g]\naxes:\n  - {name: g, values: [0.15]}\n"
           "  - {name: t, min: 0, max: 30, n: 31}\n"
           "fixed: {D: \"g - 0.1\", J: \"2*g\", E: 0.5, k: \"0.4*(1 + g)\", G: 1}\n",
           net);
  snprintf(b, sizeof b,
           "%saxes:\n  - {name: D, values: [%.17g]}\n"
           "  - {name: t, min: 0, max: 30, n: 31}\n"
           "fixed: {J: %.17g, E: 0.5, k: %.17g, G: 1}\n",
           net, 0.15 - 0.1, 2 * 0.15, 0.4 * (1 + 0.15));
  qb_config cfg, ref;
  if (!parse(a, &cfg)) return;
  if (!parse(b, &ref)) {
    qb_config_free(&cfg);
    return;
  }
  CHECK("network: wrapper over the network, row kernel reused",
        cfg.bind && qb_bind_base(cfg.bind)->eval_row && qb_bind_row_reuse(cfg.bind), "%s", "");
  compare_grids("bind(network) vs network", &cfg, &ref);
  qb_config_free(&cfg);
  qb_config_free(&ref);
}

/* ---- roundtrip ---------------------------------------------------------------------------- */

static void roundtrip_case(const char *text, bool wrapped) {
  qb_config cfg, again;
  if (!parse(text, &cfg)) return;
  CHECK("roundtrip: wrapper exactly when there are symbols or expressions",
        (cfg.bind != NULL) == wrapped, "%s", text);
  if (parse(cfg.normalized, &again)) {
    CHECK("roundtrip: normalized config parses back to itself",
          strcmp(cfg.normalized, again.normalized) == 0, "\n%s\nvs\n%s", cfg.normalized,
          again.normalized);
    qb_config_free(&again);
  }
  qb_config_free(&cfg);
}

static void test_roundtrip(void) {
  roundtrip_case("model: threemode\nsymbols: [alpha, delta_r]\naxes:\n"
                 "  - {name: delta_r, min: -1, max: 1, n: 21}\n"
                 "  - {name: kappa_b, min: 0.01, max: 1, n: 11}\n"
                 "fixed:\n  alpha: 0.5\n  kappa_a: \"kappa_b*(1 - alpha)\"\n"
                 "  p_a: \"(kappa_a/kappa_b)^0.25\"\n  delta: \"0.5*delta_r\"\n"
                 "  kappa_c: 1\n  Gamma: 1\n",
                 true);
  roundtrip_case("model: shared\naxes:\n  - {name: J, values: [0.2]}\n"
                 "fixed: {kappa_a: 1, kappa_b: 1, Delta: -J/2}\n",
                 true);
  roundtrip_case("model: shared\naxes:\n  - {name: J, values: [0.2]}\n"
                 "fixed: {kappa_a: 1, kappa_b: 1, Delta: 0.5}\n",
                 false);
}

int main(int argc, char **argv) {
  qb_test_select(argc, argv);
  QB_PART("language", test_language());
  QB_PART("errors", test_errors());
  QB_PART("status", test_status());
  QB_PART("shared", test_shared());
  QB_PART("network", test_network());
  QB_PART("roundtrip", test_roundtrip());
  return qb_test_report("test_bind");
}
