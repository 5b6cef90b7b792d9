/* resize.c - kernel lab for the per-slice "resize" step of the CPU backend
 * (resize_crop_measure, src/compute/resize_engine.c: resize_v12's loops with a bounded
 * ring and AREA_FAST bands): crop + min-max to float32, OpenCV
 * INTER_AREA resize (src/compute/resize.c + kernels/resize_area.h), fixed-point moments.
 *
 * Numbered versions in the llm.c dev/cuda manner. resize_v1 is the reference,
 * the CPU backend's step before the lab: the float crop, the project's own resize_area_f32
 * (src/compute/resize.c is linked in, not copied) and the llrint moments. Every other version must give output bit-identical to v1 - memcmp of the
 * float32 plane, identical int64 moments, identical min/max bits - on every test crop
 * before it is timed; a version that differs is reported "NO", not timed, and the
 * program exits 1.
 *
 * The rule every version keeps: the float operations of each output element, and their
 * order, are exactly those of kernels/resize_area.h (bit-exact with OpenCV, shared with
 * the CUDA kernels). Only loop structure, fusion and memory traffic change:
 *   - "row engine": a source row's horizontal sums are computed once for all output
 *     columns (LINEAR_AREA too, which the reference computes per output pixel: 2 rows x
 *     2 taps for each of the 65,536 pixels), then combined row-wise;
 *   - AREA_GENERAL taps are consecutive source columns (area_axis_taps emits s1-1, s1..
 *     s2-1, s2), so a tap list is a first column and a count, unrolled for 1..4 taps;
 *   - the min-max conversion reads the uint16 slice row by row into an L1 buffer (no
 *     [bh][bw] float crop), the moments are taken from each output row while it is hot;
 *   - the horizontal pass runs on 4 (SSE2) or 8 (AVX2) source rows at once, transposed,
 *     so each lane does one row's scalar sequence (t4_engine, t8_engine).
 *
 * Moments: zscore_fixed/zscore_fixed_sq (kernels/zscore_math.h) round v*2^32 and
 * v*v*2^32 with llrint, which x86-64 has only as a scalar instruction. The "magic"
 * versions get the same int64 from a double add, two lanes per SSE2 op (proof at
 * fixed_magic below), checked exhaustively over every float in [0, 1.0000001]. These,
 * and resize_v11's reciprocal min-max, are the only places where the arithmetic itself
 * differs from the reference - each with a proof and an exhaustive check of identity.
 *
 * AVX2 versions (v13, v15, v16) are compiled with target attributes and run only where
 * __builtin_cpu_supports("avx2"): the runtime-dispatch plan, not -march.
 *
 *   build/lab/resize [--reps N] [--real build/lab/slices.bin] [--quick]
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emmintrin.h>

#include "bench/lab/lab.h"
#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/resize.h"

/* One slice to crop and resize: the raw slice, its crop box and its min/max (from the
 * stats step), and the output size. */
typedef struct job {
    const uint16_t *px;
    int32_t cols;
    int is_signed;
    slice_box_t box;
    int32_t min, max;
    int32_t out_w, out_h;
} job_t;

typedef struct moments {
    int64_t sum_q, sum_q2;
    float min, max;
} moments_t;

/* Buffers a thread keeps from slice to slice (as cpu_build_volume keeps `crop`). */
typedef struct scratch {
    float *crop;
    size_t crop_cap;
    float *rows; /* [4][8192]: converted source rows */
    float *hsum; /* [2][8192]: horizontal sums of the last two source rows */
    int32_t *x_first, *x_count; /* [8192]: AREA_GENERAL first source column and tap count */
    float *x_weight;            /* [8192*?]: AREA_GENERAL weights, x_start order */
    size_t x_weight_cap;
    int32_t *x_group;           /* [8192]: output columns grouped by tap count */
    int32_t group_start[6];     /* counts 1..4, then "other" */
    float *a0;                  /* [8192]: LINEAR_AREA 1 - x_frac */
    /* the 4-row engine (v8..) */
    __m128 *t4;                 /* [8192]: 4 source rows transposed, t4[c] = rows r..r+3 at column c */
    __m128 *h4;                 /* [8192]: their horizontal sums, per output column */
    __m128 *w4;                 /* [taps] or [2][dst_w]: weights broadcast to 4 lanes */
    size_t w4_cap;
    float *hall;                /* [bh+7][dst_w]: horizontal sums of every source row */
    size_t hall_cap;
    /* the 8-row AVX2 engine (v16) */
    float *rows8;               /* [8][ROWS8_STRIDE]: converted source rows */
    float *t8;                  /* [8192][8]: 8 source rows transposed */
    float *h8;                  /* [8192][8]: their horizontal sums */
} scratch_t;

#define ROWS8_STRIDE (8192 + 16) /* not a multiple of 4 KiB: the 8 rows do not alias in L1 */

typedef int (*resize_fn)(const job_t *j, float *dst, moments_t *m, scratch_t *s);

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "resize lab: out of memory\n");
        exit(2);
    }
    return p;
}

static void crop_reserve(scratch_t *s, size_t need)
{
    if (need > s->crop_cap) {
        free(s->crop);
        s->crop = xmalloc(need * sizeof(float));
        s->crop_cap = need;
    }
}

/* ---- v1: the reference: float crop, resize_area_f32, llrint moments ---------------------- */

static int resize_v1(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    crop_reserve(sc, (size_t)bh * (size_t)bw);
    float *crop = sc->crop;
    float range = (float)(j->max - j->min);
    for (int32_t r = 0; r < bh; r++) {
        float *out = crop + (size_t)r * bw;
        if (j->is_signed) /* two copies so each inner loop vectorises */
            for (int32_t c = 0; c < bw; c++) out[c] = crop_value(j->px, j->cols, 1, j->box, j->min, range, r, c);
        else
            for (int32_t c = 0; c < bw; c++) out[c] = crop_value(j->px, j->cols, 0, j->box, j->min, range, r, c);
    }
    resize_plan_t plan;
    mp_error err;
    if (resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err) != MP_OK) return -1;
    resize_area_f32(&plan, crop, (size_t)bw, dst, (size_t)j->out_w);
    resize_plan_free(&plan);

    int64_t sq = 0, sq2 = 0;
    float mn = dst[0], mx = dst[0];
    size_t plane = (size_t)j->out_w * (size_t)j->out_h;
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
    return 0;
}

/* ---- moments ------------------------------------------------------------------------------
 * Accumulated over any split of the plane: int64 sums add exactly in any order, and
 * min/max of non-NaN floats do not depend on the order either (the resized values are
 * never -0: every product and sum of the resize is of values >= +0 and starts from +0,
 * so the +0/-0 tie that would make min order-dependent cannot occur). */

/* Results the timing loops throw away go here, so the compiler cannot drop the work. */
static volatile uint64_t lab_sink;

typedef struct macc {
    int64_t q, q2;
    float mn, mx;
    int started;
} macc_t;

/* The reference: zscore_fixed / zscore_fixed_sq (2 llrint per voxel). */
__attribute__((noinline)) static void macc_llrint(macc_t *a, const float *v, size_t n)
{
    int64_t q = 0, q2 = 0;
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    float mn = a->mn, mx = a->mx;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        q += zscore_fixed(x);
        q2 += zscore_fixed_sq(x);
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    a->q += q;
    a->q2 += q2;
    a->mn = mn;
    a->mx = mx;
}

/* llrint(y) without the scalar cvtsd2si: y + M with M = 1.5 * 2^52.
 *
 * Why it is exact (round to nearest even, the default mode, as llrint uses; the add is
 * in double: x86-64 SSE2, FLT_EVAL_METHOD 0, no -ffast-math):
 *  1. y = v * 2^32 and y2 = (v*v) * 2^32 are exact in double for any float v: v has 24
 *     significant bits, v*v at most 48 < 53, and scaling by 2^32 only moves the exponent
 *     (no overflow or underflow for |v| <= 2^19; floats below 2^-149 do not exist).
 *  2. For |y| < 2^51: y + M lies in [2^52, 2^53), where doubles are exactly the integers
 *     (spacing 1). So fl(y + M) = M + r with r = y rounded to an integer, to nearest,
 *     ties to the even integer: M is even, so "M + r even" <=> "r even", and r is
 *     exactly rint(y) = llrint(y).
 *  3. In [2^52, 2^53) the bit pattern of a double is bits(2^52) + (value - 2^52), linear
 *     with slope 1, so bits(fl(y+M)) - bits(M) = r as an int64.
 *  For the lab's range v in [0, 1.0000001]: y <= 2^32 * (1 + 2^-22) < 2^33 and
 *  y2 < 2^33, far inside |y| < 2^51 (the identity holds for |v| < 2^9.5 for both).
 *  NaN/inf would give garbage where llrint gives INT64_MIN; v is never either here
 *  (min-max of finite integers with max > min). Checked exhaustively by moments_check().
 * Summing the raw bits and subtracting n * bits(M) once at the end gives the same
 * int64 (two's-complement addition is exact modulo 2^64 and the true sum fits). */
#define MAGIC_D 6755399441055744.0          /* 1.5 * 2^52 */
#define MAGIC_BITS 0x4338000000000000ll     /* its bit pattern */

static inline int64_t fixed_magic(double y)
{
    double t = y + MAGIC_D;
    int64_t b;
    memcpy(&b, &t, sizeof b);
    return b - MAGIC_BITS;
}

/* The unscaled magic (multiply by 2^32, then add 1.5 * 2^52): the lab's first version;
 * kernels/zscore_math.h's zscore_fixed_magic is the scaled one below (moments_v6). */
static inline int64_t lab_fixed_magic_2p32(float v)
{
    return fixed_magic((double)v * ZSCORE_FIXED_SCALE);
}

static inline int64_t lab_fixed_sq_magic_2p32(float v)
{
    double d = (double)v;
    return fixed_magic(d * d * ZSCORE_FIXED_SCALE);
}

/* The magic constant scaled by 2^-32 saves the multiplies: for |d| < 2^19, d + 1.5*2^20
 * lies in [2^20, 2^21), where doubles are the multiples of 2^-32, so fl(d + M') =
 * M' + (d rounded to a multiple of 2^-32, ties to even: M' is an even multiple), and the
 * bit pattern counts those multiples: bits(fl(d + M')) - bits(M') = rint(d * 2^32), which
 * is llrint(d * 2^32) because d * 2^32 is exact. The same for d*d (exact in double). */
#define MAGIC_S 1572864.0                   /* 1.5 * 2^20 */
#define MAGIC_S_BITS 0x4138000000000000ll

static inline int64_t fixed_magic_s(double d)
{
    double t = d + MAGIC_S;
    int64_t b;
    memcpy(&b, &t, sizeof b);
    return b - MAGIC_S_BITS;
}

static inline int64_t zscore_fixed_magic_s(float v)
{
    return fixed_magic_s((double)v);
}

static inline int64_t zscore_fixed_sq_magic_s(float v)
{
    double d = (double)v;
    return fixed_magic_s(d * d);
}

/* Scalar tail of the scaled-magic loops (kept out of line: inlined after a vector loop of
 * known length, gcc warns about the loop it cannot bound). */
__attribute__((noinline)) static void macc_magic_s_tail(macc_t *a, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        a->q += zscore_fixed_magic_s(x);
        a->q2 += zscore_fixed_sq_magic_s(x);
        a->mn = x < a->mn ? x : a->mn;
        a->mx = x > a->mx ? x : a->mx;
    }
}

/* Scalar magic. */
static inline void macc_magic_scalar(macc_t *a, const float *v, size_t n)
{
    int64_t q = 0, q2 = 0;
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    float mn = a->mn, mx = a->mx;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        q += lab_fixed_magic_2p32(x);
        q2 += lab_fixed_sq_magic_2p32(x);
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    a->q += q;
    a->q2 += q2;
    a->mn = mn;
    a->mx = mx;
}

/* SSE2 magic: 4 floats per iteration, 2 doubles per op, the bits summed with paddq. */
__attribute__((noinline)) static void macc_magic_sse2(macc_t *a, const float *v, size_t n)
{
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    const __m128d scale = _mm_set1_pd(ZSCORE_FIXED_SCALE), magic = _mm_set1_pd(MAGIC_D);
    __m128i q = _mm_setzero_si128(), q2 = _mm_setzero_si128();
    __m128 mn = _mm_set1_ps(a->mn), mx = _mm_set1_ps(a->mx);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(v + i);
        __m128d lo = _mm_cvtps_pd(x), hi = _mm_cvtps_pd(_mm_movehl_ps(x, x));
        q = _mm_add_epi64(q, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(lo, scale), magic)));
        q = _mm_add_epi64(q, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(hi, scale), magic)));
        q2 = _mm_add_epi64(q2, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(_mm_mul_pd(lo, lo), scale), magic)));
        q2 = _mm_add_epi64(q2, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(_mm_mul_pd(hi, hi), scale), magic)));
        mn = _mm_min_ps(x, mn); /* x < mn ? x : mn, per lane */
        mx = _mm_max_ps(x, mx); /* x > mx ? x : mx, per lane */
    }
    int64_t lq[2], lq2[2];
    float fmn[4], fmx[4];
    _mm_storeu_si128((__m128i *)lq, q);
    _mm_storeu_si128((__m128i *)lq2, q2);
    _mm_storeu_ps(fmn, mn);
    _mm_storeu_ps(fmx, mx);
    /* modulo 2^64 in uint64, then back: exact since the true sums fit in int64 */
    uint64_t bias = (uint64_t)MAGIC_BITS * (uint64_t)i;
    a->q += (int64_t)((uint64_t)lq[0] + (uint64_t)lq[1] - bias);
    a->q2 += (int64_t)((uint64_t)lq2[0] + (uint64_t)lq2[1] - bias);
    float m0 = a->mn, m1 = a->mx;
    for (int k = 0; k < 4; k++) {
        m0 = fmn[k] < m0 ? fmn[k] : m0;
        m1 = fmx[k] > m1 ? fmx[k] : m1;
    }
    a->mn = m0;
    a->mx = m1;
    if (i < n) macc_magic_scalar(a, v + i, n - i);
}

/* The reference's arithmetic (llrint) with 4 independent min/max/sum chains: the scalar
 * loop above is bound by the latency of its minss/maxss chain (one compare-select per
 * voxel on the critical path), not by llrint. Same int64 sums, same min/max. */
__attribute__((noinline)) static void macc_llrint4(macc_t *a, const float *v, size_t n)
{
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    int64_t q[4] = {0, 0, 0, 0}, q2[4] = {0, 0, 0, 0};
    float mn[4] = {a->mn, a->mn, a->mn, a->mn}, mx[4] = {a->mx, a->mx, a->mx, a->mx};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int k = 0; k < 4; k++) {
            float x = v[i + k];
            q[k] += zscore_fixed(x);
            q2[k] += zscore_fixed_sq(x);
            mn[k] = x < mn[k] ? x : mn[k];
            mx[k] = x > mx[k] ? x : mx[k];
        }
    }
    for (int k = 0; k < 4; k++) {
        a->q += q[k];
        a->q2 += q2[k];
        a->mn = mn[k] < a->mn ? mn[k] : a->mn;
        a->mx = mx[k] > a->mx ? mx[k] : a->mx;
    }
    if (i < n) macc_llrint(a, v + i, n - i);
}

/* SSE2 magic, 8 floats per iteration with two sets of accumulators (the min/max chains
 * of macc_magic_sse2 cost one 4-cycle minps per 4 voxels). */
__attribute__((noinline)) static void macc_magic_sse2x2(macc_t *a, const float *v, size_t n)
{
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    const __m128d scale = _mm_set1_pd(ZSCORE_FIXED_SCALE), magic = _mm_set1_pd(MAGIC_D);
    __m128i q = _mm_setzero_si128(), q2 = _mm_setzero_si128(), qb = q, q2b = q;
    __m128 mn = _mm_set1_ps(a->mn), mx = _mm_set1_ps(a->mx), mnb = mn, mxb = mx;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128 x = _mm_loadu_ps(v + i), y = _mm_loadu_ps(v + i + 4);
        __m128d x0 = _mm_cvtps_pd(x), x1 = _mm_cvtps_pd(_mm_movehl_ps(x, x));
        __m128d y0 = _mm_cvtps_pd(y), y1 = _mm_cvtps_pd(_mm_movehl_ps(y, y));
        q = _mm_add_epi64(q, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(x0, scale), magic)));
        qb = _mm_add_epi64(qb, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(x1, scale), magic)));
        q = _mm_add_epi64(q, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(y0, scale), magic)));
        qb = _mm_add_epi64(qb, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(y1, scale), magic)));
        q2 = _mm_add_epi64(q2, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(_mm_mul_pd(x0, x0), scale), magic)));
        q2b = _mm_add_epi64(q2b, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(_mm_mul_pd(x1, x1), scale), magic)));
        q2 = _mm_add_epi64(q2, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(_mm_mul_pd(y0, y0), scale), magic)));
        q2b = _mm_add_epi64(q2b, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(_mm_mul_pd(y1, y1), scale), magic)));
        mn = _mm_min_ps(x, mn);
        mnb = _mm_min_ps(y, mnb);
        mx = _mm_max_ps(x, mx);
        mxb = _mm_max_ps(y, mxb);
    }
    int64_t lq[2], lq2[2];
    float fmn[4], fmx[4];
    _mm_storeu_si128((__m128i *)lq, _mm_add_epi64(q, qb));
    _mm_storeu_si128((__m128i *)lq2, _mm_add_epi64(q2, q2b));
    _mm_storeu_ps(fmn, _mm_min_ps(mn, mnb));
    _mm_storeu_ps(fmx, _mm_max_ps(mx, mxb));
    uint64_t bias = (uint64_t)MAGIC_BITS * (uint64_t)i;
    a->q += (int64_t)((uint64_t)lq[0] + (uint64_t)lq[1] - bias);
    a->q2 += (int64_t)((uint64_t)lq2[0] + (uint64_t)lq2[1] - bias);
    float m0 = a->mn, m1 = a->mx;
    for (int k = 0; k < 4; k++) {
        m0 = fmn[k] < m0 ? fmn[k] : m0;
        m1 = fmx[k] > m1 ? fmx[k] : m1;
    }
    a->mn = m0;
    a->mx = m1;
    if (i < n) macc_magic_sse2(a, v + i, n - i);
}

/* Scaled magic (no multiply by 2^32), SSE2, 8 floats per iteration, 2 accumulator sets. */
__attribute__((noinline)) static void macc_magic_s_sse2(macc_t *a, const float *v, size_t n)
{
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    const __m128d magic = _mm_set1_pd(MAGIC_S);
    __m128i q = _mm_setzero_si128(), q2 = _mm_setzero_si128(), qb = q, q2b = q;
    __m128 mn = _mm_set1_ps(a->mn), mx = _mm_set1_ps(a->mx), mnb = mn, mxb = mx;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128 x = _mm_loadu_ps(v + i), y = _mm_loadu_ps(v + i + 4);
        __m128d x0 = _mm_cvtps_pd(x), x1 = _mm_cvtps_pd(_mm_movehl_ps(x, x));
        __m128d y0 = _mm_cvtps_pd(y), y1 = _mm_cvtps_pd(_mm_movehl_ps(y, y));
        q = _mm_add_epi64(q, _mm_castpd_si128(_mm_add_pd(x0, magic)));
        qb = _mm_add_epi64(qb, _mm_castpd_si128(_mm_add_pd(x1, magic)));
        q = _mm_add_epi64(q, _mm_castpd_si128(_mm_add_pd(y0, magic)));
        qb = _mm_add_epi64(qb, _mm_castpd_si128(_mm_add_pd(y1, magic)));
        q2 = _mm_add_epi64(q2, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(x0, x0), magic)));
        q2b = _mm_add_epi64(q2b, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(x1, x1), magic)));
        q2 = _mm_add_epi64(q2, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(y0, y0), magic)));
        q2b = _mm_add_epi64(q2b, _mm_castpd_si128(_mm_add_pd(_mm_mul_pd(y1, y1), magic)));
        mn = _mm_min_ps(x, mn);
        mnb = _mm_min_ps(y, mnb);
        mx = _mm_max_ps(x, mx);
        mxb = _mm_max_ps(y, mxb);
    }
    int64_t lq[2], lq2[2];
    float fmn[4], fmx[4];
    _mm_storeu_si128((__m128i *)lq, _mm_add_epi64(q, qb));
    _mm_storeu_si128((__m128i *)lq2, _mm_add_epi64(q2, q2b));
    _mm_storeu_ps(fmn, _mm_min_ps(mn, mnb));
    _mm_storeu_ps(fmx, _mm_max_ps(mx, mxb));
    uint64_t bias = (uint64_t)MAGIC_S_BITS * (uint64_t)i;
    a->q += (int64_t)((uint64_t)lq[0] + (uint64_t)lq[1] - bias);
    a->q2 += (int64_t)((uint64_t)lq2[0] + (uint64_t)lq2[1] - bias);
    float m0 = a->mn, m1 = a->mx;
    for (int k = 0; k < 4; k++) {
        m0 = fmn[k] < m0 ? fmn[k] : m0;
        m1 = fmx[k] > m1 ? fmx[k] : m1;
    }
    a->mn = m0;
    a->mx = m1;
    if (i < n) macc_magic_s_tail(a, v + i, n - i);
}

/* The same with AVX2 (4 doubles per op), for runtime dispatch only: compiled for AVX2 by
 * the target attribute, called only when __builtin_cpu_supports("avx2"). */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_MOMENTS 1
__attribute__((noinline, target("avx2"))) static void macc_magic_s_avx2(macc_t *a, const float *v, size_t n)
{
    if (!a->started && n) {
        a->mn = a->mx = v[0];
        a->started = 1;
    }
    const __m256d magic = _mm256_set1_pd(MAGIC_S);
    __m256i q = _mm256_setzero_si256(), q2 = q, qb = q, q2b = q;
    __m256 mn = _mm256_set1_ps(a->mn), mx = _mm256_set1_ps(a->mx);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(v + i);
        __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        q = _mm256_add_epi64(q, _mm256_castpd_si256(_mm256_add_pd(x0, magic)));
        qb = _mm256_add_epi64(qb, _mm256_castpd_si256(_mm256_add_pd(x1, magic)));
        q2 = _mm256_add_epi64(q2, _mm256_castpd_si256(_mm256_add_pd(_mm256_mul_pd(x0, x0), magic)));
        q2b = _mm256_add_epi64(q2b, _mm256_castpd_si256(_mm256_add_pd(_mm256_mul_pd(x1, x1), magic)));
        mn = _mm256_min_ps(x, mn);
        mx = _mm256_max_ps(x, mx);
    }
    int64_t lq[4], lq2[4];
    float fmn[8], fmx[8];
    _mm256_storeu_si256((__m256i *)lq, _mm256_add_epi64(q, qb));
    _mm256_storeu_si256((__m256i *)lq2, _mm256_add_epi64(q2, q2b));
    _mm256_storeu_ps(fmn, mn);
    _mm256_storeu_ps(fmx, mx);
    uint64_t bias = (uint64_t)MAGIC_S_BITS * (uint64_t)i;
    a->q += (int64_t)((uint64_t)lq[0] + (uint64_t)lq[1] + (uint64_t)lq[2] + (uint64_t)lq[3] - bias);
    a->q2 += (int64_t)((uint64_t)lq2[0] + (uint64_t)lq2[1] + (uint64_t)lq2[2] + (uint64_t)lq2[3] - bias);
    float m0 = a->mn, m1 = a->mx;
    for (int k = 0; k < 8; k++) {
        m0 = fmn[k] < m0 ? fmn[k] : m0;
        m1 = fmx[k] > m1 ? fmx[k] : m1;
    }
    a->mn = m0;
    a->mx = m1;
    if (i < n) macc_magic_s_tail(a, v + i, n - i);
}
#else
#define HAVE_AVX2_MOMENTS 0
#endif

enum { MOM_LLRINT = 0, MOM_MAGIC = 1, MOM_LLRINT4 = 2, MOM_MAGIC2 = 3, MOM_MAGIC_S = 4, MOM_MAGIC_S_AVX2 = 5 };

static inline void macc_add(macc_t *a, const float *v, size_t n, int kind)
{
    if (kind == MOM_MAGIC) macc_magic_sse2(a, v, n);
    else if (kind == MOM_MAGIC2) macc_magic_sse2x2(a, v, n);
    else if (kind == MOM_LLRINT4) macc_llrint4(a, v, n);
    else if (kind == MOM_MAGIC_S) macc_magic_s_sse2(a, v, n);
#if HAVE_AVX2_MOMENTS
    else if (kind == MOM_MAGIC_S_AVX2) macc_magic_s_avx2(a, v, n);
#endif
    else macc_llrint(a, v, n);
}

static inline void macc_store(const macc_t *a, moments_t *m)
{
    m->sum_q = a->q;
    m->sum_q2 = a->q2;
    m->min = a->mn;
    m->max = a->mx;
}

/* ---- the row engine (v2..) -------------------------------------------------------------- */

typedef struct cfg {
    int fuse_convert; /* read the uint16 slice row by row (no float crop) */
    int recip;        /* min-max as (float)((double)(x - min) * (1.0 / range)): see convert_row */
    int fuse_moments; /* moments per finished output row */
    int moments;      /* MOM_LLRINT or MOM_MAGIC */
    int grouped;      /* AREA_GENERAL columns grouped by tap count (no per-column branch) */
    int prefetch;     /* software prefetch of the next raw rows and output rows */
} cfg_t;

/* Where source rows come from: the float crop (v2), or converted from the slice on demand. */
typedef struct source {
    const job_t *j;
    const float *crop; /* [bh][bw] or NULL */
    int32_t bw;
    float range;
    int recip;  /* cfg.recip */
    double inv; /* 1.0 / (double)(max - min) */
    int prefetch; /* cfg.prefetch */
} source_t;

/* Software prefetch of `bytes` from p (one hint per 64-byte line). The VM this lab was
 * written on shows little effect of the hardware prefetchers on scalar-paced loops (a
 * 45 MB read at the moments loop's pace runs at ~2 GB/s), and the pipeline reads each raw
 * slice and writes each output plane exactly once, from and to memory. */
static inline void prefetch_bytes(const void *p, size_t bytes)
{
    const char *c = (const char *)((uintptr_t)p & ~(uintptr_t)63), *e = (const char *)p + bytes;
    for (; c < e; c += 64) _mm_prefetch(c, _MM_HINT_T0);
}

/* Min-max of one crop row, exactly crop_value's float ops: (float)(x - min) / range.
 *
 * With s->recip: (float)((double)k * inv), k = x - min, inv = 1.0 / r, r = max - min.
 * NOT the same operations, but the same float for every 0 <= k <= r <= 65535 (all that
 * 16-bit data can give), so a replacement only with the proof and the exhaustive test:
 *  - the exact quotient q = k/r is never a float rounding midpoint: a midpoint in (0, 1]
 *    is M * 2^-t with M odd and M >= 2^24 (25 significant bits), and k * 2^t = M * r
 *    would need M | k, impossible for k < 2^16;
 *  - its distance to any midpoint m = M' * 2^-t is |k*2^t - M'*r| / (r * 2^t) >= 2^-t / r,
 *    i.e. more than 2^-41 relative to q (2^-t is within 2^-24..2^-25 of q's ulp, r < 2^16);
 *  - the double k * fl(1/r) is within 2 roundings, < 2^-52 relative, of q;
 *  so both round to the float on the same side of every midpoint: the same float.
 *  k = 0 gives +0 both ways. Checked for all 2,147,516,415 pairs by recip_check(). */
static inline void convert_row(const source_t *s, int32_t r, float *out)
{
    const job_t *j = s->j;
    const uint16_t *in = j->px + (size_t)(j->box.row0 + r) * (size_t)j->cols + (size_t)j->box.col0;
    const int32_t mn = j->min, bw = s->bw;
    const float range = s->range;
    if (s->recip) {
        const double inv = s->inv;
        if (j->is_signed)
            for (int32_t c = 0; c < bw; c++) out[c] = (float)((double)(slice_stored_value(in[c], 1) - mn) * inv);
        else
            for (int32_t c = 0; c < bw; c++) out[c] = (float)((double)(slice_stored_value(in[c], 0) - mn) * inv);
        return;
    }
    if (j->is_signed) /* two copies so each loop vectorises */
        for (int32_t c = 0; c < bw; c++) out[c] = slice_minmax_value(slice_stored_value(in[c], 1), mn, range);
    else
        for (int32_t c = 0; c < bw; c++) out[c] = slice_minmax_value(slice_stored_value(in[c], 0), mn, range);
}

static inline const float *source_row(const source_t *s, int32_t r, float *buf)
{
    if (s->crop) return s->crop + (size_t)r * (size_t)s->bw;
    convert_row(s, r, buf);
    return buf;
}

/* AREA_GENERAL: the compact tap tables. Returns 0 when some column's taps are not
 * consecutive (never for area_axis_taps; the caller then takes the generic path). */
static int general_prepare(const resize_tables_t *t, scratch_t *sc)
{
    size_t nt = (size_t)t->x_start[t->dst_w];
    if (nt > sc->x_weight_cap) {
        free(sc->x_weight);
        sc->x_weight = xmalloc(nt * sizeof(float));
        sc->x_weight_cap = nt;
    }
    for (size_t i = 0; i < nt; i++) sc->x_weight[i] = t->x_taps[i].weight;
    int32_t cnt[6] = {0};
    for (int32_t x = 0; x < t->dst_w; x++) {
        int32_t x0 = t->x_start[x], k = t->x_start[x + 1] - x0;
        if (k < 1) return 0;
        for (int32_t i = 1; i < k; i++)
            if (t->x_taps[x0 + i].index != t->x_taps[x0].index + i) return 0;
        sc->x_first[x] = t->x_taps[x0].index;
        sc->x_count[x] = k;
        cnt[k <= 4 ? k : 5]++;
    }
    int32_t pos[6];
    sc->group_start[0] = pos[0] = 0;
    for (int k = 1; k < 6; k++) sc->group_start[k] = pos[k] = sc->group_start[k - 1] + cnt[k - 1];
    /* group_start[k]..group_start[k+1]-1 hold the columns with k taps (k = 5: more) */
    for (int32_t x = 0; x < t->dst_w; x++) {
        int32_t k = sc->x_count[x];
        sc->x_group[pos[k <= 4 ? k : 5]++] = x;
    }
    return 1;
}

/* resize_general_hsum for column x, unrolled; the same float ops in the same order
 * (h starts at +0.f and every tap is h = h + p*w; row[first + i] is x_taps[x0+i].index). */
static inline float hsum_k(const float *p, const float *w, int32_t k)
{
    float h = 0.f;
    switch (k) {
    case 1: return h + p[0] * w[0];
    case 2: return (h + p[0] * w[0]) + p[1] * w[1];
    case 3: return ((h + p[0] * w[0]) + p[1] * w[1]) + p[2] * w[2];
    case 4: return (((h + p[0] * w[0]) + p[1] * w[1]) + p[2] * w[2]) + p[3] * w[3];
    default:
        for (int32_t i = 0; i < k; i++) h = h + p[i] * w[i];
        return h;
    }
}

static inline void general_hrow(const resize_tables_t *t, const scratch_t *sc, const float *row, float *out,
                                int grouped)
{
    const int32_t *first = sc->x_first, *count = sc->x_count, *start = t->x_start;
    const float *w = sc->x_weight;
    if (!grouped) {
        for (int32_t x = 0; x < t->dst_w; x++) out[x] = hsum_k(row + first[x], w + start[x], count[x]);
        return;
    }
    const int32_t *g = sc->x_group, *gs = sc->group_start;
    for (int32_t i = gs[1]; i < gs[2]; i++) {
        int32_t x = g[i];
        out[x] = hsum_k(row + first[x], w + start[x], 1);
    }
    for (int32_t i = gs[2]; i < gs[3]; i++) {
        int32_t x = g[i];
        out[x] = hsum_k(row + first[x], w + start[x], 2);
    }
    for (int32_t i = gs[3]; i < gs[4]; i++) {
        int32_t x = g[i];
        out[x] = hsum_k(row + first[x], w + start[x], 3);
    }
    for (int32_t i = gs[4]; i < gs[5]; i++) {
        int32_t x = g[i];
        out[x] = hsum_k(row + first[x], w + start[x], 4);
    }
    for (int32_t i = gs[5]; i < t->dst_w; i++) {
        int32_t x = g[i];
        out[x] = hsum_k(row + first[x], w + start[x], count[x]);
    }
}

/* resize_general_rows' structure (2 cached horizontal-sum rows), per output row:
 * out = b*h for the first row tap, out = out + b*h after (resize_general_vstep). */
static inline __attribute__((always_inline)) void general_rows(const resize_tables_t *t, scratch_t *sc,
                                                                const source_t *src, float *dst, macc_t *acc,
                                                                cfg_t cfg)
{
    float *sums[2] = {sc->hsum, sc->hsum + 8192};
    int32_t cached[2] = {-1, -1}, slot = 0;
    const int32_t w = t->dst_w;
    for (int32_t y = 0; y < t->dst_h; y++) {
        float *restrict out = dst + (size_t)y * (size_t)w;
        const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
        for (int32_t j = y0; j < y1; j++) {
            const int32_t r = t->y_taps[j].index;
            const float b = t->y_taps[j].weight;
            const float *restrict h;
            if (cached[0] == r || cached[1] == r) {
                h = sums[cached[0] == r ? 0 : 1];
            } else {
                float *fill = sums[slot];
                general_hrow(t, sc, source_row(src, r, sc->rows), fill, cfg.grouped);
                cached[slot] = r;
                slot ^= 1;
                h = fill;
            }
            if (j == y0)
                for (int32_t x = 0; x < w; x++) out[x] = b * h[x];
            else
                for (int32_t x = 0; x < w; x++) out[x] = out[x] + b * h[x];
        }
        if (cfg.fuse_moments) macc_add(acc, out, (size_t)w, cfg.moments);
    }
}

/* LINEAR_AREA a row at a time: resize_linear_area_pixel's h0/h1 depend only on the
 * source row and the column, so each source row's are computed once (the reference
 * computes both for every output pixel). Same ops: h = row[sx]*a0 + row[sx+1]*a1 (or
 * row[sx] at the right edge), out = h0*b0 + h1*b1, a0 = 1.f - a1, b0 = 1.f - b1. */
static inline __attribute__((always_inline)) void linear_rows(const resize_tables_t *t, scratch_t *sc,
                                                               const source_t *src, float *dst, macc_t *acc,
                                                               cfg_t cfg)
{
    float *sums[2] = {sc->hsum, sc->hsum + 8192};
    int32_t cached[2] = {-1, -1}, slot = 0;
    const int32_t w = t->dst_w, last = t->src_w - 1;
    const int32_t *xi = t->x_index;
    const float *a1 = t->x_frac;
    float *a0 = sc->a0;
    for (int32_t x = 0; x < w; x++) a0[x] = 1.f - a1[x];
    for (int32_t y = 0; y < t->dst_h; y++) {
        const int32_t r0 = t->y_index[y], r1 = resize_min_i32(r0 + 1, t->src_h - 1);
        const float *h[2];
        for (int k = 0; k < 2; k++) {
            int32_t r = k ? r1 : r0;
            if (cached[0] == r || cached[1] == r) {
                h[k] = sums[cached[0] == r ? 0 : 1];
                continue;
            }
            /* never evict the row the other tap of this output row just used */
            if (k == 1 && cached[slot] == r0) slot ^= 1;
            float *fill = sums[slot];
            const float *row = source_row(src, r, sc->rows);
            for (int32_t x = 0; x < w; x++) {
                int32_t sx = xi[x];
                fill[x] = sx >= last ? row[sx] : row[sx] * a0[x] + row[sx + 1] * a1[x];
            }
            cached[slot] = r;
            slot ^= 1;
            h[k] = fill;
        }
        const float b1 = t->y_frac[y], b0 = 1.f - b1;
        const float *restrict h0 = h[0], *restrict h1 = h[1];
        float *restrict out = dst + (size_t)y * (size_t)w;
        for (int32_t x = 0; x < w; x++) out[x] = h0[x] * b0 + h1[x] * b1;
        if (cfg.fuse_moments) macc_add(acc, out, (size_t)w, cfg.moments);
    }
}

/* AREA_FAST with 2x2 blocks: columns < fast_simd_w are ((a+b)+(c+d))*0.25f (OpenCV's
 * SSE lanes), the rest resize_fast_pixel's scalar walk: 0 + (((a+b)+c)+d), times
 * fast_scale. Here both in row form. */
static inline __attribute__((always_inline)) void fast2_rows(const resize_tables_t *t, scratch_t *sc,
                                                              const source_t *src, float *dst, macc_t *acc,
                                                              cfg_t cfg)
{
    const int32_t w = t->dst_w, sw = t->fast_simd_w;
    const float scale = t->fast_scale;
    for (int32_t y = 0; y < t->dst_h; y++) {
        if (cfg.prefetch && !src->crop && 2 * y + 3 < t->src_h) {
            const job_t *j = src->j;
            for (int32_t r = 2 * y + 2; r < 2 * y + 4; r++)
                prefetch_bytes(j->px + (size_t)(j->box.row0 + r) * (size_t)j->cols + (size_t)j->box.col0,
                               (size_t)src->bw * 2);
            if (y + 2 < t->dst_h) prefetch_bytes(dst + (size_t)(y + 2) * t->dst_w, (size_t)t->dst_w * sizeof(float));
        }
        const float *restrict p = source_row(src, 2 * y, sc->rows);
        const float *restrict q = source_row(src, 2 * y + 1, sc->rows + 8192);
        float *restrict out = dst + (size_t)y * (size_t)w;
        for (int32_t x = 0; x < sw; x++) out[x] = ((p[2 * x] + p[2 * x + 1]) + (q[2 * x] + q[2 * x + 1])) * 0.25f;
        for (int32_t x = sw; x < w; x++) {
            float s = 0.f;
            s = s + (((p[2 * x] + p[2 * x + 1]) + q[2 * x]) + q[2 * x + 1]);
            out[x] = s * scale;
        }
        if (cfg.fuse_moments) macc_add(acc, out, (size_t)w, cfg.moments);
    }
}

static inline __attribute__((always_inline)) int resize_engine(const job_t *j, float *dst, moments_t *m,
                                                                scratch_t *sc, cfg_t cfg)
{
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    source_t src = {j, NULL, bw, (float)(j->max - j->min), cfg.recip, 1.0 / (double)(j->max - j->min), cfg.prefetch};
    if (!cfg.fuse_convert) {
        crop_reserve(sc, (size_t)bh * (size_t)bw);
        for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
        src.crop = sc->crop;
    }
    resize_plan_t plan;
    mp_error err;
    if (resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err) != MP_OK) return -1;
    const resize_tables_t *t = &plan.tables;
    macc_t acc = {0, 0, 0.f, 0.f, 0};
    int rowwise = 1;
    const size_t plane = (size_t)t->dst_w * (size_t)t->dst_h;
    if (t->path == RESIZE_AREA_GENERAL && general_prepare(t, sc)) {
        general_rows(t, sc, &src, dst, &acc, cfg);
    } else if (t->path == RESIZE_LINEAR_AREA) {
        linear_rows(t, sc, &src, dst, &acc, cfg);
    } else if (t->path == RESIZE_AREA_FAST && t->kx == 2 && t->ky == 2) {
        fast2_rows(t, sc, &src, dst, &acc, cfg);
    } else if (t->path == RESIZE_COPY && src.crop == NULL) {
        for (int32_t y = 0; y < t->dst_h; y++) {
            float *out = dst + (size_t)y * (size_t)t->dst_w;
            convert_row(&src, y, out);
            if (cfg.fuse_moments) macc_add(&acc, out, (size_t)t->dst_w, cfg.moments);
        }
    } else {
        /* the rare rest (copy from a crop, other FAST factors): the reference loop */
        rowwise = 0;
        if (!src.crop) {
            crop_reserve(sc, (size_t)bh * (size_t)bw);
            for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
            src.crop = sc->crop;
        }
        resize_area_f32(&plan, src.crop, (size_t)bw, dst, (size_t)t->dst_w);
    }
    if (!cfg.fuse_moments || !rowwise) macc_add(&acc, dst, plane, cfg.moments);
    resize_plan_free(&plan);
    macc_store(&acc, m);
    return 0;
}

/* ---- the 4-row engine (v8..): the horizontal pass vectorised across source rows ------------
 * SSE2 has no gather and no variable shuffle, so the taps of 4 neighbouring output columns
 * (which start at irregular source columns) cannot share one vector op. 4 neighbouring
 * source ROWS can: after a 4x4 transpose, t4[c] holds column c of rows r..r+3, and lane l
 * of  acc = 0 + t4[i0]*w0; acc = acc + t4[i0+1]*w1; ...  is exactly hsum_k for row r+l
 * (same operands, same order, one rounding per op as in scalar code: SSE addps/mulps are
 * IEEE single ops like addss/mulss). The 4 sums per column are transposed back into rows
 * hall[r+l][x] and the vertical pass reads them as before. */

static void t4_reserve(scratch_t *sc, size_t w4, size_t hall)
{
    if (w4 > sc->w4_cap) {
        free(sc->w4);
        sc->w4 = aligned_alloc(16, w4 * sizeof(__m128));
        if (!sc->w4) exit(2);
        sc->w4_cap = w4;
    }
    if (hall > sc->hall_cap) {
        free(sc->hall);
        sc->hall = xmalloc(hall * sizeof(float));
        sc->hall_cap = hall;
    }
}

/* Rows g..g+3 of the crop (the last one repeated past bh) into t4. */
static inline void t4_load(const source_t *src, scratch_t *sc, int32_t g, int32_t bh)
{
    if (src->prefetch && !src->crop) { /* the raw rows of the next group */
        const job_t *j = src->j;
        for (int32_t r = g + 4; r < g + 8 && r < bh; r++)
            prefetch_bytes(j->px + (size_t)(j->box.row0 + r) * (size_t)j->cols + (size_t)j->box.col0,
                           (size_t)src->bw * 2);
    }
    const float *p[4];
    for (int l = 0; l < 4; l++) {
        int32_t r = g + l < bh ? g + l : bh - 1;
        p[l] = source_row(src, r, sc->rows + (size_t)l * 8192);
    }
    const int32_t bw = src->bw;
    int32_t c = 0;
    for (; c + 4 <= bw; c += 4) {
        __m128 a = _mm_loadu_ps(p[0] + c), b = _mm_loadu_ps(p[1] + c), d = _mm_loadu_ps(p[2] + c),
               e = _mm_loadu_ps(p[3] + c);
        _MM_TRANSPOSE4_PS(a, b, d, e);
        sc->t4[c] = a;
        sc->t4[c + 1] = b;
        sc->t4[c + 2] = d;
        sc->t4[c + 3] = e;
    }
    for (; c < bw; c++) sc->t4[c] = _mm_setr_ps(p[0][c], p[1][c], p[2][c], p[3][c]);
}

/* h4[x] back into hall rows g..g+3 (rows past bh land in the 3 spare rows). */
static inline void t4_store(scratch_t *sc, int32_t g, int32_t w)
{
    float *o0 = sc->hall + (size_t)g * w, *o1 = o0 + w, *o2 = o1 + w, *o3 = o2 + w;
    int32_t x = 0;
    for (; x + 4 <= w; x += 4) {
        __m128 a = sc->h4[x], b = sc->h4[x + 1], d = sc->h4[x + 2], e = sc->h4[x + 3];
        _MM_TRANSPOSE4_PS(a, b, d, e);
        _mm_storeu_ps(o0 + x, a);
        _mm_storeu_ps(o1 + x, b);
        _mm_storeu_ps(o2 + x, d);
        _mm_storeu_ps(o3 + x, e);
    }
    for (; x < w; x++) {
        float f[4];
        _mm_storeu_ps(f, sc->h4[x]);
        o0[x] = f[0], o1[x] = f[1], o2[x] = f[2], o3[x] = f[3];
    }
}

static inline __m128 hsum4_k(const __m128 *p, const __m128 *w, int32_t k)
{
    __m128 h = _mm_setzero_ps();
    switch (k) {
    case 1: return _mm_add_ps(h, _mm_mul_ps(p[0], w[0]));
    case 2: return _mm_add_ps(_mm_add_ps(h, _mm_mul_ps(p[0], w[0])), _mm_mul_ps(p[1], w[1]));
    case 3:
        return _mm_add_ps(_mm_add_ps(_mm_add_ps(h, _mm_mul_ps(p[0], w[0])), _mm_mul_ps(p[1], w[1])),
                          _mm_mul_ps(p[2], w[2]));
    default:
        for (int32_t i = 0; i < k; i++) h = _mm_add_ps(h, _mm_mul_ps(p[i], w[i]));
        return h;
    }
}

/* Horizontal sums of source rows g..g+3 into hall (AREA_GENERAL). `grouped`: the columns
 * in lists by tap count (general_prepare), so the loops have no data-dependent branch;
 * the tap count of neighbouring columns (2 or 3 at these scales) follows the irregular
 * pattern of the fractional scale, which a branch predictor cannot learn. */
static inline void t4_general_group(const resize_tables_t *t, const source_t *src, scratch_t *sc, int32_t g,
                                    int grouped)
{
    t4_load(src, sc, g, t->src_h);
    const int32_t *first = sc->x_first, *count = sc->x_count, *start = t->x_start;
    const __m128 *p = sc->t4, *w = sc->w4;
    __m128 *h = sc->h4;
    if (!grouped) {
        for (int32_t x = 0; x < t->dst_w; x++) h[x] = hsum4_k(p + first[x], w + start[x], count[x]);
    } else {
        const int32_t *gx = sc->x_group, *gs = sc->group_start;
        for (int32_t i = gs[1]; i < gs[2]; i++) {
            int32_t x = gx[i];
            h[x] = hsum4_k(p + first[x], w + start[x], 1);
        }
        for (int32_t i = gs[2]; i < gs[3]; i++) {
            int32_t x = gx[i];
            h[x] = hsum4_k(p + first[x], w + start[x], 2);
        }
        for (int32_t i = gs[3]; i < gs[4]; i++) {
            int32_t x = gx[i];
            h[x] = hsum4_k(p + first[x], w + start[x], 3);
        }
        for (int32_t i = gs[4]; i < t->dst_w; i++) {
            int32_t x = gx[i];
            h[x] = hsum4_k(p + first[x], w + start[x], count[x]);
        }
    }
    t4_store(sc, g, t->dst_w);
}

/* ... and LINEAR_AREA: h = t4[sx]*a0 + t4[sx+1]*a1, or t4[sx] at the right edge. */
static inline void t4_linear_group(const resize_tables_t *t, const source_t *src, scratch_t *sc, int32_t g)
{
    t4_load(src, sc, g, t->src_h);
    const int32_t *xi = t->x_index, last = t->src_w - 1, w = t->dst_w;
    const __m128 *a0 = sc->w4, *a1 = sc->w4 + w, *p = sc->t4;
    for (int32_t x = 0; x < w; x++) {
        int32_t sx = xi[x];
        sc->h4[x] = sx >= last ? p[sx] : _mm_add_ps(_mm_mul_ps(p[sx], a0[x]), _mm_mul_ps(p[sx + 1], a1[x]));
    }
    t4_store(sc, g, w);
}

/* Makes sure hall holds source row r: computes the 4-row groups up to it. Rows are asked
 * for in non-decreasing order, so groups that no output row needs are skipped. */
static inline const float *t4_row(const resize_tables_t *t, const source_t *src, scratch_t *sc, int32_t r,
                                  int32_t *done, int linear, int grouped)
{
    if (r >= *done) {
        int32_t g = r & ~3;
        if (linear) t4_linear_group(t, src, sc, g);
        else t4_general_group(t, src, sc, g, grouped);
        *done = g + 4;
    }
    return sc->hall + (size_t)r * t->dst_w;
}

static inline __attribute__((always_inline)) void t4_general_rows(const resize_tables_t *t, scratch_t *sc,
                                                                   const source_t *src, float *dst, macc_t *acc,
                                                                   cfg_t cfg)
{
    const size_t nt = (size_t)t->x_start[t->dst_w];
    t4_reserve(sc, nt, (size_t)(t->src_h + 7) * (size_t)t->dst_w);
    for (size_t i = 0; i < nt; i++) sc->w4[i] = _mm_set1_ps(t->x_taps[i].weight);
    const int32_t w = t->dst_w;
    int32_t done = 0;
    for (int32_t y = 0; y < t->dst_h; y++) {
        float *restrict out = dst + (size_t)y * (size_t)w;
        const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
        if (cfg.prefetch && y + 2 < t->dst_h) prefetch_bytes(out + 2 * (size_t)w, (size_t)w * sizeof(float));
        for (int32_t j = y0; j < y1; j++) {
            const float b = t->y_taps[j].weight;
            const float *restrict h = t4_row(t, src, sc, t->y_taps[j].index, &done, 0, cfg.grouped);
            if (j == y0)
                for (int32_t x = 0; x < w; x++) out[x] = b * h[x];
            else
                for (int32_t x = 0; x < w; x++) out[x] = out[x] + b * h[x];
        }
        if (cfg.fuse_moments) macc_add(acc, out, (size_t)w, cfg.moments);
    }
}

static inline __attribute__((always_inline)) void t4_linear_rows(const resize_tables_t *t, scratch_t *sc,
                                                                  const source_t *src, float *dst, macc_t *acc,
                                                                  cfg_t cfg)
{
    const int32_t w = t->dst_w;
    t4_reserve(sc, 2 * (size_t)w, (size_t)(t->src_h + 7) * (size_t)w);
    for (int32_t x = 0; x < w; x++) {
        sc->w4[x] = _mm_set1_ps(1.f - t->x_frac[x]);
        sc->w4[w + x] = _mm_set1_ps(t->x_frac[x]);
    }
    int32_t done = 0;
    for (int32_t y = 0; y < t->dst_h; y++) {
        const int32_t r0 = t->y_index[y], r1 = resize_min_i32(r0 + 1, t->src_h - 1);
        const float *restrict h0 = t4_row(t, src, sc, r0, &done, 1, 0);
        const float *restrict h1 = t4_row(t, src, sc, r1, &done, 1, 0);
        const float b1 = t->y_frac[y], b0 = 1.f - b1;
        float *restrict out = dst + (size_t)y * (size_t)w;
        if (cfg.prefetch && y + 2 < t->dst_h) prefetch_bytes(out + 2 * (size_t)w, (size_t)w * sizeof(float));
        for (int32_t x = 0; x < w; x++) out[x] = h0[x] * b0 + h1[x] * b1;
        if (cfg.fuse_moments) macc_add(acc, out, (size_t)w, cfg.moments);
    }
}

static inline __attribute__((always_inline)) int t4_engine(const job_t *j, float *dst, moments_t *m, scratch_t *sc,
                                                            cfg_t cfg)
{
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    resize_plan_t plan;
    mp_error err;
    if (resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err) != MP_OK) return -1;
    const resize_tables_t *t = &plan.tables;
    int ok = (t->path == RESIZE_AREA_GENERAL && general_prepare(t, sc)) || t->path == RESIZE_LINEAR_AREA;
    if (!ok) { /* FAST, COPY, odd cases: the row engine */
        resize_plan_free(&plan);
        return resize_engine(j, dst, m, sc, cfg);
    }
    source_t src = {j, NULL, bw, (float)(j->max - j->min), cfg.recip, 1.0 / (double)(j->max - j->min), cfg.prefetch};
    if (!cfg.fuse_convert) {
        crop_reserve(sc, (size_t)bh * (size_t)bw);
        for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
        src.crop = sc->crop;
    }
    macc_t acc = {0, 0, 0.f, 0.f, 0};
    if (t->path == RESIZE_AREA_GENERAL) t4_general_rows(t, sc, &src, dst, &acc, cfg);
    else t4_linear_rows(t, sc, &src, dst, &acc, cfg);
    if (!cfg.fuse_moments) macc_add(&acc, dst, (size_t)t->dst_w * (size_t)t->dst_h, cfg.moments);
    resize_plan_free(&plan);
    macc_store(&acc, m);
    return 0;
}

/* ---- the 8-row engine (v16): the 4-row engine with AVX2, for runtime dispatch only --------
 * The same per-lane operations as t4 (and so as hsum_k), 8 source rows per __m256. Every
 * function here is compiled for AVX2 by its target attribute whatever -march says (no
 * FMA: "avx2" does not enable it, and -ffp-contract=off forbids contraction anyway). */
#if HAVE_AVX2_MOMENTS
#define AVX2_FN __attribute__((target("avx2"))) static inline

AVX2_FN void transpose8(__m256 *r)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Rows g..g+7 of the crop (the last one repeated past bh) into t8 [bw][8]. */
AVX2_FN void t8_load(const source_t *src, scratch_t *sc, int32_t g, int32_t bh)
{
    const float *p[8];
    for (int l = 0; l < 8; l++) {
        int32_t r = g + l < bh ? g + l : bh - 1;
        p[l] = source_row(src, r, sc->rows8 + (size_t)l * ROWS8_STRIDE);
    }
    const int32_t bw = src->bw;
    float *t8 = sc->t8;
    int32_t c = 0;
    for (; c + 8 <= bw; c += 8) {
        __m256 r[8];
        for (int l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(p[l] + c);
        transpose8(r);
        for (int l = 0; l < 8; l++) _mm256_store_ps(t8 + (size_t)(c + l) * 8, r[l]);
    }
    for (; c < bw; c++)
        for (int l = 0; l < 8; l++) t8[(size_t)c * 8 + l] = p[l][c];
}

/* h8 [dst_w][8] back into hall rows g..g+7. */
AVX2_FN void t8_store(scratch_t *sc, int32_t g, int32_t w)
{
    float *o = sc->hall + (size_t)g * w;
    const float *h8 = sc->h8;
    int32_t x = 0;
    for (; x + 8 <= w; x += 8) {
        __m256 r[8];
        for (int l = 0; l < 8; l++) r[l] = _mm256_load_ps(h8 + (size_t)(x + l) * 8);
        transpose8(r);
        for (int l = 0; l < 8; l++) _mm256_storeu_ps(o + (size_t)l * w + x, r[l]);
    }
    for (; x < w; x++)
        for (int l = 0; l < 8; l++) o[(size_t)l * w + x] = h8[(size_t)x * 8 + l];
}

/* hsum_k for 8 rows: p = t8 + 8*first, w = the column's weights (broadcast from memory). */
AVX2_FN __m256 hsum8_k(const float *p, const float *w, int32_t k)
{
    __m256 h = _mm256_setzero_ps();
    switch (k) {
    case 1: return _mm256_add_ps(h, _mm256_mul_ps(_mm256_load_ps(p), _mm256_broadcast_ss(w)));
    case 2:
        return _mm256_add_ps(_mm256_add_ps(h, _mm256_mul_ps(_mm256_load_ps(p), _mm256_broadcast_ss(w))),
                             _mm256_mul_ps(_mm256_load_ps(p + 8), _mm256_broadcast_ss(w + 1)));
    case 3:
        return _mm256_add_ps(
            _mm256_add_ps(_mm256_add_ps(h, _mm256_mul_ps(_mm256_load_ps(p), _mm256_broadcast_ss(w))),
                          _mm256_mul_ps(_mm256_load_ps(p + 8), _mm256_broadcast_ss(w + 1))),
            _mm256_mul_ps(_mm256_load_ps(p + 16), _mm256_broadcast_ss(w + 2)));
    default:
        for (int32_t i = 0; i < k; i++)
            h = _mm256_add_ps(h, _mm256_mul_ps(_mm256_load_ps(p + 8 * i), _mm256_broadcast_ss(w + i)));
        return h;
    }
}

AVX2_FN void t8_general_group(const resize_tables_t *t, const source_t *src, scratch_t *sc, int32_t g)
{
    t8_load(src, sc, g, t->src_h);
    const int32_t *first = sc->x_first, *count = sc->x_count, *start = t->x_start;
    const int32_t *gx = sc->x_group, *gs = sc->group_start;
    const float *p = sc->t8, *w = sc->x_weight;
    float *h = sc->h8;
    for (int32_t i = gs[1]; i < gs[2]; i++) {
        int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8_k(p + (size_t)first[x] * 8, w + start[x], 1));
    }
    for (int32_t i = gs[2]; i < gs[3]; i++) {
        int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8_k(p + (size_t)first[x] * 8, w + start[x], 2));
    }
    for (int32_t i = gs[3]; i < gs[4]; i++) {
        int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8_k(p + (size_t)first[x] * 8, w + start[x], 3));
    }
    for (int32_t i = gs[4]; i < t->dst_w; i++) {
        int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8_k(p + (size_t)first[x] * 8, w + start[x], count[x]));
    }
    t8_store(sc, g, t->dst_w);
}

AVX2_FN void t8_linear_group(const resize_tables_t *t, const source_t *src, scratch_t *sc, int32_t g)
{
    t8_load(src, sc, g, t->src_h);
    const int32_t *xi = t->x_index, last = t->src_w - 1, w = t->dst_w;
    const float *a0 = sc->a0, *a1 = t->x_frac, *p = sc->t8;
    float *h = sc->h8;
    for (int32_t x = 0; x < w; x++) {
        int32_t sx = xi[x];
        const float *q = p + (size_t)sx * 8;
        __m256 v = sx >= last ? _mm256_load_ps(q)
                              : _mm256_add_ps(_mm256_mul_ps(_mm256_load_ps(q), _mm256_broadcast_ss(a0 + x)),
                                              _mm256_mul_ps(_mm256_load_ps(q + 8), _mm256_broadcast_ss(a1 + x)));
        _mm256_store_ps(h + (size_t)x * 8, v);
    }
    t8_store(sc, g, w);
}

AVX2_FN const float *t8_row(const resize_tables_t *t, const source_t *src, scratch_t *sc, int32_t r, int32_t *done,
                            int linear)
{
    if (r >= *done) {
        int32_t g = r & ~7;
        if (linear) t8_linear_group(t, src, sc, g);
        else t8_general_group(t, src, sc, g);
        *done = g + 8;
    }
    return sc->hall + (size_t)r * t->dst_w;
}

__attribute__((target("avx2"))) static int t8_engine(const job_t *j, float *dst, moments_t *m, scratch_t *sc,
                                                     cfg_t cfg)
{
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    resize_plan_t plan;
    mp_error err;
    if (resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err) != MP_OK) return -1;
    const resize_tables_t *t = &plan.tables;
    const int general = t->path == RESIZE_AREA_GENERAL && general_prepare(t, sc);
    if (!general && t->path != RESIZE_LINEAR_AREA) { /* FAST, COPY, odd cases: the row engine */
        resize_plan_free(&plan);
        return resize_engine(j, dst, m, sc, cfg);
    }
    source_t src = {j, NULL, bw, (float)(j->max - j->min), cfg.recip, 1.0 / (double)(j->max - j->min), cfg.prefetch};
    const int32_t w = t->dst_w;
    t4_reserve(sc, 0, (size_t)(t->src_h + 7) * (size_t)w);
    macc_t acc = {0, 0, 0.f, 0.f, 0};
    int32_t done = 0;
    if (general) {
        for (int32_t y = 0; y < t->dst_h; y++) {
            float *restrict out = dst + (size_t)y * (size_t)w;
            const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
            for (int32_t jj = y0; jj < y1; jj++) {
                const float b = t->y_taps[jj].weight;
                const float *restrict h = t8_row(t, &src, sc, t->y_taps[jj].index, &done, 0);
                if (jj == y0)
                    for (int32_t x = 0; x < w; x++) out[x] = b * h[x];
                else
                    for (int32_t x = 0; x < w; x++) out[x] = out[x] + b * h[x];
            }
            macc_add(&acc, out, (size_t)w, cfg.moments);
        }
    } else {
        for (int32_t x = 0; x < w; x++) sc->a0[x] = 1.f - t->x_frac[x];
        for (int32_t y = 0; y < t->dst_h; y++) {
            const int32_t r0 = t->y_index[y], r1 = resize_min_i32(r0 + 1, t->src_h - 1);
            const float *restrict h0 = t8_row(t, &src, sc, r0, &done, 1);
            const float *restrict h1 = t8_row(t, &src, sc, r1, &done, 1);
            const float b1 = t->y_frac[y], b0 = 1.f - b1;
            float *restrict out = dst + (size_t)y * (size_t)w;
            for (int32_t x = 0; x < w; x++) out[x] = h0[x] * b0 + h1[x] * b1;
            macc_add(&acc, out, (size_t)w, cfg.moments);
        }
    }
    resize_plan_free(&plan);
    macc_store(&acc, m);
    return 0;
}
#endif

/* The numbered versions: each adds one change to the one before. */
static int resize_v2(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return resize_engine(j, dst, m, sc, (cfg_t){0, 0, 0, MOM_LLRINT, 0, 0});
}
static int resize_v3(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return resize_engine(j, dst, m, sc, (cfg_t){1, 0, 0, MOM_LLRINT, 0, 0});
}
static int resize_v4(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return resize_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_LLRINT, 0, 0});
}
static int resize_v5(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return resize_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC, 0, 0});
}
static int resize_v6(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return resize_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC, 1, 0});
}
/* v1 with only the moments changed: what the magic moments alone are worth. */
static int resize_v7(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return resize_engine(j, dst, m, sc, (cfg_t){0, 0, 0, MOM_MAGIC, 0, 0});
}
/* v5 with the 4-row SSE2 horizontal pass (GENERAL, LINEAR) and the 2-chain magic moments. */
static int resize_v8(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC2, 0, 0});
}
/* v8 + the GENERAL columns grouped by tap count (no data-dependent branch per column). */
static int resize_v9(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC2, 1, 0});
}
/* v9 with the min-max by an exact double reciprocal (convert_row). */
static int resize_v11(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 1, 1, MOM_MAGIC2, 1, 0});
}
/* v9 with the scaled magic (no multiply by 2^32) */
static int resize_v12(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC_S, 1, 0});
}
/* v12 with AVX2 moments (runtime dispatch) */
static int resize_v13(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC_S_AVX2, 1, 0});
}
/* v12 (SSE2 only) + software prefetch of the raw rows and output rows */
static int resize_v14(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC_S, 1, 1});
}
/* v13 (AVX2 moments) + software prefetch */
static int resize_v15(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC_S_AVX2, 1, 1});
}
/* The AVX2 build of v13: 8-row horizontal pass + AVX2 moments (runtime dispatch). */
static int resize_v16(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
#if HAVE_AVX2_MOMENTS
    /* only GENERAL and LINEAR take the AVX2 code; the rest stays in the SSE2 row engine, so
     * no legacy-SSE code runs inside the AVX2 function (AVX-SSE transition penalties) */
    int32_t bw = slice_box_width(j->box), bh = slice_box_height(j->box);
    resize_path_t path = resize_select_path(bw, bh, j->out_w, j->out_h);
    if (path == RESIZE_AREA_GENERAL || path == RESIZE_LINEAR_AREA)
        return t8_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_MAGIC_S_AVX2, 1, 0});
    return resize_v13(j, dst, m, sc);
#else
    return resize_v13(j, dst, m, sc);
#endif
}
/* No new arithmetic anywhere: v9's loops with the reference's llrint moments (4 chains). */
static int resize_v10(const job_t *j, float *dst, moments_t *m, scratch_t *sc)
{
    return t4_engine(j, dst, m, sc, (cfg_t){1, 0, 1, MOM_LLRINT4, 1, 0});
}

/* ---- the moments lab ------------------------------------------------------------------------ */

/* Every float in [0, 1.0000001] (bit patterns 0 .. 0x3F800001), or `samples` random ones
 * of them plus the edges when samples > 0; also +-(powers of two and their neighbours)
 * up to the proven bound. Returns the number of disagreements. */
static long moments_check(long samples, long *tested)
{
    long bad = 0, n = 0;
    const uint32_t hi = 0x3F800001u; /* 1.0000001f */
#define CHECK_BITS(b)                                                                                   \
    do {                                                                                                \
        uint32_t b_ = (b);                                                                              \
        float v_;                                                                                       \
        memcpy(&v_, &b_, 4);                                                                            \
        int64_t q_ = zscore_fixed(v_), q2_ = zscore_fixed_sq(v_);                                      \
        if (q_ != lab_fixed_magic_2p32(v_) || q2_ != lab_fixed_sq_magic_2p32(v_) ||                         \
            q_ != zscore_fixed_magic_s(v_) || q2_ != zscore_fixed_sq_magic_s(v_)) {                     \
            if (bad < 5) fprintf(stderr, "moments: %a (0x%08x) differs\n", (double)v_, b_);            \
            bad++;                                                                                      \
        }                                                                                               \
        n++;                                                                                            \
    } while (0)
    if (samples <= 0) {
        for (uint32_t b = 0; b <= hi; b++) CHECK_BITS(b);
    } else {
        lab_rng_t rng = {99};
        for (long i = 0; i < samples; i++) CHECK_BITS((uint32_t)(lab_next(&rng) % ((uint64_t)hi + 1)));
        for (uint32_t b = 0; b < 4096; b++) CHECK_BITS(b);           /* 0 and the smallest subnormals */
        for (uint32_t b = hi - 4096; b <= hi; b++) CHECK_BITS(b);    /* up to 1 + 1 ulp */
        for (uint32_t e = 0; e < 255; e++) {                         /* every binade's ends */
            uint32_t b = e << 23;
            if (b <= hi) CHECK_BITS(b);
            if (b && b - 1 <= hi) CHECK_BITS(b - 1);
            if (b + 1 <= hi) CHECK_BITS(b + 1);
        }
        /* ties: v*2^32 = k + 1/2, i.e. v = (2k+1) * 2^-33, both parities of k */
        for (uint32_t k = 0; k < 100000; k++) {
            float v = (float)ldexp(2.0 * k + 1.0, -33);
            uint32_t b;
            memcpy(&b, &v, 4);
            CHECK_BITS(b);
        }
    }
    /* outside [0, 1]: negatives and magnitudes up to 2^9 (the bound for v*v) */
    for (int e = -40; e <= 9; e++) {
        for (int d = -2; d <= 2; d++) {
            float v = nextafterf((float)ldexp(1.0, e), d < 0 ? 0.f : INFINITY);
            for (int s = 0; s < 2; s++, v = -v) {
                uint32_t b;
                memcpy(&b, &v, 4);
                CHECK_BITS(b);
            }
        }
    }
#undef CHECK_BITS
    *tested = n;
    return bad;
}

/* (float)k / (float)r against (float)((double)k * (1.0 / r)) for every 0 <= k <= r <= 65535
 * (all of them, or every 97th r when quick). Returns the number of disagreements. */
static long recip_check(int quick, long *tested)
{
    long bad = 0, n = 0;
    for (int32_t r = 1; r <= 65535; r += quick ? 97 : 1) {
        const float rf = (float)r;
        const double inv = 1.0 / (double)r;
        for (int32_t k = 0; k <= r; k++) {
            float x = (float)k / rf, y = (float)((double)k * inv);
            bad += memcmp(&x, &y, sizeof x) != 0;
        }
        n += r + 1;
    }
    *tested = n;
    return bad;
}

/* ---- test crops ------------------------------------------------------------------------------ */

typedef struct tcase {
    job_t job;
    char label[80];
} tcase_t;

static lab_slice_t *keep_slice(lab_slice_t s)
{
    lab_slice_t *p = xmalloc(sizeof *p);
    *p = s;
    return p;
}

/* Min and max of a slice (v1 stats). */
static void slice_minmax(const lab_slice_t *s, int32_t *mn, int32_t *mx)
{
    int32_t a = INT32_MAX, b = INT32_MIN;
    for (size_t i = 0; i < (size_t)s->rows * s->cols; i++) {
        int32_t x = slice_stored_value(s->px[i], s->is_signed);
        a = x < a ? x : a;
        b = x > b ? x : b;
    }
    *mn = a;
    *mx = b;
}

static job_t job_for(const lab_slice_t *s, int32_t bw, int32_t bh, int32_t r0, int32_t c0, int32_t ow, int32_t oh)
{
    job_t j;
    j.px = s->px;
    j.cols = (int32_t)s->cols;
    j.is_signed = s->is_signed;
    j.box = (slice_box_t){r0, r0 + bh - 1, c0, c0 + bw - 1};
    slice_minmax(s, &j.min, &j.max);
    if (j.max == j.min) j.max = j.min + 1; /* a blank slice is never resized; keep range > 0 */
    j.out_w = ow;
    j.out_h = oh;
    return j;
}

/* The slice's real crop (v1 stats + slice_decide, margin 0, dark 0.01) to 256x256;
 * returns 0 for blank or dark slices, which the pipeline does not resize. */
static int job_from_slice(const lab_slice_t *s, job_t *j)
{
    static int32_t row_max[8192], col_max[8192];
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    int64_t sum = 0;
    for (uint32_t c = 0; c < s->cols; c++) col_max[c] = INT32_MIN;
    for (uint32_t r = 0; r < s->rows; r++) {
        int32_t rmax = INT32_MIN;
        for (uint32_t c = 0; c < s->cols; c++) {
            int32_t x = slice_stored_value(s->px[(size_t)r * s->cols + c], s->is_signed);
            sum += x;
            mn = x < mn ? x : mn;
            rmax = x > rmax ? x : rmax;
            col_max[c] = x > col_max[c] ? x : col_max[c];
        }
        row_max[r] = rmax;
        mx = rmax > mx ? rmax : mx;
    }
    slice_box_t box;
    double mean;
    if (slice_decide(mn, mx, sum, (int32_t)s->rows, (int32_t)s->cols, row_max, col_max, 0, 0.01, &box, &mean) !=
        SLICE_KEPT)
        return 0;
    *j = (job_t){s->px, (int32_t)s->cols, s->is_signed, box, mn, mx, 256, 256};
    return 1;
}

static int build_tests(tcase_t *tc, int cap, const lab_slice_t *real, int nreal)
{
    lab_rng_t rng = {4242};
    int n = 0;
    lab_slice_t *mr = keep_slice((lab_slice_t){0});
    lab_slice_fill(mr, 512, 512, LAB_FILL_MR, &rng);
    lab_slice_t *mrs = keep_slice((lab_slice_t){0});
    lab_slice_fill(mrs, 512, 512, LAB_FILL_MR_SIGNED, &rng);
    lab_slice_t *un = keep_slice((lab_slice_t){0});
    lab_slice_fill(un, 512, 512, LAB_FILL_UNSIGNED, &rng);
    lab_slice_t *sg = keep_slice((lab_slice_t){0});
    lab_slice_fill(sg, 512, 512, LAB_FILL_SIGNED, &rng);
    const lab_slice_t *srcs[4] = {mr, mrs, un, sg};
    static const char *names[4] = {"MR", "MR signed", "uniform u16", "uniform s16"};

    /* the named pairs, on every kind of slice */
    static const int32_t named[][2] = {{512, 512}, {280, 260}, {400, 380}, {200, 180}, {256, 256}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        for (int k = 0; k < 4 && n < cap; k++) {
            int32_t bw = named[i][0], bh = named[i][1];
            tc[n].job = job_for(srcs[k], bw, bh, (512 - bh) / 2, (512 - bw) / 2, 256, 256);
            snprintf(tc[n].label, sizeof tc[n].label, "%dx%d->256x256 %s", bw, bh, names[k]);
            n++;
        }
    /* random crops to 256x256 (all paths) and to a few other sizes */
    static const int32_t outs[][2] = {{256, 256}, {256, 256}, {256, 256}, {128, 128}, {100, 120}, {255, 257}, {1, 1},
                                      {3, 200}};
    for (int i = 0; i < 120 && n < cap; i++) {
        int32_t bw, bh;
        int kind = lab_range(&rng, 0, 3), o = i % 8;
        switch (i % 5) {
        case 0: bw = lab_range(&rng, 257, 512), bh = lab_range(&rng, 257, 512); break; /* general */
        case 1: bw = lab_range(&rng, 1, 255), bh = lab_range(&rng, 1, 255); break;     /* linear */
        case 2: bw = lab_range(&rng, 200, 512), bh = lab_range(&rng, 200, 512); break; /* mixed */
        case 3: bw = 2 * lab_range(&rng, 1, 256), bh = 2 * lab_range(&rng, 1, 256); break;
        default: bw = lab_range(&rng, 1, 512), bh = lab_range(&rng, 1, 512); break;
        }
        int32_t ow = outs[o][0], oh = outs[o][1];
        if (i % 7 == 3) ow = bw / 2 > 0 ? bw / 2 : 1, oh = bh / 2 > 0 ? bh / 2 : 1; /* FAST 2x2 or 2x1 */
        if (i % 11 == 5) ow = bw / 3 > 0 ? bw / 3 : 1, oh = bh / 3 > 0 ? bh / 3 : 1; /* 3x3 when exact */
        int32_t r0 = lab_range(&rng, 0, 512 - bh), c0 = lab_range(&rng, 0, 512 - bw);
        tc[n].job = job_for(srcs[kind], bw, bh, r0, c0, ow, oh);
        snprintf(tc[n].label, sizeof tc[n].label, "%dx%d->%dx%d %s (%s)", bw, bh, ow, oh, names[kind],
                 resize_path_name(resize_select_path(bw, bh, ow, oh)));
        n++;
    }
    /* real slices: their own crops */
    for (int i = 0; i < nreal && n < cap; i++) {
        if (!job_from_slice(&real[i], &tc[n].job)) continue;
        int32_t bw = slice_box_width(tc[n].job.box), bh = slice_box_height(tc[n].job.box);
        snprintf(tc[n].label, sizeof tc[n].label, "real slice %d %dx%d (%s)", i, bw, bh,
                 resize_path_name(resize_select_path(bw, bh, 256, 256)));
        n++;
    }
    return n;
}

static scratch_t scratch_new(void)
{
    scratch_t s;
    memset(&s, 0, sizeof s);
    s.rows = xmalloc(4 * 8192 * sizeof(float)); /* t4_load converts 4 rows */
    s.hsum = xmalloc(2 * 8192 * sizeof(float));
    s.x_first = xmalloc(8192 * sizeof(int32_t));
    s.x_count = xmalloc(8192 * sizeof(int32_t));
    s.x_group = xmalloc(8192 * sizeof(int32_t));
    s.a0 = xmalloc(8192 * sizeof(float));
    s.t4 = aligned_alloc(16, 8192 * sizeof(__m128));
    s.h4 = aligned_alloc(16, 8192 * sizeof(__m128));
    s.rows8 = aligned_alloc(32, 8 * ROWS8_STRIDE * sizeof(float));
    s.t8 = aligned_alloc(32, 8192 * 8 * sizeof(float));
    s.h8 = aligned_alloc(32, 8192 * 8 * sizeof(float));
    if (!s.t4 || !s.h4 || !s.rows8 || !s.t8 || !s.h8) exit(2);
    return s;
}

/* ---- where the time goes: the pieces of the row engine, timed one by one -------------------- */

static double median_of(double (*fn)(const job_t *, scratch_t *, float *), const job_t *j, scratch_t *sc, float *dst,
                        int reps)
{
    double t[64];
    reps = reps > 64 ? 64 : reps;
    fn(j, sc, dst);
    for (int r = 0; r < reps; r++) t[r] = fn(j, sc, dst);
    return lab_median(t, reps);
}

static double piece_plan(const job_t *j, scratch_t *sc, float *dst)
{
    (void)dst;
    resize_plan_t plan;
    mp_error err;
    double t0 = lab_now();
    resize_plan_init(&plan, slice_box_width(j->box), slice_box_height(j->box), j->out_w, j->out_h, &err);
    if (plan.tables.path == RESIZE_AREA_GENERAL) general_prepare(&plan.tables, sc);
    resize_plan_free(&plan);
    return lab_now() - t0;
}

static double piece_convert(const job_t *j, scratch_t *sc, float *dst)
{
    (void)dst;
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    source_t src = {j, NULL, bw, (float)(j->max - j->min), 0, 1.0 / (double)(j->max - j->min), 0};
    double t0 = lab_now();
    for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->rows);
    return lab_now() - t0;
}

static double piece_crop(const job_t *j, scratch_t *sc, float *dst)
{
    (void)dst;
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    source_t src = {j, NULL, bw, (float)(j->max - j->min), 0, 1.0 / (double)(j->max - j->min), 0};
    crop_reserve(sc, (size_t)bh * (size_t)bw);
    double t0 = lab_now();
    for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
    return lab_now() - t0;
}

/* resize only (from the float crop, as v2 does), whole engine minus conversion and moments */
static double piece_resize(const job_t *j, scratch_t *sc, float *dst)
{
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    source_t src = {j, NULL, bw, (float)(j->max - j->min), 0, 1.0 / (double)(j->max - j->min), 0};
    crop_reserve(sc, (size_t)bh * (size_t)bw);
    for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
    src.crop = sc->crop;
    resize_plan_t plan;
    mp_error err;
    resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err);
    const resize_tables_t *t = &plan.tables;
    macc_t acc = {0, 0, 0.f, 0.f, 0};
    cfg_t cfg = {0, 0, 0, MOM_MAGIC, 0, 0};
    if (t->path == RESIZE_AREA_GENERAL) general_prepare(t, sc);
    double t0 = lab_now();
    if (t->path == RESIZE_AREA_GENERAL) general_rows(t, sc, &src, dst, &acc, cfg);
    else if (t->path == RESIZE_LINEAR_AREA) linear_rows(t, sc, &src, dst, &acc, cfg);
    else fast2_rows(t, sc, &src, dst, &acc, cfg);
    double dt = lab_now() - t0;
    resize_plan_free(&plan);
    return dt;
}

static double piece_resize_ref(const job_t *j, scratch_t *sc, float *dst)
{
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    source_t src = {j, NULL, bw, (float)(j->max - j->min), 0, 1.0 / (double)(j->max - j->min), 0};
    crop_reserve(sc, (size_t)bh * (size_t)bw);
    for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
    resize_plan_t plan;
    mp_error err;
    resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err);
    double t0 = lab_now();
    resize_area_f32(&plan, sc->crop, (size_t)bw, dst, (size_t)j->out_w);
    double dt = lab_now() - t0;
    resize_plan_free(&plan);
    return dt;
}

static double piece_hsum(const job_t *j, scratch_t *sc, float *dst)
{
    (void)dst;
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    resize_plan_t plan;
    mp_error err;
    resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err);
    const resize_tables_t *t = &plan.tables;
    double dt = 0;
    if (t->path == RESIZE_AREA_GENERAL) {
        general_prepare(t, sc);
        for (int32_t x = 0; x < bw; x++) sc->rows[x] = (float)x / (float)bw;
        double t0 = lab_now();
        for (int32_t r = 0; r < bh; r++) general_hrow(t, sc, sc->rows, sc->hsum + (r & 1) * 8192, 0);
        dt = lab_now() - t0;
    }
    resize_plan_free(&plan);
    return dt;
}

/* the 4-row horizontal pass of v8 over all source rows, from the float crop (transposes in
 * and out included, conversion not) */
static double piece_hsum4(const job_t *j, scratch_t *sc, float *dst)
{
    (void)dst;
    const int32_t bh = slice_box_height(j->box), bw = slice_box_width(j->box);
    source_t src = {j, NULL, bw, (float)(j->max - j->min), 0, 1.0 / (double)(j->max - j->min), 0};
    crop_reserve(sc, (size_t)bh * (size_t)bw);
    for (int32_t r = 0; r < bh; r++) convert_row(&src, r, sc->crop + (size_t)r * bw);
    src.crop = sc->crop;
    resize_plan_t plan;
    mp_error err;
    resize_plan_init(&plan, bw, bh, j->out_w, j->out_h, &err);
    const resize_tables_t *t = &plan.tables;
    double dt = 0;
    if (t->path == RESIZE_AREA_GENERAL || t->path == RESIZE_LINEAR_AREA) {
        int lin = t->path == RESIZE_LINEAR_AREA;
        size_t nw = lin ? 2 * (size_t)t->dst_w : (size_t)t->x_start[t->dst_w];
        t4_reserve(sc, nw, (size_t)(bh + 3) * (size_t)t->dst_w);
        if (!lin) general_prepare(t, sc);
        for (size_t i = 0; i < nw; i++) sc->w4[i] = _mm_set1_ps(0.5f);
        double t0 = lab_now();
        for (int32_t g = 0; g < bh; g += 4) {
            if (lin) t4_linear_group(t, &src, sc, g);
            else t4_general_group(t, &src, sc, g, 1);
        }
        dt = lab_now() - t0;
    }
    resize_plan_free(&plan);
    return dt;
}

static double piece_moments(const job_t *j, scratch_t *sc, float *dst, int kind)
{
    (void)sc;
    macc_t a = {0, 0, 0.f, 0.f, 0};
    double t0 = lab_now();
    macc_add(&a, dst, (size_t)j->out_w * (size_t)j->out_h, kind);
    double dt = lab_now() - t0;
    lab_sink ^= (uint64_t)a.q ^ (uint64_t)a.q2 ^ (uint64_t)(a.mn * 7.f) ^ (uint64_t)(a.mx * 3.f);
    return dt;
}
static double piece_moments_llrint(const job_t *j, scratch_t *sc, float *dst)
{
    return piece_moments(j, sc, dst, MOM_LLRINT);
}
static double piece_moments_magic(const job_t *j, scratch_t *sc, float *dst)
{
    return piece_moments(j, sc, dst, MOM_MAGIC2);
}

static void profile(const job_t *pj, const char *const *names, int np, int reps)
{
    scratch_t sc = scratch_new();
    float *dst = xmalloc(sizeof(float) * 65536);
    printf("\nwhere the time goes (us per slice, median of %d; each piece timed alone, data in cache):\n", reps);
    printf("%-9s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "pair", "plan", "crop->buf", "row conv", "resize v1",
           "rows v2", "of which", "4-row", "moments", "moments");
    printf("%-9s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "", "+tables", "(v1 crop)", "(L1 buf)", "(ref)", "engine",
           "GEN hsum", "hsum v8", "llrint", "magic v5");
    for (int p = 0; p < np; p++) {
        const job_t *j = &pj[p];
        resize_v1(j, dst, &(moments_t){0}, &sc);
        printf("%-9s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", names[p],
               median_of(piece_plan, j, &sc, dst, reps) * 1e6, median_of(piece_crop, j, &sc, dst, reps) * 1e6,
               median_of(piece_convert, j, &sc, dst, reps) * 1e6, median_of(piece_resize_ref, j, &sc, dst, reps) * 1e6,
               median_of(piece_resize, j, &sc, dst, reps) * 1e6, median_of(piece_hsum, j, &sc, dst, reps) * 1e6,
               median_of(piece_hsum4, j, &sc, dst, reps) * 1e6,
               median_of(piece_moments_llrint, j, &sc, dst, reps) * 1e6,
               median_of(piece_moments_magic, j, &sc, dst, reps) * 1e6);
    }
    free(dst);
}

/* ---- the lab ---------------------------------------------------------------------------------- */

typedef struct variant {
    const char *name, *what;
    resize_fn fn;
    int verified;
    double mix_s;       /* median seconds per pass over the mix */
    double path_s[4];   /* ... of which on each path */
    double pair_us[4];  /* median microseconds per slice for the named pairs */
} variant_t;

static int same(const float *a, const float *b, size_t n, const moments_t *ma, const moments_t *mb)
{
    return memcmp(a, b, n * sizeof(float)) == 0 && ma->sum_q == mb->sum_q && ma->sum_q2 == mb->sum_q2 &&
           memcmp(&ma->min, &mb->min, sizeof(float)) == 0 && memcmp(&ma->max, &mb->max, sizeof(float)) == 0;
}

int main(int argc, char **argv)
{
    int reps = 11, quick = 0;
    const char *real = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--real") && i + 1 < argc) real = argv[++i];
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr, "usage: %s [--reps N] [--real slices.bin] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (quick) reps = 3;

    variant_t v[] = {
        {"resize_v1", "reference: float crop + resize_area_f32 + llrint (the pre-lab step)", resize_v1, 0, 0, {0}, {0}},
        {"resize_v2", "row engine: GENERAL taps unrolled, LINEAR h per source row, FAST 2x2 rows", resize_v2, 0, 0,
         {0}, {0}},
        {"resize_v3", "v2 + min-max fused into the row reads (no float crop)", resize_v3, 0, 0, {0}, {0}},
        {"resize_v4", "v3 + moments per output row (llrint)", resize_v4, 0, 0, {0}, {0}},
        {"resize_v5", "v4 with SSE2 magic-number moments", resize_v5, 0, 0, {0}, {0}},
        {"resize_v6", "v5 + GENERAL columns grouped by tap count", resize_v6, 0, 0, {0}, {0}},
        {"resize_v7", "v2's loops (float crop, then resize) with the magic moments only", resize_v7, 0, 0, {0}, {0}},
        {"resize_v8", "v5 + SSE2 4-row horizontal pass (GENERAL, LINEAR) + 2-chain magic moments", resize_v8, 0, 0,
         {0}, {0}},
        {"resize_v9", "v8 + GENERAL columns grouped by tap count (branch-free 4-row pass)", resize_v9, 0, 0, {0}, {0}},
        {"resize_v10", "v9 with llrint moments (4 chains): no new arithmetic at all", resize_v10, 0, 0, {0}, {0}},
        {"resize_v11", "v9 + min-max by exact double reciprocal (no divps)", resize_v11, 0, 0, {0}, {0}},
        {"resize_v12", "v9 with the scaled magic (d + 1.5*2^20: no multiply by 2^32)", resize_v12, 0, 0, {0}, {0}},
        {"resize_v13", "v12 with AVX2 moments (runtime dispatch)", resize_v13, 0, 0, {0}, {0}},
        {"resize_v14", "v12 + software prefetch of raw rows and output rows (SSE2 only)", resize_v14, 0, 0, {0}, {0}},
        {"resize_v15", "v13 + software prefetch (AVX2 moments, runtime dispatch)", resize_v15, 0, 0, {0}, {0}},
        {"resize_v16", "v13 with an AVX2 8-row horizontal pass (runtime dispatch)", resize_v16, 0, 0, {0}, {0}},
    };
    const int nv = (int)(sizeof v / sizeof v[0]);
    int failed = 0, have_avx2 = 0;
#if HAVE_AVX2_MOMENTS
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2");
#endif

    /* 1. the moments identity */
    {
        long tested = 0;
        double t0 = lab_now();
        long bad = moments_check(quick ? 20000000 : 0, &tested);
        printf("moments: zscore_fixed/_sq (llrint) vs both magic-number forms: %ld floats %s in [0, 1.0000001] + edges, %ld "
               "differ (%.1f s)\n",
               tested, quick ? "sampled" : "(every one)", bad, lab_now() - t0);
        failed |= bad != 0;
    }

    {
        long tested = 0;
        double t0 = lab_now();
        long bad = recip_check(quick, &tested);
        printf("min-max: (float)k/(float)r vs (float)((double)k*(1.0/r)): %ld pairs 0<=k<=r<=65535 %s, %ld differ "
               "(%.1f s)\n",
               tested, quick ? "(every 97th r)" : "(every one)", bad, lab_now() - t0);
        failed |= bad != 0;
    }

    /* 2. verify the resize versions */
    lab_slice_t *realv = NULL;
    int nreal = real ? lab_load_real(real, &realv) : 0;
    enum { CAP = 512 };
    static tcase_t tc[CAP];
    int nt = build_tests(tc, CAP, realv, nreal);
    int path_count[4] = {0};
    for (int i = 0; i < nt; i++) {
        int32_t bw = slice_box_width(tc[i].job.box), bh = slice_box_height(tc[i].job.box);
        path_count[resize_select_path(bw, bh, tc[i].job.out_w, tc[i].job.out_h)]++;
    }
    printf("verify: %d crops (copy %d, area_fast %d, area_general %d, linear_area %d; %s), memcmp of the float "
           "plane + int64 moments + min/max bits vs resize_v1\n",
           nt, path_count[0], path_count[1], path_count[2], path_count[3],
           nreal ? "named pairs, random crops, real slices" : "named pairs, random crops");
    {
        scratch_t s1 = scratch_new(), s2 = scratch_new();
        float *ref = xmalloc(sizeof(float) * 512 * 512), *got = xmalloc(sizeof(float) * 512 * 512);
        for (int k = 1; k < nv; k++) v[k].verified = have_avx2 || !strstr(v[k].what, "AVX2") ? 1 : -1;
        v[0].verified = 1;
        for (int i = 0; i < nt; i++) {
            const job_t *j = &tc[i].job;
            size_t plane = (size_t)j->out_w * (size_t)j->out_h;
            moments_t mr, mg;
            memset(ref, 0x55, plane * sizeof(float));
            if (resize_v1(j, ref, &mr, &s1) != 0) {
                fprintf(stderr, "resize_v1 failed on %s\n", tc[i].label);
                return 1;
            }
            for (int k = 1; k < nv; k++) {
                if (v[k].verified != 1) continue;
                memset(got, 0xaa, plane * sizeof(float));
                memset(&mg, 0, sizeof mg);
                if (v[k].fn(j, got, &mg, &s2) != 0 || !same(ref, got, plane, &mr, &mg)) {
                    fprintf(stderr, "%s differs from resize_v1 on %s\n", v[k].name, tc[i].label);
                    v[k].verified = 0;
                    failed = 1;
                }
            }
        }
        free(ref);
        free(got);
    }

    /* 3. timing: the mix (real crops when given: all paths in their real proportions; else
     * synthetic MR-like 512 and 256 slices) and the named pairs */
    job_t *mix = xmalloc(sizeof(job_t) * 512);
    int nm = 0;
    if (nreal) {
        for (int i = 0; i < nreal && nm < 512; i++)
            if (job_from_slice(&realv[i], &mix[nm])) nm++;
    } else {
        lab_rng_t rng = {31337};
        for (int i = 0; i < (quick ? 40 : 180); i++) {
            lab_slice_t *s = keep_slice((lab_slice_t){0});
            uint32_t size = i % 5 < 3 ? 512 : 256;
            lab_slice_fill(s, size, size, i % 3 == 2 ? LAB_FILL_MR_SIGNED : LAB_FILL_MR, &rng);
            if (job_from_slice(s, &mix[nm])) nm++;
        }
    }
    int mix_path[4] = {0};
    for (int i = 0; i < nm; i++)
        mix_path[resize_select_path(slice_box_width(mix[i].box), slice_box_height(mix[i].box), 256, 256)]++;
    float *outv = xmalloc(sizeof(float) * 65536 * (size_t)nm); /* like cpu->resized: one plane per slice */
    memset(outv, 0, sizeof(float) * 65536 * (size_t)nm);

    lab_rng_t prng = {555};
    lab_slice_t pair_src;
    lab_slice_fill(&pair_src, 512, 512, LAB_FILL_MR, &prng);
    static const int32_t pairs[4][2] = {{512, 512}, {400, 380}, {280, 260}, {200, 180}};
    job_t pj[4];
    for (int p = 0; p < 4; p++)
        pj[p] = job_for(&pair_src, pairs[p][0], pairs[p][1], (512 - pairs[p][1]) / 2, (512 - pairs[p][0]) / 2, 256,
                        256);

    printf("timing mix: %d kept crops of %s (copy %d, area_fast %d, area_general %d, linear_area %d) -> 256x256, "
           "each into its own plane; median of %d passes; single thread\n\n",
           nm, nreal ? "real slices (bench/data)" : "synthetic MR-like slices", mix_path[0], mix_path[1],
           mix_path[2], mix_path[3], reps);

    /* Round-robin: every pass times each version once, so a burst of load from elsewhere on
     * the machine lands on all of them alike; the medians are over the passes. */
    scratch_t sc = scratch_new();
    enum { MAXV = 16 };
    double *tm[MAXV], *tp[MAXV][4], *tq[MAXV][4];
    for (int k = 0; k < nv; k++) {
        tm[k] = xmalloc(sizeof(double) * (size_t)reps);
        for (int p = 0; p < 4; p++)
            tp[k][p] = xmalloc(sizeof(double) * (size_t)reps), tq[k][p] = xmalloc(sizeof(double) * (size_t)reps);
    }
    for (int k = 0; k < nv; k++) {
        moments_t mm;
        if (v[k].verified == 1)
            for (int i = 0; i < nm; i++) v[k].fn(&mix[i], outv + (size_t)i * 65536, &mm, &sc); /* warm-up */
    }
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < nv; k++) {
            if (v[k].verified != 1) continue;
            moments_t mm;
            double per[4] = {0}, total = 0;
            for (int i = 0; i < nm; i++) {
                int p = resize_select_path(slice_box_width(mix[i].box), slice_box_height(mix[i].box), 256, 256);
                double t0 = lab_now();
                v[k].fn(&mix[i], outv + (size_t)i * 65536, &mm, &sc);
                double dt = lab_now() - t0;
                per[p] += dt;
                total += dt;
            }
            tm[k][r] = total;
            for (int p = 0; p < 4; p++) tp[k][p][r] = per[p];
            for (int p = 0; p < 4; p++) {
                const int n = 20;
                double t0 = lab_now();
                for (int i = 0; i < n; i++) v[k].fn(&pj[p], outv + (size_t)(i % nm) * 65536, &mm, &sc);
                tq[k][p][r] = (lab_now() - t0) / n;
            }
        }
    }
    for (int k = 0; k < nv; k++) {
        if (v[k].verified != 1) continue;
        v[k].mix_s = lab_median(tm[k], reps);
        for (int p = 0; p < 4; p++)
            v[k].path_s[p] = lab_median(tp[k][p], reps), v[k].pair_us[p] = lab_median(tq[k][p], reps) * 1e6;
    }

    printf("%-10s %-8s %8s %8s %8s | %-30s | %s\n", "", "", "", "", "", "mix ms spent on each path",
           "us per slice, crop -> 256x256 (speed-up vs v1)");
    printf("%-10s %-8s %8s %8s %8s | %7s %7s %7s %6s | %12s %12s %12s %12s\n", "variant", "verified", "mix ms",
           "us/slice", "speedup", "fast", "general", "linear", "copy", "512x512", "400x380", "280x260", "200x180");
    for (int k = 0; k < nv; k++) {
        if (v[k].verified == -1) {
            printf("%-10s %-8s   (this CPU has no AVX2)  %s\n", v[k].name, "n/a", v[k].what);
            continue;
        }
        if (!v[k].verified) {
            printf("%-10s %-8s   (not timed: differs from resize_v1)  %s\n", v[k].name, "NO", v[k].what);
            continue;
        }
        printf("%-10s %-8s %8.2f %8.1f %7.2fx | %7.2f %7.2f %7.2f %6.2f |", v[k].name, "yes", v[k].mix_s * 1e3,
               v[k].mix_s * 1e6 / nm, v[0].mix_s / v[k].mix_s, v[k].path_s[1] * 1e3, v[k].path_s[2] * 1e3,
               v[k].path_s[3] * 1e3, v[k].path_s[0] * 1e3);
        for (int p = 0; p < 4; p++) printf(" %5.0f (%4.2fx)", v[k].pair_us[p], v[0].pair_us[p] / v[k].pair_us[p]);
        printf("\n");
    }
    printf("\n");
    for (int k = 0; k < nv; k++) printf("  %-10s %s\n", v[k].name, v[k].what);

    /* 4. the moments loop alone, over the v1 planes of the mix: "hot" = each plane read once
     * just before (as crop_resize_measure finds dst, just written), "cold" = all planes back
     * to back from memory. Round-robin over the versions as above. */
    {
        moments_t mm;
        for (int i = 0; i < nm; i++) resize_v1(&mix[i], outv + (size_t)i * 65536, &mm, &sc);
        enum { NK = 7 };
        static const char *mname[NK] = {"moments_v1", "moments_v2", "moments_v3", "moments_v4",
                                        "moments_v5", "moments_v6", "moments_v7"};
        static const char *mwhat[NK] = {"llrint x2 per voxel (zscore_fixed/_sq), the reference",
                                        "magic-number add, scalar", "magic-number add, SSE2 (2 doubles/op)",
                                        "llrint, 4 independent min/max/sum chains (no new math)",
                                        "magic SSE2, 8 voxels/iteration, 2 accumulator sets",
                                        "v5 with the scaled magic (no multiply by 2^32)",
                                        "v6 with AVX2 (4 doubles/op; runtime dispatch)"};
        const int nk = have_avx2 ? NK : NK - 1;
        double mh[NK], mc[NK], *th[NK], *tc2[NK];
        macc_t *ref = xmalloc(sizeof(macc_t) * (size_t)nm);
        int ok[NK] = {1, 1, 1, 1, 1, 1, 1};
        for (int kind = 0; kind < NK; kind++)
            th[kind] = xmalloc(sizeof(double) * (size_t)reps), tc2[kind] = xmalloc(sizeof(double) * (size_t)reps);
        for (int r = 0; r < reps; r++) {
            for (int kind = 0; kind < nk; kind++) {
                double hot = 0, t0;
                for (int pass = 0; pass < 2; pass++) {
                    t0 = lab_now();
                    for (int i = 0; i < nm; i++) {
                        macc_t a = {0, 0, 0.f, 0.f, 0};
                        const float *pl = outv + (size_t)i * 65536;
                        double t1 = 0;
                        if (pass == 0) {
                            volatile uint64_t sink = lab_touch(pl, 65536 * sizeof(float));
                            (void)sink;
                            t1 = lab_now();
                        }
                        if (kind == 0) macc_llrint(&a, pl, 65536);
                        else if (kind == 1) macc_magic_scalar(&a, pl, 65536);
                        else if (kind == 2) macc_magic_sse2(&a, pl, 65536);
                        else if (kind == 3) macc_llrint4(&a, pl, 65536);
                        else if (kind == 4) macc_magic_sse2x2(&a, pl, 65536);
                        else if (kind == 5) macc_magic_s_sse2(&a, pl, 65536);
                        else macc_add(&a, pl, 65536, MOM_MAGIC_S_AVX2);
                        if (pass == 0) hot += lab_now() - t1;
                        lab_sink ^= (uint64_t)a.q ^ (uint64_t)a.q2 ^ (uint64_t)(a.mn * 7.f) ^ (uint64_t)(a.mx * 3.f);
                        if (r == 0 && pass == 0 && kind == 0) ref[i] = a;
                        if (kind > 0 && (a.q != ref[i].q || a.q2 != ref[i].q2 || memcmp(&a.mn, &ref[i].mn, 4) ||
                                         memcmp(&a.mx, &ref[i].mx, 4)))
                            ok[kind] = 0;
                    }
                }
                th[kind][r] = hot;
                tc2[kind][r] = lab_now() - t0;
            }
        }
        for (int kind = 0; kind < nk; kind++) {
            mh[kind] = lab_median(th[kind], reps);
            mc[kind] = lab_median(tc2[kind], reps);
            failed |= !ok[kind];
        }
        const double nvox = nm * 65536.0;
        printf("\nmoments alone, %d planes of 256x256 (%.1f Mvoxels), median of %d; verified = same int64 sums and "
               "min/max bits as moments_v1 on every plane:\n",
               nm, nvox / 1e6, reps);
        printf("%-10s %-8s %9s %9s %8s %9s %9s %8s  %s\n", "variant", "verified", "hot ms", "ns/voxel", "speedup",
               "cold ms", "ns/voxel", "speedup", "what");
        for (int kind = 0; kind < nk; kind++)
            printf("%-10s %-8s %9.2f %9.3f %7.2fx %9.2f %9.3f %7.2fx  %s\n", mname[kind], ok[kind] ? "yes" : "NO",
                   mh[kind] * 1e3, mh[kind] * 1e9 / nvox, mh[0] / mh[kind], mc[kind] * 1e3, mc[kind] * 1e9 / nvox,
                   mc[0] / mc[kind], mwhat[kind]);
    }
    static const char *const pair_names[4] = {"512x512", "400x380", "280x260", "200x180"};
    profile(pj, pair_names, 4, quick ? 5 : 31);
    if (failed) {
        fprintf(stderr, "resize lab: some variant differs from the reference (see above)\n");
        return 1;
    }
    return 0;
}
