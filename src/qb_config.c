/* Config parsing in two passes over the same text: libcyaml maps it onto C structs through a
 * schema (types, unknown keys, YAML syntax, with line:column from libcyaml), then the semantic
 * checks (names, ranges, sizes) run on the structs and look up line:column of the offending
 * value in a libyaml document of the same text. */
#include "qbmap/qb_config.h"

#include "qbmap/qb_bind.h"
#include "qbmap/qb_expr.h"
#include "qbmap/qb_merit.h"
#include "qbmap/qb_network.h"
#include "qbmap/qb_optim.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const char qb_config_default_text[] =
    "# qbmap default job: the EP paper's Fig. 3 (a)-(c) phase maps, extended with every field.\n"
    "model: ep\n"
    "axes:                # slowest first; the last axis is the fastest\n"
    "  - {name: gamma_b, values: [0.5, 1.0, 1.5]}\n"
    "  - {name: alpha, min: -0.75, max: 1.0, n: 351}\n"
    "  - {name: delta_r, min: -2.0, max: 2.0, n: 801}\n"
    "fixed: {E_max: 1000, t: 10}\n"
    "boundaries: {field: growth_rate, level: 0, axis: delta_r}   # refined to 1e-12\n"
    "eps: {axes: [delta_r, alpha]}                              # exceptional points\n"
    "output: qbmap_fig3.h5\n";

/* ---- libcyaml schema ---------------------------------------------------------------------- */

#define QB_UNION_MAX 64 /* distinct parameter names over all models */

#define QB_SCALAR_MAX 256 /* longest number text (fixed values: QB_EXPR_MAX_LEN) */
#define QB_LOG_LINE 300   /* longest libcyaml log line kept */
#define QB_SHOW 40        /* a value longer than this is shown as its first QB_SHOW chars... */
#define QB_YAML_DEPTH 16  /* deepest nesting of collections (a config needs 4) */
#define QB_NUMBER_ALLOWED "a finite decimal number (e.g. 2, -0.5, 1e-3)"

/* Numbers are read as text and converted by parse_number: libcyaml's own number conversion
 * takes the longest valid prefix ("1abc" -> 1, "1e3" -> 1 for an integer). */
typedef struct {
  char *name; /* `values` is read from the libyaml document (libcyaml would grow the list one
                 entry at a time: quadratic for long lists) */
  char *min, *max, *n;
  char *scale;
} y_axis;

typedef struct {
  char *v[QB_UNION_MAX];
} y_fixed;

typedef struct {
  char *field;
  char *level;
  char *axis;
} y_boundaries;

typedef struct {
  char **axes;
  unsigned axes_count;
} y_eps;

typedef struct {
  char *model;
  y_axis *axes;
  unsigned axes_count;
  y_fixed *fixed;
  char **fields;
  unsigned fields_count;
  char *output;
  y_boundaries *boundaries;
  y_eps *eps;
  char *mode;
  char *max_depth;
} y_config;

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, QB_NAME_MAX - 1)};

static const cyaml_schema_field_t axis_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, y_axis, name, 1, QB_NAME_MAX - 1),
    CYAML_FIELD_IGNORE("values", CYAML_FLAG_OPTIONAL),
    CYAML_FIELD_STRING_PTR("min", CYAML_FLAG_OPTIONAL, y_axis, min, 1, QB_SCALAR_MAX),
    CYAML_FIELD_STRING_PTR("max", CYAML_FLAG_OPTIONAL, y_axis, max, 1, QB_SCALAR_MAX),
    CYAML_FIELD_STRING_PTR("n", CYAML_FLAG_OPTIONAL, y_axis, n, 1, QB_SCALAR_MAX),
    CYAML_FIELD_STRING_PTR("scale", CYAML_FLAG_OPTIONAL, y_axis, scale, 1, 16),
    CYAML_FIELD_END};

static const cyaml_schema_value_t axis_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, y_axis, axis_fields)};

static cyaml_schema_field_t fixed_fields[QB_UNION_MAX + 1];
static const char *union_names[QB_UNION_MAX];
static int union_count;

static const cyaml_schema_field_t boundaries_fields[] = {
    CYAML_FIELD_STRING_PTR("field", CYAML_FLAG_OPTIONAL, y_boundaries, field, 1, QB_NAME_MAX - 1),
    CYAML_FIELD_STRING_PTR("level", CYAML_FLAG_OPTIONAL, y_boundaries, level, 1, QB_SCALAR_MAX),
    CYAML_FIELD_STRING_PTR("axis", CYAML_FLAG_OPTIONAL, y_boundaries, axis, 1, QB_NAME_MAX - 1),
    CYAML_FIELD_END};

static const cyaml_schema_field_t eps_fields[] = {
    CYAML_FIELD_SEQUENCE("axes", CYAML_FLAG_POINTER, y_eps, axes, &string_entry, 2, 2),
    CYAML_FIELD_END};

static const cyaml_schema_field_t config_fields[] = {
    CYAML_FIELD_STRING_PTR("model", CYAML_FLAG_POINTER, y_config, model, 1, QB_NAME_MAX - 1),
    CYAML_FIELD_IGNORE("network", CYAML_FLAG_OPTIONAL),
    CYAML_FIELD_IGNORE("symbols", CYAML_FLAG_OPTIONAL),  /* qb_bind: read from the document */
    CYAML_FIELD_IGNORE("optimize", CYAML_FLAG_OPTIONAL), /* read by wrap_optim */
    CYAML_FIELD_SEQUENCE("axes", CYAML_FLAG_POINTER, y_config, axes, &axis_entry, 1, QB_MAX_AXES),
    {.key = "fixed",
     .data_offset = offsetof(y_config, fixed),
     .value = {.type = CYAML_MAPPING,
               .flags = CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
               .data_size = sizeof(y_fixed),
               .mapping = {.fields = fixed_fields}}},
    CYAML_FIELD_SEQUENCE("fields", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, y_config, fields,
                         &string_entry, 1, QB_MAX_FIELDS),
    CYAML_FIELD_STRING_PTR("output", CYAML_FLAG_OPTIONAL, y_config, output, 1, 4095),
    CYAML_FIELD_MAPPING_PTR("boundaries", CYAML_FLAG_OPTIONAL, y_config, boundaries,
                            boundaries_fields),
    CYAML_FIELD_MAPPING_PTR("eps", CYAML_FLAG_OPTIONAL, y_config, eps, eps_fields),
    CYAML_FIELD_STRING_PTR("mode", CYAML_FLAG_OPTIONAL, y_config, mode, 1, 16),
    CYAML_FIELD_STRING_PTR("max_depth", CYAML_FLAG_OPTIONAL, y_config, max_depth, 1, QB_SCALAR_MAX),
    CYAML_FIELD_IGNORE("merit", CYAML_FLAG_OPTIONAL), /* read by wrap_merit */
    CYAML_FIELD_END};

static const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_config, config_fields)};

/* Model network: the same keys, but `fixed` names the network's own symbols, so it is read from
 * the libyaml document (parse_fixed_doc) once the network is built. */
#define QB_CONFIG_KEYS (sizeof config_fields / sizeof *config_fields)
static cyaml_schema_field_t network_fields[QB_CONFIG_KEYS];
static const cyaml_schema_value_t network_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_config, network_fields)};

/* `fixed` accepts the union of all models' parameter names; membership in the chosen model is
 * checked afterwards (so the message can list the model's own parameters). */
static void build_fixed_schema(void) {
  if (union_count) return;
  for (size_t k = 0; k < QB_CONFIG_KEYS; k++)
    network_fields[k] = strcmp(config_fields[k].key ? config_fields[k].key : "", "fixed") == 0
                            ? (cyaml_schema_field_t)CYAML_FIELD_IGNORE("fixed", CYAML_FLAG_OPTIONAL)
                            : config_fields[k];
  for (int m = 0; qb_models[m]; m++)
    for (int i = 0; i < qb_models[m]->nparams; i++) {
      const char *name = qb_models[m]->params[i].name;
      int seen = 0;
      for (int k = 0; k < union_count; k++)
        seen |= strcmp(union_names[k], name) == 0;
      if (!seen && union_count < QB_UNION_MAX) union_names[union_count++] = name;
    }
  for (int k = 0; k < union_count; k++)
    fixed_fields[k] = (cyaml_schema_field_t){
        .key = union_names[k],
        .data_offset = (uint32_t)(offsetof(y_fixed, v) + (size_t)k * sizeof(double *)),
        .value = {.type = CYAML_STRING,
                  .flags = CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                  .data_size = sizeof(char),
                  .string = {.min = 1, .max = QB_EXPR_MAX_LEN}}}; /* a number or expression */
  fixed_fields[union_count] = (cyaml_schema_field_t)CYAML_FIELD_END;
}

typedef struct {
  char buf[2048];
  size_t used;
} log_capture;

static void cyaml_log_to_buffer(cyaml_log_t level, void *ctx, const char *fmt, va_list args) {
  log_capture *lc = ctx;
  if (level < CYAML_LOG_ERROR || lc->used >= sizeof lc->buf - 1) return;
  char line[QB_LOG_LINE]; /* one log line, shortened: a long value must not push the */
  int n = vsnprintf(line, sizeof line, fmt, args); /* location lines out of the buffer */
  if (n >= (int)sizeof line) snprintf(line + sizeof line - 5, 5, "...\n");
  if (n > 0)
    lc->used += (size_t)snprintf(lc->buf + lc->used, sizeof lc->buf - lc->used, "%s", line);
  if (lc->used > sizeof lc->buf - 1) lc->used = sizeof lc->buf - 1;
}

/* t as a message shows it: itself, or its first QB_SHOW characters and "..." (buf: at least
 * QB_SHOW + 4 bytes). */
static const char *short_value(const char *t, char *buf, size_t size) {
  snprintf(buf, size, "%.*s%s", QB_SHOW, t, strlen(t) > QB_SHOW ? "..." : "");
  return buf;
}

/* ---- numbers ------------------------------------------------------------------------------ */

/* The whole text `s` as a finite decimal number: optional sign, digits with an optional point,
 * optional exponent.  No hex, octal, underscores, spaces, inf or nan.  Returns false otherwise
 * (also on overflow). */
static bool number_syntax(const char *s) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  size_t digits = strspn(p, "0123456789");
  p += digits;
  if (*p == '.') {
    size_t frac = strspn(++p, "0123456789");
    p += frac;
    digits += frac;
  }
  if (!digits) return false;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    size_t e = strspn(p, "0123456789");
    if (!e) return false;
    p += e;
  }
  return *p == '\0';
}

bool qb_config_parse_number(const char *s, double *v) {
  if (!number_syntax(s)) return false;
  *v = strtod(s, NULL);
  return isfinite(*v);
}

/* What is wrong with a text that qb_config_parse_number refused. */
static const char *not_number(const char *s) {
  return number_syntax(s) ? "is out of range" : "is not a number";
}

/* As qb_config_parse_number, and integral with |v| <= 2^53 ("1e3" is 1000; "5.7" is not). */
static bool parse_integer(const char *s, int64_t *v) {
  double d;
  if (!qb_config_parse_number(s, &d) || d != floor(d) || fabs(d) > 9007199254740992.0) return false;
  *v = (int64_t)d;
  return true;
}

/* ---- screening ---------------------------------------------------------------------------- */

/* "line:column" (1-based, columns in bytes) of byte `offset` of `text`. */
static void offset_position(const char *text, size_t offset, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < offset && text[i]; i++) {
    if (text[i] == '\n')
      ++*line, *col = 1;
    else
      ++*col;
  }
}

#define TOP_KEYS                                                                                   \
  "model, network, symbols, axes, fixed, fields, output, boundaries, eps, mode, max_depth, "       \
  "merit, optimize"
static const char yaml_keys[] = "allowed: a YAML mapping with keys " TOP_KEYS;

/* The message for a libyaml parser error: reader errors (invalid UTF-8) by byte offset. */
static void yaml_error(const yaml_parser_t *p, const char *text, const char *source, char *msg,
                       size_t msgsize) {
  size_t line, col;
  if (p->error == YAML_READER_ERROR) {
    offset_position(text, p->problem_offset, &line, &col);
    snprintf(msg, msgsize, "%s:%zu:%zu: not UTF-8 text: %s (byte 0x%02x); allowed: UTF-8", source,
             line, col, p->problem ? p->problem : "invalid byte",
             (unsigned)(p->problem_value & 0xff));
    return;
  }
  line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
  snprintf(msg, msgsize, "%s:%zu:%zu: YAML syntax error: %s%s%s; %s", source, line, col,
           p->problem ? p->problem : "syntax error", p->context ? " " : "",
           p->context ? p->context : "", yaml_keys);
}

/* One event of the screening pass: counts documents and nesting depth, refuses aliases. */
static qb_err yaml_screen_event(const yaml_event_t *ev, int *docs, int *depth, const char *source,
                                char *msg, size_t msgsize) {
  size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (++*docs <= 1) return QB_OK;
    snprintf(msg, msgsize, "%s:%zu:%zu: a second YAML document; allowed: one document", source,
             line, col);
    return QB_ECONFIG;
  case YAML_ALIAS_EVENT:
    snprintf(msg, msgsize,
             "%s:%zu:%zu: YAML alias '*%.64s'; allowed: values written out (anchors "
             "and aliases are not supported)",
             source, line, col, (const char *)ev->data.alias.anchor);
    return QB_ECONFIG;
  case YAML_SEQUENCE_START_EVENT:
  case YAML_MAPPING_START_EVENT:
    if (++*depth <= QB_YAML_DEPTH) return QB_OK;
    snprintf(msg, msgsize, "%s:%zu:%zu: YAML nested more than %d levels deep; allowed: at most %d",
             source, line, col, QB_YAML_DEPTH, QB_YAML_DEPTH);
    return QB_ECONFIG;
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    --*depth;
    return QB_OK;
  default:
    return QB_OK;
  }
}

/* A linear-time pass of libyaml's event parser before anything builds a tree: syntax errors
 * located (reader errors such as invalid UTF-8 by byte offset), exactly one document, no
 * aliases (libcyaml would expand them), nesting at most QB_YAML_DEPTH (libyaml's scanner costs
 * O(depth) per token, so a deep text would otherwise take quadratic time). */
static qb_err yaml_screen(const char *text, const char *source, char *msg, size_t msgsize) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    snprintf(msg, msgsize, "out of memory starting the YAML parser");
    return QB_ENOMEM;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
  qb_err err = QB_OK;
  int depth = 0, docs = 0, done = 0;
  while (!done && !err) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      yaml_error(&p, text, source, msg, msgsize);
      err = QB_ECONFIG;
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    err = yaml_screen_event(&ev, &docs, &depth, source, msg, msgsize);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  return err;
}

/* ---- locations from libyaml ------------------------------------------------------------- */

typedef struct {
  yaml_document_t doc;
  int loaded, ok;
  const char *source;
  char problem[256]; /* libyaml's syntax error, "" if none */
  size_t pline, pcol;
} yloc;

static void yloc_open(yloc *L, const char *text, const char *source) {
  yaml_parser_t p;
  L->loaded = L->ok = 0;
  L->source = source;
  L->problem[0] = '\0';
  if (!yaml_parser_initialize(&p)) return;
  yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
  L->loaded = yaml_parser_load(&p, &L->doc);
  L->ok = L->loaded && yaml_document_get_root_node(&L->doc);
  if (!L->loaded) {
    snprintf(L->problem, sizeof L->problem, "%s%s%s", p.problem ? p.problem : "syntax error",
             p.context ? " " : "", p.context ? p.context : "");
    L->pline = p.problem_mark.line + 1;
    L->pcol = p.problem_mark.column + 1;
  }
  yaml_parser_delete(&p);
}

static void yloc_close(yloc *L) {
  if (L->loaded) yaml_document_delete(&L->doc);
}

/* Node at "a/1/b" (mapping keys and sequence indices); `want_key` returns the key node of the
 * last mapping step instead of its value. */
static yaml_node_t *yloc_node(yloc *L, const char *path, int want_key) {
  if (!L->ok) return NULL;
  yaml_node_t *node = yaml_document_get_root_node(&L->doc);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *seg = strtok(buf, "/"); seg && node; seg = strtok(NULL, "/")) {
    char *next = seg + strlen(seg) + 1;
    int last = (size_t)(next - buf) > strlen(path);
    if (node->type == YAML_SEQUENCE_NODE) {
      long idx = strtol(seg, NULL, 10);
      yaml_node_item_t *it = node->data.sequence.items.start;
      node = (idx >= 0 && it + idx < node->data.sequence.items.top)
                 ? yaml_document_get_node(&L->doc, it[idx])
                 : NULL;
    } else if (node->type == YAML_MAPPING_NODE) {
      yaml_node_t *found = NULL;
      for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top;
           pr++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, pr->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, seg) == 0)
          found = yaml_document_get_node(&L->doc, (want_key && last) ? pr->key : pr->value);
      }
      node = found;
    } else {
      node = NULL;
    }
  }
  return node;
}

/* "source:line:column" of the node at path, or of the closest existing ancestor. */
static const char *where(yloc *L, const char *path, int want_key, char *buf, size_t size) {
  char p[256];
  snprintf(p, sizeof p, "%s", path);
  for (;;) {
    yaml_node_t *n = yloc_node(L, p, want_key);
    if (n) {
      snprintf(buf, size, "%s:%zu:%zu", L->source, n->start_mark.line + 1,
               n->start_mark.column + 1);
      return buf;
    }
    char *slash = strrchr(p, '/');
    if (!slash) break;
    *slash = '\0';
    want_key = 0;
  }
  snprintf(buf, size, "%s", L->source);
  return buf;
}

/* The key of the mapping at `path` that libcyaml's log names by `prefix` (its log line ends at
 * a newline inside the key): the key itself if present, else the first key starting with it. */
static const char *full_key(yloc *L, const char *path, const char *prefix) {
  yaml_node_t *m =
      path[0] ? yloc_node(L, path, 0) : (L->ok ? yaml_document_get_root_node(&L->doc) : NULL);
  if (!m || m->type != YAML_MAPPING_NODE) return prefix;
  const char *found = NULL;
  for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(&L->doc, pr->key);
    if (!k || k->type != YAML_SCALAR_NODE) continue;
    const char *ks = (const char *)k->data.scalar.value;
    if (strcmp(ks, prefix) == 0) return prefix;
    if (!found && strncmp(ks, prefix, strlen(prefix)) == 0) found = ks;
  }
  return found ? found : prefix;
}

/* libcyaml's log read back: the reason, and the path of the offending node (innermost first in
 * the log; stored here as "a/0/b" for yloc and "a[0].b" for messages). */
typedef struct {
  char reason[512];
  char segs[8][QB_NAME_MAX];
  int nseg, first; /* segs[first..nseg) form the path */
  char path[256], dotted[256];
} cyaml_report;

static bool is_index(const char *seg) {
  return seg[0] >= '0' && seg[0] <= '9';
}

/* The log is the reason, then a backtrace of "in mapping field 'x'" / "in sequence entry 'n'". */
static void report_read(const char *log, cyaml_report *r) {
  memset(r, 0, sizeof *r);
  const char *q = strstr(log, "Load: ");
  snprintf(r->reason, sizeof r->reason, "%.500s", q ? q + 6 : log);
  r->reason[strcspn(r->reason, "\n")] = '\0';
  for (const char *b = log; (b = strstr(b, "in ")) != NULL && r->nseg < 8; b += 3) {
    bool entry = strncmp(b, "in sequence entry '", 19) == 0;
    if (!entry && strncmp(b, "in mapping field '", 18) != 0) continue;
    const char *name = b + (entry ? 19 : 18), *end = strchr(name, '\'');
    if (!end) break;
    long idx = strtol(name, NULL, 10);
    if (entry && idx < 1) continue; /* before the first entry */
    if (entry)                      /* libcyaml counts entries from 1 */
      snprintf(r->segs[r->nseg++], QB_NAME_MAX, "%ld", idx - 1);
    else
      snprintf(r->segs[r->nseg++], QB_NAME_MAX, "%.*s", (int)(end - name), name);
  }
  /* a missing field is reported inside the last field read: locate its mapping instead */
  bool inner_idx = r->nseg > 0 && is_index(r->segs[0]);
  r->first = (strstr(r->reason, "Missing required") && r->nseg > 0 && !inner_idx) ||
             (strstr(r->reason, "Excessive entries") && inner_idx);
  for (int k = r->nseg - 1; k >= r->first; k--) {
    size_t lp = strlen(r->path), ld = strlen(r->dotted);
    bool idx = is_index(r->segs[k]);
    snprintf(r->path + lp, sizeof r->path - lp, "%s%s", lp ? "/" : "", r->segs[k]);
    snprintf(r->dotted + ld, sizeof r->dotted - ld, idx ? "[%s]" : "%s%s",
             idx ? r->segs[k] : (ld ? "." : ""), idx ? "" : r->segs[k]);
  }
}

/* What the section that holds the offending node allows. */
static const char *section_allowed(const cyaml_report *r, yloc *L, char *params, size_t size) {
  const char *top = r->nseg >= 1 ? r->segs[r->nseg - 1] : "";
  bool inside = r->nseg - r->first >= 1;
  if (strcmp(top, "fixed") == 0) {
    yaml_node_t *mn = yloc_node(L, "model", 0);
    const qb_model *m = mn && mn->type == YAML_SCALAR_NODE
                            ? qb_model_find((const char *)mn->data.scalar.value)
                            : NULL;
    snprintf(params, size, m ? "parameters of model %s: " : "parameter: number", m ? m->name : "");
    if (m) qb_model_param_names(m, params + strlen(params), size - strlen(params));
    return params;
  }
  if (strcmp(top, "fields") == 0) return "a list of field names";
  if (inside && strcmp(top, "boundaries") == 0) return "boundaries keys field, level, axis";
  if (inside && strcmp(top, "eps") == 0) return "eps key axes: a list of two axis names";
  if (inside && strcmp(top, "axes") == 0)
    return r->nseg - r->first == 1 ? "a list of 1 to 8 axes"
                                   : "axis keys name, values, min, max, n, scale";
  return TOP_KEYS;
}

/* Rewrites libcyaml's words for common cases in the user's terms; returns what is allowed. */
static const char *user_terms(cyaml_report *r, const char *allowed, char *buf, size_t size) {
  long lim = 0;
  char *tail = strstr(r->reason, "STRING length > ");
  if (tail && sscanf(tail + 16, "%ld", &lim) == 1) {
    const char *val = strchr(tail, ':');
    int show = val && strlen(val) > 2 ? (int)(strlen(val + 2) < 39 ? strlen(val + 2) : 39) : 0;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "'%.*s...' is longer than %ld characters", show, val ? val + 2 : "",
             lim);
    snprintf(r->reason, sizeof r->reason, "%s", tmp);
    const bool fixed = r->nseg - r->first >= 2 && strcmp(r->segs[r->first + 1], "fixed") == 0;
    snprintf(buf, size, "at most %ld characters%s", lim,
             fixed ? " (a number or an expression)" : "");
    return buf;
  }
  if (strstr(r->reason, "STRING length < 1")) snprintf(r->reason, sizeof r->reason, "empty value");
  if (strstr(r->reason, "Insufficient entries (0 of"))
    snprintf(r->reason, sizeof r->reason, "empty list");
  /* numbers are read as strings (see y_axis): say what a number key wanted */
  const char *last = r->nseg > r->first ? r->segs[r->first] : "";
  const char *parent = r->nseg - r->first >= 2 ? r->segs[r->first + 1] : "";
  bool number = strcmp(last, "min") == 0 || strcmp(last, "max") == 0 || strcmp(last, "n") == 0 ||
                strcmp(last, "level") == 0 || strcmp(last, "max_depth") == 0 ||
                strcmp(parent, "fixed") == 0 || strcmp(parent, "values") == 0;
  bool empty = strcmp(r->reason, "empty value") == 0;
  if (number && (empty || strstr(r->reason, "STRING"))) {
    snprintf(r->reason, sizeof r->reason, "%s", empty ? "no value" : "not a single value");
    return QB_NUMBER_ALLOWED;
  }
  return allowed;
}

/* Turns libcyaml's log into one message located by our own libyaml document. */
static void cyaml_message(const char *log, yloc *L, char *msg, size_t msgsize) {
  char at[512], params[1024], buf[64];
  if (L->problem[0] || !L->ok) {
    snprintf(msg, msgsize, "%s:%zu:%zu: YAML syntax error: %s; %s", L->source,
             L->problem[0] ? L->pline : 1, L->problem[0] ? L->pcol : 1,
             L->problem[0] ? L->problem : "empty document", yaml_keys);
    return;
  }
  cyaml_report r;
  report_read(log, &r);
  const char *allowed = section_allowed(&r, L, params, sizeof params);
  const char *key = strstr(r.reason, "Unexpected key: ");
  if (key) {
    key = full_key(L, r.path, key + 16);
    char kp[320];
    snprintf(kp, sizeof kp, "%s%s%s", r.path, r.path[0] ? "/" : "", key);
    snprintf(msg, msgsize, "%s: unknown key '%s'%s%s; allowed: %s", where(L, kp, 1, at, sizeof at),
             key, r.dotted[0] ? " in " : " at the top level", r.dotted, allowed);
    return;
  }
  allowed = user_terms(&r, allowed, buf, sizeof buf);
  snprintf(msg, msgsize, "%s: %s%s%s; allowed: %s", where(L, r.path, 0, at, sizeof at), r.dotted,
           r.dotted[0] ? ": " : "", r.reason, allowed);
}

/* ---- validation ------------------------------------------------------------------------- */

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

qb_err qb_config_parse_assignment(const qb_model *m, const char *arg, double *p, bool *given,
                                  char *msg, size_t msgsize) {
  char names[1024];
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) {
    qb_model_param_names(m, names, sizeof names);
    snprintf(msg, msgsize, "'%s' is not name=value; allowed names for model %s: %s", arg, m->name,
             names);
    return QB_EUSAGE;
  }
  char name[QB_NAME_MAX];
  snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
  int i = qb_model_param_index(m, name);
  if (i < 0) {
    qb_model_param_names(m, names, sizeof names);
    char sh[QB_SHOW + 4];
    snprintf(msg, msgsize, "unknown parameter '%s' in '%s'; allowed for model %s: %s", name,
             short_value(arg, sh, sizeof sh), m->name, names);
    return QB_EUSAGE;
  }
  double v;
  if (!qb_config_parse_number(eq + 1, &v)) {
    char sh[QB_SHOW + 4];
    snprintf(msg, msgsize, "parameter '%s' = '%s' %s; allowed: %s", name,
             short_value(eq + 1, sh, sizeof sh), not_number(eq + 1), QB_NUMBER_ALLOWED);
    return QB_EUSAGE;
  }
  if (qb_model_check_value(m, i, v, msg, msgsize)) return QB_EUSAGE;
  p[i] = v;
  given[i] = true;
  return QB_OK;
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    if (!*buf) return;
    va_start(ap, fmt);
    int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (*len + (size_t)n < *cap) {
      *len += (size_t)n;
      return;
    }
    *cap = 2 * (*cap + (size_t)n);
    char *nb = realloc(*buf, *cap);
    if (!nb) {
      free(*buf);
      *buf = NULL;
      return;
    }
    *buf = nb;
  }
}

/* Text t as a YAML double-quoted scalar. */
static void append_quoted(const char *t, char **s, size_t *len, size_t *cap) {
  append(s, len, cap, "\"");
  for (const unsigned char *q = (const unsigned char *)t; *q; q++)
    append(s, len, cap, *q == '"' || *q == '\\' ? "\\%c" : *q < 0x20 ? "\\x%02x" : "%c", *q);
  append(s, len, cap, "\"");
}

/* Node n of document d in YAML flow style, every scalar double-quoted: the same data, one line. */
static void emit_node(yaml_document_t *d, const yaml_node_t *n, char **s, size_t *len,
                      size_t *cap) {
  if (!n) return;
  if (n->type == YAML_SCALAR_NODE) {
    append(s, len, cap, "\"");
    for (const unsigned char *q = n->data.scalar.value; *q; q++)
      append(s, len, cap, *q == '"' || *q == '\\' ? "\\%c" : *q < 0x20 ? "\\x%02x" : "%c", *q);
    append(s, len, cap, "\"");
  } else if (n->type == YAML_SEQUENCE_NODE) {
    append(s, len, cap, "[");
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
      append(s, len, cap, i > n->data.sequence.items.start ? ", " : "");
      emit_node(d, yaml_document_get_node(d, *i), s, len, cap);
    }
    append(s, len, cap, "]");
  } else if (n->type == YAML_MAPPING_NODE) {
    append(s, len, cap, "{");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
      append(s, len, cap, p > n->data.mapping.pairs.start ? ", " : "");
      emit_node(d, yaml_document_get_node(d, p->key), s, len, cap);
      append(s, len, cap, ": ");
      emit_node(d, yaml_document_get_node(d, p->value), s, len, cap);
    }
    append(s, len, cap, "}");
  }
}

/* `symbols: [a, b]` of the expressions wrapper (nothing without symbols). */
static void normalize_symbols(const qb_config *c, char **s, size_t *len, size_t *cap) {
  const int ns = qb_bind_nsymbols(c->bind ? c->bind : c->model);
  if (!ns) return;
  const qb_model *b = c->bind;
  append(s, len, cap, "symbols: [");
  for (int k = 0; k < ns; k++)
    append(s, len, cap, "%s%s", k ? ", " : "", b->params[b->nparams - ns + k].name);
  append(s, len, cap, "]\n");
}

/* The normalized `axes:` section: every axis with min, max, n and scale, or its values. */
static void normalize_axes(const qb_config *c, char **s, size_t *len, size_t *cap) {
  append(s, len, cap, "axes:\n");
  for (int d = 0; d < c->grid.ndim; d++) {
    const qb_axis *a = &c->grid.axes[d];
    if (a->kind == QB_AXIS_LIST) {
      append(s, len, cap, "  - {name: %s, values: [", a->name);
      for (int64_t i = 0; i < a->n; i++)
        append(s, len, cap, "%s%.17g", i ? ", " : "", a->values[i]);
      append(s, len, cap, "]}\n");
    } else {
      append(s, len, cap, "  - {name: %s, min: %.17g, max: %.17g, n: %lld, scale: %s}\n", a->name,
             a->min, a->max, (long long)a->n, a->kind == QB_AXIS_LOG ? "log" : "lin");
    }
  }
}

/* The normalized `fixed:` mapping: every parameter on no axis with its value or expression. */
static void normalize_fixed(const qb_config *c, char **s, size_t *len, size_t *cap) {
  const qb_model *m = c->model;
  append(s, len, cap, "fixed: {");
  int first = 1;
  for (int i = 0; i < m->nparams; i++) {
    int on_axis = 0;
    for (int d = 0; d < c->grid.ndim; d++)
      on_axis |= c->grid.axes[d].param == i;
    const char *expr = /* the bind's own index by name (optimize removes a parameter) */
        c->bind ? qb_bind_expression(c->bind, qb_model_param_index(c->bind, m->params[i].name))
                : NULL;
    if (on_axis || (isnan(c->fixed[i]) && !expr)) continue;
    append(s, len, cap, "%s%s: ", first ? "" : ", ", m->params[i].name);
    if (expr)
      append_quoted(expr, s, len, cap);
    else
      append(s, len, cap, "%.17g", c->fixed[i]);
    first = 0;
  }
  append(s, len, cap, "}\n");
}

static char *normalize(const qb_config *c, yloc *L) {
  size_t len = 0, cap = 4096;
  char *s = malloc(cap);
  if (!s) return NULL;
  s[0] = '\0';
  const qb_model *m = c->model;
  append(&s, &len, &cap, "model: %s\n", m->name);
  if (yloc_node(L, "network", 0)) { /* only with model network (parse_model) */
    append(&s, &len, &cap, "network: ");
    emit_node(&L->doc, yloc_node(L, "network", 0), &s, &len, &cap);
    append(&s, &len, &cap, "\n");
  }
  normalize_symbols(c, &s, &len, &cap);
  if (c->optim) { /* wrap_optim: the top wrapper */
    char spec[1024];
    qb_optim_describe(c->optim, spec, sizeof spec);
    append(&s, &len, &cap, "optimize: %s\n", spec);
  }
  normalize_axes(c, &s, &len, &cap);
  normalize_fixed(c, &s, &len, &cap);
  append(&s, &len, &cap, "fields: [");
  for (int k = 0; k < c->nfields; k++)
    append(&s, &len, &cap, "%s%s", k ? ", " : "", m->fields[c->fields[k]].name);
  append(&s, &len, &cap, "]\n");
  if (c->output[0]) append(&s, &len, &cap, "output: %s\n", c->output);
  if (c->boundaries.on)
    append(&s, &len, &cap, "boundaries: {field: %s, level: %.17g, axis: %s}\n",
           m->fields[c->boundaries.field].name, c->boundaries.level,
           c->grid.axes[c->boundaries.axis].name);
  if (c->eps.on)
    append(&s, &len, &cap, "eps: {axes: [%s, %s]}\n", c->grid.axes[c->eps.ax].name,
           c->grid.axes[c->eps.ay].name);
  if (c->adaptive_depth)
    append(&s, &len, &cap, "mode: adaptive\nmax_depth: %d\n", c->adaptive_depth);
  if (c->merit) {
    char line[512];
    qb_merit_yaml(c->merit, line, sizeof line);
    append(&s, &len, &cap, "%s", line);
  }
  return s;
}

/* ---- sections --------------------------------------------------------------------------- */

/* What the section parsers share.  Each returns QB_OK or an error with one message in msg. */
typedef struct {
  const y_config *y;
  qb_config *cfg;
  const qb_model *m;
  const qb_model *net; /* model network's instance (the base of any wrappers), else NULL */
  yloc L;
  char *msg;
  size_t msgsize;
  char names[2048];           /* the model's parameter names, for messages */
  const qb_model *base;       /* the model before the wrappers (a built-in one or the network) */
  qb_model *bind;             /* the expressions wrapper while it is built (wrap_bind), else NULL */
  bool bind_doc;              /* `symbols:` given: `fixed` is read from the document */
  bool by_set[QB_MAX_PARAMS]; /* parameter i of the bind given by --set */
} pctx;

/* The one location helper: msg = "source:line:column: " (the node at YAML path `path`, its key
 * if want_key; "source: " for path "") + the formatted text.  Returns QB_ECONFIG. */
static qb_err fail_at(pctx *c, const char *path, int want_key, const char *fmt, ...) {
  char at[512];
  int n = snprintf(c->msg, c->msgsize,
                   "%s: ", path[0] ? where(&c->L, path, want_key, at, sizeof at) : c->L.source);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < c->msgsize) vsnprintf(c->msg + n, c->msgsize - (size_t)n, fmt, ap);
  va_end(ap);
  return QB_ECONFIG;
}

static qb_err out_of_memory(pctx *c, const char *what) {
  snprintf(c->msg, c->msgsize, "out of memory for %s", what);
  return QB_ENOMEM;
}

/* A number at YAML path `path` (shown as `key`) that must also be a valid value of parameter
 * pi (pi < 0: any finite number). */
static qb_err number_at(pctx *c, const char *path, const char *key, const char *text, int pi,
                        double *v) {
  char sh[QB_SHOW + 4];
  if (!qb_config_parse_number(text, v))
    return fail_at(c, path, 0, "%s = '%s' %s; allowed: %s", key, short_value(text, sh, sizeof sh),
                   not_number(text), QB_NUMBER_ALLOWED);
  char why[512];
  if (pi >= 0 && qb_model_check_value(c->m, pi, *v, why, sizeof why))
    return fail_at(c, path, 0, "%s: %s", key, why);
  return QB_OK;
}

/* ---- expressions: the wrapper qb_bind (README, "Config reference") ---------------------- */

/* Whether a value that is not a number is meant as an expression: it has an operator or a
 * parenthesis, or names a parameter or symbol of m or pi.  Other non-numbers ("1e3x", "one",
 * "inf") keep the number's message. */
static bool is_expression(const qb_model *m, const char *s) {
  static const char idch[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";
  if (number_syntax(s)) return false;
  if (strpbrk(s, "*/^()")) return true;
  for (const char *q = s + (*s != '\0'); *q; q++) /* a + or - that is not an exponent's sign */
    if ((*q == '+' || *q == '-') && q[-1] != 'e' && q[-1] != 'E') return true;
  for (const char *q = s; *q;) {
    const bool head = strchr(idch, *q) && !(*q >= '0' && *q <= '9');
    if (!head || (q > s && (strchr(idch, q[-1]) || q[-1] == '.'))) {
      q++;
      continue;
    }
    const size_t n = strspn(q, idch);
    char name[QB_NAME_MAX];
    if (n < sizeof name) {
      memcpy(name, q, n);
      name[n] = '\0';
      if (qb_model_param_index(m, name) >= 0 || strcmp(name, "pi") == 0) return true;
    }
    q += n;
  }
  return false;
}

/* The wrapper over the model just built, with the `symbols:` list (names that are not
 * parameters): the config's model while the sections are read (wrap_bind decides whether it
 * stays). */
static qb_err wrap_bind_open(pctx *c) {
  const yaml_node_t *sn = yloc_node(&c->L, "symbols", 0);
  const char *names[QB_MAX_PARAMS];
  int n = 0;
  if (sn) {
    c->bind_doc = true;
    if (sn->type != YAML_SEQUENCE_NODE)
      return fail_at(c, "symbols", 0,
                     "symbols: not a list; allowed: a list of new names, e.g. [alpha, delta_r]");
    yaml_node_item_t *it = sn->data.sequence.items.start;
    const long count = sn->data.sequence.items.top - it;
    if (count > QB_MAX_PARAMS - c->m->nparams)
      return fail_at(c, "symbols", 0,
                     "symbols: %ld names; allowed: at most %d symbols and parameters of model %s "
                     "together",
                     count, QB_MAX_PARAMS, c->m->name);
    for (long k = 0; k < count; k++) {
      const yaml_node_t *v = yaml_document_get_node(&c->L.doc, it[k]);
      char path[32];
      snprintf(path, sizeof path, "symbols/%ld", k);
      if (!v || v->type != YAML_SCALAR_NODE)
        return fail_at(c, path, 0, "symbols[%ld]: not a name; allowed: a list of new names", k);
      names[n++] = (const char *)v->data.scalar.value;
    }
  }
  int bad;
  char why[1024];
  qb_err err = qb_bind_new(c->m, names, n, &c->bind, &bad, why, sizeof why);
  if (err == QB_ENOMEM) return out_of_memory(c, "the expressions");
  if (err) {
    char path[32];
    snprintf(path, sizeof path, "symbols/%d", bad);
    return fail_at(c, bad >= 0 ? path : "symbols", 0, "symbols: %s", why);
  }
  c->cfg->bind = c->m = c->cfg->model = c->bind;
  qb_model_defaults(c->m, c->cfg->fixed, c->cfg->given);
  qb_model_param_names(c->m, c->names, sizeof c->names);
  return QB_OK;
}

/* fixed.NAME (YAML path `path`, shown as `key`) = the expression text. */
static qb_err expression_at(pctx *c, const char *path, const char *key, int pi, const char *text) {
  char why[2048];
  /* pi indexes the config's model: the bind's own index by name (optimize removes one) */
  qb_err err = qb_bind_set(c->bind, qb_model_param_index(c->bind, c->m->params[pi].name), text, why,
                           sizeof why);
  if (err == QB_ENOMEM) return out_of_memory(c, "an expression");
  char sh[QB_SHOW + 4];
  if (err) return fail_at(c, path, 0, "%s = '%s': %s", key, short_value(text, sh, sizeof sh), why);
  c->cfg->fixed[pi] = NAN;
  c->cfg->given[pi] = true;
  return QB_OK;
}

/* --set NAME=EXPR: *done if arg gave parameter NAME an expression; a number for NAME drops its
 * expression (the number itself is parse_sets' business). */
static qb_err set_expression(pctx *c, const char *arg, bool *done) {
  const char *eq = strchr(arg, '=');
  *done = false;
  if (!eq || eq == arg || (size_t)(eq - arg) >= QB_NAME_MAX) return QB_OK;
  char name[QB_NAME_MAX], why[2048];
  snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
  const int i = qb_model_param_index(c->m, name);
  if (i < 0) return QB_OK;
  const int bi = qb_model_param_index(c->bind, name); /* i: the config's model's index */
  if (!is_expression(c->bind, eq + 1)) return qb_bind_set(c->bind, bi, NULL, why, sizeof why);
  qb_err err = qb_bind_set(c->bind, bi, eq + 1, why, sizeof why);
  if (err) {
    char sh[QB_SHOW + 4];
    snprintf(c->msg, c->msgsize, "--set %s: %s", short_value(arg, sh, sizeof sh), why);
    return err;
  }
  c->cfg->fixed[i] = NAN;
  c->cfg->given[i] = true;
  *done = true;
  return QB_OK;
}

/* After fixed and --set: the expressions' order (a cycle is an error at the key of one of its
 * parameters); a wrapper without symbols and expressions is dropped (the file is then exactly
 * what it was without qb_bind). */
static qb_err wrap_bind(pctx *c) {
  int bad;
  char why[1024], path[128];
  qb_err err = qb_bind_finish(c->bind, &bad, why, sizeof why);
  if (err) {
    const char *name = c->bind->params[bad].name; /* bad: the bind's index */
    snprintf(path, sizeof path, "fixed/%s", name);
    if (c->by_set[bad] || !yloc_node(&c->L, path, 0)) { /* given by --set: no location */
      snprintf(c->msg, c->msgsize, "--set %s: %s", name, why);
      return QB_ECONFIG;
    }
    return fail_at(c, path, 0, "fixed.%s: %s", name, why);
  }
  if (c->cfg->optim) qb_optim_refresh_params(c->cfg->optim); /* the bind's table, finished */
  if (c->cfg->optim && !qb_bind_row_reuse(c->bind)) qb_optim_row_dependent(c->cfg->optim);
  if (qb_bind_trivial(c->bind) && c->m == c->bind) { /* kept where wrappers stand on it */
    qb_bind_free(c->bind);
    c->cfg->bind = NULL;
    c->m = c->cfg->model = c->base;
    qb_model_param_names(c->m, c->names, sizeof c->names);
  }
  c->bind = NULL;
  return QB_OK;
}

/* Every user symbol has a value (on an axis, fixed or --set). */
static qb_err check_bind_symbols(pctx *c) {
  const qb_model *m = c->cfg->bind;
  const int nb = m ? qb_bind_base(m)->nparams : 0;
  for (int i = nb; m && i < m->nparams; i++) {
    const int k = qb_model_param_index(c->m, m->params[i].name); /* the config model's index */
    if (k < 0 || c->cfg->given[k]) continue;
    char path[32];
    snprintf(path, sizeof path, "symbols/%d", i - nb);
    return fail_at(c, path, 0,
                   "symbol '%s' has no value; allowed: each symbol on an axis or in fixed (a "
                   "number or an expression), or --set %s=VALUE",
                   m->params[i].name, m->params[i].name);
  }
  return QB_OK;
}

/* model network: the instance from the `network` section (owned by the config). */
static qb_err parse_network(pctx *c) {
  yaml_node_t *sec = yloc_node(&c->L, "network", 0);
  if (!sec)
    return fail_at(c, "model", 0,
                   "model network needs a 'network' section; allowed: network: {modes, "
                   "battery, hamiltonian, dissipators} (see README, model network)");
  qb_err err = qb_network_new(&c->L.doc, sec, c->L.source, &c->m, c->msg, c->msgsize);
  c->cfg->own_model = err == QB_OK;
  c->net = err == QB_OK ? c->m : NULL;
  return err;
}

static qb_err parse_model(pctx *c) {
  bool net = strcmp(c->y->model, "network") == 0;
  if (!net && yloc_node(&c->L, "network", 0))
    return fail_at(c, "network", 1,
                   "a 'network' section with model %s; allowed: a network section only with "
                   "model: network",
                   c->y->model);
  c->m = qb_model_find(c->y->model);
  if (net) {
    qb_err err = parse_network(c);
    if (err) return err;
  }
  if (!c->m) {
    char models[512] = "";
    for (int i = 0; qb_models[i]; i++)
      snprintf(models + strlen(models), sizeof models - strlen(models), "%s%s", i ? ", " : "",
               qb_models[i]->name);
    snprintf(models + strlen(models), sizeof models - strlen(models), ", network");
    return fail_at(c, "model", 0, "model = '%s' is unknown; allowed: %s", c->y->model, models);
  }
  c->cfg->model = c->cfg->base = c->base = c->m;
  qb_model_defaults(c->m, c->cfg->fixed, c->cfg->given);
  qb_model_param_names(c->m, c->names, sizeof c->names);
  return wrap_bind_open(c);
}

/* ---- optimize (qb_optim): the wrapper over the model, after the other wrappers ------------ */

#define OPT_ALLOWED                                                                                \
  "optimize: {param: NAME, maximize: FIELD (or minimize: FIELD), range: [lo, hi], scan: N "        \
  "(default " QB_XSTR(QB_OPTIM_SCAN) ")}"

/* optimize.KEY's scalar text, or NULL with an error where the value is not one. */
static const char *opt_scalar(pctx *c, yaml_node_t *v, const char *key, qb_err *err) {
  char path[64];
  snprintf(path, sizeof path, "optimize/%s", key);
  if (v && v->type == YAML_SCALAR_NODE && v->data.scalar.length)
    return (const char *)v->data.scalar.value;
  *err = fail_at(c, path, 0, "optimize.%s: not a single value; allowed: " OPT_ALLOWED, key);
  return NULL;
}

/* optimize.range: a list of two numbers. */
static qb_err opt_range(pctx *c, yaml_node_t *v, qb_optim_spec *s) {
  yaml_node_item_t *it = v ? v->data.sequence.items.start : NULL;
  if (!v || v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top - it != 2)
    return fail_at(c, "optimize/range", 0,
                   "optimize.range: not a list of two numbers; allowed: range: [lo, hi]");
  for (int e = 0; e < 2; e++) {
    char path[64], key[64];
    snprintf(path, sizeof path, "optimize/range/%d", e);
    snprintf(key, sizeof key, "optimize.range[%d]", e);
    yaml_node_t *n = yaml_document_get_node(&c->L.doc, it[e]);
    const char *t = n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";
    qb_err err = number_at(c, path, key, t, -1, e ? &s->hi : &s->lo);
    if (err) return err;
  }
  return QB_OK;
}

/* One key of the optimize mapping into s. */
static qb_err opt_key(pctx *c, const char *k, yaml_node_t *v, qb_optim_spec *s) {
  qb_err err = QB_OK;
  char path[64];
  snprintf(path, sizeof path, "optimize/%s", k);
  if (strcmp(k, "range") == 0) return opt_range(c, v, s);
  bool max = strcmp(k, "maximize") == 0, min = strcmp(k, "minimize") == 0;
  if (!max && !min && strcmp(k, "param") != 0 && strcmp(k, "scan") != 0)
    return fail_at(c, path, 1, "optimize.%s is not a key of optimize; allowed: " OPT_ALLOWED, k);
  const char *t = opt_scalar(c, v, k, &err);
  if (!t) return err;
  if (max || min) {
    if (s->field)
      return fail_at(c, path, 1, "optimize has both maximize and minimize; allowed: one of them");
    s->field = t, s->maximize = max;
  } else if (k[0] == 'p') {
    s->param = t;
  } else {
    int64_t n;
    if (!parse_integer(t, &n) || n < QB_OPTIM_SCAN_MIN || n > QB_OPTIM_SCAN_MAX)
      return fail_at(c, path, 0, "optimize.scan = '%s'; allowed: an integer from %d to %d", t,
                     QB_OPTIM_SCAN_MIN, QB_OPTIM_SCAN_MAX);
    s->scan = (int)n;
  }
  return QB_OK;
}

/* The optimized parameter may be neither on an axis nor fixed. */
static qb_err opt_not_given(pctx *c, const char *param) {
  char path[128];
  for (unsigned d = 0; c->y->axes && d < c->y->axes_count; d++)
    if (strcmp(c->y->axes[d].name, param) == 0) {
      snprintf(path, sizeof path, "axes/%u/name", d);
      return fail_at(c, path, 0,
                     "axes[%u].name = '%s' is optimized (optimize.param); allowed: a parameter "
                     "either optimized or on an axis",
                     d, param);
    }
  snprintf(path, sizeof path, "fixed/%s", param);
  if (yloc_node(&c->L, path, 1))
    return fail_at(c, path, 1,
                   "fixed.%s: '%s' is optimized (optimize.param); allowed: a parameter either "
                   "optimized or fixed",
                   param, param);
  return QB_OK;
}

/* optimize: the model becomes a qb_optim over it (owned by the config, owning its base). */
static qb_err wrap_optim(pctx *c) {
  yaml_node_t *sec = yloc_node(&c->L, "optimize", 0);
  if (!sec) return QB_OK;
  if (sec->type != YAML_MAPPING_NODE)
    return fail_at(c, "optimize", 0, "optimize: not a mapping; allowed: " OPT_ALLOWED);
  qb_optim_spec s = {.scan = QB_OPTIM_SCAN};
  bool range = false;
  for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&c->L.doc, p->key);
    const char *key = k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
    qb_err err = opt_key(c, key, yaml_document_get_node(&c->L.doc, p->value), &s);
    if (err) return err;
    range |= strcmp(key, "range") == 0;
  }
  if (!s.param || !s.field || !range)
    return fail_at(c, "optimize", 0, "optimize lacks %s; allowed: " OPT_ALLOWED,
                   !s.param   ? "param"
                   : !s.field ? "maximize or minimize"
                              : "range");
  qb_err err = opt_not_given(c, s.param);
  if (err) return err;
  const qb_model *m;
  const char *which;
  char why[1024], path[64];
  err = qb_optim_new(c->m, false, &s, &m, &which, why, sizeof why);
  if (err) {
    snprintf(path, sizeof path, "optimize/%s",
             strcmp(which, "field")                     ? which
             : yloc_node(&c->L, "optimize/maximize", 0) ? "maximize"
                                                        : "minimize");
    return fail_at(c, yloc_node(&c->L, path, 0) ? path : "optimize", 0, "%s", why);
  }
  c->m = c->cfg->model = c->cfg->optim = m;
  qb_model_defaults(c->m, c->cfg->fixed, c->cfg->given);
  qb_model_param_names(c->m, c->names, sizeof c->names);
  return QB_OK;
}

/* axes[d].values (node vn of the libyaml document): strictly monotonic numbers, each valid for
 * the axis' parameter. */
static qb_err parse_axis_list(pctx *c, unsigned d, yaml_node_t *vn, qb_axis *a) {
  char path[64], key[64];
  a->kind = QB_AXIS_LIST;
  snprintf(path, sizeof path, "axes/%u/values", d);
  if (vn->type != YAML_SEQUENCE_NODE)
    return fail_at(c, path, 0, "axes[%u].values: not a list; allowed: a list of numbers", d);
  yaml_node_item_t *items = vn->data.sequence.items.start;
  a->n = vn->data.sequence.items.top - items;
  if (a->n < 1)
    return fail_at(c, path, 0, "axes[%u].values: empty list; allowed: a list of numbers", d);
  if (a->n > QB_AXIS_NMAX)
    return fail_at(c, path, 0, "axes[%u].values has %lld entries; allowed: at most %lld", d,
                   (long long)a->n, (long long)QB_AXIS_NMAX);
  if (!(a->values = malloc((size_t)a->n * sizeof(double)))) return out_of_memory(c, "axis values");
  for (int64_t i = 0; i < a->n; i++) {
    snprintf(path, sizeof path, "axes/%u/values/%lld", d, (long long)i);
    snprintf(key, sizeof key, "axes[%u].values[%lld]", d, (long long)i);
    yaml_node_t *item = yaml_document_get_node(&c->L.doc, items[i]);
    if (!item || item->type != YAML_SCALAR_NODE)
      return fail_at(c, path, 0, "%s: not a single value; allowed: %s", key, QB_NUMBER_ALLOWED);
    qb_err err =
        number_at(c, path, key, (const char *)item->data.scalar.value, a->param, &a->values[i]);
    if (err) return err;
    if (i == 0) continue;
    double now = a->values[i], prev = a->values[i - 1];
    bool up = a->values[1] > a->values[0];
    if (now == prev || (up ? !(now > prev) : !(now < prev)))
      return fail_at(c, path, 0, "%s = %.17g %s values[%lld] = %.17g%s; allowed: %s", key, now,
                     now == prev ? "repeats"
                     : up        ? "is not greater than"
                                 : "is not less than",
                     (long long)i - 1, prev,
                     now == prev ? ""
                     : up        ? " (the list increases)"
                                 : " (the list decreases)",
                     "strictly monotonic coordinates (all increasing or all decreasing)");
  }
  return QB_OK;
}

/* axes[d] with min, max, n and an optional scale (lin, log). */
static qb_err parse_axis_range(pctx *c, unsigned d, const y_axis *ya, qb_axis *a) {
  char path[64], key[64];
  snprintf(path, sizeof path, "axes/%u", d);
  if (!ya->min || !ya->max || !ya->n)
    return fail_at(c, path, 0,
                   "axes[%u] (%s) needs 'values' or all of 'min', 'max', 'n'; "
                   "missing: %s%s%s",
                   d, ya->name, ya->min ? "" : "min ", ya->max ? "" : "max ", ya->n ? "" : "n");
  a->kind = QB_AXIS_LIN;
  if (ya->scale && strcmp(ya->scale, "log") == 0)
    a->kind = QB_AXIS_LOG;
  else if (ya->scale && strcmp(ya->scale, "lin") != 0)
    return fail_at(c, strcat(path, "/scale"), 0, "axes[%u].scale = '%s'; allowed: lin, log", d,
                   ya->scale);
  snprintf(path, sizeof path, "axes/%u/n", d);
  if (!parse_integer(ya->n, &a->n))
    return fail_at(c, path, 0,
                   "axes[%u].n = '%s' is not an integer; allowed: an integer >= 1 "
                   "(e.g. 101 or 1e3)",
                   d, ya->n);
  if (a->n < 1)
    return fail_at(c, path, 0, "axes[%u].n = %lld; allowed: an integer >= 1", d, (long long)a->n);
  if (a->n > QB_AXIS_NMAX)
    return fail_at(c, path, 0,
                   "axes[%u].n = %lld; allowed: at most %lld points on one axis (its "
                   "coordinates are held in memory)",
                   d, (long long)a->n, (long long)QB_AXIS_NMAX);
  static const char *const ends[2] = {"min", "max"};
  const char *text[2] = {ya->min, ya->max};
  double *dst[2] = {&a->min, &a->max};
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "axes/%u/%s", d, ends[k]);
    snprintf(key, sizeof key, "axes[%u].%s", d, ends[k]);
    qb_err err = number_at(c, path, key, text[k], a->param, dst[k]);
    if (err) return err;
  }
  if (a->n > 1 && !(a->min < a->max))
    return fail_at(c, path, 0,
                   "axes[%u] (%s): min = %.17g, max = %.17g; allowed: min < max (or "
                   "n = 1)",
                   d, ya->name, a->min, a->max);
  if (a->kind == QB_AXIS_LOG && !(a->min > 0))
    return fail_at(c, path, 0,
                   "axes[%u] (%s) has scale log with min = %.17g; allowed: 0 < min < "
                   "max",
                   d, ya->name, a->min);
  return QB_OK;
}

/* axes[d]: a parameter of the model, on at most one axis, with a list or a range. */
static qb_err parse_axis(pctx *c, unsigned d) {
  const y_axis *ya = &c->y->axes[d];
  qb_grid *g = &c->cfg->grid;
  qb_axis *a = &g->axes[g->ndim];
  char path[64];
  snprintf(path, sizeof path, "axes/%u/name", d);
  int pi = qb_model_param_index(c->m, ya->name);
  if (pi < 0)
    return fail_at(c, path, 0, "axes[%u].name = '%s' is not a parameter of model %s; allowed: %s",
                   d, ya->name, c->m->name, c->names);
  for (int e = 0; e < g->ndim; e++)
    if (g->axes[e].param == pi)
      return fail_at(c, path, 0,
                     "axes[%u].name = '%s' duplicates axes[%d]; allowed: each "
                     "parameter on at most one axis",
                     d, ya->name, e);
  snprintf(a->name, sizeof a->name, "%s", ya->name);
  a->param = pi;
  g->ndim++;
  c->cfg->given[pi] = true;
  snprintf(path, sizeof path, "axes/%u/values", d);
  yaml_node_t *vn = yloc_node(&c->L, path, 0);
  snprintf(path, sizeof path, "axes/%u", d);
  if (vn && (ya->min || ya->max || ya->n || ya->scale))
    return fail_at(c, path, 0,
                   "axes[%u] (%s) has both 'values' and min/max/n/scale; allowed: "
                   "either a list 'values' or 'min', 'max', 'n' (and optional 'scale')",
                   d, ya->name);
  return vn ? parse_axis_list(c, d, vn, a) : parse_axis_range(c, d, ya, a);
}

static qb_err parse_axes(pctx *c) {
  qb_grid *g = &c->cfg->grid;
  for (unsigned d = 0; d < c->y->axes_count; d++) {
    qb_err err = parse_axis(c, d);
    if (err) return err;
  }
  int64_t shape[QB_MAX_AXES];
  for (int d = 0; d < g->ndim; d++)
    shape[d] = g->axes[d].n;
  g->npoints = qb_grid_count(g->ndim, shape);
  if (g->npoints < 0)
    return fail_at(c, "axes", 0,
                   "the grid's point count (product of the axis lengths) exceeds "
                   "2^63 - 1; allowed: fewer points");
  for (int d = 0; d < g->ndim; d++)
    if (qb_grid_fill_axis(&g->axes[d])) return out_of_memory(c, g->axes[d].name);
  return QB_OK;
}

/* fixed.NAME = text: a parameter of the model not on an axis, given once. */
static qb_err fixed_value(pctx *c, const char *name, const char *text) {
  char path[128], key[128];
  snprintf(path, sizeof path, "fixed/%s", name);
  snprintf(key, sizeof key, "fixed.%s", name);
  int pi = qb_model_param_index(c->m, name);
  if (pi < 0)
    return fail_at(c, path, 1, "%s is not a parameter of model %s; allowed: %s", key, c->m->name,
                   c->names);
  for (int d = 0; d < c->cfg->grid.ndim; d++)
    if (c->cfg->grid.axes[d].param == pi)
      return fail_at(c, path, 1,
                     "%s is also an axis; allowed: a parameter either on an axis or "
                     "fixed",
                     key);
  if (c->cfg->given[pi])
    return fail_at(c, path, 1, "%s is given twice; allowed: each parameter once", key);
  if (is_expression(c->bind ? c->bind : c->m, text)) return expression_at(c, path, key, pi, text);
  qb_err err = number_at(c, path, key, text, pi, &c->cfg->fixed[pi]);
  c->cfg->given[pi] = err == QB_OK;
  return err;
}

/* fixed of model network: a mapping of its symbols (and t, E_max) to numbers, from the libyaml
 * document (libcyaml's schema cannot know the symbols). */
static qb_err parse_fixed_doc(pctx *c) {
  yaml_node_t *f = yloc_node(&c->L, "fixed", 0);
  if (!f) return QB_OK;
  if (f->type != YAML_MAPPING_NODE)
    return fail_at(c, "fixed", 0,
                   "fixed: not a mapping; allowed: a mapping of parameters of "
                   "model %s (%s) to numbers",
                   c->base->name, c->names);
  for (yaml_node_pair_t *p = f->data.mapping.pairs.start; p < f->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(&c->L.doc, p->key);
    yaml_node_t *v = yaml_document_get_node(&c->L.doc, p->value);
    const char *name = k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
    char path[128];
    snprintf(path, sizeof path, "fixed/%s", name);
    if (!v || v->type != YAML_SCALAR_NODE || !v->data.scalar.length)
      return fail_at(c, path, 0, "fixed.%s: %s; allowed: %s", name,
                     v && v->type == YAML_SCALAR_NODE ? "no value" : "not a single value",
                     QB_NUMBER_ALLOWED);
    qb_err err = fixed_value(c, name, (const char *)v->data.scalar.value);
    if (err) return err;
  }
  return QB_OK;
}

/* fixed: parameters of the model that are not on an axis. */
static qb_err parse_fixed(pctx *c) {
  if (c->net || c->bind_doc) return parse_fixed_doc(c);
  for (int k = 0; c->y->fixed && k < union_count; k++) {
    const char *text = c->y->fixed->v[k];
    if (!text) continue;
    qb_err err = fixed_value(c, union_names[k], text);
    if (err) return err;
  }
  return QB_OK;
}

/* Whether assignment arg (name=value) names m's optimized parameter (m an optimize wrapper):
 * then msg = prefix + arg (shortened) + why that is refused. */
static bool optimized_assignment(const qb_model *m, const char *prefix, const char *arg, char *msg,
                                 size_t msgsize) {
  if (!m || !qb_optim_is(m)) return false;
  const qb_optim *o = m->ctx;
  const char *name = o->base->params[o->param].name;
  const size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  char sh[QB_SHOW + 4];
  snprintf(msg, msgsize,
           "%s%s: '%s' is optimized (optimize.param); allowed: the other parameters (the optimum "
           "is the field %s)",
           prefix, short_value(arg, sh, sizeof sh), name, o->fields[o->f_opt].name);
  return true;
}

/* --set name=value overrides (no location: they come from the command line). */
static qb_err parse_sets(pctx *c, char *const *sets, int nsets) {
  const qb_grid *g = &c->cfg->grid;
  for (int s = 0; s < nsets; s++) {
    char why[1024];
    for (int d = 0; d < g->ndim; d++) {
      size_t len = strlen(g->axes[d].name);
      if (strncmp(sets[s], g->axes[d].name, len) == 0 && sets[s][len] == '=') {
        snprintf(c->msg, c->msgsize,
                 "--set %s: '%s' is an axis; allowed: parameters not on an "
                 "axis",
                 sets[s], g->axes[d].name);
        return QB_ECONFIG;
      }
    }
    if (optimized_assignment(c->cfg->optim, "--set ", sets[s], c->msg, c->msgsize))
      return QB_ECONFIG;
    bool done;
    if (set_expression(c, sets[s], &done)) return QB_ECONFIG;
    if (!done &&
        qb_config_parse_assignment(c->m, sets[s], c->cfg->fixed, c->cfg->given, why, sizeof why)) {
      char sh[QB_SHOW + 4];
      snprintf(c->msg, c->msgsize, "--set %s: %s", short_value(sets[s], sh, sizeof sh), why);
      return QB_ECONFIG;
    }
    const char *eq = strchr(sets[s], '=');
    char name[QB_NAME_MAX];
    snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - sets[s]) : 0, sets[s]);
    const int i = qb_model_param_index(c->bind, name);
    if (i >= 0) c->by_set[i] = true; /* overrides fixed: a cycle through it is the --set's */
  }
  return QB_OK;
}

/* Model network: every symbol has a value; the message points at the symbol's first use. */
static qb_err check_symbols(pctx *c) {
  const qb_network *net = c->net->ctx;
  for (int i = 0; i < net->nsym; i++) {
    const int k = qb_model_param_index(c->m, net->params[i].name); /* -1: a wrapper sets it */
    if (k < 0 || c->cfg->given[k]) continue;
    size_t line, col;
    const char *use = qb_network_symbol_use(c->net, i, &line, &col);
    snprintf(c->msg, c->msgsize,
             "%s:%zu:%zu: symbol '%s' in %s has no value; allowed: each symbol of the network "
             "on an axis or in fixed (or --set %s=VALUE)",
             c->L.source, line, col, net->params[i].name, use, net->params[i].name);
    return QB_ECONFIG;
  }
  return QB_OK;
}

/* A missing parameter (why: the model's message): located at the `fixed` mapping, else at the
 * document's start, with where a value may come from. */
static qb_err missing_at(pctx *c, const char *why) {
  char tail[QB_NAME_MAX + 64] = "";
  const char *q = strchr(why, '\''), *e = q ? strchr(q + 1, '\'') : NULL;
  if (!strstr(why, "allowed:") && e && e - q - 1 < QB_NAME_MAX)
    snprintf(tail, sizeof tail, "; allowed: a value on an axis, in fixed, or --set %.*s=VALUE",
             (int)(e - q - 1), q + 1);
  if (yloc_node(&c->L, "fixed", 0)) return fail_at(c, "fixed", 0, "fixed: %s%s", why, tail);
  snprintf(c->msg, c->msgsize, "%s:1:1: %s%s", c->L.source, why, tail);
  return QB_ECONFIG;
}

/* Every required parameter given, alternatives exactly once; names where the culprits are. */
static qb_err check_given(pctx *c) {
  char why[1024], locs[1024] = "", at[512];
  if (c->net && check_symbols(c)) return QB_ECONFIG;
  if (check_bind_symbols(c)) return QB_ECONFIG;
  if (!qb_model_check_given(c->m, c->cfg->given, why, sizeof why)) return QB_OK;
  for (int i = 0; i < c->m->nparams; i++) {
    char quoted[QB_NAME_MAX + 2], path[128];
    snprintf(quoted, sizeof quoted, "'%s'", c->m->params[i].name);
    if (!c->cfg->given[i] || !strstr(why, quoted)) continue;
    snprintf(path, sizeof path, "fixed/%s", c->m->params[i].name);
    for (int d = 0; d < c->cfg->grid.ndim; d++)
      if (c->cfg->grid.axes[d].param == i) snprintf(path, sizeof path, "axes/%d/name", d);
    snprintf(locs + strlen(locs), sizeof locs - strlen(locs), " [%s at %s]", c->m->params[i].name,
             where(&c->L, path, 1, at, sizeof at));
  }
  if (!locs[0]) return missing_at(c, why);
  return fail_at(c, "", 0, "%s%s", why, locs);
}

/* The figures-of-merit wrapper (qb_merit) over the model so far, where the config has a `merit`
 * section or asks for one of its fields; the battery's energy is E_B, a network's E_<battery>. */
static qb_err wrap_merit(pctx *c) {
  yaml_node_t *node = yloc_node(&c->L, "merit", 0);
  bool on = node != NULL;
  for (unsigned k = 0; c->y->fields && k < c->y->fields_count; k++)
    on = on || qb_merit_is_field(c->y->fields[k]);
  if (!on) return QB_OK;
  qb_merit_spec spec;
  qb_err err = qb_merit_read(&c->L.doc, node, c->L.source, &spec, c->msg, c->msgsize);
  if (err) return err;
  char energy[64] = "E_B", why[1024];
  if (c->net) {
    const qb_network *net = c->net->ctx;
    snprintf(energy, sizeof energy, "E_%s", net->modes[net->battery]);
  }
  err = qb_merit_new(c->m, energy, &spec, &c->m, why, sizeof why);
  if (err) return fail_at(c, node ? "merit" : "fields", 1, "%s", why);
  c->cfg->model = c->cfg->merit = c->m;
  return QB_OK;
}

/* fields: a subset of the model's fields (default all); `status` always. */
static qb_err parse_fields(pctx *c) {
  const qb_model *m = c->m;
  bool want[QB_MAX_FIELDS] = {false};
  for (unsigned k = 0; c->y->fields && k < c->y->fields_count; k++) {
    int fi = qb_model_field_index(m, c->y->fields[k]);
    if (fi < 0) {
      char fnames[2048], path[64];
      qb_model_field_names(m, fnames, sizeof fnames);
      snprintf(path, sizeof path, "fields/%u", k);
      return fail_at(c, path, 0, "fields[%u] = '%s' is not a field of model %s; allowed: %s", k,
                     c->y->fields[k], m->name, fnames);
    }
    want[fi] = true;
  }
  const int status = qb_model_field_index(m, "status"); /* every model has one (qb_model.h) */
  if (status >= 0) want[status] = true;
  for (int i = 0; i < m->nfields; i++)
    if (want[i] || !c->y->fields) c->cfg->fields[c->cfg->nfields++] = i;
  return QB_OK;
}

/* boundaries: {field (default the model's boundary_field, growth_rate), level (default 0), axis
 * (default the last)}. */
static qb_err parse_boundaries(pctx *c) {
  const y_boundaries *yb = c->y->boundaries;
  qb_boundary_spec *b = &c->cfg->boundaries;
  const qb_grid *g = &c->cfg->grid;
  if (!yb) return QB_OK;
  b->on = true;
  const char *field = yb->field ? yb->field : c->m->fields[c->m->boundary_field].name;
  b->field = qb_model_field_index(c->m, field);
  if (b->field < 0 || c->m->fields[b->field].dtype != QB_F64) {
    char fnames[2048];
    qb_model_field_names(c->m, fnames, sizeof fnames);
    return fail_at(c, "boundaries/field", 0,
                   "boundaries.field = '%s' is not a floating-point "
                   "field of model %s; allowed: %s",
                   field, c->m->name, fnames);
  }
  b->level = 0.0;
  if (yb->level) {
    qb_err err = number_at(c, "boundaries/level", "boundaries.level", yb->level, -1, &b->level);
    if (err) return err;
  }
  b->axis = g->ndim - 1;
  if (yb->axis) {
    b->axis = -1;
    for (int d = 0; d < g->ndim; d++)
      if (strcmp(g->axes[d].name, yb->axis) == 0) b->axis = d;
  }
  if (b->axis < 0 || g->axes[b->axis].n < 2)
    return fail_at(c, "boundaries/axis", 0,
                   "boundaries.axis = '%s'; allowed: an axis of the grid "
                   "with n >= 2",
                   yb->axis ? yb->axis : g->axes[g->ndim - 1].name);
  return QB_OK;
}

/* eps: {axes: [x, y]}, two different axes with n >= 2, for a model with a discriminant. */
static qb_err parse_eps(pctx *c) {
  const y_eps *ye = c->y->eps;
  const qb_grid *g = &c->cfg->grid;
  if (!ye) return QB_OK;
  int ax[2] = {-1, -1};
  for (int k = 0; k < 2; k++) {
    for (int d = 0; d < g->ndim; d++)
      if (strcmp(g->axes[d].name, ye->axes[k]) == 0) ax[k] = d;
    char path[32];
    snprintf(path, sizeof path, "eps/axes/%d", k);
    if (ax[k] < 0 || g->axes[ax[k]].n < 2)
      return fail_at(c, path, 0, "eps.axes[%d] = '%s'; allowed: an axis of the grid with n >= 2", k,
                     ye->axes[k]);
  }
  if (ax[0] == ax[1])
    return fail_at(c, "eps/axes", 0, "eps.axes names '%s' twice; allowed: two different axes",
                   ye->axes[0]);
  if (!c->m->disc)
    return fail_at(c, "eps", 1,
                   "eps: model %s has no discriminant; allowed: eps only for models "
                   "with one",
                   c->m->name);
  c->cfg->eps = (qb_ep_spec){.on = true, .ax = ax[0], .ay = ax[1]};
  return QB_OK;
}

/* mode: grid (default) or adaptive with max_depth 1..10 in the plane of the last two axes. */
static qb_err parse_mode(pctx *c) {
  const y_config *y = c->y;
  const qb_config *cfg = c->cfg;
  const qb_grid *g = &cfg->grid;
  int64_t depth = 0;
  if (y->max_depth && !parse_integer(y->max_depth, &depth))
    return fail_at(c, "max_depth", 0,
                   "max_depth = '%s' is not an integer; allowed: an integer "
                   "from 1 to 10",
                   y->max_depth);
  if (y->mode && strcmp(y->mode, "grid") != 0 && strcmp(y->mode, "adaptive") != 0)
    return fail_at(c, "mode", 0, "mode = '%s'; allowed: grid, adaptive", y->mode);
  if (!y->mode || strcmp(y->mode, "adaptive") != 0) {
    if (y->max_depth)
      return fail_at(c, "max_depth", 0,
                     "max_depth = %lld without mode adaptive; allowed: "
                     "max_depth only with mode: adaptive",
                     (long long)depth);
    return QB_OK;
  }
  if (depth < 1 || depth > 10)
    return fail_at(c, y->max_depth ? "max_depth" : "mode", 0,
                   "mode adaptive needs max_depth = "
                   "%lld; allowed: an integer from 1 to 10",
                   (long long)depth);
  int dx = g->ndim - 1, dy = g->ndim - 2;
  if (dy < 0 || g->axes[dx].n < 2 || g->axes[dy].n < 2)
    return fail_at(c, "mode", 0,
                   "mode adaptive refines the plane of the last two axes; allowed: "
                   "at least two axes, the last two with n >= 2");
  if (!cfg->boundaries.on && !cfg->eps.on)
    return fail_at(c, "mode", 0,
                   "mode adaptive refines boundaries and EPs; allowed: with a "
                   "boundaries or eps section");
  if (cfg->boundaries.on && cfg->boundaries.axis != dx && cfg->boundaries.axis != dy)
    return fail_at(c, "boundaries", 0,
                   "boundaries.axis = '%s' is not in the adaptive plane; "
                   "allowed: %s or %s",
                   g->axes[cfg->boundaries.axis].name, g->axes[dy].name, g->axes[dx].name);
  if (cfg->eps.on &&
      !((cfg->eps.ax == dx && cfg->eps.ay == dy) || (cfg->eps.ax == dy && cfg->eps.ay == dx)))
    return fail_at(c, "eps/axes", 0, "eps.axes must be the adaptive plane; allowed: [%s, %s]",
                   g->axes[dy].name, g->axes[dx].name);
  c->cfg->adaptive_depth = (int)depth;
  return QB_OK;
}

/* libcyaml: the text onto the schema's structs; *y NULL and a message on failure. */
/* output: a file path; YAML's null spellings are not one (`output: ~` would otherwise create a
 * file named "~"). */
static qb_err parse_output(pctx *c) {
  const char *o = c->y->output;
  if (!o) return QB_OK;
  static const char *const nulls[] = {"~", "null", "Null", "NULL"};
  for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
    if (strcmp(o, nulls[i]) == 0)
      return fail_at(
          c, "output", 0,
          "output = '%s' is YAML's null; allowed: a file path, or no output key (then -o "
          "or the config's name with .h5)",
          o);
  snprintf(c->cfg->output, sizeof c->cfg->output, "%s", o);
  return QB_OK;
}

/* The schema for the text's model: network's where `model: network` or with `symbols:` (whose
 * names `fixed` may hold: read from the document), else the built-in one. */
static const cyaml_schema_value_t *schema_for(yloc *L) {
  const yaml_node_t *mn = yloc_node(L, "model", 0);
  bool net = mn && mn->type == YAML_SCALAR_NODE &&
             strcmp((const char *)mn->data.scalar.value, "network") == 0;
  return net || yloc_node(L, "symbols", 0) ? &network_schema : &config_schema;
}

static qb_err load_structs(const char *text, yloc *L, y_config **y, char *msg, size_t msgsize) {
  build_fixed_schema();
  const cyaml_schema_value_t *schema = schema_for(L);
  log_capture lc = {.used = 0};
  lc.buf[0] = '\0';
  cyaml_config_t ycfg = {.log_fn = cyaml_log_to_buffer,
                         .log_ctx = &lc,
                         .mem_fn = cyaml_mem,
                         .log_level = CYAML_LOG_ERROR,
                         .flags = CYAML_CFG_DEFAULT};
  *y = NULL;
  cyaml_err_t ce =
      cyaml_load_data((const uint8_t *)text, strlen(text), &ycfg, schema, (cyaml_data_t **)y, NULL);
  if (ce == CYAML_OK && *y) return QB_OK;
  if (ce == CYAML_OK) L->ok = 0; /* empty document */
  cyaml_message(lc.buf, L, msg, msgsize);
  if (*y) cyaml_free(&ycfg, schema, *y, 0);
  *y = NULL;
  return QB_ECONFIG;
}

static void free_structs(yloc *L, y_config *y) {
  cyaml_config_t ycfg = {.log_fn = cyaml_log_to_buffer, .mem_fn = cyaml_mem};
  if (y) cyaml_free(&ycfg, schema_for(L), y, 0);
}

/* qb_config_parse, and qb_config_parse_base where `complete` is false. */
static qb_err parse_text(const char *text, const char *source, char *const *sets, int nsets,
                         bool complete, qb_config *cfg, char *msg, size_t msgsize) {
  memset(cfg, 0, sizeof *cfg);
  qb_err err = yaml_screen(text, source, msg, msgsize);
  if (err) return err;
  pctx c = {.cfg = cfg, .msg = msg, .msgsize = msgsize};
  yloc_open(&c.L, text, source);
  y_config *y = NULL;
  err = load_structs(text, &c.L, &y, msg, msgsize);
  c.y = y;
  if (!err) err = parse_model(&c); /* with the expressions wrapper (qb_bind) open */
  if (!err) err = wrap_merit(&c);  /* the wrappers over it, in their order */
  if (!err) err = wrap_optim(&c);
  if (!err) err = parse_axes(&c);
  if (!err) err = parse_fixed(&c);
  if (!err) err = parse_sets(&c, sets, nsets);
  if (!err) err = wrap_bind(&c);
  if (!err && complete) err = check_given(&c);
  if (!err) err = parse_fields(&c);
  if (!err) err = parse_boundaries(&c);
  if (!err) err = parse_eps(&c);
  if (!err) err = parse_mode(&c);
  if (!err) err = parse_output(&c);
  if (!err) {
    cfg->text = dup_str(text);
    cfg->normalized = normalize(cfg, &c.L);
    if (!cfg->text || !cfg->normalized) err = out_of_memory(&c, "the config text");
  }
  free_structs(&c.L, y);
  yloc_close(&c.L);
  if (err) qb_config_free(cfg);
  return err;
}

/* The point's model and starting values: base's (its fixed values; its axes left to the command
 * line), or the named built-in model's defaults. */
static qb_err point_model(int argc, char *const *argv, const qb_config *base, const qb_model **mp,
                          double *p, bool *given, char *msg, size_t msgsize) {
  const char *name = argc > 0 ? argv[0] : "";
  if (base) {
    *mp = base->model;
    if (strcmp(name, base->model->name) != 0) {
      snprintf(msg, msgsize, "model '%s' is not the config's model; allowed: %s", name,
               base->model->name);
      return QB_EUSAGE;
    }
    memcpy(p, base->fixed, sizeof base->fixed);
    memcpy(given, base->given, sizeof base->given);
    for (int d = 0; d < base->grid.ndim; d++)
      given[base->grid.axes[d].param] = false;
    return QB_OK;
  }
  if (strcmp(name, "network") == 0) {
    snprintf(msg, msgsize,
             "model network needs --config FILE (the network is its `network` "
             "section); allowed: qbmap point network --config FILE name=value ...");
    return QB_EUSAGE;
  }
  const qb_model *m = *mp = qb_model_find(name);
  if (!m) {
    int n = snprintf(msg, msgsize, "unknown model '%s'; allowed:", argc > 0 ? argv[0] : "");
    for (int i = 0; qb_models[i] && n > 0 && (size_t)n < msgsize; i++)
      n += snprintf(msg + n, msgsize - (size_t)n, " %s", qb_models[i]->name);
    if (n > 0 && (size_t)n < msgsize) snprintf(msg + n, msgsize - (size_t)n, " network");
    return QB_EUSAGE;
  }
  qb_model_defaults(m, p, given);
  return QB_OK;
}

qb_err qb_config_parse(const char *text, const char *source, char *const *sets, int nsets,
                       qb_config *cfg, char *msg, size_t msgsize) {
  return parse_text(text, source, sets, nsets, true, cfg, msg, msgsize);
}

qb_err qb_config_parse_base(const char *text, const char *source, qb_config *cfg, char *msg,
                            size_t msgsize) {
  return parse_text(text, source, NULL, 0, false, cfg, msg, msgsize);
}

/* The model under the config's wrappers (the built-in model or network), or m without config. */
static const qb_model *point_under(const qb_config *base, const qb_model *m) {
  if (base && base->bind) return qb_bind_base(base->bind);
  if (base && base->merit) return qb_merit_base(base->merit);
  if (base && base->optim) return qb_optim_base(base->optim);
  return m;
}

/* The point's expressions wrapper where the config has one or an argument is an expression:
 * a new one over the base model with the config's symbols and expressions (*bound, owned by the
 * caller), and over it the config's other wrappers rebuilt in their order (figures of merit,
 * optimize), the top one replacing *mp; nothing otherwise. */
static qb_err point_bind(int argc, char *const *argv, const qb_config *base, const qb_model **mp,
                         const qb_model **bound, char *msg, size_t msgsize) {
  const qb_model *old = base ? base->bind : NULL, *under = point_under(base, *mp);
  bool need = old && !qb_bind_trivial(old); /* (kept under wrappers) */
  for (int i = 1; i < argc && !need; i++) {
    const char *eq = strchr(argv[i], '=');
    need = eq && is_expression(old ? old : under, eq + 1);
  }
  if (!need) return QB_OK;
  const int ns = old ? qb_bind_nsymbols(old) : 0;
  const char *names[QB_MAX_PARAMS];
  for (int k = 0; k < ns; k++)
    names[k] = old->params[under->nparams + k].name;
  qb_model *b;
  int bad;
  if (qb_bind_new(under, names, ns, &b, &bad, msg, msgsize)) return QB_EUSAGE;
  *bound = *mp = b;
  for (int i = 0; old && i < old->nparams; i++)
    if (qb_bind_expression(old, i) && qb_bind_set(b, i, qb_bind_expression(old, i), msg, msgsize))
      return QB_EUSAGE;
  const qb_model *w;
  if (base && base->merit) { /* the figures of merit over the point's expressions */
    if (qb_merit_rebase(base->merit, *mp, &w, msg, msgsize)) return QB_EUSAGE;
    *mp = w;
  }
  if (base && base->optim) { /* optimize over them (the config's order) */
    if (qb_optim_rebase(base->optim, *mp, &w, msg, msgsize)) return QB_EUSAGE;
    *mp = w;
  }
  return QB_OK;
}

/* One `name=value` of `point` (value a number, or an expression where *bound is a wrapper;
 * m is the top wrapper, whose indices p and given use, bound names the same parameter by name:
 * optimize removes one). */
static qb_err point_assignment(const qb_model *m, const qb_model *bound, const char *arg, double *p,
                               bool *given, char *msg, size_t msgsize) {
  const char *eq = strchr(arg, '=');
  char name[QB_NAME_MAX];
  snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - arg) : 0, arg);
  const int i = eq ? qb_model_param_index(m, name) : -1;
  if (bound && i >= 0) {
    const bool ex = is_expression(bound, eq + 1);
    char why[2048];
    if (qb_bind_set((qb_model *)(uintptr_t)bound, qb_model_param_index(bound, name),
                    ex ? eq + 1 : NULL, why, sizeof why)) {
      char sh[QB_SHOW + 4];
      snprintf(msg, msgsize, "%s: %s", short_value(arg, sh, sizeof sh), why);
      return QB_EUSAGE;
    }
    if (ex) {
      p[i] = NAN;
      given[i] = true;
      return QB_OK;
    }
  }
  return qb_config_parse_assignment(m, arg, p, given, msg, msgsize) ? QB_EUSAGE : QB_OK;
}

/* After the point's expressions are complete: their order, and the optimize wrapper over them
 * told what the config's is told in wrap_bind. */
static qb_err point_finish(const qb_model *m, const qb_model *bound, char *msg, size_t msgsize) {
  int bad;
  if (qb_bind_finish((qb_model *)(uintptr_t)bound, &bad, msg, msgsize)) return QB_EUSAGE;
  if (qb_optim_is(m)) qb_optim_refresh_params(m);
  if (qb_optim_is(m) && !qb_bind_row_reuse(bound)) qb_optim_row_dependent(m);
  return QB_OK;
}

qb_err qb_config_parse_point(int argc, char *const *argv, const qb_config *base,
                             const qb_model **mp, const qb_model **bound, double *p, char *msg,
                             size_t msgsize) {
  bool given[QB_MAX_PARAMS];
  *bound = NULL;
  if (point_model(argc, argv, base, mp, p, given, msg, msgsize)) return QB_EUSAGE;
  if (point_bind(argc, argv, base, mp, bound, msg, msgsize)) return QB_EUSAGE;
  const qb_model *m = *mp;
  bool cmdline[QB_MAX_PARAMS] = {false};
  for (int i = 1; i < argc; i++) {
    bool was[QB_MAX_PARAMS];
    memcpy(was, cmdline, sizeof was);
    if (optimized_assignment(m, "", argv[i], msg, msgsize)) return QB_EUSAGE;
    if (point_assignment(m, *bound, argv[i], p, cmdline, msg, msgsize)) return QB_EUSAGE;
    for (int k = 0; k < m->nparams; k++)
      if (was[k] && strncmp(argv[i], m->params[k].name, strlen(m->params[k].name)) == 0 &&
          argv[i][strlen(m->params[k].name)] == '=') {
        snprintf(msg, msgsize, "parameter '%s' given twice; allowed: once", m->params[k].name);
        return QB_EUSAGE;
      }
  }
  if (*bound && point_finish(m, *bound, msg, msgsize)) return QB_EUSAGE;
  for (int k = 0; k < m->nparams; k++)
    given[k] = given[k] || cmdline[k];
  for (int d = 0; base && d < base->grid.ndim; d++) {
    const int k = base->grid.axes[d].param;
    if (given[k] || !isnan(m->params[k].def)) continue;
    snprintf(msg, msgsize,
             "parameter '%s' is an axis of the config; allowed: its value on the "
             "command line, %s=VALUE",
             m->params[k].name, m->params[k].name);
    return QB_EUSAGE;
  }
  return qb_model_check_given(m, given, msg, msgsize) ? QB_EUSAGE : QB_OK;
}

void qb_config_point_shown(const qb_model *m, const qb_model *bound, const double *p,
                           const double *out, double *shown) {
  memcpy(shown, p, (size_t)m->nparams * sizeof *p);
  if (!bound) return;
  double q[QB_MAX_PARAMS];
  const int k = qb_optim_is(m) ? qb_optim_base_point(m, p, out, q) : -1;
  if (k < 0) {
    qb_bind_resolve(bound, p, shown);
    return;
  }
  double v[QB_MAX_PARAMS];
  memcpy(v, q, sizeof q);
  qb_bind_resolve(bound, q, v);
  for (int i = 0, j = 0; i < m->nparams + 1; i++)
    if (i != k) shown[j++] = v[i];
}

void qb_config_point_free(const qb_model *m, const qb_model *bound) {
  if (bound && qb_optim_is(m)) { /* the point's wrappers, top first */
    const qb_model *under = qb_optim_base(m);
    qb_model_free(m);
    m = under;
  }
  if (bound && m != bound) qb_merit_free(m);
  qb_bind_free(bound);
}

void qb_config_free(qb_config *cfg) {
  qb_model_free(cfg->optim); /* the wrappers, top first (optim does not own its base) */
  cfg->optim = NULL;
  if (cfg->merit) qb_merit_free(cfg->merit);
  cfg->merit = NULL;
  qb_bind_free(cfg->bind);
  cfg->bind = NULL;
  if (cfg->own_model) qb_network_free(cfg->base);
  cfg->model = NULL;
  cfg->own_model = false;
  qb_grid_free(&cfg->grid);
  free(cfg->text);
  free(cfg->normalized);
  cfg->text = cfg->normalized = NULL;
}
