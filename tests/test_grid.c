/* qb_grid: the work decomposition the sweep and the post-passes really use.
 *   boxes    exhaustive over small shapes: the boxes of [lo, hi) cover exactly those flat
 *            indices, in flat order, at most 2*ndim - 1 of them; none for an empty range;
 *   unflatten  every flat index of small shapes gives its row-major multi-index, and the
 *            sweep's odometer started at unflatten(lo) visits unflatten(lo + j);
 *   blocks   qb_grid_block_points: whole rows of about `target` points (one row at least, target
 *            points inside a row longer than 4*target); the blocks of qb_grid_block_range tile
 *            [0, npoints), the last one short;
 *   deal     the sweep's round deal of the pending (not done) blocks, as src/qb_sweep.c does
 *            it: qb_grid_nrounds, qb_grid_round_item (round r gives rank k pending[r*nranks + k],
 *            none past the end), qb_grid_rounds_end for the commit, written through
 * qb_grid_block_range and qb_grid_range_boxes; over small grids, block sizes, done masks and 1..9
 * ranks: every point of a pending block written exactly once, none of a done block, no empty round,
 * blocks committed after round r are exactly those written so far; ranks without work (fewer
 * pending blocks than ranks, short last rounds) occur; range    qb_grid_split (the post-passes'
 * split): contiguous ranges in rank order covering [0, nunits), sizes differing by at most one
 * (larger first), empty ranges for ranks beyond nunits; counts   64-bit counts, overflow, axis end
 * points. Usage: test_grid (no argument) */
#include <stdlib.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_grid.h"

static void test_boxes(int ndim, const int64_t *shape) {
  int64_t n = qb_grid_count(ndim, shape);
  for (int64_t lo = 0; lo <= n; lo++)
    for (int64_t hi = lo; hi <= n; hi++) {
      qb_box boxes[2 * QB_MAX_AXES];
      int nb = qb_grid_range_boxes(ndim, shape, lo, hi, boxes);
      int64_t next = lo, covered = 0;
      int ok = nb <= 2 * ndim - 1 && (hi > lo || nb == 0);
      for (int b = 0; b < nb && ok; b++) {
        /* enumerate the box in row-major order and check it continues the range */
        int64_t idx[QB_MAX_AXES], cnt = 1;
        for (int d = 0; d < ndim; d++) {
          ok &= boxes[b].count[d] >= 1 && boxes[b].start[d] >= 0 &&
                boxes[b].start[d] + boxes[b].count[d] <= shape[d];
          cnt *= boxes[b].count[d], idx[d] = 0;
        }
        for (int64_t k = 0; k < cnt && ok; k++) {
          int64_t flat = 0;
          for (int d = 0; d < ndim; d++)
            flat = flat * shape[d] + boxes[b].start[d] + idx[d];
          ok = flat == next++;
          for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < boxes[b].count[d]) break;
            idx[d] = 0;
          }
        }
        covered += cnt;
      }
      CHECK("boxes cover [lo, hi) in order", ok && covered == hi - lo,
            "ndim=%d lo=%lld hi=%lld nb=%d", ndim, (long long)lo, (long long)hi, nb);
    }
}

static void set_shape(qb_grid *g, int ndim, const int64_t *shape) {
  memset(g, 0, sizeof *g);
  g->ndim = ndim;
  for (int d = 0; d < ndim; d++)
    g->axes[d].n = shape[d];
  g->npoints = qb_grid_count(ndim, shape);
}

/* unflatten vs the row-major definition, and the sweep's odometer (eval_block) from any lo. */
static void test_unflatten(int ndim, const int64_t *shape) {
  qb_grid g;
  set_shape(&g, ndim, shape);
  int ok = 1;
  for (int64_t flat = 0; flat < g.npoints && ok; flat++) {
    int64_t idx[QB_MAX_AXES], back = 0;
    qb_grid_unflatten(&g, flat, idx);
    for (int d = 0; d < ndim; d++) {
      ok &= idx[d] >= 0 && idx[d] < shape[d];
      back = back * shape[d] + idx[d];
    }
    ok &= back == flat;
  }
  CHECK("unflatten = row-major multi-index", ok, "ndim=%d", ndim);
  ok = 1;
  for (int64_t lo = 0; lo < g.npoints && ok; lo++) {
    int64_t idx[QB_MAX_AXES], ref[QB_MAX_AXES];
    qb_grid_unflatten(&g, lo, idx);
    for (int64_t j = 0; lo + j < g.npoints && ok; j++) {
      qb_grid_unflatten(&g, lo + j, ref);
      ok = !memcmp(idx, ref, (size_t)ndim * sizeof *idx);
      for (int d = ndim - 1; d >= 0; d--) { /* as eval_block in src/qb_sweep.c */
        if (++idx[d] < g.axes[d].n) break;
        idx[d] = 0;
      }
    }
  }
  CHECK("odometer from unflatten(lo) visits unflatten(lo + j)", ok, "ndim=%d", ndim);
}

static void test_blocks(void) {
  /* whole rows of the fastest axis, at least one row, `target` points in a row > 4*target */
  for (int64_t row = 1; row <= 70; row++)
    for (int64_t target = 1; target <= 40; target++) {
      int64_t shape[2] = {3, row};
      qb_grid g;
      set_shape(&g, 2, shape);
      int64_t bp = qb_grid_block_points(&g, target);
      int ok = row > 4 * target ? bp == target /* inside a long row */
                                : bp % row == 0 && bp >= row && (bp <= target || bp == row) &&
                                      bp + row > target; /* most whole rows within target */
      CHECK("block points", ok, "row=%lld target=%lld: %lld", (long long)row, (long long)target,
            (long long)bp);
    }
  qb_grid g = {.ndim = 2};
  g.axes[0].n = 10;
  g.axes[1].n = 801;
  CHECK("block = whole rows", qb_grid_block_points(&g, 16384) == 20 * 801, "rows");
  g.axes[1].n = 100000;
  CHECK("block within a long row", qb_grid_block_points(&g, 16384) == 16384, "long row");
  g.axes[1].n = 4 * 16384;
  CHECK("a row of exactly 4*target is one block", qb_grid_block_points(&g, 16384) == 4 * 16384,
        "4 target");
  g.ndim = 1;
  g.axes[0].n = 5;
  CHECK("1-D grid: whole grid per block", qb_grid_block_points(&g, 100) == 100 / 5 * 5, "1-D");

  /* blocks tile [0, npoints): contiguous, bpoints each, the last one short */
  for (int64_t npoints = 1; npoints <= 60; npoints++)
    for (int64_t bp = 1; bp <= npoints + 2; bp++) {
      int64_t nblocks = (npoints + bp - 1) / bp, next = 0; /* as open_output */
      int ok = 1;
      for (int64_t b = 0; b < nblocks; b++) {
        int64_t lo, hi;
        qb_grid_block_range(npoints, bp, b, &lo, &hi);
        ok &= lo == next && hi > lo && (hi - lo == bp || (b == nblocks - 1 && hi - lo < bp));
        next = hi;
      }
      CHECK("blocks tile the grid", ok && next == npoints, "npoints=%lld bpoints=%lld",
            (long long)npoints, (long long)bp);
    }
  int64_t lo, hi;
  qb_grid_block_range(1000, 300, 3, &lo, &hi);
  CHECK("last block is short", lo == 900 && hi == 1000, "lo=%lld hi=%lld", (long long)lo,
        (long long)hi);
}

/* Done masks over nblocks blocks, by kind: none, all, every third, the first half, pseudo-random.
 */
static void make_done(int kind, int64_t nblocks, unsigned char *done) {
  unsigned s = 12345u + (unsigned)nblocks;
  for (int64_t b = 0; b < nblocks; b++) {
    s = s * 1103515245u + 12345u;
    int d = kind == 1   ? 1
            : kind == 2 ? b % 3 == 1
            : kind == 3 ? b < nblocks / 2
            : kind == 4 ? (int)((s >> 16) % 2)
                        : 0;
    done[b] = (unsigned char)d;
  }
}

static long zero_work_rounds, idle_ranks_only;

/* The sweep's loop (src/qb_sweep.c, qb_sweep_run) over every rank, without MPI and HDF5: the
 * writes go to `hits` through the boxes qb_h5_write_block would write. */
static void simulate_sweep(int ndim, const int64_t *shape, int64_t target, int kind, int nranks) {
  qb_grid g;
  set_shape(&g, ndim, shape);
  const int64_t bpoints = qb_grid_block_points(&g, target);
  const int64_t nblocks = (g.npoints + bpoints - 1) / bpoints;
  unsigned char *done = calloc((size_t)nblocks, 1), *done0 = calloc((size_t)nblocks, 1);
  int64_t *pending = malloc((size_t)nblocks * sizeof *pending);
  int *hits = calloc((size_t)g.npoints, sizeof *hits);
  QB_SETUP_ALLOC(done);
  QB_SETUP_ALLOC(done0);
  QB_SETUP_ALLOC(pending);
  QB_SETUP_ALLOC(hits);
  make_done(kind, nblocks, done);
  memcpy(done0, done, (size_t)nblocks);
  int64_t npending = 0;
  for (int64_t b = 0; b < nblocks; b++)
    if (!done[b]) pending[npending++] = b;
  const int64_t nrounds = qb_grid_nrounds(npending, nranks);
  int ok = 1, commit_ok = 1;
  /* no empty round, no block left over */
  ok &= nrounds >= 0 && nrounds * nranks >= npending &&
        (nrounds == 0 || (nrounds - 1) * nranks < npending);
  int64_t committed = 0;
  for (int64_t r = 0; r < nrounds; r++) {
    int idle = 0;
    for (int rank = 0; rank < nranks; rank++) {
      int64_t i = qb_grid_round_item(npending, nranks, rank, r), lo = 0, hi = 0;
      int64_t b = i >= 0 ? pending[i] : -1;
      ok &= i == (r * nranks + rank < npending ? r * nranks + rank : -1);
      if (b >= 0) {
        ok &= b < nblocks && !done0[b];
        qb_grid_block_range(g.npoints, bpoints, b, &lo, &hi);
      } else {
        idle++;
      }
      qb_box boxes[2 * QB_MAX_AXES];
      int nb = lo < hi ? qb_grid_range_boxes(ndim, shape, lo, hi, boxes) : 0; /* qb_h5.c */
      for (int k = 0; k < nb; k++) {
        int64_t idx[QB_MAX_AXES] = {0}, cnt = 1;
        for (int d = 0; d < ndim; d++)
          cnt *= boxes[k].count[d];
        for (int64_t j = 0; j < cnt; j++) {
          int64_t flat = 0;
          for (int d = 0; d < ndim; d++)
            flat = flat * shape[d] + boxes[k].start[d] + idx[d];
          if (flat >= lo && flat < hi)
            hits[flat]++;
          else
            ok = 0; /* a box outside the rank's block */
          for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < boxes[k].count[d]) break;
            idx[d] = 0;
          }
        }
      }
    }
    zero_work_rounds += idle > 0;
    ok &= idle < nranks; /* every round gives someone work */
    /* the commit after round r: pending[committed .. end) marked done; each of them written */
    int64_t end = qb_grid_rounds_end(npending, nranks, r);
    for (int64_t k = committed; k < end; k++) {
      int64_t lo, hi;
      qb_grid_block_range(g.npoints, bpoints, pending[k], &lo, &hi);
      for (int64_t f = lo; f < hi; f++)
        commit_ok &= hits[f] == 1;
      done[pending[k]] = 1;
    }
    committed = end;
  }
  if (npending > 0 && npending < nranks) idle_ranks_only++;
  /* every point of a pending block written once, none of a done block; everything done */
  for (int64_t b = 0; b < nblocks; b++) {
    int64_t lo, hi;
    qb_grid_block_range(g.npoints, bpoints, b, &lo, &hi);
    for (int64_t f = lo; f < hi; f++)
      ok &= hits[f] == (done0[b] ? 0 : 1);
    ok &= done[b] == 1;
  }
  CHECK("the sweep's deal writes every pending point once and commits only written blocks",
        ok && commit_ok && committed == npending,
        "ndim=%d npoints=%lld bpoints=%lld mask=%d nranks=%d", ndim, (long long)g.npoints,
        (long long)bpoints, kind, nranks);
  free(done);
  free(done0);
  free(pending);
  free(hits);
}

static void test_deal(void) {
  int64_t s1[] = {7}, s2[] = {3, 5}, s3[] = {2, 3, 4}, s4[] = {2, 1, 3, 2}, s5[] = {1},
          s6[] = {4, 23};
  struct {
    int ndim;
    const int64_t *shape;
  } shapes[] = {{1, s1}, {2, s2}, {3, s3}, {4, s4}, {1, s5}, {2, s6}};
  const int64_t targets[] = {1, 2, 3, 5, 8, 30, 1000};
  for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++)
    for (size_t t = 0; t < sizeof targets / sizeof *targets; t++)
      for (int kind = 0; kind < 5; kind++)
        for (int nranks = 1; nranks <= 9; nranks++)
          simulate_sweep(shapes[k].ndim, shapes[k].shape, targets[t], kind, nranks);
  printf("deal: %ld rounds with ranks without work, %ld deals with fewer pending blocks than "
         "ranks\n",
         zero_work_rounds, idle_ranks_only);
  CHECK("ranks without work were exercised", zero_work_rounds > 1000 && idle_ranks_only > 1000,
        "%ld rounds, %ld deals", zero_work_rounds, idle_ranks_only);
  CHECK("nrounds of 0 blocks", qb_grid_nrounds(0, 4) == 0, "0");
  CHECK("nrounds uneven",
        qb_grid_nrounds(9, 4) == 3 && qb_grid_nrounds(8, 4) == 2 && qb_grid_nrounds(3, 4) == 1 &&
            qb_grid_nrounds(5, 1) == 5,
        "uneven");
}

static void test_range(void) {
  for (int64_t n = 0; n <= 40; n++)
    for (int nranks = 1; nranks <= 9; nranks++) {
      int64_t next = 0, prev_size = -1;
      int ok = 1;
      for (int rank = 0; rank < nranks; rank++) {
        int64_t lo, hi;
        qb_grid_split(n, nranks, rank, &lo, &hi);
        int64_t size = hi - lo;
        ok &= lo == next && size >= 0 && size >= n / nranks && size <= n / nranks + 1;
        ok &= prev_size < 0 || size <= prev_size; /* larger ranges first */
        ok &= rank < n || size == 0;              /* more ranks than units: empty ranges */
        prev_size = size;
        next = hi;
      }
      CHECK("qb_grid_split: contiguous, even split in rank order", ok && next == n,
            "n=%lld nranks=%d", (long long)n, nranks);
    }
  int64_t lo, hi;
  qb_grid_split(10, 4, 1, &lo, &hi);
  CHECK("qb_grid_split 10 over 4: rank 1 gets [3, 6)", lo == 3 && hi == 6, "lo=%lld hi=%lld",
        (long long)lo, (long long)hi);
  qb_grid_split(10, 4, 3, &lo, &hi);
  CHECK("qb_grid_split 10 over 4: rank 3 gets [8, 10)", lo == 8 && hi == 10, "lo=%lld hi=%lld",
        (long long)lo, (long long)hi);
  qb_grid_split(2, 4, 3, &lo, &hi);
  CHECK("qb_grid_split 2 over 4: rank 3 gets nothing", lo == hi, "lo=%lld hi=%lld", (long long)lo,
        (long long)hi);
}

int main(int argc, char **argv) {
  qb_test_no_args(argc, argv, "grid");
  int64_t s1[] = {7}, s2[] = {3, 5}, s3[] = {2, 3, 4}, s4[] = {2, 1, 3, 2};
  test_boxes(1, s1);
  test_boxes(2, s2);
  test_boxes(3, s3);
  test_boxes(4, s4);
  test_unflatten(1, s1);
  test_unflatten(2, s2);
  test_unflatten(3, s3);
  test_unflatten(4, s4);
  test_blocks();
  test_deal();
  test_range();

  int64_t big[] = {100000, 100000, 100000, 1000}, huge[] = {1LL << 32, 1LL << 32};
  CHECK("64-bit count", qb_grid_count(4, big) == 1000000000000000000LL, "count");
  CHECK("overflow detected", qb_grid_count(2, huge) == -1 && qb_grid_count(3, big) > 0, "count");
  int64_t idx[2];
  qb_grid g = {.ndim = 2};
  g.axes[0].n = 10;
  g.axes[1].n = 801;
  qb_grid_unflatten(&g, 5 * 801 + 7, idx);
  CHECK("unflatten", idx[0] == 5 && idx[1] == 7, "idx");
  CHECK("axis end points exact",
        qb_grid_axis_value(QB_AXIS_LOG, 1e-8, 1e4, 7, 6) == 1e4 &&
            qb_grid_axis_value(QB_AXIS_LIN, -2, 2, 801, 400) == 0,
        "ends");
  return qb_test_report("grid");
}
