/* error.c - mp_error helpers (see include/mriprep/error.h). */
#include "mriprep/error.h"

#include <stdarg.h>
#include <stdio.h>

mp_status mp_fail(mp_error *err, mp_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->place = code == MP_ERR_USAGE ? MP_PLACE_USAGE : code == MP_ERR_WRITE ? MP_PLACE_OUT : MP_PLACE_NONE;
    }
    return code;
}

mp_status mp_at(mp_error *err, mp_place place, mp_status st)
{
    if (st != MP_OK && err && err->place == MP_PLACE_NONE) err->place = place;
    return st;
}

void mp_error_clear(mp_error *err)
{
    if (err) {
        err->code = MP_OK;
        err->place = MP_PLACE_NONE;
        err->msg[0] = '\0';
    }
}

const char *mp_status_name(mp_status code)
{
    switch (code) {
    case MP_OK: return "ok";
    case MP_ERR_IO: return "io";
    case MP_ERR_WRITE: return "write";
    case MP_ERR_FORMAT: return "format";
    case MP_ERR_TRUNCATED: return "truncated";
    case MP_ERR_UNSUPPORTED: return "unsupported";
    case MP_ERR_LIMIT: return "limit";
    case MP_ERR_NOMEM: return "nomem";
    case MP_ERR_USAGE: return "usage";
    case MP_ERR_INTERNAL: return "internal";
    case MP_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown";
}
