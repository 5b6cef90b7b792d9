/* run.c - the main job (include/mriprep/run.h) as a list of steps over one run_t
 * (src/job/job.h): each step reads what the ones before it built, returns an error whose
 * place says where it happened, and run_free releases whatever was built. */
#include "mriprep/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "mriprep/fs.h"
#include "mriprep/log.h"
#include "mriprep/run_record.h"
#include "mriprep/shard.h"
#include "mriprep/timer.h"

#define LOG(run, level, ...) mp_log((run)->opt->log, (run)->opt->ctx, level, __VA_ARGS__)

/* The options on their own: what no file needs to be read to refuse. */
static mp_status check_options(run_t *run, mp_error *err)
{
    run->popt = run->opt->pipeline;
    mp_status st = pipeline_options_validate(&run->popt, err);
    if (st == MP_OK) st = readahead_options_for(run->opt->readahead_mb, 0, &run->ahead_opt, err);
    if (st != MP_OK) return st;
    if (run->opt->format != FORMAT_NPY && run->popt.dtype == DTYPE_FLOAT16)
        return mp_fail(err, MP_ERR_USAGE, "--dtype float16 with --format %s: NIfTI-1 has no float16 type",
                       output_format_name(run->opt->format));
    options_fingerprint(&run->popt, output_format_name(run->opt->format), run->opt->augment_rot90, run->opt->seed,
                        run->fingerprint, sizeof run->fingerprint);
    return MP_OK;
}

/* --labels, or DATA/train_labels.csv when present; its warnings go to the log. */
static mp_status load_labels(run_t *run, mp_error *err)
{
    run_summary_t *sum = run->sum;
    mp_status st = labels_load_for_dataset(run->opt->data_dir, run->opt->labels_path, &run->labels, sum->labels_used,
                                           sizeof sum->labels_used, err);
    if (st != MP_OK) return st;
    run->has_labels = sum->labels_used[0] != 0;
    for (size_t i = 0; i < run->labels.n_warnings; i++) LOG(run, MP_LOG_WARN, "%s", run->labels.warnings[i]);
    return MP_OK;
}

static mp_status walk_data(run_t *run, mp_error *err)
{
    const run_options_t *opt = run->opt;
    dataset_options_t dopt = {opt->modalities, opt->n_modalities, opt->exclude, opt->n_exclude,
                              run->has_labels ? &run->labels : NULL};
    double t0 = mp_wall_seconds();
    mp_status st = mp_at(err, MP_PLACE_DATA, dataset_walk(opt->data_dir, &dopt, &run->ds, err));
    run->sum->stages.walk = mp_wall_seconds() - t0;
    run->sum->labels_without_images = run->ds.n_labels_without_images;
    run->sum->images_without_labels = run->ds.n_images_without_label;
    return st;
}

/* Which series are this shard's, and the record names of the run (shard.h). */
static mp_status choose_shard(run_t *run, mp_error *err)
{
    const run_options_t *opt = run->opt;
    run_records_t *rec = &run->rec;
    shard_record_names(opt->shard_k, opt->shard_n, rec->manifest, sizeof rec->manifest, rec->run_json,
                       sizeof rec->run_json);
    if (!realpath(opt->data_dir, rec->data_absolute))
        snprintf(rec->data_absolute, sizeof rec->data_absolute, "%s", opt->data_dir);
    if (opt->shard_n <= 0) return MP_OK;
    if (opt->shard_k < 0 || opt->shard_k >= opt->shard_n)
        return mp_fail(err, MP_ERR_USAGE, "--shard %d/%d: K must be 0..N-1", opt->shard_k, opt->shard_n);
    snprintf(rec->shard, sizeof rec->shard, "%d/%d", opt->shard_k, opt->shard_n);
    const size_t n = run->ds.n_series ? run->ds.n_series : 1;
    int *shard_of = malloc(n * sizeof *shard_of);
    run->in_shard = calloc(n, 1);
    mp_status st = shard_of && run->in_shard ? shard_assign(&run->ds, opt->shard_n, shard_of, err)
                                             : mp_fail(err, MP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == MP_OK && i < run->ds.n_series; i++) run->in_shard[i] = shard_of[i] == opt->shard_k;
    free(shard_of);
    return st;
}

/* The run's own totals before it starts: its patients, series, files, and the most it
 * could write; then what it found, in the log. */
static void count_work(run_t *run)
{
    const dataset_t *ds = &run->ds;
    run_totals_t *t = &run->sum->totals;
    const uint64_t volume_max = volume_max_bytes(&run->popt);
    int patient_counted = 0;
    for (size_t i = 0; i < ds->n_series; i++) {
        if (series_starts_patient(ds, i)) patient_counted = 0;
        if (!run_has_series(run, i)) continue;
        const series_t *s = &ds->series[i];
        t->series++;
        t->files += s->n_files;
        if (s->presence == SERIES_PRESENT) run->sum->expected_bytes += volume_max + 128;
        if (!patient_counted) t->patients++, patient_counted = 1;
    }
    LOG(run, MP_LOG_INFO, "%s: %zu patients (%s), %zu series, %zu .dcm files, walked in %.2f s", run->opt->data_dir,
        ds->n_patients, ds->splits_text, ds->n_series, ds->n_files, run->sum->stages.walk);
    if (run->in_shard)
        LOG(run, MP_LOG_INFO, "shard %s: %zu series, %zu .dcm files (%.1f%% of the files); records %s, %s",
            run->rec.shard, t->series, t->files, ds->n_files ? 100.0 * (double)t->files / (double)ds->n_files : 0.0,
            run->rec.manifest, run->rec.run_json);
    if (run->has_labels)
        LOG(run, MP_LOG_INFO, "labels: %s (%zu IDs; %zu without images, %zu train patients without a label)",
            run->sum->labels_used, run->labels.n, run->sum->labels_without_images, run->sum->images_without_labels);
}

/* The device is settled before anything is written: --device cuda without a usable
 * device is an error that leaves OUT untouched. */
static mp_status settle_device(run_t *run, mp_error *err)
{
    run_summary_t *sum = run->sum;
    mp_status st = pipeline_resolve_device(run->opt->device, run->opt->cuda_index, &run->popt, sum->device_reason,
                                           sizeof sum->device_reason, &sum->device_check, err);
    if (st != MP_OK) return st;
    const device_check_report_t *check = &sum->device_check;
    if (check->ran && check->passed)
        LOG(run, MP_LOG_INFO, "device self-check: %s gave the CPU's bytes in %d cases (%.2f s)", check->device,
            check->cases, check->seconds);
    else if (check->ran)
        LOG(run, MP_LOG_WARN, "device self-check of %s failed: %s; computing on the CPU", check->device,
            check->failure);
    size_t present = 0;
    for (size_t i = 0; i < run->ds.n_series; i++) present += run->ds.series[i].presence != SERIES_NO_FOLDER;
    if (run->ds.n_patients == 0 || present == 0) {
        sum->no_series = 1;
        LOG(run, MP_LOG_ERROR, "%s: no series found (%s)", run->opt->data_dir,
            run->ds.n_patients == 0 ? "no patient folders" : "no patient has a requested modality folder");
    }
    snprintf(sum->device, sizeof sum->device, "%s", run->popt.device == DEVICE_CUDA ? "cuda" : "cpu");
    if (run->opt->dry_run)
        LOG(run, MP_LOG_INFO, "dry run: would write at most %.1f GB into %s, computing on %s (%s); nothing written",
            (double)sum->expected_bytes / 1e9, run->opt->out_dir, sum->device, sum->device_reason);
    return MP_OK;
}

/* Before writing: OUT must have room for what is left to write. The estimate is an
 * upper bound (every file a kept slice, up to K), so --force only warns. */
static mp_status check_free_space(run_t *run, mp_error *err)
{
    uint64_t need = 0, avail = 0;
    for (size_t i = 0; i < run->ds.n_series; i++) {
        const series_t *s = &run->ds.series[i];
        if (s->presence != SERIES_PRESENT || run->resumed[i] || !run_has_series(run, i)) continue;
        uint64_t depth = s->n_files < (size_t)run->popt.slices ? s->n_files : (uint64_t)run->popt.slices;
        need += npy_volume_file_bytes(&run->popt, depth);
    }
    if (free_bytes_at(run->opt->out_dir, &avail) != 0 || need <= avail) return MP_OK; /* cannot tell: the writes will */
    if (run->opt->force) {
        LOG(run, MP_LOG_WARN, "%s: up to %.2f GB to write, %.2f GB free: going on (--force)", run->opt->out_dir,
            (double)need / 1e9, (double)avail / 1e9);
        return MP_OK;
    }
    return mp_fail(err, MP_ERR_WRITE,
                   "%s: up to %.2f GB to write (every .dcm file a kept slice), only %.2f GB free: free some space, "
                   "use --dtype float16, or --force to try anyway", run->opt->out_dir, (double)need / 1e9,
                   (double)avail / 1e9);
}

/* OUT made and locked before its records are read: one run at a time writes a given set
 * of records (manifest.csv and run.json, or a shard's); the lock is named after the
 * manifest (.manifest.csv.lock, .manifest.K-of-N.csv.lock), so shards of one run go on
 * side by side and merge takes a whole run's. */
static mp_status lock_out(run_t *run, mp_error *err)
{
    struct stat st;
    run->out_created = stat(run->opt->out_dir, &st) != 0;
    mp_status s = make_dirs(run->opt->out_dir, err);
    if (s != MP_OK) return s;
    char name[96];
    snprintf(name, sizeof name, ".%s.lock", run->rec.manifest);
    return out_lock_acquire(&run->lock, run->opt->out_dir, name, err);
}

/* What OUT already holds, kept or refused; room; the pipeline. */
static mp_status prepare(run_t *run, mp_error *err)
{
    run->resumed = calloc(run->ds.n_series ? run->ds.n_series : 1, sizeof *run->resumed);
    if (!run->resumed) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    mp_status st = mp_at(err, MP_PLACE_OUT, resume_load(run, err));
    if (st == MP_OK) st = mp_at(err, MP_PLACE_OUT, resume_check_options(run, err));
    if (st == MP_OK) resume_mark_done(run);
    if (st == MP_OK) st = check_free_space(run, err);
    if (st == MP_OK) st = pipeline_create(&run->popt, &run->pipe, err);
    if (st != MP_OK) return st;
    run->sum->threads = pipeline_threads(run->pipe);
    snprintf(run->sum->device, sizeof run->sum->device, "%s", pipeline_device_description(run->pipe));
    LOG(run, MP_LOG_INFO, "device: %s (%s), %d decode threads; writing %s", run->sum->device, run->sum->device_reason,
        run->sum->threads, run->opt->out_dir);
    return MP_OK;
}

/* run.json, as it stands: "running" before any volume, then how it ended. */
static mp_status write_record(const run_t *run, const char *state, mp_error *err)
{
    const run_options_t *opt = run->opt;
    run_record_t r;
    memset(&r, 0, sizeof r);
    r.command = opt->command_line;
    r.data = opt->data_dir;
    r.data_absolute = run->rec.data_absolute;
    r.out = opt->out_dir;
    r.state = state;
    r.shard = run->rec.shard;
    r.fingerprint = run->fingerprint;
    r.totals = run->sum->totals;
    r.run = opt;
    r.pipeline = &run->popt;
    r.summary = run->sum;
    r.labels = run->has_labels ? &run->labels : NULL;
    char path[8192];
    run_out_path(run, run->rec.run_json, path, sizeof path);
    return run_record_write(path, &r, err);
}

/* OUT made, leftovers of a killed run removed, the fingerprint on disk before any volume
 * (so a run killed at any point can be resumed, and checked), the manifest opened. */
static mp_status open_out(run_t *run, mp_error *err)
{
    mp_status st = make_dirs(run->opt->out_dir, err);
    if (st != MP_OK) return st;
    const size_t removed = resume_remove_leftovers(run);
    size_t kept = 0;
    for (size_t i = 0; i < run->ds.n_series; i++) kept += run->resumed[i] != NULL;
    if (run->prev.found)
        LOG(run, MP_LOG_INFO, "resuming: %zu series already done are kept%s%s", kept,
            run->opt->overwrite ? " (--overwrite: none)" : "", removed ? ", leftover temporary files removed" : "");
    if ((st = write_record(run, "running", err)) != MP_OK) return st;
    char path[8192];
    run_out_path(run, run->rec.manifest, path, sizeof path);
    return manifest_open(&run->manifest, path, err);
}

/* The manifest into place and run.json's last word, also after a write error (it records
 * how far the run got); returns the run's status. */
static mp_status finish(run_t *run, mp_status st, mp_error *err)
{
    run_totals_t *t = &run->sum->totals;
    t->elapsed = mp_wall_seconds() - run->t_start;
    mp_error e;
    if (run->manifest.file) {
        mp_status mst = manifest_finish(&run->manifest, &e);
        if (st == MP_OK && mst != MP_OK) st = mst, *err = e;
    }
    if (st == MP_OK || st == MP_ERR_WRITE) {
        const char *state = run->sum->interrupted ? "interrupted" : st == MP_OK ? "complete" : "failed";
        mp_status jst = write_record(run, state, &e);
        if (st == MP_OK && jst != MP_OK) st = jst, *err = e;
    }
    if (st == MP_OK && run->sum->interrupted) {
        const size_t written = t->status.n[STATUS_OK] + t->status.n[STATUS_EMPTY] + t->status.n[STATUS_MISSING] +
                               t->status.n[STATUS_FAILED] + t->status.n[STATUS_EXCLUDED];
        st = mp_fail(err, MP_ERR_INTERRUPTED,
                     "interrupted: %zu of %zu series written; rerun the same command to finish (finished series are "
                     "kept)", written, t->series);
    }
    return st;
}

static void run_free(run_t *run)
{
    pipeline_destroy(run->pipe);
    manifest_abandon(&run->manifest);
    previous_run_free(&run->prev);
    free(run->resumed);
    free(run->in_shard);
    dataset_free(&run->ds);
    labels_free(&run->labels);
}

mp_status run_dataset(const run_options_t *opt, run_summary_t *sum, mp_error *err_out)
{
    mp_error local, *err = err_out ? err_out : &local;
    mp_error_clear(err);
    memset(sum, 0, sizeof *sum);
    run_t run;
    memset(&run, 0, sizeof run);
    run.opt = opt;
    run.sum = sum;
    run.t_start = mp_wall_seconds();
    run.lock.fd = -1;

    mp_status st = check_options(&run, err);
    if (st == MP_OK) st = load_labels(&run, err);
    if (st == MP_OK) st = walk_data(&run, err);
    if (st == MP_OK) st = choose_shard(&run, err);
    if (st == MP_OK) count_work(&run);
    if (st == MP_OK) st = settle_device(&run, err);
    if (st != MP_OK || opt->dry_run || run.ds.n_patients == 0) {
        sum->totals.elapsed = mp_wall_seconds() - run.t_start;
        run_free(&run);
        return st;
    }
    st = mp_at(err, MP_PLACE_OUT, lock_out(&run, err));
    if (st == MP_OK) st = prepare(&run, err);
    if (st == MP_OK) {
        st = mp_at(err, MP_PLACE_OUT, open_out(&run, err));
        if (st == MP_OK) st = run_stages(&run, err);
        pipeline_destroy(run.pipe);
        run.pipe = NULL;
        st = finish(&run, st, err);
    }
    out_lock_release(&run.lock);
    if (st != MP_OK && run.out_created) rmdir(opt->out_dir); /* empty (refused before writing): as it was */
    run_free(&run);
    return st;
}
