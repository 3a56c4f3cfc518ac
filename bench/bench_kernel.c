/* Per-point cost of the `ep` kernel on one core, on the default Fig. 3 grid (gamma_b in
 * {0.5, 1, 1.5}, alpha in [-0.75, 1] x 351, delta_r in [-2, 2] x 801, t = 10, E_max = 1000):
 * ns/point for the cheap fields, for exact t_crit alone, and for every field, evaluated as the
 * sweep does (rows of the fastest axis, qb_model_eval_row). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qbmap/qb_model.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The grid's rows along delta_r, one qb_model_eval_row call each (as the sweep evaluates). */
static double run(const qb_model *m, const bool *want, double *checksum) {
  static double rows[801 * QB_MAX_FIELDS];
  double p[QB_MAX_PARAMS], x[801];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(m, p, given);
  int ia = qb_model_param_index(m, "alpha"), ib = qb_model_param_index(m, "gamma_b");
  int id = qb_model_param_index(m, "delta_r"), it = qb_model_param_index(m, "t");
  p[it] = 10;
  for (int j = 0; j < 801; j++)
    x[j] = -2.0 + 4.0 * j / 800.0;
  double gbs[3] = {0.5, 1.0, 1.5}, sum = 0;
  long n = 0;
  double t0 = now();
  for (int g = 0; g < 3; g++)
    for (int i = 0; i < 351; i++) {
      p[ib] = gbs[g];
      p[ia] = -0.75 + 1.75 * i / 350.0;
      qb_model_eval_row(m, p, id, x, 801, want, rows);
      for (int j = 0; j < 801; j++, n++)
        for (int k = 0; k < m->nfields; k++) {
          const double v = rows[j * m->nfields + k];
          if ((!want || want[k]) && v == v && v < 1e300 && v > -1e300) sum += v;
        }
    }
  *checksum = sum;
  return (now() - t0) / (double)n * 1e9;
}

int main(void) {
  const qb_model *m = qb_model_find("ep");
  const char *cheap[] = {"growth_rate",   "splitting",  "E_B_ss",
                         "t_crit_approx", "realizable", "status"};
  bool want[QB_MAX_FIELDS] = {false};
  double cs;
  for (size_t k = 0; k < sizeof cheap / sizeof *cheap; k++)
    want[qb_model_field_index(m, cheap[k])] = true;
  printf("bench_kernel: ep, 843453 points (Fig. 3 grid, t = 10), one core\n");
  printf(
      "  cheap fields (growth_rate, splitting, E_B_ss, t_crit_approx, realizable): %.1f ns/point\n",
      run(m, want, &cs));
  memset(want, 0, sizeof want);
  want[qb_model_field_index(m, "t_crit")] = true;
  printf(
      "  exact t_crit alone:                                                     %.1f ns/point\n",
      run(m, want, &cs));
  printf("  transient at t (E_A, E_B, log_E_B, P_B):                                ");
  memset(want, 0, sizeof want);
  want[qb_model_field_index(m, "E_B")] = want[qb_model_field_index(m, "E_A")] = true;
  printf("%.1f ns/point\n", run(m, want, &cs));
  printf(
      "  every field:                                                            %.1f ns/point\n",
      run(m, NULL, &cs));
  return 0;
}
