/* fuzz_util.h - what the libFuzzer targets share: the API under test takes a path, so
 * each input is written to a file in a folder of this process's own, on tmpfs where
 * there is one (/dev/shm), and the checks that turn a broken invariant into a finding.
 *
 * Header-only (static functions): each target is one translation unit plus the project
 * sources it tests (see fuzz.mk).
 */
#ifndef MRIPREP_FUZZ_UTIL_H
#define MRIPREP_FUZZ_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libFuzzer's entry points, declared here because the project builds with
 * -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: say which and abort(), which libFuzzer reports as a crash (and
 * saves the input under -artifact_prefix). */
#define FUZZ_CHECK(cond, ...)                                                          \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n  ", __FILE__,      \
                    __LINE__, #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* The folder inputs are written to: $MRIPREP_FUZZ_TMPDIR, else /dev/shm (tmpfs: no disk
 * traffic at thousands of files a second), else $TMPDIR, else /tmp; a subfolder named
 * after the process id, so parallel fuzzers (-jobs, -fork, -minimize_crash children)
 * never share a file. A crash skips atexit(), so each start also removes the folders of
 * processes that no longer exist. */
static char fuzz_dir[4096];

/* The files a target writes into its folder (all targets: cleanup needs no tag). */
static const char *const fuzz_file_names[] = {"Image-1.dcm", "train_labels.csv"};

static void fuzz_remove_dir(void);

static void fuzz_remove_dir_at(const char *dir)
{
    char path[4096 + 64];
    for (size_t i = 0; i < sizeof fuzz_file_names / sizeof *fuzz_file_names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, fuzz_file_names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Removes base/mriprep-fuzz-*.<pid> folders whose process is gone. */
static void fuzz_sweep_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "mriprep-fuzz-", 13) != 0) continue;
        const char *dot = strrchr(e->d_name, '.');
        char *end = NULL;
        long pid = dot ? strtol(dot + 1, &end, 10) : 0;
        if (pid <= 0 || !end || *end || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
        fuzz_remove_dir_at(dir);
    }
    closedir(d);
}

static int fuzz_usable_dir(const char *dir)
{
    struct stat st;
    return dir && dir[0] && stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
}

/* Makes this process's folder; `tag` names the target ("dicom", "labels"). Aborts when
 * no folder can be made: nothing could be tested. */
static void fuzz_make_dir(const char *tag)
{
    const char *candidates[] = {getenv("MRIPREP_FUZZ_TMPDIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    const char *base = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !base; i++)
        if (fuzz_usable_dir(candidates[i])) base = candidates[i];
    FUZZ_CHECK(base != NULL, "no writable folder for the fuzz inputs (/dev/shm, $TMPDIR, /tmp)");
    fuzz_sweep_stale(base);
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/mriprep-fuzz-%s.%ld", base, tag, (long)getpid());
    /* EEXIST: left by a crashed process that had our pid; its file is overwritten. */
    FUZZ_CHECK(mkdir(fuzz_dir, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", fuzz_dir, strerror(errno));
    atexit(fuzz_remove_dir);
}

/* The path of `name` inside the folder; the buffer is static (one file per target). */
static const char *fuzz_path(const char *name)
{
    static char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
    return path;
}

/* Writes the input to `path` (created or truncated). */
static void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        FUZZ_CHECK(n > 0, "write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    FUZZ_CHECK(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

/* Removes the folder and the files in it, at a normal exit. */
static void fuzz_remove_dir(void)
{
    if (fuzz_dir[0]) fuzz_remove_dir_at(fuzz_dir);
}

#endif /* MRIPREP_FUZZ_UTIL_H */
