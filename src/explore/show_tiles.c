/* show_tiles.c - the tiles of `mriprep show` (src/explore/show_tiles.h). */
#include "show_tiles.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/slice_math.h"
#include "mriprep/dicom.h"
#include "mriprep/npy_read.h"
#include "mriprep/resize.h"

/* 8-bit gray of a value in [0, 1]: floor(v * 255 + 0.5) in float32, clamped. */
static uint8_t to_gray8(float v)
{
    float g = v * 255.0f + 0.5f;
    if (!(g >= 1.0f)) return 0; /* also NaN */
    if (g >= 255.0f) return 255;
    return (uint8_t)g;
}

/* Resizes a [h][w] float image in [0, 1] to [size][size] grays. */
static mp_status scale_to_tile(const float *img, int w, int h, int size, float *resized, uint8_t *tile,
                               mp_error *err)
{
    mp_status st = resize_area_image(img, w, h, (size_t)w, resized, size, size, (size_t)size, err);
    if (st != MP_OK) return st;
    for (size_t i = 0; i < (size_t)size * (size_t)size; i++) tile[i] = to_gray8(resized[i]);
    return MP_OK;
}

void scratch_free(scratch_t *s)
{
    free(s->img);
    free(s->resized);
    memset(s, 0, sizeof *s);
}

mp_status scratch_reserve(scratch_t *s, size_t n_img, int size, mp_error *err)
{
    if (!s->resized) {
        s->resized = malloc((size_t)size * (size_t)size * sizeof *s->resized);
        if (!s->resized) return mp_fail(err, MP_ERR_NOMEM, "out of memory for a %d x %d tile", size, size);
    }
    if (n_img > s->img_cap) {
        float *grown = realloc(s->img, n_img * sizeof *grown);
        if (!grown) return mp_fail(err, MP_ERR_NOMEM, "out of memory for a slice of %zu pixels", n_img);
        s->img = grown;
        s->img_cap = n_img;
    }
    return MP_OK;
}

mp_status dicom_tile(const char *file, int size, scratch_t *s, uint8_t *tile, int *blank, mp_error *err)
{
    *blank = 0;
    dicom_header_t hdr;
    uint16_t *words = NULL;
    mp_status st = dicom_decode_image_alloc(file, &hdr, &words, err);
    if (st != MP_OK) return st;
    size_t n = (size_t)hdr.rows * hdr.cols;
    int is_signed = hdr.pixel_representation == 1;
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t i = 0; i < n; i++) {
        int32_t v = slice_stored_value(words[i], is_signed);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (lo == hi) {
        free(words);
        *blank = 1;
        return MP_OK;
    }
    st = scratch_reserve(s, n, size, err);
    if (st == MP_OK) {
        float range = (float)(hi - lo);
        for (size_t i = 0; i < n; i++)
            s->img[i] = slice_minmax_value(slice_stored_value(words[i], is_signed), lo, range);
        st = scale_to_tile(s->img, (int)hdr.cols, (int)hdr.rows, size, s->resized, tile, err);
    }
    free(words);
    return st;
}

void volume_free(volume_t *v)
{
    free(v->values);
    memset(v, 0, sizeof *v);
}

mp_status volume_load(const char *path, volume_layout_t layout, volume_t *v, mp_error *err)
{
    memset(v, 0, sizeof *v);
    npy_array_t a;
    mp_status st = npy_read(path, &a, err);
    if (st != MP_OK) return st;
    char shape[128];
    size_t used = (size_t)snprintf(shape, sizeof shape, "(");
    for (int i = 0; i < a.ndim && used < sizeof shape; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)a.shape[i]);
    if (used < sizeof shape) snprintf(shape + used, sizeof shape - used, "%s)", a.ndim == 1 ? "," : "");
    if (a.ndim == 3) {
        if (layout == LAYOUT_HWD) v->h = (int64_t)a.shape[0], v->w = (int64_t)a.shape[1], v->d = (int64_t)a.shape[2];
        else v->d = (int64_t)a.shape[0], v->h = (int64_t)a.shape[1], v->w = (int64_t)a.shape[2];
    } else if (a.ndim == 2) {
        v->h = (int64_t)a.shape[0], v->w = (int64_t)a.shape[1], v->d = 1;
    } else {
        npy_free(&a);
        return mp_fail(err, MP_ERR_FORMAT, "%s: shape %s: a volume has 3 dimensions (or 2 for one slice)", path, shape);
    }
    if (v->h < 1 || v->w < 1 || v->d < 1 || v->h > RESIZE_MAX_DIM || v->w > RESIZE_MAX_DIM) {
        npy_free(&a);
        return mp_fail(err, MP_ERR_FORMAT, "%s: shape %s (%s): no slice of 1..%d x 1..%d pixels in it", path, shape,
                       layout == LAYOUT_HWD ? "H, W, D" : "D, H, W", RESIZE_MAX_DIM, RESIZE_MAX_DIM);
    }
    v->layout = a.ndim == 2 ? LAYOUT_DHW : layout;
    v->values = malloc(a.count * sizeof *v->values);
    if (!v->values) {
        npy_free(&a);
        return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory for %zu values", path, a.count);
    }
    for (size_t i = 0; i < a.count; i++) {
        float x = npy_value_as_float(&a, i);
        v->values[i] = x;
        if (!isfinite(x)) continue;
        if (!v->any_finite || x < v->lo) v->lo = x;
        if (!v->any_finite || x > v->hi) v->hi = x;
        v->any_finite = 1;
    }
    npy_free(&a);
    return MP_OK;
}

mp_status volume_tile(const volume_t *v, int64_t k, int size, scratch_t *s, uint8_t *tile, int *blank,
                             mp_error *err)
{
    *blank = 0;
    size_t n = (size_t)v->h * (size_t)v->w;
    mp_status st = scratch_reserve(s, n, size, err);
    if (st != MP_OK) return st;
    /* [h][w] raw values of slice k */
    for (int64_t y = 0; y < v->h; y++)
        for (int64_t x = 0; x < v->w; x++) {
            size_t at = v->layout == LAYOUT_HWD ? ((size_t)y * (size_t)v->w + (size_t)x) * (size_t)v->d + (size_t)k
                                                : (size_t)k * n + (size_t)y * (size_t)v->w + (size_t)x;
            s->img[(size_t)y * (size_t)v->w + (size_t)x] = v->values[at];
        }
    int any = 0;
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        float x = s->img[i];
        if (!isfinite(x)) continue;
        if (!any || x < lo) lo = x;
        if (!any || x > hi) hi = x;
        any = 1;
    }
    if (!any || lo == hi) {
        *blank = 1;
        return MP_OK;
    }
    /* The volume's range is wider than zero here: this slice has two different values. */
    float range = v->hi - v->lo;
    for (size_t i = 0; i < n; i++) {
        float x = s->img[i];
        s->img[i] = isfinite(x) ? (x - v->lo) / range : 0.0f;
    }
    return scale_to_tile(s->img, (int)v->w, (int)v->h, size, s->resized, tile, err);
}

