/* job.h - private to src/job: what the steps of one run share.
 *
 * run.c builds a run_t step by step (labels, walk, shard, device, resume, OUT) and frees
 * it; run_stages.c runs its series through the three stages; resume.c decides what a
 * previous run into OUT left that can be kept (and what --overwrite removes).
 */
#ifndef MRIPREP_JOB_H
#define MRIPREP_JOB_H

#include <stddef.h>
#include <stdio.h>

#include "mriprep/dataset.h"
#include "mriprep/labels.h"
#include "mriprep/fs.h"
#include "mriprep/manifest.h"
#include "mriprep/pipeline.h"
#include "mriprep/readahead.h"
#include "mriprep/resume.h"
#include "mriprep/run.h"

/* The record names of this run (shard.h) and what a merge needs to know of it. */
typedef struct run_records {
    char manifest[64];        /* "manifest.csv", or "manifest.K-of-N.csv" for a shard */
    char run_json[64];        /* "run.json", or "run.K-of-N.json" */
    char shard[32];           /* "K/N", or "" */
    char data_absolute[4096]; /* DATA as an absolute path: merge walks it again */
} run_records_t;

typedef struct run {
    const run_options_t *opt;
    pipeline_options_t popt;        /* validated; the device settled by run_settle_device */
    readahead_options_t ahead_opt;  /* --readahead (and MRIPREP_DROP_PAGES) */
    run_summary_t *sum;
    double t_start;
    label_table_t labels;
    int has_labels;                 /* a labels file was read */
    dataset_t ds;
    run_records_t rec;
    unsigned char *in_shard;        /* [n_series]: this shard's series; NULL: every series */
    previous_run_t prev;            /* what OUT held before */
    const previous_row_t **resumed; /* [n_series]: kept from the previous run, or NULL */
    pipeline_t *pipe;
    manifest_writer_t manifest;
    char fingerprint[512];          /* options_fingerprint of this run */
    out_lock_t lock;                /* on OUT/.<manifest>.lock while the run may write */
    int out_created;                /* OUT did not exist: removed again if the run writes nothing */
} run_t;

/* Series i is this run's (its shard's, or every series of a whole run). */
static inline int run_has_series(const run_t *run, size_t i)
{
    return !run->in_shard || run->in_shard[i];
}

/* OUT/<name> into buf. */
static inline void run_out_path(const run_t *run, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", run->opt->out_dir, name);
}

/* run_stages.c: every series of the run through decode (this thread), compute and write
 * (two threads), rows appended to run->manifest. Returns the first fatal error (the
 * stages stop and drain), MP_OK otherwise. */
mp_status run_stages(run_t *run, mp_error *err);

/* resume.c: reads what OUT holds from a previous run (run->prev), from every record that
 * may hold it (a shard's own, the merged ones, other shards'). */
mp_status resume_load(run_t *run, mp_error *err);

/* resume.c: a previous run made with other options is an error unless --overwrite; with
 * it, its volumes, manifests and run records are removed (for a shard only its own
 * and the merged ones, never what another shard is writing). */
mp_status resume_check_options(run_t *run, mp_error *err);

/* resume.c: run->resumed[i] = the previous row of series i when its work is complete.
 * Not with --overwrite. */
void resume_mark_done(run_t *run);

/* resume.c: removes the temporary files a killed run left in OUT and in the folders this
 * run writes into; returns how many. */
size_t resume_remove_leftovers(const run_t *run);

#endif /* MRIPREP_JOB_H */
