// test_dataset.cpp - the walk stage (dataset_walk, natural_name_compare,
// has_dcm_extension) and the labels CSV (labels_load, labels_find), on real folder
// trees and files built under a fresh temporary directory per test.
//
// The walk never reads the .dcm files, so they are a few bytes of text. Exact
// results throughout: names, order, counts and statuses are integers and strings.
// The natural order is checked against an independent reference of the documented
// rule: key = (has digits ? 0 : 1, last run of digits as a big integer, name bytes).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mriprep/dataset.h"
#include "mriprep/error.h"
#include "mriprep/labels.h"

namespace fs = std::filesystem;

namespace {

// ---- fixtures and helpers ---------------------------------------------------------

// A fresh folder under /tmp, removed (with everything in it) at the end of the test.
// Folders whose permissions a test took away are given back first, so removal works.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/mriprep_test_dataset_XXXXXX";
        const char *made = mkdtemp(tmpl);
        if (made) path_ = made;
    }
    ~TempDir()
    {
        for (const std::string &p : locked_) chmod(p.c_str(), 0755);
        if (!path_.empty()) {
            std::error_code ec;
            fs::remove_all(path_, ec); // does not follow symbolic links
        }
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }
    bool ok() const { return !path_.empty(); }

    // chmod 000, remembered so the destructor can undo it.
    void lock(const std::string &p)
    {
        ASSERT_EQ(chmod(p.c_str(), 0), 0) << p << ": " << strerror(errno);
        locked_.push_back(p);
    }

private:
    std::string path_;
    std::vector<std::string> locked_;
};

void write_file(const std::string &path, const std::string &content)
{
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream f(path, std::ios::binary);
    ASSERT_TRUE(f.good()) << "cannot create " << path;
    f << content;
    ASSERT_TRUE(f.good()) << "cannot write " << path;
}

void make_dir(const std::string &path) { fs::create_directories(path); }

// A modality folder with fake .dcm files (the walk never reads them).
void make_series(const std::string &dir, const std::vector<std::string> &names)
{
    make_dir(dir);
    for (const std::string &n : names) write_file(dir + "/" + n, "not really DICOM\n");
}

std::string s_or_empty(const char *s) { return s ? s : "(null)"; }

const char *presence_name(series_presence_t p)
{
    switch (p) {
    case SERIES_PRESENT: return "present";
    case SERIES_NO_FOLDER: return "no_folder";
    case SERIES_NO_DCM: return "no_dcm";
    case SERIES_EXCLUDED: return "excluded";
    case SERIES_UNREADABLE: return "unreadable";
    }
    return "?";
}

std::vector<std::string> files_of(const series_t &s)
{
    std::vector<std::string> v;
    for (size_t i = 0; i < s.n_files; i++) v.push_back(s.files[i]);
    return v;
}

// Owns a dataset_t and the options that it points into.
struct Walk {
    std::vector<std::string> modality_names;
    std::vector<const char *> modalities;
    std::vector<std::string> exclude_names;
    std::vector<const char *> exclude;
    dataset_options_t opt;
    dataset_t ds;
    mp_error err;
    mp_status st = MP_ERR_INTERNAL;

    explicit Walk(std::vector<std::string> mods = {"FLAIR", "T1w", "T1wCE", "T2w"},
                  std::vector<std::string> excl = {}, label_table_t *labels = nullptr)
        : modality_names(std::move(mods)), exclude_names(std::move(excl))
    {
        for (const std::string &m : modality_names) modalities.push_back(m.c_str());
        for (const std::string &e : exclude_names) exclude.push_back(e.c_str());
        memset(&opt, 0, sizeof opt);
        opt.modalities = modalities.data();
        opt.n_modalities = modalities.size();
        opt.exclude = exclude.empty() ? nullptr : exclude.data();
        opt.n_exclude = exclude.size();
        opt.labels = labels;
        memset(&ds, 0xA5, sizeof ds); // the walk must initialise it, success or not
        mp_error_clear(&err);
    }
    ~Walk() { dataset_free(&ds); }
    Walk(const Walk &) = delete;
    Walk &operator=(const Walk &) = delete;

    mp_status run(const std::string &root)
    {
        st = dataset_walk(root.c_str(), &opt, &ds, &err);
        return st;
    }

    // The series of (split, patient, modality), or nullptr.
    const series_t *find(const std::string &split, const std::string &patient, const std::string &modality) const
    {
        for (size_t i = 0; i < ds.n_series; i++) {
            const series_t &s = ds.series[i];
            if (split == s.split && patient == s.patient && modality == s.modality) return &s;
        }
        return nullptr;
    }

    // "split/patient/modality" of every series, in the order returned.
    std::vector<std::string> keys() const
    {
        std::vector<std::string> v;
        for (size_t i = 0; i < ds.n_series; i++) {
            const series_t &s = ds.series[i];
            v.push_back(std::string(s.split) + "/" + s.patient + "/" + s.modality);
        }
        return v;
    }
};

// ---- reference natural order: written here from the documented rule ----------------

struct NaturalKey {
    int no_digits;      // 0: has digits, 1: none
    std::string number; // last run of digits, leading zeros removed ("0" for zero)
    std::string name;
};

NaturalKey natural_key(const std::string &name)
{
    NaturalKey k{1, "", name};
    size_t end = std::string::npos;
    for (size_t i = name.size(); i-- > 0;) {
        if (name[i] >= '0' && name[i] <= '9') {
            end = i + 1;
            break;
        }
    }
    if (end == std::string::npos) return k;
    size_t begin = end;
    while (begin > 0 && name[begin - 1] >= '0' && name[begin - 1] <= '9') begin--;
    std::string digits = name.substr(begin, end - begin);
    size_t nz = digits.find_first_not_of('0');
    k.no_digits = 0;
    k.number = nz == std::string::npos ? "0" : digits.substr(nz);
    return k;
}

// Big integers as decimal strings without leading zeros: longer is larger.
bool reference_less(const std::string &a, const std::string &b)
{
    NaturalKey ka = natural_key(a), kb = natural_key(b);
    if (ka.no_digits != kb.no_digits) return ka.no_digits < kb.no_digits;
    if (ka.number.size() != kb.number.size()) return ka.number.size() < kb.number.size();
    if (ka.number != kb.number) return ka.number < kb.number;
    // Name bytes as unsigned char, like strcmp.
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return (unsigned char)x < (unsigned char)y;
    });
}

int sign(int v) { return (v > 0) - (v < 0); }
int ncmp(const std::string &a, const std::string &b) { return sign(natural_name_compare(a.c_str(), b.c_str())); }

// ---- natural_name_compare ------------------------------------------------------------

TEST(NaturalNameCompare, NumbersCompareByValueNotText)
{
    EXPECT_LT(ncmp("Image-2.dcm", "Image-10.dcm"), 0);
    EXPECT_LT(ncmp("Image-10.dcm", "Image-100.dcm"), 0);
    EXPECT_LT(ncmp("Image-2.dcm", "Image-100.dcm"), 0);
    EXPECT_GT(ncmp("Image-100.dcm", "Image-2.dcm"), 0);
    EXPECT_GT(ncmp("Image-10.dcm", "Image-9.dcm"), 0);
    EXPECT_LT(ncmp("Image-0.dcm", "Image-1.dcm"), 0);
    EXPECT_LT(ncmp("Image-2", "Image-10"), 0); // no extension
}

TEST(NaturalNameCompare, LeadingZerosAreTheSameNumberTieBrokenByBytes)
{
    // 007 == 7 as numbers; the bytes decide: '0' (0x30) < '7' (0x37).
    EXPECT_LT(ncmp("Image-007.dcm", "Image-7.dcm"), 0);
    EXPECT_GT(ncmp("Image-7.dcm", "Image-007.dcm"), 0);
    // Same number, leading zeros do not make it larger than a bigger number.
    EXPECT_LT(ncmp("Image-007.dcm", "Image-8.dcm"), 0);
    EXPECT_GT(ncmp("Image-0010.dcm", "Image-9.dcm"), 0);
    EXPECT_LT(ncmp("Image-000000000000000000000000000009.dcm", "Image-10.dcm"), 0);
    // Zero written several ways.
    EXPECT_LT(ncmp("Image-0.dcm", "Image-000.dcm"), 0); // "Image-0." vs "Image-00": '.' < '0'
    EXPECT_LT(ncmp("Image-000.dcm", "Image-1.dcm"), 0);
}

TEST(NaturalNameCompare, NumbersLongerThan64BitsCompareCorrectly)
{
    const std::string max64 = "18446744073709551615"; // 2^64 - 1
    const std::string over64 = "18446744073709551616"; // 2^64: wraps to 0 in uint64
    EXPECT_LT(ncmp("Image-" + max64, "Image-" + over64), 0);
    EXPECT_LT(ncmp("Image-1", "Image-" + over64), 0);
    EXPECT_LT(ncmp("Image-" + over64, "Image-" + over64 + "0"), 0);
    const std::string a(300, '9');        // 300 nines
    const std::string b = "1" + std::string(300, '0'); // 10^300
    EXPECT_LT(ncmp("x" + a, "x" + b), 0);
    EXPECT_GT(ncmp("x" + b, "x" + a), 0);
    EXPECT_LT(ncmp("x" + a, "x" + std::string(5, '0') + b), 0);     // zeros in front do not count
    EXPECT_LT(ncmp("x" + std::string(40, '0') + "5", "x6"), 0);
    EXPECT_LT(ncmp("y99999999999999999999999", "y100000000000000000000000"), 0);
}

TEST(NaturalNameCompare, LastRunOfDigitsDecides)
{
    EXPECT_GT(ncmp("s2-Image-10.dcm", "s9-Image-9.dcm"), 0);
    EXPECT_LT(ncmp("s9-Image-9.dcm", "s2-Image-10.dcm"), 0);
    EXPECT_LT(ncmp("a100b2", "a1b3"), 0);
    // Same last number: the bytes decide, so "s2" before "s9".
    EXPECT_LT(ncmp("s2-Image-5.dcm", "s9-Image-5.dcm"), 0);
}

TEST(NaturalNameCompare, NamesWithoutDigitsSortAfterNamesWithDigits)
{
    EXPECT_GT(ncmp("Image.dcm", "Image-999.dcm"), 0);
    EXPECT_LT(ncmp("zzz-1.dcm", "aaa.dcm"), 0);
    EXPECT_LT(ncmp(std::string(1, 'z') + "99999999999999999999999999", "a"), 0);
    EXPECT_GT(ncmp("", "0"), 0);
    // Among names without digits: bytes.
    EXPECT_LT(ncmp("abc", "abd"), 0);
    EXPECT_LT(ncmp("", "a"), 0);
}

TEST(NaturalNameCompare, IdenticalNamesCompareEqual)
{
    for (const char *n : {"", "Image-1.dcm", "Image-007.dcm", "nodigits", "12345678901234567890123456789"}) {
        SCOPED_TRACE(n);
        EXPECT_EQ(natural_name_compare(n, n), 0);
        std::string copy = n; // different pointers, same bytes
        EXPECT_EQ(natural_name_compare(n, copy.c_str()), 0);
    }
}

// Few hundred random names: antisymmetry, transitivity, and std::sort with the
// comparison gives the reference order.
TEST(NaturalNameCompare, IsAStrictWeakOrderMatchingTheReferenceOnRandomNames)
{
    std::mt19937 rng(20210713u);
    const std::string letters = "abzAZ-_.";
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    auto random_digits = [&]() {
        std::string d;
        int zeros = pick(4) == 0 ? pick(4) : 0;
        d.append(zeros, '0');
        int len = pick(10) == 0 ? 18 + pick(30) : 1 + pick(4); // some beyond 64 bits
        for (int i = 0; i < len; i++) d += char('0' + pick(10));
        return d;
    };
    std::vector<std::string> names;
    for (int i = 0; i < 300; i++) {
        std::string n;
        int parts = pick(5);
        for (int p = 0; p < parts; p++) {
            if (pick(2)) n += letters[pick((int)letters.size())];
            else n += random_digits();
        }
        if (pick(3) == 0) n = "Image-" + random_digits() + (pick(2) ? ".dcm" : ".DCM");
        names.push_back(n);
    }
    // Forced near-ties: same number, different spelling.
    for (const char *n : {"Image-7", "Image-07", "Image-007", "Image-7.dcm", "Image-", "Image", "7", "07", ""})
        names.push_back(n);
    names.push_back(names[5]); // exact duplicate

    const size_t n = names.size();
    std::vector<std::vector<int>> c(n, std::vector<int>(n));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) c[i][j] = ncmp(names[i], names[j]);

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            SCOPED_TRACE("a='" + names[i] + "' b='" + names[j] + "'");
            ASSERT_EQ(c[i][j], -c[j][i]) << "not antisymmetric";
            ASSERT_EQ(c[i][j] == 0, names[i] == names[j]) << "0 only for identical names";
            int want = reference_less(names[i], names[j]) ? -1 : reference_less(names[j], names[i]) ? 1 : 0;
            ASSERT_EQ(c[i][j], want) << "differs from the reference rule";
        }
    }
    // Transitivity over every triple of the first 120 names.
    const size_t m = std::min<size_t>(n, 120);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            if (c[i][j] < 0)
                for (size_t k = 0; k < m; k++)
                    if (c[j][k] < 0) {
                        SCOPED_TRACE(names[i] + " < " + names[j] + " < " + names[k]);
                        ASSERT_LT(c[i][k], 0) << "not transitive";
                    }

    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end(), [](const std::string &a, const std::string &b) {
        return natural_name_compare(a.c_str(), b.c_str()) < 0;
    });
    std::vector<std::string> reference = names;
    std::sort(reference.begin(), reference.end(), reference_less);
    for (size_t i = 1; i < sorted.size(); i++) {
        SCOPED_TRACE("position " + std::to_string(i));
        ASSERT_LE(ncmp(sorted[i - 1], sorted[i]), 0) << sorted[i - 1] << " / " << sorted[i];
    }
    EXPECT_EQ(sorted, reference);
}

// ---- has_dcm_extension ---------------------------------------------------------------

TEST(HasDcmExtension, AcceptsDotDcmInAnyCase)
{
    for (const char *n : {"Image-1.dcm", "Image-1.DCM", "Image-1.Dcm", "a.dCm", "x.y.dcm"}) {
        SCOPED_TRACE(n);
        EXPECT_EQ(has_dcm_extension(n), 1);
    }
}

TEST(HasDcmExtension, RejectsOtherEndings)
{
    for (const char *n : {"Image-1.dcm.bak", "dcm", "Image-1dcm", "Image-1.dicom", "x.dc", "", "Image-1.dcm ",
                          "Image-1.dcmx", "Image-1.txt"}) {
        SCOPED_TRACE(std::string("'") + n + "'");
        EXPECT_EQ(has_dcm_extension(n), 0);
    }
}

// ---- dataset_walk ------------------------------------------------------------------

// DATA/train/{00002,00010,00100}, DATA/test/{00001}: the full happy path.
TEST(DatasetWalk, SplitLayoutListsSeriesInOrderWithFilesInNaturalOrder)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    // Created out of order: the walk must sort, not rely on readdir order.
    for (const char *p : {"00100", "00002", "00010"}) {
        for (const char *m : {"T2w", "FLAIR", "T1w", "T1wCE"})
            make_series(data + "/train/" + p + "/" + m, {"Image-10.dcm", "Image-2.dcm", "Image-1.dcm"});
    }
    // One series with a richer file set: upper case, non-.dcm files, numbers with gaps.
    const std::string odd = data + "/train/00002/FLAIR";
    make_series(odd, {"Image-100.dcm", "Image-9.DCM", "Image-33.Dcm", "notes.txt", "Image-4.dcm.bak",
                      "Thumbs.db"});
    make_series(data + "/test/00001/FLAIR", {"Image-3.dcm"});
    make_series(data + "/test/00001/T1w", {"Image-1.dcm"});
    make_series(data + "/test/00001/T1wCE", {"Image-1.dcm"});
    make_series(data + "/test/00001/T2w", {"Image-1.dcm"});
    write_file(data + "/train_labels.csv", "BraTS21ID,MGMT_value\n");

    Walk w({"T1wCE", "FLAIR"}); // requested order differs from alphabetical
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;

    std::vector<std::string> want_keys = {
        "train/00002/T1wCE", "train/00002/FLAIR", "train/00010/T1wCE", "train/00010/FLAIR",
        "train/00100/T1wCE", "train/00100/FLAIR", "test/00001/T1wCE",  "test/00001/FLAIR",
    };
    EXPECT_EQ(w.keys(), want_keys);
    EXPECT_EQ(w.ds.n_series, 8u);
    EXPECT_EQ(w.ds.n_patients, 4u);
    EXPECT_EQ(s_or_empty(w.ds.splits_text), "train,test");

    const series_t *s = w.find("train", "00002", "FLAIR");
    ASSERT_NE(s, nullptr);
    SCOPED_TRACE("train/00002/FLAIR");
    EXPECT_EQ(s->presence, SERIES_PRESENT) << presence_name(s->presence);
    EXPECT_EQ(s_or_empty(s->dir), odd);
    std::vector<std::string> want_files = {odd + "/Image-1.dcm",  odd + "/Image-2.dcm",  odd + "/Image-9.DCM",
                                           odd + "/Image-10.dcm", odd + "/Image-33.Dcm", odd + "/Image-100.dcm"};
    EXPECT_EQ(files_of(*s), want_files);
    EXPECT_EQ(s->n_other, 3u); // notes.txt, Image-4.dcm.bak, Thumbs.db
    EXPECT_EQ(s_or_empty(s->label), "");
    EXPECT_EQ(s->problem, nullptr);

    const series_t *ce = w.find("train", "00100", "T1wCE");
    ASSERT_NE(ce, nullptr);
    const std::string ce_dir = data + "/train/00100/T1wCE";
    EXPECT_EQ(files_of(*ce), (std::vector<std::string>{ce_dir + "/Image-1.dcm", ce_dir + "/Image-2.dcm",
                                                       ce_dir + "/Image-10.dcm"}));
    EXPECT_EQ(ce->n_other, 0u);

    const series_t *test_flair = w.find("test", "00001", "FLAIR");
    ASSERT_NE(test_flair, nullptr);
    EXPECT_EQ(files_of(*test_flair), std::vector<std::string>{data + "/test/00001/FLAIR/Image-3.dcm"});

    // 5 train series x 3 files + 6 in the odd one + 2 test series x 1 file.
    EXPECT_EQ(w.ds.n_files, 5u * 3u + 6u + 2u);
    size_t sum = 0;
    for (size_t i = 0; i < w.ds.n_series; i++) sum += w.ds.series[i].n_files;
    EXPECT_EQ(w.ds.n_files, sum);
    EXPECT_EQ(w.ds.n_images_without_label, 0u); // no labels table given
    EXPECT_EQ(w.ds.n_labels_without_images, 0u);
}

TEST(DatasetWalk, MissingModalityFolderIsNoFolder)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/train/00000/FLAIR", {"Image-1.dcm"});
    make_series(data + "/train/00000/T2w", {"Image-1.dcm"});
    // A plain file where a modality folder should be is not a folder either.
    write_file(data + "/train/00000/T1w", "I am a file\n");

    Walk w({"FLAIR", "T1w", "T1wCE", "T2w"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    ASSERT_EQ(w.ds.n_series, 4u);
    EXPECT_EQ(s_or_empty(w.ds.splits_text), "train");
    for (const char *m : {"T1w", "T1wCE"}) {
        SCOPED_TRACE(m);
        const series_t *s = w.find("train", "00000", m);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->presence, SERIES_NO_FOLDER) << presence_name(s->presence);
        EXPECT_EQ(s->n_files, 0u);
        EXPECT_EQ(s_or_empty(s->dir), data + "/train/00000/" + m); // the row can still name it
    }
    EXPECT_EQ(w.find("train", "00000", "FLAIR")->presence, SERIES_PRESENT);
    EXPECT_EQ(w.find("train", "00000", "T2w")->presence, SERIES_PRESENT);
    EXPECT_EQ(w.ds.n_files, 2u);
}

TEST(DatasetWalk, FolderWithoutDcmFilesIsNoDcm)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/train/00003/FLAIR", {});                                 // empty
    make_series(data + "/train/00003/T1w", {"readme.txt", "Image-1.dcm.part"}); // no .dcm
    make_dir(data + "/train/00003/T1w/sub.dcm");                                 // a folder named .dcm

    Walk w({"FLAIR", "T1w"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    ASSERT_EQ(w.ds.n_series, 2u);
    const series_t *flair = w.find("train", "00003", "FLAIR");
    const series_t *t1 = w.find("train", "00003", "T1w");
    ASSERT_NE(flair, nullptr);
    ASSERT_NE(t1, nullptr);
    EXPECT_EQ(flair->presence, SERIES_NO_DCM) << presence_name(flair->presence);
    EXPECT_EQ(flair->n_files, 0u);
    EXPECT_EQ(flair->n_other, 0u);
    EXPECT_EQ(t1->presence, SERIES_NO_DCM) << presence_name(t1->presence);
    EXPECT_EQ(t1->n_files, 0u);
    EXPECT_EQ(t1->n_other, 2u); // the folder sub.dcm is neither
    EXPECT_EQ(w.ds.n_files, 0u);
    EXPECT_EQ(w.ds.n_patients, 1u);
}

TEST(DatasetWalk, ExcludeMatchesPaddedAndUnpaddedIds)
{
    for (const char *spelling : {"109", "00109", " 109"}) {
        SCOPED_TRACE(std::string("--exclude '") + spelling + "'");
        TempDir t;
        ASSERT_TRUE(t.ok());
        const std::string data = t / "DATA";
        for (const char *p : {"00108", "00109", "01090"})
            for (const char *m : {"FLAIR", "T2w"}) make_series(data + "/train/" + p + "/" + m, {"Image-1.dcm", "Image-2.dcm"});

        Walk w({"FLAIR", "T2w"}, {"00123", spelling});
        ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
        ASSERT_EQ(w.ds.n_series, 6u);
        EXPECT_EQ(w.ds.n_patients, 3u); // excluded ones are still patients found
        for (const char *m : {"FLAIR", "T2w"}) {
            SCOPED_TRACE(m);
            const series_t *ex = w.find("train", "00109", m);
            ASSERT_NE(ex, nullptr);
            EXPECT_EQ(ex->presence, SERIES_EXCLUDED) << presence_name(ex->presence);
            EXPECT_EQ(ex->n_files, 0u);
            EXPECT_EQ(ex->files == nullptr || ex->n_files == 0, true);
            for (const char *p : {"00108", "01090"}) { // 1090 is not 109
                const series_t *s = w.find("train", p, m);
                ASSERT_NE(s, nullptr);
                EXPECT_EQ(s->presence, SERIES_PRESENT) << p << " " << presence_name(s->presence);
                EXPECT_EQ(s->n_files, 2u);
            }
        }
        EXPECT_EQ(w.ds.n_files, 8u); // excluded files are not counted
    }
}

TEST(DatasetWalk, HiddenFoldersAndPlainFilesBesidePatientsAreIgnored)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/train/00000/FLAIR", {"Image-1.dcm"});
    make_series(data + "/train/.ipynb_checkpoints/FLAIR", {"Image-1.dcm"});
    make_series(data + "/train/.hidden/FLAIR", {"Image-1.dcm"});
    write_file(data + "/train/notes.txt", "x\n");
    write_file(data + "/train/00001.dcm", "a plain file named like a patient\n");
    write_file(data + "/train/00000/readme.txt", "a file beside the modality folders\n");
    make_series(data + "/test/.ipynb_checkpoints/FLAIR", {"Image-1.dcm"});

    Walk w({"FLAIR"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    EXPECT_EQ(w.keys(), std::vector<std::string>{"train/00000/FLAIR"});
    EXPECT_EQ(w.ds.n_patients, 1u);
    EXPECT_EQ(w.ds.n_files, 1u);
}

// "extra" is unreadable and huge: it must never appear, never be opened, never be counted.
TEST(DatasetWalk, FoldersThatAreNotRequestedModalitiesAreNeverListed)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/train/00000/FLAIR", {"Image-1.dcm", "Image-2.dcm"});
    make_series(data + "/train/00000/T1w", {"Image-1.dcm"}); // exists, not requested
    const std::string extra = data + "/train/00000/extra";
    make_dir(extra);
    for (int i = 0; i < 2000; i++) {
        int fd = open((extra + "/Image-" + std::to_string(i) + ".dcm").c_str(), O_CREAT | O_WRONLY, 0644);
        ASSERT_GE(fd, 0);
        close(fd);
    }
    make_dir(extra + "/deeper/FLAIR");
    t.lock(extra);

    Walk w({"FLAIR"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    EXPECT_EQ(w.keys(), std::vector<std::string>{"train/00000/FLAIR"});
    EXPECT_EQ(w.ds.n_files, 2u);
    for (size_t i = 0; i < w.ds.n_series; i++) {
        const series_t &s = w.ds.series[i];
        EXPECT_EQ(s.presence, SERIES_PRESENT);
        EXPECT_EQ(s.problem, nullptr);
        EXPECT_EQ(s.n_other, 0u);
        for (size_t f = 0; f < s.n_files; f++)
            EXPECT_EQ(std::string(s.files[f]).find("extra"), std::string::npos) << s.files[f];
    }
}

TEST(DatasetWalk, SymbolicLinkLoopsAreNotFollowedAndLinksToFilesCount)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    const std::string patient = data + "/train/00000";
    const std::string flair = patient + "/FLAIR";
    make_series(flair, {"Image-1.dcm", "Image-3.dcm"});
    write_file(t / "elsewhere/real.dcm", "target\n");
    ASSERT_EQ(symlink(patient.c_str(), (flair + "/back_to_patient.dcm").c_str()), 0) << strerror(errno);
    ASSERT_EQ(symlink("..", (flair + "/up").c_str()), 0) << strerror(errno);
    ASSERT_EQ(symlink(".", (flair + "/self.dcm").c_str()), 0) << strerror(errno);
    ASSERT_EQ(symlink("loop.dcm", (flair + "/loop.dcm").c_str()), 0) << strerror(errno); // ELOOP
    ASSERT_EQ(symlink((t / "elsewhere/real.dcm").c_str(), (flair + "/Image-2.dcm").c_str()), 0) << strerror(errno);
    // A loop one level up, beside the modality folders and at patient level.
    ASSERT_EQ(symlink("..", (patient + "/T2w_loop").c_str()), 0) << strerror(errno);
    ASSERT_EQ(symlink(".", (data + "/train/self").c_str()), 0) << strerror(errno);

    Walk w({"FLAIR"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    // train/self is a link to train itself: a folder, so a patient "self" (with no
    // FLAIR inside train) - walked once, not recursively.
    const series_t *s = w.find("train", "00000", "FLAIR");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->presence, SERIES_PRESENT);
    // loop.dcm (a link to itself) cannot be opened: it stays in the series, so decoding
    // fails it with a reason instead of leaving a silent hole; links to folders do not.
    EXPECT_EQ(files_of(*s), (std::vector<std::string>{flair + "/Image-1.dcm", flair + "/Image-2.dcm",
                                                      flair + "/Image-3.dcm", flair + "/loop.dcm"}));
    EXPECT_EQ(s->n_other, 0u); // links to folders and loops are not "other files" either
    EXPECT_EQ(w.ds.n_files, 4u);
    for (size_t i = 0; i < w.ds.n_series; i++) {
        if (std::string(w.ds.series[i].patient) != "00000") {
            EXPECT_EQ(w.ds.series[i].presence, SERIES_NO_FOLDER) << w.ds.series[i].patient;
        }
    }
}

TEST(DatasetWalk, DanglingLinkNamedDcmStaysInTheSeriesSoItFailsLoudly)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    const std::string flair = data + "/train/00000/FLAIR";
    make_series(flair, {"Image-1.dcm", "Image-3.dcm"});
    ASSERT_EQ(symlink((t / "gone/Image-2.dcm").c_str(), (flair + "/Image-2.dcm").c_str()), 0) << strerror(errno);
    ASSERT_EQ(symlink((t / "gone/notes.txt").c_str(), (flair + "/notes.txt").c_str()), 0) << strerror(errno);
    Walk w({"FLAIR"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    const series_t *s = w.find("train", "00000", "FLAIR");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(files_of(*s), (std::vector<std::string>{flair + "/Image-1.dcm", flair + "/Image-2.dcm",
                                                      flair + "/Image-3.dcm"}));
    EXPECT_EQ(s->n_other, 0u);
}

TEST(DatasetWalk, FlatLayoutHasPatientsDirectlyInDataWithEmptySplit)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/00010/FLAIR", {"Image-2.dcm", "Image-1.dcm"});
    make_series(data + "/00002/FLAIR", {"Image-1.dcm"});
    write_file(data + "/train_labels.csv", "BraTS21ID,MGMT_value\n00002,1\n");
    write_file(data + "/train", "a file named train is not the split folder\n");

    Walk w({"FLAIR"});
    ASSERT_EQ(w.run(data + "/"), MP_OK) << w.err.msg; // trailing slash: no "//" in paths
    EXPECT_EQ(w.keys(), (std::vector<std::string>{"/00002/FLAIR", "/00010/FLAIR"}));
    EXPECT_EQ(s_or_empty(w.ds.splits_text), ".");
    EXPECT_EQ(w.ds.n_patients, 2u);
    const series_t *s = w.find("", "00010", "FLAIR");
    ASSERT_NE(s, nullptr);
    EXPECT_STREQ(s->split, "");
    EXPECT_EQ(s_or_empty(s->dir), data + "/00010/FLAIR");
    EXPECT_EQ(files_of(*s), (std::vector<std::string>{data + "/00010/FLAIR/Image-1.dcm",
                                                      data + "/00010/FLAIR/Image-2.dcm"}));
    EXPECT_EQ(w.ds.n_files, 3u);
}

TEST(DatasetWalk, MissingRootIsIoErrorNamingIt)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string missing = t / "no_such_DATA";
    Walk w;
    EXPECT_EQ(w.run(missing), MP_ERR_IO);
    EXPECT_NE(std::string(w.err.msg).find(missing), std::string::npos) << w.err.msg;
    EXPECT_EQ(w.ds.n_series, 0u); // left empty
    EXPECT_EQ(w.ds.series, nullptr);
    EXPECT_EQ(w.ds.n_patients, 0u);
}

TEST(DatasetWalk, RootThatIsARegularFileIsIoError)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string file = t / "DATA.zip";
    write_file(file, "PK\n");
    Walk w;
    EXPECT_EQ(w.run(file), MP_ERR_IO);
    EXPECT_NE(std::string(w.err.msg).find(file), std::string::npos) << w.err.msg;
    EXPECT_EQ(w.ds.n_series, 0u);
    EXPECT_EQ(w.ds.series, nullptr);
}

TEST(DatasetWalk, EmptyRootIsOkWithNoPatients)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_dir(data);
    {
        Walk w;
        EXPECT_EQ(w.run(data), MP_OK) << w.err.msg;
        EXPECT_EQ(w.ds.n_patients, 0u);
        EXPECT_EQ(w.ds.n_series, 0u);
        EXPECT_EQ(w.ds.n_files, 0u);
    }
    { // Empty split folders: the same.
        make_dir(data + "/train");
        make_dir(data + "/test");
        Walk w;
        EXPECT_EQ(w.run(data), MP_OK) << w.err.msg;
        EXPECT_EQ(w.ds.n_patients, 0u);
        EXPECT_EQ(w.ds.n_series, 0u);
        EXPECT_EQ(s_or_empty(w.ds.splits_text), "train,test");
    }
}

// Runs `fn` in a child process that has dropped root for the user "nobody", so that
// permissions apply. Returns the child's exit status (0 = all its checks held), or -1
// with *why set when it could not be arranged.
template <typename Fn> int run_as_nobody(Fn fn, std::string *why)
{
    struct passwd *pw = getpwnam("nobody");
    if (!pw) {
        *why = "no user 'nobody' to drop root privileges to";
        return -1;
    }
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
        *why = std::string("fork: ") + strerror(errno);
        return -1;
    }
    if (pid == 0) {
        if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(200);
        _exit(fn());
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        *why = "child did not exit normally";
        return -1;
    }
    if (WEXITSTATUS(status) == 200) {
        *why = "setuid(nobody) failed";
        return -1;
    }
    return WEXITSTATUS(status);
}

TEST(DatasetWalk, ModalityFolderWithoutReadPermissionIsUnreadable)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/train/00000/FLAIR", {"Image-1.dcm"});
    const std::string locked = data + "/train/00000/T1w";
    make_series(locked, {"Image-1.dcm", "Image-2.dcm"});
    t.lock(locked);

    auto check = [&](std::string *report) {
        Walk w({"FLAIR", "T1w"});
        if (w.run(data) != MP_OK) return *report = std::string("walk failed: ") + w.err.msg, false;
        const series_t *s = w.find("train", "00000", "T1w");
        const series_t *f = w.find("train", "00000", "FLAIR");
        if (!s || !f) return *report = "series missing", false;
        if (s->presence != SERIES_UNREADABLE)
            return *report = std::string("presence ") + presence_name(s->presence), false;
        if (!s->problem || std::string(s->problem).find(locked) == std::string::npos)
            return *report = "problem does not name the folder: " + s_or_empty(s->problem), false;
        if (s->n_files != 0 || w.ds.n_files != 1) return *report = "files counted from the locked folder", false;
        if (f->presence != SERIES_PRESENT) return *report = "FLAIR not present", false;
        return true;
    };

    if (access(locked.c_str(), R_OK) != 0) { // not root: permissions apply here
        std::string report;
        EXPECT_TRUE(check(&report)) << report;
        return;
    }
    // Root reads through chmod 000. Try the check as "nobody" in a child process.
    ASSERT_EQ(chmod(t.path().c_str(), 0755), 0); // mkdtemp made it 0700
    std::string why;
    int rc = run_as_nobody(
        [&]() {
            if (access(locked.c_str(), R_OK) == 0) return 3; // still readable: cannot test
            std::string report;
            if (check(&report)) return 0;
            fprintf(stderr, "as nobody: %s\n", report.c_str());
            return 1;
        },
        &why);
    if (rc < 0 || rc == 3)
        GTEST_SKIP() << "running as root, where chmod 000 does not stop reading, and "
                     << (rc == 3 ? std::string("the folder stays readable as nobody") : why);
    EXPECT_EQ(rc, 0) << "the check failed in the child running as nobody (see stderr)";
}

TEST(DatasetWalk, DatasetFreeEmptiesTheResultAndIsSafeTwice)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    make_series(data + "/train/00000/FLAIR", {"Image-1.dcm", "Image-2.dcm"});
    Walk w({"FLAIR"});
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    ASSERT_EQ(w.ds.n_series, 1u);
    dataset_free(&w.ds);
    EXPECT_EQ(w.ds.series, nullptr);
    EXPECT_EQ(w.ds.n_series, 0u);
    EXPECT_EQ(w.ds.n_files, 0u);
    EXPECT_EQ(w.ds.splits_text, nullptr);
    dataset_free(&w.ds); // again (the Walk destructor frees a third time)
    dataset_free(nullptr);
}

// ---- labels_load / labels_find ---------------------------------------------------

struct Labels {
    label_table_t t;
    mp_error err;
    mp_status st = MP_ERR_INTERNAL;
    Labels()
    {
        memset(&t, 0, sizeof t);
        mp_error_clear(&err);
    }
    ~Labels() { labels_free(&t); }
    Labels(const Labels &) = delete;
    Labels &operator=(const Labels &) = delete;
    mp_status load(const std::string &path)
    {
        st = labels_load(path.c_str(), &t, &err);
        return st;
    }
    // The label of `id`, or "<none>".
    std::string value(const std::string &id) const
    {
        label_entry_t *e = labels_find(&t, id.c_str());
        return e ? s_or_empty(e->value) : "<none>";
    }
    std::string all_warnings() const
    {
        std::string s;
        for (size_t i = 0; i < t.n_warnings; i++) s += std::string(t.warnings[i]) + "\n";
        return s;
    }
};

TEST(Labels, PlainHeaderAndLf)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "train_labels.csv";
    write_file(f, "BraTS21ID,MGMT_value\n00000,1\n00002,1\n00003,0\n00005,1\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 4u);
    EXPECT_EQ(l.t.n, 4u);
    EXPECT_EQ(l.t.duplicates, 0u);
    EXPECT_EQ(l.t.conflicts, 0u);
    EXPECT_EQ(l.t.n_warnings, 0u) << l.all_warnings();
    EXPECT_EQ(l.value("00000"), "1");
    EXPECT_EQ(l.value("00002"), "1");
    EXPECT_EQ(l.value("00003"), "0");
    EXPECT_EQ(l.value("00005"), "1");
    EXPECT_EQ(l.value("00004"), "<none>");
    EXPECT_EQ(l.value("BraTS21ID"), "<none>"); // the header is not a row
    // Entries: normalised ids, sorted, nothing matched yet.
    for (size_t i = 0; i < l.t.n; i++) {
        EXPECT_EQ(l.t.entries[i].matched, 0);
        EXPECT_EQ(l.t.entries[i].conflict, 0);
        if (i) {
            EXPECT_LT(strcmp(l.t.entries[i - 1].id, l.t.entries[i].id), 0);
        }
    }
    EXPECT_STREQ(labels_find(&l.t, "00000")->id, "0");
    EXPECT_STREQ(labels_find(&l.t, "00005")->id, "5");
}

TEST(Labels, Utf8BomAndCrlf)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "\xEF\xBB\xBF" "BraTS21ID,MGMT_value\r\n00000,1\r\n00002,0\r\n00011,1"); // no final EOL
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 3u);
    EXPECT_EQ(l.value("0"), "1");
    EXPECT_EQ(l.value("2"), "0"); // not "0\r"
    EXPECT_EQ(l.value("11"), "1");
    EXPECT_EQ(l.t.n_warnings, 0u) << l.all_warnings();
}

TEST(Labels, QuotedFields)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "BraTS21ID,MGMT_value,comment\n"
                  "\"00005\",1,plain\n"
                  "\"00006\",\"0\",\"with, a comma\"\n"
                  "00007,\"1\",\"say \"\"hi\"\", then, go\"\n"
                  "\"00008\",0,\"two\nlines\"\n"
                  "00009,1,last\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 5u);
    EXPECT_EQ(l.value("5"), "1");
    EXPECT_EQ(l.value("00006"), "0");
    EXPECT_EQ(l.value("7"), "1");
    EXPECT_EQ(l.value("8"), "0");
    EXPECT_EQ(l.value("9"), "1");
    EXPECT_EQ(l.t.n_warnings, 0u) << l.all_warnings();
}

TEST(Labels, ColumnsFoundByHeaderNameInAnyOrderAndCase)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "MGMT_value,foo,BraTS21ID,bar\n1,x,00010,y\n0,z,00012,w\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 2u);
    EXPECT_EQ(l.value("10"), "1");
    EXPECT_EQ(l.value("12"), "0");
    EXPECT_EQ(l.value("1"), "<none>"); // the label column is not taken as the ID

    const std::string g = t / "labels_lower.csv";
    write_file(g, "mgmt_value , brats21id\n1,00033\n");
    Labels m;
    ASSERT_EQ(m.load(g), MP_OK) << m.err.msg;
    EXPECT_EQ(m.value("33"), "1");
}

TEST(Labels, FileWithoutHeaderUsesFirstTwoColumns)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "0,1\n00002,0,extra\n3,1\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 3u); // the first row is data, not a header
    EXPECT_EQ(l.value("00000"), "1");
    EXPECT_EQ(l.value("2"), "0");
    EXPECT_EQ(l.value("3"), "1");
    // A non-numeric first row under other names is a header.
    const std::string g = t / "labels_other.csv";
    write_file(g, "id,label\n4,0\n");
    Labels m;
    ASSERT_EQ(m.load(g), MP_OK) << m.err.msg;
    EXPECT_EQ(m.t.rows, 1u);
    EXPECT_EQ(m.value("4"), "0");
    EXPECT_EQ(m.value("id"), "<none>");
}

TEST(Labels, PaddedAndUnpaddedIdsAreTheSamePatient)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    for (const char *written : {"00109", "109", " 00109 "}) {
        SCOPED_TRACE(std::string("ID written '") + written + "'");
        const std::string f = t / "labels.csv";
        write_file(f, std::string("BraTS21ID,MGMT_value\n") + written + ",1\n00000,0\n");
        Labels l;
        ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
        for (const char *query : {"00109", "109", " 109 ", "0000000109", "\t109"}) {
            SCOPED_TRACE(std::string("query '") + query + "'");
            label_entry_t *e = labels_find(&l.t, query);
            ASSERT_NE(e, nullptr);
            EXPECT_STREQ(e->id, "109");
            EXPECT_STREQ(e->value, "1");
        }
        EXPECT_EQ(l.value("1090"), "<none>");
        EXPECT_EQ(l.value("10"), "<none>");
        EXPECT_EQ(l.value("0"), "0");
        EXPECT_EQ(l.value("000"), "0");
    }
}

// Garbage rows are warnings naming the line, never errors: bad IDs, labels other than
// 0/1, another number of fields than the header (the reliability issue's rules).
TEST(Labels, GarbageRowsAreSkippedWithAWarningNamingTheLine)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "BraTS21ID,MGMT_value\nabc,1\n007abc,0\n00001,1\n00002,2\n00003,yes\n00004,1,extra\n00005\n"
                  "00006,0\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 2u);
    EXPECT_EQ(l.value("1"), "1");
    EXPECT_EQ(l.value("6"), "0");
    for (const char *id : {"abc", "007abc", "2", "3", "4", "5"}) EXPECT_EQ(l.value(id), "<none>") << id;
    const std::string all = l.all_warnings();
    EXPECT_EQ(l.t.n_warnings, 6u) << all;
    for (const char *where : {":2:", ":3:", ":5:", ":6:", ":7:", ":8:"})
        EXPECT_NE(all.find(f + where), std::string::npos) << where << " in " << all;
    EXPECT_NE(all.find("not a number"), std::string::npos) << all;
    EXPECT_NE(all.find("not 0 or 1"), std::string::npos) << all;
    EXPECT_NE(all.find("3 fields, the header has 2"), std::string::npos) << all;
}

TEST(Labels, DuplicateIdWithTheSameLabelIsCountedNotAnError)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "BraTS21ID,MGMT_value\n00001,1\n00002,0\n1,1\n00001,1\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 4u);
    EXPECT_EQ(l.t.n, 2u);
    EXPECT_EQ(l.t.duplicates, 2u);
    EXPECT_EQ(l.t.conflicts, 0u);
    EXPECT_EQ(l.t.n_warnings, 0u) << l.all_warnings();
    EXPECT_EQ(l.value("1"), "1");
    EXPECT_EQ(labels_find(&l.t, "1")->conflict, 0);
}

TEST(Labels, ConflictingLabelsLeaveTheLabelBlankWithOneWarning)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "conflict_labels.csv";
    // line 1 header, line 3 "00042,1", line 5 "42,0" (the conflict), line 6 again.
    write_file(f, "BraTS21ID,MGMT_value\n00001,0\n00042,1\n00002,1\n42,0\n00042,1\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 5u);
    EXPECT_EQ(l.t.conflicts, 1u);
    label_entry_t *e = labels_find(&l.t, "00042");
    ASSERT_NE(e, nullptr);
    EXPECT_STREQ(e->value, "");
    EXPECT_EQ(e->conflict, 1);
    EXPECT_EQ(l.value("1"), "0"); // neighbours untouched
    EXPECT_EQ(l.value("2"), "1");
    ASSERT_EQ(l.t.n_warnings, 1u) << l.all_warnings();
    const std::string w = l.t.warnings[0];
    EXPECT_NE(w.find(f), std::string::npos) << w;      // the file
    EXPECT_NE(w.find(":5"), std::string::npos) << w;    // the line of the conflicting row
    EXPECT_NE(w.find("42"), std::string::npos) << w;    // the ID
    EXPECT_EQ(w.find('\n'), std::string::npos) << w;    // one line
}

TEST(Labels, BlankLineInTheMiddleIsSkipped)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "BraTS21ID,MGMT_value\n00001,1\n\n   \n\r\n00002,0\n\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.rows, 2u);
    EXPECT_EQ(l.value("1"), "1");
    EXPECT_EQ(l.value("2"), "0");
    EXPECT_EQ(l.t.n_warnings, 0u) << l.all_warnings();
}

TEST(Labels, RowWithoutLabelColumnWarnsAndIsSkipped)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    // line 3: no label column at all; line 4: an empty ID.
    write_file(f, "BraTS21ID,MGMT_value\n00001,1\n00007\n,1\n00002,0\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.value("1"), "1");
    EXPECT_EQ(l.value("2"), "0");
    EXPECT_EQ(l.value("7"), "<none>");
    EXPECT_EQ(l.t.rows, 2u);
    EXPECT_EQ(l.t.n, 2u);
    EXPECT_EQ(l.t.n_warnings, 2u) << l.all_warnings();
    const std::string all = l.all_warnings();
    for (const char *where : {":3:", ":4:"}) {
        SCOPED_TRACE(where);
        EXPECT_NE(all.find(f + where), std::string::npos) << all;
    }
}

// "00008," has a label column holding nothing: a missing label as much as "00008" is,
// and it must not turn a later "00008,1" into a conflict that blanks a real label.
TEST(Labels, RowWithEmptyLabelWarnsAndIsSkipped)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    // line 3: an empty label; line 4: a label of spaces; line 5: a real label for 00008.
    write_file(f, "BraTS21ID,MGMT_value\n00001,1\n00008,\n00009,  \n00008,1\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.value("9"), "<none>") << "a row with an empty label was kept";
    EXPECT_EQ(l.value("8"), "1") << "an empty label turned the real one into a conflict";
    EXPECT_EQ(l.t.conflicts, 0u);
    EXPECT_EQ(l.t.rows, 2u);
    EXPECT_EQ(l.t.n_warnings, 2u) << l.all_warnings();
    const std::string all = l.all_warnings();
    for (const char *where : {":3:", ":4:"}) {
        SCOPED_TRACE(where);
        EXPECT_NE(all.find(f + where), std::string::npos) << all;
    }
}

// A fuzzer finding: 255 zeros then 'x' was taken for a number (only 255 bytes were
// judged) and stored where labels_find could never reach it.
TEST(Labels, OverlongIdsAreGarbageWhateverTheirLength)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "BraTS21ID,MGMT_value\n" + std::string(255, '0') + "x,1\n" + std::string(65, '1') + ",0\n" +
                      std::string(64, '0') + "7,1\n00008,1\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    EXPECT_EQ(l.t.n, 1u) << l.all_warnings();
    EXPECT_EQ(l.value("8"), "1");
    EXPECT_EQ(l.t.n_warnings, 3u) << l.all_warnings();
}

// A readable file with no usable row never stops a run: an empty table and a warning
// naming the file (a missing file is an error: see below).
TEST(Labels, EmptyFileIsAnEmptyTableWithAWarningNamingTheFile)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    for (const char *content : {"", "BraTS21ID,MGMT_value\n", "\n\n", "\xEF\xBB\xBF", "a,b\nx,y\n"}) {
        SCOPED_TRACE(std::string("content '") + content + "'");
        const std::string f = t / "empty_labels.csv";
        write_file(f, content);
        Labels l;
        ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
        EXPECT_EQ(l.t.n, 0u);
        const std::string all = l.all_warnings();
        EXPECT_NE(all.find(f + ": no usable label rows"), std::string::npos) << all;
    }
}

TEST(Labels, MissingFileIsIoErrorNamingTheFile)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "no_such_labels.csv";
    Labels l;
    EXPECT_EQ(l.load(f), MP_ERR_IO);
    EXPECT_NE(std::string(l.err.msg).find(f), std::string::npos) << l.err.msg;
    EXPECT_EQ(l.t.n, 0u);
    EXPECT_EQ(labels_find(&l.t, "1"), nullptr);
}

TEST(Labels, FreeTwiceIsSafe)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string f = t / "labels.csv";
    write_file(f, "BraTS21ID,MGMT_value\n1,1\n1,0\n");
    Labels l;
    ASSERT_EQ(l.load(f), MP_OK) << l.err.msg;
    ASSERT_EQ(l.t.n_warnings, 1u);
    labels_free(&l.t);
    EXPECT_EQ(l.t.entries, nullptr);
    EXPECT_EQ(l.t.n, 0u);
    EXPECT_EQ(l.t.warnings, nullptr);
    EXPECT_EQ(l.t.n_warnings, 0u);
    labels_free(&l.t);
    labels_free(nullptr);
    EXPECT_EQ(labels_find(&l.t, "1"), nullptr);
    EXPECT_EQ(labels_find(nullptr, "1"), nullptr);
}

TEST(Labels, NormaliseId)
{
    char buf[16];
    EXPECT_STREQ(label_normalise_id("00109", buf, sizeof buf), "109");
    EXPECT_STREQ(label_normalise_id(" 109\t", buf, sizeof buf), "109");
    EXPECT_STREQ(label_normalise_id("0000", buf, sizeof buf), "0");
    EXPECT_STREQ(label_normalise_id(" abc ", buf, sizeof buf), "abc");
    EXPECT_STREQ(label_normalise_id("0a", buf, sizeof buf), "0a");
    EXPECT_STREQ(label_normalise_id("", buf, sizeof buf), "");
    char tiny[4];
    EXPECT_STREQ(label_normalise_id("123456", tiny, sizeof tiny), "123"); // truncated, terminated
}

// ---- walk + labels together ------------------------------------------------------

TEST(WalkWithLabels, LabelsGoToTrainPatientsOnly)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    for (const char *p : {"00000", "00002", "00003", "00004"})
        make_series(data + "/train/" + p + "/FLAIR", {"Image-1.dcm"});
    make_dir(data + "/train/00003/T1w"); // present folder, no files: label still applies
    for (const char *p : {"00002", "00099"}) make_series(data + "/test/" + p + "/FLAIR", {"Image-1.dcm"});
    const std::string csv = data + "/train_labels.csv";
    // 0 -> 1, 2 -> 0, 3 conflicting, 5 and 99 have no train folder (99 is only in test);
    // 4 has no row.
    write_file(csv, "BraTS21ID,MGMT_value\n00000,1\n00002,0\n00003,1\n3,0\n00005,1\n00099,0\n");

    Labels l;
    ASSERT_EQ(l.load(csv), MP_OK) << l.err.msg;
    ASSERT_EQ(l.t.n, 5u);
    Walk w({"FLAIR", "T1w"}, {}, &l.t);
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    ASSERT_EQ(w.ds.n_series, 12u);

    struct Want {
        const char *split, *patient, *label;
    };
    for (const Want &want : {Want{"train", "00000", "1"}, Want{"train", "00002", "0"}, Want{"train", "00003", ""},
                             Want{"train", "00004", ""}, Want{"test", "00002", ""}, Want{"test", "00099", ""}}) {
        for (const char *m : {"FLAIR", "T1w"}) {
            SCOPED_TRACE(std::string(want.split) + "/" + want.patient + "/" + m);
            const series_t *s = w.find(want.split, want.patient, m);
            ASSERT_NE(s, nullptr);
            ASSERT_NE(s->label, nullptr);
            EXPECT_STREQ(s->label, want.label);
        }
    }
    EXPECT_EQ(w.ds.n_images_without_label, 1u);  // 00004
    EXPECT_EQ(w.ds.n_labels_without_images, 2u); // 5 and 99 (99 is in test only)
    struct Matched {
        const char *id;
        int matched;
    };
    for (const Matched &m : {Matched{"0", 1}, Matched{"2", 1}, Matched{"3", 1}, Matched{"5", 0}, Matched{"99", 0}}) {
        SCOPED_TRACE(m.id);
        label_entry_t *e = labels_find(&l.t, m.id);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->matched, m.matched);
    }
}

TEST(WalkWithLabels, UnpaddedLabelIdsMatchPaddedFolders)
{
    TempDir t;
    ASSERT_TRUE(t.ok());
    const std::string data = t / "DATA";
    for (const char *p : {"00109", "00700"}) make_series(data + "/train/" + p + "/FLAIR", {"Image-1.dcm"});
    const std::string csv = t / "labels.csv";
    write_file(csv, "BraTS21ID,MGMT_value\n109,1\n\"700\",0\n");
    Labels l;
    ASSERT_EQ(l.load(csv), MP_OK) << l.err.msg;
    Walk w({"FLAIR"}, {}, &l.t);
    ASSERT_EQ(w.run(data), MP_OK) << w.err.msg;
    EXPECT_STREQ(w.find("train", "00109", "FLAIR")->label, "1");
    EXPECT_STREQ(w.find("train", "00700", "FLAIR")->label, "0");
    EXPECT_EQ(w.ds.n_images_without_label, 0u);
    EXPECT_EQ(w.ds.n_labels_without_images, 0u);
}

} // namespace
