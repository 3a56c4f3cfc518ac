#include "qbmap/qb_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_h5.h"
#include "qbmap/qb_par.h"
#include "qbmap/qb_post.h"

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

/* Collective.  Post-pass `which` (0 boundaries, 1 EPs): each rank takes a contiguous range of
 * units, so the exclusive scan of the counts places every rank's points in the global order. */
static qb_err post_pass(const qb_config *cfg, const char *path, int which, char *msg,
                        size_t msgsize) {
  const qb_grid *g = &cfg->grid;
  const qb_model *m = cfg->model;
  const int rank = qb_par_rank();
  const double t0 = qb_par_time();
  int64_t units = which ? qb_post_ep_units(cfg) : qb_post_boundary_units(cfg), lo, hi, off, total;
  qb_post_range(units, qb_par_size(), rank, &lo, &hi);
  qb_pointset ps = {0};
  qb_err err = which ? qb_post_eps(cfg, lo, hi, &ps) : qb_post_boundaries(cfg, lo, hi, &ps);
  if ((err = qb_par_agree(err))) {
    snprintf(msg, msgsize, "out of memory in the %s pass", which ? "EP" : "boundary");
    qb_pointset_free(&ps);
    return err;
  }
  qb_par_exscan(ps.n, &off, &total);
  int64_t rejected, rej_total;
  qb_par_exscan(ps.rejected, &rejected, &rej_total);

  qb_h5_col cols[QB_MAX_AXES + 4];
  char longn[QB_MAX_AXES][256];
  int nc = 0;
  for (int d = 0; d < g->ndim; d++) {
    const qb_param *p = &m->params[g->axes[d].param];
    snprintf(longn[d], sizeof longn[d], "%s%s", p->doc,
             which ? (d == cfg->eps.ax || d == cfg->eps.ay ? " (refined)" : " (slice)")
                   : (d == cfg->boundaries.axis ? " (refined)" : " (grid value)"));
    cols[nc++] = (qb_h5_col){g->axes[d].name, QB_COL_F64, p->units, longn[d], ps.x[d]};
  }
  char attr_v[4][256];
  qb_h5_attr attrs[5];
  int na = 0;
  if (which) {
    cols[nc++] = (qb_h5_col){"winding", QB_COL_I32, "1",
                             "winding number of the discriminant around the grid cell", ps.winding};
    cols[nc++] =
        (qb_h5_col){"residual", QB_COL_F64, "1", "|disc| at the refined point", ps.residual};
    cols[nc++] =
        (qb_h5_col){"splitting", QB_COL_F64, "1",
                    "distance of the two coalescing eigenvalues at the point", ps.splitting};
    cols[nc++] = (qb_h5_col){"overlap", QB_COL_F64, "1",
                             "|<u|v>|/(|u||v|) of their eigenvectors (1 at an EP)", ps.overlap};
    snprintf(attr_v[0], sizeof attr_v[0], "%s %s", g->axes[cfg->eps.ax].name,
             g->axes[cfg->eps.ay].name);
    snprintf(attr_v[1], sizeof attr_v[1], "%lld", (long long)rej_total);
    attrs[na++] = (qb_h5_attr){"axes", attr_v[0]};
    attrs[na++] = (qb_h5_attr){"candidates_rejected", attr_v[1]};
    attrs[na++] = (qb_h5_attr){
        "accuracy", "|disc| <= 1e-12 x the cell's largest corner |disc|; kept only where the "
                    "eigenvalues coalesce (splitting <= 1e-6 max(1, sqrt(corner |disc|)), "
                    "eigenvector overlap >= 1 - 1e-6)"};
  } else {
    cols[nc++] =
        (qb_h5_col){"index", QB_COL_I64, "1",
                    "lower grid index of the bracketing neighbours along the axis", ps.index};
    snprintf(attr_v[0], sizeof attr_v[0], "%.17g", cfg->boundaries.level);
    snprintf(attr_v[1], sizeof attr_v[1], "%lld", (long long)rej_total);
    attrs[na++] = (qb_h5_attr){"field", m->fields[cfg->boundaries.field].name};
    attrs[na++] = (qb_h5_attr){"level", attr_v[0]};
    attrs[na++] = (qb_h5_attr){"axis", g->axes[cfg->boundaries.axis].name};
    attrs[na++] = (qb_h5_attr){"brackets_not_refined", attr_v[1]};
    attrs[na++] = (qb_h5_attr){"accuracy", "Brent on the kernel to 1e-12 of the axis span"};
  }
  const char *group = which ? "ep" : "boundary";
  err =
      rank == 0 ? qb_h5_create_group(path, group, total, nc, cols, na, attrs, msg, msgsize) : QB_OK;
  if (!(err = qb_par_agree(err))) err = qb_h5_write_group(path, group, off, ps.n, nc, cols);
  if ((err = qb_par_agree(err)) && rank != 0)
    snprintf(msg, msgsize, "writing group /%s failed", group);
  if (!err && rank == 0) {
    printf("qbmap: %s: %lld %s in %.2f s -> /%s%s\n", which ? "eps" : "boundaries",
           (long long)total, which ? "exceptional points" : "crossings", qb_par_time() - t0, group,
           rej_total ? " (some candidates rejected: see the group's attributes)" : "");
    fflush(stdout);
  }
  qb_pointset_free(&ps);
  return err;
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
  err = qb_h5_finish(&h);
  t_write += qb_par_time() - tf;
  if ((err = qb_par_agree(err))) {
    snprintf(msg, msgsize, "finishing '%s' failed", o->output);
    goto cleanup;
  }
  double t_grid = qb_par_time() - t0;
  if (cfg->boundaries.on && (err = post_pass(cfg, o->output, 0, msg, msgsize))) goto cleanup;
  if (cfg->eps.on && (err = post_pass(cfg, o->output, 1, msg, msgsize))) goto cleanup;
  double wall = qb_par_time() - t0;
  if (rank == 0) err = qb_h5_mark_complete(o->output, wall);
  if ((err = qb_par_agree(err))) {
    snprintf(msg, msgsize, "marking '%s' complete failed", o->output);
    goto cleanup;
  }
  /* rank 0's split of its time: evaluating vs inside collective writes (incl. waiting) */
  double rss = qb_par_max(qb_par_peak_rss_mib());
  if (rank == 0) {
    printf("qbmap: done: %lld points in %.2f s (%.3g points/s) on %d rank%s; complete file: %s\n"
           "qbmap: rank 0 time: evaluate %.2f s, write+flush %.2f s, post-passes %.2f s; peak "
           "RSS %.1f MiB (max over ranks)\n",
           (long long)g->npoints, wall, (double)g->npoints / t_grid, nranks, nranks > 1 ? "s" : "",
           o->output, t_eval, t_write, wall - t_grid, rss);
    fflush(stdout);
  }
cleanup:
  qb_h5_close(&h);
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    free(bufs[k]);
  return err;
}
