// test_writer.cpp - the write stage: .npy headers against numpy's own header writer,
// atomic writes, manifest CSV and the JSON writer.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

extern "C" {
#include "mriprep/fs.h"
#include "mriprep/json.h"
#include "mriprep/manifest.h"
#include "mriprep/nifti.h"
#include "mriprep/npy_write.h"
#include "mriprep/volume_file.h"
}

namespace {

std::string oracle_dir()
{
    const char *dir = std::getenv("MRIPREP_NUMERIC_ORACLE_DIR");
    return dir ? dir : "build/oracle/numeric";
}

std::string read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/mriprep-writer-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::vector<std::string> list(const std::string &sub = "") const
    {
        std::vector<std::string> names;
        DIR *d = opendir((path + sub).c_str());
        if (!d) return names;
        while (dirent *e = readdir(d))
            if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.push_back(e->d_name);
        closedir(d);
        return names;
    }
};

TEST(Npy, HeaderIsWhatNumpyWrites)
{
    std::ifstream cases(oracle_dir() + "/npy_cases.txt");
    ASSERT_TRUE(cases) << oracle_dir() << "/npy_cases.txt missing: run /usr/bin/python3 "
                       << "tests/oracle/make_numeric_oracle.py " << oracle_dir() << " (make test does)";
    int n = 0;
    std::string line;
    while (std::getline(cases, line)) {
        std::istringstream in(line);
        std::string file, descr;
        int ndim;
        in >> file >> descr >> ndim;
        std::vector<uint64_t> shape(ndim);
        for (auto &d : shape) in >> d;
        std::string want = read_file(oracle_dir() + "/" + file);
        char buf[256];
        size_t len = npy_header(buf, sizeof buf, descr.c_str(), shape.data(), ndim);
        SCOPED_TRACE(line);
        EXPECT_EQ(std::string(buf, len), want);
        n++;
    }
    EXPECT_GE(n, 7);
}

TEST(Npy, AtomicWriteCreatesFoldersAndLeavesNoTemporaryFile)
{
    TempDir tmp;
    std::vector<float> data = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
    uint64_t shape[3] = {1, 2, 3};
    mp_error err;
    std::string path = tmp.path + "/train/00000/FLAIR.npy";
    ASSERT_EQ(npy_write_atomic(path.c_str(), "<f4", shape, 3, data.data(), data.size() * 4, nullptr, &err), MP_OK) << err.msg;
    std::string bytes = read_file(path);
    char header[256];
    size_t hlen = npy_header(header, sizeof header, "<f4", shape, 3);
    ASSERT_EQ(bytes.size(), hlen + data.size() * 4);
    EXPECT_EQ(bytes.substr(0, hlen), std::string(header, hlen));
    EXPECT_EQ(std::memcmp(bytes.data() + hlen, data.data(), data.size() * 4), 0);
    EXPECT_EQ(tmp.list("/train/00000"), std::vector<std::string>{"FLAIR.npy"});
}

TEST(Npy, WriteErrorNamesThePathAndLeavesNothing)
{
    TempDir tmp;
    std::string blocker = tmp.path + "/a_file";
    std::ofstream(blocker) << "x";
    float v = 1;
    uint64_t shape[1] = {1};
    mp_error err;
    std::string path = blocker + "/out/x.npy";
    EXPECT_EQ(npy_write_atomic(path.c_str(), "<f4", shape, 1, &v, 4, nullptr, &err), MP_ERR_WRITE);
    EXPECT_NE(std::string(err.msg).find(blocker), std::string::npos) << err.msg;
    // A file in the way of the final name's folder.
    std::string deep = tmp.path + "/a_file/x.npy";
    EXPECT_EQ(npy_write_atomic(deep.c_str(), "<f4", shape, 1, &v, 4, nullptr, &err), MP_ERR_WRITE);
    EXPECT_EQ(tmp.list(), std::vector<std::string>{"a_file"});
}

TEST(Npy, FailedWriteMidFileIsAWriteErrorWithoutPartialFile)
{
    // A file-size limit makes write() fail part way (EFBIG), as a full disk would
    // (ENOSPC), for root too. Run in a child so the limit does not outlive the test.
    TempDir tmp;
    std::string path = tmp.path + "/vol.npy";
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &lim);
        std::vector<float> data(100000, 1.0f);
        uint64_t shape[1] = {data.size()};
        mp_error err;
        mp_status st = npy_write_atomic(path.c_str(), "<f4", shape, 1, data.data(), data.size() * 4, nullptr, &err);
        bool named = std::strstr(err.msg, tmp.path.c_str()) && std::strstr(err.msg, "too large");
        _exit(st == MP_ERR_WRITE && named ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "expected MP_ERR_WRITE naming the path and 'File too large'";
    EXPECT_TRUE(tmp.list().empty()) << "a partial or temporary file was left";
}

// Whether the file system under `dir` keeps holes: a file extended by ftruncate is one.
bool keeps_holes(const std::string &dir)
{
    const std::string probe = dir + "/probe";
    int fd = open(probe.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    const bool holes = ftruncate(fd, 1 << 20) == 0 && lseek(fd, 0, SEEK_HOLE) == 0;
    close(fd);
    unlink(probe.c_str());
    return holes;
}

// The offset of the first hole of `path` (its size when it has none).
off_t first_hole(const std::string &path)
{
    int fd = open(path.c_str(), O_RDONLY);
    off_t at = fd < 0 ? -1 : lseek(fd, 0, SEEK_HOLE);
    if (fd >= 0) close(fd);
    return at;
}

TEST(Sparse, ZeroBlocksAreSkippedAndTheFileReadsBackByteForByte)
{
    TempDir tmp;
    const size_t B = ATOMIC_FILE_BLOCK;
    // Values with zero runs: 22 blocks, about one block (no whole block, or one),
    // negative zeros (not zero bytes), and 21 blocks to the end.
    std::vector<unsigned char> values(50 * B, 0);
    for (size_t i = 0; i < 3 * B; i++) values[i] = (unsigned char)(1 + i % 251);
    for (size_t i = 25 * B; i < 25 * B + 10; i++) values[i] = 7;
    for (size_t i = 26 * B + 200; i < 28 * B; i++) values[i] = 9;
    const float negative_zero = -0.0f;
    for (size_t i = 28 * B; i < 29 * B; i += 4) std::memcpy(&values[i], &negative_zero, 4);
    // A header of 100 bytes (the values' blocks start mid-block) or of one block (the
    // zeros run to the file's end: a hole there, the file extended at commit); then a
    // piece written after the values, or not.
    for (size_t head_bytes : {(size_t)100, B})
        for (int tail = 0; tail < 2; tail++) {
            const std::string path = tmp.path + "/v" + std::to_string(head_bytes) + "_" + std::to_string(tail);
            const std::string head(head_bytes, 'h');
            atomic_file_t f;
            mp_error err;
            ASSERT_EQ(atomic_file_open(&f, path.c_str(), &err), MP_OK) << err.msg;
            ASSERT_EQ(atomic_file_write(&f, head.data(), head.size(), &err), MP_OK) << err.msg;
            ASSERT_EQ(atomic_file_write_sparse(&f, values.data(), values.size(), nullptr, &err), MP_OK) << err.msg;
            if (tail) {
                ASSERT_EQ(atomic_file_write(&f, "tail", 4, &err), MP_OK) << err.msg;
            }
            ASSERT_EQ(atomic_file_commit(&f, &err), MP_OK) << err.msg;
            const std::string want = head + std::string(values.begin(), values.end()) + (tail ? "tail" : "");
            EXPECT_EQ(read_file(path), want) << path;
            if (!keeps_holes(tmp.path)) {
                std::printf("note: %s keeps no holes: only the bytes were checked\n", tmp.path.c_str());
                continue;
            }
            // The first hole is in the 22 zero blocks after the data at [head, head + 3 B).
            const off_t hole = first_hole(path);
            EXPECT_GE(hole, (off_t)(head_bytes + 3 * B)) << path;
            EXPECT_LE(hole, (off_t)(head_bytes + 4 * B)) << path << ": no hole where 22 zero blocks are";
        }
    // npy_write_atomic writes its values this way.
    std::vector<float> zeros(3 * B, 0.0f);
    uint64_t shape[1] = {zeros.size()};
    mp_error err;
    const std::string npy = tmp.path + "/zeros.npy";
    ASSERT_EQ(npy_write_atomic(npy.c_str(), "<f4", shape, 1, zeros.data(), zeros.size() * 4, nullptr, &err), MP_OK);
    char header[256];
    const size_t hlen = npy_header(header, sizeof header, "<f4", shape, 1);
    EXPECT_EQ(read_file(npy), std::string(header, hlen) + std::string(zeros.size() * 4, '\0'));
}

// A hint that says bytes [lo, hi) of the data are zero, whatever they hold.
struct RangeHint {
    size_t lo, hi;
    static size_t until(const void *ctx, size_t from)
    {
        const RangeHint *h = static_cast<const RangeHint *>(ctx);
        return from >= h->lo && from < h->hi ? h->hi : from;
    }
};

// The blocks a hint says are zero are holes without being read: here the hint says so of
// bytes that are not zero (which no caller does), so the file shows what was taken on
// trust. Whole blocks only: the hint's range starts and ends inside blocks. An honest
// hint (the same range, zero there) gives the bytes and holes of no hint at all.
TEST(Sparse, BlocksAHintSaysAreZeroAreTakenWithoutReadingThem)
{
    TempDir tmp;
    const size_t B = ATOMIC_FILE_BLOCK;
    std::vector<unsigned char> values(20 * B, 0x5A);
    RangeHint range{4 * B + 100, 9 * B + 50};
    const zero_hint_t hint = {RangeHint::until, &range};
    auto write = [&](const std::string &name, const std::vector<unsigned char> &data, const zero_hint_t *zeros) {
        const std::string path = tmp.path + "/" + name;
        atomic_file_t f;
        mp_error err;
        EXPECT_EQ(atomic_file_open(&f, path.c_str(), &err), MP_OK) << err.msg;
        EXPECT_EQ(atomic_file_write_sparse(&f, data.data(), data.size(), zeros, &err), MP_OK) << err.msg;
        EXPECT_EQ(atomic_file_commit(&f, &err), MP_OK) << err.msg;
        return path;
    };
    std::vector<unsigned char> trusted = values;
    std::fill(trusted.begin() + 5 * B, trusted.begin() + 9 * B, 0); // the whole blocks in the range
    const std::string lied_to = write("lied_to", values, &hint);
    EXPECT_EQ(read_file(lied_to), std::string(trusted.begin(), trusted.end()));
    std::vector<unsigned char> honest = values;
    std::fill(honest.begin() + range.lo, honest.begin() + range.hi, 0);
    const std::string with_hint = write("with_hint", honest, &hint), without = write("without", honest, nullptr);
    EXPECT_EQ(read_file(with_hint), std::string(honest.begin(), honest.end()));
    EXPECT_EQ(read_file(without), read_file(with_hint));
    if (!keeps_holes(tmp.path)) {
        std::printf("note: %s keeps no holes: only the bytes were checked\n", tmp.path.c_str());
        return;
    }
    EXPECT_EQ(first_hole(lied_to), (off_t)(5 * B));
    EXPECT_EQ(first_hole(with_hint), (off_t)(5 * B));
    EXPECT_EQ(first_hole(without), (off_t)(5 * B));
}

// volume_padding_zero_until (bytes), volume_padding_zero_end and value_end (elements)
// against the element-by-element rule: for every byte and element of small volumes with
// zero slices along each axis (before, after, or both), the end of the run of zero-slice
// elements, or of other elements (to the volume's end: then past it), from there, walked
// one element at a time.
TEST(Sparse, ZeroSliceRunsOfAVolumeAreWhatAnElementWalkFinds)
{
    const uint64_t shapes[][3] = {{5, 4, 3}, {3, 6, 4}, {4, 3, 7}, {1, 1, 5}};
    int checked = 0;
    for (const auto &shape : shapes)
        for (int32_t axis = 0; axis < 3; axis++)
            for (uint64_t before = 0; before < shape[axis]; before++)
                for (uint64_t after = before ? 0 : 1; before + after < shape[axis]; after++)
                    for (size_t esize : {(size_t)2, (size_t)4}) {
                        const volume_padding_t p = {{shape[0], shape[1], shape[2]}, axis, before, after};
                        const uint64_t stride = axis == 0 ? shape[1] * shape[2] : axis == 1 ? shape[2] : 1;
                        const uint64_t total = shape[0] * shape[1] * shape[2];
                        auto zero_slice = [&](uint64_t e) {
                            const uint64_t at = e / stride % shape[axis];
                            return e < total && (at < before || at >= shape[axis] - after);
                        };
                        for (size_t from = 0; from <= total * esize; from++) {
                            uint64_t e = from / esize;
                            size_t want = from;
                            if (zero_slice(e)) {
                                while (zero_slice(e)) e++;
                                want = (size_t)(e * esize);
                            }
                            ASSERT_EQ(volume_padding_zero_until(&p, esize, from), want)
                                << "shape " << shape[0] << "x" << shape[1] << "x" << shape[2] << " axis " << axis
                                << " before " << before << " after " << after << " esize " << esize << " from "
                                << from;
                            checked++;
                        }
                        for (uint64_t e = 0; e <= total; e++) {
                            uint64_t zeros_end = e, values_end = e;
                            while (zero_slice(zeros_end)) zeros_end++;
                            while (values_end < total && !zero_slice(values_end)) values_end++;
                            if (values_end == total) values_end = UINT64_MAX;
                            if (zero_slice(e)) values_end = e;
                            ASSERT_EQ(volume_padding_zero_end(&p, e), zeros_end) << "element " << e;
                            ASSERT_EQ(volume_padding_value_end(&p, e), values_end)
                                << "shape " << shape[0] << "x" << shape[1] << "x" << shape[2] << " axis " << axis
                                << " before " << before << " after " << after << " element " << e;
                            checked++;
                        }
                    }
    EXPECT_GT(checked, 10000);
}

// Inflates a whole gzip file: its bytes, and whether it is one member that ends exactly
// at the file's end (a reader that stops after the first member gets everything).
std::string gunzip_one_member(const std::string &gz, bool *one_member)
{
    z_stream z;
    std::memset(&z, 0, sizeof z);
    *one_member = false;
    if (inflateInit2(&z, 15 + 16) != Z_OK) return "";
    std::string out;
    std::vector<unsigned char> buf(1 << 20);
    z.next_in = reinterpret_cast<unsigned char *>(const_cast<char *>(gz.data()));
    z.avail_in = (uInt)gz.size();
    int zr;
    do {
        z.next_out = buf.data();
        z.avail_out = (uInt)buf.size();
        zr = inflate(&z, Z_NO_FLUSH);
        out.append(reinterpret_cast<char *>(buf.data()), buf.size() - z.avail_out);
    } while (zr == Z_OK);
    *one_member = zr == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    return out;
}

TEST(Nifti, GzipIsOneMemberWhateverTheThreadsAndHoldsTheUncompressedBytes)
{
    TempDir tmp;
    // 40 x 64 x 128 floats (1.25 MiB: the header's block and two of values), a zero half.
    std::vector<float> v(40 * 64 * 128, 0.0f);
    uint32_t x = 12345;
    for (size_t i = 0; i < v.size() / 2; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        v[i] = (float)(x % 1000) / 7.0f;
    }
    nifti_volume_t nv;
    std::memset(&nv, 0, sizeof nv);
    nv.nx = 128, nv.ny = 64, nv.nz = 40;
    nv.data = v.data();
    nv.description = "gzip test";
    mp_error err;
    const std::string plain = tmp.path + "/v.nii", packed1 = tmp.path + "/v1.nii.gz", packed2 = tmp.path + "/v2.nii.gz";
    ASSERT_EQ(nifti_write_atomic(plain.c_str(), &nv, 0, &err), MP_OK) << err.msg;
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    ASSERT_EQ(nifti_write_atomic(packed1.c_str(), &nv, 1, &err), MP_OK) << err.msg;
#ifdef _OPENMP
    omp_set_num_threads(3);
#endif
    ASSERT_EQ(nifti_write_atomic(packed2.c_str(), &nv, 1, &err), MP_OK) << err.msg;
    const std::string gz = read_file(packed1);
    EXPECT_EQ(gz, read_file(packed2)) << "the bytes depend on the thread count";
    bool one_member = false;
    const std::string inflated = gunzip_one_member(gz, &one_member);
    EXPECT_TRUE(one_member) << "not one gzip member ending at the file's end";
    EXPECT_EQ(inflated, read_file(plain));
    EXPECT_LT(gz.size(), read_file(plain).size() * 3 / 4);
}

TEST(Manifest, RowsAreQuotedAndTheFileAppearsOnlyWhenFinished)
{
    TempDir tmp;
    std::string path = tmp.path + "/manifest.csv";
    manifest_writer_t m;
    mp_error err;
    ASSERT_EQ(manifest_open(&m, path.c_str(), &err), MP_OK) << err.msg;
    manifest_row_t row;
    manifest_row_clear(&row);
    row.field[MANIFEST_SPLIT] = "train";
    row.field[MANIFEST_ID] = "00000";
    row.field[MANIFEST_MODALITY] = "FLAIR";
    row.field[MANIFEST_LABEL] = "1";
    row.field[MANIFEST_STATUS] = series_status_name(STATUS_FAILED);
    row.field[MANIFEST_REASON] = "Image-7.dcm: truncated pixel data (expected 524288 bytes, got 1000), \"really\"";
    manifest_row_set_count(&row, MANIFEST_FILES, 12);
    manifest_row_set_count(&row, MANIFEST_KEPT, -1);
    manifest_row_set_seconds(&row, MANIFEST_SECONDS, 0.5);
    ASSERT_EQ(manifest_append(&m, row.field, &err), MP_OK);
    row.field[MANIFEST_STATUS] = series_status_name(STATUS_OK);
    row.field[MANIFEST_REASON] = "";
    manifest_row_set_count(&row, MANIFEST_KEPT, 10);
    manifest_row_set_count(&row, MANIFEST_DEPTH, 10);
    manifest_row_set_count(&row, MANIFEST_SRC_ROWS, 512);
    manifest_row_set_count(&row, MANIFEST_SRC_COLS, 256);
    manifest_row_set_exact(&row, MANIFEST_MEAN, 0.25);
    manifest_row_set_exact(&row, MANIFEST_STD, 0.1);
    row.field[MANIFEST_OUTPUT] = "train/00000/FLAIR.npy";
    row.field[MANIFEST_PLANE] = "axial";
    row.field[MANIFEST_ORDER] = "position";
    row.field[MANIFEST_GEOMETRY] = "as stored; no affine: a slice has no PixelSpacing, or so";
    row.field[MANIFEST_AUGMENTED] = "train/00000/FLAIR.rot90.npy";
    ASSERT_EQ(manifest_append(&m, row.field, &err), MP_OK);
    // While the run goes, rows are readable in the .partial file, not under the final name.
    EXPECT_NE(access((path + ".partial").c_str(), F_OK), -1);
    EXPECT_EQ(access(path.c_str(), F_OK), -1);
    ASSERT_EQ(manifest_finish(&m, &err), MP_OK) << err.msg;
    EXPECT_EQ(access((path + ".partial").c_str(), F_OK), -1);
    std::string text = read_file(path);
    // The header as README "Outputs" documents it, column by column.
    std::string want = "split,id,modality,label,status,reason,files,kept,depth,src_rows,src_cols,mean,std,output,"
                       "seconds,plane,order,geometry,augmented\n"
                       "train,00000,FLAIR,1,failed,\"Image-7.dcm: truncated pixel data (expected 524288 bytes, got "
                       "1000), \"\"really\"\"\",12,,,,,,,,0.5000,,,,\n"
                       "train,00000,FLAIR,1,ok,,12,10,10,512,256,0.25,0.10000000000000001,train/00000/FLAIR.npy,0.5000,"
                       "axial,position,\"as stored; no affine: a slice has no PixelSpacing, or so\","
                       "train/00000/FLAIR.rot90.npy\n";
    EXPECT_EQ(text, want);
}

// A manifest read back: rows in column order with quoting undone; the header and a torn
// last row (a killed run) are passed over.
TEST(Manifest, ParseReturnsWholeRowsOnly)
{
    std::string header = "split,id,modality,label,status,reason,files,kept,depth,src_rows,src_cols,mean,std,output,"
                         "seconds,plane,order,geometry,augmented\n";
    std::string text = header +
                       "train,00000,FLAIR,1,ok,\"a, \"\"b\"\"\",12,10,10,512,256,0.25,0.1,train/00000/FLAIR.npy,"
                       "0.5000,axial,name,as stored,\r\n"
                       "train,00001,FLAIR,,failed,x,3,,,,,,,,0.1,,,,\n"
                       "train,00002,FLA";
    struct seen {
        std::vector<std::vector<std::string>> rows;
    } got;
    auto on_row = [](void *ctx, char *const *fields, mp_error *) -> mp_status {
        std::vector<std::string> r(fields, fields + MANIFEST_COLUMNS);
        static_cast<seen *>(ctx)->rows.push_back(r);
        return MP_OK;
    };
    std::vector<char> buf(text.begin(), text.end());
    buf.push_back('\0');
    mp_error err;
    ASSERT_EQ(manifest_parse(buf.data(), text.size(), on_row, &got, &err), MP_OK);
    ASSERT_EQ(got.rows.size(), 2u);
    EXPECT_EQ(got.rows[0][MANIFEST_REASON], "a, \"b\"");
    EXPECT_EQ(got.rows[0][MANIFEST_OUTPUT], "train/00000/FLAIR.npy");
    EXPECT_EQ(got.rows[0][MANIFEST_AUGMENTED], "");
    EXPECT_EQ(got.rows[1][MANIFEST_ID], "00001");
    EXPECT_EQ(got.rows[1][MANIFEST_STATUS], "failed");
    for (int c = 0; c < MANIFEST_COLUMNS; c++)
        EXPECT_NE(header.find(manifest_column_name((manifest_column_t)c)), std::string::npos) << c;
}

TEST(Manifest, StatusWordsRoundTripAndUnknownOnesCountAsFailed)
{
    for (int s = 0; s < SERIES_STATUSES; s++)
        EXPECT_EQ(series_status_parse(series_status_name((series_status_t)s)), s) << series_status_name((series_status_t)s);
    EXPECT_EQ(series_status_parse("weird"), STATUS_FAILED);
    EXPECT_STREQ(series_status_name(STATUS_MISSING), "missing");
}

TEST(Json, NestedDocumentWithEscapes)
{
    json_writer_t j;
    json_init(&j);
    json_object_begin(&j, nullptr);
    json_string(&j, "name", "a \"quoted\"\nline\\");
    json_array_begin(&j, "size");
    json_int(&j, nullptr, 256);
    json_int(&j, nullptr, -3);
    json_array_end(&j);
    json_object_begin(&j, "empty");
    json_object_end(&j);
    json_double(&j, "x", 0.1);
    json_double(&j, "nan", NAN);
    json_bool(&j, "yes", 1);
    json_null(&j, "none");
    json_string(&j, "null_string", nullptr);
    json_uint(&j, "big", 18446744073709551615ull);
    json_object_end(&j);
    ASSERT_FALSE(j.failed);
    EXPECT_STREQ(j.text,
                 "{\n  \"name\": \"a \\\"quoted\\\"\\nline\\\\\",\n  \"size\": [\n    256,\n    -3\n  ],\n"
                 "  \"empty\": {},\n  \"x\": 0.1,\n  \"nan\": null,\n  \"yes\": true,\n"
                 "  \"none\": null,\n  \"null_string\": null,\n  \"big\": 18446744073709551615\n}\n");
    json_free(&j);
}

}  // namespace
