#include "qbmap/qb_grid.h"

#include <math.h>
#include <stdlib.h>

double qb_grid_axis_value(qb_axis_kind kind, double min, double max, int64_t n, int64_t i) {
  if (n == 1) return min;
  if (i == n - 1) return max; /* exact end points */
  return qb_grid_interp(kind, min, max, (double)i / (double)(n - 1));
}

double qb_grid_interp(qb_axis_kind kind, double a, double b, double u) {
  if (kind == QB_AXIS_LOG) return exp(log(a) + u * (log(b) - log(a)));
  return a + u * (b - a);
}

int qb_grid_fill_axis(qb_axis *a) {
  if (a->kind == QB_AXIS_LIST) return 0;
  if (!(a->values = malloc((size_t)a->n * sizeof(double)))) return -1;
  for (int64_t i = 0; i < a->n; i++)
    a->values[i] = qb_grid_axis_value(a->kind, a->min, a->max, a->n, i);
  return 0;
}

int64_t qb_grid_count(int ndim, const int64_t *shape) {
  int64_t p = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0) return -1;
    if (p > INT64_MAX / shape[d]) return -1;
    p *= shape[d];
  }
  return p;
}

void qb_grid_unflatten(const qb_grid *g, int64_t flat, int64_t *idx) {
  for (int d = g->ndim - 1; d >= 0; d--) {
    idx[d] = flat % g->axes[d].n;
    flat /= g->axes[d].n;
  }
}

int64_t qb_grid_block_points(const qb_grid *g, int64_t target) {
  int64_t row = g->axes[g->ndim - 1].n;
  if (row > 4 * target) return target;
  int64_t rows = target / row;
  return (rows < 1 ? 1 : rows) * row;
}

void qb_grid_block_range(int64_t npoints, int64_t bpoints, int64_t b, int64_t *lo, int64_t *hi) {
  *lo = b * bpoints;
  *hi = *lo + bpoints < npoints ? *lo + bpoints : npoints;
}

int64_t qb_grid_nrounds(int64_t nitems, int nranks) {
  return (nitems + nranks - 1) / nranks;
}

int64_t qb_grid_round_item(int64_t nitems, int nranks, int rank, int64_t r) {
  int64_t i = r * nranks + rank;
  return i < nitems ? i : -1;
}

int64_t qb_grid_rounds_end(int64_t nitems, int nranks, int64_t r) {
  return (r + 1) * nranks < nitems ? (r + 1) * nranks : nitems;
}

void qb_grid_split(int64_t nunits, int nranks, int rank, int64_t *lo, int64_t *hi) {
  int64_t base = nunits / nranks, extra = nunits % nranks;
  *lo = rank * base + (rank < extra ? rank : extra);
  *hi = *lo + base + (rank < extra ? 1 : 0);
}

/* Boxes for [lo, hi) inside the sub-array of dimensions d.. at fixed outer indices `pre`. */
static int boxes_rec(int ndim, const int64_t *shape, int d, int64_t *pre, int64_t lo, int64_t hi,
                     qb_box *out) {
  if (lo >= hi) return 0;
  int64_t stride = 1;
  for (int k = d + 1; k < ndim; k++)
    stride *= shape[k];
  int64_t i0 = lo / stride, ilast = (hi - 1) / stride;
  if (i0 == ilast) {
    if (d == ndim - 1) {
      for (int k = 0; k < d; k++)
        out[0].start[k] = pre[k], out[0].count[k] = 1;
      out[0].start[d] = lo;
      out[0].count[d] = hi - lo;
      return 1;
    }
    pre[d] = i0;
    return boxes_rec(ndim, shape, d + 1, pre, lo - i0 * stride, hi - i0 * stride, out);
  }
  int nb = 0;
  if (lo % stride) {
    pre[d] = i0;
    nb += boxes_rec(ndim, shape, d + 1, pre, lo % stride, stride, out + nb);
    i0++;
  }
  int64_t i1 = hi / stride;
  if (i1 > i0) {
    for (int k = 0; k < d; k++)
      out[nb].start[k] = pre[k], out[nb].count[k] = 1;
    out[nb].start[d] = i0;
    out[nb].count[d] = i1 - i0;
    for (int k = d + 1; k < ndim; k++)
      out[nb].start[k] = 0, out[nb].count[k] = shape[k];
    nb++;
  }
  if (hi % stride) {
    pre[d] = i1;
    nb += boxes_rec(ndim, shape, d + 1, pre, 0, hi % stride, out + nb);
  }
  return nb;
}

int qb_grid_range_boxes(int ndim, const int64_t *shape, int64_t lo, int64_t hi, qb_box *boxes) {
  int64_t pre[QB_MAX_AXES] = {0};
  return boxes_rec(ndim, shape, 0, pre, lo, hi, boxes);
}

void qb_grid_free(qb_grid *g) {
  for (int d = 0; d < g->ndim; d++) {
    free(g->axes[d].values);
    g->axes[d].values = NULL;
  }
  g->ndim = 0;
}
