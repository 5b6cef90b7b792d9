/* augment.h - geometric augmentation of output slices (the notebook's rot90 copies).
 *
 * The index math is kernels/volume_math.h's rot90_index(), shared with the CUDA kernel
 * mp_rot90 (cuda_rot90() in cuda_backend.h runs it on the device).
 */
#ifndef MRIPREP_AUGMENT_H
#define MRIPREP_AUGMENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rotates an [h][w] float32 plane by k quarter turns counter-clockwise, as
 * np.rot90(plane, k): dst is [h][w] for even k, [w][h] for odd k (k = 3 is np.rot90(a, -1),
 * OpenCV's ROTATE_90_CLOCKWISE). src and dst must not overlap. */
void rot90_plane(const float *src, int32_t h, int32_t w, int k, float *dst);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_AUGMENT_H */
