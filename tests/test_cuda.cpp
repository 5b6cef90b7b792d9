// test_cuda.cpp - the CUDA backend against the CPU backend, kernel stage by kernel stage,
// on generated series: byte-identical volumes, identical slice decisions and moments.
//
// Every test needs a CUDA device; where there is none (or the build has no CUDA) each
// one skips and says why. The CPU side of the same math is tested everywhere else
// (test_kernels, test_resize, the end-to-end run against the notebook pipeline).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "mriprep/augment.h"
#include "mriprep/batch.h"
#include "mriprep/cuda_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/pipeline.h"
#include "mriprep/cpu_backend.h"
}

namespace {

// Why GPU tests cannot run here, or "" when they can.
std::string no_gpu_reason()
{
    if (!cuda_backend_built()) return std::string("the CUDA backend is not built: ") + cuda_build_description();
    cuda_device_info_t info;
    mp_error err;
    if (cuda_check_device(0, 0, &info, &err) != MP_OK) return err.msg;
    return "";
}

#define SKIP_WITHOUT_GPU()                                                                   \
    do {                                                                                     \
        std::string why_ = no_gpu_reason();                                                  \
        if (!why_.empty()) GTEST_SKIP() << "no usable CUDA device: " << why_;                 \
    } while (0)

// A series as the decode stage leaves it, made up: slices of varying shape, signed and
// unsigned, with blank, dark and bright slices and a blob of varying size.
struct FakeSeries {
    std::vector<std::vector<uint16_t>> pixels;
    series_batch_t batch{};
    std::vector<slice_slot_t> slots;

    FakeSeries(uint32_t seed, size_t n, bool is_signed)
    {
        std::mt19937 rng(seed);
        pixels.resize(n);
        slots.assign(n, slice_slot_t{});
        for (size_t i = 0; i < n; i++) {
            uint32_t rows = 64 + rng() % 200, cols = 64 + rng() % 200;
            if (i % 7 == 3) rows = cols = 256; // some share a shape
            std::vector<uint16_t> &px = pixels[i];
            px.assign((size_t)rows * cols, 0);
            int kind = (int)(i % 5); // 0 blank, 1 dark speck, 2-4 brain-like blob
            uint32_t r0 = rng() % (rows / 2), c0 = rng() % (cols / 2);
            uint32_t h = 1 + rng() % (rows - r0), w = 1 + rng() % (cols - c0);
            for (uint32_t r = r0; r < r0 + h && kind; r++)
                for (uint32_t c = c0; c < c0 + w; c++) {
                    if (kind == 1 && (r != r0 || c != c0)) continue;
                    int32_t v = 10 + (int32_t)(rng() % 4000);
                    if (is_signed && rng() % 10 == 0) v = -(int32_t)(rng() % 50);
                    px[(size_t)r * cols + c] = (uint16_t)(is_signed ? (uint16_t)(int16_t)v : (uint16_t)v);
                }
            slice_slot_t &s = slots[i];
            s.buffer.pixels = px.data();
            s.buffer.capacity = px.size();
            s.rows = rows;
            s.cols = cols;
            s.is_signed = is_signed;
            mp_error_clear(&s.error);
        }
        batch.slots = slots.data();
        batch.n = batch.cap = n;
    }
};

pipeline_options_t options(int w, int h, int k, volume_layout_t layout, volume_dtype_t dtype, int margin)
{
    pipeline_options_t opt;
    pipeline_options_default(&opt);
    opt.out_w = w;
    opt.out_h = h;
    opt.slices = k;
    opt.layout = layout;
    opt.dtype = dtype;
    opt.margin = margin;
    opt.threads = 2;
    return opt;
}

// The CPU backend's decisions for every slot (what the decode stage does on the CPU).
void cpu_stats(const pipeline_options_t &opt, series_batch_t &b)
{
    std::vector<int32_t> scratch(2 * DICOM_MAX_DIM);
    for (size_t i = 0; i < b.n; i++) cpu_slice_stats(&opt, &b.slots[i], scratch.data());
    b.has_stats = 1;
}

struct CudaFixture : ::testing::Test {
    cuda_backend_t *cb = nullptr;
    void TearDown() override { cuda_backend_destroy(cb); }
    void make(const pipeline_options_t &opt)
    {
        mp_error err;
        ASSERT_EQ(cuda_backend_create(0, &opt, &cb, &err), MP_OK) << err.msg;
    }
};

TEST_F(CudaFixture, SliceStatsKernelsMatchTheCpu)
{
    SKIP_WITHOUT_GPU();
    for (bool is_signed : {false, true})
        for (int margin : {0, 3}) {
            SCOPED_TRACE(std::string(is_signed ? "signed" : "unsigned") + ", margin " + std::to_string(margin));
            pipeline_options_t opt = options(256, 256, 128, LAYOUT_HWD, DTYPE_FLOAT32, margin);
            make(opt);
            FakeSeries cpu(11 + margin, 60, is_signed), gpu(11 + margin, 60, is_signed);
            cpu_stats(opt, cpu.batch);
            mp_error err;
            stage_times_t t{};
            ASSERT_EQ(cuda_upload(cb, 0, &gpu.batch, &err), MP_OK) << err.msg;
            ASSERT_EQ(cuda_slice_stats(cb, 0, &gpu.batch, &t, &err), MP_OK) << err.msg;
            for (size_t i = 0; i < cpu.batch.n; i++) {
                const slice_slot_t &a = cpu.batch.slots[i], &b = gpu.batch.slots[i];
                SCOPED_TRACE("slice " + std::to_string(i));
                EXPECT_EQ(a.min, b.min);
                EXPECT_EQ(a.max, b.max);
                EXPECT_EQ(a.sum, b.sum);
                EXPECT_EQ(a.fate, b.fate);
                if (a.fate != SLICE_BLANK) {
                    EXPECT_EQ(std::memcmp(&a.box, &b.box, sizeof a.box), 0);
                    EXPECT_EQ(a.mean, b.mean); // same double operations, bit for bit
                }
            }
            cuda_backend_destroy(cb);
            cb = nullptr;
        }
}

// The request volume_plan (src/compute/volume_plan.c) makes for the notebook's options: the layout and nothing else.
volume_request_t layout_request(const pipeline_options_t &opt, uint32_t depth)
{
    static const int axes[2][3] = {{1, 0, 2}, {2, 1, 0}};
    const int *a = axes[opt.layout == LAYOUT_DHW];
    const uint64_t size[3] = {(uint64_t)opt.out_w, (uint64_t)opt.out_h, depth};
    volume_request_t r{};
    r.map.depth = depth;
    for (int t = 0; t < 3; t++) r.map.source_axis[t] = a[t], r.map.dims[t] = size[a[t]];
    return r;
}

// One volume built by both backends from the same kept slices and request: the CPU's
// bytes and moments in *cpu_*, the device's in *gpu_* (fails the test on an error).
void build_on_both(cuda_backend_t *cb, const pipeline_options_t &opt, FakeSeries &series,
                   const std::vector<uint32_t> &selected, const volume_request_t &req, size_t bytes,
                   std::vector<uint8_t> &want, std::vector<uint8_t> &got, double means[2], double stds[2])
{
    want.assign(bytes, 0), got.assign(bytes, 0);
    stage_times_t t{};
    mp_error err;
    cpu_backend_t *cpu = nullptr;
    ASSERT_EQ(cpu_backend_create(&opt, 2, &cpu, &err), MP_OK);
    const uint32_t depth = (uint32_t)selected.size();
    volume_padding_t zeros{}; // none known
    ASSERT_EQ(cpu_build_volume(cpu, &series.batch, selected.data(), depth, &req, want.data(), &zeros, &means[0],
                               &stds[0], &t, &err),
              MP_OK)
        << err.msg;
    cpu_backend_destroy(cpu);
    void *pinned = cuda_host_alloc(cb, bytes);
    ASSERT_NE(pinned, nullptr);
    ASSERT_EQ(cuda_upload(cb, 1, &series.batch, &err), MP_OK) << err.msg;
    ASSERT_EQ(cuda_build_volume(cb, 1, &series.batch, selected.data(), depth, &req, pinned, &means[1], &stds[1], &t,
                                &err),
              MP_OK)
        << err.msg;
    std::memcpy(got.data(), pinned, bytes);
    cuda_host_free(cb, pinned);
}

// Every volume kernel (crop, resize, moments, store) through cuda_build_volume against
// cpu_build_volume on the same kept slices: the output bytes and the moments.
TEST_F(CudaFixture, VolumeKernelsGiveTheCpuBytes)
{
    SKIP_WITHOUT_GPU();
    struct Case {
        int w, h, k;
        volume_layout_t layout;
        volume_dtype_t dtype;
    } cases[] = {{256, 256, 128, LAYOUT_HWD, DTYPE_FLOAT32},
                 {96, 64, 16, LAYOUT_DHW, DTYPE_FLOAT16},
                 {300, 200, 40, LAYOUT_HWD, DTYPE_FLOAT16},
                 {32, 32, 7, LAYOUT_DHW, DTYPE_FLOAT32}};
    for (const Case &c : cases) {
        SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h) + " K " + std::to_string(c.k));
        pipeline_options_t opt = options(c.w, c.h, c.k, c.layout, c.dtype, 1);
        make(opt);
        FakeSeries series(97 + c.k, 90, c.k % 2 == 1);
        cpu_stats(opt, series.batch);
        std::vector<uint32_t> selected;
        for (size_t i = 0; i < series.batch.n && selected.size() < (size_t)c.k; i++)
            if (series.batch.slots[i].fate == SLICE_KEPT) selected.push_back((uint32_t)i);
        ASSERT_FALSE(selected.empty());
        const size_t bytes = (size_t)c.w * c.h * selected.size() * volume_dtype_size(c.dtype);
        std::vector<uint8_t> want, got;
        double means[2], stds[2];
        build_on_both(cb, opt, series, selected, layout_request(opt, (uint32_t)selected.size()), bytes, want, got,
                      means, stds);
        if (HasFatalFailure()) return;
        EXPECT_EQ(means[0], means[1]);
        EXPECT_EQ(stds[0], stds[1]);
        size_t first = bytes;
        for (size_t i = 0; i < bytes && first == bytes; i++)
            if (want[i] != got[i]) first = i;
        EXPECT_EQ(first, bytes) << "first differing byte at " << first << " of " << bytes;
        cuda_backend_destroy(cb);
        cb = nullptr;
    }
}

// The volumetric requests (--reorient maps with flips, --depth pad, --intensity raw with
// and without --rescale, --norm nonzero): mp_crop's raw mode, mp_moments_any and the
// mapped mp_store against the CPU backend's plain path, byte for byte.
TEST_F(CudaFixture, VolumetricRequestsGiveTheCpuBytes)
{
    SKIP_WITHOUT_GPU();
    struct Case {
        const char *what;
        int axes[3], flip[3];
        uint32_t pad; // zero slices added
        int raw, rescale, nonzero;
    } cases[] = {{"sagittal to LPS, flipped", {2, 0, 1}, {1, 0, 1}, 0, 0, 0, 0},
                 {"pad 9", {2, 1, 0}, {0, 0, 0}, 9, 0, 0, 0},
                 {"nonzero", {1, 0, 2}, {0, 1, 0}, 0, 0, 0, 1},
                 {"raw", {2, 1, 0}, {0, 0, 0}, 0, 1, 0, 0},
                 {"raw rescaled nonzero padded", {0, 2, 1}, {1, 1, 1}, 4, 1, 1, 1}};
    for (const Case &c : cases) {
        SCOPED_TRACE(c.what);
        pipeline_options_t opt = options(64, 48, 20, LAYOUT_DHW, DTYPE_FLOAT32, 1);
        make(opt);
        FakeSeries series(61, 90, true);
        cpu_stats(opt, series.batch);
        for (size_t i = 0; i < series.batch.n; i++) { // a slope and intercept of their own
            series.batch.slots[i].rescale_slope = 0.5 + 0.01 * (double)i;
            series.batch.slots[i].rescale_intercept = -100.0 + (double)i;
        }
        std::vector<uint32_t> selected;
        for (size_t i = 0; i < series.batch.n && selected.size() < 20u - c.pad; i++)
            if (series.batch.slots[i].fate == SLICE_KEPT) selected.push_back((uint32_t)i);
        ASSERT_FALSE(selected.empty());
        const uint32_t depth = (uint32_t)selected.size(), out_depth = depth + c.pad;
        const uint64_t size[3] = {64, 48, out_depth};
        volume_request_t req{};
        req.map.depth = depth;
        req.map.pad_before = c.pad / 2;
        for (int t = 0; t < 3; t++)
            req.map.source_axis[t] = c.axes[t], req.map.flip[t] = c.flip[t], req.map.dims[t] = size[c.axes[t]];
        req.raw = c.raw, req.rescale = c.rescale, req.nonzero = c.nonzero;
        req.scale_exp = c.raw ? 17 : 0; // |v| < 2^16 here
        const size_t bytes = (size_t)(req.map.dims[0] * req.map.dims[1] * req.map.dims[2]) * sizeof(float);
        std::vector<uint8_t> want, got;
        double means[2], stds[2];
        build_on_both(cb, opt, series, selected, req, bytes, want, got, means, stds);
        if (HasFatalFailure()) return;
        EXPECT_EQ(means[0], means[1]);
        EXPECT_EQ(stds[0], stds[1]);
        EXPECT_TRUE(want == got) << "volumes differ";
        cuda_backend_destroy(cb);
        cb = nullptr;
    }
}

TEST(Cuda, DeviceQueryAgreesWithCheck)
{
    SKIP_WITHOUT_GPU();
    cuda_device_info_t devices[CUDA_MAX_DEVICES];
    int count = 0, driver = 0, runtime = 0;
    char why[256];
    ASSERT_EQ(cuda_query_devices(devices, CUDA_MAX_DEVICES, CUDA_PROBE_ALL, &count, &driver, &runtime, why, sizeof why), MP_OK);
    ASSERT_GT(count, 0);
    EXPECT_GT(driver, 0);
    EXPECT_GT(runtime, 0);
    EXPECT_GT(devices[0].total_bytes, 0u);
    mp_error err;
    cuda_device_info_t info;
    EXPECT_EQ(cuda_check_device(count, 0, &info, &err), MP_ERR_USAGE) << "an index past the last device";
    EXPECT_EQ(cuda_check_device(0, ~0ull, &info, &err), MP_ERR_USAGE) << "more memory than any device has";
}

// Without a device the backend must fail cleanly, never crash: this runs everywhere.
TEST(CudaAbsent, CheckDeviceFailsWithAReasonWhenThereIsNone)
{
    if (no_gpu_reason().empty()) GTEST_SKIP() << "a CUDA device is present: this test is for machines without one";
    cuda_device_info_t info;
    mp_error err;
    EXPECT_EQ(cuda_check_device(0, 0, &info, &err), MP_ERR_USAGE);
    EXPECT_NE(std::string(err.msg).find("cuda:0"), std::string::npos) << err.msg;
    cuda_device_info_t devices[CUDA_MAX_DEVICES];
    int count = -1, driver = -1, runtime = -1;
    char why[256] = "";
    EXPECT_EQ(cuda_query_devices(devices, CUDA_MAX_DEVICES, CUDA_PROBE_ALL, &count, &driver, &runtime, why, sizeof why), MP_OK);
    EXPECT_EQ(count, 0);
    EXPECT_STRNE(why, "");
    pipeline_options_t opt = options(64, 64, 4, LAYOUT_HWD, DTYPE_FLOAT32, 0);
    opt.device = DEVICE_CUDA;
    pipeline_t *p = nullptr;
    EXPECT_EQ(pipeline_create(&opt, &p, &err), MP_ERR_USAGE);
    EXPECT_EQ(p, nullptr);
}

}  // namespace
