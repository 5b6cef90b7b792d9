/* pipeline_cpu.c - the CPU backend of the compute stage (see src/pipeline_backends.h).
 *
 * Parallel structure (OpenMP; every thread writes slots of its own, so nothing is locked
 * and the bytes do not depend on how a loop was split):
 *   during decode, per file:  one-pass slice stats -> slice_decide   (cpu_slice_stats)
 *   loop over selected:       crop -> min-max -> resize -> fixed-point moments per slice
 *   serial:                   add the moments exactly, mean and std in double
 *   loop over rows:           z-score, dtype, layout into the output buffer
 */
#include "pipeline_backends.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/dicom.h"
#include "mriprep/resize.h"
#include "mriprep/timer.h"

/* Moments of one resized slice: loop -> serial sum. */
typedef struct slice_moments {
    int64_t sum_q, sum_q2;
    float min, max;
    double t_resize;
    mp_error error;
} slice_moments_t;

struct cpu_backend {
    pipeline_options_t opt;
    int threads;
    slice_moments_t *moments; /* [K] */
    float *resized;           /* [K][out_h][out_w] float32, before the z-score */
};

mp_status cpu_backend_create(const pipeline_options_t *opt, int threads, cpu_backend_t **out, mp_error *err)
{
    *out = NULL;
    cpu_backend_t *cpu = calloc(1, sizeof *cpu);
    if (!cpu) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the CPU backend");
    cpu->opt = *opt;
    cpu->threads = threads;
    size_t k = (size_t)opt->slices, plane = (size_t)opt->out_w * (size_t)opt->out_h;
    cpu->moments = calloc(k, sizeof *cpu->moments);
    cpu->resized = malloc(k * plane * sizeof(float));
    if (!cpu->moments || !cpu->resized) {
        cpu_backend_destroy(cpu);
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu resized slices of %dx%d", k, opt->out_w, opt->out_h);
    }
    *out = cpu;
    return MP_OK;
}

void cpu_backend_destroy(cpu_backend_t *cpu)
{
    if (!cpu) return;
    free(cpu->moments);
    free(cpu->resized);
    free(cpu);
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

void cpu_slice_stats(const pipeline_options_t *opt, slice_slot_t *s, int32_t *scratch)
{
    int32_t *row_max = scratch, *col_max = scratch + DICOM_MAX_DIM;
    double t0 = mp_wall_seconds();
    if (s->is_signed)
        slice_stats_s16((const int16_t *)s->pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    else
        slice_stats_u16(s->pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    s->fate = slice_decide(s->min, s->max, s->sum, (int32_t)s->rows, (int32_t)s->cols, row_max, col_max, opt->margin,
                           opt->dark, &s->box, &s->mean);
    s->t_stats = mp_wall_seconds() - t0;
}

/* Loop 2 body: crop + min-max of slot s into `crop`, resize into `dst` [out_h][out_w],
 * and the fixed-point moments of the result. */
static void crop_resize_measure(const cpu_backend_t *p, const slice_slot_t *s, float *crop, float *dst,
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
static void write_volume(const cpu_backend_t *p, uint32_t depth, double mean, double std, void *out)
{
    const uint64_t plane = (uint64_t)p->opt.out_h * (uint64_t)p->opt.out_w;
    const float *src = p->resized;
    const int f16 = p->opt.dtype == DTYPE_FLOAT16, layout = (int)p->opt.layout;
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

mp_status cpu_build_volume(cpu_backend_t *p, const series_batch_t *b, const uint32_t *selected, uint32_t depth,
                           void *out, double *mean, double *std, stage_times_t *seconds, mp_error *err)
{
    const size_t plane = (size_t)p->opt.out_w * (size_t)p->opt.out_h;
#pragma omp parallel num_threads(p->threads)
    {
        float *crop = NULL;
        size_t crop_cap = 0;
#pragma omp for schedule(dynamic, 1)
        for (int32_t d = 0; d < (int32_t)depth; d++) {
            const slice_slot_t *s = &b->slots[selected[d]];
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
    for (uint32_t d = 0; d < depth; d++) {
        const slice_moments_t *m = &p->moments[d];
        if (m->error.code != MP_OK) {
            if (err) *err = m->error;
            return m->error.code;
        }
        sum_q += m->sum_q;
        sum_q2 += m->sum_q2;
        vmin = m->min < vmin ? m->min : vmin;
        vmax = m->max > vmax ? m->max : vmax;
        seconds->resize += m->t_resize;
    }
    zscore_moments(sum_q, sum_q2, (uint64_t)plane * depth, vmin == vmax, mean, std);

    double t0 = mp_wall_seconds();
    write_volume(p, depth, *mean, *std, out);
    seconds->zscore += (mp_wall_seconds() - t0) * p->threads;
    return MP_OK;
}
