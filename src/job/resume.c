/* resume.c - what a previous run into OUT finished (include/mriprep/resume.h: the
 * loader), and what this run does about it (src/job/job.h: the policy): keep the series
 * whose work is complete, refuse other options unless --overwrite, and remove what
 * --overwrite replaces and the temporary files of a killed run.
 */
#include "mriprep/resume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "mriprep/augment.h"
#include "mriprep/fs.h"
#include "mriprep/run_record.h"
#include "mriprep/shard.h"
#include "mriprep/volume_file.h"

void options_fingerprint(const pipeline_options_t *p, const char *format, int augment_rot90, uint64_t seed, char *buf,
                         size_t cap)
{
    /* %.17g: the exact threshold, so 0.01 and 0.010000000000000002 differ. The words
     * that came later (reorient, rescale, augment) appear only when used, so the
     * notebook's fingerprint is what it always was. */
    int n = snprintf(buf, cap,
                     "size=%dx%d slices=%d dark=%.17g margin=%d dtype=%s layout=%s order=%s format=%s crop=%s "
                     "intensity=%s norm=%s depth=%s center=%s",
                     p->out_w, p->out_h, p->slices, p->dark, p->margin, volume_dtype_name(p->dtype),
                     volume_layout_name(p->layout), slice_order_option_name(p->order), format,
                     crop_mode_name(p->crop), intensity_mode_name(p->intensity), norm_mode_name(p->norm),
                     depth_mode_name(p->depth), center_mode_name(p->center));
    if (n < 0 || (size_t)n >= cap) return;
    if (p->reorient) n += snprintf(buf + n, cap - (size_t)n, " reorient=lps");
    if (n < 0 || (size_t)n >= cap) return;
    if (p->rescale) n += snprintf(buf + n, cap - (size_t)n, " rescale=yes");
    if (n < 0 || (size_t)n >= cap) return;
    if (augment_rot90) snprintf(buf + n, cap - (size_t)n, " augment=rot90 seed=%llu", (unsigned long long)seed);
}

/* ---- the loader ------------------------------------------------------------------------ */

static int row_compare(const void *a, const void *b)
{
    const previous_row_t *x = a, *y = b;
    static const manifest_column_t key[] = {MANIFEST_SPLIT, MANIFEST_ID, MANIFEST_MODALITY};
    for (size_t f = 0; f < sizeof key / sizeof *key; f++) {
        int c = strcmp(x->fields[key[f]], y->fields[key[f]]);
        if (c) return c;
    }
    return 0;
}

static int row_compare_then_order(const void *a, const void *b)
{
    int c = row_compare(a, b);
    if (c) return c;
    size_t x = ((const previous_row_t *)a)->order, y = ((const previous_row_t *)b)->order;
    return (x > y) - (x < y);
}

static void row_free(previous_row_t *r)
{
    for (int f = 0; f < MANIFEST_COLUMNS; f++) free(r->fields[f]);
}

/* manifest_parse's callback: a copy of each row into prev->rows. */
typedef struct row_sink {
    previous_run_t *prev;
    size_t cap;
    const char *path;
} row_sink_t;

static mp_status keep_row(void *ctx, char *const *fields, mp_error *err)
{
    row_sink_t *sink = ctx;
    previous_run_t *prev = sink->prev;
    if (prev->n_rows == sink->cap) {
        sink->cap = sink->cap ? sink->cap * 2 : 1024;
        previous_row_t *grown = realloc(prev->rows, sink->cap * sizeof *grown);
        if (!grown) return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", sink->path);
        prev->rows = grown;
    }
    previous_row_t *r = &prev->rows[prev->n_rows];
    memset(r, 0, sizeof *r);
    for (int f = 0; f < MANIFEST_COLUMNS; f++)
        if (!(r->fields[f] = strdup(fields[f]))) {
            row_free(r);
            return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", sink->path);
        }
    prev->n_rows++;
    return MP_OK;
}

mp_status previous_run_load(const char *out_dir, previous_run_t *prev, mp_error *err)
{
    static const char *const manifests[] = {"manifest.csv", "manifest.csv.partial"};
    return previous_run_load_files(out_dir, "run.json", manifests, 2, prev, err);
}

/* Sorts by series, rows read later after earlier ones, then keeps the last row of each
 * series: the newest word on it. */
static void keep_newest_rows(previous_run_t *prev)
{
    for (size_t i = 0; i < prev->n_rows; i++) prev->rows[i].order = i;
    qsort(prev->rows, prev->n_rows, sizeof *prev->rows, row_compare_then_order);
    size_t m = 0;
    for (size_t i = 0; i < prev->n_rows; i++) {
        if (i + 1 < prev->n_rows && row_compare(&prev->rows[i], &prev->rows[i + 1]) == 0) {
            row_free(&prev->rows[i]);
            continue;
        }
        prev->rows[m++] = prev->rows[i];
    }
    prev->n_rows = m;
}

mp_status previous_run_load_files(const char *out_dir, const char *run_json, const char *const *manifests,
                                  size_t n_manifests, previous_run_t *prev, mp_error *err)
{
    memset(prev, 0, sizeof *prev);
    char path[4096];
    int missing;
    snprintf(path, sizeof path, "%s/%s", out_dir, run_json);
    run_record_facts_t facts;
    mp_status st = run_record_read(path, &facts, &missing, err);
    if (st != MP_OK) return st;
    if (!missing) {
        prev->found = prev->has_run_json = 1;
        snprintf(prev->fingerprint, sizeof prev->fingerprint, "%s", facts.fingerprint);
        snprintf(prev->state, sizeof prev->state, "%s", facts.state);
        run_record_facts_free(&facts);
    }
    /* In the order given: later files are newer (a .partial after its manifest). */
    row_sink_t sink = {prev, 0, path};
    for (size_t i = 0; i < n_manifests; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, manifests[i]);
        size_t len = 0;
        char *text = text_read(path, MANIFEST_READ_MAX_BYTES, &len, &missing, err);
        if (!text) {
            if (missing) continue;
            previous_run_free(prev);
            return err ? err->code : MP_ERR_IO;
        }
        prev->found = 1;
        st = manifest_parse(text, len, keep_row, &sink, err);
        free(text);
        if (st != MP_OK) {
            previous_run_free(prev);
            return st;
        }
    }
    if (prev->n_rows) keep_newest_rows(prev);
    return MP_OK;
}

const previous_row_t *previous_run_find(const previous_run_t *prev, const char *split, const char *id,
                                        const char *modality)
{
    if (!prev->n_rows) return NULL;
    previous_row_t key;
    memset(&key, 0, sizeof key);
    key.fields[MANIFEST_SPLIT] = (char *)(uintptr_t)split; /* only read */
    key.fields[MANIFEST_ID] = (char *)(uintptr_t)id;
    key.fields[MANIFEST_MODALITY] = (char *)(uintptr_t)modality;
    return bsearch(&key, prev->rows, prev->n_rows, sizeof *prev->rows, row_compare);
}

void previous_run_free(previous_run_t *prev)
{
    if (!prev) return;
    for (size_t i = 0; i < prev->n_rows; i++) row_free(&prev->rows[i]);
    free(prev->rows);
    memset(prev, 0, sizeof *prev);
}

/* ---- the policy ------------------------------------------------------------------------ */

mp_status resume_load(run_t *run, mp_error *err)
{
    const run_options_t *opt = run->opt;
    const run_records_t *rec = &run->rec;
    char **manifests = NULL, **runs = NULL;
    size_t n_manifests = 0, n_runs = 0;
    mp_status st = shard_records_list(opt->out_dir, &manifests, &n_manifests, &runs, &n_runs, err);
    if (st != MP_OK) return st;
    const char **names = malloc((n_manifests + 4) * sizeof *names);
    if (!names) {
        shard_names_free(manifests, n_manifests);
        shard_names_free(runs, n_runs);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    /* A shard reads the merged records, then its own (newer). A whole run reads the shard
     * records (a sharded run finished by one machine), then the merged ones. The
     * fingerprint comes from this run's own record, else the merged one, else any
     * shard's. */
    size_t n = 0;
    char own_partial[80];
    snprintf(own_partial, sizeof own_partial, "%s.partial", rec->manifest);
    if (rec->shard[0]) {
        names[n++] = "manifest.csv";
        names[n++] = "manifest.csv.partial";
        names[n++] = rec->manifest;
        names[n++] = own_partial;
    } else {
        for (size_t i = 0; i < n_manifests; i++) names[n++] = manifests[i];
        names[n++] = "manifest.csv";
        names[n++] = "manifest.csv.partial";
    }
    const char *run_json = rec->run_json;
    char path[8192];
    struct stat sb;
    run_out_path(run, run_json, path, sizeof path);
    if (stat(path, &sb) != 0) {
        run_out_path(run, "run.json", path, sizeof path);
        if (stat(path, &sb) == 0) run_json = "run.json";
        else if (!rec->shard[0] && n_runs) run_json = runs[0];
    }
    st = previous_run_load_files(opt->out_dir, run_json, names, n, &run->prev, err);
    free(names);
    shard_names_free(manifests, n_manifests);
    shard_names_free(runs, n_runs);
    return st;
}

/* "size 256x256 then, 128x128 now, ...": the key=value words of two fingerprints that
 * differ. */
static void fingerprint_difference(const char *then, const char *now, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    const char *a = now;
    while (*a && used + 1 < cap) {
        const char *end = strchr(a, ' '), *eq = strchr(a, '=');
        size_t len = end ? (size_t)(end - a) : strlen(a);
        if (eq && (size_t)(eq - a) < len) {
            size_t key = (size_t)(eq - a) + 1; /* "size=" */
            const char *b = then, *match = NULL;
            while (b && *b && !match) {
                if (!strncmp(b, a, key)) match = b;
                b = strchr(b, ' ');
                if (b) b++;
            }
            size_t mlen = match ? (strchr(match, ' ') ? (size_t)(strchr(match, ' ') - match) : strlen(match)) : 0;
            if (!match || mlen != len || strncmp(match, a, len))
                used += (size_t)snprintf(out + used, cap - used, "%s%.*s %.*s then, %.*s now", used ? ", " : "",
                                         (int)key - 1, a, match ? (int)(mlen - key) : 1, match ? match + key : "?",
                                         (int)(len - key), a + key);
        }
        if (!end) break;
        a = end + 1;
    }
    if (!out[0]) snprintf(out, cap, "%s", then);
}

/* Why this run may not write into OUT as it is: other options, or none known. */
static mp_status refuse_other_options(const run_t *run, mp_error *err)
{
    const previous_run_t *prev = &run->prev;
    const char *out = run->opt->out_dir;
    if (!prev->fingerprint[0] && prev->has_run_json)
        return mp_fail(err, MP_ERR_USAGE,
                       "%s/run.json has no options fingerprint (an older mriprep wrote it, before runs could be "
                       "resumed), so its volumes cannot be checked against these options: use --overwrite to "
                       "redo them, or another OUT", out);
    if (!prev->fingerprint[0])
        return mp_fail(err, MP_ERR_USAGE,
                       "%s holds a manifest but no run.json to tell which options made it: use --overwrite to "
                       "replace it, or another OUT", out);
    char differs[512];
    fingerprint_difference(prev->fingerprint, run->fingerprint, differs, sizeof differs);
    return mp_fail(err, MP_ERR_USAGE,
                   "%s was written with other options (%.300s): use --overwrite to replace it, or another OUT", out,
                   differs);
}

/* A row's output or rotated-copy path as mriprep names them for that row's split, ID and
 * modality ("train/00000/FLAIR.npy", "00000/FLAIR.rot90.nii.gz"): only such a file, a
 * regular one, is removed for --overwrite. A manifest mriprep did not write can name
 * anything (the labels file, when DATA is OUT). */
static int is_volume_name_of_row(const previous_row_t *row, const char *rel)
{
    const char *split = row->fields[MANIFEST_SPLIT], *id = row->fields[MANIFEST_ID],
               *modality = row->fields[MANIFEST_MODALITY];
    if (!id[0] || !modality[0] || strchr(id, '/') || strchr(modality, '/') || strchr(split, '/') ||
        !strcmp(id, "..") || !strcmp(id, ".") || !strcmp(split, "..") || !strcmp(split, "."))
        return 0;
    char prefix[1024];
    int n = snprintf(prefix, sizeof prefix, "%s%s%s/%s.", split, split[0] ? "/" : "", id, modality);
    if (n < 0 || (size_t)n >= sizeof prefix || strncmp(rel, prefix, (size_t)n) != 0) return 0;
    const char *rest = rel + n;
    static const char *const rot[] = {"", "rot90.", "rot180.", "rot270."};
    static const char *const ext[] = {"npy", "nii", "nii.gz"};
    for (size_t r = 0; r < 4; r++)
        for (size_t e = 0; e < 3; e++) {
            char want[32];
            snprintf(want, sizeof want, "%s%s", rot[r], ext[e]);
            if (!strcmp(rest, want)) return 1;
        }
    return 0;
}

/* --overwrite: the previous run's volumes (those its rows name inside OUT, by mriprep's
 * own names; a whole run only), this run's own volume paths, the merged records, and the
 * shard records (a shard removes only its own). */
static mp_status remove_previous_outputs(run_t *run, mp_error *err)
{
    const run_options_t *opt = run->opt;
    const previous_run_t *prev = &run->prev;
    char path[8192], rel[4096];
    for (size_t i = 0; i < prev->n_rows && !run->in_shard; i++) {
        static const manifest_column_t volumes[] = {MANIFEST_OUTPUT, MANIFEST_AUGMENTED};
        for (size_t f = 0; f < sizeof volumes / sizeof *volumes; f++) {
            const char *row_rel = prev->rows[i].fields[volumes[f]];
            if (!row_rel[0] || !is_volume_name_of_row(&prev->rows[i], row_rel)) continue;
            run_out_path(run, row_rel, path, sizeof path);
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) unlink(path);
        }
    }
    for (size_t i = 0; i < run->ds.n_series; i++) {
        if (!run_has_series(run, i)) continue;
        volume_file_name(&run->ds.series[i], opt->format, 0, rel, sizeof rel);
        run_out_path(run, rel, path, sizeof path);
        unlink(path);
    }
    static const char *const merged[] = {"manifest.csv", "manifest.csv.partial", "run.json"};
    for (size_t i = 0; i < sizeof merged / sizeof *merged; i++) {
        run_out_path(run, merged[i], path, sizeof path);
        unlink(path);
    }
    char **manifests = NULL, **runs = NULL;
    size_t n_manifests = 0, n_runs = 0;
    mp_status st = shard_records_list(opt->out_dir, &manifests, &n_manifests, &runs, &n_runs, err);
    if (st != MP_OK) return st;
    const run_records_t *rec = &run->rec;
    for (size_t i = 0; i < n_manifests + n_runs; i++) {
        const char *name = i < n_manifests ? manifests[i] : runs[i - n_manifests];
        /* a shard removes its own records only: "manifest.2-of-4.csv" and its .partial */
        if (run->in_shard && strncmp(name, rec->manifest, strlen(rec->manifest)) && strcmp(name, rec->run_json))
            continue;
        run_out_path(run, name, path, sizeof path);
        unlink(path);
    }
    shard_names_free(manifests, n_manifests);
    shard_names_free(runs, n_runs);
    previous_run_free(&run->prev);
    return MP_OK;
}

mp_status resume_check_options(run_t *run, mp_error *err)
{
    if (!run->prev.found) return MP_OK;
    const int same = run->prev.fingerprint[0] && !strcmp(run->prev.fingerprint, run->fingerprint);
    if (!same && !run->opt->overwrite) return refuse_other_options(run, err);
    return run->opt->overwrite ? remove_previous_outputs(run, err) : MP_OK;
}

/* A volume file begins as its format says: "\x93NUMPY", NIfTI-1's "n+1\0" at byte 344, or
 * gzip's 1f 8b. A machine crash (not kill -9) can leave a file renamed into place before
 * its data reached the disk: empty, or zeros (unless MRIPREP_FSYNC=each). */
static int volume_header_whole(const char *path, output_format_t format)
{
    unsigned char b[348];
    const size_t need = format == FORMAT_NII ? 348 : 6;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    const int got = fread(b, 1, need, f) == need;
    fclose(f);
    if (!got) return 0;
    if (format == FORMAT_NPY) return memcmp(b, "\x93NUMPY", 6) == 0;
    if (format == FORMAT_NII) return memcmp(b + 344, "n+1", 4) == 0;
    return b[0] == 0x1f && b[1] == 0x8b;
}

/* The previous row says series s is done, for the same files, at the path this run would
 * write, and the volume (and its rotated copy) are there, whole. */
static int series_done(const run_t *run, const series_t *s, const previous_row_t *r)
{
    const run_options_t *opt = run->opt;
    const pipeline_options_t *p = &run->popt;
    char rel[4096], path[8192], files[32];
    if (strcmp(r->fields[MANIFEST_STATUS], series_status_name(STATUS_OK))) return 0;
    snprintf(files, sizeof files, "%zu", s->n_files);
    volume_file_name(s, opt->format, 0, rel, sizeof rel);
    char *end;
    long depth = strtol(r->fields[MANIFEST_DEPTH], &end, 10);
    if (strcmp(r->fields[MANIFEST_FILES], files) || strcmp(r->fields[MANIFEST_OUTPUT], rel) || *end || depth < 1 ||
        depth > p->slices)
        return 0;
    /* Outputs are renamed into place whole, so one that exists is complete; a .npy in the
     * layout's own shape is also checked for its exact size. */
    run_out_path(run, rel, path, sizeof path);
    struct stat st;
    const int exact_size = opt->format == FORMAT_NPY && !p->reorient && p->depth == DEPTH_KEEP;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
        (exact_size && (uint64_t)st.st_size != npy_volume_file_bytes(p, (uint64_t)depth)) ||
        !volume_header_whole(path, opt->format))
        return 0;
    if (!opt->augment_rot90) return 1;
    char name[4096];
    series_name(s, "", name, sizeof name);
    volume_file_name(s, opt->format, rot90_turns_for(opt->seed, name), rel, sizeof rel);
    run_out_path(run, rel, path, sizeof path);
    return !strcmp(r->fields[MANIFEST_AUGMENTED], rel) && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
           volume_header_whole(path, opt->format);
}

void resume_mark_done(run_t *run)
{
    if (run->opt->overwrite) return;
    for (size_t i = 0; i < run->ds.n_series; i++) {
        const series_t *s = &run->ds.series[i];
        if (s->presence != SERIES_PRESENT || !run_has_series(run, i)) continue;
        const previous_row_t *r = previous_run_find(&run->prev, s->split, s->patient, s->modality);
        if (r && series_done(run, s, r)) run->resumed[i] = r;
    }
}

size_t resume_remove_leftovers(const run_t *run)
{
    const run_options_t *opt = run->opt;
    const dataset_t *ds = &run->ds;
    /* A shard removes only the temporary files of its own records and volumes: the shards
     * beside it may be writing theirs. */
    size_t removed;
    if (run->in_shard)
        removed = remove_temporary_files(opt->out_dir, run->rec.manifest) +
                  remove_temporary_files(opt->out_dir, run->rec.run_json);
    else
        removed = remove_temporary_files(opt->out_dir, NULL);
    char dir[8192], volume[300];
    for (size_t i = 0; i < ds->n_series; i++) {
        const series_t *s = &ds->series[i];
        if (!run_has_series(run, i)) continue;
        snprintf(dir, sizeof dir, "%s/%s%s%s", opt->out_dir, s->split, s->split[0] ? "/" : "", s->patient);
        if (run->in_shard) {
            snprintf(volume, sizeof volume, "%s.%s", s->modality, output_format_name(opt->format));
            removed += remove_temporary_files(dir, volume);
            for (int k = 1; k <= 3 && opt->augment_rot90; k++) {
                snprintf(volume, sizeof volume, "%s.rot%d.%s", s->modality, 90 * k, output_format_name(opt->format));
                removed += remove_temporary_files(dir, volume);
            }
        } else if (series_starts_patient(ds, i)) {
            removed += remove_temporary_files(dir, NULL);
        }
    }
    return removed;
}
