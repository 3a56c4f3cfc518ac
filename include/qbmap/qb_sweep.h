/* qb_sweep: the driver.  Deals blocks of the grid to ranks in rounds, evaluates them with the
 * model's pure kernel and writes them collectively into the pre-built HDF5 file. */
#ifndef QB_SWEEP_H
#define QB_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "qbmap/qb_config.h"
#include "qbmap/qb_status.h"

typedef struct {
  const char *output;
  int force;
  int resume;                   /* continue the interrupted run that wrote `output` */
  int64_t block_target;         /* points per block, about (whole rows of the last axis) */
  double progress_s;            /* seconds between progress lines (rank 0, stdout) */
  double flush_s;               /* seconds between flushes that commit done flags */
  const char *provenance[8][2]; /* root attributes {name, value}, NULL-ended */
} qb_sweep_opts;

/* Local: SIGTERM, SIGUSR1 and SIGINT only set a flag from now on (call before MPI starts, so
 * that an early signal cannot kill a rank). */
void qb_sweep_install_signals(void);

/* Local: whether one of those signals has arrived (main checks it before the sweep starts). */
bool qb_sweep_stop_requested(void);

/* Collective.  cfg must be identical on every rank.  Returns the status agreed by all ranks;
 * on error rank 0's msg says why.  SIGTERM, SIGUSR1 and SIGINT make every rank finish its
 * current round, commit the finished blocks and return QB_ECHECKPOINT (exit code 3). */
qb_err qb_sweep_run(const qb_config *cfg, const qb_sweep_opts *o, char *msg, size_t msgsize);

#endif
