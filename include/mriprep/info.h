/* info.h - what one DICOM file holds (`mriprep info FILE.dcm`): its header, and the
 * range, mean and share of zeros of its stored values, as text for a person or JSON.
 *
 * JSON keys (stable): file, file_bytes, status ("ok" or the error's kind), error; when
 * the header was read: rows, columns, frames, bits_allocated, bits_stored, high_bit,
 * pixel_representation, dtype, photometric_interpretation, rescale_slope,
 * rescale_intercept, transfer_syntax, transfer_syntax_name, pixel_spacing,
 * image_position_patient, image_orientation_patient, plane, instance_number; when the
 * pixels were decoded: min, max, mean, zero_fraction.
 */
#ifndef MRIPREP_INFO_H
#define MRIPREP_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/dicom.h"
#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct file_info {
    const char *path;
    dicom_header_t header; /* filled when the header was readable (readable = 1) */
    int readable;
    mp_status status;      /* of the decode: MP_OK when the pixels are below */
    mp_error error;
    int32_t min, max;      /* stored values */
    double mean;
    double zero_fraction;
} file_info_t;

/* Reads and decodes `path` (dicom_global_init() first). A file that cannot be read or
 * decoded is described, not an error: see info->status and info->error. */
void file_info_read(const char *path, file_info_t *info);

/* Decodes `path` and writes its stored values to `npy` as a [rows][cols] array, '<i2'
 * when PixelRepresentation is 1 and '<u2' otherwise (8-bit files widened): what
 * pydicom's pixel_array holds, after DICOM's stored-values rule. */
mp_status file_info_write_npy(const char *path, const char *npy, mp_error *err);

/* The description as a malloc'd string (NULL when out of memory): lines for a person,
 * or a JSON document (keys above). */
char *file_info_text(const file_info_t *info);
char *file_info_json(const file_info_t *info);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_INFO_H */
