/* libFuzzer harness: the config parser (libcyaml schema + validation + normalization) on
 * arbitrary bytes.  It must return an error or a config, never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "qbmap/qb_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = qb_fuzz_text(data, size, 1 << 16);
  if (!text) return 0;
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
        qb_model_eval(cfg.model, p, NULL, out);
      }
    }
    qb_config_free(&cfg);
  }
  free(text);
  return 0;
}
