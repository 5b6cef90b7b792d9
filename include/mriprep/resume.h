/* resume.h - what a previous run into the same OUT already finished, so a rerun (the
 * default) redoes only the rest, and refuses to mix outputs made with other options.
 *
 * A run records the options that change output bytes (its fingerprint) in OUT/run.json
 * before it writes anything, appends one flushed manifest row after each volume is
 * renamed into place, and renames the manifest into place at the end. So after a crash
 * or kill -9, OUT/manifest.csv.partial lists exactly the series whose volumes are
 * complete.
 */
#ifndef MRIPREP_RESUME_H
#define MRIPREP_RESUME_H

#include <stddef.h>

#include "mriprep/error.h"
#include "mriprep/manifest.h"
#include "mriprep/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The options that change the bytes of a volume, as one line:
 * "size=256x256 slices=128 dark=0.01 margin=0 dtype=float32 layout=hwd order=name
 * format=npy crop=slice intensity=minmax norm=volume depth=keep center=middle".
 * Threads, progress, device and shard are not in it: they never change output bytes. */
void options_fingerprint(const pipeline_options_t *p, const char *format, int augment_rot90, uint64_t seed, char *buf,
                         size_t cap);

/* One manifest row of a previous run, by column (manifest.h). */
typedef struct previous_row {
    char *fields[MANIFEST_COLUMNS]; /* owned; "" for empty fields */
    size_t order;                  /* position in the files read (later rows are newer) */
} previous_row_t;

typedef struct previous_run {
    int found;            /* OUT holds a manifest (complete or partial) or a run record */
    int has_run_json;     /* OUT/run.json was there (an older mriprep's may lack a fingerprint) */
    char fingerprint[512]; /* from OUT/run.json; "" when there is none */
    char state[32];       /* "running" (it did not finish), "complete", "interrupted", or "" */
    previous_row_t *rows; /* sorted by split, id, modality; rows of manifest.csv.partial
                             override those of manifest.csv (they are newer) */
    size_t n_rows;
} previous_run_t;

/* Reads OUT/run.json, OUT/manifest.csv and OUT/manifest.csv.partial when present.
 * MP_OK with found = 0 when OUT has none of them (or does not exist); MP_ERR_IO naming
 * the file when one cannot be read, MP_ERR_FORMAT when run.json is not JSON;
 * MP_ERR_NOMEM. */
mp_status previous_run_load(const char *out_dir, previous_run_t *prev, mp_error *err);

/* The same from the given record names: `run_json` for the fingerprint, then the
 * manifests in order, later ones overriding earlier rows (a shard reads the merged
 * manifest.csv, then its own manifest.K-of-N.csv and .partial). */
mp_status previous_run_load_files(const char *out_dir, const char *run_json, const char *const *manifests,
                                  size_t n_manifests, previous_run_t *prev, mp_error *err);

/* The previous row of a series, or NULL. */
const previous_row_t *previous_run_find(const previous_run_t *prev, const char *split, const char *id,
                                        const char *modality);

void previous_run_free(previous_run_t *prev);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_RESUME_H */
