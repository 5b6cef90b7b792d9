/* cpu_backend.c - the CPU backend of the compute stage (include/mriprep/cpu_backend.h;
 * its twin is the CUDA backend, include/mriprep/cuda_backend.h).
 *
 * Parallel structure (OpenMP; every thread writes slots of its own, so nothing is locked
 * and the bytes do not depend on how a loop was split):
 *   during decode, per file:  one-pass slice stats -> slice_decide   (slice_stats.c)
 *   loop over selected:       crop -> min-max -> resize -> fixed-point moments per slice,
 *                             in one pass (resize_crop_measure, resize_engine.c)
 *   serial:                   add the moments exactly, mean and std in double
 *   loop over rows:           z-score, dtype, layout into the output buffer
 */
#include "mriprep/cpu_backend.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/resize.h"
#include "mriprep/timer.h"

/* Moments of one resized slice: loop -> serial sum. */
typedef struct slice_moments {
    int64_t sum_q, sum_q2;
    float min, max;
    /* The volumetric path (crop_resize_measure_any): voxels counted, and the smallest and
     * largest zscore_fixed among them (equal: the counted voxels are one value). */
    uint64_t count;
    int64_t q_min, q_max;
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

/* Loop 2 body: crop + min-max of slot s, resize into `dst` [out_h][out_w], and the
 * fixed-point moments of the result, in one pass with no float crop in between
 * (resize_crop_measure, include/mriprep/resize.h: byte-identical to crop_value +
 * resize_area_f32 + zscore_fixed over the plane). Its preconditions hold here: a kept
 * slice has max > min, and nothing in mriprep leaves the default floating-point
 * environment (round to nearest), on which its llrint-free moments rely
 * (zscore_fixed_magic, kernels/zscore_math.h); the values are min-max scaled, finite,
 * in [0, 1]. */
static void crop_resize_measure(const cpu_backend_t *p, const slice_slot_t *s, resize_scratch_t *scratch, float *dst,
                                slice_moments_t *m)
{
    double t0 = mp_wall_seconds();
    resize_plan_t plan;
    mp_error_clear(&m->error);
    if (resize_plan_init(&plan, slice_box_width(s->box), slice_box_height(s->box), p->opt.out_w, p->opt.out_h,
                         &m->error) != MP_OK)
        return;
    const resize_crop_t crop = {s->buffer.pixels, (int32_t)s->cols, s->is_signed, s->box, s->min, s->max};
    resize_moments_t mom;
    mp_status st = resize_crop_measure(&plan, &crop, scratch, dst, &mom, &m->error);
    resize_plan_free(&plan);
    if (st != MP_OK) return;
    m->sum_q = mom.sum_q;
    m->sum_q2 = mom.sum_q2;
    m->min = mom.min;
    m->max = mom.max;
    m->t_resize = mp_wall_seconds() - t0;
}

/* How many of plane[0..n) are nonzero, and the smallest and largest of those, for the
 * --norm nonzero moments of min-max values. The values are >= 0 (min-max scaled, then
 * averaged with positive weights), and for floats >= +0 the bit patterns, read as int32,
 * order as the values do: the count and the extremes are integer reductions, which gcc
 * vectorises (the smallest nonzero pattern b is the unsigned minimum of b - 1, where a
 * zero wraps to the largest). A pattern with the sign set (-0, or a negative value:
 * never, short of a bug upstream) sends the plane through the float loop instead. Built
 * for the baseline and for AVX2 (eight lanes, and the unsigned minimum in one
 * instruction where SSE2 emulates it), chosen as zscore_span is; the same integers.
 * With no nonzero value, count is 0 and lo and hi mean nothing. */
__attribute__((always_inline)) static inline void nonzero_extent_body(const float *plane, size_t n, uint32_t *count_out,
                                                                      float *lo_out, float *hi_out)
{
    uint32_t count = 0, signs = 0, lo_key = UINT32_MAX;
    int32_t hi_bits = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t bits;
        memcpy(&bits, plane + i, sizeof bits);
        signs |= (uint32_t)bits;
        count += (uint32_t)(bits != 0);
        const uint32_t key = (uint32_t)bits - 1u;
        lo_key = key < lo_key ? key : lo_key;
        hi_bits = bits > hi_bits ? bits : hi_bits;
    }
    const uint32_t lo_bits = lo_key + 1u;
    float lo, hi;
    memcpy(&lo, &lo_bits, sizeof lo);
    memcpy(&hi, &hi_bits, sizeof hi);
    if (signs >> 31) { /* the general loop: the same reductions over floats */
        count = 0, lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            const float v = plane[i];
            if (v == 0.0f) continue;
            count++;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    *count_out = count, *lo_out = lo, *hi_out = hi;
}

static void nonzero_extent_baseline(const float *plane, size_t n, uint32_t *count, float *lo, float *hi)
{
    nonzero_extent_body(plane, n, count, lo, hi);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(MRIPREP_NO_SIMD)
#define NONZERO_AVX2 1
__attribute__((target("avx2"))) static void nonzero_extent_avx2(const float *plane, size_t n, uint32_t *count,
                                                                float *lo, float *hi)
{
    nonzero_extent_body(plane, n, count, lo, hi);
}
#else
#define NONZERO_AVX2 0
#endif

static void nonzero_extent(const float *plane, size_t n, uint32_t *count, float *lo, float *hi)
{
#if NONZERO_AVX2
    if (cpu_simd_engine() == CPU_SIMD_AVX2) {
        nonzero_extent_avx2(plane, n, count, lo, hi);
        return;
    }
#endif
    nonzero_extent_baseline(plane, n, count, lo, hi);
}

/* Loop 2 body for the volumetric options (--intensity raw, --norm nonzero): the plane as
 * plain steps (raw: the crop as floats, then resize_area_f32; min-max: the engine above),
 * then the moments of v * 2^-scale_exp over the voxels that count (all, or v != 0), with
 * their count and extreme fixed-point values (min-max values: the engine's sums, see
 * below). The CUDA backend (mp_crop's raw mode, mp_moments_any) computes the same
 * integers from the same floats.
 * `crop` is this thread's float buffer, grown to bw * bh. */
static void crop_resize_measure_any(const cpu_backend_t *p, const volume_request_t *req, const slice_slot_t *s,
                                    resize_scratch_t *scratch, float **crop, size_t *crop_cap, float *dst,
                                    slice_moments_t *m)
{
    double t0 = mp_wall_seconds();
    resize_plan_t plan;
    mp_error_clear(&m->error);
    const int32_t bw = slice_box_width(s->box), bh = slice_box_height(s->box);
    if (resize_plan_init(&plan, bw, bh, p->opt.out_w, p->opt.out_h, &m->error) != MP_OK) return;
    mp_status st = MP_OK;
    if (!req->raw) {
        /* --norm nonzero on min-max values (scale_exp 0): a zero adds 0 to both fixed-point
         * sums, so the engine's sums over the plane are the sums over the voxels that
         * count; what is left is their count and extremes, and zscore_fixed is monotonic,
         * so the extreme integers are those of the extreme values. One light pass instead
         * of a second llrint pass over the plane (the same integers). */
        const resize_crop_t c = {s->buffer.pixels, (int32_t)s->cols, s->is_signed, s->box, s->min, s->max};
        resize_moments_t mom;
        st = resize_crop_measure(&plan, &c, scratch, dst, &mom, &m->error);
        resize_plan_free(&plan);
        if (st != MP_OK) return;
        const size_t plane = (size_t)p->opt.out_w * (size_t)p->opt.out_h;
        uint32_t count;
        float lo, hi;
        nonzero_extent(dst, plane, &count, &lo, &hi);
        m->sum_q = mom.sum_q, m->sum_q2 = mom.sum_q2, m->count = count;
        m->q_min = count ? zscore_fixed(lo) : INT64_MAX;
        m->q_max = count ? zscore_fixed(hi) : INT64_MIN;
        m->t_resize = mp_wall_seconds() - t0;
        return;
    } else {
        const size_t n = (size_t)bw * (size_t)bh;
        if (n > *crop_cap) {
            free(*crop);
            *crop = malloc(n * sizeof **crop);
            *crop_cap = *crop ? n : 0;
        }
        if (!*crop) {
            st = mp_fail(&m->error, MP_ERR_NOMEM, "cannot allocate a crop of %d x %d", bw, bh);
        } else {
            for (int32_t r = 0; r < bh; r++)
                for (int32_t c = 0; c < bw; c++)
                    (*crop)[(size_t)r * bw + c] = crop_raw_value(s->buffer.pixels, (int32_t)s->cols, s->is_signed, s->box,
                                                                 req->rescale, s->rescale_slope,
                                                                 s->rescale_intercept, r, c);
            resize_area_f32(&plan, *crop, (size_t)bw, dst, (size_t)p->opt.out_w);
        }
    }
    resize_plan_free(&plan);
    if (st != MP_OK) return;
    const float scale = ldexpf(1.0f, -req->scale_exp); /* a power of two: v * scale is exact */
    const size_t plane = (size_t)p->opt.out_w * (size_t)p->opt.out_h;
    int64_t sum_q = 0, sum_q2 = 0, q_min = INT64_MAX, q_max = INT64_MIN;
    uint64_t count = 0;
    for (size_t i = 0; i < plane; i++) {
        if (req->nonzero && dst[i] == 0.0f) continue;
        const float v = dst[i] * scale;
        const int64_t q = zscore_fixed(v);
        sum_q += q;
        sum_q2 += zscore_fixed_sq(v);
        q_min = q < q_min ? q : q_min;
        q_max = q > q_max ? q : q_max;
        count++;
    }
    m->sum_q = sum_q, m->sum_q2 = sum_q2, m->count = count, m->q_min = q_min, m->q_max = q_max;
    m->t_resize = mp_wall_seconds() - t0;
}

/* z-scores n contiguous resized values into elements [at, at + n) of the output (with
 * `nonzero`, values 0 stay 0). The std == 0 test is taken once here, so the loops are
 * straight and gcc vectorises them (cvtps2pd, subpd, divpd; with `nonzero`, a mask on
 * top: zscore_keep_nonzero); each element is zscore_apply_masked's value, rounded once
 * from double, so the bytes are those of the element-by-element loop. The body is built
 * twice: for the baseline (SSE2: two doubles a division) and, where the CPU has it, for
 * AVX2 (four; the same IEEE operations, no FMA: -ffp-contract=off), chosen by the engine
 * in use (cpu_simd_engine). The float16 loops stay scalar (half_from_float branches). */
__attribute__((always_inline)) static inline void zscore_span_body(const float *src, size_t n, double mean,
                                                                   double std, int nonzero, int f16, void *out,
                                                                   size_t at)
{
    if (f16) {
        uint16_t *o = (uint16_t *)out + at;
        if (nonzero && std == 0.0)
            for (size_t i = 0; i < n; i++) o[i] = half_from_float(zscore_keep_nonzero(src[i], src[i]));
        else if (nonzero)
            for (size_t i = 0; i < n; i++)
                o[i] = half_from_float(zscore_keep_nonzero(src[i], zscore_divide(src[i], mean, std)));
        else if (std == 0.0)
            for (size_t i = 0; i < n; i++) o[i] = half_from_float(src[i]);
        else
            for (size_t i = 0; i < n; i++) o[i] = half_from_float(zscore_divide(src[i], mean, std));
    } else {
        float *o = (float *)out + at;
        if (nonzero && std == 0.0)
            for (size_t i = 0; i < n; i++) o[i] = zscore_keep_nonzero(src[i], src[i]);
        else if (nonzero)
            for (size_t i = 0; i < n; i++) o[i] = zscore_keep_nonzero(src[i], zscore_divide(src[i], mean, std));
        else if (std == 0.0)
            memcpy(o, src, n * sizeof *o);
        else
            for (size_t i = 0; i < n; i++) o[i] = zscore_divide(src[i], mean, std);
    }
}

static void zscore_span_baseline(const float *src, size_t n, double mean, double std, int nonzero, int f16,
                                 void *out, size_t at)
{
    zscore_span_body(src, n, mean, std, nonzero, f16, out, at);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(MRIPREP_NO_SIMD)
#define ZSCORE_AVX2 1
__attribute__((target("avx2"))) static void zscore_span_avx2(const float *src, size_t n, double mean, double std,
                                                             int nonzero, int f16, void *out, size_t at)
{
    zscore_span_body(src, n, mean, std, nonzero, f16, out, at);
}
#else
#define ZSCORE_AVX2 0
#endif

static void zscore_span(const float *src, size_t n, double mean, double std, int nonzero, int f16, void *out,
                        size_t at)
{
#if ZSCORE_AVX2
    if (cpu_simd_engine() == CPU_SIMD_AVX2) {
        zscore_span_avx2(src, n, mean, std, nonzero, f16, out, at);
        return;
    }
#endif
    zscore_span_baseline(src, n, mean, std, nonzero, f16, out, at);
}

/* Zeroes elements [from, to) of `out`, less the runs `known` (the zero slices `out`
 * holds) says are zero already. */
static void zero_fill_unknown(unsigned char *out, size_t esize, uint64_t from, uint64_t to,
                              const volume_padding_t *known)
{
    const int any = known->before + known->after > 0;
    while (from < to) {
        const uint64_t zeros_end = any ? volume_padding_zero_end(known, from) : from;
        if (zeros_end > from) {
            from = zeros_end;
            continue;
        }
        uint64_t end = any ? volume_padding_value_end(known, from) : to;
        end = end < to ? end : to;
        memset(out + (size_t)from * esize, 0, (size_t)(end - from) * esize);
        from = end;
    }
}

/* The zero slices of a volume (--depth pad: along pad->axis, the positions outside
 * [lo, hi)) that `out` does not hold as zeros already (`known`: the zero slices of the
 * volume before it in the same buffer, of any shape). Zero-filled a whole slab or run
 * of rows at a time, parallel over the output's first axis; zero slices along the last
 * axis (the rows' ends) are left to the row loop. */
static void zero_fill_padding(const cpu_backend_t *p, const volume_padding_t *pad, uint64_t lo, uint64_t hi,
                              const volume_padding_t *known, void *out)
{
    if (pad->axis == 2 || pad->before + pad->after == 0) return;
    const size_t esize = volume_dtype_size(p->opt.dtype);
    const uint64_t row = pad->dims[2], slab = pad->dims[1] * row; /* elements */
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (int64_t i0 = 0; i0 < (int64_t)pad->dims[0]; i0++) {
        const uint64_t at = (uint64_t)i0 * slab;
        if (pad->axis == 0) { /* whole slabs */
            if ((uint64_t)i0 < lo || (uint64_t)i0 >= hi) zero_fill_unknown(out, esize, at, at + slab, known);
        } else { /* rows [0, lo) and [hi, dims[1]) of slab i0 */
            zero_fill_unknown(out, esize, at, at + lo * row, known);
            zero_fill_unknown(out, esize, at + hi * row, at + slab, known);
        }
    }
}

/* Loop 3 for any map (--reorient, --depth pad). The output is written in contiguous
 * rows (its last axis, dims[2] elements), MAPPED_ROWS neighbouring rows (see
 * group_first below) at a time, parallel over such blocks, so each element has one writer
 * and every store is sequential. The rows' values are gathered from the resized
 * [depth][H][W] volume along the source axis the map puts last (stride 1, W or H*W,
 * reversed when flipped) into a tile, then z-scored as spans (zscore_span: straight loops
 * gcc vectorises, each element zscore_apply_masked's value). When the block's rows read
 * neighbouring source elements (they run along x; true of the axial, coronal and sagittal
 * maps), the gather is one transpose of the block (tile_gather: 8 x 8 in AVX2 registers);
 * otherwise the rows are gathered k by k across the block (a cache line for 16 rows) or
 * one by one. On the bench data the transpose took write_volume_mapped from 0.23 to 0.13
 * CPU-seconds of a --preset volumetric --format npy run; 64 rows a block against 16 or
 * 256 was within the noise (0.53 against 0.58 CPU-s in one perf run each). It used to
 * store element by element through volume_map_index, a scalar scattered store (30% of a
 * volumetric run's CPU time in perf).
 * The zero slices of --depth pad (69% of the preset's volume on the bench data) are not
 * visited row by row: whole zero rows and slabs are filled beforehand by
 * zero_fill_padding, and only where the buffer does not hold zeros there already (`zeros`:
 * see cpu_build_volume); blocks of zero rows are skipped, and a row's zero ends (slices
 * along the last axis) are filled by the row loop. Row by row, with a memset of each zero
 * row, they took 10% of a volumetric run's CPU time. */
#define MAPPED_ROWS 64
#define MAPPED_PREFETCH 16 /* source lines asked for ahead of the gather (8: 8% more time in the gather) */
/* What every block of one volume's mapped store shares (write_volume_mapped). */
typedef struct mapped_store {
    const cpu_backend_t *p;
    const volume_map_t *m;
    const volume_padding_t *zeros; /* the zero slices `out` holds now (see cpu_build_volume) */
    unsigned char *out;
    uint64_t source_stride[3]; /* x, y, d in the resized volume */
    uint64_t row_n;            /* elements of an output row (dims[2]) */
    size_t esize;
    int32_t last_axis;    /* the source axis along the output rows */
    uint64_t last_stride; /* its stride */
    /* Along the slice axis pad.axis, the positions [lo, hi) hold values, the others are
     * zero slices. The rows' zero ends (pad.axis 2) are filled by the row loop within
     * [stale_lo, stale_hi), where `out` may hold values now: when the volume before had
     * the same shape, where it had values; otherwise everywhere, except in blocks of rows
     * that lie in its zero slices (known_zero_rows). */
    volume_padding_t pad;
    uint64_t lo, hi, stale_lo, stale_hi;
    int known_zero_rows;
    /* A block's rows are neighbours along the output axis whose source is x (stride 1),
     * so that their k-th values share a cache line: the second axis (the default), or
     * the first when the map puts x first (group_first: then the block's rows share the
     * second index, here the slice, and with it their padding). */
    int group_first, along;
    uint64_t blocks_per_line;
    /* The block's rows read neighbouring source elements (x, in order), and every row the
     * same positions k: row j's values are row 0's moved by j. */
    int rows_are_neighbours;
} mapped_store_t;

/* One block: its rows that hold values, where they go and where their values start. */
typedef struct mapped_block {
    int block_rows; /* rows in the block */
    int rows;       /* of those, the rows holding values: the first `rows` entries below */
    unsigned char *row_out[MAPPED_ROWS];
    /* Each row's output positions holding values, [k0, k1), and the source value of k0
     * (read along the row reversed when flip[2]). */
    uint64_t k0[MAPPED_ROWS], k1[MAPPED_ROWS];
    const float *base[MAPPED_ROWS];
} mapped_block_t;

static mapped_store_t mapped_store_plan(const cpu_backend_t *p, const volume_request_t *req,
                                        const volume_padding_t *zeros, void *out)
{
    mapped_store_t s;
    memset(&s, 0, sizeof s);
    const volume_map_t *m = &req->map;
    const uint64_t w = (uint64_t)p->opt.out_w, h = (uint64_t)p->opt.out_h;
    s.p = p, s.m = m, s.zeros = zeros, s.out = out;
    s.source_stride[0] = 1, s.source_stride[1] = w, s.source_stride[2] = w * h;
    s.row_n = m->dims[2];
    s.esize = volume_dtype_size(p->opt.dtype);
    s.last_axis = m->source_axis[2];
    s.last_stride = s.source_stride[s.last_axis];
    s.pad = volume_map_padding(m);
    s.lo = s.pad.before, s.hi = m->dims[s.pad.axis] - s.pad.after;
    const int same = volume_padding_same(zeros, &s.pad);
    s.known_zero_rows = !same && zeros->before + zeros->after > 0;
    s.stale_lo = same ? zeros->before : 0, s.stale_hi = m->dims[s.pad.axis] - (same ? zeros->after : 0);
    s.group_first = m->source_axis[0] == 0 && s.last_axis != 2;
    s.along = s.group_first ? 0 : 1;
    s.blocks_per_line = (m->dims[s.along] + MAPPED_ROWS - 1) / MAPPED_ROWS;
    s.rows_are_neighbours = m->source_axis[s.along] == 0 && !m->flip[s.along];
    return s;
}

/* Block `blk`'s rows (the `fixed` index of the other axis, MAPPED_ROWS from `o` along
 * s->along): each value row's output and source, zero rows left out, and the stale part
 * of the rows' zero ends (slices along the last axis) zeroed. Returns b->rows. */
static int mapped_block_rows(const mapped_store_t *s, int64_t blk, mapped_block_t *b)
{
    const volume_map_t *m = s->m;
    const uint64_t fixed = (uint64_t)blk / s->blocks_per_line, o = (uint64_t)blk % s->blocks_per_line * MAPPED_ROWS;
    b->rows = 0;
    if (s->pad.axis == 1 - s->along && (fixed < s->lo || fixed >= s->hi)) return 0; /* all zero rows */
    b->block_rows = (int)(m->dims[s->along] - o < MAPPED_ROWS ? m->dims[s->along] - o : MAPPED_ROWS);
    /* Rows along the slices (then along = 1: the block's rows are consecutive) that lie in
     * the zero slices of the volume before, of another shape: their ends are zero already. */
    int ends_zero = 0;
    if (s->known_zero_rows && s->last_axis == 2) {
        const uint64_t first = (fixed * m->dims[1] + o) * s->row_n;
        ends_zero = volume_padding_zero_end(s->zeros, first) >= first + (uint64_t)b->block_rows * s->row_n;
    }
    for (int j = 0; j < b->block_rows; j++) {
        /* The row's first two output indices, and the source coordinates they fix. */
        const uint64_t index[2] = {s->group_first ? o + (uint64_t)j : fixed, s->group_first ? fixed : o + (uint64_t)j};
        if (s->pad.axis == s->along && (index[s->along] < s->lo || index[s->along] >= s->hi))
            continue; /* a zero row */
        const int r = b->rows;
        b->row_out[r] = s->out + (size_t)(index[0] * m->dims[1] + index[1]) * s->row_n * s->esize;
        uint64_t source[3] = {0, 0, 0};
        for (int t = 0; t < 2; t++) source[m->source_axis[t]] = m->flip[t] ? m->dims[t] - 1 - index[t] : index[t];
        b->k0[r] = 0, b->k1[r] = s->row_n;
        if (s->last_axis == 2) { /* the slice axis runs along the row: zeros at its ends */
            b->k0[r] = s->lo, b->k1[r] = s->hi;
            source[2] = 0;
            /* the ends' stale part: [0, k0) and [k1, row_n) within [stale_lo, stale_hi) */
            const uint64_t end0 = s->lo < s->stale_hi ? s->lo : s->stale_hi;
            const uint64_t start1 = s->hi > s->stale_lo ? s->hi : s->stale_lo;
            if (!ends_zero && end0 > s->stale_lo)
                memset(b->row_out[r] + (size_t)s->stale_lo * s->esize, 0, (size_t)(end0 - s->stale_lo) * s->esize);
            if (!ends_zero && s->stale_hi > start1)
                memset(b->row_out[r] + (size_t)start1 * s->esize, 0, (size_t)(s->stale_hi - start1) * s->esize);
        } else {
            source[2] -= m->pad_before;
        }
        b->base[r] = s->p->resized + source[0] * s->source_stride[0] + source[1] * s->source_stride[1] +
                     source[2] * s->source_stride[2];
        b->rows++;
    }
    return b->rows;
}

/* The block's values into `tile` ([MAPPED_ROWS][row_n]; row j's at k - k0[j]), the
 * source along the row read in order or reversed (flip[2]). */
static void mapped_block_gather(const mapped_store_t *s, const mapped_block_t *b, float *tile)
{
    const volume_map_t *m = s->m;
    const uint64_t row_n = s->row_n, last_stride = s->last_stride;
    if (s->rows_are_neighbours && b->rows == b->block_rows && last_stride != 1) {
        /* row j's values start at base[0] + j: one transpose (tile_gather) */
        const uint64_t n = b->k1[0] - b->k0[0];
        tile_gather(b->base[0] + (m->flip[2] ? (n - 1) * last_stride : 0),
                    m->flip[2] ? -(ptrdiff_t)last_stride : (ptrdiff_t)last_stride, (size_t)n, (size_t)b->rows, tile,
                    (size_t)row_n);
    } else if (s->last_axis == 2 || s->group_first) {
        /* Every row the same [k0, k1): k by k across the rows. One cache line per k serves
         * the block's rows; the lines lie a plane or a row apart, a stride the hardware
         * does not prefetch: asked for MAPPED_PREFETCH steps ahead. */
        const uint64_t n = b->k1[0] - b->k0[0];
        for (uint64_t k = 0; k < n; k++) {
            const uint64_t at = (m->flip[2] ? n - 1 - k : k) * last_stride;
            if (k + MAPPED_PREFETCH < n) {
                const uint64_t ahead = (m->flip[2] ? n - 1 - k - MAPPED_PREFETCH : k + MAPPED_PREFETCH) * last_stride;
                __builtin_prefetch(b->base[0] + ahead);
                __builtin_prefetch(b->base[b->rows - 1] + ahead);
            }
            for (int j = 0; j < b->rows; j++) tile[(size_t)j * row_n + k] = b->base[j][at];
        }
    } else {
        for (int j = 0; j < b->rows; j++) {
            const uint64_t n = b->k1[j] - b->k0[j];
            float *t = tile + (size_t)j * row_n;
            const float *src = b->base[j];
            if (last_stride == 1) /* reversed in place: a loop gcc vectorises */
                for (uint64_t k = 0; k < n; k++) t[k] = src[n - 1 - k];
            else if (m->flip[2])
                for (uint64_t k = 0; k < n; k++) t[k] = src[(n - 1 - k) * last_stride];
            else
                for (uint64_t k = 0; k < n; k++) t[k] = src[k * last_stride];
        }
    }
}

static void write_volume_mapped(const cpu_backend_t *p, const volume_request_t *req, double mean, double std,
                                const volume_padding_t *zeros, void *out)
{
    const mapped_store_t s = mapped_store_plan(p, req, zeros, out);
    const volume_map_t *m = s.m;
    const int f16 = p->opt.dtype == DTYPE_FLOAT16;
    zero_fill_padding(p, &s.pad, s.lo, s.hi, zeros, out);
#pragma omp parallel num_threads(p->threads)
    {
        float *tile = malloc(MAPPED_ROWS * s.row_n * sizeof *tile); /* [MAPPED_ROWS][row_n] */
        mapped_block_t b;
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < (int64_t)(m->dims[1 - s.along] * s.blocks_per_line); blk++) {
            if (mapped_block_rows(&s, blk, &b) == 0) continue;
            if (!tile) { /* no tile: element by element, the same values */
                for (int j = 0; j < b.rows; j++)
                    for (uint64_t k = 0, n = b.k1[j] - b.k0[j]; k < n; k++) {
                        const uint64_t at = (m->flip[2] ? n - 1 - k : k) * s.last_stride;
                        volume_store(b.row_out[j], b.k0[j] + k, f16,
                                     zscore_apply_masked(b.base[j][at], mean, std, req->nonzero));
                    }
            } else if (s.last_stride == 1 && !m->flip[2]) {
                /* the source row itself, in order: z-scored straight from it, no tile */
                for (int j = 0; j < b.rows; j++)
                    zscore_span(b.base[j], (size_t)(b.k1[j] - b.k0[j]), mean, std, req->nonzero, f16, b.row_out[j],
                                (size_t)b.k0[j]);
            } else {
                mapped_block_gather(&s, &b, tile);
                for (int j = 0; j < b.rows; j++)
                    zscore_span(tile + (size_t)j * s.row_n, (size_t)(b.k1[j] - b.k0[j]), mean, std, req->nonzero,
                                f16, b.row_out[j], (size_t)b.k0[j]);
            }
        }
        free(tile);
    }
}

/* Whether the map is the options' layout and nothing else (the loop below then serves). */
static int map_is_layout(const volume_map_t *m, int layout, uint32_t depth)
{
    static const int32_t axes[2][3] = {{1, 0, 2}, {2, 1, 0}};
    for (int t = 0; t < 3; t++)
        if (m->source_axis[t] != axes[layout == LAYOUT_DHW][t] || m->flip[t]) return 0;
    return m->pad_before == 0 && m->depth == depth && m->dims[0] * m->dims[1] * m->dims[2] > 0 &&
           m->dims[layout == LAYOUT_DHW ? 0 : 2] == depth;
}

/* Loop 3: z-score (masked with --norm nonzero), dtype and layout, from resized [D][H][W]
 * into the output buffer, parallel over output rows y (one writer per element).
 *   dhw: row y of each slice d is contiguous in both arrays: one span per slice.
 *   hwd: the row's W x D values (each pixel's D values side by side) are one contiguous
 *        run of the output; they are gathered from the D slices into a [W][D] tile
 *        (128 KB at 256 x 128: in L2), then z-scored as one span. The z-score used to
 *        run element by element along the strided gather (scalar divsd, 19% of a run's
 *        CPU time in perf); the division now runs on contiguous data. A thread whose
 *        tile cannot be allocated does the gather and z-score element by element. */
static void write_volume(const cpu_backend_t *p, uint32_t depth, double mean, double std, int nonzero, void *out)
{
    const size_t w = (size_t)p->opt.out_w, h = (size_t)p->opt.out_h, plane = w * h, row_n = w * depth;
    const float *src = p->resized;
    const int f16 = p->opt.dtype == DTYPE_FLOAT16, hwd = p->opt.layout != LAYOUT_DHW;
#pragma omp parallel num_threads(p->threads)
    {
        float *tile = hwd ? malloc(row_n * sizeof *tile) : NULL;
#pragma omp for schedule(static)
        for (int32_t y = 0; y < (int32_t)h; y++) {
            const size_t row = (size_t)y * w;
            if (!hwd) {
                for (uint32_t d = 0; d < depth; d++) zscore_span(src + d * plane + row, w, mean, std, nonzero, f16, out, d * plane + row);
            } else if (tile) {
                /* Eight slices at a time: each pixel's eight values are one 32-byte store
                 * into the tile, from eight sequential streams (one slice at a time wrote
                 * every tile line 16 times, a line per store). */
                uint32_t d = 0;
                for (; d + 8 <= depth; d += 8) {
                    const float *s0 = src + d * plane + row;
                    for (size_t x = 0; x < w; x++) {
                        float *t = tile + x * depth + d;
                        for (int k = 0; k < 8; k++) t[k] = s0[(size_t)k * plane + x];
                    }
                }
                for (; d < depth; d++) {
                    const float *s = src + d * plane + row;
                    for (size_t x = 0; x < w; x++) tile[x * depth + d] = s[x];
                }
                zscore_span(tile, row_n, mean, std, nonzero, f16, out, (size_t)y * row_n);
            } else {
                for (size_t x = 0; x < w; x++)
                    for (uint32_t d = 0; d < depth; d++)
                        volume_store(out, volume_out_index(VOLUME_LAYOUT_HWD, row + x, d, plane, depth), f16,
                                     zscore_apply_masked(src[d * plane + row + x], mean, std, nonzero));
            }
        }
        free(tile);
    }
}

mp_status cpu_build_volume(cpu_backend_t *p, const series_batch_t *b, const uint32_t *selected, uint32_t depth,
                           const volume_request_t *req, void *out, volume_padding_t *zeros, double *mean, double *std,
                           stage_times_t *seconds, mp_error *err)
{
    const size_t plane = (size_t)p->opt.out_w * (size_t)p->opt.out_h;
    const int plain = volume_request_is_plain(req);
#pragma omp parallel num_threads(p->threads)
    {
        resize_scratch_t *scratch = resize_scratch_new(); /* this thread's, grown to its largest slice */
        float *crop = NULL;                               /* raw intensity: this thread's float crop */
        size_t crop_cap = 0;
#pragma omp for schedule(dynamic, 1)
        for (int32_t d = 0; d < (int32_t)depth; d++) {
            if (!scratch) {
                mp_fail(&p->moments[d].error, MP_ERR_NOMEM, "cannot allocate resize buffers");
                continue;
            }
            float *dst = p->resized + (size_t)d * plane;
            if (plain)
                crop_resize_measure(p, &b->slots[selected[d]], scratch, dst, &p->moments[d]);
            else
                crop_resize_measure_any(p, req, &b->slots[selected[d]], scratch, &crop, &crop_cap, dst,
                                        &p->moments[d]);
        }
        free(crop);
        resize_scratch_free(scratch);
    }

    /* Serial: exact sums of the per-slice fixed-point moments. */
    int64_t sum_q = 0, sum_q2 = 0, q_min = INT64_MAX, q_max = INT64_MIN;
    uint64_t count = 0;
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
        if (!plain && m->count) {
            count += m->count;
            q_min = m->q_min < q_min ? m->q_min : q_min;
            q_max = m->q_max > q_max ? m->q_max : q_max;
        }
        seconds->resize += m->t_resize;
    }
    if (plain)
        zscore_moments(sum_q, sum_q2, (uint64_t)plane * depth, vmin == vmax, mean, std);
    else
        zscore_moments_scaled(sum_q, sum_q2, count, q_min == q_max, req->scale_exp, mean, std);

    double t0 = mp_wall_seconds();
    if (map_is_layout(&req->map, (int)p->opt.layout, depth))
        write_volume(p, depth, *mean, *std, req->nonzero, out);
    else
        write_volume_mapped(p, req, *mean, *std, zeros, out);
    *zeros = volume_map_padding(&req->map);
    seconds->zscore += (mp_wall_seconds() - t0) * p->threads;
    return MP_OK;
}
