#include "qbmap/qb_post.h"

#include <complex.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multiroots.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_SHIFT 1e-6 /* a grid point with disc = 0 is read at +ZERO_SHIFT of a cell */

void qb_pointset_free(qb_pointset *s) {
  for (int d = 0; d < QB_MAX_AXES; d++)
    free(s->x[d]);
  free(s->index);
  free(s->winding);
  free(s->residual);
  free(s->splitting);
  free(s->overlap);
  free(s->value);
  memset(s, 0, sizeof *s);
}

/* Appends one point (coordinates x[ndim]); the column arrays grow together. */
static qb_err push(qb_pointset *s, const double *x, int64_t index, int32_t winding, double residual,
                   double splitting, double overlap, int eps) {
  if (s->n == s->cap) {
    int64_t cap = s->cap ? 2 * s->cap : 64;
    for (int d = 0; d < s->ndim; d++) {
      double *p = realloc(s->x[d], (size_t)cap * sizeof *p);
      if (!p) return QB_ENOMEM;
      s->x[d] = p;
    }
    if (eps) {
      int32_t *w = realloc(s->winding, (size_t)cap * sizeof *w);
      if (w) s->winding = w;
      double *r = realloc(s->residual, (size_t)cap * sizeof *r);
      if (r) s->residual = r;
      double *sp = realloc(s->splitting, (size_t)cap * sizeof *sp);
      if (sp) s->splitting = sp;
      double *o = realloc(s->overlap, (size_t)cap * sizeof *o);
      if (o) s->overlap = o;
      if (!w || !r || !sp || !o) return QB_ENOMEM;
    } else {
      int64_t *ix = realloc(s->index, (size_t)cap * sizeof *ix);
      if (!ix) return QB_ENOMEM;
      s->index = ix;
    }
    s->cap = cap;
  }
  for (int d = 0; d < s->ndim; d++)
    s->x[d][s->n] = x[d];
  if (eps) {
    s->winding[s->n] = winding;
    s->residual[s->n] = residual;
    s->splitting[s->n] = splitting;
    s->overlap[s->n] = overlap;
  } else {
    s->index[s->n] = index;
  }
  s->n++;
  return QB_OK;
}

/* Sets p[] and x[] for the grid indices of every axis except those flagged in skip, from the
 * row-major rank `unit` over the remaining axes. */
static void set_others(const qb_config *c, const bool *skip, int64_t unit, double *p, double *x) {
  const qb_grid *g = &c->grid;
  for (int d = g->ndim - 1; d >= 0; d--) {
    if (skip[d]) continue;
    int64_t i = unit % g->axes[d].n;
    unit /= g->axes[d].n;
    p[g->axes[d].param] = x[d] = g->axes[d].values[i];
  }
}

static double axis_span(const qb_axis *a) {
  double lo = a->values[0], hi = a->values[0];
  for (int64_t i = 1; i < a->n; i++)
    lo = fmin(lo, a->values[i]), hi = fmax(hi, a->values[i]);
  return hi - lo;
}

/* ---- boundaries ------------------------------------------------------------------------ */

typedef struct {
  const qb_model *m;
  double *p;
  int param, field;
  double level;
  const bool *want;
} field_fn;

static double field_at(double x, void *arg) {
  field_fn *F = arg;
  double out[QB_MAX_FIELDS];
  F->p[F->param] = x;
  qb_model_eval(F->m, F->p, F->want, out);
  return out[F->field] - F->level;
}

/* Points per qb_model_eval_row call along a boundary line. */
#define POST_ROW 1024

/* v[i] = the field minus the level at every coordinate of axis ax (F's other parameters), the
 * line evaluated in pieces of POST_ROW points (qb_model_eval_row: bitwise field_at's values, with
 * the model's reuse along its row axis); rows: POST_ROW * QB_MAX_FIELDS scratch. */
static void line_values(const field_fn *F, const qb_axis *ax, double *v, double *rows) {
  const int nf = F->m->nfields;
  for (int64_t i0 = 0; i0 < ax->n; i0 += POST_ROW) {
    const int k = (int)(ax->n - i0 < POST_ROW ? ax->n - i0 : POST_ROW);
    qb_model_eval_row(F->m, F->p, ax->param, ax->values + i0, k, F->want, rows);
    for (int j = 0; j < k; j++)
      v[i0 + j] = rows[(size_t)j * (size_t)nf + (size_t)F->field] - F->level;
  }
}

/* Root of fn in the bracket [a, b] (fn(a) and fn(b) of opposite signs; vb = fn(b)) to an
 * interval of width tol, or NaN. */
static double brent(gsl_root_fsolver *s, gsl_function *fn, double a, double b, double vb,
                    double tol) {
  if (vb == 0) return b;
  if (gsl_root_fsolver_set(s, fn, fmin(a, b), fmax(a, b)) != GSL_SUCCESS) return NAN;
  for (int it = 0; it < 200; it++) {
    if (gsl_root_fsolver_iterate(s)) return NAN;
    double xl = gsl_root_fsolver_x_lower(s), xu = gsl_root_fsolver_x_upper(s);
    if (gsl_root_test_interval(xl, xu, tol, 0) == GSL_SUCCESS) return gsl_root_fsolver_root(s);
  }
  return NAN;
}

int64_t qb_post_boundary_units(const qb_config *c) {
  return c->grid.npoints / c->grid.axes[c->boundaries.axis].n;
}

qb_err qb_post_boundaries(const qb_config *c, int64_t lo, int64_t hi, qb_pointset *out) {
  const qb_grid *g = &c->grid;
  const qb_axis *ax = &g->axes[c->boundaries.axis];
  const int64_t n = ax->n;
  bool skip[QB_MAX_AXES] = {false}, want[QB_MAX_FIELDS] = {false};
  skip[c->boundaries.axis] = true;
  want[c->boundaries.field] = true;
  double p[QB_MAX_PARAMS], x[QB_MAX_AXES];
  memcpy(p, c->fixed, sizeof p);
  field_fn F = {c->model, p, ax->param, c->boundaries.field, c->boundaries.level, want};
  gsl_function fn = {field_at, &F};
  double *v = malloc((size_t)n * sizeof *v);
  double *rows = malloc((size_t)POST_ROW * QB_MAX_FIELDS * sizeof *rows);
  gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
  qb_err err = (v && rows && s) ? QB_OK : QB_ENOMEM;
  const double tol = QB_POST_BRENT_REL * axis_span(ax);
  out->ndim = g->ndim;

  for (int64_t u = lo; u < hi && !err; u++) {
    set_others(c, skip, u, p, x);
    line_values(&F, ax, v, rows);
    for (int64_t i = 0; i + 1 < n && !err; i++) {
      if (isnan(v[i]) || isnan(v[i + 1]) || (v[i] < 0) == (v[i + 1] < 0)) continue;
      double root = brent(s, &fn, ax->values[i], ax->values[i + 1], v[i + 1], tol);
      if (isnan(root)) {
        out->rejected++;
        continue;
      }
      x[c->boundaries.axis] = root;
      err = push(out, x, i, 0, 0, 0, 0, 0);
    }
  }
  gsl_root_fsolver_free(s);
  free(rows);
  free(v);
  return err;
}

/* ---- exceptional points ---------------------------------------------------------------- */

int64_t qb_post_ep_units(const qb_config *c) {
  const qb_grid *g = &c->grid;
  int64_t nx = g->axes[c->eps.ax].n, ny = g->axes[c->eps.ay].n;
  return g->npoints / (nx * ny) * (ny - 1);
}

typedef struct {
  const qb_model *m;
  double *p;
  int px, py;
} disc_fn;

static double complex disc_at(const disc_fn *D, double x, double y) {
  D->p[D->px] = x;
  D->p[D->py] = y;
  return D->m->disc(D->m, D->p);
}

static int disc_f(const gsl_vector *v, void *arg, gsl_vector *f) {
  double complex d = disc_at(arg, gsl_vector_get(v, 0), gsl_vector_get(v, 1));
  gsl_vector_set(f, 0, creal(d));
  gsl_vector_set(f, 1, cimag(d));
  return isfinite(creal(d)) && isfinite(cimag(d)) ? GSL_SUCCESS : GSL_EDOM;
}

/* disc along row j of the plane; an exact zero is read a little up and right, the same way for
 * every cell that shares the point, so that the zero is counted by exactly one cell. */
static void disc_row(const disc_fn *D, const qb_axis *ax, const qb_axis *ay, int64_t j,
                     double complex *row) {
  double dy = (j + 1 < ay->n ? ay->values[j + 1] : ay->values[j]) -
              (j + 1 < ay->n ? ay->values[j] : ay->values[j - 1]);
  for (int64_t i = 0; i < ax->n; i++) {
    row[i] = disc_at(D, ax->values[i], ay->values[j]);
    if (row[i] == 0) {
      double dx =
          (i + 1 < ax->n ? ax->values[i + 1] - ax->values[i] : ax->values[i] - ax->values[i - 1]);
      row[i] = disc_at(D, ax->values[i] + ZERO_SHIFT * dx, ay->values[j] + ZERO_SHIFT * dy);
    }
  }
}

/* Signed crossing of the positive real axis by the segment z1 -> z2 (+1 upwards). */
static int crossing(double complex z1, double complex z2) {
  double y1 = cimag(z1), y2 = cimag(z2);
  if ((y1 <= 0) == (y2 <= 0)) return 0;
  double xr = creal(z1) + (creal(z2) - creal(z1)) * (-y1 / (y2 - y1));
  return xr > 0 ? (y1 <= 0 ? 1 : -1) : 0;
}

/* Winding number of disc around the cell (i, j) -> (i+1, j) -> (i+1, j+1) -> (i, j+1): the
 * winding of the polygon of the four values, by counting crossings of the positive real axis
 * (equal to the sum of the principal args of the ratios of consecutive values, without atan2). */
static int winding(double complex a, double complex b, double complex c, double complex d) {
  return crossing(a, b) + crossing(b, c) + crossing(c, d) + crossing(d, a);
}

typedef struct {
  gsl_multiroot_fsolver *s;
  gsl_vector *v0;
  gsl_multiroot_function fn;
} ep_ws;

static qb_err ep_ws_init(ep_ws *W, disc_fn *D) {
  W->s = gsl_multiroot_fsolver_alloc(gsl_multiroot_fsolver_hybrids, 2);
  W->v0 = gsl_vector_alloc(2);
  W->fn = (gsl_multiroot_function){disc_f, 2, D};
  return (W->s && W->v0) ? QB_OK : QB_ENOMEM;
}

static void ep_ws_free(ep_ws *W) {
  gsl_vector_free(W->v0);
  gsl_multiroot_fsolver_free(W->s);
}

/* Refines the zero of disc in the cell [x0, x1] x [y0, y1] (largest corner |disc| = scale) from
 * its centre.  Returns 1 for a confirmed EP: |disc| <= QB_POST_EP_RESIDUAL scale, within one cell
 * of this one, and the eigenvalues coalesce there. */
static int refine_ep(const qb_model *m, ep_ws *W, disc_fn *D, double x0, double x1, double y0,
                     double y1, double scale, double *rx, double *ry, double *res, double *split,
                     double *ovl) {
  gsl_vector_set(W->v0, 0, 0.5 * (x0 + x1));
  gsl_vector_set(W->v0, 1, 0.5 * (y0 + y1));
  *rx = *ry = *split = *ovl = NAN;
  *res = INFINITY;
  if (gsl_multiroot_fsolver_set(W->s, &W->fn, W->v0) == GSL_SUCCESS) {
    for (int it = 0; it < 100; it++) {
      int rc = gsl_multiroot_fsolver_iterate(W->s);
      double complex d = CMPLX(gsl_vector_get(W->s->f, 0), gsl_vector_get(W->s->f, 1));
      if (cabs(d) < *res) {
        *res = cabs(d);
        *rx = gsl_vector_get(W->s->x, 0);
        *ry = gsl_vector_get(W->s->x, 1);
      }
      if (*res <= QB_POST_EP_RESIDUAL * scale || rc) break;
    }
  }
  bool inside =
      fabs(*rx - 0.5 * (x0 + x1)) <= fabs(x1 - x0) && fabs(*ry - 0.5 * (y0 + y1)) <= fabs(y1 - y0);
  if (!(*res <= QB_POST_EP_RESIDUAL * scale) || !inside) return 0;
  D->p[D->px] = *rx;
  D->p[D->py] = *ry;
  m->coalescence(m, D->p, split, ovl);
  return *split <= QB_POST_EP_SPLIT * fmax(1.0, sqrt(scale)) && *ovl >= 1.0 - QB_POST_EP_OVERLAP;
}

static double corner_scale(double complex a, double complex b, double complex c, double complex d) {
  return fmax(fmax(cabs(a), cabs(b)), fmax(cabs(c), cabs(d)));
}

qb_err qb_post_eps(const qb_config *c, int64_t lo, int64_t hi, qb_pointset *out) {
  const qb_grid *g = &c->grid;
  const qb_axis *ax = &g->axes[c->eps.ax], *ay = &g->axes[c->eps.ay];
  const int64_t nx = ax->n, ny = ay->n;
  bool skip[QB_MAX_AXES] = {false};
  skip[c->eps.ax] = skip[c->eps.ay] = true;
  double p[QB_MAX_PARAMS], x[QB_MAX_AXES];
  memcpy(p, c->fixed, sizeof p);
  disc_fn D = {c->model, p, ax->param, ay->param};
  double complex *r0 = malloc((size_t)nx * sizeof *r0), *r1 = malloc((size_t)nx * sizeof *r1);
  ep_ws W;
  qb_err err = ep_ws_init(&W, &D);
  if (!r0 || !r1) err = QB_ENOMEM;
  out->ndim = g->ndim;

  for (int64_t u = lo; u < hi && !err; u++) {
    int64_t slice = u / (ny - 1), j = u % (ny - 1);
    set_others(c, skip, slice, p, x);
    if (u > lo && j > 0) { /* the previous unit's upper row is this one's lower row */
      double complex *t = r0;
      r0 = r1;
      r1 = t;
    } else {
      disc_row(&D, ax, ay, j, r0);
    }
    disc_row(&D, ax, ay, j + 1, r1);
    for (int64_t i = 0; i + 1 < nx && !err; i++) {
      int w = winding(r0[i], r0[i + 1], r1[i + 1], r1[i]);
      if (w == 0) continue;
      double scale = corner_scale(r0[i], r0[i + 1], r1[i + 1], r1[i]);
      double rx, ry, res, split, ovl;
      if (!refine_ep(c->model, &W, &D, ax->values[i], ax->values[i + 1], ay->values[j],
                     ay->values[j + 1], scale, &rx, &ry, &res, &split, &ovl)) {
        out->rejected++;
        continue;
      }
      x[c->eps.ax] = rx;
      x[c->eps.ay] = ry;
      err = push(out, x, 0, w, res, split, ovl, 1);
    }
  }
  ep_ws_free(&W);
  free(r0);
  free(r1);
  return err;
}

/* ---- adaptive 2-D refinement ----------------------------------------------------------- */

void qb_recs_free(qb_recs *r) {
  free(r->v);
  memset(r, 0, sizeof *r);
}

static qb_err rec_push(qb_recs *r, int64_t a, int64_t b, int64_t c, int64_t d) {
  if (r->n == r->cap) {
    int64_t cap = r->cap ? 2 * r->cap : 256;
    int64_t *v = realloc(r->v, (size_t)cap * 4 * sizeof *v);
    if (!v) return QB_ENOMEM;
    r->v = v;
    r->cap = cap;
  }
  int64_t *e = r->v + 4 * r->n++;
  e[0] = a, e[1] = b, e[2] = c, e[3] = d;
  return QB_OK;
}

static int rec_cmp(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  for (int k = 0; k < 3; k++)
    if (x[k] != y[k]) return (x[k] > y[k]) - (x[k] < y[k]);
  return 0;
}

void qb_recs_sort_unique(qb_recs *r) {
  if (r->n == 0) return;
  qsort(r->v, (size_t)r->n, 4 * sizeof *r->v, rec_cmp);
  int64_t w = 1;
  for (int64_t k = 1; k < r->n; k++)
    if (rec_cmp(r->v + 4 * k, r->v + 4 * (w - 1)) != 0)
      memmove(r->v + 4 * w++, r->v + 4 * k, 4 * sizeof *r->v);
  r->n = w;
}

/* The plane of the adaptive mode: x = the fastest axis, y = the next one. */
static void plane(const qb_config *c, int *dx, int *dy) {
  *dx = c->grid.ndim - 1;
  *dy = c->grid.ndim - 2;
}

int64_t qb_post_adaptive_units(const qb_config *c) {
  int dx, dy;
  plane(c, &dx, &dy);
  const qb_grid *g = &c->grid;
  int64_t nx = g->axes[dx].n, ny = g->axes[dy].n;
  return g->npoints / (nx * ny) * (nx - 1) * (ny - 1);
}

int64_t qb_post_fine_n(const qb_axis *a, int depth) {
  return (a->n - 1) * ((int64_t)1 << depth) + 1;
}

double qb_post_fine_value(const qb_axis *a, int depth, int64_t i) {
  int64_t k = i >> depth, r = i & (((int64_t)1 << depth) - 1);
  if (r == 0) return a->values[k];
  return qb_grid_interp(a->kind, a->values[k], a->values[k + 1],
                        (double)r / (double)((int64_t)1 << depth));
}

/* Distance from fine point i to its successor (its predecessor for the last point). */
static double fine_step(const qb_axis *a, int depth, int64_t i) {
  int64_t n = qb_post_fine_n(a, depth), k = i + 1 < n ? i : i - 1;
  return fabs(qb_post_fine_value(a, depth, k + 1) - qb_post_fine_value(a, depth, k));
}

typedef struct {
  const qb_config *c;
  int depth, dx, dy;
  int64_t side, slice, ci, cj; /* coarse cell (ci, cj) of `slice`; side = 2^depth fine cells */
  double *p;
  field_fn F;
  disc_fn D;
  double *val;         /* (side+1)^2 memo: field - level */
  double complex *dsc; /* (side+1)^2 memo: disc */
  unsigned char *have;
  qb_recs *bnd, *eps, *pts;
  int64_t evals;
  qb_err err;
} adapt;

static int64_t memo(const adapt *A, int64_t li, int64_t lj) {
  return lj * (A->side + 1) + li;
}

/* Evaluates the corner at local fine (li, lj) once. */
static void corner(adapt *A, int64_t li, int64_t lj) {
  int64_t k = memo(A, li, lj);
  if (A->have[k]) return;
  const qb_grid *g = &A->c->grid;
  int64_t gi = A->ci * A->side + li, gj = A->cj * A->side + lj;
  double x = qb_post_fine_value(&g->axes[A->dx], A->depth, gi);
  double y = qb_post_fine_value(&g->axes[A->dy], A->depth, gj);
  A->p[g->axes[A->dy].param] = y;
  A->val[k] = A->c->boundaries.on ? field_at(x, &A->F) : NAN;
  A->dsc[k] = A->c->eps.on ? disc_at(&A->D, x, y) : 0;
  if (A->c->eps.on && A->dsc[k] == 0) /* as disc_row: read an exact zero up and right */
    A->dsc[k] = disc_at(&A->D, x + ZERO_SHIFT * fine_step(&g->axes[A->dx], A->depth, gi),
                        y + ZERO_SHIFT * fine_step(&g->axes[A->dy], A->depth, gj));
  A->have[k] = 1;
  A->evals++;
  double fv = A->val[k] + A->c->boundaries.level;
  int64_t bits;
  memcpy(&bits, &fv, sizeof bits);
  if (!A->err) A->err = rec_push(A->pts, A->slice, gj, gi, bits);
}

static bool sign_change(double a, double b) {
  return !isnan(a) && !isnan(b) && (a < 0) != (b < 0);
}

/* Cell with lower-left local corner (i0, j0) and `size` fine cells per side. */
static void refine_cell(adapt *A, int64_t i0, int64_t j0, int64_t size) {
  if (A->err) return;
  corner(A, i0, j0);
  corner(A, i0 + size, j0);
  corner(A, i0 + size, j0 + size);
  corner(A, i0, j0 + size);
  int64_t a = memo(A, i0, j0), b = memo(A, i0 + size, j0), c = memo(A, i0 + size, j0 + size),
          d = memo(A, i0, j0 + size);
  bool split = A->c->boundaries.on &&
               (sign_change(A->val[a], A->val[b]) || sign_change(A->val[b], A->val[c]) ||
                sign_change(A->val[c], A->val[d]) || sign_change(A->val[d], A->val[a]));
  int w = A->c->eps.on ? winding(A->dsc[a], A->dsc[b], A->dsc[c], A->dsc[d]) : 0;
  if (!split && w == 0) return;
  if (size > 1) {
    int64_t h = size / 2;
    refine_cell(A, i0, j0, h);
    refine_cell(A, i0 + h, j0, h);
    refine_cell(A, i0, j0 + h, h);
    refine_cell(A, i0 + h, j0 + h, h);
    return;
  }
  int64_t gi = A->ci * A->side + i0, gj = A->cj * A->side + j0;
  if (split) {
    if (A->c->boundaries.axis == A->dx) { /* x-edges: line = j, position = i */
      if (sign_change(A->val[a], A->val[b])) A->err = rec_push(A->bnd, A->slice, gj, gi, 0);
      if (!A->err && sign_change(A->val[d], A->val[c]))
        A->err = rec_push(A->bnd, A->slice, gj + 1, gi, 0);
    } else { /* y-edges: line = i, position = j */
      if (sign_change(A->val[a], A->val[d])) A->err = rec_push(A->bnd, A->slice, gi, gj, 0);
      if (!A->err && sign_change(A->val[b], A->val[c]))
        A->err = rec_push(A->bnd, A->slice, gi + 1, gj, 0);
    }
  }
  if (w != 0 && !A->err) A->err = rec_push(A->eps, A->slice, gj, gi, w);
}

qb_err qb_post_adaptive(const qb_config *c, int64_t lo, int64_t hi, qb_recs *bnd, qb_recs *eps,
                        qb_recs *pts, int64_t *evals) {
  const qb_grid *g = &c->grid;
  adapt A = {.c = c, .depth = c->adaptive_depth, .bnd = bnd, .eps = eps, .pts = pts};
  plane(c, &A.dx, &A.dy);
  A.side = (int64_t)1 << A.depth;
  double p[QB_MAX_PARAMS], x[QB_MAX_AXES];
  bool want[QB_MAX_FIELDS] = {false}, skip[QB_MAX_AXES] = {false};
  memcpy(p, c->fixed, sizeof p);
  if (c->boundaries.on) want[c->boundaries.field] = true;
  A.p = p;
  A.F =
      (field_fn){c->model, p, g->axes[A.dx].param, c->boundaries.field, c->boundaries.level, want};
  A.D = (disc_fn){c->model, p, g->axes[A.dx].param, g->axes[A.dy].param};
  size_t m = (size_t)((A.side + 1) * (A.side + 1));
  A.val = malloc(m * sizeof *A.val);
  A.dsc = malloc(m * sizeof *A.dsc);
  A.have = malloc(m);
  if (!A.val || !A.dsc || !A.have) A.err = QB_ENOMEM;
  skip[A.dx] = skip[A.dy] = true;
  const int64_t ncx = g->axes[A.dx].n - 1, ncy = g->axes[A.dy].n - 1;
  for (int64_t u = lo; u < hi && !A.err; u++) {
    A.slice = u / (ncx * ncy);
    A.cj = (u / ncx) % ncy;
    A.ci = u % ncx;
    set_others(c, skip, A.slice, p, x);
    memset(A.have, 0, m);
    refine_cell(&A, 0, 0, A.side);
  }
  *evals = A.evals;
  free(A.val);
  free(A.dsc);
  free(A.have);
  return A.err;
}

/* Sets the slice parameters and returns the fine coordinates of record (slice, line, pos)
 * when `line` indexes `lax` and `pos` indexes `pax` (fine grid). */
static void rec_point(const qb_config *c, const int64_t *r, int lax, int pax, double *p,
                      double *x) {
  int dx, dy;
  plane(c, &dx, &dy);
  bool skip[QB_MAX_AXES] = {false};
  skip[dx] = skip[dy] = true;
  set_others(c, skip, r[0], p, x);
  const qb_grid *g = &c->grid;
  x[lax] = qb_post_fine_value(&g->axes[lax], c->adaptive_depth, r[1]);
  x[pax] = qb_post_fine_value(&g->axes[pax], c->adaptive_depth, r[2]);
  p[g->axes[lax].param] = x[lax];
  p[g->axes[pax].param] = x[pax];
}

qb_err qb_post_adaptive_boundaries(const qb_config *c, const int64_t *rec, int64_t n,
                                   qb_pointset *out) {
  const qb_grid *g = &c->grid;
  int dx, dy;
  plane(c, &dx, &dy);
  int pax = c->boundaries.axis, lax = pax == dx ? dy : dx;
  const qb_axis *ax = &g->axes[pax];
  double p[QB_MAX_PARAMS], x[QB_MAX_AXES];
  bool want[QB_MAX_FIELDS] = {false};
  want[c->boundaries.field] = true;
  memcpy(p, c->fixed, sizeof p);
  field_fn F = {c->model, p, ax->param, c->boundaries.field, c->boundaries.level, want};
  gsl_function fn = {field_at, &F};
  gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
  qb_err err = s ? QB_OK : QB_ENOMEM;
  const double tol = QB_POST_BRENT_REL * axis_span(ax);
  out->ndim = g->ndim;
  for (int64_t k = 0; k < n && !err; k++) {
    const int64_t *r = rec + 4 * k;
    rec_point(c, r, lax, pax, p, x);
    double a = x[pax], b = qb_post_fine_value(ax, c->adaptive_depth, r[2] + 1);
    double vb = field_at(b, &F);
    double root = brent(s, &fn, a, b, vb, tol);
    if (isnan(root)) {
      out->rejected++;
      continue;
    }
    x[pax] = root;
    err = push(out, x, r[2], 0, 0, 0, 0, 0);
  }
  gsl_root_fsolver_free(s);
  return err;
}

qb_err qb_post_adaptive_eps(const qb_config *c, const int64_t *rec, int64_t n, qb_pointset *out) {
  const qb_grid *g = &c->grid;
  int dx, dy;
  plane(c, &dx, &dy);
  double p[QB_MAX_PARAMS], x[QB_MAX_AXES];
  memcpy(p, c->fixed, sizeof p);
  disc_fn D = {c->model, p, g->axes[dx].param, g->axes[dy].param};
  ep_ws W;
  qb_err err = ep_ws_init(&W, &D);
  out->ndim = g->ndim;
  const int depth = c->adaptive_depth;
  for (int64_t k = 0; k < n && !err; k++) {
    const int64_t *r = rec + 4 * k; /* (slice, j, i, winding) */
    rec_point(c, r, dy, dx, p, x);
    double x0 = x[dx], y0 = x[dy];
    double x1 = qb_post_fine_value(&g->axes[dx], depth, r[2] + 1);
    double y1 = qb_post_fine_value(&g->axes[dy], depth, r[1] + 1);
    double scale = corner_scale(disc_at(&D, x0, y0), disc_at(&D, x1, y0), disc_at(&D, x1, y1),
                                disc_at(&D, x0, y1));
    double rx, ry, res, split, ovl;
    if (!refine_ep(c->model, &W, &D, x0, x1, y0, y1, scale, &rx, &ry, &res, &split, &ovl)) {
      out->rejected++;
      continue;
    }
    x[dx] = rx;
    x[dy] = ry;
    err = push(out, x, 0, (int32_t)r[3], res, split, ovl, 1);
  }
  ep_ws_free(&W);
  return err;
}

qb_err qb_post_adaptive_points(const qb_config *c, const int64_t *rec, int64_t n,
                               qb_pointset *out) {
  int dx, dy;
  plane(c, &dx, &dy);
  double p[QB_MAX_PARAMS], x[QB_MAX_AXES];
  memcpy(p, c->fixed, sizeof p);
  out->ndim = c->grid.ndim;
  out->value = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->value);
  qb_err err = out->value ? QB_OK : QB_ENOMEM;
  for (int64_t k = 0; k < n && !err; k++) {
    const int64_t *r = rec + 4 * k; /* (slice, j, i, value bits) */
    rec_point(c, r, dy, dx, p, x);
    memcpy(&out->value[k], &r[3], sizeof(double));
    err = push(out, x, 0, 0, 0, 0, 0, 0);
  }
  return err;
}

#define STR_(x) #x
#define STR(x) STR_(x) /* a macro's value as text: the accuracy attributes quote the constants */

/* Where the pass puts axis d's coordinate: refined by the pass, on the adaptive fine grid, or
 * on the config's grid. */
static const char *axis_role(const qb_config *c, qb_post_pass which, int d) {
  const qb_grid *g = &c->grid;
  bool ep_plane = d == c->eps.ax || d == c->eps.ay;
  bool inplane = c->adaptive_depth > 0 ? d >= g->ndim - 2
                                       : (which == QB_POST_EP ? ep_plane : d == c->boundaries.axis);
  bool refined =
      which == QB_POST_EP ? ep_plane : (which == QB_POST_BOUNDARY && d == c->boundaries.axis);
  return refined ? " (refined)" : (inplane ? " (fine-grid value)" : " (grid value)");
}

static void add_col(qb_post_group *o, const char *name, qb_coltype type, const char *units,
                    const char *long_name, const void *data) {
  o->cols[o->ncols++] = (qb_h5_col){name, type, units, long_name, data};
}

static void add_attr(qb_post_group *o, const char *name, const char *value) {
  o->attrs[o->nattrs++] = qb_h5_attr_str(name, value);
}

/* Numbers are numeric attributes (float64 for values on an axis, int64 for counts). */
static void add_attr_f64(qb_post_group *o, const char *name, double v) {
  o->attrs[o->nattrs++] = qb_h5_attr_f64(name, v);
}

static void add_attr_i64(qb_post_group *o, const char *name, int64_t v) {
  o->attrs[o->nattrs++] = qb_h5_attr_i64(name, v);
}

static void describe_ep(const qb_config *c, const qb_pointset *ps, int64_t rejected,
                        qb_post_group *o) {
  const qb_grid *g = &c->grid;
  add_col(o, "winding", QB_COL_I32, "1", "winding number of the discriminant around the grid cell",
          ps->winding);
  add_col(o, "residual", QB_COL_F64, "1", "|disc| at the refined point", ps->residual);
  add_col(o, "splitting", QB_COL_F64, "1",
          "distance of the two coalescing eigenvalues at the point", ps->splitting);
  add_col(o, "overlap", QB_COL_F64, "1", "|<u|v>|/(|u||v|) of their eigenvectors (1 at an EP)",
          ps->overlap);
  snprintf(o->text[0], sizeof o->text[0], "%s %s", g->axes[c->eps.ax].name,
           g->axes[c->eps.ay].name);
  add_attr(o, "axes", o->text[0]);
  add_attr_i64(o, "candidates_rejected", rejected);
  add_attr(
      o, "accuracy",
      "|disc| <= " STR(QB_POST_EP_RESIDUAL) " x the cell's largest corner |disc|; kept only "
                                            "where the eigenvalues coalesce (splitting <= " STR(
                                                QB_POST_EP_SPLIT) " max(1, "
                                                                  "sqrt(corner |disc|)), "
                                                                  "eigenvector overlap >= 1 - " STR(
                                                                      QB_POST_EP_OVERLAP) ")");
}

static void describe_boundary(const qb_config *c, const qb_pointset *ps, int64_t rejected,
                              qb_post_group *o) {
  add_col(o, "index", QB_COL_I64, "1",
          c->adaptive_depth > 0
              ? "lower fine-grid index of the bracketing neighbours along the axis"
              : "lower grid index of the bracketing neighbours along the axis",
          ps->index);
  add_attr(o, "field", c->model->fields[c->boundaries.field].name);
  add_attr_f64(o, "level", c->boundaries.level);
  add_attr(o, "axis", c->grid.axes[c->boundaries.axis].name);
  add_attr_i64(o, "brackets_not_refined", rejected);
  add_attr(o, "accuracy", "Brent on the kernel to " STR(QB_POST_BRENT_REL) " of the axis span");
}

static void describe_adaptive(const qb_config *c, const qb_pointset *ps, int64_t evals,
                              qb_post_group *o) {
  const qb_grid *g = &c->grid;
  const qb_axis *ax = &g->axes[g->ndim - 1], *ay = &g->axes[g->ndim - 2];
  add_col(o, "value", QB_COL_F64, "1",
          c->boundaries.on ? c->model->fields[c->boundaries.field].long_name
                           : "not evaluated (eps only)",
          ps->value);
  int64_t fine = g->npoints / (ax->n * ay->n) * qb_post_fine_n(ax, c->adaptive_depth) *
                 qb_post_fine_n(ay, c->adaptive_depth);
  add_attr_i64(o, "max_depth", c->adaptive_depth);
  add_attr_i64(o, "evaluations", evals);
  add_attr_i64(o, "uniform_equivalent_points", fine);
  add_attr(o, "plane",
           "the last two axes; values on a grid 2^max_depth times finer than the "
           "config's");
}

void qb_post_describe(const qb_config *c, qb_post_pass which, const qb_pointset *ps,
                      int64_t rejected, int64_t evals, qb_post_group *out) {
  static const char *const groups[] = {"boundary", "ep", "adaptive"};
  static const char *const rows_are[] = {"crossings", "exceptional points", "distinct points"};
  const qb_grid *g = &c->grid;
  *out = (qb_post_group){.group = groups[which], .rows_are = rows_are[which]};
  for (int d = 0; d < g->ndim; d++) { /* text[4 + d]: the axes' long names */
    const qb_param *p = &c->model->params[g->axes[d].param];
    snprintf(out->text[4 + d], sizeof out->text[4 + d], "%s%s", p->long_name,
             axis_role(c, which, d));
    add_col(out, g->axes[d].name, QB_COL_F64, p->units, out->text[4 + d], ps->x[d]);
  }
  if (which == QB_POST_EP)
    describe_ep(c, ps, rejected, out);
  else if (which == QB_POST_BOUNDARY)
    describe_boundary(c, ps, rejected, out);
  else
    describe_adaptive(c, ps, evals, out);
}
