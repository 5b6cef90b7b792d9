/* decode_only.c - the benchmark's "decode only" contender: every .dcm file of DATA
 * decoded with dcmtk (the same calls as `mriprep run`), OpenMP over all files, nothing
 * else: no stats, no resize, nothing written. It says how much of a run is decode.
 *
 *   build/bench/decode_only DATA [THREADS]   prints: files, seconds, files/s
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "mriprep/dataset.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA [THREADS]\n", argv[0]);
        return 1;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 0;
#if MRIPREP_HAVE_OMP
    if (threads <= 0) threads = omp_get_num_procs();
#else
    threads = 1;
#endif
    mp_error err;
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    static const char *const modalities[] = DATASET_DEFAULT_MODALITIES;
    dataset_options_t opt = {modalities, DATASET_DEFAULT_MODALITY_COUNT, NULL, 0, NULL};
    dataset_t ds;
    if (dataset_walk(argv[1], &opt, &ds, &err) != MP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    size_t n = 0;
    for (size_t s = 0; s < ds.n_series; s++) n += ds.series[s].n_files;
    const char **paths = malloc((n ? n : 1) * sizeof *paths);
    size_t k = 0;
    for (size_t s = 0; s < ds.n_series; s++)
        for (size_t i = 0; i < ds.series[s].n_files; i++) paths[k++] = ds.series[s].files[i];
    size_t failed = 0;
    const double t0 = mp_wall_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : failed)
    {
        dicom_buffer_t buf;
        memset(&buf, 0, sizeof buf);
#pragma omp for schedule(dynamic, 4)
        for (int64_t i = 0; i < (int64_t)n; i++) {
            dicom_header_t h;
            mp_error e;
            failed += dicom_decode_slice_with(paths[i], &h, dicom_place_in_buffer, &buf, &e) != MP_OK;
        }
        dicom_buffer_free(&buf);
    }
    const double secs = mp_wall_seconds() - t0;
    printf("%zu files (%zu failed), %.3f s, %.0f files/s, %d threads\n", n, failed, secs, (double)n / secs, threads);
    free(paths);
    dataset_free(&ds);
    dicom_global_cleanup();
    return 0;
}
