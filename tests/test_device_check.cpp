// test_device_check.cpp - the device self-check's harness (src/compute/device_check.c),
// tested where there is no GPU: the battery run with the CPU backend as the "device"
// must pass against the CPU itself and must catch a one-bit fault injected into any
// stage's results; and its cases must really take the paths they are named after
// (blank and dark slices, 128 of 130 kept, padding, reorientation, slices read again
// past the pixel budget, ...).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "mriprep/device_check.h"
}

namespace {

device_check_report_t run_with(device_check_fault_fn fault, void *ctx)
{
    device_check_report_t rep;
    mp_error err;
    mp_error_clear(&err);
    EXPECT_EQ(device_check_run(DEVICE_CPU, 0, fault, ctx, &rep, &err), MP_OK) << err.msg;
    return rep;
}

int case_named(const char *part)
{
    for (int i = 0; i < device_check_case_count(); i++)
        if (strstr(device_check_case_name(i), part)) return i;
    ADD_FAILURE() << "no case named like '" << part << "'";
    return -1;
}

TEST(DeviceCheck, CpuAgainstItselfPassesEveryCase)
{
    device_check_report_t rep = run_with(nullptr, nullptr);
    EXPECT_TRUE(rep.ran);
    EXPECT_TRUE(rep.passed) << rep.failure;
    EXPECT_EQ(rep.cases, device_check_case_count());
    EXPECT_GE(rep.cases, 16);
    EXPECT_STREQ(rep.device, "cpu");
    EXPECT_STREQ(rep.failure, "");
}

// What each case gave, seen through the fault hook without changing anything.
struct Seen {
    std::vector<series_result_t> results;
};

void record(void *ctx, int, series_result_t *res, unsigned char *, size_t)
{
    static_cast<Seen *>(ctx)->results.push_back(*res);
}

TEST(DeviceCheck, CasesTakeThePathsTheyAreNamedAfter)
{
    Seen seen;
    device_check_report_t rep = run_with(record, &seen);
    ASSERT_TRUE(rep.passed) << rep.failure;
    ASSERT_EQ((int)seen.results.size(), device_check_case_count());
    int ok = 0;
    for (const series_result_t &r : seen.results) ok += r.outcome == SERIES_OK;
    EXPECT_EQ(ok, device_check_case_count() - 1) << "every case but the 1x1 one gives a volume";

    const series_result_t &one = seen.results[case_named("1x1")];
    EXPECT_EQ(one.outcome, SERIES_EMPTY);
    EXPECT_EQ(one.blank, 3u);

    const series_result_t &bd = seen.results[case_named("blank and dark")];
    EXPECT_EQ(bd.blank, 2u);
    EXPECT_EQ(bd.dark, 2u);
    EXPECT_EQ(bd.kept, 6u);

    const series_result_t &long_series = seen.results[case_named("130 slices")];
    EXPECT_EQ(long_series.kept, 130u);
    EXPECT_EQ(long_series.depth, 128u);

    const series_result_t &column = seen.results[case_named("one pixel wide")];
    EXPECT_EQ(column.outcome, SERIES_OK);

    const series_result_t &shuffled = seen.results[case_named("position order")];
    EXPECT_EQ(shuffled.order, ORDER_BY_POSITION);

    const series_result_t &volume_crop = seen.results[case_named("volume crop")];
    EXPECT_TRUE(volume_crop.has_affine) << "one box for the volume: " << volume_crop.geometry_note;

    const series_result_t &sag = seen.results[case_named("reorient")];
    EXPECT_TRUE(sag.reoriented) << sag.geometry_note;
    EXPECT_EQ(sag.depth, 9u);
    EXPECT_EQ(sag.shape[0] * sag.shape[1] * sag.shape[2], 16u * 20u * 18u) << "padded to 16 slices";

    const series_result_t &preset = seen.results[case_named("volumetric preset")];
    EXPECT_TRUE(preset.reoriented) << preset.geometry_note;
    EXPECT_EQ(preset.volume_bytes, 16u * 32u * 32u * 2u);

    const series_result_t &budget = seen.results[case_named("pixel budget")];
    EXPECT_EQ(budget.order, ORDER_BY_POSITION);
    EXPECT_EQ(budget.depth, 6u);
    EXPECT_GT(budget.reread, 0u) << "selected slices past the budget are read again";
    EXPECT_LE(budget.reread, 6u);

    const series_result_t &f16 = seen.results[case_named("255x257")];
    EXPECT_EQ(f16.shape[0], 5u) << "dhw: depth first";
    EXPECT_EQ(f16.shape[1], 90u);
    EXPECT_EQ(f16.shape[2], 100u);
}

// One-bit faults, each in one stage's results of one case.
struct Fault {
    int target_case;
    enum { VOLUME_BIT, MEAN_BIT, DARK_COUNT, SHAPE } kind;
    size_t byte;
};

void inject(void *ctx, int case_index, series_result_t *res, unsigned char *volume, size_t bytes)
{
    const Fault *f = static_cast<const Fault *>(ctx);
    if (case_index != f->target_case) return;
    switch (f->kind) {
    case Fault::VOLUME_BIT:
        if (volume && f->byte < bytes) volume[f->byte] ^= 0x01;
        break;
    case Fault::MEAN_BIT: {
        uint64_t bits;
        memcpy(&bits, &res->mean, sizeof bits);
        bits ^= 1;
        memcpy(&res->mean, &bits, sizeof bits);
        break;
    }
    case Fault::DARK_COUNT:
        res->dark ^= 1;
        break;
    case Fault::SHAPE:
        res->shape[0] ^= 1;
        break;
    }
}

TEST(DeviceCheck, CatchesAOneBitFaultInTheVolumeOfEveryCase)
{
    for (int c = 0; c < device_check_case_count(); c++) {
        if (strstr(device_check_case_name(c), "1x1")) continue; // no volume
        Fault f{c, Fault::VOLUME_BIT, 37};
        device_check_report_t rep = run_with(inject, &f);
        EXPECT_FALSE(rep.passed) << device_check_case_name(c);
        EXPECT_EQ(rep.cases, c + 1) << "stops at the first failing case";
        const std::string msg = rep.failure;
        EXPECT_NE(msg.find(std::string("case '") + device_check_case_name(c) + "'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("volume: byte 37 of "), std::string::npos) << msg;
        EXPECT_NE(msg.find(" on cpu, 0x"), std::string::npos) << msg;
        EXPECT_NE(msg.find(" -> "), std::string::npos) << "names the shape: " << msg;
    }
}

TEST(DeviceCheck, NamesTheStageOfOtherFaults)
{
    const int bd = case_named("blank and dark");
    Fault mean{bd, Fault::MEAN_BIT, 0};
    device_check_report_t rep = run_with(inject, &mean);
    EXPECT_FALSE(rep.passed);
    EXPECT_NE(std::string(rep.failure).find("volume moments:"), std::string::npos) << rep.failure;

    Fault dark{bd, Fault::DARK_COUNT, 0};
    rep = run_with(inject, &dark);
    EXPECT_FALSE(rep.passed);
    EXPECT_NE(std::string(rep.failure).find("selection:"), std::string::npos) << rep.failure;

    Fault shape{case_named("512x512"), Fault::SHAPE, 0};
    rep = run_with(inject, &shape);
    EXPECT_FALSE(rep.passed);
    EXPECT_NE(std::string(rep.failure).find("volume: shape"), std::string::npos) << rep.failure;
}

TEST(DeviceCheck, OffInTheEnvironmentSkipsTheCudaCheck)
{
    setenv("MRIPREP_DEVICE_CHECK", "off", 1);
    const device_check_report_t *rep = device_check_cuda(0);
    unsetenv("MRIPREP_DEVICE_CHECK");
    EXPECT_FALSE(rep->ran);
    EXPECT_TRUE(rep->passed);
}

} // namespace
