/* cuda_unavailable.c - include/mriprep/cuda_backend.h for builds without CUDA (no nvcc
 * at build time, or NO_CUDA=1): every entry point says why there is no device, so
 * `--device auto` falls back to the CPU and `--device cuda` fails clearly. Linked
 * instead of kernels/cuda_backend.cu, never together with it.
 */
#include "mriprep/cuda_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MRIPREP_NVCC_SEEN
#define MRIPREP_NVCC_SEEN "nvcc not probed"
#endif

#define NOT_BUILT "this build has no CUDA backend (" MRIPREP_NVCC_SEEN ")"

int cuda_backend_built(void) { return 0; }

const char *cuda_build_description(void) { return NOT_BUILT; }

mp_status cuda_query_devices(cuda_device_info_t *devices, int cap, int probe, int *count, int *driver_version,
                             int *runtime_version, char *why, size_t why_cap)
{
    (void)devices;
    (void)cap;
    (void)probe;
    *count = 0;
    *driver_version = *runtime_version = 0;
    if (why && why_cap) snprintf(why, why_cap, "%s", NOT_BUILT);
    return MP_OK;
}

mp_status cuda_check_device(int index, uint64_t min_free, cuda_device_info_t *info, mp_error *err)
{
    (void)min_free;
    memset(info, 0, sizeof *info);
    return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: %s", index, NOT_BUILT);
}

mp_status cuda_backend_create(int index, const pipeline_options_t *opt, cuda_backend_t **out, mp_error *err)
{
    (void)opt;
    *out = NULL;
    return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: %s", index, NOT_BUILT);
}

void cuda_backend_destroy(cuda_backend_t *cb) { (void)cb; }

void *cuda_host_alloc(cuda_backend_t *cb, size_t bytes)
{
    (void)cb;
    return malloc(bytes);
}

void cuda_host_free(cuda_backend_t *cb, void *p)
{
    (void)cb;
    free(p);
}

mp_status cuda_wait(cuda_backend_t *cb, int which, mp_error *err)
{
    (void)cb;
    (void)which;
    (void)err;
    return MP_OK;
}

mp_status cuda_upload(cuda_backend_t *cb, int batch, const series_batch_t *b, mp_error *err)
{
    (void)cb, (void)batch, (void)b;
    return mp_fail(err, MP_ERR_INTERNAL, "%s", NOT_BUILT);
}

mp_status cuda_slice_stats(cuda_backend_t *cb, int batch, series_batch_t *b, stage_times_t *seconds, mp_error *err)
{
    (void)cb, (void)batch, (void)b, (void)seconds;
    return mp_fail(err, MP_ERR_INTERNAL, "%s", NOT_BUILT);
}

mp_status cuda_build_volume(cuda_backend_t *cb, int batch, const series_batch_t *b, const uint32_t *selected,
                            uint32_t depth, const volume_request_t *req, void *host_out, double *mean, double *std,
                            stage_times_t *seconds,
                            mp_error *err)
{
    (void)cb, (void)batch, (void)b, (void)selected, (void)depth, (void)req, (void)host_out, (void)mean, (void)std, (void)seconds;
    return mp_fail(err, MP_ERR_INTERNAL, "%s", NOT_BUILT);
}
