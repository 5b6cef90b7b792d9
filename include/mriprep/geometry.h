/* geometry.h - where slices and volumes lie in the patient: the plane of a slice (from
 * ImageOrientationPatient), the anatomical order of a series, and all the affine algebra
 * of the outputs: voxel -> patient (LPS, mm) of a resized volume, through the output's
 * axis permutation and padding, of a rotated copy, and as NIfTI stores it (RAS).
 *
 * The slice normal is row x column direction cosines. The real data mixes planes
 * (00000/FLAIR is coronal: [1,0,0, 0,0,-1]), so scan reports them and the volumetric
 * options reorient by them. Affines are 3 x 4: column t is the step along index t, column
 * 3 the position of index (0, 0, 0).
 */
#ifndef MRIPREP_GEOMETRY_H
#define MRIPREP_GEOMETRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum image_plane {
    PLANE_UNKNOWN = 0, /* no (or a degenerate) ImageOrientationPatient */
    PLANE_AXIAL,       /* normal along z (head-foot) */
    PLANE_SAGITTAL,    /* normal along x (left-right) */
    PLANE_CORONAL,     /* normal along y (front-back) */
    PLANE_OBLIQUE      /* no axis within about 25 degrees of the normal */
} image_plane_t;

#define IMAGE_PLANE_COUNT 5

/* The plane of a slice with direction cosines orientation[6] (row x, y, z, then column
 * x, y, z): the patient axis nearest the normal when its cosine is at least 0.9, else
 * oblique. A zero-length normal is PLANE_UNKNOWN. */
image_plane_t plane_from_orientation(const double orientation[6]);

/* "unknown", "axial", "sagittal", "coronal", "oblique". */
const char *plane_name(image_plane_t plane);

/* Where one file's slice lies, from its header (DICOM patient space: LPS, mm). */
typedef struct slice_geometry {
    int has_position, has_orientation, has_spacing, has_instance;
    double position[3];    /* ImagePositionPatient: centre of the first pixel */
    double orientation[6]; /* ImageOrientationPatient: row direction, column direction */
    double spacing[2];     /* PixelSpacing: between rows, between columns */
    int32_t instance;      /* InstanceNumber */
} slice_geometry_t;

/* How a series' slices were put in order (the manifest's `order` column). */
typedef enum slice_order_used {
    ORDER_BY_NAME = 0,     /* file names (the notebook's order) */
    ORDER_BY_POSITION = 1, /* ImagePositionPatient along the slice normal, ascending */
    ORDER_BY_INSTANCE = 2  /* InstanceNumber, ascending: some file has no position */
} slice_order_used_t;

/* "name", "position", "instance". */
const char *slice_order_name(slice_order_used_t order);

/* The anatomical order of `n` slices given in file-name order: order[i] is the index of
 * the i-th slice. By position along the normal of the first slice's orientation when
 * every slice has a position and that orientation, else by InstanceNumber when every
 * slice has one, else the file-name order. Ties keep file-name order. Returns which. */
slice_order_used_t slice_anatomical_order(const slice_geometry_t *g, size_t n, size_t *order);

/* along[i] = slice i's position along the normal of the first slice's orientation, for
 * `n` slices; 0 (along untouched) when some slice has no position or that orientation. */
int slice_positions_along_normal(const slice_geometry_t *g, size_t n, double *along);

/* Positions closer than this along the slice normal are the same position (mm). */
#define SLICE_SAME_POSITION_MM 0.01

/* Whether the `n` slices lie at repeated positions: several volumes at the same places
 * (a 4D series: fMRI time points, diffusion directions). Positions are taken along the
 * normal of the first slice's orientation; 0 when some slice has no position or that
 * orientation. *positions gets the number of distinct positions and *volumes n /
 * positions when every position holds the same number of slices, else 0. */
int slice_positions_repeat(const slice_geometry_t *g, size_t n, uint32_t *positions, uint32_t *volumes);

/* A message for slice_positions_repeat's result, e.g. "15 positions x 10 volumes (4D:
 * several volumes at the same positions, e.g. fMRI or diffusion)". */
void slice_repeat_text(uint32_t positions, uint32_t volumes, size_t n, char *buf, size_t cap);

/* The affine from voxel (x, y, d) of a resized volume to LPS millimetres: x and y index
 * an out_w x out_h slice resized from the crop `box` (rows row0..row1, columns
 * col0..col1 of the source) with INTER_AREA's pixel-centre convention, d indexes the
 * `depth` slices whose geometries are g[depth] (in volume order). Needs position,
 * orientation and spacing on every slice, one orientation, and slices evenly spaced
 * along a line (within 1%): else returns 0 with why[] saying what is missing. A single
 * slice gets a 1 mm step along its normal. */
int volume_affine(const slice_geometry_t *g, uint32_t depth, int32_t box_row0, int32_t box_col0, int32_t box_rows,
                  int32_t box_cols, int32_t out_w, int32_t out_h, double affine[3][4], char *why, size_t why_cap);

/* The directions of the voxel axes (x, y, d) of `depth` slices g[] in volume order, as
 * the columns of axes[3][0..2] (LPS unit vectors; column 3 zero): what --reorient needs
 * when the full affine is not known (per-slice crop boxes, uneven steps). d runs from
 * the first slice towards the last when their positions differ, else along the normal.
 * Returns 0 (why[] says) without an ImageOrientationPatient on the first slice. */
int volume_directions(const slice_geometry_t *g, uint32_t depth, double axes[3][4], char *why, size_t why_cap);

/* The canonical orientation of --reorient: voxel axes along L, P, S (the first array
 * axis that varies fastest runs to the patient's left, the next to posterior, the
 * slowest to superior; axial slices shown as DICOM shows them). For the three voxel axes
 * (x, y, d) of `affine` (LPS), source_axis[a] is the voxel axis that goes along patient
 * axis a (0 = L, 1 = P, 2 = S) and flip[a] is 1 when it runs the other way. Each voxel
 * axis goes to the patient axis nearest its direction (oblique series: the nearest
 * that is still free, largest cosines first). */
void canonical_axes(const double affine[3][4], int source_axis[3], int flip[3]);

/* The affine of an output array built from a voxel (x, y, d) volume: along output axis t
 * runs voxel axis source_axis[t] (0 = x, 1 = y, 2 = d), reversed when flip[t] (dims[t]
 * elements long), with pad_before zero slices before voxel slice 0. voxel_affine maps
 * (x, y, d) to LPS; *out maps output index (i0, i1, i2) to LPS. */
void affine_of_output(const double voxel_affine[3][4], const int32_t source_axis[3], const int32_t flip[3],
                      const uint64_t dims[3], uint32_t pad_before, double out[3][4]);

/* The affine of the rotated copy rot90_volume(volume, dims, a, k) (augment.h) of an array
 * whose affine is `affine`: rotated index -> source index (an integer affine map) -> LPS. */
void affine_of_rot90(const double affine[3][4], const uint64_t dims[3], int a, int k, double out[3][4]);

/* The NIfTI affine of a C-order array (A0, A1, A2) whose affine (index -> LPS) is `lps`:
 * NIfTI's (i, j, k) are (A2, A1, A0) and its world is RAS (x and y negated). */
void affine_for_nifti(const double lps[3][4], double ras[3][4]);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_GEOMETRY_H */
