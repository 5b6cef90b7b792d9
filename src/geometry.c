/* geometry.c - see include/mriprep/geometry.h. */
#include "mriprep/geometry.h"

#include <math.h>

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
