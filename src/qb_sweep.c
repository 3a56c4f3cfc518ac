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

/* Points per qb_model_eval_row call: a longer row is evaluated in pieces (bitwise the same:
 * qb_model.h), so the scratch rows stay small (QB_ROW_CHUNK * QB_MAX_FIELDS doubles). */
#define QB_ROW_CHUNK 1024

/* Copies n evaluated rows (nfields each) into the output buffers at offset off, converting by
 * dtype. */
static void store_rows(const qb_config *cfg, const double *rows, int64_t n, int64_t off,
                       void *const *bufs) {
  const qb_model *m = cfg->model;
  for (int k = 0; k < cfg->nfields; k++) {
    const int f = cfg->fields[k];
    if (m->fields[f].dtype == QB_F64)
      for (int64_t j = 0; j < n; j++)
        ((double *)bufs[k])[off + j] = rows[j * m->nfields + f];
    else
      for (int64_t j = 0; j < n; j++)
        ((int32_t *)bufs[k])[off + j] = (int32_t)rows[j * m->nfields + f];
  }
}

/* Evaluates flat points [lo, hi) into per-field buffers (double or int32 by dtype): the pieces of
 * rows of the fastest axis, each one qb_model_eval_row call into scratch (QB_ROW_CHUNK rows). */
static void eval_block(const qb_config *cfg, const bool *want, int64_t lo, int64_t hi,
                       void *const *bufs, double *scratch) {
  const qb_grid *g = &cfg->grid;
  const qb_axis *fast = &g->axes[g->ndim - 1];
  double p[QB_MAX_PARAMS];
  int64_t idx[QB_MAX_AXES];
  memcpy(p, cfg->fixed, sizeof p);
  for (int64_t j = lo; j < hi;) {
    qb_grid_unflatten(g, j, idx);
    for (int d = 0; d < g->ndim - 1; d++)
      p[g->axes[d].param] = g->axes[d].values[idx[d]];
    const int64_t i = idx[g->ndim - 1];
    int64_t n = fast->n - i < hi - j ? fast->n - i : hi - j;
    if (n > QB_ROW_CHUNK) n = QB_ROW_CHUNK;
    qb_model_eval_row(cfg->model, p, fast->param, fast->values + i, (int)n, want, scratch);
    store_rows(cfg, scratch, n, j - lo, bufs);
    j += n;
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

/* Collective.  Writes every rank's points `ps` as the group of pass `which`, each rank's rows
 * placed after the lower ranks' (exclusive scan), so the order is the units' order. */
static qb_err write_points(const qb_config *cfg, const char *path, const qb_h5_token *tok,
                           qb_post_pass which, qb_pointset *ps, int64_t evals, double seconds,
                           char *msg, size_t msgsize) {
  int64_t off, total, rej_off, rej_total, ev_off, ev_total;
  qb_par_exscan(ps->n, &off, &total);
  qb_par_exscan(ps->rejected, &rej_off, &rej_total);
  qb_par_exscan(evals, &ev_off, &ev_total);
  qb_post_group G;
  qb_post_describe(cfg, which, ps, rej_total, ev_total, &G);
  char detail[2048] = "";
  qb_err err = qb_par_rank() == 0 ? qb_h5_create_group(path, tok, G.group, total, G.ncols, G.cols,
                                                       G.nattrs, G.attrs, detail, sizeof detail)
                                  : QB_OK;
  if (!(err = qb_par_agree_msg(err, detail, sizeof detail)))
    err = qb_h5_write_group(path, tok, G.group, off, ps->n, G.ncols, G.cols, detail, sizeof detail);
  if (err)
    snprintf(msg, msgsize, "writing post-pass group /%s to '%s' failed: %s", G.group, path, detail);
  if (!err && qb_par_rank() == 0) {
    printf("qbmap: /%s: %lld %s", G.group, (long long)total, G.rows_are);
    if (which == QB_POST_ADAPTIVE) printf(" (%lld evaluations)", (long long)ev_total);
    if (rej_total) printf(", %lld candidates rejected", (long long)rej_total);
    printf(" in %.2f s\n", seconds);
    fflush(stdout);
  }
  return err;
}

/* Collective.  The uniform post-pass `which`: a contiguous range of units per rank. */
static qb_err uniform_pass(const qb_config *cfg, const char *path, const qb_h5_token *tok,
                           qb_post_pass which, char *msg, size_t msgsize) {
  const double t0 = qb_par_time();
  int64_t units = which == QB_POST_EP ? qb_post_ep_units(cfg) : qb_post_boundary_units(cfg), lo, hi;
  qb_grid_split(units, qb_par_size(), qb_par_rank(), &lo, &hi);
  qb_pointset ps = {0};
  qb_err err =
      which == QB_POST_EP ? qb_post_eps(cfg, lo, hi, &ps) : qb_post_boundaries(cfg, lo, hi, &ps);
  if ((err = qb_par_agree(err)))
    snprintf(msg, msgsize, "out of memory in the %s pass", which == QB_POST_EP ? "EP" : "boundary");
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
  qb_grid_split(merged.n, qb_par_size(), qb_par_rank(), lo, hi);
  return QB_OK;
}

/* Collective.  Adaptive mode: refine coarse cells (a contiguous range per rank), merge the
 * candidate records of all ranks, then refine a contiguous share of them per rank. */
static qb_err adaptive_pass(const qb_config *cfg, const char *path, const qb_h5_token *tok,
                            char *msg, size_t msgsize) {
  const double t0 = qb_par_time();
  int64_t lo, hi, evals = 0;
  qb_grid_split(qb_post_adaptive_units(cfg), qb_par_size(), qb_par_rank(), &lo, &hi);
  qb_recs rec[3] = {{0}};
  qb_err err = qb_post_adaptive(cfg, lo, hi, &rec[0], &rec[1], &rec[2], &evals);
  if ((err = qb_par_agree(err))) {
    snprintf(msg, msgsize, "out of memory in the adaptive pass");
    goto cleanup;
  }
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
      err = write_points(cfg, path, tok, (qb_post_pass)k, &ps, k == 2 ? evals : 0,
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
  const int nranks = qb_par_size();
  qb_err err = QB_OK;
  for (int64_t r = 0; r < qb_grid_nrounds(nleft, nranks) && !err; r++) {
    int64_t i = qb_grid_round_item(nleft, nranks, qb_par_rank(), r), lo = 0, hi = 0;
    if (i >= 0) qb_grid_block_range(cfg->grid.npoints, bpoints, left[i], &lo, &hi);
    err = qb_h5_fill_block(h, lo, hi, msg, msgsize);
  }
  return err;
}

/* One run of the sweep: what every step below shares.  pending[0 .. npending) are the blocks
 * without data at the start, dealt in rounds (qb_grid_round_item); pending[0 .. committed) are
 * marked done in the file. */
typedef struct {
  const qb_config *cfg;
  const qb_sweep_opts *o;
  qb_h5 *h;
  qb_h5_state st;
  qb_h5_token tok;
  int lockfd;
  int64_t bpoints, nblocks, *pending, npending, committed;
  void *bufs[QB_MAX_FIELDS];
  double *scratch; /* QB_ROW_CHUNK rows of the model's fields (eval_block) */
  bool want[QB_MAX_FIELDS];
  double t0, t_eval, t_write; /* rank 0's split of its time, for the report */
} sweep;

/* Collective.  Rank 0 takes the output's lock (held to the end: a second run on the same output
 * fails at once instead of sharing its files) and opens or creates the output; every rank then
 * learns the blocks, allocates its buffers and lists the pending blocks.  *complete: the file
 * was complete already. */
static qb_err sweep_setup(sweep *S, bool *complete, char *msg, size_t msgsize) {
  const int rank = qb_par_rank();
  int64_t info[3] = {0};
  qb_err err = QB_OK;
  if (rank == 0) {
    err = qb_h5_lock(S->o->output, &S->lockfd, msg, msgsize);
    if (!err) err = open_output(S->cfg, S->o, &S->st, &S->tok, msg, msgsize);
    info[0] = S->st.block_points, info[1] = S->st.nblocks, info[2] = S->st.complete;
  }
  if ((err = qb_par_agree_msg(err, msg, msgsize))) return err;
  qb_par_bcast_bytes(info, sizeof info, 0);
  qb_par_bcast_bytes(&S->tok, sizeof S->tok, 0);
  S->bpoints = info[0], S->nblocks = info[1], *complete = info[2] != 0;
  if (*complete) return QB_OK;
  if (rank != 0 && !(S->st.done = calloc((size_t)S->nblocks, 1))) err = QB_ENOMEM;
  S->pending = malloc((size_t)(S->nblocks > 0 ? S->nblocks : 1) * sizeof *S->pending);
  S->scratch = malloc((size_t)QB_ROW_CHUNK * QB_MAX_FIELDS * sizeof *S->scratch);
  if (!S->pending || !S->scratch) err = QB_ENOMEM;
  for (int k = 0; k < S->cfg->nfields && !err; k++)
    if (!(S->bufs[k] = malloc((size_t)S->bpoints * sizeof(double)))) err = QB_ENOMEM;
  if (err)
    snprintf(msg, msgsize,
             "out of memory for %lld blocks of %lld points and %d fields (%.3g bytes per rank); "
             "allowed: a smaller --block-points",
             (long long)S->nblocks, (long long)S->bpoints, S->cfg->nfields,
             9.0 * (double)S->nblocks + 8.0 * (double)S->bpoints * S->cfg->nfields);
  if ((err = qb_par_agree_msg(err, msg, msgsize))) return err;
  qb_par_bcast_bytes(S->st.done, S->nblocks, 0);
  for (int64_t b = 0; b < S->nblocks; b++)
    if (!S->st.done[b]) S->pending[S->npending++] = b;
  return QB_OK;
}

/* Local (rank 0 prints): the run's one-line summary before the sweep. */
static void announce(const sweep *S) {
  const qb_grid *g = &S->cfg->grid;
  const int nranks = qb_par_size();
  if (qb_par_rank() != 0) return;
  char shape[256] = "";
  for (int d = 0; d < g->ndim; d++)
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%s[%lld]", d ? " x " : "",
             g->axes[d].name, (long long)g->axes[d].n);
  printf("qbmap: model %s, %s = %lld points, %d fields, %lld blocks of <= %lld points, %d "
         "rank%s -> %s\n",
         S->cfg->model->name, shape, (long long)g->npoints, S->cfg->nfields, (long long)S->nblocks,
         (long long)S->bpoints, nranks, nranks > 1 ? "s" : "", S->o->output);
  fflush(stdout);
}

/* Collective.  Flushes the file and marks done every block dealt up to round r (agreed). */
static qb_err commit(sweep *S, int64_t r, const char **step, char *detail, size_t dsize) {
  *step = "flushing";
  qb_err err = qb_h5_flush(S->h, detail, dsize);
  if (err) return err;
  /* flushed on every rank: from now on these blocks count as done, also if writing their
   * flags fails (the file may hold them anyway), so the NaN fill never touches them */
  int64_t end = qb_grid_rounds_end(S->npending, qb_par_size(), r);
  for (int64_t k = S->committed; k < end; k++)
    S->st.done[S->pending[k]] = 1;
  *step = "committing";
  err = qb_h5_write_done(S->h, qb_par_rank() == 0 ? S->st.done : NULL, S->nblocks, detail, dsize);
  if (!err) S->committed = end;
  return err;
}

/* Collective.  The rounds: each rank evaluates its block of the round, all write it together;
 * every step returns the status agreed by all ranks, so the ranks leave the loop together.  Done
 * flags are written after a flush that succeeded on every rank, for every block finished since
 * the previous one; flushes (fsync) happen every flush_s seconds, as rank 0's clock decides, at
 * the end, and when a signal asks the ranks to stop (*stop). */
static qb_err sweep_rounds(sweep *S, int *stop, char *msg, size_t msgsize) {
  const qb_grid *g = &S->cfg->grid;
  const int rank = qb_par_rank(), nranks = qb_par_size();
  const int64_t nrounds = qb_grid_nrounds(S->npending, nranks);
  const int64_t already = S->nblocks - S->npending;
  double last = S->t0, last_flush = S->t0;
  char detail[2048] = "";
  qb_err err = QB_OK;
  for (int64_t r = 0; r < nrounds && !*stop; r++) {
    if (r == 1) test_gate("round");
    int64_t i = qb_grid_round_item(S->npending, nranks, rank, r), lo = 0, hi = 0;
    double ta = qb_par_time();
    if (i >= 0) {
      qb_grid_block_range(g->npoints, S->bpoints, S->pending[i], &lo, &hi);
      eval_block(S->cfg, S->want, lo, hi, S->bufs, S->scratch);
    }
    double tb = qb_par_time();
    const char *step = "writing";
    err = qb_h5_write_block(S->h, lo, hi, S->bufs, detail, sizeof detail);
    int ctl[2] = {stop_requested, r + 1 == nrounds || tb - last_flush >= S->o->flush_s};
    qb_par_bcast_int(&ctl[1], 0);
    *stop = qb_par_agree(ctl[0] ? QB_ECHECKPOINT : QB_OK) != QB_OK;
    if ((ctl[1] || *stop) && !err) {
      err = commit(S, r, &step, detail, sizeof detail);
      last_flush = qb_par_time();
    }
    S->t_eval += tb - ta;
    S->t_write += qb_par_time() - tb;
    if (err) {
      snprintf(msg, msgsize, "%s round %lld of %lld to '%s' failed: %s", step, (long long)r + 1,
               (long long)nrounds, S->o->output, detail);
      break;
    }
    double now = qb_par_time();
    if (rank == 0 && now - last >= S->o->progress_s && r + 1 < nrounds && !*stop) {
      int64_t blocks = already + (r + 1) * nranks;
      progress(blocks * S->bpoints < g->npoints ? blocks * S->bpoints : g->npoints, g->npoints,
               now - S->t0);
      last = now;
    }
  }
  return err;
}

/* Collective.  Closes the grid's datasets.  After a graceful stop (signal, or a failed write
 * while the file is still writable) the blocks not marked done are first set to NaN, not left
 * 0 (errors there change nothing: the done mask is committed).  err: the sweep's status. */
static qb_err sweep_close(sweep *S, qb_err err, int stop, char *msg, size_t msgsize) {
  const int rank = qb_par_rank();
  if (stop || err) {
    char fmsg[2048] = "";
    int64_t nleft = 0; /* pending is done with: it now lists the blocks still without data */
    for (int64_t k = 0; k < S->npending; k++)
      if (!S->st.done[S->pending[k]]) S->pending[nleft++] = S->pending[k];
    qb_err ferr = fill_unfinished(S->h, S->cfg, S->pending, nleft, S->bpoints, fmsg, sizeof fmsg);
    if (ferr && rank == 0 && !err) {
      printf("qbmap: note: unfinished blocks could not be set to NaN: %s\n", fmsg);
      fflush(stdout);
    }
  }
  char detail[2048] = "";
  double tf = qb_par_time();
  qb_err ferr = qb_h5_finish(&S->h, detail, sizeof detail);
  S->t_write += qb_par_time() - tf;
  if (err) return err;
  if (ferr) {
    snprintf(msg, msgsize, "finishing '%s' failed: %s", S->o->output, detail);
    return ferr;
  }
  if (stop) {
    /* this segment's time, for wall_time_segments_s; a failure to record it leaves the
     * checkpoint as good as it is (only the time is missing) */
    if (qb_par_rank() == 0 &&
        qb_h5_mark_segment(S->o->output, &S->tok, qb_par_time() - S->t0, detail, sizeof detail)) {
      printf("qbmap: note: this run's wall time could not be recorded: %s\n", detail);
      fflush(stdout);
    }
    snprintf(msg, msgsize,
             "stopped by a signal after committing %lld of %lld blocks to '%s'; checkpointed, "
             "not finished: run the same command with --resume",
             (long long)(S->nblocks - S->npending + S->committed), (long long)S->nblocks,
             S->o->output);
    return QB_ECHECKPOINT;
  }
  return QB_OK;
}

/* Collective.  The post-passes the config asks for, each writing its group. */
static qb_err post_passes(const sweep *S, char *msg, size_t msgsize) {
  const qb_config *cfg = S->cfg;
  const char *out = S->o->output;
  if (cfg->adaptive_depth) return adaptive_pass(cfg, out, &S->tok, msg, msgsize);
  qb_err err = QB_OK;
  if (cfg->boundaries.on) err = uniform_pass(cfg, out, &S->tok, QB_POST_BOUNDARY, msg, msgsize);
  if (!err && cfg->eps.on) err = uniform_pass(cfg, out, &S->tok, QB_POST_EP, msg, msgsize);
  return err;
}

/* Collective.  Marks the file complete (rank 0) and reports the run's figures. */
static qb_err finish(sweep *S, double t_grid, char *msg, size_t msgsize) {
  const qb_grid *g = &S->cfg->grid;
  const int rank = qb_par_rank(), nranks = qb_par_size();
  double wall = qb_par_time() - S->t0;
  char detail[2048] = "";
  test_gate("complete");
  qb_err err =
      rank == 0 ? qb_h5_mark_complete(S->o->output, &S->tok, wall, detail, sizeof detail) : QB_OK;
  if ((err = qb_par_agree_msg(err, detail, sizeof detail))) {
    snprintf(msg, msgsize, "marking '%s' complete failed: %s", S->o->output, detail);
    return err;
  }
  /* rank 0's split of its time: evaluating vs inside collective writes (incl. waiting) */
  double rss = qb_par_max(qb_par_peak_rss_mib());
  if (rank == 0) {
    printf("qbmap: done: %lld points in %.2f s (%.3g points/s) on %d rank%s; complete file: %s\n"
           "qbmap: rank 0 time: evaluate %.2f s, write+flush %.2f s, post-passes %.2f s; peak "
           "RSS %.1f MiB (max over ranks)\n",
           (long long)g->npoints, wall, (double)g->npoints / t_grid, nranks, nranks > 1 ? "s" : "",
           S->o->output, S->t_eval, S->t_write, wall - t_grid, rss);
    fflush(stdout);
  }
  return QB_OK;
}

qb_err qb_sweep_run(const qb_config *cfg, const qb_sweep_opts *o, char *msg, size_t msgsize) {
  sweep S = {.cfg = cfg, .o = o, .lockfd = -1, .t0 = qb_par_time()};
  for (int k = 0; k < cfg->nfields; k++)
    S.want[cfg->fields[k]] = true;
  bool complete = false;
  char detail[2048] = "";
  qb_err err = sweep_setup(&S, &complete, msg, msgsize);
  if (err) goto cleanup;
  if (complete) {
    if (qb_par_rank() == 0) printf("qbmap: %s is complete: nothing to do\n", o->output);
    goto cleanup;
  }
  announce(&S);
  if ((err = qb_h5_open(o->output, cfg, &S.tok, &S.h, detail, sizeof detail))) {
    snprintf(msg, msgsize, "opening '%s' for writing failed: %s", o->output, detail);
    goto cleanup;
  }
  int stop = 0;
  err = sweep_rounds(&S, &stop, msg, msgsize);
  if ((err = sweep_close(&S, err, stop, msg, msgsize))) goto cleanup;
  const double t_grid = qb_par_time() - S.t0;
  test_gate("post");
  if ((err = post_passes(&S, msg, msgsize))) goto cleanup;
  err = finish(&S, t_grid, msg, msgsize);
cleanup:
  qb_h5_close(&S.h);
  if (qb_par_rank() == 0) qb_h5_unlock(o->output, &S.lockfd);
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    free(S.bufs[k]);
  free(S.pending);
  free(S.scratch);
  free(S.st.done);
  return err;
}
