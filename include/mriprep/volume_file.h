/* volume_file.h - write stage: one volume to its file in OUT, in the run's format.
 *
 *   --format npy     OUT/<split>/<id>/<MOD>.npy: the array in the layout's shape (npy_write.h)
 *   --format nii     OUT/<split>/<id>/<MOD>.nii: NIfTI-1 float32 (nifti.h), the C-order
 *                    array (A0, A1, A2) as NIfTI's (i, j, k) = (A2, A1, A0), its affine
 *                    (index -> LPS) turned into NIfTI's RAS
 *   --format nii.gz  the same through gzip
 * and, with --augment rot90, the copy turned by k quarter turns beside it
 * (<MOD>.rot<90k>.<ext>). Every file is written atomically (fs.h).
 */
#ifndef MRIPREP_VOLUME_FILE_H
#define MRIPREP_VOLUME_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/dataset.h"
#include "mriprep/error.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum output_format {
    FORMAT_NPY = 0,
    FORMAT_NII = 1,
    FORMAT_NII_GZ = 2
} output_format_t;

/* "npy", "nii", "nii.gz" (also the file extension, after a dot). */
const char *output_format_name(output_format_t format);

/* The format a word names; MP_ERR_USAGE "--format 'x': expected npy, nii or nii.gz". */
mp_status output_format_parse(const char *word, output_format_t *format, mp_error *err);

/* The path relative to OUT of series s's volume ("train/00000/FLAIR.npy"), or with
 * turns 1..3 of its rotated copy ("train/00000/FLAIR.rot180.npy"). */
void volume_file_name(const series_t *s, output_format_t format, int turns, char *buf, size_t cap);

/* Bytes of the .npy file of a volume of `depth` slices in the options' layout and dtype. */
uint64_t npy_volume_file_bytes(const pipeline_options_t *p, uint64_t depth);

/* One volume as the pipeline gives it: values in shape order, and where it lies. */
typedef struct volume_view {
    const void *data;     /* [shape[0]][shape[1]][shape[2]] of dtype */
    uint64_t shape[3];
    volume_dtype_t dtype;
    int has_affine;
    double affine[3][4];  /* index (i0, i1, i2) -> LPS mm, when has_affine */
    volume_padding_t padding; /* its zero slices, which the writer takes as zero without
                                 reading them (all 0: none) */
} volume_view_t;

/* The end (a byte offset) of the run of bytes in zero slices that starts at byte `from`
 * of the values of a volume of `esize`-byte elements shaped p->dims; `from` itself when
 * the element there holds a value (volume_padding_zero_end in bytes; p must have zero
 * slices). A volume padded along its first axis has two such runs, one padded along its
 * second two per plane. */
size_t volume_padding_zero_until(const volume_padding_t *p, size_t esize, size_t from);

/* Writes `v` to `path` in `format` (NIfTI takes float32 only: MP_ERR_USAGE otherwise).
 * `name` goes into a NIfTI header's description ("mriprep train/00000/FLAIR"). */
mp_status volume_file_write(const char *path, output_format_t format, const char *name, const volume_view_t *v,
                            mp_error *err);

/* Writes the copy of `v` turned by `turns` quarter turns in the plane of its slices
 * (axes 0, 1 for layout hwd; 1, 2 for dhw), as np.rot90, with its own affine, into
 * `scratch` (room for one volume) and then to `path`. */
mp_status volume_file_write_rotated(const char *path, output_format_t format, const char *name,
                                    const volume_view_t *v, volume_layout_t layout, int turns, void *scratch,
                                    mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_VOLUME_FILE_H */
