/* npy_read.c - a strict reader of NumPy .npy files (see include/mriprep/npy_read.h).
 *
 * Format (numpy/lib/format.py): "\x93NUMPY", major, minor, header length (uint16 LE
 * for 1.0, uint32 LE for 2.0), then that many bytes of an ASCII Python dict literal
 * such as {'descr': '<f4', 'fortran_order': False, 'shape': (256, 256, 64), }
 * padded with spaces and ended by '\n', then the raw data.
 */
#include "mriprep/npy_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy_read.c reads little-endian .npy data without swapping"
#endif

/* Headers this large are not .npy files anyone wrote (numpy itself refuses > 10000). */
#define NPY_HEADER_CAP (1u << 20)
/* Dimensions parsed before giving up on a shape (more than NPY_READ_MAX_DIMS is
 * reported as unsupported, far more as malformed). */
#define NPY_PARSE_DIMS 32

float npy_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    float f;
    if (exp == 0x1Fu) {
        bits = sign | 0x7F800000u | (mant << 13); /* Inf, or NaN with its payload */
    } else if (exp != 0) {
        bits = sign | ((exp + (127u - 15u)) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign; /* signed zero */
    } else {
        /* Subnormal half: mant * 2^-24, a normal float; the product is exact. */
        f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

float npy_value_as_float(const npy_array_t *a, size_t i)
{
    const unsigned char *p = (const unsigned char *)a->data + i * a->item_size;
    switch (a->dtype) {
    case NPY_READ_F4: {
        float v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    case NPY_READ_F2: {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return npy_half_to_float(v);
    }
    case NPY_READ_I2: {
        int16_t v;
        memcpy(&v, p, sizeof v);
        return (float)v;
    }
    case NPY_READ_U2: {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return (float)v;
    }
    }
    return 0.0f;
}

void npy_free(npy_array_t *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- the header dict ------------------------------------------------------------------ */

typedef struct parser {
    const char *s, *end;
    const char *path;
    mp_error *err;
} parser_t;

static void skip_space(parser_t *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

/* A short quotation of the header at the parse position, for messages. */
static mp_status syntax_error(parser_t *p, const char *what)
{
    int left = (int)(p->end - p->s);
    if (left > 24) left = 24;
    char near[64];
    int k = 0;
    for (int i = 0; i < left && k < (int)sizeof near - 1; i++) {
        char c = p->s[i];
        near[k++] = (c >= 32 && c < 127) ? c : '?';
    }
    near[k] = '\0';
    if (p->s >= p->end)
        return mp_fail(p->err, MP_ERR_FORMAT, "%s: malformed .npy header: %s at its end", p->path, what);
    return mp_fail(p->err, MP_ERR_FORMAT, "%s: malformed .npy header: %s at \"%s\"", p->path, what, near);
}

/* A quoted Python string without escapes into buf. */
static mp_status parse_string(parser_t *p, char *buf, size_t cap)
{
    if (p->s >= p->end || (*p->s != '\'' && *p->s != '"')) return syntax_error(p, "expected a quoted string");
    char quote = *p->s++;
    size_t n = 0;
    while (p->s < p->end && *p->s != quote) {
        if (*p->s == '\\') return syntax_error(p, "escapes in strings are not supported");
        if (*p->s == '\n') return syntax_error(p, "unterminated string");
        if (n + 1 >= cap) return syntax_error(p, "string too long");
        buf[n++] = *p->s++;
    }
    if (p->s >= p->end) return syntax_error(p, "unterminated string");
    p->s++;
    buf[n] = '\0';
    return MP_OK;
}

static mp_status parse_bool(parser_t *p, int *value)
{
    size_t left = (size_t)(p->end - p->s);
    if (left >= 4 && !memcmp(p->s, "True", 4)) {
        p->s += 4;
        *value = 1;
    } else if (left >= 5 && !memcmp(p->s, "False", 5)) {
        p->s += 5;
        *value = 0;
    } else {
        return syntax_error(p, "expected True or False");
    }
    return MP_OK;
}

/* A tuple of non-negative integers: "()", "(7,)", "(256, 256, 64)" (a trailing comma
 * is allowed; one element needs it, as in Python). */
static mp_status parse_shape(parser_t *p, uint64_t *dims, int *ndim)
{
    *ndim = 0;
    if (p->s >= p->end || *p->s != '(') return syntax_error(p, "expected a shape tuple");
    p->s++;
    int trailing_comma = 0;
    for (;;) {
        skip_space(p);
        if (p->s < p->end && *p->s == ')') break;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9')
            return syntax_error(p, p->s < p->end && *p->s == '-' ? "negative dimension" : "expected a dimension");
        uint64_t v = 0;
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
            unsigned digit = (unsigned)(*p->s - '0');
            if (v > (UINT64_MAX - digit) / 10) return syntax_error(p, "dimension too large");
            v = v * 10 + digit;
            p->s++;
        }
        if (*ndim == NPY_PARSE_DIMS) return syntax_error(p, "too many dimensions");
        dims[(*ndim)++] = v;
        skip_space(p);
        trailing_comma = 0;
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            trailing_comma = 1;
            continue;
        }
        if (p->s < p->end && *p->s == ')') break;
        return syntax_error(p, "expected ',' or ')' in the shape");
    }
    if (*ndim == 1 && !trailing_comma) return syntax_error(p, "a one-element shape needs a trailing comma");
    p->s++; /* ')' */
    return MP_OK;
}

typedef struct header_fields {
    char descr[32];
    int fortran;
    uint64_t dims[NPY_PARSE_DIMS];
    int ndim;
    int have_descr, have_fortran, have_shape;
} header_fields_t;

static mp_status parse_header(const char *path, const char *text, size_t len, header_fields_t *h, mp_error *err)
{
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 127 || ((unsigned char)text[i] < 32 && text[i] != '\n' && text[i] != '\r' &&
                                               text[i] != '\t'))
            return mp_fail(err, MP_ERR_FORMAT, "%s: malformed .npy header: byte 0x%02x at offset %zu is not text",
                           path, (unsigned char)text[i], i);
    parser_t p = {text, text + len, path, err};
    mp_status st;
    skip_space(&p);
    if (p.s >= p.end || *p.s != '{') return syntax_error(&p, "expected '{'");
    p.s++;
    for (;;) {
        skip_space(&p);
        if (p.s < p.end && *p.s == '}') break;
        char key[32];
        if ((st = parse_string(&p, key, sizeof key)) != MP_OK) return st;
        skip_space(&p);
        if (p.s >= p.end || *p.s != ':') return syntax_error(&p, "expected ':'");
        p.s++;
        skip_space(&p);
        if (!strcmp(key, "descr")) {
            if (h->have_descr) return mp_fail(err, MP_ERR_FORMAT, "%s: malformed .npy header: 'descr' twice", path);
            if (p.s < p.end && *p.s == '[')
                return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: structured dtypes are not supported", path);
            if ((st = parse_string(&p, h->descr, sizeof h->descr)) != MP_OK) return st;
            h->have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (h->have_fortran)
                return mp_fail(err, MP_ERR_FORMAT, "%s: malformed .npy header: 'fortran_order' twice", path);
            if ((st = parse_bool(&p, &h->fortran)) != MP_OK) return st;
            h->have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (h->have_shape) return mp_fail(err, MP_ERR_FORMAT, "%s: malformed .npy header: 'shape' twice", path);
            if ((st = parse_shape(&p, h->dims, &h->ndim)) != MP_OK) return st;
            h->have_shape = 1;
        } else {
            return mp_fail(err, MP_ERR_FORMAT, "%s: malformed .npy header: unexpected key '%s'", path, key);
        }
        skip_space(&p);
        if (p.s < p.end && *p.s == ',') {
            p.s++;
            continue;
        }
        if (p.s < p.end && *p.s == '}') break;
        return syntax_error(&p, "expected ',' or '}'");
    }
    p.s++; /* '}' */
    skip_space(&p);
    if (p.s != p.end) return syntax_error(&p, "text after the dict");
    const char *missing = !h->have_descr     ? "descr"
                          : !h->have_fortran ? "fortran_order"
                          : !h->have_shape   ? "shape"
                                             : NULL;
    if (missing) return mp_fail(err, MP_ERR_FORMAT, "%s: malformed .npy header: no '%s'", path, missing);
    return MP_OK;
}

/* "(2, 3, 4)" for messages. */
static void shape_text(const uint64_t *dims, int ndim, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (used < cap) snprintf(buf + used, cap - used, "%s)", ndim == 1 ? "," : "");
}

/* ---- the file ------------------------------------------------------------------------- */

static mp_status read_exact(FILE *f, const char *path, void *buf, size_t n, const char *what, mp_error *err)
{
    size_t got = fread(buf, 1, n, f);
    if (got == n) return MP_OK;
    if (ferror(f)) return mp_fail(err, MP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated .npy file: it ends inside the %s (%zu of %zu bytes)", path,
                   what, got, n);
}

static mp_status read_file(FILE *f, const char *path, npy_array_t *out, mp_error *err)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, 8, f);
    if (ferror(f)) return mp_fail(err, MP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return mp_fail(err, MP_ERR_FORMAT, "%s: not an .npy file (no \\x93NUMPY magic)", path);
    if (got < 8)
        return mp_fail(err, MP_ERR_TRUNCATED, "%s: truncated .npy file: it ends inside the preamble", path);
    unsigned major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2) || minor != 0)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: .npy format version %u.%u is not supported (1.0 and 2.0 are)",
                       path, major, minor);
    size_t len_bytes = major == 1 ? 2 : 4;
    mp_status st = read_exact(f, path, pre + 8, len_bytes, "preamble", err);
    if (st != MP_OK) return st;
    uint64_t header_len = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    if (major == 2) header_len |= (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
    if (header_len > NPY_HEADER_CAP)
        return mp_fail(err, MP_ERR_LIMIT, "%s: .npy header of %llu bytes is beyond the %u-byte cap", path,
                       (unsigned long long)header_len, NPY_HEADER_CAP);
    uint64_t data_at = 8 + len_bytes + header_len;

    struct stat sb;
    int regular = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    if (regular && (uint64_t)sb.st_size < data_at)
        return mp_fail(err, MP_ERR_TRUNCATED,
                       "%s: truncated .npy file: the header says %llu bytes, the file has %llu after the preamble",
                       path, (unsigned long long)header_len, (unsigned long long)sb.st_size - (8 + len_bytes));
    char *text = malloc(header_len ? header_len : 1);
    if (!text) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    st = read_exact(f, path, text, header_len, "header", err);
    header_fields_t h;
    if (st == MP_OK) st = parse_header(path, text, header_len, &h, err);
    free(text);
    if (st != MP_OK) return st;

    static const struct {
        const char *descr;
        npy_read_dtype_t dtype;
        size_t size;
    } known[] = {{"<f4", NPY_READ_F4, 4}, {"<f2", NPY_READ_F2, 2}, {"<i2", NPY_READ_I2, 2}, {"<u2", NPY_READ_U2, 2}};
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(h.descr, known[i].descr)) k = i;
    if (k < 0) {
        if (h.descr[0] == '>')
            return mp_fail(err, MP_ERR_UNSUPPORTED,
                           "%s: big-endian dtype '%s' is not supported (little-endian <f4, <f2, <i2 and <u2 are)", path,
                           h.descr);
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (<f4, <f2, <i2 and <u2 are)", path,
                       h.descr);
    }
    if (h.fortran)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: Fortran-order arrays are not supported (fortran_order is True)",
                       path);
    char shape[NPY_PARSE_DIMS * 22 + 8];
    shape_text(h.dims, h.ndim, shape, sizeof shape);
    if (h.ndim > NPY_READ_MAX_DIMS)
        return mp_fail(err, MP_ERR_UNSUPPORTED, "%s: %d dimensions %s: at most %d are supported", path, h.ndim, shape,
                       NPY_READ_MAX_DIMS);
    uint64_t count = 1;
    for (int i = 0; i < h.ndim; i++) {
        if (h.dims[i] != 0 && count > UINT64_MAX / h.dims[i])
            return mp_fail(err, MP_ERR_LIMIT, "%s: shape %s has too many elements", path, shape);
        count *= h.dims[i];
    }
    if (count > (uint64_t)SIZE_MAX / known[k].size)
        return mp_fail(err, MP_ERR_LIMIT, "%s: shape %s has too many elements", path, shape);
    size_t need = (size_t)count * known[k].size;
    if (regular) {
        uint64_t have = (uint64_t)sb.st_size - data_at;
        if (have < need)
            return mp_fail(err, MP_ERR_TRUNCATED,
                           "%s: truncated .npy file: the data is %llu bytes, shape %s of '%s' needs %zu", path,
                           (unsigned long long)have, shape, h.descr, need);
        if (have > need)
            return mp_fail(err, MP_ERR_FORMAT, "%s: %llu bytes after the data (shape %s of '%s' needs %zu)", path,
                           (unsigned long long)(have - need), shape, h.descr, need);
    }
    void *data = malloc(need ? need : 1);
    if (!data) return mp_fail(err, MP_ERR_NOMEM, "%s: out of memory for %zu bytes of data", path, need);
    st = read_exact(f, path, data, need, "data", err);
    if (st == MP_OK && fgetc(f) != EOF) /* a pipe: no size to check in advance */
        st = mp_fail(err, MP_ERR_FORMAT, "%s: bytes after the data (shape %s of '%s' needs %zu)", path, shape,
                     h.descr, need);
    if (st != MP_OK) {
        free(data);
        return st;
    }
    out->dtype = known[k].dtype;
    memcpy(out->descr, known[k].descr, 4);
    out->item_size = known[k].size;
    out->ndim = h.ndim;
    for (int i = 0; i < h.ndim; i++) out->shape[i] = h.dims[i];
    out->count = (size_t)count;
    out->data = data;
    out->version_major = (int)major;
    return MP_OK;
}

mp_status npy_read(const char *path, npy_array_t *out, mp_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return mp_fail(err, MP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return mp_fail(err, MP_ERR_IO, "%s: is a folder, not an .npy file", path);
    }
    mp_status st = read_file(f, path, out, err);
    fclose(f);
    if (st != MP_OK) npy_free(out);
    return st;
}
