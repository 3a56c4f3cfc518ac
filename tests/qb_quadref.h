/* The __float128 reference of the C tests (test_rows_hostile, test_network): x(t) of
 * x' = M x + f from x(0) = 0 as the last column of exp([[M, f], [0, 0]] t) (scaling and squaring
 * of a 40-term Taylor series in quad), and the drifts of the models shared and threemode built
 * in quad from their parameters.  Header-only, for tests; needs quadmath and, before it,
 * qb_model.h, qb_test.h and a pidx(m, name) that returns the parameter index. */
#ifndef QB_QUADREF_H
#define QB_QUADREF_H

#include <quadmath.h>
#include <string.h>

#define NMAX 4
#define P(name) p[pidx(m, name)]

typedef __float128 qr;
typedef __complex128 qc;
#define QI (__extension__ 1.0iQ) /* the imaginary unit in quad (a GCC extension) */

static qr qabs(qc z) {
  return hypotq(crealq(z), cimagq(z));
}

/* exp(A) for N x N, row-major, scaling and squaring with Taylor degree 40. */
static void qexpm(int N, const qc *A, qc *E) {
  qr nrm = 0;
  for (int i = 0; i < N; i++) {
    qr s = 0;
    for (int j = 0; j < N; j++)
      s += qabs(A[i * N + j]);
    if (s > nrm) nrm = s;
  }
  int sq = 0;
  qr sc = 1;
  while (nrm * sc > (qr)0.25)
    sc *= (qr)0.5, sq++;
  qc B[NMAX * NMAX], T[NMAX * NMAX], P[NMAX * NMAX];
  for (int i = 0; i < N * N; i++)
    B[i] = A[i] * sc, E[i] = (i % (N + 1) == 0) ? 1 : 0, T[i] = E[i];
  for (int k = 1; k <= 40; k++) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        qc s = 0;
        for (int l = 0; l < N; l++)
          s += T[i * N + l] * B[l * N + j];
        P[i * N + j] = s / k;
      }
    for (int i = 0; i < N * N; i++)
      T[i] = P[i], E[i] += P[i];
  }
  for (int q = 0; q < sq; q++) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        qc s = 0;
        for (int l = 0; l < N; l++)
          s += E[i * N + l] * E[l * N + j];
        P[i * N + j] = s;
      }
    memcpy(E, P, sizeof(qc) * (size_t)(N * N));
  }
}

/* x(t), x'(t) of x' = M x + f, x(0) = 0 (n <= 3).  f is scaled to M's size first (x is linear
 * in f): the squarings are set by |M| t alone, each amplifying the rounding by 2 (so the
 * reference is good only where eps_q |M| t is small or the modes have decayed; where not, its
 * two versions, from M and from M rounded to double, disagree and the point is not judged). */
static void qref(int n, const qc *M, const qc *f, qr t, qc *x, qc *dx) {
  const int N = n + 1;
  qc A[NMAX * NMAX] = {0}, E[NMAX * NMAX];
  qr nm = 0, nf = 0;
  for (int i = 0; i < n; i++) {
    nf = fmaxq(nf, qabs(f[i]));
    for (int j = 0; j < n; j++)
      nm = fmaxq(nm, qabs(M[i * n + j]));
  }
  const qr sc = nf > 0 ? (nm > 0 ? nm : 1) / nf : 1;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < n; j++)
      A[i * N + j] = M[i * n + j] * t;
    A[i * N + n] = f[i] * sc * t;
  }
  qexpm(N, A, E);
  for (int i = 0; i < n; i++)
    x[i] = E[i * N + n] / sc;
  for (int i = 0; i < n; i++) { /* x' = e^{Mt} f (not M x + f: no cancellation) */
    qc s = 0;
    for (int j = 0; j < n; j++)
      s += E[i * N + j] * f[j];
    dx[i] = s;
  }
}

static qc qpolar(qr r, qr ph) {
  return r * cosq(ph) + r * sinq(ph) * QI;
}

/* shared's drift (docs/physics.md §3) and f in quad (dbl: from the double-rounded parts). */
static void shared_drift(const qb_model *m, const double *p, int dbl, qc *M, qc *f) {
  qc J, pa, pb;
  if (dbl) {
    J = P("J") * cexp(I * P("phi"));
    pa = P("p_a") * cexp(I * P("p_a_phase"));
    pb = P("p_b") * cexp(I * P("p_b_phase"));
  } else {
    J = qpolar(P("J"), P("phi"));
    pa = qpolar(P("p_a"), P("p_a_phase"));
    pb = qpolar(P("p_b"), P("p_b_phase"));
  }
  qr G = P("Gamma"), D = P("Delta");
  qc mu = -pb * conjq(pa);
  qr gA = G * crealq(pa * conjq(pa)) + (qr)P("kappa_a");
  qr gB = G * crealq(pb * conjq(pb)) + (qr)P("kappa_b");
  M[0] = -(qr)0.5 * gA - QI * D;
  M[1] = -QI * (J + QI * mu * G / 2);
  M[2] = -QI * (conjq(J) + QI * conjq(mu) * G / 2);
  M[3] = -(qr)0.5 * gB - QI * D;
  if (dbl)
    for (int i = 0; i < 4; i++)
      M[i] = (double complex)M[i];
  f[0] = -QI * (qr)P("F");
  f[1] = 0;
}

/* threemode's drift (docs/physics.md §2) and f in quad. */
static void three_drift(const qb_model *m, const double *p, int dbl, qc *M, qc *f) {
  static const char *cp[4] = {"p_a", "p_b", "p_ca", "p_cb"};
  qc c[4];
  for (int k = 0; k < 4; k++) {
    char ph[32];
    snprintf(ph, sizeof ph, "%s_phase", cp[k]);
    c[k] = dbl ? (qc)(P(cp[k]) * cexp(I * P(ph))) : qpolar(P(cp[k]), P(ph));
  }
  qc va[3] = {c[0], 0, c[2]}, vb[3] = {0, c[1], c[3]};
  qr kap[3] = {P("kappa_a"), P("kappa_b"), P("kappa_c")};
  qr det[3] = {P("delta"), -(qr)P("delta"), P("delta_c")};
  qr G = P("Gamma");
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      M[3 * i + j] =
          -(qr)0.5 * (G * (conjq(va[i]) * va[j] + conjq(vb[i]) * vb[j]) + (i == j ? kap[i] : 0)) -
          (i == j ? QI * det[i] : 0);
      if (dbl) M[3 * i + j] = (double complex)M[3 * i + j];
    }
  f[0] = -QI * (qr)P("E");
  f[1] = f[2] = 0;
}

#endif
