/* error.h - how every library function reports failure.
 *
 * Library functions never print and never exit: they return an mp_status and,
 * when it is not MP_OK, fill an mp_error whose message names the file and the
 * problem in words ("Image-7.dcm: truncated pixel data (expected 524288 bytes,
 * got 1000)"). Only the CLI's main() turns errors into output and exit codes.
 */
#ifndef MRIPREP_ERROR_H
#define MRIPREP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mp_status {
    MP_OK = 0,
    MP_ERR_IO,          /* cannot open / read / stat a file or folder */
    MP_ERR_WRITE,       /* cannot write output (disk full, permissions, ...) */
    MP_ERR_FORMAT,      /* not DICOM, malformed header, inconsistent values */
    MP_ERR_TRUNCATED,   /* the file ends before the data its header announces */
    MP_ERR_UNSUPPORTED, /* valid DICOM we do not handle (JPEG 2000, colour, 32-bit, ...) */
    MP_ERR_LIMIT,       /* a size beyond the sane caps (rows, columns, frames) */
    MP_ERR_NOMEM,       /* allocation failed */
    MP_ERR_USAGE,       /* bad options or arguments */
    MP_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    MP_ERR_INTERRUPTED  /* stopped by the caller (SIGINT/SIGTERM): finished work is kept */
} mp_status;

/* Which of a command's inputs or outputs an error is about. The kind (mp_status) says
 * what went wrong, the place says where; main() needs both to choose the exit code
 * (README "Exit codes"): a file that cannot be read is exit 2 in DATA, exit 1 as the
 * labels file, exit 4 in OUT. */
typedef enum mp_place {
    MP_PLACE_NONE = 0, /* not said: a failure of the program or the machine (memory, a bug) */
    MP_PLACE_USAGE,    /* the options and arguments */
    MP_PLACE_LABELS,   /* the labels file */
    MP_PLACE_DATA,     /* what a command reads: DATA, or the shard records merge joins */
    MP_PLACE_OUT       /* what a command writes: OUT, or the file named by --json, --png, ... */
} mp_place;

#define MP_ERROR_MSG_MAX 512

typedef struct mp_error {
    mp_status code;
    mp_place place;
    char msg[MP_ERROR_MSG_MAX]; /* one line, no trailing newline */
} mp_error;

/* Sets err (when not NULL) to code and a printf-style message; returns code,
 * so callers can write `return mp_fail(err, MP_ERR_IO, "%s: %s", path, why);`.
 * The place follows from the code where only one fits (MP_ERR_USAGE: the usage;
 * MP_ERR_WRITE: what is written) and is MP_PLACE_NONE otherwise: the caller that knows
 * which input it was reading says so with mp_at(). */
mp_status mp_fail(mp_error *err, mp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Returns st; when st is an error whose place is not said yet, says it is `place`. A
 * stage wraps each step: `st = mp_at(err, MP_PLACE_LABELS, labels_load(...));`. */
mp_status mp_at(mp_error *err, mp_place place, mp_status st);

/* Resets err to MP_OK with an empty message. */
void mp_error_clear(mp_error *err);

/* A short constant name for a status ("io", "truncated", ...). */
const char *mp_status_name(mp_status code);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_ERROR_H */
