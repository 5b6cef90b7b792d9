/* readahead_probe.c - which way of keeping reads in flight ahead of the decoders gets a
 * cold decode closest to the parallel-read limit (issue 14's measurement, kept so the
 * choice can be redone on other storage). Every .dcm file of DATA is decoded with dcmtk
 * as `mriprep run` does (OpenMP over the files of one series, series after series), while
 * one of these keeps the next files' reads in flight, at most --window-files files and
 * --window-mb MB ahead of the files the decoders finished:
 *
 *   none        the decoders' own reads only (one read in flight per thread)
 *   fadvise     one thread: open, posix_fadvise(POSIX_FADV_WILLNEED), close, per file
 *   readahead   the same with Linux's readahead(2)
 *   pool        --io-threads threads pread() each file whole into a scratch buffer (the
 *               page cache then serves the decoders); at most that many reads in flight
 *   mmap        one thread: mmap + madvise(MADV_WILLNEED) + munmap, per file
 *
 *   build/bench/readahead_probe DATA MECH [--threads T] [--window-files F] [--window-mb M]
 *                               [--io-threads K] [--head BYTES] [--cold]
 *
 * --head BYTES: scan's case: header reads only (dicom_read_header) and read-ahead of each
 * file's first BYTES. --cold: drop every file's pages (POSIX_FADV_DONTNEED) first and print
 * how many bytes were resident before and after (mincore). Prints one line:
 *   MECH files seconds files/s MB/s
 * A timing tool, not a test: run it under bench/, compare within one session.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if MRIPREP_HAVE_OMP
#include <omp.h>
#endif

#include "mriprep/dataset.h"
#include "mriprep/dicom.h"
#include "mriprep/timer.h"

typedef enum { MECH_NONE, MECH_FADVISE, MECH_READAHEAD, MECH_POOL, MECH_MMAP } mech_t;

typedef struct probe {
    const char **paths;
    size_t n;
    mech_t mech;
    size_t window_files;
    uint64_t window_bytes, head;
    atomic_size_t done;   /* files the decoders finished */
    atomic_size_t next;   /* next file to read ahead */
    atomic_ullong ahead_bytes; /* bytes issued ahead of `done` (approximate for the pool) */
    uint64_t *size;       /* [n] bytes issued for file i (0 until issued) */
    atomic_int stop;
} probe_t;

static uint64_t file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Waits until file i fits in the window; returns 0 when the run ended. Polls: this is
 * the probe, the library's window sleeps on a condition variable. */
static int wait_for_room(probe_t *p, size_t i, uint64_t bytes)
{
    for (;;) {
        if (p->stop) return 0;
        size_t done = atomic_load(&p->done);
        if (i < done) return 2; /* the decoders passed it: skip */
        if (i - done < p->window_files && (atomic_load(&p->ahead_bytes) + bytes <= p->window_bytes || i == done))
            return 1;
        usleep(200);
    }
}

static void issue_one(probe_t *p, size_t i, void *scratch, size_t scratch_cap)
{
    const char *path = p->paths[i];
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    uint64_t len = (uint64_t)st.st_size;
    if (p->head && p->head < len) len = p->head;
    int room = wait_for_room(p, i, len);
    if (room == 1) {
        p->size[i] = len;
        atomic_fetch_add(&p->ahead_bytes, len);
        if (p->mech == MECH_FADVISE) {
            posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_WILLNEED);
            /* A header read also reads the file's last page: dcmtk seeks past the pixel
             * data to look for elements after it. */
            if (p->head && (uint64_t)st.st_size > len)
                posix_fadvise(fd, st.st_size > 4096 ? (st.st_size - 1) / 4096 * 4096 : 0, 4096,
                              POSIX_FADV_WILLNEED);
        } else if (p->mech == MECH_READAHEAD) {
            readahead(fd, 0, (size_t)len);
        } else if (p->mech == MECH_MMAP) {
            void *m = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
            if (m != MAP_FAILED) {
                madvise(m, len, MADV_WILLNEED);
                munmap(m, len);
            }
        } else if (p->mech == MECH_POOL) {
            uint64_t off = 0;
            while (off < len) {
                size_t want = len - off < scratch_cap ? (size_t)(len - off) : scratch_cap;
                ssize_t got = pread(fd, scratch, want, (off_t)off);
                if (got <= 0) break;
                off += (uint64_t)got;
            }
        }
    }
    close(fd);
}

static void *issuer(void *arg)
{
    probe_t *p = arg;
    const size_t cap = 1 << 20;
    void *scratch = p->mech == MECH_POOL ? malloc(cap) : NULL;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n || p->stop) break;
        issue_one(p, i, scratch, cap);
    }
    free(scratch);
    return NULL;
}

/* Decoder side: file i finished; the window slides (bytes of the files now behind). */
static void file_done(probe_t *p)
{
    size_t d = atomic_fetch_add(&p->done, 1);
    uint64_t b = p->size[d];
    if (b) atomic_fetch_sub(&p->ahead_bytes, b);
}

/* Bytes of the files' pages in the page cache (mincore over a mapping of each file). */
static uint64_t resident_bytes(const char **paths, size_t n)
{
    const long page = sysconf(_SC_PAGESIZE);
    uint64_t total = 0;
    unsigned char *vec = NULL;
    size_t vec_cap = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size > 0) {
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
            if (m != MAP_FAILED) {
                size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
                if (pages > vec_cap) {
                    vec_cap = pages;
                    vec = realloc(vec, vec_cap);
                }
                if (vec && mincore(m, (size_t)st.st_size, vec) == 0)
                    for (size_t k = 0; k < pages; k++) total += (vec[k] & 1) ? (uint64_t)page : 0;
                munmap(m, (size_t)st.st_size);
            }
        }
        close(fd);
    }
    free(vec);
    return total;
}

static void drop_pages(const char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DATA none|fadvise|readahead|pool|mmap [--threads T] [--window-files F] "
                        "[--window-mb M] [--io-threads K] [--head BYTES] [--cold]\n", argv[0]);
        return 1;
    }
    static const char *const mech_names[] = {"none", "fadvise", "readahead", "pool", "mmap"};
    int mech = -1;
    for (int m = 0; m < 5; m++)
        if (!strcmp(argv[2], mech_names[m])) mech = m;
    if (mech < 0) {
        fprintf(stderr, "unknown mechanism '%s'\n", argv[2]);
        return 1;
    }
    int threads = 0, io_threads = 8, cold = 0;
    size_t window_files = 256;
    double window_mb = 64;
    uint64_t head = 0;
    for (int a = 3; a < argc; a++) {
        if (!strcmp(argv[a], "--cold")) cold = 1;
        else if (a + 1 < argc && !strcmp(argv[a], "--threads")) threads = atoi(argv[++a]);
        else if (a + 1 < argc && !strcmp(argv[a], "--window-files")) window_files = (size_t)atol(argv[++a]);
        else if (a + 1 < argc && !strcmp(argv[a], "--window-mb")) window_mb = atof(argv[++a]);
        else if (a + 1 < argc && !strcmp(argv[a], "--io-threads")) io_threads = atoi(argv[++a]);
        else if (a + 1 < argc && !strcmp(argv[a], "--head")) head = (uint64_t)atoll(argv[++a]);
        else {
            fprintf(stderr, "unknown argument '%s'\n", argv[a]);
            return 1;
        }
    }
#if MRIPREP_HAVE_OMP
    if (threads <= 0) threads = omp_get_num_procs();
#else
    threads = 1;
#endif
    mp_error err;
    if (dicom_global_init(&err) != MP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    static const char *const modalities[] = DATASET_DEFAULT_MODALITIES;
    dataset_options_t opt = {modalities, DATASET_DEFAULT_MODALITY_COUNT, NULL, 0, NULL};
    dataset_t ds;
    if (dataset_walk(argv[1], &opt, &ds, &err) != MP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    probe_t p;
    memset(&p, 0, sizeof p);
    p.mech = (mech_t)mech;
    p.window_files = window_files ? window_files : 1;
    p.window_bytes = (uint64_t)(window_mb * 1e6);
    p.head = head;
    for (size_t s = 0; s < ds.n_series; s++) p.n += ds.series[s].n_files;
    p.paths = malloc((p.n ? p.n : 1) * sizeof *p.paths);
    p.size = calloc(p.n ? p.n : 1, sizeof *p.size);
    size_t k = 0;
    for (size_t s = 0; s < ds.n_series; s++)
        for (size_t i = 0; i < ds.series[s].n_files; i++) p.paths[k++] = ds.series[s].files[i];
    uint64_t total = 0;
    for (size_t i = 0; i < p.n; i++) total += file_bytes(p.paths[i]);
    if (cold) {
        uint64_t before = resident_bytes(p.paths, p.n);
        drop_pages(p.paths, p.n);
        fprintf(stderr, "resident before the drop: %.1f MB, after: %.1f MB (of %.1f MB)\n", before / 1e6,
                resident_bytes(p.paths, p.n) / 1e6, total / 1e6);
    }

    const double t0 = mp_wall_seconds();
    const int n_issuers = p.mech == MECH_NONE ? 0 : p.mech == MECH_POOL ? io_threads : 1;
    pthread_t *th = calloc((size_t)(n_issuers ? n_issuers : 1), sizeof *th);
    for (int t = 0; t < n_issuers; t++) pthread_create(&th[t], NULL, issuer, &p);
    size_t failed = 0, base = 0;
    for (size_t s = 0; s < ds.n_series; s++) {
        const series_t *se = &ds.series[s];
#pragma omp parallel num_threads(threads) reduction(+ : failed)
        {
            dicom_buffer_t buf;
            memset(&buf, 0, sizeof buf);
#pragma omp for schedule(dynamic, 1)
            for (int64_t i = 0; i < (int64_t)se->n_files; i++) {
                dicom_header_t h;
                mp_error e;
                const char *path = p.paths[base + (size_t)i];
                failed += (head ? dicom_read_header(path, &h, &e)
                                : dicom_decode_slice_with(path, &h, dicom_place_in_buffer, &buf, &e)) != MP_OK;
                file_done(&p);
            }
            dicom_buffer_free(&buf);
        }
        base += se->n_files;
    }
    p.stop = 1;
    for (int t = 0; t < n_issuers; t++) pthread_join(th[t], NULL);
    const double secs = mp_wall_seconds() - t0;
    printf("%s %zu %.3f %.0f %.0f  (%zu failed; %d decode threads, window %zu files / %.0f MB%s)\n", mech_names[mech],
           p.n, secs, (double)p.n / secs, (double)total / 1e6 / secs, failed, threads, p.window_files, window_mb,
           head ? ", header reads" : "");
    free(th);
    free(p.paths);
    free(p.size);
    dataset_free(&ds);
    dicom_global_cleanup();
    return 0;
}
