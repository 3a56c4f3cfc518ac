/* qb_merit: the figures-of-merit wrapper (include/qbmap/qb_merit.h, docs/physics.md §8).  At a
 * point: the base at t = 0 gives growth_rate and E_ss, a scan of E(t) over QB_MERIT_SCAN_* times
 * (one base row, in chunks) brackets the maximum of E/t and the first crossings of x E_ss, and a
 * bisection/secant (roots) or golden-section (maximum without a power field) search refines
 * them.  Nothing here depends on the point's own t. */
#include "qbmap/qb_merit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_bind.h"
#include "qbmap/qb_config.h"

#define NOWN (2 + QB_MERIT_XMAX) /* own fields at most */
#define CHUNK 64                 /* scan times per base call (the stack buffer's rows) */
#define MAX_BITS 32

typedef struct {
  const qb_model *base;
  qb_merit_spec spec;
  int nb;                    /* base fields (status last) */
  int fE, fEss, fP, fG;      /* base field indices (fP -1: no power field) */
  int fpavg, ftpavg, fx0;    /* own field indices in the wrapper */
  bool swant[QB_MAX_FIELDS]; /* the base fields a scan asks for */
  qb_field fields[QB_MAX_FIELDS];
  qb_pt_bit bits[MAX_BITS];
  char text[NOWN][2][256];
  qb_model model;
} merit;

static const qb_pt_bit own_bits[2] = {
    {QB_PT_MERIT_UNDEFINED, "merit_undefined",
     "the figures of merit (P_avg_max, t_P_avg_max, t_charge_*) are undefined here: not stable "
     "(growth_rate >= 0, E_ss NaN), E_ss = 0 (no charging), or a parameter given by an "
     "expression depends on t (E(t) is then no charging curve): they are NaN",
     QB_PT_INFO},
    {QB_PT_MERIT_FAILED, "merit_failed",
     "a figure of merit is not resolved: E(t) (or its power) not computable at a scan or "
     "refinement time, the maximum of E/t at the scan's first or last time, a crossing not "
     "within the scan (t <= 50/|growth_rate|), or the scan's end beyond t <= 1e250: the fields "
     "concerned are NaN",
     QB_PT_FAILURE},
};

/* ---- the spec ------------------------------------------------------------------------------- */

void qb_merit_spec_default(qb_merit_spec *s) {
  memset(s, 0, sizeof *s);
  s->ncharge = 1;
  s->charge[0] = 0.9;
  s->scan = QB_MERIT_SCAN_DEF;
}

static qb_err fail_node(const yaml_node_t *n, const char *source, char *msg, size_t size,
                        const char *fmt, const char *key, const char *value, const char *allowed) {
  int k = snprintf(msg, size, "%s:%zu:%zu: ", source, n ? n->start_mark.line + 1 : 0,
                   n ? n->start_mark.column + 1 : 0);
  if (k > 0 && (size_t)k < size) k += snprintf(msg + k, size - (size_t)k, fmt, key, value);
  if (k > 0 && (size_t)k < size) snprintf(msg + k, size - (size_t)k, "; allowed: %s", allowed);
  return QB_ECONFIG;
}

static const char *scalar_of(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The field-name suffix of fraction x: 100 x, '.' -> 'p' ("90", "99p5"). */
static void charge_suffix(double x, char *buf, size_t size) {
  snprintf(buf, size, "%.10g", 100.0 * x);
  for (char *q = buf; *q; q++)
    if (*q == '.') *q = 'p';
}

#define X_ALLOWED "a list of 1 to 8 distinct fractions x, 1e-6 <= x <= 0.999999 (e.g. [0.5, 0.9])"

static qb_err read_charge(yaml_document_t *doc, yaml_node_t *n, const char *source,
                          qb_merit_spec *s, char *msg, size_t size) {
  const yaml_node_item_t *it = n->data.sequence.items.start;
  const long cnt = n->type == YAML_SEQUENCE_NODE ? n->data.sequence.items.top - it : -1;
  char len[32];
  snprintf(len, sizeof len, "%ld entries", cnt);
  if (cnt < 1 || cnt > QB_MERIT_XMAX)
    return fail_node(n, source, msg, size, "%s has %s", "merit.charge",
                     cnt < 0 ? "a value that is not a list" : len, X_ALLOWED);
  s->ncharge = (int)cnt;
  for (int i = 0; i < s->ncharge; i++) {
    yaml_node_t *v = yaml_document_get_node(doc, it[i]);
    const char *t = scalar_of(v);
    char key[32], a[32], b[32];
    snprintf(key, sizeof key, "merit.charge[%d]", i);
    double x;
    if (!t || !qb_config_parse_number(t, &x) || !(x >= QB_MERIT_X_MIN && x <= QB_MERIT_X_MAX))
      return fail_node(v, source, msg, size, "%s = '%s'", key, t ? t : "(not a number)", X_ALLOWED);
    s->charge[i] = x;
    charge_suffix(x, a, sizeof a);
    for (int k = 0; k < i; k++) {
      charge_suffix(s->charge[k], b, sizeof b);
      if (strcmp(a, b) == 0)
        return fail_node(v, source, msg, size, "%s = '%s' repeats an earlier fraction", key, t,
                         X_ALLOWED " (equal to 10 digits)");
    }
  }
  return QB_OK;
}

static qb_err read_scan(yaml_node_t *n, const char *source, qb_merit_spec *s, char *msg,
                        size_t size) {
  const char *t = scalar_of(n);
  double v;
  if (!t || !qb_config_parse_number(t, &v) || v != floor(v) || v < QB_MERIT_SCAN_MIN ||
      v > QB_MERIT_SCAN_MAX)
    return fail_node(n, source, msg, size, "%s = '%s'", "merit.scan", t ? t : "(not a number)",
                     "an integer from 64 to 8192 (default 1024)");
  s->scan = (int)v;
  return QB_OK;
}

qb_err qb_merit_read(yaml_document_t *doc, yaml_node_t *node, const char *source, qb_merit_spec *s,
                     char *msg, size_t size) {
  qb_merit_spec_default(s);
  if (!node) return QB_OK;
  if (node->type != YAML_MAPPING_NODE)
    return fail_node(node, source, msg, size, "%s = '%s' is not a mapping", "merit",
                     scalar_of(node) ? scalar_of(node) : "[...]",
                     "a mapping with keys charge, scan (e.g. merit: {charge: [0.5, 0.9]})");
  for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key),
                *v = yaml_document_get_node(doc, p->value);
    const char *key = scalar_of(k);
    qb_err err = QB_OK;
    for (yaml_node_pair_t *q = node->data.mapping.pairs.start; key && q < p; q++)
      if (scalar_of(yaml_document_get_node(doc, q->key)) &&
          strcmp(scalar_of(yaml_document_get_node(doc, q->key)), key) == 0)
        return fail_node(k, source, msg, size, "%s%s is given twice", "merit.", key,
                         "each key once");
    if (key && strcmp(key, "charge") == 0)
      err = read_charge(doc, v, source, s, msg, size);
    else if (key && strcmp(key, "scan") == 0)
      err = read_scan(v, source, s, msg, size);
    else
      err = fail_node(k, source, msg, size, "%s%s is not a key of merit", "merit.",
                      key ? key : "(not a name)", "charge, scan");
    if (err) return err;
  }
  return QB_OK;
}

bool qb_merit_is_field(const char *name) {
  return strcmp(name, "P_avg_max") == 0 || strcmp(name, "t_P_avg_max") == 0 ||
         strncmp(name, "t_charge_", 9) == 0;
}

/* ---- the kernel ----------------------------------------------------------------------------- */

/* The base at one time t into buf[nb] (the scan's fields). */
static void base_at(const merit *mc, const double *p, double t, double *buf) {
  qb_model_eval_row(mc->base, p, mc->base->row_axis, &t, 1, mc->swant, buf);
}

/* A probe of the refinements: E(t) - level, t P(t) - E(t) (power), or -E(t)/t. */
typedef enum { PROBE_LEVEL, PROBE_STATIONARY, PROBE_NEG_AVG } probe_kind;
typedef struct {
  const merit *mc;
  const double *p;
  probe_kind kind;
  double level;
} probe;

static double probe_at(const probe *pr, double t) {
  double buf[QB_MAX_FIELDS];
  base_at(pr->mc, pr->p, t, buf);
  const double E = buf[pr->mc->fE];
  if (pr->kind == PROBE_LEVEL) return E - pr->level;
  if (pr->kind == PROBE_STATIONARY) return t * buf[pr->mc->fP] - E;
  return -E / t;
}

/* The root of probe f in [a, b] with fa < 0 <= fb (or fa > 0 >= fb): bisection with a secant
 * step (every third step a bisection) to a bracket of QB_MERIT_RTOL b; NaN if a value is NaN. */
static double root(const probe *pr, double a, double b, double fa, double fb) {
  const double s = fa < 0 ? 1.0 : -1.0; /* orient so that f(a) < 0 */
  fa *= s, fb *= s;
  for (int it = 0; it < 400 && b - a > QB_MERIT_RTOL * b; it++) {
    double x = a + (b - a) * (-fa / (fb - fa));
    if (!(x > a && x < b) || it % 3 == 2) x = 0.5 * (a + b);
    const double fx = s * probe_at(pr, x);
    if (isnan(fx)) return NAN;
    if (fx < 0)
      a = x, fa = fx;
    else
      b = x, fb = fx;
  }
  return 0.5 * (a + b);
}

/* The minimum of probe f in [a, b] (the scan's best time inside, the minimum bracketed): golden
 * section to a bracket of 1e-10 b (a flat extremum: t only to ~sqrt(eps), the value to ~eps). */
static double golden(const probe *pr, double a, double b) {
  const double r = 0.5 * (3.0 - sqrt(5.0));
  double x1 = a + r * (b - a), x2 = b - r * (b - a);
  double f1 = probe_at(pr, x1), f2 = probe_at(pr, x2);
  for (int it = 0; it < 200 && b - a > 1e-10 * b; it++) {
    if (isnan(f1) || isnan(f2)) return NAN;
    if (f1 <= f2)
      b = x2, x2 = x1, f2 = f1, x1 = a + r * (b - a), f1 = probe_at(pr, x1);
    else
      a = x1, x1 = x2, f1 = f2, x2 = b - r * (b - a), f2 = probe_at(pr, x2);
  }
  return f1 <= f2 ? x1 : x2;
}

/* The scan's times, increasing: nlog log-spaced from 1e-12 T (below T), nlin = T k / nlin
 * (k = 1..nlin), merged; returns their count. */
static int scan_times(int scan, double T, double *t) {
  const int nlog = scan / 2, nlin = scan - nlog;
  int i = 0, j = 1, n = 0;
  while (i < nlog || j <= nlin) {
    const double tl =
        i < nlog ? T * pow(10.0, -QB_MERIT_LOG_DECADES * (1.0 - (double)i / nlog)) : INFINITY;
    const double tn = j <= nlin ? T * ((double)j / nlin) : INFINITY;
    const double v = tl < tn ? tl : tn;
    if (tl < tn)
      i++;
    else
      j++;
    if (n == 0 || v > t[n - 1]) t[n++] = v;
  }
  return n;
}

/* E at the scan's n times into E[]; false if one is not finite. */
static bool scan_energy(const merit *mc, const double *p, const double *t, int n, double *E) {
  double buf[CHUNK * QB_MAX_FIELDS];
  for (int k0 = 0; k0 < n; k0 += CHUNK) {
    const int m = n - k0 < CHUNK ? n - k0 : CHUNK;
    qb_model_eval_row(mc->base, p, mc->base->row_axis, t + k0, m, mc->swant, buf);
    for (int k = 0; k < m; k++) {
      E[k0 + k] = buf[(size_t)k * (size_t)mc->nb + (size_t)mc->fE];
      if (!isfinite(E[k0 + k])) return false;
    }
  }
  return true;
}

/* E/t largest at the scan's first time h0 (1e-12 T): where the base has a power field and the
 * power at t = 0 is at least h0 (1 - 1e-9), the supremum is the limit t -> 0+, E/t -> P(0) > 0
 * (noise heating the battery from the start): v = {P(0), 0}; otherwise not resolved. */
static uint32_t avg_at_start(const merit *mc, const double *p, double h0, double *v) {
  double buf[QB_MAX_FIELDS];
  if (mc->fP < 0) return QB_PT_MERIT_FAILED;
  base_at(mc, p, 0.0, buf);
  const double p0 = buf[mc->fP];
  if (!(isfinite(p0) && p0 > 0 && p0 >= h0 * (1 - 1e-9))) return QB_PT_MERIT_FAILED;
  v[0] = p0;
  v[1] = 0.0;
  return 0;
}

/* P_avg_max and its time into v[0], v[1] from the scan (t, E); the failure bit or 0. */
static uint32_t avg_max(const merit *mc, const double *p, const double *t, const double *E, int n,
                        double *v) {
  int kb = 0;
  for (int k = 1; k < n; k++)
    if (E[k] / t[k] > E[kb] / t[kb]) kb = k;
  /* the first time within rounding of it: where E/t is flat to rounding from t -> 0+, the start */
  const int km = kb;
  const double top = E[kb] / t[kb] * (1 - 1e-12);
  for (int k = kb - 1; k >= 0; k--)
    if (E[k] / t[k] >= top) kb = k;
  if (kb == 0) return avg_at_start(mc, p, E[0] / t[0], v);
  if (kb == n - 1) return QB_PT_MERIT_FAILED;
  const double a = t[kb - 1], b = t[kb + 1];
  double ts = NAN;
  if (mc->fP >= 0) {
    const probe pr = {mc, p, PROBE_STATIONARY, 0.0};
    const double fa = probe_at(&pr, a), fb = probe_at(&pr, b);
    if (fa > 0 && fb < 0) ts = root(&pr, a, b, fa, fb);
  }
  if (isnan(ts)) {
    const probe pr = {mc, p, PROBE_NEG_AVG, 0.0};
    ts = golden(&pr, a, b);
  }
  if (isnan(ts)) return QB_PT_MERIT_FAILED;
  double buf[QB_MAX_FIELDS];
  base_at(mc, p, ts, buf);
  const double h = buf[mc->fE] / ts;
  if (!isfinite(h)) return QB_PT_MERIT_FAILED;
  v[0] = h >= E[km] / t[km] ? h : E[km] / t[km]; /* never below the scan's best */
  v[1] = h >= E[km] / t[km] ? ts : t[km];
  return 0;
}

/* The first t with E = level from the scan: NaN if not within it. */
static double first_crossing(const merit *mc, const double *p, const double *t, const double *E,
                             int n, double level) {
  for (int k = 0; k < n; k++) {
    if (E[k] < level) continue;
    const double a = k ? t[k - 1] : 0.0, fa = (k ? E[k - 1] : 0.0) - level;
    const probe pr = {mc, p, PROBE_LEVEL, level};
    return E[k] == level ? t[k] : root(&pr, a, t[k], fa, E[k] - level);
  }
  return NAN;
}

/* The row-invariant start: growth_rate and E_ss at t = 0 (bits: undefined or failed, or 0) and
 * the scan's end T. */
static uint32_t start(const merit *mc, const double *p, double *ess, double *T) {
  double buf[QB_MAX_FIELDS];
  base_at(mc, p, 0.0, buf);
  const double g = buf[mc->fG];
  *ess = buf[mc->fEss];
  if (isnan(g)) return QB_PT_MERIT_FAILED;
  if (!(g < 0) || ((uint32_t)buf[mc->nb - 1] & QB_PT_NOT_STABLE)) return QB_PT_MERIT_UNDEFINED;
  if (*ess == 0) return QB_PT_MERIT_UNDEFINED;
  if (!(*ess > 0) || isinf(*ess)) return QB_PT_MERIT_FAILED;
  *T = QB_MERIT_T_DECAYS / -g;
  return *T <= QB_T_MAX ? 0 : QB_PT_MERIT_FAILED;
}

/* The figures of merit at p into v[own field - fpavg] (NaN where not computed); their bits. */
static uint32_t merits(const merit *mc, const double *p, const bool *want, double *v) {
  const int nx = mc->spec.ncharge;
  bool any = false;
  for (int i = 0; i < 2 + nx; i++) {
    v[i] = NAN;
    any = any || qb_model_wants(want, mc->fpavg + i);
  }
  if (!any) return 0;
  /* expressions over t (or t itself an expression): the scan's E(t) would move the parameters
   * with t (and E_ss with them), a curve no charging follows.  O(1): the wrapper's flag. */
  if (qb_bind_row_dependent(mc->base) >= 0) return QB_PT_MERIT_UNDEFINED;
  double ess = NAN, T = NAN, t[QB_MERIT_SCAN_MAX], E[QB_MERIT_SCAN_MAX];
  uint32_t bits = start(mc, p, &ess, &T);
  /* a point outside an expression's domain (bit 15, info: every base field NaN) is no failure
   * of the figures of merit: the base's bit says why they are NaN */
  if (bits && qb_bind_is(mc->base)) {
    double q[QB_MAX_PARAMS];
    if (!qb_bind_resolve(mc->base, p, q)) return 0;
  }
  if (bits) return bits;
  const int n = scan_times(mc->spec.scan, T, t);
  if (!scan_energy(mc, p, t, n, E)) return QB_PT_MERIT_FAILED;
  if (qb_model_wants(want, mc->fpavg) || qb_model_wants(want, mc->ftpavg))
    bits |= avg_max(mc, p, t, E, n, v);
  for (int i = 0; i < nx; i++) {
    if (!qb_model_wants(want, mc->fx0 + i)) continue;
    v[2 + i] = first_crossing(mc, p, t, E, n, mc->spec.charge[i] * ess);
    if (isnan(v[2 + i])) bits |= QB_PT_MERIT_FAILED;
  }
  return bits;
}

/* The wrapper's row kernel along t: one base row into out (its stride nb), the figures of merit
 * once, then each row widened in place to the wrapper's stride (last row first). */
static void row(const qb_model *m, const double *p, const double *x, int n, const bool *want,
                double *out) {
  const merit *mc = m->ctx;
  const int nb = mc->nb, nf = m->nfields, nown = 2 + mc->spec.ncharge;
  bool bw[QB_MAX_FIELDS];
  for (int i = 0; i < nb - 1; i++)
    bw[i] = qb_model_wants(want, i);
  bw[nb - 1] = true;
  qb_model_eval_row(mc->base, p, mc->base->row_axis, x, n, bw, out);
  double v[NOWN];
  const uint32_t bits = merits(mc, p, want, v);
  for (int j = n - 1; j >= 0; j--) {
    const double *src = out + (size_t)j * (size_t)nb;
    double *dst = out + (size_t)j * (size_t)nf;
    const uint32_t status = (uint32_t)src[nb - 1] | bits;
    memmove(dst, src, (size_t)(nb - 1) * sizeof *dst);
    for (int i = 0; i < nown; i++)
      dst[mc->fpavg + i] = qb_model_wants(want, mc->fpavg + i) ? v[i] : NAN;
    dst[nf - 1] = (double)status;
  }
}

/* The drift's discriminant and coalescence: the base's (the wrapper has its parameters). */
static double complex disc(const qb_model *m, const double *p) {
  const merit *mc = m->ctx;
  return mc->base->disc(mc->base, p);
}

static void coalescence(const qb_model *m, const double *p, double *splitting, double *overlap) {
  const merit *mc = m->ctx;
  mc->base->coalescence(mc->base, p, splitting, overlap);
}

/* ---- the instance --------------------------------------------------------------------------- */

static int own_field(merit *mc, int k, const char *name, const char *label, const char *doc) {
  const int f = mc->model.nfields++;
  snprintf(mc->text[k][0], sizeof mc->text[k][0], "%s", name);
  snprintf(mc->text[k][1], sizeof mc->text[k][1], "%s", doc);
  /* row_const: the figures of merit do not depend on the point's t (one scan per row) */
  mc->fields[f] = (qb_field){mc->text[k][0], QB_F64, "1", label, mc->text[k][1], true};
  return f;
}

static void make_fields(merit *mc, const char *e) {
  char doc[256], name[64], sfx[32];
  memcpy(mc->fields, mc->base->fields, (size_t)(mc->nb - 1) * sizeof *mc->fields);
  mc->model.nfields = mc->nb - 1;
  snprintf(doc, sizeof doc,
           "maximum average charging power max over t > 0 of %s(t)/t (docs/physics.md s8; NaN: "
           "status merit_undefined or merit_failed)",
           e);
  mc->fpavg = own_field(mc, 0, "P_avg_max", "max average power", doc);
  snprintf(doc, sizeof doc, "the time t > 0 at which %s(t)/t is largest (P_avg_max)", e);
  mc->ftpavg = own_field(mc, 1, "t_P_avg_max", "time of max average power", doc);
  for (int i = 0; i < mc->spec.ncharge; i++) {
    charge_suffix(mc->spec.charge[i], sfx, sizeof sfx);
    snprintf(name, sizeof name, "t_charge_%s", sfx);
    char xs[32];
    snprintf(xs, sizeof xs, "%.15g", mc->spec.charge[i]); /* the shortest exact spelling */
    if (strtod(xs, NULL) != mc->spec.charge[i])
      snprintf(xs, sizeof xs, "%.17g", mc->spec.charge[i]);
    snprintf(doc, sizeof doc,
             "charging time: the first t with %s(t) = %s %s_ss (to 1e-12 relative; NaN: "
             "status merit_undefined or merit_failed)",
             e, xs, e);
    const int f = own_field(mc, 2 + i, name, "charging time", doc);
    if (i == 0) mc->fx0 = f;
  }
  mc->fields[mc->model.nfields++] = mc->base->fields[mc->nb - 1];
}

/* The base's bits and the wrapper's two, in increasing bit order. */
static void make_bits(merit *mc) {
  int n = 0, k = 0;
  for (int i = 0; i < mc->base->nstatus; i++) {
    while (k < 2 && own_bits[k].mask < mc->base->status_bits[i].mask)
      mc->bits[n++] = own_bits[k++];
    mc->bits[n++] = mc->base->status_bits[i];
  }
  while (k < 2)
    mc->bits[n++] = own_bits[k++];
  mc->model.nstatus = n;
}

/* The base field `name` (F64), or -1. */
static int base_field(const qb_model *b, const char *name) {
  const int f = qb_model_field_index(b, name);
  return f >= 0 && b->fields[f].dtype == QB_F64 ? f : -1;
}

static qb_err find_fields(merit *mc, const char *e, char *msg, size_t size) {
  const qb_model *b = mc->base;
  char ss[80], pw[80];
  snprintf(ss, sizeof ss, "%s_ss", e);
  snprintf(pw, sizeof pw, "%s", strcmp(e, "E_B") == 0 ? "P_B" : "P");
  mc->fE = base_field(b, e);
  mc->fEss = base_field(b, ss);
  mc->fG = base_field(b, "growth_rate");
  mc->fP = base_field(b, pw);
  if (mc->fE < 0 || mc->fEss < 0 || mc->fG < 0 || !b->eval_row ||
      strcmp(b->params[b->row_axis].name, "t") != 0) {
    snprintf(msg, size,
             "merit: model %s has no battery energy time series (fields %s, %s, growth_rate and "
             "a row kernel along t); allowed: merit and its fields with models ep, shared, "
             "threemode, network",
             b->name, e, ss);
    return QB_ECONFIG;
  }
  if (b->nfields + 2 + mc->spec.ncharge > QB_MAX_FIELDS || b->nstatus + 2 > MAX_BITS) {
    snprintf(msg, size,
             "merit: model %s has %d fields, with the figures of merit %d; allowed: at most %d "
             "fields (fewer modes or fractions)",
             b->name, b->nfields, b->nfields + 2 + mc->spec.ncharge, QB_MAX_FIELDS);
    return QB_ECONFIG;
  }
  for (int i = 0; i < b->nfields; i++)
    mc->swant[i] =
        i == mc->fE || i == mc->fEss || i == mc->fG || i == mc->fP || i == b->nfields - 1;
  return QB_OK;
}

qb_err qb_merit_new(const qb_model *base, const char *energy, const qb_merit_spec *s,
                    const qb_model **m, char *msg, size_t size) {
  *m = NULL;
  merit *mc = calloc(1, sizeof *mc);
  if (!mc) {
    snprintf(msg, size, "out of memory for the figures of merit");
    return QB_ENOMEM;
  }
  mc->base = base;
  mc->spec = *s;
  mc->nb = base->nfields;
  qb_err err = find_fields(mc, energy, msg, size);
  if (err) {
    free(mc);
    return err;
  }
  mc->model = *base;
  mc->model.fields = mc->fields;
  mc->model.status_bits = mc->bits;
  mc->model.eval = NULL;
  mc->model.eval_row = row;
  mc->model.disc = base->disc ? disc : NULL;
  mc->model.coalescence = base->coalescence ? coalescence : NULL;
  mc->model.ctx = mc;
  make_fields(mc, energy);
  make_bits(mc);
  *m = &mc->model;
  return QB_OK;
}

const qb_model *qb_merit_free(const qb_model *m) {
  if (!m) return NULL;
  const merit *mc = m->ctx;
  const qb_model *base = mc->base;
  free((void *)mc);
  return base;
}

const qb_model *qb_merit_base(const qb_model *m) {
  return ((const merit *)m->ctx)->base;
}

qb_err qb_merit_rebase(const qb_model *m, const qb_model *base, const qb_model **out, char *msg,
                       size_t size) {
  const merit *mc = m->ctx;
  return qb_merit_new(base, mc->base->fields[mc->fE].name, &mc->spec, out, msg, size);
}

void qb_merit_yaml(const qb_model *m, char *buf, size_t size) {
  const merit *mc = m->ctx;
  int k = snprintf(buf, size, "merit: {charge: [");
  for (int i = 0; i < mc->spec.ncharge && k > 0 && (size_t)k < size; i++)
    k += snprintf(buf + k, size - (size_t)k, "%s%.17g", i ? ", " : "", mc->spec.charge[i]);
  if (k > 0 && (size_t)k < size)
    snprintf(buf + k, size - (size_t)k, "], scan: %d}\n", mc->spec.scan);
}
