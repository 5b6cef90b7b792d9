/* pipeline.c - the two stages of a series (see include/mriprep/pipeline.h), whichever
 * backend computes: decode on the host, then the CPU backend (src/compute/cpu_backend.c)
 * or the CUDA backend (kernels/cuda_backend.cu). What is decided per series (which file
 * failed, how many slices are blank or dark, which K are kept, the plan of the volume) is
 * decided here and in volume_plan.c, once, for both.
 */
#include "mriprep/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "mriprep/cpu_backend.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"

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
    volume_padding_t zeros[PIPELINE_VOLUMES]; /* the zero slices each holds (cpu_build_volume); none
                                                 known while all zero, as calloc leaves them */
    uint32_t *selected;              /* [K] slot of each output slice (compute stage only) */
    slice_geometry_t *geometry;      /* [K] the selected slices' geometry, for the affine */
    uint64_t pixel_budget;           /* bytes of slot buffers a batch keeps (batch.h) */
    uint64_t held[2];                /* bytes of slot buffers each batch holds now */
};

/* The pixel budget from MRIPREP_PIXEL_BUDGET_MB, or the default. */
static mp_status pixel_budget_from_environment(uint64_t *bytes, mp_error *err)
{
    *bytes = (uint64_t)PIPELINE_PIXEL_BUDGET_DEFAULT_MB << 20;
    const char *text = getenv("MRIPREP_PIXEL_BUDGET_MB");
    if (!text || !*text) return MP_OK;
    char *end = NULL;
    errno = 0;
    const unsigned long long mb = strtoull(text, &end, 10);
    if (errno || *end || text[0] < '0' || text[0] > '9' || mb < 1 || mb > (1ull << 24))
        return mp_fail(err, MP_ERR_USAGE, "MRIPREP_PIXEL_BUDGET_MB='%.100s': expected whole MB, 1..16777216", text);
    *bytes = (uint64_t)mb << 20;
    return MP_OK;
}

void pipeline_set_pixel_budget(pipeline_t *p, uint64_t bytes)
{
    p->pixel_budget = bytes ? bytes : (uint64_t)PIPELINE_PIXEL_BUDGET_DEFAULT_MB << 20;
}

/* A 64-bit digest of n stored values: what a slot's pixels were when they were let go,
 * checked when they are decoded again (four independent lanes: about 0.1 ms for
 * 512x512). Not cryptographic: it tells a file that changed between the two reads. */
static uint64_t pixel_digest(const uint16_t *v, size_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t lane[4] = {1, 2, 3, 4};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, v + i + 4 * l, sizeof w);
            lane[l] = (lane[l] ^ w) * k;
            lane[l] ^= lane[l] >> 29;
        }
    }
    uint64_t h = (uint64_t)n * k;
    for (; i < n; i++) h = (h ^ v[i]) * k;
    for (int l = 0; l < 4; l++) h = (h ^ lane[l]) * k ^ (h >> 31);
    return h;
}


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

/* The slots' dicom_buffer_t allocators: host_alloc and host_free of the pipeline. */
static void *slot_alloc(void *pipeline, size_t bytes) { return host_alloc(pipeline, bytes); }
static void slot_release(void *pipeline, void *ptr) { host_free(pipeline, ptr); }

mp_status pipeline_create(const pipeline_options_t *opt, pipeline_t **out, mp_error *err)
{
    *out = NULL;
    mp_status st = pipeline_options_validate(opt, err);
    if (st != MP_OK) return st;
    pipeline_t *p = calloc(1, sizeof *p);
    if (!p) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the pipeline");
    p->opt = *opt;
    p->threads = resolve_threads(opt->threads);
    st = pixel_budget_from_environment(&p->pixel_budget, err);
    if (st != MP_OK) {
        free(p);
        return st;
    }
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
    size_t k = (size_t)opt->slices;
    if (st == MP_OK) {
        p->selected = calloc(k, sizeof *p->selected);
        p->geometry = calloc(k, sizeof *p->geometry);
        for (int v = 0; v < PIPELINE_VOLUMES; v++) p->volumes[v] = host_alloc(p, (size_t)volume_max_bytes(opt));
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
    (void)cuda_wait(p->cuda, -1, NULL); /* no copy may still read a buffer freed below (after a
                                           CUDA error the context is gone and so are its copies) */
    for (int b = 0; b < 2; b++) {
        for (size_t i = 0; i < p->batches[b].cap; i++) dicom_buffer_free(&p->batches[b].slots[i].buffer);
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

/* Room for n slots; new slots' buffers allocate through the pipeline (pinned with CUDA). */
static mp_status ensure_slots(pipeline_t *p, series_batch_t *b, size_t n, mp_error *err)
{
    if (n <= b->cap) return MP_OK;
    slice_slot_t *grown = realloc(b->slots, n * sizeof *grown);
    if (!grown) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu slice slots", n);
    memset(grown + b->cap, 0, (n - b->cap) * sizeof *grown);
    for (size_t i = b->cap; i < n; i++) {
        grown[i].buffer.alloc = slot_alloc;
        grown[i].buffer.release = slot_release;
        grown[i].buffer.owner = p;
    }
    b->slots = grown;
    b->cap = n;
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

/* What decode takes from a file's header into its slot. */
static void slot_from_header(slice_slot_t *s, const dicom_header_t *hdr)
{
    s->rows = hdr->rows;
    s->cols = hdr->cols;
    s->is_signed = hdr->pixel_representation == 1;
    s->rescale_slope = hdr->rescale_slope;
    s->rescale_intercept = hdr->rescale_intercept;
    slice_geometry_t *g = &s->geometry;
    g->has_position = hdr->has_position;
    g->has_orientation = hdr->has_orientation;
    g->has_spacing = hdr->has_spacing;
    g->has_instance = hdr->has_instance;
    memcpy(g->position, hdr->position, sizeof g->position);
    memcpy(g->orientation, hdr->orientation, sizeof g->orientation);
    memcpy(g->spacing, hdr->spacing, sizeof g->spacing);
    g->instance = hdr->instance_number;
}

/* Bytes of slot buffers batch b holds (reused buffers count: they stay allocated). */
static uint64_t batch_held_bytes(const series_batch_t *b)
{
    uint64_t held = 0;
    for (size_t i = 0; i < b->cap; i++) held += b->slots[i].buffer.capacity * sizeof(uint16_t);
    return held;
}

/* A thread's scratch for cpu_slice_stats: 2 * DICOM_MAX_DIM int32 (NULL when out of memory). */
static int32_t *stats_scratch_new(void)
{
    return malloc(2 * DICOM_MAX_DIM * sizeof(int32_t));
}

/* Batch `batch` before its slots are filled: the device has finished reading its buffers
 * (a series that failed returns without device work, so an upload from them may still be
 * in flight), and there are n slots. Buffers of slots past n (a longer series before)
 * are freed when the batch holds more than the budget, and what it holds is counted. */
static mp_status start_batch(pipeline_t *p, int batch, size_t n, mp_error *err)
{
    if (batch < 0 || batch >= p->n_batches) return mp_fail(err, MP_ERR_INTERNAL, "batch %d out of range", batch);
    series_batch_t *b = &p->batches[batch];
    mp_status st = cuda_wait(p->cuda, batch, err);
    if (st != MP_OK) return st;
    b->n = 0;
    b->has_stats = 0;
    b->let_go = 0;
    b->files = NULL;
    b->images = NULL;
    st = ensure_slots(p, b, n, err);
    if (st != MP_OK) return st;
    uint64_t held = batch_held_bytes(b);
    if (held > p->pixel_budget)
        for (size_t i = n; i < b->cap; i++) {
            held -= b->slots[i].buffer.capacity * sizeof(uint16_t);
            dicom_buffer_free(&b->slots[i].buffer);
        }
    p->held[batch] = held;
    return MP_OK;
}

/* A slot whose pixels were just placed: `grown` bytes were added to its buffer. Past the
 * budget, its pixels are let go (after its statistics: `scratch` is the thread's,
 * allocated here for a backend that measures later) and only their digest is kept.
 * Called from the decoding threads. Returns 0, or 1 when scratch could not be
 * allocated. */
static int keep_or_let_go(pipeline_t *p, int batch, slice_slot_t *s, int64_t grown, int32_t **scratch)
{
    series_batch_t *b = &p->batches[batch];
    uint64_t held;
#pragma omp atomic capture
    held = p->held[batch] += (uint64_t)grown;
    s->pixels_held = 1;
    if (held <= p->pixel_budget) return 0;
    if (!b->has_stats) { /* the CUDA backend measures after its upload: measure here */
        if (!*scratch && !(*scratch = stats_scratch_new())) return 1;
        cpu_slice_stats(&p->opt, s, *scratch);
    }
    s->pixel_digest = pixel_digest(s->buffer.pixels, (size_t)s->rows * s->cols);
    const uint64_t bytes = s->buffer.capacity * sizeof(uint16_t);
    dicom_buffer_free(&s->buffer);
    s->pixels_held = 0;
#pragma omp atomic
    p->held[batch] -= bytes;
#pragma omp atomic
    b->let_go++;
    return 0;
}

/* After the slots are filled: the order, and with CUDA the upload (deferred to
 * pipeline_compute when pixels were let go: only the selected slots go up then). A
 * batch whose pixels were let go was measured on the host, whichever backend. */
static mp_status finish_batch(pipeline_t *p, int batch, size_t n, mp_error *err)
{
    series_batch_t *b = &p->batches[batch];
    b->n = n;
    b->order = ORDER_BY_NAME;
    if (b->let_go && !b->has_stats) {
        /* The slots still held were not measured (CUDA): measure them on the host too, so
         * the whole batch has one source of statistics. */
        int failed = 0;
#pragma omp parallel num_threads(p->threads)
        {
            int32_t *scratch = stats_scratch_new();
            if (!scratch) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(dynamic, 4)
            for (int64_t i = 0; i < (int64_t)n; i++) {
                slice_slot_t *s = &b->slots[i];
                if (scratch && s->error.code == MP_OK && s->pixels_held) cpu_slice_stats(&p->opt, s, scratch);
            }
            free(scratch);
        }
        if (failed) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate per-thread scratch");
        b->has_stats = 1;
    }
    if (p->opt.order == SLICE_ORDER_POSITION) {
        mp_status st = order_slots(b, err);
        if (st != MP_OK) return st;
    }
    if (!p->cuda || b->let_go) return MP_OK;
    for (size_t i = 0; i < n; i++)
        if (b->slots[i].error.code != MP_OK) return MP_OK; /* a failed series needs no device work */
    return cuda_upload(p->cuda, batch, b, err);
}

mp_status pipeline_decode(pipeline_t *p, int batch, const char *const *files, size_t n_files, readahead_t *ahead,
                          mp_error *err)
{
    mp_status st = start_batch(p, batch, n_files, err);
    if (st != MP_OK) return st;
    series_batch_t *b = &p->batches[batch];
    b->files = files;
    b->has_stats = p->cpu != NULL; /* the CPU backend measures while the pixels are hot */
    int scratch_failed = 0;

#pragma omp parallel num_threads(p->threads)
    {
        int32_t *scratch = b->has_stats ? stats_scratch_new() : NULL;
        if (b->has_stats && !scratch) {
#pragma omp atomic write
            scratch_failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < (int64_t)n_files; i++) {
            slice_slot_t *s = &b->slots[i];
            dicom_header_t hdr;
            double t0 = mp_wall_seconds();
            mp_error_clear(&s->error);
            s->rows = s->cols = 0;
            s->t_stats = 0;
            s->source = (uint32_t)i;
            s->pixels_held = 0;
            const size_t capacity = s->buffer.capacity;
            mp_status ds = dicom_decode_slice_with(files[i], &hdr, dicom_place_in_buffer, &s->buffer, &s->error);
            s->t_decode = mp_wall_seconds() - t0;
            readahead_file_done(ahead);
            s->file_bytes = hdr.file_bytes;
            const int64_t grown = ((int64_t)s->buffer.capacity - (int64_t)capacity) * (int64_t)sizeof(uint16_t);
            if (ds != MP_OK) {
#pragma omp atomic
                p->held[batch] += (uint64_t)grown;
                continue;
            }
            slot_from_header(s, &hdr);
            if (b->has_stats && scratch) cpu_slice_stats(&p->opt, s, scratch);
            if (keep_or_let_go(p, batch, s, grown, &scratch)) {
#pragma omp atomic write
                scratch_failed = 1;
            }
        }
        free(scratch);
    }
    if (scratch_failed) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate per-thread scratch");
    return finish_batch(p, batch, n_files, err);
}

mp_status pipeline_load(pipeline_t *p, int batch, const dicom_header_t *headers, const uint16_t *const *pixels,
                        size_t n, mp_error *err)
{
    mp_status st = start_batch(p, batch, n, err);
    if (st != MP_OK) return st;
    series_batch_t *b = &p->batches[batch];
    b->images = pixels;
    b->has_stats = p->cpu != NULL;
    int32_t *scratch = p->cpu ? stats_scratch_new() : NULL;
    if (p->cpu && !scratch) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate scratch");
    for (size_t i = 0; i < n && st == MP_OK; i++) {
        slice_slot_t *s = &b->slots[i];
        const size_t count = (size_t)headers[i].rows * headers[i].cols;
        const size_t capacity = s->buffer.capacity;
        uint16_t *dst;
        mp_error_clear(&s->error);
        s->t_decode = s->t_stats = 0;
        s->file_bytes = 0;
        s->source = (uint32_t)i;
        s->pixels_held = 0;
        st = dicom_place_in_buffer(&s->buffer, count, &dst, err);
        if (st != MP_OK) break;
        memcpy(dst, pixels[i], count * sizeof *dst);
        slot_from_header(s, &headers[i]);
        if (scratch) cpu_slice_stats(&p->opt, s, scratch);
        if (keep_or_let_go(p, batch, s, ((int64_t)s->buffer.capacity - (int64_t)capacity) * (int64_t)sizeof(uint16_t),
                           &scratch))
            st = mp_fail(err, MP_ERR_NOMEM, "cannot allocate scratch");
    }
    free(scratch);
    if (st != MP_OK) return st;
    return finish_batch(p, batch, n, err);
}

const series_batch_t *pipeline_batch(const pipeline_t *p, int batch)
{
    return batch >= 0 && batch < p->n_batches ? &p->batches[batch] : NULL;
}

/* Reads a let-go slot's pixels again into its buffer: decodes its file (or copies its
 * loaded image) and checks that the header fields the plan used and the pixels' digest
 * are what the first read gave. On a difference or an error the slot's `error` says
 * why. Returns the seconds it took. */
static double reread_slot(const series_batch_t *b, slice_slot_t *s)
{
    const double t0 = mp_wall_seconds();
    const size_t count = (size_t)s->rows * s->cols;
    uint16_t *dst = NULL;
    mp_error_clear(&s->error);
    if (b->images) {
        if (dicom_place_in_buffer(&s->buffer, count, &dst, &s->error) == MP_OK)
            memcpy(dst, b->images[s->source], count * sizeof *dst);
    } else {
        dicom_header_t hdr;
        const char *path = b->files[s->source];
        if (dicom_decode_slice_with(path, &hdr, dicom_place_in_buffer, &s->buffer, &s->error) == MP_OK) {
            slice_slot_t again = *s;
            slot_from_header(&again, &hdr);
            if (again.rows != s->rows || again.cols != s->cols || again.is_signed != s->is_signed ||
                again.rescale_slope != s->rescale_slope || again.rescale_intercept != s->rescale_intercept ||
                memcmp(&again.geometry, &s->geometry, sizeof again.geometry))
                mp_fail(&s->error, MP_ERR_IO, "%s: its header changed while mriprep read it (the series is "
                        "longer than the pixel budget, so its selected files are read twice)", path);
            else
                dst = s->buffer.pixels;
        }
    }
    if (dst && pixel_digest(dst, count) != s->pixel_digest) {
        if (b->images)
            mp_fail(&s->error, MP_ERR_IO, "image %u changed between its two reads", s->source);
        else
            mp_fail(&s->error, MP_ERR_IO, "%s: its pixels changed while mriprep read it (the series is longer "
                    "than the pixel budget, so its selected files are read twice)", b->files[s->source]);
    }
    s->pixels_held = s->error.code == MP_OK;
    return mp_wall_seconds() - t0;
}

/* A batch that let pixels go, once its `depth` slots are selected: the other slots'
 * buffers are freed (the volume needs only the selected), then the selected slots that
 * were let go are read again, in parallel. Returns 0, or 1 when one could not be read
 * back as it was (res says which: the series fails). */
static int reread_selected(pipeline_t *p, int batch, const uint32_t *selected, uint32_t depth, series_result_t *res)
{
    series_batch_t *b = &p->batches[batch];
    unsigned char *chosen = calloc(b->n ? b->n : 1, 1);
    if (!chosen) {
        res->outcome = SERIES_FAILED;
        snprintf(res->reason, sizeof res->reason, "cannot allocate the selection of %zu slices", b->n);
        return 1;
    }
    for (uint32_t d = 0; d < depth; d++) chosen[selected[d]] = 1;
    for (size_t i = 0; i < b->n; i++)
        if (!chosen[i]) {
            dicom_buffer_free(&b->slots[i].buffer);
            b->slots[i].pixels_held = 0;
        }
    free(chosen);
    double seconds = 0;
    uint32_t reread = 0;
#pragma omp parallel for num_threads(p->threads) schedule(dynamic, 1) reduction(+ : seconds, reread)
    for (int64_t d = 0; d < (int64_t)depth; d++) {
        slice_slot_t *s = &b->slots[selected[d]];
        if (s->pixels_held) continue;
        seconds += reread_slot(b, s);
        reread++;
    }
    res->seconds.decode += seconds;
    res->reread = reread;
    p->held[batch] = batch_held_bytes(b);
    for (uint32_t d = 0; d < depth; d++) {
        const slice_slot_t *s = &b->slots[selected[d]];
        if (s->error.code == MP_OK) continue;
        res->outcome = SERIES_FAILED;
        snprintf(res->reason, sizeof res->reason, "%.500s", s->error.msg);
        return 1;
    }
    return 0;
}

/* A series whose slices lie at repeated positions (4D: time points or diffusion
 * directions at the same places) is several volumes, not one: stacking them would make
 * a volume of nonsense, so the series fails saying what it is, whatever the preset. */
static int describe_repeated_positions(const series_batch_t *b, series_result_t *res)
{
    slice_geometry_t *g = malloc((b->n ? b->n : 1) * sizeof *g);
    if (!g) return 0; /* a few hundred bytes a file; without them, no finding */
    for (size_t i = 0; i < b->n; i++) g[i] = b->slots[i].geometry;
    uint32_t positions, volumes;
    const int repeat = slice_positions_repeat(g, b->n, &positions, &volumes);
    free(g);
    if (!repeat) return 0;
    char what[200];
    slice_repeat_text(positions, volumes, b->n, what, sizeof what);
    res->outcome = SERIES_FAILED;
    snprintf(res->reason, sizeof res->reason,
             "%s: mriprep makes one 3D volume of a series; split it into one folder per volume first (dcm2niix "
             "does)", what);
    return 1;
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
    if (describe_repeated_positions(b, res)) return MP_OK;

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
    /* Step 6, then the plan of the volume. */
    const uint32_t depth = select_slices(b, p->opt.slices, p->opt.center == CENTER_LARGEST, p->selected);
    res->depth = depth;
    if (b->let_go) {
        if (reread_selected(p, batch, p->selected, depth, res)) return MP_OK; /* res says why */
        if (p->cuda && (st = cuda_upload(p->cuda, batch, b, err)) != MP_OK) return st;
    }
    volume_request_t req;
    if (volume_plan(&p->opt, b, p->selected, depth, p->geometry, &req, res)) {
        res->outcome = SERIES_FAILED; /* res->reason says why */
        return MP_OK;
    }

    void *out = p->volumes[volume];
    if (p->cuda) {
        memset(&p->zeros[volume], 0, sizeof p->zeros[volume]); /* none known while the device copies */
        st = cuda_build_volume(p->cuda, batch, b, p->selected, depth, &req, out, &res->mean, &res->std, &res->seconds,
                               err);
        if (st == MP_OK) p->zeros[volume] = volume_map_padding(&req.map); /* it writes every element */
    } else {
        st = cpu_build_volume(p->cpu, b, p->selected, depth, &req, out, &p->zeros[volume], &res->mean, &res->std,
                              &res->seconds, err);
    }
    if (st != MP_OK) return st;

    const uint64_t count = req.map.dims[0] * req.map.dims[1] * req.map.dims[2];
    res->outcome = SERIES_OK;
    res->volume = out;
    res->volume_bytes = (size_t)count * volume_dtype_size(p->opt.dtype);
    for (int t = 0; t < 3; t++) res->shape[t] = req.map.dims[t];
    res->padding = p->zeros[volume]; /* both backends left this volume's zero slices there */
    return MP_OK;
}

mp_status pipeline_process_series(pipeline_t *p, const char *const *files, size_t n_files, readahead_t *ahead,
                                  series_result_t *result, mp_error *err)
{
    mp_status st = pipeline_decode(p, 0, files, n_files, ahead, err);
    if (st != MP_OK) return st;
    return pipeline_compute(p, 0, 0, result, err);
}
