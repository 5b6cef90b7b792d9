/* manifest.c - see include/mriprep/manifest.h. */
#include "mriprep/manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mriprep/csv.h"
#include "mriprep/fs.h"

static const char *const COLUMN_NAMES[MANIFEST_COLUMNS] = {
    "split",  "id",   "modality", "label",   "status",  "reason", "files", "kept",  "depth",    "src_rows",
    "src_cols", "mean", "std",    "output",  "seconds", "plane",  "order", "geometry", "augmented"};

static const char *const STATUS_NAMES[SERIES_STATUSES] = {"ok", "empty", "missing", "failed", "excluded"};

const char *manifest_column_name(manifest_column_t column)
{
    return (unsigned)column < MANIFEST_COLUMNS ? COLUMN_NAMES[column] : "";
}

const char *series_status_name(series_status_t status)
{
    return (unsigned)status < SERIES_STATUSES ? STATUS_NAMES[status] : "failed";
}

series_status_t series_status_parse(const char *word)
{
    for (int s = 0; s < SERIES_STATUSES; s++)
        if (!strcmp(word, STATUS_NAMES[s])) return (series_status_t)s;
    return STATUS_FAILED;
}

void manifest_row_clear(manifest_row_t *row)
{
    memset(row, 0, sizeof *row);
}

void manifest_row_set_count(manifest_row_t *row, manifest_column_t c, int64_t value)
{
    if (value < 0) {
        row->field[c] = NULL;
        return;
    }
    snprintf(row->number[c], sizeof row->number[c], "%lld", (long long)value);
    row->field[c] = row->number[c];
}

void manifest_row_set_exact(manifest_row_t *row, manifest_column_t c, double value)
{
    /* %.17g: the exact double, so a reader gets the bits the volume was scaled with. */
    snprintf(row->number[c], sizeof row->number[c], "%.17g", value);
    row->field[c] = row->number[c];
}

void manifest_row_set_seconds(manifest_row_t *row, manifest_column_t c, double value)
{
    if (value < 0) {
        row->field[c] = NULL;
        return;
    }
    snprintf(row->number[c], sizeof row->number[c], "%.4f", value);
    row->field[c] = row->number[c];
}

mp_status manifest_open(manifest_writer_t *m, const char *path, mp_error *err)
{
    memset(m, 0, sizeof *m);
    size_t n = strlen(path);
    m->path = strdup(path);
    m->partial_path = malloc(n + sizeof ".partial");
    if (!m->path || !m->partial_path) {
        manifest_abandon(m);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    snprintf(m->partial_path, n + sizeof ".partial", "%s.partial", path);
    m->file = fopen(m->partial_path, "w");
    if (!m->file) {
        mp_status st = mp_fail(err, MP_ERR_WRITE, "%s: cannot create: %s", m->partial_path, strerror(errno));
        manifest_abandon(m);
        return st;
    }
    for (int c = 0; c < MANIFEST_COLUMNS; c++) fprintf(m->file, "%s%s", c ? "," : "", COLUMN_NAMES[c]);
    if (fputc('\n', m->file) == EOF || fflush(m->file) != 0) {
        mp_status st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(errno));
        manifest_abandon(m);
        return st;
    }
    return MP_OK;
}

mp_status manifest_append(manifest_writer_t *m, const char *const *fields, mp_error *err)
{
    for (int c = 0; c < MANIFEST_COLUMNS; c++) {
        if (c) fputc(',', m->file);
        csv_write_field(m->file, fields[c]);
    }
    fputc('\n', m->file);
    if (ferror(m->file) || fflush(m->file) != 0)
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(errno));
    return MP_OK;
}

mp_status manifest_finish(manifest_writer_t *m, mp_error *err)
{
    mp_status st = MP_OK;
    if (m->file) {
        int bad = fflush(m->file) != 0 || ferror(m->file);
        int saved = errno;
        mp_error sync_err;
        if (!bad && sync_file(fileno(m->file), m->partial_path, m->path, &sync_err) != MP_OK) bad = 1, saved = EIO;
        if (fclose(m->file) != 0 && !bad) bad = 1, saved = errno;
        m->file = NULL;
        if (bad) st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(saved));
    }
    if (st == MP_OK && rename(m->partial_path, m->path) != 0)
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot rename into place: %s", m->path, strerror(errno));
    if (st == MP_OK) st = sync_parent_folder(m->path, err);
    manifest_abandon(m);
    return st;
}

void manifest_abandon(manifest_writer_t *m)
{
    if (m->file) fclose(m->file);
    free(m->path);
    free(m->partial_path);
    memset(m, 0, sizeof *m);
}

mp_status manifest_parse(char *text, size_t len, manifest_row_fn on_row, void *ctx, mp_error *err)
{
    size_t pos = 0, nf;
    char *fields[MANIFEST_COLUMNS + 1];
    int header = 1;
    while ((nf = csv_next_record(text, len, &pos, fields, MANIFEST_COLUMNS + 1)) > 0) {
        if (header) {
            header = 0;
            continue;
        }
        if (nf != MANIFEST_COLUMNS) continue;
        mp_status st = on_row(ctx, fields, err);
        if (st != MP_OK) return st;
    }
    return MP_OK;
}
