/* show_tiles.h - private to src/explore: one tile of `mriprep show`, a slice scaled to
 * [0, 1], resized to size x size with the INTER_AREA resize and rounded to 8-bit grays,
 * from a DICOM file or from a slice of a .npy volume (show.h says how each is scaled). */
#ifndef MRIPREP_SHOW_TILES_H
#define MRIPREP_SHOW_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/pipeline.h"

/* Scratch memory of a series, grown as slices need it. */
typedef struct scratch {
    float *img;     /* [rows][cols] the slice in [0, 1] */
    size_t img_cap; /* floats */
    float *resized; /* [size][size] */
} scratch_t;

void scratch_free(scratch_t *s);

/* Room for a slice of n_img pixels and a size x size tile. */
mp_status scratch_reserve(scratch_t *s, size_t n_img, int size, mp_error *err);

/* Decodes one DICOM file into tile [size][size]: its stored values min-max scaled to
 * [0, 1] in float32 as numpy does, resized, rounded. *blank = 1 (tile untouched) when
 * the slice is constant. Decode errors come back with dicom.h's message. */
mp_status dicom_tile(const char *file, int size, scratch_t *s, uint8_t *tile, int *blank, mp_error *err);

/* A .npy volume as floats, its slices laid out as `layout` says. */
typedef struct volume {
    float *values;     /* [count] as float, layout as in the file */
    int64_t h, w, d;   /* slice rows, columns, and slices */
    volume_layout_t layout;
    float lo, hi;      /* min and max of the finite values */
    int any_finite;
} volume_t;

/* Reads `path` (npy_read.h): 3 dimensions (or 2 for one slice). */
mp_status volume_load(const char *path, volume_layout_t layout, volume_t *v, mp_error *err);
void volume_free(volume_t *v);

/* Slice k of the volume into tile [size][size], scaled by the volume's min and max.
 * *blank = 1 when the slice is constant (over its finite values; non-finite values are
 * drawn black). */
mp_status volume_tile(const volume_t *v, int64_t k, int size, scratch_t *s, uint8_t *tile, int *blank,
                      mp_error *err);

#endif /* MRIPREP_SHOW_TILES_H */
