/* volume_math.h - per-element steps 4 and 7-9 that are not the resize itself, shared by
 * the CPU backend and the CUDA kernels: the min-max crop fed to the resize, and the
 * z-scored output value stored in the chosen layout and dtype.
 *
 * Shapes: a raw slice is [rows][cols] 16-bit words; a crop is [bh][bw] float32 v; the
 * resized volume is [D][H][W] float32 (one plane per kept slice); the output is
 * (H, W, D) for layout hwd or (D, H, W) for dhw, float32 or float16.
 */
#ifndef MRIPREP_KERNELS_VOLUME_MATH_H
#define MRIPREP_KERNELS_VOLUME_MATH_H

#include "kernels/half.h"
#include "kernels/hostdev.h"
#include "kernels/slice_math.h"
#include "kernels/zscore_math.h"

#define VOLUME_LAYOUT_HWD 0
#define VOLUME_LAYOUT_DHW 1

/* Step 3 on the crop: v of pixel (r, c) of the box, from the raw slice. `range` is
 * (float)(max - min). */
HOST_DEVICE static inline float crop_value(const uint16_t *raw, int32_t cols, int is_signed, slice_box_t box,
                                           int32_t min, float range, int32_t r, int32_t c)
{
    uint16_t word = raw[(size_t)(box.row0 + r) * (size_t)cols + (size_t)(box.col0 + c)];
    return slice_minmax_value(slice_stored_value(word, is_signed), min, range);
}

/* Position in the output of slice d's pixel pix (= y*W + x) of a [depth][plane] volume. */
HOST_DEVICE static inline uint64_t volume_out_index(int layout, uint64_t pix, uint32_t d, uint64_t plane,
                                                    uint32_t depth)
{
    return layout == VOLUME_LAYOUT_DHW ? (uint64_t)d * plane + pix : pix * depth + d;
}

/* The inverse of volume_out_index: which slice d and pixel pix output element o holds. */
HOST_DEVICE static inline void volume_out_coords(int layout, uint64_t o, uint64_t plane, uint32_t depth,
                                                 uint64_t *pix, uint32_t *d)
{
    if (layout == VOLUME_LAYOUT_DHW) {
        *d = (uint32_t)(o / plane);
        *pix = o % plane;
    } else {
        *pix = o / depth;
        *d = (uint32_t)(o % depth);
    }
}

/* Stores z at element o of the output, as float32 or as float16 bits. */
HOST_DEVICE static inline void volume_store(void *out, uint64_t o, int float16, float z)
{
    if (float16) ((uint16_t *)out)[o] = half_from_float(z);
    else ((float *)out)[o] = z;
}

/* Where source pixel (y, x) of an [h][w] plane lands after k quarter turns counter-
 * clockwise, as np.rot90(a, k) (k = 3 is np.rot90(a, -1), OpenCV's ROTATE_90_CLOCKWISE).
 * The result is [h][w] for even k and [w][h] for odd k. */
HOST_DEVICE static inline uint64_t rot90_index(int k, int32_t h, int32_t w, int32_t y, int32_t x)
{
    switch (k & 3) {
    case 0: return (uint64_t)y * (uint64_t)w + (uint64_t)x;
    case 1: return (uint64_t)(w - 1 - x) * (uint64_t)h + (uint64_t)y;
    case 2: return (uint64_t)(h - 1 - y) * (uint64_t)w + (uint64_t)(w - 1 - x);
    default: return (uint64_t)x * (uint64_t)h + (uint64_t)(h - 1 - y);
    }
}

#endif /* MRIPREP_KERNELS_VOLUME_MATH_H */
