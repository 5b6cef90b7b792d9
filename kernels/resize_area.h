/* resize_area.h - per-pixel math of OpenCV 4.6 cv::resize(..., INTER_AREA) for
 * 1-channel float32, bit for bit (docs/inter_area.md).
 *
 * Shared by the CPU backend (src/compute/resize.c, resize_engine.c) and the CUDA kernels: one call of
 * resize_area_pixel() produces one output pixel from read-only tables, so a GPU
 * runs it as one thread per output pixel. The tables are built once per size
 * pair on the host (resize_plan_init in src/compute/resize.c), in double, exactly as
 * OpenCV builds them; everything here is float32 arithmetic in OpenCV's order.
 *
 * Written in the common subset of C11 and CUDA C++ (see hostdev.h). Bit-exact
 * only without FMA contraction: -ffp-contract=off (gcc), -fmad=false (nvcc).
 */
#ifndef MRIPREP_KERNELS_RESIZE_AREA_H
#define MRIPREP_KERNELS_RESIZE_AREA_H

#include <float.h>
#include <math.h>

#include "kernels/hostdev.h"

/* Which of OpenCV's four code paths a size pair takes (spec section 0). The
 * choice changes results at the rounding level, so it must be OpenCV's. */
typedef enum {
    RESIZE_COPY = 0,         /* same size: src.copyTo(dst) */
    RESIZE_AREA_FAST = 1,    /* integer factors kx, ky: box mean of kx*ky pixels */
    RESIZE_AREA_GENERAL = 2, /* shrink on both axes: separable fractional box */
    RESIZE_LINEAR_AREA = 3   /* some axis enlarged: 2x2 taps on both axes */
} resize_path_t;

/* One tap of a separable AREA_GENERAL filter: source row or column, and its
 * weight (computed in double, rounded to float once). */
typedef struct {
    int32_t index;
    float weight;
} resize_tap_t;

/* Everything one (src_w,src_h) -> (dst_w,dst_h) resize needs. Plain ints and
 * pointers to flat arrays, so a CUDA backend can copy the arrays to device
 * memory and pass a copy of this struct holding device pointers. Pointers a
 * path does not use are NULL.
 *
 * Int fields are int32_t (not the enum type) so the layout is the same in C
 * and in CUDA C++. */
typedef struct resize_tables {
    int32_t path;                /* a resize_path_t */
    int32_t src_w, src_h;        /* source size, pixels */
    int32_t dst_w, dst_h;        /* output size, pixels */

    /* RESIZE_AREA_FAST: src_w == kx*dst_w and src_h == ky*dst_h exactly. */
    int32_t kx, ky;              /* block size, pixels */
    int32_t fast_simd_w;         /* 2x2 only: 4*floor(dst_w/4), the columns OpenCV
                                    computes with SSE ((v0+v1)+(v2+v3)); 0 otherwise */
    float fast_scale;            /* 1.f/(float)(kx*ky) */

    /* RESIZE_AREA_GENERAL: taps of output column x are
     * x_taps[x_start[x] .. x_start[x+1]-1], in OpenCV's order; rows likewise. */
    const int32_t *x_start;      /* [dst_w+1], x_start[0] == 0 */
    const resize_tap_t *x_taps;  /* [x_start[dst_w]], index: source column */
    const int32_t *y_start;      /* [dst_h+1], y_start[0] == 0 */
    const resize_tap_t *y_taps;  /* [y_start[dst_h]], index: source row */

    /* RESIZE_LINEAR_AREA: output column x reads columns x_index[x] and
     * x_index[x]+1 with weights 1-x_frac[x] and x_frac[x]; when
     * x_index[x] == src_w-1 it is a single tap that copies that column (no
     * multiply; OpenCV clamps there and only there). Output row y reads rows
     * y_index[y] and min(y_index[y]+1, src_h-1) with weights 1-y_frac[y] and
     * y_frac[y]; both rows are weighted even when they are the same row. */
    const int32_t *x_index;      /* [dst_w], source column in [0, src_w-1] */
    const float *x_frac;         /* [dst_w], in [0, 1) */
    const int32_t *y_index;      /* [dst_h], source row in [0, src_h-1] */
    const float *y_frac;         /* [dst_h], in [0, 1) */
} resize_tables_t;

/* OpenCV's path for a size pair (spec section 0). The scale is 1/(dst/src) in
 * double, not src/dst: 1.0/(1.0/49) = 49.000000000000007, so 49 -> 1 is
 * AREA_GENERAL, not AREA_FAST. Sizes must be >= 1. */
HOST_DEVICE static inline resize_path_t resize_select_path(int src_w, int src_h, int dst_w,
                                                           int dst_h)
{
    double sx, sy;
    int fast;

    if (dst_w == src_w && dst_h == src_h)
        return RESIZE_COPY;
    sx = 1.0 / ((double)dst_w / (double)src_w);
    sy = 1.0 / ((double)dst_h / (double)src_h);
    /* cvRound is round-half-even like rint; only exact integers pass anyway */
    fast = fabs(sx - rint(sx)) < DBL_EPSILON && fabs(sy - rint(sy)) < DBL_EPSILON;
    if (sx >= 1.0 && sy >= 1.0)
        return fast ? RESIZE_AREA_FAST : RESIZE_AREA_GENERAL;
    return RESIZE_LINEAR_AREA;
}

HOST_DEVICE static inline int32_t resize_min_i32(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* Element v[n] of a FAST block walked row-major: returns blk[r][c] and steps
 * (r,c) to the next element. The 4-element groups cross block rows when kx is
 * not a multiple of 4, so the walk cannot be split per row. */
HOST_DEVICE static inline float resize_fast_next(const float *blk, size_t stride, int32_t kx,
                                                 int32_t *r, int32_t *c)
{
    float v = blk[(size_t)*r * stride + (size_t)*c];
    if (++*c == kx) {
        *c = 0;
        ++*r;
    }
    return v;
}

/* AREA_FAST output pixel (spec section 1). */
HOST_DEVICE static inline float resize_fast_pixel(const resize_tables_t *t, const float *src,
                                                  size_t stride, int x, int y)
{
    const int32_t kx = t->kx;
    const int32_t area = t->kx * t->ky;
    const float *blk = src + (size_t)y * (size_t)t->ky * stride + (size_t)x * (size_t)kx;
    int32_t n = 0, r = 0, c = 0;
    float s = 0.f;

    if (x < t->fast_simd_w) {
        /* OpenCV's SSE lanes add the two row pairs first; the scalar tail
         * below adds left to right. They differ by 1 ulp on some inputs. */
        const float *blk1 = blk + stride;
        return ((blk[0] + blk[1]) + (blk1[0] + blk1[1])) * 0.25f;
    }
    for (; n + 4 <= area; n += 4) {
        float v0 = resize_fast_next(blk, stride, kx, &r, &c);
        float v1 = resize_fast_next(blk, stride, kx, &r, &c);
        float v2 = resize_fast_next(blk, stride, kx, &r, &c);
        float v3 = resize_fast_next(blk, stride, kx, &r, &c);
        s = s + (((v0 + v1) + v2) + v3);
    }
    for (; n < area; n++)
        s = s + resize_fast_next(blk, stride, kx, &r, &c);
    return s * t->fast_scale;
}

/* AREA_GENERAL output pixel (spec section 2). Zero-weight taps still multiply
 * (inf*0 = NaN), and the row sum starts from +0.f (so -0 inputs give +0),
 * as in OpenCV's buffers. */
/* AREA_GENERAL, horizontal part: source row `row` summed over output column x's taps,
 * in OpenCV's order. The same for every output row that uses this source row, so a
 * backend may compute it once per source row. */
HOST_DEVICE static inline float resize_general_hsum(const resize_tables_t *t, const float *row, int x)
{
    const int32_t x0 = t->x_start[x], x1 = t->x_start[x + 1];
    float h = 0.f;
    int32_t i;

    for (i = x0; i < x1; i++)
        h = h + row[t->x_taps[i].index] * t->x_taps[i].weight;
    return h;
}

/* AREA_GENERAL, vertical part: adds row tap (weight b, horizontal sum h) to acc.
 * OpenCV stores beta*buf for a pixel's first row tap, not 0 + beta*buf. */
HOST_DEVICE static inline float resize_general_vstep(float acc, float b, float h, int first_tap)
{
    float bh = b * h;
    return first_tap ? bh : acc + bh;
}

HOST_DEVICE static inline float resize_general_pixel(const resize_tables_t *t, const float *src,
                                                     size_t stride, int x, int y)
{
    const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
    float acc = 0.f;
    int32_t j;

    for (j = y0; j < y1; j++) {
        const float *row = src + (size_t)t->y_taps[j].index * stride;
        acc = resize_general_vstep(acc, t->y_taps[j].weight, resize_general_hsum(t, row, x), j == y0);
    }
    return acc;
}

HOST_DEVICE static inline float resize_linear_area_pixel(const resize_tables_t *t,
                                                         const float *src, size_t stride, int x,
                                                         int y)
{
    const int32_t sx = t->x_index[x];
    const int32_t r0 = t->y_index[y];
    const int32_t r1 = resize_min_i32(r0 + 1, t->src_h - 1);
    const float *row0 = src + (size_t)r0 * stride;
    const float *row1 = src + (size_t)r1 * stride;
    const float b1 = t->y_frac[y];
    const float b0 = 1.f - b1;
    float h0, h1;

    if (sx >= t->src_w - 1) {
        h0 = row0[sx];
        h1 = row1[sx];
    } else {
        const float a1 = t->x_frac[x];
        const float a0 = 1.f - a1;
        h0 = row0[sx] * a0 + row0[sx + 1] * a1;
        h1 = row1[sx] * a0 + row1[sx + 1] * a1;
    }
    /* the bottom row gives v*b0 + v*b1, not v: OpenCV weights both rows */
    return h0 * b0 + h1 * b1;
}

/* Output pixel (x, y), 0 <= x < dst_w, 0 <= y < dst_h, of the resize described
 * by t, from src [src_h][src_stride] float32 (stride in elements, >= src_w).
 * Bit-exact with OpenCV 4.6 INTER_AREA for CV_32FC1. */
HOST_DEVICE static inline float resize_area_pixel(const resize_tables_t *t, const float *src,
                                                  size_t src_stride, int x, int y)
{
    switch (t->path) {
    case RESIZE_AREA_FAST:
        return resize_fast_pixel(t, src, src_stride, x, y);
    case RESIZE_AREA_GENERAL:
        return resize_general_pixel(t, src, src_stride, x, y);
    case RESIZE_LINEAR_AREA:
        return resize_linear_area_pixel(t, src, src_stride, x, y);
    default:
        return src[(size_t)y * src_stride + (size_t)x];
    }
}

#endif /* MRIPREP_KERNELS_RESIZE_AREA_H */
