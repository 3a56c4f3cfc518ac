/* libFuzzer harness: the config parser (libcyaml schema + validation + normalization) on
 * arbitrary bytes.  It must return an error or a config, never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "qbmap/qb_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* as in qbmap's main: GSL reports failures as codes (the kernels turn them into NaN + status) */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  gsl_set_error_handler_off();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  qb_config cfg;
  char msg[4096];
  if (qb_config_parse(text, "fuzz", NULL, 0, &cfg, msg, sizeof msg) == QB_OK) {
    /* a tiny grid also goes through the kernel once per point */
    if (cfg.grid.npoints <= 64) {
      double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
      int64_t idx[QB_MAX_AXES];
      for (int64_t k = 0; k < cfg.grid.npoints; k++) {
        memcpy(p, cfg.fixed, sizeof p);
        qb_grid_unflatten(&cfg.grid, k, idx);
        for (int d = 0; d < cfg.grid.ndim; d++)
          p[cfg.grid.axes[d].param] = cfg.grid.axes[d].values[idx[d]];
        cfg.model->eval(p, NULL, out);
      }
    }
    qb_config_free(&cfg);
  }
  free(text);
  return 0;
}
