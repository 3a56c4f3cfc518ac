/* qb_model: the table of models.  A model is a pure function from a parameter vector to a
 * vector of fields, described well enough that the CLI, the config parser, the HDF5 writer and
 * the analysis scripts need no model-specific code.  Not collective; thread-safe. */
#ifndef QB_MODEL_H
#define QB_MODEL_H

#include <complex.h>
#ifndef CMPLX /* C11's CMPLX: glibc defines it for GCC only; clang has the builtin */
#define CMPLX(x, y) __builtin_complex((double)(x), (double)(y))
#endif
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "qbmap/qb_status.h"

#define QB_MAX_PARAMS 32
#define QB_MAX_FIELDS 64

typedef enum { QB_F64 = 0, QB_I32 = 1 } qb_dtype;

/* Parameter constraints checked for every value the user gives (fixed, axis or point). */
typedef enum { QB_ANY = 0, QB_NONNEG = 1, QB_POSITIVE = 2 } qb_range;

/* Verified ranges.  Every parameter value must be finite, satisfy its qb_range and lie inside
 * its magnitude window: |v| <= max (max > 0) and, for QB_POSITIVE parameters, v >= min (min > 0).
 * The windows are where the kernels were verified (bench/hazards.sh: random points over the
 * whole window, magnitudes log-uniform down to 1e-300 and exactly at the bounds, against
 * 50-digit references, and tests/test_hazards.c, tests/test_extremes.c): inside them every
 * field is correct to its stated tolerance or NaN with a status bit saying why.  What limits
 * them: ep's closed forms square |alpha + i delta_r| (w^2 = 1 + z^2) and the exponents
 * growth * t must stay far below 1e308 (3e12 * 1e250); shared/threemode are evaluated scale
 * free, their bounds keep the drift entries Gamma |p|^2 (<= 1e12) and the discriminants (~|M|^6)
 * in range; E_max E_r^2 must stay in range for t_crit.  Accuracy does not degrade towards the
 * bounds: where a quantity is not resolvable (phases of order 1/eps at huge t, stiff or
 * near-singular drifts) the status bits QB_PT_T_UNRESOLVED / QB_PT_ILL_CONDITIONED say so.
 * The same check runs for config values, `qbmap point` arguments and (as QB_PT_BAD_PARAM)
 * inside every kernel: */
#define QB_RATE_MAX 1e6     /* rates, detunings, couplings J: |v| <= 1e6 */
#define QB_EP_RATE_MAX 1e12 /* model ep (dimensionless, in Gamma_eff): |v| <= 1e12 */
#define QB_COUPLING_MAX 1e3 /* dimensionless reservoir couplings p_*: |p| <= 1e3 */
#define QB_DRIVE_MIN 1e-100 /* model ep's drive E_r and threshold E_max: 1e-100 <= v <= 1e100 */
#define QB_DRIVE_MAX 1e100  /* (t_crit compares E_B with E_max E_r^2) */
#define QB_AMP_MIN 1e-300   /* drives E (threemode), F (shared): 1e-300 <= v <= 1e300 */
#define QB_AMP_MAX 1e300
#define QB_T_MAX 1e250 /* time: 0 <= t <= 1e250 */

typedef struct {
  const char *name;
  double def; /* default; NaN = no default (required, or one of a group) */
  qb_range range;
  bool alternative;      /* one of a group of which exactly one must be given (see check_given) */
  const char *units;     /* CF units string, "1" when dimensionless */
  const char *long_name; /* a short label (the file's long_name: axis labels in plots) */
  const char *doc;       /* the full meaning with usage rules and range (`qbmap models`; the
                          * file's `description`) */
  double max;            /* |v| <= max; 0: no bound beyond finiteness */
  double min;            /* QB_POSITIVE only: v >= min; 0: no bound beyond v > 0 */
} qb_param;

typedef struct {
  const char *name;
  qb_dtype dtype; /* QB_I32 fields are exact integers stored in the double result vector */
  const char *units;
  const char *long_name; /* a short label (the file's long_name: axis labels in plots) */
  const char *doc;       /* the full definition (`qbmap models`; the file's `description`) */
  /* true: the field is bitwise the same at every value of the model's row_axis parameter (t),
   * the others fixed (a steady state, a rate, t_crit); false (the default, and `status`): it may
   * depend on it.  Lets a wrapper (qb_optim) that needs only such fields compute them once per
   * row; tests/test_row_const.c checks every field of every model. */
  bool row_const;
} qb_field;

typedef struct qb_model {
  const char *name;
  const char *doc;
  int nparams;
  const qb_param *params;
  int nfields;
  const qb_field *fields; /* the last field is always `status` (QB_I32 bitmask of qb_pt_*) */
  int boundary_field;     /* QB_F64 field whose zero the boundary pass refines by default */
  /* Every status bit eval may set, in increasing bit order (QB_PT_BAD_PARAM always): what
   * `qbmap models` lists, `qbmap point` decodes with and the file's flag_masks/flag_meanings
   * hold.  A bit eval sets that is not declared here is a bug (tests/test_hazards.c). */
  int nstatus;
  const qb_pt_bit *status_bits;
  /* Checks which parameters are given (given[i]) for combinations the model forbids or needs,
   * beyond "every required parameter is given" (checked generically).  Writes one sentence
   * naming the parameters into msg on error; NULL if there are no such rules.  m: the
   * instance (a wrapper maps given[] onto its base's parameters). */
  qb_err (*check_given)(const struct qb_model *m, const bool *given, char *msg, size_t size);
  /* Pure kernel: p[nparams] (NaN for parameters not given) -> out[nfields].  No I/O, no state
   * beyond the instance m (its ctx).  Called through qb_model_eval, which has already filled out
   * (every QB_F64 field NaN, every QB_I32 field -1) and checked p against the verified ranges
   * (qb_model_params_valid; QB_PT_BAD_PARAM otherwise, without calling eval): eval writes the
   * fields it computes and the status (the last field).  want[nfields] (NULL: all) lets it skip
   * costly fields; unwanted fields are left NaN and set no status bits.  A point's values depend
   * on p (and want) only: bitwise reproducible.  QB_I32 fields are always finite integers in
   * int32 range (-1 where a code is undefined), so they can be stored without a cast hazard.
   * NULL where the row kernel serves single points too (a row of one along row_axis). */
  void (*eval)(const struct qb_model *m, const double *p, const bool *want, double *out);
  /* Row kernel along parameter row_axis (NULL: none; then eval is required): the n points p
   * with p[row_axis] = x[j], into out[j * nfields + f]; row 0 arrives prepared like eval's out,
   * the others undefined.  Contract: every row is bitwise what a row of one gives at that point,
   * so results do not depend on where a row is cut (block sizes, ranks) or whether a point is
   * evaluated alone (`qbmap point`, the post-passes); a model gains speed by computing once per
   * row what does not depend on p[row_axis] (the drift's decomposition along t).  Called only
   * with every value valid; rows along other axes go point by point (qb_model_eval_points). */
  void (*eval_row)(const struct qb_model *m, const double *p, const double *x, int n,
                   const bool *want, double *out);
  int row_axis; /* the parameter eval_row runs along */
  /* Discriminant of the drift's characteristic polynomial at p (zero where two eigenvalues
   * coalesce); NULL if the model has none.  Pure. */
  double complex (*disc)(const struct qb_model *m, const double *p);
  /* At p: the smallest distance between two eigenvalues of the drift and the overlap
   * |<u|v>|/(|u||v|) of their eigenvectors (1 at an EP).  NULL with disc.  Pure. */
  void (*coalescence)(const struct qb_model *m, const double *p, double *splitting,
                      double *overlap);
  /* The instance's data, built once (e.g. from the config) and read-only while evaluating; NULL
   * for the built-in models, whose tables are static. */
  const void *ctx;
  /* Frees an instance built at run time (network, the wrappers: it frees the base it owns too);
   * NULL for the built-in models.  Called through qb_model_free. */
  void (*free)(const struct qb_model *m);
} qb_model;

/* Frees an instance through its `free` (NULL, or a model without one: nothing). */
void qb_model_free(const qb_model *m);

/* NULL-terminated list of all models. */
extern const qb_model *const qb_models[];

const qb_model *qb_model_find(const char *name);
int qb_model_param_index(const qb_model *m, const char *name); /* -1 if unknown */
int qb_model_field_index(const qb_model *m, const char *name); /* -1 if unknown */

/* The union of the model's declared status bits; the mask of the bit declared with `word`
 * (0 if none). */
uint32_t qb_model_status_mask(const qb_model *m);
uint32_t qb_model_status_bit(const qb_model *m, const char *word);

/* The union of the model's declared bits of kind QB_PT_FAILURE (qb_status.h): a point with
 * (status & failure mask) == 0 has every number right; its other bits are informational. */
uint32_t qb_model_failure_mask(const qb_model *m);

/* Validates one value of parameter i: finite, in range and inside its verified magnitude window.
 * Writes the reason into msg ("parameter 'X' = V ...; allowed: ..."). */
qb_err qb_model_check_value(const qb_model *m, int i, double v, char *msg, size_t size);

/* The same check for a whole parameter vector as a kernel sees it (NaN allowed only for
 * parameters that are one of a group, i.e. not given): true if every value is valid.  For use
 * inside the kernels; params[n] is the model's table. */
bool qb_model_params_valid(const qb_param *params, int n, const double *p);

/* Fills p[] with defaults (NaN where none) and given[] with false. */
void qb_model_defaults(const qb_model *m, double *p, bool *given);

/* Checks that every required parameter (NaN default, not an alternative) is given and that the
 * model's combination rules hold. */
qb_err qb_model_check_given(const qb_model *m, const bool *given, char *msg, size_t size);

/* Comma-separated list of parameter or field names, for error messages. */
void qb_model_param_names(const qb_model *m, char *buf, size_t size);
void qb_model_field_names(const qb_model *m, char *buf, size_t size);

/* What the kernels (src/models/) share.  Stability: stable where growth_rate is below
 * -QB_TOL_GROWTH times the drift's scale (each model states its scale).  Accuracy guard: a
 * field whose estimated relative error exceeds QB_EST_MAX is NaN with a status bit (the stated
 * tolerance is 1e-6: the estimates are first order, so a factor 100 is kept); an energy may
 * also carry QB_ABS_MAX of the total energy (qb_model_energy_ok). */
#define QB_TOL_GROWTH 1e-12
#define QB_EST_MAX 1e-8
#define QB_ABS_MAX 1e-12

/* A parameter's verified range as its doc states it, from the bounds above: "; |value| <= 1e6",
 * "; value <= 1e6", "; 1e-300 <= value <= 1e300". */
#define QB_XSTR(x) QB_STR(x)
#define QB_STR(x) #x
#define QB_DOC_ABS_LE(max) "; |value| <= " QB_XSTR(max)
#define QB_DOC_LE(max) "; value <= " QB_XSTR(max)
#define QB_DOC_IN(min, max) "; " QB_XSTR(min) " <= value <= " QB_XSTR(max)

/* |z|^2 (overflows where |z| > ~1e154; callers that care scale first). */
static inline double qb_model_abs2(double complex z) {
  return creal(z) * creal(z) + cimag(z) * cimag(z);
}

/* |z| without hypot's cost where the squares cannot over- or underflow (hypot elsewhere); NaN
 * if a part is NaN. */
static inline double qb_model_mag(double complex z) {
  const double a = fabs(creal(z)), b = fabs(cimag(z)), m = a > b ? a : b;
  if (m > 0x1p-500 && m < 0x1p500) return sqrt(a * a + b * b);
  return hypot(a, b);
}

/* Whether field k is asked for (want NULL: every field). */
static inline bool qb_model_wants(const bool *want, int k) {
  return !want || want[k];
}

/* A row along any axis, point by point (row 0 prepared, copied to the others first; each point
 * through eval, or the row kernel with a row of one). */
void qb_model_eval_points(const qb_model *m, const double *p, int axis, const double *x, int n,
                          const bool *want, double *out);

/* Evaluates the model at p into out[nfields]: out prepared (QB_F64 NaN, QB_I32 -1), p checked
 * against the verified ranges (QB_PT_BAD_PARAM as the status, every other field NaN/-1, if a
 * value is outside them), then the kernel (eval, or the row kernel with a row of one).  What
 * every caller uses (never the kernels directly). */
void qb_model_eval(const qb_model *m, const double *p, const bool *want, double *out);

/* The row of n points p with p[axis] = x[j] into out[j * nfields + f]: bitwise the same as n
 * calls of qb_model_eval (m->eval_row along the model's row_axis where every value is valid,
 * else point by point).  p[axis] is ignored (and left unchanged). */
void qb_model_eval_row(const qb_model *m, const double *p, int axis, const double *x, int n,
                       const bool *want, double *out);

/* |x|_2 of k amplitudes without overflow; NaN if one is NaN. */
double qb_model_norm_amp(const double complex *x, int k);

/* An energy |x|^2 with absolute error e on its amplitude |x| is reported if its error is below
 * QB_EST_MAX of itself plus QB_ABS_MAX of the total energy n^2 (n: the amplitudes' 2-norm,
 * qb_model_norm_amp; compared in amplitudes, so nothing overflows).  An infinite x with a
 * finite error is reported (the energy is inf). */
bool qb_model_energy_ok(double x, double e, double n);

/* The power-of-2 exponent k by which a scale-free kernel divides its rates so that the drift's
 * largest entry `scale` lies in [2^-30, 2^30] (0 where it does or scale is 0): exact, and
 * nothing then under- or overflows before the energies themselves. */
int qb_model_scale_exponent(double scale);

/* An extreme drive: where the drive *d (d0, the drive as given, after the rates' 2^-k scaling)
 * is outside [2^-500, 2^500], the kernel computes at 2^-dk *d instead and scales every energy
 * (~d^2) back by 2^(2 dk) at the end (exact where they stay in range).  Returns dk (0: *d is in
 * range and left as it is) and sets *d to the drive to compute with. */
int qb_model_drive_exponent(double d0, int k, double *d);

/* The end of such a kernel: the energies out[fields[0..n-1]] scaled back by 2^(2 dk) (dk from
 * qb_model_drive_exponent; exact where they stay in range). */
void qb_model_scale_energies(double *out, const int *fields, int n, int dk);

/* |x|^2 of an amplitude computed at the drive scaled by 2^-dk, scaled back by 2^(2 dk) as
 * qb_model_scale_energies does; where |x|^2 itself overflows (a tiny drive scaled up, an
 * undamped mode at huge t) the amplitude is scaled first: the true energy may be in range. */
double qb_model_energy_back(double complex x, int dk);

/* The per-amplitude choice of the transients (docs/physics.md §6.4): takes each of the two
 * amplitudes of y (estimates ey) that x still lacks (have[i] false) where it is resolved to
 * QB_EST_MAX / 2 of itself, 2 (ey_i + fl) <= QB_EST_MAX |y_i|, or always (force). */
static inline void qb_model_take_resolved(const double complex *y, const double *ey, double fl,
                                          bool force, bool *have, double complex *x, double *ex) {
  for (int i = 0; i < 2; i++)
    if (!have[i] && (force || 2.0 * (ey[i] + fl) <= QB_EST_MAX * qb_model_mag(y[i])))
      x[i] = y[i], ex[i] = ey[i], have[i] = true;
}

/* n eps (|y_0| + |y_1|) (|.| as |Re| + |Im|): the normwise floor on an eigendecomposition's
 * componentwise estimates of the two amplitudes (§6.4: what deflation can lose entirely). */
static inline double qb_model_amp_floor(int n, const double complex *y) {
  return n * 0x1p-52 * /* DBL_EPSILON */
         (fabs(creal(y[0])) + fabs(cimag(y[0])) + fabs(creal(y[1])) + fabs(cimag(y[1])));
}

/* t 2^k (the time in a kernel's scaled units) with f = ldexp(1, k) computed once per row:
 * ldexp(t, k)'s value (both are the correctly rounded t 2^k where 2^k is a normal double). */
static inline double qb_model_scale_time(double t, int k, double f) {
  return k >= -1022 && k <= 1023 ? t * f : ldexp(t, k);
}

/* QB_PT_OVERFLOW if a field of out[nfields] other than `except` (-1: none) and the status (the
 * last) is infinite, else 0. */
uint32_t qb_model_overflow(const double *out, int nfields, int except);

#endif
