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

/* ---- gzip, in parallel blocks ---------------------------------------------------------
 * The file (header, then values) is cut into blocks: the header alone, then GZIP_BLOCK
 * bytes of values at a time. Each block is compressed on its own (raw deflate, level 1,
 * a fresh stream with no dictionary) by the OpenMP threads, ending with a sync flush
 * (the last with the stream's end), so the blocks' outputs laid end to end are one
 * deflate stream: the file is ONE gzip member, as a single deflate call would make it
 * (what pigz does; a reader that stops after the first member of a multi-member file
 * would lose data). The CRC-32 is combined from the blocks' (crc32_combine). The blocks
 * do not depend on the thread count, so neither do the bytes. At most GZIP_WAVE blocks'
 * outputs are held at a time. */
#define GZIP_BLOCK (1u << 20)
#define GZIP_WAVE 16

typedef struct gzip_block {
    const unsigned char *in;
    size_t in_bytes;
    unsigned char *out; /* [out_cap] */
    size_t out_cap, out_bytes;
    uLong crc;
    int last;
    int failed; /* 1: out of memory, 2: zlib refused */
} gzip_block_t;

static void gzip_compress_block(gzip_block_t *b)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    b->failed = 0;
    b->crc = crc32(crc32(0L, Z_NULL, 0), b->in, (uInt)b->in_bytes);
    if (deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        b->failed = 1;
        return;
    }
    const size_t need = deflateBound(&z, (uLong)b->in_bytes) + 64; /* + the sync flush's empty block */
    if (need > b->out_cap) {
        free(b->out);
        b->out = malloc(need);
        b->out_cap = b->out ? need : 0;
    }
    if (!b->out) {
        deflateEnd(&z);
        b->failed = 1;
        return;
    }
    z.next_in = (unsigned char *)(uintptr_t)b->in; /* zlib does not write its input */
    z.avail_in = (uInt)b->in_bytes;
    z.next_out = b->out;
    z.avail_out = (uInt)b->out_cap;
    const int zr = deflate(&z, b->last ? Z_FINISH : Z_SYNC_FLUSH);
    if ((b->last ? zr != Z_STREAM_END : zr != Z_OK) || z.avail_in != 0) b->failed = 2;
    b->out_bytes = b->out_cap - z.avail_out;
    deflateEnd(&z);
}

static void put_le32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static mp_status write_gzip(atomic_file_t *f, const unsigned char *header, const void *data, size_t bytes,
                            mp_error *err)
{
    /* RFC 1952 member header: deflate, no flags, no time, extra flags 4 (fastest), Unix. */
    static const unsigned char gz_header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3};
    mp_status st = atomic_file_write(f, gz_header, sizeof gz_header, err);
    const size_t n_blocks = 1 + (bytes + GZIP_BLOCK - 1) / GZIP_BLOCK;
    gzip_block_t wave[GZIP_WAVE];
    memset(wave, 0, sizeof wave);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t first = 0; first < n_blocks && st == MP_OK; first += GZIP_WAVE) {
        const int n = (int)(n_blocks - first < GZIP_WAVE ? n_blocks - first : GZIP_WAVE);
        for (int i = 0; i < n; i++) {
            const size_t k = first + (size_t)i; /* block 0: the header; block k: values [k-1] */
            wave[i].in = k == 0 ? header : (const unsigned char *)data + (k - 1) * GZIP_BLOCK;
            wave[i].in_bytes = k == 0 ? NIFTI_DATA_OFFSET : (k == n_blocks - 1 ? bytes - (k - 1) * GZIP_BLOCK : GZIP_BLOCK);
            wave[i].last = k == n_blocks - 1;
        }
#pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < n; i++) gzip_compress_block(&wave[i]);
        for (int i = 0; i < n && st == MP_OK; i++) {
            if (wave[i].failed == 1) st = mp_fail(err, MP_ERR_NOMEM, "%s: out of memory for gzip", f->path);
            else if (wave[i].failed) st = mp_fail(err, MP_ERR_INTERNAL, "%s: gzip failed", f->path);
            else st = atomic_file_write(f, wave[i].out, wave[i].out_bytes, err);
            crc = crc32_combine(crc, wave[i].crc, (z_off_t)wave[i].in_bytes);
        }
    }
    for (int i = 0; i < GZIP_WAVE; i++) free(wave[i].out);
    if (st != MP_OK) return st;
    unsigned char trailer[8]; /* CRC-32 and the input's size mod 2^32 */
    put_le32(trailer, (uint32_t)crc);
    put_le32(trailer + 4, (uint32_t)((uint64_t)NIFTI_DATA_OFFSET + bytes));
    return atomic_file_write(f, trailer, sizeof trailer, err);
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
        if (st == MP_OK) st = atomic_file_write_sparse(&f, v->data, bytes, v->zeros, err); /* zero blocks are holes */
    }
    if (st != MP_OK) {
        atomic_file_abort(&f);
        return st;
    }
    return atomic_file_commit(&f, err);
}
