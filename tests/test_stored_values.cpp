// test_stored_values.cpp - the stored-values rule of the decode stage (docs/dicom.md,
// "Stored values": mask to BitsStored, sign-extend from HighBit, widen 8-bit values), as
// src/input/dicom_dcmtk.cpp now applies it (dicom_store_values: 16-bit lanes, folded into
// the widening copy for 8-bit frames), against the code it replaces, kept here as the
// oracle: the 8-bit widening loop followed by the separate 32-bit normalise pass. Every
// BitsStored 1..BitsAllocated, every HighBit it allows, unsigned and signed, 8 and 16 bits
// allocated, on every possible input value (and lengths that leave each vector loop's
// tail), in place and not. Word for word identical.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mriprep/dicom.h"

namespace {

// ---- the oracle: the decode stage's loops before the fold -----------------------------

// The 8-bit frame widened to words, with the sign where PixelRepresentation says so.
std::vector<uint16_t> old_widen(const std::vector<uint8_t> &bytes, int pixel_representation)
{
    std::vector<uint16_t> out(bytes.size());
    for (size_t i = 0; i < bytes.size(); i++)
        out[i] = pixel_representation == 1 ? (uint16_t)(int16_t)(int8_t)bytes[i] : (uint16_t)bytes[i];
    return out;
}

// normalise_stored_bits as it was: in place, in 32-bit arithmetic.
void old_normalise(uint16_t *px, size_t n, const dicom_header_t *hdr)
{
    unsigned stored = hdr->bits_stored, shift = hdr->high_bit + 1u - stored;
    if (stored == 16 && shift == 0) return;
    uint32_t mask = (stored >= 32) ? 0xFFFFFFFFu : ((1u << stored) - 1u);
    if (hdr->pixel_representation == 1) {
        uint32_t sign = 1u << (stored - 1u);
        for (size_t i = 0; i < n; i++) {
            uint32_t v = ((uint32_t)px[i] >> shift) & mask;
            int32_t s = (int32_t)(v ^ sign) - (int32_t)sign;
            px[i] = (uint16_t)(int16_t)s;
        }
    } else {
        for (size_t i = 0; i < n; i++) px[i] = (uint16_t)(((uint32_t)px[i] >> shift) & mask);
    }
}

dicom_header_t header(unsigned allocated, unsigned stored, unsigned high, unsigned pixel_representation)
{
    dicom_header_t h;
    std::memset(&h, 0, sizeof h);
    h.rows = 1, h.cols = 1, h.samples_per_pixel = 1, h.frames = 1;
    h.bits_allocated = (uint16_t)allocated;
    h.bits_stored = (uint16_t)stored;
    h.high_bit = (uint16_t)high;
    h.pixel_representation = (uint16_t)pixel_representation;
    return h;
}

std::string label(const dicom_header_t &h)
{
    return std::to_string(h.bits_allocated) + " allocated, " + std::to_string(h.bits_stored) + " stored, high bit " +
           std::to_string(h.high_bit) + (h.pixel_representation ? ", signed" : ", unsigned");
}

// First index where a and b differ, or -1.
long first_difference(const std::vector<uint16_t> &a, const std::vector<uint16_t> &b)
{
    for (size_t i = 0; i < a.size(); i++)
        if (a[i] != b[i]) return (long)i;
    return -1;
}

// Every 16-bit word, then random ones: 65536 + 7 words, so the 8-word loop leaves a tail.
std::vector<uint16_t> every_word()
{
    std::vector<uint16_t> w(65536 + 7);
    for (uint32_t i = 0; i < 65536; i++) w[i] = (uint16_t)i;
    std::mt19937 rng(3);
    for (size_t i = 65536; i < w.size(); i++) w[i] = (uint16_t)rng();
    return w;
}

TEST(StoredValues, SixteenBitsEveryLayoutEveryWordAsBefore)
{
    const std::vector<uint16_t> words = every_word();
    int layouts = 0;
    for (unsigned stored = 1; stored <= 16; stored++)
        for (unsigned high = stored - 1; high < 16; high++)
            for (unsigned pr = 0; pr < 2; pr++) {
                const dicom_header_t h = header(16, stored, high, pr);
                SCOPED_TRACE(label(h));
                std::vector<uint16_t> want = words;
                old_normalise(want.data(), want.size(), &h);
                std::vector<uint16_t> copied(words.size(), 0xA5A5);
                dicom_store_values(words.data(), copied.data(), words.size(), &h);
                EXPECT_EQ(first_difference(want, copied), -1) << "out of place";
                std::vector<uint16_t> in_place = words;
                dicom_store_values(in_place.data(), in_place.data(), in_place.size(), &h);
                EXPECT_EQ(first_difference(want, in_place), -1) << "in place";
                layouts++;
            }
    EXPECT_EQ(layouts, 2 * 136); // sum over stored of (16 - stored + 1) high bits, both signs
}

TEST(StoredValues, EightBitsEveryLayoutEveryByteAsBefore)
{
    std::vector<uint8_t> bytes(256 + 13);
    for (size_t i = 0; i < bytes.size(); i++) bytes[i] = (uint8_t)(i * 37u + 11u);
    for (unsigned i = 0; i < 256; i++) bytes[i] = (uint8_t)i;
    int layouts = 0;
    for (unsigned stored = 1; stored <= 8; stored++)
        for (unsigned high = stored - 1; high < 8; high++)
            for (unsigned pr = 0; pr < 2; pr++) {
                const dicom_header_t h = header(8, stored, high, pr);
                SCOPED_TRACE(label(h));
                std::vector<uint16_t> want = old_widen(bytes, (int)pr);
                old_normalise(want.data(), want.size(), &h);
                std::vector<uint16_t> got(bytes.size(), 0xA5A5);
                dicom_store_values(bytes.data(), got.data(), bytes.size(), &h);
                EXPECT_EQ(first_difference(want, got), -1);
                layouts++;
            }
    EXPECT_EQ(layouts, 2 * 36);
}

// Lengths 0..40 (no vector step, one, several, each with every tail length), at offsets
// that misalign the words, through the 16-bit loop.
TEST(StoredValues, ShortAndMisalignedRunsAsBefore)
{
    std::vector<uint16_t> words(64);
    std::mt19937 rng(11);
    for (uint16_t &w : words) w = (uint16_t)rng();
    for (unsigned stored : {1u, 8u, 12u, 15u, 16u})
        for (unsigned pr = 0; pr < 2; pr++) {
            const dicom_header_t h = header(16, stored, 15, pr);
            SCOPED_TRACE(label(h));
            for (size_t at = 0; at < 3; at++)
                for (size_t n = 0; n <= 40; n++) {
                    std::vector<uint16_t> want(words.begin() + (long)at, words.begin() + (long)(at + n));
                    old_normalise(want.data(), want.size(), &h);
                    std::vector<uint16_t> got = words;
                    dicom_store_values(got.data() + at, got.data() + at, n, &h);
                    EXPECT_EQ(first_difference(want, std::vector<uint16_t>(got.begin() + (long)at,
                                                                           got.begin() + (long)(at + n))),
                              -1)
                        << "n " << n << " at " << at;
                    // nothing outside [at, at + n) is touched
                    EXPECT_TRUE(std::equal(words.begin(), words.begin() + (long)at, got.begin()));
                    EXPECT_TRUE(std::equal(words.begin() + (long)(at + n), words.end(), got.begin() + (long)(at + n)));
                }
        }
}

} // namespace
