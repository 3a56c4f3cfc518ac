#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

/* as in qbmap's main: GSL reports failures as codes (the kernels turn them into NaN + status) */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  gsl_set_error_handler_off();
  return 0;
}

char *qb_fuzz_text(const uint8_t *data, size_t size, size_t max) {
  if (size > max) return NULL;
  char *text = malloc(size + 1);
  if (!text) return NULL;
  memcpy(text, data, size);
  text[size] = '\0';
  return text;
}
