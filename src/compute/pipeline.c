/* pipeline.c - the two stages of a series (see include/mriprep/pipeline.h), whichever
 * backend computes: decode on the host, then the CPU backend (src/pipeline_cpu.c) or the
 * CUDA backend (kernels/cuda_backend.cu). What is decided per series (which file failed,
 * how many slices are blank or dark, which K are kept) is decided here, once, for both.
 */
#include "mriprep/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "kernels/zscore_math.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"
#include "mriprep/cpu_backend.h"

#define PIPELINE_VOLUMES 2

struct pipeline {
    pipeline_options_t opt;
    int threads;
    cpu_backend_t *cpu;   /* DEVICE_CPU */
    cuda_backend_t *cuda; /* DEVICE_CUDA */
    char device_text[320];
    int n_batches;
    series_batch_t batches[2];
    void *volumes[PIPELINE_VOLUMES]; /* [K*H*W] output values; pinned with CUDA */
    uint32_t *selected;              /* [K] slot of each output slice (compute stage only) */
    slice_geometry_t *geometry;      /* [K] the selected slices' geometry, for the affine */
};

void pipeline_options_default(pipeline_options_t *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->out_w = 256;
    opt->out_h = 256;
    opt->slices = 128;
    opt->dark = 0.01;
    opt->margin = 0;
    opt->layout = LAYOUT_HWD;
    opt->dtype = DTYPE_FLOAT32;
    opt->threads = 0;
    opt->device = DEVICE_CPU;
    opt->cuda_index = 0;
}

mp_status pipeline_options_validate(const pipeline_options_t *opt, mp_error *err)
{
    if (opt->out_w < 1 || opt->out_h < 1 || opt->out_w > 8192 || opt->out_h > 8192)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d: width and height must be 1..8192", opt->out_w,
                       opt->out_h);
    if (opt->slices < 1 || opt->slices > 65535)
        return mp_fail(err, MP_ERR_USAGE, "--slices %d: must be 1..65535", opt->slices);
    if (!(opt->dark >= 0.0 && opt->dark <= 1.0))
        return mp_fail(err, MP_ERR_USAGE, "--dark %g: must be in [0, 1]", opt->dark);
    if (opt->margin < 0 || opt->margin > 65536)
        return mp_fail(err, MP_ERR_USAGE, "--margin %d: must be 0..65536", opt->margin);
    if (opt->threads < 0 || opt->threads > 4096)
        return mp_fail(err, MP_ERR_USAGE, "--threads %d: must be 0 (all cores) .. 4096", opt->threads);
    if ((uint64_t)opt->out_w * (uint64_t)opt->out_h * (uint64_t)opt->slices > ZSCORE_MAX_VOXELS)
        return mp_fail(err, MP_ERR_USAGE, "--size %dx%d with --slices %d is more than %llu voxels per volume",
                       opt->out_w, opt->out_h, opt->slices, (unsigned long long)ZSCORE_MAX_VOXELS);
    if (opt->device != DEVICE_CPU && opt->device != DEVICE_CUDA)
        return mp_fail(err, MP_ERR_USAGE, "unknown device %d", (int)opt->device);
    if (opt->device == DEVICE_CUDA && (opt->cuda_index < 0 || opt->cuda_index >= CUDA_MAX_DEVICES))
        return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: no such device index", opt->cuda_index);
    if ((unsigned)opt->order > SLICE_ORDER_POSITION || (unsigned)opt->crop > CROP_VOLUME ||
        (unsigned)opt->intensity > INTENSITY_RAW || (unsigned)opt->norm > NORM_NONZERO ||
        (unsigned)opt->depth > DEPTH_PAD || (unsigned)opt->center > CENTER_LARGEST)
        return mp_fail(err, MP_ERR_USAGE, "a volumetric option is out of range");
    if (opt->rescale && opt->intensity != INTENSITY_RAW)
        return mp_fail(err, MP_ERR_USAGE,
                       "--rescale applies to --intensity raw (min-max scaling makes slope and intercept cancel)");
    return MP_OK;
}

mp_status device_request_parse(const char *text, device_request_t *request, int *cuda_index, mp_error *err)
{
    *cuda_index = 0;
    if (!strcmp(text, "auto")) {
        *request = DEVICE_REQUEST_AUTO;
    } else if (!strcmp(text, "cpu")) {
        *request = DEVICE_REQUEST_CPU;
    } else if (!strcmp(text, "cuda")) {
        *request = DEVICE_REQUEST_CUDA;
    } else if (!strncmp(text, "cuda:", 5) && text[5] >= '0' && text[5] <= '9' && strlen(text + 5) <= 3) {
        char *end = NULL;
        long n = strtol(text + 5, &end, 10);
        if (*end != '\0' || n < 0 || n >= CUDA_MAX_DEVICES)
            return mp_fail(err, MP_ERR_USAGE, "--device '%.200s': no such CUDA device index (0..%d)", text,
                           CUDA_MAX_DEVICES - 1);
        *request = DEVICE_REQUEST_CUDA;
        *cuda_index = (int)n;
    } else {
        return mp_fail(err, MP_ERR_USAGE, "--device '%.200s': expected auto, cpu, cuda or cuda:N", text);
    }
    return MP_OK;
}

/* Device memory the CUDA backend needs beyond what grows with the series: the resized,
 * crop and output volumes, plus headroom for two batches of raw slices. */
static uint64_t cuda_min_free(const pipeline_options_t *p)
{
    uint64_t plane = (uint64_t)p->out_w * (uint64_t)p->out_h;
    return plane * (uint64_t)p->slices * (8 + volume_dtype_size(p->dtype)) + (512ull << 20);
}

mp_status pipeline_resolve_device(device_request_t request, int cuda_index, pipeline_options_t *p, char *reason,
                                  size_t reason_cap, mp_error *err)
{
    p->device = DEVICE_CPU;
    p->cuda_index = 0;
    if (request == DEVICE_REQUEST_CPU) {
        snprintf(reason, reason_cap, "--device cpu");
        return MP_OK;
    }
    const int index = request == DEVICE_REQUEST_CUDA ? cuda_index : 0;
    cuda_device_info_t info;
    mp_error why;
    mp_error_clear(&why);
    if (cuda_check_device(index, cuda_min_free(p), &info, &why) == MP_OK) {
        p->device = DEVICE_CUDA;
        p->cuda_index = index;
        snprintf(reason, reason_cap, "%s",
                 request == DEVICE_REQUEST_CUDA ? "--device cuda" : "--device auto: a usable CUDA device");
        return MP_OK;
    }
    if (request == DEVICE_REQUEST_CUDA) {
        if (err) *err = why;
        return MP_ERR_USAGE;
    }
    /* auto: the CPU, and why not CUDA ("--device cuda:0: no CUDA device (...)") */
    const char *text = strncmp(why.msg, "--device ", 9) == 0 ? strchr(why.msg, ' ') + 1 : why.msg;
    snprintf(reason, reason_cap, "--device auto: %.480s", text);
    return MP_OK;
}

const char *slice_order_option_name(slice_order_option_t order)
{
    return order == SLICE_ORDER_POSITION ? "position" : "name";
}
const char *crop_mode_name(crop_mode_t crop) { return crop == CROP_VOLUME ? "volume" : "slice"; }
const char *intensity_mode_name(intensity_mode_t intensity) { return intensity == INTENSITY_RAW ? "raw" : "minmax"; }
const char *norm_mode_name(norm_mode_t norm) { return norm == NORM_NONZERO ? "nonzero" : "volume"; }
const char *depth_mode_name(depth_mode_t depth) { return depth == DEPTH_PAD ? "pad" : "keep"; }
const char *center_mode_name(center_mode_t center) { return center == CENTER_LARGEST ? "largest" : "middle"; }

/* 0 or 1 when `word` is the first or second of an option's two words, else -1. */
static int which_of_two(const char *word, const char *first, const char *second)
{
    return !strcmp(word, first) ? 0 : !strcmp(word, second) ? 1 : -1;
}

mp_status pipeline_option_parse(const char *option, const char *word, pipeline_options_t *p, mp_error *err)
{
    const char *first = NULL, *second = NULL;
    int w = -1;
    if (!strcmp(option, "order")) {
        first = slice_order_option_name(SLICE_ORDER_NAME), second = slice_order_option_name(SLICE_ORDER_POSITION);
        if ((w = which_of_two(word, first, second)) >= 0) p->order = w ? SLICE_ORDER_POSITION : SLICE_ORDER_NAME;
    } else if (!strcmp(option, "crop")) {
        first = crop_mode_name(CROP_SLICE), second = crop_mode_name(CROP_VOLUME);
        if ((w = which_of_two(word, first, second)) >= 0) p->crop = w ? CROP_VOLUME : CROP_SLICE;
    } else if (!strcmp(option, "intensity")) {
        first = intensity_mode_name(INTENSITY_MINMAX), second = intensity_mode_name(INTENSITY_RAW);
        if ((w = which_of_two(word, first, second)) >= 0) p->intensity = w ? INTENSITY_RAW : INTENSITY_MINMAX;
    } else if (!strcmp(option, "norm")) {
        first = norm_mode_name(NORM_VOLUME), second = norm_mode_name(NORM_NONZERO);
        if ((w = which_of_two(word, first, second)) >= 0) p->norm = w ? NORM_NONZERO : NORM_VOLUME;
    } else if (!strcmp(option, "depth")) {
        first = depth_mode_name(DEPTH_KEEP), second = depth_mode_name(DEPTH_PAD);
        if ((w = which_of_two(word, first, second)) >= 0) p->depth = w ? DEPTH_PAD : DEPTH_KEEP;
    } else if (!strcmp(option, "center")) {
        first = center_mode_name(CENTER_MIDDLE), second = center_mode_name(CENTER_LARGEST);
        if ((w = which_of_two(word, first, second)) >= 0) p->center = w ? CENTER_LARGEST : CENTER_MIDDLE;
    } else {
        return mp_fail(err, MP_ERR_INTERNAL, "pipeline_option_parse: no option '%s'", option);
    }
    if (w < 0) return mp_fail(err, MP_ERR_USAGE, "--%s '%s': expected %s or %s", option, word, first, second);
    return MP_OK;
}

const char *volume_layout_name(volume_layout_t layout) { return layout == LAYOUT_DHW ? "dhw" : "hwd"; }
const char *volume_dtype_name(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? "float16" : "float32"; }
size_t volume_dtype_size(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? 2 : 4; }
const char *volume_dtype_npy_descr(volume_dtype_t dtype) { return dtype == DTYPE_FLOAT16 ? "<f2" : "<f4"; }

static int resolve_threads(int requested)
{
#if MRIPREP_HAVE_OMP
    return requested > 0 ? requested : omp_get_num_procs();
#else
    (void)requested;
    return 1;
#endif
}

/* Host memory for slot buffers and volumes: pinned when the CUDA backend copies them. */
static void *host_alloc(const pipeline_t *p, size_t bytes)
{
    return p->cuda ? cuda_host_alloc(p->cuda, bytes) : malloc(bytes);
}

static void host_free(const pipeline_t *p, void *ptr)
{
    if (!ptr) return;
    if (p->cuda) cuda_host_free(p->cuda, ptr);
    else free(ptr);
}

mp_status pipeline_create(const pipeline_options_t *opt, pipeline_t **out, mp_error *err)
{
    *out = NULL;
    mp_status st = pipeline_options_validate(opt, err);
    if (st != MP_OK) return st;
    pipeline_t *p = calloc(1, sizeof *p);
    if (!p) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the pipeline");
    p->opt = *opt;
    p->threads = resolve_threads(opt->threads);
    if (opt->device == DEVICE_CUDA) {
        cuda_device_info_t info;
        st = cuda_check_device(opt->cuda_index, 0, &info, err);
        if (st == MP_OK) st = cuda_backend_create(opt->cuda_index, opt, &p->cuda, err);
        if (st == MP_OK)
            snprintf(p->device_text, sizeof p->device_text, "cuda:%d (%s, sm_%d%d)", opt->cuda_index, info.name,
                     info.major, info.minor);
        p->n_batches = 2;
    } else {
        st = cpu_backend_create(opt, p->threads, &p->cpu, err);
        snprintf(p->device_text, sizeof p->device_text, "cpu");
        p->n_batches = 1;
    }
    size_t k = (size_t)opt->slices, plane = (size_t)opt->out_w * (size_t)opt->out_h;
    if (st == MP_OK) {
        p->selected = calloc(k, sizeof *p->selected);
        p->geometry = calloc(k, sizeof *p->geometry);
        for (int v = 0; v < PIPELINE_VOLUMES; v++) p->volumes[v] = host_alloc(p, k * plane * volume_dtype_size(opt->dtype));
        if (!p->selected || !p->geometry || !p->volumes[0] || !p->volumes[1])
            st = mp_fail(err, MP_ERR_NOMEM, "cannot allocate 2 output volumes of %zu slices of %dx%d", k, opt->out_w,
                         opt->out_h);
    }
    if (st != MP_OK) {
        pipeline_destroy(p);
        return st;
    }
    *out = p;
    return MP_OK;
}

void pipeline_destroy(pipeline_t *p)
{
    if (!p) return;
    cuda_wait(p->cuda, -1); /* no copy may still read a buffer freed below */
    for (int b = 0; b < 2; b++) {
        for (size_t i = 0; i < p->batches[b].cap; i++) host_free(p, p->batches[b].slots[i].pixels);
        free(p->batches[b].slots);
    }
    for (int v = 0; v < PIPELINE_VOLUMES; v++) host_free(p, p->volumes[v]);
    free(p->selected);
    free(p->geometry);
    cpu_backend_destroy(p->cpu);
    cuda_backend_destroy(p->cuda);
    free(p);
}

int pipeline_threads(const pipeline_t *p) { return p->threads; }
const char *pipeline_device_description(const pipeline_t *p) { return p->device_text; }
int pipeline_batch_count(const pipeline_t *p) { return p->n_batches; }

static mp_status ensure_slots(series_batch_t *b, size_t n, mp_error *err)
{
    if (n <= b->cap) return MP_OK;
    slice_slot_t *grown = realloc(b->slots, n * sizeof *grown);
    if (!grown) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu slice slots", n);
    memset(grown + b->cap, 0, (n - b->cap) * sizeof *grown);
    b->slots = grown;
    b->cap = n;
    return MP_OK;
}

/* dicom_place_fn: the slot's own buffer, replaced by a larger one when the image needs it. */
typedef struct slot_place {
    const pipeline_t *p;
    slice_slot_t *slot;
} slot_place_t;

static mp_status place_in_slot(void *ctx, size_t n_values, uint16_t **out, mp_error *err)
{
    slot_place_t *sp = ctx;
    slice_slot_t *s = sp->slot;
    if (s->capacity < n_values) {
        host_free(sp->p, s->pixels);
        s->pixels = host_alloc(sp->p, n_values * sizeof(uint16_t));
        s->capacity = s->pixels ? n_values : 0;
        if (!s->pixels) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu bytes for pixels", n_values * 2);
    }
    *out = s->pixels;
    return MP_OK;
}

/* --order position: puts the decoded slots in anatomical order (slot structs move with
 * their pixel buffers). A series with an undecodable file keeps file-name order: it
 * fails anyway, naming the first such file by name order. */
static mp_status order_slots(series_batch_t *b, mp_error *err)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->slots[i].error.code != MP_OK) return MP_OK;
    if (b->n < 2) {
        size_t first = 0;
        b->order = b->n ? slice_anatomical_order(&b->slots[0].geometry, 1, &first) : ORDER_BY_NAME;
        return MP_OK;
    }
    slice_geometry_t *g = malloc(b->n * sizeof *g);
    size_t *order = malloc(b->n * sizeof *order);
    slice_slot_t *moved = malloc(b->n * sizeof *moved);
    if (!g || !order || !moved) {
        free(g), free(order), free(moved);
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the slice order of %zu files", b->n);
    }
    for (size_t i = 0; i < b->n; i++) g[i] = b->slots[i].geometry;
    b->order = slice_anatomical_order(g, b->n, order);
    for (size_t i = 0; i < b->n; i++) moved[i] = b->slots[order[i]];
    memcpy(b->slots, moved, b->n * sizeof *moved);
    free(g), free(order), free(moved);
    return MP_OK;
}

mp_status pipeline_decode(pipeline_t *p, int batch, const char *const *files, size_t n_files, mp_error *err)
{
    if (batch < 0 || batch >= p->n_batches) return mp_fail(err, MP_ERR_INTERNAL, "batch %d out of range", batch);
    series_batch_t *b = &p->batches[batch];
    /* The previous upload from these slot buffers may still be in flight (a series that
     * failed returns without device work): wait before writing over them. */
    cuda_wait(p->cuda, batch);
    b->n = 0;
    b->has_stats = 0;
    mp_status st = ensure_slots(b, n_files, err);
    if (st != MP_OK) return st;
    int scratch_failed = 0;
    const int stats_now = p->cpu != NULL; /* the CPU backend measures while the pixels are hot */

#pragma omp parallel num_threads(p->threads)
    {
        int32_t *scratch = stats_now ? malloc(2 * DICOM_MAX_DIM * sizeof(int32_t)) : NULL;
        if (stats_now && !scratch) {
#pragma omp atomic write
            scratch_failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < (int64_t)n_files; i++) {
            slice_slot_t *s = &b->slots[i];
            slot_place_t sp = {p, s};
            dicom_header_t hdr;
            double t0 = mp_wall_seconds();
            mp_error_clear(&s->error);
            s->rows = s->cols = 0;
            s->t_stats = 0;
            mp_status ds = dicom_decode_slice_with(files[i], &hdr, place_in_slot, &sp, &s->error);
            s->t_decode = mp_wall_seconds() - t0;
            s->file_bytes = hdr.file_bytes;
            if (ds != MP_OK) continue;
            s->rows = hdr.rows;
            s->cols = hdr.cols;
            s->is_signed = hdr.pixel_representation == 1;
            s->rescale_slope = hdr.rescale_slope;
            s->rescale_intercept = hdr.rescale_intercept;
            slice_geometry_t *g = &s->geometry;
            g->has_position = hdr.has_position;
            g->has_orientation = hdr.has_orientation;
            g->has_spacing = hdr.has_spacing;
            g->has_instance = hdr.has_instance;
            memcpy(g->position, hdr.position, sizeof g->position);
            memcpy(g->orientation, hdr.orientation, sizeof g->orientation);
            memcpy(g->spacing, hdr.spacing, sizeof g->spacing);
            g->instance = hdr.instance_number;
            if (scratch) cpu_slice_stats(&p->opt, s, scratch);
        }
        free(scratch);
    }
    if (scratch_failed) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate per-thread scratch");
    b->n = n_files;
    b->has_stats = stats_now;
    b->order = ORDER_BY_NAME;
    if (p->opt.order == SLICE_ORDER_POSITION) {
        st = order_slots(b, err);
        if (st != MP_OK) return st;
    }
    if (!p->cuda) return MP_OK;
    for (size_t i = 0; i < n_files; i++)
        if (b->slots[i].error.code != MP_OK) return MP_OK; /* a failed series needs no device work */
    return cuda_upload(p->cuda, batch, b, err);
}

/* The largest |v| a slice's crop can give with --intensity raw: the stored values' range
 * through the slice's own rescale (v is linear in x, so its ends are the extremes). */
static double raw_value_bound(const slice_slot_t *s, int rescale)
{
    double lo = s->min, hi = s->max;
    if (rescale) {
        lo = s->rescale_slope * lo + s->rescale_intercept;
        hi = s->rescale_slope * hi + s->rescale_intercept;
    }
    lo = fabs(lo), hi = fabs(hi);
    return lo > hi ? lo : hi;
}

/* After step 6, for both backends: --crop volume's common box, the moments' scale for
 * raw values, the plane, the affine and where each voxel goes (layout, --reorient,
 * --depth pad). Fills *req and the geometry fields of *res. */
static void describe_volume(pipeline_t *p, series_batch_t *b, uint32_t depth, volume_request_t *req,
                            series_result_t *res)
{
    const pipeline_options_t *o = &p->opt;
    memset(req, 0, sizeof *req);
    req->raw = o->intensity == INTENSITY_RAW;
    req->rescale = o->rescale;
    req->nonzero = o->norm == NORM_NONZERO;

    /* --crop volume: one box, the union of the selected slices' boxes; every slice keeps
     * its own min-max (pixels outside its own box are at its minimum: v = 0). */
    int one_box = 1;
    slice_box_t box = b->slots[p->selected[0]].box;
    for (uint32_t d = 1; d < depth; d++) {
        slice_box_t x = b->slots[p->selected[d]].box;
        if (memcmp(&x, &box, sizeof box) != 0) one_box = 0;
        box.row0 = x.row0 < box.row0 ? x.row0 : box.row0;
        box.col0 = x.col0 < box.col0 ? x.col0 : box.col0;
        box.row1 = x.row1 > box.row1 ? x.row1 : box.row1;
        box.col1 = x.col1 > box.col1 ? x.col1 : box.col1;
    }
    if (o->crop == CROP_VOLUME) {
        for (uint32_t d = 0; d < depth; d++) b->slots[p->selected[d]].box = box;
        one_box = 1;
    }

    /* Raw values: |v| <= bound, so v * 2^-scale_exp lies within [-1/2, 1/2] with room for
     * INTER_AREA's weights summing a few ulps above 1, and the int64 sums cannot overflow
     * (zscore_moments_scaled). */
    if (req->raw) {
        double bound = 0;
        for (uint32_t d = 0; d < depth; d++) {
            double x = raw_value_bound(&b->slots[p->selected[d]], o->rescale);
            bound = x > bound ? x : bound;
        }
        int e = 0;
        if (bound > 0) frexp(2.0 * bound, &e); /* 2 * bound < 2^e */
        req->scale_exp = e;
    }

    const slice_slot_t *first = &b->slots[p->selected[0]];
    res->plane = first->geometry.has_orientation ? plane_from_orientation(first->geometry.orientation) : PLANE_UNKNOWN;
    res->order = b->order;
    for (uint32_t d = 0; d < depth; d++) p->geometry[d] = b->slots[p->selected[d]].geometry;

    /* Voxel (x, y, d) -> LPS: known with one box, evenly spaced slices and full geometry. */
    double voxel_affine[3][4];
    char why[160] = "";
    int has_affine = 0;
    if (!one_box)
        snprintf(why, sizeof why, "each slice has its own crop box (--crop slice), so no one affine fits");
    else
        has_affine = volume_affine(p->geometry, depth, box.row0, box.col0, slice_box_height(box),
                                   slice_box_width(box), o->out_w, o->out_h, voxel_affine, why, sizeof why);

    /* Patient axis a (0 = L, 1 = P, 2 = S) <- voxel axis source_axis[a], flipped or not.
     * Without --reorient: x as L, y as P, d as S, as they come. */
    int source_axis[3] = {0, 1, 2}, flip[3] = {0, 0, 0};
    res->reoriented = 0;
    if (o->reorient) {
        double directions[3][4];
        char dir_why[160] = "";
        if (has_affine) {
            canonical_axes((const double(*)[4])voxel_affine, source_axis, flip);
            res->reoriented = 1;
        } else if (volume_directions(p->geometry, depth, directions, dir_why, sizeof dir_why)) {
            canonical_axes((const double(*)[4])directions, source_axis, flip);
            res->reoriented = 1;
        } else {
            snprintf(res->geometry_note, sizeof res->geometry_note, "not reoriented: %s", dir_why);
        }
    }
    if (!has_affine && !res->geometry_note[0])
        snprintf(res->geometry_note, sizeof res->geometry_note, "no affine: %s", why);

    /* Output axes in layout order, as patient axes: hwd = (P, L, S), dhw = (S, P, L). */
    static const int layout_axes[2][3] = {{1, 0, 2}, {2, 1, 0}};
    const uint32_t out_depth = o->depth == DEPTH_PAD ? (uint32_t)o->slices : depth;
    const uint64_t source_size[3] = {(uint64_t)o->out_w, (uint64_t)o->out_h, out_depth};
    volume_map_t *m = &req->map;
    m->pad_before = (out_depth - depth) / 2;
    m->depth = depth;
    for (int t = 0; t < 3; t++) {
        int a = layout_axes[o->layout == LAYOUT_DHW][t];
        m->source_axis[t] = source_axis[a];
        m->flip[t] = flip[a];
        m->dims[t] = source_size[source_axis[a]];
    }

    /* Output index (i0, i1, i2) -> LPS: voxel axis s = source_axis[t] runs along output
     * axis t, reversed when flipped; d is shifted by the padding. */
    res->has_affine = has_affine;
    if (has_affine) {
        for (int r = 0; r < 3; r++) {
            double offset = voxel_affine[r][3] - voxel_affine[r][2] * (double)m->pad_before;
            for (int t = 0; t < 3; t++) {
                const double column = voxel_affine[r][m->source_axis[t]];
                res->affine[r][t] = m->flip[t] ? -column : column;
                if (m->flip[t]) offset += column * (double)(m->dims[t] - 1);
            }
            res->affine[r][3] = offset;
        }
    }
}

/* The first undecodable file (in slice order) names the failure; others are counted. */
static int describe_failure(const series_batch_t *b, series_result_t *res)
{
    size_t failed = 0, first = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->slots[i].error.code != MP_OK && failed++ == 0) first = i;
    if (!failed) return 0;
    res->outcome = SERIES_FAILED;
    if (failed == 1)
        snprintf(res->reason, sizeof res->reason, "%.500s", b->slots[first].error.msg);
    else
        snprintf(res->reason, sizeof res->reason, "%.400s (and %zu more unreadable files)", b->slots[first].error.msg,
                 failed - 1);
    return 1;
}

mp_status pipeline_compute(pipeline_t *p, int batch, int volume, series_result_t *res, mp_error *err)
{
    if (batch < 0 || batch >= p->n_batches || volume < 0 || volume >= PIPELINE_VOLUMES)
        return mp_fail(err, MP_ERR_INTERNAL, "batch %d / volume %d out of range", batch, volume);
    series_batch_t *b = &p->batches[batch];
    memset(res, 0, sizeof *res);
    res->files = (uint32_t)b->n;
    for (size_t i = 0; i < b->n; i++) {
        const slice_slot_t *s = &b->slots[i];
        res->seconds.decode += s->t_decode;
        res->seconds.stats += s->t_stats;
        res->bytes_read += s->file_bytes;
        if (s->error.code != MP_OK) continue;
        if (i == 0) {
            res->src_rows = s->rows;
            res->src_cols = s->cols;
        } else if (res->src_rows && (s->rows != res->src_rows || s->cols != res->src_cols)) {
            res->mixed_shapes = 1;
        }
    }
    if (b->n == 0) {
        res->outcome = SERIES_EMPTY;
        snprintf(res->reason, sizeof res->reason, "no .dcm files");
        return MP_OK;
    }
    if (describe_failure(b, res)) return MP_OK; /* no device work for a series with a hole */

    mp_status st;
    if (!b->has_stats) {
        st = cuda_slice_stats(p->cuda, batch, b, &res->seconds, err);
        if (st != MP_OK) return st;
    }
    uint32_t kept = 0;
    for (size_t i = 0; i < b->n; i++) {
        slice_fate_t fate = b->slots[i].fate;
        if (fate == SLICE_BLANK) res->blank++;
        else if (fate == SLICE_DARK) res->dark++;
        else kept++;
    }
    res->kept = kept;
    if (kept == 0) {
        res->outcome = SERIES_EMPTY;
        snprintf(res->reason, sizeof res->reason, "no slice left (%u blank, %u dark of %u)", res->blank, res->dark,
                 res->files);
        return MP_OK;
    }
    /* Step 6: which K kept slices (the middle ones, or those around the largest box). */
    uint32_t *kept_slots = malloc(kept * sizeof *kept_slots);
    if (!kept_slots) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the kept slices of %u", kept);
    uint32_t largest = 0;
    int64_t largest_area = -1;
    for (size_t i = 0, k = 0; i < b->n; i++) {
        const slice_slot_t *s = &b->slots[i];
        if (s->fate != SLICE_KEPT) continue;
        int64_t area = (int64_t)slice_box_width(s->box) * slice_box_height(s->box);
        if (area > largest_area) largest_area = area, largest = (uint32_t)k;
        kept_slots[k++] = (uint32_t)i;
    }
    int32_t depth;
    int32_t start = slice_middle_start((int32_t)kept, p->opt.slices, &depth);
    if (p->opt.center == CENTER_LARGEST && (int32_t)kept > depth) {
        start = (int32_t)largest - depth / 2;
        start = start < 0 ? 0 : start > (int32_t)kept - depth ? (int32_t)kept - depth : start;
    }
    for (int32_t d = 0; d < depth; d++) p->selected[d] = kept_slots[start + d];
    free(kept_slots);
    res->depth = (uint32_t)depth;

    volume_request_t req;
    describe_volume(p, b, (uint32_t)depth, &req, res);

    void *out = p->volumes[volume];
    if (p->cuda)
        st = cuda_build_volume(p->cuda, batch, b, p->selected, (uint32_t)depth, &req, out, &res->mean, &res->std,
                               &res->seconds, err);
    else
        st = cpu_build_volume(p->cpu, b, p->selected, (uint32_t)depth, &req, out, &res->mean, &res->std,
                              &res->seconds, err);
    if (st != MP_OK) return st;

    const uint64_t count = req.map.dims[0] * req.map.dims[1] * req.map.dims[2];
    res->outcome = SERIES_OK;
    res->volume = out;
    res->volume_bytes = (size_t)count * volume_dtype_size(p->opt.dtype);
    for (int t = 0; t < 3; t++) res->shape[t] = req.map.dims[t];
    return MP_OK;
}

mp_status pipeline_process_series(pipeline_t *p, const char *const *files, size_t n_files, series_result_t *result,
                                  mp_error *err)
{
    mp_status st = pipeline_decode(p, 0, files, n_files, err);
    if (st != MP_OK) return st;
    return pipeline_compute(p, 0, 0, result, err);
}
