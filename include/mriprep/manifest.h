/* manifest.h - the manifest's one schema: OUT/manifest.csv, one row per patient folder
 * and requested modality (README "Outputs" says what each column means).
 *
 * Every reader and writer of a manifest (the run, resume, merge) names columns by
 * manifest_column_t; the CSV header is made from the names below. Rows are written while
 * the run goes: to `<path>.partial`, flushed one by one, so a crash leaves every finished
 * row readable; manifest_finish() renames the file to `path`.
 */
#ifndef MRIPREP_MANIFEST_H
#define MRIPREP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mriprep/error.h"

/* The most a manifest read back (resume, merge) may be: a row is about 200 bytes, so this
 * is millions of series; a larger file (or /dev/zero under its name) is refused. */
#define MANIFEST_READ_MAX_BYTES ((size_t)1 << 30)

#ifdef __cplusplus
extern "C" {
#endif

/* The columns, in file order. */
typedef enum manifest_column {
    MANIFEST_SPLIT = 0, /* train, test, or "" in the flat layout */
    MANIFEST_ID,
    MANIFEST_MODALITY,
    MANIFEST_LABEL,
    MANIFEST_STATUS,    /* series_status_name() */
    MANIFEST_REASON,
    MANIFEST_FILES,
    MANIFEST_KEPT,
    MANIFEST_DEPTH,
    MANIFEST_SRC_ROWS,
    MANIFEST_SRC_COLS,
    MANIFEST_MEAN,      /* exact doubles (%.17g) */
    MANIFEST_STD,
    MANIFEST_OUTPUT,    /* the volume's path relative to OUT */
    MANIFEST_SECONDS,   /* the only column that is a timing */
    MANIFEST_PLANE,
    MANIFEST_ORDER,
    MANIFEST_GEOMETRY,
    MANIFEST_AUGMENTED, /* the rotated copy's path relative to OUT */
    MANIFEST_COLUMNS    /* how many there are */
} manifest_column_t;

/* "split", "id", ..., "augmented". */
const char *manifest_column_name(manifest_column_t column);

/* The `status` column's words, and the counts a run or a merge keeps of them. */
typedef enum series_status {
    STATUS_OK = 0,
    STATUS_EMPTY,    /* no .dcm files, or no slice left */
    STATUS_MISSING,  /* no folder */
    STATUS_FAILED,   /* a file could not be decoded, or the folder listed */
    STATUS_EXCLUDED, /* --exclude */
    SERIES_STATUSES  /* how many there are */
} series_status_t;

/* "ok", "empty", "missing", "failed", "excluded". */
const char *series_status_name(series_status_t status);

/* The status a word names; anything else counts as STATUS_FAILED. */
series_status_t series_status_parse(const char *word);

typedef struct status_counts {
    size_t n[SERIES_STATUSES]; /* rows by status */
} status_counts_t;

/* One row as text, column by column; NULL fields are written empty. The numeric setters
 * format into the row's own storage. */
typedef struct manifest_row {
    const char *field[MANIFEST_COLUMNS];
    char number[MANIFEST_COLUMNS][32];
} manifest_row_t;

void manifest_row_clear(manifest_row_t *row);
void manifest_row_set_count(manifest_row_t *row, manifest_column_t column, int64_t value); /* < 0: empty */
void manifest_row_set_exact(manifest_row_t *row, manifest_column_t column, double value);  /* %.17g */
void manifest_row_set_seconds(manifest_row_t *row, manifest_column_t column, double value); /* %.4f; < 0: empty */

typedef struct manifest_writer {
    FILE *file;
    char *path, *partial_path;
} manifest_writer_t;

/* Creates `<path>.partial` with the header line. MP_ERR_WRITE naming it on failure. */
mp_status manifest_open(manifest_writer_t *m, const char *path, mp_error *err);

/* Appends one row (fields[MANIFEST_COLUMNS], CSV-quoted as needed) and flushes it. */
mp_status manifest_append(manifest_writer_t *m, const char *const *fields, mp_error *err);

/* Flushes, closes and renames into place. */
mp_status manifest_finish(manifest_writer_t *m, mp_error *err);
/* Closes without renaming (the .partial file stays for inspection). Safe twice. */
void manifest_abandon(manifest_writer_t *m);

/* Receives one row of a manifest being read: fields[MANIFEST_COLUMNS], NUL-terminated
 * inside the text given to manifest_parse. A status other than MP_OK stops the parse. */
typedef mp_status (*manifest_row_fn)(void *ctx, char *const *fields, mp_error *err);

/* Calls on_row for every data row of a manifest's text (modified in place) that has the
 * schema's number of fields: the header line and torn rows (the last line of a killed
 * run) are passed over. Returns MP_OK or on_row's status. */
mp_status manifest_parse(char *text, size_t len, manifest_row_fn on_row, void *ctx, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_MANIFEST_H */
