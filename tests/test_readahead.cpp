// test_readahead.cpp - the read-ahead (src/input/readahead.c): the window's bookkeeping on
// its own, the thread over real files (skips, drops, what the decoders see), and the
// decode stage when a file changes between the read-ahead and the decode. No timings:
// what read-ahead gains is measured by bench/ (docs/readahead.md).
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dctk.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "mriprep/dicom.h"
#include "mriprep/pipeline.h"
#include "mriprep/readahead.h"
}

namespace {

// ---- the window ------------------------------------------------------------------------

struct Window {
    std::vector<uint64_t> sizes;
    readahead_window_t w{};
    Window(size_t max_files, uint64_t max_bytes) : sizes(max_files)
    {
        readahead_window_init(&w, sizes.data(), max_files, max_bytes);
    }
};

TEST(ReadaheadWindow, FillsUpToTheByteBoundThenWaitsForTheDecoders)
{
    Window win(100, 1000);
    readahead_window_t *w = &win.w;
    for (int i = 0; i < 4; i++) {
        ASSERT_TRUE(readahead_window_has_room(w, 250)) << i;
        readahead_window_issue(w, 250);
    }
    EXPECT_EQ(w->bytes_ahead, 1000u);
    EXPECT_FALSE(readahead_window_has_room(w, 1)); // 1001 > 1000
    EXPECT_TRUE(readahead_window_has_room(w, 0));  // a skipped file takes no bytes
    readahead_window_consume(w, 1);                // the first file decoded
    EXPECT_EQ(w->bytes_ahead, 750u);
    EXPECT_TRUE(readahead_window_has_room(w, 250));
    EXPECT_FALSE(readahead_window_has_room(w, 251));
}

TEST(ReadaheadWindow, FillsUpToTheFileBoundWhateverTheBytes)
{
    Window win(3, UINT64_MAX);
    readahead_window_t *w = &win.w;
    for (int i = 0; i < 3; i++) readahead_window_issue(w, 1);
    EXPECT_FALSE(readahead_window_has_room(w, 0));
    readahead_window_consume(w, 1);
    EXPECT_TRUE(readahead_window_has_room(w, 0));
    readahead_window_issue(w, 7); // its size lands in the slot the decoded file left
    EXPECT_EQ(w->next, 4u);
    EXPECT_EQ(w->bytes_ahead, 1u + 1u + 7u);
    readahead_window_consume(w, 4);
    EXPECT_EQ(w->bytes_ahead, 0u);
}

TEST(ReadaheadWindow, AFileLargerThanTheWindowGoesAloneWhenTheWindowIsEmpty)
{
    Window win(10, 100);
    readahead_window_t *w = &win.w;
    EXPECT_TRUE(readahead_window_has_room(w, 5000));
    readahead_window_issue(w, 5000);
    EXPECT_FALSE(readahead_window_has_room(w, 1));
    readahead_window_consume(w, 1);
    EXPECT_TRUE(readahead_window_has_room(w, 5000));
}

TEST(ReadaheadWindow, DecodersThatOvertakeTheReadAheadMoveItsNextFile)
{
    Window win(8, 1000);
    readahead_window_t *w = &win.w;
    readahead_window_issue(w, 10);
    readahead_window_issue(w, 20);
    readahead_window_consume(w, 5); // the decoders finished 5 files: 2..4 were never issued
    EXPECT_EQ(w->next, 5u);
    EXPECT_EQ(w->done, 5u);
    EXPECT_EQ(w->bytes_ahead, 0u);
    readahead_window_consume(w, 3); // a count never goes back
    EXPECT_EQ(w->done, 5u);
}

TEST(ReadaheadWindow, BytesAheadAlwaysEqualTheSumOverTheWindowInARandomWalk)
{
    // The ring of sizes against a plain list of every file's size.
    const size_t max_files = 7;
    const uint64_t max_bytes = 3000;
    Window win(max_files, max_bytes);
    readahead_window_t *w = &win.w;
    std::vector<uint64_t> all;
    uint64_t seed = 12345;
    auto rnd = [&seed]() { return (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
    size_t issued_total = 0;
    for (int step = 0; step < 20000; step++) {
        if (rnd() % 3) {
            const uint64_t bytes = rnd() % 900;
            if (readahead_window_has_room(w, bytes)) {
                if (all.size() <= w->next) all.resize(w->next + 1, 0);
                all[w->next] = bytes;
                readahead_window_issue(w, bytes);
                issued_total++;
            }
        } else {
            readahead_window_consume(w, w->done + rnd() % 3);
            if (all.size() < w->next) all.resize(w->next, 0);
        }
        uint64_t sum = 0;
        for (size_t i = w->done; i < w->next; i++) sum += all[i];
        ASSERT_EQ(w->bytes_ahead, sum) << "step " << step;
        ASSERT_LE(w->next - w->done, max_files) << "step " << step;
        ASSERT_TRUE(w->next == w->done + 1 || w->bytes_ahead <= max_bytes) << "step " << step;
    }
    EXPECT_GT(issued_total, 1000u);
}

// ---- options ---------------------------------------------------------------------------

TEST(ReadaheadOptions, ParseTakesAutoZeroAndWholeMegabytes)
{
    int64_t mb = 5;
    mp_error err;
    EXPECT_EQ(readahead_parse("auto", &mb, &err), MP_OK);
    EXPECT_EQ(mb, READAHEAD_AUTO);
    EXPECT_EQ(readahead_parse("0", &mb, &err), MP_OK);
    EXPECT_EQ(mb, 0);
    EXPECT_EQ(readahead_parse("256", &mb, &err), MP_OK);
    EXPECT_EQ(mb, 256);
    for (const char *bad : {"", "-1", "+4", "12MB", "1.5", "65537", "99999999999999999999", "Auto"}) {
        EXPECT_EQ(readahead_parse(bad, &mb, &err), MP_ERR_USAGE) << bad;
        EXPECT_NE(std::string(err.msg).find("--readahead"), std::string::npos) << err.msg;
    }
}

TEST(ReadaheadOptions, AutoIsBoundedByRamAndZeroIsOff)
{
    EXPECT_EQ(readahead_bytes_for(0), 0u);
    EXPECT_EQ(readahead_bytes_for(3), 3u << 20);
    const uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t autob = readahead_bytes_for(READAHEAD_AUTO);
    EXPECT_LE(autob, (uint64_t)READAHEAD_AUTO_MB << 20);
    EXPECT_TRUE(autob <= ram / 32 || autob == 8u << 20);
    EXPECT_GE(autob, 8u << 20);
}

TEST(ReadaheadOptions, DropPagesComesFromTheEnvironmentAndABadWordIsAnError)
{
    readahead_options_t o;
    mp_error err;
    setenv("MRIPREP_DROP_PAGES", "yes", 1);
    EXPECT_EQ(readahead_options_for(READAHEAD_AUTO, 1, &o, &err), MP_OK);
    EXPECT_EQ(o.drop, READAHEAD_DROP_ALWAYS);
    EXPECT_EQ(o.headers_only, 1);
    setenv("MRIPREP_DROP_PAGES", "no", 1);
    EXPECT_EQ(readahead_options_for(0, 0, &o, &err), MP_OK);
    EXPECT_EQ(o.drop, READAHEAD_DROP_NEVER);
    EXPECT_EQ(o.max_bytes, 0u);
    setenv("MRIPREP_DROP_PAGES", "sometimes", 1);
    EXPECT_EQ(readahead_options_for(READAHEAD_AUTO, 0, &o, &err), MP_ERR_USAGE);
    EXPECT_NE(std::string(err.msg).find("MRIPREP_DROP_PAGES"), std::string::npos) << err.msg;
    setenv("MRIPREP_DROP_PAGES", "auto", 1);
    EXPECT_EQ(readahead_options_for(READAHEAD_AUTO, 0, &o, &err), MP_OK);
    EXPECT_EQ(o.drop, READAHEAD_DROP_AUTO);
    unsetenv("MRIPREP_DROP_PAGES");
    EXPECT_EQ(readahead_options_for(READAHEAD_AUTO, 0, &o, &err), MP_OK);
    EXPECT_EQ(o.drop, READAHEAD_DROP_NEVER);
}

// ---- the thread over real files -----------------------------------------------------------

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/mriprep-readahead-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

void write_bytes(const std::string &path, size_t n, unsigned char fill)
{
    std::vector<unsigned char> b(n, fill);
    FILE *f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    ASSERT_EQ(std::fwrite(b.data(), 1, n, f), n);
    std::fflush(f);
    fsync(fileno(f)); // clean pages: POSIX_FADV_DONTNEED leaves dirty ones
    std::fclose(f);
}

// Pages of `path` in the page cache.
size_t resident_pages(const std::string &path)
{
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return 0;
    struct stat st;
    fstat(fd, &st);
    size_t pages = 0;
    if (st.st_size > 0) {
        void *m = mmap(nullptr, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        const long page = sysconf(_SC_PAGESIZE);
        std::vector<unsigned char> vec(((size_t)st.st_size + page - 1) / page);
        if (m != MAP_FAILED && mincore(m, (size_t)st.st_size, vec.data()) == 0)
            for (unsigned char v : vec) pages += v & 1;
        if (m != MAP_FAILED) munmap(m, (size_t)st.st_size);
    }
    close(fd);
    return pages;
}

// Waits (bounded) until the read-ahead has dealt with `n` files.
bool wait_for_position(readahead_t *ra, size_t n)
{
    for (int i = 0; i < 10000 && readahead_position(ra) < n; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return readahead_position(ra) >= n;
}

TEST(ReadaheadThread, IssuesEveryRegularFileAndSkipsMissingOnesAndFifos)
{
    TempDir d;
    std::vector<std::string> names;
    for (int i = 0; i < 6; i++) names.push_back(d.path + "/f" + std::to_string(i) + ".dcm");
    for (int i = 0; i < 6; i++)
        if (i != 2 && i != 4) write_bytes(names[i], 10000 + 1000 * i, (unsigned char)i);
    ASSERT_EQ(mkfifo(names[4].c_str(), 0600), 0); // never opened blocking: no hang
    std::vector<const char *> paths;
    for (auto &n : names) paths.push_back(n.c_str());

    readahead_options_t o{};
    o.max_bytes = 1 << 20;
    o.drop = READAHEAD_DROP_NEVER;
    readahead_t *ra = nullptr;
    mp_error err;
    ASSERT_EQ(readahead_start(paths.data(), paths.size(), &o, &ra, &err), MP_OK);
    ASSERT_NE(ra, nullptr);
    ASSERT_TRUE(wait_for_position(ra, paths.size()));
    readahead_stats_t s;
    readahead_stop(ra, &s);
    EXPECT_EQ(s.files_issued, 4u);
    EXPECT_EQ(s.files_skipped, 2u);
    EXPECT_EQ(s.bytes_issued, 10000u + 11000u + 13000u + 15000u);
    EXPECT_EQ(s.files_dropped, 0u);
}

TEST(ReadaheadThread, WindowStopsItUntilTheDecodersFinishFiles)
{
    TempDir d;
    std::vector<std::string> names;
    for (int i = 0; i < 10; i++) {
        names.push_back(d.path + "/g" + std::to_string(i));
        write_bytes(names.back(), 4096, 1);
    }
    std::vector<const char *> paths;
    for (auto &n : names) paths.push_back(n.c_str());
    readahead_options_t o{};
    o.max_bytes = 3 * 4096; // three files ahead
    readahead_t *ra = nullptr;
    mp_error err;
    ASSERT_EQ(readahead_start(paths.data(), paths.size(), &o, &ra, &err), MP_OK);
    ASSERT_TRUE(wait_for_position(ra, 3));
    // A full window stays full: the thread sleeps until a file is done.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(readahead_position(ra), 3u);
    readahead_file_done(ra);
    readahead_file_done(ra);
    ASSERT_TRUE(wait_for_position(ra, 5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(readahead_position(ra), 5u);
    for (int i = 0; i < 8; i++) readahead_file_done(ra);
    ASSERT_TRUE(wait_for_position(ra, 10));
    readahead_stats_t s;
    readahead_stop(ra, &s);
    EXPECT_EQ(s.files_issued + s.files_overtaken, 10u);
}

// Decoders that finish files before the thread reaches them (a loaded machine, or a warm
// cache) leave no file unaccounted: each decoded file is issued, overtaken or skipped,
// whether the thread saw them finish or stop came first.
TEST(ReadaheadThread, EveryFileIsAccountedForWhenTheDecodersFinishFirst)
{
    TempDir d;
    std::vector<std::string> names;
    for (int i = 0; i < 200; i++) {
        names.push_back(d.path + "/k" + std::to_string(i));
        write_bytes(names.back(), 4096, 3);
    }
    std::vector<const char *> paths;
    for (auto &n : names) paths.push_back(n.c_str());
    readahead_options_t o{};
    o.max_bytes = 4 * 4096;
    for (int round = 0; round < 20; round++) {
        readahead_t *ra = nullptr;
        mp_error err;
        ASSERT_EQ(readahead_start(paths.data(), paths.size(), &o, &ra, &err), MP_OK);
        for (size_t i = 0; i < paths.size(); i++) readahead_file_done(ra); // all at once
        if (round % 2) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        readahead_stats_t s;
        readahead_stop(ra, &s);
        EXPECT_EQ(s.files_issued + s.files_overtaken + s.files_skipped, paths.size())
            << "round " << round << ": issued " << s.files_issued << ", overtaken " << s.files_overtaken;
    }
}

TEST(ReadaheadThread, DropAlwaysEvictsTheRetiredFilesPagesOnly)
{
    TempDir d;
    std::vector<std::string> names;
    for (int i = 0; i < 4; i++) {
        names.push_back(d.path + "/h" + std::to_string(i));
        write_bytes(names.back(), 64 * 1024, 2);
    }
    // Read every file once so its pages are in the cache (what a decode leaves).
    for (auto &n : names) {
        std::vector<char> b(64 * 1024);
        FILE *f = std::fopen(n.c_str(), "rb");
        ASSERT_EQ(std::fread(b.data(), 1, b.size(), f), b.size());
        std::fclose(f);
    }
    const size_t before = resident_pages(names[3]);
    std::vector<const char *> paths;
    for (auto &n : names) paths.push_back(n.c_str());
    readahead_options_t o{};
    o.max_bytes = 1 << 20;
    o.drop = READAHEAD_DROP_ALWAYS;
    readahead_t *ra = nullptr;
    mp_error err;
    ASSERT_EQ(readahead_start(paths.data(), paths.size(), &o, &ra, &err), MP_OK);
    for (int i = 0; i < 2; i++) readahead_file_done(ra);
    readahead_retire(ra, 2);
    readahead_stats_t s;
    readahead_stop(ra, &s);
    EXPECT_EQ(s.files_dropped, 2u);
    EXPECT_TRUE(s.dropping);
    EXPECT_EQ(resident_pages(names[0]), 0u);
    EXPECT_EQ(resident_pages(names[1]), 0u);
    if (before > 0) {
        EXPECT_GT(resident_pages(names[3]), 0u); // not retired: left alone
    }
}

TEST(ReadaheadThread, NothingStartsWhenOffOrEmptyAndNullIsSafeEverywhere)
{
    const char *one[] = {"/nonexistent"};
    readahead_options_t o{};
    readahead_t *ra = reinterpret_cast<readahead_t *>(1);
    mp_error err;
    ASSERT_EQ(readahead_start(one, 1, &o, &ra, &err), MP_OK); // max_bytes 0: off
    EXPECT_EQ(ra, nullptr);
    o.max_bytes = 1 << 20;
    ASSERT_EQ(readahead_start(one, 0, &o, &ra, &err), MP_OK);
    EXPECT_EQ(ra, nullptr);
    readahead_file_done(nullptr);
    readahead_retire(nullptr, 3);
    EXPECT_EQ(readahead_position(nullptr), 0u);
    readahead_stats_t s;
    s.files_issued = 9;
    readahead_stop(nullptr, &s);
    EXPECT_EQ(s.files_issued, 0u);
}

// ---- what the decoders see when a file changes after its read-ahead -----------------------

// A 16 x 16 unsigned 16-bit MR slice with a bright square (`shade` added), written with
// dcmtk.
void write_slice(const std::string &path, int instance, int shade = 0)
{
    DcmFileFormat ff;
    DcmDataset *ds = ff.getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, UID_MRImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID, ("1.2.3.4." + std::to_string(instance)).c_str());
    ds->putAndInsertString(DCM_Modality, "MR");
    ds->putAndInsertUint16(DCM_Rows, 16);
    ds->putAndInsertUint16(DCM_Columns, 16);
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 16);
    ds->putAndInsertUint16(DCM_HighBit, 15);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertString(DCM_InstanceNumber, std::to_string(instance).c_str());
    std::vector<Uint16> px(256, 0);
    for (int r = 4; r < 12; r++)
        for (int c = 4; c < 12; c++) px[r * 16 + c] = (Uint16)(100 + instance + r + c + shade);
    ds->putAndInsertUint16Array(DCM_PixelData, px.data(), (unsigned long)px.size());
    ASSERT_TRUE(ff.saveFile(path.c_str(), EXS_LittleEndianExplicit).good()) << path;
}

// A series of n slices Image-1.dcm .. Image-n.dcm in a temporary folder.
struct SliceSeries {
    TempDir dir;
    std::vector<std::string> names;
    std::vector<const char *> paths;
    explicit SliceSeries(int n)
    {
        for (int i = 1; i <= n; i++) {
            names.push_back(dir.path + "/Image-" + std::to_string(i) + ".dcm");
            write_slice(names.back(), i);
        }
        for (auto &name : names) paths.push_back(name.c_str());
    }
};

// CPU pipeline options of 8x8 output slices.
pipeline_options_t small_cpu_options(int threads)
{
    pipeline_options_t popt;
    pipeline_options_default(&popt);
    popt.out_w = popt.out_h = 8;
    popt.threads = threads;
    popt.device = DEVICE_CPU;
    return popt;
}

TEST(ReadaheadDecode, FileThatShrinksOrVanishesAfterItsReadAheadFailsTheSeriesWithAReason)
{
    mp_error err;
    ASSERT_EQ(dicom_global_init(&err), MP_OK) << err.msg;
    SliceSeries series(5);
    const std::vector<std::string> &names = series.names;
    const std::vector<const char *> &paths = series.paths;
    pipeline_options_t popt = small_cpu_options(2);
    pipeline_t *p = nullptr;
    ASSERT_EQ(pipeline_create(&popt, &p, &err), MP_OK) << err.msg;

    // Untouched, the series is ok through the read-ahead.
    readahead_options_t o{};
    o.max_bytes = 1 << 20;
    readahead_t *ra = nullptr;
    ASSERT_EQ(readahead_start(paths.data(), paths.size(), &o, &ra, &err), MP_OK);
    series_result_t res;
    ASSERT_EQ(pipeline_process_series(p, paths.data(), paths.size(), ra, &res, &err), MP_OK) << err.msg;
    readahead_stop(ra, nullptr);
    EXPECT_EQ(res.outcome, SERIES_OK) << res.reason;

    // Read ahead, then file 2 is cut short and file 4 removed before the decode.
    ASSERT_EQ(readahead_start(paths.data(), paths.size(), &o, &ra, &err), MP_OK);
    ASSERT_TRUE(wait_for_position(ra, paths.size()));
    ASSERT_EQ(truncate(names[1].c_str(), 300), 0);
    ASSERT_EQ(unlink(names[3].c_str()), 0);
    ASSERT_EQ(pipeline_process_series(p, paths.data(), paths.size(), ra, &res, &err), MP_OK) << err.msg;
    readahead_stats_t s;
    readahead_stop(ra, &s);
    EXPECT_EQ(s.files_issued, 5u);
    EXPECT_EQ(res.outcome, SERIES_FAILED);
    const std::string reason = res.reason;
    EXPECT_NE(reason.find("Image-2.dcm"), std::string::npos) << reason;
    EXPECT_NE(reason.find("and 1 more unreadable"), std::string::npos) << reason;
    pipeline_destroy(p);
}

// ---- a series past the pixel budget: its selected files are read twice ---------------------

TEST(PipelineBudget, AFileThatChangesBetweenItsTwoReadsFailsTheSeriesNamingIt)
{
    mp_error err;
    ASSERT_EQ(dicom_global_init(&err), MP_OK) << err.msg;
    SliceSeries series(40);
    const std::vector<std::string> &names = series.names;
    const std::vector<const char *> &paths = series.paths;
    pipeline_options_t popt = small_cpu_options(1); // files decoded in order: the first 8 are held
    popt.slices = 4;                                  // the middle 4: Image-19 to Image-22
    pipeline_t *p = nullptr, *whole = nullptr;
    ASSERT_EQ(pipeline_create(&popt, &p, &err), MP_OK) << err.msg;
    ASSERT_EQ(pipeline_create(&popt, &whole, &err), MP_OK) << err.msg;
    pipeline_set_pixel_budget(p, 8 * 16 * 16 * 2);

    // Untouched: read again, the same volume as a pipeline that held every file.
    series_result_t res, expect;
    ASSERT_EQ(pipeline_process_series(whole, paths.data(), paths.size(), nullptr, &expect, &err), MP_OK) << err.msg;
    ASSERT_EQ(pipeline_process_series(p, paths.data(), paths.size(), nullptr, &res, &err), MP_OK) << err.msg;
    ASSERT_EQ(res.outcome, SERIES_OK) << res.reason;
    EXPECT_EQ(res.reread, 4u);
    EXPECT_EQ(expect.reread, 0u);
    ASSERT_EQ(res.volume_bytes, expect.volume_bytes);
    EXPECT_EQ(memcmp(res.volume, expect.volume, res.volume_bytes), 0);

    // Rewritten with other pixels, removed, or with another header between decode and
    // compute: the series fails naming the file.
    struct Change {
        int index;
        const char *what;
    } changes[] = {{20, "pixels changed"}, {21, "cannot open"}, {19, "header changed"}};
    for (const Change &c : changes) {
        // A new pipeline: the last one's selected slots still hold buffers, which a next
        // series reuses within the budget (it would hold those files, not read them twice).
        pipeline_destroy(p);
        ASSERT_EQ(pipeline_create(&popt, &p, &err), MP_OK) << err.msg;
        pipeline_set_pixel_budget(p, 8 * 16 * 16 * 2);
        ASSERT_EQ(pipeline_decode(p, 0, paths.data(), paths.size(), nullptr, &err), MP_OK) << err.msg;
        const std::string &name = names[c.index - 1];
        if (c.index == 20) write_slice(name, 20, 1);
        else if (c.index == 21) ASSERT_EQ(unlink(name.c_str()), 0);
        else write_slice(name, 119); // its InstanceNumber (and pixels) differ
        ASSERT_EQ(pipeline_compute(p, 0, 0, &res, &err), MP_OK) << err.msg;
        EXPECT_EQ(res.outcome, SERIES_FAILED) << c.what;
        const std::string reason = res.reason;
        EXPECT_NE(reason.find("Image-" + std::to_string(c.index) + ".dcm"), std::string::npos) << reason;
        EXPECT_NE(reason.find(c.what), std::string::npos) << reason;
        write_slice(name, c.index); // as it was, for the next change
    }
    pipeline_destroy(p);
    pipeline_destroy(whole);
}

} // namespace
