/* device_check.c - the device self-check (include/mriprep/device_check.h): a battery of
 * synthetic series through the device under test and through the CPU backend, compared
 * stage by stage.
 *
 * Cost: every case is a few slices of at most 512x512 (the largest, 3 slices of 512x512,
 * is 1.5 MB of pixels); the battery is 0.95 M input pixels and 0.3 M output voxels in all.
 * On a GPU the time goes to creating a pipeline per case (pinned buffers, streams) and to
 * the synchronisations, not to arithmetic; the CPU side of the battery is measured in
 * `mriprep devices --check` (tests/test_device_check.cpp runs it CPU against CPU).
 */
#include "mriprep/device_check.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mriprep/batch.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"

/* What a case's slices look like. */
typedef enum pattern {
    PAT_PHANTOM,      /* an ellipse of tissue-like values on 0, its size changing along the series */
    PAT_COLUMN,       /* one bright column on 0: a crop box one pixel wide */
    PAT_BLANK_DARK,   /* 2 blank slices (one value), 2 dark ones (a dim field, one bright pixel), phantoms */
    PAT_NOISE         /* values everywhere, background included (no crop) */
} pattern_t;

typedef enum placement {
    GEO_NONE,         /* no position or orientation: name order, no affine */
    GEO_AXIAL,        /* axial, positions in order */
    GEO_SHUFFLED,     /* axial, the files' order not the positions' */
    GEO_SAGITTAL_FLIP /* sagittal, rows running anterior->posterior reversed: --reorient flips */
} placement_t;

typedef struct check_case {
    const char *name;
    uint32_t rows, cols, n;
    int is_signed;
    pattern_t pattern;
    placement_t placement;
    double slope, intercept;
    /* options that differ from pipeline_options_default's */
    int32_t out_w, out_h, slices, margin;
    double dark;
    volume_dtype_t dtype;
    volume_layout_t layout;
    slice_order_option_t order;
    int reorient;
    crop_mode_t crop;
    intensity_mode_t intensity;
    int rescale;
    norm_mode_t norm;
    depth_mode_t depth;
    center_mode_t center;
    uint64_t pixel_budget; /* bytes, the device's pipeline only (0: the default): a series
                              past it is measured on the host and its selected slices are
                              read again and uploaded alone; the CPU's, with the default
                              budget, holds everything */
} check_case_t;

#define F16 .dtype = DTYPE_FLOAT16
#define DHW .layout = LAYOUT_DHW
static const check_case_t CASES[] = {
    {.name = "1x1 slices (one value: blank)", .rows = 1, .cols = 1, .n = 3, .out_w = 4, .out_h = 4},
    {.name = "7x5 enlarged to 16x12", .rows = 5, .cols = 7, .n = 4, .pattern = PAT_NOISE, .out_w = 16, .out_h = 12},
    {.name = "255x257 shrunk by a fraction, signed, float16 dhw", .rows = 257, .cols = 255, .n = 5, .is_signed = 1,
     .out_w = 100, .out_h = 90, F16, DHW},
    {.name = "512x512 shrunk by 2", .rows = 512, .cols = 512, .n = 3, .out_w = 256, .out_h = 256},
    {.name = "a crop box one pixel wide", .rows = 48, .cols = 64, .n = 3, .pattern = PAT_COLUMN, .out_w = 8, .out_h = 8},
    {.name = "blank and dark slices", .rows = 64, .cols = 64, .n = 10, .pattern = PAT_BLANK_DARK, .out_w = 32,
     .out_h = 32, .dark = 0.05},
    {.name = "130 slices, the middle 128 kept", .rows = 16, .cols = 16, .n = 130, .out_w = 8, .out_h = 8,
     .slices = 128},
    {.name = "one slice, margin 3, float16 hwd", .rows = 32, .cols = 32, .n = 1, .out_w = 16, .out_h = 16, .margin = 3,
     F16},
    {.name = "unsigned 16x16 shrunk to 5x3, dhw", .rows = 16, .cols = 16, .n = 6, .out_w = 5, .out_h = 3, DHW},
    {.name = "position order of shuffled files", .rows = 48, .cols = 48, .n = 12, .placement = GEO_SHUFFLED,
     .out_w = 24, .out_h = 24, .order = SLICE_ORDER_POSITION},
    {.name = "reorient a flipped sagittal series, depth pad", .rows = 40, .cols = 36, .n = 9,
     .placement = GEO_SAGITTAL_FLIP, .out_w = 20, .out_h = 18, .slices = 16, .reorient = 1, .depth = DEPTH_PAD,
     .order = SLICE_ORDER_POSITION, DHW},
    {.name = "volume crop", .rows = 40, .cols = 40, .n = 7, .placement = GEO_AXIAL, .out_w = 20, .out_h = 20,
     .crop = CROP_VOLUME},
    {.name = "raw intensity with rescale, signed", .rows = 33, .cols = 31, .n = 5, .is_signed = 1, .slope = 2.5,
     .intercept = -100, .out_w = 16, .out_h = 16, .intensity = INTENSITY_RAW, .rescale = 1},
    {.name = "nonzero norm, float16", .rows = 40, .cols = 40, .n = 6, .out_w = 30, .out_h = 30, .norm = NORM_NONZERO,
     F16},
    {.name = "centred on the largest slice", .rows = 32, .cols = 32, .n = 10, .out_w = 16, .out_h = 16, .slices = 4,
     .center = CENTER_LARGEST},
    {.name = "the volumetric preset, float16 dhw", .rows = 64, .cols = 60, .n = 11, .placement = GEO_SHUFFLED,
     .is_signed = 1, .slope = 1, .intercept = 0, .out_w = 32, .out_h = 32, .slices = 16, .order = SLICE_ORDER_POSITION,
     .reorient = 1, .crop = CROP_VOLUME, .norm = NORM_NONZERO, .depth = DEPTH_PAD, F16, DHW},
    {.name = "40 shuffled slices past a pixel budget of 8: host stats, the selected 6 read again", .rows = 32,
     .cols = 32, .n = 40, .pattern = PAT_BLANK_DARK, .placement = GEO_SHUFFLED, .order = SLICE_ORDER_POSITION,
     .out_w = 16, .out_h = 16, .slices = 6, .dark = 0.05, .pixel_budget = 8 * 32 * 32 * 2},
};
#undef F16
#undef DHW
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

int device_check_case_count(void) { return N_CASES; }
const char *device_check_case_name(int i) { return i >= 0 && i < N_CASES ? CASES[i].name : ""; }

static pipeline_options_t case_options(const check_case_t *c, pipeline_device_t device, int cuda_index)
{
    pipeline_options_t o;
    pipeline_options_default(&o);
    o.out_w = c->out_w;
    o.out_h = c->out_h;
    /* K: as given, else the series' length. Selection is the same as with the default 128
     * (every kept slice), and the output buffers, sized for K slices, stay small. */
    o.slices = c->slices ? c->slices : (int32_t)c->n;
    if (c->dark > 0) o.dark = c->dark;
    o.margin = c->margin;
    o.dtype = c->dtype;
    o.layout = c->layout;
    o.order = c->order;
    o.reorient = c->reorient;
    o.crop = c->crop;
    o.intensity = c->intensity;
    o.rescale = c->rescale;
    o.norm = c->norm;
    o.depth = c->depth;
    o.center = c->center;
    o.device = device;
    o.cuda_index = cuda_index;
    o.threads = device == DEVICE_CPU ? 1 : 0;
    return o;
}

/* A small deterministic generator (xorshift32): the same pixels on every machine. */
static uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Stored value v (a tissue-like intensity, 0 = air) as the case stores it. */
static uint16_t stored(const check_case_t *c, int32_t v)
{
    return c->is_signed ? (uint16_t)(int16_t)(v - 1024) : (uint16_t)v;
}

static void fill_slice(const check_case_t *c, uint32_t i, uint16_t *px)
{
    uint32_t state = 0x9e3779b9u ^ (i * 2654435761u) ^ (c->rows << 16) ^ c->cols;
    const uint32_t rows = c->rows, cols = c->cols;
    pattern_t pat = c->pattern;
    if (pat == PAT_BLANK_DARK && i >= 4) pat = PAT_PHANTOM;
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t k = 0; k < cols; k++) {
            int32_t v = 0;
            switch (pat) {
            case PAT_PHANTOM: {
                /* the ellipse grows then shrinks along the series, off centre */
                const double t = c->n > 1 ? (double)i / (c->n - 1) : 0.5;
                const double size = 0.25 + 0.5 * sin(3.14159 * t);
                const double dy = (r + 0.5 - rows * 0.45) / (rows * 0.5 * size + 0.5);
                const double dx = (k + 0.5 - cols * 0.55) / (cols * 0.4 * size + 0.5);
                if (dx * dx + dy * dy <= 1.0) v = 200 + (int32_t)(next_random(&state) % 2800);
                break;
            }
            case PAT_COLUMN:
                v = k == cols / 3 && r >= 2 && r + 2 < rows ? 1000 + (int32_t)(next_random(&state) % 3000) : 0;
                break;
            case PAT_BLANK_DARK:
                if (i < 2) v = 700; /* blank: one value everywhere */
                else v = (r == rows / 2 && k == cols / 2) ? 4000 : (r > 4 && r < rows - 4 && k > 4 && k < cols - 4) ? 9 : 0;
                break;
            case PAT_NOISE:
                v = 1 + (int32_t)(next_random(&state) % 4000);
                break;
            }
            px[(size_t)r * cols + k] = stored(c, v);
        }
    if (rows * cols == 1) px[0] = stored(c, 500); /* one pixel: one value, blank */
}

static void fill_header(const check_case_t *c, uint32_t i, dicom_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->rows = c->rows;
    h->cols = c->cols;
    h->frames = 1;
    h->bits_allocated = h->bits_stored = 16;
    h->high_bit = 15;
    h->pixel_representation = (uint16_t)c->is_signed;
    h->samples_per_pixel = 1;
    h->rescale_slope = c->slope != 0 ? c->slope : 1.0;
    h->rescale_intercept = c->intercept;
    h->has_instance = 1;
    h->instance_number = (int32_t)i + 1;
    if (c->placement == GEO_NONE) return;
    /* file i lies at step s: in order, or shuffled by a fixed permutation (7 is prime to
     * every case's slice count that uses it) */
    const uint32_t step = c->placement == GEO_SHUFFLED ? (i * 7u) % c->n : i;
    h->has_position = h->has_orientation = h->has_spacing = 1;
    h->spacing[0] = 0.9;
    h->spacing[1] = 0.8;
    if (c->placement == GEO_SAGITTAL_FLIP) {
        const double o[6] = {0, -1, 0, 0, 0, -1}; /* rows run posterior->anterior, columns feet->head reversed */
        memcpy(h->orientation, o, sizeof o);
        h->position[0] = 40.0 - 1.5 * step;
        h->position[1] = 100.0;
        h->position[2] = 60.0;
    } else {
        const double o[6] = {1, 0, 0, 0, 1, 0};
        memcpy(h->orientation, o, sizeof o);
        h->position[0] = -120.0;
        h->position[1] = -110.0;
        h->position[2] = -30.0 + 2.5 * step;
    }
}

/* The shape of a case in words: "64x48 -> 8x8, 3 slices, float32 hwd". */
static void case_shape(const check_case_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "%ux%u -> %dx%d, %u slices, %s %s", c->cols, c->rows, c->out_w, c->out_h, c->n,
             volume_dtype_name(c->dtype), volume_layout_name(c->layout));
}

static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The first difference between the CPU's results and the device's, as "stage: what"; 0
 * when none. */
static int compare(const series_batch_t *cb, const series_batch_t *db, const series_result_t *cr,
                   const series_result_t *dr, const unsigned char *dvol, const char *dev, char *why, size_t cap)
{
    if (cr->outcome != SERIES_FAILED) {
        if (cb->n != db->n) return snprintf(why, cap, "slice stats: %zu slots on %s, %zu on the CPU", db->n, dev, cb->n), 1;
        for (size_t i = 0; i < cb->n; i++) {
            const slice_slot_t *a = &cb->slots[i], *b = &db->slots[i];
            if (a->min != b->min || a->max != b->max || a->sum != b->sum)
                return snprintf(why, cap,
                                "slice stats: slot %zu min/max/sum %d/%d/%lld on %s, %d/%d/%lld on the CPU", i, b->min,
                                b->max, (long long)b->sum, dev, a->min, a->max, (long long)a->sum),
                       1;
            if (a->fate != b->fate)
                return snprintf(why, cap, "slice stats: slot %zu fate %d on %s, %d on the CPU", i, (int)b->fate, dev,
                                (int)a->fate),
                       1;
            if (a->fate != SLICE_BLANK &&
                (memcmp(&a->box, &b->box, sizeof a->box) != 0 || !same_double(a->mean, b->mean)))
                return snprintf(why, cap, "slice stats: slot %zu crop box or mean differs (mean %.17g on %s, %.17g on the CPU)",
                                i, b->mean, dev, a->mean),
                       1;
        }
    }
    if (cr->outcome != dr->outcome || cr->kept != dr->kept || cr->blank != dr->blank || cr->dark != dr->dark ||
        cr->depth != dr->depth || strcmp(cr->reason, dr->reason) != 0)
        return snprintf(why, cap,
                        "selection: outcome %d, kept %u, blank %u, dark %u, depth %u on %s; %d, %u, %u, %u, %u on the CPU",
                        (int)dr->outcome, dr->kept, dr->blank, dr->dark, dr->depth, dev, (int)cr->outcome, cr->kept,
                        cr->blank, cr->dark, cr->depth),
               1;
    if (cr->outcome != SERIES_OK) return 0;
    if (!same_double(cr->mean, dr->mean) || !same_double(cr->std, dr->std))
        return snprintf(why, cap, "volume moments: mean %.17g std %.17g on %s, %.17g %.17g on the CPU", dr->mean,
                        dr->std, dev, cr->mean, cr->std),
               1;
    if (memcmp(cr->shape, dr->shape, sizeof cr->shape) != 0 || cr->volume_bytes != dr->volume_bytes)
        return snprintf(why, cap, "volume: shape %llux%llux%llu on %s, %llux%llux%llu on the CPU",
                        (unsigned long long)dr->shape[0], (unsigned long long)dr->shape[1],
                        (unsigned long long)dr->shape[2], dev, (unsigned long long)cr->shape[0],
                        (unsigned long long)cr->shape[1], (unsigned long long)cr->shape[2]),
               1;
    const unsigned char *cv = cr->volume;
    for (size_t i = 0; i < cr->volume_bytes; i++)
        if (cv[i] != dvol[i])
            return snprintf(why, cap, "volume: byte %zu of %zu is 0x%02x on %s, 0x%02x on the CPU", i, cr->volume_bytes,
                            dvol[i], dev, cv[i]),
                   1;
    if (cr->has_affine != dr->has_affine || cr->reoriented != dr->reoriented ||
        (cr->has_affine && memcmp(cr->affine, dr->affine, sizeof cr->affine) != 0))
        return snprintf(why, cap, "geometry: the affine or the reorientation differs"), 1;
    return 0;
}

/* Loads the case into a pipeline and computes it: MP_OK, or the pipeline's error. */
static mp_status run_case(pipeline_t *p, const dicom_header_t *headers, const uint16_t *const *pixels, size_t n,
                          series_result_t *res, mp_error *err)
{
    mp_status st = pipeline_load(p, 0, headers, pixels, n, err);
    return st == MP_OK ? pipeline_compute(p, 0, 0, res, err) : st;
}

mp_status device_check_run(pipeline_device_t device, int cuda_index, device_check_fault_fn fault, void *ctx,
                           device_check_report_t *rep, mp_error *err)
{
    memset(rep, 0, sizeof *rep);
    rep->ran = 1;
    rep->passed = 1;
    if (device == DEVICE_CUDA) snprintf(rep->device, sizeof rep->device, "cuda:%d", cuda_index);
    else snprintf(rep->device, sizeof rep->device, "cpu");
    const double t0 = mp_wall_seconds();
    mp_status st = MP_OK;
    for (int ci = 0; ci < N_CASES && rep->passed && st == MP_OK; ci++) {
        const check_case_t *c = &CASES[ci];
        char shape[96];
        case_shape(c, shape, sizeof shape);
        const size_t px = (size_t)c->rows * c->cols;
        dicom_header_t *headers = calloc(c->n, sizeof *headers);
        uint16_t *pixels = malloc(c->n * px * sizeof *pixels);
        const uint16_t **slices = malloc(c->n * sizeof *slices);
        pipeline_t *cpu = NULL, *dev = NULL;
        series_result_t cres, dres;
        unsigned char *dvol = NULL;
        if (!headers || !pixels || !slices) {
            st = mp_fail(err, MP_ERR_NOMEM, "device check: cannot allocate case '%s'", c->name);
            goto next;
        }
        for (uint32_t i = 0; i < c->n; i++) {
            fill_header(c, i, &headers[i]);
            fill_slice(c, i, pixels + i * px);
            slices[i] = pixels + i * px;
        }
        pipeline_options_t co = case_options(c, DEVICE_CPU, 0), dopt = case_options(c, device, cuda_index);
        st = pipeline_create(&co, &cpu, err);
        if (st == MP_OK) st = run_case(cpu, headers, slices, c->n, &cres, err);
        if (st != MP_OK) goto next;
        mp_error derr;
        mp_error_clear(&derr);
        mp_status ds = pipeline_create(&dopt, &dev, &derr);
        if (ds == MP_OK && c->pixel_budget) pipeline_set_pixel_budget(dev, c->pixel_budget);
        if (ds == MP_OK) ds = run_case(dev, headers, slices, c->n, &dres, &derr);
        rep->cases++;
        if (ds != MP_OK) {
            rep->passed = 0;
            snprintf(rep->failure, sizeof rep->failure, "case '%s' (%s): %s: %.300s", c->name, shape,
                     device == DEVICE_CUDA ? "cuda" : "device", derr.msg);
            goto next;
        }
        if (dres.outcome == SERIES_OK && dres.volume_bytes) {
            dvol = malloc(dres.volume_bytes);
            if (!dvol) {
                st = mp_fail(err, MP_ERR_NOMEM, "device check: cannot copy a volume of %zu bytes", dres.volume_bytes);
                goto next;
            }
            memcpy(dvol, dres.volume, dres.volume_bytes);
        }
        if (fault) fault(ctx, ci, &dres, dvol, dvol ? dres.volume_bytes : 0);
        char why[400];
        if (compare(pipeline_batch(cpu, 0), pipeline_batch(dev, 0), &cres, &dres, dvol, rep->device, why, sizeof why)) {
            rep->passed = 0;
            snprintf(rep->failure, sizeof rep->failure, "case '%s' (%s): %.300s", c->name, shape, why);
        }
    next:
        free(dvol);
        pipeline_destroy(dev);
        pipeline_destroy(cpu);
        free(slices);
        free(pixels);
        free(headers);
    }
    rep->seconds = mp_wall_seconds() - t0;
    return st;
}

/* One report per CUDA device, made the first time it is asked for. */
static pthread_mutex_t g_check_lock = PTHREAD_MUTEX_INITIALIZER;
static device_check_report_t g_checks[CUDA_MAX_DEVICES];
static int g_checked[CUDA_MAX_DEVICES];

const device_check_report_t *device_check_cuda(int cuda_index)
{
    static device_check_report_t skipped = {.ran = 0, .passed = 1, .device = "", .failure = ""};
    const char *env = getenv("MRIPREP_DEVICE_CHECK");
    if (env && strcmp(env, "off") == 0) return &skipped;
    if (cuda_index < 0 || cuda_index >= CUDA_MAX_DEVICES) cuda_index = 0;
    pthread_mutex_lock(&g_check_lock);
    if (!g_checked[cuda_index]) {
        mp_error err;
        mp_error_clear(&err);
        device_check_report_t *rep = &g_checks[cuda_index];
        if (device_check_run(DEVICE_CUDA, cuda_index, NULL, NULL, rep, &err) != MP_OK) {
            rep->passed = 0;
            snprintf(rep->failure, sizeof rep->failure, "the check could not run: %.400s", err.msg);
        }
        g_checked[cuda_index] = 1;
    }
    pthread_mutex_unlock(&g_check_lock);
    return &g_checks[cuda_index];
}
