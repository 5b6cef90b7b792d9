/* volume_file.c - see include/mriprep/volume_file.h. */
#include "mriprep/volume_file.h"

#include <stdio.h>
#include <string.h>

#include "mriprep/augment.h"
#include "mriprep/geometry.h"
#include "mriprep/nifti.h"
#include "mriprep/npy_write.h"

static const char *const FORMAT_NAMES[] = {"npy", "nii", "nii.gz"};

const char *output_format_name(output_format_t format)
{
    return (unsigned)format <= FORMAT_NII_GZ ? FORMAT_NAMES[format] : "npy";
}

mp_status output_format_parse(const char *word, output_format_t *format, mp_error *err)
{
    for (int f = FORMAT_NPY; f <= FORMAT_NII_GZ; f++)
        if (!strcmp(word, FORMAT_NAMES[f])) {
            *format = (output_format_t)f;
            return MP_OK;
        }
    return mp_fail(err, MP_ERR_USAGE, "--format '%.200s': expected npy, nii or nii.gz", word);
}

void volume_file_name(const series_t *s, output_format_t format, int turns, char *buf, size_t cap)
{
    char suffix[32];
    if (turns) snprintf(suffix, sizeof suffix, ".rot%d.%s", 90 * turns, output_format_name(format));
    else snprintf(suffix, sizeof suffix, ".%s", output_format_name(format));
    series_name(s, suffix, buf, cap);
}

uint64_t npy_volume_file_bytes(const pipeline_options_t *p, uint64_t depth)
{
    uint64_t shape[3];
    if (p->layout == LAYOUT_DHW) shape[0] = depth, shape[1] = (uint64_t)p->out_h, shape[2] = (uint64_t)p->out_w;
    else shape[0] = (uint64_t)p->out_h, shape[1] = (uint64_t)p->out_w, shape[2] = depth;
    char header[256];
    return npy_header(header, sizeof header, volume_dtype_npy_descr(p->dtype), shape, 3) +
           (uint64_t)p->out_w * (uint64_t)p->out_h * depth * volume_dtype_size(p->dtype);
}

size_t volume_padding_zero_until(const volume_padding_t *p, size_t esize, size_t from)
{
    const uint64_t e = from / esize, end = volume_padding_zero_end(p, e);
    return end > e ? (size_t)(end * esize) : from;
}

/* A volume's zero slices as the sparse writer's hint (fs.h). */
typedef struct padding_hint {
    volume_padding_t padding;
    size_t esize;
} padding_hint_t;

static size_t padding_zero_until(const void *ctx, size_t from)
{
    const padding_hint_t *h = ctx;
    return volume_padding_zero_until(&h->padding, h->esize, from);
}

mp_status volume_file_write(const char *path, output_format_t format, const char *name, const volume_view_t *v,
                            mp_error *err)
{
    const size_t bytes = (size_t)(v->shape[0] * v->shape[1] * v->shape[2]) * volume_dtype_size(v->dtype);
    const padding_hint_t padding = {v->padding, volume_dtype_size(v->dtype)};
    const zero_hint_t hint = {padding_zero_until, &padding};
    /* A hint only where a run of zero slices (the longest: one run's last positions and
     * the next one's first) can cover a whole file block: not for zeros at the ends of
     * short rows, which the writer would ask about at every block for nothing. */
    const volume_padding_t *pad = &v->padding;
    const int useful = pad->before + pad->after > 0 && pad->dims[0] == v->shape[0] && pad->dims[1] == v->shape[1] &&
                       pad->dims[2] == v->shape[2] &&
                       (pad->before + pad->after) * volume_padding_locate(pad, 0).stride * padding.esize >=
                           ATOMIC_FILE_BLOCK;
    const zero_hint_t *zeros = useful ? &hint : NULL;
    if (format == FORMAT_NPY)
        return npy_write_atomic(path, volume_dtype_npy_descr(v->dtype), v->shape, 3, v->data, bytes, zeros, err);
    if (v->dtype != DTYPE_FLOAT32) return mp_fail(err, MP_ERR_USAGE, "%s: NIfTI-1 has no float16 type", path);
    nifti_volume_t nv;
    memset(&nv, 0, sizeof nv);
    nv.nx = (int64_t)v->shape[2], nv.ny = (int64_t)v->shape[1], nv.nz = (int64_t)v->shape[0];
    nv.data = v->data;
    nv.has_affine = v->has_affine;
    if (v->has_affine) affine_for_nifti(v->affine, nv.affine);
    char description[80];
    snprintf(description, sizeof description, "mriprep %s", name);
    nv.description = description;
    nv.zeros = zeros;
    return nifti_write_atomic(path, &nv, format == FORMAT_NII_GZ, err);
}

mp_status volume_file_write_rotated(const char *path, output_format_t format, const char *name,
                                    const volume_view_t *v, volume_layout_t layout, int turns, void *scratch,
                                    mp_error *err)
{
    const int a = layout == LAYOUT_DHW ? 1 : 0;
    volume_view_t rotated = *v;
    rotated.data = scratch;
    memset(&rotated.padding, 0, sizeof rotated.padding); /* its zero slices moved: found by reading */
    rot90_volume(v->data, v->shape, a, volume_dtype_size(v->dtype), turns, scratch, rotated.shape);
    if (v->has_affine) affine_of_rot90(v->affine, v->shape, a, turns, rotated.affine);
    return volume_file_write(path, format, name, &rotated, err);
}
