/* batch.h - one series decoded on the host: what the decode stage hands to a backend,
 * and the plan of its volume.
 *
 * The pipeline (src/compute/pipeline.c) fills a batch from the files of one series; the
 * slice statistics come from the CPU during decode (cpu_slice_stats, while the pixels are
 * in cache) or from the device afterwards (cuda_slice_stats); then select_slices and
 * volume_plan (src/compute/volume_plan.c) decide, once for both backends, what the CPU
 * backend (cpu_build_volume) or the CUDA backend (cuda_build_volume) builds. Slot buffers
 * are kept from series to series (pinned memory when the CUDA backend uploads from them),
 * so steady-state decoding allocates nothing.
 *
 * Memory is bounded by the pixel budget (pipeline.h, MRIPREP_PIXEL_BUDGET_MB), not by the
 * series' length: once a batch's slot buffers pass it, each further slot keeps only its
 * statistics and a digest of its pixels (pixels_held 0). The selection needs no more; the
 * selected slots that were let go are decoded again before the volume is built, and must
 * give the same pixels (the digest) or the series fails naming the file.
 */
#ifndef MRIPREP_BATCH_H
#define MRIPREP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "mriprep/dicom.h"
#include "mriprep/error.h"
#include "mriprep/geometry.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One file of the series. */
typedef struct slice_slot {
    dicom_buffer_t buffer; /* pixels: [rows][cols] stored values (read as int16 when is_signed) */
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
    uint32_t source;    /* which file (or loaded image) of the batch this is: slots move
                           with --order position, a reread must find its file */
    int pixels_held;    /* `buffer` holds this slot's pixels; 0 once let go over the budget */
    uint64_t pixel_digest; /* pixels let go: pixel_digest() of what they were */
    uint64_t file_bytes;
    double t_decode, t_stats; /* seconds */
} slice_slot_t;

typedef struct series_batch {
    slice_slot_t *slots; /* [n] in slice order */
    size_t n, cap;
    int has_stats;       /* min..mean are filled */
    slice_order_used_t order; /* how the slots were put in order (--order position permutes them) */
    size_t let_go;       /* slots whose pixels were let go over the budget (0: all held) */
    /* Where a slot's pixels are read again, by its `source`: the decode call's files, or
     * pipeline_load's images (the caller keeps them until pipeline_compute). */
    const char *const *files;
    const uint16_t *const *images;
} series_batch_t;

/* What the compute stage asks a backend to build from the selected slices (volume_plan). */
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

/* The decode stage's result without the files: n slices already decoded, given as the
 * headers dicom_decode would give (rows, cols, pixel_representation, rescale, geometry)
 * and their stored values pixels[i][rows * cols] (read as int16 when signed), loaded into
 * batch `batch` as pipeline_decode would (CPU stats, --order position, CUDA upload).
 * The device self-check (device_check.h) feeds both backends this way. */
mp_status pipeline_load(pipeline_t *p, int batch, const dicom_header_t *headers, const uint16_t *const *pixels,
                        size_t n, mp_error *err);

/* Batch `batch` of a pipeline as the last pipeline_compute left it: the slots' stats,
 * fates and crop boxes (what the device self-check compares). NULL when out of range. */
const series_batch_t *pipeline_batch(const pipeline_t *p, int batch);

/* Step 6 for a batch with stats: selected[0..depth) gets the slots of the slices the
 * volume keeps, in slice order: the middle `slices` of the kept ones, or with
 * around_largest (--center largest) the `slices` around the first with the largest crop
 * box, moved inside the kept range. Returns depth: min(kept, slices); 0 when none was
 * kept. selected holds `slices` entries. */
uint32_t select_slices(const series_batch_t *b, int32_t slices, int around_largest, uint32_t *selected);

/* The plan of the volume of the `depth` selected slots: --crop volume's common box
 * (written into the slots, clipped to each slot's size), the moments' scale for raw
 * values, the plane, how the slices were ordered, whether it was reoriented, where each
 * voxel goes (layout, --reorient, --depth pad: req->map) and the affine of the output
 * array (res->has_affine, affine, geometry_note). `geometry` is room for `depth` slice
 * geometries. Returns 0, or 1 when the volume cannot be built (raw values out of range:
 * res->reason says why; the series fails). */
int volume_plan(const pipeline_options_t *opt, series_batch_t *b, const uint32_t *selected, uint32_t depth,
                 slice_geometry_t *geometry, volume_request_t *req, series_result_t *res);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_BATCH_H */
