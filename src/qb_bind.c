/* qb_bind: the expressions wrapper (include/qbmap/qb_bind.h). */
#include "qbmap/qb_bind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_expr.h"
#include "qbmap/qb_grid.h"
#include "qbmap/qb_merit.h"

#define BIND_DOC_MAX 1024 /* a parameter's doc: the expression (truncated) and the base's doc */

typedef struct {
  const qb_model *base;
  int nsym;
  qb_expr *expr[QB_MAX_PARAMS];     /* per parameter of the wrapper, NULL: a value */
  char *text[QB_MAX_PARAMS];        /* its text (owned) */
  int order[QB_MAX_PARAMS], norder; /* the expressions in dependency order */
  bool row_reuse;
  int row_dep; /* the first base parameter whose value depends on the row axis, -1: none */
  qb_param params[QB_MAX_PARAMS];
  char names[QB_MAX_PARAMS][QB_NAME_MAX];
  char docs[QB_MAX_PARAMS][BIND_DOC_MAX];
  qb_pt_bit bits[33];
  qb_model model; /* the instance: its ctx is this struct */
} qb_bind;

static void bind_eval(const qb_model *m, const double *p, const bool *want, double *out);

bool qb_bind_is(const qb_model *m) {
  return m && m->eval == bind_eval;
}

static qb_bind *of(const qb_model *m) {
  return (qb_bind *)(uintptr_t)m->ctx; /* built by qb_bind_new: writable */
}

bool qb_bind_resolve(const qb_model *m, const double *p, double *v) {
  const qb_bind *b = m->ctx;
  const int nb = b->base->nparams;
  memcpy(v, p, (size_t)m->nparams * sizeof *v);
  for (int k = 0; k < b->norder; k++) {
    const int i = b->order[k];
    v[i] = qb_expr_eval(b->expr[i], v);
  }
  for (int k = 0; k < b->norder; k++) {
    const int i = b->order[k];
    if (!isfinite(v[i])) return false;
    if (i < nb && !qb_model_params_valid(&b->base->params[i], 1, &v[i])) return false;
  }
  return true;
}

static void bind_eval(const qb_model *m, const double *p, const bool *want, double *out) {
  double v[QB_MAX_PARAMS];
  if (qb_bind_resolve(m, p, v))
    qb_model_eval(of(m)->base, v, want, out);
  else
    out[m->nfields - 1] = QB_PT_BAD_EXPRESSION;
}

/* The row kernel: one base row where nothing resolved depends on the row axis. */
static void bind_eval_row(const qb_model *m, const double *p, const double *x, int n,
                          const bool *want, double *out) {
  const qb_bind *b = m->ctx;
  if (!b->row_reuse) {
    qb_model_eval_points(m, p, m->row_axis, x, n, want, out);
    return;
  }
  double v[QB_MAX_PARAMS];
  if (qb_bind_resolve(m, p, v)) {
    qb_model_eval_row(b->base, v, m->row_axis, x, n, want, out);
    return;
  }
  const size_t nf = (size_t)m->nfields;
  out[nf - 1] = QB_PT_BAD_EXPRESSION;
  for (int j = 1; j < n; j++)
    memcpy(out + (size_t)j * nf, out, nf * sizeof *out);
}

static double complex bind_disc(const qb_model *m, const double *p) {
  double v[QB_MAX_PARAMS];
  const qb_model *base = of(m)->base;
  if (!qb_bind_resolve(m, p, v) || !qb_model_params_valid(base->params, base->nparams, v))
    return CMPLX(NAN, NAN);
  return base->disc(base, v);
}

static void bind_coalescence(const qb_model *m, const double *p, double *splitting,
                             double *overlap) {
  double v[QB_MAX_PARAMS];
  const qb_model *base = of(m)->base;
  *splitting = *overlap = NAN;
  if (qb_bind_resolve(m, p, v) && qb_model_params_valid(base->params, base->nparams, v))
    base->coalescence(base, v, splitting, overlap);
}

/* ---- building ------------------------------------------------------------------------------ */

/* Names an expression cannot use as a symbol: qb_expr's constant and functions. */
static const char *const reserved[] = {"pi",   "sin",   "cos",   "tan",   "asin",  "acos",  "atan",
                                       "sinh", "cosh",  "tanh",  "asinh", "acosh", "atanh", "exp",
                                       "sqrt", "abs",   "log10", "log2",  "log",   "ln",    "rint",
                                       "sign", "atan2", "min",   "max",   "sum",   "avg",   NULL};

/* Names the output file uses at its root (qb_h5.c: root attributes, the post-pass groups, the
 * bookkeeping group): a fixed symbol is a root attribute, a symbol on an axis a coordinate
 * dataset, so a symbol with one of these names would overwrite the file's own record or fail
 * to be created.  Also reserved: `expression_*` (qb_h5's record of each expression). */
static const char *const file_names[] = {"Conventions",
                                         "title",
                                         "model",
                                         "config",
                                         "config_normalized",
                                         "hdf5_version",
                                         "nranks",
                                         "created",
                                         "npoints",
                                         "block_points",
                                         "complete",
                                         "wall_time_s",
                                         "wall_time_segments_s",
                                         "run_id",
                                         "symbols",
                                         "qbmap_version",
                                         "git_commit",
                                         "mpi_version",
                                         "gsl_version",
                                         "blocks",
                                         "boundary",
                                         "ep",
                                         "adaptive",
                                         NULL};

/* A symbol that the output file could not hold next to the model's own names: a field of base
 * (a coordinate and a field of one name), `status`, a figure of merit's field, or a name above. */
static const char *file_name_problem(const qb_model *base, const char *s) {
  if (qb_model_field_index(base, s) >= 0 || strcmp(s, "status") == 0 || qb_merit_is_field(s))
    return "is the name of a field";
  for (int k = 0; file_names[k]; k++)
    if (strcmp(file_names[k], s) == 0) return "is a name the output file uses for its own record";
  if (strncmp(s, "expression_", 11) == 0)
    return "is a name the output file uses for its own record (expression_*)";
  return NULL;
}

/* Words YAML or readers of the file's config_normalized take for a null, a boolean or a
 * non-finite number (`kappa_a: nan` over a symbol nan reads as NaN everywhere but here). */
static bool yaml_word(const char *s) {
  static const char *const words[] = {"null", "true", "false", "yes",      "no", "on",
                                      "off",  "nan",  "inf",   "infinity", NULL};
  for (int k = 0; words[k]; k++) {
    size_t i = 0;
    while (s[i] && words[k][i] && (s[i] | 0x20) == words[k][i])
      i++;
    if (!s[i] && !words[k][i]) return true;
  }
  return false;
}

const char *qb_bind_name_problem(const qb_model *m, const char *s) {
  return yaml_word(s) ? "reads as a YAML null, boolean or non-finite number"
                      : file_name_problem(m, s);
}

static const char *symbol_problem(const qb_model *base, const char *s) {
  bool ok = s && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_');
  for (const char *q = s; ok && *q; q++)
    ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
         *q == '_';
  if (!ok || strlen(s) >= QB_NAME_MAX) return "is not a name";
  for (int k = 0; reserved[k]; k++)
    if (strcmp(reserved[k], s) == 0) return "is a function or constant of the expressions";
  if (qb_model_param_index(base, s) >= 0) return "shadows a parameter of the model";
  return qb_bind_name_problem(base, s);
}

/* Whether symbol k of syms[0..n) is named `X_opt` or `X_at_opt` with X a parameter of base or
 * another symbol: the field qb_optim adds when X is optimized (the file would hold both). */
static bool optim_field_name(const qb_model *base, const char *const *syms, int n, int k) {
  const char *s = syms[k];
  const size_t len = strlen(s);
  static const char *const suffix[] = {"_at_opt", "_opt"};
  for (int f = 0; f < 2; f++) {
    const size_t ls = strlen(suffix[f]);
    if (len <= ls || strcmp(s + len - ls, suffix[f]) != 0) continue;
    char x[QB_NAME_MAX];
    snprintf(x, sizeof x, "%.*s", (int)(len - ls), s);
    if (qb_model_param_index(base, x) >= 0) return true;
    for (int j = 0; j < n; j++)
      if (j != k && syms[j] && strcmp(syms[j], x) == 0) return true;
  }
  return false;
}

/* The status bits: the base's with QB_PT_BAD_EXPRESSION in its place (increasing order). */
static void make_bits(qb_bind *b) {
  const qb_model *base = b->base;
  int n = 0;
  bool put = false;
  for (int k = 0; k < base->nstatus; k++) {
    if (!put && base->status_bits[k].mask > QB_PT_BAD_EXPRESSION) {
      b->bits[n++] = (qb_pt_bit){QB_PT_BAD_EXPRESSION, NULL, NULL, QB_PT_KIND_DEFAULT};
      put = true;
    }
    if (base->status_bits[k].mask != QB_PT_BAD_EXPRESSION) b->bits[n++] = base->status_bits[k];
    put = put || base->status_bits[k].mask == QB_PT_BAD_EXPRESSION;
  }
  if (!put) b->bits[n++] = (qb_pt_bit){QB_PT_BAD_EXPRESSION, NULL, NULL, QB_PT_KIND_DEFAULT};
  b->model.status_bits = b->bits;
  b->model.nstatus = n;
}

static void make_model(qb_bind *b) {
  const qb_model *base = b->base;
  b->model = *base;
  b->model.nparams = base->nparams + b->nsym;
  b->model.params = b->params;
  b->model.eval = bind_eval;
  b->model.eval_row = base->eval_row ? bind_eval_row : NULL;
  b->model.disc = base->disc ? bind_disc : NULL;
  b->model.coalescence = base->coalescence ? bind_coalescence : NULL;
  b->model.ctx = b;
  make_bits(b);
}

/* Parameter i as a value: the base's entry, or a symbol's (required, any finite value). */
static void plain_param(qb_bind *b, int i) {
  if (i < b->base->nparams) {
    b->params[i] = b->base->params[i];
    return;
  }
  b->params[i] = (qb_param){.name = b->names[i],
                            .def = NAN,
                            .range = QB_ANY,
                            .units = "1",
                            .long_name = b->names[i],
                            .doc = "user symbol (config `symbols:`): any finite number"};
}

qb_err qb_bind_new(const qb_model *base, const char *const *symbols, int nsym, qb_model **m,
                   int *bad, char *msg, size_t size) {
  *m = NULL;
  *bad = -1;
  if (nsym < 0 || base->nparams + nsym > QB_MAX_PARAMS) {
    snprintf(msg, size, "%d symbols and %d parameters of model %s; allowed: at most %d together",
             nsym, base->nparams, base->name, QB_MAX_PARAMS);
    return QB_ECONFIG;
  }
  for (int k = 0; k < nsym; k++) {
    const char *why = symbol_problem(base, symbols[k]);
    for (int j = 0; !why && j < k; j++)
      if (strcmp(symbols[j], symbols[k]) == 0) why = "is declared twice";
    if (!why && optim_field_name(base, symbols, nsym, k))
      why = "is the name of optimize's field for a parameter (<param>_opt, <param>_at_opt)";
    if (why) {
      *bad = k;
      snprintf(msg, size,
               "symbol '%.80s' %s; allowed: new names ([A-Za-z_][A-Za-z0-9_]*, at most %d "
               "characters), each once, not a parameter or field of model %s, a function, nor a "
               "name of the output file's record",
               symbols[k] ? symbols[k] : "", why, QB_NAME_MAX - 1, base->name);
      return QB_ECONFIG;
    }
  }
  qb_bind *b = calloc(1, sizeof *b);
  if (!b) {
    snprintf(msg, size, "out of memory for the expressions");
    return QB_ENOMEM;
  }
  b->base = base;
  b->nsym = nsym;
  for (int k = 0; k < nsym; k++)
    snprintf(b->names[base->nparams + k], QB_NAME_MAX, "%s", symbols[k]);
  for (int i = 0; i < base->nparams + nsym; i++)
    plain_param(b, i);
  make_model(b);
  b->row_reuse = true;
  b->row_dep = -1;
  *m = &b->model;
  return QB_OK;
}

/* The names of m's parameters and symbols, for messages. */
static void all_names(const qb_model *m, char *buf, size_t size) {
  qb_model_param_names(m, buf, size);
}

qb_err qb_bind_set(qb_model *m, int i, const char *text, char *msg, size_t size) {
  qb_bind *b = of(m);
  if (!text) {
    qb_expr_free(b->expr[i]);
    free(b->text[i]);
    b->expr[i] = NULL;
    b->text[i] = NULL;
    plain_param(b, i);
    return QB_OK;
  }
  qb_expr *e;
  char why[256];
  int pos;
  qb_err err = qb_expr_compile(text, &e, &pos, why, sizeof why);
  if (err) {
    char at[32] = "";
    if (pos >= 0 && !strstr(why, "position")) snprintf(at, sizeof at, " at position %d", pos);
    snprintf(msg, size, "%s%s; allowed: a number or an expression over parameters and symbols", why,
             at);
    return err;
  }
  for (int k = 0; k < qb_expr_nsymbols(e); k++) {
    const char *s = qb_expr_symbol(e, k);
    const int j = qb_model_param_index(m, s);
    if (j < 0) {
      char names[2048];
      all_names(m, names, sizeof names);
      snprintf(msg, size,
               "'%s' is not a parameter of model %s nor a declared symbol; allowed in an "
               "expression: %s (and new names declared in symbols:)",
               s, b->base->name, names);
      qb_expr_free(e);
      return QB_ECONFIG;
    }
    qb_expr_bind(e, k, j);
  }
  size_t len = strlen(text) + 1;
  char *t = malloc(len);
  if (!t) {
    qb_expr_free(e);
    snprintf(msg, size, "out of memory for an expression");
    return QB_ENOMEM;
  }
  memcpy(t, text, len);
  qb_bind_set(m, i, NULL, msg, size);
  b->expr[i] = e;
  b->text[i] = t;
  b->params[i].def = NAN; /* its slot is ignored: NaN passes the generic check (the range
                           * stays the base's: resolve checks the expression's value with it) */
  b->params[i].alternative = true;
  return QB_OK;
}

/* Whether expression i names parameter j. */
static bool uses(const qb_bind *b, int i, int j) {
  const qb_expr *e = b->expr[i];
  for (int k = 0; e && k < qb_expr_nsymbols(e); k++)
    if (strcmp(qb_expr_symbol(e, k), b->params[j].name) == 0) return true;
  return false;
}

/* Depth-first: appends i after everything it uses; state 1 on the path, 2 done.  On a cycle
 * returns the parameter that closes it and leaves the path in stack[0..*depth). */
static int visit(qb_bind *b, int i, int *state, int *stack, int *depth) {
  if (state[i] == 2 || !b->expr[i]) return -1;
  if (state[i] == 1) return i;
  state[i] = 1;
  stack[(*depth)++] = i;
  for (int j = 0; j < b->model.nparams; j++) {
    if (!uses(b, i, j)) continue;
    int c = visit(b, j, state, stack, depth);
    if (c >= 0) return c;
  }
  (*depth)--;
  state[i] = 2;
  b->order[b->norder++] = i;
  return -1;
}

static void cycle_message(const qb_bind *b, int c, const int *stack, int depth, char *msg,
                          size_t size) {
  char path[1024] = "";
  int from = 0;
  while (from < depth && stack[from] != c)
    from++;
  for (int k = from; k < depth; k++)
    snprintf(path + strlen(path), sizeof path - strlen(path), "%s -> ", b->params[stack[k]].name);
  snprintf(path + strlen(path), sizeof path - strlen(path), "%s", b->params[c].name);
  snprintf(msg, size,
           "the expressions form a cycle %s; allowed: expressions whose dependencies end in "
           "values (axes or numbers)",
           path);
}

/* Whether parameter i depends on parameter r (itself, or through its expression). */
static bool depends(const qb_bind *b, int i, int r, int level) {
  if (i == r) return true;
  if (!b->expr[i] || level > QB_MAX_PARAMS) return false;
  for (int j = 0; j < b->model.nparams; j++)
    if (uses(b, i, j) && depends(b, j, r, level + 1)) return true;
  return false;
}

static void make_docs(qb_bind *b) {
  for (int i = 0; i < b->model.nparams; i++) {
    if (!b->expr[i]) continue;
    const char *d = i < b->base->nparams ? b->base->params[i].doc : "user symbol";
    snprintf(b->docs[i], BIND_DOC_MAX, "= %.400s (expression); %s", b->text[i], d);
    b->params[i].doc = b->docs[i];
  }
}

qb_err qb_bind_finish(qb_model *m, int *bad, char *msg, size_t size) {
  qb_bind *b = of(m);
  int state[QB_MAX_PARAMS] = {0}, stack[QB_MAX_PARAMS + 1], depth = 0;
  b->norder = 0;
  *bad = -1;
  for (int i = 0; i < m->nparams; i++) {
    int c = visit(b, i, state, stack, &depth);
    if (c >= 0) {
      *bad = c;
      cycle_message(b, c, stack, depth, msg, size);
      return QB_ECONFIG;
    }
  }
  b->row_dep = -1;
  for (int k = 0; k < b->norder && b->row_dep < 0; k++)
    if (b->order[k] < b->base->nparams && depends(b, b->order[k], m->row_axis, 0))
      b->row_dep = b->order[k];
  b->row_reuse = true;
  if (b->base->eval_row)
    for (int k = 0; k < b->norder; k++)
      b->row_reuse = b->row_reuse && !depends(b, b->order[k], m->row_axis, 0);
  make_docs(b);
  return QB_OK;
}

bool qb_bind_trivial(const qb_model *m) {
  const qb_bind *b = m->ctx;
  if (b->nsym) return false;
  for (int i = 0; i < m->nparams; i++)
    if (b->expr[i]) return false;
  return true;
}

const qb_model *qb_bind_base(const qb_model *m) {
  return of(m)->base;
}

int qb_bind_nsymbols(const qb_model *m) {
  return qb_bind_is(m) ? of(m)->nsym : 0;
}

const char *qb_bind_expression(const qb_model *m, int i) {
  return qb_bind_is(m) && i >= 0 && i < m->nparams ? of(m)->text[i] : NULL;
}

int qb_bind_row_dependent(const qb_model *m) {
  return qb_bind_is(m) ? of(m)->row_dep : -1;
}

bool qb_bind_row_reuse(const qb_model *m) {
  return of(m)->row_reuse;
}

void qb_bind_free(const qb_model *m) {
  if (!m) return;
  qb_bind *b = of(m);
  for (int i = 0; i < QB_MAX_PARAMS; i++) {
    qb_expr_free(b->expr[i]);
    free(b->text[i]);
  }
  free(b);
}
