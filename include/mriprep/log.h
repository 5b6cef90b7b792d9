/* log.h - how the library speaks: it never prints; messages for a person go to the
 * caller's callback (the CLI's console, or nothing), one line each, with a level. */
#ifndef MRIPREP_LOG_H
#define MRIPREP_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mp_log_level {
    MP_LOG_ERROR = 0,
    MP_LOG_WARN = 1,
    MP_LOG_INFO = 2,
    MP_LOG_DEBUG = 3 /* one line per series */
} mp_log_level_t;

/* Receives one message (no trailing newline). */
typedef void (*mp_log_fn)(void *ctx, mp_log_level_t level, const char *message);

/* Formats a message (at most 1023 bytes) and gives it to log(ctx, ...); nothing when log
 * is NULL. */
void mp_log(mp_log_fn log, void *ctx, mp_log_level_t level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_LOG_H */
