/* resize.h - in-plane resize of float32 slices, bit-exact with OpenCV 4.6
 * cv::resize(src, dst, Size(dst_w, dst_h), 0, 0, INTER_AREA) on CV_32FC1.
 *
 * A plan holds the tap tables of one size pair; build it once per series and
 * reuse it for every slice. The per-pixel math lives in kernels/resize_area.h
 * so the CUDA backend runs the same code on the same tables.
 *
 * Images are row-major float32 [h][stride]; strides count elements (floats),
 * not bytes. Tolerance against OpenCV: none, the output is identical bit for bit
 * (NaN payloads aside), provided this file and its callers are built without
 * FMA contraction (-ffp-contract=off).
 */
#ifndef MRIPREP_RESIZE_H
#define MRIPREP_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/resize_area.h"
#include "kernels/slice_math.h"
#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest width or height resize_plan_init accepts, pixels. */
#define RESIZE_MAX_DIM 65536

/* The tables of one size pair plus the host memory they point into.
 * tables is read-only after resize_plan_init; storage is owned by the plan
 * (one allocation, NULL for paths that need no arrays). */
typedef struct resize_plan {
    resize_tables_t tables;
    void *storage;
    float *row_sums; /* AREA_GENERAL on the CPU: 2 x [dst_w] horizontal sums of the last
                        two source rows (in storage); makes a plan single-threaded */
} resize_plan_t;

/* Builds the plan for resizing src_w x src_h pixels to dst_w x dst_h pixels:
 * picks OpenCV's path (resize_select_path) and computes its tables in double as
 * OpenCV does. On failure *plan is left zeroed (safe to free).
 * Returns MP_OK; MP_ERR_USAGE (plan NULL or a size < 1); MP_ERR_LIMIT (a size
 * > RESIZE_MAX_DIM); MP_ERR_NOMEM; with err (may be NULL) filled in. */
mp_status resize_plan_init(resize_plan_t *plan, int src_w, int src_h, int dst_w, int dst_h,
                           mp_error *err);

/* Releases the plan's storage and zeroes it. Safe on a zeroed plan, on NULL,
 * and twice. */
void resize_plan_free(resize_plan_t *plan);

/* Resizes one image with a plan: src [src_h][src_stride] -> dst [dst_h][dst_stride],
 * float32, strides in elements (src_stride >= src_w, dst_stride >= dst_w); the
 * sizes are the plan's. Single-threaded (callers parallelise over slices).
 * src and dst must not overlap. */
void resize_area_f32(const resize_plan_t *plan, const float *src, size_t src_stride, float *dst,
                     size_t dst_stride);

/* One-off resize: builds a plan, resizes, frees it. Arguments as in
 * resize_plan_init and resize_area_f32.
 * Returns MP_OK; MP_ERR_USAGE (NULL image, stride smaller than its width, or a
 * size < 1); MP_ERR_LIMIT; MP_ERR_NOMEM; with err (may be NULL) filled in.
 * dst is untouched on failure. */
mp_status resize_area_image(const float *src, int src_w, int src_h, size_t src_stride, float *dst,
                            int dst_w, int dst_h, size_t dst_stride, mp_error *err);

/* ---- crop, min-max, resize and moments of one slice in one pass ----------------------
 * What the CPU backend does to each kept slice (docs/pipeline.md steps 3, 4, 7 and the z-score
 * moments of step 8), without the [bh][bw] float crop in between:
 *
 *   raw slice [rows][cols] uint16/int16 words --crop box--> [bh][bw] words
 *     --min-max: v = (float)(x - min) / (float)(max - min)--> [bh][bw] float32 (never stored)
 *     --INTER_AREA, this plan--> dst [dst_h][dst_w] float32
 *     --moments--> sum of zscore_fixed(v), of zscore_fixed_sq(v), min and max of dst
 *
 * Exactness: the result is the same, byte for byte, as converting the crop with
 * crop_value (kernels/volume_math.h) into a float image, resize_area_f32 on it, and the
 * llrint moments of kernels/zscore_math.h over the plane; tests/test_cpu_engines.cpp checks
 * it with memcmp on every path. Why it can be:
 *  - every output element gets the float operations of kernels/resize_area.h on the same
 *    operands in the same order; only the loops change. Source rows are converted as they
 *    are needed; a source row's horizontal sums are computed once for all output rows that
 *    use it; with SSE2, four source rows go through the horizontal pass together (lane l of
 *    each vector op does row l's scalar operation: SSE addps/mulps round like addss/mulss).
 *  - the moments are sums of int64s, exact in any order; zscore_fixed_magic replaces llrint
 *    under the preconditions given with it (kernels/zscore_math.h), which min-max values
 *    and their INTER_AREA averages meet: finite, in [0, 1 + 2^-23], round to nearest.
 *  - min/max of floats do not depend on the order for values that are never NaN or -0;
 *    these are >= +0 (sums of products of non-negative values, starting from +0).
 * Memory (the scratch, kept per thread): O(bw + dst_w) floats for every path and scale:
 * AREA_GENERAL and LINEAR_AREA keep the horizontal sums of 8 source rows (two 4-row
 * groups; output rows ask for source rows in non-decreasing order, so the group in use
 * and the one before it are all they need); AREA_FAST 2x2 and COPY one or two rows;
 * other AREA_FAST factors one band of ky source rows (1 MiB for 8192x8192 -> 256x256).
 * Where the CPU has AVX2 (cpu_simd_engine, include/mriprep/cpu_backend.h), AREA_GENERAL
 * and LINEAR_AREA take eight source rows per op and keep 16 rows of sums (two groups of
 * 8), and the moments take 8 values per op; the same bytes.
 * Builds without SSE2 (or with MRIPREP_NO_SIMD defined, to test them on x86-64), and runs
 * with MRIPREP_SIMD=none, take the plain path: the float crop (bh*bw floats in the
 * scratch), resize_area_f32, llrint. */

/* Moments of one resized plane for the volume z-score (kernels/zscore_math.h). */
typedef struct resize_moments {
    int64_t sum_q, sum_q2; /* exact sums of zscore_fixed(v) and zscore_fixed_sq(v) */
    float min, max;        /* of the plane */
} resize_moments_t;

/* One slice's crop box and the min-max that scales it (from the slice statistics). */
typedef struct resize_crop {
    const uint16_t *pixels; /* [rows][cols] stored values, read as int16 when is_signed */
    int32_t cols;           /* row length of `pixels`, in values */
    int is_signed;
    slice_box_t box;        /* inside the slice; bw x bh is the plan's source size */
    int32_t min, max;       /* of the whole slice; max > min */
} resize_crop_t;

/* Per-thread buffers of resize_crop_measure, grown on demand and kept from slice to slice.
 * Opaque; one per thread. */
typedef struct resize_scratch resize_scratch_t;

/* A new, empty scratch; NULL when out of memory. */
resize_scratch_t *resize_scratch_new(void);

/* Frees a scratch and its buffers; safe on NULL. */
void resize_scratch_free(resize_scratch_t *scratch);

/* Bytes of buffers the scratch holds now (what its largest slice so far needed). */
size_t resize_scratch_bytes(const resize_scratch_t *scratch);

/* Crops, min-max scales and resizes crop->box of a slice into dst [dst_h][dst_w]
 * (contiguous, the plan's output size) and fills *m; see above for what it computes and
 * why that is exact. `plan` must have been built for bw x bh -> dst_w x dst_h of the box;
 * like resize_area_f32, a call uses the plan's row buffer, so a plan and a scratch serve
 * one thread at a time. Preconditions that make the moments exact: crop->max > crop->min
 * (checked) and the default floating-point environment (round to nearest, no FTZ/DAZ).
 * Returns MP_OK; MP_ERR_USAGE (a NULL argument, plan sizes that are not the box's, or
 * max <= min); MP_ERR_NOMEM (scratch buffers); with err (may be NULL) filled in. */
mp_status resize_crop_measure(const resize_plan_t *plan, const resize_crop_t *crop, resize_scratch_t *scratch,
                              float *dst, resize_moments_t *m, mp_error *err);

/* Which engine resize_crop_measure runs now: "avx2", "sse2" or "plain" (see above and
 * cpu_simd_engine). */
const char *resize_crop_engine(void);

/* Adds the moments of v[n] to *m as if v had been appended to the plane *m was taken
 * from; with first != 0 *m is started afresh from v (n >= 1). The loop resize_crop_measure
 * uses (AVX2 or SSE2 and zscore_fixed_magic as cpu_simd_engine says, zscore_fixed for the
 * portable loops): v must meet
 * zscore_fixed_magic's preconditions (finite, |v| < 2^9.5). Exposed for the tests. */
void resize_moments_add(resize_moments_t *m, const float *v, size_t n, int first);

/* Bytes needed to pack the arrays of `t` (each 8-byte aligned) with
 * resize_tables_pack(): 0 for the copy and fast paths, which have none. */
size_t resize_tables_packed_size(const resize_tables_t *t);

/* Copies the arrays of `t` into `dst` (resize_tables_packed_size(t) bytes) and sets
 * *packed to a copy of `t` whose array pointers are `base` plus the same offsets:
 * `base` is where those bytes will be read from - `dst` itself on the host, or a device
 * address after the CUDA backend copies them there. */
void resize_tables_pack(const resize_tables_t *t, void *dst, uintptr_t base, resize_tables_t *packed);

/* A short constant name for a path ("copy", "area_fast", "area_general",
 * "linear_area"), for logs and test messages. */
const char *resize_path_name(resize_path_t path);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_RESIZE_H */
