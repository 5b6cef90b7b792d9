// test_cpu_engines.cpp - the CPU backend's fast per-slice engines against the plain code
// they replace, bit for bit:
//   - resize_crop_measure (crop + min-max + INTER_AREA + moments in one pass, src/compute/resize_engine.c)
//     against crop_value into a float image, resize_area_f32 (itself bit-exact with
//     OpenCV: test_resize.cpp) and the llrint moments (zscore_fixed/_sq), on crops that
//     take all four INTER_AREA paths, odd and degenerate sizes, upscales, and large crops;
//   - zscore_fixed_magic/_sq_magic (kernels/zscore_math.h) and resize_moments_add against
//     llrint, on every float in [0, 1.0000001] and on edge values;
//   - cpu_slice_stats (the int16-domain SSE2 pass in src/compute/slice_stats.c) against a plain
//     int32 loop on random, extreme and odd-sized uint16 and int16 slices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/batch.h"
#include "mriprep/dicom.h"
#include "mriprep/pipeline.h"
#include "mriprep/resize.h"
#include "mriprep/cpu_backend.h"
}

#include "tests/cpu_engine_slices.h" // slices, the plain reference, compare_crop

namespace {

// ---- (a) resize_crop_measure against the plain path --------------------------------------

// Named shapes: every path, widths and heights that are not multiples of 4 or 8 (the
// SSE2 tails), 1xN and Nx1, tiny and odd outputs, upscales, FAST factors other than 2x2.
const Case kCases[] = {
    {512, 512, 256, 256}, {400, 380, 256, 256}, {280, 260, 256, 256}, {200, 180, 256, 256}, {256, 256, 256, 256},
    {511, 509, 256, 256}, {257, 257, 256, 256}, {300, 200, 256, 256}, {200, 300, 256, 256}, {510, 258, 255, 129},
    {512, 512, 128, 128}, {384, 384, 128, 128}, {512, 256, 128, 128}, {500, 300, 100, 60},  {498, 3, 166, 1},
    {6, 512, 2, 128},     {256, 256, 257, 255}, {1, 1, 256, 256},     {1, 1, 1, 1},         {7, 5, 256, 256},
    {1, 400, 256, 256},   {400, 1, 256, 256},   {1, 400, 1, 200},     {400, 1, 200, 1},     {1, 300, 1, 7},
    {300, 1, 7, 1},       {13, 11, 13, 11},     {5, 500, 3, 200},     {500, 5, 200, 3},     {333, 222, 1, 1},
    {333, 222, 3, 200},   {333, 222, 255, 257}, {99, 501, 33, 167},   {3, 3, 5, 5},         {17, 9, 256, 256},
    {64, 64, 256, 256},   {130, 70, 256, 100},  {300, 80, 100, 256},  {512, 512, 171, 171}, {512, 512, 1, 512},
    {511, 512, 512, 1},   {4, 4, 1, 1},         {10, 6, 5, 3},        {10, 6, 5, 2},        {12, 12, 3, 4},
};

TEST(ResizeCropMeasure, NamedShapesOnEveryPathAndFillAreBitIdentical)
{
    Scratch sc(resize_scratch_new()); // one scratch for all: grows and is reused, as per thread
    ASSERT_TRUE(sc);
    int per_path[4] = {0, 0, 0, 0};
    uint32_t seed = 1;
    for (const Case &k : kCases) {
        for (int fill = 0; fill < NUM_FILLS; fill++)
            for (int sg = 0; sg < 2; sg++) {
                RawSlice s = make_slice(std::max(k.bh + 3, 16), std::max(k.bw + 5, 16), sg, fill, seed++);
                slice_box_t box = centred_box(s, k.bw, k.bh);
                SCOPED_TRACE(describe(s, box, k.dw, k.dh, fill));
                EXPECT_EQ(compare_crop(s, box, k.dw, k.dh, sc.get()), "");
            }
        per_path[resize_select_path(k.bw, k.bh, k.dw, k.dh)]++;
    }
    for (int p = 0; p < 4; p++) EXPECT_GE(per_path[p], 3) << resize_path_name((resize_path_t)p);
}

TEST(ResizeCropMeasure, RandomCropsAreBitIdentical)
{
    std::mt19937 rng(2024);
    Scratch sc(resize_scratch_new());
    ASSERT_TRUE(sc);
    const RawSlice slices[] = {make_slice(512, 512, false, MR, 7), make_slice(512, 512, true, MR, 8),
                               make_slice(512, 512, false, UNIFORM, 9), make_slice(512, 512, true, UNIFORM, 10),
                               make_slice(300, 700, false, TWELVE_BIT, 11)};
    const int outs[][2] = {{256, 256}, {256, 256}, {128, 128}, {100, 120}, {255, 257}, {1, 1}, {3, 200}, {64, 300}};
    int per_path[4] = {0, 0, 0, 0};
    for (int i = 0; i < 300; i++) {
        const int k = (int)(rng() % 5);
        const RawSlice &s = slices[k];
        int bw, bh;
        switch (i % 5) {
        case 0: bw = 257 + (int)(rng() % 256), bh = 257 + (int)(rng() % 256); break; // general
        case 1: bw = 1 + (int)(rng() % 255), bh = 1 + (int)(rng() % 255); break;     // linear
        case 2: bw = 2 * (1 + (int)(rng() % 256)), bh = 2 * (1 + (int)(rng() % 256)); break;
        default: bw = 1 + (int)(rng() % 512), bh = 1 + (int)(rng() % 512); break;
        }
        bw = std::min(bw, s.cols), bh = std::min(bh, s.rows);
        int dw = outs[i % 8][0], dh = outs[i % 8][1];
        if (i % 7 == 3) dw = std::max(bw / 2, 1), dh = std::max(bh / 2, 1); // FAST 2x2 when even
        if (i % 11 == 5) dw = std::max(bw / 3, 1), dh = std::max(bh / 3, 1); // FAST 3x3 when exact
        if (i % 13 == 6) dw = bw, dh = bh;                                   // COPY
        const int r0 = (int)(rng() % (s.rows - bh + 1)), c0 = (int)(rng() % (s.cols - bw + 1));
        const slice_box_t box{r0, r0 + bh - 1, c0, c0 + bw - 1};
        SCOPED_TRACE(describe(s, box, dw, dh, k == 4 ? TWELVE_BIT : k < 2 ? MR : UNIFORM));
        EXPECT_EQ(compare_crop(s, box, dw, dh, sc.get()), "");
        per_path[resize_select_path(bw, bh, dw, dh)]++;
    }
    for (int p = 0; p < 4; p++) EXPECT_GE(per_path[p], 5) << resize_path_name((resize_path_t)p);
}

// Large crops: source rows far beyond the 8-row ring (AREA_GENERAL at scales up to 32, a
// FAST band of 32 rows), and the scratch stays small where a float crop would not.
TEST(ResizeCropMeasure, LargeCropsAreBitIdenticalWithBoundedScratch)
{
    const RawSlice big = make_slice(8192, 8192, false, MR, 77);
    const Case cases[] = {
        {8192, 8192, 256, 256},  // FAST 32x32: a band of 32 rows
        {8191, 8190, 256, 256},  // GENERAL, scale ~32: 33 or 34 source rows per output row
        {8000, 3001, 256, 256},  // GENERAL, a different scale per axis
        {8192, 1500, 1000, 3},   // GENERAL, 500 source rows per output row
        {3000, 8192, 4096, 300}, // LINEAR_AREA (wider than the crop) from a tall source
        {8192, 64, 8192, 64},    // COPY of long rows
    };
    for (const Case &k : cases) {
        Scratch sc(resize_scratch_new());
        ASSERT_TRUE(sc);
        slice_box_t box = centred_box(big, k.bw, k.bh);
        SCOPED_TRACE(describe(big, box, k.dw, k.dh, MR));
        EXPECT_EQ(compare_crop(big, box, k.dw, k.dh, sc.get()), "");
        // O(bw + dst_w): a few converted and transposed rows, weights, 8 rows of sums;
        // AREA_FAST other than 2x2 also a band of ky rows. Not the bh * bw of a float crop,
        // which only the plain engine (builds without SSE2) keeps.
        if (std::strcmp(resize_crop_engine(), "plain") == 0) continue;
        const bool fast = resize_select_path(k.bw, k.bh, k.dw, k.dh) == RESIZE_AREA_FAST;
        const size_t bound = 64 * (size_t)k.bw + 128 * (size_t)k.dw + (fast ? 4 * (size_t)k.bw * (k.bh / k.dh) : 0);
        EXPECT_LE(resize_scratch_bytes(sc.get()), bound);
        EXPECT_LT(resize_scratch_bytes(sc.get()), (size_t)k.bw * k.bh * sizeof(float) / 4);
    }
}

TEST(ResizeCropMeasure, RejectsBadArguments)
{
    const RawSlice s = make_slice(40, 40, false, MR, 3);
    Scratch sc(resize_scratch_new());
    resize_plan_t plan;
    mp_error err;
    std::vector<float> out(16 * 16);
    resize_moments_t m;
    ASSERT_EQ(resize_plan_init(&plan, 20, 20, 16, 16, &err), MP_OK);
    resize_crop_t crop = {s.words.data(), s.cols, 0, slice_box_t{0, 19, 0, 20}, 0, 100}; // 21 wide
    EXPECT_EQ(resize_crop_measure(&plan, &crop, sc.get(), out.data(), &m, &err), MP_ERR_USAGE);
    crop.box.col1 = 19;
    crop.max = 0;
    EXPECT_EQ(resize_crop_measure(&plan, &crop, sc.get(), out.data(), &m, &err), MP_ERR_USAGE);
    crop.max = 100;
    EXPECT_EQ(resize_crop_measure(&plan, &crop, nullptr, out.data(), &m, &err), MP_ERR_USAGE);
    EXPECT_EQ(resize_crop_measure(&plan, &crop, sc.get(), out.data(), &m, &err), MP_OK);
    resize_plan_free(&plan);
}

// ---- (b) the llrint-free moments ---------------------------------------------------------

float from_bits(uint32_t b)
{
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

// Every float in [0, 1.0000001] (bit patterns 0 .. 0x3F800001) through the scalar helpers:
// about 1.3 s at -O3 and 1.6 s in the sanitizer build; an unoptimised build takes every 7th.
TEST(ZScoreMagic, EqualsLlrintOnEveryFloatInZeroToOne)
{
#if defined(__OPTIMIZE__)
    const uint32_t step = 1;
#else
    const uint32_t step = 7;
#endif
    const uint32_t hi = 0x3F800001u; // 1.0000001f
    uint64_t bad = 0, n = 0;
    uint32_t first_bad = 0;
    for (uint32_t b = 0; b <= hi; b += step, n++) {
        const float v = from_bits(b);
        const bool same = zscore_fixed_magic(v) == zscore_fixed(v) && zscore_fixed_sq_magic(v) == zscore_fixed_sq(v);
        if (!same && bad++ == 0) first_bad = b;
    }
    EXPECT_EQ(bad, 0u) << "first at bits 0x" << std::hex << first_bad << " of " << std::dec << n;
}

// Edge values: ties of v*2^32 at both parities, binade ends, the smallest subnormals, 1 and
// its neighbours, negatives and magnitudes up to the bound 2^9.5.
std::vector<float> edge_values()
{
    std::vector<float> v;
    for (uint32_t b = 0; b < 4096; b++) v.push_back(from_bits(b));
    for (uint32_t b = 0x3F800001u - 4096; b <= 0x3F800001u; b++) v.push_back(from_bits(b));
    for (uint32_t e = 1; e < 128; e++) {
        const uint32_t b = e << 23;
        v.push_back(from_bits(b)), v.push_back(from_bits(b - 1)), v.push_back(from_bits(b + 1));
    }
    for (uint32_t k = 0; k < 20000; k++) v.push_back((float)std::ldexp(2.0 * k + 1.0, -33)); // v*2^32 = k + 1/2
    for (uint32_t k = 1; k < 20000; k++) v.push_back((float)std::ldexp((double)k, -33));      // integers + 0
    for (int e = -40; e <= 9; e++)
        for (int d = -2; d <= 2; d++) {
            float x = (float)std::ldexp(1.0, e);
            for (int i = 0; i < std::abs(d); i++) x = std::nextafter(x, d < 0 ? 0.f : INFINITY);
            v.push_back(x), v.push_back(-x);
        }
    v.push_back(std::nextafter((float)std::ldexp(1.0, 9) * 1.41421f, 0.f));
    v.push_back(-0.f);
    return v;
}

TEST(ZScoreMagic, EqualsLlrintOnEdgeValues)
{
    for (float v : edge_values()) {
        SCOPED_TRACE(std::to_string(v));
        ASSERT_EQ(zscore_fixed_magic(v), zscore_fixed(v)) << std::hexfloat << v;
        ASSERT_EQ(zscore_fixed_sq_magic(v), zscore_fixed_sq(v)) << std::hexfloat << v;
    }
}

resize_moments_t llrint_moments(const float *v, size_t n)
{
    resize_moments_t m{0, 0, v[0], v[0]};
    for (size_t i = 0; i < n; i++) {
        m.sum_q += zscore_fixed(v[i]);
        m.sum_q2 += zscore_fixed_sq(v[i]);
        m.min = v[i] < m.min ? v[i] : m.min;
        m.max = v[i] > m.max ? v[i] : m.max;
    }
    return m;
}

void expect_same_moments(const resize_moments_t &a, const resize_moments_t &b)
{
    EXPECT_EQ(a.sum_q, b.sum_q);
    EXPECT_EQ(a.sum_q2, b.sum_q2);
    EXPECT_EQ(0, std::memcmp(&a.min, &b.min, sizeof(float)));
    EXPECT_EQ(0, std::memcmp(&a.max, &b.max, sizeof(float)));
}

// The SSE2 loop (lanes, two chains, the bias taken off once, the scalar tail), in pieces of
// every length 1..40 and of whole planes, on edge values and random [0, 1] values.
TEST(ZScoreMagic, MomentsLoopEqualsLlrintInAnySplit)
{
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> v = edge_values();
    for (size_t i = v.size(); i < 300000; i++) v.push_back(i % 3 ? u(rng) : u(rng) * u(rng) * u(rng));
    std::shuffle(v.begin(), v.end(), rng);
    const resize_moments_t want = llrint_moments(v.data(), v.size());
    resize_moments_t whole;
    resize_moments_add(&whole, v.data(), v.size(), 1);
    expect_same_moments(want, whole);
    resize_moments_t pieces;
    size_t at = 0;
    for (size_t len = 1; at < v.size(); len = len % 40 + 1) {
        const size_t n = std::min(len, v.size() - at);
        resize_moments_add(&pieces, v.data() + at, n, at == 0);
        at += n;
    }
    expect_same_moments(want, pieces);
    for (size_t n = 1; n <= 40; n++) { // short planes: the tail alone, one vector step, both
        resize_moments_t m;
        resize_moments_add(&m, v.data() + 1000, n, 1);
        SCOPED_TRACE("n = " + std::to_string(n));
        expect_same_moments(llrint_moments(v.data() + 1000, n), m);
    }
}

// ---- (c) slice statistics -------------------------------------------------------------------

struct Stats {
    int32_t min, max;
    int64_t sum;
    std::vector<int32_t> row_max, col_max;
};

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

// cpu_slice_stats leaves row_max and col_max in its scratch ([row_max | col_max]).
void expect_stats_match(RawSlice &s, const char *what)
{
    SCOPED_TRACE(std::string(what) + ", " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                 (s.is_signed ? " signed" : " unsigned"));
    pipeline_options_t opt;
    pipeline_options_default(&opt);
    std::vector<int32_t> scratch(2 * DICOM_MAX_DIM, 0x5a5a5a5a);
    slice_slot_t slot{};
    slot.buffer.pixels = s.words.data();
    slot.rows = (uint32_t)s.rows, slot.cols = (uint32_t)s.cols, slot.is_signed = s.is_signed;
    cpu_slice_stats(&opt, &slot, scratch.data());
    const Stats want = brute_stats(s);
    EXPECT_EQ(slot.min, want.min);
    EXPECT_EQ(slot.max, want.max);
    EXPECT_EQ(slot.sum, want.sum);
    EXPECT_TRUE(std::equal(want.row_max.begin(), want.row_max.end(), scratch.begin())) << "row_max";
    EXPECT_TRUE(std::equal(want.col_max.begin(), want.col_max.end(), scratch.begin() + DICOM_MAX_DIM)) << "col_max";
    slice_box_t box{};
    double mean;
    const slice_fate_t fate = slice_decide(want.min, want.max, want.sum, s.rows, s.cols, want.row_max.data(),
                                           want.col_max.data(), opt.margin, opt.dark, &box, &mean);
    EXPECT_EQ(slot.fate, fate);
    if (fate != SLICE_BLANK) {
        EXPECT_EQ(0, std::memcmp(&slot.box, &box, sizeof box));
        EXPECT_EQ(slot.mean, mean);
    }
}

TEST(SliceStats, MatchBruteForceOnRandomSlicesOfOddSizes)
{
    const int32_t sizes[][2] = {{512, 512}, {1, 1},   {7, 13},  {257, 511}, {8192, 1}, {1, 8192}, {2, 9},
                                {3, 8},     {5, 16},  {9, 17},  {16, 15},   {33, 31},  {256, 192}, {192, 256},
                                {511, 257}, {2, 8191}, {64, 8192}, {1, 7},   {3, 24},   {2, 32},   {4, 33}};
    uint32_t seed = 100;
    for (const auto &sz : sizes)
        for (int fill = 0; fill < NUM_FILLS; fill++)
            for (int sg = 0; sg < 2; sg++) {
                RawSlice s = make_slice(sz[0], sz[1], sg, fill, seed++);
                expect_stats_match(s, fill_name(fill));
            }
}

// The int16 domain's corners: constant slices at every extreme word (the sums' lane bounds at
// the widest rows), and single extreme pixels at the positions each loop part handles.
TEST(SliceStats, MatchBruteForceAtTheExtremes)
{
    const uint16_t words[] = {0x0000, 0xFFFF, 0x8000, 0x7FFF, 0x0001, 0x8001};
    for (uint16_t w : words)
        for (int sg = 0; sg < 2; sg++)
            for (const auto &sz : {std::make_pair(64, 8192), std::make_pair(33, 8191), std::make_pair(3, 17)}) {
                RawSlice s;
                s.rows = sz.first, s.cols = sz.second, s.is_signed = sg;
                s.words.assign((size_t)s.rows * s.cols, w);
                expect_stats_match(s, ("constant " + std::to_string(w)).c_str());
            }
    std::mt19937 rng(9);
    for (int sg = 0; sg < 2; sg++)
        for (int32_t cols : {45, 16, 24, 8, 7, 1}) {
            const int32_t rows = 37;
            for (int32_t pos : {0, cols - 1, cols / 2, (rows - 1) * cols, rows * cols - 1, rows * cols - 2,
                                (rows / 2) * cols + cols / 2}) {
                if (pos < 0 || pos >= rows * cols) continue;
                for (uint16_t w : {(uint16_t)0x0000, (uint16_t)0xFFFF, (uint16_t)0x8000, (uint16_t)0x7FFF}) {
                    RawSlice s = make_slice(rows, cols, sg, MR, (uint32_t)rng());
                    s.words[(size_t)pos] = w;
                    expect_stats_match(s, ("word " + std::to_string(w) + " at " + std::to_string(pos)).c_str());
                }
            }
        }
}

} // namespace
