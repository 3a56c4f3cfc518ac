/* Model `threemode`:
 *   passivity  1e5 random microscopic points (rates log-uniform over 1e-4..1e3, 20% of each
 *              kappa set to 0, complex couplings, half with delta_c != 0): growth_rate <=
 *              1e-12 * scale and realizable_margin >= -1e-10;
 *   mapping    mu_ca = mu_cb, |mu| = 1, delta_c = 0: gamma_j = (k_j + G_j - |mu|^2 G_eff)/G_eff
 *              in the paper's halved rates, delta_r = delta/Gamma_eff (rtol 1e-12); the
 *              reduced model equals model `ep` at the mapped point (steady state rtol 1e-10,
 *              E_B(t) rtol 1e-9 with t in units of time_unit); delta_c != 0 splits the
 *              reduced detunings;
 *   transient  E_A, E_B vs GSL rk8pd (rtol 1e-8), steady state vs the transient at long t;
 *   reduction  steady-state elimination error is rounding-level (< 1e-10: the Schur complement
 *              is exact in steady state); the error at t falls like
 *              1/K_c (a factor 5..20 per decade of kappa_c).
 * Usage: test_threemode [passivity|mapping|transient|reduction|all] */
#include <complex.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "qb_test.h"
#include "qbmap/qb_model.h"

static const qb_model *M3, *MEP;

static int F(const char *name) {
  return qb_test_index(qb_model_field_index(M3, name), "field of model threemode", name);
}

static int P3(const char *name) {
  return qb_test_index(qb_model_param_index(M3, name), "parameter of model threemode", name);
}

static int PEP(const char *name) {
  return qb_test_index(qb_model_param_index(MEP, name), "parameter of model ep", name);
}

static int FEP(const char *name) {
  return qb_test_index(qb_model_field_index(MEP, name), "field of model ep", name);
}

typedef struct {
  const char *name;
  double v;
} kv;

/* Evaluates threemode with defaults plus the given assignments. */
static void eval3(const kv *set, int n, const bool *want, double *out) {
  double p[QB_MAX_PARAMS];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(M3, p, given);
  for (int i = 0; i < n; i++)
    p[P3(set[i].name)] = set[i].v;
  qb_model_eval(M3, p, want, out);
  uint32_t undeclared = (uint32_t)out[M3->nfields - 1] & ~qb_model_status_mask(M3);
  CHECK("status bits declared by the model", undeclared == 0, "bits %#x", undeclared);
}

static double lu(gsl_rng *r, double lo, double hi) {
  return exp(log(lo) + (log(hi) - log(lo)) * gsl_rng_uniform(r));
}

#define NRAND 14
static void random_point(gsl_rng *r, kv *s) {
  const char *names[NRAND] = {"kappa_a",   "kappa_b",   "kappa_c",    "Gamma",     "delta",
                              "delta_c",   "p_a",       "p_b",        "p_ca",      "p_cb",
                              "p_a_phase", "p_b_phase", "p_ca_phase", "p_cb_phase"};
  for (int i = 0; i < NRAND; i++)
    s[i].name = names[i];
  for (int i = 0; i < 4; i++)
    s[i].v = (i < 3 && gsl_rng_uniform(r) < 0.2) ? 0.0 : lu(r, 1e-4, 1e3);
  s[4].v = -10 + 20 * gsl_rng_uniform(r);
  s[5].v = gsl_rng_uniform(r) < 0.5 ? 0.0 : -10 + 20 * gsl_rng_uniform(r);
  for (int i = 6; i < 10; i++)
    s[i].v = lu(r, 0.1, 10);
  for (int i = 10; i < 14; i++)
    s[i].v = 6.283185307179586 * gsl_rng_uniform(r);
}

static void test_passivity(gsl_rng *r) {
  bool want[QB_MAX_FIELDS] = {false};
  want[F("growth_rate")] = want[F("realizable_margin")] = true;
  long n = 0, bad_g = 0, bad_m = 0, nodc = 0;
  double worst_g = -INFINITY, worst_m = INFINITY;
  for (; n < 100000; n++) {
    kv s[NRAND];
    random_point(r, s);
    double out[QB_MAX_FIELDS], scale = 0;
    eval3(s, NRAND, want, out);
    for (int i = 0; i < 6; i++)
      scale = fmax(scale, fabs(s[i].v));
    scale = fmax(scale, s[3].v * 100); /* Gamma |p|^2 with |p| <= 10 */
    double g = out[F("growth_rate")] / scale, m = out[F("realizable_margin")];
    worst_g = fmax(worst_g, g);
    if (!isnan(m)) worst_m = fmin(worst_m, m);
    if (s[5].v != 0) nodc++;
    if (!(g <= 1e-12)) bad_g++;
    if (!(m >= -1e-10)) bad_m++; /* NaN included: Gamma > 0, the reduction always exists */
  }
  printf("passivity: %ld points (%ld with delta_c != 0): max growth_rate/scale = %.3g, "
         "min realizable_margin = %.3g\n",
         n, nodc, worst_g, worst_m);
  CHECK("growth_rate <= 1e-12 scale at every point", bad_g == 0, "%ld of %ld", bad_g, n);
  CHECK("realizable_margin >= -1e-10 at every point", bad_m == 0, "%ld of %ld", bad_m, n);
}

static void eval_ep(double ga, double gb, double dr, double Er, double t, double *out) {
  double p[QB_MAX_PARAMS];
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(MEP, p, given);
  p[PEP("gamma_a")] = ga;
  p[PEP("gamma_b")] = gb;
  p[PEP("delta_r")] = dr;
  p[PEP("E_r")] = Er;
  p[PEP("t")] = t;
  qb_model_eval(MEP, p, NULL, out);
  uint32_t undeclared = (uint32_t)out[MEP->nfields - 1] & ~qb_model_status_mask(MEP);
  CHECK("status bits declared by the model", undeclared == 0, "bits %#x", undeclared);
}

static void test_ep_form(void);

static void test_mapping(gsl_rng *r) {
  for (int k = 0; k < 200; k++) {
    double ka = lu(r, 1e-3, 10), kb = lu(r, 1e-3, 10), kc = lu(r, 1e-2, 100);
    double G = lu(r, 1e-2, 10), d = -5 + 10 * gsl_rng_uniform(r), E = lu(r, 0.01, 1);
    /* mu_cj = p_c^j conj(p_j) = 1: p_ca = 1/conj(p_a), p_cb = 1/conj(p_b) */
    double ma = lu(r, 0.3, 3), mb = lu(r, 0.3, 3), pha = 6 * gsl_rng_uniform(r),
           phb = 6 * gsl_rng_uniform(r);
    double t = lu(r, 0.1, 50);
    kv s[] = {{"kappa_a", ka},     {"kappa_b", kb},    {"kappa_c", kc},
              {"Gamma", G},        {"delta", d},       {"p_a", ma},
              {"p_a_phase", pha},  {"p_ca", 1 / ma},   {"p_ca_phase", pha},
              {"p_b", mb},         {"p_b_phase", phb}, {"p_cb", 1 / mb},
              {"p_cb_phase", phb}, {"E", E},           {"t", t}};
    double out[QB_MAX_FIELDS];
    eval3(s, (int)(sizeof s / sizeof *s), NULL, out);
    double Kc = kc + G * (1 / (ma * ma) + 1 / (mb * mb)), Geff = G * G / (2 * Kc);
    /* the paper's convention: every rate halved, Gamma_eff = (G/2)^2/(K_c/2) */
    double ga_p = (ka / 2 + G / 2 * ma * ma - Geff) / Geff,
           gb_p = (kb / 2 + G / 2 * mb * mb - Geff) / Geff;
    const char *fmt = "k=%d ka=%g kb=%g kc=%g G=%g d=%g";
    CHECK_CLOSE("Gamma_eff", out[F("Gamma_eff")], Geff, 1e-12, 0, fmt, k, ka, kb, kc, G, d);
    CHECK_CLOSE("gamma_a_red = paper", out[F("gamma_a_red")], ga_p, 1e-12, 1e-12, fmt, k, ka, kb,
                kc, G, d);
    CHECK_CLOSE("gamma_b_red = paper", out[F("gamma_b_red")], gb_p, 1e-12, 1e-12, fmt, k, ka, kb,
                kc, G, d);
    CHECK_CLOSE("delta_r_red = delta/Gamma_eff", out[F("delta_r_red")], d / Geff, 1e-12, 1e-12, fmt,
                k, ka, kb, kc, G, d);
    CHECK_CLOSE("delta_r_b_red = delta_r_red at delta_c = 0", out[F("delta_r_b_red")],
                out[F("delta_r_red")], 1e-12, 1e-12, fmt, k, ka, kb, kc, G, d);
    CHECK_CLOSE("time_unit = 1/Gamma_eff at |mu| = 1", out[F("time_unit")], 1 / Geff, 1e-12, 0, fmt,
                k, ka, kb, kc, G, d);
    /* the reduced model is model ep at the mapped point, with E_r = E/|S_ab| */
    double oe[QB_MAX_FIELDS];
    double tu = out[F("time_unit")];
    eval_ep(out[F("gamma_a_red")], out[F("gamma_b_red")], out[F("delta_r_red")], E * tu, t / tu,
            oe);
    int ie = FEP("E_B_ss"), ig = FEP("growth_rate");
    int ib = FEP("E_B"), im = FEP("realizable_margin");
    CHECK_CLOSE("growth_rate_red = ep growth_rate / time_unit", out[F("growth_rate_red")],
                oe[ig] / tu, 1e-10, 1e-14 / tu, fmt, k, ka, kb, kc, G, d);
    CHECK_CLOSE("E_B_ss_red = ep E_B_ss", out[F("E_B_ss_red")], oe[ie], 1e-10, 0, fmt, k, ka, kb,
                kc, G, d);
    CHECK_CLOSE("E_B_red(t) = ep E_B(t/time_unit)", out[F("E_B_red")], oe[ib], 1e-9, 0, fmt, k, ka,
                kb, kc, G, d);
    CHECK_CLOSE("realizable_margin = ep realizable_margin", out[F("realizable_margin")], oe[im],
                1e-12, 1e-12, fmt, k, ka, kb, kc, G, d);
    /* a well-conditioned ordinary point: the ep form holds, no failure bit */
    uint32_t st = (uint32_t)out[F("status")];
    CHECK("delta_c = 0: bit not_ep_form clear", !(st & qb_model_status_bit(M3, "not_ep_form")), fmt,
          k, ka, kb, kc, G, d);
    CHECK("ordinary point: informational bits only", !(st & qb_model_failure_mask(M3)),
          "status %u; k=%d", st, k);
  }
  /* delta_c != 0: the two reduced detunings differ */
  kv s[] = {{"kappa_a", 0.1}, {"kappa_b", 0.1}, {"kappa_c", 1},
            {"Gamma", 1},     {"delta", 0.3},   {"delta_c", 0.5}};
  double out[QB_MAX_FIELDS];
  eval3(s, 6, NULL, out);
  CHECK("delta_c != 0 splits the reduced detunings",
        fabs(out[F("delta_r_b_red")] - out[F("delta_r_red")]) > 1e-3, "%g vs %g",
        out[F("delta_r_b_red")], out[F("delta_r_red")]);
  test_ep_form();
}

/* The status bit not_ep_form (docs/physics.md s2.4): clear at delta_c = 0 with real couplings,
 * where the mapped ep point reproduces growth_rate_red; set at delta_c != 0 (S_ab S_ba has the
 * phase -2 arg(K_c/2 + i delta_c)), where the mapped ep point does not. */
static void test_ep_form(void) {
  gsl_rng *r =
      gsl_rng_alloc(gsl_rng_mt19937); /* its own stream: the other parts' stay as they were */
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 1515);
  const uint32_t bit = qb_model_status_bit(M3, "not_ep_form");
  CHECK("threemode declares not_ep_form (bit 13), informational", bit == 1u << 13, "%#x", bit);
  long set0 = 0, clear1 = 0, n = 0, failing = 0;
  for (; n < 400; n++) {
    double ka = lu(r, 1e-3, 10), kb = lu(r, 1e-3, 10), kc = lu(r, 1e-2, 100), G = lu(r, 1e-2, 10);
    double pa = lu(r, 0.3, 3), pb = lu(r, 0.3, 3), pca = lu(r, 0.3, 3), pcb = lu(r, 0.3, 3);
    double Kc = kc + G * (pca * pca + pcb * pcb);
    /* odd n: |delta_c| >= K_c/10, a phase of S_ab S_ba of at least 0.2 */
    double dc = n % 2 ? (gsl_rng_uniform(r) < 0.5 ? -1 : 1) * lu(r, 0.1 * Kc, 10 * Kc) : 0.0;
    kv s[] = {{"kappa_a", ka},
              {"kappa_b", kb},
              {"kappa_c", kc},
              {"Gamma", G},
              {"delta", -5 + 10 * gsl_rng_uniform(r)},
              {"delta_c", dc},
              {"p_a", pa},
              {"p_b", pb},
              {"p_ca", pca},
              {"p_cb", pcb},
              {"t", 1}};
    double out[QB_MAX_FIELDS], oe[QB_MAX_FIELDS];
    eval3(s, (int)(sizeof s / sizeof *s), NULL, out);
    uint32_t st = (uint32_t)out[F("status")];
    if (st & qb_model_failure_mask(M3)) failing++;
    double tu = out[F("time_unit")];
    eval_ep(out[F("gamma_a_red")], out[F("gamma_b_red")], out[F("delta_r_red")], tu, 1 / tu, oe);
    double gred = out[F("growth_rate_red")], gep = oe[FEP("growth_rate")] / tu;
    if (dc == 0) {
      set0 += (st & bit) != 0;
      CHECK_CLOSE("delta_c = 0: mapped ep point's growth_rate = growth_rate_red", gep, gred, 1e-10,
                  1e-14 / tu, "n=%ld", n);
    } else {
      clear1 += (st & bit) == 0;
    }
  }
  CHECK("delta_c = 0, real couplings: not_ep_form clear at every point", set0 == 0, "%ld of %ld",
        set0, n / 2);
  CHECK("|delta_c| >= K_c/10: not_ep_form set at every point", clear1 == 0, "%ld of %ld", clear1,
        n / 2);
  CHECK("these ordinary points carry no failure bit", failing == 0, "%ld of %ld", failing, n);
  /* the example: the mapped ep point's growth rate is not the reduced model's */
  kv s[] = {{"kappa_a", 0.1}, {"kappa_b", 0.1}, {"kappa_c", 1},
            {"Gamma", 1},     {"delta", 0.3},   {"delta_c", 0.5}};
  double out[QB_MAX_FIELDS], oe[QB_MAX_FIELDS];
  eval3(s, 6, NULL, out);
  double tu = out[F("time_unit")];
  eval_ep(out[F("gamma_a_red")], out[F("gamma_b_red")], out[F("delta_r_red")], tu, 0, oe);
  double gred = out[F("growth_rate_red")], gep = oe[FEP("growth_rate")] / tu;
  printf("ep_form: delta_c = 0.5: growth_rate_red %.10g, mapped ep point %.10g\n", gred, gep);
  CHECK("delta_c = 0.5: not_ep_form set", ((uint32_t)out[F("status")] & bit) != 0, "status %g",
        out[F("status")]);
  CHECK("delta_c = 0.5: the mapped ep point's growth rate differs (> 1e-3 relative)",
        fabs(gep - gred) > 1e-3 * fabs(gred), "%.17g vs %.17g", gep, gred);
  gsl_rng_free(r);
}

/* ODE reference for (a, b, c) */
typedef struct {
  double complex M[9], f[3];
} lin3;

static int rhs3(double t, const double y[], double dy[], void *params) {
  (void)t;
  const lin3 *L = params;
  for (int i = 0; i < 3; i++) {
    double complex s = L->f[i];
    for (int j = 0; j < 3; j++)
      s += L->M[3 * i + j] * CMPLX(y[2 * j], y[2 * j + 1]);
    dy[2 * i] = creal(s);
    dy[2 * i + 1] = cimag(s);
  }
  return GSL_SUCCESS;
}

static void test_transient(gsl_rng *r) {
  int nlong = 0;
  for (int k = 0; k < 100; k++) {
    kv s[NRAND + 2];
    random_point(r, s);
    for (int i = 0; i < 4; i++)
      s[i].v = lu(r, 0.01, 3); /* moderate rates for the ODE */
    s[4].v = -3 + 6 * gsl_rng_uniform(r);
    s[5].v = -3 + 6 * gsl_rng_uniform(r);
    for (int i = 6; i < 10; i++)
      s[i].v = lu(r, 0.3, 3);
    double t = lu(r, 0.01, 30);
    s[NRAND] = (kv){"t", t};
    s[NRAND + 1] = (kv){"E", 0.7};
    double out[QB_MAX_FIELDS];
    eval3(s, NRAND + 2, NULL, out);
    /* the same drift, built here independently from the parameters */
    lin3 L = {.f = {-0.7 * I, 0, 0}};
    double complex pa = s[6].v * cexp(I * s[10].v), pb = s[7].v * cexp(I * s[11].v);
    double complex pca = s[8].v * cexp(I * s[12].v), pcb = s[9].v * cexp(I * s[13].v);
    double complex va[3] = {pa, 0, pca}, vb[3] = {0, pb, pcb};
    double kap[3] = {s[0].v, s[1].v, s[2].v}, dd[3] = {s[4].v, -s[4].v, s[5].v};
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        L.M[3 * i + j] =
            -0.5 * (s[3].v * (conj(va[i]) * va[j] + conj(vb[i]) * vb[j]) + (i == j ? kap[i] : 0)) -
            (i == j ? I * dd[i] : 0);
    gsl_odeiv2_system sys = {rhs3, NULL, 6, &L};
    gsl_odeiv2_driver *d =
        gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd, 1e-6, 1e-14, 1e-14);
    QB_SETUP_ALLOC(d);
    double tt = 0, y[6] = {0};
    int rc = gsl_odeiv2_driver_apply(d, &tt, t, y);
    gsl_odeiv2_driver_free(d);
    CHECK("ODE integration", rc == GSL_SUCCESS, "k=%d", k);
    const char *fmt = "k=%d t=%g";
    CHECK_CLOSE("E_A vs ODE", out[F("E_A")], y[0] * y[0] + y[1] * y[1], 1e-8, 0, fmt, k, t);
    CHECK_CLOSE("E_B vs ODE", out[F("E_B")], y[2] * y[2] + y[3] * y[3], 1e-8, 0, fmt, k, t);
    /* steady state = long-time transient */
    double g = out[F("growth_rate")];
    CHECK("growth_rate finite and negative (passive)", g < 0, "k=%d g=%g", k, g);
    if (g < -0.05) {
      nlong++;
      kv s2[NRAND + 2];
      memcpy(s2, s, sizeof s2);
      s2[NRAND].v = 60 / -g;
      double o2[QB_MAX_FIELDS];
      eval3(s2, NRAND + 2, NULL, o2);
      CHECK_CLOSE("E_B_ss = E_B(t -> inf)", out[F("E_B_ss")], o2[F("E_B")], 1e-10, 0, fmt, k,
                  s2[NRAND].v);
      CHECK_CLOSE("E_A_ss = E_A(t -> inf)", out[F("E_A_ss")], o2[F("E_A")], 1e-10, 0, fmt, k,
                  s2[NRAND].v);
    }
  }
  printf("transient: 100 points vs the ODE, %d vs the long-time transient\n", nlong);
  CHECK("enough long-time comparisons", nlong >= 60, "%d", nlong);
}

static void test_reduction(void) {
  double prev = NAN;
  int ratios = 0;
  for (double kc = 1; kc <= 1e5; kc *= 10) {
    kv s[] = {{"kappa_a", 0.01}, {"kappa_b", 0.01}, {"kappa_c", kc}, {"Gamma", 1}, {"p_a", 0.1},
              {"p_b", 0.1},      {"delta", 0.02},   {"E", 0.01},     {"t", 1}};
    double out[QB_MAX_FIELDS];
    eval3(s, 9, NULL, out);
    double e = out[F("elimination_error_t")];
    printf("reduction: kappa_c = %-6g K_c/Gamma_eff = %-10.4g elimination_error_t = %.4g, "
           "steady state %.2g\n",
           kc, (kc + 2) / out[F("Gamma_eff")], e, out[F("elimination_error")]);
    CHECK("steady-state elimination error is rounding-level", out[F("elimination_error")] < 1e-10,
          "kc=%g: %g", kc, out[F("elimination_error")]);
    if (!isnan(prev) && kc >= 100) {
      CHECK("elimination error falls like 1/K_c", prev / e > 5 && prev / e < 20, "kc=%g ratio %g",
            kc, prev / e);
      ratios++;
    }
    prev = e;
  }
  CHECK("4 decades of kappa_c compared", ratios == 4, "%d", ratios);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  const char *which = qb_test_select(argc, argv);
  M3 = qb_model_find("threemode");
  MEP = qb_model_find("ep");
  if (!M3 || !MEP) QB_SETUP_FATAL("model threemode or ep not found");
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  QB_SETUP_ALLOC(r);
  gsl_rng_set(r, 4242);
  QB_PART("passivity", test_passivity(r));
  QB_PART("mapping", test_mapping(r));
  QB_PART("transient", test_transient(r));
  QB_PART("reduction", test_reduction());
  gsl_rng_free(r);
  return qb_test_report(which);
}
