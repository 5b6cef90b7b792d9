// test_pipeline_load.cpp - the compute stage on slices given in memory (pipeline_load),
// for inputs a generated DICOM dataset rarely has: --crop volume over slices of different
// sizes (the union box must be clipped to each slice: it used to be read out of bounds,
// which ASan sees in the sanitizer build), and raw intensity whose rescale gives values a
// volume cannot hold (NaN, inf, 1e308: the series fails with the reason, the same on
// every backend, instead of an "ok" volume of NaN); and a series longer than the pixel
// budget (its selected slices read again: the same bytes, a changed one fails the series).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

extern "C" {
#include "mriprep/batch.h"
#include "mriprep/dicom.h"
#include "mriprep/pipeline.h"
}

namespace {

struct Series {
    std::vector<dicom_header_t> headers;
    std::vector<std::vector<uint16_t>> pixels;

    uint64_t budget = 0; // the pipeline's pixel budget in bytes (0: the default)

    // A square bright in its middle third on 0, `size` x `size`, `shade` added to it.
    void add(uint32_t size, double slope = 1, double intercept = 0, uint16_t shade = 0)
    {
        dicom_header_t h;
        memset(&h, 0, sizeof h);
        h.rows = h.cols = size;
        h.frames = 1;
        h.bits_allocated = h.bits_stored = 16;
        h.high_bit = 15;
        h.samples_per_pixel = 1;
        h.rescale_slope = slope;
        h.rescale_intercept = intercept;
        std::vector<uint16_t> px((size_t)size * size, 0);
        for (uint32_t r = size / 3; r < 2 * size / 3; r++)
            for (uint32_t c = size / 3; c < 2 * size / 3; c++) px[(size_t)r * size + c] = (uint16_t)(100 + r + c + shade);
        headers.push_back(h);
        pixels.push_back(px);
    }

    series_result_t compute(pipeline_options_t opt, pipeline_t **keep = nullptr)
    {
        pipeline_t *p = nullptr;
        mp_error err;
        mp_error_clear(&err);
        series_result_t res;
        memset(&res, 0, sizeof res);
        EXPECT_EQ(pipeline_create(&opt, &p, &err), MP_OK) << err.msg;
        if (budget) pipeline_set_pixel_budget(p, budget);
        std::vector<const uint16_t *> ptrs;
        for (auto &px : pixels) ptrs.push_back(px.data());
        EXPECT_EQ(pipeline_load(p, 0, headers.data(), ptrs.data(), ptrs.size(), &err), MP_OK) << err.msg;
        EXPECT_EQ(pipeline_compute(p, 0, 0, &res, &err), MP_OK) << err.msg;
        if (keep) *keep = p;
        else pipeline_destroy(p);
        return res;
    }
};

pipeline_options_t options()
{
    pipeline_options_t o;
    pipeline_options_default(&o);
    o.device = DEVICE_CPU;
    o.threads = 1;
    o.out_w = o.out_h = 16;
    o.slices = 8;
    return o;
}

TEST(PipelineLoad, VolumeCropOverSlicesOfDifferentSizesStaysInsideEachSlice)
{
    Series s;
    s.add(64);
    s.add(16);
    s.add(64);
    pipeline_options_t o = options();
    o.crop = CROP_VOLUME;
    pipeline_t *p = nullptr;
    series_result_t res = s.compute(o, &p);
    ASSERT_EQ(res.outcome, SERIES_OK) << res.reason;
    EXPECT_TRUE(res.mixed_shapes);
    EXPECT_FALSE(res.has_affine);
    EXPECT_NE(std::string(res.geometry_note).find("differ in rows x columns"), std::string::npos) << res.geometry_note;
    const series_batch_t *b = pipeline_batch(p, 0);
    ASSERT_EQ(b->n, 3u);
    for (size_t i = 0; i < b->n; i++) {
        const slice_slot_t &slot = b->slots[i];
        EXPECT_GE(slot.box.row0, 0);
        EXPECT_GE(slot.box.col0, 0);
        EXPECT_LT(slot.box.row1, (int32_t)slot.rows) << "slot " << i;
        EXPECT_LT(slot.box.col1, (int32_t)slot.cols) << "slot " << i;
    }
    // The 64x64 slices keep the union; the 16x16 one gets it clipped to its 16 rows.
    EXPECT_EQ(b->slots[1].box.row1, 15);
    EXPECT_EQ(b->slots[0].box.row0, b->slots[1].box.row0);
    pipeline_destroy(p);
}

TEST(PipelineLoad, RawValuesOutOfRangeFailTheSeriesWithTheReason)
{
    const double bad[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), 1e308,
                          -1e200, 1e-300};
    for (double slope : bad) {
        Series s;
        s.add(32);
        s.add(32, slope);
        pipeline_options_t o = options();
        o.intensity = INTENSITY_RAW;
        o.rescale = 1;
        series_result_t res = s.compute(o);
        EXPECT_EQ(res.outcome, SERIES_FAILED) << "slope " << slope;
        EXPECT_NE(std::string(res.reason).find("RescaleSlope"), std::string::npos) << res.reason;
        EXPECT_NE(std::string(res.reason).find("--intensity raw"), std::string::npos) << res.reason;
    }
    // The same values without --rescale are stored values: fine.
    Series s;
    s.add(32);
    s.add(32, std::numeric_limits<double>::quiet_NaN());
    pipeline_options_t o = options();
    o.intensity = INTENSITY_RAW;
    series_result_t res = s.compute(o);
    EXPECT_EQ(res.outcome, SERIES_OK) << res.reason;
    EXPECT_TRUE(std::isfinite(res.mean) && std::isfinite(res.std));
}

TEST(PipelineLoad, LargeButRepresentableRescaleStillGivesAVolume)
{
    Series s;
    s.add(32, 1e20, -5);
    s.add(32, 1e20, -5);
    pipeline_options_t o = options();
    o.intensity = INTENSITY_RAW;
    o.rescale = 1;
    pipeline_t *p = nullptr; // the volume lives in the pipeline's buffer
    series_result_t res = s.compute(o, &p);
    EXPECT_EQ(res.outcome, SERIES_OK) << res.reason;
    const float *v = static_cast<const float *>(res.volume);
    size_t finite = 0;
    for (size_t i = 0; v && i < res.volume_bytes / sizeof(float); i++) finite += std::isfinite(v[i]);
    EXPECT_EQ(finite, res.volume_bytes / sizeof(float));
    EXPECT_GT(finite, 0u);
    pipeline_destroy(p);
}

// Bytes of slot buffers a batch holds now.
uint64_t held_bytes(const series_batch_t *b)
{
    uint64_t held = 0;
    for (size_t i = 0; i < b->cap; i++) held += b->slots[i].buffer.capacity * sizeof(uint16_t);
    return held;
}

// A series of `n` slices in `plane` ("axial", "coronal" or "sagittal", as the real data's
// direction cosines), 1 mm apart along the slice normal, rising or falling with the file
// order, each a square bright in its middle third with a shade of its own.
Series planar(const std::string &plane, int n, bool falling)
{
    static const double cosines[3][6] = {{1, 0, 0, 0, 1, 0}, {1, 0, 0, 0, 0, -1}, {0, 1, 0, 0, 0, -1}};
    const double *c = cosines[plane == "axial" ? 0 : plane == "coronal" ? 1 : 2];
    const double normal[3] = {c[1] * c[5] - c[2] * c[4], c[2] * c[3] - c[0] * c[5], c[0] * c[4] - c[1] * c[3]};
    Series s;
    for (int i = 0; i < n; i++) {
        s.add(24, 1, 0, (uint16_t)(7 * i));
        dicom_header_t &h = s.headers.back();
        const double at = falling ? n - 1 - i : i;
        h.has_position = h.has_orientation = h.has_spacing = 1;
        for (int k = 0; k < 3; k++) h.position[k] = at * normal[k];
        std::memcpy(h.orientation, c, sizeof h.orientation);
        h.spacing[0] = h.spacing[1] = 1.0;
    }
    return s;
}

// The pipeline fills a volume's zero slices (--depth pad) only where the volume before it
// in the same buffer had values: a sequence of volumes of different depths, planes (zero
// slices along each output axis, after a volume of the same shape or of another, with
// zero slices or none) and slice directions, built one after the other into one buffer,
// must give each the bytes a new pipeline gives it; deeper ones come before shallower
// ones, so that the next one's zero slices lie where values were.
TEST(PipelineLoad, AReusedVolumeBufferGivesTheBytesOfANewOne)
{
    struct Case {
        const char *plane;
        int n;
        bool falling;
    };
    const Case cases[] = {{"axial", 7, false},    {"axial", 2, true},     {"axial", 5, false},   {"coronal", 6, true},
                          {"coronal", 3, false},  {"sagittal", 7, false}, {"sagittal", 1, true}, {"sagittal", 4, false},
                          {"axial", 3, true},     {"coronal", 2, true},   {"axial", 1, false},   {"sagittal", 6, true},
                          {"axial", 8, true},     {"coronal", 8, false},  {"axial", 2, false}};
    for (volume_dtype_t dtype : {DTYPE_FLOAT32, DTYPE_FLOAT16}) {
        pipeline_options_t o = options();
        o.order = SLICE_ORDER_POSITION;
        o.reorient = 1;
        o.crop = CROP_VOLUME;
        o.norm = NORM_NONZERO;
        o.depth = DEPTH_PAD;
        o.dtype = dtype;
        o.threads = 2;
        pipeline_t *reused = nullptr;
        mp_error err;
        ASSERT_EQ(pipeline_create(&o, &reused, &err), MP_OK) << err.msg;
        int axes_seen[3] = {0, 0, 0};
        for (const Case &c : cases) {
            Series s = planar(c.plane, c.n, c.falling);
            pipeline_t *once = nullptr; // a new pipeline: a buffer no volume was built in
            ASSERT_EQ(pipeline_create(&o, &once, &err), MP_OK) << err.msg;
            std::vector<const uint16_t *> ptrs;
            for (auto &px : s.pixels) ptrs.push_back(px.data());
            series_result_t want, got;
            ASSERT_EQ(pipeline_load(once, 0, s.headers.data(), ptrs.data(), ptrs.size(), &err), MP_OK) << err.msg;
            ASSERT_EQ(pipeline_compute(once, 0, 0, &want, &err), MP_OK) << err.msg;
            ASSERT_EQ(want.outcome, SERIES_OK) << want.reason;
            ASSERT_TRUE(want.reoriented) << c.plane << ": " << want.geometry_note;
            ASSERT_EQ(pipeline_load(reused, 0, s.headers.data(), ptrs.data(), ptrs.size(), &err), MP_OK) << err.msg;
            ASSERT_EQ(pipeline_compute(reused, 0, 0, &got, &err), MP_OK) << err.msg;
            ASSERT_EQ(got.outcome, SERIES_OK) << got.reason;
            ASSERT_EQ(got.volume_bytes, want.volume_bytes);
            EXPECT_EQ(std::memcmp(got.volume, want.volume, want.volume_bytes), 0)
                << c.plane << " " << c.n << (c.falling ? " falling" : " rising") << ", " << volume_dtype_name(dtype);
            EXPECT_EQ(got.padding.before + got.padding.after + (uint64_t)c.n, got.shape[got.padding.axis]);
            axes_seen[got.padding.axis]++;
            pipeline_destroy(once);
        }
        EXPECT_TRUE(axes_seen[0] && axes_seen[1] && axes_seen[2]) << "zero slices along every output axis";
        pipeline_destroy(reused);
    }
}

TEST(PipelineBudget, ASeriesPastTheBudgetGivesTheSameBytesAndHoldsOnlyTheSelectedAfter)
{
    // 60 slices of 64x64 (8 KiB each), a budget of 10 of them; K = 8 of the middle.
    const uint64_t slice_bytes = 64 * 64 * 2;
    for (int volume_crop = 0; volume_crop < 2; volume_crop++) {
        Series s;
        for (int i = 0; i < 60; i++) s.add(64, 1, 0, (uint16_t)(i * 37 % 101));
        pipeline_options_t o = options();
        o.slices = 8;
        o.crop = volume_crop ? CROP_VOLUME : CROP_SLICE;
        pipeline_t *whole = nullptr, *bounded = nullptr;
        series_result_t expect = s.compute(o, &whole);
        s.budget = 10 * slice_bytes;
        series_result_t got = s.compute(o, &bounded);
        ASSERT_EQ(expect.outcome, SERIES_OK) << expect.reason;
        ASSERT_EQ(got.outcome, SERIES_OK) << got.reason;
        EXPECT_EQ(expect.reread, 0u);
        EXPECT_EQ(got.reread, 8u) << "one thread loads in order: slots 0-9 are held, the middle 8 were let go";
        ASSERT_EQ(got.volume_bytes, expect.volume_bytes);
        EXPECT_EQ(memcmp(got.volume, expect.volume, got.volume_bytes), 0);
        EXPECT_EQ(got.mean, expect.mean);
        EXPECT_EQ(got.std, expect.std);
        const series_batch_t *b = pipeline_batch(bounded, 0);
        EXPECT_EQ(b->let_go, 50u);
        EXPECT_EQ(held_bytes(b), 8 * slice_bytes) << "after the volume only the selected slices are held";
        EXPECT_EQ(held_bytes(pipeline_batch(whole, 0)), 60 * slice_bytes);
        pipeline_destroy(whole);
        pipeline_destroy(bounded);
    }
}

TEST(PipelineBudget, ASelectedSliceThatChangedBetweenItsTwoReadsFailsTheSeries)
{
    Series s;
    for (int i = 0; i < 30; i++) s.add(32, 1, 0, (uint16_t)i);
    pipeline_options_t o = options();
    o.slices = 4;
    pipeline_t *p = nullptr;
    mp_error err;
    mp_error_clear(&err);
    ASSERT_EQ(pipeline_create(&o, &p, &err), MP_OK) << err.msg;
    pipeline_set_pixel_budget(p, 5 * 32 * 32 * 2);
    std::vector<const uint16_t *> ptrs;
    for (auto &px : s.pixels) ptrs.push_back(px.data());
    ASSERT_EQ(pipeline_load(p, 0, s.headers.data(), ptrs.data(), ptrs.size(), &err), MP_OK) << err.msg;
    s.pixels[14][32 * 16 + 16] ^= 1; // one bit of a selected slice (the middle 4: 13-16)
    series_result_t res;
    ASSERT_EQ(pipeline_compute(p, 0, 0, &res, &err), MP_OK) << err.msg;
    EXPECT_EQ(res.outcome, SERIES_FAILED);
    EXPECT_NE(std::string(res.reason).find("image 14 changed"), std::string::npos) << res.reason;
    // A slice that was not selected may change: it is not read again.
    s.pixels[14][32 * 16 + 16] ^= 1;
    ASSERT_EQ(pipeline_load(p, 0, s.headers.data(), ptrs.data(), ptrs.size(), &err), MP_OK) << err.msg;
    s.pixels[25][0] = 7;
    ASSERT_EQ(pipeline_compute(p, 0, 0, &res, &err), MP_OK) << err.msg;
    EXPECT_EQ(res.outcome, SERIES_OK) << res.reason;
    // The budget counts buffers: slots 13-16 kept theirs from the first series, so they are
    // held again without growing it (slot 0 fills it; 1-12 and 17-29 are let go).
    EXPECT_EQ(res.reread, 0u);
    EXPECT_EQ(pipeline_batch(p, 0)->let_go, 25u);
    pipeline_destroy(p);
}

TEST(PipelineBudget, TheEnvironmentSetsTheBudgetAndABadValueIsAnError)
{
    pipeline_options_t o = options();
    pipeline_t *p = nullptr;
    mp_error err;
    for (const char *bad : {"0", "-1", "1.5", "lots", "99999999999"}) {
        setenv("MRIPREP_PIXEL_BUDGET_MB", bad, 1);
        mp_error_clear(&err);
        EXPECT_EQ(pipeline_create(&o, &p, &err), MP_ERR_USAGE) << bad;
        EXPECT_NE(std::string(err.msg).find("MRIPREP_PIXEL_BUDGET_MB"), std::string::npos) << err.msg;
    }
    // 1 MB holds 16 slices of 256x256: of 40, the middle 8 (16-23) were let go.
    setenv("MRIPREP_PIXEL_BUDGET_MB", "1", 1);
    Series s;
    for (int i = 0; i < 40; i++) s.add(256, 1, 0, (uint16_t)i);
    series_result_t res = s.compute(o);
    EXPECT_EQ(res.outcome, SERIES_OK) << res.reason;
    EXPECT_EQ(res.reread, 8u);
    unsetenv("MRIPREP_PIXEL_BUDGET_MB");
}

} // namespace
