/* nifti.h - write stage for --format nii / nii.gz: a volume as a NIfTI-1 file.
 *
 * One file, header and data together (magic "n+1", data at byte 352), little endian,
 * float32 (NIfTI-1 has no float16 type). The data is the volume in NIfTI's order, x
 * fastest: a C-order [nz][ny][nx] array, which nibabel returns as shape (nx, ny, nz).
 * The affine maps voxel indices (i, j, k) to RAS+ millimetres (NIfTI's world space;
 * DICOM's patient space is LPS, so x and y change sign). nii.gz is the same bytes through
 * gzip. Written like every output: a temporary name, then a rename.
 */
#ifndef MRIPREP_NIFTI_H
#define MRIPREP_NIFTI_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/fs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NIFTI_HEADER_BYTES 348
#define NIFTI_DATA_OFFSET 352 /* header + the 4-byte extension flag (no extensions) */

typedef struct nifti_volume {
    int64_t nx, ny, nz;     /* voxels along i, j, k (dim[1..3]) */
    const float *data;      /* [nz][ny][nx] */
    double affine[3][4];    /* (i, j, k, 1) -> RAS+ mm; used when has_affine */
    int has_affine;         /* 0: geometry unknown (sform/qform codes 0, unit voxels):
                               readers then place the volume nowhere in particular */
    const char *description; /* up to 79 bytes, e.g. "mriprep 0.1 train/00000/FLAIR" */
    const zero_hint_t *zeros; /* what `data` is known to hold zero (fs.h), for .nii; NULL: nothing */
} nifti_volume_t;

/* The 352 bytes before the data: header, then 4 zero bytes (no extensions). The voxel
 * sizes are the lengths of the affine's columns; the qform holds the affine's rotation
 * as a quaternion (qfac -1 for a left-handed affine) and the sform the affine itself,
 * both with code 1 (scanner anatomical) when has_affine. */
void nifti_header(const nifti_volume_t *v, unsigned char out[NIFTI_DATA_OFFSET]);

/* Writes `v` to `path` atomically; gzip when `compress` (level 1: outputs are written
 * once per run and read by training code; smaller files cost more than they save).
 * MP_ERR_WRITE naming the path on failure. */
mp_status nifti_write_atomic(const char *path, const nifti_volume_t *v, int compress, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_NIFTI_H */
