/* batch.h - one series decoded on the host: what the decode stage hands to a backend.
 *
 * The pipeline (src/pipeline.c) fills a batch from the files of one series; the CPU
 * backend (src/pipeline_cpu.c) or the CUDA backend (kernels/cuda_backend.cu) takes it
 * from there. Slot buffers are kept from series to series (pinned memory when the CUDA
 * backend uploads from them), so steady-state decoding allocates nothing.
 */
#ifndef MRIPREP_BATCH_H
#define MRIPREP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "mriprep/geometry.h"
#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One file of the series. */
typedef struct slice_slot {
    uint16_t *pixels;   /* [rows][cols] stored values (read as int16 when is_signed) */
    size_t capacity;    /* values `pixels` can hold */
    uint32_t rows, cols;
    int is_signed;
    /* Steps 3-5, filled by the CPU during decode or by the device afterwards: */
    int32_t min, max;
    int64_t sum;        /* exact sum of the stored values */
    slice_fate_t fate;
    slice_box_t box;    /* kept or dark slices: the crop box */
    double mean;        /* mean of the cropped v */
    slice_geometry_t geometry;          /* where the slice lies (from its header) */
    double rescale_slope, rescale_intercept; /* from its header (1 and 0 when absent) */
    mp_error error;     /* code != MP_OK: this file could not be decoded */
    uint64_t file_bytes;
    double t_decode, t_stats; /* seconds */
} slice_slot_t;

typedef struct series_batch {
    slice_slot_t *slots; /* [n] in slice order */
    size_t n, cap;
    int has_stats;       /* min..mean are filled */
    slice_order_used_t order; /* how the slots were put in order (--order position permutes them) */
} series_batch_t;

/* What the compute stage asks a backend to build from the selected slices, decided once
 * in src/pipeline.c for both backends. */
typedef struct volume_request {
    volume_map_t map;      /* where each resized voxel goes: layout, --reorient, --depth pad */
    int raw;               /* --intensity raw: v = stored value (rescaled when `rescale`) */
    int rescale;           /* --rescale: v = slope * x + intercept (the slot's own) */
    int nonzero;           /* --norm nonzero: moments over v != 0; v == 0 stays 0 */
    int32_t scale_exp;     /* moments of v * 2^-scale_exp (0 for min-max values, see
                              zscore_moments_scaled in kernels/zscore_math.h) */
} volume_request_t;

/* The request of the notebook's pipeline: min-max, every voxel, layout only. */
static inline int volume_request_is_plain(const volume_request_t *r)
{
    return !r->raw && !r->nonzero && r->scale_exp == 0;
}

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_BATCH_H */
