/* info.c - see include/mriprep/info.h. */
#include "mriprep/info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/slice_math.h"
#include "mriprep/geometry.h"
#include "mriprep/json.h"
#include "mriprep/npy_write.h"

void file_info_read(const char *path, file_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->path = path;
    mp_error_clear(&info->error);
    uint16_t *px = NULL;
    dicom_header_t *h = &info->header;
    info->status = dicom_decode_image_alloc(path, h, &px, &info->error);
    info->readable = h->rows != 0; /* the header was read even when the pixels were not */
    const size_t n = (size_t)h->rows * h->cols;
    if (info->status == MP_OK && n) {
        const int is_signed = h->pixel_representation == 1;
        int64_t sum = 0;
        size_t zeros = 0;
        info->min = info->max = slice_stored_value(px[0], is_signed);
        for (size_t i = 0; i < n; i++) {
            const int32_t v = slice_stored_value(px[i], is_signed);
            info->min = v < info->min ? v : info->min;
            info->max = v > info->max ? v : info->max;
            sum += v;
            zeros += v == 0;
        }
        info->mean = (double)sum / (double)n;
        info->zero_fraction = (double)zeros / (double)n;
    }
    free(px);
}

mp_status file_info_write_npy(const char *path, const char *npy, mp_error *err)
{
    dicom_header_t h;
    uint16_t *px = NULL;
    mp_status st = dicom_decode_image_alloc(path, &h, &px, err);
    if (st == MP_OK) {
        const uint64_t shape[2] = {h.rows, h.cols};
        st = npy_write_atomic(npy, h.pixel_representation == 1 ? "<i2" : "<u2", shape, 2, px,
                              (size_t)h.rows * h.cols * sizeof *px, NULL, err);
    }
    free(px);
    return st;
}

static const char *plane_of(const dicom_header_t *h)
{
    return h->has_orientation ? plane_name(plane_from_orientation(h->orientation)) : "unknown";
}

static void json_numbers(json_writer_t *j, const char *key, const double *v, int n)
{
    json_array_begin(j, key);
    for (int i = 0; i < n; i++) json_double(j, NULL, v[i]);
    json_array_end(j);
}

static void json_header(json_writer_t *j, const dicom_header_t *h)
{
    json_uint(j, "rows", h->rows);
    json_uint(j, "columns", h->cols);
    json_uint(j, "frames", h->frames);
    json_uint(j, "bits_allocated", h->bits_allocated);
    json_uint(j, "bits_stored", h->bits_stored);
    json_uint(j, "high_bit", h->high_bit);
    json_uint(j, "pixel_representation", h->pixel_representation);
    json_string(j, "dtype", h->bits_allocated == 8 ? (h->pixel_representation ? "int8" : "uint8")
                                                   : (h->pixel_representation ? "int16" : "uint16"));
    json_string(j, "photometric_interpretation", h->photometric);
    json_double(j, "rescale_slope", h->rescale_slope);
    json_double(j, "rescale_intercept", h->rescale_intercept);
    json_string(j, "transfer_syntax", h->transfer_syntax);
    json_string(j, "transfer_syntax_name", h->transfer_syntax_name);
    if (h->has_spacing) json_numbers(j, "pixel_spacing", h->spacing, 2);
    if (h->has_position) json_numbers(j, "image_position_patient", h->position, 3);
    if (h->has_orientation) json_numbers(j, "image_orientation_patient", h->orientation, 6);
    json_string(j, "plane", plane_of(h));
    if (h->has_instance) json_int(j, "instance_number", h->instance_number);
    json_bool(j, "mosaic", h->mosaic);
    if (h->mosaic_images) json_uint(j, "mosaic_images", h->mosaic_images);
}

char *file_info_json(const file_info_t *info)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, NULL);
    json_string(&j, "file", info->path);
    json_uint(&j, "file_bytes", info->header.file_bytes);
    json_string(&j, "status", info->status == MP_OK ? "ok" : mp_status_name(info->status));
    json_string(&j, "error", info->status == MP_OK ? NULL : info->error.msg);
    if (info->readable) json_header(&j, &info->header);
    if (info->status == MP_OK) {
        json_int(&j, "min", info->min);
        json_int(&j, "max", info->max);
        json_double(&j, "mean", info->mean);
        json_double(&j, "zero_fraction", info->zero_fraction);
    }
    json_object_end(&j);
    if (j.failed) {
        json_free(&j);
        return NULL;
    }
    return j.text; /* the writer's string, now the caller's */
}

char *file_info_text(const file_info_t *info)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    const dicom_header_t *h = &info->header;
    fprintf(f, "file: %s (%llu bytes)\n", info->path, (unsigned long long)h->file_bytes);
    if (info->readable) {
        fprintf(f, "image: %u x %u (rows x columns), %u frame%s, %s %u-bit (stored %u, high bit %u), %s\n", h->rows,
                h->cols, h->frames, h->frames == 1 ? "" : "s", h->pixel_representation ? "signed" : "unsigned",
                h->bits_allocated, h->bits_stored, h->high_bit, h->photometric[0] ? h->photometric : "?");
        fprintf(f, "transfer syntax: %s (%s)\n", h->transfer_syntax_name ? h->transfer_syntax_name : "?",
                h->transfer_syntax);
        fprintf(f, "rescale: slope %g, intercept %g\n", h->rescale_slope, h->rescale_intercept);
        if (h->has_spacing) fprintf(f, "pixel spacing: %g x %g mm\n", h->spacing[0], h->spacing[1]);
        if (h->has_position) fprintf(f, "position: %g, %g, %g mm\n", h->position[0], h->position[1], h->position[2]);
        if (h->has_orientation)
            fprintf(f, "orientation: %g, %g, %g / %g, %g, %g (%s)\n", h->orientation[0], h->orientation[1],
                    h->orientation[2], h->orientation[3], h->orientation[4], h->orientation[5], plane_of(h));
        if (h->has_instance) fprintf(f, "instance number: %d\n", (int)h->instance_number);
        if (h->mosaic) {
            fprintf(f, "Siemens mosaic: one image holding a grid of slices");
            if (h->mosaic_images) fprintf(f, " (%u slices)", h->mosaic_images);
            fprintf(f, "; `run` refuses it (unpack it first, e.g. with dcm2niix)\n");
        }
    }
    if (info->status == MP_OK)
        fprintf(f, "pixels: min %d, max %d, mean %.2f, %.1f%% zeros\n", (int)info->min, (int)info->max, info->mean,
                100.0 * info->zero_fraction);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
