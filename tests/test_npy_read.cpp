// test_npy_read.cpp - the .npy reader against files numpy writes (np.save and
// np.lib.format.write_array for version 2.0), byte-exact malformed files for every error
// path, and float16 -> float against numpy's own cast of all 65536 halves.
//
// The numpy files are made at test time by /usr/bin/python3 (Debian's numpy) in a
// temporary folder; without it those tests skip and say why.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "mriprep/npy_read.h"
}

namespace {

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/mriprep-npy-read-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

void write_bytes(const std::string &path, const std::string &bytes)
{
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), (std::streamsize)bytes.size());
}

std::string read_bytes(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// An NPY file by hand: magic, version, little-endian header length, the dict padded
// with spaces and a newline to a multiple of 64 (as numpy does), then `data`.
std::string npy_bytes(const std::string &dict, const std::string &data, int major = 1, int minor = 0)
{
    size_t pre = major == 1 ? 10 : 12;
    size_t total = (pre + dict.size() + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;
    std::string out = "\x93NUMPY";
    out += (char)major;
    out += (char)minor;
    for (size_t i = 0; i < pre - 8; i++) out += (char)((hlen >> (8 * i)) & 0xFF);
    out += dict;
    out += std::string(hlen - dict.size() - 1, ' ');
    out += '\n';
    return out + data;
}

std::string f4_data(size_t n)
{
    std::string d(n * 4, '\0');
    for (size_t i = 0; i < n; i++) {
        float v = (float)i;
        std::memcpy(&d[i * 4], &v, 4);
    }
    return d;
}

const char *DICT_4x4_F4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }";

// Reads `path` and expects failure with `code` and every one of `words` in the message
// (which must also name the file).
void expect_error(const std::string &path, mp_status code, std::vector<std::string> words)
{
    npy_array_t a;
    mp_error err;
    mp_error_clear(&err);
    mp_status st = npy_read(path.c_str(), &a, &err);
    EXPECT_EQ(st, code) << mp_status_name(st) << ": " << err.msg;
    EXPECT_EQ(a.data, nullptr);
    EXPECT_EQ(a.ndim, 0);
    std::string msg = err.msg;
    EXPECT_EQ(msg.rfind(path, 0), 0u) << "the message does not start with the file: " << msg;
    for (const auto &w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' not in: " << msg;
    npy_free(&a);
}

// Runs a Python program with /usr/bin/python3 (argv[1] = dir). "" when it worked, else why not.
std::string run_python(const std::string &dir, const std::string &program)
{
    if (access("/usr/bin/python3", X_OK) != 0) return "/usr/bin/python3 not found";
    std::string script = dir + "/make.py";
    write_bytes(script, program);
    std::string cmd = "/usr/bin/python3 '" + script + "' '" + dir + "' > '" + dir + "/make.log' 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) return "/usr/bin/python3 failed (numpy missing?): " + read_bytes(dir + "/make.log");
    return "";
}

// Files numpy writes, each with a .txt beside it giving the expected values as text
// (repr of float32 values / ints, one per line) so the oracle is numpy, not our reader.
const char *NUMPY_FILES = R"PY(
import sys, numpy as np
d = sys.argv[1]
def save(name, a, version=None):
    if version is None:
        np.save(f"{d}/{name}.npy", a)
    else:
        with open(f"{d}/{name}.npy", "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    flat = np.ascontiguousarray(a).reshape(-1)
    with open(f"{d}/{name}.txt", "w") as f:
        f.write(" ".join(str(s) for s in a.shape) + "\n")
        if flat.dtype.kind == "f":
            f.write("\n".join(str(int(v)) for v in flat.astype(np.float32).view(np.uint32)) + "\n")
        else:
            f.write("\n".join(str(int(v)) for v in flat) + "\n")
rng = np.random.default_rng(5)
save("f4_3d", (rng.standard_normal((4, 5, 6)) * 3).astype(np.float32))
save("f2_2d", (rng.standard_normal((3, 7)) * 100).astype(np.float16))
save("i2_2d", np.array([[-32768, -1, 0], [1, 12345, 32767]], dtype=np.int16))
save("u2_1d", np.array([0, 1, 65535, 40000, 7], dtype=np.uint16))
save("f4_0d", np.array(3.5, dtype=np.float32))
save("f4_4d", np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5) - 60)
save("f4_empty", np.zeros((0, 3), dtype=np.float32))
save("f4_v2", np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4), version=(2, 0))
save("f4_5d", np.zeros((1, 2, 1, 2, 1), dtype=np.float32))
save("f8", np.zeros((2, 2), dtype=np.float64))
save("big", np.arange(6, dtype=">f4").reshape(2, 3))
save("fortran", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
# numpy's float16 -> float32 cast of every half, as float32 bits.
np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32).view(np.uint32).tofile(f"{d}/halves.bin")
)PY";

class NumpyFiles : public ::testing::Test {
protected:
    static TempDir *dir_;
    static std::string why_;
    static void SetUpTestSuite()
    {
        dir_ = new TempDir;
        why_ = run_python(dir_->path, NUMPY_FILES);
    }
    static void TearDownTestSuite()
    {
        delete dir_;
        dir_ = nullptr;
    }
    void SetUp() override
    {
        if (!why_.empty()) GTEST_SKIP() << "no numpy oracle: " << why_;
    }
    std::string path(const std::string &name) const { return dir_->path + "/" + name; }

    // Checks `name`.npy against `name`.txt: dtype, shape, and every value (bits).
    void expect_matches_numpy(const std::string &name, const char *descr)
    {
        SCOPED_TRACE(name);
        npy_array_t a;
        mp_error err;
        mp_error_clear(&err);
        ASSERT_EQ(npy_read(path(name + ".npy").c_str(), &a, &err), MP_OK) << err.msg;
        EXPECT_STREQ(a.descr, descr);
        std::ifstream txt(path(name + ".txt"));
        std::string shape_line;
        std::getline(txt, shape_line);
        std::istringstream shape_in(shape_line);
        std::vector<uint64_t> shape;
        for (uint64_t d; shape_in >> d;) shape.push_back(d);
        ASSERT_EQ(a.ndim, (int)shape.size());
        size_t count = 1;
        for (int i = 0; i < a.ndim; i++) {
            EXPECT_EQ(a.shape[i], shape[i]) << "dim " << i;
            count *= shape[i];
        }
        ASSERT_EQ(a.count, count);
        ASSERT_NE(a.data, nullptr);
        bool is_float = descr[1] == 'f';
        for (size_t i = 0; i < count; i++) {
            long long want;
            ASSERT_TRUE(txt >> want) << "oracle too short at " << i;
            float v = npy_value_as_float(&a, i);
            if (is_float) {
                uint32_t bits;
                std::memcpy(&bits, &v, 4);
                ASSERT_EQ(bits, (uint32_t)want) << "element " << i;
            } else {
                ASSERT_EQ(v, (float)want) << "element " << i;
            }
        }
        npy_free(&a);
        npy_free(&a);  // safe twice
        EXPECT_EQ(a.data, nullptr);
    }
};
TempDir *NumpyFiles::dir_ = nullptr;
std::string NumpyFiles::why_;

TEST_F(NumpyFiles, EveryDtypeAndShapeNumpyWrites)
{
    expect_matches_numpy("f4_3d", "<f4");
    expect_matches_numpy("f2_2d", "<f2");
    expect_matches_numpy("i2_2d", "<i2");
    expect_matches_numpy("u2_1d", "<u2");
    expect_matches_numpy("f4_0d", "<f4");
    expect_matches_numpy("f4_4d", "<f4");
    expect_matches_numpy("f4_empty", "<f4");
}

TEST_F(NumpyFiles, Version2Header)
{
    expect_matches_numpy("f4_v2", "<f4");
    npy_array_t a;
    ASSERT_EQ(npy_read(path("f4_v2.npy").c_str(), &a, nullptr), MP_OK);
    EXPECT_EQ(a.version_major, 2);
    npy_free(&a);
}

TEST_F(NumpyFiles, WhatIsNotSupportedSaysSo)
{
    expect_error(path("f4_5d.npy"), MP_ERR_UNSUPPORTED, {"5 dimensions", "(1, 2, 1, 2, 1)", "at most 4"});
    expect_error(path("f8.npy"), MP_ERR_UNSUPPORTED, {"'<f8'", "not supported"});
    expect_error(path("big.npy"), MP_ERR_UNSUPPORTED, {"big-endian", "'>f4'"});
    expect_error(path("fortran.npy"), MP_ERR_UNSUPPORTED, {"Fortran"});
}

TEST_F(NumpyFiles, HalfToFloatIsNumpysCastForAll65536Halves)
{
    std::string raw = read_bytes(path("halves.bin"));
    ASSERT_EQ(raw.size(), 65536u * 4);
    int mismatches = 0, nans = 0, infs = 0, subnormals = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t want;
        std::memcpy(&want, raw.data() + 4 * h, 4);
        float f = npy_half_to_float((uint16_t)h);
        uint32_t got;
        std::memcpy(&got, &f, 4);
        if (got != want && mismatches++ < 10)
            ADD_FAILURE() << "half 0x" << std::hex << h << ": got 0x" << got << ", numpy 0x" << want;
        nans += std::isnan(f);
        infs += std::isinf(f);
        subnormals += ((h & 0x7C00u) == 0 && (h & 0x3FFu) != 0);
    }
    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(nans, 2 * 1023);  // the oracle covered every class
    EXPECT_EQ(infs, 2);
    EXPECT_EQ(subnormals, 2 * 1023);
}

// ---- byte-exact malformed files -----------------------------------------------------------

TEST(NpyRead, HandWrittenFileReads)
{
    TempDir tmp;
    std::string p = tmp.path + "/ok.npy";
    write_bytes(p, npy_bytes(DICT_4x4_F4, f4_data(16)));
    npy_array_t a;
    mp_error err;
    ASSERT_EQ(npy_read(p.c_str(), &a, &err), MP_OK) << err.msg;
    EXPECT_EQ(a.ndim, 2);
    EXPECT_EQ(a.count, 16u);
    EXPECT_EQ(npy_value_as_float(&a, 15), 15.0f);
    npy_free(&a);
    // Double quotes, no trailing comma, no spaces, keys in another order: still a dict.
    write_bytes(p, npy_bytes("{\"shape\":(2,8),\"fortran_order\":False,\"descr\":\"<f4\"}", f4_data(16)));
    ASSERT_EQ(npy_read(p.c_str(), &a, &err), MP_OK) << err.msg;
    EXPECT_EQ(a.shape[0], 2u);
    EXPECT_EQ(a.shape[1], 8u);
    npy_free(&a);
}

TEST(NpyRead, BadMagicAndEmptyFile)
{
    TempDir tmp;
    std::string p = tmp.path + "/bad.npy";
    std::string bytes = npy_bytes(DICT_4x4_F4, f4_data(16));
    bytes[5] = 'Z';
    write_bytes(p, bytes);
    expect_error(p, MP_ERR_FORMAT, {"not an .npy file", "magic"});
    write_bytes(p, "");
    expect_error(p, MP_ERR_FORMAT, {"not an .npy file"});
    write_bytes(p, "\x93NUMPY\x01");
    expect_error(p, MP_ERR_TRUNCATED, {"preamble"});
}

TEST(NpyRead, TruncatedDataSaysHowMuch)
{
    TempDir tmp;
    std::string p = tmp.path + "/cut.npy";
    write_bytes(p, npy_bytes(DICT_4x4_F4, f4_data(16).substr(0, 60)));
    expect_error(p, MP_ERR_TRUNCATED, {"truncated", "60 bytes", "(4, 4)", "needs 64"});
}

TEST(NpyRead, BytesAfterTheDataAreAnError)
{
    TempDir tmp;
    std::string p = tmp.path + "/long.npy";
    write_bytes(p, npy_bytes(DICT_4x4_F4, f4_data(16) + "xyz"));
    expect_error(p, MP_ERR_FORMAT, {"3 bytes after the data"});
}

TEST(NpyRead, HeaderLongerThanTheFile)
{
    TempDir tmp;
    std::string p = tmp.path + "/short.npy";
    std::string bytes = npy_bytes(DICT_4x4_F4, "");
    write_bytes(p, bytes.substr(0, 40));
    expect_error(p, MP_ERR_TRUNCATED, {"truncated", "the header says 118 bytes"});
}

TEST(NpyRead, VersionsOtherThan1And2)
{
    TempDir tmp;
    std::string p = tmp.path + "/v.npy";
    write_bytes(p, npy_bytes(DICT_4x4_F4, f4_data(16), 3, 0));
    expect_error(p, MP_ERR_UNSUPPORTED, {"version 3.0"});
    write_bytes(p, npy_bytes(DICT_4x4_F4, f4_data(16), 1, 1));
    expect_error(p, MP_ERR_UNSUPPORTED, {"version 1.1"});
}

TEST(NpyRead, FortranOrderAndBigEndianByHand)
{
    TempDir tmp;
    std::string p = tmp.path + "/x.npy";
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (4, 4), }", f4_data(16)));
    expect_error(p, MP_ERR_UNSUPPORTED, {"Fortran-order arrays are not supported"});
    write_bytes(p, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4, 4), }", f4_data(16)));
    expect_error(p, MP_ERR_UNSUPPORTED, {"big-endian dtype '>f4' is not supported"});
    write_bytes(p, npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", f4_data(4)));
    expect_error(p, MP_ERR_UNSUPPORTED, {"structured"});
}

TEST(NpyRead, MalformedHeaderDicts)
{
    TempDir tmp;
    std::string p = tmp.path + "/h.npy";
    struct Case {
        const char *dict;
        const char *words;
    } cases[] = {
        {"{'descr': '<f4', 'shape': (4, 4), }", "no 'fortran_order'"},
        {"{'fortran_order': False, 'shape': (4, 4), }", "no 'descr'"},
        {"{'descr': '<f4', 'fortran_order': False, }", "no 'shape'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), 'extra': 1, }", "unexpected key 'extra'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }", "'descr' twice"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (4, 4), }", "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (4, 4), }", "expected True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (16), }", "trailing comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-4, 4), }", "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4]}", "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), } x", "text after the dict"},
        {"'descr': '<f4', 'fortran_order': False, 'shape': (4, 4)", "expected '{'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4)", "expected ',' or '}'"},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (4, 4), }", "escapes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), '\xc3\xa9': 1}", "not text"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.dict);
        write_bytes(p, npy_bytes(c.dict, f4_data(16)));
        expect_error(p, MP_ERR_FORMAT, {"malformed .npy header", c.words});
    }
}

TEST(NpyRead, ShapeTooLargeIsALimitNotAnOverflow)
{
    TempDir tmp;
    std::string p = tmp.path + "/huge.npy";
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }",
                             f4_data(4)));
    expect_error(p, MP_ERR_LIMIT, {"too many elements"});
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""));
    expect_error(p, MP_ERR_FORMAT, {"dimension too large"});
    // A shape that fits but needs far more bytes than the file has: no giant allocation.
    write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", f4_data(4)));
    expect_error(p, MP_ERR_TRUNCATED, {"needs 4000000000000"});
}

TEST(NpyRead, MissingFileAndFolder)
{
    TempDir tmp;
    expect_error(tmp.path + "/nope.npy", MP_ERR_IO, {"cannot open", "No such file"});
    expect_error(tmp.path, MP_ERR_IO, {"is a folder"});
}

TEST(NpyRead, HalfToFloatKnownValues)
{
    EXPECT_EQ(npy_half_to_float(0x3C00), 1.0f);
    EXPECT_EQ(npy_half_to_float(0xC000), -2.0f);
    EXPECT_EQ(npy_half_to_float(0x7BFF), 65504.0f);
    EXPECT_EQ(npy_half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(npy_half_to_float(0x03FF), std::ldexp(1023.0f, -24));
    EXPECT_TRUE(std::signbit(npy_half_to_float(0x8000)));
    EXPECT_TRUE(std::isinf(npy_half_to_float(0xFC00)) && npy_half_to_float(0xFC00) < 0);
    EXPECT_TRUE(std::isnan(npy_half_to_float(0x7E00)));
}

}  // namespace
