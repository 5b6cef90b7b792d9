/* nifti.c - see include/mriprep/nifti.h. Field offsets follow the NIfTI-1 standard
 * (nifti1.h of the NIfTI DFWG); the header is assembled byte by byte, little endian, so
 * no struct packing or host byte order is assumed. */
#include "mriprep/nifti.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mriprep/fs.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the voxel data is written as it is in memory: a little-endian host is assumed"
#endif

#define NIFTI_TYPE_FLOAT32 16
#define NIFTI_XFORM_SCANNER_ANAT 1
#define NIFTI_UNITS_MM 2

static void put_i16(unsigned char *b, size_t at, int16_t v)
{
    uint16_t u = (uint16_t)v;
    b[at] = (unsigned char)(u & 0xff);
    b[at + 1] = (unsigned char)(u >> 8);
}

static void put_i32(unsigned char *b, size_t at, int32_t v)
{
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) b[at + (size_t)i] = (unsigned char)(u >> (8 * i));
}

static void put_f32(unsigned char *b, size_t at, double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    put_i32(b, at, (int32_t)u);
}

/* Quaternion (b, c, d; a >= 0 implied) and qfac of the rotation in the affine's
 * columns, scaled to unit length. A left-handed affine (negative determinant) has its
 * third column negated first and qfac -1, as NIfTI defines the qform. */
static void affine_quaternion(const double affine[3][4], const double voxel[3], double q[3], double *qfac)
{
    double r[3][3];
    for (int row = 0; row < 3; row++)
        for (int col = 0; col < 3; col++) r[row][col] = voxel[col] > 0 ? affine[row][col] / voxel[col] : 0.0;
    double det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
                 r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    *qfac = 1.0;
    if (det < 0) {
        *qfac = -1.0;
        for (int row = 0; row < 3; row++) r[row][2] = -r[row][2];
    }
    double a, b, c, d;
    double trace = r[0][0] + r[1][1] + r[2][2];
    if (trace > 0) {
        a = 0.5 * sqrt(1.0 + trace);
        b = (r[2][1] - r[1][2]) / (4 * a);
        c = (r[0][2] - r[2][0]) / (4 * a);
        d = (r[1][0] - r[0][1]) / (4 * a);
    } else if (r[0][0] >= r[1][1] && r[0][0] >= r[2][2]) {
        b = 0.5 * sqrt(1.0 + r[0][0] - r[1][1] - r[2][2]);
        a = (r[2][1] - r[1][2]) / (4 * b);
        c = (r[0][1] + r[1][0]) / (4 * b);
        d = (r[0][2] + r[2][0]) / (4 * b);
    } else if (r[1][1] >= r[2][2]) {
        c = 0.5 * sqrt(1.0 + r[1][1] - r[0][0] - r[2][2]);
        a = (r[0][2] - r[2][0]) / (4 * c);
        b = (r[0][1] + r[1][0]) / (4 * c);
        d = (r[1][2] + r[2][1]) / (4 * c);
    } else {
        d = 0.5 * sqrt(1.0 + r[2][2] - r[0][0] - r[1][1]);
        a = (r[1][0] - r[0][1]) / (4 * d);
        b = (r[0][2] + r[2][0]) / (4 * d);
        c = (r[1][2] + r[2][1]) / (4 * d);
    }
    if (a < 0) b = -b, c = -c, d = -d; /* the same rotation with a >= 0 */
    q[0] = b;
    q[1] = c;
    q[2] = d;
}

void nifti_header(const nifti_volume_t *v, unsigned char out[NIFTI_DATA_OFFSET])
{
    memset(out, 0, NIFTI_DATA_OFFSET);
    put_i32(out, 0, NIFTI_HEADER_BYTES); /* sizeof_hdr */
    out[38] = 'r';                       /* regular */
    put_i16(out, 40, 3);                 /* dim[0]: three dimensions */
    put_i16(out, 42, (int16_t)v->nx);
    put_i16(out, 44, (int16_t)v->ny);
    put_i16(out, 46, (int16_t)v->nz);
    for (int i = 4; i < 8; i++) put_i16(out, 40 + 2 * (size_t)i, 1);
    put_i16(out, 70, NIFTI_TYPE_FLOAT32); /* datatype */
    put_i16(out, 72, 32);                 /* bitpix */
    double voxel[3] = {1, 1, 1};
    if (v->has_affine)
        for (int col = 0; col < 3; col++)
            voxel[col] = sqrt(v->affine[0][col] * v->affine[0][col] + v->affine[1][col] * v->affine[1][col] +
                              v->affine[2][col] * v->affine[2][col]);
    double q[3] = {0, 0, 0}, qfac = 1.0;
    if (v->has_affine) affine_quaternion(v->affine, voxel, q, &qfac);
    put_f32(out, 76, qfac); /* pixdim[0] */
    for (int i = 0; i < 3; i++) put_f32(out, 80 + 4 * (size_t)i, voxel[i]);
    put_f32(out, 108, NIFTI_DATA_OFFSET); /* vox_offset */
    put_f32(out, 112, 1.0);               /* scl_slope: values as stored */
    out[123] = NIFTI_UNITS_MM;            /* xyzt_units */
    if (v->description) {
        size_t n = strlen(v->description);
        memcpy(out + 148, v->description, n > 79 ? 79 : n);
    }
    if (v->has_affine) {
        put_i16(out, 252, NIFTI_XFORM_SCANNER_ANAT); /* qform_code */
        put_i16(out, 254, NIFTI_XFORM_SCANNER_ANAT); /* sform_code */
        for (int i = 0; i < 3; i++) put_f32(out, 256 + 4 * (size_t)i, q[i]);         /* quatern_b..d */
        for (int i = 0; i < 3; i++) put_f32(out, 268 + 4 * (size_t)i, v->affine[i][3]); /* qoffset_x..z */
        for (int row = 0; row < 3; row++)
            for (int col = 0; col < 4; col++) put_f32(out, 280 + 16 * (size_t)row + 4 * (size_t)col, v->affine[row][col]);
    }
    memcpy(out + 344, "n+1", 4); /* magic, with its NUL */
}

/* The file through gzip, in 1 MiB pieces. */
static mp_status write_gzip(atomic_file_t *f, const unsigned char *header, const void *data, size_t bytes,
                            mp_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return mp_fail(err, MP_ERR_NOMEM, "%s: cannot start gzip", f->path);
    enum { OUT_CHUNK = 1 << 20 };
    unsigned char *buf = malloc(OUT_CHUNK);
    if (!buf) {
        deflateEnd(&z);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    mp_status st = MP_OK;
    const unsigned char *pieces[2] = {header, data};
    size_t sizes[2] = {NIFTI_DATA_OFFSET, bytes};
    for (int p = 0; p < 2 && st == MP_OK; p++) {
        const unsigned char *at = pieces[p];
        size_t left = sizes[p];
        do {
            size_t take = left > (1u << 30) ? (1u << 30) : left;
            z.next_in = (unsigned char *)(uintptr_t)at; /* zlib does not write its input */
            z.avail_in = (uInt)take;
            at += take;
            left -= take;
            int flush = (p == 1 && left == 0) ? Z_FINISH : Z_NO_FLUSH;
            int zr;
            do {
                z.next_out = buf;
                z.avail_out = OUT_CHUNK;
                zr = deflate(&z, flush);
                if (zr == Z_STREAM_ERROR) {
                    st = mp_fail(err, MP_ERR_INTERNAL, "%s: gzip failed", f->path);
                    break;
                }
                st = atomic_file_write(f, buf, OUT_CHUNK - z.avail_out, err);
            } while (st == MP_OK && z.avail_out == 0);
        } while (st == MP_OK && left > 0);
    }
    deflateEnd(&z);
    free(buf);
    return st;
}

mp_status nifti_write_atomic(const char *path, const nifti_volume_t *v, int compress, mp_error *err)
{
    if (v->nx < 1 || v->ny < 1 || v->nz < 1 || v->nx > 32767 || v->ny > 32767 || v->nz > 32767)
        return mp_fail(err, MP_ERR_INTERNAL, "%s: %lldx%lldx%lld voxels do not fit a NIfTI-1 header", path,
                       (long long)v->nx, (long long)v->ny, (long long)v->nz);
    unsigned char header[NIFTI_DATA_OFFSET];
    nifti_header(v, header);
    const size_t bytes = (size_t)v->nx * (size_t)v->ny * (size_t)v->nz * sizeof(float);
    atomic_file_t f;
    mp_status st = atomic_file_open(&f, path, err);
    if (st != MP_OK) return st;
    if (compress) {
        st = write_gzip(&f, header, v->data, bytes, err);
    } else {
        st = atomic_file_write(&f, header, sizeof header, err);
        if (st == MP_OK) st = atomic_file_write_sparse(&f, v->data, bytes, err); /* zero blocks are holes */
    }
    if (st != MP_OK) {
        atomic_file_abort(&f);
        return st;
    }
    return atomic_file_commit(&f, err);
}
