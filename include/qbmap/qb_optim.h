/* qb_optim: per-point optimization (the config's `optimize:` section), a wrapper model.
 *
 * The instance wraps a base model (any model: built-in, network, or another wrapper) and
 * removes one of its parameters, `param`: at every point it finds the value of param in
 * [lo, hi] that maximizes (or minimizes) one QB_F64 field of the base, the objective, at the
 * other parameters, then evaluates every base field there.  Its fields are the base's fields in
 * their order, then `<param>_opt` (the optimizer; `<param>_at_opt` where the base already has a
 * field `<param>_opt`, e.g. shared's Delta_opt), then `status`: the base's bits passed through
 * plus the two below.  The name, boundary field and row axis are the base's (the row axis
 * mapped to the wrapper's parameter order; none where it is param).
 *
 * Algorithm (docs/physics.md "Per-point optimization"; H = objective, or minus it for minimize):
 *  1. scan: H at `scan` equally spaced points lo = x_0 < ... < x_{scan-1} = hi (default
 *     QB_OPTIM_SCAN);
 *  2. candidates: the scan's local maxima (H_i > H_{i-1} and H_i >= H_{i+1}; a missing or NaN
 *     neighbour counts as lower), the QB_OPTIM_CANDIDATES largest;
 *  3. each refined on its bracket [x_{i-1}, x_{i+1}] by GSL Brent (gsl_min_fminimizer_brent)
 *     to QB_OPTIM_XTOL relative (absolute floor QB_OPTIM_XTOL times the scan step near 0),
 *     then polished as the root of the central-difference derivative (gsl_root_fsolver_brent,
 *     the same tolerance): values of H alone locate a maximum only to ~sqrt(eps) relative.  A
 *     candidate at the range's edge, or one whose right neighbour has the same H (a peak
 *     symmetric about the cell's midpoint, or a plateau), is refined on its one cell if the
 *     cell's midpoint is higher than both ends; else it stays where it is (edge; plateau);
 *  4. the optimum is the refined candidate with the largest H; where others reach it within
 *     QB_OPTIM_TIE relative (not unique, below) the one with the largest x among them (as
 *     shared's closed-form Delta_opt takes +|Delta| where +-Delta tie).
 * Status (the two bits this module owns, both informational):
 *  - QB_PT_OPT_EDGE (18): the optimum is lo or hi: the objective may grow beyond the range;
 *  - QB_PT_OPT_NOT_UNIQUE (19): another refined candidate at least one scan step away, or a
 *    plateau (two equal scan values next to each other), reaches the optimum's H within
 *    QB_OPTIM_TIE relative: the optimizer is one of several.
 * Failure: where the objective is NaN at every scan point, on the best candidate's bracket or
 * at the optimum, every field is NaN (int32 fields -1) and the status is the base's bits from
 * the evaluations that gave NaN (why the objective is undefined there, e.g. not_stable).  A
 * lower candidate whose bracket meets NaN is skipped.
 * Rows: where the objective does not depend on the base's row axis (its qb_field row_const, and
 * the row axis is not param) the optimum is found once per row, at the row axis' default (the
 * first point's value where it has none), and the row is one base row call there.
 * EPs (the `eps:` post-pass): where the base has a discriminant and coalescence, the wrapper's
 * are the base's at (p, x*(p)), x*(p) the optimum at p found as above: the exceptional points
 * of the system at its optimal `param` (NaN where the optimum fails).  Contract: x*(p), hence
 * the discriminant, is continuous in p where the optimum is unique and the objective's maximum
 * is non-degenerate (then x*(p) is smooth inside the range, and pinned to lo or hi at the edge:
 * still continuous); it jumps where the global optimum switches between two separated local
 * optima (opt_not_unique along that line) and is not defined on plateaus.  A jump can give a
 * cell a winding number without a zero: the refinement then fails and the candidate is counted
 * as rejected, never reported; an EP near such a line may be missed.  The optimizer's tolerance
 * (QB_OPTIM_XTOL) enters the discriminant: a candidate whose |disc| cannot reach the pass's
 * residual for that reason is rejected too.  Every evaluation of disc is one optimization.
 * Not collective; an instance is read-only while it evaluates (its base's own rules apply:
 * network's expressions, one instance per thread). */
#ifndef QB_OPTIM_H
#define QB_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "qbmap/qb_model.h"

#define QB_OPTIM_SCAN 64       /* default scan size */
#define QB_OPTIM_SCAN_MIN 3    /* allowed scan sizes */
#define QB_OPTIM_SCAN_MAX 1024 /* (the scan lives on the stack) */
#define QB_OPTIM_CANDIDATES 4  /* local maxima of the scan refined */
#define QB_OPTIM_XTOL 1e-10    /* relative tolerance on the optimizer */
#define QB_OPTIM_TIE 1e-9      /* relative: another optimum this close is "not unique" */
#define QB_OPTIM_ITER 100      /* iteration cap of each Brent stage */

enum { QB_PT_OPT_EDGE = 1u << 18, QB_PT_OPT_NOT_UNIQUE = 1u << 19 };

#define QB_OPTIM_NBITS 40 /* status bits an instance can declare (base's + numerics + 2) */

typedef struct qb_optim {
  const qb_model *base;
  bool own_base; /* freed with the instance */
  int param;     /* the base's index of the optimized parameter */
  int field;     /* the base's index of the objective */
  double sign;   /* +1 maximize, -1 minimize */
  double lo, hi; /* the range */
  int scan;
  bool per_row; /* the objective is row_const and the row axis is not param */
  int f_opt;    /* the wrapper's index of <param>_opt */
  qb_param params[QB_MAX_PARAMS];
  qb_field fields[QB_MAX_FIELDS];
  qb_pt_bit bits[QB_OPTIM_NBITS];
  char text[6][512]; /* names and docs the tables point to */
  qb_model model;    /* the instance: its ctx is this struct */
} qb_optim;

/* The optimization's specification (from the config's `optimize:` section). */
typedef struct {
  const char *param; /* a parameter of the base */
  const char *field; /* a QB_F64 field of the base other than status */
  bool maximize;
  double lo, hi; /* lo < hi, each a valid value of param */
  int scan;      /* QB_OPTIM_SCAN_MIN..QB_OPTIM_SCAN_MAX */
} qb_optim_spec;

/* Builds the wrapper over base (owned, freed with the instance, if own_base).  On error returns
 * QB_ECONFIG (QB_ENOMEM) with one sentence in msg naming what is wrong and what is allowed
 * (which spec member: the caller adds the location), leaves base alone and sets *m = NULL.
 * *which is set to the offending member: "param", "field", "range" or "scan". */
qb_err qb_optim_new(const qb_model *base, bool own_base, const qb_optim_spec *spec,
                    const qb_model **m, const char **which, char *msg, size_t size);

/* True if m is an instance built by qb_optim_new (or qb_optim_rebase). */
bool qb_optim_is(const qb_model *m);

/* The model the instance m wraps. */
const qb_model *qb_optim_base(const qb_model *m);

/* A new wrapper like m (its spec: param, objective, range, scan) over another base with the same
 * parameters and fields, not owning it (`qbmap point --config`: the point's expressions wrapper,
 * or the figures of merit over it, in place of the config's); freed with qb_model_free.  Errors
 * as qb_optim_new (msg names the spec member). */
qb_err qb_optim_rebase(const qb_model *m, const qb_model *base, const qb_model **out, char *msg,
                       size_t size);

/* The base's parameter vector q[base->nparams] of the wrapper's point p, the optimized parameter
 * at the optimum out[<param>_opt] (out: the wrapper's fields at p; NaN where it failed).  Returns
 * the base's index of the optimized parameter. */
int qb_optim_base_point(const qb_model *m, const double *p, const double *out, double *q);

/* The instance's spec as the normalized config writes it: "{param: P, maximize: F, range: [lo,
 * hi], scan: n}" (%.17g). */
void qb_optim_describe(const qb_model *m, char *buf, size_t size);

/* The base's fields all depend on its row axis after all (an expression below the wrapper
 * depends on t: qb_bind_row_reuse false): optimize at every point, no field row_const.  Before
 * the instance evaluates. */
void qb_optim_row_dependent(const qb_model *m);

/* The base's parameter table changed after the wrapper was built (the expressions wrapper below
 * it marks the parameters given by expressions when it finishes): copies it again.  Before the
 * instance evaluates. */
void qb_optim_refresh_params(const qb_model *m);

#endif
