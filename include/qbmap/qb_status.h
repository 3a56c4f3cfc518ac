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

/* X(name, bit, message).  Per-point status bits; 0 means every field is defined. */
#define QB_PT_LIST(X)                                                                              \
  X(QB_PT_NOT_STABLE, 0, "not stable (growth_rate >= -tol): steady-state fields are NaN")          \
  X(QB_PT_TCRIT_NEVER, 1, "E_B provably never reaches E_max: t_crit is NaN")                       \
  X(QB_PT_TCRIT_FAILED, 2,                                                                         \
    "t_crit undetermined: marginal point (|growth| <= tol) with E_B below E_max unless it grows "  \
    "below the resolution, step limit, or E_B not resolvable in double precision at the crossing " \
    "(estimated error above 1e-6): t_crit is NaN")                                                 \
  X(QB_PT_APPROX_OUTSIDE, 3,                                                                       \
    "Eq. 33 outside its regime (needs alpha = 0, |delta_r| < 1, growth > 0): t_crit_approx "       \
    "is NaN")                                                                                      \
  X(QB_PT_APPROX_UNRELIABLE, 4,                                                                    \
    "Eq. 33 evaluated but unreliable here (E_max <= E_scale or result <= 0)")                      \
  X(QB_PT_OVERFLOW, 5,                                                                             \
    "an energy or power exceeds the double range (E_A, E_B or P_B at this t, or a steady-state "   \
    "or optimum energy): it is inf, quantities derived from infinite energies (differences, "      \
    "ratios) are NaN; log_E_B is finite")                                                          \
  X(QB_PT_BAD_PARAM, 6,                                                                            \
    "a parameter is not finite or outside its verified range (qbmap models): all fields are NaN, " \
    "int32 codes -1")                                                                              \
  X(QB_PT_NO_REDUCTION, 7,                                                                         \
    "no reduced model: the a-b coupling through c vanishes (Gamma, a coupling or K_c is 0): "      \
    "reduced fields are NaN")                                                                      \
  X(QB_PT_RED_NOT_STABLE, 8,                                                                       \
    "reduced model not stable: E_B_ss_red and the steady-state elimination error are NaN")         \
  X(QB_PT_NUMERICS, 9, "a linear-algebra routine (GSL) failed: the fields it feeds are NaN")       \
  X(QB_PT_NO_OPTIMUM, 10,                                                                          \
    "an optimum does not exist here (kappa_a or kappa_b = 0, Gamma = 0, or not stable there): "    \
    "its fields are NaN")                                                                          \
  X(QB_PT_T_UNRESOLVED, 11,                                                                        \
    "time-dependent fields not resolvable in double precision at this t (estimated relative "      \
    "error above 1e-6: phases or exponents of order 1/eps, or a stiff drift far from its steady "  \
    "state): E_A, E_B, P_B, log_E_B, E_B_red, elimination_error_t are NaN")                        \
  X(QB_PT_ILL_CONDITIONED, 12,                                                                     \
    "a steady state is ill-conditioned at this point (estimated relative error above 1e-6: rates " \
    "spanning too many decades), or a relative error of energies below the double range is "       \
    "undefined: the fields it feeds are NaN")

enum {
#define QB_X(name, bit, msg) name = 1u << (bit),
  QB_PT_LIST(QB_X)
#undef QB_X
};

/* Writes the words for every bit set in `status` ("ok" for 0) into buf; returns buf. */
char *qb_pt_status_words(uint32_t status, char *buf, size_t size);

#endif
