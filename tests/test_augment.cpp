// test_augment.cpp - rot90_plane (the CPU twin of the mp_rot90 kernel) against the real
// oracle, OpenCV 4.6's cv::rotate, for all four quarter turns and odd shapes.
#include <gtest/gtest.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-qual"
#include <opencv2/core.hpp>
#pragma GCC diagnostic pop

#include <cstring>
#include <random>

extern "C" {
#include "mriprep/augment.h"
}

TEST(Rot90, MatchesOpenCvRotate)
{
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto [h, w] : {std::pair{1, 1}, {1, 7}, {7, 1}, {37, 53}, {256, 256}, {64, 48}}) {
        cv::Mat src(h, w, CV_32FC1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) src.at<float>(y, x) = u(rng);
        // k counter-clockwise quarter turns; OpenCV's codes, and no rotation for k = 0.
        const int code_for_k[4] = {-1, cv::ROTATE_90_COUNTERCLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_CLOCKWISE};
        for (int k = 0; k < 4; k++) {
            SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w) + ", k = " + std::to_string(k));
            cv::Mat want = src.clone();
            if (k) cv::rotate(src, want, code_for_k[k]);
            std::vector<float> got((size_t)h * w);
            rot90_plane(src.ptr<float>(), h, w, k, got.data());
            ASSERT_EQ((size_t)want.total(), got.size());
            EXPECT_EQ(std::memcmp(want.ptr<float>(), got.data(), got.size() * sizeof(float)), 0);
        }
    }
}
