/* qb_status: run-level error codes and per-point status flags.
 *
 * Run errors (qb_err) end a command: they are returned up the call chain and turned into one
 * message and a non-zero exit code by main.  Point status (qb_pt_*) is data: a bitmask stored
 * per grid point in the output's `status` dataset; each set bit names one reason a field is NaN,
 * infinite or only approximately meaningful.  Bits are stable: analysis scripts decode them. */
#ifndef QB_STATUS_H
#define QB_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* X(code, exit code, message) */
#define QB_ERR_LIST(X)                                                                             \
  X(QB_OK, 0, "success")                                                                           \
  X(QB_EUSAGE, 2, "usage error")                                                                   \
  X(QB_ECONFIG, 2, "invalid configuration")                                                        \
  X(QB_EEXIST, 2, "output exists (use --force to overwrite)")                                      \
  X(QB_EIO, 1, "I/O error")                                                                        \
  X(QB_EH5, 1, "HDF5 error")                                                                       \
  X(QB_EMPI, 1, "MPI error")                                                                       \
  X(QB_ENOMEM, 1, "out of memory")                                                                 \
  X(QB_EINTERNAL, 1, "internal error")                                                             \
  X(QB_ECHECKPOINT, 3, "checkpointed, not finished: run again with --resume")

typedef enum {
#define QB_X(code, exitc, msg) code,
  QB_ERR_LIST(QB_X)
#undef QB_X
      QB_ERR_COUNT
} qb_err;

const char *qb_err_str(qb_err e);
int qb_err_exit_code(qb_err e);

/* Per-point status bits.  Each model declares the bits its kernel may set (qb_model's
 * status_bits: number, flag_meanings word, meaning); the CLI, the point decoder and the HDF5
 * writer list and decode with that declaration only.  The bits below mean the same in every
 * model and are declared here once, with a text that names no model's fields (a model may give
 * one a text of its own that does).  A model's own bits use numbers not listed here (in use:
 * 1-4 ep (1-2 also network, with the same words and kinds), 7-8 and 13 threemode, 10 shared, 14
 * network; a new bit here takes one no model uses).  Bit 15, bad_expression, is set only by the
 * expressions wrapper (qb_bind.h) over any model; its kind is QB_PT_INFO: the point lies outside
 * the domain of the user's parametrization (the design card marks with it the points where a
 * derived rate is negative, i.e. no passive realization exists), a property of the question
 * asked, not a computation that failed; every field there is NaN, none is wrong.  The other
 * wrappers own theirs: 16-17 the figures of merit (qb_merit.h), 18-19 optimize (qb_optim.h),
 * declared there and set only by them.  The numbers
 * are stored data (analysis scripts, files already written): never renumber a bit.
 *
 * Every bit has a kind (qb_pt_kind).  QB_PT_INFO, informational: the physics leaves a field
 * undefined here (NaN) or a construction the model offers (an approximation, a mapping to
 * another model) does not apply here; every field that is a number is exactly what its
 * definition says.  QB_PT_FAILURE: something failed or is not trustworthy (a bad parameter, a
 * value beyond the double range, a linear-algebra failure, a value not resolvable to the stated
 * accuracy).  So (status & failure_mask) == 0 (qb_model_failure_mask; the file's `failure_mask`
 * attribute on `status`) selects the points whose numbers can all be used.
 * X(name, bit, flag_meanings word, kind, message); 0 means every field is defined. */
#define QB_PT_LIST(X)                                                                              \
  X(QB_PT_NOT_STABLE, 0, "not_stable", QB_PT_INFO,                                                 \
    "not stable (growth_rate >= -tol): steady-state fields are NaN")                               \
  X(QB_PT_OVERFLOW, 5, "overflow", QB_PT_FAILURE,                                                  \
    "a field exceeds the double range: it is inf, quantities derived from infinite values "        \
    "(differences, ratios) are NaN")                                                               \
  X(QB_PT_BAD_PARAM, 6, "bad_param", QB_PT_FAILURE,                                                \
    "a parameter is not finite or outside its verified range (qbmap models): all fields are NaN, " \
    "int32 codes -1")                                                                              \
  X(QB_PT_NUMERICS, 9, "numerics", QB_PT_FAILURE,                                                  \
    "a linear-algebra routine (GSL) failed: the fields it feeds are NaN")                          \
  X(QB_PT_T_UNRESOLVED, 11, "t_unresolved", QB_PT_FAILURE,                                         \
    QB_PT_T_UNRESOLVED_WHY ": they are NaN")                                                       \
  X(QB_PT_ILL_CONDITIONED, 12, "ill_conditioned", QB_PT_FAILURE,                                   \
    "a steady state is ill-conditioned at this point (estimated relative error above 1e-6: rates " \
    "spanning too many decades): the fields it feeds are NaN")                                     \
  X(QB_PT_BAD_EXPRESSION, 15, "bad_expression", QB_PT_INFO,                                        \
    "a parameter given by an expression is not finite or outside its verified range at this "      \
    "point (qbmap models; e.g. a derived rate < 0, a division by zero): all fields are NaN, "      \
    "int32 "                                                                                       \
    "codes -1")

/* The reason of QB_PT_T_UNRESOLVED, for models that name the fields it makes NaN. */
#define QB_PT_T_UNRESOLVED_WHY                                                                     \
  "time-dependent fields not resolvable in double precision at this t (estimated relative "        \
  "error above 1e-6: phases or exponents of order 1/eps, or a stiff drift far from its steady "    \
  "state)"

/* The kind of a status bit (see above); 0 in a declaration: qb_status's (QB_PT_LIST bits). */
typedef enum { QB_PT_KIND_DEFAULT = 0, QB_PT_INFO = 1, QB_PT_FAILURE = 2 } qb_pt_kind;

enum {
#define QB_X(name, bit, word, kind, msg) name = 1u << (bit),
  QB_PT_LIST(QB_X)
#undef QB_X
};

/* One status bit as a model declares it: a bit of QB_PT_LIST leaves word NULL (qb_status's),
 * doc NULL (qb_status's text) or its own text, and kind QB_PT_KIND_DEFAULT (qb_status's); any
 * other bit gives all three. */
typedef struct {
  uint32_t mask;    /* exactly one bit */
  const char *word; /* its flag_meanings word: [a-z0-9_], unique within the model */
  const char *doc;
  qb_pt_kind kind;
} qb_pt_bit;

/* The bit's number (0..31), word, meaning and kind, qb_status's where the declaration leaves
 * them NULL (QB_PT_KIND_DEFAULT); word and doc are NULL, the kind QB_PT_KIND_DEFAULT, for a bit
 * neither declares. */
int qb_pt_bit_number(const qb_pt_bit *b);
const char *qb_pt_bit_word(const qb_pt_bit *b);
const char *qb_pt_bit_doc(const qb_pt_bit *b);
qb_pt_kind qb_pt_bit_kind(const qb_pt_bit *b);

/* The kind's word in the file's `flag_kinds` attribute: "info", "failure" ("undeclared" for
 * QB_PT_KIND_DEFAULT). */
const char *qb_pt_kind_word(qb_pt_kind k);

/* The union of the bits of kind QB_PT_FAILURE among bits[nbits]. */
uint32_t qb_pt_failure_mask(const qb_pt_bit *bits, int nbits);

/* Writes "[bit N] meaning" for every bit set in `status` into buf, "; "-separated, decoded with
 * bits[nbits] (a model's declaration; a set bit it does not declare: "[bit N] undeclared"); "ok"
 * for 0.  Returns buf. */
char *qb_pt_status_words(const qb_pt_bit *bits, int nbits, uint32_t status, char *buf, size_t size);

#endif
