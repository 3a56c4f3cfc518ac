/* qb_grid: N-dimensional parameter grids, their row-major flattening (last axis fastest), the
 * split into contiguous blocks, and the decomposition of work over ranks.  Pure functions of their
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

/* The work decomposition: a pure function of (number of items, nranks, rank), 64-bit.
 *
 * The round deal (the sweep's pending blocks, the NaN fill of a stopped run): items are dealt one
 * per rank and round, in round r rank k gets item r*nranks + k, none past the end, so every rank
 * takes part in every round (the writes are collective) and a round's items are finished together.
 * Rounds needed for nitems items (0 for none): */
int64_t qb_grid_nrounds(int64_t nitems, int nranks);

/* The item `rank` gets in round r, or -1 when the deal has run out. */
int64_t qb_grid_round_item(int64_t nitems, int nranks, int rank, int64_t r);

/* Items dealt in rounds 0 .. r together: min((r + 1) nranks, nitems). */
int64_t qb_grid_rounds_end(int64_t nitems, int nranks, int64_t r);

/* The contiguous split (the post-passes): units [0, nunits) cut into one range [lo, hi) per rank,
 * in rank order, sizes differing by at most one (the larger first); empty for ranks beyond
 * nunits.  Concatenating the ranks' results in rank order gives the units' order. */
void qb_grid_split(int64_t nunits, int nranks, int rank, int64_t *lo, int64_t *hi);

/* Linear or logarithmic interpolation between a and b at u in [0, 1] (u = 1 is not exact: the
 * callers return b themselves). */
double qb_grid_interp(qb_axis_kind kind, double a, double b, double u);

/* Decomposes the flat range [lo, hi) of an array of the given shape into at most
 * 2*ndim - 1 rectangular boxes (start, count per dimension), in flat order.  Returns the box
 * count. */
typedef struct {
  int64_t start[QB_MAX_AXES], count[QB_MAX_AXES];
} qb_box;
int qb_grid_range_boxes(int ndim, const int64_t *shape, int64_t lo, int64_t hi, qb_box *boxes);

void qb_grid_free(qb_grid *g);

#endif
