/* readahead.c - the read-ahead thread and its window (include/mriprep/readahead.h).
 *
 * One thread, because posix_fadvise(POSIX_FADV_WILLNEED) only queues the reads: a single
 * caller keeps as many in flight as the window holds. The thread sleeps on a condition
 * variable while the window is full; decoders wake it (readahead_file_done) only when it
 * sleeps, so a warm run pays an atomic add per file.
 */
#include "mriprep/readahead.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------------------ */

static uint64_t physical_ram_bytes(void)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

uint64_t readahead_bytes_for(int64_t mb)
{
    if (mb == 0) return 0;
    if (mb > 0) return (uint64_t)mb << 20;
    uint64_t bytes = (uint64_t)READAHEAD_AUTO_MB << 20;
    const uint64_t ram = physical_ram_bytes();
    if (ram && ram / 32 < bytes) bytes = ram / 32;
    const uint64_t floor = 8u << 20;
    return bytes < floor ? floor : bytes;
}

mp_status readahead_parse(const char *text, int64_t *mb, mp_error *err)
{
    if (!strcmp(text, "auto")) {
        *mb = READAHEAD_AUTO;
        return MP_OK;
    }
    char *end = NULL;
    errno = 0;
    const long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || text[0] == '+' || v > 65536)
        return mp_fail(err, MP_ERR_USAGE, "--readahead '%s': expected auto, 0 (off) or MB ahead of the decoders "
                                          "(1..65536)", text);
    *mb = (int64_t)v;
    return MP_OK;
}

mp_status readahead_options_for(int64_t mb, int headers_only, readahead_options_t *opt, mp_error *err)
{
    memset(opt, 0, sizeof *opt);
    opt->max_bytes = readahead_bytes_for(mb);
    opt->max_files = READAHEAD_MAX_FILES;
    opt->headers_only = headers_only;
    const char *drop = getenv("MRIPREP_DROP_PAGES");
    if (!drop || !*drop || !strcmp(drop, "no")) opt->drop = READAHEAD_DROP_NEVER;
    else if (!strcmp(drop, "auto")) opt->drop = READAHEAD_DROP_AUTO;
    else if (!strcmp(drop, "yes")) opt->drop = READAHEAD_DROP_ALWAYS;
    else return mp_fail(err, MP_ERR_USAGE, "MRIPREP_DROP_PAGES='%.100s': expected no, auto or yes", drop);
    return MP_OK;
}

/* ---- the window ----------------------------------------------------------------------- */

void readahead_window_init(readahead_window_t *w, uint64_t *sizes, size_t max_files, uint64_t max_bytes)
{
    memset(w, 0, sizeof *w);
    w->sizes = sizes;
    w->max_files = max_files ? max_files : 1;
    w->max_bytes = max_bytes;
}

int readahead_window_has_room(const readahead_window_t *w, uint64_t bytes)
{
    if (w->next == w->done) return 1;
    return w->next - w->done < w->max_files && w->bytes_ahead + bytes <= w->max_bytes;
}

void readahead_window_issue(readahead_window_t *w, uint64_t bytes)
{
    w->sizes[w->next % w->max_files] = bytes;
    w->bytes_ahead += bytes;
    w->next++;
}

void readahead_window_consume(readahead_window_t *w, size_t done)
{
    if (done <= w->done) return;
    if (done >= w->next) {
        w->next = done;
        w->bytes_ahead = 0;
    } else {
        for (size_t i = w->done; i < done; i++) w->bytes_ahead -= w->sizes[i % w->max_files];
    }
    w->done = done;
}

/* ---- the thread ----------------------------------------------------------------------- */

struct readahead {
    const char *const *paths; /* [n] */
    size_t n;
    readahead_options_t opt;
    readahead_window_t window; /* the thread's alone; owns its sizes[opt.max_files] */
    uint64_t ram;
    atomic_size_t done;        /* files the decoders finished */
    atomic_size_t retired;     /* files [0, retired) will not be read again */
    atomic_int sleeping;       /* the thread waits for `done` or `retired` to move */
    atomic_int stop;
    atomic_size_t position;    /* window.next, for readahead_position() */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    size_t dropped;            /* files [0, dropped) are dealt with (dropped or not) */
    readahead_stats_t stats;
};

static void drop_pages(const char *path)
{
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

/* Drops the pages of files retired since the last call, once the policy says so. */
static void drop_retired(readahead_t *ra)
{
    const size_t retired = atomic_load(&ra->retired);
    if (ra->dropped >= retired) return;
    readahead_stats_t *s = &ra->stats;
    if (!s->dropping && ra->opt.drop == READAHEAD_DROP_AUTO && s->files_issued && ra->ram) {
        /* The list's size, estimated from the files seen so far. */
        const double estimate = (double)s->bytes_issued / (double)s->files_issued * (double)ra->n;
        s->dropping = estimate > (double)ra->ram / 2;
    }
    if (!s->dropping) {
        ra->dropped = retired;
        return;
    }
    for (; ra->dropped < retired; ra->dropped++) {
        drop_pages(ra->paths[ra->dropped]);
        s->files_dropped++;
    }
}

/* The decoders' count, never past the list (a caller may report more files than it
 * listed). */
static size_t files_done(readahead_t *ra)
{
    const size_t done = atomic_load(&ra->done);
    return done < ra->n ? done : ra->n;
}

/* Moves the window past the files the decoders finished; files they finished before the
 * thread reached them count as overtaken (they were read without its help). */
static void consume_done(readahead_t *ra)
{
    readahead_window_t *w = &ra->window;
    const size_t before = w->next;
    readahead_window_consume(w, files_done(ra));
    ra->stats.files_overtaken += w->next - before;
}

/* Sleeps until the decoders finish a file, retire some, or the read-ahead stops. */
static void sleep_until_moved(readahead_t *ra, size_t seen_done, size_t seen_retired)
{
    pthread_mutex_lock(&ra->lock);
    atomic_store(&ra->sleeping, 1);
    while (!atomic_load(&ra->stop) && files_done(ra) == seen_done && atomic_load(&ra->retired) == seen_retired)
        pthread_cond_wait(&ra->wake, &ra->lock);
    atomic_store(&ra->sleeping, 0);
    pthread_mutex_unlock(&ra->lock);
}

/* The bytes a file of `size` bytes takes in the window. */
static uint64_t window_bytes(const readahead_t *ra, uint64_t size)
{
    const uint64_t head_and_tail = READAHEAD_HEAD_BYTES + READAHEAD_TAIL_BYTES;
    return ra->opt.headers_only && size > head_and_tail ? head_and_tail : size;
}

/* Queues the reads of one file, or of its head and last page. */
static void issue_reads(const readahead_t *ra, int fd, uint64_t size)
{
    if (window_bytes(ra, size) == size) {
        posix_fadvise(fd, 0, (off_t)size, POSIX_FADV_WILLNEED);
        return;
    }
    posix_fadvise(fd, 0, READAHEAD_HEAD_BYTES, POSIX_FADV_WILLNEED);
    const uint64_t last_page = (size - 1) / READAHEAD_TAIL_BYTES * READAHEAD_TAIL_BYTES;
    posix_fadvise(fd, (off_t)last_page, READAHEAD_TAIL_BYTES, POSIX_FADV_WILLNEED);
}

/* The bytes file i will take in the window, or 0 to skip it. stat() first: opening a
 * FIFO or a device has effects; O_NONBLOCK covers a file swapped for a FIFO meanwhile. */
static int open_regular(const char *path, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static void *readahead_thread(void *arg)
{
    readahead_t *ra = arg;
    readahead_window_t *w = &ra->window;
    readahead_stats_t *s = &ra->stats;
    while (!atomic_load(&ra->stop)) {
        consume_done(ra);
        drop_retired(ra);
        if (w->next >= ra->n) { /* everything issued: only drops are left to do */
            sleep_until_moved(ra, files_done(ra), atomic_load(&ra->retired));
            continue;
        }
        /* File i: its size first (a file that is not there or not regular takes no
         * room and is skipped), then room for it, then its reads. */
        const size_t i = w->next;
        uint64_t size = 0;
        const int fd = open_regular(ra->paths[i], &size);
        const uint64_t bytes = fd < 0 ? 0 : window_bytes(ra, size);
        for (;;) {
            const size_t done = files_done(ra), retired = atomic_load(&ra->retired);
            consume_done(ra);
            if (w->next != i || readahead_window_has_room(w, bytes) || atomic_load(&ra->stop)) break;
            sleep_until_moved(ra, done, retired);
            drop_retired(ra);
        }
        if (w->next == i && !atomic_load(&ra->stop)) {
            if (fd >= 0) {
                issue_reads(ra, fd, size);
                s->files_issued++;
                s->bytes_issued += bytes;
            } else {
                s->files_skipped++;
            }
            readahead_window_issue(w, bytes);
        }
        atomic_store(&ra->position, w->next);
        if (fd >= 0) close(fd);
    }
    return NULL;
}

mp_status readahead_start(const char *const *paths, size_t n, const readahead_options_t *opt, readahead_t **out,
                          mp_error *err)
{
    *out = NULL;
    if (!opt->max_bytes || !n) return MP_OK;
    readahead_t *ra = calloc(1, sizeof *ra);
    const size_t max_files = opt->max_files ? opt->max_files : READAHEAD_MAX_FILES;
    uint64_t *sizes = calloc(max_files, sizeof *sizes);
    if (!ra || !sizes) {
        free(ra), free(sizes);
        return mp_fail(err, MP_ERR_NOMEM, "cannot allocate the read-ahead window of %zu files", max_files);
    }
    ra->paths = paths;
    ra->n = n;
    ra->opt = *opt;
    ra->opt.max_files = max_files;
    ra->ram = physical_ram_bytes();
    ra->stats.max_bytes = opt->max_bytes;
    ra->stats.dropping = opt->drop == READAHEAD_DROP_ALWAYS;
    readahead_window_init(&ra->window, sizes, max_files, opt->max_bytes);
    pthread_mutex_init(&ra->lock, NULL);
    pthread_cond_init(&ra->wake, NULL);
    if (pthread_create(&ra->thread, NULL, readahead_thread, ra) != 0) {
        pthread_mutex_destroy(&ra->lock);
        pthread_cond_destroy(&ra->wake);
        free(sizes), free(ra);
        return mp_fail(err, MP_ERR_INTERNAL, "cannot start the read-ahead thread");
    }
    *out = ra;
    return MP_OK;
}

static void wake(readahead_t *ra)
{
    if (!atomic_load(&ra->sleeping)) return;
    pthread_mutex_lock(&ra->lock);
    pthread_cond_signal(&ra->wake);
    pthread_mutex_unlock(&ra->lock);
}

void readahead_file_done(readahead_t *ra)
{
    if (!ra) return;
    atomic_fetch_add(&ra->done, 1);
    wake(ra);
}

void readahead_retire(readahead_t *ra, size_t upto)
{
    if (!ra) return;
    if (upto > ra->n) upto = ra->n;
    if (upto <= atomic_load(&ra->retired)) return;
    atomic_store(&ra->retired, upto);
    wake(ra);
}

size_t readahead_position(readahead_t *ra)
{
    return ra ? atomic_load(&ra->position) : 0;
}

void readahead_stop(readahead_t *ra, readahead_stats_t *stats)
{
    if (!ra) {
        if (stats) memset(stats, 0, sizeof *stats);
        return;
    }
    pthread_mutex_lock(&ra->lock);
    atomic_store(&ra->stop, 1);
    pthread_cond_signal(&ra->wake);
    pthread_mutex_unlock(&ra->lock);
    pthread_join(ra->thread, NULL);
    consume_done(ra); /* files finished after the thread last looked */
    drop_retired(ra); /* what was retired since the thread last looked */
    if (stats) *stats = ra->stats;
    pthread_mutex_destroy(&ra->lock);
    pthread_cond_destroy(&ra->wake);
    free(ra->window.sizes);
    free(ra);
}

mp_status readahead_start_for(const char *const *paths, size_t n, int64_t mb, int headers_only, readahead_t **out,
                              mp_error *err)
{
    *out = NULL;
    readahead_options_t opt;
    mp_status st = readahead_options_for(mb, headers_only, &opt, err);
    return st == MP_OK ? readahead_start(paths, n, &opt, out, err) : st;
}
