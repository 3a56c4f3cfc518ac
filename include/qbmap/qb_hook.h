/* qb_hook: the test hooks.  Environment variables that only the test scripts set; without them
 * (every production run) each hook does nothing.  Their names and syntax are an interface of
 * the tests:
 *
 *   QBMAP_TEST_STALL=PHASE (tests/resume.sh, tests/bad_inputs.sh): rank 0 announces
 *     "qbmap: test stall: PHASE" on stdout and sleeps 3 s at PHASE (a signal ends the sleep
 *     early), so that a test can kill or signal the run inside it.  Phases: parsed (every rank
 *     holds the config, the sweep has not started), create (the skeleton is being built: only
 *     PATH.partial exists), postpass (a post-pass group is being filled), final (the final
 *     attributes are being written).
 *
 *   QBMAP_TEST_FAULT=ENTRY[,ENTRY]... (tests/io_faults.sh): an ENTRY POINT@RANK[:N] makes the
 *     N-th pass (default: the first) of rank RANK through POINT fail (see qb_hook_fault); the
 *     points are qb_h5's (open, write, fill, flush, done, finish, group, mkgroup, complete) and
 *     die (rank 0 kills itself with SIGKILL while creating a post-pass group).  An ENTRY that
 *     is a word is a flag: nospacecheck (skip the free-space checks), noreserve (skip
 *     fallocate), nolock (do not take the output's lock).
 *
 *   QBMAP_TEST_GATE=PHASE:PATH (tests/io_faults.sh, tests/slurm.sh): every rank waits at PHASE
 *     until PATH exists or a stop signal arrived, at most 60 s, so that a test can act at a
 *     known point of a run without depending on timing.  Phases: round (before the second
 *     round of the sweep), post (before the post-passes), complete (before the final
 *     attributes). */
#ifndef QB_HOOK_H
#define QB_HOOK_H

#include <stdbool.h>

/* Local (acts on rank 0 only): the QBMAP_TEST_STALL hook at `phase`. */
void qb_hook_stall(const char *phase);

/* Local: whether QBMAP_TEST_FAULT holds the entry POINT@RANK[:N] for this rank and this pass:
 * every call counts one pass of this process through `point` (up to 16 distinct points). */
bool qb_hook_fault(const char *point);

/* Local: whether QBMAP_TEST_FAULT holds the flag `word` exactly. */
bool qb_hook_flag(const char *word);

/* Local: the QBMAP_TEST_GATE hook at `phase`; stopped() tells whether a stop signal arrived. */
void qb_hook_gate(const char *phase, bool (*stopped)(void));

#endif
