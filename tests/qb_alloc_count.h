/* Counting malloc, calloc and realloc in a test executable (they forward to glibc's), so that a
 * test can check that a code path allocates nothing: set `counting`, run it, read `nalloc`.
 * Calls from shared libraries (LAPACK, muParser, libstdc++) count too.  Off under
 * AddressSanitizer, which owns malloc (QB_SANITIZED: the library is sanitized, the test perhaps
 * not); then QB_COUNT_ALLOC is 0 and the tests skip their allocation checks.  Header-only, for
 * one test file each. */
#ifndef QB_ALLOC_COUNT_H
#define QB_ALLOC_COUNT_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__) || defined(QB_SANITIZED)
#define QB_COUNT_ALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QB_COUNT_ALLOC 0
#endif
#endif
#ifndef QB_COUNT_ALLOC
#define QB_COUNT_ALLOC 1
#endif

static volatile int counting;
static volatile long nalloc;
#if QB_COUNT_ALLOC
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *malloc(size_t);
void *calloc(size_t, size_t);
void *realloc(void *, size_t);
void *malloc(size_t size) {
  if (counting) nalloc++;
  return __libc_malloc(size);
}
void *calloc(size_t m, size_t size) {
  if (counting) nalloc++;
  return __libc_calloc(m, size);
}
void *realloc(void *p, size_t size) {
  if (counting) nalloc++;
  return __libc_realloc(p, size);
}
#endif

#endif
