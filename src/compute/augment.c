/* augment.c - see include/mriprep/augment.h. */
#include "mriprep/augment.h"

#include <string.h>

#include "kernels/volume_math.h"

int rot90_turns_for(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the name, then splitmix64 with the seed */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = (h ^ *c) * 1099511628211ull;
    uint64_t z = h ^ (seed + 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return 1 + (int)(z % 3);
}

void rot90_volume(const void *src, const uint64_t dims[3], int a, size_t elem, int k, void *dst, uint64_t out_dims[3])
{
    const uint64_t outer = a == 0 ? 1 : dims[0], h = dims[a], w = dims[a + 1], inner = a == 0 ? dims[2] : 1;
    for (int t = 0; t < 3; t++) out_dims[t] = dims[t];
    if (k & 1) out_dims[a] = w, out_dims[a + 1] = h;
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (uint64_t o = 0; o < outer; o++)
        for (uint64_t y = 0; y < h; y++)
            for (uint64_t x = 0; x < w; x++) {
                const uint64_t from = (o * h * w + y * w + x) * inner;
                const uint64_t to = (o * h * w + rot90_index(k, (int32_t)h, (int32_t)w, (int32_t)y, (int32_t)x)) * inner;
                memcpy(d + to * elem, s + from * elem, inner * elem);
            }
}

void rot90_volume_source(const uint64_t dims[3], int a, int k, const int64_t rotated[3], int64_t source[3])
{
    const int64_t h = (int64_t)dims[a], w = (int64_t)dims[a + 1], ry = rotated[a], rx = rotated[a + 1];
    for (int t = 0; t < 3; t++) source[t] = rotated[t];
    int64_t y, x; /* inverse of rot90_index: where (ry, rx) of the turned plane came from */
    switch (k & 3) {
    case 0: y = ry, x = rx; break;
    case 1: y = rx, x = w - 1 - ry; break;
    case 2: y = h - 1 - ry, x = w - 1 - rx; break;
    default: y = h - 1 - rx, x = ry; break;
    }
    source[a] = y;
    source[a + 1] = x;
}
