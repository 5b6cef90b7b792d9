/* augment.c - see include/mriprep/augment.h. */
#include "mriprep/augment.h"

#include "kernels/volume_math.h"

void rot90_plane(const float *src, int32_t h, int32_t w, int k, float *dst)
{
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++) dst[rot90_index(k, h, w, y, x)] = src[(uint64_t)y * (uint64_t)w + (uint64_t)x];
}
