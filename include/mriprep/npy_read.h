/* npy_read.h - reads a NumPy .npy file: the volumes `mriprep run` writes, for
 * `mriprep show`.
 *
 * Accepted: NPY format 1.0 and 2.0 (numpy.save writes 1.0, and 2.0 when the header
 * does not fit 64 KiB); one array in C order (fortran_order False) of up to
 * NPY_READ_MAX_DIMS dimensions, of a little-endian dtype '<f4', '<f2', '<i2' or '<u2'.
 * Everything is checked before it is trusted: the magic, the version, the header
 * length against the file, the header dict's syntax (a Python literal dict with
 * exactly the keys 'descr', 'fortran_order' and 'shape'), the shape's size against
 * overflow, and that the data is exactly shape x itemsize bytes. Errors name the file
 * and the problem ("x.npy: big-endian dtype '>f4' is not supported").
 * The host must be little-endian (the data is not swapped).
 */
#ifndef MRIPREP_NPY_READ_H
#define MRIPREP_NPY_READ_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NPY_READ_MAX_DIMS 4

typedef enum npy_read_dtype {
    NPY_READ_F4 = 0, /* '<f4' float32 */
    NPY_READ_F2,     /* '<f2' float16 (IEEE 754 binary16) */
    NPY_READ_I2,     /* '<i2' int16 */
    NPY_READ_U2      /* '<u2' uint16 */
} npy_read_dtype_t;

typedef struct npy_array {
    npy_read_dtype_t dtype;
    char descr[4];                       /* "<f4", "<f2", "<i2" or "<u2" */
    size_t item_size;                    /* bytes per element: 4 or 2 */
    int ndim;                            /* 0..NPY_READ_MAX_DIMS (0: a scalar, one element) */
    uint64_t shape[NPY_READ_MAX_DIMS];   /* [ndim], the rest 0 */
    size_t count;                        /* elements: the product of shape (1 when ndim is 0) */
    void *data;                          /* [count * item_size] bytes, C order, owned (malloc);
                                            never NULL on MP_OK, even when count is 0 */
    int version_major;                   /* 1 or 2 */
} npy_array_t;

/* Reads `path` into *out. On failure *out is zeroed (npy_free is still safe).
 * Returns MP_OK; MP_ERR_IO (cannot open or read; message with the OS error);
 * MP_ERR_FORMAT (no NPY magic, header malformed, shape invalid, bytes after the data);
 * MP_ERR_TRUNCATED (the file ends inside the header or the data: expected and actual
 * sizes); MP_ERR_UNSUPPORTED (version other than 1.0/2.0, a dtype other than the four,
 * big-endian data, Fortran order, more than NPY_READ_MAX_DIMS dimensions);
 * MP_ERR_LIMIT (the shape's size overflows); MP_ERR_NOMEM. `err` may be NULL. */
mp_status npy_read(const char *path, npy_array_t *out, mp_error *err);

/* Frees the data and zeroes *a. Safe on a zeroed array, NULL, and twice. */
void npy_free(npy_array_t *a);

/* IEEE 754 binary16 bits to float, exactly as numpy's float16 -> float32 cast:
 * every finite half (subnormals included) is exact in float, infinities stay
 * infinite, a NaN keeps its sign and payload (shifted to the top of the float's). */
float npy_half_to_float(uint16_t h);

/* Element i of `a` as float: exact for '<f4', '<f2', '<i2' and '<u2'. i < a->count. */
float npy_value_as_float(const npy_array_t *a, size_t i);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_NPY_READ_H */
