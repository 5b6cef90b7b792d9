/* fuzz_labels.c - libFuzzer target for the labels CSV (src/input/labels.c) and
 * label_normalise_id().
 *
 * Each input is written to train_labels.csv in this process's folder (fuzz_util.h) and
 * loaded with labels_load(); the same bytes, as a NUL-terminated string, go through
 * label_normalise_id() with several buffer sizes. Which rows count as garbage (and
 * become warnings) is labels.c's business and changes; this target checks only what
 * must hold whatever the rules are:
 *   - labels_load returns MP_OK, or an error whose message names the file;
 *   - on MP_OK: n <= rows, entries sorted by id (strcmp), every id non-empty, every
 *     value non-NULL, labels_find(table, id) finds that very entry (so ids are unique),
 *     every warning a non-empty string; labels_free leaves the table empty;
 *   - on an error: the table is empty (nothing to free, nothing leaked);
 *   - label_normalise_id: the result fits the buffer, is a piece of the input with no
 *     leading space or tab, and, when it was not cut to fit, has no trailing space or
 *     tab, has no leading zero when it is all digits (other than "0"), and is its own
 *     normal form.
 * Leaks are LeakSanitizer's (libFuzzer checks after every input).
 */
#include "mriprep/labels.h"

#include "fuzz_util.h"

#include <ctype.h>

static const char *input_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_make_dir("labels");
    input_path = fuzz_path("train_labels.csv");
    return 0;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static void check_normalise(const char *text, size_t cap)
{
    /* One byte past cap is a canary: the function must write within [0, cap). */
    char buf[512 + 1];
    memset(buf, 0x5A, sizeof buf);
    const char *out = label_normalise_id(text, buf, cap);
    FUZZ_CHECK(out == buf, "label_normalise_id did not return its buffer");
    FUZZ_CHECK(buf[cap] == 0x5A, "label_normalise_id wrote past its %zu-byte buffer", cap);
    if (cap == 0) return;
    const char *nul = memchr(buf, '\0', cap);
    FUZZ_CHECK(nul != NULL, "label_normalise_id left no NUL in its %zu-byte buffer", cap);
    const size_t n = (size_t)(nul - buf);
    FUZZ_CHECK(n == 0 || strstr(text, buf) != NULL, "label_normalise_id gave '%s', not a piece of the input", buf);
    FUZZ_CHECK(n == 0 || (buf[0] != ' ' && buf[0] != '\t'), "label_normalise_id kept a leading blank: '%s'", buf);
    if (n + 1 >= cap) return; /* cut to fit: the rest of the promises are for whole ids */
    FUZZ_CHECK(n == 0 || (buf[n - 1] != ' ' && buf[n - 1] != '\t'), "label_normalise_id kept a trailing blank: '%s'",
               buf);
    FUZZ_CHECK(!all_digits(buf) || buf[0] != '0' || n == 1, "label_normalise_id kept a leading zero: '%s'", buf);
    char again[512];
    label_normalise_id(buf, again, cap);
    FUZZ_CHECK(strcmp(again, buf) == 0, "label_normalise_id is not idempotent: '%s' -> '%s'", buf, again);
}

static void check_table(const label_table_t *t)
{
    FUZZ_CHECK(t->n <= t->rows, "%zu entries from %zu rows", t->n, t->rows);
    FUZZ_CHECK(t->n == 0 || t->entries != NULL, "%zu entries and no array", t->n);
    for (size_t i = 0; i < t->n; i++) {
        const label_entry_t *e = &t->entries[i];
        FUZZ_CHECK(e->id != NULL && e->id[0] != '\0', "entry %zu has no id", i);
        FUZZ_CHECK(e->value != NULL, "entry %zu (id '%s') has no value", i, e->id);
        FUZZ_CHECK(i == 0 || strcmp(t->entries[i - 1].id, e->id) <= 0, "entries %zu and %zu out of order: '%s' > '%s'",
                   i - 1, i, t->entries[i - 1].id, e->id);
        const label_entry_t *found = labels_find(t, e->id);
        FUZZ_CHECK(found == e, "labels_find('%s') gave %s, not entry %zu", e->id,
                   found ? found->id : "nothing", i);
    }
    FUZZ_CHECK(t->n_warnings == 0 || t->warnings != NULL, "%zu warnings and no array", t->n_warnings);
    for (size_t i = 0; i < t->n_warnings; i++)
        FUZZ_CHECK(t->warnings[i] != NULL && t->warnings[i][0] != '\0', "warning %zu is empty", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write_file(input_path, data, size);
    label_table_t table;
    mp_error err;
    mp_error_clear(&err);
    const mp_status st = labels_load(input_path, &table, &err);
    if (st == MP_OK) {
        check_table(&table);
    } else {
        FUZZ_CHECK(err.code == st, "labels_load returned %s but err.code is %s", mp_status_name(st),
                   mp_status_name(err.code));
        FUZZ_CHECK(strstr(err.msg, input_path) != NULL, "labels_load returned %s: '%s' does not name the file",
                   mp_status_name(st), err.msg);
        FUZZ_CHECK(table.n == 0 && table.entries == NULL && table.n_warnings == 0 && table.warnings == NULL,
                   "labels_load returned %s and left a table behind", mp_status_name(st));
    }
    labels_free(&table);
    FUZZ_CHECK(table.n == 0 && table.entries == NULL && table.warnings == NULL, "labels_free left the table set");

    /* The raw input as one string (up to its first NUL), as an ID would reach the
     * function from a folder name or a --exclude list. */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    static const size_t caps[] = {0, 1, 2, 3, 8, 256, 512};
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) check_normalise(text, caps[i]);
    free(text);
    return 0;
}
