/* pipeline.c - the two stages of a series (see include/mriprep/pipeline.h), whichever
 * backend computes: decode on the host, then the CPU backend (src/pipeline_cpu.c) or the
 * CUDA backend (kernels/cuda_backend.cu). What is decided per series (which file failed,
 * how many slices are blank or dark, which K are kept) is decided here, once, for both.
 */
#include "mriprep/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "kernels/zscore_math.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"
#include "pipeline_backends.h"

#define PIPELINE_VOLUMES 2

struct pipeline {
    pipeline_options_t opt;
    int threads;
    cpu_backend_t *cpu;   /* DEVICE_CPU */
    cuda_backend_t *cuda; /* DEVICE_CUDA */
    char device_text[320];
    int n_batches;
    series_batch_t batches[2];
    void *volumes[PIPELINE_VOLUMES]; /* [K*H*W] output values; pinned with CUDA */
    uint32_t *selected;              /* [K] slot of each output slice (compute stage only) */
};

void pipeline_options_default(pipeline_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->out_w = 256;
    opt->out_h = 256;
    opt->slices = 128;
    opt->dark = 0.01;
    opt->margin = 0;
    opt->layout = LAYOUT_HWD;
    opt->dtype = DTYPE_FLOAT32;
    opt->threads = 0;
    opt->device = DEVICE_CPU;
    opt->cuda_index = 0;
}

mp_status pipeline_options_validate(const pipeline_options_t *opt, mp_error *err)
{
    if (opt->out_w < 1 || opt->out_h < 1 || opt->out_w > 8192 || opt->out_h > 8192)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d: width and height must be 1..8192", opt->out_w,
                       opt->out_h);
    if (opt->slices < 1 || opt->slices > 65535)
        return mp_fail(err, MP_ERR_USAGE, "--slices %d: must be 1..65535", opt->slices);
    if (!(opt->dark >= 0.0 && opt->dark <= 1.0))
        return mp_fail(err, MP_ERR_USAGE, "--dark %g: must be in [0, 1]", opt->dark);
    if (opt->margin < 0 || opt->margin > 65536)
        return mp_fail(err, MP_ERR_USAGE, "--margin %d: must be 0..65536", opt->margin);
    if (opt->threads < 0 || opt->threads > 4096)
        return mp_fail(err, MP_ERR_USAGE, "--threads %d: must be 0 (all cores) .. 4096", opt->threads);
    if ((uint64_t)opt->out_w * (uint64_t)opt->out_h * (uint64_t)opt->slices > ZSCORE_MAX_VOXELS)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d with --slices %d is more than %llu voxels per volume",
                       opt->out_w, opt->out_h, opt->slices, (unsigned long long)ZSCORE_MAX_VOXELS);
    if (opt->device != DEVICE_CPU && opt->device != DEVICE_CUDA)
        return mp_fail(err, MP_ERR_USAGE, "unknown device %d", (int)opt->device);
    if (opt->device == DEVICE_CUDA && (opt->cuda_index < 0 || opt->cuda_index >= CUDA_MAX_DEVICES))
        return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: no such device index", opt->cuda_index);
    return MP_OK;
}

const char *volume_layout_name(volume_layout_t layout) { return layout == LAYOUT_DHW ? "dhw" : "hwd"; }
const char *volume_dtype_name(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? "float16" : "float32"; }
size_t volume_dtype_size(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? 2 : 4; }
const char *volume_dtype_npy_descr(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? "<f2" : "<f4"; }

static int resolve_threads(int requested)
{
#if MRIPREP_HAVE_OMP
    return requested > 0 ? requested : omp_get_num_procs();
#else
    (void)requested;
    return 1;
#endif
}

/* Host memory for slot buffers and volumes: pinned when the CUDA backend copies them. */
static void *host_alloc(const pipeline_t *p, size_t bytes)
{
    return p->cuda ? cuda_host_alloc(p->cuda, bytes) : malloc(bytes);
}

static void host_free(const pipeline_t *p, void *ptr)
{
    if (!ptr) return;
    if (p->cuda) cuda_host_free(p->cuda, ptr);
    else free(ptr);
}

mp_status pipeline_create(const pipeline_options_t *opt, pipeline_t **out, mp_error *err)
{
    *out = NULL;
    mp_status st = pipeline_options_validate(opt, err);
    if (st != MP_OK) return st;
    pipeline_t *p = calloc(1, sizeof *p);
    if (!p) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the pipeline");
    p->opt = *opt;
    p->threads = resolve_threads(opt->threads);
    if (opt->device == DEVICE_CUDA) {
        cuda_device_info_t info;
        st = cuda_check_device(opt->cuda_index, 0, &info, err);
        if (st == MP_OK) st = cuda_backend_create(opt->cuda_index, opt, &p->cuda, err);
        if (st == MP_OK)
            snprintf(p->device_text, sizeof p->device_text, "cuda:%d (%s, sm_%d%d)", opt->cuda_index, info.name,
                     info.major, info.minor);
        p->n_batches = 2;
    } else {
        st = cpu_backend_create(opt, p->threads, &p->cpu, err);
        snprintf(p->device_text, sizeof p->device_text, "cpu");
        p->n_batches = 1;
    }
    size_t k = (size_t)opt->slices, plane = (size_t)opt->out_w * (size_t)opt->out_h;
    if (st == MP_OK) {
        p->selected = calloc(k, sizeof *p->selected);
        for (int v = 0; v < PIPELINE_VOLUMES; v++) p->volumes[v] = host_alloc(p, k * plane * volume_dtype_size(opt->dtype));
        if (!p->selected || !p->volumes[0] || !p->volumes[1])
            st = mp_fail(err, MP_ERR_NOMEM, "cannot allocate 2 output volumes of %zu slices of %dx%d", k, opt->out_w,
                         opt->out_h);
    }
    if (st != MP_OK) {
        pipeline_destroy(p);
        return st;
    }
    *out = p;
    return MP_OK;
}

void pipeline_destroy(pipeline_t *p)
{
    if (!p) return;
    cuda_wait(p->cuda, -1); /* no copy may still read a buffer freed below */
    for (int b = 0; b < 2; b++) {
        for (size_t i = 0; i < p->batches[b].cap; i++) host_free(p, p->batches[b].slots[i].pixels);
        free(p->batches[b].slots);
    }
    for (int v = 0; v < PIPELINE_VOLUMES; v++) host_free(p, p->volumes[v]);
    free(p->selected);
    cpu_backend_destroy(p->cpu);
    cuda_backend_destroy(p->cuda);
    free(p);
}

int pipeline_threads(const pipeline_t *p) { return p->threads; }
const char *pipeline_device_description(const pipeline_t *p) { return p->device_text; }
int pipeline_batch_count(const pipeline_t *p) { return p->n_batches; }

static mp_status ensure_slots(series_batch_t *b, size_t n, mp_error *err)
{
    if (n <= b->cap) return MP_OK;
    slice_slot_t *grown = realloc(b->slots, n * sizeof *grown);
    if (!grown) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu slice slots", n);
    memset(grown + b->cap, 0, (n - b->cap) * sizeof *grown);
    b->slots = grown;
    b->cap = n;
    return MP_OK;
}

/* dicom_place_fn: the slot's own buffer, replaced by a larger one when the image needs it. */
typedef struct slot_place {
    const pipeline_t *p;
    slice_slot_t *slot;
} slot_place_t;

static mp_status place_in_slot(void *ctx, size_t n_values, uint16_t **out, mp_error *err)
{
    slot_place_t *sp = ctx;
    slice_slot_t *s = sp->slot;
    if (s->capacity < n_values) {
        host_free(sp->p, s->pixels);
        s->pixels = host_alloc(sp->p, n_values * sizeof(uint16_t));
        s->capacity = s->pixels ? n_values : 0;
        if (!s->pixels) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu bytes for pixels", n_values * 2);
    }
    *out = s->pixels;
    return MP_OK;
}

mp_status pipeline_decode(pipeline_t *p, int batch, const char *const *files, size_t n_files, mp_error *err)
{
    if (batch < 0 || batch >= p->n_batches) return mp_fail(err, MP_ERR_INTERNAL, "batch %d out of range", batch);
    series_batch_t *b = &p->batches[batch];
    /* The previous upload from these slot buffers may still be in flight (a series that
     * failed returns without device work): wait before writing over them. */
    cuda_wait(p->cuda, batch);
    b->n = 0;
    b->has_stats = 0;
    mp_status st = ensure_slots(b, n_files, err);
    if (st != MP_OK) return st;
    int scratch_failed = 0;
    const int stats_now = p->cpu != NULL; /* the CPU backend measures while the pixels are hot */

#pragma omp parallel num_threads(p->threads)
    {
        int32_t *scratch = stats_now ? malloc(2 * DICOM_MAX_DIM * sizeof(int32_t)) : NULL;
        if (stats_now && !scratch) {
#pragma omp atomic write
            scratch_failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < (int64_t)n_files; i++) {
            slice_slot_t *s = &b->slots[i];
            slot_place_t sp = {p, s};
            dicom_header_t hdr;
            double t0 = mp_wall_seconds();
            mp_error_clear(&s->error);
            s->rows = s->cols = 0;
            s->t_stats = 0;
            mp_status ds = dicom_decode_slice_with(files[i], &hdr, place_in_slot, &sp, &s->error);
            s->t_decode = mp_wall_seconds() - t0;
            s->file_bytes = hdr.file_bytes;
            if (ds != MP_OK) continue;
            s->rows = hdr.rows;
            s->cols = hdr.cols;
            s->is_signed = hdr.pixel_representation == 1;
            if (scratch) cpu_slice_stats(&p->opt, s, scratch);
        }
        free(scratch);
    }
    if (scratch_failed) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate per-thread scratch");
    b->n = n_files;
    b->has_stats = stats_now;
    if (!p->cuda) return MP_OK;
    for (size_t i = 0; i < n_files; i++)
        if (b->slots[i].error.code != MP_OK) return MP_OK; /* a failed series needs no device work */
    return cuda_upload(p->cuda, batch, b, err);
}

/* The first undecodable file (in slice order) names the failure; others are counted. */
static int describe_failure(const series_batch_t *b, series_result_t *res)
{
    size_t failed = 0, first = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->slots[i].error.code != MP_OK && failed++ == 0) first = i;
    if (!failed) return 0;
    res->outcome = SERIES_FAILED;
    if (failed == 1)
        snprintf(res->reason, sizeof res->reason, "%.500s", b->slots[first].error.msg);
    else
        snprintf(res->reason, sizeof res->reason, "%.400s (and %zu more unreadable files)", b->slots[first].error.msg,
                 failed - 1);
    return 1;
}

mp_status pipeline_compute(pipeline_t *p, int batch, int volume, series_result_t *res, mp_error *err)
{
    if (batch < 0 || batch >= p->n_batches || volume < 0 || volume >= PIPELINE_VOLUMES)
        return mp_fail(err, MP_ERR_INTERNAL, "batch %d / volume %d out of range", batch, volume);
    series_batch_t *b = &p->batches[batch];
    memset(res, 0, sizeof *res);
    res->files = (uint32_t)b->n;
    for (size_t i = 0; i < b->n; i++) {
        const slice_slot_t *s = &b->slots[i];
        res->seconds.decode += s->t_decode;
        res->seconds.stats += s->t_stats;
        res->bytes_read += s->file_bytes;
        if (s->error.code != MP_OK) continue;
        if (i == 0) {
            res->src_rows = s->rows;
            res->src_cols = s->cols;
        } else if (res->src_rows && (s->rows != res->src_rows || s->cols != res->src_cols)) {
            res->mixed_shapes = 1;
        }
    }
    if (b->n == 0) {
        res->outcome = SERIES_EMPTY;
        snprintf(res->reason, sizeof res->reason, "no .dcm files");
        return MP_OK;
    }
    if (describe_failure(b, res)) return MP_OK; /* no device work for a series with a hole */

    mp_status st;
    if (!b->has_stats) {
        st = cuda_slice_stats(p->cuda, batch, b, &res->seconds, err);
        if (st != MP_OK) return st;
    }
    uint32_t kept = 0;
    for (size_t i = 0; i < b->n; i++) {
        slice_fate_t fate = b->slots[i].fate;
        if (fate == SLICE_BLANK) res->blank++;
        else if (fate == SLICE_DARK) res->dark++;
        else kept++;
    }
    res->kept = kept;
    if (kept == 0) {
        res->outcome = SERIES_EMPTY;
        snprintf(res->reason, sizeof res->reason, "no slice left (%u blank, %u dark of %u)", res->blank, res->dark,
                 res->files);
        return MP_OK;
    }
    int32_t depth;
    int32_t start = slice_middle_start((int32_t)kept, p->opt.slices, &depth);
    for (size_t i = 0, k = 0; i < b->n && k < (size_t)(start + depth); i++) {
        if (b->slots[i].fate != SLICE_KEPT) continue;
        if (k >= (size_t)start) p->selected[k - (size_t)start] = (uint32_t)i;
        k++;
    }
    res->depth = (uint32_t)depth;

    void *out = p->volumes[volume];
    if (p->cuda)
        st = cuda_build_volume(p->cuda, batch, b, p->selected, (uint32_t)depth, out, &res->mean, &res->std,
                               &res->seconds, err);
    else
        st = cpu_build_volume(p->cpu, b, p->selected, (uint32_t)depth, out, &res->mean, &res->std, &res->seconds,
                              err);
    if (st != MP_OK) return st;

    const uint64_t count = (uint64_t)p->opt.out_w * (uint64_t)p->opt.out_h * (uint64_t)depth;
    res->outcome = SERIES_OK;
    res->volume = out;
    res->volume_bytes = (size_t)count * volume_dtype_size(p->opt.dtype);
    if (p->opt.layout == LAYOUT_DHW) {
        res->shape[0] = (uint64_t)depth;
        res->shape[1] = (uint64_t)p->opt.out_h;
        res->shape[2] = (uint64_t)p->opt.out_w;
    } else {
        res->shape[0] = (uint64_t)p->opt.out_h;
        res->shape[1] = (uint64_t)p->opt.out_w;
        res->shape[2] = (uint64_t)depth;
    }
    return MP_OK;
}

mp_status pipeline_process_series(pipeline_t *p, const char *const *files, size_t n_files, series_result_t *result,
                                  mp_error *err)
{
    mp_status st = pipeline_decode(p, 0, files, n_files, err);
    if (st != MP_OK) return st;
    return pipeline_compute(p, 0, 0, result, err);
}
