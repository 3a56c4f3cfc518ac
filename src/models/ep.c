/* Model `ep`: the EP paper's reduced two-mode model (PHYSICS.md §1).
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
 * final E_B = |b|^2, and log_E_B = 2R + ln|b e^{-R}|^2 stays finite. */
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

/* Regime codes (field `regime`): base value, plus REGIME_EP_FLAG at an EP. */
enum { REGIME_STABLE = 0, REGIME_MARGINAL = 1, REGIME_GROWING = 2, REGIME_EP_FLAG = 4 };

/* Relative tolerances that define `regime`: marginal where |growth| <= TOL_GROWTH (1+|s|+|w|),
 * EP where |w^2| <= TOL_EP (1 + |z|^2). */
#define TOL_GROWTH 1e-12
#define TOL_EP 1e-12

static const qb_param params[NPARAM] = {
    [P_DELTA_R] = {"delta_r", NAN, QB_ANY, false, "1", "normalized detuning delta/Gamma_eff"},
    [P_ALPHA] = {"alpha", NAN, QB_ANY, true, "1",
                 "damping asymmetry (gamma_a - gamma_b)/2; give alpha or gamma_a, not both"},
    [P_GAMMA_A] = {"gamma_a", NAN, QB_ANY, true, "1",
                   "charger damping in Gamma_eff; give alpha or gamma_a, not both"},
    [P_GAMMA_B] = {"gamma_b", NAN, QB_ANY, false, "1", "battery damping in Gamma_eff"},
    [P_E_R] = {"E_r", 1.0, QB_POSITIVE, false, "1",
               "drive amplitude E/Gamma_eff (energies scale as E_r^2)"},
    [P_E_MAX] = {"E_max", 1000.0, QB_POSITIVE, false, "1",
                 "safety threshold for t_crit in units of E_r^2 (threshold energy E_max E_r^2)"},
    [P_T] = {"t", 0.0, QB_NONNEG, false, "1",
             "time since the drive was switched on, in 1/Gamma_eff"},
};

static const qb_field fields[NFIELD] = {
    [F_GROWTH] = {"growth_rate", QB_F64, "1", "Re[-i lambda_+] = max Re eig(M), in Gamma_eff"},
    [F_LP_RE] = {"lambda_plus_re", QB_F64, "1", "Re lambda_+ (eigenvalue of H_r, Eq. 21)"},
    [F_LP_IM] = {"lambda_plus_im", QB_F64, "1", "Im lambda_+ (= growth_rate)"},
    [F_LM_RE] = {"lambda_minus_re", QB_F64, "1", "Re lambda_-"},
    [F_LM_IM] = {"lambda_minus_im", QB_F64, "1", "Im lambda_-"},
    [F_SPLIT] = {"splitting", QB_F64, "1", "|lambda_+ - lambda_-| = 2|Omega| (0 at an EP)"},
    [F_REGIME] = {"regime", QB_I32, "1",
                  "0 stable (growth < -tol), 1 marginal (|growth| <= tol), 2 growing "
                  "(growth > tol), +4 at an EP (|1+(alpha+i delta_r)^2| <= 1e-12 (1+|alpha+i "
                  "delta_r|^2)); tol = 1e-12 (1 + |s| + |Omega|), s = alpha + gamma_b"},
    [F_EA_SS] = {"E_A_ss", QB_F64, "1",
                 "steady-state charger energy E_r^2 (gb^2+dr^2)/|Pi|^2 "
                 "(NaN unless stable)"},
    [F_EB_SS] = {"E_B_ss", QB_F64, "1",
                 "steady-state battery energy E_r^2/|Pi|^2 (NaN unless "
                 "stable)"},
    [F_EA] = {"E_A", QB_F64, "1", "charger energy |a(t)|^2 at time t, from vacuum"},
    [F_EB] = {"E_B", QB_F64, "1", "battery energy |b(t)|^2 at time t, from vacuum"},
    [F_LOG_EB] = {"log_E_B", QB_F64, "1", "ln E_B(t), finite where E_B overflows (-inf at t=0)"},
    [F_PB] = {"P_B", QB_F64, "1", "battery power dE_B/dt at time t"},
    [F_TCRIT] = {"t_crit", QB_F64, "1",
                 "first t > 0 with E_B(t) = E_max (exact: rigorous forward scan + Newton), "
                 "in 1/Gamma_eff"},
    [F_TCRIT_APPROX] = {"t_crit_approx", QB_F64, "1",
                        "Eq. 33 as printed (alpha = 0, |delta_r| < 1, growth > 0 only)"},
    [F_REALIZABLE] = {"realizable", QB_I32, "1",
                      "1 if gamma_a >= 0, gamma_b >= 0 and gamma_a gamma_b >= 1 (reachable by a "
                      "passive reservoir), else 0"},
    [F_MARGIN] = {"realizable_margin", QB_F64, "1",
                  "gamma_a gamma_b - 1 (>= 0 on the realizable side; its zero line bounds the "
                  "region a passive reservoir can reach)"},
    [F_STATUS] = {"status", QB_I32, "1", "bitmask of point status flags (see qbmap models)"},
};

static qb_err check_given(const bool *given, char *msg, size_t size) {
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
} ep_sys;

/* x(t) e^{-R} and x'(t) e^{-R}. */
typedef struct {
  double complex a, b, da, db;
  double R;
} ep_traj;

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
  if (!(kB < kA)) {
    o->b = S->Er * (eR - g) / S->detM;
    o->a = S->Er *
           ((S->s - S->z) * eR + (S->z - S->s) * Ct - (S->z * S->z - S->s * S->z + 1.0) * St) /
           S->detM;
  } else {
    double complex dd = t * (pp - pm) / (2.0 * h); /* (phi1(a+) - phi1(a-))/(2w), scaled */
    o->b = S->Er * t * dd;
    o->a = S->Er * t * (0.5 * (pp + pm) - S->z * dd);
  }
}

static void traj_eval(const ep_sys *S, double t, ep_traj *o) {
  if (t == 0) {
    o->a = o->b = 0;
    o->da = S->Er;
    o->db = 0;
    o->R = 0;
    return;
  }
  if (S->aw2 * t * t <= 1.0 && fabs(S->s * t) <= 25.0)
    traj_series(S, t, o);
  else
    traj_expo(S, t, o);
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
  return 2.0 * o.R + log(m);
}

/* ln E_B(t) and its t-derivative from the eigen-expansion b = b_ss + D+ e^{mu+ t} + D- e^{mu- t},
 * scaled by e^{-g t}.  Only used where it is well conditioned (see tcrit_growing). */
typedef struct {
  double complex bss, dp, dm, mp, mm;
  double abss, adp, adm, amp, amm; /* their moduli */
  double g;                        /* max(growth, 0): the scale factor's rate */
} ep_eig;

/* The eigen-expansion; 0 (none) near the EP or where det M = 0. */
static int eig_init(const ep_sys *S, ep_eig *E) {
  if (!(S->aw > 1e-6 * (1.0 + fabs(S->s))) || !(S->adet > 0)) return 0;
  double complex h = 0.5 / S->detM;                        /* 1/(2 det M) */
  double complex sw = S->s * conj(S->w) / (S->aw * S->aw); /* s/w */
  E->bss = 2.0 * S->Er * h;
  E->dp = -S->Er * (1.0 + sw) * h;
  E->dm = -S->Er * (1.0 - sw) * h;
  E->mp = -S->s + S->w;
  E->mm = -S->s - S->w;
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
  B->rp = S->growth;
  B->rm = -S->s - creal(S->w);
  B->k2 = S->aw - S->s;
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
static double sq(double complex z) {
  return creal(z) * creal(z) + cimag(z) * cimag(z);
}

/* e^{x + iy} from exp and sin/cos (cexp's special-value handling is not needed here). */
static double complex expi(double x, double y) {
  double e = exp(x);
  return CMPLX(e * cos(y), e * sin(y));
}

static double log_eb_fast(const ep_sys *S, const ep_eig *E, double t, double *dlog) {
  if (E) {
    double R = E->g * t;
    double complex ep = expi(creal(E->mp) * t - R, cimag(E->mp) * t);
    double complex em = expi(creal(E->mm) * t - R, cimag(E->mm) * t);
    double complex b0 = E->bss * exp(-R), bp = E->dp * ep, bm = E->dm * em;
    double complex b = b0 + bp + bm;
    double m = sq(b);
    /* (|b0| + |bp| + |bm|)^2 <= 3 (|b0|^2 + |bp|^2 + |bm|^2) < 1e6 |b|^2 */
    if (3.0 * (sq(b0) + sq(bp) + sq(bm)) < 1e6 * m) {
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
    *status |= QB_PT_TCRIT_FAILED;
    return NAN;
  }

  double mu = fmax(mag(-S->s + S->w), mag(-S->s - S->w));
  double dt0 = 0.25 / fmax(mu, 1e-300);
  double wi = fabs(cimag(S->w));
  double dt_osc = wi > 0 ? 0.2 / wi : INFINITY;
  double f = t > 0 ? log_eb_fast(S, E, t, NULL) - lmax : -INFINITY;
  double ta = 0, tb = NAN;
  for (int k = 0; k < TCRIT_MAX_STEPS; k++) {
    if (bound_b_future(S, &B, t) < smax) {
      *status |= QB_PT_TCRIT_NEVER;
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
    *status |= QB_PT_TCRIT_FAILED;
    return NAN;
  }
  return tcrit_refine(S, E, lmax, ta, tb, tb);
}

/* Eq. 33 exactly as printed, with Eq. 32's E_scale (alpha = 0: gamma = gamma_b). */
static double tcrit_eq33(const ep_sys *S, double Emax, uint32_t *status) {
  if (!(fabs(S->alpha) <= 1e-12 * (1.0 + fabs(S->gb)) && fabs(S->dr) < 1.0 && S->growth > 0)) {
    *status |= QB_PT_APPROX_OUTSIDE;
    return NAN;
  }
  double g = S->gb, om = sqrt((1.0 - S->dr) * (1.0 + S->dr));
  double K = S->dr * S->dr + g * g - 1.0;
  double q = (g + om) / om;
  double escale = S->Er * S->Er / (4.0 * K * K) * q * q;
  double tc = log(Emax / escale) / (2.0 * (om - g));
  if (!(Emax > escale) || !(tc > 0)) *status |= QB_PT_APPROX_UNRELIABLE;
  return tc;
}

/* gamma_a from alpha or gamma_a; the rest as given. */
static void resolve(const double *p, double *ga, double *gb, double *dr) {
  *gb = p[P_GAMMA_B];
  *ga = isnan(p[P_GAMMA_A]) ? *gb + 2.0 * p[P_ALPHA] : p[P_GAMMA_A];
  *dr = p[P_DELTA_R];
}

static void eval(const double *p, const bool *want, double *out) {
  uint32_t status = 0;
  for (int i = 0; i < NFIELD; i++)
    out[i] = NAN;
  double ga, gb, dr;
  resolve(p, &ga, &gb, &dr);
  double Er = p[P_E_R], Emax = p[P_E_MAX], t = p[P_T];
  if (!isfinite(ga) || !isfinite(gb) || !isfinite(dr) || !(Er > 0) || !isfinite(Er) ||
      !(Emax > 0) || !isfinite(Emax) || !(t >= 0) || !isfinite(t)) {
    out[F_STATUS] = QB_PT_BAD_PARAM;
    return;
  }
  ep_sys S;
  sys_init(&S, ga, gb, dr, Er);

  double aw = S.aw;
  out[F_GROWTH] = S.growth;
  out[F_LP_RE] = 0.0 - cimag(S.w); /* +0, not -0, on the real axis */
  out[F_LP_IM] = S.growth;
  out[F_LM_RE] = cimag(S.w);
  out[F_LM_IM] = -S.s - creal(S.w);
  out[F_SPLIT] = 2.0 * aw;

  double tol = TOL_GROWTH * (1.0 + fabs(S.s) + aw);
  int regime =
      S.growth > tol ? REGIME_GROWING : (S.growth < -tol ? REGIME_STABLE : REGIME_MARGINAL);
  if (S.aw2 <= TOL_EP * (1.0 + creal(S.z) * creal(S.z) + cimag(S.z) * cimag(S.z)))
    regime |= REGIME_EP_FLAG;
  out[F_REGIME] = regime;

  if ((regime & 3) == REGIME_STABLE) {
    double pi2 = creal(S.detM) * creal(S.detM) + cimag(S.detM) * cimag(S.detM);
    out[F_EB_SS] = Er * Er / pi2;
    out[F_EA_SS] = Er * Er * (gb * gb + dr * dr) / pi2;
  } else {
    status |= QB_PT_NOT_STABLE;
  }

#define WANT(f) (!want || want[f])
  if (WANT(F_EA) || WANT(F_EB) || WANT(F_LOG_EB) || WANT(F_PB)) {
    ep_traj o;
    traj_eval(&S, t, &o);
    out[F_EA] = scaled_sq(o.a, o.R);
    out[F_EB] = scaled_sq(o.b, o.R);
    double mb = creal(o.b) * creal(o.b) + cimag(o.b) * cimag(o.b);
    out[F_LOG_EB] = 2.0 * o.R + log(mb);
    double pb = 2.0 * creal(conj(o.b) * o.db);
    out[F_PB] = o.R == 0 ? pb : copysign(exp(2.0 * o.R + log(fabs(pb))), pb);
    if (isinf(out[F_EA]) || isinf(out[F_EB]) || isinf(out[F_PB])) status |= QB_PT_OVERFLOW;
  }
  if (WANT(F_TCRIT)) out[F_TCRIT] = tcrit_exact(&S, Emax * Er * Er, tol, &status);
  if (WANT(F_TCRIT_APPROX)) out[F_TCRIT_APPROX] = tcrit_eq33(&S, Emax * Er * Er, &status);
#undef WANT
  out[F_REALIZABLE] = (ga >= 0 && gb >= 0 && ga * gb >= 1.0) ? 1 : 0;
  out[F_MARGIN] = ga * gb - 1.0;
  out[F_STATUS] = status;
}

/* (tr M)^2 - 4 det M = (mu+ - mu-)^2 = 4 w^2 = 4 (1 + (alpha + i delta_r)^2). */
static double complex disc(const double *p) {
  double ga, gb, dr;
  resolve(p, &ga, &gb, &dr);
  double alpha = 0.5 * (ga - gb);
  return 4.0 * CMPLX((1.0 - dr) * (1.0 + dr) + alpha * alpha, 2.0 * alpha * dr);
}

/* Eigenvectors of N for +-w: (1, z +- w); they coincide at the EP w = 0. */
static void coalescence(const double *p, double *splitting, double *overlap) {
  double ga, gb, dr;
  resolve(p, &ga, &gb, &dr);
  ep_sys S;
  sys_init(&S, ga, gb, dr, 1.0);
  double complex y1 = S.z + S.w, y2 = S.z - S.w;
  *splitting = 2.0 * S.aw;
  *overlap = cabs(1.0 + conj(y1) * y2) / sqrt((1.0 + sq(y1)) * (1.0 + sq(y2)));
}

const qb_model qb_model_ep = {
    .name = "ep",
    .doc = "EP paper's reduced two-mode model (PHYSICS.md s1): a' = -(gamma_a + i delta_r) a + b "
           "+ E_r, b' = a - (gamma_b - i delta_r) b; time in 1/Gamma_eff, energies in E_r units "
           "squared",
    .nparams = NPARAM,
    .params = params,
    .nfields = NFIELD,
    .fields = fields,
    .check_given = check_given,
    .eval = eval,
    .disc = disc,
    .coalescence = coalescence,
};
