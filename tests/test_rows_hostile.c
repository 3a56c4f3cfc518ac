/* Hostile tests of the row kernels (issue 12) against an independent __float128 reference.
 *
 * The reference: x(t) = int_0^t e^{Ms} f ds as the last column of exp(A t), A = [[M, f], [0, 0]]
 * (augmented, (n+1)x(n+1)), by scaling and squaring of a 40-term Taylor series in __float128
 * (eps 1.9e-34; f scaled to |M| so that the squarings follow |M| t), with M built in __float128
 * from the parameters (phases by cosq/sinq), and x'(t) = e^{Mt} f from the same exponential.
 * The reference is computed twice: from M built in quad, and from M built in double (the
 * input's own rounding, as the models build it) then widened: where the two differ by more than
 * 1% of a quantity's tolerance, the point is ill-conditioned to the input's rounding (or the
 * quad reference itself lost, at marginal modes with huge |M| t) and is counted, not judged.
 *
 * Checks at every time of every row:
 *   - the stated accuracy (qb_model.h, the models' headers): where a model reports E_A, E_B
 *     (finite), |E - E_ref| <= 1e-6 E_ref + 1e-10 (E_A_ref + E_B_ref) (+ the reference's
 *     sensitivity to the input's rounding: M's entries, and 4 ulps of t); P_B (shared) to 1e-6
 *     (2|b||b'| + 2|x||x'|); log_E_B (threemode) to 1e-6 max(1, |ln E_B|) where the reference
 *     resolves x_b relatively; an energy beyond the double range is inf (overflow bit) or NaN;
 *   - a NaN E_A, E_B (P_B, log_E_B) carries a failure bit (QB_PT_T_UNRESOLVED ...);
 *   - the row (qb_model_eval_row along t) is bitwise qb_model_eval at each point, for every field
 *     list tried (NULL, the energies alone, everything but P_B / log_E_B);
 *   - E_A, E_B are bitwise the same whatever else is in `want` (model shared: P_B wanted or
 *     not; threemode: log_E_B, the reduced fields wanted or not).
 * Parts shared, threemode: random adversarial points (rates log-uniform over 1e-3..10 or
 * 1e-6..1e6, some 0; couplings 1e-3..1e3, phases; shared exactly and near its EPs, Gamma = 0 and
 * phi = pi/2; threemode at and near EPs of the 3x3 drift found by Newton on the model's
 * discriminant, and marginal points: lossless a, b, no shared reservoir, p_ca = 0; drives
 * 1e-300, 1e300 or 1e-3..1e3; t = 0, 1e-10..1e8 / |M| or 1e-12..1e250).  Reports the worst error
 * relative to the tolerance and the worst relative error where well conditioned (E above 1e-6
 * of the total, sensitivity below 1e-12 of E; the target is 1e-10).
 * Parts stiff, extreme: pinned points, each a finding (see pinned()).
 * Usage: test_rows_hostile [shared|threemode|stiff|extreme|all [POINTS [SEED]]] (POINTS: per
 * model, default 600 shared, 250 threemode: ~15 s each) */
#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <quadmath.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_model.h"

#define PI 3.14159265358979323846
#define NT 14

static double lu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

static double pm(gsl_rng *r, double lo, double hi) {
  return gsl_rng_uniform(r) < 0.5 ? -lu(r, lo, hi) : lu(r, lo, hi);
}

static int pidx(const qb_model *m, const char *name) {
  int i = qb_model_param_index(m, name);
  if (i < 0) QB_SETUP_FATAL("model %s has no parameter %s", m->name, name);
  return i;
}

static int fidx(const qb_model *m, const char *name) {
  int i = qb_model_field_index(m, name);
  if (i < 0) QB_SETUP_FATAL("model %s has no field %s", m->name, name);
  return i;
}

#include "qb_quadref.h"

/* ---- adversarial points ---- */

static double coupling(gsl_rng *r) {
  return gsl_rng_uniform(r) < 0.3 ? 1.0 : lu(r, 1e-3, 1e3);
}

static double rate(gsl_rng *r, double lo, double hi, double pzero) {
  return gsl_rng_uniform(r) < pzero ? 0.0 : lu(r, lo, hi);
}

static bool shared_ep; /* the last shared_point is at or near an EP */

static void shared_point(gsl_rng *r, const qb_model *m, double *p) {
  const double lo = gsl_rng_uniform(r) < 0.5 ? 1e-3 : 1e-6, hi = lo == 1e-3 ? 10 : 1e6;
  P("Delta") = gsl_rng_uniform(r) < 0.2 ? 0 : pm(r, lo, hi);
  P("J") = rate(r, lo, hi, 0.1);
  P("phi") = -PI + 2 * PI * gsl_rng_uniform(r);
  P("Gamma") = rate(r, lo, hi, 0.15);
  P("p_a") = coupling(r), P("p_b") = coupling(r);
  if (P("Gamma") * fmax(P("p_a"), P("p_b")) * fmax(P("p_a"), P("p_b")) > 1e6) P("Gamma") = 1;
  P("p_a_phase") = gsl_rng_uniform(r) < 0.5 ? 0 : 6 * gsl_rng_uniform(r);
  P("p_b_phase") = gsl_rng_uniform(r) < 0.5 ? 0 : 6 * gsl_rng_uniform(r);
  P("kappa_a") = rate(r, lo, hi, 0.15);
  P("kappa_b") = rate(r, lo, hi, 0.15);
  const double u = gsl_rng_uniform(r);
  P("F") = u < 0.1 ? 1e-300 : u < 0.2 ? 1e300 : lu(r, 1e-3, 1e3);
  const double ka = P("kappa_a"), kb = P("kappa_b"), v = gsl_rng_uniform(r);
  shared_ep = v < 0.6;
  if (v < 0.6) { /* an EP, exactly or nearly */
    double J;
    if (v < 0.25) {
      P("Gamma") = 0;
      J = fabs(ka - kb) / 4;
    } else {
      P("p_a_phase") = P("p_b_phase") = 0;
      P("phi") = PI / 2;
      double G = P("Gamma"), pa = P("p_a"), pb = P("p_b");
      double d = (G * (pa * pa - pb * pb) + ka - kb) / 4;
      J = hypot(d, pa * pb * G / 2);
    }
    if (v > 0.4)
      J *= 1 + (gsl_rng_uniform(r) < 0.5 ? 1 : -1) * pow(10, -3 - 13 * gsl_rng_uniform(r));
    P("J") = fmin(J, 1e6);
  }
}

/* Newton on (delta, `second`) towards disc = 0 (an EP of the 3x3 drift), damped by 1/2; false
 * if it does not get there (eigenvector overlap below 0.999 or out of range). */
static bool newton_ep(const qb_model *m, double *p, const char *second) {
  const int id = pidx(m, "delta"), ic = pidx(m, second);
  const bool nonneg = m->params[ic].range != QB_ANY;
  for (int it = 0; it < 100; it++) {
    double complex d0 = m->disc(m, p);
    if (!isfinite(creal(d0))) return false;
    double x[2] = {p[id], p[ic]};
    double h[2] = {1e-7 * fmax(fabs(x[0]), 1e-3), 1e-7 * fmax(fabs(x[1]), 1e-3)};
    double complex dj[2];
    for (int k = 0; k < 2; k++) {
      double q[QB_MAX_PARAMS];
      memcpy(q, p, sizeof q);
      q[k ? ic : id] += h[k];
      dj[k] = (m->disc(m, q) - d0) / h[k];
    }
    /* [Re dj0 Re dj1; Im dj0 Im dj1] dx = -[Re d0; Im d0] */
    double a = creal(dj[0]), b = creal(dj[1]), c = cimag(dj[0]), d = cimag(dj[1]);
    double det = a * d - b * c;
    if (det == 0 || !isfinite(det)) return false;
    double dx0 = -(d * creal(d0) - b * cimag(d0)) / det,
           dx1 = -(-c * creal(d0) + a * cimag(d0)) / det;
    p[id] = x[0] + 0.5 * dx0, p[ic] = x[1] + 0.5 * dx1;
    if (nonneg && p[ic] < 0) p[ic] = 0.5 * x[1];
    if (!(fabs(p[id]) <= 1e6 && fabs(p[ic]) <= 1e6)) return false;
  }
  double sp, ov;
  m->coalescence(m, p, &sp, &ov);
  return ov > 0.999;
}

/* An EP near p: tuning (delta, kappa_c), else (delta, delta_c). */
static bool three_to_ep(const qb_model *m, double *p) {
  double q[QB_MAX_PARAMS];
  memcpy(q, p, sizeof q);
  if (newton_ep(m, q, "kappa_c")) {
    memcpy(p, q, sizeof q);
    return true;
  }
  return newton_ep(m, p, "delta_c");
}

static int three_kind; /* for the report: 0 generic, 1 EP, 2 marginal */
static bool at_ep;     /* the current point is at or near an exceptional point */

static void three_point(gsl_rng *r, const qb_model *m, double *p) {
  const double lo = gsl_rng_uniform(r) < 0.5 ? 1e-3 : 1e-6, hi = lo == 1e-3 ? 10 : 1e6;
  P("kappa_a") = rate(r, lo, hi, 0.15);
  P("kappa_b") = rate(r, lo, hi, 0.15);
  P("kappa_c") = rate(r, lo, hi, 0.1);
  P("Gamma") = rate(r, lo, hi, 0.08);
  P("delta") = gsl_rng_uniform(r) < 0.1 ? 0 : pm(r, lo, hi);
  P("delta_c") = gsl_rng_uniform(r) < 0.5 ? 0 : pm(r, lo, hi);
  static const char *cp[4] = {"p_a", "p_b", "p_ca", "p_cb"};
  for (int k = 0; k < 4; k++) {
    char ph[32];
    snprintf(ph, sizeof ph, "%s_phase", cp[k]);
    P(cp[k]) = gsl_rng_uniform(r) < 0.05 ? 0 : coupling(r);
    P(ph) = gsl_rng_uniform(r) < 0.5 ? 0 : 6 * gsl_rng_uniform(r);
  }
  for (int k = 0; k < 4; k++)
    if (P("Gamma") * P(cp[k]) * P(cp[k]) > 1e6) P(cp[k]) = 1;
  const double u = gsl_rng_uniform(r);
  P("E") = u < 0.1 ? 1e-300 : u < 0.2 ? 1e300 : lu(r, 1e-3, 1e3);
  three_kind = 0;
  const double v = gsl_rng_uniform(r);
  if (v < 0.15) { /* marginal: lossless a and b, or no shared reservoir */
    three_kind = 2;
    P("kappa_a") = P("kappa_b") = 0;
    if (v < 0.05)
      P("Gamma") = 0;
    else if (v < 0.1)
      P("p_ca") = 0;
  } else if (v < 0.6) { /* an EP of the 3x3 drift, exactly (to rounding) or nearly */
    double q[QB_MAX_PARAMS];
    memcpy(q, p, sizeof q);
    q[pidx(m, "Gamma")] = fmax(q[pidx(m, "Gamma")], 1e-3);
    q[pidx(m, "E")] = P("E");
    if (three_to_ep(m, q)) {
      memcpy(p, q, sizeof q);
      three_kind = 1;
      if (gsl_rng_uniform(r) < 0.5) P("delta") *= 1 + pow(10, -4 - 12 * gsl_rng_uniform(r));
    }
  }
}

/* ---- the checks ---- */

typedef struct {
  long points, times, compared, nan_ok, unjudged, ep_points;
  double worst_tol;    /* largest |E - E_ref| / stated tolerance */
  double worst_rel;    /* largest |E - E_ref| / E_ref where well conditioned (E_ref > 1e-6 total) */
  double worst_rel_pb; /* P_B (shared), log_E_B (threemode) likewise */
  double worst_rel_ep; /* E_A, E_B at (near) exceptional points likewise */
  long bitwise_bad, want_bad, want_nan, nan_nobit, bad;
} tally;

static void print_point(const qb_model *m, const double *p, double t) {
  printf("   qbmap point %s", m->name);
  for (int i = 0; i < m->nparams; i++)
    if (strcmp(m->params[i].name, "t")) printf(" %s=%.17g", m->params[i].name, p[i]);
  printf(" t=%.17g\n", t);
}

/* One energy (or power) against the reference. */
static void judge(tally *T, const qb_model *m, const double *p, double t, const char *what,
                  double v, uint32_t st, double ref, double tol, double sens, double scale,
                  double *worst_rel) {
  if (isnan(v)) {
    bool bit = (st & qb_model_failure_mask(m)) != 0;
    if (bit)
      T->nan_ok++;
    else
      T->nan_nobit++;
    CHECK("a NaN energy carries a failure bit", bit, "%s %s t=%.17g status %u", m->name, what, t,
          st);
    if (!bit) print_point(m, p, t);
    return;
  }
  if (sens > 0.01 * tol) { /* ill-conditioned to the input's rounding: not judged */
    T->unjudged++;
    if (fabs(v - ref) > tol + 10 * sens) {
      printf("  note: %s %s off by %.3g (tol %.3g, sensitivity %.3g) at t=%.17g status %u\n",
             m->name, what, fabs(v - ref), tol, sens, t, st);
      print_point(m, p, t);
    }
    return;
  }
  T->compared++;
  const double e = fabs(v - ref);
  if (at_ep && fabs(ref) > 1e-6 * scale && sens < 1e-12 * fabs(ref) &&
      worst_rel != &T->worst_rel_pb)
    T->worst_rel_ep = fmax(T->worst_rel_ep, e / fabs(ref));
  if (e / tol > T->worst_tol) T->worst_tol = e / tol;
  if (fabs(ref) > 1e-6 * scale && sens < 1e-12 * fabs(ref) && e / fabs(ref) > *worst_rel) {
    *worst_rel = e / fabs(ref);
    if (*worst_rel > 1e-10) {
      printf("  rel %.3g: %s %s = %.17g ref %.17g status %u\n", *worst_rel, m->name, what, v, ref,
             st);
      print_point(m, p, t);
    }
  }
  if (!(e <= tol)) {
    T->bad++;
    if (T->bad <= 30)
      printf("ACCURACY %s %s = %.17g, reference %.17g, |error| %.3g > tolerance %.3g (sensitivity "
             "%.3g), status %u\n",
             m->name, what, v, ref, e, tol, sens, st);
    CHECK("stated accuracy against the quad reference", 0,
          "%s %s = %.17g, reference %.17g, |error| %.3g > tolerance %.3g, status %u, t = %.17g",
          m->name, what, v, ref, e, tol, st, t);
    if (T->bad <= 30) print_point(m, p, t);
  }
}

static bool bitwise(const double *a, const double *b, int n) {
  return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void run(const char *name, gsl_rng *r, long npoints) {
  const qb_model *m = qb_model_find(name);
  const bool sh = strcmp(name, "shared") == 0;
  const int n = sh ? 2 : 3, nf = m->nfields, it = pidx(m, "t");
  const int fa = fidx(m, "E_A"), fb = fidx(m, "E_B"), fp = sh ? fidx(m, "P_B") : -1;
  const int fs = nf - 1;
  static double rows[3][NT * QB_MAX_FIELDS];
  bool want[3][QB_MAX_FIELDS];
  memset(want, 0, sizeof want);
  want[1][fa] = want[1][fb] = true; /* the energies alone */
  for (int k = 0; k < nf; k++)
    want[2][k] = true; /* everything but P_B / log_E_B */
  want[2][sh ? fp : fidx(m, "log_E_B")] = false;
  tally T = {0};
  for (long k = 0; k < npoints; k++) {
    double p[QB_MAX_PARAMS], t[NT];
    bool given[QB_MAX_PARAMS];
    qb_model_defaults(m, p, given);
    if (sh)
      shared_point(r, m, p);
    else
      three_point(r, m, p);
    at_ep = sh ? shared_ep : three_kind == 1;
    T.ep_points += at_ep;
    qc M[9], f[3], Md[9], fd[3];
    if (sh)
      shared_drift(m, p, 0, M, f), shared_drift(m, p, 1, Md, fd);
    else
      three_drift(m, p, 0, M, f), three_drift(m, p, 1, Md, fd);
    double nm = 0;
    for (int i = 0; i < n * n; i++)
      nm = fmax(nm, (double)qabs(M[i]));
    for (int j = 0; j < NT; j++) {
      const double u = gsl_rng_uniform(r);
      t[j] = u < 0.05 ? 0 : u < 0.6 ? lu(r, 1e-10, 1e8) / nm : lu(r, 1e-12, 1e250);
      t[j] = fmin(t[j], 1e250);
    }
    T.points++;
    qb_model_eval_row(m, p, it, t, NT, NULL, rows[0]);
    qb_model_eval_row(m, p, it, t, NT, want[1], rows[1]);
    qb_model_eval_row(m, p, it, t, NT, want[2], rows[2]);
    for (int j = 0; j < NT; j++) {
      T.times++;
      double q[QB_MAX_PARAMS], one[QB_MAX_FIELDS];
      memcpy(q, p, sizeof q);
      q[it] = t[j];
      for (int w = 0; w < 3; w++) {
        qb_model_eval(m, q, w ? want[w] : NULL, one);
        bool same = bitwise(one, rows[w] + j * nf, nf);
        if (!same && ++T.bitwise_bad <= 3) {
          printf("row not bitwise the point: %s, field list %d\n", name, w);
          print_point(m, p, t[j]);
        }
      }
      const double *o = rows[0] + j * nf;
      for (int w = 1; w < 3; w++) {
        const double *o2 = rows[w] + j * nf;
        bool same = bitwise(&o[fa], &o2[fa], 1) && bitwise(&o[fb], &o2[fb], 1);
        T.want_nan += isnan(o[fa]) != isnan(o2[fa]) || isnan(o[fb]) != isnan(o2[fb]);
        if (!same && ++T.want_bad <= 3) {
          printf("E_A, E_B depend on the fields wanted: %s, every field vs list %d: E_A %.17g vs "
                 "%.17g, E_B %.17g vs %.17g (status %u vs %u)\n",
                 name, w, o[fa], o2[fa], o[fb], o2[fb], (unsigned)o[fs], (unsigned)o2[fs]);
          print_point(m, p, t[j]);
        }
      }
      qc x[3], dx[3], xd[3], dxd[3];
      qref(n, M, f, t[j], x, dx);
      qref(n, Md, fd, t[j], xd, dxd);
      qr nx2 = 0, ndx2 = 0, dsens = 0, dsensdx = 0;
      for (int i = 0; i < n; i++) {
        nx2 += qabs(x[i]) * qabs(x[i]), ndx2 += qabs(dx[i]) * qabs(dx[i]);
        dsens = fmaxq(dsens, qabs(x[i] - xd[i]));
        dsensdx = fmaxq(dsensdx, qabs(dx[i] - dxd[i]));
      }
      const double tot = (double)nx2;
      const uint32_t st = (uint32_t)o[fs];
      for (int i = 0; i < 2; i++) {
        const double ref = (double)(qabs(x[i]) * qabs(x[i]));
        /* the input's rounding: M's entries (the double-built reference) and t's (4 ulps) */
        const double sens =
            2.0 * (double)(qabs(x[i]) * dsens) + (double)(dsens * dsens) +
            4 * DBL_EPSILON * t[j] * fabs((double)(2 * crealq(conjq(x[i]) * dx[i])));
        if (isnan(ref) || isnan(sens)) { /* the reference lost (marginal modes at huge |M| t) */
          T.unjudged++;
          continue;
        }
        if (!(ref <= DBL_MAX) && !(qabs(x[i]) * qabs(x[i]) > (qr)1e-50 * nx2)) {
          T.unjudged++; /* at the reference's own floor (eps_q |x|), beyond the double range */
          continue;
        }
        if (!(ref <= DBL_MAX)) { /* beyond the range: inf with the overflow bit, or NaN */
          const double v = o[i ? fb : fa];
          bool okv =
              (isinf(v) && (st & QB_PT_OVERFLOW)) || (isnan(v) && (st & qb_model_failure_mask(m)));
          CHECK("an energy beyond the range is inf (overflow bit) or NaN (failure bit)", okv,
                "%s %s = %g, reference %g, status %u, t = %.17g", name, i ? "E_B" : "E_A", v, ref,
                st, t[j]);
          if (!okv) print_point(m, p, t[j]);
          continue;
        }
        judge(&T, m, p, t[j], i ? "E_B" : "E_A", o[i ? fb : fa], st, ref, 1e-6 * ref + 1e-10 * tot,
              sens, tot, &T.worst_rel);
      }
      if (sh) {
        const double ref = (double)(2 * crealq(conjq(x[1]) * dx[1]));
        const double scale = (double)(2 * qabs(x[1]) * qabs(dx[1]) + 2 * sqrtq(nx2 * ndx2));
        const double sens = (double)(2 * (dsens * qabs(dx[1]) + qabs(x[1]) * dsensdx));
        if (isfinite(scale) && scale > 0)
          judge(&T, m, p, t[j], "P_B", o[fp], st, ref, 1e-6 * scale, sens, scale, &T.worst_rel_pb);
      } else if (t[j] > 0 && qabs(x[1]) > (qr)1e-25 * sqrtq(nx2)) {
        /* log_E_B = ln E_B to 1e-6 max(1, |ln E_B|) absolute (E_B to relative accuracy, also
         * below the double range), where the reference resolves x_b relatively */
        const double ref = (double)(2 * logq(qabs(x[1])));
        const double sens = 2.0 * (double)(qabs(x[1] - xd[1]) / qabs(x[1])) +
                            4 * DBL_EPSILON * t[j] * (double)(qabs(dx[1]) / qabs(x[1]));
        judge(&T, m, p, t[j], "log_E_B", o[fidx(m, "log_E_B")], st, ref,
              1e-6 * fmax(1.0, fabs(ref)), sens, fmax(1.0, fabs(ref)), &T.worst_rel_pb);
      }
    }
  }
  CHECK("rows bitwise the points (every field list)", T.bitwise_bad == 0, "%s: %ld times differ",
        name, T.bitwise_bad);
  CHECK("E_A, E_B independent of the other fields wanted", T.want_bad == 0,
        "%s: %ld times (of %ld, two field lists each) differ, %ld of them NaN against a number",
        name, T.want_bad, T.times, T.want_nan);
  printf("%s: %ld points (%ld at or near EPs) x %d times; %ld energies compared, worst "
         "error/tolerance %.3g, worst relative error where well conditioned %.3g (at EPs %.3g, "
         "P_B / log_E_B %.3g); "
         "%ld NaN with a failure bit, %ld NaN without; %ld not judged (ill-conditioned to the "
         "input's rounding); %ld row/point bitwise mismatches, %ld want-dependent E_A/E_B\n",
         name, T.points, T.ep_points, NT, T.compared, T.worst_tol, T.worst_rel, T.worst_rel_ep,
         T.worst_rel_pb, T.nan_ok, T.nan_nobit, T.unjudged, T.bitwise_bad, T.want_bad);
}

/* Pinned points, each a finding (the E_A or E_B a model must give, to `rtol` relative of the
 * quad reference, finite: not NaN, not inf):
 *   stiff: threemode with a stiff auxiliary mode (K_c >> the slow rates) and a battery b
 *     unreachable or nearly so (Gamma = 0 or tiny, p_cb tiny): perfectly conditioned (x_a is a
 *     decoupled, or nearly decoupled, damped mode), resolved by the row's eigendecomposition,
 *     but lost (NaN) or degraded (~1e-9) where x_b fails the plan's relative guard and the
 *     whole point goes to qb_linear_transient (error ~ eps |M| t): E_A to 1e-10 (the issue's
 *     target where well conditioned);
 *   extreme: a tiny drive (below 2^-500: evaluated at unit drive and scaled back) with a
 *     marginal mode (x ~ E t): the energy at unit drive, ~t^2, overflows although the true
 *     energy is in range; E_A to 1e-10.
 * The reference's sensitivity to the input's rounding is checked to be below 1e-13 here. */
typedef struct {
  const char *model, *field, *params;
} pinned_point;

static const pinned_point stiff_points[] = {
    {"threemode", "E_A", "delta=0 kappa_a=1e-6 kappa_b=1e-3 kappa_c=1e3 Gamma=0 E=1 t=1e3"},
    {"threemode", "E_A", "delta=0 kappa_a=1e-6 kappa_b=1e-3 kappa_c=1e3 Gamma=0 E=1 t=1e5"},
    {"threemode", "E_A", "delta=0 kappa_a=1e-6 kappa_b=1e-3 kappa_c=1e5 Gamma=0 E=1 t=1e6"},
    {"threemode", "E_A", "delta=0 kappa_a=1e-6 kappa_b=1e-3 kappa_c=1e3 Gamma=1e-9 E=1 t=1e5"},
    {"threemode", "E_A",
     "delta=0 delta_c=0 kappa_a=0.00034243681910005845 kappa_b=0.0063991396602657187 "
     "kappa_c=68399.423137492486 Gamma=0 p_a=0.29045874559659118 p_a_phase=4.1223844257183373 "
     "p_ca=15.183720888320664 p_ca_phase=5.8930888334289193 p_cb=28.530235684840754 "
     "E=0.92468115728220901 t=19.196418701566017"},
    {"threemode", "E_A",
     "delta=0.023675343609153583 kappa_a=0 kappa_b=0.011912322991513506 "
     "kappa_c=9396.6023373029784 Gamma=0.0020179111386865187 p_b=0.46576826905598767 "
     "p_ca=1.7911142724357088 p_ca_phase=3.7750847451388836 p_cb=0.033254238614777214 "
     "E=0.93205063269963662 t=180.53962844687382"},
};

static const pinned_point extreme_points[] = {
    {"shared", "E_A", "Delta=0 J=0 Gamma=0 kappa_a=0 kappa_b=1 F=1e-200 t=1e200"},
    {"shared", "E_A", "Delta=0 J=0 Gamma=0 kappa_a=0 kappa_b=1 F=1e-300 t=1e200"},
    {"shared", "E_A", "Delta=0 J=0 Gamma=0 kappa_a=0 kappa_b=0 F=1e-200 t=1e180"},
    {"threemode", "E_A", "delta=0 kappa_a=0 kappa_b=0 kappa_c=0 Gamma=0 E=1e-300 t=1e250"},
    {"threemode", "E_A", "delta=0 kappa_a=0 kappa_b=0 kappa_c=0 Gamma=0 E=1e-300 t=1e160"},
};

static void pinned(const pinned_point *pts, size_t npts, const char *part) {
  for (size_t k = 0; k < npts; k++) {
    const qb_model *m = qb_model_find(pts[k].model);
    const bool sh = strcmp(pts[k].model, "shared") == 0;
    const int n = sh ? 2 : 3, it = pidx(m, "t"), fe = fidx(m, pts[k].field);
    const int ie = strcmp(pts[k].field, "E_A") == 0 ? 0 : 1;
    double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
    bool given[QB_MAX_PARAMS];
    qb_model_defaults(m, p, given);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", pts[k].params);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
      char *eq = strchr(tok, '=');
      *eq = 0;
      p[pidx(m, tok)] = strtod(eq + 1, NULL);
    }
    qc M[9], f[3], Md[9], fd[3], x[3], dx[3], xd[3], dxd[3];
    if (sh)
      shared_drift(m, p, 0, M, f), shared_drift(m, p, 1, Md, fd);
    else
      three_drift(m, p, 0, M, f), three_drift(m, p, 1, Md, fd);
    qref(n, M, f, p[it], x, dx), qref(n, Md, fd, p[it], xd, dxd);
    const double ref = (double)(qabs(x[ie]) * qabs(x[ie]));
    const double sens = (double)(qabs(x[ie] - xd[ie]) / qabs(x[ie]));
    qb_model_eval(m, p, NULL, out);
    CHECK("pinned: the reference well conditioned", sens < 1e-13, "%s %s: %.3g", part,
          pts[k].params, sens);
    CHECK_CLOSE("pinned: the energy to 1e-10 relative (finite)", out[fe], ref, 1e-10, 0,
                "%s: %s %s %s (status %u, relative error %.3g)", part, pts[k].model, pts[k].field,
                pts[k].params, (unsigned)out[m->nfields - 1], fabs(out[fe] - ref) / ref);
  }
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  long npoints = 0; /* default per part */
  const char *which = qb_test_select(argc > 2 ? 2 : argc, argv);
  if (argc > 2) npoints = atol(argv[2]);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, argc > 3 ? strtoul(argv[3], NULL, 10) : 1213);
  QB_PART("shared", run("shared", r, npoints ? npoints : 600));
  QB_PART("threemode", run("threemode", r, npoints ? npoints : 250));
  QB_PART("stiff", pinned(stiff_points, sizeof stiff_points / sizeof *stiff_points, "stiff"));
  QB_PART("extreme",
          pinned(extreme_points, sizeof extreme_points / sizeof *extreme_points, "extreme"));
  gsl_rng_free(r);
  return qb_test_report(which);
}
