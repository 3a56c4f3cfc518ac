/* Post-passes on model ep (serial; the MPI split is tested by mpi_identical):
 *   boundary  alpha = 0, gamma_b = 0.5, delta_r spacing 1e-2: crossings at |delta_r| = sqrt(3)/2
 *             to 1e-12; on (alpha, delta_r) grids for gamma_b in {0.5, 1, 1.5} every crossing
 *             satisfies delta_r^2 = s^2 (1 - ga gb)/(ga gb) to 1e-11, and the crossings are
 *             exactly the sign changes of the growth rate (eigenvalues computed here) between
 *             grid neighbours, one per bracket, in line order; along alpha at
 *             delta_r = 0 the crossing is alpha_c = (1 - gb^2)/(2 gb) to 1e-12;
 *   eps       EPs at (alpha, delta_r) = (0, +-1) to 1e-12 in every gamma_b slice, winding +-1,
 *             none elsewhere on a 1000 x 1000 grid; the same with the EPs on grid points;
 *   split     results of unit ranges [0, k) + [k, n) equal the whole range (every column,
 *             bitwise), for any k; the ranges of qb_grid_split (the sweep's split over ranks)
 *             likewise, for 1..9 ranks;
 *   adaptive  mode adaptive (depth 6) finds the same boundary points (to 1e-11 of the span) and
 *             EPs as the uniform pass on the 2^6 times finer grid, evaluating < 5% of its points.
 * Usage: test_post [boundary|eps|split|adaptive|all] */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_post.h"

/* A config the test needs: a parse failure is a setup failure, counted and printed. */
static int parse(const char *yaml, qb_config *c) {
  char msg[2048];
  if (qb_config_parse(yaml, "test", NULL, 0, c, msg, sizeof msg)) {
    QB_SETUP_FAIL("config does not parse: %s\n--- config:\n%s---", msg, yaml);
    return 1;
  }
  return 0;
}

/* A post-pass call that must succeed (it fails only on allocation). */
#define RUN(call)                                                                                  \
  do {                                                                                             \
    qb_err qb_e_ = (call);                                                                         \
    if (qb_e_ != QB_OK) QB_SETUP_FATAL("%s failed: error %d", #call, (int)qb_e_);                  \
  } while (0)

static int axis_of(const qb_config *c, const char *name) {
  for (int d = 0; d < c->grid.ndim; d++)
    if (!strcmp(c->grid.axes[d].name, name)) return d;
  return qb_test_index(-1, "axis", name);
}

static void test_boundary(void) {
  qb_config c;
  qb_pointset s = {0};
  if (parse("model: ep\naxes:\n  - {name: delta_r, min: -2, max: 2, n: 401}\n"
            "fixed: {alpha: 0, gamma_b: 0.5}\nboundaries: {}\n",
            &c))
    return;
  RUN(qb_post_boundaries(&c, 0, qb_post_boundary_units(&c), &s));
  CHECK("two crossings at alpha = 0, gamma_b = 0.5", s.n == 2, "n=%lld", (long long)s.n);
  for (int64_t k = 0; k < s.n; k++)
    CHECK_CLOSE("|delta_r| = sqrt(3)/2", fabs(s.x[0][k]), sqrt(3.0) / 2, 0, 1e-12 * 4, "k=%lld",
                (long long)k);
  qb_pointset_free(&s);
  qb_config_free(&c);

  /* off-grid ends: no grid point lies on the boundary, so the brackets are unambiguous */
  if (parse("model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
            "  - {name: alpha, min: -0.7503, max: 0.9991, n: 71}\n"
            "  - {name: delta_r, min: -2.0013, max: 2.0007, n: 81}\nboundaries: {axis: delta_r}\n",
            &c))
    return;
  RUN(qb_post_boundaries(&c, 0, qb_post_boundary_units(&c), &s));
  int ib = axis_of(&c, "gamma_b"), ia = axis_of(&c, "alpha"), id = axis_of(&c, "delta_r");
  printf("boundary: %lld crossings on the 3 x 71 x 81 grid\n", (long long)s.n);
  for (int64_t k = 0; k < s.n; k++) {
    double gb = s.x[ib][k], al = s.x[ia][k], dr = s.x[id][k], ga = gb + 2 * al, sm = al + gb;
    CHECK_CLOSE("delta_r^2 = s^2 (1 - ga gb)/(ga gb)", dr * dr, sm * sm * (1 - ga * gb) / (ga * gb),
                0, 1e-11, "gb=%g alpha=%.17g dr=%.17g", gb, al, dr);
  }
  /* the brackets, in line order, are exactly the sign changes of the growth rate computed here
   * from the eigenvalues of the drift [[-ga - i dr, 1], [1, -gb + i dr]] */
  {
    const qb_axis *B = &c.grid.axes[ib], *A = &c.grid.axes[ia], *D = &c.grid.axes[id];
    int64_t k = 0, expected = 0;
    int order_ok = 1;
    double gmin = INFINITY;
    for (int64_t i = 0; i < B->n; i++)
      for (int64_t j = 0; j < A->n; j++) {
        double gb = B->values[i], ga = gb + 2 * A->values[j], prev = NAN;
        for (int64_t l = 0; l < D->n; l++) {
          double dr = D->values[l];
          double complex tr = CMPLX(-ga - gb, 0), det = CMPLX(-ga, -dr) * CMPLX(-gb, dr) - 1;
          double complex sq = csqrt(tr * tr - 4 * det);
          double g = fmax(creal((tr + sq) / 2), creal((tr - sq) / 2));
          gmin = fmin(gmin, fabs(g));
          if (l > 0 && (g > 0) != (prev > 0)) {
            expected++;
            order_ok &= k < s.n && s.x[ib][k] == gb && s.x[ia][k] == A->values[j] &&
                        s.index[k] == l - 1 && s.x[id][k] > D->values[l - 1] && s.x[id][k] < dr;
            k++;
          }
          prev = g;
        }
      }
    if (!(gmin > 1e-9)) QB_SETUP_FAIL("a grid point lies on the boundary: |growth| = %g", gmin);
    CHECK("one crossing per sign change of the growth rate", s.n == expected && expected > 100,
          "n=%lld expected %lld", (long long)s.n, (long long)expected);
    CHECK("crossings in line order, inside their brackets", order_ok, "n=%lld", (long long)s.n);
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
    RUN(qb_post_boundaries(&c, 0, 1, &s));
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
  RUN(qb_post_eps(&c, 0, qb_post_ep_units(&c), &s));
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

/* b[0 .. n) == a[off .. off + n) bitwise, for an optional column (NULL in both or neither). */
static int same_col(const void *a, const void *b, int64_t off, int64_t n, size_t size) {
  if (!a || !b) return !a && !b;
  return n == 0 || !memcmp((const char *)a + (size_t)off * size, b, (size_t)n * size);
}

/* part == all[off .. off + part->n), every column. */
static int same_points(const qb_pointset *all, int64_t off, const qb_pointset *part, int ndim) {
  int64_t n = part->n;
  if (off + n > all->n) return 0;
  int same = part->rejected >= 0;
  for (int d = 0; d < ndim && same; d++)
    same = n == 0 || same_col(all->x[d], part->x[d], off, n, sizeof(double));
  return same && (n == 0 || (same_col(all->index, part->index, off, n, sizeof(int64_t)) &&
                             same_col(all->winding, part->winding, off, n, sizeof(int32_t)) &&
                             same_col(all->residual, part->residual, off, n, sizeof(double)) &&
                             same_col(all->splitting, part->splitting, off, n, sizeof(double)) &&
                             same_col(all->overlap, part->overlap, off, n, sizeof(double))));
}

static void test_split(void) {
  const char *y = "model: ep\naxes:\n  - {name: gamma_b, values: [0.5, 1.5]}\n"
                  "  - {name: alpha, min: -0.75, max: 1.0, n: 41}\n"
                  "  - {name: delta_r, min: -2.0013, max: 2.0007, n: 57}\n"
                  "boundaries: {}\neps: {axes: [delta_r, alpha]}\n";
  qb_config c;
  if (parse(y, &c)) return;
  for (int pass = 0; pass < 2; pass++) {
    const char *what = pass ? "eps" : "boundaries";
    int64_t n = pass ? qb_post_ep_units(&c) : qb_post_boundary_units(&c);
    qb_pointset all = {0};
    RUN(pass ? qb_post_eps(&c, 0, n, &all) : qb_post_boundaries(&c, 0, n, &all));
    /* 2 EPs per gamma_b slice; crossings on most of the 82 lines */
    CHECK("the whole range finds its points", pass ? all.n == 4 : all.n > 50, "%s n=%lld", what,
          (long long)all.n);
    for (int64_t k = 1; k < n; k += 7) {
      qb_pointset a = {0}, b = {0};
      RUN(pass ? qb_post_eps(&c, 0, k, &a) : qb_post_boundaries(&c, 0, k, &a));
      RUN(pass ? qb_post_eps(&c, k, n, &b) : qb_post_boundaries(&c, k, n, &b));
      int same = a.n + b.n == all.n && a.rejected + b.rejected == all.rejected &&
                 same_points(&all, 0, &a, c.grid.ndim) && same_points(&all, a.n, &b, c.grid.ndim);
      CHECK("split ranges give the same points in the same order", same, "%s k=%lld", what,
            (long long)k);
      qb_pointset_free(&a);
      qb_pointset_free(&b);
    }
    /* the sweep's split: qb_grid_split over 1..9 ranks, concatenated in rank order */
    for (int nranks = 1; nranks <= 9; nranks++) {
      int64_t off = 0, rejected = 0, next = 0;
      int same = 1;
      for (int rank = 0; rank < nranks; rank++) {
        int64_t lo, hi;
        qb_grid_split(n, nranks, rank, &lo, &hi);
        same &= lo == next && hi >= lo;
        next = hi;
        qb_pointset p = {0};
        RUN(pass ? qb_post_eps(&c, lo, hi, &p) : qb_post_boundaries(&c, lo, hi, &p));
        same &= same_points(&all, off, &p, c.grid.ndim);
        off += p.n, rejected += p.rejected;
        qb_pointset_free(&p);
      }
      CHECK("qb_grid_split split over ranks gives the same points",
            same && next == n && off == all.n && rejected == all.rejected, "%s nranks=%d", what,
            nranks);
    }
    qb_pointset_free(&all);
  }
  qb_config_free(&c);
}

/* Group g's attribute `name`; NULL (a failed check) if it has none. */
static const qb_h5_attr *attr_of(const qb_post_group *g, const char *name) {
  for (int k = 0; k < g->nattrs; k++)
    if (!strcmp(g->attrs[k].name, name)) return &g->attrs[k];
  CHECK("group attribute present", 0, "/%s has no attribute %s", g->group, name);
  return NULL;
}

/* The numbers among the groups' attributes are numeric (float64 level, int64 counts), with the
 * values the passes produced; the axis columns' long names are the parameters' short labels. */
static void check_describe(const qb_config *c, const qb_pointset *ab, const qb_pointset *ae,
                           const int64_t *rec, int64_t n, int64_t evals) {
  qb_post_group g;
  qb_pointset pts = {0};
  RUN(qb_post_adaptive_points(c, rec, n, &pts));
  qb_post_describe(c, QB_POST_ADAPTIVE, &pts, 0, evals, &g);
  const qb_h5_attr *a = attr_of(&g, "max_depth"), *e = attr_of(&g, "evaluations");
  CHECK("/adaptive max_depth: int64 attribute", a && a->type == QB_ATTR_I64 && a->i64 == 6, "%s",
        "max_depth");
  CHECK("/adaptive evaluations: int64 attribute", e && e->type == QB_ATTR_I64 && e->i64 == evals,
        "%s", "evaluations");
  CHECK("axis column long_name: the short label",
        !strcmp(g.cols[1].long_name, "damping asymmetry (fine-grid value)"), "'%s'",
        g.cols[1].long_name);
  qb_post_describe(c, QB_POST_BOUNDARY, ab, 3, 0, &g);
  const qb_h5_attr *l = attr_of(&g, "level"), *r = attr_of(&g, "brackets_not_refined");
  CHECK("/boundary level: float64 attribute", l && l->type == QB_ATTR_F64 && l->f64 == 0, "%s",
        "level");
  CHECK("/boundary brackets_not_refined: int64", r && r->type == QB_ATTR_I64 && r->i64 == 3, "%s",
        "brackets_not_refined");
  qb_post_describe(c, QB_POST_EP, ae, 5, 0, &g);
  const qb_h5_attr *j = attr_of(&g, "candidates_rejected");
  CHECK("/ep candidates_rejected: int64", j && j->type == QB_ATTR_I64 && j->i64 == 5, "%s",
        "candidates_rejected");
  qb_pointset_free(&pts);
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
  RUN(qb_post_adaptive(&ca, 0, qb_post_adaptive_units(&ca), &rb, &re, &rp, &evals));
  qb_recs_sort_unique(&rb);
  qb_recs_sort_unique(&re);
  qb_recs_sort_unique(&rp);
  qb_pointset ab = {0}, ae = {0}, ub = {0}, ue = {0};
  RUN(qb_post_adaptive_boundaries(&ca, rb.v, rb.n, &ab));
  RUN(qb_post_adaptive_eps(&ca, re.v, re.n, &ae));
  RUN(qb_post_boundaries(&cf, 0, qb_post_boundary_units(&cf), &ub));
  RUN(qb_post_eps(&cf, 0, qb_post_ep_units(&cf), &ue));
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
  check_describe(&ca, &ab, &ae, rp.v, rp.n, evals);
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
  const char *which = qb_test_select(argc, argv);
  QB_PART("boundary", test_boundary());
  QB_PART("eps", test_eps());
  QB_PART("split", test_split());
  QB_PART("adaptive", test_adaptive());
  return qb_test_report(which);
}
