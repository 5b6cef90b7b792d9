// Shard partition, --shard parsing, the Slurm environment and the record names
// (src/job/shard.c). The end-to-end merge against one run is tests/e2e/test_shard.py.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <filesystem>

#include "mriprep/shard.h"

namespace {

// A dataset of series with the given file counts (0: a missing series).
struct FakeDataset {
    std::vector<series_t> series;
    dataset_t ds{};
    explicit FakeDataset(const std::vector<size_t> &files)
    {
        series.resize(files.size());
        for (size_t i = 0; i < files.size(); i++) {
            series[i].n_files = files[i];
            series[i].presence = files[i] ? SERIES_PRESENT : SERIES_NO_FOLDER;
        }
        ds.series = series.data();
        ds.n_series = series.size();
    }
};

std::vector<size_t> loads(const FakeDataset &d, const std::vector<int> &shard_of, int n)
{
    std::vector<size_t> load(n, 0);
    for (size_t i = 0; i < d.series.size(); i++) load[shard_of[i]] += d.series[i].n_files;
    return load;
}

TEST(ShardAssign, EverySeriesInOneShardAndLoadsWithinTheLargestSeries)
{
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; trial++) {
        std::vector<size_t> files(1 + rng() % 300);
        size_t biggest = 0;
        for (auto &f : files) {
            f = rng() % 5 == 0 ? 0 : 1 + rng() % 400; // some missing, 1..400 slices
            biggest = std::max(biggest, f);
        }
        FakeDataset d(files);
        int n = 1 + (int)(rng() % 17);
        std::vector<int> shard_of(files.size(), -1);
        ASSERT_EQ(shard_assign(&d.ds, n, shard_of.data(), nullptr), MP_OK);
        for (int s : shard_of) ASSERT_TRUE(s >= 0 && s < n) << "shard " << s << " of " << n;
        auto load = loads(d, shard_of, n);
        size_t hi = *std::max_element(load.begin(), load.end()), lo = *std::min_element(load.begin(), load.end());
        // Greedy to the least loaded: when the fullest shard took its last series it was
        // the emptiest, so it ends at most one series above the emptiest.
        EXPECT_LE(hi - lo, biggest) << "trial " << trial << ", " << n << " shards";
        // deterministic
        std::vector<int> again(files.size(), -1);
        ASSERT_EQ(shard_assign(&d.ds, n, again.data(), nullptr), MP_OK);
        EXPECT_EQ(again, shard_of);
    }
}

TEST(ShardAssign, LongSeriesAreSpreadNotStacked)
{
    // 8 series of 400 slices then 24 of 20: by series count, shards 0..3 of 4 would each
    // get 2 long ones only by luck; by files, each gets exactly 2 long ones.
    std::vector<size_t> files(8, 400);
    files.insert(files.end(), 24, 20);
    FakeDataset d(files);
    std::vector<int> shard_of(files.size());
    ASSERT_EQ(shard_assign(&d.ds, 4, shard_of.data(), nullptr), MP_OK);
    std::vector<int> long_per_shard(4, 0);
    for (int i = 0; i < 8; i++) long_per_shard[shard_of[i]]++;
    EXPECT_EQ(long_per_shard, std::vector<int>({2, 2, 2, 2}));
    auto load = loads(d, shard_of, 4);
    EXPECT_EQ(load, std::vector<size_t>({920, 920, 920, 920}));
}

TEST(ShardAssign, MissingSeriesGoRoundRobinAndMoreShardsThanSeriesIsFine)
{
    FakeDataset d({0, 0, 0, 0, 0, 0});
    std::vector<int> shard_of(6);
    ASSERT_EQ(shard_assign(&d.ds, 4, shard_of.data(), nullptr), MP_OK);
    EXPECT_EQ(shard_of, std::vector<int>({0, 1, 2, 3, 0, 1}));
    FakeDataset two({10, 30});
    std::vector<int> of(2);
    ASSERT_EQ(shard_assign(&two.ds, 5, of.data(), nullptr), MP_OK);
    EXPECT_EQ(of, std::vector<int>({1, 0})); // heaviest first, to shard 0
    mp_error err;
    EXPECT_EQ(shard_assign(&two.ds, 0, of.data(), &err), MP_ERR_USAGE);
    EXPECT_EQ(shard_assign(&two.ds, SHARD_MAX + 1, of.data(), &err), MP_ERR_USAGE);
}

TEST(ShardParse, AcceptsKOfNOnly)
{
    int k = -1, n = -1;
    EXPECT_TRUE(shard_parse("0/4", &k, &n));
    EXPECT_EQ(k, 0);
    EXPECT_EQ(n, 4);
    EXPECT_TRUE(shard_parse("3/4", &k, &n));
    EXPECT_EQ(k, 3);
    EXPECT_TRUE(shard_parse("0/1", &k, &n));
    for (const char *bad : {"4/4", "-1/4", "1/-4", "1/0", "0/0", "a/4", "1/b", "1/", "/4", "1", "1/4x", " 1/4",
                            "+1/4", "1/4/2", "0/65537", "99999999999/4", ""})
        EXPECT_FALSE(shard_parse(bad, &k, &n)) << bad;
}

// Sets (or unsets, value nullptr) environment variables for one test.
struct Env {
    std::vector<std::string> names;
    void set(const char *name, const char *value)
    {
        names.push_back(name);
        if (value) setenv(name, value, 1);
        else unsetenv(name);
    }
    ~Env()
    {
        for (auto &n : names) unsetenv(n.c_str());
    }
};

TEST(ShardEnvironment, TaskOfAnArray)
{
    int k = -1, n = -1;
    char why[512];
    {
        Env e;
        e.set("SLURM_ARRAY_TASK_ID", nullptr);
        EXPECT_EQ(shard_from_environment(&k, &n, why, sizeof why), 0); // not an array task
    }
    {
        Env e;
        e.set("SLURM_ARRAY_TASK_ID", "7");
        e.set("SLURM_ARRAY_TASK_MIN", "5");
        e.set("SLURM_ARRAY_TASK_MAX", "8");
        e.set("SLURM_ARRAY_TASK_COUNT", "4");
        EXPECT_EQ(shard_from_environment(&k, &n, why, sizeof why), 1);
        EXPECT_EQ(k, 2);
        EXPECT_EQ(n, 4);
    }
    {
        Env e; // no COUNT: MAX - MIN + 1
        e.set("SLURM_ARRAY_TASK_ID", "0");
        e.set("SLURM_ARRAY_TASK_MIN", "0");
        e.set("SLURM_ARRAY_TASK_MAX", "2");
        e.set("SLURM_ARRAY_TASK_COUNT", nullptr);
        EXPECT_EQ(shard_from_environment(&k, &n, why, sizeof why), 1);
        EXPECT_EQ(n, 3);
    }
    {
        Env e; // a one-task array (a resubmitted shard): which shard of how many is unknown
        e.set("SLURM_ARRAY_TASK_ID", "3");
        e.set("SLURM_ARRAY_TASK_MIN", "3");
        e.set("SLURM_ARRAY_TASK_COUNT", "1");
        EXPECT_EQ(shard_from_environment(&k, &n, why, sizeof why), -1);
        EXPECT_NE(std::string(why).find("--shard K/N"), std::string::npos) << why;
    }
    for (auto bad : std::vector<std::vector<const char *>>{{"9", "0", "4"}, {"x", "0", "4"}, {"2", "3", "4"},
                                                           {"1", "0", nullptr}}) {
        Env e; // a stepped array (0-9:3 has 4 tasks, ID 9), junk, ID below MIN, no count
        e.set("SLURM_ARRAY_TASK_ID", bad[0]);
        e.set("SLURM_ARRAY_TASK_MIN", bad[1]);
        e.set("SLURM_ARRAY_TASK_COUNT", bad[2]);
        e.set("SLURM_ARRAY_TASK_MAX", nullptr);
        why[0] = '\0';
        EXPECT_EQ(shard_from_environment(&k, &n, why, sizeof why), -1) << bad[0];
        EXPECT_NE(std::string(why), "") << bad[0];
    }
}

TEST(ShardRecords, NamesAndListing)
{
    char manifest[64], run_json[64];
    shard_record_names(2, 4, manifest, sizeof manifest, run_json, sizeof run_json);
    EXPECT_STREQ(manifest, "manifest.2-of-4.csv");
    EXPECT_STREQ(run_json, "run.2-of-4.json");
    shard_record_names(0, 0, manifest, sizeof manifest, run_json, sizeof run_json);
    EXPECT_STREQ(manifest, "manifest.csv");
    EXPECT_STREQ(run_json, "run.json");

    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("mriprep-shard-" + std::to_string(getpid()));
    fs::create_directories(dir);
    for (const char *name : {"manifest.1-of-4.csv", "manifest.0-of-4.csv.partial", "manifest.0-of-4.csv",
                             "run.10-of-12.json", "run.1-of-4.json", "manifest.csv", "run.json",
                             "manifest.01-of-4.csv", "run.4-of-4.json", "manifest.1-of-4.csv.bak",
                             ".run.1-of-4.json.tmp.123", "run.1-of-4.jsonx"})
        std::ofstream(dir / name) << "x";
    char **manifests = nullptr, **runs = nullptr;
    size_t nm = 0, nr = 0;
    ASSERT_EQ(shard_records_list(dir.c_str(), &manifests, &nm, &runs, &nr, nullptr), MP_OK);
    std::vector<std::string> m(manifests, manifests + nm), r(runs, runs + nr);
    EXPECT_EQ(m, std::vector<std::string>({"manifest.0-of-4.csv", "manifest.0-of-4.csv.partial",
                                           "manifest.1-of-4.csv"}));
    EXPECT_EQ(r, std::vector<std::string>({"run.1-of-4.json", "run.10-of-12.json"}));
    shard_names_free(manifests, nm);
    shard_names_free(runs, nr);
    fs::remove_all(dir);
    ASSERT_EQ(shard_records_list(dir.c_str(), &manifests, &nm, &runs, &nr, nullptr), MP_OK);
    EXPECT_EQ(nm + nr, 0u);
    shard_names_free(manifests, nm);
    shard_names_free(runs, nr);
}

} // namespace
