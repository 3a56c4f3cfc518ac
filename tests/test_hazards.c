/* Numerical hazards: random points over wide ranges for every model (rates and magnitudes
 * log-uniform over 1e-9..1e3, some exactly 0; detunings +-1e-9..1e3; phases +-10; t up to 1e4,
 * some exactly 0): no crash, every NaN in a field is explained by a status bit allowed for that
 * field, and infinities only where the overflow bit says so.  Prints the counts.
 * Usage: test_hazards [POINTS_PER_MODEL [MODEL [SEED]]] (default 1e5, every model;
 * bench/hazards.sh runs 1e7 per model) */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qb_test.h"
#include "qbmap/qb_model.h"

/* Status bits that may explain a NaN (or inf) in a field of a model. */
static uint32_t allowed(const char *model, const char *f) {
  uint32_t any = QB_PT_BAD_PARAM | QB_PT_NUMERICS;
  if (!strcmp(f, "E_A_ss") || !strcmp(f, "E_B_ss") || !strcmp(f, "xi_ss"))
    return any | QB_PT_NOT_STABLE;
  if (!strcmp(model, "ep")) {
    if (!strcmp(f, "t_crit")) return any | QB_PT_TCRIT_NEVER | QB_PT_TCRIT_FAILED;
    if (!strcmp(f, "t_crit_approx")) return any | QB_PT_APPROX_OUTSIDE;
    return any;
  }
  if (!strcmp(model, "threemode")) {
    if (!strcmp(f, "growth_rate") || !strcmp(f, "E_A") || !strcmp(f, "E_B") ||
        !strcmp(f, "log_E_B"))
      return any;
    if (!strcmp(f, "E_B_ss_red") || !strcmp(f, "elimination_error"))
      return any | QB_PT_NO_REDUCTION | QB_PT_RED_NOT_STABLE | QB_PT_NOT_STABLE;
    return any | QB_PT_NO_REDUCTION;
  }
  if (!strcmp(f, "E_A") || !strcmp(f, "E_B") || !strcmp(f, "P_B") || !strcmp(f, "growth_rate"))
    return any;
  return any | QB_PT_NO_OPTIMUM;
}

static double draw(gsl_rng *r, const qb_param *p) {
  double u = gsl_rng_uniform(r), mag = pow(10.0, -9.0 + 12.0 * gsl_rng_uniform(r));
  if (!strcmp(p->name, "t")) return u < 0.05 ? 0.0 : pow(10.0, -9.0 + 13.0 * gsl_rng_uniform(r));
  if (strstr(p->name, "phase") || !strcmp(p->name, "phi")) return -10 + 20 * u;
  if (p->range == QB_POSITIVE) return mag;
  if (p->range == QB_NONNEG) return u < 0.1 ? 0.0 : mag;
  return u < 0.05 ? 0.0 : (u < 0.525 ? -mag : mag);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  long n = argc > 1 ? (long)atof(argv[1]) : 100000;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, argc > 3 ? strtoul(argv[3], NULL, 10) : 31337);
  for (int mi = 0; qb_models[mi]; mi++) {
    const qb_model *m = qb_models[mi];
    if (argc > 2 && strcmp(argv[2], m->name)) continue;
    long nan_total = 0, unexplained = 0, infs = 0, bad_inf = 0, nan_points = 0;
    long per_field[QB_MAX_FIELDS] = {0};
    clock_t c0 = clock();
    uint32_t allow[QB_MAX_FIELDS];
    for (int k = 0; k < m->nfields; k++)
      allow[k] = allowed(m->name, m->fields[k].name);
    for (long i = 0; i < n; i++) {
      double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
      bool given[QB_MAX_PARAMS];
      qb_model_defaults(m, p, given);
      for (int k = 0; k < m->nparams; k++)
        if (strcmp(m->params[k].name, "gamma_a")) p[k] = draw(r, &m->params[k]);
      m->eval(p, NULL, out);
      uint32_t st = (uint32_t)out[m->nfields - 1];
      int any = 0;
      for (int k = 0; k < m->nfields - 1; k++) {
        if (isnan(out[k])) {
          nan_total++, per_field[k]++, any = 1;
          if (!(st & allow[k])) {
            if (unexplained++ < 5)
              printf("unexplained NaN in %s.%s (status %u) at point %ld\n", m->name,
                     m->fields[k].name, st, i);
          }
        } else if (isinf(out[k]) && strcmp(m->fields[k].name, "log_E_B")) {
          infs++;
          if (!(st & QB_PT_OVERFLOW) && bad_inf++ < 5)
            printf("inf without the overflow bit in %s.%s at point %ld\n", m->name,
                   m->fields[k].name, i);
        }
      }
      nan_points += any;
    }
    printf("hazards: model %s: %ld points in %.1f s CPU, %ld with a NaN field (%ld NaN values, "
           "%ld unexplained), %ld infinities (%ld without the overflow bit)\n",
           m->name, n, (double)(clock() - c0) / CLOCKS_PER_SEC, nan_points, nan_total, unexplained,
           infs, bad_inf);
    for (int k = 0; k < m->nfields - 1; k++)
      if (per_field[k]) printf("    %-20s NaN at %ld points\n", m->fields[k].name, per_field[k]);
    CHECK("every NaN explained by its status", unexplained == 0, "model %s", m->name);
    CHECK("every infinity flagged as overflow", bad_inf == 0, "model %s", m->name);
  }
  gsl_rng_free(r);
  return qb_test_report("hazards");
}
