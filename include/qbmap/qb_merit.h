/* qb_merit: the wrapper model adding battery figures of merit (docs/physics.md §8) to any model
 * with a battery energy time series E(t) along its row axis t (ep, shared, threemode: E_B;
 * network: E_<battery>), its steady state E_ss (E_B_ss, E_<battery>_ss) and growth_rate:
 *   P_avg_max    max over t > 0 of E(t)/t (the maximum average charging power),
 *   t_P_avg_max  where it is reached,
 *   t_charge_<c> the first t with E(t) = x E_ss, one field per fraction x of the config's list,
 *                named by c = 100 x with 'p' for the decimal point (0.9 -> t_charge_90,
 *                0.995 -> t_charge_99p5).
 * The wrapper has the base's parameters; its fields are the base's (status excepted), then
 * these, then `status` (the base's bits plus bits 16-17).  None of them depends on t: on a row
 * along t they are computed once (one base scan), every point of the row gets the same bits.
 * Building is not collective; an instance is read-only while it evaluates, so it is as
 * thread-safe as its base. */
#ifndef QB_MERIT_H
#define QB_MERIT_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "qbmap/qb_model.h"

#define QB_MERIT_XMAX 8        /* fractions in `merit.charge` */
#define QB_MERIT_SCAN_DEF 1024 /* default scan size (`merit.scan`) */
#define QB_MERIT_SCAN_MIN 64   /* its allowed range */
#define QB_MERIT_SCAN_MAX 8192
#define QB_MERIT_X_MIN 1e-6     /* a fraction x: 1e-6 <= x <= 0.999999 (its name stays a */
#define QB_MERIT_X_MAX 0.999999 /* plain decimal percentage) */
#define QB_MERIT_T_DECAYS 50.0  /* the scan ends at T = 50 / |growth_rate| */
#define QB_MERIT_LOG_DECADES 12 /* its log half starts at 1e-12 T */
#define QB_MERIT_RTOL 1e-12     /* root refinement: bracket width <= 1e-12 t */

/* The figures of merit's own status bits (docs/physics.md §8). */
#define QB_PT_MERIT_UNDEFINED (1u << 16) /* info: not stable, E_ss = 0, or an expression over t */
#define QB_PT_MERIT_FAILED (1u << 17)    /* failure: a scan value not computable, not resolved */

/* The `merit` section: fractions x (default {0.9}) and the scan size. */
typedef struct {
  int ncharge;
  double charge[QB_MERIT_XMAX];
  int scan;
} qb_merit_spec;

/* The defaults: charge [0.9], scan QB_MERIT_SCAN_DEF. */
void qb_merit_spec_default(qb_merit_spec *s);

/* Reads the `merit` mapping `node` of document `doc` (NULL: the defaults) into *s.  Keys:
 * charge (a list of 1..QB_MERIT_XMAX distinct fractions), scan (an integer).  On error returns
 * QB_ECONFIG with one line "source:line:column: merit.KEY = 'VALUE' ...; allowed: ...". */
qb_err qb_merit_read(yaml_document_t *doc, yaml_node_t *node, const char *source, qb_merit_spec *s,
                     char *msg, size_t size);

/* Whether `name` is one of the wrapper's field names (P_avg_max, t_P_avg_max, t_charge_*): a
 * config asking for one activates the wrapper. */
bool qb_merit_is_field(const char *name);

/* Builds the wrapper over `base` with the energy field `energy` ("E_B", "E_a"): base must have
 * the fields energy, energy + "_ss", growth_rate and a row kernel (the row axis is t); the power
 * dE/dt is used where base has it (P_B for E_B, P for a network).  On error QB_ECONFIG (or
 * QB_ENOMEM) with one sentence in msg ("... ; allowed: ...") and *m = NULL.  The wrapper does not
 * own base; qb_merit_free frees the wrapper only. */
qb_err qb_merit_new(const qb_model *base, const char *energy, const qb_merit_spec *s,
                    const qb_model **m, char *msg, size_t size);

/* Frees a wrapper built by qb_merit_new and returns its base (NULL: nothing, returns NULL). */
const qb_model *qb_merit_free(const qb_model *m);

/* The model m wraps. */
const qb_model *qb_merit_base(const qb_model *m);

/* A new wrapper like m (its energy field, its spec) over another base with the same fields (the
 * point's expressions wrapper over m's base model: `qbmap point --config`); *out is freed with
 * qb_merit_free.  Errors as qb_merit_new. */
qb_err qb_merit_rebase(const qb_model *m, const qb_model *base, const qb_model **out, char *msg,
                       size_t size);

/* The wrapper's spec (for the normalized config): "merit: {charge: [...], scan: N}\n". */
void qb_merit_yaml(const qb_model *m, char *buf, size_t size);

#endif
