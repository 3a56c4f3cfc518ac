#include "qbmap/qb_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_h5.h"
#include "qbmap/qb_par.h"

/* Evaluates flat points [lo, hi) into per-field buffers (double or int32 by dtype). */
static void eval_block(const qb_config *cfg, const bool *want, int64_t lo, int64_t hi,
                       void *const *bufs) {
  const qb_model *m = cfg->model;
  const qb_grid *g = &cfg->grid;
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  int64_t idx[QB_MAX_AXES];
  memcpy(p, cfg->fixed, sizeof p);
  qb_grid_unflatten(g, lo, idx);
  for (int64_t j = 0; j < hi - lo; j++) {
    for (int d = 0; d < g->ndim; d++)
      p[g->axes[d].param] = g->axes[d].values[idx[d]];
    m->eval(p, want, out);
    for (int k = 0; k < cfg->nfields; k++) {
      int f = cfg->fields[k];
      if (m->fields[f].dtype == QB_F64)
        ((double *)bufs[k])[j] = out[f];
      else
        ((int32_t *)bufs[k])[j] = (int32_t)out[f];
    }
    for (int d = g->ndim - 1; d >= 0; d--) { /* odometer: last axis fastest */
      if (++idx[d] < g->axes[d].n) break;
      idx[d] = 0;
    }
  }
}

static void progress(int64_t done, int64_t total, double elapsed) {
  double rate = elapsed > 0 ? (double)done / elapsed : 0;
  double eta = rate > 0 ? (double)(total - done) / rate : NAN;
  printf("qbmap: %lld/%lld points (%.1f%%), %.3g points/s, elapsed %.1f s, ETA %.0f s\n",
         (long long)done, (long long)total, 100.0 * (double)done / (double)total, rate, elapsed,
         eta);
  fflush(stdout);
}

qb_err qb_sweep_run(const qb_config *cfg, const qb_sweep_opts *o, char *msg, size_t msgsize) {
  const qb_grid *g = &cfg->grid;
  const int rank = qb_par_rank(), nranks = qb_par_size();
  const double t0 = qb_par_time();
  const int64_t bpoints = qb_grid_block_points(g, o->block_target);
  const int64_t nblocks = (g->npoints + bpoints - 1) / bpoints;
  const int64_t nrounds = qb_grid_nrounds(nblocks, nranks);
  qb_err err = QB_OK;
  qb_h5 *h = NULL;
  void *bufs[QB_MAX_FIELDS] = {NULL};
  bool want[QB_MAX_FIELDS] = {false};
  for (int k = 0; k < cfg->nfields; k++)
    want[cfg->fields[k]] = true;

  if (rank == 0) {
    qb_h5_meta meta = {.path = o->output,
                       .cfg = cfg,
                       .nranks = nranks,
                       .block_points = bpoints,
                       .nblocks = nblocks,
                       .force = o->force};
    memcpy(meta.provenance, o->provenance, sizeof meta.provenance);
    err = qb_h5_create(&meta, msg, msgsize);
    if (!err) {
      char shape[256] = "";
      for (int d = 0; d < g->ndim; d++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%s[%lld]", d ? " x " : "",
                 g->axes[d].name, (long long)g->axes[d].n);
      printf("qbmap: model %s, %s = %lld points, %d fields, %lld blocks of <= %lld points, %d "
             "rank%s -> %s\n",
             cfg->model->name, shape, (long long)g->npoints, cfg->nfields, (long long)nblocks,
             (long long)bpoints, nranks, nranks > 1 ? "s" : "", o->output);
      fflush(stdout);
    }
  }
  if ((err = qb_par_agree(err))) return err;

  err = qb_h5_open(o->output, cfg, &h, msg, msgsize);
  for (int k = 0; k < cfg->nfields && !err; k++)
    if (!(bufs[k] = malloc((size_t)bpoints * sizeof(double)))) err = QB_ENOMEM;
  if ((err = qb_par_agree(err))) goto cleanup;

  /* Done flags are written after a flush, for every block finished since the previous one;
   * flushes (fsync) happen every flush_s seconds, as rank 0's clock decides, and at the end. */
  double last = t0, last_flush = t0, t_eval = 0, t_write = 0;
  int64_t undone = 0; /* first block whose done flag is not yet written */
  for (int64_t r = 0; r < nrounds; r++) {
    int64_t b = qb_grid_round_block(nblocks, nranks, rank, r), lo = 0, hi = 0;
    double ta = qb_par_time();
    if (b >= 0) {
      qb_grid_block_range(g->npoints, bpoints, b, &lo, &hi);
      eval_block(cfg, want, lo, hi, bufs);
    }
    double tb = qb_par_time();
    err = qb_h5_write_block(h, lo, hi, bufs);
    int flush = r + 1 == nrounds || tb - last_flush >= o->flush_s;
    qb_par_bcast_int(&flush, 0);
    if (flush && !err) {
      int64_t end = (r + 1) * nranks < nblocks ? (r + 1) * nranks : nblocks;
      err = rank == 0 ? qb_h5_mark_done(h, undone, end) : qb_h5_mark_done(h, 0, 0);
      undone = end;
      last_flush = qb_par_time();
    }
    t_eval += tb - ta;
    t_write += qb_par_time() - tb;
    if ((err = qb_par_agree(err))) {
      snprintf(msg, msgsize,
               "writing round %lld of %lld to '%s' failed (disk full or file "
               "system error?)",
               (long long)r, (long long)nrounds, o->output);
      goto cleanup;
    }
    double now = qb_par_time();
    if (rank == 0 && now - last >= o->progress_s && r + 1 < nrounds) {
      int64_t blocks_done = (r + 1) * nranks;
      progress(blocks_done * bpoints, g->npoints, now - t0);
      last = now;
    }
  }
  double tf = qb_par_time();
  err = qb_h5_finish(&h, tf - t0);
  t_write += qb_par_time() - tf;
  double wall = qb_par_time() - t0;
  if ((err = qb_par_agree(err))) {
    snprintf(msg, msgsize, "finishing '%s' failed", o->output);
    goto cleanup;
  }
  /* rank 0's split of its time: evaluating vs inside collective writes (incl. waiting) */
  double rss = qb_par_max(qb_par_peak_rss_mib());
  if (rank == 0) {
    printf("qbmap: done: %lld points in %.2f s (%.3g points/s) on %d rank%s; complete file: %s\n"
           "qbmap: rank 0 time: evaluate %.2f s, write+flush %.2f s; peak RSS %.1f MiB (max over "
           "ranks)\n",
           (long long)g->npoints, wall, (double)g->npoints / wall, nranks, nranks > 1 ? "s" : "",
           o->output, t_eval, t_write, rss);
    fflush(stdout);
  }
cleanup:
  qb_h5_close(&h);
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    free(bufs[k]);
  return err;
}
