/* Minimal test harness: tolerance checks per quantity, failures printed with %.17g, a closing
 * line "N passed, N failed" and the exit code.  Header-only, for the C tests. */
#ifndef QB_TEST_H
#define QB_TEST_H

#include <math.h>
#include <stdio.h>

static long qb_test_pass, qb_test_fail;

/* |x - ref| <= rtol |ref| + atol, NaN and Inf handled first (equal only to themselves). */
static inline int qb_close(double x, double ref, double rtol, double atol) {
  if (isnan(ref) || isnan(x)) return isnan(ref) && isnan(x);
  if (isinf(ref) || isinf(x)) return x == ref;
  return fabs(x - ref) <= rtol * fabs(ref) + atol;
}

#define CHECK_CLOSE(what, x, ref, rtol, atol, ...)                                                 \
  do {                                                                                             \
    double qb_x_ = (x), qb_r_ = (ref);                                                             \
    if (qb_close(qb_x_, qb_r_, rtol, atol))                                                        \
      qb_test_pass++;                                                                              \
    else {                                                                                         \
      qb_test_fail++;                                                                              \
      if (qb_test_fail <= 40) {                                                                    \
        printf("FAIL %s: got %.17g, expected %.17g (rtol %g, atol %g) at ", what, qb_x_, qb_r_,    \
               (double)(rtol), (double)(atol));                                                    \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
      }                                                                                            \
    }                                                                                              \
  } while (0)

#define CHECK(what, cond, ...)                                                                     \
  do {                                                                                             \
    if (cond)                                                                                      \
      qb_test_pass++;                                                                              \
    else {                                                                                         \
      qb_test_fail++;                                                                              \
      if (qb_test_fail <= 40) {                                                                    \
        printf("FAIL %s at ", what);                                                               \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
      }                                                                                            \
    }                                                                                              \
  } while (0)

static inline int qb_test_report(const char *name) {
  printf("%s: %ld passed, %ld failed\n", name, qb_test_pass, qb_test_fail);
  return qb_test_fail ? 1 : 0;
}

#endif
