/* qb_grid: decomposition and flat-range boxes.  Exhaustive over small shapes: the boxes of
 * [lo, hi) cover exactly those flat indices, in flat order, at most 2*ndim - 1 of them; every
 * block goes to exactly one (rank, round), including ranks without work. */
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
      int ok = nb <= 2 * ndim - 1;
      for (int b = 0; b < nb && ok; b++) {
        /* enumerate the box in row-major order and check it continues the range */
        int64_t idx[QB_MAX_AXES], cnt = 1;
        for (int d = 0; d < ndim; d++)
          cnt *= boxes[b].count[d], idx[d] = 0;
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

int main(void) {
  int64_t s1[] = {7}, s2[] = {3, 5}, s3[] = {2, 3, 4}, s4[] = {2, 1, 3, 2};
  test_boxes(1, s1);
  test_boxes(2, s2);
  test_boxes(3, s3);
  test_boxes(4, s4);

  for (int64_t nblocks = 0; nblocks < 30; nblocks++)
    for (int nranks = 1; nranks <= 9; nranks++) {
      int seen[64] = {0}, ok = 1;
      int64_t rounds = qb_grid_nrounds(nblocks, nranks);
      for (int r = 0; r < nranks; r++)
        for (int64_t k = 0; k < rounds; k++) {
          int64_t b = qb_grid_round_block(nblocks, nranks, r, k);
          if (b >= 0) ok &= b < nblocks && !seen[b]++;
        }
      for (int64_t b = 0; b < nblocks; b++)
        ok &= seen[b] == 1;
      CHECK("every block dealt exactly once", ok, "nblocks=%lld nranks=%d", (long long)nblocks,
            nranks);
    }

  int64_t big[] = {100000, 100000, 100000, 1000}, huge[] = {1LL << 32, 1LL << 32};
  CHECK("64-bit count", qb_grid_count(4, big) == 1000000000000000000LL, "count");
  CHECK("overflow detected", qb_grid_count(2, huge) == -1 && qb_grid_count(3, big) > 0, "count");

  qb_grid g = {.ndim = 2};
  g.axes[0].n = 10;
  g.axes[1].n = 801;
  CHECK("block = whole rows", qb_grid_block_points(&g, 16384) == 20 * 801, "rows");
  g.axes[1].n = 100000;
  CHECK("block within a long row", qb_grid_block_points(&g, 16384) == 16384, "long row");
  int64_t lo, hi;
  qb_grid_block_range(1000, 300, 3, &lo, &hi);
  CHECK("last block is short", lo == 900 && hi == 1000, "lo=%lld hi=%lld", (long long)lo,
        (long long)hi);
  int64_t idx[2];
  g.axes[1].n = 801;
  qb_grid_unflatten(&g, 5 * 801 + 7, idx);
  CHECK("unflatten", idx[0] == 5 && idx[1] == 7, "idx");
  CHECK("axis end points exact",
        qb_grid_axis_value(QB_AXIS_LOG, 1e-8, 1e4, 7, 6) == 1e4 &&
            qb_grid_axis_value(QB_AXIS_LIN, -2, 2, 801, 400) == 0,
        "ends");
  return qb_test_report("grid");
}
