/* json.h - JSON as mriprep writes it (run.json, scan --json, info --json) and reads it
 * back (run.json, when a run resumes and when merge joins shards).
 *
 * Writer: calls nest like the document: json_object_begin(j, "key") ...
 * json_object_end(j). Keys are ignored inside arrays and for the top level. Memory
 * errors are sticky: the first one sets j->failed and later calls do nothing.
 * Reader: RFC 8259 text into a tree of json_value_t (json_parse), looked up by member
 * names (json_find).
 */
#ifndef MRIPREP_JSON_H
#define MRIPREP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "mriprep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
    char *text;     /* NUL-terminated document so far (owned) */
    size_t len, cap;
    int depth;
    int count[JSON_MAX_DEPTH]; /* values written at each open level */
    int in_array[JSON_MAX_DEPTH];
    int failed;
} json_writer_t;

void json_init(json_writer_t *j);
void json_free(json_writer_t *j);

void json_object_begin(json_writer_t *j, const char *key);
void json_object_end(json_writer_t *j);
void json_array_begin(json_writer_t *j, const char *key);
void json_array_end(json_writer_t *j);
void json_string(json_writer_t *j, const char *key, const char *value); /* NULL -> null */
void json_int(json_writer_t *j, const char *key, int64_t value);
void json_uint(json_writer_t *j, const char *key, uint64_t value);
void json_double(json_writer_t *j, const char *key, double value);   /* non-finite -> null */
void json_bool(json_writer_t *j, const char *key, int value);
void json_null(json_writer_t *j, const char *key);

/* ---- reading ------------------------------------------------------------------------- */

typedef enum json_type {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type_t;

typedef struct json_value json_value_t;
struct json_value {
    json_type_t type;
    char *key;            /* a member of an object: its name; NULL otherwise */
    char *string;         /* JSON_STRING: the text, escapes undone (UTF-8) */
    double number;        /* JSON_NUMBER */
    json_value_t *items;  /* JSON_ARRAY, JSON_OBJECT: [n] elements or members, in order */
    size_t n;
};

/* Parses one JSON document (text[len]; nesting up to JSON_MAX_DEPTH). `name` is the file
 * the text came from, for messages: MP_ERR_FORMAT "<name>: not JSON: <what> at line L".
 * *out is the caller's to json_value_free. */
mp_status json_parse(const char *text, size_t len, const char *name, json_value_t **out, mp_error *err);
void json_value_free(json_value_t *v);

/* The value at a dotted path of member names ("totals.bytes_written") below `v`, or NULL
 * when some member is absent or a step is not an object. */
const json_value_t *json_find(const json_value_t *v, const char *path);

/* The string at `path`, or `fallback` when absent or not a string. */
const char *json_find_string(const json_value_t *v, const char *path, const char *fallback);

/* The number at `path`, or `fallback` when absent or not a number. */
double json_find_number(const json_value_t *v, const char *path, double fallback);

#ifdef __cplusplus
}
#endif

#endif /* MRIPREP_JSON_H */
