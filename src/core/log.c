/* log.c - see include/mriprep/log.h. */
#include "mriprep/log.h"

#include <stdarg.h>
#include <stdio.h>

void mp_log(mp_log_fn log, void *ctx, mp_log_level_t level, const char *fmt, ...)
{
    if (!log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ctx, level, msg);
}
