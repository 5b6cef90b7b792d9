/* run_record.c - OUT/run.json, written and read (see include/mriprep/run_record.h). */
#include "mriprep/run_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mriprep/features.h"
#include "mriprep/fs.h"
#include "mriprep/json.h"

/* ---- writing ---------------------------------------------------------------------------- */

static void write_identity(json_writer_t *j, const run_record_t *r)
{
    json_string(j, "tool", "mriprep");
    json_string(j, "version", mriprep_version());
    json_string(j, "command", r->command);
    json_string(j, "data", r->data);
    json_string(j, "data_absolute", r->data_absolute);
    json_string(j, "out", r->out);
    json_string(j, "state", r->state);
    json_string(j, "shard", r->shard && r->shard[0] ? r->shard : NULL);
    json_string(j, "fingerprint", r->fingerprint);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_string(j, "written", when);
}

/* The options as given, in the words of the command line. */
static void write_options(json_writer_t *j, const run_options_t *opt, const pipeline_options_t *p,
                          const run_summary_t *sum)
{
    json_object_begin(j, "options");
    json_array_begin(j, "size");
    json_int(j, NULL, p->out_w);
    json_int(j, NULL, p->out_h);
    json_array_end(j);
    json_int(j, "slices", p->slices);
    json_double(j, "dark", p->dark);
    json_int(j, "margin", p->margin);
    json_string(j, "dtype", volume_dtype_name(p->dtype));
    json_string(j, "layout", volume_layout_name(p->layout));
    json_string(j, "format", output_format_name(opt->format));
    json_string(j, "order", slice_order_option_name(p->order));
    json_bool(j, "reorient", p->reorient);
    json_string(j, "crop", crop_mode_name(p->crop));
    json_string(j, "intensity", intensity_mode_name(p->intensity));
    json_bool(j, "rescale", p->rescale);
    json_string(j, "norm", norm_mode_name(p->norm));
    json_string(j, "depth", depth_mode_name(p->depth));
    json_string(j, "center", center_mode_name(p->center));
    json_string(j, "augment", opt->augment_rot90 ? "rot90" : "none");
    json_uint(j, "seed", opt->seed); /* all of 0..2^64-1, as given */
    json_string(j, "preset", opt->preset ? opt->preset : "notebook");
    json_array_begin(j, "modalities");
    for (size_t i = 0; i < opt->n_modalities; i++) json_string(j, NULL, opt->modalities[i]);
    json_array_end(j);
    json_array_begin(j, "exclude");
    for (size_t i = 0; i < opt->n_exclude; i++) json_string(j, NULL, opt->exclude[i]);
    json_array_end(j);
    json_string(j, "labels", sum->labels_used[0] ? sum->labels_used : NULL);
    json_int(j, "threads", p->threads);
    if (opt->readahead_mb == READAHEAD_AUTO) json_string(j, "readahead", "auto");
    else json_int(j, "readahead", opt->readahead_mb);
    json_string(j, "device", opt->device == DEVICE_REQUEST_CPU    ? "cpu"
                             : opt->device == DEVICE_REQUEST_CUDA ? "cuda"
                                                                  : "auto");
    json_object_end(j);
}

/* Where it ran, what it was built with, and the labels it read. */
static void write_environment(json_writer_t *j, const run_record_t *r)
{
    const run_summary_t *sum = r->summary;
    json_string(j, "device", r->pipeline->device == DEVICE_CUDA ? "cuda" : "cpu");
    json_string(j, "device_detail", sum->device);
    json_string(j, "device_reason", sum->device_reason);
    /* The CUDA self-check: {"ran": false} on a CPU run; else what it compared and found. */
    const device_check_report_t *check = &sum->device_check;
    json_object_begin(j, "device_check");
    json_bool(j, "ran", check->ran);
    if (check->ran) {
        json_string(j, "device", check->device);
        json_bool(j, "passed", check->passed);
        json_int(j, "cases", check->cases);
        json_double(j, "seconds", check->seconds);
        json_string(j, "failure", check->passed ? NULL : check->failure);
    }
    json_object_end(j);
    json_int(j, "threads", sum->threads);
    json_object_begin(j, "versions");
    json_string(j, "mriprep", mriprep_version());
    mp_feature_t features[8];
    size_t nf = mriprep_features(features, 8);
    for (size_t i = 0; i < nf && i < 8; i++) json_string(j, features[i].name, features[i].present ? features[i].detail : NULL);
    json_object_end(j);

    const label_table_t *labels = r->labels;
    json_object_begin(j, "labels");
    json_string(j, "file", sum->labels_used[0] ? sum->labels_used : NULL);
    json_uint(j, "rows", labels ? labels->rows : 0);
    json_uint(j, "ids", labels ? labels->n : 0);
    json_uint(j, "duplicates", labels ? labels->duplicates : 0);
    json_uint(j, "conflicts", labels ? labels->conflicts : 0);
    json_uint(j, "labels_without_images", sum->labels_without_images);
    json_uint(j, "images_without_labels", sum->images_without_labels);
    json_object_end(j);
}

static void write_totals(json_writer_t *j, const run_totals_t *t)
{
    json_object_begin(j, "totals");
    json_uint(j, "patients", t->patients);
    json_uint(j, "series", t->series);
    for (int s = 0; s < SERIES_STATUSES; s++) json_uint(j, series_status_name((series_status_t)s), t->status.n[s]);
    json_uint(j, "resumed", t->resumed);
    json_uint(j, "files", t->files);
    json_uint(j, "files_decoded", t->files_decoded);
    json_uint(j, "files_reread", t->files_reread);
    json_uint(j, "bytes_read", t->bytes_read);
    json_uint(j, "bytes_written", t->bytes_written);
    json_object_end(j);
    json_double(j, "elapsed_s", t->elapsed);
}

static void write_timing(json_writer_t *j, const run_totals_t *t, const pipeline_options_t *p,
                         const run_stage_times_t *stages)
{
    json_object_begin(j, "throughput");
    double secs = t->elapsed > 0 ? t->elapsed : 1e-9;
    json_double(j, "files_per_s", (double)t->files_decoded / secs);
    json_double(j, "input_mb_per_s", (double)t->bytes_read / 1e6 / secs);
    json_object_end(j);
    json_object_begin(j, "stage_seconds");
    json_string(j, "note", p->device == DEVICE_CUDA
                               ? "walk, write, stats, resize, zscore, download: wall time; decode: summed over threads; "
                                 "upload: device time of the H2D copies"
                               : "walk and write: wall time; decode, stats, resize, zscore: summed over threads");
    json_double(j, "walk", stages->walk);
    json_double(j, "decode", stages->pipeline.decode);
    json_double(j, "stats", stages->pipeline.stats);
    json_double(j, "resize", stages->pipeline.resize);
    json_double(j, "zscore", stages->pipeline.zscore);
    json_double(j, "write", stages->write);
    if (p->device == DEVICE_CUDA) {
        json_double(j, "upload", stages->pipeline.upload);
        json_double(j, "download", stages->pipeline.download);
    }
    json_object_end(j);
}

/* What the read-ahead did: how much it queued, and how often the decoders got there first
 * (files_overtaken: the storage kept up without it, or the window is too small). */
static void write_readahead(json_writer_t *j, const readahead_stats_t *ra)
{
    json_object_begin(j, "readahead");
    json_double(j, "window_mb", (double)ra->max_bytes / (1 << 20));
    json_uint(j, "files_issued", ra->files_issued);
    json_uint(j, "bytes_issued", ra->bytes_issued);
    json_uint(j, "files_overtaken", ra->files_overtaken);
    json_uint(j, "files_skipped", ra->files_skipped);
    json_bool(j, "drop_pages", ra->dropping);
    json_uint(j, "files_dropped", ra->files_dropped);
    json_object_end(j);
}

mp_status run_record_write(const char *path, const run_record_t *r, mp_error *err)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, NULL);
    write_identity(&j, r);
    if (r->run) {
        write_options(&j, r->run, r->pipeline, r->summary);
        write_environment(&j, r);
    } else {
        json_int(&j, "shards", r->shards);
        json_array_begin(&j, "merged_from");
        for (size_t i = 0; i < r->n_merged; i++) json_string(&j, NULL, r->merged_from[i]);
        json_array_end(&j);
        json_string(&j, "options_in", r->n_merged ? r->merged_from[0] : NULL);
    }
    write_totals(&j, &r->totals);
    if (r->run) write_timing(&j, &r->totals, r->pipeline, &r->summary->stages);
    if (r->run) write_readahead(&j, &r->summary->readahead);
    else json_string(&j, "elapsed_note", "the longest shard; shards may have run one after another");
    json_object_end(&j);
    mp_status st = j.failed ? mp_fail(err, MP_ERR_NOMEM, "out of memory writing %s", path)
                            : text_write_atomic(path, j.text, j.len, err);
    json_free(&j);
    return st;
}

/* ---- reading ---------------------------------------------------------------------------- */

static void copy_string(const json_value_t *root, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s", json_find_string(root, key, ""));
}

mp_status run_record_read(const char *path, run_record_facts_t *facts, int *missing, mp_error *err)
{
    memset(facts, 0, sizeof *facts);
    size_t len = 0;
    char *text = text_read(path, RUN_RECORD_READ_MAX_BYTES, &len, missing, err);
    if (!text) return missing && *missing ? MP_OK : err ? err->code : MP_ERR_IO;
    json_value_t *root = NULL;
    mp_status st = json_parse(text, len, path, &root, err);
    free(text);
    if (st != MP_OK) return st;
    copy_string(root, "state", facts->state, sizeof facts->state);
    copy_string(root, "fingerprint", facts->fingerprint, sizeof facts->fingerprint);
    copy_string(root, "data_absolute", facts->data, sizeof facts->data);
    if (!facts->data[0]) copy_string(root, "data", facts->data, sizeof facts->data);
    facts->elapsed = json_find_number(root, "elapsed_s", 0);
    facts->files_decoded = (uint64_t)json_find_number(root, "totals.files_decoded", 0);
    facts->bytes_read = (uint64_t)json_find_number(root, "totals.bytes_read", 0);
    facts->files_reread = (uint64_t)json_find_number(root, "totals.files_reread", 0);
    facts->bytes_written = (uint64_t)json_find_number(root, "totals.bytes_written", 0);
    const json_value_t *mods = json_find(root, "options.modalities");
    if (mods && mods->type == JSON_ARRAY && mods->n) {
        facts->modalities = calloc(mods->n, sizeof *facts->modalities);
        for (size_t i = 0; facts->modalities && i < mods->n; i++) {
            const char *m = mods->items[i].type == JSON_STRING ? mods->items[i].string : "";
            if (!(facts->modalities[facts->n_modalities] = strdup(m))) break;
            facts->n_modalities++;
        }
        if (facts->n_modalities != mods->n) st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
    }
    json_value_free(root);
    if (st != MP_OK) run_record_facts_free(facts);
    return st;
}

void run_record_facts_free(run_record_facts_t *facts)
{
    for (size_t i = 0; i < facts->n_modalities; i++) free(facts->modalities[i]);
    free(facts->modalities);
    facts->modalities = NULL;
    facts->n_modalities = 0;
}
