/* fs.h - files and folders as every stage writes them: paths, folders, atomic files,
 * the leftovers of a killed run, free space.
 *
 * Every file mriprep writes goes through atomic_file_t: it is written under a temporary
 * name beside its final one, "<dir>/.<name>.tmp.<pid>", closed and renamed over the
 * final name only when complete, so a crash, a kill or a write error never leaves a
 * partial file under a final name. Write errors come back as MP_ERR_WRITE naming the
 * path and the OS error.
 */
#ifndef MRIPREP_FS_H
#define MRIPREP_FS_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "dir/name" (no doubled slash), malloc'd; NULL when out of memory. */
char *path_join(const char *dir, const char *name);

/* Creates `path` and its missing parents (mode 0777 & ~umask). MP_ERR_WRITE on failure. */
mp_status make_dirs(const char *path, mp_error *err);

/* The lock a run (or merge) holds on the records it writes in OUT, so that two runs into
 * one OUT cannot interleave their manifests or remove each other's temporary files:
 * flock() on OUT/.<records>.lock, which holds the holder's pid and is removed when it is
 * released (a killed holder leaves it, unlocked: the next run takes it). */
typedef struct out_lock {
    int fd;          /* -1: not held */
    char path[4096];
} out_lock_t;

/* Takes the lock `name` (e.g. ".mriprep.lock") in folder `dir` without waiting. Held by
 * another process: MP_ERR_WRITE "DIR is in use by another mriprep (pid N): ...". */
mp_status out_lock_acquire(out_lock_t *lock, const char *dir, const char *name, mp_error *err);

/* Removes the lock file and releases the lock; nothing when not held. */
void out_lock_release(out_lock_t *lock);

/* Opens `path` for reading without ever blocking in open() (O_NONBLOCK: a FIFO put where
 * a file was expected would otherwise hang the run) and checks that it is a regular file.
 * Returns the descriptor, blocking again, with *size set; or -1 with err set:
 * MP_ERR_IO "NAME: cannot open: <why>" (permission, missing: *missing set when given and
 * the file is not there) or "NAME: not a regular file (a FIFO)" and the like. NAME is
 * `name` when given, else the path. */
int open_regular_file(const char *path, const char *name, uint64_t *size, int *missing, mp_error *err);

/* Durability (README "Reliability"), MRIPREP_FSYNC:
 *   records (default)  the records (run.json, the manifest, scan's reports) are flushed to
 *                      disk (fsync) before they are renamed into place, and their folder
 *                      after. Volumes are not: a machine crash (not kill -9) can leave one
 *                      renamed before its data reached the disk, empty or zeros, so resume
 *                      checks each kept volume's header (resume.c) and redoes one that is
 *                      not whole. Costs nothing measurable.
 *   each               every volume too, before its rename: the strictest; measured 2.2x
 *                      the wall time of `off` on the bench data here (warm, 889 MB of
 *                      volumes: the disk's writeback, which `off` leaves to the kernel).
 *   off                no flush at all.
 * sync_file flushes `fd` (or, when fd < 0, `path` reopened; `name` for the message) and
 * sync_parent_folder the folder holding `path`; both do nothing when off. */
typedef enum durable_mode { DURABLE_OFF = 0, DURABLE_RECORDS = 1, DURABLE_EACH = 2 } durable_mode_t;
durable_mode_t durable_mode(void);
mp_status sync_file(int fd, const char *path, const char *name, mp_error *err);
mp_status sync_parent_folder(const char *path, mp_error *err);

/* A file being written under its temporary name (see above). */
typedef struct atomic_file {
    char *path; /* the final name */
    char *tmp;  /* the temporary name */
    int fd;     /* open for writing; -1 once closed, or handed to a library that closes it */
    int record; /* a record (text_write_atomic): flushed on commit unless MRIPREP_FSYNC=off;
                   other files (volumes) only with MRIPREP_FSYNC=each */
    uint64_t size;    /* bytes written so far, holes included: where the next write goes */
    int hole_at_end;  /* the last bytes were skipped (atomic_file_write_sparse): the file
                         ends before `size`, and commit extends it (writes are pwrite at
                         `size`, so a hole in the middle needs nothing) */
} atomic_file_t;

/* Creates the missing parent folders of `path` and opens its temporary file. Errors
 * (MP_ERR_WRITE) name `path` and the OS error. */
mp_status atomic_file_open(atomic_file_t *f, const char *path, mp_error *err);

/* Writes all of `data` [bytes] to f's temporary file; MP_ERR_WRITE naming f->path. */
mp_status atomic_file_write(atomic_file_t *f, const void *data, size_t bytes, mp_error *err);

/* As atomic_file_write, but the file blocks (ATOMIC_FILE_BLOCK bytes, aligned in the
 * file) that `data` fills with zeros are skipped: holes, which read back as zeros and
 * cost neither a copy into the page cache nor disk blocks (the zero slices of --depth
 * pad, the background of --norm nonzero). On a file system without holes the skipped
 * blocks are written as zeros by the file system itself: the same bytes either way. */
#define ATOMIC_FILE_BLOCK 4096
/* What the caller knows to be zero in the data it writes sparse, so that those bytes
 * need not be read to find the holes (a volume's zero slices: 69% of the volumetric
 * preset's bytes on the bench data): zero_until(ctx, from) gives the end of the run of
 * bytes known to be zero that starts at data offset `from` (`from` itself when the byte
 * there is not known to be zero); the rest is scanned. NULL: nothing known. */
typedef struct zero_hint {
    size_t (*zero_until)(const void *ctx, size_t from);
    const void *ctx;
} zero_hint_t;
mp_status atomic_file_write_sparse(atomic_file_t *f, const void *data, size_t bytes, const zero_hint_t *zeros,
                                   mp_error *err);

/* Flushes the file to disk (durable_writes), closes fd (unless -1), renames the temporary
 * file over `path` and flushes its folder; on failure the temporary file is removed.
 * Frees f's names either way. */
mp_status atomic_file_commit(atomic_file_t *f, mp_error *err);

/* Closes fd (unless -1) and removes the temporary file. Safe on a zeroed (never
 * opened) or committed atomic_file_t, and twice. */
void atomic_file_abort(atomic_file_t *f);

/* Writes pieces[n] (sizes[n] bytes each) one after the other to `path` atomically;
 * pieces from `sparse_from` on with atomic_file_write_sparse (n: none), the last with
 * `zeros` (NULL: nothing known). */
mp_status pieces_write_atomic(const char *path, const void *const *pieces, const size_t *sizes, int n,
                              int sparse_from, const zero_hint_t *zeros, mp_error *err);

/* Writes `text` [len] to `path` atomically (run.json, reports, the merged manifest). */
mp_status text_write_atomic(const char *path, const char *text, size_t len, mp_error *err);

/* The whole of a small text file (at most max_bytes; 0: any size), NUL-terminated,
 * malloc'd; *len its length. A larger file is MP_ERR_LIMIT naming it. NULL with
 * *missing = 1 (err untouched) when there is no such file, or a path through something
 * that is not a folder; NULL with err set (MP_ERR_IO naming the file, MP_ERR_NOMEM)
 * otherwise. `missing` may be NULL: then a missing file is MP_ERR_IO too. */
char *text_read(const char *path, size_t max_bytes, size_t *len, int *missing, mp_error *err);

/* Removes the temporary files a killed run may have left in `dir` (not recursive): only
 * what atomic_file_t creates for mriprep's own files, ".<name>.tmp.<pid>" with <name>
 * ending .npy, .nii, .nii.gz, .csv, .csv.partial or .json, whose process <pid> no longer
 * runs (a live writer's, a shard's beside this run, is never touched; nor is a user's
 * ".notes.txt.tmp.1"). With a `prefix` only those whose <name> starts with it. Returns
 * how many were removed. */
size_t remove_temporary_files(const char *dir, const char *prefix);

/* Bytes free for an unprivileged writer at `path`, or at the nearest folder above it
 * that exists (OUT may not exist yet). Returns 0 and sets *bytes, or -1 when no folder
 * on the way can be asked. */
int free_bytes_at(const char *path, uint64_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_FS_H */
