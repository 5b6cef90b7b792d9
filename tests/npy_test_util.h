/* npy_test_util.h - a small header-only reader of NumPy .npy files, for tests.
 *
 * Reads NPY format 1.0, 2.0 and 3.0 files holding one C-order (fortran_order False)
 * array of a little-endian dtype: '<i4', '<f4', '<f2', '<u2', '<i2' (also '<f8', '<i8',
 * '|u1', '|i1'). Typical use, with the oracle written by numpy's np.save():
 *
 *     npy_array a;
 *     std::string why;
 *     ASSERT_TRUE(npy_load(path, &a, &why)) << why;
 *     ASSERT_EQ(a.descr, "<i4");                  // a.shape = {rows, cols}
 *     std::vector<int32_t> v = npy_values<int32_t>(a);   // converts from any dtype
 *
 * The host must be little-endian (checked at compile time); this reader never swaps.
 */
#ifndef MRIPREP_TESTS_NPY_TEST_UTIL_H
#define MRIPREP_TESTS_NPY_TEST_UTIL_H

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy_test_util.h reads little-endian .npy data without swapping"
#endif

struct npy_array {
    std::string descr;               // e.g. "<i4"
    std::vector<size_t> shape;       // {} for a 0-d array
    size_t item_size = 0;            // bytes per element
    std::vector<unsigned char> bytes; // count() * item_size bytes, C order

    size_t count() const
    {
        size_t n = 1;
        for (size_t d : shape) n *= d;
        return n;
    }
};

namespace npy_detail {

inline bool fail(std::string *why, const std::string &path, const std::string &what)
{
    if (why) *why = path + ": " + what;
    return false;
}

// The value text that follows 'key': in the header dict, or npos.
inline size_t find_value(const std::string &header, const char *key)
{
    std::string quoted1 = std::string("'") + key + "'", quoted2 = std::string("\"") + key + "\"";
    size_t at = header.find(quoted1);
    size_t len = quoted1.size();
    if (at == std::string::npos) {
        at = header.find(quoted2);
        len = quoted2.size();
    }
    if (at == std::string::npos) return std::string::npos;
    at = header.find(':', at + len);
    if (at == std::string::npos) return std::string::npos;
    at++;
    while (at < header.size() && header[at] == ' ') at++;
    return at;
}

inline size_t item_size_of(const std::string &descr)
{
    static const struct { const char *descr; size_t size; } known[] = {
        {"<i4", 4}, {"<f4", 4}, {"<f2", 2}, {"<u2", 2}, {"<i2", 2},
        {"<f8", 8}, {"<i8", 8}, {"|u1", 1}, {"|i1", 1},
    };
    for (const auto &k : known)
        if (descr == k.descr) return k.size;
    return 0;
}

// IEEE 754 binary16 to float, subnormals, infinities and NaN included.
inline float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while ((mant & 0x400u) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3FFu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

template <typename T>
inline T load_as(const unsigned char *p)
{
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace npy_detail

/* Reads `path` into *out. Returns false with *why set (file and reason) on any error:
 * missing file, bad magic, unsupported version/dtype, Fortran order, short data. */
inline bool npy_load(const std::string &path, npy_array *out, std::string *why)
{
    using namespace npy_detail;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return fail(why, path, std::string("cannot open: ") + std::strerror(errno));
    std::vector<unsigned char> file;
    unsigned char chunk[65536];
    size_t got;
    while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) file.insert(file.end(), chunk, chunk + got);
    std::fclose(f);

    if (file.size() < 10 || std::memcmp(file.data(), "\x93NUMPY", 6) != 0)
        return fail(why, path, "not an .npy file (no \\x93NUMPY magic)");
    unsigned major = file[6];
    size_t header_len, header_at;
    if (major == 1) {
        header_len = (size_t)file[8] | (size_t)file[9] << 8;
        header_at = 10;
    } else if (major == 2 || major == 3) {
        if (file.size() < 12) return fail(why, path, "short .npy header");
        header_len = (size_t)file[8] | (size_t)file[9] << 8 | (size_t)file[10] << 16 | (size_t)file[11] << 24;
        header_at = 12;
    } else {
        return fail(why, path, "unsupported .npy version " + std::to_string(major));
    }
    if (header_at + header_len > file.size()) return fail(why, path, "short .npy header");
    std::string header(reinterpret_cast<const char *>(&file[header_at]), header_len);

    size_t at = find_value(header, "descr");
    if (at == std::string::npos || at >= header.size() || (header[at] != '\'' && header[at] != '"'))
        return fail(why, path, "no descr in header: " + header);
    size_t end = header.find(header[at], at + 1);
    if (end == std::string::npos) return fail(why, path, "bad descr in header: " + header);
    std::string descr = header.substr(at + 1, end - at - 1);
    if (descr == "=i4" || descr == "=f4" || descr == "=u2" || descr == "=i2" || descr == "=f2" ||
        descr == "=f8" || descr == "=i8")
        descr[0] = '<';  // native order on a little-endian host
    if (descr == "<u1" || descr == "<i1") descr[0] = '|';
    size_t item = item_size_of(descr);
    if (item == 0) return fail(why, path, "unsupported dtype '" + descr + "'");

    at = find_value(header, "fortran_order");
    if (at == std::string::npos) return fail(why, path, "no fortran_order in header: " + header);
    if (header.compare(at, 4, "True") == 0) return fail(why, path, "Fortran-order arrays are not supported");

    at = find_value(header, "shape");
    if (at == std::string::npos || header[at] != '(') return fail(why, path, "no shape in header: " + header);
    end = header.find(')', at);
    if (end == std::string::npos) return fail(why, path, "bad shape in header: " + header);
    std::vector<size_t> shape;
    for (size_t i = at + 1; i < end;) {
        while (i < end && (header[i] == ' ' || header[i] == ',')) i++;
        if (i >= end) break;
        if (header[i] < '0' || header[i] > '9') return fail(why, path, "bad shape in header: " + header);
        size_t v = 0;
        while (i < end && header[i] >= '0' && header[i] <= '9') v = v * 10 + (size_t)(header[i++] - '0');
        shape.push_back(v);
    }

    npy_array a;
    a.descr = descr;
    a.shape = shape;
    a.item_size = item;
    size_t data_at = header_at + header_len, need = a.count() * item;
    if (file.size() - data_at < need)
        return fail(why, path, "data is " + std::to_string(file.size() - data_at) + " bytes, shape needs " +
                                   std::to_string(need));
    a.bytes.assign(file.begin() + (std::ptrdiff_t)data_at, file.begin() + (std::ptrdiff_t)(data_at + need));
    *out = std::move(a);
    return true;
}

/* Element i of `a` converted to double (exact for every dtype but '<i8' beyond 2^53). */
inline double npy_value(const npy_array &a, size_t i)
{
    using namespace npy_detail;
    const unsigned char *p = a.bytes.data() + i * a.item_size;
    const std::string &d = a.descr;
    if (d == "<i4") return load_as<int32_t>(p);
    if (d == "<f4") return load_as<float>(p);
    if (d == "<f2") return half_to_float(load_as<uint16_t>(p));
    if (d == "<u2") return load_as<uint16_t>(p);
    if (d == "<i2") return load_as<int16_t>(p);
    if (d == "<f8") return load_as<double>(p);
    if (d == "<i8") return (double)load_as<int64_t>(p);
    if (d == "|u1") return *p;
    if (d == "|i1") return (int8_t)*p;
    return 0.0;
}

/* All elements converted to T (C order). Use a T that holds the dtype's values. */
template <typename T>
inline std::vector<T> npy_values(const npy_array &a)
{
    std::vector<T> v(a.count());
    for (size_t i = 0; i < v.size(); i++) v[i] = (T)npy_value(a, i);
    return v;
}

#endif /* MRIPREP_TESTS_NPY_TEST_UTIL_H */
