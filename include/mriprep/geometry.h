/* geometry.h - where a slice lies in the patient: its plane, from ImageOrientationPatient.
 *
 * The slice normal is row x column direction cosines. The real data mixes planes
 * (00000/FLAIR is coronal: [1,0,0, 0,0,-1]), so scan reports them and the volumetric
 * options reorient by them.
 */
#ifndef MRIPREP_GEOMETRY_H
#define MRIPREP_GEOMETRY_H

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

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_GEOMETRY_H */
