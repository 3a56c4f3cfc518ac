/* Model `network`: the instance from the config's `network` section (libyaml nodes, so every
 * message names line:column).  The kernel is src/models/network.c. */
#include "qbmap/qb_network.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qbmap/qb_bind.h"

#define EXPR_ALLOWED "a number or an expression over symbols (e.g. -delta, 2*g, sqrt(k1*k2)/2)"

const char qb_network_doc[] =
    "any linear bosonic network from the config's `network` section (docs/physics.md s7): "
    "modes (1-8 names), battery (a mode), hamiltonian terms {detuning: m, value}, {hopping: "
    "[m, n], value, phase}, {squeezing: [m, n], value, phase}, {drive: m, value, phase}, and "
    "dissipators {rate, L: {m: coefficient or [abs, phase]}, n_th}; every value is a number or an "
    "expression over symbols, which become the parameters (each on an axis or fixed), with t and "
    "E_max.  Fields per mode m: E_m, E_m_ss, W_m, W_m_ss (ergotropy), nbar_m, re_m, im_m; "
    "growth_rate, disc_re, disc_im, P and t_crit (battery), status.  `qbmap point network --config "
    "FILE name=value "
    "...`";

/* What the section's readers share. */
typedef struct {
  yaml_document_t *doc;
  const char *source;
  char *msg;
  size_t size;
  qb_network *net;
} nctx;

static qb_err fail(nctx *c, const yaml_node_t *n, const char *fmt, ...) {
  int k = snprintf(c->msg, c->size, "%s:%zu:%zu: ", c->source, n ? n->start_mark.line + 1 : 1,
                   n ? n->start_mark.column + 1 : 1);
  va_list ap;
  va_start(ap, fmt);
  if (k > 0 && (size_t)k < c->size) vsnprintf(c->msg + k, c->size - (size_t)k, fmt, ap);
  va_end(ap);
  return QB_ECONFIG;
}

static const char *scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(nctx *c, yaml_node_item_t id) {
  return yaml_document_get_node(c->doc, id);
}

/* The value of `key` in mapping m (NULL if absent). */
static yaml_node_t *get(nctx *c, const yaml_node_t *m, const char *key) {
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(node(c, p->key));
    if (k && strcmp(k, key) == 0) return node(c, p->value);
  }
  return NULL;
}

/* m is a mapping whose keys are all in `keys` (space-separated), none twice. */
static qb_err check_keys(nctx *c, const yaml_node_t *m, const char *path, const char *keys) {
  if (!m || m->type != YAML_MAPPING_NODE)
    return fail(c, m, "%s: not a mapping; allowed: a mapping with keys %s", path, keys);
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const yaml_node_t *kn = node(c, p->key);
    const char *k = scalar(kn);
    char pad[QB_NAME_MAX + 2];
    snprintf(pad, sizeof pad, " %s ", k ? k : "");
    char all[512];
    snprintf(all, sizeof all, " %s ", keys);
    if (!k || !k[0] || !strstr(all, pad))
      return fail(c, kn, "unknown key '%s' in %s; allowed: %s", k ? k : "?", path, keys);
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
      if (strcmp(scalar(node(c, q->key)) ? scalar(node(c, q->key)) : "", k) == 0)
        return fail(c, kn, "%s.%s is given twice; allowed: each key once", path, k);
  }
  return QB_OK;
}

/* A mode name at node n (shown as `key`): its index. */
static qb_err mode_at(nctx *c, const yaml_node_t *n, const char *key, int *j) {
  const char *s = scalar(n);
  for (*j = 0; s && *j < c->net->nmodes; (*j)++)
    if (strcmp(c->net->modes[*j], s) == 0) return QB_OK;
  char names[QB_NET_MODES * QB_NET_NAME + 8] = "";
  for (int i = 0; i < c->net->nmodes; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
             c->net->modes[i]);
  return fail(c, n, "%s = '%s' is not a mode; allowed: %s", key, s ? s : "(not a name)", names);
}

/* The symbols of e become parameters (in order of first use); binds them. */
static qb_err add_symbols(nctx *c, const yaml_node_t *n, const char *key, qb_expr *e) {
  qb_network *net = c->net;
  for (int i = 0; i < qb_expr_nsymbols(e); i++) {
    const char *s = qb_expr_symbol(e, i);
    if (strcmp(s, "t") == 0 || strcmp(s, "E_max") == 0)
      return fail(c, n,
                  "%s uses '%s'; allowed: symbols other than t and E_max (the network is "
                  "time-independent; E_max is the threshold of t_crit)",
                  key, s);
    int k = 0;
    while (k < net->nsym && strcmp(net->text[k][0], s) != 0)
      k++;
    if (k == net->nsym) {
      if (net->nsym == QB_MAX_PARAMS - 2)
        return fail(c, n, "%s: symbol '%s' is one too many; allowed: at most %d symbols", key, s,
                    QB_MAX_PARAMS - 2);
      if (strlen(s) >= QB_NAME_MAX)
        return fail(c, n, "%s: symbol '%.20s...' is too long; allowed: at most %d characters", key,
                    s, QB_NAME_MAX - 1);
      snprintf(net->text[k][0], sizeof net->text[k][0], "%s", s);
      snprintf(net->use[k], sizeof net->use[k], "%s", key);
      net->use_line[k] = n->start_mark.line + 1;
      net->use_col[k] = n->start_mark.column + 1;
      net->nsym++;
    }
    qb_expr_bind(e, i, k);
  }
  return QB_OK;
}

/* The expression at node n (shown as `key`), or NULL when n is NULL and the key is optional. */
static qb_err expr_at(nctx *c, const yaml_node_t *n, const char *key, qb_expr **e) {
  *e = NULL;
  const char *s = scalar(n);
  if (!s) return fail(c, n, "%s: not a single value; allowed: %s", key, EXPR_ALLOWED);
  char why[256];
  if (qb_expr_compile(s, e, NULL, why, sizeof why)) {
    return fail(c, n, "%s = '%s': %s; allowed: %s", key, s, why, EXPR_ALLOWED);
  }
  return add_symbols(c, n, key, *e);
}

static qb_err read_modes(nctx *c, const yaml_node_t *sec) {
  const yaml_node_t *n = get(c, sec, "modes");
  if (!n) return fail(c, sec, "network: 'modes' is missing; allowed: a list of 1 to 8 names");
  int count = n->type == YAML_SEQUENCE_NODE
                  ? (int)(n->data.sequence.items.top - n->data.sequence.items.start)
                  : 0;
  if (count < 1 || count > QB_NET_MODES)
    return fail(c, n, "network.modes: %s; allowed: a list of 1 to %d names",
                n->type == YAML_SEQUENCE_NODE ? "wrong length" : "not a list", QB_NET_MODES);
  for (int i = 0; i < count; i++) {
    const yaml_node_t *m = node(c, n->data.sequence.items.start[i]);
    const char *s = scalar(m);
    bool ok = s && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) &&
              strlen(s) < QB_NET_NAME;
    for (const char *q = s; ok && *q; q++)
      ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9');
    if (!ok)
      return fail(c, m,
                  "network.modes[%d] = '%s'; allowed: a letter then letters or digits, at "
                  "most %d characters",
                  i, s ? s : "(not a name)", QB_NET_NAME - 1);
    for (int k = 0; k < i; k++)
      if (strcmp(c->net->modes[k], s) == 0)
        return fail(c, m, "network.modes[%d] = '%s' repeats modes[%d]; allowed: distinct names", i,
                    s, k);
    snprintf(c->net->modes[i], QB_NET_NAME, "%s", s);
  }
  c->net->nmodes = count;
  c->net->battery = count - 1;
  const yaml_node_t *b = get(c, sec, "battery");
  return b ? mode_at(c, b, "network.battery", &c->net->battery) : QB_OK;
}

/* hamiltonian[i]: exactly one of detuning/hopping/squeezing/drive, value, phase. */
static const char *const kind_keys[] = {"detuning", "hopping", "squeezing", "drive"};

static qb_err read_pair(nctx *c, const yaml_node_t *n, const char *key, int *j, int *k) {
  if (!n || n->type != YAML_SEQUENCE_NODE ||
      n->data.sequence.items.top - n->data.sequence.items.start != 2)
    return fail(c, n, "%s: not a pair; allowed: a list of two modes, e.g. [a, b]", key);
  char sub[128];
  snprintf(sub, sizeof sub, "%s[0]", key);
  qb_err err = mode_at(c, node(c, n->data.sequence.items.start[0]), sub, j);
  snprintf(sub, sizeof sub, "%s[1]", key);
  return err ? err : mode_at(c, node(c, n->data.sequence.items.start[1]), sub, k);
}

static qb_err read_term(nctx *c, const yaml_node_t *t, int i) {
  char path[64], key[96];
  snprintf(path, sizeof path, "network.hamiltonian[%d]", i);
  qb_err err = check_keys(c, t, path, "detuning hopping squeezing drive value phase");
  if (err) return err;
  qb_net_term *term = &c->net->terms[c->net->nterms++];
  int found = 0;
  for (int k = 0; k < 4; k++) {
    const yaml_node_t *kn = get(c, t, kind_keys[k]);
    if (!kn) continue;
    if (found++)
      return fail(c, t,
                  "%s has two kinds; allowed: exactly one of detuning, hopping, squeezing, "
                  "drive",
                  path);
    term->kind = (qb_net_kind)k;
    snprintf(key, sizeof key, "%s.%s", path, kind_keys[k]);
    err = k == QB_NET_HOPPING || k == QB_NET_SQUEEZING ? read_pair(c, kn, key, &term->j, &term->k)
                                                       : mode_at(c, kn, key, &term->j);
    if (err) return err;
    if (k == QB_NET_DETUNING || k == QB_NET_DRIVE) term->k = term->j;
  }
  if (!found)
    return fail(c, t,
                "%s has no kind; allowed: exactly one of detuning, hopping, squeezing, "
                "drive",
                path);
  if (term->kind == QB_NET_HOPPING && term->j == term->k)
    return fail(c, t,
                "%s.hopping couples '%s' to itself; allowed: two different modes (a "
                "detuning for one)",
                path, c->net->modes[term->j]);
  const yaml_node_t *v = get(c, t, "value"), *ph = get(c, t, "phase");
  if (!v) return fail(c, t, "%s: 'value' is missing; allowed: %s", path, EXPR_ALLOWED);
  if (ph && term->kind == QB_NET_DETUNING)
    return fail(c, ph, "%s.phase on a detuning; allowed: phase on hopping, squeezing, drive", path);
  snprintf(key, sizeof key, "%s.value", path);
  err = expr_at(c, v, key, &term->value);
  snprintf(key, sizeof key, "%s.phase", path);
  return err ? err : (ph ? expr_at(c, ph, key, &term->phase) : QB_OK);
}

static qb_err read_hamiltonian(nctx *c, const yaml_node_t *sec) {
  const yaml_node_t *h = get(c, sec, "hamiltonian");
  if (!h) return QB_OK;
  if (h->type != YAML_SEQUENCE_NODE)
    return fail(c, h, "network.hamiltonian: not a list; allowed: a list of terms");
  int count = (int)(h->data.sequence.items.top - h->data.sequence.items.start);
  if (count > QB_NET_TERMS)
    return fail(c, h, "network.hamiltonian has %d terms; allowed: at most %d", count, QB_NET_TERMS);
  for (int i = 0; i < count; i++) {
    qb_err err = read_term(c, node(c, h->data.sequence.items.start[i]), i);
    if (err) return err;
  }
  return QB_OK;
}

/* L: {mode: coefficient or [abs, phase], ...} */
static qb_err read_coefs(nctx *c, const yaml_node_t *L, const char *path, qb_net_diss *d) {
  if (!L || L->type != YAML_MAPPING_NODE ||
      L->data.mapping.pairs.top == L->data.mapping.pairs.start)
    return fail(c, L, "%s.L: not a mapping of modes; allowed: e.g. {a: 1, c: [p, phi]}", path);
  for (yaml_node_pair_t *p = L->data.mapping.pairs.start; p < L->data.mapping.pairs.top; p++) {
    char key[128];
    const yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
    int j;
    snprintf(key, sizeof key, "%s.L", path);
    qb_err err = mode_at(c, kn, key, &j);
    for (int i = 0; !err && i < d->ncoef; i++)
      if (d->mode[i] == j)
        err = fail(c, kn, "%s names '%s' twice; allowed: each mode once", key, c->net->modes[j]);
    if (err) return err;
    int i = d->ncoef++;
    d->mode[i] = j;
    snprintf(key, sizeof key, "%s.L.%s", path, c->net->modes[j]);
    if (vn && vn->type == YAML_SEQUENCE_NODE) {
      if (vn->data.sequence.items.top - vn->data.sequence.items.start != 2)
        return fail(c, vn, "%s: not [abs, phase]; allowed: a value or [abs, phase]", key);
      char sub[160];
      snprintf(sub, sizeof sub, "%s[0]", key);
      err = expr_at(c, node(c, vn->data.sequence.items.start[0]), sub, &d->abs[i]);
      snprintf(sub, sizeof sub, "%s[1]", key);
      if (!err) err = expr_at(c, node(c, vn->data.sequence.items.start[1]), sub, &d->phase[i]);
    } else {
      err = expr_at(c, vn, key, &d->abs[i]);
    }
    if (err) return err;
  }
  return QB_OK;
}

static qb_err read_dissipators(nctx *c, const yaml_node_t *sec) {
  const yaml_node_t *l = get(c, sec, "dissipators");
  if (!l) return QB_OK;
  if (l->type != YAML_SEQUENCE_NODE)
    return fail(c, l, "network.dissipators: not a list; allowed: a list of {rate, L, n_th}");
  int count = (int)(l->data.sequence.items.top - l->data.sequence.items.start);
  if (count > QB_NET_DISS)
    return fail(c, l, "network.dissipators has %d entries; allowed: at most %d", count,
                QB_NET_DISS);
  for (int i = 0; i < count; i++) {
    const yaml_node_t *d = node(c, l->data.sequence.items.start[i]);
    char path[64], key[96];
    snprintf(path, sizeof path, "network.dissipators[%d]", i);
    qb_err err = check_keys(c, d, path, "rate L n_th");
    if (err) return err;
    qb_net_diss *dd = &c->net->diss[c->net->ndiss++];
    const yaml_node_t *r = get(c, d, "rate"), *nth = get(c, d, "n_th");
    if (!r) return fail(c, d, "%s: 'rate' is missing; allowed: %s", path, EXPR_ALLOWED);
    snprintf(key, sizeof key, "%s.rate", path);
    if ((err = expr_at(c, r, key, &dd->rate))) return err;
    snprintf(key, sizeof key, "%s.n_th", path);
    if (nth && (err = expr_at(c, nth, key, &dd->nth))) return err;
    const yaml_node_t *L = get(c, d, "L");
    if (!L) return fail(c, d, "%s: 'L' is missing; allowed: e.g. L: {a: 1, c: [p, phi]}", path);
    if ((err = read_coefs(c, L, path, dd))) return err;
  }
  return QB_OK;
}

/* ---- the instance's tables -------------------------------------------------------------- */

/* Parameter k: a symbol (k < nsym), t or E_max. */
static void make_param(nctx *c, int k) {
  qb_network *net = c->net;
  qb_param *p = &net->params[k];
  if (k < net->nsym) {
    snprintf(net->text[k][1], sizeof net->text[k][1],
             "symbol of the network, first used in %.120s; any finite value (what the network "
             "makes of it is checked at each point: status bad_value)",
             net->use[k]);
    *p = (qb_param){net->text[k][0], NAN, QB_ANY, false, "1", net->text[k][0],
                    net->text[k][1], 0,   0};
  } else if (k == net->p_t) {
    *p = (qb_param){"t",
                    0.0,
                    QB_NONNEG,
                    false,
                    "1",
                    "time",
                    "time since the network was started in the vacuum; t <= " QB_XSTR(QB_T_MAX),
                    QB_T_MAX,
                    0};
  } else {
    *p = (qb_param){"E_max",
                    1000.0,
                    QB_POSITIVE,
                    false,
                    "1",
                    "energy threshold",
                    "energy threshold of t_crit (quanta)" QB_DOC_IN(QB_DRIVE_MIN, QB_DRIVE_MAX),
                    QB_DRIVE_MAX,
                    QB_DRIVE_MIN};
  }
}

/* Adds field `name` (a printf format with the mode's name) and returns its index; row_const:
 * the field does not depend on t (qb_field). */
static int add_field(qb_network *net, const char *mode, const char *name, const char *label,
                     const char *doc, bool row_const) {
  int f = net->model.nfields++;
  char(*t)[256] = net->text[QB_MAX_PARAMS + f];
  snprintf(t[0], sizeof t[0], name, mode);
  snprintf(t[1], sizeof t[1], doc, mode, mode);
  net->fields[f] = (qb_field){t[0], QB_F64, "1", label, t[1], row_const};
  return f;
}

static void make_fields(qb_network *net) {
  net->f_growth =
      add_field(net, "", "growth_rate", "growth rate",
                "max Re eig of the 2n x 2n drift of the means (docs/physics.md s7)", true);
  net->f_disc_re =
      add_field(net, "", "disc_re", "Re discriminant",
                "Re of the drift's discriminant prod (l_i - l_j)^2, as its phase times "
                "the geometric mean of |(l_i - l_j)/s|^2 (docs/physics.md s7.6): zero "
                "at exceptional points; with squeezing the drift is real, disc_im = "
                "0, its EPs form lines and boundaries on disc_re map them%.0s%.0s",
                true);
  net->f_disc_im =
      add_field(net, "", "disc_im", "Im discriminant",
                "Im of the drift's discriminant (0 where the drift is real)%.0s%.0s", true);
  for (int j = 0; j < net->nmodes; j++) {
    const char *m = net->modes[j];
    qb_net_mode_fields *f = &net->f[j];
    f->E =
        add_field(net, m, "E_%s", "energy", "<%s^+%s> at time t, from the vacuum (quanta)", false);
    f->E_ss = add_field(net, m, "E_%s_ss", "steady-state energy",
                        "steady-state <%s^+%s> (NaN unless stable)", true);
    f->W = add_field(net, m, "W_%s", "ergotropy",
                     "ergotropy of mode %s at t: E - nbar (Gaussian passive state)%.0s", false);
    f->W_ss = add_field(net, m, "W_%s_ss", "steady-state ergotropy",
                        "steady-state ergotropy of mode %s (NaN unless stable)%.0s", true);
    f->nbar = add_field(net, m, "nbar_%s", "passive occupation",
                        "occupation nu - 1/2 of mode %s's passive state at t%.0s", false);
    f->re = add_field(net, m, "re_%s", "Re amplitude", "Re <%s> at t%.0s", false);
    f->im = add_field(net, m, "im_%s", "Im amplitude", "Im <%s> at t%.0s", false);
  }
  net->f_P = add_field(net, net->modes[net->battery], "P", "power",
                       "dE/dt of the battery mode %s at t%.0s", false);
  net->f_tcrit = add_field(net, net->modes[net->battery], "t_crit", "critical time",
                           "first t > 0 with the battery mode %s's E = E_max (NaN: never, status "
                           "tcrit_never, or undetermined, tcrit_failed)%.0s",
                           true);
  int s = net->model.nfields++;
  net->fields[s] = (qb_field){
      "status", QB_I32, "1", "status", "bitmask of qb_pt_* flags (0 = every field defined)", false};
}

static void make_model(nctx *c) {
  qb_network *net = c->net;
  net->p_t = net->nsym;
  net->p_emax = net->nsym + 1;
  for (int k = 0; k < net->nsym + 2; k++)
    make_param(c, k);
  net->model = (qb_model){.name = "network",
                          .doc = qb_network_doc,
                          .nparams = net->nsym + 2,
                          .params = net->params,
                          .fields = net->fields,
                          .nstatus = qb_network_nstatus,
                          .status_bits = qb_network_status_bits,
                          .eval_row = qb_network_eval_row,
                          .row_axis = net->p_t,
                          .disc = qb_network_disc,
                          .coalescence = qb_network_coalescence,
                          .ctx = net,
                          .free = qb_network_free};
  make_fields(net);
  net->model.boundary_field = net->f_growth;
}

/* Every symbol a name the output file can hold next to the network's fields
 * (qb_bind_name_problem), located at its first use. */
static qb_err check_symbol_names(nctx *c) {
  const qb_network *net = c->net;
  for (int k = 0; k < net->nsym; k++) {
    const char *why = qb_bind_name_problem(&net->model, net->text[k][0]);
    if (!why) continue;
    snprintf(c->msg, c->size,
             "%s:%zu:%zu: %s: symbol '%s' %s; allowed: other names (not a field of the network, "
             "a figure of merit's field, nor a name of the output file's record)",
             c->source, net->use_line[k], net->use_col[k], net->use[k], net->text[k][0], why);
    return QB_ECONFIG;
  }
  return QB_OK;
}

qb_err qb_network_new(yaml_document_t *doc, yaml_node_t *sec, const char *source,
                      const qb_model **m, char *msg, size_t size) {
  *m = NULL;
  qb_network *net = calloc(1, sizeof *net);
  nctx *c = calloc(1, sizeof *c);
  if (!net || !c) {
    free(net);
    free(c);
    snprintf(msg, size, "out of memory for the network");
    return QB_ENOMEM;
  }
  *c = (nctx){.doc = doc, .source = source, .msg = msg, .size = size, .net = net};
  net->model.ctx = net;
  qb_err err = check_keys(c, sec, "network", "modes battery hamiltonian dissipators");
  if (!err) err = read_modes(c, sec);
  if (!err) err = read_hamiltonian(c, sec);
  if (!err) err = read_dissipators(c, sec);
  if (!err) make_model(c);
  if (!err) err = check_symbol_names(c);
  free(c);
  if (err) {
    qb_network_free(&net->model);
    return err;
  }
  *m = &net->model;
  return QB_OK;
}

void qb_network_free(const qb_model *m) {
  if (!m) return;
  qb_network *net = (qb_network *)m->ctx;
  for (int i = 0; i < net->nterms; i++) {
    qb_expr_free(net->terms[i].value);
    qb_expr_free(net->terms[i].phase);
  }
  for (int i = 0; i < net->ndiss; i++) {
    qb_expr_free(net->diss[i].rate);
    qb_expr_free(net->diss[i].nth);
    for (int k = 0; k < net->diss[i].ncoef; k++) {
      qb_expr_free(net->diss[i].abs[k]);
      qb_expr_free(net->diss[i].phase[k]);
    }
  }
  free(net);
}

const char *qb_network_symbol_use(const qb_model *m, int i, size_t *line, size_t *col) {
  const qb_network *net = m->ctx;
  *line = net->use_line[i];
  *col = net->use_col[i];
  return net->use[i];
}
