/* readahead.h - input stage: the next files' reads kept in flight ahead of the decoders.
 *
 * A dataset that does not fit in RAM is read cold, and cold storage (a cloud volume, NFS,
 * Lustre, a Kaggle disk) gives its throughput only to many reads at once: each decode
 * thread alone keeps one in flight. A read-ahead is one thread that walks the list of
 * files the decoders will read, in their order, and asks the kernel for each file's pages
 * (posix_fadvise POSIX_FADV_WILLNEED: the reads are queued and the call returns), staying
 * within a window: at most `max_files` files and `max_bytes` bytes ahead of the files the
 * decoders have finished. The decoders then find the pages in the page cache. Nothing is
 * read into this process's memory: the window costs page cache, not RSS.
 *
 * docs/readahead.md gives the measurements behind this choice (against readahead(2), a
 * pool of reader threads, mmap + MADV_WILLNEED) and behind the defaults.
 *
 * Use: readahead_start() over the list, readahead_file_done() from the decoders after
 * each file (any thread, any order), readahead_retire() when a prefix of the list will
 * never be read again (its pages may then be dropped), readahead_stop() at the end.
 * A file that cannot be opened or is not a regular file is skipped: the decoder that
 * reads it later says what is wrong with it, as without read-ahead.
 */
#ifndef MRIPREP_READAHEAD_H
#define MRIPREP_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --readahead auto: MB of file data ahead of the decoders (and at most 1/32 of RAM). */
#define READAHEAD_AUTO_MB 128
/* Files ahead, whatever their size (the window's bookkeeping is 8 bytes per file). */
#define READAHEAD_MAX_FILES 4096
/* Header reads (scan): the first bytes of a file that hold its header, and its last page
 * (dcmtk seeks past the pixel data to look for elements after it). */
#define READAHEAD_HEAD_BYTES 16384
#define READAHEAD_TAIL_BYTES 4096

/* `--readahead auto|N|0` as a number of MB: -1 auto, 0 off, else N. */
#define READAHEAD_AUTO (-1)

/* Whether the pages of retired files are dropped (POSIX_FADV_DONTNEED). The default is
 * never (docs/readahead.md): dropping cost a cold run of 4,032 files 25-75% more wall time
 * on a 2-core VM (one DONTNEED per file), the kernel already keeps once-read pages on its
 * inactive list, where they go before the machine's working set, and a dataset that fits
 * stays cached for the next run (which dropping made 2.1x slower). */
typedef enum readahead_drop {
    READAHEAD_DROP_NEVER = 0,
    READAHEAD_DROP_AUTO,     /* only when the list's files, by the sizes seen so far, are more
                                than half the RAM: those cannot stay cached anyway */
    READAHEAD_DROP_ALWAYS
} readahead_drop_t;

typedef struct readahead_options {
    uint64_t max_bytes;      /* bytes ahead of the decoders; 0: no read-ahead at all */
    size_t max_files;        /* files ahead (0: READAHEAD_MAX_FILES) */
    int headers_only;        /* read ahead only each file's head and last page (scan) */
    readahead_drop_t drop;   /* what becomes of retired files' pages */
} readahead_options_t;

/* The bytes of `--readahead` (mb: READAHEAD_AUTO, 0 or N): auto is READAHEAD_AUTO_MB, at
 * most 1/32 of the machine's RAM, at least 8 MB. */
uint64_t readahead_bytes_for(int64_t mb);

/* "auto", "0" or a whole number of MB (1..65536) -> *mb; MP_ERR_USAGE naming the text. */
mp_status readahead_parse(const char *text, int64_t *mb, mp_error *err);

/* The options MRIPREP_DROP_PAGES (no|auto|yes, default no) asks for, with max_bytes
 * from readahead_bytes_for(mb). MP_ERR_USAGE for another word. */
mp_status readahead_options_for(int64_t mb, int headers_only, readahead_options_t *opt, mp_error *err);

/* ---- the window's bookkeeping (the thread's; on its own so it can be tested) ---------
 * Files are numbered 0..n-1 in the decoders' order. [done, next) are the files issued
 * ahead of the decoders; sizes[i % max_files] holds the bytes issued for file i of it. */
typedef struct readahead_window {
    size_t max_files;
    uint64_t max_bytes;
    uint64_t *sizes;      /* [max_files] */
    size_t done;          /* files the decoders finished (a count: they finish in any order) */
    size_t next;          /* the next file to issue */
    uint64_t bytes_ahead; /* bytes issued for the files of [done, next) */
} readahead_window_t;

/* sizes holds max_files (>= 1) entries. */
void readahead_window_init(readahead_window_t *w, uint64_t *sizes, size_t max_files, uint64_t max_bytes);
/* May file w->next, of `bytes` bytes, be issued now? Always when the window is empty, so
 * one file larger than max_bytes still goes. */
int readahead_window_has_room(const readahead_window_t *w, uint64_t bytes);
/* File w->next was issued with `bytes` bytes (0 for a file skipped). */
void readahead_window_issue(readahead_window_t *w, uint64_t bytes);
/* The decoders have finished `done` files: the window's start moves there. When they
 * overtook the read-ahead (done > next), the files in between are never issued. */
void readahead_window_consume(readahead_window_t *w, size_t done);

/* ---- the read-ahead thread ----------------------------------------------------------- */
typedef struct readahead readahead_t;

/* What a read-ahead did (run.json "readahead"). */
typedef struct readahead_stats {
    uint64_t max_bytes;      /* the window */
    size_t files_issued;     /* files whose reads it queued */
    uint64_t bytes_issued;
    size_t files_overtaken;  /* files the decoders reached first (nothing to gain there) */
    size_t files_skipped;    /* not regular files, or could not be opened */
    size_t files_dropped;    /* files whose pages it dropped after their decode */
    int dropping;            /* it decided to drop retired files' pages */
} readahead_stats_t;

/* Starts the thread over paths[0..n) (the array and its strings must outlive
 * readahead_stop). With opt->max_bytes == 0 or n == 0, *out is NULL and nothing runs
 * (every function below takes NULL). MP_ERR_NOMEM / MP_ERR_INTERNAL (no thread). */
mp_status readahead_start(const char *const *paths, size_t n, const readahead_options_t *opt, readahead_t **out,
                          mp_error *err);

/* readahead_options_for(mb, headers_only) then readahead_start: for callers that take the
 * defaults. */
mp_status readahead_start_for(const char *const *paths, size_t n, int64_t mb, int headers_only, readahead_t **out,
                              mp_error *err);

/* One more file of the list has been read by a decoder (thread-safe, cheap). */
void readahead_file_done(readahead_t *ra);

/* Files [0, upto) will not be read again: with dropping on, their pages are dropped. */
void readahead_retire(readahead_t *ra, size_t upto);

/* How many files of the list the read-ahead has dealt with (issued, skipped, or passed by
 * the decoders): for progress reports and tests. */
size_t readahead_position(readahead_t *ra);

/* Stops and joins the thread, fills *stats (may be NULL), frees; NULL is fine. */
void readahead_stop(readahead_t *ra, readahead_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_READAHEAD_H */
