/* slice_stats.c - steps 3-5 of docs/pipeline.md on the CPU: the one-pass slice
 * statistics engine and the blank/dark decision, run by the decode stage on each file
 * right after it is decoded, while its pixels are in cache (cpu_slice_stats,
 * include/mriprep/cpu_backend.h; its CUDA twin is cuda_slice_stats).
 */
#include "mriprep/cpu_backend.h"

#include <stdint.h>

/* SSE2 is part of every x86-64 build; MRIPREP_NO_SIMD builds the portable loops there too
 * (make SIMD=0, which make test runs). */
#if defined(__SSE2__) && !defined(MRIPREP_NO_SIMD)
#define STATS_SSE2 1
#include <emmintrin.h>
#else
#define STATS_SSE2 0
#endif

#include "kernels/slice_math.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"

/* One pass over a slice: min, max, exact sum, and the maximum of each row and column.
 * px is [rows][cols] 16-bit words, 1 <= rows, cols <= DICOM_MAX_DIM (the decoder's cap);
 * row_max [rows], col_max [cols].
 *
 * The pass runs in the int16 domain, 8 words per 128-bit op instead of 4 int32: SSE2 has
 * signed 16-bit min/max (pminsw/pmaxsw) but no unsigned ones, so an unsigned word u is
 * taken as (int16)(u ^ 0x8000) == u - 32768, which keeps the order; signed words are in
 * the domain already. stats_finish maps the results back: min, max and the maxima get the
 * top bit flipped back, the sum gets 32768 * rows * cols. Integer arithmetic only, so the
 * results are exactly those of the plain int32 loop whatever the path (tests/
 * test_cpu_engines.cpp compares them with one). The column maxima stay int16 until then,
 * in a stack array of DICOM_MAX_DIM words (16 KiB). */
#if defined(__GNUC__)
#define STATS_INLINE static inline __attribute__((always_inline)) /* `biased` becomes a constant */
#else
#define STATS_INLINE static inline
#endif

static inline int32_t stats_unbias(int16_t x, int biased)
{
    return biased ? (int32_t)(uint16_t)((uint16_t)x ^ 0x8000u) : (int32_t)x;
}

/* From the int16 domain to the outputs; row_max holds int16-domain values on entry. */
static void stats_finish(uint32_t rows, uint32_t cols, int biased, const int16_t *col_max16, int16_t mn, int16_t mx,
                         int64_t sum, int32_t *row_max, int32_t *col_max, int32_t *min_out, int32_t *max_out,
                         int64_t *sum_out)
{
    for (uint32_t c = 0; c < cols; c++) col_max[c] = stats_unbias(col_max16[c], biased);
    if (biased)
        for (uint32_t r = 0; r < rows; r++) row_max[r] = stats_unbias((int16_t)row_max[r], 1);
    *min_out = stats_unbias(mn, biased);
    *max_out = stats_unbias(mx, biased);
    *sum_out = sum + (biased ? (int64_t)32768 * rows * cols : 0);
}

/* Columns c0..cols-1 of one row, scalar, in the int16 domain. |row sum| <= 32768 * 8192
 * = 2^28: int32. */
STATS_INLINE void stats_row_tail(const uint16_t *row, uint32_t c0, uint32_t cols, int biased, int16_t *col_max16,
                                 int16_t *rmin, int16_t *rmax, int64_t *sum)
{
    const uint16_t bias = biased ? 0x8000u : 0u;
    int16_t lo = *rmin, hi = *rmax;
    int32_t rsum = 0;
    for (uint32_t c = c0; c < cols; c++) {
        int16_t x = (int16_t)(uint16_t)(row[c] ^ bias);
        rsum += x;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        col_max16[c] = x > col_max16[c] ? x : col_max16[c];
    }
    *rmin = lo;
    *rmax = hi;
    *sum += rsum;
}

#if STATS_SSE2
/* SSE2: two rows per pass over the column maxima (one load and store of them per two
 * rows), 16 columns per iteration with two sets of accumulators, then 8, then a scalar
 * tail; an odd last row alone. Lane bound of the int32 sums (pmaddwd by 1 adds word
 * pairs: |.| <= 65536): per row pair each lane takes at most 2 * 8192/16 + 2 of them,
 * < 2^27, and the 8 lanes of the two sets add to < 2^30: int32. */
static inline int16_t stats_hmax_epi16(__m128i m)
{
    m = _mm_max_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm_max_epi16(m, _mm_srli_epi32(m, 16));
    return (int16_t)_mm_cvtsi128_si32(m);
}

static inline int16_t stats_hmin_epi16(__m128i m)
{
    m = _mm_min_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_min_epi16(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    m = _mm_min_epi16(m, _mm_srli_epi32(m, 16));
    return (int16_t)_mm_cvtsi128_si32(m);
}

static inline int32_t stats_hsum_epi32(__m128i s)
{
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* One row alone (the last of an odd count). col_max16 is 16-byte aligned. */
STATS_INLINE void stats_one_row(const uint16_t *row, uint32_t cols, int biased, int16_t *col_max16,
                                int16_t *rmax_out, __m128i *vmin, int64_t *sum)
{
    const __m128i bias = _mm_set1_epi16(biased ? INT16_MIN : 0), ones = _mm_set1_epi16(1);
    __m128i rmax = _mm_set1_epi16(INT16_MIN), vs = _mm_setzero_si128(), mn = *vmin;
    uint32_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(row + c)), bias);
        rmax = _mm_max_epi16(rmax, x);
        mn = _mm_min_epi16(mn, x);
        __m128i *pc = (__m128i *)(col_max16 + c);
        _mm_store_si128(pc, _mm_max_epi16(_mm_load_si128(pc), x));
        vs = _mm_add_epi32(vs, _mm_madd_epi16(x, ones));
    }
    int16_t rmx = stats_hmax_epi16(rmax), rmn = INT16_MAX;
    *sum += stats_hsum_epi32(vs);
    stats_row_tail(row, c, cols, biased, col_max16, &rmn, &rmx, sum);
    *vmin = _mm_min_epi16(mn, _mm_set1_epi16(rmn));
    *rmax_out = rmx;
}

STATS_INLINE void slice_stats_v5(const uint16_t *px, uint32_t rows, uint32_t cols, int biased, int32_t *row_max,
                                 int32_t *col_max, int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    _Alignas(16) int16_t col_max16[DICOM_MAX_DIM];
    const __m128i bias = _mm_set1_epi16(biased ? INT16_MIN : 0), ones = _mm_set1_epi16(1);
    __m128i vmin = _mm_set1_epi16(INT16_MAX);
    int16_t mx = INT16_MIN;
    int64_t sum = 0;
    uint32_t r = 0;
    for (uint32_t c = 0; c < cols; c++) col_max16[c] = INT16_MIN;
    for (; r + 2 <= rows; r += 2) {
        const uint16_t *r0 = px + (size_t)r * cols, *r1 = r0 + cols;
        __m128i m0 = _mm_set1_epi16(INT16_MIN), m1 = m0, vs = _mm_setzero_si128();
        __m128i m0b = m0, m1b = m1, vsb = vs, vminb = vmin;
        uint32_t c = 0;
        for (; c + 16 <= cols; c += 16) {
            __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r0 + c)), bias);
            __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r1 + c)), bias);
            __m128i a2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r0 + c + 8)), bias);
            __m128i b2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r1 + c + 8)), bias);
            m0 = _mm_max_epi16(m0, a);
            m1 = _mm_max_epi16(m1, b);
            m0b = _mm_max_epi16(m0b, a2);
            m1b = _mm_max_epi16(m1b, b2);
            vmin = _mm_min_epi16(vmin, _mm_min_epi16(a, b));
            vminb = _mm_min_epi16(vminb, _mm_min_epi16(a2, b2));
            __m128i *pc = (__m128i *)(col_max16 + c);
            _mm_store_si128(pc, _mm_max_epi16(_mm_load_si128(pc), _mm_max_epi16(a, b)));
            _mm_store_si128(pc + 1, _mm_max_epi16(_mm_load_si128(pc + 1), _mm_max_epi16(a2, b2)));
            vs = _mm_add_epi32(vs, _mm_add_epi32(_mm_madd_epi16(a, ones), _mm_madd_epi16(b, ones)));
            vsb = _mm_add_epi32(vsb, _mm_add_epi32(_mm_madd_epi16(a2, ones), _mm_madd_epi16(b2, ones)));
        }
        m0 = _mm_max_epi16(m0, m0b);
        m1 = _mm_max_epi16(m1, m1b);
        vs = _mm_add_epi32(vs, vsb);
        vmin = _mm_min_epi16(vmin, vminb);
        for (; c + 8 <= cols; c += 8) {
            __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r0 + c)), bias);
            __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r1 + c)), bias);
            m0 = _mm_max_epi16(m0, a);
            m1 = _mm_max_epi16(m1, b);
            vmin = _mm_min_epi16(vmin, _mm_min_epi16(a, b));
            __m128i *pc = (__m128i *)(col_max16 + c);
            _mm_store_si128(pc, _mm_max_epi16(_mm_load_si128(pc), _mm_max_epi16(a, b)));
            vs = _mm_add_epi32(vs, _mm_add_epi32(_mm_madd_epi16(a, ones), _mm_madd_epi16(b, ones)));
        }
        int16_t x0 = stats_hmax_epi16(m0), x1 = stats_hmax_epi16(m1), n0 = INT16_MAX, n1 = INT16_MAX;
        sum += stats_hsum_epi32(vs);
        stats_row_tail(r0, c, cols, biased, col_max16, &n0, &x0, &sum);
        stats_row_tail(r1, c, cols, biased, col_max16, &n1, &x1, &sum);
        vmin = _mm_min_epi16(vmin, _mm_set1_epi16(n0 < n1 ? n0 : n1));
        row_max[r] = x0;
        row_max[r + 1] = x1;
        x0 = x1 > x0 ? x1 : x0;
        mx = x0 > mx ? x0 : mx;
    }
    if (r < rows) {
        int16_t rmx;
        stats_one_row(px + (size_t)r * cols, cols, biased, col_max16, &rmx, &vmin, &sum);
        row_max[r] = rmx;
        mx = rmx > mx ? rmx : mx;
    }
    stats_finish(rows, cols, biased, col_max16, stats_hmin_epi16(vmin), mx, sum, row_max, col_max, min_out, max_out,
                 sum_out);
}
#else
/* Portable: the same int16-domain loop in plain C, for the compiler to vectorise. */
STATS_INLINE void slice_stats_v2(const uint16_t *px, uint32_t rows, uint32_t cols, int biased, int32_t *row_max,
                                 int32_t *col_max, int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    _Alignas(16) int16_t col_max16[DICOM_MAX_DIM];
    int16_t mn = INT16_MAX, mx = INT16_MIN;
    int64_t sum = 0;
    for (uint32_t c = 0; c < cols; c++) col_max16[c] = INT16_MIN;
    for (uint32_t r = 0; r < rows; r++) {
        int16_t rmin = INT16_MAX, rmax = INT16_MIN;
        stats_row_tail(px + (size_t)r * cols, 0, cols, biased, col_max16, &rmin, &rmax, &sum);
        row_max[r] = rmax;
        mn = rmin < mn ? rmin : mn;
        mx = rmax > mx ? rmax : mx;
    }
    stats_finish(rows, cols, biased, col_max16, mn, mx, sum, row_max, col_max, min_out, max_out, sum_out);
}
#endif

/* The lab's numbers (bench/lab/stats.c): the SSE2 engine is stats_v5 (two rows per pass,
 * 16 columns per iteration, two accumulator sets), the portable one stats_v2 (the same
 * int16-domain loop in plain C); both give stats_v1's (the plain int32 loop's) results. */
#if STATS_SSE2
#define SLICE_STATS_ENGINE slice_stats_v5
#else
#define SLICE_STATS_ENGINE slice_stats_v2
#endif

/* Two copies, so the unsigned one has its xor and the signed one none. */
static void slice_stats_u16(const uint16_t *px, uint32_t rows, uint32_t cols, int32_t *row_max, int32_t *col_max,
                            int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    SLICE_STATS_ENGINE(px, rows, cols, 1, row_max, col_max, min_out, max_out, sum_out);
}

static void slice_stats_s16(const uint16_t *px, uint32_t rows, uint32_t cols, int32_t *row_max, int32_t *col_max,
                            int32_t *min_out, int32_t *max_out, int64_t *sum_out)
{
    SLICE_STATS_ENGINE(px, rows, cols, 0, row_max, col_max, min_out, max_out, sum_out);
}

void cpu_slice_stats(const pipeline_options_t *opt, slice_slot_t *s, int32_t *scratch)
{
    int32_t *row_max = scratch, *col_max = scratch + DICOM_MAX_DIM;
    double t0 = mp_wall_seconds();
    if (s->is_signed)
        slice_stats_s16(s->buffer.pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    else
        slice_stats_u16(s->buffer.pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    s->fate = slice_decide(s->min, s->max, s->sum, (int32_t)s->rows, (int32_t)s->cols, row_max, col_max, opt->margin,
                           opt->dark, &s->box, &s->mean);
    s->t_stats = mp_wall_seconds() - t0;
}

