/* qb_bind: parameters as expressions and user symbols, for every model (issue 14 item 1).  A
 * wrapper model: an instance whose ctx holds a base model (built-in, `network`, or another
 * wrapper) and which adds
 *   - user symbols: names that are not parameters of the base (config `symbols: [a, b]`), each
 *     a parameter of the wrapper after the base's own (on an axis or fixed, like a required
 *     parameter; any finite value);
 *   - expressions (qb_expr, the `network` model's language): any parameter or symbol may be
 *     given by an expression over the others instead of a number.
 * The wrapper's parameters are the base's, in the base's order (same indices), then the
 * symbols; its fields are exactly the base's (same table), its status bits the base's plus
 * QB_PT_BAD_EXPRESSION (bit 15).
 *
 * At a point: the expressions are evaluated in dependency order (each sees the values of the
 * parameters and symbols it names, those given by expressions already evaluated), then each
 * value is checked: finite, and for a parameter of the base inside its verified range
 * (qb_model_params_valid's rule).  A value that fails gives every field NaN (int32 -1) and the
 * status QB_PT_BAD_EXPRESSION alone; otherwise the base evaluates at the resolved values
 * (qb_model_eval), so every field and status bit of the base passes through unchanged and the
 * results are bitwise those of the base at the same numbers.  In the parameter vector the
 * wrapper receives, the slots of parameters given by expressions are ignored (NaN is fine: their
 * table entries accept it).
 *
 * Rows: where the base has a row kernel and no expression depends (directly or through other
 * expressions) on the base's row axis (and the row axis is not itself an expression), the
 * wrapper's row kernel resolves once and makes one base row call; otherwise point by point.
 * Both are bitwise a row of single points (qb_model.h's contract).
 *
 * Building (not collective; every rank builds the same instance from the same text):
 * qb_bind_new, then qb_bind_set per expression (or NULL to make a parameter a plain value again),
 * then qb_bind_finish (dependency order, cycles).  Messages are one sentence "...; allowed: ..."
 * without location (the caller knows the key's line:column).  An instance is read-only while it
 * evaluates, except for its expressions' value slots (qb_expr): one instance per thread. */
#ifndef QB_BIND_H
#define QB_BIND_H

#include <stdbool.h>
#include <stddef.h>

#include "qbmap/qb_model.h"
#include "qbmap/qb_status.h"

/* Why s cannot name a parameter or symbol next to model m in an output file: a field of m,
 * `status` or a figure of merit's field (a coordinate and a field of one name), a name the file
 * uses for its own record (root attributes, groups, expression_*), or a word YAML readers take
 * for a null, boolean or non-finite number; NULL where it can.  (qb_bind_new checks its symbols
 * with it; model network its own.) */
const char *qb_bind_name_problem(const qb_model *m, const char *s);

/* A new wrapper over base with user symbols symbols[0..nsym-1] (nsym may be 0), no expressions
 * yet.  Each symbol: [A-Za-z_][A-Za-z0-9_]* shorter than QB_NAME_MAX, not a parameter of base,
 * not `pi` nor a function name of qb_expr, not twice; base's parameters plus the symbols at
 * most QB_MAX_PARAMS.  On error: QB_ECONFIG (QB_ENOMEM), *m NULL, *bad the offending symbol's
 * index (-1: the list as a whole) and the reason in msg.  base must outlive the wrapper. */
qb_err qb_bind_new(const qb_model *base, const char *const *symbols, int nsym, qb_model **m,
                   int *bad, char *msg, size_t size);

/* Parameter i of the wrapper m is given by the expression text (NULL: by a value again, its
 * former expression dropped).  The text must compile (qb_expr_compile; msg names the position
 * in the text) and name only parameters and symbols of m.  QB_ECONFIG with msg on error (the
 * former state kept). */
qb_err qb_bind_set(qb_model *m, int i, const char *text, char *msg, size_t size);

/* After the last qb_bind_set: the dependency order; a cycle is QB_ECONFIG with msg naming it
 * ("kappa_a -> p_a -> kappa_a") and *bad one parameter on it.  Also writes the parameters' docs
 * ("= EXPR (expression); <the base's doc>"), which `qbmap models --config` and the file show. */
qb_err qb_bind_finish(qb_model *m, int *bad, char *msg, size_t size);

/* True if m is a qb_bind instance. */
bool qb_bind_is(const qb_model *m);

/* A wrapper with no symbols and no expressions (the caller then uses the base alone). */
bool qb_bind_trivial(const qb_model *m);

/* The base model of wrapper m. */
const qb_model *qb_bind_base(const qb_model *m);

/* The number of user symbols (parameters base->nparams .. nparams-1 of m); 0 if m is not a
 * wrapper. */
int qb_bind_nsymbols(const qb_model *m);

/* The expression text of parameter i, NULL if i is given by a value or m is not a wrapper. */
const char *qb_bind_expression(const qb_model *m, int i);

/* Whether the row kernel is one base row call (no expression depends on the row axis). */
bool qb_bind_row_reuse(const qb_model *m);

/* The first parameter of the base given by an expression whose value depends on m's row axis
 * (directly, through other expressions and symbols, or the row axis itself an expression); -1
 * if none or m is not a wrapper.  Valid after qb_bind_finish; O(1).  (qb_merit's figures of
 * merit scan E(t) along the row axis at fixed parameters: undefined over such a wrapper.) */
int qb_bind_row_dependent(const qb_model *m);

/* At p (the wrapper's parameters): v[QB_MAX_PARAMS], p with every expression evaluated (its
 * first base->nparams entries are the base's parameter vector); false (v partly filled) if a
 * value given by an expression is not finite or outside its verified range.  Pure. */
bool qb_bind_resolve(const qb_model *m, const double *p, double *v);

/* Frees a wrapper (NULL: nothing); not its base. */
void qb_bind_free(const qb_model *m);

#endif
