/* features.c - see include/mriprep/features.h. */
#include "mriprep/features.h"

#include <stdio.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/resize.h"

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
    mp_feature_t all[4];
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

    all[3].name = "simd";
    all[3].present = !strcmp(resize_crop_engine(), "sse2");
    snprintf(all[3].detail, sizeof all[3].detail, "%s",
             all[3].present ? "SSE2 engines: slice statistics, crop + resize + moments"
#ifdef MRIPREP_NO_SIMD
                            : "the portable loops (built with SIMD=0)");
#else
                            : "the portable loops (the compiler does not target SSE2)");
#endif

    size_t n = sizeof all / sizeof *all;
    for (size_t i = 0; i < n && i < cap; i++) f[i] = all[i];
    return n;
}
