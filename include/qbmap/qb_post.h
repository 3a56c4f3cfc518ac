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
  double *value;          /* adaptive: the field at an evaluated point */
  int64_t rejected;       /* candidates dropped (refinement failed or no coalescence) */
} qb_pointset;

void qb_pointset_free(qb_pointset *s);

int64_t qb_post_boundary_units(const qb_config *c);
qb_err qb_post_boundaries(const qb_config *c, int64_t lo, int64_t hi, qb_pointset *out);

int64_t qb_post_ep_units(const qb_config *c);
qb_err qb_post_eps(const qb_config *c, int64_t lo, int64_t hi, qb_pointset *out);

/* Adaptive 2-D mode (cfg->adaptive_depth > 0) in the plane of the two fastest axes: each coarse
 * grid cell (a unit) is split recursively, down to 2^depth fine cells per side, only where its
 * corners differ in the sign of (field - level) or the discriminant winds around it.  Results are
 * records of 4 int64 in fine-grid indices, sortable and mergeable across ranks:
 *   bnd (slice, line, position, 0): a fine edge along the boundary axis with a sign change,
 *       line = fine index along the other plane axis;
 *   eps (slice, j, i, winding): a fine cell (lower-left corner) around which disc winds;
 *   pts (slice, j, i, bits of the field value): an evaluated point.
 * qb_recs_sort_unique merges duplicates (points and edges shared by neighbouring coarse
 * cells); the refinement functions then turn records into points like the uniform passes. */
typedef struct {
  int64_t *v; /* 4 per record */
  int64_t n, cap;
} qb_recs;

void qb_recs_free(qb_recs *r);
void qb_recs_sort_unique(qb_recs *r);
int64_t qb_post_adaptive_units(const qb_config *c);
qb_err qb_post_adaptive(const qb_config *c, int64_t lo, int64_t hi, qb_recs *bnd, qb_recs *eps,
                        qb_recs *pts, int64_t *evals);
qb_err qb_post_adaptive_boundaries(const qb_config *c, const int64_t *rec, int64_t n,
                                   qb_pointset *out);
qb_err qb_post_adaptive_eps(const qb_config *c, const int64_t *rec, int64_t n, qb_pointset *out);
qb_err qb_post_adaptive_points(const qb_config *c, const int64_t *rec, int64_t n, qb_pointset *out);

/* Fine grid of the adaptive mode: n_fine = (n - 1) 2^depth + 1 points; value i subdivides the
 * coarse interval linearly (logarithmically on log axes). */
int64_t qb_post_fine_n(const qb_axis *a, int depth);
double qb_post_fine_value(const qb_axis *a, int depth, int64_t i);

/* Splits units [0, nunits) into contiguous ranges, one per rank, in rank order. */
void qb_post_range(int64_t nunits, int nranks, int rank, int64_t *lo, int64_t *hi);

#endif
