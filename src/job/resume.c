/* resume.c - see include/mriprep/resume.h. */
#include "mriprep/resume.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mriprep/csv.h"
#include "mriprep/writer.h"

void options_fingerprint(const pipeline_options_t *p, const char *format, int augment_rot90, uint64_t seed, char *buf,
                         size_t cap)
{
    /* %.17g: the exact threshold, so 0.01 and 0.010000000000000002 differ. The words
     * that came later (reorient, rescale, augment) appear only when used, so the
     * notebook's fingerprint is what it always was. */
    int n = snprintf(buf, cap,
                     "size=%dx%d slices=%d dark=%.17g margin=%d dtype=%s layout=%s order=%s format=%s crop=%s "
                     "intensity=%s norm=%s depth=%s center=%s",
                     p->out_w, p->out_h, p->slices, p->dark, p->margin, volume_dtype_name(p->dtype),
                     volume_layout_name(p->layout), slice_order_option_name(p->order), format,
                     crop_mode_name(p->crop), intensity_mode_name(p->intensity), norm_mode_name(p->norm),
                     depth_mode_name(p->depth), center_mode_name(p->center));
    if (n < 0 || (size_t)n >= cap) return;
    if (p->reorient) n += snprintf(buf + n, cap - (size_t)n, " reorient=lps");
    if (n < 0 || (size_t)n >= cap) return;
    if (p->rescale) n += snprintf(buf + n, cap - (size_t)n, " rescale=yes");
    if (n < 0 || (size_t)n >= cap) return;
    if (augment_rot90) snprintf(buf + n, cap - (size_t)n, " augment=rot90 seed=%llu", (unsigned long long)seed);
}

/* The whole of a small text file (run.json, a manifest); NULL with *missing = 1 when
 * the file does not exist. */
static char *read_text(const char *path, size_t *len, int *missing, mp_error *err)
{
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        /* No file, or a path through a non-folder (OUT under a file): nothing to resume;
         * creating OUT will say what is wrong. */
        if (errno == ENOENT || errno == ENOTDIR) *missing = 1;
        else mp_fail(err, MP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + n, 1, 65536, f);
        n += got;
        if (got < 65536) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        mp_fail(err, MP_ERR_IO, "%s: read error", path);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* The value of a one-line string field `"key": "value"` in run.json (which this
 * program writes; values hold no quotes or backslashes). */
static void json_string_field(const char *text, const char *key, char *out, size_t cap)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": \"", key);
    out[0] = '\0';
    const char *at = strstr(text, pattern);
    if (!at) return;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    if (!end) return;
    size_t n = (size_t)(end - at);
    if (n >= cap) n = cap - 1;
    memcpy(out, at, n);
    out[n] = '\0';
}

void run_record_string(const char *json_text, const char *key, char *out, size_t cap)
{
    json_string_field(json_text, key, out, cap);
}

double run_record_number(const char *json_text, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(json_text, pattern);
    return at ? strtod(at + strlen(pattern), NULL) : 0.0;
}

char *run_record_read(const char *path, mp_error *err)
{
    size_t len;
    int missing;
    char *text = read_text(path, &len, &missing, err);
    if (!text && missing) mp_fail(err, MP_ERR_IO, "%s: no such file", path);
    return text;
}

static int row_compare(const void *a, const void *b)
{
    const previous_row_t *x = a, *y = b;
    for (int f = 0; f < 3; f++) { /* split, id, modality */
        int c = strcmp(x->fields[f], y->fields[f]);
        if (c) return c;
    }
    return 0;
}

static int row_compare_then_order(const void *a, const void *b)
{
    int c = row_compare(a, b);
    if (c) return c;
    size_t x = ((const previous_row_t *)a)->order, y = ((const previous_row_t *)b)->order;
    return (x > y) - (x < y);
}

static void row_free(previous_row_t *r)
{
    for (int f = 0; f < MANIFEST_FIELDS; f++) free(r->fields[f]);
}

/* Appends the data rows of a manifest's text; rows with another number of fields than
 * the header (a torn last line of a killed run) are ignored. */
static mp_status add_manifest_rows(previous_run_t *prev, char *text, size_t len, size_t *cap, const char *path,
                                   mp_error *err)
{
    size_t pos = 0;
    char *fields[MANIFEST_FIELDS + 1];
    int header = 1;
    size_t nf;
    while ((nf = csv_next_record(text, len, &pos, fields, MANIFEST_FIELDS + 1)) > 0) {
        if (header) {
            header = 0;
            continue;
        }
        if (nf != MANIFEST_FIELDS) continue;
        if (prev->n_rows == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            previous_row_t *grown = realloc(prev->rows, *cap * sizeof *grown);
            if (!grown) return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
            prev->rows = grown;
        }
        previous_row_t *r = &prev->rows[prev->n_rows];
        memset(r, 0, sizeof *r);
        for (int f = 0; f < MANIFEST_FIELDS; f++)
            if (!(r->fields[f] = strdup(fields[f]))) {
                row_free(r);
                return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
            }
        prev->n_rows++;
    }
    return MP_OK;
}

mp_status previous_run_load(const char *out_dir, previous_run_t *prev, mp_error *err)
{
    static const char *const manifests[] = {"manifest.csv", "manifest.csv.partial"};
    return previous_run_load_files(out_dir, "run.json", manifests, 2, prev, err);
}

mp_status previous_run_load_files(const char *out_dir, const char *run_json, const char *const *manifests,
                                  size_t n_manifests, previous_run_t *prev, mp_error *err)
{
    memset(prev, 0, sizeof *prev);
    char path[4096];
    size_t len = 0, cap = 0;
    int missing;
    snprintf(path, sizeof path, "%s/%s", out_dir, run_json);
    char *text = read_text(path, &len, &missing, err);
    if (!text && !missing) return err ? err->code : MP_ERR_IO;
    if (text) {
        prev->found = prev->has_run_json = 1;
        json_string_field(text, "fingerprint", prev->fingerprint, sizeof prev->fingerprint);
        json_string_field(text, "state", prev->state, sizeof prev->state);
        free(text);
    }
    /* In the order given: later files are newer (a .partial after its manifest). */
    for (size_t i = 0; i < n_manifests; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, manifests[i]);
        text = read_text(path, &len, &missing, err);
        if (!text) {
            if (missing) continue;
            previous_run_free(prev);
            return err ? err->code : MP_ERR_IO;
        }
        prev->found = 1;
        mp_status st = add_manifest_rows(prev, text, len, &cap, path, err);
        free(text);
        if (st != MP_OK) {
            previous_run_free(prev);
            return st;
        }
    }
    if (prev->n_rows == 0) return MP_OK;
    /* Sort by series, rows read later after earlier ones, then keep the last row of each
     * series: the newest word on it. */
    for (size_t i = 0; i < prev->n_rows; i++) prev->rows[i].order = i;
    qsort(prev->rows, prev->n_rows, sizeof *prev->rows, row_compare_then_order);
    size_t m = 0;
    for (size_t i = 0; i < prev->n_rows; i++) {
        if (i + 1 < prev->n_rows && row_compare(&prev->rows[i], &prev->rows[i + 1]) == 0) {
            row_free(&prev->rows[i]);
            continue;
        }
        prev->rows[m++] = prev->rows[i];
    }
    prev->n_rows = m;
    return MP_OK;
}

const previous_row_t *previous_run_find(const previous_run_t *prev, const char *split, const char *id,
                                        const char *modality)
{
    if (!prev->n_rows) return NULL;
    previous_row_t key;
    memset(&key, 0, sizeof key);
    key.fields[0] = (char *)(uintptr_t)split; /* only read */
    key.fields[1] = (char *)(uintptr_t)id;
    key.fields[2] = (char *)(uintptr_t)modality;
    return bsearch(&key, prev->rows, prev->n_rows, sizeof *prev->rows, row_compare);
}

void previous_run_free(previous_run_t *prev)
{
    if (!prev) return;
    for (size_t i = 0; i < prev->n_rows; i++) row_free(&prev->rows[i]);
    free(prev->rows);
    memset(prev, 0, sizeof *prev);
}

/* ".<name>.tmp.<digits>", with <name> starting with `prefix` when one is given */
static int is_temporary_name(const char *name, const char *prefix)
{
    if (name[0] != '.') return 0;
    if (prefix && strncmp(name + 1, prefix, strlen(prefix)) != 0) return 0;
    const char *tmp = strstr(name + 1, ".tmp.");
    if (!tmp || tmp == name + 1) return 0;
    const char *digits = tmp + 5;
    if (!*digits) return 0;
    for (const char *c = digits; *c; c++)
        if (!isdigit((unsigned char)*c)) return 0;
    return 1;
}

size_t remove_temporary_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temporary_name(e->d_name, prefix)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}
