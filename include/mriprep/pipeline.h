/* pipeline.h - steps 2-9 of docs/pipeline.md for one series, on the CPU or a CUDA device.
 *
 * One series (the .dcm files of one modality folder, already in order) goes in; one
 * z-scored volume and what happened to every slice come out, in two stages:
 *   decode   (host, OpenMP over files): dcmtk decode; on the CPU backend also the
 *            one-pass slice stats and the blank/dark decisions, while the data is hot
 *   compute  (CPU backend or CUDA): slice stats (CUDA), middle K, crop + INTER_AREA
 *            resize, volume moments (fixed point, order independent), z-score + dtype
 *            + layout
 * The stages work on numbered batches and volumes so a caller can decode series i+1
 * while series i is computed and series i-1 written (src/job/run_stages.c does). The
 * options, their words and the device decision are in src/compute/pipeline_options.c;
 * what is decided per series before a backend builds the volume (which slices, the crop
 * boxes, the raw scale, the affine and where each voxel goes) in src/compute/volume_plan.c.
 * The per-element
 * math is shared by both backends through the kernels/ headers: the same input gives
 * the same bytes whatever the thread count or device.
 */
#ifndef MRIPREP_PIPELINE_H
#define MRIPREP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/volume_math.h"
#include "mriprep/error.h"
#include "mriprep/geometry.h"
#include "mriprep/readahead.h"

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
typedef enum pipeline_device {
    DEVICE_CPU = 0,
    DEVICE_CUDA = 1
} pipeline_device_t;

/* The volumetric options (docs/pipeline.md; README "Presets"). Each default is the
 * notebook's. */
typedef enum slice_order_option {
    SLICE_ORDER_NAME = 0,    /* --order name: the file names' order */
    SLICE_ORDER_POSITION = 1 /* --order position: anatomical (include/mriprep/geometry.h) */
} slice_order_option_t;

typedef enum crop_mode {
    CROP_SLICE = 0, /* --crop slice: each slice its own box */
    CROP_VOLUME = 1 /* --crop volume: the union of the boxes of the volume's slices */
} crop_mode_t;

typedef enum intensity_mode {
    INTENSITY_MINMAX = 0, /* --intensity minmax: v = (x - min) / (max - min) per slice */
    INTENSITY_RAW = 1     /* --intensity raw: v = x (or slope * x + intercept with --rescale) */
} intensity_mode_t;

typedef enum norm_mode {
    NORM_VOLUME = 0, /* --norm volume: z-score over every voxel */
    NORM_NONZERO = 1 /* --norm nonzero: over voxels != 0; those that are 0 stay 0 */
} norm_mode_t;

typedef enum depth_mode {
    DEPTH_KEEP = 0, /* --depth keep: min(kept, K) slices */
    DEPTH_PAD = 1   /* --depth pad: always K, zero slices split evenly before and after */
} depth_mode_t;

typedef enum center_mode {
    CENTER_MIDDLE = 0, /* --center middle: the middle K kept slices */
    CENTER_LARGEST = 1 /* --center largest: K kept slices around the one with the largest crop box */
} center_mode_t;

typedef struct pipeline_options {
    int32_t out_w, out_h;   /* --size: output slice width x height, pixels (256 x 256) */
    int32_t slices;         /* --slices K: at most K slices kept (128) */
    double dark;            /* --dark: drop slices whose crop mean is below this (0.01) */
    int32_t margin;         /* --margin: pixels added around the crop box (0) */
    volume_layout_t layout; /* --layout (hwd) */
    volume_dtype_t dtype;   /* --dtype (float32) */
    int threads;            /* --threads: OpenMP threads, 0 = all cores */
    pipeline_device_t device; /* resolved --device: where the compute stage runs (cpu) */
    int cuda_index;         /* DEVICE_CUDA: which device (0) */
    slice_order_option_t order; /* --order (name) */
    int reorient;           /* --reorient: axes permuted and flipped to L, P, S (0) */
    crop_mode_t crop;       /* --crop (slice) */
    intensity_mode_t intensity; /* --intensity (minmax) */
    int rescale;            /* --rescale: RescaleSlope/Intercept applied; raw intensity only (0) */
    norm_mode_t norm;       /* --norm (volume) */
    depth_mode_t depth;     /* --depth (keep) */
    center_mode_t center;   /* --center (middle) */
} pipeline_options_t;

void pipeline_options_default(pipeline_options_t *opt);

/* --device as asked, before it is resolved to a pipeline_device_t. */
typedef enum device_request {
    DEVICE_REQUEST_AUTO = 0, /* CUDA when a usable device exists, else the CPU */
    DEVICE_REQUEST_CPU,
    DEVICE_REQUEST_CUDA      /* a CUDA device or a clear error before anything is written */
} device_request_t;

/* "auto" | "cpu" | "cuda" | "cuda:N" (N < CUDA_MAX_DEVICES) -> request and index (0
 * unless given); MP_ERR_USAGE naming the text otherwise. */
mp_status device_request_parse(const char *text, device_request_t *request, int *cuda_index, mp_error *err);

/* Sets p->device and p->cuda_index from a request, the one decision `mriprep run` and the
 * C API share: the CPU when asked; else the CUDA device when it is usable with room for
 * the options' buffers and passes the device self-check (device_check.h, run once per
 * process and device); else, for auto, the CPU. `reason` (reason_cap bytes) says why:
 * "--device cpu", "--device cuda", "--device auto: a usable CUDA device" or "--device
 * auto: <why not CUDA>" (the self-check's failure included). MP_ERR_USAGE (err says why)
 * when cuda was asked for and none is usable or the self-check failed. `check` (may be
 * NULL) gets the self-check's report; check->ran is 0 when none ran (a CPU run). */
struct device_check_report;
mp_status pipeline_resolve_device(device_request_t request, int cuda_index, pipeline_options_t *p, char *reason,
                                  size_t reason_cap, struct device_check_report *check, mp_error *err);

/* Checks ranges (sizes 1..8192, slices 1..65536, dark in [0,1], margin >= 0);
 * MP_ERR_USAGE with a message naming the option otherwise. */
mp_status pipeline_options_validate(const pipeline_options_t *opt, mp_error *err);

/* The words the command line and run.json use for each value, e.g. "position". */
const char *slice_order_option_name(slice_order_option_t order);
const char *crop_mode_name(crop_mode_t crop);
const char *intensity_mode_name(intensity_mode_t intensity);
const char *norm_mode_name(norm_mode_t norm);
const char *depth_mode_name(depth_mode_t depth);
const char *center_mode_name(center_mode_t center);

/* Sets the option named `option` ("order", "crop", "intensity", "norm", "depth",
 * "center", "dtype" or "layout": the command line's name without "--") from its word
 * (the names above and below, e.g. "position", "float16"): what `mriprep run`, scan and
 * show and the C API all parse. MP_ERR_USAGE naming the option, the word and the two
 * words it takes otherwise. */
mp_status pipeline_option_parse(const char *option, const char *word, pipeline_options_t *p, mp_error *err);

const char *volume_layout_name(volume_layout_t layout); /* "hwd" / "dhw" */
const char *volume_dtype_name(volume_dtype_t dtype);    /* "float32" / "float16" */
size_t volume_dtype_size(volume_dtype_t dtype);         /* 4 / 2 */
const char *volume_dtype_npy_descr(volume_dtype_t dtype); /* "<f4" / "<f2" */

/* Bytes of the largest volume the options can give: out_w x out_h x slices values of
 * the dtype (what the pipeline's output buffers hold). */
uint64_t volume_max_bytes(const pipeline_options_t *p);

typedef enum series_outcome {
    SERIES_OK = 0,     /* a volume was produced */
    SERIES_EMPTY = 1,  /* no slice left after the blank and dark filters */
    SERIES_FAILED = 2  /* some file could not be decoded: no volume */
} series_outcome_t;

/* Seconds spent in each stage. CPU stages are summed over threads (so with 2 busy
 * threads a stage can count up to twice its wall time); device stages are wall time,
 * with `upload` and `download` the PCIe copies. */
typedef struct stage_times {
    double decode, stats, resize, zscore;
    double upload, download;
} stage_times_t;

/* What processing one series gave. The volume points into one of the pipeline's two
 * output buffers: valid until the next compute into the same buffer. */
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
    uint32_t reread;               /* selected files decoded a second time: the series'
                                      pixels passed the pixel budget */
    stage_times_t seconds;
    const void *volume;            /* ok only: the output values, layout and dtype as asked */
    size_t volume_bytes;
    uint64_t shape[3];             /* ok only: dimensions in layout order */
    volume_padding_t padding;      /* ok only: where its zero slices lie (--depth pad), which
                                      the writer need not read to know they are zero */
    image_plane_t plane;           /* of the first decoded slice (unknown without orientation) */
    slice_order_used_t order;      /* how the slices were put in order */
    int reoriented;                /* ok only: axes permuted and flipped to L, P, S (--reorient) */
    int has_affine;                /* ok only: `affine` is known */
    double affine[3][4];           /* ok only: output index (i0, i1, i2), shape order, -> LPS mm */
    char geometry_note[200];       /* why there is no affine, or no reorientation; "" otherwise */
} series_result_t;

typedef struct pipeline pipeline_t;

/* The pixel budget: the bytes of decoded pixels one batch keeps (default 256 MiB: a
 * 512x512 series of 512 slices, longer than any series of the RSNA-MICCAI data). A longer
 * series keeps its slices' statistics only, past the budget, and decodes the selected
 * ones again (series_result_t.reread). The environment variable MRIPREP_PIXEL_BUDGET_MB
 * (whole MB, >= 1) sets it for every pipeline; pipeline_set_pixel_budget for one. */
#define PIPELINE_PIXEL_BUDGET_DEFAULT_MB 256

/* Creates a pipeline (buffers reused from series to series). The options are copied.
 * With DEVICE_CUDA it takes the device now. Returns MP_OK, MP_ERR_USAGE (invalid
 * options; no such or unusable CUDA device; message says which) or MP_ERR_NOMEM. */
mp_status pipeline_create(const pipeline_options_t *opt, pipeline_t **out, mp_error *err);

void pipeline_destroy(pipeline_t *p);

/* Sets the pixel budget of the pipeline's batches, in bytes (0: the default). */
void pipeline_set_pixel_budget(pipeline_t *p, uint64_t bytes);

/* The number of OpenMP threads the pipeline uses (1 without OpenMP). */
int pipeline_threads(const pipeline_t *p);

/* "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3, sm_90)". */
const char *pipeline_device_description(const pipeline_t *p);

/* How many decoded batches may be in flight: 1 on the CPU (decode and compute share the
 * cores), 2 with CUDA (the host decodes one while the device computes the other). The
 * pipeline always has 2 output volumes. */
int pipeline_batch_count(const pipeline_t *p);

/* Decode stage: decodes `files[n_files]` (full paths, in slice order) into batch
 * `batch`, and with CUDA starts its upload. A file that cannot be decoded is recorded in
 * its slot, not an error. `ahead` (may be NULL) is the read-ahead whose list holds these
 * files next: it is told of each file decoded, so its window slides. Returns MP_OK, or
 * MP_ERR_NOMEM / MP_ERR_INTERNAL when the pipeline itself cannot go on. */
mp_status pipeline_decode(pipeline_t *p, int batch, const char *const *files, size_t n_files, readahead_t *ahead,
                          mp_error *err);

/* Compute stage on a decoded batch, into output volume `volume` (0 or 1). A series with
 * an undecodable file is SERIES_FAILED with the first such file named in `reason`: a
 * result, not an error. The volume stays valid until the next compute into the same
 * index. Returns MP_OK, or MP_ERR_NOMEM / MP_ERR_INTERNAL (a CUDA error included). */
mp_status pipeline_compute(pipeline_t *p, int batch, int volume, series_result_t *result, mp_error *err);

/* Both stages in one call (batch 0, volume 0): for callers that do not overlap. */
mp_status pipeline_process_series(pipeline_t *p, const char *const *files, size_t n_files, readahead_t *ahead,
                                  series_result_t *result, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_PIPELINE_H */
