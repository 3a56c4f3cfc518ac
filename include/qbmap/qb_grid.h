/* qb_grid: N-dimensional parameter grids, their row-major flattening (last axis fastest), the
 * split into contiguous blocks, and the deal of blocks to ranks.  Pure functions of their
 * arguments (no MPI): every rank computes the same answers.  All sizes are int64_t. */
#ifndef QB_GRID_H
#define QB_GRID_H

#include <stdint.h>

#define QB_MAX_AXES 8
#define QB_NAME_MAX 64
#define QB_AXIS_NMAX ((int64_t)1 << 27) /* coordinates per axis (held in memory: 1 GiB) */

typedef enum { QB_AXIS_LIST = 0, QB_AXIS_LIN = 1, QB_AXIS_LOG = 2 } qb_axis_kind;

typedef struct {
  char name[QB_NAME_MAX]; /* parameter name */
  int param;              /* index into the model's parameters */
  qb_axis_kind kind;
  int64_t n;
  double min, max; /* QB_AXIS_LIN / QB_AXIS_LOG */
  double *values;  /* n coordinates, owned */
} qb_axis;

typedef struct {
  int ndim;
  qb_axis axes[QB_MAX_AXES];
  int64_t npoints;
} qb_grid;

/* Coordinate i of a linear or log axis; identical on every rank (depends on i, min, max, n). */
double qb_grid_axis_value(qb_axis_kind kind, double min, double max, int64_t n, int64_t i);

/* Fills a->values with the n coordinates of a linear or log axis (min, max, n set; a list axis
 * already holds its values and is left as it is).  Returns 0, or -1 when out of memory. */
int qb_grid_fill_axis(qb_axis *a);

/* Product of the axis lengths; -1 if it overflows int64_t. */
int64_t qb_grid_count(int ndim, const int64_t *shape);

/* idx[d] for the flat (row-major) index. */
void qb_grid_unflatten(const qb_grid *g, int64_t flat, int64_t *idx);

/* Points per block: whole rows of the fastest axis, about `target` points (at least one row,
 * unless a row alone exceeds 4*target, then target points). */
int64_t qb_grid_block_points(const qb_grid *g, int64_t target);

/* Block b covers flat indices [lo, hi). */
void qb_grid_block_range(int64_t npoints, int64_t bpoints, int64_t b, int64_t *lo, int64_t *hi);

/* Rounds needed to deal nblocks blocks to nranks ranks, one block per rank and round (the
 * sweep deals its pending blocks so: in round r, rank k gets pending[r*nranks + k], or none
 * past the end). */
int64_t qb_grid_nrounds(int64_t nblocks, int nranks);

/* Decomposes the flat range [lo, hi) of an array of the given shape into at most
 * 2*ndim - 1 rectangular boxes (start, count per dimension), in flat order.  Returns the box
 * count. */
typedef struct {
  int64_t start[QB_MAX_AXES], count[QB_MAX_AXES];
} qb_box;
int qb_grid_range_boxes(int ndim, const int64_t *shape, int64_t lo, int64_t hi, qb_box *boxes);

void qb_grid_free(qb_grid *g);

#endif
