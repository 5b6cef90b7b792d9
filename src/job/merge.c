/* merge.c - `mriprep merge OUT`: the records of the shards of a run joined into the
 * OUT/manifest.csv and OUT/run.json one run would have written (include/mriprep/shard.h).
 *
 *   shard records (run.K-of-N.json) -> agree? (N, DATA, modalities, options)
 *   -> their manifests' rows -> walk DATA again -> every series has a row? -> write both
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mriprep/dataset.h"
#include "mriprep/fs.h"
#include "mriprep/resume.h"
#include "mriprep/run_record.h"
#include "mriprep/shard.h"

/* What the shard records agree on, and what they add up to. */
typedef struct shard_records {
    int n;                  /* N */
    run_record_facts_t first; /* the first record's facts: DATA, modalities, fingerprint */
    const char *first_name; /* for messages */
    double elapsed_max;
    uint64_t bytes_written, bytes_read, files_decoded, files_reread;
} shard_records_t;

static int same_modalities(const run_record_facts_t *a, const run_record_facts_t *b)
{
    if (a->n_modalities != b->n_modalities) return 0;
    for (size_t i = 0; i < a->n_modalities; i++)
        if (strcmp(a->modalities[i], b->modalities[i])) return 0;
    return 1;
}

/* Checks one shard's record against the first one. */
static mp_status check_shard_record(const shard_records_t *rec, const char *name, int n, const run_record_facts_t *f,
                                    const char *path, mp_error *err)
{
    if (!f->data[0] || !f->n_modalities || !f->fingerprint[0])
        return mp_fail(err, MP_ERR_USAGE, "%s: not a shard record of this version (no DATA, modalities or fingerprint)",
                       path);
    if (!rec->first_name) return MP_OK;
    const char *differs = n != rec->n                                   ? "another shard count"
                          : strcmp(f->data, rec->first.data)             ? "another DATA"
                          : !same_modalities(f, &rec->first)             ? "other modalities"
                          : strcmp(f->fingerprint, rec->first.fingerprint) ? "other output options"
                                                                         : NULL;
    if (!differs) return MP_OK;
    return mp_fail(err, MP_ERR_USAGE,
                   "%s and %s disagree (%s): these are not shards of one run; remove the records of the stale run (or "
                   "rerun the shards with --overwrite)", name, rec->first_name, differs);
}

static mp_status read_shard_records(const char *out_dir, char **runs, size_t n_runs, shard_records_t *rec,
                                    merge_report_t *report, mp_error *err)
{
    char path[8192];
    for (size_t i = 0; i < n_runs; i++) {
        int k, n;
        shard_record_kind(runs[i], &k, &n);
        snprintf(path, sizeof path, "%s/%s", out_dir, runs[i]);
        run_record_facts_t f;
        mp_status st = mp_at(err, MP_PLACE_DATA, run_record_read(path, &f, NULL, err));
        if (st != MP_OK) return st;
        report->unfinished += strcmp(f.state, "complete") != 0;
        if (f.elapsed > rec->elapsed_max) rec->elapsed_max = f.elapsed;
        rec->bytes_written += f.bytes_written;
        rec->bytes_read += f.bytes_read;
        rec->files_decoded += f.files_decoded;
        rec->files_reread += f.files_reread;
        st = check_shard_record(rec, runs[i], n, &f, path, err);
        if (st == MP_OK && !rec->first_name) {
            rec->n = n;
            rec->first = f;
            rec->first_name = runs[i];
            continue;
        }
        run_record_facts_free(&f);
        if (st != MP_OK) return st;
    }
    return MP_OK;
}

/* The rows of every manifest of the agreed N; a shard's .partial (it did not finish)
 * after its manifest. */
static mp_status read_shard_rows(const char *out_dir, char **manifests, size_t n_manifests, const char *run_json,
                                 int n, previous_run_t *rows, mp_error *err)
{
    const char **names = malloc((n_manifests ? n_manifests : 1) * sizeof *names);
    if (!names) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    size_t used = 0;
    for (size_t i = 0; i < n_manifests; i++) {
        int k, shards;
        shard_record_kind(manifests[i], &k, &shards);
        if (shards == n) names[used++] = manifests[i];
    }
    /* The run record named matters not: the fingerprint was checked already. */
    mp_status st = previous_run_load_files(out_dir, run_json, names, used, rows, err);
    free(names);
    return mp_at(err, MP_PLACE_DATA, st);
}

/* Counts the rows by status and lists (up to 20 of) the series without one. */
static mp_status account_series(const dataset_t *ds, const previous_run_t *rows, merge_report_t *report,
                                mp_error *err)
{
    char name[4096];
    size_t used = 0, cap = 0;
    report->series = ds->n_series;
    for (size_t i = 0; i < ds->n_series; i++) {
        const series_t *s = &ds->series[i];
        const previous_row_t *r = previous_run_find(rows, s->split, s->patient, s->modality);
        if (r) {
            report->status.n[series_status_parse(r->fields[MANIFEST_STATUS])]++;
            continue;
        }
        if (++report->missing > 20) continue;
        series_name(s, "", name, sizeof name);
        size_t need = used + strlen(name) + 3;
        if (need > cap) {
            cap = need * 2 + 256;
            char *grown = realloc(report->missing_text, cap);
            if (!grown) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
            report->missing_text = grown;
        }
        used += (size_t)sprintf(report->missing_text + used, "%s%s", used ? ", " : "", name);
    }
    return MP_OK;
}

/* Every series has a row: the merged manifest in dataset order, as one run writes it,
 * then the merged run record. */
static mp_status write_merged(const char *out_dir, const dataset_t *ds, const previous_run_t *rows,
                              const shard_records_t *rec, char **runs, size_t n_runs, const merge_report_t *report,
                              mp_error *err)
{
    char path[8192];
    manifest_writer_t merged;
    snprintf(path, sizeof path, "%s/manifest.csv", out_dir);
    mp_status st = manifest_open(&merged, path, err);
    for (size_t i = 0; i < ds->n_series && st == MP_OK; i++) {
        const series_t *s = &ds->series[i];
        const previous_row_t *r = previous_run_find(rows, s->split, s->patient, s->modality);
        st = manifest_append(&merged, (const char *const *)r->fields, err);
    }
    if (st != MP_OK) {
        manifest_abandon(&merged);
        return st;
    }
    if ((st = manifest_finish(&merged, err)) != MP_OK) return st;
    run_record_t r;
    memset(&r, 0, sizeof r);
    r.command = "mriprep merge";
    r.data = r.data_absolute = rec->first.data;
    r.out = out_dir;
    r.state = "complete";
    r.fingerprint = rec->first.fingerprint;
    r.totals.patients = ds->n_patients;
    r.totals.series = report->series;
    r.totals.status = report->status;
    r.totals.files = ds->n_files;
    r.totals.files_decoded = rec->files_decoded;
    r.totals.files_reread = rec->files_reread;
    r.totals.bytes_read = rec->bytes_read;
    r.totals.bytes_written = rec->bytes_written;
    r.totals.elapsed = rec->elapsed_max;
    r.shards = rec->n;
    r.merged_from = (const char *const *)runs;
    r.n_merged = n_runs;
    snprintf(path, sizeof path, "%s/run.json", out_dir);
    return run_record_write(path, &r, err);
}

mp_status merge_shards(const char *out_dir, merge_report_t *report, mp_error *err)
{
    memset(report, 0, sizeof *report);
    char **manifests = NULL, **runs = NULL;
    size_t n_manifests = 0, n_runs = 0;
    mp_status st = shard_records_list(out_dir, &manifests, &n_manifests, &runs, &n_runs, err);
    if (st != MP_OK) return st;
    shard_records_t rec;
    memset(&rec, 0, sizeof rec);
    previous_run_t rows;
    memset(&rows, 0, sizeof rows);
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    if (n_runs == 0)
        st = mp_at(err, MP_PLACE_DATA,
                   mp_fail(err, MP_ERR_IO, "%s: no shard records (run.K-of-N.json): nothing to merge; were the shards "
                           "run with --shard K/N (or as a Slurm array) into this folder?", out_dir));
    if (st == MP_OK) st = read_shard_records(out_dir, runs, n_runs, &rec, report, err);
    report->shards = rec.n;
    if (st == MP_OK) st = read_shard_rows(out_dir, manifests, n_manifests, runs[0], rec.n, &rows, err);
    if (st == MP_OK) {
        dataset_options_t dopt = {(const char *const *)rec.first.modalities, rec.first.n_modalities, NULL, 0, NULL};
        st = mp_at(err, MP_PLACE_DATA, dataset_walk(rec.first.data, &dopt, &ds, err));
    }
    if (st == MP_OK) st = account_series(&ds, &rows, report, err);
    if (st == MP_OK && !report->missing) { /* else nothing is written: the caller lists them */
        /* manifest.csv and run.json are a whole run's records: its lock (run_lock_name) */
        out_lock_t lock = {.fd = -1};
        st = mp_at(err, MP_PLACE_OUT, out_lock_acquire(&lock, out_dir, ".manifest.csv.lock", err));
        if (st == MP_OK) st = write_merged(out_dir, &ds, &rows, &rec, runs, n_runs, report, err);
        out_lock_release(&lock);
    }
    if (st != MP_OK) report->missing = 0, free(report->missing_text), report->missing_text = NULL;
    run_record_facts_free(&rec.first);
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
