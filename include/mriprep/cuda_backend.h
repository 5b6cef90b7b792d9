/* cuda_backend.h - the device stages on an NVIDIA GPU (kernels/cuda_backend.cu).
 *
 * Per series, after the host has decoded its slices into pinned slot buffers:
 *   upload      raw 16-bit slices H2D (async, on the batch's stream, while the host
 *               decodes the next series)
 *   stats       per-row min/max/sum and per-column max (CUB block reductions), then
 *               slice_decide() per slice on the device; fates D2H
 *   volume      crop + min-max -> INTER_AREA resize (one thread per output pixel, tap
 *               tables from the host) -> fixed-point moments (exact integer sums) ->
 *               z-score + dtype + layout; the volume D2H into a pinned host buffer
 * Only the raw integers cross PCIe inbound; the per-element math is the CPU backend's
 * (the kernels/ headers), built with -fmad=false, so volumes are byte-identical to the CPU's.
 *
 * When the build has no CUDA (no nvcc, or NO_CUDA=1), src/compute/cuda_unavailable.c provides
 * these functions: cuda_backend_built() is 0 and the others report why.
 * Every CUDA error message names the failing call, file and line.
 */
#ifndef MRIPREP_CUDA_BACKEND_H
#define MRIPREP_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/batch.h"
#include "mriprep/error.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CUDA_MAX_DEVICES 16

typedef struct cuda_device_info {
    int index;
    char name[256];
    uint64_t total_bytes, free_bytes; /* device memory */
    int major, minor;                 /* compute capability */
    int multiprocessors;
    int probed;                       /* free_bytes and supported were measured on the device */
    int supported;                    /* this build has a kernel image it can run (probed), or
                                         its capability is at least the oldest built arch */
} cuda_device_info_t;

#define CUDA_PROBE_ALL (-1)

/* 1 when this build has the CUDA backend. */
int cuda_backend_built(void);

/* "runtime 13.0, archs sm_75" (built) or why not ("nvcc not found at build time"). */
const char *cuda_build_description(void);

/* The devices the driver reports. Device `probe` (or every device, CUDA_PROBE_ALL) is
 * probed for free memory and whether this build can run on it, which creates its CUDA
 * context: probe only the device you will use. Returns MP_OK with *count 0 and `why`
 * set ("no CUDA device", "no NVIDIA driver (…)") when there are none; versions are 0
 * when unknown (e.g. 13000 = 13.0). Never fails for lack of a GPU. */
mp_status cuda_query_devices(cuda_device_info_t *devices, int cap, int probe, int *count, int *driver_version,
                             int *runtime_version, char *why, size_t why_cap);

/* Checks that device `index` exists, has code in this build and at least `min_free`
 * bytes free. MP_ERR_USAGE with the reason otherwise. */
mp_status cuda_check_device(int index, uint64_t min_free, cuda_device_info_t *info, mp_error *err);

typedef struct cuda_backend cuda_backend_t;

/* Device buffers and 2 streams on device `index` for volumes shaped by `opt`; buffers
 * grow to the largest series seen and are then reused. */
mp_status cuda_backend_create(int index, const pipeline_options_t *opt, cuda_backend_t **out, mp_error *err);
void cuda_backend_destroy(cuda_backend_t *cb);

/* Pinned host memory (for slot buffers and output volumes) on the backend's device; NULL
 * when out of memory. Safe from any thread. */
void *cuda_host_alloc(cuda_backend_t *cb, size_t bytes);
void cuda_host_free(cuda_backend_t *cb, void *p);

/* Waits until the device has finished with batch `which`'s buffers (-1: both batches):
 * before the host reuses a batch's slot buffers, and before freeing them. MP_OK (also
 * for cb NULL), or MP_ERR_INTERNAL naming the CUDA error (err may be NULL): the buffers
 * must then not be reused. The compute calls (cuda_slice_stats, cuda_build_volume) are
 * made by one thread at a time; they wait for their stream before returning an error. */
mp_status cuda_wait(cuda_backend_t *cb, int which, mp_error *err);

/* Starts copying the decoded slices of `batch` (index 0 or 1: its stream and device
 * buffers) to the device. Slots that failed to decode, or whose pixels are not held
 * (pixels_held 0: let go over the pixel budget, see batch.h), are skipped. */
mp_status cuda_upload(cuda_backend_t *cb, int batch, const series_batch_t *b, mp_error *err);

/* Steps 3-5 on the device for an uploaded batch; fills min, max, sum, fate, box and mean
 * of every decoded slot and sets b->has_stats. Adds the upload's device time to
 * seconds->upload and the wall time of the stats to seconds->stats. */
mp_status cuda_slice_stats(cuda_backend_t *cb, int batch, series_batch_t *b, stage_times_t *seconds, mp_error *err);

/* Steps 4 and 7-9 for the `depth` selected slots (selected[d] = slot index) of an
 * uploaded batch with stats: the volume `req` describes (layout, reorientation, padding,
 * intensity and norm; dtype from the options) into `host_out` (pinned, from
 * cuda_host_alloc), and its z-score moments. */
mp_status cuda_build_volume(cuda_backend_t *cb, int batch, const series_batch_t *b, const uint32_t *selected,
                            uint32_t depth, const volume_request_t *req, void *host_out, double *mean, double *std,
                            stage_times_t *seconds,
                            mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_CUDA_BACKEND_H */
