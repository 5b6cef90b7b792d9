/* shard.c - the partition of a run into shards, their record names, Slurm's variables
 * and the records found in OUT (include/mriprep/shard.h; the merge is merge.c). */
#include "mriprep/shard.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ---- partition --------------------------------------------------------------------- */

/* The work of a series: its .dcm files (0 for series that are not decoded). */
static size_t series_weight(const series_t *s)
{
    return s->presence == SERIES_PRESENT ? s->n_files : 0;
}

typedef struct weighted {
    size_t weight, index;
} weighted_t;

static int heavier_first(const void *a, const void *b)
{
    const weighted_t *x = a, *y = b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* A binary min-heap of shards keyed by (load, shard index). */
typedef struct shard_load {
    size_t load;
    int shard;
} shard_load_t;

static int lighter(const shard_load_t *a, const shard_load_t *b)
{
    return a->load != b->load ? a->load < b->load : a->shard < b->shard;
}

static void sift_down(shard_load_t *heap, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && lighter(&heap[l], &heap[m])) m = l;
        if (r < n && lighter(&heap[r], &heap[m])) m = r;
        if (m == i) return;
        shard_load_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

mp_status shard_assign(const dataset_t *ds, int n, int *shard_of, mp_error *err)
{
    if (n < 1 || n > SHARD_MAX) return mp_fail(err, MP_ERR_USAGE, "shard count %d: expected 1..%d", n, SHARD_MAX);
    weighted_t *order = malloc((ds->n_series ? ds->n_series : 1) * sizeof *order);
    shard_load_t *heap = malloc((size_t)n * sizeof *heap);
    if (!order || !heap) {
        free(order);
        free(heap);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    size_t weighted = 0, round_robin = 0;
    for (size_t i = 0; i < ds->n_series; i++) {
        size_t w = series_weight(&ds->series[i]);
        if (w) order[weighted++] = (weighted_t){w, i};
        else shard_of[i] = (int)(round_robin++ % (size_t)n);
    }
    /* Longest processing time first: each series, heaviest first, to the least loaded
     * shard. The heap is ordered from the start (all loads 0, shards ascending). */
    qsort(order, weighted, sizeof *order, heavier_first);
    for (int k = 0; k < n; k++) heap[k] = (shard_load_t){0, k};
    for (size_t i = 0; i < weighted; i++) {
        shard_of[order[i].index] = heap[0].shard;
        heap[0].load += order[i].weight;
        sift_down(heap, n, 0);
    }
    free(order);
    free(heap);
    return MP_OK;
}

void shard_record_names(int k, int n, char *manifest, size_t manifest_cap, char *run_json, size_t run_json_cap)
{
    if (n <= 0) {
        snprintf(manifest, manifest_cap, "manifest.csv");
        snprintf(run_json, run_json_cap, "run.json");
    } else {
        snprintf(manifest, manifest_cap, "manifest.%d-of-%d.csv", k, n);
        snprintf(run_json, run_json_cap, "run.%d-of-%d.json", k, n);
    }
}

/* A whole number 0..limit, all of `text`. */
static int parse_count(const char *text, long limit, long *out)
{
    if (!text || !*text) return 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 0 || v > limit || text[0] == '-' || text[0] == '+' || text[0] == ' ') return 0;
    *out = v;
    return 1;
}

int shard_parse(const char *text, int *k, int *n)
{
    const char *slash = strchr(text, '/');
    if (!slash || slash == text || strlen(slash + 1) > 8 || (size_t)(slash - text) > 8) return 0;
    char left[16];
    memcpy(left, text, (size_t)(slash - text));
    left[slash - text] = '\0';
    long kk, nn;
    if (!parse_count(left, SHARD_MAX, &kk) || !parse_count(slash + 1, SHARD_MAX, &nn)) return 0;
    if (nn < 1 || kk >= nn) return 0;
    *k = (int)kk;
    *n = (int)nn;
    return 1;
}

int shard_from_environment(int *k, int *n, char *why, size_t why_cap)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID");
    if (!id || !*id) return 0;
    const char *min_text = getenv("SLURM_ARRAY_TASK_MIN"), *max_text = getenv("SLURM_ARRAY_TASK_MAX"),
               *count_text = getenv("SLURM_ARRAY_TASK_COUNT");
    long task, min = 0, max = 0, count = 0;
    const long big = 100000000;
    if (!parse_count(id, big, &task) || (min_text && *min_text && !parse_count(min_text, big, &min)) ||
        (max_text && *max_text && !parse_count(max_text, big, &max)) ||
        (count_text && *count_text && !parse_count(count_text, big, &count))) {
        snprintf(why, why_cap, "SLURM_ARRAY_TASK_ID=%s, _MIN=%s, _MAX=%s, _COUNT=%s: not whole numbers", id,
                 min_text ? min_text : "", max_text ? max_text : "", count_text ? count_text : "");
        return -1;
    }
    if (!count && max_text && *max_text) count = max - min + 1;
    if (count < 1) {
        snprintf(why, why_cap, "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor _MAX: give --shard K/N");
        return -1;
    }
    long shard = task - min;
    /* Arrays with gaps or steps (--array=0,4,9 or 0-9:2) number their tasks otherwise:
     * the count still holds, the offset does not. Those need --shard. */
    if (shard < 0 || shard >= count || count > SHARD_MAX) {
        snprintf(why, why_cap,
                 "SLURM_ARRAY_TASK_ID=%ld is not task %ld of %ld counted from SLURM_ARRAY_TASK_MIN=%ld (an array "
                 "with gaps or steps?): give --shard K/N",
                 task, shard, count, min);
        return -1;
    }
    if (count < 2) {
        /* `sbatch --array=2` is how one shard of an array is resubmitted: which shard of
         * how many cannot be told from it. */
        snprintf(why, why_cap,
                 "a job array of one task (SLURM_ARRAY_TASK_ID=%ld): give --shard K/N to rerun shard K of N, or "
                 "--shard none for a whole run", task);
        return -1;
    }
    *k = (int)shard;
    *n = (int)count;
    return 1;
}

/* ---- the records in OUT ------------------------------------------------------------- */

typedef struct named {
    char *name;
    int k, n, partial;
} named_t;

static int by_shard(const void *a, const void *b)
{
    const named_t *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    return x->partial - y->partial; /* a manifest before its .partial */
}

/* "manifest.K-of-N.csv" (partial 0), "...csv.partial" (1), "run.K-of-N.json" (2); -1 when
 * the name is none of them. */
int shard_record_kind(const char *name, int *k, int *n)
{
    int used = 0;
    if (sscanf(name, "manifest.%d-of-%d.csv%n", k, n, &used) == 2 && used > 0) {
        char canonical[96];
        snprintf(canonical, sizeof canonical, "manifest.%d-of-%d.csv", *k, *n);
        if (strncmp(name, canonical, strlen(canonical)) != 0) return -1; /* "manifest.01-of-4.csv" */
        if (!name[used]) return 0;
        if (!strcmp(name + used, ".partial")) return 1;
        return -1;
    }
    used = 0;
    if (sscanf(name, "run.%d-of-%d.json%n", k, n, &used) == 2 && used > 0 && !name[used]) {
        char canonical[96];
        snprintf(canonical, sizeof canonical, "run.%d-of-%d.json", *k, *n);
        return strcmp(name, canonical) ? -1 : 2;
    }
    return -1;
}

static mp_status push_name(named_t **list, size_t *n, size_t *cap, const char *name, int k, int shards, int partial,
                           mp_error *err)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        named_t *grown = realloc(*list, *cap * sizeof *grown);
        if (!grown) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
        *list = grown;
    }
    char *copy = strdup(name);
    if (!copy) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    (*list)[(*n)++] = (named_t){copy, k, shards, partial};
    return MP_OK;
}

/* Sorted names out of `list` (freed). */
static char **names_of(named_t *list, size_t n)
{
    if (n) qsort(list, n, sizeof *list, by_shard);
    char **names = malloc((n ? n : 1) * sizeof *names);
    if (names)
        for (size_t i = 0; i < n; i++) names[i] = list[i].name;
    else
        for (size_t i = 0; i < n; i++) free(list[i].name);
    free(list);
    return names;
}

mp_status shard_records_list(const char *out_dir, char ***manifests, size_t *n_manifests, char ***runs,
                             size_t *n_runs, mp_error *err)
{
    *manifests = *runs = NULL;
    *n_manifests = *n_runs = 0;
    named_t *m = NULL, *r = NULL;
    size_t nm = 0, cm = 0, nr = 0, cr = 0;
    mp_status st = MP_OK;
    DIR *d = opendir(out_dir);
    if (d) {
        struct dirent *e;
        while (st == MP_OK && (e = readdir(d)) != NULL) {
            int k, n, kind = shard_record_kind(e->d_name, &k, &n);
            if (kind < 0 || n < 1 || k < 0 || k >= n) continue;
            if (kind == 2) st = push_name(&r, &nr, &cr, e->d_name, k, n, 0, err);
            else st = push_name(&m, &nm, &cm, e->d_name, k, n, kind, err);
        }
        closedir(d);
    }
    if (st != MP_OK) {
        for (size_t i = 0; i < nm; i++) free(m[i].name);
        for (size_t i = 0; i < nr; i++) free(r[i].name);
        free(m);
        free(r);
        return st;
    }
    *manifests = names_of(m, nm);
    *runs = names_of(r, nr);
    if (!*manifests || !*runs) {
        shard_names_free(*manifests, *manifests ? nm : 0);
        shard_names_free(*runs, *runs ? nr : 0);
        *manifests = *runs = NULL;
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    *n_manifests = nm;
    *n_runs = nr;
    return MP_OK;
}

void shard_names_free(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}
