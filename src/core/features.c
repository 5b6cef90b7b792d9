/* features.c - see include/mriprep/features.h. */
#include "mriprep/features.h"

#include <stdio.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "mriprep/cpu_backend.h"
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

/* Which build of the CPU engines (slice statistics, crop + resize + moments) this run
 * uses and why: the best the CPU has, or a lower one that MRIPREP_SIMD asked for. */
static void simd_feature(mp_feature_t *f)
{
    static const char *const upper[] = {"portable", "SSE2", "AVX2"};
    const cpu_simd_t best = cpu_simd_best(), used = cpu_simd_engine();
    const char *what = "slice statistics, crop + resize + moments";
    f->present = used != CPU_SIMD_NONE;
#ifdef MRIPREP_NO_SIMD
    (void)upper, (void)best, (void)what;
    snprintf(f->detail, sizeof f->detail, "the portable loops (built with SIMD=0)");
#else
    if (best == CPU_SIMD_NONE)
        snprintf(f->detail, sizeof f->detail, "the portable loops (the compiler does not target SSE2)");
    else if (used != best)
        snprintf(f->detail, sizeof f->detail, "%s by MRIPREP_SIMD=%s, this CPU has %s: %s",
                 used == CPU_SIMD_NONE ? "the portable loops" : used == CPU_SIMD_SSE2 ? "SSE2 engines" : "AVX2 engines",
                 cpu_simd_name(used), upper[best], what);
    else if (best == CPU_SIMD_AVX2)
        snprintf(f->detail, sizeof f->detail, "AVX2 engines, runtime dispatch; SSE2 fallback: %s", what);
    else
        snprintf(f->detail, sizeof f->detail, "SSE2 engines (no AVX2 in this CPU or build): %s", what);
#endif
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
    simd_feature(&all[3]);

    size_t n = sizeof all / sizeof *all;
    for (size_t i = 0; i < n && i < cap; i++) f[i] = all[i];
    return n;
}
