/* geometry.c - see include/mriprep/geometry.h. */
#include "mriprep/geometry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mriprep/augment.h"

image_plane_t plane_from_orientation(const double o[6])
{
    const double n[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    const double len = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    if (!(len > 1e-6)) return PLANE_UNKNOWN;
    int axis = 0;
    for (int i = 1; i < 3; i++)
        if (fabs(n[i]) > fabs(n[axis])) axis = i;
    /* cos 25.8 degrees: scanners tilt a few degrees; more than that is an oblique series. */
    if (fabs(n[axis]) / len < 0.9) return PLANE_OBLIQUE;
    return axis == 0 ? PLANE_SAGITTAL : axis == 1 ? PLANE_CORONAL : PLANE_AXIAL;
}

const char *plane_name(image_plane_t plane)
{
    switch (plane) {
    case PLANE_AXIAL: return "axial";
    case PLANE_SAGITTAL: return "sagittal";
    case PLANE_CORONAL: return "coronal";
    case PLANE_OBLIQUE: return "oblique";
    case PLANE_UNKNOWN: break;
    }
    return "unknown";
}

const char *slice_order_name(slice_order_used_t order)
{
    switch (order) {
    case ORDER_BY_POSITION: return "position";
    case ORDER_BY_INSTANCE: return "instance";
    case ORDER_BY_NAME: break;
    }
    return "name";
}

/* The slice normal: row direction x column direction. */
static void slice_normal(const double o[6], double n[3])
{
    n[0] = o[1] * o[5] - o[2] * o[4];
    n[1] = o[2] * o[3] - o[0] * o[5];
    n[2] = o[0] * o[4] - o[1] * o[3];
}

static double dot3(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

typedef struct order_key {
    double key;
    size_t index;
} order_key_t;

static int by_key(const void *a, const void *b)
{
    const order_key_t *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index); /* stable: file-name order */
}

slice_order_used_t slice_anatomical_order(const slice_geometry_t *g, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (n < 2) return n && g[0].has_position && g[0].has_orientation ? ORDER_BY_POSITION : ORDER_BY_NAME;
    int positions = g[0].has_orientation, instances = 1;
    for (size_t i = 0; i < n; i++) {
        positions &= g[i].has_position;
        instances &= g[i].has_instance;
    }
    double normal[3] = {0, 0, 0};
    if (positions) {
        slice_normal(g[0].orientation, normal);
        positions = dot3(normal, normal) > 1e-12;
    }
    slice_order_used_t used = positions ? ORDER_BY_POSITION : instances ? ORDER_BY_INSTANCE : ORDER_BY_NAME;
    if (used == ORDER_BY_NAME) return used;
    order_key_t *keys = malloc(n * sizeof *keys);
    if (!keys) { /* a few bytes per file; without them, the file-name order */
        return ORDER_BY_NAME;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i].key = used == ORDER_BY_POSITION ? dot3(g[i].position, normal) : (double)g[i].instance;
        keys[i].index = i;
    }
    qsort(keys, n, sizeof *keys, by_key);
    for (size_t i = 0; i < n; i++) order[i] = keys[i].index;
    free(keys);
    return used;
}

static int by_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int slice_positions_along_normal(const slice_geometry_t *g, size_t n, double *along)
{
    if (n == 0 || !g[0].has_orientation) return 0;
    double normal[3];
    slice_normal(g[0].orientation, normal);
    if (dot3(normal, normal) <= 1e-12) return 0;
    for (size_t i = 0; i < n; i++)
        if (!g[i].has_position) return 0;
    for (size_t i = 0; i < n; i++) along[i] = dot3(g[i].position, normal);
    return 1;
}

int slice_positions_repeat(const slice_geometry_t *g, size_t n, uint32_t *positions, uint32_t *volumes)
{
    *positions = (uint32_t)n;
    *volumes = 1;
    if (n < 2) return 0;
    double *along = malloc(n * sizeof *along);
    if (!along) return 0; /* a few bytes a file; without them, no finding */
    if (!slice_positions_along_normal(g, n, along)) {
        free(along);
        return 0;
    }
    qsort(along, n, sizeof *along, by_double);
    /* Runs of equal positions: their count, and whether all runs have one length. */
    uint32_t distinct = 0, run = 0, run_length = 0;
    int even = 1;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && along[i] - along[i - 1] < SLICE_SAME_POSITION_MM) {
            run++;
            continue;
        }
        if (i > 0) {
            if (distinct == 1) run_length = run;
            else if (run != run_length) even = 0;
        }
        distinct++;
        run = 1;
    }
    if (distinct == 1) run_length = run;
    else if (run != run_length) even = 0;
    free(along);
    *positions = distinct;
    *volumes = even ? run_length : 0;
    return distinct < n;
}

void slice_repeat_text(uint32_t positions, uint32_t volumes, size_t n, char *buf, size_t cap)
{
    if (volumes > 1)
        snprintf(buf, cap, "%u positions x %u volumes (4D: several volumes at the same positions, e.g. fMRI or "
                           "diffusion)", positions, volumes);
    else
        snprintf(buf, cap, "%zu slices at %u distinct positions (positions repeat: several volumes or repeated "
                           "slices in one series)", n, positions);
}

int volume_affine(const slice_geometry_t *g, uint32_t depth, int32_t box_row0, int32_t box_col0, int32_t box_rows,
                  int32_t box_cols, int32_t out_w, int32_t out_h, double affine[3][4], char *why, size_t why_cap)
{
    why[0] = '\0';
    if (depth == 0) {
        snprintf(why, why_cap, "no slices");
        return 0;
    }
    for (uint32_t d = 0; d < depth; d++) {
        if (!g[d].has_position || !g[d].has_orientation || !g[d].has_spacing) {
            snprintf(why, why_cap, "a slice has no usable %s", !g[d].has_position ? "ImagePositionPatient"
                                                          : !g[d].has_orientation ? "ImageOrientationPatient"
                                                                                  : "PixelSpacing");
            return 0;
        }
        for (int i = 0; i < 6; i++)
            if (fabs(g[d].orientation[i] - g[0].orientation[i]) > 1e-4) {
                snprintf(why, why_cap, "slices with different orientations");
                return 0;
            }
    }
    const double *row_dir = g[0].orientation, *col_dir = g[0].orientation + 3;
    double normal[3];
    slice_normal(g[0].orientation, normal);
    const double normal_len = sqrt(dot3(normal, normal));
    if (!(normal_len > 1e-6)) {
        snprintf(why, why_cap, "a degenerate ImageOrientationPatient");
        return 0;
    }
    /* One output pixel spans box/out source pixels; its centre sits at source coordinate
     * (o + 0.5) * box/out - 0.5 (INTER_AREA maps pixel areas onto pixel areas). */
    const double scale_x = (double)box_cols / out_w, scale_y = (double)box_rows / out_h;
    const double step_x = g[0].spacing[1] * scale_x, step_y = g[0].spacing[0] * scale_y;
    const double first_x = box_col0 + 0.5 * scale_x - 0.5, first_y = box_row0 + 0.5 * scale_y - 0.5;
    double step_d[3];
    if (depth == 1) {
        for (int i = 0; i < 3; i++) step_d[i] = normal[i] / normal_len;
    } else {
        for (int i = 0; i < 3; i++) step_d[i] = (g[depth - 1].position[i] - g[0].position[i]) / (depth - 1);
        const double step_len = sqrt(dot3(step_d, step_d));
        if (!(step_len > 1e-6)) {
            snprintf(why, why_cap, "the first and last slices are at the same position");
            return 0;
        }
        /* Every slice where the line puts it: evenly spaced, none out of order (file-name
         * order over shuffled names, or slices dropped in the middle, fail here). */
        for (uint32_t d = 1; d < depth; d++) {
            double off = 0;
            for (int i = 0; i < 3; i++) {
                double e = g[d].position[i] - (g[0].position[i] + step_d[i] * d);
                off += e * e;
            }
            if (sqrt(off) > 0.01 * step_len) {
                snprintf(why, why_cap, "slice %u is %.3g mm away from even steps of %.3g mm from the first (%s)", d,
                         sqrt(off), step_len, "out of anatomical order, or slices dropped in the middle");
                return 0;
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        affine[i][0] = row_dir[i] * step_x;
        affine[i][1] = col_dir[i] * step_y;
        affine[i][2] = step_d[i];
        affine[i][3] = g[0].position[i] + row_dir[i] * g[0].spacing[1] * first_x + col_dir[i] * g[0].spacing[0] * first_y;
    }
    return 1;
}

int volume_directions(const slice_geometry_t *g, uint32_t depth, double axes[3][4], char *why, size_t why_cap)
{
    why[0] = '\0';
    double normal[3];
    if (depth == 0 || !g[0].has_orientation) {
        snprintf(why, why_cap, "no usable ImageOrientationPatient");
        return 0;
    }
    slice_normal(g[0].orientation, normal);
    if (!(dot3(normal, normal) > 1e-12)) {
        snprintf(why, why_cap, "a degenerate ImageOrientationPatient");
        return 0;
    }
    double step[3] = {normal[0], normal[1], normal[2]};
    if (depth > 1 && g[0].has_position && g[depth - 1].has_position) {
        double along = 0;
        for (int i = 0; i < 3; i++) along += (g[depth - 1].position[i] - g[0].position[i]) * normal[i];
        if (along < 0)
            for (int i = 0; i < 3; i++) step[i] = -normal[i];
    }
    for (int i = 0; i < 3; i++) {
        axes[i][0] = g[0].orientation[i];
        axes[i][1] = g[0].orientation[3 + i];
        axes[i][2] = step[i];
        axes[i][3] = 0;
    }
    return 1;
}

void canonical_axes(const double affine[3][4], int source_axis[3], int flip[3])
{
    /* Greedy on |cosine|: the voxel axis and patient axis that agree best are paired
     * first, so an oblique series still gets a permutation. */
    int axis_taken[3] = {0, 0, 0}, patient_taken[3] = {0, 0, 0};
    double len[3];
    for (int v = 0; v < 3; v++)
        len[v] = sqrt(affine[0][v] * affine[0][v] + affine[1][v] * affine[1][v] + affine[2][v] * affine[2][v]);
    for (int round = 0; round < 3; round++) {
        int best_v = -1, best_p = -1;
        double best = -1;
        for (int v = 0; v < 3; v++)
            for (int p = 0; p < 3; p++) {
                if (axis_taken[v] || patient_taken[p]) continue;
                double c = len[v] > 0 ? fabs(affine[p][v]) / len[v] : 0;
                if (c > best) best = c, best_v = v, best_p = p;
            }
        if (best_v < 0) { /* no finite direction left (a NaN affine): the rest as they come */
            for (int q = 0; q < 3; q++)
                if (!patient_taken[q])
                    for (int v = 0; v < 3; v++)
                        if (!axis_taken[v]) {
                            axis_taken[v] = patient_taken[q] = 1, source_axis[q] = v, flip[q] = 0;
                            break;
                        }
            break;
        }
        axis_taken[best_v] = patient_taken[best_p] = 1;
        source_axis[best_p] = best_v;
        flip[best_p] = affine[best_p][best_v] < 0;
    }
}

void affine_of_output(const double voxel_affine[3][4], const int32_t source_axis[3], const int32_t flip[3],
                      const uint64_t dims[3], uint32_t pad_before, double out[3][4])
{
    for (int r = 0; r < 3; r++) {
        double offset = voxel_affine[r][3] - voxel_affine[r][2] * (double)pad_before;
        for (int t = 0; t < 3; t++) {
            const double column = voxel_affine[r][source_axis[t]];
            out[r][t] = flip[t] ? -column : column;
            if (flip[t]) offset += column * (double)(dims[t] - 1);
        }
        out[r][3] = offset;
    }
}

void affine_of_rot90(const double affine[3][4], const uint64_t dims[3], int a, int k, double out[3][4])
{
    int64_t origin[3], unit[3][3], zero[3] = {0, 0, 0};
    rot90_volume_source(dims, a, k, zero, origin);
    for (int t = 0; t < 3; t++) {
        int64_t e[3] = {0, 0, 0};
        e[t] = 1;
        rot90_volume_source(dims, a, k, e, unit[t]);
    }
    for (int r = 0; r < 3; r++) {
        out[r][3] = affine[r][3];
        for (int c = 0; c < 3; c++) out[r][3] += affine[r][c] * (double)origin[c];
        for (int t = 0; t < 3; t++) {
            out[r][t] = 0;
            for (int c = 0; c < 3; c++) out[r][t] += affine[r][c] * (double)(unit[t][c] - origin[c]);
        }
    }
}

void affine_for_nifti(const double lps[3][4], double ras[3][4])
{
    static const double lps_to_ras[3] = {-1, -1, 1};
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) ras[r][c] = lps_to_ras[r] * lps[r][2 - c];
        ras[r][3] = lps_to_ras[r] * lps[r][3];
    }
}
