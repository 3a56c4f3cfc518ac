#include "qbmap/qb_post.h"

#include <complex.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multiroots.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BRENT_REL 1e-12   /* boundary accuracy, relative to the axis span */
#define EP_RESIDUAL 1e-12 /* |disc| at an EP, relative to the cell's largest corner |disc| */
#define EP_SPLIT 1e-6     /* coalescence: splitting / max(1, sqrt(largest corner |disc|)) */
#define EP_OVERLAP 1e-6   /* coalescence: 1 - overlap */
#define ZERO_SHIFT 1e-6   /* a grid point with disc = 0 is read at +ZERO_SHIFT of a cell */

void qb_pointset_free(qb_pointset *s) {
  for (int d = 0; d < QB_MAX_AXES; d++)
    free(s->x[d]);
  free(s->index);
  free(s->winding);
  free(s->residual);
  free(s->splitting);
  free(s->overlap);
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

void qb_post_range(int64_t nunits, int nranks, int rank, int64_t *lo, int64_t *hi) {
  int64_t base = nunits / nranks, extra = nunits % nranks;
  *lo = rank * base + (rank < extra ? rank : extra);
  *hi = *lo + base + (rank < extra ? 1 : 0);
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
  F->m->eval(F->p, F->want, out);
  return out[F->field] - F->level;
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
  gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
  qb_err err = (v && s) ? QB_OK : QB_ENOMEM;
  const double tol = BRENT_REL * axis_span(ax);
  out->ndim = g->ndim;

  for (int64_t u = lo; u < hi && !err; u++) {
    set_others(c, skip, u, p, x);
    for (int64_t i = 0; i < n; i++)
      v[i] = field_at(ax->values[i], &F);
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
  return D->m->disc(D->p);
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

/* Winding number of disc around the cell (i, j) -> (i+1, j) -> (i+1, j+1) -> (i, j+1). */
static int winding(double complex a, double complex b, double complex c, double complex d) {
  double sum = carg(b / a) + carg(c / b) + carg(d / c) + carg(a / d);
  return (int)lround(sum / 6.283185307179586);
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
 * its centre.  Returns 1 for a confirmed EP: |disc| <= EP_RESIDUAL scale, within one cell of
 * this one, and the eigenvalues coalesce there. */
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
      if (*res <= EP_RESIDUAL * scale || rc) break;
    }
  }
  bool inside =
      fabs(*rx - 0.5 * (x0 + x1)) <= fabs(x1 - x0) && fabs(*ry - 0.5 * (y0 + y1)) <= fabs(y1 - y0);
  if (!(*res <= EP_RESIDUAL * scale) || !inside) return 0;
  D->p[D->px] = *rx;
  D->p[D->py] = *ry;
  m->coalescence(D->p, split, ovl);
  return *split <= EP_SPLIT * fmax(1.0, sqrt(scale)) && *ovl >= 1.0 - EP_OVERLAP;
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
    disc_row(&D, ax, ay, j, r0);
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
