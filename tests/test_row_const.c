/* qb_field's row_const flag against the kernels, for every field of every model: each example
 * config (the examples directory: all three built-in models and several networks), 200 random
 * points of its grid, each evaluated at two values of the row axis t (t1 = 0.7 and t2 = 3.1 in the
 * model's time unit; t = 0 when the grid's own t is 0 elsewhere) with qb_model_eval.
 *   row_const fields: bitwise equal at t1 and t2 at every point (NaN equals NaN);
 *   the other QB_F64 fields: differ at some point of some config of that model (a field flagged
 *   dependent that never depends is a missed speed-up, and a sign the flag is wrong);
 *   status: never row_const (its time bits).
 * Usage: test_row_const (no argument). */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_model.h"

#define NPTS 200

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static bool same(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Per model name and field name: whether a dependent field was seen to differ. */
static char seen_name[256][96];
static bool seen_diff[256], seen_dep[256];
static int nseen;

static int slot(const char *model, const char *field) {
  char key[96];
  snprintf(key, sizeof key, "%s.%s", model, field);
  for (int i = 0; i < nseen; i++)
    if (strcmp(seen_name[i], key) == 0) return i;
  if (nseen == 256) QB_SETUP_FATAL("too many fields");
  snprintf(seen_name[nseen], sizeof seen_name[nseen], "%s", key);
  return nseen++;
}

/* One config: NPTS random grid points at t1, t2. */
static void check_config(const qb_config *cfg, const char *file) {
  const qb_model *m = cfg->model;
  const int nf = m->nfields;
  CHECK("status not row_const", !m->fields[nf - 1].row_const, "%s", file);
  for (int k = 0; k < NPTS; k++) {
    double p[QB_MAX_PARAMS], a[QB_MAX_FIELDS], b[QB_MAX_FIELDS];
    memcpy(p, cfg->fixed, sizeof p);
    for (int d = 0; d < cfg->grid.ndim; d++) {
      const qb_axis *ax = &cfg->grid.axes[d];
      p[ax->param] = ax->values[next() % (uint64_t)ax->n];
    }
    p[m->row_axis] = 0.7;
    qb_model_eval(m, p, NULL, a);
    p[m->row_axis] = 3.1;
    qb_model_eval(m, p, NULL, b);
    for (int f = 0; f < nf - 1; f++) {
      if (m->fields[f].row_const) {
        CHECK("row_const field bitwise the same at two t", same(a[f], b[f]),
              "%s: %s.%s = %.17g at t = 0.7, %.17g at t = 3.1", file, m->name, m->fields[f].name,
              a[f], b[f]);
      } else if (m->fields[f].dtype == QB_F64) {
        const int s = slot(m->name, m->fields[f].name);
        seen_dep[s] = true;
        seen_diff[s] |= !same(a[f], b[f]);
      }
    }
  }
}

static void load_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) QB_SETUP_FATAL("cannot open %s", dir);
  struct dirent *e;
  int nconf = 0;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0) continue;
    char path[1024], msg[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) QB_SETUP_FATAL("cannot open %s", path);
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    qb_config cfg;
    if (qb_config_parse(text, path, NULL, 0, &cfg, msg, sizeof msg)) {
      QB_SETUP_FAIL("%s", msg);
      continue;
    }
    if (cfg.model->eval_row) check_config(&cfg, e->d_name), nconf++;
    qb_config_free(&cfg);
  }
  closedir(d);
  CHECK("configs checked", nconf >= 10, "%d configs", nconf);
}

int main(int argc, char **argv) {
  qb_test_no_args(argc, argv, "row_const");
  load_dir(QB_EXAMPLES);
  for (int i = 0; i < nseen; i++)
    CHECK("a field flagged t-dependent differs at some point", seen_diff[i], "%s", seen_name[i]);
  return qb_test_report("row_const");
}
