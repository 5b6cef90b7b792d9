/* mriprep.h - the public C API of libmriprep: `mriprep run`'s pipeline, one series at
 * a time, for programs that preprocess on the fly (a training loop, a Python binding).
 *
 *   mriprep_options_t opt;
 *   mriprep_options_init(&opt);                 defaults: 256x256, 128 slices, float32, hwd
 *   opt.width = opt.height = 128;
 *   mriprep_context_t *ctx;
 *   char msg[MRIPREP_MESSAGE_MAX];
 *   if (mriprep_create(&opt, &ctx, msg, sizeof msg) != MRIPREP_OK) ... msg says why
 *   float *vol = malloc(mriprep_volume_capacity(ctx));    the largest volume these options give
 *   mriprep_result_t r;
 *   if (mriprep_process_series(ctx, "DATA/train/00000/FLAIR", vol, mriprep_volume_capacity(ctx), &r)
 *       != MRIPREP_OK) ... mriprep_last_error(ctx)
 *   if (r.outcome == MRIPREP_SERIES_OK) ... vol holds r.shape[0] x r.shape[1] x r.shape[2] values
 *   mriprep_destroy(ctx);
 *
 * The volume is exactly what `mriprep run` writes into the .npy for that series with the
 * same options (same bytes, whatever the threads or the device).
 *
 * Rules:
 * - A context keeps its buffers (and its CUDA device memory) from call to call. Use it
 *   from one thread at a time; several contexts may live in one process, each used by its
 *   own thread. After fork() a child must create its own contexts (a CUDA context does
 *   not survive fork; with the device "auto" a child that cannot use CUDA takes the CPU;
 *   a child's contexts use one thread: see mriprep_threads()).
 * - The library never prints and never exits. Every function that can fail returns a
 *   mriprep_status_t and leaves a one-line message naming the path and the problem: in
 *   the caller's buffer for mriprep_create() and mriprep_dataset_open(), else in
 *   mriprep_last_error(ctx).
 * - A series that yields no volume is an outcome, not an error: EMPTY (every slice blank
 *   or dark, or no .dcm file) and FAILED (a file that cannot be decoded; no volume from a
 *   series with a hole in it) come with a reason, as in `mriprep run`'s manifest.
 * - Only plain C types cross this header; it includes nothing of the library's own.
 *
 * Link: pkg-config --cflags --libs mriprep (after `make install`), or -Iinclude
 * -Lbuild -lmriprep in the source tree.
 */
#ifndef MRIPREP_MRIPREP_H
#define MRIPREP_MRIPREP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this API. Grows when a function or field is added (older callers keep
 * working: mriprep_options_init() sets the version the caller was compiled with, and the
 * library reads and writes only the fields that version had); the soname's number
 * (libmriprep.so.1) changes only when something is removed or changes meaning.
 *   1  the notebook's options (size, slices, dark, margin, dtype, layout, threads, device)
 *   2  adds the volumetric options (order, crop, intensity, norm, depth, center, reorient,
 *      rescale) at the end of mriprep_options_t */
#define MRIPREP_API_VERSION 2

/* Message buffers: one line, no trailing newline. */
#define MRIPREP_MESSAGE_MAX 512

typedef enum mriprep_status {
    MRIPREP_OK = 0,
    MRIPREP_ERR_IO = 1,          /* cannot open / read / list a file or folder */
    MRIPREP_ERR_FORMAT = 3,      /* not DICOM, malformed input (labels file, ...) */
    MRIPREP_ERR_NOMEM = 7,       /* out of memory */
    MRIPREP_ERR_USAGE = 8,       /* bad options or arguments; no usable CUDA device asked for */
    MRIPREP_ERR_INTERNAL = 9,    /* a bug or a CUDA failure */
    MRIPREP_ERR_BUFFER = 100     /* the caller's buffer is smaller than the volume */
    /* Other values may come from the library's internals (see mriprep_status_name()). */
} mriprep_status_t;

/* "ok", "io", "usage", "buffer", ... for any status. */
const char *mriprep_status_name(int status);

/* MRIPREP_API_VERSION of the loaded library, and the mriprep version ("0.1.0"): a program
 * (or the Python module) checks the first against the header it was built with. */
int mriprep_api_version(void);
const char *mriprep_version_string(void);

typedef enum mriprep_dtype {
    MRIPREP_FLOAT32 = 0, /* 4 bytes per value, native (little-endian) */
    MRIPREP_FLOAT16 = 1  /* IEEE half, 2 bytes, as numpy's float16 */
} mriprep_dtype_t;

typedef enum mriprep_layout {
    MRIPREP_HWD = 0, /* (H, W, D): the notebook's np.stack(axis=-1); mriprep run's default */
    MRIPREP_DHW = 1  /* (D, H, W) */
} mriprep_layout_t;

/* The options of `mriprep run` that shape a volume (its command-line names in quotes). */
typedef struct mriprep_options {
    int api_version;    /* set by mriprep_options_init() to MRIPREP_API_VERSION */
    int width, height;  /* "--size WxH": output slice size in pixels (256 x 256) */
    int slices;         /* "--slices K": keep at most the middle K slices (128) */
    double dark;        /* "--dark T": drop slices whose cropped mean is below T (0.01) */
    int margin;         /* "--margin M": pixels added around each crop box (0) */
    int dtype;          /* "--dtype": mriprep_dtype_t (MRIPREP_FLOAT32) */
    int layout;         /* "--layout": mriprep_layout_t (MRIPREP_HWD) */
    int threads;        /* "--threads N": decode and resize threads, 0 = all cores (0) */
    const char *device; /* "--device": "auto", "cpu", "cuda" or "cuda:N"; NULL = "auto".
                           auto takes a usable CUDA device, else the CPU (see
                           mriprep_device()); cuda without one fails mriprep_create() */
    /* Since API 2: the volumetric options (README, "Presets"), as the command line's
       words; NULL = the default word. A word the option does not take fails
       mriprep_create() ("--order 'x': expected name or position"). */
    const char *order;     /* "--order": "name" or "position" ("name") */
    const char *crop;      /* "--crop": "slice" or "volume" ("slice") */
    const char *intensity; /* "--intensity": "minmax" or "raw" ("minmax") */
    const char *norm;      /* "--norm": "volume" or "nonzero" ("volume") */
    const char *depth;     /* "--depth": "keep" or "pad" ("keep") */
    const char *center;    /* "--center": "middle" or "largest" ("middle") */
    int reorient;          /* "--reorient": 1 = axes permuted and flipped to LPS (0); the
                              result's shape says the order the axes came out in */
    int rescale;           /* "--rescale": 1 = RescaleSlope/Intercept applied; needs
                              intensity "raw" (0) */
} mriprep_options_t;

/* The defaults above (those of `mriprep run`) for the fields API version `api_version`
 * has; api_version is set to it. Call it first (through the macro below), then change
 * fields. */
void mriprep_options_init_version(mriprep_options_t *opt, int api_version);
/* Programs built against API 1 call this one: the fields of version 1 only. */
void mriprep_options_init(mriprep_options_t *opt);
/* The version this program is compiled against, so that a newer library never writes
 * past the end of an older program's struct. */
#define mriprep_options_init(opt) mriprep_options_init_version((opt), MRIPREP_API_VERSION)

typedef struct mriprep_context mriprep_context_t;

/* Checks the options, settles the device and allocates the pipeline. On failure *out is
 * NULL and `message` (may be NULL; `message_cap` bytes) says why, e.g. "--slices 0: must
 * be 1..65535" or "--device cuda:0: no CUDA device (...)". */
mriprep_status_t mriprep_create(const mriprep_options_t *opt, mriprep_context_t **out, char *message,
                                size_t message_cap);

/* Frees the context and everything it holds; NULL is fine. */
void mriprep_destroy(mriprep_context_t *ctx);

/* The message of the context's last failed call ("" when none failed). Valid until the
 * next call on the context. */
const char *mriprep_last_error(const mriprep_context_t *ctx);

/* Where the context computes: "cpu" or "cuda:0 (NVIDIA ..., sm_90)", and why
 * ("--device cpu", "--device auto: no CUDA device (...)"). */
const char *mriprep_device(const mriprep_context_t *ctx);
const char *mriprep_device_reason(const mriprep_context_t *ctx);

/* The OpenMP threads the context uses: opt.threads, or all cores for 0; 1 without
 * OpenMP, and 1 in a process forked from one whose contexts had started OpenMP threads
 * (GNU libgomp's threads do not survive fork: more than one would hang the child). */
int mriprep_threads(const mriprep_context_t *ctx);

/* Bytes of the largest volume these options can give: width * height * slices * (4 or 2).
 * A buffer this large always holds the volume. */
size_t mriprep_volume_capacity(const mriprep_context_t *ctx);

typedef enum mriprep_outcome {
    MRIPREP_SERIES_OK = 0,     /* a volume was produced */
    MRIPREP_SERIES_EMPTY = 1,  /* no .dcm file, or no slice left after the blank and dark filters */
    MRIPREP_SERIES_FAILED = 2  /* a file could not be decoded (named in reason): no volume */
} mriprep_outcome_t;

/* What one series gave; the manifest row `mriprep run` writes for it. */
typedef struct mriprep_result {
    int outcome;                       /* mriprep_outcome_t */
    char reason[MRIPREP_MESSAGE_MAX];  /* why empty or failed; "" when ok */
    uint64_t shape[3];                 /* ok: dimensions in layout order, e.g. (H, W, D);
                                          zeros otherwise */
    size_t volume_bytes;               /* ok: shape[0] * shape[1] * shape[2] * (4 or 2) */
    int copied;                        /* 1 when the volume was copied into the caller's buffer */
    uint32_t files;                    /* .dcm files in the folder */
    uint32_t kept;                     /* slices left after the blank and dark filters */
    uint32_t depth;                    /* slices in the volume: min(kept, slices) */
    uint32_t src_rows, src_cols;       /* Rows x Columns of the first file (0 when unknown) */
    double mean, std;                  /* ok: z-score moments of the resized volume */
} mriprep_result_t;

/* Processes the series folder `series_dir` (its .dcm files, in the order `mriprep run`
 * uses) and, when the outcome is OK and `out` holds `out_capacity` >= volume_bytes bytes,
 * copies the volume there (result->copied = 1). With `out` NULL the volume stays in the
 * context until its next call: copy it with mriprep_copy_volume() (size the buffer from
 * result->shape first). Returns MRIPREP_OK (look at result->outcome), MRIPREP_ERR_BUFFER
 * (`out` too small: result filled, volume kept for mriprep_copy_volume()), MRIPREP_ERR_IO
 * ("<dir>: cannot list folder: No such file or directory"), MRIPREP_ERR_NOMEM or
 * MRIPREP_ERR_INTERNAL. */
mriprep_status_t mriprep_process_series(mriprep_context_t *ctx, const char *series_dir, void *out,
                                        size_t out_capacity, mriprep_result_t *result);

/* Copies the volume of the last successful mriprep_process_series() call into `out`.
 * MRIPREP_ERR_USAGE when there is none, MRIPREP_ERR_BUFFER when `out_capacity` is too small. */
mriprep_status_t mriprep_copy_volume(mriprep_context_t *ctx, void *out, size_t out_capacity);

/* ---- datasets: the series `mriprep run DATA` would process, in its order ----------- */

typedef struct mriprep_dataset mriprep_dataset_t;

typedef enum mriprep_presence {
    MRIPREP_PRESENT = 0,    /* a folder with .dcm files: process it */
    MRIPREP_MISSING = 1,    /* no such modality folder (manifest status "missing") */
    MRIPREP_NO_DCM = 2,     /* a folder without .dcm files ("empty", reason "no .dcm files") */
    MRIPREP_EXCLUDED = 3,   /* not produced by this API (mriprep run --exclude) */
    MRIPREP_UNREADABLE = 4  /* a folder that cannot be listed ("failed"; see problem) */
} mriprep_presence_t;

/* One (patient, modality) of a dataset. The strings live as long as the dataset. */
typedef struct mriprep_series_info {
    const char *split;    /* "train", "test", or "" when DATA holds the patient folders */
    const char *patient;  /* patient folder name, e.g. "00109" */
    const char *modality; /* e.g. "FLAIR" */
    const char *dir;      /* DATA/<split>/<patient>/<modality>: give it to mriprep_process_series() */
    const char *label;    /* from the labels file ("0", "1"); "" when none */
    const char *problem;  /* MRIPREP_UNREADABLE: why; else "" */
    int presence;         /* mriprep_presence_t */
    size_t files;         /* .dcm files found */
} mriprep_series_info_t;

/* Walks `root` as `mriprep run` does: patients of root/train and root/test when those
 * exist, else of root; for each, the `n_modalities` modality folders in that order
 * (NULL/0: FLAIR, T1w, T1wCE, T2w). `labels_path` is run's --labels: NULL reads
 * root/train_labels.csv when present; "" reads none. Rows of the labels file that
 * cannot be used are skipped (run warns about them; see mriprep_dataset_warning()). On
 * failure *out is NULL and `message` says why ("DATA: cannot list folder: ..."). */
mriprep_status_t mriprep_dataset_open(const char *root, const char *const *modalities, size_t n_modalities,
                                      const char *labels_path, mriprep_dataset_t **out, char *message,
                                      size_t message_cap);

void mriprep_dataset_free(mriprep_dataset_t *ds);

/* Series (patients x modalities, in run's order: split, patient, modality) and patients. */
size_t mriprep_dataset_series_count(const mriprep_dataset_t *ds);
size_t mriprep_dataset_patient_count(const mriprep_dataset_t *ds);

/* Series `index` (0 .. count-1) into *info. MRIPREP_ERR_USAGE when out of range. */
mriprep_status_t mriprep_dataset_series(const mriprep_dataset_t *ds, size_t index, mriprep_series_info_t *info);

/* The labels file read ("" when none), and its warnings (bad rows, conflicting labels). */
const char *mriprep_dataset_labels_path(const mriprep_dataset_t *ds);
size_t mriprep_dataset_warning_count(const mriprep_dataset_t *ds);
const char *mriprep_dataset_warning(const mriprep_dataset_t *ds, size_t index);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_MRIPREP_H */
