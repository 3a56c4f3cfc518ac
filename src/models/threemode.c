/* Model `threemode`: the EP paper's microscopic model (Eqs. 8-16, docs/physics.md §2): charger a,
 * battery b and a lossy auxiliary mode c, coupled only through two shared reservoirs, with the
 * master equation exactly as written in Eq. 9 (Lindblad convention D[o] = o.o^+ - {o^+o, .}/2;
 * Eqs. 10-12 of the paper drop that 1/2, i.e. use rates halved).  First moments (a, b, c):
 *
 *   x' = M x + f,  M = -i diag(delta, -delta, delta_c) - G/2,  f = (-iE, 0, 0),
 *   G = diag(kappa_a, kappa_b, kappa_c) + Gamma conj(v_a) v_a^T + Gamma conj(v_b) v_b^T,
 *   v_a = (p_a, 0, p_ca),  v_b = (0, p_b, p_cb)     (complex couplings: magnitude and phase).
 *
 * Herm(M) = -G/2 <= 0: the full model never grows.  Eliminating c (K_c = kappa_c +
 * Gamma (|p_ca|^2 + |p_cb|^2) large) leaves the Schur complement S = M_ss - M_sc M_cc^-1 M_cs on
 * (a, b), which maps to model `ep` with time unit 1/|S_ab|: gamma_j = -Re S_jj/|S_ab|,
 * delta_r = -Im S_aa/|S_ab| (and Im S_bb/|S_ab| for b; the two differ when delta_c != 0: then,
 * or wherever S_ab S_ba is not real-positive, no ep point reproduces S; status bit not_ep_form).
 * Rates, detunings, E and 1/t share one (arbitrary) unit; energies are mean quanta.
 *
 * Extremes (as in model shared): scale free, so a drift far from 1 is evaluated at rates scaled
 * by a power of 2; the transients along a row of t (docs/physics.md §6) come from the drift's
 * eigendecomposition once per row (qb_spectral, LAPACK), each amplitude where its estimate
 * resolves it to 5e-9 of itself, else from qb_linear_transient (augmented exponential, exact
 * also at exceptional points; any t); the steady states carry the
 * first-order error estimate of qb_linear_solve_est and the transients theirs: above 1e-8 of
 * the energy plus 1e-12 of the total energy a field is NaN with QB_PT_ILL_CONDITIONED or
 * QB_PT_T_UNRESOLVED (stated accuracy 1e-6 E + 1e-10 E_total).  Valid ranges: qb_model.h. */
#include <complex.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_spectral.h"

enum {
  P_DELTA,
  P_DELTA_C,
  P_KAPPA_A,
  P_KAPPA_B,
  P_KAPPA_C,
  P_GAMMA,
  P_PA,
  P_PA_PH,
  P_PB,
  P_PB_PH,
  P_PCA,
  P_PCA_PH,
  P_PCB,
  P_PCB_PH,
  P_E,
  P_T,
  NPARAM
};

enum {
  F_GROWTH,
  F_EA_SS,
  F_EB_SS,
  F_EA,
  F_EB,
  F_LOG_EB,
  F_GAMMA_EFF,
  F_GA_RED,
  F_GB_RED,
  F_DR_RED,
  F_DRB_RED,
  F_TIME_UNIT,
  F_GROWTH_RED,
  F_EB_SS_RED,
  F_EB_RED,
  F_ELIM_ERR,
  F_ELIM_ERR_T,
  F_MARGIN,
  F_STATUS,
  NFIELD
};

extern const qb_model qb_model_threemode; /* the table, at the end */

static const qb_param params[NPARAM] = {
    [P_DELTA] = {"delta", NAN, QB_ANY, false, "1", "detuning",
                 "detuning: delta_a = delta, delta_b = -delta" QB_DOC_ABS_LE(QB_RATE_MAX),
                 QB_RATE_MAX, 0},
    [P_DELTA_C] = {"delta_c", 0.0, QB_ANY, false, "1", "detuning of mode c",
                   "detuning of the auxiliary mode c" QB_DOC_ABS_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_KAPPA_A] = {"kappa_a", NAN, QB_NONNEG, false, "1", "local loss rate of a",
                   "local loss rate of a (Lindblad)" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_KAPPA_B] = {"kappa_b", NAN, QB_NONNEG, false, "1", "local loss rate of b",
                   "local loss rate of b (Lindblad)" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_KAPPA_C] = {"kappa_c", NAN, QB_NONNEG, false, "1", "local loss rate of c",
                   "local loss rate of c (Lindblad)" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_GAMMA] = {"Gamma", NAN, QB_NONNEG, false, "1", "shared-reservoir rate",
                 "shared-reservoir rate (Lindblad)" QB_DOC_LE(QB_RATE_MAX), QB_RATE_MAX, 0},
    [P_PA] = {"p_a", 1.0, QB_NONNEG, false, "1", "|p_a|",
              "|p_a|: coupling of a in z_a = p_a a + p_ca c" QB_DOC_LE(QB_COUPLING_MAX),
              QB_COUPLING_MAX, 0},
    [P_PA_PH] = {"p_a_phase", 0.0, QB_ANY, false, "rad", "phase of p_a", "phase of p_a", 0, 0},
    [P_PB] = {"p_b", 1.0, QB_NONNEG, false, "1", "|p_b|",
              "|p_b|: coupling of b in z_b = p_b b + p_cb c" QB_DOC_LE(QB_COUPLING_MAX),
              QB_COUPLING_MAX, 0},
    [P_PB_PH] = {"p_b_phase", 0.0, QB_ANY, false, "rad", "phase of p_b", "phase of p_b", 0, 0},
    [P_PCA] = {"p_ca", 1.0, QB_NONNEG, false, "1", "|p_ca|",
               "|p_ca|: coupling of c in z_a" QB_DOC_LE(QB_COUPLING_MAX), QB_COUPLING_MAX, 0},
    [P_PCA_PH] = {"p_ca_phase", 0.0, QB_ANY, false, "rad", "phase of p_ca", "phase of p_ca", 0, 0},
    [P_PCB] = {"p_cb", 1.0, QB_NONNEG, false, "1", "|p_cb|",
               "|p_cb|: coupling of c in z_b" QB_DOC_LE(QB_COUPLING_MAX), QB_COUPLING_MAX, 0},
    [P_PCB_PH] = {"p_cb_phase", 0.0, QB_ANY, false, "rad", "phase of p_cb", "phase of p_cb", 0, 0},
    [P_E] = {"E", 1.0, QB_POSITIVE, false, "1", "drive amplitude",
             "drive amplitude on a (H contains E(a + a^+))" QB_DOC_IN(QB_AMP_MIN, QB_AMP_MAX),
             QB_AMP_MAX, QB_AMP_MIN},
    [P_T] = {"t", 0.0, QB_NONNEG, false, "1", "time",
             "time since the drive was switched on; t <= " QB_XSTR(QB_T_MAX), QB_T_MAX, 0},
};

/* threemode's own status bits (numbers are stored data: never renumber); the others are
 * qb_status's. */
enum { TM_NO_REDUCTION = 1u << 7, TM_RED_NOT_STABLE = 1u << 8, TM_NOT_EP_FORM = 1u << 13 };

static const qb_pt_bit status_bits[] = {
    {QB_PT_NOT_STABLE, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_OVERFLOW, NULL,
     "a field exceeds the double range (an energy, or realizable_margin): it is inf, quantities "
     "derived from infinite energies (the elimination errors) are NaN; log_E_B is finite",
     QB_PT_KIND_DEFAULT},
    {QB_PT_BAD_PARAM, NULL, NULL, QB_PT_KIND_DEFAULT},
    {TM_NO_REDUCTION, "no_reduction",
     "no reduced model: the a-b coupling through c vanishes (Gamma, a coupling or K_c is 0): "
     "reduced fields are NaN",
     QB_PT_INFO},
    {TM_RED_NOT_STABLE, "red_not_stable",
     "reduced model not stable: E_B_ss_red and the steady-state elimination error are NaN",
     QB_PT_INFO},
    {QB_PT_NUMERICS, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_T_UNRESOLVED, NULL,
     QB_PT_T_UNRESOLVED_WHY ", or E_B = 0 below the double range (elimination_error_t undefined): "
                            "E_A, E_B, log_E_B, E_B_red, elimination_error_t are NaN",
     QB_PT_KIND_DEFAULT},
    {QB_PT_ILL_CONDITIONED, NULL,
     "a steady state is ill-conditioned at this point (estimated relative error above 1e-6: rates "
     "spanning too many decades), or E_B_ss = 0 below the double range (elimination_error "
     "undefined): the fields it feeds are NaN",
     QB_PT_KIND_DEFAULT},
    {TM_NOT_EP_FORM, "not_ep_form",
     "the reduced drift S is not of model ep's form (docs/physics.md s2.4: delta_c != 0 or "
     "S_ab S_ba not real-positive; test: |S_ab S_ba/(|S_ab||S_ba|) - 1| or |delta_r_b_red - "
     "delta_r_red|/(1 + |delta_r_red|) above 1e-8): gamma_a_red, gamma_b_red, delta_r_red, "
     "time_unit, realizable_margin are S's entries as defined but no ep point reproduces the "
     "reduced dynamics (growth_rate_red, E_B_ss_red, E_B_red are computed from S itself)",
     QB_PT_INFO},
};

static const qb_field fields[NFIELD] = {
    [F_GROWTH] = {"growth_rate", QB_F64, "1", "growth rate",
                  "max Re eig(M) of the full 3x3 drift (<= 0)", true},
    [F_EA_SS] = {"E_A_ss", QB_F64, "1", "steady-state charger energy",
                 "steady-state <a^+a> (NaN unless stable)", true},
    [F_EB_SS] = {"E_B_ss", QB_F64, "1", "steady-state battery energy",
                 "steady-state <b^+b> (NaN unless stable)", true},
    [F_EA] = {"E_A", QB_F64, "1", "charger energy", "<a^+a> at time t, from the vacuum", false},
    [F_EB] = {"E_B", QB_F64, "1", "battery energy", "<b^+b> at time t, from the vacuum", false},
    [F_LOG_EB] = {"log_E_B", QB_F64, "1", "ln battery energy", "ln E_B(t) (-inf at t = 0)", false},
    [F_GAMMA_EFF] = {"Gamma_eff", QB_F64, "1", "Gamma_eff",
                     "Gamma^2/(2 K_c), K_c = kappa_c + Gamma(|p_ca|^2 + |p_cb|^2) (the paper's "
                     "Gamma_eff; Gamma^2/K_c in its halved rates)",
                     true},
    [F_GA_RED] = {"gamma_a_red", QB_F64, "1", "reduced gamma_a",
                  "reduced gamma_a = -Re S_aa/|S_ab| (model ep)", true},
    [F_GB_RED] = {"gamma_b_red", QB_F64, "1", "reduced gamma_b",
                  "reduced gamma_b = -Re S_bb/|S_ab| (model ep)", true},
    [F_DR_RED] = {"delta_r_red", QB_F64, "1", "reduced detuning of a",
                  "reduced detuning of a, -Im S_aa/|S_ab| (model ep's delta_r)", true},
    [F_DRB_RED] = {"delta_r_b_red", QB_F64, "1", "reduced detuning of b",
                   "reduced detuning of b, Im S_bb/|S_ab| (= delta_r_red when delta_c = 0)", true},
    [F_TIME_UNIT] = {"time_unit", QB_F64, "1", "reduced time unit",
                     "1/|S_ab|: the reduced model's unit of time", true},
    [F_GROWTH_RED] = {"growth_rate_red", QB_F64, "1", "reduced growth rate",
                      "max Re eig(S) of the reduced 2x2 drift, in the rates' units", true},
    [F_EB_SS_RED] = {"E_B_ss_red", QB_F64, "1", "reduced steady-state battery energy",
                     "steady-state E_B of the reduced model", true},
    [F_EB_RED] = {"E_B_red", QB_F64, "1", "reduced battery energy", "E_B(t) of the reduced model",
                  false},
    [F_ELIM_ERR] = {"elimination_error", QB_F64, "1", "steady-state elimination error",
                    "|E_B_ss_red - E_B_ss|/E_B_ss: steady-state error of eliminating c", true},
    [F_ELIM_ERR_T] = {"elimination_error_t", QB_F64, "1", "elimination error at t",
                      "|E_B_red - E_B|/E_B at time t (0 at t = 0)", false},
    [F_MARGIN] = {"realizable_margin", QB_F64, "1", "realizability margin",
                  "gamma_a_red gamma_b_red - 1 of the mapped ep point (>= 0 for passive "
                  "reservoirs)",
                  true},
    [F_STATUS] = {"status", QB_I32, "1", "point status flags",
                  "bitmask of point status flags (see qbmap models)", false},
};

/* Magnitudes of the terms that formed each entry of the drift (rounding inside them counts). */
static void drift_terms(const double *p, double *Mt) {
  const double va[3] = {p[P_PA], 0, p[P_PCA]}, vb[3] = {0, p[P_PB], p[P_PCB]};
  const double kap[3] = {p[P_KAPPA_A], p[P_KAPPA_B], p[P_KAPPA_C]};
  const double det[3] = {p[P_DELTA], -p[P_DELTA], p[P_DELTA_C]}, G = p[P_GAMMA];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      Mt[3 * i + j] = 0.5 * (G * (va[i] * va[j] + vb[i] * vb[j]) + (i == j ? kap[i] : 0)) +
                      (i == j ? fabs(det[i]) : 0);
}

/* ln|x_b(t)|^2 from the Taylor series x = sum_k M^k f t^(k+1)/(k+1)! where |x_b|^2 is below the
 * double range (small |M| t only; NaN otherwise): the first nonzero term's scale is factored
 * out, so nothing underflows. */
static double log_eb_series(const double complex *M, const double complex *f, double t) {
  double nm = 0;
  for (int i = 0; i < 9; i++)
    nm = fmax(nm, cabs(M[i]));
  if (!(nm * t <= 0.25) || t <= 0) return NAN;
  /* y_k = (M/nm)^k f/|f|; x_b = |f| t sum_k y_k,b (nm t)^k/(k+1)! */
  double nf = fmax(cabs(f[0]), fmax(cabs(f[1]), cabs(f[2])));
  double complex y[3] = {f[0] / nf, f[1] / nf, f[2] / nf}, sum = 0;
  double tau = nm * t, pw = 1, fact = 1; /* tau^(k - k0), (k+1)! */
  int k0 = -1;
  for (int k = 0; k < 40; k++) {
    fact *= (k + 1);
    if (k0 < 0 && cabs(y[1]) > 1e-300) k0 = k;
    if (k0 >= 0) {
      sum += y[1] * pw / fact;
      pw *= tau;
      if (pw < 1e-18 * fact) break;
    }
    double complex z[3];
    for (int i = 0; i < 3; i++)
      z[i] = (M[3 * i] * y[0] + M[3 * i + 1] * y[1] + M[3 * i + 2] * y[2]) / nm;
    for (int i = 0; i < 3; i++)
      y[i] = z[i];
  }
  if (k0 < 0 || sum == 0) return NAN;
  return 2.0 * (log(nf) + log(t) + k0 * log(tau) + log(cabs(sum)));
}

/* The Schur complement S = M_ss - M_sc M_cc^-1 M_cs on (a, b) of the drift M (rates scaled by
 * 2^-k like M), with Re S_jj, Im S_jj and gamma_a gamma_b - 1 in closed forms whose terms are
 * all of one sign.  With A = Gamma |p_a|^2/2, B = Gamma |p_b|^2/2, c = K_c/2 and, relative to c,
 * kc = kappa_c/c, al = Gamma |p_ca|^2/c, be = Gamma |p_cb|^2/c (kc + al + be = 2), dc = delta_c/c,
 * D = 1 + dc^2 (|M_cc|^2 = c^2 D):
 *   Re S_aa = -kappa_a/2 - A u/(2D),  Re S_bb = -kappa_b/2 - B v/(2D),
 *   u = kc + be + 2 dc^2,  v = kc + al + 2 dc^2,
 *   Im S_aa = -delta - A al dc/(2D),  Im S_bb = delta - B be dc/(2D),
 *   gamma_a gamma_b - 1 = [kappa_a kappa_b D/(A B) + kappa_a v/A + kappa_b u/B + W/D]/(al be),
 *   W = 2 kc + dc^2 (2 kc^2 + 3 kc (al + be) + al^2 + al be + be^2) + 4 dc^4   (>= 0),
 * (from Re S_aa Re S_bb - |S_ab|^2 = kappa_a kappa_b/4 + ... >= 0 and |S_ab|^2 = A B al be/(4D)):
 * the reduced rates and the realizability margin (>= 0 at every passive point, also with
 * delta_c != 0) keep their relative accuracy where M_ss - M_sc M_cs/M_cc would cancel, and
 * c drops out, so tiny or huge K_c cannot under- or overflow them. */
static void schur(const double *p, int k, const double complex *M, double complex *S,
                  double *margin) {
  const double G = ldexp(p[P_GAMMA], -k), ka = ldexp(p[P_KAPPA_A], -k);
  const double kb = ldexp(p[P_KAPPA_B], -k), kc0 = ldexp(p[P_KAPPA_C], -k);
  const double dl = ldexp(p[P_DELTA], -k), dc0 = ldexp(p[P_DELTA_C], -k);
  const double pa = p[P_PA], pb = p[P_PB], pca = p[P_PCA], pcb = p[P_PCB];
  const double al0 = G * pca * pca, be0 = G * pcb * pcb, c = 0.5 * (kc0 + al0 + be0);
  const double kc = kc0 / c, al = al0 / c, be = be0 / c, dc = dc0 / c;
  const double q = dc * dc, D = 1.0 + q, A = 0.5 * G * pa * pa, B = 0.5 * G * pb * pb;
  const double u = kc + be + 2.0 * q, v = kc + al + 2.0 * q;
  /* u/D, v/D, dc/D also where dc^2 overflows (|delta_c| >> K_c) */
  const double q1 = 2.0 / (1.0 + 1.0 / q), uD = (kc + be) / D + q1, vD = (kc + al) / D + q1;
  const double dcD = dc == 0 ? 0.0 : 1.0 / (1.0 / dc + dc);
  S[0] = CMPLX(-(0.5 * ka + 0.5 * A * uD), -dl - 0.5 * A * al * dcD);
  S[3] = CMPLX(-(0.5 * kb + 0.5 * B * vD), dl - 0.5 * B * be * dcD);
  S[1] = -M[2] * M[7] / M[8];
  S[2] = -M[5] * M[6] / M[8];
  const double X = 2.0 * kc * kc + 3.0 * kc * (al + be) + al * al + al * be + be * be;
  /* W/D without forming dc^4 where dc is huge */
  const double WD = q > 1e100 ? X + 4.0 * q : (2.0 * kc + q * X + 4.0 * q * q) / D;
  const double ra = ka == 0 ? 0 : ka / A, rb = kb == 0 ? 0 : kb / B;
  if (isinf(WD)) { /* |delta_c| >> K_c beyond the range: every other term is below W/D */
    *margin = INFINITY;
    return;
  }
  double num = WD;
  if (ra > 0 && rb > 0) num += ra * rb * D;
  if (ra > 0) num += ra * v;
  if (rb > 0) num += rb * u;
  *margin = num == 0 ? 0.0 : num / al / be;
}

/* ln E_B(t) from the transient at unit drive (x is linear in E): where x_b overflows. */
static double log_eb_unit(const double complex *M, const double *Mt, double t, double g,
                          bool stable, double E) {
  double complex fu[3] = {-I, 0, 0}, mf[3] = {I, 0, 0}, xs[3], x[3], dx[3];
  double es[3], ex[3], edx[3], ldx;
  bool st = stable && qb_linear_solve_est(3, M, Mt, mf, xs, es) == QB_OK;
  if (qb_linear_transient(3, M, fu, t, g, st ? xs : NULL, es, x, dx, &ldx, ex, edx) != QB_OK ||
      !isfinite(cabs(x[1])) || !(cabs(x[1]) > 0) || !(ex[1] <= 1e-8 * cabs(x[1])))
    return NAN;
  return 2.0 * (log(E) + log(cabs(x[1])));
}

/* M (row-major 3x3) at p; returns its largest |M_ij| (the scale of the tolerances). */
static double drift(const double *p, double complex *M) {
  const double complex pa = p[P_PA] * cexp(I * p[P_PA_PH]), pb = p[P_PB] * cexp(I * p[P_PB_PH]);
  const double complex pca = p[P_PCA] * cexp(I * p[P_PCA_PH]);
  const double complex pcb = p[P_PCB] * cexp(I * p[P_PCB_PH]);
  const double complex va[3] = {pa, 0, pca}, vb[3] = {0, pb, pcb};
  const double kap[3] = {p[P_KAPPA_A], p[P_KAPPA_B], p[P_KAPPA_C]};
  const double det[3] = {p[P_DELTA], -p[P_DELTA], p[P_DELTA_C]}, G = p[P_GAMMA];
  double scale = 0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      double complex g = G * (conj(va[i]) * va[j] + conj(vb[i]) * vb[j]) + (i == j ? kap[i] : 0);
      M[3 * i + j] = -0.5 * g - (i == j ? I * det[i] : 0);
      scale = fmax(scale, cabs(M[3 * i + j]));
    }
  return scale;
}

/* The drift scaled by 2^-k where its largest entry is far from 1 (k from
 * qb_model_scale_exponent, returned): the discriminant and the eigenvalues scale exactly,
 * nothing under- or overflows.  *scale (if not NULL): the scaled drift's largest |M_ij|. */
static int drift_scaled(const double *p, double complex *M, double *scale) {
  double s = drift(p, M);
  int k = qb_model_scale_exponent(s);
  if (k != 0) {
    for (int i = 0; i < 9; i++)
      M[i] = ldexp(creal(M[i]), -k) + I * ldexp(cimag(M[i]), -k);
    s = ldexp(s, -k);
  }
  if (scale) *scale = s;
  return k;
}

/* Discriminant of det(lambda - M) = lambda^3 + a lambda^2 + b lambda + c:
 * prod_{i<j} (lambda_i - lambda_j)^2 = 18abc - 4a^3 c + a^2 b^2 - 4b^3 - 27c^2. */
static double complex disc(const qb_model *m, const double *p) {
  (void)m;
  double complex M[9];
  int k = drift_scaled(p, M, NULL);
  double complex a = -(M[0] + M[4] + M[8]);
  double complex b =
      M[0] * M[4] - M[1] * M[3] + M[0] * M[8] - M[2] * M[6] + M[4] * M[8] - M[5] * M[7];
  double complex c = -(M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) +
                       M[2] * (M[3] * M[7] - M[4] * M[6]));
  double complex d =
      18.0 * a * b * c - 4.0 * a * a * a * c + a * a * b * b - 4.0 * b * b * b - 27.0 * c * c;
  return k ? ldexp(creal(d), 6 * k) + I * ldexp(cimag(d), 6 * k) : d; /* degree 6 in M */
}

/* The closest pair of eigenvalues (LAPACK zgeev) and the overlap of their eigenvectors. */
static void coalescence(const qb_model *m, const double *p, double *splitting, double *overlap) {
  (void)m;
  double complex M[9], lam[3], V[9];
  int ks = drift_scaled(p, M, NULL);
  *splitting = *overlap = NAN;
  if (qb_spectral_eig(3, M, lam, V)) return;
  int bi = 0, bj = 1;
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (cabs(lam[i] - lam[j]) < cabs(lam[bi] - lam[bj])) bi = i, bj = j;
  double complex dot = 0;
  double ni = 0, nj = 0;
  for (int k = 0; k < 3; k++) {
    dot += conj(V[3 * k + bi]) * V[3 * k + bj];
    ni += qb_model_abs2(V[3 * k + bi]);
    nj += qb_model_abs2(V[3 * k + bj]);
  }
  *splitting = ldexp(cabs(lam[bi] - lam[bj]), ks);
  *overlap = cabs(dot) / sqrt(ni * nj);
}

/* One evaluation: the drift M, the magnitudes Mt of its terms and its largest entry `scale`,
 * with every rate scaled by 2^-k (the model is scale free; t by 2^k), the drive E by a further
 * 2^-dk where that is extreme (the energies, ~E^2, scaled back by 2^(2 dk) at the end: exact
 * where they stay in range); the full model's growth rate g0 and steady state. */
typedef struct {
  double complex M[9], f[3];
  double Mt[9], scale, E, t;
  int k, dk;
  double g0;                /* max Re eig(M); NaN where the eigenvalues failed */
  bool stable;              /* the steady state exists: */
  double complex xs[3];     /* x_ss */
  double es[3];             /* and its error estimate */
  qb_spectral plan;         /* M's eigendecomposition with f: the transients along a row */
  const double complex *sy; /* qb_spectral_x of plan at t with its estimate (row_t computes */
  const double *sey;        /* them for a block of t at once); NULL: the plan is not usable */
} tm_eval;

/* The reduced model: the Schur complement S on (a, b), its terms' magnitudes St, growth rate
 * gred, drive fr and steady state. */
typedef struct {
  double complex S[4], fr[2], xr[2];
  double St[4], er[2], gred;
  bool stable;
  qb_spectral plan;         /* S's eigendecomposition with fr */
  const double complex *sy; /* as tm_eval's, of plan */
  const double *sey;
} tm_red;

/* The scaled drift at p: M, Mt, scale, E, t, k, dk, f of e. */
static void setup(const double *p, tm_eval *e) {
  e->E = p[P_E];
  e->t = p[P_T];
  e->k = drift_scaled(p, e->M, &e->scale);
  drift_terms(p, e->Mt);
  if (e->k != 0) {
    for (int i = 0; i < 9; i++)
      e->Mt[i] = ldexp(e->Mt[i], -e->k);
    e->E = ldexp(e->E, -e->k);
    e->t = ldexp(e->t, e->k);
  }
  e->dk = qb_model_drive_exponent(p[P_E], e->k, &e->E);
  e->f[0] = -I * e->E;
  e->f[1] = e->f[2] = 0;
  qb_spectral_init(&e->plan, 3, e->M, e->f); /* failures: not usable, g NaN */
}

/* growth_rate and the full model's steady state E_A_ss, E_B_ss (g0, stable, xs, es of e);
 * returns the status bits. */
static uint32_t steady(tm_eval *e, double *out) {
  e->stable = false;
  e->g0 = e->plan.g; /* the eigenvalues of qb_spectral_init (NaN where they failed) */
  if (isnan(e->g0)) return QB_PT_NUMERICS;
  out[F_GROWTH] = ldexp(e->g0, e->k);
  if (!(e->g0 < -QB_TOL_GROWTH * e->scale)) return QB_PT_NOT_STABLE;
  double complex mf[3] = {-e->f[0], -e->f[1], -e->f[2]};
  if (qb_linear_solve_est(3, e->M, e->Mt, mf, e->xs, e->es) != QB_OK) return QB_PT_NUMERICS;
  e->stable = true;
  double nx = qb_model_norm_amp(e->xs, 3);
  if (qb_model_energy_ok(cabs(e->xs[0]), e->es[0], nx)) out[F_EA_SS] = qb_model_abs2(e->xs[0]);
  if (qb_model_energy_ok(cabs(e->xs[1]), e->es[1], nx)) out[F_EB_SS] = qb_model_abs2(e->xs[1]);
  return isnan(out[F_EA_SS]) || isnan(out[F_EB_SS]) ? QB_PT_ILL_CONDITIONED : 0;
}

/* ln E_B(t) from x_b(t) (absolute error exb; `unreachable`: x_b = 0 exactly), which it needs to
 * relative accuracy (not just against the total energy); NaN where it is not resolvable. */
static double log_eb(const tm_eval *e, double complex xb, double exb, bool unreachable) {
  const double t = e->t;
  double axb = cabs(xb), lxb = 2.0 * log(axb), m = qb_model_abs2(xb);
  if (t == 0) return -INFINITY;
  if (axb > 0 && isfinite(axb) && 2.0 * exb / axb <= QB_EST_MAX * fmax(1.0, fabs(lxb)))
    return (m >= 0x1p-1000 && m <= DBL_MAX) ? log(m) : lxb;
  if (isinf(axb)) /* x_b itself beyond the range: at unit drive (x is linear in E) */
    return log_eb_unit(e->M, e->Mt, t, e->g0, e->stable, e->E);
  if (unreachable) return -INFINITY;
  if (!isnan(log_eb_series(e->M, e->f, t))) /* small |M| t: the Taylor series, scaled */
    return log_eb_series(e->M, e->f, t);
  if (e->stable && axb > 0 && isfinite(axb)) {
    /* the estimate is normwise only: accept x_b if the two independent forms agree */
    double complex y1[3], y2[3], d1[3];
    double e1[3], e2[3], l1;
    if (qb_linear_transient_form(3, e->M, e->f, t, e->g0, e->xs, e->es, y1, d1, &l1, e1, e2, 1) ==
            QB_OK &&
        qb_linear_transient_form(3, e->M, e->f, t, e->g0, e->xs, e->es, y2, d1, &l1, e1, e2, 2) ==
            QB_OK &&
        cabs(y1[1] - y2[1]) <= 0.5 * QB_EST_MAX * fmax(1.0, fabs(lxb)) * axb)
      return (m >= 0x1p-1000 && m <= DBL_MAX) ? log(m) : lxb;
  }
  return NAN;
}

/* x_0(t), x_1(t) of an n-mode system (n = 3: M; 2: the reduced S) with their estimates ex and
 * whether their energies pass the guard (ok; docs/physics.md §6.4); need[i] false: x_i is not
 * needed (set to 0).  Each from the first way that resolves it to QB_EST_MAX / 2 of itself: the
 * row's plan with its cheaper estimate (qb_spectral_x: sy, sey, NULL where the plan is not
 * usable), then with its full one (qb_spectral_at),
 * its errors taken as at least qb_model_amp_floor (an amplitude far below the other can be lost
 * entirely where the eigensolver deflated a tiny coupling: no first-order estimate sees it);
 * else qb_linear_transient (exact also near exceptional points; qb_model_energy_ok decides).
 * The choice depends on the point only, not on the fields wanted. */
static qb_err moments(int n, const qb_spectral *plan, const double complex *sy, const double *sey,
                      const double complex *M, const double complex *f, double t, double g,
                      const double complex *xss, const double *ess, const bool *need,
                      double complex *x, double *ex, bool *ok) {
  bool have[2] = {!need[0], !need[1]};
  double complex y[QB_LINEAR_NMAX], dy[QB_LINEAR_NMAX];
  double ey[QB_LINEAR_NMAX], edy[QB_LINEAR_NMAX], ly;
  x[0] = x[1] = 0, ex[0] = ex[1] = 0, ok[0] = ok[1] = true;
  if (sy) { /* plan usable */
    qb_model_take_resolved(sy, sey, qb_model_amp_floor(n, sy), false, have, x, ex);
    if (!(have[0] && have[1]) && qb_spectral_at(plan, t, y, NULL, NULL, ey, NULL) == QB_OK)
      qb_model_take_resolved(y, ey, qb_model_amp_floor(n, y), false, have, x, ex);
  }
  if (have[0] && have[1]) return QB_OK; /* resolved relative to themselves: the guard holds */
  qb_err err = qb_linear_transient(n, M, f, t, g, xss, ess, y, dy, &ly, ey, edy);
  if (err) return err;
  const double ny = qb_model_norm_amp(y, n); /* its estimates are against the whole state */
  for (int i = 0; i < 2; i++)
    if (!have[i]) ok[i] = qb_model_energy_ok(qb_model_mag(y[i]), ey[i], ny);
  qb_model_take_resolved(y, ey, 0, true, have, x, ex);
  return QB_OK;
}

/* E_A, E_B (and log_E_B if wanted) at t from the vacuum, scaled back by the drive's 2^(2 dk)
 * (qb_model_energy_back); *xb, *okb: x_b at the scaled drive and whether it is resolved;
 * returns the status bits. */
static uint32_t transient(const tm_eval *e, const bool *want, double *out, double complex *xb,
                          bool *okb) {
  double complex x[2];
  double ex[2];
  bool ok[2];
  /* b unreachable from the drive (M_ba = 0 always; M_bc or M_ca = 0): x_b = 0 exactly */
  const bool unreachable = e->M[5] == 0 || e->M[6] == 0, need[2] = {true, !unreachable};
  *okb = false;
  if (moments(3, &e->plan, e->sy, e->sey, e->M, e->f, e->t, e->g0, e->stable ? e->xs : NULL, e->es,
              need, x, ex, ok) != QB_OK)
    return QB_PT_NUMERICS;
  if (ok[0]) out[F_EA] = qb_model_energy_back(x[0], e->dk);
  if (ok[1]) out[F_EB] = qb_model_energy_back(x[1], e->dk);
  *xb = x[1], *okb = ok[1];
  if (qb_model_wants(want, F_LOG_EB)) out[F_LOG_EB] = log_eb(e, x[1], ex[1], unreachable);
  return !ok[0] || !ok[1] || (qb_model_wants(want, F_LOG_EB) && isnan(out[F_LOG_EB]))
             ? QB_PT_T_UNRESOLVED
             : 0;
}

/* Gamma_eff and the Schur complement S on (a, b) (M_ab = M_ba = 0 here): false where the
 * reduction does not exist; else the map to model ep (gamma_a_red ... realizable_margin) and
 * the reduced growth rate (S, St, gred of r). */
static bool reduced_map(const double *p, const tm_eval *e, tm_red *r, double *out) {
  const int k = e->k;
  const double G = p[P_GAMMA];
  const double Kc = p[P_KAPPA_C] + G * (p[P_PCA] * p[P_PCA] + p[P_PCB] * p[P_PCB]);
  out[F_GAMMA_EFF] = Kc > 0 ? G * G / (2.0 * Kc) : NAN;
  const double complex mcc = e->M[8];
  double complex *S = r->S;
  double margin;
  schur(p, k, e->M, S, &margin);
  for (int i = 0; i < 4; i++)
    r->St[i] = 2.0 * cabs(S[i]); /* the closed forms have no cancellation in Re S_jj */
  const double sab = cabs(S[1]);
  if (!(Kc > 0) || !(sab > 0) || !(cabs(mcc) > 0)) return false;
  out[F_TIME_UNIT] = ldexp(1.0 / sab, -k);
  out[F_GA_RED] = -creal(S[0]) / sab;
  out[F_GB_RED] = -creal(S[3]) / sab;
  out[F_DR_RED] = -cimag(S[0]) / sab;
  out[F_DRB_RED] = cimag(S[3]) / sab;
  out[F_MARGIN] = margin;
  /* eigenvalues of the 2x2 S: tr/2 +- sqrt((tr/2)^2 - det) */
  double complex h = 0.5 * (S[0] + S[3]);
  /* h^2 - det S as ((S_aa - S_bb)/2)^2 + S_ab S_ba: no cancellation for close eigenvalues */
  double complex dd = 0.5 * (S[0] - S[3]), rt = csqrt(dd * dd + S[1] * S[2]);
  r->gred = fmax(creal(h + rt), creal(h - rt));
  out[F_GROWTH_RED] = ldexp(r->gred, k);
  return true;
}

/* The reduced steady state E_B_ss_red and elimination_error (fr, xr, er, stable of r); returns
 * the status bits.  After steady (E_B_ss). */
static uint32_t reduced_steady(const tm_eval *e, tm_red *r, double *out) {
  r->fr[0] = e->f[0];
  r->fr[1] = 0;
  r->stable = false;
  if (!(r->gred < -QB_TOL_GROWTH * e->scale)) return TM_RED_NOT_STABLE;
  double complex mfr[2] = {-r->fr[0], 0};
  if (qb_linear_solve_est(2, r->S, r->St, mfr, r->xr, r->er) != QB_OK) return QB_PT_NUMERICS;
  r->stable = true;
  if (!qb_model_energy_ok(cabs(r->xr[1]), r->er[1], qb_model_norm_amp(r->xr, 2)))
    return QB_PT_ILL_CONDITIONED;
  out[F_EB_SS_RED] = qb_model_abs2(r->xr[1]);
  out[F_ELIM_ERR] = fabs(out[F_EB_SS_RED] - out[F_EB_SS]) / out[F_EB_SS];
  return out[F_EB_SS] == 0 ? QB_PT_ILL_CONDITIONED : 0; /* 0/0 below the range */
}

/* The reduced model's E_B_red and elimination_error_t at t; returns the status bits.  After
 * transient (E_B). */
static uint32_t reduced_transient(const tm_eval *e, const tm_red *r, double complex xb, bool okb,
                                  double *out) {
  double complex x2[2];
  double ex2[2];
  bool ok[2];
  const bool need[2] = {false, true};
  if (moments(2, &r->plan, r->sy, r->sey, r->S, r->fr, e->t, r->gred, r->stable ? r->xr : NULL,
              r->er, need, x2, ex2, ok) != QB_OK)
    return QB_PT_NUMERICS;
  if (!ok[1]) return QB_PT_T_UNRESOLVED;
  out[F_EB_RED] = qb_model_energy_back(x2[1], e->dk);
  /* at t = 0 both energies are 0: no error; below the double range: undefined (the ratio at
   * the scaled drive: the drive's scale cancels) */
  const double eb = okb ? qb_model_abs2(xb) : NAN, ebr = qb_model_abs2(x2[1]);
  if (e->t == 0)
    out[F_ELIM_ERR_T] = 0.0;
  else if (eb > 0)
    out[F_ELIM_ERR_T] = fabs(ebr - eb) / eb;
  else if (eb == 0)
    return QB_PT_T_UNRESOLVED;
  return 0;
}

/* TM_NOT_EP_FORM where the reduced drift S (after reduced_map) is not model ep's matrix up to a
 * gauge of b and the time unit (docs/physics.md s2.4): ep needs S_ab S_ba real-positive and
 * opposite detunings, Im S_bb = -Im S_aa.  Both are tested against QB_EST_MAX, the accuracy
 * guard of every field: |S_ab S_ba/(|S_ab||S_ba|) - 1| (= |e^{i arg} - 1|, 0 up to rounding at
 * delta_c = 0) and |delta_r_b_red - delta_r_red| / (1 + |delta_r_red|) (exactly 0 at
 * delta_c = 0). */
static uint32_t ep_form(const double complex *S, const double *out) {
  const double m = cabs(S[1]) * cabs(S[2]);
  const double dphase = cabs(S[1] * S[2] / m - 1.0);
  const double ddet = fabs(out[F_DRB_RED] - out[F_DR_RED]) / (1.0 + fabs(out[F_DR_RED]));
  return dphase <= QB_EST_MAX && ddet <= QB_EST_MAX ? 0 : TM_NOT_EP_FORM;
}

/* The reduced model's t-independent part: every field from Gamma_eff on but E_B_red and
 * elimination_error_t (*has: the reduction exists, r set); returns the status bits. */
static uint32_t reduced(const double *p, const tm_eval *e, tm_red *r, bool *has, double *out) {
  *has = reduced_map(p, e, r, out);
  if (!*has) return TM_NO_REDUCTION;
  return ep_form(r->S, out) | reduced_steady(e, r, out);
}

/* The drive's scale 2^(2 dk) back onto the energies: the row's t-independent ones once (returns
 * the overflow bit of every field then set; log_E_B is -inf at t = 0, not an overflow, and the
 * t fields are still NaN); E_A, E_B, E_B_red are scaled where formed (qb_model_energy_back), so
 * at each t only ln 2^(2 dk) onto log_E_B and the t fields' overflow bit. */
static uint32_t finish_row(int dk, double *out) {
  static const int en[] = {F_EA_SS, F_EB_SS, F_EB_SS_RED};
  if (dk != 0) qb_model_scale_energies(out, en, (int)(sizeof en / sizeof *en), dk);
  return qb_model_overflow(out, NFIELD, F_LOG_EB);
}

static uint32_t finish_t(int dk, double *out) {
  if (dk != 0) out[F_LOG_EB] += 2 * dk * 0.69314718055994531;
  return isinf(out[F_EA]) || isinf(out[F_EB]) || isinf(out[F_EB_RED]) || isinf(out[F_ELIM_ERR_T])
             ? QB_PT_OVERFLOW
             : 0;
}

/* Scaled times of a block of a row: the spectral moments of the block at once. */
enum { BLOCK = 64 };

/* The spectral moments x_0, x_1 of a usable plan at the block's times ts[nb] (y, ey: 2 per t);
 * false where the plan is not usable (then moments uses the other ways). */
static bool block_moments(bool on, const qb_spectral *plan, const double *ts, int nb,
                          double complex *y, double *ey) {
  return on && qb_spectral_usable(plan) && qb_spectral_x_many(plan, 2, ts, nb, y, ey) == QB_OK;
}

/* The model's row kernel, along t (its points are rows of one; qb_model_eval_row has prepared
 * row 0 and checked p), p[P_T] ignored: what does not depend on t (setup, steady states,
 * the reduction) once, then the transients at each x[j] into out[j * NFIELD + f], the
 * eigendecompositions' moments BLOCK times at once (qb_spectral_x_many: bitwise those of each t
 * alone). */
static void row_t(const qb_model *m, const double *p, const double *x, int n, const bool *want,
                  double *out) {
  (void)m;
  tm_eval e;
  tm_red r;
  bool has_red;
  double base[NFIELD]; /* the t-independent fields */
  setup(p, &e);
  uint32_t status = steady(&e, out) | reduced(p, &e, &r, &has_red, out);
  const bool trans = qb_model_wants(want, F_EA) || qb_model_wants(want, F_EB) ||
                     qb_model_wants(want, F_LOG_EB) || qb_model_wants(want, F_ELIM_ERR_T);
  const bool trans_red =
      has_red && (qb_model_wants(want, F_EB_RED) || qb_model_wants(want, F_ELIM_ERR_T));
  if (trans_red) qb_spectral_init(&r.plan, 2, r.S, r.fr);
  status |= finish_row(e.dk, out);
  if (n > 1) memcpy(base, out, sizeof base);
  const double tscale = ldexp(1.0, e.k);
  for (int j0 = 0; j0 < n; j0 += BLOCK) {
    const int nb = n - j0 < BLOCK ? n - j0 : BLOCK;
    double ts[BLOCK], ey[2 * BLOCK], eyr[2 * BLOCK];
    double complex y[2 * BLOCK], yr[2 * BLOCK];
    for (int j = 0; j < nb; j++)
      ts[j] = qb_model_scale_time(x[j0 + j], e.k, tscale);
    const bool sp = block_moments(trans, &e.plan, ts, nb, y, ey);
    const bool spr = block_moments(trans_red, &r.plan, ts, nb, yr, eyr);
    for (int j = 0; j < nb; j++) {
      double *o = out + (size_t)(j0 + j) * NFIELD;
      if (j0 + j > 0) memcpy(o, base, sizeof base);
      e.t = ts[j];
      e.sy = sp ? y + 2 * j : NULL, e.sey = sp ? ey + 2 * j : NULL;
      r.sy = spr ? yr + 2 * j : NULL, r.sey = spr ? eyr + 2 * j : NULL;
      uint32_t st = status;
      double complex xb = 0;
      bool okb = false;
      if (trans) st |= transient(&e, want, o, &xb, &okb);
      if (trans_red) st |= reduced_transient(&e, &r, xb, okb, o);
      st |= finish_t(e.dk, o);
      o[F_STATUS] = st;
    }
  }
}

const qb_model qb_model_threemode = {
    .name = "threemode",
    .doc = "EP paper's microscopic three-mode model (Eq. 9, Lindblad rates; docs/physics.md s2): "
           "charger a, battery b, auxiliary c coupled through two shared reservoirs; reduced "
           "to model ep by eliminating c",
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
    .disc = disc,
    .coalescence = coalescence,
};
