/* pipeline.h - steps 2-9 of DESIGN.md for one series, on the CPU backend.
 *
 * One series (the .dcm files of one modality folder, already in order) goes in; one
 * z-scored volume and what happened to every slice come out:
 *   decode (dcmtk, OpenMP over slices) + one-pass slice stats
 *   -> blank / dark filter -> middle K -> crop + INTER_AREA resize (OpenMP over slices)
 *   -> volume moments (fixed point, order independent) -> z-score + dtype + layout.
 * The per-element math is shared with the CUDA backend through the kernels/ headers; the same
 * input gives the same bytes whatever the thread count.
 */
#ifndef MRIPREP_PIPELINE_H
#define MRIPREP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum volume_layout {
    LAYOUT_HWD = 0, /* (H, W, D): the notebook's np.stack(axis=-1); the default */
    LAYOUT_DHW = 1  /* (D, H, W) */
} volume_layout_t;

typedef enum volume_dtype {
    DTYPE_FLOAT32 = 0,
    DTYPE_FLOAT16 = 1
} volume_dtype_t;

/* Options that shape the output. Defaults: pipeline_options_default(). */
typedef struct pipeline_options {
    int32_t out_w, out_h;   /* --size: output slice width x height, pixels (256 x 256) */
    int32_t slices;         /* --slices K: at most K slices kept (128) */
    double dark;            /* --dark: drop slices whose crop mean is below this (0.01) */
    int32_t margin;         /* --margin: pixels added around the crop box (0) */
    volume_layout_t layout; /* --layout (hwd) */
    volume_dtype_t dtype;   /* --dtype (float32) */
    int threads;            /* --threads: OpenMP threads, 0 = all cores */
} pipeline_options_t;

void pipeline_options_default(pipeline_options_t *opt);

/* Checks ranges (sizes 1..8192, slices 1..65536, dark in [0,1], margin >= 0);
 * MP_ERR_USAGE with a message naming the option otherwise. */
mp_status pipeline_options_validate(const pipeline_options_t *opt, mp_error *err);

const char *volume_layout_name(volume_layout_t layout); /* "hwd" / "dhw" */
const char *volume_dtype_name(volume_dtype_t dtype);    /* "float32" / "float16" */
size_t volume_dtype_size(volume_dtype_t dtype);         /* 4 / 2 */
const char *volume_dtype_npy_descr(volume_dtype_t dtype); /* "<f4" / "<f2" */

typedef enum series_outcome {
    SERIES_OK = 0,     /* a volume was produced */
    SERIES_EMPTY = 1,  /* no slice left after the blank and dark filters */
    SERIES_FAILED = 2  /* some file could not be decoded: no volume */
} series_outcome_t;

/* Seconds spent in each stage, summed over threads (so with 2 busy threads a stage
 * can count up to twice its wall time). */
typedef struct stage_times {
    double decode, stats, resize, zscore;
} stage_times_t;

/* What processing one series gave. The volume points into the pipeline's own buffer:
 * valid until the next pipeline_process_series() or pipeline_destroy(). */
typedef struct series_result {
    series_outcome_t outcome;
    char reason[MP_ERROR_MSG_MAX]; /* why empty or failed; "" when ok */
    uint32_t files;                /* .dcm files given */
    uint32_t blank, dark;          /* slices dropped by steps 3-4 and 5 */
    uint32_t kept;                 /* slices left after the filters (n of step 6) */
    uint32_t depth;                /* slices in the volume: min(kept, K) */
    uint32_t src_rows, src_cols;   /* Rows x Columns of the first file */
    int mixed_shapes;              /* 1 when some file's Rows x Columns differ from the first */
    double mean, std;              /* z-score moments of the resized volume (ok only) */
    uint64_t bytes_read;           /* sum of the sizes of the decoded files */
    stage_times_t seconds;
    const void *volume;            /* ok only: the output values, layout and dtype as asked */
    size_t volume_bytes;
    uint64_t shape[3];             /* ok only: dimensions in layout order */
} series_result_t;

typedef struct pipeline pipeline_t;

/* Creates a pipeline (buffers reused from series to series). The options are copied.
 * Returns MP_OK, MP_ERR_USAGE (invalid options) or MP_ERR_NOMEM. */
mp_status pipeline_create(const pipeline_options_t *opt, pipeline_t **out, mp_error *err);

void pipeline_destroy(pipeline_t *p);

/* The number of OpenMP threads the pipeline uses (1 without OpenMP). */
int pipeline_threads(const pipeline_t *p);

/* Runs steps 2-9 on `files[n_files]` (full paths, in slice order). A file that cannot
 * be decoded makes the series SERIES_FAILED with the first such file (in order) named in
 * `reason`; that is a result, not an error. Returns MP_OK, or MP_ERR_NOMEM /
 * MP_ERR_INTERNAL when the pipeline itself cannot go on. */
mp_status pipeline_process_series(pipeline_t *p, const char *const *files, size_t n_files,
                                  series_result_t *result, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_PIPELINE_H */
