#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "qbmap/qb_hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qbmap/qb_par.h"

void qb_hook_stall(const char *phase) {
  const char *v = getenv("QBMAP_TEST_STALL");
  if (qb_par_rank() != 0 || !v || strcmp(v, phase) != 0) return;
  printf("qbmap: test stall: %s\n", phase);
  fflush(stdout);
  sleep(3);
}

/* The entry after the one at p in a comma-separated list, or NULL. */
static const char *next_entry(const char *p) {
  const char *comma = strchr(p, ',');
  return comma ? comma + 1 : NULL;
}

bool qb_hook_flag(const char *word) {
  size_t n = strlen(word);
  for (const char *p = getenv("QBMAP_TEST_FAULT"); p && *p; p = next_entry(p))
    if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0')) return true;
  return false;
}

bool qb_hook_fault(const char *point) {
  static struct {
    char name[16];
    int count;
  } seen[16];
  const char *v = getenv("QBMAP_TEST_FAULT");
  if (!v) return false;
  int slot = -1;
  for (int i = 0; i < 16 && slot < 0; i++)
    if (!seen[i].name[0] || strcmp(seen[i].name, point) == 0) slot = i;
  if (slot < 0) return false;
  snprintf(seen[slot].name, sizeof seen[slot].name, "%s", point);
  int count = ++seen[slot].count;
  size_t n = strlen(point);
  for (const char *p = v; p && *p; p = next_entry(p)) {
    int rank = -1, nth = 1;
    if (strncmp(p, point, n) == 0 && p[n] == '@' && sscanf(p + n + 1, "%d:%d", &rank, &nth) >= 1 &&
        rank == qb_par_rank() && nth == count)
      return true;
  }
  return false;
}

void qb_hook_gate(const char *phase, bool (*stopped)(void)) {
  const char *v = getenv("QBMAP_TEST_GATE");
  size_t n = strlen(phase);
  if (!v || strncmp(v, phase, n) != 0 || v[n] != ':') return;
  struct timespec ts = {0, 20000000};
  for (int i = 0; i < 3000 && !stopped() && access(v + n + 1, F_OK) != 0; i++)
    nanosleep(&ts, NULL);
}
