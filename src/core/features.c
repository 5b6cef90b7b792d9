/* features.c - see include/mriprep/features.h. */
#include "mriprep/features.h"

#include <stdio.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"

#ifndef MRIPREP_VERSION
#define MRIPREP_VERSION "unknown"
#endif
#ifndef MRIPREP_OMP_WHY
#define MRIPREP_OMP_WHY "built without OpenMP"
#endif

const char *mriprep_version(void)
{
    return MRIPREP_VERSION;
}

size_t mriprep_features(mp_feature_t *f, size_t cap)
{
    mp_feature_t all[3];
    memset(all, 0, sizeof all);

    all[0].name = "openmp";
#if MRIPREP_HAVE_OMP
    all[0].present = 1;
    snprintf(all[0].detail, sizeof all[0].detail, "OpenMP %d, %d cores", _OPENMP, omp_get_num_procs());
#else
    snprintf(all[0].detail, sizeof all[0].detail, "%s", MRIPREP_OMP_WHY);
#endif

    all[1].name = "dcmtk";
    all[1].present = 1;
    snprintf(all[1].detail, sizeof all[1].detail, "%s", dicom_library_description());

    all[2].name = "cuda";
    all[2].present = cuda_backend_built();
    snprintf(all[2].detail, sizeof all[2].detail, "%s", cuda_build_description());

    size_t n = sizeof all / sizeof *all;
    for (size_t i = 0; i < n && i < cap; i++) f[i] = all[i];
    return n;
}
