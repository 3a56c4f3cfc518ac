/* qb_h5: the only module that includes <hdf5.h>.  Output files are netCDF-4/CF compatible:
 * axes are dimension scales (coordinates), one N-D dataset per field, `status`, a per-block
 * `done` mask over a `block` dimension, and root attributes describing the run.
 *
 * Life cycle: rank 0 alone takes the output's lock (qb_h5_lock), decides from what exists at
 * the output path how the run starts (qb_h5_prepare), builds the complete skeleton
 * (qb_h5_create, not collective; the HL dimension-scale API is serial only) or checks an
 * interrupted run's file (qb_h5_inspect); then every rank opens it with MPI-IO (qb_h5_open,
 * collective) and writes hyperslabs collectively.  Datasets are contiguous and allocated at
 * creation, so the file's structure never changes while data is written; a block's done flag
 * is written only after its data has been flushed on every rank.  The process ends through
 * qb_h5_exit.
 *
 * Errors: every function returns a qb_err and writes into msg where and why it failed:
 * "src/qb_h5.c:LINE: H5Dwrite: <HDF5's own messages, outermost and innermost>[: <system error>]"
 * for library failures, or a sentence for refused paths and files.  The functions marked
 * collective make every collective HDF5 call on every rank in the same order whatever fails
 * locally (a failed rank goes on with empty selections), agree on the outcome through
 * qb_par_agree_msg before each step that depends on it, and return the agreed status with the
 * failing rank's message on every rank.  So a failure on one rank can never leave the others
 * waiting in a collective.
 *
 * Ownership: a file is only ever written by the run that created it or adopted it with
 * qb_h5_inspect.  Its identity (qb_h5_token: device, inode and the `run_id` attribute) is
 * checked at every reopen by name; a file replaced or moved meanwhile is left untouched and
 * the run fails (QB_EIO). */
#ifndef QB_H5_H
#define QB_H5_H

#include <stdbool.h>
#include <stdint.h>

#include "qbmap/qb_config.h"
#include "qbmap/qb_status.h"

typedef struct qb_h5 qb_h5;

/* The largest block count a run accepts: the done mask and the pending list (9 bytes per block)
 * are held on every rank. */
#define QB_H5_MAX_BLOCKS ((int64_t)1 << 24)

/* Identity of an output file: broadcast from rank 0 to every rank (plain bytes). */
typedef struct {
  uint64_t dev, ino;
  char run_id[40]; /* 32 hex digits, NUL-terminated */
} qb_h5_token;

/* Not collective (rank 0 only).  Takes the run's lock on `path`: the file `path.lock` (created
 * if missing, never through a symbolic link) locked with flock(LOCK_EX | LOCK_NB) and holding
 * "pid host".  A lock held by another process is an error naming its holder; the lock is
 * held until qb_h5_unlock (or the process ends).  *fd is -1 when the file system does not
 * support flock (then only the owner token protects the file).  A held lock is QB_EEXIST. */
qb_err qb_h5_lock(const char *path, int *fd, char *msg, size_t msgsize);

/* Not collective.  Removes `path.lock` and releases the lock (fd < 0: nothing). */
void qb_h5_unlock(const char *path, int *fd);

/* How a run starts on its output (qb_h5_prepare). */
typedef enum {
  QB_H5_CREATE,  /* build a new skeleton (qb_h5_create) */
  QB_H5_REBUILD, /* --resume of a run killed while building its skeleton: build it anew */
  QB_H5_ADOPT    /* --resume: continue into the interrupted run's file (qb_h5_inspect) */
} qb_h5_start;

/* Not collective (rank 0 only, holding the lock).  The rules for what may exist at `path` and
 * at `path.partial` (the name of a skeleton being built: a run killed meanwhile leaves it),
 * looked at with lstat (links are not followed): only regular files are ever replaced or
 * removed, an existing output only with force (qb_h5_create then replaces it), an existing
 * `path.partial` only with force or resume (removed here).  With resume, an existing output
 * is adopted as it is, else a `path.partial` must exist.  Sets *how; the refusals name what is
 * there and what is allowed (QB_EEXIST; QB_ECONFIG: nothing to resume; QB_EIO: the removal
 * failed). */
qb_err qb_h5_prepare(const char *path, bool force, bool resume, qb_h5_start *how, char *msg,
                     size_t msgsize);

typedef struct {
  const char *path;
  const qb_config *cfg;
  int nranks;
  int64_t block_points, nblocks;
  const char *provenance[8][2]; /* extra root string attributes: {name, value}, NULL-ended */
  const char *groups[4];        /* empty groups to create for the post-passes, NULL-ended */
} qb_h5_meta;

/* Not collective (rank 0 only, holding the lock).  Checks the file-size limit and the free
 * space the whole file needs, then builds the skeleton as `path.partial` (created exclusively:
 * an existing name, symbolic link or not, is an error), reserves its blocks on the file system
 * where fallocate() works (so that a full disk cannot stop the sweep half way), and renames it
 * to `path`: a file at `path` always has a complete skeleton.  The caller has checked what
 * exists at `path` and `path.partial` (qb_h5_prepare).  Leaves no file behind on failure.
 * Fills *tok. */
qb_err qb_h5_create(const qb_h5_meta *meta, qb_h5_token *tok, char *msg, size_t msgsize);

/* What a resumed run needs from an existing output. */
typedef struct {
  int64_t block_points, nblocks;
  int complete;
  uint8_t *done; /* nblocks flags (malloc'ed) */
} qb_h5_state;

/* Not collective (rank 0 only, holding the lock).  Opens an existing output and checks that it
 * was written by qbmap for exactly this configuration (model, normalized config) and that every
 * dataset the run writes is there as this config's run created it: every axis (shape, type,
 * the coordinates bit for bit), every field and `status` (shape, type, contiguous and
 * allocated), `done` and `block`; reads its done mask.  Errors (QB_ECONFIG) name the path, the
 * dataset and what is wrong.  First rolls back a post-pass that died under its undo journal
 * (`path.undo`).  An older file without a `run_id` gets one.  Fills *tok. */
qb_err qb_h5_inspect(const char *path, const qb_config *cfg, qb_h5_state *st, qb_h5_token *tok,
                     char *msg, size_t msgsize);

/* Collective.  Opens the skeleton with the MPI-IO driver for writing, after checking that
 * `path` is still the file of *tok. */
qb_err qb_h5_open(const char *path, const qb_config *cfg, const qb_h5_token *tok, qb_h5 **h,
                  char *msg, size_t msgsize);

/* Collective.  Writes flat points [lo, hi) of every selected field (lo == hi: nothing, the
 * rank still takes part).  bufs[k] holds hi - lo values of cfg->fields[k], as double for
 * QB_F64 fields and int32_t for QB_I32 fields.  Returns the agreed status. */
qb_err qb_h5_write_block(qb_h5 *h, int64_t lo, int64_t hi, void *const *bufs, char *msg,
                         size_t msgsize);

/* Collective.  Writes NaN into flat points [lo, hi) of every float64 field (the `_FillValue`
 * of unfinished blocks; integer fields are left as they are).  Returns the agreed status. */
qb_err qb_h5_fill_block(qb_h5 *h, int64_t lo, int64_t hi, char *msg, size_t msgsize);

/* Collective.  Flushes everything written so far to the file system.  Returns the agreed
 * status: only after QB_OK may blocks written so far be marked done. */
qb_err qb_h5_flush(qb_h5 *h, char *msg, size_t msgsize);

/* Collective.  Writes the done mask: rank 0 passes all nblocks flags, the other ranks NULL.
 * Returns the agreed status. */
qb_err qb_h5_write_done(qb_h5 *h, const uint8_t *done, int64_t nblocks, char *msg, size_t msgsize);

/* Collective.  Flushes and closes the grid's datasets; *h becomes NULL.  Agreed status. */
qb_err qb_h5_finish(qb_h5 **h, char *msg, size_t msgsize);

/* Collective.  Closes without marking complete (error paths).  NULL-safe. */
void qb_h5_close(qb_h5 **h);

/* A column of a point list (group /boundary, /ep): one 1-D dataset over the group's `point`
 * dimension. */
typedef enum { QB_COL_F64 = 0, QB_COL_I32 = 1, QB_COL_I64 = 2 } qb_coltype;
typedef struct {
  const char *name;
  qb_coltype type;
  const char *units, *long_name;
  const void *data; /* this rank's rows (may be NULL when it has none) */
} qb_h5_col;

/* An attribute of a post-pass group: a string (value), or a number stored as a numeric
 * attribute (float64 or int64; value NULL).  qb_h5_attr_str/_f64/_i64 build them. */
typedef enum { QB_ATTR_STR = 0, QB_ATTR_F64 = 1, QB_ATTR_I64 = 2 } qb_attr_type;
typedef struct {
  const char *name, *value;
  qb_attr_type type;
  double f64;
  int64_t i64;
} qb_h5_attr;

static inline qb_h5_attr qb_h5_attr_str(const char *name, const char *value) {
  return (qb_h5_attr){name, value, QB_ATTR_STR, 0, 0};
}
static inline qb_h5_attr qb_h5_attr_f64(const char *name, double v) {
  return (qb_h5_attr){name, NULL, QB_ATTR_F64, v, 0};
}
static inline qb_h5_attr qb_h5_attr_i64(const char *name, int64_t v) {
  return (qb_h5_attr){name, NULL, QB_ATTR_I64, 0, v};
}

/* Not collective (rank 0 only, while no rank has the file open).  Fills group `group` (created
 * with the skeleton; anything a killed run left in it is removed first) with a `point`
 * dimension of n rows, one dataset per column, and the attributes (strings or numbers).  Before
 * opening the file it checks that the file system has the space the group needs (data and metadata,
 * with a margin) and reserves it past the end of the file where fallocate() works: a full disk
 * fails here, before the file is touched.  The change itself runs under an undo journal
 * (`path.undo`, the file's metadata saved and synced first): if it fails anyway (HDF5 meeting a
 * full disk in H5Fclose), the file is rolled back at once; if the process dies, the next
 * --resume rolls it back (qb_h5_inspect).  Either way the finished sweep stays readable and
 * resumable. */
qb_err qb_h5_create_group(const char *path, const qb_h5_token *tok, const char *group, int64_t n,
                          int ncols, const qb_h5_col *cols, int nattrs, const qb_h5_attr *attrs,
                          char *msg, size_t msgsize);

/* Collective.  Writes rows [off, off + count) of every column from cols[k].data.  Returns the
 * agreed status. */
qb_err qb_h5_write_group(const char *path, const qb_h5_token *tok, const char *group, int64_t off,
                         int64_t count, int ncols, const qb_h5_col *cols, char *msg,
                         size_t msgsize);

/* Wall time.  Every run segment on a file (the run that created it, each --resume) that ends
 * by itself appends its wall-clock seconds to the root attribute wall_time_segments_s (float64
 * array, in order; created by the first such segment): a graceful stop (checkpoint) through
 * qb_h5_mark_segment, the completing segment through qb_h5_mark_complete, which also sets
 * wall_time_s to the sum of all entries.  A segment killed (SIGKILL, crash, failed run) records
 * nothing: its time is missing from both. */

/* Not collective (rank 0 only, while no rank has the file open).  Appends `seconds` to
 * wall_time_segments_s, only into the file of *tok, under the undo journal. */
qb_err qb_h5_mark_segment(const char *path, const qb_h5_token *tok, double seconds, char *msg,
                          size_t msgsize);

/* Not collective (rank 0 only, while no rank has the file open).  The final attributes: this
 * segment's seconds (wall_time_s_segment) appended to wall_time_segments_s, wall_time_s (the
 * sum of its entries) and complete = 1, written only into the file of *tok, under the undo journal.
 * Only a file that reached this point claims to be complete. */
qb_err qb_h5_mark_complete(const char *path, const qb_h5_token *tok, double wall_time_s_segment,
                           char *msg, size_t msgsize);

/* Collective, the last call of `qbmap run`, with the exit code every rank agreed on: ends the
 * process with `code`.  Normally it finalizes MPI (qb_par_finalize), which runs HDF5's own
 * shutdown, and exits.  After a run-time failure (code 1) it skips both and ends at once with
 * _exit, stdout and stderr flushed: a failed H5Fclose leaves state that HDF5's shutdown
 * crashes on, and a file opened on some ranks only cannot be closed at all (H5Fclose is
 * collective).  No rank is left waiting: they agreed before. */
_Noreturn void qb_h5_exit(int code);

/* Local: "1.10.8" etc. */
const char *qb_h5_library_version(void);

#endif
