/* Post-passes on model ep (serial; the MPI split is tested by mpi_identical):
 *   boundary  alpha = 0, gamma_b = 0.5, delta_r spacing 1e-2: crossings at |delta_r| = sqrt(3)/2
 *             to 1e-12; on (alpha, delta_r) grids for gamma_b in {0.5, 1, 1.5} every crossing
 *             satisfies delta_r^2 = s^2 (1 - ga gb)/(ga gb) to 1e-11; along alpha at
 *             delta_r = 0 the crossing is alpha_c = (1 - gb^2)/(2 gb) to 1e-12;
 *   eps       EPs at (alpha, delta_r) = (0, +-1) to 1e-12 in every gamma_b slice, winding +-1,
 *             none elsewhere on a 1000 x 1000 grid; the same with the EPs on grid points;
 *   split     results of unit ranges [0, k) + [k, n) equal the whole range, for any k;
 *   adaptive  mode adaptive (depth 6) finds the same boundary points (to 1e-11 of the span) and
 *             EPs as the uniform pass on the 2^6 times finer grid, evaluating < 5% of its points.
 * Usage: test_post [boundary|eps|split|adaptive|all] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_post.h"

static int parse(const char *yaml, qb_config *c) {
  char msg[2048];
  if (qb_config_parse(yaml, "test", NULL, 0, c, msg, sizeof msg)) {
    printf("config error: %s\n", msg);
    return 1;
  }
  return 0;
}

static int axis_of(const qb_config *c, const char *name) {
  for (int d = 0; d < c->grid.ndim; d++)
    if (!strcmp(c->grid.axes[d].name, name)) return d;
  return -1;
}

static void test_boundary(void) {
  qb_config c;
  qb_pointset s = {0};
  if (parse("model: ep\naxes:\n  - {name: delta_r, min: -2, max: 2, n: 401}\n"
            "fixed: {alpha: 0, gamma_b: 0.5}\nboundaries: {}\n",
            &c))
    return;
  qb_post_boundaries(&c, 0, qb_post_boundary_units(&c), &s);
  CHECK("two crossings at alpha = 0, gamma_b = 0.5", s.n == 2, "n=%lld", (long long)s.n);
  for (int64_t k = 0; k < s.n; k++)
    CHECK_CLOSE("|delta_r| = sqrt(3)/2", fabs(s.x[0][k]), sqrt(3.0) / 2, 0, 1e-12 * 4, "k=%lld",
                (long long)k);
  qb_pointset_free(&s);
  qb_config_free(&c);

  if (parse("model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
            "  - {name: alpha, min: -0.75, max: 1.0, n: 71}\n"
            "  - {name: delta_r, min: -2, max: 2, n: 81}\nboundaries: {axis: delta_r}\n",
            &c))
    return;
  qb_post_boundaries(&c, 0, qb_post_boundary_units(&c), &s);
  int ib = axis_of(&c, "gamma_b"), ia = axis_of(&c, "alpha"), id = axis_of(&c, "delta_r");
  printf("boundary: %lld crossings on the 3 x 71 x 81 grid\n", (long long)s.n);
  CHECK("crossings found", s.n > 100, "n=%lld", (long long)s.n);
  for (int64_t k = 0; k < s.n; k++) {
    double gb = s.x[ib][k], al = s.x[ia][k], dr = s.x[id][k], ga = gb + 2 * al, sm = al + gb;
    CHECK_CLOSE("delta_r^2 = s^2 (1 - ga gb)/(ga gb)", dr * dr, sm * sm * (1 - ga * gb) / (ga * gb),
                0, 1e-11, "gb=%g alpha=%.17g dr=%.17g", gb, al, dr);
  }
  qb_pointset_free(&s);
  qb_config_free(&c);

  for (double gb = 0.5; gb <= 1.5; gb += 0.5) {
    char y[512];
    snprintf(y, sizeof y,
             "model: ep\naxes:\n  - {name: alpha, min: -0.75, max: 1.0, n: 176}\n"
             "fixed: {delta_r: 0, gamma_b: %g}\nboundaries: {axis: alpha}\n",
             gb);
    if (parse(y, &c)) return;
    qb_post_boundaries(&c, 0, 1, &s);
    double ac = (1 - gb * gb) / (2 * gb);
    CHECK("one crossing along alpha", s.n == 1, "gb=%g n=%lld", gb, (long long)s.n);
    if (s.n == 1)
      CHECK_CLOSE("alpha_c = (1 - gb^2)/(2 gb)", s.x[0][0], ac, 0, 1e-12 * 1.75, "gb=%g", gb);
    qb_pointset_free(&s);
    qb_config_free(&c);
  }
}

static void check_eps(const char *yaml, const char *what) {
  qb_config c;
  qb_pointset s = {0};
  if (parse(yaml, &c)) return;
  qb_post_eps(&c, 0, qb_post_ep_units(&c), &s);
  int ib = axis_of(&c, "gamma_b"), ia = axis_of(&c, "alpha"), id = axis_of(&c, "delta_r");
  int64_t nslices = c.grid.axes[ib].n;
  CHECK("two EPs per gamma_b slice", s.n == 2 * nslices, "%s: n=%lld rejected=%lld", what,
        (long long)s.n, (long long)s.rejected);
  for (int64_t k = 0; k < s.n; k++) {
    CHECK_CLOSE("EP alpha = 0", s.x[ia][k], 0, 0, 1e-12, "%s k=%lld", what, (long long)k);
    CHECK_CLOSE("EP |delta_r| = 1", fabs(s.x[id][k]), 1, 0, 1e-12, "%s k=%lld", what, (long long)k);
    CHECK("winding +-1", abs(s.winding[k]) == 1, "%s k=%lld w=%d", what, (long long)k,
          s.winding[k]);
    CHECK("coalescence", s.splitting[k] < 1e-6 && s.overlap[k] > 1 - 1e-6, "%s split=%g ovl=%g",
          what, s.splitting[k], s.overlap[k]);
  }
  printf("eps (%s): %lld EPs, %lld candidates rejected\n", what, (long long)s.n,
         (long long)s.rejected);
  qb_pointset_free(&s);
  qb_config_free(&c);
}

static void test_eps(void) {
  /* 1000 x 1000 plane; alpha = 0 is not a grid value, delta_r = +-1 are not either */
  check_eps("model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
            "  - {name: alpha, min: -0.7503, max: 0.9991, n: 1000}\n"
            "  - {name: delta_r, min: -2.0013, max: 2.0007, n: 1000}\n"
            "eps: {axes: [delta_r, alpha]}\n",
            "1000 x 1000, off grid");
  /* the EPs exactly on grid points */
  check_eps("model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
            "  - {name: alpha, min: -0.75, max: 1.0, n: 351}\n"
            "  - {name: delta_r, min: -2.0, max: 2.0, n: 801}\n"
            "eps: {axes: [alpha, delta_r]}\n",
            "EPs on grid points");
}

static void test_split(void) {
  const char *y = "model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.5]}\n"
                  "  - {name: alpha, min: -0.75, max: 1.0, n: 41}\n"
                  "  - {name: delta_r, min: -2.0013, max: 2.0007, n: 57}\n"
                  "boundaries: {}\neps: {axes: [delta_r, alpha]}\n";
  qb_config c;
  if (parse(y, &c)) return;
  for (int pass = 0; pass < 2; pass++) {
    int64_t n = pass ? qb_post_ep_units(&c) : qb_post_boundary_units(&c);
    qb_pointset all = {0};
    pass ? qb_post_eps(&c, 0, n, &all) : qb_post_boundaries(&c, 0, n, &all);
    for (int64_t k = 1; k < n; k += 7) {
      qb_pointset a = {0}, b = {0};
      pass ? qb_post_eps(&c, 0, k, &a) : qb_post_boundaries(&c, 0, k, &a);
      pass ? qb_post_eps(&c, k, n, &b) : qb_post_boundaries(&c, k, n, &b);
      int same = a.n + b.n == all.n;
      for (int d = 0; d < c.grid.ndim && same; d++)
        same = !memcmp(a.x[d], all.x[d], (size_t)a.n * sizeof(double)) &&
               !memcmp(b.x[d], all.x[d] + a.n, (size_t)b.n * sizeof(double));
      CHECK("split ranges give the same points in the same order", same, "%s k=%lld",
            pass ? "eps" : "boundaries", (long long)k);
      qb_pointset_free(&a);
      qb_pointset_free(&b);
    }
    qb_pointset_free(&all);
  }
  qb_config_free(&c);
}

static void test_adaptive(void) {
  const int depth = 6;
  char coarse[1024], fine[1024];
  const char *tail = "boundaries: {axis: delta_r}\neps: {axes: [delta_r, alpha]}\n";
  snprintf(coarse, sizeof coarse,
           "model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
           "  - {name: alpha, min: -0.75, max: 1.0, n: 15}\n"
           "  - {name: delta_r, min: -2.0, max: 2.0, n: 21}\n%smode: adaptive\nmax_depth: %d\n",
           tail, depth);
  snprintf(fine, sizeof fine,
           "model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
           "  - {name: alpha, min: -0.75, max: 1.0, n: %d}\n"
           "  - {name: delta_r, min: -2.0, max: 2.0, n: %d}\n%s",
           14 * 64 + 1, 20 * 64 + 1, tail);
  qb_config ca, cf;
  if (parse(coarse, &ca) || parse(fine, &cf)) return;
  qb_recs rb = {0}, re = {0}, rp = {0};
  int64_t evals = 0;
  qb_post_adaptive(&ca, 0, qb_post_adaptive_units(&ca), &rb, &re, &rp, &evals);
  qb_recs_sort_unique(&rb);
  qb_recs_sort_unique(&re);
  qb_recs_sort_unique(&rp);
  qb_pointset ab = {0}, ae = {0}, ub = {0}, ue = {0};
  qb_post_adaptive_boundaries(&ca, rb.v, rb.n, &ab);
  qb_post_adaptive_eps(&ca, re.v, re.n, &ae);
  qb_post_boundaries(&cf, 0, qb_post_boundary_units(&cf), &ub);
  qb_post_eps(&cf, 0, qb_post_ep_units(&cf), &ue);
  int64_t uniform = cf.grid.npoints;
  printf("adaptive: depth %d: %lld evaluations (%lld distinct points) vs %lld points of the "
         "uniform grid (%.2f%%); %lld vs %lld boundary points, %lld vs %lld EPs\n",
         depth, (long long)evals, (long long)rp.n, (long long)uniform,
         100.0 * (double)evals / (double)uniform, (long long)ab.n, (long long)ub.n, (long long)ae.n,
         (long long)ue.n);
  CHECK("evaluations < 5% of the uniform grid", evals < uniform / 20, "%lld of %lld",
        (long long)evals, (long long)uniform);
  CHECK("same number of boundary points", ab.n == ub.n, "%lld vs %lld", (long long)ab.n,
        (long long)ub.n);
  CHECK("same number of EPs", ae.n == ue.n && ae.n == 6, "%lld vs %lld", (long long)ae.n,
        (long long)ue.n);
  double worst = 0;
  for (int64_t k = 0; k < ab.n && ab.n == ub.n; k++)
    for (int d = 0; d < 3; d++)
      worst = fmax(worst, fabs(ab.x[d][k] - ub.x[d][k]));
  CHECK("boundary points agree to 1e-11 of the span", worst <= 4e-11, "worst %g", worst);
  for (int64_t k = 0; k < ae.n && ae.n == ue.n; k++)
    for (int d = 0; d < 3; d++)
      CHECK_CLOSE("EP coordinates", ae.x[d][k], ue.x[d][k], 0, 1e-12, "k=%lld d=%d", (long long)k,
                  d);
  qb_pointset_free(&ab);
  qb_pointset_free(&ae);
  qb_pointset_free(&ub);
  qb_pointset_free(&ue);
  qb_recs_free(&rb);
  qb_recs_free(&re);
  qb_recs_free(&rp);
  qb_config_free(&ca);
  qb_config_free(&cf);
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "all";
  int all = !strcmp(which, "all");
  if (all || !strcmp(which, "boundary")) test_boundary();
  if (all || !strcmp(which, "eps")) test_eps();
  if (all || !strcmp(which, "split")) test_split();
  if (all || !strcmp(which, "adaptive")) test_adaptive();
  return qb_test_report(which);
}
