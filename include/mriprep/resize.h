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
