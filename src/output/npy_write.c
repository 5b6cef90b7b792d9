/* npy_write.c - see include/mriprep/npy_write.h. */
#include "mriprep/npy_write.h"

#include <stdio.h>
#include <string.h>

#include "mriprep/fs.h"

size_t npy_header(char *buf, size_t cap, const char *descr, const uint64_t *shape, int ndim)
{
    /* numpy's repr of a shape tuple: "()", "(7,)", "(256, 256, 128)". */
    char dims[160] = "";
    size_t used = 0;
    for (int i = 0; i < ndim && used < sizeof dims; i++)
        used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)shape[i]);
    char dict[224];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s%s), }", descr, dims,
                     ndim == 1 ? "," : "");
    if (used >= sizeof dims || n <= 0 || (size_t)n >= sizeof dict) return 0;
    /* magic(6) + version(2) + length(2) + dict + space padding + '\n': a multiple of 64 */
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    if (total > cap) return 0;
    size_t hlen = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xFF);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', hlen - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

mp_status npy_write_atomic(const char *path, const char *descr, const uint64_t *shape, int ndim,
                           const void *data, size_t bytes, const zero_hint_t *zeros, mp_error *err)
{
    char header[256];
    size_t hlen = npy_header(header, sizeof header, descr, shape, ndim);
    if (hlen == 0) return mp_fail(err, MP_ERR_INTERNAL, "%s: NPY header does not fit", path);
    const void *pieces[2] = {header, data};
    size_t sizes[2] = {hlen, bytes};
    return pieces_write_atomic(path, pieces, sizes, 2, 1, zeros, err); /* the values sparse: zero blocks are holes */
}
