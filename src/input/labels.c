/* labels.c - the labels CSV (see include/mriprep/labels.h). */
#include "mriprep/labels.h"

#include "mriprep/csv.h"
#include "mriprep/fs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define LABELS_MAX_BYTES (256u << 20) /* a labels file is a few kB; refuse absurd ones */
#define CSV_MAX_FIELDS 64

char *label_normalise_id(const char *id, char *buf, size_t cap)
{
    while (*id == ' ' || *id == '\t') id++;
    size_t n = strlen(id);
    while (n > 0 && (id[n - 1] == ' ' || id[n - 1] == '\t')) n--;
    int digits = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)id[i])) digits = 0;
    if (digits) {
        while (n > 1 && *id == '0') {
            id++;
            n--;
        }
    }
    if (cap == 0) return buf;
    if (n >= cap) n = cap - 1;
    memcpy(buf, id, n);
    buf[n] = '\0';
    return buf;
}

#define LABEL_ID_MAX 64 /* longer IDs are garbage: no folder is named like that */

/* Digits only (spaces around allowed), at most LABEL_ID_MAX of them: judged on the whole
 * field, whatever its length. */
static int is_number(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = 0;
    while (isdigit((unsigned char)s[n])) n++;
    if (n == 0 || n > LABEL_ID_MAX) return 0;
    for (const char *c = s + n; *c; c++)
        if (*c != ' ' && *c != '\t') return 0;
    return 1;
}

static void trim_in_place(char **s)
{
    char *b = *s;
    while (*b == ' ' || *b == '\t') b++;
    size_t n = strlen(b);
    while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t')) b[--n] = '\0';
    *s = b;
}

/* Entries sort by ID, then by the line they came from, so duplicates are adjacent and
 * the first one written wins. */
static int entry_compare(const void *a, const void *b)
{
    return strcmp(((const label_entry_t *)a)->id, ((const label_entry_t *)b)->id);
}

typedef struct label_row {
    label_entry_t entry;
    size_t line;
} label_row_t;

static int row_compare(const void *a, const void *b)
{
    const label_row_t *x = a, *y = b;
    int c = strcmp(x->entry.id, y->entry.id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Warnings are advice for the log: one lost to a failed allocation is not an error.
 * Past LABELS_MAX_WARNINGS they are only counted (labels_load adds one line for them). */
static void keep_warning(label_table_t *t, const char *msg)
{
    char **grown = realloc(t->warnings, (t->n_warnings + 1) * sizeof *grown);
    if (!grown) return;
    t->warnings = grown;
    if ((t->warnings[t->n_warnings] = strdup(msg))) t->n_warnings++;
}

static void push_warning(label_table_t *t, const char *msg)
{
    if (t->n_warnings < LABELS_MAX_WARNINGS) keep_warning(t, msg);
    else t->warnings_dropped++;
}

/* Merges rows with the same ID (sorted by row_compare) into t->entries, which has room
 * for n_rows; strings move into the table or are freed. */
static void merge_rows(label_table_t *t, label_row_t *rows, size_t n_rows, const char *path)
{
    for (size_t i = 0; i < n_rows; i++) {
        label_entry_t *last = t->n ? &t->entries[t->n - 1] : NULL;
        if (!last || strcmp(last->id, rows[i].entry.id) != 0) {
            t->entries[t->n++] = rows[i].entry;
            continue;
        }
        if (last->conflict || !strcmp(last->value, rows[i].entry.value)) {
            t->duplicates += !last->conflict;
        } else {
            char msg[600];
            snprintf(msg, sizeof msg, "%s:%zu: ID %.40s has conflicting labels '%.40s' and '%.40s': label left blank",
                     path, rows[i].line, last->id, last->value, rows[i].entry.value);
            push_warning(t, msg);
            last->conflict = 1;
            last->value[0] = '\0';
            t->conflicts++;
        }
        free(rows[i].entry.id);
        free(rows[i].entry.value);
    }
}

mp_status labels_load(const char *path, label_table_t *t, mp_error *err)
{
    memset(t, 0, sizeof *t);
    size_t len = 0;
    char *text = text_read(path, LABELS_MAX_BYTES, &len, NULL, err);
    if (!text) return err ? err->code : MP_ERR_IO;
    mp_status st = MP_OK;

    label_row_t *rows = NULL;
    size_t n_rows = 0, cap = 0, pos = 0, line = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) pos = 3; /* UTF-8 BOM */
    /* UTF-16 (Excel's "Unicode text") would parse as no rows at all: say so instead. */
    const int utf16_bom = len >= 2 && (((unsigned char)text[0] == 0xFF && (unsigned char)text[1] == 0xFE) ||
                                       ((unsigned char)text[0] == 0xFE && (unsigned char)text[1] == 0xFF));
    if (utf16_bom || memchr(text, '\0', len)) {
        free(text);
        return mp_at(err, MP_PLACE_LABELS,
                     mp_fail(err, MP_ERR_FORMAT, "%s: not UTF-8 or ASCII text (%s): save it as CSV in UTF-8", path,
                             utf16_bom ? "a UTF-16 byte-order mark" : "it holds NUL bytes: UTF-16?"));
    }
    int id_col = -1, label_col = -1, first = 1;
    size_t header_fields = 0; /* fields of the header row; 0: no header */
    char *fields[CSV_MAX_FIELDS];
    size_t nf;
    /* The parser writes NULs over separators, so line numbers for warnings are counted
     * on an untouched copy (quoted fields may span lines). */
    char *raw = malloc(len + 1);
    if (!raw) st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
    else memcpy(raw, text, len + 1);
    size_t next_line = 1;
    while (st == MP_OK && pos < len) {
        size_t start = pos;
        line = next_line;
        nf = csv_next_record(text, len, &pos, fields, CSV_MAX_FIELDS);
        if (nf == 0) break;
        for (size_t k = start; k < pos; k++)
            next_line += raw[k] == '\n' || (raw[k] == '\r' && (k + 1 >= len || raw[k + 1] != '\n'));
        for (size_t i = 0; i < nf; i++) trim_in_place(&fields[i]);
        if (nf == 1 && fields[0][0] == '\0') continue; /* blank line */
        if (first) {
            first = 0;
            for (size_t i = 0; i < nf; i++) {
                if (!strcasecmp(fields[i], "BraTS21ID")) id_col = (int)i;
                if (!strcasecmp(fields[i], "MGMT_value")) label_col = (int)i;
            }
            int named = id_col >= 0 && label_col >= 0;
            if (!named) {
                id_col = 0;
                label_col = 1;
            }
            if (named || !is_number(fields[0])) { /* a header row: later rows must match its width */
                header_fields = nf;
                continue;
            }
        }
        /* Garbage rows are advice, never a reason to stop: each is a warning naming the
         * line, and the row is skipped. */
        char why[160] = "";
        if (header_fields && nf != header_fields)
            snprintf(why, sizeof why, "%zu fields, the header has %zu", nf, header_fields);
        else if ((size_t)id_col >= nf || (size_t)label_col >= nf || fields[id_col][0] == '\0' ||
                 fields[label_col][0] == '\0')
            snprintf(why, sizeof why, "no ID or no label");
        else if (!is_number(fields[id_col]))
            snprintf(why, sizeof why, "ID '%.40s%s' is not a number of at most %d digits", fields[id_col],
                     strlen(fields[id_col]) > 40 ? "..." : "", LABEL_ID_MAX);
        else if (strcmp(fields[label_col], "0") && strcmp(fields[label_col], "1"))
            snprintf(why, sizeof why, "label '%.40s' is not 0 or 1", fields[label_col]);
        if (why[0]) {
            char msg[800];
            snprintf(msg, sizeof msg, "%s:%zu: row skipped (%s)", path, line, why);
            push_warning(t, msg);
            continue;
        }
        if (n_rows == cap) {
            cap = cap ? cap * 2 : 1024;
            label_row_t *grown = realloc(rows, cap * sizeof *grown);
            if (!grown) {
                st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            rows = grown;
        }
        char id[256];
        label_row_t *r = &rows[n_rows];
        memset(r, 0, sizeof *r);
        r->line = line;
        r->entry.id = strdup(label_normalise_id(fields[id_col], id, sizeof id));
        r->entry.value = strdup(fields[label_col]);
        n_rows++;
        if (!r->entry.id || !r->entry.value) st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
    }
    free(text);
    free(raw);
    t->rows = n_rows;
    if (st == MP_OK && !(t->entries = malloc((n_rows ? n_rows : 1) * sizeof *t->entries)))
        st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
    if (st == MP_OK) {
        if (n_rows > 1) qsort(rows, n_rows, sizeof *rows, row_compare);
        merge_rows(t, rows, n_rows, path);
    } else {
        for (size_t i = 0; i < n_rows; i++) {
            free(rows[i].entry.id);
            free(rows[i].entry.value);
        }
    }
    free(rows);
    if (st == MP_OK && t->n == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: no usable label rows (expected BraTS21ID,MGMT_value with labels 0 or 1): "
                 "labels left blank", path);
        keep_warning(t, msg); /* the one that matters most: always shown */
    }
    if (st == MP_OK && t->warnings_dropped) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %zu more warnings like these not shown", path, t->warnings_dropped);
        keep_warning(t, msg);
    }
    if (st != MP_OK) labels_free(t);
    return st;
}

label_entry_t *labels_find(const label_table_t *t, const char *id)
{
    if (!t || t->n == 0) return NULL;
    char key[256];
    label_entry_t probe;
    probe.id = label_normalise_id(id, key, sizeof key);
    return bsearch(&probe, t->entries, t->n, sizeof *t->entries, entry_compare);
}

void labels_free(label_table_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].id);
        free(t->entries[i].value);
    }
    for (size_t i = 0; i < t->n_warnings; i++) free(t->warnings[i]);
    free(t->entries);
    free(t->warnings);
    memset(t, 0, sizeof *t);
}

mp_status labels_load_for_dataset(const char *data_dir, const char *explicit_path, label_table_t *table, char *used,
                                  size_t used_cap, mp_error *err)
{
    memset(table, 0, sizeof *table);
    if (used_cap) used[0] = '\0';
    char default_path[4096];
    const char *path = explicit_path;
    if (!path) {
        snprintf(default_path, sizeof default_path, "%s/train_labels.csv", data_dir);
        struct stat st;
        if (stat(default_path, &st) != 0) return MP_OK; /* no labels: the label column stays blank */
        path = default_path;
    }
    mp_error lerr;
    mp_error_clear(&lerr);
    mp_status st = labels_load(path, table, &lerr);
    if (st != MP_OK) return mp_at(err, MP_PLACE_LABELS, mp_fail(err, st, "labels: %s", lerr.msg));
    if (used_cap) snprintf(used, used_cap, "%s", path);
    return MP_OK;
}
