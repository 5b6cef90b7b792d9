/* zscore_math.h - step 8 (volume z-score) and step 9 (output conversion), shared by the
 * CPU backend and the CUDA kernels.
 *
 * Same input must give the same bits whatever the thread count or device, but a double
 * sum taken in a different order (OpenMP chunks, CUB trees) changes its last bits. So
 * the volume moments are accumulated as fixed-point integers, which add exactly in any
 * order: q = llrint(v * 2^32) and q2 = llrint(v*v * 2^32), summed in int64. With the
 * minmax intensities of the default preset (|v| <= 1 + 1 ulp) the sums stay below 2^62
 * for volumes of up to 2^29 voxels. Quantisation moves the mean by at most 2^-33,
 * far below the 1e-5 the outputs are held to against numpy's float64 moments.
 */
#ifndef MRIPREP_KERNELS_ZSCORE_MATH_H
#define MRIPREP_KERNELS_ZSCORE_MATH_H

#include <math.h>

#include "kernels/hostdev.h"

#define ZSCORE_FIXED_SCALE 4294967296.0 /* 2^32 */
#define ZSCORE_MAX_VOXELS (1ull << 29)

/* Fixed-point contributions of one voxel value to the sums of v and v*v. v*v is exact in
 * double for a float v (48 significant bits). */
HOST_DEVICE static inline int64_t zscore_fixed(float v)
{
    return (int64_t)llrint((double)v * ZSCORE_FIXED_SCALE);
}
HOST_DEVICE static inline int64_t zscore_fixed_sq(float v)
{
    double d = (double)v;
    return (int64_t)llrint(d * d * ZSCORE_FIXED_SCALE);
}

/* Mean and population standard deviation from the exact fixed-point sums of `count`
 * voxels. `constant` (all voxels bit-identical, known from the exact min == max) forces
 * std = 0, which the caller treats as "leave the volume as is". */
HOST_DEVICE static inline void zscore_moments(int64_t sum_q, int64_t sum_q2, uint64_t count, int constant,
                                              double *mean, double *std)
{
    double n = (double)count;
    double m = ((double)sum_q / ZSCORE_FIXED_SCALE) / n;
    double ex2 = ((double)sum_q2 / ZSCORE_FIXED_SCALE) / n;
    double var = ex2 - m * m;
    *mean = m;
    *std = (constant || var <= 0.0) ? 0.0 : sqrt(var);
}

/* One output value: (v - mean) / std in double, rounded once to float32; the value
 * unchanged when std == 0. */
HOST_DEVICE static inline float zscore_apply(float v, double mean, double std)
{
    if (std == 0.0) return v;
    return (float)(((double)v - mean) / std);
}

#endif /* MRIPREP_KERNELS_ZSCORE_MATH_H */
