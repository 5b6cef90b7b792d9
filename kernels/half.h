/* half.h - float32 to IEEE 754 binary16 bits, round to nearest even, in integer
 * operations only, so the CPU and CUDA backends (and every compiler) give the same bits
 * as numpy's `astype(np.float16)`. Shared by both backends.
 */
#ifndef MRIPREP_KERNELS_HALF_H
#define MRIPREP_KERNELS_HALF_H

#include <string.h>

#include "kernels/hostdev.h"

HOST_DEVICE static inline uint16_t half_from_float(float value)
{
    uint32_t f;
    memcpy(&f, &value, sizeof f);
    uint32_t sign = (f >> 16) & 0x8000u;
    uint32_t abs = f & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) {
        /* Inf stays Inf; NaN keeps its top payload bits and stays a (quiet) NaN. */
        if (abs == 0x7F800000u) return (uint16_t)(sign | 0x7C00u);
        return (uint16_t)(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
    }
    if (abs >= 0x477FF000u) /* rounds to >= 65520: overflow to Inf */
        return (uint16_t)(sign | 0x7C00u);
    if (abs >= 0x38800000u) { /* normal half: exponent >= -14 */
        uint32_t mant = abs & 0x7FFFFFu;
        uint32_t exp = (abs >> 23) - 127u + 15u;
        uint32_t h = (exp << 10) | (mant >> 13);
        uint32_t rest = mant & 0x1FFFu; /* the 13 bits dropped */
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* carries into the exponent correctly */
        return (uint16_t)(sign | h);
    }
    if (abs < 0x33000000u) /* below half the smallest subnormal (2^-25): zero */
        return (uint16_t)sign;
    {
        /* Subnormal half: value = m * 2^-24 with m < 1024. */
        uint32_t exp = abs >> 23;                    /* biased float exponent, 102..112 */
        uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u; /* 24-bit significand */
        uint32_t shift = 126u - exp;                 /* 14..24: bits to drop to reach 2^-24 units */
        uint32_t h = mant >> shift;
        uint32_t rest = mant & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rest > halfway || (rest == halfway && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
}

#endif /* MRIPREP_KERNELS_HALF_H */
