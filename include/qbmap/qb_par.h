/* qb_par: the only module that talks to MPI, through intent-named wrappers on
 * MPI_COMM_WORLD.  Functions marked *collective* must be called by every rank, in the same
 * order; the others are local. */
#ifndef QB_PAR_H
#define QB_PAR_H

#include <stddef.h>
#include <stdint.h>

#include "qbmap/qb_status.h"

/* Collective.  Initializes MPI (MPI_THREAD_SINGLE); errors return as codes, not aborts. */
qb_err qb_par_init(int *argc, char ***argv);
/* Collective. */
void qb_par_finalize(void);

int qb_par_rank(void);    /* local */
int qb_par_size(void);    /* local */
double qb_par_time(void); /* local: wall-clock seconds (MPI_Wtime) */

/* Collective: every rank gets the largest of the ranks' codes (QB_OK only if all are OK). */
qb_err qb_par_agree(qb_err mine);

/* Collective: the single agreement point of the run's error path.  Like qb_par_agree, and when
 * the agreed code is not QB_OK every rank's msg becomes the message of the lowest rank that
 * reported that code (truncated to msgsize), so that rank 0 can print the failing rank's
 * reason.  msg is unchanged when every rank is OK.  msgsize >= 1 on every rank. */
qb_err qb_par_agree_msg(qb_err mine, char *msg, size_t msgsize);

/* Collective: root's string to every rank (allocated with malloc on non-roots; *s may be NULL
 * there).  NULL on root is sent as "no string" and received as NULL. */
qb_err qb_par_bcast_string(char **s, int root);

/* Collective: root's n bytes to every rank. */
void qb_par_bcast_bytes(void *buf, int64_t n, int root);

/* Collective: root's int to every rank. */
void qb_par_bcast_int(int *v, int root);

/* Collective: *offset = sum of `mine` over lower ranks, *total = sum over all ranks. */
void qb_par_exscan(int64_t mine, int64_t *offset, int64_t *total);

/* Collective: the concatenation, in rank order, of every rank's n records of `width` int64
 * (mine may be NULL when n = 0); *all is malloc'ed (NULL if the total is 0). */
qb_err qb_par_allgather_i64(const int64_t *mine, int64_t n, int width, int64_t **all,
                            int64_t *total);

/* Collective: the largest of the ranks' values, on every rank. */
double qb_par_max(double mine);

/* Local: this process's peak resident set size in MiB (getrusage). */
double qb_par_peak_rss_mib(void);

/* Collective: barrier. */
void qb_par_barrier(void);

/* Local: library version string of the MPI implementation (callable before init). */
const char *qb_par_library_version(void);

/* Local, does not return: prints "qbmap: rank R: file:line: message" and aborts every rank.
 * The single way a run ends on an error that the ranks could not agree on collectively. */
_Noreturn void qb_par_abort(const char *file, int line, const char *fmt, ...);

#define QB_PAR_ABORT(...) qb_par_abort(__FILE__, __LINE__, __VA_ARGS__)

#endif
