// test_dicom_stream.cpp - the parse through an open descriptor (src/input/dicom_fd_stream.h)
// against dcmtk's own file stream (DcmFileFormat::loadFile), the oracle: on every real and
// generated DICOM file at hand, and on cut and padded copies of each, both must give the
// same condition, the same parsed elements, and the same bytes for every value read later
// through the stream's factory (the pixel data).
//
// The files: tests/real_files (real scanners' files, committed), pydicom's test files
// (Debian's python3-pydicom: many writers, broken ones among them), and the generated
// files of the DICOM oracle ($MRIPREP_ORACLE_DIR, default build/oracle/dicom). Fewer than
// 100 files found is a failure: a missing corpus must not look like a pass.
#include "src/input/dicom_fd_stream.h"

#include "dicom_test_env.h"
#include "mriprep/dicom.h"

#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dctk.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<std::string> dicom_files_under(const fs::path &root)
{
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return out;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && it->path().extension() == ".dcm") out.push_back(it->path().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> corpus()
{
    const char *oracle = std::getenv("MRIPREP_ORACLE_DIR");
    std::vector<std::string> all;
    for (const fs::path &root : {fs::path("tests/real_files"), fs::path("/usr/lib/python3/dist-packages/pydicom/data/test_files"),
                                fs::path(oracle && *oracle ? oracle : "build/oracle/dicom")}) {
        std::vector<std::string> some = dicom_files_under(root);
        all.insert(all.end(), some.begin(), some.end());
    }
    return all;
}

std::string read_bytes(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What one parse gave: its condition, the objects it made, and when it succeeded, the
// elements as dcmtk prints them (long values shortened) and each value read afterwards,
// through the stream factory where dcmtk left it unread, in full.
struct Parse {
    std::string condition;
    std::string structure;
    std::string printed;
    std::string loaded;
};

// Loads every value of the data set (dcmtk reads the ones it left unread now) and records
// the condition and bytes of each, in tag order.
std::string load_values(DcmFileFormat &ff)
{
    std::ostringstream out;
    DcmStack stack;
    DcmDataset *ds = ff.getDataset();
    while (ds->nextObject(stack, OFTrue).good()) {
        DcmObject *obj = stack.top();
        if (!obj->isLeaf()) continue;
        DcmElement *elem = OFstatic_cast(DcmElement *, obj);
        const Uint32 length = elem->getLength();
        if (length > (64u << 20)) { /* a broken file's declared length: not read whole here */
            out << elem->getTag().toString() << " length " << length << '\n';
            continue;
        }
        std::string value(length, '\0');
        /* what the decode does with the pixel data: read it whole, through the factory when
         * it was left unread */
        OFCondition cond = length ? elem->getPartialValue(&value[0], 0, length) : EC_Normal;
        out << elem->getTag().toString() << ' ' << cond.text() << ' ' << length << '\n';
        if (cond.good()) out << value;
    }
    return out.str();
}

// Every object dcmtk made, in order: tag, VR and length (what a failed parse got to).
std::string structure(DcmFileFormat &ff)
{
    std::ostringstream out;
    DcmStack stack;
    while (ff.nextObject(stack, OFTrue).good()) {
        DcmObject *obj = stack.top();
        out << obj->getTag().toString() << ' ' << DcmVR(obj->getVR()).getVRName() << ' ' << obj->getLengthField() << '\n';
    }
    return out.str();
}

// A parse that failed stopped inside an element whose value dcmtk had allocated but not
// filled: its bytes are whatever the heap held (they differ from one dcmtk parse to the
// next), so only the structure is compared then.
Parse summarise(DcmFileFormat &ff, const OFCondition &cond)
{
    Parse p;
    p.condition = std::string(cond.text()) + " (" + std::to_string(cond.code()) + ")";
    p.structure = structure(ff);
    if (cond.good()) {
        std::ostringstream printed;
        ff.print(printed, DCMTypes::PF_shortenLongTagValues);
        p.printed = printed.str();
        p.loaded = load_values(ff);
    }
    return p;
}

Parse through_dcmtk(const std::string &path)
{
    DcmFileFormat ff;
    OFCondition cond = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
    return summarise(ff, cond);
}

Parse through_descriptor(const std::string &path)
{
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    if (fd < 0) return Parse();
    struct stat st;
    EXPECT_EQ(fstat(fd, &st), 0);
    Parse p;
    {
        DcmFileFormat ff; /* gone before the descriptor it reads through */
        OFCondition cond = dicom_load_fd(fd, (uint64_t)st.st_size, ff, 4096);
        p = summarise(ff, cond);
    }
    close(fd);
    return p;
}

// The file as it is, and as copies cut short at a few places (inside the meta group,
// inside the data set, inside the pixel data, one byte short) and with 3 bytes after it.
std::vector<std::pair<std::string, std::string>> variants(const std::string &bytes)
{
    std::vector<std::pair<std::string, std::string>> out;
    const size_t n = bytes.size();
    for (size_t cut : {size_t(200), n / 3, n / 2, n - 1000, n - 1})
        if (cut > 0 && cut < n) out.emplace_back("cut at " + std::to_string(cut), bytes.substr(0, cut));
    out.emplace_back("3 bytes appended", bytes + std::string("\x01\x02\x03", 3));
    return out;
}

} // namespace

TEST(DicomFdStream, EveryFileParsesAsDcmtksOwnFileStreamParsesIt)
{
    const std::vector<std::string> files = corpus();
    ASSERT_GE(files.size(), 100u) << "the corpus is missing (tests/real_files, pydicom's test files, the oracle)";
    size_t good = 0;
    for (const std::string &path : files) {
        const Parse want = through_dcmtk(path), got = through_descriptor(path);
        EXPECT_EQ(got.condition, want.condition) << path;
        EXPECT_EQ(got.structure, want.structure) << path;
        EXPECT_EQ(got.printed, want.printed) << path;
        EXPECT_TRUE(got.loaded == want.loaded) << path << ": a value read later differs";
        good += want.condition.rfind("Normal", 0) == 0;
    }
    std::cout << "  " << files.size() << " files, " << good << " of them parsed whole\n";
    // Most of the corpus parses: the values read through the factory were compared.
    EXPECT_GT(good, files.size() / 2) << good << " of " << files.size() << " files parsed";
}

TEST(DicomFdStream, CutAndPaddedFilesFailOrParseAsDcmtksOwnFileStreamSays)
{
    const std::vector<std::string> files = corpus();
    ASSERT_GE(files.size(), 100u);
    const fs::path dir = fs::temp_directory_path() / ("mriprep-fdstream-" + std::to_string(getpid()));
    fs::create_directories(dir);
    size_t compared = 0, failed = 0;
    for (size_t i = 0; i < files.size(); i += 3) { /* every third file: variants of all kinds, in seconds */
        const std::string bytes = read_bytes(files[i]);
        for (const auto &[what, content] : variants(bytes)) {
            const fs::path copy = dir / "variant.dcm";
            std::ofstream(copy, std::ios::binary | std::ios::trunc).write(content.data(), (std::streamsize)content.size());
            const Parse want = through_dcmtk(copy.string()), got = through_descriptor(copy.string());
            EXPECT_EQ(got.condition, want.condition) << files[i] << ", " << what;
            EXPECT_EQ(got.structure, want.structure) << files[i] << ", " << what;
            EXPECT_EQ(got.printed, want.printed) << files[i] << ", " << what;
            EXPECT_TRUE(got.loaded == want.loaded) << files[i] << ", " << what << ": a value read later differs";
            compared++;
            failed += want.condition.rfind("Normal", 0) != 0;
        }
    }
    fs::remove_all(dir);
    std::cout << "  " << compared << " cut or padded copies, " << failed << " of them failing to parse\n";
    // The cuts make dcmtk fail in many ways; both streams must fail alike on them.
    EXPECT_GT(compared, 150u);
    EXPECT_GT(failed, compared / 4) << failed << " of " << compared << " variants failed to parse";
}
