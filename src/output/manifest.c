/* writer.c - see include/mriprep/writer.h. */
#include "mriprep/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char MANIFEST_COLUMNS[] =
    "split,id,modality,label,status,reason,files,kept,depth,src_rows,src_cols,mean,std,output,seconds,plane,order,"
    "geometry,augmented";

mp_status make_dirs(const char *path, mp_error *err)
{
    size_t n = strlen(path);
    char *buf = malloc(n + 1);
    if (!buf) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            mp_status st = mp_fail(err, MP_ERR_WRITE, "%s: cannot create folder: %s", buf, strerror(errno));
            free(buf);
            return st;
        }
        buf[i] = saved;
    }
    struct stat st;
    int ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    free(buf);
    if (!ok) return mp_fail(err, MP_ERR_WRITE, "%s: exists and is not a folder", path);
    return MP_OK;
}

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

/* Temporary name beside `path`: "<dir>/.<name>.tmp.<pid>". */
static char *temp_name_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *name = path + dir_len;
    size_t cap = strlen(path) + 40;
    char *tmp = malloc(cap);
    if (tmp) snprintf(tmp, cap, "%.*s.%s.tmp.%ld", (int)dir_len, path, name, (long)getpid());
    return tmp;
}

mp_status atomic_file_open(atomic_file_t *f, const char *path, mp_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    size_t n = strlen(path);
    if (n == 0 || path[n - 1] == '/') return mp_fail(err, MP_ERR_WRITE, "'%s': not a file name", path);
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = strndup(path, (size_t)(slash - path));
        if (!dir) return mp_fail(err, MP_ERR_NOMEM, "out of memory");
        mp_status st = make_dirs(dir, err);
        free(dir);
        if (st != MP_OK) return st;
    }
    f->path = strdup(path);
    f->tmp = temp_name_for(path);
    if (!f->path || !f->tmp) {
        atomic_file_abort(f);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        mp_status st = mp_fail(err, MP_ERR_WRITE, "%s: cannot create: %s", path, strerror(errno));
        free(f->tmp); /* nothing was created: nothing to remove */
        f->tmp = NULL;
        atomic_file_abort(f);
        return st;
    }
    return MP_OK;
}

mp_status atomic_file_commit(atomic_file_t *f, mp_error *err)
{
    mp_status st = MP_OK;
    if (!f->tmp) return mp_fail(err, MP_ERR_INTERNAL, "commit of a file that is not open");
    if (f->fd >= 0 && close(f->fd) != 0) st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", f->path, strerror(errno));
    f->fd = -1;
    if (st == MP_OK && rename(f->tmp, f->path) != 0)
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot rename into place: %s", f->path, strerror(errno));
    if (st == MP_OK) { /* renamed: nothing left to remove */
        free(f->tmp);
        f->tmp = NULL;
    }
    atomic_file_abort(f);
    return st;
}

void atomic_file_abort(atomic_file_t *f)
{
    if (!f) return;
    /* Only a file this struct opened is closed: a zeroed struct has fd 0, which is stdin. */
    if (f->tmp && f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

static int write_all(int fd, const void *data, size_t bytes)
{
    const char *p = data;
    while (bytes > 0) {
        size_t chunk = bytes > (1u << 30) ? (1u << 30) : bytes;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        bytes -= (size_t)w;
    }
    return 0;
}

mp_status atomic_file_write(atomic_file_t *f, const void *data, size_t bytes, mp_error *err)
{
    if (write_all(f->fd, data, bytes) != 0)
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", f->path, strerror(errno));
    return MP_OK;
}

/* Writes the pieces to `path` through an atomic_file_t. */
static mp_status write_pieces_atomic(const char *path, const void *const *pieces, const size_t *sizes, int n,
                                     mp_error *err)
{
    atomic_file_t f;
    mp_status st = atomic_file_open(&f, path, err);
    if (st != MP_OK) return st;
    for (int i = 0; i < n; i++)
        if ((st = atomic_file_write(&f, pieces[i], sizes[i], err)) != MP_OK) {
            atomic_file_abort(&f);
            return st;
        }
    return atomic_file_commit(&f, err);
}

mp_status npy_write_atomic(const char *path, const char *descr, const uint64_t *shape, int ndim,
                           const void *data, size_t bytes, mp_error *err)
{
    char header[256];
    size_t hlen = npy_header(header, sizeof header, descr, shape, ndim);
    if (hlen == 0) return mp_fail(err, MP_ERR_INTERNAL, "%s: NPY header does not fit", path);
    const void *pieces[2] = {header, data};
    size_t sizes[2] = {hlen, bytes};
    return write_pieces_atomic(path, pieces, sizes, 2, err);
}

mp_status text_write_atomic(const char *path, const char *text, size_t len, mp_error *err)
{
    const void *pieces[1] = {text};
    size_t sizes[1] = {len};
    return write_pieces_atomic(path, pieces, sizes, 1, err);
}

void csv_write_field(FILE *f, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

mp_status manifest_open(manifest_writer_t *m, const char *path, mp_error *err)
{
    memset(m, 0, sizeof *m);
    size_t n = strlen(path);
    m->path = strdup(path);
    m->partial_path = malloc(n + sizeof ".partial");
    if (!m->path || !m->partial_path) {
        manifest_abandon(m);
        return mp_fail(err, MP_ERR_NOMEM, "out of memory");
    }
    snprintf(m->partial_path, n + sizeof ".partial", "%s.partial", path);
    m->file = fopen(m->partial_path, "w");
    if (!m->file) {
        mp_status st = mp_fail(err, MP_ERR_WRITE, "%s: cannot create: %s", m->partial_path, strerror(errno));
        manifest_abandon(m);
        return st;
    }
    if (fprintf(m->file, "%s\n", MANIFEST_COLUMNS) < 0 || fflush(m->file) != 0) {
        mp_status st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(errno));
        manifest_abandon(m);
        return st;
    }
    return MP_OK;
}

static void write_int_field(FILE *f, int64_t v)
{
    if (v >= 0) fprintf(f, "%lld", (long long)v);
}

mp_status manifest_append(manifest_writer_t *m, const manifest_row_t *r, mp_error *err)
{
    FILE *f = m->file;
    const char *text[] = {r->split, r->id, r->modality, r->label, r->status, r->reason};
    for (size_t i = 0; i < sizeof text / sizeof *text; i++) {
        csv_write_field(f, text[i]);
        fputc(',', f);
    }
    const int64_t ints[] = {r->files, r->kept, r->depth, r->src_rows, r->src_cols};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        write_int_field(f, ints[i]);
        fputc(',', f);
    }
    /* %.17g: the exact double, so a reader gets the bits the volume was scaled with. */
    if (r->has_moments) fprintf(f, "%.17g,%.17g,", r->mean, r->std);
    else fputs(",,", f);
    csv_write_field(f, r->output ? r->output : "");
    fputc(',', f);
    if (r->seconds >= 0) fprintf(f, "%.4f", r->seconds);
    const char *const geometry[] = {r->plane, r->order, r->geometry, r->augmented};
    for (size_t i = 0; i < sizeof geometry / sizeof *geometry; i++) {
        fputc(',', f);
        csv_write_field(f, geometry[i] ? geometry[i] : "");
    }
    fputc('\n', f);
    if (ferror(f) || fflush(f) != 0)
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(errno));
    return MP_OK;
}

mp_status manifest_append_fields(manifest_writer_t *m, const char *const *fields, size_t n, mp_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', m->file);
        csv_write_field(m->file, fields[i]);
    }
    fputc('\n', m->file);
    if (ferror(m->file) || fflush(m->file) != 0)
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(errno));
    return MP_OK;
}

mp_status manifest_finish(manifest_writer_t *m, mp_error *err)
{
    mp_status st = MP_OK;
    if (m->file) {
        int bad = fflush(m->file) != 0 || ferror(m->file);
        int saved = errno;
        if (fclose(m->file) != 0 && !bad) bad = 1, saved = errno;
        m->file = NULL;
        if (bad) st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", m->partial_path, strerror(saved));
    }
    if (st == MP_OK && rename(m->partial_path, m->path) != 0)
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot rename into place: %s", m->path, strerror(errno));
    manifest_abandon(m);
    return st;
}

void manifest_abandon(manifest_writer_t *m)
{
    if (m->file) fclose(m->file);
    free(m->path);
    free(m->partial_path);
    memset(m, 0, sizeof *m);
}
