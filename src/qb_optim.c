#include "qbmap/qb_optim.h"

#include <complex.h>
#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the objective ------------------------------------------------------------------------ */

/* One optimization's working state (on the stack: no allocation while evaluating). */
typedef struct {
  const qb_optim *o;
  double q[QB_MAX_PARAMS];  /* the base's parameters; q[o->param] set per evaluation */
  bool want[QB_MAX_FIELDS]; /* the objective only (the status always comes) */
  double buf[QB_MAX_FIELDS];
  bool nan;      /* an evaluation gave a non-finite objective */
  uint32_t why;  /* the base's status bits of the last such evaluation */
  double hd;     /* the derivative's step (polish) */
  double lo, hi; /* the range */
} octx;

/* H(x) = sign * objective at param = x; NaN where it is not finite (c->nan, c->why set). */
static double obj(octx *c, double x) {
  const qb_model *b = c->o->base;
  c->q[c->o->param] = x;
  qb_model_eval(b, c->q, c->want, c->buf);
  const double f = c->o->sign * c->buf[c->o->field];
  if (isfinite(f)) return f;
  c->nan = true;
  c->why = (uint32_t)c->buf[b->nfields - 1];
  return NAN;
}

/* -H for gsl_min (finite always: a NaN is reported through c->nan, then the caller stops). */
static double neg_obj(double x, void *vc) {
  const double h = obj(vc, x);
  return isnan(h) ? DBL_MAX : -h;
}

/* H'(x) by the five-point central difference (error O(hd^4)), finite always like neg_obj. */
static double dobj(double x, void *vc) {
  octx *c = vc;
  const double h = c->hd;
  const double d = (obj(c, x - 2 * h) - 8 * obj(c, x - h) + 8 * obj(c, x + h) - obj(c, x + 2 * h));
  return isnan(d) ? 0.0 : d / (12 * h);
}

/* ---- scan and refinement ------------------------------------------------------------------ */

typedef struct {
  int n;
  double step;
  double x[QB_OPTIM_SCAN_MAX], h[QB_OPTIM_SCAN_MAX];
  uint32_t why[QB_OPTIM_SCAN_MAX]; /* the base's bits where h is NaN */
} oscan;

typedef struct {
  double x, h;
  bool ok, plateau, edge;
  uint32_t why; /* !ok: the base's bits of the NaN that stopped it */
} ocand;

static void scan(octx *c, oscan *S) {
  const qb_optim *o = c->o;
  S->n = o->scan;
  S->step = (o->hi - o->lo) / (S->n - 1);
  for (int i = 0; i < S->n; i++) {
    S->x[i] = i == S->n - 1 ? o->hi : o->lo + i * S->step;
    c->nan = false;
    S->h[i] = obj(c, S->x[i]);
    S->why[i] = c->nan ? c->why : 0;
  }
}

/* Whether scan point i is a local maximum (a missing or NaN neighbour counts as lower). */
static bool local_max(const oscan *S, int i) {
  if (isnan(S->h[i])) return false;
  const bool left = i == 0 || isnan(S->h[i - 1]) || S->h[i] > S->h[i - 1];
  const bool right = i == S->n - 1 || isnan(S->h[i + 1]) || S->h[i] >= S->h[i + 1];
  return left && right;
}

/* The QB_OPTIM_CANDIDATES largest local maxima into idx, largest first (ties: smaller i). */
static int candidates(const oscan *S, int *idx) {
  int nc = 0;
  for (int i = 0; i < S->n; i++) {
    if (!local_max(S, i)) continue;
    int j = nc < QB_OPTIM_CANDIDATES ? nc++ : QB_OPTIM_CANDIDATES;
    while (j > 0 && S->h[i] > S->h[idx[j - 1]]) {
      if (j < QB_OPTIM_CANDIDATES) idx[j] = idx[j - 1];
      j--;
    }
    if (j < QB_OPTIM_CANDIDATES) idx[j] = i;
  }
  return nc;
}

/* A GSL solver's private state, on the stack (its type's size is checked before use). */
typedef struct {
  alignas(max_align_t) unsigned char b[256];
} ostate;

/* Root of H' near x (the polish, see qb_optim.h): *x, *h replaced where it succeeds and H there
 * is not below *h by more than QB_OPTIM_TIE relative; left alone otherwise. */
static void polish(octx *c, double w, double *x, double *h) {
  ostate st;
  if (gsl_root_fsolver_brent->size > sizeof st.b) return;
  c->hd = 1e-3 * w;
  gsl_function fn = {dobj, c};
  double d = 1e-7 * w;
  c->nan = false;
  for (;; d *= 4) {
    if (d > w || *x - d - 2 * c->hd < c->lo || *x + d + 2 * c->hd > c->hi) return;
    const double ga = dobj(*x - d, c), gb = dobj(*x + d, c);
    if (c->nan) return;
    if (ga > 0 && gb < 0) break;
  }
  gsl_root_fsolver s = {.type = gsl_root_fsolver_brent, .state = st.b};
  if (gsl_root_fsolver_set(&s, &fn, *x - d, *x + d) != GSL_SUCCESS || c->nan) return;
  for (int it = 0; it < QB_OPTIM_ITER; it++) {
    if (gsl_root_fsolver_iterate(&s) != GSL_SUCCESS || c->nan) return;
    if (gsl_root_test_interval(s.x_lower, s.x_upper, QB_OPTIM_XTOL * w, QB_OPTIM_XTOL) ==
        GSL_SUCCESS)
      break;
  }
  const double hr = obj(c, s.root);
  /* near a maximum H varies by ~(dx/w)^2: only a root far off (a wrong one) shows in H */
  if (!c->nan && hr >= *h - QB_OPTIM_TIE * fabs(*h)) *x = s.root, *h = hr;
}

/* Brent on [a, b] from m (H(m) above H(a), H(b)), then the polish; w: the scale of the peak. */
static ocand brent(octx *c, const double x[3], const double h[3], double w) {
  ocand r = {.x = x[1], .h = h[1], .ok = true};
  ostate st;
  if (gsl_min_fminimizer_brent->size > sizeof st.b) return r;
  gsl_function fn = {neg_obj, c};
  gsl_min_fminimizer s = {.type = gsl_min_fminimizer_brent, .state = st.b};
  c->nan = false;
  gsl_min_fminimizer_set_with_values(&s, &fn, x[1], -h[1], x[0], -h[0], x[2], -h[2]);
  for (int it = 0; it < QB_OPTIM_ITER; it++) {
    if (gsl_min_fminimizer_iterate(&s) != GSL_SUCCESS || c->nan) {
      r.ok = false, r.why = c->why;
      return r;
    }
    if (gsl_min_test_interval(s.x_lower, s.x_upper, QB_OPTIM_XTOL * w, QB_OPTIM_XTOL) ==
        GSL_SUCCESS)
      break;
  }
  r.x = s.x_minimum, r.h = -s.f_minimum;
  polish(c, w, &r.x, &r.h);
  return r;
}

/* The peak's scale from the scan's curvature at i, clamped to [1, 16] scan steps. */
static double scale(const oscan *S, int i) {
  const double c2 = fabs(S->h[i - 1] - 2 * S->h[i] + S->h[i + 1]),
               w = S->step * sqrt(fabs(S->h[i]) / c2);
  return isfinite(w) ? fmin(fmax(w, S->step), 16 * S->step) : S->step;
}

/* A plateau of equal scan values from i on: not unique, reported at its larger end (as ties). */
static ocand plateau(const oscan *S, int i) {
  int k = i;
  while (k + 1 < S->n && S->h[k + 1] == S->h[i])
    k++;
  return (ocand){.x = S->x[k], .h = S->h[i], .ok = true, .plateau = true};
}

/* Candidate i at the range's edge: its one cell if the midpoint is above both ends; a plateau
 * where the neighbour and the midpoint equal it. */
static ocand refine_edge(octx *c, const oscan *S, int i) {
  const int nb = i == 0 ? 1 : i - 1;
  ocand r = {.x = S->x[i], .h = S->h[i], .ok = true, .edge = true};
  if (isnan(S->h[nb])) return (ocand){.why = S->why[nb]};
  c->nan = false;
  const double xm = 0.5 * (S->x[i] + S->x[nb]), hm = obj(c, xm);
  if (c->nan) return (ocand){.why = c->why};
  if (hm == S->h[i] && S->h[nb] == S->h[i]) return plateau(S, i < nb ? i : nb);
  if (!(hm > S->h[i] && hm > S->h[nb])) return r;
  const int a = i < nb ? i : nb, b = i < nb ? nb : i;
  const double x[3] = {S->x[a], xm, S->x[b]}, h[3] = {S->h[a], hm, S->h[b]};
  return brent(c, x, h, S->step);
}

/* Two equal scan values H_i = H_{i+1}: a peak between them (symmetric about their midpoint,
 * which is then above both: Brent on the cell) or a plateau (plateau()). */
static ocand refine_pair(octx *c, const oscan *S, int i) {
  c->nan = false;
  const double xm = 0.5 * (S->x[i] + S->x[i + 1]), hm = obj(c, xm);
  if (c->nan) return (ocand){.why = c->why};
  if (!(hm > S->h[i])) return plateau(S, i);
  const double x[3] = {S->x[i], xm, S->x[i + 1]}, h[3] = {S->h[i], hm, S->h[i + 1]};
  return brent(c, x, h, S->step);
}

static ocand refine(octx *c, const oscan *S, int i) {
  if (i == 0 || i == S->n - 1) return refine_edge(c, S, i);
  if (isnan(S->h[i - 1])) return (ocand){.why = S->why[i - 1]};
  if (isnan(S->h[i + 1])) return (ocand){.why = S->why[i + 1]};
  if (S->h[i + 1] == S->h[i]) return refine_pair(c, S, i);
  return brent(c, &S->x[i - 1], &S->h[i - 1], scale(S, i));
}

/* ---- the optimum at one point ------------------------------------------------------------- */

typedef struct {
  bool ok;
  double x;
  uint32_t bits; /* ok: QB_PT_OPT_*; else why the objective is undefined */
} optimum;

/* The best of the refined candidates r[0..nc-1] (r[0] ok) and its bits: the largest H, and
 * among those within QB_OPTIM_TIE of it (ties: not unique) the largest x. */
static optimum choose(const octx *c, const oscan *S, const ocand *r, int nc) {
  int b = 0;
  for (int j = 1; j < nc; j++)
    if (r[j].ok && (r[j].h > r[b].h || (r[j].h == r[b].h && r[j].x > r[b].x))) b = j;
  const double tie = r[b].h - QB_OPTIM_TIE * fabs(r[b].h);
  uint32_t bits = r[b].plateau ? QB_PT_OPT_NOT_UNIQUE : 0;
  int t = b;
  for (int j = 0; j < nc; j++)
    if (j != b && r[j].ok && fabs(r[j].x - r[b].x) >= S->step && r[j].h >= tie) {
      bits |= QB_PT_OPT_NOT_UNIQUE;
      if (r[j].x > r[t].x) t = j;
    }
  optimum o = {.ok = true, .x = r[t].x, .bits = bits};
  if (o.x <= c->lo || o.x >= c->hi) o.bits |= QB_PT_OPT_EDGE;
  return o;
}

/* The optimum of param at the base's parameters q (q[param] ignored). */
static optimum optimize(const qb_optim *o, const double *q) {
  octx c = {.o = o, .lo = o->lo, .hi = o->hi};
  memcpy(c.q, q, (size_t)o->base->nparams * sizeof *q);
  c.want[o->field] = true;
  oscan S;
  scan(&c, &S);
  int idx[QB_OPTIM_CANDIDATES];
  const int nc = candidates(&S, idx);
  if (nc == 0) {
    uint32_t why = 0;
    for (int i = 0; i < S.n; i++)
      why |= S.why[i];
    return (optimum){.bits = why};
  }
  ocand r[QB_OPTIM_CANDIDATES];
  for (int j = 0; j < nc; j++) {
    r[j] = refine(&c, &S, idx[j]);
    if (j == 0 && !r[0].ok) return (optimum){.bits = r[0].why};
  }
  return choose(&c, &S, r, nc);
}

/* ---- the wrapper's kernel ----------------------------------------------------------------- */

/* The wrapper's parameters p to the base's q (q[param] NaN). */
static void to_base(const qb_optim *o, const double *p, double *q) {
  for (int i = 0, k = 0; i < o->base->nparams; i++)
    q[i] = i == o->param ? NAN : p[k++];
}

/* The wrapper's want to the base's (status always). */
static void want_base(const qb_optim *o, const bool *want, bool *wb) {
  const int nb = o->base->nfields;
  for (int i = 0; i < nb - 1; i++)
    wb[i] = qb_model_wants(want, i);
  wb[nb - 1] = true;
}

/* A failed optimum into one output row: every field NaN (int32 -1), status why (numerics where
 * the base gave no reason). */
static void fill_failed(const qb_optim *o, uint32_t why, double *out) {
  const qb_model *m = &o->model;
  for (int i = 0; i < m->nfields - 1; i++)
    out[i] = m->fields[i].dtype == QB_I32 ? -1.0 : NAN;
  out[m->nfields - 1] = why ? why : QB_PT_NUMERICS;
}

/* A base row b[nb] into the wrapper's w[nb + 1] (w may overlap b at or after it). */
static void from_base(const qb_optim *o, const double *b, const optimum *r, double *w) {
  const int nb = o->base->nfields;
  const uint32_t st = (uint32_t)b[nb - 1];
  memmove(w, b, (size_t)(nb - 1) * sizeof *w);
  w[nb - 1] = r->x;
  w[nb] = (double)(st | r->bits);
}

/* One point: optimum, then every field there. */
static void eval_point(const qb_optim *o, double *q, const bool *wb, double *out) {
  const optimum r = optimize(o, q);
  if (!r.ok) {
    fill_failed(o, r.bits, out);
    return;
  }
  double b[QB_MAX_FIELDS];
  q[o->param] = r.x;
  qb_model_eval(o->base, q, wb, b);
  from_base(o, b, &r, out);
}

static void optim_eval(const qb_model *m, const double *p, const bool *want, double *out) {
  const qb_optim *o = m->ctx;
  double q[QB_MAX_PARAMS];
  bool wb[QB_MAX_FIELDS];
  to_base(o, p, q);
  want_base(o, want, wb);
  eval_point(o, q, wb, out);
}

/* The row kernel along the base's row axis: one optimum per row where the objective does not
 * depend on it, at its default (the first point's value where there is none). */
static void optim_row(const qb_model *m, const double *p, const double *x, int n, const bool *want,
                      double *out) {
  const qb_optim *o = m->ctx;
  const qb_model *b = o->base;
  const int ra = b->row_axis, nw = m->nfields;
  double q[QB_MAX_PARAMS];
  bool wb[QB_MAX_FIELDS];
  to_base(o, p, q);
  want_base(o, want, wb);
  if (!o->per_row) {
    for (int j = 0; j < n; j++) {
      q[ra] = x[j];
      eval_point(o, q, wb, out + (size_t)j * (size_t)nw);
    }
    return;
  }
  const double def = b->params[ra].def;
  q[ra] = isfinite(def) && qb_model_params_valid(&b->params[ra], 1, &def) ? def : x[0];
  const optimum r = optimize(o, q);
  for (int j = n - 1; !r.ok && j >= 0; j--)
    fill_failed(o, r.bits, out + (size_t)j * (size_t)nw);
  if (!r.ok) return;
  q[o->param] = r.x;
  qb_model_eval_row(b, q, ra, x, n, wb, out); /* the base's layout, then spread in place */
  for (int j = n - 1; j >= 0; j--)
    from_base(o, out + (size_t)j * (size_t)b->nfields, &r, out + (size_t)j * (size_t)nw);
}

/* The base's drift at the optimum (qb_optim.h, "EPs"): the base's parameters q at p with param
 * at its optimum there; false where the optimum failed. */
static bool at_optimum(const qb_optim *o, const double *p, double *q) {
  to_base(o, p, q);
  const optimum r = optimize(o, q);
  q[o->param] = r.x;
  return r.ok;
}

static double complex optim_disc(const qb_model *m, const double *p) {
  const qb_optim *o = m->ctx;
  double q[QB_MAX_PARAMS];
  return at_optimum(o, p, q) ? o->base->disc(o->base, q) : CMPLX(NAN, NAN);
}

static void optim_coalescence(const qb_model *m, const double *p, double *splitting,
                              double *overlap) {
  const qb_optim *o = m->ctx;
  double q[QB_MAX_PARAMS];
  *splitting = *overlap = NAN;
  if (at_optimum(o, p, q)) o->base->coalescence(o->base, q, splitting, overlap);
}

static qb_err optim_check_given(const qb_model *m, const bool *given, char *msg, size_t size) {
  const qb_optim *o = m->ctx;
  bool gb[QB_MAX_PARAMS];
  for (int i = 0, k = 0; i < o->base->nparams; i++)
    gb[i] = i == o->param ? true : given[k++];
  return qb_model_check_given(o->base, gb, msg, size);
}

static void optim_free(const qb_model *m) {
  qb_optim *o = (qb_optim *)m->ctx;
  if (o->own_base) qb_model_free(o->base);
  free(o);
}

/* ---- building the instance ---------------------------------------------------------------- */

static qb_err check_spec(const qb_model *b, const qb_optim_spec *s, qb_optim *o, const char **which,
                         char *msg, size_t size) {
  char names[2048];
  *which = "param";
  if ((o->param = qb_model_param_index(b, s->param)) < 0) {
    qb_model_param_names(b, names, sizeof names);
    snprintf(msg, size, "optimize.param = '%s' is not a parameter of model %s; allowed: %s",
             s->param, b->name, names);
    return QB_ECONFIG;
  }
  *which = "field";
  o->field = qb_model_field_index(b, s->field);
  if (o->field < 0 || o->field == b->nfields - 1 || b->fields[o->field].dtype != QB_F64) {
    size_t used = 0;
    names[0] = '\0';
    for (int i = 0; i < b->nfields - 1 && used < sizeof names; i++)
      if (b->fields[i].dtype == QB_F64)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                 b->fields[i].name);
    snprintf(msg, size, "optimize.%s = '%s' is not a floating-point field of model %s; allowed: %s",
             s->maximize ? "maximize" : "minimize", s->field, b->name, names);
    return QB_ECONFIG;
  }
  *which = "range";
  for (int e = 0; e < 2; e++) {
    char why[512];
    if (qb_model_check_value(b, o->param, e ? s->hi : s->lo, why, sizeof why)) {
      snprintf(msg, size, "optimize.range[%d]: %s", e, why);
      return QB_ECONFIG;
    }
  }
  if (!(s->lo < s->hi)) {
    snprintf(msg, size, "optimize.range = [%.17g, %.17g]; allowed: [lo, hi] with lo < hi", s->lo,
             s->hi);
    return QB_ECONFIG;
  }
  *which = "scan";
  if (s->scan < QB_OPTIM_SCAN_MIN || s->scan > QB_OPTIM_SCAN_MAX) {
    snprintf(msg, size, "optimize.scan = %d; allowed: an integer from %d to %d", s->scan,
             QB_OPTIM_SCAN_MIN, QB_OPTIM_SCAN_MAX);
    return QB_ECONFIG;
  }
  return QB_OK;
}

/* The status bits: the base's, numerics where it lacks it, then 18 and 19, in bit order. */
static qb_err make_bits(qb_optim *o, const char **which, char *msg, size_t size) {
  const qb_model *b = o->base;
  const uint32_t have = qb_model_status_mask(b);
  *which = "param";
  if (have & (QB_PT_OPT_EDGE | QB_PT_OPT_NOT_UNIQUE) || b->nstatus + 3 > QB_OPTIM_NBITS) {
    snprintf(msg, size,
             "optimize: model %s already uses status bits 18-19 (an optimize of its own); "
             "allowed: one optimize section",
             b->name);
    return QB_ECONFIG;
  }
  const char *pn = b->params[o->param].name, *fn = b->fields[o->field].name;
  snprintf(o->text[2], sizeof o->text[2],
           "the optimum of %s is at an edge of optimize.range (the objective %s may grow "
           "beyond it): the fields are evaluated there",
           pn, fn);
  snprintf(o->text[3], sizeof o->text[3],
           "the optimum of %s is not unique: another local optimum of %s, or a plateau, within "
           "1e-9 relative of it (the one with the larger %s is reported)",
           pn, fn, pn);
  qb_pt_bit add[3] = {{QB_PT_NUMERICS, NULL, NULL, QB_PT_KIND_DEFAULT},
                      {QB_PT_OPT_EDGE, "opt_edge", o->text[2], QB_PT_INFO},
                      {QB_PT_OPT_NOT_UNIQUE, "opt_not_unique", o->text[3], QB_PT_INFO}};
  int n = 0, a = have & QB_PT_NUMERICS ? 1 : 0;
  for (int i = 0; i < b->nstatus || a < 3;) {
    const bool take = i >= b->nstatus || (a < 3 && add[a].mask < b->status_bits[i].mask);
    o->bits[n++] = take ? add[a++] : b->status_bits[i++];
  }
  o->model.nstatus = n;
  return QB_OK;
}

/* The fields: the base's, <param>_opt (or _at_opt), status. */
static qb_err make_fields(qb_optim *o, const char **which, char *msg, size_t size) {
  const qb_model *b = o->base;
  const int nb = b->nfields;
  const char *pn = b->params[o->param].name, *fn = b->fields[o->field].name;
  *which = "param";
  if (nb + 1 > QB_MAX_FIELDS) {
    snprintf(msg, size, "optimize: model %s has %d fields; allowed: at most %d with optimize",
             b->name, nb, QB_MAX_FIELDS - 1);
    return QB_ECONFIG;
  }
  snprintf(o->text[0], sizeof o->text[0], "%s_opt", pn);
  if (qb_model_field_index(b, o->text[0]) >= 0)
    snprintf(o->text[0], sizeof o->text[0], "%s_at_opt", pn);
  if (qb_model_field_index(b, o->text[0]) >= 0) {
    snprintf(msg, size,
             "optimize.param = '%s': model %s already has fields %s_opt and %s; "
             "allowed: a parameter without both",
             pn, b->name, pn, o->text[0]);
    return QB_ECONFIG;
  }
  snprintf(o->text[1], sizeof o->text[1],
           "the %s of %s over [%.17g, %.17g] at the other parameters (optimize:); every other "
           "field is evaluated there",
           o->sign > 0 ? "maximizer" : "minimizer", fn, o->lo, o->hi);
  snprintf(o->text[4], sizeof o->text[4], "optimal %s", pn);
  const bool rc = o->per_row;
  for (int i = 0; i < nb - 1; i++) {
    o->fields[i] = b->fields[i];
    o->fields[i].row_const = rc && b->fields[i].row_const;
  }
  o->fields[nb - 1] =
      (qb_field){o->text[0], QB_F64, b->params[o->param].units, o->text[4], o->text[1], rc};
  o->fields[nb] = b->fields[nb - 1];
  o->fields[nb].row_const = false;
  o->f_opt = nb - 1;
  return QB_OK;
}

/* The model: the base's name, parameters without param, row kernel where the base has one
 * along another parameter. */
static void make_model(qb_optim *o) {
  const qb_model *b = o->base;
  for (int i = 0, k = 0; i < b->nparams; i++)
    if (i != o->param) o->params[k++] = b->params[i];
  snprintf(o->text[5], sizeof o->text[5], "%s; optimize: %s of %s over %s", b->doc,
           o->sign > 0 ? "maximum" : "minimum", b->fields[o->field].name, b->params[o->param].name);
  const int nst = o->model.nstatus;
  const bool row = b->eval_row && b->row_axis != o->param;
  o->model = (qb_model){.name = b->name,
                        .doc = o->text[5],
                        .nparams = b->nparams - 1,
                        .params = o->params,
                        .nfields = b->nfields + 1,
                        .fields = o->fields,
                        .boundary_field = b->boundary_field,
                        .nstatus = nst,
                        .status_bits = o->bits,
                        .check_given = optim_check_given,
                        .eval = row ? NULL : optim_eval,
                        .eval_row = row ? optim_row : NULL,
                        .row_axis = row ? b->row_axis - (b->row_axis > o->param) : 0,
                        .disc = b->disc && b->coalescence ? optim_disc : NULL,
                        .coalescence = b->disc && b->coalescence ? optim_coalescence : NULL,
                        .ctx = o,
                        .free = optim_free};
}

qb_err qb_optim_new(const qb_model *base, bool own_base, const qb_optim_spec *spec,
                    const qb_model **m, const char **which, char *msg, size_t size) {
  *m = NULL;
  qb_optim *o = calloc(1, sizeof *o);
  if (!o) {
    *which = "param";
    snprintf(msg, size, "out of memory for optimize");
    return QB_ENOMEM;
  }
  o->base = base;
  o->sign = spec->maximize ? 1.0 : -1.0;
  o->lo = spec->lo, o->hi = spec->hi, o->scan = spec->scan;
  qb_err err = check_spec(base, spec, o, which, msg, size);
  if (!err) {
    o->per_row = base->eval_row && base->row_axis != o->param && base->fields[o->field].row_const;
    err = make_bits(o, which, msg, size);
  }
  if (!err) err = make_fields(o, which, msg, size);
  if (err) {
    free(o);
    return err;
  }
  make_model(o);
  o->own_base = own_base;
  *m = &o->model;
  return QB_OK;
}

void qb_optim_row_dependent(const qb_model *m) {
  qb_optim *o = (qb_optim *)(uintptr_t)m->ctx; /* built by qb_optim_new: writable */
  o->per_row = false;
  for (int i = 0; i < m->nfields; i++)
    o->fields[i].row_const = false;
}

void qb_optim_refresh_params(const qb_model *m) {
  qb_optim *o = (qb_optim *)(uintptr_t)m->ctx; /* built by qb_optim_new: writable */
  const qb_model *b = o->base;
  for (int i = 0, k = 0; i < b->nparams; i++)
    if (i != o->param) o->params[k++] = b->params[i];
}

void qb_optim_describe(const qb_model *m, char *buf, size_t size) {
  const qb_optim *o = m->ctx;
  snprintf(buf, size, "{param: %s, %s: %s, range: [%.17g, %.17g], scan: %d}",
           o->base->params[o->param].name, o->sign > 0 ? "maximize" : "minimize",
           o->base->fields[o->field].name, o->lo, o->hi, o->scan);
}

bool qb_optim_is(const qb_model *m) {
  return m && m->free == optim_free;
}

const qb_model *qb_optim_base(const qb_model *m) {
  return ((const qb_optim *)m->ctx)->base;
}

qb_err qb_optim_rebase(const qb_model *m, const qb_model *base, const qb_model **out, char *msg,
                       size_t size) {
  const qb_optim *o = m->ctx;
  const qb_optim_spec s = {.param = o->base->params[o->param].name,
                           .field = o->base->fields[o->field].name,
                           .maximize = o->sign > 0,
                           .lo = o->lo,
                           .hi = o->hi,
                           .scan = o->scan};
  const char *which;
  return qb_optim_new(base, false, &s, out, &which, msg, size);
}

int qb_optim_base_point(const qb_model *m, const double *p, const double *out, double *q) {
  const qb_optim *o = m->ctx;
  to_base(o, p, q);
  q[o->param] = out[o->f_opt];
  return o->param;
}
