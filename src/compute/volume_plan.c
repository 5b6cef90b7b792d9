/* volume_plan.c - what is decided for a series between its slice statistics and the
 * building of its volume, once for both backends (include/mriprep/batch.h): which K
 * slices are kept (step 6 of docs/pipeline.md, --center), the crop boxes of --crop
 * volume, the scale of raw moments, and where each voxel goes (layout, --reorient,
 * --depth pad) with the affine that places the result in the patient. */
#include "mriprep/batch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint32_t select_slices(const series_batch_t *b, int32_t slices, int around_largest, uint32_t *selected)
{
    /* The kept slices, counted, and the one with the largest crop box (the first of equals). */
    uint32_t kept = 0, largest = 0;
    int64_t largest_area = -1;
    for (size_t i = 0; i < b->n; i++) {
        const slice_slot_t *s = &b->slots[i];
        if (s->fate != SLICE_KEPT) continue;
        const int64_t area = (int64_t)slice_box_width(s->box) * slice_box_height(s->box);
        if (area > largest_area) largest_area = area, largest = kept;
        kept++;
    }
    if (kept == 0) return 0;
    int32_t depth;
    int32_t start = slice_middle_start((int32_t)kept, slices, &depth);
    if (around_largest && (int32_t)kept > depth) {
        start = (int32_t)largest - depth / 2;
        start = start < 0 ? 0 : start > (int32_t)kept - depth ? (int32_t)kept - depth : start;
    }
    uint32_t k = 0, d = 0;
    for (size_t i = 0; i < b->n && d < (uint32_t)depth; i++) {
        if (b->slots[i].fate != SLICE_KEPT) continue;
        if (k++ >= (uint32_t)start) selected[d++] = (uint32_t)i;
    }
    return (uint32_t)depth;
}

/* The largest |v| a slice's crop can give with --intensity raw: the stored values' range
 * through the slice's own rescale (v is linear in x, so its ends are the extremes). */
static double raw_value_bound(const slice_slot_t *s, int rescale)
{
    double lo = s->min, hi = s->max;
    if (rescale) {
        lo = s->rescale_slope * lo + s->rescale_intercept;
        hi = s->rescale_slope * hi + s->rescale_intercept;
    }
    lo = fabs(lo), hi = fabs(hi);
    return lo > hi ? lo : hi;
}

/* plan_crop's answers: one box for the volume (*box is it), a box per slice, or one box
 * clipped to slices of different sizes (so still no one affine). */
enum { CROP_BOXES_DIFFER = 0, CROP_ONE_BOX = 1, CROP_SIZES_DIFFER = 2 };

/* --crop volume: one box, the union of the selected slices' boxes, given to each of them
 * (every slice keeps its own min-max: pixels outside its own box are at its minimum,
 * v = 0). A slice smaller than the union gets it clipped to its own rows and columns:
 * the union's start lies inside every slice (it is at most that slice's own box's
 * start), its end may not. */
static int plan_crop(const pipeline_options_t *o, series_batch_t *b, const uint32_t *selected, uint32_t depth,
                     slice_box_t *box)
{
    int one_box = 1;
    *box = b->slots[selected[0]].box;
    for (uint32_t d = 1; d < depth; d++) {
        slice_box_t x = b->slots[selected[d]].box;
        if (memcmp(&x, box, sizeof *box) != 0) one_box = 0;
        box->row0 = x.row0 < box->row0 ? x.row0 : box->row0;
        box->col0 = x.col0 < box->col0 ? x.col0 : box->col0;
        box->row1 = x.row1 > box->row1 ? x.row1 : box->row1;
        box->col1 = x.col1 > box->col1 ? x.col1 : box->col1;
    }
    if (o->crop != CROP_VOLUME) return one_box ? CROP_ONE_BOX : CROP_BOXES_DIFFER;
    int sizes_differ = 0;
    const slice_slot_t *first = &b->slots[selected[0]];
    for (uint32_t d = 0; d < depth; d++) {
        slice_slot_t *s = &b->slots[selected[d]];
        s->box = *box;
        if (s->rows != first->rows || s->cols != first->cols) sizes_differ = 1;
        if (s->box.row1 >= (int32_t)s->rows) s->box.row1 = (int32_t)s->rows - 1;
        if (s->box.col1 >= (int32_t)s->cols) s->box.col1 = (int32_t)s->cols - 1;
    }
    return sizes_differ ? CROP_SIZES_DIFFER : CROP_ONE_BOX;
}

/* Raw values: |v| <= bound, so v * 2^-scale_exp lies within [-1/2, 1/2] with room for
 * INTER_AREA's weights summing a few ulps above 1, and the int64 sums cannot overflow
 * (zscore_moments_scaled). */
/* The bound must be finite and within 2^-100..2^100 so that v, its float32 copy and the
 * scale 2^-scale_exp are all finite and nonzero, the same on every backend (a rescale of
 * NaN, inf or 1e308 would otherwise round differently on the CPU and the GPU). Returns 0
 * and the exponent, or 1 with `why` naming the slice and its rescale. */
static int raw_scale_exp(const pipeline_options_t *o, const series_batch_t *b, const uint32_t *selected,
                         uint32_t depth, int32_t *scale_exp, char *why, size_t why_cap)
{
    double bound = 0;
    for (uint32_t d = 0; d < depth; d++) {
        const slice_slot_t *s = &b->slots[selected[d]];
        double x = raw_value_bound(s, o->rescale);
        if (!isfinite(x) || x > 0x1p100 || (x > 0 && x < 0x1p-100)) {
            snprintf(why, why_cap,
                     "--intensity raw: slice %u of the volume (RescaleSlope %g, RescaleIntercept %g, stored %d..%d) "
                     "gives values up to %g, outside what a volume can hold (2^-100..2^100)",
                     d + 1, s->rescale_slope, s->rescale_intercept, s->min, s->max, x);
            return 1;
        }
        bound = x > bound ? x : bound;
    }
    int e = 0;
    if (bound > 0) frexp(2.0 * bound, &e); /* 2 * bound < 2^e */
    *scale_exp = e;
    return 0;
}

int volume_plan(const pipeline_options_t *o, series_batch_t *b, const uint32_t *selected, uint32_t depth,
                slice_geometry_t *geometry, volume_request_t *req, series_result_t *res)
{
    memset(req, 0, sizeof *req);
    req->raw = o->intensity == INTENSITY_RAW;
    req->rescale = o->rescale;
    req->nonzero = o->norm == NORM_NONZERO;
    slice_box_t box;
    const int crop = plan_crop(o, b, selected, depth, &box);
    if (req->raw && raw_scale_exp(o, b, selected, depth, &req->scale_exp, res->reason, sizeof res->reason)) return 1;

    const slice_slot_t *first = &b->slots[selected[0]];
    res->plane = first->geometry.has_orientation ? plane_from_orientation(first->geometry.orientation) : PLANE_UNKNOWN;
    res->order = b->order;
    for (uint32_t d = 0; d < depth; d++) geometry[d] = b->slots[selected[d]].geometry;

    /* Voxel (x, y, d) -> LPS: known with one box, evenly spaced slices and full geometry. */
    double voxel_affine[3][4];
    char why[160] = "";
    int has_affine = 0;
    if (crop == CROP_BOXES_DIFFER)
        snprintf(why, sizeof why, "each slice has its own crop box (--crop slice), so no one affine fits");
    else if (crop == CROP_SIZES_DIFFER)
        snprintf(why, sizeof why, "the slices differ in rows x columns, so no one affine fits");
    else
        has_affine = volume_affine(geometry, depth, box.row0, box.col0, slice_box_height(box), slice_box_width(box),
                                   o->out_w, o->out_h, voxel_affine, why, sizeof why);

    /* Patient axis a (0 = L, 1 = P, 2 = S) <- voxel axis source_axis[a], flipped or not.
     * Without --reorient: x as L, y as P, d as S, as they come. */
    int source_axis[3] = {0, 1, 2}, flip[3] = {0, 0, 0};
    res->reoriented = 0;
    if (o->reorient) {
        double directions[3][4];
        char dir_why[160] = "";
        if (has_affine) {
            canonical_axes((const double(*)[4])voxel_affine, source_axis, flip);
            res->reoriented = 1;
        } else if (volume_directions(geometry, depth, directions, dir_why, sizeof dir_why)) {
            canonical_axes((const double(*)[4])directions, source_axis, flip);
            res->reoriented = 1;
        } else {
            snprintf(res->geometry_note, sizeof res->geometry_note, "not reoriented: %s", dir_why);
        }
    }
    if (!has_affine && !res->geometry_note[0])
        snprintf(res->geometry_note, sizeof res->geometry_note, "no affine: %s", why);

    /* Output axes in layout order, as patient axes: hwd = (P, L, S), dhw = (S, P, L). */
    static const int layout_axes[2][3] = {{1, 0, 2}, {2, 1, 0}};
    const uint32_t out_depth = o->depth == DEPTH_PAD ? (uint32_t)o->slices : depth;
    const uint64_t source_size[3] = {(uint64_t)o->out_w, (uint64_t)o->out_h, out_depth};
    volume_map_t *m = &req->map;
    m->pad_before = (out_depth - depth) / 2;
    m->depth = depth;
    for (int t = 0; t < 3; t++) {
        int a = layout_axes[o->layout == LAYOUT_DHW][t];
        m->source_axis[t] = source_axis[a];
        m->flip[t] = flip[a];
        m->dims[t] = source_size[source_axis[a]];
    }
    res->has_affine = has_affine;
    if (has_affine) affine_of_output((const double(*)[4])voxel_affine, m->source_axis, m->flip, m->dims, m->pad_before, res->affine);
    return 0;
}
