/* run_stages.c - the three stages of a run at once, over bounded queues:
 *
 *   read-ahead       the next files' reads queued ahead of decode   readahead.h
 *   this thread      decode series i+1 (OpenMP over its files)     pipeline_decode
 *   compute thread   compute series i (CPU backend or CUDA)        pipeline_compute
 *   writer thread    series i-1: its volume (and rotated copy) renamed into place, then
 *                    its manifest row appended and flushed, in dataset order
 *
 * Job records, free batches and free volumes travel in queues of their own, so each stage
 * blocks only on the resource it needs; memory is bounded by the pipeline's batches and
 * two volumes, whatever the dataset. The first fatal error stops every stage; they drain
 * and the run returns it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "mriprep/augment.h"
#include "mriprep/log.h"
#include "mriprep/timer.h"
#include "mriprep/volume_file.h"

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
    int batch, volume;             /* -1: none held */
    series_result_t result;
    double started;
} run_job_t;

/* What the three threads share. */
typedef struct stages {
    run_t *run;
    run_job_t jobs[RUN_JOBS];
    job_queue_t to_compute, to_write, free_batches, free_volumes, free_jobs;
    pthread_mutex_t error_lock;
    mp_status status; /* first fatal error */
    mp_error error;
    atomic_int stop;  /* set by the first fatal error: stages stop working and drain */
    void *rotated;    /* --augment rot90: room for one volume, the writer's */
    run_progress_t progress;
    char current[4096]; /* progress.current: the series just written */
    readahead_t *ahead;       /* NULL: --readahead 0, or nothing to decode */
    const char **ahead_files; /* [n] the files decode_all will read, in its order */
    size_t ahead_decoded;     /* files of ahead_files decoded so far */
} stages_t;

static void fail_run(stages_t *sg, mp_status st, const mp_error *e)
{
    pthread_mutex_lock(&sg->error_lock);
    if (sg->status == MP_OK) {
        sg->status = st;
        sg->error = *e;
    }
    sg->stop = 1;
    pthread_mutex_unlock(&sg->error_lock);
}

static void *compute_thread(void *arg)
{
    stages_t *sg = arg;
    for (;;) {
        long j = queue_pop(&sg->to_compute);
        if (j < 0) break;
        run_job_t *job = &sg->jobs[j];
        if (job->batch >= 0) {
            if (!sg->stop) {
                job->volume = (int)queue_pop(&sg->free_volumes);
                mp_error e;
                mp_error_clear(&e);
                mp_status st = pipeline_compute(sg->run->pipe, job->batch, job->volume, &job->result, &e);
                if (st != MP_OK) fail_run(sg, st, &e);
            }
            queue_push(&sg->free_batches, job->batch);
            job->batch = -1;
        }
        queue_push(&sg->to_write, j);
    }
    queue_push(&sg->to_write, -1);
    return NULL;
}

/* ---- the writer ------------------------------------------------------------------------ */

static series_status_t status_of(const series_t *s, const series_result_t *r)
{
    switch (s->presence) {
    case SERIES_NO_FOLDER: return STATUS_MISSING;
    case SERIES_NO_DCM: return STATUS_EMPTY;
    case SERIES_EXCLUDED: return STATUS_EXCLUDED;
    case SERIES_UNREADABLE: return STATUS_FAILED;
    case SERIES_PRESENT: break;
    }
    if (!r) return STATUS_FAILED;
    return r->outcome == SERIES_OK ? STATUS_OK : r->outcome == SERIES_EMPTY ? STATUS_EMPTY : STATUS_FAILED;
}

/* Series s's manifest row (r is NULL when the series was not processed); text the row
 * points to lives in `text` (geometry) and `missing` (the missing folder's reason). */
static void series_row(const run_t *run, const series_t *s, const series_result_t *r, const char *output,
                       const char *augmented, double seconds, manifest_row_t *row, char *geometry, size_t geometry_cap,
                       char *missing, size_t missing_cap)
{
    manifest_row_clear(row);
    row->field[MANIFEST_SPLIT] = s->split;
    row->field[MANIFEST_ID] = s->patient;
    row->field[MANIFEST_MODALITY] = s->modality;
    row->field[MANIFEST_LABEL] = s->label;
    row->field[MANIFEST_STATUS] = series_status_name(status_of(s, r));
    manifest_row_set_count(row, MANIFEST_FILES, (int64_t)s->n_files);
    switch (s->presence) {
    case SERIES_NO_FOLDER:
        snprintf(missing, missing_cap, "no %.200s folder", s->modality);
        row->field[MANIFEST_REASON] = missing;
        return;
    case SERIES_NO_DCM:
        row->field[MANIFEST_REASON] = "no .dcm files";
        manifest_row_set_count(row, MANIFEST_KEPT, 0);
        manifest_row_set_count(row, MANIFEST_DEPTH, 0);
        return;
    case SERIES_EXCLUDED: row->field[MANIFEST_REASON] = "excluded by --exclude"; return;
    case SERIES_UNREADABLE: row->field[MANIFEST_REASON] = s->problem; return;
    case SERIES_PRESENT: break;
    }
    row->field[MANIFEST_REASON] = r->reason;
    manifest_row_set_seconds(row, MANIFEST_SECONDS, seconds);
    if (r->src_rows) {
        manifest_row_set_count(row, MANIFEST_SRC_ROWS, r->src_rows);
        manifest_row_set_count(row, MANIFEST_SRC_COLS, r->src_cols);
        row->field[MANIFEST_PLANE] = plane_name(r->plane);
    }
    if (r->outcome == SERIES_FAILED) return;
    manifest_row_set_count(row, MANIFEST_KEPT, r->kept);
    manifest_row_set_count(row, MANIFEST_DEPTH, r->depth);
    row->field[MANIFEST_ORDER] = slice_order_name(r->order);
    if (r->outcome != SERIES_OK) return;
    manifest_row_set_exact(row, MANIFEST_MEAN, r->mean);
    manifest_row_set_exact(row, MANIFEST_STD, r->std);
    row->field[MANIFEST_OUTPUT] = output;
    row->field[MANIFEST_AUGMENTED] = augmented;
    /* Where the volume lies: said when it matters (reorientation asked for, or a NIfTI
     * file whose affine places it). */
    const int explain = run->popt.reorient || run->opt->format != FORMAT_NPY;
    snprintf(geometry, geometry_cap, "%s%s%.250s", r->reoriented ? "LPS" : "as stored",
             explain && r->geometry_note[0] ? "; " : "", explain ? r->geometry_note : "");
    row->field[MANIFEST_GEOMETRY] = geometry;
}

/* A previous run's row as it was, but for the label, which follows this run's labels. */
static mp_status keep_resumed_row(stages_t *sg, const series_t *s, const previous_row_t *prev, const char *name,
                                  mp_error *e)
{
    const char *fields[MANIFEST_COLUMNS];
    for (int f = 0; f < MANIFEST_COLUMNS; f++) fields[f] = prev->fields[f];
    fields[MANIFEST_LABEL] = s->label;
    mp_status st = manifest_append(&sg->run->manifest, fields, e);
    if (st != MP_OK) return st;
    run_totals_t *t = &sg->run->sum->totals;
    t->status.n[STATUS_OK]++;
    t->resumed++;
    mp_log(sg->run->opt->log, sg->run->opt->ctx, MP_LOG_DEBUG, "%s: ok (kept from the previous run)", name);
    return MP_OK;
}

/* The volume of an ok series, and its rotated copy, renamed into place. */
static mp_status write_outputs(stages_t *sg, const series_t *s, const series_result_t *res, const char *name,
                               char *rel, char *augmented, size_t cap, mp_error *e)
{
    run_t *run = sg->run;
    const output_format_t format = run->opt->format;
    char path[8192];
    volume_view_t v;
    memset(&v, 0, sizeof v);
    v.data = res->volume;
    memcpy(v.shape, res->shape, sizeof v.shape);
    v.dtype = run->popt.dtype;
    v.has_affine = res->has_affine;
    memcpy(v.affine, res->affine, sizeof v.affine);
    v.padding = res->padding;
    double t0 = mp_wall_seconds();
    volume_file_name(s, format, 0, rel, cap);
    run_out_path(run, rel, path, sizeof path);
    mp_status st = volume_file_write(path, format, name, &v, e);
    if (st == MP_OK) run->sum->totals.bytes_written += res->volume_bytes;
    if (st == MP_OK && run->opt->augment_rot90) {
        const int turns = rot90_turns_for(run->opt->seed, name);
        volume_file_name(s, format, turns, augmented, cap);
        run_out_path(run, augmented, path, sizeof path);
        st = volume_file_write_rotated(path, format, name, &v, run->popt.layout, turns, sg->rotated, e);
        if (st == MP_OK) run->sum->totals.bytes_written += res->volume_bytes;
    }
    run->sum->stages.write += mp_wall_seconds() - t0;
    return st;
}

/* What a processed series adds to the totals and the stage times. */
static void count_processed(run_t *run, const series_t *s, const series_result_t *res)
{
    run_totals_t *t = &run->sum->totals;
    stage_times_t *p = &run->sum->stages.pipeline;
    t->files_decoded += s->n_files;
    t->files_reread += res->reread;
    t->bytes_read += res->bytes_read;
    p->decode += res->seconds.decode;
    p->stats += res->seconds.stats;
    p->resize += res->seconds.resize;
    p->zscore += res->seconds.zscore;
    p->upload += res->seconds.upload;
    p->download += res->seconds.download;
}

/* The row of a series this run did, and its log line. */
static mp_status append_series_row(stages_t *sg, const series_t *s, const series_result_t *res, const char *name,
                                   const char *rel, const char *augmented, double seconds, mp_error *e)
{
    run_t *run = sg->run;
    manifest_row_t row;
    char geometry[300], missing[300];
    series_row(run, s, res, rel, augmented, seconds, &row, geometry, sizeof geometry, missing, sizeof missing);
    mp_status st = manifest_append(&run->manifest, row.field, e);
    if (st != MP_OK) return st;
    const series_status_t status = status_of(s, res);
    run->sum->totals.status.n[status]++;
    const run_options_t *opt = run->opt;
    if (status == STATUS_FAILED)
        mp_log(opt->log, opt->ctx, MP_LOG_WARN, "%s: failed: %s", name, res ? res->reason : s->problem);
    else if (res)
        mp_log(opt->log, opt->ctx, MP_LOG_DEBUG, "%s: %s, %zu files, %u kept, depth %u, %.3f s%s%s", name,
               series_status_name(status), s->n_files, res->kept, res->depth, seconds, res->reason[0] ? ": " : "",
               res->reason);
    else
        mp_log(opt->log, opt->ctx, MP_LOG_DEBUG, "%s: %s", name, series_status_name(status));
    return MP_OK;
}

/* Everything the writer does for one job: outputs, row, totals, progress. */
static void write_job(stages_t *sg, run_job_t *job)
{
    run_t *run = sg->run;
    const series_t *s = &run->ds.series[job->series];
    const series_result_t *res = &job->result;
    char name[4096], rel[4096] = "", augmented[4096] = "";
    series_name(s, "", name, sizeof name);
    mp_error e;
    mp_error_clear(&e);
    mp_status st = MP_OK;
    const int processed = s->presence == SERIES_PRESENT && !job->resumed;
    if (job->resumed) st = keep_resumed_row(sg, s, job->resumed, name, &e);
    if (processed) count_processed(run, s, res);
    if (st == MP_OK && processed && res->outcome == SERIES_OK)
        st = write_outputs(sg, s, res, name, rel, augmented, sizeof rel, &e);
    if (st == MP_OK && !job->resumed)
        st = append_series_row(sg, s, processed ? res : NULL, name, rel, augmented, mp_wall_seconds() - job->started,
                               &e);
    if (st != MP_OK) fail_run(sg, st, &e);
    run_progress_t *prog = &sg->progress;
    prog->series_done++;
    prog->files_done += s->n_files;
    prog->bytes_done = run->sum->totals.bytes_read;
    prog->elapsed = mp_wall_seconds() - run->t_start;
    snprintf(sg->current, sizeof sg->current, "%s", name);
    prog->current = sg->current;
    if (run->opt->progress && !sg->stop) run->opt->progress(run->opt->ctx, prog);
}

static void *write_thread(void *arg)
{
    stages_t *sg = arg;
    for (;;) {
        long j = queue_pop(&sg->to_write);
        if (j < 0) break;
        run_job_t *job = &sg->jobs[j];
        if (!sg->stop) write_job(sg, job);
        if (job->volume >= 0) queue_push(&sg->free_volumes, job->volume);
        job->volume = -1;
        queue_push(&sg->free_jobs, j);
    }
    return NULL;
}

/* ---- the decode stage, on the calling thread ------------------------------------------- */

static mp_status start_threads(stages_t *sg, pthread_t *compute, pthread_t *writer)
{
    mp_error e;
    if (pthread_create(compute, NULL, compute_thread, sg) != 0) {
        fail_run(sg, mp_fail(&e, MP_ERR_INTERNAL, "cannot start the compute thread"), &e);
        return MP_ERR_INTERNAL;
    }
    if (pthread_create(writer, NULL, write_thread, sg) != 0) {
        fail_run(sg, mp_fail(&e, MP_ERR_INTERNAL, "cannot start the writer thread"), &e);
        queue_push(&sg->to_compute, -1);
        pthread_join(*compute, NULL);
        return MP_ERR_INTERNAL;
    }
    return MP_OK;
}

/* Series i goes through the decode stage (not another shard's, not kept from before). */
static int decodes_series(const run_t *run, size_t i)
{
    return run_has_series(run, i) && run->ds.series[i].presence == SERIES_PRESENT && !run->resumed[i];
}

/* The read-ahead over every file decode_all will read, in its order (across series). */
static mp_status start_readahead(stages_t *sg, mp_error *err)
{
    run_t *run = sg->run;
    size_t n = 0;
    for (size_t i = 0; i < run->ds.n_series; i++)
        if (decodes_series(run, i)) n += run->ds.series[i].n_files;
    if (!run->ahead_opt.max_bytes || !n) return MP_OK;
    sg->ahead_files = malloc(n * sizeof *sg->ahead_files);
    if (!sg->ahead_files) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the read-ahead list of %zu files", n);
    size_t k = 0;
    for (size_t i = 0; i < run->ds.n_series; i++)
        for (size_t f = 0; decodes_series(run, i) && f < run->ds.series[i].n_files; f++)
            sg->ahead_files[k++] = run->ds.series[i].files[f];
    return readahead_start(sg->ahead_files, n, &run->ahead_opt, &sg->ahead, err);
}

/* Decodes every series of the run in order, handing each to the compute thread. */
static void decode_all(stages_t *sg)
{
    run_t *run = sg->run;
    for (size_t i = 0; i < run->ds.n_series && !sg->stop; i++) {
        if (run->opt->interrupt && *run->opt->interrupt) {
            run->sum->interrupted = 1; /* the series in flight finish; no new one starts */
            break;
        }
        if (!run_has_series(run, i)) continue; /* another shard's */
        const series_t *s = &run->ds.series[i];
        long j = queue_pop(&sg->free_jobs);
        run_job_t *job = &sg->jobs[j];
        memset(job, 0, sizeof *job);
        job->series = i;
        job->resumed = run->resumed[i];
        job->batch = job->volume = -1;
        job->started = mp_wall_seconds();
        if (decodes_series(run, i)) {
            job->batch = (int)queue_pop(&sg->free_batches);
            mp_error e;
            mp_error_clear(&e);
            mp_status st =
                pipeline_decode(run->pipe, job->batch, (const char *const *)s->files, s->n_files, sg->ahead, &e);
            if (st != MP_OK) fail_run(sg, st, &e);
            sg->ahead_decoded += s->n_files;
            readahead_retire(sg->ahead, sg->ahead_decoded); /* read once: its pages may go */
        }
        queue_push(&sg->to_compute, j);
    }
    queue_push(&sg->to_compute, -1);
}

mp_status run_stages(run_t *run, mp_error *err)
{
    stages_t *sg = calloc(1, sizeof *sg);
    if (!sg) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    sg->run = run;
    sg->progress.series_total = run->sum->totals.series;
    sg->progress.files_total = run->sum->totals.files;
    job_queue_t *queues[] = {&sg->to_compute, &sg->to_write, &sg->free_batches, &sg->free_volumes, &sg->free_jobs};
    for (size_t q = 0; q < sizeof queues / sizeof *queues; q++) queue_init(queues[q]);
    pthread_mutex_init(&sg->error_lock, NULL);
    mp_status st = MP_OK;
    if (run->opt->augment_rot90 && !(sg->rotated = malloc((size_t)volume_max_bytes(&run->popt))))
        st = mp_fail(err, MP_ERR_NOMEM, "cannot allocate a volume for the rotated copies");
    if (st == MP_OK) st = start_readahead(sg, err);
    pthread_t compute, writer;
    if (st == MP_OK) {
        for (long j = 0; j < RUN_JOBS; j++) queue_push(&sg->free_jobs, j);
        for (int b = 0; b < pipeline_batch_count(run->pipe); b++) queue_push(&sg->free_batches, b);
        for (int v = 0; v < 2; v++) queue_push(&sg->free_volumes, v);
        if (start_threads(sg, &compute, &writer) == MP_OK) {
            decode_all(sg);
            pthread_join(compute, NULL);
            pthread_join(writer, NULL);
        }
        st = sg->status;
        if (st != MP_OK && err) *err = sg->error;
    }
    readahead_stop(sg->ahead, &run->sum->readahead);
    free(sg->ahead_files);
    free(sg->rotated);
    for (size_t q = 0; q < sizeof queues / sizeof *queues; q++) queue_destroy(queues[q]);
    pthread_mutex_destroy(&sg->error_lock);
    free(sg);
    return st;
}
