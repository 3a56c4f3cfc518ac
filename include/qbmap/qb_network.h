/* qb_network: model `network`, any linear bosonic network read from the config's `network`
 * section (docs/physics.md §7): n <= QB_NET_MODES modes, a quadratic Hamiltonian (detunings,
 * hoppings, one- and two-mode squeezing, drives) and linear dissipators with thermal
 * occupations.  Every number in the section is a number or an expression (qb_expr) over
 * symbols; the symbols become the instance's parameters, after them `t` and `E_max`.
 * Building an instance is not collective: every rank builds the same one from the same text.
 * An instance is read-only while it evaluates, except for its expressions' value slots
 * (qb_expr): one instance per thread. */
#ifndef QB_NETWORK_H
#define QB_NETWORK_H

#include <stddef.h>
#include <yaml.h>

#include "qbmap/qb_expr.h"
#include "qbmap/qb_grid.h"
#include "qbmap/qb_model.h"

#define QB_NET_MODES 8  /* modes */
#define QB_NET_TERMS 64 /* Hamiltonian terms */
#define QB_NET_DISS 32  /* dissipators */
#define QB_NET_NAME 16  /* longest mode name + 1 */

/* Verified windows of the values a network's expressions give at a point (beyond them, or not
 * finite, or a negative rate or occupation: status bad_value, every field NaN). */
#define QB_NET_RATE_MAX 1e6    /* |detuning|, |hopping|, |squeezing|, rate: <= 1e6 */
#define QB_NET_COEF_MAX 1e3    /* |coefficient of L|: <= 1e3 */
#define QB_NET_NTH_MAX 1e6     /* occupation n_th: 0 <= n_th <= 1e6 */
#define QB_NET_DRIVE_MAX 1e100 /* |drive|: <= 1e100 */
#define QB_NET_PHASE_MAX 1e6   /* |phase|: <= 1e6 rad */

typedef enum { QB_NET_DETUNING, QB_NET_HOPPING, QB_NET_SQUEEZING, QB_NET_DRIVE } qb_net_kind;

/* One Hamiltonian term (docs/physics.md §7.6): modes j, k (k = j for detuning and drive),
 * value and phase (NULL: 0). */
typedef struct {
  qb_net_kind kind;
  int j, k;
  qb_expr *value, *phase;
} qb_net_term;

/* One dissipator: rate (n_th + 1) D[L] + rate n_th D[L^+], L = sum_i abs_i e^{i phase_i} a_mode_i
 * (phase NULL: 0; nth NULL: 0). */
typedef struct {
  qb_expr *rate, *nth;
  int ncoef;
  int mode[QB_NET_MODES];
  qb_expr *abs[QB_NET_MODES], *phase[QB_NET_MODES];
} qb_net_diss;

/* Field indices of one mode. */
typedef struct {
  int E, E_ss, W, W_ss, nbar, re, im;
} qb_net_mode_fields;

typedef struct qb_network {
  int nmodes, battery;
  char modes[QB_NET_MODES][QB_NET_NAME];
  int nterms, ndiss;
  qb_net_term terms[QB_NET_TERMS];
  qb_net_diss diss[QB_NET_DISS];
  int nsym;                     /* parameters 0..nsym-1 are the symbols; then t, E_max */
  char use[QB_MAX_PARAMS][128]; /* each symbol's first use: its key ... */
  size_t use_line[QB_MAX_PARAMS], use_col[QB_MAX_PARAMS]; /* ... and line:column */
  int p_t, p_emax;                                        /* their indices */
  int f_growth, f_disc_re, f_disc_im, f_P, f_tcrit;       /* field indices */
  qb_net_mode_fields f[QB_NET_MODES];
  qb_param params[QB_MAX_PARAMS];
  qb_field fields[QB_MAX_FIELDS];
  char text[QB_MAX_PARAMS + QB_MAX_FIELDS][2][256]; /* names and docs the tables point to */
  qb_model model;                                   /* the instance: its ctx is this struct */
} qb_network;

/* Builds the instance from the `network` mapping `node` of the YAML document `doc` (its nodes
 * carry line:column; `source` names the text in messages).  On error returns QB_ECONFIG (or
 * QB_ENOMEM), writes one line "source:line:column: network.KEY = 'VALUE' ...; allowed: ..." to
 * msg and sets *m = NULL.  The model is freed by qb_network_free. */
qb_err qb_network_new(yaml_document_t *doc, yaml_node_t *node, const char *source,
                      const qb_model **m, char *msg, size_t size);

/* Frees an instance built by qb_network_new (NULL: nothing). */
void qb_network_free(const qb_model *m);

/* Where symbol i (a parameter index below the instance's symbol count) is first used: its key
 * ("network.hamiltonian[1].value"), and its line:column in the config text. */
const char *qb_network_symbol_use(const qb_model *m, int i, size_t *line, size_t *col);

/* The model's description for `qbmap models` (the template: the section's keys and fields). */
extern const char qb_network_doc[];

/* The kernel (src/models/network.c), which qb_network_new puts into the instance: the row kernel
 * along t (qb_model.h's contract) and the drift's coalescence (disc, coalescence). */
void qb_network_eval_row(const qb_model *m, const double *p, const double *x, int n,
                         const bool *want, double *out);
double complex qb_network_disc(const qb_model *m, const double *p);
void qb_network_coalescence(const qb_model *m, const double *p, double *splitting, double *overlap);
extern const qb_pt_bit qb_network_status_bits[];
extern const int qb_network_nstatus;

#endif
