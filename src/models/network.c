/* Model `network`: the kernel (docs/physics.md §7).  At a point the expressions give the numeric
 * network (h, S, F, dissipators), qb_gauss plans it once per row of t values and gives the
 * moments at each t; this file turns them into fields and status bits. */
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "qbmap/qb_gauss.h"
#include "qbmap/qb_network.h"

/* The model's own bits: t_crit never reached (provably) or undetermined (numbered as model ep's,
 * the same words and kinds), and a value of the network not finite, outside its window or a
 * negative rate or occupation at this point. */
enum { NET_TCRIT_NEVER = 1u << 1, NET_TCRIT_FAILED = 1u << 2, NET_BAD_VALUE = 1u << 14 };

const qb_pt_bit qb_network_status_bits[] = {
    {QB_PT_NOT_STABLE, NULL,
     "not stable (growth_rate >= -1e-12 times the drift's largest "
     "entry): E_*_ss, W_*_ss are NaN",
     QB_PT_KIND_DEFAULT},
    {NET_TCRIT_NEVER, "tcrit_never", "the battery's E provably never reaches E_max: t_crit is NaN",
     QB_PT_INFO},
    {NET_TCRIT_FAILED, "tcrit_failed",
     "t_crit undetermined (not reached within the scan's 20000 steps, or a moment not "
     "computable on the way): t_crit is NaN",
     QB_PT_FAILURE},
    {QB_PT_OVERFLOW, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_BAD_PARAM, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_NUMERICS, NULL,
     "a linear-algebra routine (LAPACK, GSL) failed: the fields it feeds "
     "are NaN",
     QB_PT_KIND_DEFAULT},
    {QB_PT_T_UNRESOLVED, NULL,
     QB_PT_T_UNRESOLVED_WHY ": the time-dependent fields it concerns are "
                            "NaN",
     QB_PT_KIND_DEFAULT},
    {QB_PT_ILL_CONDITIONED, NULL,
     "a steady state is ill-conditioned at this point (estimated "
     "relative error above 1e-6): the steady-state fields it concerns are NaN",
     QB_PT_KIND_DEFAULT},
    {NET_BAD_VALUE, "bad_value",
     "a value of the network (a rate, occupation, coefficient, "
     "detuning, hopping, squeezing, drive or phase) is not finite or outside its window at this "
     "point: rates and n_th >= 0, |rate|, |detuning|, |hopping|, |squeezing| <= 1e6, |coefficient| "
     "<= 1e3, |drive| <= 1e100, |phase| <= 1e6, n_th <= 1e6: every field is NaN",
     QB_PT_FAILURE},
};
const int qb_network_nstatus = sizeof qb_network_status_bits / sizeof *qb_network_status_bits;

static bool within(double v, double max) {
  return isfinite(v) && fabs(v) <= max;
}

/* The value of e at p, `def` for an absent (optional) key. */
static double value(qb_expr *e, const double *p, double def) {
  return e ? qb_expr_eval(e, p) : def;
}

static double complex polar(double r, double phase) {
  return CMPLX(r * cos(phase), r * sin(phase));
}

/* Term t at p into g (docs/physics.md §7.6); false if a value is outside its window. */
static bool add_term(const qb_net_term *t, const double *p, qb_gauss_net *g) {
  const double v = qb_expr_eval(t->value, p), ph = value(t->phase, p, 0.0);
  if (!within(v, t->kind == QB_NET_DRIVE ? QB_NET_DRIVE_MAX : QB_NET_RATE_MAX) ||
      !within(ph, QB_NET_PHASE_MAX))
    return false;
  const int n = g->n, j = t->j, k = t->k;
  const double complex z = polar(v, ph);
  switch (t->kind) {
  case QB_NET_DETUNING:
    g->h[j * n + j] += v;
    break;
  case QB_NET_HOPPING:
    g->h[j * n + k] += z;
    g->h[k * n + j] += conj(z);
    break;
  case QB_NET_SQUEEZING:
    g->S[j * n + k] += z;
    if (j != k) g->S[k * n + j] += z;
    break;
  case QB_NET_DRIVE:
    g->F[j] += z;
    break;
  }
  return true;
}

/* Dissipator d at p into row k of g; false if a value is outside its window. */
static bool add_diss(const qb_net_diss *d, const double *p, qb_gauss_net *g, int k) {
  const double r = qb_expr_eval(d->rate, p), nth = value(d->nth, p, 0.0);
  if (!(within(r, QB_NET_RATE_MAX) && r >= 0) || !(within(nth, QB_NET_NTH_MAX) && nth >= 0))
    return false;
  g->rate[k] = r;
  g->nth[k] = nth;
  for (int i = 0; i < d->ncoef; i++) {
    const double a = qb_expr_eval(d->abs[i], p), ph = value(d->phase[i], p, 0.0);
    if (!within(a, QB_NET_COEF_MAX) || !within(ph, QB_NET_PHASE_MAX)) return false;
    g->c[k * QB_GAUSS_NMAX + d->mode[i]] += polar(a, ph);
  }
  return true;
}

/* The numeric network at p; false (status bad_value) if a value is outside its window. */
static bool build(const qb_network *net, const double *p, qb_gauss_net *g) {
  memset(g, 0, sizeof *g);
  g->n = net->nmodes;
  g->nd = net->ndiss;
  for (int i = 0; i < net->nterms; i++)
    if (!add_term(&net->terms[i], p, g)) return false;
  for (int k = 0; k < net->ndiss; k++)
    if (!add_diss(&net->diss[k], p, g, k)) return false;
  return true;
}

/* The moments' totals the per-mode accuracy tests compare against: ||alpha||_2 and the total
 * energy. */
typedef struct {
  double amp, energy;
} totals;

static totals totals_of(const qb_gauss_moments *mo, int n) {
  totals s = {qb_model_norm_amp(mo->alpha, n), 0.0};
  for (int j = 0; j < n; j++)
    s.energy += qb_gauss_energy(mo, j);
  return s;
}

/* Mode j's energy-like fields are resolved: its amplitude and its fluctuations to QB_EST_MAX of
 * themselves plus QB_ABS_MAX of the totals (qb_model.h's accuracy guard), and its fluctuation
 * energy C_j = <da^+ da> not negative (a negative one is rounding from the other modes larger
 * than the value itself, which the normwise estimates of a fast-growing network can miss). */
static bool mode_ok(const qb_gauss_moments *mo, int j, totals s) {
  const double E = qb_gauss_energy(mo, j);
  return mo->C[j] >= 0 && qb_model_energy_ok(qb_model_mag(mo->alpha[j]), mo->err_alpha[j], s.amp) &&
         mo->err_C[j] + mo->err_Q[j] <= QB_EST_MAX * E + QB_ABS_MAX * s.energy;
}

/* t_crit: the first t with the battery's E = E_max (qb_gauss_tcrit). */
static uint32_t tcrit(const qb_network *net, const qb_gauss_plan *pl, double emax, double *out) {
  int why;
  out[net->f_tcrit] = qb_gauss_tcrit(pl, net->battery, emax, &why);
  return why == 1 ? NET_TCRIT_NEVER : why == 2 ? NET_TCRIT_FAILED : 0;
}

/* The drift's discriminant, prod_{i<j} (l_i - l_j)^2 / s^2 over the plan's exposed eigenvalues
 * (docs/physics.md §7.6; s: the drift's largest entry, so the product stays in range; its zeros
 * are the coalescences). */
static double complex disc_of(const qb_gauss_plan *pl) {
  const double s = pl->scale > 0 ? pl->scale : 1.0;
  double complex d = 1.0;
  for (int i = 0; i < pl->neig; i++)
    for (int j = i + 1; j < pl->neig; j++) {
      const double complex e = (pl->eig[i] - pl->eig[j]) / s;
      d *= e * e;
    }
  return d;
}

/* The fields disc_re, disc_im: the discriminant's phase times the geometric mean of the
 * |(l_i - l_j)/s|^2 (its K-th root in magnitude, K pairs): the same zeros and signs, without the
 * underflow of a product of many small factors (8 modes: 120 pairs). */
static double complex disc_root(const qb_gauss_plan *pl) {
  const double s = pl->scale > 0 ? pl->scale : 1.0;
  double complex ph = 1.0;
  double lg = 0;
  int k = 0;
  for (int i = 0; i < pl->neig; i++)
    for (int j = i + 1; j < pl->neig; j++, k++) {
      const double complex e = (pl->eig[i] - pl->eig[j]) / s;
      const double a = cabs(e);
      if (a == 0) return 0.0;
      ph *= (e / a) * (e / a);
      lg += 2 * log(a);
    }
  return k ? ph / cabs(ph) * exp(lg / k) : 1.0;
}

/* growth_rate, the discriminant, t_crit and the steady-state fields (the same for every t of a
 * row) into out. */
static uint32_t row_fields(const qb_network *net, const qb_gauss_plan *pl, const double *p,
                           const bool *want, double *out) {
  out[net->f_growth] = pl->growth;
  const double complex d = disc_root(pl);
  out[net->f_disc_re] = creal(d);
  out[net->f_disc_im] = cimag(d);
  uint32_t status = qb_model_wants(want, net->f_tcrit) ? tcrit(net, pl, p[net->p_emax], out) : 0;
  bool any = false;
  for (int j = 0; j < net->nmodes; j++)
    any = any || qb_model_wants(want, net->f[j].E_ss) || qb_model_wants(want, net->f[j].W_ss);
  if (!any) return status;
  qb_gauss_moments ss;
  qb_gauss_steady(pl, &ss);
  if (ss.flags & QB_GAUSS_NOT_STABLE) return status | QB_PT_NOT_STABLE;
  if (ss.flags & QB_GAUSS_FAILED) return status | QB_PT_NUMERICS;
  const totals s = totals_of(&ss, net->nmodes);
  for (int j = 0; j < net->nmodes; j++) {
    if (!mode_ok(&ss, j, s)) {
      status |= QB_PT_ILL_CONDITIONED;
      continue;
    }
    out[net->f[j].E_ss] = qb_gauss_energy(&ss, j);
    out[net->f[j].W_ss] = qb_gauss_ergotropy(&ss, j);
  }
  return status;
}

/* The battery's power is resolved: its error below QB_EST_MAX of the size of its terms. */
static bool power_ok(const qb_gauss_moments *mo, int b) {
  const double a = qb_model_mag(mo->alpha[b]), da = qb_model_mag(mo->dalpha[b]);
  const double err = 2.0 * (da * mo->err_alpha[b] + a * mo->err_dalpha[b]) + mo->err_dC[b];
  return err <= QB_EST_MAX * (2.0 * a * da + fabs(mo->dC[b]));
}

/* Whether any time-dependent field of mode j is wanted. */
static bool mode_wanted(const qb_net_mode_fields *f, const bool *want) {
  return qb_model_wants(want, f->E) || qb_model_wants(want, f->W) ||
         qb_model_wants(want, f->nbar) || qb_model_wants(want, f->re) ||
         qb_model_wants(want, f->im);
}

/* out[k] = v where field k is wanted; QB_PT_OVERFLOW if v is infinite. */
static uint32_t put(const bool *want, int k, double v, double *out) {
  if (!qb_model_wants(want, k)) return 0;
  out[k] = v;
  return isinf(v) ? QB_PT_OVERFLOW : 0;
}

/* The fields at time t into out (row-invariant fields already there): only the modes with a
 * wanted field, each field only if wanted (the moments themselves do not depend on want; the
 * derivatives are computed only for P).  lx, lex: qb_gauss_lean_many's values at t, or NULL.
 * Returns the status bits, with QB_PT_OVERFLOW for an infinite field set here. */
static uint32_t t_fields(const qb_network *net, const qb_gauss_plan *pl, double t,
                         const double complex *lx, const double *lex, const bool *want,
                         double *out) {
  qb_gauss_moments mo;
  qb_gauss_at_with(pl, t, qb_model_wants(want, net->f_P), lx, lex, &mo);
  if (mo.flags & QB_GAUSS_FAILED) return QB_PT_NUMERICS;
  const totals s = totals_of(&mo, net->nmodes);
  uint32_t status = 0;
  for (int j = 0; j < net->nmodes; j++) {
    const qb_net_mode_fields *f = &net->f[j];
    if (!mode_wanted(f, want)) continue;
    if (!mode_ok(&mo, j, s)) {
      status |= QB_PT_T_UNRESOLVED;
      continue;
    }
    status |= put(want, f->E, qb_gauss_energy(&mo, j), out);
    if (qb_model_wants(want, f->W)) status |= put(want, f->W, qb_gauss_ergotropy(&mo, j), out);
    if (qb_model_wants(want, f->nbar)) status |= put(want, f->nbar, qb_gauss_nbar(&mo, j), out);
    status |= put(want, f->re, creal(mo.alpha[j]), out);
    status |= put(want, f->im, cimag(mo.alpha[j]), out);
  }
  if (!qb_model_wants(want, net->f_P)) return status;
  if (power_ok(&mo, net->battery))
    status |= put(want, net->f_P, qb_gauss_power(&mo, net->battery), out);
  else
    status |= QB_PT_T_UNRESOLVED;
  return status;
}

/* t_fields where the moments are known without qb_gauss_at_with (qb_gauss_lean_resolved, no
 * noise, P not wanted): alpha = lx, C = Q = 0, so E = W = |alpha|^2 and nbar = 0, every mode
 * resolved (mode_ok holds: its amplitude within QB_GAUSS_AMP_TOL of itself, C = 0) -- the
 * same bits as t_fields, at a fraction of its cost. */
static uint32_t t_fields_coherent(const qb_network *net, const double complex *lx, const bool *want,
                                  double *out) {
  uint32_t status = 0;
  for (int j = 0; j < net->nmodes; j++) {
    const qb_net_mode_fields *f = &net->f[j];
    const double ar = creal(lx[j]), ai = cimag(lx[j]), e = ar * ar + ai * ai; /* + C = 0 */
    status |= put(want, f->E, e, out) | put(want, f->W, e, out) | put(want, f->nbar, 0.0, out) |
              put(want, f->re, ar, out) | put(want, f->im, ai, out);
  }
  return status;
}

/* A row's times are taken BLOCK at a time: the means' first way at once (qb_gauss_lean_many). */
enum { BLOCK = 64 };

void qb_network_eval_row(const qb_model *m, const double *p, const double *x, int n,
                         const bool *want, double *out) {
  const qb_network *net = m->ctx;
  const int nf = m->nfields, st = nf - 1;
  double inv[QB_MAX_FIELDS]; /* the prepared row with the row-invariant fields */
  memcpy(inv, out, (size_t)nf * sizeof *out);
  qb_gauss_net g;
  qb_gauss_plan pl;
  uint32_t status = build(net, p, &g) ? 0 : NET_BAD_VALUE;
  if (!status) {
    qb_gauss_plan_make(&g, &pl);
    status = pl.ok ? row_fields(net, &pl, p, want, inv) : QB_PT_NUMERICS;
  }
  status |= qb_model_overflow(inv, nf, -1); /* the t fields are NaN in inv */
  const bool trans = !(status & (NET_BAD_VALUE | QB_PT_NUMERICS));
  const bool coherent = trans && !pl.noise && !qb_model_wants(want, net->f_P);
  for (int j0 = 0; j0 < n; j0 += BLOCK) {
    const int nb = n - j0 < BLOCK ? n - j0 : BLOCK;
    double complex lx[BLOCK * QB_GAUSS_NMAX];
    double lex[BLOCK * QB_GAUSS_NMAX];
    const bool lean = trans && qb_gauss_lean_many(&pl, x + j0, nb, lx, lex);
    for (int j = 0; j < nb; j++) {
      double *o = out + (size_t)(j0 + j) * (size_t)nf;
      memcpy(o, inv, (size_t)nf * sizeof *o);
      uint32_t s = status;
      const double complex *ljx = lean ? lx + j * pl.n : NULL;
      const double *ljex = lean ? lex + j * pl.n : NULL;
      if (lean && coherent && qb_gauss_lean_resolved(&pl, x[j0 + j], ljx, ljex))
        s |= t_fields_coherent(net, ljx, want, o);
      else if (trans)
        s |= t_fields(net, &pl, x[j0 + j], ljx, ljex, want, o);
      o[st] = (double)s;
    }
  }
}

/* The drift whose eigenvalues the EP pass follows (docs/physics.md §7.6): M = -ih - G/2 (n x n)
 * without squeezing, the real 2n x 2n A (as complex) with it.  Column-major into a[ld * ld];
 * returns its order, 0 if the network is bad at p. */
static int ep_drift(const qb_model *m, const double *p, double complex *a, qb_gauss_plan *pl) {
  const qb_network *net = m->ctx;
  qb_gauss_net g;
  if (!build(net, p, &g)) return 0;
  qb_gauss_plan_make(&g, pl);
  if (!pl->ok) return 0;
  const int k = pl->squeeze ? pl->m : pl->n;
  for (int r = 0; r < k; r++)
    for (int c = 0; c < k; c++)
      a[c * k + r] = pl->squeeze ? pl->A[r * pl->m + c] : CMPLX(0.0, 0.0);
  if (pl->squeeze) return k;
  for (int r = 0; r < k; r++)
    for (int c = 0; c < k; c++) {
      double complex G = 0.0;
      for (int d = 0; d < g.nd; d++)
        G += g.rate[d] * conj(g.c[d * QB_GAUSS_NMAX + r]) * g.c[d * QB_GAUSS_NMAX + c];
      a[c * k + r] = -I * g.h[r * k + c] - 0.5 * G;
    }
  return k;
}

double complex qb_network_disc(const qb_model *m, const double *p) {
  double complex a[QB_GAUSS_MMAX * QB_GAUSS_MMAX];
  qb_gauss_plan pl;
  return ep_drift(m, p, a, &pl) ? disc_of(&pl) : CMPLX(NAN, NAN);
}

void qb_network_coalescence(const qb_model *m, const double *p, double *splitting,
                            double *overlap) {
  double complex a[QB_GAUSS_MMAX * QB_GAUSS_MMAX], w[QB_GAUSS_MMAX],
      vr[QB_GAUSS_MMAX * QB_GAUSS_MMAX], work[4 * QB_GAUSS_MMAX], dummy[1];
  double rwork[2 * QB_GAUSS_MMAX];
  qb_gauss_plan pl;
  *splitting = *overlap = NAN;
  const int k = ep_drift(m, p, a, &pl);
  if (!k || LAPACKE_zgeev_work(LAPACK_COL_MAJOR, 'N', 'V', k, a, k, w, dummy, 1, vr, k, work,
                               4 * QB_GAUSS_MMAX, rwork))
    return;
  int bi = 0, bj = 1;
  double best = INFINITY;
  for (int i = 0; i < k; i++)
    for (int j = i + 1; j < k; j++)
      if (cabs(w[i] - w[j]) < best) best = cabs(w[i] - w[j]), bi = i, bj = j;
  if (k < 2) return;
  double complex dot = 0.0;
  double nu = 0.0, nv = 0.0;
  for (int r = 0; r < k; r++) {
    dot += conj(vr[bi * k + r]) * vr[bj * k + r];
    nu += qb_model_abs2(vr[bi * k + r]);
    nv += qb_model_abs2(vr[bj * k + r]);
  }
  *splitting = best;
  *overlap = cabs(dot) / sqrt(nu * nv);
}
