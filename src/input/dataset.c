/* dataset.c - the walk stage (see include/mriprep/dataset.h). */
#include "mriprep/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int has_dcm_extension(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".dcm") == 0;
}

/* The last run of digits in `s`: *start and *len, leading zeros skipped (a run of zeros
 * keeps one). Returns 0 when `s` has no digit. */
static int last_number(const char *s, const char **start, size_t *len)
{
    const char *end = NULL, *p;
    for (p = s; *p; p++)
        if (isdigit((unsigned char)*p)) end = p + 1;
    if (!end) return 0;
    const char *b = end;
    while (b > s && isdigit((unsigned char)b[-1])) b--;
    while (b + 1 < end && *b == '0') b++;
    *start = b;
    *len = (size_t)(end - b);
    return 1;
}

int natural_name_compare(const char *a, const char *b)
{
    const char *na, *nb;
    size_t la, lb;
    int ha = last_number(a, &na, &la), hb = last_number(b, &nb, &lb);
    if (ha != hb) return ha ? -1 : 1;
    if (ha) {
        /* Numbers of any length: the longer (without leading zeros) is larger. */
        if (la != lb) return la < lb ? -1 : 1;
        int c = memcmp(na, nb, la);
        if (c) return c;
    }
    return strcmp(a, b);
}

static int compare_names(const void *a, const void *b)
{
    return natural_name_compare(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

enum { ENTRY_OTHER = 0, ENTRY_DANGLING = 1 };

/* What a folder entry is, from d_type when the file system gives it, else from stat()
 * (which follows links: a link to a file counts as that file). Returns -1 when out of
 * memory, ENTRY_DANGLING for a link whose target does not exist, else ENTRY_OTHER. */
static int entry_kind(const char *dir, const struct dirent *e, int *is_regular, int *is_folder)
{
    *is_regular = *is_folder = 0;
#ifdef DT_REG
    if (e->d_type == DT_REG) return *is_regular = 1, ENTRY_OTHER;
    if (e->d_type == DT_DIR) return *is_folder = 1, ENTRY_OTHER;
    if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK) return ENTRY_OTHER;
#endif
    char *path = path_join(dir, e->d_name);
    if (!path) return -1;
    struct stat st;
    int kind = ENTRY_OTHER;
    if (stat(path, &st) == 0) {
        *is_regular = S_ISREG(st.st_mode);
        *is_folder = S_ISDIR(st.st_mode);
    } else if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        kind = ENTRY_DANGLING;
    }
    free(path);
    return kind;
}

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list_t;

static int name_list_push(name_list_t *l, char *owned)
{
    if (!owned) return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (!grown) {
            free(owned);
            return -1;
        }
        l->names = grown;
        l->cap = cap;
    }
    l->names[l->n++] = owned;
    return 0;
}

static void name_list_free(name_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* Lists `dir`: with want_folders, the names of its subfolders (hidden ones skipped);
 * otherwise the full paths of its .dcm files, and in `others` (when not NULL) the names
 * of its other regular files. Sorted in natural order. */
static mp_status list_folder(const char *dir, int want_folders, name_list_t *out, name_list_t *others,
                             mp_error *err)
{
    memset(out, 0, sizeof *out);
    if (others) memset(others, 0, sizeof *others);
    DIR *d = opendir(dir);
    if (!d) return mp_fail(err, MP_ERR_IO, "%s: cannot list folder: %s", dir, strerror(errno));
    struct dirent *e;
    mp_status st = MP_OK;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        int regular, folder, kind = entry_kind(dir, e, &regular, &folder);
        if (kind < 0) {
            st = mp_fail(err, MP_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        int pushed = 0;
        if (want_folders) {
            if (folder && e->d_name[0] != '.') pushed = name_list_push(out, strdup(e->d_name)) == 0 ? 1 : -1;
        } else if (has_dcm_extension(e->d_name) && !folder) {
            /* Anything named .dcm that is not a folder stays in the series: a dangling link,
             * a FIFO or a device fails to decode ("not a regular file (a FIFO)", opened
             * without blocking) and the series is reported failed, rather than silently
             * having a hole. */
            pushed = name_list_push(out, strdup(e->d_name)) == 0 ? 1 : -1;
        } else if (regular && others) {
            pushed = name_list_push(others, strdup(e->d_name)) == 0 ? 1 : -1;
        }
        if (pushed < 0) {
            st = mp_fail(err, MP_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        errno = 0;
    }
    if (st == MP_OK && errno != 0) st = mp_fail(err, MP_ERR_IO, "%s: error listing folder: %s", dir, strerror(errno));
    closedir(d);
    if (st != MP_OK) {
        name_list_free(out);
        if (others) name_list_free(others);
        return st;
    }
    if (out->n > 1) qsort(out->names, out->n, sizeof *out->names, compare_names);
    if (others && others->n > 1) qsort(others->names, others->n, sizeof *others->names, compare_names);
    if (!want_folders) { /* names -> full paths, after sorting by name */
        for (size_t i = 0; i < out->n; i++) {
            char *full = path_join(dir, out->names[i]);
            if (!full) {
                name_list_free(out);
                if (others) name_list_free(others);
                return mp_fail(err, MP_ERR_NOMEM, "out of memory listing %s", dir);
            }
            free(out->names[i]);
            out->names[i] = full;
        }
    }
    return MP_OK;
}

static int is_excluded(const dataset_options_t *opt, const char *patient)
{
    char a[256], b[256];
    label_normalise_id(patient, a, sizeof a);
    for (size_t i = 0; i < opt->n_exclude; i++)
        if (!strcmp(a, label_normalise_id(opt->exclude[i], b, sizeof b))) return 1;
    return 0;
}

static mp_status push_series(dataset_t *ds, size_t *cap, const series_t *s, mp_error *err)
{
    if (ds->n_series == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        series_t *grown = realloc(ds->series, grown_cap * sizeof *grown);
        if (!grown) return mp_fail(err, MP_ERR_NOMEM, "out of memory walking the dataset");
        ds->series = grown;
        *cap = grown_cap;
    }
    ds->series[ds->n_series++] = *s;
    return MP_OK;
}

static void series_free(series_t *s)
{
    free(s->patient);
    free(s->dir);
    free(s->problem);
    for (size_t i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    for (size_t i = 0; i < s->n_other; i++) free(s->other_files[i]);
    free(s->other_files);
}

/* Adds the rows of one patient folder: one per requested modality. */
static mp_status walk_patient(const char *split, const char *patient_dir, const char *patient,
                              const dataset_options_t *opt, dataset_t *ds, size_t *cap, mp_error *err)
{
    int excluded = is_excluded(opt, patient);
    const char *label = "";
    if (opt->labels && strcmp(split, "test") != 0) {
        label_entry_t *e = labels_find(opt->labels, patient);
        if (e) {
            e->matched = 1;
            label = e->value;
        } else if (!excluded) {
            ds->n_images_without_label++;
        }
    }
    for (size_t m = 0; m < opt->n_modalities; m++) {
        series_t s;
        memset(&s, 0, sizeof s);
        s.split = split;
        s.modality = opt->modalities[m];
        s.label = label;
        s.patient = strdup(patient);
        s.dir = path_join(patient_dir, opt->modalities[m]);
        if (!s.patient || !s.dir) {
            series_free(&s);
            return mp_fail(err, MP_ERR_NOMEM, "out of memory walking %s", patient_dir);
        }
        if (excluded) {
            s.presence = SERIES_EXCLUDED;
        } else if (!is_dir(s.dir)) {
            s.presence = SERIES_NO_FOLDER;
        } else {
            name_list_t files, others;
            mp_error list_err;
            mp_error_clear(&list_err);
            mp_status st = list_folder(s.dir, 0, &files, &others, &list_err);
            if (st == MP_ERR_NOMEM) {
                *err = list_err;
                series_free(&s);
                return st;
            }
            if (st != MP_OK) {
                s.presence = SERIES_UNREADABLE;
                s.problem = strdup(list_err.msg);
                files.names = others.names = NULL;
                files.n = others.n = 0;
            }
            s.files = files.names;
            s.n_files = files.n;
            s.other_files = others.names;
            s.n_other = others.n;
            if (st == MP_OK) s.presence = files.n ? SERIES_PRESENT : SERIES_NO_DCM;
            ds->n_files += files.n;
        }
        mp_status st = push_series(ds, cap, &s, err);
        if (st != MP_OK) {
            series_free(&s);
            return st;
        }
    }
    return MP_OK;
}

mp_status dataset_walk(const char *root, const dataset_options_t *opt, dataset_t *ds, mp_error *err)
{
    memset(ds, 0, sizeof *ds);
    struct stat st_root;
    if (stat(root, &st_root) != 0) return mp_fail(err, MP_ERR_IO, "%s: %s", root, strerror(errno));
    if (!S_ISDIR(st_root.st_mode)) return mp_fail(err, MP_ERR_IO, "%s: not a folder", root);

    static const char *const split_names[] = {"train", "test"};
    const char *splits[2];
    char *split_dirs[2] = {NULL, NULL};
    size_t n_splits = 0;
    for (size_t i = 0; i < 2; i++) {
        char *dir = path_join(root, split_names[i]);
        if (!dir) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
        if (is_dir(dir)) {
            splits[n_splits] = split_names[i];
            split_dirs[n_splits++] = dir;
        } else {
            free(dir);
        }
    }
    if (n_splits == 0) { /* flat layout: the patients are DATA's own subfolders */
        splits[0] = "";
        split_dirs[0] = strdup(root);
        if (!split_dirs[0]) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
        n_splits = 1;
    }
    ds->splits_text = strdup(n_splits == 2 ? "train,test" : splits[0][0] ? splits[0] : ".");

    mp_status st = ds->splits_text ? MP_OK : mp_fail(err, MP_ERR_NOMEM, "out of memory");
    if (opt->labels) /* a table may serve several walks: count matches afresh */
        for (size_t i = 0; i < opt->labels->n; i++) opt->labels->entries[i].matched = 0;
    size_t cap = 0;
    for (size_t s = 0; s < n_splits && st == MP_OK; s++) {
        name_list_t patients;
        st = list_folder(split_dirs[s], 1, &patients, NULL, err);
        for (size_t i = 0; i < patients.n && st == MP_OK; i++) {
            char *patient_dir = path_join(split_dirs[s], patients.names[i]);
            if (!patient_dir) {
                st = mp_fail(err, MP_ERR_NOMEM, "out of memory");
                break;
            }
            ds->n_patients++;
            st = walk_patient(splits[s], patient_dir, patients.names[i], opt, ds, &cap, err);
            free(patient_dir);
        }
        name_list_free(&patients);
    }
    for (size_t s = 0; s < n_splits; s++) free(split_dirs[s]);
    if (st != MP_OK) {
        dataset_free(ds);
        return st;
    }
    if (opt->labels)
        for (size_t i = 0; i < opt->labels->n; i++)
            if (!opt->labels->entries[i].matched) ds->n_labels_without_images++;
    return MP_OK;
}

void dataset_free(dataset_t *ds)
{
    if (!ds) return;
    for (size_t i = 0; i < ds->n_series; i++) series_free(&ds->series[i]);
    free(ds->series);
    free(ds->splits_text);
    memset(ds, 0, sizeof *ds);
}

mp_status dataset_list_series(const char *dir, series_files_t *out, mp_error *err)
{
    memset(out, 0, sizeof *out);
    name_list_t files, others;
    mp_status st = list_folder(dir, 0, &files, &others, err);
    if (st != MP_OK) return st;
    out->files = files.names;
    out->n_files = files.n;
    out->other_files = others.names;
    out->n_other = others.n;
    return MP_OK;
}

void series_files_free(series_files_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n_files; i++) free(l->files[i]);
    for (size_t i = 0; i < l->n_other; i++) free(l->other_files[i]);
    free(l->files);
    free(l->other_files);
    memset(l, 0, sizeof *l);
}

mp_status dataset_check_modalities(const char *const *names, size_t n, mp_error *err)
{
    if (n == 0 || n > DATASET_MAX_MODALITIES)
        return mp_fail(err, MP_ERR_USAGE, "--modalities: give 1 to %d modality folders (%zu given)",
                       DATASET_MAX_MODALITIES, n);
    for (size_t i = 0; i < n; i++) {
        const char *s = names[i];
        if (!s || !s[0] || !strcmp(s, ".") || !strcmp(s, "..") || strchr(s, '/') || strchr(s, '\\'))
            return mp_fail(err, MP_ERR_USAGE, "--modalities: '%.200s' is not a plain folder name", s ? s : "(null)");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s, names[k])) return mp_fail(err, MP_ERR_USAGE, "--modalities: '%.200s' is listed twice", s);
    }
    return MP_OK;
}

void series_name(const series_t *s, const char *suffix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s/%s%s", s->split, s->split[0] ? "/" : "", s->patient, s->modality, suffix);
}

int series_starts_patient(const dataset_t *ds, size_t i)
{
    const series_t *s = &ds->series[i];
    return i == 0 || ds->series[i - 1].split != s->split || strcmp(ds->series[i - 1].patient, s->patient) != 0;
}
