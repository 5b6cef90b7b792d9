// test_augment.cpp - rot90_volume (what --augment rot90 writes) against the real oracle,
// OpenCV 4.6's cv::rotate applied to every slice, for all four quarter turns, both
// layouts ((H, W, D): the slices are strided; (D, H, W): contiguous), float32 and float16
// elements, and odd shapes.
#include <gtest/gtest.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <opencv2/core.hpp>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "mriprep/augment.h"
}

namespace {

// Element (y, x) of slice d of a C-order volume of shape dims, slices over axes a, a + 1.
size_t element(const uint64_t dims[3], int a, uint64_t y, uint64_t x, uint64_t d)
{
    return a == 0 ? (size_t)((y * dims[1] + x) * dims[2] + d) : (size_t)((d * dims[1] + y) * dims[2] + x);
}

// Slice d of the volume as an h x w cv::Mat of 32-bit words (float32 values, or float16
// bits widened: cv::rotate only moves elements, so their meaning does not matter).
cv::Mat slice_of(const std::vector<uint8_t> &v, const uint64_t dims[3], int a, size_t elem, uint64_t d)
{
    const int h = (int)dims[a], w = (int)dims[a + 1];
    cv::Mat m(h, w, CV_32SC1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t word = 0;
            std::memcpy(&word, v.data() + element(dims, a, (uint64_t)y, (uint64_t)x, d) * elem, elem);
            m.at<int32_t>(y, x) = (int32_t)word;
        }
    return m;
}

}  // namespace

TEST(Rot90Volume, EverySliceMatchesOpenCvRotate)
{
    std::mt19937 rng(5);
    // k counter-clockwise quarter turns, as np.rot90: OpenCV's codes (none for k = 0).
    const int code_for_k[4] = {-1, cv::ROTATE_90_COUNTERCLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_CLOCKWISE};
    struct shape {
        uint64_t h, w, depth;
    };
    for (shape s : {shape{1, 1, 1}, shape{1, 7, 3}, shape{7, 1, 2}, shape{37, 53, 5}, shape{64, 48, 1}, shape{16, 16, 9}})
        for (int a = 0; a < 2; a++)
            for (size_t elem : {sizeof(float), sizeof(uint16_t)}) {
                const uint64_t dims[3] = {a == 0 ? s.h : s.depth, a == 0 ? s.w : s.h, a == 0 ? s.depth : s.w};
                std::vector<uint8_t> src((size_t)(s.h * s.w * s.depth) * elem), dst(src.size());
                for (auto &b : src) b = (uint8_t)rng();
                for (int k = 0; k < 4; k++) {
                    SCOPED_TRACE(std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.depth) +
                                 (a ? " dhw" : " hwd") + ", " + std::to_string(elem) + "-byte, k = " +
                                 std::to_string(k));
                    uint64_t out_dims[3];
                    rot90_volume(src.data(), dims, a, elem, k, dst.data(), out_dims);
                    for (uint64_t d = 0; d < s.depth; d++) {
                        cv::Mat want = slice_of(src, dims, a, elem, d), rotated = want.clone();
                        if (k) cv::rotate(want, rotated, code_for_k[k]);
                        ASSERT_EQ((uint64_t)rotated.rows, out_dims[a]);
                        ASSERT_EQ((uint64_t)rotated.cols, out_dims[a + 1]);
                        cv::Mat got = slice_of(dst, out_dims, a, elem, d);
                        ASSERT_EQ(cv::countNonZero(rotated != got), 0) << "slice " << d;
                    }
                }
            }
}
