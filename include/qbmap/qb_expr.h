/* qb_expr: user expressions over named symbols (`-delta`, `2*g`, `sqrt(kappa_a*kappa_b)/2`,
 * `p_a^2`, `cos(phi)*J`), as written in YAML configs.  A wrapper of muParser 2.3 (its C API,
 * muParserDLL.h; Debian libmuparser-dev): muParser parses the text once into bytecode, each
 * qb_expr_eval runs that bytecode on the values the caller gives.  Why muParser and not
 * libmatheval (the other packaged C-callable library): muParser reports the error's kind, token
 * and position, which the config's one-line messages need (libmatheval's evaluator_create only
 * returns NULL), and evaluates compiled bytecode from bound values (libmatheval looks every
 * variable up by name on each call).
 *
 * The language (muParser's, restricted; verified by tests/test_expr.c):
 *   numbers     12, 1.5, .5, 5., 1e-3, 2.5E+4 (decimal point '.', whatever the locale);
 *               a literal beyond the double range (1e400) is rejected
 *   names       [A-Za-z_][A-Za-z0-9_]*, case-sensitive; every name that is not a function or
 *               the constant `pi` is a symbol, whose value the caller supplies
 *   constant    pi = M_PI only (muParser's own `_pi`, `_e` are removed: they are symbols here;
 *               write exp(1) for e)
 *   operators   highest first:  ^ (right-associative: 2^3^2 = 2^(3^2) = 512)
 *                               unary - and +  (below ^: -2^2 = -(2^2) = -4, -x^2 = -(x^2);
 *                                               2^-2 = 0.25; `--2` is an error)
 *                               * /   (left-associative)
 *                               + -   (left-associative)
 *                               < > <= >= == !=   (1 if true, 0 if false)
 *                               &&    ||          (nonzero is true; 1 or 0)
 *                               c ? a : b         (ternary, right-associative)
 *               kept on purpose: comparisons with ?: give piecewise values (`x > 0 ? a : b`)
 *   functions   sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp sqrt abs
 *               log10 log2 rint, all libm's (qb_expr defines them: muParser's own asinh,
 *               acosh, atanh, log2 are up to ~20 ulp off, its asinh(-1e8) = -inf);
 *               log = ln = NATURAL logarithm (as in C; NOT log10); rint = C's rint (ties to
 *               even: rint(2.5) = 2); sign (-1, 0, 1; NaN stays NaN); atan2(y, x) and the
 *               variadic min max sum avg (one or more arguments) are muParser's.  Names are
 *               case-sensitive (`Sin` is unknown).  There is no floor, ceil, pow, fmod, erf.
 *               Blanks between a function's name and '(' are allowed (`sin (x)`).
 *   rejected    (QB_ECONFIG, a message and the offending offset; see qb_expr_compile): empty
 *               text, syntax errors, unknown functions, wrong argument counts, several
 *               comma-separated expressions (muParser would evaluate `a, b` as two), the
 *               assignment `=` (muParser would assign; `+=` etc. too), string literals ("..."),
 *               characters outside the language (; $ # % & | ~ ' non-ASCII).
 * The math is IEEE: 1/0 = inf, 0/0 and sqrt(-1) = NaN, no error.  The arithmetic is the C
 * library's: the functions are libm's (same bits as calling them from C), x/3 is a division
 * (no reciprocal); muParser's bytecode computes x^2, x^3, x^4 as the products x*x, x*x*x,
 * x*x*x*x (glibc's pow differs from them in the last bit at some x), every other power with
 * libm's pow (x^-1 = pow(x, -1), not 1/x, which differ at some x).
 *
 * Threads: none of this is thread-safe (muParser's C API returns error texts and names through a
 * static buffer shared by all handles; an expression evaluates through its own slot storage).
 * qbmap is MPI-only, one thread per rank: use each expression from one thread.
 * Determinism: qb_expr_eval gives the same bits for the same text and values, every call, every
 * rank (a fixed bytecode, no reassociation at run time); a text without symbols is evaluated
 * once at compile time.  Cost (measured, tests/test_expr timing): ~10-50 ns per eval for
 * the typical one-line expressions. */
#ifndef QB_EXPR_H
#define QB_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "qbmap/qb_status.h"

#define QB_EXPR_MAX_LEN                                                                            \
  10000 /* longest text qb_expr_compile accepts (muParser allows 20000 but                         \
         * its C API overflows a static buffer reporting longer ones) */

typedef struct qb_expr qb_expr; /* opaque; owns its muParser handle and its slot storage */

/* Compiles text (NUL-terminated, at most QB_EXPR_MAX_LEN characters; longer: QB_ECONFIG).  On
 * success returns QB_OK and *e, to be freed with qb_expr_free; every symbol is bound to slot -1
 * (see qb_expr_bind), *pos = -1 and msg is "".  On a rejected text returns QB_ECONFIG, *e = NULL, a
 * one-sentence reason without trailing period in msg (truncated to size; e.g. "unexpected ')' at
 * position 5", "unknown function 'sqr' at position 0", "assignment '=' is not allowed (compare
 * with '==') at position 2") and *pos = the 0-based byte offset of the offending character in
 * text: the first character of the offending token (of the function's name for unknown functions
 * and wrong argument counts, the unmatched '(' for a missing ')'), strlen(text) for an
 * expression that ends too early; -1 only if no offset is known.  The offset also appears in msg.
 * QB_ENOMEM when out of memory (*e = NULL, msg says so).  msg may be NULL (size 0), pos may be
 * NULL.  Never aborts: muParser's exceptions stay inside its C API. */
qb_err qb_expr_compile(const char *text, qb_expr **e, int *pos, char *msg, size_t size);

/* The number of distinct symbols the text uses (a symbol used twice counts once). */
int qb_expr_nsymbols(const qb_expr *e);

/* Symbol i (0 <= i < qb_expr_nsymbols), in the order of its first appearance in the text
 * (`b + a*b`: b, a); NULL for i out of range.  The string lives as long as e. */
const char *qb_expr_symbol(const qb_expr *e, int i);

/* Binds symbol i to values[slot] of every later qb_expr_eval (slot >= 0; set once after compile,
 * before the first eval).  Out-of-range i is ignored.  A symbol left unbound evaluates as NaN. */
void qb_expr_bind(qb_expr *e, int i, int slot);

/* The value of the expression with symbol i = values[slot_i] (values may be NULL when no symbol
 * is bound).  NaN/inf where the math gives them; NaN if muParser reports an evaluation error
 * (none is known for a compiled text).  No allocation; not thread-safe (see above). */
double qb_expr_eval(qb_expr *e, const double *values);

/* True when the text uses no symbol (its value is qb_expr_eval(e, NULL)). */
bool qb_expr_constant(const qb_expr *e);

/* Frees e and its muParser handle; NULL is fine. */
void qb_expr_free(qb_expr *e);

#endif
