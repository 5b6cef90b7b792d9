// test_cpu_simd.cpp - the CPU engines' runtime dispatch (cpu_simd_*, include/mriprep/cpu_backend.h):
// every build of the engines this CPU runs - portable, SSE2, AVX2 - forced in turn with
// cpu_simd_force, gives the same bytes as the plain code:
//   - cpu_slice_stats (src/compute/slice_stats.c: slice_stats_v2 / v5 / v6) against a plain
//     int32 loop: min, max, the exact sum, every row and column maximum, the decision;
//   - resize_crop_measure (src/compute/resize_engine.c: the plain path, the 4-row SSE2
//     engine, the 8-row AVX2 engine) against crop_value + resize_area_f32 + the llrint
//     moments: the float plane with memcmp, the int64 moments exactly, min/max bits;
//   - resize_moments_add (moments_v6_sse2 / moments_v7_avx2 / llrint) in any split;
//   - tile_gather (src/compute/tile_gather.c: plain, 4x4 SSE2, 8x8 AVX2 transposes)
//     against its definition.
// Inputs are the kernel lab's kinds (bench/lab): random full-range signed and unsigned
// slices, odd sizes (1x1, 7x13, 257x511, 8192x1, 1x8192, ...), constant slices at the int16
// extremes; crops on all four INTER_AREA paths, integer and fractional shrinks, enlarges,
// crops one pixel wide, several output sizes, rows beyond the 16-row ring, widths beyond
// the 8-row engine's 256-column strip. An engine this CPU (or build) lacks is skipped,
// saying so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/batch.h"
#include "mriprep/cpu_backend.h"
#include "mriprep/dicom.h"
#include "mriprep/pipeline.h"
#include "mriprep/resize.h"
}

#include "tests/cpu_engine_slices.h" // slices, the plain reference, compare_crop

namespace {

// ---- engines ---------------------------------------------------------------------------

const cpu_simd_t kEngines[] = {CPU_SIMD_NONE, CPU_SIMD_SSE2, CPU_SIMD_AVX2};

std::string engine_name(cpu_simd_t e)
{
    return cpu_simd_name(e);
}

// Whether /proc/cpuinfo lists avx2 (Linux on x86; false elsewhere).
[[maybe_unused]] bool cpuinfo_has_avx2()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("flags", 0) == 0) return line.find(" avx2") != std::string::npos;
    return false;
}

// Forces one engine for a test and puts back the one in use before it.
class Engine : public ::testing::TestWithParam<cpu_simd_t> {
protected:
    void SetUp() override
    {
        before_ = cpu_simd_engine();
        const cpu_simd_t want = GetParam();
        if (cpu_simd_force(want) != want) {
            cpu_simd_force(before_);
            if (cpu_simd_best() == CPU_SIMD_NONE)
                GTEST_SKIP() << "built with SIMD=0 (or not for x86): only the portable loops, no " << engine_name(want);
            GTEST_SKIP() << "this CPU has no AVX2 (/proc/cpuinfo): the AVX2 engines cannot run here";
        }
    }
    void TearDown() override { cpu_simd_force(before_); }

private:
    cpu_simd_t before_ = CPU_SIMD_NONE;
};

// ---- slice statistics ------------------------------------------------------------------

struct Stats {
    int32_t min, max;
    int64_t sum;
    std::vector<int32_t> row_max, col_max;
};

// The plain int32 loop (the lab's stats_v1).
Stats brute_stats(const RawSlice &s)
{
    Stats st{INT32_MAX, INT32_MIN, 0, std::vector<int32_t>(s.rows, INT32_MIN), std::vector<int32_t>(s.cols, INT32_MIN)};
    for (int32_t r = 0; r < s.rows; r++)
        for (int32_t c = 0; c < s.cols; c++) {
            const int32_t x = slice_stored_value(s.words[(size_t)r * s.cols + c], s.is_signed);
            st.min = std::min(st.min, x), st.max = std::max(st.max, x), st.sum += x;
            st.row_max[r] = std::max(st.row_max[r], x), st.col_max[c] = std::max(st.col_max[c], x);
        }
    return st;
}

// cpu_slice_stats on `s` with the engine in use, against brute_stats; "" when identical.
std::string compare_stats(RawSlice &s)
{
    pipeline_options_t opt;
    pipeline_options_default(&opt);
    std::vector<int32_t> scratch(2 * DICOM_MAX_DIM, 0x5a5a5a5a);
    slice_slot_t slot{};
    slot.buffer.pixels = s.words.data();
    slot.rows = (uint32_t)s.rows, slot.cols = (uint32_t)s.cols, slot.is_signed = s.is_signed;
    cpu_slice_stats(&opt, &slot, scratch.data());
    const Stats want = brute_stats(s);
    if (slot.min != want.min || slot.max != want.max)
        return "min/max " + std::to_string(slot.min) + "/" + std::to_string(slot.max) + ", want " +
               std::to_string(want.min) + "/" + std::to_string(want.max);
    if (slot.sum != want.sum) return "sum " + std::to_string(slot.sum) + ", want " + std::to_string(want.sum);
    for (int32_t r = 0; r < s.rows; r++)
        if (scratch[(size_t)r] != want.row_max[r]) return "row_max[" + std::to_string(r) + "]";
    for (int32_t c = 0; c < s.cols; c++)
        if (scratch[(size_t)DICOM_MAX_DIM + c] != want.col_max[c]) return "col_max[" + std::to_string(c) + "]";
    slice_box_t box{};
    double mean = 0;
    const slice_fate_t fate = slice_decide(want.min, want.max, want.sum, s.rows, s.cols, want.row_max.data(),
                                           want.col_max.data(), opt.margin, opt.dark, &box, &mean);
    if (slot.fate != fate) return "fate";
    if (fate != SLICE_BLANK && (std::memcmp(&slot.box, &box, sizeof box) != 0 || slot.mean != mean))
        return "box or mean";
    return "";
}

std::string slice_label(const RawSlice &s, const std::string &what)
{
    return what + ", " + std::to_string(s.rows) + "x" + std::to_string(s.cols) + (s.is_signed ? " signed" : " unsigned");
}

using SliceStatsEngine = Engine;

// Sizes around every vector width (8, 16 columns; 2 rows per pass; odd row counts), the
// lab's odd sizes, and the widest and tallest slices the decoder takes.
TEST_P(SliceStatsEngine, RandomSlicesOfOddSizesMatchThePlainLoop)
{
    const int32_t sizes[][2] = {{1, 1},    {7, 13},   {257, 511}, {8192, 1}, {1, 8192}, {512, 512}, {2, 15},
                                {2, 16},   {2, 17},   {3, 31},    {3, 32},   {3, 33},   {5, 47},    {4, 48},
                                {9, 8},    {1, 7},    {1, 16},    {1, 17},   {33, 8191}, {64, 8192}, {511, 257},
                                {256, 192}, {192, 256}, {2, 8191}};
    uint32_t seed = 1;
    int n = 0;
    for (const auto &sz : sizes)
        for (int fill = 0; fill < NUM_FILLS; fill++)
            for (int sg = 0; sg < 2; sg++) {
                RawSlice s = make_slice(sz[0], sz[1], sg, fill, seed++);
                SCOPED_TRACE(slice_label(s, fill_name(fill)));
                EXPECT_EQ(compare_stats(s), "");
                n++;
            }
    EXPECT_EQ(n, 24 * NUM_FILLS * 2);
}

// Constant slices at the int16 extremes, as wide and tall as the decoder allows: the sum
// lanes' bounds (the most a lane adds up) and the biased min/max at both ends.
TEST_P(SliceStatsEngine, ConstantSlicesAtTheExtremesMatchThePlainLoop)
{
    const uint16_t words[] = {0x0000, 0xFFFF, 0x8000, 0x7FFF, 0x0001, 0x8001};
    const int32_t sizes[][2] = {{64, 8192}, {33, 8191}, {8192, 1}, {1, 8192}, {3, 17}, {1, 1}, {8192, 64}};
    for (uint16_t w : words)
        for (int sg = 0; sg < 2; sg++)
            for (const auto &sz : sizes) {
                RawSlice s = constant_slice(sz[0], sz[1], sg, w);
                SCOPED_TRACE(slice_label(s, "constant " + std::to_string(w)));
                EXPECT_EQ(compare_stats(s), "");
            }
}

// One extreme pixel in a random slice, at the positions each part of each loop handles
// (first and last column of a vector, of the 16-column loop, of the scalar tail; first,
// last and odd last row).
TEST_P(SliceStatsEngine, SingleExtremePixelsMatchThePlainLoop)
{
    std::mt19937 rng(9);
    for (int sg = 0; sg < 2; sg++)
        for (int32_t cols : {45, 16, 32, 24, 8, 7, 1, 33}) {
            const int32_t rows = 37;
            for (int32_t pos : {0, cols - 1, cols / 2, 15, 16, 31, (rows - 1) * cols, rows * cols - 1,
                                rows * cols - 2, (rows / 2) * cols + cols / 2}) {
                if (pos < 0 || pos >= rows * cols) continue;
                for (uint16_t w : {(uint16_t)0x0000, (uint16_t)0xFFFF, (uint16_t)0x8000, (uint16_t)0x7FFF}) {
                    RawSlice s = make_slice(rows, cols, sg, MR, (uint32_t)rng());
                    s.words[(size_t)pos] = w;
                    SCOPED_TRACE(slice_label(s, "word " + std::to_string(w) + " at " + std::to_string(pos)));
                    EXPECT_EQ(compare_stats(s), "");
                }
            }
        }
}

INSTANTIATE_TEST_SUITE_P(Engines, SliceStatsEngine, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<cpu_simd_t> &p) { return engine_name(p.param); });

// Crop w x h -> output w x h (width first), by what they exercise.
const Case kCases[] = {
    // AREA_FAST, integer shrinks: 2x2 (the SSE2 columns and the scalar rest), 3x3, 4x2, 8x8
    {512, 512, 256, 256}, {510, 258, 255, 129}, {384, 384, 128, 128}, {512, 256, 128, 128}, {512, 512, 64, 64},
    {4, 4, 1, 1}, {12, 12, 3, 4}, {6, 512, 2, 128}, {498, 3, 166, 1},
    // AREA_GENERAL, fractional shrinks: odd widths around the 8-row strip (256) and vector
    // widths, scales from ~1.01 to ~500
    {400, 380, 256, 256}, {280, 260, 256, 256}, {511, 509, 256, 256}, {257, 257, 256, 256}, {777, 300, 256, 256},
    {513, 515, 255, 257}, {333, 222, 3, 200}, {333, 222, 1, 1}, {99, 501, 33, 167}, {500, 300, 100, 60},
    {5, 500, 3, 200}, {500, 5, 200, 3}, {512, 512, 171, 171}, {10, 6, 5, 3}, {1000, 1500, 3, 1000},
    // LINEAR_AREA, enlarges (either axis): tiny sources, one-pixel-wide crops, odd outputs
    {200, 180, 256, 256}, {7, 5, 256, 256}, {1, 1, 256, 256}, {3, 3, 5, 5}, {17, 9, 256, 256}, {64, 64, 256, 256},
    {130, 70, 256, 100}, {300, 80, 100, 256}, {256, 256, 257, 255}, {333, 222, 255, 257}, {10, 6, 5, 2},
    {1, 400, 256, 256}, {400, 1, 256, 256}, {9, 300, 300, 64},
    // COPY, and one-pixel-wide crops on the other paths
    {256, 256, 256, 256}, {13, 11, 13, 11}, {1, 1, 1, 1}, {1, 400, 1, 200}, {400, 1, 200, 1}, {1, 300, 1, 7},
    {300, 1, 7, 1}, {1, 257, 1, 257}, {777, 3, 777, 3}, {511, 512, 512, 1}, {512, 512, 1, 512},
};

using ResizeEngine = Engine;

TEST_P(ResizeEngine, NamedCropsOnEveryPathAreBitIdentical)
{
    Scratch sc(resize_scratch_new()); // one scratch for all: grows and is reused, as per thread
    ASSERT_TRUE(sc);
    int per_path[4] = {0, 0, 0, 0};
    uint32_t seed = 11;
    for (const Case &k : kCases) {
        for (int fill = 0; fill < NUM_FILLS; fill++)
            for (int sg = 0; sg < 2; sg++) {
                RawSlice s = make_slice(std::max(k.bh + 3, 16), std::max(k.bw + 5, 16), sg, fill, seed++);
                const slice_box_t box = centred_box(s, k.bw, k.bh);
                SCOPED_TRACE(describe(s, box, k.dw, k.dh, fill));
                EXPECT_EQ(compare_crop(s, box, k.dw, k.dh, sc.get()), "");
            }
        per_path[resize_select_path(k.bw, k.bh, k.dw, k.dh)]++;
    }
    for (int p = 0; p < 4; p++) EXPECT_GE(per_path[p], 5) << resize_path_name((resize_path_t)p);
}

TEST_P(ResizeEngine, RandomCropsAreBitIdentical)
{
    std::mt19937 rng(77);
    Scratch sc(resize_scratch_new());
    ASSERT_TRUE(sc);
    const RawSlice slices[] = {make_slice(600, 520, false, UNIFORM, 1), make_slice(520, 600, true, UNIFORM, 2),
                               make_slice(512, 512, false, MR, 3), make_slice(512, 512, true, MR, 4),
                               make_slice(300, 700, true, TWELVE_BIT, 5)};
    const int fills[] = {UNIFORM, UNIFORM, MR, MR, TWELVE_BIT};
    const int outs[][2] = {{256, 256}, {256, 256}, {128, 128}, {100, 120}, {255, 257}, {1, 1}, {3, 200}, {64, 300}};
    int per_path[4] = {0, 0, 0, 0};
    for (int i = 0; i < 200; i++) {
        const int k = (int)(rng() % 5);
        const RawSlice &s = slices[k];
        int bw, bh;
        switch (i % 4) {
        case 0: bw = 257 + (int)(rng() % 256), bh = 257 + (int)(rng() % 256); break;
        case 1: bw = 1 + (int)(rng() % 255), bh = 1 + (int)(rng() % 255); break;
        case 2: bw = 2 * (1 + (int)(rng() % 150)), bh = 2 * (1 + (int)(rng() % 150)); break;
        default: bw = 1 + (int)(rng() % 520), bh = 1 + (int)(rng() % 520); break;
        }
        bw = std::min(bw, s.cols), bh = std::min(bh, s.rows);
        int dw = outs[i % 8][0], dh = outs[i % 8][1];
        if (i % 7 == 3) dw = std::max(bw / 2, 1), dh = std::max(bh / 2, 1);  // FAST 2x2 when even
        if (i % 11 == 5) dw = std::max(bw / 3, 1), dh = std::max(bh / 3, 1); // FAST 3x3 when exact
        if (i % 13 == 6) dw = bw, dh = bh;                                    // COPY
        const int r0 = (int)(rng() % (s.rows - bh + 1)), c0 = (int)(rng() % (s.cols - bw + 1));
        const slice_box_t box{r0, r0 + bh - 1, c0, c0 + bw - 1};
        SCOPED_TRACE(describe(s, box, dw, dh, fills[k]));
        EXPECT_EQ(compare_crop(s, box, dw, dh, sc.get()), "");
        per_path[resize_select_path(bw, bh, dw, dh)]++;
    }
    for (int p = 0; p < 4; p++) EXPECT_GE(per_path[p], 5) << resize_path_name((resize_path_t)p);
}

// Source rows far beyond either ring (8 or 16 rows of sums), widths of many 256-column
// strips, and a bounded scratch: O(bw + dst_w), not the bh * bw floats of a float crop
// (which only the plain path keeps).
TEST_P(ResizeEngine, LargeCropsAreBitIdenticalWithBoundedScratch)
{
    const RawSlice big = make_slice(4100, 4100, false, UNIFORM, 99);
    const Case cases[] = {
        {4096, 4096, 256, 256}, // FAST 16x16: a band of 16 rows
        {4095, 4093, 256, 256}, // GENERAL, scale ~16
        {4000, 1501, 255, 257}, // GENERAL, a different scale per axis
        {4096, 1500, 1000, 3},  // GENERAL, 500 source rows per output row
        {1500, 4096, 3000, 300}, // LINEAR_AREA (wider than the crop) from a tall source
        {4096, 40, 4096, 40},   // COPY of long rows
    };
    for (const Case &k : cases) {
        Scratch sc(resize_scratch_new());
        ASSERT_TRUE(sc);
        const slice_box_t box = centred_box(big, k.bw, k.bh);
        SCOPED_TRACE(describe(big, box, k.dw, k.dh, UNIFORM));
        EXPECT_EQ(compare_crop(big, box, k.dw, k.dh, sc.get()), "");
        if (GetParam() == CPU_SIMD_NONE) continue;
        const bool fast = resize_select_path(k.bw, k.bh, k.dw, k.dh) == RESIZE_AREA_FAST;
        const size_t bound = 64 * (size_t)k.bw + 128 * (size_t)k.dw + (fast ? 4 * (size_t)k.bw * (k.bh / k.dh) : 0);
        EXPECT_LE(resize_scratch_bytes(sc.get()), bound);
        EXPECT_LT(resize_scratch_bytes(sc.get()), (size_t)k.bw * k.bh * sizeof(float) / 4);
    }
}

// The moments loop alone, in pieces of every length 1..40 (each engine's vector steps and
// scalar tail) and as a whole plane, against llrint.
TEST_P(ResizeEngine, MomentsInAnySplitEqualLlrint)
{
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> v;
    for (uint32_t b = 0; b < 2048; b++) { // the smallest floats, then 1 and its neighbours
        float x;
        std::memcpy(&x, &b, sizeof x);
        v.push_back(x);
    }
    for (uint32_t b = 0x3F800001u - 2048; b <= 0x3F800001u; b++) {
        float x;
        std::memcpy(&x, &b, sizeof x);
        v.push_back(x);
    }
    for (uint32_t k = 0; k < 5000; k++) v.push_back((float)std::ldexp(2.0 * k + 1.0, -33)); // ties of v * 2^32
    for (size_t i = v.size(); i < 200000; i++) v.push_back(i % 3 ? u(rng) : u(rng) * u(rng) * u(rng));
    std::shuffle(v.begin(), v.end(), rng);
    resize_moments_t want{0, 0, v[0], v[0]};
    for (float x : v) {
        want.sum_q += zscore_fixed(x);
        want.sum_q2 += zscore_fixed_sq(x);
        want.min = x < want.min ? x : want.min;
        want.max = x > want.max ? x : want.max;
    }
    resize_moments_t whole, pieces;
    resize_moments_add(&whole, v.data(), v.size(), 1);
    size_t at = 0;
    for (size_t len = 1; at < v.size(); len = len % 40 + 1) {
        const size_t n = std::min(len, v.size() - at);
        resize_moments_add(&pieces, v.data() + at, n, at == 0);
        at += n;
    }
    for (const resize_moments_t &got : {whole, pieces}) {
        EXPECT_EQ(got.sum_q, want.sum_q);
        EXPECT_EQ(got.sum_q2, want.sum_q2);
        EXPECT_EQ(0, std::memcmp(&got.min, &want.min, sizeof(float)));
        EXPECT_EQ(0, std::memcmp(&got.max, &want.max, sizeof(float)));
    }
}

TEST_P(ResizeEngine, NamesTheEngineInUse)
{
    const char *want = GetParam() == CPU_SIMD_NONE ? "plain" : cpu_simd_name(GetParam());
    EXPECT_STREQ(resize_crop_engine(), want);
    EXPECT_EQ(cpu_simd_engine(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Engines, ResizeEngine, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<cpu_simd_t> &p) { return engine_name(p.param); });

// ---- the mapped store's gather (tile_gather) ----------------------------------------------

class TileGatherEngine : public Engine {};

// tile_gather on every engine against its definition, tile[j * stride + k] = src[j + k *
// k_step], over sizes on and off the 4- and 8-wide blocks (1 to 67 lines, 1 to 70 rows),
// line steps a row or a plane apart and reversed, a tile wider than its rows; each source
// float distinct (index bits), each tile element outside the written part left alone.
TEST_P(TileGatherEngine, IsTheTransposeItsDefinitionGives)
{
    std::mt19937 rng(11);
    int checked = 0;
    for (size_t n : {1, 3, 4, 7, 8, 9, 16, 40, 67})
        for (size_t rows : {1, 2, 5, 8, 13, 16, 64, 70})
            for (int reversed = 0; reversed < 2; reversed++) {
                const size_t step = rows + (size_t)(rng() % 300); /* a line is at least `rows` long */
                const size_t stride = n + (size_t)(rng() % 5);
                std::vector<float> src(n * step + 8);
                for (size_t i = 0; i < src.size(); i++) src[i] = (float)i + 0.5f;
                const float *first = reversed ? src.data() + (n - 1) * step : src.data();
                const ptrdiff_t k_step = reversed ? -(ptrdiff_t)step : (ptrdiff_t)step;
                std::vector<float> tile(rows * stride, -1.0f), want(rows * stride, -1.0f);
                for (size_t j = 0; j < rows; j++)
                    for (size_t k = 0; k < n; k++) want[j * stride + k] = first[(ptrdiff_t)j + (ptrdiff_t)k * k_step];
                tile_gather(first, k_step, n, rows, tile.data(), stride);
                SCOPED_TRACE("n " + std::to_string(n) + ", rows " + std::to_string(rows) + ", step " +
                             std::to_string(k_step) + ", stride " + std::to_string(stride));
                ASSERT_EQ(0, std::memcmp(tile.data(), want.data(), tile.size() * sizeof(float)));
                checked++;
            }
    EXPECT_EQ(checked, 9 * 8 * 2);
}

INSTANTIATE_TEST_SUITE_P(Engines, TileGatherEngine, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<cpu_simd_t> &p) { return engine_name(p.param); });

// ---- the dispatch itself -------------------------------------------------------------------

TEST(CpuSimd, ParsesTheNamesOfMRIPREP_SIMD)
{
    cpu_simd_t e = CPU_SIMD_SSE2;
    EXPECT_TRUE(cpu_simd_parse("none", &e));
    EXPECT_EQ(e, CPU_SIMD_NONE);
    EXPECT_TRUE(cpu_simd_parse("SSE2", &e));
    EXPECT_EQ(e, CPU_SIMD_SSE2);
    EXPECT_TRUE(cpu_simd_parse("Avx2", &e));
    EXPECT_EQ(e, CPU_SIMD_AVX2);
    for (const char *bad : {"", "avx", "avx512", "sse", "sse2 ", "1", "plain"}) {
        e = CPU_SIMD_SSE2;
        EXPECT_FALSE(cpu_simd_parse(bad, &e)) << bad;
        EXPECT_EQ(e, CPU_SIMD_SSE2) << bad;
    }
    EXPECT_FALSE(cpu_simd_parse(nullptr, &e));
    for (cpu_simd_t k : kEngines) {
        EXPECT_TRUE(cpu_simd_parse(cpu_simd_name(k), &e));
        EXPECT_EQ(e, k);
    }
}

// Forcing never goes past what the CPU and build have; the best is AVX2 exactly where
// /proc/cpuinfo lists it (in a build with SSE2 engines).
TEST(CpuSimd, ForceLowersToTheBestAvailable)
{
    const cpu_simd_t before = cpu_simd_engine(), best = cpu_simd_best();
    for (cpu_simd_t k : kEngines) {
        const cpu_simd_t got = cpu_simd_force(k);
        EXPECT_EQ(got, std::min(k, best));
        EXPECT_EQ(cpu_simd_engine(), got);
    }
    cpu_simd_force(before);
    EXPECT_EQ(cpu_simd_engine(), before);
#if defined(MRIPREP_NO_SIMD) || !(defined(__x86_64__) || defined(__i386__))
    EXPECT_EQ(best, CPU_SIMD_NONE);
#else
    EXPECT_EQ(best == CPU_SIMD_AVX2, cpuinfo_has_avx2());
    EXPECT_GE(best, CPU_SIMD_SSE2);
#endif
}

// The same scratch through every engine in turn, slice after slice (the engines share its
// row, ring and column buffers): each slice still the reference's bytes.
TEST(CpuSimd, EnginesTakingTurnsOnOneScratchAreBitIdentical)
{
    const cpu_simd_t before = cpu_simd_engine();
    Scratch sc(resize_scratch_new());
    ASSERT_TRUE(sc);
    const RawSlice s = make_slice(520, 530, true, UNIFORM, 123);
    const Case cases[] = {{511, 509, 256, 256}, {200, 180, 256, 256}, {512, 512, 256, 256}, {30, 500, 256, 256},
                          {400, 380, 256, 256}, {511, 7, 100, 300}};
    int turn = 0;
    for (int round = 0; round < 3; round++)
        for (const Case &k : cases)
            for (cpu_simd_t e : kEngines) {
                const cpu_simd_t used = cpu_simd_force(e);
                const slice_box_t box = centred_box(s, k.bw, k.bh);
                SCOPED_TRACE(describe(s, box, k.dw, k.dh, UNIFORM) + " as " + cpu_simd_name(used) + ", turn " +
                             std::to_string(turn++));
                EXPECT_EQ(compare_crop(s, box, k.dw, k.dh, sc.get()), "");
            }
    cpu_simd_force(before);
}

} // namespace
