/* run_record.h - OUT/run.json: what a run (or a shard of one, or a merge of shards)
 * records of itself, written by one writer and read back with the JSON reader.
 *
 * A run writes its record when it starts ("state": "running", with the fingerprint a
 * resume checks, before any volume) and again at the end ("complete", "interrupted" or
 * "failed", with totals and times). A shard K of N writes OUT/run.K-of-N.json; `mriprep
 * merge` writes OUT/run.json from the shards' records. Keys (stable; tests and scripts
 * read them): tool, version, command, data, data_absolute, out, state, shard,
 * fingerprint, written, totals {patients, series, ok, empty, missing, failed, excluded,
 * resumed, files, files_decoded, files_reread, bytes_read, bytes_written}, elapsed_s; a
 * run's also options {...}, device, device_detail, device_reason, device_check {ran,
 * device, passed, cases, seconds, failure}, threads, versions {...}, labels {...},
 * throughput {files_per_s, input_mb_per_s}, stage_seconds {...}; a merge's also shards,
 * merged_from, options_in, elapsed_note.
 */
#ifndef MRIPREP_RUN_RECORD_H
#define MRIPREP_RUN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/labels.h"
#include "mriprep/manifest.h"
#include "mriprep/run.h"

/* The most a run record read back may be (a few kB are written). */
#define RUN_RECORD_READ_MAX_BYTES ((size_t)64 << 20)

#ifdef __cplusplus
extern "C" {
#endif

/* What run_record_write writes. Strings may be NULL (written null). */
typedef struct run_record {
    const char *command, *data, *data_absolute, *out, *state, *shard, *fingerprint;
    run_totals_t totals;
    /* A run's record (NULL for a merge's): */
    const run_options_t *run;          /* the options as given */
    const pipeline_options_t *pipeline; /* validated, device settled */
    const run_summary_t *summary;      /* device, threads, labels file and label counts */
    const label_table_t *labels;       /* NULL without a labels file */
    /* A merge's record (n_merged 0 for a run's): */
    int shards;
    const char *const *merged_from;    /* [n_merged] the shard records joined */
    size_t n_merged;
} run_record_t;

/* Writes `rec` to `path` atomically. MP_ERR_WRITE naming it, or MP_ERR_NOMEM. */
mp_status run_record_write(const char *path, const run_record_t *rec, mp_error *err);

/* What a run record says, read back (by resume, and by merge from each shard's). */
typedef struct run_record_facts {
    char state[32];          /* "running", "complete", "interrupted", "failed"; "" when absent */
    char fingerprint[512];   /* "" when absent (an older mriprep wrote the record) */
    char data[4096];         /* data_absolute, else data; "" when absent */
    char **modalities;       /* [n_modalities] options.modalities, owned */
    size_t n_modalities;
    double elapsed;          /* elapsed_s */
    uint64_t files_decoded, files_reread, bytes_read, bytes_written; /* totals */
} run_record_facts_t;

/* Reads the record at `path`. MP_OK; with `missing` set to 1 (facts zeroed) when there is
 * no such file; MP_ERR_IO naming an unreadable one, MP_ERR_FORMAT naming one that is not
 * JSON, MP_ERR_NOMEM. `missing` may be NULL: then a missing file is MP_ERR_IO. */
mp_status run_record_read(const char *path, run_record_facts_t *facts, int *missing, mp_error *err);
void run_record_facts_free(run_record_facts_t *facts);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_RUN_RECORD_H */
