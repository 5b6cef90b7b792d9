/* cpu_backend.h - the compute stage on the CPU (src/compute/cpu_backend.c and
 * slice_stats.c): the twin of the CUDA backend (include/mriprep/cuda_backend.h), with
 * matching steps and the same bytes out, since both run the per-element math of the
 * kernels/ headers.
 *
 *   CPU                        CUDA                       steps (docs/pipeline.md)
 *   cpu_slice_stats            cuda_slice_stats           3-5, per slice
 *   cpu_build_volume           cuda_build_volume          4, 7-9, the selected slices
 *
 * The CPU's slice statistics run inside the decode stage, on each file as soon as it is
 * decoded (its pixels are in cache then); the CUDA backend's run in the compute stage,
 * after the upload. Everything between the two steps (select_slices, volume_plan) is
 * decided once for both (include/mriprep/batch.h).
 */
#ifndef MRIPREP_CPU_BACKEND_H
#define MRIPREP_CPU_BACKEND_H

#include "mriprep/batch.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpu_backend cpu_backend_t;

/* ---- which instruction set the CPU engines run (src/compute/slice_stats.c) -----------
 * The slice statistics (cpu_slice_stats) and the crop + resize + moments engine
 * (resize_crop_measure, resize_moments_add) come in up to three builds of the same
 * arithmetic, giving the same bytes: portable C, SSE2 (every x86-64), and AVX2, compiled
 * by function attribute and chosen at run time where the CPU has it. The choice is made
 * once, at the first call: the best available, lowered by the environment variable
 * MRIPREP_SIMD=none|sse2|avx2 (a value not understood is ignored; a higher one than the
 * CPU has gives what it has). Builds with SIMD=0 (MRIPREP_NO_SIMD) or for other CPUs have
 * the portable loops only. */
typedef enum cpu_simd {
    CPU_SIMD_NONE = 0, /* the portable loops */
    CPU_SIMD_SSE2 = 1,
    CPU_SIMD_AVX2 = 2,
} cpu_simd_t;

/* The best engine this build carries and this CPU runs. */
cpu_simd_t cpu_simd_best(void);
/* The engine in use (resolved at the first call; any thread may call it). */
cpu_simd_t cpu_simd_engine(void);
/* Makes the engines run min(want, cpu_simd_best()) from now on and returns it: for tests
 * and benchmarks that compare the engines in one process. Each slice runs on the engine in
 * use when its call starts, and every engine gives the same bytes, so a change while other
 * threads run engines is harmless. */
cpu_simd_t cpu_simd_force(cpu_simd_t want);
/* "none", "sse2", "avx2" (case-insensitive) into *out; returns 0 for anything else. */
int cpu_simd_parse(const char *text, cpu_simd_t *out);
/* "none", "sse2" or "avx2". */
const char *cpu_simd_name(cpu_simd_t engine);

/* The mapped store's gather (src/compute/tile_gather.c), a transpose:
 *   tile[j * tile_stride + k] = src[j + k * k_step]     for j < rows, k < n
 * (k_step may be negative: the source axis read reversed). Same floats on every engine. */
void tile_gather(const float *src, ptrdiff_t k_step, size_t n, size_t rows, float *tile, size_t tile_stride);

/* Buffers for volumes shaped by `opt`: resized [K][H][W] float32 and per-slice moments. */
mp_status cpu_backend_create(const pipeline_options_t *opt, int threads, cpu_backend_t **out, mp_error *err);
void cpu_backend_destroy(cpu_backend_t *cpu);

/* Steps 3-5 for one decoded slot: one pass for min, max, sum and the row and column
 * maxima, then slice_decide(). `scratch` holds 2 * DICOM_MAX_DIM int32. */
void cpu_slice_stats(const pipeline_options_t *opt, slice_slot_t *s, int32_t *scratch);

/* Steps 4 and 7-9 for the `depth` selected slots: crop, resize, moments, z-score into
 * `out` as `req` says (where each voxel goes, intensity, norm) in the options' dtype.
 * `zeros` says which elements of `out` are zero already: on entry, the zero slices of
 * the volume `out` holds, of any shape (volume_map_padding of its map; all fields 0: none
 * known, as for a new buffer), which this volume's zero slices are not filled again
 * where they overlap; on success, this volume's. A caller that reuses buffers keeps one
 * per buffer (the pipeline does). */
mp_status cpu_build_volume(cpu_backend_t *cpu, const series_batch_t *b, const uint32_t *selected, uint32_t depth,
                           const volume_request_t *req, void *out, volume_padding_t *zeros, double *mean, double *std,
                           stage_times_t *seconds, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_CPU_BACKEND_H */
