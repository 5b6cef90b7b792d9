/* resize.c - OpenCV INTER_AREA resize plans and the CPU reference loop (see
 * include/mriprep/resize.h and docs/inter_area.md). resize_crop_measure, the CPU
 * backend's crop + min-max + resize + moments of a slice in one pass, is in
 * resize_engine.c.
 *
 * The tables are computed in double and each weight is rounded to float once,
 * exactly as OpenCV's resize.cpp does; the per-pixel float math is in
 * kernels/resize_area.h. resize_area_f32 is the reference the faster engine is
 * tested against (tests/test_cpu_engines.cpp): keep it simple.
 */
#include "mriprep/resize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/zscore_math.h"

/* std::min(a, b) as OpenCV uses it: b only when strictly smaller. */
static double min_d(double a, double b)
{
    return b < a ? b : a;
}

static int32_t min_i32(int32_t a, int32_t b)
{
    return b < a ? b : a;
}

/* AREA_GENERAL taps of one axis (OpenCV's computeResizeAreaTab): n_src source
 * pixels to n_dst output pixels at scale sc = 1/(n_dst/n_src). Writes
 * start [n_dst+1] and taps [start[n_dst]] when they are not NULL; returns the
 * number of taps either way, so a first pass can size the arrays. */
static size_t area_axis_taps(int32_t n_src, int32_t n_dst, double sc, int32_t *start,
                             resize_tap_t *taps)
{
    size_t k = 0;
    int32_t d;

    for (d = 0; d < n_dst; d++) {
        const double f1 = (double)d * sc;
        const double f2 = f1 + sc;
        /* the last cell may stick out of the image; OpenCV divides by the part inside */
        const double cw = min_d(sc, (double)n_src - f1);
        int32_t s1 = (int32_t)ceil(f1);
        int32_t s2 = (int32_t)floor(f2);
        int32_t s;

        s2 = min_i32(s2, n_src - 1);
        s1 = min_i32(s1, s2);
        if (start)
            start[d] = (int32_t)k;
        /* slivers up to 1e-3 px are dropped without renormalising, as OpenCV does */
        if ((double)s1 - f1 > 1e-3) {
            if (taps) {
                taps[k].index = s1 - 1;
                taps[k].weight = (float)(((double)s1 - f1) / cw);
            }
            k++;
        }
        for (s = s1; s < s2; s++) {
            if (taps) {
                taps[k].index = s;
                taps[k].weight = (float)(1.0 / cw);
            }
            k++;
        }
        if (f2 - (double)s2 > 1e-3) {
            if (taps) {
                taps[k].index = s2;
                taps[k].weight = (float)(min_d(min_d(f2 - (double)s2, 1.0), cw) / cw);
            }
            k++;
        }
    }
    if (start)
        start[n_dst] = (int32_t)k;
    return k;
}

/* LINEAR_AREA coefficients of one axis (OpenCV's resizeGeneric with
 * area_mode): index [n_dst] and frac [n_dst]. is_x selects the column rule
 * (clamp to a single tap at the right edge) over the row rule (clamp the row
 * only; the fraction stays). */
static void linear_area_axis(int32_t n_src, int32_t n_dst, int is_x, int32_t *index,
                             float *frac)
{
    const double inv = (double)n_dst / (double)n_src;
    const double sc = 1.0 / inv;
    int32_t d;

    for (d = 0; d < n_dst; d++) {
        int32_t s = (int32_t)floor((double)d * sc);
        float f = (float)((double)(d + 1) - (double)(s + 1) * inv);

        f = (f <= 0.f) ? 0.f : f - floorf(f);
        if (s >= n_src - 1) {
            s = n_src - 1;
            if (is_x)
                f = 0.f;
        }
        index[d] = s;
        frac[d] = f;
    }
}

static mp_status check_dims(int src_w, int src_h, int dst_w, int dst_h, mp_error *err)
{
    if (src_w < 1 || src_h < 1 || dst_w < 1 || dst_h < 1)
        return mp_fail(err, MP_ERR_USAGE, "resize: sizes must be >= 1 (%dx%d -> %dx%d)", src_w,
                       src_h, dst_w, dst_h);
    if (src_w > RESIZE_MAX_DIM || src_h > RESIZE_MAX_DIM || dst_w > RESIZE_MAX_DIM ||
        dst_h > RESIZE_MAX_DIM)
        return mp_fail(err, MP_ERR_LIMIT, "resize: %dx%d -> %dx%d exceeds the %d px limit",
                       src_w, src_h, dst_w, dst_h, RESIZE_MAX_DIM);
    return MP_OK;
}

static mp_status plan_fast(resize_plan_t *plan, mp_error *err)
{
    resize_tables_t *t = &plan->tables;
    const double sx = 1.0 / ((double)t->dst_w / (double)t->src_w);
    const double sy = 1.0 / ((double)t->dst_h / (double)t->src_h);

    t->kx = (int32_t)rint(sx);
    t->ky = (int32_t)rint(sy);
    /* resize_select_path only says FAST for exact integer ratios; the loop
     * reads whole blocks, so make sure they all lie inside the image */
    if (t->kx < 1 || t->ky < 1 || (int64_t)t->kx * t->dst_w != t->src_w ||
        (int64_t)t->ky * t->dst_h != t->src_h)
        return mp_fail(err, MP_ERR_INTERNAL, "resize: %dx%d -> %dx%d is not an integer factor",
                       t->src_w, t->src_h, t->dst_w, t->dst_h);
    t->fast_scale = 1.f / (float)(t->kx * t->ky);
    t->fast_simd_w = (t->kx == 2 && t->ky == 2) ? 4 * (t->dst_w / 4) : 0;
    return MP_OK;
}

static mp_status plan_general(resize_plan_t *plan, mp_error *err)
{
    resize_tables_t *t = &plan->tables;
    const double sx = 1.0 / ((double)t->dst_w / (double)t->src_w);
    const double sy = 1.0 / ((double)t->dst_h / (double)t->src_h);
    const size_t nx = area_axis_taps(t->src_w, t->dst_w, sx, NULL, NULL);
    const size_t ny = area_axis_taps(t->src_h, t->dst_h, sy, NULL, NULL);
    /* one block: taps first, then the start offsets; all members are 4-byte aligned */
    const size_t bytes = (nx + ny) * sizeof(resize_tap_t) +
                         ((size_t)t->dst_w + 1 + (size_t)t->dst_h + 1) * sizeof(int32_t) +
                         2 * (size_t)t->dst_w * sizeof(float);
    resize_tap_t *x_taps, *y_taps;
    int32_t *x_start, *y_start;

    plan->storage = malloc(bytes);
    if (!plan->storage)
        return mp_fail(err, MP_ERR_NOMEM, "resize: out of memory for %zu bytes of tap tables",
                       bytes);
    x_taps = (resize_tap_t *)plan->storage;
    y_taps = x_taps + nx;
    x_start = (int32_t *)(void *)(y_taps + ny);
    y_start = x_start + t->dst_w + 1;
    plan->row_sums = (float *)(void *)(y_start + t->dst_h + 1);
    area_axis_taps(t->src_w, t->dst_w, sx, x_start, x_taps);
    area_axis_taps(t->src_h, t->dst_h, sy, y_start, y_taps);
    t->x_taps = x_taps;
    t->y_taps = y_taps;
    t->x_start = x_start;
    t->y_start = y_start;
    return MP_OK;
}

static mp_status plan_linear_area(resize_plan_t *plan, mp_error *err)
{
    resize_tables_t *t = &plan->tables;
    const size_t bytes = ((size_t)t->dst_w + (size_t)t->dst_h) * (sizeof(int32_t) + sizeof(float));
    int32_t *x_index, *y_index;
    float *x_frac, *y_frac;

    plan->storage = malloc(bytes);
    if (!plan->storage)
        return mp_fail(err, MP_ERR_NOMEM, "resize: out of memory for %zu bytes of tables", bytes);
    x_index = (int32_t *)plan->storage;
    y_index = x_index + t->dst_w;
    x_frac = (float *)(void *)(y_index + t->dst_h);
    y_frac = x_frac + t->dst_w;
    linear_area_axis(t->src_w, t->dst_w, 1, x_index, x_frac);
    linear_area_axis(t->src_h, t->dst_h, 0, y_index, y_frac);
    t->x_index = x_index;
    t->y_index = y_index;
    t->x_frac = x_frac;
    t->y_frac = y_frac;
    return MP_OK;
}

mp_status resize_plan_init(resize_plan_t *plan, int src_w, int src_h, int dst_w, int dst_h,
                           mp_error *err)
{
    mp_status st;

    if (!plan)
        return mp_fail(err, MP_ERR_USAGE, "resize: plan is NULL");
    memset(plan, 0, sizeof *plan);
    st = check_dims(src_w, src_h, dst_w, dst_h, err);
    if (st != MP_OK)
        return st;

    plan->tables.path = (int32_t)resize_select_path(src_w, src_h, dst_w, dst_h);
    plan->tables.src_w = src_w;
    plan->tables.src_h = src_h;
    plan->tables.dst_w = dst_w;
    plan->tables.dst_h = dst_h;
    switch (plan->tables.path) {
    case RESIZE_AREA_FAST:
        st = plan_fast(plan, err);
        break;
    case RESIZE_AREA_GENERAL:
        st = plan_general(plan, err);
        break;
    case RESIZE_LINEAR_AREA:
        st = plan_linear_area(plan, err);
        break;
    default:
        st = MP_OK;
        break;
    }
    if (st != MP_OK)
        resize_plan_free(plan);
    return st;
}

void resize_plan_free(resize_plan_t *plan)
{
    if (!plan)
        return;
    free(plan->storage);
    memset(plan, 0, sizeof *plan);
}

/* AREA_GENERAL a row at a time: the horizontal sums of a source row are computed once
 * and reused by the next output row (neighbouring output rows share a boundary row),
 * then added in tap order. Per pixel these are exactly resize_general_pixel's float
 * operations, in the same order, so the result is bit-identical. */
static void resize_general_rows(const resize_plan_t *plan, const float *src, size_t src_stride, float *dst,
                                size_t dst_stride)
{
    const resize_tables_t *t = &plan->tables;
    float *sums[2] = {plan->row_sums, plan->row_sums + t->dst_w};
    int32_t cached_row[2] = {-1, -1};
    int32_t x, y, j, slot = 0;

    for (y = 0; y < t->dst_h; y++) {
        float *out = dst + (size_t)y * dst_stride;
        const int32_t y0 = t->y_start[y], y1 = t->y_start[y + 1];
        for (j = y0; j < y1; j++) {
            const int32_t r = t->y_taps[j].index;
            const float b = t->y_taps[j].weight;
            const float *h;
            if (cached_row[0] == r || cached_row[1] == r) {
                h = sums[cached_row[0] == r ? 0 : 1];
            } else {
                const float *row = src + (size_t)r * src_stride;
                float *fill = sums[slot];
                for (x = 0; x < t->dst_w; x++)
                    fill[x] = resize_general_hsum(t, row, x);
                cached_row[slot] = r;
                slot ^= 1;
                h = fill;
            }
            if (j == y0) {
                for (x = 0; x < t->dst_w; x++) out[x] = resize_general_vstep(0.f, b, h[x], 1);
            } else {
                for (x = 0; x < t->dst_w; x++) out[x] = resize_general_vstep(out[x], b, h[x], 0);
            }
        }
    }
}

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

/* Packs one array: copies `count` elements from *field to dst + *offset (when dst is
 * not NULL), points *field at base + *offset, and advances *offset. Used with dst NULL
 * to measure. */
#define PACK_ARRAY(field, type, count)                                                              \
    do {                                                                                            \
        size_t bytes_ = sizeof(type) * (size_t)(count);                                             \
        if (dst) memcpy((char *)dst + offset, (field), bytes_);                                     \
        (field) = (const type *)(base + offset);                                                    \
        offset += align8(bytes_);                                                                   \
    } while (0)

/* The arrays of the general and linear-area paths, in one packing order for both the
 * measuring and the copying pass. */
static size_t pack_arrays(resize_tables_t *t, void *dst, uintptr_t base)
{
    size_t offset = 0;
    if (t->path == RESIZE_AREA_GENERAL) {
        const size_t nx = (size_t)t->x_start[t->dst_w], ny = (size_t)t->y_start[t->dst_h];
        PACK_ARRAY(t->x_start, int32_t, t->dst_w + 1);
        PACK_ARRAY(t->x_taps, resize_tap_t, nx);
        PACK_ARRAY(t->y_start, int32_t, t->dst_h + 1);
        PACK_ARRAY(t->y_taps, resize_tap_t, ny);
    } else if (t->path == RESIZE_LINEAR_AREA) {
        PACK_ARRAY(t->x_index, int32_t, t->dst_w);
        PACK_ARRAY(t->x_frac, float, t->dst_w);
        PACK_ARRAY(t->y_index, int32_t, t->dst_h);
        PACK_ARRAY(t->y_frac, float, t->dst_h);
    }
    return offset;
}

size_t resize_tables_packed_size(const resize_tables_t *t)
{
    resize_tables_t copy = *t;
    return pack_arrays(&copy, NULL, 0);
}

void resize_tables_pack(const resize_tables_t *t, void *dst, uintptr_t base, resize_tables_t *packed)
{
    *packed = *t;
    pack_arrays(packed, dst, base);
}

void resize_area_f32(const resize_plan_t *plan, const float *src, size_t src_stride, float *dst,
                     size_t dst_stride)
{
    const resize_tables_t *t = &plan->tables;
    int x, y;

    if (t->path == RESIZE_COPY) {
        /* memcpy keeps every bit, NaN payloads included, like OpenCV's copyTo */
        for (y = 0; y < t->dst_h; y++)
            memcpy(dst + (size_t)y * dst_stride, src + (size_t)y * src_stride,
                   (size_t)t->dst_w * sizeof(float));
        return;
    }
    if (t->path == RESIZE_AREA_GENERAL) {
        resize_general_rows(plan, src, src_stride, dst, dst_stride);
        return;
    }
    for (y = 0; y < t->dst_h; y++) {
        float *out = dst + (size_t)y * dst_stride;
        for (x = 0; x < t->dst_w; x++)
            out[x] = resize_area_pixel(t, src, src_stride, x, y);
    }
}

mp_status resize_area_image(const float *src, int src_w, int src_h, size_t src_stride, float *dst,
                            int dst_w, int dst_h, size_t dst_stride, mp_error *err)
{
    resize_plan_t plan;
    mp_status st;

    if (!src || !dst)
        return mp_fail(err, MP_ERR_USAGE, "resize: %s image is NULL", src ? "output" : "source");
    st = check_dims(src_w, src_h, dst_w, dst_h, err);
    if (st != MP_OK)
        return st;
    if (src_stride < (size_t)src_w)
        return mp_fail(err, MP_ERR_USAGE, "resize: source stride %zu < width %d", src_stride,
                       src_w);
    if (dst_stride < (size_t)dst_w)
        return mp_fail(err, MP_ERR_USAGE, "resize: output stride %zu < width %d", dst_stride,
                       dst_w);
    st = resize_plan_init(&plan, src_w, src_h, dst_w, dst_h, err);
    if (st != MP_OK)
        return st;
    resize_area_f32(&plan, src, src_stride, dst, dst_stride);
    resize_plan_free(&plan);
    return MP_OK;
}

const char *resize_path_name(resize_path_t path)
{
    switch (path) {
    case RESIZE_COPY: return "copy";
    case RESIZE_AREA_FAST: return "area_fast";
    case RESIZE_AREA_GENERAL: return "area_general";
    case RESIZE_LINEAR_AREA: return "linear_area";
    }
    return "unknown";
}
