// test_kernels.cpp - the per-element math shared by the CPU and CUDA backends
// (kernels/*.h), against independent references: brute force written out plainly here,
// long double moments, and numpy's float16 conversion (tests/oracle/make_numeric_oracle.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "kernels/half.h"
#include "kernels/slice_math.h"
#include "kernels/volume_math.h"
#include "kernels/zscore_math.h"
}

namespace {

std::string oracle_dir()
{
    const char *dir = std::getenv("MRIPREP_NUMERIC_ORACLE_DIR");
    return dir ? dir : "build/oracle/numeric";
}

// A slice as the decoder leaves it, with the reference answers computed the slow way:
// v as numpy computes it in float32, the box of v > 0, the mean of the cropped v.
struct Slice {
    int rows, cols;
    bool is_signed;
    std::vector<uint16_t> words;
    int32_t value(int r, int c) const { return slice_stored_value(words[(size_t)r * cols + c], is_signed); }
};

struct Brute {
    bool blank;
    int r0, r1, c0, c1;
    double mean;
};

Brute brute_force(const Slice &s, int margin)
{
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (int r = 0; r < s.rows; r++)
        for (int c = 0; c < s.cols; c++) {
            mn = std::min(mn, s.value(r, c));
            mx = std::max(mx, s.value(r, c));
        }
    Brute b{};
    if (mx == mn) {
        b.blank = true;
        return b;
    }
    float range = (float)mx - (float)mn;
    std::vector<float> v((size_t)s.rows * s.cols);
    b.r0 = s.rows, b.r1 = -1, b.c0 = s.cols, b.c1 = -1;
    for (int r = 0; r < s.rows; r++)
        for (int c = 0; c < s.cols; c++) {
            float x = ((float)s.value(r, c) - (float)mn) / range;
            v[(size_t)r * s.cols + c] = x;
            if (x > 0) b.r0 = std::min(b.r0, r), b.r1 = std::max(b.r1, r), b.c0 = std::min(b.c0, c), b.c1 = std::max(b.c1, c);
        }
    b.r0 = std::max(0, b.r0 - margin), b.c0 = std::max(0, b.c0 - margin);
    b.r1 = std::min(s.rows - 1, b.r1 + margin), b.c1 = std::min(s.cols - 1, b.c1 + margin);
    long double sum = 0;
    for (int r = b.r0; r <= b.r1; r++)
        for (int c = b.c0; c <= b.c1; c++) sum += v[(size_t)r * s.cols + c];
    b.mean = (double)(sum / ((long double)(b.r1 - b.r0 + 1) * (b.c1 - b.c0 + 1)));
    return b;
}

// The one-pass statistics the backends compute, written out plainly.
slice_fate_t decide(const Slice &s, int margin, double dark, slice_box_t *box, double *mean)
{
    std::vector<int32_t> row_max(s.rows, INT32_MIN), col_max(s.cols, INT32_MIN);
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    int64_t sum = 0;
    for (int r = 0; r < s.rows; r++)
        for (int c = 0; c < s.cols; c++) {
            int32_t x = s.value(r, c);
            mn = std::min(mn, x), mx = std::max(mx, x), sum += x;
            row_max[r] = std::max(row_max[r], x), col_max[c] = std::max(col_max[c], x);
        }
    return slice_decide(mn, mx, sum, s.rows, s.cols, row_max.data(), col_max.data(), margin, dark, box, mean);
}

Slice random_slice(std::mt19937 &rng, bool is_signed)
{
    Slice s;
    s.rows = 1 + (int)(rng() % 40);
    s.cols = 1 + (int)(rng() % 40);
    s.is_signed = is_signed;
    s.words.assign((size_t)s.rows * s.cols, is_signed ? (uint16_t)(int16_t)-7 : 3);  // background = min
    // A blob somewhere, sometimes with values below the background (signed series).
    int r0 = (int)(rng() % s.rows), c0 = (int)(rng() % s.cols);
    int h = 1 + (int)(rng() % (s.rows - r0)), w = 1 + (int)(rng() % (s.cols - c0));
    int kind = (int)(rng() % 4);
    for (int r = r0; r < r0 + h; r++)
        for (int c = c0; c < c0 + w; c++) {
            if (kind == 0) continue;  // stays blank
            // kind 1: only the blob's corners lit, so large blobs make dark slices
            bool corner = (r == r0 || r == r0 + h - 1) && (c == c0 || c == c0 + w - 1);
            if (kind == 1 && !corner) continue;
            int32_t v = (int32_t)(rng() % 4000) + 10;
            if (is_signed) v -= 100;
            s.words[(size_t)r * s.cols + c] = (uint16_t)(is_signed ? (uint16_t)(int16_t)v : (uint16_t)v);
        }
    return s;
}

TEST(SliceMath, StoredValueReadsSignedAndUnsignedWords)
{
    EXPECT_EQ(slice_stored_value(0xFFFF, 1), -1);
    EXPECT_EQ(slice_stored_value(0xFFFF, 0), 65535);
    EXPECT_EQ(slice_stored_value(0x8000, 1), -32768);
    EXPECT_EQ(slice_stored_value(0x7FFF, 1), 32767);
}

TEST(SliceMath, MinMaxValueIsNumpysFloat32Expression)
{
    // numpy: (x - mn) / (mx - mn) on float32; both differences are exact for 16-bit data.
    EXPECT_EQ(slice_minmax_value(5, 2, 7.0f), 3.0f / 7.0f);
    EXPECT_EQ(slice_minmax_value(-32768, -32768, 65535.0f), 0.0f);
    EXPECT_EQ(slice_minmax_value(32767, -32768, 65535.0f), 1.0f);
}

TEST(SliceMath, DecisionsMatchBruteForceOnRandomSlices)
{
    std::mt19937 rng(7);
    int kept = 0, dark = 0, blank = 0;
    for (int i = 0; i < 3000; i++) {
        Slice s = random_slice(rng, i % 2 == 1);
        int margin = (int)(rng() % 4);
        Brute b = brute_force(s, margin);
        slice_box_t box;
        double mean = -1;
        slice_fate_t fate = decide(s, margin, 0.01, &box, &mean);
        SCOPED_TRACE("slice " + std::to_string(i) + " " + std::to_string(s.rows) + "x" + std::to_string(s.cols));
        if (b.blank) {
            EXPECT_EQ(fate, SLICE_BLANK);
            blank++;
            continue;
        }
        ASSERT_NE(fate, SLICE_BLANK);
        EXPECT_EQ(box.row0, b.r0);
        EXPECT_EQ(box.row1, b.r1);
        EXPECT_EQ(box.col0, b.c0);
        EXPECT_EQ(box.col1, b.c1);
        // Exact rational mean vs the mean of rounded float32 v: float rounding only.
        EXPECT_NEAR(mean, b.mean, 1e-6 * b.mean + 1e-12);
        if (std::fabs(b.mean - 0.01) > 1e-6) {
            EXPECT_EQ(fate, b.mean < 0.01 ? SLICE_DARK : SLICE_KEPT);
        }
        (fate == SLICE_DARK ? dark : kept)++;
    }
    // The random slices must exercise every outcome, or this test proves little.
    EXPECT_GT(kept, 100);
    EXPECT_GT(dark, 20);
    EXPECT_GT(blank, 100);
}

TEST(SliceMath, ConstantSliceIsBlankEvenIfNonzero)
{
    Slice s{4, 5, false, std::vector<uint16_t>(20, 1234)};
    slice_box_t box;
    double mean;
    EXPECT_EQ(decide(s, 0, 0.01, &box, &mean), SLICE_BLANK);
    EXPECT_EQ(mean, 0.0);
}

TEST(SliceMath, MarginWidensTheBoxAndIsClipped)
{
    Slice s{10, 10, false, std::vector<uint16_t>(100, 0)};
    s.words[3 * 10 + 4] = 100;  // one bright pixel at row 3, col 4
    slice_box_t box;
    double mean;
    ASSERT_EQ(decide(s, 2, 0.0, &box, &mean), SLICE_KEPT);
    EXPECT_EQ(box.row0, 1);
    EXPECT_EQ(box.row1, 5);
    EXPECT_EQ(box.col0, 2);
    EXPECT_EQ(box.col1, 6);
    EXPECT_DOUBLE_EQ(mean, 1.0 / 25.0);  // the margin's zeros count in the mean
    ASSERT_EQ(decide(s, 50, 0.0, &box, &mean), SLICE_KEPT);
    EXPECT_EQ(box.row0, 0);
    EXPECT_EQ(box.row1, 9);
    EXPECT_EQ(box.col0, 0);
    EXPECT_EQ(box.col1, 9);
}

TEST(SliceMath, DarkThresholdIsStrictlyBelow)
{
    Slice s{10, 10, false, std::vector<uint16_t>(100, 0)};
    s.words[0] = 1;  // box 1x1, mean exactly 1
    slice_box_t box;
    double mean;
    EXPECT_EQ(decide(s, 0, 1.0, &box, &mean), SLICE_KEPT);  // mean == threshold is kept
    EXPECT_EQ(decide(s, 1, 0.26, &box, &mean), SLICE_DARK);  // 2x2 box: 0.25 < 0.26
}

TEST(SliceMath, MiddleSelectionKeepsTheCentredK)
{
    int32_t depth;
    EXPECT_EQ(slice_middle_start(10, 4, &depth), 3);
    EXPECT_EQ(depth, 4);
    EXPECT_EQ(slice_middle_start(11, 4, &depth), 3);  // (11-4)/2 = 3: the extra slice goes to the end
    EXPECT_EQ(slice_middle_start(4, 4, &depth), 0);
    EXPECT_EQ(depth, 4);
    EXPECT_EQ(slice_middle_start(3, 128, &depth), 0);
    EXPECT_EQ(depth, 3);
    EXPECT_EQ(slice_middle_start(400, 128, &depth), 136);
    EXPECT_EQ(depth, 128);
}

TEST(ZScore, FixedPointMomentsMatchLongDoubleTwoPass)
{
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (size_t n : {1u, 7u, 1000u, 256u * 256u * 3u}) {
        std::vector<float> v(n);
        for (auto &x : v) x = u(rng) * u(rng);  // skewed, like brain intensities
        int64_t sq = 0, sq2 = 0;
        long double sum = 0;
        for (float x : v) sq += zscore_fixed(x), sq2 += zscore_fixed_sq(x), sum += x;
        long double mean = sum / n, ss = 0;
        for (float x : v) ss += ((long double)x - mean) * ((long double)x - mean);
        double m, s;
        zscore_moments(sq, sq2, n, 0, &m, &s);
        SCOPED_TRACE("n = " + std::to_string(n));
        EXPECT_NEAR(m, (double)mean, 1e-9);
        EXPECT_NEAR(s, (double)std::sqrt(ss / n), 1e-8);
    }
}

TEST(ZScore, SumsAreIndependentOfOrder)
{
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> v(100000);
    for (auto &x : v) x = u(rng);
    auto moments = [](const std::vector<float> &xs) {
        int64_t a = 0, b = 0;
        for (float x : xs) a += zscore_fixed(x), b += zscore_fixed_sq(x);
        return std::make_pair(a, b);
    };
    auto forward = moments(v);
    std::shuffle(v.begin(), v.end(), rng);
    EXPECT_EQ(moments(v), forward);
}

TEST(ZScore, ConstantVolumeIsLeftAsIs)
{
    double m, s;
    int64_t q = zscore_fixed(0.75f) * 10, q2 = zscore_fixed_sq(0.75f) * 10;
    zscore_moments(q, q2, 10, 1, &m, &s);
    EXPECT_EQ(s, 0.0);
    EXPECT_EQ(zscore_apply(0.75f, m, s), 0.75f);
}

TEST(ZScore, ApplyRoundsOnceFromDouble)
{
    float v = 0.3f;
    double mean = 0.123456789, std = 0.2222222;
    EXPECT_EQ(zscore_apply(v, mean, std), (float)(((double)v - mean) / std));
}

// The CPU's plain loop writes element (pix, d) at volume_out_index: the numpy layout,
// (H, W, D) C-order for hwd, (D, H, W) for dhw. The map of the same layout (what
// volume_plan (src/compute/volume_plan.c) asks for without --reorient or padding) must give the same index, and
// volume_map_source (the CUDA store kernel's direction) must invert it.
TEST(Volume, OutputIndexIsTheNumpyLayoutAndTheLayoutMapAgrees)
{
    for (int layout : {VOLUME_LAYOUT_HWD, VOLUME_LAYOUT_DHW})
        for (uint32_t H : {1u, 3u, 7u})
            for (uint32_t W : {1u, 4u, 5u})
                for (uint32_t D : {1u, 2u, 9u}) {
                    const uint64_t plane = (uint64_t)H * W;
                    volume_map_t m{};
                    const int32_t axes[2][3] = {{1, 0, 2}, {2, 1, 0}};
                    const uint64_t size[3] = {W, H, D};
                    m.depth = D;
                    for (int t = 0; t < 3; t++) m.source_axis[t] = axes[layout][t], m.dims[t] = size[axes[layout][t]];
                    std::vector<int> seen(plane * D, 0);
                    for (uint32_t y = 0; y < H; y++)
                        for (uint32_t x = 0; x < W; x++)
                            for (uint32_t d = 0; d < D; d++) {
                                uint64_t pix = (uint64_t)y * W + x;
                                uint64_t o = volume_out_index(layout, pix, d, plane, D);
                                uint64_t numpy = layout == VOLUME_LAYOUT_HWD ? ((uint64_t)y * W + x) * D + d
                                                                             : ((uint64_t)d * H + y) * W + x;
                                ASSERT_EQ(o, numpy);
                                ASSERT_EQ(volume_map_index(&m, x, y, d), o);
                                seen[o]++;
                                uint64_t bx, by;
                                uint32_t bd;
                                ASSERT_TRUE(volume_map_source(&m, o, &bx, &by, &bd));
                                ASSERT_EQ(bx, x);
                                ASSERT_EQ(by, y);
                                ASSERT_EQ(bd, d);
                            }
                    for (int n : seen) ASSERT_EQ(n, 1);
                }
}

// Every permutation of the axes with every set of flips, padded or not: volume_map_index
// is a bijection onto the non-pad elements, volume_map_source inverts it and says 0 for
// exactly the pad slices, and each output axis runs its source axis the stated way.
TEST(Volume, MapsOfEveryAxisOrderFlipAndPadAreInvertible)
{
    const int32_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const uint64_t W = 4, H = 3, D = 5;
    for (const auto &perm : perms)
        for (int flips = 0; flips < 8; flips++)
            for (uint32_t pad : {0u, 1u, 4u}) {
                volume_map_t m{};
                m.depth = (uint32_t)D;
                m.pad_before = pad / 2;
                const uint64_t size[3] = {W, H, D + pad};
                for (int t = 0; t < 3; t++)
                    m.source_axis[t] = perm[t], m.flip[t] = (flips >> t) & 1, m.dims[t] = size[perm[t]];
                const uint64_t count = m.dims[0] * m.dims[1] * m.dims[2];
                std::vector<int> seen(count, 0);
                for (uint64_t y = 0; y < H; y++)
                    for (uint64_t x = 0; x < W; x++)
                        for (uint32_t d = 0; d < D; d++) {
                            const uint64_t o = volume_map_index(&m, x, y, d);
                            ASSERT_LT(o, count);
                            seen[o]++;
                            uint64_t bx, by;
                            uint32_t bd;
                            ASSERT_TRUE(volume_map_source(&m, o, &bx, &by, &bd));
                            ASSERT_EQ(bx, x);
                            ASSERT_EQ(by, y);
                            ASSERT_EQ(bd, d);
                            // Output axis t: the C-order coordinate of o.
                            const uint64_t coord[3] = {o / (m.dims[1] * m.dims[2]), (o / m.dims[2]) % m.dims[1],
                                                       o % m.dims[2]};
                            const uint64_t src[3] = {x, y, (uint64_t)d + m.pad_before};
                            for (int t = 0; t < 3; t++) {
                                const uint64_t c = src[perm[t]];
                                ASSERT_EQ(coord[t], m.flip[t] ? m.dims[t] - 1 - c : c);
                            }
                        }
                uint64_t pad_elements = 0;
                for (uint64_t o = 0; o < count; o++) {
                    uint64_t bx, by;
                    uint32_t bd;
                    const int real = volume_map_source(&m, o, &bx, &by, &bd);
                    ASSERT_EQ(real, seen[o] == 1);
                    ASSERT_LE(seen[o], 1);
                    pad_elements += !real;
                }
                ASSERT_EQ(pad_elements, W * H * pad);
            }
}

// --intensity raw: the stored value, or slope * x + intercept rounded once from double.
TEST(Volume, RawCropValueIsTheStoredOrRescaledValue)
{
    const uint16_t raw[6] = {0, 1, 65535, 0x8000, 0x7FFF, 12345};
    const slice_box_t box = {0, 1, 0, 2};
    for (int is_signed = 0; is_signed < 2; is_signed++)
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 3; c++) {
                const int32_t x = is_signed ? (int32_t)(int16_t)raw[r * 3 + c] : (int32_t)raw[r * 3 + c];
                EXPECT_EQ(crop_raw_value(raw, 3, is_signed, box, 0, 2.0, 5.0, r, c), (float)x);
                EXPECT_EQ(crop_raw_value(raw, 3, is_signed, box, 1, 0.3, -1024.5, r, c),
                          (float)(0.3 * (double)x - 1024.5));
            }
}

// The moments of values scaled by 2^-e come back to the values' own mean and std; e = 0
// is zscore_moments; no values (an all-background volume with --norm nonzero) is 0, 0.
TEST(ZScore, ScaledMomentsMatchTheUnscaledOnes)
{
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(-3000.0f, 65000.0f);
    std::vector<float> v(5000);
    for (float &x : v) x = u(rng);
    const int32_t e = 17; // |v| < 2^16
    int64_t q = 0, q2 = 0;
    double sum = 0, sum2 = 0;
    for (float x : v) {
        const float s = x * std::ldexp(1.0f, -e);
        q += zscore_fixed(s), q2 += zscore_fixed_sq(s);
        sum += x, sum2 += (double)x * x;
    }
    double mean, std;
    zscore_moments_scaled(q, q2, v.size(), 0, e, &mean, &std);
    const double want_mean = sum / v.size(), want_std = std::sqrt(sum2 / v.size() - want_mean * want_mean);
    EXPECT_NEAR(mean, want_mean, 1e-6 * std::fabs(want_mean));
    EXPECT_NEAR(std, want_std, 1e-6 * want_std);
    double m0, s0, m1, s1;
    zscore_moments_scaled(q, q2, v.size(), 0, 0, &m0, &s0);
    zscore_moments(q, q2, v.size(), 0, &m1, &s1);
    EXPECT_EQ(m0, m1);
    EXPECT_EQ(s0, s1);
    zscore_moments_scaled(0, 0, 0, 1, e, &mean, &std);
    EXPECT_EQ(mean, 0.0);
    EXPECT_EQ(std, 0.0);
    EXPECT_EQ(zscore_apply_masked(0.0f, 1.0, 2.0, 1), 0.0f);
    EXPECT_EQ(zscore_apply_masked(0.0f, 1.0, 2.0, 0), zscore_apply(0.0f, 1.0, 2.0));
    EXPECT_EQ(zscore_apply_masked(3.0f, 1.0, 2.0, 1), zscore_apply(3.0f, 1.0, 2.0));
}

TEST(Half, MatchesNumpyOnEveryTieAndEdgeAndRandomBits)
{
    std::string path = oracle_dir() + "/half_cases.bin";
    FILE *f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr) << path << " missing: run /usr/bin/python3 tests/oracle/make_numeric_oracle.py "
                          << oracle_dir() << " (make test does)";
    uint32_t n = 0;
    ASSERT_EQ(std::fread(&n, 4, 1, f), 1u);
    std::vector<float> in(n);
    std::vector<uint16_t> want(n);
    ASSERT_EQ(std::fread(in.data(), 4, n, f), n);
    ASSERT_EQ(std::fread(want.data(), 2, n, f), n);
    std::fclose(f);
    ASSERT_GT(n, 1000000u);
    size_t mismatches = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t got = half_from_float(in[i]);
        bool nan_both = std::isnan(in[i]) && (got & 0x7C00) == 0x7C00 && (got & 0x3FF) && (want[i] & 0x7C00) == 0x7C00 &&
                        (want[i] & 0x3FF);
        if (got != want[i] && !nan_both && mismatches++ < 10) {
            uint32_t bits;
            std::memcpy(&bits, &in[i], 4);
            ADD_FAILURE() << "float bits 0x" << std::hex << bits << " (" << in[i] << "): got 0x" << got
                          << ", numpy 0x" << want[i];
        }
    }
    EXPECT_EQ(mismatches, 0u) << "of " << n << " cases";
}

}  // namespace
