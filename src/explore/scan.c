/* scan.c - the exploration stage (see include/mriprep/scan.h).
 *
 * One parallel pass over every .dcm file of the dataset (headers only, or decoded with
 * `pixels`), one record per file; then serial passes over the records to summarise
 * series, modalities and the dataset and to list the problems, in series order.
 */
#include "mriprep/scan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "kernels/slice_math.h"
#include "mriprep/cpu_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/log.h"
#include "mriprep/readahead.h"
#include "mriprep/timer.h"
#include "mriprep/volume_file.h"
#include "scan_internal.h"

static char *dup_printf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void count_add(scan_report_t *r, count_map_t *m, const char *key, uint64_t by)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->items[i].key, key)) {
            m->items[i].count += by;
            return;
        }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        count_item_t *grown = realloc(m->items, cap * sizeof *grown);
        if (!grown) {
            r->failed_alloc = 1;
            return;
        }
        m->items = grown;
        m->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        r->failed_alloc = 1;
        return;
    }
    m->items[m->n].key = k;
    m->items[m->n++].count = by;
}

static void count_free(count_map_t *m)
{
    for (size_t i = 0; i < m->n; i++) free(m->items[i].key);
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* Takes ownership of series, file and detail (any may be NULL after a failed alloc). */
static void add_problem(scan_report_t *r, const char *kind, char *series, char *file, char *detail)
{
    if (!series || !file || !detail) r->failed_alloc = 1;
    if (r->n_problems == r->cap_problems) {
        size_t cap = r->cap_problems ? r->cap_problems * 2 : 64;
        scan_problem_t *grown = realloc(r->problems, cap * sizeof *grown);
        if (!grown) {
            r->failed_alloc = 1;
            free(series), free(file), free(detail);
            return;
        }
        r->problems = grown;
        r->cap_problems = cap;
    }
    scan_problem_t *p = &r->problems[r->n_problems++];
    p->kind = kind;
    p->series = series ? series : strdup("");
    p->file = file ? file : strdup("");
    p->detail = detail ? detail : strdup("");
}

static char *series_label(const series_t *s)
{
    char name[4096];
    series_name(s, "", name, sizeof name);
    return strdup(name);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- the parallel pass ----------------------------------------------------------- */

/* The index of h's syntax in the report's table (added when new); `refused`: the file
 * was refused for its syntax, which the table then notes. */
static int syntax_index(scan_report_t *r, const dicom_header_t *h, int refused)
{
    int found = -1;
#pragma omp critical(scan_syntax)
    {
        for (int i = 0; i < r->n_syntaxes && found < 0; i++)
            if (!strcmp(r->syntax_uid[i], h->transfer_syntax)) found = i;
        if (found < 0 && r->n_syntaxes < SCAN_MAX_SYNTAXES) {
            found = r->n_syntaxes++;
            snprintf(r->syntax_uid[found], sizeof r->syntax_uid[found], "%s", h->transfer_syntax);
            r->syntax_name[found] = h->transfer_syntax_name ? h->transfer_syntax_name : "?";
        }
        if (found >= 0 && refused) r->syntax_refused[found] = 1;
    }
    return found < 0 ? SCAN_MAX_SYNTAXES - 1 : found;
}

/* Intensity histogram of one decoded slice into hist[INTENSITY_BINS] (+ zeros etc.). */
static void add_intensities(const uint16_t *px, size_t n, int is_signed, uint64_t *hist, uint64_t *zeros,
                            uint64_t *negative, uint64_t *above)
{
    for (size_t i = 0; i < n; i++) {
        int32_t v = slice_stored_value(px[i], is_signed);
        if (v == 0) (*zeros)++;
        else if (v < 0) (*negative)++;
        else if (v >= INTENSITY_BIN * INTENSITY_BINS) (*above)++;
        else hist[v / INTENSITY_BIN]++;
    }
}

/* The per-thread intensity counters of one modality. */
typedef struct intensity_counts {
    uint64_t hist[INTENSITY_BINS], zeros, negative, above;
} intensity_counts_t;

static void read_file(scan_report_t *r, const char *path, scan_file_t *f, dicom_buffer_t *buf, int32_t *scratch,
                      intensity_counts_t *intensity)
{
    dicom_header_t h;
    memset(&h, 0, sizeof h);
    mp_error e;
    mp_error_clear(&e);
    f->fate = FATE_UNKNOWN;
    f->status = r->opt.pixels ? dicom_decode_slice_with(path, &h, dicom_place_in_buffer, buf, &e)
                              : dicom_read_header(path, &h, &e);
    f->bytes = h.file_bytes;
    f->frames = h.frames;
    f->mosaic = (uint8_t)h.mosaic;
    f->mosaic_images = h.mosaic_images;
    /* A refused file whose header was read still counts under its syntax: the table
     * says what the dataset holds, decodable or not. */
    f->syntax = h.transfer_syntax[0] ? (uint16_t)syntax_index(r, &h, h.syntax_refused) : SCAN_NO_SYNTAX;
    if (f->status != MP_OK) {
        f->error = strdup(e.msg);
        if (!f->bytes) {
            struct stat st;
            if (stat(path, &st) == 0) f->bytes = (uint64_t)st.st_size;
        }
        return;
    }
    f->rows = h.rows;
    f->cols = h.cols;
    f->plane = (uint8_t)(h.has_orientation ? plane_from_orientation(h.orientation) : PLANE_UNKNOWN);
    f->is_signed = h.pixel_representation == 1;
    f->has_instance = (uint8_t)h.has_instance;
    f->instance = h.instance_number;
    f->has_position = (uint8_t)h.has_position;
    f->has_orientation = (uint8_t)h.has_orientation;
    memcpy(f->position, h.position, sizeof f->position);
    memcpy(f->orientation, h.orientation, sizeof f->orientation);
    if (r->opt.pixels) {
        slice_slot_t slot;
        memset(&slot, 0, sizeof slot);
        slot.buffer.pixels = buf->pixels;
        slot.rows = h.rows;
        slot.cols = h.cols;
        slot.is_signed = f->is_signed;
        cpu_slice_stats(&r->opt.pipeline, &slot, scratch);
        f->fate = (uint8_t)slot.fate;
        add_intensities(buf->pixels, (size_t)h.rows * h.cols, f->is_signed, intensity->hist, &intensity->zeros,
                        &intensity->negative, &intensity->above);
    }
}

/* Reads every file of every present series, in parallel; merges the intensity counts. */
static mp_status read_all_files(scan_report_t *r, mp_error *err)
{
    const dataset_t *ds = &r->ds;
    size_t n = 0;
    for (size_t s = 0; s < ds->n_series; s++) n += ds->series[s].presence == SERIES_PRESENT ? ds->series[s].n_files : 0;
    r->files = calloc(n ? n : 1, sizeof *r->files);
    if (!r->files) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu file records", n);
    const char **paths = malloc((n ? n : 1) * sizeof *paths);
    uint32_t *modality_of = malloc((n ? n : 1) * sizeof *modality_of);
    if (!paths || !modality_of) {
        free(paths);
        free(modality_of);
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu file records", n);
    }
    size_t k = 0;
    for (size_t s = 0; s < ds->n_series; s++) {
        const series_t *se = &ds->series[s];
        r->series[s].first = k;
        if (se->presence != SERIES_PRESENT) continue;
        r->series[s].n = se->n_files;
        uint32_t m = 0;
        while (m < r->opt.n_modalities && strcmp(r->opt.modalities[m], se->modality)) m++;
        for (size_t i = 0; i < se->n_files; i++, k++) {
            paths[k] = se->files[i];
            modality_of[k] = m;
            r->files[k].series = (uint32_t)s;
        }
    }
    r->n_files = n;

    /* Cold storage answers many reads at once: the read-ahead keeps them in flight (the
     * headers' bytes only, unless the pixels are read too). */
    readahead_t *ahead = NULL;
    mp_status st = readahead_start_for(paths, n, r->opt.readahead_mb, !r->opt.pixels, &ahead, err);
    if (st != MP_OK) {
        free(paths);
        free(modality_of);
        return st;
    }

    const size_t nm = r->opt.n_modalities;
    int alloc_failed = 0;
#pragma omp parallel num_threads(r->threads)
    {
        dicom_buffer_t buf;
        memset(&buf, 0, sizeof buf);
        int32_t *scratch = r->opt.pixels ? malloc(2 * DICOM_MAX_DIM * sizeof(int32_t)) : NULL;
        intensity_counts_t *mine = r->opt.pixels ? calloc(nm, sizeof *mine) : NULL;
        if (r->opt.pixels && (!scratch || !mine)) {
#pragma omp atomic write
            alloc_failed = 1;
        }
#pragma omp for schedule(dynamic, 16)
        for (int64_t i = 0; i < (int64_t)n; i++) {
            if (r->opt.pixels && (!scratch || !mine)) continue;
            read_file(r, paths[i], &r->files[i], &buf, scratch, mine ? &mine[modality_of[i]] : NULL);
            readahead_file_done(ahead);
        }
        if (mine) {
#pragma omp critical(scan_merge)
            for (size_t m = 0; m < nm; m++) {
                modality_summary_t *ms = &r->modalities[m];
                for (int b = 0; b < INTENSITY_BINS; b++) ms->hist[b] += mine[m].hist[b];
                ms->zeros += mine[m].zeros;
                ms->negative += mine[m].negative;
                ms->above += mine[m].above;
            }
        }
        free(mine);
        free(scratch);
        dicom_buffer_free(&buf);
    }
    readahead_stop(ahead, NULL);
    free(paths);
    free(modality_of);
    if (alloc_failed) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate per-thread scan buffers");
    return MP_OK;
}

/* ---- summaries --------------------------------------------------------------------- */

static int compare_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* 1 when v[0..n) never rises or never falls (ties allowed). */
static int monotonic(const double *v, size_t n)
{
    int up = 1, down = 1;
    for (size_t i = 1; i < n; i++) {
        up &= v[i] >= v[i - 1];
        down &= v[i] <= v[i - 1];
    }
    return up || down;
}

/* name_order: the file names' order (the notebook preset's) is neither the InstanceNumber
 * order nor the position order, of the series' n readable slices `g` in name order (3 or
 * more, and at least one of the two known for all). */
static void note_name_order(scan_report_t *r, size_t s, const slice_geometry_t *g, size_t n)
{
    if (n < 3) return;
    double *v = malloc(n * sizeof *v);
    if (!v) {
        r->failed_alloc = 1;
        return;
    }
    int known = 0, agrees = 0, instances = 1;
    for (size_t i = 0; i < n; i++) instances &= g[i].has_instance;
    if (instances) {
        for (size_t i = 0; i < n; i++) v[i] = (double)g[i].instance;
        known++, agrees += monotonic(v, n);
    }
    if (slice_positions_along_normal(g, n, v)) known++, agrees += monotonic(v, n);
    free(v);
    if (known && !agrees)
        add_problem(r, "name_order", series_label(&r->ds.series[s]), strdup(""),
                    dup_printf("the file names' order is neither the %s: the notebook preset stacks the slices in "
                               "name order; --order position (or --preset volumetric) puts them in anatomical order",
                               known == 2 ? "InstanceNumber order nor the position order"
                               : instances ? "InstanceNumber order" : "position order"));
}

/* multiple_volumes: the readable files of series s lie at repeated positions (a 4D
 * series), which `run` refuses; name_order (note_name_order). */
static void note_repeated_positions(scan_report_t *r, size_t s)
{
    const scan_series_t *ss = &r->series[s];
    slice_geometry_t *g = calloc(ss->readable ? ss->readable : 1, sizeof *g);
    if (!g) {
        r->failed_alloc = 1;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < ss->n; i++) {
        const scan_file_t *f = &r->files[ss->first + i];
        if (f->status != MP_OK) continue;
        g[n].has_position = f->has_position;
        g[n].has_orientation = f->has_orientation;
        g[n].has_instance = f->has_instance;
        g[n].instance = f->instance;
        memcpy(g[n].position, f->position, sizeof g[n].position);
        memcpy(g[n].orientation, f->orientation, sizeof g[n].orientation);
        n++;
    }
    uint32_t positions, volumes;
    if (slice_positions_repeat(g, n, &positions, &volumes)) {
        char what[200];
        slice_repeat_text(positions, volumes, n, what, sizeof what);
        add_problem(r, "multiple_volumes", series_label(&r->ds.series[s]), strdup(""),
                    dup_printf("%s: `run` fails this series (one 3D volume per series)", what));
    } else {
        note_name_order(r, s, g, n);
    }
    free(g);
}

/* Shapes, planes, pixel representation, syntaxes, instance numbers and file problems of
 * one present series. `instances` has room for its files. */
static void summarise_series(scan_report_t *r, size_t s, int32_t *instances)
{
    const series_t *se = &r->ds.series[s];
    scan_series_t *ss = &r->series[s];
    ss->plane = ss->is_signed = ss->syntax = -1;
    int seen_plane[IMAGE_PLANE_COUNT] = {0}, seen_signed[2] = {0};
    int seen_syntax[SCAN_MAX_SYNTAXES] = {0};
    /* distinct shapes, with file counts, for the mixed_shapes detail */
    uint32_t shape_rows[8], shape_cols[8], shape_files[8];
    int n_shapes = 0;
    size_t n_instances = 0;
    uint32_t multi_frame = 0, most_frames = 0, mosaics = 0, mosaic_images = 0;
    for (size_t i = 0; i < ss->n; i++) {
        const scan_file_t *f = &r->files[ss->first + i];
        ss->bytes += f->bytes;
        if (f->syntax != SCAN_NO_SYNTAX) seen_syntax[f->syntax] = 1;
        if (f->status != MP_OK && f->frames > 1) { /* named once per series below */
            multi_frame++;
            most_frames = f->frames > most_frames ? f->frames : most_frames;
            continue;
        }
        if (f->status != MP_OK && f->mosaic) {
            mosaics++;
            mosaic_images = f->mosaic_images > mosaic_images ? f->mosaic_images : mosaic_images;
            continue;
        }
        if (f->status != MP_OK) {
            const char *kind = f->error && strstr(f->error, "not a DICOM") ? "not_dicom" : "unreadable_file";
            add_problem(r, kind, series_label(se), strdup(base_name(se->files[i])),
                        strdup(f->error ? f->error : "unreadable"));
            continue;
        }
        ss->readable++;
        if (ss->plane < 0) {
            ss->plane = f->plane;
            ss->is_signed = f->is_signed;
            ss->syntax = f->syntax;
            ss->rows = f->rows;
            ss->cols = f->cols;
        }
        seen_plane[f->plane] = 1;
        seen_signed[f->is_signed] = 1;
        int sh = 0;
        while (sh < n_shapes && (shape_rows[sh] != f->rows || shape_cols[sh] != f->cols)) sh++;
        if (sh == n_shapes && n_shapes < 8) {
            shape_rows[sh] = f->rows, shape_cols[sh] = f->cols, shape_files[sh] = 0;
            n_shapes++;
        }
        if (sh < n_shapes) shape_files[sh]++;
        if (f->has_instance) instances[n_instances++] = f->instance;
        if (f->fate == SLICE_BLANK) ss->blank++;
        else if (f->fate == SLICE_DARK) ss->dark++;
        else if (f->fate == SLICE_KEPT) ss->kept++;
    }
    if (multi_frame)
        add_problem(r, "multi_frame", series_label(se), strdup(""),
                    dup_printf("%u of %zu files hold several frames each (enhanced multi-frame, up to %u frames): "
                               "mriprep reads one slice per file", multi_frame, ss->n, most_frames));
    if (mosaics) {
        char tiles[48] = "";
        if (mosaic_images) snprintf(tiles, sizeof tiles, ", %u slices in each image", mosaic_images);
        add_problem(r, "mosaic", series_label(se), strdup(""),
                    dup_printf("%u of %zu files are Siemens mosaics (ImageType MOSAIC%s): unpack them into one slice "
                               "per file first (dcm2niix does)", mosaics, ss->n, tiles));
    }
    for (int x = 0; x < r->n_syntaxes; x++) r->syntax_series[x] += (uint64_t)seen_syntax[x];
    if (ss->readable == 0) return;
    note_repeated_positions(r, s);

    /* Dataset counts: each series once per distinct value it has. */
    char key[64];
    for (int sh = 0; sh < n_shapes; sh++) {
        snprintf(key, sizeof key, "%ux%u", shape_rows[sh], shape_cols[sh]);
        count_add(r, &r->shapes, key, 1);
    }
    int planes_seen = 0;
    for (int p = 0; p < IMAGE_PLANE_COUNT; p++) {
        r->planes[p] += (uint64_t)seen_plane[p];
        planes_seen += seen_plane[p];
    }
    r->unsigned_series += (uint64_t)seen_signed[0];
    r->signed_series += (uint64_t)seen_signed[1];

    if (n_shapes > 1) {
        ss->mixed_shapes = 1;
        char detail[512];
        size_t used = 0;
        for (int sh = 0; sh < n_shapes && used < sizeof detail; sh++)
            used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%ux%u (%u files)", sh ? ", " : "",
                                     shape_rows[sh], shape_cols[sh], shape_files[sh]);
        add_problem(r, "mixed_shapes", series_label(se), strdup(""), strdup(detail));
    }
    if (planes_seen > 1) {
        ss->mixed_planes = 1;
        char detail[256];
        size_t used = 0;
        for (int p = 0; p < IMAGE_PLANE_COUNT && used < sizeof detail; p++)
            if (seen_plane[p])
                used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s", used ? ", " : "",
                                         plane_name((image_plane_t)p));
        add_problem(r, "mixed_planes", series_label(se), strdup(""), strdup(detail));
    }

    /* Instance numbers: duplicates and holes between the first and the last. */
    if (n_instances > 0) {
        qsort(instances, n_instances, sizeof *instances, compare_i32);
        ss->instance_min = instances[0];
        ss->instance_max = instances[n_instances - 1];
        char dups[256] = "", holes[256] = "";
        size_t dlen = 0, hlen = 0;
        for (size_t i = 1; i < n_instances; i++) {
            if (instances[i] == instances[i - 1]) {
                if (i == 1 || instances[i - 2] != instances[i]) { /* each duplicated number once */
                    ss->duplicate_instances++;
                    if (dlen < sizeof dups - 16)
                        dlen += (size_t)snprintf(dups + dlen, sizeof dups - dlen, "%s%d", dlen ? ", " : "",
                                                 (int)instances[i]);
                }
            } else if ((int64_t)instances[i] - instances[i - 1] > 1) {
                for (int64_t v = (int64_t)instances[i - 1] + 1; v < instances[i]; v++) {
                    ss->missing_instances++;
                    if (hlen < sizeof holes - 16)
                        hlen += (size_t)snprintf(holes + hlen, sizeof holes - hlen, "%s%lld", hlen ? ", " : "",
                                                 (long long)v);
                }
            }
        }
        if (ss->duplicate_instances)
            add_problem(r, "duplicate_instance", series_label(se), strdup(""),
                        dup_printf("%u InstanceNumbers appear more than once: %s%s", ss->duplicate_instances, dups,
                                   dlen >= sizeof dups - 16 ? ", ..." : ""));
        if (ss->missing_instances)
            add_problem(r, "missing_instance", series_label(se), strdup(""),
                        dup_printf("%u of InstanceNumbers %d..%d are missing: %s%s", ss->missing_instances,
                                   (int)ss->instance_min, (int)ss->instance_max, holes,
                                   hlen >= sizeof holes - 16 ? ", ..." : ""));
    }
    if (r->opt.pixels && ss->blank == ss->readable)
        add_problem(r, "blank_series", series_label(se), strdup(""),
                    dup_printf("all %u slices are blank (constant)", ss->readable));
}

static void summarise_modalities(scan_report_t *r)
{
    const size_t nm = r->opt.n_modalities;
    uint32_t *counts = malloc((r->ds.n_series ? r->ds.n_series : 1) * sizeof *counts);
    if (!counts) {
        r->failed_alloc = 1;
        return;
    }
    for (size_t m = 0; m < nm; m++) {
        modality_summary_t *ms = &r->modalities[m];
        size_t n = 0;
        for (size_t s = 0; s < r->ds.n_series; s++) {
            const series_t *se = &r->ds.series[s];
            if (se->presence != SERIES_PRESENT || strcmp(se->modality, r->opt.modalities[m])) continue;
            counts[n++] = (uint32_t)se->n_files;
            const scan_series_t *ss = &r->series[s];
            ms->slices += ss->readable;
            ms->blank += ss->blank;
            ms->dark += ss->dark;
        }
        ms->series = n;
        if (n == 0) continue;
        qsort(counts, n, sizeof *counts, compare_u32);
        ms->min = counts[0];
        ms->max = counts[n - 1];
        ms->median = n % 2 ? counts[n / 2] : 0.5 * ((double)counts[n / 2 - 1] + counts[n / 2]);
        /* SLICE_HIST_BINS equal integer bins covering min..max */
        uint32_t span = ms->max - ms->min + 1, width = (span + SLICE_HIST_BINS - 1) / SLICE_HIST_BINS;
        ms->bins = (span + width - 1) / width;
        for (size_t b = 0; b <= ms->bins; b++) ms->edges[b] = ms->min + (uint32_t)b * width;
        for (size_t i = 0; i < n; i++) ms->counts[(counts[i] - ms->min) / width]++;
    }
    free(counts);
}

static void summarise_labels_and_patients(scan_report_t *r)
{
    const char *last_split = NULL, *last_patient = NULL;
    for (size_t s = 0; s < r->ds.n_series; s++) {
        const series_t *se = &r->ds.series[s];
        if (last_patient && se->split == last_split && !strcmp(se->patient, last_patient)) continue;
        last_split = se->split;
        last_patient = se->patient;
        count_add(r, &r->patients, se->split, 1);
        if (!r->labels_used[0] || strcmp(se->split, "test") == 0 || se->presence == SERIES_EXCLUDED) continue;
        if (se->label[0]) {
            count_add(r, &r->label_counts, se->label, 1);
        } else {
            char *where = dup_printf("%s%s%s", se->split, se->split[0] ? "/" : "", se->patient);
            label_entry_t *e = labels_find(&r->labels, se->patient);
            add_problem(r, "images_without_label", where, strdup(""),
                        e ? dup_printf("conflicting labels for %s in %s", se->patient, r->labels_used)
                          : dup_printf("no row for %s in %s", se->patient, r->labels_used));
        }
    }
    for (size_t i = 0; i < r->labels.n; i++)
        if (!r->labels.entries[i].matched)
            add_problem(r, "label_without_images", dup_printf("train/%s", r->labels.entries[i].id), strdup(""),
                        dup_printf("%s has a label (%s) but no patient folder", r->labels.entries[i].id,
                                   r->labels.entries[i].value));
}

/* What `mriprep run` would write with the scan's pipeline options, in both dtypes. */
static void estimate_output(scan_report_t *r)
{
    pipeline_options_t f32 = r->opt.pipeline, f16 = r->opt.pipeline;
    f32.dtype = DTYPE_FLOAT32;
    f16.dtype = DTYPE_FLOAT16;
    for (size_t s = 0; s < r->ds.n_series; s++) {
        const scan_series_t *ss = &r->series[s];
        if (r->ds.series[s].presence != SERIES_PRESENT || ss->readable != ss->n) continue; /* failed: no volume */
        uint64_t slices = r->opt.pixels ? ss->kept : ss->readable;
        uint64_t depth = slices < (uint64_t)f32.slices ? slices : (uint64_t)f32.slices;
        if (!depth) continue;
        r->output_f32 += npy_volume_file_bytes(&f32, depth);
        r->output_f16 += npy_volume_file_bytes(&f16, depth);
    }
}

mp_status scan_dataset(const scan_options_t *opt, scan_report_t **out, mp_error *err)
{
    *out = NULL;
    const double t0 = mp_wall_seconds();
    scan_report_t *r = calloc(1, sizeof *r);
    if (!r) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the scan report");
    r->opt = *opt;
    snprintf(r->data_dir, sizeof r->data_dir, "%s", opt->data_dir);
    r->opt.data_dir = r->data_dir;
    r->opt.labels_path = NULL; /* read below; the caller's string need not outlive this call */
#if MRIPREP_HAVE_OMP
    r->threads = opt->threads > 0 ? opt->threads : omp_get_num_procs();
#else
    r->threads = 1;
#endif
    mp_status st = labels_load_for_dataset(opt->data_dir, opt->labels_path, &r->labels, r->labels_used,
                                           sizeof r->labels_used, err);
    for (size_t i = 0; st == MP_OK && i < r->labels.n_warnings; i++)
        mp_log(opt->log, opt->ctx, MP_LOG_WARN, "%s", r->labels.warnings[i]);
    dataset_options_t dopt = {opt->modalities, opt->n_modalities, NULL, 0, r->labels_used[0] ? &r->labels : NULL};
    if (st == MP_OK) st = mp_at(err, MP_PLACE_DATA, dataset_walk(opt->data_dir, &dopt, &r->ds, err));
    if (st == MP_OK) {
        r->series = calloc(r->ds.n_series ? r->ds.n_series : 1, sizeof *r->series);
        r->modalities = calloc(opt->n_modalities ? opt->n_modalities : 1, sizeof *r->modalities);
        if (!r->series || !r->modalities) st = mp_fail(err, MP_ERR_NOMEM, "cannot allocate the scan report");
    }
    if (st == MP_OK) st = read_all_files(r, err);
    if (st != MP_OK) {
        scan_report_free(r);
        return st;
    }

    size_t most = 0;
    for (size_t s = 0; s < r->ds.n_series; s++) most = r->series[s].n > most ? r->series[s].n : most;
    int32_t *instances = malloc((most ? most : 1) * sizeof *instances);
    if (!instances) r->failed_alloc = 1;
    for (size_t s = 0; s < r->ds.n_series && instances; s++) {
        const series_t *se = &r->ds.series[s];
        r->non_dcm += se->n_other;
        for (size_t i = 0; i < se->n_other; i++)
            add_problem(r, "non_dcm_file", series_label(se), strdup(se->other_files[i]),
                        strdup("not a .dcm file: ignored"));
        switch (se->presence) {
        case SERIES_NO_FOLDER:
            add_problem(r, "missing_modality", series_label(se), strdup(""), dup_printf("no %s folder", se->modality));
            break;
        case SERIES_NO_DCM:
            add_problem(r, "empty_series", series_label(se), strdup(""),
                        dup_printf("no .dcm files%s", se->n_other ? " (only other files)" : ""));
            break;
        case SERIES_UNREADABLE:
            add_problem(r, "unreadable_file", series_label(se), strdup(se->dir), strdup(se->problem));
            break;
        case SERIES_EXCLUDED: break;
        case SERIES_PRESENT:
            r->found++;
            summarise_series(r, s, instances);
            r->bytes += r->series[s].bytes;
            break;
        }
    }
    free(instances);
    summarise_modalities(r);
    summarise_labels_and_patients(r);
    estimate_output(r);
    r->elapsed = mp_wall_seconds() - t0;
    if (r->failed_alloc) {
        scan_report_free(r);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory summarising the scan");
    }
    *out = r;
    return MP_OK;
}

void scan_report_free(scan_report_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_files; i++) free(r->files[i].error);
    free(r->files);
    free(r->series);
    for (size_t i = 0; i < r->n_problems; i++) {
        free(r->problems[i].series);
        free(r->problems[i].file);
        free(r->problems[i].detail);
    }
    free(r->problems);
    count_free(&r->shapes);
    count_free(&r->label_counts);
    count_free(&r->patients);
    free(r->modalities);
    dataset_free(&r->ds);
    labels_free(&r->labels);
    free(r);
}

size_t scan_series_found(const scan_report_t *r) { return r->found; }
size_t scan_problem_count(const scan_report_t *r) { return r->n_problems; }
