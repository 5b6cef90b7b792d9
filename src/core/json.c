/* json.c - see include/mriprep/json.h. */
#include "mriprep/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_writer_t *j)
{
    memset(j, 0, sizeof *j);
}

void json_free(json_writer_t *j)
{
    free(j->text);
    memset(j, 0, sizeof *j);
}

static void append(json_writer_t *j, const char *s, size_t n)
{
    if (j->failed) return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        while (cap < j->len + n + 1) cap *= 2;
        char *grown = realloc(j->text, cap);
        if (!grown) {
            j->failed = 1;
            return;
        }
        j->text = grown;
        j->cap = cap;
    }
    memcpy(j->text + j->len, s, n);
    j->len += n;
    j->text[j->len] = '\0';
}

static void appendf(json_writer_t *j, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void appendf(json_writer_t *j, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) append(j, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 when it is not one. */
static int utf8_sequence(const unsigned char *p)
{
    int n;
    uint32_t cp;
    if (p[0] < 0x80) return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) n = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) n = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) n = 4, cp = p[0] & 0x07;
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0; /* also stops at the terminating NUL */
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* A JSON string of s. Bytes that are not UTF-8 (a file name in another encoding) are
 * written as \udc80..\udcff, Python's surrogateescape, which json_read turns back into
 * the same bytes: the text stays valid JSON and a path read back is the path. */
static void append_quoted(json_writer_t *j, const char *s)
{
    append(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': append(j, "\\\"", 2); break;
        case '\\': append(j, "\\\\", 2); break;
        case '\n': append(j, "\\n", 2); break;
        case '\r': append(j, "\\r", 2); break;
        case '\t': append(j, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                appendf(j, "\\u%04x", *p);
            } else {
                const int n = utf8_sequence(p);
                if (n == 0) {
                    appendf(j, "\\u%04x", 0xDC00 + *p);
                } else {
                    append(j, (const char *)p, (size_t)n);
                    p += n - 1;
                }
            }
        }
    }
    append(j, "\"", 1);
}

/* Separator, newline and indentation before a value, then its key in an object. */
static void value_prefix(json_writer_t *j, const char *key)
{
    if (j->depth > 0) {
        if (j->count[j->depth - 1]++ > 0) append(j, ",", 1);
        append(j, "\n", 1);
        for (int i = 0; i < j->depth; i++) append(j, "  ", 2);
        if (!j->in_array[j->depth - 1]) {
            append_quoted(j, key ? key : "");
            append(j, ": ", 2);
        }
    }
}

static void open_level(json_writer_t *j, const char *key, int array)
{
    value_prefix(j, key);
    append(j, array ? "[" : "{", 1);
    if (j->depth >= JSON_MAX_DEPTH) {
        j->failed = 1;
        return;
    }
    j->count[j->depth] = 0;
    j->in_array[j->depth] = array;
    j->depth++;
}

static void close_level(json_writer_t *j, int array)
{
    if (j->depth == 0) {
        j->failed = 1;
        return;
    }
    j->depth--;
    if (j->count[j->depth] > 0) {
        append(j, "\n", 1);
        for (int i = 0; i < j->depth; i++) append(j, "  ", 2);
    }
    append(j, array ? "]" : "}", 1);
    if (j->depth == 0) append(j, "\n", 1);
}

void json_object_begin(json_writer_t *j, const char *key) { open_level(j, key, 0); }
void json_object_end(json_writer_t *j) { close_level(j, 0); }
void json_array_begin(json_writer_t *j, const char *key) { open_level(j, key, 1); }
void json_array_end(json_writer_t *j) { close_level(j, 1); }

void json_string(json_writer_t *j, const char *key, const char *value)
{
    value_prefix(j, key);
    if (value) append_quoted(j, value);
    else append(j, "null", 4);
}

void json_int(json_writer_t *j, const char *key, int64_t value)
{
    value_prefix(j, key);
    appendf(j, "%lld", (long long)value);
}

void json_uint(json_writer_t *j, const char *key, uint64_t value)
{
    value_prefix(j, key);
    appendf(j, "%llu", (unsigned long long)value);
}

void json_double(json_writer_t *j, const char *key, double value)
{
    value_prefix(j, key);
    if (!isfinite(value)) {
        append(j, "null", 4);
        return;
    }
    /* The shortest of %.15g..%.17g that reads back as the same double: 0.3125, not
     * 0.31250000000000000, and still exact. */
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, value);
        if (strtod(buf, NULL) == value) break;
    }
    append(j, buf, strlen(buf));
}

void json_bool(json_writer_t *j, const char *key, int value)
{
    value_prefix(j, key);
    if (value) append(j, "true", 4);
    else append(j, "false", 5);
}

void json_null(json_writer_t *j, const char *key)
{
    value_prefix(j, key);
    append(j, "null", 4);
}
