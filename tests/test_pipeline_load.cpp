// test_pipeline_load.cpp - the compute stage on slices given in memory (pipeline_load),
// for inputs a generated DICOM dataset rarely has: --crop volume over slices of different
// sizes (the union box must be clipped to each slice: it used to be read out of bounds,
// which ASan sees in the sanitizer build), and raw intensity whose rescale gives values a
// volume cannot hold (NaN, inf, 1e308: the series fails with the reason, the same on
// every backend, instead of an "ok" volume of NaN).
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

    // A square bright in its middle third on 0, `size` x `size`.
    void add(uint32_t size, double slope = 1, double intercept = 0)
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
            for (uint32_t c = size / 3; c < 2 * size / 3; c++) px[(size_t)r * size + c] = (uint16_t)(100 + r + c);
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

} // namespace
