/* The kernel alone on a 2-D (parameter x t) map, one core: bench_rows_kernel CONFIG [NROWS].
 * Evaluates NROWS (default 5) whole rows of CONFIG's grid (rows = indices of the first axis,
 * evenly spaced over it; every point of the last axis in order, as the sweep does) with the
 * config's fields, and prints ns/point: what remains of qbmap's time per point without MPI,
 * HDF5 and the sweep's bookkeeping.  Needs a config with exactly two axes. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The whole file as a string (caller frees); NULL on error. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *s = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (s = malloc((size_t)n + 1)) != NULL) {
      if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s = (free(s), NULL);
      else
        s[n] = '\0';
    }
  }
  fclose(f);
  return s;
}

int main(int argc, char **argv) {
  char msg[1024], *text = argc >= 2 ? slurp(argv[1]) : NULL;
  int nrows = argc >= 3 ? atoi(argv[2]) : 5;
  qb_config cfg;
  if (!text || nrows < 1) {
    fprintf(stderr, "usage: bench_rows_kernel CONFIG [NROWS >= 1]\n");
    return 2;
  }
  if (qb_config_parse(text, argv[1], NULL, 0, &cfg, msg, sizeof msg) != QB_OK) {
    fprintf(stderr, "bench_rows_kernel: %s\n", msg);
    return 1;
  }
  const qb_grid *g = &cfg.grid;
  const qb_model *m = cfg.model;
  if (g->ndim != 2) {
    fprintf(stderr, "bench_rows_kernel: %s has %d axes, needs 2\n", argv[1], g->ndim);
    return 1;
  }
  bool want[QB_MAX_FIELDS] = {false};
  for (int k = 0; k < cfg.nfields; k++)
    want[cfg.fields[k]] = true;
  enum { CHUNK = 1024 }; /* as the sweep: pieces of rows, one qb_model_eval_row call each */
  static double rows[CHUNK * QB_MAX_FIELDS];
  double p[QB_MAX_PARAMS], sum = 0;
  memcpy(p, cfg.fixed, sizeof p);
  const qb_axis *row = &g->axes[0], *col = &g->axes[1];
  double t0 = now();
  for (int r = 0; r < nrows; r++) {
    p[row->param] = row->values[nrows > 1 ? (row->n - 1) * r / (nrows - 1) : 0];
    for (int64_t j = 0; j < col->n; j += CHUNK) {
      const int n = (int)(col->n - j < CHUNK ? col->n - j : CHUNK);
      qb_model_eval_row(m, p, col->param, col->values + j, n, want, rows);
      for (int i = 0; i < n; i++)
        sum += rows[i * m->nfields + cfg.fields[0]]; /* keeps the calls observable */
    }
  }
  double ns = (now() - t0) / ((double)nrows * (double)col->n) * 1e9;
  printf("kernel alone (%s, %d rows of %s x %lld %s, fields as configured, one core): %.1f "
         "ns/point (checksum %.6g)\n",
         m->name, nrows, row->name, (long long)col->n, col->name, ns, sum);
  qb_config_free(&cfg);
  free(text);
  return 0;
}
