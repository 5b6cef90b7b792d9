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

/* --intensity raw: v of pixel (r, c) of the box is the stored value itself, or with
 * --rescale slope * x + intercept (the file's RescaleSlope/Intercept) in double, rounded
 * once to float32 (no fused multiply-add on either backend: -ffp-contract=off,
 * -fmad=false). */
HOST_DEVICE static inline float crop_raw_value(const uint16_t *raw, int32_t cols, int is_signed, slice_box_t box,
                                               int rescale, double slope, double intercept, int32_t r, int32_t c)
{
    int32_t x = slice_stored_value(raw[(size_t)(box.row0 + r) * (size_t)cols + (size_t)(box.col0 + c)], is_signed);
    return rescale ? (float)(slope * (double)x + intercept) : (float)x;
}

/* Position in the output of slice d's pixel pix (= y*W + x) of a [depth][plane] volume. */
HOST_DEVICE static inline uint64_t volume_out_index(int layout, uint64_t pix, uint32_t d, uint64_t plane,
                                                    uint32_t depth)
{
    return layout == VOLUME_LAYOUT_DHW ? (uint64_t)d * plane + pix : pix * depth + d;
}

/* Where each value of the resized volume goes in the output array: a permutation of the
 * three axes, each possibly reversed, with room for zero slices. It covers the layouts
 * (hwd, dhw), --reorient (any of the 48 axis orders) and --depth pad with one rule (the
 * rot90 copies are made afterwards, by rot90_volume, with rot90_index), so the CPU (source to output) and the CUDA store kernel (output to
 * source, so that stores coalesce) cannot disagree.
 *
 * Source axes: 0 = x (column of a resized slice, 0..W-1), 1 = y (row, 0..H-1), 2 = d
 * (slice of the volume, 0..depth-1). The output is a C-order array of shape dims[0] x
 * dims[1] x dims[2] (dims[0] slowest); along output axis t runs source axis
 * source_axis[t], reversed when flip[t]. Along the slice axis, source slice d sits at
 * d + pad_before of dims (the other output slices are zero). */
typedef struct volume_map {
    uint64_t dims[3];
    int32_t source_axis[3];
    int32_t flip[3];
    uint32_t pad_before;
    uint32_t depth; /* source slices */
} volume_map_t;

/* Where a map's zero slices (--depth pad) lie in its output of shape dims: along output
 * axis `axis`, the first `before` positions and the last `after`; every element there is
 * 0. All zero (before = after = 0): no zero slice, whatever the axis. */
typedef struct volume_padding {
    uint64_t dims[3];
    int32_t axis;
    uint64_t before, after;
} volume_padding_t;

HOST_DEVICE static inline volume_padding_t volume_map_padding(const volume_map_t *m)
{
    volume_padding_t p = {{m->dims[0], m->dims[1], m->dims[2]}, 0, 0, 0};
    for (int t = 0; t < 3; t++)
        if (m->source_axis[t] == 2) {
            /* source slice d sits at d + pad_before, or at dims - 1 - that when flipped */
            const uint64_t after = m->dims[t] - m->pad_before - m->depth;
            p.axis = t;
            p.before = m->flip[t] ? after : m->pad_before;
            p.after = m->flip[t] ? m->pad_before : after;
        }
    return p;
}

/* Whether two descriptions are of the same shape and axis. */
HOST_DEVICE static inline int volume_padding_same(const volume_padding_t *a, const volume_padding_t *b)
{
    return a->axis == b->axis && a->dims[0] == b->dims[0] && a->dims[1] == b->dims[1] && a->dims[2] == b->dims[2];
}

/* The runs of a C-order volume's elements that zero slices make (for stages that skip
 * them: the CPU backend's zero fill, the sparse writer). Along the axis, positions
 * [0, before) and [n - after, n) of each of its runs, a run being the `span` elements in
 * which the axis' index goes once from 0 to n - 1; the last zero positions of one run and
 * the first of the next touch and count as one run of zeros. */

/* Element e along the axis: n positions `stride` elements apart make a run of `span`
 * elements; e is in run `run`, at position `at`; the volume has `total` elements. */
typedef struct volume_padding_place {
    uint64_t n, stride, span, total, run, at;
} volume_padding_place_t;

HOST_DEVICE static inline volume_padding_place_t volume_padding_locate(const volume_padding_t *p, uint64_t e)
{
    volume_padding_place_t q;
    q.n = p->dims[p->axis];
    q.stride = p->axis == 0 ? p->dims[1] * p->dims[2] : p->axis == 1 ? p->dims[2] : 1;
    q.span = q.n * q.stride;
    q.total = p->dims[0] * p->dims[1] * p->dims[2];
    q.run = e / q.span;
    q.at = e % q.span / q.stride;
    return q;
}

/* From element e, the end of the run of zero-slice elements (e itself when e holds a
 * value, or lies past the volume). Needs zero slices (before + after > 0). */
HOST_DEVICE static inline uint64_t volume_padding_zero_end(const volume_padding_t *p, uint64_t e)
{
    const volume_padding_place_t q = volume_padding_locate(p, e);
    const uint64_t n = q.n, stride = q.stride, span = q.span, total = q.total, run = q.run, at = q.at;
    if (e >= total || (at >= p->before && at < n - p->after)) return e; /* a value */
    uint64_t end = run * span + (at < p->before ? p->before : n) * stride;
    if (at >= p->before && end < total) end += p->before * stride; /* on into the next run's first zeros */
    return end;
}

/* From element e, the end of the run of elements not in zero slices: values, and past
 * the volume's end everything (UINT64_MAX when the run gets there); e itself when e is in
 * a zero slice. Needs zero slices (before + after > 0). */
HOST_DEVICE static inline uint64_t volume_padding_value_end(const volume_padding_t *p, uint64_t e)
{
    const volume_padding_place_t q = volume_padding_locate(p, e);
    const uint64_t n = q.n, stride = q.stride, span = q.span, total = q.total, run = q.run, at = q.at;
    if (e >= total) return UINT64_MAX;
    if (at < p->before || at >= n - p->after) return e; /* a zero slice */
    /* to the run's trailing zeros, or to the next run's leading ones (after = 0) */
    const uint64_t end = p->after ? run * span + (n - p->after) * stride : (run + 1) * span;
    return end < total ? end : UINT64_MAX;
}

/* Output element of source voxel (x, y, d). */
HOST_DEVICE static inline uint64_t volume_map_index(const volume_map_t *m, uint64_t x, uint64_t y, uint32_t d)
{
    const uint64_t source[3] = {x, y, (uint64_t)d + m->pad_before};
    uint64_t o = 0;
    for (int t = 0; t < 3; t++) {
        uint64_t c = source[m->source_axis[t]];
        if (m->flip[t]) c = m->dims[t] - 1 - c;
        o = o * m->dims[t] + c;
    }
    return o;
}

/* The source voxel of output element o; 0 when o is a zero slice of --depth pad. */
HOST_DEVICE static inline int volume_map_source(const volume_map_t *m, uint64_t o, uint64_t *x, uint64_t *y,
                                                uint32_t *d)
{
    uint64_t source[3] = {0, 0, 0};
    for (int t = 2; t >= 0; t--) {
        uint64_t c = o % m->dims[t];
        o /= m->dims[t];
        if (m->flip[t]) c = m->dims[t] - 1 - c;
        source[m->source_axis[t]] = c;
    }
    if (source[2] < m->pad_before || source[2] - m->pad_before >= m->depth) return 0;
    *x = source[0];
    *y = source[1];
    *d = (uint32_t)(source[2] - m->pad_before);
    return 1;
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
