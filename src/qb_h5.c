/* HDF5 output.  hdf5.h of a parallel build brings in mpi.h; this file uses MPI only to name the
 * communicator (MPI_COMM_WORLD) and info object that the MPI-IO driver needs, and agrees on
 * outcomes through qb_par. */
#define _GNU_SOURCE /* fallocate, FALLOC_FL_KEEP_SIZE, gmtime_r, flock */
#include "qbmap/qb_h5.h"

#include "qbmap/qb_bind.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "qbmap/qb_hook.h"
#include "qbmap/qb_par.h"

/* The run's bookkeeping lives in its own group, apart from the science in the root group
 * (README "Output file layout"): the block ids (a dimension scale) and the done mask. */
#define BLOCKS_GROUP "blocks"
#define BLOCK_IDS BLOCKS_GROUP "/block"
#define DONE_MASK BLOCKS_GROUP "/done"

struct qb_h5 {
  hid_t file, dxpl;
  hid_t dset[QB_MAX_FIELDS], space[QB_MAX_FIELDS];
  hid_t done, done_space;
  hid_t none_mem; /* a 1-element memory space with an empty selection */
  int ndim;
  int64_t shape[QB_MAX_AXES];
  const qb_config *cfg;
  char path[PATH_MAX + 1];
};

const char *qb_h5_library_version(void) {
  static char v[32];
  unsigned maj, min, rel;
  if (!v[0] && H5get_libversion(&maj, &min, &rel) >= 0)
    snprintf(v, sizeof v, "%u.%u.%u", maj, min, rel);
  return v;
}

void qb_h5_exit(int code) {
  if (code == 1) {
    fflush(stdout);
    fflush(stderr);
    _exit(code);
  }
  qb_par_finalize();
  exit(code);
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Where the running public function reports its failure (set on entry by err_to); the first
 * failure recorded wins, later ones (cleanup) are dropped. */
static char *err_msg;
static size_t err_size;
static const char *err_path; /* the file being written, if any */

static void err_to(char *msg, size_t size) {
  err_msg = msg;
  err_size = size;
  err_path = NULL;
  if (size) msg[0] = '\0';
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static double fs_free_bytes(const char *path);

static bool failed(void) {
  return err_msg && err_msg[0];
}

static void fail_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_text(const char *fmt, ...) {
  if (!err_msg || err_msg[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_msg, err_size, fmt, ap);
  va_end(ap);
  for (char *c = err_msg; *c; c++) /* one line */
    if (*c == '\n' || *c == '\r') *c = ' ';
}

/* "src/qb_h5.c" from the compiler's (often absolute) __FILE__. */
static const char *src_name(void) {
  const char *f = __FILE__, *s = f;
  for (const char *p = strstr(f, "src/"); p; p = strstr(p + 1, "src/"))
    s = p;
  return s;
}

typedef struct {
  char outer[160], inner[1024], inner_fn[64];
  int n;
} h5_walk;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
  h5_walk *w = data;
  if (n == 0) snprintf(w->outer, sizeof w->outer, "%s", e->desc ? e->desc : "");
  snprintf(w->inner, sizeof w->inner, "%s", e->desc ? e->desc : "");
  snprintf(w->inner_fn, sizeof w->inner_fn, "%s", e->func_name ? e->func_name : "");
  w->n++;
  return 0;
}

/* Records a failed HDF5 call: this file and line, the call, HDF5's outermost and innermost
 * messages and the system error (errno, which MPI-IO does not pass on: "file write failed" is
 * all HDF5 says of a full disk).  Must run right after the call: the next HDF5 call clears the
 * error stack. */
static bool h5_check(bool ok, int line, const char *call) {
  int e = errno;
  if (ok || !err_msg || err_msg[0]) return ok;
  h5_walk w = {.n = 0};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &w);
  char sys[160] = "";
  double avail = !e && err_path ? fs_free_bytes(err_path) : INFINITY;
  if (e && !strstr(w.inner, "errno"))
    snprintf(sys, sizeof sys, ": %s", strerror(e));
  else if (avail < 1048576.0) /* Open MPI's OMPIO keeps ENOSPC to itself */
    snprintf(sys, sizeof sys, ": No space left on device? (its file system has %.0f bytes free)",
             avail);
  char where[32] = ""; /* which rank, when there are several */
  if (qb_par_size() > 1) snprintf(where, sizeof where, " [rank %d]", qb_par_rank());
  if (w.n == 0)
    fail_text("%s:%d: %s failed%s%s", src_name(), line, call, sys, where);
  else if (w.n == 1)
    fail_text("%s:%d: %s: %s%s%s", src_name(), line, call, w.outer, sys, where);
  else
    fail_text("%s:%d: %s: %s ... %s(): %s%s%s", src_name(), line, call, w.outer, w.inner_fn,
              w.inner, sys, where);
  return false;
}

/* H5_OK("H5Dwrite", rc = H5Dwrite(...)): evaluates an HDF5 call whose negative value means
 * failure; records a failure and yields false. */
#define H5_OK(call, expr) (errno = 0, h5_check((expr) >= 0, __LINE__, call))

/* FAULT("write", "H5Dwrite"): true (and a recorded failure) if QBMAP_TEST_FAULT injects a fault
 * at this pass through `point` (qb_hook_fault): the HDF5 call just made counts as failed. */
#define FAULT(point, call) fault_at(point, __LINE__, call)
static bool fault_at(const char *point, int line, const char *call) {
  if (!qb_hook_fault(point)) return false;
  fail_text("%s:%d: %s: injected fault (QBMAP_TEST_FAULT %s@%d)", src_name(), line, call, point,
            qb_par_rank());
  return true;
}

/* Collective: the agreed status of a collective step; every rank gets the failing rank's
 * message. */
static qb_err agree(qb_err mine) {
  char none[1] = "";
  if (!err_msg) return qb_par_agree_msg(mine, none, sizeof none);
  return qb_par_agree_msg(mine, err_msg, err_size);
}

/* ---- paths: lock, identity, space ------------------------------------------------------ */

/* A file that goes with the output `path`: path + suffix (".lock", ".partial", ".undo") in buf;
 * false if it does not fit in size bytes. */
static bool sibling(const char *path, const char *suffix, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s%s", path, suffix);
  return n >= 0 && (size_t)n < size;
}

/* The name of the skeleton while it is being built (qb_h5_create renames it to `path` once
 * complete, so a run killed meanwhile leaves `path.partial`, never a half-built `path`);
 * false if it does not fit in size bytes. */
static bool partial_path(const char *path, char *buf, size_t size) {
  return sibling(path, ".partial", buf, size);
}

/* Opens (creating it, never through a symbolic link) the lock file lp of output `path`, which
 * must be a regular file; fills *st. */
static qb_err open_lock_file(const char *path, const char *lp, int *fd, struct stat *st) {
  int f = open(lp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (f < 0) {
    if (errno == ELOOP) {
      fail_text("lock file '%s' of output '%s' is a symbolic link; allowed: a regular file "
                "(remove the link)",
                lp, path);
      return QB_EEXIST;
    }
    fail_text("cannot create output '%s': its lock file '%s': %s", path, lp, strerror(errno));
    return QB_EIO;
  }
  if (fstat(f, st) != 0 || !S_ISREG(st->st_mode)) {
    close(f);
    fail_text("lock file '%s' of output '%s' is not a regular file; allowed: remove it", lp, path);
    return QB_EEXIST;
  }
  *fd = f;
  return QB_OK;
}

/* flock() on the lock file f failed with errno e: closes f and says why: a lock held by
 * another run (named from the file's text) is QB_EEXIST; a file system without flock() is
 * QB_OK (a note on stdout: the run goes on without the lock). */
static qb_err lock_refused(const char *path, const char *lp, int f, int e) {
  if (e == EWOULDBLOCK) {
    char holder[256] = "";
    ssize_t n = pread(f, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    close(f);
    fail_text("output '%s' is in use by another qbmap run (%s; lock file '%s'); allowed: "
              "wait until that run ends, or another output path",
              path, holder[0] ? holder : "holder unknown", lp);
    return QB_EEXIST;
  }
  close(f);
  if (e == ENOLCK || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL) {
    printf("qbmap: note: the file system of '%s' does not support flock(); running without "
           "the lock (the owner check still guards the file)\n",
           path);
    fflush(stdout);
    return QB_OK;
  }
  fail_text("cannot lock output '%s' (lock file '%s'): %s", path, lp, strerror(e));
  return QB_EIO;
}

qb_err qb_h5_lock(const char *path, int *fd, char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  *fd = -1;
  char lp[PATH_MAX + 16];
  if (!sibling(path, ".lock", lp, sizeof lp)) {
    fail_text("cannot create output '%.200s...': the path is longer than %d bytes", path, PATH_MAX);
    return QB_EIO;
  }
  if (qb_hook_flag("nolock")) return QB_OK;
  for (int attempt = 0; attempt < 20; attempt++) {
    int f = -1;
    struct stat a, b;
    qb_err err = open_lock_file(path, lp, &f, &a);
    if (err) return err;
    if (flock(f, LOCK_EX | LOCK_NB) != 0) return lock_refused(path, lp, f, errno);
    /* the previous holder may have removed the file between our open and our flock: the lock
     * counts only if the path still names the file we locked */
    if (lstat(lp, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
      close(f);
      continue;
    }
    char host[128] = "?", text[256];
    gethostname(host, sizeof host - 1);
    int n = snprintf(text, sizeof text, "pid %ld on host %s\n", (long)getpid(), host);
    if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)n, 0) != n) {
      /* the lock holds without its text (a full disk): the holder is just unnamed */
    }
    *fd = f;
    return QB_OK;
  }
  fail_text("cannot lock output '%s': its lock file '%s' keeps being replaced", path, lp);
  return QB_EIO;
}

void qb_h5_unlock(const char *path, int *fd) {
  if (!fd || *fd < 0) return;
  char lp[PATH_MAX + 16];
  sibling(path, ".lock", lp, sizeof lp);
  unlink(lp); /* before the unlock: a waiting run then finds the path gone and retries */
  close(*fd);
  *fd = -1;
}

static const char *kind_of(mode_t m) {
  return S_ISLNK(m)    ? "a symbolic link"
         : S_ISDIR(m)  ? "a directory"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISFIFO(m) ? "a FIFO"
         : S_ISSOCK(m) ? "a socket"
                       : "not a regular file";
}

/* Writes a refusal into msg as it is, and returns err (unlike fail_text, control characters in
 * a path stay for the caller to escape). */
static qb_err refuse(qb_err err, char *msg, size_t msgsize, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static qb_err refuse(qb_err err, char *msg, size_t msgsize, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msgsize, fmt, ap);
  va_end(ap);
  return err;
}

qb_err qb_h5_prepare(const char *path, bool force, bool resume, qb_h5_start *how, char *msg,
                     size_t msgsize) {
  char partial[PATH_MAX + 16];
  if (!partial_path(path, partial, sizeof partial))
    return refuse(QB_EUSAGE, msg, msgsize, "cannot create output '%.200s...': the path is too long",
                  path);
  struct stat so, sp;
  bool exists = lstat(path, &so) == 0, pexists = lstat(partial, &sp) == 0;
  *how = resume ? (exists ? QB_H5_ADOPT : QB_H5_REBUILD) : QB_H5_CREATE;
  if (exists && !S_ISREG(so.st_mode))
    return refuse(QB_EEXIST, msg, msgsize,
                  "output '%s' exists and is %s; allowed: a regular file (with --force or "
                  "--resume) or a new path",
                  path, kind_of(so.st_mode));
  if (resume && exists) return QB_OK;
  if (exists && !force)
    return refuse(QB_EEXIST, msg, msgsize,
                  "output '%s' exists; allowed: a new path, or --force to overwrite it", path);
  if (pexists && !S_ISREG(sp.st_mode))
    return refuse(QB_EEXIST, msg, msgsize,
                  "'%s' (the unfinished skeleton's name) exists and is %s; allowed: a regular "
                  "file, removed with --force or --resume",
                  partial, kind_of(sp.st_mode));
  if (resume && !pexists)
    return refuse(QB_ECONFIG, msg, msgsize,
                  "--resume: nothing to resume: '%s' does not exist; allowed: the output path of "
                  "an interrupted run",
                  path);
  if (pexists && !force && !resume)
    return refuse(QB_EEXIST, msg, msgsize,
                  "'%s' exists: the unfinished skeleton of an interrupted run; allowed: --resume "
                  "(rebuilds it) or --force (removes it), or another output path",
                  partial);
  if (pexists && unlink(partial) != 0)
    return refuse(QB_EIO, msg, msgsize, "cannot remove '%s': %s", partial, strerror(errno));
  return QB_OK;
}

static void new_run_id(qb_h5_token *tok) {
  unsigned char r[16] = {0};
  int f = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t n = f >= 0 ? read(f, r, sizeof r) : -1;
  if (f >= 0) close(f);
  if (n != (ssize_t)sizeof r) { /* no /dev/urandom: time and pid are unique enough here */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x =
        (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    for (int i = 0; i < 16; i++, x = x * 6364136223846793005u + 1442695040888963407u)
      r[i] ^= (unsigned char)(x >> 56);
  }
  for (int i = 0; i < 16; i++)
    snprintf(tok->run_id + 2 * i, 3, "%02x", r[i]);
}

/* The device and inode of an HDF5 file opened with the sec2 (POSIX) driver. */
static bool vfd_identity(hid_t f, uint64_t *dev, uint64_t *ino) {
  void *handle = NULL;
  struct stat st;
  if (!H5_OK("H5Fget_vfd_handle", H5Fget_vfd_handle(f, H5P_DEFAULT, &handle)) || !handle)
    return false;
  if (fstat(*(int *)handle, &st) != 0) {
    fail_text("fstat of an open HDF5 file failed: %s", strerror(errno));
    return false;
  }
  *dev = (uint64_t)st.st_dev;
  *ino = (uint64_t)st.st_ino;
  return true;
}

static void fail_replaced(const char *path, const char *how) {
  fail_text("'%s' is no longer the file this run writes (%s: replaced or moved by someone else "
            "meanwhile); it was left untouched; allowed: one run per output file at a time",
            path, how);
}

/* Not collective: `path` itself (not through a link) is the token's file. */
static qb_err check_path(const char *path, const qb_h5_token *tok) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    fail_replaced(path, strerror(errno));
    return QB_EIO;
  }
  if ((uint64_t)st.st_dev != tok->dev || (uint64_t)st.st_ino != tok->ino || !S_ISREG(st.st_mode)) {
    fail_replaced(path, "another device/inode");
    return QB_EIO;
  }
  return QB_OK;
}

/* Opens `path` (not through a link) with `flags` if it is the token's file (device, inode),
 * filling *st: the descriptor; -1 if it cannot be opened (errno says why), -2 if it is another
 * file. */
static int open_token_file(const char *path, int flags, const qb_h5_token *tok, struct stat *st) {
  int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, st) != 0 || (uint64_t)st->st_dev != tok->dev || (uint64_t)st->st_ino != tok->ino) {
    close(fd);
    return -2;
  }
  return fd;
}

static herr_t read_str_attr(hid_t loc, const char *name, char **out) {
  *out = NULL;
  if (H5Aexists(loc, name) <= 0) return -1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
  herr_t rc = -1;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
    size_t n = H5Tget_size(t);
    *out = calloc(1, n + 1);
    if (*out) rc = H5Aread(a, t, *out);
  }
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  return rc;
}

/* The open file's run_id is the token's (collective when f was opened with MPI-IO). */
static qb_err check_run_id(hid_t f, const char *path, const qb_h5_token *tok) {
  char *id = NULL;
  herr_t rc = read_str_attr(f, "run_id", &id);
  bool same = rc >= 0 && id && strcmp(id, tok->run_id) == 0;
  free(id);
  if (!same) {
    fail_replaced(path, "another run_id");
    return QB_EIO;
  }
  return QB_OK;
}

/* Not collective: opens `path` serially (sec2 driver) for writing if it is the file of *tok by
 * device and inode; else records why and returns H5I_INVALID_HID. */
static hid_t open_rw(const char *path, const qb_h5_token *tok) {
  hid_t fapl = H5I_INVALID_HID, f = H5I_INVALID_HID;
  uint64_t dev = 0, ino = 0;
  bool ok = H5_OK("H5Pcreate", fapl = H5Pcreate(H5P_FILE_ACCESS)) &&
            H5_OK("H5Pset_libver_bounds",
                  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST)) &&
            H5_OK("H5Fopen", f = H5Fopen(path, H5F_ACC_RDWR, fapl)) && vfd_identity(f, &dev, &ino);
  if (ok && (dev != tok->dev || ino != tok->ino)) {
    fail_replaced(path, "another device/inode");
    ok = false;
  }
  if (fapl >= 0) H5Pclose(fapl);
  if (!ok && f >= 0) {
    H5Fclose(f);
    f = H5I_INVALID_HID;
  }
  return f;
}

/* The directory that holds `path` ("." for a bare name). */
static void dir_of(const char *path, char *dir, size_t size) {
  snprintf(dir, size, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    slash[slash == dir ? 1 : 0] = '\0';
  else
    snprintf(dir, size, ".");
}

static double fs_free_bytes(const char *path) {
  char dir[PATH_MAX + 16];
  dir_of(path, dir, sizeof dir);
  struct statvfs vfs;
  return statvfs(dir, &vfs) == 0 ? (double)vfs.f_bavail * (double)vfs.f_frsize : INFINITY;
}

/* Whether `size` bytes fit under the file-size limit and `grow` more bytes in the free space of
 * path's file system; otherwise records why (`what` names what needs the space). */
static bool space_for(const char *path, double size, double grow, const char *what) {
  if (qb_hook_flag("nospacecheck")) return true;
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      size > (double)rl.rlim_cur) {
    fail_text("%s needs %.3g bytes but the file-size limit is %.3g bytes", what, size,
              (double)rl.rlim_cur);
    return false;
  }
  double avail = fs_free_bytes(path);
  if (grow > avail) {
    fail_text("%s needs %.3g bytes but its file system has %.3g bytes free", what, grow, avail);
    return false;
  }
  return true;
}

/* Reserves file blocks for [off, off + len) of fd (past the end without changing the size if
 * keep_size), so that later writes there cannot meet a full disk.  0 on success or where the
 * file system cannot reserve (then nothing is reserved), else the errno (ENOSPC, EFBIG...). */
static int reserve(int fd, off_t off, off_t len, bool keep_size) {
  if (len <= 0 || qb_hook_flag("noreserve")) return 0;
#ifdef __linux__
  if (fallocate(fd, keep_size ? FALLOC_FL_KEEP_SIZE : 0, off, len) == 0) return 0;
  int e = errno;
  return (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL || e == ENODEV) ? 0 : e;
#else
  (void)fd, (void)off, (void)keep_size;
  return 0;
#endif
}

/* ---- attributes ------------------------------------------------------------------------- */

static bool attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                       const void *val) {
  hid_t sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
  bool ok = H5_OK("H5Screate", sp = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL));
  htri_t exists = 0;
  if (ok) ok = H5_OK("H5Aexists", exists = H5Aexists(loc, name));
  if (ok && exists > 0)
    ok = H5_OK("H5Aopen", a = H5Aopen(loc, name, H5P_DEFAULT));
  else if (ok)
    ok = H5_OK("H5Acreate2", a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT));
  if (ok) ok = H5_OK("H5Awrite", H5Awrite(a, mtype, val));
  if (a >= 0) H5Aclose(a);
  if (sp >= 0) H5Sclose(sp);
  return ok;
}

static bool attr_str(hid_t loc, const char *name, const char *value) {
  if (H5Aexists(loc, name) > 0 && !H5_OK("H5Adelete", H5Adelete(loc, name)))
    return false; /* sizes may differ */
  hid_t t = H5I_INVALID_HID;
  if (!H5_OK("H5Tcopy", t = H5Tcopy(H5T_C_S1))) return false;
  size_t len = strlen(value);
  bool ok = H5_OK("H5Tset_size", H5Tset_size(t, len ? len : 1)) &&
            H5_OK("H5Tset_strpad", H5Tset_strpad(t, H5T_STR_NULLTERM)) &&
            H5_OK("H5Tset_cset", H5Tset_cset(t, H5T_CSET_UTF8)) &&
            attr_write(loc, name, t, t, 0, len ? value : "");
  H5Tclose(t);
  return ok;
}

static bool attr_i32(hid_t loc, const char *name, int32_t v) {
  return attr_write(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &v);
}

static bool attr_i64(hid_t loc, const char *name, int64_t v) {
  return attr_write(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}

static bool attr_f64(hid_t loc, const char *name, double v) {
  return attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
}

/* ---- skeleton (rank 0, serial) ---------------------------------------------------------- */

static hid_t create_contiguous(hid_t file, const char *name, hid_t ftype, int rank,
                               const hsize_t *dims, const void *fill, H5D_fill_time_t ftime) {
  hid_t sp = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, d = H5I_INVALID_HID;
  if (H5_OK("H5Screate_simple", sp = H5Screate_simple(rank, dims, NULL)) &&
      H5_OK("H5Pcreate", dcpl = H5Pcreate(H5P_DATASET_CREATE)) &&
      H5_OK("H5Pset_layout", H5Pset_layout(dcpl, H5D_CONTIGUOUS)) &&
      H5_OK("H5Pset_alloc_time", H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)) &&
      H5_OK("H5Pset_fill_time", H5Pset_fill_time(dcpl, ftime)) &&
      (!fill || H5_OK("H5Pset_fill_value", H5Pset_fill_value(dcpl, ftype, fill))) &&
      H5_OK("H5Pset_attr_creation_order",
            H5Pset_attr_creation_order(dcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)))
    H5_OK("H5Dcreate2", d = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (dcpl >= 0) H5Pclose(dcpl);
  if (sp >= 0) H5Sclose(sp);
  return d;
}

/* CF flag_masks / flag_meanings of the `status` dataset: the model's declared bits; with
 * them, flag_kinds ("info" or "failure" per bit, aligned with flag_meanings) and failure_mask
 * (int32, the union of the failure bits): (status & failure_mask) == 0 is the usual filter. */
static bool status_flags(hid_t d, const qb_model *m) {
  int32_t masks[32];
  char meanings[1024] = "", kinds[512] = "";
  hsize_t n = 0;
  for (int k = 0; k < m->nstatus && k < 32; k++) {
    const qb_pt_bit *b = &m->status_bits[k];
    masks[n++] = (int32_t)b->mask;
    snprintf(meanings + strlen(meanings), sizeof meanings - strlen(meanings), "%s%s", k ? " " : "",
             qb_pt_bit_word(b));
    snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s", k ? " " : "",
             qb_pt_kind_word(qb_pt_bit_kind(b)));
  }
  return attr_write(d, "flag_masks", H5T_STD_I32LE, H5T_NATIVE_INT32, n, masks) &&
         attr_str(d, "flag_meanings", meanings) && attr_str(d, "flag_kinds", kinds) &&
         attr_i32(d, "failure_mask", (int32_t)qb_model_failure_mask(m));
}

static void iso_now(char *buf, size_t n) {
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

/* Bytes of the whole file: data, coordinates, done mask, block ids and, generously, metadata
 * (object headers, attributes with the config text, dimension-scale references). */
static double file_bytes(const qb_h5_meta *meta) {
  const qb_config *cfg = meta->cfg;
  const qb_grid *g = &cfg->grid;
  double need = 0;
  for (int k = 0; k < cfg->nfields; k++)
    need += (double)g->npoints * (cfg->model->fields[cfg->fields[k]].dtype == QB_F64 ? 8.0 : 4.0);
  for (int d = 0; d < g->ndim; d++)
    need += 8.0 * (double)g->axes[d].n;
  need += 9.0 * (double)meta->nblocks;
  need += 65536.0 + 8192.0 * (cfg->nfields + g->ndim + 4) +
          2.0 * (double)(strlen(cfg->text) + strlen(cfg->normalized));
  return need;
}

/* Everything the file needs, checked before anything is allocated or created: a full disk or a
 * file-size limit is one clear message, never a failure half way through the sweep.  Puts the
 * skeleton's name while it is built (partial_path) in tmp. */
static qb_err check_create(const qb_h5_meta *meta, char *tmp, size_t tmpsize) {
  const qb_grid *g = &meta->cfg->grid;
  char what[PATH_MAX + 32];
  snprintf(what, sizeof what, "output '%s'", meta->path);
  double need = file_bytes(meta);
  if (!space_for(meta->path, need, need, what)) return QB_EIO;
  if (meta->nblocks > QB_H5_MAX_BLOCKS) {
    fail_text("output '%s': %lld points in %lld blocks of %lld points: too many blocks (at most "
              "%lld); allowed: --block-points of at least %lld",
              meta->path, (long long)g->npoints, (long long)meta->nblocks,
              (long long)meta->block_points, (long long)QB_H5_MAX_BLOCKS,
              (long long)(g->npoints / QB_H5_MAX_BLOCKS + 1));
    return QB_EUSAGE;
  }
  if (!partial_path(meta->path, tmp, tmpsize)) {
    fail_text("cannot create output '%s': the path is too long", meta->path);
    return QB_EIO;
  }
  return QB_OK;
}

/* A property list of class cls (file or group creation) that makes the links and attributes
 * of what it creates keep their creation order; H5I_INVALID_HID on failure. */
static hid_t ordered_plist(hid_t cls) {
  hid_t pl = H5I_INVALID_HID;
  if (H5_OK("H5Pcreate", pl = H5Pcreate(cls)) &&
      H5_OK("H5Pset_link_creation_order",
            H5Pset_link_creation_order(pl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)) &&
      H5_OK("H5Pset_attr_creation_order",
            H5Pset_attr_creation_order(pl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)))
    return pl;
  if (pl >= 0) H5Pclose(pl);
  return H5I_INVALID_HID;
}

/* Creates the skeleton's file `tmp` for the output `path`.  H5F_ACC_EXCL creates it with
 * O_EXCL: never through a symbolic link, never over an existing file. */
static hid_t create_partial(const char *path, const char *tmp) {
  hid_t fcpl = ordered_plist(H5P_FILE_CREATE), fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
  if (fcpl >= 0 && H5_OK("H5Pcreate", fapl = H5Pcreate(H5P_FILE_ACCESS)) &&
      H5_OK("H5Pset_libver_bounds",
            H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST)) &&
      !H5_OK("H5Fcreate", file = H5Fcreate(tmp, H5F_ACC_EXCL, fcpl, fapl))) {
    char detail[2048];
    snprintf(detail, sizeof detail, "%s", err_msg);
    err_msg[0] = '\0';
    fail_text("cannot create output '%s' (as '%s'): %s", path, tmp, detail);
  }
  if (fcpl >= 0) H5Pclose(fcpl);
  if (fapl >= 0) H5Pclose(fapl);
  return file;
}

/* The root attributes: what produced this file, its layout, complete = 0 and the run id. */
static bool root_attrs(hid_t file, const qb_h5_meta *meta, const qb_h5_token *tok) {
  const qb_config *cfg = meta->cfg;
  const qb_model *m = cfg->model;
  char when[32];
  iso_now(when, sizeof when);
  if (!attr_str(file, "Conventions", "CF-1.8") || !attr_str(file, "title", m->doc) ||
      !attr_str(file, "model", m->name) || !attr_str(file, "config", cfg->text) ||
      !attr_str(file, "config_normalized", cfg->normalized))
    return false;
  for (int k = 0; k < 8 && meta->provenance[k][0]; k++)
    if (!attr_str(file, meta->provenance[k][0], meta->provenance[k][1])) return false;
  return attr_str(file, "hdf5_version", qb_h5_library_version()) &&
         attr_i32(file, "nranks", meta->nranks) && attr_str(file, "created", when) &&
         attr_i64(file, "npoints", cfg->grid.npoints) &&
         attr_i64(file, "block_points", meta->block_points) && attr_i32(file, "complete", 0) &&
         attr_f64(file, "wall_time_s", NAN) && attr_str(file, "run_id", tok->run_id);
}

/* The axes: coordinate variables, made dimension scales.  axis[d] is left open (the fields
 * attach to it); the caller closes what is valid. */
static bool create_axes(hid_t file, const qb_config *cfg, hid_t *axis) {
  const qb_model *m = cfg->model;
  for (int d = 0; d < cfg->grid.ndim; d++) {
    const qb_axis *a = &cfg->grid.axes[d];
    hsize_t n = (hsize_t)a->n;
    axis[d] = create_contiguous(file, a->name, H5T_IEEE_F64LE, 1, &n, NULL, H5D_FILL_TIME_NEVER);
    if (axis[d] < 0 ||
        !H5_OK("H5Dwrite",
               H5Dwrite(axis[d], H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->values)) ||
        !H5_OK("H5DSset_scale", H5DSset_scale(axis[d], a->name)) ||
        !attr_str(axis[d], "units", m->params[a->param].units) ||
        !attr_str(axis[d], "long_name", m->params[a->param].long_name) ||
        !attr_str(axis[d], "description", m->params[a->param].doc) ||
        !attr_str(axis[d], "scale",
                  a->kind == QB_AXIS_LOG ? "log" : (a->kind == QB_AXIS_LIN ? "lin" : "list")))
      return false;
  }
  return true;
}

/* The expressions wrapper's record (qb_bind.h): a root attribute `expression_NAME` (the text)
 * per parameter given by an expression and `symbols` (the user symbols, comma-separated) when
 * there are any; fixed symbols are root attributes like fixed parameters, symbols on axes are
 * coordinates. */
static bool bind_attrs(hid_t file, const qb_config *cfg) {
  const qb_model *b = cfg->bind;
  if (!b) return true;
  char name[QB_NAME_MAX + 16], list[QB_MAX_PARAMS * QB_NAME_MAX] = "";
  for (int i = 0; i < b->nparams; i++) {
    const char *e = qb_bind_expression(b, i);
    snprintf(name, sizeof name, "expression_%s", b->params[i].name);
    if (e && !attr_str(file, name, e)) return false;
  }
  const int ns = qb_bind_nsymbols(b);
  for (int k = 0; k < ns; k++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? "," : "",
             b->params[b->nparams - ns + k].name);
  return !ns || attr_str(file, "symbols", list);
}

/* The fixed parameters (those on no axis, if set), as root attributes named after them. */
static bool fixed_attrs(hid_t file, const qb_config *cfg) {
  const qb_model *m = cfg->model;
  for (int i = 0; i < m->nparams; i++) {
    int on_axis = 0;
    for (int d = 0; d < cfg->grid.ndim; d++)
      on_axis |= cfg->grid.axes[d].param == i;
    if (!on_axis && !isnan(cfg->fixed[i]) && !attr_f64(file, m->params[i].name, cfg->fixed[i]))
      return false;
  }
  return bind_attrs(file, cfg);
}

/* The fields over the axes.  NaN is the declared _FillValue, but not written at creation
 * (H5D_FILL_TIME_NEVER): that would write the whole file twice.  Blocks left unfinished by a
 * graceful stop get NaN written by qb_h5_fill_block instead. */
static bool create_fields(hid_t file, const qb_config *cfg, const hid_t *axis) {
  const qb_grid *g = &cfg->grid;
  hsize_t dims[QB_MAX_AXES];
  for (int d = 0; d < g->ndim; d++)
    dims[d] = (hsize_t)g->axes[d].n;
  for (int k = 0; k < cfg->nfields; k++) {
    const qb_field *f = &cfg->model->fields[cfg->fields[k]];
    double nanv = NAN;
    int is_f = f->dtype == QB_F64;
    hid_t ds = create_contiguous(file, f->name, is_f ? H5T_IEEE_F64LE : H5T_STD_I32LE, g->ndim,
                                 dims, is_f ? &nanv : NULL, H5D_FILL_TIME_NEVER);
    bool ok = ds >= 0;
    for (int d = 0; d < g->ndim && ok; d++)
      ok = H5_OK("H5DSattach_scale", H5DSattach_scale(ds, axis[d], (unsigned)d));
    ok = ok && attr_str(ds, "units", f->units) && attr_str(ds, "long_name", f->long_name) &&
         attr_str(ds, "description", f->doc) && (!is_f || attr_f64(ds, "_FillValue", NAN)) &&
         (strcmp(f->name, "status") != 0 || status_flags(ds, cfg->model));
    if (ds >= 0) H5Dclose(ds);
    if (!ok) return false;
  }
  return true;
}

/* The empty groups for the post-passes (NULL-ended, at most 4), created now so that filling
 * them later leaves the root group's index untouched. */
static bool create_groups(hid_t file, const char *const *groups) {
  for (int k = 0; k < 4 && groups[k]; k++) {
    hid_t gcpl = ordered_plist(H5P_GROUP_CREATE), grp = H5I_INVALID_HID;
    bool ok = gcpl >= 0 && H5_OK("H5Gcreate2",
                                 grp = H5Gcreate2(file, groups[k], H5P_DEFAULT, gcpl, H5P_DEFAULT));
    if (gcpl >= 0) H5Pclose(gcpl);
    if (grp >= 0) H5Gclose(grp);
    if (!ok) return false;
  }
  return true;
}

/* Writes the ids 0, 1, ..., n - 1 into the 1-D int64 dataset d (nothing when n is 0); `what`
 * names them for an out-of-memory message. */
static bool write_ids(hid_t d, int64_t n, const char *what) {
  if (n <= 0) return true;
  int64_t *ids = malloc((size_t)n * sizeof *ids);
  if (!ids) {
    fail_text("out of memory for %lld %s ids", (long long)n, what);
    return false;
  }
  for (int64_t k = 0; k < n; k++)
    ids[k] = k;
  bool ok = H5_OK("H5Dwrite", H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids));
  free(ids);
  return ok;
}

/* The done mask over blocks, in group /blocks (run state, not science: xr.open_dataset shows
 * the root group only): `block` (the ids, a dimension scale) and `done`, 0 for every block (its
 * fill value, written at creation).  Both carry qbmap_role = "bookkeeping". */
static bool create_done_mask(hid_t file, int64_t nblocks) {
  hsize_t nb = (hsize_t)nblocks;
  hid_t gcpl = ordered_plist(H5P_GROUP_CREATE), grp = H5I_INVALID_HID;
  bool made = gcpl >= 0 && H5_OK("H5Gcreate2", grp = H5Gcreate2(file, BLOCKS_GROUP, H5P_DEFAULT,
                                                                gcpl, H5P_DEFAULT));
  if (gcpl >= 0) H5Pclose(gcpl);
  if (grp >= 0) H5Gclose(grp);
  if (!made) return false;
  hid_t blk = create_contiguous(file, BLOCK_IDS, H5T_STD_I64LE, 1, &nb, NULL, H5D_FILL_TIME_NEVER);
  bool ok = blk >= 0 && write_ids(blk, nblocks, "block") &&
            H5_OK("H5DSset_scale", H5DSset_scale(blk, "block")) &&
            attr_str(blk, "long_name", "block index") &&
            attr_str(blk, "description",
                     "block b holds flat points [b*block_points, (b+1)*block_points), row-major, "
                     "last axis fastest") &&
            attr_str(blk, "units", "1") && attr_str(blk, "qbmap_role", "bookkeeping");
  if (ok) {
    uint8_t zero = 0;
    hid_t done =
        create_contiguous(file, DONE_MASK, H5T_STD_U8LE, 1, &nb, &zero, H5D_FILL_TIME_ALLOC);
    ok = done >= 0 && H5_OK("H5DSattach_scale", H5DSattach_scale(done, blk, 0)) &&
         attr_str(done, "long_name", "block done") &&
         attr_str(done, "description", "1 once the block's data is on disk") &&
         attr_str(done, "units", "1") && attr_str(done, "qbmap_role", "bookkeeping");
    if (done >= 0) H5Dclose(done);
  }
  if (blk >= 0) H5Dclose(blk);
  return ok;
}

/* Fills the new skeleton, in this order: root attributes, axes, fixed parameters, fields,
 * post-pass groups, done mask. */
static bool build(hid_t file, const qb_h5_meta *meta, const qb_h5_token *tok) {
  hid_t axis[QB_MAX_AXES];
  for (int d = 0; d < QB_MAX_AXES; d++)
    axis[d] = H5I_INVALID_HID;
  bool ok = root_attrs(file, meta, tok) && create_axes(file, meta->cfg, axis) &&
            fixed_attrs(file, meta->cfg) && create_fields(file, meta->cfg, axis) &&
            create_groups(file, meta->groups);
  if (ok) qb_hook_stall("create");
  ok = ok && create_done_mask(file, meta->nblocks);
  for (int d = 0; d < QB_MAX_AXES; d++)
    if (axis[d] >= 0) H5Dclose(axis[d]);
  return ok;
}

/* Reserves the blocks of the closed skeleton `tmp` (the file of *tok) on the file system, so
 * that the sweep writes into space it already has, and renames it to `path`. */
static bool publish(const char *tmp, const char *path, const qb_h5_token *tok) {
  struct stat st;
  int fd = open_token_file(tmp, O_RDWR, tok, &st);
  if (fd < 0) {
    fail_text("cannot reopen '%s' after creating it: %s", tmp,
              fd == -1 ? strerror(errno) : "another file");
    return false;
  }
  int e = reserve(fd, 0, st.st_size, false);
  close(fd);
  if (e) {
    fail_text("output '%s' needs %.3g bytes but its file system could not reserve them (%s; "
              "%.3g bytes free)",
              path, (double)st.st_size, strerror(e), fs_free_bytes(path));
    return false;
  }
  char up[PATH_MAX + 16]; /* an undo journal of the file this one replaces */
  sibling(path, ".undo", up, sizeof up);
  unlink(up);
  if (rename(tmp, path) != 0) {
    fail_text("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    return false;
  }
  return true;
}

qb_err qb_h5_create(const qb_h5_meta *meta, qb_h5_token *tok, char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  err_path = meta->path;
  memset(tok, 0, sizeof *tok);
  char tmp[PATH_MAX + 16];
  qb_err err = check_create(meta, tmp, sizeof tmp);
  if (err) return err;
  hid_t file = create_partial(meta->path, tmp);
  if (file < 0) return QB_EH5;
  bool ok = vfd_identity(file, &tok->dev, &tok->ino);
  if (ok) new_run_id(tok);
  ok = ok && build(file, meta, tok);
  if (ok) {
    ok = H5_OK("H5Fclose", H5Fclose(file));
    file = H5I_INVALID_HID;
  }
  ok = ok && publish(tmp, meta->path, tok);
  if (file >= 0) H5Fclose(file);
  if (!ok) unlink(tmp); /* created by this run (exclusively, under the lock) */
  return ok ? QB_OK : QB_EH5;
}

/* ---- inspection of an interrupted run's file (rank 0) ----------------------------------- */

static qb_err undo_restore(const char *path, bool *rolled);

static void shape_str(int rank, const hsize_t *dims, char *buf, size_t size) {
  buf[0] = '\0';
  for (int d = 0; d < rank; d++)
    snprintf(buf + strlen(buf), size - strlen(buf), "%s%llu", d ? " x " : "",
             (unsigned long long)dims[d]);
  if (rank == 0) snprintf(buf, size, "scalar");
}

static void type_str(hid_t t, char *buf, size_t size) {
  H5T_class_t c = H5Tget_class(t);
  size_t bits = 8 * H5Tget_size(t);
  const char *order = H5Tget_order(t) == H5T_ORDER_BE ? " big-endian" : "";
  if (c == H5T_FLOAT)
    snprintf(buf, size, "float%zu%s", bits, order);
  else if (c == H5T_INTEGER)
    snprintf(buf, size, "%sint%zu%s", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits, order);
  else if (c == H5T_STRING)
    snprintf(buf, size, "string");
  else
    snprintf(buf, size, "a compound or other non-numeric type");
}

/* Dataset `name` of f exists and is exactly what this config's run created: `rank` dims
 * `dims`, file type `ftype`, contiguous and allocated.  Returns it open, or records what is
 * wrong and returns H5I_INVALID_HID. */
static hid_t check_dset(hid_t f, const char *path, const char *name, int rank, const hsize_t *dims,
                        hid_t ftype) {
  char a[256], b[256];
  if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
    fail_text("--resume: '%s' has no dataset '%s'; allowed: the unmodified output of an "
              "interrupted run of this config",
              path, name);
    return H5I_INVALID_HID;
  }
  H5O_info_t oi;
  hid_t d = H5I_INVALID_HID, sp = H5I_INVALID_HID, t = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  if (H5Oget_info_by_name(f, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET ||
      (d = H5Dopen2(f, name, H5P_DEFAULT)) < 0) {
    fail_text("--resume: '%s': '%s' is not a readable dataset", path, name);
    return H5I_INVALID_HID;
  }
  hsize_t got[H5S_MAX_RANK];
  int r = (sp = H5Dget_space(d)) >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  if (r < 0 || r > H5S_MAX_RANK || H5Sget_simple_extent_dims(sp, got, NULL) < 0) r = -1;
  bool ok = r == rank;
  for (int k = 0; ok && k < rank; k++)
    ok = got[k] == dims[k];
  if (!ok) {
    shape_str(r < 0 ? 0 : r, got, a, sizeof a);
    shape_str(rank, dims, b, sizeof b);
    fail_text("--resume: '%s': dataset '%s' has shape %s; this config needs %s", path, name, a, b);
    goto bad;
  }
  if ((t = H5Dget_type(d)) < 0 || H5Tequal(t, ftype) <= 0) {
    type_str(t, a, sizeof a);
    type_str(ftype, b, sizeof b);
    fail_text("--resume: '%s': dataset '%s' has type %s; this config needs %s", path, name, a, b);
    goto bad;
  }
  hssize_t npts = H5Sget_simple_extent_npoints(sp);
  if ((dcpl = H5Dget_create_plist(d)) < 0 || H5Pget_layout(dcpl) != H5D_CONTIGUOUS ||
      H5Pget_external_count(dcpl) != 0 ||
      (npts > 0 && (H5Dget_offset(d) == HADDR_UNDEF ||
                    H5Dget_storage_size(d) != (hsize_t)npts * H5Tget_size(t)))) {
    fail_text("--resume: '%s': dataset '%s' is not contiguous and allocated in the file as qbmap "
              "creates it (chunked, compact, external or unallocated)",
              path, name);
    goto bad;
  }
  H5Pclose(dcpl);
  H5Tclose(t);
  H5Sclose(sp);
  return d;
bad:
  if (dcpl >= 0) H5Pclose(dcpl);
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  H5Dclose(d);
  return H5I_INVALID_HID;
}

/* Reads a 1-D dataset piecewise (bounded memory) and compares it with want(i) bit for bit. */
static bool check_values(hid_t d, const char *path, const char *name, hsize_t n, hid_t mtype,
                         size_t esize, const void *want, int64_t ids) {
  enum { PIECE = 65536 };
  unsigned char *buf = malloc(PIECE * 8);
  hid_t fs = H5Dget_space(d), ms = H5I_INVALID_HID;
  bool ok = buf && fs >= 0;
  for (hsize_t off = 0; ok && off < n; off += PIECE) {
    hsize_t cnt = n - off < PIECE ? n - off : PIECE;
    ms = H5Screate_simple(1, &cnt, NULL);
    ok = ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) >= 0 &&
         H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (ms >= 0) H5Sclose(ms);
    if (!ok) {
      fail_text("--resume: '%s': dataset '%s' is unreadable", path, name);
      break;
    }
    for (hsize_t i = 0; i < cnt; i++) {
      const unsigned char *got = buf + i * esize;
      int64_t id = (int64_t)(off + i);
      bool same = ids ? memcmp(got, &id, esize) == 0
                      : memcmp(got, (const unsigned char *)want + (off + i) * esize, esize) == 0;
      if (!same) {
        if (ids)
          fail_text("--resume: '%s': dataset '%s' holds other values than 0, 1, 2, ... (at "
                    "index %llu)",
                    path, name, (unsigned long long)(off + i));
        else {
          double x, y;
          memcpy(&x, got, sizeof x);
          memcpy(&y, (const unsigned char *)want + (off + i) * esize, sizeof y);
          fail_text("--resume: '%s': axis '%s' holds other coordinates than this config (index "
                    "%llu: file %.17g, config %.17g)",
                    path, name, (unsigned long long)(off + i), x, y);
        }
        ok = false;
        break;
      }
    }
  }
  if (fs >= 0) H5Sclose(fs);
  free(buf);
  return ok;
}

static bool read_scalar(hid_t f, const char *name, hid_t mtype, void *v) {
  hid_t a = H5Aexists(f, name) > 0 ? H5Aopen(f, name, H5P_DEFAULT) : H5I_INVALID_HID;
  hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
  bool ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, mtype, v) >= 0;
  if (sp >= 0) H5Sclose(sp);
  if (a >= 0) H5Aclose(a);
  return ok;
}

/* Rolls back a post-pass that died under its undo journal, and says so on stdout. */
static qb_err roll_back_postpass(const char *path) {
  bool rolled = false;
  qb_err err = undo_restore(path, &rolled);
  if (!err && rolled) {
    printf("qbmap: %s: rolled back an interrupted post-pass (from %s.undo)\n", path, path);
    fflush(stdout);
  }
  return err;
}

/* Records that the file's normalized config (`file`) is not this run's (`now`), naming the
 * first line that differs. */
static void fail_other_config(const char *path, const char *file, const char *now) {
  const char *a = file, *b = now;
  while (*a && *a == *b)
    a++, b++;
  while (a > file && a[-1] != '\n')
    a--, b--;
  fail_text("--resume: '%s' was written for another configuration; file: '%.*s', "
            "now: '%.*s'; allowed: the config (and --set values) of the "
            "interrupted run",
            path, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* The root attributes say f is a qbmap output of this model and normalized config. */
static bool check_origin(hid_t f, const char *path, const qb_config *cfg) {
  char *model = NULL, *norm = NULL;
  bool ok = false;
  if (read_str_attr(f, "model", &model) < 0 || read_str_attr(f, "config_normalized", &norm) < 0 ||
      H5Aexists(f, "block_points") <= 0 || H5Aexists(f, "complete") <= 0)
    fail_text("--resume: '%s' is not a qbmap output (no model, config_normalized, "
              "block_points or complete attribute)",
              path);
  else if (strcmp(model, cfg->model->name) != 0)
    fail_text("--resume: '%s' holds model %s, this config model %s; allowed: the "
              "config of the interrupted run",
              path, model, cfg->model->name);
  else if (strcmp(norm, cfg->normalized) != 0)
    fail_other_config(path, norm, cfg->normalized);
  else
    ok = true;
  free(model);
  free(norm);
  return ok;
}

/* The block layout and completion from the root attributes (block_points, complete, npoints,
 * which must be the grid's) into *st. */
static bool read_layout(hid_t f, const char *path, const qb_grid *g, qb_h5_state *st) {
  int32_t complete = 0;
  int64_t npoints = 0;
  if (!read_scalar(f, "block_points", H5T_NATIVE_INT64, &st->block_points) ||
      !read_scalar(f, "complete", H5T_NATIVE_INT32, &complete) ||
      !read_scalar(f, "npoints", H5T_NATIVE_INT64, &npoints) || st->block_points < 1 ||
      npoints != g->npoints) {
    fail_text("--resume: '%s': attribute block_points, complete or npoints is missing or "
              "wrong (npoints must be %lld)",
              path, (long long)g->npoints);
    return false;
  }
  st->complete = complete == 1;
  st->nblocks = (g->npoints + st->block_points - 1) / st->block_points;
  if (st->nblocks > QB_H5_MAX_BLOCKS) {
    fail_text("--resume: '%s': %lld blocks: more than this qbmap accepts (%lld)", path,
              (long long)st->nblocks, (long long)QB_H5_MAX_BLOCKS);
    return false;
  }
  return true;
}

/* Every dataset the run writes into, against the config (a tampered file must not get values
 * written into the wrong places, nor be marked complete): the axes with their coordinates, the
 * fields, `block` with its ids and `done`.  Returns `done` open, or H5I_INVALID_HID. */
static hid_t check_datasets(hid_t f, const char *path, const qb_config *cfg, int64_t nblocks) {
  const qb_grid *g = &cfg->grid;
  hsize_t dims[QB_MAX_AXES], nb = (hsize_t)nblocks;
  for (int k = 0; k < g->ndim; k++) {
    const qb_axis *a = &g->axes[k];
    dims[k] = (hsize_t)a->n;
    hid_t d = check_dset(f, path, a->name, 1, &dims[k], H5T_IEEE_F64LE);
    bool ok = d >= 0 && check_values(d, path, a->name, dims[k], H5T_NATIVE_DOUBLE, 8, a->values, 0);
    if (d >= 0) H5Dclose(d);
    if (!ok) return H5I_INVALID_HID;
  }
  for (int k = 0; k < cfg->nfields; k++) {
    const qb_field *fl = &cfg->model->fields[cfg->fields[k]];
    hid_t d = check_dset(f, path, fl->name, g->ndim, dims,
                         fl->dtype == QB_F64 ? H5T_IEEE_F64LE : H5T_STD_I32LE);
    if (d < 0) return H5I_INVALID_HID;
    H5Dclose(d);
  }
  hid_t d = check_dset(f, path, BLOCK_IDS, 1, &nb, H5T_STD_I64LE);
  bool ok = d >= 0 && check_values(d, path, BLOCK_IDS, nb, H5T_NATIVE_INT64, 8, NULL, 1);
  if (d >= 0) H5Dclose(d);
  return ok ? check_dset(f, path, DONE_MASK, 1, &nb, H5T_STD_U8LE) : H5I_INVALID_HID;
}

/* The post-pass groups that exist are readable groups. */
static bool check_groups(hid_t f, const char *path) {
  static const char *const groups[] = {"boundary", "ep", "adaptive"};
  for (int k = 0; k < 3; k++) {
    H5O_info_t oi;
    if (H5Lexists(f, groups[k], H5P_DEFAULT) > 0 &&
        (H5Oget_info_by_name(f, groups[k], &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP)) {
      fail_text("--resume: '%s': '/%s' is not a readable group", path, groups[k]);
      return false;
    }
  }
  return true;
}

/* Checks that the open file f is this config's output and fills *st (with the done mask) and
 * *tok (run_id left empty if the file has none). */
static qb_err read_state(hid_t f, const char *path, const qb_config *cfg, qb_h5_state *st,
                         qb_h5_token *tok) {
  if (!vfd_identity(f, &tok->dev, &tok->ino)) return QB_EH5;
  if (!check_origin(f, path, cfg) || !read_layout(f, path, &cfg->grid, st)) return QB_ECONFIG;
  hid_t d = check_datasets(f, path, cfg, st->nblocks);
  if (d < 0) return QB_ECONFIG;
  bool ok = check_groups(f, path);
  if (ok) {
    size_t nb = (size_t)st->nblocks;
    st->done = malloc(nb ? nb : 1);
    ok = st->done && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->done) >= 0;
    if (!ok) fail_text("--resume: the done mask of '%s' is unreadable", path);
  }
  H5Dclose(d);
  if (!ok) return QB_ECONFIG;
  char *run_id = NULL;
  if (read_str_attr(f, "run_id", &run_id) >= 0 && strlen(run_id) < sizeof tok->run_id)
    snprintf(tok->run_id, sizeof tok->run_id, "%s", run_id);
  free(run_id);
  return QB_OK;
}

/* A file of an older qbmap has no run_id: gives it one, the owner token of this run, if it is
 * still the file of *tok (device, inode). */
static qb_err give_run_id(const char *path, qb_h5_token *tok) {
  new_run_id(tok);
  hid_t f = open_rw(path, tok);
  bool ok = f >= 0 && attr_str(f, "run_id", tok->run_id);
  if (f >= 0 && H5Fclose(f) < 0) ok = false;
  if (!ok) {
    fail_text("--resume: cannot write the run_id attribute into '%s'", path);
    return QB_EH5;
  }
  return QB_OK;
}

qb_err qb_h5_inspect(const char *path, const qb_config *cfg, qb_h5_state *st, qb_h5_token *tok,
                     char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  memset(st, 0, sizeof *st);
  memset(tok, 0, sizeof *tok);
  qb_err err = roll_back_postpass(path);
  if (err) return err;
  if (H5Fis_hdf5(path) <= 0) {
    fail_text("--resume: '%s' is not an HDF5 file (or is truncated); allowed: an "
              "output of an interrupted qbmap run of this config",
              path);
    return QB_ECONFIG;
  }
  hid_t f = H5I_INVALID_HID;
  if (!H5_OK("H5Fopen", f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT))) {
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", msg);
    msg[0] = '\0';
    fail_text("--resume: HDF5 cannot open '%s' (truncated or damaged): %s", path, detail);
    return QB_ECONFIG;
  }
  err = read_state(f, path, cfg, st, tok);
  H5Fclose(f);
  if (!err && !tok->run_id[0] && !st->complete) err = give_run_id(path, tok);
  if (err) {
    free(st->done);
    st->done = NULL;
  }
  return err;
}

/* ---- parallel writes -------------------------------------------------------------------- */

/* Closes every handle; returns whether H5Fclose (the last write-back to disk) succeeded. */
static bool release(qb_h5 *h) {
  for (int k = 0; k < QB_MAX_FIELDS; k++) {
    if (h->space[k] >= 0) H5Sclose(h->space[k]);
    if (h->dset[k] >= 0) H5Dclose(h->dset[k]);
  }
  if (h->done_space >= 0) H5Sclose(h->done_space);
  if (h->done >= 0) H5Dclose(h->done);
  if (h->none_mem >= 0) H5Sclose(h->none_mem);
  if (h->dxpl >= 0) H5Pclose(h->dxpl);
  bool ok = true;
  if (h->file >= 0) ok = H5_OK("H5Fclose", H5Fclose(h->file));
  free(h);
  return ok;
}

/* Collective: opens `path` on every rank with MPI-IO (collective metadata), after rank 0 has
 * checked that the path is still the token's file, and checks the run_id of what it opened.
 * Returns the agreed status; *f is valid on every rank or on none. */
static qb_err open_parallel(const char *path, const qb_h5_token *tok, hid_t *f) {
  *f = H5I_INVALID_HID;
  qb_err err = qb_par_rank() == 0 ? check_path(path, tok) : QB_OK;
  hid_t fapl = H5I_INVALID_HID;
  if (!err && !(H5_OK("H5Pcreate", fapl = H5Pcreate(H5P_FILE_ACCESS)) &&
                H5_OK("H5Pset_fapl_mpio", H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL)) &&
                H5_OK("H5Pset_all_coll_metadata_ops", H5Pset_all_coll_metadata_ops(fapl, 1)) &&
                H5_OK("H5Pset_coll_metadata_write", H5Pset_coll_metadata_write(fapl, 1))))
    err = QB_EH5;
  if ((err = agree(err))) {
    if (fapl >= 0) H5Pclose(fapl);
    return err;
  }
  if (!H5_OK("H5Fopen", *f = H5Fopen(path, H5F_ACC_RDWR, fapl)) || FAULT("open", "H5Fopen"))
    err = QB_EH5;
  H5Pclose(fapl);
  /* H5Fclose is collective: if the file opened on some ranks only, it cannot be closed (the
   * handle is left to the process's end, which skips HDF5's shutdown on errors) */
  bool all_open = qb_par_agree(*f >= 0 ? QB_OK : QB_EH5) == QB_OK;
  if (!(err = agree(err))) err = agree(check_run_id(*f, path, tok));
  if (!err && qb_par_rank() == 0) err = check_path(path, tok); /* still the same after opening */
  if ((err = agree(err)) && all_open) H5Fclose(*f);
  if (err) *f = H5I_INVALID_HID;
  return err;
}

qb_err qb_h5_open(const char *path, const qb_config *cfg, const qb_h5_token *tok, qb_h5 **out,
                  char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  *out = NULL;
  qb_h5 *h = calloc(1, sizeof *h);
  if (!h) fail_text("out of memory");
  qb_err err = agree(h ? QB_OK : QB_ENOMEM);
  if (err) {
    free(h);
    return err;
  }
  h->file = h->dxpl = h->done = h->done_space = h->none_mem = H5I_INVALID_HID;
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    h->dset[k] = h->space[k] = H5I_INVALID_HID;
  h->cfg = cfg;
  h->ndim = cfg->grid.ndim;
  for (int d = 0; d < h->ndim; d++)
    h->shape[d] = cfg->grid.axes[d].n;
  if ((err = open_parallel(path, tok, &h->file))) {
    free(h);
    return err;
  }
  snprintf(h->path, sizeof h->path, "%s", path);
  /* collective calls; each rank then writes its own contiguous file ranges directly (blocks are
   * contiguous in the file, so two-phase aggregation would only add a copy) */
  hsize_t one = 1;
  if (!H5_OK("H5Pcreate", h->dxpl = H5Pcreate(H5P_DATASET_XFER)) ||
      !H5_OK("H5Pset_dxpl_mpio", H5Pset_dxpl_mpio(h->dxpl, H5FD_MPIO_COLLECTIVE)) ||
      !H5_OK("H5Pset_dxpl_mpio_collective_opt",
             H5Pset_dxpl_mpio_collective_opt(h->dxpl, H5FD_MPIO_INDIVIDUAL_IO)) ||
      !H5_OK("H5Screate_simple", h->none_mem = H5Screate_simple(1, &one, NULL)) ||
      !H5_OK("H5Sselect_none", H5Sselect_none(h->none_mem)))
    err = QB_EH5;
  /* every rank opens every dataset (collective metadata reads), whatever failed before */
  for (int k = 0; k < cfg->nfields; k++) {
    const char *name = cfg->model->fields[cfg->fields[k]].name;
    if (!H5_OK("H5Dopen2", h->dset[k] = H5Dopen2(h->file, name, H5P_DEFAULT)) ||
        !H5_OK("H5Dget_space", h->space[k] = H5Dget_space(h->dset[k])))
      err = QB_EH5;
  }
  if (!H5_OK("H5Dopen2", h->done = H5Dopen2(h->file, DONE_MASK, H5P_DEFAULT)) ||
      !H5_OK("H5Dget_space", h->done_space = H5Dget_space(h->done)))
    err = QB_EH5;
  if ((err = agree(err))) {
    qb_h5_close(&h);
    return err;
  }
  *out = h;
  return QB_OK;
}

/* Collective: one H5Dwrite per field on every rank.  A rank whose own step failed (err: this
 * rank's failure so far) writes an empty selection, so the ranks never part ways; the failure
 * is agreed at the end. */
static qb_err write_fields(qb_h5 *h, int64_t lo, int64_t hi, void *const *bufs, bool f64_only,
                           const char *point, qb_err err) {
  qb_box boxes[2 * QB_MAX_AXES];
  int nb = lo < hi ? qb_grid_range_boxes(h->ndim, h->shape, lo, hi, boxes) : 0;
  hsize_t n = (hsize_t)(hi > lo ? hi - lo : 1);
  hid_t mem = H5I_INVALID_HID;
  if (!H5_OK("H5Screate_simple", mem = H5Screate_simple(1, &n, NULL))) err = QB_EH5;
  static const double dummy = 0;
  int inject_at = h->cfg->nfields > 1 ? 1 : 0; /* a later field: the rank has more to do */
  for (int k = 0; k < h->cfg->nfields; k++) {
    int is_f = h->cfg->model->fields[h->cfg->fields[k]].dtype == QB_F64;
    if (f64_only && !is_f) continue; /* the same on every rank */
    hid_t fs = h->space[k];
    bool mine = !err && nb > 0;
    if (mine && !H5_OK("H5Sselect_none", H5Sselect_none(fs))) err = QB_EH5, mine = false;
    for (int b = 0; mine && b < nb; b++) {
      hsize_t start[QB_MAX_AXES], count[QB_MAX_AXES];
      for (int d = 0; d < h->ndim; d++) {
        start[d] = (hsize_t)boxes[b].start[d];
        count[d] = (hsize_t)boxes[b].count[d];
      }
      if (!H5_OK("H5Sselect_hyperslab", H5Sselect_hyperslab(fs, b ? H5S_SELECT_OR : H5S_SELECT_SET,
                                                            start, NULL, count, NULL)))
        err = QB_EH5, mine = false;
    }
    if (!mine) H5Sselect_none(fs);
    if (!H5_OK("H5Dwrite",
               H5Dwrite(h->dset[k], is_f ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT32,
                        mine ? mem : h->none_mem, fs, h->dxpl, mine ? bufs[k] : &dummy)))
      err = QB_EH5;
    if (k == inject_at && FAULT(point, "H5Dwrite")) err = QB_EH5;
  }
  if (mem >= 0) H5Sclose(mem);
  return agree(err);
}

qb_err qb_h5_write_block(qb_h5 *h, int64_t lo, int64_t hi, void *const *bufs, char *msg,
                         size_t msgsize) {
  err_to(msg, msgsize);
  err_path = h->path;
  return write_fields(h, lo, hi, bufs, false, "write", QB_OK);
}

qb_err qb_h5_fill_block(qb_h5 *h, int64_t lo, int64_t hi, char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  err_path = h->path;
  size_t n = (size_t)(hi > lo ? hi - lo : 0);
  double *nan = n ? malloc(n * sizeof *nan) : NULL;
  qb_err err = QB_OK;
  if (n && !nan) { /* still takes part, with nothing to write */
    fail_text("out of memory for %zu NaN values", n);
    err = QB_ENOMEM;
  }
  for (size_t i = 0; nan && i < n; i++)
    nan[i] = NAN;
  void *bufs[QB_MAX_FIELDS];
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    bufs[k] = nan;
  err = write_fields(h, lo, hi, bufs, true, "fill", err);
  free(nan);
  return err;
}

qb_err qb_h5_flush(qb_h5 *h, char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  err_path = h->path;
  qb_err err = QB_OK;
  if (!H5_OK("H5Fflush", H5Fflush(h->file, H5F_SCOPE_GLOBAL)) || FAULT("flush", "H5Fflush"))
    err = QB_EH5;
  return agree(err);
}

qb_err qb_h5_write_done(qb_h5 *h, const uint8_t *done, int64_t nblocks, char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  err_path = h->path;
  hsize_t n = (hsize_t)(nblocks > 0 ? nblocks : 1);
  hid_t mem = H5I_INVALID_HID;
  bool mine = done && nblocks > 0;
  qb_err err = QB_OK;
  if (mine && !(H5_OK("H5Screate_simple", mem = H5Screate_simple(1, &n, NULL)) &&
                H5_OK("H5Sselect_all", H5Sselect_all(h->done_space))))
    err = QB_EH5, mine = false;
  if (!mine) H5Sselect_none(h->done_space);
  static const uint8_t dummy = 0;
  if (!H5_OK("H5Dwrite", H5Dwrite(h->done, H5T_NATIVE_UINT8, mine ? mem : h->none_mem,
                                  h->done_space, h->dxpl, mine ? (const void *)done : &dummy)) ||
      FAULT("done", "H5Dwrite"))
    err = QB_EH5;
  if (mem >= 0) H5Sclose(mem);
  return agree(err);
}

qb_err qb_h5_finish(qb_h5 **hp, char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  qb_h5 *h = *hp;
  qb_err err = QB_OK;
  err_path = h->path;
  if (!H5_OK("H5Fflush", H5Fflush(h->file, H5F_SCOPE_GLOBAL)) || FAULT("finish", "H5Fflush"))
    err = QB_EH5;
  if (!release(h)) err = QB_EH5;
  err_path = NULL;
  *hp = NULL;
  return agree(err);
}

void qb_h5_close(qb_h5 **hp) {
  if (!hp || !*hp) return;
  char none[1];
  err_to(none, sizeof none); /* failures while closing after a failure are not news */
  release(*hp);
  err_msg = NULL;
  *hp = NULL;
}

/* ---- point lists (rank 0 creates, all ranks write) ------------------------------------- */

static hid_t col_ftype(qb_coltype t) {
  return t == QB_COL_F64 ? H5T_IEEE_F64LE : (t == QB_COL_I32 ? H5T_STD_I32LE : H5T_STD_I64LE);
}

static hid_t col_mtype(qb_coltype t) {
  return t == QB_COL_F64 ? H5T_NATIVE_DOUBLE
                         : (t == QB_COL_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_INT64);
}

/* ---- undo journal for rank 0's serial changes of a finished sweep (rank 0) ----------------- */

/* HDF5 1.10 has no transactions: a metadata write that fails half way (a full disk inside
 * H5Fclose) or a kill leaves objects that cannot be read, and the finished sweep with them.  So
 * before rank 0 changes the structure of an output (a post-pass group, the final attributes),
 * it saves every byte the change could overwrite to `path.undo` and syncs it: all of
 * [0, end of file) except the raw data of the root group's datasets (the grid's fields and
 * axes, which these changes never touch) -- the file's metadata, group /blocks (9 bytes per
 * block) and the post-pass groups: kilobytes to megabytes.  A failed change is rolled back from it
 * at once (undo_restore), a killed one by the next --resume (qb_h5_inspect); a successful one syncs
 * the file and drops it.  Format (native byte order, transient): magic, dev, ino, size, n, n x
 * (offset, length, bytes), FNV-1a checksum of all that, end magic. */

static const char undo_magic[16] = "qbmap-undo-v1\n", undo_end[8] = "undo-end";

typedef struct {
  uint64_t off, len;
} region;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211u;
  return h;
}

static int region_cmp(const void *a, const void *b) {
  uint64_t x = ((const region *)a)->off, y = ((const region *)b)->off;
  return x < y ? -1 : x > y;
}

/* The raw-data extents of the root group's datasets, sorted by offset. */
static bool raw_extents(const char *path, region **out, int *n) {
  *out = NULL;
  *n = 0;
  hid_t f = H5I_INVALID_HID;
  H5G_info_t info;
  if (!H5_OK("H5Fopen", f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT))) return false;
  bool ok = H5_OK("H5Gget_info", H5Gget_info(f, &info));
  region *r = ok ? calloc(info.nlinks + 1, sizeof *r) : NULL;
  ok = ok && r;
  for (hsize_t i = 0; ok && i < info.nlinks; i++) {
    char name[512];
    H5O_info_t oi;
    hid_t d = H5I_INVALID_HID;
    ok = H5_OK("H5Lget_name_by_idx", H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                                        sizeof name, H5P_DEFAULT)) &&
         H5_OK("H5Oget_info_by_name", H5Oget_info_by_name(f, name, &oi, H5P_DEFAULT));
    if (!ok || oi.type != H5O_TYPE_DATASET) continue;
    if (!H5_OK("H5Dopen2", d = H5Dopen2(f, name, H5P_DEFAULT))) break;
    haddr_t off = H5Dget_offset(d);
    hsize_t len = H5Dget_storage_size(d);
    if (off != HADDR_UNDEF && len > 0) r[(*n)++] = (region){(uint64_t)off, (uint64_t)len};
    H5Dclose(d);
  }
  H5Fclose(f);
  if (!ok) {
    free(r);
    return false;
  }
  qsort(r, (size_t)*n, sizeof *r, region_cmp);
  *out = r;
  return true;
}

static bool write_all(int fd, const void *p, size_t n, uint64_t *sum) {
  *sum = fnv1a(*sum, p, n);
  for (const char *c = p; n > 0;) {
    ssize_t w = write(fd, c, n);
    if (w <= 0) return false;
    c += w, n -= (size_t)w;
  }
  return true;
}

static void sync_dir(const char *path) {
  char dir[PATH_MAX + 16];
  dir_of(path, dir, sizeof dir);
  int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    fsync(d);
    close(d);
  }
}

/* Saves what a structural change of the token's file could overwrite to path.undo. */
static qb_err undo_save(const char *path, const qb_h5_token *tok) {
  char up[PATH_MAX + 16];
  sibling(path, ".undo", up, sizeof up);
  region *raw = NULL;
  int nraw = 0;
  if (!raw_extents(path, &raw, &nraw)) return QB_EH5;
  struct stat st;
  int fd = open_token_file(path, O_RDONLY, tok, &st), u = -1;
  qb_err err = QB_EIO;
  if (fd < 0) {
    fail_replaced(path, fd == -1 ? strerror(errno) : "another device/inode");
    goto done;
  }
  /* the complement of the raw extents in [0, size) */
  uint64_t size = (uint64_t)st.st_size, pos = 0, nreg = 0;
  region *keep = calloc((size_t)nraw + 1, sizeof *keep);
  if (!keep) {
    fail_text("out of memory for the undo journal of '%s'", path);
    goto done;
  }
  for (int i = 0; i <= nraw; i++) {
    uint64_t end = i < nraw ? raw[i].off : size;
    if (end > size) end = size;
    if (end > pos) keep[nreg++] = (region){pos, end - pos};
    if (i < nraw && raw[i].off + raw[i].len > pos) pos = raw[i].off + raw[i].len;
  }
  unlink(up); /* a stale one (we hold the lock) */
  u = open(up, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  uint64_t sum = 14695981039346656037u, hdr[4] = {tok->dev, tok->ino, size, nreg};
  bool ok = u >= 0 && write_all(u, undo_magic, sizeof undo_magic, &sum) &&
            write_all(u, hdr, sizeof hdr, &sum);
  for (uint64_t i = 0; ok && i < nreg; i++) {
    ok = write_all(u, &keep[i], sizeof keep[i], &sum);
    for (uint64_t off = keep[i].off, left = keep[i].len; ok && left > 0;) {
      unsigned char piece[65536];
      size_t want = left < sizeof piece ? (size_t)left : sizeof piece;
      ssize_t got = pread(fd, piece, want, (off_t)off);
      ok = got == (ssize_t)want && write_all(u, piece, want, &sum);
      off += want, left -= want;
    }
  }
  uint64_t dummy = 0;
  ok = ok && write_all(u, &sum, sizeof sum, &dummy) &&
       write_all(u, undo_end, sizeof undo_end, &dummy) && fsync(u) == 0;
  free(keep);
  if (!ok) {
    fail_text("cannot save the undo journal '%s' before changing '%s': %s", up, path,
              strerror(errno ? errno : EIO));
    if (u >= 0) unlink(up);
    goto done;
  }
  sync_dir(path);
  err = QB_OK;
done:
  if (u >= 0) close(u);
  if (fd >= 0) close(fd);
  free(raw);
  return err;
}

/* Reads the journal file u (named up) whole into *buf (malloc'ed), *n bytes. */
static qb_err undo_read(int u, const char *up, unsigned char **buf, size_t *n) {
  struct stat us;
  if (fstat(u, &us) != 0 || !S_ISREG(us.st_mode) || us.st_size > ((off_t)1 << 32)) {
    fail_text("'%s' is not an undo journal qbmap can read; allowed: remove it", up);
    return QB_EEXIST;
  }
  *n = (size_t)us.st_size;
  *buf = malloc(*n ? *n : 1);
  if (!*buf || pread(u, *buf, *n, 0) != (ssize_t)*n) {
    fail_text("cannot read the undo journal '%s': %s", up, strerror(errno ? errno : ENOMEM));
    return QB_EIO;
  }
  return QB_OK;
}

enum { UNDO_HEAD = sizeof undo_magic + 4 * sizeof(uint64_t), UNDO_TAIL = 8 + sizeof undo_end };

/* Whether the n bytes of buf are a complete journal: both magics and the checksum. */
static bool undo_complete(const unsigned char *buf, size_t n) {
  uint64_t sum;
  if (n < UNDO_HEAD + UNDO_TAIL || memcmp(buf, undo_magic, sizeof undo_magic) != 0 ||
      memcmp(buf + n - sizeof undo_end, undo_end, sizeof undo_end) != 0)
    return false;
  memcpy(&sum, buf + n - UNDO_TAIL, sizeof sum);
  return fnv1a(14695981039346656037u, buf, n - UNDO_TAIL) == sum;
}

/* Writes the complete journal buf (n bytes, from up) back into path: its saved regions, then
 * its size, synced.  The journal must be of path's file (device, inode). */
static qb_err undo_apply(const char *path, const char *up, const unsigned char *buf, size_t n) {
  uint64_t hdr[4];
  memcpy(hdr, buf + sizeof undo_magic, sizeof hdr);
  qb_h5_token tok = {.dev = hdr[0], .ino = hdr[1]};
  struct stat st;
  int fd = open_token_file(path, O_RDWR, &tok, &st);
  if (fd < 0) {
    fail_text("'%s' (the undo journal of an interrupted post-pass) belongs to another file than "
              "'%s' (device/inode differ); allowed: remove it if '%s' is intact",
              up, path, path);
    return QB_EEXIST;
  }
  bool ok = true;
  size_t pos = UNDO_HEAD, end = n - UNDO_TAIL;
  for (uint64_t i = 0; ok && i < hdr[3]; i++) {
    region r;
    ok = pos + sizeof r <= end;
    if (ok) memcpy(&r, buf + pos, sizeof r), pos += sizeof r;
    ok = ok && r.len <= end - pos &&
         pwrite(fd, buf + pos, (size_t)r.len, (off_t)r.off) == (ssize_t)r.len;
    pos += ok ? (size_t)r.len : 0;
  }
  ok = ok && ftruncate(fd, (off_t)hdr[2]) == 0 && fsync(fd) == 0;
  if (!ok)
    fail_text("rolling '%s' back from its undo journal '%s' failed: %s; the journal is kept "
              "(run again with --resume)",
              path, up, strerror(errno ? errno : EIO));
  close(fd);
  return ok ? QB_OK : QB_EIO;
}

/* Rolls path back from path.undo if there is a complete journal (*rolled = true), and removes
 * the journal (an incomplete one was being written when its run died: the file is untouched).
 * A journal of another file (device/inode) is an error (QB_EEXIST), left in place. */
static qb_err undo_restore(const char *path, bool *rolled) {
  char up[PATH_MAX + 16];
  sibling(path, ".undo", up, sizeof up);
  *rolled = false;
  int u = open(up, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (u < 0) return QB_OK; /* none */
  unsigned char *buf = NULL;
  size_t n = 0;
  qb_err err = undo_read(u, up, &buf, &n);
  close(u);
  if (!err && undo_complete(buf, n)) {
    err = undo_apply(path, up, buf, n);
    *rolled = !err;
  }
  if (!err) unlink(up);
  free(buf);
  return err;
}

/* After a successful change: the file on disk, then the journal gone. */
static void undo_drop(const char *path) {
  char up[PATH_MAX + 16];
  sibling(path, ".undo", up, sizeof up);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  unlink(up);
}

/* A failed change: roll back, and say so in the message. */
static void undo_after_failure(const char *path) {
  bool rolled = false;
  char note[1024] = "";
  char *saved = err_msg;
  size_t saved_size = err_size;
  err_msg = note, err_size = sizeof note;
  undo_restore(path, &rolled);
  err_msg = saved, err_size = saved_size;
  if (err_msg && err_msg[0]) {
    size_t len = strlen(err_msg);
    snprintf(err_msg + len, err_size - len, "%s%s",
             rolled ? "; the file was rolled back to its finished sweep" : "; ",
             rolled ? "" : note);
  }
}

/* Rank 0: opens the token's file serially (sec2 driver) for writing and checks it is the
 * token's, by inode and run_id. */
static hid_t open_serial(const char *path, const qb_h5_token *tok) {
  if (check_path(path, tok)) return H5I_INVALID_HID;
  hid_t f = open_rw(path, tok);
  if (f >= 0 && check_run_id(f, path, tok)) {
    H5Fclose(f);
    f = H5I_INVALID_HID;
  }
  return f;
}

/* Rank 0: the space a group of n rows and ncols columns (plus its `point` ids) adds to the
 * file, with a margin for the metadata: object headers, attributes, dimension-scale
 * references, the group's link index. */
static double group_bytes(int64_t n, int ncols) {
  return (double)n * 8.0 * (ncols + 1) + 65536.0 + 16384.0 * (ncols + 1);
}

/* Rank 0: checks and reserves, past the end of the token's file, the space the group needs,
 * before HDF5 opens the file: a failing metadata write on close could leave the file
 * unreadable, a refusal here leaves it as it was. */
static qb_err reserve_group(const char *path, const qb_h5_token *tok, int64_t n, int ncols) {
  struct stat st;
  int fd = open_token_file(path, O_RDWR, tok, &st);
  if (fd < 0) {
    fail_replaced(path, fd == -1 ? strerror(errno) : "another device/inode");
    return QB_EIO;
  }
  double grow = group_bytes(n, ncols);
  const char *what = "the group";
  qb_err err = QB_OK;
  if (!space_for(path, (double)st.st_size + grow, grow, what)) err = QB_EIO;
  int e = err ? 0 : reserve(fd, st.st_size, (off_t)grow, true);
  if (e) {
    fail_text("%s needs %.3g bytes but its file system could not reserve them (%s; %.3g bytes "
              "free)",
              what, grow, strerror(e), fs_free_bytes(path));
    err = QB_EIO;
  }
  close(fd);
  if (err) {
    size_t len = strlen(err_msg);
    snprintf(err_msg + len, err_size - len,
             "; the file is unchanged (its sweep is kept): free some space, then run the same "
             "command with --resume");
  }
  return err;
}

/* Opens group `group` of f, created if missing, and empties it: a resumed run drops what an
 * interrupted post-pass left there.  H5I_INVALID_HID on failure. */
static hid_t open_empty_group(hid_t f, const char *group) {
  hid_t gcpl = ordered_plist(H5P_GROUP_CREATE), g = H5I_INVALID_HID;
  htri_t exists = 0;
  bool ok = gcpl >= 0 && H5_OK("H5Lexists", exists = H5Lexists(f, group, H5P_DEFAULT));
  if (ok)
    ok = exists > 0 ? H5_OK("H5Gopen2", g = H5Gopen2(f, group, H5P_DEFAULT))
                    : H5_OK("H5Gcreate2", g = H5Gcreate2(f, group, H5P_DEFAULT, gcpl, H5P_DEFAULT));
  for (int guard = 0; ok && guard < 64; guard++) {
    H5G_info_t info;
    char name[256];
    if (!H5_OK("H5Gget_info", H5Gget_info(g, &info))) ok = false;
    if (!ok || info.nlinks == 0) break;
    ok = H5_OK("H5Lget_name_by_idx", H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, 0, name,
                                                        sizeof name, H5P_DEFAULT)) &&
         H5_OK("H5Ldelete", H5Ldelete(g, name, H5P_DEFAULT));
  }
  if (gcpl >= 0) H5Pclose(gcpl);
  if (!ok && g >= 0) {
    H5Gclose(g);
    g = H5I_INVALID_HID;
  }
  return g;
}

/* Fills the empty group g: a `point` dimension of n rows (its ids, a dimension scale), one
 * dataset per column over it, and the attributes (strings or numbers). */
static bool fill_group(hid_t g, int64_t n, int ncols, const qb_h5_col *cols, int nattrs,
                       const qb_h5_attr *attrs) {
  hsize_t dim = (hsize_t)n;
  hid_t pt = create_contiguous(g, "point", H5T_STD_I64LE, 1, &dim, NULL, H5D_FILL_TIME_NEVER);
  bool ok =
      pt >= 0 && write_ids(pt, n, "point") && H5_OK("H5DSset_scale", H5DSset_scale(pt, "point")) &&
      attr_str(pt, "long_name", "index of the point in this list") && attr_str(pt, "units", "1");
  for (int k = 0; k < ncols && ok; k++) {
    hid_t d = create_contiguous(g, cols[k].name, col_ftype(cols[k].type), 1, &dim, NULL,
                                H5D_FILL_TIME_NEVER);
    ok = d >= 0 && H5_OK("H5DSattach_scale", H5DSattach_scale(d, pt, 0)) &&
         attr_str(d, "units", cols[k].units) && attr_str(d, "long_name", cols[k].long_name);
    if (d >= 0) H5Dclose(d);
  }
  for (int k = 0; k < nattrs && ok; k++)
    ok = attrs[k].type == QB_ATTR_F64   ? attr_f64(g, attrs[k].name, attrs[k].f64)
         : attrs[k].type == QB_ATTR_I64 ? attr_i64(g, attrs[k].name, attrs[k].i64)
                                        : attr_str(g, attrs[k].name, attrs[k].value);
  if (pt >= 0) H5Dclose(pt);
  return ok;
}

qb_err qb_h5_create_group(const char *path, const qb_h5_token *tok, const char *group, int64_t n,
                          int ncols, const qb_h5_col *cols, int nattrs, const qb_h5_attr *attrs,
                          char *msg, size_t msgsize) {
  err_to(msg, msgsize);
  err_path = path;
  qb_err err = reserve_group(path, tok, n, ncols);
  if (!err) err = undo_save(path, tok);
  if (err) return err;
  hid_t f = open_serial(path, tok);
  hid_t g = f >= 0 ? open_empty_group(f, group) : H5I_INVALID_HID;
  qb_hook_stall("postpass");
  bool ok = g >= 0 && fill_group(g, n, ncols, cols, nattrs, attrs);
  if (ok && FAULT("mkgroup", "H5Gcreate2")) ok = false;
  if (qb_hook_fault("die")) kill(getpid(), SIGKILL); /* killed before the metadata is written */
  if (g >= 0) H5Gclose(g);
  if (f >= 0 && !H5_OK("H5Fclose", H5Fclose(f))) ok = false;
  if (!ok && !failed()) fail_text("HDF5 failed to create group /%s in '%s'", group, path);
  if (ok)
    undo_drop(path);
  else
    undo_after_failure(path);
  return ok ? QB_OK : QB_EH5;
}

qb_err qb_h5_write_group(const char *path, const qb_h5_token *tok, const char *group, int64_t off,
                         int64_t count, int ncols, const qb_h5_col *cols, char *msg,
                         size_t msgsize) {
  err_to(msg, msgsize);
  err_path = path;
  hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
  qb_err err = open_parallel(path, tok, &f);
  if (err) return err;
  if (!H5_OK("H5Gopen2", g = H5Gopen2(f, group, H5P_DEFAULT)) ||
      !H5_OK("H5Pcreate", dxpl = H5Pcreate(H5P_DATASET_XFER)) ||
      !H5_OK("H5Pset_dxpl_mpio", H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE)))
    err = QB_EH5;
  err = agree(err);
  hsize_t n = (hsize_t)(count > 0 ? count : 1), start = (hsize_t)off;
  static const int64_t dummy = 0;
  qb_err werr = QB_OK; /* write failures: every rank goes on to the next column's write */
  for (int k = 0; k < ncols && !err; k++) {
    hid_t d = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    if (!H5_OK("H5Dopen2", d = H5Dopen2(g, cols[k].name, H5P_DEFAULT)) ||
        !H5_OK("H5Dget_space", fs = H5Dget_space(d)) ||
        !H5_OK("H5Screate_simple", ms = H5Screate_simple(1, &n, NULL)))
      err = QB_EH5;
    /* every rank sees the same extent: an empty list is skipped by all (HDF5 refuses to write
     * into a dataset without storage) */
    if (!(err = agree(err)) && H5Sget_simple_extent_npoints(fs) > 0) {
      bool mine = count > 0 && cols[k].data && !werr;
      if (mine && !H5_OK("H5Sselect_hyperslab",
                         H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &n, NULL)))
        werr = QB_EH5, mine = false;
      if (!mine) H5Sselect_none(fs), H5Sselect_none(ms);
      if (!H5_OK("H5Dwrite",
                 H5Dwrite(d, col_mtype(cols[k].type), ms, fs, dxpl, mine ? cols[k].data : &dummy)))
        werr = QB_EH5;
      if (k == 0 && FAULT("group", "H5Dwrite")) werr = QB_EH5;
    }
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
  }
  if (g >= 0) H5Gclose(g);
  if (dxpl >= 0) H5Pclose(dxpl);
  if (!H5_OK("H5Fclose", H5Fclose(f))) werr = QB_EH5;
  qb_err agreed = agree(werr);
  return err ? err : agreed;
}

/* The most segments wall_time_segments_s keeps (a run resumed more often sums the rest into
 * its last entry). */
#define QB_H5_MAX_SEGMENTS 1024

/* Appends `seconds` to the root attribute wall_time_segments_s (float64 array, created by the
 * first segment that ends) and puts the sum of all its entries into *sum. */
static bool append_segment(hid_t f, double seconds, double *sum) {
  static double seg[QB_H5_MAX_SEGMENTS];
  hsize_t n = 0;
  htri_t exists = 0;
  if (!H5_OK("H5Aexists", exists = H5Aexists(f, "wall_time_segments_s"))) return false;
  if (exists > 0) {
    hid_t a = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    hssize_t m = -1;
    bool ok = H5_OK("H5Aopen", a = H5Aopen(f, "wall_time_segments_s", H5P_DEFAULT)) &&
              H5_OK("H5Aget_space", sp = H5Aget_space(a)) &&
              H5_OK("H5Sget_simple_extent_npoints", m = H5Sget_simple_extent_npoints(sp));
    if (ok && (m < 1 || m > QB_H5_MAX_SEGMENTS)) {
      fail_text("attribute wall_time_segments_s has %lld entries; allowed: 1 to %d", (long long)m,
                QB_H5_MAX_SEGMENTS);
      ok = false;
    }
    ok = ok && H5_OK("H5Aread", H5Aread(a, H5T_NATIVE_DOUBLE, seg));
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    if (!ok || !H5_OK("H5Adelete", H5Adelete(f, "wall_time_segments_s"))) return false;
    n = (hsize_t)m;
  }
  if (n == QB_H5_MAX_SEGMENTS)
    seg[n - 1] += seconds;
  else
    seg[n++] = seconds;
  *sum = 0;
  for (hsize_t k = 0; k < n; k++)
    *sum += seg[k];
  return attr_write(f, "wall_time_segments_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, seg);
}

/* Rank 0: change(f, arg) on the file of *tok, opened serially, under the undo journal: rolled
 * back at once if the change or the close fails, by the next --resume if the process dies. */
static qb_err journaled(const char *path, const qb_h5_token *tok, bool (*change)(hid_t, void *),
                        void *arg) {
  if (undo_save(path, tok)) return QB_EIO;
  hid_t f = open_serial(path, tok);
  bool ok = f >= 0 && change(f, arg);
  if (f >= 0 && !H5_OK("H5Fclose", H5Fclose(f))) ok = false;
  if (ok)
    undo_drop(path);
  else
    undo_after_failure(path);
  return ok ? QB_OK : QB_EH5;
}

static bool add_segment(hid_t f, void *seconds) {
  double sum = 0;
  return append_segment(f, *(double *)seconds, &sum);
}

qb_err qb_h5_mark_segment(const char *path, const qb_h5_token *tok, double seconds, char *msg,
                          size_t msgsize) {
  err_to(msg, msgsize);
  err_path = path;
  return journaled(path, tok, add_segment, &seconds);
}

/* The last segment, wall_time_s = the segments' sum, complete = 1. */
static bool complete_file(hid_t f, void *seconds) {
  double sum = 0;
  bool ok = append_segment(f, *(double *)seconds, &sum) && attr_f64(f, "wall_time_s", sum) &&
            !FAULT("complete", "H5Awrite") && attr_i32(f, "complete", 1);
  qb_hook_stall("final");
  return ok;
}

qb_err qb_h5_mark_complete(const char *path, const qb_h5_token *tok, double wall_time_s, char *msg,
                           size_t msgsize) {
  err_to(msg, msgsize);
  err_path = path;
  qb_err err = journaled(path, tok, complete_file, &wall_time_s);
  if (!err) { /* give back what reserve_group kept past the end of the file */
    struct stat st;
    int fd = open_token_file(path, O_WRONLY, tok, &st);
    if (fd >= 0 && ftruncate(fd, st.st_size) != 0) {
      /* nothing lost: only the unused reservation stays allocated */
    }
    if (fd >= 0) close(fd);
  }
  return err;
}
