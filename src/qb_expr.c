/* qb_expr: see the header.  Compile = (1) a scan of our own for what muParser accepts and qbmap
 * does not (string literals, '=' assignment, commas outside a function's argument list); (2)
 * muParser's list of the variables the text uses (mupGetExprVarNum/mupGetExprVar parse with
 * undefined variables allowed); (3) a variable per symbol bound to the expression's own slot
 * storage, and a first evaluation that compiles the bytecode and checks the result count.
 * muParser's error code, position and token are turned into our own message (mupGetErrorMsg's
 * English is not one sentence, and it shares a static buffer with mupGetErrorToken). */
#include "qbmap/qb_expr.h"

#include <errno.h>
#include <math.h>
#include <muParserDLL.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QB_EXPR_PI 3.14159265358979323846 /* M_PI (not in strict C11 <math.h>) */

struct qb_expr {
  muParserHandle_t h;
  int n;        /* symbols */
  char **name;  /* name[i]: symbol i, in order of first appearance */
  int *slot;    /* slot[i]: index into eval's values, -1 unbound */
  double *val;  /* val[i]: the storage muParser's variable i points to */
  double value; /* the value when n == 0 (eval then returns it without muParser) */
};

/* An error report under construction: msg/size/pos of the caller. */
typedef struct {
  char *msg;
  size_t size;
  int *pos;
} report;

static qb_err fail(const report *r, int pos, const char *fmt, ...) {
  if (r->msg && r->size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, r->size, fmt, ap);
    va_end(ap);
  }
  if (r->pos) *r->pos = pos;
  return QB_ECONFIG;
}

static bool name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}
static bool digit_or_dot(char c) {
  return (c >= '0' && c <= '9') || c == '.';
}

/* ---- the scan of our own ---- */

static bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* End of the number literal starting at i: [0-9.]* then [eE][+-]?[0-9]* (not validated). */
static size_t number_end(const char *t, size_t i) {
  while (digit_or_dot(t[i]))
    i++;
  if (t[i] == 'e' || t[i] == 'E') {
    i++;
    if (t[i] == '+' || t[i] == '-') i++;
    while (t[i] >= '0' && t[i] <= '9')
      i++;
  }
  return i;
}

/* Offset of the first whole identifier equal to name[0..len), outside number literals; -1. */
static int find_name(const char *t, const char *name, size_t len) {
  size_t i = 0;
  while (t[i]) {
    if (digit_or_dot(t[i])) {
      i = number_end(t, i);
    } else if (name_start(t[i])) {
      size_t s = i;
      while (name_char(t[i]))
        i++;
      if (i - s == len && memcmp(t + s, name, len) == 0) return (int)s;
    } else {
      i++;
    }
  }
  return -1;
}

#define QB_EXPR_DEPTH 64 /* parentheses tracked by the scan; deeper ones are left to muParser */

/* Rejects string literals, the assignment '=' (also in +=, -=, ...) and a ',' outside a
 * function's argument list (at top level or in grouping parentheses).  QB_OK otherwise. */
static qb_err scan(const char *t, const report *r) {
  bool call[QB_EXPR_DEPTH]; /* call[d]: parenthesis d opens an argument list */
  int depth = 0;
  bool after_name = false; /* the previous token is an identifier */
  for (size_t i = 0; t[i];) {
    char c = t[i];
    bool was_name = after_name;
    after_name = false;
    if (c == '"') return fail(r, (int)i, "string literals are not allowed (at position %zu)", i);
    if (digit_or_dot(c)) {
      i = number_end(t, i);
      continue;
    }
    if (name_start(c)) {
      while (name_char(t[i]))
        i++;
      after_name = true;
      continue;
    }
    if (blank(c)) {
      after_name = was_name;
    } else if (c == '(') {
      if (depth < QB_EXPR_DEPTH) call[depth] = was_name;
      depth++;
    } else if (c == ')') {
      if (depth > 0) depth--;
    } else if (c == ',' && (depth == 0 || (depth <= QB_EXPR_DEPTH && !call[depth - 1]))) {
      return fail(r, (int)i,
                  "',' at position %zu: one expression expected (',' separates function "
                  "arguments only)",
                  i);
    } else if ((c == '<' || c == '>' || c == '!' || c == '=') && t[i + 1] == '=') {
      i++; /* <=, >=, !=, == */
    } else if (c == '=') {
      return fail(r, (int)i, "assignment '=' is not allowed (compare with '==') at position %zu",
                  i);
    }
    i++;
  }
  return QB_OK;
}

/* muParser takes a function call only as name( : in a copy of t (same length), the blanks
 * between a name and '(' move after the '(' ("sin  (x)" -> "sin(  x)"), so every other
 * character keeps its offset.  Only a call changes: a name then '(' is an error otherwise. */
static void glue_calls(const char *t, char *out) {
  size_t i = 0;
  while (t[i]) {
    if (name_char(t[i]) && blank(t[i + 1])) {
      size_t b = i + 1, k = b + strspn(t + b, " \t\n\r");
      out[i] = t[i];
      if (t[k] == '(') {
        out[b] = '(';
        memcpy(out + b + 1, t + b, k - b);
        i = k + 1;
        continue;
      }
      i++;
      continue;
    }
    out[i] = t[i];
    i++;
  }
  out[i] = 0;
}

/* Offset of the '(' left unmatched at the end of t (the last one), -1 if none. */
static int unmatched_open(const char *t) {
  int stack[QB_EXPR_DEPTH], depth = 0, last = -1;
  for (int i = 0; t[i]; i++) {
    if (t[i] == '(') {
      if (depth < QB_EXPR_DEPTH) stack[depth] = i;
      depth++;
    } else if (t[i] == ')' && depth > 0) {
      depth--;
    }
  }
  if (depth > 0) last = depth <= QB_EXPR_DEPTH ? stack[depth - 1] : -1;
  return last;
}

/* Start of the name that ends right before offset p, spaces skipped (p <= strlen), or -1. */
static int name_before(const char *t, int p) {
  int i = p;
  while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
    i--;
  int end = i;
  while (i > 0 && name_char(t[i - 1]))
    i--;
  return i < end && name_start(t[i]) ? i : -1;
}

/* Offset of the last whole identifier `tok` that starts before p (p clamped to the text). */
static int last_name_before(const char *t, const char *tok, int p) {
  size_t len = strlen(tok);
  int best = -1;
  for (int i = 0; t[i] && i < p; i++)
    if ((i == 0 || !name_char(t[i - 1])) && strncmp(t + i, tok, len) == 0 &&
        !name_char(t[i + (int)len]))
      best = i;
  return best;
}

/* ---- muParser's errors ---- */

/* The message for muParser's error code at offset p (already clamped), token tok. */
static qb_err parser_fail(const char *t, int code, int p, const char *tok, const report *r) {
  int len = (int)strlen(t);
  char c = p >= 0 && p < len ? t[p] : 0;
  switch (code) {
  case 2:
  case 25:
    if (code == 25 || p >= len) return fail(r, len, "unexpected end of expression");
    break;
  case 11: {
    int o = unmatched_open(t);
    return fail(r, o, "missing ')' for the '(' at position %d", o);
  }
  case 7:
    if (c == '(' && name_before(t, p) >= 0) {
      int s = name_before(t, p), end = s;
      while (name_char(t[end]))
        end++;
      return fail(r, s, "unknown function '%.*s' at position %d", end - s, t + s, s);
    }
    break;
  case 1:
    if (name_start(tok[0])) {
      int s = last_name_before(t, tok, len);
      size_t k = (size_t)s + strlen(tok);
      while (t[k] == ' ' || t[k] == '\t')
        k++;
      if (s >= 0 && t[k] == '(') return fail(r, s, "unknown function '%s' at position %d", tok, s);
      return fail(r, s, "unexpected '%s' at position %d", tok, s);
    }
    if (digit_or_dot(tok[0])) return fail(r, p, "invalid number '%s' at position %d", tok, p);
    if (c > ' ' && c < 127) return fail(r, p, "unexpected character '%c' at position %d", c, p);
    return fail(r, p, "unexpected byte 0x%02x (not printable ASCII) at position %d",
                (unsigned)(unsigned char)c, p);
  case 14:
  case 15: {
    int s = last_name_before(t, tok, p + 1);
    return fail(r, s, "too %s arguments for function '%s' at position %d",
                code == 14 ? "many" : "few", tok, s);
  }
  case 33: {
    int q = (int)(strrchr(t, '?') ? strrchr(t, '?') - t : -1);
    return fail(r, q, "'?' without its ':' at position %d", q);
  }
  case 34:
    while (p > 0 && t[p] != ':')
      p--;
    return fail(r, p, "':' without its '?' at position %d", p);
  case 36:
    return fail(r, p, "name longer than 255 characters at position %d", p);
  case 37:
    return fail(r, -1, "expression longer than %d characters", QB_EXPR_MAX_LEN);
  case 38:
    return fail(r, p, "non-printable or non-ASCII character at position %d", p);
  default:
    break;
  }
  if (p >= len) return fail(r, len, "unexpected end of expression");
  if (tok[0]) return fail(r, p, "unexpected '%s' at position %d", tok, p);
  return fail(r, p, "unexpected '%c' at position %d", c, p);
}

/* Reads and resets muParser's error state; QB_OK when there was none.  t: the caller's text
 * (muParser has its glue_calls copy: a '(' it moved is mapped back). */
static qb_err parser_error(muParserHandle_t h, const char *t, const report *r) {
  if (!mupError(h)) return QB_OK;
  int code = mupGetErrorCode(h), p = mupGetErrorPos(h), len = (int)strlen(t);
  if (p >= 0 && p < len && blank(t[p])) p += (int)strspn(t + p, " \t\n\r");
  char tok[64]; /* copied at once: a static buffer of the library */
  const char *s = mupGetErrorToken(h);
  snprintf(tok, sizeof tok, "%s", s ? s : "");
  tok[strcspn(tok, " \t")] = 0; /* muParser's token may run on to the end of the text */
  if (p > len) p = len;         /* muParser appends a blank: its end is len + 1 */
  size_t tl = strlen(tok);
  if (tok[0] && p >= 0 && strncmp(t + p, tok, tl) != 0) /* some positions are past the token */
    for (int q = p - 1; q >= 0; q--)
      if (strncmp(t + q, tok, tl) == 0) {
        p = q;
        break;
      }
  if (p < 0 && code != 33 && code != 25 && code != 37) p = -1;
  return parser_fail(t, code, p, tok, r);
}

/* ---- compile ---- */

static double sign_nan(double x) {
  return x > 0 ? 1.0 : (x < 0 ? -1.0 : x); /* sign(0) = 0 with its sign, sign(NaN) = NaN */
}

/* The one-argument functions, all libm's (muParser computes asinh, acosh, atanh, log2 itself:
 * up to ~20 ulp off, asinh(-1e8) = -inf; its rint is floor(x + 0.5), its sign(NaN) 0). */
static const struct {
  const char *name;
  muFun1_t f;
} qb_expr_fun1[] = {{"sin", sin},      {"cos", cos},     {"tan", tan},     {"asin", asin},
                    {"acos", acos},    {"atan", atan},   {"sinh", sinh},   {"cosh", cosh},
                    {"tanh", tanh},    {"asinh", asinh}, {"acosh", acosh}, {"atanh", atanh},
                    {"exp", exp},      {"log", log},     {"ln", log},      {"log10", log10},
                    {"log2", log2},    {"sqrt", sqrt},   {"abs", fabs},    {"rint", rint},
                    {"sign", sign_nan}};

/* A new muParser handle with our constants and functions; NULL when out of memory. */
static muParserHandle_t new_parser(void) {
  muParserHandle_t h = mupCreate(muBASETYPE_FLOAT);
  if (!h) return NULL;
  mupClearConst(h);
  mupDefineConst(h, "pi", QB_EXPR_PI);
  for (size_t i = 0; i < sizeof qb_expr_fun1 / sizeof qb_expr_fun1[0]; i++)
    mupDefineFun1(h, qb_expr_fun1[i].name, qb_expr_fun1[i].f, 1);
  if (mupError(h)) {
    mupRelease(h);
    return NULL;
  }
  return h;
}

/* Symbol i of muParser's list (alphabetical) copied into a new string; NULL when out of memory
 * or on a parser error. */
static char *parser_symbol(muParserHandle_t h, int i) {
  const char *s = NULL;
  double *unused = NULL;
  mupGetExprVar(h, (unsigned)i, &s, &unused);
  if (!s) return NULL;
  size_t len = strlen(s) + 1; /* copied at once: a static buffer of the library */
  char *c = malloc(len);
  if (c) memcpy(c, s, len);
  return c;
}

/* Checks that muParser's name is one of ours ([A-Za-z_][A-Za-z0-9_]*: muParser also takes
 * names starting with a digit, e.g. the literal 1e400 beyond the double range). */
static qb_err check_name(const char *t, const char *name, const report *r) {
  if (name_start(name[0])) return QB_OK;
  const char *at = strstr(t, name);
  int p = at ? (int)(at - t) : -1;
  char *end;
  errno = 0;
  double v = strtod(name, &end);
  if (digit_or_dot(name[0]) && *end == 0 && errno == ERANGE && isinf(v))
    return fail(r, p, "number '%s' beyond the double range at position %d", name, p);
  if (digit_or_dot(name[0])) return fail(r, p, "invalid number '%s' at position %d", name, p);
  return fail(r, p, "invalid name '%s' at position %d", name, p);
}

/* Sorts the symbols by their first appearance in t (insertion sort: few symbols). */
static void sort_symbols(const char *t, char **name, int n) {
  for (int i = 1; i < n; i++) {
    char *s = name[i];
    int key = find_name(t, s, strlen(s)), j = i;
    while (j > 0 && find_name(t, name[j - 1], strlen(name[j - 1])) > key) {
      name[j] = name[j - 1];
      j--;
    }
    name[j] = s;
  }
}

/* Fills e->name (n symbols, muParser's list, checked and sorted). */
static qb_err list_symbols(qb_expr *e, const char *t, const report *r) {
  e->name = calloc((size_t)e->n + 1, sizeof *e->name);
  e->slot = malloc(((size_t)e->n + 1) * sizeof *e->slot);
  e->val = calloc((size_t)e->n + 1, sizeof *e->val);
  if (!e->name || !e->slot || !e->val) return QB_ENOMEM;
  for (int i = 0; i < e->n; i++) {
    e->name[i] = parser_symbol(e->h, i);
    if (!e->name[i]) {
      qb_err err = parser_error(e->h, t, r);
      return err ? err : QB_ENOMEM;
    }
    qb_err err = check_name(t, e->name[i], r);
    if (err) return err;
    e->slot[i] = -1;
  }
  sort_symbols(t, e->name, e->n);
  return QB_OK;
}

/* Defines the variables on e's storage, evaluates once (muParser compiles its bytecode) and
 * checks that the text is one expression. */
static qb_err bind_and_check(qb_expr *e, const char *t, const report *r) {
  for (int i = 0; i < e->n; i++)
    mupDefineVar(e->h, e->name[i], &e->val[i]);
  qb_err err = parser_error(e->h, t, r);
  if (err) return err;
  int nres = 0;
  (void)mupEvalMulti(e->h, &nres);
  err = parser_error(e->h, t, r);
  if (err) return err;
  if (nres != 1) return fail(r, -1, "%d comma-separated expressions: one expected", nres);
  e->value = mupEval(e->h); /* the first mupEval after EvalMulti may parse again (allocates) */
  return parser_error(e->h, t, r);
}

/* The steps after the handle exists; e is freed by the caller on error. */
static qb_err compile_steps(qb_expr *e, const char *text, const report *r) {
  qb_err err = scan(text, r);
  if (err) return err;
  char *glued = malloc(strlen(text) + 1);
  if (!glued) return QB_ENOMEM;
  glue_calls(text, glued);
  mupSetExpr(e->h, glued); /* muParser keeps its own copy */
  free(glued);
  if ((err = parser_error(e->h, text, r))) return err;
  e->n = mupGetExprVarNum(e->h);
  if ((err = parser_error(e->h, text, r))) return err;
  if (e->n < 0) return fail(r, -1, "internal error: muParser lists %d symbols", e->n);
  if ((err = list_symbols(e, text, r))) return err;
  return bind_and_check(e, text, r);
}

qb_err qb_expr_compile(const char *text, qb_expr **e, int *pos, char *msg, size_t size) {
  report r = {msg, size, pos};
  *e = NULL;
  if (pos) *pos = -1;
  if (msg && size) msg[0] = 0;
  if (!text) return fail(&r, -1, "no expression");
  if (text[strspn(text, " \t\r\n")] == 0) return fail(&r, 0, "empty expression");
  /* before muParser sees it: its C API copies an over-long text into a fixed static buffer
   * when it reports the error (mupGetErrorToken: a buffer overflow, SIGABRT or SEGV) */
  if (strlen(text) > QB_EXPR_MAX_LEN)
    return fail(&r, -1, "expression longer than %d characters", QB_EXPR_MAX_LEN);
  qb_expr *x = calloc(1, sizeof *x);
  if (x) x->h = new_parser();
  if (!x || !x->h) {
    free(x);
    fail(&r, -1, "out of memory");
    return QB_ENOMEM;
  }
  qb_err err = compile_steps(x, text, &r);
  if (err) {
    if (err == QB_ENOMEM) fail(&r, -1, "out of memory");
    qb_expr_free(x);
    return err;
  }
  if (pos) *pos = -1;
  if (msg && size) msg[0] = 0;
  *e = x;
  return QB_OK;
}

/* ---- use ---- */

int qb_expr_nsymbols(const qb_expr *e) {
  return e->n;
}

const char *qb_expr_symbol(const qb_expr *e, int i) {
  return i >= 0 && i < e->n ? e->name[i] : NULL;
}

void qb_expr_bind(qb_expr *e, int i, int slot) {
  if (i >= 0 && i < e->n) e->slot[i] = slot;
}

bool qb_expr_constant(const qb_expr *e) {
  return e->n == 0;
}

double qb_expr_eval(qb_expr *e, const double *values) {
  if (e->n == 0) return e->value;
  for (int i = 0; i < e->n; i++)
    e->val[i] = e->slot[i] >= 0 && values ? values[e->slot[i]] : NAN;
  double v = mupEval(e->h);
  return mupError(e->h) ? NAN : v;
}

void qb_expr_free(qb_expr *e) {
  if (!e) return;
  if (e->h) mupRelease(e->h);
  if (e->name)
    for (int i = 0; i < e->n; i++)
      free(e->name[i]);
  free(e->name);
  free(e->slot);
  free(e->val);
  free(e);
}
