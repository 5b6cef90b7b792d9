/* slice_stats.c - steps 3-5 of docs/pipeline.md on the CPU: the one-pass slice
 * statistics engine and the blank/dark decision, run by the decode stage on each file
 * right after it is decoded, while its pixels are in cache (cpu_slice_stats,
 * include/mriprep/cpu_backend.h; its CUDA twin is cuda_slice_stats). Also the runtime
 * choice of instruction set for the CPU engines (cpu_simd_*, here and in resize_engine.c).
 *
 * Engines, by the kernel lab's numbers (bench/lab/stats.c), all giving stats_v1's results:
 *   AVX2      slice_stats_v6  16 words per op, two rows per pass; compiled with
 *                             __attribute__((target("avx2"))) and run only where
 *                             __builtin_cpu_supports("avx2") (the build stays x86-64 baseline)
 *   SSE2      slice_stats_v5  8 words per op, two rows per pass, two accumulator sets
 *   portable  slice_stats_v2  the same int16-domain loop in plain C
 * The environment variable MRIPREP_SIMD=none|sse2|avx2 lowers the choice (never raises it
 * past what the CPU has), so one binary can compare its engines; a SIMD=0 build
 * (MRIPREP_NO_SIMD) and non-x86 builds carry only the portable loops.
 */
#include "mriprep/cpu_backend.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

/* SSE2 is part of every x86-64 build; MRIPREP_NO_SIMD builds the portable loops there too
 * (make SIMD=0, which make test runs). */
#if defined(__SSE2__) && !defined(MRIPREP_NO_SIMD)
#define STATS_SSE2 1
#include <emmintrin.h>
#else
#define STATS_SSE2 0
#endif

/* AVX2 by function attribute, chosen at run time: needs GCC or clang (target attributes,
 * __builtin_cpu_supports) on x86. No -mavx2 for the file, so everything else in it, and
 * the program, still runs on any x86-64. */
#if STATS_SSE2 && (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define STATS_AVX2 1
#include <immintrin.h>
#define AVX2_FN __attribute__((target("avx2")))
#else
#define STATS_AVX2 0
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
#endif /* STATS_SSE2 */

/* Portable: the same int16-domain loop in plain C, for the compiler to vectorise (in
 * every build: MRIPREP_SIMD=none picks it at run time). */
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

#if STATS_AVX2
/* AVX2 (the lab's stats_v6): stats_v5's two-rows-per-pass loop with 16 words per op and one
 * accumulator set; the tails of a row pair share one scalar minimum. Lane bound of the
 * int32 sums (vpmaddwd by 1 adds word pairs: |.| <= 65536): per row pair each of the 8
 * lanes takes 2 * 8192/16 of them, <= 2^26, and the 8 lanes add to <= 2^29: int32. Every
 * function here is compiled for AVX2 by its attribute (no FMA: "avx2" does not enable
 * it, and integer math has none). */
AVX2_FN static inline int16_t stats_hmax_epi16_avx2(__m256i m)
{
    __m128i h = _mm_max_epi16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    h = _mm_max_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_max_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    h = _mm_max_epi16(h, _mm_srli_epi32(h, 16));
    return (int16_t)_mm_cvtsi128_si32(h);
}

AVX2_FN static inline int16_t stats_hmin_epi16_avx2(__m256i m)
{
    __m128i h = _mm_min_epi16(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    h = _mm_min_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_min_epi16(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    h = _mm_min_epi16(h, _mm_srli_epi32(h, 16));
    return (int16_t)_mm_cvtsi128_si32(h);
}

AVX2_FN static inline int32_t stats_hsum_epi32_avx2(__m256i s)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(h);
}

/* One row alone (the last of an odd count). */
AVX2_FN STATS_INLINE void stats_one_row_avx2(const uint16_t *row, uint32_t cols, int biased, int16_t *col_max16,
                                             int16_t *rmax_out, int16_t *rmin_out, int64_t *sum)
{
    const __m256i bias = _mm256_set1_epi16(biased ? INT16_MIN : 0), ones = _mm256_set1_epi16(1);
    __m256i m = _mm256_set1_epi16(INT16_MIN), n = _mm256_set1_epi16(INT16_MAX), vs = _mm256_setzero_si256();
    uint32_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + c)), bias);
        m = _mm256_max_epi16(m, x);
        n = _mm256_min_epi16(n, x);
        __m256i *pc = (__m256i *)(col_max16 + c);
        _mm256_store_si256(pc, _mm256_max_epi16(_mm256_load_si256(pc), x));
        vs = _mm256_add_epi32(vs, _mm256_madd_epi16(x, ones));
    }
    int16_t rmx = stats_hmax_epi16_avx2(m), rmn = stats_hmin_epi16_avx2(n);
    *sum += stats_hsum_epi32_avx2(vs);
    stats_row_tail(row, c, cols, biased, col_max16, &rmn, &rmx, sum);
    *rmax_out = rmx;
    *rmin_out = rmn;
}

AVX2_FN STATS_INLINE void slice_stats_v6(const uint16_t *px, uint32_t rows, uint32_t cols, int biased,
                                         int32_t *row_max, int32_t *col_max, int32_t *min_out, int32_t *max_out,
                                         int64_t *sum_out)
{
    _Alignas(32) int16_t col_max16[DICOM_MAX_DIM];
    const __m256i bias = _mm256_set1_epi16(biased ? INT16_MIN : 0), ones = _mm256_set1_epi16(1);
    __m256i vmin = _mm256_set1_epi16(INT16_MAX);
    int16_t mx = INT16_MIN, tail_min = INT16_MAX;
    int64_t sum = 0;
    uint32_t r = 0;
    for (uint32_t c = 0; c < cols; c++) col_max16[c] = INT16_MIN;
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
            __m256i *pc = (__m256i *)(col_max16 + c);
            _mm256_store_si256(pc, _mm256_max_epi16(_mm256_load_si256(pc), _mm256_max_epi16(a, b)));
            vs = _mm256_add_epi32(vs, _mm256_add_epi32(_mm256_madd_epi16(a, ones), _mm256_madd_epi16(b, ones)));
        }
        int16_t x0 = stats_hmax_epi16_avx2(m0), x1 = stats_hmax_epi16_avx2(m1);
        sum += stats_hsum_epi32_avx2(vs);
        stats_row_tail(r0, c, cols, biased, col_max16, &tail_min, &x0, &sum);
        stats_row_tail(r1, c, cols, biased, col_max16, &tail_min, &x1, &sum);
        row_max[r] = x0;
        row_max[r + 1] = x1;
        x0 = x1 > x0 ? x1 : x0;
        mx = x0 > mx ? x0 : mx;
    }
    if (r < rows) {
        int16_t rmx, rmn;
        stats_one_row_avx2(px + (size_t)r * cols, cols, biased, col_max16, &rmx, &rmn, &sum);
        row_max[r] = rmx;
        mx = rmx > mx ? rmx : mx;
        tail_min = rmn < tail_min ? rmn : tail_min;
    }
    const int16_t vm = stats_hmin_epi16_avx2(vmin);
    stats_finish(rows, cols, biased, col_max16, vm < tail_min ? vm : tail_min, mx, sum, row_max, col_max, min_out,
                 max_out, sum_out);
}
#endif /* STATS_AVX2 */

/* ---- runtime dispatch ----------------------------------------------------------------
 * The engine in use is resolved once, at the first call from any thread: the best the
 * build and CPU have, lowered by MRIPREP_SIMD. An atomic int holds it (-1: not resolved
 * yet); threads that race on the first call all compute the same value and the first
 * store wins (compare-exchange, so a cpu_simd_force is never undone by a late resolver). */
static atomic_int simd_in_use = -1;

cpu_simd_t cpu_simd_best(void)
{
#if STATS_AVX2
    __builtin_cpu_init(); /* idempotent; needed only before constructors run, harmless after */
    if (__builtin_cpu_supports("avx2"))
        return CPU_SIMD_AVX2;
#endif
    return STATS_SSE2 ? CPU_SIMD_SSE2 : CPU_SIMD_NONE;
}

/* The engines' names, indexed by cpu_simd_t (MRIPREP_SIMD's words). */
static const char *const simd_names[] = {"none", "sse2", "avx2"};

int cpu_simd_parse(const char *text, cpu_simd_t *out)
{
    if (!text)
        return 0;
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(text, simd_names[i])) {
            *out = (cpu_simd_t)i;
            return 1;
        }
    return 0;
}

static cpu_simd_t simd_lower(cpu_simd_t want, cpu_simd_t best)
{
    return want < best ? want : best;
}

cpu_simd_t cpu_simd_engine(void)
{
    int e = atomic_load_explicit(&simd_in_use, memory_order_relaxed);
    if (e < 0) {
        cpu_simd_t want = CPU_SIMD_AVX2;
        (void)cpu_simd_parse(getenv("MRIPREP_SIMD"), &want); /* not understood: the best */
        int unresolved = -1;
        const int resolved = (int)simd_lower(want, cpu_simd_best());
        atomic_compare_exchange_strong_explicit(&simd_in_use, &unresolved, resolved, memory_order_relaxed,
                                                memory_order_relaxed);
        e = atomic_load_explicit(&simd_in_use, memory_order_relaxed);
    }
    return (cpu_simd_t)e;
}

cpu_simd_t cpu_simd_force(cpu_simd_t want)
{
    const cpu_simd_t e = simd_lower(want, cpu_simd_best());
    atomic_store_explicit(&simd_in_use, (int)e, memory_order_relaxed);
    return e;
}

const char *cpu_simd_name(cpu_simd_t engine)
{
    return engine == CPU_SIMD_AVX2 || engine == CPU_SIMD_SSE2 ? simd_names[engine] : simd_names[CPU_SIMD_NONE];
}

/* Two copies of each engine, so the unsigned one has its xor and the signed one none:
 * slice_stats_<engine>_u16 and _s16. */
#define DEFINE_SLICE_STATS_PAIR(ENGINE, ATTR)                                                                         \
    ATTR static void ENGINE##_u16(const uint16_t *px, uint32_t rows, uint32_t cols, int32_t *row_max,                 \
                                  int32_t *col_max, int32_t *min_out, int32_t *max_out, int64_t *sum_out)             \
    {                                                                                                                 \
        ENGINE(px, rows, cols, 1, row_max, col_max, min_out, max_out, sum_out);                                       \
    }                                                                                                                 \
    ATTR static void ENGINE##_s16(const uint16_t *px, uint32_t rows, uint32_t cols, int32_t *row_max,                 \
                                  int32_t *col_max, int32_t *min_out, int32_t *max_out, int64_t *sum_out)             \
    {                                                                                                                 \
        ENGINE(px, rows, cols, 0, row_max, col_max, min_out, max_out, sum_out);                                       \
    }

#define NO_ATTRIBUTE
DEFINE_SLICE_STATS_PAIR(slice_stats_v2, NO_ATTRIBUTE)
#if STATS_SSE2
DEFINE_SLICE_STATS_PAIR(slice_stats_v5, NO_ATTRIBUTE)
#endif
#if STATS_AVX2
DEFINE_SLICE_STATS_PAIR(slice_stats_v6, AVX2_FN)
#endif

typedef void (*slice_stats_fn)(const uint16_t *px, uint32_t rows, uint32_t cols, int32_t *row_max, int32_t *col_max,
                               int32_t *min_out, int32_t *max_out, int64_t *sum_out);

void cpu_slice_stats(const pipeline_options_t *opt, slice_slot_t *s, int32_t *scratch)
{
    int32_t *row_max = scratch, *col_max = scratch + DICOM_MAX_DIM;
    double t0 = mp_wall_seconds();
    slice_stats_fn fn = s->is_signed ? slice_stats_v2_s16 : slice_stats_v2_u16;
    switch (cpu_simd_engine()) {
#if STATS_AVX2
    case CPU_SIMD_AVX2: fn = s->is_signed ? slice_stats_v6_s16 : slice_stats_v6_u16; break;
#endif
#if STATS_SSE2
    case CPU_SIMD_SSE2: fn = s->is_signed ? slice_stats_v5_s16 : slice_stats_v5_u16; break;
#endif
    default: break;
    }
    fn(s->buffer.pixels, s->rows, s->cols, row_max, col_max, &s->min, &s->max, &s->sum);
    s->fate = slice_decide(s->min, s->max, s->sum, (int32_t)s->rows, (int32_t)s->cols, row_max, col_max, opt->margin,
                           opt->dark, &s->box, &s->mean);
    s->t_stats = mp_wall_seconds() - t0;
}
