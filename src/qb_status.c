#include "qbmap/qb_status.h"

#include <stdio.h>
#include <string.h>

const char *qb_err_str(qb_err e) {
  switch (e) {
#define QB_X(code, exitc, msg)                                                                     \
  case code:                                                                                       \
    return msg;
    QB_ERR_LIST(QB_X)
#undef QB_X
  default:
    return "unknown error";
  }
}

int qb_err_exit_code(qb_err e) {
  switch (e) {
#define QB_X(code, exitc, msg)                                                                     \
  case code:                                                                                       \
    return exitc;
    QB_ERR_LIST(QB_X)
#undef QB_X
  default:
    return 1;
  }
}

char *qb_pt_status_words(uint32_t status, char *buf, size_t size) {
  size_t used = 0;
  if (size == 0) return buf;
  buf[0] = '\0';
  if (status == 0) {
    snprintf(buf, size, "ok");
    return buf;
  }
#define QB_X(name, bit, msg)                                                                       \
  if ((status & (1u << (bit))) && used < size) {                                                   \
    int n = snprintf(buf + used, size - used, "%s[bit %d] %s", used ? "; " : "", bit, msg);        \
    used += n > 0 ? (size_t)n : 0;                                                                 \
  }
  QB_PT_LIST(QB_X)
#undef QB_X
  return buf;
}
