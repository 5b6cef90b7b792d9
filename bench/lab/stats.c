/* stats.c - kernel lab for the per-slice "stats" step (cpu_slice_stats in
 * src/compute/slice_stats.c, which carries stats_v5, and stats_v2 in builds without SSE2): one pass over a [rows][cols] uint16 or int16 slice giving min,
 * max, the exact int64 sum, the maximum of every row and of every column.
 *
 * Numbered versions in the llm.c dev/cuda manner: stats_v1 is
 * DEFINE_SLICE_STATS, the plain int32 loop the mainline had before the lab (the reference); every other version must give exactly v1's
 * min/max/sum/row_max/col_max on every test slice before it is timed. A version that
 * differs is reported "NO" and not timed, and the program exits 1.
 *
 *   build/lab/stats [--reps N] [--real build/lab/slices.bin] [--quick]
 *
 * Baseline target is x86-64 (SSE2). stats_v6 uses AVX2 behind
 * __attribute__((target("avx2"))) and is only run when the CPU has AVX2
 * (__builtin_cpu_supports): the runtime-dispatch plan for the mainline.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emmintrin.h>
#if defined(__GNUC__)
#include <immintrin.h>
#endif

#include "bench/lab/lab.h"

#define MAX_DIM 8192 /* DICOM_MAX_DIM */

typedef void (*stats_fn)(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                         int32_t *col_max, int32_t *min_out, int32_t *max_out, int64_t *sum_out);

/* ---- v1: the reference, DEFINE_SLICE_STATS: the mainline's loop before the lab ------- */

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

static void stats_v1(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                     int32_t *col_max, int32_t *mn, int32_t *mx, int64_t *sum)
{
    if (is_signed)
        slice_stats_s16((const int16_t *)px, rows, cols, row_max, col_max, mn, mx, sum);
    else
        slice_stats_u16(px, rows, cols, row_max, col_max, mn, mx, sum);
}

/* ---- the int16 domain shared by v2..v6 ------------------------------------------------
 * SSE2 has signed 16-bit min/max (pminsw/pmaxsw) but no unsigned ones (pminuw is
 * SSE4.1). So unsigned words are moved into the signed domain by flipping the top bit:
 * (int16)(u ^ 0x8000) == u - 32768, which keeps the order. Everything is computed there
 * (8 lanes per 128-bit op instead of v1's 4 int32 lanes) and mapped back at the end:
 * min/max/row/col values get the bit flipped back, the sum gets 32768 * rows * cols.
 * Signed words are already in the domain (bias 0). */

static inline int32_t unbias(int16_t x, int biased)
{
    return biased ? (int32_t)(uint16_t)((uint16_t)x ^ 0x8000u) : (int32_t)x;
}

/* Maps the int16-domain results back to v1's outputs. */
static inline void finish(uint32_t rows, uint32_t cols, int biased, const int16_t *cm16, int16_t mn, int16_t mx,
                          int64_t sum, int32_t *row_max, int32_t *col_max, int32_t *min_out, int32_t *max_out,
                          int64_t *sum_out)
{
    for (uint32_t c = 0; c < cols; c++) col_max[c] = unbias(cm16[c], biased);
    if (biased)
        for (uint32_t r = 0; r < rows; r++) row_max[r] = (int32_t)((uint32_t)row_max[r] ^ 0x8000u) & 0xFFFF;
    *min_out = unbias(mn, biased);
    *max_out = unbias(mx, biased);
    *sum_out = sum + (biased ? (int64_t)32768 * rows * cols : 0);
}

/* ---- v2: plain C in the int16 domain (left to the auto-vectoriser) ---------------------
 * row_max holds the biased int16 value until finish() maps it back. */

static inline __attribute__((always_inline)) void stats_v2_impl(const uint16_t *px, uint32_t rows, uint32_t cols,
                                                                int biased, int32_t *row_max, int32_t *col_max,
                                                                int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    _Alignas(64) int16_t cm[MAX_DIM];
    const uint16_t bias = biased ? 0x8000u : 0u;
    int16_t mn = INT16_MAX, mx = INT16_MIN;
    int64_t sum = 0;
    for (uint32_t c = 0; c < cols; c++) cm[c] = INT16_MIN;
    for (uint32_t r = 0; r < rows; r++) {
        const uint16_t *row = px + (size_t)r * cols;
        int16_t rmin = INT16_MAX, rmax = INT16_MIN;
        int32_t rsum = 0; /* |x| <= 32768, cols <= 8192: |rsum| <= 2^28 */
        for (uint32_t c = 0; c < cols; c++) {
            int16_t x = (int16_t)(uint16_t)(row[c] ^ bias);
            rsum += x;
            rmin = x < rmin ? x : rmin;
            rmax = x > rmax ? x : rmax;
            cm[c] = x > cm[c] ? x : cm[c];
        }
        row_max[r] = rmax;
        sum += rsum;
        mn = rmin < mn ? rmin : mn;
        mx = rmax > mx ? rmax : mx;
    }
    finish(rows, cols, biased, cm, mn, mx, sum, row_max, col_max, min_out, max_out, sum_out);
}

static void stats_v2(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                     int32_t *col_max, int32_t *mn, int32_t *mx, int64_t *sum)
{
    if (is_signed)
        stats_v2_impl(px, rows, cols, 0, row_max, col_max, mn, mx, sum);
    else
        stats_v2_impl(px, rows, cols, 1, row_max, col_max, mn, mx, sum);
}

/* ---- SSE2 helpers ----------------------------------------------------------------------- */

static inline int16_t hmax_epi16(__m128i m)
{
    m = _mm_max_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm_max_epi16(m, _mm_srli_epi32(m, 16));
    return (int16_t)_mm_cvtsi128_si32(m);
}

static inline int16_t hmin_epi16(__m128i m)
{
    m = _mm_min_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_min_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm_min_epi16(m, _mm_srli_epi32(m, 16));
    return (int16_t)_mm_cvtsi128_si32(m);
}

/* Sum of the 4 int32 lanes; callers keep |lane| <= 2^28 so it fits. */
static inline int32_t hsum_epi32(__m128i s)
{
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* Scalar tail of one row from column c0, in the int16 domain. */
static inline void tail_row(const uint16_t *row, uint32_t c0, uint32_t cols, uint16_t bias, int16_t *cm,
                            int16_t *rmin, int16_t *rmax, int64_t *sum)
{
    int32_t s = 0;
    for (uint32_t c = c0; c < cols; c++) {
        int16_t x = (int16_t)(uint16_t)(row[c] ^ bias);
        s += x;
        *rmin = x < *rmin ? x : *rmin;
        *rmax = x > *rmax ? x : *rmax;
        cm[c] = x > cm[c] ? x : cm[c];
    }
    *sum += s;
}

/* One row, 8 words per op. Lane bound of the int32 sums: cols/8 pmaddwd results of
 * |.| <= 65536 per lane, <= 2^26 at 8192 columns. */
static inline __attribute__((always_inline)) void sse2_row(const uint16_t *row, uint32_t cols, int biased,
                                                           int16_t *cm, int16_t *rmax_out, __m128i *vmin,
                                                           int64_t *sum)
{
    const __m128i bias = _mm_set1_epi16(biased ? (short)0x8000 : 0), ones = _mm_set1_epi16(1);
    __m128i rmax = _mm_set1_epi16(INT16_MIN), vs = _mm_setzero_si128(), mn = *vmin;
    uint32_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m128i x = _mm_loadu_si128((const __m128i *)(row + c));
        if (biased) x = _mm_xor_si128(x, bias);
        rmax = _mm_max_epi16(rmax, x);
        mn = _mm_min_epi16(mn, x);
        __m128i *pc = (__m128i *)(cm + c);
        _mm_store_si128(pc, _mm_max_epi16(_mm_load_si128(pc), x));
        vs = _mm_add_epi32(vs, _mm_madd_epi16(x, ones));
    }
    int16_t rmx = hmax_epi16(rmax), rmn = INT16_MAX;
    *sum += hsum_epi32(vs);
    tail_row(row, c, cols, biased ? 0x8000u : 0u, cm, &rmn, &rmx, sum);
    *vmin = _mm_min_epi16(mn, _mm_set1_epi16(rmn));
    *rmax_out = rmx;
}

/* ---- v3: SSE2, one row at a time ------------------------------------------------------- */

static inline __attribute__((always_inline)) void stats_v3_impl(const uint16_t *px, uint32_t rows, uint32_t cols,
                                                                int biased, int32_t *row_max, int32_t *col_max,
                                                                int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    _Alignas(64) int16_t cm[MAX_DIM + 8];
    __m128i vmin = _mm_set1_epi16(INT16_MAX);
    int16_t mx = INT16_MIN;
    int64_t sum = 0;
    for (uint32_t c = 0; c < cols; c++) cm[c] = INT16_MIN;
    for (uint32_t r = 0; r < rows; r++) {
        int16_t rmx;
        sse2_row(px + (size_t)r * cols, cols, biased, cm, &rmx, &vmin, &sum);
        row_max[r] = rmx;
        mx = rmx > mx ? rmx : mx;
    }
    finish(rows, cols, biased, cm, hmin_epi16(vmin), mx, sum, row_max, col_max, min_out, max_out, sum_out);
}

static void stats_v3(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                     int32_t *col_max, int32_t *mn, int32_t *mx, int64_t *sum)
{
    if (is_signed)
        stats_v3_impl(px, rows, cols, 0, row_max, col_max, mn, mx, sum);
    else
        stats_v3_impl(px, rows, cols, 1, row_max, col_max, mn, mx, sum);
}

/* ---- v4/v5: SSE2, two rows at a time (one load/store of the column maxima per two rows)
 * v5 also unrolls to 16 columns per iteration with two sets of accumulators. Lane bound
 * of the int32 sums: 2 (v4) or 2 (v5, per accumulator) pmaddwd per 8 columns, so
 * <= 2 * 8192/8 * 65536 = 2^27 per lane per row pair. */

static inline __attribute__((always_inline)) void stats_pairs_impl(const uint16_t *px, uint32_t rows,
                                                                   uint32_t cols, int biased, int unroll16,
                                                                   int32_t *row_max, int32_t *col_max,
                                                                   int32_t *min_out, int32_t *max_out,
                                                                   int64_t *sum_out)
{
    _Alignas(64) int16_t cm[MAX_DIM + 16];
    const __m128i bias = _mm_set1_epi16(biased ? (short)0x8000 : 0), ones = _mm_set1_epi16(1);
    const uint16_t sbias = biased ? 0x8000u : 0u;
    __m128i vmin = _mm_set1_epi16(INT16_MAX);
    int16_t mx = INT16_MIN;
    int64_t sum = 0;
    uint32_t r = 0;
    for (uint32_t c = 0; c < cols; c++) cm[c] = INT16_MIN;
    for (; r + 2 <= rows; r += 2) {
        const uint16_t *r0 = px + (size_t)r * cols, *r1 = r0 + cols;
        __m128i m0 = _mm_set1_epi16(INT16_MIN), m1 = m0, vs = _mm_setzero_si128();
        uint32_t c = 0;
        if (unroll16) {
            __m128i m0b = m0, m1b = m1, vsb = vs, vminb = vmin;
            for (; c + 16 <= cols; c += 16) {
                __m128i a = _mm_loadu_si128((const __m128i *)(r0 + c));
                __m128i b = _mm_loadu_si128((const __m128i *)(r1 + c));
                __m128i a2 = _mm_loadu_si128((const __m128i *)(r0 + c + 8));
                __m128i b2 = _mm_loadu_si128((const __m128i *)(r1 + c + 8));
                if (biased) {
                    a = _mm_xor_si128(a, bias);
                    b = _mm_xor_si128(b, bias);
                    a2 = _mm_xor_si128(a2, bias);
                    b2 = _mm_xor_si128(b2, bias);
                }
                __m128i hi = _mm_max_epi16(a, b), lo = _mm_min_epi16(a, b);
                __m128i hi2 = _mm_max_epi16(a2, b2), lo2 = _mm_min_epi16(a2, b2);
                m0 = _mm_max_epi16(m0, a);
                m1 = _mm_max_epi16(m1, b);
                m0b = _mm_max_epi16(m0b, a2);
                m1b = _mm_max_epi16(m1b, b2);
                vmin = _mm_min_epi16(vmin, lo);
                vminb = _mm_min_epi16(vminb, lo2);
                __m128i *pc = (__m128i *)(cm + c);
                _mm_store_si128(pc, _mm_max_epi16(_mm_load_si128(pc), hi));
                _mm_store_si128(pc + 1, _mm_max_epi16(_mm_load_si128(pc + 1), hi2));
                vs = _mm_add_epi32(vs, _mm_add_epi32(_mm_madd_epi16(a, ones), _mm_madd_epi16(b, ones)));
                vsb = _mm_add_epi32(vsb, _mm_add_epi32(_mm_madd_epi16(a2, ones), _mm_madd_epi16(b2, ones)));
            }
            m0 = _mm_max_epi16(m0, m0b);
            m1 = _mm_max_epi16(m1, m1b);
            vs = _mm_add_epi32(vs, vsb);
            vmin = _mm_min_epi16(vmin, vminb);
        }
        for (; c + 8 <= cols; c += 8) {
            __m128i a = _mm_loadu_si128((const __m128i *)(r0 + c));
            __m128i b = _mm_loadu_si128((const __m128i *)(r1 + c));
            if (biased) {
                a = _mm_xor_si128(a, bias);
                b = _mm_xor_si128(b, bias);
            }
            m0 = _mm_max_epi16(m0, a);
            m1 = _mm_max_epi16(m1, b);
            vmin = _mm_min_epi16(vmin, _mm_min_epi16(a, b));
            __m128i *pc = (__m128i *)(cm + c);
            _mm_store_si128(pc, _mm_max_epi16(_mm_load_si128(pc), _mm_max_epi16(a, b)));
            vs = _mm_add_epi32(vs, _mm_add_epi32(_mm_madd_epi16(a, ones), _mm_madd_epi16(b, ones)));
        }
        int16_t x0 = hmax_epi16(m0), x1 = hmax_epi16(m1), n0 = INT16_MAX, n1 = INT16_MAX;
        sum += hsum_epi32(vs);
        tail_row(r0, c, cols, sbias, cm, &n0, &x0, &sum);
        tail_row(r1, c, cols, sbias, cm, &n1, &x1, &sum);
        vmin = _mm_min_epi16(vmin, _mm_set1_epi16(n0 < n1 ? n0 : n1));
        row_max[r] = x0;
        row_max[r + 1] = x1;
        x0 = x1 > x0 ? x1 : x0;
        mx = x0 > mx ? x0 : mx;
    }
    if (r < rows) { /* odd row count: the last row alone */
        int16_t rmx;
        sse2_row(px + (size_t)r * cols, cols, biased, cm, &rmx, &vmin, &sum);
        row_max[r] = rmx;
        mx = rmx > mx ? rmx : mx;
    }
    finish(rows, cols, biased, cm, hmin_epi16(vmin), mx, sum, row_max, col_max, min_out, max_out, sum_out);
}

static void stats_v4(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                     int32_t *col_max, int32_t *mn, int32_t *mx, int64_t *sum)
{
    if (is_signed)
        stats_pairs_impl(px, rows, cols, 0, 0, row_max, col_max, mn, mx, sum);
    else
        stats_pairs_impl(px, rows, cols, 1, 0, row_max, col_max, mn, mx, sum);
}

static void stats_v5(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                     int32_t *col_max, int32_t *mn, int32_t *mx, int64_t *sum)
{
    if (is_signed)
        stats_pairs_impl(px, rows, cols, 0, 1, row_max, col_max, mn, mx, sum);
    else
        stats_pairs_impl(px, rows, cols, 1, 1, row_max, col_max, mn, mx, sum);
}

/* ---- v6: v4 with AVX2 (16 words per op), for runtime dispatch only ------------------------
 * Compiled for AVX2 by the target attribute whatever -march says; called only when
 * __builtin_cpu_supports("avx2"). A plan for the mainline (which carries v5): keep v5 as the default and pick v6
 * once at start-up (a function pointer in the CPU backend), so the baseline build still
 * runs on any x86-64. */
#if defined(__GNUC__) && defined(__x86_64__)
#define HAVE_V6 1
__attribute__((target("avx2"))) static inline int16_t hmax256(__m256i m)
{
    __m128i h = _mm_max_epi16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    h = _mm_max_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_max_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    h = _mm_max_epi16(h, _mm_srli_epi32(h, 16));
    return (int16_t)_mm_cvtsi128_si32(h);
}

__attribute__((target("avx2"))) static inline int16_t hmin256(__m256i m)
{
    __m128i h = _mm_min_epi16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    h = _mm_min_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_min_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    h = _mm_min_epi16(h, _mm_srli_epi32(h, 16));
    return (int16_t)_mm_cvtsi128_si32(h);
}

__attribute__((target("avx2"))) static inline int32_t hsum256(__m256i s)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(h);
}

/* One row alone (the odd last row), AVX2. */
__attribute__((target("avx2"))) static inline void avx2_row(const uint16_t *row, uint32_t cols, int biased,
                                                            int16_t *cm, int16_t *rmax_out, int16_t *rmin_out,
                                                            int64_t *sum)
{
    const __m256i bias = _mm256_set1_epi16(biased ? (short)0x8000 : 0), ones = _mm256_set1_epi16(1);
    __m256i m = _mm256_set1_epi16(INT16_MIN), n = _mm256_set1_epi16(INT16_MAX), vs = _mm256_setzero_si256();
    uint32_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + c)), bias);
        m = _mm256_max_epi16(m, x);
        n = _mm256_min_epi16(n, x);
        __m256i *pc = (__m256i *)(cm + c);
        _mm256_storeu_si256(pc, _mm256_max_epi16(_mm256_loadu_si256(pc), x));
        vs = _mm256_add_epi32(vs, _mm256_madd_epi16(x, ones));
    }
    int16_t rmx = hmax256(m), rmn = hmin256(n);
    *sum += hsum256(vs);
    tail_row(row, c, cols, biased ? 0x8000u : 0u, cm, &rmn, &rmx, sum);
    *rmax_out = rmx;
    *rmin_out = rmn;
}

__attribute__((target("avx2"))) static void stats_v6_impl(const uint16_t *px, uint32_t rows, uint32_t cols,
                                                          int biased, int32_t *row_max, int32_t *col_max,
                                                          int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    _Alignas(64) int16_t cm[MAX_DIM + 16];
    const __m256i bias = _mm256_set1_epi16(biased ? (short)0x8000 : 0), ones = _mm256_set1_epi16(1);
    const uint16_t sbias = biased ? 0x8000u : 0u;
    __m256i vmin = _mm256_set1_epi16(INT16_MAX);
    int16_t mx = INT16_MIN, smin = INT16_MAX;
    int64_t sum = 0;
    uint32_t r = 0;
    for (uint32_t c = 0; c < cols; c++) cm[c] = INT16_MIN;
    for (; r + 2 <= rows; r += 2) {
        const uint16_t *r0 = px + (size_t)r * cols, *r1 = r0 + cols;
        __m256i m0 = _mm256_set1_epi16(INT16_MIN), m1 = m0, vs = _mm256_setzero_si256();
        uint32_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            __m256i a = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(r0 + c)), bias);
            __m256i b = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(r1 + c)), bias);
            m0 = _mm256_max_epi16(m0, a);
            m1 = _mm256_max_epi16(m1, b);
            vmin = _mm256_min_epi16(vmin, _mm256_min_epi16(a, b));
            __m256i *pc = (__m256i *)(cm + c);
            _mm256_storeu_si256(pc, _mm256_max_epi16(_mm256_loadu_si256(pc), _mm256_max_epi16(a, b)));
            vs = _mm256_add_epi32(vs, _mm256_add_epi32(_mm256_madd_epi16(a, ones), _mm256_madd_epi16(b, ones)));
        }
        int16_t x0 = hmax256(m0), x1 = hmax256(m1);
        sum += hsum256(vs);
        tail_row(r0, c, cols, sbias, cm, &smin, &x0, &sum);
        tail_row(r1, c, cols, sbias, cm, &smin, &x1, &sum);
        row_max[r] = x0;
        row_max[r + 1] = x1;
        x0 = x1 > x0 ? x1 : x0;
        mx = x0 > mx ? x0 : mx;
    }
    if (r < rows) {
        int16_t rmx, rmn;
        avx2_row(px + (size_t)r * cols, cols, biased, cm, &rmx, &rmn, &sum);
        row_max[r] = rmx;
        mx = rmx > mx ? rmx : mx;
        smin = rmn < smin ? rmn : smin;
    }
    int16_t vm = hmin256(vmin);
    finish(rows, cols, biased, cm, vm < smin ? vm : smin, mx, sum, row_max, col_max, min_out, max_out, sum_out);
}

static void stats_v6(const uint16_t *px, uint32_t rows, uint32_t cols, int is_signed, int32_t *row_max,
                     int32_t *col_max, int32_t *mn, int32_t *mx, int64_t *sum)
{
    stats_v6_impl(px, rows, cols, !is_signed, row_max, col_max, mn, mx, sum);
}
#else
#define HAVE_V6 0
#endif

/* ---- the lab ------------------------------------------------------------------------------ */

typedef struct variant {
    const char *name, *what;
    stats_fn fn;
    int available;
    int verified;
    double hot_s, stream_s; /* medians, seconds per pass over the mix */
} variant_t;

typedef struct result {
    int32_t row_max[MAX_DIM], col_max[MAX_DIM];
    int32_t mn, mx;
    int64_t sum;
} result_t;

static result_t ref_res, var_res;

/* Runs v1 and fn on one slice; returns 1 when every output is identical. */
static int check_one(const variant_t *v, const lab_slice_t *s, const char *label)
{
    memset(&ref_res, 0x5a, sizeof ref_res);
    memset(&var_res, 0xa5, sizeof var_res);
    stats_v1(s->px, s->rows, s->cols, s->is_signed, ref_res.row_max, ref_res.col_max, &ref_res.mn, &ref_res.mx,
             &ref_res.sum);
    v->fn(s->px, s->rows, s->cols, s->is_signed, var_res.row_max, var_res.col_max, &var_res.mn, &var_res.mx,
          &var_res.sum);
    const char *bad = NULL;
    if (ref_res.mn != var_res.mn) bad = "min";
    else if (ref_res.mx != var_res.mx) bad = "max";
    else if (ref_res.sum != var_res.sum) bad = "sum";
    else if (memcmp(ref_res.row_max, var_res.row_max, s->rows * sizeof(int32_t))) bad = "row_max";
    else if (memcmp(ref_res.col_max, var_res.col_max, s->cols * sizeof(int32_t))) bad = "col_max";
    if (bad) {
        fprintf(stderr, "%s: %s differs on %s (%ux%u %s): v1 min %d max %d sum %lld, got min %d max %d sum %lld\n",
                v->name, bad, label, s->rows, s->cols, s->is_signed ? "signed" : "unsigned", ref_res.mn, ref_res.mx,
                (long long)ref_res.sum, var_res.mn, var_res.mx, (long long)var_res.sum);
        return 0;
    }
    return 1;
}

static void fill_const(lab_slice_t *s, uint32_t rows, uint32_t cols, int is_signed, uint16_t word)
{
    s->rows = rows;
    s->cols = cols;
    s->is_signed = is_signed;
    s->px = malloc((size_t)rows * cols * 2);
    for (size_t i = 0; i < (size_t)rows * cols; i++) s->px[i] = word;
}

/* The test set: random full-range unsigned and signed, MR-like, odd sizes, constants at
 * the extremes (the sums' lane bounds), and real slices when given. */
static int build_tests(lab_slice_t *t, char (*label)[64], int cap)
{
    lab_rng_t rng = {12345};
    int n = 0;
    static const uint32_t sizes[][2] = {{512, 512}, {1, 1},   {7, 13},   {257, 511}, {8192, 1}, {1, 8192},
                                        {2, 9},     {3, 8},   {5, 16},   {9, 17},    {16, 15},  {33, 31},
                                        {256, 192}, {192, 256}, {511, 257}, {2, 8191}, {64, 8192}, {1, 7}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int f = 0; f < 4 && n < cap; f++) {
            lab_slice_fill(&t[n], sizes[i][0], sizes[i][1], (lab_fill_t)f, &rng);
            snprintf(label[n++], 64, "fill %d", f);
        }
    }
    static const uint16_t words[] = {0x0000, 0xFFFF, 0x8000, 0x7FFF, 0x0001};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        for (int sg = 0; sg < 2 && n + 2 <= cap; sg++) {
            fill_const(&t[n], 64, 8192, sg, words[w]);
            snprintf(label[n++], 64, "constant 0x%04x", words[w]);
            fill_const(&t[n], 33, 8191, sg, words[w]);
            snprintf(label[n++], 64, "constant 0x%04x", words[w]);
        }
    }
    /* extremes in single places: one max / one min pixel at every position class */
    for (int sg = 0; sg < 2 && n + 2 <= cap; sg++) {
        lab_slice_fill(&t[n], 37, 45, sg ? LAB_FILL_MR_SIGNED : LAB_FILL_MR, &rng);
        t[n].px[36 * 45 + 44] = sg ? 0x7FFF : 0xFFFF;
        snprintf(label[n++], 64, "max in the last pixel");
        lab_slice_fill(&t[n], 37, 45, sg ? LAB_FILL_MR_SIGNED : LAB_FILL_MR, &rng);
        t[n].px[36 * 45 + 41] = sg ? 0x8000 : 0;
        t[n].px[0] = sg ? 0x7FFF : 0xFFFF;
        snprintf(label[n++], 64, "min in the tail, max first");
    }
    return n;
}

static double time_hot(stats_fn fn, const lab_slice_t *mix, int n, result_t *res)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        const lab_slice_t *s = &mix[i];
        volatile uint64_t sink = lab_touch(s->px, (size_t)s->rows * s->cols * 2);
        (void)sink;
        double t0 = lab_now();
        fn(s->px, s->rows, s->cols, s->is_signed, res->row_max, res->col_max, &res->mn, &res->mx, &res->sum);
        total += lab_now() - t0;
    }
    return total;
}

static double time_stream(stats_fn fn, const lab_slice_t *mix, int n, result_t *res)
{
    double t0 = lab_now();
    for (int i = 0; i < n; i++) {
        const lab_slice_t *s = &mix[i];
        fn(s->px, s->rows, s->cols, s->is_signed, res->row_max, res->col_max, &res->mn, &res->mx, &res->sum);
    }
    return lab_now() - t0;
}

int main(int argc, char **argv)
{
    int reps = 21, quick = 0, mix_n = 200;
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
    if (quick) reps = 5, mix_n = 40;

    variant_t v[] = {
        {"stats_v1", "reference: DEFINE_SLICE_STATS (int32 lanes)", stats_v1, 1, 0, 0, 0},
        {"stats_v2", "plain C, int16 domain (xor 0x8000), auto-vectorised", stats_v2, 1, 0, 0, 0},
        {"stats_v3", "SSE2 int16, 8/op, one row", stats_v3, 1, 0, 0, 0},
        {"stats_v4", "SSE2 int16, 8/op, two rows", stats_v4, 1, 0, 0, 0},
        {"stats_v5", "SSE2 int16, two rows, 16 columns/iter", stats_v5, 1, 0, 0, 0},
#if HAVE_V6
        {"stats_v6", "AVX2 int16, 16/op, two rows (runtime dispatch)", stats_v6, 0, 0, 0, 0},
#endif
    };
    const int nv = (int)(sizeof v / sizeof v[0]);
#if HAVE_V6
    __builtin_cpu_init();
    v[nv - 1].available = __builtin_cpu_supports("avx2");
#endif

    /* 1. verify */
    enum { CAP = 128 };
    static lab_slice_t tests[CAP + 256];
    static char labels[CAP + 256][64];
    int nt = build_tests(tests, labels, CAP), nt_real = 0;
    lab_slice_t *realv = NULL;
    int nreal = real ? lab_load_real(real, &realv) : 0;
    for (int i = 0; i < nreal && nt_real < 256; i += 4) { /* every 4th real slice joins the tests */
        tests[nt] = realv[i];
        snprintf(labels[nt++], 64, "real slice %d", i);
        nt_real++;
    }
    int failed = 0;
    for (int k = 0; k < nv; k++) {
        if (!v[k].available) continue;
        v[k].verified = 1;
        for (int i = 0; i < nt && v[k].verified; i++) v[k].verified = check_one(&v[k], &tests[i], labels[i]);
        failed |= !v[k].verified;
    }
    printf("stats lab: %d test slices (%d real), all compared with stats_v1 on min, max, sum, row_max, col_max\n",
           nt, nt_real);

    /* 2. the mix: real slices when given, else 200 MR-like 512x512 (a third signed) */
    lab_slice_t *mix;
    int nm;
    uint64_t px = 0;
    if (nreal) {
        mix = realv;
        nm = nreal;
    } else {
        lab_rng_t rng = {777};
        mix = calloc((size_t)mix_n, sizeof *mix);
        nm = mix_n;
        for (int i = 0; i < nm; i++) lab_slice_fill(&mix[i], 512, 512, i % 3 == 2 ? LAB_FILL_MR_SIGNED : LAB_FILL_MR, &rng);
    }
    for (int i = 0; i < nm; i++) px += (uint64_t)mix[i].rows * mix[i].cols;
    printf("timing mix: %d %s slices, %.1f Mpx (%.0f MB); median of %d passes; single thread\n", nm,
           nreal ? "real (bench/data)" : "synthetic MR-like 512x512", px / 1e6, px * 2 / 1e6, reps);
    printf("  hot    = each slice read once (as the decode leaves it in cache), then timed alone\n");
    printf("  stream = all slices back to back (the mix does not fit in L2: from L3/memory)\n\n");

    /* Round-robin: every pass times each version once, so a burst of load from elsewhere on
     * the machine lands on all of them alike; the medians are over the passes. */
    static result_t res;
    enum { MAXV = 8 };
    double *ts[MAXV], *th[MAXV];
    for (int k = 0; k < nv; k++) {
        ts[k] = malloc((size_t)reps * sizeof(double));
        th[k] = malloc((size_t)reps * sizeof(double));
        if (v[k].available && v[k].verified) time_hot(v[k].fn, mix, nm, &res); /* warm-up */
    }
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < nv; k++) {
            if (!v[k].available || !v[k].verified) continue;
            th[k][r] = time_hot(v[k].fn, mix, nm, &res);
            ts[k][r] = time_stream(v[k].fn, mix, nm, &res);
        }
    }
    for (int k = 0; k < nv; k++) {
        if (!v[k].available || !v[k].verified) continue;
        v[k].hot_s = lab_median(th[k], reps);
        v[k].stream_s = lab_median(ts[k], reps);
    }

    printf("%-9s %-8s %10s %8s %8s %8s %10s %8s %8s  %s\n", "variant", "verified", "hot ms", "ns/px", "GB/s",
           "speedup", "stream ms", "GB/s", "speedup", "what");
    for (int k = 0; k < nv; k++) {
        if (!v[k].available) {
            printf("%-9s %-8s %10s %8s %8s %8s %10s %8s %8s  %s (CPU lacks it)\n", v[k].name, "n/a", "-", "-", "-",
                   "-", "-", "-", "-", v[k].what);
            continue;
        }
        if (!v[k].verified) {
            printf("%-9s %-8s %10s %8s %8s %8s %10s %8s %8s  %s\n", v[k].name, "NO", "-", "-", "-", "-", "-", "-", "-",
                   v[k].what);
            continue;
        }
        printf("%-9s %-8s %10.3f %8.4f %8.2f %7.2fx %10.3f %8.2f %7.2fx  %s\n", v[k].name, "yes", v[k].hot_s * 1e3,
               v[k].hot_s * 1e9 / (double)px, (double)px * 2 / v[k].hot_s / 1e9, v[0].hot_s / v[k].hot_s,
               v[k].stream_s * 1e3, (double)px * 2 / v[k].stream_s / 1e9, v[0].stream_s / v[k].stream_s, v[k].what);
    }
    if (failed) {
        fprintf(stderr, "stats lab: some variant differs from stats_v1 (see above)\n");
        return 1;
    }
    return 0;
}
