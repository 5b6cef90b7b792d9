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
#include <string.h>

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

/* The same two integers without llrint, for SIMD loops on the host (x86-64 has llrint
 * only as a scalar instruction; the SSE2 loop in src/compute/resize_engine.c does two doubles per op,
 * this is its scalar form and its tail). Host only: the CUDA kernels keep zscore_fixed.
 *
 * zscore_fixed_magic(v) == zscore_fixed(v) and zscore_fixed_sq_magic(v) == zscore_fixed_sq(v)
 * for every finite float v with |v| < 2^9.5, provided that
 *   - the rounding mode is round to nearest even (the C default, which llrint also uses;
 *     nothing in mriprep changes it), and
 *   - double operations are rounded to double once (FLT_EVAL_METHOD == 0: x86-64, SSE2
 *     math; not the x87's 80-bit registers, whose double rounding breaks ties).
 * Why, for d = v (or d = v*v, exact in double: 24 + 24 significant bits <= 53) and
 * M = ZSCORE_MAGIC = 1.5 * 2^20:
 *  1. |d| < 2^19, so d + M lies in [2^20, 2^21), where the doubles are exactly the
 *     multiples of 2^-32 (53-bit significand, exponent 20). The add rounds d + M to the
 *     nearest multiple, ties to the one whose count of 2^-32 is even; M is 3 * 2^51 such
 *     multiples (even), so fl(d + M) = M + rint(d * 2^32) * 2^-32, with rint to nearest
 *     even, as llrint rounds.
 *  2. d * 2^32 is exact in double (a power-of-two scaling of a float or of a product of
 *     two floats: no overflow, no underflow), so llrint(d * 2^32), zscore_fixed's
 *     integer, is that same rint(d * 2^32).
 *  3. In [2^20, 2^21) a double's bit pattern is bits(2^20) + (its count of 2^-32 above
 *     2^20): the exponent field is fixed and the significand counts. So
 *     bits(fl(d + M)) - bits(M) = rint(d * 2^32).
 * NaN and infinities give garbage (llrint gives INT64_MIN); the pipeline never has them:
 * its values are min-max scaled finite integers (v in [0, 1 + 2^-23]) and their INTER_AREA
 * averages. Callers that add many of these may add the raw bits (zscore_magic_bits) in
 * uint64 and subtract count * ZSCORE_MAGIC_BITS once: addition modulo 2^64 is exact and
 * the true sum fits in int64 (see ZSCORE_MAX_VOXELS). Checked against llrint on every
 * float in [0, 1.0000001] (tests/test_cpu_engines.cpp). */
#define ZSCORE_MAGIC 1572864.0                /* 1.5 * 2^20 = 2^52 * 2^-32 * 1.5 */
#define ZSCORE_MAGIC_BITS 0x4138000000000000ll /* its bit pattern */

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__) /* host only: NVRTC (tests/cuda12) refuses them */
#include <string.h>

static inline int64_t zscore_magic_bits(double d)
{
    double t = d + ZSCORE_MAGIC;
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    return bits;
}
static inline int64_t zscore_fixed_magic(float v)
{
    return zscore_magic_bits((double)v) - ZSCORE_MAGIC_BITS;
}
static inline int64_t zscore_fixed_sq_magic(float v)
{
    double d = (double)v;
    return zscore_magic_bits(d * d) - ZSCORE_MAGIC_BITS;
}
#endif

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

/* zscore_moments for values that were scaled by 2^-scale_exp before zscore_fixed (raw
 * intensities: |v| up to 65535 or more, whose squares in 2^-32 units would overflow the
 * int64 sums): the moments of the scaled values, scaled back exactly by powers of two.
 * scale_exp 0 is zscore_moments. */
HOST_DEVICE static inline void zscore_moments_scaled(int64_t sum_q, int64_t sum_q2, uint64_t count, int constant,
                                                     int32_t scale_exp, double *mean, double *std)
{
    if (count == 0) {
        *mean = 0.0;
        *std = 0.0;
        return;
    }
    zscore_moments(sum_q, sum_q2, count, constant, mean, std);
    *mean = ldexp(*mean, scale_exp);
    *std = ldexp(*std, scale_exp);
}

/* (v - mean) / std in double, rounded once to float32: zscore_apply's value where
 * std != 0 (loops that have tested std once call this). */
HOST_DEVICE static inline float zscore_divide(float v, double mean, double std)
{
    return (float)(((double)v - mean) / std);
}

/* One output value: zscore_divide; the value unchanged when std == 0. */
HOST_DEVICE static inline float zscore_apply(float v, double mean, double std)
{
    if (std == 0.0) return v;
    return zscore_divide(v, mean, std);
}

/* z where v != 0, and +0 where v is 0 or -0: z's bits and-ed with a mask, not a branch,
 * so that a loop computing z for every voxel and then this vectorises (with a branch,
 * or a ?: that gcc turns into one, the division stays scalar: 2.6x the unmasked loop's
 * time per voxel). */
HOST_DEVICE static inline float zscore_keep_nonzero(float v, float z)
{
    uint32_t bits;
    memcpy(&bits, &z, sizeof bits);
    bits &= 0u - (uint32_t)(v != 0.0f);
    memcpy(&z, &bits, sizeof z);
    return z;
}

/* --norm nonzero: voxels that are 0 (background) stay 0; the others as zscore_apply. */
HOST_DEVICE static inline float zscore_apply_masked(float v, double mean, double std, int nonzero)
{
    const float z = zscore_apply(v, mean, std);
    return nonzero ? zscore_keep_nonzero(v, z) : z;
}

#endif /* MRIPREP_KERNELS_ZSCORE_MATH_H */
