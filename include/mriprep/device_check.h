/* device_check.h - the device self-check: before a run or a C API context first computes
 * on a CUDA device, a battery of small synthetic series goes through that device and
 * through the CPU backend, and every result is compared byte for byte.
 *
 * The CUDA backend is built to give the CPU's bytes (the same kernels/ math, no fused
 * multiply-add), but it is compiled far more often than it runs on a GPU: a wrong launch
 * bound, a race or a buffer reused too early would give a user wrong volumes silently.
 * The battery takes every path of the compute stage (src/compute/device_check.c lists the
 * cases): 1x1, 7x5, 255x257 and 512x512 inputs; a crop box one pixel wide; blank and dark
 * slices; signed and unsigned; 1 and 130 slices; INTER_AREA shrinking by integer and
 * fractional factors and enlarging; float16 and float32; hwd and dhw; position order,
 * reorientation with padding, the volume crop, raw intensity with rescale, nonzero norm,
 * centring on the largest slice. The decode stage is the host's for both backends, and
 * the rot90 copies are made on the host from the volume, so neither is compared.
 *
 * Per case, in this order, the first difference is reported, naming the case, its shape,
 * the stage and the first differing byte: "slice stats" (each slot's min, max, sum, fate,
 * crop box and mean), "selection" (outcome, kept, blank, dark, depth), "volume moments"
 * (mean and std, bit for bit), "volume" (shape and bytes); a CUDA error is stage "cuda".
 */
#ifndef MRIPREP_DEVICE_CHECK_H
#define MRIPREP_DEVICE_CHECK_H

#include <stddef.h>

#include "mriprep/error.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct device_check_report {
    int ran;         /* 0: not run (a CPU run, or MRIPREP_DEVICE_CHECK=off) */
    int passed;      /* 1: every case gave the CPU backend's bytes */
    int cases;       /* cases compared (up to the first failure) */
    double seconds;  /* wall time of the whole battery, pipelines' creation included */
    char device[32]; /* what was checked: "cuda:0" (or "cpu" when the harness checks itself) */
    char failure[MP_ERROR_MSG_MAX]; /* "" or "case 'crop one pixel wide' (64x48 -> 8x8, 3
                                       slices, float32 hwd): volume: byte 37 of 768 is 0x3d
                                       on cuda:0, 0x3c on the CPU" */
} device_check_report_t;

/* A fault injected into the device's results before they are compared (the harness's own
 * test: it must catch it). Called once per case with the case's index, the device's
 * result and a copy of its volume (NULL, 0 when the case gave none) that the comparison
 * reads instead of the original. */
typedef void (*device_check_fault_fn)(void *ctx, int case_index, series_result_t *result, unsigned char *volume,
                                      size_t volume_bytes);

/* The number of cases and the name of case i ("7x5 enlarged to 16x12", ...). */
int device_check_case_count(void);
const char *device_check_case_name(int i);

/* Runs the battery on `device` (DEVICE_CUDA with cuda_index, or DEVICE_CPU: the CPU
 * against itself, the harness's test) against the CPU backend, with `fault` (may be
 * NULL) applied to the device's results. Fills rep; a difference or a CUDA error is a
 * failed check (rep->passed 0), not an error. Returns MP_ERR_NOMEM only when the CPU side
 * cannot run. */
mp_status device_check_run(pipeline_device_t device, int cuda_index, device_check_fault_fn fault, void *ctx,
                           device_check_report_t *rep, mp_error *err);

/* The check of CUDA device `cuda_index` for this process: run the first time it is asked
 * for (thread-safe), then the same report. With MRIPREP_DEVICE_CHECK=off in the
 * environment it is not run (rep->ran 0, passed 1). */
const device_check_report_t *device_check_cuda(int cuda_index);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_DEVICE_CHECK_H */
