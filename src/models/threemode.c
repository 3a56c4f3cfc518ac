/* Model `threemode`: the EP paper's microscopic model (Eqs. 8-16, PHYSICS.md §2): charger a,
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
 * delta_r = -Im S_aa/|S_ab| (and Im S_bb/|S_ab| for b; the two differ when delta_c != 0).
 * Rates, detunings, E and 1/t share one (arbitrary) unit; energies are mean quanta. */
#include <complex.h>
#include <math.h>
#include <stdio.h>

#include "qbmap/qb_linear.h"
#include "qbmap/qb_model.h"

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

/* stable where growth < -TOL_GROWTH * (largest |M_ij|) */
#define TOL_GROWTH 1e-12

static const qb_param params[NPARAM] = {
    [P_DELTA] = {"delta", NAN, QB_ANY, false, "1", "detuning: delta_a = delta, delta_b = -delta"},
    [P_DELTA_C] = {"delta_c", 0.0, QB_ANY, false, "1", "detuning of the auxiliary mode c"},
    [P_KAPPA_A] = {"kappa_a", NAN, QB_NONNEG, false, "1", "local loss rate of a (Lindblad)"},
    [P_KAPPA_B] = {"kappa_b", NAN, QB_NONNEG, false, "1", "local loss rate of b (Lindblad)"},
    [P_KAPPA_C] = {"kappa_c", NAN, QB_NONNEG, false, "1", "local loss rate of c (Lindblad)"},
    [P_GAMMA] = {"Gamma", NAN, QB_NONNEG, false, "1", "shared-reservoir rate (Lindblad)"},
    [P_PA] = {"p_a", 1.0, QB_NONNEG, false, "1", "|p_a|: coupling of a in z_a = p_a a + p_ca c"},
    [P_PA_PH] = {"p_a_phase", 0.0, QB_ANY, false, "rad", "phase of p_a"},
    [P_PB] = {"p_b", 1.0, QB_NONNEG, false, "1", "|p_b|: coupling of b in z_b = p_b b + p_cb c"},
    [P_PB_PH] = {"p_b_phase", 0.0, QB_ANY, false, "rad", "phase of p_b"},
    [P_PCA] = {"p_ca", 1.0, QB_NONNEG, false, "1", "|p_ca|: coupling of c in z_a"},
    [P_PCA_PH] = {"p_ca_phase", 0.0, QB_ANY, false, "rad", "phase of p_ca"},
    [P_PCB] = {"p_cb", 1.0, QB_NONNEG, false, "1", "|p_cb|: coupling of c in z_b"},
    [P_PCB_PH] = {"p_cb_phase", 0.0, QB_ANY, false, "rad", "phase of p_cb"},
    [P_E] = {"E", 1.0, QB_POSITIVE, false, "1", "drive amplitude on a (H contains E(a + a^+))"},
    [P_T] = {"t", 0.0, QB_NONNEG, false, "1", "time since the drive was switched on"},
};

static const qb_field fields[NFIELD] = {
    [F_GROWTH] = {"growth_rate", QB_F64, "1", "max Re eig(M) of the full 3x3 drift (<= 0)"},
    [F_EA_SS] = {"E_A_ss", QB_F64, "1", "steady-state <a^+a> (NaN unless stable)"},
    [F_EB_SS] = {"E_B_ss", QB_F64, "1", "steady-state <b^+b> (NaN unless stable)"},
    [F_EA] = {"E_A", QB_F64, "1", "<a^+a> at time t, from the vacuum"},
    [F_EB] = {"E_B", QB_F64, "1", "<b^+b> at time t, from the vacuum"},
    [F_LOG_EB] = {"log_E_B", QB_F64, "1", "ln E_B(t) (-inf at t = 0)"},
    [F_GAMMA_EFF] = {"Gamma_eff", QB_F64, "1",
                     "Gamma^2/(2 K_c), K_c = kappa_c + Gamma(|p_ca|^2 + |p_cb|^2) (the paper's "
                     "Gamma_eff; Gamma^2/K_c in its halved rates)"},
    [F_GA_RED] = {"gamma_a_red", QB_F64, "1", "reduced gamma_a = -Re S_aa/|S_ab| (model ep)"},
    [F_GB_RED] = {"gamma_b_red", QB_F64, "1", "reduced gamma_b = -Re S_bb/|S_ab| (model ep)"},
    [F_DR_RED] = {"delta_r_red", QB_F64, "1",
                  "reduced detuning of a, -Im S_aa/|S_ab| (model ep's delta_r)"},
    [F_DRB_RED] = {"delta_r_b_red", QB_F64, "1",
                   "reduced detuning of b, Im S_bb/|S_ab| (= delta_r_red when delta_c = 0)"},
    [F_TIME_UNIT] = {"time_unit", QB_F64, "1", "1/|S_ab|: the reduced model's unit of time"},
    [F_GROWTH_RED] = {"growth_rate_red", QB_F64, "1",
                      "max Re eig(S) of the reduced 2x2 drift, in the rates' units"},
    [F_EB_SS_RED] = {"E_B_ss_red", QB_F64, "1", "steady-state E_B of the reduced model"},
    [F_EB_RED] = {"E_B_red", QB_F64, "1", "E_B(t) of the reduced model"},
    [F_ELIM_ERR] = {"elimination_error", QB_F64, "1",
                    "|E_B_ss_red - E_B_ss|/E_B_ss: steady-state error of eliminating c"},
    [F_ELIM_ERR_T] = {"elimination_error_t", QB_F64, "1",
                      "|E_B_red - E_B|/E_B at time t (0 at t = 0)"},
    [F_MARGIN] = {"realizable_margin", QB_F64, "1",
                  "gamma_a_red gamma_b_red - 1 of the mapped ep point (>= 0 for passive "
                  "reservoirs)"},
    [F_STATUS] = {"status", QB_I32, "1", "bitmask of point status flags (see qbmap models)"},
};

static double sq(double complex z) {
  return creal(z) * creal(z) + cimag(z) * cimag(z);
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

/* Discriminant of det(lambda - M) = lambda^3 + a lambda^2 + b lambda + c:
 * prod_{i<j} (lambda_i - lambda_j)^2 = 18abc - 4a^3 c + a^2 b^2 - 4b^3 - 27c^2. */
static double complex disc(const double *p) {
  double complex M[9];
  drift(p, M);
  double complex a = -(M[0] + M[4] + M[8]);
  double complex b =
      M[0] * M[4] - M[1] * M[3] + M[0] * M[8] - M[2] * M[6] + M[4] * M[8] - M[5] * M[7];
  double complex c = -(M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) +
                       M[2] * (M[3] * M[7] - M[4] * M[6]));
  return 18.0 * a * b * c - 4.0 * a * a * a * c + a * a * b * b - 4.0 * b * b * b - 27.0 * c * c;
}

/* The closest pair of eigenvalues (GSL) and the overlap of their eigenvectors. */
static void coalescence(const double *p, double *splitting, double *overlap) {
  double complex M[9], lam[3], V[9];
  drift(p, M);
  *splitting = *overlap = NAN;
  if (qb_linear_eig(3, M, lam, V)) return;
  int bi = 0, bj = 1;
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (cabs(lam[i] - lam[j]) < cabs(lam[bi] - lam[bj])) bi = i, bj = j;
  double complex dot = 0;
  double ni = 0, nj = 0;
  for (int k = 0; k < 3; k++) {
    dot += conj(V[3 * k + bi]) * V[3 * k + bj];
    ni += sq(V[3 * k + bi]);
    nj += sq(V[3 * k + bj]);
  }
  *splitting = cabs(lam[bi] - lam[bj]);
  *overlap = cabs(dot) / sqrt(ni * nj);
}

static void eval(const double *p, const bool *want, double *out) {
  uint32_t status = 0;
  for (int i = 0; i < NFIELD; i++)
    out[i] = NAN;
  for (int i = 0; i < NPARAM; i++)
    if (!isfinite(p[i])) {
      out[F_STATUS] = QB_PT_BAD_PARAM;
      return;
    }
  const double E = p[P_E], t = p[P_T];
  double complex M[9], f[3] = {-I * E, 0, 0};
  double scale = drift(p, M);
#define WANT(k) (!want || want[k])

  /* full model */
  double complex lam[3];
  if (qb_linear_eig(3, M, lam, NULL)) {
    status |= QB_PT_NUMERICS;
  } else {
    out[F_GROWTH] = creal(lam[0]);
    if (creal(lam[0]) < -TOL_GROWTH * scale) {
      double complex mf[3] = {-f[0], -f[1], -f[2]}, xs[3];
      if (qb_linear_solve(3, M, mf, xs) == QB_OK) {
        out[F_EA_SS] = sq(xs[0]);
        out[F_EB_SS] = sq(xs[1]);
      } else {
        status |= QB_PT_NUMERICS;
      }
    } else {
      status |= QB_PT_NOT_STABLE;
    }
  }
  bool need_t = WANT(F_EA) || WANT(F_EB) || WANT(F_LOG_EB) || WANT(F_ELIM_ERR_T);
  if (need_t) {
    double complex x[3];
    if (qb_linear_expm_aug(3, M, f, t, x, NULL) == QB_OK) {
      out[F_EA] = sq(x[0]);
      out[F_EB] = sq(x[1]);
      out[F_LOG_EB] = log(out[F_EB]);
    } else {
      status |= QB_PT_NUMERICS;
    }
  }

  /* reduced model: Schur complement on (a, b); M_ab = M_ba = 0 here */
  const double G = p[P_GAMMA];
  const double Kc = p[P_KAPPA_C] + G * (p[P_PCA] * p[P_PCA] + p[P_PCB] * p[P_PCB]);
  out[F_GAMMA_EFF] = Kc > 0 ? G * G / (2.0 * Kc) : NAN;
  const double complex mcc = M[8];
  double complex S[4];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      S[2 * i + j] = M[3 * i + j] - M[3 * i + 2] * M[6 + j] / mcc;
  const double sab = cabs(S[1]);
  if (!(Kc > 0) || !(sab > 0) || !(cabs(mcc) > 0)) {
    out[F_STATUS] = status | QB_PT_NO_REDUCTION;
    return;
  }
  out[F_TIME_UNIT] = 1.0 / sab;
  out[F_GA_RED] = -creal(S[0]) / sab;
  out[F_GB_RED] = -creal(S[3]) / sab;
  out[F_DR_RED] = -cimag(S[0]) / sab;
  out[F_DRB_RED] = cimag(S[3]) / sab;
  out[F_MARGIN] = out[F_GA_RED] * out[F_GB_RED] - 1.0;
  /* eigenvalues of the 2x2 S: tr/2 +- sqrt((tr/2)^2 - det) */
  double complex h = 0.5 * (S[0] + S[3]), dS = S[0] * S[3] - S[1] * S[2];
  double complex r = csqrt(h * h - dS);
  double gred = fmax(creal(h + r), creal(h - r));
  out[F_GROWTH_RED] = gred;
  double complex fr[2] = {f[0], 0};
  if (gred < -TOL_GROWTH * scale) {
    double complex mfr[2] = {-fr[0], 0}, xr[2];
    if (qb_linear_solve(2, S, mfr, xr) == QB_OK) {
      out[F_EB_SS_RED] = sq(xr[1]);
      out[F_ELIM_ERR] = fabs(out[F_EB_SS_RED] - out[F_EB_SS]) / out[F_EB_SS];
    } else {
      status |= QB_PT_NUMERICS;
    }
  } else {
    status |= QB_PT_RED_NOT_STABLE;
  }
  if (WANT(F_EB_RED) || WANT(F_ELIM_ERR_T)) {
    double complex xr[2];
    if (qb_linear_expm_aug(2, S, fr, t, xr, NULL) == QB_OK) {
      out[F_EB_RED] = sq(xr[1]);
      /* at t = 0 both energies are 0: no error */
      out[F_ELIM_ERR_T] = t > 0 ? fabs(out[F_EB_RED] - out[F_EB]) / out[F_EB] : 0.0;
    } else {
      status |= QB_PT_NUMERICS;
    }
  }
#undef WANT
  out[F_STATUS] = status;
}

const qb_model qb_model_threemode = {
    .name = "threemode",
    .doc = "EP paper's microscopic three-mode model (Eq. 9, Lindblad rates; PHYSICS.md s2): "
           "charger a, battery b, auxiliary c coupled through two shared reservoirs; reduced "
           "to model ep by eliminating c",
    .nparams = NPARAM,
    .params = params,
    .nfields = NFIELD,
    .fields = fields,
    .check_given = NULL,
    .eval = eval,
    .disc = disc,
    .coalescence = coalescence,
};
