/* Config parsing in two passes over the same text: libcyaml maps it onto C structs through a
 * schema (types, unknown keys, YAML syntax, with line:column from libcyaml), then the semantic
 * checks (names, ranges, sizes) run on the structs and look up line:column of the offending
 * value in a libyaml document of the same text. */
#include "qbmap/qb_config.h"

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

#define QB_SCALAR_MAX 256 /* longest number text */
#define QB_YAML_DEPTH 16  /* deepest nesting of collections (a config needs 4) */
#define QB_NUMBER_ALLOWED "a finite decimal number (e.g. 2, -0.5, 1e-3)"

/* Numbers are read as text and converted by parse_number: libcyaml's own number conversion
 * takes the longest valid prefix ("1abc" -> 1, "1e3" -> 1 for an integer). */
typedef struct {
  char *name;
  char **values;
  unsigned values_count;
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

static const cyaml_schema_value_t number_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, QB_SCALAR_MAX)};
static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, QB_NAME_MAX - 1)};

static const cyaml_schema_field_t axis_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, y_axis, name, 1, QB_NAME_MAX - 1),
    CYAML_FIELD_SEQUENCE("values", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, y_axis, values,
                         &number_entry, 1, CYAML_UNLIMITED),
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
    CYAML_FIELD_END};

static const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, y_config, config_fields)};

/* `fixed` accepts the union of all models' parameter names; membership in the chosen model is
 * checked afterwards (so the message can list the model's own parameters). */
static void build_fixed_schema(void) {
  if (union_count) return;
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
                  .string = {.min = 1, .max = QB_SCALAR_MAX}}};
  fixed_fields[union_count] = (cyaml_schema_field_t)CYAML_FIELD_END;
}

typedef struct {
  char buf[2048];
  size_t used;
} log_capture;

static void cyaml_log_to_buffer(cyaml_log_t level, void *ctx, const char *fmt, va_list args) {
  log_capture *lc = ctx;
  if (level < CYAML_LOG_ERROR || lc->used >= sizeof lc->buf - 1) return;
  int n = vsnprintf(lc->buf + lc->used, sizeof lc->buf - lc->used, fmt, args);
  if (n > 0) lc->used += (size_t)n;
  if (lc->used > sizeof lc->buf - 1) lc->used = sizeof lc->buf - 1;
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

/* A linear-time pass of libyaml's event parser before anything builds a tree: syntax errors
 * located (reader errors such as invalid UTF-8 by byte offset), exactly one document, no
 * aliases (libcyaml would expand them), nesting at most QB_YAML_DEPTH (libyaml's scanner costs
 * O(depth) per token, so a deep text would otherwise take quadratic time). */
static qb_err yaml_screen(const char *text, const char *source, char *msg, size_t msgsize) {
  static const char keys[] = "allowed: a YAML mapping with keys model, axes, fixed, fields, "
                             "output, boundaries, eps, mode, max_depth";
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
      size_t line, col;
      if (p.error == YAML_READER_ERROR) {
        offset_position(text, p.problem_offset, &line, &col);
        snprintf(msg, msgsize, "%s:%zu:%zu: not UTF-8 text: %s (byte 0x%02x); allowed: UTF-8",
                 source, line, col, p.problem ? p.problem : "invalid byte",
                 (unsigned)(p.problem_value & 0xff));
      } else {
        line = p.problem_mark.line + 1, col = p.problem_mark.column + 1;
        snprintf(msg, msgsize, "%s:%zu:%zu: YAML syntax error: %s%s%s; %s", source, line, col,
                 p.problem ? p.problem : "syntax error", p.context ? " " : "",
                 p.context ? p.context : "", keys);
      }
      err = QB_ECONFIG;
      break;
    }
    size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
    switch (ev.type) {
    case YAML_DOCUMENT_START_EVENT:
      if (++docs > 1) {
        snprintf(msg, msgsize, "%s:%zu:%zu: a second YAML document; allowed: one document", source,
                 line, col);
        err = QB_ECONFIG;
      }
      break;
    case YAML_ALIAS_EVENT:
      snprintf(msg, msgsize,
               "%s:%zu:%zu: YAML alias '*%.64s'; allowed: values written out (anchors "
               "and aliases are not supported)",
               source, line, col, (const char *)ev.data.alias.anchor);
      err = QB_ECONFIG;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
      if (++depth > QB_YAML_DEPTH) {
        snprintf(msg, msgsize,
                 "%s:%zu:%zu: YAML nested more than %d levels deep; allowed: at "
                 "most %d",
                 source, line, col, QB_YAML_DEPTH, QB_YAML_DEPTH);
        err = QB_ECONFIG;
      }
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      depth--;
      break;
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    default:
      break;
    }
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

/* Turns libcyaml's log (reason, then a backtrace "in mapping field 'x' (line..)" innermost
 * first) into one message located by our own libyaml document. */
static void cyaml_message(const char *log, yloc *L, char *msg, size_t msgsize) {
  char at[512];
  if (L->problem[0] || !L->ok) {
    snprintf(msg, msgsize,
             "%s:%zu:%zu: YAML syntax error: %s; allowed: a YAML mapping with keys "
             "model, axes, fixed, fields, output, boundaries, eps, mode, max_depth",
             L->source, L->problem[0] ? L->pline : 1, L->problem[0] ? L->pcol : 1,
             L->problem[0] ? L->problem : "empty document");
    return;
  }
  char reason[512] = "", segs[8][QB_NAME_MAX];
  int nseg = 0;
  const char *q = strstr(log, "Load: ");
  snprintf(reason, sizeof reason, "%.500s", q ? q + 6 : log);
  char *nl = strchr(reason, '\n');
  if (nl) *nl = '\0';
  for (const char *b = log; (b = strstr(b, "in ")) != NULL && nseg < 8; b += 3) {
    const char *name = NULL;
    int entry = 0;
    if (strncmp(b, "in mapping field '", 18) == 0)
      name = b + 18;
    else if (strncmp(b, "in sequence entry '", 19) == 0)
      name = b + 19, entry = 1;
    if (!name) continue;
    const char *end = strchr(name, '\'');
    if (!end) break;
    if (entry && strtol(name, NULL, 10) < 1) continue; /* before the first entry */
    if (entry)                                         /* libcyaml counts entries from 1 */
      snprintf(segs[nseg++], QB_NAME_MAX, "%ld", strtol(name, NULL, 10) - 1);
    else
      snprintf(segs[nseg++], QB_NAME_MAX, "%.*s", (int)(end - name), name);
  }
  /* a missing field is reported inside the last field read: locate its mapping instead */
  int inner_idx = nseg > 0 && segs[0][0] >= '0' && segs[0][0] <= '9';
  int first = (strstr(reason, "Missing required") && nseg > 0 && !inner_idx) ||
              (strstr(reason, "Excessive entries") && inner_idx);
  char path[256] = "", dotted[256] = "";
  for (int k = nseg - 1; k >= first; k--) {
    int idx = segs[k][0] >= '0' && segs[k][0] <= '9';
    snprintf(path + strlen(path), sizeof path - strlen(path), "%s%s", path[0] ? "/" : "", segs[k]);
    snprintf(dotted + strlen(dotted), sizeof dotted - strlen(dotted), idx ? "[%s]" : "%s%s",
             idx ? segs[k] : (dotted[0] ? "." : ""), idx ? "" : segs[k]);
  }
  const char *allowed = "model, axes, fixed, fields, output, boundaries, eps, mode, max_depth";
  if (nseg - first >= 1 && strcmp(segs[nseg - 1], "boundaries") == 0)
    allowed = "boundaries keys field, level, axis";
  if (nseg - first >= 1 && strcmp(segs[nseg - 1], "eps") == 0)
    allowed = "eps key axes: a list of two axis names";
  if (nseg - first >= 1 && strcmp(segs[nseg - 1], "axes") == 0)
    allowed =
        nseg - first == 1 ? "a list of 1 to 8 axes" : "axis keys name, values, min, max, n, scale";
  char params[1024] = "parameter: number";
  yaml_node_t *mn = yloc_node(L, "model", 0);
  const qb_model *m = mn && mn->type == YAML_SCALAR_NODE
                          ? qb_model_find((const char *)mn->data.scalar.value)
                          : NULL;
  if (m) {
    snprintf(params, sizeof params, "parameters of model %s: ", m->name);
    qb_model_param_names(m, params + strlen(params), sizeof params - strlen(params));
  }
  if (nseg >= 1 && strcmp(segs[nseg - 1], "fixed") == 0) allowed = params;
  if (nseg >= 1 && strcmp(segs[nseg - 1], "fields") == 0) allowed = "a list of field names";
  const char *key = strstr(reason, "Unexpected key: ");
  if (key) {
    key = full_key(L, path, key + 16);
    char kp[320];
    snprintf(kp, sizeof kp, "%s%s%s", path, path[0] ? "/" : "", key);
    snprintf(msg, msgsize, "%s: unknown key '%s'%s%s; allowed: %s", where(L, kp, 1, at, sizeof at),
             key, dotted[0] ? " in " : " at the top level", dotted, allowed);
    return;
  }
  /* libcyaml's words for a few common cases, in the user's terms */
  long lim = 0;
  char longest[64];
  char *tail = strstr(reason, "STRING length > ");
  if (tail && sscanf(tail + 16, "%ld", &lim) == 1) {
    char *val = strchr(tail, ':');
    char tmp[512];
    snprintf(tmp, sizeof tmp, "'%.*s...' is longer than %ld characters",
             val ? (int)(strlen(val + 1) < 40 ? strlen(val + 1) : 40) - 1 : 0, val ? val + 2 : "",
             lim);
    snprintf(reason, sizeof reason, "%s", tmp);
    snprintf(longest, sizeof longest, "at most %ld characters", lim);
    allowed = longest;
  } else if (strstr(reason, "STRING length < 1")) {
    snprintf(reason, sizeof reason, "empty value");
  } else if (strstr(reason, "Insufficient entries (0 of")) {
    snprintf(reason, sizeof reason, "empty list");
  }
  /* numbers are read as strings (see y_axis): say what a number key wanted */
  const char *last = nseg > first ? segs[first] : "";
  bool number = strcmp(last, "min") == 0 || strcmp(last, "max") == 0 || strcmp(last, "n") == 0 ||
                strcmp(last, "level") == 0 || strcmp(last, "max_depth") == 0 ||
                (nseg - first >= 2 &&
                 (strcmp(segs[first + 1], "fixed") == 0 || strcmp(segs[first + 1], "values") == 0));
  if (number && (strstr(reason, "STRING") || strcmp(reason, "empty value") == 0)) {
    snprintf(reason, sizeof reason, "%s",
             strcmp(reason, "empty value") == 0 ? "no value" : "not a single value");
    allowed = QB_NUMBER_ALLOWED;
  }
  snprintf(msg, msgsize, "%s: %s%s%s; allowed: %s", where(L, path, 0, at, sizeof at),
           dotted[0] ? dotted : "", dotted[0] ? ": " : "", reason,
           strstr(reason, "FLOAT") ? "a finite number"
           : strstr(reason, "INT") ? "an integer"
                                   : allowed);
}

/* ---- validation ------------------------------------------------------------------------- */

#define FAIL(...)                                                                                  \
  do {                                                                                             \
    snprintf(msg, msgsize, __VA_ARGS__);                                                           \
    err = QB_ECONFIG;                                                                              \
    goto cleanup;                                                                                  \
  } while (0)

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
    snprintf(msg, msgsize, "unknown parameter '%s' in '%s'; allowed for model %s: %s", name, arg,
             m->name, names);
    return QB_EUSAGE;
  }
  double v;
  if (!qb_config_parse_number(eq + 1, &v)) {
    snprintf(msg, msgsize, "parameter '%s' = '%s' %s; allowed: %s", name, eq + 1,
             not_number(eq + 1), QB_NUMBER_ALLOWED);
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

static char *normalize(const qb_config *c) {
  size_t len = 0, cap = 4096;
  char *s = malloc(cap);
  if (!s) return NULL;
  s[0] = '\0';
  const qb_model *m = c->model;
  append(&s, &len, &cap, "model: %s\naxes:\n", m->name);
  for (int d = 0; d < c->grid.ndim; d++) {
    const qb_axis *a = &c->grid.axes[d];
    if (a->kind == QB_AXIS_LIST) {
      append(&s, &len, &cap, "  - {name: %s, values: [", a->name);
      for (int64_t i = 0; i < a->n; i++)
        append(&s, &len, &cap, "%s%.17g", i ? ", " : "", a->values[i]);
      append(&s, &len, &cap, "]}\n");
    } else {
      append(&s, &len, &cap, "  - {name: %s, min: %.17g, max: %.17g, n: %lld, scale: %s}\n",
             a->name, a->min, a->max, (long long)a->n, a->kind == QB_AXIS_LOG ? "log" : "lin");
    }
  }
  append(&s, &len, &cap, "fixed: {");
  int first = 1;
  for (int i = 0; i < m->nparams; i++) {
    int on_axis = 0;
    for (int d = 0; d < c->grid.ndim; d++)
      on_axis |= c->grid.axes[d].param == i;
    if (on_axis || isnan(c->fixed[i])) continue;
    append(&s, &len, &cap, "%s%s: %.17g", first ? "" : ", ", m->params[i].name, c->fixed[i]);
    first = 0;
  }
  append(&s, &len, &cap, "}\nfields: [");
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
  return s;
}

qb_err qb_config_parse(const char *text, const char *source, char *const *sets, int nsets,
                       qb_config *cfg, char *msg, size_t msgsize) {
  memset(cfg, 0, sizeof *cfg);
  build_fixed_schema();
  log_capture lc = {.used = 0};
  lc.buf[0] = '\0';
  cyaml_config_t ycfg = {.log_fn = cyaml_log_to_buffer,
                         .log_ctx = &lc,
                         .mem_fn = cyaml_mem,
                         .log_level = CYAML_LOG_ERROR,
                         .flags = CYAML_CFG_DEFAULT};
  y_config *y = NULL;
  qb_err err = yaml_screen(text, source, msg, msgsize);
  if (err) return err;
  yloc L;
  yloc_open(&L, text, source);
  char at[512], names[2048];

  cyaml_err_t ce = cyaml_load_data((const uint8_t *)text, strlen(text), &ycfg, &config_schema,
                                   (cyaml_data_t **)&y, NULL);
  if (ce != CYAML_OK || !y) {
    if (!y && ce == CYAML_OK) L.ok = 0; /* empty document */
    cyaml_message(lc.buf, &L, msg, msgsize);
    err = QB_ECONFIG;
    goto cleanup;
  }

  const qb_model *m = qb_model_find(y->model);
  if (!m) {
    names[0] = '\0';
    for (int i = 0; qb_models[i]; i++)
      snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
               qb_models[i]->name);
    FAIL("%s: model = '%s' is unknown; allowed: %s", where(&L, "model", 0, at, sizeof at), y->model,
         names);
  }
  cfg->model = m;
  qb_model_defaults(m, cfg->fixed, cfg->given);
  qb_model_param_names(m, names, sizeof names);

  /* axes */
  qb_grid *g = &cfg->grid;
  int64_t shape[QB_MAX_AXES];
  for (unsigned d = 0; d < y->axes_count; d++) {
    y_axis *ya = &y->axes[d];
    qb_axis *a = &g->axes[g->ndim];
    char path[64];
    snprintf(path, sizeof path, "axes/%u/name", d);
    int pi = qb_model_param_index(m, ya->name);
    if (pi < 0)
      FAIL("%s: axes[%u].name = '%s' is not a parameter of model %s; allowed: %s",
           where(&L, path, 0, at, sizeof at), d, ya->name, m->name, names);
    for (int e = 0; e < g->ndim; e++)
      if (g->axes[e].param == pi)
        FAIL("%s: axes[%u].name = '%s' duplicates axes[%d]; allowed: each parameter on at most "
             "one axis",
             where(&L, path, 0, at, sizeof at), d, ya->name, e);
    snprintf(a->name, sizeof a->name, "%s", ya->name);
    a->param = pi;
    g->ndim++;
    snprintf(path, sizeof path, "axes/%u", d);
    int has_range = ya->min || ya->max || ya->n || ya->scale;
    if (ya->values && has_range)
      FAIL("%s: axes[%u] (%s) has both 'values' and min/max/n/scale; allowed: either a list "
           "'values' or 'min', 'max', 'n' (and optional 'scale')",
           where(&L, path, 0, at, sizeof at), d, ya->name);
    if (ya->values) {
      a->kind = QB_AXIS_LIST;
      a->n = ya->values_count;
      if (a->n > QB_AXIS_NMAX)
        FAIL("%s: axes[%u].values has %lld entries; allowed: at most %lld",
             where(&L, path, 0, at, sizeof at), d, (long long)a->n, (long long)QB_AXIS_NMAX);
      a->values = malloc((size_t)a->n * sizeof(double));
      if (!a->values) {
        err = QB_ENOMEM;
        snprintf(msg, msgsize, "out of memory");
        goto cleanup;
      }
      for (int64_t i = 0; i < a->n; i++) {
        snprintf(path, sizeof path, "axes/%u/values/%lld", d, (long long)i);
        if (!qb_config_parse_number(ya->values[i], &a->values[i]))
          FAIL("%s: axes[%u].values[%lld] = '%s' %s; allowed: %s",
               where(&L, path, 0, at, sizeof at), d, (long long)i, ya->values[i],
               not_number(ya->values[i]), QB_NUMBER_ALLOWED);
        char why[512];
        if (qb_model_check_value(m, pi, a->values[i], why, sizeof why))
          FAIL("%s: axes[%u].values[%lld]: %s", where(&L, path, 0, at, sizeof at), d, (long long)i,
               why);
        if (i > 0 && !(a->values[i] > a->values[i - 1]))
          FAIL("%s: axes[%u].values[%lld] = %.17g is not greater than values[%lld] = %.17g; "
               "allowed: strictly increasing coordinates",
               where(&L, path, 0, at, sizeof at), d, (long long)i, a->values[i], (long long)i - 1,
               a->values[i - 1]);
      }
    } else {
      if (!ya->min || !ya->max || !ya->n)
        FAIL("%s: axes[%u] (%s) needs 'values' or all of 'min', 'max', 'n'; missing: %s%s%s",
             where(&L, path, 0, at, sizeof at), d, ya->name, ya->min ? "" : "min ",
             ya->max ? "" : "max ", ya->n ? "" : "n");
      static const char *const keys[3] = {"min", "max", "n"};
      const char *txt[3] = {ya->min, ya->max, ya->n};
      double *dst[3] = {&a->min, &a->max, NULL};
      for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "axes/%u/%s", d, keys[k]);
        bool ok = dst[k] ? qb_config_parse_number(txt[k], dst[k]) : parse_integer(txt[k], &a->n);
        if (!ok)
          FAIL("%s: axes[%u].%s = '%s' %s; allowed: %s", where(&L, path, 0, at, sizeof at), d,
               keys[k], txt[k], dst[k] ? not_number(txt[k]) : "is not an integer",
               dst[k] ? QB_NUMBER_ALLOWED : "an integer >= 1 (e.g. 101 or 1e3)");
      }
      a->kind = QB_AXIS_LIN;
      if (ya->scale) {
        snprintf(path, sizeof path, "axes/%u/scale", d);
        if (strcmp(ya->scale, "log") == 0)
          a->kind = QB_AXIS_LOG;
        else if (strcmp(ya->scale, "lin") != 0)
          FAIL("%s: axes[%u].scale = '%s'; allowed: lin, log", where(&L, path, 0, at, sizeof at), d,
               ya->scale);
      }
      snprintf(path, sizeof path, "axes/%u/n", d);
      if (a->n < 1)
        FAIL("%s: axes[%u].n = %lld; allowed: an integer >= 1", where(&L, path, 0, at, sizeof at),
             d, (long long)a->n);
      if (a->n > QB_AXIS_NMAX)
        FAIL("%s: axes[%u].n = %lld; allowed: at most %lld points on one axis (its coordinates "
             "are held in memory)",
             where(&L, path, 0, at, sizeof at), d, (long long)a->n, (long long)QB_AXIS_NMAX);
      char why[512];
      snprintf(path, sizeof path, "axes/%u/min", d);
      if (qb_model_check_value(m, pi, a->min, why, sizeof why))
        FAIL("%s: axes[%u].min: %s", where(&L, path, 0, at, sizeof at), d, why);
      snprintf(path, sizeof path, "axes/%u/max", d);
      if (qb_model_check_value(m, pi, a->max, why, sizeof why))
        FAIL("%s: axes[%u].max: %s", where(&L, path, 0, at, sizeof at), d, why);
      if (a->n > 1 && !(a->min < a->max))
        FAIL("%s: axes[%u] (%s): min = %.17g, max = %.17g; allowed: min < max (or n = 1)",
             where(&L, path, 0, at, sizeof at), d, ya->name, a->min, a->max);
      if (a->kind == QB_AXIS_LOG && !(a->min > 0))
        FAIL("%s: axes[%u] (%s) has scale log with min = %.17g; allowed: 0 < min < max",
             where(&L, path, 0, at, sizeof at), d, ya->name, a->min);
    }
    cfg->given[pi] = true;
    shape[g->ndim - 1] = a->n;
  }
  g->npoints = qb_grid_count(g->ndim, shape);
  if (g->npoints < 0)
    FAIL("%s: the grid's point count (product of the axis lengths) exceeds 2^63 - 1; allowed: "
         "fewer points",
         where(&L, "axes", 0, at, sizeof at));
  for (int d = 0; d < g->ndim; d++) {
    qb_axis *a = &g->axes[d];
    if (a->kind == QB_AXIS_LIST) continue;
    a->values = malloc((size_t)a->n * sizeof(double));
    if (!a->values) {
      err = QB_ENOMEM;
      snprintf(msg, msgsize, "out of memory for axis %s (n = %lld)", a->name, (long long)a->n);
      goto cleanup;
    }
    for (int64_t i = 0; i < a->n; i++)
      a->values[i] = qb_grid_axis_value(a->kind, a->min, a->max, a->n, i);
  }

  /* fixed */
  if (y->fixed)
    for (int k = 0; k < union_count; k++) {
      if (!y->fixed->v[k]) continue;
      char path[128];
      snprintf(path, sizeof path, "fixed/%s", union_names[k]);
      int pi = qb_model_param_index(m, union_names[k]);
      if (pi < 0)
        FAIL("%s: fixed.%s is not a parameter of model %s; allowed: %s",
             where(&L, path, 1, at, sizeof at), union_names[k], m->name, names);
      if (cfg->given[pi])
        FAIL("%s: fixed.%s is also an axis; allowed: a parameter either on an axis or fixed",
             where(&L, path, 1, at, sizeof at), union_names[k]);
      double v;
      if (!qb_config_parse_number(y->fixed->v[k], &v))
        FAIL("%s: fixed.%s = '%s' %s; allowed: %s", where(&L, path, 0, at, sizeof at),
             union_names[k], y->fixed->v[k], not_number(y->fixed->v[k]), QB_NUMBER_ALLOWED);
      char why[512];
      if (qb_model_check_value(m, pi, v, why, sizeof why))
        FAIL("%s: fixed.%s: %s", where(&L, path, 0, at, sizeof at), union_names[k], why);
      cfg->fixed[pi] = v;
      cfg->given[pi] = true;
    }
  for (int s = 0; s < nsets; s++) {
    char why[1024];
    for (int d = 0; d < g->ndim; d++) {
      size_t len = strlen(g->axes[d].name);
      if (strncmp(sets[s], g->axes[d].name, len) == 0 && sets[s][len] == '=')
        FAIL("--set %s: '%s' is an axis; allowed: parameters not on an axis", sets[s],
             g->axes[d].name);
    }
    if (qb_config_parse_assignment(m, sets[s], cfg->fixed, cfg->given, why, sizeof why))
      FAIL("--set %s: %s", sets[s], why);
  }
  {
    char why[1024];
    if (qb_model_check_given(m, cfg->given, why, sizeof why)) {
      char locs[1024] = "";
      for (int i = 0; i < m->nparams; i++) {
        char quoted[QB_NAME_MAX + 2], path[128];
        snprintf(quoted, sizeof quoted, "'%s'", m->params[i].name);
        if (!cfg->given[i] || !strstr(why, quoted)) continue;
        snprintf(path, sizeof path, "fixed/%s", m->params[i].name);
        for (int d = 0; d < g->ndim; d++)
          if (g->axes[d].param == i) snprintf(path, sizeof path, "axes/%d/name", d);
        snprintf(locs + strlen(locs), sizeof locs - strlen(locs), " [%s at %s]", m->params[i].name,
                 where(&L, path, 1, at, sizeof at));
      }
      FAIL("%s: %s%s", source, why, locs);
    }
  }

  /* fields */
  bool want[QB_MAX_FIELDS] = {false};
  if (y->fields) {
    char fnames[2048];
    qb_model_field_names(m, fnames, sizeof fnames);
    for (unsigned k = 0; k < y->fields_count; k++) {
      int fi = qb_model_field_index(m, y->fields[k]);
      char path[64];
      snprintf(path, sizeof path, "fields/%u", k);
      if (fi < 0)
        FAIL("%s: fields[%u] = '%s' is not a field of model %s; allowed: %s",
             where(&L, path, 0, at, sizeof at), k, y->fields[k], m->name, fnames);
      want[fi] = true;
    }
  } else {
    for (int i = 0; i < m->nfields; i++)
      want[i] = true;
  }
  want[m->nfields - 1] = true; /* status */
  for (int i = 0; i < m->nfields; i++)
    if (want[i]) cfg->fields[cfg->nfields++] = i;

  if (y->boundaries) {
    y_boundaries *yb = y->boundaries;
    qb_boundary_spec *b = &cfg->boundaries;
    b->on = true;
    b->field = qb_model_field_index(m, yb->field ? yb->field : "growth_rate");
    if (b->field < 0 || m->fields[b->field].dtype != QB_F64) {
      char fnames[2048];
      qb_model_field_names(m, fnames, sizeof fnames);
      FAIL("%s: boundaries.field = '%s' is not a floating-point field of model %s; allowed: %s",
           where(&L, "boundaries/field", 0, at, sizeof at), yb->field ? yb->field : "growth_rate",
           m->name, fnames);
    }
    b->level = 0.0;
    if (yb->level && !qb_config_parse_number(yb->level, &b->level))
      FAIL("%s: boundaries.level = '%s' %s; allowed: %s",
           where(&L, "boundaries/level", 0, at, sizeof at), yb->level, not_number(yb->level),
           QB_NUMBER_ALLOWED);
    b->axis = g->ndim - 1;
    if (yb->axis) {
      b->axis = -1;
      for (int d = 0; d < g->ndim; d++)
        if (strcmp(g->axes[d].name, yb->axis) == 0) b->axis = d;
    }
    if (b->axis < 0 || g->axes[b->axis].n < 2)
      FAIL("%s: boundaries.axis = '%s'; allowed: an axis of the grid with n >= 2",
           where(&L, "boundaries/axis", 0, at, sizeof at),
           yb->axis ? yb->axis : g->axes[g->ndim - 1].name);
  }
  if (y->eps) {
    qb_ep_spec *e = &cfg->eps;
    int ax[2] = {-1, -1};
    for (int k = 0; k < 2; k++)
      for (int d = 0; d < g->ndim; d++)
        if (strcmp(g->axes[d].name, y->eps->axes[k]) == 0) ax[k] = d;
    for (int k = 0; k < 2; k++) {
      char path[32];
      snprintf(path, sizeof path, "eps/axes/%d", k);
      if (ax[k] < 0 || g->axes[ax[k]].n < 2)
        FAIL("%s: eps.axes[%d] = '%s'; allowed: an axis of the grid with n >= 2",
             where(&L, path, 0, at, sizeof at), k, y->eps->axes[k]);
    }
    if (ax[0] == ax[1])
      FAIL("%s: eps.axes names '%s' twice; allowed: two different axes",
           where(&L, "eps/axes", 0, at, sizeof at), y->eps->axes[0]);
    if (!m->disc)
      FAIL("%s: eps: model %s has no discriminant; allowed: eps only for models with one",
           where(&L, "eps", 1, at, sizeof at), m->name);
    e->on = true;
    e->ax = ax[0];
    e->ay = ax[1];
  }

  if (y->mode && strcmp(y->mode, "grid") != 0 && strcmp(y->mode, "adaptive") != 0)
    FAIL("%s: mode = '%s'; allowed: grid, adaptive", where(&L, "mode", 0, at, sizeof at), y->mode);
  int64_t depth = 0;
  if (y->max_depth && !parse_integer(y->max_depth, &depth))
    FAIL("%s: max_depth = '%s' is not an integer; allowed: an integer from 1 to 10",
         where(&L, "max_depth", 0, at, sizeof at), y->max_depth);
  if (y->mode && strcmp(y->mode, "adaptive") == 0) {
    if (depth < 1 || depth > 10)
      FAIL("%s: mode adaptive needs max_depth = %lld; allowed: an integer from 1 to 10",
           where(&L, y->max_depth ? "max_depth" : "mode", 0, at, sizeof at), (long long)depth);
    int dx = g->ndim - 1, dy = g->ndim - 2;
    if (dy < 0 || g->axes[dx].n < 2 || g->axes[dy].n < 2)
      FAIL("%s: mode adaptive refines the plane of the last two axes; allowed: at least two "
           "axes, the last two with n >= 2",
           where(&L, "mode", 0, at, sizeof at));
    if (!cfg->boundaries.on && !cfg->eps.on)
      FAIL("%s: mode adaptive refines boundaries and EPs; allowed: with a boundaries or eps "
           "section",
           where(&L, "mode", 0, at, sizeof at));
    if (cfg->boundaries.on && cfg->boundaries.axis != dx && cfg->boundaries.axis != dy)
      FAIL("%s: boundaries.axis = '%s' is not in the adaptive plane; allowed: %s or %s",
           where(&L, "boundaries", 0, at, sizeof at), g->axes[cfg->boundaries.axis].name,
           g->axes[dy].name, g->axes[dx].name);
    if (cfg->eps.on &&
        !((cfg->eps.ax == dx && cfg->eps.ay == dy) || (cfg->eps.ax == dy && cfg->eps.ay == dx)))
      FAIL("%s: eps.axes must be the adaptive plane; allowed: [%s, %s]",
           where(&L, "eps/axes", 0, at, sizeof at), g->axes[dy].name, g->axes[dx].name);
    cfg->adaptive_depth = (int)depth;
  } else if (y->max_depth) {
    FAIL("%s: max_depth = %lld without mode adaptive; allowed: max_depth only with mode: "
         "adaptive",
         where(&L, "max_depth", 0, at, sizeof at), (long long)depth);
  }

  if (y->output) snprintf(cfg->output, sizeof cfg->output, "%s", y->output);
  cfg->text = dup_str(text);
  cfg->normalized = normalize(cfg);
  if (!cfg->text || !cfg->normalized) {
    err = QB_ENOMEM;
    snprintf(msg, msgsize, "out of memory");
  }

cleanup:
  if (y) cyaml_free(&ycfg, &config_schema, y, 0);
  yloc_close(&L);
  if (err) qb_config_free(cfg);
  return err;
}

qb_err qb_config_parse_point(int argc, char *const *argv, const qb_model **mp, double *p, char *msg,
                             size_t msgsize) {
  const qb_model *m = argc > 0 ? qb_model_find(argv[0]) : NULL;
  *mp = m;
  if (!m) {
    int n = snprintf(msg, msgsize, "unknown model '%s'; allowed:", argc > 0 ? argv[0] : "");
    for (int i = 0; qb_models[i] && n > 0 && (size_t)n < msgsize; i++)
      n += snprintf(msg + n, msgsize - (size_t)n, " %s", qb_models[i]->name);
    return QB_EUSAGE;
  }
  bool given[QB_MAX_PARAMS];
  qb_model_defaults(m, p, given);
  for (int i = 1; i < argc; i++) {
    bool was[QB_MAX_PARAMS];
    memcpy(was, given, sizeof was);
    if (qb_config_parse_assignment(m, argv[i], p, given, msg, msgsize)) return QB_EUSAGE;
    for (int k = 0; k < m->nparams; k++)
      if (was[k] && strncmp(argv[i], m->params[k].name, strlen(m->params[k].name)) == 0 &&
          argv[i][strlen(m->params[k].name)] == '=') {
        snprintf(msg, msgsize, "parameter '%s' given twice; allowed: once", m->params[k].name);
        return QB_EUSAGE;
      }
  }
  return qb_model_check_given(m, given, msg, msgsize) ? QB_EUSAGE : QB_OK;
}

void qb_config_free(qb_config *cfg) {
  qb_grid_free(&cfg->grid);
  free(cfg->text);
  free(cfg->normalized);
  cfg->text = cfg->normalized = NULL;
}
