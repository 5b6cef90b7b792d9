/* run.h - the main job: every series of a dataset to volumes, a manifest and run.json.
 *
 *   walk DATA -> for each series in order: pipeline (decode, stats, select, resize,
 *   z-score) -> atomic .npy write -> one manifest row, flushed -> run.json at the end.
 * The library never prints: messages and progress go to the callbacks.
 */
#ifndef MRIPREP_RUN_H
#define MRIPREP_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mp_log_level {
    MP_LOG_ERROR = 0,
    MP_LOG_WARN = 1,
    MP_LOG_INFO = 2,
    MP_LOG_DEBUG = 3 /* one line per series */
} mp_log_level_t;

typedef void (*mp_log_fn)(void *ctx, mp_log_level_t level, const char *message);

typedef struct run_progress {
    size_t series_done, series_total;
    size_t files_done, files_total; /* .dcm files of the series done / of all series */
    uint64_t bytes_done;            /* input bytes decoded so far */
    double elapsed;                 /* seconds since the run started */
    const char *current;            /* the series just finished, "train/00000/FLAIR" */
} run_progress_t;

typedef void (*run_progress_fn)(void *ctx, const run_progress_t *progress);


/* --format: how each volume is stored. */
typedef enum output_format {
    FORMAT_NPY = 0,   /* <MOD>.npy: the array in the layout's shape */
    FORMAT_NII = 1,   /* <MOD>.nii: NIfTI-1 (include/mriprep/nifti.h), float32 */
    FORMAT_NII_GZ = 2 /* <MOD>.nii.gz */
} output_format_t;

/* "npy", "nii", "nii.gz" (also the file extension, after a dot). */
const char *output_format_name(output_format_t format);

typedef struct run_options {
    const char *data_dir;                /* DATA */
    const char *out_dir;                 /* OUT (created when missing) */
    const char *labels_path;             /* --labels, or NULL: DATA/train_labels.csv when present */
    const char *const *modalities;       /* [n_modalities] */
    size_t n_modalities;
    const char *const *exclude;          /* [n_exclude] patient IDs */
    size_t n_exclude;
    pipeline_options_t pipeline;         /* its device fields are set by the run */
    device_request_t device;             /* --device auto|cpu|cuda[:N] */
    int cuda_index;                      /* N of cuda:N */
    int dry_run;                         /* walk and report; write nothing */
    int overwrite;                       /* --overwrite: replace a previous run made with other
                                            options; redo every series */
    int force;                           /* --force: only warn when OUT looks too small */
    int shard_k, shard_n;                /* --shard K/N: only the series of shard K (shard.h),
                                            recorded in OUT/manifest.K-of-N.csv and
                                            OUT/run.K-of-N.json; shard_n 0: the whole run */
    const volatile sig_atomic_t *interrupt;     /* may be NULL; when it turns non-zero (a signal
                                            handler sets it) no new series is started, the
                                            ones in flight finish, and the run returns
                                            MP_ERR_INTERRUPTED with the manifest written */
    output_format_t format;              /* --format (npy) */
    int augment_rot90;                   /* --augment rot90: one rotated copy of each volume */
    uint64_t seed;                       /* --seed: which rotation each volume's copy gets (0) */
    const char *preset;                  /* --preset name, recorded in run.json ("notebook") */
    const char *command_line;            /* recorded in run.json */
    mp_log_fn log;                       /* may be NULL */
    run_progress_fn progress;            /* may be NULL; called after every series */
    void *ctx;                           /* passed to both callbacks */
} run_options_t;

/* What the run did. Counts are series (manifest rows) unless named otherwise; a shard
 * counts its own series and files. */
typedef struct run_summary {
    size_t patients, series;
    size_t ok, empty, missing, failed, excluded;
    size_t files;                 /* .dcm files found */
    size_t files_decoded;         /* .dcm files of processed series */
    uint64_t bytes_read, bytes_written;
    uint64_t expected_bytes;      /* upper bound of the output size (for --dry-run) */
    double elapsed;               /* seconds */
    int no_series;                /* no patient folder, or no requested modality folder */
    size_t resumed;               /* series a previous run had finished: kept, not redone */
    int interrupted;              /* stopped early by *opt->interrupt */
    int threads;                  /* OpenMP threads used */
    char device[320];             /* "cpu" or "cuda:0 (name, sm_XY)" */
    char device_reason[512];      /* why that device ("--device cpu", "auto: no CUDA device (...)") */
    char labels_used[4096];       /* labels file read, "" when none */
    size_t labels_without_images, images_without_labels;
} run_summary_t;

/* Runs the job. Per-series problems (unreadable files, blank series) are rows in the
 * manifest, not errors. Returns MP_OK (look at summary->failed and ->no_series),
 * MP_ERR_USAGE (bad options or labels file: message says which), MP_ERR_IO (DATA
 * cannot be read), MP_ERR_WRITE (OUT cannot be written: the run stopped, rows written
 * so far are kept) or MP_ERR_NOMEM. */
mp_status run_dataset(const run_options_t *opt, run_summary_t *summary, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_RUN_H */
