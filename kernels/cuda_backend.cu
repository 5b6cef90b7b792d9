// cuda_backend.cu - host side of the CUDA backend (include/mriprep/cuda_backend.h):
// devices, buffers, streams and launches of the kernels in cuda_kernels.cuh.
//
// Buffers grow to the largest series seen and are reused: per batch (2, one per stream)
// the raw words and slice descriptors, so the upload of series i+1 can run while series
// i computes; once per backend the compute-side buffers (row and column statistics,
// crops, tap tables, the resized volume and the output). Every CUDA call is checked and
// its failure reported with the call, file and line; the library never exits.
#include "mriprep/cuda_backend.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cuda_kernels.cuh"
#include "mriprep/resize.h"
#include "mriprep/timer.h"

#ifndef MRIPREP_CUDA_PTX_ARCH
#define MRIPREP_CUDA_PTX_ARCH 0
#endif
#ifndef MRIPREP_CUDA_ARCHS
#define MRIPREP_CUDA_ARCHS "unknown"
#endif
#ifndef MRIPREP_CUDA_MIN_ARCH
#define MRIPREP_CUDA_MIN_ARCH 0
#endif

// Returns from the enclosing function with MP_ERR_INTERNAL naming the call, file, line.
#define CUDA_CHECK(call)                                                                                     \
    do {                                                                                                     \
        cudaError_t e_ = (call);                                                                             \
        if (e_ != cudaSuccess)                                                                               \
            return mp_fail(err, MP_ERR_INTERNAL, "CUDA: %s failed: %s (%s:%d)", #call, cudaGetErrorString(e_), \
                           __FILE__, __LINE__);                                                              \
    } while (0)

// After a launch: a bad configuration shows at once, a fault at the next sync.
#define CUDA_CHECK_LAUNCH(name)                                                                              \
    do {                                                                                                     \
        cudaError_t e_ = cudaGetLastError();                                                                 \
        if (e_ != cudaSuccess)                                                                               \
            return mp_fail(err, MP_ERR_INTERNAL, "CUDA: at or before the launch of %s: %s (%s:%d)", name,       \
                           cudaGetErrorString(e_), __FILE__, __LINE__);                                      \
    } while (0)

// Grid dimensions y and z are at most 65535: slices per series and kept slices per
// volume are launched along them.
#define CUDA_MAX_GRID_YZ 65535u

namespace {

// A device buffer that only grows.
struct DeviceBuffer {
    void *ptr = nullptr;
    size_t bytes = 0;
};

// A pinned host buffer that only grows.
struct HostBuffer {
    void *ptr = nullptr;
    size_t bytes = 0;
};

mp_status grow(DeviceBuffer &b, size_t bytes, const char *what, mp_error *err)
{
    if (bytes <= b.bytes) return MP_OK;
    bytes += bytes / 4; // room for the next, slightly larger series
    if (b.ptr) CUDA_CHECK(cudaFree(b.ptr));
    b.ptr = nullptr;
    b.bytes = 0;
    cudaError_t e = cudaMalloc(&b.ptr, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError(); // not sticky: later calls must not report this allocation
        b.ptr = nullptr;
        return mp_fail(err, e == cudaErrorMemoryAllocation ? MP_ERR_NOMEM : MP_ERR_INTERNAL,
                       "CUDA: cannot allocate %zu MiB of device memory for %s: %s", bytes >> 20, what,
                       cudaGetErrorString(e));
    }
    b.bytes = bytes;
    return MP_OK;
}

mp_status grow(HostBuffer &b, size_t bytes, const char *what, mp_error *err)
{
    if (bytes <= b.bytes) return MP_OK;
    bytes += bytes / 4;
    if (b.ptr) CUDA_CHECK(cudaFreeHost(b.ptr));
    b.ptr = nullptr;
    b.bytes = 0;
    cudaError_t e = cudaHostAlloc(&b.ptr, bytes, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        cudaGetLastError();
        b.ptr = nullptr;
        return mp_fail(err, MP_ERR_NOMEM, "CUDA: cannot allocate %zu MiB of pinned memory for %s: %s", bytes >> 20,
                       what, cudaGetErrorString(e));
    }
    b.bytes = bytes;
    return MP_OK;
}

template <typename T> T *dptr(const DeviceBuffer &b) { return static_cast<T *>(b.ptr); }
template <typename T> T *hptr(const HostBuffer &b) { return static_cast<T *>(b.ptr); }

unsigned blocks_for(unsigned long long n, unsigned per_block)
{
    return (unsigned)((n + per_block - 1) / per_block);
}

// What the upload of one batch left on the device.
struct BatchOnDevice {
    DeviceBuffer raw;        // [sum of rows*cols] words of the decoded slices
    DeviceBuffer slices;     // [n] dev_slice
    HostBuffer h_slices;     // pinned staging of the descriptors
    int32_t n = 0;           // slices uploaded (decoded slots, in slot order)
    int32_t max_rows = 0, max_cols = 0;
    int32_t total_rows = 0, total_cols = 0;
    cudaEvent_t upload_start = nullptr, upload_end = nullptr; // around the H2D copies
    int32_t *slot_of = nullptr; // [n] slot index of each uploaded slice
    int32_t *index_of = nullptr; // [batch slots] uploaded index, or -1
    size_t map_cap = 0;
};

} // namespace

struct cuda_backend {
    int device = 0;
    pipeline_options_t opt{};
    cudaStream_t streams[2] = {nullptr, nullptr};
    BatchOnDevice batch[2];
    // Compute side (one series at a time).
    DeviceBuffer row_min, row_max, row_sum, col_max, decisions;
    HostBuffer h_decisions;
    DeviceBuffer crops, crop_arena, tables, table_arena, resized, out, sums;
    HostBuffer h_crops, h_tables, h_table_arena, h_sums;
    cudaEvent_t store_start = nullptr, store_end = nullptr, download_end = nullptr;
};

extern "C" int cuda_backend_built(void)
{
    return 1;
}

extern "C" const char *cuda_build_description(void)
{
    static char text[160];
    if (!text[0])
        std::snprintf(text, sizeof text, "runtime %d.%d, archs sm_%s + PTX compute_%d", CUDART_VERSION / 1000,
                      (CUDART_VERSION % 1000) / 10, MRIPREP_CUDA_ARCHS, MRIPREP_CUDA_PTX_ARCH);
    return text;
}

extern "C" mp_status cuda_query_devices(cuda_device_info_t *devices, int cap, int probe, int *count,
                                        int *driver_version, int *runtime_version, char *why, size_t why_cap)
{
    *count = 0;
    *driver_version = *runtime_version = 0;
    if (why && why_cap) why[0] = '\0';
    cudaRuntimeGetVersion(runtime_version);
    cudaDriverGetVersion(driver_version); // 0 when no driver is installed
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        const char *reason = e == cudaErrorNoDevice || (e == cudaSuccess && n == 0) ? "no CUDA device"
                             : e == cudaErrorInsufficientDriver
                                 ? (*driver_version == 0 ? "no NVIDIA driver" : "the NVIDIA driver is older than the CUDA runtime")
                                 : "CUDA is not usable";
        if (why && why_cap)
            std::snprintf(why, why_cap, "%s (cudaGetDeviceCount: %s)", reason,
                          e == cudaSuccess ? "0 devices" : cudaGetErrorString(e));
        cudaGetLastError(); // clear the sticky error for later calls
        return MP_OK;
    }
    for (int i = 0; i < n && i < cap; i++) {
        cudaDeviceProp prop;
        cuda_device_info_t *d = &devices[i];
        std::memset(d, 0, sizeof *d);
        d->index = i;
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
            std::snprintf(d->name, sizeof d->name, "(properties unavailable)");
            cudaGetLastError();
            continue;
        }
        std::snprintf(d->name, sizeof d->name, "%s", prop.name);
        d->total_bytes = prop.totalGlobalMem;
        d->major = prop.major;
        d->minor = prop.minor;
        d->multiprocessors = prop.multiProcessorCount;
        d->supported = prop.major * 10 + prop.minor >= MRIPREP_CUDA_MIN_ARCH; // refined when probed
        if (probe != CUDA_PROBE_ALL && probe != i) continue;
        // Probing creates the device's context (a few hundred MB): only where asked.
        size_t free_b = 0, total_b = 0;
        cudaFuncAttributes attr;
        if (cudaSetDevice(i) == cudaSuccess) {
            if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d->free_bytes = free_b;
            // The exact test: whether this build has a kernel image (or PTX) it can run.
            d->supported = cudaFuncGetAttributes(&attr, mp_row_stats) == cudaSuccess;
            d->probed = 1;
        }
        cudaGetLastError();
    }
    *count = n < cap ? n : cap;
    return MP_OK;
}

extern "C" mp_status cuda_check_device(int index, uint64_t min_free, cuda_device_info_t *info, mp_error *err)
{
    cuda_device_info_t devices[CUDA_MAX_DEVICES];
    int count = 0, driver = 0, runtime = 0;
    char why[256];
    std::memset(info, 0, sizeof *info);
    cuda_query_devices(devices, CUDA_MAX_DEVICES, index, &count, &driver, &runtime, why, sizeof why);
    if (count == 0) return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: %s", index, why);
    if (index < 0 || index >= count)
        return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: no such device (%d found)", index, count);
    *info = devices[index];
    if (!info->supported)
        return mp_fail(err, MP_ERR_USAGE,
                       "--device cuda:%d: %s is sm_%d%d, this build has code for sm_%s only (rebuild with "
                       "CUDA_ARCH=%d%d; CUDA 13 no longer targets sm_60, use CUDA 12)",
                       index, info->name, info->major, info->minor, MRIPREP_CUDA_ARCHS, info->major, info->minor);
    if (info->free_bytes < min_free)
        return mp_fail(err, MP_ERR_USAGE, "--device cuda:%d: %s has %llu MiB free, %llu MiB needed", index, info->name,
                       (unsigned long long)(info->free_bytes >> 20), (unsigned long long)(min_free >> 20));
    return MP_OK;
}

extern "C" mp_status cuda_backend_create(int index, const pipeline_options_t *opt, cuda_backend_t **out,
                                         mp_error *err)
{
    *out = nullptr;
    cuda_backend *cb = new (std::nothrow) cuda_backend();
    if (!cb) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the CUDA backend");
    cb->device = index;
    cb->opt = *opt;
    mp_status st = [&]() -> mp_status {
        CUDA_CHECK(cudaSetDevice(index));
        CUDA_CHECK(cudaEventCreate(&cb->store_start));
        CUDA_CHECK(cudaEventCreate(&cb->store_end));
        CUDA_CHECK(cudaEventCreate(&cb->download_end));
        for (int s = 0; s < 2; s++) {
            CUDA_CHECK(cudaStreamCreateWithFlags(&cb->streams[s], cudaStreamNonBlocking));
            CUDA_CHECK(cudaEventCreate(&cb->batch[s].upload_start));
            CUDA_CHECK(cudaEventCreate(&cb->batch[s].upload_end));
        }
        const size_t k = (size_t)opt->slices, plane = (size_t)opt->out_w * (size_t)opt->out_h;
        // The volume-sized buffers are known now; the rest grow with the series.
        mp_status g = grow(cb->resized, k * plane * sizeof(float), "the resized volume", err);
        if (g == MP_OK) g = grow(cb->out, k * plane * volume_dtype_size(opt->dtype), "the output volume", err);
        if (g == MP_OK) g = grow(cb->sums, MP_SUMS * sizeof(unsigned long long), "the moments", err);
        if (g == MP_OK) g = grow(cb->h_sums, MP_SUMS * sizeof(unsigned long long), "the moments", err);
        return g;
    }();
    if (st != MP_OK) {
        cuda_backend_destroy(cb);
        return st;
    }
    *out = cb;
    return MP_OK;
}

extern "C" void cuda_backend_destroy(cuda_backend_t *cb)
{
    if (!cb) return;
    cudaSetDevice(cb->device);
    for (int s = 0; s < 2; s++)
        if (cb->streams[s]) cudaStreamSynchronize(cb->streams[s]);
    DeviceBuffer *device_buffers[] = {&cb->row_min, &cb->row_max, &cb->row_sum, &cb->col_max, &cb->decisions,
                                      &cb->crops, &cb->crop_arena, &cb->tables, &cb->table_arena, &cb->resized,
                                      &cb->out, &cb->sums, &cb->batch[0].raw, &cb->batch[0].slices,
                                      &cb->batch[1].raw, &cb->batch[1].slices};
    for (DeviceBuffer *b : device_buffers)
        if (b->ptr) cudaFree(b->ptr);
    HostBuffer *host_buffers[] = {&cb->h_decisions, &cb->h_crops, &cb->h_tables, &cb->h_table_arena, &cb->h_sums,
                                  &cb->batch[0].h_slices, &cb->batch[1].h_slices};
    for (HostBuffer *b : host_buffers)
        if (b->ptr) cudaFreeHost(b->ptr);
    for (cudaEvent_t e : {cb->store_start, cb->store_end, cb->download_end})
        if (e) cudaEventDestroy(e);
    for (int s = 0; s < 2; s++) {
        std::free(cb->batch[s].slot_of);
        std::free(cb->batch[s].index_of);
        if (cb->batch[s].upload_start) cudaEventDestroy(cb->batch[s].upload_start);
        if (cb->batch[s].upload_end) cudaEventDestroy(cb->batch[s].upload_end);
        if (cb->streams[s]) cudaStreamDestroy(cb->streams[s]);
    }
    delete cb;
}

extern "C" void *cuda_host_alloc(cuda_backend_t *cb, size_t bytes)
{
    void *p = nullptr;
    // Any thread may ask (OpenMP decode threads do): on the backend's device, so no
    // context is created on device 0 when another was chosen.
    if (cudaSetDevice(cb->device) != cudaSuccess ||
        cudaHostAlloc(&p, bytes ? bytes : 1, cudaHostAllocPortable) != cudaSuccess) {
        cudaGetLastError();
        return nullptr;
    }
    return p;
}

extern "C" void cuda_host_free(cuda_backend_t *cb, void *p)
{
    if (!p) return;
    cudaSetDevice(cb->device); // as in cuda_host_alloc: no stray context on device 0
    cudaFreeHost(p);
}

extern "C" mp_status cuda_wait(cuda_backend_t *cb, int which, mp_error *err)
{
    if (!cb) return MP_OK;
    cudaError_t first = cudaSetDevice(cb->device);
    for (int s = 0; s < 2; s++)
        if ((which < 0 || which == s) && cb->streams[s]) {
            cudaError_t e = cudaStreamSynchronize(cb->streams[s]);
            if (first == cudaSuccess) first = e;
        }
    cudaGetLastError();
    if (first != cudaSuccess && err)
        return mp_fail(err, MP_ERR_INTERNAL, "CUDA: waiting for the device to finish with a batch's buffers: %s",
                       cudaGetErrorString(first));
    return first == cudaSuccess ? MP_OK : MP_ERR_INTERNAL;
}

// Best-effort stage timing: a failed query adds nothing, it does not stop the run.
static double elapsed_seconds(cudaEvent_t start, cudaEvent_t end)
{
    float ms = 0;
    if (cudaEventElapsedTime(&ms, start, end) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return ms / 1000.0;
}

extern "C" mp_status cuda_upload(cuda_backend_t *cb, int which, const series_batch_t *b, mp_error *err)
{
    if (which < 0 || which > 1) return mp_fail(err, MP_ERR_INTERNAL, "CUDA: batch %d out of range", which);
    BatchOnDevice &bd = cb->batch[which];
    cudaStream_t stream = cb->streams[which];
    CUDA_CHECK(cudaSetDevice(cb->device));
    if (b->n > bd.map_cap) {
        int32_t *slot_of = static_cast<int32_t *>(std::realloc(bd.slot_of, b->n * sizeof(int32_t)));
        if (slot_of) bd.slot_of = slot_of;
        int32_t *index_of = static_cast<int32_t *>(std::realloc(bd.index_of, b->n * sizeof(int32_t)));
        if (index_of) bd.index_of = index_of;
        if (!slot_of || !index_of) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %zu slice maps", b->n);
        bd.map_cap = b->n;
    }
    // Lay the decoded slices out back to back; failed slots, and slots whose pixels the
    // host let go (a series past the pixel budget uploads only its selected slots), are
    // left out.
    size_t words = 0;
    uint64_t all_rows = 0, all_cols = 0;
    bd.n = bd.max_rows = bd.max_cols = bd.total_rows = bd.total_cols = 0;
    for (size_t i = 0; i < b->n; i++) {
        const slice_slot_t &s = b->slots[i];
        bd.index_of[i] = -1;
        if (s.error.code != MP_OK || !s.pixels_held) continue;
        bd.index_of[i] = bd.n;
        bd.slot_of[bd.n++] = (int32_t)i;
        words += (size_t)s.rows * s.cols;
        all_rows += s.rows;
        all_cols += s.cols;
    }
    // The kernels index a series' rows and columns with 32-bit bases (row_base, col_base).
    if (all_rows > INT32_MAX || all_cols > INT32_MAX)
        return mp_fail(err, MP_ERR_USAGE,
                       "a series of %d slices with %llu rows and %llu columns in all is beyond the CUDA backend's "
                       "2^31 (use --device cpu)",
                       bd.n, (unsigned long long)all_rows, (unsigned long long)all_cols);
    if (bd.n == 0) return MP_OK;
    // Growing a buffer frees the old one, which waits for the device to finish with it.
    mp_status st = grow(bd.raw, words * sizeof(uint16_t), "raw slices", err);
    if (st == MP_OK) st = grow(bd.slices, (size_t)bd.n * sizeof(dev_slice), "slice descriptors", err);
    if (st == MP_OK) st = grow(bd.h_slices, (size_t)bd.n * sizeof(dev_slice), "slice descriptors", err);
    if (st != MP_OK) return st;
    dev_slice *desc = hptr<dev_slice>(bd.h_slices);
    unsigned long long offset = 0;
    CUDA_CHECK(cudaEventRecord(bd.upload_start, stream));
    for (int32_t k = 0; k < bd.n; k++) {
        const slice_slot_t &s = b->slots[bd.slot_of[k]];
        desc[k].offset = offset;
        desc[k].rows = (int32_t)s.rows;
        desc[k].cols = (int32_t)s.cols;
        desc[k].is_signed = s.is_signed;
        desc[k].row_base = bd.total_rows;
        desc[k].col_base = bd.total_cols;
        bd.total_rows += (int32_t)s.rows;
        bd.total_cols += (int32_t)s.cols;
        bd.max_rows = (int32_t)s.rows > bd.max_rows ? (int32_t)s.rows : bd.max_rows;
        bd.max_cols = (int32_t)s.cols > bd.max_cols ? (int32_t)s.cols : bd.max_cols;
        CUDA_CHECK(cudaMemcpyAsync(dptr<uint16_t>(bd.raw) + offset, s.buffer.pixels, (size_t)s.rows * s.cols * sizeof(uint16_t),
                                   cudaMemcpyHostToDevice, stream));
        offset += (unsigned long long)s.rows * s.cols;
    }
    CUDA_CHECK(cudaMemcpyAsync(bd.slices.ptr, desc, (size_t)bd.n * sizeof(dev_slice), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaEventRecord(bd.upload_end, stream));
    return MP_OK;
}

static mp_status slice_stats_on_device(cuda_backend_t *cb, int which, series_batch_t *b, stage_times_t *seconds,
                                       mp_error *err)
{
    const double t0 = mp_wall_seconds();
    if (which < 0 || which > 1) return mp_fail(err, MP_ERR_INTERNAL, "CUDA: batch %d out of range", which);
    BatchOnDevice &bd = cb->batch[which];
    cudaStream_t stream = cb->streams[which];
    CUDA_CHECK(cudaSetDevice(cb->device));
    if (bd.n > 0) {
        mp_status st = grow(cb->row_min, (size_t)bd.total_rows * sizeof(int32_t), "row minima", err);
        if (st == MP_OK) st = grow(cb->row_max, (size_t)bd.total_rows * sizeof(int32_t), "row maxima", err);
        if (st == MP_OK) st = grow(cb->row_sum, (size_t)bd.total_rows * sizeof(long long), "row sums", err);
        if (st == MP_OK) st = grow(cb->col_max, (size_t)bd.total_cols * sizeof(int32_t), "column maxima", err);
        if (st == MP_OK) st = grow(cb->decisions, (size_t)bd.n * sizeof(dev_decision), "slice decisions", err);
        if (st == MP_OK) st = grow(cb->h_decisions, (size_t)bd.n * sizeof(dev_decision), "slice decisions", err);
        if (st != MP_OK) return st;
        const dev_slice *slices = dptr<dev_slice>(bd.slices);
        mp_row_stats<<<dim3((unsigned)bd.n, (unsigned)bd.max_rows), MP_STATS_THREADS, 0, stream>>>(
            dptr<uint16_t>(bd.raw), slices, dptr<int32_t>(cb->row_min), dptr<int32_t>(cb->row_max),
            dptr<long long>(cb->row_sum));
        CUDA_CHECK_LAUNCH("mp_row_stats");
        mp_col_max<<<dim3((unsigned)bd.n, blocks_for((unsigned)bd.max_cols, MP_STATS_THREADS)), MP_STATS_THREADS, 0,
                     stream>>>(dptr<uint16_t>(bd.raw), slices, dptr<int32_t>(cb->col_max));
        CUDA_CHECK_LAUNCH("mp_col_max");
        mp_decide<<<blocks_for((unsigned)bd.n, 128), 128, 0, stream>>>(
            slices, bd.n, dptr<int32_t>(cb->row_min), dptr<int32_t>(cb->row_max), dptr<long long>(cb->row_sum),
            dptr<int32_t>(cb->col_max), cb->opt.margin, cb->opt.dark, dptr<dev_decision>(cb->decisions));
        CUDA_CHECK_LAUNCH("mp_decide");
        CUDA_CHECK(cudaMemcpyAsync(cb->h_decisions.ptr, cb->decisions.ptr, (size_t)bd.n * sizeof(dev_decision),
                                   cudaMemcpyDeviceToHost, stream));
        CUDA_CHECK(cudaStreamSynchronize(stream));
        seconds->upload += elapsed_seconds(bd.upload_start, bd.upload_end);
    }
    const dev_decision *dec = hptr<dev_decision>(cb->h_decisions);
    for (size_t i = 0; i < b->n; i++) {
        slice_slot_t &s = b->slots[i];
        int32_t k = bd.index_of[i];
        if (k < 0) continue;
        s.min = dec[k].min;
        s.max = dec[k].max;
        s.sum = (int64_t)dec[k].sum;
        s.fate = (slice_fate_t)dec[k].fate;
        s.box = dec[k].box;
        s.mean = dec[k].mean;
    }
    b->has_stats = 1;
    seconds->stats += mp_wall_seconds() - t0;
    return MP_OK;
}

static mp_status build_volume_on_device(cuda_backend_t *cb, int which, const series_batch_t *b,
                                        const uint32_t *selected, uint32_t depth, const volume_request_t *req,
                                        void *host_out, double *mean, double *std, stage_times_t *seconds,
                                        mp_error *err)
{
    if (which < 0 || which > 1) return mp_fail(err, MP_ERR_INTERNAL, "CUDA: batch %d out of range", which);
    const BatchOnDevice &bd = cb->batch[which];
    cudaStream_t stream = cb->streams[which];
    const pipeline_options_t &opt = cb->opt;
    const unsigned long long plane = (unsigned long long)opt.out_w * (unsigned long long)opt.out_h;
    const unsigned long long count = plane * depth;
    CUDA_CHECK(cudaSetDevice(cb->device));
    if (depth > CUDA_MAX_GRID_YZ) return mp_fail(err, MP_ERR_INTERNAL, "CUDA: %u slices in one volume, at most %u", depth, CUDA_MAX_GRID_YZ);
    double t0 = mp_wall_seconds();

    if (depth == 0) return mp_fail(err, MP_ERR_INTERNAL, "CUDA: a volume of 0 slices");

    // Host: each selected slice's crop and tap tables (plans are tiny and built in
    // microseconds), packed for one copy each.
    mp_status st = grow(cb->h_crops, depth * sizeof(dev_crop), "crop descriptors", err);
    if (st == MP_OK) st = grow(cb->h_tables, depth * sizeof(resize_tables_t), "tap tables", err);
    if (st != MP_OK) return st;
    resize_plan_t *plans = static_cast<resize_plan_t *>(std::calloc(depth, sizeof(resize_plan_t)));
    if (!plans) return mp_fail(err, MP_ERR_NOMEM, "cannot allocate %u resize plans", depth);
    dev_crop *crops = hptr<dev_crop>(cb->h_crops);
    unsigned long long crop_floats = 0, max_crop = 0;
    size_t table_bytes = 0;
    for (uint32_t d = 0; d < depth && st == MP_OK; d++) {
        const slice_slot_t &s = b->slots[selected[d]];
        int32_t k = bd.index_of[selected[d]];
        if (k < 0) {
            st = mp_fail(err, MP_ERR_INTERNAL, "CUDA: selected slice %u was not uploaded", selected[d]);
            break;
        }
        dev_crop &c = crops[d];
        c.raw_offset = hptr<dev_slice>(bd.h_slices)[k].offset;
        c.crop_offset = crop_floats;
        c.cols = (int32_t)s.cols;
        c.is_signed = s.is_signed;
        c.box = s.box;
        c.min = s.min;
        c.range = (float)(s.max - s.min);
        c.raw = req->raw;
        c.rescale = req->rescale;
        c.slope = s.rescale_slope;
        c.intercept = s.rescale_intercept;
        unsigned long long n = (unsigned long long)slice_box_width(s.box) * slice_box_height(s.box);
        crop_floats += n;
        max_crop = n > max_crop ? n : max_crop;
        st = resize_plan_init(&plans[d], slice_box_width(s.box), slice_box_height(s.box), opt.out_w, opt.out_h, err);
        if (st == MP_OK) table_bytes += resize_tables_packed_size(&plans[d].tables);
    }
    if (st == MP_OK) st = grow(cb->h_table_arena, table_bytes + 8, "tap tables", err);
    if (st == MP_OK) st = grow(cb->table_arena, table_bytes + 8, "tap tables", err);
    if (st == MP_OK) st = grow(cb->tables, depth * sizeof(resize_tables_t), "tap tables", err);
    if (st == MP_OK) st = grow(cb->crops, depth * sizeof(dev_crop), "crop descriptors", err);
    if (st == MP_OK) st = grow(cb->crop_arena, crop_floats * sizeof(float), "crops", err);
    resize_tables_t *tables = hptr<resize_tables_t>(cb->h_tables);
    size_t table_offset = 0;
    for (uint32_t d = 0; d < depth && st == MP_OK; d++) {
        // Device addresses of the arrays: the arena's, at this slice's offset.
        resize_tables_pack(&plans[d].tables, hptr<char>(cb->h_table_arena) + table_offset,
                           (uintptr_t)(dptr<char>(cb->table_arena) + table_offset), &tables[d]);
        table_offset += resize_tables_packed_size(&plans[d].tables);
    }
    for (uint32_t d = 0; d < depth; d++) resize_plan_free(&plans[d]);
    std::free(plans);
    if (st != MP_OK) return st;

    if (table_offset)
        CUDA_CHECK(cudaMemcpyAsync(cb->table_arena.ptr, cb->h_table_arena.ptr, table_offset, cudaMemcpyHostToDevice,
                                   stream));
    CUDA_CHECK(cudaMemcpyAsync(cb->tables.ptr, tables, depth * sizeof(resize_tables_t), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaMemcpyAsync(cb->crops.ptr, crops, depth * sizeof(dev_crop), cudaMemcpyHostToDevice, stream));
    // sums: [0..2] the moments' sums (and count), [3..4] mp_moments_any's smallest and
    // largest q, which start at the far ends.
    unsigned long long *sums = hptr<unsigned long long>(cb->h_sums);
    const int plain = volume_request_is_plain(req);
    sums[0] = sums[1] = sums[2] = 0;
    sums[3] = (unsigned long long)MP_INT64_MAX;
    sums[4] = (unsigned long long)MP_INT64_MIN;
    CUDA_CHECK(cudaMemcpyAsync(cb->sums.ptr, sums, MP_SUMS * sizeof(unsigned long long), cudaMemcpyHostToDevice,
                               stream));

    mp_crop<<<dim3(blocks_for(max_crop, MP_PIXEL_THREADS), depth), MP_PIXEL_THREADS, 0, stream>>>(
        dptr<uint16_t>(bd.raw), dptr<dev_crop>(cb->crops), dptr<float>(cb->crop_arena));
    CUDA_CHECK_LAUNCH("mp_crop");
    mp_resize<<<dim3(blocks_for((unsigned)opt.out_w, MP_RESIZE_TILE), blocks_for((unsigned)opt.out_h, MP_RESIZE_TILE),
                     depth),
                dim3(MP_RESIZE_TILE, MP_RESIZE_TILE), 0, stream>>>(
        dptr<resize_tables_t>(cb->tables), dptr<dev_crop>(cb->crops), dptr<float>(cb->crop_arena),
        dptr<float>(cb->resized));
    CUDA_CHECK_LAUNCH("mp_resize");
    if (plain) {
        mp_moments<<<blocks_for(count, MP_PIXEL_THREADS), MP_PIXEL_THREADS, 0, stream>>>(
            dptr<float>(cb->resized), count, dptr<unsigned long long>(cb->sums));
        CUDA_CHECK_LAUNCH("mp_moments");
    } else {
        mp_moments_any<<<blocks_for(count, MP_PIXEL_THREADS), MP_PIXEL_THREADS, 0, stream>>>(
            dptr<float>(cb->resized), count, ldexpf(1.0f, -req->scale_exp), req->nonzero,
            dptr<unsigned long long>(cb->sums), reinterpret_cast<long long *>(dptr<unsigned long long>(cb->sums) + 3));
        CUDA_CHECK_LAUNCH("mp_moments_any");
    }
    CUDA_CHECK(cudaMemcpyAsync(sums, cb->sums.ptr, MP_SUMS * sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                               stream));
    // The moments decide the scaling: the one host round trip of a volume.
    CUDA_CHECK(cudaStreamSynchronize(stream));
    if (plain)
        zscore_moments((int64_t)sums[0], (int64_t)sums[1], count, sums[2] == 0, mean, std);
    else
        zscore_moments_scaled((int64_t)sums[0], (int64_t)sums[1], sums[2], sums[3] == sums[4], req->scale_exp, mean,
                              std);
    seconds->resize += mp_wall_seconds() - t0;

    CUDA_CHECK(cudaEventRecord(cb->store_start, stream));
    const unsigned long long out_count = req->map.dims[0] * req->map.dims[1] * req->map.dims[2];
    mp_store<<<blocks_for(out_count, MP_PIXEL_THREADS), MP_PIXEL_THREADS, 0, stream>>>(
        dptr<float>(cb->resized), req->map, opt.out_w, opt.out_h, req->nonzero, opt.dtype == DTYPE_FLOAT16, *mean,
        *std, cb->out.ptr);
    CUDA_CHECK_LAUNCH("mp_store");
    CUDA_CHECK(cudaEventRecord(cb->store_end, stream));
    CUDA_CHECK(cudaMemcpyAsync(host_out, cb->out.ptr, out_count * volume_dtype_size(opt.dtype), cudaMemcpyDeviceToHost,
                               stream));
    CUDA_CHECK(cudaEventRecord(cb->download_end, stream));
    CUDA_CHECK(cudaEventSynchronize(cb->download_end));
    seconds->zscore += elapsed_seconds(cb->store_start, cb->store_end);
    seconds->download += elapsed_seconds(cb->store_end, cb->download_end);
    return MP_OK;
}

// The compute buffers (row and column stats, crops, tables, the output arena and their
// pinned twins) are shared by both batches' streams. A failure after work was queued
// must not leave copies or kernels running on them, so the public entry points wait for
// the batch's stream before they return an error.
static void drain_after_failure(cuda_backend_t *cb, int which)
{
    if (which >= 0 && which <= 1 && cb->streams[which]) cudaStreamSynchronize(cb->streams[which]);
    cudaGetLastError();
}

extern "C" mp_status cuda_slice_stats(cuda_backend_t *cb, int which, series_batch_t *b, stage_times_t *seconds,
                                      mp_error *err)
{
    mp_status st = slice_stats_on_device(cb, which, b, seconds, err);
    if (st != MP_OK) drain_after_failure(cb, which);
    return st;
}

extern "C" mp_status cuda_build_volume(cuda_backend_t *cb, int which, const series_batch_t *b,
                                       const uint32_t *selected, uint32_t depth, const volume_request_t *req,
                                       void *host_out, double *mean, double *std, stage_times_t *seconds,
                                       mp_error *err)
{
    mp_status st = build_volume_on_device(cb, which, b, selected, depth, req, host_out, mean, std, seconds, err);
    if (st != MP_OK) drain_after_failure(cb, which);
    return st;
}
