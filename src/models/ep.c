/* Model `ep`: the EP paper's reduced two-mode model (docs/physics.md §1).
 *
 * Units: time in 1/Gamma_eff, rates in Gamma_eff, drive E_r, energies in E_r^2 (E_r is a
 * parameter, so energies carry E_r^2 explicitly).  First moments x = (a, b) obey x' = M x + f,
 *
 *   M = -sI + N,  N = [[-z, 1], [1, z]],  s = (ga + gb)/2,  z = alpha + i delta_r,  f = (E_r, 0),
 *
 * with N^2 = w^2 I, w^2 = 1 + z^2, w the principal root.  Eigenvalues of M are mu = -s +- w
 * (lambda = i mu for H_r), so growth_rate = -s + Re w and the EP is w = 0.  e^{Mt} =
 * e^{-st}(cosh(wt) I + sinh(wt)/w N), and the transient x(t) = int_0^t e^{M tau} f dtau is
 * evaluated in one of three algebraically equal forms, whichever is well conditioned:
 *   series  (|wt| <= 1, |st| <= 25): Taylor in (wt)^2 with J_n(c) = int_0^1 u^n e^{cu} du;
 *   form A  b = E_r (1 - g)/det M, g = e^{-st}(cosh wt + s sinh(wt)/w): bad where g ~ 1;
 *   form B  b = E_r t (phi1(mu+ t) - phi1(mu- t))/(2w): bad where mu+ t ~ mu- t.
 * All exponentials are scaled by e^{-R}, R = max(0, Re mu+ t), so nothing overflows before the
 * final E_B = |b|^2, and log_E_B = 2R + ln|b e^{-R}|^2 stays finite.
 *
 * Large parameters (|s| or |w| > 64, or |s| t > 1e5): -s + w cancels when |alpha| >> 1, so the
 * eigenvalues are formed without it, mu+ = -gb + i dr + (w - z), mu- = -gb + i dr - (w + z),
 * with the smaller of w -+ z from (w - z)(w + z) = 1; det M = mu+ mu-, and the transient uses
 * the eigen-expansion b = E_r [1/det M + (e^{mu+ t}/mu+ - e^{mu- t}/mu-)/(2w)] (form A) or the
 * divided difference (form B), every exponent scaled exactly (Re(mu+ t) - R = 0,
 * Re(mu- t) - R = -2 Re(w t)).  Ordinary parameters keep the original forms bit for bit.
 *
 * Accuracy guard: every time-dependent field carries a first-order estimate of its relative
 * error (rounding of the exponents mu t, phases of order 1/eps, cancellation between the forms'
 * terms, conditioning of det M); above QB_EST_MAX the field is NaN with QB_PT_T_UNRESOLVED.  The
 * steady state likewise (conditioning of det M near the stability boundary; QB_PT_ILL_CONDITIONED).
 * Valid ranges: qb_model.h (|rates|, |delta_r| <= QB_RATE_MAX, t <= QB_T_MAX, ...). */
#include <complex.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qbmap/qb_model.h"

enum { P_DELTA_R, P_ALPHA, P_GAMMA_A, P_GAMMA_B, P_E_R, P_E_MAX, P_T, NPARAM };

enum {
  F_GROWTH,
  F_LP_RE,
  F_LP_IM,
  F_LM_RE,
  F_LM_IM,
  F_SPLIT,
  F_REGIME,
  F_EA_SS,
  F_EB_SS,
  F_EA,
  F_EB,
  F_LOG_EB,
  F_PB,
  F_TCRIT,
  F_TCRIT_APPROX,
  F_REALIZABLE,
  F_MARGIN,
  F_STATUS,
  NFIELD
};

/* ep's own status bits (numbers are stored data: never renumber); the others are qb_status's. */
enum {
  EP_TCRIT_NEVER = 1u << 1,
  EP_TCRIT_FAILED = 1u << 2,
  EP_APPROX_OUTSIDE = 1u << 3,
  EP_APPROX_UNRELIABLE = 1u << 4,
};

static const qb_pt_bit status_bits[] = {
    {QB_PT_NOT_STABLE, NULL, NULL, QB_PT_KIND_DEFAULT},
    {EP_TCRIT_NEVER, "tcrit_never", "E_B provably never reaches E_max: t_crit is NaN", QB_PT_INFO},
    {EP_TCRIT_FAILED, "tcrit_failed",
     "t_crit undetermined: marginal point (|growth| <= tol) with E_B below E_max unless it grows "
     "below the resolution, step limit, or E_B not resolvable in double precision at the crossing "
     "(estimated error above 1e-6): t_crit is NaN",
     QB_PT_FAILURE},
    {EP_APPROX_OUTSIDE, "approx_outside",
     "Eq. 33 outside its regime (needs alpha = 0, |delta_r| < 1, growth > 0): t_crit_approx is "
     "NaN",
     QB_PT_INFO},
    {EP_APPROX_UNRELIABLE, "approx_unreliable",
     "Eq. 33 evaluated but unreliable here (E_max <= E_scale or result <= 0): t_crit_approx is "
     "Eq. 33's value, a poor approximation of t_crit",
     QB_PT_INFO},
    {QB_PT_OVERFLOW, NULL,
     "an energy or power exceeds the double range (E_A, E_B or P_B at this t): it is inf; "
     "log_E_B is finite",
     QB_PT_KIND_DEFAULT},
    {QB_PT_BAD_PARAM, NULL, NULL, QB_PT_KIND_DEFAULT},
    {QB_PT_T_UNRESOLVED, NULL, QB_PT_T_UNRESOLVED_WHY ": E_A, E_B, P_B, log_E_B are NaN",
     QB_PT_KIND_DEFAULT},
    {QB_PT_ILL_CONDITIONED, NULL,
     "the steady state is ill-conditioned at this point (estimated relative error above 1e-6: "
     "det M = -Pi nearly cancels): E_A_ss, E_B_ss are NaN",
     QB_PT_KIND_DEFAULT},
};

/* Regime codes (field `regime`): base value, plus REGIME_EP_FLAG at an EP. */
enum { REGIME_STABLE = 0, REGIME_MARGINAL = 1, REGIME_GROWING = 2, REGIME_EP_FLAG = 4 };

/* Relative tolerances that define `regime`: marginal where |growth| <= QB_TOL_GROWTH
 * (1+|s|+|w|), EP where |w^2| <= TOL_EP (1 + |z|^2). */
#define TOL_EP 1e-12

static const qb_param params[NPARAM] = {
    [P_DELTA_R] = {"delta_r", NAN, QB_ANY, false, "1", "normalized detuning",
                   "normalized detuning delta/Gamma_eff" QB_DOC_ABS_LE(QB_EP_RATE_MAX),
                   QB_EP_RATE_MAX, 0},
    [P_ALPHA] = {"alpha", NAN, QB_ANY, true, "1", "damping asymmetry",
                 "damping asymmetry (gamma_a - gamma_b)/2; give alpha or gamma_a, not "
                 "both" QB_DOC_ABS_LE(QB_EP_RATE_MAX),
                 QB_EP_RATE_MAX, 0},
    [P_GAMMA_A] = {"gamma_a", NAN, QB_ANY, true, "1", "charger damping",
                   "charger damping in Gamma_eff; give alpha or gamma_a, not "
                   "both" QB_DOC_ABS_LE(QB_EP_RATE_MAX),
                   QB_EP_RATE_MAX, 0},
    [P_GAMMA_B] = {"gamma_b", NAN, QB_ANY, false, "1", "battery damping",
                   "battery damping in Gamma_eff" QB_DOC_ABS_LE(QB_EP_RATE_MAX), QB_EP_RATE_MAX, 0},
    [P_E_R] = {"E_r", 1.0, QB_POSITIVE, false, "1", "drive amplitude",
               "drive amplitude E/Gamma_eff (energies scale as "
               "E_r^2)" QB_DOC_IN(QB_DRIVE_MIN, QB_DRIVE_MAX),
               QB_DRIVE_MAX, QB_DRIVE_MIN},
    [P_E_MAX] = {"E_max", 1000.0, QB_POSITIVE, false, "1", "energy threshold for t_crit",
                 "safety threshold for t_crit in units of E_r^2 (threshold energy E_max "
                 "E_r^2)" QB_DOC_IN(QB_DRIVE_MIN, QB_DRIVE_MAX),
                 QB_DRIVE_MAX, QB_DRIVE_MIN},
    [P_T] = {"t", 0.0, QB_NONNEG, false, "1", "time",
             "time since the drive was switched on, in 1/Gamma_eff; t <= " QB_XSTR(QB_T_MAX),
             QB_T_MAX, 0},
};

static const qb_field fields[NFIELD] = {
    [F_GROWTH] = {"growth_rate", QB_F64, "1", "growth rate",
                  "Re[-i lambda_+] = max Re eig(M), in Gamma_eff", true},
    [F_LP_RE] = {"lambda_plus_re", QB_F64, "1", "Re lambda_+",
                 "Re lambda_+ (eigenvalue of H_r, Eq. 21)", true},
    [F_LP_IM] = {"lambda_plus_im", QB_F64, "1", "Im lambda_+", "Im lambda_+ (= growth_rate)", true},
    [F_LM_RE] = {"lambda_minus_re", QB_F64, "1", "Re lambda_-", "Re lambda_-", true},
    [F_LM_IM] = {"lambda_minus_im", QB_F64, "1", "Im lambda_-", "Im lambda_-", true},
    [F_SPLIT] = {"splitting", QB_F64, "1", "eigenvalue splitting",
                 "|lambda_+ - lambda_-| = 2|Omega| (0 at an EP)", true},
    [F_REGIME] = {"regime", QB_I32, "1", "regime code",
                  "0 stable (growth < -tol), 1 marginal (|growth| <= tol), 2 growing "
                  "(growth > tol), +4 at an EP (|1+(alpha+i delta_r)^2| <= 1e-12 (1+|alpha+i "
                  "delta_r|^2)); tol = 1e-12 (1 + |s| + |Omega|), s = alpha + gamma_b, or where "
                  "|s| or |Omega| > 64 (the growth rate formed without cancellation) tol = 1e-12 "
                  "(1 + |gamma_b| + |Omega - alpha - i delta_r|); -1 for invalid parameters",
                  true},
    [F_EA_SS] = {"E_A_ss", QB_F64, "1", "steady-state charger energy",
                 "steady-state charger energy E_r^2 (gb^2+dr^2)/|Pi|^2 "
                 "(NaN unless stable)",
                 true},
    [F_EB_SS] = {"E_B_ss", QB_F64, "1", "steady-state battery energy",
                 "steady-state battery energy E_r^2/|Pi|^2 (NaN unless "
                 "stable)",
                 true},
    [F_EA] = {"E_A", QB_F64, "1", "charger energy",
              "charger energy |a(t)|^2 at time t, from vacuum", false},
    [F_EB] = {"E_B", QB_F64, "1", "battery energy",
              "battery energy |b(t)|^2 at time t, from vacuum", false},
    [F_LOG_EB] = {"log_E_B", QB_F64, "1", "ln battery energy",
                  "ln E_B(t), finite where E_B overflows (-inf at t=0)", false},
    [F_PB] = {"P_B", QB_F64, "1", "battery power", "battery power dE_B/dt at time t", false},
    [F_TCRIT] = {"t_crit", QB_F64, "1", "critical time",
                 "first t > 0 with E_B(t) = E_max (exact: rigorous forward scan + Newton), "
                 "in 1/Gamma_eff",
                 true},
    [F_TCRIT_APPROX] = {"t_crit_approx", QB_F64, "1", "critical time (Eq. 33)",
                        "Eq. 33 as printed (alpha = 0, |delta_r| < 1, growth > 0 only)", true},
    [F_REALIZABLE] = {"realizable", QB_I32, "1", "realizable by a passive reservoir",
                      "1 if gamma_a >= 0, gamma_b >= 0 and gamma_a gamma_b >= 1 (reachable by a "
                      "passive reservoir), else 0; -1 for invalid parameters",
                      true},
    [F_MARGIN] = {"realizable_margin", QB_F64, "1", "realizability margin",
                  "gamma_a gamma_b - 1 (>= 0 on the realizable side; its zero line bounds the "
                  "region a passive reservoir can reach)",
                  true},
    [F_STATUS] = {"status", QB_I32, "1", "point status flags",
                  "bitmask of point status flags (see qbmap models)", false},
};

static qb_err check_given(const qb_model *m, const bool *given, char *msg, size_t size) {
  (void)m;
  if (given[P_ALPHA] && given[P_GAMMA_A]) {
    snprintf(msg, size,
             "parameters 'alpha' and 'gamma_a' are both given; allowed: exactly one "
             "of them (gamma_a = gamma_b + 2 alpha)");
    return QB_ECONFIG;
  }
  if (!given[P_ALPHA] && !given[P_GAMMA_A]) {
    snprintf(msg, size, "neither 'alpha' nor 'gamma_a' is given; allowed: exactly one of them");
    return QB_ECONFIG;
  }
  return QB_OK;
}

/* The linear system at one parameter point. */
typedef struct {
  double s, alpha, dr, gb, Er;
  double complex z, w2, w, detM; /* detM = det M = -Pi */
  double aw, aw2, adet;          /* |w|, |w^2|, |det M| */
  double growth;
  /* eigenvalues of M (mup = -s + w, mum = -s - w), the factors wmz = w - z, wpz = w + z (product
   * 1) and zs = z - s = -gb + i dr, all free of cancellation; ext: use them throughout */
  double complex mup, mum, wmz, wpz, zs;
  double complex mup_acc, mum_acc, det_acc; /* the cancellation-free forms (where acc) */
  int ext, acc;
  double tol;  /* marginal tolerance of the growth rate */
  double edet; /* estimated relative error of det M */
} ep_sys;

/* x(t) e^{-R} and x'(t) e^{-R}; la, lb: ln|a|^2, ln|b|^2 where a or b underflow (else NaN);
 * ea, eb, edb: estimated relative errors of a, b, b'. */
typedef struct {
  double complex a, b, da, db;
  double R;
  double la, lb, lpb, spb; /* lpb, spb: ln|P_B| and its sign where P_B would underflow */
  double ldb;              /* ln|b'| (with E_r and e^{-R}) where b' underflows, else NaN */
  double complex udb;      /* then b'/|b'| */
  double ea, eb, edb;
} ep_traj;

/* e^{x + iy} from exp and sin/cos (cexp's special-value handling is not needed here). */
static double complex expi(double x, double y) {
  double e = exp(x);
  return CMPLX(e * cos(y), e * sin(y));
}

/* |z| without hypot's cost; hypot's care only where squares could over- or underflow. */
static double mag(double complex z) {
  double x = creal(z), y = cimag(z), m = sqrt(x * x + y * y);
  return (m > 1e-150 && m < 1e150) ? m : cabs(z);
}

/* Principal square root (branch cut on the negative real axis, sign of zero respected like
 * csqrt), from |z|. */
static double complex sqrt_principal(double complex z, double r) {
  double x = creal(z), y = cimag(z);
  if (r == 0) return 0;
  if (x >= 0) {
    double u = sqrt(0.5 * (r + x));
    return CMPLX(u, y / (2.0 * u));
  }
  double v = sqrt(0.5 * (r - x));
  return CMPLX(fabs(y) / (2.0 * v), copysign(v, y));
}

/* The cancellation-free eigenvalues: the larger of w +- z has no cancellation
 * (|w+z|^2 + |w-z|^2 = 2(|w|^2 + |z|^2)) and (w - z)(w + z) = w^2 - z^2 = 1 gives the other.
 * Computed in sys_init where the parameters are large, else on demand (traj_expo_acc). */
static void sys_acc(ep_sys *S) {
  double complex e1 = S->w + S->z, e2 = S->w - S->z;
  if (mag(e1) >= mag(e2)) {
    S->wpz = e1;
    S->wmz = 1.0 / e1;
  } else {
    S->wmz = e2;
    S->wpz = 1.0 / e2;
  }
  S->mup_acc = S->zs + S->wmz;
  S->mum_acc = S->zs - S->wpz;
  S->det_acc = S->mup_acc * S->mum_acc;
  S->acc = 1;
}

static void sys_init(ep_sys *S, double ga, double gb, double dr, double Er) {
  S->s = 0.5 * (ga + gb);
  S->alpha = 0.5 * (ga - gb);
  S->dr = dr;
  S->gb = gb;
  S->Er = Er;
  S->z = CMPLX(S->alpha, dr);
  /* 1 + z^2 with the EP cancellation 1 - dr^2 done exactly as a product */
  S->w2 = CMPLX((1.0 - dr) * (1.0 + dr) + S->alpha * S->alpha, 2.0 * S->alpha * dr);
  S->aw2 = mag(S->w2);
  S->w = sqrt_principal(S->w2, S->aw2);
  S->aw = sqrt(S->aw2);
  S->detM = CMPLX(ga * gb + (dr - 1.0) * (dr + 1.0), -2.0 * S->alpha * dr);
  S->adet = mag(S->detM);
  S->growth = -S->s + creal(S->w);
  S->tol = QB_TOL_GROWTH * (1.0 + fabs(S->s) + S->aw);
  S->zs = CMPLX(-gb, dr);
  S->ext = fabs(S->s) > 64 || S->aw > 64;
  S->acc = 0;
  if (S->ext) {
    sys_acc(S);
    S->mup = S->mup_acc;
    S->mum = S->mum_acc;
    S->growth = creal(S->mup);
    S->tol = QB_TOL_GROWTH * (1.0 + fabs(gb) + mag(S->wmz));
    S->detM = S->det_acc;
    S->adet = mag(S->detM);
    /* rounding of mu+- (terms of size |gb|, |dr|, |w -+ z|) relative to their size */
    double sp = fabs(gb) + fabs(dr) + mag(S->wmz), sm = fabs(gb) + fabs(dr) + mag(S->wpz);
    double amp = mag(S->mup), amm = mag(S->mum);
    S->edet =
        DBL_EPSILON * (4.0 + (amp > 0 ? sp / amp : INFINITY) + (amm > 0 ? sm / amm : INFINITY));
  } else {
    S->mup = -S->s + S->w;
    S->mum = -S->s - S->w;
    /* Re det M = ga gb + (dr - 1)(dr + 1): rounding of terms of size |ga gb| + dr^2 + 1 */
    double terms = fabs(ga * gb) + dr * dr + 1.0 + 2.0 * fabs(S->alpha * dr);
    S->edet = S->adet > 0 ? DBL_EPSILON * (2.0 + 2.0 * terms / S->adet) : INFINITY;
  }
}

/* J_n(c) = int_0^1 u^n e^{cu} du for n = 0..nmax (|c| <= 25).  Each recurrence is run only
 * where it is stable: upward J_n = (e^c - n J_{n-1})/c for n <= |c|, downward
 * J_{n-1} = (e^c - c J_n)/n for n > |c| from a series value of J_nmax with positive terms:
 * c >= 0: sum_j c^j/(j! (n+j+1));  c < 0: e^c n! sum_j |c|^j/(n+j+1)!  (Kummer). */
static void jn_values(double c, int nmax, double *J) {
  if (c == 0) {
    for (int n = 0; n <= nmax; n++)
      J[n] = 1.0 / (n + 1);
    return;
  }
  double ec = exp(c);
  int n0 = (int)fmin((double)nmax, floor(fabs(c)));
  J[0] = expm1(c) / c;
  for (int n = 1; n <= n0; n++)
    J[n] = (ec - n * J[n - 1]) / c;
  if (nmax <= n0) return;
  int N = nmax;
  double sum = 0, term;
  if (c > 0) {
    term = 1.0;
    for (int j = 0; j < 400; j++) {
      double add = term / (N + j + 1);
      sum += add;
      if (add <= 1e-17 * sum) break;
      term *= c / (j + 1);
    }
    J[N] = sum;
  } else {
    term = 1.0 / (N + 1);
    for (int j = 0; j < 400; j++) {
      sum += term;
      term *= -c / (N + j + 2);
      if (term <= 1e-17 * sum) break;
    }
    J[N] = ec * sum;
  }
  for (int n = N; n > n0 + 1; n--)
    J[n - 1] = (ec - c * J[n]) / n;
}

/* phi1(a) = (e^a - 1)/a, times e^{-R}; series near 0. */
static double complex phi1_scaled(double complex a, double R) {
  if (cabs(a) < 0.5) {
    double complex term = 1.0, sum = 0;
    for (int j = 1; j < 30; j++) {
      term *= a / (j + 1);
      sum += term;
      if (cabs(term) < 1e-17) break;
    }
    return exp(-R) * (1.0 + sum);
  }
  return (cexp(a - R) - exp(-R)) / a;
}

/* sinh(h)/h, entire. */
static double complex sinhc(double complex h) {
  if (cabs(h) < 0.1) {
    double complex h2 = h * h;
    return 1.0 + h2 / 6.0 * (1.0 + h2 / 20.0 * (1.0 + h2 / 42.0 * (1.0 + h2 / 72.0)));
  }
  return csinh(h) / h;
}

#define SERIES_KMAX 12 /* |wt| <= 1: (wt)^24/24! < 2e-24 */

/* |x|^2 is a normal double, far from underflow */
static int normal_sq(double complex x) {
  double m = qb_model_abs2(x);
  return m >= 0x1p-1000 && m <= DBL_MAX;
}

static void traj_series(const ep_sys *S, double t, ep_traj *o) {
  double c = -S->s * t;
  double complex h2 = S->w2 * t * t;
  /* terms while |h2|^k/(2k)! >= 1e-18 (J_n <= J_0, so this bounds every sum) */
  int K = 0;
  for (double m = 1, ah = cabs(h2); K < SERIES_KMAX && m >= 1e-18; K++)
    m *= ah / ((2.0 * K + 1) * (2.0 * K + 2));
  double J[2 * SERIES_KMAX + 2];
  jn_values(c, 2 * K + 1, J);
  double complex Sa = 0, Sb = 0, Sc = 0, Ss = 0, hp = 1.0;
  double fe = 1.0, fo = 1.0; /* (2k)!, (2k+1)! */
  for (int k = 0; k <= K; k++) {
    Sa += hp / fe * J[2 * k];
    Sb += hp / fo * J[2 * k + 1];
    Sc += hp / fe;
    Ss += hp / fo;
    hp *= h2;
    fe *= (2.0 * k + 1) * (2.0 * k + 2);
    fo *= (2.0 * k + 2) * (2.0 * k + 3);
  }
  double ec = exp(c);
  o->R = 0;
  o->b = S->Er * t * t * Sb;
  o->a = S->Er * t * (Sa - S->z * t * Sb);
  o->db = S->Er * ec * t * Ss;
  o->da = S->Er * ec * (Sc - S->z * t * Ss);
  /* extreme t or E_r: the logarithms from the factors, where |b|^2, |a|^2 or P_B would
   * underflow or overflow */
  double lt = log(t), lE = log(S->Er);
  o->lb = !normal_sq(o->b) ? 2.0 * lE + 4.0 * lt + log(qb_model_abs2(Sb)) : NAN;
  o->la = !normal_sq(o->a) ? 2.0 * lE + 2.0 * lt + log(qb_model_abs2(Sa - S->z * t * Sb)) : NAN;
  o->lpb = o->ldb = NAN;
  double q = 2.0 * creal(conj(Sb) * Ss); /* P_B = E_r^2 t^3 e^c q */
  double pb = 2.0 * creal(conj(o->b) * o->db);
  if (!(fabs(pb) >= 0x1p-1000 && fabs(pb) <= DBL_MAX) && q != 0) {
    o->lpb = 2.0 * lE + 3.0 * lt + c + log(fabs(q));
    o->spb = copysign(1.0, q);
  }
  /* |wt| <= 1, |st| <= 25: every term is of the size of the result up to e^{25}; the J_n
   * recurrences run only where they are stable */
  o->ea = o->eb = o->edb = 64 * DBL_EPSILON;
}

static double logsq(double complex x);

/* ln|b|^2, ln|a|^2 from the values at unit drive bu, au where |b|^2 or |a|^2 (with E_r and
 * e^{2R}) leave the double range. */
static void set_logs(ep_traj *o, double Er, double complex bu, double complex au) {
  if (!normal_sq(o->b)) o->lb = 2.0 * o->R + 2.0 * log(Er) + logsq(bu);
  if (!normal_sq(o->a)) o->la = 2.0 * o->R + 2.0 * log(Er) + logsq(au);
}

/* ln|b'| and b'/|b'| where b' = E_r e^{lsc} su underflows (P_B stays representable). */
static void set_ldb(ep_traj *o, double Er, double complex St, double complex su, double lsc) {
  o->ldb = NAN;
  if (qb_model_abs2(Er * St) < 0x1p-1000 && su != 0 && isfinite(lsc)) {
    double a = cabs(su);
    o->ldb = log(Er) + lsc + log(a);
    o->udb = su / a;
  }
}

/* traj_expo's form A, b = E_r (e^{-R} - g)/det M (g = Ct + s St): bad where g ~ e^{-R}.  eR =
 * e^{-R}; Ct, St as in traj_expo; dg: the exponentials' relative rounding. */
static void expo_form_a(const ep_sys *S, double eR, double complex Ct, double complex St,
                        double complex g, double dg, ep_traj *o) {
  o->b = S->Er * (eR - g) / S->detM;
  o->a = S->Er *
         ((S->s - S->z) * eR + (S->z - S->s) * Ct - (S->z * S->z - S->s * S->z + 1.0) * St) /
         S->detM;
  double nb = mag(eR - g), na = mag(o->a) / S->Er * S->adet;
  o->la = o->lb = NAN;
  if (!normal_sq(o->b) || !normal_sq(o->a))
    set_logs(o, S->Er, (eR - g) / S->detM,
             ((S->s - S->z) * eR + (S->z - S->s) * Ct - (S->z * S->z - S->s * S->z + 1.0) * St) /
                 S->detM);
  o->eb = (DBL_EPSILON * eR + mag(g) * dg) / nb + S->edet;
  o->ea = (DBL_EPSILON * mag(S->s - S->z) * eR +
           (mag(S->z - S->s) * mag(Ct) + mag(S->z * S->z - S->s * S->z + 1.0) * mag(St)) * dg) /
              na +
          S->edet;
}

/* traj_expo's form B, b = E_r t (phi1(c + h) - phi1(c - h))/(2h) (pp, pm: the phi1 scaled by
 * e^{-R}): bad where they are close.  dg as in expo_form_a. */
static void expo_form_b(const ep_sys *S, double t, double complex h, double complex pp,
                        double complex pm, double dg, ep_traj *o) {
  double complex dd = t * (pp - pm) / (2.0 * h); /* (phi1(a+) - phi1(a-))/(2w), scaled */
  o->b = S->Er * t * dd;
  o->a = S->Er * t * (0.5 * (pp + pm) - S->z * dd);
  double e = (mag(pp) + mag(pm)) * dg;
  o->la = o->lb = NAN;
  if (!normal_sq(o->b) || !normal_sq(o->a))
    set_logs(o, S->Er, t * dd, t * (0.5 * (pp + pm) - S->z * dd));
  o->eb = e / mag(pp - pm) + 4 * DBL_EPSILON;
  o->ea = e * (0.5 + mag(S->z) * t / (2.0 * mag(h))) / (mag(o->a) / (S->Er * t)) + 4 * DBL_EPSILON;
}

static void traj_expo(const ep_sys *S, double t, ep_traj *o) {
  double c = -S->s * t;
  double complex h = S->w * t;
  double R = fmax(0.0, c + creal(h));
  double complex Ct, St; /* e^{c-R} cosh h,  e^{c-R} sinh(h)/w */
  if (creal(h) <= 350.0) {
    double e = exp(c - R);
    Ct = e * ccosh(h);
    St = e * t * sinhc(h);
  } else { /* e^{-2h} is below 1e-304 of e^{h}: cosh = sinh = e^h/2 to the last bit */
    Ct = 0.5 * cexp(c + h - R);
    St = Ct * t / h;
  }
  o->ldb = NAN;
  if (qb_model_abs2(S->Er * St) < 0x1p-1000) { /* b' below the double range: St = e^{lsc} su */
    if (creal(h) <= 350.0)
      set_ldb(o, S->Er, St, t * sinhc(h), c - R);
    else
      set_ldb(o, S->Er, St, 0.5 * expi(0.0, cimag(h)) * t / h, c + creal(h) - R);
  }
  double eR = exp(-R);
  o->R = R;
  o->db = S->Er * St;
  o->da = S->Er * (Ct - S->z * St);

  /* form A */
  double complex g = Ct + S->s * St;
  double kA = (S->adet > 0) ? (eR + cabs(g)) / cabs(eR - g) : INFINITY;
  /* form B */
  double kB = INFINITY;
  double complex pp = 0, pm = 0;
  if (cabs(h) > 0) {
    pp = phi1_scaled(c + h, R);
    pm = phi1_scaled(c - h, R);
    kB = (cabs(pp) + cabs(pm)) / cabs(pp - pm);
  }
  /* relative rounding of the exponentials: their exponents c, h carry eps (|c| + |h|) */
  double dg = DBL_EPSILON * (8.0 + fabs(c) + 2.0 * mag(h));
  if (!(kB < kA))
    expo_form_a(S, eR, Ct, St, g, dg, o);
  else
    expo_form_b(S, t, h, pp, pm, dg, o);
  o->edb = dg;
  /* b' below the double range with a certain decay (exponent + its rounding < -800): exact 0 */
  if (St == 0 && c + creal(h) - R + DBL_EPSILON * (8.0 + fabs(c) + 2.0 * mag(h)) < -800) o->edb = 0;
  o->lpb = NAN;
}

/* The exponentials of traj_expo_acc at t: u+- = mu+- t, h = w t, R = max(0, Re u+), eR = e^{-R},
 * E+- = e^{u+- - R} (formed without subtracting large numbers), |det M|, |h|, |mu+-|, and the
 * rounding estimates dp, dm of the exponents u+- and rp, rm of mu+- (relative). */
typedef struct {
  double complex up, um, h, Ep, Em;
  double R, eR, adet, ah, amp, amm, dp, dm, rp, rm;
} ep_acc;

static void acc_init(const ep_sys *S, double t, ep_acc *A) {
  const double complex mup = S->mup_acc, mum = S->mum_acc, w = S->w, det = S->det_acc;
  const double complex up = mup * t, um = mum * t, h = w * t;
  const double R = fmax(0.0, creal(up));
  A->up = up;
  A->um = um;
  A->h = h;
  A->R = R;
  A->eR = exp(-R);
  A->adet = mag(det);
  A->ah = mag(h);
  if (R > 0) { /* Re up - R = 0, Re um - R = -2 Re h exactly */
    A->Ep = expi(0.0, cimag(up));
    A->Em = expi(-2.0 * creal(h), cimag(um));
  } else {
    A->Ep = expi(creal(up), cimag(up));
    A->Em = expi(creal(um), cimag(um));
  }
  /* rounding of the exponents: mu+- carry eps times the size of their terms */
  const double sp = fabs(S->gb) + fabs(S->dr) + mag(S->wmz);
  const double sm = fabs(S->gb) + fabs(S->dr) + mag(S->wpz);
  A->dp = DBL_EPSILON * (8.0 + 2.0 * t * sp);
  A->dm = DBL_EPSILON * (8.0 + 2.0 * t * sm);
  const double amp = mag(mup), amm = mag(mum);
  A->amp = amp;
  A->amm = amm;
  A->rp = amp > 0 ? DBL_EPSILON * (4.0 + sp / amp) : INFINITY;
  A->rm = amm > 0 ? DBL_EPSILON * (4.0 + sm / amm) : INFINITY;
}

/* traj_expo_acc where |wt| < 1/2: the cosh/sinh forms of traj_expo (form A), with the exponent
 * -st taken exactly. */
static void acc_near(const ep_sys *S, double t, const ep_acc *A, ep_traj *o) {
  const double complex det = S->det_acc, h = A->h;
  const double R = A->R, eR = A->eR, adet = A->adet, ah = A->ah, rp = A->rp, rm = A->rm;
  /* e^{-st - R}: -st - R = -Re h if R > 0 */
  double c = -S->s * t;
  double e = R > 0 ? exp(-creal(h)) : exp(c);
  double complex Ct = e * ccosh(h), St = e * t * sinhc(h);
  double complex g = Ct + S->s * St, zz = S->z * S->zs + 1.0; /* z^2 - s z + 1 */
  o->ldb = NAN;
  if (qb_model_abs2(S->Er * St) < 0x1p-1000)
    set_ldb(o, S->Er, St, t * sinhc(h), R > 0 ? -creal(h) : c);
  o->db = S->Er * St;
  o->da = S->Er * (Ct - S->z * St);
  o->b = S->Er * (eR - g) / det;
  o->a = S->Er * (-S->zs * eR + S->zs * Ct - zz * St) / det;
  if (!normal_sq(o->b) || !normal_sq(o->a))
    set_logs(o, S->Er, (eR - g) / det, (-S->zs * eR + S->zs * Ct - zz * St) / det);
  if (!(qb_model_abs2(det) >= 0x1p-1000) && (!normal_sq(o->b) || !normal_sq(o->a))) {
    /* det M below the double range (near an EP with s ~ 0): the same with ln|det M| */
    double ld = logsq(S->mup_acc) + logsq(S->mum_acc), lE = 2.0 * o->R + 2.0 * log(S->Er);
    if (!normal_sq(o->b)) o->lb = lE + logsq(eR - g) - ld;
    if (!normal_sq(o->a)) o->la = lE + logsq(-S->zs * eR + S->zs * Ct - zz * St) - ld;
  }
  double dg = DBL_EPSILON * (8.0 + fabs(c) + 2.0 * ah);
  double edet = DBL_EPSILON * 4.0 + rp + rm;
  o->eb = (DBL_EPSILON * eR + mag(g) * dg) / mag(eR - g) + edet;
  o->ea = (DBL_EPSILON * mag(S->zs) * eR + (mag(S->zs * Ct) + mag(zz * St)) * dg) /
              (mag(o->a) / S->Er * adet) +
          edet;
  o->edb = dg;
  if (St == 0 && (R > 0 ? -creal(h) : c) + DBL_EPSILON * (8.0 + fabs(c) + 2.0 * ah) < -800)
    o->edb = 0; /* b' below the double range with a certain decay: exact 0 */
}

/* traj_expo_acc's a', b' from the eigen-expansion: b' = E_r (E+ - E-)/(2w). */
static void acc_derivative(const ep_sys *S, double t, const ep_acc *A, ep_traj *o) {
  const double complex Ep = A->Ep, Em = A->Em, up = A->up, um = A->um, h = A->h;
  const double R = A->R, dp = A->dp, dm = A->dm;
  const double complex w2 = 2.0 * S->w;
  o->db = S->Er * (Ep - Em) / w2;
  o->da = S->Er * (S->wmz * Ep + S->wpz * Em) / w2;
  o->ldb = NAN;
  if (qb_model_abs2(o->db) < 0x1p-1000)
    set_ldb(o, S->Er, (Ep - Em) / w2,
            (expi(0.0, cimag(up)) - expi(-2.0 * creal(h), cimag(um))) / w2, creal(up) - R);
  o->edb = (mag(Ep) * dp + mag(Em) * dm) / mag(Ep - Em) + 4 * DBL_EPSILON;
  /* b' below the double range: 0 is exact if the decay itself is certain (the real part of
   * mu+ t carries eps t (|gb| + |Re(w - z)|)) */
  if (Ep == 0 && Em == 0 &&
      creal(up) - R + 2 * DBL_EPSILON * t * (fabs(S->gb) + fabs(creal(S->wmz))) < -800)
    o->edb = 0;
}

/* traj_expo_acc's a, b: form A (the eigen-expansion) or form B (the divided difference of
 * phi1), whichever is better conditioned. */
static void acc_forms(const ep_sys *S, double t, const ep_acc *A, ep_traj *o) {
  const double complex mup = S->mup_acc, mum = S->mum_acc, det = S->det_acc;
  const double complex Ep = A->Ep, Em = A->Em, up = A->up, um = A->um;
  const double R = A->R, eR = A->eR, adet = A->adet, amp = A->amp, amm = A->amm;
  const double dp = A->dp, dm = A->dm, rp = A->rp, rm = A->rm;
  const double complex w2 = 2.0 * S->w;
  const double aw2 = mag(w2);
  /* form A: the eigen-expansion */
  double kA = INFINITY, eA = INFINITY;
  double complex bA = 0, aA = 0;
  if (adet > 0 && amp > 0 && amm > 0) {
    double complex tp = Ep / mup, tm = Em / mum, t0 = eR / det;
    bA = t0 + (tp - tm) / w2;
    aA = -S->zs * t0 + (S->wmz * tp + S->wpz * tm) / w2;
    double T0 = mag(t0), Tp = mag(tp) / aw2, Tm = mag(tm) / aw2, nb = mag(bA);
    kA = (T0 + Tp + Tm) / nb;
    eA = (T0 * (4 * DBL_EPSILON + rp + rm) + Tp * (dp + rp) + Tm * (dm + rm)) / nb;
  }
  /* form B: divided difference of phi1 */
  double complex Pp = cabs(up) < 0.5 ? phi1_scaled(up, R) : (Ep - eR) / up;
  double complex Pm = cabs(um) < 0.5 ? phi1_scaled(um, R) : (Em - eR) / um;
  double kB = (cabs(Pp) + cabs(Pm)) / cabs(Pp - Pm);
  double eB = (mag(Pp) * (dp + 4 * DBL_EPSILON) + mag(Pm) * (dm + 4 * DBL_EPSILON)) / mag(Pp - Pm);
  if (!(kB < kA)) {
    o->b = S->Er * bA;
    o->a = S->Er * aA;
    if (!normal_sq(o->b) || !normal_sq(o->a)) set_logs(o, S->Er, bA, aA);
    o->eb = eA;
    double T0 = mag(S->zs) * eR / adet, Tp = mag(S->wmz) * mag(Ep) / amp / aw2;
    double Tm = mag(S->wpz) * mag(Em) / amm / aw2;
    o->ea = (T0 * (4 * DBL_EPSILON + rp + rm) + Tp * (dp + rp) + Tm * (dm + rm)) / mag(aA);
  } else {
    o->b = S->Er * (t * (Pp - Pm) / w2);
    o->a = S->Er * (t * (S->wmz * Pp + S->wpz * Pm) / w2);
    if (!normal_sq(o->b) || !normal_sq(o->a))
      set_logs(o, S->Er, t * (Pp - Pm) / w2, t * (S->wmz * Pp + S->wpz * Pm) / w2);
    o->eb = eB;
    o->ea = (mag(S->wmz) * mag(Pp) * (dp + 4 * DBL_EPSILON) +
             mag(S->wpz) * mag(Pm) * (dm + 4 * DBL_EPSILON)) /
            mag(S->wmz * Pp + S->wpz * Pm);
  }
}

/* The same with the cancellation-free eigenvalues (large parameters or large |s| t):
 * b = E_r [e^{-R}/det M + (E+/mu+ - E-/mu-)/(2w)] (form A), b = E_r t (P+ - P-)/(2w) (form B,
 * P = phi1(mu t) e^{-R}), with E+- = e^{mu+- t - R} formed without subtracting large numbers.
 * Where |wt| < 1/2 the cosh/sinh forms of traj_expo, with the exponent -st taken exactly. */
static void traj_expo_acc(const ep_sys *S, double t, ep_traj *o) {
  ep_acc A;
  acc_init(S, t, &A);
  o->R = A.R;
  o->la = o->lb = o->lpb = NAN;
  if (A.ah < 0.5) {
    acc_near(S, t, &A, o);
    return;
  }
  acc_derivative(S, t, &A, o);
  acc_forms(S, t, &A, o);
}

static void traj_eval(const ep_sys *S, double t, ep_traj *o) {
  if (t == 0) {
    o->a = o->b = 0;
    o->da = S->Er;
    o->db = 0;
    o->R = 0;
    o->la = o->lb = o->lpb = o->ldb = NAN;
    o->ea = o->eb = o->edb = 0;
    return;
  }
  if (S->aw2 * t * t <= 1.0 && fabs(S->s * t) <= 25.0)
    traj_series(S, t, o);
  else if (S->ext || fabs(S->s) * t > 1e5 || t > 1e50) {
    if (S->acc) {
      traj_expo_acc(S, t, o);
    } else {
      ep_sys S2 = *S;
      sys_acc(&S2);
      traj_expo_acc(&S2, t, o);
    }
  } else
    traj_expo(S, t, o);
}

/* ln|x|^2, also where |x|^2 overflows. */
static double logsq(double complex x) {
  double m = qb_model_abs2(x);
  return m <= DBL_MAX ? log(m) : 2.0 * log(cabs(x));
}

/* e^{2R} |x|^2 without spurious overflow. */
static double scaled_sq(double complex x, double R) {
  double m = creal(x) * creal(x) + cimag(x) * cimag(x);
  return R == 0 ? m : exp(2.0 * R + log(m));
}

/* ln E_B(t) and d ln E_B/dt. */
static double log_eb(const ep_sys *S, double t, double *dlog) {
  ep_traj o;
  traj_eval(S, t, &o);
  double m = creal(o.b) * creal(o.b) + cimag(o.b) * cimag(o.b);
  if (dlog) *dlog = 2.0 * creal(conj(o.b) * o.db) / m;
  return isnan(o.lb) ? 2.0 * o.R + logsq(o.b) : o.lb;
}

/* ln E_B(t) and its t-derivative from the eigen-expansion b = b_ss + D+ e^{mu+ t} + D- e^{mu- t},
 * scaled by e^{-g t}.  Only used where it is well conditioned (see tcrit_growing). */
typedef struct {
  double complex bss, dp, dm, mp, mm;
  double abss, adp, adm, amp, amm; /* their moduli */
  double g;                        /* max(growth, 0): the scale factor's rate */
  int ext;
} ep_eig;

/* The eigen-expansion; 0 (none) near the EP or where det M = 0. */
static int eig_init(const ep_sys *S, ep_eig *E) {
  if (!(S->aw > 1e-6 * (1.0 + fabs(S->s))) || !(S->adet > 0)) return 0;
  double complex h = 0.5 / S->detM;                        /* 1/(2 det M) */
  double complex sw = S->s * conj(S->w) / (S->aw * S->aw); /* s/w */
  E->bss = 2.0 * S->Er * h;
  if (S->ext) { /* 1 + s/w = -mu-/w, 1 - s/w = mu+/w without cancellation */
    E->dp = S->Er * S->mum / S->w * h;
    E->dm = -S->Er * S->mup / S->w * h;
  } else {
    E->dp = -S->Er * (1.0 + sw) * h;
    E->dm = -S->Er * (1.0 - sw) * h;
  }
  E->mp = S->mup;
  E->mm = S->mum;
  E->ext = S->ext;
  E->abss = mag(E->bss);
  E->adp = mag(E->dp);
  E->adm = mag(E->dm);
  E->amp = mag(E->mp);
  E->amm = mag(E->mm);
  E->g = fmax(S->growth, 0.0);
  return 1;
}

/* Bounds for the t_crit scan.  b(t) = b_ss + D+ e^{mu+ t} + D- e^{mu- t} with
 * D+- = -E_r (1 +- s/w)/(2 det M); near the EP the eigen-expansion blows up and the bounds
 * |b - b_ss| <= |E_r/det M| e^{(|w|-s)t}(1 + |s| t),  |b'| <= E_r t e^{(|w|-s)t}  take over. */
typedef struct {
  double bss, dp, dm, vp, vm, rp, rm, k2;
} ep_bounds;

static void bounds_init(const ep_sys *S, const ep_eig *E, ep_bounds *B) {
  B->bss = S->Er / S->adet;
  B->dp = E ? E->adp : INFINITY;
  B->dm = E ? E->adm : INFINITY;
  B->vp = E ? E->adp * E->amp : INFINITY;
  B->vm = E ? E->adm * E->amm : INFINITY;
  /* |D+- mu+-| = E_r/(2|w|) exactly; where det M has cancelled the product above can come out
   * as 0 * huge (mu+ = 0 against det M = 1e-17): then take the exact value */
  if (E) {
    double v = S->Er / (2.0 * S->aw);
    if (!(B->vp >= 0.5 * v)) B->vp = v;
    if (!(B->vm >= 0.5 * v)) B->vm = v;
  }
  B->rp = S->growth;
  B->rm = creal(S->mum);
  B->k2 = S->aw - S->s;
  if (S->ext) B->k2 += 8 * DBL_EPSILON * (fabs(S->s) + S->aw); /* keep the bound rigorous */
}

/* sup over tau >= t of |b(tau)| (valid only while both modes decay); INFINITY if unknown. */
static double bound_b_future(const ep_sys *S, const ep_bounds *B, double t) {
  if (!(B->rp < 0)) return INFINITY;
  double u1 = B->bss + B->dp * exp(B->rp * t) + B->dm * exp(B->rm * t);
  double u2 = INFINITY;
  if (B->k2 < 0 && fabs(S->s) + B->k2 * (1.0 + fabs(S->s) * t) <= 0)
    u2 = B->bss + B->bss * exp(B->k2 * t) * (1.0 + fabs(S->s) * t);
  return fmin(u1, u2);
}

/* sup over tau in [t0, t1] of |b'(tau)|. */
static double bound_db(const ep_sys *S, const ep_bounds *B, double t0, double t1) {
  double v1 =
      B->vp * exp(B->rp * (B->rp > 0 ? t1 : t0)) + B->vm * exp(B->rm * (B->rm > 0 ? t1 : t0));
  double tm = t1; /* tau e^{k tau} peaks at -1/k */
  if (B->k2 < 0) tm = fmin(fmax(-1.0 / B->k2, t0), t1);
  double v2 = S->Er * tm * exp(B->k2 * tm);
  return fmin(v1, v2);
}

#define TCRIT_MAX_STEPS 20000

/* ln E_B from the eigen-expansion when its terms cancel by less than a factor 1e3 (relative
 * error below ~1e-13); else from the robust form. */
static double log_eb_fast(const ep_sys *S, const ep_eig *E, double t, double *dlog) {
  if (E) {
    double R = E->g * t;
    double complex ep = expi(creal(E->mp) * t - R, cimag(E->mp) * t);
    double complex em = E->ext ? expi((creal(E->mm) - E->g) * t, cimag(E->mm) * t)
                               : expi(creal(E->mm) * t - R, cimag(E->mm) * t);
    double complex b0 = E->bss * exp(-R), bp = E->dp * ep, bm = E->dm * em;
    double complex b = b0 + bp + bm;
    double m = qb_model_abs2(b);
    /* (|b0| + |bp| + |bm|)^2 <= 3 (|b0|^2 + |bp|^2 + |bm|^2) < 1e6 |b|^2 */
    if (3.0 * (qb_model_abs2(b0) + qb_model_abs2(bp) + qb_model_abs2(bm)) < 1e6 * m) {
      if (dlog) *dlog = 2.0 * creal(conj(b) * (E->mp * bp + E->mm * bm)) / m;
      return 2.0 * R + log(m);
    }
  }
  return log_eb(S, t, dlog);
}

/* Newton with bisection safeguard for f(t) = ln E_B(t) - lmax on [ta, tb], f(ta) < 0 <= f(tb),
 * to a relative bracket width of 4 eps. */
static double tcrit_refine(const ep_sys *S, const ep_eig *E, double lmax, double ta, double tb,
                           double x) {
  for (int it = 0; it < 200; it++) {
    double d, fx = log_eb_fast(S, E, x, &d) - lmax;
    if (fx == 0) return x;
    if (fx < 0)
      ta = x;
    else
      tb = x;
    if (tb - ta <= 4 * DBL_EPSILON * tb) return tb;
    double xn = x - fx / d;
    if (!(xn > ta && xn < tb)) xn = 0.5 * (ta + tb);
    if (fabs(xn - x) <= 2 * DBL_EPSILON * x) return xn;
    x = xn;
  }
  return 0.5 * (ta + tb);
}

/* Growing points, away from the EP, one growing mode (Re mu- <= 0): with y = |D+| e^{g t},
 * x0 = |b_ss| + |D-|, z0 = |mu- D-|, |b| lies in [y - x0, y + x0] and
 * d|b|^2/dt >= 2 (g y^2 - (|mu+| x0 + z0) y - x0 z0) > 0 once y >= y*.  So no crossing before
 * t_lo (y + x0 = sqrt(E_max)), one before t_hi (y - x0 = sqrt(E_max)), and if t_lo >= T_mono
 * (y = y*) exactly one: Newton on the eigen-expansion, which is well conditioned there
 * (|b| >= y - x0 with y >= x0).  Returns NAN when these conditions do not hold. */
static double tcrit_growing(const ep_sys *S, const ep_eig *Ep, double Emax, double *t_start) {
  *t_start = 0;
  if (!Ep || !(S->growth > 0) || creal(Ep->mm) > 0) return NAN;
  const double g = Ep->g, smax = sqrt(Emax), adp = Ep->adp;
  double x0 = Ep->abss + Ep->adm, z0 = Ep->amm * Ep->adm, kk = Ep->amp * x0 + z0;
  double ystar = (kk + sqrt(kk * kk + 4.0 * g * x0 * z0)) / (2.0 * g);
  double t_lo = smax > x0 ? log((smax - x0) / adp) / g : 0.0;
  double t_mono = log(ystar / adp) / g;
  t_lo = fmax(t_lo, 0.0);
  *t_start = t_lo;
  if (!(t_lo >= t_mono) || !(smax > x0)) return NAN;
  double t_hi = log((smax + x0) / adp) / g;
  double lmax = log(Emax), d;
  if (log_eb_fast(S, Ep, t_lo, &d) >= lmax) return t_lo; /* only if x0 = 0 exactly */
  double x = log(smax / adp) / g;                        /* dominant-term estimate */
  if (!(x > t_lo && x < t_hi)) x = 0.5 * (t_lo + t_hi);
  return tcrit_refine(S, Ep, lmax, t_lo, t_hi, x);
}

/* First t > 0 with E_B(t) = Emax (absolute energy).  Growing points: tcrit_growing where its
 * conditions hold.  Otherwise scan forward from t_start: from t_k (E_B < E_max) no crossing can
 * occur before t_k + (sqrt(E_max) - |b(t_k)|)/sup|b'|, so that jump is always safe; where it is
 * short, step by a resolution of 1/16 of the fastest beat period of |b|^2 (or t/8 without
 * oscillation).  Then Newton-bisection on ln E_B - ln E_max inside the bracket. */
static double tcrit_exact(const ep_sys *S, double Emax, double tol, uint32_t *status) {
  const double lmax = log(Emax), smax = sqrt(Emax);
  double t = 0;
  ep_eig Eb;
  const ep_eig *E = eig_init(S, &Eb) ? &Eb : NULL;
  double fast = tcrit_growing(S, E, Emax, &t);
  if (!isnan(fast)) return fast;
  ep_bounds B;
  bounds_init(S, E, &B);
  /* marginal (|growth| <= tol): if |b| stays below sqrt(E_max) as long as the growth is taken as
   * 0, only a growth below the resolution could ever reach E_max: give up at once */
  if (E && fabs(S->growth) <= tol && creal(E->mm) <= 0 && E->abss + E->adp + E->adm < smax) {
    *status |= EP_TCRIT_FAILED;
    return NAN;
  }

  double mu = fmax(mag(-S->s + S->w), mag(-S->s - S->w));
  double dt0 = 0.25 / fmax(mu, 1e-2); /* the coupling 1 sets a time scale even where mu = 0 */
  double wi = fabs(cimag(S->w));
  double dt_osc = wi > 0 ? 0.2 / wi : INFINITY;
  double f = t > 0 ? log_eb_fast(S, E, t, NULL) - lmax : -INFINITY;
  double ta = 0, tb = NAN;
  for (int k = 0; k < TCRIT_MAX_STEPS; k++) {
    if (bound_b_future(S, &B, t) < smax) {
      *status |= EP_TCRIT_NEVER;
      return NAN;
    }
    double r = t > 0 ? exp(0.5 * (f + lmax)) : 0.0; /* |b(t)| */
    double gap = smax - r;
    double v = bound_db(S, &B, t, t + gap / fmax(bound_db(S, &B, t, t), 1e-300));
    double safe = gap / fmax(v, 1e-300) * (1.0 - 1e-12);
    double step = fmax(safe, fmin(dt_osc, 0.125 * t + dt0));
    if (!(step > 0) || !isfinite(step)) break;
    double tn = t + step, fn = log_eb_fast(S, E, tn, NULL) - lmax;
    if (fn >= 0) {
      ta = t;
      tb = tn;
      break;
    }
    t = tn;
    f = fn;
  }
  if (isnan(tb)) {
    *status |= EP_TCRIT_FAILED;
    return NAN;
  }
  return tcrit_refine(S, E, lmax, ta, tb, tb);
}

/* Eq. 33 exactly as printed, with Eq. 32's E_scale (alpha = 0: gamma = gamma_b). */
static double tcrit_eq33(const ep_sys *S, double Emax, uint32_t *status) {
  if (!(fabs(S->alpha) <= 1e-12 * (1.0 + fabs(S->gb)) && fabs(S->dr) < 1.0 && S->growth > 0)) {
    *status |= EP_APPROX_OUTSIDE;
    return NAN;
  }
  double g = S->gb, om = sqrt((1.0 - S->dr) * (1.0 + S->dr));
  double K = S->dr * S->dr + g * g - 1.0;
  double q = (g + om) / om;
  double escale = S->Er * S->Er / (4.0 * K * K) * q * q;
  double tc = log(Emax / escale) / (2.0 * (om - g));
  if (!(escale > 0) || !isfinite(escale)) { /* extreme E_r or K: the same in logarithms */
    double lesc = 2.0 * (log(S->Er) + log(fabs(q)) - log(2.0 * fabs(K)));
    tc = (log(Emax) - lesc) / (2.0 * (om - g));
    escale = log(Emax) > lesc ? 0.0 : INFINITY; /* only for the comparison below */
  }
  if (!(Emax > escale) || !(tc > 0)) *status |= EP_APPROX_UNRELIABLE;
  if (!isfinite(tc)) { /* Eq. 33 divides by om - gamma_b -> 0 or by K -> 0: no value */
    *status |= EP_APPROX_OUTSIDE;
    return NAN;
  }
  return tc;
}

/* gamma_a from alpha or gamma_a; the rest as given. */
static void resolve(const double *p, double *ga, double *gb, double *dr) {
  *gb = p[P_GAMMA_B];
  *ga = isnan(p[P_GAMMA_A]) ? *gb + 2.0 * p[P_ALPHA] : p[P_GAMMA_A];
  *dr = p[P_DELTA_R];
}

/* A time-dependent value v whose logarithm (ln|v|) is lv, with estimated relative error e:
 * v if e <= QB_EST_MAX; an overflowed v (inf) as long as lv itself is reliable (then the true
 * value is beyond the double range too); else NaN with QB_PT_T_UNRESOLVED. */
static double guard_t(double v, double lv, double e, uint32_t *status) {
  if (isinf(v) && isfinite(lv) && e <= QB_EST_MAX * fmax(1.0, fabs(lv)) && lv > 709.8) {
    *status |= QB_PT_OVERFLOW;
    return v;
  }
  if (!(e <= QB_EST_MAX)) {
    *status |= QB_PT_T_UNRESOLVED;
    return NAN;
  }
  if (isinf(v)) *status |= QB_PT_OVERFLOW;
  return v;
}

/* growth_rate, the eigenvalues, splitting and regime; returns the regime. */
static int spectrum(const ep_sys *S, double *out) {
  out[F_GROWTH] = S->growth;
  out[F_LP_RE] = 0.0 - cimag(S->w); /* +0, not -0, on the real axis */
  out[F_LP_IM] = S->growth;
  out[F_LM_RE] = cimag(S->w);
  out[F_LM_IM] = creal(S->mum);
  out[F_SPLIT] = 2.0 * S->aw;
  double tol = S->tol;
  int regime =
      S->growth > tol ? REGIME_GROWING : (S->growth < -tol ? REGIME_STABLE : REGIME_MARGINAL);
  if (S->aw2 <= TOL_EP * (1.0 + creal(S->z) * creal(S->z) + cimag(S->z) * cimag(S->z)))
    regime |= REGIME_EP_FLAG;
  out[F_REGIME] = regime;
  return regime;
}

/* The steady state E_A_ss, E_B_ss where the regime is stable. */
static void steady(const ep_sys *S, int regime, double *out, uint32_t *status) {
  const double Er = S->Er, gb = S->gb, dr = S->dr;
  if ((regime & 3) != REGIME_STABLE) {
    *status |= QB_PT_NOT_STABLE;
    return;
  }
  if (!(2.0 * S->edet <= QB_EST_MAX)) {
    *status |= QB_PT_ILL_CONDITIONED;
    return;
  }
  double pi2 = creal(S->detM) * creal(S->detM) + cimag(S->detM) * cimag(S->detM);
  out[F_EB_SS] = Er * Er / pi2;
  out[F_EA_SS] = Er * Er * (gb * gb + dr * dr) / pi2;
}

/* P_B = 2 Re(b* b') from the trajectory o (lb: ln E_B), and *lpb = ln|P_B| where P_B or b' leave
 * the double range (0 where it is not needed). */
static double power_b(ep_traj *o, double lb, double *lpb) {
  double pb = 2.0 * creal(conj(o->b) * o->db);
  if (!isnan(o->ldb) && isnan(o->lpb) && o->b != 0) { /* b' underflows, P_B need not */
    double q = 2.0 * creal(conj(o->b / cabs(o->b)) * o->udb);
    if (q != 0) {
      o->lpb = 0.5 * lb + o->ldb + o->R + log(fabs(q));
      o->spb = copysign(1.0, q);
    }
  }
  if (isnan(o->lpb) && isinf(pb) && o->b != 0) { /* the product overflowed: ln|P_B| anyway */
    double q = 2.0 * creal(conj(o->b / cabs(o->b)) * o->db);
    o->lpb = 2.0 * o->R + log(fabs(q)) + log(cabs(o->b));
    o->spb = copysign(1.0, q);
  }
  *lpb = !isnan(o->lpb) ? o->lpb : (isinf(pb) || o->R != 0) ? 2.0 * o->R + log(fabs(pb)) : 0.0;
  return !isnan(o->lpb) ? o->spb * exp(o->lpb)
                        : (o->R == 0 ? pb : copysign(exp(2.0 * o->R + log(fabs(pb))), pb));
}

/* E_A, E_B, log_E_B, P_B at t from the vacuum. */
static void transient(const ep_sys *S, double t, double *out, uint32_t *status) {
  ep_traj o;
  traj_eval(S, t, &o);
  double ea = isnan(o.la) ? scaled_sq(o.a, o.R) : exp(o.la);
  double eb = isnan(o.lb) ? scaled_sq(o.b, o.R) : exp(o.lb);
  /* ln E_A only matters where E_A overflows (guard_t) */
  double la = !isnan(o.la) ? o.la : isinf(ea) ? 2.0 * o.R + logsq(o.a) : 0.0;
  double lb = isnan(o.lb) ? 2.0 * o.R + logsq(o.b) : o.lb;
  double lpb, pb = power_b(&o, lb, &lpb);
  out[F_EA] = guard_t(ea, la, 2.0 * o.ea, status);
  out[F_EB] = guard_t(eb, lb, 2.0 * o.eb, status);
  out[F_PB] = guard_t(pb, lpb, o.eb + o.edb, status);
  /* ln E_B: absolute error 2 eb, against its own size */
  if (2.0 * o.eb <= QB_EST_MAX * fmax(1.0, fabs(lb)) && (isfinite(lb) || (lb < 0 && eb == 0)))
    out[F_LOG_EB] = lb;
  else
    *status |= QB_PT_T_UNRESOLVED;
}

/* t_crit for the threshold energy Eth (E_max E_r^2), NaN with its bit where not determined. */
static double tcrit(const ep_sys *S, double Eth, uint32_t *status) {
  double tc = tcrit_exact(S, Eth, S->tol, status);
  /* E_B(t_crit) must be resolvable at t_crit (marginal points, t ~ 1/eps): checked with the
   * transient's own estimate where a crude bound on the exponents' rounding does not settle
   * it at once */
  double crude =
      2 * DBL_EPSILON * (16.0 + tc * (4.0 + fabs(S->s) + fabs(S->gb) + fabs(S->dr) + 3.0 * S->aw));
  if (!isfinite(tc) && !isnan(tc)) {
    *status |= EP_TCRIT_FAILED;
    return NAN;
  }
  if (!isnan(tc) && !(crude <= QB_EST_MAX / 64)) {
    ep_traj o;
    traj_eval(S, tc, &o);
    if (!(2.0 * o.eb <= QB_EST_MAX)) {
      *status |= EP_TCRIT_FAILED;
      return NAN;
    }
  }
  return tc;
}

/* The model's row kernel, along t (its points are rows of one; qb_model_eval_row has prepared
 * row 0 and checked p), p[P_T] ignored: the spectrum, steady state, t_crit and the
 * realizability once, then the transient at each x[j] into out[j * NFIELD + f]. */
static void row_t(const qb_model *m, const double *p, const double *x, int n, const bool *want,
                  double *out) {
  (void)m;
  uint32_t status = 0;
  double ga, gb, dr, base[NFIELD];
  resolve(p, &ga, &gb, &dr);
  const double Er = p[P_E_R], Emax = p[P_E_MAX];
  ep_sys S;
  sys_init(&S, ga, gb, dr, Er);
  steady(&S, spectrum(&S, out), out, &status);
  if (qb_model_wants(want, F_TCRIT)) out[F_TCRIT] = tcrit(&S, Emax * Er * Er, &status);
  if (qb_model_wants(want, F_TCRIT_APPROX))
    out[F_TCRIT_APPROX] = tcrit_eq33(&S, Emax * Er * Er, &status);
  out[F_REALIZABLE] = (ga >= 0 && gb >= 0 && ga * gb >= 1.0) ? 1 : 0;
  out[F_MARGIN] = ga * gb - 1.0;
  const bool trans = qb_model_wants(want, F_EA) || qb_model_wants(want, F_EB) ||
                     qb_model_wants(want, F_LOG_EB) || qb_model_wants(want, F_PB);
  if (n > 1) memcpy(base, out, sizeof base);
  for (int j = 0; j < n; j++) {
    double *o = out + (size_t)j * NFIELD;
    uint32_t st = status;
    if (j > 0) memcpy(o, base, sizeof base);
    if (trans) transient(&S, x[j], o, &st);
    o[F_STATUS] = st;
  }
}

/* (tr M)^2 - 4 det M = (mu+ - mu-)^2 = 4 w^2 = 4 (1 + (alpha + i delta_r)^2). */
static double complex disc(const qb_model *m, const double *p) {
  (void)m;
  double ga, gb, dr;
  resolve(p, &ga, &gb, &dr);
  double alpha = 0.5 * (ga - gb);
  return 4.0 * CMPLX((1.0 - dr) * (1.0 + dr) + alpha * alpha, 2.0 * alpha * dr);
}

/* Eigenvectors of N for +-w: (1, z +- w); they coincide at the EP w = 0. */
static void coalescence(const qb_model *m, const double *p, double *splitting, double *overlap) {
  (void)m;
  double ga, gb, dr;
  resolve(p, &ga, &gb, &dr);
  ep_sys S;
  sys_init(&S, ga, gb, dr, 1.0);
  double complex y1 = S.z + S.w, y2 = S.z - S.w;
  *splitting = 2.0 * S.aw;
  *overlap =
      cabs(1.0 + conj(y1) * y2) / sqrt((1.0 + qb_model_abs2(y1)) * (1.0 + qb_model_abs2(y2)));
}

const qb_model qb_model_ep = {
    .name = "ep",
    .doc =
        "EP paper's reduced two-mode model (docs/physics.md s1): a' = -(gamma_a + i delta_r) a + b "
        "+ E_r, b' = a - (gamma_b - i delta_r) b; time in 1/Gamma_eff, energies in E_r units "
        "squared",
    .nparams = NPARAM,
    .params = params,
    .nfields = NFIELD,
    .fields = fields,
    .nstatus = sizeof status_bits / sizeof *status_bits,
    .status_bits = status_bits,
    .boundary_field = F_GROWTH,
    .check_given = check_given,
    .eval = NULL, /* a point is a row of one */
    .eval_row = row_t,
    .row_axis = P_T,
    .disc = disc,
    .coalescence = coalescence,
};
