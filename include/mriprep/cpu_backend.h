/* pipeline_backends.h - private: what src/pipeline.c asks of the CPU backend
 * (src/pipeline_cpu.c). The CUDA backend's side is include/mriprep/cuda_backend.h.
 */
#ifndef MRIPREP_PIPELINE_BACKENDS_H
#define MRIPREP_PIPELINE_BACKENDS_H

#include "mriprep/batch.h"
#include "mriprep/pipeline.h"

typedef struct cpu_backend cpu_backend_t;

/* Buffers for volumes shaped by `opt`: resized [K][H][W] float32 and per-slice moments. */
mp_status cpu_backend_create(const pipeline_options_t *opt, int threads, cpu_backend_t **out, mp_error *err);
void cpu_backend_destroy(cpu_backend_t *cpu);

/* Steps 3-5 for one decoded slot, right after its decode while the pixels are in cache:
 * one pass for min, max, sum and the row and column maxima, then slice_decide().
 * `scratch` holds 2 * DICOM_MAX_DIM int32. */
void cpu_slice_stats(const pipeline_options_t *opt, slice_slot_t *s, int32_t *scratch);

/* Steps 4 and 7-9 for the `depth` selected slots: crop, resize, moments, z-score into
 * `out` as `req` says (where each voxel goes, intensity, norm) in the options' dtype. */
mp_status cpu_build_volume(cpu_backend_t *cpu, const series_batch_t *b, const uint32_t *selected, uint32_t depth,
                           const volume_request_t *req, void *out, double *mean, double *std, stage_times_t *seconds,
                           mp_error *err);

#endif /* MRIPREP_PIPELINE_BACKENDS_H */
