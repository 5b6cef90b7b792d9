/* run.c - the main job (see include/mriprep/run.h). */
#include "mriprep/run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mriprep/dataset.h"
#include "mriprep/dicom.h"
#include "mriprep/features.h"
#include "mriprep/json.h"
#include "mriprep/labels.h"
#include "mriprep/timer.h"
#include "mriprep/writer.h"

static void logf_(const run_options_t *opt, mp_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void logf_(const run_options_t *opt, mp_log_level_t level, const char *fmt, ...)
{
    if (!opt->log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opt->log(opt->ctx, level, msg);
}

/* Wall time of each stage: walk and write are serial; the others are summed over
 * threads (see stage_times_t). */
typedef struct run_stages {
    double walk, write;
    stage_times_t pipeline;
} run_stages_t;

static const char *status_name(const series_t *s, const series_result_t *r)
{
    switch (s->presence) {
    case SERIES_NO_FOLDER: return "missing";
    case SERIES_NO_DCM: return "empty";
    case SERIES_EXCLUDED: return "excluded";
    case SERIES_UNREADABLE: return "failed";
    case SERIES_PRESENT: break;
    }
    if (!r) return "failed";
    switch (r->outcome) {
    case SERIES_OK: return "ok";
    case SERIES_EMPTY: return "empty";
    case SERIES_FAILED: return "failed";
    }
    return "failed";
}

/* "train/00000/FLAIR" (or "00000/FLAIR" in the flat layout), plus `suffix`. */
static void series_name(const series_t *s, const char *suffix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s/%s%s", s->split, s->split[0] ? "/" : "", s->patient, s->modality, suffix);
}

/* Loads --labels, or DATA/train_labels.csv when present; `used` gets the file read
 * ("" when none). */
static mp_status load_labels(const run_options_t *opt, label_table_t *labels, char *used, size_t cap,
                             mp_error *err)
{
    used[0] = '\0';
    char default_path[4096];
    const char *path = opt->labels_path;
    if (!path) {
        snprintf(default_path, sizeof default_path, "%s/train_labels.csv", opt->data_dir);
        struct stat st;
        if (stat(default_path, &st) != 0) return MP_OK; /* no labels: the label column stays blank */
        path = default_path;
    }
    mp_error lerr;
    mp_error_clear(&lerr);
    mp_status st = labels_load(path, labels, &lerr);
    if (st != MP_OK) return mp_fail(err, st == MP_ERR_NOMEM ? st : MP_ERR_USAGE, "labels: %s", lerr.msg);
    for (size_t i = 0; i < labels->n_warnings; i++) logf_(opt, MP_LOG_WARN, "%s", labels->warnings[i]);
    snprintf(used, cap, "%s", path);
    return MP_OK;
}

static void write_run_json(const run_options_t *opt, const run_summary_t *sum, const run_stages_t *stages,
                           const label_table_t *labels, mp_error *err_out, mp_status *st_out)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, NULL);
    json_string(&j, "tool", "mriprep");
    json_string(&j, "version", mriprep_version());
    json_string(&j, "command", opt->command_line);
    json_string(&j, "data", opt->data_dir);
    json_string(&j, "out", opt->out_dir);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_string(&j, "finished", when);

    const pipeline_options_t *p = &opt->pipeline;
    json_object_begin(&j, "options");
    json_array_begin(&j, "size");
    json_int(&j, NULL, p->out_w);
    json_int(&j, NULL, p->out_h);
    json_array_end(&j);
    json_int(&j, "slices", p->slices);
    json_double(&j, "dark", p->dark);
    json_int(&j, "margin", p->margin);
    json_string(&j, "dtype", volume_dtype_name(p->dtype));
    json_string(&j, "layout", volume_layout_name(p->layout));
    json_string(&j, "format", "npy");
    json_string(&j, "order", "name");
    json_string(&j, "preset", "notebook");
    json_array_begin(&j, "modalities");
    for (size_t i = 0; i < opt->n_modalities; i++) json_string(&j, NULL, opt->modalities[i]);
    json_array_end(&j);
    json_array_begin(&j, "exclude");
    for (size_t i = 0; i < opt->n_exclude; i++) json_string(&j, NULL, opt->exclude[i]);
    json_array_end(&j);
    json_string(&j, "labels", sum->labels_used[0] ? sum->labels_used : NULL);
    json_int(&j, "threads", p->threads);
    json_object_end(&j);

    json_string(&j, "device", "cpu");
    json_string(&j, "device_reason", "this build has no CUDA backend");
    json_int(&j, "threads", sum->threads);
    json_object_begin(&j, "versions");
    json_string(&j, "mriprep", mriprep_version());
    mp_feature_t features[8];
    size_t nf = mriprep_features(features, 8);
    for (size_t i = 0; i < nf && i < 8; i++) json_string(&j, features[i].name, features[i].present ? features[i].detail : NULL);
    json_object_end(&j);

    json_object_begin(&j, "labels");
    json_string(&j, "file", sum->labels_used[0] ? sum->labels_used : NULL);
    json_uint(&j, "rows", labels ? labels->rows : 0);
    json_uint(&j, "ids", labels ? labels->n : 0);
    json_uint(&j, "duplicates", labels ? labels->duplicates : 0);
    json_uint(&j, "conflicts", labels ? labels->conflicts : 0);
    json_uint(&j, "labels_without_images", sum->labels_without_images);
    json_uint(&j, "images_without_labels", sum->images_without_labels);
    json_object_end(&j);

    json_object_begin(&j, "totals");
    json_uint(&j, "patients", sum->patients);
    json_uint(&j, "series", sum->series);
    json_uint(&j, "ok", sum->ok);
    json_uint(&j, "empty", sum->empty);
    json_uint(&j, "missing", sum->missing);
    json_uint(&j, "failed", sum->failed);
    json_uint(&j, "excluded", sum->excluded);
    json_uint(&j, "files", sum->files);
    json_uint(&j, "files_decoded", sum->files_decoded);
    json_uint(&j, "bytes_read", sum->bytes_read);
    json_uint(&j, "bytes_written", sum->bytes_written);
    json_object_end(&j);

    json_double(&j, "elapsed_s", sum->elapsed);
    json_object_begin(&j, "throughput");
    double secs = sum->elapsed > 0 ? sum->elapsed : 1e-9;
    json_double(&j, "files_per_s", (double)sum->files_decoded / secs);
    json_double(&j, "input_mb_per_s", (double)sum->bytes_read / 1e6 / secs);
    json_object_end(&j);
    json_object_begin(&j, "stage_seconds");
    json_string(&j, "note", "walk and write: wall time; decode, stats, resize, zscore: summed over threads");
    json_double(&j, "walk", stages->walk);
    json_double(&j, "decode", stages->pipeline.decode);
    json_double(&j, "stats", stages->pipeline.stats);
    json_double(&j, "resize", stages->pipeline.resize);
    json_double(&j, "zscore", stages->pipeline.zscore);
    json_double(&j, "write", stages->write);
    json_object_end(&j);
    json_object_end(&j);

    if (j.failed) {
        *st_out = mp_fail(err_out, MP_ERR_NOMEM, "out of memory writing run.json");
    } else {
        char *path = malloc(strlen(opt->out_dir) + sizeof "/run.json");
        if (!path) {
            *st_out = mp_fail(err_out, MP_ERR_NOMEM, "out of memory");
        } else {
            sprintf(path, "%s/run.json", opt->out_dir);
            *st_out = text_write_atomic(path, j.text, j.len, err_out);
            free(path);
        }
    }
    json_free(&j);
}

/* One manifest row for series s (r is NULL when the series was not processed). */
static mp_status append_row(manifest_writer_t *m, const series_t *s, const series_result_t *r, const char *output,
                            double seconds, mp_error *err)
{
    manifest_row_t row;
    memset(&row, 0, sizeof row);
    char missing_reason[300];
    snprintf(missing_reason, sizeof missing_reason, "no %.200s folder", s->modality);
    row.split = s->split;
    row.id = s->patient;
    row.modality = s->modality;
    row.label = s->label;
    row.status = status_name(s, r);
    row.files = (int64_t)s->n_files;
    row.kept = row.depth = row.src_rows = row.src_cols = -1;
    row.seconds = -1;
    row.output = "";
    switch (s->presence) {
    case SERIES_NO_FOLDER: row.reason = missing_reason; break;
    case SERIES_NO_DCM:
        row.reason = "no .dcm files";
        row.kept = row.depth = 0;
        break;
    case SERIES_EXCLUDED: row.reason = "excluded by --exclude"; break;
    case SERIES_UNREADABLE: row.reason = s->problem; break;
    case SERIES_PRESENT:
        row.reason = r->reason;
        row.seconds = seconds;
        if (r->src_rows) {
            row.src_rows = r->src_rows;
            row.src_cols = r->src_cols;
        }
        if (r->outcome != SERIES_FAILED) {
            row.kept = r->kept;
            row.depth = r->depth;
        }
        if (r->outcome == SERIES_OK) {
            row.has_moments = 1;
            row.mean = r->mean;
            row.std = r->std;
            row.output = output;
        }
        break;
    }
    return manifest_append(m, &row, err);
}

static void count_row(run_summary_t *sum, const char *status)
{
    if (!strcmp(status, "ok")) sum->ok++;
    else if (!strcmp(status, "empty")) sum->empty++;
    else if (!strcmp(status, "missing")) sum->missing++;
    else if (!strcmp(status, "excluded")) sum->excluded++;
    else sum->failed++;
}

mp_status run_dataset(const run_options_t *opt, run_summary_t *sum, mp_error *err)
{
    memset(sum, 0, sizeof *sum);
    const double t_start = mp_wall_seconds();
    run_stages_t stages;
    memset(&stages, 0, sizeof stages);
    mp_status st = pipeline_options_validate(&opt->pipeline, err);
    if (st != MP_OK) return st;

    label_table_t labels;
    memset(&labels, 0, sizeof labels);
    st = load_labels(opt, &labels, sum->labels_used, sizeof sum->labels_used, err);
    if (st != MP_OK) return st;

    dataset_options_t dopt = {opt->modalities, opt->n_modalities, opt->exclude, opt->n_exclude,
                              sum->labels_used[0] ? &labels : NULL};
    dataset_t ds;
    double t0 = mp_wall_seconds();
    st = dataset_walk(opt->data_dir, &dopt, &ds, err);
    stages.walk = mp_wall_seconds() - t0;
    if (st != MP_OK) {
        labels_free(&labels);
        return st;
    }
    sum->patients = ds.n_patients;
    sum->series = ds.n_series;
    sum->files = ds.n_files;
    sum->labels_without_images = ds.n_labels_without_images;
    sum->images_without_labels = ds.n_images_without_label;
    size_t present = 0;
    for (size_t i = 0; i < ds.n_series; i++) present += ds.series[i].presence != SERIES_NO_FOLDER;
    const pipeline_options_t *p = &opt->pipeline;
    uint64_t volume_max = (uint64_t)p->out_w * (uint64_t)p->out_h * (uint64_t)p->slices *
                          (uint64_t)volume_dtype_size(p->dtype);
    for (size_t i = 0; i < ds.n_series; i++)
        if (ds.series[i].presence == SERIES_PRESENT) sum->expected_bytes += volume_max + 128;
    logf_(opt, MP_LOG_INFO, "%s: %zu patients (%s), %zu series, %zu .dcm files, walked in %.2f s", opt->data_dir,
          ds.n_patients, ds.splits_text, ds.n_series, ds.n_files, stages.walk);
    if (sum->labels_used[0])
        logf_(opt, MP_LOG_INFO, "labels: %s (%zu IDs; %zu without images, %zu train patients without a label)",
              sum->labels_used, labels.n, sum->labels_without_images, sum->images_without_labels);
    if (ds.n_patients == 0 || present == 0) {
        sum->no_series = 1;
        logf_(opt, MP_LOG_ERROR, "%s: no series found (%s)", opt->data_dir,
              ds.n_patients == 0 ? "no patient folders" : "no patient has a requested modality folder");
    }
    if (opt->dry_run || ds.n_patients == 0) {
        if (opt->dry_run)
            logf_(opt, MP_LOG_INFO, "dry run: would write at most %.1f GB into %s; nothing written",
                  (double)sum->expected_bytes / 1e9, opt->out_dir);
        dataset_free(&ds);
        labels_free(&labels);
        sum->elapsed = mp_wall_seconds() - t_start;
        return MP_OK;
    }

    pipeline_t *pipe = NULL;
    manifest_writer_t manifest;
    memset(&manifest, 0, sizeof manifest);
    char *manifest_path = malloc(strlen(opt->out_dir) + sizeof "/manifest.csv");
    if (!manifest_path) st = mp_fail(err, MP_ERR_NOMEM, "out of memory");
    if (st == MP_OK) st = make_dirs(opt->out_dir, err);
    if (st == MP_OK) {
        sprintf(manifest_path, "%s/manifest.csv", opt->out_dir);
        st = manifest_open(&manifest, manifest_path, err);
    }
    if (st == MP_OK) st = pipeline_create(p, &pipe, err);
    if (pipe) {
        sum->threads = pipeline_threads(pipe);
        logf_(opt, MP_LOG_INFO, "device: cpu (this build has no CUDA backend), %d threads; writing %s", sum->threads,
              opt->out_dir);
    }

    run_progress_t prog;
    memset(&prog, 0, sizeof prog);
    prog.series_total = ds.n_series;
    prog.files_total = ds.n_files;
    char rel[4096], out_path[8192], name[4096];
    for (size_t i = 0; i < ds.n_series && st == MP_OK; i++) {
        const series_t *s = &ds.series[i];
        series_name(s, "", name, sizeof name);
        series_result_t res;
        memset(&res, 0, sizeof res);
        double ts = mp_wall_seconds();
        if (s->presence == SERIES_PRESENT) {
            st = pipeline_process_series(pipe, (const char *const *)s->files, s->n_files, &res, err);
            if (st != MP_OK) break;
            sum->files_decoded += s->n_files;
            sum->bytes_read += res.bytes_read;
            stages.pipeline.decode += res.seconds.decode;
            stages.pipeline.stats += res.seconds.stats;
            stages.pipeline.resize += res.seconds.resize;
            stages.pipeline.zscore += res.seconds.zscore;
        }
        rel[0] = '\0';
        if (s->presence == SERIES_PRESENT && res.outcome == SERIES_OK) {
            series_name(s, ".npy", rel, sizeof rel);
            snprintf(out_path, sizeof out_path, "%s/%s", opt->out_dir, rel);
            double tw = mp_wall_seconds();
            int ndim = 3;
            st = npy_write_atomic(out_path, volume_dtype_npy_descr(p->dtype), res.shape, ndim, res.volume,
                                  res.volume_bytes, err);
            stages.write += mp_wall_seconds() - tw;
            if (st != MP_OK) break;
            sum->bytes_written += res.volume_bytes;
        }
        double seconds = mp_wall_seconds() - ts;
        const char *status = status_name(s, &res);
        count_row(sum, status);
        st = append_row(&manifest, s, s->presence == SERIES_PRESENT ? &res : NULL, rel, seconds, err);
        if (st != MP_OK) break;

        if (!strcmp(status, "failed"))
            logf_(opt, MP_LOG_WARN, "%s: failed: %s", name, s->presence == SERIES_PRESENT ? res.reason : s->problem);
        else
            logf_(opt, MP_LOG_DEBUG, "%s: %s, %zu files, %u kept, depth %u, %.3f s%s%s", name, status, s->n_files,
                  res.kept, res.depth, seconds, res.reason[0] ? ": " : "", res.reason);
        prog.series_done = i + 1;
        prog.files_done += s->n_files;
        prog.bytes_done = sum->bytes_read;
        prog.elapsed = mp_wall_seconds() - t_start;
        prog.current = name;
        if (opt->progress) opt->progress(opt->ctx, &prog);
    }
    pipeline_destroy(pipe);
    sum->elapsed = mp_wall_seconds() - t_start;

    if (manifest.file) {
        mp_error merr;
        mp_status mst = manifest_finish(&manifest, &merr);
        if (st == MP_OK && mst != MP_OK) {
            st = mst;
            *err = merr;
        }
    }
    if (st == MP_OK || st == MP_ERR_WRITE) {
        /* After a write error run.json is still attempted: it records how far the run got. */
        mp_error jerr;
        mp_status jst = MP_OK;
        write_run_json(opt, sum, &stages, sum->labels_used[0] ? &labels : NULL, &jerr, &jst);
        if (st == MP_OK && jst != MP_OK) {
            st = jst;
            *err = jerr;
        }
    }
    free(manifest_path);
    dataset_free(&ds);
    labels_free(&labels);
    return st;
}
