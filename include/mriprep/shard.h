/* shard.h - scale-out: one run split into N shards (Slurm job array tasks, or any
 * machines sharing OUT), and the merge that joins them.
 *
 * Every shard walks the same DATA and computes the same partition, so each series lands
 * in exactly one shard whatever machine runs it. Shard K of N writes its volumes where a
 * single run puts them and its own records, OUT/manifest.K-of-N.csv and
 * OUT/run.K-of-N.json, so no two processes ever write the same file. `mriprep merge OUT`
 * joins the records into OUT/manifest.csv and OUT/run.json, the same bytes a single run
 * writes (but for the seconds column), after checking that every series of the dataset
 * has a row.
 */
#ifndef MRIPREP_SHARD_H
#define MRIPREP_SHARD_H

#include <stddef.h>

#include "mriprep/dataset.h"
#include "mriprep/error.h"
#include "mriprep/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHARD_MAX 65536

/* shard_of[i] for every series of `ds`: balanced by .dcm file count (the work), not by
 * series count, so no shard gets all the 400-slice series. Deterministic: largest series
 * first (ties in walk order), each to the least loaded shard so far (ties: the lowest
 * shard). Series without files spread round robin. MP_ERR_USAGE for n outside
 * 1..SHARD_MAX. */
mp_status shard_assign(const dataset_t *ds, int n, int *shard_of, mp_error *err);

/* The record names of shard k of n ("manifest.2-of-4.csv", "run.2-of-4.json"), or of an
 * unsharded run (n == 0: "manifest.csv", "run.json"). */
void shard_record_names(int k, int n, char *manifest, size_t manifest_cap, char *run_json, size_t run_json_cap);

/* Parses "K/N" (0 <= K < N <= SHARD_MAX). Returns 1 when valid. */
int shard_parse(const char *text, int *k, int *n);

/* The shard given by Slurm's environment of a job array task: K = SLURM_ARRAY_TASK_ID -
 * SLURM_ARRAY_TASK_MIN, N = SLURM_ARRAY_TASK_COUNT (or MAX - MIN + 1). Returns 1 and sets
 * k, n when the variables describe a task of an array of two or more; 0 when they are
 * absent (not an array task); -1 when they are present but do not tell the shard (*why
 * says): an array with gaps or steps, or one of a single task (a resubmitted shard). */
int shard_from_environment(int *k, int *n, char *why, size_t why_cap);

/* The shard record names found in `out_dir` (manifest.K-of-N.csv[.partial] into
 * `manifests`, run.K-of-N.json into `runs`), sorted by N then K; owned strings, free with
 * shard_names_free(). MP_ERR_NOMEM only; a missing folder has none. */
mp_status shard_records_list(const char *out_dir, char ***manifests, size_t *n_manifests, char ***runs,
                             size_t *n_runs, mp_error *err);
void shard_names_free(char **names, size_t n);

/* What a file name in OUT is: 0 "manifest.K-of-N.csv", 1 its ".partial", 2
 * "run.K-of-N.json" (k and n set), -1 none of them (also "manifest.01-of-4.csv"). */
int shard_record_kind(const char *name, int *k, int *n);

typedef struct merge_report {
    int shards;               /* N of the shards found */
    size_t series;            /* series of the dataset (rows of the merged manifest) */
    size_t missing;           /* series without a row in any shard */
    status_counts_t status;   /* rows by status */
    size_t unfinished;        /* shards whose record says they did not finish */
    char *missing_text;       /* owned: up to 20 missing series, "train/00003/T1w, ..." */
} merge_report_t;

/* Joins the shard records in `out_dir`: reads run.K-of-N.json for DATA, modalities and
 * exclusions, walks DATA, and writes manifest.csv (rows in dataset order) and run.json,
 * atomically, when every series has a row. Returns MP_OK with report->missing == 0 when
 * merged; MP_OK with missing > 0 when some series have no row (nothing written); an
 * error at MP_PLACE_DATA when there are no shard records, one cannot be read, or DATA
 * cannot be walked (merge's inputs); MP_ERR_USAGE when the shards disagree (other N,
 * other options); MP_ERR_WRITE, MP_ERR_NOMEM. */
mp_status merge_shards(const char *out_dir, merge_report_t *report, mp_error *err);

void merge_report_free(merge_report_t *report);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_SHARD_H */
