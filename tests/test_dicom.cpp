// test_dicom.cpp - the decode stage (src/input/dicom_dcmtk.cpp) against the external oracle.
//
// The oracle is pydicom: tests/oracle/make_dicom_oracle.py writes pydicom's pixel arrays
// and header facts for its own test files, plus generated edge cases whose expected
// arrays come from numpy applying DICOM's rules (mask to BitsStored, sign-extend from
// HighBit). Run it first:
//     /usr/bin/python3 tests/oracle/make_dicom_oracle.py build/oracle/dicom
// The folder is $MRIPREP_ORACLE_DIR, default build/oracle/dicom. Without it every test
// fails (a missing oracle must not look like a pass).

#include "dicom_test_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mriprep/dicom.h"
#include "mriprep/error.h"
#include "npy_test_util.h"

namespace {

// ---- the oracle ----------------------------------------------------------------------

struct OracleCase {
    std::string name;
    std::map<std::string, std::vector<std::string>> facts;  // key -> every value line

    bool has(const std::string &key) const { return facts.count(key) != 0; }
    std::string get(const std::string &key) const
    {
        auto it = facts.find(key);
        return it == facts.end() || it->second.empty() ? std::string() : it->second.front();
    }
    std::vector<std::string> all(const std::string &key) const
    {
        auto it = facts.find(key);
        return it == facts.end() ? std::vector<std::string>() : it->second;
    }
    long integer(const std::string &key) const { return std::strtol(get(key).c_str(), nullptr, 10); }
    std::vector<double> doubles(const std::string &key) const
    {
        std::vector<double> v;
        std::istringstream in(get(key));
        std::string word;
        while (in >> word) v.push_back(std::strtod(word.c_str(), nullptr));
        return v;
    }
};

struct Oracle {
    std::string dir;
    std::string problem;  // non-empty when the oracle could not be read
    std::map<std::string, OracleCase> cases;
};

Oracle load_oracle()
{
    Oracle o;
    const char *env = std::getenv("MRIPREP_ORACLE_DIR");
    o.dir = env && *env ? env : "build/oracle/dicom";
    std::string txt = o.dir + "/oracle.txt";
    std::ifstream in(txt);
    if (!in) {
        o.problem = "no oracle at " + txt + ": run `/usr/bin/python3 tests/oracle/make_dicom_oracle.py " + o.dir +
                    "` first (or point MRIPREP_ORACLE_DIR at its folder)";
        return o;
    }
    std::string line;
    OracleCase *current = nullptr;
    int line_no = 0;
    while (std::getline(in, line)) {
        line_no++;
        if (line.empty() || line[0] == '#') continue;
        size_t space = line.find(' ');
        std::string key = line.substr(0, space), value = space == std::string::npos ? "" : line.substr(space + 1);
        if (key == "case") {
            current = &o.cases[value];
            current->name = value;
        } else if (key == "end") {
            current = nullptr;
        } else if (current) {
            current->facts[key].push_back(value);
        } else {
            o.problem = txt + ":" + std::to_string(line_no) + ": fact outside a case: " + line;
            return o;
        }
    }
    if (o.cases.empty()) o.problem = txt + " holds no cases: rerun tests/oracle/make_dicom_oracle.py";
    return o;
}

const Oracle &oracle()
{
    static const Oracle o = load_oracle();
    return o;
}

// The case, or nullptr with *why saying what is missing.
const OracleCase *find_case(const std::string &name, std::string *why)
{
    const Oracle &o = oracle();
    if (!o.problem.empty()) {
        *why = o.problem;
        return nullptr;
    }
    auto it = o.cases.find(name);
    if (it == o.cases.end()) {
        *why = "case '" + name + "' is not in " + o.dir + "/oracle.txt: rerun tests/oracle/make_dicom_oracle.py";
        return nullptr;
    }
    return &it->second;
}

#define ORACLE_CASE(var, case_name)                            \
    std::string var##_why;                                     \
    const OracleCase *var = find_case((case_name), &var##_why); \
    ASSERT_NE(var, nullptr) << var##_why;                    \
    SCOPED_TRACE("case " + var->name + " (" + var->get("path") + ")")

bool load_expected(const OracleCase &c, const std::string &key, npy_array *a, std::string *why)
{
    if (!c.has(key)) {
        *why = "case " + c.name + " has no '" + key + "'";
        return false;
    }
    if (!npy_load(oracle().dir + "/" + c.get(key), a, why)) return false;
    if (a->descr != "<i4") {
        *why = c.get(key) + ": dtype " + a->descr + ", expected <i4";
        return false;
    }
    return true;
}

// The status named in the oracle ("ok", "MP_ERR_TRUNCATED", ...); false when unknown.
bool status_from_name(const std::string &s, mp_status *out)
{
    static const std::map<std::string, mp_status> names = {
        {"ok", MP_OK},
        {"MP_ERR_IO", MP_ERR_IO},
        {"MP_ERR_WRITE", MP_ERR_WRITE},
        {"MP_ERR_FORMAT", MP_ERR_FORMAT},
        {"MP_ERR_TRUNCATED", MP_ERR_TRUNCATED},
        {"MP_ERR_UNSUPPORTED", MP_ERR_UNSUPPORTED},
        {"MP_ERR_LIMIT", MP_ERR_LIMIT},
        {"MP_ERR_NOMEM", MP_ERR_NOMEM},
        {"MP_ERR_USAGE", MP_ERR_USAGE},
        {"MP_ERR_INTERNAL", MP_ERR_INTERNAL},
    };
    auto it = names.find(s);
    if (it == names.end()) return false;
    *out = it->second;
    return true;
}

std::string base_name(const std::string &path)
{
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char *name_of(mp_status s) { return mp_status_name(s); }

// ---- comparisons ---------------------------------------------------------------------

// A header full of a byte pattern, so a field the decoder fails to fill cannot pass by
// matching whatever the stack held before.
dicom_header_t poisoned_header()
{
    dicom_header_t h;
    std::memset(&h, 0x5A, sizeof h);
    return h;
}

// The decoded words read as DICOM says (int16 when signed) equal the oracle's int32 array.
::testing::AssertionResult pixels_match(const dicom_header_t &h, const uint16_t *px, const npy_array &want)
{
    if (want.shape.size() != 2 || want.shape[0] != h.rows || want.shape[1] != h.cols)
        return ::testing::AssertionFailure() << "oracle array shape does not match the header's " << h.rows << " x "
                                             << h.cols;
    std::vector<int32_t> w = npy_values<int32_t>(want);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < w.size(); i++) {
        int32_t got = h.pixel_representation == 1 ? (int32_t)(int16_t)px[i] : (int32_t)px[i];
        if (got != w[i] && bad++ == 0) first = i;
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    int32_t got = h.pixel_representation == 1 ? (int32_t)(int16_t)px[first] : (int32_t)px[first];
    return ::testing::AssertionFailure() << bad << " of " << w.size() << " pixels differ; first at [" << first / h.cols
                                         << "][" << first % h.cols << "]: got " << got << ", oracle " << w[first];
}

// Every header fact the oracle recorded equals what the decoder reports.
void expect_header_matches(const dicom_header_t &h, const OracleCase &c)
{
    struct {
        const char *key;
        long got;
    } ints[] = {
        {"rows", (long)h.rows},
        {"cols", (long)h.cols},
        {"frames", (long)h.frames},
        {"bits_allocated", h.bits_allocated},
        {"bits_stored", h.bits_stored},
        {"high_bit", h.high_bit},
        {"pixel_representation", h.pixel_representation},
        {"samples_per_pixel", h.samples_per_pixel},
        {"monochrome1", h.monochrome1},
    };
    for (const auto &f : ints)
        if (c.has(f.key)) {
            EXPECT_EQ(f.got, c.integer(f.key)) << f.key;
        }
    if (c.has("photometric")) {
        EXPECT_STREQ(h.photometric, c.get("photometric").c_str());
    }
    // Absent rescale attributes read as slope 1, intercept 0.
    EXPECT_EQ(h.rescale_slope, c.has("rescale_slope") ? c.doubles("rescale_slope")[0] : 1.0) << "rescale_slope";
    EXPECT_EQ(h.rescale_intercept, c.has("rescale_intercept") ? c.doubles("rescale_intercept")[0] : 0.0)
        << "rescale_intercept";

    struct {
        const char *key;
        int present;
        const double *got;
        size_t n;
    } vecs[] = {
        {"position", h.has_position, h.position, 3},
        {"orientation", h.has_orientation, h.orientation, 6},
        {"spacing", h.has_spacing, h.spacing, 2},
    };
    for (const auto &v : vecs) {
        EXPECT_EQ(v.present, c.has(v.key) ? 1 : 0) << "has_" << v.key;
        if (!c.has(v.key) || !v.present) continue;
        std::vector<double> want = c.doubles(v.key);
        ASSERT_EQ(want.size(), v.n) << v.key;
        for (size_t i = 0; i < v.n; i++) EXPECT_EQ(v.got[i], want[i]) << v.key << "[" << i << "]";  // exact
    }
    EXPECT_EQ(h.has_instance, c.has("instance_number") ? 1 : 0) << "has_instance";
    if (c.has("instance_number") && h.has_instance) {
        EXPECT_EQ((long)h.instance_number, c.integer("instance_number"));
    }
    if (c.has("transfer_syntax")) {
        EXPECT_STREQ(h.transfer_syntax, c.get("transfer_syntax").c_str());
    }
}

// Field-by-field differences between two headers ("" when equal).
std::string header_diff(const dicom_header_t &a, const dicom_header_t &b)
{
    std::ostringstream d;
#define DIFF(f)                                                                     \
    if (!(a.f == b.f)) d << " " #f " " << a.f << " vs " << b.f << ";"
    DIFF(rows); DIFF(cols); DIFF(frames); DIFF(bits_allocated); DIFF(bits_stored); DIFF(high_bit);
    DIFF(pixel_representation); DIFF(samples_per_pixel); DIFF(monochrome1); DIFF(rescale_slope);
    DIFF(rescale_intercept); DIFF(has_position); DIFF(has_orientation); DIFF(has_spacing);
    DIFF(has_instance); DIFF(instance_number); DIFF(compressed); DIFF(pixel_bytes); DIFF(file_bytes);
    for (int i = 0; i < 3; i++) DIFF(position[i]);
    for (int i = 0; i < 6; i++) DIFF(orientation[i]);
    for (int i = 0; i < 2; i++) DIFF(spacing[i]);
#undef DIFF
    if (std::strcmp(a.photometric, b.photometric) != 0) d << " photometric " << a.photometric << " vs " << b.photometric << ";";
    if (std::strcmp(a.transfer_syntax, b.transfer_syntax) != 0)
        d << " transfer_syntax " << a.transfer_syntax << " vs " << b.transfer_syntax << ";";
    const char *an = a.transfer_syntax_name ? a.transfer_syntax_name : "(null)";
    const char *bn = b.transfer_syntax_name ? b.transfer_syntax_name : "(null)";
    if (std::strcmp(an, bn) != 0) d << " transfer_syntax_name " << an << " vs " << bn << ";";
    return d.str();
}

// An error message names the file first ("MR_truncated.dcm: ...") and is one line.
void expect_message_names_file(const mp_error &err, const std::string &path)
{
    std::string msg = err.msg, prefix = base_name(path) + ": ";
    EXPECT_EQ(msg.compare(0, prefix.size(), prefix), 0) << "message does not start with '" << prefix << "': " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_GT(msg.size(), prefix.size()) << "message says nothing after the file name";
}

// Files decoded successfully: pydicom's own (decoded by pydicom or equal to one that is)
// and the generated edge cases.
const char *const kOkCases[] = {
    "MR_small", "MR_small_implicit", "MR_small_bigendian", "MR_small_expb", "MR_small_RLE",
    "MR_small_padded", "CT_small", "MR_small_jpeg_ls_lossless", "MR_small_jp2klossless",
    "gen_u8", "gen_s8", "gen_u8_odd_5x7", "gen_u16_bits12_garbage", "gen_s16_bits12",
    "gen_s16_bits12_garbage", "gen_mono1_u16", "gen_implicit_s16", "gen_bigendian_s16",
    "gen_long_pixeldata", "gen_no_preamble", "gen_no_meta_implicit", "gen_s8_tag_after_pixeldata",
};

// Files that must fail, with the code and message fragments the oracle names.
const char *const kErrorCases[] = {
    "MR_truncated", "rtdose_1frame", "SC_rgb_rle", "rtdose",
    "gen_multiframe_u16", "gen_short_pixeldata", "gen_cut_pixeldata", "gen_cut_pixeldata_taglike",
    "gen_empty", "gen_random", "gen_huge_dims", "gen_bits1", "gen_nonexistent",
    "gen_deflate_u16", "gen_rle_bad_offsets", "gen_rle_empty_fragment",
};

// The MR_small family: the same 64 x 64 image in every syntax mriprep decodes.
const char *const kMrSmallFamily[] = {
    "MR_small", "MR_small_implicit", "MR_small_bigendian", "MR_small_expb",
    "MR_small_RLE", "MR_small_padded", "MR_small_jpeg_ls_lossless", "MR_small_jp2klossless",
};

std::string param_name(const ::testing::TestParamInfo<const char *> &info) { return info.param; }

// ---- the oracle itself ---------------------------------------------------------------

TEST(DicomOracle, IsPresentAndComplete)
{
    const Oracle &o = oracle();
    ASSERT_TRUE(o.problem.empty()) << o.problem;
    for (const char *name : kOkCases) EXPECT_TRUE(o.cases.count(name)) << name << " missing from the oracle";
    for (const char *name : kErrorCases) EXPECT_TRUE(o.cases.count(name)) << name << " missing from the oracle";
}

TEST(DicomGlobal, InitIsIdempotentAndDescribesDecoders)
{
    mp_error err;
    mp_error_clear(&err);
    EXPECT_EQ(dicom_global_init(&err), MP_OK) << err.msg;
    std::string desc = dicom_library_description();
    EXPECT_NE(desc.find("dcmtk"), std::string::npos) << desc;
    EXPECT_NE(desc.find("JPEG-LS"), std::string::npos) << desc;
}

// ---- files that decode ---------------------------------------------------------------

class DicomOk : public ::testing::TestWithParam<const char *> {};

TEST_P(DicomOk, DecodeAllocMatchesOracle)
{
    ORACLE_CASE(c, GetParam());
    ASSERT_EQ(c->get("expect"), "ok");
    npy_array want;
    std::string why;
    ASSERT_TRUE(load_expected(*c, "npy", &want, &why)) << why;

    dicom_header_t h = poisoned_header();
    uint16_t *px = nullptr;
    mp_error err;
    mp_error_clear(&err);
    mp_status st = dicom_decode_slice_alloc(c->get("path").c_str(), &h, &px, &err);
    ASSERT_EQ(st, MP_OK) << name_of(st) << ": " << err.msg;
    ASSERT_NE(px, nullptr);
    expect_header_matches(h, *c);
    EXPECT_TRUE(pixels_match(h, px, want));
    std::free(px);
}

// dicom_decode_slice into a caller's buffer gives the same values and writes nothing past
// rows*cols.
TEST_P(DicomOk, DecodeIntoBufferMatchesOracle)
{
    ORACLE_CASE(c, GetParam());
    npy_array want;
    std::string why;
    ASSERT_TRUE(load_expected(*c, "npy", &want, &why)) << why;
    size_t n = (size_t)c->integer("rows") * (size_t)c->integer("cols");
    const uint16_t sentinel = 0xA5C3;
    std::vector<uint16_t> buf(n + 17, sentinel);
    dicom_header_t h = poisoned_header();
    mp_error err;
    mp_error_clear(&err);
    mp_status st = dicom_decode_slice(c->get("path").c_str(), &h, buf.data(), buf.size(), &err);
    ASSERT_EQ(st, MP_OK) << name_of(st) << ": " << err.msg;
    EXPECT_TRUE(pixels_match(h, buf.data(), want));
    for (size_t i = n; i < buf.size(); i++) ASSERT_EQ(buf[i], sentinel) << "written past rows*cols at " << i;

    // Exactly rows*cols of room is enough.
    std::vector<uint16_t> exact(n);
    mp_error_clear(&err);
    st = dicom_decode_slice(c->get("path").c_str(), &h, exact.data(), exact.size(), &err);
    ASSERT_EQ(st, MP_OK) << name_of(st) << ": " << err.msg;
    EXPECT_TRUE(pixels_match(h, exact.data(), want));
}

// The header-only read reports the same header as a full decode.
TEST_P(DicomOk, HeaderOnlyMatchesDecode)
{
    ORACLE_CASE(c, GetParam());
    dicom_header_t full = poisoned_header(), head = poisoned_header();
    uint16_t *px = nullptr;
    mp_error err;
    mp_error_clear(&err);
    ASSERT_EQ(dicom_decode_slice_alloc(c->get("path").c_str(), &full, &px, &err), MP_OK) << err.msg;
    std::free(px);
    mp_error_clear(&err);
    mp_status st = dicom_read_header(c->get("path").c_str(), &head, &err);
    ASSERT_EQ(st, MP_OK) << name_of(st) << ": " << err.msg;
    EXPECT_EQ(header_diff(head, full), "") << "header-only vs decode";
    expect_header_matches(head, *c);
}

// Where pydicom 2.3's own array differs (it neither masks nor sign-extends), the
// numpy expectation is the one DICOM defines; make sure the oracle really differs there,
// so the test above is not comparing against pydicom's unmasked values by mistake.
TEST(DicomOracle, PydicomUnmaskedArraysDifferFromDicomRules)
{
    for (const char *name : {"gen_u16_bits12_garbage", "gen_s16_bits12_garbage"}) {
        ORACLE_CASE(c, name);
        npy_array rules, py;
        std::string why;
        ASSERT_TRUE(load_expected(*c, "npy", &rules, &why)) << why;
        ASSERT_TRUE(load_expected(*c, "pydicom_npy", &py, &why)) << why;
        EXPECT_NE(rules.bytes, py.bytes);
        int bits = (int)c->integer("bits_stored");
        bool is_signed = c->integer("pixel_representation") == 1;
        for (int32_t v : npy_values<int32_t>(rules)) {
            ASSERT_GE(v, is_signed ? -(1 << (bits - 1)) : 0);
            ASSERT_LT(v, is_signed ? (1 << (bits - 1)) : (1 << bits));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Files, DicomOk, ::testing::ValuesIn(kOkCases), param_name);

// ---- files that must fail ------------------------------------------------------------

class DicomError : public ::testing::TestWithParam<const char *> {};

TEST_P(DicomError, DecodeFailsWithCodeAndMessage)
{
    ORACLE_CASE(c, GetParam());
    mp_status want = MP_OK;
    ASSERT_TRUE(status_from_name(c->get("expect"), &want)) << "unknown code " << c->get("expect");
    ASSERT_NE(want, MP_OK);
    const std::string path = c->get("path");

    dicom_header_t h = poisoned_header();
    uint16_t *px = reinterpret_cast<uint16_t *>(&h);  // must come back NULL
    mp_error err;
    mp_error_clear(&err);
    mp_status st = dicom_decode_slice_alloc(path.c_str(), &h, &px, &err);
    EXPECT_EQ(st, want) << "got " << name_of(st) << " (" << err.msg << "), want " << name_of(want);
    EXPECT_EQ(err.code, st);
    EXPECT_EQ(px, nullptr);
    expect_message_names_file(err, path);
    for (const std::string &frag : c->all("message"))
        EXPECT_NE(std::string(err.msg).find(frag), std::string::npos) << "'" << frag << "' not in: " << err.msg;
    // "hdr is filled whenever the header was readable, also on later errors".
    if (c->has("rows") && (st == MP_ERR_UNSUPPORTED || st == MP_ERR_LIMIT || st == MP_ERR_TRUNCATED)) {
        EXPECT_EQ((long)h.rows, c->integer("rows")) << "hdr not filled on error";
        EXPECT_EQ((long)h.cols, c->integer("cols")) << "hdr not filled on error";
        EXPECT_EQ((long)h.bits_allocated, c->integer("bits_allocated")) << "hdr not filled on error";
    }

    // The buffer variant fails the same way.
    std::vector<uint16_t> buf(1u << 16);
    mp_error err2;
    mp_error_clear(&err2);
    st = dicom_decode_slice(path.c_str(), &h, buf.data(), buf.size(), &err2);
    EXPECT_EQ(st, want) << "dicom_decode_slice: " << err2.msg;
    EXPECT_STREQ(err2.msg, err.msg);
}

TEST_P(DicomError, HeaderOnlyRead)
{
    ORACLE_CASE(c, GetParam());
    // A header-only read need not see problems inside the pixel data (a file cut there);
    // the oracle lists what it may return with header_only ("ok|MP_ERR_TRUNCATED").
    std::string expect = c->has("header_only") ? c->get("header_only") : c->get("expect");
    std::vector<mp_status> allowed;
    std::stringstream alternatives(expect);
    for (std::string one; std::getline(alternatives, one, '|');) {
        mp_status code = MP_OK;
        ASSERT_TRUE(status_from_name(one, &code)) << "unknown code " << one;
        allowed.push_back(code);
    }
    const std::string path = c->get("path");
    dicom_header_t h = poisoned_header();
    mp_error err;
    mp_error_clear(&err);
    mp_status st = dicom_read_header(path.c_str(), &h, &err);
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), st), allowed.end())
        << "got " << name_of(st) << " (" << err.msg << "), want " << expect;
    if (st == MP_OK) {
        expect_header_matches(h, *c);
    } else {
        EXPECT_EQ(err.code, st);
        expect_message_names_file(err, path);
        if (!c->has("header_only") || st == MP_ERR_TRUNCATED) {
            for (const std::string &frag : c->all("message"))
                EXPECT_NE(std::string(err.msg).find(frag), std::string::npos) << "'" << frag << "' not in: " << err.msg;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Files, DicomError, ::testing::ValuesIn(kErrorCases), param_name);

TEST(DicomErrors, UnsupportedMessagesSayWhy)
{
    struct {
        const char *name, *why;
    } cases[] = {
        {"rtdose_1frame", "32 bits allocated"},
        {"SC_rgb_rle", "3 samples per pixel"},
        {"gen_multiframe_u16", "multi-frame"},
        {"gen_bits1", "1 bits allocated"},
        {"gen_deflate_u16", "Deflated Explicit VR Little Endian is not supported"},
    };
    for (const auto &k : cases) {
        ORACLE_CASE(c, k.name);
        dicom_header_t h = poisoned_header();
        uint16_t *px = nullptr;
        mp_error err;
        mp_error_clear(&err);
        EXPECT_EQ(dicom_decode_slice_alloc(c->get("path").c_str(), &h, &px, &err), MP_ERR_UNSUPPORTED);
        EXPECT_NE(std::string(err.msg).find(k.why), std::string::npos) << err.msg;
        EXPECT_NE(std::string(err.msg).find(base_name(c->get("path"))), std::string::npos) << err.msg;
    }
    // rtdose.dcm is both multi-frame and 32-bit: either reason will do, but one is given.
    ORACLE_CASE(c, "rtdose");
    dicom_header_t h = poisoned_header();
    uint16_t *px = nullptr;
    mp_error err;
    mp_error_clear(&err);
    EXPECT_EQ(dicom_decode_slice_alloc(c->get("path").c_str(), &h, &px, &err), MP_ERR_UNSUPPORTED);
    std::string msg = err.msg;
    EXPECT_TRUE(msg.find("bits allocated") != std::string::npos || msg.find("multi-frame") != std::string::npos)
        << msg;
}

TEST(DicomErrors, FolderIsAnIoError)
{
    ORACLE_CASE(c, "MR_small");  // only to be sure the folder exists
    const std::string folder = oracle().dir;
    dicom_header_t h = poisoned_header();
    uint16_t *px = nullptr;
    mp_error err;
    mp_error_clear(&err);
    EXPECT_EQ(dicom_decode_slice_alloc(folder.c_str(), &h, &px, &err), MP_ERR_IO) << err.msg;
    mp_error_clear(&err);
    EXPECT_EQ(dicom_read_header(folder.c_str(), &h, &err), MP_ERR_IO) << err.msg;
}

// ---- buffer capacity -----------------------------------------------------------------

TEST(DicomCapacity, TooSmallIsLimitAndLeavesBufferUntouched)
{
    ORACLE_CASE(c, "MR_small");
    const std::string path = c->get("path");
    const size_t n = 64 * 64;
    const uint16_t sentinel = 0xBEEF;
    std::vector<uint16_t> buf(n - 1, sentinel);
    dicom_header_t h = poisoned_header();
    mp_error err;
    mp_error_clear(&err);
    mp_status st = dicom_decode_slice(path.c_str(), &h, buf.data(), buf.size(), &err);
    EXPECT_EQ(st, MP_ERR_LIMIT) << name_of(st) << ": " << err.msg;
    expect_message_names_file(err, path);
    for (size_t i = 0; i < buf.size(); i++) ASSERT_EQ(buf[i], sentinel) << "buffer written at " << i;
    EXPECT_EQ(h.rows, 64u) << "hdr is filled whenever the header was readable";
    EXPECT_EQ(h.cols, 64u);

    // No buffer at all.
    mp_error_clear(&err);
    EXPECT_EQ(dicom_decode_slice(path.c_str(), &h, nullptr, 0, &err), MP_ERR_LIMIT) << err.msg;
}

// mp_fail() accepts err == NULL, so the returned code alone must say what happened.
TEST(DicomCapacity, TooSmallIsLimitWithoutErrorStruct)
{
    ORACLE_CASE(c, "MR_small");
    std::vector<uint16_t> buf(10, 0xBEEF);
    dicom_header_t h = poisoned_header();
    mp_status st = dicom_decode_slice(c->get("path").c_str(), &h, buf.data(), buf.size(), nullptr);
    EXPECT_EQ(st, MP_ERR_LIMIT) << "got " << name_of(st);
    for (uint16_t v : buf) ASSERT_EQ(v, 0xBEEF);
}

// ---- concurrency ---------------------------------------------------------------------

// Four threads decode the MR_small family (7 files, 5 transfer syntaxes) 200 times over
// at once, each thread with its own buffers and its own starting file, every result
// compared with the oracle.
TEST(DicomThreads, FourThreadsDecodeTheFamilyConcurrently)
{
    struct Expected {
        std::string name, path;
        npy_array want;
    };
    std::vector<Expected> family;
    for (const char *name : kMrSmallFamily) {
        ORACLE_CASE(c, name);
        Expected e{name, c->get("path"), {}};
        std::string why;
        ASSERT_TRUE(load_expected(*c, "npy", &e.want, &why)) << why;
        family.push_back(std::move(e));
    }
    const int kThreads = 4, kDecodes = 200 * (int)(sizeof kMrSmallFamily / sizeof kMrSmallFamily[0]);
    std::vector<std::vector<std::string>> failures(kThreads);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            ready++;
            while (ready.load() < kThreads) std::this_thread::yield();  // start together
            std::vector<uint16_t> buf(64 * 64);
            for (int i = 0; i < kDecodes; i++) {
                const Expected &e = family[(size_t)(i + t) % family.size()];
                dicom_header_t h = poisoned_header();
                mp_error err;
                mp_error_clear(&err);
                mp_status st;
                ::testing::AssertionResult same = ::testing::AssertionSuccess();
                if (i % 2 == 0) {
                    st = dicom_decode_slice(e.path.c_str(), &h, buf.data(), buf.size(), &err);
                    if (st == MP_OK) same = pixels_match(h, buf.data(), e.want);
                } else {
                    uint16_t *px = nullptr;
                    st = dicom_decode_slice_alloc(e.path.c_str(), &h, &px, &err);
                    if (st == MP_OK) same = pixels_match(h, px, e.want);
                    std::free(px);
                }
                if (st != MP_OK)
                    failures[t].push_back(e.name + " decode " + std::to_string(i) + ": " + err.msg);
                else if (!same)
                    failures[t].push_back(e.name + " decode " + std::to_string(i) + ": " + same.message());
            }
        });
    }
    for (auto &th : threads) th.join();
    for (int t = 0; t < kThreads; t++) {
        EXPECT_TRUE(failures[t].empty()) << "thread " << t << ": " << failures[t].size() << " failures, first: "
                                         << (failures[t].empty() ? "" : failures[t][0]);
    }
}

}  // namespace
