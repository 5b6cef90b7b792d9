/* pipeline_cpu.c - the CPU backend of steps 2-9 (see include/mriprep/pipeline.h).
 *
 * Parallel structure (OpenMP, dynamic schedule because files differ in cost):
 *   loop 1 over files:     decode -> one-pass stats -> slice_decide   (decode dominates)
 *   serial:                count fates, choose the middle K kept slices
 *   loop 2 over selected:  crop -> min-max -> resize -> fixed-point moments of the slice
 *   serial:                add the moments exactly, mean and std in double
 *   loop 3 over rows:      z-score, dtype, layout into the output buffer
 * Every value a thread writes lands in a slot of its own, so nothing is locked and the
 * bytes do not depend on how the loop was split.
 */
#include "mriprep/pipeline.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/dicom.h"
#include "mriprep/resize.h"
#include "mriprep/timer.h"

/* One file of the series as loop 1 leaves it. */
typedef struct slice_slot {
    uint16_t *pixels;  /* [rows][cols] stored values (int16 if is_signed); owned, kept from
                          series to series so decoding does not page-fault fresh memory */
    size_t capacity;   /* values pixels can hold */
    uint32_t rows, cols;
    int is_signed;
    int32_t min, max;
    int64_t sum;       /* exact sum of the stored values */
    slice_fate_t fate;
    slice_box_t box;
    mp_error error;    /* code != MP_OK: this file could not be decoded */
    uint64_t file_bytes;
    double t_decode, t_stats;
} slice_slot_t;

/* Moments of one resized slice, loop 2 -> serial sum. */
typedef struct slice_moments {
    int64_t sum_q, sum_q2;
    float min, max;
    double t_resize;
    mp_error error;
} slice_moments_t;

struct pipeline {
    pipeline_options_t opt;
    int threads;
    slice_slot_t *slots;
    size_t slots_cap;
    slice_moments_t *moments; /* [K] */
    uint32_t *selected;       /* [K] slot index of each output slice */
    float *resized;           /* [K][out_h][out_w] float32, before the z-score */
    void *volume;             /* [K*out_h*out_w] output values, final layout and dtype */
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
}

mp_status pipeline_options_validate(const pipeline_options_t *opt, mp_error *err)
{
    if (opt->out_w < 1 || opt->out_h < 1 || opt->out_w > 8192 || opt->out_h > 8192)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d: width and height must be 1..8192", opt->out_w,
                       opt->out_h);
    if (opt->slices < 1 || opt->slices > 65536)
        return mp_fail(err, MP_ERR_USAGE, "--slices %d: must be 1..65536", opt->slices);
    if (!(opt->dark >= 0.0 && opt->dark <= 1.0))
        return mp_fail(err, MP_ERR_USAGE, "--dark %g: must be in [0, 1]", opt->dark);
    if (opt->margin < 0 || opt->margin > 65536)
        return mp_fail(err, MP_ERR_USAGE, "--margin %d: must be 0..65536", opt->margin);
    if (opt->threads < 0 || opt->threads > 4096)
        return mp_fail(err, MP_ERR_USAGE, "--threads %d: must be 0 (all cores) .. 4096", opt->threads);
    if ((uint64_t)opt->out_w * (uint64_t)opt->out_h * (uint64_t)opt->slices > ZSCORE_MAX_VOXELS)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d with --slices %d is more than %llu voxels per volume",
                       opt->out_w, opt->out_h, opt->slices, (unsigned long long)ZSCORE_MAX_VOXELS);
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

mp_status pipeline_create(const pipeline_options_t *opt, pipeline_t **out, mp_error *err)
{
    *out = NULL;
    mp_status st = pipeline_options_validate(opt, err);
    if (st != MP_OK) return st;
    pipeline_t *p = calloc(1, sizeof *p);
    if (!p) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the pipeline");
    p->opt = *opt;
    p->threads = resolve_threads(opt->threads);
    size_t k = (size_t)opt->slices, plane = (size_t)opt->out_w * (size_t)opt->out_h;
    p->moments = calloc(k, sizeof *p->moments);
    p->selected = calloc(k, sizeof *p->selected);
    p->resized = malloc(k * plane * sizeof(float));
    p->volume = malloc(k * plane * volume_dtype_size(opt->dtype));
    if (!p->moments || !p->selected || !p->resized || !p->volume) {
        pipeline_destroy(p);
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate volume buffers for %zu slices of %dx%d", k,
                       opt->out_w, opt->out_h);
    }
    *out = p;
    return MP_OK;
}

void pipeline_destroy(pipeline_t *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->slots_cap; i++) free(p->slots[i].pixels);
    free(p->slots);
    free(p->moments);
    free(p->selected);
    free(p->resized);
    free(p->volume);
    free(p);
}

int pipeline_threads(const pipeline_t *p)
{
    return p->threads;
}

/* One pass over a slice: min, max, exact sum, and the maximum of each row and column.
 * The two typed copies let the compiler vectorise the inner loops. */
#define DEFINE_SLICE_STATS(NAME, T)                                                                     \
    static void NAME(const T *px, uint32_t rows, uint32_t cols, int32_t *row_max, int32_t *col_max,     \
                     int32_t *min_out, int32_t *max_out, int64_t *sum_out)                              \
    {                                                                                                   \
        int32_t mn = INT32_MAX, mx = INT32_MIN;                                                         \
        int64_t sum = 0;                                                                                \
        for (uint32_t c = 0; c < cols; c++) col_max[c] = INT32_MIN;                                     \
        for (uint32_t r = 0; r < rows; r++) {                                                           \
            const T *row = px + (size_t)r * cols;                                                       \
            int32_t rmin = INT32_MAX, rmax = INT32_MIN, rsum = 0; /* cols <= 8192: no overflow */       \
            for (uint32_t c = 0; c < cols; c++) {                                                       \
                int32_t x = row[c];                                                                     \
                rsum += x;                                                                              \
                rmin = x < rmin ? x : rmin;                                                             \
                rmax = x > rmax ? x : rmax;                                                             \
                col_max[c] = x > col_max[c] ? x : col_max[c];                                           \
            }                                                                                           \
            row_max[r] = rmax;                                                                          \
            sum += rsum;                                                                                \
            mn = rmin < mn ? rmin : mn;                                                                 \
            mx = rmax > mx ? rmax : mx;                                                                 \
        }                                                                                               \
        *min_out = mn;                                                                                  \
        *max_out = mx;                                                                                  \
        *sum_out = sum;                                                                                 \
    }
DEFINE_SLICE_STATS(slice_stats_u16, uint16_t)
DEFINE_SLICE_STATS(slice_stats_s16, int16_t)

static mp_status ensure_slots(pipeline_t *p, size_t n, mp_error *err)
{
    if (n <= p->slots_cap) return MP_OK;
    slice_slot_t *grown = realloc(p->slots, n * sizeof *grown);
    if (!grown) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu slice slots", n);
    memset(grown + p->slots_cap, 0, (n - p->slots_cap) * sizeof *grown);
    p->slots = grown;
    p->slots_cap = n;
    return MP_OK;
}

/* Loop 1 body: decode file i, then its stats and fate. */
static void decode_and_measure(pipeline_t *p, const char *path, slice_slot_t *s, int32_t *row_max,
                               int32_t *col_max)
{
    double t0 = mp_wall_seconds();
    dicom_header_t hdr;
    mp_error_clear(&s->error);
    mp_status st = dicom_decode_slice_grow(path, &hdr, &s->pixels, &s->capacity, &s->error);
    double t1 = mp_wall_seconds();
    s->t_decode = t1 - t0;
    s->t_stats = 0.0;
    s->file_bytes = hdr.file_bytes;
    if (st != MP_OK) return;
    s->rows = hdr.rows;
    s->cols = hdr.cols;
    s->is_signed = hdr.pixel_representation == 1;
    if (s->is_signed)
        slice_stats_s16((const int16_t *)s->pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    else
        slice_stats_u16(s->pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    double mean;
    s->fate = slice_decide(s->min, s->max, s->sum, (int32_t)s->rows, (int32_t)s->cols, row_max, col_max,
                           p->opt.margin, p->opt.dark, &s->box, &mean);
    s->t_stats = mp_wall_seconds() - t1;
}

/* Loop 2 body: crop + min-max of slot s into `crop`, resize into `dst` [out_h][out_w],
 * and the fixed-point moments of the result. */
static void crop_resize_measure(const pipeline_t *p, const slice_slot_t *s, float *crop, float *dst,
                                slice_moments_t *m)
{
    double t0 = mp_wall_seconds();
    int32_t bh = slice_box_height(s->box), bw = slice_box_width(s->box);
    float range = (float)(s->max - s->min);
    for (int32_t r = 0; r < bh; r++) {
        float *out = crop + (size_t)r * bw;
        if (s->is_signed) /* two copies so each inner loop vectorises */
            for (int32_t c = 0; c < bw; c++)
                out[c] = crop_value(s->pixels, (int32_t)s->cols, 1, s->box, s->min, range, r, c);
        else
            for (int32_t c = 0; c < bw; c++)
                out[c] = crop_value(s->pixels, (int32_t)s->cols, 0, s->box, s->min, range, r, c);
    }
    resize_plan_t plan;
    mp_error_clear(&m->error);
    if (resize_plan_init(&plan, bw, bh, p->opt.out_w, p->opt.out_h, &m->error) != MP_OK) return;
    resize_area_f32(&plan, crop, (size_t)bw, dst, (size_t)p->opt.out_w);
    resize_plan_free(&plan);

    int64_t sq = 0, sq2 = 0;
    float mn = dst[0], mx = dst[0];
    size_t plane = (size_t)p->opt.out_w * (size_t)p->opt.out_h;
    for (size_t i = 0; i < plane; i++) {
        float v = dst[i];
        sq += zscore_fixed(v);
        sq2 += zscore_fixed_sq(v);
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    m->sum_q = sq;
    m->sum_q2 = sq2;
    m->min = mn;
    m->max = mx;
    m->t_resize = mp_wall_seconds() - t0;
}

/* Loop 3: z-score, dtype and layout, from resized [D][H][W] into the output buffer. */
static void write_volume(pipeline_t *p, uint32_t depth, double mean, double std)
{
    const uint64_t plane = (uint64_t)p->opt.out_h * (uint64_t)p->opt.out_w;
    const float *src = p->resized;
    const int f16 = p->opt.dtype == DTYPE_FLOAT16, layout = (int)p->opt.layout;
    void *out = p->volume;
    /* Rows of the output plane per thread; for hwd each pixel's D values are contiguous
     * in the output, so the inner loop over d writes sequentially. */
#pragma omp parallel for schedule(static) num_threads(p->threads)
    for (int32_t y = 0; y < p->opt.out_h; y++) {
        for (uint64_t pix = (uint64_t)y * p->opt.out_w; pix < (uint64_t)(y + 1) * p->opt.out_w; pix++) {
            for (uint32_t d = 0; d < depth; d++) {
                float z = zscore_apply(src[d * plane + pix], mean, std);
                volume_store(out, volume_out_index(layout, pix, d, plane, depth), f16, z);
            }
        }
    }
}

mp_status pipeline_process_series(pipeline_t *p, const char *const *files, size_t n_files,
                                  series_result_t *res, mp_error *err)
{
    memset(res, 0, sizeof *res);
    res->files = (uint32_t)n_files;
    if (n_files == 0) {
        res->outcome = SERIES_EMPTY;
        snprintf(res->reason, sizeof res->reason, "no .dcm files");
        return MP_OK;
    }
    if (n_files > INT32_MAX) return mp_fail(err, MP_ERR_LIMIT, "%zu files in one series", n_files);
    mp_status st = ensure_slots(p, n_files, err);
    if (st != MP_OK) return st;
    slice_slot_t *slots = p->slots;
    int alloc_failed = 0;

    /* Loop 1: decode + stats + fate. Scratch for row/column maxima is per thread. */
#pragma omp parallel num_threads(p->threads)
    {
        int32_t *maxima = malloc(2 * DICOM_MAX_DIM * sizeof(int32_t));
        if (!maxima) {
#pragma omp atomic write
            alloc_failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < (int64_t)n_files; i++) {
            if (maxima) decode_and_measure(p, files[i], &slots[i], maxima, maxima + DICOM_MAX_DIM);
        }
        free(maxima);
    }
    if (alloc_failed) {
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate per-thread scratch");
    }

    /* Serial: totals in file order, the first broken file, the middle K kept slices. */
    size_t failed = 0, first_failed = 0;
    uint32_t kept = 0;
    for (size_t i = 0; i < n_files; i++) {
        const slice_slot_t *s = &slots[i];
        res->seconds.decode += s->t_decode;
        res->seconds.stats += s->t_stats;
        res->bytes_read += s->file_bytes;
        if (s->error.code != MP_OK) {
            if (failed++ == 0) first_failed = i;
            continue;
        }
        if (i == 0) {
            res->src_rows = s->rows;
            res->src_cols = s->cols;
        } else if (res->src_rows && (s->rows != res->src_rows || s->cols != res->src_cols)) {
            res->mixed_shapes = 1;
        }
        if (s->fate == SLICE_BLANK) res->blank++;
        else if (s->fate == SLICE_DARK) res->dark++;
        else kept++;
    }
    if (failed) {
        res->outcome = SERIES_FAILED;
        if (failed == 1)
            snprintf(res->reason, sizeof res->reason, "%.500s", slots[first_failed].error.msg);
        else
            snprintf(res->reason, sizeof res->reason, "%.400s (and %zu more unreadable files)",
                     slots[first_failed].error.msg, failed - 1);
        return MP_OK;
    }
    res->kept = kept;
    if (kept == 0) {
        res->outcome = SERIES_EMPTY;
        snprintf(res->reason, sizeof res->reason, "no slice left (%u blank, %u dark of %u)", res->blank,
                 res->dark, res->files);
        return MP_OK;
    }
    int32_t depth;
    int32_t start = slice_middle_start((int32_t)kept, p->opt.slices, &depth);
    res->depth = (uint32_t)depth;
    for (size_t i = 0, k = 0; i < n_files && k < (uint32_t)(start + depth); i++) {
        if (slots[i].fate != SLICE_KEPT) continue;
        if (k >= (size_t)start) p->selected[k - (size_t)start] = (uint32_t)i;
        k++;
    }

    /* Loop 2: crop + resize the selected slices, moments per slice. */
    const size_t plane = (size_t)p->opt.out_w * (size_t)p->opt.out_h;
#pragma omp parallel num_threads(p->threads)
    {
        float *crop = NULL;
        size_t crop_cap = 0;
#pragma omp for schedule(dynamic, 1)
        for (int32_t d = 0; d < depth; d++) {
            const slice_slot_t *s = &slots[p->selected[d]];
            size_t need = (size_t)slice_box_height(s->box) * (size_t)slice_box_width(s->box);
            if (need > crop_cap) {
                free(crop);
                crop = malloc(need * sizeof(float));
                crop_cap = crop ? need : 0;
            }
            if (!crop) {
                mp_fail(&p->moments[d].error, MP_ERR_NOMEM, "cannot allocate a %zu-pixel crop", need);
                continue;
            }
            crop_resize_measure(p, s, crop, p->resized + (size_t)d * plane, &p->moments[d]);
        }
        free(crop);
    }

    /* Serial: exact sums of the per-slice fixed-point moments. */
    int64_t sum_q = 0, sum_q2 = 0;
    float vmin = p->moments[0].min, vmax = p->moments[0].max;
    for (int32_t d = 0; d < depth; d++) {
        const slice_moments_t *m = &p->moments[d];
        if (m->error.code != MP_OK) {
            *err = m->error;
            return m->error.code;
        }
        sum_q += m->sum_q;
        sum_q2 += m->sum_q2;
        vmin = m->min < vmin ? m->min : vmin;
        vmax = m->max > vmax ? m->max : vmax;
        res->seconds.resize += m->t_resize;
    }
    uint64_t count = (uint64_t)plane * (uint64_t)depth;
    zscore_moments(sum_q, sum_q2, count, vmin == vmax, &res->mean, &res->std);

    double t0 = mp_wall_seconds();
    write_volume(p, (uint32_t)depth, res->mean, res->std);
    res->seconds.zscore = (mp_wall_seconds() - t0) * p->threads;

    res->outcome = SERIES_OK;
    res->volume = p->volume;
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
