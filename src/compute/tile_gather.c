/* tile_gather.c - the gather of the CPU backend's mapped store (cpu_backend.c,
 * write_volume_mapped): output rows whose values lie along a strided source axis,
 * brought together as the rows of a tile, which is then z-scored row by row.
 *
 *   tile[j * tile_stride + k] = src[j + k * k_step]     j < rows, k < n
 *
 * A transpose: the source's n lines (one per k, `rows` contiguous floats each, k_step
 * elements apart: a row W or a plane H*W of the resized volume; negative when the output
 * runs the axis reversed) become the tile's `rows` rows. Engines, chosen at run time as
 * the other CPU engines are (cpu_simd_engine): 8 x 8 blocks transposed in AVX2 registers,
 * 4 x 4 blocks in SSE2, plain loops elsewhere and for the edges. They only move floats,
 * so they give the same bytes.
 *
 * Why: the store gathered element by element (a scalar load and store per value, 16
 * rows at a time); on the bench data that made write_volume_mapped 0.23 CPU-seconds of
 * a --preset volumetric --format npy run, 3x what the default layout's store costs for
 * the same number of values.
 */
#include <stddef.h>
#include <stdint.h>

#include "mriprep/cpu_backend.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(MRIPREP_NO_SIMD)
#include <immintrin.h>
#define GATHER_X86 1
#else
#define GATHER_X86 0
#endif

/* The edges (and every element without SIMD): tile rows [j0, rows) for k in [k0, k1). */
static void gather_plain(const float *src, ptrdiff_t k_step, size_t k0, size_t k1, size_t j0, size_t rows,
                         float *tile, size_t tile_stride)
{
    for (size_t k = k0; k < k1; k++) {
        const float *line = src + (ptrdiff_t)k * k_step;
        for (size_t j = j0; j < rows; j++) tile[j * tile_stride + k] = line[j];
    }
}

#if GATHER_X86
/* 4 x 4 blocks: four source lines of four floats each become four tile rows. */
static void gather_sse2(const float *src, ptrdiff_t k_step, size_t n, size_t rows, float *tile, size_t tile_stride)
{
    const size_t n4 = n & ~(size_t)3, rows4 = rows & ~(size_t)3;
    for (size_t k = 0; k < n4; k += 4) {
        const float *l0 = src + (ptrdiff_t)k * k_step, *l1 = l0 + k_step, *l2 = l1 + k_step, *l3 = l2 + k_step;
        for (size_t j = 0; j < rows4; j += 4) {
            __m128 r0 = _mm_loadu_ps(l0 + j), r1 = _mm_loadu_ps(l1 + j), r2 = _mm_loadu_ps(l2 + j),
                   r3 = _mm_loadu_ps(l3 + j);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float *t = tile + j * tile_stride + k;
            _mm_storeu_ps(t, r0);
            _mm_storeu_ps(t + tile_stride, r1);
            _mm_storeu_ps(t + 2 * tile_stride, r2);
            _mm_storeu_ps(t + 3 * tile_stride, r3);
        }
    }
    gather_plain(src, k_step, 0, n4, rows4, rows, tile, tile_stride);
    gather_plain(src, k_step, n4, n, 0, rows, tile, tile_stride);
}

/* 8 x 8 blocks: eight source lines of eight floats each become eight tile rows (the
 * usual unpack, shuffle, permute transpose: 24 shuffles for 64 values). */
__attribute__((target("avx2"))) static void gather_avx2(const float *src, ptrdiff_t k_step, size_t n, size_t rows,
                                                         float *tile, size_t tile_stride)
{
    const size_t n8 = n & ~(size_t)7, rows8 = rows & ~(size_t)7;
    for (size_t k = 0; k < n8; k += 8) {
        const float *l = src + (ptrdiff_t)k * k_step;
        for (size_t j = 0; j < rows8; j += 8) {
            const __m256 r0 = _mm256_loadu_ps(l + j), r1 = _mm256_loadu_ps(l + k_step + j),
                         r2 = _mm256_loadu_ps(l + 2 * k_step + j), r3 = _mm256_loadu_ps(l + 3 * k_step + j),
                         r4 = _mm256_loadu_ps(l + 4 * k_step + j), r5 = _mm256_loadu_ps(l + 5 * k_step + j),
                         r6 = _mm256_loadu_ps(l + 6 * k_step + j), r7 = _mm256_loadu_ps(l + 7 * k_step + j);
            /* pairs of lines interleaved: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5] */
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                         t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                         t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                         t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            /* four lines' element c side by side: u0 = r0..r3[0] | r0..r3[4] */
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                         u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                         u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                         u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
                         u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
                         u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
                         u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
                         u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
            float *t = tile + j * tile_stride + k;
            _mm256_storeu_ps(t, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(t + tile_stride, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(t + 2 * tile_stride, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(t + 3 * tile_stride, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(t + 4 * tile_stride, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(t + 5 * tile_stride, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(t + 6 * tile_stride, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(t + 7 * tile_stride, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
    }
    gather_plain(src, k_step, 0, n8, rows8, rows, tile, tile_stride);
    gather_plain(src, k_step, n8, n, 0, rows, tile, tile_stride);
}
#endif

void tile_gather(const float *src, ptrdiff_t k_step, size_t n, size_t rows, float *tile, size_t tile_stride)
{
#if GATHER_X86
    switch (cpu_simd_engine()) {
    case CPU_SIMD_AVX2: gather_avx2(src, k_step, n, rows, tile, tile_stride); return;
    case CPU_SIMD_SSE2: gather_sse2(src, k_step, n, rows, tile, tile_stride); return;
    default: break;
    }
#endif
    gather_plain(src, k_step, 0, n, 0, rows, tile, tile_stride);
}
