/* qb_post: post-passes over a grid that reuse the model's pure kernel, and the description of
 * the groups they write (/boundary, /ep, /adaptive).
 *
 * Boundaries: on every line of the grid along the boundary axis, each pair of neighbours where
 * (field - level) changes sign brackets a crossing, refined with GSL Brent on the kernel itself
 * to QB_POST_BRENT_REL of the axis span.
 * EPs: in every slice of the (ax, ay) plane, each grid cell around which the discriminant of the
 * drift's characteristic polynomial winds by a nonzero multiple of 2 pi holds an exceptional
 * point, refined with GSL multiroot (hybrids) to |disc| <= QB_POST_EP_RESIDUAL x (the cell's
 * largest corner |disc|) and kept only if the two eigenvalues coalesce (splitting <=
 * QB_POST_EP_SPLIT max(1, sqrt(corner |disc|)), eigenvector overlap >= 1 - QB_POST_EP_OVERLAP).
 *
 * Work is split into units (boundary: lines; EPs: one row of cells of one slice), numbered in
 * row-major order; results come out in unit order, so a rank that handles a contiguous range of
 * units (qb_grid_split) produces a contiguous, rank-count-independent piece of the output.  Not
 * collective; no MPI, no HDF5 calls (qb_post_describe fills qb_h5's column descriptions). */
#ifndef QB_POST_H
#define QB_POST_H

#include <stdint.h>

#include "qbmap/qb_config.h"
#include "qbmap/qb_h5.h"
#include "qbmap/qb_status.h"

/* The accuracies of the passes: used by the refinement and quoted, from these same macros, in
 * the `accuracy` attribute of the groups. */
#define QB_POST_BRENT_REL 1e-12 /* boundary accuracy, relative to the axis span */
#define QB_POST_EP_RESIDUAL                                                                        \
  1e-12                         /* |disc| at an EP, relative to the cell's largest corner |disc| */
#define QB_POST_EP_SPLIT 1e-6   /* coalescence: splitting / max(1, sqrt(largest corner |disc|)) */
#define QB_POST_EP_OVERLAP 1e-6 /* coalescence: 1 - overlap */

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

/* The groups the passes write. */
typedef enum { QB_POST_BOUNDARY = 0, QB_POST_EP = 1, QB_POST_ADAPTIVE = 2 } qb_post_pass;

/* Everything a group holds but this rank's rows: name, columns (their data point into the
 * pointset given to qb_post_describe), attributes, and the words for its rows in the log. */
typedef struct {
  const char *group, *rows_are; /* "boundary", "crossings" */
  int ncols, nattrs;
  qb_h5_col cols[QB_MAX_AXES + 4];
  qb_h5_attr attrs[6];
  char text[QB_MAX_AXES + 4][256]; /* storage for the strings built here */
} qb_post_group;

/* Describes group `which` for this rank's points `ps`; `rejected` and `evals` are the totals
 * over all ranks (candidates not refined; evaluations of the adaptive pass).  Local. */
void qb_post_describe(const qb_config *c, qb_post_pass which, const qb_pointset *ps,
                      int64_t rejected, int64_t evals, qb_post_group *out);

#endif
