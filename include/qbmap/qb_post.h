/* qb_post: post-passes over a grid that reuse the model's pure kernel.
 *
 * Boundaries: on every line of the grid along the boundary axis, each pair of neighbours where
 * (field - level) changes sign brackets a crossing, refined with GSL Brent on the kernel itself
 * to 1e-12 of the axis span.
 * EPs: in every slice of the (ax, ay) plane, each grid cell around which the discriminant of the
 * drift's characteristic polynomial winds by a nonzero multiple of 2 pi holds an exceptional
 * point, refined with GSL multiroot (hybrids) to |disc| <= 1e-12 x (the cell's largest corner
 * |disc|) and kept only if the two eigenvalues coalesce (splitting <= 1e-6 max(1, sqrt(corner
 * |disc|)), eigenvector overlap >= 1 - 1e-6).
 *
 * Work is split into units (boundary: lines; EPs: one row of cells of one slice), numbered in
 * row-major order; results come out in unit order, so a rank that handles a contiguous range of
 * units produces a contiguous, rank-count-independent piece of the output.  Not collective; no
 * MPI, no HDF5. */
#ifndef QB_POST_H
#define QB_POST_H

#include <stdint.h>

#include "qbmap/qb_config.h"
#include "qbmap/qb_status.h"

/* Points found by a post-pass: grid-axis coordinates plus per-point columns (columns a pass
 * does not fill stay NULL). */
typedef struct {
  int ndim;
  int64_t n, cap;
  double *x[QB_MAX_AXES]; /* coordinate along each grid axis */
  int64_t *index;         /* boundaries: lower grid index of the bracket along the axis */
  int32_t *winding;       /* EPs: winding number of the discriminant around the cell */
  double *residual;       /* EPs: |disc| at the refined point */
  double *splitting;      /* EPs: eigenvalue splitting at the refined point */
  double *overlap;        /* EPs: eigenvector overlap at the refined point */
  int64_t rejected;       /* candidates dropped (refinement failed or no coalescence) */
} qb_pointset;

void qb_pointset_free(qb_pointset *s);

int64_t qb_post_boundary_units(const qb_config *c);
qb_err qb_post_boundaries(const qb_config *c, int64_t lo, int64_t hi, qb_pointset *out);

int64_t qb_post_ep_units(const qb_config *c);
qb_err qb_post_eps(const qb_config *c, int64_t lo, int64_t hi, qb_pointset *out);

/* Splits units [0, nunits) into contiguous ranges, one per rank, in rank order. */
void qb_post_range(int64_t nunits, int nranks, int rank, int64_t *lo, int64_t *hi);

#endif
