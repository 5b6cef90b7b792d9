// test_resize.cpp - resize_area_f32 against the real oracle, OpenCV 4.6
// cv::resize(..., INTER_AREA) on CV_32FC1, bit for bit (tolerance: none).
//
// Size pairs cover all four paths (copy, area_fast, area_general, linear_area),
// the spec's named cases, random pairs from a fixed seed, integer factors whose
// widths are not multiples of 4 (the 2x2 SIMD/tail split), strided images and
// inf/NaN inputs. Source data: U[0,1), N(0,1000), images with exact (and
// negative) zeros, constant images and 12-bit integers, all from fixed seeds.
// resize_crop_measure, the CPU backend's crop + min-max + resize + moments engine, is held
// to the same oracle on every pair, in every build of it this CPU runs (portable, SSE2,
// AVX2: cpu_simd_force), on 16-bit integer images min-max scaled as the pipeline does.
#include <gtest/gtest.h>

// OpenCV's inline code casts away const; the Makefile's -Wcast-qual would
// flag it on every build, and it is not our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "kernels/zscore_math.h"
#include "mriprep/cpu_backend.h"
#include "mriprep/resize.h"
}

namespace {

enum DataKind { UNIFORM = 0, NORMAL, ZEROS, CONSTANT, INTEGER, NUM_KINDS };
const unsigned ALL_KINDS = (1u << NUM_KINDS) - 1;

const char *kind_name(int k)
{
    static const char *const names[NUM_KINDS] = {"uniform", "normal1000", "zeros", "constant",
                                                 "int12"};
    return names[k];
}

struct SizePair {
    int sw, sh, dw, dh; // W x H notation: width first
    unsigned kinds;     // bitmask of DataKind to run
    int id;             // index in the list: seeds the data and names the test
};

// Fills a CV_32FC1 image (which may be a ROI) deterministically.
void fill_image(cv::Mat &m, int kind, uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uni(0.f, 1.f);
    std::normal_distribution<float> gauss(0.f, 1000.f);
    std::uniform_int_distribution<int> int12(0, 4095);
    const float constants[] = {1.0f, 0.1f, 1234.5678f, -3.3f};
    const float c = constants[seed % 4];

    for (int y = 0; y < m.rows; y++) {
        float *row = m.ptr<float>(y);
        for (int x = 0; x < m.cols; x++) {
            switch (kind) {
            case UNIFORM: row[x] = uni(rng); break;
            case NORMAL: row[x] = gauss(rng); break;
            case ZEROS: {
                // an MRI-like zero background on the left, sparse +0/-0 elsewhere
                float u = uni(rng);
                if (3 * x < m.cols || u < 0.2f)
                    row[x] = 0.f;
                else if (u < 0.25f)
                    row[x] = -0.f;
                else
                    row[x] = uni(rng);
                break;
            }
            case CONSTANT: row[x] = c; break;
            default: row[x] = (float)int12(rng); break;
            }
        }
    }
}

uint32_t bits_of(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

std::string pair_name(int sw, int sh, int dw, int dh)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, "%dx%d->%dx%d (%s)", sw, sh, dw, dh,
                  resize_path_name(resize_select_path(sw, sh, dw, dh)));
    return buf;
}

// Resizes src with our code and with OpenCV and compares every output bit.
// nan_equal: two NaNs count as equal whatever their payloads (SSE picks the
// payload by operand order, which the compiler may swap).
// pad: extra elements per row around both images, to exercise strides.
::testing::AssertionResult matches_opencv(const cv::Mat &src, int dw, int dh, bool nan_equal,
                                          int pad = 0)
{
    const int sw = src.cols, sh = src.rows;
    cv::Mat ref;
    cv::resize(src, ref, cv::Size(dw, dh), 0, 0, cv::INTER_AREA);
    if (ref.type() != CV_32FC1 || ref.cols != dw || ref.rows != dh)
        return ::testing::AssertionFailure() << "OpenCV returned an unexpected Mat";

    cv::Mat ours_full(dh, dw + pad, CV_32FC1, cv::Scalar(-12345.f));
    cv::Mat ours = ours_full(cv::Rect(0, 0, dw, dh));
    mp_error err;
    mp_error_clear(&err);
    mp_status st = resize_area_image(src.ptr<float>(), sw, sh, src.step1(), ours.ptr<float>(), dw,
                                     dh, ours.step1(), &err);
    if (st != MP_OK)
        return ::testing::AssertionFailure()
               << "resize_area_image: " << mp_status_name(st) << ": " << err.msg;

    long mismatches = 0;
    int fx = -1, fy = -1;
    for (int y = 0; y < dh; y++) {
        const float *a = ours.ptr<float>(y);
        const float *b = ref.ptr<float>(y);
        if (std::memcmp(a, b, sizeof(float) * (size_t)dw) == 0)
            continue;
        for (int x = 0; x < dw; x++) {
            if (bits_of(a[x]) == bits_of(b[x]))
                continue;
            if (nan_equal && std::isnan(a[x]) && std::isnan(b[x]))
                continue;
            if (mismatches++ == 0)
                fx = x, fy = y;
        }
    }
    // the padding must not be written
    for (int y = 0; y < dh && pad > 0; y++)
        for (int x = dw; x < dw + pad; x++)
            if (ours_full.at<float>(y, x) != -12345.f)
                return ::testing::AssertionFailure() << "wrote past dst width at row " << y;
    if (mismatches == 0)
        return ::testing::AssertionSuccess();

    const float a = ours.at<float>(fy, fx), b = ref.at<float>(fy, fx);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s: %ld of %ld pixels differ; first at (x=%d, y=%d): ours %.9g (0x%08x), "
                  "OpenCV %.9g (0x%08x)",
                  pair_name(sw, sh, dw, dh).c_str(), mismatches, (long)dw * dh, fx, fy, (double)a,
                  (unsigned)bits_of(a), (double)b, (unsigned)bits_of(b));
    return ::testing::AssertionFailure() << buf;
}

std::vector<SizePair> all_pairs()
{
    std::vector<SizePair> v;
    auto add = [&v](int sw, int sh, int dw, int dh, unsigned kinds) {
        v.push_back(SizePair{sw, sh, dw, dh, kinds, (int)v.size()});
    };

    // the spec's named cases, every data kind
    const int named[][4] = {
        {512, 512, 256, 256}, {280, 260, 256, 256}, {200, 180, 256, 256}, {300, 150, 256, 256},
        {1, 1, 256, 256},     {49, 98, 1, 2},       {257, 511, 256, 256}, {3, 7, 256, 256},
        {600, 500, 256, 256}, {1024, 768, 256, 256}, {256, 256, 256, 256}, {99, 400, 128, 64},
        {768, 768, 256, 256}, {1024, 512, 256, 256}, {700, 700, 1, 1},    {5, 700, 700, 5},
        {1001, 1, 1000, 1},   {93, 1, 1, 1},         {98, 2, 2, 1},        {1, 700, 3, 2},
        {512, 512, 255, 257}, {1, 1, 1, 5},          {2, 1, 1, 1},         {1, 1, 7, 1},
    };
    for (const auto &p : named)
        add(p[0], p[1], p[2], p[3], ALL_KINDS);

    std::mt19937 rng(20240611u);
    auto uni = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

    // random pairs in [1..700]: mostly linear_area, about a quarter area_general
    for (int i = 0; i < 200; i++) {
        int sw = uni(1, 700), sh = uni(1, 700), dw = uni(1, 700), dh = uni(1, 700);
        add(sw, sh, dw, dh, (1u << UNIFORM) | (1u << (1 + i % (NUM_KINDS - 1))));
    }
    // random pure downscales: area_general (and the odd area_fast)
    for (int i = 0; i < 50; i++) {
        int sw = uni(1, 700), sh = uni(1, 700);
        add(sw, sh, uni(1, sw), uni(1, sh), (1u << UNIFORM) | (1u << (1 + i % (NUM_KINDS - 1))));
    }
    // random pure upscales: linear_area acting as a box filter
    for (int i = 0; i < 20; i++) {
        int sw = uni(1, 300), sh = uni(1, 300);
        add(sw, sh, uni(sw, 700), uni(sh, 700), (1u << NORMAL) | (1u << ZEROS));
    }
    // integer factors (area_fast); dst widths 1..13 and around multiples of 4
    // so both the SSE columns and the scalar tail of the 2x2 case are hit
    const int factors[][2] = {{2, 2}, {3, 3}, {4, 3}, {2, 5}, {2, 1}, {1, 2},
                              {3, 1}, {5, 5}, {7, 2}, {4, 4}, {1, 6}, {6, 1}};
    for (int w = 1; w <= 13; w++) {
        int h = uni(1, 40);
        add(2 * w, 2 * h, w, h, ALL_KINDS);
    }
    const int widths[] = {127, 128, 129, 130, 131, 1, 5, 66};
    for (const auto &f : factors)
        for (int w : widths) {
            if ((long)w * f[0] > 800)
                continue;
            int dh = uni(1, 700 / f[1]);
            add(w * f[0], dh * f[1], w, dh, (1u << UNIFORM) | (1u << NORMAL));
        }
    // same size: copy
    for (int i = 0; i < 30; i++) {
        int w = uni(1, 700), h = uni(1, 700);
        add(w, h, w, h, (1u << NORMAL));
    }
    return v;
}

const std::vector<SizePair> &pairs()
{
    static const std::vector<SizePair> v = all_pairs();
    return v;
}

class ResizeVsOpenCV : public ::testing::TestWithParam<SizePair> {};

TEST_P(ResizeVsOpenCV, BitExact)
{
    const SizePair p = GetParam();
    for (int k = 0; k < NUM_KINDS; k++) {
        if (!(p.kinds & (1u << k)))
            continue;
        SCOPED_TRACE(pair_name(p.sw, p.sh, p.dw, p.dh) + ", data " + kind_name(k));
        cv::Mat src(p.sh, p.sw, CV_32FC1);
        fill_image(src, k, 1000003u * (uint32_t)p.id + (uint32_t)k);
        EXPECT_TRUE(matches_opencv(src, p.dw, p.dh, false));
    }
}

// The CUDA kernel computes each output pixel alone with resize_area_pixel() from tables
// packed into one block (resize_tables_pack) - not with resize_area_f32's row-wise
// general path. This runs exactly that per-pixel code on the CPU against OpenCV, so the
// GPU's arithmetic is checked on machines without a GPU.
TEST_P(ResizeVsOpenCV, PerPixelFromPackedTablesAsTheGpuDoes)
{
    const SizePair p = GetParam();
    const int k = UNIFORM;
    SCOPED_TRACE(pair_name(p.sw, p.sh, p.dw, p.dh));
    cv::Mat src(p.sh, p.sw, CV_32FC1);
    fill_image(src, k, 1000003u * (uint32_t)p.id + (uint32_t)k);
    cv::Mat ref;
    cv::resize(src, ref, cv::Size(p.dw, p.dh), 0, 0, cv::INTER_AREA);

    resize_plan_t plan;
    mp_error err;
    ASSERT_EQ(resize_plan_init(&plan, p.sw, p.sh, p.dw, p.dh, &err), MP_OK) << err.msg;
    std::vector<uint64_t> block((resize_tables_packed_size(&plan.tables) + 7) / 8 + 1);
    resize_tables_t packed;
    resize_tables_pack(&plan.tables, block.data(), (uintptr_t)block.data(), &packed);
    resize_plan_free(&plan); // the packed copy must stand on its own
    long mismatches = 0;
    for (int y = 0; y < p.dh; y++)
        for (int x = 0; x < p.dw; x++) {
            float ours = resize_area_pixel(&packed, src.ptr<float>(), src.step1(), x, y);
            if (bits_of(ours) != bits_of(ref.at<float>(y, x)) && mismatches++ < 3)
                ADD_FAILURE() << "(" << x << ", " << y << "): ours " << ours << ", OpenCV " << ref.at<float>(y, x);
        }
    EXPECT_EQ(mismatches, 0);
}

// resize_crop_measure against OpenCV: a random 16-bit image (unsigned full range, or signed
// 12-bit, by pair), min-max scaled to float32 as the pipeline does ((x - min) / (max - min):
// both exact in float), through cv::resize; each engine the CPU has must give OpenCV's
// bits, and the moments of OpenCV's plane (llrint) exactly. A one-value image gets max =
// min + 1 (resize_crop_measure needs a range; the values are then all 0).
TEST_P(ResizeVsOpenCV, CropMeasureOnEveryEngineMatchesOpenCV)
{
    const SizePair p = GetParam();
    SCOPED_TRACE(pair_name(p.sw, p.sh, p.dw, p.dh));
    const bool is_signed = p.id % 2;
    std::mt19937 rng(7919u * (uint32_t)p.id + 1);
    std::vector<uint16_t> words((size_t)p.sw * p.sh);
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (uint16_t &w : words) {
        const uint32_t u = rng();
        w = is_signed ? (uint16_t)(int16_t)((int32_t)(u % 4096) - 2048) : (uint16_t)u;
        const int32_t x = is_signed ? (int32_t)(int16_t)w : (int32_t)w;
        mn = std::min(mn, x), mx = std::max(mx, x);
    }
    if (mx == mn) mx = mn + 1;
    cv::Mat src(p.sh, p.sw, CV_32FC1), ref;
    const float range = (float)(mx - mn);
    for (int y = 0; y < p.sh; y++)
        for (int x = 0; x < p.sw; x++) {
            const uint16_t w = words[(size_t)y * p.sw + x];
            src.at<float>(y, x) = (float)((is_signed ? (int32_t)(int16_t)w : (int32_t)w) - mn) / range;
        }
    cv::resize(src, ref, cv::Size(p.dw, p.dh), 0, 0, cv::INTER_AREA);
    ASSERT_TRUE(ref.isContinuous());
    resize_moments_t want{0, 0, ref.at<float>(0, 0), ref.at<float>(0, 0)};
    for (int y = 0; y < p.dh; y++)
        for (int x = 0; x < p.dw; x++) {
            const float v = ref.at<float>(y, x);
            want.sum_q += zscore_fixed(v), want.sum_q2 += zscore_fixed_sq(v);
            want.min = v < want.min ? v : want.min;
            want.max = v > want.max ? v : want.max;
        }

    resize_plan_t plan;
    mp_error err;
    ASSERT_EQ(resize_plan_init(&plan, p.sw, p.sh, p.dw, p.dh, &err), MP_OK) << err.msg;
    resize_scratch_t *scratch = resize_scratch_new();
    ASSERT_NE(scratch, nullptr);
    const resize_crop_t crop = {words.data(), p.sw, is_signed, slice_box_t{0, p.sh - 1, 0, p.sw - 1}, mn, mx};
    const cpu_simd_t before = cpu_simd_engine();
    for (cpu_simd_t e : {CPU_SIMD_NONE, CPU_SIMD_SSE2, CPU_SIMD_AVX2}) {
        if (cpu_simd_force(e) != e) continue; // not on this CPU or in this build (test_cpu_simd says which)
        SCOPED_TRACE(std::string("engine ") + resize_crop_engine());
        std::vector<float> out((size_t)p.dw * p.dh, NAN);
        resize_moments_t got;
        ASSERT_EQ(resize_crop_measure(&plan, &crop, scratch, out.data(), &got, &err), MP_OK) << err.msg;
        long mismatches = 0;
        for (int y = 0; y < p.dh; y++)
            for (int x = 0; x < p.dw; x++)
                if (bits_of(out[(size_t)y * p.dw + x]) != bits_of(ref.at<float>(y, x)) && mismatches++ == 0)
                    ADD_FAILURE() << "(" << x << ", " << y << "): ours " << out[(size_t)y * p.dw + x] << ", OpenCV "
                                  << ref.at<float>(y, x);
        EXPECT_EQ(mismatches, 0);
        EXPECT_EQ(got.sum_q, want.sum_q);
        EXPECT_EQ(got.sum_q2, want.sum_q2);
        EXPECT_EQ(bits_of(got.min), bits_of(want.min));
        EXPECT_EQ(bits_of(got.max), bits_of(want.max));
    }
    cpu_simd_force(before);
    resize_scratch_free(scratch);
    resize_plan_free(&plan);
}

INSTANTIATE_TEST_SUITE_P(Pairs, ResizeVsOpenCV, ::testing::ValuesIn(pairs()),
                         [](const ::testing::TestParamInfo<SizePair> &param_info) {
                             const SizePair &p = param_info.param;
                             return "n" + std::to_string(p.id) + "_" + std::to_string(p.sw) + "x" +
                                    std::to_string(p.sh) + "_to_" + std::to_string(p.dw) + "x" +
                                    std::to_string(p.dh);
                         });

TEST(Resize, CoversEveryPath)
{
    int count[4] = {0, 0, 0, 0};
    for (const SizePair &p : pairs())
        count[resize_select_path(p.sw, p.sh, p.dw, p.dh)]++;
    std::printf("[ pairs    ] copy %d, area_fast %d, area_general %d, linear_area %d, total %zu\n",
                count[RESIZE_COPY], count[RESIZE_AREA_FAST], count[RESIZE_AREA_GENERAL],
                count[RESIZE_LINEAR_AREA], pairs().size());
    EXPECT_GE(count[RESIZE_COPY], 30);
    EXPECT_GE(count[RESIZE_AREA_FAST], 30);
    EXPECT_GE(count[RESIZE_AREA_GENERAL], 30);
    EXPECT_GE(count[RESIZE_LINEAR_AREA], 30);
    EXPECT_GE(pairs().size(), 300u);
}

TEST(Resize, PathSelectionMatchesSpec)
{
    EXPECT_EQ(resize_select_path(256, 256, 256, 256), RESIZE_COPY);
    EXPECT_EQ(resize_select_path(512, 512, 256, 256), RESIZE_AREA_FAST);
    EXPECT_EQ(resize_select_path(1024, 768, 256, 256), RESIZE_AREA_FAST); // 4x3
    EXPECT_EQ(resize_select_path(768, 768, 256, 256), RESIZE_AREA_FAST);
    EXPECT_EQ(resize_select_path(1024, 512, 256, 256), RESIZE_AREA_FAST);
    EXPECT_EQ(resize_select_path(280, 260, 256, 256), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(257, 511, 256, 256), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(600, 500, 256, 256), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(200, 180, 256, 256), RESIZE_LINEAR_AREA);
    EXPECT_EQ(resize_select_path(300, 150, 256, 256), RESIZE_LINEAR_AREA); // mixed
    EXPECT_EQ(resize_select_path(99, 400, 128, 64), RESIZE_LINEAR_AREA);   // mixed
    EXPECT_EQ(resize_select_path(1, 1, 256, 256), RESIZE_LINEAR_AREA);
    // 1.0/(1.0/49) = 49.000000000000007 in double: not an integer factor
    EXPECT_EQ(resize_select_path(49, 98, 1, 2), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(49, 1, 1, 1), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(93, 1, 1, 1), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(98, 2, 2, 1), RESIZE_AREA_GENERAL);
    EXPECT_EQ(resize_select_path(50, 1, 1, 1), RESIZE_AREA_FAST);
    // the spec counts 281 such k in 1..2000 for k -> 1
    int general = 0;
    for (int k = 1; k <= 2000; k++)
        general += resize_select_path(k, 1, 1, 1) == RESIZE_AREA_GENERAL;
    EXPECT_EQ(general, 281);
}

TEST(Resize, StridedImages)
{
    const int cases[][4] = {{512, 512, 256, 256}, {22, 14, 11, 7},   {280, 260, 256, 256},
                            {200, 180, 256, 256}, {99, 400, 128, 64}, {64, 48, 64, 48},
                            {1, 1, 9, 4},         {49, 98, 1, 2}};
    int id = 0;
    for (const auto &c : cases) {
        SCOPED_TRACE(pair_name(c[0], c[1], c[2], c[3]));
        cv::Mat big(c[1] + 3, c[0] + 5, CV_32FC1);
        fill_image(big, NORMAL, 777u + (uint32_t)id++);
        cv::Mat roi = big(cv::Rect(2, 1, c[0], c[1])); // step > width * 4 bytes
        EXPECT_TRUE(matches_opencv(roi, c[2], c[3], false, 3));
    }
}

// Zero weights still multiply, so inf neighbours give NaN in OpenCV; ours must
// agree on which pixels are NaN, inf and finite, and on every non-NaN bit.
TEST(Resize, InfAndNaNPropagateLikeOpenCV)
{
    const int cases[][4] = {{512, 512, 256, 256}, {30, 30, 10, 10}, {30, 30, 13, 11},
                            {30, 20, 45, 50},     {40, 20, 20, 45}, {23, 17, 23, 17},
                            {10, 10, 3, 3},       {9, 9, 4, 7}};
    int id = 0;
    for (const auto &c : cases) {
        SCOPED_TRACE(pair_name(c[0], c[1], c[2], c[3]));
        cv::Mat src(c[1], c[0], CV_32FC1);
        fill_image(src, UNIFORM, 4242u + (uint32_t)id);
        std::mt19937 rng(99u + (uint32_t)id++);
        const float specials[] = {std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::quiet_NaN()};
        for (size_t i = 0; i < 1 + src.total() / 50; i++)
            src.at<float>((int)(rng() % (unsigned)c[1]), (int)(rng() % (unsigned)c[0])) =
                specials[rng() % 3];
        EXPECT_TRUE(matches_opencv(src, c[2], c[3], true));
    }
}

// Pitfall 4 of the spec: slivers <= 1e-3 px are dropped without renormalising,
// so a constant image does not stay constant. OpenCV does the same (checked
// bit for bit in the pair list); this pins the effect down by value.
TEST(Resize, SliversAreDroppedLikeOpenCV)
{
    std::vector<float> src(1001, 1.0f), dst(1000, 0.f);
    mp_error err;
    ASSERT_EQ(resize_area_image(src.data(), 1001, 1, 1001, dst.data(), 1000, 1, 1000, &err), MP_OK)
        << err.msg;
    float lo = dst[0];
    for (float v : dst)
        lo = std::min(lo, v);
    EXPECT_LT(lo, 0.9995f);
    EXPECT_GT(lo, 0.998f);
}

TEST(Resize, PlanReuseAndErrors)
{
    resize_plan_t plan;
    std::memset(&plan, 0, sizeof plan);
    resize_plan_free(&plan); // zeroed plan
    resize_plan_free(nullptr);

    mp_error err;
    mp_error_clear(&err);
    EXPECT_EQ(resize_plan_init(&plan, 0, 10, 5, 5, &err), MP_ERR_USAGE);
    EXPECT_STRNE(err.msg, "");
    EXPECT_EQ(resize_plan_init(&plan, 10, 10, 5, -1, &err), MP_ERR_USAGE);
    EXPECT_EQ(resize_plan_init(&plan, RESIZE_MAX_DIM + 1, 10, 5, 5, &err), MP_ERR_LIMIT);
    EXPECT_EQ(resize_plan_init(nullptr, 10, 10, 5, 5, &err), MP_ERR_USAGE);
    EXPECT_EQ(resize_plan_init(&plan, 10, 10, 5, 5, nullptr), MP_OK); // err may be NULL
    resize_plan_free(&plan);

    float px = 1.f;
    EXPECT_EQ(resize_area_image(nullptr, 1, 1, 1, &px, 1, 1, 1, &err), MP_ERR_USAGE);
    EXPECT_EQ(resize_area_image(&px, 2, 1, 1, &px, 1, 1, 1, &err), MP_ERR_USAGE); // stride < w

    // one plan, several slices: each must match OpenCV on its own
    ASSERT_EQ(resize_plan_init(&plan, 280, 260, 256, 256, &err), MP_OK) << err.msg;
    EXPECT_EQ(plan.tables.path, RESIZE_AREA_GENERAL);
    for (int s = 0; s < 3; s++) {
        cv::Mat src(260, 280, CV_32FC1), ref, ours(256, 256, CV_32FC1);
        fill_image(src, s, 31337u + (uint32_t)s);
        cv::resize(src, ref, cv::Size(256, 256), 0, 0, cv::INTER_AREA);
        resize_area_f32(&plan, src.ptr<float>(), src.step1(), ours.ptr<float>(), ours.step1());
        EXPECT_EQ(std::memcmp(ours.data, ref.data, 256 * 256 * sizeof(float)), 0) << "slice " << s;
    }
    resize_plan_free(&plan);
    resize_plan_free(&plan); // twice
    EXPECT_EQ(plan.storage, nullptr);
}

} // namespace
