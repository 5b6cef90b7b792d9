/* shard.c - see include/mriprep/shard.h. */
#include "mriprep/shard.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mriprep/features.h"
#include "mriprep/json.h"
#include "mriprep/resume.h"
#include "mriprep/writer.h"

/* ---- partition --------------------------------------------------------------------- */

/* The work of a series: its .dcm files (0 for series that are not decoded). */
static size_t series_weight(const series_t *s)
{
    return s->presence == SERIES_PRESENT ? s->n_files : 0;
}

typedef struct weighted {
    size_t weight, index;
} weighted_t;

static int heavier_first(const void *a, const void *b)
{
    const weighted_t *x = a, *y = b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* A binary min-heap of shards keyed by (load, shard index). */
typedef struct shard_load {
    size_t load;
    int shard;
} shard_load_t;

static int lighter(const shard_load_t *a, const shard_load_t *b)
{
    return a->load != b->load ? a->load < b->load : a->shard < b->shard;
}

static void sift_down(shard_load_t *heap, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && lighter(&heap[l], &heap[m])) m = l;
        if (r < n && lighter(&heap[r], &heap[m])) m = r;
        if (m == i) return;
        shard_load_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

mp_status shard_assign(const dataset_t *ds, int n, int *shard_of, mp_error *err)
{
    if (n < 1 || n > SHARD_MAX) return mp_fail(err, MP_ERR_USAGE, "shard count %d: expected 1..%d", n, SHARD_MAX);
    weighted_t *order = malloc((ds->n_series ? ds->n_series : 1) * sizeof *order);
    shard_load_t *heap = malloc((size_t)n * sizeof *heap);
    if (!order || !heap) {
        free(order);
        free(heap);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    size_t weighted = 0, round_robin = 0;
    for (size_t i = 0; i < ds->n_series; i++) {
        size_t w = series_weight(&ds->series[i]);
        if (w) order[weighted++] = (weighted_t){w, i};
        else shard_of[i] = (int)(round_robin++ % (size_t)n);
    }
    /* Longest processing time first: each series, heaviest first, to the least loaded
     * shard. The heap is ordered from the start (all loads 0, shards ascending). */
    qsort(order, weighted, sizeof *order, heavier_first);
    for (int k = 0; k < n; k++) heap[k] = (shard_load_t){0, k};
    for (size_t i = 0; i < weighted; i++) {
        shard_of[order[i].index] = heap[0].shard;
        heap[0].load += order[i].weight;
        sift_down(heap, n, 0);
    }
    free(order);
    free(heap);
    return MP_OK;
}

void shard_record_names(int k, int n, char *manifest, size_t manifest_cap, char *run_json, size_t run_json_cap)
{
    if (n <= 0) {
        snprintf(manifest, manifest_cap, "manifest.csv");
        snprintf(run_json, run_json_cap, "run.json");
    } else {
        snprintf(manifest, manifest_cap, "manifest.%d-of-%d.csv", k, n);
        snprintf(run_json, run_json_cap, "run.%d-of-%d.json", k, n);
    }
}

/* A whole number 0..limit, all of `text`. */
static int parse_count(const char *text, long limit, long *out)
{
    if (!text || !*text) return 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 0 || v > limit || text[0] == '-' || text[0] == '+' || text[0] == ' ') return 0;
    *out = v;
    return 1;
}

int shard_parse(const char *text, int *k, int *n)
{
    const char *slash = strchr(text, '/');
    if (!slash || slash == text || strlen(slash + 1) > 8 || (size_t)(slash - text) > 8) return 0;
    char left[16];
    memcpy(left, text, (size_t)(slash - text));
    left[slash - text] = '\0';
    long kk, nn;
    if (!parse_count(left, SHARD_MAX, &kk) || !parse_count(slash + 1, SHARD_MAX, &nn)) return 0;
    if (nn < 1 || kk >= nn) return 0;
    *k = (int)kk;
    *n = (int)nn;
    return 1;
}

int shard_from_environment(int *k, int *n, char *why, size_t why_cap)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID");
    if (!id || !*id) return 0;
    const char *min_text = getenv("SLURM_ARRAY_TASK_MIN"), *max_text = getenv("SLURM_ARRAY_TASK_MAX"),
               *count_text = getenv("SLURM_ARRAY_TASK_COUNT");
    long task, min = 0, max = 0, count = 0;
    const long big = 100000000;
    if (!parse_count(id, big, &task) || (min_text && *min_text && !parse_count(min_text, big, &min)) ||
        (max_text && *max_text && !parse_count(max_text, big, &max)) ||
        (count_text && *count_text && !parse_count(count_text, big, &count))) {
        snprintf(why, why_cap, "SLURM_ARRAY_TASK_ID=%s, _MIN=%s, _MAX=%s, _COUNT=%s: not whole numbers", id,
                 min_text ? min_text : "", max_text ? max_text : "", count_text ? count_text : "");
        return -1;
    }
    if (!count && max_text && *max_text) count = max - min + 1;
    if (count < 1) {
        snprintf(why, why_cap, "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor _MAX: give --shard K/N");
        return -1;
    }
    long shard = task - min;
    /* Arrays with gaps or steps (--array=0,4,9 or 0-9:2) number their tasks otherwise:
     * the count still holds, the offset does not. Those need --shard. */
    if (shard < 0 || shard >= count || count > SHARD_MAX) {
        snprintf(why, why_cap,
                 "SLURM_ARRAY_TASK_ID=%ld is not task %ld of %ld counted from SLURM_ARRAY_TASK_MIN=%ld (an array "
                 "with gaps or steps?): give --shard K/N",
                 task, shard, count, min);
        return -1;
    }
    if (count < 2) {
        /* `sbatch --array=2` is how one shard of an array is resubmitted: which shard of
         * how many cannot be told from it. */
        snprintf(why, why_cap,
                 "a job array of one task (SLURM_ARRAY_TASK_ID=%ld): give --shard K/N to rerun shard K of N, or "
                 "--shard none for a whole run", task);
        return -1;
    }
    *k = (int)shard;
    *n = (int)count;
    return 1;
}

/* ---- the records in OUT ------------------------------------------------------------- */

typedef struct named {
    char *name;
    int k, n, partial;
} named_t;

static int by_shard(const void *a, const void *b)
{
    const named_t *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    return x->partial - y->partial; /* a manifest before its .partial */
}

/* "manifest.K-of-N.csv" (partial 0), "...csv.partial" (1), "run.K-of-N.json" (2); -1 when
 * the name is none of them. */
static int record_kind(const char *name, int *k, int *n)
{
    int used = 0;
    if (sscanf(name, "manifest.%d-of-%d.csv%n", k, n, &used) == 2 && used > 0) {
        char canonical[96];
        snprintf(canonical, sizeof canonical, "manifest.%d-of-%d.csv", *k, *n);
        if (strncmp(name, canonical, strlen(canonical)) != 0) return -1; /* "manifest.01-of-4.csv" */
        if (!name[used]) return 0;
        if (!strcmp(name + used, ".partial")) return 1;
        return -1;
    }
    used = 0;
    if (sscanf(name, "run.%d-of-%d.json%n", k, n, &used) == 2 && used > 0 && !name[used]) {
        char canonical[96];
        snprintf(canonical, sizeof canonical, "run.%d-of-%d.json", *k, *n);
        return strcmp(name, canonical) ? -1 : 2;
    }
    return -1;
}

static mp_status push_name(named_t **list, size_t *n, size_t *cap, const char *name, int k, int shards, int partial,
                           mp_error *err)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        named_t *grown = realloc(*list, *cap * sizeof *grown);
        if (!grown) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
        *list = grown;
    }
    char *copy = strdup(name);
    if (!copy) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    (*list)[(*n)++] = (named_t){copy, k, shards, partial};
    return MP_OK;
}

/* Sorted names out of `list` (freed). */
static char **names_of(named_t *list, size_t n)
{
    if (n) qsort(list, n, sizeof *list, by_shard);
    char **names = malloc((n ? n : 1) * sizeof *names);
    if (names)
        for (size_t i = 0; i < n; i++) names[i] = list[i].name;
    else
        for (size_t i = 0; i < n; i++) free(list[i].name);
    free(list);
    return names;
}

mp_status shard_records_list(const char *out_dir, char ***manifests, size_t *n_manifests, char ***runs,
                             size_t *n_runs, mp_error *err)
{
    *manifests = *runs = NULL;
    *n_manifests = *n_runs = 0;
    named_t *m = NULL, *r = NULL;
    size_t nm = 0, cm = 0, nr = 0, cr = 0;
    mp_status st = MP_OK;
    DIR *d = opendir(out_dir);
    if (d) {
        struct dirent *e;
        while (st == MP_OK && (e = readdir(d)) != NULL) {
            int k, n, kind = record_kind(e->d_name, &k, &n);
            if (kind < 0 || n < 1 || k < 0 || k >= n) continue;
            if (kind == 2) st = push_name(&r, &nr, &cr, e->d_name, k, n, 0, err);
            else st = push_name(&m, &nm, &cm, e->d_name, k, n, kind, err);
        }
        closedir(d);
    }
    if (st != MP_OK) {
        for (size_t i = 0; i < nm; i++) free(m[i].name);
        for (size_t i = 0; i < nr; i++) free(r[i].name);
        free(m);
        free(r);
        return st;
    }
    *manifests = names_of(m, nm);
    *runs = names_of(r, nr);
    if (!*manifests || !*runs) {
        shard_names_free(*manifests, *manifests ? nm : 0);
        shard_names_free(*runs, *runs ? nr : 0);
        *manifests = *runs = NULL;
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    *n_manifests = nm;
    *n_runs = nr;
    return MP_OK;
}

void shard_names_free(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ---- merge ------------------------------------------------------------------------ */

/* What the shard records agree on. */
typedef struct shard_records {
    int n;                  /* N */
    char data[4096];        /* DATA, absolute */
    char modalities[4096];  /* "FLAIR,T1w,T1wCE,T2w" */
    char fingerprint[512];
    char first[64];         /* name of the first record, for messages */
    double elapsed_max;
    unsigned long long bytes_written, bytes_read, files_decoded;
} shard_records_t;

static mp_status read_shard_records(const char *out_dir, char **runs, size_t n_runs, shard_records_t *rec,
                                    merge_report_t *report, mp_error *err)
{
    memset(rec, 0, sizeof *rec);
    char path[8192];
    for (size_t i = 0; i < n_runs; i++) {
        int k, n;
        record_kind(runs[i], &k, &n);
        snprintf(path, sizeof path, "%s/%s", out_dir, runs[i]);
        char *text = run_record_read(path, err);
        if (!text) return err ? err->code : MP_ERR_IO;
        char data[4096], modalities[4096], fingerprint[512], state[32];
        run_record_string(text, "data_absolute", data, sizeof data);
        if (!data[0]) run_record_string(text, "data", data, sizeof data);
        run_record_string(text, "modalities_text", modalities, sizeof modalities);
        run_record_string(text, "fingerprint", fingerprint, sizeof fingerprint);
        run_record_string(text, "state", state, sizeof state);
        if (strcmp(state, "complete")) report->unfinished++;
        double elapsed = run_record_number(text, "elapsed_s");
        if (elapsed > rec->elapsed_max) rec->elapsed_max = elapsed;
        rec->bytes_written += (unsigned long long)run_record_number(text, "bytes_written");
        rec->bytes_read += (unsigned long long)run_record_number(text, "bytes_read");
        rec->files_decoded += (unsigned long long)run_record_number(text, "files_decoded");
        free(text);
        if (!data[0] || !modalities[0] || !fingerprint[0])
            return mp_fail(err, MP_ERR_USAGE, "%s: not a shard record of this version (no DATA, modalities or "
                           "fingerprint)", path);
        if (i == 0) {
            rec->n = n;
            snprintf(rec->data, sizeof rec->data, "%s", data);
            snprintf(rec->modalities, sizeof rec->modalities, "%s", modalities);
            snprintf(rec->fingerprint, sizeof rec->fingerprint, "%s", fingerprint);
            snprintf(rec->first, sizeof rec->first, "%s", runs[i]);
            continue;
        }
        const char *differs = n != rec->n ? "another shard count"
                              : strcmp(data, rec->data) ? "another DATA"
                              : strcmp(modalities, rec->modalities) ? "other modalities"
                              : strcmp(fingerprint, rec->fingerprint) ? "other output options"
                                                                      : NULL;
        if (differs)
            return mp_fail(err, MP_ERR_USAGE,
                           "%s and %s disagree (%s): these are not shards of one run; remove the records of the "
                           "stale run (or rerun the shards with --overwrite)", runs[i], rec->first, differs);
    }
    return MP_OK;
}

/* Splits "A,B,C" in place into items; returns the count (at most cap). */
static size_t split_commas(char *text, const char **items, size_t cap)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(text, ",", &save); t && n < cap; t = strtok_r(NULL, ",", &save)) items[n++] = t;
    return n;
}

static void count_status(merge_report_t *report, const char *status)
{
    if (!strcmp(status, "ok")) report->ok++;
    else if (!strcmp(status, "empty")) report->empty++;
    else if (!strcmp(status, "missing")) report->status_missing++;
    else if (!strcmp(status, "excluded")) report->excluded++;
    else report->failed++;
}

static mp_status write_merged_run_json(const char *out_dir, const shard_records_t *rec, char **runs, size_t n_runs,
                                       const dataset_t *ds, const merge_report_t *report, mp_error *err)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, NULL);
    json_string(&j, "tool", "mriprep");
    json_string(&j, "version", mriprep_version());
    json_string(&j, "command", "mriprep merge");
    json_string(&j, "data", rec->data);
    json_string(&j, "data_absolute", rec->data);
    json_string(&j, "out", out_dir);
    json_string(&j, "state", "complete");
    json_string(&j, "fingerprint", rec->fingerprint);
    json_string(&j, "modalities_text", rec->modalities);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_string(&j, "written", when);
    json_int(&j, "shards", rec->n);
    json_array_begin(&j, "merged_from");
    for (size_t i = 0; i < n_runs; i++) json_string(&j, NULL, runs[i]);
    json_array_end(&j);
    json_string(&j, "options_in", rec->first);
    json_object_begin(&j, "totals");
    json_uint(&j, "patients", ds->n_patients);
    json_uint(&j, "series", report->series);
    json_uint(&j, "ok", report->ok);
    json_uint(&j, "empty", report->empty);
    json_uint(&j, "missing", report->status_missing);
    json_uint(&j, "failed", report->failed);
    json_uint(&j, "excluded", report->excluded);
    json_uint(&j, "files", ds->n_files);
    json_uint(&j, "files_decoded", rec->files_decoded);
    json_uint(&j, "bytes_read", rec->bytes_read);
    json_uint(&j, "bytes_written", rec->bytes_written);
    json_object_end(&j);
    json_double(&j, "elapsed_s", rec->elapsed_max);
    json_string(&j, "elapsed_note", "the longest shard; shards may have run one after another");
    json_object_end(&j);
    mp_status st;
    if (j.failed) {
        st = mp_fail(err, MP_ERR_NOMEM, "out of memory writing run.json");
    } else {
        char path[8192];
        snprintf(path, sizeof path, "%s/run.json", out_dir);
        st = text_write_atomic(path, j.text, j.len, err);
    }
    json_free(&j);
    return st;
}

mp_status merge_shards(const char *out_dir, merge_report_t *report, mp_error *err)
{
    memset(report, 0, sizeof *report);
    char **manifests = NULL, **runs = NULL;
    size_t n_manifests = 0, n_runs = 0;
    mp_status st = shard_records_list(out_dir, &manifests, &n_manifests, &runs, &n_runs, err);
    if (st != MP_OK) return st;
    shard_records_t rec;
    previous_run_t rows;
    memset(&rows, 0, sizeof rows);
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    manifest_writer_t merged;
    memset(&merged, 0, sizeof merged);
    char path[8192];

    if (n_runs == 0) {
        st = mp_fail(err, MP_ERR_IO, "%s: no shard records (run.K-of-N.json): nothing to merge; were the shards run "
                     "with --shard K/N (or as a Slurm array) into this folder?", out_dir);
        goto done;
    }
    st = read_shard_records(out_dir, runs, n_runs, &rec, report, err);
    if (st != MP_OK) goto done;
    report->shards = rec.n;
    /* The rows of every shard of that N; a shard's .partial (it did not finish) after its
     * manifest. Records of another N were caught above, when their run record is there. */
    {
        const char **names = malloc((n_manifests ? n_manifests : 1) * sizeof *names);
        if (!names) {
            st = mp_fail(err, MP_ERR_NOMEM, "out of memory");
            goto done;
        }
        size_t used = 0;
        for (size_t i = 0; i < n_manifests; i++) {
            int k, n;
            record_kind(manifests[i], &k, &n);
            if (n == rec.n) names[used++] = manifests[i];
        }
        /* The run record name matters not: the fingerprint was checked above. */
        st = previous_run_load_files(out_dir, runs[0], names, used, &rows, err);
        free(names);
        if (st != MP_OK) goto done;
    }
    {
        char modalities_text[4096];
        snprintf(modalities_text, sizeof modalities_text, "%s", rec.modalities);
        const char *modalities[256];
        size_t n_modalities = split_commas(modalities_text, modalities, 256);
        dataset_options_t dopt = {modalities, n_modalities, NULL, 0, NULL};
        st = dataset_walk(rec.data, &dopt, &ds, err);
        if (st != MP_OK) goto done;
    }
    report->series = ds.n_series;
    char name[4096];
    size_t missing_used = 0, missing_cap = 0;
    for (size_t i = 0; i < ds.n_series; i++) {
        const series_t *s = &ds.series[i];
        const previous_row_t *r = previous_run_find(&rows, s->split, s->patient, s->modality);
        if (r) {
            count_status(report, r->fields[4]);
            continue;
        }
        report->missing++;
        if (report->missing > 20) continue;
        snprintf(name, sizeof name, "%s%s%s/%s", s->split, s->split[0] ? "/" : "", s->patient, s->modality);
        size_t need = missing_used + strlen(name) + 3;
        if (need > missing_cap) {
            missing_cap = need * 2 + 256;
            char *grown = realloc(report->missing_text, missing_cap);
            if (!grown) {
                st = mp_fail(err, MP_ERR_NOMEM, "out of memory");
                goto done;
            }
            report->missing_text = grown;
        }
        missing_used += (size_t)sprintf(report->missing_text + missing_used, "%s%s", missing_used ? ", " : "", name);
    }
    if (report->missing) goto done; /* nothing written: the caller lists them */

    /* Every series has a row: the merged manifest in dataset order, as one run writes it. */
    snprintf(path, sizeof path, "%s/manifest.csv", out_dir);
    st = manifest_open(&merged, path, err);
    for (size_t i = 0; i < ds.n_series && st == MP_OK; i++) {
        const series_t *s = &ds.series[i];
        const previous_row_t *r = previous_run_find(&rows, s->split, s->patient, s->modality);
        st = manifest_append_fields(&merged, (const char *const *)r->fields, MANIFEST_FIELDS, err);
    }
    if (st == MP_OK) st = manifest_finish(&merged, err);
    else manifest_abandon(&merged);
    if (st == MP_OK) st = write_merged_run_json(out_dir, &rec, runs, n_runs, &ds, report, err);

done:
    if (st != MP_OK) report->missing = 0, free(report->missing_text), report->missing_text = NULL;
    dataset_free(&ds);
    previous_run_free(&rows);
    shard_names_free(manifests, n_manifests);
    shard_names_free(runs, n_runs);
    return st;
}

void merge_report_free(merge_report_t *report)
{
    if (!report) return;
    free(report->missing_text);
    report->missing_text = NULL;
}
