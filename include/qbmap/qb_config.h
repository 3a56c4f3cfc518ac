/* qb_config: a sweep specification from YAML text (libcyaml schema) plus `--set name=value`
 * overrides, fully validated.  Every error message names the key, the value, what is allowed
 * and the YAML line:column.  Not collective: each rank may parse the same text and gets the
 * same result. */
#ifndef QB_CONFIG_H
#define QB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "qbmap/qb_grid.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_status.h"

/* Post-pass `boundaries`: crossings of `field` through `level` between neighbours along grid
 * axis `axis`, refined on the kernel. */
typedef struct {
  bool on;
  int field;
  double level;
  int axis;
} qb_boundary_spec;

/* Post-pass `eps`: exceptional points in the plane of grid axes (ax, ay), every slice of the
 * other axes. */
typedef struct {
  bool on;
  int ax, ay;
} qb_ep_spec;

typedef struct {
  const qb_model *model;
  bool own_model;        /* model network: the instance built from the config, freed with it */
  const qb_model *base;  /* the model below the wrappers (a built-in one or the network) */
  const qb_model *optim; /* the optimize wrapper (qb_optim; the top one), or NULL */
  /* The expressions wrapper (qb_bind.h) where the config has `symbols:` or a parameter given by
   * an expression (fixed or --set), owned; NULL otherwise (then nothing differs from a config
   * without them).  Its parameter indices are the model's. */
  const qb_model *bind;
  qb_grid grid;
  double fixed[QB_MAX_PARAMS]; /* every non-axis parameter: fixed value, default or NaN */
  bool given[QB_MAX_PARAMS];   /* on an axis or in fixed/--set */
  int nfields;
  int fields[QB_MAX_FIELDS]; /* selected field indices, in model order; `status` always */
  char output[4096];         /* from the config's `output` ("" if absent) */
  qb_boundary_spec boundaries;
  qb_ep_spec eps;
  int adaptive_depth; /* mode: adaptive with max_depth (1..10); 0 = mode: grid */
  char *text;         /* the config text as given (owned) */
  char *normalized;   /* normalized YAML: every value explicit (owned) */

  /* the figures-of-merit wrapper (qb_merit) in model's stack, or NULL; owned, freed with it */
  const qb_model *merit;
} qb_config;

/* Parses and validates.  `source` names the text in messages (file name).  sets[i] are
 * "name=value" overrides of parameters not on an axis.  On error returns QB_ECONFIG, writes
 * one message to msg and leaves cfg freed. */
qb_err qb_config_parse(const char *text, const char *source, char *const *sets, int nsets,
                       qb_config *cfg, char *msg, size_t msgsize);

/* The same without requiring every parameter to have a value: the base of `point --config FILE`,
 * whose command line gives the rest (qb_config_parse_point checks then). */
qb_err qb_config_parse_base(const char *text, const char *source, qb_config *cfg, char *msg,
                            size_t msgsize);

/* Parses one `name=value` for model m into p/given, validating the name and the value. */
qb_err qb_config_parse_assignment(const qb_model *m, const char *arg, double *p, bool *given,
                                  char *msg, size_t msgsize);

/* The arguments of `qbmap point`: argv[0] the model, then name=value, each parameter at most
 * once; every required parameter given.  Fills *m and p[] (defaults where not given).  With a
 * parsed config `base` (`--config FILE`; NULL: none) the model is base's (argv[0] must name it)
 * and its fixed values are the starting values; its axes' parameters come from argv.  Model
 * network needs base.  A value may be an expression (qb_bind.h) over parameters and the
 * config's symbols: where one is, or base has expressions, *bound is a new expressions wrapper
 * (NULL otherwise; set even on error) and *m is the top of base's wrappers rebuilt over it in
 * the config's order (qb_merit_rebase, qb_optim_rebase: the same stack as the sweep's, so the
 * point is bitwise the sweep's); the caller frees them with qb_config_point_free.  p and *m's
 * table use *m's indices (optimize removes its parameter); slots of parameters given by
 * expressions are NaN in p. */
qb_err qb_config_parse_point(int argc, char *const *argv, const qb_config *base, const qb_model **m,
                             const qb_model **bound, double *p, char *msg, size_t msgsize);

/* The parameters `qbmap point` shows: p with the values given by expressions evaluated
 * (qb_bind_resolve; with optimize, at the optimum out[<param>_opt], out being m's fields at p);
 * p itself where bound is NULL.  shown[m->nparams]. */
void qb_config_point_shown(const qb_model *m, const qb_model *bound, const double *p,
                           const double *out, double *shown);

/* Frees what qb_config_parse_point built: the expressions wrapper `bound` (may be NULL) and the
 * wrappers m over it (figures of merit, optimize) where the config has them. */
void qb_config_point_free(const qb_model *m, const qb_model *bound);

/* The whole text `s` as a finite decimal number (sign, digits, optional point and exponent;
 * no hex, octal, underscores, spaces, inf or nan): true and *v, or false. */
bool qb_config_parse_number(const char *s, double *v);

void qb_config_free(qb_config *cfg);

/* The embedded default: the EP paper's Fig. 3 phase maps (model ep). */
extern const char qb_config_default_text[];

#endif
