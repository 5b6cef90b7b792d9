/* augment.h - geometric augmentation of output slices (the notebook's rot90 copies).
 *
 * The copies are made on the host, by the writer, from the volume the backend built: a
 * permutation of bytes, so the device would only add two copies over PCIe. The index
 * math is kernels/volume_math.h's rot90_index().
 */
#ifndef MRIPREP_AUGMENT_H
#define MRIPREP_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --augment rot90: which quarter turn (1, 2 or 3) the copy of series `name` gets for a
 * seed: a hash of both, so every run with the seed rotates each volume the same way. */
int rot90_turns_for(uint64_t seed, const char *name);

/* np.rot90(volume, k, axes=(a, a + 1)) of a C-order array of shape dims[3] whose
 * elements are `elem` bytes (float32 or float16 bits): every plane over axes a, a + 1 (the
 * slices: a = 0 for (H, W, D), 1 for (D, H, W)) turned alike. dst gets the rotated shape
 * in out_dims (axes a and a + 1 swapped for odd k). src and dst must not overlap. */
void rot90_volume(const void *src, const uint64_t dims[3], int a, size_t elem, int k, void *dst, uint64_t out_dims[3]);

/* The index of the source element of rotated element `rotated` (both index triples), for
 * the rotated copy's affine: (source) = rot90_volume's inverse. */
void rot90_volume_source(const uint64_t dims[3], int a, int k, const int64_t rotated[3], int64_t source[3]);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_AUGMENT_H */
