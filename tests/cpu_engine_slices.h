// cpu_engine_slices.h - what test_cpu_simd.cpp and test_cpu_engines.cpp share: generated
// slices (the kernel lab's kinds), and crop + resize + moments through the engine in use
// against the plain code it replaces (crop_value, resize_area_f32, the llrint moments).
// Included by one test file per binary; everything is in an anonymous namespace.
#ifndef MRIPREP_TESTS_CPU_ENGINE_SLICES_H
#define MRIPREP_TESTS_CPU_ENGINE_SLICES_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "kernels/slice_math.h"
#include "kernels/zscore_math.h"
#include "mriprep/resize.h"
}

namespace {

// ---- slices ------------------------------------------------------------------------------

enum Fill { UNIFORM = 0, MR, TWELVE_BIT, NUM_FILLS };

const char *fill_name(int f)
{
    static const char *const names[NUM_FILLS] = {"uniform 16-bit", "MR-like", "12-bit"};
    return names[f];
}

// A decoded slice: [rows][cols] stored words, signed or not.
struct RawSlice {
    int32_t rows = 0, cols = 0;
    bool is_signed = false;
    std::vector<uint16_t> words;
};

struct Xorshift {
    uint32_t x;
    uint32_t operator()()
    {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        return x;
    }
};

// uniform: any word (full range, signed or not); MR-like: a dark background around a
// bright ellipse with noise; 12-bit: 0..4095 (-2048..2047 signed).
RawSlice make_slice(int32_t rows, int32_t cols, bool is_signed, int fill, uint32_t seed)
{
    Xorshift rng{seed * 2654435761u | 1u};
    RawSlice s;
    s.rows = rows, s.cols = cols, s.is_signed = is_signed;
    s.words.resize((size_t)rows * cols);
    const int64_t cy = rows / 2, cx = cols / 2, ry = rows * 2 / 5 + 1, rx = cols * 7 / 20 + 1;
    for (int32_t r = 0; r < rows; r++)
        for (int32_t c = 0; c < cols; c++) {
            const uint32_t u = rng();
            int32_t v;
            if (fill == UNIFORM) {
                v = (int32_t)(u & 0xFFFF);
            } else if (fill == TWELVE_BIT) {
                v = (int32_t)(u % 4096) - (is_signed ? 2048 : 0);
            } else {
                const int64_t dy = r - cy, dx = c - cx;
                const int64_t d = dy * dy * rx * rx + dx * dx * ry * ry, one = ry * ry * rx * rx;
                v = d < one ? (int32_t)(200 + 800 * (one - d) / one + u % 300) : (int32_t)(u % 4 == 0 ? u % 20 : 0);
                if (is_signed) v -= 1024;
            }
            s.words[(size_t)r * cols + c] = (uint16_t)(int16_t)v;
        }
    return s;
}

[[maybe_unused]] RawSlice constant_slice(int32_t rows, int32_t cols, bool is_signed, uint16_t word)
{
    RawSlice s;
    s.rows = rows, s.cols = cols, s.is_signed = is_signed;
    s.words.assign((size_t)rows * cols, word);
    return s;
}

// ---- crop + resize + moments through the engine in use ----------------------------------

struct Plane {
    std::vector<float> v;
    resize_moments_t m{};
};

void slice_min_max(const RawSlice &s, int32_t *mn, int32_t *mx)
{
    *mn = INT32_MAX, *mx = INT32_MIN;
    for (uint16_t w : s.words) {
        const int32_t x = slice_stored_value(w, s.is_signed);
        *mn = std::min(*mn, x), *mx = std::max(*mx, x);
    }
}

// The code every engine must equal: crop_value into a float crop, resize_area_f32 (itself
// bit-exact with OpenCV, test_resize.cpp), zscore_fixed/_sq (llrint) over the plane.
Plane reference(const RawSlice &s, slice_box_t box, int32_t mn, int32_t mx, int dst_w, int dst_h)
{
    const int32_t bh = slice_box_height(box), bw = slice_box_width(box);
    const float range = (float)(mx - mn);
    std::vector<float> crop((size_t)bh * bw);
    for (int32_t r = 0; r < bh; r++)
        for (int32_t c = 0; c < bw; c++)
            crop[(size_t)r * bw + c] = crop_value(s.words.data(), s.cols, s.is_signed, box, mn, range, r, c);
    Plane p;
    p.v.resize((size_t)dst_w * dst_h);
    resize_plan_t plan;
    mp_error err;
    EXPECT_EQ(resize_plan_init(&plan, bw, bh, dst_w, dst_h, &err), MP_OK) << err.msg;
    resize_area_f32(&plan, crop.data(), (size_t)bw, p.v.data(), (size_t)dst_w);
    resize_plan_free(&plan);
    p.m.min = p.m.max = p.v[0];
    for (float x : p.v) {
        p.m.sum_q += zscore_fixed(x);
        p.m.sum_q2 += zscore_fixed_sq(x);
        p.m.min = x < p.m.min ? x : p.m.min;
        p.m.max = x > p.m.max ? x : p.m.max;
    }
    return p;
}

struct ScratchDeleter {
    void operator()(resize_scratch_t *s) const { resize_scratch_free(s); }
};
using Scratch = std::unique_ptr<resize_scratch_t, ScratchDeleter>;

Plane measure(const RawSlice &s, slice_box_t box, int32_t mn, int32_t mx, int dst_w, int dst_h, resize_scratch_t *sc)
{
    resize_plan_t plan;
    mp_error err;
    Plane p;
    p.v.assign((size_t)dst_w * dst_h, NAN);
    EXPECT_EQ(resize_plan_init(&plan, slice_box_width(box), slice_box_height(box), dst_w, dst_h, &err), MP_OK)
        << err.msg;
    const resize_crop_t crop = {s.words.data(), s.cols, s.is_signed, box, mn, mx};
    EXPECT_EQ(resize_crop_measure(&plan, &crop, sc, p.v.data(), &p.m, &err), MP_OK) << err.msg;
    resize_plan_free(&plan);
    return p;
}

std::string compare_planes(const Plane &want, const Plane &got, int dst_w)
{
    for (size_t i = 0; i < want.v.size(); i++)
        if (std::memcmp(&want.v[i], &got.v[i], sizeof(float)) != 0) {
            char msg[160];
            std::snprintf(msg, sizeof msg, "pixel (%zu, %zu): want %a, got %a", i % dst_w, i / dst_w,
                          (double)want.v[i], (double)got.v[i]);
            return msg;
        }
    if (want.m.sum_q != got.m.sum_q) return "sum_q " + std::to_string(want.m.sum_q) + " vs " + std::to_string(got.m.sum_q);
    if (want.m.sum_q2 != got.m.sum_q2)
        return "sum_q2 " + std::to_string(want.m.sum_q2) + " vs " + std::to_string(got.m.sum_q2);
    if (std::memcmp(&want.m.min, &got.m.min, sizeof(float)) || std::memcmp(&want.m.max, &got.m.max, sizeof(float)))
        return "min/max bits differ";
    return "";
}

// The engine in use on one crop against the reference ("" when identical).
std::string compare_crop(const RawSlice &s, slice_box_t box, int dst_w, int dst_h, resize_scratch_t *sc)
{
    int32_t mn, mx;
    slice_min_max(s, &mn, &mx);
    if (mx == mn) mx = mn + 1; // a constant slice is never resized; keep a range
    return compare_planes(reference(s, box, mn, mx, dst_w, dst_h), measure(s, box, mn, mx, dst_w, dst_h, sc), dst_w);
}

std::string describe(const RawSlice &s, slice_box_t box, int dst_w, int dst_h, int fill)
{
    const int bw = slice_box_width(box), bh = slice_box_height(box);
    char buf[220];
    std::snprintf(buf, sizeof buf, "%s: %dx%d crop at (%d,%d) of a %dx%d %s %s slice -> %dx%d (%s)",
                  resize_crop_engine(), bw, bh, box.col0, box.row0, s.cols, s.rows, fill_name(fill),
                  s.is_signed ? "signed" : "unsigned", dst_w, dst_h,
                  resize_path_name(resize_select_path(bw, bh, dst_w, dst_h)));
    return buf;
}

slice_box_t centred_box(const RawSlice &s, int32_t bw, int32_t bh)
{
    const int32_t r0 = (s.rows - bh) / 2, c0 = (s.cols - bw) / 2;
    return slice_box_t{r0, r0 + bh - 1, c0, c0 + bw - 1};
}

struct Case {
    int bw, bh, dw, dh;
};


} // namespace

#endif /* MRIPREP_TESTS_CPU_ENGINE_SLICES_H */
