/* npy_write.h - write stage for --format npy: a volume as a NumPy .npy file.
 *
 * NPY 1.0, what numpy 1.24's np.save writes: the magic, the version, the header length,
 * the header dict padded with spaces to a multiple of 64 bytes and a newline, then the
 * C-order data. Written atomically (fs.h).
 */
#ifndef MRIPREP_NPY_WRITE_H
#define MRIPREP_NPY_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"
#include "mriprep/fs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The header of a C-order array of `ndim` dims with numpy dtype string `descr` ("<f4").
 * Returns its length, or 0 when it does not fit `cap` (256 bytes always suffice for
 * ndim <= 8). */
size_t npy_header(char *buf, size_t cap, const char *descr, const uint64_t *shape, int ndim);

/* Writes `data` [bytes] as an .npy file at `path` atomically, creating parent folders;
 * its zero blocks are holes, found by reading them unless `zeros` knows them (fs.h; NULL:
 * nothing known). MP_ERR_WRITE on failure (no temporary file is left behind). */
mp_status npy_write_atomic(const char *path, const char *descr, const uint64_t *shape, int ndim,
                           const void *data, size_t bytes, const zero_hint_t *zeros, mp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_NPY_WRITE_H */
