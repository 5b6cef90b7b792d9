/* run.c - the main job (see include/mriprep/run.h). */
#include "mriprep/run.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "mriprep/augment.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dataset.h"
#include "mriprep/dicom.h"
#include "mriprep/features.h"
#include "mriprep/json.h"
#include "mriprep/labels.h"
#include "mriprep/nifti.h"
#include "mriprep/resume.h"
#include "mriprep/shard.h"
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

/* The record names of this run (shard.h) and what a merge needs to know of it. */
typedef struct run_records {
    char manifest[64];        /* "manifest.csv", or "manifest.K-of-N.csv" for a shard */
    char run_json[64];        /* "run.json", or "run.K-of-N.json" */
    char shard[32];           /* "K/N", or "" */
    char data_absolute[4096]; /* DATA as an absolute path: merge walks it again */
} run_records_t;

/* Series of this run: all of them, or those of its shard (in_shard[i] != 0). */
static int in_run(const unsigned char *in_shard, size_t i)
{
    return !in_shard || in_shard[i];
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

const char *output_format_name(output_format_t format)
{
    return format == FORMAT_NII ? "nii" : format == FORMAT_NII_GZ ? "nii.gz" : "npy";
}

/* ".npy", ".nii", ".nii.gz": the volumes' file extension. */
static const char *volume_suffix(const run_options_t *opt)
{
    return opt->format == FORMAT_NII ? ".nii" : opt->format == FORMAT_NII_GZ ? ".nii.gz" : ".npy";
}

/* "<MOD>.rot90.npy": the rotated copy's name for k quarter turns. */
static void augmented_name(const series_t *s, const run_options_t *opt, int k, char *buf, size_t cap)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".rot%d%s", 90 * k, volume_suffix(opt));
    series_name(s, suffix, buf, cap);
}

/* Loads --labels, or DATA/train_labels.csv when present, and logs its warnings. */
static mp_status load_labels(const run_options_t *opt, label_table_t *labels, char *used, size_t cap,
                             mp_error *err)
{
    mp_status st = labels_load_for_dataset(opt->data_dir, opt->labels_path, labels, used, cap, err);
    if (st == MP_OK)
        for (size_t i = 0; i < labels->n_warnings; i++) logf_(opt, MP_LOG_WARN, "%s", labels->warnings[i]);
    return st;
}

/* run.json: written when the run starts (state "running", with the fingerprint a resume
 * checks) and again at the end ("complete" or "interrupted", with totals and times). */
static void write_run_json(const run_options_t *opt, const run_records_t *rec, const pipeline_options_t *p,
                           const run_summary_t *sum, const run_stages_t *stages, const label_table_t *labels,
                           const char *state, mp_error *err_out, mp_status *st_out)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, NULL);
    json_string(&j, "tool", "mriprep");
    json_string(&j, "version", mriprep_version());
    json_string(&j, "command", opt->command_line);
    json_string(&j, "data", opt->data_dir);
    json_string(&j, "data_absolute", rec->data_absolute);
    json_string(&j, "out", opt->out_dir);
    json_string(&j, "state", state);
    json_string(&j, "shard", rec->shard[0] ? rec->shard : NULL);
    char fingerprint[512];
    options_fingerprint(p, output_format_name(opt->format), opt->augment_rot90, opt->seed, fingerprint,
                        sizeof fingerprint);
    json_string(&j, "fingerprint", fingerprint);
    /* One-line copies of the lists, for `mriprep merge` (which reads fields, not JSON). */
    char list[4096];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < opt->n_modalities && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? "," : "", opt->modalities[i]);
    json_string(&j, "modalities_text", list);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_string(&j, "written", when);

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
    json_string(&j, "format", output_format_name(opt->format));
    json_string(&j, "order", slice_order_option_name(p->order));
    json_bool(&j, "reorient", p->reorient);
    json_string(&j, "crop", crop_mode_name(p->crop));
    json_string(&j, "intensity", intensity_mode_name(p->intensity));
    json_bool(&j, "rescale", p->rescale);
    json_string(&j, "norm", norm_mode_name(p->norm));
    json_string(&j, "depth", depth_mode_name(p->depth));
    json_string(&j, "center", center_mode_name(p->center));
    json_string(&j, "augment", opt->augment_rot90 ? "rot90" : "none");
    json_int(&j, "seed", (int64_t)opt->seed);
    json_string(&j, "preset", opt->preset ? opt->preset : "notebook");
    json_array_begin(&j, "modalities");
    for (size_t i = 0; i < opt->n_modalities; i++) json_string(&j, NULL, opt->modalities[i]);
    json_array_end(&j);
    json_array_begin(&j, "exclude");
    for (size_t i = 0; i < opt->n_exclude; i++) json_string(&j, NULL, opt->exclude[i]);
    json_array_end(&j);
    json_string(&j, "labels", sum->labels_used[0] ? sum->labels_used : NULL);
    json_int(&j, "threads", p->threads);
    json_string(&j, "device", opt->device == DEVICE_REQUEST_CPU ? "cpu" : opt->device == DEVICE_REQUEST_CUDA ? "cuda"
                                                                                                             : "auto");
    json_object_end(&j);

    json_string(&j, "device", p->device == DEVICE_CUDA ? "cuda" : "cpu");
    json_string(&j, "device_detail", sum->device);
    json_string(&j, "device_reason", sum->device_reason);
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
    json_uint(&j, "resumed", sum->resumed);
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
    json_string(&j, "note", p->device == DEVICE_CUDA
                                ? "walk, write, stats, resize, zscore, download: wall time; decode: summed over threads; "
                                  "upload: device time of the H2D copies"
                                : "walk and write: wall time; decode, stats, resize, zscore: summed over threads");
    json_double(&j, "walk", stages->walk);
    json_double(&j, "decode", stages->pipeline.decode);
    json_double(&j, "stats", stages->pipeline.stats);
    json_double(&j, "resize", stages->pipeline.resize);
    json_double(&j, "zscore", stages->pipeline.zscore);
    json_double(&j, "write", stages->write);
    if (p->device == DEVICE_CUDA) {
        json_double(&j, "upload", stages->pipeline.upload);
        json_double(&j, "download", stages->pipeline.download);
    }
    json_object_end(&j);
    json_object_end(&j);

    if (j.failed) {
        *st_out = mp_fail(err_out, MP_ERR_NOMEM, "out of memory writing run.json");
    } else {
        char *path = malloc(strlen(opt->out_dir) + strlen(rec->run_json) + 2);
        if (!path) {
            *st_out = mp_fail(err_out, MP_ERR_NOMEM, "out of memory");
        } else {
            sprintf(path, "%s/%s", opt->out_dir, rec->run_json);
            *st_out = text_write_atomic(path, j.text, j.len, err_out);
            free(path);
        }
    }
    json_free(&j);
}

/* One manifest row for series s (r is NULL when the series was not processed). */
static mp_status append_row(manifest_writer_t *m, const run_options_t *opt, const series_t *s,
                            const series_result_t *r, const char *output, const char *augmented, double seconds,
                            mp_error *err)
{
    manifest_row_t row;
    memset(&row, 0, sizeof row);
    char geometry[300] = "";
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
            row.augmented = augmented;
            /* Where the volume lies: said when it matters (reorientation asked for, or a
             * NIfTI file whose affine places it). */
            const int explain = opt->pipeline.reorient || opt->format != FORMAT_NPY;
            snprintf(geometry, sizeof geometry, "%s%s%.250s", r->reoriented ? "LPS" : "as stored",
                     explain && r->geometry_note[0] ? "; " : "", explain ? r->geometry_note : "");
            row.geometry = geometry;
        }
        if (r->outcome != SERIES_FAILED) row.order = slice_order_name(r->order);
        if (r->src_rows) row.plane = plane_name(r->plane);
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

/* ---- the three-stage run ----------------------------------------------------------- */

#define RUN_JOBS 8   /* series in flight between the stages */
#define RUN_QUEUE 16 /* room for every job plus the end marker */

/* A bounded FIFO of job indices (-1 ends the stream) with blocking push and pop. */
typedef struct job_queue {
    long items[RUN_QUEUE];
    int head, count;
    pthread_mutex_t lock;
    pthread_cond_t changed;
} job_queue_t;

static void queue_init(job_queue_t *q)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
}

static void queue_destroy(job_queue_t *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->changed);
}

static void queue_push(job_queue_t *q, long item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == RUN_QUEUE) pthread_cond_wait(&q->changed, &q->lock);
    q->items[(q->head + q->count) % RUN_QUEUE] = item;
    q->count++;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
}

static long queue_pop(job_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0) pthread_cond_wait(&q->changed, &q->lock);
    long item = q->items[q->head];
    q->head = (q->head + 1) % RUN_QUEUE;
    q->count--;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    return item;
}

/* One series on its way through the stages. */
typedef struct run_job {
    size_t series;
    const previous_row_t *resumed; /* a previous run finished this series: keep its row */
    int batch, volume; /* -1: none held */
    series_result_t result;
    double started;
} run_job_t;

/* What the three threads share. Job records, free batches and free volumes travel in
 * queues of their own, so each stage blocks only on the resource it needs. */
typedef struct run_state {
    const run_options_t *opt;
    const dataset_t *ds;
    const previous_row_t **resumed; /* [n_series]: kept from a previous run, or NULL */
    const unsigned char *in_shard;  /* [n_series], or NULL: every series */
    pipeline_t *pipe;
    manifest_writer_t *manifest;
    run_summary_t *sum;
    run_stages_t *stages;
    double t_start;
    run_job_t jobs[RUN_JOBS];
    job_queue_t to_compute, to_write, free_batches, free_volumes, free_jobs;
    pthread_mutex_t error_lock;
    mp_status status; /* first fatal error */
    mp_error error;
    atomic_int stop;  /* set by the first fatal error: stages stop working and drain */
    void *rotated;    /* --augment rot90: room for one volume, the writer's */
} run_state_t;

static void fail_run(run_state_t *rs, mp_status st, const mp_error *e)
{
    pthread_mutex_lock(&rs->error_lock);
    if (rs->status == MP_OK) {
        rs->status = st;
        rs->error = *e;
    }
    rs->stop = 1;
    pthread_mutex_unlock(&rs->error_lock);
}

static void *compute_thread(void *arg)
{
    run_state_t *rs = arg;
    for (;;) {
        long j = queue_pop(&rs->to_compute);
        if (j < 0) break;
        run_job_t *job = &rs->jobs[j];
        if (job->batch >= 0) {
            if (!rs->stop) {
                job->volume = (int)queue_pop(&rs->free_volumes);
                mp_error e;
                mp_error_clear(&e);
                mp_status st = pipeline_compute(rs->pipe, job->batch, job->volume, &job->result, &e);
                if (st != MP_OK) fail_run(rs, st, &e);
            }
            queue_push(&rs->free_batches, job->batch);
            job->batch = -1;
        }
        queue_push(&rs->to_write, j);
    }
    queue_push(&rs->to_write, -1);
    return NULL;
}

/* One volume to `path` in the run's format: .npy as shaped, or NIfTI with the C-order
 * array (A0, A1, A2) as NIfTI's (i, j, k) = (A2, A1, A0) and the affine in RAS. */
static mp_status write_volume_file(const run_options_t *opt, const char *path, const char *name,
                                   const uint64_t shape[3], const void *volume, int has_affine,
                                   double affine[3][4], mp_error *err)
{
    const size_t bytes = (size_t)(shape[0] * shape[1] * shape[2]) * volume_dtype_size(opt->pipeline.dtype);
    if (opt->format == FORMAT_NPY)
        return npy_write_atomic(path, volume_dtype_npy_descr(opt->pipeline.dtype), shape, 3, volume, bytes, err);
    nifti_volume_t v;
    memset(&v, 0, sizeof v);
    v.nx = (int64_t)shape[2], v.ny = (int64_t)shape[1], v.nz = (int64_t)shape[0];
    v.data = volume;
    v.has_affine = has_affine;
    if (has_affine) {
        static const double lps_to_ras[3] = {-1, -1, 1};
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) v.affine[r][c] = lps_to_ras[r] * affine[r][2 - c];
            v.affine[r][3] = lps_to_ras[r] * affine[r][3];
        }
    }
    char description[80];
    snprintf(description, sizeof description, "mriprep %s", name);
    v.description = description;
    return nifti_write_atomic(path, &v, opt->format == FORMAT_NII_GZ, err);
}

/* --augment rot90: the volume turned by the series' quarter turns (rot90_turns_for) in the
 * plane of its slices, into `scratch` (room for one volume), written beside it. */
static mp_status write_rotated_copy(const run_options_t *opt, const series_t *s, const series_result_t *res,
                                    void *scratch, char *rel, size_t rel_cap, mp_error *err)
{
    char name[4096], path[8192];
    series_name(s, "", name, sizeof name);
    const int k = rot90_turns_for(opt->seed, name);
    const int a = opt->pipeline.layout == LAYOUT_DHW ? 1 : 0;
    uint64_t shape[3];
    rot90_volume(res->volume, res->shape, a, volume_dtype_size(opt->pipeline.dtype), k, scratch, shape);
    /* The rotated copy's affine: rotated index -> source index (integer, affine) -> LPS. */
    double affine[3][4];
    if (res->has_affine) {
        int64_t origin[3], unit[3][3], zero[3] = {0, 0, 0};
        rot90_volume_source(res->shape, a, k, zero, origin);
        for (int t = 0; t < 3; t++) {
            int64_t e[3] = {0, 0, 0};
            e[t] = 1;
            rot90_volume_source(res->shape, a, k, e, unit[t]);
        }
        for (int r = 0; r < 3; r++) {
            affine[r][3] = res->affine[r][3];
            for (int c = 0; c < 3; c++) affine[r][3] += res->affine[r][c] * (double)origin[c];
            for (int t = 0; t < 3; t++) {
                affine[r][t] = 0;
                for (int c = 0; c < 3; c++) affine[r][t] += res->affine[r][c] * (double)(unit[t][c] - origin[c]);
            }
        }
    }
    augmented_name(s, opt, k, rel, rel_cap);
    snprintf(path, sizeof path, "%s/%s", opt->out_dir, rel);
    return write_volume_file(opt, path, name, shape, scratch, res->has_affine, affine, err);
}

static void *write_thread(void *arg)
{
    run_state_t *rs = arg;
    const run_options_t *opt = rs->opt;
    run_summary_t *sum = rs->sum;
    run_progress_t prog;
    memset(&prog, 0, sizeof prog);
    prog.series_total = rs->sum->series;
    prog.files_total = rs->sum->files;
    char rel[4096], out_path[8192], name[4096], augmented_rel[4096];
    for (;;) {
        long j = queue_pop(&rs->to_write);
        if (j < 0) break;
        run_job_t *job = &rs->jobs[j];
        const series_t *s = &rs->ds->series[job->series];
        series_result_t *res = &job->result;
        if (!rs->stop) {
            series_name(s, "", name, sizeof name);
            mp_error e;
            mp_error_clear(&e);
            mp_status st = MP_OK;
            const int processed = s->presence == SERIES_PRESENT && !job->resumed;
            if (job->resumed) {
                /* The previous run's row as it was, but for the label, which follows the
                 * labels file of this run. */
                const char *fields[MANIFEST_FIELDS];
                for (int f = 0; f < MANIFEST_FIELDS; f++) fields[f] = job->resumed->fields[f];
                fields[3] = s->label;
                st = manifest_append_fields(rs->manifest, fields, MANIFEST_FIELDS, &e);
                if (st == MP_OK) {
                    count_row(sum, "ok");
                    sum->resumed++;
                    logf_(opt, MP_LOG_DEBUG, "%s: ok (kept from the previous run)", name);
                } else {
                    fail_run(rs, st, &e);
                }
            }
            if (processed) {
                sum->files_decoded += s->n_files;
                sum->bytes_read += res->bytes_read;
                rs->stages->pipeline.decode += res->seconds.decode;
                rs->stages->pipeline.stats += res->seconds.stats;
                rs->stages->pipeline.resize += res->seconds.resize;
                rs->stages->pipeline.zscore += res->seconds.zscore;
                rs->stages->pipeline.upload += res->seconds.upload;
                rs->stages->pipeline.download += res->seconds.download;
            }
            rel[0] = augmented_rel[0] = '\0';
            if (processed && res->outcome == SERIES_OK) {
                series_name(s, volume_suffix(opt), rel, sizeof rel);
                snprintf(out_path, sizeof out_path, "%s/%s", opt->out_dir, rel);
                double tw = mp_wall_seconds();
                st = write_volume_file(opt, out_path, name, res->shape, res->volume, res->has_affine, res->affine,
                                       &e);
                if (st == MP_OK) sum->bytes_written += res->volume_bytes;
                if (st == MP_OK && opt->augment_rot90)
                    st = write_rotated_copy(opt, s, res, rs->rotated, augmented_rel, sizeof augmented_rel, &e);
                if (st == MP_OK && augmented_rel[0]) sum->bytes_written += res->volume_bytes;
                rs->stages->write += mp_wall_seconds() - tw;
            }
            double seconds = mp_wall_seconds() - job->started;
            if (st == MP_OK && !job->resumed) {
                const char *status = status_name(s, processed ? res : NULL);
                st = append_row(rs->manifest, opt, s, processed ? res : NULL, rel, augmented_rel, seconds, &e);
                if (st == MP_OK) {
                    count_row(sum, status);
                    if (!strcmp(status, "failed"))
                        logf_(opt, MP_LOG_WARN, "%s: failed: %s", name, processed ? res->reason : s->problem);
                    else if (processed)
                        logf_(opt, MP_LOG_DEBUG, "%s: %s, %zu files, %u kept, depth %u, %.3f s%s%s", name, status,
                              s->n_files, res->kept, res->depth, seconds, res->reason[0] ? ": " : "", res->reason);
                    else
                        logf_(opt, MP_LOG_DEBUG, "%s: %s", name, status);
                }
            }
            if (st != MP_OK) fail_run(rs, st, &e);
            prog.series_done++;
            prog.files_done += s->n_files;
            prog.bytes_done = sum->bytes_read;
            prog.elapsed = mp_wall_seconds() - rs->t_start;
            prog.current = name;
            if (opt->progress && !rs->stop) opt->progress(opt->ctx, &prog);
        }
        if (job->volume >= 0) queue_push(&rs->free_volumes, job->volume);
        job->volume = -1;
        queue_push(&rs->free_jobs, j);
    }
    return NULL;
}

/* Runs every series through decode (this thread), compute and write (two threads). */
static mp_status run_series(run_state_t *rs)
{
    pthread_t compute, writer;
    for (long j = 0; j < RUN_JOBS; j++) queue_push(&rs->free_jobs, j);
    for (int b = 0; b < pipeline_batch_count(rs->pipe); b++) queue_push(&rs->free_batches, b);
    for (int v = 0; v < 2; v++) queue_push(&rs->free_volumes, v);
    if (pthread_create(&compute, NULL, compute_thread, rs) != 0) {
        mp_error e;
        mp_fail(&e, MP_ERR_INTERNAL, "cannot start the compute thread");
        fail_run(rs, MP_ERR_INTERNAL, &e);
        return MP_ERR_INTERNAL;
    }
    if (pthread_create(&writer, NULL, write_thread, rs) != 0) {
        mp_error e;
        mp_fail(&e, MP_ERR_INTERNAL, "cannot start the writer thread");
        fail_run(rs, MP_ERR_INTERNAL, &e);
        queue_push(&rs->to_compute, -1);
        pthread_join(compute, NULL);
        return MP_ERR_INTERNAL;
    }
    for (size_t i = 0; i < rs->ds->n_series && !rs->stop; i++) {
        if (rs->opt->interrupt && *rs->opt->interrupt) {
            rs->sum->interrupted = 1; /* the series in flight finish; no new one starts */
            break;
        }
        if (!in_run(rs->in_shard, i)) continue; /* another shard's */
        const series_t *s = &rs->ds->series[i];
        long j = queue_pop(&rs->free_jobs);
        run_job_t *job = &rs->jobs[j];
        memset(job, 0, sizeof *job);
        job->series = i;
        job->resumed = rs->resumed[i];
        job->batch = job->volume = -1;
        job->started = mp_wall_seconds();
        if (s->presence == SERIES_PRESENT && !job->resumed) {
            job->batch = (int)queue_pop(&rs->free_batches);
            mp_error e;
            mp_error_clear(&e);
            mp_status st = pipeline_decode(rs->pipe, job->batch, (const char *const *)s->files, s->n_files, &e);
            if (st != MP_OK) fail_run(rs, st, &e);
        }
        queue_push(&rs->to_compute, j);
    }
    queue_push(&rs->to_compute, -1);
    pthread_join(compute, NULL);
    pthread_join(writer, NULL);
    return rs->status;
}

/* ---- resume ---------------------------------------------------------------------- */

/* "size 256x256 then, 128x128 now, ...": the key=value words of two fingerprints that
 * differ. */
static void fingerprint_difference(const char *then, const char *now, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    const char *a = now;
    while (*a && used + 1 < cap) {
        const char *end = strchr(a, ' '), *eq = strchr(a, '=');
        size_t len = end ? (size_t)(end - a) : strlen(a);
        if (eq && (size_t)(eq - a) < len) {
            size_t key = (size_t)(eq - a) + 1; /* "size=" */
            const char *b = then, *match = NULL;
            while (b && *b && !match) {
                if (!strncmp(b, a, key)) match = b;
                b = strchr(b, ' ');
                if (b) b++;
            }
            size_t mlen = match ? (strchr(match, ' ') ? (size_t)(strchr(match, ' ') - match) : strlen(match)) : 0;
            if (!match || mlen != len || strncmp(match, a, len))
                used += (size_t)snprintf(out + used, cap - used, "%s%.*s %.*s then, %.*s now", used ? ", " : "",
                                         (int)key - 1, a, match ? (int)(mlen - key) : 1, match ? match + key : "?",
                                         (int)(len - key), a + key);
        }
        if (!end) break;
        a = end + 1;
    }
    if (!out[0]) snprintf(out, cap, "%s", then);
}

/* A previous run in OUT made with other output options is an error unless --overwrite;
 * with --overwrite its volumes, manifests and run records are removed first: all of them
 * for a whole run; for a shard, the volumes of its own series, its own records and the
 * merged ones (which it makes stale), never what another shard is writing. */
static mp_status check_previous_run(const run_options_t *opt, const run_records_t *rec, const pipeline_options_t *p,
                                    const dataset_t *ds, const unsigned char *in_shard, previous_run_t *prev,
                                    mp_error *err)
{
    if (!prev->found) return MP_OK;
    char fingerprint[512];
    options_fingerprint(p, output_format_name(opt->format), opt->augment_rot90, opt->seed, fingerprint,
                        sizeof fingerprint);
    int same = prev->fingerprint[0] && !strcmp(prev->fingerprint, fingerprint);
    if (!same && !opt->overwrite) {
        if (!prev->fingerprint[0] && prev->has_run_json)
            return mp_fail(err, MP_ERR_USAGE,
                           "%s/run.json has no options fingerprint (an older mriprep wrote it, before runs could be "
                           "resumed), so its volumes cannot be checked against these options: use --overwrite to "
                           "redo them, or another OUT", opt->out_dir);
        if (!prev->fingerprint[0])
            return mp_fail(err, MP_ERR_USAGE,
                           "%s holds a manifest but no run.json to tell which options made it: use --overwrite to "
                           "replace it, or another OUT", opt->out_dir);
    {
        char differs[512];
        fingerprint_difference(prev->fingerprint, fingerprint, differs, sizeof differs);
        return mp_fail(err, MP_ERR_USAGE,
                       "%s was written with other options (%.300s): use --overwrite to replace it, or another OUT",
                       opt->out_dir, differs);
    }
    }
    if (!opt->overwrite) return MP_OK;
    char path[8192], rel[4096];
    for (size_t i = 0; i < prev->n_rows && !in_shard; i++) {
        for (int f = 13; f <= 18; f += 5) { /* output, augmented */
            const char *row_rel = prev->rows[i].fields[f];
            if (!row_rel[0] || strstr(row_rel, "..") || row_rel[0] == '/') continue; /* only volumes inside OUT */
            snprintf(path, sizeof path, "%s/%s", opt->out_dir, row_rel);
            unlink(path);
        }
    }
    for (size_t i = 0; i < ds->n_series; i++) {
        if (!in_run(in_shard, i)) continue;
        series_name(&ds->series[i], volume_suffix(opt), rel, sizeof rel);
        snprintf(path, sizeof path, "%s/%s", opt->out_dir, rel);
        unlink(path);
    }
    static const char *const merged[] = {"manifest.csv", "manifest.csv.partial", "run.json"};
    for (size_t i = 0; i < sizeof merged / sizeof *merged; i++) {
        snprintf(path, sizeof path, "%s/%s", opt->out_dir, merged[i]);
        unlink(path);
    }
    char **manifests = NULL, **runs = NULL;
    size_t n_manifests = 0, n_runs = 0;
    if (shard_records_list(opt->out_dir, &manifests, &n_manifests, &runs, &n_runs, err) != MP_OK)
        return err ? err->code : MP_ERR_NOMEM;
    for (size_t i = 0; i < n_manifests + n_runs; i++) {
        const char *name = i < n_manifests ? manifests[i] : runs[i - n_manifests];
        /* a shard removes its own records only: "manifest.2-of-4.csv" and its .partial */
        if (in_shard && strncmp(name, rec->manifest, strlen(rec->manifest)) && strcmp(name, rec->run_json)) continue;
        snprintf(path, sizeof path, "%s/%s", opt->out_dir, name);
        unlink(path);
    }
    shard_names_free(manifests, n_manifests);
    shard_names_free(runs, n_runs);
    previous_run_free(prev);
    return MP_OK;
}

/* What a previous run into OUT finished, from every record that may hold it. A shard
 * reads the merged records, then its own (newer). A whole run reads the shard records
 * (a sharded run finished by one machine), then the merged ones. The fingerprint comes
 * from this run's own record, else the merged one, else any shard's. */
static mp_status load_previous_run(const run_options_t *opt, const run_records_t *rec, previous_run_t *prev,
                                   mp_error *err)
{
    char **manifests = NULL, **runs = NULL;
    size_t n_manifests = 0, n_runs = 0;
    mp_status st = shard_records_list(opt->out_dir, &manifests, &n_manifests, &runs, &n_runs, err);
    if (st != MP_OK) return st;
    const char **names = malloc((n_manifests + 4) * sizeof *names);
    if (!names) {
        shard_names_free(manifests, n_manifests);
        shard_names_free(runs, n_runs);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    char own_partial[80];
    snprintf(own_partial, sizeof own_partial, "%s.partial", rec->manifest);
    if (rec->shard[0]) {
        names[n++] = "manifest.csv";
        names[n++] = "manifest.csv.partial";
        names[n++] = rec->manifest;
        names[n++] = own_partial;
    } else {
        for (size_t i = 0; i < n_manifests; i++) names[n++] = manifests[i];
        names[n++] = "manifest.csv";
        names[n++] = "manifest.csv.partial";
    }
    const char *run_json = rec->run_json;
    char path[8192];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", opt->out_dir, run_json);
    if (stat(path, &sb) != 0) {
        snprintf(path, sizeof path, "%s/run.json", opt->out_dir);
        if (stat(path, &sb) == 0) run_json = "run.json";
        else if (!rec->shard[0] && n_runs) run_json = runs[0];
    }
    st = previous_run_load_files(opt->out_dir, run_json, names, n, prev, err);
    free(names);
    shard_names_free(manifests, n_manifests);
    shard_names_free(runs, n_runs);
    return st;
}

/* Bytes of the .npy file of a volume of `depth` slices. */
static uint64_t volume_file_bytes(const pipeline_options_t *p, uint64_t depth)
{
    uint64_t shape[3];
    if (p->layout == LAYOUT_DHW) shape[0] = depth, shape[1] = (uint64_t)p->out_h, shape[2] = (uint64_t)p->out_w;
    else shape[0] = (uint64_t)p->out_h, shape[1] = (uint64_t)p->out_w, shape[2] = depth;
    char header[256];
    return npy_header(header, sizeof header, volume_dtype_npy_descr(p->dtype), shape, 3) +
           (uint64_t)p->out_w * (uint64_t)p->out_h * depth * volume_dtype_size(p->dtype);
}

/* resumed[i] = the previous row of series i when its work is complete: an ok row for
 * the same number of files, whose volume is where this run would put it, whole. */
static void mark_resumable(const run_options_t *opt, const pipeline_options_t *p, const dataset_t *ds,
                           const unsigned char *in_shard, const previous_run_t *prev, const previous_row_t **resumed)
{
    char rel[4096], path[8192], files[32];
    for (size_t i = 0; i < ds->n_series; i++) {
        const series_t *s = &ds->series[i];
        if (s->presence != SERIES_PRESENT || !in_run(in_shard, i)) continue;
        const previous_row_t *r = previous_run_find(prev, s->split, s->patient, s->modality);
        if (!r || strcmp(r->fields[4], "ok")) continue;
        snprintf(files, sizeof files, "%zu", s->n_files);
        series_name(s, volume_suffix(opt), rel, sizeof rel);
        char *end;
        long depth = strtol(r->fields[8], &end, 10);
        if (strcmp(r->fields[6], files) || strcmp(r->fields[13], rel) || *end || depth < 1 || depth > p->slices)
            continue;
        /* Outputs are renamed into place whole, so one that exists is complete; a .npy in
         * the layout's own shape is also checked for its exact size. */
        snprintf(path, sizeof path, "%s/%s", opt->out_dir, rel);
        struct stat st;
        const int exact_size = opt->format == FORMAT_NPY && !p->reorient && p->depth == DEPTH_KEEP;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
            (exact_size && (uint64_t)st.st_size != volume_file_bytes(p, (uint64_t)depth)))
            continue;
        if (opt->augment_rot90) {
            char copy[4096];
            series_name(s, "", copy, sizeof copy);
            augmented_name(s, opt, rot90_turns_for(opt->seed, copy), copy, sizeof copy);
            snprintf(path, sizeof path, "%s/%s", opt->out_dir, copy);
            if (strcmp(r->fields[18], copy) || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        }
        resumed[i] = r;
    }
}

/* Before writing: OUT must have room for what is left to write. The estimate is an
 * upper bound (every file a kept slice, up to K), so --force only warns. */
static mp_status check_free_space(const run_options_t *opt, const pipeline_options_t *p, const dataset_t *ds,
                                  const unsigned char *in_shard, const previous_row_t *const *resumed, mp_error *err)
{
    uint64_t need = 0;
    for (size_t i = 0; i < ds->n_series; i++) {
        const series_t *s = &ds->series[i];
        if (s->presence != SERIES_PRESENT || resumed[i] || !in_run(in_shard, i)) continue;
        uint64_t depth = s->n_files < (size_t)p->slices ? s->n_files : (uint64_t)p->slices;
        need += volume_file_bytes(p, depth);
    }
    /* OUT may not exist yet: ask the nearest folder that does. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", opt->out_dir);
    struct statvfs fs;
    while (statvfs(dir, &fs) != 0) {
        char *slash = strrchr(dir, '/');
        if (!slash) {
            snprintf(dir, sizeof dir, ".");
            if (statvfs(dir, &fs) != 0) return MP_OK; /* cannot tell: let the writes speak */
            break;
        }
        if (slash == dir) slash[1] = '\0';
        else *slash = '\0';
    }
    uint64_t avail = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    if (need <= avail) return MP_OK;
    if (opt->force) {
        logf_(opt, MP_LOG_WARN, "%s: up to %.2f GB to write, %.2f GB free: going on (--force)", opt->out_dir,
              (double)need / 1e9, (double)avail / 1e9);
        return MP_OK;
    }
    return mp_fail(err, MP_ERR_WRITE,
                   "%s: up to %.2f GB to write (every .dcm file a kept slice), only %.2f GB free: free some space, "
                   "use --dtype float16, or --force to try anyway", opt->out_dir, (double)need / 1e9,
                   (double)avail / 1e9);
}

/* Temporary files of a killed run, in OUT and in every folder this run writes into. A
 * shard removes only the temporary files of its own records and volumes: the shards
 * beside it may be writing theirs. */
static size_t remove_leftovers(const run_options_t *opt, const run_records_t *rec, const dataset_t *ds,
                               const unsigned char *in_shard)
{
    size_t removed;
    if (in_shard)
        removed = remove_temporary_files(opt->out_dir, rec->manifest) +
                  remove_temporary_files(opt->out_dir, rec->run_json);
    else
        removed = remove_temporary_files(opt->out_dir, NULL);
    char dir[8192], volume[300];
    for (size_t i = 0; i < ds->n_series; i++) {
        const series_t *s = &ds->series[i];
        if (!in_run(in_shard, i)) continue;
        snprintf(dir, sizeof dir, "%s/%s%s%s", opt->out_dir, s->split, s->split[0] ? "/" : "", s->patient);
        if (in_shard) {
            snprintf(volume, sizeof volume, "%s%s", s->modality, volume_suffix(opt));
            removed += remove_temporary_files(dir, volume);
            for (int k = 1; k <= 3 && opt->augment_rot90; k++) {
                snprintf(volume, sizeof volume, "%s.rot%d%s", s->modality, 90 * k, volume_suffix(opt));
                removed += remove_temporary_files(dir, volume);
            }
        } else if (i == 0 || ds->series[i - 1].split != s->split || strcmp(ds->series[i - 1].patient, s->patient)) {
            removed += remove_temporary_files(dir, NULL);
        }
    }
    return removed;
}

mp_status run_dataset(const run_options_t *opt, run_summary_t *sum, mp_error *err)
{
    memset(sum, 0, sizeof *sum);
    const double t_start = mp_wall_seconds();
    run_stages_t stages;
    memset(&stages, 0, sizeof stages);
    pipeline_options_t popt = opt->pipeline;
    mp_status st = pipeline_options_validate(&popt, err);
    if (st != MP_OK) return st;
    if (opt->format != FORMAT_NPY && popt.dtype == DTYPE_FLOAT16)
        return mp_fail(err, MP_ERR_USAGE, "--dtype float16 with --format %s: NIfTI-1 has no float16 type",
                       output_format_name(opt->format));

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
    /* A shard: which series are its own, and its record names. */
    run_records_t rec;
    memset(&rec, 0, sizeof rec);
    shard_record_names(opt->shard_k, opt->shard_n, rec.manifest, sizeof rec.manifest, rec.run_json,
                       sizeof rec.run_json);
    if (!realpath(opt->data_dir, rec.data_absolute)) snprintf(rec.data_absolute, sizeof rec.data_absolute, "%s",
                                                              opt->data_dir);
    unsigned char *in_shard = NULL;
    if (opt->shard_n > 0) {
        snprintf(rec.shard, sizeof rec.shard, "%d/%d", opt->shard_k, opt->shard_n);
        int *shard_of = malloc((ds.n_series ? ds.n_series : 1) * sizeof *shard_of);
        in_shard = calloc(ds.n_series ? ds.n_series : 1, 1);
        st = shard_of && in_shard ? shard_assign(&ds, opt->shard_n, shard_of, err)
                                  : mp_fail(err, MP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == MP_OK && i < ds.n_series; i++) in_shard[i] = shard_of[i] == opt->shard_k;
        free(shard_of);
        if (st != MP_OK || opt->shard_k < 0 || opt->shard_k >= opt->shard_n) {
            if (st == MP_OK) st = mp_fail(err, MP_ERR_USAGE, "--shard %d/%d: K must be 0..N-1", opt->shard_k,
                                          opt->shard_n);
            free(in_shard);
            dataset_free(&ds);
            labels_free(&labels);
            return st;
        }
    }
    sum->labels_without_images = ds.n_labels_without_images;
    sum->images_without_labels = ds.n_images_without_label;
    size_t present = 0;
    for (size_t i = 0; i < ds.n_series; i++) present += ds.series[i].presence != SERIES_NO_FOLDER;
    uint64_t volume_max = (uint64_t)popt.out_w * (uint64_t)popt.out_h * (uint64_t)popt.slices *
                          (uint64_t)volume_dtype_size(popt.dtype);
    for (size_t i = 0; i < ds.n_series; i++) {
        if (!in_run(in_shard, i)) continue;
        const series_t *s = &ds.series[i];
        sum->series++;
        sum->files += s->n_files;
        if (s->presence == SERIES_PRESENT) sum->expected_bytes += volume_max + 128;
        /* patients with a series here (series of a patient are adjacent) */
        size_t p = i;
        while (p > 0 && ds.series[p - 1].split == s->split && !strcmp(ds.series[p - 1].patient, s->patient) &&
               !in_run(in_shard, p - 1))
            p--;
        if (p == 0 || ds.series[p - 1].split != s->split || strcmp(ds.series[p - 1].patient, s->patient))
            sum->patients++;
    }
    logf_(opt, MP_LOG_INFO, "%s: %zu patients (%s), %zu series, %zu .dcm files, walked in %.2f s", opt->data_dir,
          ds.n_patients, ds.splits_text, ds.n_series, ds.n_files, stages.walk);
    if (in_shard)
        logf_(opt, MP_LOG_INFO, "shard %s: %zu series, %zu .dcm files (%.1f%% of the files); records %s, %s",
              rec.shard, sum->series, sum->files, ds.n_files ? 100.0 * (double)sum->files / (double)ds.n_files : 0.0,
              rec.manifest, rec.run_json);
    if (sum->labels_used[0])
        logf_(opt, MP_LOG_INFO, "labels: %s (%zu IDs; %zu without images, %zu train patients without a label)",
              sum->labels_used, labels.n, sum->labels_without_images, sum->images_without_labels);

    /* The device is settled before anything is written: --device cuda without a usable
     * device is an error that leaves OUT untouched. */
    st = pipeline_resolve_device(opt->device, opt->cuda_index, &popt, sum->device_reason, sizeof sum->device_reason,
                                 err);
    if (st != MP_OK) {
        free(in_shard);
        dataset_free(&ds);
        labels_free(&labels);
        return st;
    }
    if (ds.n_patients == 0 || present == 0) {
        sum->no_series = 1;
        logf_(opt, MP_LOG_ERROR, "%s: no series found (%s)", opt->data_dir,
              ds.n_patients == 0 ? "no patient folders" : "no patient has a requested modality folder");
    }
    if (opt->dry_run || ds.n_patients == 0) {
        snprintf(sum->device, sizeof sum->device, "%s", popt.device == DEVICE_CUDA ? "cuda" : "cpu");
        if (opt->dry_run)
            logf_(opt, MP_LOG_INFO, "dry run: would write at most %.1f GB into %s, computing on %s (%s); nothing written",
                  (double)sum->expected_bytes / 1e9, opt->out_dir, sum->device, sum->device_reason);
        free(in_shard);
        dataset_free(&ds);
        labels_free(&labels);
        sum->elapsed = mp_wall_seconds() - t_start;
        return MP_OK;
    }

    /* What a previous run into OUT finished; refuse to mix in other options. */
    previous_run_t prev;
    const previous_row_t **resumed = calloc(ds.n_series ? ds.n_series : 1, sizeof *resumed);
    memset(&prev, 0, sizeof prev);
    st = resumed ? load_previous_run(opt, &rec, &prev, err) : mp_fail(err, MP_ERR_NOMEM, "out of memory");
    if (st == MP_OK) st = check_previous_run(opt, &rec, &popt, &ds, in_shard, &prev, err);
    if (st == MP_OK && !opt->overwrite) mark_resumable(opt, &popt, &ds, in_shard, &prev, resumed);
    if (st == MP_OK) st = check_free_space(opt, &popt, &ds, in_shard, resumed, err);
    pipeline_t *pipe = NULL;
    if (st == MP_OK) st = pipeline_create(&popt, &pipe, err);
    if (st != MP_OK) {
        previous_run_free(&prev);
        free(resumed);
        free(in_shard);
        dataset_free(&ds);
        labels_free(&labels);
        return st;
    }
    sum->threads = pipeline_threads(pipe);
    snprintf(sum->device, sizeof sum->device, "%s", pipeline_device_description(pipe));
    logf_(opt, MP_LOG_INFO, "device: %s (%s), %d decode threads; writing %s", sum->device, sum->device_reason,
          sum->threads, opt->out_dir);

    manifest_writer_t manifest;
    memset(&manifest, 0, sizeof manifest);
    char *manifest_path = malloc(strlen(opt->out_dir) + strlen(rec.manifest) + 2);
    if (!manifest_path) st = mp_fail(err, MP_ERR_NOMEM, "out of memory");
    if (st == MP_OK) st = make_dirs(opt->out_dir, err);
    if (st == MP_OK) {
        size_t removed = remove_leftovers(opt, &rec, &ds, in_shard);
        size_t kept = 0;
        for (size_t i = 0; i < ds.n_series; i++) kept += resumed[i] != NULL;
        if (prev.found)
            logf_(opt, MP_LOG_INFO, "resuming: %zu series already done are kept%s%s", kept,
                  opt->overwrite ? " (--overwrite: none)" : "",
                  removed ? ", leftover temporary files removed" : "");
        /* The fingerprint goes to disk before any volume, so a run killed at any point
         * can be resumed, and checked. */
        mp_error jerr;
        mp_status jst = MP_OK;
        write_run_json(opt, &rec, &popt, sum, &stages, sum->labels_used[0] ? &labels : NULL, "running", &jerr, &jst);
        if (jst != MP_OK) {
            st = jst;
            if (err) *err = jerr;
        }
    }
    if (st == MP_OK) {
        sprintf(manifest_path, "%s/%s", opt->out_dir, rec.manifest);
        st = manifest_open(&manifest, manifest_path, err);
    }
    if (st == MP_OK) {
        run_state_t rs;
        memset(&rs, 0, sizeof rs);
        rs.opt = opt;
        rs.ds = &ds;
        rs.resumed = resumed;
        rs.in_shard = in_shard;
        rs.pipe = pipe;
        rs.manifest = &manifest;
        rs.sum = sum;
        rs.stages = &stages;
        rs.t_start = t_start;
        job_queue_t *queues[] = {&rs.to_compute, &rs.to_write, &rs.free_batches, &rs.free_volumes, &rs.free_jobs};
        for (size_t q = 0; q < sizeof queues / sizeof *queues; q++) queue_init(queues[q]);
        pthread_mutex_init(&rs.error_lock, NULL);
        if (opt->augment_rot90) {
            rs.rotated = malloc((size_t)popt.out_w * (size_t)popt.out_h * (size_t)popt.slices *
                                volume_dtype_size(popt.dtype));
            if (!rs.rotated) st = mp_fail(err, MP_ERR_NOMEM, "cannot allocate a volume for the rotated copies");
        }
        if (st == MP_OK) {
            st = run_series(&rs);
            if (st != MP_OK && err) *err = rs.error;
        }
        free(rs.rotated);
        for (size_t q = 0; q < sizeof queues / sizeof *queues; q++) queue_destroy(queues[q]);
        pthread_mutex_destroy(&rs.error_lock);
    }
    pipeline_destroy(pipe);
    sum->elapsed = mp_wall_seconds() - t_start;

    if (manifest.file) {
        mp_error merr;
        mp_status mst = manifest_finish(&manifest, &merr);
        if (st == MP_OK && mst != MP_OK) {
            st = mst;
            if (err) *err = merr;
        }
    }
    if (manifest_path && (st == MP_OK || st == MP_ERR_WRITE)) {
        /* After a write error run.json is still attempted: it records how far the run got. */
        mp_error jerr;
        mp_status jst = MP_OK;
        write_run_json(opt, &rec, &popt, sum, &stages, sum->labels_used[0] ? &labels : NULL,
                       sum->interrupted ? "interrupted" : st == MP_OK ? "complete" : "failed", &jerr, &jst);
        if (st == MP_OK && jst != MP_OK) {
            st = jst;
            if (err) *err = jerr;
        }
    }
    if (st == MP_OK && sum->interrupted)
        st = mp_fail(err, MP_ERR_INTERRUPTED, "interrupted: %zu of %zu series written; rerun the same command to "
                     "finish (finished series are kept)", sum->ok + sum->empty + sum->missing + sum->failed +
                     sum->excluded, sum->series);
    free(manifest_path);
    previous_run_free(&prev);
    free(resumed);
    free(in_shard);
    dataset_free(&ds);
    labels_free(&labels);
    return st;
}
