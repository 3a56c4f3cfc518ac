#define _POSIX_C_SOURCE 200809L /* sigaction */
#include "qbmap/qb_sweep.h"

#include <signal.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_h5.h"
#include "qbmap/qb_hook.h"
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

enum { PASS_BOUNDARY, PASS_EP, PASS_ADAPTIVE };

/* Collective.  Writes every rank's points `ps` as group /boundary, /ep or /adaptive, each rank's
 * rows placed after the lower ranks' (exclusive scan), so the order is the units' order. */
static qb_err write_points(const qb_config *cfg, const char *path, const qb_h5_token *tok,
                           int which, qb_pointset *ps, int64_t evals, double seconds, char *msg,
                           size_t msgsize) {
  const qb_grid *g = &cfg->grid;
  const qb_model *m = cfg->model;
  const int rank = qb_par_rank();
  int64_t off, total, rej_off, rej_total, ev_off, ev_total;
  qb_par_exscan(ps->n, &off, &total);
  qb_par_exscan(ps->rejected, &rej_off, &rej_total);
  qb_par_exscan(evals, &ev_off, &ev_total);

  qb_h5_col cols[QB_MAX_AXES + 4];
  char longn[QB_MAX_AXES][256];
  int nc = 0;
  const bool adaptive = cfg->adaptive_depth > 0;
  for (int d = 0; d < g->ndim; d++) {
    const qb_param *p = &m->params[g->axes[d].param];
    bool inplane = adaptive ? d >= g->ndim - 2
                            : (which == PASS_EP ? (d == cfg->eps.ax || d == cfg->eps.ay)
                                                : d == cfg->boundaries.axis);
    bool refined = which == PASS_EP ? (d == cfg->eps.ax || d == cfg->eps.ay)
                                    : (which == PASS_BOUNDARY && d == cfg->boundaries.axis);
    snprintf(longn[d], sizeof longn[d], "%s%s", p->doc,
             refined ? " (refined)" : (inplane ? " (fine-grid value)" : " (grid value)"));
    cols[nc++] = (qb_h5_col){g->axes[d].name, QB_COL_F64, p->units, longn[d], ps->x[d]};
  }
  char v[4][256];
  qb_h5_attr attrs[6];
  int na = 0;
  snprintf(v[1], sizeof v[1], "%lld", (long long)rej_total);
  if (which == PASS_EP) {
    cols[nc++] =
        (qb_h5_col){"winding", QB_COL_I32, "1",
                    "winding number of the discriminant around the grid cell", ps->winding};
    cols[nc++] =
        (qb_h5_col){"residual", QB_COL_F64, "1", "|disc| at the refined point", ps->residual};
    cols[nc++] =
        (qb_h5_col){"splitting", QB_COL_F64, "1",
                    "distance of the two coalescing eigenvalues at the point", ps->splitting};
    cols[nc++] = (qb_h5_col){"overlap", QB_COL_F64, "1",
                             "|<u|v>|/(|u||v|) of their eigenvectors (1 at an EP)", ps->overlap};
    snprintf(v[0], sizeof v[0], "%s %s", g->axes[cfg->eps.ax].name, g->axes[cfg->eps.ay].name);
    attrs[na++] = (qb_h5_attr){"axes", v[0]};
    attrs[na++] = (qb_h5_attr){"candidates_rejected", v[1]};
    attrs[na++] = (qb_h5_attr){
        "accuracy", "|disc| <= 1e-12 x the cell's largest corner |disc|; kept only where the "
                    "eigenvalues coalesce (splitting <= 1e-6 max(1, sqrt(corner |disc|)), "
                    "eigenvector overlap >= 1 - 1e-6)"};
  } else if (which == PASS_BOUNDARY) {
    cols[nc++] = (qb_h5_col){"index", QB_COL_I64, "1",
                             adaptive ? "lower fine-grid index of the bracketing neighbours along "
                                        "the axis"
                                      : "lower grid index of the bracketing neighbours along the "
                                        "axis",
                             ps->index};
    snprintf(v[0], sizeof v[0], "%.17g", cfg->boundaries.level);
    attrs[na++] = (qb_h5_attr){"field", m->fields[cfg->boundaries.field].name};
    attrs[na++] = (qb_h5_attr){"level", v[0]};
    attrs[na++] = (qb_h5_attr){"axis", g->axes[cfg->boundaries.axis].name};
    attrs[na++] = (qb_h5_attr){"brackets_not_refined", v[1]};
    attrs[na++] = (qb_h5_attr){"accuracy", "Brent on the kernel to 1e-12 of the axis span"};
  } else {
    cols[nc++] = (qb_h5_col){"value", QB_COL_F64, "1",
                             cfg->boundaries.on ? m->fields[cfg->boundaries.field].doc
                                                : "not evaluated (eps only)",
                             ps->value};
    int64_t fine = g->npoints / (g->axes[g->ndim - 1].n * g->axes[g->ndim - 2].n) *
                   qb_post_fine_n(&g->axes[g->ndim - 1], cfg->adaptive_depth) *
                   qb_post_fine_n(&g->axes[g->ndim - 2], cfg->adaptive_depth);
    snprintf(v[0], sizeof v[0], "%d", cfg->adaptive_depth);
    snprintf(v[2], sizeof v[2], "%lld", (long long)ev_total);
    snprintf(v[3], sizeof v[3], "%lld", (long long)fine);
    attrs[na++] = (qb_h5_attr){"max_depth", v[0]};
    attrs[na++] = (qb_h5_attr){"evaluations", v[2]};
    attrs[na++] = (qb_h5_attr){"uniform_equivalent_points", v[3]};
    attrs[na++] = (qb_h5_attr){"plane", "the last two axes; values on a grid 2^max_depth times "
                                        "finer than the config's"};
  }
  static const char *const groups[] = {"boundary", "ep", "adaptive"};
  const char *group = groups[which];
  char detail[2048] = "";
  qb_err err = rank == 0 ? qb_h5_create_group(path, tok, group, total, nc, cols, na, attrs, detail,
                                              sizeof detail)
                         : QB_OK;
  if (!(err = qb_par_agree_msg(err, detail, sizeof detail)))
    err = qb_h5_write_group(path, tok, group, off, ps->n, nc, cols, detail, sizeof detail);
  if (err)
    snprintf(msg, msgsize, "writing post-pass group /%s to '%s' failed: %s", group, path, detail);
  if (!err && rank == 0) {
    static const char *const what[] = {"crossings", "exceptional points", "distinct points"};
    printf("qbmap: /%s: %lld %s", group, (long long)total, what[which]);
    if (which == PASS_ADAPTIVE) printf(" (%lld evaluations)", (long long)ev_total);
    if (rej_total) printf(", %lld candidates rejected", (long long)rej_total);
    printf(" in %.2f s\n", seconds);
    fflush(stdout);
  }
  return err;
}

/* Collective.  The uniform post-pass `which`: a contiguous range of units per rank. */
static qb_err uniform_pass(const qb_config *cfg, const char *path, const qb_h5_token *tok,
                           int which, char *msg, size_t msgsize) {
  const double t0 = qb_par_time();
  int64_t units = which == PASS_EP ? qb_post_ep_units(cfg) : qb_post_boundary_units(cfg), lo, hi;
  qb_post_range(units, qb_par_size(), qb_par_rank(), &lo, &hi);
  qb_pointset ps = {0};
  qb_err err =
      which == PASS_EP ? qb_post_eps(cfg, lo, hi, &ps) : qb_post_boundaries(cfg, lo, hi, &ps);
  if ((err = qb_par_agree(err)))
    snprintf(msg, msgsize, "out of memory in the %s pass", which == PASS_EP ? "EP" : "boundary");
  else
    err = write_points(cfg, path, tok, which, &ps, 0, qb_par_time() - t0, msg, msgsize);
  qb_pointset_free(&ps);
  return err;
}

/* Collective.  Merges every rank's records (sorted, duplicates removed: neighbouring coarse
 * cells share edges and corners) and leaves this rank's contiguous share in [*lo, *hi). */
static qb_err merge_records(qb_recs *r, int64_t **all, int64_t *lo, int64_t *hi) {
  int64_t total;
  qb_recs_sort_unique(r);
  qb_err err = qb_par_allgather_i64(r->v, r->n, 4, all, &total);
  if (err) return err;
  qb_recs merged = {.v = *all, .n = total, .cap = total};
  qb_recs_sort_unique(&merged);
  qb_post_range(merged.n, qb_par_size(), qb_par_rank(), lo, hi);
  return QB_OK;
}

/* Collective.  Adaptive mode: refine coarse cells (a contiguous range per rank), merge the
 * candidate records of all ranks, then refine a contiguous share of them per rank. */
static qb_err adaptive_pass(const qb_config *cfg, const char *path, const qb_h5_token *tok,
                            char *msg, size_t msgsize) {
  const double t0 = qb_par_time();
  int64_t lo, hi, evals = 0;
  qb_post_range(qb_post_adaptive_units(cfg), qb_par_size(), qb_par_rank(), &lo, &hi);
  qb_recs rec[3] = {{0}};
  qb_err err = qb_post_adaptive(cfg, lo, hi, &rec[0], &rec[1], &rec[2], &evals);
  if ((err = qb_par_agree(err))) {
    snprintf(msg, msgsize, "out of memory in the adaptive pass");
    goto cleanup;
  }
  static const int passes[3] = {PASS_BOUNDARY, PASS_EP, PASS_ADAPTIVE};
  for (int k = 0; k < 3 && !err; k++) {
    if ((k == 0 && !cfg->boundaries.on) || (k == 1 && !cfg->eps.on)) continue;
    int64_t *all = NULL, a, b;
    qb_pointset ps = {0};
    double t1 = qb_par_time();
    err = merge_records(&rec[k], &all, &a, &b);
    if (!err) {
      const int64_t *mine = all + 4 * a;
      err = k == 0   ? qb_post_adaptive_boundaries(cfg, mine, b - a, &ps)
            : k == 1 ? qb_post_adaptive_eps(cfg, mine, b - a, &ps)
                     : qb_post_adaptive_points(cfg, mine, b - a, &ps);
    }
    free(all);
    if ((err = qb_par_agree(err)))
      snprintf(msg, msgsize, "out of memory in the adaptive pass");
    else
      err = write_points(cfg, path, tok, passes[k], &ps, k == 2 ? evals : 0,
                         qb_par_time() - (k == 2 ? t0 : t1), msg, msgsize);
    qb_pointset_free(&ps);
  }
cleanup:
  for (int k = 0; k < 3; k++)
    qb_recs_free(&rec[k]);
  return err;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1; /* only a flag: the ranks act on it together at a round boundary */
}

bool qb_sweep_stop_requested(void) {
  return stop_requested != 0;
}

void qb_sweep_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

/* The QBMAP_TEST_GATE hook (qb_hook), released early by a stop signal. */
static void test_gate(const char *phase) {
  qb_hook_gate(phase, qb_sweep_stop_requested);
}

/* Rank 0, holding the output's lock: the output to write into.  qb_h5_prepare applies the
 * rules for what may exist at the output path and at path.partial; then a fresh run (or a
 * --resume whose skeleton was never finished) builds the skeleton, a --resume adopts the
 * interrupted run's file. */
static qb_err open_output(const qb_config *cfg, const qb_sweep_opts *o, qb_h5_state *st,
                          qb_h5_token *tok, char *msg, size_t msgsize) {
  qb_h5_start how;
  qb_err err = qb_h5_prepare(o->output, o->force, o->resume, &how, msg, msgsize);
  if (err) return err;
  if (how == QB_H5_ADOPT) {
    err = qb_h5_inspect(o->output, cfg, st, tok, msg, msgsize);
    if (!err) {
      int64_t ndone = 0;
      for (int64_t b = 0; b < st->nblocks; b++)
        ndone += st->done[b] != 0;
      printf("qbmap: resuming %s: %lld of %lld blocks done%s\n", o->output, (long long)ndone,
             (long long)st->nblocks, st->complete ? ", file complete" : "");
    }
    return err;
  }
  if (how == QB_H5_REBUILD)
    printf("qbmap: resuming %s: its skeleton was never finished: rebuilding\n", o->output);
  const qb_grid *g = &cfg->grid;
  st->block_points = qb_grid_block_points(g, o->block_target);
  st->nblocks = (g->npoints + st->block_points - 1) / st->block_points;
  st->complete = 0;
  qb_h5_meta meta = {.path = o->output,
                     .cfg = cfg,
                     .nranks = qb_par_size(),
                     .block_points = st->block_points,
                     .nblocks = st->nblocks};
  memcpy(meta.provenance, o->provenance, sizeof meta.provenance);
  int ng = 0;
  if (cfg->boundaries.on) meta.groups[ng++] = "boundary";
  if (cfg->eps.on) meta.groups[ng++] = "ep";
  if (cfg->adaptive_depth) meta.groups[ng++] = "adaptive";
  /* checks the space and the block count before anything is allocated */
  err = qb_h5_create(&meta, tok, msg, msgsize);
  if (!err && !(st->done = calloc((size_t)st->nblocks, 1))) {
    snprintf(msg, msgsize, "out of memory for the done mask of %lld blocks",
             (long long)st->nblocks);
    err = QB_ENOMEM;
  }
  return err;
}

/* Collective.  Writes NaN (the fields' _FillValue) into every block not marked done, so that a
 * stopped run's file reads NaN wherever nothing was computed.  left[0 .. nleft) are those
 * blocks, the same list on every rank, dealt in rounds like the sweep.  Integer fields stay 0
 * there: `done` says which blocks hold data. */
static qb_err fill_unfinished(qb_h5 *h, const qb_config *cfg, const int64_t *left, int64_t nleft,
                              int64_t bpoints, char *msg, size_t msgsize) {
  const int rank = qb_par_rank(), nranks = qb_par_size();
  qb_err err = QB_OK;
  for (int64_t i = 0; i < nleft && !err; i += nranks) {
    int64_t lo = 0, hi = 0;
    if (i + rank < nleft) qb_grid_block_range(cfg->grid.npoints, bpoints, left[i + rank], &lo, &hi);
    err = qb_h5_fill_block(h, lo, hi, msg, msgsize);
  }
  return err;
}

qb_err qb_sweep_run(const qb_config *cfg, const qb_sweep_opts *o, char *msg, size_t msgsize) {
  const qb_grid *g = &cfg->grid;
  const int rank = qb_par_rank(), nranks = qb_par_size();
  const double t0 = qb_par_time();
  qb_err err = QB_OK;
  qb_h5 *h = NULL;
  qb_h5_state st = {0};
  qb_h5_token tok = {0};
  int lockfd = -1;
  int64_t *pending = NULL, npending = 0, info[3] = {0};
  void *bufs[QB_MAX_FIELDS] = {NULL};
  bool want[QB_MAX_FIELDS] = {false};
  char detail[2048] = "";
  for (int k = 0; k < cfg->nfields; k++)
    want[cfg->fields[k]] = true;

  /* rank 0 holds the output's lock from here to the end: a second run on the same output
   * fails at once instead of sharing its files */
  if (rank == 0) {
    err = qb_h5_lock(o->output, &lockfd, msg, msgsize);
    if (!err) err = open_output(cfg, o, &st, &tok, msg, msgsize);
    info[0] = st.block_points, info[1] = st.nblocks, info[2] = st.complete;
  }
  if ((err = qb_par_agree_msg(err, msg, msgsize))) goto cleanup;
  qb_par_bcast_bytes(info, sizeof info, 0);
  qb_par_bcast_bytes(&tok, sizeof tok, 0);
  const int64_t bpoints = info[0], nblocks = info[1];
  if (info[2]) {
    if (rank == 0) printf("qbmap: %s is complete: nothing to do\n", o->output);
    goto cleanup;
  }
  if (rank != 0 && !(st.done = calloc((size_t)nblocks, 1))) err = QB_ENOMEM;
  /* the blocks still to do, dealt in rounds: round r gives pending[r * nranks + rank] */
  pending = malloc((size_t)(nblocks > 0 ? nblocks : 1) * sizeof *pending);
  if (!pending) err = QB_ENOMEM;
  for (int k = 0; k < cfg->nfields && !err; k++)
    if (!(bufs[k] = malloc((size_t)bpoints * sizeof(double)))) err = QB_ENOMEM;
  if (err)
    snprintf(msg, msgsize,
             "out of memory for %lld blocks of %lld points and %d fields (%.3g bytes per rank); "
             "allowed: a smaller --block-points",
             (long long)nblocks, (long long)bpoints, cfg->nfields,
             9.0 * (double)nblocks + 8.0 * (double)bpoints * cfg->nfields);
  if ((err = qb_par_agree_msg(err, msg, msgsize))) goto cleanup;
  qb_par_bcast_bytes(st.done, nblocks, 0);
  for (int64_t b = 0; b < nblocks; b++)
    if (!st.done[b]) pending[npending++] = b;
  const int64_t nrounds = qb_grid_nrounds(npending, nranks), already = nblocks - npending;
  if (rank == 0) {
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

  if ((err = qb_h5_open(o->output, cfg, &tok, &h, detail, sizeof detail))) {
    snprintf(msg, msgsize, "opening '%s' for writing failed: %s", o->output, detail);
    goto cleanup;
  }

  /* Every step below is collective and returns the status agreed by all ranks, so the ranks
   * leave the loop together.  Done flags are written after a flush that succeeded on every
   * rank, for every block finished since the previous one; flushes (fsync) happen every
   * flush_s seconds, as rank 0's clock decides, at the end, and when a signal asks the ranks
   * to stop. */
  double last = t0, last_flush = t0, t_eval = 0, t_write = 0;
  int64_t committed = 0; /* pending[0 .. committed) are marked done in the file */
  int stop = 0;
  for (int64_t r = 0; r < nrounds && !stop; r++) {
    if (r == 1) test_gate("round");
    int64_t i = r * nranks + rank, b = i < npending ? pending[i] : -1, lo = 0, hi = 0;
    double ta = qb_par_time();
    if (b >= 0) {
      qb_grid_block_range(g->npoints, bpoints, b, &lo, &hi);
      eval_block(cfg, want, lo, hi, bufs);
    }
    double tb = qb_par_time();
    const char *step = "writing";
    err = qb_h5_write_block(h, lo, hi, bufs, detail, sizeof detail);
    int ctl[2] = {stop_requested, r + 1 == nrounds || tb - last_flush >= o->flush_s};
    qb_par_bcast_int(&ctl[1], 0);
    stop = qb_par_agree(ctl[0] ? QB_ECHECKPOINT : QB_OK) != QB_OK;
    if ((ctl[1] || stop) && !err) {
      step = "flushing";
      err = qb_h5_flush(h, detail, sizeof detail);
      if (!err) {
        /* flushed on every rank: from now on these blocks count as done, also if writing their
         * flags fails (the file may hold them anyway), so the NaN fill never touches them */
        int64_t end = (r + 1) * nranks < npending ? (r + 1) * nranks : npending;
        for (int64_t k = committed; k < end; k++)
          st.done[pending[k]] = 1;
        step = "committing";
        err = qb_h5_write_done(h, rank == 0 ? st.done : NULL, nblocks, detail, sizeof detail);
        if (!err) committed = end;
        last_flush = qb_par_time();
      }
    }
    t_eval += tb - ta;
    t_write += qb_par_time() - tb;
    if (err) {
      snprintf(msg, msgsize, "%s round %lld of %lld to '%s' failed: %s", step, (long long)r + 1,
               (long long)nrounds, o->output, detail);
      break;
    }
    double now = qb_par_time();
    if (rank == 0 && now - last >= o->progress_s && r + 1 < nrounds && !stop) {
      int64_t blocks = already + (r + 1) * nranks;
      progress(blocks * bpoints < g->npoints ? blocks * bpoints : g->npoints, g->npoints, now - t0);
      last = now;
    }
  }
  /* a graceful stop (signal, or a failed write while the file is still writable): the blocks
   * not marked done read NaN, not 0 (errors here change nothing: the done mask is committed) */
  if (stop || err) {
    char fmsg[2048] = "";
    int64_t nleft = 0; /* pending is done with: it now lists the blocks still without data */
    for (int64_t k = 0; k < npending; k++)
      if (!st.done[pending[k]]) pending[nleft++] = pending[k];
    qb_err ferr = fill_unfinished(h, cfg, pending, nleft, bpoints, fmsg, sizeof fmsg);
    if (ferr && rank == 0 && !err) {
      printf("qbmap: note: unfinished blocks could not be set to NaN: %s\n", fmsg);
      fflush(stdout);
    }
  }
  double tf = qb_par_time();
  qb_err ferr = qb_h5_finish(&h, detail, sizeof detail);
  t_write += qb_par_time() - tf;
  if (err) goto cleanup;
  if ((err = ferr)) {
    snprintf(msg, msgsize, "finishing '%s' failed: %s", o->output, detail);
    goto cleanup;
  }
  if (stop) {
    snprintf(msg, msgsize,
             "stopped by a signal after committing %lld of %lld blocks to '%s'; checkpointed, "
             "not finished: run the same command with --resume",
             (long long)(already + committed), (long long)nblocks, o->output);
    err = QB_ECHECKPOINT;
    goto cleanup;
  }
  double t_grid = qb_par_time() - t0;
  test_gate("post");
  if (cfg->adaptive_depth) {
    if ((err = adaptive_pass(cfg, o->output, &tok, msg, msgsize))) goto cleanup;
  } else {
    if (cfg->boundaries.on &&
        (err = uniform_pass(cfg, o->output, &tok, PASS_BOUNDARY, msg, msgsize)))
      goto cleanup;
    if (cfg->eps.on && (err = uniform_pass(cfg, o->output, &tok, PASS_EP, msg, msgsize)))
      goto cleanup;
  }
  double wall = qb_par_time() - t0;
  test_gate("complete");
  if (rank == 0) err = qb_h5_mark_complete(o->output, &tok, wall, detail, sizeof detail);
  if ((err = qb_par_agree_msg(err, detail, sizeof detail))) {
    snprintf(msg, msgsize, "marking '%s' complete failed: %s", o->output, detail);
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
  if (rank == 0) qb_h5_unlock(o->output, &lockfd);
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    free(bufs[k]);
  free(pending);
  free(st.done);
  return err;
}
