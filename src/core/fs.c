/* fs.c - see include/mriprep/fs.h. */
#include "mriprep/fs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

char *path_join(const char *dir, const char *name)
{
    size_t ld = strlen(dir), ln = strlen(name);
    int slash = ld > 0 && dir[ld - 1] != '/';
    char *p = malloc(ld + (size_t)slash + ln + 1);
    if (!p) return NULL;
    memcpy(p, dir, ld);
    if (slash) p[ld] = '/';
    memcpy(p + ld + (size_t)slash, name, ln + 1);
    return p;
}

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

/* ---- the OUT lock -------------------------------------------------------------------- */

mp_status out_lock_acquire(out_lock_t *lock, const char *dir, const char *name, mp_error *err)
{
    lock->fd = -1;
    if ((size_t)snprintf(lock->path, sizeof lock->path, "%s/%s", dir, name) >= sizeof lock->path)
        return mp_fail(err, MP_ERR_WRITE, "%s: path too long for its lock file", dir);
    /* The holder removes the file when it is done; a process that opened it before that
     * must not then hold a lock on a file no longer in OUT: retry until the locked file is
     * the one the path names. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) return mp_fail(err, MP_ERR_WRITE, "%s: cannot open the lock file: %s", lock->path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            char text[32] = "";
            ssize_t got = pread(fd, text, sizeof text - 1, 0);
            close(fd);
            long pid = got > 0 ? strtol(text, NULL, 10) : 0;
            if (e == EWOULDBLOCK) {
                if (pid > 0)
                    return mp_fail(err, MP_ERR_WRITE,
                                   "%s is in use by another mriprep (pid %ld; lock %s): wait for it to end, or write "
                                   "into another folder", dir, pid, lock->path);
                return mp_fail(err, MP_ERR_WRITE,
                               "%s is in use by another mriprep (lock %s): wait for it to end, or write into another "
                               "folder", dir, lock->path);
            }
            return mp_fail(err, MP_ERR_WRITE, "%s: cannot lock: %s", lock->path, strerror(e));
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(lock->path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            char text[32];
            int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
                /* the pid is for messages only: the lock holds without it */
            }
            lock->fd = fd;
            return MP_OK;
        }
        close(fd);
    }
    return mp_fail(err, MP_ERR_WRITE, "%s: the lock file keeps being replaced", lock->path);
}

void out_lock_release(out_lock_t *lock)
{
    if (lock->fd < 0) return;
    unlink(lock->path); /* while held: no other process holds a lock on this file */
    close(lock->fd);
    lock->fd = -1;
}

/* ---- atomic files ------------------------------------------------------------------ */

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

/* ---- durability ------------------------------------------------------------------- */

durable_mode_t durable_mode(void)
{
    static int decided = -1; /* read once: the environment does not change under a run */
    if (decided < 0) {
        const char *env = getenv("MRIPREP_FSYNC");
        decided = env && !strcmp(env, "off") ? DURABLE_OFF : env && !strcmp(env, "each") ? DURABLE_EACH : DURABLE_RECORDS;
    }
    return (durable_mode_t)decided;
}

mp_status sync_file(int fd, const char *path, const char *name, mp_error *err)
{
    if (durable_mode() == DURABLE_OFF) return MP_OK;
    int own = -1;
    if (fd < 0) fd = own = open(path, O_RDONLY | O_CLOEXEC); /* fsync through any descriptor flushes the file */
    int bad = fd < 0 || fsync(fd) != 0;
    int saved = errno;
    if (own >= 0) close(own);
    if (bad) return mp_fail(err, MP_ERR_WRITE, "%s: cannot flush to disk: %s", name, strerror(saved));
    return MP_OK;
}

static mp_status sync_folder(const char *dir, mp_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return mp_fail(err, MP_ERR_WRITE, "%s: cannot open to flush: %s", dir, strerror(errno));
    int bad = fsync(fd) != 0 && errno != EINVAL; /* some file systems cannot sync a folder */
    int saved = errno;
    close(fd);
    if (bad) return mp_fail(err, MP_ERR_WRITE, "%s: cannot flush to disk: %s", dir, strerror(saved));
    return MP_OK;
}

mp_status sync_parent_folder(const char *path, mp_error *err)
{
    if (durable_mode() == DURABLE_OFF) return MP_OK;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return sync_folder(dir, err);
}

mp_status atomic_file_commit(atomic_file_t *f, mp_error *err)
{
    mp_status st = MP_OK;
    if (!f->tmp) return mp_fail(err, MP_ERR_INTERNAL, "commit of a file that is not open");
    /* Durable order: the data on disk before the name points at it, then the name. */
    const int flush = f->record ? durable_mode() != DURABLE_OFF : durable_mode() == DURABLE_EACH;
    if (f->hole_at_end && f->fd >= 0 && ftruncate(f->fd, (off_t)f->size) != 0)
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot extend to %llu bytes: %s", f->path, (unsigned long long)f->size,
                     strerror(errno));
    if (st == MP_OK && flush) st = sync_file(f->fd, f->tmp, f->path, err);
    if (f->fd >= 0 && close(f->fd) != 0 && st == MP_OK)
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", f->path, strerror(errno));
    f->fd = -1;
    if (st == MP_OK && rename(f->tmp, f->path) != 0)
        st = mp_fail(err, MP_ERR_WRITE, "%s: cannot rename into place: %s", f->path, strerror(errno));
    if (st == MP_OK && flush) st = sync_parent_folder(f->path, err);
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

/* Writes all of data[bytes] at `offset` (pwrite: a hole before it needs no seek). */
static int write_all_at(int fd, const void *data, size_t bytes, uint64_t offset)
{
    const char *p = data;
    while (bytes > 0) {
        size_t chunk = bytes > (1u << 30) ? (1u << 30) : bytes;
        ssize_t w = pwrite(fd, p, chunk, (off_t)offset);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        bytes -= (size_t)w;
        offset += (uint64_t)w;
    }
    return 0;
}

mp_status atomic_file_write(atomic_file_t *f, const void *data, size_t bytes, mp_error *err)
{
    f->hole_at_end = 0;
    if (write_all_at(f->fd, data, bytes, f->size) != 0)
        return mp_fail(err, MP_ERR_WRITE, "%s: cannot write: %s", f->path, strerror(errno));
    f->size += bytes;
    return MP_OK;
}

/* Whether p[0..n) are all zero bytes, 64 at a time: data stops it within a cache line. */
static int all_zero(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], acc = 0;
        memcpy(w, p + i, sizeof w);
        for (int k = 0; k < 8; k++) acc |= w[k];
        if (acc) return 0;
    }
    for (; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* The end of the run of zero blocks of data[0..bytes) starting at `from` (a block start
 * in the file): from itself when the block there is not all zero or not whole. Blocks
 * that `zeros` says are zero are taken without reading them. */
static size_t zero_run_end(const unsigned char *p, size_t from, size_t bytes, const zero_hint_t *zeros)
{
    size_t end = from;
    for (;;) {
        if (zeros) {
            size_t known = zeros->zero_until(zeros->ctx, end);
            known = known < bytes ? known : bytes;
            const size_t whole = known > end ? (known - end) / ATOMIC_FILE_BLOCK * ATOMIC_FILE_BLOCK : 0;
            if (whole) {
                end += whole;
                continue;
            }
        }
        if (bytes - end < ATOMIC_FILE_BLOCK || !all_zero(p + end, ATOMIC_FILE_BLOCK)) return end;
        end += ATOMIC_FILE_BLOCK;
    }
}

mp_status atomic_file_write_sparse(atomic_file_t *f, const void *data, size_t bytes, const zero_hint_t *zeros,
                                   mp_error *err)
{
    const unsigned char *p = data;
    /* Every zero block is a hole: writing 4 KiB of zeros through the page cache costs more
     * than the extra pwrite call a hole costs (measured: with holes of 16 blocks or more
     * only, a coronal series' padding, 44 blocks a row at most, was written, and the
     * volumetric preset took 1.36x the time). */
    size_t done = 0, scan = (size_t)((ATOMIC_FILE_BLOCK - f->size % ATOMIC_FILE_BLOCK) % ATOMIC_FILE_BLOCK);
    if (scan > bytes) scan = bytes;
    /* [done, scan) is data to write; scan is a block start in the file. */
    while (scan < bytes) {
        const size_t zero_end = zero_run_end(p, scan, bytes, zeros);
        if (zero_end > scan) {
            if (scan > done) {
                mp_status st = atomic_file_write(f, p + done, scan - done, err);
                if (st != MP_OK) return st;
            }
            f->size += zero_end - scan;
            f->hole_at_end = 1;
            done = scan = zero_end;
        } else {
            scan = bytes - scan > ATOMIC_FILE_BLOCK ? scan + ATOMIC_FILE_BLOCK : bytes; /* data: on */
        }
    }
    if (done < bytes) return atomic_file_write(f, p + done, bytes - done, err);
    return MP_OK;
}

mp_status pieces_write_atomic(const char *path, const void *const *pieces, const size_t *sizes, int n,
                              int sparse_from, const zero_hint_t *zeros, mp_error *err)
{
    atomic_file_t f;
    mp_status st = atomic_file_open(&f, path, err);
    if (st != MP_OK) return st;
    for (int i = 0; i < n; i++) {
        if (i < sparse_from) st = atomic_file_write(&f, pieces[i], sizes[i], err);
        else st = atomic_file_write_sparse(&f, pieces[i], sizes[i], i == n - 1 ? zeros : NULL, err);
        if (st != MP_OK) {
            atomic_file_abort(&f);
            return st;
        }
    }
    return atomic_file_commit(&f, err);
}

mp_status text_write_atomic(const char *path, const char *text, size_t len, mp_error *err)
{
    atomic_file_t f;
    mp_status st = atomic_file_open(&f, path, err);
    if (st != MP_OK) return st;
    f.record = 1; /* run.json, scan's reports: small, flushed (durable_mode) */
    if ((st = atomic_file_write(&f, text, len, err)) != MP_OK) {
        atomic_file_abort(&f);
        return st;
    }
    return atomic_file_commit(&f, err);
}

/* ---- reading ------------------------------------------------------------------------- */

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

int open_regular_file(const char *path, const char *name, uint64_t *size, int *missing, mp_error *err)
{
    if (missing) *missing = 0;
    if (!name) name = path;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (missing && (errno == ENOENT || errno == ENOTDIR)) *missing = 1;
        mp_fail(err, MP_ERR_IO, "%s: cannot open: %s", name, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mp_fail(err, MP_ERR_IO, "%s: cannot stat: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        mp_fail(err, MP_ERR_IO, "%s: not a regular file (%s)", name, file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    const int flags = fcntl(fd, F_GETFL);
    if (flags != -1) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (size) *size = (uint64_t)st.st_size;
    return fd;
}

char *text_read(const char *path, size_t max_bytes, size_t *len, int *missing, mp_error *err)
{
    uint64_t size = 0;
    mp_error why;
    mp_error_clear(&why);
    int fd = open_regular_file(path, NULL, &size, missing, &why);
    if (fd < 0) {
        if (!(missing && *missing)) *err = why;
        return NULL;
    }
    if (max_bytes && size > max_bytes) {
        close(fd);
        mp_fail(err, MP_ERR_LIMIT, "%s: %llu bytes, larger than the %zu MiB such a file may be", path,
                (unsigned long long)size, max_bytes >> 20);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (max_bytes && n > max_bytes) {
            free(text);
            fclose(f);
            mp_fail(err, MP_ERR_LIMIT, "%s: larger than %zu MiB", path, max_bytes >> 20);
            return NULL;
        }
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text);
                fclose(f);
                mp_fail(err, MP_ERR_NOMEM, "%s: out of memory", path);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + n, 1, 65536, f);
        n += got;
        if (got < 65536) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        mp_fail(err, MP_ERR_IO, "%s: read error", path);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* ---- leftovers and free space -------------------------------------------------------- */

/* ".<name>.tmp.<pid>" of one of mriprep's own file names, with <name> starting with
 * `prefix` when one is given, left by a process that is gone. */
static int is_temporary_name(const char *name, const char *prefix)
{
    if (name[0] != '.') return 0;
    if (prefix && strncmp(name + 1, prefix, strlen(prefix)) != 0) return 0;
    const char *tmp = strstr(name + 1, ".tmp.");
    if (!tmp || tmp == name + 1) return 0;
    const char *digits = tmp + 5;
    if (!*digits || strlen(digits) > 9) return 0;
    for (const char *c = digits; *c; c++)
        if (!isdigit((unsigned char)*c)) return 0;
    static const char *const ours[] = {".npy", ".nii", ".nii.gz", ".csv", ".csv.partial", ".json"};
    const size_t base = (size_t)(tmp - (name + 1));
    int known = 0;
    for (size_t i = 0; i < sizeof ours / sizeof *ours && !known; i++) {
        const size_t n = strlen(ours[i]);
        known = base > n && strncmp(tmp - n, ours[i], n) == 0;
    }
    if (!known) return 0;
    const long pid = strtol(digits, NULL, 10);
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

size_t remove_temporary_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temporary_name(e->d_name, prefix)) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}

int free_bytes_at(const char *path, uint64_t *bytes)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    struct statvfs fs;
    while (statvfs(dir, &fs) != 0) {
        char *slash = strrchr(dir, '/');
        if (!slash) {
            snprintf(dir, sizeof dir, ".");
            if (statvfs(dir, &fs) != 0) return -1;
            break;
        }
        if (slash == dir) slash[1] = '\0';
        else *slash = '\0';
    }
    *bytes = (uint64_t)fs.f_bavail * (uint64_t)fs.f_frsize;
    return 0;
}
