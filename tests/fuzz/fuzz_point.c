/* libFuzzer harness: the `qbmap point` argument parser on arbitrary argument lists (the input
 * split at newlines), then the model's kernel on whatever values it accepted: finite values in
 * range must give fields or NaN with a status, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "qbmap/qb_bind.h"
#include "qbmap/qb_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = qb_fuzz_text(data, size, 4096), *argv[64];
  if (!text) return 0;
  int argc = 0;
  for (char *s = text; s && argc < 64;) {
    argv[argc++] = s;
    s = strchr(s, '\n');
    if (s) *s++ = '\0';
  }
  const qb_model *m, *bound = NULL; /* bound: the expressions wrapper, if any */
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  char msg[4096];
  if (qb_config_parse_point(argc, argv, NULL, &m, &bound, p, msg, sizeof msg) == QB_OK)
    qb_model_eval(m, p, NULL, out);
  qb_bind_free(bound);
  free(text);
  return 0;
}
