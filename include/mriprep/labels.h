/* labels.h - the labels CSV (train_labels.csv: BraTS21ID,MGMT_value).
 *
 * Read as real files come: UTF-8 BOM or not, CRLF or LF, quoted fields, IDs written
 * `00109` or `109` (an ID of digits only is compared as a number, so both match the
 * folder 00109). A duplicate ID with the same label is ignored; with a different label
 * it is a conflict: the label is left blank and a warning recorded.
 */
#ifndef MRIPREP_LABELS_H
#define MRIPREP_LABELS_H

#include <stddef.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct label_entry {
    char *id;        /* normalised: digits without leading zeros ("0" for zero), else as written */
    char *value;     /* as written, trimmed; "" after a conflict */
    int conflict;    /* 1: the ID appeared with different labels */
    int matched;     /* set by the walk when a train patient folder has this ID */
} label_entry_t;

/* A bad million-row file must not become a million log lines. */
#define LABELS_MAX_WARNINGS 20

typedef struct label_table {
    label_entry_t *entries; /* sorted by id */
    size_t n;
    size_t rows;            /* data rows read */
    size_t duplicates;      /* repeated IDs with the same label */
    size_t conflicts;       /* IDs with different labels */
    char **warnings;        /* [n_warnings] one line each, for the log: the first
                               LABELS_MAX_WARNINGS, then one line counting the rest */
    size_t n_warnings;
    size_t warnings_dropped; /* warnings past LABELS_MAX_WARNINGS, counted, not kept */
} label_table_t;

/* Normalises an ID into buf: digits-only IDs lose leading zeros, anything else is
 * trimmed of spaces. Returns buf. */
char *label_normalise_id(const char *id, char *buf, size_t cap);

/* Reads `path`. The ID and label columns are found by header name (BraTS21ID and
 * MGMT_value, any case), else the first two columns are used, with a first row whose
 * ID is not numeric taken as a header. Garbage rows never stop a run: a row without an
 * ID or a label, with an ID that is not a number, a label other than 0 or 1, or another
 * number of fields than the header is skipped with a warning naming the file and line;
 * a file with no usable row gives an empty table and a warning. Returns MP_OK,
 * MP_ERR_IO (cannot read; message names the file), MP_ERR_LIMIT (over 256 MiB) or
 * MP_ERR_NOMEM. */
mp_status labels_load(const char *path, label_table_t *table, mp_error *err);

/* The entry for `id` (any spelling), or NULL. */
label_entry_t *labels_find(const label_table_t *table, const char *id);

void labels_free(label_table_t *table);

/* The labels a dataset command uses: `explicit_path` (--labels) when given, else
 * DATA/train_labels.csv when it exists, else none (MP_OK with an empty table and
 * used = ""). `used` gets the file read. A labels file that cannot be read is an error
 * at MP_PLACE_LABELS ("labels: <file>: <problem>"; exit 1): a file the user named or
 * placed, which a run must not silently ignore; bad rows inside it are warnings
 * (labels_load). */
mp_status labels_load_for_dataset(const char *data_dir, const char *explicit_path, label_table_t *table, char *used,
                                  size_t used_cap, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_LABELS_H */
