/* qb_h5: the only module that includes <hdf5.h>.  Output files are netCDF-4/CF compatible:
 * axes are dimension scales (coordinates), one N-D dataset per field, `status`, a per-block
 * `done` mask over a `block` dimension, and root attributes describing the run.
 *
 * Life cycle: rank 0 alone builds the complete skeleton (qb_h5_create, not collective; the HL
 * dimension-scale API is serial only), then every rank opens it with MPI-IO (qb_h5_open,
 * collective) and writes hyperslabs collectively.  Datasets are contiguous and allocated at
 * creation, so the file's structure never changes while data is written; a block's done flag
 * is written only after its data has been flushed. */
#ifndef QB_H5_H
#define QB_H5_H

#include <stdint.h>

#include "qbmap/qb_config.h"
#include "qbmap/qb_status.h"

typedef struct qb_h5 qb_h5;

typedef struct {
  const char *path;
  const qb_config *cfg;
  int nranks;
  int64_t block_points, nblocks;
  int force;                    /* overwrite an existing file */
  const char *provenance[8][2]; /* extra root string attributes: {name, value}, NULL-ended */
  const char *groups[4];        /* empty groups to create for the post-passes, NULL-ended */
} qb_h5_meta;

/* Not collective (rank 0 only).  Creates the whole skeleton as `path.partial`, then renames it
 * to `path`: a file at `path` always has a complete skeleton.  Refuses an existing path unless
 * meta->force.  Leaves no file behind on failure. */
qb_err qb_h5_create(const qb_h5_meta *meta, char *msg, size_t msgsize);

/* What a resumed run needs from an existing output. */
typedef struct {
  int64_t block_points, nblocks;
  int complete;
  uint8_t *done; /* nblocks flags (malloc'ed) */
} qb_h5_state;

/* Not collective (rank 0 only).  Opens an existing output and checks that it was written by
 * qbmap for exactly this configuration (model, normalized config); reads its done mask.
 * Errors name the path and what is wrong (not HDF5 or truncated, foreign, other config). */
qb_err qb_h5_inspect(const char *path, const qb_config *cfg, qb_h5_state *st, char *msg,
                     size_t msgsize);

/* Collective.  Opens the skeleton with the MPI-IO driver for writing. */
qb_err qb_h5_open(const char *path, const qb_config *cfg, qb_h5 **h, char *msg, size_t msgsize);

/* Collective.  Writes flat points [lo, hi) of every selected field (lo == hi: nothing, the
 * rank still takes part).  bufs[k] holds hi - lo values of cfg->fields[k], as double for
 * QB_F64 fields and int32_t for QB_I32 fields. */
qb_err qb_h5_write_block(qb_h5 *h, int64_t lo, int64_t hi, void *const *bufs);

/* Collective.  Flushes everything written so far to the file system, then writes the done
 * mask: rank 0 passes all nblocks flags, the other ranks NULL. */
qb_err qb_h5_write_done(qb_h5 *h, const uint8_t *done, int64_t nblocks);

/* Collective.  Flushes and closes the grid's datasets; *h becomes NULL. */
qb_err qb_h5_finish(qb_h5 **h);

/* A column of a point list (group /boundary, /ep): one 1-D dataset over the group's `point`
 * dimension. */
typedef enum { QB_COL_F64 = 0, QB_COL_I32 = 1, QB_COL_I64 = 2 } qb_coltype;
typedef struct {
  const char *name;
  qb_coltype type;
  const char *units, *long_name;
  const void *data; /* this rank's rows (may be NULL when it has none) */
} qb_h5_col;

typedef struct {
  const char *name, *value;
} qb_h5_attr;

/* Not collective (rank 0 only, while no rank has the file open).  Fills group `group` (created
 * with the skeleton; anything a killed run left in it is removed first) with a `point`
 * dimension of n rows, one dataset per column, and string attributes. */
qb_err qb_h5_create_group(const char *path, const char *group, int64_t n, int ncols,
                          const qb_h5_col *cols, int nattrs, const qb_h5_attr *attrs, char *msg,
                          size_t msgsize);

/* Collective.  Writes rows [off, off + count) of every column from cols[k].data. */
qb_err qb_h5_write_group(const char *path, const char *group, int64_t off, int64_t count, int ncols,
                         const qb_h5_col *cols);

/* Not collective (rank 0 only, while no rank has the file open).  The final attributes:
 * complete = 1 and wall_time_s.  Only a file that reached this point claims to be complete. */
qb_err qb_h5_mark_complete(const char *path, double wall_time_s);

/* Collective.  Closes without marking complete (error paths).  NULL-safe. */
void qb_h5_close(qb_h5 **h);

/* Local: "1.10.8" etc. */
const char *qb_h5_library_version(void);

#endif
