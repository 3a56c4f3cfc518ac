/* Minimal test harness: tolerance checks per quantity, failures printed with %.17g, a closing
 * line "N passed, N failed" and the exit code.  Header-only, for the C tests.
 *
 * Nothing passes by default: a run that made no check fails, a part that made no check fails,
 * an unknown part name (or an extra argument) fails, and setup failures (config parse,
 * allocation, unknown field or parameter name) are counted as failures and printed, always. */
#ifndef QB_TEST_H
#define QB_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long qb_test_pass, qb_test_fail;
static const char *qb_test_name = "test"; /* name on the closing line */
static const char *qb_test_sel;           /* selected part; NULL: the test has no parts */
static int qb_test_matched;               /* parts that matched the selection */
static char qb_test_known[1024];          /* the part names, for the unknown-part message */

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

/* Prints the closing line; 1 if anything failed, if no check was made at all, or if the
 * selected part matched none of the test's parts. */
static inline int qb_test_report(const char *name) {
  if (qb_test_sel && strcmp(qb_test_sel, "all") != 0 && qb_test_matched == 0) {
    qb_test_fail++;
    printf("FAIL unknown part '%s'; allowed: %s all\n", qb_test_sel, qb_test_known);
  }
  if (qb_test_pass + qb_test_fail == 0) {
    qb_test_fail++;
    printf("FAIL no checks were made\n");
  }
  printf("%s: %ld passed, %ld failed\n", name, qb_test_pass, qb_test_fail);
  fflush(stdout);
  return qb_test_fail ? 1 : 0;
}

/* A setup failure (config parse, allocation, file, unknown name): counted and always printed
 * (not subject to the 40-failure print limit). */
#define QB_SETUP_FAIL(...)                                                                         \
  do {                                                                                             \
    qb_test_fail++;                                                                                \
    printf("SETUP FAIL: ");                                                                        \
    printf(__VA_ARGS__);                                                                           \
    printf("\n");                                                                                  \
    fflush(stdout);                                                                                \
  } while (0)

/* A setup failure the test cannot continue after: counted, printed, closing line, exit 1. */
#define QB_SETUP_FATAL(...)                                                                        \
  do {                                                                                             \
    QB_SETUP_FAIL(__VA_ARGS__);                                                                    \
    (void)qb_test_report(qb_test_name);                                                            \
    exit(1);                                                                                       \
  } while (0)

/* A pointer from an allocation that must have succeeded. */
#define QB_SETUP_ALLOC(p)                                                                          \
  do {                                                                                             \
    if (!(p)) QB_SETUP_FATAL("allocation failed: %s (%s:%d)", #p, __FILE__, __LINE__);             \
  } while (0)

/* An index from a name lookup (qb_model_field_index, qb_model_param_index, ...): a negative
 * index is an unknown name, fatal (it would index out of bounds). */
static inline int qb_test_index(int i, const char *kind, const char *name) {
  if (i < 0) QB_SETUP_FATAL("unknown %s '%s'", kind, name);
  return i;
}

/* A test without parts: no argument allowed. */
static inline void qb_test_no_args(int argc, char **argv, const char *name) {
  qb_test_name = name;
  if (argc > 1) QB_SETUP_FAIL("%s takes no argument (got '%s')", name, argv[1]);
}

/* A test with parts: argv[1] names one part or "all" (the default without an argument); the
 * closing line is named after it.  An unknown part fails in qb_test_report; an extra argument
 * fails here. */
static inline const char *qb_test_select(int argc, char **argv) {
  qb_test_sel = argc > 1 ? argv[1] : "all";
  qb_test_name = qb_test_sel;
  if (argc > 2) QB_SETUP_FAIL("one part name expected, got also '%s'", argv[2]);
  return qb_test_sel;
}

static inline int qb_test_part_begin(const char *part) {
  size_t used = strlen(qb_test_known);
  snprintf(qb_test_known + used, sizeof qb_test_known - used, "%s%s", used ? " " : "", part);
  if (!qb_test_sel) QB_SETUP_FATAL("QB_PART(%s) without qb_test_select", part);
  if (strcmp(qb_test_sel, "all") != 0 && strcmp(qb_test_sel, part) != 0) return 0;
  qb_test_matched++;
  return 1;
}

static inline void qb_test_part_end(const char *part, long checks_before) {
  if (qb_test_pass + qb_test_fail == checks_before) {
    qb_test_fail++;
    printf("FAIL part %s made no checks\n", part);
  }
}

/* Runs `call` if `part` is selected; the part must make at least one check. */
#define QB_PART(part, call)                                                                        \
  do {                                                                                             \
    if (qb_test_part_begin(part)) {                                                                \
      long qb_n0_ = qb_test_pass + qb_test_fail;                                                   \
      call;                                                                                        \
      qb_test_part_end(part, qb_n0_);                                                              \
    }                                                                                              \
  } while (0)

#endif
