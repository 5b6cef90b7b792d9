/* slice_math.h - per-slice math of pipeline steps 3-5 (docs/pipeline.md), shared by the CPU
 * backend and the CUDA kernels.
 *
 * A decoded slice is [rows][cols] 16-bit words holding stored values: int16 when the
 * file is signed (PixelRepresentation 1), uint16 otherwise. Everything a slice needs
 * for steps 3-5 comes from ONE pass over those integers: min, max, the exact sum, and
 * the maximum of every row and column. Because v = (x - min) / (max - min) is exactly 0
 * where x == min, the bounding box of v > 0 is the set of rows and columns whose
 * maximum exceeds min, and the mean of v over any box that contains all of them is
 * (sum - n*min) / ((max - min) * box area), with no second pass and no float sums.
 */
#ifndef MRIPREP_KERNELS_SLICE_MATH_H
#define MRIPREP_KERNELS_SLICE_MATH_H

#include "kernels/hostdev.h"

/* Stored value of a 16-bit word, as the file's PixelRepresentation says. */
HOST_DEVICE static inline int32_t slice_stored_value(uint16_t word, int is_signed)
{
    return is_signed ? (int32_t)(int16_t)word : (int32_t)word;
}

/* Step 3: min-max scaling of one stored value to [0, 1], in float32 exactly as numpy
 * does `(x - min) / (max - min)` on a float32 image (both differences are exact in
 * float32 for 16-bit values). `range` is (float)(max - min), never 0 here. */
HOST_DEVICE static inline float slice_minmax_value(int32_t x, int32_t min, float range)
{
    return (float)(x - min) / range;
}

/* What steps 3-5 decide for one slice. */
typedef enum slice_fate {
    SLICE_KEPT = 0,  /* nonblank, crop mean >= dark threshold */
    SLICE_BLANK = 1, /* max == min: no pixel with v > 0 (the notebook crashed here) */
    SLICE_DARK = 2   /* mean of the cropped v below the dark threshold */
} slice_fate_t;

/* Inclusive crop box in source pixels: rows [row0, row1], columns [col0, col1]. */
typedef struct slice_box {
    int32_t row0, row1, col0, col1;
} slice_box_t;

HOST_DEVICE static inline int32_t slice_box_height(slice_box_t b) { return b.row1 - b.row0 + 1; }
HOST_DEVICE static inline int32_t slice_box_width(slice_box_t b) { return b.col1 - b.col0 + 1; }

/* First and last index of `maxima[n]` whose value exceeds `min`, widened by `margin`
 * and clipped to [0, n-1]. Returns 0 when there is none. */
HOST_DEVICE static inline int slice_extent(const int32_t *maxima, int32_t n, int32_t min, int32_t margin,
                                           int32_t *first, int32_t *last)
{
    int32_t lo = -1, hi = -1, i;
    for (i = 0; i < n; i++) {
        if (maxima[i] > min) {
            if (lo < 0) lo = i;
            hi = i;
        }
    }
    if (lo < 0) return 0;
    lo = lo - margin < 0 ? 0 : lo - margin;
    hi = hi + margin > n - 1 ? n - 1 : hi + margin;
    *first = lo;
    *last = hi;
    return 1;
}

/* Mean of v over the box: (sum - count*min) / ((max - min) * box area), in double.
 * `sum` is the exact sum of all `count` stored values of the slice; pixels outside the
 * box are all == min, so they add nothing. */
HOST_DEVICE static inline double slice_crop_mean(int64_t sum, int64_t count, int32_t min, int32_t max,
                                                 slice_box_t box)
{
    double above = (double)(sum - count * (int64_t)min);
    double area = (double)slice_box_height(box) * (double)slice_box_width(box);
    return above / ((double)(max - min) * area);
}

/* Steps 3-5 for one slice from its one-pass statistics: row_max[rows], col_max[cols].
 * Fills *box (when kept or dark) and *mean (0 for blank). */
HOST_DEVICE static inline slice_fate_t slice_decide(int32_t min, int32_t max, int64_t sum, int32_t rows,
                                                    int32_t cols, const int32_t *row_max,
                                                    const int32_t *col_max, int32_t margin, double dark,
                                                    slice_box_t *box, double *mean)
{
    *mean = 0.0;
    if (max == min) return SLICE_BLANK;
    if (!slice_extent(row_max, rows, min, margin, &box->row0, &box->row1) ||
        !slice_extent(col_max, cols, min, margin, &box->col0, &box->col1))
        return SLICE_BLANK; /* unreachable when max > min; kept for safety */
    *mean = slice_crop_mean(sum, (int64_t)rows * cols, min, max, *box);
    return *mean < dark ? SLICE_DARK : SLICE_KEPT;
}

/* Step 6: first kept index of the middle `k` of `n` kept slices; *depth gets how many. */
HOST_DEVICE static inline int32_t slice_middle_start(int32_t n, int32_t k, int32_t *depth)
{
    if (n > k) {
        *depth = k;
        return (n - k) / 2;
    }
    *depth = n;
    return 0;
}

#endif /* MRIPREP_KERNELS_SLICE_MATH_H */
