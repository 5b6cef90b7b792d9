/* api.c - the public C API (include/mriprep/mriprep.h) over the library's own stages:
 * dataset.h (walk, list one series folder), pipeline.h (decode + compute one series),
 * labels.h. It takes the options in the words `mriprep run` takes (pipeline_option_parse,
 * device_request_parse, dataset_check_modalities) and settles the device as run does
 * (pipeline_resolve_device), so that a volume made here is the one run writes, byte for
 * byte.
 */
#include "mriprep/mriprep.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mriprep/cuda_backend.h"
#include "mriprep/dataset.h"
#include "mriprep/dicom.h"
#include "mriprep/error.h"
#include "mriprep/features.h"
#include "mriprep/labels.h"
#include "mriprep/pipeline.h"

/* The public codes are the library's own where they overlap, so a status passes through. */
_Static_assert((int)MRIPREP_OK == (int)MP_OK, "status codes");
_Static_assert((int)MRIPREP_ERR_IO == (int)MP_ERR_IO, "status codes");
_Static_assert((int)MRIPREP_ERR_FORMAT == (int)MP_ERR_FORMAT, "status codes");
_Static_assert((int)MRIPREP_ERR_NOMEM == (int)MP_ERR_NOMEM, "status codes");
_Static_assert((int)MRIPREP_ERR_USAGE == (int)MP_ERR_USAGE, "status codes");
_Static_assert((int)MRIPREP_ERR_INTERNAL == (int)MP_ERR_INTERNAL, "status codes");
_Static_assert((int)MRIPREP_ERR_BUFFER > (int)MP_ERR_INTERRUPTED, "status codes");
_Static_assert((int)MRIPREP_SERIES_OK == (int)SERIES_OK && (int)MRIPREP_SERIES_EMPTY == (int)SERIES_EMPTY &&
                   (int)MRIPREP_SERIES_FAILED == (int)SERIES_FAILED,
               "outcomes");
_Static_assert((int)MRIPREP_PRESENT == (int)SERIES_PRESENT && (int)MRIPREP_MISSING == (int)SERIES_NO_FOLDER &&
                   (int)MRIPREP_NO_DCM == (int)SERIES_NO_DCM && (int)MRIPREP_EXCLUDED == (int)SERIES_EXCLUDED &&
                   (int)MRIPREP_UNREADABLE == (int)SERIES_UNREADABLE,
               "presence");
_Static_assert(MRIPREP_MESSAGE_MAX == MP_ERROR_MSG_MAX, "message size");

static const char *const DEFAULT_MODALITIES[] = DATASET_DEFAULT_MODALITIES;

struct mriprep_context {
    pipeline_options_t popt;         /* resolved: device and CUDA index settled */
    pipeline_t *pipe;
    char device_reason[MRIPREP_MESSAGE_MAX];
    char last_error[MRIPREP_MESSAGE_MAX];
    const void *volume;              /* the last OK volume: inside the pipeline's volume 0 */
    size_t volume_bytes;             /* 0: none to copy */
};

struct mriprep_dataset {
    dataset_t ds;
    label_table_t labels;
    char labels_used[4096];
    char **modalities;               /* [n_modalities] copies: the series point into them */
    size_t n_modalities;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void put_message(char *message, size_t cap, const char *text)
{
    if (message && cap > 0) snprintf(message, cap, "%s", text);
}

/* dcmtk's codecs are registered once per process, before any decode thread starts. */
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static mp_status g_init_status = MP_OK;
static mp_error g_init_error;

static void global_init(void)
{
    mp_error_clear(&g_init_error);
    g_init_status = dicom_global_init(&g_init_error);
}

static mp_status ensure_global_init(mp_error *err)
{
    pthread_once(&g_init_once, global_init);
    if (g_init_status != MP_OK && err) *err = g_init_error;
    return g_init_status;
}

/* GNU libgomp's thread pool does not survive fork(): in a child of a process that ran a
 * parallel region with more than one thread, the next such region waits forever for the
 * parent's threads (a PyTorch DataLoader worker forked after the main process read an
 * item). One thread is safe. So the process that starts OpenMP teams is remembered, and
 * a context created in any other process (a forked child) runs on one thread; its
 * volumes are the same bytes whatever the thread count. */
static atomic_int g_omp_team_pid;

static int forked_after_omp_teams(void)
{
    int pid = atomic_load(&g_omp_team_pid);
    return pid != 0 && pid != (int)getpid();
}

const char *mriprep_status_name(int status)
{
    if (status == MRIPREP_ERR_BUFFER) return "buffer";
    return mp_status_name((mp_status)status);
}

int mriprep_api_version(void) { return MRIPREP_API_VERSION; }

const char *mriprep_version_string(void) { return mriprep_version(); }

/* The bytes of mriprep_options_t that API version 1 had: everything before `order`. */
#define OPTIONS_V1_BYTES offsetof(mriprep_options_t, order)

void mriprep_options_init_version(mriprep_options_t *opt, int api_version)
{
    pipeline_options_t d;
    pipeline_options_default(&d);
    const int version = api_version < 1 ? 1 : api_version > MRIPREP_API_VERSION ? MRIPREP_API_VERSION : api_version;
    memset(opt, 0, version >= 2 ? sizeof *opt : OPTIONS_V1_BYTES);
    opt->api_version = version;
    opt->width = d.out_w;
    opt->height = d.out_h;
    opt->slices = d.slices;
    opt->dark = d.dark;
    opt->margin = d.margin;
    opt->dtype = MRIPREP_FLOAT32;
    opt->layout = MRIPREP_HWD;
    opt->threads = d.threads;
    opt->device = "auto";
    if (version < 2) return;
    opt->order = slice_order_option_name(d.order);
    opt->crop = crop_mode_name(d.crop);
    opt->intensity = intensity_mode_name(d.intensity);
    opt->norm = norm_mode_name(d.norm);
    opt->depth = depth_mode_name(d.depth);
    opt->center = center_mode_name(d.center);
    opt->reorient = d.reorient;
    opt->rescale = d.rescale;
}

/* The symbol programs built against API 1 call (mriprep.h makes the name a macro). */
void(mriprep_options_init)(mriprep_options_t *opt) { mriprep_options_init_version(opt, 1); }

/* The volumetric options of API 2 onto the pipeline's; words as on the command line. */
static mp_status apply_volumetric_options(const mriprep_options_t *opt, pipeline_options_t *p, mp_error *err)
{
    const struct {
        const char *option, *word;
    } words[] = {{"order", opt->order}, {"crop", opt->crop}, {"intensity", opt->intensity},
                 {"norm", opt->norm},   {"depth", opt->depth}, {"center", opt->center}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (!words[i].word) continue;
        mp_status st = pipeline_option_parse(words[i].option, words[i].word, p, err);
        if (st != MP_OK) return st;
    }
    p->reorient = opt->reorient != 0;
    p->rescale = opt->rescale != 0;
    return MP_OK;
}

/* ---- contexts --------------------------------------------------------------------- */

mriprep_status_t mriprep_create(const mriprep_options_t *opt, mriprep_context_t **out, char *message,
                                size_t message_cap)
{
    mp_error err;
    mp_error_clear(&err);
    put_message(message, message_cap, "");
    if (!out) {
        put_message(message, message_cap, "mriprep_create: out is NULL");
        return MRIPREP_ERR_USAGE;
    }
    *out = NULL;
    if (!opt || opt->api_version < 1 || opt->api_version > MRIPREP_API_VERSION) {
        char text[160];
        snprintf(text, sizeof text,
                 "mriprep_create: options not initialised by mriprep_options_init() (api_version %d; library %d)",
                 opt ? opt->api_version : 0, MRIPREP_API_VERSION);
        put_message(message, message_cap, text);
        return MRIPREP_ERR_USAGE;
    }
    if (ensure_global_init(&err) != MP_OK) {
        put_message(message, message_cap, err.msg);
        return (mriprep_status_t)err.code;
    }

    /* Start from the pipeline's defaults so fields this API does not expose keep
     * `mriprep run`'s default values. */
    pipeline_options_t p;
    pipeline_options_default(&p);
    p.out_w = opt->width;
    p.out_h = opt->height;
    p.slices = opt->slices;
    p.dark = opt->dark;
    p.margin = opt->margin;
    p.threads = opt->threads;
    if (opt->dtype != MRIPREP_FLOAT32 && opt->dtype != MRIPREP_FLOAT16)
        mp_fail(&err, MP_ERR_USAGE, "dtype %d: expected MRIPREP_FLOAT32 (0) or MRIPREP_FLOAT16 (1)", opt->dtype);
    else if (opt->layout != MRIPREP_HWD && opt->layout != MRIPREP_DHW)
        mp_fail(&err, MP_ERR_USAGE, "layout %d: expected MRIPREP_HWD (0) or MRIPREP_DHW (1)", opt->layout);
    else if (opt->api_version >= 2)
        apply_volumetric_options(opt, &p, &err); /* fields a version-1 caller's struct does not have */
    if (err.code != MP_OK) {
        put_message(message, message_cap, err.msg);
        return (mriprep_status_t)err.code;
    }
    p.dtype = opt->dtype == MRIPREP_FLOAT16 ? DTYPE_FLOAT16 : DTYPE_FLOAT32;
    p.layout = opt->layout == MRIPREP_DHW ? LAYOUT_DHW : LAYOUT_HWD;

    mriprep_context_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        put_message(message, message_cap, "out of memory");
        return MRIPREP_ERR_NOMEM;
    }
    device_request_t request = DEVICE_REQUEST_AUTO;
    int index = 0;
    mp_status st = pipeline_options_validate(&p, &err);
    if (st == MP_OK && opt->device) st = device_request_parse(opt->device, &request, &index, &err);
    if (st == MP_OK)
        st = pipeline_resolve_device(request, index, &p, ctx->device_reason, sizeof ctx->device_reason, NULL, &err);
    if (st == MP_OK && p.threads != 1 && forked_after_omp_teams()) p.threads = 1;
    if (st == MP_OK) st = pipeline_create(&p, &ctx->pipe, &err);
    if (st != MP_OK) {
        put_message(message, message_cap, err.msg);
        free(ctx);
        return (mriprep_status_t)st;
    }
    ctx->popt = p;
    *out = ctx;
    return MRIPREP_OK;
}

void mriprep_destroy(mriprep_context_t *ctx)
{
    if (!ctx) return;
    pipeline_destroy(ctx->pipe);
    free(ctx);
}

const char *mriprep_last_error(const mriprep_context_t *ctx) { return ctx ? ctx->last_error : "no context"; }

const char *mriprep_device(const mriprep_context_t *ctx) { return pipeline_device_description(ctx->pipe); }

const char *mriprep_device_reason(const mriprep_context_t *ctx) { return ctx->device_reason; }

int mriprep_threads(const mriprep_context_t *ctx) { return pipeline_threads(ctx->pipe); }

size_t mriprep_volume_capacity(const mriprep_context_t *ctx)
{
    return (size_t)volume_max_bytes(&ctx->popt);
}

static mriprep_status_t context_fail(mriprep_context_t *ctx, mp_status st, const char *msg)
{
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s", msg);
    return (mriprep_status_t)st;
}

mriprep_status_t mriprep_process_series(mriprep_context_t *ctx, const char *series_dir, void *out,
                                        size_t out_capacity, mriprep_result_t *result)
{
    if (!ctx) return MRIPREP_ERR_USAGE;
    ctx->last_error[0] = '\0';
    ctx->volume = NULL;
    ctx->volume_bytes = 0;
    if (!series_dir || !result)
        return context_fail(ctx, MP_ERR_USAGE, "mriprep_process_series: series_dir and result must not be NULL");
    memset(result, 0, sizeof *result);

    mp_error err;
    mp_error_clear(&err);
    series_files_t files;
    memset(&files, 0, sizeof files);
    mp_status st = dataset_list_series(series_dir, &files, &err);
    if (st != MP_OK) return context_fail(ctx, st, err.msg);
    result->files = (uint32_t)files.n_files;
    if (files.n_files == 0) {
        /* `mriprep run`'s manifest: status empty, reason "no .dcm files", kept 0. */
        series_files_free(&files);
        result->outcome = MRIPREP_SERIES_EMPTY;
        snprintf(result->reason, sizeof result->reason, "no .dcm files");
        return MRIPREP_OK;
    }

    if (pipeline_threads(ctx->pipe) > 1) atomic_store(&g_omp_team_pid, (int)getpid());
    series_result_t sr;
    memset(&sr, 0, sizeof sr);
    /* The series' files read ahead of the decoders (a caller such as a DataLoader asks
     * for series in its own order, so the window ends with the series). */
    readahead_t *ahead = NULL;
    st = readahead_start_for((const char *const *)files.files, files.n_files, READAHEAD_AUTO, 0, &ahead, &err);
    if (st == MP_OK)
        st = pipeline_process_series(ctx->pipe, (const char *const *)files.files, files.n_files, ahead, &sr, &err);
    readahead_stop(ahead, NULL);
    series_files_free(&files);
    if (st != MP_OK) return context_fail(ctx, st, err.msg);

    result->outcome = (int)sr.outcome;
    snprintf(result->reason, sizeof result->reason, "%s", sr.reason);
    result->src_rows = sr.src_rows;
    result->src_cols = sr.src_cols;
    if (sr.outcome != SERIES_FAILED) {
        result->kept = sr.kept;
        result->depth = sr.depth;
    }
    if (sr.outcome != SERIES_OK) return MRIPREP_OK;

    for (int k = 0; k < 3; k++) result->shape[k] = sr.shape[k];
    result->volume_bytes = sr.volume_bytes;
    result->mean = sr.mean;
    result->std = sr.std;
    ctx->volume = sr.volume;
    ctx->volume_bytes = sr.volume_bytes;
    if (!out) return MRIPREP_OK;
    if (out_capacity < sr.volume_bytes) {
        char text[200];
        snprintf(text, sizeof text, "%s: the volume is %zu bytes, the buffer %zu", series_dir, sr.volume_bytes,
                 out_capacity);
        return context_fail(ctx, (mp_status)MRIPREP_ERR_BUFFER, text);
    }
    memcpy(out, sr.volume, sr.volume_bytes);
    result->copied = 1;
    return MRIPREP_OK;
}

mriprep_status_t mriprep_copy_volume(mriprep_context_t *ctx, void *out, size_t out_capacity)
{
    if (!ctx) return MRIPREP_ERR_USAGE;
    if (!ctx->volume || !out)
        return context_fail(ctx, MP_ERR_USAGE, "mriprep_copy_volume: no volume (the last series gave none)");
    if (out_capacity < ctx->volume_bytes) {
        char text[160];
        snprintf(text, sizeof text, "mriprep_copy_volume: the volume is %zu bytes, the buffer %zu", ctx->volume_bytes,
                 out_capacity);
        return context_fail(ctx, (mp_status)MRIPREP_ERR_BUFFER, text);
    }
    memcpy(out, ctx->volume, ctx->volume_bytes);
    ctx->last_error[0] = '\0';
    return MRIPREP_OK;
}

/* ---- datasets --------------------------------------------------------------------- */

void mriprep_dataset_free(mriprep_dataset_t *d)
{
    if (!d) return;
    dataset_free(&d->ds);
    labels_free(&d->labels);
    for (size_t i = 0; i < d->n_modalities; i++) free(d->modalities[i]);
    free(d->modalities);
    free(d);
}

mriprep_status_t mriprep_dataset_open(const char *root, const char *const *modalities, size_t n_modalities,
                                      const char *labels_path, mriprep_dataset_t **out, char *message,
                                      size_t message_cap)
{
    mp_error err;
    mp_error_clear(&err);
    put_message(message, message_cap, "");
    if (!out || !root) {
        put_message(message, message_cap, "mriprep_dataset_open: root and out must not be NULL");
        return MRIPREP_ERR_USAGE;
    }
    *out = NULL;
    if (!modalities || n_modalities == 0) {
        modalities = DEFAULT_MODALITIES;
        n_modalities = sizeof DEFAULT_MODALITIES / sizeof *DEFAULT_MODALITIES;
    }
    mriprep_dataset_t *d = calloc(1, sizeof *d);
    char **mods = d ? calloc(n_modalities, sizeof *mods) : NULL;
    if (!mods) {
        free(d);
        put_message(message, message_cap, "out of memory");
        return MRIPREP_ERR_NOMEM;
    }
    d->modalities = mods;
    d->n_modalities = n_modalities;
    mp_status st = dataset_check_modalities(modalities, n_modalities, &err);
    for (size_t i = 0; i < n_modalities && st == MP_OK; i++)
        if (!(mods[i] = strdup(modalities[i]))) st = mp_fail(&err, MP_ERR_NOMEM, "out of memory");
    /* Labels as `mriprep run --labels`: NULL is run's default (DATA/train_labels.csv when
     * present), "" none. */
    if (st == MP_OK && !(labels_path && !labels_path[0]))
        st = labels_load_for_dataset(root, labels_path, &d->labels, d->labels_used, sizeof d->labels_used, &err);
    if (st == MP_OK) {
        dataset_options_t dopt;
        memset(&dopt, 0, sizeof dopt);
        dopt.modalities = (const char *const *)d->modalities;
        dopt.n_modalities = d->n_modalities;
        dopt.labels = d->labels_used[0] ? &d->labels : NULL;
        st = dataset_walk(root, &dopt, &d->ds, &err);
    }
    if (st != MP_OK) {
        put_message(message, message_cap, err.msg);
        mriprep_dataset_free(d);
        return (mriprep_status_t)st;
    }
    *out = d;
    return MRIPREP_OK;
}

size_t mriprep_dataset_series_count(const mriprep_dataset_t *d) { return d ? d->ds.n_series : 0; }

size_t mriprep_dataset_patient_count(const mriprep_dataset_t *d) { return d ? d->ds.n_patients : 0; }

mriprep_status_t mriprep_dataset_series(const mriprep_dataset_t *d, size_t index, mriprep_series_info_t *info)
{
    if (!d || !info || index >= d->ds.n_series) return MRIPREP_ERR_USAGE;
    const series_t *s = &d->ds.series[index];
    memset(info, 0, sizeof *info);
    info->split = s->split ? s->split : "";
    info->patient = s->patient ? s->patient : "";
    info->modality = s->modality ? s->modality : "";
    info->dir = s->dir ? s->dir : "";
    info->label = s->label ? s->label : "";
    info->problem = s->problem ? s->problem : "";
    info->presence = (int)s->presence;
    info->files = s->n_files;
    return MRIPREP_OK;
}

const char *mriprep_dataset_labels_path(const mriprep_dataset_t *d) { return d ? d->labels_used : ""; }

size_t mriprep_dataset_warning_count(const mriprep_dataset_t *d) { return d ? d->labels.n_warnings : 0; }

const char *mriprep_dataset_warning(const mriprep_dataset_t *d, size_t index)
{
    return d && index < d->labels.n_warnings ? d->labels.warnings[index] : "";
}
