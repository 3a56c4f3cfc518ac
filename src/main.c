/* qbmap: parameter-space maps of quantum-battery models.
 *   qbmap run [CONFIG.yaml] [-o OUT.h5] [--set name=value]... [--force]   (under mpiexec)
 *   qbmap point [--json] MODEL name=value ...
 *   qbmap models
 * Exit codes: 0 success, 1 run-time failure (I/O, HDF5, MPI), 2 bad usage or input,
 * 3 checkpointed after a signal (not finished: rerun with --resume). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_version.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "qb_buildinfo.h"
#include "qbmap/qb_bind.h"
#include "qbmap/qb_config.h"
#include "qbmap/qb_h5.h"
#include "qbmap/qb_hook.h"
#include "qbmap/qb_model.h"
#include "qbmap/qb_network.h"
#include "qbmap/qb_par.h"
#include "qbmap/qb_sweep.h"

static const char usage_main[] =
    "usage: qbmap COMMAND [options]\n"
    "\n"
    "Maps parameter spaces of quantum-battery models into self-describing HDF5 files.\n"
    "\n"
    "commands:\n"
    "  run [CONFIG.yaml] [-o OUT.h5] [--set name=value]... [--force]\n"
    "                      sweep a grid on all MPI ranks (without CONFIG: the EP paper's Fig. 3)\n"
    "  point [--json] [--config FILE] MODEL name=value ...   evaluate one point, print every "
    "field\n"
    "  models              list models, their parameters and fields\n"
    "\n"
    "  qbmap --version     version, git commit, library versions\n"
    "  qbmap COMMAND --help\n";

static const char usage_run[] =
    "usage: mpiexec -n N qbmap run [CONFIG.yaml] [-o OUT.h5] [--set name=value]... [--force]\n"
    "                              [--resume]\n"
    "                              [--block-points N] [--progress SECONDS] [--flush SECONDS]\n"
    "                              [--print-config]\n"
    "\n"
    "Evaluates every point of the config's grid and writes one HDF5 file (netCDF-4/CF).\n"
    "Without CONFIG it runs the embedded default (EP paper Fig. 3, 843453 points).\n"
    "  -o OUT.h5          output path (default: the config's `output`, else CONFIG with .h5)\n"
    "  --set name=value   set a parameter that is not on an axis (repeatable; the value may be\n"
    "                     an expression, e.g. --set 'Delta=0.5*J')\n"
    "  --force            overwrite an existing output file\n"
    "  --resume           continue an interrupted run of the same config into the same output\n"
    "                     (any rank count); a skeleton killed while being built is rebuilt\n"
    "  --block-points N   points per block of work (default 65536)\n"
    "  --progress S       seconds between progress lines (default 5)\n"
    "  --flush S          seconds between flushes that mark finished blocks done (default 10)\n"
    "  --print-config     dry run: print the normalized config CONFIG gives (with --set) and\n"
    "                     the grid, fields, blocks, output path and estimated size; compute\n"
    "                     and write nothing (without CONFIG and --set: the embedded default)\n"
    "\n"
    "Without mpiexec it runs on one rank.  Open MPI as root needs OMPI_ALLOW_RUN_AS_ROOT=1\n"
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the environment.\n";

static const char usage_point[] =
    "usage: qbmap point [--json] [--config FILE] MODEL name=value ...\n"
    "\n"
    "Evaluates one point and prints every field as `name = value` (%.17g; nan, inf), then the\n"
    "status in words on lines starting with '#', one per set bit.\n"
    "  --json   one JSON object instead: model, parameters (given and defaulted), fields (null\n"
    "           where NaN or infinite, listed in `nonfinite`), status and its decoded bits\n"
    "  --config FILE   start from FILE's model and fixed values (its axes' parameters are given\n"
    "           as name=value); model network needs it (the network is FILE's section)\n"
    "A value may be an expression over parameters and FILE's symbols (README, \"Expressions\n"
    "and symbols\"): qbmap point shared J=0.7 'Delta=0.5*J' kappa_a=0.3 kappa_b=0.2\n"
    "Example: qbmap point ep delta_r=0.5 alpha=0 gamma_b=0.5 t=3\n"
    "         qbmap point network --config examples/network_threemode.yaml delta=0.3 t=5\n";

/* %.17g with nan/inf spelled the same on every platform. */
static void print_value(const char *name, double v) {
  if (isnan(v))
    printf("%s = nan\n", name);
  else if (isinf(v))
    printf("%s = %sinf\n", name, v < 0 ? "-" : "");
  else
    printf("%s = %.17g\n", name, v);
}

/* s as a JSON string: quotes, backslashes and control characters escaped (the model tables'
 * texts are UTF-8 and pass as they are). */
static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      printf("\\%c", *c);
    else if (*c < 0x20 || *c == 0x7f)
      printf("\\u%04x", *c);
    else
      putchar(*c);
  }
  putchar('"');
}

/* v as a JSON number that reads back bit for bit (%.17g; -0 as -0.0, which a JSON reader would
 * otherwise take for the integer 0), or null where it is NaN or infinite (JSON has no such
 * numbers: the caller lists them separately). */
static void json_number(double v) {
  if (!isfinite(v))
    fputs("null", stdout);
  else if (v == 0 && signbit(v))
    fputs("-0.0", stdout);
  else
    printf("%.17g", v);
}

/* "nan", "inf" or "-inf": how the text form and the JSON `nonfinite` list spell v. */
static const char *nonfinite_word(double v) {
  return isnan(v) ? "nan" : v < 0 ? "-inf" : "inf";
}

/* One line on stderr: "prefix: msg", with control characters and bytes that are not UTF-8
 * written as \n, \r, \t or \xHH, so that a name from the user cannot break the line.  The line
 * is written with one call, so that mpiexec's own messages cannot split it. */
static void print_error(const char *prefix, const char *msg) {
  char line[4 * 4096 + 512];
  size_t n = (size_t)snprintf(line, sizeof line, "%s: ", prefix), cap = sizeof line - 6;
  const unsigned char *s = (const unsigned char *)msg;
  while (*s && n < cap) {
    int k = *s < 0x80             ? 1
            : (*s & 0xe0) == 0xc0 ? 2
            : (*s & 0xf0) == 0xe0 ? 3
            : (*s & 0xf8) == 0xf0 ? 4
                                  : 0;
    for (int j = 1; j < k; j++)
      if ((s[j] & 0xc0) != 0x80) k = 0;
    if (k == 2 && *s < 0xc2) k = 0; /* overlong */
    if (k == 1 && (*s < 0x20 || *s == 0x7f)) {
      const char *esc = *s == '\n' ? "\\n" : *s == '\r' ? "\\r" : *s == '\t' ? "\\t" : NULL;
      n += esc ? (size_t)snprintf(line + n, 5, "%s", esc)
               : (size_t)snprintf(line + n, 5, "\\x%02x", *s);
      s++;
    } else if (k == 0) {
      n += (size_t)snprintf(line + n, 5, "\\x%02x", *s++);
    } else {
      memcpy(line + n, s, (size_t)k);
      n += (size_t)k;
      s += k;
    }
  }
  line[n++] = '\n';
  fflush(stderr);
  fwrite(line, 1, n, stderr);
  fflush(stderr);
}

static int has_help(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

/* The status bits of `qbmap models`. */
static void print_status_bits(const qb_pt_bit *bits, int n) {
  printf("\n  status bits (bit; mask; kind: info = a field undefined by physics, failure = "
         "not computed or not trustworthy; meaning):\n");
  for (int k = 0; k < n; k++) {
    const qb_pt_bit *b = &bits[k];
    printf("    %-17s %-2d %-4u %-7s %s\n", qb_pt_bit_word(b), qb_pt_bit_number(b), b->mask,
           qb_pt_kind_word(qb_pt_bit_kind(b)), qb_pt_bit_doc(b));
  }
  printf("\n");
}

/* One model's table: description, parameters, fields, status bits. */
static void print_model(const qb_model *m) {
  printf("model %s\n  %s\n\n  parameters (default; unit; meaning):\n", m->name, m->doc);
  for (int k = 0; k < m->nparams; k++) {
    const qb_param *p = &m->params[k];
    char def[32];
    if (qb_bind_expression(m, k))
      snprintf(def, sizeof def, "expression");
    else if (isnan(p->def))
      snprintf(def, sizeof def, p->alternative ? "one-of" : "required");
    else
      snprintf(def, sizeof def, "%g", p->def);
    printf("    %-16s %-9s %-3s %s%s\n", p->name, def, p->units, p->doc,
           p->range == QB_POSITIVE ? " (> 0)" : (p->range == QB_NONNEG ? " (>= 0)" : ""));
  }
  printf("\n  fields (unit; type; meaning):\n");
  for (int k = 0; k < m->nfields; k++) {
    const qb_field *f = &m->fields[k];
    printf("    %-16s %-3s %-7s %s\n", f->name, f->units, f->dtype == QB_F64 ? "float64" : "int32",
           f->doc);
  }
  print_status_bits(m->status_bits, m->nstatus);
}

static int point_config(const char *path, qb_config *cfg, const char *who);

/* `qbmap models`: every built-in model and the network template; `qbmap models --config FILE`:
 * the model FILE defines (a network's own parameters and fields). */
static int cmd_models(const char *config) {
  if (config) {
    qb_config cfg = {0};
    if (point_config(config, &cfg, "qbmap models")) return 2;
    print_model(cfg.model);
    qb_config_free(&cfg);
    return 0;
  }
  for (int i = 0; qb_models[i]; i++)
    print_model(qb_models[i]);
  printf("model network\n  %s\n\n  parameters: the network's symbols (required: on an axis or "
         "fixed), t (default 0) and E_max (default 1000); `qbmap models --config FILE` lists a "
         "network's parameters and fields\n",
         qb_network_doc);
  print_status_bits(qb_network_status_bits, qb_network_nstatus);
  return 0;
}

/* Model m's declaration of status bit n, NULL if it declares none. */
static const qb_pt_bit *declared_bit(const qb_model *m, int n) {
  for (int i = 0; i < m->nstatus; i++)
    if (m->status_bits[i].mask == 1u << n) return &m->status_bits[i];
  return NULL;
}

/* The text form of `point`: one `name = value` line per field, in the model's order (status,
 * the last field, as its integer), then the status decoded with the model's declared bits on
 * lines that start with '#', one per set bit ("# status ok" for 0), so that every line not
 * starting with '#' is `name = value` (the meanings may contain " = " themselves). */
static void point_text(const qb_model *m, const double *out) {
  for (int k = 0; k < m->nfields; k++)
    print_value(m->fields[k].name, out[k]);
  uint32_t status = (uint32_t)out[m->nfields - 1];
  if (status == 0) printf("# status ok: every field is defined\n");
  for (int n = 0; n < 32; n++) {
    if (!(status & (1u << n))) continue;
    const qb_pt_bit *b = declared_bit(m, n);
    if (b)
      printf("# status bit %d (%s): %s\n", n, qb_pt_bit_word(b), qb_pt_bit_doc(b));
    else
      printf("# status bit %d: undeclared by model %s\n", n, m->name);
  }
}

/* JSON list of the names of the parameters i with sel[i]. */
static void json_param_names(const qb_model *m, const bool *sel) {
  int first = 1;
  putchar('[');
  for (int i = 0; i < m->nparams; i++)
    if (sel[i]) {
      fputs(first ? "" : ", ", stdout);
      json_string(m->params[i].name);
      first = 0;
    }
  putchar(']');
}

/* The JSON form of `point`: one object (keys in this order) with the model; `parameters`, every
 * parameter's value as the kernel got it (null: not given and no default, the other one of a
 * group such as ep's alpha/gamma_a); `given` and `defaulted`, the names of the parameters given
 * and of those taken from their defaults; `fields`, every field (null where NaN or infinite);
 * `nonfinite`, those fields' names with "nan", "inf" or "-inf"; `status`, the integer; and
 * `status_bits`, one object per set bit (bit number, mask, word, kind "info" or "failure",
 * text; word and kind null and text "undeclared" for a bit the model does not declare). */
static void point_json(const qb_model *m, const double *p, const bool *given, const double *out) {
  printf("{\n  \"model\": ");
  json_string(m->name);
  printf(",\n  \"parameters\": {");
  for (int i = 0; i < m->nparams; i++) {
    printf("%s", i ? ", " : "");
    json_string(m->params[i].name);
    printf(": ");
    json_number(p[i]);
  }
  printf("},\n  \"given\": ");
  json_param_names(m, given);
  printf(",\n  \"defaulted\": ");
  bool defaulted[QB_MAX_PARAMS];
  for (int i = 0; i < m->nparams; i++)
    defaulted[i] = !given[i] && !isnan(p[i]);
  json_param_names(m, defaulted);
  printf(",\n  \"fields\": {");
  for (int k = 0; k < m->nfields; k++) {
    printf("%s", k ? ", " : "");
    json_string(m->fields[k].name);
    printf(": ");
    json_number(out[k]);
  }
  printf("},\n  \"nonfinite\": {");
  for (int k = 0, first = 1; k < m->nfields; k++)
    if (!isfinite(out[k])) {
      printf("%s", first ? "" : ", ");
      json_string(m->fields[k].name);
      printf(": \"%s\"", nonfinite_word(out[k]));
      first = 0;
    }
  uint32_t status = (uint32_t)out[m->nfields - 1];
  printf("},\n  \"status\": %u,\n  \"status_bits\": [", status);
  for (int n = 0, first = 1; n < 32; n++) {
    if (!(status & (1u << n))) continue;
    const qb_pt_bit *b = declared_bit(m, n);
    printf("%s\n    {\"bit\": %d, \"mask\": %u, \"word\": ", first ? "" : ",", n, 1u << n);
    if (b)
      json_string(qb_pt_bit_word(b));
    else
      fputs("null", stdout);
    printf(", \"kind\": ");
    if (b)
      json_string(qb_pt_kind_word(qb_pt_bit_kind(b)));
    else
      fputs("null", stdout);
    printf(", \"text\": ");
    json_string(b ? qb_pt_bit_doc(b) : "undeclared");
    putchar('}');
    first = 0;
  }
  printf("%s]\n}\n", status ? "\n  " : "");
}

static char *read_file(const char *path, char *msg, size_t msgsize);

/* `point`'s options: --json and --config FILE anywhere; the rest is MODEL name=value ... */
static int point_args(int argc, char **argv, char **args, int *n, int *json, const char **config) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--json") == 0)
      *json = 1;
    else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && !*config)
      *config = argv[++i];
    else if (strcmp(argv[i], "--config") == 0)
      return 2;
    else
      args[(*n)++] = argv[i];
  return *n == 0 ? 2 : 0;
}

/* The config of `point --config FILE` (or `models --config FILE`) into cfg; 1 and a message
 * from `who` on error. */
static int point_config(const char *path, qb_config *cfg, const char *who) {
  char msg[2048];
  char *text = read_file(path, msg, sizeof msg);
  qb_err err = text ? qb_config_parse_base(text, path, cfg, msg, sizeof msg) : QB_ECONFIG;
  free(text);
  if (err) print_error(who, msg);
  return err ? 1 : 0;
}

static int cmd_point(int argc, char **argv) {
  if (has_help(argc, argv) || argc < 1) {
    fputs(usage_point, argc < 1 ? stderr : stdout);
    return argc < 1 ? 2 : 0;
  }
  int json = 0, n = 0;
  const char *config = NULL;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args) {
    print_error("qbmap point", "out of memory");
    return 1;
  }
  if (point_args(argc, argv, args, &n, &json, &config)) {
    fputs(usage_point, stderr);
    free(args);
    return 2;
  }
  qb_config cfg = {0};
  if (config && point_config(config, &cfg, "qbmap point")) {
    free(args);
    return 2;
  }
  const qb_model *m, *bound = NULL; /* bound: the point's expressions wrapper (qb_bind.h) */
  double p[QB_MAX_PARAMS], out[QB_MAX_FIELDS];
  char msg[2048];
  int rc = 0;
  if (qb_config_parse_point(n, args, config ? &cfg : NULL, &m, &bound, p, msg, sizeof msg)) {
    print_error("qbmap point", msg);
    rc = 2;
  } else {
    /* parsed: p holds every value; `given` in the JSON are the parameters named on the line */
    bool given[QB_MAX_PARAMS] = {false};
    for (int i = 1; i < n; i++) {
      size_t len = strcspn(args[i], "=");
      for (int k = 0; k < m->nparams; k++)
        if (strlen(m->params[k].name) == len && strncmp(args[i], m->params[k].name, len) == 0)
          given[k] = true;
    }
    qb_model_eval(m, p, NULL, out);
    double shown[QB_MAX_PARAMS]; /* the values given by expressions, evaluated */
    qb_config_point_shown(m, bound, p, out, shown);
    if (json)
      point_json(m, shown, given, out);
    else
      point_text(m, out);
  }
  free(args);
  qb_config_point_free(m, bound);
  qb_config_free(&cfg);
  return rc;
}

#define QB_CONFIG_MAX ((size_t)64 << 20) /* bytes */

/* The whole file as a NUL-terminated string (malloc'ed), at most QB_CONFIG_MAX bytes; NULL and
 * one message with the reason otherwise. */
static char *read_file(const char *path, char *msg, size_t msgsize) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(msg, msgsize, "cannot read config '%s': %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  int read_errno = 0;
  while (buf) {
    errno = 0;
    len += fread(buf + len, 1, cap - len - 1, f);
    if (ferror(f)) {
      read_errno = errno ? errno : EIO;
      break;
    }
    if (len < cap - 1 || len > QB_CONFIG_MAX) break;
    char *nb = realloc(buf, cap = cap * 2 < QB_CONFIG_MAX + 2 ? cap * 2 : QB_CONFIG_MAX + 2);
    if (!nb) free(buf);
    buf = nb;
  }
  fclose(f);
  if (!buf) {
    snprintf(msg, msgsize, "cannot read config '%s': out of memory", path);
  } else if (read_errno) {
    snprintf(msg, msgsize, "cannot read config '%s': %s", path, strerror(read_errno));
  } else if (len > QB_CONFIG_MAX) {
    snprintf(msg, msgsize, "config '%s' is larger than 64 MiB; allowed: at most %zu bytes", path,
             QB_CONFIG_MAX);
  } else {
    buf[len] = '\0';
    if (strlen(buf) == len) return buf;
    snprintf(msg, msgsize, "config '%s' contains a NUL byte at offset %zu; allowed: YAML text",
             path, strlen(buf));
  }
  free(buf);
  return NULL;
}

typedef struct {
  const char *config, *output;
  char **sets;
  int nsets, force, print_config, resume;
  long long block_points;
  double progress_s, flush_s;
} run_args;

static qb_err parse_run_args(int argc, char **argv, run_args *a, char *msg, size_t msgsize) {
  *a = (run_args){.block_points = 65536, .progress_s = 5.0, .flush_s = 10.0};
  a->sets = calloc((size_t)argc + 1, sizeof *a->sets);
  if (!a->sets) return QB_ENOMEM;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    int more = i + 1 < argc;
    if (strcmp(s, "-o") == 0 && more)
      a->output = argv[++i];
    else if (strcmp(s, "--set") == 0 && more)
      a->sets[a->nsets++] = argv[++i];
    else if (strcmp(s, "--force") == 0)
      a->force = 1;
    else if (strcmp(s, "--resume") == 0)
      a->resume = 1;
    else if (strcmp(s, "--print-config") == 0)
      a->print_config = 1;
    else if (strcmp(s, "--block-points") == 0 && more) {
      char *end;
      a->block_points = strtoll(argv[++i], &end, 10);
      if (*end || a->block_points < 1 || a->block_points > (1LL << 26)) {
        snprintf(msg, msgsize, "--block-points %s: allowed: an integer from 1 to 2^26", argv[i]);
        return QB_EUSAGE;
      }
    } else if ((strcmp(s, "--progress") == 0 || strcmp(s, "--flush") == 0) && more) {
      char *end;
      double v = strtod(argv[++i], &end);
      if (*end || !(v >= 0) || !isfinite(v)) {
        snprintf(msg, msgsize, "%s %s: allowed: seconds >= 0", s, argv[i]);
        return QB_EUSAGE;
      }
      *(strcmp(s, "--flush") == 0 ? &a->flush_s : &a->progress_s) = v;
    } else if (s[0] == '-' || a->config) {
      snprintf(msg, msgsize, "unexpected argument '%s' (see qbmap run --help)", s);
      return QB_EUSAGE;
    } else
      a->config = s;
  }
  if (a->resume && a->force) {
    snprintf(msg, msgsize, "--resume and --force together; allowed: one of them");
    return QB_EUSAGE;
  }
  return QB_OK;
}

/* Output path: -o, else the config's `output`, else CONFIG with its extension replaced. */
static void output_path(const run_args *a, const qb_config *cfg, char *out, size_t size) {
  if (a->output)
    snprintf(out, size, "%s", a->output);
  else if (cfg->output[0])
    snprintf(out, size, "%s", cfg->output);
  else if (a->config) {
    const char *slash = strrchr(a->config, '/'), *base = slash ? slash + 1 : a->config;
    const char *dot = strrchr(base, '.');
    int n = dot ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, size, "%.*s.h5", n, base);
  } else
    snprintf(out, size, "qbmap.h5");
}

/* What `run` holds while it starts: arguments, config text, output path, parsed config. */
typedef struct {
  run_args a;
  char *text, *out;
  qb_config cfg;
  int have_cfg, sets_owned;
} run_state;

/* bytes as "N unit" with 3 significant digits, decimal units (B, kB, MB, ...). */
static void human_bytes(double bytes, char *buf, size_t size) {
  static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"};
  int u = 0;
  while (bytes >= 999.5 && u < 7) {
    bytes /= 1000;
    u++;
  }
  snprintf(buf, size, "%.3g %s", bytes, unit[u]);
}

/* Rank 0, `run CONFIG --print-config` (or --set without CONFIG): the normalized config (every
 * value explicit: what the file's config_normalized holds and --resume compares; it parses
 * back to the same run), then, as YAML comments, what the run would do.  Evaluates no point
 * and writes nothing.  The blocks are qb_sweep's (qb_grid_block_points with --block-points);
 * the size counts the fields (float64: 8 bytes, int32: 4 per point), the coordinates (8 per
 * axis value) and the done mask (9 per block), which is the file up to its metadata (tens of kB)
 * and the post-pass groups (a few rows per crossing or EP found). */
static void print_dry_run(const run_state *r) {
  const qb_config *c = &r->cfg;
  const qb_grid *g = &c->grid;
  fputs(c->normalized, stdout);
  printf("# dry run: nothing computed, nothing written\n# grid: ");
  double coords = 0;
  for (int d = 0; d < g->ndim; d++) {
    printf("%s%s[%lld]", d ? " x " : "", g->axes[d].name, (long long)g->axes[d].n);
    coords += 8.0 * (double)g->axes[d].n;
  }
  printf(" = %lld point%s\n", (long long)g->npoints, g->npoints > 1 ? "s" : "");
  int ni32 = 0;
  for (int k = 0; k < c->nfields; k++)
    ni32 += c->model->fields[c->fields[k]].dtype == QB_I32;
  printf("# fields: %d (%d float64, %d int32)\n", c->nfields, c->nfields - ni32, ni32);
  int64_t bp = qb_grid_block_points(g, r->a.block_points);
  int64_t nb = (g->npoints + bp - 1) / bp;
  printf("# blocks: %lld of at most %lld points (--block-points %lld)", (long long)nb,
         (long long)bp, r->a.block_points);
  if (nb > QB_H5_MAX_BLOCKS)
    printf(": more than %lld, the run refuses; allowed: --block-points of at least %lld",
           (long long)QB_H5_MAX_BLOCKS, (long long)(g->npoints / QB_H5_MAX_BLOCKS + 1));
  struct stat st;
  printf("\n# output: %s%s\n", r->out,
         lstat(r->out, &st) == 0 ? " (exists: the run needs --force, or --resume)" : "");
  double data = (double)g->npoints * (8.0 * (c->nfields - ni32) + 4.0 * ni32);
  double done = 9.0 * (double)nb;
  char human[32];
  human_bytes(data + coords + done, human, sizeof human);
  printf("# size: about %s: fields %.0f bytes, coordinates %.0f, done mask %.0f; plus metadata "
         "(tens of kB)%s\n",
         human, data, coords, done,
         c->boundaries.on || c->eps.on || c->adaptive_depth ? " and the post-pass groups" : "");
}

/* Rank 0: reads and validates everything before any rank is told to go on. */
static qb_err prepare_rank0(run_state *r, char *msg, size_t msgsize) {
  const run_args *a = &r->a;
  /* a wrong PMI setting makes srun start N independent 1-rank copies that would all write the
   * same file: refuse when SLURM's task count and MPI's disagree */
  const char *ntasks = getenv("SLURM_NTASKS");
  if (ntasks && !a->print_config && atoi(ntasks) != qb_par_size()) {
    snprintf(msg, msgsize,
             "SLURM_NTASKS = %s but MPI sees %d rank%s: the ranks were not started as one MPI "
             "job; allowed: srun --mpi=pmix, or mpirun inside the allocation",
             ntasks, qb_par_size(), qb_par_size() > 1 ? "s" : "");
    return QB_EUSAGE;
  }
  if (a->print_config && !a->config && a->nsets == 0) { /* the default as it is written */
    fputs(qb_config_default_text, stdout);
    return QB_OK;
  }
  r->text = a->config ? read_file(a->config, msg, msgsize) : strdup(qb_config_default_text);
  if (!r->text) return a->config ? QB_ECONFIG : QB_ENOMEM;
  const char *src = a->config ? a->config : "<default config>";
  qb_err err = qb_config_parse(r->text, src, a->sets, a->nsets, &r->cfg, msg, msgsize);
  if (err) return err;
  r->have_cfg = 1;
  if (!(r->out = malloc(4096))) return QB_ENOMEM;
  output_path(a, &r->cfg, r->out, 4096);
  if (r->cfg.grid.npoints < qb_par_size()) {
    snprintf(msg, msgsize,
             "%d MPI ranks for a grid of %lld point%s: ranks would have nothing to do; "
             "allowed: at most as many ranks as grid points",
             qb_par_size(), (long long)r->cfg.grid.npoints, r->cfg.grid.npoints > 1 ? "s" : "");
    return QB_EUSAGE;
  }
  if (a->print_config) print_dry_run(r);
  return QB_OK;
}

/* Collective: rank 0's config text, --set list (each string as it is) and output path to every
 * rank, which parses them too, so all ranks hold an identical qb_config. */
static qb_err share_config(run_state *r, char *msg, size_t msgsize) {
  const int rank = qb_par_rank();
  qb_par_bcast_int(&r->a.nsets, 0);
  if (rank != 0) {
    free(r->a.sets);
    r->a.sets = calloc((size_t)r->a.nsets + 1, sizeof *r->a.sets);
    if (!r->a.sets) QB_PAR_ABORT("out of memory for %d --set arguments", r->a.nsets);
    r->sets_owned = 1;
  }
  if (qb_par_bcast_string(&r->text, 0) || qb_par_bcast_string(&r->out, 0))
    QB_PAR_ABORT("broadcasting the configuration failed");
  for (int i = 0; i < r->a.nsets; i++)
    if (qb_par_bcast_string(&r->a.sets[i], 0)) QB_PAR_ABORT("broadcasting --set failed");
  qb_err err = QB_OK;
  if (rank != 0) {
    err = qb_config_parse(r->text, "config", r->a.sets, r->a.nsets, &r->cfg, msg, msgsize);
    r->have_cfg = !err;
  }
  return qb_par_agree(err);
}

/* Collective (all ranks): rank 0 validates, every rank gets the same config, then the sweep. */
static int cmd_run(int argc, char **argv) {
  char msg[4096] = "";
  run_state r = {0};
  const int rank = qb_par_rank();
  qb_err err = parse_run_args(argc, argv, &r.a, msg, sizeof msg);
  if (rank == 0 && !err) err = prepare_rank0(&r, msg, sizeof msg);
  int ctl[2] = {rank == 0 ? (int)err : 0, rank == 0 ? (r.a.print_config && !err) : 0};
  qb_par_bcast_int(&ctl[0], 0);
  qb_par_bcast_int(&ctl[1], 0);
  err = (qb_err)ctl[0];
  if (!err && !ctl[1]) err = share_config(&r, msg, sizeof msg);
  if (!err && !ctl[1]) {
    qb_hook_stall("parsed");
    if (qb_par_agree(qb_sweep_stop_requested() ? QB_ECHECKPOINT : QB_OK)) {
      snprintf(msg, sizeof msg, "stopped by a signal before the sweep started; nothing written");
      err = QB_ECHECKPOINT;
    }
  }
  if (!err && !ctl[1]) {
    qb_sweep_opts o = {.output = r.out,
                       .force = r.a.force,
                       .resume = r.a.resume,
                       .block_target = r.a.block_points,
                       .progress_s = r.a.progress_s,
                       .flush_s = r.a.flush_s,
                       .provenance = {{"qbmap_version", QB_VERSION},
                                      {"git_commit", QB_GIT_COMMIT},
                                      {"mpi_version", qb_par_library_version()},
                                      {"gsl_version", gsl_version},
                                      {NULL, NULL}}};
    err = qb_sweep_run(&r.cfg, &o, msg, sizeof msg);
  }
  if (err && rank == 0) print_error("qbmap run", msg[0] ? msg : qb_err_str(err));
  if (r.have_cfg) qb_config_free(&r.cfg);
  free(r.text);
  free(r.out);
  for (int i = 0; r.sets_owned && i < r.a.nsets; i++)
    free(r.a.sets[i]);
  free(r.a.sets);
  return qb_err_exit_code(err);
}

int main(int argc, char **argv) {
  gsl_set_error_handler_off();
  signal(SIGXFSZ, SIG_IGN); /* over a file-size limit: a write error to report, not a crash */
  if (argc < 2) {
    fputs(usage_main, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage_main, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("qbmap %s (git %s)\n  MPI: %s\n  HDF5: %s\n  GSL: %s\n", QB_VERSION, QB_GIT_COMMIT,
           qb_par_library_version(), qb_h5_library_version(), gsl_version);
    return 0;
  }
  if (strcmp(cmd, "models") == 0) {
    if (has_help(argc - 2, argv + 2)) {
      printf("usage: qbmap models [--config FILE]\n\nLists every model with its parameters and "
             "fields;\nwith --config, the model FILE defines (a network's own symbols and "
             "fields).\n");
      return 0;
    }
    if (argc == 4 && strcmp(argv[2], "--config") == 0) return cmd_models(argv[3]);
    if (argc > 2) {
      char what[256];
      snprintf(what, sizeof what, "unexpected argument '%.200s'; allowed: none, or --config FILE",
               argv[2]);
      print_error("qbmap models", what);
      return 2;
    }
    return cmd_models(NULL);
  }
  if (strcmp(cmd, "point") == 0) return cmd_point(argc - 2, argv + 2);
  if (strcmp(cmd, "run") == 0) {
    if (has_help(argc - 2, argv + 2)) {
      fputs(usage_run, stdout);
      return 0;
    }
    qb_sweep_install_signals();
    if (qb_par_init(&argc, &argv)) {
      fprintf(stderr, "qbmap run: MPI initialization failed\n");
      return 1;
    }
    qb_h5_exit(cmd_run(argc - 2, argv + 2));
  }
  char what[256];
  snprintf(what, sizeof what, "unknown command '%.200s' (see qbmap --help)", cmd);
  print_error("qbmap", what);
  return 2;
}
