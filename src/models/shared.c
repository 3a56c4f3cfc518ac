/* Model `shared`: the SO paper's charger-battery model (Eqs. 1-27, App. A; docs/physics.md §3),
 * with the paper's Eqs. 4-5 as the drift (Lindblad rates; exact against QuTiP's Liouvillian):
 *
 *   a' = -(gA + 2i Delta)/2 a - i(J + i mu Gamma/2) b - iF
 *   b' = -(gB + 2i Delta)/2 b - i(J* + i mu* Gamma/2) a,
 *   gA = Gamma |p_a|^2 + kappa_a,  gB = Gamma |p_b|^2 + kappa_b,  mu = -p_b conj(p_a),
 *   J = |J| e^{i phi}; Delta is the coefficient of a^+a in the rotating frame (omega - omega_L).
 *
 * Steady state (growth < 0): b_ss = m21 (-iF)/det M with m21 = -i(J* + i mu* Gamma/2), so
 * E_B_ss = |m21|^2 F^2/|D(Delta)|^2, D(Delta) = det M = -Delta^2 + i g Delta + c0, g = (gA+gB)/2,
 * c0 = gA gB/4 - m12 m21.  Its maximum over Delta is a real root of the cubic
 * Delta^3 - (P0/8) Delta - Y/4 = 0, P0 = 8|J|^2 - 2 Gamma^2 |mu|^2 - gA^2 - gB^2,
 * Y = -Gamma Re(J mu*)(gA + gB) (docs/physics.md §3; the paper's A16-A18 are wrong).  Energies are
 * mean quanta; rates, Delta, J, F and 1/t share one unit.
 *
 * Extremes: the model is scale free (rates, Delta, J, F -> c x, t -> t/c leaves the energies
 * unchanged), so where the drift's largest entry is outside [2^-30, 2^30] the point is evaluated
 * at rates scaled by a power of 2 (exact) and Delta_opt, growth_rate scaled back; nothing then
 * over- or underflows before the energies themselves.  Transients along a row of t
 * (docs/physics.md §6): the drift's eigendecomposition once per row (qb_spectral), each t a
 * few exponentials; each amplitude from it where its estimate resolves it to 5e-9 of itself,
 * else from the closed-form 2x2 exponential (qb_expm2: exact through exceptional points), else
 * from qb_linear_transient (augmented exponential; steady-state form at large t).  Every energy
 * carries a first-order error estimate (|M^-1| (terms of M) |x|, and the exponential's
 * eps |M| t); where it exceeds 1e-8 of the energy plus 1e-12 of the total energy the field is NaN
 * with QB_PT_ILL_CONDITIONED (steady states, optima) or QB_PT_T_UNRESOLVED (at t).  Stated
 * accuracy: 1e-6 E + 1e-10 (E_A + E_B); P_B to 1e-6 (2|b||b'| + 2|x||x'|).
 * Valid ranges: qb_model.h. */
#include <complex.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qbmap/qb_expm2.h"
#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_spectral.h"

enum {
  P_DELTA,
  P_J,
  P_PHI,
  P_GAMMA,
  P_PA,
  P_PA_PH,
  P_PB,
  P_PB_PH,
  P_KAPPA_A,
  P_KAPPA_B,
  P_F,
  P_T,
  NPARAM
};

enum {
  F_GROWTH,
  F_EA_SS,
  F_EB_SS,
  F_XI_SS,
  F_EA,
  F_EB,
  F_PB,
  F_DELTA_OPT,
  F_EB_AT_DOPT,
  F_Y_OPT,
  F_EA_SUP,
  F_EB_SUP,
  F_XI_SUP,
  F_E_SINGLE,
  F_EB_OPT_COH,
  F_DE_COH,
  F_DE_DISS,
  F_G_B,
  F_STATUS,
  NFIELD
};

extern const qb_model qb_model_shared; /* the table, at the end */

static const qb_param params[NPARAM] = {
    [P_DELTA] = {"Delta", NAN, QB_ANY, false, "1", "detuning",
                 "detuning omega - omega_L (coefficient of a^+a and b^+b in the rotating "
                 "frame)" QB_DOC_ABS_LE(QB_RATE_MAX),
                 QB_RATE_MAX, 0},
    [P_J] = {"J", 0.0, QB_NONNEG, false, "1", "|J|",
             "|J|: coherent charger-battery coupling" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_PHI] = {"phi", 0.0, QB_ANY, false, "rad", "phase of J", "phase of J = |J| e^{i phi}", 0, 0},
    [P_GAMMA] = {"Gamma", 0.0, QB_NONNEG, false, "1", "shared-reservoir rate",
                 "shared-reservoir rate (Lindblad)" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_PA] = {"p_a", 1.0, QB_NONNEG, false, "1", "|p_a|",
              "|p_a|: charger coupling in z = p_a a + p_b b" QB_DOC_LE(QB_COUPLING_MAX),
              QB_COUPLING_MAX, 0},
    [P_PA_PH] = {"p_a_phase", 0.0, QB_ANY, false, "rad", "phase of p_a", "phase of p_a", 0, 0},
    [P_PB] = {"p_b", 1.0, QB_NONNEG, false, "1", "|p_b|",
              "|p_b|: battery coupling in z" QB_DOC_LE(QB_COUPLING_MAX), QB_COUPLING_MAX, 0},
    [P_PB_PH] = {"p_b_phase", 0.0, QB_ANY, false, "rad", "phase of p_b", "phase of p_b", 0, 0},
    [P_KAPPA_A] = {"kappa_a", NAN, QB_NONNEG, false, "1", "charger loss rate",
                   "local loss rate of the charger" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_KAPPA_B] = {"kappa_b", NAN, QB_NONNEG, false, "1", "battery loss rate",
                   "local loss rate of the battery" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_F] = {"F", 0.1, QB_POSITIVE, false, "1", "drive amplitude",
             "drive amplitude on the charger" QB_DOC_IN(QB_AMP_MIN, QB_AMP_MAX), QB_AMP_MAX,
             QB_AMP_MIN},
    [P_T] = {"t", 0.0, QB_NONNEG, false, "1", "time",
             "time since the drive was switched on; t <= " QB_XSTR(QB_T_MAX), QB_T_MAX, 0},
};

/* shared's own status bit (its number is stored data: never renumber); the others are
 * qb_status's. */
enum { SH_NO_OPTIMUM = 1u << 10 };

static const qb_pt_bit status_bits[] = {
    {QB_PT_NOT_STABLE, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_OVERFLOW, NULL,
     "an energy or power exceeds the double range (E_A, E_B or P_B at this t, or a steady-state "
     "or optimum energy): it is inf, quantities derived from infinite energies (differences) are "
     "NaN",
     QB_PT_KIND_DEFAULT},
    {QB_PT_BAD_PARAM, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_NUMERICS, NULL, NULL, QB_PT_KIND_DEFAULT},
    {SH_NO_OPTIMUM, "no_optimum",
     "an optimum does not exist here (kappa_a or kappa_b = 0, Gamma = 0, or not stable there): "
     "its fields are NaN",
     QB_PT_INFO},
    {QB_PT_T_UNRESOLVED, NULL, QB_PT_T_UNRESOLVED_WHY ": E_A, E_B, P_B are NaN",
     QB_PT_KIND_DEFAULT},
    {QB_PT_ILL_CONDITIONED, NULL, NULL, QB_PT_KIND_DEFAULT},
};

static const qb_field fields[NFIELD] = {
    [F_GROWTH] = {"growth_rate", QB_F64, "1", "growth rate",
                  "max Re eig(M) (<= 0 for these passive rates)", true},
    [F_EA_SS] = {"E_A_ss", QB_F64, "1", "steady-state charger energy",
                 "steady-state <a^+a> (NaN unless stable)", true},
    [F_EB_SS] = {"E_B_ss", QB_F64, "1", "steady-state battery energy",
                 "steady-state <b^+b> (NaN unless stable)", true},
    [F_XI_SS] = {"xi_ss", QB_F64, "1", "steady-state total energy", "E_A_ss + E_B_ss", true},
    [F_EA] = {"E_A", QB_F64, "1", "charger energy",
              "<a^+a> at time t from the vacuum (docs/physics.md s6)", false},
    [F_EB] = {"E_B", QB_F64, "1", "battery energy",
              "<b^+b> at time t from the vacuum (docs/physics.md s6)", false},
    [F_PB] = {"P_B", QB_F64, "1", "battery power", "dE_B/dt at time t", false},
    [F_DELTA_OPT] = {"Delta_opt", QB_F64, "1", "optimal detuning",
                     "maximizer of E_B_ss over Delta at the other parameters: the real root of "
                     "Delta^3 - (P0/8) Delta - Y/4 = 0 with the largest E_B_ss; where roots tie "
                     "(+-Delta when Y = 0, e.g. Gamma = 0) the larger, non-negative one",
                     true},
    [F_EB_AT_DOPT] = {"E_B_at_Delta_opt", QB_F64, "1", "E_B_ss at the optimal detuning",
                      "E_B_ss at Delta = Delta_opt", true},
    [F_Y_OPT] = {"y_opt", QB_F64, "1", "optimal |p_a|^2/|p_b|^2",
                 "maximizer of E_B_ss over y = |p_a|^2/|p_b|^2 at fixed |p_a p_b|, J = 0, "
                 "Delta = 0 (the optimal Delta there): y = kappa_a/kappa_b for every Gamma > 0, "
                 "|p_a p_b| and phase (closed form, checked against GSL maximization)",
                 true},
    [F_EA_SUP] = {"E_A_supopt", QB_F64, "1", "super-optimal charger energy",
                  "E_A_ss at the super-optimal point (J = 0, y_opt)", true},
    [F_EB_SUP] = {"E_B_supopt", QB_F64, "1", "super-optimal battery energy",
                  "E_B_ss at the super-optimal point (J = 0, y_opt)", true},
    [F_XI_SUP] = {"xi_supopt", QB_F64, "1", "super-optimal total energy", "E_A_supopt + E_B_supopt",
                  true},
    [F_E_SINGLE] = {"E_single", QB_F64, "1", "directly driven battery energy",
                    "4 F^2/kappa_a^2: a battery driven directly (Eq. 25)", true},
    [F_EB_OPT_COH] = {"E_B_opt_coh", QB_F64, "1", "conventional optimal battery energy",
                      "conventional optimum: E_B_ss at |J|, Gamma = 0, Delta = Delta_opt there",
                      true},
    [F_DE_COH] = {"dE_coh", QB_F64, "1", "coherent gain over E_single", "E_B_opt_coh - E_single",
                  true},
    [F_DE_DISS] = {"dE_diss", QB_F64, "1", "dissipative gain over E_single",
                   "E_B_supopt - E_single", true},
    [F_G_B] = {"G_B", QB_F64, "1", "dissipative minus coherent optimum",
               "E_B_supopt(Gamma) - E_B_opt_coh(|J| = Gamma/2)", true},
    [F_STATUS] = {"status", QB_I32, "1", "point status flags",
                  "bitmask of point status flags (see qbmap models)", false},
};

/* The drift at given couplings; f = (-iF, 0).  Returns the largest |M_ij|. */
typedef struct {
  double J, phi, Gamma, kappa_a, kappa_b, Delta;
  double complex pa, pb;
} sh_par;

static double drift(const sh_par *q, double complex *M) {
  double complex J = q->J * cexp(I * q->phi), mu = -q->pb * conj(q->pa);
  double gA = q->Gamma * qb_model_abs2(q->pa) + q->kappa_a,
         gB = q->Gamma * qb_model_abs2(q->pb) + q->kappa_b;
  M[0] = -0.5 * gA - I * q->Delta;
  M[1] = -I * (J + I * mu * q->Gamma / 2);
  M[2] = -I * (conj(J) + I * conj(mu) * q->Gamma / 2);
  M[3] = -0.5 * gB - I * q->Delta;
  double s = 0;
  for (int k = 0; k < 4; k++)
    s = fmax(s, cabs(M[k]));
  return s;
}

/* max Re eig of a 2x2 matrix */
static double growth2(const double complex *M) {
  double complex h = 0.5 * (M[0] + M[3]), d = 0.5 * (M[0] - M[3]);
  double complex w = csqrt(d * d + M[1] * M[2]);
  return fmax(creal(h + w), creal(h - w));
}

/* Magnitudes of the terms that formed each entry of the drift (rounding inside them counts). */
static void drift_terms(const sh_par *q, double *Mt) {
  double G = q->Gamma, na = cabs(q->pa), nb = cabs(q->pb);
  Mt[0] = 0.5 * (G * na * na + q->kappa_a) + fabs(q->Delta);
  Mt[1] = Mt[2] = q->J + 0.5 * G * na * nb;
  Mt[3] = 0.5 * (G * nb * nb + q->kappa_b) + fabs(q->Delta);
}

/* Steady state of x' = M x + (-iF, 0); 0 if not stable.  x_ss, and the first-order error
 * estimate err = c eps |M^-1| (Mterms |x| + |f|) of its components, if asked for. */
static int steady_x(const sh_par *q, double F, double *ea, double *eb, double complex *x,
                    double *err) {
  double complex M[4];
  double scale = drift(q, M); /* the stability tolerance's scale: the largest |M_ij| */
  if (!(growth2(M) < -QB_TOL_GROWTH * scale)) return 0;
  double complex det = M[0] * M[3] - M[1] * M[2], f = -I * F;
  /* x = -M^-1 f: a = -M22 f/det, b = M21 f/det */
  *ea = qb_model_abs2(M[3] * f / det);
  *eb = qb_model_abs2(M[2] * f / det);
  if (x) {
    x[0] = -M[3] * f / det;
    x[1] = M[2] * f / det;
    double Mt[4], ad = cabs(det), xa = cabs(x[0]), xb = cabs(x[1]);
    drift_terms(q, Mt);
    double u0 = Mt[0] * xa + Mt[1] * xb + F, u1 = Mt[2] * xa + Mt[3] * xb;
    double c = 6 * DBL_EPSILON / ad;
    err[0] = c * (cabs(M[3]) * u0 + cabs(M[1]) * u1);
    err[1] = c * (cabs(M[2]) * u0 + cabs(M[0]) * u1);
  }
  return 1;
}

/* Steady state with its error check: 1 stable and resolved, 0 not stable, -1 ill-conditioned
 * (ea, eb NaN where their own estimate fails). */
static int steady_checked(const sh_par *q, double F, double *ea, double *eb) {
  double complex x[2];
  double err[2];
  if (!steady_x(q, F, ea, eb, x, err)) return 0;
  double nx = qb_model_norm_amp(x, 2);
  int ok = 1;
  if (!qb_model_energy_ok(cabs(x[0]), err[0], nx)) *ea = NAN, ok = -1;
  if (!qb_model_energy_ok(cabs(x[1]), err[1], nx)) *eb = NAN, ok = -1;
  return ok;
}

/* Real roots of x^3 + p x + q = 0 (1 or 3); returns their count. */
static int cubic_real_roots(double p, double q, double *x) {
  if (p == 0 && q == 0) {
    x[0] = 0;
    return 1;
  }
  double disc = -(4 * p * p * p + 27 * q * q);
  if (disc > 0) { /* three distinct real roots: trigonometric form */
    double r = 2 * sqrt(-p / 3), th = acos(fmax(-1.0, fmin(1.0, 3 * q / (p * r))));
    for (int k = 0; k < 3; k++)
      x[k] = r * cos((th - 6.283185307179586 * k) / 3);
    return 3;
  }
  /* one real root (or a multiple one): Cardano, then a Newton polish */
  double s = sqrt(fmax(0.0, q * q / 4 + p * p * p / 27));
  double v = cbrt(-q / 2 + s) + cbrt(-q / 2 - s);
  for (int it = 0; it < 3; it++) {
    double fp = 3 * v * v + p;
    if (fp != 0) v -= (v * v * v + p * v + q) / fp;
  }
  x[0] = v;
  return 1;
}

/* Delta maximizing E_B_ss at the other parameters of q (Delta itself ignored): the real roots
 * of the stationarity cubic, the one with the smallest |det M|; on a +-Delta tie the
 * non-negative one. */
static double delta_opt(const sh_par *q) {
  sh_par r = *q;
  r.Delta = 0;
  double complex M[4];
  drift(&r, M);
  double gA = -2 * creal(M[0]), gB = -2 * creal(M[3]), g = 0.5 * (gA + gB);
  double complex c0 = gA * gB / 4 - M[1] * M[2];
  double roots[3];
  int n = cubic_real_roots(-(creal(c0) - g * g / 2), g * cimag(c0) / 2, roots);
  double d2[3];
  int bi = 0;
  for (int k = 0; k < n; k++) {
    double x = roots[k];
    d2[k] = qb_model_abs2(-x * x + I * g * x + c0);
    if (d2[k] < d2[bi]) bi = k;
  }
  for (int k = 0; k < n; k++) /* ties (+-Delta when Y = 0): the larger root */
    if (k != bi && d2[k] <= d2[bi] * (1 + 1e-12) && roots[k] > roots[bi]) bi = k;
  return roots[bi];
}

/* One evaluation: the point with its rates scaled by 2^-k (the model is scale free) and its
 * drive by a further 2^-dk where that is extreme (every energy and power, ~F^2, scaled back by
 * 2^(2 dk) at the end: exact where they stay in range); its drift and steady state. */
typedef struct {
  sh_par q;
  double F, t; /* the drive, scaled by 2^(-k-dk), and the time, by 2^k */
  int k, dk;
  double complex M[4], f[2];
  int stable;               /* the steady state exists: */
  double complex xss[2];    /* x_ss */
  double ess_err[2];        /* and its error estimate */
  qb_spectral spec;         /* M's eigendecomposition with f (the fast path along a row) */
  qb_expm2 plan;            /* the closed-form transients of M, f (robust through EPs) */
  double g;                 /* the growth rate at the scaled rates (transient) */
  const double complex *sy; /* qb_spectral_x at t with its estimate (row_t computes them for */
  const double *sey;        /* a block of t at once); NULL: the plan is not usable */
} sh_eval;

/* The scaled point at p: q, F, t, k, dk, M, f of e. */
static void setup(const double *p, sh_eval *e) {
  e->F = p[P_F];
  e->t = p[P_T];
  e->q = (sh_par){.J = p[P_J],
                  .phi = p[P_PHI],
                  .Gamma = p[P_GAMMA],
                  .kappa_a = p[P_KAPPA_A],
                  .kappa_b = p[P_KAPPA_B],
                  .Delta = p[P_DELTA],
                  .pa = p[P_PA] * cexp(I * p[P_PA_PH]),
                  .pb = p[P_PB] * cexp(I * p[P_PB_PH])};
  e->k = qb_model_scale_exponent(drift(&e->q, e->M));
  if (e->k != 0) {
    const int k = e->k;
    e->q.J = ldexp(e->q.J, -k);
    e->q.Gamma = ldexp(e->q.Gamma, -k);
    e->q.kappa_a = ldexp(e->q.kappa_a, -k);
    e->q.kappa_b = ldexp(e->q.kappa_b, -k);
    e->q.Delta = ldexp(e->q.Delta, -k);
    e->F = ldexp(e->F, -k);
    e->t = ldexp(e->t, k);
  }
  e->dk = qb_model_drive_exponent(p[P_F], e->k, &e->F);
  e->f[0] = -I * e->F;
  e->f[1] = 0;
  drift(&e->q, e->M);
}

/* growth_rate and the steady state E_A_ss, E_B_ss, xi_ss (stable, xss, ess_err of e); returns
 * the status bits. */
static uint32_t steady(sh_eval *e, double *out) {
  out[F_GROWTH] = ldexp(growth2(e->M), e->k);
  double ea, eb;
  e->stable = steady_x(&e->q, e->F, &ea, &eb, e->xss, e->ess_err);
  if (!e->stable) return QB_PT_NOT_STABLE;
  double nx = qb_model_norm_amp(e->xss, 2);
  int oka = qb_model_energy_ok(cabs(e->xss[0]), e->ess_err[0], nx),
      okb = qb_model_energy_ok(cabs(e->xss[1]), e->ess_err[1], nx);
  if (oka) out[F_EA_SS] = ea;
  if (okb) out[F_EB_SS] = eb;
  if (oka && okb) out[F_XI_SS] = ea + eb;
  return !oka || !okb ? QB_PT_ILL_CONDITIONED : 0;
}

/* The accuracy guards at t: E_A (ok[0]), E_B (ok[1]) and P_B (ok[2], checked in the scale of dx:
 * ldx, x' below the double range) from x, x' and their estimates. */
static void guards(const double complex *x, const double complex *dx, const double *ex,
                   const double *edx, bool *ok) {
  const double nx = qb_model_norm_amp(x, 2), ndx = qb_model_norm_amp(dx, 2);
  const double ax0 = qb_model_mag(x[0]), ax1 = qb_model_mag(x[1]), adx1 = qb_model_mag(dx[1]);
  const double pb_err = 2.0 * (ex[1] * adx1 + ax1 * edx[1]);
  const double pb_scale = 2.0 * ax1 * adx1, pb_all = 2.0 * nx * ndx;
  ok[0] = qb_model_energy_ok(ax0, ex[0], nx);
  ok[1] = qb_model_energy_ok(ax1, ex[1], nx);
  ok[2] =
      isfinite(pb_err) && isfinite(pb_all) && pb_err <= QB_EST_MAX * (pb_scale + pb_all) + DBL_MIN;
}

/* x(t) and, where P_B is wanted (pb), x'(t) (ldx as qb_linear_transient), with the guards ok[3]
 * (E_A, E_B, P_B; docs/physics.md §6.4).  Each amplitude from the first of three ways that
 * resolves it to QB_EST_MAX / 2 of itself: the row's eigendecomposition (qb_spectral_x, e->sy; its
 * errors taken as at least 2 eps sum |x_i|: an amplitude far below the other may be lost to
 * the eigensolver's deflation), the closed form (qb_expm2: exact through exceptional points),
 * else qb_linear_transient (the guards of qb_model_energy_ok decide).  x_b = 0 exactly where
 * b is never driven (M_21 = 0).  x' from the first of the last two whose P_B guard passes.  So
 * x, E_A and E_B depend on the point only, not on whether P_B is wanted. */
static qb_err moments(const sh_eval *e, double g, bool pb, double complex *x, double complex *dx,
                      double *ldx, bool *ok) {
  double ex[2] = {0, 0}, ny = 0;
  bool have[2] = {false, e->M[2] == 0}, have_dx = !pb, forced[2] = {false, false};
  x[1] = 0;
  ok[0] = ok[1] = ok[2] = true; /* an amplitude resolved relative to itself passes its guard */
  double complex y[2];
  double ey[2];
  if (e->sy)
    qb_model_take_resolved(e->sy, e->sey, qb_model_amp_floor(2, e->sy), false, have, x, ex);
  for (int way = 0; way < 2 && !(have[0] && have[1] && have_dx); way++) {
    double complex dy[2];
    double edy[2], ly;
    bool gy[3];
    qb_err err = way == 0 ? qb_expm2_at(&e->plan, e->t, y, dy, &ly, ey, edy)
                          : qb_linear_transient(2, e->M, e->f, e->t, g, e->stable ? e->xss : NULL,
                                                e->ess_err, y, dy, &ly, ey, edy);
    if (err && way == 1) return err;
    if (err) continue;
    if (way == 1) forced[0] = !have[0], forced[1] = !have[1], ny = qb_model_norm_amp(y, 2);
    qb_model_take_resolved(y, ey, 0, way == 1, have, x, ex);
    if (!have_dx && have[0] && have[1]) {
      guards(x, dy, ex, edy, gy);
      if (gy[2] || way == 1) dx[0] = dy[0], dx[1] = dy[1], *ldx = ly, ok[2] = gy[2], have_dx = true;
    }
  }
  for (int i = 0; i < 2; i++) /* the reference method's: against its whole state */
    if (forced[i]) ok[i] = qb_model_energy_ok(qb_model_mag(x[i]), ex[i], ny);
  return QB_OK;
}

/* E_A, E_B and (if wanted) P_B at t from the vacuum; returns the status bits. */
static uint32_t transient(const sh_eval *e, const bool *want, double *out) {
  const int k = e->k, dk = e->dk;
  const bool pbw = qb_model_wants(want, F_PB);
  double complex x[2], dx[2] = {0, 0};
  double ldx = 0;
  bool ok[3];
  if (moments(e, e->g, pbw, x, dx, &ldx, ok) != QB_OK) return QB_PT_NUMERICS;
  if (ok[0]) out[F_EA] = qb_model_energy_back(x[0], dk);
  if (ok[1]) out[F_EB] = qb_model_energy_back(x[1], dk);
  if (pbw) {
    /* x' and so P_B scale with the rates (2^k) and P_B with the drive squared (2^(2 dk)) */
    double pb = 2 * creal(conj(x[1]) * dx[1]);
    if (ldx != 0 && pb != 0)
      pb = copysign(exp(log(fabs(pb)) + ldx + (k + 2 * dk) * 0.69314718055994531), pb);
    else
      pb = ldexp(pb, k + 2 * dk);
    if (ok[2]) out[F_PB] = pb;
  }
  return !ok[0] || !ok[1] || !ok[2] ? QB_PT_T_UNRESOLVED : 0;
}

/* The optima below set ill[f] where field f is NaN because a steady state is ill-conditioned
 * (not because the optimum does not exist). */

/* Delta_opt, the optimal detuning at the point's other parameters, and E_B_ss there. */
static void optimum_delta(const sh_eval *e, double *out, bool *ill) {
  double ea, eb;
  sh_par r = e->q;
  r.Delta = delta_opt(&e->q);
  out[F_DELTA_OPT] = ldexp(r.Delta, e->k);
  int sr = steady_checked(&r, e->F, &ea, &eb);
  if (sr) out[F_EB_AT_DOPT] = eb;
  if (sr < 0 && isnan(eb)) ill[F_EB_AT_DOPT] = true;
}

/* The single battery E_single and the conventional optimum (Gamma = 0): E_B_opt_coh, dE_coh. */
static void optimum_coherent(const sh_eval *e, double *out, bool *ill) {
  double ea, eb;
  const double ka = e->q.kappa_a, F = e->F;
  if (ka > 0) out[F_E_SINGLE] = 4 * F * F / (ka * ka);
  sh_par c = e->q;
  c.Gamma = 0;
  c.Delta = delta_opt(&c);
  int sc = steady_checked(&c, F, &ea, &eb);
  if (sc) out[F_EB_OPT_COH] = eb;
  if (sc < 0 && isnan(eb)) ill[F_EB_OPT_COH] = ill[F_DE_COH] = true;
  out[F_DE_COH] = out[F_EB_OPT_COH] - out[F_E_SINGLE];
}

/* The super-optimal point (J = 0, y = kappa_a/kappa_b at fixed |p_a p_b|, Delta = 0): y_opt,
 * E_A_supopt, E_B_supopt, xi_supopt, dE_diss, and G_B against the conventional optimum with
 * |J| = Gamma/2.  After optimum_coherent (E_single). */
static void optimum_super(const sh_eval *e, double *out, bool *ill) {
  double ea, eb;
  const sh_par *q = &e->q;
  const double ka = q->kappa_a, kb = q->kappa_b, m = cabs(q->pa) * cabs(q->pb);
  if (!(ka > 0 && kb > 0 && q->Gamma > 0 && m > 0)) return;
  double y = ka / kb;
  out[F_Y_OPT] = y;
  sh_par su = *q;
  su.J = 0;
  su.Delta = 0;
  su.pa = sqrt(m * sqrt(y)) * cexp(I * carg(q->pa));
  su.pb = sqrt(m / sqrt(y)) * cexp(I * carg(q->pb));
  int ss = steady_checked(&su, e->F, &ea, &eb);
  if (!ss) return;
  out[F_EA_SUP] = ea;
  out[F_EB_SUP] = eb;
  out[F_XI_SUP] = ea + eb;
  out[F_DE_DISS] = eb - out[F_E_SINGLE];
  if (ss < 0) {
    ill[F_EA_SUP] = isnan(ea);
    ill[F_EB_SUP] = ill[F_DE_DISS] = ill[F_G_B] = isnan(eb);
    ill[F_XI_SUP] = isnan(ea) || isnan(eb);
  }
  sh_par h = *q; /* conventional optimum (Gamma = 0) with |J| = Gamma/2 */
  h.Gamma = 0;
  h.J = q->Gamma / 2;
  h.Delta = delta_opt(&h);
  int sh = steady_checked(&h, e->F, &ea, &eb);
  if (sh) out[F_G_B] = out[F_EB_SUP] - eb;
  if (sh < 0 && isnan(eb)) ill[F_G_B] = true;
}

/* Every optimum field; returns the status bits (ill-conditioned, or no optimum). */
static uint32_t optima(const sh_eval *e, double *out) {
  static const int optima[] = {F_DELTA_OPT, F_EB_AT_DOPT, F_Y_OPT,  F_EA_SUP,  F_EB_SUP, F_XI_SUP,
                               F_E_SINGLE,  F_EB_OPT_COH, F_DE_COH, F_DE_DISS, F_G_B};
  bool ill[NFIELD] = {false};
  uint32_t status = 0;
  optimum_delta(e, out, ill);
  optimum_coherent(e, out, ill);
  optimum_super(e, out, ill);
  for (size_t j = 0; j < sizeof optima / sizeof *optima; j++) {
    int fj = optima[j];
    if (ill[fj]) status |= QB_PT_ILL_CONDITIONED;
    if (isnan(out[fj]) && !ill[fj]) status |= SH_NO_OPTIMUM;
  }
  return status;
}

/* The drive's scale 2^(2 dk) back onto the energies: the row's t-independent ones once (returns
 * the overflow bit of every field then set: the t fields are still NaN); E_A, E_B, P_B are
 * scaled where formed (finish_t: their overflow bit). */
static uint32_t finish_row(int dk, double *out) {
  static const int en[] = {F_EA_SS,  F_EB_SS,    F_XI_SS,      F_EB_AT_DOPT, F_EA_SUP,  F_EB_SUP,
                           F_XI_SUP, F_E_SINGLE, F_EB_OPT_COH, F_DE_COH,     F_DE_DISS, F_G_B};
  if (dk != 0) qb_model_scale_energies(out, en, (int)(sizeof en / sizeof *en), dk);
  return qb_model_overflow(out, NFIELD, -1);
}

static uint32_t finish_t(const double *out) {
  return isinf(out[F_EA]) || isinf(out[F_EB]) || isinf(out[F_PB]) ? QB_PT_OVERFLOW : 0;
}

/* Scaled times of a block of a row: the spectral moments of the block at once. */
enum { BLOCK = 64 };

/* The model's row kernel, along t (its points are rows of one; qb_model_eval_row has prepared
 * row 0 and checked p), p[P_T] ignored: what does not depend on t (setup, steady state,
 * optima) once, then E_A, E_B, P_B at each x[j] into out[j * NFIELD + f], the eigendecomposition's
 * moments BLOCK times at once (qb_spectral_x_many: bitwise those of each t alone). */
static void row_t(const qb_model *m, const double *p, const double *x, int n, const bool *want,
                  double *out) {
  (void)m;
  sh_eval e;
  double base[NFIELD]; /* the t-independent fields */
  setup(p, &e);
  uint32_t status = steady(&e, out) | optima(&e, out);
  const bool trans =
      qb_model_wants(want, F_EA) || qb_model_wants(want, F_EB) || qb_model_wants(want, F_PB);
  if (trans) {
    qb_spectral_init(&e.spec, 2, e.M, e.f); /* failures: not usable (the closed form then) */
    qb_expm2_init(&e.plan, e.M, e.f);
  }
  const bool spec = trans && qb_spectral_usable(&e.spec);
  status |= finish_row(e.dk, out);
  if (n > 1) memcpy(base, out, sizeof base);
  const double tscale = ldexp(1.0, e.k);
  e.g = ldexp(out[F_GROWTH], -e.k); /* as every point's out[F_GROWTH] */
  for (int j0 = 0; j0 < n; j0 += BLOCK) {
    const int nb = n - j0 < BLOCK ? n - j0 : BLOCK;
    double ts[BLOCK], ey[2 * BLOCK];
    double complex y[2 * BLOCK];
    for (int j = 0; j < nb; j++)
      ts[j] = qb_model_scale_time(x[j0 + j], e.k, tscale);
    const bool sp = spec && qb_spectral_x_many(&e.spec, 2, ts, nb, y, ey) == QB_OK;
    for (int j = 0; j < nb; j++) {
      double *o = out + (size_t)(j0 + j) * NFIELD;
      if (j0 + j > 0) memcpy(o, base, sizeof base);
      e.t = ts[j];
      e.sy = sp ? y + 2 * j : NULL, e.sey = sp ? ey + 2 * j : NULL;
      uint32_t st = status;
      if (trans) st |= transient(&e, want, o);
      st |= finish_t(o);
      o[F_STATUS] = st;
    }
  }
}

const qb_model qb_model_shared = {
    .name = "shared",
    .doc =
        "SO paper's charger-battery model (Eqs. 3-5, Lindblad rates; docs/physics.md s3): coherent "
        "coupling J and a shared reservoir Gamma; optimal detuning and super-optimal "
        "charging",
    .nparams = NPARAM,
    .params = params,
    .nfields = NFIELD,
    .fields = fields,
    .nstatus = sizeof status_bits / sizeof *status_bits,
    .status_bits = status_bits,
    .boundary_field = F_GROWTH,
    .check_given = NULL,
    .eval = NULL, /* a point is a row of one */
    .eval_row = row_t,
    .row_axis = P_T,
    .disc = NULL,
    .coalescence = NULL,
};
