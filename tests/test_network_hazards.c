/* Model network's hazards (issue 13: "1e6 random points of random networks, every NaN explained
 * by a status bit").  Random networks are written as YAML text and parsed by qb_config_parse:
 * 1 to 4 modes (one in 50 with 8, 3 rows each), random detunings, hoppings with phases, one- and
 * two-mode squeezing (often above threshold), drives, dissipators with random complex coefficients
 * and thermal occupations; values are symbols or expressions over them (2*g, g/2, -g,
 * sqrt(k1*k2), k1+k2, exp(x), 1/g, 0.5).  The symbols' values are drawn per point so that
 * rates and occupations are sometimes 0 or negative, values sometimes beyond their windows,
 * infinite (exp(800), 1/0) or NaN (sqrt of a negative product), drives up to 1e100 and beyond,
 * and a few symbols or t are not finite (bad_param).  Each point vector is evaluated as a row
 * of ROW t values (0, then log-spread up to 1e1 .. 1e250) with qb_model_eval_row, and two
 * points of every row alone with qb_model_eval.  Checks at every point:
 *   - every set status bit is declared by the model; every NaN field is explained by a set bit
 *     allowed for that field (t fields: t_unresolved; steady-state fields: not_stable,
 *     ill_conditioned; t_crit: tcrit_never, tcrit_failed; every field: bad_param, numerics,
 *     bad_value; W, nbar, P, W_ss, the differences of energies, also overflow); status 0
 *     means no NaN; an infinite field carries overflow;
 *   - conversely each bit has its effect: bad_param and bad_value make every field NaN,
 *     not_stable every steady-state field, ill_conditioned / t_unresolved at least one of
 *     theirs, tcrit_never / tcrit_failed t_crit, overflow some infinite field;
 *   - bad_value is set exactly where the test's own evaluation of the expressions (in C) gives
 *     a value outside its window (README: rates and n_th >= 0, |rate|, |detuning|, |hopping|,
 *     |squeezing| <= 1e6, |coefficient| <= 1e3, |drive| <= 1e100, |phase| <= 1e6, finite);
 *   - growth_rate > 0 sets not_stable;
 *   - ergotropy: nbar_m >= 0 wherever finite; W_m <= max(E_m, 0) + 1e-8 |E_m| + 1e-12 of the
 *     total energy (the model's accuracy guard, qb_model.h; where every E is finite), the same
 *     for W_m_ss <= E_m_ss; a reported energy is never below 0 (C >= 0 is part of the model's
 *     guard); W = E bit for bit (at t and in steady state) without thermal occupation or
 *     squeezing;
 *   - rows equal single points bit for bit (qb_model.h's row contract).
 * Prints the points, the NaN fields per explaining bit and the points per bit.
 * Usage: test_network_hazards [POINTS [SEED]] (default 1e6 points; CTest runs fewer) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_network.h"

#define ROW 100      /* t values per row */
#define NCFG_ROWS 20 /* rows (point vectors) per random network */
#define PI 3.14159265358979323846

/* ---- random numbers (splitmix64: the same sequence on every platform) ---- */

static uint64_t rng_state;
static double unif(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}
static double uab(double a, double b) {
  return a + (b - a) * unif();
}
static double logu(double a, double b) {
  return exp(uab(log(a), log(b)));
}
static int irand(int n) {
  return (int)(unif() * n);
}

/* ---- symbols and expressions ---- */

typedef enum { S_RATE, S_NTH, S_DET, S_PHASE, S_DRIVE, S_COEF, S_EXPO, S_INV, S_KINDS } sym_kind;
typedef enum { W_RATE, W_NTH, W_SIGNED, W_PHASE, W_DRIVE, W_COEF } window; /* value windows */

/* An expression the test writes and evaluates itself: form over symbols a, b. */
typedef enum { E_SYM, E_TWICE, E_HALF, E_NEG, E_SQRT, E_SUM, E_EXP, E_INV, E_CONST } expr_form;
typedef struct {
  expr_form form;
  int a, b;
  double c;
} expr;

typedef struct {
  int nsym;
  sym_kind kind[30];
  int nexpr;
  expr e[256];
  window win[256];
  bool used[30];  /* written into the text (symbol() may draw one an expression replaces) */
  bool noiseless; /* no n_th and no squeezing term: W = E bit for bit */
  int nmodes;
} netspec;

/* A symbol of kind k (a new one, or one of that kind already there: networks share symbols). */
static int symbol(netspec *s, sym_kind k) {
  if (s->nsym > 0 && (s->nsym >= 28 || unif() < 0.3)) {
    int i = irand(s->nsym);
    for (int n = 0; n < s->nsym; n++, i = (i + 1) % s->nsym)
      if (s->kind[i] == k) return i;
    if (s->nsym >= 28) return irand(s->nsym);
  }
  s->kind[s->nsym] = k;
  return s->nsym++;
}

/* A new expression for a value of window w, its text appended to buf. */
static void new_expr(netspec *s, window w, sym_kind k, char *buf, size_t size) {
  expr *e = &s->e[s->nexpr];
  s->win[s->nexpr++] = w;
  const double u = unif();
  e->a = symbol(s, k);
  e->b = e->a;
  e->form = u < 0.55   ? E_SYM
            : u < 0.62 ? E_TWICE
            : u < 0.68 ? E_HALF
            : u < 0.72 ? E_NEG
            : u < 0.8  ? E_SQRT
            : u < 0.86 ? E_SUM
            : u < 0.9  ? E_EXP
            : u < 0.94 ? E_INV
                       : E_CONST;
  const bool nonneg = w == W_RATE || w == W_NTH;
  if (e->form == E_NEG && nonneg) e->form = E_HALF; /* -rate: bad_value at every point */
  if (e->form == E_SQRT && k != S_RATE && k != S_NTH) e->form = E_SUM;
  if (e->form == E_SQRT || e->form == E_SUM) e->b = symbol(s, k);
  if (e->form == E_EXP) e->a = symbol(s, S_EXPO);
  if (e->form == E_INV) e->a = symbol(s, S_INV);
  if (e->form != E_SQRT && e->form != E_SUM) e->b = e->a;
  e->c = unif() < 0.3 ? 0.0 : 0.5;
  static const char *const fmt[] = {"s%d",     "2*s%d",    "s%d/2", "-s%d", "sqrt(s%d*s%d)",
                                    "s%d+s%d", "exp(s%d)", "1/s%d", ""};
  size_t used = strlen(buf);
  if (e->form != E_CONST) s->used[e->a] = s->used[e->b] = true;
  if (e->form == E_CONST)
    snprintf(buf + used, size - used, "%g", e->c);
  else
    snprintf(buf + used, size - used, fmt[e->form], e->a, e->b);
}

static double expr_value(const expr *e, const double *p) {
  const double a = p[e->a], b = p[e->b];
  switch (e->form) {
  case E_SYM:
    return a;
  case E_TWICE:
    return 2 * a;
  case E_HALF:
    return a / 2;
  case E_NEG:
    return -a;
  case E_SQRT:
    return sqrt(a * b);
  case E_SUM:
    return a + b;
  case E_EXP:
    return exp(a);
  case E_INV:
    return 1 / a;
  case E_CONST:
    return e->c;
  }
  return NAN;
}

/* The README's windows (include/qbmap/qb_network.h), checked independently of the kernel. */
static bool in_window(double v, window w) {
  static const double max[] = {1e6, 1e6, 1e6, 1e6, 1e100, 1e3};
  if (!isfinite(v) || fabs(v) > max[w]) return false;
  return !((w == W_RATE || w == W_NTH) && v < 0);
}

/* Whether the network is bad at p (bad_value expected). */
static bool expect_bad(const netspec *s, const double *p) {
  for (int i = 0; i < s->nexpr; i++)
    if (!in_window(expr_value(&s->e[i], p), s->win[i])) return true;
  return false;
}

/* ---- random networks as YAML ---- */

static void cat(char *buf, size_t size, const char *fmt, const char *a, const char *b) {
  size_t used = strlen(buf);
  snprintf(buf + used, size - used, fmt, a, b);
}

static const char *const MODE[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};

/* `, phase: EXPR` with probability q. */
static void maybe_phase(netspec *s, char *buf, size_t size, double q) {
  if (unif() >= q) return;
  cat(buf, size, ", phase: ", "", "");
  new_expr(s, W_PHASE, S_PHASE, buf, size);
}

/* One Hamiltonian term line "    - {KIND: MODES, value: EXPR[, phase: EXPR]}". */
static void term(netspec *s, char *buf, size_t size, const char *kind, int j, int k, window w,
                 sym_kind sk, double phase_q) {
  if (j == k && strcmp(kind, "squeezing") != 0)
    cat(buf, size, "    - {%s: %s, value: ", kind, MODE[j]);
  else {
    cat(buf, size, "    - {%s: [%s, ", kind, MODE[j]);
    cat(buf, size, "%s], value: ", MODE[k], "");
  }
  new_expr(s, w, sk, buf, size);
  maybe_phase(s, buf, size, phase_q);
  cat(buf, size, "}\n", "", "");
}

static void hamiltonian(netspec *s, char *buf, size_t size) {
  const int n = s->nmodes;
  cat(buf, size, "  hamiltonian:\n", "", "");
  for (int j = 0; j < n; j++)
    if (unif() < 0.8) term(s, buf, size, "detuning", j, j, W_SIGNED, S_DET, 0);
  for (int j = 0; j < n; j++)
    for (int k = j + 1; k < n; k++)
      if (unif() < (n > 4 ? 0.2 : 0.5)) term(s, buf, size, "hopping", j, k, W_SIGNED, S_RATE, 0.7);
  if (!s->noiseless)
    for (int i = 0, ns = irand(3); i < ns; i++)
      term(s, buf, size, "squeezing", irand(n), irand(n), W_SIGNED, S_RATE, 0.6);
  int drives = 0;
  for (int j = 0; j < n; j++)
    if (unif() < 0.4) term(s, buf, size, "drive", j, j, W_DRIVE, S_DRIVE, 0.5), drives++;
  if (!drives) {
    const int j = irand(n);
    term(s, buf, size, "drive", j, j, W_DRIVE, S_DRIVE, 0.5);
  }
}

/* A dissipator's coefficient of mode j: 1, an expression, or [abs, phase]. */
static void coefficient(netspec *s, char *buf, size_t size, int j) {
  cat(buf, size, "%s: ", MODE[j], "");
  const double u = unif();
  if (u < 0.3)
    cat(buf, size, "1", "", "");
  else if (u < 0.5)
    new_expr(s, W_COEF, S_COEF, buf, size);
  else {
    cat(buf, size, "[", "", "");
    new_expr(s, W_COEF, S_COEF, buf, size);
    cat(buf, size, ", ", "", "");
    new_expr(s, W_PHASE, S_PHASE, buf, size);
    cat(buf, size, "]", "", "");
  }
}

static void dissipator(netspec *s, char *buf, size_t size, const int *modes, int nm) {
  cat(buf, size, "    - {rate: ", "", "");
  new_expr(s, W_RATE, S_RATE, buf, size);
  cat(buf, size, ", L: {", "", "");
  for (int i = 0; i < nm; i++) {
    if (i) cat(buf, size, ", ", "", "");
    coefficient(s, buf, size, modes[i]);
  }
  cat(buf, size, "}", "", "");
  if (!s->noiseless && unif() < 0.5) {
    cat(buf, size, ", n_th: ", "", "");
    new_expr(s, W_NTH, S_NTH, buf, size);
  }
  cat(buf, size, "}\n", "", "");
}

static void dissipators(netspec *s, char *buf, size_t size) {
  const int n = s->nmodes;
  const size_t at = strlen(buf);
  cat(buf, size, "  dissipators:\n", "", "");
  int nd = 0;
  for (int j = 0; j < n; j++)
    if (unif() < 0.85) dissipator(s, buf, size, &j, 1), nd++;
  for (int i = 0, shared = irand(3); i < shared && n > 1; i++) {
    int modes[3], nm = n > 2 && unif() < 0.4 ? 3 : 2, first = irand(n);
    for (int k = 0; k < nm; k++)
      modes[k] = (first + k * (1 + irand(n - 1) / nm)) % n;
    if (nm == 3 && (modes[2] == modes[0] || modes[2] == modes[1])) nm = 2;
    if (modes[1] == modes[0]) modes[1] = (modes[0] + 1) % n;
    dissipator(s, buf, size, modes, nm), nd++;
  }
  if (!nd) snprintf(buf + at, size - at, "  dissipators: []\n"); /* undamped */
}

/* A random network's config text (and its spec, for the test's own evaluation). */
static void random_network(netspec *s, char *buf, size_t size) {
  memset(s, 0, sizeof *s);
  s->nmodes = unif() < 0.02 ? 8 : 1 + irand(4);
  s->noiseless = unif() < 0.3;
  buf[0] = '\0';
  cat(buf, size, "model: network\nnetwork:\n  modes: [", "", "");
  for (int j = 0; j < s->nmodes; j++)
    cat(buf, size, "%s%s", j ? ", " : "", MODE[j]);
  cat(buf, size, "]\n  battery: %s\n", MODE[irand(s->nmodes)], "");
  hamiltonian(s, buf, size);
  dissipators(s, buf, size);
  cat(buf, size, "axes:\n  - {name: t, min: 0, max: 1, n: 2}\nfixed: {", "", "");
  for (int i = 0, first = 1; i < s->nsym; i++) {
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    if (s->used[i]) cat(buf, size, "%s%s: 1", first ? "" : ", ", name), first = 0;
  }
  cat(buf, size, "}\n", "", "");
}

/* ---- values at a point ---- */

static double sign(void) {
  return unif() < 0.5 ? -1.0 : 1.0;
}

/* A value of a symbol of kind k inside the windows (zeros, tiny and large values included);
 * with `hazard`, also values that make a rate or occupation negative or a value leave its
 * window (exp(s) beyond 1e300 and inf). */
static double draw(sym_kind k, bool hazard) {
  const double u = unif(), h = hazard ? unif() : 1.0;
  switch (k) {
  case S_RATE:
    return h < 0.15   ? -logu(1e-3, 1)
           : h < 0.25 ? logu(1e6, 1e8)
           : u < 0.04 ? 0.0
           : u < 0.05 ? 1e6
           : u < 0.2  ? logu(1e-8, 1e5)
                      : logu(1e-2, 3);
  case S_NTH:
    return h < 0.15   ? -logu(1e-6, 1)
           : h < 0.2  ? logu(1e6, 1e7)
           : u < 0.3  ? 0.0
           : u < 0.37 ? logu(1, 1e5)
                      : logu(1e-4, 1);
  case S_DET:
    return h < 0.1   ? sign() * logu(1e6, 1e7)
           : u < 0.1 ? 0.0
           : u < 0.2 ? sign() * logu(1e-8, 1e5)
                     : uab(-3, 3);
  case S_PHASE:
    return h < 0.1    ? sign() * logu(1e6, 1e8)
           : u < 0.05 ? 0.0
           : u < 0.1  ? uab(-1e6, 1e6)
                      : uab(-PI, PI);
  case S_DRIVE:
    return h < 0.1    ? sign() * logu(1e100, 1e120)
           : u < 0.08 ? 0.0
           : u < 0.11 ? sign() * logu(1e50, 1e100)
           : u < 0.2  ? logu(1e-300, 1e-3)
                      : sign() * logu(1e-2, 1e2);
  case S_COEF:
    return h < 0.1 ? logu(1e3, 1e4) : u < 0.05 ? 0.0 : sign() * uab(0.2, 2);
  case S_EXPO: /* exp(s): up to 1e100 (drives), in hazard rows beyond 1e308 */
    return h < 0.2 ? uab(690, 800) : h < 0.4 ? uab(100, 230) : uab(-5, 3);
  case S_INV: /* 1/s: 0 (inf) or negative in hazard rows */
    return h < 0.1 ? 0.0 : h < 0.2 ? -logu(1e-3, 1e3) : logu(1e-3, 1e3);
  case S_KINDS:
    break;
  }
  return NAN;
}

/* The t values of a row: 0 (mostly), then log-spread up to 1e1 .. 1e250; rarely one not valid
 * (bad_param at that point). */
static void t_row(double *x) {
  const double u = unif();
  const double hi = u < 0.02 ? 1e250 : u < 0.12 ? logu(1e6, 1e250) : logu(1e1, 1e6);
  const double lo = hi * logu(1e-12, 1e-3);
  for (int j = 0; j < ROW; j++)
    x[j] = lo * pow(hi / lo, (double)j / (ROW - 1));
  if (unif() < 0.9) x[0] = 0.0;
  if (unif() < 0.01) x[irand(ROW)] = unif() < 0.5 ? -1.0 : INFINITY;
}

/* ---- the checks ---- */

typedef enum { C_GROWTH, C_T, C_T_DIFF, C_SS, C_SS_DIFF, C_TCRIT, C_STATUS } field_class;

typedef struct {
  const qb_model *m;
  int nf;
  field_class cls[QB_MAX_FIELDS];
  int E[8], W[8], nbar[8], E_ss[8], W_ss[8], growth, tcrit;
  uint32_t declared, never, failed, bad_value;
} model_info;

static int fidx(const qb_model *m, const char *name, const char *mode) {
  char f[32];
  snprintf(f, sizeof f, name, mode);
  return qb_test_index(qb_model_field_index(m, f), "field", f);
}

static uint32_t declared_bit(const qb_model *m, const char *word) {
  uint32_t b = qb_model_status_bit(m, word);
  if (!b) QB_SETUP_FATAL("model network declares no status bit '%s'", word);
  return b;
}

static void model_info_of(const qb_model *m, int nmodes, model_info *mi) {
  mi->m = m;
  mi->nf = m->nfields;
  for (int f = 0; f < mi->nf; f++)
    mi->cls[f] = C_T_DIFF; /* P */
  for (int j = 0; j < nmodes; j++) {
    const char *c = MODE[j];
    mi->cls[mi->E[j] = fidx(m, "E_%s", c)] = C_T;
    mi->cls[mi->W[j] = fidx(m, "W_%s", c)] = C_T_DIFF;
    mi->cls[mi->nbar[j] = fidx(m, "nbar_%s", c)] = C_T_DIFF;
    mi->cls[fidx(m, "re_%s", c)] = C_T;
    mi->cls[fidx(m, "im_%s", c)] = C_T;
    mi->cls[mi->E_ss[j] = fidx(m, "E_%s_ss", c)] = C_SS;
    mi->cls[mi->W_ss[j] = fidx(m, "W_%s_ss", c)] = C_SS_DIFF;
  }
  mi->cls[mi->growth = fidx(m, "growth_rate", "")] = C_GROWTH;
  mi->cls[mi->tcrit = fidx(m, "t_crit", "")] = C_TCRIT;
  mi->cls[fidx(m, "P", "")] = C_T_DIFF;
  mi->cls[fidx(m, "status", "")] = C_STATUS;
  CHECK("network: status is the last field", mi->cls[mi->nf - 1] == C_STATUS, "%d fields", mi->nf);
  mi->declared = qb_model_status_mask(m);
  mi->never = declared_bit(m, "tcrit_never");
  mi->failed = declared_bit(m, "tcrit_failed");
  mi->bad_value = declared_bit(m, "bad_value");
}

/* The bits that may explain a NaN (or, with overflow, an infinity) in a field of class c. */
static uint32_t allowed(const model_info *mi, field_class c) {
  const uint32_t any = QB_PT_BAD_PARAM | QB_PT_NUMERICS | mi->bad_value;
  switch (c) {
  case C_GROWTH:
    return any;
  case C_T:
    return any | QB_PT_T_UNRESOLVED;
  case C_T_DIFF:
    return any | QB_PT_T_UNRESOLVED | QB_PT_OVERFLOW;
  case C_SS:
    return any | QB_PT_NOT_STABLE | QB_PT_ILL_CONDITIONED;
  case C_SS_DIFF:
    return any | QB_PT_NOT_STABLE | QB_PT_ILL_CONDITIONED | QB_PT_OVERFLOW;
  case C_TCRIT:
    return any | mi->never | mi->failed;
  case C_STATUS:
    break;
  }
  return 0;
}

/* Whether the current row asks for t_crit (its scan can cost seconds per point on marginal
 * networks: one row in 10 on average, with one single point; the others pass want without it, which
 * must leave it NaN and set neither tcrit bit). */
static bool row_tcrit;
static bool row_failed;          /* a W <= E check of the row failed: its point is printed */
static const char *network_text; /* the current network's config (printed with a failure) */
static long npoints, ntcrit, nsingle, nnoiseless, nbad_expected, nfinite_W;
static long nan_by_bit[32], points_by_bit[32], nan_fields, inf_fields;

/* Every field NaN (except status) in fields of class c (C_STATUS: every class). */
static bool all_nan(const model_info *mi, const double *o, field_class c) {
  for (int f = 0; f < mi->nf - 1; f++)
    if ((c == C_STATUS || mi->cls[f] == c) && !isnan(o[f])) return false;
  return true;
}

static bool any_nan(const model_info *mi, const double *o, field_class c1, field_class c2) {
  for (int f = 0; f < mi->nf - 1; f++)
    if ((mi->cls[f] == c1 || mi->cls[f] == c2) && isnan(o[f])) return true;
  return false;
}

/* Each NaN explained by an allowed set bit, each infinity by overflow; counts. */
static void check_nans(const model_info *mi, const double *o, uint32_t st, const char *where) {
  bool inf = false;
  for (int f = 0; f < mi->nf - 1; f++) {
    if (isinf(o[f])) {
      inf = true;
      inf_fields++;
      CHECK("an infinite field carries overflow", st & QB_PT_OVERFLOW, "%s field %s status %u",
            where, mi->m->fields[f].name, st);
    }
    if (!isnan(o[f])) continue;
    if (f == mi->tcrit && !row_tcrit) continue;
    nan_fields++;
    const uint32_t why = st & allowed(mi, mi->cls[f]);
    CHECK("a NaN field is explained by a set status bit allowed for it", why,
          "%s field %s status %u", where, mi->m->fields[f].name, st);
    for (int b = 0; b < 32; b++)
      if (why & (1u << b)) nan_by_bit[b]++;
  }
  CHECK("overflow only with an infinite field", !(st & QB_PT_OVERFLOW) || inf, "%s status %u",
        where, st);
}

/* Each bit has its effect on the fields. */
static void check_bits(const model_info *mi, const double *o, uint32_t st, bool bad,
                       const char *where) {
  CHECK("every set bit is declared", (st & ~mi->declared) == 0, "%s status %u declared %u", where,
        st, mi->declared);
  for (int b = 0; b < 32; b++)
    if (st & (1u << b)) points_by_bit[b]++;
  if (st & (QB_PT_BAD_PARAM | mi->bad_value))
    CHECK("bad_param / bad_value: every field NaN", all_nan(mi, o, C_STATUS), "%s status %u", where,
          st);
  if (!(st & QB_PT_BAD_PARAM))
    CHECK("bad_value exactly where a value is outside its window (the test's evaluation)",
          !(st & mi->bad_value) == !bad, "%s status %u expected %d", where, st, bad);
  if (st & QB_PT_NOT_STABLE)
    CHECK("not_stable: every steady-state field NaN",
          all_nan(mi, o, C_SS) && all_nan(mi, o, C_SS_DIFF), "%s status %u", where, st);
  if (st & QB_PT_ILL_CONDITIONED)
    CHECK("ill_conditioned: a steady-state field NaN", any_nan(mi, o, C_SS, C_SS_DIFF),
          "%s status %u", where, st);
  if (st & QB_PT_T_UNRESOLVED)
    CHECK("t_unresolved: a t field NaN", any_nan(mi, o, C_T, C_T_DIFF), "%s status %u", where, st);
  if (!row_tcrit)
    CHECK("t_crit not wanted: NaN, no tcrit bit",
          isnan(o[mi->tcrit]) && !(st & (mi->never | mi->failed)), "%s status %u t_crit %.17g",
          where, st, o[mi->tcrit]);
  if (st & (mi->never | mi->failed))
    CHECK("tcrit_never / tcrit_failed: t_crit NaN", isnan(o[mi->tcrit]), "%s status %u", where, st);
  if (o[mi->growth] > 0)
    CHECK("growth_rate > 0 sets not_stable", st & QB_PT_NOT_STABLE, "%s growth %.17g status %u",
          where, o[mi->growth], st);
}

/* The total energy sum_j |E_j| at t (ss false) or in the steady state; NaN if a mode's energy
 * is not finite (the model's tolerance is then unknown: its total includes that mode). */
static double total_energy(const model_info *mi, const double *o, int nmodes, bool ss) {
  double tot = 0;
  for (int j = 0; j < nmodes; j++)
    tot += fabs(o[ss ? mi->E_ss[j] : mi->E[j]]);
  return isfinite(tot) ? tot : NAN;
}

static long w_above_e;      /* points where W > E at all (within the tolerance) */
static long e_negative;     /* finite energies below 0 (rounding of C: W >= 0 is then above E) */
static double e_min = 0;    /* the most negative of them */
static double w_excess_max; /* the largest (W - E) / |E| among them */

/* W <= E to the model's accuracy guard (qb_model.h: each energy to QB_EST_MAX of itself plus
 * QB_ABS_MAX of the total energy; checked where every mode's energy is finite, so that the
 * total is known; W = E - nbar, nbar >= 0 exactly: a W above E is the
 * computed covariance violating |Q|^2 <= C (C + 1) within its stated error). */
static void check_w_le_e(double W, double E, double tot, const char *what, const char *where,
                         int j) {
  if (!isfinite(W) || !isfinite(E) || isnan(tot)) return;
  nfinite_W++;
  if (E < 0 && e_negative++ == 0)
    printf("note: first energy below 0: %s at %s mode %d: E %.17g W %.17g\n", what, where, j, E, W);
  if (E < 0) e_min = fmin(e_min, E);
  CHECK("a reported energy is not negative", E >= 0, "%s mode %d: E %.17g (%s)", where, j, E, what);
  row_failed = row_failed || E < 0;
  if (W > E) {
    w_above_e++;
    if (E > 0) w_excess_max = fmax(w_excess_max, (W - E) / E);
  }
  const bool ok = W <= fmax(E, 0) + QB_EST_MAX * fabs(E) + QB_ABS_MAX * tot;
  CHECK(what, ok, "%s mode %d: W %.17g E %.17g (total energy %.17g)", where, j, W, E, tot);
  row_failed = row_failed || !ok;
}

/* W <= E, nbar >= 0 wherever finite; W = E bitwise without noise. */
static void check_ergotropy(const model_info *mi, const double *o, int nmodes, bool noiseless,
                            const char *where) {
  const double tot = total_energy(mi, o, nmodes, false), tot_ss = total_energy(mi, o, nmodes, true);
  for (int j = 0; j < nmodes; j++) {
    const double E = o[mi->E[j]], W = o[mi->W[j]], nb = o[mi->nbar[j]];
    const double Es = o[mi->E_ss[j]], Ws = o[mi->W_ss[j]];
    check_w_le_e(W, E, tot, "W_m <= E_m", where, j);
    check_w_le_e(Ws, Es, tot_ss, "W_m_ss <= E_m_ss", where, j);
    if (isfinite(nb)) CHECK("nbar_m >= 0", nb >= 0, "%s mode %d: nbar %.17g", where, j, nb);
    if (!noiseless) continue;
    CHECK("W == E bit for bit without noise", memcmp(&E, &W, sizeof E) == 0,
          "%s mode %d: W %.17g E %.17g", where, j, W, E);
    CHECK("W_ss == E_ss bit for bit without noise", memcmp(&Es, &Ws, sizeof Es) == 0,
          "%s mode %d: W_ss %.17g E_ss %.17g", where, j, Ws, Es);
  }
}

/* ---- the driver ---- */

typedef struct {
  netspec spec;
  model_info mi;
  int idx[30]; /* the model's parameter index of each symbol (-1: unused) */
  int p_t, p_emax;
} network;

/* The point vector: each symbol drawn (rarely not finite: bad_param), E_max. */
static void draw_point(const network *w, double *val, double *p) {
  const qb_model *m = w->mi.m;
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(m, p, given);
  const bool hazard = unif() < 0.15; /* a row whose values may leave their windows */
  for (int i = 0; i < w->spec.nsym; i++) {
    val[i] = draw(w->spec.kind[i], hazard);
    if (unif() < 0.0005) val[i] = unif() < 0.5 ? NAN : -INFINITY;
    if (w->idx[i] >= 0) p[w->idx[i]] = val[i];
  }
  const double u = unif();
  p[w->p_emax] = u < 0.02 ? 1e-100 : u < 0.04 ? 1e100 : logu(1e-3, 1e8);
}

static void check_point(const network *w, const double *o, bool bad, const char *where) {
  const uint32_t st = (uint32_t)o[w->mi.nf - 1];
  CHECK("status a non-negative integer", o[w->mi.nf - 1] == (double)st, "%s: %.17g", where,
        o[w->mi.nf - 1]);
  check_bits(&w->mi, o, st, bad, where);
  check_nans(&w->mi, o, st, where);
  check_ergotropy(&w->mi, o, w->spec.nmodes, w->spec.noiseless, where);
  npoints++;
  nnoiseless += w->spec.noiseless;
}

/* One row of ROW points, checked; two of its points alone, bitwise the row's. */
static void row(const network *w, int cfg, int r) {
  const int nf = w->mi.nf;
  double val[30], p[QB_MAX_PARAMS], x[ROW], single[QB_MAX_FIELDS];
  static double out[ROW * QB_MAX_FIELDS];
  draw_point(w, val, p);
  t_row(x);
  const bool bad = expect_bad(&w->spec, val);
  nbad_expected += bad ? ROW : 0;
  const clock_t t0 = clock();
  bool want[QB_MAX_FIELDS];
  for (int f = 0; f < nf; f++)
    want[f] = true;
  row_tcrit = unif() < 0.1;
  want[w->mi.tcrit] = row_tcrit;
  ntcrit += row_tcrit ? ROW : 0;
  qb_model_eval_row(w->mi.m, p, w->p_t, x, ROW, want, out);
  const double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  bool neg = false;
  for (int j = 0; j < ROW * nf; j++)
    neg = neg || (out[j] < -1e-6 && w->mi.cls[j % nf] != C_T && w->mi.cls[j % nf] != C_T_DIFF &&
                  w->mi.cls[j % nf] != C_GROWTH);
  for (int j = 0; j < ROW; j++)
    for (int k = 0; k < w->spec.nmodes; k++)
      neg = neg || out[j * nf + w->mi.E[k]] < -1e-6;
  row_failed = false;
  for (int j = 0; j < ROW; j++) {
    char where[96];
    snprintf(where, sizeof where, "network %d row %d t=%.17g", cfg, r, x[j]);
    check_point(w, out + (size_t)j * (size_t)nf, bad, where);
  }
  if (row_failed || (getenv("QB_NH_TIME") && (secs > 0.2 || neg))) {
    if (row_failed && !getenv("QB_NH_TIME")) printf("network %d:\n%s", cfg, network_text);
    printf("slow row: network %d row %d %.3f s, t %.17g .. %.17g:", cfg, r, secs, x[1], x[ROW - 1]);
    for (int i = 0; i < w->mi.m->nparams; i++)
      printf(" %s=%.17g", w->mi.m->params[i].name, p[i]);
    printf("\n");
  }
  for (int k = 0; k < (row_tcrit ? 1 : 2); k++) { /* t_crit scans: up to seconds a point */
    const int j = k ? irand(ROW) : ROW - 1;
    p[w->p_t] = x[j];
    qb_model_eval(w->mi.m, p, want, single);
    nsingle++;
    CHECK("a row's point equals the point alone, bit for bit",
          memcmp(single, out + (size_t)j * (size_t)nf, (size_t)nf * sizeof *single) == 0,
          "network %d row %d t=%.17g", cfg, r, x[j]);
  }
}

static bool network_new(network *w, qb_config *cfg, int c) {
  static char text[1 << 16];
  char msg[2048];
  random_network(&w->spec, text, sizeof text);
  if (getenv("QB_NH_TIME")) printf("network %d:\n%s", c, text);
  network_text = text;
  const qb_err e = qb_config_parse(text, "random network", NULL, 0, cfg, msg, sizeof msg);
  CHECK("a random network parses", e == QB_OK, "network %d: %s\n%s", c, msg, text);
  if (e) return false;
  const qb_model *m = cfg->model;
  model_info_of(m, w->spec.nmodes, &w->mi);
  for (int i = 0; i < w->spec.nsym; i++) {
    char name[16];
    snprintf(name, sizeof name, "s%d", i);
    w->idx[i] = qb_model_param_index(m, name);
  }
  w->p_t = qb_test_index(qb_model_param_index(m, "t"), "parameter", "t");
  w->p_emax = qb_test_index(qb_model_param_index(m, "E_max"), "parameter", "E_max");
  return true;
}

static void report_counts(double secs) {
  printf("%ld points (%ld rows of %d, %ld single points), %ld in networks without noise, %ld "
         "with a value outside its window; %ld finite (E, W) pairs; %.1f s\n",
         npoints, npoints / ROW, ROW, nsingle, nnoiseless, nbad_expected, nfinite_W, secs);
  printf("%ld points with t_crit wanted; W > E (within the tolerance) at %ld, by at most %.3g "
         "relative; %ld energies below 0 (down to %.3g)\n",
         ntcrit, w_above_e, w_excess_max, e_negative, e_min);
  printf("%ld NaN fields, %ld infinite fields; per status bit: points with it, NaN fields it "
         "explains\n",
         nan_fields, inf_fields);
  for (int b = 0; b < 32; b++) {
    const qb_pt_bit *d = NULL;
    for (int i = 0; i < qb_network_nstatus; i++)
      if (qb_network_status_bits[i].mask == 1u << b) d = &qb_network_status_bits[i];
    if (d || points_by_bit[b])
      printf("  bit %2d %-16s %9ld points %10ld NaN fields\n", b, d ? qb_pt_bit_word(d) : "?",
             points_by_bit[b], nan_by_bit[b]);
  }
}

int main(int argc, char **argv) {
  qb_test_name = "network_hazards";
  const long want = argc > 1 ? atol(argv[1]) : 1000000;
  rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 13;
  if (want <= 0 || argc > 3) QB_SETUP_FATAL("usage: test_network_hazards [POINTS [SEED]]");
  const clock_t t0 = clock();
  static network w;
  int c = 0;
  for (; npoints < want; c++) {
    qb_config cfg;
    if (!network_new(&w, &cfg, c)) continue;
    const clock_t tc = clock();
    const int rows = w.spec.nmodes == 8 ? 3 : NCFG_ROWS; /* 10-50 ms a point with squeezing */
    for (int r = 0; r < rows && npoints < want; r++)
      row(&w, c, r);
    if (getenv("QB_NH_TIME"))
      printf("network %d: %d modes, %.3f s\n", c, w.spec.nmodes,
             (double)(clock() - tc) / CLOCKS_PER_SEC);
    qb_config_free(&cfg);
  }
  printf("%d random networks\n", c);
  report_counts((double)(clock() - t0) / CLOCKS_PER_SEC);
  return qb_test_report(qb_test_name);
}
