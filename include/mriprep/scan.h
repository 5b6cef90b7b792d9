/* scan.h - explore a dataset: the notebook's questions answered from headers (and, with
 * `pixels`, from the decoded slices), and the problems found without being told.
 *
 *   walk DATA -> every .dcm header read in parallel (OpenMP over all files, no pixel
 *   data unless asked) -> per series: shapes, planes, pixel representation, transfer
 *   syntaxes, instance numbers, unreadable files -> per modality and dataset totals.
 *
 * JSON keys (stable; tests and scripts/plot_scan.py read them): patients, labels
 * {file, counts, percent, images_without_label, labels_without_images}, modalities
 * {<name>: {series, min, median, max, histogram {edges, counts}}}, shapes {"RxC": n},
 * planes {axial, sagittal, coronal, oblique, unknown}, pixel_representation {unsigned,
 * signed}, transfer_syntaxes {<uid>: {name, series, decodable}} (every
 * file whose header was read counts, refused ones too; decodable false when files were
 * refused for that syntax), problems [{kind, series, file,
 * detail}], totals {series, files, non_dcm_files, bytes, elapsed_s, files_per_s, threads,
 * run_output_bytes {float32, float16}}, and with pixels: intensity {<modality>: {edges,
 * counts, zeros, negative, above, slices, blank_slices, dark_slices}}. Series counts
 * (shapes, planes, ...) count each series once per distinct value it has. Problem kinds
 * (stable): missing_modality, empty_series, blank_series, unreadable_file, not_dicom,
 * non_dcm_file, mixed_shapes, mixed_planes, duplicate_instance, missing_instance,
 * multiple_volumes (positions repeat: "15 positions x 10 volumes (4D ...)"), mosaic
 * (Siemens mosaics), multi_frame (files of several frames), name_order (the file names'
 * order is neither the InstanceNumber nor the position order), label_without_images,
 * images_without_label.
 */
#ifndef MRIPREP_SCAN_H
#define MRIPREP_SCAN_H

#include <stddef.h>

#include "mriprep/error.h"
#include "mriprep/pipeline.h"
#include "mriprep/run.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct scan_options {
    const char *data_dir;
    const char *labels_path;          /* NULL: DATA/train_labels.csv when present */
    const char *const *modalities;    /* [n_modalities] */
    size_t n_modalities;
    int threads;                      /* 0: all cores */
    int pixels;                       /* also decode: intensity histograms, blank/dark slices */
    int64_t readahead_mb;             /* --readahead: READAHEAD_AUTO, 0 (off) or MB read ahead
                                         (headers only, or whole files with pixels) */
    pipeline_options_t pipeline;      /* dark and margin for --pixels; size, slices and dtype
                                         for the estimate of what `run` would write */
    mp_log_fn log;                    /* may be NULL */
    void *ctx;
} scan_options_t;

typedef struct scan_report scan_report_t;

/* Scans the dataset. Problems in the data are part of the report, not errors. Returns
 * MP_OK, MP_ERR_USAGE (bad labels file), MP_ERR_IO (DATA cannot be read) or MP_ERR_NOMEM;
 * *out is set only on MP_OK and is freed with scan_report_free(). */
mp_status scan_dataset(const scan_options_t *opt, scan_report_t **out, mp_error *err);

void scan_report_free(scan_report_t *report);

/* Series found: modality folders with at least one .dcm file. 0 means exit code 2. */
size_t scan_series_found(const scan_report_t *report);

/* Problems found. */
size_t scan_problem_count(const scan_report_t *report);

/* The one-screen summary for people, as a malloc'd string (NULL when out of memory);
 * at most `max_problems` problems are listed, with how many more there are. */
char *scan_summary_text(const scan_report_t *report, size_t max_problems);

/* The report as JSON (keys above) / one CSV row per series, written atomically.
 * MP_ERR_WRITE naming the path on failure. */
mp_status scan_write_json(const scan_report_t *report, const char *path, mp_error *err);
mp_status scan_write_csv(const scan_report_t *report, const char *path, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_SCAN_H */
