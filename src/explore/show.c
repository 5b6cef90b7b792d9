/* show.c - tiles and frames for `mriprep show` (see include/mriprep/show.h). */
#include "mriprep/show.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kernels/slice_math.h"
#include "mriprep/dataset.h"
#include "mriprep/dicom.h"
#include "mriprep/font5x7.h"
#include "mriprep/labels.h"
#include "mriprep/npy_read.h"
#include "mriprep/readahead.h"
#include "mriprep/resize.h"
#include "show_tiles.h"

static const char *const DEFAULT_MODALITIES[] = DATASET_DEFAULT_MODALITIES;

void show_options_default(show_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->at = 0.5;
    opt->size = 256;
    opt->modalities = DEFAULT_MODALITIES;
    opt->n_modalities = sizeof DEFAULT_MODALITIES / sizeof *DEFAULT_MODALITIES;
    opt->labels_path = NULL;
    opt->layout = LAYOUT_HWD;
}

const char *show_source_name(show_source_t source)
{
    switch (source) {
    case SHOW_SOURCE_PATIENT: return "patient folder";
    case SHOW_SOURCE_SERIES: return "series folder";
    case SHOW_SOURCE_NPY: return ".npy volume";
    }
    return "unknown";
}

int show_title_scale(int size)
{
    return size >= 512 ? 2 : 1;
}

int show_title_height(int size)
{
    return 12 * show_title_scale(size);
}

void show_png_geometry(int size, size_t n_tiles, int *width, int *height)
{
    *width = n_tiles ? (int)n_tiles * size + ((int)n_tiles - 1) * SHOW_TILE_GAP : 0;
    *height = show_title_height(size) + size;
}

/* ---- small helpers ---------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Parent of an absolute path without a trailing slash ("/a/b" -> "/a", "/a" -> "/"). */
static void parent_of(const char *abs, char *out, size_t cap)
{
    const char *slash = strrchr(abs, '/');
    size_t n = slash ? (size_t)(slash - abs) : 0;
    if (n == 0) n = 1; /* the root */
    snprintf(out, cap, "%.*s", (int)n, abs);
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static void add_note(show_summary_t *sum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(show_summary_t *sum, const char *fmt, ...)
{
    char line[MP_ERROR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **grown = realloc(sum->notes, (sum->n_notes + 1) * sizeof *grown);
    if (!grown) return; /* a note is advice: losing one to a full memory is no error */
    sum->notes = grown;
    char *copy = strdup(line);
    if (copy) sum->notes[sum->n_notes++] = copy;
}

/* Appends sep and text to the string in buf[cap], cutting what does not fit. */
static void append_text(char *buf, size_t cap, const char *sep, const char *text)
{
    size_t used = strlen(buf);
    for (const char *c = sep; *c && used + 1 < cap; c++) buf[used++] = *c;
    for (const char *c = text; *c && used + 1 < cap; c++) buf[used++] = *c;
    buf[used] = '\0';
}

void show_summary_free(show_summary_t *sum)
{
    if (!sum) return;
    for (size_t i = 0; i < sum->n_notes; i++) free(sum->notes[i]);
    free(sum->notes);
    memset(sum, 0, sizeof *sum);
}

static mp_status check_options(const show_options_t *opt, mp_error *err)
{
    if (opt->size < SHOW_MIN_SIZE || opt->size > SHOW_MAX_SIZE)
        return mp_fail(err, MP_ERR_USAGE, "--size %d: expected %d..%d", opt->size, SHOW_MIN_SIZE, SHOW_MAX_SIZE);
    if (!(opt->at >= 0.0 && opt->at <= 1.0))
        return mp_fail(err, MP_ERR_USAGE, "--at %g: expected a fraction in [0, 1]", opt->at);
    if (opt->layout != LAYOUT_HWD && opt->layout != LAYOUT_DHW)
        return mp_fail(err, MP_ERR_USAGE, "unknown volume layout %d", (int)opt->layout);
    return MP_OK;
}

/* Index of the slice at fraction `at` of n: round(at * (n - 1)), half up. */
static size_t index_at(double at, size_t n)
{
    if (n == 0) return 0;
    double x = floor(at * (double)(n - 1) + 0.5);
    if (x < 0) x = 0;
    if (x > (double)(n - 1)) x = (double)(n - 1);
    return (size_t)x;
}

/* ---- classification and labels ----------------------------------------------------- */

mp_status show_classify(const char *path, const show_options_t *opt, show_source_t *source, mp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return mp_fail(err, MP_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISREG(sb.st_mode)) {
        if (ends_with_ci(path, ".npy")) {
            *source = SHOW_SOURCE_NPY;
            return MP_OK;
        }
        return mp_fail(err, MP_ERR_USAGE,
                       "%s: not a folder or an .npy file (give a patient folder, a series folder or an .npy volume)",
                       path);
    }
    if (!S_ISDIR(sb.st_mode)) return mp_fail(err, MP_ERR_USAGE, "%s: not a folder or an .npy file", path);
    series_files_t files;
    mp_status st = dataset_list_series(path, &files, err);
    if (st != MP_OK) return st;
    size_t n = files.n_files;
    series_files_free(&files);
    if (n > 0) {
        *source = SHOW_SOURCE_SERIES;
        return MP_OK;
    }
    for (size_t m = 0; m < opt->n_modalities; m++) {
        char *dir = path_join(path, opt->modalities[m]);
        if (!dir) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
        int found = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
        free(dir);
        if (found) {
            *source = SHOW_SOURCE_PATIENT;
            return MP_OK;
        }
    }
    char list[300] = "";
    for (size_t m = 0; m < opt->n_modalities; m++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", m ? ", " : "", opt->modalities[m]);
    }
    return mp_fail(err, MP_ERR_USAGE,
                   "%s: no .dcm files and none of the modality folders %s in it: nothing to show (give a patient "
                   "folder, a series folder or an .npy volume)",
                   path, list);
}

/* The label of the patient folder `patient_dir` into label[cap] ("" when none).
 * `explicit_table`: the --labels file, already loaded, or NULL to look for
 * train_labels.csv two folders above, then one above. */
static void find_label(const char *patient_dir, const label_table_t *explicit_table, char *label, size_t cap,
                       show_summary_t *sum)
{
    label[0] = '\0';
    char abs[PATH_MAX];
    if (!realpath(patient_dir, abs)) return;
    const char *id = base_name(abs);
    if (!*id) return;
    if (explicit_table) {
        const label_entry_t *e = labels_find(explicit_table, id);
        if (e) snprintf(label, cap, "%s", e->value);
        return;
    }
    char up1[PATH_MAX], up2[PATH_MAX];
    parent_of(abs, up1, sizeof up1);
    parent_of(up1, up2, sizeof up2);
    if (!strcmp(base_name(up1), "test")) return; /* test patients have no label */
    const char *dirs[2] = {up2, up1};
    for (int i = 0; i < 2; i++) {
        char *csv = path_join(dirs[i], "train_labels.csv");
        if (!csv) return;
        struct stat sb;
        if (stat(csv, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(csv);
            continue;
        }
        label_table_t table;
        mp_error lerr;
        mp_error_clear(&lerr);
        if (labels_load(csv, &table, &lerr) != MP_OK) {
            add_note(sum, "no label: %s", lerr.msg);
            free(csv);
            return;
        }
        const label_entry_t *e = labels_find(&table, id);
        if (e) snprintf(label, cap, "%s", e->value);
        labels_free(&table);
        free(csv);
        return;
    }
}

/* ---- PNG ---------------------------------------------------------------------------- */

typedef struct tile {
    char name[96];  /* modality, series folder or volume name */
    char title[160];
    char message[MP_ERROR_MSG_MAX + 64]; /* when there is no picture: why */
    int has_picture;
    mp_status why; /* the error behind the message */
} tile_t;

/* One tile from a series folder: the slice at opt->at, or the nearest nonblank one. */
static mp_status series_tile(const char *dir, const char *name, const char *label, const show_options_t *opt,
                             tile_t *t, uint8_t *pixels, show_summary_t *sum, mp_error *err)
{
    char label_part[64] = "";
    if (label[0]) snprintf(label_part, sizeof label_part, "  label %.40s", label);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->title, sizeof t->title, "%s%s", name, label_part);
    series_files_t files;
    mp_error e;
    mp_error_clear(&e);
    mp_status st = dataset_list_series(dir, &files, &e);
    if (st == MP_ERR_NOMEM) return mp_fail(err, st, "%s", e.msg);
    if (st != MP_OK) {
        const char *why = strstr(e.msg, ": cannot list") ? strstr(e.msg, ": cannot list") + 2 : e.msg;
        snprintf(t->message, sizeof t->message, "%s", why);
        t->why = st;
        return MP_OK;
    }
    if (files.n_files == 0) {
        snprintf(t->message, sizeof t->message, "no .dcm files");
        t->why = MP_ERR_FORMAT;
        series_files_free(&files);
        return MP_OK;
    }
    scratch_t s;
    memset(&s, 0, sizeof s);
    size_t n = files.n_files, want = index_at(opt->at, n);
    int blank = 0;
    st = dicom_tile(files.files[want], opt->size, &s, pixels, &blank, &e);
    if (st == MP_ERR_NOMEM) {
        mp_fail(err, st, "%s", e.msg);
    } else if (st != MP_OK) {
        snprintf(t->message, sizeof t->message, "cannot decode slice %zu/%zu:\n%s", want + 1, n, e.msg);
        t->why = st;
        st = MP_OK;
    } else if (!blank) {
        t->has_picture = 1;
    } else {
        /* The nearest nonblank slice, the earlier one first at equal distance. */
        size_t unreadable = 0;
        long found = -1;
        for (size_t dist = 1; dist < n && found < 0 && st == MP_OK; dist++) {
            for (int side = 0; side < 2 && found < 0; side++) {
                if (side == 0 && dist > want) continue;
                size_t k = side == 0 ? want - dist : want + dist;
                if (k >= n) continue;
                mp_error_clear(&e);
                mp_status ds = dicom_tile(files.files[k], opt->size, &s, pixels, &blank, &e);
                if (ds == MP_ERR_NOMEM) {
                    st = mp_fail(err, ds, "%s", e.msg);
                    break;
                }
                if (ds != MP_OK) {
                    unreadable++;
                    add_note(sum, "%s: skipped slice %zu/%zu: %s", name, k + 1, n, e.msg);
                    continue;
                }
                if (!blank) found = (long)k;
            }
        }
        if (st == MP_OK && found >= 0) {
            t->has_picture = 1;
            snprintf(t->title, sizeof t->title, "%s (slice %ld/%zu)%s", name, found + 1, n, label_part);
            add_note(sum, "%s: slice %zu/%zu is blank; showing slice %ld/%zu, the nearest that is not", name,
                     want + 1, n, found + 1, n);
        } else if (st == MP_OK) {
            if (unreadable)
                snprintf(t->message, sizeof t->message, "no slice to show: %zu of %zu blank, %zu could not be decoded",
                         n - unreadable, n, unreadable);
            else
                snprintf(t->message, sizeof t->message, "all %zu slices are blank", n);
            t->why = MP_ERR_FORMAT;
        }
    }
    scratch_free(&s);
    series_files_free(&files);
    return st;
}

/* The one tile of a .npy volume: slice at opt->at (or the nearest nonblank). */
static mp_status npy_tile(const char *path, const char *label, const show_options_t *opt, tile_t *t, uint8_t *pixels,
                          show_summary_t *sum, mp_error *err)
{
    char name[96];
    snprintf(name, sizeof name, "%s", base_name(path));
    if (ends_with_ci(name, ".npy")) name[strlen(name) - 4] = '\0';
    char label_part[64] = "";
    if (label[0]) snprintf(label_part, sizeof label_part, "  label %.40s", label);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->title, sizeof t->title, "%s%s", name, label_part);
    volume_t v;
    mp_status st = volume_load(path, opt->layout, &v, err);
    if (st != MP_OK) return st;
    scratch_t s;
    memset(&s, 0, sizeof s);
    size_t n = (size_t)v.d, want = index_at(opt->at, n);
    int blank = 0;
    st = volume_tile(&v, (int64_t)want, opt->size, &s, pixels, &blank, err);
    long found = st == MP_OK && !blank ? (long)want : -1;
    for (size_t dist = 1; st == MP_OK && found < 0 && dist < n; dist++)
        for (int side = 0; side < 2 && found < 0 && st == MP_OK; side++) {
            if (side == 0 && dist > want) continue;
            size_t k = side == 0 ? want - dist : want + dist;
            if (k >= n) continue;
            st = volume_tile(&v, (int64_t)k, opt->size, &s, pixels, &blank, err);
            if (st == MP_OK && !blank) found = (long)k;
        }
    if (st == MP_OK) {
        if (found >= 0) {
            t->has_picture = 1;
            if ((size_t)found != want) {
                snprintf(t->title, sizeof t->title, "%s (slice %ld/%zu)%s", name, found + 1, n, label_part);
                add_note(sum, "%s: slice %zu/%zu is constant; showing slice %ld/%zu, the nearest that is not", name,
                         want + 1, n, found + 1, n);
            }
        } else {
            snprintf(t->message, sizeof t->message, "all %zu slices are constant", n);
            t->why = MP_ERR_FORMAT;
        }
    }
    scratch_free(&s);
    volume_free(&v);
    return st;
}

/* Lays the tiles out side by side under their titles (see show.h). */
static mp_status compose(const tile_t *tiles, const uint8_t *pictures, size_t n, int size, gray8_image_t *out,
                         mp_error *err)
{
    int width, height;
    show_png_geometry(size, n, &width, &height);
    if ((double)n * (size + SHOW_TILE_GAP) > IMAGE_MAX_DIM)
        return mp_fail(err, MP_ERR_USAGE, "%zu tiles of %d pixels do not fit a PNG %d pixels wide", n, size,
                       IMAGE_MAX_DIM);
    mp_status st = gray8_image_alloc(out, width, height, 0, err);
    if (st != MP_OK) return st;
    int strip = show_title_height(size), scale = show_title_scale(size), margin = 3 * scale;
    size_t stride = (size_t)width, tile_bytes = (size_t)size * (size_t)size;
    for (size_t i = 0; i < n; i++) {
        int x0 = (int)i * (size + SHOW_TILE_GAP);
        if (i > 0)
            for (int y = 0; y < height; y++)
                memset(out->pixels + (size_t)y * stride + x0 - SHOW_TILE_GAP, SHOW_GAP_GRAY, SHOW_TILE_GAP);
        /* The title, clipped to its tile: the tile's columns as an image of their own. */
        font5x7_draw_text(out->pixels + x0, stride, size, strip, margin, 2 * scale,
                          scale, 255, tiles[i].title);
        uint8_t *body = out->pixels + (size_t)strip * stride + (size_t)x0;
        if (tiles[i].has_picture) {
            const uint8_t *picture = pictures + i * tile_bytes; /* [size][size] */
            for (int y = 0; y < size; y++)
                memcpy(body + (size_t)y * stride, picture + (size_t)y * (size_t)size, (size_t)size);
        } else {
            for (int y = 0; y < size; y++) memset(body + (size_t)y * stride, SHOW_MESSAGE_GRAY, (size_t)size);
            font5x7_draw_wrapped(body, stride, size, size, margin, margin, size - 2 * margin, scale, 220,
                                 tiles[i].message);
        }
    }
    return MP_OK;
}

/* What show_png and show_frames do first: the summary zeroed, the options checked, and
 * what PATH is. */
static mp_status show_begin(const char *path, const show_options_t *opt, show_summary_t *sum, show_source_t *source,
                            mp_error *err)
{
    memset(sum, 0, sizeof *sum);
    *source = SHOW_SOURCE_PATIENT;
    mp_status st = check_options(opt, err);
    if (st == MP_OK) st = show_classify(path, opt, source, err);
    if (st == MP_OK) sum->source = *source;
    return st;
}

mp_status show_png(const char *path, const show_options_t *opt, gray8_image_t *out, show_summary_t *sum,
                   mp_error *err)
{
    memset(out, 0, sizeof *out);
    show_source_t source;
    mp_status st = show_begin(path, opt, sum, &source, err);
    if (st != MP_OK) return st;

    label_table_t explicit_table, *table = NULL;
    if (opt->labels_path) {
        if ((st = labels_load(opt->labels_path, &explicit_table, err)) != MP_OK) return st;
        table = &explicit_table;
    }
    size_t n = source == SHOW_SOURCE_PATIENT ? opt->n_modalities : 1;
    if (n == 0) {
        if (table) labels_free(table);
        return mp_fail(err, MP_ERR_USAGE, "no modality to show");
    }
    tile_t *tiles = calloc(n, sizeof *tiles);
    uint8_t *pictures = malloc(n * (size_t)opt->size * (size_t)opt->size);
    if (!tiles || !pictures) {
        free(tiles);
        free(pictures);
        if (table) labels_free(table);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory for %zu tiles", n);
    }

    char abs[PATH_MAX], patient[PATH_MAX], label[64];
    if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
    if (source == SHOW_SOURCE_PATIENT) snprintf(patient, sizeof patient, "%s", abs);
    else parent_of(abs, patient, sizeof patient);
    find_label(patient, table, label, sizeof label, sum);
    if (table) labels_free(table);

    size_t tile_bytes = (size_t)opt->size * (size_t)opt->size;
    if (source == SHOW_SOURCE_NPY) {
        st = npy_tile(path, label, opt, &tiles[0], pictures, sum, err);
    } else if (source == SHOW_SOURCE_SERIES) {
        st = series_tile(path, base_name(abs), label, opt, &tiles[0], pictures, sum, err);
    } else {
        for (size_t m = 0; m < n && st == MP_OK; m++) {
            char *dir = path_join(path, opt->modalities[m]);
            if (!dir) {
                st = mp_fail(err, MP_ERR_NOMEM, "out of memory");
                break;
            }
            struct stat sb;
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                tile_t *t = &tiles[m];
                snprintf(t->name, sizeof t->name, "%s", opt->modalities[m]);
                if (label[0]) snprintf(t->title, sizeof t->title, "%s  label %.40s", opt->modalities[m], label);
                else snprintf(t->title, sizeof t->title, "%s", opt->modalities[m]);
                snprintf(t->message, sizeof t->message, "missing: no %s folder", opt->modalities[m]);
                t->why = MP_ERR_IO;
            } else {
                st = series_tile(dir, opt->modalities[m], label, opt, &tiles[m], pictures + m * tile_bytes, sum, err);
            }
            free(dir);
        }
    }
    sum->tiles = n;
    for (size_t i = 0; i < n; i++) sum->pictures += tiles[i].has_picture ? 1 : 0;
    /* Tiles without a slice: a note each when others show (else the error says it all). */
    for (size_t i = 0; i < n && st == MP_OK && sum->pictures > 0; i++) {
        if (tiles[i].has_picture) continue;
        char one[sizeof tiles[i].message];
        snprintf(one, sizeof one, "%s", tiles[i].message);
        for (char *c = one; *c; c++)
            if (*c == '\n') *c = ' ';
        add_note(sum, "%s: %s", tiles[i].name, one);
    }
    if (st == MP_OK && sum->pictures == 0) {
        /* Nothing to show: say why for every tile, in one line. */
        char msg[MP_ERROR_MSG_MAX];
        size_t used = (size_t)snprintf(msg, sizeof msg, "nothing to show in %s:", path);
        for (size_t i = 0; i < n && used < sizeof msg; i++) {
            char one[MP_ERROR_MSG_MAX];
            snprintf(one, sizeof one, "%s", tiles[i].message);
            for (char *c = one; *c; c++)
                if (*c == '\n') *c = ' ';
            used += (size_t)snprintf(msg + used, sizeof msg - used, "%s %s: %s", i ? ";" : "",
                                     tiles[i].name, one);
        }
        st = mp_fail(err, tiles[0].why != MP_OK ? tiles[0].why : MP_ERR_FORMAT, "%s", msg);
    }
    if (st == MP_OK) st = compose(tiles, pictures, n, opt->size, out, err);
    free(tiles);
    free(pictures);
    return st;
}

/* ---- GIF frames ----------------------------------------------------------------------- */

/* A tile to the callback as a frame, or a blank one counted. */
static mp_status give_frame(show_summary_t *sum, int blank, show_frame_fn on_frame, void *ctx, const uint8_t *frame,
                            int size, mp_error *err)
{
    if (blank) {
        sum->blank++;
        return MP_OK;
    }
    mp_status st = on_frame(ctx, frame, size, size, err);
    if (st == MP_OK) sum->frames++;
    return st;
}

mp_status show_frames(const char *path, const show_options_t *opt, show_frame_fn on_frame, void *ctx,
                      show_summary_t *sum, mp_error *err)
{
    show_source_t source;
    mp_status st = show_begin(path, opt, sum, &source, err);
    if (st != MP_OK) return st;
    if (source == SHOW_SOURCE_PATIENT)
        return mp_fail(err, MP_ERR_USAGE,
                       "%s is a patient folder: an animation needs a series folder (e.g. %s/%s) or an .npy volume",
                       path, path, opt->n_modalities ? opt->modalities[0] : "FLAIR");

    int size = opt->size;
    uint8_t *frame = malloc((size_t)size * (size_t)size);
    if (!frame) return mp_fail(err, MP_ERR_NOMEM, "out of memory for a %d x %d frame", size, size);
    scratch_t s;
    memset(&s, 0, sizeof s);
    int blank = 0;
    /* What went wrong with the files that could not be decoded, for the final error. */
    char failures[MP_ERROR_MSG_MAX] = "";
    mp_status first_failure = MP_OK;

    if (source == SHOW_SOURCE_NPY) {
        volume_t v;
        st = volume_load(path, opt->layout, &v, err);
        if (st == MP_OK) {
            sum->slices = (size_t)v.d;
            for (int64_t k = 0; k < v.d && st == MP_OK; k++) {
                st = volume_tile(&v, k, size, &s, frame, &blank, err);
                if (st == MP_OK) st = give_frame(sum, blank, on_frame, ctx, frame, size, err);
            }
            volume_free(&v);
        }
    } else {
        series_files_t files;
        memset(&files, 0, sizeof files);
        st = dataset_list_series(path, &files, err);
        /* One thread decodes the frames in order: the read-ahead keeps the next files'
         * reads in flight meanwhile. */
        readahead_t *ahead = NULL;
        if (st == MP_OK)
            st = readahead_start_for((const char *const *)files.files, files.n_files, READAHEAD_AUTO, 0, &ahead, err);
        if (st == MP_OK) {
            sum->slices = files.n_files;
            for (size_t i = 0; i < files.n_files && st == MP_OK; i++) {
                mp_error e;
                mp_error_clear(&e);
                mp_status ds = dicom_tile(files.files[i], size, &s, frame, &blank, &e);
                readahead_file_done(ahead);
                if (ds == MP_ERR_NOMEM) {
                    st = mp_fail(err, ds, "%s", e.msg);
                    break;
                }
                if (ds != MP_OK) {
                    sum->failed++;
                    add_note(sum, "skipped slice %zu/%zu: %s", i + 1, files.n_files, e.msg);
                    if (first_failure == MP_OK) first_failure = ds;
                    append_text(failures, sizeof failures, failures[0] ? "; " : "", e.msg);
                    continue;
                }
                st = give_frame(sum, blank, on_frame, ctx, frame, size, err);
            }
        }
        readahead_stop(ahead, NULL);
        series_files_free(&files);
    }
    if (st == MP_OK && sum->frames == 0) {
        if (sum->failed)
            st = mp_fail(err, first_failure, "nothing to show in %s: %zu of %zu files could not be decoded (%s)%s",
                         path, sum->failed, sum->slices, failures, sum->blank ? ", the others are blank" : "");
        else
            st = mp_fail(err, MP_ERR_FORMAT, "nothing to show in %s: all %zu slices are %s", path, sum->slices,
                         source == SHOW_SOURCE_NPY ? "constant" : "blank");
    }
    scratch_free(&s);
    free(frame);
    return st;
}
