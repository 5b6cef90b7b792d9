/* run.h - the main job: every series of a dataset to volumes, a manifest and run.json.
 *
 *   labels, walk DATA, shard -> device -> what OUT already holds (resume, overwrite),
 *   free space -> run.json "running" -> for each series, three stages at once
 *   (src/job/run_stages.c): decode (series i+1) | compute (series i) | write the volume
 *   atomically and one flushed manifest row (series i-1) -> manifest and run.json.
 * The library never prints: messages and progress go to the callbacks.
 */
#ifndef MRIPREP_RUN_H
#define MRIPREP_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mriprep/device_check.h"
#include "mriprep/error.h"
#include "mriprep/log.h"
#include "mriprep/manifest.h"
#include "mriprep/pipeline.h"
#include "mriprep/readahead.h"
#include "mriprep/volume_file.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct run_progress {
    size_t series_done, series_total;
    size_t files_done, files_total; /* .dcm files of the series done / of all series */
    uint64_t bytes_done;            /* input bytes decoded so far */
    double elapsed;                 /* seconds since the run started */
    const char *current;            /* the series just finished, "train/00000/FLAIR" */
} run_progress_t;

typedef void (*run_progress_fn)(void *ctx, const run_progress_t *progress);


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
    int64_t readahead_mb;                /* --readahead: READAHEAD_AUTO, 0 (off) or MB of the
                                            next files' reads in flight ahead of the decoders */
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

/* What a run did, as run.json's totals say it. Counts are series (manifest rows) unless
 * named otherwise; a shard counts its own series and files. */
typedef struct run_totals {
    size_t patients, series;
    status_counts_t status;       /* rows by status */
    size_t resumed;               /* series a previous run had finished: kept, not redone */
    size_t files;                 /* .dcm files found */
    size_t files_decoded;         /* .dcm files of processed series */
    size_t files_reread;          /* of those, decoded twice: selected slices of series
                                     longer than the pixel budget (pipeline.h) */
    uint64_t bytes_read, bytes_written;
    double elapsed;               /* seconds */
} run_totals_t;

/* Wall time of each stage: walk and write are serial; the others are summed over
 * threads (see stage_times_t). */
typedef struct run_stage_times {
    double walk, write;
    stage_times_t pipeline;
} run_stage_times_t;

typedef struct run_summary {
    run_totals_t totals;
    uint64_t expected_bytes;      /* upper bound of the output size (for --dry-run) */
    int no_series;                /* no patient folder, or no requested modality folder */
    int interrupted;              /* stopped early by *opt->interrupt */
    int threads;                  /* OpenMP threads used */
    char device[320];             /* "cpu" or "cuda:0 (name, sm_XY)" */
    char device_reason[512];      /* why that device ("--device cpu", "auto: no CUDA device (...)") */
    device_check_report_t device_check; /* the CUDA self-check (ran 0 on a CPU run) */
    char labels_used[4096];       /* labels file read, "" when none */
    size_t labels_without_images, images_without_labels;
    run_stage_times_t stages;
    readahead_stats_t readahead;  /* what the read-ahead did (all 0 when off) */
} run_summary_t;

/* Runs the job. Per-series problems (unreadable files, blank series) are rows in the
 * manifest, not errors. Returns MP_OK (look at summary->totals.status and ->no_series),
 * or an error whose place says where (error.h): MP_PLACE_USAGE (bad options),
 * MP_PLACE_LABELS (the labels file), MP_PLACE_DATA (DATA cannot be read), MP_PLACE_OUT
 * (OUT cannot be read or written: the run stopped, rows written so far are kept);
 * MP_ERR_INTERRUPTED when *opt->interrupt stopped it; MP_ERR_NOMEM. */
mp_status run_dataset(const run_options_t *opt, run_summary_t *summary, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_RUN_H */
