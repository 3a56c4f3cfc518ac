#include "qbmap/qb_par.h"

#include <sys/resource.h>

#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int par_rank = 0, par_size = 1;

qb_err qb_par_init(int *argc, char ***argv) {
  if (MPI_Init(argc, argv) != MPI_SUCCESS) return QB_EMPI;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (MPI_Comm_rank(MPI_COMM_WORLD, &par_rank) != MPI_SUCCESS) return QB_EMPI;
  if (MPI_Comm_size(MPI_COMM_WORLD, &par_size) != MPI_SUCCESS) return QB_EMPI;
  return QB_OK;
}

void qb_par_finalize(void) {
  MPI_Finalize();
}

int qb_par_rank(void) {
  return par_rank;
}
int qb_par_size(void) {
  return par_size;
}
double qb_par_time(void) {
  return MPI_Wtime();
}

qb_err qb_par_agree(qb_err mine) {
  int in = (int)mine, out = 0;
  if (MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
    QB_PAR_ABORT("MPI_Allreduce failed while agreeing on a status");
  return (qb_err)out;
}

qb_err qb_par_agree_msg(qb_err mine, char *msg, size_t msgsize) {
  struct {
    int code, rank;
  } in = {(int)mine, par_rank}, out = {0, 0};
  /* MPI_MAXLOC: the largest code, and of the ranks holding it the lowest */
  if (MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, MPI_COMM_WORLD) != MPI_SUCCESS)
    QB_PAR_ABORT("MPI_Allreduce failed while agreeing on a status");
  if (out.code == (int)QB_OK) return QB_OK;
  if (par_rank == out.rank && !msg[0]) snprintf(msg, msgsize, "%s", qb_err_str((qb_err)out.code));
  char *s = par_rank == out.rank ? msg : NULL;
  if (qb_par_bcast_string(&s, out.rank) != QB_OK)
    QB_PAR_ABORT("MPI_Bcast failed while agreeing on an error message");
  if (par_rank != out.rank) {
    snprintf(msg, msgsize, "%s", s ? s : qb_err_str((qb_err)out.code));
    free(s);
  }
  return (qb_err)out.code;
}

qb_err qb_par_bcast_string(char **s, int root) {
  long long len = (par_rank == root) ? (*s ? (long long)strlen(*s) : -1) : 0;
  if (MPI_Bcast(&len, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD) != MPI_SUCCESS) return QB_EMPI;
  if (len < 0) {
    if (par_rank != root) *s = NULL;
    return QB_OK;
  }
  if (par_rank != root) {
    *s = malloc((size_t)len + 1);
    if (!*s) QB_PAR_ABORT("out of memory receiving %lld bytes", len);
  }
  /* large texts in pieces: MPI counts are int */
  for (long long off = 0; off < len; off += 1 << 30) {
    int n = (int)(len - off < (1 << 30) ? len - off : (1 << 30));
    if (MPI_Bcast(*s + off, n, MPI_CHAR, root, MPI_COMM_WORLD) != MPI_SUCCESS) return QB_EMPI;
  }
  (*s)[len] = '\0';
  return QB_OK;
}

void qb_par_bcast_bytes(void *buf, int64_t n, int root) {
  for (int64_t off = 0; off < n; off += 1 << 30) {
    int k = (int)(n - off < (1 << 30) ? n - off : (1 << 30));
    if (MPI_Bcast((char *)buf + off, k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
      QB_PAR_ABORT("MPI_Bcast failed");
  }
}

void qb_par_bcast_int(int *v, int root) {
  if (MPI_Bcast(v, 1, MPI_INT, root, MPI_COMM_WORLD) != MPI_SUCCESS)
    QB_PAR_ABORT("MPI_Bcast failed");
}

void qb_par_exscan(int64_t mine, int64_t *offset, int64_t *total) {
  long long in = mine, off = 0, tot = 0;
  if (MPI_Exscan(&in, &off, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS ||
      MPI_Allreduce(&in, &tot, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
    QB_PAR_ABORT("MPI_Exscan/MPI_Allreduce failed");
  *offset = par_rank == 0 ? 0 : off; /* MPI_Exscan leaves rank 0's result undefined */
  *total = tot;
}

qb_err qb_par_allgather_i64(const int64_t *mine, int64_t n, int width, int64_t **all,
                            int64_t *total) {
  int64_t off, tot;
  qb_par_exscan(n, &off, &tot);
  *all = NULL;
  *total = tot;
  if (tot * width > INT32_MAX) return QB_ENOMEM; /* MPI counts are int */
  int *counts = malloc((size_t)par_size * sizeof *counts);
  int *displs = malloc((size_t)par_size * sizeof *displs);
  int mine_n = (int)(n * width);
  qb_err err = (counts && displs) ? QB_OK : QB_ENOMEM;
  if (!err && MPI_Allgather(&mine_n, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD) != MPI_SUCCESS)
    err = QB_EMPI;
  if (!err) {
    for (int r = 0, d = 0; r < par_size; d += counts[r++])
      displs[r] = d;
    *all = malloc((size_t)(tot > 0 ? tot * width : 1) * sizeof **all);
    if (!*all) err = QB_ENOMEM;
  }
  static const int64_t none = 0;
  if ((err = qb_par_agree(err))) { /* every rank must reach the collective, or none */
    free(counts);
    free(displs);
    free(*all);
    *all = NULL;
    return err;
  }
  if (MPI_Allgatherv(mine ? mine : &none, mine_n, MPI_INT64_T, *all, counts, displs, MPI_INT64_T,
                     MPI_COMM_WORLD) != MPI_SUCCESS)
    err = QB_EMPI;
  free(counts);
  free(displs);
  return err;
}

double qb_par_max(double mine) {
  double out = mine;
  if (MPI_Allreduce(&mine, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
    QB_PAR_ABORT("MPI_Allreduce failed");
  return out;
}

double qb_par_peak_rss_mib(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1.0;
}

void qb_par_barrier(void) {
  if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS) QB_PAR_ABORT("MPI_Barrier failed");
}

const char *qb_par_library_version(void) {
  static char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int n = 0;
  if (!v[0]) {
    MPI_Get_library_version(v, &n);
    char *nl = strchr(v, '\n');
    if (nl) *nl = '\0';
    char *comma = strchr(v, ',');
    if (comma) *comma = '\0';
  }
  return v;
}

_Noreturn void qb_par_abort(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "qbmap: rank %d: %s:%d: ", par_rank, file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  abort();
}
