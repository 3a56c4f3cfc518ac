/* Shared by the libFuzzer harnesses (fuzz_*.c, each linked with fuzz_common.c): libFuzzer's
 * entry points, which every harness defines (LLVMFuzzerInitialize is fuzz_common.c's), and the
 * input as a C string. */
#ifndef QB_FUZZ_COMMON_H
#define QB_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The size bytes of data as a NUL-terminated string in malloc'ed memory (the caller frees it);
 * NULL when size exceeds max or malloc fails: the harness then skips the input. */
char *qb_fuzz_text(const uint8_t *data, size_t size, size_t max);

#endif
