/* writer.h - write stage: volumes (.npy), the manifest (CSV) and run.json.
 *
 * Every file is written under a temporary name in its target folder, flushed, closed
 * and then renamed over the final name, so a crash or kill never leaves a partial file
 * under a final name. Write errors (disk full, permissions, read-only folder) come back
 * as MP_ERR_WRITE naming the path and the OS error.
 */
#ifndef MRIPREP_WRITER_H
#define MRIPREP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates `path` and its missing parents (mode 0777 & ~umask). MP_ERR_WRITE on failure. */
mp_status make_dirs(const char *path, mp_error *err);

/* The NPY 1.0 header (magic, version, length, dict padded with spaces to a multiple of
 * 64 bytes, newline) of a C-order array of `ndim` dims with numpy dtype string `descr`
 * ("<f4"); what numpy 1.24's np.save writes. Returns its length, or 0 when it does not
 * fit `cap` (256 bytes always suffice for ndim <= 8). */
size_t npy_header(char *buf, size_t cap, const char *descr, const uint64_t *shape, int ndim);

/* Writes `data` [bytes] as an .npy file at `path` atomically, creating parent folders.
 * MP_ERR_WRITE on failure (no temporary file is left behind). */
mp_status npy_write_atomic(const char *path, const char *descr, const uint64_t *shape, int ndim,
                           const void *data, size_t bytes, mp_error *err);

/* A file being written under a temporary name beside its final one ("<dir>/.<name>.tmp.
 * <pid>"), renamed into place only when complete: every writer of the project uses it,
 * so a crash or a write error never leaves a partial file under a final name. */
typedef struct atomic_file {
    char *path; /* the final name */
    char *tmp;  /* the temporary name */
    int fd;     /* open for writing; -1 once closed, or handed to a library that closes it */
} atomic_file_t;

/* Creates the missing parent folders of `path` and opens its temporary file. Errors
 * (MP_ERR_WRITE) name `path` and the OS error. */
mp_status atomic_file_open(atomic_file_t *f, const char *path, mp_error *err);

/* Writes all of `data` [bytes] to f's temporary file; MP_ERR_WRITE naming f->path. */
mp_status atomic_file_write(atomic_file_t *f, const void *data, size_t bytes, mp_error *err);

/* Closes fd (unless -1) and renames the temporary file over `path`; on failure the
 * temporary file is removed. Frees f's names either way. */
mp_status atomic_file_commit(atomic_file_t *f, mp_error *err);

/* Closes fd (unless -1) and removes the temporary file. Safe on a zeroed (never
 * opened) or committed atomic_file_t, and twice. */
void atomic_file_abort(atomic_file_t *f);

/* Writes `text` [len] to `path` atomically (for run.json and the final manifest). */
mp_status text_write_atomic(const char *path, const char *text, size_t len, mp_error *err);

/* One manifest row; NULL strings are written empty. */
typedef struct manifest_row {
    const char *split, *id, *modality, *label, *status, *reason;
    int64_t files, kept, depth, src_rows, src_cols; /* < 0: written empty */
    int has_moments;                                /* mean and std present */
    double mean, std;
    const char *output;                             /* path relative to OUT, or "" */
    double seconds;                                 /* < 0: written empty */
    const char *plane;     /* axial, sagittal, coronal, oblique, unknown; "" when not decoded */
    const char *order;     /* how the slices were ordered: name, position, instance; or "" */
    const char *geometry;  /* "reoriented to LPS", or why not / why no affine; or "" */
    const char *augmented; /* the rotated copy's path relative to OUT, or "" */
} manifest_row_t;

/* The column names, in order, comma-separated (the CSV header without newline). */
extern const char MANIFEST_COLUMNS[];

/* The manifest is written while the run goes: rows go to `<path>.partial` and are
 * flushed one by one, so a crash leaves every finished row readable; manifest_finish()
 * renames it to `path`. */
typedef struct manifest_writer {
    FILE *file;
    char *path, *partial_path;
} manifest_writer_t;

mp_status manifest_open(manifest_writer_t *m, const char *path, mp_error *err);
mp_status manifest_append(manifest_writer_t *m, const manifest_row_t *row, mp_error *err);
/* Appends a row given as its MANIFEST_COLUMNS text fields (a row kept from a previous
 * run), quoting them as needed. */
mp_status manifest_append_fields(manifest_writer_t *m, const char *const *fields, size_t n, mp_error *err);

/* Flushes, closes and renames into place. */
mp_status manifest_finish(manifest_writer_t *m, mp_error *err);
/* Closes without renaming (the .partial file stays for inspection). Safe twice. */
void manifest_abandon(manifest_writer_t *m);

/* Formats one CSV field (quoted when it holds a comma, quote or line break). */
void csv_write_field(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_WRITER_H */
