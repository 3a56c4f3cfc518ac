#include "qbmap/qb_model.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

extern const qb_model qb_model_ep, qb_model_threemode, qb_model_shared;

const qb_model *const qb_models[] = {&qb_model_ep, &qb_model_threemode, &qb_model_shared, NULL};

const qb_model *qb_model_find(const char *name) {
  for (int i = 0; qb_models[i]; i++)
    if (strcmp(qb_models[i]->name, name) == 0) return qb_models[i];
  return NULL;
}

void qb_model_free(const qb_model *m) {
  if (m && m->free) m->free(m);
}

int qb_model_param_index(const qb_model *m, const char *name) {
  for (int i = 0; i < m->nparams; i++)
    if (strcmp(m->params[i].name, name) == 0) return i;
  return -1;
}

int qb_model_field_index(const qb_model *m, const char *name) {
  for (int i = 0; i < m->nfields; i++)
    if (strcmp(m->fields[i].name, name) == 0) return i;
  return -1;
}

uint32_t qb_model_status_mask(const qb_model *m) {
  uint32_t all = 0;
  for (int i = 0; i < m->nstatus; i++)
    all |= m->status_bits[i].mask;
  return all;
}

uint32_t qb_model_status_bit(const qb_model *m, const char *word) {
  for (int i = 0; i < m->nstatus; i++) {
    const char *w = qb_pt_bit_word(&m->status_bits[i]);
    if (w && strcmp(w, word) == 0) return m->status_bits[i].mask;
  }
  return 0;
}

uint32_t qb_model_failure_mask(const qb_model *m) {
  return qb_pt_failure_mask(m->status_bits, m->nstatus);
}

/* The allowed interval of a parameter, in words: "-1e+06 <= delta_r <= 1e+06". */
static void allowed_words(const qb_param *p, char *buf, size_t size) {
  if (p->range == QB_POSITIVE) {
    if (p->min > 0 && p->max > 0)
      snprintf(buf, size, "%g <= %s <= %g", p->min, p->name, p->max);
    else if (p->max > 0)
      snprintf(buf, size, "0 < %s <= %g", p->name, p->max);
    else
      snprintf(buf, size, "%s > 0", p->name);
  } else if (p->range == QB_NONNEG) {
    if (p->max > 0)
      snprintf(buf, size, "0 <= %s <= %g", p->name, p->max);
    else
      snprintf(buf, size, "%s >= 0", p->name);
  } else if (p->max > 0) {
    snprintf(buf, size, "%g <= %s <= %g", -p->max, p->name, p->max);
  } else {
    snprintf(buf, size, "a finite number");
  }
}

static int value_ok(const qb_param *p, double v) {
  if (!isfinite(v)) return 0;
  if (p->range == QB_NONNEG && v < 0) return 0;
  if (p->range == QB_POSITIVE && !(v > 0)) return 0;
  if (p->max > 0 && !(fabs(v) <= p->max)) return 0;
  if (p->range == QB_POSITIVE && p->min > 0 && !(v >= p->min)) return 0;
  return 1;
}

/* Value v of parameter p as a kernel may see it: valid, or NaN for one of a group not given. */
static bool param_ok(const qb_param *p, double v) {
  return (isnan(v) && p->alternative) || value_ok(p, v);
}

bool qb_model_params_valid(const qb_param *params, int n, const double *p) {
  for (int i = 0; i < n; i++)
    if (!param_ok(&params[i], p[i])) return false;
  return true;
}

qb_err qb_model_check_value(const qb_model *m, int i, double v, char *msg, size_t size) {
  const qb_param *p = &m->params[i];
  char allowed[160];
  allowed_words(p, allowed, sizeof allowed);
  if (!isfinite(v)) {
    snprintf(msg, size, "parameter '%s' = %g is not finite; allowed: a finite number", p->name, v);
    return QB_ECONFIG;
  }
  if (p->range == QB_NONNEG && v < 0) {
    snprintf(msg, size, "parameter '%s' = %.17g is negative; allowed: %s >= 0", p->name, v,
             p->name);
    return QB_ECONFIG;
  }
  if (p->range == QB_POSITIVE && !(v > 0)) {
    snprintf(msg, size, "parameter '%s' = %.17g is not positive; allowed: %s > 0", p->name, v,
             p->name);
    return QB_ECONFIG;
  }
  if (!value_ok(p, v)) {
    snprintf(msg, size,
             "parameter '%s' = %.17g is outside the range where the kernels are verified; "
             "allowed: %s",
             p->name, v, allowed);
    return QB_ECONFIG;
  }
  return QB_OK;
}

void qb_model_defaults(const qb_model *m, double *p, bool *given) {
  for (int i = 0; i < m->nparams; i++) {
    p[i] = m->params[i].def;
    given[i] = false;
  }
}

qb_err qb_model_check_given(const qb_model *m, const bool *given, char *msg, size_t size) {
  for (int i = 0; i < m->nparams; i++)
    if (!given[i] && isnan(m->params[i].def) && !m->params[i].alternative) {
      snprintf(msg, size, "parameter '%s' is required (no default)", m->params[i].name);
      return QB_ECONFIG;
    }
  return m->check_given ? m->check_given(m, given, msg, size) : QB_OK;
}

static void join_names(int n, const char *(*name)(const qb_model *, int), const qb_model *m,
                       char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used < size; i++) {
    int k = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", name(m, i));
    used += k > 0 ? (size_t)k : 0;
  }
}

static const char *param_name(const qb_model *m, int i) {
  return m->params[i].name;
}
static const char *field_name(const qb_model *m, int i) {
  return m->fields[i].name;
}

void qb_model_param_names(const qb_model *m, char *buf, size_t size) {
  join_names(m->nparams, param_name, m, buf, size);
}

void qb_model_field_names(const qb_model *m, char *buf, size_t size) {
  join_names(m->nfields, field_name, m, buf, size);
}

/* out[nfields] as eval expects it: QB_F64 fields NaN, QB_I32 fields -1. */
static void blank(const qb_model *m, double *out) {
  for (int i = 0; i < m->nfields; i++)
    out[i] = m->fields[i].dtype == QB_I32 ? -1.0 : NAN;
}

/* One valid point into prepared out: eval, or a row of one. */
static void eval_point(const qb_model *m, const double *p, const bool *want, double *out) {
  if (m->eval)
    m->eval(m, p, want, out);
  else
    m->eval_row(m, p, &p[m->row_axis], 1, want, out);
}

void qb_model_eval(const qb_model *m, const double *p, const bool *want, double *out) {
  blank(m, out);
  if (qb_model_params_valid(m->params, m->nparams, p))
    eval_point(m, p, want, out);
  else
    out[m->nfields - 1] = QB_PT_BAD_PARAM;
}

/* Every parameter but `skip` valid (qb_model_params_valid's rule). */
static bool valid_except(const qb_model *m, const double *p, int skip) {
  for (int i = 0; i < m->nparams; i++)
    if (i != skip && !param_ok(&m->params[i], p[i])) return false;
  return true;
}

void qb_model_eval_points(const qb_model *m, const double *p, int axis, const double *x, int n,
                          const bool *want, double *out) {
  const size_t nf = (size_t)m->nfields;
  double q[QB_MAX_PARAMS];
  memcpy(q, p, (size_t)m->nparams * sizeof *q);
  for (int j = n - 1; j >= 0; j--) { /* row 0 last: it is the others' template */
    double *o = out + (size_t)j * nf;
    if (j > 0) memcpy(o, out, nf * sizeof *o);
    q[axis] = x[j];
    eval_point(m, q, want, o);
  }
}

void qb_model_eval_row(const qb_model *m, const double *p, int axis, const double *x, int n,
                       const bool *want, double *out) {
  const size_t nf = (size_t)m->nfields;
  if (n <= 0) return;
  double q[QB_MAX_PARAMS];
  memcpy(q, p, (size_t)m->nparams * sizeof *q);
  const bool ok = valid_except(m, q, axis); /* the others once, the axis per value */
  bool all = ok;
  for (int j = 0; j < n; j++)
    all = all && param_ok(&m->params[axis], x[j]);
  blank(m, out);
  if (all) {
    if (m->eval_row && axis == m->row_axis)
      m->eval_row(m, q, x, n, want, out);
    else
      qb_model_eval_points(m, q, axis, x, n, want, out);
    return;
  }
  for (int j = n - 1; j >= 0; j--) {
    double *o = out + (size_t)j * nf;
    if (j > 0) memcpy(o, out, nf * sizeof *o);
    q[axis] = x[j];
    if (ok && param_ok(&m->params[axis], x[j]))
      eval_point(m, q, want, o);
    else
      o[nf - 1] = QB_PT_BAD_PARAM;
  }
}

double qb_model_norm_amp(const double complex *x, int k) {
  double m = 0, s = 0;
  for (int i = 0; i < k; i++) {
    double a = qb_model_mag(x[i]);
    if (isnan(a)) return NAN;
    m = fmax(m, a);
  }
  if (!(m > 0) || isinf(m)) return m;
  if (m > 0x1p-450 && m < 0x1p450) { /* the squares stay in range (k <= 2^50) */
    for (int i = 0; i < k; i++)
      s += qb_model_abs2(x[i]);
    return sqrt(s);
  }
  for (int i = 0; i < k; i++)
    s += qb_model_abs2(x[i] / m);
  return m * sqrt(s);
}

bool qb_model_energy_ok(double x, double e, double n) {
  if (!(e >= 0) || isinf(e) || isnan(x) || isnan(n)) return false;
  if (isinf(x)) return true; /* beyond the double range with a finite error: the energy is inf */
  if (!isfinite(n)) return false;
  if (n == 0) return e == 0;
  double xr = x / n, er = e / n;
  return 2.0 * xr * er + er * er <= QB_EST_MAX * xr * xr + QB_ABS_MAX + DBL_MIN;
}

int qb_model_scale_exponent(double scale) {
  return scale > 0x1p30 || (scale > 0 && scale < 0x1p-30) ? ilogb(scale) : 0;
}

int qb_model_drive_exponent(double d0, int k, double *d) {
  if (*d >= 0x1p-500 && *d <= 0x1p500) return 0;
  int dk = ilogb(d0) - k;
  *d = ldexp(d0, -k - dk);
  return dk;
}

void qb_model_scale_energies(double *out, const int *fields, int n, int dk) {
  for (int j = 0; j < n; j++)
    out[fields[j]] = ldexp(out[fields[j]], 2 * dk);
}

double qb_model_energy_back(double complex x, int dk) {
  const double e = qb_model_abs2(x);
  if (dk == 0) return e;
  if (!isinf(e)) return ldexp(e, 2 * dk);
  return qb_model_abs2(CMPLX(ldexp(creal(x), dk), ldexp(cimag(x), dk)));
}

uint32_t qb_model_overflow(const double *out, int nfields, int except) {
  for (int j = 0; j < nfields - 1; j++)
    if (isinf(out[j]) && j != except) return QB_PT_OVERFLOW;
  return 0;
}
