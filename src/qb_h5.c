/* HDF5 output.  hdf5.h of a parallel build brings in mpi.h; this file uses MPI only to name the
 * communicator (MPI_COMM_WORLD) and info object that the MPI-IO driver needs. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r, access, unlink */
#include "qbmap/qb_h5.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

struct qb_h5 {
  hid_t file, dxpl;
  hid_t dset[QB_MAX_FIELDS], space[QB_MAX_FIELDS];
  hid_t done, done_space;
  int ndim;
  int64_t shape[QB_MAX_AXES];
  const qb_config *cfg;
};

const char *qb_h5_library_version(void) {
  static char v[32];
  unsigned maj, min, rel;
  if (!v[0] && H5get_libversion(&maj, &min, &rel) >= 0)
    snprintf(v, sizeof v, "%u.%u.%u", maj, min, rel);
  return v;
}

/* Fault injection for the crash tests (tests/resume.sh): QBMAP_TEST_STALL=<phase> makes the
 * process sleep 3 s at that phase, so that a SIGKILL can land inside it. */
static void test_stall(const char *phase) {
  const char *v = getenv("QBMAP_TEST_STALL");
  if (v && strcmp(v, phase) == 0) sleep(3);
}

/* ---- attributes ------------------------------------------------------------------------- */

static herr_t attr_write(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                         const void *val) {
  hid_t sp = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  hid_t a = H5I_INVALID_HID;
  herr_t rc = -1;
  if (sp < 0) return -1;
  if (H5Aexists(loc, name) > 0)
    a = H5Aopen(loc, name, H5P_DEFAULT);
  else
    a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) rc = H5Awrite(a, mtype, val);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  return rc;
}

static herr_t attr_str(hid_t loc, const char *name, const char *value) {
  if (H5Aexists(loc, name) > 0 && H5Adelete(loc, name) < 0) return -1; /* sizes may differ */
  hid_t t = H5Tcopy(H5T_C_S1);
  herr_t rc = -1;
  if (t < 0) return -1;
  size_t len = strlen(value);
  if (H5Tset_size(t, len ? len : 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0 &&
      H5Tset_cset(t, H5T_CSET_UTF8) >= 0)
    rc = attr_write(loc, name, t, t, 0, len ? value : "");
  H5Tclose(t);
  return rc;
}

static herr_t attr_i32(hid_t loc, const char *name, int32_t v) {
  return attr_write(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 0, &v);
}

static herr_t attr_i64(hid_t loc, const char *name, int64_t v) {
  return attr_write(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}

static herr_t attr_f64(hid_t loc, const char *name, double v) {
  return attr_write(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &v);
}

/* ---- skeleton (rank 0, serial) ---------------------------------------------------------- */

static hid_t create_contiguous(hid_t file, const char *name, hid_t ftype, int rank,
                               const hsize_t *dims, const void *fill, H5D_fill_time_t ftime) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t d = H5I_INVALID_HID;
  if (sp >= 0 && dcpl >= 0 && H5Pset_layout(dcpl, H5D_CONTIGUOUS) >= 0 &&
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 && H5Pset_fill_time(dcpl, ftime) >= 0 &&
      (!fill || H5Pset_fill_value(dcpl, ftype, fill) >= 0) &&
      H5Pset_attr_creation_order(dcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0)
    d = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (sp >= 0) H5Sclose(sp);
  return d;
}

static herr_t status_flags(hid_t d) {
  int32_t masks[32];
  char meanings[1024] = "";
  hsize_t n = 0;
#define QB_X(name, bit, msg)                                                                       \
  masks[n++] = (int32_t)(1u << (bit));                                                             \
  {                                                                                                \
    char w[64];                                                                                    \
    snprintf(w, sizeof w, "%s", #name + 6);                                                        \
    for (char *q = w; *q; q++)                                                                     \
      *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);                                   \
    snprintf(meanings + strlen(meanings), sizeof meanings - strlen(meanings), "%s%s",              \
             n > 1 ? " " : "", w);                                                                 \
  }
  QB_PT_LIST(QB_X)
#undef QB_X
  if (attr_write(d, "flag_masks", H5T_STD_I32LE, H5T_NATIVE_INT32, n, masks) < 0) return -1;
  return attr_str(d, "flag_meanings", meanings);
}

static void iso_now(char *buf, size_t n) {
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

#define TRY(expr, what)                                                                            \
  do {                                                                                             \
    if ((expr) < 0) {                                                                              \
      snprintf(msg, msgsize, "HDF5 failed to %s in '%s'", what, meta->path);                       \
      goto fail;                                                                                   \
    }                                                                                              \
  } while (0)

qb_err qb_h5_create(const qb_h5_meta *meta, char *msg, size_t msgsize) {
  const qb_config *cfg = meta->cfg;
  const qb_model *m = cfg->model;
  const qb_grid *g = &cfg->grid;
  hid_t fcpl = H5I_INVALID_HID, fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
  hid_t axis[QB_MAX_AXES], blk = H5I_INVALID_HID;
  for (int d = 0; d < QB_MAX_AXES; d++)
    axis[d] = H5I_INVALID_HID;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

  if (!meta->force && access(meta->path, F_OK) == 0) {
    snprintf(msg, msgsize, "output '%s' exists; allowed: a new path, or --force to overwrite it",
             meta->path);
    return QB_EEXIST;
  }
  /* The datasets are allocated at creation: check the space first, so that a full disk or a
   * file-size limit is one clear message instead of a failure deep inside HDF5. */
  double need = 0;
  for (int k = 0; k < cfg->nfields; k++)
    need += (double)g->npoints * (m->fields[cfg->fields[k]].dtype == QB_F64 ? 8.0 : 4.0);
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      need > (double)rl.rlim_cur) {
    snprintf(msg, msgsize, "output '%s' needs %.3g bytes but the file-size limit is %.3g bytes",
             meta->path, need, (double)rl.rlim_cur);
    return QB_EIO;
  }
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", meta->path);
  char *slash = strrchr(dir, '/');
  if (slash)
    slash[slash == dir ? 1 : 0] = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  struct statvfs vfs;
  if (statvfs(dir, &vfs) == 0 && need > (double)vfs.f_bavail * (double)vfs.f_frsize) {
    snprintf(msg, msgsize, "output '%s' needs %.3g bytes but its file system has %.3g bytes free",
             meta->path, need, (double)vfs.f_bavail * (double)vfs.f_frsize);
    return QB_EIO;
  }
  /* The skeleton is built under a temporary name and renamed when complete, so a run killed
   * while creating it leaves `path.partial`, never a half-built `path`. */
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.partial", meta->path);
  fcpl = H5Pcreate(H5P_FILE_CREATE);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fcpl < 0 || fapl < 0 ||
      H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
      H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
      H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) {
    snprintf(msg, msgsize, "HDF5 property lists could not be set up");
    goto fail_noremove;
  }
  file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
  if (file < 0) {
    snprintf(msg, msgsize,
             "cannot create output '%s' (directory missing or not writable?); allowed: a path "
             "in a writable directory",
             meta->path);
    goto fail_noremove;
  }

  /* root attributes: what produced this file */
  char when[32];
  iso_now(when, sizeof when);
  TRY(attr_str(file, "Conventions", "CF-1.8"), "write attributes");
  TRY(attr_str(file, "title", m->doc), "write attributes");
  TRY(attr_str(file, "model", m->name), "write attributes");
  TRY(attr_str(file, "config", cfg->text), "write attributes");
  TRY(attr_str(file, "config_normalized", cfg->normalized), "write attributes");
  for (int k = 0; k < 8 && meta->provenance[k][0]; k++)
    TRY(attr_str(file, meta->provenance[k][0], meta->provenance[k][1]), "write attributes");
  TRY(attr_str(file, "hdf5_version", qb_h5_library_version()), "write attributes");
  TRY(attr_i32(file, "nranks", meta->nranks), "write attributes");
  TRY(attr_str(file, "created", when), "write attributes");
  TRY(attr_i64(file, "npoints", g->npoints), "write attributes");
  TRY(attr_i64(file, "block_points", meta->block_points), "write attributes");
  TRY(attr_i32(file, "complete", 0), "write attributes");
  TRY(attr_f64(file, "wall_time_s", NAN), "write attributes");

  /* axes: coordinate variables and dimension scales */
  hsize_t dims[QB_MAX_AXES];
  for (int d = 0; d < g->ndim; d++) {
    const qb_axis *a = &g->axes[d];
    dims[d] = (hsize_t)a->n;
    axis[d] =
        create_contiguous(file, a->name, H5T_IEEE_F64LE, 1, &dims[d], NULL, H5D_FILL_TIME_NEVER);
    TRY(axis[d], "create an axis dataset");
    TRY(H5Dwrite(axis[d], H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->values),
        "write axis values");
    TRY(H5DSset_scale(axis[d], a->name), "make a dimension scale");
    TRY(attr_str(axis[d], "units", m->params[a->param].units), "write attributes");
    TRY(attr_str(axis[d], "long_name", m->params[a->param].doc), "write attributes");
    TRY(attr_str(axis[d], "scale",
                 a->kind == QB_AXIS_LOG ? "log" : (a->kind == QB_AXIS_LIN ? "lin" : "list")),
        "write attributes");
  }

  /* fixed parameters, as root attributes named after them */
  for (int i = 0; i < m->nparams; i++) {
    int on_axis = 0;
    for (int d = 0; d < g->ndim; d++)
      on_axis |= g->axes[d].param == i;
    if (!on_axis && !isnan(cfg->fixed[i]))
      TRY(attr_f64(file, m->params[i].name, cfg->fixed[i]), "write attributes");
  }

  /* fields */
  for (int k = 0; k < cfg->nfields; k++) {
    const qb_field *f = &m->fields[cfg->fields[k]];
    double nanv = NAN;
    int is_f = f->dtype == QB_F64;
    hid_t ds = create_contiguous(file, f->name, is_f ? H5T_IEEE_F64LE : H5T_STD_I32LE, g->ndim,
                                 dims, is_f ? &nanv : NULL, H5D_FILL_TIME_NEVER);
    TRY(ds, "create a field dataset");
    herr_t rc = 0;
    for (int d = 0; d < g->ndim && rc >= 0; d++)
      rc = H5DSattach_scale(ds, axis[d], (unsigned)d);
    if (rc >= 0) rc = attr_str(ds, "units", f->units);
    if (rc >= 0) rc = attr_str(ds, "long_name", f->doc);
    if (rc >= 0 && is_f) rc = attr_f64(ds, "_FillValue", NAN);
    if (rc >= 0 && strcmp(f->name, "status") == 0) rc = status_flags(ds);
    H5Dclose(ds);
    TRY(rc, "describe a field dataset");
  }

  /* empty groups for the post-passes, created now so that filling them later leaves the root
   * group's index untouched */
  for (int k = 0; k < 4 && meta->groups[k]; k++) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), grp = H5I_INVALID_HID;
    if (gcpl >= 0 &&
        H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0 &&
        H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0)
      grp = H5Gcreate2(file, meta->groups[k], H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (gcpl >= 0) H5Pclose(gcpl);
    TRY(grp, "create a post-pass group");
    H5Gclose(grp);
  }
  test_stall("create");

  /* done mask over blocks */
  hsize_t nb = (hsize_t)meta->nblocks;
  blk = create_contiguous(file, "block", H5T_STD_I64LE, 1, &nb, NULL, H5D_FILL_TIME_NEVER);
  TRY(blk, "create the block dataset");
  {
    int64_t *ids = malloc((size_t)nb * sizeof *ids);
    if (!ids) {
      snprintf(msg, msgsize, "out of memory for %llu block ids", (unsigned long long)nb);
      goto fail;
    }
    for (hsize_t b = 0; b < nb; b++)
      ids[b] = (int64_t)b;
    herr_t rc = H5Dwrite(blk, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids);
    free(ids);
    TRY(rc, "write block ids");
  }
  TRY(H5DSset_scale(blk, "block"), "make a dimension scale");
  TRY(attr_str(blk, "long_name",
               "block index: block b holds flat points [b*block_points, "
               "(b+1)*block_points), row-major, last axis fastest"),
      "write attributes");
  TRY(attr_str(blk, "units", "1"), "write attributes");
  {
    uint8_t zero = 0;
    hid_t done = create_contiguous(file, "done", H5T_STD_U8LE, 1, &nb, &zero, H5D_FILL_TIME_ALLOC);
    TRY(done, "create the done mask");
    herr_t rc = H5DSattach_scale(done, blk, 0);
    if (rc >= 0) rc = attr_str(done, "long_name", "1 once the block's data is on disk");
    if (rc >= 0) rc = attr_str(done, "units", "1");
    H5Dclose(done);
    TRY(rc, "describe the done mask");
  }

  H5Dclose(blk);
  for (int d = 0; d < g->ndim; d++)
    H5Dclose(axis[d]);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  if (H5Fclose(file) < 0) {
    snprintf(msg, msgsize, "HDF5 failed to close '%s' (disk full?)", tmp);
    unlink(tmp);
    return QB_EH5;
  }
  if (rename(tmp, meta->path) != 0) {
    snprintf(msg, msgsize, "cannot rename '%s' to '%s'", tmp, meta->path);
    unlink(tmp);
    return QB_EIO;
  }
  return QB_OK;

fail:
  if (blk >= 0) H5Dclose(blk);
  for (int d = 0; d < QB_MAX_AXES; d++)
    if (axis[d] >= 0) H5Dclose(axis[d]);
  H5Fclose(file);
  unlink(tmp);
fail_noremove:
  if (fcpl >= 0) H5Pclose(fcpl);
  if (fapl >= 0) H5Pclose(fapl);
  return QB_EH5;
}
#undef TRY

/* ---- parallel writes -------------------------------------------------------------------- */

qb_err qb_h5_open(const char *path, const qb_config *cfg, qb_h5 **out, char *msg, size_t msgsize) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  qb_h5 *h = calloc(1, sizeof *h);
  if (!h) return QB_ENOMEM;
  h->file = h->dxpl = h->done = h->done_space = H5I_INVALID_HID;
  for (int k = 0; k < QB_MAX_FIELDS; k++)
    h->dset[k] = h->space[k] = H5I_INVALID_HID;
  h->cfg = cfg;
  h->ndim = cfg->grid.ndim;
  for (int d = 0; d < h->ndim; d++)
    h->shape[d] = cfg->grid.axes[d].n;

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) >= 0 &&
      H5Pset_all_coll_metadata_ops(fapl, 1) >= 0 && H5Pset_coll_metadata_write(fapl, 1) >= 0)
    h->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (h->file < 0) {
    snprintf(msg, msgsize, "cannot open '%s' with MPI-IO", path);
    free(h);
    return QB_EH5;
  }
  h->dxpl = H5Pcreate(H5P_DATASET_XFER);
  /* collective calls; each rank then writes its own contiguous file ranges directly (blocks are
   * contiguous in the file, so two-phase aggregation would only add a copy) */
  if (h->dxpl < 0 || H5Pset_dxpl_mpio(h->dxpl, H5FD_MPIO_COLLECTIVE) < 0 ||
      H5Pset_dxpl_mpio_collective_opt(h->dxpl, H5FD_MPIO_INDIVIDUAL_IO) < 0)
    goto fail;
  for (int k = 0; k < cfg->nfields; k++) {
    h->dset[k] = H5Dopen2(h->file, cfg->model->fields[cfg->fields[k]].name, H5P_DEFAULT);
    if (h->dset[k] < 0 || (h->space[k] = H5Dget_space(h->dset[k])) < 0) goto fail;
  }
  h->done = H5Dopen2(h->file, "done", H5P_DEFAULT);
  if (h->done < 0 || (h->done_space = H5Dget_space(h->done)) < 0) goto fail;
  *out = h;
  return QB_OK;
fail:
  snprintf(msg, msgsize, "'%s' lacks the datasets of this config", path);
  qb_h5_close(&h);
  return QB_EH5;
}

qb_err qb_h5_write_block(qb_h5 *h, int64_t lo, int64_t hi, void *const *bufs) {
  qb_box boxes[2 * QB_MAX_AXES];
  int nb = lo < hi ? qb_grid_range_boxes(h->ndim, h->shape, lo, hi, boxes) : 0;
  hsize_t n = (hsize_t)(hi > lo ? hi - lo : 1);
  hid_t mem = H5Screate_simple(1, &n, NULL);
  qb_err err = mem < 0 ? QB_EH5 : QB_OK;
  if (!err && nb == 0 && H5Sselect_none(mem) < 0) err = QB_EH5;
  static const double dummy = 0;
  for (int k = 0; k < h->cfg->nfields && !err; k++) {
    hid_t fs = h->space[k];
    if (H5Sselect_none(fs) < 0) err = QB_EH5;
    for (int b = 0; b < nb && !err; b++) {
      hsize_t start[QB_MAX_AXES], count[QB_MAX_AXES];
      for (int d = 0; d < h->ndim; d++) {
        start[d] = (hsize_t)boxes[b].start[d];
        count[d] = (hsize_t)boxes[b].count[d];
      }
      if (H5Sselect_hyperslab(fs, b ? H5S_SELECT_OR : H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        err = QB_EH5;
    }
    int is_f = h->cfg->model->fields[h->cfg->fields[k]].dtype == QB_F64;
    if (!err && H5Dwrite(h->dset[k], is_f ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT32, mem, fs, h->dxpl,
                         nb ? bufs[k] : &dummy) < 0)
      err = QB_EH5;
  }
  if (mem >= 0) H5Sclose(mem);
  return err;
}

qb_err qb_h5_write_done(qb_h5 *h, const uint8_t *done, int64_t nblocks) {
  if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0) return QB_EH5;
  hsize_t n = (hsize_t)(nblocks > 0 ? nblocks : 1);
  hid_t mem = H5Screate_simple(1, &n, NULL);
  herr_t rc = mem >= 0 ? 0 : -1;
  if (rc >= 0 && !done)
    rc = (H5Sselect_none(mem) < 0 || H5Sselect_none(h->done_space) < 0) ? -1 : 0;
  else if (rc >= 0)
    rc = H5Sselect_all(h->done_space);
  static const uint8_t dummy = 0;
  if (rc >= 0)
    rc = H5Dwrite(h->done, H5T_NATIVE_UINT8, mem, h->done_space, h->dxpl, done ? done : &dummy);
  if (mem >= 0) H5Sclose(mem);
  return rc < 0 ? QB_EH5 : QB_OK;
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

qb_err qb_h5_inspect(const char *path, const qb_config *cfg, qb_h5_state *st, char *msg,
                     size_t msgsize) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  memset(st, 0, sizeof *st);
  if (H5Fis_hdf5(path) <= 0) {
    snprintf(msg, msgsize,
             "--resume: '%s' is not an HDF5 file (or is truncated); allowed: an "
             "output of an interrupted qbmap run of this config",
             path);
    return QB_ECONFIG;
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5I_INVALID_HID;
  char *model = NULL, *norm = NULL;
  qb_err err = QB_ECONFIG;
  if (f < 0) {
    snprintf(msg, msgsize, "--resume: HDF5 cannot open '%s' (truncated or damaged)", path);
    return QB_ECONFIG;
  }
  if (read_str_attr(f, "model", &model) < 0 || read_str_attr(f, "config_normalized", &norm) < 0 ||
      H5Aexists(f, "block_points") <= 0 || H5Aexists(f, "complete") <= 0) {
    snprintf(msg, msgsize,
             "--resume: '%s' is not a qbmap output (no model, config_normalized, "
             "block_points or complete attribute)",
             path);
    goto done;
  }
  if (strcmp(model, cfg->model->name) != 0) {
    snprintf(msg, msgsize,
             "--resume: '%s' holds model %s, this config model %s; allowed: the "
             "config of the interrupted run",
             path, model, cfg->model->name);
    goto done;
  }
  if (strcmp(norm, cfg->normalized) != 0) {
    const char *a = norm, *b = cfg->normalized; /* name the first line that differs */
    while (*a && *a == *b)
      a++, b++;
    while (a > norm && a[-1] != '\n')
      a--, b--;
    snprintf(msg, msgsize,
             "--resume: '%s' was written for another configuration; file: '%.*s', "
             "now: '%.*s'; allowed: the config (and --set values) of the "
             "interrupted run",
             path, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
    goto done;
  }
  hid_t at = H5Aopen(f, "block_points", H5P_DEFAULT);
  herr_t rc = at >= 0 ? H5Aread(at, H5T_NATIVE_INT64, &st->block_points) : -1;
  if (at >= 0) H5Aclose(at);
  at = rc >= 0 ? H5Aopen(f, "complete", H5P_DEFAULT) : H5I_INVALID_HID;
  int32_t complete = 0;
  rc = at >= 0 ? H5Aread(at, H5T_NATIVE_INT32, &complete) : -1;
  if (at >= 0) H5Aclose(at);
  st->complete = complete == 1;
  d = rc >= 0 ? H5Dopen2(f, "done", H5P_DEFAULT) : H5I_INVALID_HID;
  hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
  hsize_t n = 0;
  if (sp >= 0 && H5Sget_simple_extent_dims(sp, &n, NULL) == 1 && st->block_points > 0 &&
      (int64_t)n == (cfg->grid.npoints + st->block_points - 1) / st->block_points) {
    st->nblocks = (int64_t)n;
    st->done = malloc(n ? n : 1);
    if (st->done && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->done) >= 0)
      err = QB_OK;
  }
  if (sp >= 0) H5Sclose(sp);
  if (err) snprintf(msg, msgsize, "--resume: the done mask of '%s' is unreadable", path);
done:
  if (d >= 0) H5Dclose(d);
  H5Fclose(f);
  free(model);
  free(norm);
  if (err) {
    free(st->done);
    st->done = NULL;
  }
  return err;
}

/* Closes every handle; returns H5Fclose's status (the last write-back to disk). */
static herr_t release(qb_h5 *h) {
  for (int k = 0; k < QB_MAX_FIELDS; k++) {
    if (h->space[k] >= 0) H5Sclose(h->space[k]);
    if (h->dset[k] >= 0) H5Dclose(h->dset[k]);
  }
  if (h->done_space >= 0) H5Sclose(h->done_space);
  if (h->done >= 0) H5Dclose(h->done);
  if (h->dxpl >= 0) H5Pclose(h->dxpl);
  herr_t rc = h->file >= 0 ? H5Fclose(h->file) : 0;
  free(h);
  return rc;
}

qb_err qb_h5_finish(qb_h5 **hp) {
  qb_h5 *h = *hp;
  qb_err err = QB_OK;
  if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0) err = QB_EH5;
  if (release(h) < 0) err = QB_EH5;
  *hp = NULL;
  return err;
}

/* ---- point lists (rank 0 creates, all ranks write) ------------------------------------- */

static hid_t col_ftype(qb_coltype t) {
  return t == QB_COL_F64 ? H5T_IEEE_F64LE : (t == QB_COL_I32 ? H5T_STD_I32LE : H5T_STD_I64LE);
}

static hid_t col_mtype(qb_coltype t) {
  return t == QB_COL_F64 ? H5T_NATIVE_DOUBLE
                         : (t == QB_COL_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_INT64);
}

static hid_t open_serial(const char *path) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID;
  if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) >= 0)
    f = H5Fopen(path, H5F_ACC_RDWR, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  return f;
}

qb_err qb_h5_create_group(const char *path, const char *group, int64_t n, int ncols,
                          const qb_h5_col *cols, int nattrs, const qb_h5_attr *attrs, char *msg,
                          size_t msgsize) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = open_serial(path), gcpl = H5Pcreate(H5P_GROUP_CREATE), g = H5I_INVALID_HID;
  hid_t pt = H5I_INVALID_HID;
  herr_t rc = (f >= 0 && gcpl >= 0) ? 0 : -1;
  if (rc >= 0)
    rc = H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
                 H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0
             ? -1
             : 0;
  if (rc >= 0)
    g = H5Lexists(f, group, H5P_DEFAULT) > 0 ? H5Gopen2(f, group, H5P_DEFAULT)
                                             : H5Gcreate2(f, group, H5P_DEFAULT, gcpl, H5P_DEFAULT);
  /* a resumed run: drop what an interrupted post-pass left here */
  for (int guard = 0; g >= 0 && guard < 64; guard++) {
    H5G_info_t info;
    char name[256];
    if (H5Gget_info(g, &info) >= 0 && info.nlinks == 0) break;
    if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, 0, name, sizeof name, H5P_DEFAULT) <
            0 ||
        H5Ldelete(g, name, H5P_DEFAULT) < 0) {
      H5Gclose(g);
      g = H5I_INVALID_HID;
    }
  }
  test_stall("postpass");
  hsize_t dim = (hsize_t)n;
  if (g >= 0) pt = create_contiguous(g, "point", H5T_STD_I64LE, 1, &dim, NULL, H5D_FILL_TIME_NEVER);
  rc = pt >= 0 ? 0 : -1;
  if (rc >= 0 && n > 0) {
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    rc = ids ? 0 : -1;
    for (int64_t k = 0; k < n && ids; k++)
      ids[k] = k;
    if (rc >= 0) rc = H5Dwrite(pt, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids);
    free(ids);
  }
  if (rc >= 0) rc = H5DSset_scale(pt, "point");
  if (rc >= 0) rc = attr_str(pt, "long_name", "index of the point in this list");
  if (rc >= 0) rc = attr_str(pt, "units", "1");
  for (int k = 0; k < ncols && rc >= 0; k++) {
    hid_t d = create_contiguous(g, cols[k].name, col_ftype(cols[k].type), 1, &dim, NULL,
                                H5D_FILL_TIME_NEVER);
    rc = d >= 0 ? 0 : -1;
    if (rc >= 0) rc = H5DSattach_scale(d, pt, 0);
    if (rc >= 0) rc = attr_str(d, "units", cols[k].units);
    if (rc >= 0) rc = attr_str(d, "long_name", cols[k].long_name);
    if (d >= 0) H5Dclose(d);
  }
  for (int k = 0; k < nattrs && rc >= 0; k++)
    rc = attr_str(g, attrs[k].name, attrs[k].value);
  if (pt >= 0) H5Dclose(pt);
  if (g >= 0) H5Gclose(g);
  if (gcpl >= 0) H5Pclose(gcpl);
  if (f >= 0 && H5Fclose(f) < 0) rc = -1;
  if (rc < 0) {
    snprintf(msg, msgsize, "HDF5 failed to create group /%s in '%s'", group, path);
    return QB_EH5;
  }
  return QB_OK;
}

qb_err qb_h5_write_group(const char *path, const char *group, int64_t off, int64_t count, int ncols,
                         const qb_h5_col *cols) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID, g = H5I_INVALID_HID;
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (fapl >= 0 && H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) >= 0 &&
      H5Pset_all_coll_metadata_ops(fapl, 1) >= 0)
    f = H5Fopen(path, H5F_ACC_RDWR, fapl);
  if (f >= 0) g = H5Gopen2(f, group, H5P_DEFAULT);
  herr_t rc = (g >= 0 && dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) >= 0) ? 0 : -1;
  hsize_t n = (hsize_t)(count > 0 ? count : 1), start = (hsize_t)off;
  static const int64_t dummy = 0;
  for (int k = 0; k < ncols && rc >= 0; k++) {
    hid_t d = H5Dopen2(g, cols[k].name, H5P_DEFAULT);
    hid_t fs = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hid_t ms = H5Screate_simple(1, &n, NULL);
    rc = (d >= 0 && fs >= 0 && ms >= 0) ? 0 : -1;
    /* an empty list: nothing to write, and HDF5 refuses to write into a dataset of no storage
     * (every rank sees the same extent, so all skip together) */
    bool empty = rc >= 0 && H5Sget_simple_extent_npoints(fs) == 0;
    if (empty || rc < 0) {
      if (ms >= 0) H5Sclose(ms);
      if (fs >= 0) H5Sclose(fs);
      if (d >= 0) H5Dclose(d);
      continue;
    }
    if (rc >= 0 && count > 0)
      rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &n, NULL);
    else if (rc >= 0)
      rc = (H5Sselect_none(fs) < 0 || H5Sselect_none(ms) < 0) ? -1 : 0;
    if (rc >= 0)
      rc = H5Dwrite(d, col_mtype(cols[k].type), ms, fs, dxpl,
                    count > 0 && cols[k].data ? cols[k].data : &dummy);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (d >= 0) H5Dclose(d);
  }
  if (g >= 0) H5Gclose(g);
  if (dxpl >= 0) H5Pclose(dxpl);
  if (fapl >= 0) H5Pclose(fapl);
  if (f >= 0 && H5Fclose(f) < 0) rc = -1;
  return rc < 0 ? QB_EH5 : QB_OK;
}

qb_err qb_h5_mark_complete(const char *path, double wall_time_s) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = open_serial(path);
  herr_t rc = f >= 0 ? 0 : -1;
  if (rc >= 0) rc = attr_f64(f, "wall_time_s", wall_time_s);
  if (rc >= 0) rc = attr_i32(f, "complete", 1);
  test_stall("final");
  if (f >= 0 && H5Fclose(f) < 0) rc = -1;
  return rc < 0 ? QB_EH5 : QB_OK;
}

void qb_h5_close(qb_h5 **hp) {
  if (!hp || !*hp) return;
  release(*hp);
  *hp = NULL;
}
