/* resize_engine.c - resize_crop_measure: the CPU backend's crop, min-max, INTER_AREA
 * resize and z-score moments of one slice in one pass (include/mriprep/resize.h gives the
 * contract and why it is exact; resize.c holds the plans and the reference loop it is
 * tested against). Its loops and arithmetic are the kernel lab's resize_v12
 * (bench/lab/resize.c: the 4-row SSE2 horizontal pass, GENERAL columns grouped by tap
 * count, min-max by division, the scaled magic-number moments) with the moments loop
 * moments_v6 (SSE2, 8 voxels per iteration, two accumulator sets), and two changes no lab
 * version has, for bounded memory: an 8-row ring of horizontal sums instead of v12's
 * every-row table, and AREA_FAST bands (fast_band_rows) where v12 takes the float crop.
 * The plain path (crop_measure_plain: every build without SSE2 or with SIMD=0, and the
 * few cases the engine does not take) is v1's float crop and resize_area_f32, with the
 * moments loop of the engine in use (the llrint loop for the portable one).
 *
 * Where the CPU has AVX2 (chosen at run time: cpu_simd_engine, include/mriprep/
 * cpu_backend.h), AREA_GENERAL and LINEAR_AREA take the lab's resize_v16 instead: the same
 * engine with eight source rows per __m256 (t8_*) and a ring of 16 rows (two groups of 8),
 * and every path's moments take moments_v7 (AVX2, 4 doubles per op); AREA_FAST and COPY
 * keep the SSE2 loops, as v16 does. The AVX2 functions are compiled by
 * __attribute__((target("avx2"))), not -mavx2, so the file still runs on any x86-64, and
 * without FMA ("avx2" does not enable it; -ffp-contract=off forbids contraction anyway):
 * lane l of each 256-bit op does row l's scalar operation, rounded as the scalar one.
 * MRIPREP_SIMD=sse2 or none lowers the choice (the SSE2 engine, or the plain path with
 * the llrint moments), for comparing them in one binary.
 */
#include "mriprep/resize.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/zscore_math.h"
#include "mriprep/cpu_backend.h"

/* ---- resize_crop_measure: crop, min-max, resize and moments in one pass -----------------
 * (the contract and the exactness argument are in include/mriprep/resize.h)
 *
 * With SSE2, and double math without excess precision (FLT_EVAL_METHOD 0, which
 * zscore_fixed_magic needs), the paths are:
 *   AREA_GENERAL, LINEAR_AREA  the 4-row engine: four source rows converted, transposed
 *                              (t4[c] = column c of the four rows) and summed horizontally
 *                              together, into a ring of 8 rows of horizontal sums; the
 *                              vertical pass reads the ring a row at a time
 *   AREA_FAST 2x2              two source rows converted, one output row from them
 *   AREA_FAST other factors    a band of ky source rows, resize_fast_pixel on it
 *   COPY                       each source row converted straight into dst
 * and each output row's moments are added while it is in cache. Everything else (and
 * every path without SSE2) is the plain path: the float crop, resize_area_f32, and the
 * moments over the plane. */
#if defined(__SSE2__) && FLT_EVAL_METHOD == 0 && !defined(MRIPREP_NO_SIMD)
#define RESIZE_SSE2 1
#include <emmintrin.h>
#else
#define RESIZE_SSE2 0
#endif

/* The 8-row engine and the AVX2 moments: by function attribute, chosen at run time (GCC or
 * clang on x86: target attributes, __builtin_cpu_supports in slice_stats.c). */
#if RESIZE_SSE2 && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define RESIZE_AVX2 1
#include <immintrin.h>
#define AVX2_FN __attribute__((target("avx2")))
#else
#define RESIZE_AVX2 0
#endif

/* Rows of horizontal sums the 4-row engine keeps: two groups of 4; the 8-row engine: two
 * groups of 8. */
#define RING_ROWS 8
#define RING8_ROWS 16
/* Columns the 8-row engine converts at a time: 8 rows x 256 floats (8 KiB, in L1), then
 * transposed; so its converted rows take O(1) memory, not 8 * bw floats. */
#define T8_STRIP 256

struct resize_scratch {
    float *crop; /* plain path: [bh][bw] min-max values */
    size_t crop_cap;
    float *rows; /* converted source rows: [4][bw] (4-row engine), [2][bw] (FAST 2x2), [ky][bw];
                    the 8-row engine's strip [8][min(bw, T8_STRIP)] */
    size_t rows_cap;
#if RESIZE_SSE2
    __m128 *t4; /* [bw]: t4[c] = column c of the 4 source rows of a group */
    size_t t4_cap;
    __m128 *h4; /* [dst_w]: their horizontal sums, lane l = row g+l */
    size_t h4_cap;
    __m128 *w4; /* GENERAL: [taps] x_taps weights; LINEAR: [2][dst_w] 1 - x_frac, x_frac; broadcast */
    size_t w4_cap;
    float *ring; /* [RING_ROWS or RING8_ROWS][dst_w] horizontal sums; ring row i holds source
                    row ring_tag[i] */
    size_t ring_cap;
    int32_t ring_tag[RING8_ROWS]; /* -1: none */
    int32_t *cols; /* GENERAL: [3][dst_w] first source column, tap count, columns grouped by count */
    size_t cols_cap;
    int32_t group_start[6]; /* cols[2][group_start[k] .. group_start[k+1]-1]: the columns with k
                               taps, k = 1..4; from group_start[5]: more */
#endif
#if RESIZE_AVX2
    /* the 8-row engine; `rows` holds its strip [8][T8_STRIP], `ring` and `cols` as above */
    float *t8; /* [bw][8]: t8[8c + l] = column c of source row g+l of a group */
    size_t t8_cap;
    float *h8; /* [dst_w][8]: their horizontal sums */
    size_t h8_cap;
    float *w8; /* GENERAL: [taps] x_taps weights; LINEAR: [dst_w] 1 - x_frac */
    size_t w8_cap;
#endif
};

resize_scratch_t *resize_scratch_new(void)
{
    return calloc(1, sizeof(resize_scratch_t));
}

void resize_scratch_free(resize_scratch_t *s)
{
    if (!s)
        return;
    free(s->crop);
    free(s->rows);
#if RESIZE_SSE2
    free(s->t4);
    free(s->h4);
    free(s->w4);
    free(s->ring);
    free(s->cols);
#endif
#if RESIZE_AVX2
    free(s->t8);
    free(s->h8);
    free(s->w8);
#endif
    free(s);
}

size_t resize_scratch_bytes(const resize_scratch_t *s)
{
    size_t bytes = s->crop_cap * sizeof(float) + s->rows_cap * sizeof(float);
#if RESIZE_SSE2
    bytes += (s->t4_cap + s->h4_cap + s->w4_cap) * sizeof(__m128) + s->ring_cap * sizeof(float) +
             s->cols_cap * sizeof(int32_t);
#endif
#if RESIZE_AVX2
    bytes += (s->t8_cap + s->h8_cap + s->w8_cap) * sizeof(float);
#endif
    return bytes;
}

/* A buffer of at least `need` elements of `size` bytes, 32-byte aligned (a __m256 load):
 * `buf` itself when *cap suffices, else a new one (contents not kept; `buf` is freed).
 * NULL when out of memory, with *cap 0. */
static void *scratch_grow(void *buf, size_t *cap, size_t need, size_t size)
{
    if (need == 0)
        need = 1; /* a buffer, not NULL, which would read as out of memory */
    if (need <= *cap)
        return buf;
    free(buf);
    const size_t bytes = (need * size + 31u) & ~(size_t)31u;
    void *p = aligned_alloc(32, bytes);
    *cap = p ? need : 0;
    return p;
}

/* Columns x0 .. x0+n-1 of row r of the crop, min-max scaled into out [n]: crop_value's
 * operations (slice_minmax_value of slice_stored_value), one loop per signedness so each
 * vectorises. The conversion is exact whatever the vector width: x - min is an integer of
 * magnitude <= 65535, exact in float, and the division is IEEE in every unit. */
static inline void crop_row_part(const resize_crop_t *c, float range, int32_t r, int32_t x0, int32_t n, float *out)
{
    const uint16_t *in = c->pixels + (size_t)(c->box.row0 + r) * (size_t)c->cols + (size_t)(c->box.col0 + x0);
    const int32_t mn = c->min;
    int32_t x;

    if (c->is_signed)
        for (x = 0; x < n; x++)
            out[x] = slice_minmax_value(slice_stored_value(in[x], 1), mn, range);
    else
        for (x = 0; x < n; x++)
            out[x] = slice_minmax_value(slice_stored_value(in[x], 0), mn, range);
}

/* Row r of the crop, min-max scaled into out [bw]. */
static void crop_row(const resize_crop_t *c, float range, int32_t r, float *out)
{
    crop_row_part(c, range, r, 0, slice_box_width(c->box), out);
}

#if RESIZE_SSE2 || RESIZE_AVX2
/* v[i .. n) into the moments one float at a time: the vector loops' remainder, with the
 * same operations as their lanes (zscore_fixed_magic, `x < m ? x : m`). */
static inline void moments_scalar_tail(resize_moments_t *m, const float *v, size_t i, size_t n)
{
    for (; i < n; i++) {
        const float x = v[i];
        m->sum_q += zscore_fixed_magic(x);
        m->sum_q2 += zscore_fixed_sq_magic(x);
        m->min = x < m->min ? x : m->min;
        m->max = x > m->max ? x : m->max;
    }
}
#endif

#if RESIZE_SSE2
/* The moments of v[n] into *m (already started): two chains of 4 floats per iteration,
 * each float widened to double and converted by zscore_fixed_magic's add, two per op;
 * the raw bits are summed with paddq (modulo 2^64) and count * ZSCORE_MAGIC_BITS taken
 * off once, which is exact because the true sums fit in int64. min/max per lane with
 * minps/maxps, which are `x < m ? x : m` and `x > m ? x : m` like the scalar loop. */
static void moments_v6_sse2(resize_moments_t *m, const float *v, size_t n)
{
    const __m128d magic = _mm_set1_pd(ZSCORE_MAGIC);
    __m128i q = _mm_setzero_si128(), q2 = q, qb = q, q2b = q;
    __m128 mn = _mm_set1_ps(m->min), mx = _mm_set1_ps(m->max), mnb = mn, mxb = mx;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        const __m128 x = _mm_loadu_ps(v + i), y = _mm_loadu_ps(v + i + 4);
        const __m128d x0 = _mm_cvtps_pd(x), x1 = _mm_cvtps_pd(_mm_movehl_ps(x, x));
        const __m128d y0 = _mm_cvtps_pd(y), y1 = _mm_cvtps_pd(_mm_movehl_ps(y, y));
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
    if (i) {
        int64_t lq[2], lq2[2];
        float fmn[4], fmx[4];
        _mm_storeu_si128((__m128i *)(void *)lq, _mm_add_epi64(q, qb));
        _mm_storeu_si128((__m128i *)(void *)lq2, _mm_add_epi64(q2, q2b));
        _mm_storeu_ps(fmn, _mm_min_ps(mn, mnb));
        _mm_storeu_ps(fmx, _mm_max_ps(mx, mxb));
        const uint64_t bias = (uint64_t)ZSCORE_MAGIC_BITS * (uint64_t)i;
        m->sum_q += (int64_t)((uint64_t)lq[0] + (uint64_t)lq[1] - bias);
        m->sum_q2 += (int64_t)((uint64_t)lq2[0] + (uint64_t)lq2[1] - bias);
        for (int k = 0; k < 4; k++) {
            m->min = fmn[k] < m->min ? fmn[k] : m->min;
            m->max = fmx[k] > m->max ? fmx[k] : m->max;
        }
    }
    moments_scalar_tail(m, v, i, n);
}
#endif

#if RESIZE_AVX2
/* moments_v6_sse2 with AVX2 (the lab's moments_v7): 8 floats per iteration, widened to two
 * __m256d of 4 doubles each, the same add of ZSCORE_MAGIC per double, the raw bits summed
 * with vpaddq in two chains (q, qb) and the bias taken off once; min/max with one chain of
 * 8 lanes each (vminps/vmaxps: `x < m ? x : m`, `x > m ? x : m`, as the scalar loop). */
AVX2_FN static void moments_v7_avx2(resize_moments_t *m, const float *v, size_t n)
{
    const __m256d magic = _mm256_set1_pd(ZSCORE_MAGIC);
    __m256i q = _mm256_setzero_si256(), q2 = q, qb = q, q2b = q;
    __m256 mn = _mm256_set1_ps(m->min), mx = _mm256_set1_ps(m->max);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(v + i);
        const __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        q = _mm256_add_epi64(q, _mm256_castpd_si256(_mm256_add_pd(x0, magic)));
        qb = _mm256_add_epi64(qb, _mm256_castpd_si256(_mm256_add_pd(x1, magic)));
        q2 = _mm256_add_epi64(q2, _mm256_castpd_si256(_mm256_add_pd(_mm256_mul_pd(x0, x0), magic)));
        q2b = _mm256_add_epi64(q2b, _mm256_castpd_si256(_mm256_add_pd(_mm256_mul_pd(x1, x1), magic)));
        mn = _mm256_min_ps(x, mn);
        mx = _mm256_max_ps(x, mx);
    }
    if (i) {
        int64_t lq[4], lq2[4];
        float fmn[8], fmx[8];
        _mm256_storeu_si256((__m256i *)(void *)lq, _mm256_add_epi64(q, qb));
        _mm256_storeu_si256((__m256i *)(void *)lq2, _mm256_add_epi64(q2, q2b));
        _mm256_storeu_ps(fmn, mn);
        _mm256_storeu_ps(fmx, mx);
        const uint64_t bias = (uint64_t)ZSCORE_MAGIC_BITS * (uint64_t)i;
        m->sum_q += (int64_t)((uint64_t)lq[0] + (uint64_t)lq[1] + (uint64_t)lq[2] + (uint64_t)lq[3] - bias);
        m->sum_q2 += (int64_t)((uint64_t)lq2[0] + (uint64_t)lq2[1] + (uint64_t)lq2[2] + (uint64_t)lq2[3] - bias);
        for (int k = 0; k < 8; k++) {
            m->min = fmn[k] < m->min ? fmn[k] : m->min;
            m->max = fmx[k] > m->max ? fmx[k] : m->max;
        }
    }
    moments_scalar_tail(m, v, i, n);
}
#endif

/* The engine this call runs: cpu_simd_engine(), lowered to what this file was built with. */
static cpu_simd_t resize_engine_in_use(void)
{
    const cpu_simd_t e = cpu_simd_engine();
#if RESIZE_AVX2
    return e;
#elif RESIZE_SSE2
    return e > CPU_SIMD_SSE2 ? CPU_SIMD_SSE2 : e;
#else
    (void)e;
    return CPU_SIMD_NONE;
#endif
}

/* resize_moments_add with the engine chosen by the caller (once per slice). */
static void moments_add(resize_moments_t *m, const float *v, size_t n, int first, cpu_simd_t engine)
{
    if (first) {
        m->sum_q = m->sum_q2 = 0;
        m->min = m->max = v[0];
    }
    switch (engine) {
#if RESIZE_AVX2
    case CPU_SIMD_AVX2: moments_v7_avx2(m, v, n); return;
#endif
#if RESIZE_SSE2
    case CPU_SIMD_SSE2: moments_v6_sse2(m, v, n); return;
#endif
    default: break;
    }
    for (size_t i = 0; i < n; i++) {
        const float x = v[i];
        m->sum_q += zscore_fixed(x);
        m->sum_q2 += zscore_fixed_sq(x);
        m->min = x < m->min ? x : m->min;
        m->max = x > m->max ? x : m->max;
    }
}

void resize_moments_add(resize_moments_t *m, const float *v, size_t n, int first)
{
    moments_add(m, v, n, first, resize_engine_in_use());
}

/* The plain path: float crop, resize_area_f32, moments over the plane. */
static mp_status crop_measure_plain(const resize_plan_t *plan, const resize_crop_t *c, float range,
                                    resize_scratch_t *s, float *dst, resize_moments_t *m, cpu_simd_t engine,
                                    mp_error *err)
{
    const resize_tables_t *t = &plan->tables;
    const size_t need = (size_t)t->src_w * (size_t)t->src_h;
    int32_t r;

    s->crop = scratch_grow(s->crop, &s->crop_cap, need, sizeof(float));
    if (!s->crop)
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate a %zu-pixel crop", need);
    for (r = 0; r < t->src_h; r++)
        crop_row(c, range, r, s->crop + (size_t)r * (size_t)t->src_w);
    resize_area_f32(plan, s->crop, (size_t)t->src_w, dst, (size_t)t->dst_w);
    moments_add(m, dst, (size_t)t->dst_w * (size_t)t->dst_h, 1, engine);
    return MP_OK;
}

#if RESIZE_SSE2
/* Adds a finished output row's moments (the first row starts them). */
static void moments_row(resize_moments_t *m, const float *row, int32_t w, int32_t y, cpu_simd_t engine)
{
    moments_add(m, row, (size_t)w, y == 0, engine);
}

/* COPY: each crop row is an output row. */
static void copy_rows(const resize_tables_t *t, const resize_crop_t *c, float range, float *dst,
                      resize_moments_t *m, cpu_simd_t engine)
{
    for (int32_t y = 0; y < t->dst_h; y++) {
        float *out = dst + (size_t)y * (size_t)t->dst_w;
        crop_row(c, range, y, out);
        moments_row(m, out, t->dst_w, y, engine);
    }
}

/* AREA_FAST 2x2 from two converted rows p, q: columns below fast_simd_w are
 * ((a+b)+(c+d))*0.25f and the rest (0 + (((a+b)+c)+d)) * fast_scale, resize_fast_pixel's
 * two forms. */
static void fast2_rows(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s,
                       float *dst, resize_moments_t *m, cpu_simd_t engine)
{
    const int32_t w = t->dst_w, simd_w = t->fast_simd_w, bw = t->src_w;
    const float scale = t->fast_scale;
    float *restrict p = s->rows, *restrict q = s->rows + bw;

    for (int32_t y = 0; y < t->dst_h; y++) {
        float *restrict out = dst + (size_t)y * (size_t)w;
        int32_t x;
        crop_row(c, range, 2 * y, p);
        crop_row(c, range, 2 * y + 1, q);
        for (x = 0; x < simd_w; x++)
            out[x] = ((p[2 * x] + p[2 * x + 1]) + (q[2 * x] + q[2 * x + 1])) * 0.25f;
        for (; x < w; x++) {
            float sum = 0.f;
            sum = sum + (((p[2 * x] + p[2 * x + 1]) + q[2 * x]) + q[2 * x + 1]);
            out[x] = sum * scale;
        }
        moments_row(m, out, w, y, engine);
    }
}

/* AREA_FAST, any other factors: output row y from the band of source rows
 * y*ky .. y*ky+ky-1, by resize_fast_pixel itself. */
static void fast_band_rows(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s,
                           float *dst, resize_moments_t *m, cpu_simd_t engine)
{
    const int32_t w = t->dst_w, bw = t->src_w;

    for (int32_t y = 0; y < t->dst_h; y++) {
        float *out = dst + (size_t)y * (size_t)w;
        for (int32_t r = 0; r < t->ky; r++)
            crop_row(c, range, y * t->ky + r, s->rows + (size_t)r * (size_t)bw);
        for (int32_t x = 0; x < w; x++)
            out[x] = resize_fast_pixel(t, s->rows, (size_t)bw, x, 0);
        moments_row(m, out, w, y, engine);
    }
}

/* AREA_GENERAL's column taps as runs: area_axis_taps emits consecutive source columns
 * (s1-1, s1 .. s2-1, s2), so column x's taps are x_taps[x_start[x] + i], i < count, on
 * columns first + i. Also lists the columns by tap count, so the horizontal pass runs one
 * branch-free loop per count (at these scales neighbouring columns have 2 or 3 taps in an
 * irregular pattern that a branch predictor does not learn). Returns 0 when some column's
 * taps are not a run (area_axis_taps never does that; the caller takes the plain path). */
static int general_columns(const resize_tables_t *t, resize_scratch_t *s)
{
    const int32_t w = t->dst_w;
    int32_t *first = s->cols, *count = s->cols + w, *grouped = s->cols + 2 * (size_t)w;
    int32_t n_with[6] = {0, 0, 0, 0, 0, 0}, pos[6];

    for (int32_t x = 0; x < w; x++) {
        const int32_t x0 = t->x_start[x], k = t->x_start[x + 1] - x0;
        if (k < 1)
            return 0;
        for (int32_t i = 1; i < k; i++)
            if (t->x_taps[x0 + i].index != t->x_taps[x0].index + i)
                return 0;
        first[x] = t->x_taps[x0].index;
        count[x] = k;
        n_with[k <= 4 ? k : 5]++;
    }
    s->group_start[0] = pos[0] = 0;
    for (int k = 1; k < 6; k++)
        s->group_start[k] = pos[k] = s->group_start[k - 1] + n_with[k - 1];
    for (int32_t x = 0; x < w; x++) {
        const int32_t k = count[x];
        grouped[pos[k <= 4 ? k : 5]++] = x;
    }
    return 1;
}

/* Source rows g..g+3 of the crop (the last row repeated past src_h) converted and
 * transposed into t4: t4[c] lane l = row g+l, column c. */
static void t4_load(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s, int32_t g)
{
    const int32_t bw = t->src_w;
    const float *p[4];
    int32_t x = 0;

    for (int l = 0; l < 4; l++) {
        float *row = s->rows + (size_t)l * (size_t)bw;
        crop_row(c, range, g + l < t->src_h ? g + l : t->src_h - 1, row);
        p[l] = row;
    }
    for (; x + 4 <= bw; x += 4) {
        __m128 a = _mm_loadu_ps(p[0] + x), b = _mm_loadu_ps(p[1] + x), d = _mm_loadu_ps(p[2] + x),
               e = _mm_loadu_ps(p[3] + x);
        _MM_TRANSPOSE4_PS(a, b, d, e);
        s->t4[x] = a;
        s->t4[x + 1] = b;
        s->t4[x + 2] = d;
        s->t4[x + 3] = e;
    }
    for (; x < bw; x++)
        s->t4[x] = _mm_setr_ps(p[0][x], p[1][x], p[2][x], p[3][x]);
}

/* resize_general_hsum for four rows at once: h = +0, then h = h + p[i] * w[i] for each
 * tap in order, per lane. */
static inline __m128 hsum4(const __m128 *p, const __m128 *w, int32_t k)
{
    __m128 h = _mm_setzero_ps();
    switch (k) {
    case 1:
        return _mm_add_ps(h, _mm_mul_ps(p[0], w[0]));
    case 2:
        return _mm_add_ps(_mm_add_ps(h, _mm_mul_ps(p[0], w[0])), _mm_mul_ps(p[1], w[1]));
    case 3:
        return _mm_add_ps(_mm_add_ps(_mm_add_ps(h, _mm_mul_ps(p[0], w[0])), _mm_mul_ps(p[1], w[1])),
                          _mm_mul_ps(p[2], w[2]));
    default:
        for (int32_t i = 0; i < k; i++)
            h = _mm_add_ps(h, _mm_mul_ps(p[i], w[i]));
        return h;
    }
}

/* Horizontal sums of the group in t4 into h4: AREA_GENERAL (by tap-count lists) or
 * LINEAR_AREA (h = p[sx]*(1 - a) + p[sx+1]*a, or p[sx] at the right edge). */
static void t4_hsums(const resize_tables_t *t, resize_scratch_t *s)
{
    const int32_t w = t->dst_w;
    const __m128 *p = s->t4, *wt = s->w4;
    __m128 *h = s->h4;

    if (t->path == RESIZE_LINEAR_AREA) {
        const int32_t *xi = t->x_index, last = t->src_w - 1;
        const __m128 *a0 = wt, *a1 = wt + w;
        for (int32_t x = 0; x < w; x++) {
            const int32_t sx = xi[x];
            h[x] = sx >= last ? p[sx] : _mm_add_ps(_mm_mul_ps(p[sx], a0[x]), _mm_mul_ps(p[sx + 1], a1[x]));
        }
        return;
    }
    const int32_t *first = s->cols, *count = s->cols + w, *gx = s->cols + 2 * (size_t)w, *gs = s->group_start;
    const int32_t *start = t->x_start;
    for (int32_t i = gs[1]; i < gs[2]; i++) {
        const int32_t x = gx[i];
        h[x] = hsum4(p + first[x], wt + start[x], 1);
    }
    for (int32_t i = gs[2]; i < gs[3]; i++) {
        const int32_t x = gx[i];
        h[x] = hsum4(p + first[x], wt + start[x], 2);
    }
    for (int32_t i = gs[3]; i < gs[4]; i++) {
        const int32_t x = gx[i];
        h[x] = hsum4(p + first[x], wt + start[x], 3);
    }
    for (int32_t i = gs[4]; i < w; i++) {
        const int32_t x = gx[i];
        h[x] = hsum4(p + first[x], wt + start[x], count[x]);
    }
}

/* The horizontal sums of source row r, from the ring: when the ring does not hold it,
 * its group g = r & ~3 is computed into ring rows g % 8 .. g % 8 + 3 (tags say which rows
 * they hold, so a row is never read stale). Output rows ask for source rows in
 * non-decreasing order, and each row is used before the next is asked for, except
 * LINEAR_AREA's pair r, r+1, which lies in one group or two neighbouring ones: 8 ring
 * rows hold both. So no group is computed twice, whatever the scale. */
static const float *ring_row(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s,
                             int32_t r)
{
    const int32_t w = t->dst_w, slot = r % RING_ROWS;

    if (s->ring_tag[slot] != r) {
        const int32_t g = r & ~3, g_slot = g % RING_ROWS;
        float *o0 = s->ring + (size_t)g_slot * (size_t)w, *o1 = o0 + w, *o2 = o1 + w, *o3 = o2 + w;
        int32_t x = 0;
        t4_load(t, c, range, s, g);
        t4_hsums(t, s);
        for (; x + 4 <= w; x += 4) {
            __m128 a = s->h4[x], b = s->h4[x + 1], d = s->h4[x + 2], e = s->h4[x + 3];
            _MM_TRANSPOSE4_PS(a, b, d, e);
            _mm_storeu_ps(o0 + x, a);
            _mm_storeu_ps(o1 + x, b);
            _mm_storeu_ps(o2 + x, d);
            _mm_storeu_ps(o3 + x, e);
        }
        for (; x < w; x++) {
            float f[4];
            _mm_storeu_ps(f, s->h4[x]);
            o0[x] = f[0], o1[x] = f[1], o2[x] = f[2], o3[x] = f[3];
        }
        for (int l = 0; l < 4; l++)
            s->ring_tag[g_slot + l] = g + l < t->src_h ? g + l : -1;
    }
    return s->ring + (size_t)slot * (size_t)w;
}

/* AREA_GENERAL, vertical pass: out = b*h for an output row's first row tap, out + b*h
 * after (resize_general_vstep). */
static void t4_general_rows(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s,
                            float *dst, resize_moments_t *m, cpu_simd_t engine)
{
    const int32_t w = t->dst_w;

    for (int32_t y = 0; y < t->dst_h; y++) {
        float *restrict out = dst + (size_t)y * (size_t)w;
        const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
        for (int32_t j = y0; j < y1; j++) {
            const float b = t->y_taps[j].weight;
            const float *restrict h = ring_row(t, c, range, s, t->y_taps[j].index);
            if (j == y0)
                for (int32_t x = 0; x < w; x++)
                    out[x] = b * h[x];
            else
                for (int32_t x = 0; x < w; x++)
                    out[x] = out[x] + b * h[x];
        }
        moments_row(m, out, w, y, engine);
    }
}

/* LINEAR_AREA, vertical pass: out = h0*b0 + h1*b1 with b0 = 1 - b1, rows y_index[y] and
 * min(y_index[y] + 1, src_h - 1) (resize_linear_area_pixel). */
static void t4_linear_rows(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s,
                           float *dst, resize_moments_t *m, cpu_simd_t engine)
{
    const int32_t w = t->dst_w;

    for (int32_t y = 0; y < t->dst_h; y++) {
        const int32_t r0 = t->y_index[y], r1 = resize_min_i32(r0 + 1, t->src_h - 1);
        const float *restrict h0 = ring_row(t, c, range, s, r0);
        const float *restrict h1 = ring_row(t, c, range, s, r1);
        const float b1 = t->y_frac[y], b0 = 1.f - b1;
        float *restrict out = dst + (size_t)y * (size_t)w;
        for (int32_t x = 0; x < w; x++)
            out[x] = h0[x] * b0 + h1[x] * b1;
        moments_row(m, out, w, y, engine);
    }
}

/* The 4-row engine's buffers and weight tables for one slice. Returns 0 when out of
 * memory, -1 when the plain path has to take the slice (see general_columns). */
static int t4_prepare(const resize_tables_t *t, resize_scratch_t *s)
{
    const size_t bw = (size_t)t->src_w, w = (size_t)t->dst_w;
    const int general = t->path == RESIZE_AREA_GENERAL;
    const size_t n_w4 = general ? (size_t)t->x_start[t->dst_w] : 2 * w;

    s->rows = scratch_grow(s->rows, &s->rows_cap, 4 * bw, sizeof(float));
    s->t4 = scratch_grow(s->t4, &s->t4_cap, bw, sizeof(__m128));
    s->h4 = scratch_grow(s->h4, &s->h4_cap, w, sizeof(__m128));
    s->w4 = scratch_grow(s->w4, &s->w4_cap, n_w4, sizeof(__m128));
    s->ring = scratch_grow(s->ring, &s->ring_cap, RING_ROWS * w, sizeof(float));
    s->cols = scratch_grow(s->cols, &s->cols_cap, 3 * w, sizeof(int32_t));
    if (!s->rows || !s->t4 || !s->h4 || !s->w4 || !s->ring || !s->cols)
        return 0;
    for (int i = 0; i < RING8_ROWS; i++)
        s->ring_tag[i] = -1;
    if (general) {
        if (!general_columns(t, s))
            return -1;
        for (size_t i = 0; i < n_w4; i++)
            s->w4[i] = _mm_set1_ps(t->x_taps[i].weight);
    } else {
        for (size_t x = 0; x < w; x++) {
            s->w4[x] = _mm_set1_ps(1.f - t->x_frac[x]);
            s->w4[w + x] = _mm_set1_ps(t->x_frac[x]);
        }
    }
    return 1;
}
#endif /* RESIZE_SSE2 */

#if RESIZE_AVX2
/* ---- the 8-row engine (the lab's resize_v16) on the ring -------------------------------
 * t4's engine with eight source rows per __m256: the same per-lane operations as hsum4 and
 * the vertical passes above, and so as kernels/resize_area.h, on twice the rows per op. A
 * group of 8 source rows is converted a strip of T8_STRIP columns at a time and transposed
 * (t8), summed horizontally (h8), and transposed back into 8 ring rows; the ring holds two
 * groups (RING8_ROWS), for the same reason the 4-row ring holds two groups of 4. */

/* r[l] = row l of an 8x8 block of floats, in place into r[c] = column c. */
AVX2_FN static inline void transpose8_ps(__m256 *r)
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Source rows g..g+7 of the crop (the last row repeated past src_h) converted and
 * transposed into t8: t8[8c + l] = row g+l, column c. The strip: rows [8][min(bw,
 * T8_STRIP)] in `rows`. */
AVX2_FN static void t8_load(const resize_tables_t *t, const resize_crop_t *c, float range, resize_scratch_t *s,
                            int32_t g)
{
    const int32_t bw = t->src_w, strip = bw < T8_STRIP ? bw : T8_STRIP;
    float *t8 = s->t8;

    for (int32_t c0 = 0; c0 < bw; c0 += strip) {
        const int32_t n = bw - c0 < strip ? bw - c0 : strip;
        const float *p[8];
        int32_t x = 0;
        for (int l = 0; l < 8; l++) {
            float *row = s->rows + (size_t)l * (size_t)strip;
            crop_row_part(c, range, g + l < t->src_h ? g + l : t->src_h - 1, c0, n, row);
            p[l] = row;
        }
        for (; x + 8 <= n; x += 8) {
            __m256 r[8];
            for (int l = 0; l < 8; l++)
                r[l] = _mm256_loadu_ps(p[l] + x);
            transpose8_ps(r);
            for (int l = 0; l < 8; l++)
                _mm256_store_ps(t8 + (size_t)(c0 + x + l) * 8, r[l]);
        }
        for (; x < n; x++)
            for (int l = 0; l < 8; l++)
                t8[(size_t)(c0 + x) * 8 + l] = p[l][x];
    }
}

/* hsum4 for eight rows: p = t8 + 8 * (first column), w = the column's k weights, each
 * broadcast; h = +0, then h = h + p[i] * w[i] for each tap in order, per lane. */
AVX2_FN static inline __m256 hsum8(const float *p, const float *w, int32_t k)
{
    __m256 h = _mm256_setzero_ps();
    switch (k) {
    case 1:
        return _mm256_add_ps(h, _mm256_mul_ps(_mm256_load_ps(p), _mm256_broadcast_ss(w)));
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

/* Horizontal sums of the group in t8 into h8 [dst_w][8]: AREA_GENERAL (by tap-count lists)
 * or LINEAR_AREA (h = p[sx]*(1 - a) + p[sx+1]*a, or p[sx] at the right edge). */
AVX2_FN static void t8_hsums(const resize_tables_t *t, resize_scratch_t *s)
{
    const int32_t w = t->dst_w;
    const float *p = s->t8, *wt = s->w8;
    float *h = s->h8;

    if (t->path == RESIZE_LINEAR_AREA) {
        const int32_t *xi = t->x_index, last = t->src_w - 1;
        const float *a1 = t->x_frac;
        for (int32_t x = 0; x < w; x++) {
            const int32_t sx = xi[x];
            const float *q = p + (size_t)sx * 8;
            const __m256 v = sx >= last ? _mm256_load_ps(q)
                                        : _mm256_add_ps(_mm256_mul_ps(_mm256_load_ps(q), _mm256_broadcast_ss(wt + x)),
                                                        _mm256_mul_ps(_mm256_load_ps(q + 8), _mm256_broadcast_ss(a1 + x)));
            _mm256_store_ps(h + (size_t)x * 8, v);
        }
        return;
    }
    const int32_t *first = s->cols, *count = s->cols + w, *gx = s->cols + 2 * (size_t)w, *gs = s->group_start;
    const int32_t *start = t->x_start;
    for (int32_t i = gs[1]; i < gs[2]; i++) {
        const int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8(p + (size_t)first[x] * 8, wt + start[x], 1));
    }
    for (int32_t i = gs[2]; i < gs[3]; i++) {
        const int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8(p + (size_t)first[x] * 8, wt + start[x], 2));
    }
    for (int32_t i = gs[3]; i < gs[4]; i++) {
        const int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8(p + (size_t)first[x] * 8, wt + start[x], 3));
    }
    for (int32_t i = gs[4]; i < w; i++) {
        const int32_t x = gx[i];
        _mm256_store_ps(h + (size_t)x * 8, hsum8(p + (size_t)first[x] * 8, wt + start[x], count[x]));
    }
}

/* ring_row for the 8-row engine: source row r's horizontal sums, computing its group
 * g = r & ~7 into ring rows g % 16 .. g % 16 + 7 when the ring does not hold it. */
AVX2_FN static const float *ring_row8(const resize_tables_t *t, const resize_crop_t *c, float range,
                                      resize_scratch_t *s, int32_t r)
{
    const int32_t w = t->dst_w, slot = r % RING8_ROWS;

    if (s->ring_tag[slot] != r) {
        const int32_t g = r & ~7, g_slot = g % RING8_ROWS;
        float *o = s->ring + (size_t)g_slot * (size_t)w;
        const float *h8 = s->h8;
        int32_t x = 0;
        t8_load(t, c, range, s, g);
        t8_hsums(t, s);
        for (; x + 8 <= w; x += 8) {
            __m256 v[8];
            for (int l = 0; l < 8; l++)
                v[l] = _mm256_load_ps(h8 + (size_t)(x + l) * 8);
            transpose8_ps(v);
            for (int l = 0; l < 8; l++)
                _mm256_storeu_ps(o + (size_t)l * (size_t)w + x, v[l]);
        }
        for (; x < w; x++)
            for (int l = 0; l < 8; l++)
                o[(size_t)l * (size_t)w + x] = h8[(size_t)x * 8 + l];
        for (int l = 0; l < 8; l++)
            s->ring_tag[g_slot + l] = g + l < t->src_h ? g + l : -1;
    }
    return s->ring + (size_t)slot * (size_t)w;
}

/* Adds a finished output row's moments (the first row starts them), AVX2. */
AVX2_FN static void moments_row8(resize_moments_t *m, const float *row, int32_t w, int32_t y)
{
    if (y == 0) {
        m->sum_q = m->sum_q2 = 0;
        m->min = m->max = row[0];
    }
    moments_v7_avx2(m, row, (size_t)w);
}

/* t4_general_rows on the 8-row ring. */
AVX2_FN static void t8_general_rows(const resize_tables_t *t, const resize_crop_t *c, float range,
                                    resize_scratch_t *s, float *dst, resize_moments_t *m)
{
    const int32_t w = t->dst_w;

    for (int32_t y = 0; y < t->dst_h; y++) {
        float *restrict out = dst + (size_t)y * (size_t)w;
        const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
        for (int32_t j = y0; j < y1; j++) {
            const float b = t->y_taps[j].weight;
            const float *restrict h = ring_row8(t, c, range, s, t->y_taps[j].index);
            if (j == y0)
                for (int32_t x = 0; x < w; x++)
                    out[x] = b * h[x];
            else
                for (int32_t x = 0; x < w; x++)
                    out[x] = out[x] + b * h[x];
        }
        moments_row8(m, out, w, y);
    }
}

/* t4_linear_rows on the 8-row ring. */
AVX2_FN static void t8_linear_rows(const resize_tables_t *t, const resize_crop_t *c, float range,
                                   resize_scratch_t *s, float *dst, resize_moments_t *m)
{
    const int32_t w = t->dst_w;

    for (int32_t y = 0; y < t->dst_h; y++) {
        const int32_t r0 = t->y_index[y], r1 = resize_min_i32(r0 + 1, t->src_h - 1);
        const float *restrict h0 = ring_row8(t, c, range, s, r0);
        const float *restrict h1 = ring_row8(t, c, range, s, r1);
        const float b1 = t->y_frac[y], b0 = 1.f - b1;
        float *restrict out = dst + (size_t)y * (size_t)w;
        for (int32_t x = 0; x < w; x++)
            out[x] = h0[x] * b0 + h1[x] * b1;
        moments_row8(m, out, w, y);
    }
}

/* The 8-row engine's buffers and weight tables for one slice: O(bw + dst_w) floats, the
 * strip aside. Returns 0 when out of memory, -1 when the plain path has to take the slice
 * (see general_columns). */
static int t8_prepare(const resize_tables_t *t, resize_scratch_t *s)
{
    const size_t bw = (size_t)t->src_w, w = (size_t)t->dst_w;
    const int general = t->path == RESIZE_AREA_GENERAL;
    const size_t n_w8 = general ? (size_t)t->x_start[t->dst_w] : w;
    const size_t strip = bw < T8_STRIP ? bw : T8_STRIP;

    s->rows = scratch_grow(s->rows, &s->rows_cap, 8 * strip, sizeof(float));
    s->t8 = scratch_grow(s->t8, &s->t8_cap, 8 * bw, sizeof(float));
    s->h8 = scratch_grow(s->h8, &s->h8_cap, 8 * w, sizeof(float));
    s->w8 = scratch_grow(s->w8, &s->w8_cap, n_w8, sizeof(float));
    s->ring = scratch_grow(s->ring, &s->ring_cap, RING8_ROWS * w, sizeof(float));
    s->cols = scratch_grow(s->cols, &s->cols_cap, 3 * w, sizeof(int32_t));
    if (!s->rows || !s->t8 || !s->h8 || !s->w8 || !s->ring || !s->cols)
        return 0;
    for (int i = 0; i < RING8_ROWS; i++)
        s->ring_tag[i] = -1;
    if (general) {
        if (!general_columns(t, s))
            return -1;
        for (size_t i = 0; i < n_w8; i++)
            s->w8[i] = t->x_taps[i].weight;
    } else {
        for (size_t x = 0; x < w; x++)
            s->w8[x] = 1.f - t->x_frac[x];
    }
    return 1;
}
#endif /* RESIZE_AVX2 */

const char *resize_crop_engine(void)
{
    const cpu_simd_t e = resize_engine_in_use();
    return e == CPU_SIMD_NONE ? "plain" : cpu_simd_name(e);
}

mp_status resize_crop_measure(const resize_plan_t *plan, const resize_crop_t *crop, resize_scratch_t *scratch,
                              float *dst, resize_moments_t *m, mp_error *err)
{
    if (!plan || !crop || !scratch || !dst || !m || !crop->pixels)
        return mp_fail(err, MP_ERR_USAGE, "resize_crop_measure: NULL argument");
    const resize_tables_t *t = &plan->tables;
    if (t->src_w != slice_box_width(crop->box) || t->src_h != slice_box_height(crop->box))
        return mp_fail(err, MP_ERR_USAGE, "resize_crop_measure: plan for %dx%d, crop box %dx%d", t->src_w, t->src_h,
                       slice_box_width(crop->box), slice_box_height(crop->box));
    if (crop->max <= crop->min)
        return mp_fail(err, MP_ERR_USAGE, "resize_crop_measure: min %d >= max %d: nothing to scale", crop->min,
                       crop->max);
    const float range = (float)(crop->max - crop->min);
    /* One engine for the whole slice (cpu_simd_force may change it between slices). */
    const cpu_simd_t engine = resize_engine_in_use();
#if RESIZE_SSE2
    if (engine == CPU_SIMD_NONE)
        return crop_measure_plain(plan, crop, range, scratch, dst, m, engine, err);
    resize_scratch_t *s = scratch;
    const size_t bw = (size_t)t->src_w;
    switch (t->path) {
    case RESIZE_AREA_GENERAL:
    case RESIZE_LINEAR_AREA: {
#if RESIZE_AVX2
        if (engine == CPU_SIMD_AVX2) {
            const int ready8 = t8_prepare(t, s);
            if (!ready8)
                break;
            if (ready8 < 0)
                return crop_measure_plain(plan, crop, range, s, dst, m, engine, err);
            if (t->path == RESIZE_AREA_GENERAL)
                t8_general_rows(t, crop, range, s, dst, m);
            else
                t8_linear_rows(t, crop, range, s, dst, m);
            return MP_OK;
        }
#endif
        const int ready = t4_prepare(t, s);
        if (!ready)
            break;
        if (ready < 0)
            return crop_measure_plain(plan, crop, range, s, dst, m, engine, err);
        if (t->path == RESIZE_AREA_GENERAL)
            t4_general_rows(t, crop, range, s, dst, m, engine);
        else
            t4_linear_rows(t, crop, range, s, dst, m, engine);
        return MP_OK;
    }
    case RESIZE_AREA_FAST:
        s->rows = scratch_grow(s->rows, &s->rows_cap, (size_t)t->ky * bw, sizeof(float));
        if (!s->rows)
            break;
        if (t->kx == 2 && t->ky == 2)
            fast2_rows(t, crop, range, s, dst, m, engine);
        else
            fast_band_rows(t, crop, range, s, dst, m, engine);
        return MP_OK;
    case RESIZE_COPY:
        copy_rows(t, crop, range, dst, m, engine);
        return MP_OK;
    default:
        return crop_measure_plain(plan, crop, range, s, dst, m, engine, err);
    }
    return mp_fail(err, MP_ERR_NOMEM, "cannot allocate resize buffers for a %dx%d crop to %dx%d", t->src_w,
                   t->src_h, t->dst_w, t->dst_h);
#else
    return crop_measure_plain(plan, crop, range, scratch, dst, m, engine, err);
#endif
}
